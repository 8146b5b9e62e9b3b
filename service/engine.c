/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib.h>

#include "cgroup-path.h"
#include "engine-internal.h"
#include "log.h"

#define DEFAULT_STACK_SIZE (128 * 1024)

void engine_config_init_default(EngineConfig *c) {
        *c = (EngineConfig) {
                .oom_decision_timeout_usec = UINT64_C(30000000),
                .oom_event_interval_usec = UINT64_C(100000),
                .v1_hold_at_limit = true,
        };
        tunables_init_default(&c->tunables);
}

void engine_event_done(EngineEvent *e) {
        if (!e)
                return;
        free(e->path);
        e->path = NULL;
        free(e->tasks);
        e->tasks = NULL;
        e->n_tasks = 0;
}

uint64_t engine_timer_deadline(uint64_t now, uint64_t timeout) {
        uint64_t deadline = now + timeout, grid = timeout / 64;

        if (grid < 1000 || deadline < now)
                return deadline < now ? UINT64_MAX : deadline;
        grid = UINT64_C(1) << (63 - __builtin_clzll(grid));
        if (deadline > UINT64_MAX - grid)
                return UINT64_MAX;
        return (deadline + grid - 1) & ~(grid - 1);
}

static GHashTable *workers_of(Engine *e) {
        return e->workers;
}

/* The fd soft limit to the hard limit: thousands of workers hold a few fds
 * each. Returns the soft limit in force. */
static rlim_t raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1024;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t old = rl.rlim_cur;
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                        log_warning("Cannot raise the fd soft limit to %llu: %s, ignoring",
                                    (unsigned long long) rl.rlim_max, strerror(errno));
                        rl.rlim_cur = old;
                }
        }
        return rl.rlim_cur;
}

int engine_new(const EngineConfig *config, Engine **ret, MemcgError *ret_error) {
        Engine *e;
        int r;

        if (tunables_validate(&config->tunables) < 0) {
                memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Invalid tunables");
                return -EINVAL;
        }
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->config = *config;
        e->root.fd = e->root.unified_fd = -1;
        e->event_fd = -1;
        pthread_mutex_init(&e->queue_lock, NULL);
        pthread_rwlock_init(&e->registry_lock, NULL);
        e->registry = g_ptr_array_new();
        pthread_mutex_init(&e->ladder_lock, NULL);
        pthread_cond_init(&e->ladder_cond, NULL);
        e->ladder_tail = &e->ladder_head;
        e->queue_tail = &e->queue_head;
        e->workers = g_hash_table_new(g_str_hash, g_str_equal);
        e->remembered = g_hash_table_new_full(g_str_hash, g_str_equal, free, free);
        e->reclaim_hints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (config->root) {
                e->root_override = strdup(config->root);
                if (!e->root_override) {
                        engine_free(e);
                        return -ENOMEM;
                }
        }
        e->config.root = e->root_override;

        /* glibc gives threads that allocate malloc arenas of their own, up
         * to eight per CPU: with thousands of workers each arena kept ~2
         * MiB resident for the few small blocks a worker allocates (an
         * event, a task list). Workers allocate rarely; two arenas do. */
        (void) mallopt(M_ARENA_MAX, 2);

        /* GetStats and the workers keep files open (stat files, usage)
         * only while the fd table is less than half full: the workers'
         * own opens (a limit write, a task list) must never meet EMFILE
         * because of a cache. */
        rlim_t nofile = raise_fd_limit();
        e->stat_fd_ceiling = nofile / 2 > INT_MAX ? INT_MAX : (int) (nofile / 2);

        r = cgroup_root_open(e->root_override, &e->root, ret_error);
        if (r < 0)
                goto fail;
        e->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->event_fd < 0) {
                r = -errno;
                goto fail;
        }
        e->budget = budget_new(config->budget_bytes);
        if (!e->budget) {
                r = -ENOMEM;
                goto fail;
        }
        if (e->root.fake || e->root.backend == BACKEND_V2) {
                r = notify_new(&e->notify);
                if (r < 0 && e->root.fake) {
                        memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Cannot create the inotify watcher: %s",
                                        strerror(-r));
                        goto fail;
                }
                if (r < 0)
                        /* cgroup v2 works without: a removal is then
                         * noticed at the worker's next wake-up. */
                        log_warning("Cannot create the inotify watcher for cgroup removals: %s", strerror(-r));
        }
        *ret = e;
        return 0;
fail:
        engine_free(e);
        return r;
}

/* Events travel from the workers in nodes that go back to a free list
 * once popped, so a worker thread allocates nothing after warm-up: each
 * glibc thread cache keeps up to 7 freed chunks of every size its thread
 * asked for (a malloc stashes free chunks of its size), and thousands of
 * workers each hoarding events the main thread freed grew the idle
 * daemon by megabytes an hour. The path travels inline for the same
 * reason; the main thread copies it out. */
#define EVENT_PATH_INLINE 128
#define EVENT_FREE_MAX 1024

struct QueuedEvent {
        QueuedEvent *next;
        EngineEvent ev;                 /* ev.path unset while queued */
        char *long_path;                /* a path too long to go inline */
        char path[EVENT_PATH_INLINE];
};

/* Back to the free list, or to malloc beyond EVENT_FREE_MAX. */
static void event_node_recycle(Engine *e, QueuedEvent *q) {
        pthread_mutex_lock(&e->queue_lock);
        if (e->n_free_events < EVENT_FREE_MAX) {
                q->next = e->free_events;
                e->free_events = q;
                e->n_free_events++;
                q = NULL;
        }
        pthread_mutex_unlock(&e->queue_lock);
        free(q);
}

