#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Root passes without polkit; an unprivileged user reads but may change
# nothing unless polkit says yes, for exactly the action it said yes to;
# without polkitd every such call is denied and root is still served.
. "$(dirname "$0")/lib.sh"

MIB=1048576
DENIED=org.freedesktop.DBus.Error.AccessDenied
RULE="50-memcgd-test-$$.rules"
# A user of this run alone: the rule below must not reach other runs.
BUS_USER="memcgd-t$$"
BUS_USER_TEMPORARY=1
# Limits must not drift while this test compares them.
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}

bus_setup

memcg_create root; CG_ROOT=$MEMCG
memcg_create user; CG_USER=$MEMCG
memcg_create other; CG_OTHER=$MEMCG
USER_LIMIT_BEFORE=$(memcg_limit "$CG_USER")

say "== root is allowed without asking polkit"
out=$(mgr root Monitor st "$CG_ROOT" $((64 * MIB))) && pass "root: Monitor" ||
        fail "root: Monitor" "$(cat "$BUS_TMP/last.err")"
mgr root SetInitialLimit st "$CG_ROOT" $((80 * MIB)) >/dev/null && pass "root: SetInitialLimit" ||
        fail "root: SetInitialLimit" "$(cat "$BUS_TMP/last.err")"
assert_eq "root: SetInitialLimit re-based the monitored cgroup" $((80 * MIB)) "$(memcg_limit "$CG_ROOT")"
if wait_signal 5 LimitChanged "$CG_ROOT" $'\t'$((80 * MIB))$'\t[0-9]+\tmanual$'; then
        pass "LimitChanged($CG_ROOT, ..., 80 MiB, ..., manual)"
else
        fail "LimitChanged($CG_ROOT, ..., 80 MiB, ..., manual)" "recorded: $(signals LimitChanged "$CG_ROOT")"
fi
ROOT_LIMIT=$(memcg_limit "$CG_ROOT")

say "== user $BUS_USER (uid $BUS_USER_UID) may read"
stats user "$CG_ROOT" >/dev/null && pass "user: GetStats" || fail "user: GetStats" "$(cat "$BUS_TMP/last.err")"
check "user: ListMonitored" is_listed "$CG_ROOT" user
as_user busctl --json=short get-property "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" Version >/dev/null 2>&1 &&
        pass "user: Get Version" || fail "user: Get Version"
as_user busctl --json=short get-property "$BUS_NAME" "$(object_path_of "$CG_ROOT")" "$BUS_CGROUP_IFACE" MaxLimitBytes \
        >/dev/null 2>&1 && pass "user: Get Cgroup.MaxLimitBytes" || fail "user: Get Cgroup.MaxLimitBytes"
as_user busctl introspect "$BUS_NAME" "$BUS_MANAGER" >/dev/null 2>&1 && pass "user: introspect" || fail "user: introspect"

say "== user $BUS_USER may change nothing (no rule; without logind polkit gives only allow_any = no)"
expect_error "user: Monitor is denied" "$DENIED" "cgroup '$CG_USER'" user Monitor "string:$CG_USER" uint64:$((64 * MIB))
expect_error "user: Unmonitor is denied" "$DENIED" "cgroup '$CG_ROOT'" user Unmonitor "string:$CG_ROOT"
expect_error "user: SetInitialLimit on a monitored cgroup is denied" "$DENIED" "cgroup '$CG_ROOT'" user SetInitialLimit "string:$CG_ROOT" uint64:$((96 * MIB))
expect_error "user: SetInitialLimit on an unmonitored cgroup is denied" "$DENIED" "cgroup '$CG_USER'" user SetInitialLimit "string:$CG_USER" uint64:$((96 * MIB))
# busctl sets ALLOW_INTERACTIVE_AUTHORIZATION: still no (no agent, no session).
if as_user busctl call "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" Monitor st "$CG_USER" $((64 * MIB)) >/dev/null 2>&1; then
        fail "user: Monitor with interactive authorization allowed is still denied"
else
        pass "user: Monitor with interactive authorization allowed is still denied"
fi
assert_eq "denied calls changed nothing: $CG_USER's limit" "$USER_LIMIT_BEFORE" "$(memcg_limit "$CG_USER")"
assert_limit_kept "denied calls changed nothing: $CG_ROOT's limit" "$CG_ROOT" "$ROOT_LIMIT"
if is_listed "$CG_USER"; then fail "denied Monitor did not monitor $CG_USER"; else pass "denied Monitor did not monitor $CG_USER"; fi
check "denied Unmonitor left $CG_ROOT monitored" is_listed "$CG_ROOT"

