#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# polkit failing under a pending authorization:
#   - polkitd stopped (SIGSTOP) while an unprivileged caller's Monitor
#     waits for it: root is still served at once (the bus thread never
#     blocks on polkit); then polkitd is SIGKILLed: the caller gets
#     AccessDenied, nothing changed; a new polkitd authorizes again;
#   - callers that disconnect while their authorization is pending, in
#     rounds, then polkitd answers (or dies): no crash, no reply to the
#     dead, nothing monitored, and no leak: the daemon's RSS stays flat
#     (and an ASan build's LeakSanitizer reports nothing at exit,
#     lib.sh's sanitizer_check).
. "$(dirname "$0")/lib-fault.sh"

DENIED=org.freedesktop.DBus.Error.AccessDenied
BUS_USER=memcgd-fault-$$
BUS_USER_TEMPORARY=1
BUS_NO_DAEMON=1
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
ROUNDS=${FAULT_POLKIT_ROUNDS:-5}
CLIENTS=${FAULT_POLKIT_CLIENTS:-20}

fault_require
bus_setup
fake_setup
for c in p1 p2 r1 r2; do fake_cgroup "/$c" $((10 * MIB)); done
for i in $(seq "$CLIENTS"); do fake_cgroup "/d$i" $((10 * MIB)); done
memcgd_start --root="$FAKE" --budget=4G

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$MEMCGD_PID/status"; }
asked() { grep -c "Asked polkit whether" "$BUS_TMP/memcgd.log"; }
stopped_state() { [ "$(awk '{ print $3 }' "/proc/$BUS_POLKIT_PID/stat" 2>/dev/null)" = T ]; }

# ---------------------------------------------------------------------------
say "== polkitd stopped, then killed, in the middle of a query"
kill -STOP "$BUS_POLKIT_PID"
wait_for "stopped" 5 stopped_state || die "polkitd did not stop"
a0=$(asked)
t0=$(date +%s%N)
( as_user dbus-send --system --print-reply --reply-timeout=60000 --dest="$BUS_NAME" "$BUS_MANAGER" \
        "$BUS_IFACE.Monitor" string:/p1 uint64:$((64 * MIB)) >"$BUS_TMP/pending.out" 2>&1; echo "rc $?" >>"$BUS_TMP/pending.out" ) &
PENDING=$!
BUS_PIDS+=("$PENDING")
wait_for "asked" 10 bash -c '[ "$(grep -c "Asked polkit whether" "$0")" -gt "$1" ]' "$BUS_TMP/memcgd.log" "$a0" ||
        fail "memcgd asked polkit about the caller's Monitor" "$(tail -n 5 "$BUS_TMP/memcgd.log")"
ts=$(date +%s%N)
mgr root Monitor st /r1 $((64 * MIB)) >/dev/null && pass "root's Monitor is served while polkitd is stopped" ||
        fail "root's Monitor is served while polkitd is stopped" "$(cat "$BUS_TMP/last.err")"
mgr user ListMonitored >/dev/null && pass "the caller's reads are served while polkitd is stopped" ||
        fail "the caller's reads are served while polkitd is stopped" "$(cat "$BUS_TMP/last.err")"
say "   root and reads answered in $(( ($(date +%s%N) - ts) / 1000000 )) ms with polkitd stopped"
sleep 0.5
if kill -0 "$PENDING" 2>/dev/null; then pass "the caller's Monitor is still pending"; else
        fail "the caller's Monitor is still pending" "$(cat "$BUS_TMP/pending.out")"; fi
kill -KILL "$BUS_POLKIT_PID"; wait "$BUS_POLKIT_PID" 2>/dev/null; BUS_POLKIT_PID=
wait_for "reply" 40 bash -c '! kill -0 "$0" 2>/dev/null' "$PENDING"
out=$(cat "$BUS_TMP/pending.out")
say "   the pending caller was answered $(( ($(date +%s%N) - t0) / 1000000 )) ms after its call: ${out//$'\n'/ }"
assert_contains "polkitd killed mid-query: the caller gets AccessDenied" "$out" "Error $DENIED"
if is_listed /p1; then fail "/p1 was not monitored by the denied call"; else pass "/p1 was not monitored by the denied call"; fi
check "memcgd is still serving root" memcgd_serves
mgr root Monitor st /r2 $((64 * MIB)) >/dev/null && pass "root's Monitor works with polkitd gone" ||
        fail "root's Monitor works with polkitd gone" "$(cat "$BUS_TMP/last.err")"
expect_error "with polkitd gone, a caller's Monitor is denied at once" "$DENIED" "" user Monitor string:/p1 uint64:$((64 * MIB))

say "== a new polkitd authorizes again"
polkit_start
polkit_add_rule "50-memcgd-fault-$$.rules" "polkit.addRule(function(action, subject) {
    if (action.id.indexOf(\"org.memcgd1.\") == 0 && subject.user == \"$BUS_USER\")
        return polkit.Result.YES;
});"
mgr user Monitor st /p1 $((64 * MIB)) >/dev/null && pass "the caller's Monitor is authorized by the new polkitd" ||
        fail "the caller's Monitor is authorized by the new polkitd" "$(cat "$BUS_TMP/last.err")"
mgr user Unmonitor s /p1 >/dev/null || fail "Unmonitor /p1" "$(cat "$BUS_TMP/last.err")"

