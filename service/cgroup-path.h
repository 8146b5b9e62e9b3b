/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Path rules and mount discovery: pure string functions. */

#include <stdbool.h>
#include <stddef.h>

#include "memcgd/engine.h"

#define CGROUP_PATH_MAX 4096

/* Fills e (if not NULL) with code and a formatted message. */
void memcg_error_set(MemcgError *e, MemcgErrorCode code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Renders an untrusted path for a message: printable ASCII as is,
 * everything else \xNN, cut after 96 bytes. */
void cgroup_path_render(const char *s, size_t len, char *out, size_t outsz);

typedef struct MountinfoMemory {
        bool found;
        Backend backend;
        char path[4096];          /* mount point of the memory hierarchy */
        bool unified_found;       /* v1: a cgroup2 mount beside it (hybrid) */
        char unified_path[4096];
} MountinfoMemory;

/* Finds the memory hierarchy in a /proc/self/mountinfo buffer: a v1
 * "cgroup" mount whose super options list "memory", else a "cgroup2"
 * mount. -ENOENT when neither is there. */
int parse_mountinfo_memory(const char *buf, size_t len, MountinfoMemory *ret);
