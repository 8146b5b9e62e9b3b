/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* B5: effectiveness on real v1, or on v2 where /sys/fs/cgroup is v2 (the
 * QEMU VM of tests/bench/v2-vm.sh b5). A bursty workload (bench-alloc --bursty:
 * grow to PEAK in steps, hold, free down to a small base, idle, repeat)
 * runs for a while under four regimes, each in a fresh memcg:
 *
 *   memcgd      the engine (this process, the daemon's worker code),
 *               Monitor at 64 MiB, default tunables, SCHED_FIFO workers
 *   static-peak a fixed limit sized for the peak (what an admin would set
 *               to survive it: next_max(max_from_high(base + peak)))
 *   static-64M  a fixed limit at memcgd's start limit
 *   none        no limit
 *
 * Sampled every 10 ms: usage and limit. Reported: time-averaged slack
 * (limit - usage) / usage, time-averaged limit, peak usage, OOM kills (a
 * killed workload is restarted after 1 s, as a service manager would),
 * and the time to give memory back after a drop: from the end of the free
 * until the limit is at or below the shrink target with the full margin
 * for the usage after the drop, next_max(max_from_high(usage))
 * (DESIGN.md §1) — censored when the next burst starts first.
 *
 *   bench-b5 [--small] [--json=FILE] [--seconds=S] [--peak-mib=N]
 *            [--regimes=LIST] */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"
#include "memcgd/engine.h"
#include "memcgd/limits.h"

#define START (64 * MIB)
#define SAMPLE_MS 10
#define BASE (16 * MIB)

typedef enum Regime { R_MEMCGD, R_STATIC_PEAK, R_STATIC_64, R_NONE, _R_MAX } Regime;
static const char *regime_names[] = { "memcgd", "static-peak", "static-64M", "none" };

typedef struct Result {
        bool ran;
        double seconds;
        double avg_slack, avg_limit_mib, avg_usage_mib, peak_usage_mib;
        unsigned oom_killed, restarts, drops, gave_back;
        double giveback[256];
        unsigned n_giveback;
        Summary gb;
        uint64_t limit_bytes;
} Result;

static const char *root;
static bool v2;
static char alloc_path[4096];

static const char *limit_file(void) {
        return v2 ? "memory.max" : "memory.limit_in_bytes";
}

static Tunables T;

typedef struct Drops {
        pthread_mutex_t lock;
        uint64_t t[1024];
        unsigned n;
        _Atomic bool eof;
} Drops;

typedef struct ReaderArg {
        FILE *f;
        Drops *d;
} ReaderArg;

static void *reader_main(void *userdata) {
        ReaderArg *a = userdata;
        char line[256];
        while (fgets(line, sizeof(line), a->f)) {
                unsigned long long t;
                if (sscanf(line, "drop %llu", &t) == 1) {
                        pthread_mutex_lock(&a->d->lock);
                        if (a->d->n < 1024)
                                a->d->t[a->d->n++] = t;
                        pthread_mutex_unlock(&a->d->lock);
                }
        }
        a->d->eof = true;
        return NULL;
}

typedef struct Sample {
        uint64_t t, usage, limit;
} Sample;

static int run_regime(Regime rg, double seconds, unsigned peak_mib, unsigned hold_ms, unsigned idle_ms, Result *res) {
        char name[64], rel[256], abs_[320], procs[400], bursty[128];
        Engine *e = NULL;
        uint64_t cookie = 0;
        int r = -1;

        snprintf(name, sizeof(name), "b5-%s", regime_names[rg]);
        if (bench_memcg_create(root, name, rel, sizeof(rel), abs_, sizeof(abs_)) < 0)
                return -1;
        uint64_t peak = (uint64_t) peak_mib * MIB;
        res->limit_bytes = UINT64_MAX;
        char lim[400];
        snprintf(lim, sizeof(lim), "%s/%s", abs_, limit_file());
        if (rg == R_STATIC_PEAK) {
                /* The workload's peak is its 16 MiB base plus the burst. */
                res->limit_bytes = limits_page_round_up(limits_next_max(&T, limits_max_from_high(&T, peak + BASE)));
                (void) bench_write_file(lim, "%llu", (unsigned long long) res->limit_bytes);
        } else if (rg == R_STATIC_64) {
                res->limit_bytes = START;
                (void) bench_write_file(lim, "%llu", (unsigned long long) START);
        } else if (rg == R_MEMCGD) {
                EngineConfig cfg;
                MemcgError err = {};
                bool already;
                engine_config_init_default(&cfg);
                cfg.budget_bytes = 8 * 1024 * MIB;
                cfg.realtime_priority = 10;
                if (engine_new(&cfg, &e, &err) < 0) {
                        fprintf(stderr, "engine_new: %s\n", err.message);
                        goto out;
                }
                MonitorRequest req = { .path = rel, .initial_limit = START, .cookie = ++cookie };
                if (engine_monitor(e, &req, &already, &err) < 0) {
                        fprintf(stderr, "monitor: %s\n", err.message);
                        goto out;
                }
        }

        snprintf(procs, sizeof(procs), "--procs=%s/cgroup.procs", abs_);
        snprintf(bursty, sizeof(bursty), "--bursty=%u,%u,%u,4,5", peak_mib, hold_ms, idle_ms);
        char *argv[] = { alloc_path, procs, "--prefault=16M", bursty, NULL };

        size_t cap = (size_t) (seconds * 1000 / SAMPLE_MS) + 1000;
        Sample *s = calloc(cap, sizeof(Sample));
        size_t n = 0;
        Drops drops = { .lock = PTHREAD_MUTEX_INITIALIZER };
        Child c = { .pid = -1 };
        pthread_t th = 0;
        ReaderArg ra = { .d = &drops };
        uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t) (seconds * 1e9), restart_at = t0;
        uint64_t kills0 = 0;

        while (bench_now_ns() < end && n < cap) {
                uint64_t now = bench_now_ns();
                if (c.pid < 0 && now >= restart_at) {
                        char line[64];
                        if (bench_child_start(&c, argv) == 0 && bench_child_expect(&c, "ready", line, sizeof(line))) {
                                ra.f = c.out;
                                c.out = NULL;
                                drops.eof = false;
                                pthread_create(&th, NULL, reader_main, &ra);
                                bench_child_go(&c);
                                res->restarts++;
                        } else
                                restart_at = now + 1000000000u;
                }
                if (c.pid > 0) {
                        int status;
                        if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
                                c.pid = -1;
                                close(c.in);
                                c.in = -1;
                                pthread_join(th, NULL);
                                fclose(ra.f);
                                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                                        res->oom_killed++;
                                restart_at = now + 1000000000u;
                        }
                }
                s[n].t = now;
                s[n].usage = bench_memcg_u64(abs_, v2 ? "memory.current" : "memory.usage_in_bytes");
                /* None reads UINT64_MAX (v2 "max"; v1's huge value counts
                 * as none below). */
                s[n].limit = bench_memcg_u64(abs_, limit_file());
                n++;
                if (e) {
                        EngineEvent ev;
                        while (engine_pop_event(e, &ev) > 0)
                                engine_event_done(&ev);
                }
                bench_sleep_ms(SAMPLE_MS);
        }
        if (c.pid > 0) {
                bench_child_wait(&c);
                pthread_join(th, NULL);
                fclose(ra.f);
        }
        kills0 = bench_memcg_oom_kills(abs_);
        res->ran = true;
        res->seconds = (double) (bench_now_ns() - t0) / 1e9;

        /* Time averages (samples are evenly spaced in time: plain means of
         * the interval-weighted values). */
        double slack = 0, limit = 0, usage = 0, wsum = 0;
        for (size_t i = 1; i < n; i++) {
                double dt = (double) (s[i].t - s[i - 1].t) / 1e9;
                /* Only while the workload runs (its base is 16 MiB): after
                 * an OOM kill the empty memcg's ratio would be meaningless. */
                if (s[i].usage < 4 * MIB || s[i].usage == UINT64_MAX)
                        continue;
                double l = s[i].limit >= (UINT64_C(1) << 62) ? NAN : (double) s[i].limit;
                slack += dt * (l - (double) s[i].usage) / (double) s[i].usage;
                limit += dt * l;
                usage += dt * (double) s[i].usage;
                wsum += dt;
                if ((double) s[i].usage / (double) MIB > res->peak_usage_mib)
                        res->peak_usage_mib = (double) s[i].usage / (double) MIB;
        }
        res->avg_slack = slack / wsum;
        res->avg_limit_mib = limit / wsum / (double) MIB;
        res->avg_usage_mib = usage / wsum / (double) MIB;
        if (kills0 != UINT64_MAX && kills0 > res->oom_killed)
                res->oom_killed = (unsigned) kills0;

        /* Give-back after each drop. */
        res->drops = drops.n;
        for (unsigned d = 0; d < drops.n && res->n_giveback < 256; d++) {
                size_t i = 0;
                while (i < n && s[i].t < drops.t[d])
                        i++;
                /* Usage settles within a few samples of the munmap. */
                size_t j = i + 5 < n ? i + 5 : n - 1;
                if (i >= n)
                        continue;
                uint64_t target = limits_shrink_target(&T, s[j].usage, 0) + LIMITS_PAGE_SIZE;
                uint64_t next_drop = d + 1 < drops.n ? drops.t[d + 1] : UINT64_MAX;
                for (size_t k = i; k < n && s[k].t < next_drop; k++) {
                        /* The next burst began: censored. */
                        if (s[k].usage > s[j].usage + 16 * MIB)
                                break;
                        if (s[k].limit <= target) {
                                res->giveback[res->n_giveback++] = (double) (s[k].t - drops.t[d]) / 1e9 * 1e6;
                                res->gave_back++;
                                break;
                        }
                }
        }
        res->gb = bench_summarize(res->giveback, res->n_giveback);
        free(s);
        r = 0;
