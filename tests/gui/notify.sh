#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcg-notify on a real desktop stack: Xvfb, a private session bus and
# dunst as the notification server; the real memcgd on a private system
# bus (tests/bus/lib.sh). A v1 memcg monitored at 64M grows under a memory
# hog until the 128M budget runs out and the kernel OOM-kills the hog. The
# test reads every Notify call on the session bus and checks summary,
# body, urgency, actions and replaces_id; it saves a screenshot of the
# popups and prints its path.
#
# Along the way: memcg-notify starts before any notification server (its
# first notification waits in the queue), and memcgd restarts under it
# (it must follow the new owner of org.memcgd1).

source "$(dirname "$0")/../bus/lib.sh"

GUI_SHOT=${MEMCGD_GUI_SCREENSHOT:-${MEMCGD_BUILD_ROOT:-/tmp}/tests/gui/notify.png}

gui_require() {
        local t
        for t in Xvfb dunst dunstctl import jq busctl; do
                command -v "$t" >/dev/null ||
                        skip "$t not installed (.ci/deps.sh installs xvfb, dunst, imagemagick, jq)"
        done
        [ -x "${MEMCG_NOTIFY_BIN:-}" ] || skip "memcg-notify not built (MEMCG_NOTIFY_BIN=${MEMCG_NOTIFY_BIN:-})"
        [ -x "${MEMCGCTL_BIN:-}" ] || skip "memcgctl not built (MEMCGCTL_BIN=${MEMCGCTL_BIN:-})"
}

GUI_PIDS=()
gui_teardown() {
        local pid
        for pid in "${GUI_PIDS[@]}"; do
                kill "$pid" 2>/dev/null
                wait "$pid" 2>/dev/null
        done
}

bus_require
gui_require
# The budget: the hog's cgroup starts at 64M and may grow to 128M, then
# growth is denied and the kernel kills it at its limit.
MEMCGD_ARGS=(--budget=128M)
bus_setup
# lib.sh's EXIT trap tears the system side down; the desktop goes first.
# bus_teardown takes the exit status from $?: keep it across gui_teardown.
trap 'gui_rc=$?; gui_teardown; (exit $gui_rc); bus_teardown' EXIT

# --- the desktop: Xvfb, a session bus without activation -----------------

Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$BUS_TMP/display" 2>"$BUS_TMP/xvfb.log" &
GUI_PIDS+=($!)
wait_for "Xvfb" "$BUS_WAIT" test -s "$BUS_TMP/display" || die "Xvfb did not start" "$(cat "$BUS_TMP/xvfb.log")"
export DISPLAY=":$(head -n 1 "$BUS_TMP/display")"
say "gui: Xvfb on $DISPLAY"

# No <servicedir>: nothing is activated, so memcg-notify really meets a
# session without a notification server until dunst is started below.
cat >"$BUS_TMP/session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$BUS_TMP/session-bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$BUS_TMP/session.conf" --nofork --print-address \
        >"$BUS_TMP/session.address" 2>"$BUS_TMP/session-bus.log" &
GUI_PIDS+=($!)
wait_for "session bus" "$BUS_WAIT" test -s "$BUS_TMP/session.address" ||
        die "the session bus did not start" "$(cat "$BUS_TMP/session-bus.log")"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$BUS_TMP/session-bus"
say "gui: session bus at $DBUS_SESSION_BUS_ADDRESS"

# Every Notify call: JSON for the checks, dbus-monitor's text for people.
busctl --address="$DBUS_SESSION_BUS_ADDRESS" monitor --json=short \
        --match "type='method_call',interface='org.freedesktop.Notifications'" \
        >"$BUS_TMP/notify.jsonl" 2>"$BUS_TMP/notify-monitor.log" &
GUI_PIDS+=($!)
dbus-monitor --session "interface='org.freedesktop.Notifications',member='Notify'" \
        >"$BUS_TMP/notify-calls.txt" 2>&1 &
