/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The elastic-limit formulas of DESIGN.md §1 at their branch points.
 *
 * Expected values are computed here with exact integer arithmetic
 * (unsigned __int128 rationals: 1.08 = 108/100, 1.1 = 11/10), never by
 * calling the function under test. A formula whose exact value is not an
 * integer may be rounded either way (the seed truncates, `as u64`), so
 * such results are accepted in [floor, ceil] of the exact value; where the
 * exact value is an integer it must come out exactly. Near 2^64 a double
 * carries only 53 bits, so there a relative slack of 2^-40 is allowed:
 * what is tested there is that nothing wraps. */

#include <errno.h>
#include <math.h>

#include "unit-test.h"
#include "memcgd/limits.h"

typedef unsigned __int128 u128;

#define PAGE UINT64_C(4096)
#define SEC UINT64_C(1000000)
#define MAXB LIMITS_MAX_BYTES

typedef struct Rational {
        u128 num, den;
} Rational;

static Rational rat(u128 num, u128 den) {
        return (Rational) { num, den };
}

static Rational rat_int(u128 v) {
        return (Rational) { v, 1 };
}

static u128 rat_floor(Rational r) {
        return r.num / r.den;
}

static u128 rat_ceil(Rational r) {
        return (r.num + r.den - 1) / r.den;
}

static bool rat_gt(Rational a, Rational b) {
        return a.num * b.den > b.num * a.den;
}

/* The formulas with the default tunables, exactly. */
static Rational exp_max_from_high(u128 h) {
        return h > 100 * UT_MIB ? rat(h * 108, 100) : rat_int(h + 8 * UT_MIB);
}

static Rational exp_high_from_max(u128 m) {
        if (m > 108 * UT_MIB)
                return rat(m * 100, 108);
        return rat_int(m >= 8 * UT_MIB ? m - 8 * UT_MIB : 0);
}

static Rational exp_next_max(u128 v) {
        Rational a = rat(v * 11, 10), b = rat_int(v + 10 * UT_MIB);
        return rat_gt(a, b) ? a : b;
}

static uint64_t clamp_max(u128 v) {
        return v > MAXB ? MAXB : (uint64_t) v;
}

/* Checks `got` against the exact value r: saturated to MAXB when r is at
 * or above it, else within [floor(r) - slack, ceil(r) + slack], where slack
 * is `extra` plus 2^-40 of the value (double precision near 2^64). */
static void check_rational(const char *expr, uint64_t got, Rational r, uint64_t extra) {
        u128 lo = rat_floor(r), hi = rat_ceil(r);
        uint64_t want_lo, want_hi;

        if (lo >= MAXB) {
                want_lo = want_hi = MAXB;
        } else {
                uint64_t slack = extra + (uint64_t) (lo >> 40);
                want_lo = lo > slack ? (uint64_t) lo - slack : 0;
                want_hi = clamp_max(hi + slack);
        }
        if (got < want_lo || got > want_hi) {
                print_error("%s = %" PRIu64 " (%.6f MiB), expected within [%" PRIu64 ", %" PRIu64
                            "] (exact %.6Lf MiB%s)\n",
                            expr, got, (double) got / UT_MIB, want_lo, want_hi,
                            (long double) r.num / (long double) r.den / UT_MIB,
                            lo >= MAXB ? ", saturated to LIMITS_MAX_BYTES as limits.h promises" : "");
                fail();
        }
}

#define CHECK(call, r) check_rational(#call, (call), (r), 0)
#define CHECK_SLACK(call, r, s) check_rational(#call, (call), (r), (s))

static uint64_t page_up128(u128 v) {
        return clamp_max((v + PAGE - 1) / PAGE * PAGE);
}

/* 2^64 as u128, and the input where a formula's exact value crosses it. */
#define TWO64 ((u128) 1 << 64)

static Tunables defaults(void) {
        Tunables t;
        memset(&t, 0xa5, sizeof t);
        tunables_init_default(&t);
        return t;
}

/* ---------------------------------------------------------------------- */

static void tunables_default_are_the_seeds_constants(void **state) {
        Tunables t = defaults();

        assert_u64_eq(t.high_ratio_threshold, 100 * UT_MIB);
        assert_true(t.high_ratio == 1.08);
        assert_u64_eq(t.high_gap, 8 * UT_MIB);
        assert_true(t.grow_ratio == 1.1);
        assert_u64_eq(t.grow_min_step, 10 * UT_MIB);
        assert_u64_eq(t.shrink_base_usec, 1 * SEC);
        assert_u64_eq(t.shrink_max_usec, 60 * SEC);
        assert_true(t.shrink_min_margin == 0.1);
        assert_errno_eq(tunables_validate(&t), 0);
}

static void max_from_high_adds_8_MiB_up_to_and_including_100_MiB(void **state) {
        Tunables t = defaults();

        assert_u64_eq(limits_max_from_high(&t, 0), 8 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 1), 8 * UT_MIB + 1);
        assert_u64_eq(limits_max_from_high(&t, 32 * UT_MIB), 40 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 50 * UT_MIB), 58 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 100 * UT_MIB - 1), 108 * UT_MIB - 1);
        /* Exactly 100 MiB is not "> 100 MiB": the additive branch. */
        assert_u64_eq(limits_max_from_high(&t, 100 * UT_MIB), 108 * UT_MIB);
}

