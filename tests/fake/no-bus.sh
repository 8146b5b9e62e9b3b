#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `memcgd --no-bus` (README "Without D-Bus") on a fake tree, read through a
# pipe as a script would: every event line arrives while the daemon runs
# (it is flushed, not left in stdio's buffer), in the documented format;
# a monitor that cannot start is a "failed" line and exit status 1, also
# when its worker fails after the start was accepted; at exit the limits
# from before come back (nothing re-attaches); a bad size is refused at
# once. No privileges.
set -u

MEMCGD=${MEMCGD_BIN:?MEMCGD_BIN is not set}
TMP=$(mktemp -d /tmp/memcgd-test-nobus-XXXXXX)
ROOT=$TMP/root
MIB=1048576
FAILED=0
PART_SKIPPED=

cleanup() {
        [ -n "${NB_PID:-}" ] && kill "$NB_PID" 2>/dev/null
        rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*"
        FAILED=1
}

ok() {
        echo "ok: $*"
}

fake_cgroup() {
        mkdir -p "$ROOT$1"
        echo max >"$ROOT$1/memory.max"
        echo max >"$ROOT$1/memory.high"
        echo "$2" >"$ROOT$1/memory.current"
        echo "$2" >"$ROOT$1/memory.peak"
        fake_events "$1" 0
}

fake_events() {
        printf 'low 0\nhigh %s\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n' "$2" >"$ROOT$1/memory.events"
}

# Reads the daemon's lines until one matches $1 (an extended regex of the
# whole line) or $2 seconds pass; the matching line is in $LINE.
LINES=()
expect() {
        local re=$1 deadline=$((SECONDS + $2)) l
        while [ "$SECONDS" -lt "$deadline" ]; do
                if IFS= read -r -t 1 -u "$MD_OUT" l; then
                        LINES+=("$l")
                        if [[ $l =~ $re ]]; then
                                LINE=$l
                                return 0
                        fi
                elif [ $? -le 128 ]; then
                        return 1 # EOF: the daemon exited
                fi
        done
        return 1
}

mkdir -p "$ROOT" "$TMP/state"
printf '[Manager]\n' >"$TMP/memcgd.conf"
fake_cgroup /a $((20 * MIB))

