/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The engine: one worker thread per monitored cgroup, the budget pool and
 * the event queue. The engine's API is called from ONE thread (the main
 * thread); workers post events that the main thread drains with
 * engine_pop_event() when engine_event_fd() is readable.
 *
 * Requests that write limits (monitor, unmonitor, set_initial_limit) are
 * validated synchronously (errors are returned at once with a message) and
 * then carried out by the worker: their outcome arrives as an
 * ENGINE_EVENT_REQUEST_DONE event carrying the caller's cookie, so the
 * D-Bus layer can reply asynchronously. Cookie 0 = nobody waits. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "memcgd/limits.h"

typedef struct Engine Engine;

typedef enum MemcgErrorCode {
        MEMCG_OK = 0,
        MEMCG_ERROR_INVALID_PATH,      /* org.memcgd1.Error.InvalidPath */
        MEMCG_ERROR_NO_SUCH_CGROUP,    /* ...NoSuchCgroup */
        MEMCG_ERROR_NOT_MEMCG,         /* ...NotMemcg */
        MEMCG_ERROR_NOT_MONITORED,     /* ...NotMonitored */
        MEMCG_ERROR_LIMIT_BELOW_USAGE, /* ...LimitBelowUsage */
        MEMCG_ERROR_BUDGET_EXCEEDED,   /* ...BudgetExceeded */
        MEMCG_ERROR_LIMIT_OUT_OF_RANGE,/* ...LimitOutOfRange */
        MEMCG_ERROR_FAILED,            /* org.freedesktop.DBus.Error.Failed: kernel refused, I/O error */
        _MEMCG_ERROR_MAX,
} MemcgErrorCode;

typedef struct MemcgError {
        MemcgErrorCode code;
        char message[512];  /* names the cgroup and the cause */
} MemcgError;

/* The D-Bus error name of a code ("org.memcgd1.Error.InvalidPath"...). */
const char *memcg_error_name(MemcgErrorCode code);

typedef enum Backend {
        BACKEND_V1,
        BACKEND_V2,
} Backend;

const char *backend_to_string(Backend b); /* "v1" / "v2" */

typedef enum LimitReason {
        LIMIT_REASON_INITIAL,
        LIMIT_REASON_GROW,
        LIMIT_REASON_SHRINK,
        LIMIT_REASON_MANUAL,
        LIMIT_REASON_RESTORE,
        LIMIT_REASON_EMERGENCY,  /* "emergency": the grow OOM policy's grant at the hard limit */
        LIMIT_REASON_DECISION,   /* "decision": an OOM decision raised the limit */
        _LIMIT_REASON_MAX,
} LimitReason;

const char *limit_reason_to_string(LimitReason r);

typedef enum StopReason {
        STOP_REASON_REMOVED,
        STOP_REASON_UNMONITORED,
        STOP_REASON_ERROR,
        STOP_REASON_SHUTDOWN,  /* engine_free(): not announced as a signal */
        _STOP_REASON_MAX,
} StopReason;

const char *stop_reason_to_string(StopReason r);

typedef enum OomKind {
        OOM_KIND_MAX,       /* hit the hard limit (v2 "max", v1 failcnt) */
        OOM_KIND_OOM,       /* the kernel's OOM path ran (v2 "oom", v1 under_oom) */
        OOM_KIND_OOM_KILL,  /* a task was killed */
        OOM_KIND_OOM_GROUP_KILL, /* v2: the whole group was killed */
        OOM_KIND_FROZEN,    /* the freeze policy stopped the tasks: waiting for a decision */
        OOM_KIND_RESOLVED,  /* a decision (or its timeout) ended the wait */
        _OOM_KIND_MAX,
} OomKind;

const char *oom_kind_to_string(OomKind k);