static void max_from_high_multiplies_by_1_08_above_100_MiB(void **state) {
        Tunables t = defaults();

        /* Both branches meet at 100 MiB, so one byte above it is 108 MiB +
         * 1.08 bytes: 113246209.08. */
        CHECK(limits_max_from_high(&t, 100 * UT_MIB + 1), exp_max_from_high(100 * UT_MIB + 1));
        assert_u64_between(limits_max_from_high(&t, 100 * UT_MIB + 1), 108 * UT_MIB + 1, 108 * UT_MIB + 2);
        /* Far enough from the threshold that the branches differ: 8 MiB
         * more would be 208 MiB. */
        assert_u64_eq(limits_max_from_high(&t, 200 * UT_MIB), 216 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 1000 * UT_MIB), 1080 * UT_MIB);
        CHECK(limits_max_from_high(&t, 1024 * UT_MIB), exp_max_from_high(1024 * UT_MIB));
        CHECK(limits_max_from_high(&t, 123456789), exp_max_from_high(123456789));
        CHECK(limits_max_from_high(&t, UINT64_C(1) << 40), exp_max_from_high((u128) 1 << 40));
}

static void high_from_max_subtracts_8_MiB_up_to_and_including_108_MiB(void **state) {
        Tunables t = defaults();

        assert_u64_eq(limits_high_from_max(&t, 108 * UT_MIB), 100 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 108 * UT_MIB - 1), 100 * UT_MIB - 1);
        assert_u64_eq(limits_high_from_max(&t, 64 * UT_MIB), 56 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 50 * UT_MIB), 42 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 8 * UT_MIB + 1), 1);
        assert_u64_eq(limits_high_from_max(&t, 8 * UT_MIB), 0);
}

static void high_from_max_divides_by_1_08_above_108_MiB(void **state) {
        Tunables t = defaults();

        /* 113246209 / 1.08 = 104857600.93 */
        CHECK(limits_high_from_max(&t, 108 * UT_MIB + 1), exp_high_from_max(108 * UT_MIB + 1));
        assert_u64_between(limits_high_from_max(&t, 108 * UT_MIB + 1), 100 * UT_MIB, 100 * UT_MIB + 1);
        /* 8 MiB less would be 208 MiB. 216 MiB / 1.08 is exactly 200 MiB:
         * dividing by the double 1.08 (a hair above 1.08) and truncating
         * gives 200 MiB - 1, which the kernel then rounds down to a whole
         * page below the intended high. */
        assert_u64_eq(limits_high_from_max(&t, 216 * UT_MIB), 200 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 1080 * UT_MIB), 1000 * UT_MIB);
        CHECK(limits_high_from_max(&t, 1024 * UT_MIB), exp_high_from_max(1024 * UT_MIB));
        CHECK(limits_high_from_max(&t, 987654321), exp_high_from_max(987654321));
}

static void high_from_max_clamps_to_zero_below_8_MiB_instead_of_underflowing(void **state) {
        Tunables t = defaults();

        /* The seed's `m - 8 MiB` wrapped to ~2^64 here. */
        assert_u64_eq(limits_high_from_max(&t, 0), 0);
        assert_u64_eq(limits_high_from_max(&t, 1), 0);
        assert_u64_eq(limits_high_from_max(&t, PAGE), 0);
        assert_u64_eq(limits_high_from_max(&t, 4 * UT_MIB), 0);
        assert_u64_eq(limits_high_from_max(&t, 8 * UT_MIB - 1), 0);
}

static void high_from_max_inverts_max_from_high(void **state) {
        Tunables t = defaults();
        static const uint64_t hs[] = {
                0, 1, 4096, 8 * UT_MIB, 99 * UT_MIB, 100 * UT_MIB, 100 * UT_MIB + 1,
                101 * UT_MIB, 200 * UT_MIB, 1024 * UT_MIB, 64 * 1024 * UT_MIB,
                (UINT64_C(1) << 40) + 12345,
        };

        for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
                uint64_t back = limits_high_from_max(&t, limits_max_from_high(&t, hs[i]));
                if (back + 2 < hs[i] || back > hs[i] + 2) {
                        print_error("high_from_max(max_from_high(%" PRIu64 ")) = %" PRIu64
                                    ": the two thresholds do not line up\n", hs[i], back);
                        fail();
                }
        }
}

static void next_max_adds_10_MiB_up_to_100_MiB(void **state) {
        Tunables t = defaults();

        assert_u64_eq(limits_next_max(&t, 0), 10 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 1), 10 * UT_MIB + 1);
        assert_u64_eq(limits_next_max(&t, 40 * UT_MIB), 50 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 64 * UT_MIB), 74 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 99 * UT_MIB), 109 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 100 * UT_MIB), 110 * UT_MIB);
}

static void next_max_multiplies_by_1_1_above_100_MiB(void **state) {
        Tunables t = defaults();

        /* 10 MiB more would be 210 MiB. */
        assert_u64_eq(limits_next_max(&t, 200 * UT_MIB), 220 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 500 * UT_MIB), 550 * UT_MIB);
        CHECK(limits_next_max(&t, 100 * UT_MIB + 10), exp_next_max(100 * UT_MIB + 10));
        CHECK(limits_next_max(&t, 1024 * UT_MIB), exp_next_max(1024 * UT_MIB));
        CHECK(limits_next_max(&t, 333333333), exp_next_max(333333333));
}

static void formulas_saturate_at_the_largest_page_instead_of_wrapping(void **state) {
        Tunables t = defaults();
        static const uint64_t top[] = {
                UINT64_MAX, UINT64_MAX - 1, MAXB + 1, MAXB, MAXB - 1, MAXB - 10 * UT_MIB,
                UINT64_MAX - 5 * UT_MIB, UINT64_C(1) << 63,
        };

        for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
                CHECK(limits_max_from_high(&t, top[i]), exp_max_from_high(top[i]));
                CHECK(limits_next_max(&t, top[i]), exp_next_max(top[i]));
                CHECK(limits_high_from_max(&t, top[i]), exp_high_from_max(top[i]));
        }
        assert_u64_eq(limits_max_from_high(&t, UINT64_MAX), MAXB);
        assert_u64_eq(limits_next_max(&t, UINT64_MAX), MAXB);
        assert_u64_eq(limits_next_max(&t, MAXB), MAXB);

        /* With a huge threshold the additive branches run at the top too. */
        Tunables add = t;
        add.high_ratio_threshold = UINT64_MAX;
        add.grow_ratio = 1.0;
        assert_errno_eq(tunables_validate(&add), 0);
        assert_u64_eq(limits_max_from_high(&add, UINT64_MAX - 1), MAXB);
        assert_u64_eq(limits_max_from_high(&add, UINT64_MAX - 4 * UT_MIB), MAXB);
        assert_u64_eq(limits_next_max(&add, UINT64_MAX - 1), MAXB);
        assert_u64_eq(limits_next_max(&add, UINT64_MAX - 4 * UT_MIB), MAXB);
        assert_u64_eq(limits_next_max(&add, MAXB - 20 * UT_MIB), MAXB - 10 * UT_MIB);
}

