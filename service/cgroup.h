/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One memory cgroup as the engine sees it: a directory fd beneath the
 * hierarchy root and the backend that knows its files. All functions
 * return 0 or a negative errno; a cgroup that was removed reads as
 * -ENODEV (cgroupfs) or -ENOENT (its files are gone). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcgd/engine.h"
#include "memcgd/parse.h"

typedef struct CgroupStatFiles CgroupStatFiles;

typedef struct Cgroup {
        Backend backend;
        bool fake;      /* not on cgroupfs: a test's tree, no POLLPRI */
        int dirfd;
        char *path;     /* "/a/b", relative to the hierarchy root */
        bool has_memsw; /* v1: memory.memsw.limit_in_bytes exists */
        /* v1: memsw.limit_in_bytes as it was before memcgd first lifted
         * it for a raise (cgroup_write_limits()), or 0: never lifted.
         * cgroup_v1_restore_memsw() puts it back. */
        uint64_t memsw_before_lift;
        /* The usage file (memory.current, v1 memory.usage_in_bytes) and the
         * limit files (v2 memory.max and memory.high, v1
         * memory.limit_in_bytes and memory.soft_limit_in_bytes) kept open
         * by cgroup_keep_fds(), or -1: opened by name at each use. */
        int usage_fd, max_fd, high_fd;
        /* A fake tree: the length of the kept max_fd and high_fd files as
         * the worker last wrote them whole (-1: unknown), so that a write
         * that covers the old value skips the ftruncate(2) a regular file
         * needs (cgroupfs needs none). The worker is their only writer
         * while it runs. */
        int max_len, high_len;
        /* v2 memory.events kept open: on cgroupfs the fd a worker polls
         * for POLLPRI (opened by the engine, whatever the fd ceiling), on
         * a fake tree by cgroup_keep_fds(); or -1: read by name. */
        int events_fd;
        /* The files cgroup_read_stats() reads, kept open by the thread
         * that reads stats (the main thread; a worker never touches
         * them), or NULL: each read opens the file by name. */
        CgroupStatFiles *stat_files;
} Cgroup;

typedef struct CgroupRoot {
        Backend backend;
        bool fake;
        int fd;                /* the hierarchy root directory */
        char path[4096];
        int unified_fd;        /* hybrid hosts: the v2 mount for PSI, or -1 */
} CgroupRoot;

/* Finds the memory hierarchy (root_override NULL = /proc/self/mountinfo)
 * and opens it. */
int cgroup_root_open(const char *root_override, CgroupRoot *ret, MemcgError *ret_error);
void cgroup_root_close(CgroupRoot *r);

/* Validates `path`, opens it beneath the root without following symlinks
 * or leaving the hierarchy, and checks it is a memory cgroup. */
int cgroup_open(const CgroupRoot *root, const char *path, Cgroup **ret, MemcgError *ret_error);
Cgroup *cgroup_free(Cgroup *c);

/* Whole small file into buf (NUL-terminated), -EFBIG if it does not fit. */
int read_file_at(int dirfd, const char *name, char *buf, size_t size, size_t *ret_len);
int read_u64_at(int dirfd, const char *name, uint64_t *ret);
/* Writes the decimal value ("max" for v2 unlimited, "-1" for v1), checks
 * the whole string was taken (a short write is -EIO). */
int write_string_at(int dirfd, const char *name, const char *s);
int write_limit_at(int dirfd, const char *name, uint64_t value, Backend b);

int cgroup_read_usage(const Cgroup *c, uint64_t *ret);
/* max and high as the kernel has them now (UINT64_MAX = unlimited). v1
 * reports the soft limit as high. */
int cgroup_read_limits(const Cgroup *c, uint64_t *ret_max, uint64_t *ret_high);

/* Writes max, then high (the seed's order), keeping the v1 memsw
 * invariant. Returns 0, or a negative errno: -EBUSY when the kernel could
 * not reclaim down to a lower max (v1) — nothing was changed then.
 * *ret_max_written says whether max took the new value (high may have
 * failed after it). */
