#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A SIGKILL loses no monitored cgroup: started again on the same state
# directory, the service lists all of them with their limits unchanged,
# and growth still works; Unmonitor then gives back what was there before
# the first Monitor, v1's oom_kill_disable included (the state file's
# record of it: memcgd's own 1 is what the file shows by then).
. "$(dirname "$0")/lib.sh"

MIB=1048576
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}

bus_setup

declare -a CGS OBJS ORIG LIMITS SOFTS
for i in 1 2 3; do
        memcg_create "r$i"
        CGS[i]=$MEMCG
        OBJS[i]=$(object_path_of "$MEMCG")
        ORIG[i]=$(memcg_limit "$MEMCG")
        mgr root Monitor st "$MEMCG" $(((32 + 16 * i) * MIB)) >/dev/null ||
                die "Monitor $MEMCG failed" "$(cat "$BUS_TMP/last.err")"
done
# A remembered start limit for an unmonitored path must survive too.
memcg_create later; LATER=$MEMCG
mgr root SetInitialLimit st "$LATER" $((40 * MIB)) >/dev/null ||
        fail "SetInitialLimit on an unmonitored memcg" "$(cat "$BUS_TMP/last.err")"
for i in 1 2 3; do
        LIMITS[i]=$(memcg_limit "${CGS[i]}")
        SOFTS[i]=$(memcg_file "${CGS[i]}" memory.soft_limit_in_bytes)
        check "${CGS[i]} is monitored before the kill" is_listed "${CGS[i]}"
done
# oom_kill_disable set by its owner before Monitor: under the kill policy
# with HoldAtLimit= memcgd sets it too, so only the state file knows.
okd_of() { awk '$1 == "oom_kill_disable" { print $2 }' "$MEMCG_ROOT$1/memory.oom_control"; }
memcg_create okd; OKD=$MEMCG
echo 1 >"$MEMCG_ROOT$OKD/memory.oom_control"
mgr root Monitor st "$OKD" $((48 * MIB)) >/dev/null || die "Monitor $OKD failed" "$(cat "$BUS_TMP/last.err")"
assert_eq "$OKD: the state file records oom_kill_disable 1 from before Monitor" "oom-kill-disabled $OKD" \
        "$(grep "^oom-kill-disabled " "$BUS_TMP/state/state")"
ls -la "$BUS_TMP/state" | sed 's/^/   state: /'
granted_before=$(mgr_property GrantedBytes)

say "== SIGKILL"
memcgd_kill9
check "the name is gone after SIGKILL" bus_name_gone
for i in 1 2 3; do
        assert_eq "${CGS[i]}: the kernel kept the limit" "${LIMITS[i]}" "$(memcg_limit "${CGS[i]}")"
done

say "== start again on the same state directory"
memcgd_start
for i in 1 2 3; do
        check "${CGS[i]} is listed again with object ${OBJS[i]}" is_listed "${CGS[i]}"
        assert_limit_kept "${CGS[i]}: limit unchanged by the restart" "${CGS[i]}" "${LIMITS[i]}"
        assert_eq "${CGS[i]}: soft limit unchanged by the restart" "${SOFTS[i]}" "$(memcg_file "${CGS[i]}" memory.soft_limit_in_bytes)"
        out=$(stats root "${CGS[i]}"); load_stats "$out"
        assert_eq "${CGS[i]}: GetStats monitored=true" true "${ST_VAL[monitored]:-}"
        assert_eq "${CGS[i]}: Cgroup.MaxLimitBytes" "$(memcg_limit "${CGS[i]}")" \
                "$(busctl --json=short get-property "$BUS_NAME" "${OBJS[i]}" "$BUS_CGROUP_IFACE" MaxLimitBytes 2>&1 | jget data 2>&1)"
done
check "$OKD is listed again" is_listed "$OKD"
assert_eq "MonitoredCount is 4" 4 "$(mgr_property MonitoredCount)"
assert_eq "GrantedBytes is what it was before the kill" "$granted_before" "$(mgr_property GrantedBytes)"
n=$(signals LimitChanged | awk -F'\t' '$5 == "initial" || $5 == "manual"' | wc -l)
assert_eq "re-attaching wrote no initial limits (LimitChanged initial: 4, from the first start)" 4 "$n"

say "== growth still works after the restart (${CGS[1]})"
alloc_start "${CGS[1]}" 160 2 30
HOG=$ALLOC_PID
wait_for "hog" 60 bash -c 'grep -q "^ready" "$0" || ! kill -0 "$1" 2>/dev/null' "$ALLOC_OUT" "$HOG"
if alloc_ready "$ALLOC_OUT"; then pass "the child touched 160 MiB in ${CGS[1]}"; else
        fail "the child touched 160 MiB in ${CGS[1]}" "last line: $(tail -n 1 "$ALLOC_OUT")" "limit $(memcg_limit "${CGS[1]}")"
fi
assert_eq "no OOM kill in ${CGS[1]}" 0 "$(memcg_oom_kills "${CGS[1]}")"
if wait_signal 5 LimitChanged "${CGS[1]}" $'\tgrow$'; then
        pass "LimitChanged(${CGS[1]}, ..., grow) after the restart"
else
        fail "LimitChanged(${CGS[1]}, ..., grow) after the restart" "recorded: $(signals LimitChanged "${CGS[1]}" | tail -n 3)"
fi
alloc_stop "$HOG"
assert_eq "the child exits 0" 0 "$ALLOC_RC"

say "== Unmonitor after the restart restores the limits from before the first Monitor"
mgr root Unmonitor s "${CGS[2]}" >/dev/null && pass "Unmonitor ${CGS[2]}" || fail "Unmonitor ${CGS[2]}" "$(cat "$BUS_TMP/last.err")"
assert_eq "${CGS[2]}: limit restored to its pre-Monitor value" "${ORIG[2]}" "$(memcg_limit "${CGS[2]}")"
assert_eq "${CGS[2]}: oom_kill_disable back to 0, as before Monitor" 0 "$(okd_of "${CGS[2]}")"
mgr root Unmonitor s "$OKD" >/dev/null && pass "Unmonitor $OKD" || fail "Unmonitor $OKD" "$(cat "$BUS_TMP/last.err")"
assert_eq "$OKD: oom_kill_disable back to 1, as its owner had set it before Monitor" 1 "$(okd_of "$OKD")"

say "== the remembered start limit survived"
mgr root Monitor st "$LATER" 0 >/dev/null && pass "Monitor($LATER, 0)" || fail "Monitor($LATER, 0)" "$(cat "$BUS_TMP/last.err")"
assert_eq "Monitor($LATER, 0) used the limit set by SetInitialLimit before the restart" $((40 * MIB)) "$(memcg_limit "$LATER")"

say "== an unmonitored cgroup stays unmonitored over another restart"
memcgd_kill9
memcgd_start
if is_listed "${CGS[2]}"; then fail "${CGS[2]} (unmonitored before the kill) is not monitored again"; else
        pass "${CGS[2]} (unmonitored before the kill) is not monitored again"; fi
check "${CGS[1]} is still monitored" is_listed "${CGS[1]}"
check "${CGS[3]} is still monitored" is_listed "${CGS[3]}"
check "$LATER is monitored" is_listed "$LATER"

check "the service is still up" memcgd_alive
bus_finish
