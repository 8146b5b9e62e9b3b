/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <systemd/sd-bus.h>

#include "polkit.h"
#include "util.h"

/* polkit's CheckAuthorizationFlags: AllowUserInteraction. */
#define POLKIT_CHECK_ALLOW_USER_INTERACTION 1u

/* An interactive check waits for a person typing a password; give it the
 * time a person needs. Non-interactive ones use sd-bus's default (25 s). */
#define POLKIT_INTERACTIVE_TIMEOUT_USEC (UINT64_C(300) * 1000000)

typedef struct PolkitQuery {
        PolkitRegistry *registry;
        sd_bus_message *request;  /* the caller's method call, referenced */
        sd_bus_message *reply;    /* polkit's answer; NULL while pending */
        sd_bus_slot *slot;        /* the outstanding CheckAuthorization */
        char *action;
        char **details;           /* key, value, ..., NULL */
        bool interactive;
} PolkitQuery;

/* Unique names remembered with their euid: the cache is emptied when it
 * reaches this size (a bound against a flood of short-lived connections;
 * emptying costs one bus round trip per caller that comes back). */
#define SENDER_EUIDS_MAX 4096

struct PolkitRegistry {
        /* sd_bus_message* (the caller's call) -> PolkitQuery*. The query
         * holds a reference to the message, so the key cannot be reused
         * for another message while the entry exists. */
        GHashTable *queries;
        /* Unique bus name (owned) -> euid + 1, as the bus daemon reported
         * it. A unique name is never handed out twice by a bus daemon and
         * the credentials of its connection never change, so the answer
         * stays true for as long as the name could send us anything. */
        GHashTable *sender_euids;
};

static const char *strna_sender(sd_bus_message *m) {
        const char *s = sd_bus_message_get_sender(m);
        return s ?: "n/a";
}

static void polkit_query_free(void *p) {
        PolkitQuery *q = p;

        if (!q)
                return;
        /* Unreferencing a pending call's slot cancels it: no callback. */
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        sd_bus_message_unref(q->reply);
        g_free(q->action);
        g_strfreev(q->details);
        g_free(q);
}

PolkitRegistry *polkit_registry_new(void) {
        PolkitRegistry *r = g_new0(PolkitRegistry, 1);
        r->queries = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, polkit_query_free);
        r->sender_euids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        return r;
}

PolkitRegistry *polkit_registry_free(PolkitRegistry *r) {
        if (!r)
                return NULL;
        g_hash_table_destroy(r->queries);
        g_hash_table_destroy(r->sender_euids);
        g_free(r);
        return NULL;
}

static char **details_copy(const char *const *details) {
        return g_strdupv((char **) (details ?: (const char *const[]) { NULL }));
}

/* What a denial names: the action and, when the details carry one, the
 * cgroup it was asked for ("org.memcgd1.monitor on cgroup '/a/b'"). */
static char *subject_of(const char *action, const char *const *details) {
        for (const char *const *d = details; d && d[0] && d[1]; d += 2)
                if (streq(d[0], "cgroup"))
                        return g_strdup_printf("%s on cgroup '%s'", action, d[1]);
        return g_strdup(action);
}

static bool details_equal(char **a, const char *const *b) {
        static const char *const empty[] = { NULL };
        return g_strv_equal((const char *const *) a, b ?: empty);
}

static int on_check_authorization_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        int r;

        q->reply = sd_bus_message_ref(reply);

        /* Dispatch the caller's message once more: its handler now finds
         * the verdict. */
        r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_error_errno(r, "Failed to re-dispatch a call after polkit answered: %s", strerror(-r));
                (void) sd_bus_reply_method_errorf(q->request, SD_BUS_ERROR_ACCESS_DENIED,
                                                  "The authorization answer could not be processed.");
                /* Frees q (and its slot, which sd-bus tolerates from
                 * inside the slot's own callback: it holds a reference
                 * for the duration of the call). */
                g_hash_table_remove(q->registry->queries, q->request);
        }
        return 0;
}

/* Turns polkit's answer into the verdict: 1 allowed, negative errno with
 * *error denied. */
static int verdict_from_reply(PolkitQuery *q, sd_bus_error *error) {
        g_autofree char *subject = subject_of(q->action, (const char *const *) q->details);
        int authorized = 0, challenge = 0, r;

        if (sd_bus_message_is_method_error(q->reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(q->reply);

                log_warning("polkit could not check %s for %s (%s: %s), denying",
                            subject, strna_sender(q->request), e->name, e->message ?: "");
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization for %s could not be checked: polkit failed (%s).",
                                         subject, e->name);
        }

        r = sd_bus_message_enter_container(q->reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(q->reply, "bb", &authorized, &challenge);
        if (r < 0) {
                log_warning("polkit sent an unreadable answer for %s: %s, denying", subject, strerror(-r));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization for %s could not be checked: unreadable polkit answer.",
                                         subject);
        }

        if (authorized)
                return 1;
        if (challenge && !q->interactive)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                                         "Interactive authentication is required for %s.", subject);
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Not authorized to perform %s.", subject);
}

