#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite, from a clean clone on a fresh Debian 12 machine, as
# root: installs what is missing (apt-get), builds, and runs every suite
# (unit, kernel, vm, bus, cli, gui, fault, load, hardening) in a normal
# build, then the benchmarks once at small sizes, then the sanitizer builds
# (ASan+UBSan over unit, kernel, bus, cli, fault, load and hardening; TSan
# over unit and kernel), then every libFuzzer target for 20 s, one a CPU
# at a time (MEMCGD_FUZZ_SECONDS; tests/fuzz/run-fuzzers.sh alone runs 60 s).
#
#   sudo tests/run-all.sh            everything (what .ci/run calls)
#   sudo tests/run-all.sh --quick    the normal build only
#
# Ends with one line "memcgd: N passed, N failed, N skipped". A skipped
# test says why in its log; under CI=true a skip counts as a failure,
# because CI must provide everything the tests need.
set -uo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

if [ "$(id -u)" != 0 ]; then
        echo "tests/run-all.sh: run as root (the kernel, vm and bus suites need it)" >&2
        exit 1
fi

"$src/.ci/deps.sh" --tests || exit 1

total_pass=0 total_fail=0 total_skip=0
failed_runs=()

# run NAME BUILDDIR "MESON OPTIONS" SUITES...
run() {
        local name=$1 dir=$2 opts=$3
        shift 3
        local suites=()
        for s in "$@"; do suites+=(--suite "$s"); done

        echo "=== memcgd: $name build ($dir): suites $*"
        if [ ! -f "$dir/build.ninja" ]; then
                # shellcheck disable=SC2086
                meson setup "$dir" "$src" $opts >"$dir.setup.log" 2>&1 || {
                        cat "$dir.setup.log"; failed_runs+=("$name: meson setup"); total_fail=$((total_fail + 1)); return; }
        fi
        if ! ninja -C "$dir" >"$dir.ninja.log" 2>&1; then
                tail -50 "$dir.ninja.log"
                failed_runs+=("$name: build")
                total_fail=$((total_fail + 1))
                return
        fi
        # A log of its own a run (the bench run shares the normal build's
        # directory and would overwrite its log).
        local log="$dir/meson-logs/testlog-$name.json"
        local p f s mrc
        rm -f "$log"
        meson test -C "$dir" --print-errorlogs --no-rebuild --logbase "testlog-$name" "${suites[@]}"
        mrc=$?
        if [ ! -s "$log" ]; then
                # No log, no count: that is a failure, not zero tests.
                echo "--- the $name run wrote no test log ($log; meson test exit status $mrc)"
                failed_runs+=("$name: no test log (meson test exit status $mrc)")
                total_fail=$((total_fail + 1))
                return
        fi
        p=$(jq -s '[.[] | select(.result == "OK" or .result == "EXPECTEDFAIL")] | length' "$log")
        f=$(jq -s '[.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP")] | length' "$log")
        s=$(jq -s '[.[] | select(.result == "SKIP")] | length' "$log")
        if [ "$mrc" -ne 0 ] && [ "$f" -eq 0 ]; then
                # meson failed without a failed test in the log (a test
                # that could not be started, an interrupted run).
                echo "--- meson test exited $mrc in the $name build with no failed test in its log"
                f=1
        fi
        if [ "$s" -gt 0 ]; then
                echo "--- skipped in the $name build:"
                jq -rs '.[] | select(.result == "SKIP") | "    \(.name): \(.stdout | split("\n") | map(select(test("SKIP|skip"))) | .[0] // "see log")"' "$log"
        fi
        if [ "$f" -gt 0 ]; then
                # --print-errorlogs shows a long log's last 100 lines only:
                # every failed check of the failed tests, wherever it was.
                echo "--- failed checks in the $name build (full logs: $dir/meson-logs/testlog-$name.txt):"
                jq -rs '.[] | select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP") |
                        "    \(.name):", (.stdout // "" | split("\n") | map(select(test("^(not ok|FAIL)"))) | .[] | "        \(.)")' "$log"
        fi
        total_pass=$((total_pass + p))
        total_fail=$((total_fail + f))
        total_skip=$((total_skip + s))
        [ "$f" -gt 0 ] && failed_runs+=("$name: $f failed")
}

builddir=${MEMCGD_BUILDDIR:-$src/build}
run normal "$builddir" "" unit kernel vm bus cli gui fault load hardening
if [ $quick = 0 ]; then
        # The benchmarks once at small sizes, as a smoke check (figures in
        # their logs; tests/bench/run.sh is the full run).
        run bench "$builddir" "" bench
        # Sanitizer runtimes: leak checking on, any report fails the test.
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
        # The OOM storm is paced by the kernel (~15 kills/s here): the
        # normal build runs 1,000, the sanitizer builds a shorter one.
        export KT_STORM_N=${KT_STORM_N:-200}
        # 4,000 workers are the normal build's; 1,000 under the sanitizers.
        export MEMCGD_SCALE_N=${MEMCGD_SCALE_N:-1000}
        # The load suite's 50 clients make 400 calls each under ASan
        # (2,000 in the normal build).
        export LOAD_CALLS=${LOAD_CALLS:-400}
        run asan "$builddir-asan" "-Db_sanitize=address,undefined -Db_lundef=false" unit kernel bus cli fault load hardening
        run tsan "$builddir-tsan" "-Db_sanitize=thread -Db_lundef=false" unit kernel

        # libFuzzer over every parser, a bounded time per target (its
        # corpora also replay in the unit suite of every build above).
        # 20 s a target, a target a CPU at a time (~1.5 minutes on 2 CPUs);
        # the committed corpora carry what longer runs found.
        export MEMCGD_FUZZ_SECONDS=${MEMCGD_FUZZ_SECONDS:-20}
        echo "=== memcgd: fuzzers (libFuzzer + ASan + UBSan, $MEMCGD_FUZZ_SECONDS s a target)"
        fuzzlog=$builddir.fuzz.log
        MEMCGD_FUZZ_BUILDDIR=$builddir-fuzz "$src/tests/fuzz/run-fuzzers.sh" 2>&1 | tee "$fuzzlog"
        rc=${PIPESTATUS[0]}
        fp=$(grep -c '^fuzz-.*: PASS' "$fuzzlog")
        ff=$(grep -c '^fuzz-.*: FAIL' "$fuzzlog")
        if [ "$rc" = 77 ]; then
                total_skip=$((total_skip + 1))
        elif [ "$rc" != 0 ] && [ "$ff" = 0 ]; then
                ff=1
        fi
        total_pass=$((total_pass + fp))
        total_fail=$((total_fail + ff))
        [ "$ff" -gt 0 ] && failed_runs+=("fuzz: $ff failed")
fi

if [ "${CI:-}" = true ] && [ "$total_skip" -gt 0 ]; then
        echo "memcgd: $total_skip test(s) skipped under CI=true, where everything they need must be provided"
        failed_runs+=("skips under CI")
fi
echo
for r in "${failed_runs[@]}"; do echo "memcgd: FAILED: $r"; done
echo "memcgd: $total_pass passed, $total_fail failed, $total_skip skipped"
if [ ${#failed_runs[@]} -gt 0 ]; then
        exit 1
fi
exit 0
