#!/bin/sh
# Calls (issue 10, "Benchmarks"): sipxd against SIPp over UDP on
# loopback, media none unless said.  Phases, each with a fresh sipxd:
#
#   out      calls placed by sipxd to a SIPp UAS (sipp/call_uas.xml:
#            100, 200 with SDP, ACK, held 1 s, then the UAS sends BYE),
#            at each rate of OUT_RATES for SECS s.  bench_call_place.py
#            writes `call bench sip:uas@... media=none timeout=10` lines
#            on 32 control connections (at most 32 unanswered calls on
#            each, SIPX_CTL_JOBS_MAX) and reads every call.result.  A
#            fresh SIPp UAS per rate (-m the calls placed) counts the
#            calls it completed and failed.
#   in       calls from a SIPp UAC (sipp/call_uac.xml: INVITE with SDP,
#            200, ACK, held 1 s, BYE) answered by sipxd (incoming =
#            answer), sipp -r RATE -m RATE*SECS, each rate of IN_RATES.
#   held     HELD calls held HOLD s, SIPp UAC at HELD_RATE/s: sipxd's RSS
#            before (idle), when `status` says all HELD are up, and
#            SETTLE s after they all ended; bytes per call.
#   silence  media silence: for each count of MEDIA_CALLS, that many
#            calls (SIPp UAC at MEDIA_RATE/s, the SDP pointing all
#            calls' RTP at one rtp_sink port) held, then over WINDOW s
#            while all are up: packets received, late ones (rtp_sink.c:
#            more than 10 ms later after the previous than their
#            timestamps say), the drift of the streams behind their own
#            clock, kernel drops at the sink, sipxd's CPU.  sipxd runs
#            on CPU 0 and SIPp and the sink on CPU 1 (taskset, when
#            there is one): "one core" is sipxd's.
#
# sipxd needs a descriptor per SIP socket and two per call (RTP and
# RTCP, media none included): the script raises its soft limit to the
# hard one (ulimit -n) and holds at most (hard - 200) / 2 calls.
# Every process is started and stopped by PID (the EXIT trap too).
# Exit 1 on an error (a tool missing, sipxd not starting or dying);
# slow figures and failed calls are printed, not errors.  Skipped
# (exit 0) without sipp.
#
#   run-call-bench.sh SIPXD SIPXCTL
#   environment: PHASES ("out in held silence"), SECS (10), OUT_RATES
#     ("500 1000 2000 3000"), IN_RATES ("1000 2000 3000 4000"), HELD
#     (10000), HELD_RATE (1000), HOLD (30), SETTLE (5), MEDIA_CALLS
#     ("500 1000 2000 4000"), MEDIA_RATE (500), WINDOW (10), RTP_SINK
#     (tests/bench/rtp_sink beside SIPXD), SIPP, KEEP (set: keep the
#     directory with the logs)
set -eu
sipxd=$1; sipxctl=$2
phases=${PHASES:-out in held silence}
secs=${SECS:-10}
out_rates=${OUT_RATES:-500 1000 2000 3000}
in_rates=${IN_RATES:-1000 2000 3000 4000}
held=${HELD:-10000}; held_rate=${HELD_RATE:-1000}; hold=${HOLD:-30}
settle=${SETTLE:-5}
media_calls=${MEDIA_CALLS:-500 1000 2000 4000}
media_rate=${MEDIA_RATE:-500}; window=${WINDOW:-10}
sipp=${SIPP:-sipp}
here=$(cd "$(dirname "$0")" && pwd)
sink=${RTP_SINK:-$(dirname "$sipxd")/tests/bench/rtp_sink}
bench_name=run-call-bench
. "$here/bench-lib.sh"

command -v "$sipp" >/dev/null 2>&1 || { echo "calls: skipped (no sipp)"; exit 0; }
command -v python3 >/dev/null 2>&1 || bench_fail "python3 needed"
hz=$(getconf CLK_TCK)

# Two descriptors a call: as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
fit=$(( (nofile - 200) / 2 ))
[ "$held" -le "$fit" ] || held=$fit

pin0=; pin1=
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	pin0="taskset -c 0"; pin1="taskset -c 1"
fi

dir=$(mktemp -d /tmp/sipxd-call.XXXXXX)
# KEEP=1 keeps the directory (logs, SIPp's error files) and names it.
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
sport=$1; uport=$2; cport=$3

# udp_drops PORT: datagrams the kernel dropped at 127.0.0.1:PORT.
udp_drops() {
	awk -v a="$(printf '0100007F:%04X' "$1")" \
	    '$2 == a { d += $13 } END { print d + 0 }' /proc/net/udp
}

