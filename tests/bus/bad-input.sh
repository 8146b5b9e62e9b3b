#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every bad input of DESIGN.md §2/§4 gets its documented error name, with a
# message naming the cgroup; the service stays up and the cgroups it
# monitors are not touched.
. "$(dirname "$0")/lib.sh"

MIB=1048576
BUDGET=$((256 * MIB))
UINT64_MAX=18446744073709551615
E=org.memcgd1.Error
BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}

bus_setup --budget=256M

assert_eq "BudgetBytes is --budget=256M" "$BUDGET" "$(mgr_property BudgetBytes)"

# Two monitored memcgs that must come out of all this untouched: one empty,
# one holding 32 MiB (for the below-usage cases).
memcg_create kept; KEPT=$MEMCG
mgr root Monitor st "$KEPT" $((64 * MIB)) >/dev/null || die "Monitor $KEPT failed" "$(cat "$BUS_TMP/last.err")"
memcg_create busy; BUSY=$MEMCG
alloc_start "$BUSY" 32 8 0
wait_for "hog" 30 alloc_ready "$ALLOC_OUT" || die "the hog in $BUSY did not get ready" "$(cat "$ALLOC_OUT")"
BUSY_USAGE=$(memcg_file "$BUSY" memory.usage_in_bytes)
say "$BUSY uses $BUSY_USAGE bytes"
memcg_create idle; IDLE=$MEMCG
IDLE_LIMIT=$(memcg_limit "$IDLE")
NOPE="/$MEMCG_PREFIX-does-not-exist"

