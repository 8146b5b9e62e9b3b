#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the fuzz targets of tests/fuzz with clang's libFuzzer, ASan and
# UBSan (Debian 12: clang 14 and libclang-rt-14-dev) and runs each one for
# a bounded time, starting from its committed corpus. Each target links
# the pure library; fuzz-state also state.c and util.c, fuzz-bus-handlers
# the whole service but main() (libsystemd and glib through pkg-config).
#
#   tests/fuzz/run-fuzzers.sh [--merge|--minimize] [TARGET...]
#
#   TARGET       kernel-files cgroup-path size mountinfo limits state
#                bus-handlers (default: all)
#   --merge      add the inputs this run found that reach new coverage to
#                tests/fuzz/corpus/<target>/ (libFuzzer -merge=1)
#   --minimize   keep each corpus's named inputs (seed-*, crash-*) and
#                replace the generated ones (named by SHA-1) by the
#                fewest inputs of the corpus and this run that keep the
#                coverage (at most 200 files: all that reach a new edge,
#                then the smallest that reach a new hit count)
#
#   MEMCGD_FUZZ_SECONDS    seconds per target (default 60)
#   MEMCGD_FUZZ_JOBS       targets run at once (default: the CPUs)
#   MEMCGD_FUZZ_BUILDDIR   where binaries, logs and crash inputs go
#                          (default: <source>/build-fuzz)
#   CC                     the compiler (default clang; must be clang)
#
# Prints per target the inputs in its corpus, executions, executions per
# second and PASS or FAIL; a crash or a broken contract prints libFuzzer's
# report and the input, and makes the script exit 1. Exits 77 (skip) when
# clang, its libFuzzer runtime or the libraries' headers are missing. The
# committed corpus is read, never written, unless --merge or --minimize
# is given.
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
fuzzdir=$src/tests/fuzz
seconds=${MEMCGD_FUZZ_SECONDS:-60}
# --minimize keeps a committed corpus below this many files.
corpus_max=200
build=${MEMCGD_FUZZ_BUILDDIR:-$src/build-fuzz}
cc=${CC:-clang}
mode=run
targets=()

for a in "$@"; do
        case $a in
        --merge) mode=merge ;;
        --minimize) mode=minimize ;;
        -h | --help) sed -n '3,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-fuzzers.sh: unknown option $a" >&2; exit 2 ;;
        *) targets+=("$a") ;;
        esac
done
[ ${#targets[@]} -eq 0 ] && targets=(kernel-files cgroup-path size mountinfo limits state bus-handlers)
case $seconds in '' | *[!0-9]*) echo "run-fuzzers.sh: MEMCGD_FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac

# Longest input per target: a path must be able to pass the 4096-byte
# limit (also in a state file line); kernel files and mountinfo are a few
# KiB on real hosts; a sequence of bus calls builds its long paths from a
# few bytes.
max_len() {
        case $1 in
        kernel-files | mountinfo) echo 16384 ;;
        state) echo 8192 ;;
        cgroup-path) echo 4400 ;;
        bus-handlers) echo 2048 ;;
        *) echo 512 ;;
        esac
}

if ! command -v "$cc" >/dev/null; then
        echo "run-fuzzers.sh: SKIP: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)"
        exit 77
fi
mkdir -p "$build/obj" "$build/bin" "$build/logs" "$build/artifacts" || exit 1
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
        "$cc" -x c -fsanitize=fuzzer,address,undefined - -o "$build/obj/probe" 2>"$build/logs/probe.log"; then
        cat "$build/logs/probe.log"
        echo "run-fuzzers.sh: SKIP: $cc cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)"
        exit 77
fi

# The sources of the libraries and of the daemon, as service/meson.build
# lists them, so that a file added there is fuzzed with the rest: from the
# line that opens the list ($1, a regular expression) to its end.
meson_sources() {
        start=$1 awk '$0 ~ ENVIRON["start"] { on = 1; next }
                      on && /include_directories|^\]|\)/ { exit }
                      on { while (match($0, /.[a-z0-9_-]+\.c./)) {
                              print substr($0, RSTART + 1, RLENGTH - 2); $0 = substr($0, RSTART + RLENGTH) } }' \
                "$src/service/meson.build"
}
mapfile -t pure < <(meson_sources 'static_library\(.memcgd-pure.,')
mapfile -t engine < <(meson_sources 'static_library\(.memcgd-engine.,')
mapfile -t daemon < <(meson_sources '^memcgd_sources = \[')
if [ ${#pure[@]} -eq 0 ] || [ ${#engine[@]} -eq 0 ] || [ ${#daemon[@]} -eq 0 ]; then
        echo "run-fuzzers.sh: found no sources of memcgd-pure, memcgd-engine or memcgd in service/meson.build" >&2
        exit 1
fi

# What a target links beyond the pure library: the state loader (with
# util.c's file helpers), or the whole service but main() (the bus
# handlers run the manager and the engine on a fake cgroup tree), and the
# libraries those sources need.
extra_sources() {
        case $1 in
        state) echo state.c util.c ;;
        bus-handlers)
                echo "${engine[@]}"
                for f in "${daemon[@]}"; do [ "$f" = main.c ] || echo "$f"; done
                ;;
        esac
}
extra_libs() {
        case $1 in
        state) pkg-config --libs glib-2.0 ;;
        bus-handlers) pkg-config --libs libsystemd glib-2.0 ;;
        esac
}