# write_conf FILE MEDIA: one account "bench" answering at once.  The RTP
# range holds 12,500 pairs; history is the default 1000 calls.
write_conf() {
	cat >"$1" <<CONF
sipxd: {
  listen = ( { transport = "udp"; address = "127.0.0.1:$sport"; } );
  max_transactions = 200000;
};
control: { path = "$dir/control.sock"; max_clients = 64; };
log: { level = "notice"; };
media: { address = "127.0.0.1"; port_min = 20000; port_max = 44999;
         timeout = 0; };
calls: { max = 20000; history = ${CALL_HISTORY:-1000}; };
accounts = ( { name = "bench"; aor = "sip:bench@127.0.0.1";
  register = false; transport = "udp"; incoming = "answer";
  media = "$2"; codecs = [ "PCMU" ]; } );
CONF
	chmod 600 "$1"
}

# go MEDIA [PREFIX...]: a fresh sipxd with that media.
go() {
	_m=$1; shift
	write_conf "$dir/sipxd.conf" "$_m"
	rm -f "$dir/control.sock"
	start_sipxd "$dir/sipxd.conf" "$dir/sipxd.log" "$@"
}

# stop: SIGTERM to sipxd, its stop bounded by stop_pid; a sanitizer
# report is an error.
stop() {
	stop_pid "$sipxd_pid"
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "$dir/sipxd.log"; then
		cat "$dir/sipxd.log" >&2
		bench_fail "sanitizer report from sipxd"
	fi
}

alive() {
	kill -0 "$sipxd_pid" 2>/dev/null ||
	    { tail -20 "$dir/sipxd.log" >&2; bench_fail "sipxd died"; }
}

# svals KEY...: those keys of `sipxctl status` ("-" when absent).
svals() {
	ctl status 2>/dev/null | awk -v keys="$*" '
	{ sub(/:$/, "", $1); v[$1] = $2 }
	END { n = split(keys, k, " ")
		for (i = 1; i <= n; i++)
			printf "%s%s", (k[i] in v ? v[k[i]] : "-"), (i < n ? " " : "\n") }'
}

# live: the live calls (0 when status does not answer).
live() {
	_c=$(svals calls)
	case $_c in ''|*[!0-9]*) echo 0 ;; *) echo "$_c" ;; esac
}

# wait_calls N SECS: until `status` says calls <= N, at most SECS s.
wait_calls() {
	_i=0
	while [ "$(live)" -gt "$1" ] && [ $_i -lt $(($2 * 10)) ]; do
		sleep 0.1; _i=$((_i + 1))
	done
}

# sipp_wait PID SECS: waits for SIPp to end on its own, at most SECS s,
# then stops it.
sipp_wait() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt $(($2 * 10)) ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	stop_pid "$1"
}

# sipp_counts CSV: "successful failed retransmissions" from the last
# line of a -trace_stat file (fields 16, 18, 58).
sipp_counts() {
	tail -n 1 "$1" 2>/dev/null | awk -F';' '{ print $16 + 0, $18 + 0, $58 + 0 }'
}

# errlines FILE: calls SIPp aborted (its error file; "Dead call" lines,
# retransmissions for calls already ended, are not counted).
errlines() {
	_c=$(grep -c 'Aborting call' "$1" 2>/dev/null) || true
	echo "${_c:-0}"
}

warns() { grep -cE ': (warning|error):' "$dir/sipxd.log" || true; }

echo "== calls: sipxd and SIPp over UDP on 127.0.0.1," \
	"$(nproc) cores shared with SIPp (descriptors: $nofile)"

# ---- calls placed by sipxd ------------------------------------------------
phase_out() {
	go none
	for r in $out_rates; do
		n=$((r * secs))
		"$sipp" -sf "$here/sipp/call_uas.xml" -t u1 -i 127.0.0.1 \
			-p "$uport" -nostdin -m "$n" -d 1000 \
			-buff_size 4194304 -trace_err \
			-error_file "$dir/uas$r.err" -trace_stat \
			-stf "$dir/uas$r.csv" -fd 1 >"$dir/uas$r.out" 2>&1 &
		spid=$!; pids="$pids $spid"
		sleep 0.5
		w0=$(warns)
		c0=$(cpu_ticks "$sipxd_pid"); t0=$(now)
		python3 "$here/bench_call_place.py" -s "$dir/control.sock" \
			-a bench -u "sip:uas@127.0.0.1:$uport" -r "$r" -d "$secs" \
			-t 10 >"$dir/out$r" 2>"$dir/out$r.err" ||
			{ cat "$dir/out$r.err" >&2; bench_fail "bench_call_place"; }
		t1=$(now); c1=$(cpu_ticks "$sipxd_pid")
		alive
		sipp_wait "$spid" 15
		wait_calls 0 10
		eval "$(tr ' ' '\n' <"$dir/out$r" | grep '=' | sed 's/^/o_/')"
		set -- $(sipp_counts "$dir/uas$r.csv")
		row "sipxd places $r/s for $secs s ($n calls)" \
		    "$o_ok answered, $o_failed failed, $o_refused refused," \
		    "$o_lost without result"
		row "  rate written / answered" \
		    "$o_placed_per_s/s / $o_ok_per_s/s (pacer behind by" \
		    "$o_behind_max at most)"
		row "  answer time p50 / p99 / max" \
		    "$o_answer_ms_p50 / $o_answer_ms_p99 / $o_answer_ms_max ms"
		row "  SIPp UAS: completed / failed / retransm." "$1 / $2 / $3" \
		    "($(errlines "$dir/uas$r.err") aborted in its error log)"
		row "  sipxd CPU, calls left, log warnings" \
		    "$(pct "$c0" "$c1" "$(sub "$t0" "$t1")") % of a core" \
		    "over $(sub "$t0" "$t1") s, $(svals calls) live," \
		    "$(( $(warns) - w0 )) warnings"
		head -3 "$dir/out$r.err" | sed 's/^/    /'
	done
	stop
}

