/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* B1: reaction latency — from the kernel's event to the new limit written,
 * for the engine and, in the same run, for the floor: a bare C loop that
 * waits on the same kind of event and writes the same file.
 *
 * What is measured (printed with the table):
 *
 *   written   = the instant the write(2) of the limit file (memory.max on a
 *               fake tree, memory.limit_in_bytes on v1) returned, taken in
 *               the writing thread itself: this binary links the engine
 *               with -Wl,--wrap=write and --wrap=pwrite64 (workers write
 *               through kept fds), and the wrapper stamps
 *               CLOCK_MONOTONIC right after the real write returns, then
 *               recognises the file by its inode (the floor stamps its own
 *               write the same way).
 *   event     = fake tree: CLOCK_MONOTONIC just before this benchmark's
 *               pwrite(2) that raises the "high" counter of memory.events
 *               (one IN_MODIFY: same-length rewrite, no truncation).
 *               v1: the wake-up of an observer thread at SCHED_FIFO 99
 *               holding its own eventfd on the same usage threshold (the
 *               kernel signals every eventfd of a threshold in one loop;
 *               the observer is the first to run after it).
 *               v2: the same observer polling (POLLPRI) its own fd of the
 *               cgroup's memory.events, woken by the kernel's notification
 *               of the high counter's rise (an allocator charged above
 *               memory.high); only a rise while armed counts.
 *   announced = engine only: when this (main) thread popped the
 *               LIMIT_CHANGED event — what the D-Bus layer would turn into
 *               a signal.
 *
 * Latency = written - event. Sequential samples pick one cgroup at random
 * among N monitored ones and wait for its reaction before the next; the
 * storm makes all N breach at once (fake: N writes back to back; v1, v2:
 * N allocators released together) and also reports the makespan (first
 * event to last limit written). A fake storm runs --storm-rounds times
 * (default 5, --small 1), their samples pooled, the makespan the rounds'
 * median. --sizes picks among 1,100 for v1 and v2 and takes any sizes up
 * to 4096 for the fake tree.
 *
 * v2 runs only where /sys/fs/cgroup is cgroup v2 handing the memory
 * controller to its children: tests/bench/v2-vm.sh runs it in the QEMU VM
 * of tests/vm (the host's memory controller is on v1). Its floor grows
 * once a sample on the high counter's rise, writing memory.max (stamped)
 * then memory.high, as the engine does.
 *
 * The fake storms also run against a second floor, not the target's: a
 * bare loop a cgroup, each in its own thread woken through an eventfd by
 * one inotify loop, as memcgd's relay wakes a worker (row "storm vs thread
 * floor"; --no-thread-floor skips it). It tells what the thread-a-cgroup
 * model costs by itself from what memcgd's reaction adds.
 *
 *   bench-b1 [--small] [--json=FILE] [--only=fake|v1|v2] [--sizes=1,100,4000]
 *            [--samples=N] [--v1-samples=N] [--no-floor] [--no-storm]
 *            [--storm-rounds=N] [--no-thread-floor] [--rt=0,10] [--fake-dir=DIR]
 *
 * --v1-samples also sets v2's. Exits 1 when a row got no engine sample.
 *
 * MEMCGD_BENCH_VERBOSE=1 names each missed v1 or v2 sample (no write seen, or no
 * observer wake-up) on stderr.
 */
#include <glib.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "../fake/fake-tree.h"
#include "bench.h"
#include "memcgd/engine.h"
#include "memcgd/limits.h"

#define MAXCG 4096
#define FAKE_START (64 * MIB)
#define V1_START (16 * MIB)
#define V1_PREFAULT (4 * MIB)
#define V1_BURST (6 * MIB)
#define REACT_TIMEOUT_MS 5000

/* Where fake trees go: tmpfs, like cgroupfs an in-memory file system (on
 * ext4 the engine's O_TRUNC rewrites of memory.max would pay for journal
 * transactions that cgroupfs never has). */
static const char *fake_dir = "/dev/shm";

/* ---- write capture ---------------------------------------------------- */

static _Atomic int capture_on;
static _Atomic uint64_t t_written[MAXCG];
static dev_t target_dev;
#define HSIZE 16384
static struct {
        ino_t ino;
        int idx;
} target_hash[HSIZE];

static void paths_forget(void);

static void target_clear(void) {
        memset(target_hash, 0, sizeof(target_hash));
        paths_forget();
}

static void target_add(const char *path, int idx) {
        struct stat st;
        if (stat(path, &st) < 0) {
                fprintf(stderr, "stat %s: %s\n", path, strerror(errno));
                return;
        }
        target_dev = st.st_dev;
        for (size_t h = (size_t) st.st_ino % HSIZE;; h = (h + 1) % HSIZE)
                if (target_hash[h].ino == 0 || target_hash[h].ino == st.st_ino) {
                        target_hash[h].ino = st.st_ino;
                        target_hash[h].idx = idx;
                        return;
                }
}

static int target_find(ino_t ino) {
        for (size_t h = (size_t) ino % HSIZE;; h = (h + 1) % HSIZE) {
                if (target_hash[h].ino == ino)
                        return target_hash[h].idx;
                if (target_hash[h].ino == 0)
                        return -1;
        }
}

static void stamp(int idx, uint64_t t) {
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&t_written[idx], &zero, t);
}

/* Stamps a write of a limit file (a value: digits, "-1" or "max"; the
 * eventfd writes between the engine's threads are 8 binary bytes and are
 * not looked at, which would add an fstat(2) to each). */
static void capture(int fd, const void *buf, ssize_t r) {
        const char c = *(const char *) buf;
        if (r <= 0 || !atomic_load_explicit(&capture_on, memory_order_relaxed) ||
            !((c >= '0' && c <= '9') || c == '-' || c == 'm'))
                return;
        uint64_t t = bench_now_ns();
        int saved = errno;
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_dev == target_dev && S_ISREG(st.st_mode)) {
                int i = target_find(st.st_ino);
                if (i >= 0)
                        stamp(i, t);
        }
        errno = saved;
}

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n) {
        ssize_t r = __real_write(fd, buf, n);
        capture(fd, buf, r);
        return r;
}

/* The engine writes limits through kept fds at offset 0. */
ssize_t __real_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t __wrap_pwrite64(int fd, const void *buf, size_t n, off_t off) {
        ssize_t r = __real_pwrite64(fd, buf, n, off);
        capture(fd, buf, r);
        return r;
}

/* valgrind 3.19 (Debian 12) does not know openat2(2), which the engine
 * opens cgroups with: under the profile (MEMCGD_BENCH_NO_OPENAT2 set by
 * run.sh) the call is carried out as openat(2) with the same flags — the
 * benchmark's paths have no symlinks nor "..", so the result is the same
 * descriptor. Other syscall(2) uses pass through. */
