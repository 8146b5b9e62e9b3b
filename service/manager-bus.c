/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>

#include "config.h" /* the build's: MEMCGD_VERSION */
#include "manager.h"
#include "util.h"

#define ACTION_MONITOR "org.memcgd1.monitor"
#define ACTION_SET_LIMIT "org.memcgd1.set-limit"
#define ACTION_RESOLVE_OOM "org.memcgd1.resolve-oom"

/* Tasks listed in an Oom signal: enough to name the culprits, bounded so
 * that a fork bomb cannot make one signal huge. */
#define OOM_TASKS_MAX 1024

int bus_error_from_memcg(sd_bus_error *error, const MemcgError *e) {
        if (e->code == MEMCG_OK)
                return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "Unknown failure.");
        return sd_bus_error_set(error, memcg_error_name(e->code), e->message[0] ? e->message : NULL);
}

/* ---- GetStats -------------------------------------------------------------- */

/* A string known to be valid UTF-8 (the keys are ASCII constants, paths
 * were validated when they were monitored): copied in without sd-bus'
 * check of every character. */
static int append_valid_string(sd_bus_message *m, const char *s) {
        size_t n = strlen(s);
        char *p;
        int r;

        r = sd_bus_message_append_string_space(m, n, &p);
        if (r < 0)
                return r;
        memcpy(p, s, n);
        return 0;
}

/* One {sv} entry, through sd-bus' element calls: sd_bus_message_append()
 * parsed its format string again for each of the ~20 entries of a reply,
 * a third of GetStats' time in the daemon. */
