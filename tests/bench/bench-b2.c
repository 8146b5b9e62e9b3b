/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* B2: survivable allocation rate on real cgroup v1, where nothing
 * throttles a cgroup between its high line and its limit (DESIGN.md §2):
 * a process in a fresh memcg watched from 64 MiB (high line 56 MiB, the
 * seed's 8 MiB gap) touches 1 GiB at full speed. Per watcher and mode:
 * trials, survivors, trials with an OOM kill, trials where the kernel hit
 * the limit (memory.failcnt > 0), and the allocation rate.
 *
 * Watchers: memcgd's engine (in this process, the daemon's worker code)
 * with normal scheduling and with SCHED_FIFO workers, as configured by
 * default (OomPolicy kill, HoldAtLimit=yes: tasks that outrun the
 * reaction wait at the limit for the step); the same with HoldAtLimit=no,
 * where the reaction alone decides (the race); bench-poller every 100 ms
 * and every 1 s (the seed's rule, polled). Modes: 4 KiB pages and
 * transparent huge pages (MADV_HUGEPAGE), 1 and 2 threads.
 *
 *   bench-b2 [--small] [--trials=N] [--json=FILE] [--watchers=LIST]
 *            [--modes=LIST] [--rt=PRIO]
 *   LIST: comma-separated names as printed (memcgd-rt0, memcgd-rt10,
 *   race-rt0, race-rt10, poll-100ms, poll-1s, and memcgd-rt10-grow —
 *   OomPolicy grow, only when named; 4k-1, 4k-2, thp-1, thp-2).
 * MEMCGD_BENCH_DEBUG=1: the engine's debug log on stderr. */
#include <poll.h>

#include "bench.h"
#include "memcgd/engine.h"
#include "memcgd/limits.h"
#include "service/log.h"

#define START (64 * MIB)
#define TOTAL (1024 * MIB)

typedef struct Mode {
        const char *name;
        bool thp;
        int threads;
} Mode;

static const Mode modes[] = {
        { "4k-1", false, 1 },
        { "4k-2", false, 2 },
        { "thp-1", true, 1 },
        { "thp-2", true, 2 },
};

typedef struct Watcher {
        char name[32];
        int rt;            /* memcgd */
        bool grow_policy;  /* memcgd with OomPolicy grow (v1: oom_kill_disable) */
        bool race;         /* memcgd with HoldAtLimit=no: the reaction alone */
        bool optional;     /* only when --watchers names it */
        long poll_ms;      /* poller, 0 = memcgd */
} Watcher;

typedef struct Cell {
        unsigned trials, survived, killed_trials, failcnt_trials, errors;
        uint64_t oom_kills;
        double rate[256];      /* GB/s of completed trials */
        unsigned n_rate;
        double final_limit_mib[256];
        unsigned n_limit;
        Summary rate_s;
} Cell;

static char alloc_path[4096], poller_path[4096];
static const char *root;
static Engine *engine;
static uint64_t cookie;

static bool wait_engine(EngineEventType type, const char *path, int timeout_ms, MemcgError *ret_err) {
        struct pollfd p = { .fd = engine_event_fd(engine), .events = POLLIN };
        uint64_t deadline = bench_now_ns() + (uint64_t) timeout_ms * 1000000u;
        while (bench_now_ns() < deadline) {
                EngineEvent ev;
                bool hit = false;
                while (engine_pop_event(engine, &ev) > 0) {
                        if (ev.type == type && strcmp(ev.path, path) == 0) {
                                hit = true;
                                if (ret_err)
                                        *ret_err = ev.error;
                        }
                        engine_event_done(&ev);
                }
                if (hit)
                        return true;
                (void) poll(&p, 1, 50);
        }
        return false;
}

static int engine_setup(int rt, bool hold) {
        EngineConfig cfg;
        MemcgError err = {};
        engine_config_init_default(&cfg);
        cfg.budget_bytes = 8 * 1024 * MIB;
        cfg.realtime_priority = rt;
        cfg.v1_hold_at_limit = hold;
        if (engine_new(&cfg, &engine, &err) < 0) {
                fprintf(stderr, "engine_new: %s\n", err.message);
                return -1;
        }
        return 0;
}

/* One trial: 0 when it ran (whatever the outcome). */
static int trial(const Watcher *w, const Mode *m, unsigned k, Cell *c) {
        char name[64], rel[256], abs_[320];
        Child poller = { .pid = -1, .in = -1 }, alloc = { .pid = -1, .in = -1 };
        char line[256];
        int r = -1;

        snprintf(name, sizeof(name), "b2-%s-%s-%u", w->name, m->name, k);
        if (bench_memcg_create(root, name, rel, sizeof(rel), abs_, sizeof(abs_)) < 0)
                return -1;

        if (w->poll_ms == 0) {
                MemcgError err = {};
                bool already;
                MonitorRequest req = { .path = rel, .initial_limit = START, .cookie = ++cookie,
                                       .oom_policy = w->grow_policy ? OOM_POLICY_GROW : OOM_POLICY_KILL };
                if (engine_monitor(engine, &req, &already, &err) < 0) {
                        fprintf(stderr, "monitor: %s\n", err.message);
                        goto out;
                }
                if (!wait_engine(ENGINE_EVENT_REQUEST_DONE, rel, 10000, &err) || err.code != MEMCG_OK) {
                        fprintf(stderr, "monitor did not finish: %s\n", err.message);
                        goto out;
                }
        } else {
                char a1[400], a2[64], a3[64];
                snprintf(a1, sizeof(a1), "--memcg=%s", abs_);
                snprintf(a2, sizeof(a2), "--interval-ms=%ld", w->poll_ms);
                snprintf(a3, sizeof(a3), "--initial=%llu", (unsigned long long) START);
                char *argv[] = { poller_path, a1, a2, a3, NULL };
                if (bench_child_start(&poller, argv) < 0 || !bench_child_expect(&poller, "ready", line, sizeof(line))) {
                        fprintf(stderr, "poller did not start\n");
                        goto out;
                }
        }

        {
                char a1[400], a2[64], a3[64];
                snprintf(a1, sizeof(a1), "--procs=%s/cgroup.procs", abs_);
                snprintf(a2, sizeof(a2), "--bytes=%llu", (unsigned long long) TOTAL);
                snprintf(a3, sizeof(a3), "--threads=%d", m->threads);
                char *argv[] = { alloc_path, a1, a2, a3, m->thp ? "--thp" : NULL, NULL };
                if (bench_child_start(&alloc, argv) < 0 || !bench_child_expect(&alloc, "ready", line, sizeof(line))) {
                        fprintf(stderr, "allocator did not start\n");
                        goto out;
                }
        }
        bench_child_go(&alloc);
        bool done = bench_child_expect(&alloc, "done", line, sizeof(line));
        unsigned long long go = 0, end = 0, bytes = 0;
        if (done && sscanf(line, "done %llu %llu %llu", &go, &end, &bytes) == 3 && end > go) {
                c->rate[c->n_rate++] = (double) bytes / (double) (end - go); /* bytes/ns = GB/s */
        }
        uint64_t limit = bench_memcg_u64(abs_, "memory.limit_in_bytes");
        uint64_t failcnt = bench_memcg_u64(abs_, "memory.failcnt");
        uint64_t kills = bench_memcg_oom_kills(abs_);
        int status = bench_child_wait(&alloc);
        bool sigkilled = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;

        c->trials++;
        if (done && !sigkilled && WIFEXITED(status) && WEXITSTATUS(status) == 0)
                c->survived++;
        if (sigkilled || (kills != UINT64_MAX && kills > 0))
                c->killed_trials++;
        if (kills != UINT64_MAX)
                c->oom_kills += kills;
        if (failcnt != UINT64_MAX && failcnt > 0)
                c->failcnt_trials++;
        if (limit != UINT64_MAX)
                c->final_limit_mib[c->n_limit++] = (double) limit / (double) MIB;
        printf("  %-16s %-6s trial %2u: %s, failcnt %llu, limit %.0f MiB%s\n", w->name, m->name, k,
               sigkilled ? "OOM-killed" : done ? "survived" : "failed", (unsigned long long) failcnt,
               (double) limit / (double) MIB, done && end > go ? "" : "");
        r = 0;
out:
        if (alloc.pid > 0)
                bench_child_kill(&alloc);
        if (w->poll_ms == 0) {
                MemcgError err = {};
                if (engine_unmonitor(engine, rel, ++cookie, &err) == 0)
                        (void) wait_engine(ENGINE_EVENT_STOPPED, rel, 10000, NULL);
        } else if (poller.pid > 0)
                bench_child_wait(&poller);
        bench_memcg_remove(abs_);
        if (r < 0)
                c->errors++;
        return r;
}

static bool listed(const char *list, const char *name) {
        if (!list)
                return true;
        size_t l = strlen(name);
        for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
                if (strncmp(p, name, l) == 0 && (p[l] == ',' || p[l] == 0))
                        return true;
        return false;
}

int main(int argc, char **argv) {
        bool small = bench_flag(argc, argv, "--small");
        unsigned trials = (unsigned) bench_opt_long(argc, argv, "--trials", small ? 2 : 20);
        const char *json = bench_opt(argc, argv, "--json");
        const char *wl = bench_opt(argc, argv, "--watchers"), *ml = bench_opt(argc, argv, "--modes");
        int rt = (int) bench_opt_long(argc, argv, "--rt", 10);
        Watcher watchers[7] = {};
        unsigned n_w = 0;
        static Cell cells[7][4];

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* The engine's debug log (every wake-up, usage read and limit
         * written) on stderr: what a lost trial looked like. */
        if (getenv("MEMCGD_BENCH_DEBUG"))
                log_max_level = LOG_DEBUG;
        if (trials > 256)
                trials = 256;
        root = bench_require_v1("B2");
        if (!root)
                return 77;
        bench_helper_path("bench-alloc", alloc_path, sizeof(alloc_path));
        bench_helper_path("bench-poller", poller_path, sizeof(poller_path));

        watchers[n_w++] = (Watcher) { .name = "memcgd-rt0", .rt = 0 };
        snprintf(watchers[n_w].name, sizeof(watchers[n_w].name), "memcgd-rt%d", rt);
        watchers[n_w++].rt = rt;
        watchers[n_w++] = (Watcher) { .name = "race-rt0", .rt = 0, .race = true };
        snprintf(watchers[n_w].name, sizeof(watchers[n_w].name), "race-rt%d", rt);
        watchers[n_w].race = true;
        watchers[n_w++].rt = rt;
        watchers[n_w++] = (Watcher) { .name = "poll-100ms", .poll_ms = 100 };
        watchers[n_w++] = (Watcher) { .name = "poll-1s", .poll_ms = 1000 };
        /* The safety net rather than the race: tasks sleep at the limit
         * (oom_kill_disable) until the worker grows it. */
        snprintf(watchers[n_w].name, sizeof(watchers[n_w].name), "memcgd-rt%d-grow", rt);
        watchers[n_w].rt = rt;
        watchers[n_w].grow_policy = watchers[n_w].optional = true;
        n_w++;

        uint64_t t_start = bench_now_ns();
        printf("# B2: %u trials per cell; memcg monitored at %llu MiB, %llu MiB touched\n", trials,
               (unsigned long long) (START / MIB), (unsigned long long) (TOTAL / MIB));
        for (unsigned wi = 0; wi < n_w; wi++) {
                Watcher *w = &watchers[wi];
                if (!listed(wl, w->name) || (w->optional && !wl))
                        continue;
                if (w->poll_ms == 0 && engine_setup(w->rt, !w->race) < 0)
                        continue;
                for (unsigned mi = 0; mi < 4; mi++) {
                        if (!listed(ml, modes[mi].name))
                                continue;
                        for (unsigned k = 0; k < trials; k++)
                                (void) trial(w, &modes[mi], k, &cells[wi][mi]);
                        cells[wi][mi].rate_s = bench_summarize(cells[wi][mi].rate, cells[wi][mi].n_rate);
                }
                engine = engine_free(engine);
        }

        printf("\nB2 survivable allocation rate (v1; fresh memcg watched from 64 MiB, high line 8 MiB below; 1 GiB "
               "touched at full speed)\n");
        printf("%-16s %-6s %6s %8s %10s %9s %9s %10s %12s\n", "watcher", "mode", "trials", "survived", "oom-killed",
               "oom_kills", "failcnt>0", "GB/s p50", "limit MiB p50");
        for (unsigned wi = 0; wi < n_w; wi++)
                for (unsigned mi = 0; mi < 4; mi++) {
                        Cell *c = &cells[wi][mi];
                        if (c->trials == 0)
                                continue;
                        Summary lim = bench_summarize(c->final_limit_mib, c->n_limit);
                        printf("%-16s %-6s %6u %8u %10u %9llu %9u %10.2f %12.0f%s\n", watchers[wi].name, modes[mi].name,
                               c->trials, c->survived, c->killed_trials, (unsigned long long) c->oom_kills,
                               c->failcnt_trials, c->rate_s.p50, lim.p50, c->errors ? " (errors)" : "");
                }
        printf("target: zero OOM kills in every mode with the 8 MiB gap: ");
        bool met = true, any = false;
        for (unsigned wi = 0; wi < n_w; wi++)
                for (unsigned mi = 0; mi < 4; mi++)
                        if (watchers[wi].poll_ms == 0 && !watchers[wi].race && !watchers[wi].grow_policy &&
                            cells[wi][mi].trials) {
                                any = true;
                                met = met && cells[wi][mi].killed_trials == 0;
                        }
        printf("%s (memcgd as configured by default, normal and SCHED_FIFO workers)\n",
               !any ? "not run" : met ? "MET" : "NOT MET");
        printf("B2 ran in %.1f s\n", (double) (bench_now_ns() - t_start) / 1e9);

        if (json) {
                Json j;
                if (json_begin_file(&j, json, "B2 survivable allocation rate") == 0) {
                        json_bool(&j, "small", small);
                        json_u64(&j, "start_limit_bytes", START);
                        json_u64(&j, "touched_bytes", TOTAL);
                        json_arr(&j, "rows");
                        for (unsigned wi = 0; wi < n_w; wi++)
                                for (unsigned mi = 0; mi < 4; mi++) {
                                        Cell *c = &cells[wi][mi];
                                        if (c->trials == 0)
                                                continue;
                                        json_obj(&j, NULL);
                                        json_str(&j, "watcher", watchers[wi].name);
                                        json_str(&j, "mode", modes[mi].name);
                                        if (watchers[wi].poll_ms == 0)
                                                json_bool(&j, "hold_at_limit", !watchers[wi].race);
                                        json_u64(&j, "trials", c->trials);
                                        json_u64(&j, "survived", c->survived);
                                        json_u64(&j, "oom_killed_trials", c->killed_trials);
                                        json_u64(&j, "oom_kills", c->oom_kills);
                                        json_u64(&j, "failcnt_trials", c->failcnt_trials);
                                        json_u64(&j, "errors", c->errors);
                                        json_num(&j, "rate_gbps_p50", c->rate_s.p50);
                                        json_num(&j, "rate_gbps_max", c->rate_s.max);
                                        json_end_obj(&j);
                                }
                        json_end_arr(&j);
                        json_end_file(&j);
                }
        }
        return 0;
}
