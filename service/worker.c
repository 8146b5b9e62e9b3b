/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "engine-internal.h"
#include "log.h"

/* How many thresholds ahead of the current high a v1 worker keeps
 * registered. Registering sleeps in the kernel (synchronize_rcu, up to
 * ~9 ms measured) and usage runs unthrottled from high to max on v1, so
 * the next steps must already be armed when a burst comes. */
#define V1_LADDER 4

/* The most grow steps one wake-up may take: enough to catch up with a
 * fast burst, bounded so that a cgroup that keeps breaching cannot keep
 * its worker from the control eventfd. */
#define MAX_GROWS_PER_WAKE 64

typedef struct WorkerLocal {
        const Tunables *t;
        uint64_t max, high;          /* as written to the kernel */
        uint64_t granted;
        uint32_t nic;
        uint64_t deadline;           /* CLOCK_MONOTONIC usec */
        uint64_t last_high_events;   /* v2: memory.events "high" seen */
        MemoryEvents last_events;
        /* v1 */
        int ladder_fd;
        uint64_t ladder[V1_LADDER];
        unsigned ladder_len;
} WorkerLocal;

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
        l->deadline = now_usec() + limits_shrink_timeout_usec(l->t, l->nic);
}

/* Grants are whole pages: the pool may hand out an odd remainder. */
static uint64_t take_pages(Budget *b, uint64_t want) {
        uint64_t g = budget_take(b, want);
        uint64_t aligned = limits_page_round_down(g);
        if (aligned != g)
                budget_give(b, g - aligned);
        return aligned;
}

static int apply_limits(Worker *w, WorkerLocal *l, uint64_t new_max, LimitReason reason) {
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
        post_limit(w, old_max, l->max, l->high, reason);
        return 0;
}

/* Keeps v1 usage thresholds registered at the current high and the next
 * steps. The new eventfd is fully registered before the old one is
 * closed (closing is what ends a registration), so there is never a
 * moment without a threshold armed. */
static int v1_rearm(Worker *w, WorkerLocal *l) {
        uint64_t ladder[V1_LADDER];
        unsigned n = 0;
        uint64_t m = l->max;
        int efd, r;

        for (unsigned i = 0; i < l->ladder_len; i++)
                if (l->ladder[i] == l->high && i + 2 < l->ladder_len)
                        return 0; /* still two steps ahead */

        for (; n < V1_LADDER; n++) {
                ladder[n] = limits_high_from_max(l->t, m);
                uint64_t d = limits_grow_delta(l->t, m);
                if (d == 0)
                        break;
                m += d;
        }
        if (n == 0)
                n = 1;

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;
        r = cgroup_v1_register_oom(w->cg, efd);
        for (unsigned i = 0; r >= 0 && i < n; i++)
                r = cgroup_v1_register_threshold(w->cg, efd, ladder[i]);
        if (r < 0) {
                close(efd);
                return r;
        }
        if (l->ladder_fd >= 0)
                close(l->ladder_fd);
        l->ladder_fd = efd;
        memcpy(l->ladder, ladder, sizeof(ladder));
        l->ladder_len = n;
        return 1;
}

static int read_events(Worker *w, MemoryEvents *ret) {
        if (w->events_fd >= 0) {
                /* Reading through the polled fd is what re-arms POLLPRI. */
                char buf[1024];
                ssize_t n = pread(w->events_fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        return -errno;
                return parse_memory_events(buf, (size_t) n, ret);
        }
        return cgroup_read_events(w->cg, ret);
}

static void post_oom_changes(Worker *w, WorkerLocal *l, const MemoryEvents *ev) {
        const struct {
                OomKind kind;
                uint64_t now, before;
        } k[] = {
                { OOM_KIND_MAX, ev->max, l->last_events.max },
                { OOM_KIND_OOM, ev->oom, l->last_events.oom },
                { OOM_KIND_OOM_KILL, ev->oom_kill, l->last_events.oom_kill },
        };
        for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
                if (k[i].now == k[i].before)
                        continue;
                /* v1 reports under_oom (0/1) as "oom": announce entering it. */
                if (w->cg->backend == BACKEND_V1 && k[i].kind == OOM_KIND_OOM && k[i].now == 0)
                        continue;
                EngineEvent e = { .type = ENGINE_EVENT_OOM, .oom_kind = k[i].kind, .oom_count = k[i].now };
                engine_post(w->engine, w->cg->path, &e);
        }
}

static void grow(Worker *w, WorkerLocal *l) {
        uint64_t delta = limits_grow_delta(l->t, l->max);
        uint64_t granted = delta ? take_pages(w->engine->budget, delta) : 0;

        if (granted < delta) {
                EngineEvent e = { .type = ENGINE_EVENT_BUDGET_EXHAUSTED, .requested = delta, .granted = granted };
                engine_post(w->engine, w->cg->path, &e);
        }
        if (granted > 0) {
                int r = apply_limits(w, l, l->max + granted, LIMIT_REASON_GROW);
                if (r < 0) {
                        budget_give(w->engine->budget, granted);
                        log_warning("%s: raising the limit failed: %s", w->cg->path, strerror(-r));
                } else {
                        l->granted += granted;
                        pthread_mutex_lock(&w->lock);
                        w->limit_increases++;
                        pthread_mutex_unlock(&w->lock);
                }
        }
        /* As the seed: a breach resets the backoff even when nothing was
         * granted. */
        l->nic = 0;
        arm_shrink(l);
}