out:
        if (e) {
                e = engine_free(e);
        }
        bench_memcg_remove(abs_);
        return r;
}

int main(int argc, char **argv) {
        bool small = bench_flag(argc, argv, "--small");
        const char *json = bench_opt(argc, argv, "--json");
        const char *list = bench_opt(argc, argv, "--regimes");
        double seconds = (double) bench_opt_long(argc, argv, "--seconds", small ? 10 : 60);
        unsigned peak_mib = (unsigned) bench_opt_long(argc, argv, "--peak-mib", small ? 128 : 256);
        unsigned hold_ms = small ? 1000 : 3000, idle_ms = small ? 3000 : 6000;
        static Result res[_R_MAX];

        setvbuf(stdout, NULL, _IOLBF, 0);
        root = bench_v1_root();
        if (!root || geteuid() != 0) {
                root = bench_require_v2("B5 on v2");
                v2 = root != NULL;
        }
        if (!root)
                root = bench_require_v1("B5 on v1");
        if (!root)
                return 77;
        tunables_init_default(&T);
        bench_helper_path("bench-alloc", alloc_path, sizeof(alloc_path));
        uint64_t t_start = bench_now_ns();
        for (int rg = 0; rg < _R_MAX; rg++) {
                if (list && !strstr(list, regime_names[rg]))
                        continue;
                printf("# B5 %s: %.0f s of bursts to %u MiB (hold %u ms, idle %u ms)\n", regime_names[rg], seconds,
                       peak_mib, hold_ms, idle_ms);
                (void) run_regime((Regime) rg, seconds, peak_mib, hold_ms, idle_ms, &res[rg]);
        }

        printf("\nB5 effectiveness on %s: bursts to %u MiB (4 MiB steps, hold %u ms, free to 16 MiB, idle %u ms), "
               "sampled every %d ms\n", v2 ? "v2" : "v1", peak_mib, hold_ms, idle_ms, SAMPLE_MS);
        printf("%-12s %6s %10s %10s %10s %9s %8s %6s %22s\n", "regime", "s", "avg slack", "avg limit", "avg usage",
               "peak use", "oom-kill", "drops", "give-back s p50/max (n)");
        for (int rg = 0; rg < _R_MAX; rg++) {
                Result *r = &res[rg];
                if (!r->ran)
                        continue;
                char slack[32], lim[32], gb[48];
                if (isfinite(r->avg_slack)) {
                        snprintf(slack, sizeof(slack), "%.2f", r->avg_slack);
                        snprintf(lim, sizeof(lim), "%.0f MiB", r->avg_limit_mib);
                } else {
                        snprintf(slack, sizeof(slack), "unbounded");
                        snprintf(lim, sizeof(lim), "none");
                }
                if (r->n_giveback)
                        snprintf(gb, sizeof(gb), "%.2f/%.2f (%u)", r->gb.p50 / 1e6, r->gb.max / 1e6, r->n_giveback);
                else
                        snprintf(gb, sizeof(gb), "never (0 of %u)", r->drops);
                printf("%-12s %6.0f %10s %10s %6.0f MiB %5.0f MiB %8u %6u %22s\n", regime_names[rg], r->seconds, slack,
                       lim, r->avg_usage_mib, r->peak_usage_mib, r->oom_killed, r->drops, gb);
        }
        printf("B5 ran in %.1f s\n", (double) (bench_now_ns() - t_start) / 1e9);
        if (v2)
                printf("(cgroup v2 in QEMU under TCG: compare the regimes with each other, not with the host's run)\n");

        if (json) {
                Json j;
                if (json_begin_file(&j, json, "B5 effectiveness") == 0) {
                        json_bool(&j, "small", small);
                        json_u64(&j, "peak_mib", peak_mib);
                        json_u64(&j, "hold_ms", hold_ms);
                        json_u64(&j, "idle_ms", idle_ms);
                        json_str(&j, "cgroup", v2 ? "v2" : "v1");
                        json_arr(&j, "rows");
                        for (int rg = 0; rg < _R_MAX; rg++) {
                                Result *r = &res[rg];
                                if (!r->ran)
                                        continue;
                                json_obj(&j, NULL);
                                json_str(&j, "regime", regime_names[rg]);
                                json_num(&j, "seconds", r->seconds);
                                json_num(&j, "avg_slack", r->avg_slack);
                                json_num(&j, "avg_limit_mib", r->avg_limit_mib);
                                json_num(&j, "avg_usage_mib", r->avg_usage_mib);
                                json_num(&j, "peak_usage_mib", r->peak_usage_mib);
                                json_u64(&j, "oom_kills", r->oom_killed);
                                json_u64(&j, "drops", r->drops);
                                json_u64(&j, "gave_back", r->n_giveback);
                                json_num(&j, "giveback_p50_s", r->gb.p50 / 1e6);
                                json_num(&j, "giveback_max_s", r->gb.max / 1e6);
                                json_end_obj(&j);
                        }
                        json_end_arr(&j);
                        json_end_file(&j);
                }
        }
        return 0;
}
