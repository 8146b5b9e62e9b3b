/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine's inotify queue overflows (fs.inotify.max_queued_events):
 * the kernel drops events and queues IN_Q_OVERFLOW instead. A removal
 * whose event was dropped must still end its worker at once, not at the
 * worker's next timer an hour later.
 *
 * The engine's inotify instance is created while the sysctl is 1 (the
 * value is taken at inotify_init1(); it is restored right after). Each
 * round freezes the engine's watcher thread (memcgd-notify) in a cgroup
 * v1 freezer of its own, changes one cgroup's memory.events (the one
 * event the queue holds), removes another cgroup's files (its event is
 * dropped: the queue is full) and thaws the thread. The removed cgroup's
 * worker (its timer: 3,600 s) must end with reason "removed" within 3 s.
 *
 * Root only (the sysctl, the freezer); a fake tree, so no memory
 * controller needed: part of the fault suite. Exits 77 when it cannot
 * set the sysctl or has no v1 freezer. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake-tree.h"
#include "memcgd/engine.h"
#include "service/engine-internal.h"

#define MIB_ UINT64_C(1048576)
#define N_CGROUPS 20
#define ROUNDS 10
#define SYSCTL "/proc/sys/fs/inotify/max_queued_events"
#define FREEZER "/sys/fs/cgroup/freezer"

static int fails;

static void check(bool ok, const char *what) {
        printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
        fflush(stdout);
        if (!ok)
                fails++;
}

static int write_file(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, value, strlen(value));
        close(fd);
        return n == (ssize_t) strlen(value) ? 0 : -1;
}

/* The thread of this process named `name`, or -1. */
static pid_t find_thread(const char *name) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        pid_t tid = -1;

        while (d && (de = readdir(d))) {
                char path[300], comm[32] = {};
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
                FILE *f = fopen(path, "re");
                if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, name, strlen(name)) == 0 &&
                    comm[strlen(name)] == '\n')
                        tid = (pid_t) atoi(de->d_name);
                if (f)
                        fclose(f);
        }
        if (d)
                closedir(d);
        return tid;
}

/* Sets the freezer's state and waits until the kernel reports it. */
static bool freezer_set(const char *dir, const char *state) {
        char path[300], buf[32];

        snprintf(path, sizeof(path), "%s/freezer.state", dir);
        if (write_file(path, state) < 0)
                return false;
        for (int i = 0; i < 1000; i++) {
                FILE *f = fopen(path, "re");
                bool done = f && fgets(buf, sizeof(buf), f) && strncmp(buf, state, strlen(state)) == 0;
                if (f)
                        fclose(f);
                if (done)
                        return true;
                usleep(1000);
        }
        return false;
}

/* Waits up to timeout_ms for the STOPPED event of path; its reason, or -1. */
static int wait_stopped(Engine *e, const char *path, int timeout_ms, unsigned *ret_ms) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                EngineEvent ev;
                while (engine_pop_event(e, &ev) > 0) {
                        bool mine = ev.type == ENGINE_EVENT_STOPPED && strcmp(ev.path, path) == 0;
                        int reason = (int) ev.stop_reason;
                        engine_event_done(&ev);
                        if (mine) {
                                clock_gettime(CLOCK_MONOTONIC, &t1);
                                *ret_ms = (unsigned) ((t1.tv_sec - t0.tv_sec) * 1000 +
                                                      (t1.tv_nsec - t0.tv_nsec) / 1000000);
                                return reason;
                        }
                }
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
                        return -1;
                (void) poll(&p, 1, 10);
        }
}

static bool wait_request(Engine *e, uint64_t cookie) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        for (int waited = 0; waited < 5000; waited += 10) {
                EngineEvent ev;
                while (engine_pop_event(e, &ev) > 0) {
                        bool done = ev.type == ENGINE_EVENT_REQUEST_DONE && ev.cookie == cookie &&
                                    ev.error.code == MEMCG_OK;
                        engine_event_done(&ev);
                        if (done)
                                return true;
                }
                (void) poll(&p, 1, 10);
        }
        return false;
}

