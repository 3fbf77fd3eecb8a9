#!/bin/sh
# Starts sipxd on a throw-away config and socket, runs bench_control
# against it, and stops it by PID.  Prints figures; never fails on speed.
#   run-control-bench.sh SIPXD BENCH_CONTROL [bench args...]
set -eu
sipxd=$1; bench=$2; shift 2
dir=$(mktemp -d /tmp/sipxd-bench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
# A port of our own, away from a sipxd that may run on 5060.
port=$((20000 + $$ % 20000))
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
	[ $i -gt 100 ] && { echo "sipxd did not start:"; cat "$dir/sipxd.log"; exit 1; }
	sleep 0.05
done
"$bench" -s "$dir/control.sock" "$@"