void engine_post(Engine *e, const char *cg_path, const EngineEvent *ev) {
        size_t len = strlen(cg_path);
        uint64_t one = 1;
        QueuedEvent *q;

        pthread_mutex_lock(&e->queue_lock);
        q = e->free_events;
        if (q) {
                e->free_events = q->next;
                e->n_free_events--;
        }
        pthread_mutex_unlock(&e->queue_lock);
        if (!q)
                q = malloc(sizeof(*q));
        if (!q) {
                /* Out of memory in a worker: the event is lost, say so. */
                log_error("%s: out of memory, an event was dropped", cg_path);
                return;
        }
        q->next = NULL;
        q->ev = *ev;
        q->ev.path = NULL;
        q->long_path = NULL;
        if (len < sizeof(q->path))
                memcpy(q->path, cg_path, len + 1);
        else if (!(q->long_path = strdup(cg_path))) {
                event_node_recycle(e, q);
                log_error("%s: out of memory, an event was dropped", cg_path);
                return;
        }
        q->ev.tasks = NULL;
        if (ev->n_tasks > 0) {
                q->ev.tasks = malloc(ev->n_tasks * sizeof(EngineTask));
                if (q->ev.tasks)
                        memcpy(q->ev.tasks, ev->tasks, ev->n_tasks * sizeof(EngineTask));
                else
                        q->ev.n_tasks = 0;
        }
        pthread_mutex_lock(&e->queue_lock);
        bool was_empty = !e->queue_head;
        *e->queue_tail = q;
        e->queue_tail = &q->next;
        pthread_mutex_unlock(&e->queue_lock);
        /* The main thread drains the whole queue once woken and clears the
         * eventfd only when it finds it empty (engine_pop_event()): only
         * the post that made it non-empty needs to wake it. */
        if (was_empty)
                (void) !write(e->event_fd, &one, sizeof(one));
}

/* The oldest event, or NULL. Caller holds queue_lock. */
static QueuedEvent *queue_pop(Engine *e) {
        QueuedEvent *q = e->queue_head;
        if (q) {
                e->queue_head = q->next;
                if (!e->queue_head)
                        e->queue_tail = &e->queue_head;
        }
        return q;
}

int engine_event_fd(Engine *e) {
        return e->event_fd;
}

/* Main thread: w's stat files are no longer kept. */
static void stat_cache_forget(Engine *e, Worker *w) {
        for (unsigned i = 0; i < e->n_stat_cache; i++)
                if (e->stat_cache[i] == w) {
                        cgroup_drop_stat_files(w->cg);
                        memmove(&e->stat_cache[i], &e->stat_cache[i + 1],
                                (e->n_stat_cache - i - 1) * sizeof(e->stat_cache[0]));
                        e->n_stat_cache--;
                        return;
                }
}

/* Main thread: keeps w's stat files open while it is asked often (the
 * least recently asked cgroup's are closed to make room), or leaves w
 * reading by name. A cgroup is admitted at its second request within
 * STAT_CACHE_IDLE_USEC, and only over an entry idle that long: a client
 * sweeping over more cgroups than the cache holds would otherwise open
 * and close every file set at each call. */
static void stat_cache_use(Engine *e, Worker *w) {
        uint64_t now = now_usec(), last = w->stats_asked_usec;
        unsigned i;

        w->stats_asked_usec = now;
        for (i = 0; i < e->n_stat_cache && e->stat_cache[i] != w; i++)
                ;
        if (i == e->n_stat_cache) {
                if (last == 0 || now - last >= STAT_CACHE_IDLE_USEC)
                        return;
                if (e->n_stat_cache == STAT_CACHE_MAX &&
                    now - e->stat_cache[e->n_stat_cache - 1]->stats_asked_usec < STAT_CACHE_IDLE_USEC)
                        return;
                if (cgroup_keep_stat_files(&e->root, w->cg, e->stat_fd_ceiling) < 0)
                        return;
                if (e->n_stat_cache == STAT_CACHE_MAX) {
                        Worker *old = e->stat_cache[--e->n_stat_cache];
                        cgroup_drop_stat_files(old->cg);
                }
                i = e->n_stat_cache++;
        }
        memmove(&e->stat_cache[1], &e->stat_cache[0], i * sizeof(e->stat_cache[0]));
        e->stat_cache[0] = w;
}

static void order_link(Engine *e, Worker *w) {
        w->order_prev = e->order_tail;
        w->order_next = NULL;
        if (e->order_tail)
                e->order_tail->order_next = w;
        else
                e->order_head = w;
        e->order_tail = w;
        w->in_order = true;
}

static void order_unlink(Engine *e, Worker *w) {
        if (!w->in_order)
                return;
        if (w->order_prev)
                w->order_prev->order_next = w->order_next;
        else
                e->order_head = w->order_next;
        if (w->order_next)
                w->order_next->order_prev = w->order_prev;
        else
                e->order_tail = w->order_prev;
        w->order_prev = w->order_next = NULL;
        w->in_order = false;
}

/* The cgroup's name in its parent: the last component of its path. */
static const char *cgroup_leaf(const Cgroup *c) {
        return strrchr(c->path, '/') + 1;
}

