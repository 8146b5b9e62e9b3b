/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "engine-internal.h"
#include "log.h"
#include "pressure-watch.h"

/* The most grow steps one wake-up may take: enough to catch up with a
 * fast burst, bounded so that a cgroup that keeps breaching cannot keep
 * its worker from the control eventfd. */
#define MAX_GROWS_PER_WAKE 64

typedef struct WorkerLocal {
        const Tunables *t;
        uint64_t max, high;          /* as written to the kernel */
        uint64_t granted;
        bool wrote_initial;          /* a fresh Monitor's limit write was tried */
        uint32_t nic;
        uint64_t deadline;           /* CLOCK_MONOTONIC usec */
        uint64_t last_high_events;   /* v2: memory.events "high" seen */
        MemoryEvents last_events;
        /* v1 */
        int ladder_fd;
        uint64_t ladder[V1_LADDER];
        unsigned ladder_len;
        uint64_t ladder_generation;  /* of the last request to the registrar */
        uint64_t ladder_requested_max;
        uint64_t ladder_retry_at;    /* after a failed registration */
        unsigned ladder_failures;    /* failed registrations in a row */
        uint64_t lowered_high;       /* registered on ladder_fd beside the ladder (0: none) */
        unsigned n_lowered;          /* lowered lines registered on ladder_fd so far */
        uint64_t deaf_poll;          /* v1: next usage check while no threshold is at high */
        uint64_t last_grow;          /* CLOCK_MONOTONIC usec of the last granted grow */

        /* OOM */
        OomPolicy policy;
        bool original_okd;          /* v1 oom_kill_disable before Monitor */
        bool okd_set;               /* v1: we wrote oom_kill_disable = 1 */
        bool kill_fallback;         /* v1: oom_kill_disable lifted to let the kernel kill */
        EngineTask *snap;           /* the tasks last seen, to name who an OOM kill took */
        size_t n_snap;
        uint64_t snap_usec;
        uint64_t oom_last_post[_OOM_KIND_MAX];
        bool oom_pending[_OOM_KIND_MAX];
        uint64_t oom_count[_OOM_KIND_MAX];
        bool waiting;               /* freeze policy: stopped, waiting for a decision */
        bool froze;                 /* v2: we wrote cgroup.freeze = 1 */
        uint64_t decision_deadline;
        uint64_t retry_deadline;    /* a denied grow retried after others gave slack back */
        unsigned retries;
        bool retry_at_limit;        /* the retry is for tasks at the hard limit (on_limit_hit) */
        bool last_grow_denied;
        bool exhausted_announced;
        uint64_t last_squeeze;       /* when this worker last squeezed the others */
        bool last_squeeze_asked;     /* ... and whether anyone was asked then */
        uint64_t near_until;          /* v1: re-check the line until then */
        uint64_t near_fast_until;     /* v1: every V1_RECHECK_FAST_USEC until then */

        /* Pressure and reclaim requests. */
        PressureWatch pw;
        PressureTracker pt;
        uint64_t psi_next;          /* next PSI sample while pressure lasts */
        uint64_t reclaim_last;      /* last RECLAIM_WANTED posted */
        uint64_t reclaim_recheck;   /* growth denied: ask again then if still above high */
        bool below_since_ask;       /* usage was seen under the line since the last ask */
        uint64_t pressure_reclaim_last;
} WorkerLocal;

#define NEVER UINT64_MAX

/* a + b, or NEVER where it would wrap: deadlines built from durations
 * the config file allows up to just under 2^64 usec. */
static inline uint64_t usec_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? NEVER : a + b;
}
/* v1: during a burst (a grow in the last second) while none of the
 * registered thresholds is at the high line - the registrar is still
 * registering the next ladder: each registration sleeps in the kernel's
 * synchronize_rcu, ~15 ms measured on a loaded host, 8 per ladder - the
 * worker reads usage itself this often. At 4 KiB-page speed (0.3-0.6
 * GB/s) an 8 MiB gap lasts 13-26 ms, with huge pages 0.4-4 ms. Only
 * usage is read: the OOM side (oom_control, failcnt) waits for a real
 * wake-up, so tasks stopped at their limit are not re-announced. Idle
 * cgroups (no grow for a second) never poll. */
#define V1_DEAF_POLL_USEC 500
#define V1_BURST_USEC (1000 * 1000)
/* A denied grow: ask the others for slack, then retry this often, this
 * many times, before announcing BudgetExhausted (or, for an OOM, falling
 * back to the kernel's kill). */
#define RETRY_USEC (20 * 1000)
#define RETRIES 5
/* A ladder the registrar failed to register is asked for again after: */
#define V1_LADDER_RETRY_USEC (100 * 1000)
/* While a shortage lasts (announced, no full step granted since), the
 * others are squeezed again at most this often: each squeeze wakes every
 * worker, and a cgroup held at its limit breaches many times a second. */
#define SQUEEZE_AGAIN_USEC (1000 * 1000)
/* Tasks listed in an Oom signal. */
#define MAX_TASKS 256

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void post_limit(Worker *w, uint64_t old_max, uint64_t new_max, uint64_t new_high, LimitReason reason) {
        EngineEvent ev = {
                .type = ENGINE_EVENT_LIMIT_CHANGED,
                .old_max = old_max,
                .new_max = new_max,
                .new_high = new_high,
                .reason = reason,
        };
        engine_post(w->engine, w->cg->path, &ev);
}

static void post_done(Worker *w, uint64_t cookie, const MemcgError *err) {
        EngineEvent ev = { .type = ENGINE_EVENT_REQUEST_DONE, .cookie = cookie };
        if (err)
                ev.error = *err;
        engine_post(w->engine, w->cg->path, &ev);
}

static void publish(Worker *w, WorkerLocal *l) {
        pthread_mutex_lock(&w->lock);
        w->max = l->max;
        w->high = l->high;
        w->granted = l->granted;
        w->no_increase_count = l->nic;
        w->next_shrink_usec = l->deadline;
        pthread_mutex_unlock(&w->lock);
}

static void arm_shrink(WorkerLocal *l) {
        l->deadline = engine_timer_deadline(now_usec(), limits_shrink_timeout_usec(l->t, l->nic));
}

/* After the limit came down from a higher one: what the worker holds
 * beyond the new limit goes back to the pool, and only that. A re-attach
 * the pool covered only in part holds less than its limit, and the
 * uncovered part goes first (giving back bytes it never took would take
 * them from the other workers' grants). Returns the bytes given back. */
static uint64_t give_back_above(Worker *w, WorkerLocal *l, uint64_t new_max) {
        if (l->granted <= new_max)
                return 0;
        uint64_t back = budget_give(w->engine->budget, l->granted - new_max);
        l->granted -= back;
        return back;
}

/* Grants are whole pages: the pool may hand out an odd remainder. */
static uint64_t take_pages(Budget *b, uint64_t want) {
        uint64_t g = budget_take(b, want);
        uint64_t aligned = limits_page_round_down(g);
        if (aligned != g)
                budget_give(b, g - aligned);
        return aligned;
}

/* Writes the limits; announces them unless `quiet` (a caller that still
 * has accounting to do announces after it, so that a listener reading
 * the pool on the event sees it settled). */
static int write_limits(Worker *w, WorkerLocal *l, uint64_t new_max, LimitReason reason, bool quiet) {
        uint64_t new_high = limits_high_from_max(l->t, new_max);
        uint64_t old_max = l->max;
        bool max_written;
        int r;

        r = cgroup_write_limits(w->cg, l->max, new_max, new_high, &max_written);
        if (max_written) {
                l->max = new_max;
                l->high = new_high;
        }
        if (r < 0 && !max_written)
                return r;
        if (r < 0)
                log_warning("%s: max set to %llu but writing the high line failed: %s", w->cg->path,
                            (unsigned long long) new_max, strerror(-r));
        if (!quiet)
                post_limit(w, old_max, l->max, l->high, reason);
        return 0;
}

static int apply_limits(Worker *w, WorkerLocal *l, uint64_t new_max, LimitReason reason) {
        return write_limits(w, l, new_max, reason, false);
}

/* The thresholds of the current high and the next steps, assuming full
 * grants (a partial grant or a shrink makes a new ladder). */
static unsigned v1_ladder_for(const WorkerLocal *l, uint64_t *ladder) {
        uint64_t m = l->max;
        unsigned n = 0;

        for (; n < V1_LADDER; n++) {
                ladder[n] = limits_high_from_max(l->t, m);
                uint64_t d = limits_grow_delta(l->t, m);
                if (d == 0) {
                        n++;
                        break;
                }
                m += d;
        }
        return n;
}

static int v1_register(Worker *w, const uint64_t *ladder, unsigned n) {
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r;

        if (efd < 0)
                return -errno;
        r = cgroup_v1_register_oom(w->cg, efd);
        for (unsigned i = 0; r >= 0 && i < n; i++)
                r = cgroup_v1_register_threshold(w->cg, efd, ladder[i]);
        if (r < 0) {
                close(efd);
                return r;
        }
        return efd;
}

static void v1_install(WorkerLocal *l, int efd, const uint64_t *ladder, unsigned n) {
        log_debug("ladder installed: %u thresholds from %llu to %llu", n, (unsigned long long) ladder[0],
                  (unsigned long long) ladder[n - 1]);
        /* Closing the old eventfd is what ends its registrations: only now
         * that the new one is armed. */
        if (l->ladder_fd >= 0)
                close(l->ladder_fd);
        l->ladder_fd = efd;
        memcpy(l->ladder, ladder, n * sizeof(*ladder));
        l->ladder_len = n;
        l->lowered_high = 0;
        l->n_lowered = 0;
}

