/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reclaim broker on the bus: Manager.RegisterReclaimer, the
 * org.memcgd1.Reclaimer objects, and the Reclaim requests.
 *
 * A request is a signal addressed to the reclaimer's owner only (a
 * unicast signal: destination = the unique name that registered it):
 *   org.memcgd1.Reclaimer.Reclaim(t chunks) from /org/memcgd1/reclaimer/N
 * As the seed's eventfd, it is fire-and-forget: memcgd never waits for a
 * client, so a client that never answers costs nothing; the chunks asked
 * for count as freed at once and the client calls AddReclaimable for what
 * it could not free. Signals pass the default system bus policy, so the
 * client needs no policy of its own. */
#include <stdio.h>

#include "manager.h"
#include "util.h"

#define ACTION_RECLAIM "org.memcgd1.reclaim"
#define ASKS_MAX 256

/* ---- who may register ------------------------------------------------------ */

/* The caller's memory cgroup from /proc/PID/cgroup: v1 the line whose
 * controller list holds "memory", v2 the "0::" line. The pid is the one
 * the bus daemon reports for the connection. */
static int pid_memory_cgroup(pid_t pid, Backend backend, char **ret) {
        char path[64];
        _cleanup_gfree_ char *buf = NULL;
        _cleanup_strv_free_ char **lines = NULL;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        if (!g_file_get_contents(path, &buf, NULL, NULL))
                return -ESRCH;
        lines = g_strsplit(buf, "\n", -1);
        for (char **l = lines; *l; l++) {
                char *c1 = strchr(*l, ':'), *c2;
                if (!c1 || !(c2 = strchr(c1 + 1, ':')))
                        continue;
                *c2 = '\0';
                bool match = false;
                if (backend == BACKEND_V2)
                        match = c1[1] == '\0' && strncmp(*l, "0:", 2) == 0;
                else {
                        _cleanup_strv_free_ char **ctl = g_strsplit(c1 + 1, ",", -1);
                        for (char **k = ctl; *k && !match; k++)
                                match = streq(*k, "memory");
                }
                if (match) {
                        *ret = g_strdup(c2 + 1);
                        return 0;
                }
        }
        return -ENOENT;
}

/* 1 when the sender's own process is in `cgroup` or below it. */
static int caller_is_inside(Manager *m, sd_bus_message *msg, const char *cgroup) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_gfree_ char *own = NULL;
        pid_t pid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_pid(creds, &pid);
        if (r < 0)
                return r;
        r = pid_memory_cgroup(pid, engine_backend(m->engine), &own);
        if (r < 0)
                return r;
        return cgroup_path_is_below(own, cgroup);
}

/* ---- Manager.RegisterReclaimer -------------------------------------------- */

static void message_unref(void *p) {
        sd_bus_message_unref(p);
}

