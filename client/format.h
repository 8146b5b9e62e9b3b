/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* How memcgctl prints sizes, times and D-Bus values: pure functions, no
 * bus, unit-tested in tests/cli/test-client-format.c. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FORMAT_BYTES_MAX 32
#define FORMAT_TIMESTAMP_MAX 64
#define FORMAT_TIMESPAN_MAX 64

/* The smallest size that means "no limit": cgroup v1 reports an unlimited
 * memory.limit_in_bytes as PAGE_COUNTER_MAX pages, 2^63 - 4096 with 4 KiB
 * pages (9223372036854771712), and v2 (and D-Bus) use UINT64_MAX. */
#define FORMAT_BYTES_INFINITY_FROM (UINT64_C(1) << 62)

/* A size the way systemctl and oomctl print it: "512B", "64.0M", "1.5G"
 * (powers of 1024, one decimal, truncated, not rounded, so that a limit
 * never prints larger than it is), "infinity" from
 * FORMAT_BYTES_INFINITY_FROM on. Returns buf. */
const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t v);

/* A duration for people: "0", "250ms", "14s", "2min 5s", "1h 3min". */
const char *format_timespan(char buf[static FORMAT_TIMESPAN_MAX], uint64_t usec);

/* A CLOCK_REALTIME time in local time, "2025-11-26 03:55:01.123456".
 * Returns buf. */
const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t realtime_usec);

/* ISO 8601 with the offset, for JSON: "2025-11-26T03:55:01.123456+01:00". */
const char *format_timestamp_iso(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t realtime_usec);

/* The name of a memory pressure level of the D-Bus contract (the
 * Pressure signal, GetStats' pressure_level, LowMemoryWarning): GLib's
 * GMemoryMonitorWarningLevel values none 0, low 50, medium 100, critical
 * 255. NULL for any other value (a level a later memcgd may add). */
const char *pressure_level_name(unsigned level);

/* Replaces every control character of s (a message bound for one line of
 * output: a newline in a D-Bus error message would split it) with a
 * space, in place: C0, DEL, and the two bytes of a C1 control (U+0080 to
 * U+009F). Returns s. */
char *flatten_line(char *s);

/* Writes s to f for a terminal: control characters (C0, DEL, and C1
 * U+0080 to U+009F, which some terminals obey too) and bytes that are not
 * valid UTF-8 are written as "\xNN", one per byte; everything else as it
 * is. Process names and cgroup paths are whatever their owners chose:
 * "ok\e[31mRED\rX" prints as "ok\x1b[31mRED\x0dX" instead of
 * recolouring the terminal and overwriting the line. A backslash itself is
 * kept, so that a path prints as it is named. */
void fputs_escaped(const char *s, FILE *f);

/* The same into a new string (free it). NULL on ENOMEM. */
char *escape_text(const char *s);

/* Writes s to f as one shell word that can be pasted into a shell: as it
 * is when it holds only characters no shell treats specially
 * ("/machine/vm1"), else in single quotes ("'/a b'", "'it'\''s'"), or, when
 * it holds characters fputs_escaped() escapes, as $'...' with "\xNN". */
void fputs_shell_word(const char *s, FILE *f);