/* The first ladder, registered by the worker itself before it reports
 * the monitor done. */
static int v1_arm_initial(Worker *w, WorkerLocal *l) {
        uint64_t ladder[V1_LADDER];
        unsigned n = v1_ladder_for(l, ladder);
        int efd = v1_register(w, ladder, n);
        if (efd < 0)
                return efd;
        v1_install(l, efd, ladder, n);
        l->ladder_requested_max = l->max;
        return 0;
}

/* Keeps the registered thresholds at least two steps ahead of the current
 * high. New registrations are made by the engine's registrar thread while
 * this worker keeps answering on the old eventfd: a registration sleeps
 * in the kernel for milliseconds, during which a worker registering
 * inline would be deaf to a burst. */
static bool breached(const Worker *w, const WorkerLocal *l, uint64_t usage);

/* Lowering the limits (a shrink, a squeeze, a re-base downward) leaves
 * every registered threshold above the new high line - above the new max
 * after a big shrink - until the registrar installs the next ladder. With
 * many cgroups shrinking at once that takes seconds (each registration
 * sleeps in synchronize_rcu, and urgent ladders go first), and a cgroup
 * that grows again meanwhile is not heard before it reaches max: an OOM
 * kill. So the new high line is registered on the current eventfd at
 * once: one registration, by a worker whose cgroup just shrank. */
static void v1_cover_lowered_high(Worker *w, WorkerLocal *l) {
        uint64_t usage;
        int r;

        if (l->ladder_fd < 0 || l->ladder_len == 0 || l->ladder[0] <= l->high || l->lowered_high == l->high)
                return;
        r = cgroup_v1_register_threshold(w->cg, l->ladder_fd, l->high);
        if (r < 0) {
                log_debug("%s: registering the lowered high line failed: %s", w->cg->path, strerror(-r));
                return;
        }
        l->lowered_high = l->high;
        l->n_lowered++;
        /* Crossed while it was being registered: no event will say so. */
        if (cgroup_read_usage(w->cg, &usage) == 0 && breached(w, l, usage))
                (void) eventfd_write(l->ladder_fd, 1);
}

/* Lowered lines that pile up on one eventfd before a fresh ladder
 * replaces them all (each stays registered in the kernel until then). */
#define V1_LOWERED_MAX 16

static void v1_keep_ahead(Worker *w, WorkerLocal *l) {
        uint64_t ladder[V1_LADDER];
        unsigned n;

        v1_cover_lowered_high(w, l);
        for (unsigned i = 0; i < l->ladder_len; i++)
                if (l->ladder[i] == l->high && i + 2 < l->ladder_len)
                        return;
        /* After a shrink the lowered line is watched on the current
         * eventfd: the ladder above it is built at the next grow, not at
         * every shrink. A new ladder is nine registrations and nine
         * removals in the kernel, each a synchronize_rcu; for an idle
         * cgroup stepping down every few tens of seconds that was most of
         * memcgd's idle cost on v1. The grow that leaves the lowered line
         * asks for an urgent ladder and polls usage until it is armed. */
        if (l->lowered_high != 0 && l->lowered_high == l->high && l->n_lowered < V1_LOWERED_MAX &&
            now_usec() >= l->last_grow + V1_BURST_USEC)
                return;
        if (l->ladder_requested_max == l->max)
                return; /* asked already: waiting for the registrar */
        if (now_usec() < l->ladder_retry_at)
                return;
        n = v1_ladder_for(l, ladder);
        /* A worker racing a burst must not wait behind the ladders of
         * idle cgroups that shrank. */
        bool urgent = now_usec() < l->last_grow + V1_BURST_USEC;
        if (engine_request_ladder(w->engine, w, ++l->ladder_generation, ladder, n, urgent) == 0)
                l->ladder_requested_max = l->max;
}

/* True when one of the registered thresholds is the high line: its
 * crossing wakes the worker. */
static bool v1_covered(const WorkerLocal *l) {
        if (l->lowered_high != 0 && l->lowered_high == l->high)
                return true;
        for (unsigned i = 0; i < l->ladder_len; i++)
                if (l->ladder[i] == l->high)
                        return true;
        return false;
}

/* When the v1 worker next reads usage by itself (NEVER: it need not).
 * Not while tasks wait for a decision, nor after a denied grow (the retry
 * timer owns that), nor once the burst is over. (The 20 ms near-line
 * recheck is no reason to stop: it is far too slow for a burst.) */
static uint64_t v1_deaf_poll_at(const WorkerLocal *l, uint64_t now) {
        if (l->waiting || l->last_grow_denied || v1_covered(l) || now >= l->last_grow + V1_BURST_USEC)
                return NEVER;
        return now + V1_DEAF_POLL_USEC;
}

/* Takes over a ladder the registrar finished. Returns true if one was
 * installed (crossings meanwhile may only have reached the old one). */
static bool v1_take_pending(Worker *w, WorkerLocal *l) {
        uint64_t ladder[V1_LADDER];
        unsigned n;
        int efd;

        pthread_mutex_lock(&w->lock);
        efd = w->pending_ladder_fd;
        n = w->pending_ladder_len;
        memcpy(ladder, w->pending_ladder, sizeof(ladder));
        w->pending_ladder_fd = -1;
        bool failed = w->failed_ladder_generation == l->ladder_generation;
        int error = w->failed_ladder_error;
        pthread_mutex_unlock(&w->lock);
        if (failed && efd < 0 && l->ladder_requested_max != 0) {
                /* The registrar could not register the ladder last asked
                 * for (EMFILE, ENOMEM): the old one stays, and the same
                 * one is asked for again after a pause - not only at the
                 * next limit change, which may never come. */
                l->ladder_failures++;
                /* The 1st, 2nd, 4th... failure in a row: not 10 lines a
                 * second while the fd table stays full. */
                if ((l->ladder_failures & (l->ladder_failures - 1)) == 0)
                        log_warning("%s: registering usage thresholds failed (%u in a row): %s; asking again in %u ms",
                                    w->cg->path, l->ladder_failures, strerror(-error),
                                    (unsigned) (V1_LADDER_RETRY_USEC / 1000));
                l->ladder_requested_max = 0;
                l->ladder_retry_at = now_usec() + V1_LADDER_RETRY_USEC;
        }
        if (efd < 0)
                return false;
        l->ladder_failures = 0;
        v1_install(l, efd, ladder, n);
        return true;
}

static int read_events(Worker *w, MemoryEvents *ret) {
        return cgroup_read_events(w->cg, ret);
}

static void refresh_snapshot(Worker *w, WorkerLocal *l) {
        EngineTask *t = NULL;
        size_t n = 0;

        /* A failed read waits its 100 ms too: an unreadable cgroup.procs
         * (a fake tree has none) must not cost a failed path walk at every
         * reaction. The last good list stands meanwhile. */
        l->snap_usec = now_usec();
        if (cgroup_read_tasks(w->cg, &t, &n, 4096) < 0)
                return;
        free(l->snap);
        l->snap = t;
        l->n_snap = n;
}

static void post_killed(Worker *w, const EngineTask *tasks, size_t n, KillCause cause) {
        EngineEvent e = {
                .type = ENGINE_EVENT_TASKS_KILLED,
                .tasks = (EngineTask *) tasks,
                .n_tasks = n < MAX_TASKS ? n : MAX_TASKS,
                .kill_cause = cause,
        };
        if (n > 0)
                engine_post(w->engine, w->cg->path, &e);
}

