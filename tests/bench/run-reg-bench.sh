#!/bin/sh
# Registrations at scale: N accounts (default 10,000), each with its
# own user bN and password pw-bN, registering with digest (MD5,
# qop=auth) over UDP to Kamailio on loopback (kamailio-registrar.cfg:
# registrar + usrloc in memory + auth, the password computed from the
# auth user).  Phases, each with a fresh Kamailio and a fresh sipxd:
#
#   sipp     the registrar alone: SIPp registers the same N users
#            (sipp/reg_digest_uac.xml) as fast as it can, for the rate
#            Kamailio absorbs on this machine.
#   base     sipxd with the same N accounts but register = false, and
#            with no account: RSS SETTLE + 2 s after start, what "per
#            account" subtracts.
#   main     sipxd registers all N: seconds from its start until
#            `sipxctl status` says registrations=N (polled every
#            50 ms), the REGISTERs Kamailio received (its statistic
#            core:rcv_requests_register, REGISTERs only) and accepted
#            (registrar:accepted_regs) over that time, datagrams the
#            kernel dropped at each UDP socket (/proc/net/udp), sipxd's
#            RSS right after start, peak and SETTLE s after the last
#            registration, bytes per account, the CPU of sipxd while
#            idle between refreshes (IDLE s, /proc/PID/stat) and the
#            SIGTERM unregistration.
#   restart  sipxd with short bindings (RESTART_EXPIRES) and retry
#            base 2 s, max 10 s registers all N; Kamailio is stopped;
#            the refreshes fail until no account is registered, then
#            RESTART_DOWN s more, or for at most RESTART_WAIT s (only
#            REG_INFLIGHT_MAX REGISTERs run at once, and one to a dead
#            UDP peer lasts Timer F, 32 s); Kamailio is started again:
#            seconds until all are registered again, and the most
#            REGISTERs Kamailio received in one ~100 ms sample.
#
# Kamailio's counters are read with kamcmd every ~100 ms in the main
# and restart phases.  Every process is started and stopped by PID
# (each on every exit path, through the EXIT trap); Kamailio runs with
# -DD -E, its own runtime directory (-Y) and pid file, on free loopback
# ports.  Exit 1 on an error (a tool missing, a server not starting,
# accounts never registering within REG_TIMEOUT); slow figures are not
# errors.  Skipped (exit 0) without kamailio or kamcmd.
#
#   run-reg-bench.sh SIPXD SIPXCTL [N]
#   environment: ACCOUNTS (10000; the argument wins), PHASES ("sipp
#     base main restart"), SETTLE (10), IDLE (20), EXPIRES (3600),
#     SPREAD (sipxd.register_spread, 1000 ms), MAX_TRANSACTIONS
#     (100000, or 3 N when larger), RESTART_EXPIRES (30; 60 above
#     20,000 accounts), RESTART_DOWN (5), RESTART_WAIT (RESTART_EXPIRES
#     + 45), REG_TIMEOUT (300), SIPP_RATE (50000), SIPP_LIMIT (5000),
#     KAM_CHILDREN (2), KAM_SHM (MB; 256, 1024 above 20,000 accounts),
#     RCVBUF (Kamailio's maxbuffer; net.core.rmem_max), SIPP, KAMAILIO,
#     KAMCMD, KAMAILIO_MPATH
set -eu
sipxd=$1; sipxctl=$2
n=${3:-${ACCOUNTS:-10000}}
phases=${PHASES:-sipp base main restart}
settle=${SETTLE:-10}; idle=${IDLE:-20}; expires=${EXPIRES:-3600}
spread=${SPREAD:-1000}
maxtr=${MAX_TRANSACTIONS:-$((3 * n > 100000 ? 3 * n : 100000))}
# Short bindings for the restart run, long enough that every account
# is registered before the first refreshes come.
rexpires=${RESTART_EXPIRES:-$((n > 20000 ? 60 : 30))}; rdown=${RESTART_DOWN:-5}
rwait=${RESTART_WAIT:-$((rexpires + 45))}
rbase=2; rmax=10
regtimeout=${REG_TIMEOUT:-300}
sipp_rate=${SIPP_RATE:-50000}; sipp_limit=${SIPP_LIMIT:-5000}
kchildren=${KAM_CHILDREN:-2}
kshm=${KAM_SHM:-$((n > 20000 ? 1024 : 256))}
sipp=${SIPP:-sipp}; kamailio=${KAMAILIO:-kamailio}; kamcmd=${KAMCMD:-kamcmd}
mpath=${KAMAILIO_MPATH:-/usr/lib/x86_64-linux-gnu/kamailio/modules/}
here=$(cd "$(dirname "$0")" && pwd)
bench_name=run-reg-bench
. "$here/bench-lib.sh"

