/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "memcgd/parse.h"
#include "notify-text.h"

gboolean notify_urgency_from_string(const char *s, NotifyUrgency *ret) {
        static const char *const names[] = { "low", "normal", "critical" };

        for (guint i = 0; s && i < G_N_ELEMENTS(names); i++)
                if (g_ascii_strcasecmp(s, names[i]) == 0) {
                        *ret = (NotifyUrgency) i;
                        return TRUE;
                }
        return FALSE;
}

const char *notify_urgency_to_string(NotifyUrgency u) {
        switch (u) {
        case NOTIFY_URGENCY_LOW: return "low";
        case NOTIFY_URGENCY_NORMAL: return "normal";
        case NOTIFY_URGENCY_CRITICAL: return "critical";
        }
        return "normal";
}

void notify_config_init_default(NotifyConfig *c, guint uid) {
        *c = (NotifyConfig) {
                .min_urgency = NOTIFY_URGENCY_LOW,
                .limit_interval_sec = NOTIFY_DEFAULT_LIMIT_INTERVAL_SEC,
                .raise_step = NOTIFY_DEFAULT_RAISE_STEP,
        };
        c->prefixes = g_new0(char *, 2);
        c->prefixes[0] = g_strdup_printf("/user.slice/user-%u.slice", uid);
}

void notify_config_clear(NotifyConfig *c) {
        g_clear_pointer(&c->prefixes, g_strfreev);
}

static gboolean invalid(GError **error, const char *key, const char *value, const char *why) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "[Notify] %s=%s: %s", key, value, why);
        return FALSE;
}

gboolean notify_config_load(NotifyConfig *c, GKeyFile *kf, GError **error) {
        g_auto(GStrv) prefixes = NULL;
        g_autofree char *urgency = NULL, *interval = NULL, *step = NULL;
        NotifyUrgency u = c->min_urgency;
        guint64 iv = c->limit_interval_sec, st = c->raise_step;

        if (!g_key_file_has_group(kf, "Notify"))
                return TRUE;

        prefixes = g_key_file_get_string_list(kf, "Notify", "Prefix", NULL, NULL);
        if (prefixes) {
                if (!prefixes[0])
                        return invalid(error, "Prefix", "", "name at least one cgroup path, or / for all");
                for (char **p = prefixes; *p; p++)
                        if (!notify_prefix_normalize(*p))
                                return invalid(error, "Prefix", *p,
                                               "a cgroup path starts with / (the root of the memory hierarchy)");
        }
        urgency = g_key_file_get_string(kf, "Notify", "MinimumUrgency", NULL);
        if (urgency && !notify_urgency_from_string(g_strstrip(urgency), &u))
                return invalid(error, "MinimumUrgency", urgency, "use low, normal or critical");
        interval = g_key_file_get_string(kf, "Notify", "LimitInterval", NULL);
        if (interval) {
                g_strstrip(interval);
                if (!g_ascii_string_to_unsigned(interval, 10, 0, 86400, &iv, NULL))
                        return invalid(error, "LimitInterval", interval, "seconds from 0 to 86400");
        }
        step = g_key_file_get_string(kf, "Notify", "RaiseStep", NULL);
        if (step) {
                g_strstrip(step);
                if (parse_size(step, &st) < 0 || st == 0 || st == G_MAXUINT64)
                        return invalid(error, "RaiseStep", step, "a size such as 256M or 1G");
        }

        if (prefixes) {
                g_strfreev(c->prefixes);
                c->prefixes = g_steal_pointer(&prefixes);
        }
        c->min_urgency = u;
        c->limit_interval_sec = (guint) iv;
        c->raise_step = st;
        return TRUE;
}

gboolean notify_prefix_normalize(char *prefix) {
        gsize l;

        g_strstrip(prefix);
        l = strlen(prefix);
        /* The form of /proc/PID/cgroup; a trailing slash is forgiven
         * ("/user.slice/"). */
        while (l > 1 && prefix[l - 1] == '/')
                prefix[--l] = '\0';
        return prefix[0] == '/';
}

gboolean cgroup_has_prefix(const char *cgroup, const char *prefix) {
        gsize l = strlen(prefix);

        if (strcmp(prefix, "/") == 0)
                return cgroup[0] == '/';
        if (strncmp(cgroup, prefix, l) != 0)
                return FALSE;
        return cgroup[l] == '\0' || cgroup[l] == '/';
}

