/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Parsers of kernel file contents. Each takes the bytes read (not
 * necessarily NUL-terminated) and never reads past len. They return 0 on
 * success, -EINVAL on malformed input, -ENOENT when a requested (or
 * required) key is absent, -ERANGE on overflow. Output parameters are
 * written only on success.
 *
 * In "key value" files every line must end with '\n', as the kernel
 * writes them: a last line without one may be the cut end of a truncated
 * read ("high 12" of "high 123"), so its value is -EINVAL, never a
 * silently wrong number. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A single value file: a decimal u64 and an optional trailing newline, or
 * "max" (v2 for unlimited, parsed as UINT64_MAX). */
int parse_u64_value(const char *buf, size_t len, uint64_t *ret);

/* Writes v in decimal and a NUL into buf (at most 20 digits); returns the
 * number of digits. The inverse of parse_u64_value() for numbers, without
 * printf's machinery: a worker formats two limits at every reaction. */
size_t format_u64(char buf[static 21], uint64_t v);

/* A "key value\n" file (memory.events, memory.stat, memory.oom_control,
 * cgroup.events): the value of the line whose first word equals `key`
 * exactly (not a prefix match). */
int parse_keyed_u64(const char *buf, size_t len, const char *key, uint64_t *ret);

typedef struct MemoryEvents {
        uint64_t low, high, max, oom, oom_kill, oom_group_kill;
} MemoryEvents;

/* memory.events (v2). Requires high, max, oom and oom_kill; low and
 * oom_group_kill default to 0 when absent (older kernels). */
int parse_memory_events(const char *buf, size_t len, MemoryEvents *ret);

typedef struct OomControl {
        bool oom_kill_disable;
        bool under_oom;
        uint64_t oom_kill;
        bool has_oom_kill;
} OomControl;

/* memory.oom_control (v1). oom_kill_disable and under_oom required. */
int parse_oom_control(const char *buf, size_t len, OomControl *ret);

typedef struct PressureLine {
        double avg10, avg60, avg300;
        uint64_t total;
} PressureLine;

typedef struct Pressure {
        PressureLine some, full;
        bool has_full;
} Pressure;

/* memory.pressure (PSI): "some avg10=.. avg60=.. avg300=.. total=.." and
 * optionally the same for "full". */
int parse_pressure(const char *buf, size_t len, Pressure *ret);

/* A size as people and config files write it: "4096", "64M", "1.5G",
 * "2T", with K/M/G/T/P/E binary suffixes (either case, optionally followed
 * by "i", "iB" or "B"), "infinity" for UINT64_MAX. A fraction (at most 18
 * digits) needs a unit and is rounded down to a byte. -EINVAL on junk,
 * -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *ret);

/* "80%" of `total` (0% < p <= 100%) or a size as parse_size. */
int parse_size_or_percent(const char *s, uint64_t total, uint64_t *ret);

/* MemTotal from a /proc/meminfo buffer, in bytes. */
int parse_meminfo_total(const char *buf, size_t len, uint64_t *ret);
