#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcgd with exactly the capabilities its unit leaves it
# (CapabilityBoundingSet= of the built unit, NoNewPrivileges=): as root
# (uid 0) started through setpriv with that bounding set, on a private bus
# with a real v1 memcg. It must do all of its job there: write limits and
# thresholds, run v1 workers at SCHED_FIFO (RealtimePriority=), freeze a
# cgroup at its limit (freeze policy) and carry out an OOM decision that
# kills the largest task, a task of an unprivileged user.
. "$(dirname "$0")/../bus/lib.sh"

MIB=1048576
BUS_NO_DAEMON=1
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
UNIT=${MEMCGD_UNIT:-$MEMCGD_BUILD_ROOT/service/memcgd.service}

bus_require
[ -f "$UNIT" ] || skip "unit $UNIT not built"
caps=$(awk '/^\[/ { s = $0 } s == "[Service]" && /^CapabilityBoundingSet=/ { sub(/^CapabilityBoundingSet=/, ""); v = $0 } END { print v }' "$UNIT")
[ -n "$caps" ] || skip "the unit sets no CapabilityBoundingSet="
setpriv_caps="-all"
mask=0
for c in $caps; do
        n=$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')
        setpriv_caps+=",+$n"
        case "$c" in
        CAP_DAC_OVERRIDE) mask=$((mask | 1 << 1));;
        CAP_KILL) mask=$((mask | 1 << 5));;
        CAP_SYS_NICE) mask=$((mask | 1 << 23));;
        CAP_SYS_RESOURCE) mask=$((mask | 1 << 24));;
        *) say "(capability $c not decoded)";;
        esac
done
bus_setup
cat >"$BUS_TMP/memcgd-caps" <<EOW
#!/bin/sh
exec setpriv --no-new-privs --bounding-set=$setpriv_caps --inh-caps=-all -- "$MEMCGD_BIN" "\$@"
EOW
chmod 0755 "$BUS_TMP/memcgd-caps"
MEMCGD_BIN="$BUS_TMP/memcgd-caps"
printf '[Manager]\nRealtimePriority=10\n[Oom]\nDecisionTimeout=120s\n' >"$BUS_TMP/memcgd.conf"
say "unit: CapabilityBoundingSet=$caps"
memcgd_start --budget=64M

# What this host can give at all (a container may lack some).
own=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
[ $((mask & own)) -eq "$mask" ] || say "(this host's bounding set lacks $(printf '%#x' $((mask & ~own))) of the unit's capabilities)"
eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$MEMCGD_PID/status")
assert_eq "memcgd runs with exactly the unit's capabilities (CapEff, as far as this host has them)" "$(printf '%016x' $((mask & own)))" "$eff"
assert_eq "memcgd runs with NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$MEMCGD_PID/status")"

memcg_create caps
F=$MEMCG
mgr root Monitor st "$F" $((64 * MIB)) >/dev/null && pass "Monitor writes the limits" || fail "Monitor writes the limits" "$(cat "$BUS_TMP/last.err")"
assert_eq "limit_in_bytes written" $((64 * MIB)) "$(memcg_limit "$F")"
if grep -q "Cannot run workers at SCHED_FIFO" "$BUS_TMP/memcgd.log"; then
        fail "v1 workers run at SCHED_FIFO (RealtimePriority=10)" "$(grep -m1 'SCHED_FIFO' "$BUS_TMP/memcgd.log")"
else
        rt=$(for t in /proc/"$MEMCGD_PID"/task/*; do awk '{ print $41 }' "$t/stat"; done | grep -c '^1$')
        assert_u64 "v1 workers run at SCHED_FIFO (RealtimePriority=10): $rt thread(s)" "$rt" -ge 1
fi
mgr root SetOomPolicy ss "$F" freeze >/dev/null && pass "SetOomPolicy freeze (memory.oom_control)" ||
        fail "SetOomPolicy freeze (memory.oom_control)" "$(cat "$BUS_TMP/last.err")"

# The child belongs to the unprivileged user: killing it takes CAP_KILL
# (uid 0 without it may signal only its own uid's processes).
chown "$BUS_USER" "$MEMCG_DIR/cgroup.procs"
ALLOC_OUT="$BUS_TMP/alloc.out"
touch "$ALLOC_OUT"; chmod 0666 "$ALLOC_OUT"
as_user "$MEMCGD_TEST_ALLOC" --cgroup-procs="$MEMCG_DIR/cgroup.procs" --total=200 --step=4 --pause-ms=20 >"$ALLOC_OUT" 2>&1 &
CHILD=$!
BUS_PIDS+=("$CHILD")
if wait_signal 60 Oom "$F" $'\tfrozen\t'; then pass "the child sleeps at the limit and Oom($F, frozen) names it"; else
        fail "Oom($F, frozen) within 60 s" "$(tail -n 2 "$ALLOC_OUT")" "$(signals Oom "$F")"; fi
out=$(dsend root "$BUS_MANAGER" "$BUS_IFACE.ResolveOom" "string:$F" string:kill-largest uint64:0)
if [[ "$out" == Error* ]]; then
        fail "ResolveOom(kill-largest) kills the user's task" "$out" \
                "proposed unit change: CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_KILL CAP_SYS_NICE CAP_SYS_RESOURCE" \
                "(the kill-largest and kill-all decisions and the decision timeout use kill(2); the kill policy and v2's cgroup.kill do not)"
else
        wait_for "killed" 10 bash -c '! kill -0 "$0" 2>/dev/null' "$CHILD"
        if kill -0 "$CHILD" 2>/dev/null; then fail "ResolveOom(kill-largest) killed the child" "it still runs"; else
                pass "ResolveOom(kill-largest) killed the user's task $CHILD"; fi
fi
check "memcgd is still serving" memcgd_alive
bus_finish