/* Sweeps the inputs around the point where the exact value crosses 2^64
 * (there a double rounds up to exactly 2^64, whose conversion to uint64_t
 * is undefined and gives 0 on x86-64) and checks every result against the
 * exact one, and that the function never decreases. */
static void sweep_top(const char *name, uint64_t (*f)(const Tunables *, uint64_t),
                      Rational (*exact)(u128), u128 ratio_num, u128 ratio_den) {
        Tunables t = defaults();
        u128 cross = TWO64 * ratio_den / ratio_num;  /* f(cross) ~ 2^64 */
        uint64_t prev_in = 0, prev_out = 0;
        bool first = true;

        for (int64_t k = -(INT64_C(1) << 22); k <= (INT64_C(1) << 22); k += 4093) {
                for (int d = -1; d <= 1; d++) {
                        u128 in128 = cross + (__int128) k + d;
                        if (in128 > UINT64_MAX)
                                continue;
                        uint64_t in = (uint64_t) in128;
                        uint64_t out = f(&t, in);
                        char expr[96];
                        snprintf(expr, sizeof expr, "%s(%" PRIu64 ")", name, in);
                        check_rational(expr, out, exact(in), 0);
                        if (!first && in >= prev_in && out < prev_out) {
                                print_error("%s decreases: f(%" PRIu64 ") = %" PRIu64 " > f(%" PRIu64
                                            ") = %" PRIu64 "\n", name, prev_in, prev_out, in, out);
                                fail();
                        }
                        prev_in = in;
                        prev_out = out;
                        first = false;
                }
        }
}

static void max_from_high_and_next_max_saturate_where_a_double_rounds_to_2_64(void **state) {
        sweep_top("limits_max_from_high", limits_max_from_high, exp_max_from_high, 108, 100);
        sweep_top("limits_next_max", limits_next_max, exp_next_max, 11, 10);
}

static void page_rounding_rounds_to_4096_byte_multiples(void **state) {
        assert_u64_eq(limits_page_round_up(0), 0);
        assert_u64_eq(limits_page_round_up(1), PAGE);
        assert_u64_eq(limits_page_round_up(4095), PAGE);
        assert_u64_eq(limits_page_round_up(4096), PAGE);
        assert_u64_eq(limits_page_round_up(4097), 2 * PAGE);
        assert_u64_eq(limits_page_round_up(64 * UT_MIB), 64 * UT_MIB);
        assert_u64_eq(limits_page_round_up(64 * UT_MIB + 1), 64 * UT_MIB + PAGE);

        assert_u64_eq(limits_page_round_down(0), 0);
        assert_u64_eq(limits_page_round_down(1), 0);
        assert_u64_eq(limits_page_round_down(4095), 0);
        assert_u64_eq(limits_page_round_down(4096), PAGE);
        assert_u64_eq(limits_page_round_down(4097), PAGE);
        assert_u64_eq(limits_page_round_down(UINT64_MAX), MAXB);
}

static void page_round_up_saturates_at_the_largest_page_multiple(void **state) {
        assert_u64_eq(MAXB, UINT64_C(0xfffffffffffff000));
        /* Rounding up would wrap to 0 past MAXB. */
        assert_u64_eq(limits_page_round_up(UINT64_MAX), MAXB);
        assert_u64_eq(limits_page_round_up(UINT64_MAX - 1), MAXB);
        assert_u64_eq(limits_page_round_up(MAXB + 1), MAXB);
        assert_u64_eq(limits_page_round_up(MAXB), MAXB);
        assert_u64_eq(limits_page_round_up(MAXB - 1), MAXB);
        assert_u64_eq(limits_page_round_up(MAXB - PAGE + 1), MAXB);
        assert_u64_eq(limits_page_round_up(MAXB - PAGE), MAXB - PAGE);
}

/* The seed's delta = round_up_page(next_max(max) - max), exactly; where
 * next_max is not an integer, either rounding of it is accepted (and near
 * 2^64 the double slack of check_rational). */
static void check_grow_delta(const Tunables *t, uint64_t max) {
        Rational n = exp_next_max(max);
        u128 slack = rat_floor(n) >> 40;
        u128 lo = rat_floor(n) > slack ? rat_floor(n) - slack : 0, hi = rat_ceil(n) + slack;
        u128 lo_c = clamp_max(lo), hi_c = clamp_max(hi);
        uint64_t a = lo_c > max ? page_up128(lo_c - max) : 0;
        uint64_t b = hi_c > max ? page_up128(hi_c - max) : 0;
        uint64_t got = limits_grow_delta(t, max);

        if (got < a || got > b || got % PAGE != 0) {
                print_error("limits_grow_delta(%" PRIu64 " = %.6f MiB) = %" PRIu64 " (%.6f MiB), expected %"
                            PRIu64 " (%.6f MiB)%s\n", max, (double) max / UT_MIB, got,
                            (double) got / UT_MIB, a, (double) a / UT_MIB,
                            a != b ? " or up to a page more" : "");
                fail();
        }
}

