/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>

#include "util.h"

int mkdir_p(const char *path, unsigned mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;

        for (char *p = copy + 1; ; p++) {
                bool end = *p == 0;
                if (*p == '/' || end) {
                        char saved = *p;
                        *p = 0;
                        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *p = saved;
                }
                if (end)
                        break;
        }

        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return 0;
}

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_file_atomic(const char *dir, const char *name, const char *data, size_t len, unsigned mode) {
        _cleanup_close_ int dfd = -1, fd = -1;
        _cleanup_gfree_ char *tmp = NULL;
        int r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;

        /* The pid makes the name unique among concurrent instances; a stale
         * temporary of a killed run is simply overwritten (O_TRUNC). */
        tmp = g_strdup_printf(".#%s.%ld.tmp", name, (long) getpid());
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;

        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dfd, tmp, 0);
                return r;
        }

        /* The rename is only durable once the directory entry is. */
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int parse_duration_usec(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                double usec;
        } units[] = {
                { "us", 1.0 },        { "usec", 1.0 },       { "ms", 1e3 },
                { "msec", 1e3 },      { "s", 1e6 },          { "sec", 1e6 },
                { "", 1e6 },          { "min", 60e6 },       { "m", 60e6 },
                { "h", 3600e6 },      { "hour", 3600e6 },
        };
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        /* strtod accepts "inf", "nan", hex and leading blanks: refuse them. */
        if (!(s[0] >= '0' && s[0] <= '9') && s[0] != '.')
                return -EINVAL;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || !isfinite(v) || v < 0)
                return -EINVAL;
        for (const char *p = s; p < end; p++)
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        return -EINVAL;

        while (*end == ' ')
                end++;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(end, units[i].suffix)) {
                        double us = v * units[i].usec;
                        if (us >= 18446744073709551615.0)
                                return -ERANGE;
                        *ret = (uint64_t) us;
                        return 0;
                }
        return -EINVAL;
}