# ---------------------------------------------------------------------------
say "== callers leaving while their authorization is pending ($ROUNDS rounds x $CLIENTS callers)"
rss0=$(rss_kib)
verdicts() { grep -cE "polkit: :[0-9.]+ (may|may not) org.memcgd1.monitor" "$BUS_TMP/memcgd.log"; }
v0=$(verdicts)
abandoned=0
for round in $(seq "$ROUNDS"); do
        kill -STOP "$BUS_POLKIT_PID"
        wait_for "stopped" 5 stopped_state || die "polkitd did not stop"
        a0=$(asked)
        pids=()
        for i in $(seq "$CLIENTS"); do
                as_user busctl call --timeout=60 "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" Monitor st "/d$i" $((64 * MIB)) \
                        >/dev/null 2>&1 &
                pids+=($!)
        done
        if ! wait_for "asked" 20 bash -c '[ "$(grep -c "Asked polkit whether" "$0")" -ge "$1" ]' "$BUS_TMP/memcgd.log" $((a0 + CLIENTS)); then
                fail "round $round: all $CLIENTS queries reached polkit" "asked $(( $(asked) - a0 ))"
        fi
        kill -KILL "${pids[@]}" 2>/dev/null
        wait "${pids[@]}" 2>/dev/null
        abandoned=$((abandoned + CLIENTS))
        if [ $((round % 2)) = 1 ]; then
                # polkitd answers for callers that are gone.
                kill -CONT "$BUS_POLKIT_PID"
        else
                # polkitd dies with the callers' queries in it.
                kill -KILL "$BUS_POLKIT_PID"; wait "$BUS_POLKIT_PID" 2>/dev/null; BUS_POLKIT_PID=
                polkit_start
        fi
        check "round $round: memcgd is still serving" memcgd_serves
done
sleep 1
# The rule allows the user: a query polkitd answers after its caller left
# is carried out like a call whose caller does not wait for the reply
# (polkit resolved the caller's bus name while it was connected); one
# lost with polkitd is denied. Either way the reply goes nowhere.
n=$(monitored_paths | grep -c '^/d' || true)
say "   abandoned Monitors carried out (polkitd answered after the caller left): $n; denied: $(grep -c 'polkit could not check' "$BUS_TMP/memcgd.log")"
wait_for "verdicts" 10 bash -c '[ "$(grep -cE "polkit: :[0-9.]+ (may|may not) org.memcgd1.monitor" "$0")" -ge "$1" ]' \
        "$BUS_TMP/memcgd.log" $((v0 + abandoned))
assert_eq "every abandoned query got its verdict (allowed or denied), none hangs" "$abandoned" "$(( $(verdicts) - v0 ))"
for i in $(seq "$CLIENTS"); do
        is_listed "/d$i" && { mgr root Unmonitor s "/d$i" >/dev/null || fail "Unmonitor /d$i" "$(cat "$BUS_TMP/last.err")"; }
done
mgr user Monitor st /d1 $((64 * MIB)) >/dev/null && pass "a caller that stays is still authorized" ||
        fail "a caller that stays is still authorized" "$(cat "$BUS_TMP/last.err")"
rss1=$(rss_kib)
say "   memcgd RSS: $rss0 KiB before, $rss1 KiB after $abandoned abandoned authorizations"
if ldd "$MEMCGD_BIN" 2>/dev/null | grep -qE 'libasan|libtsan'; then
        # A sanitizer's quarantine keeps freed memory: LeakSanitizer at exit
        # (lib.sh's sanitizer_check) is the leak check there.
        say "   (sanitizer build: RSS not compared; LeakSanitizer checks at exit)"
elif [ "$rss1" -le $((rss0 + 4096)) ]; then pass "RSS flat across $abandoned abandoned authorizations (+$((rss1 - rss0)) KiB)"; else
        fail "RSS flat across $abandoned abandoned authorizations" "grew by $((rss1 - rss0)) KiB"; fi
grep -E "polkit could not check|Failed to re-dispatch" "$BUS_TMP/memcgd.log" | sed 's/^<[0-9]>//' | sort | uniq -c | sort -rn | head -n 4 | sed 's/^/   log: /'
# ---------------------------------------------------------------------------
FLOOD=${FAULT_POLKIT_FLOOD:-160}
say "== a flood of $FLOOD changing calls while polkitd is stalled"
# The bus caps the calls one connection has waiting for replies
# (max_replies_per_connection): memcgd's queries to polkit beyond it fail
# at once and are denied. Every caller gets an answer; root is served.
polkit_remove_rule "50-memcgd-fault-$$.rules"
kill -STOP "$BUS_POLKIT_PID"
wait_for "stopped" 5 stopped_state || die "polkitd did not stop"
pids=()
for i in $(seq "$FLOOD"); do
        as_user busctl call --timeout=60 "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" Monitor st /p2 $((64 * MIB)) \
                >"$BUS_TMP/flood.$i" 2>&1 &
        pids+=($!)
done
sleep 5
limited=$(grep -c 'LimitsExceeded' "$BUS_TMP/memcgd.log")
say "   queries refused by the bus's limit, denied at once: $limited"
mgr root ListMonitored >/dev/null && pass "root is served during the flood" || fail "root is served during the flood" "$(cat "$BUS_TMP/last.err")"
kill -CONT "$BUS_POLKIT_PID"
wait "${pids[@]}" 2>/dev/null
answered=$(cat "$BUS_TMP"/flood.* | grep -ciE 'access denied|interactive|authoriz' || true)
assert_eq "every one of the $FLOOD flooding callers got a denial" "$FLOOD" "$answered"
if is_listed /p2; then fail "the flood monitored nothing"; else pass "the flood monitored nothing"; fi
check "memcgd is still serving at the end" memcgd_serves
say "polkitd killed mid-query: $((ROUNDS / 2 + 1)) times; authorizations abandoned by their callers: $abandoned; flood of $FLOOD: $limited refused by the bus limit"
bus_finish