static void grow_delta_is_the_page_rounded_step_to_next_max(void **state) {
        Tunables t = defaults();

        assert_u64_eq(limits_grow_delta(&t, 64 * UT_MIB), 10 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&t, 0), 10 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&t, 100 * UT_MIB), 10 * UT_MIB);
        /* 200 MiB * 1.1 = 220 MiB exactly (230686720); in double it is a
         * hair above, so a ceil() would make this a page larger. */
        assert_u64_eq(limits_grow_delta(&t, 200 * UT_MIB), 20 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&t, 500 * UT_MIB), 50 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&t, 64 * UT_MIB + 1), 10 * UT_MIB);
        /* 10% of 300 MiB + 12345 = 31458514.5 -> 7681 pages. */
        assert_u64_eq(limits_grow_delta(&t, 300 * UT_MIB + 12345), 7681 * PAGE);
        /* 10% of 1 GiB = 107374182.4 -> 26215 pages. */
        assert_u64_eq(limits_grow_delta(&t, 1024 * UT_MIB), 26215 * PAGE);

        static const uint64_t ms[] = {
                1, 4095, 8 * UT_MIB + 3, 99 * UT_MIB + 4097, 101 * UT_MIB, 150 * UT_MIB + 1,
                777777777, 3 * 1024 * UT_MIB + 5, UINT64_C(1) << 40,
        };
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
                check_grow_delta(&t, ms[i]);
                assert_u64_eq(limits_grow_delta(&t, ms[i]) % PAGE, 0);
        }
}

static void grow_delta_is_zero_at_the_top_and_never_wraps_the_limit(void **state) {
        Tunables t = defaults();

        /* next_max saturates at MAXB; MAXB - max must not underflow. */
        assert_u64_eq(limits_grow_delta(&t, UINT64_MAX), 0);
        assert_u64_eq(limits_grow_delta(&t, UINT64_MAX - 1), 0);
        assert_u64_eq(limits_grow_delta(&t, MAXB + 1), 0);
        assert_u64_eq(limits_grow_delta(&t, MAXB), 0);
        assert_u64_eq(limits_grow_delta(&t, MAXB - 3 * PAGE), 3 * PAGE);

        static const uint64_t ms[] = {
                MAXB - 1, MAXB - PAGE, MAXB - 10 * UT_MIB, MAXB - 10 * UT_MIB - 1, UINT64_C(1) << 63,
                (uint64_t) (TWO64 * 10 / 11), (uint64_t) (TWO64 * 10 / 11) - 12345,
                (uint64_t) (TWO64 * 10 / 11) & ~(PAGE - 1), ((uint64_t) (TWO64 * 10 / 11) - 12345) & ~(PAGE - 1),
        };
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
                uint64_t d = limits_grow_delta(&t, ms[i]);
                if (d > UINT64_MAX - ms[i]) {
                        print_error("limits_grow_delta(%" PRIu64 ") = %" PRIu64 ": max + delta wraps\n",
                                    ms[i], d);
                        fail();
                }
                if (d % PAGE != 0) {
                        print_error("limits_grow_delta(%" PRIu64 ") = %" PRIu64
                                    ": not page-rounded as limits.h promises\n", ms[i], d);
                        fail();
                }
                /* An unaligned max within a page of the top cannot both get a
                 * page-rounded delta and stay under LIMITS_MAX_BYTES; only
                 * aligned ones must match the formula exactly. */
                if (ms[i] % PAGE == 0)
                        check_grow_delta(&t, ms[i]);
                else
                        assert_true(d <= limits_page_round_up(MAXB - ms[i]));
        }
}

/* test + (next_max(test) - test) * frac, frac = n == 0 ? 1 : max(1/n, 1/10),
 * with test and next_max saturated at MAXB as the functions are. */
static Rational exp_shrink_target(uint64_t current, uint32_t n) {
        /* The function works on the integer test; composing the exact
         * rationals instead is a byte or two off, which callers allow. */
        u128 ti = clamp_max(rat_floor(exp_max_from_high(current)));
        Rational next = exp_next_max(ti);
        if (rat_floor(next) >= MAXB)
                next = rat_int(MAXB);
        u128 f_den = n == 0 ? 1 : (n < 10 ? n : 10);
        /* ti + (next - ti) / f_den */
        u128 num = ti * next.den * f_den + (next.num - ti * next.den);
        return rat(num, next.den * f_den);
}

static void shrink_target_narrows_the_margin_with_each_quiet_check_down_to_a_tenth(void **state) {
        Tunables t = defaults();
        uint64_t cur = 32 * UT_MIB;

        /* test = 40 MiB, next_max(40 MiB) = 50 MiB: a 10 MiB margin. */
        assert_u64_eq(limits_shrink_target(&t, cur, 0), 50 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, 1), 50 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, 2), 45 * UT_MIB);
        /* 40 MiB + 10 MiB / 3 = 45438293.33 */
        assert_u64_between(limits_shrink_target(&t, cur, 3), 45438293, 45438294);
        assert_u64_eq(limits_shrink_target(&t, cur, 4), 40 * UT_MIB + 10 * UT_MIB / 4);
        assert_u64_eq(limits_shrink_target(&t, cur, 5), 42 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, 10), 41 * UT_MIB);
        /* 1/11 < 0.1: the floor holds from here on. */
        assert_u64_eq(limits_shrink_target(&t, cur, 11), 41 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, 20), 41 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, 1000), 41 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, cur, UINT32_MAX), 41 * UT_MIB);
}

