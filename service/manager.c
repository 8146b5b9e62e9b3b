/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "manager.h"
#include "state.h"
#include "util.h"

/* Events handled per wake-up. A burst beyond this is finished in the next
 * loop iteration (the eventfd stays readable), so bus traffic is served in
 * between. It also bounds the coalescing window. */
#define DRAIN_MAX 1024

#define IN_SET_ERR(x, a, b, c) ((x) == (a) || (x) == (b) || (x) == (c))

/* How long start-up waits for the workers of the state file to report
 * back before taking the bus name anyway. Re-attaching writes no limits,
 * so this only trips when the engine is stuck. */
#define REATTACH_TIMEOUT_USEC (UINT64_C(10) * 1000000)

static void request_free(void *p) {
        Request *r = p;

        if (!r)
                return;
        g_free(r->path);
        if (r->calls)
                g_ptr_array_unref(r->calls);
        g_free(r);
}

static void monitored_cgroup_free(void *p) {
        MonitoredCgroup *c = p;

        if (!c)
                return;
        g_free(c->path);
        free(c->object_path); /* from sd_bus_path_encode() */
        g_free(c);
}

int manager_new(Engine *engine, const char *state_directory, Manager **ret) {
        Manager *m;
        int r;

        m = g_new0(Manager, 1);
        m->engine = engine;
        m->state_directory = g_strdup(state_directory);
        m->polkit = polkit_registry_new();
        m->cgroups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, monitored_cgroup_free);
        m->requests = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, request_free);
        m->parked_monitors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                   (GDestroyNotify) g_ptr_array_unref);
        m->remembered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->dormant = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        m->next_cookie = 1;

        r = sd_event_default(&m->event);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void message_unref_notify(void *p) {
        sd_bus_message_unref(p);
}

/* Answers every call still waiting for the engine: at shutdown, after
 * the workers are gone, nobody will. */
static void fail_pending_requests(Manager *m, const char *why) {
        GHashTableIter it;
        Request *req;

        g_hash_table_iter_init(&it, m->requests);
        while (g_hash_table_iter_next(&it, NULL, (void **) &req))
                for (guint i = 0; req->calls && i < req->calls->len; i++)
                        (void) sd_bus_reply_method_errorf(g_ptr_array_index(req->calls, i), SD_BUS_ERROR_FAILED,
                                                          "%s: %s", req->path, why);
        g_hash_table_remove_all(m->requests);

        const char *path;
        GPtrArray *calls;
        g_hash_table_iter_init(&it, m->parked_monitors);
        while (g_hash_table_iter_next(&it, (void **) &path, (void **) &calls))
                for (guint i = 0; i < calls->len; i++)
                        (void) sd_bus_reply_method_errorf(g_ptr_array_index(calls, i), SD_BUS_ERROR_FAILED,
                                                          "%s: %s", path, why);
        g_hash_table_remove_all(m->parked_monitors);
}

void manager_park_monitor(Manager *m, const char *path, sd_bus_message *call) {
        GPtrArray *calls = g_hash_table_lookup(m->parked_monitors, path);

        if (!calls) {
                calls = g_ptr_array_new_with_free_func(message_unref_notify);
                g_hash_table_insert(m->parked_monitors, g_strdup(path), calls);
        }
        g_ptr_array_add(calls, sd_bus_message_ref(call));
}

/* The worker of `path` is gone: the Monitor calls that waited for it run
 * again, as if they came now (a fresh Monitor). */
static void release_parked(Manager *m, const char *path) {
        g_autoptr(GPtrArray) calls = NULL;
        gpointer key;

        if (!g_hash_table_steal_extended(m->parked_monitors, path, &key, (gpointer *) &calls))
                return;
        g_free(key);
        for (guint i = 0; i < calls->len; i++) {
                sd_bus_message *call = g_ptr_array_index(calls, i);
                int r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(call), call);
                if (r < 0)
                        (void) sd_bus_reply_method_errorf(call, SD_BUS_ERROR_FAILED,
                                                          "Cgroup %s: the Monitor call could not be carried out "
                                                          "after its earlier monitor stopped: %s",
                                                          path, strerror(-r));
        }
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        sd_event_source_disable_unref(m->engine_source);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->reattach_timer);
        sd_event_source_disable_unref(m->recheck_timer);
        sd_event_source_disable_unref(m->save_retry_timer);

        /* Calls parked for polkit or the engine hold bus messages: drop
         * them before the bus. */
        if (m->requests)
                g_hash_table_destroy(m->requests);
        if (m->parked_monitors)
                g_hash_table_destroy(m->parked_monitors);
        m->polkit = polkit_registry_free(m->polkit);
        if (m->reclaim_asked)
                g_hash_table_remove_all(m->reclaim_asked);
        lowmem_stop(m);
        if (m->bus)
                sd_bus_flush_close_unref(m->bus);
        reclaim_bus_done(m);

        engine_free(m->engine);

        if (m->cgroups)
                g_hash_table_destroy(m->cgroups);
        if (m->remembered)
                g_hash_table_destroy(m->remembered);
        if (m->dormant)
                g_hash_table_destroy(m->dormant);
        sd_event_unref(m->event);
        g_free(m->state_directory);
        g_free(m);
        return NULL;
}

