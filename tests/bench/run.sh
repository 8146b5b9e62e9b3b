#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# memcgd benchmarks (issue 8), one command:
#
#   sudo tests/bench/run.sh [--small] [--build-dir=DIR] [--out=DIR]
#                           [--only=b1,b1v2,b2,b3,b4,b4broker,b5,b5v2,profile] [--no-build]
#
# Builds (meson setup + ninja in DIR, default build-bench/ beside the
# sources, or uses the given build directory), then runs
#   B1 reaction latency         (fake tree 1/100/4000 + storms, 5 rounds pooled; real v1
#                                1/100 + storm, normal and SCHED_FIFO workers; each beside
#                                its floor; fake storms also beside a thread-per-cgroup floor)
#   B1 on v2 (b1v2)             (real cgroup v2 in QEMU, tests/bench/v2-vm.sh b1: 1/100 + storm,
#                                normal and SCHED_FIFO workers, beside the floor; ~5 min
#                                under TCG, --small: 100 cgroups, normal workers, ~40 s)
#   B2 survivable allocation rate (real v1, 1 GiB at full speed, 4 modes, memcgd vs pollers)
#   B3 idle cost                (the daemon with 4000 fake + 1000 real v1 idle cgroups: the
#                                first and second minute, and once the limits settled; beside
#                                the settled checks alone, threads in phase / spread, one loop;
#                                each window's main thread apart)
#   B4 D-Bus throughput         (private bus + polkitd; GetStats/ListMonitored vs Peer.Ping)
#   B4 on dbus-broker (b4broker) (the same on dbus-broker, the system bus of Fedora/Arch/RHEL)
#   B5 effectiveness            (bursty workload: slack, give-back time, OOM kills)
#   B5 on v2 (b5v2)             (the same in QEMU, tests/bench/v2-vm.sh b5; ~5 min, --small ~25 s)
#   profile                     (callgrind instruction counts of the engine's reaction path,
#                                full run or --only=profile)
# Each prints a table; JSON lands in --out (default DIR/bench-results):
# b1.json, b1v2.json, b2.json ... b4broker.json, b5.json, b5v2.json, summary.json, the logs and the callgrind output.
# --small is the CI smoke run (about 4 minutes); the full run takes
# about 50 minutes on 2 cores (50 at 8060cb6; B3 waits ~7 minutes a daemon for its
# idle cgroups' limits to settle).
#
# Needs root (real memcgs, SCHED_FIFO, a polkit rule, a test user) and
# cgroup v1 memory for B1-v1/B2/B4/B5, QEMU for B1-v2/B5-v2; what the host lacks is skipped with
# the reason. Benchmarks report their targets, they do not fail on them:
# the exit status is non-zero only when a benchmark could not run.
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
small=0
build=
out=
only=
nobuild=0
for a in "$@"; do
        case $a in
        --small) small=1 ;;
        --build-dir=*) build=${a#--build-dir=} ;;
        --out=*) out=${a#--out=} ;;
        --only=*) only=${a#--only=} ;;
        --no-build) nobuild=1 ;;
        -h|--help) sed -n '3,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $a (see --help)" >&2; exit 2 ;;
        esac
