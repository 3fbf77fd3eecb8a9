#!/bin/sh
# SIP OPTIONS throughput: starts sipxd on a throw-away config (a free UDP
# port, the control socket in a temporary directory, log level notice),
# then measures
#   (a) OPTIONS the daemon answers per second: SIPp as UAC over UDP
#       (tests/bench/sipp/uac_any.xml with OPTIONS: any final answer, so
#       the row holds whatever Allow the daemon sends), RATE calls/s offered,
#       at most LIMIT in flight, for SECS seconds;
#   (b) OPTIONS the daemon sends per second: bench_options_send.py keeps
#       CONNS `options` requests in flight over as many control
#       connections, against a SIPp UAS that answers forever
#       (options_uas_loop.xml), and against the daemon itself.
# Every process is started and stopped by PID.  Prints figures; never
# fails on speed.  Exits 1 with a message on an error: a missing tool,
# sipxd not starting or dying, the daemon not answering a first OPTIONS,
# SIPp or the client failing to run.  Failed transactions under load are
# figures (shown in the table), not errors.
#
#   run-options-bench.sh SIPXD SIPXCTL
#   environment: SECS (10), RATE (20000), LIMIT (5000), CONNS (16),
#                SEND_SECS (5), SIPP (sipp), PYTHON (python3)
set -eu
sipxd=$1; sipxctl=$2
secs=${SECS:-10}; rate=${RATE:-20000}; limit=${LIMIT:-5000}
conns=${CONNS:-16}; send_secs=${SEND_SECS:-5}
sipp=${SIPP:-sipp}; python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bench-lib.sh"		# stop_pid, free_ports
scen=$here/../integration/sipp
sender=$here/bench_options_send.py

