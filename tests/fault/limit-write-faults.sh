#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults from cgroupfs on the limit files: the real daemon on a private bus
# runs on a fake cgroupfs tree (--root) under the injection shim, and the
# kernel's answers EBUSY, EINTR, ENOSPC and short writes are made to
# happen on memory.max / memory.high / memory.events / memory.current at
# chosen moments (Monitor, SetInitialLimit, a grow). The service must stay
# up, log the failure, answer the call that hit it with a clear D-Bus
# error naming the cgroup, keep its books (GrantedBytes) and the limits
# consistent (max written before high, never below usage), and work again
# once the fault is gone - on its own where the kernel will not tell it
# again. Last, the state file cannot be written (ENOSPC on the state
# directory): a Monitor that was answered must still reach the file once
# the disk has room again.
. "$(dirname "$0")/lib-fault.sh"

FAILED=org.freedesktop.DBus.Error.Failed
BELOW=org.memcgd1.Error.LimitBelowUsage
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
BUS_NO_DAEMON=1
BUS_NO_POLKIT=1

fault_require
bus_setup
fault_wrap
fake_setup
for c in c1 c2 c3 c4 c5 c6; do fake_cgroup "/$c" $((10 * MIB)); done
memcgd_start --root="$FAKE" --budget=1G

granted() { mgr_property GrantedBytes; }
cg_prop() { busctl --json=short get-property "$BUS_NAME" "$(object_path_of "$1")" "$BUS_CGROUP_IFACE" "$2" 2>&1 | jget data 2>&1; }

# ---------------------------------------------------------------------------
say "== Monitor while memory.max refuses the write (ENOSPC)"
g0=$(granted)
inject_arm "memory.max:ENOSPC:1"
expect_error "Monitor(/c1) with ENOSPC on memory.max: Failed, naming the cgroup and the cause" \
        "$FAILED" "'/c1' failed: No space left on device" root Monitor string:/c1 uint64:$((64 * MIB))
assert_eq "the fault was injected once" 1 "$(inject_count ENOSPC)"
check "memcgd is still serving" memcgd_serves
if line=$(grep -E -m1 "/c1.*No space left on device" "$BUS_TMP/memcgd.log"); then
        pass "the failure is logged (not only told to the caller): \"${line:0:140}\""
else
        fail "the failure is logged (not only told to the caller)" \
                "nothing in the log names /c1 and ENOSPC: manager.c apply_event() answers a failed request without logging it," \
                "and the worker's start() does not log the failed write either"
fi
assert_eq "GrantedBytes is back where it was (the grant was returned)" "$g0" "$(granted)"
if is_listed /c1; then fail "/c1 is not listed as monitored after the failed Monitor"; else pass "/c1 is not listed as monitored after the failed Monitor"; fi
assert_eq "memory.max of /c1 untouched" max "$(fake_read /c1 memory.max)"
assert_eq "memory.high of /c1 untouched (never written without max)" max "$(fake_read /c1 memory.high)"
if wait_signal 5 MonitorStopped /c1 $'\terror$'; then pass "MonitorStopped(/c1, error) announced"; else
        fail "MonitorStopped(/c1, error) announced" "recorded: $(signals MonitorStopped)"; fi
mgr root Monitor st /c1 $((64 * MIB)) >/dev/null && pass "Monitor(/c1) again, the fault gone: success" ||
        fail "Monitor(/c1) again, the fault gone: success" "$(cat "$BUS_TMP/last.err")"
fake_consistent "after the retried Monitor" /c1
assert_eq "GrantedBytes counts /c1 once" $((g0 + 64 * MIB)) "$(granted)"

# ---------------------------------------------------------------------------
say "== Monitor through EINTR on the limit writes and the reads"
inject_arm "memory.max:EINTR:2,memory.high:EINTR:2,memory.current@read:EINTR:2,memory.events@read:EINTR:2"
mgr root Monitor st /c2 $((64 * MIB)) >/dev/null && pass "Monitor(/c2) succeeds through EINTR (the calls are retried)" ||
        fail "Monitor(/c2) succeeds through EINTR (the calls are retried)" "$(cat "$BUS_TMP/last.err")"