static Worker *worker_free(Engine *e, Worker *w) {
        if (!w)
                return NULL;
        stat_cache_forget(e, w);
        order_unlink(e, w);
        if (w->pending_ladder_fd >= 0)
                close(w->pending_ladder_fd);
        if (e->notify) {
                notify_remove(e->notify, w->notify_wd);
                if (w->notify_child_wd >= 0)
                        notify_remove_child(e->notify, w->notify_child_wd, cgroup_leaf(w->cg));
        }
        if (w->ctl_fd >= 0)
                close(w->ctl_fd);
        cgroup_free(w->cg);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

static void unregister(Engine *e, Worker *w) {
        pthread_rwlock_wrlock(&e->registry_lock);
        g_ptr_array_remove_fast(e->registry, w);
        pthread_rwlock_unlock(&e->registry_lock);
}

unsigned engine_squeeze_others(Engine *e, Worker *self) {
        unsigned n = 0;

        pthread_rwlock_rdlock(&e->registry_lock);
        for (guint i = 0; i < ((GPtrArray *) e->registry)->len; i++) {
                Worker *w = ((GPtrArray *) e->registry)->pdata[i];
                uint64_t one = 1;
                if (w == self)
                        continue;
                pthread_mutex_lock(&w->lock);
                w->squeeze_requested = true;
                pthread_mutex_unlock(&w->lock);
                (void) !write(w->ctl_fd, &one, sizeof(one));
                n++;
        }
        pthread_rwlock_unlock(&e->registry_lock);
        return n;
}

static void reap_worker(Engine *e, Worker *w);

/* Joins a worker whose thread is done and forgets it. */
static void reap(Engine *e, const char *path) {
        Worker *w = g_hash_table_lookup(workers_of(e), path);
        if (!w)
                return;
        reap_worker(e, w);
}

static void reap_worker(Engine *e, Worker *w) {
        g_hash_table_remove(workers_of(e), w->cg->path);
        unregister(e, w);
        pthread_join(w->thread, NULL);
        worker_free(e, w);
}

int engine_pop_event(Engine *e, EngineEvent *ret) {
        for (;;) {
                QueuedEvent *q;
                EngineEvent ev;

                pthread_mutex_lock(&e->queue_lock);
                q = queue_pop(e);
                if (!q) {
                        uint64_t v;
                        /* Drain the eventfd while holding the lock: a post
                         * after this re-arms it. */
                        (void) !read(e->event_fd, &v, sizeof(v));
                }
                pthread_mutex_unlock(&e->queue_lock);
                if (!q)
                        return 0;
                ev = q->ev;
                ev.path = q->long_path ?: strdup(q->path);
                event_node_recycle(e, q);
                if (!ev.path) {
                        log_error("Out of memory, an event was dropped");
                        engine_event_done(&ev);
                        continue;
                }
                if (ev.type == ENGINE_EVENT_STOPPED) {
                        /* The path may be monitored again by a newer
                         * worker (when engine_monitor() finished off the
                         * old one itself): only the instance that stopped
                         * is reaped, and the end of one that was finished
                         * off already is not news. */
                        Worker *w = g_hash_table_lookup(workers_of(e), ev.path);
                        if (!w || w->seq != ev.instance) {
                                engine_event_done(&ev);
                                continue;
                        }
                        reap_worker(e, w);
                }
                *ret = ev;
                return 1;
        }
}

static void request(Worker *w) {
        uint64_t one = 1;
        (void) !write(w->ctl_fd, &one, sizeof(one));
}

Engine *engine_free(Engine *e) {
        if (!e)
                return NULL;
        engine_stop_registrar(e);
        if (e->workers) {
                GHashTableIter it;
                gpointer k, v;
                /* Tell every worker, then join: they stop in parallel. */
                g_hash_table_iter_init(&it, workers_of(e));
                while (g_hash_table_iter_next(&it, &k, &v)) {
                        Worker *w = v;
                        pthread_mutex_lock(&w->lock);
                        if (!w->stop_requested) {
                                w->stop_requested = true;
                                w->stop_reason = STOP_REASON_SHUTDOWN;
                                w->stop_cookie = 0;
                        }
                        pthread_mutex_unlock(&w->lock);
                        request(w);
                }
                g_hash_table_iter_init(&it, workers_of(e));
                while (g_hash_table_iter_next(&it, &k, &v)) {
                        Worker *w = v;
                        pthread_join(w->thread, NULL);
                        unregister(e, w);
                        worker_free(e, w);
                }
                g_hash_table_unref(e->workers);
        }
        engine_stop_registrar(e);
        notify_free(e->notify);
        for (QueuedEvent *q; (q = queue_pop(e));) {
                free(q->long_path);
                engine_event_done(&q->ev);
                free(q);
        }
        while (e->free_events) {
                QueuedEvent *q = e->free_events;
                e->free_events = q->next;
                free(q);
        }
        if (e->remembered)
                g_hash_table_unref(e->remembered);
        if (e->reclaim_hints)
                g_hash_table_unref(e->reclaim_hints);
        if (e->registry)
                g_ptr_array_unref(e->registry);
        pthread_rwlock_destroy(&e->registry_lock);
        pthread_mutex_destroy(&e->ladder_lock);
        pthread_cond_destroy(&e->ladder_cond);
        budget_free(e->budget);
        cgroup_root_close(&e->root);
        if (e->event_fd >= 0)
                close(e->event_fd);
        pthread_mutex_destroy(&e->queue_lock);
        free(e->root_override);
        free(e);
        return NULL;
}

void engine_set_budget(Engine *e, uint64_t total) {
        budget_set_total(e->budget, total);
}

Backend engine_backend(Engine *e) {
        return e->root.backend;
}

const char *engine_root(Engine *e) {
        return e->root.path;
}

uint64_t engine_budget_total(Engine *e) {
        return budget_total(e->budget);
}

uint64_t engine_budget_granted(Engine *e) {
        return budget_granted(e->budget);
}

const Tunables *engine_tunables(Engine *e) {
        return &e->config.tunables;
}

/* Not stopping nor stopped. */
static bool worker_active(Worker *w) {
        pthread_mutex_lock(&w->lock);
        bool gone = w->exited || w->stop_requested || w->start_failed;
        pthread_mutex_unlock(&w->lock);
        return !gone;
}

static Worker *lookup(Engine *e, const char *path) {
        Worker *w = g_hash_table_lookup(workers_of(e), path);
        return w && worker_active(w) ? w : NULL;
}

static bool path_is_below(const char *path, const char *ancestor) {
        size_t n = strlen(ancestor);
        return strncmp(path, ancestor, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static unsigned reclaimers_below(Engine *e, const char *path) {
        GHashTableIter it;
        gpointer k, v;
        unsigned n = 0;

        g_hash_table_iter_init(&it, e->reclaim_hints);
        while (g_hash_table_iter_next(&it, &k, &v))
                if (path_is_below(k, path))
                        n += (unsigned) GPOINTER_TO_INT(v);
        return n;
}

void engine_reclaimers_changed(Engine *e, const char *path, int delta) {
        GHashTableIter it;
        gpointer k, v;
        int n = GPOINTER_TO_INT(g_hash_table_lookup(e->reclaim_hints, path)) + delta;

        if (n > 0)
                g_hash_table_replace(e->reclaim_hints, g_strdup(path), GINT_TO_POINTER(n));
        else
                g_hash_table_remove(e->reclaim_hints, path);
        g_hash_table_iter_init(&it, workers_of(e));
        while (g_hash_table_iter_next(&it, &k, &v)) {
                Worker *w = v;
                if (path_is_below(path, w->cg->path))
                        __atomic_store_n(&w->reclaimers, reclaimers_below(e, w->cg->path), __ATOMIC_RELAXED);
        }
}

bool engine_is_monitored(Engine *e, const char *path) {
        return lookup(e, path) != NULL;
}

uint64_t engine_remembered_limit(Engine *e, const char *path) {
        uint64_t *v = g_hash_table_lookup(e->remembered, path);
        return v ? *v : 0;
}

/* The range every limit must be in, whatever the budget: above the high
 * line's gap (a max that small leaves no high line at all) and a real
 * number of bytes, not "unlimited". */
static int check_range(Engine *e, const char *path, uint64_t limit, MemcgError *err) {
        uint64_t min = e->config.tunables.high_gap + LIMITS_PAGE_SIZE;

        if (limit < min || limit > LIMITS_MAX_BYTES) {
                memcg_error_set(err, MEMCG_ERROR_LIMIT_OUT_OF_RANGE,
                                "Limit %llu for cgroup '%s' is out of range: it must be between %llu and %llu bytes",
                                (unsigned long long) limit, path, (unsigned long long) min,
                                (unsigned long long) LIMITS_MAX_BYTES);
                return -ERANGE;
        }
        if (limit > budget_total(e->budget)) {
                memcg_error_set(err, MEMCG_ERROR_BUDGET_EXCEEDED,
                                "Limit %llu for cgroup '%s' exceeds the whole budget of %llu bytes",
                                (unsigned long long) limit, path, (unsigned long long) budget_total(e->budget));
                return -ENOSPC;
        }
        return 0;
}

static int check_usage(Cgroup *cg, uint64_t limit, MemcgError *err) {
        uint64_t usage;
        int r = cgroup_read_usage(cg, &usage);
        if (r < 0) {
                memcg_error_set(err, MEMCG_ERROR_FAILED, "Cannot read the usage of cgroup '%s': %s", cg->path,
                                strerror(-r));
                return r;
        }
        if (limit <= usage) {
                memcg_error_set(err, MEMCG_ERROR_LIMIT_BELOW_USAGE,
                                "Refusing limit %llu for cgroup '%s': it is not above its current usage of %llu bytes",
                                (unsigned long long) limit, cg->path, (unsigned long long) usage);
                return -ERANGE;
        }
        return 0;
}

int engine_monitor(Engine *e, const MonitorRequest *req, bool *ret_already, MemcgError *ret_error) {
        Cgroup *cg = NULL;
        Worker *w;
        uint64_t limit = 0, omax = 0, ohigh = 0;
        bool reattach = req->flags & ENGINE_MONITOR_REATTACH;
        int r;

        r = cgroup_path_validate(req->path, ret_error);
        if (r < 0)
                return r;
        if (lookup(e, req->path)) {
                *ret_already = true;
                return 0;
        }
        /* A worker that stopped but whose STOPPED event was not drained
         * yet: finish it off so the path can be monitored again. */
        if (g_hash_table_contains(workers_of(e), req->path)) {
                Worker *old = g_hash_table_lookup(workers_of(e), req->path);
                pthread_mutex_lock(&old->lock);
                if (!old->stop_requested) {
                        old->stop_requested = true;
                        old->stop_reason = STOP_REASON_SHUTDOWN;
                }
                pthread_mutex_unlock(&old->lock);
                request(old);
                reap(e, req->path);
        }

        r = cgroup_open(&e->root, req->path, &cg, ret_error);
        if (r < 0)
                return r;

        if (reattach) {
                omax = req->restore_max;
                ohigh = req->restore_high;
        } else {
                r = cgroup_read_limits(cg, &omax, &ohigh);
                if (r < 0) {
                        memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Cannot read the limits of cgroup '%s': %s",
                                        req->path, strerror(-r));
                        goto fail;
                }
                if (req->flags & ENGINE_MONITOR_ORIGINALS) {
                        omax = req->restore_max;
                        ohigh = req->restore_high;
                }
                limit = req->initial_limit;
                if (limit == 0)
                        limit = engine_remembered_limit(e, req->path);
                if (limit == 0)
                        limit = e->config.default_initial_limit;
                if (limit == 0) {
                        uint64_t usage;
                        r = cgroup_read_usage(cg, &usage);
                        if (r < 0) {
                                memcg_error_set(ret_error, MEMCG_ERROR_FAILED,
                                                "Cannot read the usage of cgroup '%s': %s", req->path, strerror(-r));
                                goto fail;
                        }
                        limit = limits_initial_from_usage(&e->config.tunables, usage);
                        uint64_t min = e->config.tunables.high_gap + LIMITS_PAGE_SIZE;
                        if (limit < min)
                                limit = limits_page_round_up(min);
                }
                if ((r = check_range(e, req->path, limit, ret_error)) < 0)
                        goto fail;
                limit = limits_page_round_up(limit);
                if ((r = check_usage(cg, limit, ret_error)) < 0)
                        goto fail;
                if (budget_take_exact(e->budget, limit) < 0) {
                        memcg_error_set(ret_error, MEMCG_ERROR_BUDGET_EXCEEDED,
                                        "Limit %llu for cgroup '%s' does not fit in the budget: %llu of %llu bytes are free",
                                        (unsigned long long) limit, req->path,
                                        (unsigned long long) budget_free_bytes(e->budget),
                                        (unsigned long long) budget_total(e->budget));
                        r = -ENOSPC;
                        goto fail;
                }
        }

        w = calloc(1, sizeof(*w));
        if (!w) {
                if (!reattach)
                        budget_give(e->budget, limit);
                r = -ENOMEM;
                goto fail;
        }
        pthread_mutex_init(&w->lock, NULL);
        w->engine = e;
        w->cg = cg;
        cg = NULL;
        /* The worker reads usage at every wake-up and writes the limits
         * at every reaction; by name when the files cannot be kept open
         * (or the fd table is half full already). Before the thread
         * starts: set once. */
        r = cgroup_keep_fds(w->cg, e->stat_fd_ceiling);
        if (r < 0)
                log_debug("%s: not every file kept open (%s): %s is opened at each write", w->cg->path, strerror(-r),
                          w->cg->max_fd < 0 ? "the limit" : "the high line");
        w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        w->notify_wd = -1;
        w->notify_child_wd = -1;
        w->pending_ladder_fd = -1;
        w->seq = e->next_seq++;
        w->flags = req->flags;
        w->start_limit = limit;
        w->start_cookie = req->cookie;
        w->original_max = omax;
        w->original_high = ohigh;
        w->restore_okd = req->restore_okd;
        w->initial_limit = reattach ? req->initial_limit : limit;
        w->oom_policy = (unsigned) req->oom_policy < _OOM_POLICY_MAX ? req->oom_policy : OOM_POLICY_KILL;
        w->reclaimers = reclaimers_below(e, w->cg->path);
        if (w->ctl_fd < 0) {
                r = -errno;
                goto fail_worker;
        }
        if (w->cg->backend == BACKEND_V2) {
                if (w->cg->fake) {
                        r = notify_add(e->notify, w->cg->dirfd, "memory.events", w->ctl_fd);
                        if (r < 0)
                                goto fail_worker;
                        w->notify_wd = r;
                } else {
                        /* Kept open whatever the fd ceiling: it is how the
                         * worker hears of breaches (POLLPRI). */
                        w->cg->events_fd = openat(w->cg->dirfd, "memory.events", O_RDONLY | O_CLOEXEC);
                        if (w->cg->events_fd < 0) {
                                r = -errno;
                                goto fail_worker;
                        }
                        /* Its removal wakes no poller of memory.events:
                         * the parent's IN_DELETE does (without it, the
                         * next wake-up of its timer tells, up to a
                         * minute later). */
                        if (e->notify) {
                                r = notify_add_child(e->notify, w->cg->dirfd, cgroup_leaf(w->cg), w->ctl_fd);
                                if (r < 0)
                                        log_warning("%s: cannot watch for its removal (%s): it is noticed at the "
                                                    "worker's next wake-up",
                                                    w->cg->path, strerror(-r));
                                else
                                        w->notify_child_wd = r;
                        }
                }
        }

        pthread_attr_t attr;
        sigset_t all, old;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, e->config.stack_size ?: DEFAULT_STACK_SIZE);
        /* Workers never take signals: the main loop does. */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = -pthread_create(&w->thread, &attr, worker_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r < 0)
                goto fail_worker;

        g_hash_table_insert(workers_of(e), w->cg->path, w);
        order_link(e, w);
        pthread_rwlock_wrlock(&e->registry_lock);
        g_ptr_array_add(e->registry, w);
        pthread_rwlock_unlock(&e->registry_lock);
        g_hash_table_remove(e->remembered, req->path);
        *ret_already = false;
        return 0;

fail_worker:
        if (!reattach)
                budget_give(e->budget, limit);
        memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Cannot start monitoring cgroup '%s': %s", req->path,
                        strerror(-r));
        worker_free(e, w);
        return r;
fail:
        cgroup_free(cg);
        return r;
}