uint64_t manager_new_cookie(Manager *m) {
        uint64_t c = m->next_cookie++;
        if (m->next_cookie == 0)
                m->next_cookie = 1;
        return c;
}


Request *manager_add_request(Manager *m, uint64_t cookie, RequestType type, const char *path,
                             uint64_t limit, sd_bus_message *call) {
        Request *r = g_new0(Request, 1);

        r->cookie = cookie;
        r->type = type;
        r->path = g_strdup(path);
        r->limit = limit;
        r->calls = g_ptr_array_new_with_free_func(message_unref_notify);
        if (call)
                g_ptr_array_add(r->calls, sd_bus_message_ref(call));
        g_hash_table_insert(m->requests, &r->cookie, r);
        return r;
}

void manager_remember_limit(Manager *m, const char *path, uint64_t limit) {
        g_hash_table_replace(m->remembered, g_strdup(path), g_memdup2(&limit, sizeof limit));
}

bool memcg_error_is_transient(MemcgErrorCode code) {
        return !IN_SET_ERR(code, MEMCG_ERROR_INVALID_PATH, MEMCG_ERROR_NO_SUCH_CGROUP, MEMCG_ERROR_NOT_MEMCG);
}

void manager_add_dormant(Manager *m, const char *path, uint64_t original_max, uint64_t original_high,
                         bool original_okd, uint64_t initial_limit, OomPolicy oom_policy) {
        StateMonitored *e = g_new0(StateMonitored, 1);

        /* e->path stays NULL: the key is the path. */
        e->original_max = original_max;
        e->original_high = original_high;
        e->original_okd = original_okd;
        e->initial_limit = initial_limit;
        e->oom_policy = oom_policy;
        g_hash_table_replace(m->dormant, g_strdup(path), e);
}

void manager_drop_dormant(Manager *m, const char *path) {
        g_hash_table_remove(m->dormant, path);
}

StateMonitored *manager_get_dormant(Manager *m, const char *path) {
        return g_hash_table_lookup(m->dormant, path);
}

/* What a worker's Unmonitor does, for a cgroup no worker holds: the limits
 * from before Monitor come back unless usage is above them now, and v1's
 * oom_kill_disable is what it was before Monitor (the record's; the file
 * may hold the 1 of a policy that held tasks at the limit).
 * Failures are logged: the entry goes either way, as it does for a
 * monitored cgroup whose restore fails. */
static void restore_dormant(Manager *m, const char *path, const StateMonitored *d) {
        _cleanup_(cgroup_root_close) CgroupRoot root = { .fd = -1, .unified_fd = -1 };
        Cgroup *cg = NULL;
        MemcgError err = {};
        uint64_t cur_max, cur_high, usage;
        bool max_written = false;
        int r;

        r = cgroup_root_open(engine_root(m->engine), &root, &err);
        if (r >= 0)
                r = cgroup_open(&root, path, &cg, &err);
        if (r < 0) {
                log_warning("%s: not restoring the limits from before Monitor: %s", path, err.message);
                return;
        }
        r = cgroup_read_limits(cg, &cur_max, &cur_high);
        if (r >= 0)
                r = cgroup_read_usage(cg, &usage);
        if (r < 0)
                log_warning("%s: not restoring the limits from before Monitor: cannot read them: %s", path,
                            strerror(-r));
        else if (d->original_max <= usage)
                log_warning("%s: not restoring the original limit %" PRIu64 ": usage %" PRIu64
                            " is above it; the current limit stays", path, d->original_max, usage);
        else {
                r = cgroup_write_limits(cg, cur_max, d->original_max, d->original_high, &max_written);
                if (r < 0)
                        log_warning("%s: restoring the original limits failed: %s", path, strerror(-r));
                if (max_written)
                        log_info("%s: restored max %" PRIu64 ", high %" PRIu64 " (was max %" PRIu64 ")", path,
                                 d->original_max, d->original_high, cur_max);
        }
        if (cg->backend == BACKEND_V1) {
                r = cgroup_v1_set_oom_kill_disable(cg, d->original_okd);
                if (r < 0)
                        log_warning("%s: cannot set oom_kill_disable back to %d: %s", path, d->original_okd,
                                    strerror(-r));
        }
        cgroup_free(cg);
}

int manager_unmonitor_dormant(Manager *m, const char *path) {
        StateMonitored *d = manager_get_dormant(m, path);

        if (!d)
                return -ENOENT;
        restore_dormant(m, path, d);
        manager_drop_dormant(m, path);
        log_info("Unmonitored %s (it had not been re-attached)", path);
        return manager_save_state(m);
}

MonitoredCgroup *manager_get_cgroup(Manager *m, const char *path) {
        return g_hash_table_lookup(m->cgroups, path);
}

MonitoredCgroup *manager_add_cgroup(Manager *m, const char *path) {
        MonitoredCgroup *c = g_new0(MonitoredCgroup, 1);

        c->manager = m;
        c->path = g_strdup(path);
        if (sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, path, &c->object_path) < 0) {
                monitored_cgroup_free(c);
                return NULL;
        }
        c->state = CGROUP_PENDING;
        c->backend = engine_backend(m->engine);
        g_hash_table_insert(m->cgroups, c->path, c);
        return c;
}

