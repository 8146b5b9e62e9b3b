#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# SIGKILL at random moments of a grow/shrink storm: real v1 memcgs whose
# children allocate and free in a loop, memcgd with a short shrink base
# (so it lowers limits as often as it raises them), killed with SIGKILL
# after a random 0.5-2.5 s and started again on the same state directory,
# FAULT_STORM_KILLS times (5 in CI). After every restart: every monitored
# cgroup is re-attached (ListMonitored, GetStats monitored), no limit is
# below usage, re-attaching wrote no initial limit; at the end the pool's
# books match the limits (GrantedBytes = the sum of the limits).
# Prints the SIGKILLs, the re-attached cgroups and the limit changes seen.
. "$(dirname "$0")/lib-fault.sh"

BUS_NO_DAEMON=1
BUS_NO_POLKIT=1
KILLS=${FAULT_STORM_KILLS:-5}
NCG=${FAULT_STORM_CGROUPS:-6}
# 4 MiB every 30 ms: ~130 MB/s a child, six of them on two CPUs.
PAUSE_MS=${FAULT_STORM_PAUSE_MS:-30}
MEMCGD_ARGS=(--budget=8G --shrink-base="${FAULT_STORM_SHRINK_BASE:-200ms}")

fault_require
bus_setup
memcgd_start

CGS=()
for i in $(seq "$NCG"); do
        memcg_create "storm$i"
        CGS+=("$MEMCG")
        mgr root Monitor st "$MEMCG" $((48 * MIB)) >/dev/null || die "Monitor $MEMCG" "$(cat "$BUS_TMP/last.err")"
done
expected=$(printf '%s\n' "${CGS[@]}" | sort)

# breathe CG: a child grows to 40-120 MiB in 4 MiB steps, holds it up to
# a second, frees it by exiting, pauses, again.
breathe() {
        local cg=$1
        while :; do
                timeout -s USR1 "0.$((RANDOM % 9 + 1))" "$MEMCGD_TEST_ALLOC" --cgroup-procs="$MEMCG_ROOT$cg/cgroup.procs" \
                        --total=$((RANDOM % 80 + 40)) --step=4 --pause-ms="$PAUSE_MS" >/dev/null 2>&1
                sleep "0.$((RANDOM % 5 + 1))"
        done
}
LOOPS=()
for cg in "${CGS[@]}"; do
        breathe "$cg" &
        LOOPS+=($!)
        BUS_PIDS+=($!)
done

oom_total() { local n=0 c; for c in "${CGS[@]}"; do n=$((n + $(memcg_oom_kills "$c"))); done; echo "$n"; }
initial_count() { signals LimitChanged | awk -F'\t' '$5 == "initial"' | wc -l; }

# below_usage: cgroups whose limit is below their usage (none may be).
# Plain shell arithmetic: v1's "unlimited" (2^63 - 4096) still fits.
# The limit is read before and after the usage: a raise in between (the
# children grow at ~130 MB/s) makes the usage pass the first reading
# without anything being wrong, so only a limit that held still counts.
# And the kernel itself lets usage go over the limit for a moment: its
# charge path force-charges a charge that cannot fail or will free
# memory soon (an OOM victim exiting, __GFP_NOFAIL: "allow memory usage
# go over the limit temporarily", mm/memcontrol.c), and this storm OOM-
# kills and SIGKILLs children all the time. A few pages over a limit that
# held still is that, not a limit memcgd wrote below usage (v1 refuses
# such a write with EBUSY); 1 MiB over is counted as a failure.
BELOW_SLACK=$((1024 * 1024))
below_usage() {
        local c lim lim2 use try
        for c in "${CGS[@]}"; do
                for try in 1 2 3 4 5; do
                        lim=$(memcg_limit "$c"); use=$(memcg_file "$c" memory.usage_in_bytes); lim2=$(memcg_limit "$c")
                        [ "$lim" = "$lim2" ] && break
                done
                [ "$lim" = "$lim2" ] && [ "$lim" -lt "$use" ] || continue
                if [ $((use - lim)) -le "$BELOW_SLACK" ]; then
                        # Called in $(...): noted in a file, told at the end.
                        echo "$c: usage $use is $((use - lim)) bytes over the limit $lim" >>"$BUS_TMP/forced-over"
                else
                        echo "$c: limit $lim < usage $use"
                fi
        done
}
high_of() { # high_from_max in shell arithmetic, for limits below 8 EiB / 10^6
        local m=$1 M=1048576
        if [ "$m" -gt $((108 * M)) ]; then echo $((m * 1000000 / 1080000)); elif [ "$m" -gt $((8 * M)) ]; then echo $((m - 8 * M)); else echo 0; fi
}
stale_soft=0
reattached=0
kills=0
oom_down=0
down_ms=0
t_start=$SECONDS
init0=$(initial_count)
for k in $(seq "$KILLS"); do
        sleep "$((RANDOM % 3)).$((RANDOM % 10))"
        [ "$k" -eq 1 ] && sleep 0.5
        grows=$(signals LimitChanged | awk -F'\t' '$5 == "grow"' | wc -l)
        shrinks=$(signals LimitChanged | awk -F'\t' '$5 == "shrink"' | wc -l)
        o0=$(oom_total)
        t0=$(date +%s%N)
        kill -KILL "$MEMCGD_PID"; wait "$MEMCGD_PID" 2>/dev/null; MEMCGD_PID=
        kills=$((kills + 1))
        say "== SIGKILL $k (after $grows grows and $shrinks shrinks so far; OOM kills so far $(oom_total))"
        b=$(below_usage)
        assert_eq "kill $k: no limit below usage right after the kill" "" "$b"
        # The kill may fall between the max and the soft-limit write; the
        # soft limit is only v1's reclaim hint (the high line is a usage
        # threshold memcgd registers from max), so it is counted, not failed.
        for c in "${CGS[@]}"; do
                [ "$(memcg_file "$c" memory.soft_limit_in_bytes)" = "$(high_of "$(memcg_limit "$c")")" ] ||
                        stale_soft=$((stale_soft + 1))
        done
        sleep "0.$((RANDOM % 5))"
        wait_for "name released" "$BUS_WAIT" bus_name_gone
        memcgd_start
        down_ms=$((down_ms + ($(date +%s%N) - t0) / 1000000))
        if wait_for "re-attached" 20 bash -c '[ "$(busctl --json=short call org.memcgd1 /org/memcgd1 org.memcgd1.Manager ListMonitored |
                "$PYTHON" -c "import json,sys; print(len(json.load(sys.stdin)[\"data\"][0]))")" = "$0" ]' "$NCG"; then :; fi
        got=$(monitored_paths)
        oom_down=$((oom_down + $(oom_total) - o0))
        assert_eq "kill $k: every cgroup is re-attached" "$expected" "$got"
        reattached=$((reattached + $(grep -c . <<<"$got")))
        bad=0
        for c in "${CGS[@]}"; do
                load_stats "$(stats root "$c")"
                [ "${ST_VAL[monitored]:-}" = true ] || { bad=1; fail "kill $k: GetStats($c) says monitored" "monitored=${ST_VAL[monitored]:-?}"; }
        done
        [ $bad = 0 ] && pass "kill $k: GetStats says monitored for all $NCG"
        assert_eq "kill $k: no limit below usage after the restart" "" "$(below_usage)"
        assert_eq "kill $k: re-attaching wrote no initial limit" "$init0" "$(initial_count)"
