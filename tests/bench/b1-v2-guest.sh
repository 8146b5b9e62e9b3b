#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Inside the VM of b1-v2.sh (busybox sh): B1's cgroup v2 variant, then its
# JSON on the console between markers for the host to take out.
#
#   b1-v2-guest.sh BENCH-B1 [ARGS...]

b1=$1
shift
"$b1" --only=v2 --json=/tmp/b1-v2.json "$@"
rc=$?
if [ -s /tmp/b1-v2.json ]; then
        echo "MEMCGD-B1-V2-JSON-BEGIN"
        cat /tmp/b1-v2.json
        echo "MEMCGD-B1-V2-JSON-END"
fi
exit $rc