void manager_remove_cgroup(Manager *m, MonitoredCgroup *c) {
        g_hash_table_remove(m->cgroups, c->path);
}

unsigned manager_active_count(Manager *m) {
        GHashTableIter it;
        MonitoredCgroup *c;
        unsigned n = 0;

        g_hash_table_iter_init(&it, m->cgroups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &c))
                if (c->state == CGROUP_ACTIVE)
                        n++;
        return n;
}

void manager_refresh_cgroup(Manager *m, MonitoredCgroup *c) {
        CgroupStats st;
        MemcgError err;

        if (engine_get_stats(m->engine, c->path, &st, &err) < 0)
                return;
        c->backend = st.backend;
        if (st.has[STAT_MAX_LIMIT_BYTES])
                c->max = st.values[STAT_MAX_LIMIT_BYTES];
        if (st.has[STAT_HIGH_LIMIT_BYTES])
                c->high = st.values[STAT_HIGH_LIMIT_BYTES];
        /* The engine's record of the originals wins over what start-up or
         * Monitor captured, once it has one. */
        if (st.monitored && (st.original_max != 0 || st.original_high != 0)) {
                c->original_max = st.original_max;
                c->original_high = st.original_high;
        }
        if (st.monitored)
                c->original_okd = st.original_okd;
        if (st.monitored && st.initial_limit != 0)
                c->initial_limit = st.initial_limit;
}

static void add_monitored_record(State *s, const MonitoredCgroup *c) {
        if (state_add_monitored(s, c->path, c->original_max, c->original_high, c->initial_limit) >= 0) {
                s->monitored[s->n_monitored - 1].oom_policy = c->oom_policy;
                s->monitored[s->n_monitored - 1].original_okd = c->original_okd;
        }
}

/* Arms a one-shot timer `usec` from now, unless it is already armed. */
static int arm_oneshot(Manager *m, sd_event_source **src, uint64_t usec, sd_event_time_handler_t cb) {
        int enabled = SD_EVENT_OFF, r;

        if (!*src)
                return sd_event_add_time_relative(m->event, src, CLOCK_MONOTONIC, usec, 0, cb, m);
        (void) sd_event_source_get_enabled(*src, &enabled);
        if (enabled != SD_EVENT_OFF)
                return 0;
        r = sd_event_source_set_time_relative(*src, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

#define SAVE_RETRY_USEC (UINT64_C(1000) * 1000)

static int on_save_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) manager_save_state(userdata);
        return 0;
}

/* A failed save (ENOSPC, EIO, a read-only remount) is not forgotten: the
 * state is written again every second until a write succeeds, so a change
 * made meanwhile is not lost at the next restart. */
static void schedule_save_retry(Manager *m) {
        int r;

        if (!m->event)
                return;
        r = arm_oneshot(m, &m->save_retry_timer, SAVE_RETRY_USEC, on_save_retry);
        if (r < 0)
                log_warning("Failed to schedule another state save: %s", strerror(-r));
}

int manager_save_state(Manager *m) {
        _cleanup_strv_free_ char **order = NULL;
        State s = {};
        GHashTableIter it;
        const char *path;
        int r;

        /* The engine's list gives a stable (monitor) order; records the
         * engine does not list (yet) are added after it. */
        if (m->engine)
                (void) engine_list_monitored(m->engine, &order);
        /* A set, not a search of the list per record: with thousands of
         * cgroups that search was quadratic, on every save. */
        g_autoptr(GHashTable) listed = order ? g_hash_table_new(g_str_hash, g_str_equal) : NULL;
        for (char **p = order; p && *p; p++) {
                MonitoredCgroup *c = manager_get_cgroup(m, *p);
                g_hash_table_add(listed, *p);
                if (c && c->state != CGROUP_LEAVING)
                        add_monitored_record(&s, c);
        }
        MonitoredCgroup *c;
        g_hash_table_iter_init(&it, m->cgroups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &c)) {
                if (c->state == CGROUP_LEAVING || (listed && g_hash_table_contains(listed, c->path)))
                        continue;
                add_monitored_record(&s, c);
        }

        StateMonitored *d;
        g_hash_table_iter_init(&it, m->dormant);
        while (g_hash_table_iter_next(&it, (void **) &path, (void **) &d))
                if (!manager_get_cgroup(m, path) &&
                    state_add_monitored(&s, path, d->original_max, d->original_high, d->initial_limit) >= 0) {
                        s.monitored[s.n_monitored - 1].oom_policy = d->oom_policy;
                        s.monitored[s.n_monitored - 1].original_okd = d->original_okd;
                }

        uint64_t *limit;
        g_hash_table_iter_init(&it, m->remembered);
        while (g_hash_table_iter_next(&it, (void **) &path, (void **) &limit)) {
                /* The engine is the authority while it runs (a Monitor may
                 * have used the limit up); after shutdown the copy is. */
                if (m->engine)
                        *limit = engine_remembered_limit(m->engine, path);
                if (*limit == 0) {
                        g_hash_table_iter_remove(&it);
                        continue;
                }
                /* A monitored cgroup's record carries its initial limit;
                 * the file lists each path once. */
                c = manager_get_cgroup(m, path);
                if (c && c->state != CGROUP_LEAVING)
                        continue;
                (void) state_add_remembered(&s, path, *limit);
        }

        if (m->state_unreadable) {
                /* Writing now would replace what we could not read with a
                 * subset of it. */
                log_warning("Not saving the monitored set: %s/%s could not be read at start", m->state_directory,
                            STATE_FILE_NAME);
                state_done(&s);
                return -EIO;
        }
        r = state_save(m->state_directory, &s);
        if (r < 0) {
                log_error("Failed to save the monitored set in %s/%s: %s; trying again in 1 s", m->state_directory,
                          STATE_FILE_NAME, strerror(-r));
                schedule_save_retry(m);
        } else {
                if (m->save_retry_timer)
                        (void) sd_event_source_set_enabled(m->save_retry_timer, SD_EVENT_OFF);
                log_debug("Saved state: %zu monitored, %zu remembered", s.n_monitored, s.n_remembered);
        }
        state_done(&s);
        return r;
}

