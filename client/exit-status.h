/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* memcgctl's exit status: stable, documented in --help and memcgctl(1),
 * asserted by tests/cli. Scripts branch on these. */

enum {
        MEMCGCTL_EXIT_OK = 0,
        MEMCGCTL_EXIT_FAILURE = 1,        /* any other error */
        MEMCGCTL_EXIT_USAGE = 2,          /* command line, size or cgroup path syntax */
        MEMCGCTL_EXIT_NOT_AUTHORIZED = 3, /* polkit (or the bus policy) said no */
        MEMCGCTL_EXIT_NOT_FOUND = 4,      /* no such cgroup, not a memcg, not monitored */
        MEMCGCTL_EXIT_NOT_RUNNING = 5,    /* memcgd (or the system bus) not there */
        MEMCGCTL_EXIT_LIMIT_REFUSED = 6,  /* below usage, out of range, over the budget */
};

/* The exit status for a failed call: from the D-Bus error name when there
 * is one (name may be NULL), else from the negative errno the call
 * returned. */
int exit_status_from_bus_error(const char *name, int error);