static int start_query(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                       const char *const *details, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *pk = NULL;
        sd_bus *bus = sd_bus_message_get_bus(call);
        const char *sender = sd_bus_message_get_sender(call);
        bool interactive = sd_bus_message_get_allow_interactive_authorization(call) > 0;
        PolkitQuery *q;
        int r;

        if (!sender) {
                g_autofree char *subject = subject_of(action, details);
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Caller without a bus name cannot be authorized for %s.", subject);
        }

        r = sd_bus_message_new_method_call(bus, &pk, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;

        /* Subject: the caller's connection, which polkit resolves to its
         * process and user through the bus daemon itself. */
        r = sd_bus_message_append(pk, "(sa{sv})s", "system-bus-name", 1, "name", "s", sender, action);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(pk, 'a', "{ss}");
        if (r < 0)
                return r;
        for (const char *const *d = details; d && d[0] && d[1]; d += 2) {
                r = sd_bus_message_append(pk, "{ss}", d[0], d[1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(pk);
        if (r < 0)
                return r;
        r = sd_bus_message_append(pk, "us", interactive ? POLKIT_CHECK_ALLOW_USER_INTERACTION : 0u, "");
        if (r < 0)
                return r;

        q = g_new0(PolkitQuery, 1);
        q->registry = reg;
        q->request = sd_bus_message_ref(call);
        q->action = g_strdup(action);
        q->details = details_copy(details);
        q->interactive = interactive;

        r = sd_bus_call_async(bus, &q->slot, pk, on_check_authorization_reply, q,
                              interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : 0);
        if (r < 0) {
                g_autofree char *subject = subject_of(action, details);
                polkit_query_free(q);
                log_warning("Failed to ask polkit about %s for %s: %s, denying", subject, sender, strerror(-r));
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Authorization for %s could not be checked: polkit unreachable.", subject);
        }

        g_hash_table_insert(reg->queries, call, q);
        log_debug("Asked polkit whether %s may %s", sender, action);
        return 0;
}

/* The bus daemon's word on the caller's euid (SO_PEERCRED of its
 * connection, via GetConnectionCredentials). No augmentation: nothing is
 * read from /proc, where a process could have changed since it connected
 * or its pid could have been reused. GetConnectionCredentials is a
 * synchronous round trip that stalls the whole loop while the bus daemon
 * is busy, so the answer is kept per unique name (see sender_euids). */
static bool sender_is_root(PolkitRegistry *reg, sd_bus_message *call) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *sender = sd_bus_message_get_sender(call);
        gpointer v;
        uid_t euid;
        int r;

        /* Only a unique name (":1.42") is bound to one connection. */
        bool cacheable = sender && sender[0] == ':';
        if (cacheable && g_hash_table_lookup_extended(reg->sender_euids, sender, NULL, &v))
                return GPOINTER_TO_UINT(v) - 1 == 0;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID, &creds);
        if (r < 0) {
                log_debug_errno(r, "Could not get the caller's credentials: %s", strerror(-r));
                return false;
        }
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0) {
                log_debug_errno(r, "The bus did not tell the caller's euid: %s", strerror(-r));
                return false;
        }
        if (cacheable) {
                if (g_hash_table_size(reg->sender_euids) >= SENDER_EUIDS_MAX)
                        g_hash_table_remove_all(reg->sender_euids);
                g_hash_table_insert(reg->sender_euids, g_strdup(sender), GUINT_TO_POINTER((guint) euid + 1));
        }
        return euid == 0;
}

int polkit_check(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                 const char *const *details, sd_bus_error *error) {
        PolkitQuery *q;
        int r;

        q = g_hash_table_lookup(reg->queries, call);
        if (q) {
                if (!q->reply)
                        return 0; /* still waiting; the call stays parked */

                /* A verdict is only good for what was asked. */
                if (!streq(q->action, action) || !details_equal(q->details, details)) {
                        g_autofree char *subject = subject_of(action, details);
                        log_warning("Authorization verdict for %s reused for %s, denying", q->action, subject);
                        g_hash_table_remove(reg->queries, call);
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "Not authorized to perform %s.", subject);
                }

                r = verdict_from_reply(q, error);
                log_debug("polkit: %s %s %s", strna_sender(call), r > 0 ? "may" : "may not", action);
                g_hash_table_remove(reg->queries, call);
                return r;
        }

        if (sender_is_root(reg, call))
                return 1;

        return start_query(reg, call, action, details, error);
}
