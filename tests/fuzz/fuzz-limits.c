/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A property fuzzer of the elastic-limit formulas (include/memcgd/limits.h)
 * for arbitrary u64 inputs and arbitrary tunables.
 *
 * The input is read as a sequence of choices: each number is either raw
 * bytes or one of the values where the formulas change branch or saturate
 * (the threshold and max_from_high of it, LIMITS_MAX_BYTES and UINT64_MAX
 * give or take a little, one page), so short inputs reach the edges.
 * tunables_validate() is checked against the ranges limits.h documents;
 * tunables it refuses are replaced by the defaults. Then, with X =
 * LIMITS_MAX_BYTES and P = one page:
 *
 *   every result <= X; page rounding rounds to P within P;
 *   max_from_high(h) >= h, and equals the documented formula;
 *   high_from_max(m) <= m (high never above max);
 *   high_from_max(max_from_high(h)) <= h, == h on the gap branch without
 *     saturation, >= h - 1 on the ratio branch without saturation (the
 *     ratio is applied as a fraction p/10^6 >= 1 and floored twice, so
 *     h*p/10^6 - 1 < max <= h*p/10^6 and max*10^6/p > h - 1);
 *   next_max(v) > v for v < X;
 *   grow_delta(max) is page-aligned, max + delta <= X, at least a page
 *     when max + P <= X, and round_up(next_max(max) - max) unless that
 *     would pass X;
 *   shrink_target(c, n) >= max_from_high(c), non-increasing in n;
 *   shrink_decrease(max, c, n) <= max, page-aligned, 0 iff the target is
 *     not below max (for max >= P), and for page-aligned max and c <= max
 *     (the kernel charges whole pages) the shrunk limit max - decrease is
 *     never below c (DESIGN.md §2: never write max < current);
 *   shrink_timeout(n) == min(base * 2^n, shrink_max_usec);
 *   initial_from_usage(c) is page-aligned, >= c. */

#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "memcgd/limits.h"

#define X LIMITS_MAX_BYTES
#define P LIMITS_PAGE_SIZE
#define PPM UINT64_C(1000000)

static uint64_t pick_u64(FuzzReader *r, const Tunables *t) {
        uint8_t sel = fuzz_u8(r);
        uint64_t small = fuzz_u8(r);

        switch (sel % 12) {
        case 0:
                return fuzz_u64(r);
        case 1:
                return small * P;
        case 2:
                return 100 * MIB + small - 128;
        case 3:
                return X - small * P;
        case 4:
                return X - small;
        case 5:
                return UINT64_MAX - small;
        case 6:
                return fuzz_u32(r);
        case 7:
                return t ? t->high_ratio_threshold + small - 128 : small;
        case 8:
                return t ? limits_max_from_high(t, t->high_ratio_threshold) + small - 128 : small;
        case 9:
                return fuzz_u64(r) >> (small % 64);
        case 10:
                return (fuzz_u64(r) >> (small % 64)) & ~(P - 1);
        default:
                return small;
        }
}

static double pick_ratio(FuzzReader *r) {
        static const double fixed[] = { 1.0, 100.0, 1.08, 1.1, 1.000001, 1.0000005, 1.0000004999, 99.9999995,
                                        2.0, 1.5, 0.9999999, 100.0000001 };
        uint8_t sel = fuzz_u8(r);

        switch (sel % 4) {
        case 0:
                return fuzz_double_bits(r);
        case 1:
                return fixed[fuzz_u8(r) % (sizeof(fixed) / sizeof(fixed[0]))];
        case 2:
                return 1.0 + (double) fuzz_u32(r) / 4294967296.0 * 99.0;
        default:
                return 1.0 + (double) (fuzz_u32(r) % 100000000) * 1e-6;
        }
}

static double pick_margin(FuzzReader *r) {
        uint8_t sel = fuzz_u8(r);

        switch (sel % 4) {
        case 0:
                return fuzz_double_bits(r);
        case 1:
                return (double) (sel / 4 % 3) * 0.5; /* 0, 0.5, 1 */
        case 2:
                return 0.1;
        default:
                return (double) fuzz_u32(r) / 4294967295.0;
        }
}

static uint32_t pick_count(FuzzReader *r) {
        uint8_t sel = fuzz_u8(r);

        switch (sel % 4) {
        case 0:
                return fuzz_u32(r);
        case 1:
                return UINT32_MAX - fuzz_u8(r);
        default:
                return fuzz_u8(r);
        }
}

static bool ratio_ok(double v) {
        return isfinite(v) && v >= 1.0 && v <= 100.0;
}

