/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>

#include "memcgd/limits.h"

/* Arithmetic is done in long double: its 64-bit mantissa holds every u64
 * exactly on x86-64, so products like h * 1.08 do not lose the low bits
 * that a double (53 bits) would drop above 8 PiB. Results saturate. */

void tunables_init_default(Tunables *t) {
        *t = (Tunables) {
                .high_ratio_threshold = 100 * MIB,
                .high_ratio = 1.08,
                .high_gap = 8 * MIB,
                .grow_ratio = 1.1,
                .grow_min_step = 10 * MIB,
                .shrink_base_usec = UINT64_C(1000000),
                .shrink_max_usec = UINT64_C(60000000),
                .shrink_min_margin = 0.1,
        };
}

int tunables_validate(const Tunables *t) {
        if (!isfinite(t->high_ratio) || t->high_ratio < 1.0 || t->high_ratio > 100.0)
                return -EINVAL;
        if (!isfinite(t->grow_ratio) || t->grow_ratio < 1.0 || t->grow_ratio > 100.0)
                return -EINVAL;
        if (!isfinite(t->shrink_min_margin) || t->shrink_min_margin < 0.0 || t->shrink_min_margin > 1.0)
                return -EINVAL;
        if (t->shrink_base_usec == 0 || t->shrink_max_usec < t->shrink_base_usec)
                return -EINVAL;
        /* A growth step of 0 would never raise the limit. */
        if (t->grow_ratio == 1.0 && t->grow_min_step == 0)
                return -EINVAL;
        return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t ld_to_u64(long double v) {
        if (!(v > 0.0L))
                return 0;
        if (v >= 18446744073709551615.0L)
                return UINT64_MAX;
        return (uint64_t) v;
}

uint64_t limits_page_round_up(uint64_t v) {
        if (v > LIMITS_MAX_BYTES)
                return LIMITS_MAX_BYTES;
        return (v + LIMITS_PAGE_SIZE - 1) & ~(LIMITS_PAGE_SIZE - 1);
}

uint64_t limits_page_round_down(uint64_t v) {
        return v & ~(LIMITS_PAGE_SIZE - 1);
}

uint64_t limits_max_from_high(const Tunables *t, uint64_t high) {
        if (high > t->high_ratio_threshold)
                return ld_to_u64((long double) high * (long double) t->high_ratio);
        return sat_add(high, t->high_gap);
}

uint64_t limits_high_from_max(const Tunables *t, uint64_t max) {
        /* The inverse of max_from_high: its threshold is where the ratio
         * branch starts on the max side (the seed's 108 MiB). */
        uint64_t threshold = limits_max_from_high(t, t->high_ratio_threshold);

        if (max > threshold)
                return ld_to_u64((long double) max / (long double) t->high_ratio);
        /* The seed wrote m - 8 MiB and underflowed below 8 MiB. */
        return max > t->high_gap ? max - t->high_gap : 0;
}

uint64_t limits_next_max(const Tunables *t, uint64_t v) {
        uint64_t by_ratio = ld_to_u64((long double) v * (long double) t->grow_ratio);
        uint64_t by_step = sat_add(v, t->grow_min_step);

        return by_ratio > by_step ? by_ratio : by_step;
}

uint64_t limits_grow_delta(const Tunables *t, uint64_t max) {
        uint64_t next = limits_next_max(t, max);

        if (next <= max)
                return 0;
        /* Never propose a delta that would push max past the largest
         * page-aligned value. */
        uint64_t delta = limits_page_round_up(next - max);
        if (max > LIMITS_MAX_BYTES || delta > LIMITS_MAX_BYTES - max)
                return max >= LIMITS_MAX_BYTES ? 0 : LIMITS_MAX_BYTES - max;
        return delta;
}

uint64_t limits_shrink_target(const Tunables *t, uint64_t current, uint32_t no_increase_count) {
        uint64_t test = limits_max_from_high(t, current);
        long double frac;

        if (no_increase_count == 0)
                frac = 1.0L;
        else {
                frac = 1.0L / (long double) no_increase_count;
                if (frac < (long double) t->shrink_min_margin)
                        frac = (long double) t->shrink_min_margin;
        }

        uint64_t margin = limits_next_max(t, test) - test;
        return sat_add(test, ld_to_u64((long double) margin * frac));
}

uint64_t limits_shrink_decrease(const Tunables *t, uint64_t max, uint64_t current,
                                uint32_t no_increase_count) {
        uint64_t target = limits_shrink_target(t, current, no_increase_count);

        if (target >= max)
                return 0;
        /* The seed rounds the decrease up to a page. Never take more than
         * max itself. */
        uint64_t d = limits_page_round_up(max - target);
        return d > max ? limits_page_round_down(max) : d;
}

uint64_t limits_shrink_timeout_usec(const Tunables *t, uint32_t no_increase_count) {
        uint64_t v = t->shrink_base_usec;

        for (uint32_t i = 0; i < no_increase_count && v < t->shrink_max_usec; i++)
                v = v > UINT64_MAX / 2 ? UINT64_MAX : v * 2;
        return v < t->shrink_max_usec ? v : t->shrink_max_usec;
}

uint64_t limits_initial_from_usage(const Tunables *t, uint64_t current) {
        return limits_page_round_up(limits_shrink_target(t, current, 0));
}
