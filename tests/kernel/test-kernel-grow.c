/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine against the real kernel (v1 here, v2 in the VM suite): a
 * child in a fresh memcg monitored at 64 MiB grows to 512 MiB in 16 MiB
 * steps without an OOM kill, the limit grows in the seed's steps, comes
 * back down on the backoff schedule after the child frees down to 32 MiB,
 * to the seed's shrink target and no lower; an initial limit below usage
 * is refused; removing the memcg ends its worker. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memcgd/engine.h"
#include "memcgd/limits.h"
#include "memcgd/parse.h"

#define STEP (16 * MIB)
#define PEAK (512 * MIB)
#define LOW (32 * MIB)

static int failures;
static const char *root_dir;
static char cg_rel[256], cg_abs[4352];

static void check(int ok, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        printf("%s: ", ok ? "PASS" : "FAIL");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        fflush(stdout);
        if (!ok)
                failures++;
}

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static int read_file(const char *name, char *buf, size_t size) {
        char p[4608];
        snprintf(p, sizeof(p), "%s/%s", cg_abs, name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return (int) n;
}

static uint64_t read_u64(const char *name) {
        char buf[128];
        uint64_t v = 0;
        int n = read_file(name, buf, sizeof(buf));
        if (n < 0 || parse_u64_value(buf, (size_t) n, &v) < 0)
                return UINT64_MAX;
        return v;
}

static uint64_t oom_kills(Backend b) {
        char buf[1024];
        uint64_t v = UINT64_MAX;
        int n = read_file(b == BACKEND_V1 ? "memory.oom_control" : "memory.events", buf, sizeof(buf));
        if (n > 0)
                (void) parse_keyed_u64(buf, (size_t) n, "oom_kill", &v);
        return v;
}

static uint64_t limit_file(Backend b) {
        uint64_t v = read_u64(b == BACKEND_V1 ? "memory.limit_in_bytes" : "memory.max");
        return v >= UINT64_C(9223372036854771712) ? UINT64_MAX : v;
}

static uint64_t usage(Backend b) {
        return read_u64(b == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current");
}

/* Memory for the child through raw syscalls and stores the sanitizers do
 * not see: under TSan an intercepted memset would also touch shadow
 * memory, which is charged to the cgroup and would multiply the workload. */
__attribute__((no_sanitize("thread", "address"))) static void *touch_block(size_t size) {
        long p = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == -1)
                return NULL;
        for (size_t off = 0; off < size; off += 4096)
                ((volatile char *) p)[off] = 0x5a;
        return (void *) p;
}

/* The child: joins the cgroup, then obeys one-byte commands on `cmd`:
 * 'g' grow to PEAK in STEP steps with 100 ms pauses, 'f' free down to LOW,
 * 'q' exit. Answers each with one byte on `ack`. */
static void child(int cmd, int ack) {
        char p[4608], pid[32];
        void *blocks[PEAK / STEP] = {};
        size_t n = 0;
        char c;

        snprintf(p, sizeof(p), "%s/cgroup.procs", cg_abs);
        int fd = open(p, O_WRONLY);
        snprintf(pid, sizeof(pid), "%d", getpid());
        if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
                _exit(3);
        close(fd);
        while (read(cmd, &c, 1) == 1) {
                if (c == 'g') {
                        while (n < PEAK / STEP) {
                                blocks[n] = touch_block(STEP);
                                if (!blocks[n])
                                        _exit(4);
                                n++;
                                usleep(100 * 1000);
                        }
                } else if (c == 'f') {
                        while (n > LOW / STEP)
                                syscall(SYS_munmap, blocks[--n], STEP);
                }
                if (write(ack, &c, 1) != 1)
                        _exit(5);
                if (c == 'q')
                        _exit(0);
        }
        _exit(0);
}

typedef struct Seen {
        unsigned grows, shrinks, grows_in_steps, shrink_checked;
        bool started, stopped, failed, shrink_below_target;
        StopReason stop_reason;
        MemcgError error;
        uint64_t last_max;
        uint64_t last_shrink_usec;
} Seen;

static const Tunables *tun;

static void drain(Engine *e, Seen *s, int timeout_ms) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        EngineEvent ev;

        (void) poll(&p, 1, timeout_ms);
        while (engine_pop_event(e, &ev) > 0) {
                if (ev.type == ENGINE_EVENT_REQUEST_DONE) {
                        if (ev.error.code == MEMCG_OK)
                                s->started = true;
                        else {
                                s->failed = true;
                                s->error = ev.error;
                        }
                } else if (ev.type == ENGINE_EVENT_LIMIT_CHANGED) {
                        s->last_max = ev.new_max;
                        if (ev.reason == LIMIT_REASON_GROW) {
                                s->grows++;
                                if (ev.new_max - ev.old_max == limits_grow_delta(tun, ev.old_max))
                                        s->grows_in_steps++;
                                else
                                        printf("note: grow %llu -> %llu is not one seed step (%llu)\n",
                                               (unsigned long long) ev.old_max, (unsigned long long) ev.new_max,
                                               (unsigned long long) limits_grow_delta(tun, ev.old_max));
                        } else if (ev.reason == LIMIT_REASON_SHRINK) {
                                s->shrinks++;
                                s->last_shrink_usec = mono_usec();
                                printf("shrink %llu -> %llu\n", (unsigned long long) ev.old_max,
                                       (unsigned long long) ev.new_max);
                        }
                } else if (ev.type == ENGINE_EVENT_STOPPED) {
                        s->stopped = true;
                        s->stop_reason = ev.stop_reason;
                } else if (ev.type == ENGINE_EVENT_OOM)
                        printf("oom event kind=%s count=%llu\n", oom_kind_to_string(ev.oom_kind),
                               (unsigned long long) ev.oom_count);
                engine_event_done(&ev);
        }
}

