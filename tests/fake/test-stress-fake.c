/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hundreds of workers on a fake tree under churn, for the sanitizers
 * (TSan above all): a writer thread keeps raising breaches in random
 * cgroups while the main thread reads stats, lists, unmonitors and
 * re-monitors at random and drains events; short shrink timers and a
 * tight budget make shrinks, denials and rebalancing between workers
 * happen all the time. At the end the pool's books must balance. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake-tree.h"
#include "memcgd/engine.h"

#define N 300
#define MIB_ 1048576ULL

static char root[] = "/tmp/memcgd-stress-XXXXXX";
static atomic_bool stop;
static atomic_ulong breaches;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *writer(void *arg) {
        unsigned seed = 1;
        uint64_t counts[N] = {};
        char cg[32];

        while (!atomic_load(&stop)) {
                int i = (int) (rand_r(&seed) % N);
                snprintf(cg, sizeof(cg), "/s%d", i);
                uint64_t high = fake_read(root, cg, "memory.high");
                if (high == UINT64_MAX || high >= UINT64_MAX - 1)
                        high = 64 * MIB_;
                /* At the line (a breach) or well below it (a shrink). */
                uint64_t cur = rand_r(&seed) % 3 ? high : high / 4;
                fake_write(root, cg, "memory.current", "%llu\n", (unsigned long long) cur);
                fake_events(root, cg, ++counts[i], 0, 0, 0);
                atomic_fetch_add(&breaches, 1);
                struct timespec ts = { 0, 200 * 1000 };
                nanosleep(&ts, NULL);
        }
        return NULL;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? atof(argv[1]) : 10.0;
        EngineConfig cfg;
        MemcgError err = {};
        Engine *e;
        char cg[32];
        unsigned seed = 7;
        unsigned long stats = 0, lists = 0, churn = 0, grows = 0, shrinks = 0, exhausted = 0, events = 0;
        int failures = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (!mkdtemp(root))
                return 1;
        for (int i = 0; i < N; i++) {
                snprintf(cg, sizeof(cg), "/s%d", i);
                if (fake_cgroup(root, cg, 10 * MIB_) < 0)
                        return 1;
        }
        engine_config_init_default(&cfg);
        cfg.root = root;
        cfg.tunables.shrink_base_usec = 10 * 1000;
        cfg.tunables.shrink_max_usec = 100 * 1000;
        /* Room for every start limit and a little growth. */
        cfg.budget_bytes = (uint64_t) N * 65 * MIB_;
        if (engine_new(&cfg, &e, &err) < 0) {
                printf("FAIL: %s\n", err.message);
                return 1;
        }
        for (int i = 0; i < N; i++) {
                bool already;
                snprintf(cg, sizeof(cg), "/s%d", i);
                MonitorRequest req = { .path = cg, .initial_limit = 64 * MIB_, .cookie = 1 };
                if (engine_monitor(e, &req, &already, &err) < 0) {
                        printf("FAIL: monitor %s: %s\n", cg, err.message);
                        return 1;
                }
        }

        pthread_t w;
        pthread_create(&w, NULL, writer, NULL);
        double t0 = now_s();
        while (now_s() - t0 < seconds) {
                struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
                EngineEvent ev;
                (void) poll(&p, 1, 1);
                while (engine_pop_event(e, &ev) > 0) {
                        events++;
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && ev.reason == LIMIT_REASON_GROW)
                                grows++;
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && ev.reason == LIMIT_REASON_SHRINK)
                                shrinks++;
                        if (ev.type == ENGINE_EVENT_BUDGET_EXHAUSTED)
                                exhausted++;
                        engine_event_done(&ev);
                }
                for (int k = 0; k < 20; k++) {
                        CgroupStats st;
                        snprintf(cg, sizeof(cg), "/s%d", (int) (rand_r(&seed) % N));
                        (void) engine_get_stats(e, cg, &st, &err);
                        stats++;
                }
                char **l = NULL;
                if (engine_list_monitored(e, &l) == 0)
                        lists++;
                engine_strv_free(l);
                /* Churn: unmonitor one, monitor one (the unmonitored ones
                 * come back when their STOPPED is drained). */
                snprintf(cg, sizeof(cg), "/s%d", (int) (rand_r(&seed) % N));
                if (rand_r(&seed) % 4 == 0 && engine_is_monitored(e, cg) && engine_unmonitor(e, cg, 0, &err) == 0)
                        churn++;
                snprintf(cg, sizeof(cg), "/s%d", (int) (rand_r(&seed) % N));
                if (!engine_is_monitored(e, cg)) {
                        bool already;
                        MonitorRequest req = { .path = cg, .initial_limit = 64 * MIB_, .cookie = 2 };
                        if (engine_monitor(e, &req, &already, &err) == 0)
                                churn++;
                }
        }
        atomic_store(&stop, true);
        pthread_join(w, NULL);

        /* Check the books: the workers keep shrinking on their short
         * timers, so sample until the pool's grant and the sum of the
         * workers' published grants agree (a leak never would). For up
         * to 30 s: on a loaded host a sample takes long enough that the
         * timers often move the pool during it (100 samples of 50 ms
         * were not always enough when the whole suite ran at once). */
        uint64_t sum = 0, granted = 1;
        unsigned monitored = 0, samples = 0;
        for (double t_books = now_s(); sum != granted && now_s() - t_books < 30; samples++) {
                struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
                EngineEvent ev;
                (void) poll(&p, 1, 50);
                while (engine_pop_event(e, &ev) > 0)
                        engine_event_done(&ev);
                char **l = NULL;
                sum = 0;
                monitored = 0;
                granted = engine_budget_granted(e);
                if (engine_list_monitored(e, &l) == 0)
                        for (char **q = l; *q; q++) {
                                CgroupStats st;
                                if (engine_get_stats(e, *q, &st, &err) == 0) {
                                        sum += st.values[STAT_GRANTED_BYTES];
                                        monitored++;
                                }
                        }
                engine_strv_free(l);
                if (granted != engine_budget_granted(e))
                        sum = 0; /* moved while we summed: sample again */
        }
        printf("%.0f s: %lu breaches written, %lu events (%lu grows, %lu shrinks, %lu budget exhausted), "
               "%lu stats reads, %lu lists, %lu monitor/unmonitor, %u monitored at the end\n",
               seconds, (unsigned long) atomic_load(&breaches), events, grows, shrinks, exhausted, stats, lists, churn,
               monitored);
        printf("pool: granted %llu, sum of workers %llu, budget %llu (%u samples)\n", (unsigned long long) granted,
               (unsigned long long) sum, (unsigned long long) engine_budget_total(e), samples);
