#!/usr/bin/env bash
# bench-parse-compare.sh - SIP parser speed: sipxd against established C stacks.
#
#   tests/bench/bench-parse-compare.sh [OUR_BENCH]
#
# Builds tests/bench/bench_parse_{osip,sofia,re}.c with gcc -O2 (flags from
# pkg-config: libosip2, sofia-sip-ua, libre) into a temporary directory,
# runs each on tests/bench/corpus and prints one table: library, msgs/s,
# ns/msg. OUR_BENCH, if given, is our own benchmark binary; it is run the
# same way and shown as the first row, followed by a line with our speed
# divided by the fastest reference. It must accept the same interface:
#
#   OUR_BENCH [-r REPEAT] DIR
#
# and print, on stdout, one line of the same format as the references, with
# LIBNAME "sipxd" (the first line of that form counts; other lines are
# ignored):
#
#   sipxd  N msgs x R  M msgs/s  X ns/msg
#
# Environment:
#   RUNS=3        runs per program; the best (lowest ns/msg) is kept. Runs
#                 are interleaved round-robin so background load hits every
#                 program alike.
#   REPEAT=       passed as -r to every program (default: each program picks
#                 a count that makes one run last about 2.5 s).
#   CORPUS=DIR    corpus directory (default tests/bench/corpus).
#   AUTH_CORPUS=DIR  digest-mode values (default tests/bench/corpus-auth).
#   CC=gcc        compiler for the reference programs.
#
# Before timing, the three reference programs are run with -d and their
# per-message digests compared: they read the same fields (start line, every
# Via/Contact/Route/Record-Route, tags, CSeq, auth parameters, ...) so they
# must agree; a mismatch is reported.
#
# Needs the Debian packages libosip2-dev libsofia-sip-ua-dev libre-dev
# (a library whose package is missing is skipped with a warning).
# Exit status: 0; 1 if any program failed or rejected a corpus message;
# 2 on a usage or build problem.
set -u

here=$(cd "$(dirname "$0")" && pwd)
corpus=${CORPUS:-$here/corpus}
auth_corpus=${AUTH_CORPUS:-$here/corpus-auth}
runs=${RUNS:-3}
repeat=${REPEAT:-}
cc=${CC:-gcc}
ours=${1:-}