static void post_oom(Worker *w, WorkerLocal *l, OomKind kind) {
        EngineEvent e = { .type = ENGINE_EVENT_OOM, .oom_kind = kind, .oom_count = l->oom_count[kind] };
        EngineTask *now = NULL;
        size_t n = 0;

        (void) cgroup_read_tasks(w->cg, &now, &n, 4096);
        /* Who vanished since the last look is who the kernel took. The
         * victim may still be exiting (freeing its memory) when the
         * counter moves: give it up to 100 ms to leave. */
        for (int tries = 0; kind == OOM_KIND_OOM_KILL && e.killed.pid == 0 && tries < 20; tries++) {
                for (size_t i = 0; i < l->n_snap && e.killed.pid == 0; i++) {
                        bool alive = false;
                        for (size_t j = 0; j < n && !alive; j++)
                                alive = now[j].pid == l->snap[i].pid;
                        if (!alive)
                                e.killed = l->snap[i];
                }
                if (e.killed.pid != 0 || l->n_snap == 0)
                        break;
                usleep(5000);
                free(now);
                now = NULL;
                n = 0;
                (void) cgroup_read_tasks(w->cg, &now, &n, 4096);
        }
        e.tasks = now;
        e.n_tasks = n < MAX_TASKS ? n : MAX_TASKS;
        engine_post(w->engine, w->cg->path, &e);
        free(now);
        if (e.killed.pid != 0)
                post_killed(w, &e.killed, 1, KILL_CAUSE_KERNEL);
        l->oom_last_post[kind] = now_usec();
        l->oom_pending[kind] = false;

        pthread_mutex_lock(&w->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        w->last_oom_realtime_usec = (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
        pthread_mutex_unlock(&w->lock);
}

/* Announces a kind whose counter moved, at most once per interval: a
 * storm in between is folded into the next event, whose count is the
 * kernel's total. */
static void note_oom(Worker *w, WorkerLocal *l, OomKind kind, uint64_t count) {
        uint64_t interval = w->engine->config.oom_event_interval_usec;

        l->oom_count[kind] = count;
        if (now_usec() >= usec_add(l->oom_last_post[kind], interval))
                post_oom(w, l, kind);
        else
                l->oom_pending[kind] = true;
}

static void flush_pending_oom(Worker *w, WorkerLocal *l) {
        uint64_t interval = w->engine->config.oom_event_interval_usec;
        for (int k = 0; k < _OOM_KIND_MAX; k++)
                if (l->oom_pending[k] && now_usec() >= usec_add(l->oom_last_post[k], interval))
                        post_oom(w, l, (OomKind) k);
}

static uint64_t next_pending_oom(Worker *w, const WorkerLocal *l) {
        uint64_t t = NEVER;
        for (int k = 0; k < _OOM_KIND_MAX; k++)
                if (l->oom_pending[k] && usec_add(l->oom_last_post[k], w->engine->config.oom_event_interval_usec) < t)
                        t = usec_add(l->oom_last_post[k], w->engine->config.oom_event_interval_usec);
        return t;
}

static void announce_exhausted(Worker *w, uint64_t requested, uint64_t granted) {
        EngineEvent e = { .type = ENGINE_EVENT_BUDGET_EXHAUSTED, .requested = requested, .granted = granted };
        engine_post(w->engine, w->cg->path, &e);
}

static bool breached(const Worker *w, const WorkerLocal *l, uint64_t usage);

/* Asks the main thread to request `bytes` from the cgroup's reclaimers,
 * at most once per reclaim interval. */
static void want_reclaim(Worker *w, WorkerLocal *l, uint64_t bytes, ReclaimCause cause) {
        uint64_t interval = w->engine->config.reclaim_interval_usec ?: UINT64_C(50000);
        uint64_t now = now_usec();

        if (__atomic_load_n(&w->reclaimers, __ATOMIC_RELAXED) == 0 || bytes == 0)
                return; /* nobody to ask */

        /* Pressure asks keep their own pace (pressure_step) and leave the
         * growth asks' alone. */
        if (cause == RECLAIM_CAUSE_GROWTH_DENIED) {
                /* v1 tells a crossing of the high line once: a cgroup that
                 * stays above it would never be asked for again. */
                l->reclaim_recheck = usec_add(l->reclaim_last != 0 && now < usec_add(l->reclaim_last, interval) ? l->reclaim_last : now,
                                              interval);
                /* The interval bounds asks for one and the same breach; a
                 * new crossing of the line (usage went under it since: the
                 * last ask was served) is asked for at once - on v1 nothing
                 * throttles the cgroup between high and max. */
                if (!l->below_since_ask && l->reclaim_last != 0 && now < usec_add(l->reclaim_last, interval))
                        return;
                l->reclaim_last = now;
                l->below_since_ask = false;
        }
        EngineEvent e = { .type = ENGINE_EVENT_RECLAIM_WANTED, .reclaim_bytes = bytes, .reclaim_cause = cause };
        engine_post(w->engine, w->cg->path, &e);
}

static void publish_pressure(Worker *w, WorkerLocal *l) {
        pthread_mutex_lock(&w->lock);
        w->pressure_level = l->pt.level;
        w->pressure_source = l->pw.source;
        pthread_mutex_unlock(&w->lock);
}

static void pressure_changed(Worker *w, WorkerLocal *l, PressureLevel old) {
        EngineEvent e = { .type = ENGINE_EVENT_PRESSURE, .pressure_level = l->pt.level, .old_pressure_level = old };
        log_debug("%s: pressure %s -> %s", w->cg->path, pressure_level_to_string(old),
                  pressure_level_to_string(l->pt.level));
        /* Published first: whoever reads the event may ask GetStats. */
        publish_pressure(w, l);
        engine_post(w->engine, w->cg->path, &e);
}

/* A sample (the fd woke, or a PSI sampling deadline came) and the passing
 * of time: the level follows with hysteresis; at medium and above the
 * cgroup's reclaimers are asked for one gap between high and max, again
 * after each quiet period the level holds. */
static void pressure_step(Worker *w, WorkerLocal *l, bool woke, uint64_t now) {
        PressureLevel old = l->pt.level, sample = PRESSURE_NONE;
        bool sampled = false;

        if (l->pw.fd < 0)
                return;
        pressure_watch_unmute(&l->pw, now);
        if (woke || (l->pw.source == PRESSURE_SOURCE_PSI && now >= l->psi_next)) {
                int r = pressure_watch_sample(&l->pw, woke, now, &sample);
                if (r < 0)
                        log_debug("%s: reading pressure failed: %s", w->cg->path, strerror(-r));
                else
                        sampled = true;
        }
        if (sampled)
                (void) pressure_tracker_sample(&l->pt, sample, now);
        else
                (void) pressure_tracker_tick(&l->pt, now);
        if (l->pw.source == PRESSURE_SOURCE_PSI && (sampled || now >= l->psi_next))
                /* Sample while there is pressure; otherwise the trigger
                 * wakes us. */
                l->psi_next = (l->pt.level > PRESSURE_NONE || sample > PRESSURE_NONE) ? now + PRESSURE_SAMPLE_USEC
                                                                                       : NEVER;
        if (l->pt.level != old)
                pressure_changed(w, l, old);
        if (l->pt.level >= PRESSURE_MEDIUM &&
            (old < PRESSURE_MEDIUM || now >= usec_add(l->pressure_reclaim_last, l->pt.quiet_usec))) {
                l->pressure_reclaim_last = now;
                want_reclaim(w, l, l->max > l->high ? l->max - l->high : l->t->high_gap, RECLAIM_CAUSE_PRESSURE);
        }
}

/* Growth was denied a while ago: still above the line, and still no
 * grant? Ask the reclaimers again for a growth step. */
static void reclaim_recheck(Worker *w, WorkerLocal *l) {
        uint64_t usage;

        l->reclaim_recheck = NEVER;
        if (!l->last_grow_denied || l->waiting || cgroup_read_usage(w->cg, &usage) < 0)
                return;
        if (!breached(w, l, usage)) {
                l->below_since_ask = true;
                return;
        }
        /* Back under the line by half the high-max gap: the client may
         * well have allocated more since the last ask. */
        /* On v2, breached() also holds up to 1/16 of high below it. */
        want_reclaim(w, l, (usage > l->high ? usage - l->high : 0) + (l->max > l->high ? (l->max - l->high) / 2 : 0),
                     RECLAIM_CAUSE_GROWTH_DENIED);
}

static uint64_t pressure_deadline(const WorkerLocal *l) {
        uint64_t t = NEVER;
        if (l->pw.fd < 0)
                return t;
        if (l->pw.source == PRESSURE_SOURCE_PSI)
                t = l->psi_next;
        if (l->pw.mute_until != 0 && l->pw.mute_until < t)
                t = l->pw.mute_until;
        uint64_t d = pressure_tracker_next_drop(&l->pt);
        return d < t ? d : t;
}

/* True when the cgroup's removal wakes this worker by itself: v1 signals
 * every eventfd registered on a memcg when it is removed (checked on
 * 6.18: the threshold's eventfd, ~14 ms after rmdir), a fake tree's
 * watch on memory.events kicks the worker when the file is unlinked
 * (IN_ATTRIB), and on v2 (whose rmdir wakes no poller of memory.events)
 * the engine's watch of the parent kicks it (IN_DELETE, ~1 ms after
 * rmdir on 6.1). Then a wake-up of the timer alone need not ask the
 * directory: for an idle cgroup that was one system call in three. */
static bool removal_signalled(const Worker *w, const WorkerLocal *l) {
        if (w->cg->fake)
                return w->notify_wd >= 0;
        if (w->cg->backend == BACKEND_V2)
                return w->notify_child_wd >= 0;
        return l->ladder_fd >= 0;
}

/* v1 with oom_kill_disable: let the kernel kill now (the decision timed
 * out, or the grow or kill policy found no memory). Set again once the
 * OOM is over (grow), or once a growth step is granted again (kill). */
static void v1_let_kernel_kill(Worker *w, WorkerLocal *l) {
        if (w->cg->backend != BACKEND_V1 || !l->okd_set)
                return;
        if (cgroup_v1_set_oom_kill_disable(w->cg, false) == 0) {
                l->kill_fallback = true;
                log_debug("%s: no hold at the limit: the kernel may kill", w->cg->path);
        }
}

/* Undoes v1_let_kernel_kill(): tasks sleep at the limit again. */
static void v1_hold_again(Worker *w, WorkerLocal *l) {
        if (cgroup_v1_set_oom_kill_disable(w->cg, true) == 0) {
                l->kill_fallback = false;
                log_debug("%s: tasks held at the limit again", w->cg->path);
        }
}

/* Whether the budget has a full growth step free for this cgroup now. */
static bool room_for_step(const Worker *w, const WorkerLocal *l) {
        return budget_free_bytes(w->engine->budget) >= limits_grow_delta(l->t, l->max);
}

/* Why a grow is asked for. */
typedef enum GrowCause {
        GROW_AT_LINE,   /* usage crossed the high line */
        GROW_AT_LIMIT,  /* v1: tasks wait at the hard limit (held there, kill policy) */
        GROW_EMERGENCY, /* the grow policy at the hard limit */
} GrowCause;

/* Squeezes the others' slack for a growth step the pool cannot give:
 * at the start of a shortage, then once a SQUEEZE_AGAIN_USEC while it
 * lasts. True if any worker was asked, now or by the squeeze that is
 * still recent: the bytes they give back (and the cgroup's reclaimers')
 * are worth the retries then too. */
static bool may_squeeze(Worker *w, WorkerLocal *l) {
        uint64_t now = now_usec();

        if (l->exhausted_announced && now < usec_add(l->last_squeeze, SQUEEZE_AGAIN_USEC))
                return l->last_squeeze_asked;
        l->last_squeeze = now;
        l->last_squeeze_asked = engine_squeeze_others(w->engine, w) > 0;
        return l->last_squeeze_asked;
}

/* Returns the bytes granted and applied. GROW_EMERGENCY: a step bounded
 * by oom_emergency_max_bytes. A denied grow at the limit is retried
 * through on_limit_hit(), which knows what the policy does once growth
 * is impossible. */
static uint64_t grow(Worker *w, WorkerLocal *l, GrowCause cause) {
        bool emergency = cause == GROW_EMERGENCY;
        uint64_t delta = limits_grow_delta(l->t, l->max);
        uint64_t cap = w->engine->config.oom_emergency_max_bytes;
        uint64_t granted;

        if (emergency && cap > 0 && delta > cap)
                delta = limits_page_round_down(cap);
        granted = delta ? take_pages(w->engine->budget, delta) : 0;

        l->last_grow_denied = granted < delta;
        if (granted < delta)
                /* Ask the cgroup's own reclaimers first: while the retries
                 * below run, they free memory and usage may fall back under
                 * the line before any OOM policy has to act. */
                want_reclaim(w, l, delta - granted, RECLAIM_CAUSE_GROWTH_DENIED);
        if (granted < delta) {
                /* Before giving up, take memory back from the others'
                 * unused slack, and try again shortly. */
                if (l->retries < RETRIES && (l->retries > 0 || may_squeeze(w, l))) {
                        l->retries++;
                        l->retry_deadline = now_usec() + RETRY_USEC;
                        l->retry_at_limit = cause != GROW_AT_LINE;
                } else {
                        /* Once per shortage, not at every breach of it. */
                        if (!l->exhausted_announced)
                                announce_exhausted(w, delta, granted);
                        l->exhausted_announced = true;
                        l->retries = 0;
                        l->retry_deadline = NEVER;
                }
        } else {
                l->retries = 0;
                l->retry_deadline = NEVER;
                l->exhausted_announced = false;
        }
        if (granted > 0) {
                int r = apply_limits(w, l, l->max + granted, emergency ? LIMIT_REASON_EMERGENCY : LIMIT_REASON_GROW);
                if (r < 0) {
                        budget_give(w->engine->budget, granted);
                        log_warning("%s: raising the limit failed: %s; trying again shortly", w->cg->path,
                                    strerror(-r));
                        granted = 0;
                        /* A transient refusal (EMFILE, EBUSY, EINTR): the
                         * breach is still there, so try again; the
                         * retry re-reads usage and grows only if needed. */
                        if (l->retry_deadline == NEVER) {
                                l->retry_deadline = now_usec() + RETRY_USEC;
                                l->retry_at_limit = cause != GROW_AT_LINE;
                        }
                } else {
                        l->granted += granted;
                        l->last_grow = now_usec();
                        /* The kill policy's hold comes back with growth,
                         * once the budget has room for the next step too:
                         * while tasks are held at the limit, the kernel
                         * fails their charges in system calls (ENOMEM), a
                         * cost only worth paying if a grow can end the
                         * hold. */
                        if (l->kill_fallback && l->policy == OOM_POLICY_KILL && granted == delta && room_for_step(w, l))
                                v1_hold_again(w, l);
                        pthread_mutex_lock(&w->lock);
                        w->limit_increases++;
                        if (emergency)
                                w->emergency_grants++;
                        pthread_mutex_unlock(&w->lock);
                }
        }
        /* As the seed: a breach resets the backoff even when nothing was
         * granted. */
        l->nic = 0;
        arm_shrink(l);
        return granted;
}

/* True when usage sits at the high line. v2's "high" counter also climbs
 * on every throttle, and counts from before a raise arrive after it: a
 * change of the counter only counts while usage is within 1/16 of high.
 * v1 compares strictly: at the shrink floor high is only a tenth of a
 * growth step above usage, so a tolerance there would grow a settled
 * cgroup again at every new threshold registration. */
static bool breached(const Worker *w, const WorkerLocal *l, uint64_t usage) {
        uint64_t tol = w->cg->backend == BACKEND_V2 ? l->high / 16 : 0;
        return usage + tol >= l->high;
}

/* v1: a threshold fired with usage just under the line. The crossing was
 * real, but the usage read a moment later can be a little below it: the
 * kernel charges in batches of 64 pages through per-CPU stocks, and a
 * stock drained in between (another memcg charging on that CPU, the
 * worker's own reads included) uncharges what was not used yet - one
 * page below the line was seen at the start of most lost B2 trials with
 * normal-priority workers. The kernel counts that crossing as done and
 * will not tell again for this line until usage drops below it, and the
 * next threshold may be at max: so look again every 500 us for 10 ms (a
 * burst at 1-2 GB/s crosses the gap in 4-8 ms, and usage just under the
 * line means it is nearly there), then every 20 ms for up to 2 s, while
 * usage stays within 1/8 of the line. A threshold registration makes the
 * kernel re-check its lines too, so a settled cgroup near its line costs
 * 20 usage reads per registration, not a grow: only a read at or above
 * the line grows. */
#define V1_RECHECK_FAST_USEC 500
#define V1_RECHECK_FAST_FOR_USEC (10 * 1000)
#define V1_RECHECK_USEC (20 * 1000)
#define V1_RECHECK_FOR_USEC (2 * 1000 * 1000)
static bool v1_near_line(const WorkerLocal *l, uint64_t usage) {
        return usage + l->high / 8 >= l->high;
}

static void set_waiting(Worker *w, WorkerLocal *l, bool waiting) {
        l->waiting = waiting;
        l->decision_deadline = waiting ? usec_add(now_usec(), w->engine->config.oom_decision_timeout_usec) : NEVER;
        pthread_mutex_lock(&w->lock);
        w->oom_waiting = waiting;
        w->oom_decision_deadline = waiting ? l->decision_deadline : 0;
        pthread_mutex_unlock(&w->lock);
}

/* The freeze policy stops the tasks (v2: cgroup.freeze; v1: they already
 * sleep in the kernel, oom_kill_disable being set), announces them and
 * waits for a decision. */
static void enter_waiting(Worker *w, WorkerLocal *l) {
        if (l->waiting)
                return;
        if (w->cg->backend == BACKEND_V2) {
                int r = cgroup_set_frozen(w->cg, true);
                if (r < 0) {
                        log_warning("%s: cannot freeze the cgroup: %s; the kernel's OOM handling applies",
                                    w->cg->path, strerror(-r));
                        return;
                }
                l->froze = true;
        }
        set_waiting(w, l, true);
        l->oom_count[OOM_KIND_FROZEN]++;
        post_oom(w, l, OOM_KIND_FROZEN);
}

static void leave_waiting(Worker *w, WorkerLocal *l) {
        if (l->froze) {
                int r = cgroup_set_frozen(w->cg, false);
                if (r < 0 && !cgroup_is_removed(w->cg))
                        log_error("%s: cannot thaw the cgroup: %s", w->cg->path, strerror(-r));
                else
                        l->froze = false;
        }
        if (l->waiting) {
                set_waiting(w, l, false);
                l->oom_count[OOM_KIND_RESOLVED]++;
                post_oom(w, l, OOM_KIND_RESOLVED);
        }
}

/* The policy at the hard limit: v1 under_oom began (tasks asleep, as
 * oom_kill_disable is set), or v2's "max" counter moved. */
static void on_limit_hit(Worker *w, WorkerLocal *l) {
        switch (l->policy) {
        case OOM_POLICY_GROW:
                if (grow(w, l, GROW_EMERGENCY) == 0 && l->retries == 0)
                        /* Denied, retries spent: the kernel's default. */
                        v1_let_kernel_kill(w, l);
                break;
        case OOM_POLICY_KILL:
                /* v1, held at the limit (HoldAtLimit=): the tasks outran
                 * the reaction to the high line. The step they would
                 * have had, from the budget; once growth is denied and
                 * the retries are spent, the kernel kills. */
                if (l->okd_set && !l->kill_fallback && grow(w, l, GROW_AT_LIMIT) == 0 && l->retries == 0)
                        v1_let_kernel_kill(w, l);
                break;
        case OOM_POLICY_FREEZE:
                enter_waiting(w, l);
                break;
        default:
                break;
        }
}

/* Returns < 0 when the kernel's files could not be read. */
/* Grows while usage is at the line, up to MAX_GROWS_PER_WAKE steps;
 * *usage is the last value read. */
static int grow_while_breached(Worker *w, WorkerLocal *l, uint64_t *usage) {
        int r;

        for (int i = 0; i < MAX_GROWS_PER_WAKE; i++) {
                if (i > 0 && (r = cgroup_read_usage(w->cg, usage)) < 0)
                        return r;
                log_debug("%s: usage %llu high %llu max %llu%s", w->cg->path, (unsigned long long) *usage,
                          (unsigned long long) l->high, (unsigned long long) l->max,
                          breached(w, l, *usage) ? ": breach" : "");
                if (!breached(w, l, *usage)) {
                        l->below_since_ask = true;
                        break;
                }
                if (i == 0) {
                        pthread_mutex_lock(&w->lock);
                        w->high_breaches++;
                        pthread_mutex_unlock(&w->lock);
                }
                if (grow(w, l, GROW_AT_LINE) == 0)
                        break; /* nothing granted: growing again cannot help */
        }
        return 0;
}

/* The reaction to a breach of the high line: grow while usage is at the
 * line (unless the v1 fast path did), and what the policy does when
 * growth was denied. */
static int react_to_breach(Worker *w, WorkerLocal *l, bool threshold_fired, bool grown, uint64_t high_events,
                           uint64_t usage) {
        int r;

        if (!grown) {
                /* Counted as seen only once usage could be read: a failed
                 * read leaves the breach pending for the next wake-up. */
                r = cgroup_read_usage(w->cg, &usage);
                if (r < 0)
                        return r;
                l->last_high_events = high_events;
                r = grow_while_breached(w, l, &usage);
                if (r < 0)
                        return r;
        }

        /* v2 freeze policy: growth was denied and usage is past the middle
         * of the gap between high and max: stop the tasks before the
         * kernel's OOM killer would act. */
        if (w->cg->backend == BACKEND_V2 && l->policy == OOM_POLICY_FREEZE && l->last_grow_denied &&
            l->retries == 0 && !l->waiting && usage + (l->max - l->high) / 2 >= l->max)
                enter_waiting(w, l);

        if (w->cg->backend == BACKEND_V1 && threshold_fired && !breached(w, l, usage) && v1_near_line(l, usage) &&
            l->retry_deadline == NEVER) {
                uint64_t now = now_usec();
                l->near_until = now + V1_RECHECK_FOR_USEC;
                l->near_fast_until = now + V1_RECHECK_FAST_FOR_USEC;
                l->retry_at_limit = false;
                l->retry_deadline = now + V1_RECHECK_FAST_USEC;
        }
        return 0;
}

static int handle_kernel_events(Worker *w, WorkerLocal *l, bool threshold_fired) {
        MemoryEvents ev;
        uint64_t usage = 0;
        bool candidate = threshold_fired, limit_hit = false, grown = false;
        uint64_t max_before = l->max;
        int r;

        /* v1 fast path: a threshold crossed and the limit is what counts:
         * raise it before reading oom_control and failcnt (8 syscalls). */
        if (w->cg->backend == BACKEND_V1 && threshold_fired && !l->waiting) {
                r = cgroup_read_usage(w->cg, &usage);
                if (r < 0)
                        return r;
                r = grow_while_breached(w, l, &usage);
                if (r < 0)
                        return r;
                grown = true;
        }

        r = read_events(w, &ev);
        if (r < 0)
                return r;
        /* The raise just written woke the tasks waiting at the old limit
         * (the kernel's memcg_oom_recover); an under_oom read now is
         * theirs from before it. An OOM at the new limit signals the
         * eventfd again. */
        if (w->cg->backend == BACKEND_V1 && l->max > max_before && ev.oom && !l->last_events.oom)
                ev.oom = 0;

        /* An OOM kill first, named against the tasks seen before it. */
        if (ev.oom_kill != l->last_events.oom_kill)
                note_oom(w, l, OOM_KIND_OOM_KILL, ev.oom_kill);
        if (ev.max != l->last_events.max)
                note_oom(w, l, OOM_KIND_MAX, ev.max);
        if (ev.oom != l->last_events.oom) {
                if (w->cg->backend == BACKEND_V2)
                        note_oom(w, l, OOM_KIND_OOM, ev.oom);
                else if (ev.oom && l->waiting) {
                        /* Tasks stopped for a decision retry their charge
                         * whenever the cgroup uncharges a page, and
                         * under_oom flickers: the same stop, not a new
                         * OOM. */
                } else if (ev.oom) {
                        /* v1's under_oom is 0/1: count the times it began. */
                        note_oom(w, l, OOM_KIND_OOM, l->oom_count[OOM_KIND_OOM] + 1);
                        limit_hit = true;
                } else if (l->kill_fallback && l->policy != OOM_POLICY_KILL) {
                        /* The grow policy holds again for the next OOM.
                         * The kill policy only once a step is granted
                         * again (grow()): while the budget denies, held
                         * tasks would only wait to be killed, and the
                         * kernel would fail their system calls' charges
                         * with ENOMEM meanwhile instead of killing. */
                        v1_hold_again(w, l);
                }
        }
        if (ev.oom_group_kill != l->last_events.oom_group_kill)
                note_oom(w, l, OOM_KIND_OOM_GROUP_KILL, ev.oom_group_kill);
        if (w->cg->backend == BACKEND_V2 && ev.max != l->last_events.max)
                limit_hit = true;
        l->last_events = ev;

        if (limit_hit)
                on_limit_hit(w, l);

        if (w->cg->backend == BACKEND_V2 && ev.high != l->last_high_events)
                candidate = true;
        /* Whoever is in the cgroup when it presses on its lines is who an
         * OOM kill would take: keep that list fresh, at most every 100 ms
         * (v1 kills within a millisecond of the limit: too late to look
         * then). Read after the reaction: cgroup.procs costs three system
         * calls and a walk over the tasks. */
        bool want_snap = (candidate || limit_hit) && now_usec() >= l->snap_usec + 100 * 1000;
        /* Tasks stopped for a decision get nothing by themselves. */
        r = candidate && !l->waiting ? react_to_breach(w, l, threshold_fired, grown, ev.high, usage) : 0;
        if (want_snap)
                refresh_snapshot(w, l);
        return r;
}

/* Lowers the limits toward the target for `margin_n` quiet checks. */
static void shrink_to(Worker *w, WorkerLocal *l, uint32_t margin_n) {
        uint64_t usage;
        int r;

        /* Tasks stopped for a decision must not lose memory under them. */
        if (l->waiting)
                return;
        r = cgroup_read_usage(w->cg, &usage);
        if (r < 0)
                return;
        uint64_t dec = limits_shrink_decrease(l->t, l->max, usage, margin_n);
        /* Never write max below usage: on v2 that reclaims and then
         * OOM-kills, on v1 it fails with EBUSY. */
        if (dec > 0 && l->max - dec > usage) {
                uint64_t old_max = l->max;
                uint64_t due = l->granted > l->max - dec ? l->granted - (l->max - dec) : 0;
                r = write_limits(w, l, l->max - dec, LIMIT_REASON_SHRINK, true);
                if (r == 0) {
                        uint64_t back = give_back_above(w, l, l->max);
                        if (back != due) {
                                /* The controller took back less: the seed
                                 * corrects the limit by the difference. */
                                log_warning("%s: the pool took back %llu of %llu bytes, correcting", w->cg->path,
                                            (unsigned long long) back, (unsigned long long) due);
                                (void) write_limits(w, l, l->max + (due - back), LIMIT_REASON_SHRINK, true);
                        }
                        post_limit(w, old_max, l->max, l->high, LIMIT_REASON_SHRINK);
                        pthread_mutex_lock(&w->lock);
                        w->limit_decreases++;
                        pthread_mutex_unlock(&w->lock);
                        /* Usage fell well below the line: a shortage this
                         * cgroup was in is over, and the next denied grow
                         * is a new one, announced again. */
                        l->exhausted_announced = false;
                } else if (r != -EBUSY)
                        log_warning("%s: lowering the limit failed: %s", w->cg->path, strerror(-r));
        }
}

static void shrink(Worker *w, WorkerLocal *l) {
        shrink_to(w, l, l->nic);
        if (l->nic < UINT32_MAX)
                l->nic++;
        arm_shrink(l);
}

/* Another cgroup ran out of budget: give back all slack above usage plus
 * the smallest margin now, whatever the backoff says, and keep the
 * backoff where it was. */
static void squeeze(Worker *w, WorkerLocal *l) {
        shrink_to(w, l, UINT32_MAX);
}

static void retry_grow(Worker *w, WorkerLocal *l) {
        MemoryEvents ev;
        uint64_t usage;

        l->retry_deadline = NEVER;
        if (l->retry_at_limit) {
                /* Still at the limit? v1: still under OOM. */
                if (w->cg->backend == BACKEND_V1 && (cgroup_read_events(w->cg, &ev) < 0 || !ev.oom)) {
                        l->retries = 0;
                        return;
                }
                on_limit_hit(w, l);
                return;
        }
        if (cgroup_read_usage(w->cg, &usage) < 0)
                return;
        if (!breached(w, l, usage)) {
                uint64_t now = now_usec();
                l->retries = 0;
                if (w->cg->backend == BACKEND_V1 && now < l->near_until && v1_near_line(l, usage))
                        l->retry_deadline = now + (now < l->near_fast_until ? V1_RECHECK_FAST_USEC : V1_RECHECK_USEC);
                return;
        }
        l->near_until = 0;
        (void) grow(w, l, GROW_AT_LINE);
        if (w->cg->backend == BACKEND_V2 && l->policy == OOM_POLICY_FREEZE && l->last_grow_denied &&
            l->retries == 0 && !l->waiting && usage + (l->max - l->high) / 2 >= l->max)
                enter_waiting(w, l);
}

/* Carries out a decision for a cgroup waiting under the freeze policy. */
static void decide(Worker *w, WorkerLocal *l, OomDecision d, uint64_t bytes, uint64_t cookie) {
        MemcgError err = {};
        EngineTask victim = {};
        int r = 0;

        if (!l->waiting) {
                memcg_error_set(&err, MEMCG_ERROR_FAILED, "Cgroup '%s' is not waiting for an OOM decision",
                                w->cg->path);
                post_done(w, cookie, &err);
                return;
        }
        switch (d) {
        case OOM_DECISION_RAISE:
                bytes = limits_page_round_up(bytes);
                if (bytes == 0 || bytes > LIMITS_MAX_BYTES - l->max) {
                        memcg_error_set(&err, MEMCG_ERROR_LIMIT_OUT_OF_RANGE,
                                        "Raising cgroup '%s' by %llu bytes is out of range", w->cg->path,
                                        (unsigned long long) bytes);
                        break;
                }
                if (budget_take_exact(w->engine->budget, bytes) < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_BUDGET_EXCEEDED,
                                        "Cannot raise cgroup '%s' by %llu bytes: the budget has only %llu bytes free",
                                        w->cg->path, (unsigned long long) bytes,
                                        (unsigned long long) budget_free_bytes(w->engine->budget));
                        break;
                }
                r = apply_limits(w, l, l->max + bytes, LIMIT_REASON_DECISION);
                if (r < 0) {
                        budget_give(w->engine->budget, bytes);
                        memcg_error_set(&err, MEMCG_ERROR_FAILED, "Raising the limit of cgroup '%s' failed: %s",
                                        w->cg->path, strerror(-r));
                        break;
                }
                l->granted += bytes;
                /* A raise is a re-base: the backoff starts over, so the
                 * next shrink does not take it straight back. */
                l->nic = 0;
                arm_shrink(l);
                break;
        case OOM_DECISION_KILL_LARGEST:
                r = cgroup_largest_task(w->cg, &victim);
                if (r < 0 || victim.pid == 0 || kill((pid_t) victim.pid, SIGKILL) < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_FAILED, "Cannot kill the largest task of cgroup '%s': %s",
                                        w->cg->path, r < 0 ? strerror(-r) : victim.pid == 0 ? "it has no tasks" : strerror(errno));
                        break;
                }
                log_info("%s: killed %s[%u], its largest task, as decided", w->cg->path, victim.comm, victim.pid);
                post_killed(w, &victim, 1, KILL_CAUSE_DECISION);
                break;
        case OOM_DECISION_KILL_ALL: {
                EngineTask *all = NULL;
                size_t n = 0;
                (void) cgroup_read_tasks(w->cg, &all, &n, MAX_TASKS);
                r = cgroup_kill_all(w->cg);
                if (r >= 0)
                        post_killed(w, all, n, KILL_CAUSE_DECISION);
                free(all);
                if (r < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_FAILED, "Cannot kill the tasks of cgroup '%s': %s",
                                        w->cg->path, strerror(-r));
                        break;
                }
                break;
        }
        default:
                memcg_error_set(&err, MEMCG_ERROR_FAILED, "Unknown decision");
        }
        if (err.code == MEMCG_OK)
                leave_waiting(w, l);
        post_done(w, cookie, err.code ? &err : NULL);
}