static Worker *lookup_monitored(Engine *e, const char *path, MemcgError *err) {
        Worker *w;

        if (cgroup_path_validate(path, err) < 0)
                return NULL;
        w = lookup(e, path);
        if (!w)
                memcg_error_set(err, MEMCG_ERROR_NOT_MONITORED, "Cgroup '%s' is not monitored", path);
        return w;
}

int engine_unmonitor(Engine *e, const char *path, uint64_t cookie, MemcgError *ret_error) {
        Worker *w = lookup_monitored(e, path, ret_error);
        if (!w)
                return ret_error && ret_error->code == MEMCG_ERROR_INVALID_PATH ? -EINVAL : -ESRCH;
        pthread_mutex_lock(&w->lock);
        w->stop_requested = true;
        w->stop_reason = STOP_REASON_UNMONITORED;
        w->stop_cookie = cookie;
        pthread_mutex_unlock(&w->lock);
        request(w);
        return 0;
}

int engine_set_initial_limit(Engine *e, const char *path, uint64_t limit, uint64_t cookie, bool *ret_deferred,
                             MemcgError *ret_error) {
        Worker *w;
        Cgroup *cg = NULL;
        int r;

        r = cgroup_path_validate(path, ret_error);
        if (r < 0)
                return r;
        r = check_range(e, path, limit, ret_error);
        if (r < 0)
                return r;
        limit = limits_page_round_up(limit);

        w = lookup(e, path);
        if (w) {
                r = check_usage(w->cg, limit, ret_error);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&w->lock);
                if (w->exited || w->stop_requested) {
                        /* Stopped since lookup(): nobody would answer. */
                        pthread_mutex_unlock(&w->lock);
                        memcg_error_set(ret_error, MEMCG_ERROR_NOT_MONITORED, "Cgroup '%s' is not monitored", path);
                        return -ESRCH;
                }
                if (w->rebase_requested) {
                        /* An earlier re-base not yet carried out: it is
                         * superseded, and its caller is answered now. */
                        EngineEvent ev = { .type = ENGINE_EVENT_REQUEST_DONE, .cookie = w->rebase_cookie };
                        memcg_error_set(&ev.error, MEMCG_ERROR_FAILED,
                                        "The limit change for cgroup '%s' was superseded by a later one", path);
                        engine_post(e, path, &ev);
                }
                w->rebase_requested = true;
                w->rebase_limit = limit;
                w->rebase_cookie = cookie;
                pthread_mutex_unlock(&w->lock);
                request(w);
                *ret_deferred = false;
                return 0;
        }

        /* Not monitored: it must at least be a memcg, so that a typo is
         * reported now rather than at Monitor time. */
        r = cgroup_open(&e->root, path, &cg, ret_error);
        if (r < 0)
                return r;
        cgroup_free(cg);
        uint64_t *v = malloc(sizeof(*v));
        char *k = strdup(path);
        if (!v || !k) {
                free(v);
                free(k);
                return -ENOMEM;
        }
        *v = limit;
        g_hash_table_replace(e->remembered, k, v);
        *ret_deferred = true;
        return 0;
}