fail() { echo "run-options-bench: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 || fail "$python not found"
have_sipp=yes
command -v "$sipp" >/dev/null 2>&1 || have_sipp=no

dir=$(mktemp -d /tmp/sipxd-obench.XXXXXX)
pid= uas= uac=
cleanup() {
	stop_pid "$uac"; stop_pid "$uas"; stop_pid "$pid"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports free for UDP (and TCP) on 127.0.0.1: the daemon, the SIPp UAC's
# own port, the SIPp UAS.
ports=$(free_ports 3)
set -- $ports
port=$1; uac_port=$2; uas_port=$3

cat >"$dir/sipxd.conf" <<CONF
sipxd: { listen = ( { transport = "udp"; address = "127.0.0.1:$port"; } ); };
control: { path = "$dir/control.sock"; max_clients = 64; };
log: { level = "notice"; };
accounts = ( { name = "bench"; aor = "sip:bench@127.0.0.1"; register = false; } );
CONF
"$sipxd" -c "$dir/sipxd.conf" 2>"$dir/sipxd.log" &
pid=$!
i=0
while [ ! -S "$dir/control.sock" ]; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$dir/sipxd.log" >&2
		fail "sipxd did not start"
	fi
	sleep 0.05
done
ctl() { "$sipxctl" -s "$dir/control.sock" "$@"; }
ctl options "sip:127.0.0.1:$port" >/dev/null ||
	fail "sipxd does not answer its own OPTIONS"
alive() {
	kill -0 "$pid" 2>/dev/null && ctl status >/dev/null 2>&1 ||
		{ tail -20 "$dir/sipxd.log" >&2; fail "sipxd died during $1"; }
}

echo "sipxd OPTIONS benchmark: $sipxd (UDP 127.0.0.1:$port)"
ctl version | sed -n 's/^version: */server: sipxd /p'
[ $have_sipp = yes ] && "$sipp" -v 2>&1 | sed -n 's/^ *SIPp \(v[^ ]*\)\.$/sipp: \1/p'
echo
printf '%-52s %12s %8s  %s\n' "measurement" "per second" "failed" "detail"

# ---- (a) OPTIONS answered: SIPp UAC -> sipxd --------------------------------
if [ $have_sipp = yes ]; then
	# -timeout stops SIPp after SECS s; -recv_timeout makes a request
	# unanswered for 5 s (through SIPp's 500 ms retransmissions) a
	# failed call; the -trace_stat CSV's last line has the totals.
	sed 's/@METHOD@/OPTIONS/g' "$here/sipp/uac_any.xml" >"$dir/options.xml"
	"$sipp" -sf "$dir/options.xml" -t u1 -i 127.0.0.1 -p "$uac_port" \
		-nostdin -r "$rate" -rp 1000 -l "$limit" -timeout "$secs" \
		-recv_timeout 5000 -buff_size 4194304 \
		-trace_stat -stf "$dir/uac.csv" -fd 1 \
		"127.0.0.1:$port" >"$dir/uac.out" 2>&1 &
	uac=$!
	rc=0; wait "$uac" || rc=$?
	uac=
	[ -s "$dir/uac.csv" ] || { tail -20 "$dir/uac.out" >&2;
		fail "sipp UAC (exit $rc) wrote no statistics"; }
	# Fields: 1 StartTime, 3 CurrentTime ("date<TAB>time<TAB>epoch"),
	# 16 SuccessfulCall(C), 18 FailedCall(C), 58 Retransmissions(C).
	set -- $(tail -n 1 "$dir/uac.csv" | awk -F';' '{
		n = split($1, s, "\t"); m = split($3, c, "\t");
		print c[m] - s[n], $16, $18, $58 }')
	el=$1; ok=$2; bad=$3; retr=$4
	[ "$ok" -gt 0 ] 2>/dev/null || { tail -20 "$dir/uac.out" >&2;
		fail "sipp UAC got no answer at all (exit $rc)"; }
	printf '%-52s %12.0f %8d  %s\n' \
		"OPTIONS answered (SIPp UAC, UDP, $rate/s offered)" \
		"$(echo "$ok $el" | awk '{ print $1 / $2 }')" "$bad" \
		"$ok in $(printf '%.1f' "$el") s, $limit max in flight, $retr SIPp retransmissions"
	alive "the SIPp UAC run"
else
	printf '%-52s %12s %8s  %s\n' "OPTIONS answered (SIPp UAC, UDP)" "-" "-" \
		"skipped: no sipp (Debian package sip-tester)"
fi

# ---- (b) OPTIONS sent: control socket -> sipxd -> SIPp UAS / itself ----------
send_row() {	# send_row LABEL URI
	out=$("$python" "$sender" -s "$dir/control.sock" -u "$2" -c "$conns" \
		-P 4 -d "$send_secs" 2>"$dir/send.err") ||
		{ cat "$dir/send.err" >&2; fail "bench_options_send failed ($1)"; }
	set -- "$1" $(echo "$out" | sed 's/[a-z_]*=//g')
	# completed ok failed seconds per_sec
	printf '%-52s %12s %8d  %s\n' "$1" "$6" "$4" \
		"$2 in $5 s, $conns in flight ($conns control connections)"
}
if [ $have_sipp = yes ]; then
	"$sipp" -sf "$scen/options_uas_loop.xml" -t u1 -i 127.0.0.1 \
		-p "$uas_port" -nostdin -buff_size 4194304 \
		>"$dir/uas.out" 2>&1 &
	uas=$!
	sleep 0.3
	kill -0 "$uas" 2>/dev/null || { cat "$dir/uas.out" >&2;
		fail "sipp UAS exited at once"; }
	ctl options "sip:127.0.0.1:$uas_port" >/dev/null ||
		fail "the SIPp UAS does not answer a first OPTIONS"
	send_row "OPTIONS sent (control -> sipxd -> SIPp UAS)" \
		"sip:127.0.0.1:$uas_port"
	alive "the OPTIONS-sending run"
	stop_pid "$uas"; uas=
else
	printf '%-52s %12s %8s  %s\n' "OPTIONS sent (control -> SIPp UAS)" "-" "-" \
		"skipped: no sipp (Debian package sip-tester)"
fi
send_row "OPTIONS sent to itself (sipxd -> sipxd)" "sip:127.0.0.1:$port"
alive "the OPTIONS-to-itself run"
echo
echo "(SIPp and the client share the machine's $(nproc 2>/dev/null || echo ?) cores with sipxd;"
echo " \"to itself\" counts each exchange once though sipxd is both sides)"

stop_pid "$pid"
pid=
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$dir/sipxd.log"; then
	cat "$dir/sipxd.log" >&2
	fail "sanitizer report from sipxd"
fi
