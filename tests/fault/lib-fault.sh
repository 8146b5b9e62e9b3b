# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the fault tests, after nothing else: the bus suite's lib.sh
# (private bus, polkitd, the daemon, v1 memcgs, PASS/FAIL lines) plus
#   - the injection shim (inject.c) wrapped around the daemon: rules are
#     armed at run time through $BUS_TMP/inject.rules, every fault lands
#     in $BUS_TMP/inject.log;
#   - a fake cgroupfs tree ($FAKE) for --root, with helpers to make
#     usage cross the high line;
#   - check-trace.py, which verifies the order and values of every limit
#     write the shim traced.
#
# Environment (tests/fault/meson.build): MEMCGD_INJECT_SO, plus what
# lib.sh reads.

. "$(dirname "${BASH_SOURCE[0]}")/../bus/lib.sh"

FAULT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MEMCGD_REAL_BIN=${MEMCGD_BIN:-}
FAKE=
MIB=1048576

fault_require() {
        bus_require
        [ -n "${MEMCGD_INJECT_SO:-}" ] && [ -f "$MEMCGD_INJECT_SO" ] ||
                skip "the injection shim is not built (MEMCGD_INJECT_SO=${MEMCGD_INJECT_SO:-})"
}

# fault_wrap: from now on memcgd_start runs the daemon under the shim.
# The wrapper execs, so MEMCGD_PID is the daemon's own pid.
fault_wrap() {
        FAKE="$BUS_TMP/fake"
        : >"$BUS_TMP/inject.rules"
        : >"$BUS_TMP/inject.log"
        cat >"$BUS_TMP/memcgd-injected" <<EOF
#!/bin/sh
# An ASan build wants its runtime first among the loaded libraries; the
# shim only interposes libc calls, so the order does not matter here.
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
export LD_PRELOAD="$MEMCGD_INJECT_SO"
export MEMCGD_INJECT_FILE="$BUS_TMP/inject.rules"
export MEMCGD_INJECT_LOG="$BUS_TMP/inject.log"
export MEMCGD_INJECT_TRACE="${FAULT_TRACE:-memory.[mh][ai][xg]*}"
# The fake tree's files behave as cgroupfs attributes (see inject.c).
export MEMCGD_INJECT_KERNFS="$FAKE/*"
exec "$MEMCGD_REAL_BIN" "\$@"
EOF
        chmod 0755 "$BUS_TMP/memcgd-injected"
        MEMCGD_BIN="$BUS_TMP/memcgd-injected"
}

# inject_arm SPEC: replaces the rule set of the running daemon (the shim
# looks at the file at most every 10 ms; wait a little longer). An empty
# SPEC disarms.
inject_arm() {
        printf '%s\n' "$1" >"$BUS_TMP/inject.rules.tmp"
        mv "$BUS_TMP/inject.rules.tmp" "$BUS_TMP/inject.rules"
        echo "mark arm $1" >>"$BUS_TMP/inject.log"
        sleep 0.05
}

# inject_count [REGEX]: faults injected so far (lines "inject ...").
inject_count() { grep -E "^inject .*${1:-}" "$BUS_TMP/inject.log" 2>/dev/null | wc -l; }

# inject_summary: "EBUSY 3, EINTR 8, short 2" (faults by kind).
inject_summary() {
        grep '^inject ' "$BUS_TMP/inject.log" 2>/dev/null | awk '{ print $3 }' | sort | uniq -c |
                awk '{ s = s (NR > 1 ? ", " : "") $2 " " $1 } END { print s }'
}

# ---------------------------------------------------------------------------
# The fake tree

fake_setup() {
        FAKE="$BUS_TMP/fake"
        mkdir -p "$FAKE"
}

# fake_write CG FILE VALUE: in place, as a kernel file changes.
fake_write() { printf '%s\n' "$3" >"$FAKE$1/$2"; }
fake_read() { cat "$FAKE$1/$2" 2>/dev/null; }

# fake_cgroup CG CURRENT: a cgroup with the v2 memory files, unlimited.
fake_cgroup() {
        mkdir -p "$FAKE$1"
        fake_write "$1" memory.max max
        fake_write "$1" memory.high max
        fake_write "$1" memory.current "$2"
        fake_write "$1" memory.peak "$2"
        fake_events "$1" 0
        echo "usage $1 $2" >>"$BUS_TMP/inject.log"
}

fake_events() {
        printf 'low 0\nhigh %s\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n' "$2" >"$FAKE$1/memory.events"
}

# fake_usage CG BYTES: usage changes (recorded in the log, in order with
# the daemon's writes).
fake_usage() {
        echo "usage $1 $2" >>"$BUS_TMP/inject.log"
        fake_write "$1" memory.current "$2"
}