if ! deps_cflags=$(pkg-config --cflags libsystemd glib-2.0 2>"$build/logs/pkg-config.log"); then
        cat "$build/logs/pkg-config.log"
        echo "run-fuzzers.sh: SKIP: pkg-config finds no libsystemd or glib-2.0 (Debian: apt-get install libsystemd-dev libglib2.0-dev)"
        exit 77
fi

# The build's config.h, as the top meson.build configures it.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -1)
mkdir -p "$build/obj/gen"
printf '#define MEMCGD_VERSION "%s"\n#define MEMCGD_SYSCONFDIR "/etc"\n#define MEMCGD_LOCALSTATEDIR "/var"\n' \
        "${version:-0}" >"$build/obj/gen/config.h"

start=$SECONDS
# shellcheck disable=SC2206 # pkg-config's flags are separate words
flags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer -fno-sanitize-recover=all
       -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
       -I"$src/include" -I"$src/service" -I"$fuzzdir" -I"$build/obj/gen" $deps_cflags
       -DMEMCGD_STATEDIR='"/var/lib/memcgd"')
echo "=== memcgd fuzz: building with $($cc --version | head -1) in $build"
declare -A built=()
# Compiles service/$1 into $build/obj/ once for all the targets that link it.
service_object() {
        local o=$build/obj/${1%.c}.o
        if [ -z "${built[$1]:-}" ]; then
                "$cc" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src/service/$1" -o "$o" || {
                        echo "memcgd fuzz: FAIL: building service/$1" >&2; return 1; }
                built[$1]=1
        fi
}
objs=()
for f in "${pure[@]}"; do
        service_object "$f" || exit 1
        objs+=("$build/obj/${f%.c}.o")
done
for t in "${targets[@]}"; do
        if [ ! -f "$fuzzdir/fuzz-$t.c" ]; then
                echo "run-fuzzers.sh: no target $t (tests/fuzz/fuzz-$t.c)" >&2
                exit 2
        fi
        more=()
        for f in $(extra_sources "$t"); do
                service_object "$f" || exit 1
                more+=("$build/obj/${f%.c}.o")
        done
        # shellcheck disable=SC2046 # the libraries are separate words
        "$cc" "${flags[@]}" -fsanitize=fuzzer,address,undefined "$fuzzdir/fuzz-$t.c" "${more[@]}" "${objs[@]}" \
                $(extra_libs "$t") -lm -lpthread -o "$build/bin/fuzz-$t" || {
                echo "memcgd fuzz: FAIL: building fuzz-$t"; exit 1; }
done
echo "memcgd fuzz: built in $((SECONDS - start)) s; $seconds s per target, mode $mode"

# Files named by hand (seed-*: real kernel files and edge cases; crash-*:
# inputs that found a bug) are always kept; the files libFuzzer adds are
# named by their SHA-1. --minimize starts from the named files and adds
# the fewest inputs of the corpus and this run that keep the coverage.
is_generated() {
        [[ $(basename "$1") =~ ^[0-9a-f]{40}$ ]]
}