/* No decision in time: the kernel's default, kill — done here as the
 * kernel's OOM killer would, on the largest task, so that nothing can
 * race it (a thawed task could otherwise get through on a growth). */
static void decision_timeout(Worker *w, WorkerLocal *l) {
        EngineTask victim = {};

        if (cgroup_largest_task(w->cg, &victim) == 0 && victim.pid != 0 && kill((pid_t) victim.pid, SIGKILL) == 0) {
                log_notice("%s: no OOM decision within the timeout: killed %s[%u], its largest task", w->cg->path,
                           victim.comm, victim.pid);
                post_killed(w, &victim, 1, KILL_CAUSE_TIMEOUT);
        } else
                log_notice("%s: no OOM decision within the timeout, and no task to kill", w->cg->path);
        leave_waiting(w, l);
}

/* v1: whether tasks at the hard limit sleep (oom_kill_disable) until
 * memcgd decides. Grow and freeze need it; the kill policy too, unless
 * HoldAtLimit=no: a burst that outruns the reaction to the high line
 * then waits for the step it would have had instead of being killed,
 * and the kernel kills only once growth is denied. */
static bool policy_holds(const Worker *w, OomPolicy p) {
        return p != OOM_POLICY_KILL || w->engine->config.v1_hold_at_limit;
}