done

say "== the storm ends"
sleep 1
for p in "${LOOPS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
for c in "${CGS[@]}"; do
        for p in $(cat "$MEMCG_ROOT$c/cgroup.procs"); do kill -USR1 "$p" 2>/dev/null; done
done
sleep 1
# Usage fell to nothing: shrinks go on for a while. A reading counts when
# GrantedBytes did not move while the limits were read.
sum_limits() { local s=0 c; for c in "${CGS[@]}"; do s=$((s + $(memcg_limit "$c"))); done; echo "$s"; }
for try in $(seq 40); do
        g=$(mgr_property GrantedBytes); s=$(sum_limits); g2=$(mgr_property GrantedBytes)
        [ "$g" = "$s" ] && [ "$g" = "$g2" ] && break
        sleep 0.25
done
if [ "$g" = "$s" ]; then pass "GrantedBytes equals the sum of the limits after $kills SIGKILLs ($g)"; else
        details=()
        for c in "${CGS[@]}"; do
                load_stats "$(stats root "$c")"
                details+=("$c: limit_in_bytes $(memcg_limit "$c"), granted_bytes ${ST_VAL[granted_bytes]:-?}, usage $(memcg_file "$c" memory.usage_in_bytes)")
        done
        fail "GrantedBytes equals the sum of the limits after $kills SIGKILLs" "GrantedBytes $g, sum of limits $s" "${details[@]}"
fi
check "memcgd is still serving" memcgd_serves
grows=$(signals LimitChanged | awk -F'\t' '$5 == "grow"' | wc -l)
shrinks=$(signals LimitChanged | awk -F'\t' '$5 == "shrink"' | wc -l)
if [ "$grows" -gt 0 ] && [ "$shrinks" -gt 0 ]; then pass "the storm grew ($grows) and shrank ($shrinks) limits"; else
        fail "the storm grew and shrank limits" "grows $grows, shrinks $shrinks"; fi
if [ -s "$BUS_TMP/forced-over" ]; then
        say "   usage seen above a limit that held still, within the kernel's forced charges of dying tasks: $(wc -l <"$BUS_TMP/forced-over") time(s)"
        sed 's/^/     /' "$BUS_TMP/forced-over" | head -n 5
fi
[ "$stale_soft" -eq 0 ] || note "$stale_soft time(s) a SIGKILL left memory.soft_limit_in_bytes not matching limit_in_bytes (killed between the two writes; re-attach does not rewrite it)"
say "SIGKILLs: $kills, cgroups re-attached: $reattached (of $((kills * NCG))), limit changes seen: $grows grows, $shrinks shrinks"
say "child OOM kills: $(oom_total) in $((SECONDS - t_start)) s, of which $oom_down in the ${down_ms} ms memcgd was down (SIGKILL to the name owned again)"
bus_finish
