/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The kernel side of pressure.h: one fd that wakes a watcher when memory
 * pressure begins, and the samples taken from it. A worker keeps at most
 * this one extra fd (4000 workers under a 20000 fd limit). */

#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "pressure.h"

typedef struct PressureWatch {
        PressureSource source;
        int fd;                    /* PSI trigger fd (POLLPRI) or v1 eventfd (POLLIN); -1 */
        uint64_t window_usec;      /* PSI: the trigger window the kernel took */
        uint64_t some_total, full_total; /* PSI: totals at the last sample */
        uint64_t sample_usec;      /* when they were read (0 = never) */
        uint64_t mute_until;       /* v1: not polled before (rate limit) */
} PressureWatch;

#define PRESSURE_WATCH_INIT ((PressureWatch) { .fd = -1 })

/* v1: after each wake-up the eventfd is left alone this long; vmpressure
 * fires every few hundred pages reclaimed, hundreds of times a second. */
#define PRESSURE_V1_MUTE_USEC (UINT64_C(100) * 1000)

/* Arms a PSI trigger on `name` beneath `dirfd` (memory.pressure of a
 * cgroup, or /proc/pressure/memory with AT_FDCWD): a 1 s window, or 2 s
 * when the kernel refuses that (EINVAL: no CAP_SYS_RESOURCE). 0 or a
 * negative errno (-ENOENT: no PSI there). */
int pressure_watch_open_psi(int dirfd, const char *name, uint64_t now, PressureWatch *ret);

/* The pressure source of a monitored cgroup: PSI of the cgroup itself
 * (v2), else PSI of the same path in the unified hierarchy (hybrid
 * hosts), else v1 memory.pressure_level. 0 or a negative errno (-ENOENT:
 * the kernel offers none). */
int pressure_watch_open_cgroup(const CgroupRoot *root, const Cgroup *c, uint64_t now, PressureWatch *ret);

/* poll() events to wait for on w->fd (0 while muted or closed). */
short pressure_watch_poll_events(const PressureWatch *w, uint64_t now);

/* The fd woke (`woke` true) or a sampling deadline came: reads and
 * returns the level of the interval since the last sample. A PSI trigger
 * wake-up counts as at least low (the trigger's threshold is the low
 * share). -errno on a read error. */
int pressure_watch_sample(PressureWatch *w, bool woke, uint64_t now, PressureLevel *ret);

/* v1: the mute period ended: drops what accumulated meanwhile (a sum of
 * many events cannot be split into levels). */
void pressure_watch_unmute(PressureWatch *w, uint64_t now);

void pressure_watch_close(PressureWatch *w);
