#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# B4: D-Bus throughput of memcgd on a private system bus (dbus-daemon,
# the real polkitd, the daemon: tests/bus/lib.sh brings them up and tears
# them down). bench-dbus calls, for a few seconds each:
#   org.freedesktop.DBus.Peer.Ping on /org/memcgd1 (the floor: answered by
#     sd-bus itself in the daemon's main thread, no memcgd code),
#   GetStats of a monitored v1 memcg, ListMonitored (20 monitored),
#   and, as GetStats' floor, Ping and GetStats of bench-dbus echo-serve
#   (the same reply copied, no kernel read),
# synchronously and with 64 calls in flight; and Monitor+Unmonitor round
# trips (one pair = one Monitor, which registers v1 thresholds in the
# kernel, then one Unmonitor, which joins the worker) as root and as an
# unprivileged user that a polkit rule authorises. The throughput calls
# run in rounds, each call once a round; a ratio is to the Ping of the
# same round and the table gives the rounds' median and range (one
# 4-second run per call moved by up to 2x between runs on a busy 2-core
# host). Prints a table and writes JSON.
#
#   tests/bench/b4-dbus.sh [--small] [--json=FILE] [--seconds=S] [--rounds=N]
#                          [--bus=dbus-daemon|dbus-broker]
# (5 rounds of 2 s a measurement; --small: 1 round of 1 s). --bus picks
# the bus: dbus-daemon (Debian's system bus, the default) or dbus-broker
# (the system bus of Fedora, Arch and RHEL; tests/bus/broker-launch.py
# runs it without systemd). The bus column is that process's CPU.
# Environment as for the bus suite (MEMCGD_BIN, MEMCGD_SOURCE_ROOT,
# MEMCGD_BUILD_ROOT) plus MEMCGD_BENCH_DBUS, the client binary.

SMALL=0
JSON=
SECS=
ROUNDS=
for a in "$@"; do
        case $a in
        --small) SMALL=1 ;;
        --json=*) JSON=${a#--json=} ;;
        --seconds=*) SECS=${a#--seconds=} ;;
        --rounds=*) ROUNDS=${a#--rounds=} ;;
        --bus=*) BUS_IMPL=${a#--bus=} ;;
        *) echo "b4-dbus.sh: unknown argument $a" >&2; exit 2 ;;
        esac
done
[ -n "$SECS" ] || { [ $SMALL = 1 ] && SECS=1 || SECS=2; }
[ -n "$ROUNDS" ] || { [ $SMALL = 1 ] && ROUNDS=1 || ROUNDS=5; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${MEMCGD_SOURCE_ROOT:=$(cd "$HERE/../.." && pwd)}"
export MEMCGD_SOURCE_ROOT

# A user of this run alone (the polkit rule below names it), deleted at
# exit; limits must not drift while monitored cgroups are listed.
BUS_USER="memcgd-b$$"
BUS_USER_TEMPORARY=1
BUS_SHRINK_BASE=50s
. "$MEMCGD_SOURCE_ROOT/tests/bus/lib.sh"
BUS_TEST_NAME=b4-$BUS_IMPL

CLIENT=${MEMCGD_BENCH_DBUS:-}
[ -x "$CLIENT" ] || skip "bench-dbus client not built (MEMCGD_BENCH_DBUS=${CLIENT})"

# The floor for GetStats: bench-dbus echo-serve answers GetStats with a
# copy of memcgd's reply for the same cgroup, reading nothing from the
# kernel, on the same bus. What it reaches is what the reply's size
# leaves to any server.
BUS_EXTRA_POLICY='<policy user="root"><allow own="org.memcgd1.BenchEcho"/></policy>
<policy context="default"><allow send_destination="org.memcgd1.BenchEcho"/></policy>'

# Debug logging would measure the log file: only warnings (the last
# --log-level wins).
bus_setup --log-level=warning

# The unprivileged user runs the client from the test directory (the build
# tree may not be reachable for it).
cp "$CLIENT" "$BUS_TMP/bench-dbus" && chmod 0755 "$BUS_TMP/bench-dbus"
CLIENT=$BUS_TMP/bench-dbus

N_LIST=20
for i in $(seq 1 $N_LIST); do
        memcg_create "list$i"
        mgr root Monitor st "$MEMCG" $((64 * 1048576)) >/dev/null || die "Monitor $MEMCG" "$(cat "$BUS_TMP/last.err")"
        [ "$i" = 1 ] && CG_STATS=$MEMCG
done
memcg_create cycle-root; CG_ROOT=$MEMCG
memcg_create cycle-user; CG_USER=$MEMCG

RULE="50-memcgd-bench-$$.rules"
polkit_add_rule "$RULE" 'polkit.addRule(function(action, subject) {
        if (action.id == "org.memcgd1.monitor" && subject.user == "'"$BUS_USER"'")
                return polkit.Result.YES;
});' || die "polkitd did not load the rule" "$(tail -n 5 "$BUS_TMP/polkitd.log")"