assert_u64 "EINTR was injected (at least the 4 limit writes)" "$(inject_count EINTR)" -ge 4
fake_consistent "after Monitor through EINTR" /c2
# The worker's own reads on the breach, each interrupted twice.
e0=$(inject_count "EINTR .*/c2/memory.(events|current)")
inject_arm "*/c2/memory.current@read:EINTR:2,*/c2/memory.events@read:EINTR:2,*/c2/memory.max@write:EINTR:1"
fake_breach /c2
if wait_signal 5 LimitChanged /c2 $'\tgrow$'; then pass "/c2 grows on a breach seen through EINTR on memory.events and memory.current ($(( $(inject_count "EINTR .*/c2/memory.(events|current)") - e0 )) reads interrupted)"; else
        fail "/c2 grows on a breach seen through EINTR on memory.events and memory.current" "LimitChanged: $(signals LimitChanged /c2)" "$(tail -n 5 "$BUS_TMP/memcgd.log")"; fi
fake_consistent "after a grow through EINTR" /c2
inject_arm ""

# ---------------------------------------------------------------------------
say "== SetInitialLimit while memory.max answers EBUSY (the kernel could not reclaim)"
fake_usage /c3 $((10 * MIB))
mgr root Monitor st /c3 $((96 * MIB)) >/dev/null || fail "Monitor(/c3)" "$(cat "$BUS_TMP/last.err")"
g1=$(granted)
inject_arm "memory.max:EBUSY:1"
call_error root SetInitialLimit string:/c3 uint64:$((48 * MIB))
assert_eq "SetInitialLimit(/c3, 48M) with EBUSY: LimitBelowUsage ($ERR_MSG)" "$BELOW" "$ERR_NAME"
assert_contains "the message names the cgroup" "$ERR_MSG" "'/c3'"
assert_contains "the message says the kernel could not reclaim (EBUSY)" "$ERR_MSG" "EBUSY"
assert_eq "memory.max of /c3 unchanged" $((96 * MIB)) "$(fake_read /c3 memory.max)"
assert_eq "MaxLimitBytes unchanged" $((96 * MIB)) "$(cg_prop /c3 MaxLimitBytes)"
assert_eq "GrantedBytes unchanged" "$g1" "$(granted)"
mgr root SetInitialLimit st /c3 $((48 * MIB)) >/dev/null && pass "SetInitialLimit(/c3, 48M) again: success" ||
        fail "SetInitialLimit(/c3, 48M) again: success" "$(cat "$BUS_TMP/last.err")"
assert_eq "GrantedBytes gave 48M back" $((g1 - 48 * MIB)) "$(granted)"
fake_consistent "after the retried SetInitialLimit" /c3

say "== SetInitialLimit while memory.max answers ENOSPC"
g1=$(granted)
inject_arm "memory.max:ENOSPC:1"
expect_error "SetInitialLimit(/c3, 80M) with ENOSPC: Failed, naming the cgroup and the cause" \
        "$FAILED" "'/c3' failed: No space left on device" root SetInitialLimit string:/c3 uint64:$((80 * MIB))
assert_eq "memory.max of /c3 unchanged" $((48 * MIB)) "$(fake_read /c3 memory.max)"
assert_eq "GrantedBytes unchanged (the 32M taken for the raise went back)" "$g1" "$(granted)"
mgr root SetInitialLimit st /c3 $((80 * MIB)) >/dev/null && pass "SetInitialLimit(/c3, 80M) again: success" ||
        fail "SetInitialLimit(/c3, 80M) again: success" "$(cat "$BUS_TMP/last.err")"
fake_consistent "after the retried raise" /c3
check "memcgd is still serving" memcgd_serves