int cgroup_write_limits(Cgroup *c, uint64_t old_max, uint64_t new_max, uint64_t new_high,
                        bool *ret_max_written);
/* v1: after the limit went back to what it was before Monitor, memsw's
 * limit too, if memcgd lifted it (a no-op otherwise, and on v2). */
int cgroup_v1_restore_memsw(Cgroup *c);

/* Fills every figure the kernel offers into stats (values/has), through
 * the kept files when there are. `skip_high`: the caller reports a high
 * line of its own (a monitored v1 cgroup: the worker's threshold, not the
 * soft limit), so the file is not read. */
void cgroup_read_stats(const CgroupRoot *root, const Cgroup *c, bool skip_high, CgroupStats *stats);

/* Opens the files cgroup_read_stats() reads and keeps them in c (those
 * the kernel does not offer are remembered as absent), so that a stats
 * read costs one pread(2) a file instead of openat + read + close.
 * Returns 0, or a negative errno (nothing kept; -EMFILE also when an fd
 * would be fd_ceiling or above). Each open file holds an fd and, once
 * read, a page of kernel memory: the caller bounds how many cgroups keep
 * theirs. */
int cgroup_keep_stat_files(const CgroupRoot *root, Cgroup *c, int fd_ceiling);
/* Keeps the usage and limit files (and a fake tree's memory.events) open:
 * a worker reads usage at every wake-up and writes the limits at every
 * reaction, and a pread(2)/pwrite(2) of an open file costs a fraction of
 * openat + read + close (the path walk). Only below fd_ceiling: the fds
 * every worker needs (its directory, eventfds, notification fds) must not
 * meet EMFILE because of a shortcut. 0 or a negative errno (the files not
 * kept are then opened by name). Before the worker thread starts; the fds
 * are closed by cgroup_free(). */
int cgroup_keep_fds(Cgroup *c, int fd_ceiling);
/* Closes them (c reads by name again). */
void cgroup_drop_stat_files(Cgroup *c);
/* True once a kept file failed to read (the kernel removed and created
 * the files again, e.g. v2's memory controller was toggled, or the
 * cgroup is gone): drop them and open anew. */
bool cgroup_stat_files_stale(const Cgroup *c);

/* v2: memory.events. v1: built from oom_control and failcnt (high stays
 * 0: v1 has no such counter). */
int cgroup_read_events(const Cgroup *c, MemoryEvents *ret);

/* True if the cgroup's directory is gone (rmdir). */
bool cgroup_is_removed(const Cgroup *c);

/* v1 only: register on `efd` an OOM notification and usage thresholds
 * (cgroup.event_control). Each registration can sleep in the kernel for
 * milliseconds. */
int cgroup_v1_register_oom(const Cgroup *c, int efd);
int cgroup_v1_register_threshold(const Cgroup *c, int efd, uint64_t threshold);

/* The cgroup's tasks, at most max_tasks, from cgroup.procs and
 * /proc/PID/comm (a task that exits meanwhile is left out). *ret is
 * malloc'd (NULL when empty). */
int cgroup_read_tasks(const Cgroup *c, EngineTask **ret, size_t *ret_n, size_t max_tasks);

/* The task with the largest resident set (0 when none). */
int cgroup_largest_task(const Cgroup *c, EngineTask *ret);

/* SIGKILLs every task: v2 writes cgroup.kill (the kernel kills new forks
 * too), v1 signals each pid of cgroup.procs until none is left (bounded).
 * Returns the number signalled (v2: 0 on success). */
int cgroup_kill_all(const Cgroup *c);

/* v2: cgroup.freeze. -ENOENT where the kernel has no freezer file. */
int cgroup_set_frozen(const Cgroup *c, bool frozen);

/* v1: memory.oom_control's oom_kill_disable. */
int cgroup_v1_get_oom_kill_disable(const Cgroup *c, bool *ret);
int cgroup_v1_set_oom_kill_disable(const Cgroup *c, bool disable);