done
build=${build:-$src/build-bench}
# Absolute: the bus steps run in a directory of their own.
[[ $build == /* ]] || build=$PWD/$build
out=${out:-$build/bench-results}

if [ "$(id -u)" != 0 ]; then
        echo "tests/bench/run.sh: run as root (real memcgs, SCHED_FIFO, polkit rules)" >&2
        exit 1
fi

want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

if [ $nobuild = 0 ]; then
        if [ ! -f "$build/build.ninja" ]; then
                meson setup "$build" "$src" >"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
        fi
        ninja -C "$build" >"$build.ninja.log" 2>&1 || { tail -40 "$build.ninja.log"; exit 1; }
fi
bdir=$build/tests/bench
if [ ! -x "$bdir/bench-b1" ]; then
        echo "tests/bench/run.sh: $bdir/bench-b1 was not built: is subdir('bench') in tests/meson.build?" >&2
        exit 1
fi
mkdir -p "$out"
# Debian's python3 (.ci/deps.sh installs it), not whatever shim is first
# on PATH: tests/bus/lib.sh says why.
if [ -z "${PYTHON:-}" ]; then
        if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON

export MEMCGD_SOURCE_ROOT=$src
export MEMCGD_BUILD_ROOT=$build
export MEMCGD_BIN=$build/service/memcgd
export MEMCGD_BENCH_DBUS=$bdir/bench-dbus

small_arg=()
[ $small = 1 ] && small_arg=(--small)
failed=()
t_all=$SECONDS
declare -A took

# step NAME CMD...: runs CMD, its output to the terminal and NAME.log.
step() {
        local name=$1 t=$SECONDS rc
        shift
        echo "=== $name: $*"
        "$@" 2>&1 | tee "$out/$name.log"
        rc=${PIPESTATUS[0]}
        took[$name]=$((SECONDS - t))
        case $rc in
        0) ;;
        77) echo "=== $name skipped (see above)" ;;
        *) echo "=== $name FAILED (exit $rc)"; failed+=("$name") ;;
        esac
}

want b1 && step b1 "$bdir/bench-b1" "${small_arg[@]}" --json="$out/b1.json"
v2_small=()
[ $small = 1 ] && v2_small=(--small --rt=0 --sizes=100)
want b1v2 && step b1v2 bash "$src/tests/bench/v2-vm.sh" b1 --build-dir="$build" "${v2_small[@]}" --json="$out/b1v2.json"
want b2 && step b2 "$bdir/bench-b2" "${small_arg[@]}" --json="$out/b2.json"
want b3 && step b3 "$bdir/bench-b3" "${small_arg[@]}" --json="$out/b3.json" --memcgd="$MEMCGD_BIN"
want b4 && step b4 bash "$src/tests/bench/b4-dbus.sh" "${small_arg[@]}" --json="$out/b4.json"
want b4broker && step b4broker bash "$src/tests/bench/b4-dbus.sh" "${small_arg[@]}" --bus=dbus-broker \
        --json="$out/b4broker.json"
want b5 && step b5 "$bdir/bench-b5" "${small_arg[@]}" --json="$out/b5.json"
b5v2_small=()
[ $small = 1 ] && b5v2_small=(--small --seconds=5)
want b5v2 && step b5v2 bash "$src/tests/bench/v2-vm.sh" b5 --build-dir="$build" "${b5v2_small[@]}" --json="$out/b5v2.json"

# Instruction counts are stable on a busy machine where times are not:
# the engine's threads only (worker_main, notify_main and what they call),
# 100 fake cgroups, sequential breaches. Two runs (100 and 400 breaches):
# their difference is the cost of 300 reactions alone, without the
# monitor starts and the shutdown both runs share.
profile() {
        local a=100 b=400
        command -v valgrind >/dev/null || { echo "SKIP profile: valgrind is not installed (.ci/deps.sh)"; return 77; }
        for n in $a $b; do
                MEMCGD_BENCH_NO_OPENAT2=1 valgrind --tool=callgrind --callgrind-out-file="$out/callgrind-$n.out" \
                        --toggle-collect=worker_main --toggle-collect=notify_main \
                        "$bdir/bench-b1" --only=fake --sizes=100 --samples=$n --no-floor --no-storm \
                        >"$out/profile-run-$n.log" 2>&1 || { tail -20 "$out/profile-run-$n.log"; return 1; }
                callgrind_annotate --auto=no --threshold=100 --inclusive=no "$out/callgrind-$n.out" >"$out/profile-self-$n.txt" 2>/dev/null
                callgrind_annotate --auto=no --threshold=100 --inclusive=yes "$out/callgrind-$n.out" >"$out/profile-inclusive-$n.txt" 2>/dev/null
        done
        "$PYTHON" - "$out" $a $b <<'PYEOF'
import json, re, sys
out, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(\S.*?)(?: \[.*\])?$")
def table(kind, n):
    t = {}
    for l in open(f"{out}/profile-{kind}-{n}.txt"):
        m = line.match(l)
        if m:
            name = m.group(2)
            name = name.split(":", 1)[1] if ":" in name and not name.startswith("PROGRAM") else name
            t[name] = t.get(name, 0) + int(m.group(1).replace(",", ""))
    return t
res = {"tool": "callgrind", "breaches": b - a, "cgroups": 100}
print("\nProfile: callgrind instructions per reaction (engine threads: notify_main + worker_main),")
print("fake tree of 100 cgroups, (run of %d breaches - run of %d) / %d" % (b, a, b - a))
for kind, title in (("self", "own instructions"), ("inclusive", "inclusive")):
    ta, tb = table(kind, a), table(kind, b)
    per = {k: (tb.get(k, 0) - ta.get(k, 0)) / (b - a) for k in tb}
    total = per.pop("PROGRAM TOTALS", None)
    if kind == "self":
        print("total: %.0f instructions per reaction" % total)
        res["ir_per_reaction"] = total
    print("top functions by %s per reaction:" % title)
    # Callgrind's inclusive cost of the thread entry points counts the
    # recursion through the toggle twice: leave them out.
    per = {k: v for k, v in per.items() if k not in ("clone", "start_thread", "worker_main", "notify_main")
           or kind == "self"}
    top = sorted(per.items(), key=lambda x: -x[1])[:15]
    for k, v in top:
        print("  %8.0f  %5.1f%%  %s" % (v, 100 * v / total if total else 0, k))
    res["top_" + kind] = [{"function": k, "ir_per_reaction": v} for k, v in top]
with open(f"{out}/profile.json", "w") as f:
    json.dump(res, f, indent=1)
    f.write("\n")
PYEOF
}
if { [ $small = 0 ] && [ -z "$only" ]; } || [[ ",$only," == *",profile,"* ]]; then
        step profile profile
fi

# One summary of every JSON written in this run, with the commit it ran
# at (a table in the README names it).
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git -C "$src" diff --quiet HEAD 2>/dev/null; then
        commit="$commit+changes"
fi
"$PYTHON" - "$out" "$small" "$((SECONDS - t_all))" "$commit" <<'EOF'
import json, os, sys, time
out, small, secs, commit = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4]
s = {"small": small, "seconds": secs, "unix_time": int(time.time()), "commit": commit}
for n in ("b1", "b1v2", "b2", "b3", "b4", "b4broker", "b5", "b5v2", "profile"):
    p = os.path.join(out, n + ".json")
    if os.path.exists(p) and os.path.getmtime(p) >= time.time() - secs - 5:
        with open(p) as f:
            s[n] = json.load(f)
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(s, f, indent=1)
    f.write("\n")
EOF

echo
for n in b1 b1v2 b2 b3 b4 b4broker b5 b5v2 profile; do
        [ -n "${took[$n]:-}" ] && echo "memcgd bench: $n took ${took[$n]} s"
done
echo "memcgd bench: done in $((SECONDS - t_all)) s at $commit; results in $out"
if [ ${#failed[@]} -gt 0 ]; then
        echo "memcgd bench: could not run: ${failed[*]}"
        exit 1
fi
exit 0
