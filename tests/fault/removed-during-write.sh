#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A cgroup removed while its worker writes a limit: the monitor ends with
# MonitorStopped(cgroup, "removed"), the grant goes back to the pool, the
# state file forgets the cgroup, and the service goes on.
#   fake tree: the shim stalls the worker in the open or the write of
#     memory.max or memory.high while the test removes the directory;
#   real v1: the shim stalls the write of memory.limit_in_bytes of a
#     growing child's memcg while the test kills the child and rmdirs the
#     memcg; then the same race unaided, the rmdir at a random moment of
#     the growth.
# Prints how many removals raced a write.
. "$(dirname "$0")/lib-fault.sh"

BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
BUS_NO_DAEMON=1
BUS_NO_POLKIT=1
RACES=${FAULT_RACES:-8}

fault_require
bus_setup
fault_wrap
fake_setup
fake_cgroup /keep $((10 * MIB))
memcgd_start --root="$FAKE" --budget=2G
mgr root Monitor st /keep $((64 * MIB)) >/dev/null || die "Monitor /keep" "$(cat "$BUS_TMP/last.err")"
g0=$(mgr_property GrantedBytes)

stopped_removed() { signals MonitorStopped "$1" | grep -c $'\tremoved$'; }
in_state() { grep -q " $1\$" "$BUS_TMP/state/state"; }

# ---------------------------------------------------------------------------
say "== fake tree: rm -rf while the worker is stalled in a limit file"
n=0
for phase in memory.max@open memory.max@write memory.high@open memory.high@write; do
        n=$((n + 1))
        cg="/rm$n"
        fake_cgroup "$cg" $((10 * MIB))
        # A limit file is opened at a grow only by a worker that could
        # not keep it open (the fd table was full at Monitor).
        case $phase in
        *@open) inject_arm "*$cg/${phase%@*}@openw:EMFILE:1" ;;
        esac
        mgr root Monitor st "$cg" $((64 * MIB)) >/dev/null || { fail "Monitor($cg)" "$(cat "$BUS_TMP/last.err")"; continue; }
        check "$cg is in the state file" in_state "$cg"
        inject_arm "*$cg/$phase:delay=700:1"
        fake_breach "$cg"
        if ! wait_for "stall" 5 grep -q "^inject ${phase#*@} delay .*$cg/${phase%@*}" "$BUS_TMP/inject.log"; then
                fail "$cg: the worker reached the stalled ${phase%@*} ${phase#*@}" "$(tail -n 5 "$BUS_TMP/inject.log")"
                continue
        fi
        rm -rf "$FAKE$cg"
        if wait_signal 5 MonitorStopped "$cg" $'\tremoved$'; then
                pass "$cg removed during the ${phase#*@} of ${phase%@*}: MonitorStopped($cg, removed)"
        else
                fail "$cg removed during the ${phase#*@} of ${phase%@*}: MonitorStopped($cg, removed)" \
                        "recorded: $(signals MonitorStopped "$cg")" "$(tail -n 5 "$BUS_TMP/memcgd.log")"
        fi
        if is_listed "$cg"; then fail "$cg is no longer listed"; else pass "$cg is no longer listed"; fi
        if in_state "$cg"; then fail "$cg left the state file" "$(cat "$BUS_TMP/state/state")"; else pass "$cg left the state file"; fi
        check "memcgd is still serving" memcgd_serves
done
inject_arm ""
wait_for "pool" 5 bash -c '[ "$(busctl --json=short get-property org.memcgd1 /org/memcgd1 org.memcgd1.Manager GrantedBytes | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)[\"data\"])")" = "$0" ]' "$g0"
assert_eq "GrantedBytes is back to /keep's grant alone" "$g0" "$(mgr_property GrantedBytes)"
assert_eq "MonitoredCount is 1 (/keep)" 1 "$(mgr_property MonitoredCount)"
fake_consistent "/keep is untouched" /keep
fake_breach /keep
if wait_signal 5 LimitChanged /keep $'\tgrow$'; then pass "/keep still grows"; else fail "/keep still grows" "$(signals LimitChanged /keep)"; fi
fake_races=$n