static int append_entry(sd_bus_message *m, const char *key, char type, const void *value) {
        const char sig[2] = { type, '\0' };
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
        if (r < 0)
                return r;
        r = append_valid_string(m, key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, sig);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(m, type, value);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

static int append_entry_u64(sd_bus_message *m, const char *key, uint64_t v) {
        return append_entry(m, key, SD_BUS_TYPE_UINT64, &v);
}

static int append_entry_bool(sd_bus_message *m, const char *key, bool b) {
        int v = b;
        return append_entry(m, key, SD_BUS_TYPE_BOOLEAN, &v);
}

static int append_stats(sd_bus_message *reply, const char *path, const CgroupStats *st) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        r = append_entry(reply, "cgroup", SD_BUS_TYPE_STRING, path);
        if (r >= 0)
                r = append_entry(reply, "backend", SD_BUS_TYPE_STRING, backend_to_string(st->backend));
        if (r >= 0)
                r = append_entry_bool(reply, "monitored", st->monitored);
        if (r < 0)
                return r;
        for (StatKey k = 0; k < _STAT_U64_MAX; k++) {
                if (!st->has[k])
                        continue;
                r = append_entry_u64(reply, stat_key_to_string(k), st->values[k]);
                if (r < 0)
                        return r;
        }
        if (st->monitored) {
                uint32_t nic = st->no_increase_count;
                r = append_entry(reply, "no_increase_count", SD_BUS_TYPE_UINT32, &nic);
                if (r >= 0)
                        r = append_entry(reply, "oom_policy", SD_BUS_TYPE_STRING, oom_policy_to_string(st->oom_policy));
                if (r >= 0)
                        r = append_entry_bool(reply, "oom_waiting", st->oom_waiting);
                if (r >= 0)
                        r = append_entry_u64(reply, "emergency_grants", st->emergency_grants);
                if (r >= 0 && st->last_oom_realtime_usec > 0)
                        r = append_entry_u64(reply, "last_oom_usec", st->last_oom_realtime_usec);
                if (r >= 0 && st->oom_waiting)
                        r = append_entry_u64(reply, "oom_decision_deadline_usec", st->oom_decision_deadline_usec);
                if (r < 0)
                        return r;
        }
        if (st->monitored && st->pressure_source != PRESSURE_SOURCE_NONE) {
                uint8_t level = (uint8_t) st->pressure_level;
                r = append_entry(reply, "pressure_level", SD_BUS_TYPE_BYTE, &level);
                if (r < 0)
                        return r;
        }
        if (st->has_pressure_some) {
                r = append_entry(reply, "pressure_some_avg10", SD_BUS_TYPE_DOUBLE, &st->pressure_some_avg10);
                if (r < 0)
                        return r;
        }
        if (st->has_pressure_full) {
                r = append_entry(reply, "pressure_full_avg10", SD_BUS_TYPE_DOUBLE, &st->pressure_full_avg10);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int reply_stats(Manager *m, sd_bus_message *msg, const char *path, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        CgroupStats st = {};
        MemcgError err = {};
        int r;

        if (engine_get_stats(m->engine, path, &st, &err) < 0)
                return bus_error_from_memcg(error, &err);

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = append_stats(reply, path, &st);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* ---- org.memcgd1.Manager methods ------------------------------------------- */

/* Order of checks in the three changing methods: first the path's syntax
 * (a pure string check that reveals nothing about this host), then
 * authorization, then everything that looks at the system (does the
 * cgroup exist, is it a memcg, is it monitored, does the limit fit). So a
 * malformed call fails fast without a polkit round trip or a password
 * prompt, and a caller that may not act learns nothing from the error
 * beyond what it sent. */

static int method_monitor(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path;
        uint64_t limit;
        MemcgError err = {};
        MonitoredCgroup *c;
        StateMonitored *d;
        CgroupStats before = {};
        bool already = false, have_before = false;
        int r;

        r = sd_bus_message_read(msg, "st", &path, &limit);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);

        r = polkit_check(m->polkit, msg, ACTION_MONITOR, (const char *const[]) { "cgroup", path, NULL }, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* parked until polkit answers */

        c = manager_get_cgroup(m, path);
        /* A record the engine no longer monitors is on its way out: an
         * Unmonitor accepted before this call (answered or not yet), or a
         * worker that ended on its own. Answering "monitored" here would
         * be undone right after; the call waits until that worker is
         * gone and then runs as a fresh Monitor (a client that awaited
         * Unmonitor's reply and calls Monitor at once gets a monitor). */
        if (c && (c->state == CGROUP_LEAVING || !engine_is_monitored(m->engine, path))) {
                manager_park_monitor(m, path, msg);
                return 1;
        }
        if (c) {
                switch (c->state) {
                case CGROUP_ACTIVE:
                        return sd_bus_reply_method_return(msg, "o", c->object_path);
                case CGROUP_PENDING: {
                        /* Same outcome as the Monitor already under way. */
                        Request *req = g_hash_table_lookup(m->requests, &c->pending_cookie);
                        if (req) {
                                g_ptr_array_add(req->calls, sd_bus_message_ref(msg));
                                return 1;
                        }
                        break;
                }
                case CGROUP_LEAVING:
                        break;
                }
        }

        MonitorRequest req = {
                .path = path,
                .initial_limit = limit,
                .cookie = manager_new_cookie(m),
                .oom_policy = m->default_oom_policy,
        };
        d = c ? NULL : manager_get_dormant(m, path);
        if (d) {
                /* An entry of the state file that could not be re-attached
                 * at start: its limits now are the ones memcgd set, the
                 * ones from before the first Monitor are in the entry, and
                 * are what Unmonitor restores. Without a limit, the start
                 * limit is the entry's (SetInitialLimit keeps it there). */
                req.flags = ENGINE_MONITOR_ORIGINALS;
                req.restore_max = d->original_max;
                req.restore_high = d->original_high;
                req.restore_okd = d->original_okd;
                if (limit == 0)
                        req.initial_limit = d->initial_limit;
                req.oom_policy = d->oom_policy;
        } else
                /* The limits before the worker touches them: what
                 * Unmonitor restores, saved before the worker writes
                 * anything so that a crash in between still knows them. */
                have_before = engine_get_stats(m->engine, path, &before, &err) >= 0 && !before.monitored;

        r = engine_monitor(m->engine, &req, &already, &err);
        if (r < 0)
                return bus_error_from_memcg(error, &err);

        if (!c)
                c = manager_add_cgroup(m, path);
        if (!c)
                return -ENOMEM;

        if (already) {
                /* The engine had it and we had no record (or a stale
                 * one): adopt it as it is. */
                c->state = CGROUP_ACTIVE;
                c->pending_cookie = 0;
                manager_refresh_cgroup(m, c);
                (void) manager_save_state(m);
                if (!c->exported)
                        manager_bus_cgroup_added(m, c);
                manager_send_changed(m);
                return sd_bus_reply_method_return(msg, "o", c->object_path);
        }

        if (d) {
                /* The dormant entry stays until the worker reports
                 * success: a failed Monitor must not lose it. */
                c->original_max = d->original_max;
                c->original_high = d->original_high;
                c->original_okd = d->original_okd;
        } else if (have_before) {
                c->original_max = before.has[STAT_MAX_LIMIT_BYTES] ? before.values[STAT_MAX_LIMIT_BYTES] : 0;
                c->original_high = before.has[STAT_HIGH_LIMIT_BYTES] ? before.values[STAT_HIGH_LIMIT_BYTES] : 0;
        }
        c->initial_limit = req.initial_limit;
        c->oom_policy = req.oom_policy;
        c->state = CGROUP_PENDING;
        c->pending_cookie = req.cookie;
        (void) manager_add_request(m, req.cookie, REQUEST_MONITOR, path, limit, msg);
        (void) manager_save_state(m);
        return 1;
}

static int method_unmonitor(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path;
        MemcgError err = {};
        MonitoredCgroup *c;
        uint64_t cookie;
        int r;

        r = sd_bus_message_read(msg, "s", &path);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);

        r = polkit_check(m->polkit, msg, ACTION_MONITOR, (const char *const[]) { "cgroup", path, NULL }, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        c = manager_get_cgroup(m, path);
        if (!c && manager_get_dormant(m, path)) {
                /* Not monitored since the re-attach failed: no worker to
                 * stop, but the limits from before Monitor come back as
                 * for any Unmonitor. */
                (void) manager_unmonitor_dormant(m, path);
                return sd_bus_reply_method_return(msg, NULL);
        }
        if (c && c->state == CGROUP_LEAVING)
                return sd_bus_error_setf(error, memcg_error_name(MEMCG_ERROR_NOT_MONITORED),
                                         "Cgroup %s is not monitored: it is being unmonitored already.", path);

        cookie = manager_new_cookie(m);
        r = engine_unmonitor(m->engine, path, cookie, &err);
        if (r < 0)
                return bus_error_from_memcg(error, &err);

        (void) manager_add_request(m, cookie, REQUEST_UNMONITOR, path, 0, msg);
        return 1;
}

static int method_set_initial_limit(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path;
        uint64_t limit, cookie;
        MemcgError err = {};
        bool deferred = false;
        char limit_str[21];
        int r;

        r = sd_bus_message_read(msg, "st", &path, &limit);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);

        (void) snprintf(limit_str, sizeof limit_str, "%" PRIu64, limit);
        r = polkit_check(m->polkit, msg, ACTION_SET_LIMIT,
                         (const char *const[]) { "cgroup", path, "limit", limit_str, NULL }, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        cookie = manager_new_cookie(m);
        r = engine_set_initial_limit(m->engine, path, limit, cookie, &deferred, &err);
        if (r < 0)
                return bus_error_from_memcg(error, &err);

        if (deferred) {
                StateMonitored *d = manager_get_dormant(m, path);
                /* A dormant entry carries its start limit in its own
                 * record: a "remember" line beside it would list the path
                 * twice, and the next start would drop it. */
                if (d)
                        d->initial_limit = limits_page_round_up(limit);
                else
                        manager_remember_limit(m, path, limit);
                (void) manager_save_state(m);
                return sd_bus_reply_method_return(msg, NULL);
        }

        (void) manager_add_request(m, cookie, REQUEST_SET_LIMIT, path, limit, msg);
        return 1;
}

static int method_get_stats(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path;
        int r;

        r = sd_bus_message_read(msg, "s", &path);
        if (r < 0)
                return r;
        return reply_stats(m, msg, path, error);
}

static int method_set_oom_policy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path, *name;
        MemcgError err = {};
        MonitoredCgroup *c;
        OomPolicy policy;
        int r;

        r = sd_bus_message_read(msg, "ss", &path, &name);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);
        if (oom_policy_from_string(name, &policy) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown OOM policy '%s' for cgroup %s: expected kill, grow or freeze.",
                                         name, path);

        /* Choosing what happens at the limit is part of monitoring. */
        r = polkit_check(m->polkit, msg, ACTION_MONITOR,
                         (const char *const[]) { "cgroup", path, "oom_policy", name, NULL }, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        c = manager_get_cgroup(m, path);
        if (!c) {
                /* A path that is no memcg at all says so, as the other
                 * methods do. */
                CgroupStats st = {};
                if (engine_get_stats(m->engine, path, &st, &err) < 0 &&
                    (err.code == MEMCG_ERROR_NO_SUCH_CGROUP || err.code == MEMCG_ERROR_NOT_MEMCG))
                        return bus_error_from_memcg(error, &err);
        }
        if (!c || c->state != CGROUP_ACTIVE)
                return sd_bus_error_setf(error, memcg_error_name(MEMCG_ERROR_NOT_MONITORED),
                                         "Cgroup %s is not monitored: Monitor it first, then set its OOM policy.",
                                         path);
        r = engine_set_oom_policy(m->engine, path, policy, &err);
        if (r < 0)
                return bus_error_from_memcg(error, &err);
        if (c->oom_policy != policy) {
                c->oom_policy = policy;
                (void) manager_save_state(m);
                manager_bus_emit_oom_changed(m, c);
        }
        log_info("%s: OOM policy %s", path, name);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_resolve_oom(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path, *name;
        uint64_t bytes, cookie;
        MemcgError err = {};
        OomDecision decision;
        char bytes_str[21];
        int r;

        r = sd_bus_message_read(msg, "sst", &path, &name, &bytes);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);
        if (oom_decision_from_string(name, &decision) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Unknown OOM decision '%s' for cgroup %s: expected raise, kill-largest or kill-all.",
                                         name, path);

        (void) snprintf(bytes_str, sizeof bytes_str, "%" PRIu64, bytes);
        r = polkit_check(m->polkit, msg, ACTION_RESOLVE_OOM,
                         (const char *const[]) { "cgroup", path, "decision", name, "bytes", bytes_str, NULL }, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;

        cookie = manager_new_cookie(m);
        r = engine_resolve_oom(m->engine, path, decision, bytes, cookie, &err);
        if (r < 0)
                return bus_error_from_memcg(error, &err);
        log_info("%s: OOM decision %s (%" PRIu64 " bytes)", path, name, bytes);
        (void) manager_add_request(m, cookie, REQUEST_RESOLVE_OOM, path, bytes, msg);
        return 1;
}

typedef struct ListReply {
        Manager *manager;
        sd_bus_message *reply;
} ListReply;

static int append_monitored(const char *path, void *userdata) {
        ListReply *l = userdata;
        MonitoredCgroup *c = manager_get_cgroup(l->manager, path);
        int r;

        if (!c || c->state != CGROUP_ACTIVE)
                return 0;
        r = sd_bus_message_open_container(l->reply, SD_BUS_TYPE_STRUCT, "so");
        if (r < 0)
                return r;
        r = append_valid_string(l->reply, c->path);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(l->reply, SD_BUS_TYPE_OBJECT_PATH, c->object_path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(l->reply);
}

static int method_list_monitored(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(so)");
        if (r < 0)
                return r;
        /* In monitor order, straight from the engine's list: no copy of
         * the paths, no sort. */
        r = engine_foreach_monitored(m->engine, append_monitored, &(ListReply) { .manager = m, .reply = reply });
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", MEMCGD_VERSION);
}

static int property_get_budget(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "t", engine_budget_total(m->engine));
}

static int property_get_granted(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "t", engine_budget_granted(m->engine));
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "u", manager_active_count(m));
}

/* Every method is UNPRIVILEGED as far as sd-bus's own check goes (which
 * would refuse every non-root caller on the system bus): reads are open,
 * and the changing methods ask polkit themselves. */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("BudgetBytes", "t", property_get_budget, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GrantedBytes", "t", property_get_granted, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MonitoredCount", "u", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Monitor",
                                SD_BUS_ARGS("s", cgroup, "t", initial_limit),
                                SD_BUS_RESULT("o", object),
                                method_monitor, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unmonitor",
                                SD_BUS_ARGS("s", cgroup),
                                SD_BUS_NO_RESULT,
                                method_unmonitor, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetInitialLimit",
                                SD_BUS_ARGS("s", cgroup, "t", limit),
                                SD_BUS_NO_RESULT,
                                method_set_initial_limit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStats",
                                SD_BUS_ARGS("s", cgroup),
                                SD_BUS_RESULT("a{sv}", stats),
                                method_get_stats, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListMonitored",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(so)", cgroups),
                                method_list_monitored, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetOomPolicy",
                                SD_BUS_ARGS("s", cgroup, "s", policy),
                                SD_BUS_NO_RESULT,
                                method_set_oom_policy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResolveOom",
                                SD_BUS_ARGS("s", cgroup, "s", decision, "t", bytes),
                                SD_BUS_NO_RESULT,
                                method_resolve_oom, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterReclaimer",
                                SD_BUS_ARGS("s", cgroup, "t", chunk_size),
                                SD_BUS_RESULT("o", reclaimer),
                                reclaim_method_register, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Pressure",
                                SD_BUS_ARGS("s", cgroup, "y", level),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("ReclaimRequested",
                                SD_BUS_ARGS("s", cgroup, "t", wanted_bytes, "t", asked_bytes, "u", reclaimers, "s", cause),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("LimitChanged",
                                SD_BUS_ARGS("s", cgroup, "t", old_max, "t", new_max, "t", new_high, "s", reason),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("Oom",
                                SD_BUS_ARGS("s", cgroup, "s", kind, "t", count, "a(us)", tasks),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("BudgetExhausted",
                                SD_BUS_ARGS("s", cgroup, "t", requested, "t", granted),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("TasksKilled",
                                SD_BUS_ARGS("s", cgroup, "a(us)", tasks, "s", cause),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("MonitorStopped",
                                SD_BUS_ARGS("s", cgroup, "s", reason),
                                0),
        SD_BUS_VTABLE_END
};

/* ---- org.memcgd1.Cgroup ------------------------------------------------------ */

static int cgroup_object_find(sd_bus *bus, const char *object_path, const char *interface, void *userdata,
                              void **ret_found, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *path = NULL;
        MonitoredCgroup *c;
        int r;

        r = sd_bus_path_decode(object_path, MEMCGD_CGROUP_PREFIX, &path);
        if (r <= 0)
                return 0;
        c = manager_get_cgroup(m, path);
        if (!c || !c->exported)
                return 0;
        *ret_found = c;
        return 1;
}

static int cgroup_node_enumerator(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                                  sd_bus_error *error) {
        Manager *m = userdata;
        GHashTableIter it;
        MonitoredCgroup *c;
        char **l;
        size_t n = 0;

        /* sd-bus frees the list with free(): plain malloc, not GLib. */
        l = calloc(g_hash_table_size(m->cgroups) + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        g_hash_table_iter_init(&it, m->cgroups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &c)) {
                if (!c->exported)
                        continue;
                l[n] = strdup(c->object_path);
                if (!l[n]) {
                        for (size_t i = 0; i < n; i++)
                                free(l[i]);
                        free(l);
                        return -ENOMEM;
                }
                n++;
        }
        *ret_nodes = l;
        return 0;
}

static int cgroup_property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        MonitoredCgroup *c = userdata;

        if (streq(property, "Path"))
                return sd_bus_message_append(reply, "s", c->path);
        if (streq(property, "Backend"))
                return sd_bus_message_append(reply, "s", backend_to_string(c->backend));
        if (streq(property, "MaxLimitBytes"))
                return sd_bus_message_append(reply, "t", c->max);
        if (streq(property, "HighLimitBytes"))
                return sd_bus_message_append(reply, "t", c->high);
        if (streq(property, "OomPolicy"))
                return sd_bus_message_append(reply, "s", oom_policy_to_string(c->oom_policy));
        if (streq(property, "OomWaiting"))
                return sd_bus_message_append(reply, "b", (int) c->oom_waiting);

        /* CurrentBytes: read from the kernel now. */
        CgroupStats st = {};
        MemcgError err = {};
        if (engine_get_stats(c->manager->engine, c->path, &st, &err) < 0)
                return bus_error_from_memcg(error, &err);
        if (!st.has[STAT_CURRENT_BYTES])
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cgroup %s: usage could not be read.", c->path);
        return sd_bus_message_append(reply, "t", st.values[STAT_CURRENT_BYTES]);
}

static int cgroup_method_get_stats(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        MonitoredCgroup *c = userdata;
        return reply_stats(c->manager, msg, c->path, error);
}

/* CurrentBytes has no flags: sd-bus then announces
 * EmitsChangedSignal=false in the introspection data, which is the
 * contract (read live, no change signal). */
static const sd_bus_vtable cgroup_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Path", "s", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("MaxLimitBytes", "t", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HighLimitBytes", "t", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CurrentBytes", "t", cgroup_property_get, 0, 0),
        SD_BUS_PROPERTY("OomPolicy", "s", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OomWaiting", "b", cgroup_property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("GetStats",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{sv}", stats),
                                cgroup_method_get_stats, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int manager_bus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(m->bus, NULL, MEMCGD_CGROUP_PREFIX, MEMCGD_CGROUP_INTERFACE, cgroup_vtable,
                                       cgroup_object_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, MEMCGD_CGROUP_PREFIX, cgroup_node_enumerator, m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(m->bus, NULL, MEMCGD_MANAGER_PATH);
}

void manager_bus_cgroup_added(Manager *m, MonitoredCgroup *c) {
        int r;

        c->exported = true;
        if (!m->bus)
                return;
        r = sd_bus_emit_interfaces_added(m->bus, c->object_path, MEMCGD_CGROUP_INTERFACE, NULL);
        if (r < 0)
                log_warning("Failed to emit InterfacesAdded for %s: %s", c->object_path, strerror(-r));
}

void manager_bus_cgroup_removed(Manager *m, MonitoredCgroup *c) {
        int r;

        c->exported = false;
        if (!m->bus)
                return;
        r = sd_bus_emit_interfaces_removed(m->bus, c->object_path, MEMCGD_CGROUP_INTERFACE, NULL);
        if (r < 0)
                log_warning("Failed to emit InterfacesRemoved for %s: %s", c->object_path, strerror(-r));
}

/* ---- signals ------------------------------------------------------------------ */

void manager_bus_emit_limit_changed(Manager *m, const EngineEvent *ev) {
        int r;

        log_debug("%s: limit %" PRIu64 " -> %" PRIu64 " (high %" PRIu64 "), %s", ev->path, ev->old_max, ev->new_max,
                  ev->new_high, limit_reason_to_string(ev->reason));
        r = sd_bus_emit_signal(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "LimitChanged", "sttts",
                               ev->path, ev->old_max, ev->new_max, ev->new_high,
                               limit_reason_to_string(ev->reason) ?: "unknown");
        if (r < 0)
                log_warning("Failed to emit LimitChanged for %s: %s", ev->path, strerror(-r));
}

/* The processes of the cgroup and their names, read now (the kernel's
 * list: cgroup.procs, then /proc/PID/comm). A process that exits in
 * between is skipped. */
static int append_engine_tasks(sd_bus_message *s, const EngineTask *tasks, size_t n) {
        int r;

        r = sd_bus_message_open_container(s, 'a', "(us)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && i < OOM_TASKS_MAX; i++) {
                char comm[sizeof tasks[i].comm + 1];

                memcpy(comm, tasks[i].comm, sizeof tasks[i].comm);
                comm[sizeof tasks[i].comm] = 0;
                if (!g_utf8_validate(comm, -1, NULL))
                        g_strlcpy(comm, "?", sizeof comm);
                r = sd_bus_message_append(s, "(us)", tasks[i].pid, comm);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(s);
}

void manager_bus_emit_oom(Manager *m, const EngineEvent *ev) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        const char *kind = oom_kind_to_string(ev->oom_kind) ?: "unknown";
        int r;

        log_notice("%s: %s (count %" PRIu64 ")", ev->path, kind, ev->oom_count);
        r = sd_bus_message_new_signal(m->bus, &s, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "Oom");
        if (r >= 0)
                r = sd_bus_message_append(s, "sst", ev->path, kind, ev->oom_count);
        /* The worker's snapshot, taken when it saw the event, is closer to
         * "the tasks at that moment" than a read now (a killed task is
         * gone by now); read now only when it took none. */
        if (r >= 0 && ev->tasks)
                r = append_engine_tasks(s, ev->tasks, ev->n_tasks);
        else if (r >= 0) {
                _cleanup_free_ EngineTask *tasks = NULL;
                size_t n = 0;
                (void) engine_read_tasks(m->engine, ev->path, &tasks, &n, OOM_TASKS_MAX);
                r = append_engine_tasks(s, tasks, n);
        }
        if (r >= 0)
                r = sd_bus_send(m->bus, s, NULL);
        if (r < 0)
                log_warning("Failed to emit Oom for %s: %s", ev->path, strerror(-r));
}

void manager_bus_emit_tasks_killed(Manager *m, const EngineEvent *ev) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        const char *cause = kill_cause_to_string(ev->kill_cause) ?: "kernel";
        int r;

        for (size_t i = 0; i < ev->n_tasks; i++)
                log_notice("%s: %s[%u] killed (%s)", ev->path, ev->tasks[i].comm, ev->tasks[i].pid, cause);
        r = sd_bus_message_new_signal(m->bus, &s, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "TasksKilled");
        if (r >= 0)
                r = sd_bus_message_append(s, "s", ev->path);
        if (r >= 0)
                r = append_engine_tasks(s, ev->tasks, ev->n_tasks);
        if (r >= 0)
                r = sd_bus_message_append(s, "s", cause);
        if (r >= 0)
                r = sd_bus_send(m->bus, s, NULL);
        if (r < 0)
                log_warning("Failed to emit TasksKilled for %s: %s", ev->path, strerror(-r));
}

void manager_bus_emit_oom_changed(Manager *m, MonitoredCgroup *c) {
        int r = sd_bus_emit_properties_changed(m->bus, c->object_path, MEMCGD_CGROUP_INTERFACE, "OomPolicy",
                                               "OomWaiting", NULL);
        if (r < 0)
                log_debug("Failed to emit PropertiesChanged on %s: %s", c->object_path, strerror(-r));
}

void manager_bus_emit_budget_exhausted(Manager *m, const EngineEvent *ev) {
        int r;

        log_info("%s: budget exhausted, asked for %" PRIu64 ", got %" PRIu64, ev->path, ev->requested, ev->granted);
        r = sd_bus_emit_signal(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "BudgetExhausted", "stt",
                               ev->path, ev->requested, ev->granted);
        if (r < 0)
                log_warning("Failed to emit BudgetExhausted for %s: %s", ev->path, strerror(-r));
}

void manager_bus_emit_monitor_stopped(Manager *m, const char *path, StopReason reason) {
        int r;

        r = sd_bus_emit_signal(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "MonitorStopped", "ss", path,
                               stop_reason_to_string(reason) ?: "error");
        if (r < 0)
                log_warning("Failed to emit MonitorStopped for %s: %s", path, strerror(-r));
}