/* True when usage sits at the high line. v2's "high" counter also climbs
 * on every throttle, and counts from before a raise arrive after it: a
 * change of the counter only counts while usage is within 1/16 of high. */
static bool breached(const Worker *w, const WorkerLocal *l, uint64_t usage) {
        uint64_t tol = w->cg->backend == BACKEND_V2 ? l->high / 16 : 0;
        return usage + tol >= l->high;
}

/* Returns < 0 when the cgroup is gone. */
static int handle_kernel_events(Worker *w, WorkerLocal *l, bool threshold_fired) {
        MemoryEvents ev;
        uint64_t usage;
        bool candidate = threshold_fired;
        int r;

        r = read_events(w, &ev);
        if (r < 0)
                return r;
        post_oom_changes(w, l, &ev);
        l->last_events = ev;
        if (w->cg->backend == BACKEND_V2 && ev.high != l->last_high_events)
                candidate = true;
        if (!candidate)
                return 0;
        /* Counted as seen only once usage could be read: a failed read
         * leaves the breach pending for the next wake-up. */
        r = cgroup_read_usage(w->cg, &usage);
        if (r < 0)
                return r;
        l->last_high_events = ev.high;

        for (int i = 0; i < MAX_GROWS_PER_WAKE; i++) {
                if (i > 0 && (r = cgroup_read_usage(w->cg, &usage)) < 0)
                        return r;
                if (!breached(w, l, usage))
                        break;
                if (i == 0) {
                        pthread_mutex_lock(&w->lock);
                        w->high_breaches++;
                        pthread_mutex_unlock(&w->lock);
                }
                uint64_t before = l->max;
                grow(w, l);
                if (l->max == before)
                        break; /* nothing granted: growing again cannot help */
        }
        return 0;
}

static void shrink(Worker *w, WorkerLocal *l) {
        uint64_t usage;
        int r;

        r = cgroup_read_usage(w->cg, &usage);
        if (r < 0)
                return;
        uint64_t dec = limits_shrink_decrease(l->t, l->max, usage, l->nic);
        /* Never write max below usage: on v2 that reclaims and then
         * OOM-kills, on v1 it fails with EBUSY. */
        if (dec > 0 && l->max - dec > usage) {
                uint64_t old_granted = l->granted;
                r = apply_limits(w, l, l->max - dec, LIMIT_REASON_SHRINK);
                if (r == 0) {
                        uint64_t back = budget_give(w->engine->budget, dec);
                        l->granted = old_granted >= back ? old_granted - back : 0;
                        if (back != dec) {
                                /* The controller took back less: the seed
                                 * corrects the limit by the difference. */
                                log_warning("%s: the pool took back %llu of %llu bytes, correcting", w->cg->path,
                                            (unsigned long long) back, (unsigned long long) dec);
                                (void) apply_limits(w, l, l->max + (dec - back), LIMIT_REASON_SHRINK);
                        }
                        pthread_mutex_lock(&w->lock);
                        w->limit_decreases++;
                        pthread_mutex_unlock(&w->lock);
                } else if (r != -EBUSY)
                        log_warning("%s: lowering the limit failed: %s", w->cg->path, strerror(-r));
        }
        if (l->nic < UINT32_MAX)
                l->nic++;
        arm_shrink(l);
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
                r = apply_limits(w, l, limit, LIMIT_REASON_MANUAL);
                if (r >= 0) {
                        uint64_t back = budget_give(w->engine->budget, old_max - limit);
                        l->granted = l->granted >= back ? l->granted - back : 0;
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
                budget_give(w->engine->budget, w->start_limit);
                memcg_error_set(err, MEMCG_ERROR_LIMIT_BELOW_USAGE,
                                "Refusing limit %llu for cgroup '%s': it is not above its current usage of %llu bytes",
                                (unsigned long long) w->start_limit, w->cg->path, (unsigned long long) usage);
                return -ERANGE;
        }
        /* engine_monitor() took start_limit from the pool already. */
        l->granted = w->start_limit;
        r = apply_limits(w, l, w->start_limit, LIMIT_REASON_INITIAL);
        if (r < 0) {
                budget_give(w->engine->budget, l->granted);
                l->granted = 0;
                memcg_error_set(err, MEMCG_ERROR_FAILED, "Writing the initial limit %llu of cgroup '%s' failed: %s",
                                (unsigned long long) w->start_limit, w->cg->path, strerror(-r));
                return r;
        }
        return 0;
}

