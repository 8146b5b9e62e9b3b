/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memcg-notify: follows memcgd on the system bus and turns its signals
 * into desktop notifications (org.freedesktop.Notifications on the
 * session bus). Runs in a user's session, started by XDG autostart.
 *
 * Both ends come and go: memcgd restarts (the signal subscription follows
 * the name's owner), the notification server may start after us or be
 * replaced (notifications wait in a short queue; the ids of the old
 * server are forgotten). Nothing here blocks: every call is async. */

#include <gio/gio.h>
#include <glib-unix.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "memcgd/parse.h"
#include "notify-text.h"

#define MEMCGD_NAME "org.memcgd1"
#define MEMCGD_PATH "/org/memcgd1"
#define MEMCGD_IFACE "org.memcgd1.Manager"

#define NOTIFY_NAME "org.freedesktop.Notifications"
#define NOTIFY_PATH "/org/freedesktop/Notifications"
#define NOTIFY_IFACE "org.freedesktop.Notifications"

/* Notifications waiting for a server: beyond this the oldest is dropped,
 * so a session without a server does not grow us without bound. */
#define QUEUE_MAX 64
/* How long to wait before connecting to the system bus again. */
#define RECONNECT_SEC 5

/* One cgroup shows at most one notification per slot; a new one replaces
 * the old (replaces_id). Limit changes and the end of monitoring share a
 * slot (the end makes the limit news moot); an OOM never hides behind a
 * limit change. */
typedef enum Slot {
        SLOT_LIMIT,    /* LimitChanged, MonitorStopped */
        SLOT_WARNING,  /* BudgetExhausted, Oom "max", Oom kinds not known here */
        SLOT_OOM,      /* Oom: oom, oom_kill, oom_group_kill, frozen, resolved */
        SLOT_PRESSURE, /* Pressure critical; withdrawn when it ends */
        _SLOT_MAX,
} Slot;

/* The actions a notification offers where the server supports them,
 * besides "Details" (the "default" action: a click on the notification). */
typedef enum Actions {
        ACTIONS_DETAILS = 0,   /* Details only */
        ACTIONS_RAISE = 1,     /* "Raise limit by N": SetInitialLimit(max + N) */
        ACTIONS_DECIDE = 2,    /* a stopped cgroup: "Raise limit by N" (ResolveOom raise N),
                                * "Kill largest" (ResolveOom kill-largest) */
} Actions;

typedef struct App App;

typedef struct CgroupState {
        App *app;
        char *cgroup;
        guint32 ids[_SLOT_MAX];          /* shown notification per slot, 0 = none */
        gint64 last_post[_SLOT_MAX];     /* monotonic µs of the last rate-limited post */
        guint timer[_SLOT_MAX];          /* pending flush of a rate-limited slot */
        LimitChanges limit;              /* limit changes not shown yet */
        guint64 known_max;               /* new_max of the last LimitChanged, 0 = unknown */
        guint budget_times;              /* BudgetExhausted not shown yet */
        guint64 budget_requested, budget_granted;
        guint64 budget_max;              /* the limit when the last one came */
        guint64 budget_refused_max;      /* the limit the budget refused to grow (granted 0), 0 = none */
        guint max_times;                 /* Oom "max" not shown yet */
        guint64 max_limit;               /* the limit when the last one came */
        gboolean waiting;                /* Oom "frozen" came, "resolved" not yet */
        GVariant *killed;                /* a(us) of the TasksKilled during this wait, or NULL */
        char *killed_cause;
        guint8 pressure;                 /* the last Pressure level */
        gboolean stopped;                /* MonitorStopped came: forget once posted */
        gboolean in_flight;              /* a Notify for it awaits its reply */
} CgroupState;

typedef struct Pending {
        char *cgroup;
        Slot slot;
        NotifyText text;
        Actions actions;
} Pending;

typedef struct IdInfo {
        char *cgroup;
        Slot slot;
} IdInfo;

struct App {
        NotifyConfig config;
        GMainLoop *loop;

        GDBusConnection *system;
        guint memcgd_watch;
        guint memcgd_sub;
        guint reconnect_timer;
        gulong closed_handler;

        GDBusConnection *session;
        guint server_watch;
        char *server_owner;
        gboolean caps_known, server_actions, server_markup;
        guint action_sub, closed_sub;
        GQueue queue;                    /* Pending*, waiting for the server */
        gboolean in_flight;              /* one Notify at a time: its id decides the next replaces_id */

        GHashTable *cgroups;             /* cgroup -> CgroupState* */
        GHashTable *ids;                 /* notification id -> IdInfo* */
};

static void pump(App *a);
static void connect_system(App *a);

/* Pressure's levels are GLib's GMemoryMonitorWarningLevel. */
#define PRESSURE_CRITICAL 255

static void close_notification(App *a, guint32 id) {
        if (!a->session || !a->server_owner || id == 0)
                return;
        g_debug("Closing notification %u: the pressure ended", id);
        g_dbus_connection_call(a->session, a->server_owner, NOTIFY_PATH, NOTIFY_IFACE, "CloseNotification",
                               g_variant_new("(u)", id), NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * State */

static void cgroup_state_free(CgroupState *s) {
        for (int i = 0; i < _SLOT_MAX; i++)
                if (s->timer[i])
                        g_source_remove(s->timer[i]);
        limit_changes_clear(&s->limit);
        g_clear_pointer(&s->killed, g_variant_unref);
        g_free(s->killed_cause);
        g_free(s->cgroup);
        g_free(s);
}

static CgroupState *get_state(App *a, const char *cgroup) {
        CgroupState *s = g_hash_table_lookup(a->cgroups, cgroup);

        if (!s) {
                s = g_new0(CgroupState, 1);
                s->app = a;
                s->cgroup = g_strdup(cgroup);
                g_hash_table_insert(a->cgroups, s->cgroup, s);
        }
        return s;
}

/* A stopped cgroup's state goes when no notification of it waits in the
 * queue or in flight: the last one needed its replaces_id. (A cgroup of
 * the same name monitored again starts afresh.) */
static void forget_if_done(App *a, const char *cgroup) {
        CgroupState *s = g_hash_table_lookup(a->cgroups, cgroup);

        if (!s || !s->stopped || s->in_flight)
                return;
        for (GList *l = a->queue.head; l; l = l->next)
                if (g_str_equal(((Pending *) l->data)->cgroup, cgroup))
                        return;
        g_hash_table_remove(a->cgroups, cgroup);
}

static void id_info_free(IdInfo *i) {
        g_free(i->cgroup);
        g_free(i);
}

static void pending_free(Pending *p) {
        notify_text_clear(&p->text);
        g_free(p->cgroup);
        g_free(p);
}

/* ------------------------------------------------------------------------
 * Posting notifications */

static void post(App *a, const char *cgroup, Slot slot, NotifyText *text, Actions actions) {
        Pending *p;

        if (text->urgency < a->config.min_urgency) {
                g_debug("not shown (%s, below MinimumUrgency=%s): %s", notify_urgency_to_string(text->urgency),
                        notify_urgency_to_string(a->config.min_urgency), text->summary);
                notify_text_clear(text);
                return;
        }
        /* A newer text for the same cgroup and slot still waiting replaces
         * the waiting one: the server would replace it anyway. */
        for (GList *l = a->queue.head; l; l = l->next) {
                p = l->data;
                if (p->slot == slot && g_str_equal(p->cgroup, cgroup)) {
                        notify_text_clear(&p->text);
                        p->text = *text;
                        p->actions = actions;
                        *text = (NotifyText) {};
                        pump(a);
                        return;
                }
        }
        p = g_new0(Pending, 1);
        p->cgroup = g_strdup(cgroup);
        p->slot = slot;
        p->text = *text;
        p->actions = actions;
        *text = (NotifyText) {};
        g_queue_push_tail(&a->queue, p);
        if (g_queue_get_length(&a->queue) > QUEUE_MAX) {
                Pending *old = g_queue_pop_head(&a->queue);
                g_autofree char *cg = g_strdup(old->cgroup);

                g_message("Dropping notification \"%s\": no notification server for a while", old->text.summary);
                pending_free(old);
                forget_if_done(a, cg);
        }
        if (!a->server_owner)
                g_message("No notification server yet: queued \"%s\"", p->text.summary);
        pump(a);
}

typedef struct NotifyCall {
        App *app;
        char *cgroup;
        Slot slot;
        char *summary;
} NotifyCall;

static void on_notify_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        NotifyCall *c = userdata;
        App *a = c->app;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        a->in_flight = FALSE;
        if (!reply)
                g_message("Notification \"%s\" not shown: %s", c->summary, error->message);
        else {
                guint32 id;
                CgroupState *s = g_hash_table_lookup(a->cgroups, c->cgroup);
                IdInfo *info = g_new0(IdInfo, 1);

                g_variant_get(reply, "(u)", &id);
                if (s)
                        s->ids[c->slot] = id;
                /* The pressure ended while the warning was on its way. */
                if (s && c->slot == SLOT_PRESSURE && s->pressure < PRESSURE_CRITICAL)
                        close_notification(a, id);
                info->cgroup = g_strdup(c->cgroup);
                info->slot = c->slot;
                g_hash_table_replace(a->ids, GUINT_TO_POINTER(id), info);
                g_debug("Notification %u shown: %s", id, c->summary);
        }
        {
                CgroupState *st = g_hash_table_lookup(a->cgroups, c->cgroup);
                if (st)
                        st->in_flight = FALSE;
        }
        forget_if_done(a, c->cgroup);
        g_free(c->cgroup);
        g_free(c->summary);
        g_free(c);
        pump(a);
}

static void pump(App *a) {
        g_autofree char *raise = NULL, *body = NULL;
        GVariantBuilder actions, hints;
        CgroupState *s;
        NotifyCall *c;
        Pending *p;

        if (!a->session || !a->server_owner || !a->caps_known || a->in_flight || g_queue_is_empty(&a->queue))
                return;
        p = g_queue_pop_head(&a->queue);
        s = g_hash_table_lookup(a->cgroups, p->cgroup);

        g_variant_builder_init(&actions, G_VARIANT_TYPE("as"));
        if (a->server_actions) {
                /* "default" is what a click on the notification does
                 * (Desktop Notifications spec); servers that list the
                 * actions (dunst's menu, some popups' buttons) show its
                 * label too, so it is the one "Details": another action
                 * doing the same would show it twice. */
                g_variant_builder_add(&actions, "s", "default");
                g_variant_builder_add(&actions, "s", "Details");
                if (p->actions == ACTIONS_RAISE) {
                        raise = notify_raise_label(a->config.raise_step);
                        g_variant_builder_add(&actions, "s", "raise");
                        g_variant_builder_add(&actions, "s", raise);
                } else if (p->actions == ACTIONS_DECIDE) {
                        /* The decisions memcgd waits for. */
                        raise = notify_raise_label(a->config.raise_step);
                        g_variant_builder_add(&actions, "s", "oom-raise");
                        g_variant_builder_add(&actions, "s", raise);
                        g_variant_builder_add(&actions, "s", "kill-largest");
                        g_variant_builder_add(&actions, "s", NOTIFY_KILL_LARGEST_LABEL);
                }
        }
        g_variant_builder_init(&hints, G_VARIANT_TYPE("a{sv}"));
        g_variant_builder_add(&hints, "{sv}", "urgency", g_variant_new_byte((guint8) p->text.urgency));
        g_variant_builder_add(&hints, "{sv}", "desktop-entry", g_variant_new_string("memcg-notify"));
        /* The server may read the body as markup: a cgroup path may hold
         * '<' or '&'. */
        body = a->server_markup ? g_markup_escape_text(p->text.body, -1) : g_strdup(p->text.body);

        c = g_new0(NotifyCall, 1);
        c->app = a;
        c->cgroup = g_strdup(p->cgroup);
        c->slot = p->slot;
        c->summary = g_strdup(p->text.summary);
        a->in_flight = TRUE;
        if (s)
                s->in_flight = TRUE;
        g_debug("Notify [%s] %s: %s", notify_urgency_to_string(p->text.urgency), p->text.summary, p->text.body);
        g_dbus_connection_call(a->session, a->server_owner, NOTIFY_PATH, NOTIFY_IFACE, "Notify",
                               g_variant_new("(susssasa{sv}i)", "memcgd", s ? s->ids[p->slot] : 0, p->text.icon,
                                             p->text.summary, body, &actions, &hints, -1),
                               G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_notify_reply, c);
        pending_free(p);
}

/* ------------------------------------------------------------------------
 * Rate-limited slots: the first event posts at once, the ones within the
 * next interval are merged and posted when it ends. */

static gboolean build_slot(CgroupState *s, Slot slot, NotifyText *t, Actions *ret_actions) {
        switch (slot) {
        case SLOT_LIMIT:
                if (limit_changes_empty(&s->limit))
                        return FALSE;
                notify_text_limit(t, s->cgroup, &s->limit);
                *ret_actions = s->limit.grows > 0 ? ACTIONS_RAISE : ACTIONS_DETAILS;
                limit_changes_clear(&s->limit);
                return TRUE;
        case SLOT_WARNING:
                /* Both pending: the budget says why the limit was hit. */
                if (s->budget_times > 0)
                        notify_text_budget(t, s->cgroup, s->budget_requested, s->budget_granted, s->budget_times,
                                           s->budget_max);
                else if (s->max_times > 0)
                        notify_text_limit_hit(t, s->cgroup, s->max_times, s->max_limit,
                                              s->budget_refused_max > 0 && s->budget_refused_max == s->max_limit);
                else
                        return FALSE;
                *ret_actions = ACTIONS_RAISE;
                s->budget_times = s->max_times = 0;
                return TRUE;
        default:
                return FALSE;
        }
}

static void flush_slot(CgroupState *s, Slot slot) {
        NotifyText t = {};
        Actions actions = ACTIONS_DETAILS;

        if (!build_slot(s, slot, &t, &actions))
                return;
        s->last_post[slot] = g_get_monotonic_time();
        post(s->app, s->cgroup, slot, &t, actions);
}

typedef struct SlotTimer {
        App *app;
        char *cgroup;
        Slot slot;
} SlotTimer;

static void slot_timer_free(gpointer p) {
        SlotTimer *t = p;
        g_free(t->cgroup);
        g_free(t);
}

static gboolean on_slot_timer(gpointer userdata) {
        SlotTimer *t = userdata;
        CgroupState *s = g_hash_table_lookup(t->app->cgroups, t->cgroup);

        if (s) {
                s->timer[t->slot] = 0;
                flush_slot(s, t->slot);
        }
        return G_SOURCE_REMOVE;
}

static void schedule_slot(CgroupState *s, Slot slot) {
        gint64 now = g_get_monotonic_time();
        gint64 due = s->last_post[slot] + (gint64) s->app->config.limit_interval_sec * G_USEC_PER_SEC;
        SlotTimer *t;

        if (s->timer[slot])
                return; /* merged into the pending flush */
        if (s->last_post[slot] == 0 || now >= due) {
                flush_slot(s, slot);
                return;
        }
        t = g_new0(SlotTimer, 1);
        t->app = s->app;
        t->cgroup = g_strdup(s->cgroup);
        t->slot = slot;
        s->timer[slot] = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint) ((due - now + 999) / 1000), on_slot_timer, t,
                                            slot_timer_free);
}

