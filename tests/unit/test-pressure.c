/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pressure levels (service/pressure.h) as the README's "Pressure and the
 * reclaim broker" documents them: critical = full >= 30 % of the interval,
 * medium = some >= 15 %, low = some >= 5 %, with GLib's warning-level
 * values 0/50/100/255; v1 pressure_level counts; the PSI trigger string;
 * and the hysteresis: a level rises at the first sample reaching it and
 * falls only after QuietTime without one, at most three rises per quiet
 * period. Times are exact: the tracker takes the clock as a parameter. */

#include <errno.h>

#include "unit-test.h"
#include "service/pressure.h"

#define SEC UINT64_C(1000000)
#define QUIET PRESSURE_QUIET_USEC_DEFAULT
/* Any monotonic time well after boot: the tracker reads 0 as "never". */
#define T0 (UINT64_C(1000) * SEC)

static void assert_level(PressureLevel got, PressureLevel want) {
        if (got != want) {
                print_error("level %s (%d), expected %s (%d)\n", pressure_level_to_string(got), (int) got,
                            pressure_level_to_string(want), (int) want);
                fail();
        }
}

static void psi_levels_switch_exactly_at_5_15_and_30_percent_of_a_one_second_interval(void **state) {
        const uint64_t e = SEC;

        assert_level(pressure_level_from_psi(0, 0, e), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(49999, 0, e), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(50000, 0, e), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(149999, 0, e), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(150000, 0, e), PRESSURE_MEDIUM);
        /* Critical is decided by "full" alone: "some" at 100 % with full
         * just under 30 % is still medium. */
        assert_level(pressure_level_from_psi(299999, 299999, e), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(e, 299999, e), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(300000, 300000, e), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_psi(e, e, e), PRESSURE_CRITICAL);
        /* full >= 30 % wins over a "some" below every other threshold. */
        assert_level(pressure_level_from_psi(0, 300000, e), PRESSURE_CRITICAL);
}

static void psi_thresholds_scale_with_the_interval_and_do_not_round_up(void **state) {
        /* The 2 s fallback window. */
        assert_level(pressure_level_from_psi(99999, 0, 2 * SEC), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(100000, 0, 2 * SEC), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(299999, 0, 2 * SEC), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(300000, 0, 2 * SEC), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(2 * SEC, 599999, 2 * SEC), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(2 * SEC, 600000, 2 * SEC), PRESSURE_CRITICAL);

        /* A sample a few usec late: 5 % of 1000003 is 50000.15, so 50000
         * is below it and 50001 above; likewise 15 % (150000.45) and 30 %
         * (300000.9). */
        assert_level(pressure_level_from_psi(50000, 0, 1000003), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(50001, 0, 1000003), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(150000, 0, 1000003), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(150001, 0, 1000003), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(300000, 300000, 1000003), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(300001, 300001, 1000003), PRESSURE_CRITICAL);

        /* A short interval: 1 usec of 20 is exactly 5 %. */
        assert_level(pressure_level_from_psi(1, 0, 20), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(1, 0, 21), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(3, 0, 20), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(6, 6, 20), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_psi(5, 5, 20), PRESSURE_MEDIUM);

        /* A long interval (an hour without a sample) still splits exactly. */
        assert_level(pressure_level_from_psi(180 * SEC - 1, 0, 3600 * SEC), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(180 * SEC, 0, 3600 * SEC), PRESSURE_LOW);
        assert_level(pressure_level_from_psi(3600 * SEC, 1080 * SEC, 3600 * SEC), PRESSURE_CRITICAL);
}

static void psi_of_an_empty_interval_is_none_and_counters_ahead_of_the_clock_saturate(void **state) {
        assert_level(pressure_level_from_psi(0, 0, 0), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(SEC, SEC, 0), PRESSURE_NONE);
        assert_level(pressure_level_from_psi(UINT64_MAX, UINT64_MAX, 0), PRESSURE_NONE);

        /* Stall counters a little ahead of our clock: a share of 100 %. */
        assert_level(pressure_level_from_psi(SEC + 7, 0, SEC), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(SEC + 7, SEC + 7, SEC), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_psi(UINT64_MAX, 0, 1), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_psi(UINT64_MAX, UINT64_MAX, 1), PRESSURE_CRITICAL);
}

