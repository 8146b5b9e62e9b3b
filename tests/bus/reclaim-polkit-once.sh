#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# RegisterReclaimer asks polkit (org.memcgd1.reclaim) at most once per
# message, and takes its answer whatever /proc says when the call comes
# back (service/reclaim-bus.c, "Decided once per message"): an unprivileged
# caller outside the cgroup calls; a polkit rule holds its answer (through
# polkit.spawn) until the test has moved the caller's process into the
# cgroup; then
#   - a "no" is an AccessDenied, not a registration: moving in while polkit
#     decides does not bypass the answer, polkit was asked once, and the
#     verdict was taken (the query is not left behind); a second call of
#     the same process, now inside, is served without asking polkit;
#   - a "yes" is a registration, polkit asked once, the verdict taken.
# (A caller already inside the cgroup is never asked, so "moved out while
# polkit decides" is only a caller outside before and after: the plain
# case the "yes" phase also covers.)
. "$(dirname "$0")/lib.sh"

DENIED=org.freedesktop.DBus.Error.AccessDenied
ACTION=org.memcgd1.reclaim
RULE="50-memcgd-test-reclaim-once-$$.rules"
# A user of this run alone: the rule below must not reach other runs
# (every polkitd on the host reads the same rules directory).
BUS_USER="memcgd-r$$"
BUS_USER_TEMPORARY=1
# How long the rule holds its answer at most, waiting for the test.
HOLD_MAX_TENTHS=50
# Every wait for the client: its call has a 10 s timeout of its own.
CALL_WAIT=15

"$PYTHON" -c 'import dbus' 2>/dev/null || skip "python3-dbus not installed (the caller client; .ci/deps.sh)"
bus_setup

memcg_create target
CG=$MEMCG
CG_DIR=$MEMCG_DIR

# The rule's helper, run by polkitd through polkit.spawn: waits until the
# test says go (it has moved the caller), at most HOLD_MAX_TENTHS/10 s,
# then prints the answer the test chose for this phase.
HOLD="$BUS_TMP/polkit-hold.sh"
cat >"$HOLD" <<EOF
#!/bin/sh
i=0
while [ ! -e "$BUS_TMP/go" ] && [ \$i -lt $((HOLD_MAX_TENTHS * 2)) ]; do
        sleep 0.05
        i=\$((i + 1))
done
cat "$BUS_TMP/answer"
EOF
chmod 0755 "$HOLD"
echo no >"$BUS_TMP/answer"
chmod 0644 "$BUS_TMP/answer"

# Each evaluation for our user logs one "memcgd-test-reclaim-ask" line
# (polkit.log goes to polkitd's output, $BUS_TMP/polkitd.log): that is the
# count of CheckAuthorization calls memcgd made for the caller.
if polkit_add_rule "$RULE" 'polkit.addRule(function(action, subject) {
        if (action.id != "'"$ACTION"'" || subject.user != "'"$BUS_USER"'")
                return polkit.Result.NOT_HANDLED;
        polkit.log("memcgd-test-reclaim-ask pid=" + subject.pid + " cgroup=" + action.lookup("cgroup"));
        var answer;
        try {
                answer = polkit.spawn(["/bin/sh", "'"$HOLD"'"]);
        } catch (e) {
                polkit.log("memcgd-test-reclaim-spawn-failed pid=" + subject.pid + ": " + e);
                return polkit.Result.NO;
        }
        polkit.log("memcgd-test-reclaim-answer pid=" + subject.pid + " " + answer);
        return answer.indexOf("yes") == 0 ? polkit.Result.YES : polkit.Result.NO;
});'; then
        pass "polkitd reloaded with /etc/polkit-1/rules.d/$RULE"
else
        die "polkitd reloaded with /etc/polkit-1/rules.d/$RULE" "$(tail -n 5 "$BUS_TMP/polkitd.log")"
fi