gboolean notify_config_follows(const NotifyConfig *c, const char *cgroup) {
        for (char **p = c->prefixes; p && *p; p++)
                if (cgroup_has_prefix(cgroup, *p))
                        return TRUE;
        return FALSE;
}

/* See format.h of memcgctl: v1 reports "unlimited" as 2^63 - 4096. */
#define UNLIMITED_FROM (G_GUINT64_CONSTANT(1) << 62)

char *notify_format_size(guint64 bytes) {
        static const struct {
                const char *unit;
                unsigned shift;
        } units[] = { { "TiB", 40 }, { "GiB", 30 }, { "MiB", 20 }, { "KiB", 10 } };

        if (bytes >= UNLIMITED_FROM)
                return g_strdup("unlimited");
        /* Round figures as people say them ("256 MiB", not "256.0 MiB"),
         * the rest with one decimal in the user's locale. (Not
         * g_format_size(): it puts a no-break space before the unit.) */
        for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
                guint64 unit = G_GUINT64_CONSTANT(1) << units[i].shift;

                if (bytes < unit)
                        continue;
                if (bytes % unit == 0)
                        return g_strdup_printf("%" G_GUINT64_FORMAT " %s", bytes / unit, units[i].unit);
                return g_strdup_printf("%.1f %s", (double) bytes / (double) unit, units[i].unit);
        }
        return g_strdup_printf("%" G_GUINT64_FORMAT " bytes", bytes);
}

const char *cgroup_short_name(const char *cgroup) {
        const char *s = strrchr(cgroup, '/');

        return s && s[1] ? s + 1 : cgroup;
}

void notify_text_clear(NotifyText *t) {
        g_clear_pointer(&t->summary, g_free);
        g_clear_pointer(&t->body, g_free);
}

void limit_changes_add(LimitChanges *c, guint64 old_max, guint64 new_max, guint64 new_high, const char *reason) {
        if (limit_changes_empty(c)) {
                c->first_old_max = old_max;
                c->top_max = 0;
        }
        if (new_max > c->top_max)
                c->top_max = new_max;
        c->new_max = new_max;
        c->new_high = new_high;
        if (g_str_equal(reason, "grow") || g_str_equal(reason, "emergency") || g_str_equal(reason, "decision"))
                c->grows++;
        else if (g_str_equal(reason, "shrink"))
                c->shrinks++;
        else
                c->others++;
        g_free(c->last_reason);
        c->last_reason = g_strdup(reason);
}

void limit_changes_clear(LimitChanges *c) {
        g_free(c->last_reason);
        *c = (LimitChanges) {};
}

gboolean limit_changes_empty(const LimitChanges *c) {
        return c->grows + c->shrinks + c->others == 0;
}

static char *times(guint n) {
        return n == 1 ? g_strdup("once") : n == 2 ? g_strdup("twice") : g_strdup_printf("%u times", n);
}

