#!/bin/sh
# Subscriptions held (issue 11, "1,000 subscriptions held, bytes
# each"): sipxd subscribes N times (message-summary) to a SIPp notifier
# over UDP on loopback (sipp/sub_notifier.xml: 200, a NOTIFY with a
# message summary, and the final NOTIFY once unsubscribed), through
# bench_sub_place.py on 16 control connections.  Printed:
#
#   - the time to have all N active (every subscribe job's result, which
#     comes with the first NOTIFY) and the rate;
#   - sipxd's RSS (VmRSS) and heap (the Rss of its [heap] mapping in
#     /proc/PID/smaps: glibc's main arena, where these small objects
#     live) before any subscription, when all N are active (the SUBSCRIBE
#     and NOTIFY transactions still held: a non-INVITE server
#     transaction over UDP keeps its answer 64*T1 = 32 s, RFC 3261
#     §17.2.2), and once `status` says no transaction is left and a
#     `reload` (config unchanged) has had sipxd give its free heap pages
#     back (malloc_trim): the subscriptions alone; bytes per
#     subscription each time; the peak (VmHWM);
#   - the time to unsubscribe all (`unsubscribe ID` each, then until
#     `status` says 0), and RSS and heap once the transactions are gone
#     again (at most 40 s) and SETTLE s more.
#
# Every process is started and stopped by PID (the EXIT trap too).
# Exit 1 on an error (a tool missing, sipxd not starting or dying);
# failed subscriptions are printed, not errors.  Skipped (exit 0)
# without sipp.
#
#   run-sub-bench.sh SIPXD SIPXCTL
#   environment: SUBS (1000), SETTLE (3), SIPP, KEEP (set: keep the
#     directory with the logs)
set -eu
sipxd=$1; sipxctl=$2
subs=${SUBS:-1000}
settle=${SETTLE:-3}
sipp=${SIPP:-sipp}
here=$(cd "$(dirname "$0")" && pwd)
bench_name=run-sub-bench
. "$here/bench-lib.sh"

command -v "$sipp" >/dev/null 2>&1 || {
	echo "subscriptions: skipped (no sipp)"; exit 0; }
command -v python3 >/dev/null 2>&1 || bench_fail "python3 needed"

dir=$(mktemp -d /tmp/sipxd-sub.XXXXXX)
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
# heap_kb PID: Rss of the [heap] mapping, kB.
heap_kb() {
	awk '/\[heap\]/ { h = 1; next } h && $1 == "Rss:" { print $2; exit }
	    /^[0-9a-f]+-/ { h = 0 }' "/proc/$1/smaps" 2>/dev/null || echo 0
}
# wait_no_transactions: until `status` says 0 live transactions (40 s).
wait_no_transactions() {
	_i=0
	while [ "$(live_transactions)" != "0" ] && [ $_i -lt 800 ]; do
		sleep 0.05; _i=$((_i + 1))
	done
}
status_subs() {
	ctl status 2>/dev/null | awk '$1 == "subscriptions:" { print $2 }'
}

set -- $(free_ports 2)
sport=$1; nport=$2

cat >"$dir/sipxd.conf" <<CONF
sipxd: {
  listen = ( { transport = "udp"; address = "127.0.0.1:$sport"; } );
  max_transactions = 200000;
};
control: { path = "$dir/control.sock"; max_clients = 64; };
log: { level = "notice"; };
subscriptions: { max = $((subs + 100)); };
accounts = ( { name = "bench"; aor = "sip:bench@127.0.0.1";
  register = false; transport = "udp"; } );
CONF

echo "== subscriptions held (SIPp notifier, $subs subscriptions)"
"$sipp" -sf "$here/sipp/sub_notifier.xml" -i 127.0.0.1 -p "$nport" \
    -t u1 -m "$subs" -nostdin -trace_err \
    -error_file "$dir/sipp.err" >"$dir/sipp.out" 2>&1 &
sipp_pid=$!
pids="$pids $sipp_pid"

start_sipxd "$dir/sipxd.conf" "$dir/sipxd.log"
sleep 2
rss0=$(rss_kb "$sipxd_pid"); heap0=$(heap_kb "$sipxd_pid")

t0=$(now)
res=$(python3 "$here/bench_sub_place.py" -s "$dir/control.sock" subscribe \
    -a bench -u "sip:vm@127.0.0.1:$nport" -n "$subs") ||
	bench_fail "bench_sub_place.py failed"
t1=$(now)
kill -0 "$sipxd_pid" 2>/dev/null || bench_fail "sipxd died"
ok=$(echo "$res" | sed 's/.* ok=\([0-9]*\).*/\1/')
held=$(status_subs)
rss1=$(rss_kb "$sipxd_pid"); heap1=$(heap_kb "$sipxd_pid")
hwm=$(rss_kb "$sipxd_pid" VmHWM)
row "$subs subscribed, all active (first NOTIFY)" \
    "$(sub "$t0" "$t1") s ($res)"
row "  held (status subscriptions)" "$held"
row "  RSS before / all held / peak" \
    "$(mb "$rss0") / $(mb "$rss1") / $(mb "$hwm")"
row "  heap before / all held" "$(mb "$heap0") / $(mb "$heap1")"
if [ "${ok:-0}" -gt 0 ]; then
	row "  bytes per subscription, RSS (held - before) / $ok" \
	    "$(( (rss1 - rss0) * 1024 / ok ))"
	row "  bytes per subscription, heap (held - before) / $ok" \
	    "$(( (heap1 - heap0) * 1024 / ok ))"
fi
wait_no_transactions
ctl reload >/dev/null || bench_fail "reload failed"
sleep 0.5
rss3=$(rss_kb "$sipxd_pid"); heap3=$(heap_kb "$sipxd_pid")
row "  transactions gone, heap trimmed: RSS / heap" "$(mb "$rss3") / $(mb "$heap3")"
if [ "${ok:-0}" -gt 0 ]; then
	row "  bytes per subscription alone, RSS / heap" \
	    "$(( (rss3 - rss0) * 1024 / ok )) / $(( (heap3 - heap0) * 1024 / ok ))"
fi

t0=$(now)
res=$(python3 "$here/bench_sub_place.py" -s "$dir/control.sock" \
    unsubscribe) || bench_fail "bench_sub_place.py unsubscribe failed"
_i=0
while [ "$(status_subs)" != "0" ] && [ $_i -lt 600 ]; do
	sleep 0.05; _i=$((_i + 1))
done
t1=$(now)
left=$(status_subs)
wait_no_transactions
ctl reload >/dev/null || bench_fail "reload failed"
sleep "$settle"
rss2=$(rss_kb "$sipxd_pid"); heap2=$(heap_kb "$sipxd_pid")
row "all unsubscribed (final NOTIFY each)" \
    "$(sub "$t0" "$t1") s ($res, left $left)"
row "  RSS / heap, transactions gone, heap trimmed" \
    "$(mb "$rss2") / $(mb "$heap2")"
kill -0 "$sipxd_pid" 2>/dev/null || bench_fail "sipxd died"
