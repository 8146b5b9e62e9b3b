/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* B3: idle cost of the daemon itself. Starts memcgd (--no-bus: the same
 * engine and main loop minus the bus connection) monitoring N idle
 * cgroups — 4,000 on a fake tree (tmpfs), and real v1 memcgs — and reads
 * its cost from /proc over a window: CPU time (every thread's schedstat
 * run time), wake-ups (every thread's schedstat timeslice count: each is
 * one time the thread was put on a CPU), context switches, and at the end
 * RSS, threads and fds. Each window also gives the main thread's share
 * apart (it announces every limit change; the rest is the workers' checks
 * and the inotify watcher).
 *
 * The first window starts as soon as every worker reported its start, so
 * it includes the shrink timer's backoff ramp (1, 2, 4 ... 32 s after
 * Monitor, each a check and for an idle cgroup a first shrink). The full
 * run adds the second minute (timers at 60 s; each idle cgroup's limit
 * still walks down, margin/n at the n-th check, one write and one event
 * each), and the settled window: measured once a whole timer period
 * (61 s) passed with no limit change, when the limits of idle cgroups no
 * longer move (margin x 0.1 from the 10th check on, about 6 minutes after
 * Monitor) and a check is a wake-up and a read of usage.
 *
 * Beside each daemon run, the floor of its settled window (below): the
 * same checks on the same cgroups by a process that does nothing else,
 * one window each for three models.
 *
 *   bench-b3 --memcgd=PATH [--small] [--json=FILE] [--fake=N] [--v1=N]
 *            [--window=S] [--no-steady] [--no-settled] [--no-floor] */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "../fake/fake-tree.h"
#include "bench.h"
#include "service/engine-internal.h"

#define MIB_ UINT64_C(1048576)

typedef struct Window {
        const char *label;
        double seconds;
        double cpu_s, cpu_pct_core;
        double wakeups_per_s, ctxsw_per_s;
        double main_cpu_s, main_wakeups_per_s; /* the main thread's share */
        uint64_t limit_changes;
} Window;

typedef struct Run {
        char variant[32];
        unsigned n, started;
        double start_s, stop_s;
        Window w[3];
        unsigned n_windows;
        ProcCost end;
        unsigned kept;     /* cgroups whose limit file the daemon kept open */
        uint64_t fd_limit; /* the daemon's RLIMIT_NOFILE */
        bool ok;
} Run;

typedef struct Reader {
        FILE *f;
        _Atomic unsigned started, failed;
        _Atomic uint64_t limits;
} Reader;

static void *reader_main(void *userdata) {
        Reader *r = userdata;
        char line[8192];
        while (fgets(line, sizeof(line), r->f)) {
                if (strncmp(line, "started ", 8) == 0)
                        r->started++;
                else if (strncmp(line, "failed ", 7) == 0) {
                        if (r->failed++ < 3)
                                fprintf(stderr, "memcgd: %s", line);
                } else if (strncmp(line, "limit ", 6) == 0)
                        r->limits++;
        }
        return NULL;
}

static Window measure(pid_t pid, Reader *rd, double seconds, const char *label) {
        ProcCost a, b;
        Window w = { .label = label, .seconds = seconds };
        uint64_t l0 = rd->limits;
        uint64_t t0 = bench_now_ns();
        (void) bench_proc_cost(pid, &a);
        bench_sleep_ms((unsigned) (seconds * 1000));
        (void) bench_proc_cost(pid, &b);
        double dt = (double) (bench_now_ns() - t0) / 1e9;
        w.seconds = dt;
        w.cpu_s = (double) (b.cpu_ns - a.cpu_ns) / 1e9;
        w.cpu_pct_core = 100.0 * w.cpu_s / dt;
        w.wakeups_per_s = (double) (b.runs - a.runs) / dt;
        w.ctxsw_per_s = (double) ((b.vol_cs + b.invol_cs) - (a.vol_cs + a.invol_cs)) / dt;
        w.main_cpu_s = (double) (b.main_cpu_ns - a.main_cpu_ns) / 1e9;
        w.main_wakeups_per_s = (double) (b.main_runs - a.main_runs) / dt;
        w.limit_changes = rd->limits - l0;
        return w;
}

