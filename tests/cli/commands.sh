#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every memcgctl command against the real memcgd on a private system bus
# with polkitd: monitor, list, status (table, detail, JSON), set-limit,
# watch (text and JSON, across a restart of memcgd) and unmonitor. The
# text output is checked where people read it, the JSON with jq.

source "$(dirname "$0")/lib.sh"

bus_require
cli_require
# The shrink timer would move the limits compared below: its first firing
# 50 s away (memcgd refuses a base above its 60 s cap).
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
MEMCGD_ARGS=(--budget=1G)
bus_setup

memcg_create one
A=$MEMCG
memcg_create two
B=$MEMCG
ORIG_LIMIT=$(memcg_limit "$A")

# --- monitor ------------------------------------------------------------

expect_rc "monitor CGROUP --limit 64M" 0 monitor "$A" --limit 64M
assert_eq "monitor wrote the 64M limit" 67108864 "$(memcg_limit "$A")"
assert_eq "monitor prints nothing on success" "" "$OUT"
expect_rc "monitor of a monitored cgroup succeeds (idempotent)" 0 monitor "$A" -l 32M
expect_err_contains "... and says that its limit stays" "already monitored: its limit stays at 64.0M"
assert_eq "... and leaves the limit alone" 67108864 "$(memcg_limit "$A")"

# --- list ---------------------------------------------------------------

OBJ=$(object_path_of "$A")
expect_rc "list" 0 list
assert_contains "list shows the cgroup and its object" "$OUT" "$A  $OBJ"
assert_eq "list has a header" "CGROUP" "$(head -n 1 <<<"$OUT" | awk '{print $1}')"
assert_eq "list has a footer" "1 cgroup monitored." "$(tail -n 1 <<<"$OUT")"
expect_rc "list --no-legend" 0 list --no-legend
assert_eq "list --no-legend is one line per cgroup, nothing else" "$A  $OBJ" "$OUT"
expect_rc "list --json" 0 list --json
assert_eq "list --json: the cgroup's object" "$OBJ" "$(jqv ".[] | select(.cgroup == \"$A\") | .object")"
assert_eq "list --json: one entry" 1 "$(jqv 'length')"
expect_rc "list --json=pretty" 0 list --json=pretty
assert_eq "list --json=pretty is the same JSON, indented" "$A" "$(jqv '.[0].cgroup')"
[ "$(wc -l <<<"$OUT")" -gt 1 ] && pass "list --json=pretty spans several lines" || fail "list --json=pretty spans several lines" "$OUT"

# --- status -------------------------------------------------------------

expect_rc "status (table of the monitored)" 0 status
say "$OUT"
header=$(head -n 1 <<<"$OUT" | tr -s ' ')
assert_eq "status table columns" "CGROUP USAGE HIGH MAX PEAK GROWS SHRINKS OOMS PRESSURE OOM POLICY" "$header"
row=$(grep -- "^$A " <<<"$OUT" | tr -s ' ')
assert_eq "status row: high 56.0M and max 64.0M, no grows or shrinks, no OOM kill" \
        "56.0M 64.0M 0 0 0" "$(awk '{print $3, $4, $6, $7, $8}' <<<"$row")"
assert_eq "status row: OOM policy kill (the default)" kill "$(awk '{print $NF}' <<<"$row")"
assert_eq "status footer: count, granted and budget" "1 cgroup monitored; 64.0M of the 1.0G budget granted." \
        "$(tail -n 1 <<<"$OUT")"
expect_rc "status --no-legend" 0 status --no-legend
assert_eq "status --no-legend is only the rows" "$A" "$(awk '{print $1}' <<<"$OUT")"

