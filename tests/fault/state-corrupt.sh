#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A damaged state file: memcgd must start, log every line it ignored (with
# its number and why), re-attach what is intact and remember what is
# intact. Damage: bad records of every kind mixed into a good file; the
# last line cut (no newline); the file cut at random offsets; a wrong
# header; random bytes; an empty file; a state "file" that cannot be read
# at all (which must then be left alone, not overwritten with a subset).
. "$(dirname "$0")/lib-fault.sh"

BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
BUS_NO_DAEMON=1
BUS_NO_POLKIT=1
CUTS=${FAULT_STATE_CUTS:-8}

fault_require
bus_setup
fake_setup
for i in 1 2 3 4 5 6; do fake_cgroup "/s$i" $((10 * MIB)); done
MEMCGD_ARGS=(--root="$FAKE" --budget=4G)
memcgd_start
for i in 1 2 3 4; do
        mgr root Monitor st "/s$i" $(((32 + 8 * i) * MIB)) >/dev/null || die "Monitor /s$i" "$(cat "$BUS_TMP/last.err")"
done
mgr root SetOomPolicy ss /s2 grow >/dev/null || fail "SetOomPolicy /s2 grow" "$(cat "$BUS_TMP/last.err")"
mgr root SetInitialLimit st /s5 $((40 * MIB)) >/dev/null || die "SetInitialLimit /s5" "$(cat "$BUS_TMP/last.err")"
memcgd_stop
STATE="$BUS_TMP/state/state"
cp "$STATE" "$BUS_TMP/state.good"
say "   the good state file:"
sed 's/^/     | /' "$STATE"

ignored_total=0
starts=0
# start_on DESC: starts memcgd on the state file as it is now; sets LOG to
# what this start logged.
start_on() {
        local from
        from=$(wc -l <"$BUS_TMP/memcgd.log")
        memcgd_start
        starts=$((starts + 1))
        sleep 0.2
        LOG=$(tail -n +"$((from + 1))" "$BUS_TMP/memcgd.log")
        check "$1: memcgd starts and serves" memcgd_serves
}

remembered_works() { # CG BYTES: Monitor(CG, 0) uses the remembered limit
        mgr root Monitor st "$1" 0 >/dev/null && [ "$(fake_read "$1" memory.max)" = "$2" ]
}

reset_limits() { # the kernel side as the good run left it
        for i in 1 2 3 4; do fake_write "/s$i" memory.max $(((32 + 8 * i) * MIB)); done
        fake_write /s5 memory.max max
}

# ---------------------------------------------------------------------------
say "== bad records of every kind among good ones"
{
        head -n 2 "$BUS_TMP/state.good"
        echo "monitor 1 2"                                   # 3: field count
        echo "monitor x 2 3 /s6"                             # 4: not a number
        echo "monitor 1 2 3 /a/../b"                         # 5: path rules
        echo "monitor 1 2 3 /bad\\xZZ"                       # 6: bad escape
        echo "bogus record /s6"                              # 7: unknown type
        echo "remember 0 /s6"                                # 8: limit 0
        echo "oom-policy freeze /s6"                         # 9: no monitor record
        printf 'monitor 1 2 3 /s6\0junk\n'                  # 10: NUL byte
        head -c 10000 /dev/zero | tr '\0' a; echo            # 11: 10,000 bytes
        echo "monitor 99999999999999999999999 2 3 /s6"       # 12: out of range
        echo "oom-policy sideways /s2"                       # 13: unknown policy
        tail -n +3 "$BUS_TMP/state.good"                     # the good records
        grep '^monitor .* /s1$' "$BUS_TMP/state.good"        # a duplicate
} >"$STATE"
nbad=11
start_on "bad records"
n=$(grep -c 'State file line [0-9]* ignored\|State file line [0-9]* contains a NUL' <<<"$LOG")
assert_eq "each of the $nbad bad records (and the duplicate) is logged with its line number" $((nbad + 1)) "$n"
grep -E 'State file line' <<<"$LOG" | sed 's/^<[0-9]>memcgd: /   log: /' | cut -c1-150
ignored_total=$((ignored_total + n))
for l in 3 4 5 6 7 8 9 10 11 12 13; do
        grep -q "line $l " <<<"$LOG" || fail "line $l is named in the log"
done
assert_contains "a summary says the rest was kept" "$LOG" "damaged line(s)"
assert_eq "the four good cgroups are re-attached" "$(printf '/s%s\n' 1 2 3 4)" "$(monitored_paths)"
assert_eq "/s2 kept its OOM policy (grow)" grow "$(busctl --json=short get-property "$BUS_NAME" "$(object_path_of /s2)" "$BUS_CGROUP_IFACE" OomPolicy | jget data)"
check "/s5's remembered start limit (40M) was kept" remembered_works /s5 $((40 * MIB))
if is_listed /s6; then fail "/s6 (only in bad records) is not monitored"; else pass "/s6 (only in bad records) is not monitored"; fi
memcgd_stop
if grep -qE 'bogus|/a/\.\./b|aaaaaaaa' "$STATE"; then fail "the next save dropped the bad records" "$(head -n 5 "$STATE")"; else
        pass "the next save dropped the bad records"; fi