/* Waits until `quiet_s` seconds passed with no limit change (at most
 * `cap_s`); true if they did. */
static bool wait_settled(pid_t pid, Reader *rd, double quiet_s, double cap_s) {
        uint64_t start = bench_now_ns(), since = start, seen = rd->limits;
        while ((double) (bench_now_ns() - start) / 1e9 < cap_s && kill(pid, 0) == 0) {
                bench_sleep_ms(500);
                if (rd->limits != seen) {
                        seen = rd->limits;
                        since = bench_now_ns();
                } else if ((double) (bench_now_ns() - since) / 1e9 >= quiet_s)
                        return true;
        }
        return false;
}

static void run_daemon(Run *run, const char *memcgd, const char *root, char **paths, unsigned n, double window,
                       bool steady, bool settled) {
        char tmpl[] = "/tmp/memcgd-bench-b3-XXXXXX";
        char conf[256], state[256], rootarg[300];
        if (!mkdtemp(tmpl))
                return;
        snprintf(conf, sizeof(conf), "%s/memcgd.conf", tmpl);
        snprintf(state, sizeof(state), "--state-directory=%s/state", tmpl);
        FILE *cf = fopen(conf, "we");
        if (cf) {
                fputs("# bench-b3: defaults\n[Manager]\n", cf);
                fclose(cf);
        }
        char confarg[300];
        snprintf(confarg, sizeof(confarg), "--config=%s", conf);

        char **argv = calloc(n + 16, sizeof(char *));
        unsigned a = 0;
        argv[a++] = (char *) memcgd;
        argv[a++] = "--no-bus";
        argv[a++] = confarg;
        argv[a++] = state;
        argv[a++] = "--budget=1T";
        argv[a++] = "--log-level=warning";
        if (root) {
                snprintf(rootarg, sizeof(rootarg), "--root=%s", root);
                argv[a++] = rootarg;
        }
        for (unsigned i = 0; i < n; i++) {
                argv[a] = malloc(strlen(paths[i]) + 32);
                sprintf(argv[a++], "--monitor=%s=64M", paths[i]);
        }
        argv[a] = NULL;

        Child c;
        Reader rd = {};
        uint64_t t0 = bench_now_ns();
        if (bench_child_start(&c, argv) < 0) {
                fprintf(stderr, "cannot start %s\n", memcgd);
                goto out;
        }
        rd.f = c.out;
        pthread_t th;
        pthread_create(&th, NULL, reader_main, &rd);
        while (rd.started + rd.failed < n && bench_now_ns() - t0 < 600 * UINT64_C(1000000000) &&
               kill(c.pid, 0) == 0)
                bench_sleep_ms(50);
        run->started = rd.started;
        run->start_s = (double) (bench_now_ns() - t0) / 1e9;
        printf("# %s: %u of %u workers started in %.1f s\n", run->variant, run->started, n, run->start_s);
        if (rd.started == n) {
                run->w[run->n_windows++] = measure(c.pid, &rd, window, "ramp");
                if (steady)
                        run->w[run->n_windows++] = measure(c.pid, &rd, window, "minute 2");
                if (settled) {
                        uint64_t t_wait = bench_now_ns();
                        if (wait_settled(c.pid, &rd, 61, 900)) {
                                printf("# %s: limits settled (61 s without a change) %.0f s after start\n", run->variant,
                                       (double) (bench_now_ns() - t0) / 1e9);
                                run->w[run->n_windows++] = measure(c.pid, &rd, window, "settled");
                        } else
                                printf("# %s: limits still moving %.0f s later: no settled window\n", run->variant,
                                       (double) (bench_now_ns() - t_wait) / 1e9);
                }
                (void) bench_proc_cost(c.pid, &run->end);
                /* Workers keep their files open only while the fd table
                 * is less than half full: where the fd limit is low, the
                 * rest open them at each use. */
                run->kept = bench_count_fds_named(c.pid, root ? "memory.max" : "memory.limit_in_bytes");
                struct rlimit rl;
                run->fd_limit = prlimit(c.pid, RLIMIT_NOFILE, NULL, &rl) == 0 ? (uint64_t) rl.rlim_cur : 0;
                run->ok = true;
        }
        uint64_t t1 = bench_now_ns();
        kill(c.pid, SIGTERM);
        c.out = NULL; /* the reader thread owns it */
        int status = bench_child_wait(&c);
        run->stop_s = (double) (bench_now_ns() - t1) / 1e9;
        pthread_join(th, NULL);
        fclose(rd.f);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fprintf(stderr, "memcgd exited with status %d\n", status);
out:
        for (unsigned i = 0; i < n; i++)
                free(argv[a - n + i]);
        free(argv);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        (void) !system(cmd);
}