/* ------------------------------------------------------------------------
 * memcgd's signals */

typedef struct OomCall {
        App *app;
        char *cgroup;
        char *kind;       /* an Oom kind, or NULL for TasksKilled */
        guint64 count;
        GVariant *tasks;  /* a(us): Oom's tasks, or the killed ones */
        char *cause;      /* TasksKilled */
        GVariant *killed; /* "resolved": the TasksKilled of the wait it ends (a(us)), or NULL */
        char *killed_cause;
} OomCall;

static void oom_call_free(OomCall *c) {
        g_variant_unref(c->tasks);
        if (c->killed)
                g_variant_unref(c->killed);
        g_free(c->killed_cause);
        g_free(c->cause);
        g_free(c->kind);
        g_free(c->cgroup);
        g_free(c);
}

/* The (pid, comm) of an a(us), borrowed from it; NULL-safe. */
static OomTask *tasks_of(GVariant *v, gsize *ret_n) {
        gsize n = v ? g_variant_n_children(v) : 0;
        OomTask *t = g_new0(OomTask, n + 1);

        for (gsize i = 0; i < n; i++)
                g_variant_get_child(v, i, "(u&s)", &t[i].pid, &t[i].comm);
        *ret_n = n;
        return t;
}

static guint64 stats_u64(GVariant *stats, const char *key) {
        g_autoptr(GVariant) v = stats ? g_variant_lookup_value(stats, key, G_VARIANT_TYPE_UINT64) : NULL;
        return v ? g_variant_get_uint64(v) : G_MAXUINT64;
}

