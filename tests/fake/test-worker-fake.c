/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A worker on a fake cgroupfs tree: a rise of the high counter in
 * memory.events raises memory.max and memory.high by exactly the seed's
 * step, and the shrink timer brings them back toward usage in the seed's
 * steps. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <cmocka.h>

#include "fake-tree.h"
#include "memcgd/engine.h"
#include "memcgd/limits.h"

#define MIB_ 1048576ULL

typedef struct Fixture {
        char root[256];
        Engine *e;
        Tunables t;
} Fixture;

static int setup_engine_budget(Fixture *f, uint64_t base_usec, uint64_t max_usec, uint64_t budget) {
        EngineConfig cfg;
        MemcgError err = {};

        snprintf(f->root, sizeof(f->root), "/tmp/memcgd-fake-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        engine_config_init_default(&cfg);
        cfg.tunables.shrink_base_usec = base_usec;
        cfg.tunables.shrink_max_usec = max_usec;
        cfg.budget_bytes = budget;
        cfg.root = f->root;
        f->t = cfg.tunables;
        return engine_new(&cfg, &f->e, &err);
}

static int setup_engine(Fixture *f, uint64_t base_usec, uint64_t max_usec) {
        return setup_engine_budget(f, base_usec, max_usec, 1024 * MIB_);
}

static void teardown(Fixture *f) {
        char cmd[300];
        engine_free(f->e);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        (void) !system(cmd);
}

/* Waits up to timeout_ms for an event of `type` (and reason, for limit
 * changes); returns it in *ret. */
static bool wait_event(Engine *e, EngineEventType type, int reason, int timeout_ms, EngineEvent *ret) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        for (int waited = 0; waited <= timeout_ms; waited += 10) {
                EngineEvent ev;
                while (engine_pop_event(e, &ev) > 0) {
                        if (ev.type == type && (reason < 0 || (int) ev.reason == reason)) {
                                *ret = ev;
                                return true;
                        }
                        engine_event_done(&ev);
                }
                (void) poll(&p, 1, 10);
        }
        return false;
}

static void monitor(Fixture *f, const char *cg, uint64_t limit) {
        MonitorRequest req = { .path = cg, .initial_limit = limit, .cookie = 7 };
        MemcgError err = {};
        EngineEvent ev;
        bool already = true;

        assert_int_equal(engine_monitor(f->e, &req, &already, &err), 0);
        assert_false(already);
        assert_true(wait_event(f->e, ENGINE_EVENT_REQUEST_DONE, -1, 2000, &ev));
        assert_int_equal(ev.cookie, 7);
        assert_int_equal(ev.error.code, MEMCG_OK);
        engine_event_done(&ev);
}

static void test_monitor_writes_max_then_the_matching_high(void **state) {
        Fixture f = {};
        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/a", 20 * MIB_), 0);
        monitor(&f, "/a", 64 * MIB_);
        assert_int_equal(fake_read(f.root, "/a", "memory.max"), 64 * MIB_);
        assert_int_equal(fake_read(f.root, "/a", "memory.high"), 56 * MIB_);
        assert_int_equal(engine_budget_granted(f.e), 64 * MIB_);
        teardown(&f);
}

static void test_a_high_breach_raises_both_limits_by_one_seed_step(void **state) {
        Fixture f = {};
        EngineEvent ev;

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/a", 20 * MIB_), 0);
        /* A breach counted before Monitor must not count. */
        assert_int_equal(fake_events(f.root, "/a", 5, 0, 0, 0), 0);
        monitor(&f, "/a", 64 * MIB_);

        /* Usage reaches the high line (56 MiB), the counter rises. */
        assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", 56 * MIB_), 0);
        assert_int_equal(fake_events(f.root, "/a", 6, 0, 0, 0), 0);
        assert_true(wait_event(f.e, ENGINE_EVENT_LIMIT_CHANGED, LIMIT_REASON_GROW, 2000, &ev));
        /* 64 MiB < 100 MiB: next_max = 64 + 10 MiB; high = max - 8 MiB. */
        assert_int_equal(ev.old_max, 64 * MIB_);
        assert_int_equal(ev.new_max, 74 * MIB_);
        assert_int_equal(ev.new_high, 66 * MIB_);
        engine_event_done(&ev);
        assert_int_equal(fake_read(f.root, "/a", "memory.max"), 74 * MIB_);
        assert_int_equal(fake_read(f.root, "/a", "memory.high"), 66 * MIB_);
        assert_int_equal(engine_budget_granted(f.e), 74 * MIB_);

        /* A counter rise while usage is far below the line (a throttle
         * count from before the raise) is not a breach. */
        assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", 40 * MIB_), 0);
        assert_int_equal(fake_events(f.root, "/a", 7, 0, 0, 0), 0);
        assert_false(wait_event(f.e, ENGINE_EVENT_LIMIT_CHANGED, LIMIT_REASON_GROW, 300, &ev));
        assert_int_equal(fake_read(f.root, "/a", "memory.max"), 74 * MIB_);

        /* Above 100 MiB the steps are ratios: from 110 MiB, next_max =
         * 121 MiB, high = 121 MiB / 1.08. Drive it there breach by breach. */
        uint64_t max = 74 * MIB_, count = 7;
        while (max < 110 * MIB_) {
                uint64_t high = fake_read(f.root, "/a", "memory.high");
                assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", (unsigned long long) high),
                                 0);
                assert_int_equal(fake_events(f.root, "/a", ++count, 0, 0, 0), 0);
                assert_true(wait_event(f.e, ENGINE_EVENT_LIMIT_CHANGED, LIMIT_REASON_GROW, 2000, &ev));
                uint64_t step = max < 100 * MIB_ ? 10 * MIB_ : ((max * 11 / 10 - max + 4095) & ~UINT64_C(4095));
                assert_int_equal(ev.old_max, max);
                assert_int_equal(ev.new_max, max + step);
                max = ev.new_max;
                uint64_t want_high = max > 108 * MIB_ ? (uint64_t) ((long double) max / 1.08L) : max - 8 * MIB_;
                assert_int_equal(ev.new_high, want_high);
                engine_event_done(&ev);
        }
        teardown(&f);
}

