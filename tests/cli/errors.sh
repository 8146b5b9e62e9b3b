#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcgctl's failures and their documented exit status (memcgctl --help,
# memcgctl(1)): each one a single line on stderr carrying memcgd's message.
#   2 usage, bad size, bad path   3 not authorized   4 not found/monitored
#   5 memcgd not running          6 limit refused    1 anything else
# Bad arguments are exit status 2 also without a bus: they are checked
# before connecting. And memcg-notify's command line: exit status 2 for a
# bad --prefix or --limit-interval.

source "$(dirname "$0")/lib.sh"

bus_require
cli_require
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
MEMCGD_ARGS=(--budget=256M)
bus_setup
trap cli_teardown EXIT

memcg_create err
CG=$MEMCG
memcg_create other
OTHER=$MEMCG
expect_rc "monitor (setup)" 0 monitor "$CG" --limit 64M

# --- 2: usage -----------------------------------------------------------

expect_rc "no command" 2
expect_err_contains "... says so" "No command given"
expect_rc "an unknown command" 2 frobnicate
expect_err_contains "... names it" "Unknown command 'frobnicate'"
expect_rc "an unknown option" 2 list --frobnicate
expect_rc "too many arguments" 2 list extra
expect_rc "too few arguments" 2 set-limit "$CG"
expect_rc "--limit on a command other than monitor" 2 status --limit 64M
expect_rc "--json with an unknown mode" 2 list --json=yaml
expect_rc "--json with a mode after a space" 2 status --json pretty
expect_err_contains "... says the mode needs '='" "--json takes its mode after '=' (did you mean --json=pretty?)"
expect_rc "--json with a mode after a space, on list" 2 list --json short
expect_err_contains "... says the mode needs '='" "did you mean --json=short?"
expect_rc "--json alone before a cgroup path is still fine" 0 status --json "$CG"
assert_eq "... and prints its JSON" "$CG" "$(jqv .cgroup)"
expect_rc "an option missing its value" 2 monitor "$CG" --limit

# --- 2: bad sizes -------------------------------------------------------

for size in 12X 1.5 abc "" 64M64 99999999999E 1..5G; do
        expect_rc "set-limit with the bad size '$size'" 2 set-limit "$CG" "$size" &&
                expect_err_contains "... names the size" "Invalid limit '$size'"
done
# A leading '-' is an option, as everywhere; after "--" it is a size.
expect_rc "a negative size looks like an option" 2 set-limit "$CG" -5
expect_err_contains "... and is reported as one" "Unknown option '-5'"
expect_rc "a negative size after --" 2 set-limit -- "$CG" -5
expect_err_contains "... is not a size" "Invalid limit '-5'"
expect_rc "monitor --limit with a bad size" 2 monitor "$OTHER" --limit 12Q
expect_rc "monitor --limit 0 (would silently mean the default)" 2 monitor "$OTHER" --limit 0
assert_eq "nothing was monitored by the refused commands" false "$(stats root "$OTHER" | jq -r '.data[0].monitored.data')"

# --- 2: bad paths (checked before asking memcgd, by its own rules) -----

long="/$(printf 'a%.0s' $(seq 1 200))"
long="$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long$long"
for p in relative / /a/../b /a/./b //a /a//b /a/ "$long" $'/a\nb'; do
        expect_rc "status with the bad path $(printf %q "${p:0:40}")" 2 status "$p" &&
                expect_err_contains "... explains the path rule" "Invalid cgroup path"
done
expect_rc "monitor with a bad path" 2 monitor relative/path
expect_rc "unmonitor with a bad path" 2 unmonitor /
expect_rc "set-limit with a bad path" 2 set-limit /a/.. 64M

# --- 4: not found, not a memcg, not monitored ---------------------------

expect_rc "status of a cgroup that does not exist" 4 status /memcgd-no-such-cgroup-$$
expect_err_contains "... carries memcgd's message" "No such cgroup '/memcgd-no-such-cgroup-$$'"
expect_rc "monitor of a cgroup that does not exist" 4 monitor /memcgd-no-such-cgroup-$$
expect_rc "set-limit of a cgroup that does not exist" 4 set-limit /memcgd-no-such-cgroup-$$ 64M
expect_rc "status of a file, not a memcg" 4 status "$CG/memory.stat"
expect_err_contains "... says it is not a memory cgroup" "is not a memory cgroup"
expect_rc "unmonitor of a cgroup that is not monitored" 4 unmonitor "$OTHER"
expect_err_contains "... says so" "is not monitored"