void notify_text_limit(NotifyText *t, const char *cgroup, const LimitChanges *c) {
        g_autofree char *from = notify_format_size(c->first_old_max), *to = notify_format_size(c->new_max),
                        *high = notify_format_size(c->new_high);
        const char *name = cgroup_short_name(cgroup), *reason = c->last_reason ? c->last_reason : "";
        guint n = c->grows + c->shrinks + c->others;
        const char *verb;

        t->urgency = NOTIFY_URGENCY_LOW;
        t->icon = "dialog-information";
        if (n == 1 && g_str_equal(reason, "initial")) {
                t->summary = g_strdup_printf("Memory of %s now elastic", name);
                t->body = g_strdup_printf("memcgd monitors %s, starting at a limit of %s (soft line %s).", cgroup,
                                          to, high);
                return;
        }
        if (n == 1 && g_str_equal(reason, "restore")) {
                t->summary = g_strdup_printf("Memory limit of %s restored", name);
                t->body = g_strdup_printf("%s is no longer elastic: its limit is back at %s.", cgroup, to);
                return;
        }
        if (n == 1 && g_str_equal(reason, "manual")) {
                t->summary = g_strdup_printf("Memory limit of %s set", name);
                t->body = g_strdup_printf("%s: limit set to %s (was %s), soft line %s.", cgroup, to, from, high);
                return;
        }
        if (n == 1 && g_str_equal(reason, "emergency")) {
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-warning";
                t->summary = g_strdup_printf("Emergency memory for %s", name);
                t->body = g_strdup_printf("%s hit its limit: memcgd granted an emergency step so that it survives, "
                                          "%s → %s.",
                                          cgroup, from, to);
                return;
        }

        if (c->grows > 0 && c->shrinks == 0 && c->others == 0)
                verb = "raised";
        else if (c->shrinks > 0 && c->grows == 0 && c->others == 0)
                verb = "lowered";
        else if (c->new_max > c->first_old_max)
                verb = "raised";
        else if (c->new_max < c->first_old_max)
                verb = "lowered";
        else
                verb = "changed";
        t->summary = g_strdup_printf("Memory limit of %s %s", name, verb);
        if (n == 1 && (c->grows == 1 || c->shrinks == 1))
                t->body = g_strdup_printf("%s: %s → %s (soft line %s).", cgroup, from, to, high);
        else if (n == 1)
                t->body = g_strdup_printf("%s: %s → %s (soft line %s; reason: %s).", cgroup, from, to, high, reason);
        else {
                g_autofree char *ntimes = times(n);
                GString *parts = g_string_new(NULL);

                if (c->grows > 0)
                        g_string_append_printf(parts, "%u up", c->grows);
                if (c->shrinks > 0)
                        g_string_append_printf(parts, "%s%u down", parts->len ? ", " : "", c->shrinks);
                if (c->others > 0)
                        g_string_append_printf(parts, "%s%u set", parts->len ? ", " : "", c->others);
                if (c->top_max > c->new_max && c->top_max > c->first_old_max) {
                        g_autofree char *top = notify_format_size(c->top_max);
                        t->body = g_strdup_printf("%s: changed %s (%s): %s → %s (soft line %s), at most %s.", cgroup,
                                                  ntimes, parts->str, from, to, high, top);
                } else
                        t->body = g_strdup_printf("%s: changed %s (%s): %s → %s (soft line %s).", cgroup, ntimes,
                                                  parts->str, from, to, high);
                g_string_free(parts, TRUE);
        }
}

void notify_text_budget(NotifyText *t, const char *cgroup, guint64 requested, guint64 granted, guint n,
                        guint64 max) {
        g_autofree char *req = notify_format_size(requested), *got = notify_format_size(granted);
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_NORMAL;
        t->icon = "dialog-warning";
        t->summary = g_strdup_printf("Memory budget exhausted for %s", cgroup_short_name(cgroup));
        if (granted == 0) {
                g_string_append_printf(b, "%s asked for %s more and got nothing: the memory budget of memcgd is used up.",
                                       cgroup, req);
                if (max > 0) {
                        g_autofree char *m = notify_format_size(max);
                        g_string_append_printf(b, " Its limit stays at %s.", m);
                }
        } else
                g_string_append_printf(b, "%s asked for %s more and got only %s: the memory budget of memcgd is "
                                          "running out.",
                                       cgroup, req, got);
        if (n > 1) {
                g_autofree char *ntimes = times(n);
                g_string_append_printf(b, " (%s)", ntimes);
        }
        t->body = g_string_free(b, FALSE);
}

static void append_tasks(GString *b, const OomTask *tasks, gsize ntasks) {
        /* A cgroup can hold thousands of tasks; a notification is read at
         * a glance. */
        enum { NAMED = 5 };

        for (gsize i = 0; i < ntasks && i < NAMED; i++)
                g_string_append_printf(b, "%s%s (PID %u)", i == 0 ? "" : ", ", tasks[i].comm, tasks[i].pid);
        if (ntasks > NAMED)
                g_string_append_printf(b, " and %" G_GSIZE_FORMAT " more", ntasks - NAMED);
}

static void append_sizes(GString *b, guint64 max, guint64 usage) {
        g_autofree char *m = max != G_MAXUINT64 ? notify_format_size(max) : NULL;
        g_autofree char *u = usage != G_MAXUINT64 ? notify_format_size(usage) : NULL;

        /* Read after the event: after a kill the usage has dropped. */
        if (m && u)
                g_string_append_printf(b, " Limit %s, usage now %s.", m, u);
        else if (m)
                g_string_append_printf(b, " Limit %s.", m);
        else if (u)
                g_string_append_printf(b, " Usage now %s.", u);
}

