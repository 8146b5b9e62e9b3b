/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memcgd/parse.h"
#include "pressure-watch.h"

static int psi_totals(int fd, uint64_t *ret_some, uint64_t *ret_full) {
        char buf[512];
        Pressure p;
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        int r;

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        r = parse_pressure(buf, (size_t) n, &p);
        if (r < 0)
                return r;
        *ret_some = p.some.total;
        *ret_full = p.has_full ? p.full.total : 0;
        return 0;
}

int pressure_watch_open_psi(int dirfd, const char *name, uint64_t now, PressureWatch *ret) {
        static const uint64_t windows[] = { PRESSURE_TRIGGER_WINDOW_USEC, PRESSURE_TRIGGER_WINDOW_FALLBACK_USEC };
        PressureWatch w = PRESSURE_WATCH_INIT;
        int r = -EINVAL;

        for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]) && r == -EINVAL; i++) {
                char trig[64];
                int fd = openat(dirfd, name, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return -errno;
                int len = pressure_trigger_format(windows[i], trig, sizeof(trig));
                if (len < 0) {
                        close(fd);
                        return len;
                }
                /* The kernel's parser wants the terminating NUL with it. */
                if (write(fd, trig, (size_t) len + 1) < 0) {
                        r = -errno;
                        close(fd);
                        continue;
                }
                w.fd = fd;
                w.window_usec = windows[i];
                r = 0;
        }
        if (r < 0)
                return r;
        w.source = PRESSURE_SOURCE_PSI;
        r = psi_totals(w.fd, &w.some_total, &w.full_total);
        if (r < 0) {
                close(w.fd);
                return r;
        }
        w.sample_usec = now;
        *ret = w;
        return 0;
}

static int open_beneath(int dirfd, const char *path) {
        struct open_how how = {
                .flags = O_DIRECTORY | O_RDONLY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int) syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

static int open_v1_level(const Cgroup *c, PressureWatch *ret) {
        static const char *const levels[] = { "low", "medium", "critical" };
        int efd, pfd, r = 0;

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        pfd = openat(c->dirfd, "memory.pressure_level", O_RDONLY | O_CLOEXEC);
        if (pfd < 0) {
                r = -errno;
                close(efd);
                return r;
        }
        /* One eventfd, three registrations: an event of a level adds one
         * per registration at or below it (pressure.h). */
        for (size_t i = 0; i < 3 && r >= 0; i++) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%d %d %s", efd, pfd, levels[i]);
                r = write_string_at(c->dirfd, "cgroup.event_control", buf);
        }
        close(pfd);
        if (r < 0) {
                close(efd);
                return r;
        }
        *ret = (PressureWatch) { .source = PRESSURE_SOURCE_V1_LEVEL, .fd = efd };
        return 0;
}

int pressure_watch_open_cgroup(const CgroupRoot *root, const Cgroup *c, uint64_t now, PressureWatch *ret) {
        int r;

        if (c->fake)
                return -ENOENT;
        if (c->backend == BACKEND_V2)
                return pressure_watch_open_psi(c->dirfd, "memory.pressure", now, ret);

        if (root->unified_fd >= 0) {
                int ufd = open_beneath(root->unified_fd, c->path + 1);
                if (ufd >= 0) {
                        r = pressure_watch_open_psi(ufd, "memory.pressure", now, ret);
                        close(ufd);
                        if (r >= 0)
                                return 0;
                }
        }
        return open_v1_level(c, ret);
}

short pressure_watch_poll_events(const PressureWatch *w, uint64_t now) {
        if (w->fd < 0)
                return 0;
        if (w->source == PRESSURE_SOURCE_PSI)
                return POLLPRI;
        return now >= w->mute_until ? POLLIN : 0;
}

int pressure_watch_sample(PressureWatch *w, bool woke, uint64_t now, PressureLevel *ret) {
        if (w->fd < 0)
                return -EBADF;

        if (w->source == PRESSURE_SOURCE_V1_LEVEL) {
                uint64_t v = 0;
                if (!woke) {
                        *ret = PRESSURE_NONE;
                        return 0;
                }
                if (read(w->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                        return -errno;
                w->mute_until = now + PRESSURE_V1_MUTE_USEC;
                *ret = pressure_level_from_v1_count(v);
                return 0;
        }

        uint64_t some, full;
        int r = psi_totals(w->fd, &some, &full);
        if (r < 0)
                return r;
        PressureLevel l = pressure_level_from_psi(some >= w->some_total ? some - w->some_total : 0,
                                                  full >= w->full_total ? full - w->full_total : 0,
                                                  now > w->sample_usec ? now - w->sample_usec : 0);
        if (woke && l < PRESSURE_LOW)
                l = PRESSURE_LOW;
        w->some_total = some;
        w->full_total = full;
        w->sample_usec = now;
        *ret = l;
        return 0;
}

void pressure_watch_unmute(PressureWatch *w, uint64_t now) {
        uint64_t v;
        if (w->source != PRESSURE_SOURCE_V1_LEVEL || w->fd < 0 || w->mute_until == 0 || now < w->mute_until)
                return;
        (void) !read(w->fd, &v, sizeof(v));
        w->mute_until = 0;
}

void pressure_watch_close(PressureWatch *w) {
        if (w->fd >= 0)
                close(w->fd);
        w->fd = -1;
        w->source = PRESSURE_SOURCE_NONE;
}
