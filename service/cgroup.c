/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "cgroup.h"

static int openat2_beneath(int dirfd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) flags | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

int read_file_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len) {
        size_t len = 0;
        int fd, r = 0;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                if (len + 1 >= size) {
                        r = -EFBIG;
                        break;
                }
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        if (r < 0)
                return r;
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

int read_u64_at(int dirfd, const char *name, uint64_t *ret) {
        char buf[64];
        size_t len;
        int r = read_file_at(dirfd, name, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return parse_u64_value(buf, len, ret);
}

/* The v1 page counter's "unlimited" reads back as PAGE_COUNTER_MAX pages:
 * LONG_MAX rounded down to a page. Anything that large means unlimited. */
#define V1_UNLIMITED UINT64_C(9223372036854771712)

int write_string_at(int dirfd, const char *name, const char *s) {
        size_t len = strlen(s);
        struct statfs sfs;
        int fd, flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
        ssize_t n;

        /* A fake tree (a test's temp dir) holds regular files: truncate so
         * a shorter value does not leave the tail of a longer one. */
        if (fstatfs(dirfd, &sfs) == 0 && sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC)
                flags |= O_TRUNC;
        fd = openat(dirfd, name, flags);
        if (fd < 0)
                return -errno;
        do
                n = write(fd, s, len);
        while (n < 0 && errno == EINTR);
        int r = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
        close(fd);
        return r;
}

int write_limit_at(int dirfd, const char *name, uint64_t value, Backend b) {
        char buf[32];

        if (value == UINT64_MAX)
                snprintf(buf, sizeof(buf), "%s", b == BACKEND_V2 ? "max" : "-1");
        else
                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) value);
        return write_string_at(dirfd, name, buf);
}

static uint64_t v1_normalize(uint64_t v) {
        return v >= V1_UNLIMITED ? UINT64_MAX : v;
}

static int read_whole_file(const char *path, char *buf, size_t size, size_t *ret_len) {
        return read_file_at(AT_FDCWD, path, buf, size, ret_len);
}