/* Writes what the policy needs (v1: oom_kill_disable where
 * policy_holds(), so allocating tasks sleep at the limit instead of
 * dying). */
static void apply_policy(Worker *w, WorkerLocal *l, OomPolicy p) {
        if (l->waiting && p != OOM_POLICY_FREEZE)
                leave_waiting(w, l);
        l->policy = p;
        if (w->cg->backend != BACKEND_V1)
                return;
        bool want = policy_holds(w, p);
        /* The kill policy starts without the hold when the budget has no
         * room for a step: a hold could only end in the kill, and until
         * then the held tasks' charges in system calls fail (ENOMEM). It
         * comes back with a grow that leaves room (grow()). */
        bool no_room = want && p == OOM_POLICY_KILL && !room_for_step(w, l);
        if (want == l->okd_set && l->kill_fallback == no_room)
                return;
        int r = cgroup_v1_set_oom_kill_disable(w->cg, want ? !no_room : l->original_okd);
        if (r < 0)
                log_warning("%s: cannot set memory.oom_control: %s", w->cg->path, strerror(-r));
        else {
                l->okd_set = want;
                l->kill_fallback = no_room;
                if (no_room)
                        log_debug("%s: no hold at the limit: the budget has no room for a step", w->cg->path);
        }
}

static void rebase(Worker *w, WorkerLocal *l, uint64_t limit, uint64_t cookie) {
        MemcgError err = {};
        uint64_t usage;
        int r;

        r = cgroup_read_usage(w->cg, &usage);
        if (r < 0) {
                memcg_error_set(&err, MEMCG_ERROR_FAILED, "Cannot read the usage of cgroup '%s': %s", w->cg->path,
                                strerror(-r));
                goto done;
        }
        if (limit <= usage) {
                memcg_error_set(&err, MEMCG_ERROR_LIMIT_BELOW_USAGE,
                                "Refusing limit %llu for cgroup '%s': it is not above its current usage of %llu bytes",
                                (unsigned long long) limit, w->cg->path, (unsigned long long) usage);
                goto done;
        }
        uint64_t old_max = l->max;
        if (limit > old_max) {
                uint64_t need = limit - old_max;
                if (budget_take_exact(w->engine->budget, need) < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_BUDGET_EXCEEDED,
                                        "Refusing limit %llu for cgroup '%s': the budget has only %llu bytes free beyond its current limit of %llu",
                                        (unsigned long long) limit, w->cg->path,
                                        (unsigned long long) budget_free_bytes(w->engine->budget),
                                        (unsigned long long) old_max);
                        goto done;
                }
                r = apply_limits(w, l, limit, LIMIT_REASON_MANUAL);
                if (r < 0)
                        budget_give(w->engine->budget, need);
                else
                        l->granted += need;
        } else {
                /* Lower first, then hand the bytes back, as a shrink. */
                r = write_limits(w, l, limit, LIMIT_REASON_MANUAL, true);
                if (r >= 0) {
                        (void) give_back_above(w, l, limit);
                        post_limit(w, old_max, l->max, l->high, LIMIT_REASON_MANUAL);
                }
        }
        if (r < 0) {
                if (r == -EBUSY)
                        memcg_error_set(&err, MEMCG_ERROR_LIMIT_BELOW_USAGE,
                                        "Refusing limit %llu for cgroup '%s': the kernel could not reclaim enough memory to go below it (EBUSY)",
                                        (unsigned long long) limit, w->cg->path);
                else
                        memcg_error_set(&err, MEMCG_ERROR_FAILED, "Writing limit %llu for cgroup '%s' failed: %s",
                                        (unsigned long long) limit, w->cg->path, strerror(-r));
                goto done;
        }
        pthread_mutex_lock(&w->lock);
        w->initial_limit = limit;
        pthread_mutex_unlock(&w->lock);
        /* A re-base resets the backoff. */
        l->nic = 0;
        arm_shrink(l);
