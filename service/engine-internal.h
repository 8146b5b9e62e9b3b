/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What engine.c and worker.c share. Nothing outside the engine includes
 * this. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "memcgd/budget.h"
#include "memcgd/engine.h"
#include "notify.h"

typedef struct Worker Worker;
typedef struct QueuedEvent QueuedEvent;
typedef struct LadderRequest LadderRequest;

/* How many thresholds ahead of the current high a v1 worker keeps
 * registered. Registering sleeps in the kernel (synchronize_rcu, up to
 * ~9 ms measured) and usage runs unthrottled from high to max on v1, so
 * the next steps must already be armed when a burst comes. */
#define V1_LADDER 8

/* How many cgroups GetStats keeps the files of open (those asked often,
 * see stat_cache_use()): a monitoring tool polls a few cgroups often,
 * and opening ~9 kernfs files cost more than the rest of the call.
 * Bounded: every kept file is an fd and, once read, a page of kernel
 * memory. */
#define STAT_CACHE_MAX 32
#define STAT_CACHE_IDLE_USEC (UINT64_C(1000) * 1000)

struct Worker {
        Engine *engine;
        Cgroup *cg;
        pthread_t thread;
        int ctl_fd;      /* eventfd: the main thread's requests, fake-tree kicks */
        int notify_wd;   /* fake tree: the shared inotify watch, or -1 */
        int notify_child_wd; /* v2: the watch of its parent for its removal, or -1 */
        uint64_t seq;    /* monitor order */
        /* Main thread only: the engine's list of workers in monitor order
         * (ListMonitored walks it instead of sorting the table). */
        Worker *order_prev, *order_next;
        bool in_order;
        uint64_t stats_asked_usec; /* main thread: the last GetStats of it */

        /* Set before the thread starts, read-only after. */
        unsigned flags;
        uint64_t start_limit;   /* fresh monitor: the initial limit */
        uint64_t start_cookie;

        pthread_mutex_t lock;
        /* Guarded by lock: the snapshot GetStats reads ... */
        uint64_t max, high;
        uint64_t granted;
        uint64_t original_max, original_high;
        bool restore_okd;       /* the request's (REATTACH, ORIGINALS); set once before the thread */
        bool original_okd;      /* v1 oom_kill_disable before Monitor, as the worker settled it */
        uint64_t initial_limit;
        uint32_t no_increase_count;
        uint64_t next_shrink_usec;
        uint64_t limit_increases, limit_decreases, high_breaches;
        /* ... and the requests the main thread leaves for the worker. */
        bool stop_requested;
        StopReason stop_reason;
        uint64_t stop_cookie;
        bool rebase_requested;
        uint64_t rebase_limit;
        uint64_t rebase_cookie;
        bool exited;       /* the thread is past its loop: join it */
        /* The start failed and the worker is ending: no longer monitored,
         * already when its failure is reported (guarded by lock). */
        bool start_failed;
        /* OOM handling. */
        OomPolicy oom_policy;
        bool policy_changed;
        bool decision_requested;
        OomDecision decision;
        uint64_t decision_bytes, decision_cookie;
        bool oom_waiting;
        uint64_t oom_decision_deadline;
        uint64_t last_oom_realtime_usec;
        uint64_t emergency_grants;
        /* Another worker ran out of budget: give back slack now. */
        bool squeeze_requested;
        /* v1: a threshold ladder the registrar thread registered for this
         * worker (an eventfd), waiting to be taken over. */
        int pending_ladder_fd;
        uint64_t pending_ladder[V1_LADDER];
        unsigned pending_ladder_len;
        uint64_t pending_ladder_generation; /* newest delivered */
        uint64_t failed_ladder_generation;  /* newest that failed to register */
        int failed_ladder_error;            /* its negative errno */
        /* Pressure (guarded by lock): the worker's level and its source. */
        PressureLevel pressure_level;
        PressureSource pressure_source;
        /* Reclaimers registered for this cgroup or below it (atomic). */
        unsigned reclaimers;
};

struct Engine {
        EngineConfig config;
        char *root_override;
        CgroupRoot root;
        Budget *budget;
        Notify *notify;            /* fake trees only */
        uint64_t next_seq;

        /* Main thread only. */
        void *workers;             /* GHashTable: path → Worker* */
        Worker *order_head, *order_tail; /* every worker in the table, by seq */
        Worker *stat_cache[STAT_CACHE_MAX]; /* kept stat files, most recently asked first */
        unsigned n_stat_cache;
        int stat_fd_ceiling;       /* no kept stat file at or above this fd */
        void *remembered;          /* GHashTable: path → uint64_t* */
        void *reclaim_hints;       /* GHashTable: path → reclaimers registered (GINT) */

        pthread_mutex_t queue_lock;
        /* What the workers posted, oldest first. Lists of their own
         * rather than GQueues, here and for the registrar: GLib's slice
         * allocator gives every thread that allocates a list node a
         * magazine cache of its own, and there are thousands of workers. */
        QueuedEvent *queue_head, **queue_tail;
        QueuedEvent *free_events;  /* popped nodes for the next posts */
        unsigned n_free_events;
        int event_fd;
        bool rt_warned;            /* atomic */

        /* Every live worker, for workers asking the others to give back
         * slack. Written by the main thread under the write lock. */
        pthread_rwlock_t registry_lock;
        void *registry;            /* GPtrArray of Worker* */

        /* v1: the one thread that registers threshold ladders, so that no
         * worker is deaf while the kernel sleeps in a registration. */
        pthread_mutex_t ladder_lock;
        pthread_cond_t ladder_cond;
        LadderRequest *ladder_head, **ladder_tail; /* oldest first, urgent ones ahead */
        bool ladder_thread_started, ladder_stop;
        pthread_t ladder_thread;
};

/* Asks the registrar to register thresholds (and the OOM notification)
 * on a new eventfd for the worker; the result lands in the worker's
 * pending_ladder_* fields with its ctl eventfd kicked, if `generation` is
 * still the worker's latest (a failure in failed_ladder_*, kicked too). dirfd is duplicated. `urgent` (a burst is
 * on) queues it ahead of the others. Thread-safe. */
int engine_request_ladder(Engine *e, Worker *w, uint64_t generation, const uint64_t *thresholds, unsigned n,
                          bool urgent);
void engine_stop_registrar(Engine *e);

/* Asks every other worker to shrink to its floor now (their slack goes
 * back to the pool). Thread-safe. Returns how many were asked. */
unsigned engine_squeeze_others(Engine *e, Worker *self);

/* Thread-safe: a worker hands an event to the main thread. `ev` is copied;
 * its path is duplicated from cg_path. */
void engine_post(Engine *e, const char *cg_path, const EngineEvent *ev);

void *worker_main(void *userdata);

/* The deadline of a timer `timeout` usec from `now` (CLOCK_MONOTONIC
 * usec), rounded up to a grid shared by every worker: the largest power
 * of two usec not above timeout/64, so it fires under 1.6 % late.
 * Idle workers whose shrink timers fall in the same grid step are woken
 * together by one timer interrupt, and a batched wake-up costs about a
 * quarter of an isolated one (measured on a 2-vCPU VM: ~40 us of CPU per
 * isolated timer wake-up, ~11 us in a batch); their events reach the
 * main thread in one wake-up too. Timeouts under 64 ms are kept exact. */
uint64_t engine_timer_deadline(uint64_t now, uint64_t timeout);

uint64_t now_usec(void);