# ---- calls answered by sipxd ----------------------------------------------
phase_in() {
	go none
	sed "s/@RTP_PORT@/$cport/" "$here/sipp/call_uac.xml" >"$dir/uac.xml"
	for r in $in_rates; do
		n=$((r * secs))
		w0=$(warns)
		c0=$(cpu_ticks "$sipxd_pid"); t0=$(now)
		"$sipp" -sf "$dir/uac.xml" -t u1 -i 127.0.0.1 -p "$uport" \
			-nostdin -m "$n" -r "$r" -d 1000 -buff_size 4194304 \
			-trace_err -error_file "$dir/uac$r.err" -trace_stat \
			-stf "$dir/uac$r.csv" -fd 1 "127.0.0.1:$sport" \
			>"$dir/uac$r.out" 2>&1 &
		spid=$!; pids="$pids $spid"
		sipp_wait "$spid" $((secs + 40))
		t1=$(now); c1=$(cpu_ticks "$sipxd_pid")
		alive
		wait_calls 0 10
		el=$(sub "$t0" "$t1")
		set -- $(sipp_counts "$dir/uac$r.csv")
		row "SIPp calls at $r/s for $secs s ($n calls)" \
		    "$1 completed, $2 failed, $3 retransmissions" \
		    "($(errlines "$dir/uac$r.err") aborted in SIPp's error log)"
		row "  completed/s (over $el s less the 1 s hold)" \
		    "$(echo "$1 $el" | awk '{ printf "%.0f", $1 / ($2 - 1) }')/s"
		row "  sipxd CPU, calls left, log warnings" \
		    "$(pct "$c0" "$c1" "$el") % of a core, $(svals calls) live," \
		    "$(( $(warns) - w0 )) warnings"
	done
	stop
}

# ---- concurrent calls held ------------------------------------------------
phase_held() {
	go none
	sed "s/@RTP_PORT@/$cport/" "$here/sipp/call_uac.xml" >"$dir/uac.xml"
	sleep 2
	rss0=$(rss_kb "$sipxd_pid")
	t0=$(now)
	"$sipp" -sf "$dir/uac.xml" -t u1 -i 127.0.0.1 -p "$uport" \
		-nostdin -m "$held" -r "$held_rate" -l "$held" \
		-d $((hold * 1000)) -buff_size 4194304 -trace_err \
		-error_file "$dir/held.err" -trace_stat -stf "$dir/held.csv" \
		-fd 1 "127.0.0.1:$sport" >"$dir/held.out" 2>&1 &
	spid=$!; pids="$pids $spid"
	most=0; t_all=
	while kill -0 "$spid" 2>/dev/null; do
		c=$(live)
		[ "$c" -le "$most" ] || { most=$c; rss_peak=$(rss_kb "$sipxd_pid"); }
		if [ "$c" -ge "$held" ] && [ -z "$t_all" ]; then
			t_all=$(now)
			rss_all=$(rss_kb "$sipxd_pid")
			conf=$(svals calls_confirmed)
		fi
		[ "$(sub "$t0" "$(now)" | cut -d. -f1)" -lt $((hold + held / held_rate + 60)) ] ||
			break
		sleep 0.5
	done
	sipp_wait "$spid" 5
	alive
	wait_calls 0 10
	hwm=$(rss_kb "$sipxd_pid" VmHWM)
	sleep "$settle"
	rss1=$(rss_kb "$sipxd_pid")
	set -- $(sipp_counts "$dir/held.csv")
	row "$held calls held $hold s (SIPp at $held_rate/s)" \
	    "$1 completed, $2 failed, $3 retransmissions, most live $most"
	if [ -n "$t_all" ]; then
		row "  all up after" "$(sub "$t0" "$t_all") s" \
		    "($conf confirmed)"
		row "  sipxd RSS: before / all up / peak (HWM)" \
		    "$(mb "$rss0") / $(mb "$rss_all") / $(mb "$hwm")"
		row "  bytes per call (all up - before) / $held" \
		    "$(( (rss_all - rss0) * 1024 / held ))"
	else
		row "  sipxd RSS: before / at most live / peak" \
		    "$(mb "$rss0") / $(mb "${rss_peak:-0}") / $(mb "$hwm")"
	fi
	row "  RSS $settle s after all ended" \
	    "$(mb "$rss1") ($(svals calls) live; history keeps 1000)"
	stop
}