say "== malformed paths: InvalidPath from every method"
long=/$(head -c 4096 /dev/zero | tr '\0' a)   # 4097 bytes
declare -a BAD=("" "relative" "/a/../b" "/a/./b" "//a" "/a//b" "/a/" "/" "$long" "$KEPT/" "$KEPT/.." "/..")
for p in "${BAD[@]}"; do
        shown=$p; [ ${#p} -gt 60 ] && shown="${p:0:20}...(${#p} bytes)"
        needle=$p; [ ${#p} -gt 64 ] && needle=${p:0:64}
        expect_error "Monitor('$shown')" "$E.InvalidPath" "$needle" root Monitor "string:$p" uint64:$((64 * MIB))
        expect_error "Unmonitor('$shown')" "$E.InvalidPath" "$needle" root Unmonitor "string:$p"
        expect_error "SetInitialLimit('$shown')" "$E.InvalidPath" "$needle" root SetInitialLimit "string:$p" uint64:$((64 * MIB))
        expect_error "GetStats('$shown')" "$E.InvalidPath" "$needle" root GetStats "string:$p"
done

say "== the longest valid path (4096 bytes) is a path, just not an existing one"
p4096=
while [ ${#p4096} -lt 4096 ]; do p4096="$p4096/$(head -c 99 /dev/zero | tr '\0' b)"; done
p4096=${p4096:0:4096}
[ "${p4096: -1}" = / ] && p4096="${p4096:0:4095}c"
say "   (${#p4096} bytes)"
expect_error "Monitor(4096-byte path)" "$E.NoSuchCgroup" "${p4096:0:64}" root Monitor "string:$p4096" uint64:$((64 * MIB))
expect_error "GetStats(4096-byte path)" "$E.NoSuchCgroup" "${p4096:0:64}" root GetStats "string:$p4096"

say "== invalid UTF-8 never reaches the service"
# busctl, dbus-send and gdbus refuse to marshal it; rawcall.py sends the
# bytes anyway. dbus-daemon validates every message and drops a connection
# that sends an invalid string, so the only observable outcome is the
# disconnect - and the service must be unaffected.
for method in "Monitor st" "GetStats s"; do
        set -- $method
        if [ "$2" = st ]; then args=("/$MEMCG_PREFIX-\\xff\\xfe" $((64 * MIB))); else args=("/$MEMCG_PREFIX-\\xc3\\x28"); fi
        res=$("$PYTHON" "$BUS_HERE/rawcall.py" "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" "$1" "$2" "${args[@]}" 2>&1)
        case "$res" in
        disconnected) pass "$1 with invalid UTF-8: the bus drops the sender's connection" ;;
        "error $E.InvalidPath"*) pass "$1 with invalid UTF-8: InvalidPath from the service ($res)" ;;
        *) fail "$1 with invalid UTF-8: dropped by the bus or InvalidPath" "got: $res" ;;
        esac
done
check "the service is up after the invalid UTF-8" memcgd_alive
# The same bytes through a well-formed client still work: a sanity check
# that rawcall.py talks proper D-Bus.
res=$("$PYTHON" "$BUS_HERE/rawcall.py" "$BUS_NAME" "$BUS_MANAGER" "$BUS_IFACE" GetStats s "$NOPE" 2>&1)
assert_eq "rawcall.py with valid UTF-8 gets the service's answer" "error $E.NoSuchCgroup" "${res%%:*}"

say "== paths that do not lead to a memcg"
expect_error "Monitor(nonexistent)" "$E.NoSuchCgroup" "$NOPE" root Monitor "string:$NOPE" uint64:$((64 * MIB))
expect_error "GetStats(nonexistent)" "$E.NoSuchCgroup" "$NOPE" root GetStats "string:$NOPE"
expect_error "SetInitialLimit(nonexistent)" "$E.NoSuchCgroup" "$NOPE" root SetInitialLimit "string:$NOPE" uint64:$((64 * MIB))
# Not monitored is what it is, existing or not.
expect_error "Unmonitor(nonexistent)" "$E.NotMonitored" "$NOPE" root Unmonitor "string:$NOPE"
expect_error "Unmonitor(existing, unmonitored)" "$E.NotMonitored" "$IDLE" root Unmonitor "string:$IDLE"
# cgroupfs refuses symlinks (EPERM), so inside the hierarchy the closest
# thing is a regular file. DESIGN.md does not say which error a path
# through a non-directory gets: it names something in the hierarchy that
# is not a cgroup directory, so NotMemcg, whether the file is the last
# component or one in the middle (ENOTDIR); NoSuchCgroup stays for paths
# where nothing exists.
ln -s . "$MEMCG_ROOT$KEPT/link" 2>/dev/null && fail "cgroupfs refuses symlinks (test assumption)" ||
        say "   (cgroupfs refuses symlinks: $MEMCG_ROOT$KEPT/link could not be created)"
expect_error "Monitor(a regular file: $KEPT/memory.stat)" "$E.NotMemcg" "$KEPT/memory.stat" root Monitor "string:$KEPT/memory.stat" uint64:$((64 * MIB))
expect_error "GetStats(a regular file: $KEPT/memory.stat)" "$E.NotMemcg" "$KEPT/memory.stat" root GetStats "string:$KEPT/memory.stat"
expect_error "Monitor(through a regular file: $KEPT/memory.stat/x)" "$E.NotMemcg" "$KEPT/memory.stat/x" root Monitor "string:$KEPT/memory.stat/x" uint64:$((64 * MIB))
expect_error "Monitor(the control file cgroup.procs of the root)" "$E.NotMemcg" "/cgroup.procs" root Monitor "string:/cgroup.procs" uint64:$((64 * MIB))

# A directory inside the hierarchy that is not a memory cgroup, and a
# symlink inside the hierarchy: only possible by mounting a plain
# directory over a memcg.
memcg_create mnt; MNT=$MEMCG
mkdir -p "$BUS_TMP/plain/sub"
ln -s "$MEMCG_ROOT$IDLE" "$BUS_TMP/plain/abs-link"
ln -s "../../$MEMCG_PREFIX-idle" "$BUS_TMP/plain/rel-link"
if mount --bind "$BUS_TMP/plain" "$MEMCG_ROOT$MNT" 2>/dev/null; then
        expect_error "Monitor(a plain directory mounted in the hierarchy)" "$E.NotMemcg" "$MNT" root Monitor "string:$MNT" uint64:$((64 * MIB))
        expect_error "GetStats(a plain directory mounted in the hierarchy)" "$E.NotMemcg" "$MNT" root GetStats "string:$MNT"
        expect_error "Monitor(a plain subdirectory of it)" "$E.NotMemcg" "$MNT/sub" root Monitor "string:$MNT/sub" uint64:$((64 * MIB))
        # openat2(RESOLVE_NO_SYMLINKS) refuses the link: a path rule
        # (DESIGN.md §2), so InvalidPath - and the target stays untouched.
        for link in abs-link rel-link; do
                expect_error "Monitor(symlink $MNT/$link -> $IDLE)" "$E.InvalidPath" "$MNT/$link" \
                        root Monitor "string:$MNT/$link" uint64:$((64 * MIB))
                expect_error "GetStats(symlink $MNT/$link -> $IDLE)" "$E.InvalidPath" "$MNT/$link" \
                        root GetStats "string:$MNT/$link"
        done
        assert_eq "the symlinks were not followed: $IDLE's limit" "$IDLE_LIMIT" "$(memcg_limit "$IDLE")"
        if is_listed "$IDLE"; then fail "the symlinks were not followed: $IDLE is not monitored"; else pass "the symlinks were not followed: $IDLE is not monitored"; fi
        umount "$MEMCG_ROOT$MNT"
else
        skip_part "cannot bind-mount here; no non-memcg directory / symlink inside the hierarchy"
fi

say "== limits"
expect_error "Monitor below current usage ($BUSY at 16 MiB, using $BUSY_USAGE)" "$E.LimitBelowUsage" "$BUSY" root Monitor "string:$BUSY" uint64:$((16 * MIB))
if is_listed "$BUSY"; then fail "the refused Monitor did not monitor $BUSY"; else pass "the refused Monitor did not monitor $BUSY"; fi
mgr root Monitor st "$BUSY" $((64 * MIB)) >/dev/null && pass "Monitor($BUSY, 64 MiB) above its usage" ||
        fail "Monitor($BUSY, 64 MiB) above its usage" "$(cat "$BUS_TMP/last.err")"
BUSY_LIMIT=$(memcg_limit "$BUSY")
KEPT_LIMIT=$(memcg_limit "$KEPT")
expect_error "SetInitialLimit below current usage (monitored $BUSY at 16 MiB)" "$E.LimitBelowUsage" "$BUSY" root SetInitialLimit "string:$BUSY" uint64:$((16 * MIB))
expect_error "Monitor above the budget (512 MiB > 256 MiB)" "$E.BudgetExceeded" "$IDLE" root Monitor "string:$IDLE" uint64:$((512 * MIB))
expect_error "Monitor above what is left of the budget (192 MiB, 128 MiB granted)" "$E.BudgetExceeded" "$IDLE" root Monitor "string:$IDLE" uint64:$((192 * MIB))
expect_error "SetInitialLimit above the budget (monitored $KEPT at 300 MiB)" "$E.BudgetExceeded" "$KEPT" root SetInitialLimit "string:$KEPT" uint64:$((300 * MIB))
expect_error "Monitor(UINT64_MAX)" "$E.LimitOutOfRange" "$IDLE" root Monitor "string:$IDLE" uint64:$UINT64_MAX
expect_error "SetInitialLimit(monitored, UINT64_MAX)" "$E.LimitOutOfRange" "$KEPT" root SetInitialLimit "string:$KEPT" uint64:$UINT64_MAX
expect_error "SetInitialLimit(unmonitored, UINT64_MAX)" "$E.LimitOutOfRange" "$IDLE" root SetInitialLimit "string:$IDLE" uint64:$UINT64_MAX
expect_error "SetInitialLimit(monitored, 0)" "$E.LimitOutOfRange" "$KEPT" root SetInitialLimit "string:$KEPT" uint64:0
expect_error "SetInitialLimit(unmonitored, 0)" "$E.LimitOutOfRange" "$IDLE" root SetInitialLimit "string:$IDLE" uint64:0
if is_listed "$IDLE"; then fail "no refused call monitored $IDLE"; else pass "no refused call monitored $IDLE"; fi
assert_eq "no refused call touched $IDLE's limit" "$IDLE_LIMIT" "$(memcg_limit "$IDLE")"

say "== afterwards"
check "the service is still up" memcgd_alive
check "$KEPT is still monitored" is_listed "$KEPT"
check "$BUSY is still monitored" is_listed "$BUSY"
assert_eq "ListMonitored lists exactly the two" 2 "$(list_monitored | jget data.0 | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')"
assert_limit_kept "$KEPT's limit is unchanged" "$KEPT" "$KEPT_LIMIT"
assert_limit_kept "$BUSY's limit is unchanged" "$BUSY" "$BUSY_LIMIT"
assert_eq "GrantedBytes is the sum of the two limits" \
        "$(( $(memcg_limit "$KEPT") + $(memcg_limit "$BUSY") ))" "$(mgr_property GrantedBytes)"
check "the hog in $BUSY is alive" kill -0 "$ALLOC_PID"
assert_eq "no OOM kill in $BUSY" 0 "$(memcg_oom_kills "$BUSY")"

bus_finish