/* What to do when a monitored cgroup hits its hard limit. */
typedef enum OomPolicy {
        OOM_POLICY_KILL,    /* the kernel's default: announce only */
        OOM_POLICY_GROW,    /* grant a bounded emergency step so the cgroup survives */
        OOM_POLICY_FREEZE,  /* stop the tasks, announce, wait for a decision */
        _OOM_POLICY_MAX,
} OomPolicy;

const char *oom_policy_to_string(OomPolicy p);
/* -EINVAL for an unknown name. */
int oom_policy_from_string(const char *s, OomPolicy *ret);

typedef enum OomDecision {
        OOM_DECISION_RAISE,        /* raise the limit by N bytes */
        OOM_DECISION_KILL_LARGEST, /* SIGKILL the task with the largest RSS */
        OOM_DECISION_KILL_ALL,     /* kill every task of the cgroup */
        _OOM_DECISION_MAX,
} OomDecision;

const char *oom_decision_to_string(OomDecision d);
int oom_decision_from_string(const char *s, OomDecision *ret);

typedef struct EngineTask {
        uint32_t pid;
        char comm[16];
} EngineTask;

typedef enum EngineEventType {
        ENGINE_EVENT_LIMIT_CHANGED,
        ENGINE_EVENT_OOM,
        ENGINE_EVENT_BUDGET_EXHAUSTED,
        ENGINE_EVENT_STOPPED,       /* worker ended; the cgroup is no longer monitored */
        ENGINE_EVENT_REQUEST_DONE,  /* outcome of a request with a cookie */
        ENGINE_EVENT_TASKS_KILLED,  /* tasks that an OOM took: by the kernel, a decision or its timeout */
        ENGINE_EVENT_PRESSURE,      /* the cgroup's pressure level changed (pressure_level) */
        ENGINE_EVENT_RECLAIM_WANTED,/* ask the cgroup's reclaimers for reclaim_bytes (reclaim_cause) */
} EngineEventType;

/* Memory pressure levels, as GLib's GMemoryMonitorWarningLevel (and
 * org.freedesktop.LowMemoryMonitor) number them. */
typedef enum PressureLevel {
        PRESSURE_NONE = 0,
        PRESSURE_LOW = 50,
        PRESSURE_MEDIUM = 100,
        PRESSURE_CRITICAL = 255,
} PressureLevel;

/* "none", "low", "medium", "critical"; NULL for another value. */
const char *pressure_level_to_string(PressureLevel l);

/* Why memory is asked back from reclaimers. */
typedef enum ReclaimCause {
        RECLAIM_CAUSE_GROWTH_DENIED, /* at the high line, the budget denied (part of) a growth step */
        RECLAIM_CAUSE_PRESSURE,      /* the pressure level reached medium or above */
        _RECLAIM_CAUSE_MAX,
} ReclaimCause;

const char *reclaim_cause_to_string(ReclaimCause c); /* "growth-denied", "pressure" */

/* Where a worker's pressure level comes from. */
typedef enum PressureSource {
        PRESSURE_SOURCE_NONE,       /* not watched (disabled, or the kernel offers nothing) */
        PRESSURE_SOURCE_PSI,        /* a PSI trigger on memory.pressure (v2, or the unified twin on hybrid hosts) */
        PRESSURE_SOURCE_V1_LEVEL,   /* v1 memory.pressure_level eventfd */
        _PRESSURE_SOURCE_MAX,
} PressureSource;

const char *pressure_source_to_string(PressureSource s); /* "none", "psi", "v1" */

typedef enum KillCause {
        KILL_CAUSE_KERNEL,    /* "kernel": the kernel's OOM killer (the task that vanished) */
        KILL_CAUSE_DECISION,  /* "decision": ResolveOom kill-largest or kill-all */
        KILL_CAUSE_TIMEOUT,   /* "timeout": no decision in time, the largest task */
        _KILL_CAUSE_MAX,
} KillCause;

const char *kill_cause_to_string(KillCause c);