static gboolean oom_kind_known(const char *kind) {
        static const char *const known[] = { "oom", "oom_kill", "oom_group_kill", "frozen", "resolved", NULL };
        return g_strv_contains(known, kind);
}

static void on_oom_stats(GObject *source, GAsyncResult *res, gpointer userdata) {
        OomCall *c = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        g_autoptr(GVariant) stats = reply ? g_variant_get_child_value(reply, 0) : NULL;
        guint64 max = stats_u64(stats, "max_limit_bytes"), usage = stats_u64(stats, "current_bytes");
        CgroupState *s = g_hash_table_lookup(c->app->cgroups, c->cgroup);
        gsize n = 0, nkilled = 0;
        g_autofree OomTask *tasks = tasks_of(c->tasks, &n);
        g_autofree OomTask *killed = tasks_of(c->killed, &nkilled);
        NotifyText t = {};

        if (!reply)
                g_debug("No sizes for the OOM notification of %s: %s", c->cgroup, error->message);
        if (max == G_MAXUINT64 && s && s->known_max > 0)
                max = s->known_max;
        if (!c->kind) {
                /* TasksKilled: in the OOM slot, in place of the Oom that
                 * came with it (the kernel's kill) or of the "stopped"
                 * one (a decision, the timeout). */
                notify_text_killed(&t, c->cgroup, tasks, n, c->cause, max, usage);
                post(c->app, c->cgroup, SLOT_OOM, &t, ACTIONS_RAISE);
        } else if (g_str_equal(c->kind, "frozen")) {
                /* memcgd's deadline is CLOCK_MONOTONIC of this host, as
                 * g_get_monotonic_time(). */
                guint64 deadline = stats_u64(stats, "oom_decision_deadline_usec"), left = G_MAXUINT64;
                if (deadline != G_MAXUINT64) {
                        gint64 now = g_get_monotonic_time();
                        left = deadline > (guint64) now ? deadline - (guint64) now : 0;
                }
                notify_text_frozen(&t, c->cgroup, tasks, n, max, usage, left);
                post(c->app, c->cgroup, SLOT_OOM, &t, ACTIONS_DECIDE);
        } else if (g_str_equal(c->kind, "resolved")) {
                /* Replaces the "stopped" notification; who was killed
                 * during the wait stays in it. */
                notify_text_resolved(&t, c->cgroup, killed, nkilled, c->killed_cause, max, usage);
                post(c->app, c->cgroup, SLOT_OOM, &t, nkilled > 0 ? ACTIONS_RAISE : ACTIONS_DETAILS);
        } else {
                notify_text_oom(&t, c->cgroup, c->kind, c->count, tasks, n, max, usage);
                /* A kind this version does not know is not allowed to
                 * replace an OOM notification: it may be harmless. */
                post(c->app, c->cgroup, oom_kind_known(c->kind) ? SLOT_OOM : SLOT_WARNING, &t,
                     g_str_equal(c->kind, "oom_group_kill") ? ACTIONS_DETAILS : ACTIONS_RAISE);
        }
        oom_call_free(c);
}

