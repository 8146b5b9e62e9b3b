/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "pressure.h"

const char *pressure_level_to_string(PressureLevel l) {
        switch (l) {
        case PRESSURE_NONE:
                return "none";
        case PRESSURE_LOW:
                return "low";
        case PRESSURE_MEDIUM:
                return "medium";
        case PRESSURE_CRITICAL:
                return "critical";
        }
        return NULL;
}

const char *reclaim_cause_to_string(ReclaimCause c) {
        static const char *const names[_RECLAIM_CAUSE_MAX] = {
                [RECLAIM_CAUSE_GROWTH_DENIED] = "growth-denied",
                [RECLAIM_CAUSE_PRESSURE] = "pressure",
        };
        return (unsigned) c < _RECLAIM_CAUSE_MAX ? names[c] : NULL;
}

const char *pressure_source_to_string(PressureSource s) {
        static const char *const names[_PRESSURE_SOURCE_MAX] = {
                [PRESSURE_SOURCE_NONE] = "none",
                [PRESSURE_SOURCE_PSI] = "psi",
                [PRESSURE_SOURCE_V1_LEVEL] = "v1",
        };
        return (unsigned) s < _PRESSURE_SOURCE_MAX ? names[s] : NULL;
}

static const PressureLevel levels[3] = { PRESSURE_LOW, PRESSURE_MEDIUM, PRESSURE_CRITICAL };

void pressure_tracker_init(PressureTracker *t, uint64_t quiet_usec) {
        if (quiet_usec == 0)
                quiet_usec = PRESSURE_QUIET_USEC_DEFAULT;
        else if (quiet_usec > PRESSURE_QUIET_USEC_MAX)
                quiet_usec = PRESSURE_QUIET_USEC_MAX;
        *t = (PressureTracker) { .quiet_usec = quiet_usec };
}

/* The highest level seen within the quiet period before `now`. */
static PressureLevel held_level(const PressureTracker *t, uint64_t now) {
        for (int i = 2; i >= 0; i--)
                if (t->last_seen[i] != 0 && now < t->last_seen[i] + t->quiet_usec)
                        return levels[i];
        return PRESSURE_NONE;
}

bool pressure_tracker_tick(PressureTracker *t, uint64_t now) {
        PressureLevel l = held_level(t, now);
        if (l == t->level)
                return false;
        t->level = l;
        return true;
}

bool pressure_tracker_sample(PressureTracker *t, PressureLevel sample, uint64_t now) {
        for (int i = 0; i < 3; i++)
                if (sample >= levels[i])
                        t->last_seen[i] = now;
        return pressure_tracker_tick(t, now);
}

uint64_t pressure_tracker_next_drop(const PressureTracker *t) {
        for (int i = 2; i >= 0; i--)
                if (t->level == levels[i])
                        return t->last_seen[i] + t->quiet_usec;
        return UINT64_MAX;
}

PressureLevel pressure_level_from_psi(uint64_t some_delta, uint64_t full_delta, uint64_t elapsed_usec) {
        if (elapsed_usec == 0)
                return PRESSURE_NONE;
        /* Shares in per mille; a stall counter can run ahead of our clock
         * by a little, which only saturates the share. */
        uint64_t some = some_delta >= elapsed_usec ? 1000 : some_delta * 1000 / elapsed_usec;
        uint64_t full = full_delta >= elapsed_usec ? 1000 : full_delta * 1000 / elapsed_usec;
        if (full >= 300)
                return PRESSURE_CRITICAL;
        if (some >= 150)
                return PRESSURE_MEDIUM;
        if (some >= 50)
                return PRESSURE_LOW;
        return PRESSURE_NONE;
}

PressureLevel pressure_level_from_v1_count(uint64_t v) {
        switch (v) {
        case 0:
                return PRESSURE_NONE;
        case 1:
                return PRESSURE_LOW;
        case 2:
                return PRESSURE_MEDIUM;
        default:
                return PRESSURE_CRITICAL;
        }
}

int pressure_trigger_format(uint64_t window_usec, char *buf, size_t size) {
        int n = snprintf(buf, size, "some %llu %llu", (unsigned long long) (window_usec * PRESSURE_TRIGGER_PERMILLE / 1000),
                         (unsigned long long) window_usec);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}