static void v1_pressure_level_counts_name_the_level_and_sums_cap_at_critical(void **state) {
        assert_level(pressure_level_from_v1_count(0), PRESSURE_NONE);
        /* One vmpressure event adds 1, 2 or 3 (the kernel's levels are
         * inclusive and the eventfd is registered for all three). */
        assert_level(pressure_level_from_v1_count(1), PRESSURE_LOW);
        assert_level(pressure_level_from_v1_count(2), PRESSURE_MEDIUM);
        assert_level(pressure_level_from_v1_count(3), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_v1_count(4), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_v1_count(300), PRESSURE_CRITICAL);
        assert_level(pressure_level_from_v1_count(UINT64_MAX), PRESSURE_CRITICAL);
}

static void levels_carry_glib_warning_level_values_and_names(void **state) {
        /* GMemoryMonitorWarningLevel: LOW 50, MEDIUM 100, CRITICAL 255. */
        assert_int_equal(PRESSURE_NONE, 0);
        assert_int_equal(PRESSURE_LOW, 50);
        assert_int_equal(PRESSURE_MEDIUM, 100);
        assert_int_equal(PRESSURE_CRITICAL, 255);
        assert_true(PRESSURE_NONE < PRESSURE_LOW && PRESSURE_LOW < PRESSURE_MEDIUM &&
                    PRESSURE_MEDIUM < PRESSURE_CRITICAL);

        assert_string_equal(pressure_level_to_string(PRESSURE_NONE), "none");
        assert_string_equal(pressure_level_to_string(PRESSURE_LOW), "low");
        assert_string_equal(pressure_level_to_string(PRESSURE_MEDIUM), "medium");
        assert_string_equal(pressure_level_to_string(PRESSURE_CRITICAL), "critical");
        assert_null(pressure_level_to_string((PressureLevel) 1));
        assert_null(pressure_level_to_string((PressureLevel) 254));

        assert_string_equal(reclaim_cause_to_string(RECLAIM_CAUSE_GROWTH_DENIED), "growth-denied");
        assert_string_equal(reclaim_cause_to_string(RECLAIM_CAUSE_PRESSURE), "pressure");
        assert_null(reclaim_cause_to_string(_RECLAIM_CAUSE_MAX));
        assert_null(reclaim_cause_to_string((ReclaimCause) -1));

        assert_string_equal(pressure_source_to_string(PRESSURE_SOURCE_NONE), "none");
        assert_string_equal(pressure_source_to_string(PRESSURE_SOURCE_PSI), "psi");
        assert_string_equal(pressure_source_to_string(PRESSURE_SOURCE_V1_LEVEL), "v1");
        assert_null(pressure_source_to_string(_PRESSURE_SOURCE_MAX));
}

static void psi_trigger_is_5_percent_of_1_s_or_of_the_2_s_fallback(void **state) {
        char buf[64];

        assert_u64_eq(PRESSURE_TRIGGER_WINDOW_USEC, SEC);
        assert_u64_eq(PRESSURE_TRIGGER_WINDOW_FALLBACK_USEC, 2 * SEC);
        assert_u64_eq(PRESSURE_SAMPLE_USEC, SEC);
        assert_u64_eq(PRESSURE_QUIET_USEC_DEFAULT, 5 * SEC);

        memset(buf, 'x', sizeof(buf));
        assert_int_equal(pressure_trigger_format(PRESSURE_TRIGGER_WINDOW_USEC, buf, sizeof(buf)), 18);
        /* The watcher writes len + 1 bytes: the NUL must be there. */
        assert_memory_equal(buf, "some 50000 1000000", 19);

        memset(buf, 'x', sizeof(buf));
        assert_int_equal(pressure_trigger_format(PRESSURE_TRIGGER_WINDOW_FALLBACK_USEC, buf, sizeof(buf)), 19);
        assert_memory_equal(buf, "some 100000 2000000", 20);

        /* Exactly large enough (text and NUL), and one byte short. */
        assert_int_equal(pressure_trigger_format(SEC, buf, 19), 18);
        assert_string_equal(buf, "some 50000 1000000");
        assert_errno_eq(pressure_trigger_format(SEC, buf, 18), -ENOBUFS);
        assert_errno_eq(pressure_trigger_format(SEC, buf, 1), -ENOBUFS);
}