/* The pressure ended: a warning about it still queued is dropped, one on
 * screen is closed (one in flight is closed when its id comes back). */
static void withdraw_pressure(App *a, CgroupState *s) {
        for (GList *l = a->queue.head; l; l = l->next) {
                Pending *p = l->data;
                if (p->slot == SLOT_PRESSURE && g_str_equal(p->cgroup, s->cgroup)) {
                        g_queue_delete_link(&a->queue, l);
                        pending_free(p);
                        break;
                }
        }
        close_notification(a, s->ids[SLOT_PRESSURE]);
}

typedef struct PressureCall {
        App *app;
        char *cgroup;
} PressureCall;

static double stats_double(GVariant *stats, const char *key) {
        g_autoptr(GVariant) v = stats ? g_variant_lookup_value(stats, key, G_VARIANT_TYPE_DOUBLE) : NULL;
        return v ? g_variant_get_double(v) : -1;
}

static void on_pressure_stats(GObject *source, GAsyncResult *res, gpointer userdata) {
        PressureCall *c = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        g_autoptr(GVariant) stats = reply ? g_variant_get_child_value(reply, 0) : NULL;
        CgroupState *s = g_hash_table_lookup(c->app->cgroups, c->cgroup);
        NotifyText t = {};

        if (!reply)
                g_debug("No figures for the pressure notification of %s: %s", c->cgroup, error->message);
        /* Still critical (the level may have fallen while GetStats ran)? */
        if (s && !s->stopped && s->pressure >= PRESSURE_CRITICAL) {
                guint64 max = stats_u64(stats, "max_limit_bytes");
                if (max == G_MAXUINT64 && s->known_max > 0)
                        max = s->known_max;
                notify_text_pressure(&t, c->cgroup, stats_double(stats, "pressure_some_avg10"),
                                     stats_double(stats, "pressure_full_avg10"), max,
                                     stats_u64(stats, "current_bytes"));
                /* Details only: what helps (a higher limit, fewer
                 * processes, freeing caches) is the user's call. */
                post(c->app, c->cgroup, SLOT_PRESSURE, &t, ACTIONS_DETAILS);
        }
        g_free(c->cgroup);
        g_free(c);
}