long __real_syscall(long nr, ...);
long __wrap_syscall(long nr, ...);
long __wrap_syscall(long nr, ...) {
        va_list ap;
        long a[6];
        va_start(ap, nr);
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        if (nr == SYS_openat2 && getenv("MEMCGD_BENCH_NO_OPENAT2")) {
                const struct open_how *how = (const struct open_how *) a[2];
                return openat((int) a[0], (const char *) a[1], (int) how->flags, (mode_t) how->mode);
        }
        return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- results ------------------------------------------------------------ */

typedef struct Row {
        char variant[48];
        unsigned n;
        int rt;
        Summary eng, ann, flo;
        double eng_makespan_ms, flo_makespan_ms;
        unsigned eng_missed, flo_missed;
        bool has_floor;
        bool thread_floor; /* the floor is a thread per cgroup, not the target's */
        unsigned kept; /* cgroups whose limit file the engine kept open */
} Row;

static Row rows[64];
static unsigned n_rows;

/* ---- engine side ------------------------------------------------------- */

typedef struct Bench {
        bool fake;
        bool v2;             /* real cgroup v2 (in the QEMU VM run.sh starts) */
        char root[256];      /* fake tree dir, or the v1 / v2 hierarchy */
        unsigned n;
        char rel[MAXCG][64];
        char abs_[MAXCG][320];
        /* fake tree */
        int fd_events[MAXCG];
        uint64_t high_count[MAXCG];
        /* what the reactor (engine or floor) has now */
        uint64_t cur_max[MAXCG], cur_high[MAXCG];
        Tunables t;
        Engine *e;
        uint64_t cookie;
        uint64_t announced_ns[MAXCG];
} Bench;

static Bench B;

/* Path -> index + 1, built at the first lookup after a setup
 * (paths_forget()): a storm pops 4,000 events, and a linear search here
 * took 8% of the CPU the engine was measured on. */
static GHashTable *path_index;

static void paths_forget(void) {
        if (path_index)
                g_hash_table_destroy(path_index);
        path_index = NULL;
}

static int idx_of_path(const char *path) {
        if (!path_index) {
                path_index = g_hash_table_new(g_str_hash, g_str_equal);
                for (unsigned i = 0; i < B.n; i++)
                        g_hash_table_insert(path_index, B.rel[i], GUINT_TO_POINTER(i + 1));
        }
        return (int) GPOINTER_TO_UINT(g_hash_table_lookup(path_index, path)) - 1;
}

/* Pops engine events for up to timeout_ms; records LIMIT_CHANGED(grow)
 * arrivals. Returns once `want` has arrived (want < 0: never, just
 * drains) or when the timeout passed; true if it arrived. */
static unsigned grows_seen;
static bool engine_wait(int want, int timeout_ms) {
        struct pollfd p = { .fd = engine_event_fd(B.e), .events = POLLIN };
        uint64_t deadline = bench_now_ns() + (uint64_t) timeout_ms * 1000000u;
        for (;;) {
                EngineEvent ev;
                while (engine_pop_event(B.e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED) {
                                int i = idx_of_path(ev.path);
                                if (i >= 0) {
                                        B.cur_max[i] = ev.new_max;
                                        B.cur_high[i] = ev.new_high;
                                        if (ev.reason == LIMIT_REASON_GROW && B.announced_ns[i] == 0) {
                                                B.announced_ns[i] = bench_now_ns();
                                                grows_seen++;
                                        }
                                }
                        }
                        engine_event_done(&ev);
                }
                if (want >= 0 && B.announced_ns[want])
                        return true;
                uint64_t now = bench_now_ns();
                if (now >= deadline)
                        return false;
                int ms = (int) ((deadline - now) / 1000000u) + 1;
                (void) poll(&p, 1, ms > 100 ? 100 : ms);
        }
}

static bool engine_wait_requests(unsigned count, int timeout_ms) {
        struct pollfd p = { .fd = engine_event_fd(B.e), .events = POLLIN };
        uint64_t deadline = bench_now_ns() + (uint64_t) timeout_ms * 1000000u;
        unsigned done = 0;
        while (done < count && bench_now_ns() < deadline) {
                EngineEvent ev;
                (void) poll(&p, 1, 100);
                while (engine_pop_event(B.e, &ev) > 0) {
                        if (ev.type == ENGINE_EVENT_REQUEST_DONE) {
                                if (ev.error.code != MEMCG_OK)
                                        fprintf(stderr, "request failed: %s\n", ev.error.message);
                                done++;
                        }
                        if (ev.type == ENGINE_EVENT_LIMIT_CHANGED) {
                                int i = idx_of_path(ev.path);
                                if (i >= 0) {
                                        B.cur_max[i] = ev.new_max;
                                        B.cur_high[i] = ev.new_high;
                                }
                        }
                        engine_event_done(&ev);
                }
        }
        return done == count;
}

static int engine_start(int rt) {
        EngineConfig cfg;
        MemcgError err = {};

        engine_config_init_default(&cfg);
        cfg.root = B.fake ? B.root : NULL;
        cfg.budget_bytes = UINT64_C(1) << 50;
        cfg.realtime_priority = rt;
        /* Reaction only: the shrink timer must not write the limit file in
         * the middle of a sample. */
        cfg.tunables.shrink_base_usec = cfg.tunables.shrink_max_usec = UINT64_C(3600) * 1000000;
        if (engine_new(&cfg, &B.e, &err) < 0) {
                fprintf(stderr, "engine_new: %s\n", err.message);
                return -1;
        }
        uint64_t start = B.fake ? FAKE_START : V1_START;
        for (unsigned i = 0; i < B.n; i++) {
                bool already;
                MonitorRequest req = { .path = B.rel[i], .initial_limit = start, .cookie = ++B.cookie };
                if (engine_monitor(B.e, &req, &already, &err) < 0) {
                        fprintf(stderr, "monitor %s: %s\n", B.rel[i], err.message);
                        return -1;
                }
                B.cur_max[i] = start;
                B.cur_high[i] = limits_high_from_max(&B.t, start);
        }
        if (!engine_wait_requests(B.n, 300000)) {
                fprintf(stderr, "not every monitor finished\n");
                return -1;
        }
        return 0;
}

static void engine_stop(void) {
        B.e = engine_free(B.e);
}

/* Re-bases cgroup i to the start limit (not measured). */
static void engine_rebase(unsigned i) {
        MemcgError err = {};
        bool deferred;
        uint64_t start = B.fake ? FAKE_START : V1_START;
        if (engine_set_initial_limit(B.e, B.rel[i], start, ++B.cookie, &deferred, &err) < 0) {
                fprintf(stderr, "rebase %s: %s\n", B.rel[i], err.message);
                return;
        }
        (void) engine_wait_requests(1, 5000);
}

/* ---- fake tree ------------------------------------------------------------ */

#define EVENTS_FMT "low 0\nhigh %010llu\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"

/* The driver's own fds (one a cgroup, the event) go to the top of the fd
 * table, so that they do not take the low fds that the engine's
 * keep-open ceiling (half the table) leaves to a daemon's own files. */
static int fd_to_top(int fd, unsigned i) {
        struct rlimit rl;
        if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 2 * (MAXCG + 64) || rl.rlim_cur > INT_MAX)
                return fd;
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, (int) rl.rlim_cur - MAXCG - 64 + (int) i);
        if (hi < 0)
                return fd;
        close(fd);
        return hi;
}

static int fake_setup(unsigned n) {
        snprintf(B.root, sizeof(B.root), "%s/memcgd-bench-b1-XXXXXX", fake_dir);
        if (!mkdtemp(B.root))
                return -errno;
        B.fake = true;
        B.n = n;
        target_clear();
        for (unsigned i = 0; i < n; i++) {
                char p[4300];
                snprintf(B.rel[i], sizeof(B.rel[i]), "/c%u", i);
                snprintf(B.abs_[i], sizeof(B.abs_[i]), "%s%s", B.root, B.rel[i]);
                if (fake_cgroup(B.root, B.rel[i], 10 * MIB) < 0)
                        return -EIO;
                snprintf(p, sizeof(p), "%s/memory.events", B.abs_[i]);
                B.fd_events[i] = fd_to_top(open(p, O_RDWR | O_CLOEXEC), i);
                if (B.fd_events[i] < 0)
                        return -errno;
                B.high_count[i] = 0;
                char buf[128];
                int len = snprintf(buf, sizeof(buf), EVENTS_FMT, 0ULL);
                if (ftruncate(B.fd_events[i], 0) < 0 || __real_pwrite64(B.fd_events[i], buf, (size_t) len, 0) != len)
                        return -EIO;
                snprintf(p, sizeof(p), "%s/memory.max", B.abs_[i]);
                target_add(p, (int) i);
        }
        return 0;
}

/* Untimed (before the event): opened by name, so that the driver holds
 * one fd a cgroup and leaves the engine the fds a daemon of its own would
 * have below its keep-open ceiling. */