static void test_the_shrink_timer_lowers_limits_in_the_seed_steps(void **state) {
        Fixture f = {};
        EngineEvent ev;

        /* 20 ms doubling to 160 ms: ten checks in about 1.5 s. */
        assert_int_equal(setup_engine(&f, 20 * 1000, 160 * 1000), 0);
        assert_int_equal(fake_cgroup(f.root, "/s", 32 * MIB_), 0);
        monitor(&f, "/s", 200 * MIB_);

        /* Usage 32 MiB: test = 40 MiB, next_max(test) = 50 MiB, so the
         * target is 40 MiB + 10 MiB * frac with frac = 1, 1, 1/2, 1/3 ...
         * down to the 0.1 floor: 41 MiB. */
        uint64_t max = 200 * MIB_;
        unsigned seen = 0;
        for (unsigned n = 0; n <= 14; n++) {
                long double frac = n == 0 ? 1.0L : 1.0L / n;
                if (frac < 0.1L)
                        frac = 0.1L;
                uint64_t target = 40 * MIB_ + (uint64_t) (10.0L * MIB_ * frac);
                if (target >= max)
                        continue;
                uint64_t dec = (max - target + 4095) & ~UINT64_C(4095);
                assert_true(wait_event(f.e, ENGINE_EVENT_LIMIT_CHANGED, LIMIT_REASON_SHRINK, 3000, &ev));
                assert_int_equal(ev.old_max, max);
                assert_int_equal(ev.new_max, max - dec);
                max = ev.new_max;
                engine_event_done(&ev);
                seen++;
        }
        assert_true(seen >= 8);
        assert_int_equal(fake_read(f.root, "/s", "memory.max"), max);
        /* The walk went from nine digits to eight: each write left the
         * file holding its value alone, no digit of a longer one behind
         * (a regular file keeps what a write does not cover). */
        char text[64], want[32];
        snprintf(want, sizeof(want), "%llu", (unsigned long long) max);
        assert_string_equal(fake_read_text(f.root, "/s", "memory.max", text, sizeof(text)), want);
        snprintf(want, sizeof(want), "%llu", (unsigned long long) limits_high_from_max(&f.t, max));
        assert_string_equal(fake_read_text(f.root, "/s", "memory.high", text, sizeof(text)), want);
        /* 41 MiB, rounded to pages: the floor of the margin. */
        assert_true(max >= 41 * MIB_ - 4096 && max <= 41 * MIB_ + 4096);
        assert_int_equal(engine_budget_granted(f.e), max);
        /* And no lower: nothing more comes. */
        assert_false(wait_event(f.e, ENGINE_EVENT_LIMIT_CHANGED, LIMIT_REASON_SHRINK, 500, &ev));

        CgroupStats st;
        MemcgError err = {};
        assert_int_equal(engine_get_stats(f.e, "/s", &st, &err), 0);
        assert_true(st.monitored);
        assert_true(st.no_increase_count >= 10);
        assert_int_equal(st.values[STAT_LIMIT_DECREASES], seen);
        assert_int_equal(st.values[STAT_GRANTED_BYTES], max);
        teardown(&f);
}