# ---------------------------------------------------------------------------
say "== real v1: the child killed and the memcg removed while memory.limit_in_bytes is being written"
memcgd_stop
rm -f "$BUS_TMP/state/state"
memcgd_start --budget=8G
memcg_create stall
cg=$MEMCG
mgr root Monitor st "$cg" $((64 * MIB)) >/dev/null || die "Monitor $cg" "$(cat "$BUS_TMP/last.err")"
inject_arm "*$cg/memory.limit_in_bytes@write:delay=500:1"
alloc_start "$cg" 400 4 20
if wait_for "stall" 20 grep -q "^inject write delay .*$cg/memory.limit_in_bytes" "$BUS_TMP/inject.log"; then
        kill -KILL "$ALLOC_PID"; wait "$ALLOC_PID" 2>/dev/null
        for i in $(seq 50); do rmdir "$MEMCG_ROOT$cg" 2>/dev/null && break; sleep 0.01; done
        [ -d "$MEMCG_ROOT$cg" ] && fail "rmdir $cg" "still there" || pass "$cg removed while its worker was in the write"
        if wait_signal 5 MonitorStopped "$cg" $'\tremoved$'; then pass "MonitorStopped($cg, removed)"; else
                fail "MonitorStopped($cg, removed)" "recorded: $(signals MonitorStopped "$cg")" "$(tail -n 5 "$BUS_TMP/memcgd.log")"; fi
        grep -E "$cg" "$BUS_TMP/memcgd.log" | tail -n 3 | sed 's/^/   log: /'
else
        fail "the worker reached the stalled write of $cg/memory.limit_in_bytes" "$(tail -n 5 "$BUS_TMP/inject.log")"
fi
inject_arm ""
check "memcgd is still serving" memcgd_serves

say "== real v1: $RACES rmdirs at random moments of a growth, unaided"
removed=0
for i in $(seq "$RACES"); do
        memcg_create "race$i"
        cg=$MEMCG
        mgr root Monitor st "$cg" $((32 * MIB)) >/dev/null || { fail "Monitor($cg)" "$(cat "$BUS_TMP/last.err")"; continue; }
        alloc_start "$cg" 300 4 10
        sleep "0.$((RANDOM % 6 + 1))"
        kill -KILL "$ALLOC_PID"; wait "$ALLOC_PID" 2>/dev/null
        for t in $(seq 100); do rmdir "$MEMCG_ROOT$cg" 2>/dev/null && break; sleep 0.01; done
        if wait_signal 5 MonitorStopped "$cg" $'\tremoved$'; then
                removed=$((removed + 1))
        else
                fail "race $i: MonitorStopped($cg, removed)" "recorded: $(signals MonitorStopped "$cg")" "$(grep -F "$cg" "$BUS_TMP/memcgd.log" | tail -n 3)"
        fi
        grows=$(signals LimitChanged "$cg" | awk -F'\t' '$5 == "grow"' | wc -l)
        say "   race $i: $cg grew $grows time(s), then removed"
done
assert_eq "every raced removal ended its monitor with MonitorStopped(removed)" "$RACES" "$removed"
check "memcgd is still serving" memcgd_serves
assert_eq "MonitoredCount is 0" 0 "$(mgr_property MonitoredCount)"
assert_eq "GrantedBytes is 0" 0 "$(mgr_property GrantedBytes)"
if grep -qE 'waiting for events failed|Assertion|assert' "$BUS_TMP/memcgd.log"; then
        fail "no worker failed abnormally" "$(grep -E 'waiting for events failed|Assertion|assert' "$BUS_TMP/memcgd.log" | head -n 3)"
else
        pass "no worker failed abnormally"
fi
say "cgroups removed under their worker: fake tree during a stalled open/write $fake_races, real v1 during a stalled write 1, real v1 at random moments of growth $removed; faults injected: $(inject_count) ($(inject_summary))"
bus_finish