expect_rc "status --json" 0 status --json
assert_eq "status --json: budget_bytes" 1073741824 "$(jqv .budget_bytes)"
assert_eq "status --json: granted_bytes" 67108864 "$(jqv .granted_bytes)"
assert_eq "status --json: one cgroup" 1 "$(jqv '.cgroups | length')"
assert_eq "status --json: its max_limit_bytes" 67108864 "$(jqv ".cgroups[] | select(.cgroup == \"$A\") | .max_limit_bytes")"
assert_eq "status --json: its high_limit_bytes" 58720256 "$(jqv ".cgroups[] | select(.cgroup == \"$A\") | .high_limit_bytes")"
assert_eq "status --json: monitored is a JSON boolean" true "$(jqv ".cgroups[0].monitored")"

expect_rc "status CGROUP" 0 status "$A"
say "$OUT"
assert_eq "status CGROUP: title" "$A (monitored, cgroup v1)" "$(head -n 1 <<<"$OUT")"
assert_contains "status CGROUP: limits" "$OUT" "Limit: 64.0M max, 56.0M high"
assert_contains "status CGROUP: grant" "$OUT" "Granted: 64.0M of the budget"
assert_contains "status CGROUP: changes" "$OUT" "Changes: 0 grows, 0 shrinks"
assert_contains "status CGROUP: usage" "$OUT" "Usage: "
assert_contains "status CGROUP: OOM policy" "$OUT" "OOM policy: kill"
if grep -qE '^ *(oom_policy|oom_waiting|emergency_grants):' <<<"$OUT"; then
        fail "status CGROUP prints the OOM keys readably, not raw" "$OUT"
else
        pass "status CGROUP prints the OOM keys readably, not raw"
fi
expect_rc "status CGROUP --json" 0 status "$A" --json
assert_eq "status CGROUP --json: cgroup" "$A" "$(jqv .cgroup)"
assert_eq "status CGROUP --json: backend" v1 "$(jqv .backend)"
assert_eq "status CGROUP --json: monitored" true "$(jqv .monitored)"
assert_eq "status CGROUP --json: max_limit_bytes" 67108864 "$(jqv .max_limit_bytes)"
assert_eq "status CGROUP --json: every figure GetStats gave (same keys as busctl)" \
        "$(stats root "$A" | jq -r '.data[0] | keys | sort | join(" ")')" "$(jqv 'keys | sort | join(" ")')"
assert_eq "status CGROUP --json: current_bytes equals the kernel's usage_in_bytes (no task: no change)" \
        "$(memcg_file "$A" memory.usage_in_bytes)" "$(jqv .current_bytes)"

expect_rc "status of a memcg that is not monitored" 0 status "$B" --json
assert_eq "... says monitored false" false "$(jqv .monitored)"
expect_rc "status of a memcg that is not monitored (text)" 0 status "$B"
assert_eq "... title says so" "$B (not monitored, cgroup v1)" "$(head -n 1 <<<"$OUT")"

# --- oom-policy ---------------------------------------------------------

expect_rc "oom-policy CGROUP (read)" 0 oom-policy "$A"
assert_eq "oom-policy prints the policy alone" kill "$OUT"
for p in grow freeze kill freeze; do
        expect_rc "oom-policy CGROUP $p" 0 oom-policy "$A" "$p"
        assert_eq "... prints nothing" "" "$OUT"
        assert_eq "... the OomPolicy property is $p" "$p" \
                "$(busctl --json=short get-property "$BUS_NAME" "$(object_path_of "$A")" "$BUS_CGROUP_IFACE" OomPolicy | jget data)"
done
expect_rc "oom-policy CGROUP --json" 0 oom-policy "$A" --json
assert_eq "oom-policy --json: cgroup, policy, waiting" "$A freeze false" "$(jqv '"\(.cgroup) \(.oom_policy) \(.oom_waiting)"')"
expect_rc "status CGROUP shows the new policy" 0 status "$A"
assert_contains "... OOM policy: freeze" "$OUT" "OOM policy: freeze"
expect_rc "status --json has oom_policy" 0 status --json
assert_eq "... freeze" freeze "$(jqv ".cgroups[] | select(.cgroup == \"$A\") | .oom_policy")"
expect_rc "oom-policy CGROUP kill (back to the default)" 0 oom-policy "$A" kill

# --- set-limit ----------------------------------------------------------

