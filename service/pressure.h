/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Memory pressure as levels (pure: no I/O, no clock; the caller passes
 * the figures and the time). Used by the workers (per cgroup) and by the
 * main thread (host-wide, for org.freedesktop.LowMemoryMonitor).
 *
 * Sources:
 *  - PSI (memory.pressure, /proc/pressure/memory): a trigger wakes the
 *    watcher, which then samples the "total=" stall counters about once a
 *    second; the share of the interval that tasks stalled gives a level:
 *      critical  full >= 30 %
 *      medium    some >= 15 %
 *      low       some >=  5 %
 *    (low-memory-monitor's triggers are 70/100 ms per second of "some"
 *    and 100 ms of "full": these are the same order, a little wider apart
 *    so the three levels are told apart on a 2-core host).
 *  - v1 memory.pressure_level: one eventfd registered three times (low,
 *    medium, critical). The kernel's levels are inclusive, so one vmpressure
 *    event adds 1 (low), 2 (medium) or 3 (critical) to the counter: the
 *    value read right after a wake-up names the level.
 *
 * Hysteresis: a level is raised at the first sample at or above it and
 * lowered only after no sample reached it for `quiet_usec`, so a workload
 * that hovers at a boundary does not make the level flap; a level changes
 * at most three times upward per quiet period. */

#include <stdbool.h>
#include <stdint.h>

#include "memcgd/engine.h"

#define PRESSURE_QUIET_USEC_DEFAULT (UINT64_C(5) * 1000000)
/* The longest quiet time kept: QuietTime= parses up to just under 2^64
 * usec, and a monotonic time (far below 2^63) plus this must not wrap. */
#define PRESSURE_QUIET_USEC_MAX (UINT64_MAX / 2)
/* How often a watcher samples PSI while the level is above none. */
#define PRESSURE_SAMPLE_USEC (UINT64_C(1000) * 1000)

/* PSI triggers: threshold and window, in usec. The kernel accepts any
 * window from 500 ms to 10 s from a caller with CAP_SYS_RESOURCE, and only
 * multiples of 2 s from others (EINVAL): try 1 s, fall back to 2 s. */
#define PRESSURE_TRIGGER_WINDOW_USEC UINT64_C(1000000)
#define PRESSURE_TRIGGER_WINDOW_FALLBACK_USEC UINT64_C(2000000)
/* 5 % of the window, the low level's share. */
#define PRESSURE_TRIGGER_PERMILLE 50

typedef struct PressureTracker {
        uint64_t quiet_usec;
        PressureLevel level;
        /* When a sample last reached low, medium, critical (0 = never). */
        uint64_t last_seen[3];
} PressureTracker;

/* quiet_usec 0 = PRESSURE_QUIET_USEC_DEFAULT; above PRESSURE_QUIET_USEC_MAX
 * it is capped there. */
void pressure_tracker_init(PressureTracker *t, uint64_t quiet_usec);

/* Feeds one sample taken at `now` (CLOCK_MONOTONIC usec, > 0). Returns
 * true when the level changed (t->level is the new one). */
bool pressure_tracker_sample(PressureTracker *t, PressureLevel sample, uint64_t now);

/* Time passed without a sample: lowers the level whose quiet period ran
 * out. Returns true when it changed. */
bool pressure_tracker_tick(PressureTracker *t, uint64_t now);

/* When the level would drop next if no sample comes (UINT64_MAX: at none). */
uint64_t pressure_tracker_next_drop(const PressureTracker *t);

/* The level of an interval of `elapsed_usec` in which the PSI totals grew
 * by some_delta and full_delta usec. */
PressureLevel pressure_level_from_psi(uint64_t some_delta, uint64_t full_delta, uint64_t elapsed_usec);

/* The level named by a v1 pressure_level counter read (1, 2, 3 or a sum:
 * capped at critical); 0 = none. */
PressureLevel pressure_level_from_v1_count(uint64_t v);

/* The trigger string written to a PSI file: "some <threshold> <window>"
 * (no newline; the watcher writes the terminating NUL with it, which the
 * kernel accepts) with the threshold PRESSURE_TRIGGER_PERMILLE of the
 * window. Returns the length, or -ENOBUFS. */
int pressure_trigger_format(uint64_t window_usec, char *buf, size_t size);
