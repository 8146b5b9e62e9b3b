#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcgd under load: LOAD_CLIENTS concurrent clients (default 50: four
# fifths root, one fifth an unprivileged user that polkit refuses) make
# LOAD_CALLS calls each (default 2,000), LOAD_INFLIGHT in flight per
# client, of a mix of GetStats, ListMonitored, properties, Monitor/
# Unmonitor/SetInitialLimit churn and bad input, against the real service
# on a private bus while LOAD_CGROUPS real v1 memcgs (default 200), all
# monitored, grow and shrink under children that allocate and free.
# Every call must be answered with an answer the contract allows (the
# unprivileged clients' changing calls: refused by authorization, every
# one), memcgd must not crash, and its RSS must stay flat from the middle
# of the run to its end (within +10% or +8 MiB). Prints calls/s, the
# latency distribution and the CPU time memcgd spent per call.
. "$(dirname "$0")/../bus/lib.sh"

MIB=1048576
NCG=${LOAD_CGROUPS:-200}
CLIENTS=${LOAD_CLIENTS:-50}
CALLS=${LOAD_CALLS:-2000}
INFLIGHT=${LOAD_INFLIGHT:-4}
NCHURN=${LOAD_CHURN_CGROUPS:-10}
BUS_NO_DAEMON=1
# A user of its own: the shared test user may hold polkit rules another
# suite running on this host installed for it (tests/cli grants it
# org.memcgd1.set-limit for a while), which would let its calls through.
BUS_USER="memcgd-l$$"
BUS_USER_TEMPORARY=1

bus_require
[ -x "${MEMCGD_LOAD_CLIENT:-}" ] || skip "load-client not built (MEMCGD_LOAD_CLIENT=${MEMCGD_LOAD_CLIENT:-})"
[ -x "${MEMCGD_LOAD_BREATHERS:-}" ] || skip "load-breathers not built"
bus_setup
memcgd_start

say "== $NCG memcgs with breathing children, all monitored"
: >"$BUS_TMP/cgroups"; : >"$BUS_TMP/churn"; : >"$BUS_TMP/unmonitored"
dirs=()
for i in $(seq "$NCG"); do
        memcg_create "l$i"
        echo "$MEMCG" >>"$BUS_TMP/cgroups"
        dirs+=("$MEMCG_DIR")
done
for i in $(seq "$NCHURN"); do memcg_create "c$i"; echo "$MEMCG" >>"$BUS_TMP/churn"; done
for i in 1 2 3 4 5; do memcg_create "u$i"; echo "$MEMCG" >>"$BUS_TMP/unmonitored"; done
chmod 0644 "$BUS_TMP"/cgroups "$BUS_TMP"/churn "$BUS_TMP"/unmonitored

t0=$(date +%s%N)
"$MEMCGD_LOAD_CLIENT" --label=setup --monitor-all=$((32 * MIB)) --cgroups="$BUS_TMP/cgroups" --clients=1 --calls=1 ||
        die "Monitor of the $NCG memcgs" "$(tail -n 5 "$BUS_TMP/memcgd.log")"
say "   $NCG Monitor calls (64 in flight) all answered in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
assert_eq "MonitoredCount is $NCG" "$NCG" "$(mgr_property MonitoredCount)"

"$MEMCGD_LOAD_BREATHERS" "${dirs[@]}" >"$BUS_TMP/breathers.out" 2>&1 &
BREATHERS=$!
BUS_PIDS+=("$BREATHERS")
wait_for "breathers" 60 grep -q '^ready' "$BUS_TMP/breathers.out" || die "the children did not join their memcgs" "$(cat "$BUS_TMP/breathers.out")"
say "   children: $(cat "$BUS_TMP/breathers.out")"
# Let the first ones reach their high lines before the calls start.
sleep "${LOAD_WARMUP:-8}"
g0=$(signals LimitChanged | awk -F'\t' '$5 == "grow"' | wc -l)
s0=$(signals LimitChanged | awk -F'\t' '$5 == "shrink"' | wc -l)

say "== $CLIENTS clients x $CALLS calls, $INFLIGHT in flight each"
nuser=$((CLIENTS / 5)); nroot=$((CLIENTS - nuser))
[ "$nuser" -gt 0 ] || nuser=0
common=(--calls="$CALLS" --inflight="$INFLIGHT" --cgroups="$BUS_TMP/cgroups" --churn="$BUS_TMP/churn"
        --unmonitored="$BUS_TMP/unmonitored" --timeout=30)
# CPU time (ticks) of memcgd: the whole process and its main thread, which
# alone serves the bus.
cpu_ticks() { awk '{ print $14 + $15 }' "$1" 2>/dev/null; }
hz=$(getconf CLK_TCK)
cpu0=$(cpu_ticks "/proc/$MEMCGD_PID/stat"); main0=$(cpu_ticks "/proc/$MEMCGD_PID/task/$MEMCGD_PID/stat")
t0=$(date +%s%N)
"$MEMCGD_LOAD_CLIENT" --label=root --clients="$nroot" "${common[@]}" --seed=1 --sample-pid="$MEMCGD_PID" \
        --latency-out="$BUS_TMP/lat.root" >"$BUS_TMP/client.root" 2>&1 &
