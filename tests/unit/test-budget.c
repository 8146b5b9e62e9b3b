/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host budget pool: partial grants, exact takes, clamped gives, a total
 * lowered under what is out, and 16 threads taking and giving at once. */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "unit-test.h"
#include "memcgd/budget.h"

#define T_TOTAL (1024 * UT_MIB)

static void check_state(Budget *b, uint64_t total, uint64_t granted) {
        assert_u64_eq(budget_total(b), total);
        assert_u64_eq(budget_granted(b), granted);
        assert_u64_eq(budget_free_bytes(b), granted >= total ? 0 : total - granted);
}

static void budget_take_grants_what_fits_and_partially_when_low(void **state) {
        Budget *b = budget_new(1000);
        assert_non_null(b);
        check_state(b, 1000, 0);

        assert_u64_eq(budget_take(b, 300), 300);
        check_state(b, 1000, 300);
        assert_u64_eq(budget_take(b, 700), 700);
        check_state(b, 1000, 1000);
        assert_u64_eq(budget_take(b, 1), 0);
        check_state(b, 1000, 1000);

        assert_u64_eq(budget_give(b, 100), 100);
        check_state(b, 1000, 900);
        /* Only 100 are free: a partial grant, not a refusal. */
        assert_u64_eq(budget_take(b, 250), 100);
        check_state(b, 1000, 1000);

        assert_null(budget_free(b));
}

static void budget_take_of_zero_grants_nothing_and_changes_nothing(void **state) {
        Budget *b = budget_new(1000);
        assert_non_null(b);

        assert_u64_eq(budget_take(b, 0), 0);
        check_state(b, 1000, 0);
        assert_u64_eq(budget_take(b, 1000), 1000);
        assert_u64_eq(budget_take(b, 0), 0);
        check_state(b, 1000, 1000);
        assert_errno_eq(budget_take_exact(b, 0), 0);
        check_state(b, 1000, 1000);
        assert_u64_eq(budget_give(b, 0), 0);
        check_state(b, 1000, 1000);

        budget_free(b);
}

static void budget_take_exact_takes_all_or_nothing(void **state) {
        Budget *b = budget_new(1000);
        assert_non_null(b);

        assert_errno_eq(budget_take_exact(b, 600), 0);
        check_state(b, 1000, 600);
        /* 400 free: 401 does not fit and must leave the pool untouched. */
        assert_errno_eq(budget_take_exact(b, 401), -ENOSPC);
        check_state(b, 1000, 600);
        assert_errno_eq(budget_take_exact(b, UINT64_MAX), -ENOSPC);
        check_state(b, 1000, 600);
        assert_errno_eq(budget_take_exact(b, 400), 0);
        check_state(b, 1000, 1000);
        assert_errno_eq(budget_take_exact(b, 1), -ENOSPC);
        check_state(b, 1000, 1000);

        budget_free(b);
}

static void budget_take_does_not_overflow_near_u64_max(void **state) {
        Budget *b = budget_new(UINT64_MAX);
        assert_non_null(b);

        assert_u64_eq(budget_take(b, 1), 1);
        /* granted + want wraps to 0 here: it must not look like it fits. */
        assert_errno_eq(budget_take_exact(b, UINT64_MAX), -ENOSPC);
        check_state(b, UINT64_MAX, 1);
        assert_u64_eq(budget_take(b, UINT64_MAX), UINT64_MAX - 1);
        check_state(b, UINT64_MAX, UINT64_MAX);
        assert_u64_eq(budget_take(b, UINT64_MAX), 0);
        assert_errno_eq(budget_take_exact(b, 1), -ENOSPC);
        assert_u64_eq(budget_give(b, UINT64_MAX), UINT64_MAX);
        check_state(b, UINT64_MAX, 0);

        budget_free(b);
}

static void budget_give_beyond_what_is_granted_is_clamped_and_never_goes_negative(void **state) {
        Budget *b = budget_new(1000);
        assert_non_null(b);

        assert_u64_eq(budget_give(b, 1), 0);
        check_state(b, 1000, 0);
        assert_u64_eq(budget_give(b, UINT64_MAX), 0);
        check_state(b, 1000, 0);

        assert_u64_eq(budget_take(b, 300), 300);
        assert_u64_eq(budget_give(b, 500), 300);
        check_state(b, 1000, 0);
        /* The pool is whole again: nothing was lost or invented. */
        assert_u64_eq(budget_take(b, 2000), 1000);
        check_state(b, 1000, 1000);

        budget_free(b);
}