# ---- media silence: calls one core sustains --------------------------------
phase_silence() {
	[ -x "$sink" ] || { row "media silence" "skipped (no $sink)"; return 0; }
	go silence $pin0
	# The sink takes an even port and the next one (RTCP).
	for try in 1 2 3 4 5; do
		set -- $(free_ports 1)
		kport=$(( $1 / 2 * 2 ))
		$pin1 "$sink" -p "$kport" >"$dir/sink.out" 2>"$dir/sink.err" &
		kpid=$!; pids="$pids $kpid"
		sleep 0.2
		kill -0 "$kpid" 2>/dev/null && break
		kpid=
	done
	[ -n "$kpid" ] || bench_fail "rtp_sink: $(cat "$dir/sink.err")"
	sed "s/@RTP_PORT@/$kport/" "$here/sipp/call_uac.xml" >"$dir/uacm.xml"
	for n in $media_calls; do
		[ "$n" -le "$fit" ] || { row "$n calls with silence" \
		    "skipped (descriptors for $fit calls)"; continue; }
		ramp=$(( (n + media_rate - 1) / media_rate ))
		$pin1 "$sipp" -sf "$dir/uacm.xml" -t u1 -i 127.0.0.1 \
			-p "$uport" -nostdin -m "$n" -r "$media_rate" -l "$n" \
			-d $(( (ramp + 2 + window) * 1000 )) -buff_size 4194304 \
			-trace_err -error_file "$dir/m$n.err" -trace_stat \
			-stf "$dir/m$n.csv" -fd 1 "127.0.0.1:$sport" \
			>"$dir/m$n.out" 2>&1 &
		spid=$!; pids="$pids $spid"
		sleep $((ramp + 1))
		up=$(live)
		d0=$(udp_drops "$kport")
		set -- $(svals rtp_ticks rtp_late_ticks)
		e0=$1; l0=$2
		s0=$(tail -n 1 "$dir/sink.out")
		c0=$(cpu_ticks "$sipxd_pid"); t0=$(now)
		sleep "$window"
		c1=$(cpu_ticks "$sipxd_pid"); t1=$(now)
		s1=$(tail -n 1 "$dir/sink.out")
		set -- $(svals rtp_ticks rtp_late_ticks)
		e1=$1; l1=$2
		d1=$(udp_drops "$kport")
		el=$(sub "$t0" "$t1")
		sipp_wait "$spid" 30
		alive
		wait_calls 0 10
		v() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
		p=$(( $(v "$s1" packets) - $(v "$s0" packets) ))
		late=$(( $(v "$s1" late) - $(v "$s0" late) ))
		set -- $(sipp_counts "$dir/m$n.csv")
		row "$n calls with silence ($up up in the window)" \
		    "$1 completed, $2 failed, $3 SIP retransmissions"
		row "  RTP received over $el s / expected" \
		    "$p / $((up * 50 * window)) ($((d1 - d0)) dropped at the sink)"
		row "  late packets (> 10 ms, at the sink)" \
		    "$late = $(echo "$late $p" | awk '{ printf "%.2f", ($2 > 0 ? $1 * 100 / $2 : 0) }') %"
		row "  streams' drift behind their clock, max/mean" \
		    "$(v "$s1" drift_max_ms) / $(v "$s1" drift_mean_ms) ms" \
		    "(since each call began)"
		if [ "$e0" != - ]; then
			row "  engine late ticks / ticks (status)" \
			    "$((l1 - l0)) / $((e1 - e0))"
		else
			row "  engine late ticks / ticks" \
			    "- (status has no rtp_ticks / rtp_late_ticks)"
		fi
		row "  sipxd CPU" "$(pct "$c0" "$c1" "$el") % of a core" \
		    "${pin0:+(pinned to CPU 0; SIPp and the sink on CPU 1)}"
	done
	stop
}

for p in $phases; do
	case $p in
	out|in|held|silence) "phase_$p" ;;
	*) bench_fail "unknown phase $p" ;;
	esac
done