static void tracker_starts_at_none_with_the_default_quiet_time(void **state) {
        PressureTracker t;

        memset(&t, 0x5a, sizeof(t));
        pressure_tracker_init(&t, 0);
        assert_u64_eq(t.quiet_usec, 5 * SEC);
        assert_level(t.level, PRESSURE_NONE);
        assert_u64_eq(pressure_tracker_next_drop(&t), UINT64_MAX);
        assert_false(pressure_tracker_tick(&t, T0));
        assert_false(pressure_tracker_sample(&t, PRESSURE_NONE, T0));
        assert_level(t.level, PRESSURE_NONE);
        assert_u64_eq(pressure_tracker_next_drop(&t), UINT64_MAX);

        pressure_tracker_init(&t, 3 * SEC);
        assert_u64_eq(t.quiet_usec, 3 * SEC);
        assert_level(t.level, PRESSURE_NONE);
}

static void level_rises_at_the_first_sample_reaching_it(void **state) {
        PressureTracker t;

        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, T0));
        assert_level(t.level, PRESSURE_LOW);
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + QUIET);
        /* The same level again is no change; a lower one does not lower. */
        assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, T0 + SEC));
        assert_false(pressure_tracker_sample(&t, PRESSURE_NONE, T0 + 2 * SEC));
        assert_level(t.level, PRESSURE_LOW);
        assert_true(pressure_tracker_sample(&t, PRESSURE_MEDIUM, T0 + 3 * SEC));
        assert_level(t.level, PRESSURE_MEDIUM);
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 3 * SEC + QUIET);
        assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, T0 + 3 * SEC + 1));
        assert_level(t.level, PRESSURE_MEDIUM);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0 + 3 * SEC + 2));
        assert_level(t.level, PRESSURE_CRITICAL);
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 3 * SEC + 2 + QUIET);

        /* From none straight to critical is one change, not three. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0));
        assert_level(t.level, PRESSURE_CRITICAL);
        assert_false(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0 + 1));
        assert_false(pressure_tracker_tick(&t, T0 + 2));
}

static void level_falls_exactly_when_the_quiet_time_passes_without_a_sample_reaching_it(void **state) {
        PressureTracker t;

        /* Critical alone: it refreshes medium and low too, so the fall is
         * straight to none, one quiet time later and not a usec before. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0));
        assert_false(pressure_tracker_tick(&t, T0 + QUIET - 1));
        assert_level(t.level, PRESSURE_CRITICAL);
        assert_true(pressure_tracker_tick(&t, T0 + QUIET));
        assert_level(t.level, PRESSURE_NONE);
        assert_u64_eq(pressure_tracker_next_drop(&t), UINT64_MAX);
        assert_false(pressure_tracker_tick(&t, T0 + 100 * QUIET));

        /* Critical, then medium 2 s later, then low 4 s later: the level
         * steps down one level per quiet time of each. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0));
        assert_false(pressure_tracker_sample(&t, PRESSURE_MEDIUM, T0 + 2 * SEC));
        assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, T0 + 4 * SEC));
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + QUIET);
        assert_false(pressure_tracker_tick(&t, T0 + QUIET - 1));
        assert_true(pressure_tracker_tick(&t, T0 + QUIET));
        assert_level(t.level, PRESSURE_MEDIUM);
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 2 * SEC + QUIET);
        assert_false(pressure_tracker_tick(&t, T0 + 2 * SEC + QUIET - 1));
        assert_true(pressure_tracker_tick(&t, T0 + 2 * SEC + QUIET));
        assert_level(t.level, PRESSURE_LOW);
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 4 * SEC + QUIET);
        assert_false(pressure_tracker_tick(&t, T0 + 4 * SEC + QUIET - 1));
        assert_true(pressure_tracker_tick(&t, T0 + 4 * SEC + QUIET));
        assert_level(t.level, PRESSURE_NONE);
        assert_u64_eq(pressure_tracker_next_drop(&t), UINT64_MAX);

        /* A tick late by several quiet times lands on the level still held
         * then, skipping the ones that ran out meanwhile. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0));
        assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, T0 + 4 * SEC));
        assert_true(pressure_tracker_tick(&t, T0 + 4 * SEC + QUIET - 1));
        assert_level(t.level, PRESSURE_LOW);

        /* A "none" sample after the quiet time lowers the level as a tick
         * would; the fall is reported once. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_MEDIUM, T0));
        assert_false(pressure_tracker_sample(&t, PRESSURE_NONE, T0 + QUIET - 1));
        assert_true(pressure_tracker_sample(&t, PRESSURE_NONE, T0 + QUIET));
        assert_level(t.level, PRESSURE_NONE);
        assert_false(pressure_tracker_tick(&t, T0 + QUIET + 1));

        /* A custom QuietTime is the one used. */
        pressure_tracker_init(&t, 2 * SEC);
        assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, T0));
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 2 * SEC);
        assert_false(pressure_tracker_tick(&t, T0 + 2 * SEC - 1));
        assert_true(pressure_tracker_tick(&t, T0 + 2 * SEC));
}