int reclaim_method_register(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *path, *sender;
        uint64_t chunk_size;
        MemcgError err = {};
        CgroupStats st = {};
        Reclaimer *rc;
        int r;

        r = sd_bus_message_read(msg, "st", &path, &chunk_size);
        if (r < 0)
                return r;
        if (cgroup_path_validate(path, &err) < 0)
                return bus_error_from_memcg(error, &err);
        if (chunk_size == 0 || chunk_size > RECLAIM_CHUNK_SIZE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Chunk size %" PRIu64 " for cgroup '%s' is out of range: it must be between 1 and %" PRIu64 " bytes (1 TiB)",
                                         chunk_size, path, RECLAIM_CHUNK_SIZE_MAX);
        sender = sd_bus_message_get_sender(msg);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The caller has no bus name.");

        /* A process may offer its own memory back without asking anyone;
         * for another cgroup it needs org.memcgd1.reclaim. Decided once
         * per message: when polkit was asked, the message comes back once
         * it answered, and the answer is taken whatever /proc says now
         * (else the query, holding the message, would stay behind). */
        bool asked = g_hash_table_contains(m->reclaim_asked, msg);
        if (asked || caller_is_inside(m, msg, path) <= 0) {
                r = polkit_check(m->polkit, msg, ACTION_RECLAIM, (const char *const[]) { "cgroup", path, NULL },
                                 error);
                if (r == 0) {
                        if (!asked)
                                g_hash_table_add(m->reclaim_asked, sd_bus_message_ref(msg));
                        return 1;
                }
                g_hash_table_remove(m->reclaim_asked, msg);
                if (r < 0)
                        return r;
        }

        if (engine_get_stats(m->engine, path, &st, &err) < 0)
                return bus_error_from_memcg(error, &err);

        r = reclaim_registry_add(&m->reclaimers, path, sender, chunk_size, &rc);
        if (r == -EUSERS)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Cannot register a reclaimer for cgroup '%s': at most %u per connection and %u in all",
                                         path, RECLAIM_PER_OWNER_MAX, RECLAIM_TOTAL_MAX);
        if (r < 0)
                return r;
        char id[32];
        snprintf(id, sizeof(id), "%" PRIu64, rc->id);
        r = sd_bus_path_encode(MEMCGD_RECLAIMER_PREFIX, id, &rc->object_path);
        if (r < 0) {
                reclaim_registry_remove(&m->reclaimers, rc->id);
                return r;
        }
        engine_reclaimers_changed(m->engine, path, +1);
        log_info("%s: reclaimer %s registered by %s, chunk size %" PRIu64, path, rc->object_path, sender, chunk_size);
        /* The object is under the ObjectManager at /org/memcgd1: announce
         * it before the reply names it. */
        r = sd_bus_emit_interfaces_added(m->bus, rc->object_path, MEMCGD_RECLAIMER_INTERFACE, NULL);
        if (r < 0)
                log_debug("Failed to emit InterfacesAdded for %s: %s", rc->object_path, strerror(-r));
        return sd_bus_reply_method_return(msg, "o", rc->object_path);
}

/* ---- org.memcgd1.Reclaimer ------------------------------------------------- */

static Reclaimer *reclaimer_of_path(Manager *m, const char *object_path) {
        _cleanup_free_ char *id = NULL;
        char *end;

        if (sd_bus_path_decode(object_path, MEMCGD_RECLAIMER_PREFIX, &id) <= 0 || !id[0])
                return NULL;
        errno = 0;
        unsigned long long v = strtoull(id, &end, 10);
        if (errno != 0 || *end != '\0' || id[0] < '0' || id[0] > '9')
                return NULL;
        return reclaim_registry_find(&m->reclaimers, (uint64_t) v);
}

static int reclaimer_find(sd_bus *bus, const char *object_path, const char *interface, void *userdata,
                          void **ret_found, sd_bus_error *error) {
        Manager *m = userdata;
        Reclaimer *r = reclaimer_of_path(m, object_path);

        if (!r)
                return 0;
        *ret_found = m;
        return 1;
}

static int reclaimer_enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***ret_nodes,
                               sd_bus_error *error) {
        Manager *m = userdata;
        char **l = calloc(m->reclaimers.list->len + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (guint i = 0; i < m->reclaimers.list->len; i++) {
                l[i] = strdup(((Reclaimer *) m->reclaimers.list->pdata[i])->object_path);
                if (!l[i]) {
                        for (guint j = 0; j < i; j++)
                                free(l[j]);
                        free(l);
                        return -ENOMEM;
                }
        }
        *ret_nodes = l;
        return 0;
}

/* The reclaimer a method call is for; only its owner may change it. */
static Reclaimer *owned_reclaimer(Manager *m, sd_bus_message *msg, sd_bus_error *error) {
        Reclaimer *r = reclaimer_of_path(m, sd_bus_message_get_path(msg));
        const char *sender = sd_bus_message_get_sender(msg);

        if (!r) {
                sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "No reclaimer %s (unregistered, or its owner left the bus).",
                                  sd_bus_message_get_path(msg));
                return NULL;
        }
        if (!sender || !streq(sender, r->owner)) {
                sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                  "Reclaimer %s of cgroup '%s' belongs to %s: only its owner may change it.",
                                  r->object_path, r->cgroup, r->owner);
                return NULL;
        }
        return r;
}