static void on_memcgd_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        App *a = userdata;
        const char *cgroup, *str;
        guint64 x, y, z;
        CgroupState *s;

        if (g_str_equal(member, "LimitChanged") && g_variant_is_of_type(params, G_VARIANT_TYPE("(sttts)"))) {
                g_variant_get(params, "(&sttt&s)", &cgroup, &x, &y, &z, &str);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                s->known_max = y;
                limit_changes_add(&s->limit, x, y, z, str);
                schedule_slot(s, SLOT_LIMIT);
        } else if (g_str_equal(member, "BudgetExhausted") && g_variant_is_of_type(params, G_VARIANT_TYPE("(stt)"))) {
                g_variant_get(params, "(&stt)", &cgroup, &x, &y);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                s->budget_requested = x;
                s->budget_granted = y;
                /* Shown later (rate limit): the limit may have moved by
                 * then, the text is about this moment. */
                s->budget_max = s->known_max;
                s->budget_refused_max = y == 0 ? s->known_max : 0;
                s->budget_times++;
                schedule_slot(s, SLOT_WARNING);
        } else if (g_str_equal(member, "Oom") && g_variant_is_of_type(params, G_VARIANT_TYPE("(ssta(us))"))) {
                OomCall *c;

                g_variant_get(params, "(&s&st@a(us))", &cgroup, &str, &x, NULL);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                if (g_str_equal(str, "max")) {
                        /* Hitting the limit is routine for a cgroup the
                         * kernel reclaims at its limit: rate-limited, and
                         * never in place of an OOM notification. */
                        s->max_times++;
                        s->max_limit = s->known_max;
                        schedule_slot(s, SLOT_WARNING);
                        return;
                }
                c = g_new0(OomCall, 1);
                c->app = a;
                c->cgroup = g_strdup(cgroup);
                c->kind = g_strdup(str);
                c->count = x;
                c->tasks = g_variant_get_child_value(params, 3);
                if (g_str_equal(str, "frozen")) {
                        /* A new wait: what was killed in an earlier one
                         * is not news for it. */
                        s->waiting = TRUE;
                        g_clear_pointer(&s->killed, g_variant_unref);
                        g_clear_pointer(&s->killed_cause, g_free);
                } else if (g_str_equal(str, "resolved")) {
                        s->waiting = FALSE;
                        c->killed = g_steal_pointer(&s->killed);
                        c->killed_cause = g_steal_pointer(&s->killed_cause);
                }
                /* The sizes for the text: the limit and usage right now.
                 * (Replies come in the order of the calls, so the
                 * notifications keep the order of the signals.) */
                g_dbus_connection_call(conn, MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "GetStats",
                                       g_variant_new("(s)", cgroup), G_VARIANT_TYPE("(a{sv})"),
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, 2000, NULL, on_oom_stats, c);
        } else if (g_str_equal(member, "TasksKilled") && g_variant_is_of_type(params, G_VARIANT_TYPE("(sa(us)s)"))) {
                OomCall *c;

                g_variant_get(params, "(&s@a(us)&s)", &cgroup, NULL, &str);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                c = g_new0(OomCall, 1);
                c->app = a;
                c->cgroup = g_strdup(cgroup);
                c->cause = g_strdup(str);
                c->tasks = g_variant_get_child_value(params, 1);
                if (g_variant_n_children(c->tasks) == 0) {
                        oom_call_free(c);
                        return;
                }
                if (s->waiting) {
                        /* Kept for the "resolved" that ends this wait. */
                        g_clear_pointer(&s->killed, g_variant_unref);
                        g_free(s->killed_cause);
                        s->killed = g_variant_ref(c->tasks);
                        s->killed_cause = g_strdup(str);
                }
                g_dbus_connection_call(conn, MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "GetStats",
                                       g_variant_new("(s)", cgroup), G_VARIANT_TYPE("(a{sv})"),
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, 2000, NULL, on_oom_stats, c);
        } else if (g_str_equal(member, "Pressure") && g_variant_is_of_type(params, G_VARIANT_TYPE("(sy)"))) {
                guint8 level;
                gboolean was;

                g_variant_get(params, "(&sy)", &cgroup, &level);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                was = s->pressure >= PRESSURE_CRITICAL;
                s->pressure = level;
                /* memcgd's hysteresis (a level falls only after a quiet
                 * time) keeps this to one warning per episode. */
                if (level >= PRESSURE_CRITICAL && !was) {
                        PressureCall *c = g_new0(PressureCall, 1);
                        c->app = a;
                        c->cgroup = g_strdup(cgroup);
                        g_dbus_connection_call(conn, MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "GetStats",
                                               g_variant_new("(s)", cgroup), G_VARIANT_TYPE("(a{sv})"),
                                               G_DBUS_CALL_FLAGS_NO_AUTO_START, 2000, NULL, on_pressure_stats, c);
                } else if (level < PRESSURE_CRITICAL && was)
                        withdraw_pressure(a, s);
        } else if (g_str_equal(member, "MonitorStopped") && g_variant_is_of_type(params, G_VARIANT_TYPE("(ss)"))) {
                NotifyText t = {};

                g_variant_get(params, "(&s&s)", &cgroup, &str);
                if (!notify_config_follows(&a->config, cgroup))
                        return;
                s = get_state(a, cgroup);
                /* Limit news not shown yet is moot now. */
                for (int i = 0; i < _SLOT_MAX; i++)
                        g_clear_handle_id(&s->timer[i], g_source_remove);
                limit_changes_clear(&s->limit);
                s->budget_times = s->max_times = 0;
                if (s->pressure >= PRESSURE_CRITICAL)
                        withdraw_pressure(a, s);
                s->pressure = 0;
                notify_text_stopped(&t, cgroup, str);
                post(a, cgroup, SLOT_LIMIT, &t, ACTIONS_DETAILS);
                /* Nothing more will come for it: its state goes once this
                 * last notification has replaced the limit one (or
                 * right away, when filtered). */
                s->stopped = TRUE;
                forget_if_done(a, cgroup);
        } else
                g_debug("Ignoring signal %s%s of memcgd (not known to this version)", member,
                        g_variant_get_type_string(params));
}

/* ------------------------------------------------------------------------
 * Following memcgd on the system bus */

static void on_memcgd_appeared(GDBusConnection *conn, const char *name, const char *owner, gpointer userdata) {
        App *a = userdata;

        /* Subscribed to the owner's unique name, not the well-known one:
         * only the process that really owns org.memcgd1 is believed. */
        if (a->memcgd_sub)
                g_dbus_connection_signal_unsubscribe(conn, a->memcgd_sub);
        a->memcgd_sub = g_dbus_connection_signal_subscribe(conn, owner, MEMCGD_IFACE, NULL, MEMCGD_PATH, NULL,
                                                           G_DBUS_SIGNAL_FLAGS_NONE, on_memcgd_signal, a, NULL);
        g_message("Following memcgd (%s)", owner);
}

static void on_memcgd_vanished(GDBusConnection *conn, const char *name, gpointer userdata) {
        App *a = userdata;

        if (a->memcgd_sub && conn)
                g_dbus_connection_signal_unsubscribe(conn, a->memcgd_sub);
        a->memcgd_sub = 0;
        g_message("memcgd is not running; waiting for it");
}

static gboolean on_reconnect_timer(gpointer userdata) {
        App *a = userdata;

        a->reconnect_timer = 0;
        connect_system(a);
        return G_SOURCE_REMOVE;
}

static void schedule_reconnect(App *a) {
        if (!a->reconnect_timer)
                a->reconnect_timer = g_timeout_add_seconds(RECONNECT_SEC, on_reconnect_timer, a);
}

static void drop_system(App *a) {
        if (a->memcgd_watch)
                g_bus_unwatch_name(a->memcgd_watch);
        a->memcgd_watch = 0;
        if (a->system) {
                if (a->memcgd_sub)
                        g_dbus_connection_signal_unsubscribe(a->system, a->memcgd_sub);
                g_signal_handler_disconnect(a->system, a->closed_handler);
        }
        a->memcgd_sub = 0;
        a->closed_handler = 0;
        g_clear_object(&a->system);
}

static void on_system_closed(GDBusConnection *conn, gboolean remote_peer_vanished, GError *error, gpointer userdata) {
        App *a = userdata;

        g_message("Lost the system bus (%s); connecting again in %d s", error ? error->message : "closed",
                  RECONNECT_SEC);
        drop_system(a);
        schedule_reconnect(a);
}

static void on_system_connected(GObject *source, GAsyncResult *res, gpointer userdata) {
        App *a = userdata;
        g_autoptr(GError) error = NULL;
        GDBusConnection *conn = g_dbus_connection_new_for_address_finish(res, &error);

        if (!conn) {
                g_message("Cannot connect to the system bus: %s; trying again in %d s", error->message,
                          RECONNECT_SEC);
                schedule_reconnect(a);
                return;
        }
        a->system = conn;
        /* A lost system bus (restarted dbus-daemon) must not end us. */
        g_dbus_connection_set_exit_on_close(conn, FALSE);
        a->closed_handler = g_signal_connect(conn, "closed", G_CALLBACK(on_system_closed), a);
        a->memcgd_watch = g_bus_watch_name_on_connection(conn, MEMCGD_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                         on_memcgd_appeared, on_memcgd_vanished, a, NULL);
}