GUI_PIDS+=($!)
wait_for "busctl monitor" "$BUS_WAIT" grep -qs Monitoring "$BUS_TMP/notify-monitor.log" ||
        die "busctl monitor did not start on the session bus" "$(cat "$BUS_TMP/notify-monitor.log")"

# --- memcg-notify, before any notification server ------------------------

mkdir -p "$BUS_TMP/config"
cat >"$BUS_TMP/config/memcg-notify.conf" <<'EOF'
[Notify]
# Every cgroup, not only the user's own slice (the test's memcg is a
# child of the root).
Prefix=/
MinimumUrgency=low
# Short, so the merged limit notification comes within the test.
LimitInterval=2
RaiseStep=256M
EOF
XDG_CONFIG_HOME="$BUS_TMP/config" "$MEMCG_NOTIFY_BIN" --verbose >"$BUS_TMP/notify.log" 2>&1 &
NOTIFY_PID=$!
GUI_PIDS+=("$NOTIFY_PID")
wait_for "memcg-notify follows memcgd" "$BUS_WAIT" grep -q 'Following memcgd' "$BUS_TMP/notify.log" ||
        die "memcg-notify did not find memcgd" "$(cat "$BUS_TMP/notify.log")"
pass "memcg-notify follows memcgd on the system bus"
if grep -q 'No notification server yet' "$BUS_TMP/notify.log"; then
        pass "memcg-notify starts without a notification server"
else
        fail "memcg-notify starts without a notification server" "$(cat "$BUS_TMP/notify.log")"
fi

# memcgd restarts: memcg-notify must follow the new owner of the name.
memcgd_stop
memcgd_start
wait_for "memcg-notify follows the new memcgd" "$BUS_WAIT" \
        bash -c '[ "$(grep -c "Following memcgd" "$1")" -ge 2 ]' _ "$BUS_TMP/notify.log" ||
        fail "memcg-notify follows memcgd after a restart" "$(cat "$BUS_TMP/notify.log")"
if grep -q 'memcgd is not running' "$BUS_TMP/notify.log"; then pass "memcg-notify noticed memcgd stopping and coming back"; else
        fail "memcg-notify noticed memcgd stopping and coming back" "$(tail -n 5 "$BUS_TMP/notify.log")"; fi