asks_for()    { grep -c "memcgd-test-reclaim-ask pid=$1 " "$BUS_TMP/polkitd.log"; }
answers_for() { grep -c "memcgd-test-reclaim-answer pid=$1 " "$BUS_TMP/polkitd.log"; }
memcgd_asks() { grep -cF "Asked polkit whether $1 may $ACTION" "$BUS_TMP/memcgd.log"; }
# memcgd logs "polkit: NAME may|may not ACTION" when it takes a verdict
# (and drops the query).
memcgd_verdicts() { grep -cF "polkit: $1 $2 $ACTION" "$BUS_TMP/memcgd.log"; }
in_cgroup() { # PID CGROUP: the memory line of /proc/PID/cgroup is CGROUP
        awk -F: -v cg="$2" '$2 ~ /(^|,)memory(,|$)/ { found = ($3 == cg) } END { exit !found }' "/proc/$1/cgroup" 2>/dev/null
}
mem_cgroup_of() { awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$1/cgroup" 2>/dev/null; }

# The caller: one connection, one process, as the test user. Prints its
# pid and unique name before the first call (so the test can move it while
# the call is pending), then "first ok PATH" or "first error NAME MSG";
# on $BUS_TMP/second.TAG it calls again ("second ..."); it stays on the
# bus (keeping its registrations) until $BUS_TMP/quit.TAG.
client_start() { # TAG
        local tag=$1
        COUT="$BUS_TMP/client.$tag.out"
        rm -f "$BUS_TMP/second.$tag" "$BUS_TMP/quit.$tag"
        as_user "$PYTHON" -c '
import os, sys, time, dbus
cg, tmp, tag = sys.argv[1], sys.argv[2], sys.argv[3]
bus = dbus.SystemBus()
mgr = bus.get_object("org.memcgd1", "/org/memcgd1", introspect=False)
print("client", os.getpid(), bus.get_unique_name(), flush=True)

def call(what):
    try:
        o = mgr.RegisterReclaimer(cg, dbus.UInt64(1048576), dbus_interface="org.memcgd1.Manager", timeout=10)
        print(what, "ok", o, flush=True)
    except dbus.exceptions.DBusException as e:
        print(what, "error", e.get_dbus_name(), e.get_dbus_message(), flush=True)

second, quit = os.path.join(tmp, "second." + tag), os.path.join(tmp, "quit." + tag)

def wait_files(*files):
    end = time.monotonic() + 30
    while not any(map(os.path.exists, files)) and time.monotonic() < end:
        time.sleep(0.05)

call("first")
wait_files(second, quit)
if os.path.exists(second):
    call("second")
wait_files(quit)
' "$CG" "$BUS_TMP" "$tag" >"$COUT" 2>&1 &
        CLIENT_JOB=$!
        BUS_PIDS+=("$CLIENT_JOB")
        if ! wait_for "client" "$BUS_WAIT" grep -q '^client ' "$COUT"; then
                die "$tag: the caller connected to the bus" "$(cat "$COUT")"
        fi
        read -r _ CPID CNAME < <(grep '^client ' "$COUT")
        say "$tag: caller pid $CPID, $CNAME, memory cgroup $(mem_cgroup_of "$CPID")"
}

client_stop() {
        touch "$BUS_TMP/quit.$1"
        wait "$CLIENT_JOB" 2>/dev/null
}

# result_of WHAT: the client's "WHAT ..." line, waiting for it (a call
# that hangs is a failure, not a test that hangs).
result_of() {
        if wait_for "$1 result" "$CALL_WAIT" grep -q "^$1 " "$COUT"; then
                grep "^$1 " "$COUT" | cut -d' ' -f2-
        else
                echo "none: no answer within ${CALL_WAIT}s"
        fi
}

owner_of() {
        busctl --json=short get-property "$BUS_NAME" "$1" org.memcgd1.Reclaimer Owner 2>/dev/null | jget data
}

# move_while_polkit_decides TAG: waits until polkit is evaluating the rule
# for the caller (its answer held by the helper), moves the caller's
# process into the cgroup, then lets the rule answer.
move_while_polkit_decides() {
        local tag=$1
        if wait_for "polkit asked" "$BUS_WAIT" bash -c '[ "$(grep -c "memcgd-test-reclaim-ask pid=$0 " "$1")" -ge 1 ]' \
                "$CPID" "$BUS_TMP/polkitd.log"; then
                pass "$tag: the caller outside $CG is not served alone: polkit is asked"
        else
                fail "$tag: the caller outside $CG is not served alone: polkit is asked" \
                        "no rule evaluation for pid $CPID in polkitd's output" "client: $(cat "$COUT")"
        fi
        echo "$CPID" >"$CG_DIR/cgroup.procs" || fail "$tag: moved pid $CPID into $CG"
        if in_cgroup "$CPID" "$CG"; then
                pass "$tag: while polkit decides, /proc/$CPID/cgroup says $CG"
        else
                fail "$tag: while polkit decides, /proc/$CPID/cgroup says $CG" "it says: $(mem_cgroup_of "$CPID")"
        fi
        if grep -q '^first ' "$COUT"; then
                fail "$tag: the call was still waiting for polkit when the caller moved" "$(cat "$COUT")"
        else
                pass "$tag: the call was still waiting for polkit when the caller moved"
        fi
        touch "$BUS_TMP/go"
}

# ---------------------------------------------------------------------------
say "== polkit says no; the caller moved into $CG meanwhile"
rm -f "$BUS_TMP/go"; echo no >"$BUS_TMP/answer"
client_start no
if in_cgroup "$CPID" "$CG"; then die "no: the caller starts outside $CG"; fi
move_while_polkit_decides no
res=$(result_of first)
if grep -q "memcgd-test-reclaim-spawn-failed pid=$CPID " "$BUS_TMP/polkitd.log"; then
        skip "polkitd here cannot run polkit.spawn in rules: $(grep -m1 spawn-failed "$BUS_TMP/polkitd.log")"
fi
case $res in
"error $DENIED "*) pass "no: the call ends in $DENIED (${res#error })" ;;
ok*) fail "no: the call ends in $DENIED" "it registered a reclaimer: $res" \
        "(the caller's move into $CG bypassed polkit's no)" ;;