static void test_unmonitor_restores_the_limits_from_before(void **state) {
        Fixture f = {};
        EngineEvent ev;
        MemcgError err = {};

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/u", 10 * MIB_), 0);
        assert_int_equal(fake_write(f.root, "/u", "memory.max", "%llu\n", 500 * MIB_), 0);
        assert_int_equal(fake_write(f.root, "/u", "memory.high", "max\n"), 0);
        monitor(&f, "/u", 64 * MIB_);
        assert_int_equal(engine_unmonitor(f.e, "/u", 9, &err), 0);
        assert_true(wait_event(f.e, ENGINE_EVENT_STOPPED, -1, 2000, &ev));
        assert_int_equal(ev.stop_reason, STOP_REASON_UNMONITORED);
        engine_event_done(&ev);
        assert_int_equal(fake_read(f.root, "/u", "memory.max"), 500 * MIB_);
        assert_int_equal(fake_read(f.root, "/u", "memory.high"), UINT64_MAX);
        assert_int_equal(engine_budget_granted(f.e), 0);
        assert_false(engine_is_monitored(f.e, "/u"));
        teardown(&f);
}

static void test_bad_requests_get_their_documented_errors(void **state) {
        Fixture f = {};
        MemcgError err;
        bool already, deferred;

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/b", 100 * MIB_), 0);

        const struct {
                const char *path;
                uint64_t limit;
                MemcgErrorCode code;
        } cases[] = {
                { "relative", 64 * MIB_, MEMCG_ERROR_INVALID_PATH },
                { "/b/../b", 64 * MIB_, MEMCG_ERROR_INVALID_PATH },
                { "/", 64 * MIB_, MEMCG_ERROR_INVALID_PATH },
                { "/nope", 64 * MIB_, MEMCG_ERROR_NO_SUCH_CGROUP },
                { "/b/memory.max", 64 * MIB_, MEMCG_ERROR_NOT_MEMCG },
                { "/b", 64 * MIB_, MEMCG_ERROR_LIMIT_BELOW_USAGE },
                { "/b", 4096, MEMCG_ERROR_LIMIT_OUT_OF_RANGE },
                { "/b", UINT64_MAX, MEMCG_ERROR_LIMIT_OUT_OF_RANGE },
                { "/b", 2048 * MIB_, MEMCG_ERROR_BUDGET_EXCEEDED },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                MonitorRequest req = { .path = cases[i].path, .initial_limit = cases[i].limit };
                err = (MemcgError) {};
                assert_true(engine_monitor(f.e, &req, &already, &err) < 0);
                if (err.code != cases[i].code)
                        fail_msg("case %zu (%s, %llu): got %s: %s", i, cases[i].path,
                                 (unsigned long long) cases[i].limit, memcg_error_name(err.code), err.message);
                assert_non_null(strstr(err.message, cases[i].path[0] == '/' ? cases[i].path : "relative"));
        }
        err = (MemcgError) {};
        assert_true(engine_unmonitor(f.e, "/b", 0, &err) < 0);
        assert_int_equal(err.code, MEMCG_ERROR_NOT_MONITORED);
        err = (MemcgError) {};
        assert_true(engine_set_initial_limit(f.e, "/b", 0, 0, &deferred, &err) < 0);
        assert_int_equal(err.code, MEMCG_ERROR_LIMIT_OUT_OF_RANGE);
        /* Remembered for a later Monitor(cgroup, 0). */
        assert_int_equal(engine_set_initial_limit(f.e, "/b", 300 * MIB_, 0, &deferred, &err), 0);
        assert_true(deferred);
        assert_int_equal(engine_remembered_limit(f.e, "/b"), 300 * MIB_);
        monitor(&f, "/b", 0);
        assert_int_equal(fake_read(f.root, "/b", "memory.max"), 300 * MIB_);
        assert_int_equal(engine_budget_granted(f.e), 300 * MIB_);
        teardown(&f);
}

static void test_removing_the_directory_ends_the_worker(void **state) {
        Fixture f = {};
        EngineEvent ev;
        char cmd[400];

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/r", 10 * MIB_), 0);
        monitor(&f, "/r", 64 * MIB_);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s/r'", f.root);
        assert_int_equal(system(cmd), 0);
        assert_true(wait_event(f.e, ENGINE_EVENT_STOPPED, -1, 3000, &ev));
        assert_int_equal(ev.stop_reason, STOP_REASON_REMOVED);
        engine_event_done(&ev);
        assert_int_equal(engine_budget_granted(f.e), 0);
        assert_int_equal(engine_monitored_count(f.e), 0);
        teardown(&f);
}

/* Monitor, then at once Unmonitor, while usage jumps above the start
 * limit so that the worker's start mostly fails: whichever way each round
 * goes, the Unmonitor is answered before the worker's STOPPED event. */
