#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs inside the VM (busybox sh), started by test-vm-cgroup2.sh through
# vm-run.sh: checks that the harness gives real cgroup v2 memory control —
# a child cgroup takes memory.max and memory.high, the kernel throttles it
# above high (the 'high' counter of memory.events rises) and OOM-kills it
# above max. Exits 0 when all hold, 1 otherwise.

set -u
root=/sys/fs/cgroup
cg=$root/vm-selftest
MiB=1048576
failed=0

check() {
        if eval "$2"; then
                echo "ok - $1"
        else
                echo "not ok - $1"
                failed=1
        fi
}

# Runs `dd` with a buffer of $1 MiB, which dd allocates and fills (anonymous
# memory charged to the cgroup), in a process moved into $cg first.
dd_in_cgroup() {
        sh -c "echo \$\$ >$cg/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=$1M count=1 2>/dev/null"
}

events() { sed -n "s/^$1 //p" "$cg/memory.events"; }

check "cgroup2 is mounted on $root" "grep -q '^cgroup2 $root cgroup2 ' /proc/mounts"
check "the memory controller is enabled for the root's children" \
        "grep -qw memory $root/cgroup.subtree_control"
mkdir "$cg" || exit 1
check "a child cgroup has the memory files" \
        "[ -f $cg/memory.max ] && [ -f $cg/memory.high ] && [ -f $cg/memory.events ]"

echo $((64 * MiB)) >"$cg/memory.max"
echo $((16 * MiB)) >"$cg/memory.high"
check "memory.max reads back as written" "[ \"\$(cat $cg/memory.max)\" = $((64 * MiB)) ]"
check "memory.high reads back as written" "[ \"\$(cat $cg/memory.high)\" = $((16 * MiB)) ]"
check "memory.events has a 'high' line" "grep -q '^high [0-9][0-9]*\$' $cg/memory.events"
high_before=$(events high)

# 1 MiB above high: throttled (about 1.5 s under TCG; without swap the
# kernel cannot reclaim anonymous memory, so every MiB more costs seconds).
dd_in_cgroup 17
rc=$?
check "a process 1 MiB above memory.high completes" "[ $rc = 0 ]"
high_after=$(events high)
echo "memory.events high: $high_before -> $high_after"
check "memory.events' high counter rises above memory.high" "[ $high_after -gt $high_before ]"

# Above max (no swap): the kernel's OOM killer ends the process.
echo $((8 * MiB)) >"$cg/memory.max"
dd_in_cgroup 16
rc=$?
check "a process above memory.max is killed (exit $rc)" "[ $rc != 0 ]"
check "memory.events counts an oom_kill" "[ \"\$(events oom_kill)\" -ge 1 ]"

rmdir "$cg" || failed=1
exit "$failed"
