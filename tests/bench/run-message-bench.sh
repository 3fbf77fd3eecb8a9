#!/bin/sh
# MESSAGE (issue 11, "make bench"): MESSAGEs sipxd sends per second
# through Kamailio to a registered receiver, with 0 failures.
#
# Kamailio on loopback runs tests/integration/kamailio/message.cfg with
# QUIET defined (no log line per request): registrar with digest (401),
# and a proxy that challenges every MESSAGE with 407 and relays it, with
# credentials, statefully to the receiver's contact.  Two sipxd: the
# sender (account alice) and the receiver (account bob, inbox 100),
# each registered to Kamailio with it as outbound proxy.  For each rate
# of RATES, bench_call_place.py writes `message alice sip:bob@127.0.0.1
# TEXT` at RATE/s for SECS s on 32 control connections of the sender
# (each MESSAGE is a job; 32 at most per connection) and reads every
# message.result.  So one MESSAGE costs the sender two transactions
# (407, then 200) and Kamailio three, and the receiver one.
#
# Printed per rate: results ok / failed / refused / lost, the rate
# written and answered, the time from the command to its result, what
# the receiver counted (messages_received), the sender's and receiver's
# CPU, and the sender's RSS before, at its peak (VmHWM) and after.
# Every process is started and stopped by PID (the EXIT trap too).  Exit
# 1 on an error (a tool missing, a process not starting or dying);
# failures are printed, not errors.  Skipped (exit 0) without kamailio.
#
#   run-message-bench.sh SIPXD SIPXCTL
#   environment: RATES ("200 500 1000 2000"), SECS (10), TEXT, KAMAILIO,
#     KAM_SHM (MB of shared memory for Kamailio; 512: at 128 its
#     transactions ran short at 2000/s and it answered 500),
#     KEEP (set: keep the directory with the logs)
set -eu
sipxd=$1; sipxctl=$2
rates=${RATES:-200 500 1000 2000}
secs=${SECS:-10}
text=${TEXT:-hello bob, this is a benchmark message}
kamailio=${KAMAILIO:-kamailio}
here=$(cd "$(dirname "$0")" && pwd)
cfg=$here/../integration/kamailio/message.cfg
bench_name=run-message-bench
. "$here/bench-lib.sh"

command -v "$kamailio" >/dev/null 2>&1 ||
    { echo "messages: skipped (no kamailio)"; exit 0; }
command -v python3 >/dev/null 2>&1 || bench_fail "python3 needed"
hz=$(getconf CLK_TCK)

dir=$(mktemp -d /tmp/sipxd-msg.XXXXXX)
cleanup() {
	if [ -n "${KEEP:-}" ]; then
		for _p in $pids; do stop_pid "$_p"; done
		echo "   (kept $dir)"
	else
		bench_cleanup
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
sub() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }
row() { _l=$1; shift; printf '  %-48s %s\n' "$_l" "$*"; }
mb() { echo "$1" | awk '{ printf "%.1f MB", $1 / 1024 }'; }
pct() {
	echo "$1 $2 $3 $hz" | awk \
	    '{ printf "%.0f", ($4 > 0 && $3 > 0 ? ($2 - $1) * 100 / $4 / $3 : 0) }'
}

set -- $(free_ports 3)
kport=$1; aport=$2; bport=$3
kdir=$dir/kam
mkdir -p "$kdir"

# Kamailio, its children in its own session (killed by group at exit).
"$kamailio" -f "$cfg" -DD -E -Y "$kdir" -P "$kdir/kamailio.pid" \
	-m "${KAM_SHM:-512}" -M 16 -l "udp:127.0.0.1:$kport" -l "tcp:127.0.0.1:$kport" \
	-A "CTL_SOCK=\"unix:$kdir/ctl\"" -A QUIET >"$kdir/out" 2>&1 &
kpid=$!
_i=0
until [ -S "$kdir/ctl" ]; do
	_i=$((_i + 1))
	if [ $_i -gt 200 ] || ! kill -0 "$kpid" 2>/dev/null; then
		tail -20 "$kdir/out" >&2
		bench_fail "kamailio did not start"
	fi
	sleep 0.05