RC_ROOT_PID=$!
if [ "$nuser" -gt 0 ]; then
        touch "$BUS_TMP/lat.user"; chmod 0666 "$BUS_TMP/lat.user"
        as_user "$MEMCGD_LOAD_CLIENT" --label=user --clients="$nuser" "${common[@]}" --seed=2 --unprivileged \
                --latency-out="$BUS_TMP/lat.user" >"$BUS_TMP/client.user" 2>&1 &
        RC_USER_PID=$!
fi
wait "$RC_ROOT_PID"; rc_root=$?
rc_user=0
[ "$nuser" -gt 0 ] && { wait "$RC_USER_PID"; rc_user=$?; }
wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cpu1=$(cpu_ticks "/proc/$MEMCGD_PID/stat"); main1=$(cpu_ticks "/proc/$MEMCGD_PID/task/$MEMCGD_PID/stat")
sed 's/^/   /' "$BUS_TMP/client.root"
[ "$nuser" -gt 0 ] && sed 's/^/   /' "$BUS_TMP/client.user"
assert_eq "the root clients: every call got an allowed answer" 0 "$rc_root"
[ "$nuser" -gt 0 ] && assert_eq "the unprivileged clients: every call got an allowed answer" 0 "$rc_user"

lat_files=("$BUS_TMP/lat.root")
[ "$nuser" -gt 0 ] && lat_files+=("$BUS_TMP/lat.user")
calls=$(cat "${lat_files[@]}" 2>/dev/null | wc -l)
assert_eq "replies counted: $calls of $((CLIENTS * CALLS)) calls" $((CLIENTS * CALLS)) "$calls"
read -r p50 p90 p99 pmax < <(sort -n "${lat_files[@]}" | "$PYTHON" -c '
import sys
v = [int(x) for x in sys.stdin]
def p(q): return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] / 1000 if v else 0
print(f"{p(0.5):.2f} {p(0.9):.2f} {p(0.99):.2f} {v[-1] / 1000 if v else 0:.2f}")')
say "calls under load: $calls in $((wall_ms / 1000)).$((wall_ms % 1000 / 100)) s = $((calls * 1000 / (wall_ms > 0 ? wall_ms : 1))) calls/s; latency ms p50 $p50 p90 $p90 p99 $p99 max $pmax"
if [ -n "$cpu0" ] && [ -n "$cpu1" ] && [ "$calls" -gt 0 ]; then
        say "memcgd CPU during the calls: $(( (cpu1 - cpu0) * 1000 / hz )) ms ($(( (main1 - main0) * 1000 / hz )) ms in the bus thread) = $(( (main1 - main0) * 1000000 / hz / calls )) us of bus thread per call; load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi

read -r rs rm re < <(sed -n 's/.*memcgd RSS KiB start \([-0-9]*\) middle \([-0-9]*\) end \([-0-9]*\)/\1 \2 \3/p' "$BUS_TMP/client.root")
say "memcgd RSS: start ${rs} KiB, middle ${rm} KiB, end ${re} KiB"
if ldd "$MEMCGD_BIN" 2>/dev/null | grep -qE 'libasan|libtsan'; then
        say "   (sanitizer build: RSS not compared, a sanitizer's quarantine holds freed memory; LeakSanitizer checks at exit)"
elif [ -n "$rm" ] && [ "$rm" -gt 0 ] && { [ "$re" -le $((rm + rm / 10)) ] || [ "$re" -le $((rm + 8192)) ]; }; then
        pass "RSS flat from the middle to the end of the run (+$((re - rm)) KiB)"
else
        fail "RSS flat from the middle to the end of the run (end within +10% or +8 MiB of middle)" "start $rs, middle $rm, end $re KiB"
fi

check "memcgd is still serving" memcgd_alive
assert_u64 "MonitoredCount is at least $NCG (plus churned ones)" "$(mgr_property MonitoredCount)" -ge "$NCG"
g1=$(signals LimitChanged | awk -F'\t' '$5 == "grow"' | wc -l)
s1=$(signals LimitChanged | awk -F'\t' '$5 == "shrink"' | wc -l)
say "limit changes during the calls: $((g1 - g0)) grows, $((s1 - s0)) shrinks"
if [ $((g1 - g0)) -gt 0 ]; then pass "the memcgs grew during the calls"; else fail "the memcgs grew during the calls" "no grow signal"; fi
kill -TERM "$BREATHERS"; wait "$BREATHERS" 2>/dev/null
ooms=0
for d in "${dirs[@]}"; do ooms=$((ooms + $(awk '$1 == "oom_kill" { print $2 }' "$d/memory.oom_control"))); done
say "   children: $(grep '^oom-killed' "$BUS_TMP/breathers.out"); kernel oom_kill over the $NCG memcgs: $ooms"
if grep -q 'Sanitizer' "$BUS_TMP/breathers.out"; then
        fail "load-breathers ran without sanitizer reports" "$(grep -A 8 'Sanitizer' "$BUS_TMP/breathers.out" | head -n 20)"
fi
# Not this suite's criterion (calls, crashes, memory), but worth seeing:
# each child grows at only 5 MB/s, which a watcher keeps up with.
[ "$ooms" -eq 0 ] || say "NOTE: $ooms OOM kill(s) of children growing at 5 MB/s in $NCG monitored memcgs"
bus_finish
