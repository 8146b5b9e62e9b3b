/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pressure on the real kernel (issue 5), through the engine alone: a
 * monitored memcg whose budget is spent, with a workload that stalls on
 * memory, reports PRESSURE events above none, at a bounded rate, then
 * none again once the workload ends; growth denied at the line asks for
 * reclaim (RECLAIM_WANTED, posted only while a reclaimer is registered)
 * before anything else happens.
 *
 * The workload depends on what the kernel offers:
 *  - v1 (this host): page-cache thrashing - a 90 MiB file re-read by two
 *    readers, one forward and one backward, in a memcg held at 72 MiB:
 *    small enough against the limit that the kernel sees its refaults as
 *    a working set thrashing (PSI counts that as a memory stall: 25 % of
 *    the time measured here, where one reader of a 256 MiB file stalled
 *    only 2.6 %, under PSI's 5 % low line); the source is
 *    memory.pressure_level, or PSI of the unified twin when
 *    KT_PRESSURE_TWIN=1 puts the child there too.
 *  - v2 (the VM, no disk: the page cache cannot be evicted there): anon
 *    churn above memory.high - the kernel throttles every charge above it,
 *    and PSI counts the throttling as a memory stall. */

#include <signal.h>

#include "kernel-test.h"

#define WORK_SECONDS 12
#define THRASH_MIB 90
#define QUIET_USEC (UINT64_C(3) * 1000000)

typedef struct Seen {
        bool started;
        unsigned pressure_events, reclaim_wanted;
        PressureLevel level, peak;
        uint64_t first_rise_usec, back_to_none_usec;
} Seen;

static void drain(Engine *e, Seen *s, int timeout_ms) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        EngineEvent ev;

        (void) poll(&p, 1, timeout_ms);
        while (engine_pop_event(e, &ev) > 0) {
                if (ev.type == ENGINE_EVENT_REQUEST_DONE && ev.error.code == MEMCG_OK)
                        s->started = true;
                else if (ev.type == ENGINE_EVENT_REQUEST_DONE)
                        printf("monitor failed: %s\n", ev.error.message);
                else if (ev.type == ENGINE_EVENT_PRESSURE) {
                        s->pressure_events++;
                        s->level = ev.pressure_level;
                        if (ev.pressure_level > s->peak)
                                s->peak = ev.pressure_level;
                        if (ev.pressure_level > PRESSURE_NONE && s->first_rise_usec == 0)
                                s->first_rise_usec = mono_usec();
                        if (ev.pressure_level == PRESSURE_NONE)
                                s->back_to_none_usec = mono_usec();
                        printf("pressure %s\n", pressure_level_to_string(ev.pressure_level));
                } else if (ev.type == ENGINE_EVENT_RECLAIM_WANTED) {
                        if (s->reclaim_wanted++ < 5)
                                printf("reclaim wanted: %llu bytes (%s)\n", (unsigned long long) ev.reclaim_bytes,
                                       reclaim_cause_to_string(ev.reclaim_cause));
                }
                engine_event_done(&ev);
        }
}

static const char *thrash_file(void) {
        static char path[256];
        const char *dir = getenv("KT_THRASH_DIR") ?: "/var/tmp";
        struct stat st;

        snprintf(path, sizeof(path), "%s/memcgd-test-thrash-90m.bin", dir);
        if (stat(path, &st) == 0 && (uint64_t) st.st_size == THRASH_MIB * MIB)
                return path;
        /* Written beside it and renamed into place: the two v1 variants
         * run at the same time, and one must never read the other's
         * half-written file. */
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.%d", path, getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return NULL;
        static char buf[1 << 20];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (char) (i * 2654435761u >> 13);
        for (int i = 0; i < THRASH_MIB; i++)
                if (write(fd, buf, sizeof(buf)) != (ssize_t) sizeof(buf)) {
                        close(fd);
                        unlink(tmp);
                        return NULL;
                }
        /* Written back before anyone reads it: dirty pages cannot be
         * dropped by the readers' fadvise and would stay cached, so the
         * file would not thrash. */
        if (fsync(fd) < 0) {
                close(fd);
                unlink(tmp);
                return NULL;
        }
        close(fd);
        if (rename(tmp, path) < 0) {
                unlink(tmp);
                return NULL;
        }
        return path;
}

/* v1: re-reads the file for WORK_SECONDS, forward in the child and
 * backward in a grandchild (both in the memcg). */
static pid_t spawn_thrasher(const char *cg_abs, const char *twin_abs, const char *file) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        if (cg_join(cg_abs) < 0 || (twin_abs && cg_join(twin_abs) < 0))
                _exit(3);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                _exit(4);
        /* Pages cached by an earlier reader stay charged to it. */
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        pid_t backward = fork();
        static char buf[1 << 20];
        uint64_t end = mono_usec() + WORK_SECONDS * UINT64_C(1000000);
        off_t size = (off_t) THRASH_MIB * (off_t) MIB, off = size;
        while (mono_usec() < end) {
                if (backward == 0) {
                        off = off >= (off_t) sizeof(buf) ? off - (off_t) sizeof(buf) : size - (off_t) sizeof(buf);
                        (void) pread(fd, buf, sizeof(buf), off);
                } else if (read(fd, buf, sizeof(buf)) <= 0)
                        (void) lseek(fd, 0, SEEK_SET);
        }
        if (backward == 0)
                _exit(0);
        if (backward > 0)
                (void) waitpid(backward, NULL, 0);
        _exit(0);
}

/* v2: holds `base` bytes, then charges and uncharges `churn` bytes above
 * it for WORK_SECONDS. */
