# Shared by the run-*-bench.sh scripts (sourced, POSIX sh): free
# loopback ports, starting and stopping processes by PID, reading
# /proc/PID.  The caller sets `dir` (a temporary directory) and adds
# its PIDs to `pids`; bench_cleanup stops them all.

bench_fail() { echo "${bench_name:-bench}: $*" >&2; exit 1; }

# stop_pid PID: TERM, a bounded wait, then KILL.
stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

pids=
bench_cleanup() {
	for _p in $pids; do stop_pid "$_p"; done
	[ -z "${dir:-}" ] || rm -rf "$dir"
}

# free_ports N: N ports free for both UDP and TCP on 127.0.0.1.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
out = []
while len(out) < int(sys.argv[1]):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
        if p not in out:
            out.append(p)
    except OSError:
        pass
    finally:
        u.close(); t.close()
print(*out)
PY
}

# rss_kb PID [FIELD]: VmRSS (or VmHWM...) in kB from /proc/PID/status.
rss_kb() {
	awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" \
	    2>/dev/null || echo 0
}

# cpu_ticks PID: utime + stime from /proc/PID/stat (after the comm).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# start_sipxd CONF LOG [PREFIX...]: starts sipxd (under PREFIX, e.g.
# taskset or prlimit), waits for $dir/control.sock; sets sipxd_pid.
start_sipxd() {
	_conf=$1; _log=$2; shift 2
	"$@" "$sipxd" -c "$_conf" 2>"$_log" &
	sipxd_pid=$!
	pids="$pids $sipxd_pid"
	_i=0
	while [ ! -S "$dir/control.sock" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$sipxd_pid" 2>/dev/null; then
			tail -20 "$_log" >&2
			bench_fail "sipxd did not start"
		fi
		sleep 0.05
	done
}

ctl() { "$sipxctl" -s "$dir/control.sock" "$@"; }

# live_transactions: the `transactions:` line of `sipxctl status`.
live_transactions() {
	ctl status 2>/dev/null | awk '$1 == "transactions:" { print $2 }'
}
