#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcgctl and the freeze policy on a real v1 memcg: oom-policy, status
# while a cgroup waits ("waiting for a decision (Ns left)"), resolve (a
# raise the budget refuses, a raise it grants, kill-largest), watch's
# lines for Oom frozen/resolved, TasksKilled and LimitChanged "decision",
# and the completion of resolve.
#
# The budget denies growth: 160M shared by A (freeze, 64M) and H (96M, a
# child really using 70M of it). A's child sleeps at the limit once H gave
# back its slack; a raise of 1G does not fit; unmonitoring H frees its
# grant, a raise of 64M then wakes the child, which runs into the budget's
# end again and is killed by "resolve kill-largest".

source "$(dirname "$0")/lib.sh"

bus_require
cli_require
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
MEMCGD_ARGS=(--budget=160M)
bus_setup

MIB=1048576
memcg_create a; A=$MEMCG
memcg_create h; H=$MEMCG

expect_rc "monitor A --limit 64M" 0 monitor "$A" --limit 64M
expect_rc "monitor H --limit 96M" 0 monitor "$H" --limit 96M
expect_rc "oom-policy A freeze" 0 oom-policy "$A" freeze
expect_rc "oom-policy A" 0 oom-policy "$A"
assert_eq "... is freeze" freeze "$OUT"
assert_eq "... and says nothing more while nothing waits" "" "$ERR"

"$MEMCGCTL_BIN" watch >"$BUS_TMP/watch.out" 2>"$BUS_TMP/watch.err" </dev/null &
WATCH_PID=$!
BUS_PIDS+=($!)
"$MEMCGCTL_BIN" watch --json >"$BUS_TMP/watchjson.out" 2>"$BUS_TMP/watchjson.err" </dev/null &
WATCHJSON_PID=$!
BUS_PIDS+=($!)
wait_for "watch" "$BUS_WAIT" grep -qs 'Watching memcgd signals' "$BUS_TMP/watch.err" || fail "watch starts" "$(cat "$BUS_TMP/watch.err")"
wait_for "watch --json" "$BUS_WAIT" grep -qs 'Watching memcgd signals' "$BUS_TMP/watchjson.err" || fail "watch --json starts"

alloc_start "$H" 70 10 0
HOLDER=$ALLOC_PID
wait_for "holder" 30 alloc_ready "$ALLOC_OUT" || die "the holder allocated 70M in $H" "$(cat "$ALLOC_OUT")"
alloc_start "$A" 400 4 20
CHILD=$ALLOC_PID
CHILD_OUT=$ALLOC_OUT

say "== A's child sleeps at the limit"
frozen_re="^[0-9-]+ [0-9:.]+ Oom +$A frozen \\(count 1\\): tasks stopped at the limit, waiting for a decision \\(memcgctl resolve\\), stopped: memcgd-test-all\\[$CHILD\\]$"
if wait_for "frozen" 60 grep -qE "$frozen_re" "$BUS_TMP/watch.out"; then
        pass "watch: Oom frozen, naming the stopped child ($(grep -E "$frozen_re" "$BUS_TMP/watch.out"))"
else
        fail "watch: Oom frozen, naming the stopped child" "$(cat "$BUS_TMP/watch.out")"
fi

expect_rc "oom-policy A while it waits" 0 oom-policy "$A"
assert_eq "... still prints the policy alone on stdout" freeze "$OUT"
[[ "$ERR" =~ ^$A:\ freeze,\ waiting\ for\ a\ decision\ \(([0-9]+s|[0-9]+min( [0-9]+s)?)\ left\)\.\ Decide\ with:\ memcgctl\ resolve\ $A\ raise\ SIZE\ \(or\ kill-largest,\ or\ kill-all\)$ ]] &&
        pass "... and says on stderr that it waits ($ERR)" || fail "... and says on stderr that it waits" "$ERR"
expect_rc "oom-policy A --json while it waits" 0 oom-policy "$A" --json
assert_eq "... oom_waiting true" true "$(jqv .oom_waiting)"
assert_u64 "... with the deadline" "$(jqv .oom_decision_deadline_usec)" -gt 0

expect_rc "status A while it waits" 0 status "$A"
say "$OUT"
line=$(grep 'OOM policy:' <<<"$OUT")
[[ "$line" =~ OOM\ policy:\ freeze,\ waiting\ for\ a\ decision\ \(([0-9]+)s\ left\)$ ]] &&
        pass "status CGROUP: 'OOM policy: freeze, waiting for a decision (${BASH_REMATCH[1]}s left)'" ||
        fail "status CGROUP: 'OOM policy: freeze, waiting for a decision (Ns left)'" "$OUT"
left=${BASH_REMATCH[1]:-0}
if [ "$left" -ge 1 ] && [ "$left" -le 120 ]; then pass "... N is the seconds to the deadline ($left)"; else fail "... N is the seconds to the deadline" "$left"; fi
assert_contains "status CGROUP: the last OOM's time" "$OUT" "Last OOM: $(date +%Y-%m-%d)"
expect_rc "status (table) while A waits" 0 status
say "$OUT"
row=$(grep -- "^$A " <<<"$OUT")
[[ "$row" =~ \ freeze,\ waiting\ for\ a\ decision\ \([0-9]+s\ left\)$ ]] &&
        pass "status table: A's OOM POLICY column says it waits" || fail "status table: A's OOM POLICY column says it waits" "$OUT"
assert_eq "status table: H's OOM POLICY column" kill "$(grep -- "^$H " <<<"$OUT" | awk '{print $NF}')"