static void budget_total_lowered_below_granted_keeps_grants_and_frees_nothing(void **state) {
        Budget *b = budget_new(1000);
        assert_non_null(b);

        assert_u64_eq(budget_take(b, 800), 800);
        budget_set_total(b, 500);
        /* Granted bytes stay granted; free is 0, not 500 - 800 wrapped. */
        check_state(b, 500, 800);
        assert_u64_eq(budget_take(b, 1), 0);
        assert_errno_eq(budget_take_exact(b, 1), -ENOSPC);
        check_state(b, 500, 800);

        /* Giving back 200 still leaves it over the total. */
        assert_u64_eq(budget_give(b, 200), 200);
        check_state(b, 500, 600);
        assert_u64_eq(budget_take(b, 10), 0);
        assert_u64_eq(budget_give(b, 200), 200);
        check_state(b, 500, 400);
        assert_u64_eq(budget_take(b, 1000), 100);
        check_state(b, 500, 500);

        budget_set_total(b, 2000);
        check_state(b, 2000, 500);
        assert_u64_eq(budget_take(b, 5000), 1500);
        budget_set_total(b, 0);
        check_state(b, 0, 2000);
        assert_u64_eq(budget_give(b, 2000), 2000);
        check_state(b, 0, 0);
        assert_u64_eq(budget_take(b, 1), 0);

        budget_free(b);
}

static void budget_free_accepts_null(void **state) {
        assert_null(budget_free(NULL));
}

/* ---- concurrency -------------------------------------------------------- */

#define N_THREADS 16
#define N_PAIRS 100000

typedef struct Worker {
        Budget *b;
        unsigned idx;
        uint64_t rng;
        uint64_t held;
        /* Failures are recorded here and asserted by the main thread:
         * cmocka's fail() longjmps and must not run on another thread. */
        char error[256];
} Worker;

static atomic_bool stop_checker;

static uint64_t xorshift(uint64_t *s) {
        uint64_t x = *s;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *s = x;
}

static void *worker_main(void *p) {
        Worker *w = p;

        for (unsigned i = 0; i < N_PAIRS && !w->error[0]; i++) {
                /* Up to an eighth of the pool each: 16 threads ask for up
                 * to twice what exists, so partial and zero grants happen. */
                uint64_t want = xorshift(&w->rng) % (T_TOTAL / 8 + 1);
                uint64_t got;

                if (xorshift(&w->rng) % 4 == 0) {
                        int r = budget_take_exact(w->b, want);
                        if (r != 0 && r != -ENOSPC)
                                snprintf(w->error, sizeof w->error,
                                         "thread %u: budget_take_exact(%" PRIu64 ") = %d", w->idx, want, r);
                        got = r == 0 ? want : 0;
                } else {
                        got = budget_take(w->b, want);
                        if (got > want)
                                snprintf(w->error, sizeof w->error,
                                         "thread %u: budget_take(%" PRIu64 ") granted %" PRIu64 ", more than asked",
                                         w->idx, want, got);
                }
                w->held += got;

                /* Give back a random part of what this thread holds: the
                 * pool has at least that much out, so all of it must be
                 * accepted. */
                uint64_t n = w->held == 0 ? 0 : xorshift(&w->rng) % (w->held + 1);
                uint64_t acc = budget_give(w->b, n);
                if (acc != n)
                        snprintf(w->error, sizeof w->error,
                                 "thread %u: budget_give(%" PRIu64 ") accepted %" PRIu64 " while holding %" PRIu64,
                                 w->idx, n, acc, w->held);
                w->held -= n;
        }
        return NULL;
}

typedef struct Checker {
        Budget *b;
        unsigned long samples;
        char error[256];
} Checker;

static void *checker_main(void *p) {
        Checker *c = p;

        /* do-while: at least one sample even if the workers finish first. */
        do {
                uint64_t g = budget_granted(c->b), f = budget_free_bytes(c->b), t = budget_total(c->b);
                if (g > T_TOTAL || f > T_TOTAL || t != T_TOTAL) {
                        snprintf(c->error, sizeof c->error,
                                 "sample %lu: granted %" PRIu64 ", free %" PRIu64 ", total %" PRIu64
                                 " (total is %" PRIu64 ")", c->samples, g, f, t, T_TOTAL);
                        break;
                }
                c->samples++;
        } while (!atomic_load(&stop_checker));
        return NULL;
}