int engine_read_tasks(Engine *e, const char *path, EngineTask **ret, size_t *ret_n, size_t max_tasks) {
        MemcgError err = {};
        Cgroup *cg = NULL;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = cgroup_open(&e->root, path, &cg, &err);
        if (r < 0)
                return r;
        r = cgroup_read_tasks(cg, ret, ret_n, max_tasks);
        cgroup_free(cg);
        return r;
}

int engine_get_stats(Engine *e, const char *path, CgroupStats *ret, MemcgError *ret_error) {
        CgroupStats s = {};
        Cgroup *cg = NULL;
        Worker *w;
        int r;

        r = cgroup_path_validate(path, ret_error);
        if (r < 0)
                return r;
        w = lookup(e, path);
        if (w)
                stat_cache_use(e, w);
        else {
                r = cgroup_open(&e->root, path, &cg, ret_error);
                if (r < 0)
                        return r;
        }
        /* v1 has no memory.high: a monitored cgroup reports its worker's
         * line (below), not the soft limit. */
        cgroup_read_stats(&e->root, w ? w->cg : cg, w && w->cg->backend == BACKEND_V1, &s);
        cgroup_free(cg);
        if (w && cgroup_stat_files_stale(w->cg))
                /* Opened anew at the next call. */
                stat_cache_forget(e, w);

        if (w) {
                s.monitored = true;
                pthread_mutex_lock(&w->lock);
                s.values[STAT_LIMIT_INCREASES] = w->limit_increases;
                s.values[STAT_LIMIT_DECREASES] = w->limit_decreases;
                s.values[STAT_GRANTED_BYTES] = w->granted;
                s.values[STAT_NEXT_SHRINK_CHECK_USEC] = w->next_shrink_usec;
                s.no_increase_count = w->no_increase_count;
                s.original_max = w->original_max;
                s.original_high = w->original_high;
                s.original_okd = w->original_okd;
                s.initial_limit = w->initial_limit;
                s.oom_policy = w->oom_policy;
                s.oom_waiting = w->oom_waiting;
                s.oom_decision_deadline_usec = w->oom_decision_deadline;
                s.last_oom_realtime_usec = w->last_oom_realtime_usec;
                s.emergency_grants = w->emergency_grants;
                s.pressure_level = w->pressure_level;
                s.pressure_source = w->pressure_source;
                if (w->cg->backend == BACKEND_V1) {
                        /* v1 has no high counter nor memory.high: report
                         * the worker's own line and breaches. */
                        s.values[STAT_EVENTS_HIGH] = w->high_breaches;
                        s.has[STAT_EVENTS_HIGH] = true;
                        s.values[STAT_HIGH_LIMIT_BYTES] = w->high;
                        s.has[STAT_HIGH_LIMIT_BYTES] = true;
                }
                pthread_mutex_unlock(&w->lock);
                s.has[STAT_LIMIT_INCREASES] = s.has[STAT_LIMIT_DECREASES] = s.has[STAT_GRANTED_BYTES] =
                        s.has[STAT_NEXT_SHRINK_CHECK_USEC] = true;
        }
        *ret = s;
        return 0;
}

