/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the kernel tests share: PASS/FAIL lines, a fresh memcg, reading
 * its files, a child that allocates inside it, waiting for engine events.
 * The same binaries run on v1 here and on v2 in the VM. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
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

static int kt_failures;

static inline void __attribute__((format(printf, 2, 3))) check(int ok, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        printf("%s: ", ok ? "PASS" : "FAIL");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
        fflush(stdout);
        if (!ok)
                kt_failures++;
}

static inline uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static inline int cg_read(const char *cg_abs, const char *name, char *buf, size_t size) {
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

static inline uint64_t cg_u64(const char *cg_abs, const char *name) {
        char buf[128];
        uint64_t v = 0;
        int n = cg_read(cg_abs, name, buf, sizeof(buf));
        if (n < 0 || parse_u64_value(buf, (size_t) n, &v) < 0)
                return UINT64_MAX;
        return v;
}

static inline uint64_t cg_oom_kills(Backend b, const char *cg_abs) {
        char buf[1024];
        uint64_t v = UINT64_MAX;
        int n = cg_read(cg_abs, b == BACKEND_V1 ? "memory.oom_control" : "memory.events", buf, sizeof(buf));
        if (n > 0)
                (void) parse_keyed_u64(buf, (size_t) n, "oom_kill", &v);
        return v;
}

static inline uint64_t cg_limit(Backend b, const char *cg_abs) {
        uint64_t v = cg_u64(cg_abs, b == BACKEND_V1 ? "memory.limit_in_bytes" : "memory.max");
        return v >= UINT64_C(9223372036854771712) ? UINT64_MAX : v;
}

static inline uint64_t cg_usage(Backend b, const char *cg_abs) {
        return cg_u64(cg_abs, b == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current");
}

static inline int cg_write(const char *cg_abs, const char *name, const char *value) {
        char p[4608];
        snprintf(p, sizeof(p), "%s/%s", cg_abs, name);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, value, strlen(value)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static inline int cg_join(const char *cg_abs) {
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", getpid());
        return cg_write(cg_abs, "cgroup.procs", pid);
}

/* Memory through raw syscalls and stores the sanitizers do not see: under
 * TSan an intercepted memset would also touch shadow memory, which is
 * charged to the cgroup and would multiply the workload. `huge` asks for
 * transparent huge pages. */
__attribute__((no_sanitize("thread", "address"))) static inline void *touch_block(size_t size, bool huge) {
        long p = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == -1)
                return NULL;
        if (huge)
                (void) syscall(SYS_madvise, p, size, MADV_HUGEPAGE);
        for (size_t off = 0; off < size; off += 4096)
                ((volatile char *) p)[off] = 0x5a;
        return (void *) p;
}

/* Forks a child that joins cg_abs, allocates `total` bytes in `step`
 * blocks with `pause_us` between them, then exits 0 (or sleeps `hold_us`
 * first). */
static inline pid_t spawn_allocator(const char *cg_abs, size_t total, size_t step, unsigned pause_us,
                                    unsigned hold_us) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        if (cg_join(cg_abs) < 0)
                _exit(3);
        for (size_t done = 0; done < total; done += step) {
                if (!touch_block(step, false))
                        _exit(4);
                if (pause_us)
                        usleep(pause_us);
        }
        if (hold_us)
                usleep(hold_us);
        _exit(0);
}

static inline char proc_state(pid_t pid) {
        char p[64], buf[512];
        snprintf(p, sizeof(p), "/proc/%d/stat", pid);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return '?';
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return '?';
        buf[n] = 0;
        char *rp = strrchr(buf, ')');
        return rp && rp[1] == ' ' ? rp[2] : '?';
}

/* Creates root/name-PID; returns 0 or exits 77 when it cannot. */
static inline void make_memcg(const char *root, const char *name, char *rel, size_t relsz, char *abs_, size_t abssz) {
        snprintf(rel, relsz, "/memcgd-test-%s-%d", name, getpid());
        snprintf(abs_, abssz, "%s%s", root, rel);
        if (mkdir(abs_, 0755) < 0 && errno != EEXIST) {
                printf("SKIP: cannot create %s: %s\n", abs_, strerror(errno));
                exit(77);
        }
}

/* Moves every task back to the root and removes the memcg. */
static inline void remove_memcg(const char *root, const char *abs_) {
        char buf[65536], p[4608];
        int n = cg_read(abs_, "cgroup.procs", buf, sizeof(buf));
        snprintf(p, sizeof(p), "%s/cgroup.procs", root);
        for (char *s = buf, *e; n > 0 && *s; s = e) {
                long pid = strtol(s, &e, 10);
                if (e == s)
                        break;
                while (*e == '\n')
                        e++;
                kill((pid_t) pid, SIGKILL);
        }
        for (int i = 0; i < 50 && rmdir(abs_) < 0 && errno == EBUSY; i++)
                usleep(20000);
}

static inline Engine *start_engine(EngineConfig *cfg) {
        MemcgError err = {};
        Engine *e = NULL;

        if (geteuid() != 0) {
                printf("SKIP: needs root to create memory cgroups\n");
                exit(77);
        }
        if (engine_new(cfg, &e, &err) < 0) {
                printf("SKIP: no usable memory cgroup hierarchy: %s\n", err.message);
                exit(77);
        }
        printf("memory hierarchy %s, backend %s\n", engine_root(e), backend_to_string(engine_backend(e)));
        return e;
}