# --- OOM policies and decisions -----------------------------------------

expect_rc "oom-policy with an unknown policy" 2 oom-policy "$CG" bogus
expect_err_contains "... names it and the choices" "Invalid OOM policy 'bogus': use kill, grow or freeze"
expect_rc "oom-policy is case-sensitive, like memcgd" 2 oom-policy "$CG" Freeze
expect_rc "oom-policy with too many arguments" 2 oom-policy "$CG" freeze kill
expect_rc "oom-policy with a bad path" 2 oom-policy relative freeze
expect_rc "oom-policy of a cgroup that is not monitored (read)" 4 oom-policy "$OTHER"
expect_err_contains "... says so" "$OTHER is not monitored"
expect_rc "oom-policy of a cgroup that is not monitored (set)" 4 oom-policy "$OTHER" freeze
expect_err_contains "... with memcgd's NotMonitored message" "Failed to set the OOM policy of $OTHER: Cgroup $OTHER is not monitored"
expect_rc "oom-policy of a cgroup that does not exist" 4 oom-policy /memcgd-no-such-cgroup-$$
expect_rc "resolve with an unknown decision" 2 resolve "$CG" shrug
expect_err_contains "... names the choices" "Invalid decision 'shrug': use raise SIZE, kill-largest or kill-all"
expect_rc "resolve raise without a size" 2 resolve "$CG" raise
expect_err_contains "... asks for it" "needs the SIZE"
expect_rc "resolve raise with a bad size" 2 resolve "$CG" raise 12Q
expect_err_contains "... names the size" "Invalid size '12Q'"
expect_rc "resolve kill-largest with a size" 2 resolve "$CG" kill-largest 64M
expect_rc "resolve without a decision" 2 resolve "$CG"
expect_rc "resolve of a cgroup that is not monitored" 4 resolve "$OTHER" kill-all
expect_err_contains "... carries memcgd's message" "Failed to resolve the OOM of $OTHER: Cgroup '$OTHER' is not monitored"
expect_rc "resolve of a monitored cgroup that is not waiting for a decision" 1 resolve "$CG" kill-largest
expect_err_contains "... says it is not waiting" "is not waiting for an OOM decision"
expect_rc "resolve raise of a cgroup that is not waiting" 1 resolve "$CG" raise 64M
expect_rc "resolve raise by 0" 6 resolve "$CG" raise 0
expect_err_contains "... is out of range" "out of range"

# --- 6: limits refused --------------------------------------------------

expect_rc "set-limit below the smallest limit" 6 set-limit "$CG" 1K
expect_err_contains "... says the range" "out of range"
expect_rc "set-limit beyond the budget (256M)" 6 set-limit "$CG" 1G
expect_err_contains "... names the budget" "budget"
# A limit is always finite: memcgd refuses "unlimited", so the client
# does not offer it as a size.
for size in infinity 18446744073709551615; do
        expect_rc "set-limit $size: a limit must be finite" 2 set-limit "$CG" "$size" &&
                expect_err_contains "... says so" "Invalid limit '$size': a limit must be a finite size"
done
expect_rc "monitor --limit infinity" 2 monitor "$OTHER" --limit infinity
expect_err_contains "... says so" "a limit must be a finite size"
expect_rc "resolve raise infinity" 2 resolve "$CG" raise infinity
expect_err_contains "... says so" "Invalid size 'infinity': it must be a finite size"
alloc_start "$CG" 40 8 0
wait_for "hog" "$BUS_WAIT" alloc_ready "$ALLOC_OUT" || fail "the hog allocated 40M" "$(cat "$ALLOC_OUT")"
expect_rc "set-limit below the usage" 6 set-limit "$CG" 16M
expect_err_contains "... says the usage" "usage"
assert_u64 "the refused limit was not written" "$(memcg_limit "$CG")" -ge 41943040
alloc_stop "$ALLOC_PID"

# --- 3: not authorized --------------------------------------------------

