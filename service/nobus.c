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
                if (ev->error.code == MEMCG_OK)
                        printf("started %s\n", ev->path);
                else
                        printf("failed %s error=%s message=%s\n", ev->path, memcg_error_name(ev->error.code),
                               ev->error.message);
                break;
        }
}

int run_no_bus(Engine *e, char **monitor_specs) {
        sigset_t mask;
        int sfd, failures = 0;
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
                EngineEvent ev;

                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                while (engine_pop_event(e, &ev) > 0) {
                        print_event(&ev);
                        engine_event_done(&ev);
                }
                /* One write a drain, not one a line: a burst of limit
                 * changes (thousands at once when timers coincide) is a
                 * few pipe writes. Every line is out before the next
                 * wait. */
                fflush(stdout);
        }
        close(sfd);
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