static void test_an_unmonitor_racing_a_failing_start_is_answered(void **state) {
        Fixture f = {};
        MemcgError err = {};
        unsigned lost = 0, failed_starts = 0, rounds = 0;

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/a", 10 * MIB_), 0);
        for (uint64_t i = 0; i < 200; i++) {
                uint64_t mcookie = 2 * i + 1, ucookie = 2 * i + 2;
                MonitorRequest req = { .path = "/a", .initial_limit = 64 * MIB_, .cookie = mcookie };
                bool already = false, unmon_done = false, stopped = false;

                assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", 10 * MIB_), 0);
                assert_int_equal(engine_monitor(f.e, &req, &already, &err), 0);
                assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", 100 * MIB_), 0);
                if (engine_unmonitor(f.e, "/a", ucookie, &err) < 0) {
                        /* Already stopped (start failed): nothing to answer,
                         * but wait for it to be gone. */
                        assert_int_equal(err.code, MEMCG_ERROR_NOT_MONITORED);
                        ucookie = 0;
                }
                rounds++;
                struct pollfd p = { .fd = engine_event_fd(f.e), .events = POLLIN };
                for (int t = 0; t < 300 && !stopped; t++) {
                        EngineEvent ev;
                        while (engine_pop_event(f.e, &ev) > 0) {
                                if (ev.type == ENGINE_EVENT_REQUEST_DONE && ev.cookie == mcookie &&
                                    ev.error.code != MEMCG_OK)
                                        failed_starts++;
                                if (ev.type == ENGINE_EVENT_REQUEST_DONE && ev.cookie == ucookie)
                                        unmon_done = true;
                                if (ev.type == ENGINE_EVENT_STOPPED)
                                        stopped = true;
                                engine_event_done(&ev);
                        }
                        if (!stopped)
                                (void) poll(&p, 1, 10);
                }
                assert_true(stopped);
                if (ucookie && !unmon_done)
                        lost++;
        }
        printf("%u rounds, %u starts failed, %u Unmonitor requests unanswered\n", rounds, failed_starts, lost);
        assert_int_equal(lost, 0);
        assert_int_equal(engine_budget_granted(f.e), 0);
        teardown(&f);
}

/* A re-attach the pool covers only in part (a budget lowered between
 * runs) holds less than its limit: its shrinks retire the uncovered part
 * first, and the pool's books stay equal to the limits. */
static void test_a_partly_covered_reattach_keeps_the_books_equal_to_the_limits(void **state) {
        Fixture f = {};
        MemcgError err = {};
        EngineEvent ev;
        bool already = true;

        /* /b's first shrink comes 200 ms after its Monitor: not before
         * the re-attach is booked, even on a loaded machine (at 20 ms it
         * did, 3 times in 10 under load, and the pool then held less). */
        assert_int_equal(setup_engine_budget(&f, 200 * 1000, 400 * 1000, 100 * MIB_), 0);

        assert_int_equal(fake_cgroup(f.root, "/b", 10 * MIB_), 0);
        monitor(&f, "/b", 50 * MIB_);
        /* The run before left /a at 200 MiB; 50 MiB are free. */
        assert_int_equal(fake_cgroup(f.root, "/a", 10 * MIB_), 0);
        assert_int_equal(fake_write(f.root, "/a", "memory.max", "%llu\n", 200 * MIB_), 0);
        assert_int_equal(fake_write(f.root, "/a", "memory.high", "%llu\n", 192 * MIB_), 0);
        MonitorRequest req = { .path = "/a", .flags = ENGINE_MONITOR_REATTACH, .restore_max = UINT64_MAX,
                               .restore_high = UINT64_MAX, .cookie = 8 };
        assert_int_equal(engine_monitor(f.e, &req, &already, &err), 0);
        assert_true(wait_event(f.e, ENGINE_EVENT_REQUEST_DONE, -1, 2000, &ev));
        assert_int_equal(ev.error.code, MEMCG_OK);
        engine_event_done(&ev);
        assert_int_equal(engine_budget_granted(f.e), 100 * MIB_);

        /* Both walk down toward 10 MiB of usage (about 19 MiB each). */
        uint64_t a = 0, b = 0;
        for (int i = 0; i < 1000; i++) {
                while (engine_pop_event(f.e, &ev) > 0)
                        engine_event_done(&ev);
                a = fake_read(f.root, "/a", "memory.max");
                b = fake_read(f.root, "/b", "memory.max");
                if (a < 20 * MIB_ && b < 20 * MIB_)
                        break;
                usleep(10 * 1000);
        }
        printf("limits /a %llu, /b %llu; the pool counts %llu granted\n", (unsigned long long) a,
               (unsigned long long) b, (unsigned long long) engine_budget_granted(f.e));
        assert_true(a < 20 * MIB_ && b < 20 * MIB_);
        /* Settled (no shrink under way): the books match the limits. */
        usleep(400 * 1000);
        while (engine_pop_event(f.e, &ev) > 0)
                engine_event_done(&ev);
        a = fake_read(f.root, "/a", "memory.max");
        b = fake_read(f.root, "/b", "memory.max");
        assert_int_equal(engine_budget_granted(f.e), a + b);
        teardown(&f);
}

/* v2's oom field is a counter: the OOMs counted before Monitor (or before
 * a restart) are not announced as a new one; the next one is. */
