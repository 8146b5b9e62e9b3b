/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's configuration: /etc/memcgd/memcgd.conf (GKeyFile) with
 * the command line on top.
 *
 *   [Manager]
 *   Budget=             size ("4G") or percentage of MemTotal ("80%"); default 100%
 *   DefaultInitialLimit= size used by Monitor(cgroup, 0) when nothing was
 *                       remembered for the cgroup; 0 = derive from usage
 *   RealtimePriority=   SCHED_FIFO priority of v1 workers, 0 = normal
 *   WorkerStackSize=    size of a worker's stack, 0 = engine default
 *   LogLevel=           err, warning, notice, info, debug
 *
 *   [Oom]
 *   DefaultPolicy=      kill, grow or freeze: the policy of a new Monitor
 *   DecisionTimeout=    how long freeze waits for ResolveOom (default 30s)
 *   EmergencyMax=       the largest grant of the grow policy at the limit
 *                       (0 = one growth step)
 *   EventInterval=      shortest interval between two Oom signals of one
 *                       kind for one cgroup (default 100ms)
 *
 *   [Pressure]
 *   Enabled=            watch each monitored cgroup's memory pressure (yes)
 *   QuietTime=          a pressure level drops after this long below it (5s)
 *   ReclaimInterval=    shortest interval between two reclaim requests for
 *                       one cgroup while its growth stays denied (50ms)
 *   LowMemoryMonitor=   publish host pressure as org.freedesktop.LowMemoryMonitor
 *                       when that name is free (yes)
 *
 *   [Limits]            the tunables of DESIGN.md §1
 *   HighRatioThreshold= HighRatio= HighGap= GrowRatio= GrowMinStep=
 *   ShrinkBase= ShrinkMax= ShrinkMinMargin=
 */

#include <stdbool.h>
#include <stdint.h>

#include "config.h" /* the build's: MEMCGD_SYSCONFDIR */
#include "memcgd/engine.h"

#define CONFIG_DEFAULT_PATH MEMCGD_SYSCONFDIR "/memcgd/memcgd.conf"

/* Set by the build: where systemd's StateDirectory=memcgd points. */
#ifndef MEMCGD_STATEDIR
#define MEMCGD_STATEDIR "/var/lib/memcgd"
#endif

/* What the command line sets; NULL = not given. The strings are borrowed. */
typedef struct ConfigOverrides {
        const char *budget;
        const char *shrink_base;
        const char *root;
        const char *state_directory;
        const char *log_level;
} ConfigOverrides;

typedef struct ServiceConfig {
        EngineConfig engine;    /* engine.root points into root below */
        char *root;             /* NULL = find the hierarchy in mountinfo */
        char *state_directory;
        int log_level;          /* -1 = not configured */
        char *budget_spec;      /* as written, for the log */
        OomPolicy default_oom_policy;
        bool low_memory_monitor;  /* [Pressure] LowMemoryMonitor= */
} ServiceConfig;

/* Fills *ret from the defaults, the file at `path` and the overrides, in
 * that order. path NULL = CONFIG_DEFAULT_PATH, which may be absent; an
 * explicitly named file must exist. `meminfo_path` is read only for a
 * percentage budget (NULL = /proc/meminfo). Unknown keys are logged and
 * ignored; a value that does not parse or tunables out of range are
 * logged naming file, key and value, and return -EINVAL. 0 on success;
 * *ret is initialized in both cases (config_done() frees it). */
int config_load(const char *path, const ConfigOverrides *o, const char *meminfo_path, ServiceConfig *ret);
void config_done(ServiceConfig *c);

/* The state directory when neither the config nor the command line names
 * one: $STATE_DIRECTORY (set by systemd's StateDirectory=; first entry of
 * a colon-separated list), else MEMCGD_STATEDIR. Newly allocated. */
char *config_default_state_directory(void);