# The process that routes the messages (dbus-broker-launch only starts it).
BUS_CPU_PID=${BUS_BROKER_PID:-$BUS_DBUS_PID}
RESULTS=$BUS_TMP/b4.jsonl
: >"$RESULTS"
# CPU time (user + system, clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
measure() { # LABEL CALLER ARGS...
        local label=$1 who=$2 out m0 d0 m1 d1
        shift 2
        m0=$(cpu_ticks "${SERVER_PID:-$MEMCGD_PID}") d0=$(cpu_ticks "$BUS_CPU_PID")
        if [ "$who" = user ]; then
                out=$(as_user "$CLIENT" "$@" 2>>"$BUS_TMP/client.err")
        else
                out=$("$CLIENT" "$@" 2>>"$BUS_TMP/client.err")
        fi
        m1=$(cpu_ticks "${SERVER_PID:-$MEMCGD_PID}") d1=$(cpu_ticks "$BUS_CPU_PID")
        if [ -z "$out" ]; then
                fail "$label: the client printed nothing" "$(tail -n 3 "$BUS_TMP/client.err")"
                return
        fi
        # Where the time of a call goes: the server's (memcgd's, or
        # SERVER_PID's) and the bus's CPU (dbus-daemon or dbus-broker).
        out="${out%\}},\"memcgd_cpu_us\":$(((m1 - m0) * TICK_US)),\"dbus_daemon_cpu_us\":$(((d1 - d0) * TICK_US))}"
        printf '{"label":"%s","caller":"%s","round":%d,"result":%s}\n' "$label" "$who" "${ROUND:-1}" "$out" \
                >>"$RESULTS"
        say "  $label ($who${ROUND:+, round $ROUND}): $out"
}

"$CLIENT" echo-serve --cgroup="$CG_STATS" >"$BUS_TMP/echo.out" 2>"$BUS_TMP/echo.err" &
ECHO_PID=$!
if wait_for "echo server" 10 grep -q '^ready' "$BUS_TMP/echo.out"; then
        pass "the echo server answers GetStats with memcgd's reply for $CG_STATS"
else
        fail "the echo server answers GetStats with memcgd's reply for $CG_STATS" "$(cat "$BUS_TMP/echo.err")"
fi
ECHO=org.memcgd1.BenchEcho

say "== B4: ${SECS}s per measurement, $ROUNDS rounds"
# Rounds of every call in turn: a ratio is taken between a call and the
# Ping of the same round, and the table gives the rounds' median, so that
# a busy moment of the host moves one round, not the result.
for round in $(seq 1 "$ROUNDS"); do
        for inflight in 1 64; do
                ROUND=$round measure "ping" root ping --inflight=$inflight --seconds="$SECS"
                ROUND=$round measure "getstats" root getstats --inflight=$inflight --seconds="$SECS" \
                        --cgroup="$CG_STATS"
                ROUND=$round measure "list" root list --inflight=$inflight --seconds="$SECS"
                ROUND=$round SERVER_PID=$ECHO_PID measure "echo-ping" root ping --inflight=$inflight \
                        --seconds="$SECS" --dest=$ECHO
                ROUND=$round SERVER_PID=$ECHO_PID measure "echo-getstats" root getstats --inflight=$inflight \
                        --seconds="$SECS" --cgroup="$CG_STATS" --dest=$ECHO
        done
done
kill "$ECHO_PID" 2>/dev/null
wait "$ECHO_PID" 2>/dev/null
measure "monitor-unmonitor" root monitor-cycle --seconds="$SECS" --cgroup="$CG_ROOT"
measure "monitor-unmonitor" user monitor-cycle --seconds="$SECS" --cgroup="$CG_USER"
memcgd_alive && pass "memcgd is still on the bus after the benchmark" || fail "memcgd is still on the bus after the benchmark"

"$PYTHON" - "$RESULTS" "$SMALL" "${JSON:-}" "$N_LIST" "$BUS_IMPL" <<'EOF'
import json, sys, os, time, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
small, out, n_list, bus = sys.argv[2] == "1", sys.argv[3], int(sys.argv[4]), sys.argv[5]
rounds = sorted({r.get("round", 1) for r in rows})
def get(label, inflight, rnd, caller="root"):
    for r in rows:
        if (r["label"] == label and r["caller"] == caller and r["result"]["inflight"] == inflight and
                r.get("round", 1) == rnd):
            return r["result"]
    return None