static void send_cmd(int cmd, int ack, char c) {
        char r;
        if (write(cmd, &c, 1) != 1 || read(ack, &r, 1) != 1 || r != c) {
                check(0, "child answered command '%c'", c);
                exit(1);
        }
}

int main(void) {
        EngineConfig cfg;
        Engine *e = NULL;
        MemcgError err = {};
        Seen s = {};
        bool already;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* A child killed mid-test must fail a check, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        if (geteuid() != 0) {
                printf("SKIP: needs root to create memory cgroups\n");
                return 77;
        }
        engine_config_init_default(&cfg);
        /* Shortened backoff: 50 ms doubling up to 400 ms, so ten quiet
         * checks (the 10% margin floor) take about 2.5 s. */
        cfg.tunables.shrink_base_usec = 50 * 1000;
        cfg.tunables.shrink_max_usec = 400 * 1000;
        cfg.budget_bytes = 4096 * MIB;
        tun = &cfg.tunables;
        r = engine_new(&cfg, &e, &err);
        if (r < 0) {
                printf("SKIP: no usable memory cgroup hierarchy: %s\n", err.message);
                return 77;
        }
        Backend b = engine_backend(e);
        root_dir = engine_root(e);
        printf("memory hierarchy %s, backend %s\n", root_dir, backend_to_string(b));

        snprintf(cg_rel, sizeof(cg_rel), "/memcgd-test-grow-%d", getpid());
        snprintf(cg_abs, sizeof(cg_abs), "%s%s", root_dir, cg_rel);
        if (mkdir(cg_abs, 0755) < 0) {
                printf("SKIP: cannot create %s: %s\n", cg_abs, strerror(errno));
                return 77;
        }

        int cmdp[2], ackp[2];
        if (pipe(cmdp) < 0 || pipe(ackp) < 0)
                return 1;
        pid_t pid = fork();
        if (pid == 0) {
                close(cmdp[1]);
                close(ackp[0]);
                child(cmdp[0], ackp[1]);
        }
        close(cmdp[0]);
        close(ackp[1]);

        uint64_t orig_limit = limit_file(b);
        MonitorRequest req = { .path = cg_rel, .initial_limit = 64 * MIB, .cookie = 1 };
        r = engine_monitor(e, &req, &already, &err);
        check(r == 0 && !already, "monitor %s at 64 MiB accepted (%s)", cg_rel, r < 0 ? err.message : "ok");
        for (int i = 0; i < 50 && !s.started && !s.failed; i++)
                drain(e, &s, 100);
        check(s.started, "worker wrote the initial limits");
        check(limit_file(b) == 64 * MIB, "limit file is 64 MiB (%llu)", (unsigned long long) limit_file(b));

        /* Grow in the background of the event loop. */
        char c = 'g';
        if (write(cmdp[1], &c, 1) != 1)
                return 1;
        struct pollfd ap = { .fd = ackp[0], .events = POLLIN };
        uint64_t t0 = mono_usec();
        while (mono_usec() - t0 < 60 * 1000000ULL) {
                drain(e, &s, 20);
                if (poll(&ap, 1, 0) == 1)
                        break;
        }
        check(read(ackp[0], &c, 1) == 1 && c == 'g', "child touched 512 MiB and is alive");
        drain(e, &s, 200);
        uint64_t peak_usage = usage(b);
        printf("usage at peak %llu, limit %llu, grows %u\n", (unsigned long long) peak_usage,
               (unsigned long long) limit_file(b), s.grows);
        check(oom_kills(b) == 0, "no OOM kill while growing (oom_kill=%llu)", (unsigned long long) oom_kills(b));
        check(s.grows >= 5, "the limit grew in several steps (%u)", s.grows);
        check(s.grows_in_steps == s.grows, "every grow was exactly one seed step (%u of %u)", s.grows_in_steps,
              s.grows);
        check(limit_file(b) > peak_usage, "limit %llu is above usage %llu", (unsigned long long) limit_file(b),
              (unsigned long long) peak_usage);

        /* Free down to 32 MiB and let the backoff bring the limit down. */
        unsigned shrinks_before = s.shrinks;
        send_cmd(cmdp[1], ackp[0], 'f');
        t0 = mono_usec();
        while (mono_usec() - t0 < 30 * 1000000ULL) {
                drain(e, &s, 100);
                CgroupStats st;
                if (engine_get_stats(e, cg_rel, &st, &err) == 0 && st.no_increase_count >= 12 &&
                    mono_usec() - s.last_shrink_usec > 1000000)
                        break;
        }
        uint64_t low_usage = usage(b);
        uint64_t final = limit_file(b);
        uint64_t target = limits_shrink_target(tun, low_usage, 1000);
        uint64_t floor_max = limits_max_from_high(tun, low_usage);
        printf("usage after free %llu, limit %llu, seed target %llu (max_from_high %llu), shrinks %u\n",
               (unsigned long long) low_usage, (unsigned long long) final, (unsigned long long) target,
               (unsigned long long) floor_max, s.shrinks - shrinks_before);
        check(s.shrinks - shrinks_before >= 3, "the limit came down step by step (%u shrinks)",
              s.shrinks - shrinks_before);
        /* The target moves with usage by a few pages; a page of rounding
         * on either side. */
        uint64_t diff = final > target ? final - target : target - final;
        check(diff <= 2 * MIB, "final limit %llu is the seed's shrink target %llu (+-2 MiB)",
              (unsigned long long) final, (unsigned long long) target);
        check(final > floor_max, "final limit %llu is above max_from_high(usage) %llu: no lower",
              (unsigned long long) final, (unsigned long long) floor_max);
        check(final >= 38 * MIB && final <= 46 * MIB, "final limit is about 41 MiB (%.1f MiB)",
              (double) final / MIB);
        check(oom_kills(b) == 0, "still no OOM kill");

        /* Unmonitor restores the limit from before Monitor. */
        s.stopped = false;
        r = engine_unmonitor(e, cg_rel, 2, &err);
        for (int i = 0; i < 50 && !s.stopped; i++)
                drain(e, &s, 100);
        check(r == 0 && s.stopped && s.stop_reason == STOP_REASON_UNMONITORED, "unmonitor stopped the worker");
        check(limit_file(b) == orig_limit, "the original limit %llu is back (%llu)", (unsigned long long) orig_limit,
              (unsigned long long) limit_file(b));
        check(engine_budget_granted(e) == 0, "the grant went back to the pool (%llu)",
              (unsigned long long) engine_budget_granted(e));

        /* An initial limit below usage is refused, synchronously. */
        req = (MonitorRequest) { .path = cg_rel, .initial_limit = 16 * MIB, .cookie = 3 };
        err = (MemcgError) {};
        r = engine_monitor(e, &req, &already, &err);
        check(r < 0 && err.code == MEMCG_ERROR_LIMIT_BELOW_USAGE && strstr(err.message, cg_rel),
              "16 MiB below usage is refused: %s", err.message);
        check(!engine_is_monitored(e, cg_rel), "the refused cgroup is not monitored");

        /* Removing the memcg while monitored ends the worker. */
        send_cmd(cmdp[1], ackp[0], 'q');
        waitpid(pid, NULL, 0);
        s = (Seen) {};
        req = (MonitorRequest) { .path = cg_rel, .initial_limit = 64 * MIB, .cookie = 4 };
        r = engine_monitor(e, &req, &already, &err);
        for (int i = 0; i < 50 && !s.started; i++)
                drain(e, &s, 100);
        check(r == 0 && s.started, "monitored again");
        check(rmdir(cg_abs) == 0, "rmdir %s", cg_abs);
        t0 = mono_usec();
        while (!s.stopped && mono_usec() - t0 < 5000000)
                drain(e, &s, 100);
        check(s.stopped && s.stop_reason == STOP_REASON_REMOVED, "removal ended the worker in %.0f ms",
              (mono_usec() - t0) / 1000.0);
        check(!engine_is_monitored(e, cg_rel), "the removed cgroup is no longer monitored");
        check(engine_budget_granted(e) == 0, "its grant went back to the pool");

        engine_free(e);
        rmdir(cg_abs);
        printf("%d check(s) failed\n", failures);
        return failures ? 1 : 0;
}
