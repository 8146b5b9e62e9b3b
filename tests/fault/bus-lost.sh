#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bus connection lost: the private dbus-daemon is SIGKILLed under a
# running memcgd. memcgd must exit non-zero with one clear log line
# (leaving the kernel's limits as they are and the state saved), and a
# memcgd started on a new bus must list every cgroup again with its
# limits unchanged. The second time the bus goes while a worker is
# stalled in a limit write (the shim), which the shutdown waits for.
. "$(dirname "$0")/lib-fault.sh"

BUS_SHRINK_BASE=${BUS_SHRINK_BASE:-50s}
BUS_NO_DAEMON=1
LOSSES=${FAULT_BUS_LOSSES:-3}

fault_require
bus_setup
fault_wrap
fake_setup
CGS=()
for i in 1 2 3 4 5; do fake_cgroup "/b$i" $((10 * MIB)); CGS+=("/b$i"); done
fake_cgroup /later $((10 * MIB))
MEMCGD_ARGS=(--root="$FAKE" --budget=4G)
memcgd_start
for i in 1 2 3 4 5; do
        mgr root Monitor st "/b$i" $(((32 + 16 * i) * MIB)) >/dev/null || die "Monitor /b$i" "$(cat "$BUS_TMP/last.err")"
done
mgr root SetInitialLimit st /later $((40 * MIB)) >/dev/null || die "SetInitialLimit /later" "$(cat "$BUS_TMP/last.err")"
expected=$(printf '%s\n' "${CGS[@]}" | sort)

limits_now() { for c in "${CGS[@]}"; do printf '%s %s %s\n' "$c" "$(fake_read "$c" memory.max)" "$(fake_read "$c" memory.high)"; done; }

# lose_bus N [stall]: SIGKILL the bus; memcgd must exit non-zero with the
# log line; then a new bus, polkitd, and memcgd again.
exits_ok=0
lose_bus() {
        local n=$1 stall=${2:-} before t0 ms
        before=$(limits_now)
        local lines0
        lines0=$(grep -c 'Lost the connection to the system bus' "$BUS_TMP/memcgd.log")
        t0=$(date +%s%N)
        kill -KILL "$BUS_DBUS_PID"; wait "$BUS_DBUS_PID" 2>/dev/null; BUS_DBUS_PID=
        if memcgd_wait_exit 20; then
                ms=$(( ($(date +%s%N) - t0) / 1000000 ))
                if [ "$MEMCGD_RC" -ne 0 ]; then
                        pass "loss $n: memcgd exits non-zero ($MEMCGD_RC) ${ms} ms after the bus died${stall:+ (waiting for the stalled write)}"
                        exits_ok=$((exits_ok + 1))
                else
                        fail "loss $n: memcgd exits non-zero after the bus died" "status $MEMCGD_RC"
                fi
        else
                fail "loss $n: memcgd exits after the bus died (within 20 s)" "$(tail -n 5 "$BUS_TMP/memcgd.log")"
                kill -KILL "$MEMCGD_PID"; wait "$MEMCGD_PID" 2>/dev/null; MEMCGD_PID=
        fi
        if [ "$(grep -c 'Lost the connection to the system bus' "$BUS_TMP/memcgd.log")" -gt "$lines0" ]; then
                pass "loss $n: it says why: \"$(grep 'Lost the connection to the system bus' "$BUS_TMP/memcgd.log" | tail -n 1)\""
        else
                fail "loss $n: the log says the bus was lost" "$(tail -n 8 "$BUS_TMP/memcgd.log")"
        fi
        if [ -z "$stall" ]; then
                assert_eq "loss $n: the kernel's limits stay as they were" "$before" "$(limits_now)"
        fi
        for c in "${CGS[@]}"; do
                grep -q " $c\$" "$BUS_TMP/state/state" || fail "loss $n: $c is still in the state file" "$(cat "$BUS_TMP/state/state")"
        done
        sanitizer_check
        # The rest of the stack went with the bus.
        kill "$BUS_POLKIT_PID" "$BUS_MONITOR_PID" 2>/dev/null
        wait "$BUS_POLKIT_PID" "$BUS_MONITOR_PID" 2>/dev/null
        BUS_POLKIT_PID= BUS_MONITOR_PID=
        # bus_start_dbus waits for the address file to be non-empty: the
        # dead daemon's would pass at once, before the new one listens
        # (polkitd then failed with "Connection refused").
        rm -f "$BUS_TMP/bus.address" "$BUS_TMP/bus"
        bus_start_dbus
        polkit_start
        monitor_start
        before=$(limits_now)
        memcgd_start
        assert_eq "loss $n: on the new bus ListMonitored shows every cgroup" "$expected" "$(monitored_paths)"
        assert_eq "loss $n: MonitoredCount is ${#CGS[@]}" "${#CGS[@]}" "$(mgr_property MonitoredCount)"
        assert_eq "loss $n: re-attaching changed no limit" "$before" "$(limits_now)"
}

say "== the bus dies under an idle memcgd"
for n in $(seq "$LOSSES"); do lose_bus "$n"; done

say "== the bus dies while a worker is stalled in a limit write"
inject_arm "*/b1/memory.max@write:delay=1500:1"
fake_breach /b1
wait_for "stall" 5 grep -q "^inject write delay .*/b1/memory.max" "$BUS_TMP/inject.log" ||
        fail "the worker reached the stalled write" "$(tail -n 3 "$BUS_TMP/inject.log")"
lose_bus $((LOSSES + 1)) stall
fake_consistent "the grow the stalled worker finished is kept" /b1
if [ "$(fake_read /b1 memory.max)" -gt $((48 * MIB)) ]; then pass "/b1 kept the limit of the grow finished during the shutdown ($(fake_read /b1 memory.max))"; else
        fail "/b1 kept the limit of the grow finished during the shutdown" "memory.max $(fake_read /b1 memory.max)"; fi

say "== nothing lost"
mgr root Monitor st /later 0 >/dev/null && pass "Monitor(/later, 0)" || fail "Monitor(/later, 0)" "$(cat "$BUS_TMP/last.err")"
assert_eq "the start limit remembered before $((LOSSES + 1)) bus losses is used" $((40 * MIB)) "$(fake_read /later memory.max)"
fake_breach /b2
if wait_signal 5 LimitChanged /b2 $'\tgrow$'; then pass "/b2 still grows after the last restart"; else
        fail "/b2 still grows after the last restart" "$(signals LimitChanged /b2)"; fi
say "bus losses: $((LOSSES + 1)), memcgd exits non-zero with the log line: $exits_ok, cgroups re-attached each time: ${#CGS[@]}"
bus_finish
