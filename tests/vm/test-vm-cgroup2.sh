#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Self-test of the VM harness: boots Debian's kernel under QEMU and runs
# guest-cgroup2.sh there, which checks real cgroup v2 memory control
# (memory.max, memory.high, memory.events). Exits with the guest's code;
# 77 (skip) when not root or QEMU is missing.
#
#   test-vm-cgroup2.sh [VM-RUN [GUEST-SCRIPT]]   (defaults: beside this file)

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_run=${1:-$here/vm-run.sh}
guest=${2:-$here/guest-cgroup2.sh}

if [ "$(id -u)" != 0 ]; then
        # Fetching the kernel may need apt-get update.
        echo "SKIP: needs root (fetches the kernel package with apt-get)"
        exit 77
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
        echo "SKIP: qemu-system-x86_64 not found (Debian package qemu-system-x86; see .ci/deps.sh)"
        exit 77
fi

exec "$vm_run" --timeout 300 --file "$guest:/bin/guest-cgroup2" -- /bin/guest-cgroup2