static void finish(Worker *w, WorkerLocal *l, StopReason reason, uint64_t cookie) {
        if (reason == STOP_REASON_UNMONITORED) {
                uint64_t omax, ohigh, usage = 0;
                pthread_mutex_lock(&w->lock);
                omax = w->original_max;
                ohigh = w->original_high;
                pthread_mutex_unlock(&w->lock);
                (void) cgroup_read_usage(w->cg, &usage);
                if (omax > usage) {
                        uint64_t old = l->max;
                        bool max_written;
                        int r = cgroup_write_limits(w->cg, l->max, omax, ohigh, &max_written);
                        if (r < 0)
                                log_warning("%s: restoring the original limits failed: %s", w->cg->path,
                                            strerror(-r));
                        if (max_written) {
                                l->max = omax;
                                l->high = ohigh;
                                post_limit(w, old, omax, ohigh, LIMIT_REASON_RESTORE);
                        }
                } else
                        log_warning("%s: not restoring the original limit %llu: usage %llu is above it; the current limit stays",
                                    w->cg->path, (unsigned long long) omax, (unsigned long long) usage);
        }
        budget_give(w->engine->budget, l->granted);
        l->granted = 0;
        publish(w, l);
        if (cookie)
                post_done(w, cookie, NULL);

        pthread_mutex_lock(&w->lock);
        w->exited = true;
        pthread_mutex_unlock(&w->lock);

        EngineEvent ev = { .type = ENGINE_EVENT_STOPPED, .stop_reason = reason };
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
        WorkerLocal l = { .t = &w->engine->config.tunables, .ladder_fd = -1 };
        StopReason reason = STOP_REASON_ERROR;
        uint64_t stop_cookie = 0;
        MemcgError err = {};
        MemoryEvents ev;
        int r;

        set_realtime(w);

        r = start(w, &l, &err);
        if (r < 0) {
                publish(w, &l);
                post_done(w, w->start_cookie, &err);
                finish(w, &l, STOP_REASON_ERROR, 0);
                return NULL;
        }

        /* Breaches from before the start do not count. */
        if (read_events(w, &ev) >= 0) {
                l.last_events = ev;
                l.last_high_events = ev.high;
        }
        if (w->cg->backend == BACKEND_V1) {
                r = v1_rearm(w, &l);
                if (r < 0) {
                        memcg_error_set(&err, MEMCG_ERROR_FAILED,
                                        "Cannot register usage notifications for cgroup '%s' (cgroup.event_control): %s",
                                        w->cg->path, strerror(-r));
                        publish(w, &l);
                        post_done(w, w->start_cookie, &err);
                        finish(w, &l, STOP_REASON_ERROR, 0);
                        return NULL;
                }
        }
        arm_shrink(&l);
        publish(w, &l);
        post_done(w, w->start_cookie, NULL);

        for (;;) {
                struct pollfd p[2] = { { .fd = w->ctl_fd, .events = POLLIN } };
                nfds_t n = 1;
                uint64_t now = now_usec();
                struct timespec ts = {};
                bool removed = false;

                if (w->events_fd >= 0)
                        p[n++] = (struct pollfd) { .fd = w->events_fd, .events = POLLPRI };
                else if (l.ladder_fd >= 0)
                        p[n++] = (struct pollfd) { .fd = l.ladder_fd, .events = POLLIN };

                if (l.deadline > now) {
                        uint64_t d = l.deadline - now;
                        ts.tv_sec = (time_t) (d / 1000000);
                        ts.tv_nsec = (long) (d % 1000000) * 1000;
                }
                r = ppoll(p, n, &ts, NULL);
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
                if (r > 0 && n > 1 && p[1].revents) {
                        if (l.ladder_fd >= 0) {
                                uint64_t v;
                                (void) !read(l.ladder_fd, &v, sizeof(v));
                        }
                        fired = true;
                }

                if (kicked) {
                        bool stop, rb;
                        uint64_t limit = 0, cookie = 0;
                        pthread_mutex_lock(&w->lock);
                        stop = w->stop_requested;
                        reason = w->stop_reason;
                        stop_cookie = w->stop_cookie;
                        rb = w->rebase_requested;
                        if (rb) {
                                limit = w->rebase_limit;
                                cookie = w->rebase_cookie;
                                w->rebase_requested = false;
                        }
                        pthread_mutex_unlock(&w->lock);
                        if (stop)
                                break;
                        if (rb) {
                                rebase(w, &l, limit, cookie);
                                fired = true; /* re-check usage against the new line */
                        }
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
                if (!removed && cgroup_is_removed(w->cg))
                        removed = true;
                if (removed) {
                        reason = STOP_REASON_REMOVED;
                        stop_cookie = 0;
                        break;
                }

                if (now_usec() >= l.deadline)
                        shrink(w, &l);
                if (w->cg->backend == BACKEND_V1) {
                        r = v1_rearm(w, &l);
                        if (r < 0 && !cgroup_is_removed(w->cg))
                                log_warning("%s: re-registering usage thresholds failed: %s, keeping the previous ones",
                                            w->cg->path, strerror(-r));
                        if (r > 0)
                                /* Crossings during the registration may only
                                 * have reached the old eventfd. */
                                (void) handle_kernel_events(w, &l, true);
                }
                publish(w, &l);
        }

        if (l.ladder_fd >= 0)
                close(l.ladder_fd);
        finish(w, &l, reason, stop_cookie);
        return NULL;
}