expect_rc "set-limit CGROUP 96M (monitored: re-base now)" 0 set-limit "$A" 96M
assert_eq "set-limit wrote 96M" 100663296 "$(memcg_limit "$A")"
wait_signal 10 LimitChanged "$A" $'\t100663296\t.*\tmanual$' &&
        pass "set-limit announced LimitChanged manual" || fail "set-limit announced LimitChanged manual" "$(signals LimitChanged "$A")"
expect_rc "set-limit accepts 1.5G-style fractions" 0 set-limit "$A" 0.125G
assert_eq "0.125G is 128M" 134217728 "$(memcg_limit "$A")"
expect_rc "set-limit accepts MiB suffixes" 0 set-limit "$A" 96MiB
assert_eq "96MiB is 96M" 100663296 "$(memcg_limit "$A")"

expect_rc "set-limit of a cgroup not monitored remembers the start limit" 0 set-limit "$B" 128M
expect_err_contains "... and says so" "is not monitored: 128.0M will be its start limit"
expect_rc "monitor without --limit takes the remembered start limit" 0 monitor "$B"
assert_eq "... 128M" 134217728 "$(memcg_limit "$B")"
expect_rc "status shows both" 0 status --no-legend
assert_eq "status rows are sorted by path" "$(printf '%s\n%s' "$A" "$B" | sort)" "$(awk '{print $1}' <<<"$OUT")"

# --- watch --------------------------------------------------------------

start_watch() { # NAME ARGS...
        local name=$1; shift
        "$MEMCGCTL_BIN" watch "$@" >"$BUS_TMP/$name.out" 2>"$BUS_TMP/$name.err" </dev/null &
        eval "${name}_PID=$!"
        BUS_PIDS+=($!)
        wait_for "$name" "$BUS_WAIT" grep -qs 'Watching memcgd signals' "$BUS_TMP/$name.err" ||
                fail "memcgctl watch $* starts" "$(cat "$BUS_TMP/$name.err")"
}
start_watch watch
start_watch watchjson --json

expect_rc "set-limit while watching" 0 set-limit "$A" 80M
expect_rc "unmonitor while watching" 0 unmonitor "$B"
line_re="^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} LimitChanged +$A manual: max 96\.0M -> 80\.0M, high 72\.0M$"
wait_for "watch line" "$BUS_WAIT" grep -qE "$line_re" "$BUS_TMP/watch.out" &&
        pass "watch prints LimitChanged as one timestamped line" ||
        fail "watch prints LimitChanged as one timestamped line" "$(cat "$BUS_TMP/watch.out")"
wait_for "watch line" "$BUS_WAIT" grep -qE "MonitorStopped +$B unmonitored$" "$BUS_TMP/watch.out" &&
        pass "watch prints MonitorStopped" || fail "watch prints MonitorStopped" "$(cat "$BUS_TMP/watch.out")"
grep -qE "LimitChanged +$B restore: max 128\.0M -> infinity" "$BUS_TMP/watch.out" &&
        pass "watch prints the restore of the unmonitored cgroup's limit" ||
        fail "watch prints the restore of the unmonitored cgroup's limit" "$(cat "$BUS_TMP/watch.out")"
grep -qE "PropertiesChanged +/org/memcgd1 .*MonitoredCount=1" "$BUS_TMP/watch.out" &&
        pass "watch prints the manager's PropertiesChanged" ||
        fail "watch prints the manager's PropertiesChanged" "$(cat "$BUS_TMP/watch.out")"

wait_for "json line" "$BUS_WAIT" grep -q '"MonitorStopped"' "$BUS_TMP/watchjson.out"
if jq -e . "$BUS_TMP/watchjson.out" >/dev/null 2>&1 && ! grep -qv '^{.*}$' "$BUS_TMP/watchjson.out"; then
        pass "watch --json prints one JSON object per line ($(wc -l <"$BUS_TMP/watchjson.out") lines)"
else
        fail "watch --json prints one JSON object per line" "$(head -n 5 "$BUS_TMP/watchjson.out")"