static void connect_system(App *a) {
        g_autoptr(GError) error = NULL;
        /* Honours DBUS_SYSTEM_BUS_ADDRESS. A private connection (not the
         * g_bus_get singleton) so that a closed one is simply replaced. */
        g_autofree char *address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &error);

        if (!address) {
                g_message("No system bus address: %s; trying again in %d s", error->message, RECONNECT_SEC);
                schedule_reconnect(a);
                return;
        }
        g_dbus_connection_new_for_address(address,
                                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                          NULL, NULL, on_system_connected, a);
}

/* ------------------------------------------------------------------------
 * Actions */

typedef struct ActionCall {
        App *app;
        char *cgroup;
        Slot slot;
        gboolean raise;
} ActionCall;

static void action_call_free(ActionCall *c) {
        g_free(c->cgroup);
        g_free(c);
}

/* A failed action, shown in place of the notification it came from;
 * summary is taken. */
static void post_action_error(App *a, const char *cgroup, Slot slot, char *summary, GError *error, const char *more,
                              Actions actions) {
        NotifyText t = {
                .urgency = NOTIFY_URGENCY_NORMAL,
                .icon = "dialog-warning",
                .summary = summary,
        };

        g_dbus_error_strip_remote_error(error);
        t.body = g_strdup_printf("%s: %s%s%s", cgroup, error->message, more ? " " : "", more ? more : "");
        post(a, cgroup, slot, &t, actions);
}

static void post_error(App *a, const char *cgroup, Slot slot, gboolean raising, GError *error) {
        post_action_error(a, cgroup, slot,
                          raising ? g_strdup_printf("Memory limit of %s not raised", cgroup_short_name(cgroup))
                                  : g_strdup_printf("No details on the memory of %s", cgroup_short_name(cgroup)),
                          error, NULL, ACTIONS_DETAILS);
}

static void on_set_limit_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        ActionCall *c = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

        /* Success shows as the LimitChanged ("manual") that follows. */
        if (!reply) {
                g_message("Raising the limit of %s failed: %s", c->cgroup, error->message);
                post_error(c->app, c->cgroup, c->slot, TRUE, error);
        }
        action_call_free(c);
}

static void on_action_stats(GObject *source, GAsyncResult *res, gpointer userdata) {
        ActionCall *c = userdata;
        App *a = c->app;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        g_autoptr(GVariant) stats = reply ? g_variant_get_child_value(reply, 0) : NULL;

        if (!c->raise) {
                NotifyText t = {};

                if (error)
                        g_dbus_error_strip_remote_error(error);
                notify_text_details(&t, c->cgroup, stats, error ? error->message : NULL);
                /* The details of a stopped cgroup replace its "stopped"
                 * notification: the decisions stay on offer. */
                CgroupState *st = g_hash_table_lookup(a->cgroups, c->cgroup);
                post(a, c->cgroup, c->slot, &t,
                     st && st->waiting && c->slot == SLOT_OOM ? ACTIONS_DECIDE
                     : stats != NULL                         ? ACTIONS_RAISE
                                                             : ACTIONS_DETAILS);
                action_call_free(c);
                return;
        }
        if (!stats) {
                post_error(a, c->cgroup, c->slot, TRUE, error);
                action_call_free(c);
                return;
        }
        guint64 max = stats_u64(stats, "max_limit_bytes");
        if (max == G_MAXUINT64 || max >= (G_GUINT64_CONSTANT(1) << 62)) {
                g_autoptr(GError) e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "it has no limit to raise");
                post_error(a, c->cgroup, c->slot, TRUE, e);
                action_call_free(c);
                return;
        }
        guint64 limit = max + a->config.raise_step;
        g_message("Raising the limit of %s to %" G_GUINT64_FORMAT " bytes", c->cgroup, limit);
        /* The person clicking may be asked for a password by their polkit
         * agent (org.memcgd1.set-limit). */
        g_dbus_connection_call(G_DBUS_CONNECTION(source), MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "SetInitialLimit",
                               g_variant_new("(st)", c->cgroup, limit), NULL,
                               G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION | G_DBUS_CALL_FLAGS_NO_AUTO_START,
                               G_MAXINT, NULL, on_set_limit_reply, c);
}

/* The decisions offered on a "stopped" notification: ResolveOom. Success
 * shows as the signals that follow (LimitChanged "decision" or
 * TasksKilled, then Oom "resolved", which replaces the notification). */
static void on_resolve_reply(GObject *source, GAsyncResult *res, gpointer userdata) {
        ActionCall *c = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        CgroupState *s = g_hash_table_lookup(c->app->cgroups, c->cgroup);

        if (!reply) {
                gboolean waiting = s && s->waiting;
                g_message("%s for %s failed: %s", c->raise ? "Raising the limit" : "Killing the largest process",
                          c->cgroup, error->message);
                /* Still stopped: the decisions stay on offer. */
                post_action_error(c->app, c->cgroup, c->slot,
                                  c->raise ? g_strdup_printf("Memory limit of %s not raised", cgroup_short_name(c->cgroup))
                                           : g_strdup_printf("No process of %s killed", cgroup_short_name(c->cgroup)),
                                  error,
                                  waiting ? "Its processes stay stopped until a decision or the timeout." : NULL,
                                  waiting ? ACTIONS_DECIDE : ACTIONS_DETAILS);
        } else
                g_message("Decision for %s accepted", c->cgroup);
        action_call_free(c);
}

