#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every memcgctl command against the real memcgd on a private system bus
# with polkitd: monitor, list, status (table, detail, JSON), set-limit,
# watch (text and JSON, across a restart of memcgd) and unmonitor. The
# text output is checked where people read it, the JSON with jq. Then
# watch is shown every signal of the contract by a stand-in for memcgd
# (fake_memcgd_emit), with a process name full of escape codes.

source "$(dirname "$0")/lib.sh"

bus_require
cli_require
# The shrink timer would move the limits compared below: its first firing
# 50 s away (memcgd refuses a base above its 60 s cap).
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
MEMCGD_ARGS=(--budget=1G)
bus_setup
trap cli_teardown EXIT

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
# The pressure level memcgd reports (GetStats pressure_level, a byte: none
# 0, low 50, medium 100, critical 255), by name. On v1 it comes from
# memory.pressure_level; these memcgs have no unified twin, so no PSI
# share follows it.
level_name() { case $1 in 0) echo none ;; 50) echo low ;; 100) echo medium ;; 255) echo critical ;; *) echo "level $1" ;; esac; }
LEVEL=$(stats root "$A" | jq -r '.data[0].pressure_level.data // empty')
if [ -e "$MEMCG_ROOT$A/memory.pressure_level" ]; then
        [ -n "$LEVEL" ] && pass "GetStats reports the pressure level of the monitored v1 cgroup ($LEVEL)" ||
                fail "GetStats reports the pressure level of the monitored v1 cgroup" "$(stats root "$A")"
        assert_eq "status row: PRESSURE is memcgd's level by name" "$(level_name "$LEVEL")" "$(awk '{print $9}' <<<"$row")"
else
        say "no memory.pressure_level here: the PRESSURE column check is left out"
fi
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
if [ -n "$LEVEL" ]; then
        assert_eq "status CGROUP: the pressure level by name" "Pressure: $(level_name "$LEVEL")" \
                "$(grep -E '^ *Pressure:' <<<"$OUT" | sed 's/^ *//')"
fi
if grep -qE '^ *(oom_policy|oom_waiting|emergency_grants|pressure_level):' <<<"$OUT"; then
        fail "status CGROUP prints the OOM and pressure keys readably, not raw" "$OUT"
else
        pass "status CGROUP prints the OOM and pressure keys readably, not raw"
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
assert_eq "... ending in the command to run" "memcgctl monitor $B" "${ERR##*: }"