# ---------------------------------------------------------------------------
# grow_fault CG SPEC WHAT: a breach whose raise fails once (SPEC), then
# nothing changes: usage stays above the line. On v1 a threshold fires
# once per crossing, and on a fake tree nothing moves again: without a
# retry of its own the worker waits for an event that will not come
# while usage runs on to max (on v1: an OOM kill).
# PRE: a rule armed for the Monitor (and disarmed after it).
grow_fault() {
        local cg=$1 spec=$2 what=$3 pre=${4:-} g before
        [ -z "$pre" ] || inject_arm "$pre"
        mgr root Monitor st "$cg" $((64 * MIB)) >/dev/null || fail "Monitor($cg)" "$(cat "$BUS_TMP/last.err")"
        g=$(granted)
        before=$(grep -c "^inject .*$cg/memory.max" "$BUS_TMP/inject.log")
        inject_arm "$spec"
        fake_breach "$cg"
        wait_for "fault" 5 bash -c '[ "$(grep -c "^inject .*$0/memory.max" "$1")" -gt "$2" ]' "$cg" "$BUS_TMP/inject.log" "$before"
        assert_eq "$cg: the grow's memory.max $what" 1 "$(($(grep -c "^inject .*$cg/memory.max" "$BUS_TMP/inject.log") - before))"
        log_has "$cg: the failed raise is logged" "$cg: raising the limit failed"
        check "memcgd is still serving" memcgd_serves
        # The failed raise gave its grant back; a retry may have raised it since.
        assert_eq "$cg: GrantedBytes follows the limit actually written" $((g + $(fake_read "$cg" memory.max) - 64 * MIB)) "$(granted)"
        if wait_signal 5 LimitChanged "$cg" $'\tgrow$'; then
                pass "$cg: the worker retried the raise by itself within 5 s (usage still above high, no new event)"
        else
                fail "$cg: the worker retried the raise by itself within 5 s (usage still above high, no new event)" \
                        "memory.max $(fake_read "$cg" memory.max), usage $(fake_read "$cg" memory.current), high $(fake_read "$cg" memory.high): stuck above the line" \
                        "worker.c grow(): a failed apply_limits() gives the grant back and schedules no retry"
        fi
        fake_breach "$cg"
        if wait_signal 5 LimitChanged "$cg" $'\tgrow$'; then pass "$cg: the next breach grows it (the fault gone)"; else
                fail "$cg: the next breach grows it (the fault gone)" "LimitChanged: $(signals LimitChanged "$cg")"; fi
        fake_consistent "$cg after the grow" "$cg"
}

say "== a grow whose memory.max write fails (EBUSY), with no further kernel event"
grow_fault /c4 "memory.max:EBUSY:1" "write got EBUSY"
say "== a grow whose memory.max cannot be opened (EMFILE: the fd table is full), no further event"
# Workers keep their limit files open; one that could not (the fd table
# was full at Monitor, or past memcgd's fd ceiling) opens them by name at
# every write, and that open can fail.
fake_cgroup /c8 $((10 * MIB))
grow_fault /c8 "memory.max@open:EMFILE:1" "open got EMFILE" "*/c8/memory.max@openw:EMFILE:1"
log_has "/c8: Monitor went on without memory.max kept open, and said so" "/c8: not every file kept open .*the limit is opened at each write"

# ---------------------------------------------------------------------------
say "== short writes on memory.high and memory.max"
# kernfs takes a write whole (a cgroup file's handler parses the buffer it
# was given and returns its full length), so a short write cannot happen
# on a real cgroup; if it did, what the kernel kept is the part written.
# What matters: the service never takes it for success, says so, and
# puts the limits right once it can.
inject_arm "memory.high:short:1"
# max was written whole: the limit holds, so the Monitor succeeds (the
# worker's write_limits() logs the high line's failure and goes on).
if mgr root Monitor st /c5 $((64 * MIB)) >/dev/null; then pass "Monitor(/c5) with a short memory.high write succeeds (max was written)"; else
        fail "Monitor(/c5) with a short memory.high write succeeds (max was written)" "$(cat "$BUS_TMP/last.err")"; fi
assert_eq "one short write injected" 1 "$(inject_count short)"
check "memcgd is still serving" memcgd_serves
h=$(fake_read /c5 memory.high)
if [ "$h" = "$(high_from_max "$(fake_read /c5 memory.max)")" ]; then
        pass "the short memory.high write was followed by the whole value ($h)"