say "== a polkit rule grants org.memcgd1.monitor to $BUS_USER"
if polkit_add_rule "$RULE" 'polkit.addRule(function(action, subject) {
        if (action.id == "org.memcgd1.monitor" && subject.user == "'"$BUS_USER"'")
                return polkit.Result.YES;
});'; then
        pass "polkitd reloaded with /etc/polkit-1/rules.d/$RULE"
else
        fail "polkitd reloaded with /etc/polkit-1/rules.d/$RULE" "$(tail -n 5 "$BUS_TMP/polkitd.log")"
fi
out=$(mgr user Monitor st "$CG_USER" $((64 * MIB))) && pass "user with the rule: Monitor" ||
        fail "user with the rule: Monitor" "$(cat "$BUS_TMP/last.err")"
assert_eq "user with the rule: Monitor returned the object" "$(object_path_of "$CG_USER")" "$(jget data.0 <<<"$out" 2>/dev/null)"
assert_eq "user with the rule: the limit was written" $((64 * MIB)) "$(memcg_limit "$CG_USER")"
expect_error "user with the rule: SetInitialLimit (org.memcgd1.set-limit) is still denied" "$DENIED" "org.memcgd1.set-limit on cgroup '$CG_USER'" \
        user SetInitialLimit "string:$CG_USER" uint64:$((96 * MIB))
assert_limit_kept "the denied SetInitialLimit changed nothing" "$CG_USER" $((64 * MIB))
mgr user Unmonitor s "$CG_USER" >/dev/null && pass "user with the rule: Unmonitor" ||
        fail "user with the rule: Unmonitor" "$(cat "$BUS_TMP/last.err")"
assert_eq "user's Unmonitor restored the limit" "$USER_LIMIT_BEFORE" "$(memcg_limit "$CG_USER")"
mgr user Monitor st "$CG_USER" $((64 * MIB)) >/dev/null && pass "user with the rule: Monitor again" ||
        fail "user with the rule: Monitor again" "$(cat "$BUS_TMP/last.err")"

say "== the rule removed: a verdict is not kept"
if polkit_remove_rule "$RULE"; then pass "polkitd reloaded without the rule"; else fail "polkitd reloaded without the rule"; fi
expect_error "user after the rule went: Monitor is denied" "$DENIED" "cgroup '$CG_OTHER'" user Monitor "string:$CG_OTHER" uint64:$((64 * MIB))
expect_error "user after the rule went: Unmonitor is denied" "$DENIED" "cgroup '$CG_USER'" user Unmonitor "string:$CG_USER"
check "$CG_USER is still monitored" is_listed "$CG_USER"

say "== polkitd stopped: denied, and root is still served"
polkit_stop
check "org.freedesktop.PolicyKit1 is gone from the bus" bash -c '! busctl --quiet status org.freedesktop.PolicyKit1 >/dev/null 2>&1'
t0=$(date +%s%N)
expect_error "user without polkitd: Monitor is denied" "$DENIED" "cgroup '$CG_OTHER'" user Monitor "string:$CG_OTHER" uint64:$((64 * MIB))
t1=$(date +%s%N)
say "   (answered in $(( (t1 - t0) / 1000000 )) ms)"
expect_error "user without polkitd: Unmonitor is denied" "$DENIED" "cgroup '$CG_USER'" user Unmonitor "string:$CG_USER"
expect_error "user without polkitd: SetInitialLimit is denied" "$DENIED" "cgroup '$CG_USER'" user SetInitialLimit "string:$CG_USER" uint64:$((96 * MIB))
if is_listed "$CG_OTHER"; then fail "denied Monitor did not monitor $CG_OTHER"; else pass "denied Monitor did not monitor $CG_OTHER"; fi
stats user "$CG_ROOT" >/dev/null && pass "user without polkitd: GetStats still works" ||
        fail "user without polkitd: GetStats still works" "$(cat "$BUS_TMP/last.err")"
mgr root Monitor st "$CG_OTHER" $((64 * MIB)) >/dev/null && pass "root without polkitd: Monitor" ||
        fail "root without polkitd: Monitor" "$(cat "$BUS_TMP/last.err")"
mgr root SetInitialLimit st "$CG_OTHER" $((72 * MIB)) >/dev/null && pass "root without polkitd: SetInitialLimit" ||
        fail "root without polkitd: SetInitialLimit" "$(cat "$BUS_TMP/last.err")"
mgr root Unmonitor s "$CG_USER" >/dev/null && pass "root without polkitd: Unmonitor" ||
        fail "root without polkitd: Unmonitor" "$(cat "$BUS_TMP/last.err")"
stats root "$CG_OTHER" >/dev/null && pass "root without polkitd: GetStats" || fail "root without polkitd: GetStats"

check "the service is still up" memcgd_alive
bus_finish