/* ---- the floor ------------------------------------------------------------- */

/* What the settled window's work costs by itself, measured like the daemon:
 * a process that does nothing but memcgd's settled checks - sleep in
 * ppoll() on an eventfd until a check is due, read the cgroup's usage file
 * (kept open), and set the next deadline 60 s on (the shrink timer's
 * ceiling) on the engine's own grid (engine_timer_deadline()).
 *
 * A wake-up costs less when many threads wake in the same timer interrupt
 * (the grid is there for that), so the thread-a-cgroup model (DESIGN.md's)
 * runs twice: every check in phase (one wake-up of all threads, 2 s after
 * the start, then a minute later: the best case), and the checks spread
 * evenly over the minute (the worst case; each grid step wakes its share).
 * The daemon's own settled timers lie in between: its workers start
 * together and their backoff ramps keep them close, until events scatter
 * them. A third model checks every cgroup from one loop, spread: what the
 * same checks cost without a thread each. */

typedef struct Floor {
        unsigned n;
        int *fd;           /* usage files */
        int ctl;           /* an eventfd nothing writes: polled as a worker's */
        uint64_t period;   /* usec */
        bool in_phase;
        uint64_t t0;       /* usec, CLOCK_MONOTONIC */
        _Atomic uint64_t reads, failed;
} Floor;

typedef struct FloorThread {
        Floor *f;
        unsigned i;
} FloorThread;

/* Thread i's first check: in phase, all 2 s on; else i+1 n-ths of a
 * period on, on the period's grid. */
static uint64_t floor_first(const Floor *f, unsigned i) {
        if (f->in_phase)
                return engine_timer_deadline(f->t0, 2 * 1000 * 1000);
        uint64_t at = f->t0 + f->period * (i + 1) / f->n;
        return engine_timer_deadline(at > f->period ? at - f->period : 0, f->period);
}

static void floor_sleep_until(const Floor *f, uint64_t deadline) {
        struct pollfd p = { .fd = f->ctl, .events = POLLIN };
        uint64_t now = now_usec();
        struct timespec ts = {};

        if (deadline > now)
                ts = (struct timespec) { .tv_sec = (time_t) ((deadline - now) / 1000000),
                                         .tv_nsec = (long) ((deadline - now) % 1000000) * 1000 };
        (void) ppoll(&p, 1, &ts, NULL);
}

static void floor_check(Floor *f, unsigned i) {
        char buf[32];
        if (pread(f->fd[i], buf, sizeof(buf), 0) > 0)
                f->reads++;
        else
                f->failed++;
}

static void *floor_thread_main(void *arg) {
        FloorThread *t = arg;
        Floor *f = t->f;
        uint64_t deadline = floor_first(f, t->i);

        for (;;) {
                floor_sleep_until(f, deadline);
                if (now_usec() < deadline)
                        continue;
                floor_check(f, t->i);
                deadline = engine_timer_deadline(now_usec(), f->period);
        }
        return NULL;
}

static void *floor_loop_main(void *arg) {
        Floor *f = arg;
        uint64_t *deadline = calloc(f->n, sizeof(uint64_t));

        for (unsigned i = 0; i < f->n; i++)
                deadline[i] = floor_first(f, i);
        for (;;) {
                uint64_t next = UINT64_MAX;
                for (unsigned i = 0; i < f->n; i++)
                        if (deadline[i] < next)
                                next = deadline[i];
                floor_sleep_until(f, next);
                uint64_t now = now_usec();
                for (unsigned i = 0; i < f->n; i++)
                        if (deadline[i] <= now) {
                                floor_check(f, i);
                                deadline[i] = engine_timer_deadline(now, f->period);
                        }
        }
        return NULL;
}

