/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>

#include "memcgd/limits.h"

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
        /* Above 1 by at least a millionth (the ratios' unit): at 1.0 high
         * would equal max above HighRatioThreshold, and the kernel would
         * reach the hard limit before memcgd saw a breach. */
        if (!isfinite(t->high_ratio) || t->high_ratio < 1.000001 || t->high_ratio > 100.0)
                return -EINVAL;
        if (!isfinite(t->grow_ratio) || t->grow_ratio < 1.0 || t->grow_ratio > 100.0)
                return -EINVAL;
        if (!isfinite(t->shrink_min_margin) || t->shrink_min_margin < 0.0 || t->shrink_min_margin > 1.0)
                return -EINVAL;
        if (t->shrink_base_usec == 0 || t->shrink_max_usec < t->shrink_base_usec)
                return -EINVAL;
        /* Ratios count in millionths: a growth ratio that rounds to 1.0
         * with a step under a page would never raise the limit, and a gap
         * under a page would put high on max for small cgroups. */
        if (t->grow_min_step < LIMITS_PAGE_SIZE || t->high_gap < LIMITS_PAGE_SIZE)
                return -EINVAL;
        return 0;
}

/* Ratios are applied as exact decimal fractions: the tunable is turned
 * into parts per million once, and products are computed in 128 bits. So
 * 216 MiB / 1.08 is exactly 200 MiB, as the seed's formulas mean, instead
 * of a byte less (1.08 has no exact binary representation). Results
 * saturate at LIMITS_MAX_BYTES. */
#define PPM UINT64_C(1000000)

static uint64_t ratio_ppm(double r) {
        return (uint64_t) llround(r * (double) PPM);
}

static uint64_t clamp_top(unsigned __int128 v) {
        return v > LIMITS_MAX_BYTES ? LIMITS_MAX_BYTES : (uint64_t) v;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return clamp_top((unsigned __int128) a + b);
}

static uint64_t mul_ratio(uint64_t v, double r) {
        return clamp_top((unsigned __int128) v * ratio_ppm(r) / PPM);
}

static uint64_t div_ratio(uint64_t v, double r) {
        return clamp_top((unsigned __int128) v * PPM / ratio_ppm(r));
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
                return mul_ratio(high, t->high_ratio);
        return sat_add(high, t->high_gap);
}

uint64_t limits_high_from_max(const Tunables *t, uint64_t max) {
        /* The inverse of max_from_high: its threshold is where the ratio
         * branch starts on the max side (the seed's 108 MiB). */
        uint64_t threshold = limits_max_from_high(t, t->high_ratio_threshold);

        if (max > threshold)
                return div_ratio(max, t->high_ratio);
        /* The seed wrote m - 8 MiB and underflowed below 8 MiB. */
        max = clamp_top(max);
        return max > t->high_gap ? max - t->high_gap : 0;
}

uint64_t limits_next_max(const Tunables *t, uint64_t v) {
        uint64_t by_ratio = mul_ratio(v, t->grow_ratio);
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
        if (max >= LIMITS_MAX_BYTES)
                return 0;
        if (delta > LIMITS_MAX_BYTES - max)
                return limits_page_round_down(LIMITS_MAX_BYTES - max);
        return delta;
}

uint64_t limits_shrink_target(const Tunables *t, uint64_t current, uint32_t no_increase_count) {
        uint64_t test = limits_max_from_high(t, current);
        uint64_t margin = limits_next_max(t, test) - test;
        uint64_t min_ppm = ratio_ppm(t->shrink_min_margin);
        uint64_t extra;

        /* frac = 1 at first, then max(1/n, shrink_min_margin). */
        if (no_increase_count == 0)
                extra = margin;
        else if ((unsigned __int128) PPM >= (unsigned __int128) no_increase_count * min_ppm)
                extra = margin / no_increase_count;
        else
                extra = (uint64_t) ((unsigned __int128) margin * min_ppm / PPM);
        return sat_add(test, extra);
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