done:
        post_done(w, cookie, err.code ? &err : NULL);
}

/* Writes the initial limits of a fresh monitor, or adopts the current ones
 * after a restart. Returns 0, or fills err. */
static int start(Worker *w, WorkerLocal *l, MemcgError *err) {
        uint64_t cur_max, cur_high, usage;
        int r;

        /* engine_monitor() took a fresh monitor's start limit from the pool
         * already: it is this worker's to give back, whatever fails below
         * (finish() does). */
        if (!(w->flags & ENGINE_MONITOR_REATTACH))
                l->granted = w->start_limit;

        r = cgroup_read_limits(w->cg, &cur_max, &cur_high);
        if (r >= 0)
                r = cgroup_read_usage(w->cg, &usage);
        if (r < 0) {
                memcg_error_set(err, cgroup_is_removed(w->cg) ? MEMCG_ERROR_NO_SUCH_CGROUP : MEMCG_ERROR_FAILED,
                                "Cannot read the limits of cgroup '%s': %s", w->cg->path, strerror(-r));
                return r;
        }
        l->max = cur_max;
        l->high = cur_high;

        if (w->cg->backend == BACKEND_V1) {
                bool okd = false;
                if (cgroup_v1_get_oom_kill_disable(w->cg, &okd) == 0)
                        l->original_okd = okd;
                /* After a crash (or for a state-file entry monitored again),
                 * a policy that holds tasks at the limit may have left its
                 * own 1 in the file: the state file's record of the
                 * cgroup's own setting is what Unmonitor gives back then
                 * (a 1 recorded there stands whatever the file shows). */
                if (w->flags & (ENGINE_MONITOR_REATTACH | ENGINE_MONITOR_ORIGINALS))
                        l->original_okd = w->restore_okd || (l->original_okd && !policy_holds(w, w->oom_policy));
                pthread_mutex_lock(&w->lock);
                w->original_okd = l->original_okd;
                pthread_mutex_unlock(&w->lock);
        }

        if ((w->flags & ENGINE_MONITOR_REATTACH) && cur_max >= LIMITS_MAX_BYTES) {
                /* Someone lifted the limit while memcgd was away: start over
                 * from usage rather than take the whole pool. */
                uint64_t min = l->t->high_gap + LIMITS_PAGE_SIZE;
                uint64_t start_limit = limits_initial_from_usage(l->t, usage);
                if (start_limit < min)
                        start_limit = limits_page_round_up(min);
                log_warning("%s: re-attached without a limit; starting again at %llu bytes", w->cg->path,
                            (unsigned long long) start_limit);
                l->granted = take_pages(w->engine->budget, start_limit);
                if (l->granted == 0 || apply_limits(w, l, start_limit, LIMIT_REASON_INITIAL) < 0) {
                        budget_give(w->engine->budget, l->granted);
                        l->granted = 0;
                        memcg_error_set(err, MEMCG_ERROR_BUDGET_EXCEEDED,
                                        "Cannot re-attach cgroup '%s': no limit could be set within the budget",
                                        w->cg->path);
                        return -ENOSPC;
                }
                return 0;
        }

        if (w->flags & ENGINE_MONITOR_REATTACH) {
                /* Keep what the previous run left, and take it from the pool
                 * again. */
                l->granted = take_pages(w->engine->budget, cur_max);
                if (l->granted < cur_max)
                        log_warning("%s: re-attached with limit %llu but the budget only covers %llu of it",
                                    w->cg->path, (unsigned long long) cur_max, (unsigned long long) l->granted);
                l->high = limits_high_from_max(l->t, cur_max);
                return 0;
        }

        if (w->start_limit <= usage) {
                memcg_error_set(err, MEMCG_ERROR_LIMIT_BELOW_USAGE,
                                "Refusing limit %llu for cgroup '%s': it is not above its current usage of %llu bytes",
                                (unsigned long long) w->start_limit, w->cg->path, (unsigned long long) usage);
                return -ERANGE;
        }
        l->wrote_initial = true;
        r = apply_limits(w, l, w->start_limit, LIMIT_REASON_INITIAL);
        if (r < 0) {
                memcg_error_set(err, MEMCG_ERROR_FAILED, "Writing the initial limit %llu of cgroup '%s' failed: %s",
                                (unsigned long long) w->start_limit, w->cg->path, strerror(-r));
                return r;
        }
        return 0;
}

