#!/bin/sh
# OPTIONS answered per second: sipxd against Kamailio's stateless
# sl_send_reply("200", "OK") (kamailio-options.cfg), each on the same
# core (taskset -c SERVER_CPU, every Kamailio process included), SIPp
# on another (SIPP_CPU), the same SIPp scenario (tests/bench/sipp/
# uac_any.xml with OPTIONS) and the same rate ladder: for each RATE,
# SECS s at RATE calls/s offered, at most LIMIT in flight, a request
# unanswered for 2 s (through SIPp's retransmissions) a failure.  Per
# row: answered/s, failed, and the server's CPU use over the run (its
# processes' utime+stime from /proc, in % of one core; near 100 % means
# the server, not SIPp, is the limit).  The summary takes, per server,
# the best answered/s of a row with 0 failed (or of any row when none
# had 0) and prints sipxd / Kamailio; a second line does the same with
# the most answered/s of any row, failures or not.  Kamailio runs with -DD -E, its
# own runtime directory (-Y) and pid file, on a free loopback port, and
# is stopped by PID like every other process here.  Exit 1 on an error
# (a server not starting or not answering a first OPTIONS); slow figures
# are not errors.  Skipped (exit 0) without sipp, kamailio or taskset.
#
#   run-kamailio-compare.sh SIPXD SIPXCTL
#   environment: RATES ("5000 10000 20000 40000 60000"), SECS (10), LIMIT (5000),
#                SERVER_CPU (1), SIPP_CPU (0), SIPP (sipp),
#                KAMAILIO (kamailio), KAMAILIO_MPATH (Debian's module dir)
set -eu
sipxd=$1; sipxctl=$2
rates=${RATES:-5000 10000 20000 40000 60000}; secs=${SECS:-10}; limit=${LIMIT:-5000}
scpu=${SERVER_CPU:-1}; ucpu=${SIPP_CPU:-0}
sipp=${SIPP:-sipp}; kamailio=${KAMAILIO:-kamailio}
mpath=${KAMAILIO_MPATH:-/usr/lib/x86_64-linux-gnu/kamailio/modules/}
here=$(cd "$(dirname "$0")" && pwd)
bench_name=run-kamailio-compare
. "$here/bench-lib.sh"

for t in "$sipp" "$kamailio" taskset; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "OPTIONS vs Kamailio: skipped (no $t)"; exit 0; }
done
dir=$(mktemp -d /tmp/sipxd-kcmp.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
hz=$(getconf CLK_TCK)
sed "s/@METHOD@/OPTIONS/g" "$here/sipp/uac_any.xml" >"$dir/options.xml"

# group_ticks PID: CPU ticks of PID and its direct children.
group_ticks() {
	_t=$(cpu_ticks "$1")
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		_t=$((_t + $(cpu_ticks "$_c" 2>/dev/null || echo 0)))
	done
	echo "$_t"
}

# ladder NAME PID PORT: one SIPp run per rate; appends "NAME rate ok bad
# per_sec cpu" lines to $dir/rows.
ladder() {
	name=$1; spid=$2; sport=$3
	"$sipp" -sf "$dir/options.xml" -t u1 -i 127.0.0.1 -p "$uac_port" \
		-nostdin -m 1 -timeout 5 "127.0.0.1:$sport" \
		>"$dir/first.out" 2>&1 ||
		{ tail -5 "$dir/first.out" >&2;
		  bench_fail "$name does not answer a first OPTIONS"; }
	for rate in $rates; do
		c0=$(group_ticks "$spid")
		taskset -c "$ucpu" "$sipp" -sf "$dir/options.xml" -t u1 \
			-i 127.0.0.1 -p "$uac_port" -nostdin -r "$rate" \
			-rp 1000 -l "$limit" -timeout "$secs" \
			-recv_timeout 2000 -buff_size 4194304 -trace_stat \
			-stf "$dir/uac.csv" -fd 1 "127.0.0.1:$sport" \
			>"$dir/uac.out" 2>&1 &
		uac=$!
		pids="$pids $uac"
		wait "$uac" 2>/dev/null || true
		c1=$(group_ticks "$spid")
		kill -0 "$spid" 2>/dev/null || bench_fail "$name died"
		set -- $(tail -n 1 "$dir/uac.csv" | awk -F';' '{
			n = split($1, s, "\t"); m = split($3, c, "\t");
			print c[m] - s[n], $16, $18 }')
		el=$1; ok=$2; bad=$3
		ps=$(echo "$ok $el" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }')
		cpu=$(echo "$c0 $c1 $el $hz" |
			awk '{ printf "%.0f", ($2 - $1) * 100 / $4 / $3 }')
		printf '%-9s %9s %12s %8s %6s%%\n' "$name" "$rate" "$ps" "$bad" "$cpu"
		echo "$name $rate $ok $bad $ps $cpu" >>"$dir/rows"
		rm -f "$dir/uac.csv"
	done
}

set -- $(free_ports 3)
sport=$1; kport=$2; uac_port=$3

echo "== OPTIONS answered/s: sipxd vs Kamailio (sl_send_reply), servers" \
	"on CPU $scpu, SIPp on CPU $ucpu, $secs s per rate, $limit max in flight"
printf '%-9s %9s %12s %8s %7s\n' server "offered/s" "answered/s" failed "cpu"

cat >"$dir/sipxd.conf" <<CONF
sipxd: { listen = ( { transport = "udp"; address = "127.0.0.1:$sport"; } ); };
control: { path = "$dir/control.sock"; };
log: { level = "notice"; };
CONF
start_sipxd "$dir/sipxd.conf" "$dir/sipxd.log" taskset -c "$scpu"
ladder sipxd "$sipxd_pid" "$sport"
stop_pid "$sipxd_pid"

mkdir -p "$dir/kam"
sed -e "s/@PORT@/$kport/" -e "s|@MPATH@|$mpath|" \
	"$here/kamailio-options.cfg" >"$dir/kam/kamailio.cfg"
taskset -c "$scpu" "$kamailio" -f "$dir/kam/kamailio.cfg" -DD -E \
	-Y "$dir/kam" -P "$dir/kam/kamailio.pid" -m 64 -M 8 \
	>"$dir/kam/out" 2>&1 &
kpid=$!
pids="$pids $kpid"
i=0
until grep -q "127.0.0.1.*:$kport" "$dir/kam/out" 2>/dev/null && sleep 0.5; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$kpid" 2>/dev/null; then
		tail -20 "$dir/kam/out" >&2
		bench_fail "kamailio did not start"
	fi
	sleep 0.1
done
ladder kamailio "$kpid" "$kport"
stop_pid "$kpid"

best() {	# best NAME: best answered/s with 0 failed, else of any row
	awk -v n="$1" '$1 == n { if ($4 == 0 && $5 > z) z = $5; if ($5 > a) a = $5 }
		END { print (z > 0 ? z : a) + 0, (z > 0 ? "0 failed" : "with failures") }' \
		"$dir/rows"
}
set -- $(best sipxd); s=$1; sn="$2 $3"
set -- $(best kamailio); k=$1; kn="$2 $3"
echo "-- sipxd best $s answered/s ($sn), kamailio best $k ($kn):" \
	"ratio $(echo "$s $k" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')x"
most() {	# most NAME: the most answered/s of any row, failures or not
	awk -v n="$1" '$1 == n && $5 > a { a = $5 } END { print a + 0 }' "$dir/rows"
}
s=$(most sipxd); k=$(most kamailio)
echo "-- most answered/s at any rate, failures or not: sipxd $s, kamailio $k:" \
	"ratio $(echo "$s $k" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }')x"
