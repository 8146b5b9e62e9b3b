#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the VM of v2-vm.sh (busybox sh): one benchmark on cgroup v2, then
# its JSON on the console between markers for the host to take out.
#
#   v2-vm-guest.sh BENCH [ARGS...]

bench=$1
shift
"$bench" --json=/tmp/bench-v2.json "$@"
rc=$?
if [ -s /tmp/bench-v2.json ]; then
        echo "MEMCGD-BENCH-V2-JSON-BEGIN"
        cat /tmp/bench-v2.json
        echo "MEMCGD-BENCH-V2-JSON-END"
fi
exit $rc