static uint64_t ppm_of(double r) {
        return (uint64_t) llround(r * (double) PPM);
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

static uint64_t clamp(unsigned __int128 v) {
        return v > X ? X : (uint64_t) v;
}

#define T_FMT "threshold=%" PRIu64 " high_ratio=%.17g gap=%" PRIu64 " grow_ratio=%.17g step=%" PRIu64 \
        " base=%" PRIu64 " max_usec=%" PRIu64 " margin=%.17g"
#define T_ARGS(t) (t)->high_ratio_threshold, (t)->high_ratio, (t)->high_gap, (t)->grow_ratio, (t)->grow_min_step, \
        (t)->shrink_base_usec, (t)->shrink_max_usec, (t)->shrink_min_margin

static void check_rounding(uint64_t v) {
        uint64_t up = limits_page_round_up(v), down = limits_page_round_down(v);

        FUZZ_CHECK(up % P == 0 && up <= X && (v > X ? up == X : up >= v && up - v < P),
                   "page_round_up(%" PRIu64 ") = %" PRIu64, v, up);
        FUZZ_CHECK(down % P == 0 && down <= v && v - down < P, "page_round_down(%" PRIu64 ") = %" PRIu64, v, down);
}

static void check_high_max(const Tunables *t, uint64_t h, uint64_t m) {
        uint64_t mh = limits_max_from_high(t, h);
        uint64_t hm = limits_high_from_max(t, m);
        uint64_t back = limits_high_from_max(t, mh);
        uint64_t threshold_max = limits_max_from_high(t, t->high_ratio_threshold);
        uint64_t ppm = ppm_of(t->high_ratio);
        unsigned __int128 by_ratio = (unsigned __int128) h * ppm / PPM;
        uint64_t formula = h > t->high_ratio_threshold ? clamp(by_ratio) : clamp((unsigned __int128) h + t->high_gap);

        FUZZ_CHECK(mh <= X && (h > X || mh >= h), "max_from_high(%" PRIu64 ") = %" PRIu64 "; " T_FMT, h, mh,
                   T_ARGS(t));
        FUZZ_CHECK(mh == formula, "max_from_high(%" PRIu64 ") = %" PRIu64 ", the formula gives %" PRIu64 "; " T_FMT,
                   h, mh, formula, T_ARGS(t));
        FUZZ_CHECK(hm <= X && hm <= m, "high_from_max(%" PRIu64 ") = %" PRIu64 ", above max; " T_FMT, m, hm,
                   T_ARGS(t));
        FUZZ_CHECK(back <= h,
                   "high_from_max(max_from_high(%" PRIu64 ")) = high_from_max(%" PRIu64 ") = %" PRIu64
                   ", above h; " T_FMT,
                   h, mh, back, T_ARGS(t));
        if (h <= t->high_ratio_threshold && (unsigned __int128) h + t->high_gap <= X)
                FUZZ_CHECK(back == h,
                           "high_from_max(max_from_high(%" PRIu64 ")) = %" PRIu64 " on the gap branch; " T_FMT, h,
                           back, T_ARGS(t));
        if (h > t->high_ratio_threshold && mh > threshold_max && by_ratio <= X)
                FUZZ_CHECK(back + 1 >= h,
                           "high_from_max(max_from_high(%" PRIu64 ")) = %" PRIu64 " on the ratio branch; " T_FMT, h,
                           back, T_ARGS(t));
}

static void check_grow(const Tunables *t, uint64_t max) {
        uint64_t next = limits_next_max(t, max);
        uint64_t d = limits_grow_delta(t, max);

        FUZZ_CHECK(next <= X && (max >= X || next > max), "next_max(%" PRIu64 ") = %" PRIu64 "; " T_FMT, max, next,
                   T_ARGS(t));
        FUZZ_CHECK(d % P == 0, "grow_delta(%" PRIu64 ") = %" PRIu64 ", not page-aligned; " T_FMT, max, d, T_ARGS(t));
        FUZZ_CHECK(max > X ? d == 0 : d <= X - max,
                   "grow_delta(%" PRIu64 ") = %" PRIu64 " takes max past %" PRIu64 "; " T_FMT, max, d, X, T_ARGS(t));
        if (max <= X - P)
                FUZZ_CHECK(d >= P, "grow_delta(%" PRIu64 ") = %" PRIu64 ": a grow that does not grow; " T_FMT, max, d,
                           T_ARGS(t));
        if (next > max) {
                uint64_t want = limits_page_round_up(next - max);
                if (want <= X - max)
                        FUZZ_CHECK(d == want,
                                   "grow_delta(%" PRIu64 ") = %" PRIu64 ", expected round_up(%" PRIu64 " - %" PRIu64
                                   ") = %" PRIu64 "; " T_FMT,
                                   max, d, next, max, want, T_ARGS(t));
        }
}

static void check_shrink(const Tunables *t, uint64_t max, uint64_t cur, uint32_t n) {
        uint64_t target = limits_shrink_target(t, cur, n);
        uint64_t d = limits_shrink_decrease(t, max, cur, n);
        uint64_t mh = limits_max_from_high(t, cur);

        FUZZ_CHECK(target <= X && target >= mh,
                   "shrink_target(%" PRIu64 ", %" PRIu32 ") = %" PRIu64 ", max_from_high = %" PRIu64 "; " T_FMT, cur,
                   n, target, mh, T_ARGS(t));
        if (n < UINT32_MAX) {
                uint64_t later = limits_shrink_target(t, cur, n + 1);
                FUZZ_CHECK(later <= target,
                           "shrink_target(%" PRIu64 ", %" PRIu32 ") = %" PRIu64 " < shrink_target(.., %" PRIu32
                           ") = %" PRIu64 "; " T_FMT,
                           cur, n, target, n + 1, later, T_ARGS(t));
        }
        FUZZ_CHECK(d <= max && d <= X && d % P == 0,
                   "shrink_decrease(%" PRIu64 ", %" PRIu64 ", %" PRIu32 ") = %" PRIu64 "; " T_FMT, max, cur, n, d,
                   T_ARGS(t));
        if (max >= P)
                FUZZ_CHECK((d == 0) == (target >= max),
                           "shrink_decrease(%" PRIu64 ", %" PRIu64 ", %" PRIu32 ") = %" PRIu64 " with target %" PRIu64
                           "; " T_FMT,
                           max, cur, n, d, target, T_ARGS(t));
        if (max % P == 0 && cur % P == 0 && cur <= max)
                FUZZ_CHECK(max - d >= cur,
                           "shrink_decrease(%" PRIu64 ", %" PRIu64 ", %" PRIu32 ") = %" PRIu64
                           " leaves max %" PRIu64 " below usage; " T_FMT,
                           max, cur, n, d, max - d, T_ARGS(t));

        uint64_t init = limits_initial_from_usage(t, cur);
        FUZZ_CHECK(init % P == 0 && init <= X && (cur > X || init >= cur) &&
                           init == limits_page_round_up(limits_shrink_target(t, cur, 0)),
                   "initial_from_usage(%" PRIu64 ") = %" PRIu64 "; " T_FMT, cur, init, T_ARGS(t));
}

static void check_timeout(const Tunables *t, uint32_t n) {
        uint64_t got = limits_shrink_timeout_usec(t, n);
        uint64_t want = t->shrink_max_usec;

        if (n < 64 && t->shrink_base_usec <= (UINT64_MAX >> n))
                want = min_u64(t->shrink_base_usec << n, t->shrink_max_usec);
        FUZZ_CHECK(got == want && got <= t->shrink_max_usec,
                   "shrink_timeout_usec(%" PRIu32 ") = %" PRIu64 ", expected %" PRIu64 "; " T_FMT, n, got, want,
                   T_ARGS(t));
}

static void check_all(const Tunables *t, FuzzReader *r) {
        uint64_t h = pick_u64(r, t), m = pick_u64(r, t), cur = pick_u64(r, t);
        uint32_t n = pick_count(r);

        check_rounding(h);
        check_rounding(m);
        check_high_max(t, h, m);
        check_high_max(t, m, h);
        check_grow(t, m);
        check_grow(t, h);
        check_shrink(t, m, cur, n);
        check_shrink(t, limits_page_round_down(m), limits_page_round_down(cur), n);
        check_timeout(t, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzReader r = { data, size };
        Tunables t, def;

        t = (Tunables) {
                .high_ratio_threshold = pick_u64(&r, NULL),
                .high_ratio = pick_ratio(&r),
                .high_gap = pick_u64(&r, NULL),
                .grow_ratio = pick_ratio(&r),
                .grow_min_step = pick_u64(&r, NULL),
                .shrink_base_usec = pick_u64(&r, NULL),
                .shrink_max_usec = pick_u64(&r, NULL),
                .shrink_min_margin = pick_margin(&r),
        };

        bool valid = ratio_ok(t.high_ratio) && t.high_ratio >= 1.000001 && ratio_ok(t.grow_ratio) && isfinite(t.shrink_min_margin) &&
                     t.shrink_min_margin >= 0.0 && t.shrink_min_margin <= 1.0 && t.shrink_base_usec > 0 &&
                     t.shrink_max_usec >= t.shrink_base_usec && t.grow_min_step >= P && t.high_gap >= P;
        int v = tunables_validate(&t);
        FUZZ_CHECK(v == (valid ? 0 : -EINVAL), "tunables_validate() = %d, expected %d; " T_FMT, v,
                   valid ? 0 : -EINVAL, T_ARGS(&t));

        tunables_init_default(&def);
        if (!valid)
                t = def;
        while (true) {
                check_all(&t, &r);
                check_all(&def, &r);
                if (r.left == 0)
                        break;
        }
        return 0;
}