done
sleep 0.3
kkids=$(cat /proc/"$kpid"/task/*/children 2>/dev/null || true)
# Its children last: the main process stops them, a straggler is killed.
pids="$kkids $kpid $pids"

# conf NAME PORT: an account registered to Kamailio through it.
conf() {
	cat >"$dir/$1.conf" <<CONF
sipxd: {
  listen = ( { transport = "udp"; address = "127.0.0.1:$2"; } );
  max_transactions = 200000;
  register_spread = 0;
};
control: { path = "$dir/$1.sock"; max_clients = 64; };
log: { level = "notice"; };
accounts = ( { name = "$1"; aor = "sip:$1@127.0.0.1";
  password = "$1-secret"; registrar = "sip:127.0.0.1:$kport";
  outbound_proxy = "sip:127.0.0.1:$kport"; expires = 600;
  transport = "udp"; } );
CONF
	chmod 600 "$dir/$1.conf"
}

# start NAME: a sipxd for the account NAME; its pid in NAME_pid.
start() {
	"$sipxd" -c "$dir/$1.conf" 2>"$dir/$1.log" &
	eval "$1_pid=$!"
	pids="$pids $!"
	_i=0
	while [ ! -S "$dir/$1.sock" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$!" 2>/dev/null; then
			tail -20 "$dir/$1.log" >&2
			bench_fail "sipxd ($1) did not start"
		fi
		sleep 0.05
	done
}

# sv NAME KEY: one value of NAME's `sipxctl status`.
sv() {
	"$sipxctl" -s "$dir/$1.sock" status 2>/dev/null |
	    awk -v k="$2:" '$1 == k { print $2 }'
}

registered() {
	[ "$(sv "$1" registrations)" = 1 ]
}

conf alice "$aport"; conf bob "$bport"
start alice; start bob
_i=0
until registered alice && registered bob; do
	_i=$((_i + 1))
	[ $_i -lt 100 ] || bench_fail "alice and bob not registered in 10 s"
	sleep 0.1
done

alive() {
	for _p in "$alice_pid" "$bob_pid" "$kpid"; do
		kill -0 "$_p" 2>/dev/null || {
			tail -20 "$dir/alice.log" "$dir/bob.log" >&2
			bench_fail "a process died"
		}
	done
}

echo "== messages: sipxd -> Kamailio (407, then relayed) -> sipxd over" \
	"UDP on 127.0.0.1, $(nproc) cores shared by all"
rss0=$(rss_kb "$alice_pid")
for r in $rates; do
	n=$((r * secs))
	got0=$(sv bob messages_received)
	ca0=$(cpu_ticks "$alice_pid"); cb0=$(cpu_ticks "$bob_pid")
	t0=$(now)
	python3 "$here/bench_call_place.py" -s "$dir/alice.sock" \
		-a alice -u sip:bob@127.0.0.1 -r "$r" -d "$secs" -t 10 \
		-l "message alice sip:bob@127.0.0.1 \"$text\" timeout=10" \
		>"$dir/out$r" 2>"$dir/out$r.err" ||
		{ cat "$dir/out$r.err" >&2; bench_fail "bench_call_place"; }
	t1=$(now)
	ca1=$(cpu_ticks "$alice_pid"); cb1=$(cpu_ticks "$bob_pid")
	alive
	got1=$(sv bob messages_received)
	eval "$(tr ' ' '\n' <"$dir/out$r" | grep '=' | sed 's/^/o_/')"
	row "alice sends $r/s for $secs s ($n MESSAGEs)" \
	    "$o_ok 200 OK, $o_failed failed, $o_refused refused," \
	    "$o_lost without result"
	row "  rate written / answered" \
	    "$o_placed_per_s/s / $o_ok_per_s/s (pacer behind by" \
	    "$o_behind_max at most)"
	row "  command to result p50 / p99 / max" \
	    "$o_answer_ms_p50 / $o_answer_ms_p99 / $o_answer_ms_max ms"
	row "  bob received (messages_received)" "$((got1 - got0))"
	row "  CPU alice / bob" \
	    "$(pct "$ca0" "$ca1" "$(sub "$t0" "$t1")") % /" \
	    "$(pct "$cb0" "$cb1" "$(sub "$t0" "$t1")") % of a core over" \
	    "$(sub "$t0" "$t1") s"
	head -3 "$dir/out$r.err" | sed 's/^/    /'
done
sleep 1
row "alice RSS before / peak (HWM) / after" \
    "$(mb "$rss0") / $(mb "$(rss_kb "$alice_pid" VmHWM)") /" \
    "$(mb "$(rss_kb "$alice_pid")")"
row "bob RSS now (inbox of 100 kept)" "$(mb "$(rss_kb "$bob_pid")")," \
    "$(sv bob messages_kept) kept, $(sv bob messages_dropped) dropped"
row "alice requests in flight after" "$(sv alice requests)"
for who in alice bob; do
	eval "_p=\$${who}_pid"
	stop_pid "$_p"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$dir/$who.log"; then
		cat "$dir/$who.log" >&2
		bench_fail "sanitizer report from sipxd ($who)"
	fi
done