typedef struct EngineEvent {
        EngineEventType type;
        char *path;          /* the cgroup, owned by the event */
        uint64_t cookie;     /* REQUEST_DONE: the request's cookie */
        MemcgError error;    /* REQUEST_DONE: code MEMCG_OK on success */
        /* LIMIT_CHANGED */
        uint64_t old_max, new_max, new_high;
        LimitReason reason;
        /* OOM */
        OomKind oom_kind;
        uint64_t oom_count;  /* the kernel's counter for that kind */
        EngineTask *tasks;   /* the cgroup's tasks at that moment, owned */
        size_t n_tasks;
        EngineTask killed;   /* OOM_KILL: who vanished (pid 0 = unknown) */
        /* TASKS_KILLED: `tasks` holds the victims */
        KillCause kill_cause;
        /* BUDGET_EXHAUSTED */
        uint64_t requested, granted;
        /* STOPPED */
        StopReason stop_reason;
        uint64_t instance;   /* which monitoring of the path ended (engine-internal) */
        /* PRESSURE: the new level (and the old one) */
        PressureLevel pressure_level, old_pressure_level;
        /* RECLAIM_WANTED: bytes to ask back and why */
        uint64_t reclaim_bytes;
        ReclaimCause reclaim_cause;
} EngineEvent;

/* Frees what the event owns (not the struct). */
void engine_event_done(EngineEvent *e);

typedef struct EngineConfig {
        Tunables tunables;
        uint64_t budget_bytes;
        /* Limit used by monitor(path, 0) when nothing was remembered for
         * the path; 0 = derive from usage. */
        uint64_t default_initial_limit;
        /* Root of the memory hierarchy; NULL = find it in
         * /proc/self/mountinfo. A directory that is not on cgroupfs (a
         * test's fake tree) is treated as v2 and watched through one
         * shared inotify instance. */
        const char *root;
        /* SCHED_FIFO priority for v1 workers (0 = normal scheduling).
         * Failure to get it is logged once and ignored. */
        int realtime_priority;
        /* Worker stack size in bytes (0 = 128 KiB). */
        size_t stack_size;
        /* OOM policies: the most the grow policy adds at the hard limit per
         * event (0 = one seed step), how long the freeze policy waits for
         * a decision before falling back to kill, and the shortest
         * interval between two Oom events of one kind for one cgroup
         * (bursts in between are folded into the next one's count). */
        uint64_t oom_emergency_max_bytes;
        uint64_t oom_decision_timeout_usec;
        uint64_t oom_event_interval_usec;
        /* v1, kill policy: tasks that reach the hard limit before the
         * worker raised it sleep there (oom_kill_disable) until it does;
         * the kernel kills only once growth is denied. false: the kernel
         * kills at the limit at once. (Default true.) */
        bool v1_hold_at_limit;
        /* Pressure (pressure.c): watch each monitored cgroup's memory
         * pressure with one extra fd per worker; a level drops only after
         * pressure_quiet_usec below it (0 = 5 s). */
        bool pressure_disabled;
        uint64_t pressure_quiet_usec;
        /* Reclaim requests: the shortest interval between two
         * RECLAIM_WANTED events of one cgroup for one and the same breach
         * (0 = 50 ms; a new crossing of the line asks at once). */
        uint64_t reclaim_interval_usec;
} EngineConfig;

void engine_config_init_default(EngineConfig *c);

/* 0, or negative errno with a message in ret_error. */
int engine_new(const EngineConfig *config, Engine **ret, MemcgError *ret_error);
/* Stops and joins every worker (limits are left as they are: a restart
 * re-attaches). Accepts NULL. */
Engine *engine_free(Engine *e);

/* Readable (EPOLLIN) when events are queued. */
int engine_event_fd(Engine *e);
/* 1 and fills *ret when an event was queued, 0 when the queue is empty.
 * Also clears the eventfd when it returns 0. */
int engine_pop_event(Engine *e, EngineEvent *ret);

