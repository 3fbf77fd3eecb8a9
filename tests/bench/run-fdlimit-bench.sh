#!/bin/sh
# Descriptor exhaustion: sipxd runs under `prlimit --nofile=NOFILE:NOFILE`
# (soft and hard, so raising the soft limit cannot help) with a TCP and
# a UDP listener on loopback; a client opens CONNS TCP connections that
# never send a byte (more than the limit: the kernel completes them in
# the listen backlog whether sipxd accepts or not) and holds them.
# Then, over WINDOW s, the script measures sipxd's CPU use (utime+stime
# from /proc/PID/stat, % of one core), the bytes and lines it wrote to
# its log (stderr), and whether `sipxctl status` answers, and how fast,
# at CHECKS points (each bounded by a STATUS_TIMEOUT s timeout).  A daemon that
# spins on accept() shows ~100 % CPU and megabytes of log; one that
# pauses its listener shows ~0 %.  Every process is started and stopped
# by PID.  Exit 1 on an error (sipxd not starting); figures are never
# errors.
#
#   run-fdlimit-bench.sh SIPXD SIPXCTL
#   environment: NOFILE (256), CONNS (300), WINDOW (10), CHECKS (4),
#                STATUS_TIMEOUT (2)
set -eu
sipxd=$1; sipxctl=$2
nofile=${NOFILE:-256}; conns=${CONNS:-300}; window=${WINDOW:-10}
checks=${CHECKS:-4}; stimeout=${STATUS_TIMEOUT:-2}
here=$(cd "$(dirname "$0")" && pwd)
bench_name=run-fdlimit-bench
. "$here/bench-lib.sh"

command -v prlimit >/dev/null 2>&1 ||
	{ echo "descriptor limit: skipped (no prlimit)"; exit 0; }
dir=$(mktemp -d /tmp/sipxd-fdlim.XXXXXX)
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
hz=$(getconf CLK_TCK)
set -- $(free_ports 1)
port=$1

cat >"$dir/sipxd.conf" <<CONF
sipxd: { listen = ( { transport = "udp"; address = "127.0.0.1:$port"; },
                    { transport = "tcp"; address = "127.0.0.1:$port"; } ); };
control: { path = "$dir/control.sock"; };
log: { level = "notice"; };
CONF
start_sipxd "$dir/sipxd.conf" "$dir/sipxd.log" prlimit \
	--nofile="$nofile:$nofile" --
limit=$(awk '/^Max open files/ { print $4 "/" $5 }' "/proc/$sipxd_pid/limits")

# The holder: opens the connections, says how many, sleeps until killed.
python3 - "$port" "$conns" "$dir/held" <<'PY' &
import resource, socket, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 16:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
held, err = [], 0
for _ in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        held.append(s)
    except OSError:
        err += 1
        s.close()
with open(out, "w") as f:
    f.write("%d %d\n" % (len(held), err))
time.sleep(3600)
PY
holder=$!
pids="$pids $holder"
i=0
until [ -s "$dir/held" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 "$holder" 2>/dev/null ||
		bench_fail "the connection holder did not finish"
	sleep 0.1
done
set -- $(cat "$dir/held")
held=$1; refused=$2
sleep 1

c0=$(cpu_ticks "$sipxd_pid"); b0=$(wc -c <"$dir/sipxd.log")
l0=$(wc -l <"$dir/sipxd.log"); t0=$(date +%s.%N)
answered=0; worst=0; step=$(echo "$window $checks" | awk '{ print $1 / $2 }')
k=0
while [ $k -lt "$checks" ]; do
	s0=$(date +%s.%N)
	if timeout "$stimeout" "$sipxctl" -s "$dir/control.sock" status >/dev/null 2>&1
	then
		answered=$((answered + 1))
	fi
	ms=$(echo "$s0 $(date +%s.%N)" | awk '{ printf "%.0f", ($2 - $1) * 1000 }')
	[ "$ms" -le "$worst" ] || worst=$ms
	k=$((k + 1))
	rest=$(echo "$s0 $(date +%s.%N) $step" |
		awk '{ r = $3 - ($2 - $1); printf "%.2f", (r > 0 ? r : 0) }')
	sleep "$rest"
done
t1=$(date +%s.%N)
kill -0 "$sipxd_pid" 2>/dev/null || bench_fail "sipxd died"
c1=$(cpu_ticks "$sipxd_pid"); b1=$(wc -c <"$dir/sipxd.log")
l1=$(wc -l <"$dir/sipxd.log")
el=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }')
cpu=$(echo "$c0 $c1 $el $hz" | awk '{ printf "%.0f", ($2 - $1) * 100 / $4 / $3 }')
fds=$(ls "/proc/$sipxd_pid/fd" 2>/dev/null | wc -l)
stop_pid "$holder"

echo "== descriptor limit: sipxd under prlimit --nofile=$nofile:$nofile" \
	"(limits: $limit), $held idle TCP connections held ($refused failed)"
printf '%-40s %s\n' "sipxd CPU over ${el} s" "$cpu %" \
	"log written over ${el} s" "$((b1 - b0)) bytes, $((l1 - l0)) lines" \
	"sipxd descriptors open" "$fds" \
	"sipxctl status answered" "$answered of $checks (slowest ${worst} ms, ${stimeout} s timeout)"
last=$(grep -v '^[[:space:]]*$' "$dir/sipxd.log" | tail -1 | cut -c1-120)
[ -z "$last" ] || printf '%-40s %s\n' "last log line" "$last"
stop_pid "$sipxd_pid"