int cgroup_root_open(const char *root_override, CgroupRoot *ret, MemcgError *ret_error) {
        CgroupRoot r = { .fd = -1, .unified_fd = -1 };
        struct statfs sfs;

        if (root_override) {
                snprintf(r.path, sizeof(r.path), "%s", root_override);
        } else {
                /* mountinfo of a busy host can be long. */
                size_t size = 1 << 20, len;
                char *buf = malloc(size);
                MountinfoMemory mi;
                int q;

                if (!buf)
                        return -ENOMEM;
                q = read_whole_file("/proc/self/mountinfo", buf, size, &len);
                if (q >= 0)
                        q = parse_mountinfo_memory(buf, len, &mi);
                free(buf);
                if (q < 0) {
                        memcg_error_set(ret_error, MEMCG_ERROR_FAILED,
                                        "No memory cgroup hierarchy is mounted (looked in /proc/self/mountinfo): %s",
                                        strerror(-q));
                        return q;
                }
                snprintf(r.path, sizeof(r.path), "%s", mi.path);
                if (mi.backend == BACKEND_V1 && mi.unified_found)
                        r.unified_fd = open(mi.unified_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        }

        r.fd = open(r.path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (r.fd < 0) {
                int q = -errno;
                memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Cannot open the memory hierarchy root %s: %s",
                                r.path, strerror(errno));
                if (r.unified_fd >= 0)
                        close(r.unified_fd);
                return q;
        }
        if (fstatfs(r.fd, &sfs) < 0) {
                int q = -errno;
                cgroup_root_close(&r);
                return q;
        }
        if (sfs.f_type == CGROUP_SUPER_MAGIC)
                r.backend = BACKEND_V1;
        else if (sfs.f_type == CGROUP2_SUPER_MAGIC)
                r.backend = BACKEND_V2;
        else {
                r.backend = BACKEND_V2;
                r.fake = true;
        }

        if (r.backend == BACKEND_V2 && !r.fake) {
                /* The children of the v2 root are memcgs only when the root
                 * delegates the controller. */
                char buf[512];
                size_t len;
                if (read_file_at(r.fd, "cgroup.subtree_control", buf, sizeof(buf), &len) < 0 ||
                    !strstr(buf, "memory")) {
                        memcg_error_set(ret_error, MEMCG_ERROR_FAILED,
                                        "The cgroup v2 hierarchy at %s does not enable the memory controller for its children (cgroup.subtree_control lacks 'memory')",
                                        r.path);
                        cgroup_root_close(&r);
                        return -ENOMEDIUM;
                }
        }
        *ret = r;
        return 0;
}

void cgroup_root_close(CgroupRoot *r) {
        if (r->fd >= 0)
                close(r->fd);
        if (r->unified_fd >= 0)
                close(r->unified_fd);
        r->fd = r->unified_fd = -1;
}

int cgroup_open(const CgroupRoot *root, const char *path, Cgroup **ret, MemcgError *ret_error) {
        char shown[512];
        int fd, r;

        r = cgroup_path_validate(path, ret_error);
        if (r < 0)
                return r;
        cgroup_path_render(path, strlen(path), shown, sizeof(shown));

        /* Skip the leading '/': RESOLVE_BENEATH wants a relative path. */
        fd = openat2_beneath(root->fd, path + 1, O_DIRECTORY | O_RDONLY);
        if (fd < 0) {
                switch (fd) {
                case -ENOENT:
                        memcg_error_set(ret_error, MEMCG_ERROR_NO_SUCH_CGROUP,
                                        "No such cgroup '%s': it does not exist below the memory hierarchy %s", shown,
                                        root->path);
                        break;
                case -ENOTDIR:
                        memcg_error_set(ret_error, MEMCG_ERROR_NOT_MEMCG,
                                        "'%s' is not a memory cgroup: a component of it is not a directory", shown);
                        break;
                case -ELOOP:
                case -EXDEV:
                        memcg_error_set(ret_error, MEMCG_ERROR_INVALID_PATH,
                                        "Invalid cgroup path '%s': it goes through a symbolic link or leaves the memory hierarchy",
                                        shown);
                        break;
                default:
                        memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Cannot open cgroup '%s': %s", shown,
                                        strerror(-fd));
                }
                return fd;
        }

        const char *probe = root->backend == BACKEND_V1 ? "memory.limit_in_bytes" : "memory.max";
        if (faccessat(fd, probe, F_OK, 0) < 0) {
                r = -errno;
                close(fd);
                memcg_error_set(ret_error, MEMCG_ERROR_NOT_MEMCG,
                                "'%s' is not a memory cgroup: it has no %s (is the memory controller enabled for it?)",
                                shown, probe);
                return r == -ENOENT ? -EMEDIUMTYPE : r;
        }

        Cgroup *c = calloc(1, sizeof(*c));
        if (!c || !(c->path = strdup(path))) {
                free(c);
                close(fd);
                return -ENOMEM;
        }
        c->backend = root->backend;
        c->fake = root->fake;
        c->dirfd = fd;
        c->has_memsw = root->backend == BACKEND_V1 && faccessat(fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;
        *ret = c;
        return 0;
}

Cgroup *cgroup_free(Cgroup *c) {
        if (!c)
                return NULL;
        if (c->dirfd >= 0)
                close(c->dirfd);
        free(c->path);
        free(c);
        return NULL;
}

int cgroup_read_usage(const Cgroup *c, uint64_t *ret) {
        return read_u64_at(c->dirfd, c->backend == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current", ret);
}

int cgroup_read_limits(const Cgroup *c, uint64_t *ret_max, uint64_t *ret_high) {
        uint64_t max, high;
        int r;

        if (c->backend == BACKEND_V1) {
                r = read_u64_at(c->dirfd, "memory.limit_in_bytes", &max);
                if (r < 0)
                        return r;
                r = read_u64_at(c->dirfd, "memory.soft_limit_in_bytes", &high);
                if (r < 0)
                        return r;
                max = v1_normalize(max);
                high = v1_normalize(high);
        } else {
                r = read_u64_at(c->dirfd, "memory.max", &max);
                if (r < 0)
                        return r;
                r = read_u64_at(c->dirfd, "memory.high", &high);
                if (r < 0)
                        return r;
        }
        *ret_max = max;
        *ret_high = high;
        return 0;
}

int cgroup_write_limits(const Cgroup *c, uint64_t old_max, uint64_t new_max, uint64_t new_high,
                        bool *ret_max_written) {
        int r;

        *ret_max_written = false;
        if (c->backend == BACKEND_V1) {
                /* The kernel keeps limit_in_bytes <= memsw.limit_in_bytes
                 * and refuses a write that would break it: when raising,
                 * lift memsw first. */
                if (c->has_memsw && new_max > old_max) {
                        uint64_t memsw;
                        r = read_u64_at(c->dirfd, "memory.memsw.limit_in_bytes", &memsw);
                        if (r < 0)
                                return r;
                        if (v1_normalize(memsw) < new_max) {
                                r = write_limit_at(c->dirfd, "memory.memsw.limit_in_bytes", new_max, c->backend);
                                if (r < 0)
                                        return r;
                        }
                }
                r = write_limit_at(c->dirfd, "memory.limit_in_bytes", new_max, c->backend);
                if (r < 0)
                        return r;
                *ret_max_written = true;
                /* v1 has no memory.high: the soft limit is the reclaim hint
                 * at the same line; the breach itself is watched through a
                 * usage threshold. */
                return write_limit_at(c->dirfd, "memory.soft_limit_in_bytes", new_high, c->backend);
        }

        r = write_limit_at(c->dirfd, "memory.max", new_max, c->backend);
        if (r < 0)
                return r;
        *ret_max_written = true;
        return write_limit_at(c->dirfd, "memory.high", new_high, c->backend);
}

int cgroup_read_events(const Cgroup *c, MemoryEvents *ret) {
        char buf[1024];
        size_t len;
        int r;

        if (c->backend == BACKEND_V2) {
                r = read_file_at(c->dirfd, "memory.events", buf, sizeof(buf), &len);
                if (r < 0)
                        return r;
                return parse_memory_events(buf, len, ret);
        }

        MemoryEvents e = {};
        OomControl oc;
        r = read_file_at(c->dirfd, "memory.oom_control", buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        r = parse_oom_control(buf, len, &oc);
        if (r < 0)
                return r;
        e.oom_kill = oc.oom_kill;
        e.oom = oc.under_oom;
        r = read_u64_at(c->dirfd, "memory.failcnt", &e.max);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

bool cgroup_is_removed(const Cgroup *c) {
        struct stat st;

        if (fstat(c->dirfd, &st) < 0)
                return true;
        /* A removed directory has no links left; on cgroupfs its files are
         * gone too. */
        if (st.st_nlink == 0)
                return true;
        return faccessat(c->dirfd, c->backend == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current", F_OK,
                         0) < 0 &&
               errno == ENOENT;
}

static void stat_set(CgroupStats *s, StatKey k, uint64_t v) {
        s->values[k] = v;
        s->has[k] = true;
}

static void read_pressure_into(int dirfd, CgroupStats *stats) {
        char buf[512];
        size_t len;
        Pressure p;

        if (dirfd < 0 || read_file_at(dirfd, "memory.pressure", buf, sizeof(buf), &len) < 0 ||
            parse_pressure(buf, len, &p) < 0)
                return;
        stats->pressure_some_avg10 = p.some.avg10;
        stats->has_pressure_some = true;
        if (p.has_full) {
                stats->pressure_full_avg10 = p.full.avg10;
                stats->has_pressure_full = true;
        }
}

void cgroup_read_stats(const CgroupRoot *root, const Cgroup *c, CgroupStats *stats) {
        uint64_t v, max, high;
        MemoryEvents ev;
        char buf[8192];
        size_t len;

        stats->backend = c->backend;
        if (cgroup_read_usage(c, &v) >= 0)
                stat_set(stats, STAT_CURRENT_BYTES, v);
        if (cgroup_read_limits(c, &max, &high) >= 0) {
                stat_set(stats, STAT_MAX_LIMIT_BYTES, max);
                stat_set(stats, STAT_HIGH_LIMIT_BYTES, high);
        }

        if (c->backend == BACKEND_V1) {
                if (read_u64_at(c->dirfd, "memory.max_usage_in_bytes", &v) >= 0)
                        stat_set(stats, STAT_PEAK_BYTES, v);
                if (read_u64_at(c->dirfd, "memory.kmem.usage_in_bytes", &v) >= 0)
                        stat_set(stats, STAT_KMEM_BYTES, v);
                uint64_t memsw, usage;
                if (c->has_memsw && read_u64_at(c->dirfd, "memory.memsw.usage_in_bytes", &memsw) >= 0 &&
                    stats->has[STAT_CURRENT_BYTES]) {
                        usage = stats->values[STAT_CURRENT_BYTES];
                        stat_set(stats, STAT_SWAP_BYTES, memsw > usage ? memsw - usage : 0);
                }
                if (cgroup_read_events(c, &ev) >= 0) {
                        stat_set(stats, STAT_EVENTS_MAX, ev.max);
                        stat_set(stats, STAT_EVENTS_OOM_KILL, ev.oom_kill);
                }
                /* PSI lives in the unified hierarchy on hybrid hosts, for the
                 * same path when that directory exists there. */
                if (root->unified_fd >= 0) {
                        int ufd = openat2_beneath(root->unified_fd, c->path + 1, O_DIRECTORY | O_RDONLY);
                        if (ufd >= 0) {
                                read_pressure_into(ufd, stats);
                                close(ufd);
                        }
                }
                return;
        }

        if (read_u64_at(c->dirfd, "memory.peak", &v) >= 0)
                stat_set(stats, STAT_PEAK_BYTES, v);
        if (read_u64_at(c->dirfd, "memory.swap.current", &v) >= 0)
                stat_set(stats, STAT_SWAP_BYTES, v);
        if (read_file_at(c->dirfd, "memory.stat", buf, sizeof(buf), &len) >= 0 &&
            parse_keyed_u64(buf, len, "kernel", &v) >= 0)
                stat_set(stats, STAT_KMEM_BYTES, v);
        if (cgroup_read_events(c, &ev) >= 0) {
                stat_set(stats, STAT_EVENTS_HIGH, ev.high);
                stat_set(stats, STAT_EVENTS_MAX, ev.max);
                stat_set(stats, STAT_EVENTS_OOM, ev.oom);
                stat_set(stats, STAT_EVENTS_OOM_KILL, ev.oom_kill);
        }
        read_pressure_into(c->dirfd, stats);
}

int cgroup_v1_register_oom(const Cgroup *c, int efd) {
        char buf[64];
        int ofd = openat(c->dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        if (ofd < 0)
                return -errno;
        snprintf(buf, sizeof(buf), "%d %d", efd, ofd);
        /* The kernel looks the fds up during the write and keeps no
         * reference to the file: it can be closed right after. */
        int r = write_string_at(c->dirfd, "cgroup.event_control", buf);
        close(ofd);
        return r;
}

int cgroup_v1_register_threshold(const Cgroup *c, int efd, uint64_t threshold) {
        char buf[96];
        int ufd = openat(c->dirfd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
        if (ufd < 0)
                return -errno;
        snprintf(buf, sizeof(buf), "%d %d %llu", efd, ufd, (unsigned long long) threshold);
        int r = write_string_at(c->dirfd, "cgroup.event_control", buf);
        close(ufd);
        return r;
}

static int read_comm(uint32_t pid, char comm[16]) {
        char path[64], buf[64];
        size_t len;
        int r;

        snprintf(path, sizeof(path), "/proc/%u/comm", pid);
        r = read_file_at(AT_FDCWD, path, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        if (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        /* TASK_COMM_LEN is 16: the kernel never gives more than 15. */
        size_t n = len < 15 ? len : 15;
        memcpy(comm, buf, n);
        comm[n] = '\0';
        return 0;
}

int cgroup_read_tasks(const Cgroup *c, EngineTask **ret, size_t *ret_n, size_t max_tasks) {
        size_t size = 64 * 1024, len, n = 0;
        EngineTask *t = NULL;
        char *buf;
        int r;

        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        r = read_file_at(c->dirfd, "cgroup.procs", buf, size, &len);
        if (r == -EFBIG)
                r = 0, len = size - 1, buf[len] = '\0'; /* a huge cgroup: the first pids suffice */
        if (r < 0) {
                free(buf);
                return r;
        }
        for (char *p = buf, *end; *p && n < max_tasks; p = end) {
                unsigned long pid = strtoul(p, &end, 10);
                if (end == p)
                        break;
                while (*end == '\n')
                        end++;
                if (pid == 0 || pid > UINT32_MAX)
                        continue;
                EngineTask task = { .pid = (uint32_t) pid };
                if (read_comm(task.pid, task.comm) < 0)
                        continue;
                EngineTask *nt = realloc(t, (n + 1) * sizeof(*t));
                if (!nt) {
                        free(t);
                        free(buf);
                        return -ENOMEM;
                }
                t = nt;
                t[n++] = task;
        }
        free(buf);
        *ret = t;
        *ret_n = n;
        return 0;
}

int cgroup_largest_task(const Cgroup *c, EngineTask *ret) {
        EngineTask *t = NULL, best = {};
        uint64_t best_rss = 0;
        size_t n = 0;
        int r;

        r = cgroup_read_tasks(c, &t, &n, 4096);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                char path[64], buf[128];
                size_t len;
                unsigned long long size_pages, rss_pages;
                snprintf(path, sizeof(path), "/proc/%u/statm", t[i].pid);
                if (read_file_at(AT_FDCWD, path, buf, sizeof(buf), &len) < 0 ||
                    sscanf(buf, "%llu %llu", &size_pages, &rss_pages) != 2)
                        continue;
                if (rss_pages >= best_rss) {
                        best_rss = rss_pages;
                        best = t[i];
                }
        }
        free(t);
        *ret = best;
        return 0;
}

int cgroup_kill_all(const Cgroup *c) {
        int killed = 0;

        if (c->backend == BACKEND_V2 && !c->fake) {
                int r = write_string_at(c->dirfd, "cgroup.kill", "1");
                if (r != -ENOENT)
                        return r;
        }
        /* v1 (and kernels before cgroup.kill): signal each task until the
         * cgroup is empty; forks during the loop are caught by the next
         * round. */
        for (int round = 0; round < 16; round++) {
                EngineTask *t = NULL;
                size_t n = 0;
                int r = cgroup_read_tasks(c, &t, &n, 65536);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (kill((pid_t) t[i].pid, SIGKILL) == 0)
                                killed++;
                free(t);
                if (n == 0)
                        break;
                usleep(10000);
        }
        return killed;
}

int cgroup_set_frozen(const Cgroup *c, bool frozen) {
        return write_string_at(c->dirfd, "cgroup.freeze", frozen ? "1" : "0");
}

int cgroup_v1_get_oom_kill_disable(const Cgroup *c, bool *ret) {
        char buf[256];
        size_t len;
        OomControl oc;
        int r = read_file_at(c->dirfd, "memory.oom_control", buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        r = parse_oom_control(buf, len, &oc);
        if (r < 0)
                return r;
        *ret = oc.oom_kill_disable;
        return 0;
}

int cgroup_v1_set_oom_kill_disable(const Cgroup *c, bool disable) {
        return write_string_at(c->dirfd, "memory.oom_control", disable ? "1" : "0");
}