/* The child: opens the files, starts the threads, says "ready" on `out`,
 * answers each byte on `in` with "reads R failed F" (the counts so far)
 * and exits at EOF. */
static int floor_child(char **files, unsigned n, bool threaded, bool in_phase, int in, int out) {
        Floor f = { .n = n, .period = UINT64_C(60000000), .in_phase = in_phase };
        char line[64];

        f.fd = calloc(n, sizeof(int));
        f.ctl = eventfd(0, EFD_CLOEXEC);
        if (!f.fd || f.ctl < 0)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                f.fd[i] = open(files[i], O_RDONLY | O_CLOEXEC);
                if (f.fd[i] < 0) {
                        fprintf(stderr, "floor: %s: %s\n", files[i], strerror(errno));
                        return 1;
                }
        }
        f.t0 = now_usec();
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 128 * 1024);
        FloorThread *t = calloc(n, sizeof(FloorThread));
        for (unsigned i = 0; i < (threaded ? n : 1); i++) {
                pthread_t th;
                t[i] = (FloorThread) { .f = &f, .i = i };
                if (pthread_create(&th, &attr, threaded ? floor_thread_main : floor_loop_main,
                                   threaded ? (void *) &t[i] : (void *) &f) != 0) {
                        fprintf(stderr, "floor: thread %u: %s\n", i, strerror(errno));
                        return 1;
                }
        }
        pthread_attr_destroy(&attr);
        (void) !write(out, "ready\n", 6);
        while (read(in, line, 1) > 0) {
                int len = snprintf(line, sizeof(line), "reads %llu failed %llu\n", (unsigned long long) f.reads,
                                   (unsigned long long) f.failed);
                (void) !write(out, line, (size_t) len);
        }
        _exit(0);
}

typedef struct FloorRun {
        char variant[32];
        const char *model;
        unsigned n;
        Window w;
        ProcCost end;
        unsigned long long reads, failed;
        bool ok;
} FloorRun;

static bool floor_counts(int to, FILE *from, unsigned long long *reads, unsigned long long *failed) {
        char line[128];
        return write(to, "?", 1) == 1 && fgets(line, sizeof(line), from) &&
               sscanf(line, "reads %llu failed %llu", reads, failed) == 2;
}

static void run_floor(FloorRun *fr, char **files, unsigned n, bool threaded, bool in_phase, double window) {
        int to_child[2], from_child[2];
        Reader none = {};
        char line[128];

        fr->n = n;
        fr->model = !threaded ? "one loop, spread" : in_phase ? "threads, in phase" : "threads, spread";
        if (pipe2(to_child, O_CLOEXEC) < 0)
                return;
        if (pipe2(from_child, O_CLOEXEC) < 0) {
                close(to_child[0]);
                close(to_child[1]);
                return;
        }
        pid_t pid = fork();
        if (pid == 0) {
                close(to_child[1]);
                close(from_child[0]);
                _exit(floor_child(files, n, threaded, in_phase, to_child[0], from_child[1]));
        }
        close(to_child[0]);
        close(from_child[1]);
        FILE *out = pid > 0 ? fdopen(from_child[0], "re") : NULL;
        if (!out) {
                close(from_child[0]);
                close(to_child[1]);
                if (pid > 0)
                        (void) waitpid(pid, NULL, 0);
                return;
        }
        unsigned long long r0, f0;
        if (fgets(line, sizeof(line), out) && strcmp(line, "ready\n") == 0) {
                bench_sleep_ms(1000);
                fr->ok = floor_counts(to_child[1], out, &r0, &f0);
                fr->w = measure(pid, &none, window, fr->model);
                (void) bench_proc_cost(pid, &fr->end);
                if (fr->ok && floor_counts(to_child[1], out, &fr->reads, &fr->failed)) {
                        fr->reads -= r0;
                        fr->failed -= f0;
                } else
                        fr->ok = false;
        } else
                fprintf(stderr, "floor (%s): the child did not start\n", fr->model);
        close(to_child[1]);
        fclose(out);
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fr->ok = false;
}

