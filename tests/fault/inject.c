/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fault injection without touching the service: an LD_PRELOAD shim that
 * interposes open/openat, read/pread and write/pwrite and makes calls on
 * chosen files fail, come up short or stall. The file is named by the
 * path behind the fd (/proc/self/fd/N), so it works on whatever the
 * daemon opened through openat2() beneath its hierarchy root.
 *
 * Rules (MEMCGD_INJECT, or the file MEMCGD_INJECT_FILE, re-read when it
 * changes, so a test arms faults in a running daemon):
 *
 *   RULE[,RULE...]     RULE = PATTERN[@OPS]:ACTION[:COUNT[:SKIP]]
 *
 *   PATTERN  a glob; without '/' it is matched against the file's base
 *            name ("memory.max", "memory.*"), with '/' against the whole
 *            path ("*-c1/memory.max")
 *   OPS      which calls: open, openw (an open for writing only), read,
 *            write or any, joined by '+'
 *            (default: write; read+write for EINTR)
 *   ACTION   an errno name (EBUSY EINTR ENOSPC EIO ENOENT ENODEV EAGAIN
 *            EACCES EPERM EINVAL ENOMEM EMFILE ENFILE): the call fails with it, nothing
 *            done; "short": a write writes the first half of its bytes
 *            (at least one, one less than asked) and returns that, a read
 *            reads at most half; "delay=MS": the call sleeps MS ms first,
 *            then runs
 *   COUNT    how many calls it hits (default 1; "inf" = every one)
 *   SKIP     matching calls to let through first (default 0)
 *
 * The first rule that matches a call and has hits left takes it. A new
 * rule set (a changed file) starts its counts afresh.
 *
 * MEMCGD_INJECT_LOG=FILE appends one line per injected fault:
 *   "inject OP ACTION PATH"
 * MEMCGD_INJECT_TRACE=PATTERN appends "trace OP PATH DATA" for every
 * write to a matching file (DATA: the bytes written, up to 64, newline
 * dropped), in the order the kernel saw them, to the same log.
 *
 * MEMCGD_INJECT_KERNFS=PATTERN makes matching regular files (a fake
 * tree's) behave like cgroupfs attributes: an open does not truncate,
 * and each write replaces the whole value (written at offset 0, the file
 * cut to it). So a write that fails leaves the old value in place, as
 * the kernel does, instead of the empty file an O_TRUNC open left; and a
 * short write leaves the bytes it wrote as the value, as kernfs does
 * with the part of a write it takes. */

/* The shim defines the symbols read, pread64, openat64... themselves:
 * no redirection of the plain names to the 64-bit ones (x86_64's off_t
 * is 64 bits either way). */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define OP_OPEN 1u
#define OP_READ 2u
#define OP_WRITE 4u
#define OP_OPENW 8u /* an open for writing: matched by "open" and "openw" rules */
#define MAX_RULES 32

typedef enum Action {
        ACTION_ERRNO,
        ACTION_SHORT,
        ACTION_DELAY,
} Action;

typedef struct Rule {
        char pattern[256];
        bool full_path;
        unsigned ops;
        Action action;
        int err;
        unsigned delay_ms;
        long count;   /* -1 = every call */
        long skip;
} Rule;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Rule rules[MAX_RULES];
static int n_rules;
static bool initialized;
static const char *control_file;
static struct timespec control_mtime;
static off_t control_size;
static uint64_t control_checked_ns;
static int log_fd = -1;
static const char *trace_pattern;
static const char *kernfs_pattern;
/* Whether any rule or trace is set: the fast path skips all lookups. */
static volatile bool active;

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_openat)(int, const char *, int, ...);

static const struct {
        const char *name;
        int value;
} errnos[] = {
        { "EBUSY", EBUSY },   { "EINTR", EINTR },   { "ENOSPC", ENOSPC }, { "EIO", EIO },
        { "ENOENT", ENOENT }, { "ENODEV", ENODEV }, { "EAGAIN", EAGAIN }, { "EACCES", EACCES },
        { "EPERM", EPERM },   { "EINVAL", EINVAL }, { "ENOMEM", ENOMEM }, { "EMFILE", EMFILE },
        { "ENFILE", ENFILE },
};