/* `recount`: the monitored set may have changed (counting walks every
 * record; a drain of limit changes alone cannot change it). */
static void send_changed(Manager *m, bool recount) {
        const char *names[4];
        size_t n = 0;
        uint64_t budget = engine_budget_total(m->engine);
        uint64_t granted = engine_budget_granted(m->engine);
        unsigned count = recount ? manager_active_count(m) : m->shown_count;

        if (budget != m->shown_budget)
                names[n++] = "BudgetBytes";
        if (granted != m->shown_granted)
                names[n++] = "GrantedBytes";
        if (count != m->shown_count)
                names[n++] = "MonitoredCount";
        names[n] = NULL;
        m->shown_budget = budget;
        m->shown_granted = granted;
        m->shown_count = count;

        if (n == 0 || !m->bus)
                return;
        int r = sd_bus_emit_properties_changed_strv(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE,
                                                    (char **) names);
        if (r < 0)
                log_warning("Failed to emit PropertiesChanged on %s: %s", MEMCGD_MANAGER_PATH, strerror(-r));
}

void manager_send_changed(Manager *m) {
        send_changed(m, true);
}

/* A shrink posts LIMIT_CHANGED after lowering the limit and before
 * giving the bytes back to the pool (the algorithm's order), so the
 * drain that carries the event may still see the old GrantedBytes. A
 * second look shortly after catches the settled value. */
#define RECHECK_DELAY_USEC (UINT64_C(50) * 1000)

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_send_changed(userdata);
        return 0;
}

static void schedule_recheck(Manager *m) {
        int r = arm_oneshot(m, &m->recheck_timer, RECHECK_DELAY_USEC, on_recheck);
        if (r < 0)
                log_debug("Failed to schedule a GrantedBytes re-check: %s", strerror(-r));
}

/* ---- start-up: re-attach, then take the name ----------------------------- */

static int on_name_acquired(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        uint32_t result = 0;

        if (e) {
                log_error("Failed to acquire the bus name %s: %s", MEMCGD_BUS_NAME, e->message ?: e->name);
                return sd_event_exit(m->event, EXIT_FAILURE);
        }
        /* RequestName's answer: 1 primary owner, 2 queued, 3 exists, 4
         * already owner. Without QUEUE, anything but 1 or 4 means another
         * instance serves. */
        if (sd_bus_message_read(reply, "u", &result) < 0 || (result != 1 && result != 4)) {
                log_error("Failed to acquire the bus name %s: %s", MEMCGD_BUS_NAME,
                          result == 3 ? "another process owns it" : "unexpected answer from the bus");
                return sd_event_exit(m->event, EXIT_FAILURE);
        }

        m->ready = true;
        log_info("Serving %s on the system bus, %u cgroup(s) monitored", MEMCGD_BUS_NAME, manager_active_count(m));
        (void) sd_notifyf(false, "READY=1\nSTATUS=Monitoring %u cgroup(s)", manager_active_count(m));
        return 0;
}

static void request_name(Manager *m) {
        int r;

        if (m->name_requested)
                return;
        m->name_requested = true;
        m->reattach_timer = sd_event_source_disable_unref(m->reattach_timer);

        /* No QUEUE and no REPLACE: a second instance must fail loudly
         * instead of waiting in line. */
        r = sd_bus_request_name_async(m->bus, NULL, MEMCGD_BUS_NAME, 0, on_name_acquired, m);
        if (r < 0) {
                log_error("Failed to request the bus name %s: %s", MEMCGD_BUS_NAME, strerror(-r));
                (void) sd_event_exit(m->event, EXIT_FAILURE);
        }
}

static int on_reattach_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("%u re-attached cgroup(s) did not report back in time; serving anyway", m->reattach_pending);
        request_name(m);
        return 0;
}

static void reattach_done(Manager *m) {
        if (m->reattach_pending > 0)
                m->reattach_pending--;
        if (m->reattach_pending == 0)
                request_name(m);
}

/* Puts every cgroup of the state file back under a worker, with the
 * limits it has now and the originals from before the first Monitor. */