/* Before the failed start is reported: whoever reads the report (the
 * manager decides from it whether to keep a re-attach for the next
 * start) must not find the cgroup still monitored. */
static void start_failed(Worker *w) {
        pthread_mutex_lock(&w->lock);
        w->start_failed = true;
        pthread_mutex_unlock(&w->lock);
}

/* Unmonitor, or a Monitor that failed after writing its limit: the
 * limits from before go back, unless usage is above them now. */
static void restore_original(Worker *w, WorkerLocal *l, bool quiet_if_same) {
        uint64_t omax, ohigh, usage = 0;

        pthread_mutex_lock(&w->lock);
        omax = w->original_max;
        ohigh = w->original_high;
        pthread_mutex_unlock(&w->lock);
        (void) cgroup_read_usage(w->cg, &usage);
        if (omax <= usage) {
                log_warning("%s: not restoring the original limit %llu: usage %llu is above it; the current limit stays",
                            w->cg->path, (unsigned long long) omax, (unsigned long long) usage);
                return;
        }
        uint64_t old = l->max;
        bool max_written;
        int r = cgroup_write_limits(w->cg, l->max, omax, ohigh, &max_written);
        if (r < 0)
                log_warning("%s: restoring the original limits failed: %s", w->cg->path, strerror(-r));
        if (!max_written)
                return;
        l->max = omax;
        l->high = ohigh;
        if (old != omax || !quiet_if_same)
                post_limit(w, old, omax, ohigh, LIMIT_REASON_RESTORE);
        r = cgroup_v1_restore_memsw(w->cg);
        if (r < 0)
                log_warning("%s: restoring memory.memsw.limit_in_bytes failed: %s", w->cg->path, strerror(-r));
}

static void finish(Worker *w, WorkerLocal *l, StopReason reason, uint64_t cookie) {
        /* Never leave tasks stopped behind: thaw, and give v1's OOM killer
         * back its say. */
        if (reason != STOP_REASON_REMOVED) {
                leave_waiting(w, l);
                if (w->cg->backend == BACKEND_V1 && (l->okd_set || l->kill_fallback) &&
                    cgroup_v1_set_oom_kill_disable(w->cg, l->original_okd) == 0)
                        l->okd_set = l->kill_fallback = false;
        }
        free(l->snap);
        l->snap = NULL;
        if (reason == STOP_REASON_UNMONITORED)
                restore_original(w, l, false);
        budget_give(w->engine->budget, l->granted);
        l->granted = 0;
        publish(w, l);
        if (cookie)
                post_done(w, cookie, NULL);

        /* A limit change or OOM decision that arrived while the worker
         * was stopping is answered, not dropped: the engine accepts no
         * new one once exited is set. */
        uint64_t pending[2] = {}, stop_cookie = 0;
        pthread_mutex_lock(&w->lock);
        w->exited = true;
        if (w->rebase_requested)
                pending[0] = w->rebase_cookie;
        if (w->decision_requested)
                pending[1] = w->decision_cookie;
        /* An Unmonitor the loop never took (the start failed, or the
         * cgroup was found gone, meanwhile): nobody else answers it. The
         * cgroup is not monitored any more, as it asked. */
        if (w->stop_requested && w->stop_cookie != cookie)
                stop_cookie = w->stop_cookie;
        w->rebase_requested = w->decision_requested = false;
        pthread_mutex_unlock(&w->lock);
        if (stop_cookie)
                post_done(w, stop_cookie, NULL);
        for (size_t i = 0; i < 2; i++)
                if (pending[i]) {
                        MemcgError err;
                        memcg_error_set(&err, MEMCG_ERROR_NOT_MONITORED,
                                        "Cgroup '%s' stopped being monitored before the request was carried out",
                                        w->cg->path);
                        post_done(w, pending[i], &err);
                }

        EngineEvent ev = { .type = ENGINE_EVENT_STOPPED, .stop_reason = reason, .instance = w->seq };
        engine_post(w->engine, w->cg->path, &ev);
}

static void set_realtime(Worker *w) {
        int prio = w->engine->config.realtime_priority;
        struct sched_param sp = { .sched_priority = prio };
        int r;

        if (prio <= 0 || w->cg->backend != BACKEND_V1)
                return;
        r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (r != 0 && !__atomic_exchange_n(&w->engine->rt_warned, true, __ATOMIC_RELAXED))
                log_warning("Cannot run workers at SCHED_FIFO priority %d: %s, ignoring", prio, strerror(r));
}