static uint64_t mono_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Raw syscalls only from here on: the shim must not re-enter itself. */
static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        int n;

        if (log_fd < 0)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof(buf) - 2)
                n = (int) sizeof(buf) - 2;
        buf[n++] = '\n';
        (void) syscall(SYS_write, log_fd, buf, (size_t) n);
}

static int parse_rule(const char *s, Rule *r) {
        char buf[512], *fields[4] = {}, *at, *save = NULL;
        int n = 0;

        snprintf(buf, sizeof(buf), "%s", s);
        for (char *f = strtok_r(buf, ":", &save); f && n < 4; f = strtok_r(NULL, ":", &save))
                fields[n++] = f;
        if (n < 2)
                return -1;
        *r = (Rule) { .count = 1 };

        at = strchr(fields[0], '@');
        if (at) {
                *at++ = 0;
                char *save2 = NULL;
                for (char *o = strtok_r(at, "+", &save2); o; o = strtok_r(NULL, "+", &save2)) {
                        if (!strcmp(o, "open"))
                                r->ops |= OP_OPEN;
                        else if (!strcmp(o, "openw"))
                                r->ops |= OP_OPENW;
                        else if (!strcmp(o, "read"))
                                r->ops |= OP_READ;
                        else if (!strcmp(o, "write"))
                                r->ops |= OP_WRITE;
                        else if (!strcmp(o, "any"))
                                r->ops |= OP_OPEN | OP_READ | OP_WRITE;
                        else
                                return -1;
                }
        }
        snprintf(r->pattern, sizeof(r->pattern), "%s", fields[0]);
        r->full_path = strchr(r->pattern, '/') != NULL;

        if (!strcmp(fields[1], "short"))
                r->action = ACTION_SHORT;
        else if (!strncmp(fields[1], "delay=", 6)) {
                r->action = ACTION_DELAY;
                r->delay_ms = (unsigned) strtoul(fields[1] + 6, NULL, 10);
        } else {
                r->action = ACTION_ERRNO;
                for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
                        if (!strcmp(fields[1], errnos[i].name))
                                r->err = errnos[i].value;
                if (r->err == 0)
                        return -1;
        }
        if (r->ops == 0)
                r->ops = r->action == ACTION_ERRNO && r->err == EINTR ? OP_READ | OP_WRITE : OP_WRITE;
        if (n >= 3)
                r->count = !strcmp(fields[2], "inf") ? -1 : strtol(fields[2], NULL, 10);
        if (n >= 4)
                r->skip = strtol(fields[3], NULL, 10);
        return 0;
}

/* Lock held. */
static void set_rules(const char *spec) {
        char buf[4096], *save = NULL;

        n_rules = 0;
        snprintf(buf, sizeof(buf), "%s", spec ? spec : "");
        for (char *t = strtok_r(buf, ",\n", &save); t && n_rules < MAX_RULES; t = strtok_r(NULL, ",\n", &save)) {
                while (*t == ' ')
                        t++;
                if (!*t || *t == '#')
                        continue;
                if (parse_rule(t, &rules[n_rules]) < 0) {
                        log_line("error bad rule '%s'", t);
                        continue;
                }
                n_rules++;
        }
        active = n_rules > 0 || trace_pattern || kernfs_pattern || control_file;
}

/* Lock held: re-reads the control file when it changed (checked at most
 * every 10 ms). */
