/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Change notification for cgroups on a fake tree (regular files, which
 * never signal POLLPRI): ONE inotify instance and one thread for the whole
 * engine, which turns IN_MODIFY of a watched memory.events into a write to
 * the worker's control eventfd. Real cgroupfs never goes through here. */

typedef struct Notify Notify;

int notify_new(Notify **ret);
Notify *notify_free(Notify *n);

/* Watches dirfd/name; kicks kick_fd on each change. Returns the watch
 * descriptor (>= 0) or a negative errno. */
int notify_add(Notify *n, int dirfd, const char *name, int kick_fd);
/* After this returns, kick_fd is never written again for wd. */
void notify_remove(Notify *n, int wd);