static void test_oom_counted_before_monitor_is_not_announced(void **state) {
        Fixture f = {};
        EngineEvent ev;

        assert_int_equal(setup_engine(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000)), 0);
        assert_int_equal(fake_cgroup(f.root, "/o", 20 * MIB_), 0);
        assert_int_equal(fake_events(f.root, "/o", 0, 0, 3, 0), 0);
        monitor(&f, "/o", 64 * MIB_);
        /* memory.events changes (a throttle, usage far below the line). */
        assert_int_equal(fake_events(f.root, "/o", 1, 0, 3, 0), 0);
        assert_false(wait_event(f.e, ENGINE_EVENT_OOM, -1, 400, &ev));
        assert_int_equal(fake_events(f.root, "/o", 1, 0, 4, 0), 0);
        assert_true(wait_event(f.e, ENGINE_EVENT_OOM, -1, 2000, &ev));
        assert_int_equal(ev.oom_count, 4);
        engine_event_done(&ev);
        teardown(&f);
}

/* A denied grow asks the cgroup's reclaimers for memory, and asks again
 * while usage stays near the line. v2 counts a breach up to 1/16 of high
 * below it: usage under high must not make the ask wrap around. */
static void test_reclaim_asks_below_the_high_line_stay_small(void **state) {
        Fixture f = {};
        EngineEvent ev;

        assert_int_equal(setup_engine_budget(&f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000), 250 * MIB_), 0);
        assert_int_equal(fake_cgroup(f.root, "/r", 20 * MIB_), 0);
        monitor(&f, "/r", 250 * MIB_);
        engine_reclaimers_changed(f.e, "/r", 1);
        uint64_t high = fake_read(f.root, "/r", "memory.high");
        assert_int_equal(fake_write(f.root, "/r", "memory.current", "%llu\n", (unsigned long long) (high - 12 * MIB_)), 0);
        assert_int_equal(fake_events(f.root, "/r", 1, 0, 0, 0), 0);
        unsigned asks = 0;
        uint64_t largest = 0;
        struct pollfd p = { .fd = engine_event_fd(f.e), .events = POLLIN };
        for (int t = 0; t < 50; t++) {
                while (engine_pop_event(f.e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_RECLAIM_WANTED) {
                                asks++;
                                if (ev.reclaim_bytes > largest)
                                        largest = ev.reclaim_bytes;
                        }
                        engine_event_done(&ev);
                }
                (void) poll(&p, 1, 10);
        }
        printf("%u reclaim asks in 0.5 s, the largest %llu bytes\n", asks, (unsigned long long) largest);
        assert_true(asks >= 2);
        assert_true(largest > 0 && largest <= 64 * MIB_);
        teardown(&f);
}

/* During a budget shortage a worker squeezes the others' slack at most
 * once per SQUEEZE_AGAIN_USEC (service/worker.c: may_squeeze(), grow()):
 * at once at the start of the shortage, then not again at each breach,
 * then again once the interval has passed while the shortage lasts. A
 * squeeze is seen where it acts: the other cgroup's limit comes down
 * (LimitChanged "shrink", memory.max) - the shrink timer is an hour, so
 * nothing else lowers it. */
#define SQUEEZE_AGAIN_USEC_ (1000 * UINT64_C(1000)) /* as service/worker.c */

typedef struct SqueezeWatch {
        unsigned b_shrinks;             /* LimitChanged(shrink) of /b */
        uint64_t b_old_max, b_new_max;  /* the last one */
        uint64_t t_b_shrink;            /* when it was popped */
        unsigned a_grows;               /* LimitChanged(grow) of /a */
        uint64_t t_a_grow;
        unsigned a_exhausted;           /* BudgetExhausted of /a */
        uint64_t a_requested, a_granted;
        unsigned dones;                 /* REQUEST_DONE */
        uint64_t done_cookie;
        MemcgErrorCode done_code;
} SqueezeWatch;

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Pops every queued event into *s; the time of each is when it was
 * popped (the engine did it before). */
static void squeeze_pump(Fixture *f, SqueezeWatch *s) {
        EngineEvent ev;
        while (engine_pop_event(f->e, &ev) > 0) {
                uint64_t now = mono_usec();
                bool a = ev.path && strcmp(ev.path, "/a") == 0, b = ev.path && strcmp(ev.path, "/b") == 0;
                if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && b && ev.reason == LIMIT_REASON_SHRINK) {
                        s->b_shrinks++;
                        s->b_old_max = ev.old_max;
                        s->b_new_max = ev.new_max;
                        s->t_b_shrink = now;
                } else if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && a && ev.reason == LIMIT_REASON_GROW) {
                        s->a_grows++;
                        s->t_a_grow = now;
                } else if (ev.type == ENGINE_EVENT_BUDGET_EXHAUSTED && a) {
                        s->a_exhausted++;
                        s->a_requested = ev.requested;
                        s->a_granted = ev.granted;
                } else if (ev.type == ENGINE_EVENT_REQUEST_DONE) {
                        s->dones++;
                        s->done_cookie = ev.cookie;
                        s->done_code = ev.error.code;
                }
                engine_event_done(&ev);
        }
}

