/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A fake cgroupfs tree in a temp directory: a directory per cgroup with
 * the v2 memory.* files as regular files. The engine treats a root that
 * is not on cgroupfs as such a tree and watches memory.events through its
 * one shared inotify instance. */

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int fake_write(const char *root, const char *cg, const char *file, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static inline int fake_write(const char *root, const char *cg, const char *file, const char *fmt, ...) {
        char path[4096], buf[512];
        va_list ap;
        int fd, n;

        snprintf(path, sizeof(path), "%s%s/%s", root, cg, file);
        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* In place (no rename): the engine's inotify watch stays on the
         * same inode, as a kernel file would. */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, buf, (size_t) n) != n) {
                close(fd);
                return -EIO;
        }
        close(fd);
        return 0;
}

static inline uint64_t fake_read(const char *root, const char *cg, const char *file) {
        char path[4096], buf[64] = {};
        int fd;

        snprintf(path, sizeof(path), "%s%s/%s", root, cg, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return UINT64_MAX - 1;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return UINT64_MAX - 1;
        if (strncmp(buf, "max", 3) == 0)
                return UINT64_MAX;
        return strtoull(buf, NULL, 10);
}

/* The file's whole text, as read (no newline added or taken away). */
static inline const char *fake_read_text(const char *root, const char *cg, const char *file, char *buf, size_t size) {
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s%s/%s", root, cg, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return buf;
}

static inline int fake_events(const char *root, const char *cg, uint64_t high, uint64_t max, uint64_t oom,
                              uint64_t oom_kill) {
        return fake_write(root, cg, "memory.events",
                          "low 0\nhigh %llu\nmax %llu\noom %llu\noom_kill %llu\noom_group_kill 0\n",
                          (unsigned long long) high, (unsigned long long) max, (unsigned long long) oom,
                          (unsigned long long) oom_kill);
}

/* mkdir root+cg and its files: unlimited, usage `current`. */
static inline int fake_cgroup(const char *root, const char *cg, uint64_t current) {
        char path[4096];
        int r;

        snprintf(path, sizeof(path), "%s%s", root, cg);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        if ((r = fake_write(root, cg, "memory.max", "max\n")) < 0 ||
            (r = fake_write(root, cg, "memory.high", "max\n")) < 0 ||
            (r = fake_write(root, cg, "memory.current", "%llu\n", (unsigned long long) current)) < 0 ||
            (r = fake_write(root, cg, "memory.peak", "%llu\n", (unsigned long long) current)) < 0 ||
            (r = fake_events(root, cg, 0, 0, 0, 0)) < 0)
                return r;
        return 0;
}
