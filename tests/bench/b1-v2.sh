#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# B1 on real cgroup v2: the host's memory controller is on v1, so this
# boots Debian's kernel in QEMU (tests/vm/vm-run.sh) and runs
# `bench-b1 --only=v2` there: the engine and the bare loop each woken by
# the kernel's memory.events notification of an allocator crossing
# memory.high, the event stamped by a SCHED_FIFO 99 observer polling the
# same file. Under TCG (no KVM here) every figure is several times a
# native one; the ratio to the floor, measured in the same guest, is the
# comparable figure.
#
#   b1-v2.sh [--build-dir=DIR] [--json=FILE] [BENCH-B1 ARGS...]
#
# Exits 77 (skip) without root or QEMU, as the vm suite does; otherwise
# with bench-b1's code from inside the guest.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${MEMCGD_BUILD_ROOT:-$src/build-bench}
json=""
args=()
for a in "$@"; do
        case $a in
        --build-dir=*) build=${a#--build-dir=} ;;
        --json=*) json=${a#--json=} ;;
        *) args+=("$a") ;;
        esac
done

if [ "$(id -u)" != 0 ]; then
        echo "SKIP B1 on v2: needs root (fetches the kernel package with apt-get, boots QEMU)"
        exit 77
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
        echo "SKIP B1 on v2: qemu-system-x86_64 not found (Debian package qemu-system-x86; see .ci/deps.sh)"
        exit 77
fi
for f in bench-b1 bench-alloc; do
        if [ ! -x "$build/tests/bench/$f" ]; then
                echo "B1 on v2: $build/tests/bench/$f is missing (build first)" >&2
                exit 1
        fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
venv=()
[ -n "${MEMCGD_BENCH_VERBOSE:-}" ] && venv=(--env "MEMCGD_BENCH_VERBOSE=$MEMCGD_BENCH_VERBOSE")
# 100 allocators of 10 MiB each in the storm, beside the kernel: 1.5 GiB.
"$src/tests/vm/vm-run.sh" --mem 1536 --timeout 1500 \
        --file "$build/tests/bench/bench-b1:/bin/" \
        --file "$build/tests/bench/bench-alloc:/bin/" \
        --file "$here/b1-v2-guest.sh:/bin/b1-v2-guest" "${venv[@]}" \
        -- /bin/b1-v2-guest /bin/bench-b1 "${args[@]}" | tee "$log" || rc=$?
if [ -n "$json" ] && grep -q '^MEMCGD-B1-V2-JSON-END' "$log"; then
        mkdir -p "$(dirname "$json")"
        sed -n '/^MEMCGD-B1-V2-JSON-BEGIN/,/^MEMCGD-B1-V2-JSON-END/p' "$log" | sed '1d;$d' | tr -d '\r' >"$json"
        echo "B1 on v2: JSON in $json"
fi
exit "$rc"
