/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The elastic-limit algorithm of DESIGN.md §1 as pure functions.
 *
 * Every size is in bytes. Every function saturates instead of wrapping:
 * results never exceed LIMITS_MAX_BYTES (UINT64_MAX rounded down to a
 * page) and never go below 0. Ratios are exact decimal fractions (to a
 * millionth): max_from_high(100 MiB + x) is floor((100 MiB + x) * 1.08)
 * computed exactly, as the seed means it; the shrink margin's fraction
 * 1/n is an exact division. Nothing here touches a file, a clock or a
 * lock. */

#include <stdbool.h>
#include <stdint.h>

#define MIB UINT64_C(1048576)
#define LIMITS_PAGE_SIZE UINT64_C(4096)
/* The largest page-aligned value: what "unlimited" rounds to. */
#define LIMITS_MAX_BYTES (UINT64_MAX & ~(LIMITS_PAGE_SIZE - 1))

typedef struct Tunables {
        /* max_from_high: above high_ratio_threshold multiply by high_ratio,
         * else add high_gap. The seed's 100 MiB, 1.08, 8 MiB. The threshold
         * of high_from_max is derived (max_from_high(high_ratio_threshold),
         * the seed's 108 MiB) so that the two functions stay inverse. */
        uint64_t high_ratio_threshold;
        double high_ratio;
        uint64_t high_gap;
        /* next_max(v) = max(v * grow_ratio, v + grow_min_step):
         * the seed's 1.1 and 10 MiB. */
        double grow_ratio;
        uint64_t grow_min_step;
        /* Shrink timer: min(shrink_base_usec * 2^n, shrink_max_usec), the
         * seed's 1 s and 60 s. Tests shorten the base. */
        uint64_t shrink_base_usec;
        uint64_t shrink_max_usec;
        /* The floor of the extra shrink margin, max(1/n, this): seed 0.1. */
        double shrink_min_margin;
} Tunables;

/* The seed's constants. */
void tunables_init_default(Tunables *t);
/* 0 when every field is in range (ratios finite, applied to a millionth:
 * high_ratio in [1.000001, 100] so that high stays below max, grow_ratio
 * in [1.0, 100]; margin in [0,1]; grow_min_step and high_gap at least a page
 * so every grow raises the limit and high stays below max; base > 0, max
 * >= base); -EINVAL otherwise. */
int tunables_validate(const Tunables *t);

uint64_t limits_page_round_up(uint64_t v);
uint64_t limits_page_round_down(uint64_t v);

uint64_t limits_max_from_high(const Tunables *t, uint64_t high);
uint64_t limits_high_from_max(const Tunables *t, uint64_t max);
uint64_t limits_next_max(const Tunables *t, uint64_t v);

/* Bytes to ask the controller for on a high breach, page-rounded. */
uint64_t limits_grow_delta(const Tunables *t, uint64_t max);

/* The max limit the shrink timer aims at for this usage after
 * no_increase_count quiet checks (the seed's test + margin * frac). */
uint64_t limits_shrink_target(const Tunables *t, uint64_t current, uint32_t no_increase_count);

/* Bytes to take off max (page-rounded, never more than max). */
uint64_t limits_shrink_decrease(const Tunables *t, uint64_t max, uint64_t current,
                                uint32_t no_increase_count);

/* Shrink timer timeout in microseconds for this count. */
uint64_t limits_shrink_timeout_usec(const Tunables *t, uint32_t no_increase_count);

/* The limit a Monitor(cgroup, 0) derives from usage when nothing else is
 * configured: the shrink target with the full margin, rounded up to a
 * page (limits are written in whole pages). */
uint64_t limits_initial_from_usage(const Tunables *t, uint64_t current);
