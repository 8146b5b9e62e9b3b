/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "memcgd/parse.h"
#include "nobus.h"

/* Cookies of the unmonitors at exit start here: their REQUEST_DONE is no
 * "started" line (the "stopped" line follows). */
#define UNMONITOR_COOKIE_BASE (UINT64_C(1) << 62)

/* How long the exit waits for the workers to put the limits back. A
 * restore that reclaims can take a while; one stuck in the kernel must
 * not keep the process forever (engine_free() then joins it anyway). */
#define RESTORE_TIMEOUT_MS 10000

static void print_event(const EngineEvent *ev) {
        switch (ev->type) {
        case ENGINE_EVENT_LIMIT_CHANGED:
                printf("limit %s reason=%s old_max=%llu new_max=%llu new_high=%llu\n", ev->path,
                       limit_reason_to_string(ev->reason), (unsigned long long) ev->old_max,
                       (unsigned long long) ev->new_max, (unsigned long long) ev->new_high);
                break;
        case ENGINE_EVENT_OOM:
                printf("oom %s kind=%s count=%llu\n", ev->path, oom_kind_to_string(ev->oom_kind),
                       (unsigned long long) ev->oom_count);
                break;
        case ENGINE_EVENT_BUDGET_EXHAUSTED:
                printf("budget-exhausted %s requested=%llu granted=%llu\n", ev->path,
                       (unsigned long long) ev->requested, (unsigned long long) ev->granted);
                break;
        case ENGINE_EVENT_TASKS_KILLED:
                for (size_t i = 0; i < ev->n_tasks; i++)
                        printf("killed %s pid=%u comm=%s by=%s\n", ev->path, ev->tasks[i].pid, ev->tasks[i].comm,
                               kill_cause_to_string(ev->kill_cause));
                break;
        case ENGINE_EVENT_STOPPED:
                printf("stopped %s reason=%s\n", ev->path, stop_reason_to_string(ev->stop_reason));
                break;
        case ENGINE_EVENT_PRESSURE:
                printf("pressure %s level=%s\n", ev->path, pressure_level_to_string(ev->pressure_level));
                break;
        case ENGINE_EVENT_RECLAIM_WANTED:
                printf("reclaim-wanted %s bytes=%llu cause=%s\n", ev->path, (unsigned long long) ev->reclaim_bytes,
                       reclaim_cause_to_string(ev->reclaim_cause));
                break;
        case ENGINE_EVENT_REQUEST_DONE:
                if (ev->error.code == MEMCG_OK) {
                        /* An unmonitor at exit: its "stopped" line follows. */
                        if (ev->cookie < UNMONITOR_COOKIE_BASE)
                                printf("started %s\n", ev->path);
                } else
                        printf("failed %s error=%s message=%s\n", ev->path, memcg_error_name(ev->error.code),
                               ev->error.message);
                break;
        }
}

/* Prints what is queued; counts the requests that failed (a Monitor the
 * worker could not start reports it here, after engine_monitor() took
 * it) and the workers that ended. */
static void drain(Engine *e, int *failures, unsigned *stopped) {
        EngineEvent ev;

        while (engine_pop_event(e, &ev) > 0) {
                print_event(&ev);
                if (ev.type == ENGINE_EVENT_REQUEST_DONE && ev.error.code != MEMCG_OK)
                        (*failures)++;
                if (ev.type == ENGINE_EVENT_STOPPED)
                        (*stopped)++;
                engine_event_done(&ev);
        }
        /* One write a drain, not one a line: a burst of limit changes
         * (thousands at once when timers coincide) is a few pipe writes.
         * Every line is out before the next wait. */
        fflush(stdout);
}

/* Nothing re-attaches after this mode (it keeps no state file): the
 * limits from before go back, as Unmonitor puts them back. Waits for the
 * workers' STOPPED events, printing the restore lines. */
static void unmonitor_all(Engine *e, int *failures) {
        char **paths = NULL;
        unsigned asked = 0, stopped = 0;
        uint64_t cookie = UNMONITOR_COOKIE_BASE;

        if (engine_list_monitored(e, &paths) < 0)
                return;
        for (char **p = paths; p && *p; p++) {
                MemcgError err = {};
                if (engine_unmonitor(e, *p, cookie++, &err) < 0) {
                        printf("failed %s error=%s message=%s\n", *p, memcg_error_name(err.code), err.message);
                        (*failures)++;
                        continue;
                }
                asked++;
        }
        engine_strv_free(paths);
        fflush(stdout);

        for (int64_t left = RESTORE_TIMEOUT_MS; stopped < asked && left > 0; left -= 100) {
                struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
                if (poll(&p, 1, 100) < 0 && errno != EINTR)
                        break;
                drain(e, failures, &stopped);
        }
        if (stopped < asked)
                log_warning("%u of %u cgroup(s) did not put their limits back in time", asked - stopped, asked);
}

int run_no_bus(Engine *e, char **monitor_specs) {
        sigset_t mask;
        int sfd, failures = 0;
        unsigned stopped = 0;
        uint64_t cookie = 1;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                log_error("signalfd: %s", strerror(errno));
                return EXIT_FAILURE;
        }

        for (char **s = monitor_specs; s && *s; s++) {
                char *spec = strdup(*s);
                char *eq = spec ? strrchr(spec, '=') : NULL;
                uint64_t limit = 0;
                MemcgError err = {};
                bool already;

                if (!spec)
                        return EXIT_FAILURE;
                if (eq) {
                        *eq = '\0';
                        if (parse_size(eq + 1, &limit) < 0) {
                                log_error("Invalid size in --monitor=%s", *s);
                                free(spec);
                                close(sfd);
                                return EXIT_FAILURE;
                        }
                }
                MonitorRequest req = { .path = spec, .initial_limit = limit, .cookie = cookie++ };
                if (engine_monitor(e, &req, &already, &err) < 0) {
                        printf("failed %s error=%s message=%s\n", spec, memcg_error_name(err.code), err.message);
                        fflush(stdout);
                        failures++;
                }
                free(spec);
        }

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = engine_event_fd(e), .events = POLLIN },
                        { .fd = sfd, .events = POLLIN },
                };

                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                drain(e, &failures, &stopped);
        }
        close(sfd);
        /* What is queued still belongs to the run (a failed start among
         * it counts). */
        drain(e, &failures, &stopped);
        unmonitor_all(e, &failures);
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