memcg_create gui
CG=$MEMCG
NAME=${CG##*/}
check "memcgctl monitor $CG --limit 64M" "$MEMCGCTL_BIN" monitor "$CG" --limit 64M
wait_for "queued" "$BUS_WAIT" grep -q "queued \"Memory of $NAME now elastic\"" "$BUS_TMP/notify.log" &&
        pass "without a server, the 'now elastic' notification waits in the queue" ||
        fail "without a server, the 'now elastic' notification waits in the queue" "$(cat "$BUS_TMP/notify.log")"
kill -0 "$NOTIFY_PID" 2>/dev/null && pass "memcg-notify runs on without a notification server" ||
        die "memcg-notify died without a notification server" "$(cat "$BUS_TMP/notify.log")"

# --- dunst --------------------------------------------------------------

# Popups that stay (timeout 0), wide enough for the bodies, one colour per
# urgency so the screenshot shows which is which.
cat >"$BUS_TMP/dunstrc" <<EOF
[global]
    monitor = 0
    follow = none
    width = 560
    height = 300
    origin = top-right
    offset = 10x10
    notification_limit = 0
    indicate_hidden = yes
    sort = yes
    font = DejaVu Sans 9
    markup = full
    format = "<b>%s</b>\n%b"
    alignment = left
    word_wrap = yes
    ignore_newline = no
    stack_duplicates = false
    show_age_threshold = -1
    idle_threshold = 0
    frame_width = 2
    separator_height = 2
    padding = 8
    horizontal_padding = 8
    show_indicators = yes
    dmenu = $BUS_TMP/dmenu
    mouse_left_click = do_action
[urgency_low]
    background = "#2e3440"
    foreground = "#eceff4"
    frame_color = "#88c0d0"
    timeout = 0
[urgency_normal]
    background = "#4c3a0c"
    foreground = "#ffffff"
    frame_color = "#ebcb8b"
    timeout = 0
[urgency_critical]
    background = "#7a1010"
    foreground = "#ffffff"
    frame_color = "#ff5555"
    timeout = 0
EOF
# dunst's context menu ("dunstctl context") pipes one line per action into
# its dmenu, "#LABEL (SUMMARY) [ID,KEY]", and invokes the line that comes
# back: the first that matches the extended regex in $BUS_TMP/dmenu.want
# ("Raise limit" unless a test says otherwise). The last menu is kept in
# $BUS_TMP/dmenu.in for the log.
printf 'Raise limit\n' >"$BUS_TMP/dmenu.want"
cat >"$BUS_TMP/dmenu" <<EOF
#!/bin/sh
tee "$BUS_TMP/dmenu.in" | grep -m 1 -E "\$(cat "$BUS_TMP/dmenu.want")"
EOF
chmod +x "$BUS_TMP/dmenu"

dunst -config "$BUS_TMP/dunstrc" >"$BUS_TMP/dunst.log" 2>&1 &
GUI_PIDS+=($!)
wait_for "dunst" "$BUS_WAIT" busctl --address="$DBUS_SESSION_BUS_ADDRESS" status org.freedesktop.Notifications \
        >/dev/null 2>&1 || die "dunst did not take org.freedesktop.Notifications" "$(cat "$BUS_TMP/dunst.log")"
say "gui: dunst $(dunst -v 2>&1 | head -n 1) owns org.freedesktop.Notifications"

# notifications [FIELD...]: one Notify call a line, tab-separated:
# replaces_id urgency summary body actions(comma-joined).
notifications() {
        jq -r 'select(.type == "method_call" and .member == "Notify") | .payload.data |
                [(.[1] | tostring), (.[6].urgency.data | tostring), .[3], .[4], (.[5] | join(","))] | @tsv' \
                "$BUS_TMP/notify.jsonl" 2>/dev/null
}
# has_notification URGENCY SUMMARY_REGEX [BODY_REGEX]
has_notification() {
        notifications | awk -F'\t' -v u="$1" -v s="$2" -v b="${3:-}" \
                '$2 == u && $3 ~ s && (b == "" || $4 ~ b) { found = 1 } END { exit !found }'
}
expect_notification() {
        local desc=$1; shift
        if wait_for "$desc" "$BUS_WAIT" has_notification "$@"; then
                pass "$desc ($(notifications | awk -F'\t' -v u="$1" -v s="$2" '$2 == u && $3 ~ s { print $3 " / " $4; exit }'))"
        else
                fail "$desc" "Notify calls seen:" "$(notifications | cut -c1-300)" "memcg-notify log:" "$(tail -n 20 "$BUS_TMP/notify.log")"
        fi
}

expect_notification "the queued notification reaches the server once it runs (low urgency)" \
        0 "^Memory of $NAME now elastic\$" "monitors $CG, starting at a limit of 64 MiB"
grep -q 'capabilities:.*actions' "$BUS_TMP/notify.log" && pass "memcg-notify read the server's capabilities (actions)" ||
        fail "memcg-notify read the server's capabilities (actions)" "$(cat "$BUS_TMP/notify.log")"

# --- grow, budget exhausted, OOM kill -----------------------------------

# 400M in 4M steps every 40 ms: the watcher sees each threshold go by,
# grows the limit 64M -> 128M, then the budget says no and the kernel
# kills the hog at its limit.
alloc_start "$CG" 400 4 40
HOG=$ALLOC_PID
wait_for "the hog ends" 60 bash -c '! kill -0 "$1" 2>/dev/null' _ "$HOG"
wait "$HOG" 2>/dev/null; HOG_RC=$?
assert_eq "the hog was killed by the kernel (SIGKILL) at the limit" 137 "$HOG_RC"
assert_u64 "the kernel counted an OOM kill" "$(memcg_oom_kills "$CG")" -ge 1

expect_notification "a raised limit is announced at low urgency" \
        0 "^Memory limit of $NAME raised\$" "$CG: .*→"
expect_notification "the exhausted budget is announced at normal urgency" \
        1 "^Memory budget exhausted for $NAME\$" "$CG asked for .* more and got (only .*|nothing): the memory budget of memcgd is"
# Oom(oom_kill) and TasksKilled(kernel) come together and share the
# cgroup's OOM notification: the second may replace the first before it
# was even sent (a queued text for the same slot is replaced).
expect_notification "the OOM kill is announced at critical urgency, naming the cgroup and its limit in MiB" \
        2 "^Out of memory: (process|memcgd-test-all) killed in $NAME\$" \
        "(The kernel killed a process of $CG|The kernel(&apos;|')s OOM killer killed memcgd-test-all \\(PID $HOG\\) in $CG).*Limit 128 MiB"
expect_notification "TasksKilled names the killed process and the cause (critical)" \
        2 "^Out of memory: memcgd-test-all killed in $NAME\$" \
        "^The kernel(&apos;|')s OOM killer killed memcgd-test-all \\(PID $HOG\\) in $CG: it ran out of memory at its limit\\."

# The hog stalled at its limit before the kill: v1's vmpressure said
# critical (anonymous memory, no swap: reclaim finds nothing).
pressure_levels() { signals Pressure "$CG" | cut -f2 | tr '\n' ' '; }
had_critical() { signals Pressure "$CG" | cut -f2 | grep -qx 255; }
if wait_for "Pressure 255" "$BUS_WAIT" had_critical; then
        pass "memcgd signalled critical pressure for $CG (levels $(pressure_levels))"
else
        fail "memcgd signalled critical pressure for $CG" "Pressure levels: $(pressure_levels)"
fi
expect_notification "critical pressure is announced at normal urgency, with the sizes" \
        1 "^Memory pressure critical in $NAME\$" "^The processes of $CG are stalled waiting for memory.*Limit 128 MiB"
if notifications | awk -F'\t' -v s="^Memory pressure critical in $NAME" '$3 ~ s { print $5 }' | grep -q raise; then
        fail "the pressure notification offers no 'Raise limit' (Details only)" "$(notifications | grep 'pressure critical')"
else
        pass "the pressure notification offers no 'Raise limit' (Details only)"
fi

# Coalesced and rate-limited: fewer limit notifications than limit changes.
grows=$(signals LimitChanged "$CG" | awk -F'\t' '$5 == "grow"' | wc -l)
limit_notes=$(notifications | awk -F'\t' -v s="^Memory limit of $NAME raised" '$3 ~ s' | wc -l)
if [ "$grows" -ge 2 ] && [ "$limit_notes" -ge 1 ] && [ "$limit_notes" -lt "$grows" ]; then
        pass "limit changes are merged: $grows grows, $limit_notes notifications"
else
        fail "limit changes are merged" "$grows grows (LimitChanged), $limit_notes 'raised' notifications"
fi
# Replaced, not stacked: the raised-limit notification replaces the
# "now elastic" one of the same cgroup.
first_raise_replaces=$(notifications | awk -F'\t' -v s="^Memory limit of $NAME raised" '$3 ~ s { print $1; exit }')
assert_u64 "the limit notification replaces the earlier one of the cgroup (replaces_id)" "${first_raise_replaces:-0}" -gt 0
if notifications | awk -F'\t' '$2 == 2' | grep -q 'raise,Raise limit by 256 MiB'; then
        pass "the OOM notification offers 'Raise limit by 256 MiB' (server has actions)"
else
        fail "the OOM notification offers 'Raise limit by 256 MiB'" "$(notifications | awk -F'\t' '$2 == 2')"
fi

# --- the screenshot -----------------------------------------------------

sleep 1 # dunst draws on its next redraw
mkdir -p "$(dirname "$GUI_SHOT")"
if import -display "$DISPLAY" -window root "$GUI_SHOT" 2>"$BUS_TMP/import.log"; then
        pass "screenshot of the popups saved"
        say "gui: screenshot: $GUI_SHOT"
        cp "$BUS_TMP/notify-calls.txt" "${GUI_SHOT%.png}-calls.txt"
        say "gui: the Notify calls as dbus-monitor saw them: ${GUI_SHOT%.png}-calls.txt"
else
        fail "screenshot of the popups saved" "$(cat "$BUS_TMP/import.log")"
fi

# --- actions ------------------------------------------------------------

# A click (dunst's default action) on the top popup, the critical one:
# memcg-notify replaces it with the cgroup's details.
before=$(notifications | wc -l)
dunstctl action 0
expect_notification "a click on a notification shows the cgroup's details" \
        0 "^Memory of $NAME\$" "$CG \\(elastic\\).*Limit: .*OOM kills: [1-9]"

# "Raise limit by 256 MiB" from dunst's context menu: SetInitialLimit(max
# + 256M) - more than the 128M budget, so memcgd refuses and the refusal
# is shown in place of the notification.
dunstctl context
expect_notification "the 'Raise limit' action calls SetInitialLimit; memcgd's refusal is shown" \
        1 "^Memory limit of $NAME not raised\$" "$CG: .*"
# The limit it asked for: a limit the cgroup had (the shrink timer moves
# it) plus 256 MiB.
asked=$(sed -n "s|.*Raising the limit of $CG to \([0-9]*\) bytes.*|\1|p" "$BUS_TMP/notify.log" | tail -n 1)
if [ -n "$asked" ] && signals LimitChanged "$CG" | cut -f3 | grep -qx "$((asked - 268435456))"; then
        pass "the raise asked for the limit + 256 MiB ($asked)"
else
        fail "the raise asked for the limit + 256 MiB" "asked: ${asked:-nothing}" "limits: $(signals LimitChanged "$CG" | cut -f3 | tr '\n' ' ')"
fi
kill -0 "$NOTIFY_PID" 2>/dev/null && pass "memcg-notify still runs" || fail "memcg-notify still runs" "$(tail "$BUS_TMP/notify.log")"

# --- the freeze policy: a stopped cgroup and its decisions ---------------

# notification_id SUMMARY: the id the server gave the last notification
# with that summary (memcg-notify --verbose logs it).
notification_id() {
        grep -F "shown: $1" "$BUS_TMP/notify.log" | sed -nE 's/.*Notification ([0-9]+) shown: .*/\1/p' | tail -n 1
}
# dmenu_pick SUMMARY KEY: the next "dunstctl context" invokes action KEY of
# the notification with that summary.
dmenu_pick() { printf '\\(%s\\) \\[[0-9]+,%s\\]$\n' "$1" "$2" >"$BUS_TMP/dmenu.want"; }

# The pressure ended with the hog (memcgd lowers a level after its quiet
# time, 5 s): the warning is withdrawn (CloseNotification of its id).
closed_ids() {
        jq -r 'select(.type == "method_call" and .member == "CloseNotification") | .payload.data[0] | tostring' \
                "$BUS_TMP/notify.jsonl" 2>/dev/null
}
PRESSURE_ID=$(notification_id "Memory pressure critical in $NAME")
pressure_closed() { closed_ids | grep -qx "$PRESSURE_ID"; }
if [ -n "$PRESSURE_ID" ] && wait_for "CloseNotification $PRESSURE_ID" 30 pressure_closed; then
        pass "the pressure warning is withdrawn when the level falls (CloseNotification $PRESSURE_ID; levels $(pressure_levels))"
else
        fail "the pressure warning is withdrawn when the level falls" "id ${PRESSURE_ID:-unknown}" \
                "CloseNotification calls: $(closed_ids | tr '\n' ' ')" "levels: $(pressure_levels)"
fi

say "== freeze: processes stopped at their limit; the decisions as actions"
check "memcgctl unmonitor $CG (its story is told)" "$MEMCGCTL_BIN" unmonitor "$CG"
dunstctl close-all
# The budget stops the growth: of its 1G, a ballast memcg holds 640 MiB
# (a process using 600M under a 640M start limit, which no squeeze can
# take), so the child, allocating 600M from 64M, is denied at about
# 400 MiB, reaches its hard limit (one page above high) and the freeze
# policy stops it there. The ballast then goes, which leaves room for the
# 256 MiB raise.
printf '[Manager]\n[Limits]\nHighGap=4K\nHighRatioThreshold=1024T\n' >"$BUS_TMP/memcgd.conf"
# No shrink timer racing the child after the raise: a shrink to its usage
# while it still grows would stop it again at the one-page gap.
memcgd_stop
BUS_SHRINK_BASE=50s memcgd_start --budget=1G
wait_for "memcg-notify follows the new memcgd" "$BUS_WAIT" \
        bash -c '[ "$(grep -c "Following memcgd" "$1")" -ge 3 ]' _ "$BUS_TMP/notify.log" ||
        fail "memcg-notify follows memcgd after the second restart" "$(tail -n 5 "$BUS_TMP/notify.log")"

memcg_create ballast
BALLAST=$MEMCG
check "memcgctl monitor $BALLAST --limit 640M" "$MEMCGCTL_BIN" monitor "$BALLAST" --limit 640M
alloc_start "$BALLAST" 600 16 0
BALLAST_PID=$ALLOC_PID
wait_for "ballast" 60 alloc_ready "$ALLOC_OUT" || fail "the ballast holds 600M" "$(cat "$ALLOC_OUT")"

memcg_create freeze
FZ=$MEMCG
FZNAME=${FZ##*/}
check "memcgctl monitor $FZ --limit 64M" "$MEMCGCTL_BIN" monitor "$FZ" --limit 64M
check "memcgctl oom-policy $FZ freeze" "$MEMCGCTL_BIN" oom-policy "$FZ" freeze
alloc_start "$FZ" 600 16 0
FZCHILD=$ALLOC_PID
STOPPED="Processes of $FZNAME stopped at their memory limit"
expect_notification "a stopped cgroup is announced at critical urgency, naming the stopped process and the deadline" \
        2 "^$STOPPED\$" \
        "^$FZ ran out of memory at its limit: its processes are stopped until the limit is raised or a process is killed\\. Stopped: memcgd-test-all \\(PID $FZCHILD\\)\\..* Without a decision memcgd kills the largest process in [0-9]+ s\\.\$"
if notifications | awk -F'\t' -v s="^$STOPPED\$" '$3 ~ s { print $5 }' | grep -q 'oom-raise,Raise limit by 256 MiB,kill-largest,Kill largest'; then
        pass "it offers 'Raise limit by 256 MiB' and 'Kill largest'"
else
        fail "it offers 'Raise limit by 256 MiB' and 'Kill largest'" "$(notifications | awk -F'\t' -v s="^$STOPPED\$" '$3 ~ s')"
fi
assert_eq "the child sleeps at the limit" D "$(awk '{print $3}' /proc/$FZCHILD/stat 2>/dev/null)"
wait_for "shown" "$BUS_WAIT" bash -c 'grep -qF "shown: $1" "$0"' "$BUS_TMP/notify.log" "$STOPPED"
STOPPED_ID=$(notification_id "$STOPPED")
sleep 1 # dunst draws on its next redraw
SHOT2=${GUI_SHOT%.png}-frozen.png
if import -display "$DISPLAY" -window root "$SHOT2" 2>"$BUS_TMP/import.log"; then
        pass "screenshot of the 'stopped' popup saved"
        say "gui: screenshot: $SHOT2"
else
        fail "screenshot of the 'stopped' popup saved" "$(cat "$BUS_TMP/import.log")"
fi

# The ballast goes: room for the raise.
alloc_stop "$BALLAST_PID"
check "memcgctl unmonitor $BALLAST (the budget gets its 640M back)" "$MEMCGCTL_BIN" unmonitor "$BALLAST"
dmenu_pick "$STOPPED" oom-raise
dunstctl context
expect_notification "'Raise limit by 256 MiB' calls ResolveOom: the 'runs again' notification follows" \
        1 "^$FZNAME runs again\$" "^The out-of-memory stop of $FZ has ended: its processes run again\\. Limit"
say "gui: the menu dunst offered: $(tr '\n' '|' <"$BUS_TMP/dmenu.in")"
assert_eq "'runs again' replaces the 'stopped' notification (replaces_id = its id)" "${STOPPED_ID:-none}" \
        "$(notifications | awk -F'\t' -v s="^$FZNAME runs again\$" '$3 ~ s { print $1; exit }')"
if signals LimitChanged "$FZ" | awk -F'\t' '$5 == "decision" && $3 - $2 == 268435456' | grep -q .; then
        pass "memcgd raised the limit by 256 MiB (LimitChanged decision)"
else
        fail "memcgd raised the limit by 256 MiB (LimitChanged decision)" "$(signals LimitChanged "$FZ" | tail -n 3)"
fi
wait_for "ready" 30 bash -c 'grep -q "^ready" "$0" || ! kill -0 "$1" 2>/dev/null' "$ALLOC_OUT" "$FZCHILD"
alloc_stop "$FZCHILD"
assert_eq "the child woke up, allocated its 600M and exited 0" 0 "$ALLOC_RC"

dunstctl close-all
memcg_create freeze2
FZ2=$MEMCG
FZ2NAME=${FZ2##*/}
check "memcgctl monitor $FZ2 --limit 64M" "$MEMCGCTL_BIN" monitor "$FZ2" --limit 64M
check "memcgctl oom-policy $FZ2 freeze" "$MEMCGCTL_BIN" oom-policy "$FZ2" freeze
# 1200M: more than the whole budget, so it stops too (the first cgroup,
# idle now, is squeezed to its floor on the way).
alloc_start "$FZ2" 1200 16 0
FZ2CHILD=$ALLOC_PID
STOPPED2="Processes of $FZ2NAME stopped at their memory limit"
expect_notification "the second cgroup stops too" 2 "^$STOPPED2\$" "Stopped: memcgd-test-all \\(PID $FZ2CHILD\\)"
wait_for "shown" "$BUS_WAIT" bash -c 'grep -qF "shown: $1" "$0"' "$BUS_TMP/notify.log" "$STOPPED2"
STOPPED2_ID=$(notification_id "$STOPPED2")
dmenu_pick "$STOPPED2" kill-largest
dunstctl context
wait_for "killed" 10 bash -c '! kill -0 "$0" 2>/dev/null' "$FZ2CHILD"
wait "$FZ2CHILD" 2>/dev/null; rc=$?
assert_eq "'Kill largest' calls ResolveOom kill-largest: the child was killed" 137 "$rc"
KILLED2="Out of memory: memcgd-test-all killed in $FZ2NAME"
expect_notification "TasksKilled (decision) names the process and the cause, critical" \
        2 "^$KILLED2\$" "^memcgd killed memcgd-test-all \\(PID $FZ2CHILD\\) in $FZ2, as decided while its processes were stopped at the memory limit\\."
expect_notification "the end of the stop still names the killed process (critical)" \
        2 "^$KILLED2\$" "as decided while its processes were stopped at the memory limit\\. The stop has ended\\."
replaced=$(notifications | awk -F'\t' -v s="^$KILLED2\$" '$3 ~ s { print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//')
assert_eq "both replace the 'stopped' notification in place (replaces_id)" "${STOPPED2_ID:-none}" "$replaced"
kill -0 "$NOTIFY_PID" 2>/dev/null && pass "memcg-notify still runs" || fail "memcg-notify still runs" "$(tail "$BUS_TMP/notify.log")"

# It ends cleanly on SIGTERM (a sanitizer build would report leaks here).
kill -TERM "$NOTIFY_PID"
wait "$NOTIFY_PID"; rc=$?
assert_eq "memcg-notify exits with status 0 on SIGTERM" 0 "$rc"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$BUS_TMP/notify.log"; then
        fail "memcg-notify ran without sanitizer reports" "$(grep -A 20 -E 'Sanitizer|runtime error' "$BUS_TMP/notify.log" | head -n 40)"
fi

say "gui: memcg-notify log:"
sed 's/^/    /' "$BUS_TMP/notify.log"
bus_finish