static void each_sample_reaching_the_level_restarts_its_quiet_time(void **state) {
        PressureTracker t;

        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, T0));
        assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, T0 + QUIET - 1));
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 2 * QUIET - 1);
        assert_false(pressure_tracker_tick(&t, T0 + QUIET));
        assert_false(pressure_tracker_tick(&t, T0 + 2 * QUIET - 2));
        assert_level(t.level, PRESSURE_LOW);
        assert_true(pressure_tracker_tick(&t, T0 + 2 * QUIET - 1));
        assert_level(t.level, PRESSURE_NONE);

        /* A critical sample also restarts medium's quiet time. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_MEDIUM, T0));
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0 + 4 * SEC));
        assert_true(pressure_tracker_tick(&t, T0 + 4 * SEC + QUIET));
        assert_level(t.level, PRESSURE_NONE);
}

static void a_workload_hovering_at_a_boundary_does_not_make_the_level_flap(void **state) {
        PressureTracker t;
        unsigned changes = 0;
        uint64_t now = T0;

        /* One sample a second for a minute, alternating above and below
         * the 5 % line: one rise, then low the whole minute. */
        pressure_tracker_init(&t, 0);
        for (unsigned i = 0; i < 60; i++, now += PRESSURE_SAMPLE_USEC) {
                changes += pressure_tracker_sample(&t, i % 2 ? PRESSURE_NONE : PRESSURE_LOW, now);
                assert_level(t.level, PRESSURE_LOW);
        }
        assert_int_equal(changes, 1);
        /* The last low sample was at T0 + 58 s. */
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 58 * SEC + QUIET);

        /* Hovering at the medium line, below it four samples in five. */
        changes = 0;
        now = T0;
        pressure_tracker_init(&t, 0);
        for (unsigned i = 0; i < 60; i++, now += PRESSURE_SAMPLE_USEC) {
                changes += pressure_tracker_sample(&t, i % 5 ? PRESSURE_LOW : PRESSURE_MEDIUM, now);
                assert_level(t.level, PRESSURE_MEDIUM);
                changes += pressure_tracker_tick(&t, now + PRESSURE_SAMPLE_USEC / 2);
        }
        assert_int_equal(changes, 1);
        /* Medium was last seen at T0 + 55 s, low at T0 + 59 s. */
        assert_u64_eq(pressure_tracker_next_drop(&t), T0 + 55 * SEC + QUIET);
        assert_true(pressure_tracker_tick(&t, T0 + 55 * SEC + QUIET));
        assert_level(t.level, PRESSURE_LOW);
        assert_true(pressure_tracker_tick(&t, T0 + 59 * SEC + QUIET));
        assert_level(t.level, PRESSURE_NONE);

        /* Samples reaching the line just less often than QuietTime: the
         * level does fall in between, each time exactly at the quiet time. */
        changes = 0;
        pressure_tracker_init(&t, 0);
        for (uint64_t s = T0; s < T0 + 60 * SEC; s += QUIET + SEC) {
                assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, s));
                assert_false(pressure_tracker_tick(&t, s + QUIET - 1));
                assert_true(pressure_tracker_tick(&t, s + QUIET));
                changes += 2;
        }
        assert_int_equal(changes, 20);
}

/* A 64-bit LCG (Knuth's MMIX constants): the same sample stream on every
 * run, so a failure is reproducible. */
static uint64_t lcg(uint64_t *s) {
        *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return *s >> 33;
}

/* Mostly none, with a level above it one sample in 24, so that levels
 * both rise and run out their quiet time many times over. */
static PressureLevel random_sample(uint64_t *s) {
        static const PressureLevel pick[3] = { PRESSURE_LOW, PRESSURE_MEDIUM, PRESSURE_CRITICAL };
        uint64_t v = lcg(s);
        return v % 24 == 0 ? pick[(v / 24) % 3] : PRESSURE_NONE;
}