/* Pumps events until *counter reaches want, for at most cap_ms. */
static bool squeeze_wait(Fixture *f, SqueezeWatch *s, const unsigned *counter, unsigned want, int cap_ms) {
        struct pollfd p = { .fd = engine_event_fd(f->e), .events = POLLIN };
        uint64_t end = mono_usec() + (uint64_t) cap_ms * 1000;
        for (;;) {
                squeeze_pump(f, s);
                if (*counter >= want)
                        return true;
                if (mono_usec() >= end)
                        return false;
                (void) poll(&p, 1, 5);
        }
}

/* /a at its line: usage just under its hard limit, and the high counter
 * of memory.events rises (usage first: only memory.events wakes). */
static void squeeze_breach(Fixture *f, uint64_t *high_count) {
        uint64_t max = fake_read(f->root, "/a", "memory.max");
        assert_true(max > 4096 && max < UINT64_MAX - 1);
        assert_int_equal(fake_write(f->root, "/a", "memory.current", "%llu\n", (unsigned long long) (max - 4096)), 0);
        assert_int_equal(fake_events(f->root, "/a", ++*high_count, 0, 0, 0), 0);
}

/* /a and /b with 20 MiB of usage each, no shrink timer to speak of. */
static void shortage_setup(Fixture *f, uint64_t budget) {
        assert_int_equal(setup_engine_budget(f, 3600 * UINT64_C(1000000), 3600 * UINT64_C(1000000), budget), 0);
        assert_int_equal(fake_cgroup(f->root, "/a", 20 * MIB_), 0);
        assert_int_equal(fake_cgroup(f->root, "/b", 20 * MIB_), 0);
}

/* One run; false when the machine was too slow for part 2 to say
 * anything (a breach within the interval was not seen handled before
 * the interval ended). */
static bool squeeze_scenario(unsigned attempt) {
        Fixture f = {};
        SqueezeWatch s = {};
        MemcgError err = {};
        bool deferred = true;
        uint64_t budget = 97 * MIB_, high_count = 0;

        shortage_setup(&f, budget);
        /* /b: 33 MiB for 20 MiB of usage; squeezed, the floor is
         * max_from_high(20 MiB) + a tenth of a 10 MiB margin = 29 MiB. /a
         * takes the rest of the pool: not a page is free. Every squeeze
         * below frees 4 MiB, less than /a's 10 MiB step: what it frees
         * is granted in part, and the shortage goes on. */
        monitor(&f, "/b", 33 * MIB_);
        monitor(&f, "/a", 64 * MIB_);
        assert_int_equal(engine_budget_granted(f.e), budget);

        /* 1. The first breach of the shortage squeezes at once. */
        uint64_t t0 = mono_usec(); /* <= the squeeze's time */
        squeeze_breach(&f, &high_count);
        assert_true(squeeze_wait(&f, &s, &s.b_shrinks, 1, 5000));
        uint64_t t_sq1 = s.t_b_shrink; /* >= the squeeze's time */
        assert_int_equal(s.b_old_max, 33 * MIB_);
        assert_int_equal(s.b_new_max, 29 * MIB_);
        assert_int_equal(fake_read(f.root, "/b", "memory.max"), 29 * MIB_);
        /* The retries (5 x 20 ms) find no full step: the shortage is
         * announced, once. */
        assert_true(squeeze_wait(&f, &s, &s.a_exhausted, 1, 5000));
        assert_int_equal(s.a_requested, 10 * MIB_);
        uint64_t t_exh = mono_usec();

        /* /b has slack again (usage 16 MiB: floor 25 MiB): a squeeze
         * from now on would show. */
        assert_int_equal(fake_write(f.root, "/b", "memory.current", "%llu\n", 16 * MIB_), 0);

        /* 2. Breaches while the shortage lasts, within the interval: each
         * gets a trickle (1 MiB more in the pool, a tenth of its step),
         * so its LimitChanged(grow) - posted after grow() decided about
         * squeezing - tells when it was handled. */
        unsigned in_window = 0, late = 0;
        for (int k = 0; k < 3 && mono_usec() < t0 + SQUEEZE_AGAIN_USEC_ / 2; k++) {
                unsigned grows = s.a_grows;
                budget += MIB_;
                engine_set_budget(f.e, budget);
                squeeze_breach(&f, &high_count);
                assert_true(squeeze_wait(&f, &s, &s.a_grows, grows + 1, 5000));
                if (s.t_a_grow < t0 + SQUEEZE_AGAIN_USEC_)
                        in_window++;
                else
                        late++;
        }
        /* A barrier: a squeeze asked of /b (the flag is set before /a
         * posts its grow) is carried out before /b's next request is. A
         * re-base to its own limit changes nothing. */
        uint64_t bmax = fake_read(f.root, "/b", "memory.max");
        unsigned dones = s.dones;
        assert_int_equal(engine_set_initial_limit(f.e, "/b", bmax, 4242, &deferred, &err), 0);
        assert_false(deferred);
        assert_true(squeeze_wait(&f, &s, &s.dones, dones + 1, 5000));
        assert_int_equal(s.done_cookie, 4242);
        assert_int_equal(s.done_code, MEMCG_OK);
        if (late > 0 || in_window == 0) {
                printf("attempt %u: too slow to tell (%u breaches within the interval, %u after it, the "
                       "shortage announced %llu ms after the first breach); again\n",
                       attempt, in_window, late, (unsigned long long) (t_exh - t0) / 1000);
                teardown(&f);
                return false;
        }
        if (s.b_shrinks != 1)
                fail_msg("%u breaches within %llu ms of the first squeeze squeezed /b again (%u squeezes, /b "
                         "%llu -> %llu)", in_window, (unsigned long long) SQUEEZE_AGAIN_USEC_ / 1000,
                         s.b_shrinks, (unsigned long long) s.b_old_max, (unsigned long long) s.b_new_max);
        assert_int_equal(fake_read(f.root, "/b", "memory.max"), 29 * MIB_);
        uint64_t t_window = s.t_a_grow;

        /* 3. Once the interval has passed, still short: a breach
         * squeezes again. (Waiting out the interval is the point.) */
        uint64_t due = t_sq1 + SQUEEZE_AGAIN_USEC_ + 10 * 1000;
        for (uint64_t now = mono_usec(); now < due; now = mono_usec())
                usleep((useconds_t) (due - now));
        squeeze_breach(&f, &high_count);
        assert_true(squeeze_wait(&f, &s, &s.b_shrinks, 2, 5000));
        assert_int_equal(s.b_old_max, 29 * MIB_);
        assert_int_equal(s.b_new_max, 25 * MIB_);
        assert_int_equal(fake_read(f.root, "/b", "memory.max"), 25 * MIB_);
        /* The same shortage: not announced again (this only waits out
         * the retries; it cannot fail by slowness). */
        struct pollfd p = { .fd = engine_event_fd(f.e), .events = POLLIN };
        for (uint64_t end = mono_usec() + 300 * 1000; mono_usec() < end;) {
                squeeze_pump(&f, &s);
                (void) poll(&p, 1, 10);
        }
        squeeze_pump(&f, &s);
        assert_int_equal(s.a_exhausted, 1);
        assert_int_equal(s.b_shrinks, 2);
        printf("squeezed at the start (seen after %llu ms); %u breaches within the interval (the last seen "
               "handled at %llu ms) squeezed nothing; squeezed again at %llu ms\n",
               (unsigned long long) (t_sq1 - t0) / 1000, in_window, (unsigned long long) (t_window - t0) / 1000,
               (unsigned long long) (s.t_b_shrink - t0) / 1000);
        teardown(&f);
        return true;
}

