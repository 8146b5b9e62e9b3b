#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the limit writes an injected memcgd made on a fake tree.

  check-trace.py LOG FAKE_ROOT

LOG is the shim's log (inject.c) with the test's own "usage CG BYTES"
lines in between, all appended in the order they happened. For every
cgroup below FAKE_ROOT:

  * memory.high is only written after a memory.max write (max first,
    DESIGN.md §1), and to high_from_max of that max;
  * no memory.max write is below the cgroup's usage at that moment
    ("max" = unlimited is fine).

Prints a one-line summary; exits 1 with one line per violation.
"""

import collections
import sys

MIB = 1 << 20


def high_from_max(m):
    return m * 1000000 // 1080000 if m > 108 * MIB else max(m - 8 * MIB, 0)


def main():
    log, root = sys.argv[1], sys.argv[2].rstrip("/")
    usage = {}
    last_max = {}
    pending_max = collections.defaultdict(bool)
    problems = []
    writes = 0
    injected = collections.Counter()
    short_next = set()
    partial = 0

    with open(log, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(" ")
            if parts[0] == "usage" and len(parts) == 3:
                usage[parts[1]] = int(parts[2])
            elif parts[0] == "inject" and len(parts) >= 4:
                injected[parts[2]] += 1
                if parts[2] == "short":
                    short_next.add(" ".join(parts[3:]))
            elif parts[0] == "trace" and len(parts) >= 4:
                path = parts[2]
                value = " ".join(parts[3:])
                if not path.startswith(root + "/"):
                    continue
                cg, _, name = path[len(root):].rpartition("/")
                writes += 1
                if path in short_next:
                    # The part of a value an injected short write left:
                    # what matters is that the full value follows.
                    short_next.discard(path)
                    partial += 1
                    continue
                if name == "memory.max":
                    pending_max[cg] = True
                    if value == "max":
                        last_max[cg] = None
                        continue
                    try:
                        v = int(value)
                    except ValueError:
                        problems.append(f"log line {n}: {cg}: memory.max written with '{value}'")
                        continue
                    last_max[cg] = v
                    if v < usage.get(cg, 0):
                        problems.append(f"log line {n}: {cg}: memory.max {v} written below usage {usage[cg]}")
                elif name == "memory.high":
                    if not pending_max[cg]:
                        problems.append(f"log line {n}: {cg}: memory.high '{value}' written without a memory.max write before it")
                    pending_max[cg] = False
                    m = last_max.get(cg)
                    if m is None:
                        if value != "max":
                            problems.append(f"log line {n}: {cg}: memory.high '{value}' after memory.max 'max'")
                    elif value != str(high_from_max(m)):
                        problems.append(f"log line {n}: {cg}: memory.high '{value}' is not high_from_max({m}) = {high_from_max(m)}")

    summary = ", ".join(f"{k} {v}" for k, v in sorted(injected.items())) or "none"
    if writes == 0:
        # Nothing traced is no proof of order: the shim's trace is off,
        # or the log is not the daemon's.
        problems.append(f"no limit write of a cgroup below {root} was traced in {log}")
    if problems:
        for p in problems:
            print(p)
        print(f"({writes} limit writes checked; faults injected: {summary})")
        return 1
    print(f"{writes} limit writes in order (max before high, max never below usage; {partial} partial by injection); faults injected: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