static void shrink_target_follows_the_formulas_on_both_sides_of_100_MiB(void **state) {
        Tunables t = defaults();
        static const uint64_t curs[] = {
                0, 1, 12345678, 92 * UT_MIB, 100 * UT_MIB, 100 * UT_MIB + 1, 200 * UT_MIB,
                500 * UT_MIB, 4096 * UT_MIB + 17,
        };
        static const uint32_t ns[] = { 0, 1, 2, 3, 5, 7, 10, 11, 20, 64, UINT32_MAX };

        /* 500 MiB: test 540 MiB, next_max 594 MiB, margin 54 MiB. */
        assert_u64_eq(limits_shrink_target(&t, 500 * UT_MIB, 0), 594 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, 500 * UT_MIB, 2), 567 * UT_MIB);
        /* 540 MiB + 5.4 MiB = 571893350.4 */
        assert_u64_between(limits_shrink_target(&t, 500 * UT_MIB, 10), 571893350, 571893351);
        /* 0 bytes: test 8 MiB, next_max 18 MiB. */
        assert_u64_eq(limits_shrink_target(&t, 0, 0), 18 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, 0, 10), 9 * UT_MIB);

        for (size_t i = 0; i < sizeof curs / sizeof curs[0]; i++)
                for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
                        char expr[96];
                        snprintf(expr, sizeof expr, "limits_shrink_target(%" PRIu64 ", %" PRIu32 ")",
                                 curs[i], ns[j]);
                        check_rational(expr, limits_shrink_target(&t, curs[i], ns[j]),
                                       exp_shrink_target(curs[i], ns[j]), 3);
                }
}

static void shrink_target_saturates_for_huge_usage(void **state) {
        Tunables t = defaults();
        static const uint64_t top[] = { UINT64_MAX, UINT64_MAX - 1, MAXB, MAXB - 1 };
        static const uint64_t near[] = { UINT64_C(1) << 63, (uint64_t) (TWO64 * 100 / 108),
                                         (uint64_t) (TWO64 * 100 / 108) - 1000000,
                                         (uint64_t) (TWO64 * 100 / 108 * 10 / 11) };
        static const uint32_t ns[] = { 0, 1, 3, 10, UINT32_MAX };

        for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
                assert_u64_eq(limits_shrink_target(&t, top[i], 0), MAXB);
                assert_u64_eq(limits_shrink_target(&t, top[i], 10), MAXB);
                assert_u64_eq(limits_shrink_target(&t, top[i], UINT32_MAX), MAXB);
        }
        for (size_t i = 0; i < sizeof near / sizeof near[0]; i++)
                for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
                        char expr[96];
                        snprintf(expr, sizeof expr, "limits_shrink_target(%" PRIu64 ", %" PRIu32 ")",
                                 near[i], ns[j]);
                        check_rational(expr, limits_shrink_target(&t, near[i], ns[j]),
                                       exp_shrink_target(near[i], ns[j]), 3);
                }
}

static void shrink_decrease_lowers_max_to_the_target(void **state) {
        Tunables t = defaults();
        uint64_t cur = 32 * UT_MIB;

        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, cur, 0), 14 * UT_MIB);
        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, cur, 2), 19 * UT_MIB);
        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, cur, 10), 23 * UT_MIB);
        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, cur, 20), 23 * UT_MIB);
        /* 64 MiB - 45438293.33 = 21670570.67 -> 5291 pages. */
        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, cur, 3), 5291 * PAGE);
        assert_u64_eq(limits_shrink_decrease(&t, 1024 * UT_MIB, 500 * UT_MIB, 0), 430 * UT_MIB);
}

static void shrink_schedule_from_64_MiB_at_32_MiB_usage_ends_at_41_MiB_and_no_lower(void **state) {
        Tunables t = defaults();
        uint64_t max = 64 * UT_MIB, cur = 32 * UT_MIB;

        for (uint32_t n = 0; n <= 40; n++) {
                uint64_t d = limits_shrink_decrease(&t, max, cur, n);
                assert_true(d <= max);
                uint64_t next = max - d;
                Rational target = exp_shrink_target(cur, n);
                /* Lowered at most to a page under the target, never more. */
                if (d > 0 && (next + PAGE <= rat_floor(target) || next > rat_ceil(target))) {
                        print_error("check %" PRIu32 ": max %" PRIu64 " lowered by %" PRIu64 " to %" PRIu64
                                    ", target %.1Lf\n", n, max, d, next,
                                    (long double) target.num / (long double) target.den);
                        fail();
                }
                if (n >= 10)
                        assert_u64_eq(d, n == 10 ? max - 41 * UT_MIB : 0);
                max = next;
        }
        assert_u64_eq(max, 41 * UT_MIB);
}

static void shrink_decrease_is_page_rounded_and_never_exceeds_max(void **state) {
        Tunables t = defaults();

        /* 60 MiB + 1 - 41 MiB = 19 MiB + 1 -> one page more. */
        assert_u64_eq(limits_shrink_decrease(&t, 60 * UT_MIB + 1, 32 * UT_MIB, 10), 19 * UT_MIB + PAGE);

        static const uint64_t maxes[] = { 41 * UT_MIB + 1, 50 * UT_MIB + 4095, 77777777, 1024 * UT_MIB + 3 };
        for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++)
                for (uint32_t n = 0; n < 12; n++) {
                        uint64_t d = limits_shrink_decrease(&t, maxes[i], 32 * UT_MIB, n);
                        assert_u64_eq(d % PAGE, 0);
                        assert_true(d <= maxes[i]);
                }

        /* Tunables with no gap and no minimum step put the target at the
         * usage itself, so round_up_page(max - target) can pass max.
         * tunables_validate refuses them (gap and step under a page), but
         * "never more than max" is the function's promise for any input. */
        Tunables z = t;
        z.high_ratio = 1.0;
        z.high_gap = 0;
        z.grow_ratio = 1.5;
        z.grow_min_step = 0;
        assert_errno_eq(tunables_validate(&z), -EINVAL);
        assert_u64_eq(limits_shrink_target(&z, 0, 0), 0);
        static const uint64_t small[] = { 1, 100, 4095, 4096, 4097, 8191, 12289 };
        for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
                uint64_t d = limits_shrink_decrease(&z, small[i], 0, 0);
                if (d > small[i] || (d % PAGE != 0 && d != small[i]) || (small[i] >= PAGE && d == 0)) {
                        print_error("limits_shrink_decrease(max %" PRIu64 ", target 0) = %" PRIu64
                                    ", expected a page multiple (or max itself), never more than max\n",
                                    small[i], d);
                        fail();
                }
        }
        uint64_t d = limits_shrink_decrease(&z, UINT64_MAX, 0, 0);
        assert_true(d >= MAXB);
}