void notify_text_limit_hit(NotifyText *t, const char *cgroup, guint n, guint64 max, gboolean budget_used_up) {
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_NORMAL;
        t->icon = "dialog-warning";
        t->summary = g_strdup_printf("%s hit its memory limit", cgroup_short_name(cgroup));
        g_string_append_printf(b, "%s reached its hard limit", cgroup);
        if (max > 0) {
                g_autofree char *m = notify_format_size(max);
                g_string_append_printf(b, " of %s", m);
        }
        g_string_append(b, "; the kernel reclaims its memory to stay below.");
        if (budget_used_up)
                g_string_append(b, " The memory budget of memcgd is used up: the limit cannot grow.");
        if (n > 1) {
                g_autofree char *ntimes = times(n);
                g_string_append_printf(b, " (%s)", ntimes);
        }
        t->body = g_string_free(b, FALSE);
}

void notify_text_oom(NotifyText *t, const char *cgroup, const char *kind, guint64 count, const OomTask *tasks,
                     gsize ntasks, guint64 max, guint64 usage) {
        const char *name = cgroup_short_name(cgroup);
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_CRITICAL;
        t->icon = "dialog-error";
        if (g_str_equal(kind, "oom_kill")) {
                t->summary = g_strdup_printf("Out of memory: process killed in %s", name);
                g_string_append_printf(b, "The kernel killed a process of %s", cgroup);
                if (count > 1)
                        g_string_append_printf(b, " (%" G_GUINT64_FORMAT " OOM kills so far)", count);
                g_string_append(b, ": it ran out of memory at its limit.");
                append_sizes(b, max, usage);
                /* The signal lists the tasks in the cgroup when memcgd saw
                 * the kill; the victim may still be among them, exiting. */
                if (ntasks > 0) {
                        g_string_append(b, " It held: ");
                        append_tasks(b, tasks, ntasks);
                        g_string_append(b, ".");
                } else
                        g_string_append(b, " No process is left in it.");
        } else if (g_str_equal(kind, "oom_group_kill")) {
                t->summary = g_strdup_printf("Out of memory: %s killed", name);
                g_string_append_printf(b, "The kernel killed every process of %s: it ran out of memory at its limit.",
                                       cgroup);
                append_sizes(b, max, usage);
        } else if (g_str_equal(kind, "oom")) {
                t->summary = g_strdup_printf("Out of memory in %s", name);
                g_string_append_printf(b, "%s ran out of memory at its limit and the kernel's OOM handling ran.",
                                       cgroup);
                append_sizes(b, max, usage);
                if (ntasks > 0) {
                        g_string_append(b, ntasks == 1 ? " Process: " : " Processes: ");
                        append_tasks(b, tasks, ntasks);
                        g_string_append(b, ".");
                }
        } else if (g_str_equal(kind, "frozen")) {
                g_string_free(b, TRUE);
                notify_text_frozen(t, cgroup, tasks, ntasks, max, usage, G_MAXUINT64);
                return;
        } else if (g_str_equal(kind, "max")) {
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-warning";
                t->summary = g_strdup_printf("%s hit its memory limit", name);
                g_string_append_printf(b, "%s reached its hard limit; the kernel reclaims memory to keep it below.",
                                       cgroup);
                append_sizes(b, max, usage);
        } else if (g_str_equal(kind, "resolved")) {
                g_string_free(b, TRUE);
                notify_text_resolved(t, cgroup, NULL, 0, NULL, max, usage);
                return;
        } else {
                /* A kind this version does not know: say what came, do not
                 * guess how bad it is. */
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-warning";
                t->summary = g_strdup_printf("Memory event in %s", name);
                g_string_append_printf(b, "memcgd reports '%s' (count %" G_GUINT64_FORMAT ") for %s.", kind, count,
                                       cgroup);
                append_sizes(b, max, usage);
        }
        t->body = g_string_free(b, FALSE);
}