# memcgd-test has no polkit grant and no terminal (stdin is /dev/null):
# the changes are denied, reading is open to everyone.
expect_rc "an unprivileged monitor is denied" 3 --user monitor "$OTHER" --limit 64M
expect_err_contains "... with memcgd's message" "Failed to monitor $OTHER: "
expect_rc "an unprivileged set-limit is denied" 3 --user set-limit "$CG" 128M
expect_rc "an unprivileged unmonitor is denied" 3 --user unmonitor "$CG"
expect_rc "an unprivileged oom-policy change is denied" 3 --user oom-policy "$CG" freeze
expect_err_contains "... naming the polkit action" "org.memcgd1.monitor"
expect_rc "an unprivileged resolve is denied" 3 --user resolve "$CG" kill-all
expect_err_contains "... naming the polkit action" "org.memcgd1.resolve-oom"
expect_rc "an unprivileged oom-policy read is allowed" 0 --user oom-policy "$CG"
assert_eq "... and prints the policy" kill "$OUT"
assert_eq "the denied unmonitor changed nothing" true "$(stats root "$CG" | jq -r '.data[0].monitored.data')"
expect_rc "an unprivileged status is allowed" 0 --user status "$CG" --json
assert_eq "... and shows the cgroup" "$CG" "$(jqv .cgroup)"
expect_rc "an unprivileged list is allowed" 0 --user list --no-legend
expect_rc "an unprivileged status table is allowed" 0 --user status

# A person at a terminal may be asked by their polkit agent: the call then
# carries ALLOW_INTERACTIVE_AUTHORIZATION (flag 0x4); from a script, or
# with --no-ask-password, it does not.
if command -v script >/dev/null; then
        busctl monitor --json=short \
                --match "type='method_call',destination='$BUS_NAME',member='SetInitialLimit'" \
                >"$BUS_TMP/calls.jsonl" 2>"$BUS_TMP/calls.log" &
        BUS_PIDS+=($!)
        wait_for "call monitor" "$BUS_WAIT" grep -qs Monitoring "$BUS_TMP/calls.log"
        as_user script -qec "$MEMCGCTL_BIN set-limit $CG 100M" /dev/null >/dev/null 2>&1
        as_user script -qec "$MEMCGCTL_BIN --no-ask-password set-limit $CG 101M" /dev/null >/dev/null 2>&1
        ctl --user set-limit "$CG" 102M
        wait_for "three calls" "$BUS_WAIT" bash -c '[ "$(grep -c SetInitialLimit "$1")" -ge 3 ]' _ "$BUS_TMP/calls.jsonl"
        assert_eq "interactive authorization is allowed from a terminal only (flags: tty, tty --no-ask-password, no tty)" \
                "4 0 0" "$(jq -r .flags "$BUS_TMP/calls.jsonl" | while read -r f; do echo $((f & 4)); done | tr '\n' ' ' | sed 's/ $//')"
else
        skip_part "script(1) missing: the terminal check is left out"
fi

# With a polkit rule granting set-limit the same call goes through: the
# exit status 3 above was polkit's verdict, nothing else.
polkit_add_rule 50-memcgctl-test.rules "polkit.addRule(function(action, subject) {
        if (action.id == \"org.memcgd1.set-limit\" && subject.user == \"$BUS_USER\")
                return polkit.Result.YES;
});" || fail "polkit reloaded the test rule"
expect_rc "an unprivileged set-limit granted by a polkit rule" 0 --user set-limit "$CG" 128M
assert_eq "... wrote the limit" 134217728 "$(memcg_limit "$CG")"
expect_rc "the rule grants set-limit only, not monitor" 3 --user unmonitor "$CG"

# --- 5: memcgd not running ----------------------------------------------

memcgd_stop
expect_rc "list when memcgd is not running" 5 list
expect_err_contains "... says memcgd is not running" "memcgd is not running"
expect_rc "status when memcgd is not running" 5 status "$CG"
expect_rc "monitor when memcgd is not running" 5 monitor "$CG"
expect_rc "oom-policy when memcgd is not running" 5 oom-policy "$CG" freeze
expect_rc "resolve when memcgd is not running" 5 resolve "$CG" kill-all
timeout 2 "$MEMCGCTL_BIN" watch </dev/null >"$BUS_TMP/w.out" 2>"$BUS_TMP/w.err"; rc=$?
assert_eq "watch without memcgd waits (until killed by timeout)" 124 "$rc"
assert_contains "... and says it waits" "$(cat "$BUS_TMP/w.err")" "memcgd is not running now; waiting for it"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS_TMP/no-such-socket expect_rc "no system bus at all" 5 list
expect_err_contains "... names the bus" "system bus"