static void refresh_control(void) {
        struct stat st;
        char buf[4096];
        uint64_t now = mono_ns();

        if (!control_file || now - control_checked_ns < 10 * 1000 * 1000)
                return;
        control_checked_ns = now;
        if (syscall(SYS_newfstatat, AT_FDCWD, control_file, &st, 0) < 0) {
                if (control_size != -1 && n_rules > 0)
                        set_rules(NULL);
                control_size = -1;
                return;
        }
        if (st.st_mtim.tv_sec == control_mtime.tv_sec && st.st_mtim.tv_nsec == control_mtime.tv_nsec &&
            st.st_size == control_size)
                return;
        int fd = (int) syscall(SYS_openat, AT_FDCWD, control_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
        (void) syscall(SYS_close, fd);
        if (n < 0)
                return;
        buf[n] = 0;
        control_mtime = st.st_mtim;
        control_size = st.st_size;
        set_rules(buf);
        log_line("rules %d from %s", n_rules, control_file);
}

static void init(void) {
        if (initialized)
                return;
        initialized = true;
        const char *logp = getenv("MEMCGD_INJECT_LOG");
        if (logp)
                log_fd = (int) syscall(SYS_openat, AT_FDCWD, logp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        trace_pattern = getenv("MEMCGD_INJECT_TRACE");
        kernfs_pattern = getenv("MEMCGD_INJECT_KERNFS");
        control_file = getenv("MEMCGD_INJECT_FILE");
        control_size = -1;
        set_rules(getenv("MEMCGD_INJECT"));
}

__attribute__((constructor)) static void inject_ctor(void) {
        real_read = dlsym(RTLD_NEXT, "read");
        real_write = dlsym(RTLD_NEXT, "write");
        real_pread = dlsym(RTLD_NEXT, "pread64");
        real_pwrite = dlsym(RTLD_NEXT, "pwrite64");
        real_openat = dlsym(RTLD_NEXT, "openat64");
        pthread_mutex_lock(&lock);
        init();
        pthread_mutex_unlock(&lock);
}

static bool fd_path(int fd, char *buf, size_t size) {
        char link[64];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = syscall(SYS_readlink, link, buf, size - 1);
        if (n <= 0)
                return false;
        buf[n] = 0;
        return true;
}

static bool at_path(int dirfd, const char *name, char *buf, size_t size) {
        if (name[0] == '/' || dirfd == AT_FDCWD) {
                snprintf(buf, size, "%s", name);
                return true;
        }
        char dir[4096];
        if (!fd_path(dirfd, dir, sizeof(dir)))
                return false;
        int n = snprintf(buf, size, "%s/%s", dir, name);
        return n > 0 && (size_t) n < size;
}

static bool matches(const char *pattern, bool full, const char *path) {
        const char *base = strrchr(path, '/');
        return fnmatch(pattern, full ? path : base ? base + 1 : path, 0) == 0;
}

static const char *op_name(unsigned op) {
        return op & (OP_OPEN | OP_OPENW) ? "open" : op == OP_READ ? "read" : "write";
}

/* The rule that takes this call, copied out; false when none does. */
static bool pick(unsigned op, const char *path, Rule *ret) {
        bool hit = false;

        pthread_mutex_lock(&lock);
        refresh_control();
        for (int i = 0; i < n_rules; i++) {
                Rule *r = &rules[i];
                if (!(r->ops & op) || r->count == 0 || !matches(r->pattern, r->full_path, path))
                        continue;
                if (r->skip > 0) {
                        r->skip--;
                        continue;
                }
                if (r->count > 0)
                        r->count--;
                *ret = *r;
                hit = true;
                break;
        }
        pthread_mutex_unlock(&lock);
        if (hit)
                log_line("inject %s %s%s %s", op_name(op),
                         ret->action == ACTION_SHORT ? "short" : ret->action == ACTION_DELAY ? "delay" : "",
                         ret->action == ACTION_ERRNO ? strerrorname_np(ret->err) : "", path);
        return hit;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void trace_write(const char *path, const void *data, size_t len) {
        char shown[65];
        size_t n = len < 64 ? len : 64;

        if (!trace_pattern || !matches(trace_pattern, strchr(trace_pattern, '/') != NULL, path))
                return;
        memcpy(shown, data, n);
        shown[n] = 0;
        for (size_t i = 0; i < n; i++)
                if (shown[i] == '\n' || shown[i] == 0) {
                        shown[i] = 0;
                        break;
                }
        log_line("trace write %s %s", path, shown);
}

/* 1: handled (ret set), 0: run the real call with *len (maybe shortened). */
static int intercept_io(unsigned op, int fd, size_t *len, ssize_t *ret, char *path, size_t pathsz) {
        Rule r;

        if (!fd_path(fd, path, pathsz) || path[0] != '/')
                return 0;
        if (!pick(op, path, &r))
                return 0;
        switch (r.action) {
        case ACTION_ERRNO:
                errno = r.err;
                *ret = -1;
                return 1;
        case ACTION_SHORT:
                if (*len > 1)
                        *len = op == OP_WRITE ? (*len / 2 > 0 ? *len / 2 : 1) : (*len + 1) / 2;
                return 0;
        case ACTION_DELAY:
                sleep_ms(r.delay_ms);
                return 0;
        }
        return 0;
}

static ssize_t do_write(int fd, const void *buf, size_t count, off_t off, bool positional) {
        char path[4096] = "";
        size_t len = count;
        ssize_t ret;

        if (!real_write)
                inject_ctor();
        if (active && intercept_io(OP_WRITE, fd, &len, &ret, path, sizeof(path)))
                return ret;
        if (active && kernfs_pattern && path[0] && matches(kernfs_pattern, strchr(kernfs_pattern, '/') != NULL, path)) {
                ret = real_pwrite(fd, buf, len, 0);
                if (ret >= 0)
                        (void) syscall(SYS_ftruncate, fd, (off_t) ret);
        } else
                ret = positional ? real_pwrite(fd, buf, len, off) : real_write(fd, buf, len);
        if (active && trace_pattern && ret > 0 && path[0])
                trace_write(path, buf, (size_t) ret);
        return ret;
}

static ssize_t do_read(int fd, void *buf, size_t count, off_t off, bool positional) {
        char path[4096];
        size_t len = count;
        ssize_t ret;

        if (!real_read)
                inject_ctor();
        if (active && intercept_io(OP_READ, fd, &len, &ret, path, sizeof(path)))
                return ret;
        return positional ? real_pread(fd, buf, len, off) : real_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t count) {
        return do_write(fd, buf, count, 0, false);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) {
        return do_write(fd, buf, count, off, true);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off) {
        return do_write(fd, buf, count, off, true);
}

ssize_t read(int fd, void *buf, size_t count) {
        return do_read(fd, buf, count, 0, false);
}

ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen);
ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen) {
        return do_read(fd, buf, count, 0, false);
}

ssize_t pread(int fd, void *buf, size_t count, off_t off) {
        return do_read(fd, buf, count, off, true);
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off) {
        return do_read(fd, buf, count, off, true);
}

static int do_openat(int dirfd, const char *name, int flags, mode_t mode) {
        if (!real_openat)
                inject_ctor();
        if (active && name) {
                char path[4096];
                Rule r;
                bool have = at_path(dirfd, name, path, sizeof(path));
                if (have && kernfs_pattern && (flags & O_TRUNC) &&
                    matches(kernfs_pattern, strchr(kernfs_pattern, '/') != NULL, path))
                        flags &= ~O_TRUNC;
                if (have && pick(OP_OPEN | ((flags & O_ACCMODE) != O_RDONLY ? OP_OPENW : 0), path, &r)) {
                        if (r.action == ACTION_ERRNO) {
                                errno = r.err;
                                return -1;
                        }
                        if (r.action == ACTION_DELAY)
                                sleep_ms(r.delay_ms);
                }
        }
        return real_openat(dirfd, name, flags, mode);
}

static bool wants_mode(int flags) {
        return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

int openat(int dirfd, const char *name, int flags, ...) {
        mode_t mode = 0;
        if (wants_mode(flags)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        return do_openat(dirfd, name, flags, mode);
}

int openat64(int dirfd, const char *name, int flags, ...) {
        mode_t mode = 0;
        if (wants_mode(flags)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        return do_openat(dirfd, name, flags, mode);
}

int open(const char *name, int flags, ...) {
        mode_t mode = 0;
        if (wants_mode(flags)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        return do_openat(AT_FDCWD, name, flags, mode);
}

int open64(const char *name, int flags, ...) {
        mode_t mode = 0;
        if (wants_mode(flags)) {
                va_list ap;
                va_start(ap, flags);
                mode = va_arg(ap, mode_t);
                va_end(ap);
        }
        return do_openat(AT_FDCWD, name, flags, mode);
}