void *worker_main(void *userdata) {
        Worker *w = userdata;
        WorkerLocal l = {
                .t = &w->engine->config.tunables,
                .ladder_fd = -1,
                .deaf_poll = NEVER,
                .decision_deadline = NEVER,
                .retry_deadline = NEVER,
                .pw = PRESSURE_WATCH_INIT,
                .psi_next = NEVER,
                .reclaim_recheck = NEVER,
        };
        StopReason reason = STOP_REASON_ERROR;
        uint64_t stop_cookie = 0;
        MemcgError err = {};
        MemoryEvents ev;
        int r;

        set_realtime(w);

        r = start(w, &l, &err);
        if (r < 0) {
                /* A limit write that failed half-way (max written, high
                 * not; a short write) leaves nothing behind either. */
                if (l.wrote_initial)
                        restore_original(w, &l, true);
                /* The grant goes back before the caller hears: GrantedBytes
                 * read after the error must not count it. */
                budget_give(w->engine->budget, l.granted);
                l.granted = 0;
                publish(w, &l);
                start_failed(w);
                post_done(w, w->start_cookie, &err);
                finish(w, &l, STOP_REASON_ERROR, 0);
                return NULL;
        }

        /* Breaches from before the start do not count. */
        bool under_oom = false;
        if (read_events(w, &ev) >= 0) {
                l.last_events = ev;
                l.last_high_events = ev.high;
                /* v1: an OOM already under way (a restart found tasks
                 * asleep) is handled as a new one below. */
                under_oom = w->cg->backend == BACKEND_V1 && ev.oom;
                /* v1's oom is under_oom, 0 or 1; v2's is a counter, and a
                 * count from before Monitor (or from the run before a
                 * restart) is not a new OOM. */
                if (w->cg->backend == BACKEND_V1)
                        l.last_events.oom = 0;
        }
        pthread_mutex_lock(&w->lock);
        OomPolicy policy = w->oom_policy;
        w->policy_changed = false;
        pthread_mutex_unlock(&w->lock);
        if (w->cg->backend == BACKEND_V2 && policy == OOM_POLICY_FREEZE && (w->flags & ENGINE_MONITOR_REATTACH) &&
            cgroup_set_frozen(w->cg, false) == 0)
                /* A previous run may have died with the cgroup frozen. */
                log_info("%s: thawed on re-attach", w->cg->path);
        apply_policy(w, &l, policy);
        refresh_snapshot(w, &l);
        if (w->cg->backend == BACKEND_V1) {
                r = v1_arm_initial(w, &l);
                if (r < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_FAILED,
                                        "Cannot register usage notifications for cgroup '%s' (cgroup.event_control): %s",
                                        w->cg->path, strerror(-r));
                        log_warning("%s", err.message);
                        /* No limit nobody watches: a fresh Monitor's
                         * initial limit goes before the caller hears of
                         * the failure (a re-attach keeps what the run
                         * before left, for the next start to retry). */
                        if (l.wrote_initial)
                                restore_original(w, &l, true);
                        budget_give(w->engine->budget, l.granted);
                        l.granted = 0;
                        publish(w, &l);
                        start_failed(w);
                        post_done(w, w->start_cookie, &err);
                        finish(w, &l, STOP_REASON_ERROR, 0);
                        return NULL;
                }
        }
        pressure_tracker_init(&l.pt, w->engine->config.pressure_quiet_usec);
        if (!w->engine->config.pressure_disabled && !w->cg->fake) {
                r = pressure_watch_open_cgroup(&w->engine->root, w->cg, now_usec(), &l.pw);
                if (r < 0)
                        log_debug("%s: no pressure notifications: %s", w->cg->path, strerror(-r));
                else
                        log_debug("%s: pressure from %s (PSI window %llu ms)", w->cg->path,
                                  pressure_source_to_string(l.pw.source), (unsigned long long) l.pw.window_usec / 1000);
                publish_pressure(w, &l);
        }
        arm_shrink(&l);
        publish(w, &l);
        post_done(w, w->start_cookie, NULL);
        if (under_oom)
                (void) handle_kernel_events(w, &l, false);

        for (;;) {
                struct pollfd p[3] = { { .fd = w->ctl_fd, .events = POLLIN } };
                nfds_t n = 1, pn = 0;
                uint64_t now = now_usec();
                struct timespec ts = {};
                bool removed = false;

                if (!w->cg->fake && w->cg->events_fd >= 0)
                        p[n++] = (struct pollfd) { .fd = w->cg->events_fd, .events = POLLPRI };
                else if (l.ladder_fd >= 0)
                        p[n++] = (struct pollfd) { .fd = l.ladder_fd, .events = POLLIN };
                if (pressure_watch_poll_events(&l.pw, now) != 0) {
                        pn = n;
                        p[n++] = (struct pollfd) { .fd = l.pw.fd, .events = pressure_watch_poll_events(&l.pw, now) };
                }

                uint64_t next = l.deadline;
                if (pressure_deadline(&l) < next)
                        next = pressure_deadline(&l);
                if (l.reclaim_recheck < next)
                        next = l.reclaim_recheck;
                if (l.decision_deadline < next)
                        next = l.decision_deadline;
                if (l.retry_deadline < next)
                        next = l.retry_deadline;
                if (l.deaf_poll < next)
                        next = l.deaf_poll;
                if (next_pending_oom(w, &l) < next)
                        next = next_pending_oom(w, &l);
                if (next > now) {
                        uint64_t d = next - now;
                        ts.tv_sec = (time_t) (d / 1000000);
                        ts.tv_nsec = (long) (d % 1000000) * 1000;
                }
                r = ppoll(p, n, &ts, NULL);
                bool timer_only = r == 0;
                if (r < 0 && errno != EINTR) {
                        log_error("%s: waiting for events failed: %s", w->cg->path, strerror(errno));
                        reason = STOP_REASON_ERROR;
                        break;
                }

                bool kicked = false, fired = false;
                if (r > 0 && (p[0].revents & POLLIN)) {
                        uint64_t v;
                        (void) !read(w->ctl_fd, &v, sizeof(v));
                        kicked = true;
                }
                bool pressure_woke = r > 0 && pn > 0 && p[pn].revents;
                if (pressure_woke && (p[pn].revents & (POLLERR | POLLNVAL | POLLHUP))) {
                        /* The unified twin went away (the memcg itself may
                         * live on): stop watching rather than spin. */
                        log_info("%s: the pressure source went away; no more pressure notifications", w->cg->path);
                        pressure_watch_close(&l.pw);
                        pressure_woke = false;
                        PressureLevel old = l.pt.level;
                        pressure_tracker_init(&l.pt, w->engine->config.pressure_quiet_usec);
                        if (old != PRESSURE_NONE)
                                pressure_changed(w, &l, old);
                        publish_pressure(w, &l);
                }
                if (r > 0 && n > 1 && pn != 1 && p[1].revents) {
                        if (l.ladder_fd >= 0) {
                                uint64_t v;
                                (void) !read(l.ladder_fd, &v, sizeof(v));
                        }
                        fired = true;
                }

                if (kicked) {
                        bool stop, rb, pc, dr, sq;
                        uint64_t limit = 0, cookie = 0, dbytes = 0, dcookie = 0;
                        OomPolicy np;
                        OomDecision dd;
                        pthread_mutex_lock(&w->lock);
                        stop = w->stop_requested;
                        reason = w->stop_reason;
                        stop_cookie = w->stop_cookie;
                        if (stop) {
                                /* Requests still pending are answered
                                 * by finish(). */
                                pthread_mutex_unlock(&w->lock);
                                break;
                        }
                        rb = w->rebase_requested;
                        if (rb) {
                                limit = w->rebase_limit;
                                cookie = w->rebase_cookie;
                                w->rebase_requested = false;
                        }
                        pc = w->policy_changed;
                        np = w->oom_policy;
                        w->policy_changed = false;
                        dr = w->decision_requested;
                        dd = w->decision;
                        dbytes = w->decision_bytes;
                        dcookie = w->decision_cookie;
                        w->decision_requested = false;
                        sq = w->squeeze_requested;
                        w->squeeze_requested = false;
                        pthread_mutex_unlock(&w->lock);
                        /* Crossings while the registrar worked may only
                         * have reached the old eventfd: look again. */
                        if (w->cg->backend == BACKEND_V1 && v1_take_pending(w, &l))
                                fired = true;
                        if (pc)
                                apply_policy(w, &l, np);
                        if (dr)
                                decide(w, &l, dd, dbytes, dcookie);
                        if (sq)
                                squeeze(w, &l);
                        if (rb) {
                                rebase(w, &l, limit, cookie);
                                fired = true; /* re-check usage against the new line */
                        }
                }

                /* v1 with no threshold at the high line yet: a look at
                 * usage, and a threshold's handling only if it is past
                 * the line. */
                if (l.deaf_poll != NEVER && now_usec() >= l.deaf_poll && !fired && !l.waiting) {
                        uint64_t usage;
                        if (cgroup_read_usage(w->cg, &usage) == 0 && breached(w, &l, usage))
                                fired = true;
                }

                /* A fake tree kicks the control eventfd on every change. */
                if (fired || kicked) {
                        r = handle_kernel_events(w, &l, fired && w->cg->backend == BACKEND_V1);
                        /* Only the directory says whether the cgroup is
                         * gone: a parse error's -ENOENT (a missing key) is
                         * not a removal. */
                        if (r < 0 && cgroup_is_removed(w->cg))
                                removed = true;
                        else if (r < 0 && w->cg->fake)
                                /* A fake tree's file read half-written: the
                                 * write's own IN_MODIFY follows. */
                                log_debug("%s: a file is being rewritten: %s", w->cg->path, strerror(-r));
                        else if (r < 0)
                                log_warning("%s: reading events failed: %s", w->cg->path, strerror(-r));
                }
                if (!removed && !(timer_only && removal_signalled(w, &l)) && cgroup_is_removed(w->cg))
                        removed = true;
                if (removed) {
                        reason = STOP_REASON_REMOVED;
                        stop_cookie = 0;
                        break;
                }

                now = now_usec();
                if (now >= l.retry_deadline)
                        retry_grow(w, &l);
                if (now >= l.decision_deadline)
                        decision_timeout(w, &l);
                flush_pending_oom(w, &l);
                if (pressure_woke || now >= pressure_deadline(&l))
                        pressure_step(w, &l, pressure_woke, now);
                if (now >= l.reclaim_recheck)
                        reclaim_recheck(w, &l);
                if (now >= l.deadline)
                        shrink(w, &l);
                if (w->cg->backend == BACKEND_V1) {
                        v1_keep_ahead(w, &l);
                        l.deaf_poll = v1_deaf_poll_at(&l, now_usec());
                }
                publish(w, &l);
        }

        if (l.ladder_fd >= 0)
                close(l.ladder_fd);
        pressure_watch_close(&l.pw);
        finish(w, &l, reason, stop_cookie);
        return NULL;
}