fi
OUT=$(jq -c "select(.signal == \"LimitChanged\" and .cgroup == \"$A\")" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: LimitChanged arguments by name" "manual 100663296 83886080 75497472" \
        "$(jqv '"\(.reason) \(.old_max) \(.new_max) \(.new_high)"')"
[[ "$(jqv .timestamp)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:[0-9]{2}$ ]] &&
        pass "watch --json: ISO 8601 timestamp ($(jqv .timestamp))" || fail "watch --json: ISO 8601 timestamp" "$OUT"
OUT=$(jq -c "select(.signal == \"MonitorStopped\")" "$BUS_TMP/watchjson.out" | head -n 1)
assert_eq "watch --json: MonitorStopped" "$B unmonitored" "$(jqv '"\(.cgroup) \(.reason)"')"

# memcgd restarts: watch says so and goes on with the new instance.
memcgd_stop
memcgd_start
wait_for "stop line" "$BUS_WAIT" grep -qE "NameOwnerChanged +memcgd stopped" "$BUS_TMP/watch.out" &&
        pass "watch notices memcgd stopping" || fail "watch notices memcgd stopping" "$(tail -n 5 "$BUS_TMP/watch.out")"
wait_for "start line" "$BUS_WAIT" grep -qE "NameOwnerChanged +memcgd started as :" "$BUS_TMP/watch.out" &&
        pass "watch notices memcgd starting" || fail "watch notices memcgd starting" "$(tail -n 5 "$BUS_TMP/watch.out")"
expect_rc "set-limit after the restart (memcgd re-attached the cgroup)" 0 set-limit "$A" 72M
wait_for "after restart" "$BUS_WAIT" grep -qE "LimitChanged +$A manual: max [0-9.]+M -> 72\.0M" "$BUS_TMP/watch.out" &&
        pass "watch follows the restarted memcgd without re-subscribing" ||
        fail "watch follows the restarted memcgd" "$(tail -n 5 "$BUS_TMP/watch.out")"
jq -c 'select(.signal == "NameOwnerChanged" and .new_owner != "")' "$BUS_TMP/watchjson.out" | grep -q . &&
        pass "watch --json reports the restart as NameOwnerChanged" ||
        fail "watch --json reports the restart as NameOwnerChanged" "$(tail -n 3 "$BUS_TMP/watchjson.out")"

kill -INT "$watch_PID"
wait "$watch_PID"; rc=$?
assert_eq "watch ends with status 0 on Ctrl-C (SIGINT)" 0 "$rc"
kill -TERM "$watchjson_PID"
wait "$watchjson_PID"; rc=$?
assert_eq "watch ends with status 0 on SIGTERM" 0 "$rc"
say "watch printed:"
sed 's/^/    /' "$BUS_TMP/watch.out"

# --- unmonitor ----------------------------------------------------------

expect_rc "unmonitor" 0 unmonitor "$A"
assert_eq "unmonitor restored the limit from before monitor" "$ORIG_LIMIT" "$(memcg_limit "$A")"
expect_rc "list after unmonitor" 0 list --json
assert_eq "list after unmonitor is empty" 0 "$(jqv length)"
expect_rc "status after unmonitor" 0 status
assert_eq "status footer after unmonitor" "0 cgroups monitored; 0B of the 1.0G budget granted." "$(tail -n 1 <<<"$OUT")"

# --- help ---------------------------------------------------------------

expect_rc "--help" 0 --help
for verb in monitor unmonitor set-limit status list watch oom-policy resolve; do
        grep -qE "^  $verb" <<<"$OUT" || fail "--help documents $verb" "$OUT"
done
for code in 0 1 2 3 4 5 6; do
        grep -qE "^  $code  " <<<"$OUT" || fail "--help documents exit status $code" "$OUT"
done
pass "--help documents every command and exit status 0-6"
expect_rc "--version" 0 --version
assert_contains "--version names the program" "$OUT" "memcgctl "

bus_finish