# Replaces the generated files of corpus $1 by those of directory $2.
adopt_minimized() {
        local corpus=$1 min=$2 f
        for f in "$corpus"/*; do is_generated "$f" && rm -f "$f"; done
        for f in "$min"/*; do is_generated "$f" && cp "$f" "$corpus/"; done
}

count_files() {
        find "$1" -maxdepth 1 -type f | wc -l
}

count_bytes() {
        find "$1" -maxdepth 1 -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'
}

# One target: its report on stdout, its executions in $build/logs/$t.execs;
# returns non-zero when it failed.
fuzz_one() {
        local t=$1 bin corpus work log before bytes t0 rc execs rate corp found min edges n f a
        local dict=()
        bin=$build/bin/fuzz-$t
        corpus=$fuzzdir/corpus/$t
        work=$build/work/$t
        log=$build/logs/$t.log
        mkdir -p "$corpus"
        rm -rf "$work" && mkdir -p "$work"
        [ -f "$fuzzdir/fuzz-$t.dict" ] && dict=(-dict="$fuzzdir/fuzz-$t.dict")
        before=$(count_files "$corpus")
        bytes=$(count_bytes "$corpus")

        echo "=== fuzz-$t: $before inputs ($bytes bytes) in tests/fuzz/corpus/$t, fuzzing for $seconds s"
        t0=$SECONDS
        "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
                -max_len="$(max_len "$t")" "${dict[@]}" -artifact_prefix="$build/artifacts/$t-" \
                "$work" "$corpus" >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
        found=$(count_files "$work")
        echo "${execs:-0}" >"$build/logs/$t.execs"

        if [ $rc -ne 0 ]; then
                echo "--- fuzz-$t: libFuzzer exited $rc; its report (full log: $log):"
                grep -v '^#\|^INFO: \|^stat::' "$log" | tail -60
                for a in $(grep -o "Test unit written to [^ ]*" "$log" | sed 's/Test unit written to //'); do
                        echo "--- the input, $a ($(stat -c %s "$a") bytes):"
                        od -A d -c "$a" | head -40
                        # A committed input (a kept crash-* or a seed) is
                        # named, so a known bug reads as one.
                        for f in "$corpus"/*; do
                                cmp -s "$a" "$f" && echo "--- it is the committed input tests/fuzz/corpus/$t/$(basename "$f")"
                        done
                done
                echo "fuzz-$t: FAIL (exit $rc) after ${execs:-?} executions in $((SECONDS - t0)) s"
                return 1
        fi

        case $mode in
        merge)
                "$bin" -merge=1 -max_len="$(max_len "$t")" "$corpus" "$work" >"$build/logs/$t.merge.log" 2>&1 || {
                        echo "fuzz-$t: FAIL: merge (log: $build/logs/$t.merge.log)"; return 1; }
                echo "fuzz-$t: merged $(($(count_files "$corpus") - before)) new inputs into tests/fuzz/corpus/$t"
                ;;
        minimize)
                min=$build/work/$t.min
                rm -rf "$min" && mkdir -p "$min"
                for f in "$corpus"/seed-*; do [ -f "$f" ] && cp "$f" "$min/"; done
                "$bin" -merge=1 -max_len="$(max_len "$t")" "$min" "$corpus" "$work" >"$build/logs/$t.merge.log" 2>&1 || {
                        echo "fuzz-$t: FAIL: minimize (log: $build/logs/$t.merge.log)"; return 1; }
                if [ "$(count_files "$min")" -gt "$corpus_max" ]; then
                        # Too many to commit: every input that reaches an
                        # edge first, then the smallest of those that reach
                        # a new hit count of one, up to corpus_max.
                        edges=$build/work/$t.edges
                        rm -rf "$edges" && mkdir -p "$edges"
                        for f in "$corpus"/seed-*; do [ -f "$f" ] && cp "$f" "$edges/"; done
                        "$bin" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" "$edges" "$corpus" "$work" \
                                >"$build/logs/$t.merge-edges.log" 2>&1 || {
                                echo "fuzz-$t: FAIL: minimize (log: $build/logs/$t.merge-edges.log)"; return 1; }
                        n=$(count_files "$edges")
                        while read -r f; do
                                [ "$n" -ge "$corpus_max" ] && break
                                is_generated "$f" && [ ! -e "$edges/$(basename "$f")" ] || continue
                                cp "$f" "$edges/" && n=$((n + 1))
                        done < <(find "$min" -maxdepth 1 -type f -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
                        min=$edges
                fi
                adopt_minimized "$corpus" "$min"
                echo "fuzz-$t: corpus minimized from $before (+$found found) to $(count_files "$corpus") inputs ($(count_bytes "$corpus") bytes)"
                ;;
        esac
        echo "fuzz-$t: PASS: ${execs:-?} executions in $((SECONDS - t0)) s (${rate:-?} exec/s); corpus $before inputs committed, $found new this run, ${corp:-?} in use (inputs/bytes)"
}

# The targets run side by side, one a CPU (each libFuzzer process is one
# thread, and every target keeps its own corpus, work and log directories);
# the reports print in the targets' order as each one ends.
jobs_max=${MEMCGD_FUZZ_JOBS:-$(nproc)}
case $jobs_max in '' | *[!0-9]* | 0) jobs_max=1 ;; esac
declare -A pid_of=()
failed=() total_execs=0
for t in "${targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
        rm -f "$build/logs/$t.execs"
        fuzz_one "$t" >"$build/logs/$t.out" 2>&1 &
        pid_of[$t]=$!
done
for t in "${targets[@]}"; do
        wait "${pid_of[$t]}" || failed+=("$t")
        cat "$build/logs/$t.out"
        total_execs=$((total_execs + $(cat "$build/logs/$t.execs" 2>/dev/null || echo 0)))
done

echo
echo "memcgd fuzz: ${#targets[@]} targets, $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed; $total_execs executions in $((SECONDS - start)) s"
for t in "${failed[@]}"; do echo "memcgd fuzz: FAILED: fuzz-$t (log: $build/logs/$t.log)"; done
[ ${#failed[@]} -eq 0 ]