void notify_text_frozen(NotifyText *t, const char *cgroup, const OomTask *tasks, gsize ntasks, guint64 max,
                        guint64 usage, guint64 decision_left_usec) {
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_CRITICAL;
        t->icon = "dialog-error";
        t->summary = g_strdup_printf("Processes of %s stopped at their memory limit", cgroup_short_name(cgroup));
        g_string_append_printf(b, "%s ran out of memory at its limit: its processes are stopped until the limit "
                                  "is raised or a process is killed.",
                               cgroup);
        if (ntasks > 0) {
                g_string_append(b, " Stopped: ");
                append_tasks(b, tasks, ntasks);
                g_string_append(b, ".");
        }
        append_sizes(b, max, usage);
        if (decision_left_usec != G_MAXUINT64) {
                /* Whole seconds, rounded up. */
                guint64 s = (decision_left_usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
                g_string_append_printf(b, " Without a decision memcgd kills the largest process in %" G_GUINT64_FORMAT " s.",
                                       s);
        } else
                g_string_append(b, " Without a decision memcgd kills the largest process.");
        t->body = g_string_free(b, FALSE);
}

/* "memcgd-test-all (PID 12)" or "3 processes: a (PID 1), b (PID 2), c (PID 3)". */
static void append_killed(GString *b, const OomTask *tasks, gsize ntasks) {
        if (ntasks == 1)
                g_string_append_printf(b, "%s (PID %u)", tasks[0].comm, tasks[0].pid);
        else {
                g_string_append_printf(b, "%" G_GSIZE_FORMAT " processes: ", ntasks);
                append_tasks(b, tasks, ntasks);
        }
}

static void killed_text(GString *b, const char *cgroup, const OomTask *tasks, gsize ntasks, const char *cause) {
        if (g_str_equal(cause, "kernel")) {
                g_string_append(b, "The kernel's OOM killer killed ");
                append_killed(b, tasks, ntasks);
                g_string_append_printf(b, " in %s: it ran out of memory at its limit.", cgroup);
        } else if (g_str_equal(cause, "decision")) {
                g_string_append(b, "memcgd killed ");
                append_killed(b, tasks, ntasks);
                g_string_append_printf(b, " in %s, as decided while its processes were stopped at the memory limit.",
                                       cgroup);
        } else if (g_str_equal(cause, "timeout")) {
                g_string_append(b, "memcgd killed ");
                append_killed(b, tasks, ntasks);
                g_string_append_printf(b, " in %s: its processes were stopped at the memory limit and no decision "
                                          "came in time.",
                                       cgroup);
        } else {
                g_string_append(b, "memcgd reports ");
                append_killed(b, tasks, ntasks);
                g_string_append_printf(b, " killed in %s (cause: %s).", cgroup, cause);
        }
}

static char *killed_summary(const char *cgroup, const OomTask *tasks, gsize ntasks) {
        if (ntasks == 1)
                return g_strdup_printf("Out of memory: %s killed in %s", tasks[0].comm, cgroup_short_name(cgroup));
        return g_strdup_printf("Out of memory: %" G_GSIZE_FORMAT " processes killed in %s", ntasks,
                               cgroup_short_name(cgroup));
}

void notify_text_killed(NotifyText *t, const char *cgroup, const OomTask *tasks, gsize ntasks, const char *cause,
                        guint64 max, guint64 usage) {
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_CRITICAL;
        t->icon = "dialog-error";
        t->summary = killed_summary(cgroup, tasks, ntasks);
        killed_text(b, cgroup, tasks, ntasks, cause);
        append_sizes(b, max, usage);
        t->body = g_string_free(b, FALSE);
}

void notify_text_resolved(NotifyText *t, const char *cgroup, const OomTask *killed, gsize nkilled,
                          const char *cause, guint64 max, guint64 usage) {
        GString *b = g_string_new(NULL);

        if (nkilled > 0) {
                t->urgency = NOTIFY_URGENCY_CRITICAL;
                t->icon = "dialog-error";
                t->summary = killed_summary(cgroup, killed, nkilled);
                killed_text(b, cgroup, killed, nkilled, cause ? cause : "decision");
                g_string_append(b, " The stop has ended.");
        } else {
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-information";
                t->summary = g_strdup_printf("%s runs again", cgroup_short_name(cgroup));
                g_string_append_printf(b, "The out-of-memory stop of %s has ended: its processes run again.", cgroup);
        }
        append_sizes(b, max, usage);
        t->body = g_string_free(b, FALSE);
}

void notify_text_pressure(NotifyText *t, const char *cgroup, double some_avg10, double full_avg10, guint64 max,
                          guint64 usage) {
        GString *b = g_string_new(NULL);

        t->urgency = NOTIFY_URGENCY_NORMAL;
        t->icon = "dialog-warning";
        t->summary = g_strdup_printf("Memory pressure critical in %s", cgroup_short_name(cgroup));
        g_string_append_printf(b, "The processes of %s are stalled waiting for memory", cgroup);
        if (some_avg10 >= 0 && full_avg10 >= 0)
                g_string_append_printf(b, " (some waited %.0f %%, all %.0f %% of the last 10 s)", some_avg10,
                                       full_avg10);
        else if (some_avg10 >= 0)
                g_string_append_printf(b, " (%.0f %% of the last 10 s)", some_avg10);
        g_string_append(b, "; they may run out of memory soon.");
        append_sizes(b, max, usage);
        t->body = g_string_free(b, FALSE);
}

void notify_text_stopped(NotifyText *t, const char *cgroup, const char *reason) {
        const char *name = cgroup_short_name(cgroup);

        t->urgency = NOTIFY_URGENCY_LOW;
        t->icon = "dialog-information";
        t->summary = g_strdup_printf("Memory of %s no longer elastic", name);
        if (g_str_equal(reason, "removed"))
                t->body = g_strdup_printf("%s was removed; memcgd stopped monitoring it.", cgroup);
        else if (g_str_equal(reason, "unmonitored"))
                t->body = g_strdup_printf("memcgd stopped monitoring %s on request; its previous limits are back.",
                                          cgroup);
        else if (g_str_equal(reason, "error")) {
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-warning";
                t->body = g_strdup_printf("memcgd stopped monitoring %s after an error; see its log.", cgroup);
        } else {
                t->urgency = NOTIFY_URGENCY_NORMAL;
                t->icon = "dialog-warning";
                t->body = g_strdup_printf("memcgd stopped monitoring %s (%s).", cgroup, reason);
        }
}

static gboolean lookup_u64(GVariant *stats, const char *key, guint64 *ret) {
        g_autoptr(GVariant) v = stats ? g_variant_lookup_value(stats, key, NULL) : NULL;

        if (!v)
                return FALSE;
        if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT64))
                *ret = g_variant_get_uint64(v);
        else if (g_variant_is_of_type(v, G_VARIANT_TYPE_UINT32))
                *ret = g_variant_get_uint32(v);
        else
                return FALSE;
        return TRUE;
}