static void test_a_shortage_squeezes_the_others_at_most_once_a_second(void **state) {
        for (unsigned attempt = 1; attempt <= 3; attempt++)
                if (squeeze_scenario(attempt))
                        return;
        fail_msg("three runs in a row too slow to see breaches handled within %llu ms",
                 (unsigned long long) SQUEEZE_AGAIN_USEC_ / 1000);
}

/* Within the squeeze interval a denied grow still retries (5 x 20 ms):
 * what the squeeze just asked of the others, or the cgroup's reclaimers,
 * may come back to the pool meanwhile. Only the squeeze is rate-limited.
 * (Before, a breach within the interval gave up at once, and a step that
 * became free 10 ms later waited for the next breach.) */
static bool retry_scenario(unsigned attempt) {
        Fixture f = {};
        SqueezeWatch s = {};
        uint64_t budget = 97 * MIB_, high_count = 0;

        shortage_setup(&f, budget);
        monitor(&f, "/b", 33 * MIB_);
        monitor(&f, "/a", 64 * MIB_);

        /* The shortage begins: /b squeezed (4 MiB, less than a step), the
         * retries run out, announced. */
        squeeze_breach(&f, &high_count);
        assert_true(squeeze_wait(&f, &s, &s.b_shrinks, 1, 5000));
        assert_true(squeeze_wait(&f, &s, &s.a_exhausted, 1, 5000));
        unsigned grows = s.a_grows;

        /* Another breach within the interval; 10 ms later a full step
         * becomes free, with no breach after it. */
        uint64_t t_breach = mono_usec();
        squeeze_breach(&f, &high_count);
        usleep(10 * 1000);
        uint64_t t_free = mono_usec();
        engine_set_budget(f.e, budget + 10 * MIB_);
        if (t_free - t_breach > 60 * 1000) {
                printf("attempt %u: the step became free %llu ms after the breach, beyond most of the "
                       "retries' 100 ms; again\n", attempt, (unsigned long long) (t_free - t_breach) / 1000);
                teardown(&f);
                return false;
        }
        bool grown = squeeze_wait(&f, &s, &s.a_grows, grows + 1, 1000);
        uint64_t t_grow = mono_usec();
        if (!grown)
                fail_msg("a breach within the shortage's squeeze interval did not retry: the step freed %llu ms "
                         "after it was not taken within 1 s", (unsigned long long) (t_free - t_breach) / 1000);
        assert_int_equal(s.b_shrinks, 1);
        printf("the breach within the interval took the step freed %llu ms after it (grown after %llu ms), "
               "no second squeeze\n", (unsigned long long) (t_free - t_breach) / 1000,
               (unsigned long long) (t_grow - t_breach) / 1000);
        teardown(&f);
        return true;
}