static void level_rises_at_most_three_times_per_quiet_period(void **state) {
        PressureTracker t;
        static uint64_t rises[20000];
        uint64_t seed = 42;
        size_t n = 0;
        unsigned falls = 0, triples = 0;

        /* The scripted worst case: low, medium, critical one second apart
         * is three rises; the next one can only come once critical's
         * quiet time (from T0 + 2 s) has run out, at T0 + 7 s. */
        pressure_tracker_init(&t, 0);
        assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, T0));
        assert_true(pressure_tracker_sample(&t, PRESSURE_MEDIUM, T0 + SEC));
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0 + 2 * SEC));
        for (uint64_t now = T0 + 2 * SEC + 1; now < T0 + 2 * SEC + QUIET; now += SEC / 10) {
                assert_false(pressure_tracker_tick(&t, now));
                assert_false(pressure_tracker_sample(&t, PRESSURE_LOW, now));
        }
        /* Low was refreshed at T0 + 6.9 s: the fall is to low. */
        assert_true(pressure_tracker_tick(&t, T0 + 2 * SEC + QUIET));
        assert_level(t.level, PRESSURE_LOW);
        assert_true(pressure_tracker_sample(&t, PRESSURE_CRITICAL, T0 + 2 * SEC + QUIET));
        assert_level(t.level, PRESSURE_CRITICAL);

        /* A random stream, one sample every 100 ms and a tick every 10 ms
         * in between, for 30 simulated minutes: any four consecutive rises
         * span at least one quiet time. */
        pressure_tracker_init(&t, 0);
        for (uint64_t i = 0; i < 30 * 60 * 100; i++) {
                uint64_t now = T0 + i * (SEC / 100);
                PressureLevel before = t.level;
                bool changed = i % 10 == 0 ? pressure_tracker_sample(&t, random_sample(&seed), now)
                                           : pressure_tracker_tick(&t, now);
                assert_int_equal(changed, t.level != before);
                if (changed && t.level > before) {
                        assert_true(n < sizeof(rises) / sizeof(rises[0]));
                        rises[n++] = now;
                } else if (changed)
                        falls++;
        }
        /* The stream does exercise the bound: many rises and falls, and
         * three rises within one quiet time more than once. */
        assert_true(n > 100);
        assert_true(falls > 100);
        for (size_t i = 0; i + 2 < n; i++)
                triples += rises[i + 2] < rises[i] + QUIET;
        assert_true(triples >= 2);
        for (size_t i = 0; i + 3 < n; i++)
                if (rises[i + 3] < rises[i] + QUIET) {
                        print_error("rises %zu..%zu at +%" PRIu64 " and +%" PRIu64 " usec: four within %" PRIu64
                                    " usec\n", i, i + 3, rises[i] - T0, rises[i + 3] - T0, (uint64_t) QUIET);
                        fail();
                }
}

static void a_quiet_time_near_the_largest_duration_holds_the_level_instead_of_wrapping(void **state) {
        PressureTracker t;

        /* QuietTime=5124095576h: parse_duration_usec() accepts it (just
         * under 2^64 usec); the sum with the sample time must not wrap. */
        pressure_tracker_init(&t, UINT64_C(18446744073600000000));
        assert_true(pressure_tracker_sample(&t, PRESSURE_LOW, T0));
        assert_level(t.level, PRESSURE_LOW);
        assert_false(pressure_tracker_tick(&t, T0 + 3600 * SEC));
        assert_level(t.level, PRESSURE_LOW);
        assert_true(pressure_tracker_next_drop(&t) > T0 + UINT64_C(100) * 365 * 86400 * SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(psi_levels_switch_exactly_at_5_15_and_30_percent_of_a_one_second_interval),
                cmocka_unit_test(psi_thresholds_scale_with_the_interval_and_do_not_round_up),
                cmocka_unit_test(psi_of_an_empty_interval_is_none_and_counters_ahead_of_the_clock_saturate),
                cmocka_unit_test(v1_pressure_level_counts_name_the_level_and_sums_cap_at_critical),
                cmocka_unit_test(levels_carry_glib_warning_level_values_and_names),
                cmocka_unit_test(psi_trigger_is_5_percent_of_1_s_or_of_the_2_s_fallback),
                cmocka_unit_test(tracker_starts_at_none_with_the_default_quiet_time),
                cmocka_unit_test(level_rises_at_the_first_sample_reaching_it),
                cmocka_unit_test(level_falls_exactly_when_the_quiet_time_passes_without_a_sample_reaching_it),
                cmocka_unit_test(each_sample_reaching_the_level_restarts_its_quiet_time),
                cmocka_unit_test(a_workload_hovering_at_a_boundary_does_not_make_the_level_flap),
                cmocka_unit_test(level_rises_at_most_three_times_per_quiet_period),
                cmocka_unit_test(a_quiet_time_near_the_largest_duration_holds_the_level_instead_of_wrapping),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