# The completion offers the waiting cgroup for resolve.
mkdir -p "$BUS_TMP/bin"
ln -sf "$MEMCGCTL_BIN" "$BUS_TMP/bin/memcgctl"
COMPLETION=${MEMCGCTL_COMPLETION:-$MEMCGD_SOURCE_ROOT/client/memcgctl.bash-completion}
if [ -f "$COMPLETION" ]; then
        got=$(PATH="$BUS_TMP/bin:$PATH" bash -c 'source "$1"; COMP_WORDS=(memcgctl resolve ""); COMP_CWORD=2
                _memcgctl memcgctl "" resolve; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION")
        assert_eq "completion: resolve offers the cgroup that waits, only it" "$A" "$got"
fi

say "== decisions"
expect_rc "resolve A raise 1G: more than the budget has free" 6 resolve "$A" raise 1G
expect_err_contains "... memcgd's message names the budget" "Failed to resolve the OOM of $A: Cannot raise cgroup '$A' by 1073741824 bytes: the budget has only"
expect_rc "--user resolve is denied" 3 --user resolve "$A" raise 64M
expect_rc "A still waits" 0 oom-policy "$A" --json
assert_eq "... oom_waiting true" true "$(jqv .oom_waiting)"
expect_rc "unmonitor H (its grant returns to the budget)" 0 unmonitor "$H"
max_before=$(memcg_limit "$A")
expect_rc "resolve A raise 64M" 0 resolve "$A" raise 64M
assert_eq "... prints nothing" "" "$OUT"
assert_eq "... raised the limit by 64M" $((max_before + 64 * MIB)) "$(memcg_limit "$A")"
raise_re="LimitChanged +$A decision: max [0-9.]+M -> [0-9.]+M, high [0-9.]+M$"
wait_for "decision line" "$BUS_WAIT" grep -qE "$raise_re" "$BUS_TMP/watch.out" &&
        pass "watch: LimitChanged ... decision ($(grep -E "$raise_re" "$BUS_TMP/watch.out"))" ||
        fail "watch: LimitChanged ... decision" "$(tail -n 5 "$BUS_TMP/watch.out")"
resolved_re="Oom +$A resolved \\(count 1\\): the wait for a decision ended, tasks: memcgd-test-all\\[$CHILD\\]$"
wait_for "resolved line" "$BUS_WAIT" grep -qE "$resolved_re" "$BUS_TMP/watch.out" &&
        pass "watch: Oom resolved" || fail "watch: Oom resolved" "$(tail -n 5 "$BUS_TMP/watch.out")"

# The child goes on to 400M: past the 160M budget, it sleeps at the limit
# again.
if wait_for "frozen again" 60 bash -c '[ "$(grep -cE "Oom +$1 frozen" "$0")" -ge 2 ]' "$BUS_TMP/watch.out" "$A"; then
        pass "watch: A's child stopped again at the end of the budget"
else
        fail "watch: A's child stopped again at the end of the budget" "$(tail -n 8 "$BUS_TMP/watch.out")"
fi
check "the child is alive" kill -0 "$CHILD"
expect_rc "resolve A kill-largest" 0 resolve "$A" kill-largest
wait_for "killed" 10 bash -c '! kill -0 "$0" 2>/dev/null' "$CHILD"
wait "$CHILD" 2>/dev/null; rc=$?
assert_eq "kill-largest killed the child (SIGKILL)" 137 "$rc"
killed_re="TasksKilled +$A decision: killed as decided \\(ResolveOom\\), killed: memcgd-test-all\\[$CHILD\\]$"
wait_for "killed line" "$BUS_WAIT" grep -qE "$killed_re" "$BUS_TMP/watch.out" &&
        pass "watch: TasksKilled ... decision, naming the child" || fail "watch: TasksKilled ... decision, naming the child" "$(tail -n 5 "$BUS_TMP/watch.out")"
expect_rc "resolve A again: not waiting" 1 resolve "$A" kill-all
expect_err_contains "... says so" "is not waiting for an OOM decision"
expect_rc "status A after the decisions" 0 status "$A"
assert_contains "... OOM policy: freeze, not waiting" "$OUT" "OOM policy: freeze"$'\n'
wait_for "json" "$BUS_WAIT" grep -q '"TasksKilled"' "$BUS_TMP/watchjson.out"

say "== watch --json"
OUT=$(jq -c "select(.signal == \"TasksKilled\" and .cgroup == \"$A\")" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: TasksKilled cause and tasks" "decision $CHILD memcgd-test-all" "$(jqv '"\(.cause) \(.tasks[0].pid) \(.tasks[0].comm)"')"
OUT=$(jq -c "select(.signal == \"Oom\" and .kind == \"frozen\" and .cgroup == \"$A\")" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: Oom frozen with count and tasks" "1 $CHILD" "$(jqv '"\(.count) \(.tasks[0].pid)"')"
OUT=$(jq -c "select(.signal == \"LimitChanged\" and .reason == \"decision\")" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: LimitChanged decision raised by 64M" $((64 * MIB)) "$(jqv '.new_max - .old_max')"
OUT=$(jq -c "select(.signal == \"PropertiesChanged\" and .cgroup == \"$A\" and .changed.OomWaiting != null)" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: PropertiesChanged OomWaiting" true "$(jqv .changed.OomWaiting)"

kill -INT "$WATCH_PID"; wait "$WATCH_PID"
kill -INT "$WATCHJSON_PID"; wait "$WATCHJSON_PID"
say "watch printed:"
sed 's/^/    /' "$BUS_TMP/watch.out"
alloc_stop "$HOLDER"

bus_finish