# --- 2 before 5: arguments are checked before connecting ----------------

no_bus() { DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent "$@"; }
no_bus expect_rc "no bus: monitor with a bad path" 2 monitor demo
expect_err_contains "... names the path" "Invalid cgroup path 'demo'"
no_bus expect_rc "no bus: set-limit with a bad size" 2 set-limit /x abc
expect_err_contains "... names the size" "Invalid limit 'abc'"
no_bus expect_rc "no bus: set-limit infinity" 2 set-limit /x infinity
expect_err_contains "... names the size" "Invalid limit 'infinity'"
no_bus expect_rc "no bus: resolve with an unknown decision" 2 resolve /x foo
expect_err_contains "... names the decision" "Invalid decision 'foo'"
no_bus expect_rc "no bus: resolve raise with a bad size" 2 resolve /x raise 12Q
expect_err_contains "... names the size" "Invalid size '12Q'"
no_bus expect_rc "no bus: oom-policy with an unknown policy" 2 oom-policy /x panic
expect_err_contains "... names the policy" "Invalid OOM policy 'panic'"
no_bus expect_rc "no bus: status with a bad path" 2 status relative
expect_err_contains "... names the path" "Invalid cgroup path 'relative'"
no_bus expect_rc "no bus: unmonitor with a bad path" 2 unmonitor /
no_bus expect_rc "no bus: status --json pretty" 2 status --json pretty
expect_err_contains "... says the mode needs '='" "did you mean --json=pretty?"
no_bus expect_rc "no bus: good arguments get as far as the bus" 5 set-limit /x 64M
expect_err_contains "... and fail there" "Failed to connect to the system bus"

# --- memcg-notify's command line -----------------------------------------

if [ -x "${MEMCG_NOTIFY_BIN:-}" ]; then
        mkdir -p "$BUS_TMP/notify-config"
        # notify ARGS...: memcg-notify with no session bus (it exits 1 once
        # its command line is taken) and an empty configuration; sets RC
        # and ERR (its log goes to stderr).
        notify() {
                DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent XDG_CONFIG_HOME="$BUS_TMP/notify-config" \
                        timeout 10 "$MEMCG_NOTIFY_BIN" "$@" </dev/null >"$BUS_TMP/notify.out" 2>"$BUS_TMP/notify.err"
                RC=$?
                ERR=$(cat "$BUS_TMP/notify.err")
        }
        for iv in -1 -5 86401 abc ""; do
                notify --limit-interval="$iv"
                assert_eq "memcg-notify --limit-interval='$iv' is a usage error" 2 "$RC"
                expect_err_contains "... naming the value and the range" "--limit-interval=$iv: seconds from 0 to 86400"
        done
        notify -p relative
        assert_eq "memcg-notify -p with a relative path is a usage error" 2 "$RC"
        expect_err_contains "... saying why" "--prefix=relative: a cgroup path starts with /"
        notify -p /ok -p ""
        assert_eq "memcg-notify with an empty -p is a usage error" 2 "$RC"
        notify -v -p /user.slice/ -p "/a//" -i 0
        assert_eq "memcg-notify with good options gets as far as the session bus" 1 "$RC"
        expect_err_contains "... taking -p as Prefix= is taken (trailing '/' dropped) and -i 0" \
                "Following cgroups under /user.slice, /a; minimum urgency low; limit changes at most every 0 s"
        printf '[Notify]\nPrefix=/user.slice/;/a//\n' >"$BUS_TMP/notify-config/memcg-notify.conf"
        notify -v
        expect_err_contains "... the same as Prefix= in the file" "Following cgroups under /user.slice, /a;"
        rm "$BUS_TMP/notify-config/memcg-notify.conf"
        notify --version
        assert_eq "memcg-notify --version exits 0" 0 "$RC"
        assert_contains "... naming the program" "$(cat "$BUS_TMP/notify.out")" "memcg-notify "
else
        skip_part "memcg-notify not built: its command line checks are left out"
fi

bus_finish