/* The three floor models over the cgroups `paths` under `root` ("" for
 * absolute paths), reading `file` in each. */
static void run_floors(FloorRun *fl, unsigned *n_fl, const char *variant, const char *root, char **paths, unsigned n,
                       const char *file, double window) {
        char **files = calloc(n, sizeof(char *));
        for (unsigned i = 0; i < n; i++)
                if (asprintf(&files[i], "%s%s/%s", root, paths[i], file) < 0)
                        files[i] = NULL;
        static const struct {
                bool threaded, in_phase;
        } models[] = { { true, true }, { true, false }, { false, false } };
        for (size_t k = 0; k < sizeof(models) / sizeof(models[0]); k++) {
                FloorRun *fr = &fl[(*n_fl)++];
                snprintf(fr->variant, sizeof(fr->variant), "%s", variant);
                run_floor(fr, files, n, models[k].threaded, models[k].in_phase, window);
                printf("# %s: floor, %s: %s\n", variant, fr->model, fr->ok ? "measured" : "failed");
        }
        for (unsigned i = 0; i < n; i++)
                free(files[i]);
        free(files);
}

/* CPU time a check, the wake-up included. */
static double us_per_check(const FloorRun *fr) {
        return fr->reads ? fr->w.cpu_s * 1e6 / (double) fr->reads : 0.0;
}

static void print_floor(const FloorRun *fr) {
        if (!fr->ok) {
                printf("%-10s %5u %-17s failed\n", fr->variant, fr->n, fr->model);
                return;
        }
        printf("%-10s %5u %-17s %5.0f %8.3f %8.3f %9.1f %9.1f %7llu %9.1f %7llu %8.1f %7u\n", fr->variant, fr->n,
               fr->model, fr->w.seconds, fr->w.cpu_s, fr->w.cpu_pct_core, fr->w.wakeups_per_s, fr->w.ctxsw_per_s,
               fr->reads, us_per_check(fr), fr->failed,
               (double) fr->end.rss_kib / 1024.0, fr->end.threads);
}

/* CPU time a wake-up, all work included. */
static double us_per_wakeup(const Window *w) {
        return w->wakeups_per_s > 0 ? w->cpu_s * 1e6 / (w->wakeups_per_s * w->seconds) : 0.0;
}

static void print_run(const Run *r) {
        for (unsigned k = 0; k < r->n_windows; k++) {
                const Window *w = &r->w[k];
                printf("%-10s %5u %-8s %5.0f %8.3f %8.3f %9.1f %8.1f %9.1f %7llu %8.1f %7u %6u %s\n", r->variant, r->n,
                       w->label, w->seconds, w->cpu_s, w->cpu_pct_core, w->wakeups_per_s, us_per_wakeup(w),
                       w->ctxsw_per_s, (unsigned long long) w->limit_changes, (double) r->end.rss_kib / 1024.0,
                       r->end.threads, r->end.fds,
                       w->cpu_pct_core < 0.2 && r->end.rss_kib < 64 * 1024 ? "yes" : "no");
        }
        for (unsigned k = 0; k < r->n_windows; k++) {
                const Window *w = &r->w[k];
                printf("%-10s   %s: main thread %.3f %% (%.1f wake-ups/s), workers and watcher %.3f %% (%.1f/s)\n", "",
                       w->label, 100.0 * w->main_cpu_s / w->seconds, w->main_wakeups_per_s,
                       100.0 * (w->cpu_s - w->main_cpu_s) / w->seconds, w->wakeups_per_s - w->main_wakeups_per_s);
        }
        if (r->ok) {
                printf("%-10s   started in %.1f s, SIGTERM to exit %.2f s\n", "", r->start_s, r->stop_s);
                printf("%-10s   limit file kept open for %u of %u cgroups (fd limit %llu)\n", "", r->kept, r->n,
                       (unsigned long long) r->fd_limit);
        }
}