static void fake_set_current(unsigned i, uint64_t v) {
        char buf[32], p[4300];
        int len = snprintf(buf, sizeof(buf), "%015llu\n", (unsigned long long) v);
        snprintf(p, sizeof(p), "%s/memory.current", B.abs_[i]);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, len) < 0 || __real_pwrite64(fd, buf, (size_t) len, 0) != len)
                fprintf(stderr, "writing memory.current failed\n");
        if (fd >= 0)
                close(fd);
}

/* The event: the high counter goes up. Returns the time just before. */
static uint64_t fake_breach(unsigned i) {
        char buf[128];
        int len = snprintf(buf, sizeof(buf), EVENTS_FMT, (unsigned long long) ++B.high_count[i]);
        uint64_t t0 = bench_now_ns();
        if (__real_pwrite64(B.fd_events[i], buf, (size_t) len, 0) != len)
                fprintf(stderr, "writing memory.events failed\n");
        return t0;
}

static void fake_teardown(void) {
        char cmd[4200];
        for (unsigned i = 0; i < B.n; i++)
                close(B.fd_events[i]);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", B.root);
        (void) !system(cmd);
}

/* ---- the floor: a bare loop ------------------------------------------------ */

typedef struct Floor {
        pthread_t thread;
        int rt;
        int stop_fd, done_fd;
        _Atomic unsigned reactions;
        /* fake */
        int ifd;
        /* threaded: the inotify loop only wakes cgroup i's own thread
         * through kick[i], as memcgd's relay wakes a worker */
        bool threaded;
        int kick[MAXCG];
        pthread_t cg_thread[MAXCG];
        int wd2idx[MAXCG + 64];
        int fd_ev[MAXCG], fd_cur[MAXCG], fd_max[MAXCG];
        _Atomic uint64_t last_high_count[MAXCG]; /* the floor's last look (v2: the rebase's too) */
        /* v1 */
        int epfd;
        int efd[MAXCG], fd_usage[MAXCG], fd_limit[MAXCG];
        /* v2: fd_ev (its own), fd_max and */
        int fd_high[MAXCG];
        _Atomic bool grown[MAXCG]; /* since the last rebase: a sample is one breach */
} Floor;

static Floor F;