static void decide(App *a, const char *cgroup, Slot slot, gboolean raise) {
        ActionCall *c = g_new0(ActionCall, 1);

        c->app = a;
        c->cgroup = g_strdup(cgroup);
        c->slot = slot;
        c->raise = raise;
        if (raise)
                g_message("Raising the limit of %s by %" G_GUINT64_FORMAT " bytes (ResolveOom)", cgroup,
                          a->config.raise_step);
        else
                g_message("Killing the largest process of %s (ResolveOom)", cgroup);
        /* The person clicking may be asked for a password by their polkit
         * agent (org.memcgd1.resolve-oom). */
        g_dbus_connection_call(a->system, MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "ResolveOom",
                               g_variant_new("(sst)", cgroup, raise ? "raise" : "kill-largest",
                                             raise ? a->config.raise_step : (guint64) 0),
                               NULL, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION | G_DBUS_CALL_FLAGS_NO_AUTO_START,
                               G_MAXINT, NULL, on_resolve_reply, c);
}

static void on_server_signal(GDBusConnection *conn, const char *sender, const char *path, const char *iface,
                             const char *member, GVariant *params, gpointer userdata) {
        App *a = userdata;
        guint32 id;

        if (g_str_equal(member, "ActionInvoked") && g_variant_is_of_type(params, G_VARIANT_TYPE("(us)"))) {
                const char *key;
                IdInfo *info;
                ActionCall *c;

                g_variant_get(params, "(u&s)", &id, &key);
                info = g_hash_table_lookup(a->ids, GUINT_TO_POINTER(id));
                if (!info)
                        return; /* another program's notification */
                g_message("Action \"%s\" on the notification of %s", key, info->cgroup);
                if (!a->system) {
                        g_autoptr(GError) e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                                                  "no connection to the system bus");
                        if (g_str_equal(key, "kill-largest"))
                                post_action_error(a, info->cgroup, info->slot,
                                                  g_strdup_printf("No process of %s killed",
                                                                  cgroup_short_name(info->cgroup)),
                                                  e, NULL, ACTIONS_DETAILS);
                        else
                                post_error(a, info->cgroup, info->slot,
                                           g_str_equal(key, "raise") || g_str_equal(key, "oom-raise"), e);
                        return;
                }
                if (g_str_equal(key, "oom-raise") || g_str_equal(key, "kill-largest")) {
                        decide(a, info->cgroup, info->slot, g_str_equal(key, "oom-raise"));
                        return;
                }
                c = g_new0(ActionCall, 1);
                c->app = a;
                c->cgroup = g_strdup(info->cgroup);
                c->slot = info->slot;
                c->raise = g_str_equal(key, "raise");
                g_dbus_connection_call(a->system, MEMCGD_NAME, MEMCGD_PATH, MEMCGD_IFACE, "GetStats",
                                       g_variant_new("(s)", c->cgroup), G_VARIANT_TYPE("(a{sv})"),
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, NULL, on_action_stats, c);
        } else if (g_str_equal(member, "NotificationClosed") &&
                   g_variant_is_of_type(params, G_VARIANT_TYPE("(uu)"))) {
                IdInfo *info;

                g_variant_get(params, "(uu)", &id, NULL);
                info = g_hash_table_lookup(a->ids, GUINT_TO_POINTER(id));
                if (!info)
                        return;
                CgroupState *s = g_hash_table_lookup(a->cgroups, info->cgroup);
                if (s && s->ids[info->slot] == id)
                        s->ids[info->slot] = 0;
                g_hash_table_remove(a->ids, GUINT_TO_POINTER(id));
        }
}

/* ------------------------------------------------------------------------
 * The notification server */

static void on_capabilities(GObject *source, GAsyncResult *res, gpointer userdata) {
        App *a = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
        g_autofree const char **caps = NULL;
        g_autofree char *list = NULL;

        if (!a->server_owner)
                return; /* gone meanwhile */
        a->server_actions = a->server_markup = FALSE;
        if (reply) {
                g_variant_get(reply, "(^a&s)", &caps);
                a->server_actions = g_strv_contains(caps, "actions");
                a->server_markup = g_strv_contains(caps, "body-markup");
                list = g_strjoinv(" ", (char **) caps);
        } else
                g_message("GetCapabilities failed: %s; assuming none", error->message);
        g_message("Notification server %s (capabilities: %s)", a->server_owner, list ? list : "none");
        a->caps_known = TRUE;
        pump(a);
}

static void forget_server(App *a) {
        GHashTableIter it;
        gpointer v;

        if (a->action_sub)
                g_dbus_connection_signal_unsubscribe(a->session, a->action_sub);
        if (a->closed_sub)
                g_dbus_connection_signal_unsubscribe(a->session, a->closed_sub);
        a->action_sub = a->closed_sub = 0;
        g_clear_pointer(&a->server_owner, g_free);
        a->caps_known = FALSE;
        /* Ids belong to the server that handed them out. */
        g_hash_table_remove_all(a->ids);
        g_hash_table_iter_init(&it, a->cgroups);
        while (g_hash_table_iter_next(&it, NULL, &v))
                memset(((CgroupState *) v)->ids, 0, sizeof(((CgroupState *) v)->ids));
}

static void on_server_appeared(GDBusConnection *conn, const char *name, const char *owner, gpointer userdata) {
        App *a = userdata;

        forget_server(a);
        a->server_owner = g_strdup(owner);
        a->action_sub = g_dbus_connection_signal_subscribe(conn, owner, NOTIFY_IFACE, "ActionInvoked", NOTIFY_PATH,
                                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_server_signal, a, NULL);
        a->closed_sub = g_dbus_connection_signal_subscribe(conn, owner, NOTIFY_IFACE, "NotificationClosed",
                                                           NOTIFY_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                           on_server_signal, a, NULL);
        g_dbus_connection_call(conn, owner, NOTIFY_PATH, NOTIFY_IFACE, "GetCapabilities", NULL,
                               G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_capabilities, a);
}

static void on_server_vanished(GDBusConnection *conn, const char *name, gpointer userdata) {
        App *a = userdata;

        if (a->server_owner)
                g_message("The notification server went away; queueing notifications");
        else
                g_message("No notification server yet; queueing notifications until one starts");
        forget_server(a);
}

/* ------------------------------------------------------------------------ */

static gboolean on_quit_signal(gpointer userdata) {
        g_main_loop_quit(userdata);
        return G_SOURCE_CONTINUE;
}

static gboolean load_config(NotifyConfig *c, const char *path, gboolean must_exist, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;

        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
                if (!must_exist && g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                        return TRUE;
                g_propagate_prefixed_error(error, g_steal_pointer(&e), "%s: ", path);
                return FALSE;
        }
        if (!notify_config_load(c, kf, &e)) {
                g_propagate_prefixed_error(error, g_steal_pointer(&e), "%s: ", path);
                return FALSE;
        }
        return TRUE;
}

