/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* 4,000 cgroups on a fake tree monitored at once by one process, within
 * the fd, thread and inotify limits: prints threads, fds, inotify
 * instances and RSS, and checks that a breach in the last cgroup is still
 * answered. */
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fake-tree.h"
#include "memcgd/engine.h"

/* 4,000 by default; sanitizer builds run fewer (MEMCGD_SCALE_N). */
static unsigned N = 4000;
#define MIB_ 1048576ULL

static long status_field(const char *name) {
        char line[256];
        long v = -1;
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, name, strlen(name)) == 0)
                        v = strtol(line + strlen(name) + 1, NULL, 10);
        fclose(f);
        return v;
}

static void count_fds(unsigned *total, unsigned *inotify) {
        char link[300], target[128];
        struct dirent *d;
        DIR *dir = opendir("/proc/self/fd");
        *total = *inotify = 0;
        if (!dir)
                return;
        while ((d = readdir(dir))) {
                if (d->d_name[0] == '.')
                        continue;
                snprintf(link, sizeof(link), "/proc/self/fd/%s", d->d_name);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                if (n > 0) {
                        target[n] = 0;
                        if (strstr(target, "inotify"))
                                (*inotify)++;
                }
                (*total)++;
        }
        closedir(dir);
}

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
        char root[] = "/tmp/memcgd-scale-XXXXXX", cg[64], cmd[128];
        EngineConfig cfg;
        MemcgError err = {};
        Engine *e;
        int failures = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (getenv("MEMCGD_SCALE_N"))
                N = (unsigned) atoi(getenv("MEMCGD_SCALE_N"));
        if (N == 0 || N > 100000)
                N = 4000;
        if (!mkdtemp(root))
                return 1;
        for (unsigned i = 0; i < N; i++) {
                snprintf(cg, sizeof(cg), "/c%u", i);
                if (fake_cgroup(root, cg, 10 * MIB_) < 0) {
                        printf("FAIL: cannot create the fake tree\n");
                        return 1;
                }
        }
        engine_config_init_default(&cfg);
        cfg.root = root;
        cfg.budget_bytes = (uint64_t) N * 128 * MIB_;
        if (engine_new(&cfg, &e, &err) < 0) {
                printf("FAIL: %s\n", err.message);
                return 1;
        }
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);

        double t0 = now_s();
        for (unsigned i = 0; i < N; i++) {
                bool already;
                snprintf(cg, sizeof(cg), "/c%u", i);
                MonitorRequest req = { .path = cg, .initial_limit = 64 * MIB_, .cookie = (uint64_t) i + 1 };
                if (engine_monitor(e, &req, &already, &err) < 0) {
                        printf("FAIL: monitor %s: %s\n", cg, err.message);
                        failures++;
                        break;
                }
        }
        unsigned started = 0;
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        while (started < N && now_s() - t0 < 120) {
                EngineEvent ev;
                (void) poll(&p, 1, 100);
                while (engine_pop_event(e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_REQUEST_DONE && ev.error.code == MEMCG_OK)
                                started++;
                        engine_event_done(&ev);
                }
        }
        double t_start = now_s() - t0;
        unsigned fds, inotify;
        count_fds(&fds, &inotify);
        long threads = status_field("Threads:"), rss = status_field("VmRSS:");
        printf("monitored %u of %u in %.2f s\n", started, N, t_start);
        printf("threads %ld, fds %u (soft limit %llu), inotify instances %u, RSS %.1f MiB\n", threads, fds,
               (unsigned long long) rl.rlim_cur, inotify, rss / 1024.0);
        if (started != N) {
                printf("FAIL: not every worker started\n");
                failures++;
        }
        if (engine_monitored_count(e) != N) {
                printf("FAIL: monitored count %u\n", engine_monitored_count(e));
                failures++;
        }
        if (inotify != 1) {
                printf("FAIL: %u inotify instances, expected one shared\n", inotify);
                failures++;
        }
        if (threads < N + 1) {
                printf("FAIL: %ld threads for %u workers\n", threads, N);
                failures++;
        }

        /* The last cgroup still answers a breach. */
        snprintf(cg, sizeof(cg), "/c%u", N - 1);
        fake_write(root, cg, "memory.current", "%llu\n", 56 * MIB_);
        fake_events(root, cg, 1, 0, 0, 0);
        bool grew = false;
        double t1 = now_s();
        while (!grew && now_s() - t1 < 10) {
                EngineEvent ev;
                (void) poll(&p, 1, 100);
                while (engine_pop_event(e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED && ev.reason == LIMIT_REASON_GROW &&
                            strcmp(ev.path, cg) == 0 && ev.new_max == 74 * MIB_)
                                grew = true;
                        engine_event_done(&ev);
                }
        }
        printf("%s: a breach in %s was answered in %.1f ms\n", grew ? "PASS" : "FAIL", cg, (now_s() - t1) * 1000);
        if (!grew)
                failures++;

        double t2 = now_s();
        engine_free(e);
        printf("stopped and joined %d workers in %.2f s\n", N, now_s() - t2);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void) !system(cmd);
        printf(failures ? "FAIL\n" : "PASS: %u cgroups monitored within the limits\n", N);
        return failures ? 1 : 0;
}