static int method_set_reclaimable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t chunks;
        Reclaimer *r;
        int q;

        q = sd_bus_message_read(msg, "t", &chunks);
        if (q < 0)
                return q;
        r = owned_reclaimer(m, msg, error);
        if (!r)
                return -EACCES;
        if (reclaimer_set(r, chunks) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "%" PRIu64 " chunks of %" PRIu64 " bytes for cgroup '%s' exceed the %" PRIu64 " bytes (1 PiB) one reclaimer may declare",
                                         chunks, r->chunk_size, r->cgroup, RECLAIM_DECLARED_BYTES_MAX);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_reclaimable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int64_t delta;
        Reclaimer *r;
        int q;

        q = sd_bus_message_read(msg, "x", &delta);
        if (q < 0)
                return q;
        r = owned_reclaimer(m, msg, error);
        if (!r)
                return -EACCES;
        /* Documented clamping, as the seed: below zero is zero, above the
         * declarable maximum is that maximum. */
        (void) reclaimer_add(r, delta);
        return sd_bus_reply_method_return(msg, NULL);
}

static void emit_removed(Manager *m, Reclaimer *r) {
        int q = sd_bus_emit_interfaces_removed(m->bus, r->object_path, MEMCGD_RECLAIMER_INTERFACE, NULL);
        if (q < 0)
                log_debug("Failed to emit InterfacesRemoved for %s: %s", r->object_path, strerror(-q));
}

static int method_unregister(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Reclaimer *r = owned_reclaimer(m, msg, error);

        if (!r)
                return -EACCES;
        log_info("%s: reclaimer %s unregistered", r->cgroup, r->object_path);
        engine_reclaimers_changed(m->engine, r->cgroup, -1);
        emit_removed(m, r);
        reclaim_registry_remove(&m->reclaimers, r->id);
        return sd_bus_reply_method_return(msg, NULL);
}

static int reclaimer_property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Reclaimer *r = reclaimer_of_path(m, path);

        if (!r)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_OBJECT, "No reclaimer %s.", path);
        if (streq(property, "Cgroup"))
                return sd_bus_message_append(reply, "s", r->cgroup);
        if (streq(property, "Owner"))
                return sd_bus_message_append(reply, "s", r->owner);
        if (streq(property, "ChunkSize"))
                return sd_bus_message_append(reply, "t", r->chunk_size);
        if (streq(property, "ReclaimableChunks"))
                return sd_bus_message_append(reply, "t", r->chunks);
        if (streq(property, "RequestedChunks"))
                return sd_bus_message_append(reply, "t", r->requested);
        return sd_bus_message_append(reply, "t", r->requests); /* Requests */
}

/* The counters move with every request and AddReclaimable: read live, no
 * change signals. */
static const sd_bus_vtable reclaimer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Cgroup", "s", reclaimer_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Owner", "s", reclaimer_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ChunkSize", "t", reclaimer_property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ReclaimableChunks", "t", reclaimer_property_get, 0, 0),
        SD_BUS_PROPERTY("RequestedChunks", "t", reclaimer_property_get, 0, 0),
        SD_BUS_PROPERTY("Requests", "t", reclaimer_property_get, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("SetReclaimable",
                                SD_BUS_ARGS("t", chunks),
                                SD_BUS_NO_RESULT,
                                method_set_reclaimable, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddReclaimable",
                                SD_BUS_ARGS("x", delta),
                                SD_BUS_NO_RESULT,
                                method_add_reclaimable, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Unregister",
                                SD_BUS_NO_ARGS,
                                SD_BUS_NO_RESULT,
                                method_unregister, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Reclaim",
                                SD_BUS_ARGS("t", chunks),
                                0),
        SD_BUS_VTABLE_END
};

/* A unique name that left the bus takes its reclaimers with it. One match
 * for all owners (a match per reclaimer would run into the bus's limit on
 * match rules per connection). Only the bus driver's word counts: any peer
 * may send memcgd a NameOwnerChanged of its own (the system bus lets every
 * unicast signal through), and sd-bus matches a rule's well-known sender
 * against any unique name, trusting the bus daemon to have filtered. */
static int on_name_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name, *old_owner, *new_owner;
        unsigned n;

        if (!streq_ptr(sd_bus_message_get_sender(msg), "org.freedesktop.DBus"))
                return 0;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] != ':' || new_owner[0] != '\0')
                return 0;
        for (guint i = 0; i < m->reclaimers.list->len; i++) {
                Reclaimer *r = m->reclaimers.list->pdata[i];
                if (streq(r->owner, name)) {
                        engine_reclaimers_changed(m->engine, r->cgroup, -1);
                        emit_removed(m, r);
                }
        }
        n = reclaim_registry_drop_owner(&m->reclaimers, name);
        if (n > 0)
                log_info("%s left the bus: dropped its %u reclaimer(s)", name, n);
        return 0;
}