elif grep -qE "/c5: max set to .* writing the high line failed: Input/output error" "$BUS_TMP/memcgd.log"; then
        pass "the short write is logged, not taken for success: $(grep -m1 -E "/c5: max set to" "$BUS_TMP/memcgd.log" | cut -c1-120)"
        note "after the short write memory.high of /c5 holds '$h' (the part written) until the next limit change;" \
             "HighLimitBytes says $(cg_prop /c5 HighLimitBytes). Hardening: write_string_at() could rewrite the whole value once on a short write."
else
        fail "a short memory.high write is either completed or reported" "memory.high holds '$h', nothing logged"
fi
fake_breach /c5
if wait_signal 5 LimitChanged /c5 $'\tgrow$'; then pass "/c5 grows on the next breach"; else
        fail "/c5 grows on the next breach" "LimitChanged: $(signals LimitChanged /c5)"; fi
fake_consistent "after the next limit change" /c5

inject_arm "memory.max:short:1"
g1=$(granted)
call_error root Monitor string:/c6 uint64:$((64 * MIB))
v=$(fake_read /c6 memory.max)
if [ "$ERR_NAME" = none ]; then
        if [ "$v" = $((64 * MIB)) ]; then
                pass "Monitor(/c6) with a short memory.max write: the whole value followed, success"
                assert_eq "GrantedBytes counts /c6" $((g1 + 64 * MIB)) "$(granted)"
        else
                fail "Monitor(/c6) with a short memory.max write is not a success with a partial limit" "memory.max holds '$v'"
        fi
else
        assert_contains "Monitor(/c6) with a short memory.max write: $ERR_NAME, naming the cgroup and the cause ($ERR_MSG)" "$ERR_MSG" "'/c6' failed: Input/output error"
        assert_eq "GrantedBytes unchanged" "$g1" "$(granted)"
        # The part of the value the short write left would be a limit below
        # usage, on a cgroup no worker watches: the failed Monitor puts the
        # limit from before back.
        assert_eq "memory.max of /c6 is back to what it was before the failed Monitor" max "$v"
fi
check "memcgd is still serving" memcgd_serves
inject_arm ""
mgr root Monitor st /c6 $((64 * MIB)) >/dev/null && pass "Monitor(/c6) again: success" ||
        fail "Monitor(/c6) again: success" "$(cat "$BUS_TMP/last.err")"
fake_consistent "after the retried Monitor" /c6

# ---------------------------------------------------------------------------
say "== the state file cannot be written (ENOSPC on the state directory)"
fake_cgroup /c7 $((10 * MIB))
inject_arm "*/state/.#state*@write:ENOSPC:inf"
mgr root Monitor st /c7 $((64 * MIB)) >/dev/null && pass "Monitor(/c7) answers while the state cannot be saved" ||
        fail "Monitor(/c7) answers while the state cannot be saved" "$(cat "$BUS_TMP/last.err")"
log_has "the failed save is logged" "Failed to save the monitored set.*No space left on device"
check "memcgd is still serving" memcgd_serves
inject_arm ""
if wait_for "state saved" 5 grep -q ' /c7$' "$BUS_TMP/state/state"; then
        pass "once the disk has room again, /c7 reaches the state file by itself"
else
        fail "once the disk has room again, /c7 reaches the state file by itself (within 5 s)" \
                "state file: $(grep -c '^monitor' "$BUS_TMP/state/state") monitor records, none for /c7" \
                "a SIGKILL now would lose /c7, which Monitor reported as monitored (README: saved before any reply leaves)" \
                "proposed: manager.c manager_save_state() arms a retry timer when the save fails"
fi

# ---------------------------------------------------------------------------
say "== SetInitialLimit overtaken by Unmonitor while the worker is busy in a write"
# The worker is stalled in a grow's memory.max write (the kernel reclaiming,
# say); a SetInitialLimit and then an Unmonitor for the cgroup arrive
# meanwhile. Both callers must be answered.
fake_cgroup /c9 $((10 * MIB))
mgr root Monitor st /c9 $((64 * MIB)) >/dev/null || fail "Monitor(/c9)" "$(cat "$BUS_TMP/last.err")"
inject_arm "*/c9/memory.max@write:delay=1500:1"
fake_breach /c9
wait_for "stall" 5 grep -q "^inject write delay .*/c9/memory.max" "$BUS_TMP/inject.log" ||
        fail "the worker of /c9 reached the stalled write"