static void budget_under_16_threads_of_take_and_give_never_exceeds_total_and_loses_nothing(void **state) {
        Budget *b = budget_new(T_TOTAL);
        Worker w[N_THREADS] = {};
        pthread_t th[N_THREADS], ch;
        Checker c = { .b = b };

        assert_non_null(b);
        atomic_store(&stop_checker, false);
        assert_int_equal(pthread_create(&ch, NULL, checker_main, &c), 0);
        for (unsigned i = 0; i < N_THREADS; i++) {
                w[i] = (Worker) { .b = b, .idx = i, .rng = 0x9e3779b97f4a7c15ULL * (i + 1) };
                assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        atomic_store(&stop_checker, true);
        assert_int_equal(pthread_join(ch, NULL), 0);

        uint64_t held = 0;
        for (unsigned i = 0; i < N_THREADS; i++) {
                if (w[i].error[0]) {
                        print_error("%s\n", w[i].error);
                        fail();
                }
                held += w[i].held;
        }
        if (c.error[0]) {
                print_error("checker: %s\n", c.error);
                fail();
        }
        assert_true(c.samples > 0);
        /* Everything out is held by somebody, and nobody holds more than
         * exists. */
        assert_true(held <= T_TOTAL);
        assert_u64_eq(budget_granted(b), held);
        assert_u64_eq(budget_free_bytes(b), T_TOTAL - held);

        for (unsigned i = 0; i < N_THREADS; i++)
                assert_u64_eq(budget_give(b, w[i].held), w[i].held);
        check_state(b, T_TOTAL, 0);
        assert_u64_eq(budget_take(b, UINT64_MAX), T_TOTAL);

        budget_free(b);
}

/* take_exact in fixed chunks of a tenth: at most ten can be out at once,
 * whatever the interleaving. */
#define CHUNK (T_TOTAL / 10)

typedef struct ExactWorker {
        Budget *b;
        atomic_int *out;
        atomic_int *max_out;
        unsigned long taken;
        char error[128];
} ExactWorker;

static void *exact_main(void *p) {
        ExactWorker *w = p;

        for (unsigned i = 0; i < N_PAIRS / 4; i++) {
                int r = budget_take_exact(w->b, CHUNK);
                if (r == -ENOSPC)
                        continue;
                if (r != 0) {
                        snprintf(w->error, sizeof w->error, "budget_take_exact = %d", r);
                        break;
                }
                int o = atomic_fetch_add(w->out, 1) + 1;
                int m = atomic_load(w->max_out);
                while (o > m && !atomic_compare_exchange_weak(w->max_out, &m, o))
                        ;
                w->taken++;
                atomic_fetch_sub(w->out, 1);
                if (budget_give(w->b, CHUNK) != CHUNK) {
                        snprintf(w->error, sizeof w->error, "budget_give(CHUNK) accepted less");
                        break;
                }
        }
        return NULL;
}

static void budget_take_exact_from_16_threads_never_hands_out_more_chunks_than_fit(void **state) {
        Budget *b = budget_new(T_TOTAL);
        atomic_int out = 0, max_out = 0;
        ExactWorker w[N_THREADS];
        pthread_t th[N_THREADS];
        unsigned long taken = 0;

        assert_non_null(b);
        for (unsigned i = 0; i < N_THREADS; i++) {
                w[i] = (ExactWorker) { .b = b, .out = &out, .max_out = &max_out };
                assert_int_equal(pthread_create(&th[i], NULL, exact_main, &w[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                if (w[i].error[0]) {
                        print_error("thread %u: %s\n", i, w[i].error);
                        fail();
                }
                taken += w[i].taken;
        }
        if (atomic_load(&max_out) > 10) {
                print_error("%d chunks of a tenth of the pool were out at once\n", atomic_load(&max_out));
                fail();
        }
        assert_true(taken > 0);
        check_state(b, T_TOTAL, 0);

        budget_free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(budget_take_grants_what_fits_and_partially_when_low),
                cmocka_unit_test(budget_take_of_zero_grants_nothing_and_changes_nothing),
                cmocka_unit_test(budget_take_exact_takes_all_or_nothing),
                cmocka_unit_test(budget_take_does_not_overflow_near_u64_max),
                cmocka_unit_test(budget_give_beyond_what_is_granted_is_clamped_and_never_goes_negative),
                cmocka_unit_test(budget_total_lowered_below_granted_keeps_grants_and_frees_nothing),
                cmocka_unit_test(budget_free_accepts_null),
                cmocka_unit_test(budget_under_16_threads_of_take_and_give_never_exceeds_total_and_loses_nothing),
                cmocka_unit_test(budget_take_exact_from_16_threads_never_hands_out_more_chunks_than_fit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