static void shrink_decrease_is_zero_when_max_is_already_at_or_below_the_target(void **state) {
        Tunables t = defaults();

        assert_u64_eq(limits_shrink_decrease(&t, 50 * UT_MIB, 32 * UT_MIB, 0), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 45 * UT_MIB, 32 * UT_MIB, 0), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 45 * UT_MIB, 32 * UT_MIB, 2), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 41 * UT_MIB, 32 * UT_MIB, 20), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 20 * UT_MIB, 32 * UT_MIB, 20), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 0, 32 * UT_MIB, 0), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 0, 0, 0), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 5000, 0, 5), 0);
        assert_u64_eq(limits_shrink_decrease(&t, 64 * UT_MIB, UINT64_MAX, 10), 0);
}

static void shrink_decrease_from_unlimited_lands_within_a_page_of_the_target(void **state) {
        Tunables t = defaults();
        uint64_t d = limits_shrink_decrease(&t, UINT64_MAX, 32 * UT_MIB, 10);

        /* UINT64_MAX - 41 MiB rounded up to a page: UINT64_MAX - 41 MiB + 1. */
        assert_u64_eq(d, UINT64_MAX - 41 * UT_MIB + 1);
        assert_u64_eq(UINT64_MAX - d, 41 * UT_MIB - 1);
        assert_u64_eq(limits_shrink_decrease(&t, MAXB, 32 * UT_MIB, 10), MAXB - 41 * UT_MIB);
}

static void shrink_timeout_doubles_from_1_s_and_caps_at_60_s(void **state) {
        Tunables t = defaults();
        static const uint64_t want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };

        for (uint32_t n = 0; n < sizeof want / sizeof want[0]; n++) {
                uint64_t got = limits_shrink_timeout_usec(&t, n);
                if (got != want[n] * SEC) {
                        print_error("limits_shrink_timeout_usec(n=%" PRIu32 ") = %" PRIu64 ", expected %"
                                    PRIu64 "\n", n, got, want[n] * SEC);
                        fail();
                }
        }
}

static void shrink_timeout_follows_a_shortened_base(void **state) {
        Tunables t = defaults();
        t.shrink_base_usec = 10000;
        assert_errno_eq(tunables_validate(&t), 0);

        assert_u64_eq(limits_shrink_timeout_usec(&t, 0), 10000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 1), 20000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 2), 40000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 3), 80000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 12), 40960000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 13), 60 * SEC);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 100), 60 * SEC);

        t.shrink_max_usec = 100000;
        assert_u64_eq(limits_shrink_timeout_usec(&t, 3), 80000);
        assert_u64_eq(limits_shrink_timeout_usec(&t, 4), 100000);
}

static void shrink_timeout_caps_instead_of_overflowing_for_huge_counts(void **state) {
        Tunables t = defaults();
        static const uint32_t ns[] = { 31, 32, 33, 62, 63, 64, 65, 127, 128, 1000, UINT32_MAX - 1, UINT32_MAX };

        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
                uint64_t got = limits_shrink_timeout_usec(&t, ns[i]);
                if (got != 60 * SEC) {
                        print_error("limits_shrink_timeout_usec(n=%" PRIu32 ") = %" PRIu64 ", expected the 60 s cap\n",
                                    ns[i], got);
                        fail();
                }
        }

        /* With the cap at UINT64_MAX an overflowing base * 2^n shows. */
        Tunables u = t;
        u.shrink_base_usec = 3;
        u.shrink_max_usec = UINT64_MAX;
        assert_errno_eq(tunables_validate(&u), 0);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 62), UINT64_C(3) << 62);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 63), UINT64_MAX);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 64), UINT64_MAX);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 65), UINT64_MAX);
        assert_u64_eq(limits_shrink_timeout_usec(&u, UINT32_MAX), UINT64_MAX);

        u.shrink_base_usec = 1;
        assert_u64_eq(limits_shrink_timeout_usec(&u, 63), UINT64_C(1) << 63);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 64), UINT64_MAX);

        u.shrink_base_usec = UINT64_C(1) << 40;
        assert_u64_eq(limits_shrink_timeout_usec(&u, 23), UINT64_C(1) << 63);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 24), UINT64_MAX);
        assert_u64_eq(limits_shrink_timeout_usec(&u, 40), UINT64_MAX);
}

static void tunables_validate_rejects_out_of_range_fields(void **state) {
        Tunables t = defaults(), b;

#define REJECT(field, value)                                                            \
        do {                                                                            \
                b = t;                                                                  \
                b.field = (value);                                                      \
                if (tunables_validate(&b) != -EINVAL) {                                 \
                        print_error("tunables_validate accepted " #field " = " #value   \
                                    " (returned %d)\n", tunables_validate(&b));         \
                        fail();                                                         \
                }                                                                       \
        } while (0)

        REJECT(high_ratio, 1.0);
        REJECT(high_ratio, 1.0000004);
        REJECT(high_ratio, 0.99);
        REJECT(high_ratio, 0.0);
        REJECT(high_ratio, -1.08);
        REJECT(high_ratio, NAN);
        REJECT(high_ratio, INFINITY);
        REJECT(high_ratio, 100.5);
        REJECT(grow_ratio, 0.5);
        REJECT(grow_ratio, NAN);
        REJECT(grow_ratio, INFINITY);
        REJECT(grow_ratio, 101.0);
        /* Under a page: a grow that raises nothing, high on top of max. */
        REJECT(grow_min_step, 0);
        REJECT(grow_min_step, 4095);
        REJECT(high_gap, 0);
        REJECT(high_gap, 4095);
        REJECT(shrink_min_margin, 1.01);
        REJECT(shrink_min_margin, 2.0);
        REJECT(shrink_min_margin, -0.1);
        REJECT(shrink_min_margin, NAN);
        REJECT(shrink_base_usec, 0);
        REJECT(shrink_max_usec, 999999);  /* below the 1 s base */
#undef REJECT
}