( dsend root "$BUS_MANAGER" "$BUS_IFACE.SetInitialLimit" string:/c9 uint64:$((80 * MIB)) >"$BUS_TMP/setlimit.out" 2>&1
  echo "done" >>"$BUS_TMP/setlimit.out" ) &
SETLIMIT=$!
BUS_PIDS+=("$SETLIMIT")
sleep 0.2
mgr root Unmonitor s /c9 >/dev/null && pass "Unmonitor(/c9) while its worker is stalled: answered" ||
        fail "Unmonitor(/c9) while its worker is stalled: answered" "$(cat "$BUS_TMP/last.err")"
if wait_for "SetInitialLimit answered" 8 grep -q '^done' "$BUS_TMP/setlimit.out"; then
        pass "the overtaken SetInitialLimit(/c9) is answered: $(head -n 2 "$BUS_TMP/setlimit.out" | tr '\n' ' ' | cut -c1-160)"
else
        fail "the overtaken SetInitialLimit(/c9) is answered (within 8 s of the Unmonitor)" \
                "no reply: worker.c worker_main() reads and clears rebase_requested, then breaks out on stop_requested" \
                "without post_done() for the rebase's cookie; the caller waits for its timeout and manager.c keeps the Request forever"
fi
inject_arm ""
check "memcgd is still serving" memcgd_serves

# ---------------------------------------------------------------------------
say "== every limit write, in order"
check_trace "limit writes on the fake tree"
for c in /c1 /c2 /c3 /c4 /c5 /c6 /c8; do fake_consistent "at the end" "$c"; done
check "memcgd is still serving at the end" memcgd_serves

# ---------------------------------------------------------------------------
say "== real v1: a raise that fails twice while a child grows"
# The same retry on a real memcg: the fd table is full for a moment
# (EMFILE, what thousands of workers can run into) when the first grow
# opens memory.limit_in_bytes, for two attempts (microseconds apart). v1
# does not throttle: the child runs from high to max at full speed, and
# no threshold fires again below max.
memcgd_stop
rm -f "$BUS_TMP/state/state"
memcgd_start --budget=4G
memcg_create raise
# The fd table was full at Monitor too: the worker could not keep
# memory.limit_in_bytes open and opens it at each write.
inject_arm "*$MEMCG/memory.limit_in_bytes@openw:EMFILE:1"
mgr root Monitor st "$MEMCG" $((64 * MIB)) >/dev/null || die "Monitor $MEMCG" "$(cat "$BUS_TMP/last.err")"
inject_arm "*$MEMCG/memory.limit_in_bytes@open:EMFILE:2"
alloc_start "$MEMCG" 160 2 30
wait_for "child" 60 bash -c 'grep -q "^ready" "$0" || ! kill -0 "$1" 2>/dev/null' "$ALLOC_OUT" "$ALLOC_PID"
assert_u64 "EMFILE injected on the first raise attempt(s)" "$(inject_count "EMFILE .*$MEMCG/memory.limit_in_bytes")" -ge 1
if alloc_ready "$ALLOC_OUT"; then
        pass "the child reached 160 MiB in $MEMCG despite the failed raise (limit $(memcg_limit "$MEMCG"))"
else
        fail "the child reached 160 MiB in $MEMCG despite the failed raise" \
                "it stopped at: $(tail -n 1 "$ALLOC_OUT"), OOM kills $(memcg_oom_kills "$MEMCG"), limit $(memcg_limit "$MEMCG")" \
                "a failed raise and no timed retry: the child ran into the limit and the kernel killed it"
fi
alloc_stop "$ALLOC_PID"
check "memcgd is still serving" memcgd_serves