static void reattach_from_state(Manager *m) {
        State s = {};
        int r;

        r = state_load(m->state_directory, &s);
        if (r < 0) {
                log_error("Failed to read %s/%s: %s; starting with nothing monitored and leaving the file alone",
                          m->state_directory, STATE_FILE_NAME, strerror(-r));
                m->state_unreadable = true;
                return;
        }
        if (s.bad_header) {
                /* Saving now would replace a file of another version (or
                 * one damaged at its start) with an empty monitored set:
                 * the same as a file that cannot be read at all. */
                log_error("Cannot use %s/%s: it does not start with a known version header; starting with nothing "
                          "monitored and leaving the file alone", m->state_directory, STATE_FILE_NAME);
                m->state_unreadable = true;
                state_done(&s);
                return;
        }
        if (r > 0)
                log_warning("Ignored %d damaged line(s) of %s/%s, kept the rest", r, m->state_directory,
                            STATE_FILE_NAME);

        for (size_t i = 0; i < s.n_monitored; i++) {
                const StateMonitored *e = &s.monitored[i];
                MonitorRequest req = {
                        .path = e->path,
                        .initial_limit = e->initial_limit,
                        .flags = ENGINE_MONITOR_REATTACH,
                        .restore_max = e->original_max,
                        .restore_high = e->original_high,
                        .restore_okd = e->original_okd,
                        .cookie = manager_new_cookie(m),
                        .oom_policy = e->oom_policy,
                };
                MemcgError err = {};
                bool already = false;
                MonitoredCgroup *c;

                if (engine_monitor(m->engine, &req, &already, &err) < 0) {
                        if (memcg_error_is_transient(err.code)) {
                                log_warning("Cannot re-attach %s now, keeping it for the next start: %s", e->path,
                                            err.message);
                                manager_add_dormant(m, e->path, e->original_max, e->original_high,
                                                    e->original_okd, e->initial_limit, e->oom_policy);
                        } else
                                log_warning("Not re-attaching %s: %s", e->path, err.message);
                        continue;
                }
                if (already)
                        continue;
                c = manager_add_cgroup(m, e->path);
                if (!c)
                        continue;
                c->original_max = e->original_max;
                c->original_high = e->original_high;
                c->original_okd = e->original_okd;
                c->initial_limit = e->initial_limit;
                c->oom_policy = e->oom_policy;
                c->pending_cookie = req.cookie;
                (void) manager_add_request(m, req.cookie, REQUEST_REATTACH, e->path, 0, NULL);
                m->reattach_pending++;
        }

        for (size_t i = 0; i < s.n_remembered; i++) {
                const StateRemembered *e = &s.remembered[i];
                MemcgError err = {};
                bool deferred = false;

                if (manager_get_cgroup(m, e->path))
                        continue;
                if (engine_set_initial_limit(m->engine, e->path, e->limit, 0, &deferred, &err) < 0) {
                        log_warning("Forgetting the start limit of %s: %s", e->path, err.message);
                        continue;
                }
                if (deferred)
                        manager_remember_limit(m, e->path, e->limit);
        }

        if (s.n_monitored > 0)
                log_info("Re-attaching %u of %zu cgroup(s) from %s/%s", m->reattach_pending, s.n_monitored,
                         m->state_directory, STATE_FILE_NAME);
        state_done(&s);

        /* Whatever could not be re-attached is dropped from the file now,
         * not at the next change. */
        (void) manager_save_state(m);
}

/* ---- the engine's events ------------------------------------------------- */

static void reply_calls(Request *req, sd_bus_message *(*build)(sd_bus_message *call, void *userdata), void *userdata) {
        for (guint i = 0; i < req->calls->len; i++) {
                sd_bus_message *call = g_ptr_array_index(req->calls, i);
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = build(call, userdata);
                int r = reply ? sd_bus_send(NULL, reply, NULL) : -ENOMEM;
                if (r < 0)
                        log_debug("Failed to reply to %s: %s", sd_bus_message_get_sender(call) ?: "n/a", strerror(-r));
        }
}

static sd_bus_message *build_error_reply(sd_bus_message *call, void *userdata) {
        const MemcgError *e = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;

        (void) bus_error_from_memcg(&error, e);
        if (sd_bus_message_new_method_error(call, &reply, &error) < 0)
                return NULL;
        return reply;
}

static sd_bus_message *build_path_reply(sd_bus_message *call, void *userdata) {
        sd_bus_message *reply = NULL;

        if (sd_bus_message_new_method_return(call, &reply) < 0)
                return NULL;
        if (sd_bus_message_append(reply, "o", (const char *) userdata) < 0)
                return sd_bus_message_unref(reply);
        return reply;
}

static sd_bus_message *build_empty_reply(sd_bus_message *call, void *userdata) {
        sd_bus_message *reply = NULL;

        if (sd_bus_message_new_method_return(call, &reply) < 0)
                return NULL;
        return reply;
}

/* Per-event bookkeeping between the phases of a drain. */
typedef struct Slot {
        bool skip;                 /* merged into an earlier event */
        Request *request;          /* REQUEST_DONE: taken out of m->requests */
        MonitoredCgroup *gone;     /* STOPPED: record taken out of m->cgroups */
        char *object_path;         /* REQUEST_DONE of a Monitor: what to answer */
} Slot;