def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
def per_call(r, key):
    return r[key] / r["calls"] if r.get("calls") and key in r else None
table = []
print("\nB4 D-Bus throughput (private " + bus + ", memcgd --log-level=warning; calls/s; ratio to the Peer.Ping of the")
print("same round; the median of %d rounds, the rounds' range beside it)" % len(rounds))
print("%-30s %8s %10s %9s %9s %9s %9s %7s %-11s %s" % ("call", "inflight", "calls/s", "p50 us", "p99 us", "server",
      "bus", "ratio", "range", "target >= 0.8"))
print("%-30s %8s %10s %9s %9s %9s %9s" % ("", "", "", "", "", "us/call", "us/call"))
for inflight in (1, 64):
    for label, name in (("ping", "Peer.Ping"), ("getstats", "GetStats"), ("list", "ListMonitored (%d)" % n_list),
                        ("echo-ping", "floor: echo server Ping"),
                        ("echo-getstats", "floor: echo server GetStats")):
        rs = [r for r in (get(label, inflight, k) for k in rounds) if r]
        if not rs:
            continue
        ratios = []
        for k in rounds:
            r = get(label, inflight, k)
            # echo-getstats: the same reply bytes with no work behind them,
            # against the same server's Ping: the most any server gets.
            base = get("echo-ping" if label == "echo-getstats" else "ping", inflight, k)
            if r and base and base["rate"] and "ping" not in label:
                ratios.append(r["rate"] / base["rate"])
        ratio = med(ratios)
        rate = med([r["rate"] for r in rs])
        p50, p99 = med([r.get("p50_us") for r in rs]), med([r.get("p99_us") for r in rs])
        mc, dc = med([per_call(r, "memcgd_cpu_us") for r in rs]), med([per_call(r, "dbus_daemon_cpu_us") for r in rs])
        row = {"call": name, "inflight": inflight, "rounds": len(rs), "calls_per_second": rate,
               "calls_per_second_by_round": [r["rate"] for r in rs],
               "calls": sum(r["calls"] for r in rs), "errors": sum(r["errors"] for r in rs),
               "p50_us": p50, "p99_us": p99,
               "memcgd_cpu_us_per_call": mc, "dbus_daemon_cpu_us_per_call": dc,
               "ratio_to_ping": ratio, "ratio_to_ping_by_round": ratios,
               "target_met": (ratio >= 0.8) if ratio is not None and not label.startswith("echo") else None}
        table.append(row)
        rng = "%.2f-%.2f" % (min(ratios), max(ratios)) if len(ratios) > 1 else ""
        print("%-30s %8d %10.0f %9s %9s %9s %9s %7s %-11s %s" % (name, inflight, rate,
              "%.0f" % p50 if p50 is not None else "-", "%.0f" % p99 if p99 is not None else "-",
              "%.1f" % mc if mc is not None else "-", "%.1f" % dc if dc is not None else "-",
              "%.2f" % ratio if ratio is not None else "-", rng,
              "" if ratio is None else "(floor)" if label.startswith("echo") else ("MET" if ratio >= 0.8 else "NOT MET")))
for caller in ("root", "user"):
    r = get("monitor-unmonitor", 1, 1, caller)
    if not r:
        continue
    name = "Monitor+Unmonitor (%s)" % ("root" if caller == "root" else "user via polkit rule")
    table.append({"call": name, "inflight": 1, "round_trips_per_second": r["rate"], "pairs": r["calls"],
                  "errors": r["errors"], "p50_us_per_call": r.get("p50_us"), "p99_us_per_call": r.get("p99_us"),
                  "first_error": r.get("first_error")})
    print("%-30s %8d %10.1f %9s %9s %7s %s" % (name, 1, r["rate"], "%.0f" % r.get("p50_us", 0),
          "%.0f" % r.get("p99_us", 0), "-", ("errors: %d %s" % (r["errors"], r.get("first_error", ""))) if r["errors"] else ""))
if out:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        # dbus_daemon_cpu_us_per_call: the bus's CPU, whichever bus.
        json.dump({"benchmark": "B4 D-Bus throughput", "bus": bus, "small": small, "unix_time": int(time.time()),
                   "rounds": len(rounds), "cpus": os.cpu_count(), "loadavg_1min_at_end": os.getloadavg()[0],
                   "rows": table}, f, indent=1)
        f.write("\n")
EOF
bus_finish