static void tunables_validate_accepts_the_edges_of_each_range(void **state) {
        Tunables t = defaults(), b;

        b = t; b.high_ratio = 1.000001; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.grow_ratio = 1.0; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.shrink_min_margin = 0.0; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.shrink_min_margin = 1.0; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.shrink_max_usec = b.shrink_base_usec; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.shrink_base_usec = 1; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.high_ratio = 100.0; b.grow_ratio = 100.0; assert_errno_eq(tunables_validate(&b), 0);
        b = t; b.grow_min_step = PAGE; b.high_gap = PAGE; assert_errno_eq(tunables_validate(&b), 0);
}

/* limits.h: a minimum step of at least a page "so every grow raises the
 * limit", whatever the ratio: 64 MiB * 1.0000001 is only 6.7 bytes more
 * (and a ratio applied to a millionth rounds to 1.0), yet the delta must
 * still be a page. */
static void tunables_that_validate_always_grow_a_limit(void **state) {
        Tunables t = defaults();
        static const double ratios[] = { 1.0, 1.0000001, 1.0000004, 1.000001, 1.01 };
        static const uint64_t maxes[] = { 0, 4096, 64 * UT_MIB, 1024 * UT_MIB, UINT64_C(1) << 50 };

        t.grow_min_step = PAGE;
        for (size_t i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
                t.grow_ratio = ratios[i];
                assert_errno_eq(tunables_validate(&t), 0);
                for (size_t j = 0; j < sizeof maxes / sizeof maxes[0]; j++) {
                        uint64_t d = limits_grow_delta(&t, maxes[j]);
                        if (d < PAGE || d % PAGE != 0) {
                                print_error("grow_ratio %.7f, grow_min_step 4096: limits_grow_delta(%" PRIu64
                                            ") = %" PRIu64 ", expected at least a page\n", ratios[i], maxes[j], d);
                                fail();
                        }
                }
        }
}

static void custom_tunables_move_the_branch_points(void **state) {
        Tunables t = defaults();

        /* Continuous at 200 MiB: 200 * 1.05 = 200 + 10. The high_from_max
         * threshold is then 210 MiB, not the default 108 MiB. */
        t.high_ratio_threshold = 200 * UT_MIB;
        t.high_ratio = 1.05;
        t.high_gap = 10 * UT_MIB;
        t.grow_ratio = 1.5;
        t.grow_min_step = 1 * UT_MIB;
        t.shrink_min_margin = 0.25;
        assert_errno_eq(tunables_validate(&t), 0);

        assert_u64_eq(limits_max_from_high(&t, 150 * UT_MIB), 160 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 200 * UT_MIB), 210 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 400 * UT_MIB), 420 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 150 * UT_MIB), 140 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 210 * UT_MIB), 200 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 420 * UT_MIB), 400 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 5 * UT_MIB), 0);
        assert_u64_eq(limits_next_max(&t, 100 * UT_MIB), 150 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 1 * UT_MIB), 2 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&t, 100 * UT_MIB), 50 * UT_MIB);
        /* current 30 MiB: test 40 MiB, next_max 60 MiB, margin 20 MiB;
         * frac floor 0.25 from n = 4 on. */
        assert_u64_eq(limits_shrink_target(&t, 30 * UT_MIB, 0), 60 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, 30 * UT_MIB, 2), 50 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, 30 * UT_MIB, 4), 45 * UT_MIB);
        assert_u64_eq(limits_shrink_target(&t, 30 * UT_MIB, 8), 45 * UT_MIB);

        /* 1.15 is 1.149999999999999911 as a double: a ratio read as written
         * still gives 200 MiB * 1.15 = 230 MiB exactly, both ways. */
        Tunables d = defaults();
        d.high_ratio = 1.15;
        d.grow_ratio = 1.15;
        assert_errno_eq(tunables_validate(&d), 0);
        assert_u64_eq(limits_max_from_high(&d, 200 * UT_MIB), 230 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&d, 230 * UT_MIB), 200 * UT_MIB);
        assert_u64_eq(limits_next_max(&d, 200 * UT_MIB), 230 * UT_MIB);
        assert_u64_eq(limits_grow_delta(&d, 200 * UT_MIB), 30 * UT_MIB);
        /* 1.015 * 10^6 is 1014999.99999999988 as a double. */
        d.high_ratio = 1.015;
        d.grow_ratio = 1.015;
        assert_errno_eq(tunables_validate(&d), 0);
        assert_u64_eq(limits_max_from_high(&d, 2000 * UT_MIB), 2030 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&d, 2030 * UT_MIB), 2000 * UT_MIB);
        assert_u64_eq(limits_next_max(&d, 2000 * UT_MIB), 2030 * UT_MIB);
}

/* With the defaults both branches meet at 100 MiB (100 * 1.08 = 100 + 8), so
 * a ">=" for ">" would go unseen; with a steeper ratio they part. */