/* Coalescing rule. Within one drain, an event merges into the previous
 * kept event *of the same cgroup* when both have the same type and:
 *   LIMIT_CHANGED with the same reason: one signal with the first
 *     old_max and the last new_max/new_high (a burst of grows reads as
 *     one step from where it started to where it ended);
 *   OOM of the same kind: one signal with the last (highest) counter
 *     and the last task list;
 *   BUDGET_EXHAUSTED: one signal with the last requested/granted.
 * Any other event of that cgroup in between ends the run, so per cgroup
 * the order of reasons is kept and initial, manual and restore changes are
 * never folded into grows or shrinks. REQUEST_DONE and STOPPED are never
 * merged. */
static void coalesce(EngineEvent *evs, Slot *slots, size_t n) {
        g_autoptr(GHashTable) last = g_hash_table_new(g_str_hash, g_str_equal); /* path -> index+1 */

        for (size_t i = 0; i < n; i++) {
                EngineEvent *ev = &evs[i];
                size_t prev;

                if (!ev->path)
                        continue;
                prev = GPOINTER_TO_SIZE(g_hash_table_lookup(last, ev->path));
                if (prev > 0) {
                        EngineEvent *p = &evs[prev - 1];
                        bool merge = false;

                        if (p->type == ev->type)
                                switch (ev->type) {
                                case ENGINE_EVENT_LIMIT_CHANGED:
                                        if (p->reason == ev->reason) {
                                                p->new_max = ev->new_max;
                                                p->new_high = ev->new_high;
                                                merge = true;
                                        }
                                        break;
                                case ENGINE_EVENT_OOM:
                                        if (p->oom_kind == ev->oom_kind) {
                                                EngineTask *t = p->tasks;
                                                size_t nt = p->n_tasks;

                                                /* The later task list goes with
                                                 * the later count; the older
                                                 * one is freed with the skipped
                                                 * event. */
                                                p->oom_count = ev->oom_count;
                                                p->tasks = ev->tasks;
                                                p->n_tasks = ev->n_tasks;
                                                p->killed = ev->killed;
                                                ev->tasks = t;
                                                ev->n_tasks = nt;
                                                merge = true;
                                        }
                                        break;
                                case ENGINE_EVENT_BUDGET_EXHAUSTED:
                                        p->requested = ev->requested;
                                        p->granted = ev->granted;
                                        merge = true;
                                        break;
                                default:
                                        break;
                                }
                        if (merge) {
                                slots[i].skip = true;
                                continue;
                        }
                }
                g_hash_table_insert(last, ev->path, GSIZE_TO_POINTER(i + 1));
        }
}

static const char *request_type_name(RequestType t) {
        static const char *const names[] = {
                [REQUEST_MONITOR] = "Monitor",
                [REQUEST_REATTACH] = "Re-attaching",
                [REQUEST_UNMONITOR] = "Unmonitor",
                [REQUEST_SET_LIMIT] = "SetInitialLimit",
                [REQUEST_RESOLVE_OOM] = "ResolveOom",
        };
        return (unsigned) t < G_N_ELEMENTS(names) ? names[t] : "A request for";
}

/* Phase 2: the records follow the events. Returns whether the state file
 * must be rewritten. */
static bool apply_event(Manager *m, EngineEvent *ev, Slot *slot, GPtrArray *owed) {
        MonitoredCgroup *c = ev->path ? manager_get_cgroup(m, ev->path) : NULL;
        Request *req;

        switch (ev->type) {
        case ENGINE_EVENT_LIMIT_CHANGED:
                if (c) {
                        c->max = ev->new_max;
                        c->high = ev->new_high;
                        if (!c->limits_changed && !c->oom_changed)
                                g_ptr_array_add(owed, c);
                        c->limits_changed = true;
                }
                return false;

        case ENGINE_EVENT_OOM:
                if (c && (ev->oom_kind == OOM_KIND_FROZEN || ev->oom_kind == OOM_KIND_RESOLVED)) {
                        c->oom_waiting = ev->oom_kind == OOM_KIND_FROZEN;
                        if (!c->limits_changed && !c->oom_changed)
                                g_ptr_array_add(owed, c);
                        c->oom_changed = true;
                }
                return false;

        case ENGINE_EVENT_STOPPED:
                if (!c)
                        return false;
                g_hash_table_steal(m->cgroups, c->path);
                slot->gone = c;
                return true;

        case ENGINE_EVENT_REQUEST_DONE:
                req = g_hash_table_lookup(m->requests, &ev->cookie);
                if (!req)
                        return false;
                g_hash_table_steal(m->requests, &ev->cookie);
                slot->request = req;
                c = manager_get_cgroup(m, req->path);

                if (ev->error.code != MEMCG_OK) {
                        /* The caller gets the error; the journal keeps it
                         * too, since it may say the kernel refused. */
                        log_warning("%s %s failed: %s", request_type_name(req->type), req->path,
                                    ev->error.message);
                        if ((req->type == REQUEST_MONITOR || req->type == REQUEST_REATTACH) && c &&
                            c->state == CGROUP_PENDING && c->pending_cookie == req->cookie &&
                            !engine_is_monitored(m->engine, req->path)) {
                                if (req->type == REQUEST_REATTACH && memcg_error_is_transient(ev->error.code)) {
                                        log_warning("Cannot re-attach %s now, keeping it for the next start: %s",
                                                    req->path, ev->error.message);
                                        manager_add_dormant(m, req->path, c->original_max, c->original_high,
                                                            c->original_okd, c->initial_limit, c->oom_policy);
                                } else if (req->type == REQUEST_REATTACH)
                                        log_warning("Not re-attaching %s: %s", req->path, ev->error.message);
                                /* A failed start may have announced a limit
                                 * (written, then put back) in this drain: the
                                 * record is freed now, so it is owed nothing. */
                                if (c->limits_changed || c->oom_changed)
                                        g_ptr_array_remove_fast(owed, c);
                                manager_remove_cgroup(m, c);
                                return true;
                        }
                        return false;
                }

                switch (req->type) {
                case REQUEST_MONITOR:
                case REQUEST_REATTACH:
                        if (!c)
                                return false;
                        if (c->state == CGROUP_PENDING)
                                c->state = CGROUP_ACTIVE;
                        c->pending_cookie = 0;
                        manager_refresh_cgroup(m, c);
                        slot->object_path = c->object_path;
                        if (req->type == REQUEST_MONITOR)
                                log_info("Monitoring %s (max %" PRIu64 ", high %" PRIu64 ")", c->path, c->max, c->high);
                        else
                                log_info("Re-attached %s (max %" PRIu64 ", high %" PRIu64 ")", c->path, c->max, c->high);
                        /* A Monitor supersedes an entry that could not be
                         * re-attached, once it succeeded. */
                        if (req->type == REQUEST_MONITOR)
                                manager_drop_dormant(m, req->path);
                        /* The original limits are now the engine's, maybe
                         * more exact than what Monitor captured. */
                        return true;
                case REQUEST_UNMONITOR:
                        if (c)
                                c->state = CGROUP_LEAVING;
                        log_info("Unmonitored %s", req->path);
                        return true;
                case REQUEST_SET_LIMIT:
                        if (c)
                                c->initial_limit = req->limit;
                        return true;
                case REQUEST_RESOLVE_OOM:
                        return false;
                }
                return false;

        default:
                return false;
        }
}

