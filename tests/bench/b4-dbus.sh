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
# unprivileged user that a polkit rule authorises. Prints a table and
# writes JSON.
#
#   tests/bench/b4-dbus.sh [--small] [--json=FILE] [--seconds=S]
# Environment as for the bus suite (MEMCGD_BIN, MEMCGD_SOURCE_ROOT,
# MEMCGD_BUILD_ROOT) plus MEMCGD_BENCH_DBUS, the client binary.

SMALL=0
JSON=
SECS=
for a in "$@"; do
        case $a in
        --small) SMALL=1 ;;
        --json=*) JSON=${a#--json=} ;;
        --seconds=*) SECS=${a#--seconds=} ;;
        *) echo "b4-dbus.sh: unknown argument $a" >&2; exit 2 ;;
        esac
done
[ -n "$SECS" ] || { [ $SMALL = 1 ] && SECS=1 || SECS=4; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${MEMCGD_SOURCE_ROOT:=$(cd "$HERE/../.." && pwd)}"
export MEMCGD_SOURCE_ROOT

# A user of this run alone (the polkit rule below names it), deleted at
# exit; limits must not drift while monitored cgroups are listed.
BUS_USER="memcgd-b$$"
BUS_USER_TEMPORARY=1
BUS_SHRINK_BASE=50s
. "$MEMCGD_SOURCE_ROOT/tests/bus/lib.sh"
BUS_TEST_NAME=b4-dbus

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

RESULTS=$BUS_TMP/b4.jsonl
: >"$RESULTS"
# CPU time (user + system, clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
measure() { # LABEL CALLER ARGS...
        local label=$1 who=$2 out m0 d0 m1 d1
        shift 2
        m0=$(cpu_ticks "${SERVER_PID:-$MEMCGD_PID}") d0=$(cpu_ticks "$BUS_DBUS_PID")
        if [ "$who" = user ]; then
                out=$(as_user "$CLIENT" "$@" 2>>"$BUS_TMP/client.err")
        else
                out=$("$CLIENT" "$@" 2>>"$BUS_TMP/client.err")
        fi
        m1=$(cpu_ticks "${SERVER_PID:-$MEMCGD_PID}") d1=$(cpu_ticks "$BUS_DBUS_PID")
        if [ -z "$out" ]; then
                fail "$label: the client printed nothing" "$(tail -n 3 "$BUS_TMP/client.err")"
                return
        fi
        # Where the time of a call goes: the server's (memcgd's, or
        # SERVER_PID's) and dbus-daemon's CPU.
        out="${out%\}},\"memcgd_cpu_us\":$(((m1 - m0) * TICK_US)),\"dbus_daemon_cpu_us\":$(((d1 - d0) * TICK_US))}"
        printf '{"label":"%s","caller":"%s","result":%s}\n' "$label" "$who" "$out" >>"$RESULTS"
        say "  $label ($who): $out"
}

"$CLIENT" echo-serve --cgroup="$CG_STATS" >"$BUS_TMP/echo.out" 2>"$BUS_TMP/echo.err" &
ECHO_PID=$!
if wait_for "echo server" 10 grep -q '^ready' "$BUS_TMP/echo.out"; then
        pass "the echo server answers GetStats with memcgd's reply for $CG_STATS"
else
        fail "the echo server answers GetStats with memcgd's reply for $CG_STATS" "$(cat "$BUS_TMP/echo.err")"
fi
ECHO=org.memcgd1.BenchEcho

say "== B4: ${SECS}s per measurement"
for inflight in 1 64; do
        measure "ping-before" root ping --inflight=$inflight --seconds="$SECS"
        measure "getstats" root getstats --inflight=$inflight --seconds="$SECS" --cgroup="$CG_STATS"
        measure "list" root list --inflight=$inflight --seconds="$SECS"
        measure "ping-after" root ping --inflight=$inflight --seconds="$SECS"
        SERVER_PID=$ECHO_PID measure "echo-ping" root ping --inflight=$inflight --seconds="$SECS" --dest=$ECHO
        SERVER_PID=$ECHO_PID measure "echo-getstats" root getstats --inflight=$inflight --seconds="$SECS" \
                --cgroup="$CG_STATS" --dest=$ECHO
done
kill "$ECHO_PID" 2>/dev/null
wait "$ECHO_PID" 2>/dev/null
measure "monitor-unmonitor" root monitor-cycle --seconds="$SECS" --cgroup="$CG_ROOT"
measure "monitor-unmonitor" user monitor-cycle --seconds="$SECS" --cgroup="$CG_USER"
memcgd_alive && pass "memcgd is still on the bus after the benchmark" || fail "memcgd is still on the bus after the benchmark"

"$PYTHON" - "$RESULTS" "$SMALL" "${JSON:-}" "$N_LIST" <<'EOF'
import json, sys, os, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
small, out, n_list = sys.argv[2] == "1", sys.argv[3], int(sys.argv[4])
def get(label, inflight, caller="root"):
    for r in rows:
        if r["label"] == label and r["caller"] == caller and r["result"]["inflight"] == inflight:
            return r["result"]
    return None
table = []
print("\nB4 D-Bus throughput (private dbus-daemon, memcgd --log-level=warning; calls/s; ratio to Peer.Ping in the same run)")
print("%-30s %8s %10s %9s %9s %9s %9s %7s %s" % ("call", "inflight", "calls/s", "p50 us", "p99 us", "server", "daemon",
      "ratio", "target >= 0.8"))
print("%-30s %8s %10s %9s %9s %9s %9s" % ("", "", "", "", "", "us/call", "us/call"))
def per_call(r, key):
    return r[key] / r["calls"] if r.get("calls") and key in r else None
for inflight in (1, 64):
    pb, pa = get("ping-before", inflight), get("ping-after", inflight)
    pings = [p["rate"] for p in (pb, pa) if p]
    ping = sum(pings) / len(pings) if pings else None
    ep = get("echo-ping", inflight)
    for label, name in (("ping-before", "Peer.Ping (before)"), ("ping-after", "Peer.Ping (after)"),
                        ("getstats", "GetStats"), ("list", "ListMonitored (%d)" % n_list),
                        ("echo-ping", "floor: echo server Ping"),
                        ("echo-getstats", "floor: echo server GetStats")):
        r = get(label, inflight)
        if not r:
            continue
        if label == "echo-getstats":
            # The same reply bytes with no work behind them, against the
            # same server's Ping: the most any server gets for this reply.
            ratio = r["rate"] / ep["rate"] if ep else None
        else:
            ratio = r["rate"] / ping if ping and "ping" not in label else None
        mc, dc = per_call(r, "memcgd_cpu_us"), per_call(r, "dbus_daemon_cpu_us")
        row = {"call": name, "inflight": inflight, "calls_per_second": r["rate"], "calls": r["calls"],
               "errors": r["errors"], "p50_us": r.get("p50_us"), "p99_us": r.get("p99_us"),
               "memcgd_cpu_us_per_call": mc, "dbus_daemon_cpu_us_per_call": dc,
               "ratio_to_ping": ratio,
               "target_met": (ratio >= 0.8) if ratio is not None and not label.startswith("echo") else None}
        table.append(row)
        print("%-30s %8d %10.0f %9s %9s %9s %9s %7s %s" % (name, inflight, r["rate"],
              "%.0f" % r["p50_us"] if "p50_us" in r else "-", "%.0f" % r["p99_us"] if "p99_us" in r else "-",
              "%.1f" % mc if mc is not None else "-", "%.1f" % dc if dc is not None else "-",
              "%.2f" % ratio if ratio is not None else "-",
              "" if ratio is None else "(floor)" if label.startswith("echo") else ("MET" if ratio >= 0.8 else "NOT MET")))
for caller in ("root", "user"):
    r = get("monitor-unmonitor", 1, caller)
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
        json.dump({"benchmark": "B4 D-Bus throughput", "small": small, "unix_time": int(time.time()),
                   "cpus": os.cpu_count(), "loadavg_1min_at_end": os.getloadavg()[0], "rows": table}, f, indent=1)
        f.write("\n")
EOF
bus_finish