# A bad size: refused before anything starts.
out=$("$MEMCGD" --no-bus --config="$TMP/memcgd.conf" --state-directory="$TMP/state" --root="$ROOT" \
        --budget=1G --monitor=/a=lots 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && [[ $out == *"Invalid size in --monitor=/a=lots"* ]] &&
   [ "$(cat "$ROOT/a/memory.max")" = max ]; then
        ok "a bad size exits 1 with \"Invalid size in --monitor=/a=lots\", limits untouched"
else
        fail "a bad size: exit $rc, output: $out"
fi

# The first shrink check a minute out (the base at the ceiling): no
# walk-down line between the expected ones.
coproc MD { exec "$MEMCGD" --no-bus --config="$TMP/memcgd.conf" --state-directory="$TMP/state" --root="$ROOT" \
        --budget=1G --shrink-base=60s --log-level=warning --monitor=/a=64M --monitor=/missing=64M 2>"$TMP/stderr"; }
# Bash unsets MD_PID when it reaps a coprocess (also one of an earlier
# run): keep a copy of our own.
NB_PID=$MD_PID
# Bash closes the coprocess's pipe when it exits: read from a copy, so a
# daemon that exits early still shows what it printed.
exec {MD_OUT}<&"${MD[0]}"

if expect "^failed /missing error=org\.memcgd1\.Error\.NoSuchCgroup message=No such cgroup '/missing': .*$" 5; then
        ok "an absent cgroup: $LINE"
else
        fail "no 'failed /missing error=org.memcgd1.Error.NoSuchCgroup' line; read: ${LINES[*]}"
fi

if expect '^limit /a reason=initial old_max=18446744073709551615 new_max=67108864 new_high=58720256$' 5 &&
   expect '^started /a$' 5; then
        ok "Monitor: the initial limit line and 'started /a' arrived through the pipe"
else
        fail "no initial limit and started lines for /a; read: ${LINES[*]}"
fi
if [ "$(cat "$ROOT/a/memory.max")" = $((64 * MIB)) ] && [ "$(cat "$ROOT/a/memory.high")" = $((56 * MIB)) ]; then
        ok "memory.max 64 MiB, memory.high 56 MiB written"
else
        fail "limits after Monitor: max $(cat "$ROOT/a/memory.max"), high $(cat "$ROOT/a/memory.high")"
fi

# Usage reaches the high line and the counter rises: one seed step up
# (64 MiB < 100 MiB: +10 MiB, high = max - 8 MiB).
echo $((56 * MIB)) >"$ROOT/a/memory.current"
fake_events /a 1
if expect "^limit /a reason=grow old_max=$((64 * MIB)) new_max=$((74 * MIB)) new_high=$((66 * MIB))\$" 5; then
        ok "a breach: $LINE"
else
        fail "no grow line 64 -> 74 MiB; read: ${LINES[*]}"
fi
if [ "$(cat "$ROOT/a/memory.max")" = $((74 * MIB)) ]; then
        ok "memory.max is 74 MiB, as the line says"
else
        fail "memory.max after the grow: $(cat "$ROOT/a/memory.max")"
fi

# The cgroup goes away (a fake tree's rmdir needs its files gone first).
rm -f "$ROOT/a"/memory.* && rmdir "$ROOT/a"
if expect '^stopped /a reason=removed$' 5; then
        ok "removal: $LINE"
else
        fail "no 'stopped /a reason=removed' line; read: ${LINES[*]}"
fi

kill -TERM "$NB_PID"
wait "$NB_PID"
rc=$?
NB_PID=
if [ "$rc" -eq 1 ]; then
        ok "SIGTERM: exit status 1 (one monitor had failed)"
else
        fail "exit status $rc after SIGTERM, expected 1; stderr: $(cat "$TMP/stderr")"
fi

# A monitor that engine_monitor() takes but whose worker cannot write the
# initial limit (a failure that arrives as an event, not at once): /b's
# memory.max reads as a number but refuses every write, even root's (a
# read-only sysfs attribute: kernfs refuses an open for writing). /c
# starts; at SIGTERM nothing will re-attach it (no state file in this
# mode), so its limits from before come back.
RO_ATTR=/sys/kernel/mm/transparent_hugepage/hpage_pmd_size
if [ -r "$RO_ATTR" ] && ! (echo 1 >"$RO_ATTR") 2>/dev/null; then
        fake_cgroup /b $((20 * MIB))
        ln -sf "$RO_ATTR" "$ROOT/b/memory.max"
        fake_cgroup /c $((20 * MIB))
        LINES=()
        coproc MD { exec "$MEMCGD" --no-bus --config="$TMP/memcgd.conf" --state-directory="$TMP/state" --root="$ROOT" \
                --budget=1G --shrink-base=60s --log-level=warning --monitor=/b=64M --monitor=/c=64M 2>"$TMP/stderr2"; }
        # Bash unsets MD_PID when it reaps a coprocess: keep a copy.
        NB_PID=$MD_PID
        exec {MD_OUT}<&"${MD[0]}"
        if expect '^failed /b error=[^ ]+ message=.*$' 5; then
                ok "a write the worker cannot make: $LINE"
        else
                fail "no 'failed /b' line; read: ${LINES[*]}"
        fi
        # The two workers report in either order.
        if { printf '%s\n' "${LINES[@]}" | grep -qx 'started /c' || expect '^started /c$' 5; } &&
           [ "$(cat "$ROOT/c/memory.max")" = $((64 * MIB)) ]; then
                ok "/c started at 64 MiB"
        else
                fail "/c did not start at 64 MiB: memory.max $(cat "$ROOT/c/memory.max"); read: ${LINES[*]}"
        fi
        kill -TERM "$NB_PID"
        while IFS= read -r -t 5 -u "$MD_OUT" l; do LINES+=("$l"); done
        wait "$NB_PID"
        rc=$?
        NB_PID=
        if [ "$rc" -eq 1 ]; then
                ok "SIGTERM after a monitor that failed in its worker: exit status 1"
        else
                fail "exit status $rc after a monitor that failed in its worker, expected 1; stderr: $(cat "$TMP/stderr2")"
        fi
        if [ "$(cat "$ROOT/c/memory.max")" = max ] && [ "$(cat "$ROOT/c/memory.high")" = max ]; then
                ok "at exit /c's limits from before came back (memory.max and memory.high: max)"
        else
                fail "after exit /c has memory.max $(cat "$ROOT/c/memory.max"), memory.high $(cat "$ROOT/c/memory.high"), expected max and max"
        fi
        if printf '%s\n' "${LINES[@]}" | grep -qx "limit /c reason=restore old_max=$((64 * MIB)) new_max=18446744073709551615 new_high=18446744073709551615" &&
           printf '%s\n' "${LINES[@]}" | grep -qx 'stopped /c reason=unmonitored'; then
                ok "the restore at exit is printed: restore line and 'stopped /c reason=unmonitored'"
        else
                fail "no restore and stopped lines for /c at exit; read: ${LINES[*]}"
        fi
else
        PART_SKIPPED="no read-only numeric sysfs attribute ($RO_ATTR) to make a write fail: the asynchronous failure and the restore at exit are not checked"
        echo "SKIP (part): $PART_SKIPPED"
fi

bad=0
for l in "${LINES[@]}"; do
        [[ $l =~ ^(limit|started|failed|stopped|oom|budget-exhausted|killed|pressure|reclaim-wanted)\  ]] || bad=$((bad + 1))
done
if [ "$bad" -eq 0 ]; then
        ok "${#LINES[@]} lines read, each an event line"
else
        fail "$bad of ${#LINES[@]} lines are not event lines: ${LINES[*]}"
fi

if [ "$FAILED" = 0 ] && [ -n "$PART_SKIPPED" ]; then
        echo "SKIP: $PART_SKIPPED"
        exit 77
fi
exit $FAILED
