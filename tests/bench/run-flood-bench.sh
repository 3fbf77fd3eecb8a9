#!/bin/sh
# Memory under a UDP flood: starts sipxd on a throw-away config (a free
# UDP port, log level notice), then for each METHOD (default INVITE,
# never ACKed, answered 405 through a server INVITE transaction that
# then holds for Timer H; then OPTIONS, answered statelessly)
# SIPp sends COUNT out-of-dialog requests at RATE/s (tests/bench/sipp/
# uac_any.xml, any final answer ends a call).  While it runs, the
# script samples sipxd's VmRSS and the live transactions (`sipxctl
# status`) every 0.25 s; after SIPp ends it waits for the live count to
# reach 0 (at most DRAIN s: Timer H is 64*T1 = 32 s for UDP), then
# SETTLE s more, and prints
#   RSS before (after one warm-up request), peak (VmHWM), and SETTLE s
#   after the last transaction ended; the most transactions seen live;
#   bytes per held transaction = (peak - before) / most live.
# Each METHOD gets a fresh sipxd, so the figures do not mix.  Every
# process is started and stopped by PID; loopback only.  Exit 1 on an
# error (no sipp, sipxd not starting or dying); slow figures are not
# errors.
#
#   run-flood-bench.sh SIPXD SIPXCTL
#   environment: COUNT (100000), RATE (5000), METHODS ("INVITE OPTIONS"),
#                SETTLE (10), DRAIN (60), SIPP (sipp)
set -eu
sipxd=$1; sipxctl=$2
count=${COUNT:-100000}; rate=${RATE:-5000}; methods=${METHODS:-INVITE OPTIONS}
settle=${SETTLE:-10}; drain=${DRAIN:-60}; sipp=${SIPP:-sipp}
here=$(cd "$(dirname "$0")" && pwd)
bench_name=run-flood-bench
. "$here/bench-lib.sh"

command -v "$sipp" >/dev/null 2>&1 ||
	{ echo "flood: skipped (no sipp; Debian package sip-tester)"; exit 0; }
dir=$(mktemp -d /tmp/sipxd-flood.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

flood() {	# flood METHOD: one sipxd, one SIPp run, one summary row
	method=$1
	set -- $(free_ports 2)
	port=$1; uac_port=$2
	rm -f "$dir/control.sock"
	cat >"$dir/sipxd.conf" <<CONF
sipxd: { listen = ( { transport = "udp"; address = "127.0.0.1:$port"; } ); };
control: { path = "$dir/control.sock"; };
log: { level = "notice"; };
CONF
	start_sipxd "$dir/sipxd.conf" "$dir/sipxd-$method.log"
	scen=$dir/uac-$method.xml
	sed "s/@METHOD@/$method/g" "$here/sipp/uac_any.xml" >"$scen"
	# One request first, so the baseline includes what any first
	# request allocates once.
	"$sipp" -sf "$scen" -t u1 \
		-i 127.0.0.1 -p "$uac_port" -nostdin -m 1 -timeout 10 \
		"127.0.0.1:$port" >"$dir/warm.out" 2>&1 ||
		{ tail -5 "$dir/warm.out" >&2; bench_fail "$method: no answer"; }
	before=$(rss_kb "$sipxd_pid")
	"$sipp" -sf "$scen" -t u1 \
		-i 127.0.0.1 -p "$uac_port" -nostdin -m "$count" -r "$rate" \
		-rp 1000 -l "$count" -recv_timeout 5000 -timeout 120 \
		-buff_size 4194304 -trace_stat -stf "$dir/uac.csv" -fd 1 \
		"127.0.0.1:$port" >"$dir/uac.out" 2>&1 &
	uac=$!
	pids="$pids $uac"
	maxlive=0
	while kill -0 "$uac" 2>/dev/null; do
		n=$(live_transactions || echo 0)
		[ "${n:-0}" -le "$maxlive" ] || maxlive=$n
		sleep 0.25
	done
	wait "$uac" 2>/dev/null || true
	kill -0 "$sipxd_pid" 2>/dev/null ||
		{ tail -20 "$dir/sipxd-$method.log" >&2; bench_fail "sipxd died"; }
	# Totals: fields 16 SuccessfulCall(C), 18 FailedCall(C).
	set -- $(tail -n 1 "$dir/uac.csv" | awk -F';' '{ print $16, $18 }')
	ok=${1:-0}; bad=${2:-0}
	t0=$(date +%s)
	while :; do
		n=$(live_transactions || echo 0)
		[ "${n:-0}" -le "$maxlive" ] || maxlive=$n
		[ "${n:-0}" -gt 0 ] || break
		[ $(($(date +%s) - t0)) -lt "$drain" ] || break
		sleep 0.25
	done
	left=${n:-?}
	drained=$(($(date +%s) - t0))
	sleep "$settle"
	peak=$(rss_kb "$sipxd_pid" VmHWM)
	after=$(rss_kb "$sipxd_pid")
	per=-
	[ "$maxlive" -gt 0 ] &&
		per=$(( (peak - before) * 1024 / maxlive ))
	printf '%-8s %9s %7s %10s %10s %10s %9s %10s\n' "$method" "$ok" \
		"$bad" "$((before / 1024))" "$((peak / 1024))" \
		"$((after / 1024))" "$maxlive" "$per"
	echo "$method: last transaction ended ${drained} s after SIPp" \
		"(${left} still live then); 'after' is ${settle} s later" \
		>>"$dir/notes"
	stop_pid "$sipxd_pid"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$dir/sipxd-$method.log"; then
		cat "$dir/sipxd-$method.log" >&2
		bench_fail "sanitizer report from sipxd"
	fi
}

echo "== flood: $count requests at $rate/s over UDP to $sipxd"
printf '%-8s %9s %7s %10s %10s %10s %9s %10s\n' method answered failed \
	"RSS0 MB" "peak MB" "after MB" "max live" "B/trans"
for m in $methods; do
	flood "$m"
done
cat "$dir/notes"
echo "(RSS0: after one warm-up request; peak: VmHWM; after: VmRSS $settle s"
echo " after the live count reached 0; B/trans: (peak - RSS0) / max live)"