/* Changes the budget's total (a config reload, an admin's decision).
 * Grants already made stay, even above a lower total. */
void engine_set_budget(Engine *e, uint64_t total);

Backend engine_backend(Engine *e);
const char *engine_root(Engine *e);
uint64_t engine_budget_total(Engine *e);
uint64_t engine_budget_granted(Engine *e);
const Tunables *engine_tunables(Engine *e);

/* Validates the path against the rules of DESIGN.md §2 without opening
 * anything: 0 or -EINVAL with a message. Beyond DESIGN.md, control
 * characters (below 0x20, and 0x7f) are refused too: the kernel would
 * take them, but a newline or escape in a path would forge lines in logs,
 * signals shown by clients and the state file. */
int cgroup_path_validate(const char *path, MemcgError *ret_error);

/* Starts a worker. initial_limit 0 = remembered start limit, else the
 * default, else derived from usage. Already monitored: returns 0 and sets
 * *ret_already = true; nothing changes, no REQUEST_DONE is posted.
 * On 0 with *ret_already false, a REQUEST_DONE with `cookie` follows once
 * the worker has written the initial limits (or failed to).
 * `restore_max`/`restore_high` are only for re-attaching after a restart
 * (flags & ENGINE_MONITOR_REATTACH): the limits to restore on unmonitor,
 * and the current limits are kept instead of writing initial ones. */
#define ENGINE_MONITOR_REATTACH 0x1
/* A fresh Monitor (the initial limits are written as usual) of a cgroup
 * memcgd monitored before, whose limits from before that first Monitor
 * are known (a state-file entry that could not be re-attached): those are
 * restored on unmonitor, given in restore_max/restore_high, rather than
 * the limits memcgd itself left on it. */
#define ENGINE_MONITOR_ORIGINALS 0x2
typedef struct MonitorRequest {
        const char *path;
        uint64_t initial_limit;
        unsigned flags;
        uint64_t restore_max;   /* REATTACH and ORIGINALS only */
        uint64_t restore_high;  /* REATTACH and ORIGINALS only */
        /* REATTACH and ORIGINALS: v1 oom_kill_disable before the first
         * Monitor, given back by Unmonitor where memcgd's own setting may
         * be what the file shows now (a policy that holds tasks at the
         * limit). */
        bool restore_okd;
        uint64_t cookie;
        OomPolicy oom_policy;   /* default OOM_POLICY_KILL */
} MonitorRequest;

int engine_monitor(Engine *e, const MonitorRequest *req, bool *ret_already, MemcgError *ret_error);

/* Stops the worker, gives its grant back, restores the limits from before
 * Monitor. REQUEST_DONE with cookie, then STOPPED(unmonitored). */
int engine_unmonitor(Engine *e, const char *path, uint64_t cookie, MemcgError *ret_error);

/* Monitored: re-base now (REQUEST_DONE with cookie after the write and a
 * LIMIT_CHANGED(manual)). Not monitored: remembered for a later
 * monitor(path, 0); returns 0 and *ret_deferred = true, no event. */
int engine_set_initial_limit(Engine *e, const char *path, uint64_t limit, uint64_t cookie,
                             bool *ret_deferred, MemcgError *ret_error);

/* Changes the OOM policy of a monitored cgroup (applied by its worker
 * at once: v1 sets memory.oom_control's oom_kill_disable for grow and
 * freeze). */
int engine_set_oom_policy(Engine *e, const char *path, OomPolicy policy, MemcgError *ret_error);

/* Resolves a cgroup frozen by the freeze policy. -EBUSY (with
 * MEMCG_ERROR_FAILED and a message) when it is not waiting for one.
 * REQUEST_DONE with cookie once carried out. */
int engine_resolve_oom(Engine *e, const char *path, OomDecision decision, uint64_t bytes, uint64_t cookie,
                       MemcgError *ret_error);