int main(int argc, char **argv) {
        bool small = bench_flag(argc, argv, "--small");
        const char *memcgd = bench_opt(argc, argv, "--memcgd");
        const char *json = bench_opt(argc, argv, "--json");
        unsigned n_fake = (unsigned) bench_opt_long(argc, argv, "--fake", 4000);
        unsigned n_v1 = (unsigned) bench_opt_long(argc, argv, "--v1", small ? 200 : 1000);
        double window = (double) bench_opt_long(argc, argv, "--window", small ? 10 : 60);
        bool steady = !small && !bench_flag(argc, argv, "--no-steady");
        bool settled = !small && !bench_flag(argc, argv, "--no-settled");
        bool floors = !bench_flag(argc, argv, "--no-floor");
        /* The smoke run only shows that the floors work: 3 s a model (the
         * in-phase checks all fall in it, 2 s after the start). */
        double floor_window = small ? 3 : window;
        Run runs[2] = {};
        unsigned n_runs = 0;
        FloorRun fl[6] = {};
        unsigned n_fl = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (!memcgd)
                memcgd = getenv("MEMCGD_BIN");
        if (!memcgd || access(memcgd, X_OK) < 0) {
                printf("SKIP B3: the daemon binary (--memcgd= or MEMCGD_BIN) is missing\n");
                return 77;
        }
        uint64_t t_start = bench_now_ns();

        if (n_fake > 0) {
                /* tmpfs, like cgroupfs in memory (bench-b1.c says why). */
                char root[64];
                snprintf(root, sizeof(root), "%s/memcgd-bench-b3-XXXXXX",
                         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
                if (mkdtemp(root)) {
                        char **paths = calloc(n_fake, sizeof(char *));
                        for (unsigned i = 0; i < n_fake; i++) {
                                paths[i] = malloc(32);
                                snprintf(paths[i], 32, "/c%u", i);
                                (void) fake_cgroup(root, paths[i], 10 * MIB_);
                        }
                        Run *r = &runs[n_runs++];
                        snprintf(r->variant, sizeof(r->variant), "fake");
                        r->n = n_fake;
                        run_daemon(r, memcgd, root, paths, n_fake, window, steady, settled);
                        if (floors)
                                run_floors(fl, &n_fl, "fake", root, paths, n_fake, "memory.current", floor_window);
                        for (unsigned i = 0; i < n_fake; i++)
                                free(paths[i]);
                        free(paths);
                        char cmd[300];
                        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                        (void) !system(cmd);
                }
        }

        const char *v1 = n_v1 > 0 ? bench_require_v1("B3 on v1") : NULL;
        if (v1) {
                char **rel = calloc(n_v1, sizeof(char *)), **abs_ = calloc(n_v1, sizeof(char *));
                unsigned made = 0;
                for (unsigned i = 0; i < n_v1; i++) {
                        char name[32];
                        rel[i] = malloc(256);
                        abs_[i] = malloc(320);
                        snprintf(name, sizeof(name), "b3-%u", i);
                        if (bench_memcg_create(v1, name, rel[i], 256, abs_[i], 320) < 0)
                                break;
                        made++;
                }
                Run *r = &runs[n_runs++];
                snprintf(r->variant, sizeof(r->variant), "v1");
                r->n = made;
                run_daemon(r, memcgd, NULL, rel, made, window, steady, settled);
                if (floors)
                        run_floors(fl, &n_fl, "v1", "", abs_, made, "memory.usage_in_bytes", floor_window);
                for (unsigned i = 0; i < made; i++)
                        bench_memcg_remove(abs_[i]);
                for (unsigned i = 0; i < n_v1; i++) {
                        free(rel[i]);
                        free(abs_[i]);
                }
                free(rel);
                free(abs_);
        }

        printf("\nB3 idle cost of memcgd (--no-bus) monitoring idle cgroups; CPU %% is of one core\n");
        printf("%-10s %5s %-8s %5s %8s %8s %9s %8s %9s %7s %8s %7s %6s %s\n", "variant", "N", "window", "s", "cpu s",
               "cpu %", "wakeups/s", "us/wake", "ctxsw/s", "limits", "RSS MiB", "threads", "fds", "target met");
        for (unsigned k = 0; k < n_runs; k++)
                print_run(&runs[k]);
        printf("target: < 0.2%% of one core and RSS < 64 MiB\n");
        if (n_fl > 0) {
                printf("\nB3 floor: the settled checks alone, in the same run (a wake-up every 60 s on the engine's timer\n"
                       "grid and a read of the usage file); CPU %% is of one core\n");
                printf("%-10s %5s %-17s %5s %8s %8s %9s %9s %7s %9s %7s %8s %7s\n", "variant", "N", "model", "s", "cpu s",
                       "cpu %", "wakeups/s", "ctxsw/s", "checks", "us/check", "failed", "RSS MiB", "threads");
                for (unsigned k = 0; k < n_fl; k++)
                        print_floor(&fl[k]);
        }
        printf("B3 ran in %.1f s\n", (double) (bench_now_ns() - t_start) / 1e9);

        if (json) {
                Json j;
                if (json_begin_file(&j, json, "B3 idle cost") == 0) {
                        json_bool(&j, "small", small);
                        json_arr(&j, "rows");
                        for (unsigned k = 0; k < n_runs; k++) {
                                Run *r = &runs[k];
                                for (unsigned w = 0; w < r->n_windows; w++) {
                                        json_obj(&j, NULL);
                                        json_str(&j, "variant", r->variant);
                                        json_u64(&j, "cgroups", r->n);
                                        json_str(&j, "window", r->w[w].label);
                                        json_num(&j, "seconds", r->w[w].seconds);
                                        json_num(&j, "cpu_seconds", r->w[w].cpu_s);
                                        json_num(&j, "cpu_percent_of_one_core", r->w[w].cpu_pct_core);
                                        json_num(&j, "wakeups_per_second", r->w[w].wakeups_per_s);
                                        json_num(&j, "cpu_us_per_wakeup", us_per_wakeup(&r->w[w]));
                                        json_num(&j, "context_switches_per_second", r->w[w].ctxsw_per_s);
                                        json_num(&j, "main_thread_cpu_seconds", r->w[w].main_cpu_s);
                                        json_num(&j, "main_thread_wakeups_per_second", r->w[w].main_wakeups_per_s);
                                        json_u64(&j, "limit_changes", r->w[w].limit_changes);
                                        json_u64(&j, "rss_kib", r->end.rss_kib);
                                        json_u64(&j, "rss_anon_kib", r->end.rss_anon_kib);
                                        json_u64(&j, "threads", r->end.threads);
                                        json_u64(&j, "fds", r->end.fds);
                                        json_u64(&j, "limit_files_kept_open", r->kept);
                                        json_u64(&j, "fd_limit", r->fd_limit);
                                        json_num(&j, "start_seconds", r->start_s);
                                        json_num(&j, "stop_seconds", r->stop_s);
                                        json_bool(&j, "target_met", r->w[w].cpu_pct_core < 0.2 &&
                                                                            r->end.rss_kib < 64 * 1024);
                                        json_end_obj(&j);
                                }
                        }
                        json_end_arr(&j);
                        json_arr(&j, "floors");
                        for (unsigned k = 0; k < n_fl; k++) {
                                FloorRun *f = &fl[k];
                                json_obj(&j, NULL);
                                json_str(&j, "variant", f->variant);
                                json_u64(&j, "cgroups", f->n);
                                json_str(&j, "model", f->model);
                                json_bool(&j, "ok", f->ok);
                                json_num(&j, "seconds", f->w.seconds);
                                json_num(&j, "cpu_seconds", f->w.cpu_s);
                                json_num(&j, "cpu_percent_of_one_core", f->w.cpu_pct_core);
                                json_num(&j, "wakeups_per_second", f->w.wakeups_per_s);
                                json_num(&j, "context_switches_per_second", f->w.ctxsw_per_s);
                                json_u64(&j, "checks", f->reads);
                                json_num(&j, "cpu_us_per_check", us_per_check(f));
                                json_u64(&j, "failed_reads", f->failed);
                                json_u64(&j, "rss_kib", f->end.rss_kib);
                                json_u64(&j, "threads", f->end.threads);
                                json_end_obj(&j);
                        }
                        json_end_arr(&j);
                        json_end_file(&j);
                }
        }
        return n_runs ? 0 : 77;
}
