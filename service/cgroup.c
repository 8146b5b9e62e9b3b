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
#include <time.h>
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

/* Reads fd on from *len into buf until the end of the file (0) or until
 * buf holds size - 1 bytes (1: full, there may be more), or a negative
 * errno. No terminating NUL. */
static int read_more(int fd, char *buf, size_t size, size_t *len) {
        for (;;) {
                if (*len + 1 >= size)
                        return 1;
                ssize_t n = read(fd, buf + *len, size - 1 - *len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                *len += (size_t) n;
        }
}

int read_file_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len) {
        size_t len = 0;
        int fd, r;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_more(fd, buf, size, &len);
        close(fd);
        if (r < 0)
                return r;
        if (r > 0)
                return -EFBIG;
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

/* Reads from offset 0: what pread(2) returns is the file as the kernel
 * generates it now (a kernfs seq_file starts over at offset 0). A short
 * read is the end of the file: kernfs and tmpfs fill the buffer while
 * there is more. */
static int pread_whole(int fd, char *buf, size_t size, size_t *ret_len) {
        size_t len = 0;

        for (;;) {
                if (len + 1 >= size)
                        return -EFBIG;
                size_t want = size - 1 - len;
                ssize_t n = pread(fd, buf + len, want, (off_t) len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len += (size_t) n;
                if ((size_t) n < want)
                        break;
        }
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

/* A cgroup file the kernel generates in one go (a value, memory.events,
 * oom_control): one read(2) gets it all, where the read_file_at() loop
 * spent a second one finding the end. */
static int read_record_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len) {
        int fd, r;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = pread_whole(fd, buf, size, ret_len);
        close(fd);
        return r;
}

/* A value file through an open fd. */
static int pread_u64(int fd, uint64_t *ret) {
        char buf[64];
        size_t len;
        int r = pread_whole(fd, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return parse_u64_value(buf, len, ret);
}

int read_u64_at(int dirfd, const char *name, uint64_t *ret) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        int r = pread_u64(fd, ret);
        close(fd);
        return r;
}

/* The v1 page counter's "unlimited" reads back as PAGE_COUNTER_MAX pages:
 * LONG_MAX rounded down to a page. Anything that large means unlimited. */
#define V1_UNLIMITED UINT64_C(9223372036854771712)

/* One write(2) of s. `regular`: the file is a fake tree's regular file,
 * whose old content must not outlive a shorter value: it is cut after
 * the write. (O_TRUNC at open would free and allocate the page again at
 * every write, which made a fake tree's limit write cost twice a cgroupfs
 * one.) `known_len`: for a fake tree's file kept open and written only
 * through this fd, the length it holds (-1: unknown), or NULL. */
static int write_value_fd(int fd, const char *s, bool regular, int *known_len) {
        size_t len = strlen(s);
        int known = known_len ? *known_len : -1;
        ssize_t n;

        if (known_len)
                *known_len = -1; /* until the write is known whole */
        /* At offset 0: cgroupfs takes each write whole wherever it lands,
         * a fake tree's kept file must be rewritten from the start. */
        do
                n = pwrite(fd, s, len, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t) n != len)
                return -EIO;
        /* A regular file keeps what a longer value left past the end: cut
         * it, unless the new value covers all the file held. */
        if (regular && (known < 0 || len < (size_t) known) && ftruncate(fd, (off_t) len) < 0)
                return -errno;
        if (known_len && regular)
                *known_len = (int) len;
        return 0;
}

static int write_value_at(int dirfd, const char *name, const char *s, bool regular) {
        int fd, r;

        fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = write_value_fd(fd, s, regular, NULL);
        close(fd);
        return r;
}

int write_string_at(int dirfd, const char *name, const char *s) {
        struct statfs sfs;

        /* A fake tree (a test's temp dir) holds regular files. */
        bool regular = fstatfs(dirfd, &sfs) == 0 && sfs.f_type != CGROUP_SUPER_MAGIC &&
                       sfs.f_type != CGROUP2_SUPER_MAGIC;
        return write_value_at(dirfd, name, s, regular);
}

static void format_limit(uint64_t value, Backend b, char buf[static 32]) {
        if (value == UINT64_MAX)
                strcpy(buf, b == BACKEND_V2 ? "max" : "-1");
        else
                (void) format_u64(buf, value);
}

int write_limit_at(int dirfd, const char *name, uint64_t value, Backend b) {
        char buf[32];

        format_limit(value, b, buf);
        return write_string_at(dirfd, name, buf);
}

/* As write_limit_at(), knowing from c whether its files are regular;
 * through `fd` when the file is kept open (>= 0), `known_len` its
 * length as write_value_fd() tracks it. */
static int cgroup_write_limit(const Cgroup *c, int fd, int *known_len, const char *name, uint64_t value) {
        char buf[32];

        format_limit(value, c->backend, buf);
        if (fd >= 0)
                return write_value_fd(fd, buf, c->fake, known_len);
        return write_value_at(c->dirfd, name, buf, c->fake);
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
        c->usage_fd = c->max_fd = c->high_fd = c->events_fd = -1;
        c->max_len = c->high_len = -1;
        c->has_memsw = root->backend == BACKEND_V1 && faccessat(fd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;
        *ret = c;
        return 0;
}

Cgroup *cgroup_free(Cgroup *c) {
        if (!c)
                return NULL;
        cgroup_drop_stat_files(c);
        if (c->usage_fd >= 0)
                close(c->usage_fd);
        if (c->max_fd >= 0)
                close(c->max_fd);
        if (c->high_fd >= 0)
                close(c->high_fd);
        if (c->events_fd >= 0)
                close(c->events_fd);
        if (c->dirfd >= 0)
                close(c->dirfd);
        free(c->path);
        free(c);
        return NULL;
}

static const char *usage_file(const Cgroup *c) {
        return c->backend == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current";
}

static const char *max_file(const Cgroup *c) {
        return c->backend == BACKEND_V1 ? "memory.limit_in_bytes" : "memory.max";
}

static const char *high_file(const Cgroup *c) {
        return c->backend == BACKEND_V1 ? "memory.soft_limit_in_bytes" : "memory.high";
}

/* Opens name into *fd unless it is open already, keeping it only below
 * the fd ceiling. */
static int keep_fd(const Cgroup *c, const char *name, int flags, int fd_ceiling, int *fd) {
        if (*fd >= 0)
                return 0;
        int r = openat(c->dirfd, name, flags | O_CLOEXEC | O_NOCTTY);
        if (r < 0)
                return -errno;
        if (r >= fd_ceiling) {
                close(r);
                return -EMFILE;
        }
        *fd = r;
        return 0;
}

int cgroup_keep_fds(Cgroup *c, int fd_ceiling) {
        int r;

        /* In the order a reaction uses them: usage, the hard limit, then
         * (a fake tree) the events read at every wake-up, and the high
         * line written after the limit. */
        r = keep_fd(c, usage_file(c), O_RDONLY, fd_ceiling, &c->usage_fd);
        if (r < 0)
                return r;
        r = keep_fd(c, max_file(c), O_WRONLY, fd_ceiling, &c->max_fd);
        if (r < 0)
                return r;
        if (c->fake && c->backend == BACKEND_V2) {
                r = keep_fd(c, "memory.events", O_RDONLY, fd_ceiling, &c->events_fd);
                if (r < 0)
                        return r;
        }
        return keep_fd(c, high_file(c), O_WRONLY, fd_ceiling, &c->high_fd);
}

int cgroup_read_usage(const Cgroup *c, uint64_t *ret) {
        if (c->usage_fd >= 0)
                /* A removed cgroup's file fails (cgroupfs: ENODEV) or,
                 * on a fake tree, keeps its last value: callers ask
                 * cgroup_is_removed() either way. */
                return pread_u64(c->usage_fd, ret);
        return read_u64_at(c->dirfd, usage_file(c), ret);
}

int cgroup_read_limits(const Cgroup *c, uint64_t *ret_max, uint64_t *ret_high) {
        uint64_t max, high;
        int r;

        r = read_u64_at(c->dirfd, max_file(c), &max);
        if (r < 0)
                return r;
        r = read_u64_at(c->dirfd, high_file(c), &high);
        if (r < 0)
                return r;
        if (c->backend == BACKEND_V1) {
                /* v1 reports the soft limit as high. */
                max = v1_normalize(max);
                high = v1_normalize(high);
        }
        *ret_max = max;
        *ret_high = high;
        return 0;
}

/* v1: the kernel keeps limit_in_bytes <= memsw.limit_in_bytes and
 * refuses a raise past memsw with EINVAL. Lifts memsw to new_max; -EINVAL
 * when memsw was not in the way. */
static int v1_lift_memsw(Cgroup *c, uint64_t new_max) {
        uint64_t memsw;
        int r;

        r = read_u64_at(c->dirfd, "memory.memsw.limit_in_bytes", &memsw);
        if (r < 0)
                return r;
        if (v1_normalize(memsw) >= new_max)
                return -EINVAL;
        r = cgroup_write_limit(c, -1, NULL, "memory.memsw.limit_in_bytes", new_max);
        if (r >= 0 && c->memsw_before_lift == 0)
                c->memsw_before_lift = memsw;
        return r;
}

int cgroup_v1_restore_memsw(Cgroup *c) {
        uint64_t max;
        int r;

        if (c->backend != BACKEND_V1 || c->memsw_before_lift == 0)
                return 0;
        /* The kernel keeps memsw >= the limit: only once the limit is
         * back at or below the old memsw. */
        r = read_u64_at(c->dirfd, max_file(c), &max);
        if (r < 0)
                return r;
        if (max > c->memsw_before_lift)
                return -EBUSY;
        r = cgroup_write_limit(c, -1, NULL, "memory.memsw.limit_in_bytes", c->memsw_before_lift);
        if (r >= 0)
                c->memsw_before_lift = 0;
        return r;
}

int cgroup_write_limits(Cgroup *c, uint64_t old_max, uint64_t new_max, uint64_t new_high,
                        bool *ret_max_written) {
        int r;

        *ret_max_written = false;
        r = cgroup_write_limit(c, c->max_fd, &c->max_len, max_file(c), new_max);
        /* memsw is almost always unlimited: it is read only when a raise
         * was refused, not before each one (three system calls). */
        if (r == -EINVAL && c->backend == BACKEND_V1 && c->has_memsw && new_max > old_max) {
                r = v1_lift_memsw(c, new_max);
                if (r >= 0)
                        r = cgroup_write_limit(c, c->max_fd, &c->max_len, max_file(c), new_max);
        }
        if (r < 0)
                return r;
        *ret_max_written = true;
        /* v1 has no memory.high: the soft limit is the reclaim hint at the
         * same line; the breach itself is watched through a usage
         * threshold. */
        return cgroup_write_limit(c, c->high_fd, &c->high_len, high_file(c), new_high);
}

int cgroup_read_events(const Cgroup *c, MemoryEvents *ret) {
        char buf[1024];
        size_t len;
        int r;

        if (c->backend == BACKEND_V2) {
                /* On cgroupfs, reading through the polled fd is what
                 * re-arms POLLPRI. */
                r = c->events_fd >= 0 ? pread_whole(c->events_fd, buf, sizeof(buf), &len)
                                      : read_record_at(c->dirfd, "memory.events", buf, sizeof(buf), &len);
                if (r < 0)
                        return r;
                return parse_memory_events(buf, len, ret);
        }

        MemoryEvents e = {};
        OomControl oc;
        r = read_record_at(c->dirfd, "memory.oom_control", buf, sizeof(buf), &len);
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
        /* Workers ask after every wake-up (but a timer's where the
         * removal would have woken them: removal_signalled()): one
         * syscall. A directory can only be removed once its files are
         * gone (cgroupfs removes them with it, a fake tree's rmdir needs
         * it empty), so the missing usage file says it all. Missing is
         * ENOENT, or ENODEV for a file held open (the worker keeps the
         * usage file open): seen seconds after rmdir on v1 (6.18) and
         * v2 (6.1) while another thread had polled the open file; only
         * a removed kernfs node answers a lookup so. */
        if (faccessat(c->dirfd, c->backend == BACKEND_V1 ? "memory.usage_in_bytes" : "memory.current", F_OK, 0) >= 0)
                return false;
        return errno == ENOENT || errno == ENODEV;
}

static void stat_set(CgroupStats *s, StatKey k, uint64_t v) {
        s->values[k] = v;
        s->has[k] = true;
}

/* The files a stats read looks at. */
typedef enum StatFile {
        STAT_FILE_CURRENT,
        STAT_FILE_MAX,
        STAT_FILE_HIGH,        /* v1: the soft limit */
        STAT_FILE_PEAK,
        STAT_FILE_SWAP,        /* v2 */
        STAT_FILE_STAT,        /* v2: memory.stat, for "kernel" */
        STAT_FILE_EVENTS,      /* v2 */
        STAT_FILE_KMEM,        /* v1 */
        STAT_FILE_MEMSW,       /* v1 */
        STAT_FILE_OOM_CONTROL, /* v1 */
        STAT_FILE_FAILCNT,     /* v1 */
        STAT_FILE_PRESSURE,    /* v2: the cgroup's; v1: its unified twin's */
        _STAT_FILE_MAX,
} StatFile;

/* A file the kernel lacks is looked for again after this long (a hybrid
 * host's unified twin, the source of v1 PSI, can be created later). */
#define STAT_FILE_RETRY_USEC (UINT64_C(1000) * 1000)

struct CgroupStatFiles {
        int fd[_STAT_FILE_MAX];   /* open, or the negative errno opening it gave */
        uint64_t retry_usec;      /* CLOCK_MONOTONIC: open the missing ones again then */
        int fd_ceiling;
        bool stale;
};

static const char *stat_file_name(Backend b, StatFile f) {
        static const char *const v1[_STAT_FILE_MAX] = {
                [STAT_FILE_CURRENT] = "memory.usage_in_bytes",
                [STAT_FILE_MAX] = "memory.limit_in_bytes",
                [STAT_FILE_HIGH] = "memory.soft_limit_in_bytes",
                [STAT_FILE_PEAK] = "memory.max_usage_in_bytes",
                [STAT_FILE_KMEM] = "memory.kmem.usage_in_bytes",
                [STAT_FILE_MEMSW] = "memory.memsw.usage_in_bytes",
                [STAT_FILE_OOM_CONTROL] = "memory.oom_control",
                [STAT_FILE_FAILCNT] = "memory.failcnt",
                [STAT_FILE_PRESSURE] = "memory.pressure",
        };
        static const char *const v2[_STAT_FILE_MAX] = {
                [STAT_FILE_CURRENT] = "memory.current",
                [STAT_FILE_MAX] = "memory.max",
                [STAT_FILE_HIGH] = "memory.high",
                [STAT_FILE_PEAK] = "memory.peak",
                [STAT_FILE_SWAP] = "memory.swap.current",
                [STAT_FILE_STAT] = "memory.stat",
                [STAT_FILE_EVENTS] = "memory.events",
                [STAT_FILE_PRESSURE] = "memory.pressure",
        };
        return (b == BACKEND_V1 ? v1 : v2)[f];
}

static uint64_t monotonic_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* An fd of the file, or a negative errno (-ENOENT: the kernel does not
 * offer it here). */
static int stat_file_open(const CgroupRoot *root, const Cgroup *c, StatFile f) {
        const char *name = stat_file_name(c->backend, f);
        int dirfd = c->dirfd, ufd = -1, fd;

        if (!name || (f == STAT_FILE_MEMSW && !c->has_memsw))
                return -ENOENT;
        if (f == STAT_FILE_PRESSURE && c->backend == BACKEND_V1) {
                /* PSI lives in the unified hierarchy on hybrid hosts, for
                 * the same path when that directory exists there. */
                if (root->unified_fd < 0)
                        return -ENOENT;
                dirfd = ufd = openat2_beneath(root->unified_fd, c->path + 1, O_DIRECTORY | O_RDONLY);
                if (ufd < 0)
                        return ufd;
        }
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                fd = -errno;
        if (ufd >= 0)
                close(ufd);
        return fd;
}

static int stat_file_read(const CgroupRoot *root, const Cgroup *c, StatFile f, char *buf, size_t size,
                          size_t *ret_len) {
        CgroupStatFiles *sf = c->stat_files;
        int fd, r;

        if (sf) {
                if (sf->fd[f] < 0)
                        return sf->fd[f];
                r = pread_whole(sf->fd[f], buf, size, ret_len);
                if (r < 0 && r != -EFBIG)
                        sf->stale = true;
                return r;
        }
        fd = stat_file_open(root, c, f);
        if (fd < 0)
                return fd;
        r = pread_whole(fd, buf, size, ret_len);
        close(fd);
        return r;
}

static int stat_file_u64(const CgroupRoot *root, const Cgroup *c, StatFile f, uint64_t *ret) {
        char buf[64];
        size_t len;
        int r = stat_file_read(root, c, f, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return parse_u64_value(buf, len, ret);
}

static void stat_files_close(CgroupStatFiles *sf) {
        for (StatFile f = 0; f < _STAT_FILE_MAX; f++)
                if (sf->fd[f] >= 0)
                        close(sf->fd[f]);
        free(sf);
}

/* Opens file f of sf, keeping it only below the fd ceiling. */
static int stat_files_open_one(const CgroupRoot *root, const Cgroup *c, CgroupStatFiles *sf, StatFile f) {
        int fd = stat_file_open(root, c, f);
        if (fd >= sf->fd_ceiling) {
                close(fd);
                fd = -EMFILE;
        }
        sf->fd[f] = fd;
        return fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ? fd : 0;
}

int cgroup_keep_stat_files(const CgroupRoot *root, Cgroup *c, int fd_ceiling) {
        CgroupStatFiles *sf;
        int r;

        if (c->stat_files)
                return 0;
        sf = malloc(sizeof(*sf));
        if (!sf)
                return -ENOMEM;
        *sf = (CgroupStatFiles) { .retry_usec = monotonic_usec() + STAT_FILE_RETRY_USEC, .fd_ceiling = fd_ceiling };
        for (StatFile f = 0; f < _STAT_FILE_MAX; f++)
                sf->fd[f] = -ENOENT;
        for (StatFile f = 0; f < _STAT_FILE_MAX; f++)
                if ((r = stat_files_open_one(root, c, sf, f)) < 0) {
                        stat_files_close(sf);
                        return r;
                }
        c->stat_files = sf;
        return 0;
}

void cgroup_drop_stat_files(Cgroup *c) {
        if (!c->stat_files)
                return;
        stat_files_close(c->stat_files);
        c->stat_files = NULL;
}

bool cgroup_stat_files_stale(const Cgroup *c) {
        return c->stat_files && c->stat_files->stale;
}

static void read_pressure_into(const CgroupRoot *root, const Cgroup *c, CgroupStats *stats) {
        char buf[512];
        size_t len;
        Pressure p;

        if (stat_file_read(root, c, STAT_FILE_PRESSURE, buf, sizeof(buf), &len) < 0 ||
            parse_pressure(buf, len, &p) < 0)
                return;
        stats->pressure_some_avg10 = p.some.avg10;
        stats->has_pressure_some = true;
        if (p.has_full) {
                stats->pressure_full_avg10 = p.full.avg10;
                stats->has_pressure_full = true;
        }
}

void cgroup_read_stats(const CgroupRoot *root, const Cgroup *c, bool skip_high, CgroupStats *stats) {
        CgroupStatFiles *sf = c->stat_files;
        uint64_t v, max, high = UINT64_MAX;
        MemoryEvents ev;
        char buf[8192];
        size_t len;

        if (sf) {
                uint64_t now = monotonic_usec();
                if (now >= sf->retry_usec) {
                        for (StatFile f = 0; f < _STAT_FILE_MAX; f++)
                                if (sf->fd[f] < 0)
                                        (void) stat_files_open_one(root, c, sf, f);
                        sf->retry_usec = now + STAT_FILE_RETRY_USEC;
                }
        }

        stats->backend = c->backend;
        if (stat_file_u64(root, c, STAT_FILE_CURRENT, &v) >= 0)
                stat_set(stats, STAT_CURRENT_BYTES, v);
        if (stat_file_u64(root, c, STAT_FILE_MAX, &max) >= 0 &&
            (skip_high || stat_file_u64(root, c, STAT_FILE_HIGH, &high) >= 0)) {
                /* v1 reports the soft limit as high. */
                if (c->backend == BACKEND_V1) {
                        max = v1_normalize(max);
                        high = v1_normalize(high);
                }
                stat_set(stats, STAT_MAX_LIMIT_BYTES, max);
                if (!skip_high)
                        stat_set(stats, STAT_HIGH_LIMIT_BYTES, high);
        }

        if (c->backend == BACKEND_V1) {
                uint64_t memsw, failcnt;
                OomControl oc;

                if (stat_file_u64(root, c, STAT_FILE_PEAK, &v) >= 0)
                        stat_set(stats, STAT_PEAK_BYTES, v);
                if (stat_file_u64(root, c, STAT_FILE_KMEM, &v) >= 0)
                        stat_set(stats, STAT_KMEM_BYTES, v);
                if (stats->has[STAT_CURRENT_BYTES] && stat_file_u64(root, c, STAT_FILE_MEMSW, &memsw) >= 0) {
                        v = stats->values[STAT_CURRENT_BYTES];
                        stat_set(stats, STAT_SWAP_BYTES, memsw > v ? memsw - v : 0);
                }
                /* As cgroup_read_events(): the OOM counters and failcnt
                 * together. */
                if (stat_file_read(root, c, STAT_FILE_OOM_CONTROL, buf, sizeof(buf), &len) >= 0 &&
                    parse_oom_control(buf, len, &oc) >= 0 && stat_file_u64(root, c, STAT_FILE_FAILCNT, &failcnt) >= 0) {
                        stat_set(stats, STAT_EVENTS_MAX, failcnt);
                        stat_set(stats, STAT_EVENTS_OOM_KILL, oc.oom_kill);
                }
                read_pressure_into(root, c, stats);
                return;
        }

        if (stat_file_u64(root, c, STAT_FILE_PEAK, &v) >= 0)
                stat_set(stats, STAT_PEAK_BYTES, v);
        if (stat_file_u64(root, c, STAT_FILE_SWAP, &v) >= 0)
                stat_set(stats, STAT_SWAP_BYTES, v);
        if (stat_file_read(root, c, STAT_FILE_STAT, buf, sizeof(buf), &len) >= 0 &&
            parse_keyed_u64(buf, len, "kernel", &v) >= 0)
                stat_set(stats, STAT_KMEM_BYTES, v);
        if (stat_file_read(root, c, STAT_FILE_EVENTS, buf, sizeof(buf), &len) >= 0 &&
            parse_memory_events(buf, len, &ev) >= 0) {
                stat_set(stats, STAT_EVENTS_HIGH, ev.high);
                stat_set(stats, STAT_EVENTS_MAX, ev.max);
                stat_set(stats, STAT_EVENTS_OOM, ev.oom);
                stat_set(stats, STAT_EVENTS_OOM_KILL, ev.oom_kill);
        }
        read_pressure_into(root, c, stats);
}

int cgroup_v1_register_oom(const Cgroup *c, int efd) {
        char buf[64];
        int ofd = openat(c->dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        if (ofd < 0)
                return -errno;
        snprintf(buf, sizeof(buf), "%d %d", efd, ofd);
        /* The kernel looks the fds up during the write and keeps no
         * reference to the file: it can be closed right after. */
        int r = write_value_at(c->dirfd, "cgroup.event_control", buf, c->fake);
        close(ofd);
        return r;
}

int cgroup_v1_register_threshold(const Cgroup *c, int efd, uint64_t threshold) {
        char buf[96];
        int ufd = openat(c->dirfd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
        if (ufd < 0)
                return -errno;
        snprintf(buf, sizeof(buf), "%d %d %llu", efd, ufd, (unsigned long long) threshold);
        int r = write_value_at(c->dirfd, "cgroup.event_control", buf, c->fake);
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

/* The file into a malloc'd, NUL-terminated buffer that starts small and
 * grows up to `max` bytes; a longer file is cut after its last whole
 * line that fits. (A fixed 64 KiB buffer per read made every worker's
 * malloc arena hold that much at start-up.) */
static int read_file_grow(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len) {
        size_t size = 4096, len = 0;
        char *buf;
        int fd, r;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(size);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        while ((r = read_more(fd, buf, size, &len)) > 0) {
                if (size >= max) {
                        /* A huge cgroup: the first pids suffice. */
                        char *nl = memrchr(buf, '\n', len);
                        len = nl ? (size_t) (nl - buf) + 1 : 0;
                        r = 0;
                        break;
                }
                size_t nsize = size * 2 < max ? size * 2 : max;
                char *nbuf = realloc(buf, nsize);
                if (!nbuf) {
                        r = -ENOMEM;
                        break;
                }
                buf = nbuf;
                size = nsize;
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

int cgroup_read_tasks(const Cgroup *c, EngineTask **ret, size_t *ret_n, size_t max_tasks) {
        size_t len = 0, n = 0;
        EngineTask *t = NULL;
        char *buf = NULL;
        int r;

        r = read_file_grow(c->dirfd, "cgroup.procs", 64 * 1024, &buf, &len);
        if (r < 0)
                return r;
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
                int r = write_value_at(c->dirfd, "cgroup.kill", "1", c->fake);
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
        return write_value_at(c->dirfd, "cgroup.freeze", frozen ? "1" : "0", c->fake);
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
        return write_value_at(c->dirfd, "memory.oom_control", disable ? "1" : "0", c->fake);
}