*) fail "no: the call ends in $DENIED" "got: $res" ;;
esac
assert_eq "no: the rule answered no after the move" "1" "$(grep -c "memcgd-test-reclaim-answer pid=$CPID no" "$BUS_TMP/polkitd.log")"
assert_eq "no: polkit evaluated org.memcgd1.reclaim once for the call" 1 "$(asks_for "$CPID")"
assert_eq "no: memcgd asked polkit once for $CNAME" 1 "$(memcgd_asks "$CNAME")"
assert_eq "no: memcgd took polkit's verdict (the query is not left behind)" 1 "$(memcgd_verdicts "$CNAME" "may not")"
check "no: the service is still up" memcgd_alive

# expect_registered PHASE DESC RESULT: the call registered a reclaimer,
# owned by the caller's connection.
expect_registered() {
        case $3 in
        "ok /org/memcgd1/reclaimer/"*)
                pass "$1: $2 (${3#ok })"
                assert_eq "$1: the reclaimer belongs to the caller's connection" "$CNAME" "$(owner_of "${3#ok }")" ;;
        *) fail "$1: $2" "got: $3" ;;
        esac
}

say "== the same process, now inside $CG, calls again"
touch "$BUS_TMP/second.no"
expect_registered no "a second call from inside $CG registers without polkit" "$(result_of second)"
assert_eq "no: polkit was not asked again" 1 "$(asks_for "$CPID")"
assert_eq "no: memcgd did not ask polkit again" 1 "$(memcgd_asks "$CNAME")"
client_stop no

# ---------------------------------------------------------------------------
say "== polkit says yes; the caller moved into $CG meanwhile"
# A new caller, outside the cgroup again.
rm -f "$BUS_TMP/go"; echo yes >"$BUS_TMP/answer"
client_start yes
if in_cgroup "$CPID" "$CG"; then die "yes: the caller starts outside $CG"; fi
move_while_polkit_decides yes
expect_registered yes "the call registers a reclaimer" "$(result_of first)"
assert_eq "yes: the rule answered yes after the move" "1" "$(grep -c "memcgd-test-reclaim-answer pid=$CPID yes" "$BUS_TMP/polkitd.log")"
assert_eq "yes: polkit evaluated org.memcgd1.reclaim once for the call" 1 "$(asks_for "$CPID")"
assert_eq "yes: memcgd asked polkit once for $CNAME" 1 "$(memcgd_asks "$CNAME")"
assert_eq "yes: memcgd took polkit's verdict (the query is not left behind)" 1 "$(memcgd_verdicts "$CNAME" may)"
check "yes: the service is still up" memcgd_alive
client_stop yes

# ---------------------------------------------------------------------------
say "== polkit says yes; the caller stays outside $CG"
rm -f "$BUS_TMP/go"; echo yes >"$BUS_TMP/answer"
client_start out
if in_cgroup "$CPID" "$CG"; then die "out: the caller starts outside $CG"; fi
touch "$BUS_TMP/go"
res=$(result_of first)
case $res in
"ok /org/memcgd1/reclaimer/"*) pass "out: the call registers a reclaimer (${res#ok })" ;;
*) fail "out: the call registers a reclaimer" "got: $res" ;;
esac
assert_eq "out: polkit evaluated org.memcgd1.reclaim once for the call" 1 "$(asks_for "$CPID")"
assert_eq "out: memcgd took polkit's verdict" 1 "$(memcgd_verdicts "$CNAME" may)"
client_stop out
check "the service is still up" memcgd_alive
bus_finish