static void test_a_breach_within_the_squeeze_interval_still_retries(void **state) {
        for (unsigned attempt = 1; attempt <= 3; attempt++)
                if (retry_scenario(attempt))
                        return;
        fail_msg("three runs in a row too slow to free a step within the retries");
}

/* A shortage ends when a full step is granted or when usage fell so far
 * that the limit came down: the next denied grow is a new shortage and
 * BudgetExhausted is sent again (before, only a full grant ended it, and
 * a cgroup whose usage simply fell back was never told of the next). */
static void test_a_new_shortage_after_a_shrink_is_announced_again(void **state) {
        Fixture f = {};
        SqueezeWatch s = {};
        uint64_t high_count = 0;

        /* The shrink timer: 300 ms after a breach, then 600 ms. */
        assert_int_equal(setup_engine_budget(&f, 300 * 1000, 60 * 1000 * 1000, 64 * MIB_), 0);
        assert_int_equal(fake_cgroup(f.root, "/a", 20 * MIB_), 0);
        monitor(&f, "/a", 64 * MIB_);
        assert_int_equal(engine_budget_granted(f.e), 64 * MIB_);

        /* The pool is full and nobody has slack: denied, announced. */
        squeeze_breach(&f, &high_count);
        assert_true(squeeze_wait(&f, &s, &s.a_exhausted, 1, 5000));
        assert_int_equal(s.a_grows, 0);

        /* Usage falls back; the shrink timer lowers the limit. */
        assert_int_equal(fake_write(f.root, "/a", "memory.current", "%llu\n", 20 * MIB_), 0);
        SqueezeWatch between = {};
        struct pollfd p = { .fd = engine_event_fd(f.e), .events = POLLIN };
        EngineEvent ev;
        bool shrunk = false;
        for (int t = 0; t < 500 && !shrunk; t++) {
                while (engine_pop_event(f.e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && ev.reason == LIMIT_REASON_SHRINK)
                                shrunk = true;
                        if (ev.type == ENGINE_EVENT_BUDGET_EXHAUSTED)
                                between.a_exhausted++;
                        engine_event_done(&ev);
                }
                if (!shrunk)
                        (void) poll(&p, 1, 10);
        }
        assert_true(shrunk);
        assert_int_equal(between.a_exhausted, 0);

        /* The pool full again (a lower budget), and a new breach: a new
         * shortage, announced again. The next shrink is 600 ms away. */
        uint64_t max = fake_read(f.root, "/a", "memory.max");
        assert_true(max < 64 * MIB_);
        engine_set_budget(f.e, engine_budget_granted(f.e));
        squeeze_breach(&f, &high_count);
        assert_true(squeeze_wait(&f, &s, &s.a_exhausted, 2, 5000));
        assert_int_equal(s.a_grows, 0);
        assert_int_equal(fake_read(f.root, "/a", "memory.max"), max);
        printf("BudgetExhausted at the first breach and again after the limit came down to %llu\n",
               (unsigned long long) max);
        teardown(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_monitor_writes_max_then_the_matching_high),
                cmocka_unit_test(test_a_high_breach_raises_both_limits_by_one_seed_step),
                cmocka_unit_test(test_the_shrink_timer_lowers_limits_in_the_seed_steps),
                cmocka_unit_test(test_unmonitor_restores_the_limits_from_before),
                cmocka_unit_test(test_bad_requests_get_their_documented_errors),
                cmocka_unit_test(test_removing_the_directory_ends_the_worker),
                cmocka_unit_test(test_an_unmonitor_racing_a_failing_start_is_answered),
                cmocka_unit_test(test_a_partly_covered_reattach_keeps_the_books_equal_to_the_limits),
                cmocka_unit_test(test_oom_counted_before_monitor_is_not_announced),
                cmocka_unit_test(test_reclaim_asks_below_the_high_line_stay_small),
                cmocka_unit_test(test_a_shortage_squeezes_the_others_at_most_once_a_second),
                cmocka_unit_test(test_a_new_shortage_after_a_shrink_is_announced_again),
                cmocka_unit_test(test_a_breach_within_the_squeeze_interval_still_retries),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