# fake_breach CG [OVER]: usage goes OVER bytes (default 1 MiB) past the
# high line of the max the daemon wrote, and the high counter of
# memory.events rises: what the kernel shows when a cgroup presses on
# memory.high.
declare -A FAKE_HIGH_EVENTS
fake_breach() {
        local cg=$1 over=${2:-$MIB} max high
        max=$(fake_read "$cg" memory.max)
        [[ "$max" =~ ^[0-9]+$ ]] || { fail "fake_breach $cg: memory.max is '$max'"; return 1; }
        high=$(high_from_max "$max")
        fake_usage "$cg" $((high + over))
        FAKE_HIGH_EVENTS[$cg]=$((${FAKE_HIGH_EVENTS[$cg]:-0} + 1))
        fake_events "$cg" "${FAKE_HIGH_EVENTS[$cg]}"
}

# The seed's high_from_max (DESIGN.md §1, exact decimal ratios).
high_from_max() {
        "$PYTHON" -c 'import sys; m = int(sys.argv[1]); M = 1 << 20
print(m * 1000000 // 1080000 if m > 108 * M else max(m - 8 * M, 0))' "$1"
}

# fake_consistent DESC CG: the limit files agree with each other, with
# usage and with what the service reports.
fake_consistent() {
        local desc=$1 cg=$2 max high cur prop out
        max=$(fake_read "$cg" memory.max)
        high=$(fake_read "$cg" memory.high)
        cur=$(fake_read "$cg" memory.current)
        if ! [[ "$max" =~ ^[0-9]+$ && "$high" =~ ^[0-9]+$ ]]; then
                fail "$desc: $cg has numeric limits" "memory.max '$max', memory.high '$high'"
                return
        fi
        local problems=()
        [ "$max" -gt "$cur" ] || problems+=("memory.max $max is not above usage $cur")
        [ "$high" = "$(high_from_max "$max")" ] || problems+=("memory.high $high is not high_from_max($max) = $(high_from_max "$max")")
        prop=$(busctl --json=short get-property "$BUS_NAME" "$(object_path_of "$cg")" "$BUS_CGROUP_IFACE" MaxLimitBytes 2>&1 | jget data 2>&1)
        [ "$prop" = "$max" ] || problems+=("MaxLimitBytes says $prop, memory.max holds $max")
        out=$(stats root "$cg") && load_stats "$out"
        [ "${ST_VAL[max_limit_bytes]:-}" = "$max" ] || problems+=("GetStats max_limit_bytes ${ST_VAL[max_limit_bytes]:-?}")
        if [ ${#problems[@]} -eq 0 ]; then
                pass "$desc: $cg max $max > usage $cur, high $high = high_from_max(max), the service reports the same"
        else
                fail "$desc: $cg limits consistent" "${problems[@]}"
        fi
}

# check_trace DESC: every limit write the shim traced, in order: max
# before high, no max below the usage of the moment.
check_trace() {
        local out
        if out=$("$PYTHON" "$FAULT_HERE/check-trace.py" "$BUS_TMP/inject.log" "$FAKE" 2>&1); then
                pass "$1: $out"
        else
                fail "$1" "$out"
        fi
}

# log_has DESC REGEX: memcgd's log has a line matching REGEX.
log_has() {
        local line
        line=$(grep -E -m1 -- "$2" "$BUS_TMP/memcgd.log")
        if [ -n "$line" ]; then pass "$1: \"${line:0:160}\""; else
                fail "$1" "no line matching /$2/ in the log" "$(tail -n 8 "$BUS_TMP/memcgd.log")"; fi
}

# call_error CALLER METHOD ARGS...: a manager call (dbus-send syntax) that
# should fail; sets ERR_NAME and ERR_MSG (ERR_NAME "none" on success).
call_error() {
        local who=$1 method=$2 out; shift 2
        out=$(dsend "$who" "$BUS_MANAGER" "$BUS_IFACE.$method" "$@")
        if [[ "$out" =~ ^Error\ ([^:[:space:]]+):\ (.*)$ ]]; then
                ERR_NAME=${BASH_REMATCH[1]}; ERR_MSG=${BASH_REMATCH[2]}
        else
                ERR_NAME=none; ERR_MSG=${out:0:200}
        fi
}

# note TEXT...: an observation that is not a failure (printed, counted).
FAULT_NOTES=0
note() {
        FAULT_NOTES=$((FAULT_NOTES + 1))
        printf 'NOTE: %s\n' "$1"
        shift
        local l
        for l in "$@"; do printf '      %s\n' "$l"; done
}

# The daemon is running and answers a read.
memcgd_serves() { memcgd_alive && mgr root ListMonitored >/dev/null; }

# monitored_paths: ListMonitored as "path" lines, sorted.
monitored_paths() {
        mgr "${1:-root}" ListMonitored | "$PYTHON" -c 'import json,sys
for p, o in json.load(sys.stdin)["data"][0]: print(p)' | sort
}

# memcgd_wait_exit SECS: waits for the daemon to exit on its own; sets
# MEMCGD_RC (empty when it did not exit).
memcgd_wait_exit() {
        local deadline=$((SECONDS + $1))
        MEMCGD_RC=
        while kill -0 "$MEMCGD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
        kill -0 "$MEMCGD_PID" 2>/dev/null && return 1
        wait "$MEMCGD_PID"; MEMCGD_RC=$?
        MEMCGD_PID=
        return 0
}