/* Phase 4: what the bus sees, in event order. */
static void emit_event(Manager *m, EngineEvent *ev, Slot *slot) {
        switch (ev->type) {
        case ENGINE_EVENT_LIMIT_CHANGED:
                manager_bus_emit_limit_changed(m, ev);
                break;
        case ENGINE_EVENT_OOM:
                manager_bus_emit_oom(m, ev);
                break;
        case ENGINE_EVENT_BUDGET_EXHAUSTED:
                manager_bus_emit_budget_exhausted(m, ev);
                break;
        case ENGINE_EVENT_TASKS_KILLED:
                manager_bus_emit_tasks_killed(m, ev);
                break;
        case ENGINE_EVENT_PRESSURE:
                manager_bus_emit_pressure(m, ev);
                break;
        case ENGINE_EVENT_RECLAIM_WANTED:
                reclaim_bus_request(m, ev);
                break;
        case ENGINE_EVENT_STOPPED:
                if (slot->gone) {
                        if (slot->gone->exported)
                                manager_bus_cgroup_removed(m, slot->gone);
                        if (ev->stop_reason != STOP_REASON_UNMONITORED)
                                log_info("Stopped monitoring %s: %s", ev->path, stop_reason_to_string(ev->stop_reason));
                }
                if (ev->stop_reason != STOP_REASON_SHUTDOWN)
                        manager_bus_emit_monitor_stopped(m, ev->path, ev->stop_reason);
                release_parked(m, ev->path);
                break;
        case ENGINE_EVENT_REQUEST_DONE: {
                Request *req = slot->request;
                if (!req)
                        break;
                if (ev->error.code != MEMCG_OK) {
                        reply_calls(req, build_error_reply, &ev->error);
                } else if (req->type == REQUEST_MONITOR || req->type == REQUEST_REATTACH) {
                        MonitoredCgroup *c = manager_get_cgroup(m, req->path);
                        if (c && !c->exported && c->state != CGROUP_PENDING)
                                manager_bus_cgroup_added(m, c);
                        if (slot->object_path)
                                reply_calls(req, build_path_reply, slot->object_path);
                        else {
                                /* Stopped within the same drain: the object
                                 * is already gone, the path is still the
                                 * answer. */
                                _cleanup_free_ char *p = NULL;
                                if (sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, req->path, &p) >= 0)
                                        reply_calls(req, build_path_reply, p);
                        }
                } else
                        reply_calls(req, build_empty_reply, NULL);
                if (req->type == REQUEST_REATTACH)
                        reattach_done(m);
                break;
        }
        }
}