for t in "$kamailio" "$kamcmd"; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "registrations: skipped (no $t)"; exit 0; }
done
[ "$n" -ge 1 ] && [ "$n" -le 100000 ] ||
	bench_fail "N must be 1..100000 (SIPX_ACCOUNTS_MAX), not $n"
# Kamailio raises its UDP receive buffer up to maxbuffer, the kernel up
# to net.core.rmem_max: ask for the latter (4 MB when unreadable).
rcvbuf=${RCVBUF:-$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 4194304)}
hz=$(getconf CLK_TCK)
# usrloc hash: about 2 accounts a slot, 2^10 .. 2^16 slots.
hash=10
while [ $hash -lt 16 ] && [ $((1 << hash)) -lt $((n / 2)) ]; do
	hash=$((hash + 1))
done

dir=$(mktemp -d /tmp/sipxd-reg.XXXXXX)
kpid=; kkids=
cleanup() {
	for _p in $pids; do stop_pid "$_p"; done
	kam_stop
	[ -z "${dir:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
# sub A B: B - A with 2 decimals (seconds).
sub() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }

set -- $(free_ports 3)
kport=$1; sport=$2; uport=$3
kdir=$dir/kam
kctl="unix:$kdir/ctl"
mkdir -p "$kdir"
sed -e "s/@PORT@/$kport/" -e "s|@MPATH@|$mpath|" \
	-e "s/@CHILDREN@/$kchildren/" -e "s/@RCVBUF@/$rcvbuf/" \
	-e "s|@CTL@|$kdir/ctl|" -e "s/@HASH@/$hash/" \
	"$here/kamailio-registrar.cfg" >"$kdir/kamailio.cfg"

kam() { "$kamcmd" -s "$kctl" "$@"; }
# kstat NAME...: the values of Kamailio statistics, in that order.
kstat() { kam stats.get_statistics "$@" 2>/dev/null | awk '{ print $3 }'; }

# kam_start: a fresh Kamailio (empty location table); waits until its
# control socket answers.
kam_start() {
	rm -f "$kdir/ctl" "$kdir/kamailio.pid"
	"$kamailio" -f "$kdir/kamailio.cfg" -DD -E -Y "$kdir" \
		-P "$kdir/kamailio.pid" -m "$kshm" -M 8 \
		>>"$kdir/out" 2>&1 &
	kpid=$!
	_i=0
	until kam core.version >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$kpid" 2>/dev/null; then
			tail -20 "$kdir/out" >&2
			bench_fail "kamailio did not start"
		fi
		sleep 0.05
	done
	kkids=$(cat /proc/"$kpid"/task/*/children 2>/dev/null || true)
}

# kam_stop: TERM to the main process (it stops its children), then
# waits for every child too, so the port is free for the next start.
kam_stop() {
	[ -n "$kpid" ] || return 0
	stop_pid "$kpid"
	for _c in $kkids; do
		_i=0
		while kill -0 "$_c" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1; _i=$((_i + 1))
		done
		kill -9 "$_c" 2>/dev/null || true
	done
	kpid=; kkids=
}

# kam_ticks: CPU ticks of Kamailio's processes.
kam_ticks() {
	_t=$(cpu_ticks "$kpid" 2>/dev/null || echo 0)
	for _c in $kkids; do
		_t=$((_t + $(cpu_ticks "$_c" 2>/dev/null || echo 0)))
	done
	echo "$_t"
}

# sampler FILE: "time registers accepted" lines, every ~100 ms, until
# killed; lines without values while Kamailio is down.
sampler() {
	while :; do
		_t=$(now)
		_v=$(kam stats.get_statistics rcv_requests_register \
			accepted_regs 2>/dev/null | awk '{ printf " %s", $3 }')
		echo "$_t$_v"
		sleep 0.1
	done >"$1"
}
sampler_start() {
	sampler "$1" &
	spid=$!
	pids="$pids $spid"
}
sampler_stop() {
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
}

# peaks FILE FROM TO: over the samples between the times FROM and TO
# (FROM: a fresh Kamailio, its counters 0, or sipxd's start),
# "REGISTERs accepted max_reg_per_100ms max_acc_per_100ms": totals
# received and accepted, and the largest increase between two
# consecutive samples scaled to 100 ms.
peaks() {
	awk -v a="$2" -v b="$3" 'BEGIN { t = a }
	NF == 3 && $1 > a && $1 <= b + 0.15 {
		dr = $2 - r; da = $3 - c
		tr += dr; ta += da
		dt = $1 - t
		if (dt > 0.02) {
			if (dr * 0.1 / dt > mr) mr = dr * 0.1 / dt
			if (da * 0.1 / dt > ma) ma = da * 0.1 / dt
		}
		t = $1; r = $2; c = $3
	} END { printf "%d %d %.0f %.0f\n", tr, ta, mr, ma }' "$1"
}

# udp_drops PORT: datagrams the kernel dropped at the UDP socket bound
# to 127.0.0.1:PORT (its receive buffer full), from /proc/net/udp; 0
# when there is no such socket.
udp_drops() {
	awk -v a="$(printf '0100007F:%04X' "$1")" \
	    '$2 == a { d += $13 } END { print d + 0 }' /proc/net/udp
}

# status_vals: registrations reg_registered reg_registering
# reg_retry_wait reg_failed transactions from `sipxctl status` ("-"
# for a key the daemon does not report).
status_vals() {
	ctl status 2>/dev/null | awk '
	{ sub(/:$/, "", $1); v[$1] = $2 }
	END {
		split("registrations reg_registered reg_registering " \
		    "reg_retry_wait reg_failed transactions", k, " ")
		for (i = 1; i <= 6; i++)
			printf "%s%s", (k[i] in v ? v[k[i]] : "-"), \
			    (i < 6 ? " " : "\n")
	}'
}

# state_counts: "STATE COUNT" lines from `sipxctl accounts`.
state_counts() {
	ctl accounts 2>/dev/null | awk '
	NR == 1 { for (i = 1; i <= NF; i++) if ($i == "STATE") c = i; next }
	c { s[$c]++ }
	END { for (k in s) print k, s[k] }'
}

# write_conf FILE REGISTER EXPIRES BASE MAX [COUNT]: sipxd's config
# with COUNT (default N) accounts.
write_conf() {
	cat >"$1" <<CONF
sipxd: {
  listen = ( { transport = "udp"; address = "127.0.0.1:$sport"; } );
  register_spread = $spread;
  max_transactions = $maxtr;
};
control: { path = "$dir/control.sock"; };
log: { level = "notice"; };
accounts = (
CONF
	awk -v n="${6:-$n}" -v reg="$2" -v ex="$3" -v base="$4" -v max="$5" \
	    -v port="$kport" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "%s{ name = \"b%d\"; " \
			    "aor = \"sip:b%d@bench.example\"; " \
			    "password = \"pw-b%d\"; " \
			    "registrar = \"sip:127.0.0.1:%d\"; " \
			    "register = %s; expires = %d; " \
			    "retry = { base = %d; max = %d; }; }\n", \
			    (i > 1 ? "," : " "), i, i, i, port, reg, ex, \
			    base, max
	}' >>"$1"
	echo ");" >>"$1"
	chmod 600 "$1"
}

# sipxd_go CONF LOG: starts sipxd, t_start before the exec, t_sock
# when the control socket is there.
sipxd_go() {
	rm -f "$dir/control.sock"
	t_start=$(now)
	start_sipxd "$1" "$2"
	t_sock=$(now)
}

# wait_registered PHASE FROM: polls `sipxctl status` every 50 ms until
# registrations = N; t_all is the time of that poll.  The polls go to
# $dir/status.PHASE as "time values...".
wait_registered() {
	_f=$dir/status.$1; _from=$2
	while :; do
		_t=$(now)
		_v=$(status_vals)
		echo "$_t $_v" >>"$_f"
		set -- $_v
		[ "${1:-0}" != "$n" ] || break
		kill -0 "$sipxd_pid" 2>/dev/null ||
			{ tail -20 "$dir/sipxd.log" >&2; bench_fail "sipxd died"; }
		if [ "$(sub "$_from" "$_t" | cut -d. -f1)" -ge "$regtimeout" ]; then
			state_counts >&2
			bench_fail "not all $n registered within $regtimeout s"
		fi
		sleep 0.05
	done
	t_all=$_t
}

# maxima FILE: the most accounts seen registering, in retry-wait and
# failed in a status log ("-" when the daemon does not count them).
maxima() {
	awk '{
		for (i = 4; i <= 6; i++)
			if ($i == "-")
				m[i] = "-"
			else if (m[i] != "-" && $i + 0 > m[i] + 0)
				m[i] = $i
	} END {
		for (i = 4; i <= 6; i++)
			printf "%s%s", (m[i] == "-" ? "-" : m[i] + 0), \
			    (i < 6 ? " " : "\n")
	}' "$1"
}

# most PHASE: the maxima row of that phase's polls.
most() {
	set -- $(maxima "$dir/status.$1")
	if [ "$1" = - ]; then
		row "most seen registering / retry-wait / failed" \
		    "- (no reg_* counts in this sipxd's status)"
	else
		row "most seen registering / retry-wait / failed" \
		    "$1 / $2 / $3"
	fi
}

# stop_sipxd: SIGTERM, its unregistrations bounded by the 10 s stop
# deadline; sets t_stopped (s from the signal to the exit) and
# stop_drops (its socket's drops, last seen while it ran).
stop_sipxd() {
	_t0=$(now)
	kill "$sipxd_pid" 2>/dev/null || true
	_i=0; stop_drops=0
	while kill -0 "$sipxd_pid" 2>/dev/null && [ $_i -lt 300 ]; do
		_d=$(udp_drops "$sport")
		[ "$_d" -le "$stop_drops" ] || stop_drops=$_d
		sleep 0.05; _i=$((_i + 1))
	done
	kill -9 "$sipxd_pid" 2>/dev/null || true
	wait "$sipxd_pid" 2>/dev/null || true
	t_stopped=$(sub "$_t0" "$(now)")
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$dir/sipxd.log"; then
		cat "$dir/sipxd.log" >&2
		bench_fail "sanitizer report from sipxd"
	fi
}

# row LABEL TEXT...: one line of the summary.
row() { _l=$1; shift; printf '  %-46s %s\n' "$_l" "$*"; }
mb() { echo "$1" | awk '{ printf "%.1f MB", $1 / 1024 }'; }
# per A B: A / B rounded; pct T0 T1 SECS [DECIMALS]: CPU ticks T0..T1
# over SECS in % of one core.
per() { echo "$1 $2" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }'; }
pct() {
	echo "$1 $2 $3 $hz" | awk -v d="${4:-0}" \
	    '{ printf "%.*f", d, ($4 > 0 && $3 > 0 ? ($2 - $1) * 100 / $4 / $3 : 0) }'
}
drops() {
	row "UDP datagrams dropped (receive buffer full)" \
	    "sipxd's socket $(udp_drops "$sport"), Kamailio's $(udp_drops "$kport")${1:-}"
}
states() { state_counts | sort | tr '\n' ' '; }

echo "== registrations: $n accounts, digest (MD5, qop=auth) over UDP to" \
	"Kamailio on 127.0.0.1"
echo "   (kamailio-registrar.cfg: children=$kchildren, usrloc db_mode 0," \
	"hash 2^$hash, maxbuffer $rcvbuf, -m $kshm; sipxd:" \
	"register_spread $spread ms, max_transactions $maxtr)"

# ---- the registrar alone ------------------------------------------------
phase_sipp() {
	if ! command -v "$sipp" >/dev/null 2>&1; then
		row "registrar alone (SIPp)" "skipped (no sipp)"
		return 0
	fi
	{ echo SEQUENTIAL; awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++)
		printf "b%d;[authentication username=b%d password=pw-b%d]\n",
		    i, i, i }'; } >"$dir/users.csv"
	kam_start
	c0=$(kam_ticks); t0=$(now)
	"$sipp" -sf "$here/sipp/reg_digest_uac.xml" -inf "$dir/users.csv" \
		-t u1 -i 127.0.0.1 -p "$uport" -nostdin -m "$n" \
		-r "$sipp_rate" -rp 1000 -l "$sipp_limit" -timeout 300 \
		-buff_size 4194304 -trace_stat -stf "$dir/sipp.csv" -fd 1 \
		"127.0.0.1:$kport" >"$dir/sipp.out" 2>&1 || true
	t1=$(now); c1=$(kam_ticks)
	# Fields 16 SuccessfulCall(C), 18 FailedCall(C), 58
	# Retransmissions(C).
	set -- $(tail -n 1 "$dir/sipp.csv" | awk -F';' '{ print $16, $18, $58 }')
	ok=${1:-0}; bad=${2:-?}; rtx=${3:-?}
	kdrops=$(udp_drops "$kport")
	set -- $(kstat rcv_requests_register accepted_regs)
	el=$(sub "$t0" "$t1")
	row "registrar alone: SIPp registers $n" "$el s: $(per "$2" "$el")" \
	    "registrations/s, $(per "$1" "$el") REGISTERs/s"
	row "  (sipp -r $sipp_rate -l $sipp_limit)" "$ok ok, $bad failed," \
	    "$rtx retransmitted; Kamailio CPU $(pct "$c0" "$c1" "$el") %," \
	    "$kdrops UDP drops"
	kam_stop
}

# ---- sipxd with register = false, and with no account -------------------
phase_base() {
	write_conf "$dir/base.conf" false "$expires" 30 1800
	sipxd_go "$dir/base.conf" "$dir/sipxd.log"
	base_rss0=$(rss_kb "$sipxd_pid")
	sleep $((settle + 2))
	base_rss=$(rss_kb "$sipxd_pid")
	row "register = false: RSS at start, $((settle + 2)) s later" \
	    "$(mb "$base_rss0"), $(mb "$base_rss") (control socket" \
	    "after $(sub "$t_start" "$t_sock") s)"
	stop_sipxd
	write_conf "$dir/empty.conf" false "$expires" 30 1800 0
	sipxd_go "$dir/empty.conf" "$dir/sipxd.log"
	sleep $((settle + 2))
	empty_rss=$(rss_kb "$sipxd_pid")
	row "no account at all: RSS $((settle + 2)) s after start" \
	    "$(mb "$empty_rss")"
	stop_sipxd
}

# ---- sipxd registers all N -----------------------------------------------
phase_main() {
	write_conf "$dir/main.conf" true "$expires" 30 1800
	kam_start
	sampler_start "$dir/samples.main"
	sleep 0.3
	kc0=$(kam_ticks)
	sipxd_go "$dir/main.conf" "$dir/sipxd.log"
	rss0=$(rss_kb "$sipxd_pid")
	wait_registered main "$t_start"
	kc1=$(kam_ticks); sc1=$(cpu_ticks "$sipxd_pid")
	sleep 0.3
	sampler_stop
	el=$(sub "$t_start" "$t_all")
	set -- $(peaks "$dir/samples.main" "$t_start" "$t_all")
	row "sipxd start -> all $n registered" "$el s (control socket" \
	    "after $(sub "$t_start" "$t_sock") s)"
	row "REGISTERs received by Kamailio meanwhile" "$1 ($2 accepted):" \
	    "$(per "$1" "$el") REGISTERs/s, $(per "$2" "$el") registrations/s"
	row "most REGISTERs in a 100 ms sample" "$3 ($4 accepted)"
	drops
	row "CPU until all registered, % of a core" \
	    "sipxd $(pct 0 "$sc1" "$el") % (from its start)," \
	    "Kamailio $(pct "$kc0" "$kc1" "$el") %"
	most main
	sleep "$settle"
	peak=$(rss_kb "$sipxd_pid" VmHWM)
	rss=$(rss_kb "$sipxd_pid")
	set -- $(status_vals)
	row "status $settle s later" "registrations=$1 reg_retry_wait=$4" \
	    "reg_failed=$5 transactions=$6"
	row "states (sipxctl accounts)" "$(states)"
	row "bindings at Kamailio (location_contacts)" \
	    "$(kstat location_contacts)"
	row "sipxd RSS: after start / peak / settled" \
	    "$(mb "$rss0") / $(mb "$peak") / $(mb "$rss")"
	if [ -n "${base_rss:-}" ]; then
		row "bytes per registered account" \
		    "$(( (rss - base_rss) * 1024 / n )) = (settled" \
		    "$(mb "$rss") - register=false $(mb "$base_rss")) / $n"
		row "  the same over no account at all" \
		    "$(( (rss - empty_rss) * 1024 / n )) = (settled" \
		    "$(mb "$rss") - $(mb "$empty_rss")) / $n"
	fi
	r0=$(kstat rcv_requests_register)
	c0=$(cpu_ticks "$sipxd_pid"); t0=$(now)
	sleep "$idle"
	c1=$(cpu_ticks "$sipxd_pid"); t1=$(now)
	r1=$(kstat rcv_requests_register)
	el=$(sub "$t0" "$t1")
	row "sipxd CPU while idle, over $el s" \
	    "$(pct "$c0" "$c1" "$el" 2) % of a core ($((c1 - c0)) ticks" \
	    "of 1/$hz s; $((r1 - r0)) REGISTERs meanwhile)"
	stop_sipxd
	row "SIGTERM -> exit (unregistering all)" "$t_stopped s;" \
	    "$(kstat location_contacts) bindings left," \
	    "$(( $(kstat rcv_requests_register) - r1 )) REGISTERs," \
	    "$stop_drops dropped at sipxd's socket"
	kam_stop
}

# ---- through a registrar restart -----------------------------------------
phase_restart() {
	write_conf "$dir/restart.conf" true "$rexpires" "$rbase" "$rmax"
	kam_start
	sipxd_go "$dir/restart.conf" "$dir/sipxd.log"
	wait_registered restart0 "$t_start"
	row "restart run (expires $rexpires, retry $rbase..$rmax s)" \
	    "all registered after $(sub "$t_start" "$t_all") s"
	t_kstop=$(now)
	kam_stop
	# The refreshes (at 80-90 % of the granted time) now fail: wait
	# until no account is registered, then RESTART_DOWN s more, or at
	# most RESTART_WAIT s.  Over UDP a REGISTER to the stopped
	# registrar fails only at Timer F (64*T1), and only
	# REG_INFLIGHT_MAX of them run at once: the rest wait their turn.
	while :; do
		_t=$(now)
		set -- $(status_vals)
		echo "$_t $*" >>"$dir/status.down"
		if [ "$1" = 0 ]; then
			how="none registered after $(sub "$t_kstop" "$_t") s"
			sleep "$rdown"
			how="$how, then $rdown s"
			break
		fi
		if [ "$(sub "$t_kstop" "$_t" | cut -d. -f1)" -ge "$rwait" ]
		then
			how="$1 still registered after $(sub "$t_kstop" "$_t") s"
			break
		fi
		sleep 0.2
	done
	row "registrar stopped: $how" "$(states)"
	sampler_start "$dir/samples.restart"
	t_kstart=$(now)
	kam_start
	wait_registered restart "$t_kstart"
	sleep 0.3
	sampler_stop
	el=$(sub "$t_kstart" "$t_all")
	set -- $(peaks "$dir/samples.restart" "$t_kstart" "$t_all")
	row "registrar up again -> all $n registered" "$el s"
	row "REGISTERs received meanwhile" "$1 ($2 accepted):" \
	    "$(per "$1" "$el")/s on average"
	row "most REGISTERs in a 100 ms sample" "$3 ($4 accepted)"
	drops " (since its restart)"
	most restart
	stop_sipxd
	kam_stop
}

for p in $phases; do
	case $p in
	sipp|base|main|restart) "phase_$p" ;;
	*) bench_fail "unknown phase $p" ;;
	esac
done
echo "   (REGISTERs: Kamailio's core:rcv_requests_register and" \
	"registrar:accepted_regs, read with kamcmd every ~100 ms; a"
echo "    registration with digest is 2 REGISTERs, the second accepted;" \
	"RSS from /proc/PID/status, CPU from /proc/PID/stat)"