int main(int argc, char *argv[]) {
        g_autofree char *arg_config = NULL, *arg_urgency = NULL;
        g_auto(GStrv) arg_prefixes = NULL;
        g_autofree char *arg_interval = NULL;
        gboolean arg_verbose = FALSE, arg_version = FALSE;
        const GOptionEntry entries[] = {
                { "config", 'c', 0, G_OPTION_ARG_FILENAME, &arg_config,
                  "Configuration file (default: $XDG_CONFIG_HOME/memcg-notify.conf)", "FILE" },
                { "prefix", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &arg_prefixes,
                  "Follow cgroups at or below PATH (repeatable; \"/\" for all); overrides Prefix=", "PATH" },
                { "min-urgency", 'u', 0, G_OPTION_ARG_STRING, &arg_urgency,
                  "Show only notifications of this urgency or above: low, normal, critical", "URGENCY" },
                { "limit-interval", 'i', 0, G_OPTION_ARG_STRING, &arg_interval,
                  "At most one limit notification per cgroup per SECONDS", "SECONDS" },
                { "verbose", 'v', 0, G_OPTION_ARG_NONE, &arg_verbose, "Log every notification", NULL },
                { "version", 0, 0, G_OPTION_ARG_NONE, &arg_version, "Show the version", NULL },
                {}
        };
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *config_path = NULL;
        App a = {};

        setlocale(LC_ALL, "");
        ctx = g_option_context_new(NULL);
        g_option_context_set_summary(ctx, "Desktop notifications from memcgd: memory limits raised and lowered, "
                                          "budget exhausted, out-of-memory kills, processes stopped at their limit.");
        g_option_context_set_description(
                ctx, "Configuration ($XDG_CONFIG_HOME/memcg-notify.conf, GKeyFile):\n"
                     "  [Notify]\n"
                     "  Prefix=/user.slice/user-UID.slice   cgroups followed, ';'-separated; / = all\n"
                     "  MinimumUrgency=low                   low, normal or critical\n"
                     "  LimitInterval=30                     seconds between limit (and budget) notifications\n"
                     "                                       of one cgroup; changes in between are merged\n"
                     "  RaiseStep=256M                       what the \"Raise limit\" action adds (also to\n"
                     "                                       a cgroup stopped at its limit)\n");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
                g_printerr("memcg-notify: %s\n", error->message);
                return 2;
        }
        if (arg_version) {
                g_print("memcg-notify %s\n", MEMCGD_VERSION);
                return 0;
        }
        if (arg_verbose)
                g_log_set_debug_enabled(TRUE);

        notify_config_init_default(&a.config, (guint) getuid());
        config_path = arg_config ? g_strdup(arg_config)
                                 : g_build_filename(g_get_user_config_dir(), "memcg-notify.conf", NULL);
        if (!load_config(&a.config, config_path, arg_config != NULL, &error)) {
                g_printerr("memcg-notify: %s\n", error->message);
                notify_config_clear(&a.config);
                return 1;
        }
        if (arg_prefixes && arg_prefixes[0]) {
                /* The same form as Prefix= of the file. */
                for (char **p = arg_prefixes; *p; p++)
                        if (!notify_prefix_normalize(*p)) {
                                g_printerr("memcg-notify: --prefix=%s: a cgroup path starts with / (the root of the "
                                           "memory hierarchy)\n",
                                           *p);
                                notify_config_clear(&a.config);
                                return 2;
                        }
                g_strfreev(a.config.prefixes);
                a.config.prefixes = g_steal_pointer(&arg_prefixes);
        }
        if (arg_urgency && !notify_urgency_from_string(arg_urgency, &a.config.min_urgency)) {
                g_printerr("memcg-notify: --min-urgency=%s: use low, normal or critical\n", arg_urgency);
                notify_config_clear(&a.config);
                return 2;
        }
        if (arg_interval) {
                /* Parsed as LimitInterval= is: a G_OPTION_ARG_INT would
                 * take "-1" (and needs a value for "not given"). */
                guint64 iv;

                if (!g_ascii_string_to_unsigned(g_strstrip(arg_interval), 10, 0, 86400, &iv, NULL)) {
                        g_printerr("memcg-notify: --limit-interval=%s: seconds from 0 to 86400\n", arg_interval);
                        notify_config_clear(&a.config);
                        return 2;
                }
                a.config.limit_interval_sec = (guint) iv;
        }
        {
                g_autofree char *prefixes = g_strjoinv(", ", a.config.prefixes);
                g_message("Following cgroups under %s; minimum urgency %s; limit changes at most every %u s",
                          prefixes, notify_urgency_to_string(a.config.min_urgency), a.config.limit_interval_sec);
        }

        a.session = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &error);
        if (!a.session) {
                g_printerr("memcg-notify: no session bus: %s\n", error->message);
                notify_config_clear(&a.config);
                return 1;
        }

        a.loop = g_main_loop_new(NULL, FALSE);
        a.cgroups = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) cgroup_state_free);
        a.ids = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) id_info_free);
        g_queue_init(&a.queue);

        /* AUTO_START: a server started by D-Bus activation on first use
         * is started now; none at all keeps the notifications queued. */
        a.server_watch = g_bus_watch_name_on_connection(a.session, NOTIFY_NAME, G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
                                                        on_server_appeared, on_server_vanished, &a, NULL);
        connect_system(&a);

        g_unix_signal_add(SIGINT, on_quit_signal, a.loop);
        g_unix_signal_add(SIGTERM, on_quit_signal, a.loop);
        g_main_loop_run(a.loop);
        g_message("Exiting");

        g_bus_unwatch_name(a.server_watch);
        forget_server(&a);
        if (a.reconnect_timer)
                g_source_remove(a.reconnect_timer);
        drop_system(&a);
        g_queue_clear_full(&a.queue, (GDestroyNotify) pending_free);
        g_hash_table_destroy(a.cgroups);
        g_hash_table_destroy(a.ids);
        g_main_loop_unref(a.loop);
        g_object_unref(a.session);
        notify_config_clear(&a.config);
        return 0;
}