if [ $# -gt 1 ] || [ "${ours:-}" = "-h" ] || [ "${ours:-}" = "--help" ]; then
    sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 2
fi
if [ -n "$ours" ] && [ ! -x "$ours" ]; then
    echo "bench-parse-compare: $ours: not an executable" >&2
    exit 2
fi
if ! ls "$corpus"/*.sip >/dev/null 2>&1; then
    echo "bench-parse-compare: no *.sip files in $corpus" >&2
    exit 2
fi
case $runs in '' | *[!0-9]* | 0) echo "bench-parse-compare: RUNS must be a positive integer" >&2; exit 2 ;; esac
case $repeat in *[!0-9]*) echo "bench-parse-compare: REPEAT must be a positive integer" >&2; exit 2 ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-parse.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

status=0

# ---- build the reference programs -------------------------------------------
# name:source:pkg-config module:Debian package
refs="osip:bench_parse_osip.c:libosip2:libosip2-dev
sofia:bench_parse_sofia.c:sofia-sip-ua:libsofia-sip-ua-dev
re:bench_parse_re.c:libre:libre-dev"

progs=()   # "label path" of everything that will be timed, ours first
labels=()
refbins=()
versions=""
if [ -n "$ours" ]; then
    progs+=("$ours")
    labels+=("ours")
fi
while IFS=: read -r name src pc deb; do
    if ! pkg-config --exists "$pc" 2>/dev/null; then
        echo "bench-parse-compare: warning: pkg-config module $pc not found; skipping $src (apt-get install $deb)" >&2
        continue
    fi
    # shellcheck disable=SC2046
    if ! "$cc" -std=c17 -O2 -Wall -o "$tmp/bench_parse_$name" "$here/$src" \
        $(pkg-config --cflags --libs "$pc") 2>"$tmp/build_$name.log"; then
        echo "bench-parse-compare: building $src failed:" >&2
        cat "$tmp/build_$name.log" >&2
        exit 2
    fi
    progs+=("$tmp/bench_parse_$name")
    labels+=("$name")
    refbins+=("$tmp/bench_parse_$name")
    versions="$versions $pc $(pkg-config --modversion "$pc"),"
done <<EOF
$refs
EOF
if [ ${#refbins[@]} -eq 0 ]; then
    echo "bench-parse-compare: no reference library available (apt-get install libosip2-dev libsofia-sip-ua-dev libre-dev)" >&2
    exit 2
fi

files=("$corpus"/*.sip)
nmsgs=${#files[@]}
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
echo "corpus: $corpus ($nmsgs messages, $(cat "${files[@]}" | wc -c) bytes)"
echo "machine: ${cpu:-unknown CPU}, $(nproc) cores; $("$cc" --version | head -n1)"
echo "references:${versions%,}"

# ---- the references must agree on what they parsed --------------------------
first=""
for bin in "${refbins[@]}"; do
    "$bin" -d "$corpus" >"$tmp/digest_$(basename "$bin")" 2>"$tmp/digest_err_$(basename "$bin")"
    if [ -z "$first" ]; then
        first=$bin
    elif ! cmp -s "$tmp/digest_$(basename "$first")" "$tmp/digest_$(basename "$bin")"; then
        echo "WARNING: $(basename "$first") and $(basename "$bin") disagree on (message, digest or REJECTED, digest or REJECTED):" >&2
        join <(sort "$tmp/digest_$(basename "$first")") <(sort "$tmp/digest_$(basename "$bin")") |
            awk '$2 != $3 { print "  " $1, $2, $3 }' >&2
        status=1
    fi
done
if [ $status -eq 0 ] && [ ${#refbins[@]} -gt 1 ]; then
    echo "digest check: the ${#refbins[@]} references read identical fields from all $nmsgs messages"
fi
# ours must have read the same fields as the references (like for like)
if [ -n "$ours" ]; then
    "$ours" -d "$corpus" >"$tmp/digest_ours" 2>"$tmp/digest_err_ours"
    if cmp -s "$tmp/digest_$(basename "$first")" "$tmp/digest_ours"; then
        echo "digest check: $(basename "$ours") read the same fields as the references"
    else
        echo "WARNING: $(basename "$ours") and $(basename "$first") disagree on (message, digest or REJECTED, digest or REJECTED):" >&2
        join <(sort "$tmp/digest_ours") <(sort "$tmp/digest_$(basename "$first")") |
            awk '$2 != $3 { print "  " $1, $2, $3 }' >&2
        status=1
    fi
fi

# ---- timed runs, interleaved -------------------------------------------------
args=()
[ -n "$repeat" ] && args=(-r "$repeat")

declare -A best_ns best_rate name_of failed
for ((run = 1; run <= runs; run++)); do
    for i in "${!progs[@]}"; do
        l=${labels[$i]}
        out=$("${progs[$i]}" "${args[@]}" "$corpus" 2>"$tmp/err_$l")
        rc=$?
        # the result line: "NAME  N msgs x R  M msgs/s  X ns/msg" (other
        # lines, e.g. extra figures our binary prints, are ignored)
        line=$(printf '%s\n' "$out" |
            grep -E '^[^ ]+ +[0-9]+ msgs x [0-9]+ +[0-9.]+ msgs/s +[0-9.]+ ns/msg' | head -n1)
        if [ $rc -ne 0 ] || [ -z "$line" ]; then
            failed[$l]="exit $rc"
            if [ "$run" -eq 1 ]; then
                echo "--- ${progs[$i]} (exit $rc):" >&2
                cat "$tmp/err_$l" >&2
            fi
        fi
        [ -z "$line" ] && continue
        read -r nm rate ns <<<"$(printf '%s\n' "$line" | awk '{
            for (i = 2; i <= NF; i++) { if ($i == "msgs/s") r = $(i-1); if ($i == "ns/msg") n = $(i-1) }
            print $1, r, n }')"
        name_of[$l]=$nm
        if [ -z "${best_ns[$l]:-}" ] || awk -v a="$ns" -v b="${best_ns[$l]}" 'BEGIN { exit !(a < b) }'; then
            best_ns[$l]=$ns
            best_rate[$l]=$rate
        fi
    done
done

# ---- table -------------------------------------------------------------------
echo
printf '%-12s %14s %12s   %s\n' "library" "msgs/s" "ns/msg" "note"
printf '%-12s %14s %12s   %s\n' "------------" "--------------" "------------" "----"
fastest_rate=0
fastest_name=""
for i in "${!progs[@]}"; do
    l=${labels[$i]}
    nm=${name_of[$l]:-$l}
    note=""
    if [ -n "${failed[$l]:-}" ]; then
        status=1
        rej=$(sed -n 's/^[^:]*: \([0-9]* of [0-9]*\) corpus messages rejected.*/\1/p' "$tmp/err_$l" | tail -n1)
        if [ -n "$rej" ]; then
            note="FAILED: rejects $rej messages (see stderr)"
        else
            note="FAILED (${failed[$l]}; see stderr)"
        fi
    fi
    if [ -z "${best_ns[$l]:-}" ]; then
        printf '%-12s %14s %12s   %s\n' "$nm" "-" "-" "$note"
        continue
    fi
    printf '%-12s %14.0f %12.1f   %s\n' "$nm" "${best_rate[$l]}" "${best_ns[$l]}" "$note"
    if [ "$l" != "ours" ] && [ -z "${failed[$l]:-}" ] &&
        awk -v a="${best_rate[$l]}" -v b="$fastest_rate" 'BEGIN { exit !(a > b) }'; then
        fastest_rate=${best_rate[$l]}
        fastest_name=$nm
    fi
done
echo "(best of $runs interleaved runs each; wall time, CLOCK_MONOTONIC, one thread)"

if [ -n "$ours" ]; then
    if [ -n "${best_rate[ours]:-}" ] && [ -z "${failed[ours]:-}" ] && [ -n "$fastest_name" ]; then
        awk -v o="${best_rate[ours]}" -v f="$fastest_rate" -v n="$fastest_name" -v us="${name_of[ours]}" \
            'BEGIN { printf "%s / fastest reference (%s): %.2fx\n", us, n, o / f }'
    else
        echo "ratio: not available (our benchmark or every reference failed)"
    fi
fi

# ---- digest mode: Authorization / WWW-Authenticate values alone --------------
# Every program parses each AUTH_CORPUS/*.auth value with its library's
# digest parser (-a); the digests must agree; best of RUNS, interleaved.
if [ -d "$auth_corpus" ]; then
    echo
    echo "digest mode: $(ls "$auth_corpus"/*.auth | wc -l) header values from $auth_corpus"
    adg=""
    for i in "${!progs[@]}"; do
        "${progs[$i]}" -a -d "$auth_corpus" >"$tmp/adg_$i" 2>&1 || status=1
        if [ -z "$adg" ]; then
            adg=$tmp/adg_$i
        elif ! cmp -s "$adg" "$tmp/adg_$i"; then
            echo "WARNING: ${labels[$i]} disagrees in digest mode:" >&2
            diff "$adg" "$tmp/adg_$i" >&2 || :
            status=1
        fi
    done
    [ $status -ne 0 ] || echo "digest check: all ${#progs[@]} programs read identical digest fields"
    declare -A abest aname
    for ((run = 1; run <= runs; run++)); do
        for i in "${!progs[@]}"; do
            line=$("${progs[$i]}" -a "$auth_corpus" 2>/dev/null |
                grep -E '^[^ ]+ +[0-9]+ auth x [0-9]+ +[0-9.]+ hdrs/s' | head -n1) || status=1
            [ -n "$line" ] || { status=1; continue; }
            set -- $line
            aname[$i]=$1
            if [ -z "${abest[$i]:-}" ] || awk -v a="$8" -v b="${abest[$i]}" 'BEGIN { exit !(a < b) }'; then
                abest[$i]=$8
            fi
        done
    done
    printf '%-12s %14s %12s
' "library" "headers/s" "ns/header"
    afast=""; aours=""
    for i in "${!progs[@]}"; do
        [ -n "${abest[$i]:-}" ] || { printf '%-12s %14s %12s
' "${labels[$i]}" - FAILED; continue; }
        printf '%-12s %14.0f %12.1f
' "${aname[$i]}" \
            "$(awk -v n="${abest[$i]}" 'BEGIN { print 1e9 / n }')" "${abest[$i]}"
        if [ "${labels[$i]}" = ours ]; then
            aours=${abest[$i]}
        elif [ -z "$afast" ] || awk -v a="${abest[$i]}" -v b="$afast" 'BEGIN { exit !(a < b) }'; then
            afast=${abest[$i]}; afastn=${aname[$i]}
        fi
    done
    if [ -n "$aours" ] && [ -n "$afast" ]; then
        awk -v o="$aours" -v f="$afast" -v n="$afastn" \
            'BEGIN { printf "sipxd / fastest reference (%s), digest mode: %.2fx\n", n, f / o }'
    fi
fi
exit $status