say "== real v1: a Monitor whose usage thresholds cannot be registered"
# cgroup.event_control refuses (ENOMEM): without thresholds nothing would
# tell the worker of a breach, so the Monitor fails - and the limit it
# wrote first goes, rather than stay fixed with nobody to raise it.
memcg_create noladder
before=$(memcg_limit "$MEMCG")
g0=$(granted)
inject_arm "*$MEMCG/cgroup.event_control@write:ENOMEM:1"
expect_error "Monitor($MEMCG) with ENOMEM on cgroup.event_control: Failed, naming the cgroup and the file" \
        "$FAILED" "'$MEMCG' (cgroup.event_control): Cannot allocate memory" root Monitor string:"$MEMCG" uint64:$((64 * MIB))
assert_eq "the fault was injected once" 1 "$(inject_count "ENOMEM .*$MEMCG/cgroup.event_control")"
assert_eq "memory.limit_in_bytes of $MEMCG is back to what it was" "$before" "$(memcg_limit "$MEMCG")"
assert_eq "GrantedBytes is back where it was" "$g0" "$(granted)"
if grep -qE "$MEMCG\).*Cannot allocate memory|registration.*$MEMCG|$MEMCG.*cgroup.event_control" "$BUS_TMP/memcgd.log"; then
        pass "the failure is logged: $(grep -m1 -E "$MEMCG.*event_control" "$BUS_TMP/memcgd.log" | cut -c1-140)"
else
        fail "the failure is logged" "nothing in the log names $MEMCG and cgroup.event_control"
fi
inject_arm ""
mgr root Monitor st "$MEMCG" $((64 * MIB)) >/dev/null && pass "Monitor($MEMCG) again, the fault gone: success" ||
        fail "Monitor($MEMCG) again, the fault gone: success" "$(cat "$BUS_TMP/last.err")"

say "== real v1: threshold ladders the registrar cannot register are asked for again"
# Every registration a grow asks for fails for a while (the first one of
# each ladder: the whole ladder fails). The worker must ask again on its
# own, not only at its next limit change, and the child still grows.
memcg_create ladderfail
mgr root Monitor st "$MEMCG" $((64 * MIB)) >/dev/null || die "Monitor $MEMCG" "$(cat "$BUS_TMP/last.err")"
inject_arm "*$MEMCG/cgroup.event_control@write:ENOMEM:3"
alloc_start "$MEMCG" 160 2 30
wait_for "child" 60 bash -c 'grep -q "^ready" "$0" || ! kill -0 "$1" 2>/dev/null' "$ALLOC_OUT" "$ALLOC_PID"
assert_u64 "ENOMEM injected on ladder registrations" "$(inject_count "ENOMEM .*$MEMCG/cgroup.event_control")" -ge 1
if line=$(grep -m1 -E "$MEMCG: registering usage thresholds failed \(1 in a row\): Cannot allocate memory; asking again" "$BUS_TMP/memcgd.log"); then
        pass "the failed ladder is logged with its retry: \"${line:0:150}\""
else
        fail "the failed ladder is logged with its retry" "log: $(grep -E "$MEMCG" "$BUS_TMP/memcgd.log" | tail -n 3)"
fi
if alloc_ready "$ALLOC_OUT"; then
        pass "the child reached 160 MiB in $MEMCG despite the failed registrations (limit $(memcg_limit "$MEMCG"), OOM kills $(memcg_oom_kills "$MEMCG"))"
else
        fail "the child reached 160 MiB in $MEMCG despite the failed registrations" \
                "it stopped at: $(tail -n 1 "$ALLOC_OUT"), OOM kills $(memcg_oom_kills "$MEMCG"), limit $(memcg_limit "$MEMCG")"
fi
assert_eq "no OOM kill in $MEMCG" 0 "$(memcg_oom_kills "$MEMCG")"
alloc_stop "$ALLOC_PID"
inject_arm ""
check "memcgd is still serving" memcgd_serves

say "faults injected: $(inject_count) ($(inject_summary))"
[ "$FAULT_NOTES" -eq 0 ] || say "notes (not failures): $FAULT_NOTES"
bus_finish