/* Thaws every cgroup of `paths` that memcgd may have left stopped (v2
 * cgroup.freeze = 0 where the freeze policy set it, v1 oom_kill_disable =
 * 0), for a service manager's ExecStopPost after a crash. Returns the
 * number thawed. */
int engine_thaw_paths(Engine *e, char **paths);

/* The remembered start limit of an unmonitored path (0 = none). */
uint64_t engine_remembered_limit(Engine *e, const char *path);

typedef enum StatKey {
        STAT_CURRENT_BYTES,
        STAT_MAX_LIMIT_BYTES,
        STAT_HIGH_LIMIT_BYTES,
        STAT_PEAK_BYTES,
        STAT_SWAP_BYTES,
        STAT_KMEM_BYTES,
        STAT_EVENTS_HIGH,
        STAT_EVENTS_MAX,
        STAT_EVENTS_OOM,
        STAT_EVENTS_OOM_KILL,
        STAT_LIMIT_INCREASES,
        STAT_LIMIT_DECREASES,
        STAT_GRANTED_BYTES,
        STAT_NEXT_SHRINK_CHECK_USEC, /* CLOCK_MONOTONIC, usec */
        _STAT_U64_MAX,
} StatKey;

/* "current_bytes", ... the GetStats key names. */
const char *stat_key_to_string(StatKey k);

typedef struct CgroupStats {
        Backend backend;
        bool monitored;
        uint64_t values[_STAT_U64_MAX];
        bool has[_STAT_U64_MAX];        /* absent = kernel does not offer it */
        uint32_t no_increase_count;     /* monitored only */
        double pressure_some_avg10, pressure_full_avg10;
        bool has_pressure_some, has_pressure_full;
        /* For the restore on unmonitor and the state file. */
        uint64_t original_max, original_high, initial_limit;
        bool original_okd;              /* v1 oom_kill_disable before Monitor */
        /* OOM (monitored only). */
        OomPolicy oom_policy;
        bool oom_waiting;            /* frozen, waiting for a decision */
        uint64_t oom_decision_deadline_usec; /* CLOCK_MONOTONIC */
        uint64_t last_oom_realtime_usec;     /* CLOCK_REALTIME, 0 = never */
        uint64_t emergency_grants;           /* grow policy grants so far */
        /* Pressure (monitored only): the worker's current level. */
        PressureLevel pressure_level;
        PressureSource pressure_source;
} CgroupStats;

/* Reads the figures of any memcg below the root (monitored or not).
 * Monitored ones add the worker's counters from its snapshot. Reads only;
 * safe from the main thread. */
int engine_get_stats(Engine *e, const char *path, CgroupStats *ret, MemcgError *ret_error);

/* The cgroup's tasks now (at most max_tasks; pid and comm), its
 * cgroup.procs opened beneath the hierarchy root as every file is. *ret
 * is malloc'ed (NULL with none). 0 or negative errno. */
int engine_read_tasks(Engine *e, const char *path, EngineTask **ret, size_t *ret_n, size_t max_tasks);

/* The reclaim broker tells the engine that `delta` reclaimers were
 * registered (+) or dropped (-) for `path`. A worker posts RECLAIM_WANTED
 * only while a reclaimer exists for its cgroup or a cgroup below it:
 * nobody else would act on it. Main thread only. */
void engine_reclaimers_changed(Engine *e, const char *path, int delta);

bool engine_is_monitored(Engine *e, const char *path);
/* Number of monitored cgroups and their paths (strv, caller frees with
 * engine_strv_free), in monitor order. */
unsigned engine_monitored_count(Engine *e);
int engine_list_monitored(Engine *e, char ***ret);
/* Calls f for each monitored cgroup, in monitor order, with its path
 * (borrowed for the call); stops at the first negative return of f and
 * returns it, else 0. Main thread only; f must not monitor or unmonitor. */
int engine_foreach_monitored(Engine *e, int (*f)(const char *path, void *userdata), void *userdata);
void engine_strv_free(char **l);