# The commands in notes can be pasted into a shell: a path with a space
# is quoted.
cli_memcg_create "with space"
S=$MEMCG
expect_rc "set-limit of a cgroup named with a space" 0 set-limit "$S" 100M
hint=${ERR##*: memcgctl monitor }
eval "set -- $hint"
if [ $# = 1 ] && [ "$1" = "$S" ]; then
        pass "... the note's 'memcgctl monitor PATH' reads back as the path, one word ($hint)"
else
        fail "... the note's 'memcgctl monitor PATH' reads back as the path, one word" "$ERR"
fi
if eval "\"\$MEMCGCTL_BIN\" monitor $hint" </dev/null; then
        pass "... and, pasted, monitors the cgroup"
else
        fail "... and, pasted, monitors the cgroup" "$ERR"
fi
assert_eq "... at the remembered 100M" 104857600 "$(memcg_limit "$S")"
expect_rc "monitor --limit of it, monitored already" 0 monitor "$S" --limit 64M
hint=${ERR#*(change it with: memcgctl set-limit }
hint=${hint% SIZE)}
eval "set -- $hint SIZE"
[ $# = 2 ] && [ "$1" = "$S" ] && pass "... the note's 'memcgctl set-limit PATH SIZE' quotes the path ($hint)" ||
        fail "... the note's 'memcgctl set-limit PATH SIZE' quotes the path" "$ERR"
expect_rc "list shows the path with its space" 0 list --no-legend
assert_contains "... whole" "$OUT" "$S  $(object_path_of "$S")"
expect_rc "unmonitor it" 0 unmonitor "$S"
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

# --- watch: every signal of the contract ---------------------------------

# memcgd stops; a stand-in takes its name and sends each signal once,
# with what the real one would send only under load: pressure levels, a
# reclaim request, the host's low-memory warning, and process names and a
# path carrying terminal controls (ESC, CR, the C1 control U+009B).
memcgd_stop
start_watch watchall
start_watch watchallpretty --json=pretty
COMM=$'ok\e[31mRED\rX'
FAKE=$'/fake/\xc2\x9bcg'
jq -n --arg comm "$COMM" --arg fake "$FAKE" '[
  ["/org/memcgd1", "org.memcgd1.Manager", "Pressure", "sy", ["/fake/cg", 255]],
  ["/org/memcgd1", "org.memcgd1.Manager", "Pressure", "sy", ["/fake/cg", 42]],
  ["/org/memcgd1", "org.memcgd1.Manager", "ReclaimRequested", "sttus", ["/fake/cg", 12582912, 8388608, 2, "growth-denied"]],
  ["/org/freedesktop/LowMemoryMonitor", "org.freedesktop.LowMemoryMonitor", "LowMemoryWarning", "y", [100]],
  ["/org/memcgd1", "org.memcgd1.Manager", "Oom", "ssta(us)", [$fake, "oom_kill", 3, [[42, $comm], [43, "plain"]]]],
  ["/org/memcgd1", "org.memcgd1.Manager", "TasksKilled", "sa(us)s", ["/fake/cg", [[42, $comm]], "kernel"]],
  ["/org/memcgd1", "org.memcgd1.Manager", "MonitorStopped", "ss", [("/fake/cr\r" + "x"), "removed"]],
  ["/org/memcgd1", "org.memcgd1.Manager", "Frobnicated", "s", ["later"]]
]' >"$BUS_TMP/fake.json"
if fake_memcgd_emit <"$BUS_TMP/fake.json" 2>"$BUS_TMP/fake.err"; then
        pass "a stand-in for memcgd sent every signal"
else
        fail "a stand-in for memcgd sent every signal" "$(cat "$BUS_TMP/fake.err")"
fi
wait_for "last signal" "$BUS_WAIT" grep -q Frobnicated "$BUS_TMP/watchall.out"
wait_for "last signal" "$BUS_WAIT" grep -q Frobnicated "$BUS_TMP/watchallpretty.out"
say "watch printed:"
sed 's/^/    /' "$BUS_TMP/watchall.out" | cat -v
watch_line() { # DESC REGEX: a line of the text watch matches REGEX
        grep -qE -- "$2" "$BUS_TMP/watchall.out" && pass "$1" || fail "$1" "no line matches: $2" "$(cat -v "$BUS_TMP/watchall.out")"
}
watch_line "watch: Pressure by level name" "Pressure +/fake/cg critical$"
watch_line "watch: a Pressure level without a name by number" "Pressure +/fake/cg level 42$"
watch_line "watch: ReclaimRequested decoded" \
        "ReclaimRequested +/fake/cg growth-denied: wanted 12\.0M, asked 8\.0M of 2 reclaimers$"
watch_line "watch: LowMemoryWarning, the host's level" "LowMemoryWarning +host medium$"
watch_line "watch: Oom escapes the process name's ESC and CR, and the path's C1 control" \
        "Oom +/fake/\\\\xc2\\\\x9bcg oom_kill \\(count 3\\): .*, tasks: ok\\\\x1b\\[31mRED\\\\x0dX\\[42\\], plain\\[43\\]$"
watch_line "watch: TasksKilled escapes the process name" "TasksKilled +/fake/cg kernel: .*, killed: ok\\\\x1b\\[31mRED\\\\x0dX\\[42\\]$"
watch_line "watch: MonitorStopped escapes the path" "MonitorStopped +/fake/cr\\\\x0dx removed$"
watch_line "watch: a signal this version does not know, with its arguments" \
        "Frobnicated +/org/memcgd1 org\\.memcgd1\\.Manager\\.Frobnicated \\[\"later\"\\]$"
if LC_ALL=C grep -q $'[\x1b\r]\\|\xc2\x9b' "$BUS_TMP/watchall.out"; then
        fail "watch's text carries no ESC, CR or C1 byte" "$(cat -v "$BUS_TMP/watchall.out")"
else
        pass "watch's text carries no ESC, CR or C1 byte"
fi

W=$BUS_TMP/watchallpretty.out
if jq -e . "$W" >/dev/null 2>&1 && ! grep -qv '^{.*}$' "$W"; then
        pass "watch --json=pretty prints one compact object per line too ($(wc -l <"$W") lines)"
else
        fail "watch --json=pretty prints one compact object per line too" "$(head -n 5 "$W")"
fi
sig() { OUT=$(jq -c "select(.signal == \"$1\")${2:+ | select($2)}" "$W" | head -n 1); }
sig Pressure '.level == 255'
assert_eq "watch --json: Pressure by argument name, with the level's name" "/fake/cg 255 critical false" \
        "$(jqv '"\(.cgroup) \(.level) \(.level_name) \(has("args"))"')"
sig Pressure '.level == 42'
assert_eq "watch --json: a level without a name has level_name null" "42 null" "$(jqv '"\(.level) \(.level_name)"')"
sig ReclaimRequested
assert_eq "watch --json: ReclaimRequested by argument name" "/fake/cg 12582912 8388608 2 growth-denied" \
        "$(jqv '"\(.cgroup) \(.wanted_bytes) \(.asked_bytes) \(.reclaimers) \(.cause)"')"
sig LowMemoryWarning
assert_eq "watch --json: LowMemoryWarning by argument name (state)" "100 medium" "$(jqv '"\(.state) \(.state_name)"')"
sig Oom
assert_eq "watch --json: Oom carries the path and the process name exactly (JSON escapes)" "true true 2" \
        "$(jq -r --arg comm "$COMM" --arg fake "$FAKE" '"\(.cgroup == $fake) \(.tasks[0].comm == $comm) \(.tasks | length)"' <<<"$OUT")"
sig TasksKilled
assert_eq "watch --json: TasksKilled" "kernel 42" "$(jqv '"\(.cause) \(.tasks[0].pid)"')"
sig Frobnicated
assert_eq "watch --json: an unknown signal has interface, path and args" "org.memcgd1.Manager /org/memcgd1 later" \
        "$(jqv '"\(.interface) \(.path) \(.args[0])"')"
kill -INT "$watchall_PID" "$watchallpretty_PID"
wait "$watchall_PID" "$watchallpretty_PID"

# --- help ---------------------------------------------------------------

expect_rc "--help" 0 --help
undocumented=()
for verb in monitor unmonitor set-limit status list watch oom-policy resolve; do
        grep -qE "^  $verb" <<<"$OUT" || undocumented+=("$verb")
done
missing=()
for signal in LimitChanged Oom TasksKilled BudgetExhausted MonitorStopped Pressure ReclaimRequested LowMemoryWarning; do
        grep -q "$signal" <<<"$OUT" || missing+=("$signal")
done
assert_eq "--help names every signal watch decodes" "" "${missing[*]}"
grep -qi infinity <<<"$(sed -n '/^SIZE is/,/^$/p' <<<"$OUT" | head -n 2)" &&
        fail "--help no longer offers 'infinity' as a SIZE" "$OUT" || pass "--help no longer offers 'infinity' as a SIZE"
for code in 0 1 2 3 4 5 6; do
        grep -qE "^  $code  " <<<"$OUT" || undocumented+=("exit status $code")
done
assert_eq "--help documents every command and exit status 0-6" "" "${undocumented[*]}"
expect_rc "--version" 0 --version
assert_contains "--version names the program" "$OUT" "memcgctl "

bus_finish
