/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Change notification through ONE inotify instance and one thread for the
 * whole engine, which turns an event into a write to the worker's control
 * eventfd: on a fake tree (regular files, which never signal POLLPRI)
 * IN_MODIFY of a watched memory.events; on cgroup v2 the removal of a
 * monitored cgroup (IN_DELETE in its parent: nothing else tells a v2
 * worker, whose memory.events is not woken by rmdir). */

typedef struct Notify Notify;

int notify_new(Notify **ret);
Notify *notify_free(Notify *n);

/* How many times the kernel's event queue overflowed. Each time, events
 * were lost and every kick fd was written once. */
unsigned notify_overflows(Notify *n);

/* Watches dirfd/name; kicks kick_fd on each change. Returns the watch
 * descriptor (>= 0) or a negative errno. */
int notify_add(Notify *n, int dirfd, const char *name, int kick_fd);
/* After this returns, kick_fd is never written again for wd. */
void notify_remove(Notify *n, int wd);

/* Watches the parent of the directory dirfd for the removal of its entry
 * `child` (a name, no slash); kicks kick_fd when it goes. Children of one
 * parent share its watch descriptor, which this returns (>= 0) or a
 * negative errno. */
int notify_add_child(Notify *n, int dirfd, const char *child, int kick_fd);
/* After this returns, kick_fd is never written again for child of wd. */
void notify_remove_child(Notify *n, int wd, const char *child);