static void process_events(Manager *m, EngineEvent *evs, size_t n) {
        g_autofree Slot *slots = g_new0(Slot, n);
        /* The cgroups owed a PropertiesChanged: a drain carries a few
         * events, and walking all of thousands of cgroups after each
         * showed in the idle daemon's profile. */
        g_autoptr(GPtrArray) owed = g_ptr_array_new();
        bool dirty = false, limits = false, members = false;

        coalesce(evs, slots, n);

        for (size_t i = 0; i < n; i++) {
                if (slots[i].skip)
                        continue;
                dirty |= apply_event(m, &evs[i], &slots[i], owed);
                limits |= evs[i].type == ENGINE_EVENT_LIMIT_CHANGED || evs[i].type == ENGINE_EVENT_STOPPED;
                members |= evs[i].type == ENGINE_EVENT_REQUEST_DONE || evs[i].type == ENGINE_EVENT_STOPPED;
        }

        /* Saved before any reply leaves: a caller that saw its Monitor
         * succeed can rely on the cgroup surviving a crash. */
        if (dirty)
                (void) manager_save_state(m);

        for (size_t i = 0; i < n; i++) {
                if (slots[i].skip)
                        continue;
                emit_event(m, &evs[i], &slots[i]);
        }

        /* One PropertiesChanged per object and drain; not for a record
         * that stopped in the same drain (no longer in the table, freed
         * below). */
        for (guint i = 0; i < owed->len; i++) {
                MonitoredCgroup *c = owed->pdata[i];
                if (manager_get_cgroup(m, c->path) != c)
                        continue;
                if (c->oom_changed) {
                        c->oom_changed = false;
                        if (c->exported)
                                manager_bus_emit_oom_changed(m, c);
                }
                if (!c->limits_changed)
                        continue;
                c->limits_changed = false;
                if (!c->exported)
                        continue;
                int r = sd_bus_emit_properties_changed(m->bus, c->object_path, MEMCGD_CGROUP_INTERFACE,
                                                       "MaxLimitBytes", "HighLimitBytes", NULL);
                if (r < 0)
                        log_debug("Failed to emit PropertiesChanged on %s: %s", c->object_path, strerror(-r));
        }
        send_changed(m, members);
        if (limits)
                schedule_recheck(m);

        for (size_t i = 0; i < n; i++) {
                request_free(slots[i].request);
                monitored_cgroup_free(slots[i].gone);
        }
}

void manager_process_engine_events(Manager *m) {
        /* Room grows with the events: a wake-up mostly carries a few, and
         * zeroing DRAIN_MAX of them (~700 KiB, an mmap of its own) on
         * every wake-up showed in profiles of the service under load. */
        g_autofree EngineEvent *evs = NULL;
        size_t n = 0, allocated = 0;

        while (n < DRAIN_MAX) {
                if (n == allocated) {
                        allocated = MIN(MAX(allocated * 2, (size_t) 16), (size_t) DRAIN_MAX);
                        evs = g_renew(EngineEvent, evs, allocated);
                }
                if (engine_pop_event(m->engine, &evs[n]) <= 0)
                        break;
                n++;
        }
        if (n > 0)
                process_events(m, evs, n);
        for (size_t i = 0; i < n; i++)
                engine_event_done(&evs[i]);
}

static int on_engine_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        manager_process_engine_events(userdata);
        return 0;
}

/* ---- signals and the bus connection -------------------------------------- */

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, shutting down", strsignal((int) si->ssi_signo));
        return sd_event_exit(m->event, EXIT_SUCCESS);
}

static int on_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;

        log_error("Lost the connection to the system bus, exiting");
        return sd_event_exit(m->event, EXIT_FAILURE);
}

int manager_start(Manager *m) {
        int r;

        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_signal, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM/SIGINT: %s", strerror(-r));

        r = sd_event_add_io(m->event, &m->engine_source, engine_event_fd(m->engine), EPOLLIN, on_engine_event, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the engine's event queue: %s", strerror(-r));

        r = sd_bus_open_system_with_description(&m->bus, "memcgd");
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus (%s): %s",
                                       getenv("DBUS_SYSTEM_BUS_ADDRESS") ?: "unix:path=/run/dbus/system_bus_socket",
                                       strerror(-r));

        r = sd_bus_match_signal(m->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the bus connection: %s", strerror(-r));

        /* Objects before the name: a client that sees the name appear can
         * call right away. */
        r = manager_bus_register(m);
        if (r >= 0)
                r = reclaim_bus_register(m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the bus objects: %s", strerror(-r));

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %s", strerror(-r));

        m->shown_budget = engine_budget_total(m->engine);
        m->shown_granted = engine_budget_granted(m->engine);

        (void) lowmem_start(m);

        reattach_from_state(m);
        if (m->reattach_pending == 0)
                request_name(m);
        else {
                r = sd_event_add_time_relative(m->event, &m->reattach_timer, CLOCK_MONOTONIC, REATTACH_TIMEOUT_USEC,
                                               0, on_reattach_timeout, m);
                if (r < 0)
                        request_name(m);
        }
        return 0;
}

int manager_run(Manager *m) {
        int r, code;

        r = sd_event_loop(m->event);
        code = r < 0 ? EXIT_FAILURE : r;
        if (r < 0)
                log_error("Event loop failed: %s", strerror(-r));

        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");

        /* Stop accepting: no more calls are read once the bus is closed;
         * calls still waiting get an answer first. */
        fail_pending_requests(m, "memcgd is shutting down");
        m->polkit = polkit_registry_free(m->polkit);
        if (m->reclaim_asked)
                g_hash_table_remove_all(m->reclaim_asked);
        lowmem_stop(m);
        if (m->bus) {
                m->bus = sd_bus_flush_close_unref(m->bus);
        }
        reclaim_bus_done(m);

        /* Joins every worker; limits stay as they are for the next start. */
        m->engine_source = sd_event_source_disable_unref(m->engine_source);
        m->engine = engine_free(m->engine);

        r = manager_save_state(m);
        if (r < 0 && code == EXIT_SUCCESS)
                code = EXIT_FAILURE;
        return code;
}
