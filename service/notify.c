/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "notify.h"

struct Notify {
        int ifd;
        int stop_fd;
        pthread_t thread;
        pthread_mutex_t lock;
        GHashTable *kicks;    /* wd → kick fd, both as GINT_TO_POINTER */
        GHashTable *children; /* a parent's wd → (child name → kick fd) */
        unsigned overflows;   /* under lock */
};

static void kick(gpointer fd) {
        uint64_t one = 1;
        (void) !write(GPOINTER_TO_INT(fd), &one, sizeof(one));
}

static void kick_value(gpointer key, gpointer fd, gpointer userdata) {
        kick(fd);
}

static void kick_children(gpointer wd, gpointer names, gpointer userdata) {
        g_hash_table_foreach(names, kick_value, NULL);
}

/* The kernel's queue overflowed (fs.inotify.max_queued_events): events
 * were dropped, among them perhaps a change or a removal. Every worker is
 * kicked; a kicked worker reads its events and asks whether its cgroup is
 * still there. Caller holds n->lock. */
static void kick_all(Notify *n) {
        g_hash_table_foreach(n->kicks, kick_value, NULL);
        g_hash_table_foreach(n->children, kick_children, NULL);
        n->overflows++;
}

static void *notify_main(void *userdata) {
        Notify *n = userdata;
        char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = n->ifd, .events = POLLIN },
                        { .fd = n->stop_fd, .events = POLLIN },
                };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                ssize_t len = read(n->ifd, buf, sizeof(buf));
                bool overflowed = false;
                if (len <= 0)
                        continue;
                pthread_mutex_lock(&n->lock);
                for (char *ptr = buf; ptr < buf + len;) {
                        const struct inotify_event *ev = (const struct inotify_event *) ptr;
                        /* A host uses one of the two tables (a fake
                         * tree's files kick, v2's parents tell removals):
                         * the empty one is not searched (a lookup in it
                         * was 40 of a fake-tree reaction's ~5,300
                         * instructions). */
                        GHashTable *names = g_hash_table_size(n->children) > 0
                                                    ? g_hash_table_lookup(n->children, GINT_TO_POINTER(ev->wd))
                                                    : NULL;
                        gpointer fd;
                        if (ev->mask & IN_Q_OVERFLOW) {
                                kick_all(n);
                                overflowed = true;
                        } else if (names && ev->len > 0 && g_hash_table_lookup_extended(names, ev->name, NULL, &fd))
                                kick(fd);
                        else if (names && (ev->mask & IN_IGNORED))
                                /* The parent itself went (its children
                                 * before it, each kicked): the kernel
                                 * dropped the watch. */
                                g_hash_table_remove(n->children, GINT_TO_POINTER(ev->wd));
                        else if (g_hash_table_lookup_extended(n->kicks, GINT_TO_POINTER(ev->wd), NULL, &fd))
                                kick(fd);
                        ptr += sizeof(struct inotify_event) + ev->len;
                }
                unsigned overflows = n->overflows;
                pthread_mutex_unlock(&n->lock);
                if (overflowed)
                        log_warning("The inotify queue overflowed (%u times so far; fs.inotify.max_queued_events): "
                                    "every worker looks at its cgroup again", overflows);
        }
        return NULL;
}

int notify_new(Notify **ret) {
        Notify *n = calloc(1, sizeof(*n));
        sigset_t all, old;
        int r;

        if (!n)
                return -ENOMEM;
        n->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (n->ifd < 0) {
                r = -errno;
                free(n);
                return r;
        }
        n->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (n->stop_fd < 0) {
                r = -errno;
                close(n->ifd);
                free(n);
                return r;
        }
        pthread_mutex_init(&n->lock, NULL);
        n->kicks = g_hash_table_new(g_direct_hash, g_direct_equal);
        n->children = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) g_hash_table_unref);

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&n->thread, NULL, notify_main, n);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r == 0)
                /* Named for ps -L and top -H (and for the tests). */
                (void) pthread_setname_np(n->thread, "memcgd-notify");
        if (r < 0) {
                g_hash_table_unref(n->kicks);
                g_hash_table_unref(n->children);
                close(n->ifd);
                close(n->stop_fd);
                free(n);
                return r;
        }
        *ret = n;
        return 0;
}

unsigned notify_overflows(Notify *n) {
        unsigned v;

        pthread_mutex_lock(&n->lock);
        v = n->overflows;
        pthread_mutex_unlock(&n->lock);
        return v;
}

Notify *notify_free(Notify *n) {
        uint64_t one = 1;

        if (!n)
                return NULL;
        (void) !write(n->stop_fd, &one, sizeof(one));
        pthread_join(n->thread, NULL);
        g_hash_table_unref(n->kicks);
        g_hash_table_unref(n->children);
        pthread_mutex_destroy(&n->lock);
        close(n->ifd);
        close(n->stop_fd);
        free(n);
        return NULL;
}

int notify_add(Notify *n, int dirfd, const char *name, int kick_fd) {
        char path[64 + 256];
        int wd;

        snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
        pthread_mutex_lock(&n->lock);
        wd = inotify_add_watch(n->ifd, path, IN_MODIFY | IN_DELETE_SELF | IN_ATTRIB);
        if (wd >= 0)
                g_hash_table_insert(n->kicks, GINT_TO_POINTER(wd), GINT_TO_POINTER(kick_fd));
        pthread_mutex_unlock(&n->lock);
        return wd < 0 ? -errno : wd;
}

void notify_remove(Notify *n, int wd) {
        if (wd < 0)
                return;
        pthread_mutex_lock(&n->lock);
        g_hash_table_remove(n->kicks, GINT_TO_POINTER(wd));
        (void) inotify_rm_watch(n->ifd, wd);
        pthread_mutex_unlock(&n->lock);
}

int notify_add_child(Notify *n, int dirfd, const char *child, int kick_fd) {
        char path[64];
        int wd;

        snprintf(path, sizeof(path), "/proc/self/fd/%d/..", dirfd);
        pthread_mutex_lock(&n->lock);
        /* The same parent gives back its watch descriptor (the mask is the
         * same for every child). */
        wd = inotify_add_watch(n->ifd, path, IN_DELETE | IN_ONLYDIR);
        if (wd < 0) {
                wd = -errno;
                pthread_mutex_unlock(&n->lock);
                return wd;
        }
        GHashTable *names = g_hash_table_lookup(n->children, GINT_TO_POINTER(wd));
        if (!names) {
                names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                g_hash_table_insert(n->children, GINT_TO_POINTER(wd), names);
        }
        g_hash_table_replace(names, g_strdup(child), GINT_TO_POINTER(kick_fd));
        pthread_mutex_unlock(&n->lock);
        return wd;
}

void notify_remove_child(Notify *n, int wd, const char *child) {
        if (wd < 0)
                return;
        pthread_mutex_lock(&n->lock);
        GHashTable *names = g_hash_table_lookup(n->children, GINT_TO_POINTER(wd));
        if (names) {
                g_hash_table_remove(names, child);
                if (g_hash_table_size(names) == 0) {
                        g_hash_table_remove(n->children, GINT_TO_POINTER(wd));
                        (void) inotify_rm_watch(n->ifd, wd);
                }
        }
        pthread_mutex_unlock(&n->lock);
}