# ---------------------------------------------------------------------------
say "== the last line cut off (no newline)"
reset_limits
head -c -5 "$BUS_TMP/state.good" >"$STATE"
lastpath=$(tail -n 1 "$BUS_TMP/state.good" | awk '{ print $NF }')
start_on "last line cut"
assert_contains "the cut line is logged as truncated" "$LOG" "is truncated (no newline)"
ignored_total=$((ignored_total + 1))
want=$(grep '^monitor ' "$BUS_TMP/state.good" | grep -v " $lastpath\$" | awk '{ print $NF }' | sort)
assert_eq "every complete monitor record is re-attached" "$want" "$(monitored_paths)"
memcgd_stop

# ---------------------------------------------------------------------------
say "== the file cut at $CUTS random offsets"
size=$(stat -c %s "$BUS_TMP/state.good")
for k in $("$PYTHON" -c "import random,sys; n=int(sys.argv[1]); print(' '.join(str(x) for x in sorted(random.sample(range(0, n), min(int(sys.argv[2]), n)))))" "$size" "$CUTS"); do
        reset_limits
        rm -f "$STATE"
        head -c "$k" "$BUS_TMP/state.good" >"$STATE"
        # What must survive: the monitor records whose newline is within
        # the first k bytes, if the header line is complete.
        want=$("$PYTHON" -c '
import sys
data = open(sys.argv[1], "rb").read()[: int(sys.argv[2])]
lines = data.split(b"\n")[:-1]
if b"memcgd-state 1" in lines:
    for l in lines:
        if l.startswith(b"monitor "):
            print(l.split(b" ")[-1].decode())' "$BUS_TMP/state.good" "$k" | sort)
        start_on "cut at byte $k of $size"
        assert_eq "cut at byte $k: the complete records are re-attached ($(echo $want | wc -w))" "$want" "$(monitored_paths)"
        ignored_total=$((ignored_total + $(grep -c 'is truncated\|does not start with' <<<"$LOG")))
        memcgd_stop
done

# ---------------------------------------------------------------------------
# stop_unsaved: SIGTERM when the state could not be used at start; the
# final save is refused then, so the status is 1 (as for an unreadable
# file, below).
stop_unsaved() {
        local pid=$MEMCGD_PID
        kill -TERM "$pid"
        if memcgd_wait_exit 20; then
                assert_eq "memcgd stops on SIGTERM, status 1 (its final save refused)" 1 "$MEMCGD_RC"
        else
                fail "memcgd stops on SIGTERM"
                kill -KILL "$pid"; wait "$pid" 2>/dev/null; MEMCGD_PID=
        fi
}

say "== a wrong header, random bytes, an empty file"
reset_limits
{ echo "memcgd-state 2"; tail -n +3 "$BUS_TMP/state.good"; } >"$STATE"
cp "$STATE" "$BUS_TMP/state.v2"
start_on "wrong header"
assert_contains "the wrong header is logged, and that all of it is ignored" "$LOG" "ignoring all of it"
assert_contains "the file is logged as left alone" "$LOG" "does not start with a known version header; starting with nothing monitored and leaving the file alone"
assert_eq "nothing is re-attached from a file of another format" "" "$(monitored_paths)"
if cmp -s "$STATE" "$BUS_TMP/state.v2"; then pass "a wrong header: the file is left byte for byte as it was"; else
        fail "a wrong header: the file is left byte for byte as it was" "$(head -n 5 "$STATE")"; fi
mgr root Monitor st /s6 $((64 * MIB)) >/dev/null && pass "a wrong header: Monitor still works" || fail "a wrong header: Monitor still works" "$(cat "$BUS_TMP/last.err")"
if cmp -s "$STATE" "$BUS_TMP/state.v2"; then pass "a wrong header: a Monitor does not save over it either"; else
        fail "a wrong header: a Monitor does not save over it either" "$(head -n 5 "$STATE")"; fi
ignored_total=$((ignored_total + 1))
stop_unsaved
if cmp -s "$STATE" "$BUS_TMP/state.v2"; then pass "a wrong header: still unchanged after SIGTERM"; else
        fail "a wrong header: still unchanged after SIGTERM" "$(head -n 5 "$STATE")"; fi
fake_write /s6 memory.max max

head -c 4096 /dev/urandom >"$STATE"
cp "$STATE" "$BUS_TMP/state.random"
start_on "random bytes"
if grep -qE 'State file' <<<"$LOG"; then pass "the random bytes are logged as ignored: $(grep -m1 -E 'State file' <<<"$LOG" | cut -c1-120)"; else
        fail "the random bytes are logged as ignored" "$LOG"; fi
assert_eq "nothing is re-attached from random bytes" "" "$(monitored_paths)"
ignored_total=$((ignored_total + 1))
if grep -q 'does not start with' <<<"$LOG"; then
        stop_unsaved
        if cmp -s "$STATE" "$BUS_TMP/state.random"; then pass "random bytes: the file is left as it was"; else
                fail "random bytes: the file is left as it was"; fi
else
        memcgd_stop # no complete line at all: nothing to lose
fi

: >"$STATE"
start_on "empty file"
assert_eq "nothing is re-attached from an empty file" "" "$(monitored_paths)"
memcgd_stop

# ---------------------------------------------------------------------------
say "== a state that cannot be read at all"
rm -f "$STATE"
mkdir "$STATE"
cp "$BUS_TMP/state.good" "$STATE/keep"
start_on "unreadable state"
assert_contains "the unreadable state is logged" "$LOG" "Failed to read"
mgr root Monitor st /s6 $((64 * MIB)) >/dev/null && pass "Monitor still works" || fail "Monitor still works" "$(cat "$BUS_TMP/last.err")"
if [ -d "$STATE" ] && [ -f "$STATE/keep" ]; then pass "what could not be read is left alone (not replaced by a subset)"; else
        fail "what could not be read is left alone" "$(ls -la "$BUS_TMP/state")"; fi
assert_contains "the refusal to save is logged" "$(cat "$BUS_TMP/memcgd.log")" "Not saving the monitored set"
# SIGTERM: the final save is refused too, which memcgd reports in its
# exit status (systemd then marks the stop as failed).
kill -TERM "$MEMCGD_PID"
if memcgd_wait_exit 20; then
        # The final save is refused: exit status 1, so systemd marks the
        # stop failed until an admin fixes the file.
        assert_eq "memcgd stops on SIGTERM with a state it could not read, status 1 (its final save refused)" 1 "$MEMCGD_RC"
else
        fail "memcgd stops on SIGTERM with a state it could not read"
        kill -KILL "$MEMCGD_PID"; wait "$MEMCGD_PID" 2>/dev/null; MEMCGD_PID=
fi
rm -rf "$STATE"
cp "$BUS_TMP/state.good" "$STATE"
reset_limits
start_on "the good file again"
assert_eq "the good file re-attaches all four" "$(printf '/s%s\n' 1 2 3 4)" "$(monitored_paths)"
memcgd_stop

# ---------------------------------------------------------------------------
say "== entries that cannot be re-attached now (dormant), kept for later"
# /d1 was monitored by an earlier run: memcgd set 48M/40M, the limits from
# before its Monitor were 200M/180M, its OOM policy grow. Reading its
# memory.max fails (EIO) at start: a reason that may pass, so the entry
# stays in the file, not attached.
ORIG_MAX=$((200 * MIB)) ORIG_HIGH=$((180 * MIB))
fake_cgroup /d1 $((10 * MIB))
dormant_file() {
        { echo "memcgd-state 1"; echo "monitor $ORIG_MAX $ORIG_HIGH $((48 * MIB)) /d1"; echo "oom-policy grow /d1"; } >"$STATE"
        fake_write /d1 memory.max $((48 * MIB))
        fake_write /d1 memory.high $((40 * MIB))
}
# dormant_start NAME: a start at which /d1 cannot be re-attached, then the
# fault goes.
dormant_start() {
        dormant_file
        inject_arm '*/d1/memory.max@read:EIO:inf'
        start_on "$1"
        inject_arm ""
}
# unmonitor_d1_restores: Unmonitor of /d1 puts back the limits from before
# its first Monitor; memcgd stops.
unmonitor_d1_restores() {
        mgr root Unmonitor s /d1 >/dev/null || fail "Unmonitor /d1" "$(cat "$BUS_TMP/last.err")"
        sleep 0.3
        assert_eq "Unmonitor restored the limits from before the first Monitor" "$ORIG_MAX $ORIG_HIGH" \
                "$(fake_read /d1 memory.max) $(fake_read /d1 memory.high)"
        memcgd_stop
}
memcgd_stop
fault_wrap
dormant_file
printf '%s\n' '*/d1/memory.max@read:EIO:inf' >"$BUS_TMP/inject.rules"
start_on "dormant"
assert_contains "the failed re-attach is logged as kept" "$LOG" "Cannot re-attach /d1 now, keeping it for the next start"
if is_listed /d1; then fail "/d1 is not monitored (its re-attach failed)"; else pass "/d1 is not monitored (its re-attach failed)"; fi
assert_eq "the dormant entry keeps its record and its OOM policy in the file" \
        "$(printf 'monitor %s %s %s /d1\noom-policy grow /d1' $ORIG_MAX $ORIG_HIGH $((48 * MIB)))" "$(grep -v '^#' "$STATE" | grep '/d1$')"

# SetInitialLimit: the entry's own record carries it (a "remember" line
# beside it would list /d1 twice, which the next start refuses).
mgr root SetInitialLimit st /d1 $((64 * MIB)) >/dev/null && pass "SetInitialLimit of a dormant path" ||
        fail "SetInitialLimit of a dormant path" "$(cat "$BUS_TMP/last.err")"
assert_eq "SetInitialLimit: the dormant record holds the limit, no second line for /d1" \
        "$(printf 'monitor %s %s %s /d1\noom-policy grow /d1' $ORIG_MAX $ORIG_HIGH $((64 * MIB)))" "$(grep -v '^#' "$STATE" | grep '/d1$')"
memcgd_stop
start_on "dormant after SetInitialLimit"
if grep -q 'State file line' <<<"$LOG"; then fail "the next start reads every line" "$(grep 'State file line' <<<"$LOG")"; else
        pass "the next start reads every line"; fi
assert_contains "it is still kept for later" "$LOG" "Cannot re-attach /d1 now, keeping it for the next start"
assert_eq "the start limit and OOM policy survive the restart" \
        "$(printf 'monitor %s %s %s /d1\noom-policy grow /d1' $ORIG_MAX $ORIG_HIGH $((64 * MIB)))" "$(grep -v '^#' "$STATE" | grep '/d1$')"

# A Monitor that fails (the same EIO, in the worker) loses nothing.
if mgr root Monitor st /d1 0 >/dev/null; then fail "Monitor of /d1 fails while its memory.max cannot be read"; else
        pass "Monitor of /d1 fails while its memory.max cannot be read: $(head -c 150 "$BUS_TMP/last.err")"; fi
sleep 0.2
assert_eq "after the failed Monitor the dormant record is still there, unchanged" \
        "$(printf 'monitor %s %s %s /d1\noom-policy grow /d1' $ORIG_MAX $ORIG_HIGH $((64 * MIB)))" "$(grep -v '^#' "$STATE" | grep '/d1$')"

# Once it can be read: Monitor takes it back with the originals and the
# OOM policy of the record; Unmonitor then restores the originals.
inject_arm ""
mgr root Monitor st /d1 0 >/dev/null && pass "Monitor of the dormant /d1 once it can be read" ||
        fail "Monitor of the dormant /d1 once it can be read" "$(cat "$BUS_TMP/last.err")"
assert_eq "the Monitor kept the originals from before the first Monitor (200M/180M) and policy grow" \
        "$(printf 'monitor %s %s' $ORIG_MAX $ORIG_HIGH)|grow" \
        "$(grep '^monitor .* /d1$' "$STATE" | cut -d' ' -f1-3)|$(busctl --json=short get-property "$BUS_NAME" "$(object_path_of /d1)" "$BUS_CGROUP_IFACE" OomPolicy | jget data)"
unmonitor_d1_restores

# Monitor with a limit: taken back, then re-based to that limit.
dormant_start "dormant, Monitor with a limit"
mgr root Monitor st /d1 $((72 * MIB)) >/dev/null && pass "Monitor(/d1, 72M) of a dormant path" ||
        fail "Monitor(/d1, 72M) of a dormant path" "$(cat "$BUS_TMP/last.err")"
assert_eq "it starts at the limit asked for" $((72 * MIB)) "$(fake_read /d1 memory.max)"
assert_eq "with the originals of the record" "$(printf 'monitor %s %s %s' $ORIG_MAX $ORIG_HIGH $((72 * MIB)))" \
        "$(grep '^monitor .* /d1$' "$STATE" | cut -d' ' -f1-4)"
unmonitor_d1_restores

# Unmonitor of a dormant path: no worker to stop, the originals come back
# all the same, the entry goes, the call succeeds.
dormant_start "dormant, Unmonitor"
mgr root Unmonitor s /d1 >/dev/null && pass "Unmonitor of a dormant path succeeds" ||
        fail "Unmonitor of a dormant path succeeds" "$(cat "$BUS_TMP/last.err")"
assert_eq "Unmonitor of a dormant path restored the limits from before Monitor" "$ORIG_MAX $ORIG_HIGH" \
        "$(fake_read /d1 memory.max) $(fake_read /d1 memory.high)"
if grep -q '/d1$' "$STATE"; then fail "Unmonitor of a dormant path removed it from the file" "$(cat "$STATE")"; else
        pass "Unmonitor of a dormant path removed it from the file"; fi
memcgd_stop

say "damaged states started on: $starts; damaged lines ignored and logged: $ignored_total"
bus_finish