static void set_fifo(int prio) {
        struct sched_param sp = { .sched_priority = prio };
        if (prio > 0 && pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
                fprintf(stderr, "warning: cannot get SCHED_FIFO %d\n", prio);
}

static uint64_t pread_u64(int fd) {
        char buf[64];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return UINT64_MAX;
        buf[n] = 0;
        return strtoull(buf, NULL, 10);
}

/* The "high" counter of a v2 (or fake) memory.events, read through fd
 * into *ret (0 when the file has no such line); false when the read
 * failed. On v2 the read also re-arms the fd's poll. */
static bool events_high(int fd, uint64_t *ret) {
        char eb[256];
        ssize_t n = pread(fd, eb, sizeof(eb) - 1, 0);
        if (n <= 0)
                return false;
        eb[n] = 0;
        const char *h = strstr(eb, "\nhigh ");
        *ret = h ? strtoull(h + 6, NULL, 10) : 0;
        return true;
}

/* Writes v in decimal at offset 0 of fd, unstamped (a rebase, or the
 * high line after the stamped limit). */
static void floor_write_u64(int fd, uint64_t v) {
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        (void) !__real_pwrite64(fd, buf, (size_t) len, 0);
}

/* Grows cgroup i as the seed says and writes the limit, stamping it (on
 * v2 then the high line too, as the engine does, or the allocator stays
 * throttled). */
static void floor_grow(unsigned i, int fd_limit) {
        uint64_t next = B.cur_max[i] + limits_grow_delta(&B.t, B.cur_max[i]);
        char buf[32];
        int len = snprintf(buf, sizeof(buf), B.fake ? "%015llu\n" : "%llu", (unsigned long long) next);
        ssize_t w = __real_pwrite64(fd_limit, buf, (size_t) len, 0);
        uint64_t t = bench_now_ns();
        if (w == len) {
                if (atomic_load(&capture_on))
                        stamp((int) i, t);
                B.cur_max[i] = next;
                B.cur_high[i] = limits_high_from_max(&B.t, next);
                if (B.v2)
                        floor_write_u64(F.fd_high[i], B.cur_high[i]);
        }
        atomic_fetch_add(&F.reactions, 1);
        uint64_t one = 1;
        (void) !__real_write(F.done_fd, &one, sizeof(one));
}

/* The event seen on cgroup i: its high counter moved, usage is at the
 * line: grow. */
static void floor_fake_react(unsigned i) {
        uint64_t hc;
        if (!events_high(F.fd_ev[i], &hc) || hc == F.last_high_count[i])
                return;
        F.last_high_count[i] = hc;
        if (pread_u64(F.fd_cur[i]) >= B.cur_high[i])
                floor_grow(i, F.fd_max[i]);
}

/* The thread-per-cgroup floor: one bare loop a cgroup, woken by the
 * inotify loop. */
static void *floor_cg_main(void *arg) {
        unsigned i = (unsigned) (uintptr_t) arg;
        set_fifo(F.rt);
        for (;;) {
                struct pollfd p[2] = { { .fd = F.kick[i], .events = POLLIN }, { .fd = F.stop_fd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                uint64_t v;
                if (read(F.kick[i], &v, sizeof(v)) == sizeof(v))
                        floor_fake_react(i);
        }
        return NULL;
}

static void *floor_fake_main(void *arg) {
        char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
        set_fifo(F.rt);
        for (;;) {
                struct pollfd p[2] = { { .fd = F.ifd, .events = POLLIN }, { .fd = F.stop_fd, .events = POLLIN } };
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (p[1].revents)
                        break;
                ssize_t len = read(F.ifd, buf, sizeof(buf));
                for (char *ptr = buf; len > 0 && ptr < buf + len;) {
                        const struct inotify_event *ev = (const void *) ptr;
                        ptr += sizeof(*ev) + ev->len;
                        if (ev->wd < 0 || ev->wd >= MAXCG + 64 || F.wd2idx[ev->wd] < 0)
                                continue;
                        unsigned i = (unsigned) F.wd2idx[ev->wd];
                        if (F.threaded) {
                                uint64_t one = 1;
                                (void) !__real_write(F.kick[i], &one, sizeof(one));
                        } else
                                floor_fake_react(i);
                }
        }
        return NULL;
}

/* v2: rises of cgroup i's high counter up to now are not the floor's to
 * react to. */
static void floor_count_from_now(unsigned i) {
        uint64_t hc;
        if (events_high(F.fd_ev[i], &hc))
                F.last_high_count[i] = hc;
}

/* The event seen on real cgroup i. v1: its threshold eventfd fired,
 * usage is at the line: grow. v2: the kernel's notification on
 * memory.events (POLLPRI) and the high counter moved: grow, once a sample.
 * The rise is the breach itself (the kernel counts a charge found above
 * memory.high); usage is not read again, as it may read just under the
 * line once per-CPU charge stocks drain, and the throttled allocator would
 * only charge again, and notify, after its penalty sleep. Rises counted
 * before the grow landed may still notify after it (the kernel delays a
 * notification that follows another within 10 ms): the same breach, also
 * when the notification comes after the rebase (floor_rebase() counts
 * from there). */
static void floor_kernel_react(unsigned i) {
        if (!B.v2) {
                uint64_t v;
                (void) !read(F.efd[i], &v, sizeof(v));
                if (pread_u64(F.fd_usage[i]) >= B.cur_high[i])
                        floor_grow(i, F.fd_limit[i]);
                return;
        }
        uint64_t hc;
        if (!events_high(F.fd_ev[i], &hc) || hc == F.last_high_count[i])
                return;
        F.last_high_count[i] = hc;
        if (!F.grown[i]) {
                F.grown[i] = true;
                floor_grow(i, F.fd_max[i]);
        }
}

static void *floor_kernel_main(void *arg) {
        set_fifo(F.rt);
        for (;;) {
                struct epoll_event evs[64];
                int n = epoll_wait(F.epfd, evs, 64, -1);
                if (n < 0 && errno != EINTR)
                        break;
                for (int k = 0; k < n; k++) {
                        if (evs[k].data.u32 == UINT32_MAX)
                                return NULL;
                        floor_kernel_react(evs[k].data.u32);
                }
        }
        return NULL;
}

static int v1_register_threshold(const char *abs_, int efd, int ufd, uint64_t threshold) {
        char p[4300];
        snprintf(p, sizeof(p), "%s/cgroup.event_control", abs_);
        return bench_write_file(p, "%d %d %llu", efd, ufd, (unsigned long long) threshold);
}

/* Stops the first n threads of the thread-per-cgroup floor. */
static void stop_cg_threads(unsigned n) {
        uint64_t one = 1;
        (void) !__real_write(F.stop_fd, &one, sizeof(one));
        for (unsigned i = 0; i < n; i++) {
                pthread_join(F.cg_thread[i], NULL);
                close(F.kick[i]);
        }
}

static int floor_start(int rt, bool threaded) {
        F = (Floor) { .rt = rt, .threaded = threaded };
        atomic_store(&F.reactions, 0);
        F.stop_fd = eventfd(0, EFD_CLOEXEC);
        F.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        uint64_t start = B.fake ? FAKE_START : V1_START;
        for (unsigned i = 0; i < B.n; i++) {
                B.cur_max[i] = start;
                B.cur_high[i] = limits_high_from_max(&B.t, start);
        }
        if (B.fake) {
                memset(F.wd2idx, -1, sizeof(F.wd2idx));
                F.ifd = inotify_init1(IN_CLOEXEC);
                for (unsigned i = 0; i < B.n; i++) {
                        char p[4300];
                        snprintf(p, sizeof(p), "%s/memory.events", B.abs_[i]);
                        int wd = inotify_add_watch(F.ifd, p, IN_MODIFY);
                        if (wd < 0 || wd >= MAXCG + 64) {
                                fprintf(stderr, "floor: inotify watch %d for %s: %s\n", wd, p, strerror(errno));
                                return -1;
                        }
                        F.wd2idx[wd] = (int) i;
                        /* memory.events: the driver's own descriptor. */
                        F.fd_ev[i] = B.fd_events[i];
                        snprintf(p, sizeof(p), "%s/memory.current", B.abs_[i]);
                        F.fd_cur[i] = open(p, O_RDONLY | O_CLOEXEC);
                        snprintf(p, sizeof(p), "%s/memory.max", B.abs_[i]);
                        F.fd_max[i] = open(p, O_WRONLY | O_CLOEXEC);
                        if (F.fd_ev[i] < 0 || F.fd_cur[i] < 0 || F.fd_max[i] < 0) {
                                fprintf(stderr, "floor: cannot open the files of %s: %s\n", B.abs_[i], strerror(errno));
                                return -1;
                        }
                        F.last_high_count[i] = B.high_count[i];
                        char buf[32];
                        int len = snprintf(buf, sizeof(buf), "%015llu\n", (unsigned long long) start);
                        if (ftruncate(F.fd_max[i], 0) < 0 || __real_pwrite64(F.fd_max[i], buf, (size_t) len, 0) != len)
                                return -1;
                        if (threaded) {
                                pthread_attr_t attr;
                                pthread_attr_init(&attr);
                                pthread_attr_setstacksize(&attr, 64 * 1024);
                                F.kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                                int r = F.kick[i] < 0 ? errno
                                                      : pthread_create(&F.cg_thread[i], &attr, floor_cg_main,
                                                                       (void *) (uintptr_t) i);
                                pthread_attr_destroy(&attr);
                                if (r != 0) {
                                        fprintf(stderr, "floor: cannot start the thread of %s: %s\n", B.abs_[i],
                                                strerror(r));
                                        if (F.kick[i] >= 0)
                                                close(F.kick[i]);
                                        stop_cg_threads(i);
                                        return -1;
                                }
                        }
                }
                int r = -pthread_create(&F.thread, NULL, floor_fake_main, NULL);
                if (r < 0 && threaded)
                        stop_cg_threads(B.n);
                return r;
        }
        F.epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event stop = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
        epoll_ctl(F.epfd, EPOLL_CTL_ADD, F.stop_fd, &stop);
        if (B.v2) {
                for (unsigned i = 0; i < B.n; i++) {
                        char p[4300], h[4300];
                        snprintf(p, sizeof(p), "%s/memory.max", B.abs_[i]);
                        snprintf(h, sizeof(h), "%s/memory.high", B.abs_[i]);
                        if (bench_write_file(p, "%llu", (unsigned long long) start) < 0 ||
                            bench_write_file(h, "%llu", (unsigned long long) B.cur_high[i]) < 0)
                                return -1;
                        F.fd_max[i] = open(p, O_WRONLY | O_CLOEXEC);
                        F.fd_high[i] = open(h, O_WRONLY | O_CLOEXEC);
                        snprintf(p, sizeof(p), "%s/memory.events", B.abs_[i]);
                        F.fd_ev[i] = open(p, O_RDONLY | O_CLOEXEC);
                        if (F.fd_max[i] < 0 || F.fd_high[i] < 0 || F.fd_ev[i] < 0)
                                return -1;
                        floor_count_from_now(i);
                        struct epoll_event ev = { .events = EPOLLPRI, .data.u32 = i };
                        if (epoll_ctl(F.epfd, EPOLL_CTL_ADD, F.fd_ev[i], &ev) < 0)
                                return -1;
                }
                return -pthread_create(&F.thread, NULL, floor_kernel_main, NULL);
        }
        for (unsigned i = 0; i < B.n; i++) {
                char p[4300];
                snprintf(p, sizeof(p), "%s/memory.usage_in_bytes", B.abs_[i]);
                F.fd_usage[i] = open(p, O_RDONLY | O_CLOEXEC);
                snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", B.abs_[i]);
                F.fd_limit[i] = open(p, O_WRONLY | O_CLOEXEC);
                F.efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (F.fd_usage[i] < 0 || F.fd_limit[i] < 0 || F.efd[i] < 0)
                        return -1;
                if (bench_write_file(p, "%llu", (unsigned long long) start) < 0 ||
                    v1_register_threshold(B.abs_[i], F.efd[i], F.fd_usage[i], B.cur_high[i]) < 0)
                        return -1;
                struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
                epoll_ctl(F.epfd, EPOLL_CTL_ADD, F.efd[i], &ev);
        }
        return -pthread_create(&F.thread, NULL, floor_kernel_main, NULL);
}

static void floor_stop(void) {
        uint64_t one = 1;
        (void) !__real_write(F.stop_fd, &one, sizeof(one));
        pthread_join(F.thread, NULL);
        if (F.threaded)
                stop_cg_threads(B.n);
        for (unsigned i = 0; i < B.n; i++) {
                if (B.fake) {
                        close(F.fd_cur[i]);
                        close(F.fd_max[i]);
                } else if (B.v2) {
                        close(F.fd_ev[i]);
                        close(F.fd_max[i]);
                        close(F.fd_high[i]);
                } else {
                        close(F.efd[i]);
                        close(F.fd_usage[i]);
                        close(F.fd_limit[i]);
                }
        }
        if (B.fake)
                close(F.ifd);
        else
                close(F.epfd);
        close(F.stop_fd);
        close(F.done_fd);
}

static bool floor_wait(unsigned count, int timeout_ms) {
        struct pollfd p = { .fd = F.done_fd, .events = POLLIN };
        uint64_t deadline = bench_now_ns() + (uint64_t) timeout_ms * 1000000u;
        while (atomic_load(&F.reactions) < count) {
                uint64_t now = bench_now_ns(), v;
                if (now >= deadline)
                        return false;
                (void) poll(&p, 1, 50);
                (void) !read(F.done_fd, &v, sizeof(v));
        }
        return true;
}

/* Resets cgroup i to the start limit after a floor sample. */
static void floor_rebase(unsigned i) {
        uint64_t start = B.fake ? FAKE_START : V1_START;
        B.cur_max[i] = start;
        B.cur_high[i] = limits_high_from_max(&B.t, start);
        if (B.v2) {
                floor_write_u64(F.fd_max[i], start);
                floor_write_u64(F.fd_high[i], B.cur_high[i]);
                /* The last sample's allocator rose above the old line until
                 * the grow landed, and the kernel may notify those rises up
                 * to 10 ms later, after this rebase: without a new baseline
                 * the floor grew on them between samples, and the next
                 * sample, its line raised already, had no breach. Rises from
                 * here on count. */
                floor_count_from_now(i);
                F.grown[i] = false;
        } else if (!B.fake)
                floor_write_u64(F.fd_limit[i], start);
}

/* ---- v1 observer ---------------------------------------------------------- */

typedef struct Observer {
        pthread_t thread;
        int epfd, stop_fd;
        int efd[MAXCG], fd_usage[MAXCG]; /* v2: fd_usage is memory.events, efd unused */
        uint64_t threshold;
        _Atomic uint64_t base_high[MAXCG]; /* v2: the high counter when armed */
        _Atomic int armed[MAXCG];
        _Atomic uint64_t t_event[MAXCG];
        bool rt_ok;
} Observer;

static Observer O;

static void *observer_main(void *arg) {
        struct sched_param sp = { .sched_priority = 99 };
        O.rt_ok = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
        for (;;) {
                struct epoll_event evs[64];
                int n = epoll_wait(O.epfd, evs, 64, -1);
                uint64_t t = bench_now_ns();
                if (n < 0 && errno != EINTR)
                        break;
                for (int k = 0; k < n; k++) {
                        if (evs[k].data.u32 == UINT32_MAX)
                                return NULL;
                        unsigned i = evs[k].data.u32;
                        uint64_t v, zero = 0;
                        if (B.v2) {
                                /* The read re-arms the poll; only a rise
                                 * of the high counter while armed counts. */
                                uint64_t hc;
                                if (events_high(O.fd_usage[i], &hc) && atomic_load(&O.armed[i]) && hc > O.base_high[i])
                                        atomic_compare_exchange_strong(&O.t_event[i], &zero, t);
                                continue;
                        }
                        (void) !read(O.efd[i], &v, sizeof(v));
                        /* Crossings are signalled both ways: only the one
                         * upward while armed counts. */
                        if (atomic_load(&O.armed[i]) && pread_u64(O.fd_usage[i]) >= O.threshold)
                                atomic_compare_exchange_strong(&O.t_event[i], &zero, t);
                }
        }
        return NULL;
}

static int observer_start(void) {
        O.threshold = limits_high_from_max(&B.t, V1_START);
        O.epfd = epoll_create1(EPOLL_CLOEXEC);
        O.stop_fd = eventfd(0, EFD_CLOEXEC);
        struct epoll_event stop = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
        epoll_ctl(O.epfd, EPOLL_CTL_ADD, O.stop_fd, &stop);
        for (unsigned i = 0; i < B.n; i++) {
                char p[4300];
                if (B.v2) {
                        /* The kernel wakes every poller of memory.events
                         * in one loop; the observer runs first. */
                        snprintf(p, sizeof(p), "%s/memory.events", B.abs_[i]);
                        O.fd_usage[i] = open(p, O_RDONLY | O_CLOEXEC);
                        O.efd[i] = -1;
                        struct epoll_event ev = { .events = EPOLLPRI, .data.u32 = i };
                        if (O.fd_usage[i] < 0 || epoll_ctl(O.epfd, EPOLL_CTL_ADD, O.fd_usage[i], &ev) < 0)
                                return -1;
                        uint64_t base = 0;
                        (void) events_high(O.fd_usage[i], &base);
                        O.base_high[i] = base;
                        continue;
                }
                snprintf(p, sizeof(p), "%s/memory.usage_in_bytes", B.abs_[i]);
                O.fd_usage[i] = open(p, O_RDONLY | O_CLOEXEC);
                O.efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (O.fd_usage[i] < 0 || O.efd[i] < 0 ||
                    v1_register_threshold(B.abs_[i], O.efd[i], O.fd_usage[i], O.threshold) < 0)
                        return -1;
                struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
                epoll_ctl(O.epfd, EPOLL_CTL_ADD, O.efd[i], &ev);
        }
        return -pthread_create(&O.thread, NULL, observer_main, NULL);
}

static void observer_stop(void) {
        uint64_t one = 1;
        (void) !__real_write(O.stop_fd, &one, sizeof(one));
        pthread_join(O.thread, NULL);
        for (unsigned i = 0; i < B.n; i++) {
                if (O.efd[i] >= 0)
                        close(O.efd[i]);
                close(O.fd_usage[i]);
        }
        close(O.epfd);
        close(O.stop_fd);
}

/* ---- samples ------------------------------------------------------------------ */

typedef enum Reactor { ENGINE, FLOOR } Reactor;

static unsigned rnd(unsigned n) {
        static uint64_t s = 0x9e3779b97f4a7c15u;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return (unsigned) (s % n);
}

/* Fake tree, one cgroup at a time. */
static void fake_sequential(Reactor r, unsigned samples, double *lat, double *ann, unsigned *n_ok, unsigned *missed) {
        *n_ok = *missed = 0;
        for (unsigned s = 0; s < samples; s++) {
                unsigned i = B.n == 1 ? 0 : rnd(B.n);
                if (B.cur_max[i] > 1024 * MIB) {
                        fake_set_current(i, 10 * MIB);
                        if (r == ENGINE)
                                engine_rebase(i);
                        else
                                floor_rebase(i);
                }
                fake_set_current(i, B.cur_high[i] + MIB);
                atomic_store(&t_written[i], 0);
                B.announced_ns[i] = 0;
                unsigned before = atomic_load(&F.reactions);
                atomic_store(&capture_on, 1);
                uint64_t t0 = fake_breach(i);
                bool ok = r == ENGINE ? engine_wait((int) i, REACT_TIMEOUT_MS) : floor_wait(before + 1, REACT_TIMEOUT_MS);
                atomic_store(&capture_on, 0);
                uint64_t tw = atomic_load(&t_written[i]);
                if (!ok || tw == 0) {
                        (*missed)++;
                        continue;
                }
                lat[*n_ok] = (double) (tw - t0) / 1000.0;
                if (ann)
                        ann[*n_ok] = (double) (B.announced_ns[i] - t0) / 1000.0;
                (*n_ok)++;
                bench_sleep_ms(1);
        }
}

/* Fake tree: every cgroup breaches at once. */
static void fake_storm(Reactor r, double *lat, double *ann, unsigned *n_ok, unsigned *missed, double *makespan_ms) {
        static uint64_t t0[MAXCG];
        *n_ok = *missed = 0;
        for (unsigned i = 0; i < B.n; i++) {
                if (B.cur_max[i] > 1024 * MIB) {
                        fake_set_current(i, 10 * MIB);
                        if (r == ENGINE)
                                engine_rebase(i);
                        else
                                floor_rebase(i);
                }
                fake_set_current(i, B.cur_high[i] + MIB);
                atomic_store(&t_written[i], 0);
                B.announced_ns[i] = 0;
        }
        unsigned before = atomic_load(&F.reactions);
        grows_seen = 0;
        atomic_store(&capture_on, 1);
        for (unsigned i = 0; i < B.n; i++)
                t0[i] = fake_breach(i);
        if (r == ENGINE) {
                uint64_t deadline = bench_now_ns() + 60 * UINT64_C(1000000000);
                while (grows_seen < B.n && bench_now_ns() < deadline)
                        (void) engine_wait(-1, 50);
        } else
                (void) floor_wait(before + B.n, 60000);
        atomic_store(&capture_on, 0);
        uint64_t last = 0;
        for (unsigned i = 0; i < B.n; i++) {
                uint64_t tw = atomic_load(&t_written[i]);
                if (tw == 0) {
                        (*missed)++;
                        continue;
                }
                if (tw > last)
                        last = tw;
                lat[*n_ok] = (double) (tw - t0[i]) / 1000.0;
                if (ann)
                        ann[*n_ok] = B.announced_ns[i] ? (double) (B.announced_ns[i] - t0[i]) / 1000.0 : NAN;
                (*n_ok)++;
        }
        *makespan_ms = last ? (double) (last - t0[0]) / 1e6 : NAN;
}

/* A storm's p99 is its 40th-last reaction: one round is at the mercy of
 * whatever else the machine scheduled then. storm_rounds rounds, their
 * samples pooled; the makespan is the rounds' median. */
static unsigned storm_rounds = 1;
static bool thread_floor = true;

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static void fake_storms(Reactor r, double *lat, double *ann, unsigned *n_ok, unsigned *missed, double *makespan_ms) {
        double spans[64]; /* main() bounds storm_rounds to 64 */
        unsigned n_spans = 0;
        *n_ok = *missed = 0;
        for (unsigned k = 0; k < storm_rounds; k++) {
                unsigned ok, miss;
                double ms;
                fake_storm(r, lat + *n_ok, ann ? ann + *n_ok : NULL, &ok, &miss, &ms);
                *n_ok += ok;
                *missed += miss;
                if (isfinite(ms))
                        spans[n_spans++] = ms;
        }
        qsort(spans, n_spans, sizeof(double), cmp_double);
        *makespan_ms = n_spans ? spans[n_spans / 2] : NAN;
}

static char alloc_path[4096];

static int spawn_alloc(Child *c, unsigned i) {
        char procs[4300], pre[64], bytes[64];
        snprintf(procs, sizeof(procs), "--procs=%s/cgroup.procs", B.abs_[i]);
        snprintf(pre, sizeof(pre), "--prefault=%llu", (unsigned long long) V1_PREFAULT);
        snprintf(bytes, sizeof(bytes), "--bytes=%llu", (unsigned long long) V1_BURST);
        char *argv[] = { alloc_path, procs, pre, bytes, NULL };
        char line[256];
        if (bench_child_start(c, argv) < 0)
                return -1;
        if (!bench_child_expect(c, "ready", line, sizeof(line))) {
                bench_child_wait(c);
                return -1;
        }
        return 0;
}

/* v1, v2: `k` allocators released together (k = 1: a sequential sample).
 * Fills lat/ann for those that reacted. */
static void kernel_round(Reactor r, const unsigned *which, unsigned k, double *lat, double *ann, unsigned *n_ok,
                     unsigned *missed, double *makespan_ms) {
        static Child kids[MAXCG];
        unsigned before = atomic_load(&F.reactions);
        unsigned started = 0;
        for (unsigned j = 0; j < k; j++) {
                unsigned i = which[j];
                if (spawn_alloc(&kids[j], i) < 0) {
                        (*missed)++;
                        kids[j].pid = -1;
                        continue;
                }
                started++;
                atomic_store(&t_written[i], 0);
                atomic_store(&O.t_event[i], 0);
                uint64_t base = 0;
                if (B.v2 && events_high(O.fd_usage[i], &base))
                        O.base_high[i] = base;
                atomic_store(&O.armed[i], 1);
                B.announced_ns[i] = 0;
        }
        grows_seen = 0;
        atomic_store(&capture_on, 1);
        for (unsigned j = 0; j < k; j++)
                if (kids[j].pid > 0)
                        bench_child_go(&kids[j]);
        if (r == ENGINE) {
                uint64_t deadline = bench_now_ns() + (uint64_t) REACT_TIMEOUT_MS * 1000000u;
                while (grows_seen < started && bench_now_ns() < deadline)
                        (void) engine_wait(k == 1 ? (int) which[0] : -1, 20);
        } else
                (void) floor_wait(before + started, REACT_TIMEOUT_MS);
        atomic_store(&capture_on, 0);
        uint64_t first = UINT64_MAX, last = 0;
        for (unsigned j = 0; j < k; j++) {
                unsigned i = which[j];
                if (kids[j].pid <= 0)
                        continue;
                atomic_store(&O.armed[i], 0);
                uint64_t tw = atomic_load(&t_written[i]), te = atomic_load(&O.t_event[i]);
                if (tw == 0 || te == 0) {
                        if (getenv("MEMCGD_BENCH_VERBOSE"))
                                fprintf(stderr, "missed %s: %s%s, usage %llu\n", B.rel[i], tw ? "" : "no write ",
                                        te ? "" : "no event",
                                        (unsigned long long) bench_memcg_u64(B.abs_[i], B.v2 ? "memory.current"
                                                                                             : "memory.usage_in_bytes"));
                        (*missed)++;
                        continue;
                }
                if (te < first)
                        first = te;
                if (tw > last)
                        last = tw;
                /* The observer wakes first by design; if the writer got
                 * there before it was scheduled the latency is ~0. */
                lat[*n_ok] = tw > te ? (double) (tw - te) / 1000.0 : 0.0;
                if (ann)
                        ann[*n_ok] = B.announced_ns[i] > te ? (double) (B.announced_ns[i] - te) / 1000.0 : NAN;
                (*n_ok)++;
        }
        if (makespan_ms)
                *makespan_ms = last > first ? (double) (last - first) / 1e6 : NAN;
        for (unsigned j = 0; j < k; j++)
                if (kids[j].pid > 0)
                        bench_child_wait(&kids[j]);
        /* Back to the start limit for the next round; the engine's
         * threshold ladder is re-registered by its registrar thread. */
        for (unsigned j = 0; j < k; j++) {
                if (r == ENGINE)
                        engine_rebase(which[j]);
                else
                        floor_rebase(which[j]);
        }
        if (r == ENGINE)
                bench_sleep_ms(20);
}

static void kernel_sequential(Reactor r, unsigned samples, double *lat, double *ann, unsigned *n_ok, unsigned *missed) {
        *n_ok = *missed = 0;
        for (unsigned s = 0; s < samples; s++) {
                unsigned i = B.n == 1 ? 0 : rnd(B.n);
                kernel_round(r, &i, 1, lat, ann, n_ok, missed, NULL);
        }
}

/* ---- driver ---------------------------------------------------------------------- */

static double *buf_lat, *buf_ann, *buf_flo;

static Row *new_row(const char *variant, unsigned n, int rt) {
        Row *row = &rows[n_rows++];
        *row = (Row) { .n = n, .rt = rt, .eng_makespan_ms = NAN, .flo_makespan_ms = NAN };
        snprintf(row->variant, sizeof(row->variant), "%s", variant);
        return row;
}

/* The floor running now (floor_start()) through the fake storms, into r. */
static void floor_storms(Row *r) {
        unsigned ok, missed;
        double ms;
        fake_storms(FLOOR, buf_flo, NULL, &ok, &missed, &ms);
        r->has_floor = true;
        r->flo = bench_summarize(buf_flo, ok);
        r->flo_missed = missed;
        r->flo_makespan_ms = ms;
}

static void run_fake(unsigned n, unsigned samples, bool floor, bool storm) {
        unsigned ok, missed;
        double ms;
        printf("# fake tree: %u cgroups\n", n);
        if (fake_setup(n) < 0) {
                fprintf(stderr, "cannot build the fake tree\n");
                return;
        }
        Row *seq = new_row("fake sequential", n, 0);
        char label[48];
        snprintf(label, sizeof(label), "fake storm x%u", storm_rounds);
        Row *st = storm && n > 1 ? new_row(label, n, 0) : NULL;
        /* The same engine storms against a floor of one bare loop a
         * cgroup (memcgd's model: a thread a cgroup), for what the model
         * itself costs; the target stays against the one-loop floor. */
        Row *stt = NULL;
        if (st && thread_floor) {
                snprintf(label, sizeof(label), "storm vs thread floor");
                stt = new_row(label, n, 0);
                stt->thread_floor = true;
        }

        if (engine_start(0) == 0) {
                /* The engine keeps a cgroup's files open only while the
                 * fd table is less than half full (the driver's
                 * memory.events, one a cgroup, count too): where the fd
                 * limit is low, the rest open them at each use. */
                struct rlimit rl = {};
                (void) getrlimit(RLIMIT_NOFILE, &rl);
                seq->kept = bench_count_fds_named(getpid(), "memory.max");
                if (st)
                        st->kept = seq->kept;
                printf("# engine: limit file kept open for %u of %u cgroups (fd limit %llu)\n", seq->kept, n,
                       (unsigned long long) rl.rlim_cur);
                fake_sequential(ENGINE, samples, buf_lat, buf_ann, &ok, &missed);
                seq->eng = bench_summarize(buf_lat, ok);
                seq->ann = bench_summarize(buf_ann, ok);
                seq->eng_missed = missed;
                if (st) {
                        fake_storms(ENGINE, buf_lat, buf_ann, &ok, &missed, &ms);
                        st->eng = bench_summarize(buf_lat, ok);
                        st->ann = bench_summarize(buf_ann, ok);
                        st->eng_missed = missed;
                        st->eng_makespan_ms = ms;
                }
        }
        engine_stop();
        if (stt) {
                stt->eng = st->eng;
                stt->ann = st->ann;
                stt->eng_missed = st->eng_missed;
                stt->eng_makespan_ms = st->eng_makespan_ms;
                stt->kept = st->kept;
        }
        if (floor && stt && floor_start(0, true) == 0) {
                floor_storms(stt);
                floor_stop();
        }
        if (floor && floor_start(0, false) == 0) {
                seq->has_floor = true;
                fake_sequential(FLOOR, samples, buf_flo, NULL, &ok, &missed);
                seq->flo = bench_summarize(buf_flo, ok);
                seq->flo_missed = missed;
                if (st)
                        floor_storms(st);
                floor_stop();
        }
        fake_teardown();
}

/* Real memory cgroups: v1 (thresholds) or v2 (memory.events). */
static void run_kernel(const char *root, bool v2, unsigned n, int rt, unsigned samples, bool floor, bool storm) {
        unsigned ok, missed;
        double ms;
        const char *kind = v2 ? "v2" : "v1";
        printf("# %s: %u memcgs, workers %s\n", kind, n, rt ? "SCHED_FIFO" : "SCHED_OTHER");
        B.fake = false;
        B.v2 = v2;
        B.n = n;
        snprintf(B.root, sizeof(B.root), "%s", root);
        target_clear();
        for (unsigned i = 0; i < n; i++) {
                char name[32], p[4300];
                snprintf(name, sizeof(name), "b1-%u-%u", n, i);
                if (bench_memcg_create(root, name, B.rel[i], sizeof(B.rel[i]), B.abs_[i], sizeof(B.abs_[i])) < 0) {
                        fprintf(stderr, "cannot create memcg %s\n", name);
                        B.n = i;
                        goto out;
                }
                snprintf(p, sizeof(p), "%s/%s", B.abs_[i], v2 ? "memory.max" : "memory.limit_in_bytes");
                target_add(p, (int) i);
        }
        if (observer_start() < 0) {
                fprintf(stderr, "cannot start the observer\n");
                goto out;
        }
        char label[48];
        snprintf(label, sizeof(label), "%s sequential rt=%d", kind, rt);
        Row *seq = new_row(label, n, rt);
        snprintf(label, sizeof(label), "%s storm rt=%d", kind, rt);
        Row *st = storm && n > 1 ? new_row(label, n, rt) : NULL;
        static unsigned all[MAXCG];
        for (unsigned i = 0; i < n; i++)
                all[i] = i;

        if (engine_start(rt) == 0) {
                bench_sleep_ms(100);
                kernel_sequential(ENGINE, samples, buf_lat, buf_ann, &ok, &missed);
                seq->eng = bench_summarize(buf_lat, ok);
                seq->ann = bench_summarize(buf_ann, ok);
                seq->eng_missed = missed;
                if (st) {
                        ok = missed = 0;
                        kernel_round(ENGINE, all, n, buf_lat, buf_ann, &ok, &missed, &ms);
                        st->eng = bench_summarize(buf_lat, ok);
                        st->ann = bench_summarize(buf_ann, ok);
                        st->eng_missed = missed;
                        st->eng_makespan_ms = ms;
                }
        }
        engine_stop();
        if (floor && floor_start(rt, false) == 0) {
                seq->has_floor = true;
                kernel_sequential(FLOOR, samples, buf_flo, NULL, &ok, &missed);
                seq->flo = bench_summarize(buf_flo, ok);
                seq->flo_missed = missed;
                if (st) {
                        st->has_floor = true;
                        ok = missed = 0;
                        kernel_round(FLOOR, all, n, buf_flo, NULL, &ok, &missed, &ms);
                        st->flo = bench_summarize(buf_flo, ok);
                        st->flo_missed = missed;
                        st->flo_makespan_ms = ms;
                }
                floor_stop();
        }
        if (!O.rt_ok)
                printf("# note: the observer did not get SCHED_FIFO 99\n");
        observer_stop();
out:
        for (unsigned i = 0; i < B.n; i++)
                bench_memcg_remove(B.abs_[i]);
}

static void print_table(void) {
        printf("\nB1 reaction latency, microseconds: event -> write(2) of the new limit returned\n");
        printf("  (fake: event = pwrite raising memory.events 'high'; v1: event = SCHED_FIFO-99 observer woken by\n"
               "   the same usage threshold; v2: by the same memory.events notification, in QEMU under TCG;\n"
               "   floor = bare loop, same event source, same file; ann = engine event popped)\n");
        printf("%-22s %5s %6s | %8s %8s %8s | %8s %8s %8s | %6s %6s | %8s %8s | %s\n", "variant", "N", "n", "p50",
               "p99", "max", "floor50", "floor99", "floormax", "x50", "x99", "ann p50", "ann p99", "makespan eng/floor ms");
        for (unsigned k = 0; k < n_rows; k++) {
                Row *r = &rows[k];
                char a[6][16], b[2][16];
                bench_fmt_us(a[0], 16, r->eng.p50);
                bench_fmt_us(a[1], 16, r->eng.p99);
                bench_fmt_us(a[2], 16, r->eng.max);
                bench_fmt_us(a[3], 16, r->has_floor ? r->flo.p50 : NAN);
                bench_fmt_us(a[4], 16, r->has_floor ? r->flo.p99 : NAN);
                bench_fmt_us(a[5], 16, r->has_floor ? r->flo.max : NAN);
                bench_fmt_us(b[0], 16, r->ann.p50);
                bench_fmt_us(b[1], 16, r->ann.p99);
                double x50 = r->has_floor ? r->eng.p50 / r->flo.p50 : NAN, x99 = r->has_floor ? r->eng.p99 / r->flo.p99 : NAN;
                char ms[48] = "";
                if (isfinite(r->eng_makespan_ms) || isfinite(r->flo_makespan_ms))
                        snprintf(ms, sizeof(ms), "%.1f / %.1f", r->eng_makespan_ms, r->flo_makespan_ms);
                char miss[48] = "";
                if (r->eng_missed || r->flo_missed)
                        snprintf(miss, sizeof(miss), " missed %u/%u", r->eng_missed, r->flo_missed);
                printf("%-22s %5u %6zu | %8s %8s %8s | %8s %8s %8s | %6.2f %6.2f | %8s %8s | %s%s\n", r->variant,
                       r->n, r->eng.n, a[0], a[1], a[2], a[3], a[4], a[5], x50, x99, b[0], b[1], ms, miss);
        }
        for (unsigned k = 0; k < n_rows; k++) {
                Row *r = &rows[k];
                if (r->n != 4000 || !r->has_floor)
                        continue;
                if (r->thread_floor) {
                        if (r->eng.n > 0 && r->flo.n > 0)
                                printf("not a target, the model's own cost: the same storms against a floor of one "
                                       "thread a cgroup: p99 %.2fx, makespan %.2fx\n",
                                       r->eng.p99 / r->flo.p99, r->eng_makespan_ms / r->flo_makespan_ms);
                        continue;
                }
                if (r->eng.n == 0 || r->flo.n == 0)
                        /* Nothing measured is nothing met. */
                        printf("target at 4000 (%s): NOT MEASURED (%zu engine, %zu floor samples)\n", r->variant,
                               r->eng.n, r->flo.n);
                else
                        printf("target at 4000 (%s): p99 %.0f us <= 1000 us: %s; p99 <= 3x floor (%.2fx): %s\n",
                               r->variant, r->eng.p99, r->eng.p99 <= 1000 ? "MET" : "NOT MET",
                               r->eng.p99 / r->flo.p99, r->eng.p99 <= 3 * r->flo.p99 ? "MET" : "NOT MET");
        }
}

static void write_json(const char *path, bool small) {
        Json j;
        if (json_begin_file(&j, path, "B1 reaction latency") < 0)
                return;
        json_bool(&j, "small", small);
        json_str(&j, "measures",
                 "microseconds from the event (fake: before the pwrite raising memory.events high; v1: wake-up of a "
                 "SCHED_FIFO 99 observer on the same threshold; v2: of one polling the same memory.events) to the "
                 "return of write(2) of the new limit; "
                 "announced = engine LIMIT_CHANGED popped by the main thread");
        json_u64(&j, "fake_storm_rounds", storm_rounds);
        json_arr(&j, "rows");
        for (unsigned k = 0; k < n_rows; k++) {
                Row *r = &rows[k];
                json_obj(&j, NULL);
                json_str(&j, "variant", r->variant);
                json_bool(&j, "floor_thread_per_cgroup", r->thread_floor);
                json_u64(&j, "cgroups", r->n);
                json_u64(&j, "realtime_priority", (uint64_t) r->rt);
                json_summary(&j, "engine_written", r->eng);
                json_summary(&j, "engine_announced", r->ann);
                json_u64(&j, "engine_missed", r->eng_missed);
                json_num(&j, "engine_makespan_ms", r->eng_makespan_ms);
                if (strncmp(r->variant, "fake", 4) == 0)
                        json_u64(&j, "engine_limit_files_kept_open", r->kept);
                if (r->has_floor) {
                        json_summary(&j, "floor_written", r->flo);
                        json_u64(&j, "floor_missed", r->flo_missed);
                        json_num(&j, "floor_makespan_ms", r->flo_makespan_ms);
                        json_num(&j, "ratio_p50", r->eng.p50 / r->flo.p50);
                        json_num(&j, "ratio_p99", r->eng.p99 / r->flo.p99);
                }
                json_end_obj(&j);
        }
        json_end_arr(&j);
        json_end_file(&j);
}

/* The numbers of a comma-separated list, one a call: false at its end. */
static bool list_next(const char **p, long *ret) {
        if (!*p || !**p)
                return false;
        *ret = strtol(*p, NULL, 10);
        *p = strchr(*p, ',') ? strchr(*p, ',') + 1 : NULL;
        return true;
}

static bool in_list(const char *list, long v) {
        long n;
        if (!list)
                return true;
        while (list_next(&list, &n))
                if (n == v)
                        return true;
        return false;
}

int main(int argc, char **argv) {
        bool small = bench_flag(argc, argv, "--small");
        const char *only = bench_opt(argc, argv, "--only");
        const char *sizes = bench_opt(argc, argv, "--sizes");
        const char *rts = bench_opt(argc, argv, "--rt");
        const char *json = bench_opt(argc, argv, "--json");
        if (bench_opt(argc, argv, "--fake-dir"))
                fake_dir = bench_opt(argc, argv, "--fake-dir");
        else if (access("/dev/shm", W_OK) < 0)
                fake_dir = "/tmp";
        unsigned samples = (unsigned) bench_opt_long(argc, argv, "--samples", small ? 300 : 2000);
        unsigned v1_samples = (unsigned) bench_opt_long(argc, argv, "--v1-samples", small ? 10 : 150);
        bool floor = !bench_flag(argc, argv, "--no-floor"), storm = !bench_flag(argc, argv, "--no-storm");

        setvbuf(stdout, NULL, _IOLBF, 0);
        /* The engine and this driver (two fds a cgroup) of 4,000 cgroups
         * share this process. Where the hard fd limit may be raised (root
         * with CAP_SYS_RESOURCE), room for both; elsewhere the engine
         * keeps fewer files open (only below half the limit). */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < 65536) {
                struct rlimit more = { .rlim_cur = 65536, .rlim_max = 65536 };
                (void) setrlimit(RLIMIT_NOFILE, &more);
        }
        tunables_init_default(&B.t);
        bench_helper_path("bench-alloc", alloc_path, sizeof(alloc_path));
        storm_rounds = (unsigned) bench_opt_long(argc, argv, "--storm-rounds", small ? 1 : 5);
        thread_floor = !bench_flag(argc, argv, "--no-thread-floor");
        if (storm_rounds < 1 || storm_rounds > 64) {
                fprintf(stderr, "--storm-rounds: 1 to 64\n");
                return 2;
        }
        size_t nbuf = samples > (size_t) MAXCG * storm_rounds ? samples : (size_t) MAXCG * storm_rounds;
        buf_lat = calloc(nbuf, sizeof(double));
        buf_ann = calloc(nbuf, sizeof(double));
        buf_flo = calloc(nbuf, sizeof(double));
        if (!buf_lat || !buf_ann || !buf_flo)
                return 1;
        if (v1_samples > samples && v1_samples > MAXCG)
                return 1;

        uint64_t t_start = bench_now_ns();
        if (!only || strcmp(only, "fake") == 0) {
                /* The fake tree takes any size up to MAXCG from --sizes. */
                if (sizes) {
                        long n;
                        for (const char *p = sizes; list_next(&p, &n);)
                                if (n >= 1 && n <= MAXCG)
                                        run_fake((unsigned) n, samples, floor, storm);
                } else {
                        static const unsigned ns[] = { 1, 100, 4000 };
                        for (size_t k = 0; k < 3; k++)
                                run_fake(ns[k], samples, floor, storm);
                }
        }
        /* Real memory cgroups: v1 here, v2 where /sys/fs/cgroup is v2. */
        for (int v2 = 0; v2 <= 1; v2++) {
                if (only && strcmp(only, v2 ? "v2" : "v1") != 0)
                        continue;
                const char *root = v2 ? bench_require_v2("B1 on v2") : bench_require_v1("B1 on v1");
                static const int prios[] = { 0, 10 };
                static const unsigned ns[] = { 1, 100 };
                for (size_t p = 0; root && p < 2; p++)
                        for (size_t k = 0; k < 2; k++)
                                if (in_list(rts, prios[p]) && in_list(sizes, ns[k]))
                                        run_kernel(root, v2, ns[k], prios[p], v1_samples, floor, storm);
        }
        print_table();
        printf("B1 ran in %.1f s\n", (double) (bench_now_ns() - t_start) / 1e9);
        if (json)
                write_json(json, small);
        /* A row the engine answered no sample of (it did not start, or
         * never wrote a limit) is a benchmark that could not run. */
        int rc = n_rows ? 0 : 77;
        for (unsigned k = 0; k < n_rows; k++)
                if (rows[k].eng.n == 0) {
                        fprintf(stderr, "B1: no engine sample in row '%s' (%u cgroups)\n", rows[k].variant, rows[k].n);
                        rc = 1;
                }
        return rc;
}
