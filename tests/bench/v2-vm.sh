#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# B1 and B5 on real cgroup v2: the host's memory controller is on v1, so
# this boots Debian's kernel in QEMU (tests/vm/vm-run.sh) and runs the
# benchmark there:
#   b1  bench-b1 --only=v2: the engine and the bare loop each woken by the
#       kernel's memory.events notification of an allocator crossing
#       memory.high, the event stamped by a SCHED_FIFO 99 observer polling
#       the same file;
#   b5  bench-b5: the bursty workload under memcgd, static limits and none.
# Under TCG (no KVM here) the guest runs several times slower than the
# host: compare memcgd with its floor or with the other regimes measured
# in the same guest, not with the host's figures.
#
#   v2-vm.sh b1|b5 [--build-dir=DIR] [--json=FILE] [BENCHMARK ARGS...]
#
# Exits 77 (skip) without root, and (vm-run.sh) without QEMU, busybox or
# the kernel package, as the vm suite does; otherwise with the
# benchmark's code from inside the guest.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${MEMCGD_BUILD_ROOT:-$src/build-bench}
which=${1:-}
shift || true
case $which in
b1) bench=bench-b1; first=(--only=v2); mem=1536 ;; # 100 allocators of 10 MiB in the storm
b5) bench=bench-b5; first=(); mem=1024 ;;          # bursts to 256 MiB, one regime at a time
*) echo "usage: v2-vm.sh b1|b5 [--build-dir=DIR] [--json=FILE] [ARGS...]" >&2; exit 2 ;;
esac
json=""
args=()
for a in "$@"; do
        case $a in
        --build-dir=*) build=${a#--build-dir=} ;;
        --json=*) json=${a#--json=} ;;
        *) args+=("$a") ;;
        esac
done

what="${which^^} on v2"
if [ "$(id -u)" != 0 ]; then
        echo "SKIP $what: needs root (fetches the kernel package with apt-get, boots QEMU)"
        exit 77
fi
for f in "$bench" bench-alloc; do
        if [ ! -x "$build/tests/bench/$f" ]; then
                echo "$what: $build/tests/bench/$f is missing (build first)" >&2
                exit 1
        fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
venv=()
[ -n "${MEMCGD_BENCH_VERBOSE:-}" ] && venv=(--env "MEMCGD_BENCH_VERBOSE=$MEMCGD_BENCH_VERBOSE")
"$src/tests/vm/vm-run.sh" --mem "$mem" --timeout 1500 \
        --file "$build/tests/bench/$bench:/bin/" \
        --file "$build/tests/bench/bench-alloc:/bin/" \
        --file "$here/v2-vm-guest.sh:/bin/v2-vm-guest" "${venv[@]}" \
        -- /bin/v2-vm-guest "/bin/$bench" "${first[@]}" "${args[@]}" | tee "$log" || rc=$?
if [ -n "$json" ] && grep -q '^MEMCGD-BENCH-V2-JSON-END' "$log"; then
        mkdir -p "$(dirname "$json")"
        sed -n '/^MEMCGD-BENCH-V2-JSON-BEGIN/,/^MEMCGD-BENCH-V2-JSON-END/p' "$log" | sed '1d;$d' | tr -d '\r' >"$json"
        echo "$what: JSON in $json"
fi
exit "$rc"
