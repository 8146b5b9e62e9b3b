#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every system call memcgd makes is one its unit's SystemCallFilter=
# lets through (with SystemCallErrorNumber=EPERM a filtered call does not
# kill the service: it fails, which a test on the unit file alone would
# never notice). memcgd runs under strace -f on a private bus with polkitd
# and a real v1 memcg through start-up, Monitor, growth, shrink,
# SetInitialLimit, SetOomPolicy, an unprivileged caller (polkit), GetStats,
# ListMonitored, Unmonitor and SIGTERM, then `memcgd --thaw` (the unit's
# ExecStopPost=). The calls seen are checked against the filter, expanded
# with `systemd-analyze syscall-filter`.
. "$(dirname "$0")/../bus/lib.sh"

MIB=1048576
BUS_NO_DAEMON=1
UNIT=${MEMCGD_UNIT:-$MEMCGD_BUILD_ROOT/service/memcgd.service}

bus_require
command -v strace >/dev/null || skip "strace not installed (.ci/deps.sh: strace)"
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
[ -f "$UNIT" ] || skip "unit $UNIT not built"
bus_setup
# SCHED_FIFO workers too (sched_setscheduler).
printf '[Manager]\nRealtimePriority=10\n' >"$BUS_TMP/memcgd.conf"
REAL=$MEMCGD_BIN
# LeakSanitizer cannot run under ptrace: a sanitizer build is checked
# for the calls it makes, its leak check is off here.
cat >"$BUS_TMP/memcgd-strace" <<EOW
#!/bin/sh
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
exec strace -f -qq -o "$BUS_TMP/strace.\$\$" -- "$REAL" "\$@"
EOW
chmod 0755 "$BUS_TMP/memcgd-strace"
MEMCGD_BIN="$BUS_TMP/memcgd-strace"
memcgd_start --shrink-base=200ms
STRACE_PID=$MEMCGD_PID
# SIGTERM goes to memcgd itself, not to strace (which would detach).
MEMCGD_PID=$(ps -o pid= --ppid "$STRACE_PID" | tr -d ' ')
say "memcgd $MEMCGD_PID under strace $STRACE_PID"

memcg_create sys
mgr root Monitor st "$MEMCG" $((48 * MIB)) >/dev/null || fail "Monitor" "$(cat "$BUS_TMP/last.err")"
alloc_start "$MEMCG" 96 4 20
wait_for "child" 60 alloc_ready "$ALLOC_OUT"
wait_signal 10 LimitChanged "$MEMCG" $'\tgrow$' || fail "grow under strace"
alloc_stop "$ALLOC_PID"
wait_signal 10 LimitChanged "$MEMCG" $'\tshrink$' || fail "shrink under strace"
mgr root SetInitialLimit st "$MEMCG" $((40 * MIB)) >/dev/null || fail "SetInitialLimit" "$(cat "$BUS_TMP/last.err")"
mgr root SetOomPolicy ss "$MEMCG" grow >/dev/null || fail "SetOomPolicy" "$(cat "$BUS_TMP/last.err")"
mgr user Monitor st "$MEMCG" $((48 * MIB)) >/dev/null 2>&1
mgr root GetStats s "$MEMCG" >/dev/null || fail "GetStats" "$(cat "$BUS_TMP/last.err")"
mgr root ListMonitored >/dev/null || fail "ListMonitored"
mgr root Unmonitor s "$MEMCG" >/dev/null || fail "Unmonitor" "$(cat "$BUS_TMP/last.err")"
mgr root Monitor st "$MEMCG" $((48 * MIB)) >/dev/null || fail "Monitor again"
mgr root SetOomPolicy ss "$MEMCG" freeze >/dev/null
# memcgd is strace's child, not ours: stop it, then reap strace, which
# exits with memcgd's status.
kill -TERM "$MEMCGD_PID"
wait "$STRACE_PID"; rc=$?
MEMCGD_PID=
assert_eq "memcgd under strace exits with status 0 on SIGTERM" 0 "$rc"
"$MEMCGD_BIN" --config="$BUS_TMP/memcgd.conf" --state-directory="$BUS_TMP/state" --thaw >>"$BUS_TMP/memcgd.log" 2>&1 ||
        fail "memcgd --thaw under strace" "$(tail -n 3 "$BUS_TMP/memcgd.log")"

cat "$BUS_TMP"/strace.* | sed -n 's/^[0-9]* *\(<\.\.\. \)\{0,1\}\([a-z_0-9]*\)[( ].*/\2/p' | grep -v '^$' | sort -u >"$BUS_TMP/used"
say "system calls used: $(wc -l <"$BUS_TMP/used")"

# The filter of the unit: allow-lists minus deny-lists (~), groups expanded.
"$PYTHON" - "$UNIT" "$BUS_TMP/used" >"$BUS_TMP/check.out" <<'EOPY'
import re, subprocess, sys

unit, used_file = sys.argv[1], sys.argv[2]
cache = {}

def expand(item):
    if not item.startswith("@"):
        return {item}
    if item in cache:
        return cache[item]
    out = subprocess.run(["systemd-analyze", "syscall-filter", item], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names |= expand(line)
    cache[item] = names
    return names

allow, deny, section = set(), set(), None
for line in open(unit):
    line = line.strip()
    if line.startswith("["):
        section = line
    elif section == "[Service]" and line.startswith("SystemCallFilter="):
        v = line.split("=", 1)[1]
        if v.startswith("~"):
            for i in v[1:].split():
                deny |= expand(i)
        else:
            for i in v.split():
                allow |= expand(i)
if not allow:
    print("NOFILTER")
    sys.exit(0)
allowed = allow - deny
used = {l.strip() for l in open(used_file) if l.strip()}
outside = sorted(used - allowed)
print("OUTSIDE " + " ".join(outside))
for g in ("@privileged", "@resources"):
    print(f"IN {g} " + " ".join(sorted(used & expand(g))))
EOPY
outside=$(sed -n 's/^OUTSIDE //p' "$BUS_TMP/check.out")
# A daemon that monitors, grows and serves the bus makes dozens of
# different system calls: a handful means the trace was not read.
if [ "$(wc -l <"$BUS_TMP/used")" -lt 30 ]; then
        fail "strace's output parses into the system calls memcgd made" "only $(wc -l <"$BUS_TMP/used"): $(tr '\n' ' ' <"$BUS_TMP/used")"
elif grep -q NOFILTER "$BUS_TMP/check.out"; then
        fail "the unit has a SystemCallFilter= allow-list"
elif [ -z "$outside" ]; then
        pass "all $(wc -l <"$BUS_TMP/used") system calls memcgd made are in the unit's SystemCallFilter="
else
        fail "every system call memcgd made is in the unit's SystemCallFilter=" "outside: $outside" \
                "with SystemCallErrorNumber=EPERM these fail under systemd"
fi
sed -n 's/^IN \(@[a-z]*\) *$/   used from \1: none/p; s/^IN \(@[a-z]*\) \(..*\)/   used from \1: \2/p' "$BUS_TMP/check.out"
if grep -q '^IN @privileged *$' "$BUS_TMP/check.out" && ! grep -qx 'SystemCallFilter=~@privileged' "$UNIT"; then
        say "   (none of @privileged: SystemCallFilter=~@privileged would lower the exposure by 0.2)"
fi
bus_finish