unsigned engine_monitored_count(Engine *e) {
        unsigned n = 0;

        for (Worker *w = e->order_head; w; w = w->order_next)
                if (worker_active(w))
                        n++;
        return n;
}

int engine_foreach_monitored(Engine *e, int (*f)(const char *path, void *userdata), void *userdata) {
        for (Worker *w = e->order_head; w; w = w->order_next) {
                if (!worker_active(w))
                        continue;
                int r = f(w->cg->path, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int engine_list_monitored(Engine *e, char ***ret) {
        size_t n = 0, i = 0;
        char **l;

        for (Worker *w = e->order_head; w; w = w->order_next)
                n++;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Worker *w = e->order_head; w; w = w->order_next) {
                if (!worker_active(w))
                        continue;
                l[i] = strdup(w->cg->path);
                if (!l[i]) {
                        engine_strv_free(l);
                        return -ENOMEM;
                }
                i++;
        }
        *ret = l;
        return 0;
}

void engine_strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

int engine_set_oom_policy(Engine *e, const char *path, OomPolicy policy, MemcgError *ret_error) {
        Worker *w;

        if ((unsigned) policy >= _OOM_POLICY_MAX) {
                memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Unknown OOM policy for cgroup '%s'", path);
                return -EINVAL;
        }
        w = lookup_monitored(e, path, ret_error);
        if (!w)
                return ret_error && ret_error->code == MEMCG_ERROR_INVALID_PATH ? -EINVAL : -ESRCH;
        pthread_mutex_lock(&w->lock);
        w->oom_policy = policy;
        w->policy_changed = true;
        pthread_mutex_unlock(&w->lock);
        request(w);
        return 0;
}

int engine_resolve_oom(Engine *e, const char *path, OomDecision decision, uint64_t bytes, uint64_t cookie,
                       MemcgError *ret_error) {
        Worker *w;
        bool waiting;

        if ((unsigned) decision >= _OOM_DECISION_MAX) {
                memcg_error_set(ret_error, MEMCG_ERROR_FAILED, "Unknown OOM decision for cgroup '%s'", path);
                return -EINVAL;
        }
        w = lookup_monitored(e, path, ret_error);
        if (!w)
                return ret_error && ret_error->code == MEMCG_ERROR_INVALID_PATH ? -EINVAL : -ESRCH;
        if (decision == OOM_DECISION_RAISE && (bytes == 0 || bytes > LIMITS_MAX_BYTES)) {
                memcg_error_set(ret_error, MEMCG_ERROR_LIMIT_OUT_OF_RANGE,
                                "Raising cgroup '%s' by %llu bytes is out of range", path, (unsigned long long) bytes);
                return -ERANGE;
        }
        pthread_mutex_lock(&w->lock);
        waiting = w->oom_waiting && !w->decision_requested && !w->exited && !w->stop_requested;
        if (waiting) {
                w->decision_requested = true;
                w->decision = decision;
                w->decision_bytes = bytes;
                w->decision_cookie = cookie;
        }
        pthread_mutex_unlock(&w->lock);
        if (!waiting) {
                memcg_error_set(ret_error, MEMCG_ERROR_FAILED,
                                "Cgroup '%s' is not waiting for an OOM decision (or one is being carried out)", path);
                return -EBUSY;
        }
        request(w);
        return 0;
}

int engine_thaw_paths(Engine *e, char **paths) {
        int n = 0;

        for (char **p = paths; p && *p; p++) {
                MemcgError err = {};
                Cgroup *cg = NULL;
                if (cgroup_open(&e->root, *p, &cg, &err) < 0)
                        continue;
                if (cg->backend == BACKEND_V2) {
                        char buf[256];
                        size_t len;
                        uint64_t frozen = 0;
                        if (read_file_at(cg->dirfd, "cgroup.events", buf, sizeof(buf), &len) == 0 &&
                            parse_keyed_u64(buf, len, "frozen", &frozen) == 0 && frozen &&
                            cgroup_set_frozen(cg, false) == 0)
                                n++;
                } else {
                        bool okd = false;
                        if (cgroup_v1_get_oom_kill_disable(cg, &okd) == 0 && okd &&
                            cgroup_v1_set_oom_kill_disable(cg, false) == 0)
                                n++;
                }
                cgroup_free(cg);
        }
        return n;
}

struct LadderRequest {
        LadderRequest *next;
        uint64_t seq;          /* the worker's */
        uint64_t generation;
        int dirfd;             /* a dup of the cgroup's */
        uint64_t thresholds[V1_LADDER];
        unsigned n;
};

/* The oldest request, or NULL. Caller holds ladder_lock. */
static LadderRequest *ladder_pop(Engine *e) {
        LadderRequest *rq = e->ladder_head;
        if (rq) {
                e->ladder_head = rq->next;
                if (!e->ladder_head)
                        e->ladder_tail = &e->ladder_head;
        }
        return rq;
}

static int register_ladder(const LadderRequest *rq) {
        Cgroup cg = {
                .backend = BACKEND_V1, .dirfd = rq->dirfd, .usage_fd = -1, .max_fd = -1, .high_fd = -1, .events_fd = -1,
                .max_len = -1, .high_len = -1,
        };
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r;

        if (efd < 0)
                return -errno;
        r = cgroup_v1_register_oom(&cg, efd);
        for (unsigned i = 0; r >= 0 && i < rq->n; i++)
                r = cgroup_v1_register_threshold(&cg, efd, rq->thresholds[i]);
        if (r < 0) {
                close(efd);
                return r;
        }
        return efd;
}

/* Hands a registered eventfd to its worker if it still wants it. */
static void deliver_ladder(Engine *e, const LadderRequest *rq, int efd) {
        bool taken = false;

        pthread_rwlock_rdlock(&e->registry_lock);
        for (guint i = 0; i < ((GPtrArray *) e->registry)->len && !taken; i++) {
                Worker *w = ((GPtrArray *) e->registry)->pdata[i];
                uint64_t one = 1;
                if (w->seq != rq->seq)
                        continue;
                pthread_mutex_lock(&w->lock);
                /* Any ladder newer than the one waiting is worth taking: a
                 * worker growing faster than registrations finish would
                 * otherwise discard every one as superseded. */
                if (rq->generation > w->pending_ladder_generation && !w->exited) {
                        if (w->pending_ladder_fd >= 0)
                                close(w->pending_ladder_fd);
                        w->pending_ladder_generation = rq->generation;
                        w->pending_ladder_fd = efd;
                        memcpy(w->pending_ladder, rq->thresholds, sizeof(rq->thresholds));
                        w->pending_ladder_len = rq->n;
                        taken = true;
                }
                pthread_mutex_unlock(&w->lock);
                if (taken)
                        (void) !write(w->ctl_fd, &one, sizeof(one));
        }
        pthread_rwlock_unlock(&e->registry_lock);
        if (!taken)
                close(efd);
}

/* Tells the worker its request failed, if it is still its latest. */
static void fail_ladder(Engine *e, const LadderRequest *rq, int error) {
        pthread_rwlock_rdlock(&e->registry_lock);
        for (guint i = 0; i < ((GPtrArray *) e->registry)->len; i++) {
                Worker *w = ((GPtrArray *) e->registry)->pdata[i];
                uint64_t one = 1;
                if (w->seq != rq->seq)
                        continue;
                pthread_mutex_lock(&w->lock);
                bool tell = rq->generation > w->failed_ladder_generation && !w->exited;
                if (tell) {
                        w->failed_ladder_generation = rq->generation;
                        w->failed_ladder_error = error;
                }
                pthread_mutex_unlock(&w->lock);
                if (tell)
                        (void) !write(w->ctl_fd, &one, sizeof(one));
                break;
        }
        pthread_rwlock_unlock(&e->registry_lock);
}

static void *registrar_main(void *userdata) {
        Engine *e = userdata;

        for (;;) {
                LadderRequest *rq;

                pthread_mutex_lock(&e->ladder_lock);
                while (!e->ladder_stop && !e->ladder_head)
                        pthread_cond_wait(&e->ladder_cond, &e->ladder_lock);
                if (e->ladder_stop) {
                        pthread_mutex_unlock(&e->ladder_lock);
                        break;
                }
                rq = ladder_pop(e);
                pthread_mutex_unlock(&e->ladder_lock);

                int efd = register_ladder(rq);
                if (efd >= 0)
                        deliver_ladder(e, rq, efd);
                else
                        /* The worker keeps its old ladder and asks again
                         * shortly. */
                        fail_ladder(e, rq, efd);
                close(rq->dirfd);
                free(rq);
        }
        return NULL;
}

int engine_request_ladder(Engine *e, Worker *w, uint64_t generation, const uint64_t *thresholds, unsigned n,
                          bool urgent) {
        LadderRequest *rq;
        int r = 0;

        if (n == 0 || n > V1_LADDER)
                return -EINVAL;
        rq = calloc(1, sizeof(*rq));
        if (!rq)
                return -ENOMEM;
        rq->seq = w->seq;
        rq->generation = generation;
        rq->n = n;
        memcpy(rq->thresholds, thresholds, n * sizeof(*thresholds));
        rq->dirfd = fcntl(w->cg->dirfd, F_DUPFD_CLOEXEC, 3);
        if (rq->dirfd < 0) {
                r = -errno;
                free(rq);
                return r;
        }

        pthread_mutex_lock(&e->ladder_lock);
        if (e->ladder_stop)
                r = -ESHUTDOWN;
        else if (!e->ladder_thread_started) {
                sigset_t all, old;
                sigfillset(&all);
                pthread_sigmask(SIG_BLOCK, &all, &old);
                r = -pthread_create(&e->ladder_thread, NULL, registrar_main, e);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (r == 0)
                        e->ladder_thread_started = true;
        }
        if (r == 0) {
                /* A newer request of the same worker supersedes one still
                 * queued (not one being registered): drop it. */
                for (LadderRequest **p = &e->ladder_head; *p; p = &(*p)->next) {
                        LadderRequest *q = *p;
                        if (q->seq == rq->seq) {
                                *p = q->next;
                                if (e->ladder_tail == &q->next)
                                        e->ladder_tail = p;
                                close(q->dirfd);
                                free(q);
                                break;
                        }
                }
                /* A burst is on: ahead of every idle cgroup's ladder. */
                if (urgent) {
                        rq->next = e->ladder_head;
                        e->ladder_head = rq;
                        if (e->ladder_tail == &e->ladder_head)
                                e->ladder_tail = &rq->next;
                } else {
                        rq->next = NULL;
                        *e->ladder_tail = rq;
                        e->ladder_tail = &rq->next;
                }
                pthread_cond_signal(&e->ladder_cond);
        }
        pthread_mutex_unlock(&e->ladder_lock);
        if (r < 0) {
                close(rq->dirfd);
                free(rq);
        }
        return r;
}

void engine_stop_registrar(Engine *e) {
        LadderRequest *rq;
        bool started;

        pthread_mutex_lock(&e->ladder_lock);
        e->ladder_stop = true;
        started = e->ladder_thread_started;
        e->ladder_thread_started = false;
        pthread_cond_signal(&e->ladder_cond);
        pthread_mutex_unlock(&e->ladder_lock);
        if (started)
                pthread_join(e->ladder_thread, NULL);
        while ((rq = ladder_pop(e))) {
                close(rq->dirfd);
                free(rq);
        }
}