int main(void) {
        char root[64] = "/tmp/memcgd-overflow-XXXXXX", old[32] = {}, cmd[128], path[256];
        EngineConfig cfg;
        MemcgError err = {};
        Engine *e = NULL;
        int fd, r;

        fd = open(SYSCTL, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, old, sizeof(old) - 1) <= 0) {
                printf("SKIP: cannot read %s\n", SYSCTL);
                return 77;
        }
        close(fd);
        if (!mkdtemp(root)) {
                perror("mkdtemp");
                return 1;
        }
        engine_config_init_default(&cfg);
        cfg.tunables.shrink_base_usec = cfg.tunables.shrink_max_usec = 3600 * UINT64_C(1000000);
        cfg.budget_bytes = 4096 * MIB_;
        cfg.root = root;

        /* The window in which other inotify users of this host would get
         * the small queue too: engine_new() alone. */
        if (write_file(SYSCTL, "1\n") < 0) {
                printf("SKIP: cannot write %s (needs root)\n", SYSCTL);
                rmdir(root);
                return 77;
        }
        r = engine_new(&cfg, &e, &err);
        if (write_file(SYSCTL, old) < 0)
                printf("FAIL: could not restore %s to %s", SYSCTL, old);
        if (r < 0) {
                printf("FAIL: engine_new: %s\n", err.message);
                return 1;
        }

        char freezer[128], tasks[160], tidtext[16];
        pid_t tid = find_thread("memcgd-notify");
        snprintf(freezer, sizeof(freezer), FREEZER "/memcgd-overflow-%d", (int) getpid());
        snprintf(tasks, sizeof(tasks), "%s/tasks", freezer);
        snprintf(tidtext, sizeof(tidtext), "%d\n", (int) tid);
        if (access(FREEZER "/freezer.state", F_OK) < 0 && access(FREEZER "/tasks", F_OK) < 0) {
                printf("SKIP: no cgroup v1 freezer at " FREEZER " to hold the watcher thread still\n");
                engine_free(e);
                rmdir(root);
                return 77;
        }
        if (tid < 0 || mkdir(freezer, 0755) < 0 || write_file(tasks, tidtext) < 0) {
                printf("FAIL: cannot put the watcher thread (%d) into %s: %s\n", (int) tid, freezer, strerror(errno));
                return 1;
        }

        for (unsigned i = 0; i < N_CGROUPS; i++) {
                char cg[16];
                snprintf(cg, sizeof(cg), "/c%u", i);
                MonitorRequest req = { .path = cg, .initial_limit = 64 * MIB_, .cookie = i + 1 };
                bool already = false;
                if (fake_cgroup(root, cg, 10 * MIB_) < 0 || engine_monitor(e, &req, &already, &err) < 0 ||
                    !wait_request(e, i + 1)) {
                        printf("FAIL: monitoring %s: %s\n", cg, err.message);
                        return 1;
                }
        }

        unsigned overflow_rounds = 0, rounds = 0, slowest = 0;
        for (unsigned k = 0; k < ROUNDS; k++) {
                char cg[16], other[16];
                unsigned before = notify_overflows(e->notify), ms = 0;

                snprintf(cg, sizeof(cg), "/c%u", k);
                snprintf(other, sizeof(other), "/c%u", k + 1);
                if (!freezer_set(freezer, "FROZEN")) {
                        printf("FAIL: the watcher thread did not freeze\n");
                        fails++;
                        break;
                }
                /* The same text again: an IN_MODIFY that changes nothing,
                 * and the one event the queue holds. */
                (void) fake_events(root, other, 0, 0, 0, 0);
                /* What the worker's removal check and its watch look at:
                 * the watch's IN_ATTRIB finds the queue full. */
                snprintf(path, sizeof(path), "%s%s/memory.current", root, cg);
                (void) unlink(path);
                snprintf(path, sizeof(path), "%s%s/memory.events", root, cg);
                (void) unlink(path);
                if (!freezer_set(freezer, "THAWED")) {
                        printf("FAIL: the watcher thread did not thaw\n");
                        fails++;
                        break;
                }

                int reason = wait_stopped(e, cg, 3000, &ms);
                bool overflowed = notify_overflows(e->notify) != before;
                char what[200];
                rounds++;
                overflow_rounds += overflowed;
                if (ms > slowest)
                        slowest = ms;
                if (reason < 0)
                        snprintf(what, sizeof(what), "round %u (queue overflowed: %s): %s's worker did not end within 3 s",
                                 rounds, overflowed ? "yes" : "no", cg);
                else
                        snprintf(what, sizeof(what),
                                 "round %u (queue overflowed: %s): %s's worker ended (%s) %u ms after the thaw", rounds,
                                 overflowed ? "yes" : "no", cg, stop_reason_to_string(reason), ms);
                check(overflowed && reason == STOP_REASON_REMOVED, what);
                snprintf(cmd, sizeof(cmd), "rm -rf '%s%s'", root, cg);
                (void) !system(cmd);
        }
        printf("%u rounds, %u overflowed the queue (%u overflows counted), slowest end %u ms after the thaw\n",
               rounds, overflow_rounds, notify_overflows(e->notify), slowest);
        check(engine_monitored_count(e) == N_CGROUPS - rounds, "every other cgroup is still monitored");

        (void) freezer_set(freezer, "THAWED");
        (void) write_file(FREEZER "/tasks", tidtext);
        if (rmdir(freezer) < 0)
                printf("warning: cannot remove %s: %s\n", freezer, strerror(errno));

        engine_free(e);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void) !system(cmd);
        printf("== notify-overflow: %s\n", fails ? "FAILED" : "passed");
        return fails ? 1 : 0;
}