#define CHECK(c, ...) do { if (c) printf("PASS: " __VA_ARGS__); else { printf("FAIL: " __VA_ARGS__); failures++; } printf("\n"); } while (0)
        CHECK(grows > 0 && shrinks > 0 && churn > 0, "growth, shrinking and churn all happened");
        CHECK(granted == sum, "the pool's grant equals the workers' grants");
        CHECK(granted <= engine_budget_total(e), "the pool never overcommits");
        /* Unmonitoring everything must hand every byte back. */
        char **all = NULL;
        if (engine_list_monitored(e, &all) == 0)
                for (char **q = all; *q; q++)
                        (void) engine_unmonitor(e, *q, 0, &err);
        engine_strv_free(all);
        /* monitored_count drops at once; the grants come back as each
         * worker finishes: wait for them (a leak never arrives). */
        for (int i = 0; i < 250 && engine_budget_granted(e) > 0; i++) {
                struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
                EngineEvent ev;
                (void) poll(&p, 1, 20);
                while (engine_pop_event(e, &ev) > 0)
                        engine_event_done(&ev);
        }
        CHECK(engine_monitored_count(e) == 0 && engine_budget_granted(e) == 0,
              "after unmonitoring all, the pool is back to 0 granted (%llu)",
              (unsigned long long) engine_budget_granted(e));
        double t1 = now_s();
        engine_free(e);
        printf("joined every worker in %.2f s\n", now_s() - t1);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        (void) !system(cmd);
        return failures ? 1 : 0;
}
