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

#include "fake-tree.h"
#include "service/engine-internal.h"
#include "tests/kernel/kernel-test.h"

#define MIB_ UINT64_C(1048576)
#define N_CGROUPS 20
#define ROUNDS 10
#define SYSCTL_DIR "/proc/sys/fs/inotify"
#define SYSCTL "max_queued_events"
#define FREEZER "/sys/fs/cgroup/freezer"

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
        char buf[32];

        if (cg_write(dir, "freezer.state", state) < 0)
                return false;
        for (int i = 0; i < 1000; i++) {
                if (cg_read(dir, "freezer.state", buf, sizeof(buf)) > 0 && strncmp(buf, state, strlen(state)) == 0)
                        return true;
                usleep(1000);
        }
        return false;
}

/* Waits up to timeout_ms for an event of `type` (for `path`, when given;
 * with `cookie`, when not 0) and returns it in *ret, the caller's to
 * release; false when none came. */
static bool wait_event(Engine *e, EngineEventType type, const char *path, uint64_t cookie, int timeout_ms,
                       EngineEvent *ret) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        uint64_t deadline = mono_usec() + (uint64_t) timeout_ms * 1000;

        for (;;) {
                EngineEvent ev;
                while (engine_pop_event(e, &ev) > 0) {
                        if (ev.type == type && (!path || strcmp(ev.path, path) == 0) &&
                            (!cookie || ev.cookie == cookie)) {
                                *ret = ev;
                                return true;
                        }
                        engine_event_done(&ev);
                }
                if (mono_usec() >= deadline)
                        return false;
                (void) poll(&p, 1, 10);
        }
}

int main(void) {
        char root[64] = "/tmp/memcgd-overflow-XXXXXX", old[32] = {}, cmd[128], path[256];
        EngineConfig cfg;
        MemcgError err = {};
        Engine *e = NULL;
        EngineEvent ev;
        int r;

        if (cg_read(SYSCTL_DIR, SYSCTL, old, sizeof(old)) <= 0) {
                printf("SKIP: cannot read " SYSCTL_DIR "/" SYSCTL "\n");
                return 77;
        }
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
        if (cg_write(SYSCTL_DIR, SYSCTL, "1\n") < 0) {
                printf("SKIP: cannot write " SYSCTL_DIR "/" SYSCTL " (needs root)\n");
                rmdir(root);
                return 77;
        }
        r = engine_new(&cfg, &e, &err);
        int restored = cg_write(SYSCTL_DIR, SYSCTL, old);
        check(restored == 0, SYSCTL_DIR "/" SYSCTL " restored to %.*s", (int) strcspn(old, "\n"), old);
        if (r < 0) {
                printf("FAIL: engine_new: %s\n", err.message);
                return 1;
        }

        char freezer[128], tidtext[16];
        pid_t tid = find_thread("memcgd-notify");
        snprintf(freezer, sizeof(freezer), FREEZER "/memcgd-overflow-%d", (int) getpid());
        snprintf(tidtext, sizeof(tidtext), "%d\n", (int) tid);
        if (access(FREEZER "/freezer.state", F_OK) < 0 && access(FREEZER "/tasks", F_OK) < 0) {
                printf("SKIP: no cgroup v1 freezer at " FREEZER " to hold the watcher thread still\n");
                engine_free(e);
                rmdir(root);
                return 77;
        }
        if (tid < 0 || mkdir(freezer, 0755) < 0 || cg_write(freezer, "tasks", tidtext) < 0) {
                printf("FAIL: cannot put the watcher thread (%d) into %s: %s\n", (int) tid, freezer, strerror(errno));
                return 1;
        }

        for (unsigned i = 0; i < N_CGROUPS; i++) {
                char cg[16];
                snprintf(cg, sizeof(cg), "/c%u", i);
                MonitorRequest req = { .path = cg, .initial_limit = 64 * MIB_, .cookie = i + 1 };
                bool already = false;
                if (fake_cgroup(root, cg, 10 * MIB_) < 0 || engine_monitor(e, &req, &already, &err) < 0 ||
                    !wait_event(e, ENGINE_EVENT_REQUEST_DONE, NULL, i + 1, 5000, &ev) || ev.error.code != MEMCG_OK) {
                        printf("FAIL: monitoring %s: %s\n", cg, err.message);
                        return 1;
                }
                engine_event_done(&ev);
        }

        unsigned overflow_rounds = 0, rounds = 0, slowest = 0;
        for (unsigned k = 0; k < ROUNDS; k++) {
                char cg[16], other[16];
                unsigned before = notify_overflows(e->notify);

                snprintf(cg, sizeof(cg), "/c%u", k);
                snprintf(other, sizeof(other), "/c%u", k + 1);
                if (!freezer_set(freezer, "FROZEN")) {
                        check(false, "the watcher thread froze");
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
                        check(false, "the watcher thread thawed");
                        break;
                }

                uint64_t t0 = mono_usec();
                bool ended = wait_event(e, ENGINE_EVENT_STOPPED, cg, 0, 3000, &ev);
                unsigned ms = (unsigned) ((mono_usec() - t0) / 1000);
                bool overflowed = notify_overflows(e->notify) != before;
                rounds++;
                overflow_rounds += overflowed;
                if (ended && ms > slowest)
                        slowest = ms;
                if (ended) {
                        check(overflowed && ev.stop_reason == STOP_REASON_REMOVED,
                              "round %u (queue overflowed: %s): %s's worker ended (%s) %u ms after the thaw", rounds,
                              overflowed ? "yes" : "no", cg, stop_reason_to_string(ev.stop_reason), ms);
                        engine_event_done(&ev);
                } else
                        check(false, "round %u (queue overflowed: %s): %s's worker did not end within 3 s", rounds,
                              overflowed ? "yes" : "no", cg);
                snprintf(cmd, sizeof(cmd), "rm -rf '%s%s'", root, cg);
                (void) !system(cmd);
        }
        printf("%u rounds, %u overflowed the queue (%u overflows counted), slowest end %u ms after the thaw\n",
               rounds, overflow_rounds, notify_overflows(e->notify), slowest);
        check(engine_monitored_count(e) == N_CGROUPS - rounds, "every other cgroup is still monitored");

        (void) freezer_set(freezer, "THAWED");
        (void) cg_write(FREEZER, "tasks", tidtext);
        if (rmdir(freezer) < 0)
                printf("warning: cannot remove %s: %s\n", freezer, strerror(errno));

        engine_free(e);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void) !system(cmd);
        printf("== notify-overflow: %s\n", kt_failures ? "FAILED" : "passed");
        return kt_failures ? 1 : 0;
}