void notify_text_details(NotifyText *t, const char *cgroup, GVariant *stats, const char *error) {
        GString *b = g_string_new(NULL);
        guint64 v, w;
        gboolean monitored = FALSE;

        t->urgency = NOTIFY_URGENCY_LOW;
        t->icon = "dialog-information";
        t->summary = g_strdup_printf("Memory of %s", cgroup_short_name(cgroup));
        if (!stats) {
                g_string_append_printf(b, "%s: no details: %s", cgroup, error ? error : "unknown error");
                t->body = g_string_free(b, FALSE);
                return;
        }
        (void) g_variant_lookup(stats, "monitored", "b", &monitored);
        g_string_append_printf(b, "%s (%s)", cgroup, monitored ? "elastic" : "not monitored");
        if (lookup_u64(stats, "current_bytes", &v)) {
                g_autofree char *s = notify_format_size(v);
                g_string_append_printf(b, "\nUsage: %s", s);
                if (lookup_u64(stats, "peak_bytes", &w)) {
                        g_autofree char *p = notify_format_size(w);
                        g_string_append_printf(b, " (peak %s)", p);
                }
        }
        if (lookup_u64(stats, "max_limit_bytes", &v)) {
                g_autofree char *s = notify_format_size(v);
                g_string_append_printf(b, "\nLimit: %s", s);
                if (lookup_u64(stats, "high_limit_bytes", &w)) {
                        g_autofree char *h = notify_format_size(w);
                        g_string_append_printf(b, " (soft line %s)", h);
                }
        }
        if (lookup_u64(stats, "limit_increases", &v) && lookup_u64(stats, "limit_decreases", &w))
                g_string_append_printf(b, "\nRaised %" G_GUINT64_FORMAT "×, lowered %" G_GUINT64_FORMAT "×", v, w);
        if (lookup_u64(stats, "events_oom_kill", &v) || lookup_u64(stats, "events_oom", &v))
                g_string_append_printf(b, "\nOOM kills: %" G_GUINT64_FORMAT, v);
        {
                const char *policy = NULL;
                gboolean waiting = FALSE;
                if (g_variant_lookup(stats, "oom_policy", "&s", &policy)) {
                        (void) g_variant_lookup(stats, "oom_waiting", "b", &waiting);
                        g_string_append_printf(b, "\nOOM policy: %s%s", policy,
                                               waiting ? ", stopped, waiting for a decision" : "");
                }
        }
        t->body = g_string_free(b, FALSE);
}

char *notify_raise_label(guint64 step) {
        g_autofree char *s = notify_format_size(step);
        return g_strdup_printf("Raise limit by %s", s);
}