int reclaim_bus_register(Manager *m) {
        int r;

        if (!m->reclaim_registered) {
                reclaim_registry_init(&m->reclaimers);
                m->reclaim_asked = g_hash_table_new_full(g_direct_hash, g_direct_equal, message_unref, NULL);
                m->reclaim_registered = true;
        }
        r = sd_bus_add_fallback_vtable(m->bus, NULL, MEMCGD_RECLAIMER_PREFIX, MEMCGD_RECLAIMER_INTERFACE,
                                       reclaimer_vtable, reclaimer_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(m->bus, NULL, MEMCGD_RECLAIMER_PREFIX, reclaimer_enumerate, m);
        if (r < 0)
                return r;
        return sd_bus_match_signal_async(m->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "NameOwnerChanged", on_name_owner_changed, NULL, m);
}

void reclaim_bus_request(Manager *m, const EngineEvent *ev) {
        ReclaimAsk asks[ASKS_MAX];
        uint64_t asked = 0;
        size_t n;
        int r;

        if (!m->reclaim_registered || !m->bus)
                return;
        n = reclaim_distribute(&m->reclaimers, ev->path, ev->reclaim_bytes, asks, ASKS_MAX, &asked);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
                Reclaimer *rc = asks[i].reclaimer;

                log_debug("%s: asking %s (%s) to free %" PRIu64 " chunks of %" PRIu64 " bytes", ev->path,
                          rc->object_path, rc->owner, asks[i].chunks, rc->chunk_size);
                r = sd_bus_message_new_signal(m->bus, &s, rc->object_path, MEMCGD_RECLAIMER_INTERFACE, "Reclaim");
                if (r >= 0)
                        r = sd_bus_message_set_destination(s, rc->owner);
                if (r >= 0)
                        r = sd_bus_message_append(s, "t", asks[i].chunks);
                if (r >= 0)
                        r = sd_bus_send(m->bus, s, NULL);
                if (r < 0)
                        log_warning("Failed to send Reclaim to %s: %s", rc->owner, strerror(-r));
        }
        if (n == 0) {
                /* Nobody to ask: no signal (a starving cgroup asks again
                 * every ReclaimInterval). */
                log_debug("%s: %" PRIu64 " bytes wanted back (%s), no reclaimer to ask", ev->path, ev->reclaim_bytes,
                          reclaim_cause_to_string(ev->reclaim_cause) ?: "?");
                return;
        }
        log_info("%s: %" PRIu64 " bytes wanted back (%s): asked %zu reclaimer(s) for %" PRIu64 " bytes", ev->path,
                 ev->reclaim_bytes, reclaim_cause_to_string(ev->reclaim_cause) ?: "?", n, asked);
        r = sd_bus_emit_signal(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "ReclaimRequested", "sttus",
                               ev->path, ev->reclaim_bytes, asked, (uint32_t) n,
                               reclaim_cause_to_string(ev->reclaim_cause) ?: "unknown");
        if (r < 0)
                log_warning("Failed to emit ReclaimRequested for %s: %s", ev->path, strerror(-r));
}

void manager_bus_emit_pressure(Manager *m, const EngineEvent *ev) {
        int r;

        log_info("%s: memory pressure %s -> %s", ev->path, pressure_level_to_string(ev->old_pressure_level) ?: "?",
                 pressure_level_to_string(ev->pressure_level) ?: "?");
        r = sd_bus_emit_signal(m->bus, MEMCGD_MANAGER_PATH, MEMCGD_MANAGER_INTERFACE, "Pressure", "sy", ev->path,
                               (uint8_t) ev->pressure_level);
        if (r < 0)
                log_warning("Failed to emit Pressure for %s: %s", ev->path, strerror(-r));
}

void reclaim_bus_done(Manager *m) {
        if (!m->reclaim_registered)
                return;
        reclaim_registry_done(&m->reclaimers);
        g_clear_pointer(&m->reclaim_asked, g_hash_table_destroy);
        m->reclaim_registered = false;
}