static void the_thresholds_themselves_take_the_additive_branches(void **state) {
        Tunables t = defaults();

        t.high_ratio = 1.5;   /* 100 MiB: 108 MiB by the gap, 150 MiB by the ratio */
        t.grow_ratio = 1.5;
        assert_errno_eq(tunables_validate(&t), 0);

        assert_u64_eq(limits_max_from_high(&t, 100 * UT_MIB), 108 * UT_MIB);
        assert_u64_eq(limits_max_from_high(&t, 100 * UT_MIB + 2), 150 * UT_MIB + 3);
        /* The high_from_max threshold is max_from_high(100 MiB) = 108 MiB. */
        assert_u64_eq(limits_high_from_max(&t, 108 * UT_MIB), 100 * UT_MIB);
        assert_u64_eq(limits_high_from_max(&t, 108 * UT_MIB + 3), 72 * UT_MIB + 2);
        /* next_max: 20 MiB * 1.5 = 30 MiB = 20 MiB + 10 MiB, either way. */
        assert_u64_eq(limits_next_max(&t, 20 * UT_MIB), 30 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 10 * UT_MIB), 20 * UT_MIB);
        assert_u64_eq(limits_next_max(&t, 40 * UT_MIB), 60 * UT_MIB);
}

static void initial_limit_from_usage_is_the_page_rounded_shrink_target_with_full_margin(void **state) {
        Tunables t = defaults();
        static const uint64_t curs[] = { 0, 1, 4096, 12345678, 32 * UT_MIB, 100 * UT_MIB, 100 * UT_MIB + 1,
                                         500 * UT_MIB, 4096 * UT_MIB + 17, UINT64_MAX };

        assert_u64_eq(limits_initial_from_usage(&t, 32 * UT_MIB), 50 * UT_MIB);
        assert_u64_eq(limits_initial_from_usage(&t, 0), 18 * UT_MIB);
        assert_u64_eq(limits_initial_from_usage(&t, 500 * UT_MIB), 594 * UT_MIB);
        /* 1 byte: 8 MiB + 1, next_max 18 MiB + 1 -> one page above 18 MiB. */
        assert_u64_eq(limits_initial_from_usage(&t, 1), 18 * UT_MIB + PAGE);
        /* 12345678: test 20734286, next_max 31220046 = 7622.08 pages. */
        assert_u64_eq(limits_initial_from_usage(&t, 12345678), 7623 * PAGE);
        assert_u64_eq(limits_initial_from_usage(&t, UINT64_MAX), MAXB);
        for (size_t i = 0; i < sizeof curs / sizeof curs[0]; i++) {
                /* limits.h: "the shrink target with the full margin, rounded
                 * up to a page". */
                uint64_t init = limits_initial_from_usage(&t, curs[i]);
                assert_u64_eq(init % PAGE, 0);
                assert_u64_eq(init, limits_page_round_up(limits_shrink_target(&t, curs[i], 0)));
                Rational r = exp_shrink_target(curs[i], 0);
                check_rational("limits_initial_from_usage", init,
                               rat_int(page_up128(rat_floor(r))), (uint64_t) (rat_floor(r) >> 40) + PAGE);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(tunables_default_are_the_seeds_constants),
                cmocka_unit_test(max_from_high_adds_8_MiB_up_to_and_including_100_MiB),
                cmocka_unit_test(max_from_high_multiplies_by_1_08_above_100_MiB),
                cmocka_unit_test(high_from_max_subtracts_8_MiB_up_to_and_including_108_MiB),
                cmocka_unit_test(high_from_max_divides_by_1_08_above_108_MiB),
                cmocka_unit_test(high_from_max_clamps_to_zero_below_8_MiB_instead_of_underflowing),
                cmocka_unit_test(high_from_max_inverts_max_from_high),
                cmocka_unit_test(next_max_adds_10_MiB_up_to_100_MiB),
                cmocka_unit_test(next_max_multiplies_by_1_1_above_100_MiB),
                cmocka_unit_test(formulas_saturate_at_the_largest_page_instead_of_wrapping),
                cmocka_unit_test(max_from_high_and_next_max_saturate_where_a_double_rounds_to_2_64),
                cmocka_unit_test(page_rounding_rounds_to_4096_byte_multiples),
                cmocka_unit_test(page_round_up_saturates_at_the_largest_page_multiple),
                cmocka_unit_test(grow_delta_is_the_page_rounded_step_to_next_max),
                cmocka_unit_test(grow_delta_is_zero_at_the_top_and_never_wraps_the_limit),
                cmocka_unit_test(shrink_target_narrows_the_margin_with_each_quiet_check_down_to_a_tenth),
                cmocka_unit_test(shrink_target_follows_the_formulas_on_both_sides_of_100_MiB),
                cmocka_unit_test(shrink_target_saturates_for_huge_usage),
                cmocka_unit_test(shrink_decrease_lowers_max_to_the_target),
                cmocka_unit_test(shrink_schedule_from_64_MiB_at_32_MiB_usage_ends_at_41_MiB_and_no_lower),
                cmocka_unit_test(shrink_decrease_is_page_rounded_and_never_exceeds_max),
                cmocka_unit_test(shrink_decrease_is_zero_when_max_is_already_at_or_below_the_target),
                cmocka_unit_test(shrink_decrease_from_unlimited_lands_within_a_page_of_the_target),
                cmocka_unit_test(shrink_timeout_doubles_from_1_s_and_caps_at_60_s),
                cmocka_unit_test(shrink_timeout_follows_a_shortened_base),
                cmocka_unit_test(shrink_timeout_caps_instead_of_overflowing_for_huge_counts),
                cmocka_unit_test(tunables_validate_rejects_out_of_range_fields),
                cmocka_unit_test(tunables_validate_accepts_the_edges_of_each_range),
                cmocka_unit_test(tunables_that_validate_always_grow_a_limit),
                cmocka_unit_test(custom_tunables_move_the_branch_points),
                cmocka_unit_test(the_thresholds_themselves_take_the_additive_branches),
                cmocka_unit_test(initial_limit_from_usage_is_the_page_rounded_shrink_target_with_full_margin),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