static pid_t spawn_churner(const char *cg_abs, size_t base, size_t churn) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        if (cg_join(cg_abs) < 0)
                _exit(3);
        if (!touch_block(base, false))
                _exit(4);
        uint64_t end = mono_usec() + WORK_SECONDS * UINT64_C(1000000);
        while (mono_usec() < end) {
                void *p = touch_block(churn, false);
                if (!p)
                        _exit(4);
                (void) syscall(SYS_munmap, p, churn);
        }
        _exit(0);
}

int main(void) {
        char cg_rel[256], cg_abs[4352], twin[4352] = "";
        EngineConfig cfg;
        MemcgError err = {};
        bool already = false, use_twin = false;
        Seen s = {};
        pid_t child;
        Engine *e;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        engine_config_init_default(&cfg);
        cfg.budget_bytes = 72 * MIB;
        cfg.pressure_quiet_usec = QUIET_USEC;
        e = start_engine(&cfg);
        Backend b = engine_backend(e);
        char root[4096];
        snprintf(root, sizeof(root), "%s", engine_root(e));

        make_memcg(engine_root(e), "pressure", cg_rel, sizeof(cg_rel), cg_abs, sizeof(cg_abs));
        const char *file = NULL;
        if (b == BACKEND_V1) {
                file = thrash_file();
                if (!file) {
                        printf("SKIP: cannot write a %d MiB file in %s\n", THRASH_MIB, getenv("KT_THRASH_DIR") ?: "/var/tmp");
                        remove_memcg(engine_root(e), cg_abs);
                        engine_free(e);
                        return 77;
                }
                /* Hybrid host: the unified twin offers PSI when it exists. */
                if (getenv("KT_PRESSURE_TWIN") && strcmp(getenv("KT_PRESSURE_TWIN"), "1") == 0) {
                        snprintf(twin, sizeof(twin), "/sys/fs/cgroup/unified%s", cg_rel);
                        use_twin = mkdir(twin, 0755) == 0 || errno == EEXIST;
                        if (!use_twin) {
                                /* This variant is PSI of the twin: without
                                 * one it would only repeat the v1 test. */
                                printf("SKIP: no unified twin %s (a hybrid host's /sys/fs/cgroup/unified): %s\n", twin,
                                       strerror(errno));
                                remove_memcg(engine_root(e), cg_abs);
                                engine_free(e);
                                return 77;
                        }
                }
        }

        /* As the reclaim broker does for a registered reclaimer: without
         * one, nobody would act on RECLAIM_WANTED and none is posted. */
        engine_reclaimers_changed(e, cg_rel, +1);
        MonitorRequest req = { .path = cg_rel, .initial_limit = 64 * MIB, .cookie = 1 };
        r = engine_monitor(e, &req, &already, &err);
        check(r == 0, "monitor %s at 64 MiB with a 72 MiB budget (%s)", cg_rel, r < 0 ? err.message : "ok");
        for (int i = 0; i < 50 && !s.started; i++)
                drain(e, &s, 100);
        check(s.started, "the worker started");

        CgroupStats st = {};
        (void) engine_get_stats(e, cg_rel, &st, &err);
        printf("pressure source: %s\n", pressure_source_to_string(st.pressure_source));
        check(st.pressure_source != PRESSURE_SOURCE_NONE, "the worker watches pressure (%s)",
              pressure_source_to_string(st.pressure_source));
        if (use_twin)
                check(st.pressure_source == PRESSURE_SOURCE_PSI, "with a unified twin, the source is its PSI");

        uint64_t t0 = mono_usec();
        child = b == BACKEND_V1 ? spawn_thrasher(cg_abs, use_twin ? twin : NULL, file)
                                : spawn_churner(cg_abs, 60 * MIB, 8 * MIB);
        while (mono_usec() < t0 + (WORK_SECONDS + 1) * UINT64_C(1000000))
                drain(e, &s, 200);
        int status = 0;
        (void) waitpid(child, &status, 0);
        uint64_t t_end = mono_usec();
        printf("workload exited with status %d after %.1f s\n", WEXITSTATUS(status), (t_end - t0) / 1e6);

        check(s.first_rise_usec != 0, "a PRESSURE event above none under the workload (after %.1f s, peak %s)",
              s.first_rise_usec ? (s.first_rise_usec - t0) / 1e6 : -1.0, pressure_level_to_string(s.peak));
        while (s.level != PRESSURE_NONE && mono_usec() < t_end + 4 * QUIET_USEC + 5000000)
                drain(e, &s, 200);
        check(s.level == PRESSURE_NONE && s.back_to_none_usec >= t_end - 1000000,
              "the level returns to none once the workload ends (%.1f s after)",
              s.back_to_none_usec > t_end ? (s.back_to_none_usec - t_end) / 1e6 : 0.0);
        /* Up to three rises per quiet period and one fall each. */
        unsigned bound = (unsigned) ((WORK_SECONDS * UINT64_C(1000000) / QUIET_USEC + 2) * 4);
        check(s.pressure_events <= bound, "PRESSURE events at a bounded rate: %u in %.1f s (at most %u)",
              s.pressure_events, (mono_usec() - t0) / 1e6, bound);
        check(s.reclaim_wanted > 0, "growth denied at the line asked for reclaim (%u RECLAIM_WANTED)", s.reclaim_wanted);
        (void) engine_get_stats(e, cg_rel, &st, &err);
        check(st.pressure_level == PRESSURE_NONE, "GetStats' level is none afterwards");

        (void) engine_unmonitor(e, cg_rel, 2, &err);
        for (int i = 0; i < 20; i++)
                drain(e, &s, 50);
        engine_free(e);
        remove_memcg(root, cg_abs);
        if (use_twin)
                (void) rmdir(twin);
        printf("%s\n", kt_failures ? "FAILED" : "OK");
        return kt_failures ? 1 : 0;
}
