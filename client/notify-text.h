/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What memcg-notify says: its configuration, which cgroups it follows and
 * the summary, body and urgency of each notification. Pure functions on
 * GLib types, no bus: tests/gui/test-notify-text.c links this alone. */

#include <glib.h>
#include <stdint.h>

/* The urgency levels of the Desktop Notifications spec ("urgency" hint,
 * a byte). */
typedef enum NotifyUrgency {
        NOTIFY_URGENCY_LOW = 0,
        NOTIFY_URGENCY_NORMAL = 1,
        NOTIFY_URGENCY_CRITICAL = 2,
} NotifyUrgency;

/* "low", "normal", "critical" (case-insensitive). FALSE for anything else. */
gboolean notify_urgency_from_string(const char *s, NotifyUrgency *ret);
const char *notify_urgency_to_string(NotifyUrgency u);

typedef struct NotifyConfig {
        char **prefixes;           /* NULL-terminated; "/" follows every cgroup */
        NotifyUrgency min_urgency; /* notifications below are not shown */
        guint limit_interval_sec;  /* one limit notification per cgroup per interval */
        guint64 raise_step;        /* bytes the "Raise limit" action adds */
} NotifyConfig;

#define NOTIFY_DEFAULT_LIMIT_INTERVAL_SEC 30
#define NOTIFY_DEFAULT_RAISE_STEP (UINT64_C(256) << 20)

/* The defaults: prefix /user.slice/user-UID.slice (the session's own
 * slice, where systemd puts a user's processes), minimum urgency low,
 * interval 30 s, raise step 256 MiB. */
void notify_config_init_default(NotifyConfig *c, guint uid);

void notify_config_clear(NotifyConfig *c);

/* Reads group [Notify] of kf over the values already in c: keys Prefix
 * (a string list: "/a;/b"), MinimumUrgency, LimitInterval (seconds),
 * RaiseStep (a size: "256M"). A key that is absent keeps its value; a
 * malformed one fails the whole load with G_KEY_FILE_ERROR_INVALID_VALUE
 * and a message naming the key, leaving c unchanged. */
gboolean notify_config_load(NotifyConfig *c, GKeyFile *kf, GError **error);

/* Puts a cgroup prefix (a Prefix= entry or a --prefix) in the form of
 * /proc/PID/cgroup, in place: surrounding whitespace and trailing slashes
 * removed ("/user.slice/" -> "/user.slice"; "/" stays "/"). FALSE when it
 * is not a path from the root of the memory hierarchy (empty, or not
 * starting with '/'). */
gboolean notify_prefix_normalize(char *prefix);

/* Whether cgroup lies at or below prefix, by whole path components:
 * "/a" covers "/a" and "/a/b" but not "/ab"; "/" covers everything. */
gboolean cgroup_has_prefix(const char *cgroup, const char *prefix);

/* Whether any configured prefix covers cgroup. */
gboolean notify_config_follows(const NotifyConfig *c, const char *cgroup);

/* "64.0 MiB"; "unlimited" for the values that mean no limit (UINT64_MAX,
 * and cgroup v1's 2^63 - 4096 and anything from 2^62 up). Free with
 * g_free. */
char *notify_format_size(guint64 bytes);

/* The last path component, for summaries ("/user.slice/app.scope" ->
 * "app.scope"; "/" -> "/"). Points into cgroup. */
const char *cgroup_short_name(const char *cgroup);

typedef struct NotifyText {
        char *summary;
        char *body;               /* plain text; the sender escapes it for body-markup */
        NotifyUrgency urgency;
        const char *icon;         /* a freedesktop icon name */
} NotifyText;

void notify_text_clear(NotifyText *t);

/* Limit changes of one cgroup since the last notification about them,
 * merged: the limit before the first, after the last, and how many of
 * each kind. */
typedef struct LimitChanges {
        guint64 first_old_max;
        guint64 new_max, new_high;
        guint64 top_max;          /* the highest new_max among them */
        guint grows, shrinks, others;
        char *last_reason;        /* of the last change (owned) */
} LimitChanges;

/* Adds one LimitChanged to the merged changes (the first sets
 * first_old_max). */
void limit_changes_add(LimitChanges *c, guint64 old_max, guint64 new_max, guint64 new_high, const char *reason);
void limit_changes_clear(LimitChanges *c);
gboolean limit_changes_empty(const LimitChanges *c);

/* Reasons: grow/emergency/decision raise, shrink lowers, initial starts,
 * manual sets, restore gives back the limits from before monitoring; an
 * unknown reason says "changed". Low urgency, except "emergency" (the OOM
 * policy had to step in): normal. */
void notify_text_limit(NotifyText *t, const char *cgroup, const LimitChanges *c);

/* A grow got less than it asked; times = how many since the last
 * notification about it; max = the limit now (0 = unknown; only said
 * when nothing was granted). Normal. */
void notify_text_budget(NotifyText *t, const char *cgroup, guint64 requested, guint64 granted, guint times,
                        guint64 max);

typedef struct OomTask {
        guint32 pid;
        const char *comm;
} OomTask;

/* Oom signals of kind "max" (the hard limit was hit; the kernel
 * reclaimed): times since the last notification about it, max = the
 * limit (0 = unknown), budget_used_up = the budget refused to grow this
 * very limit (so the text says why it stays). Normal. */
void notify_text_limit_hit(NotifyText *t, const char *cgroup, guint times, guint64 max, gboolean budget_used_up);

/* An Oom signal. kind: max (normal), oom, oom_kill, oom_group_kill,
 * frozen (critical), resolved (normal); any other kind gets a neutral
 * text at normal urgency (kinds may be added by later versions). max,
 * usage: the cgroup's limit and usage (G_MAXUINT64 = unknown). At most
 * 5 tasks are named. */
void notify_text_oom(NotifyText *t, const char *cgroup, const char *kind, guint64 count, const OomTask *tasks,
                     gsize ntasks, guint64 max, guint64 usage);

/* Oom "frozen": the freeze policy stopped the cgroup's processes at its
 * limit and memcgd waits for a decision (ResolveOom). decision_left_usec:
 * how long until memcgd decides itself (kills the largest process);
 * G_MAXUINT64 = unknown. Critical. */
void notify_text_frozen(NotifyText *t, const char *cgroup, const OomTask *tasks, gsize ntasks, guint64 max,
                        guint64 usage, guint64 decision_left_usec);

/* TasksKilled: who was killed and why. cause: kernel (the kernel's OOM
 * killer), decision (ResolveOom kill-largest/kill-all), timeout (no
 * decision in time), or one a later version adds. Critical. */
void notify_text_killed(NotifyText *t, const char *cgroup, const OomTask *tasks, gsize ntasks, const char *cause,
                        guint64 max, guint64 usage);

/* Oom "resolved": the wait for a decision ended. killed/nkilled/cause:
 * the TasksKilled that came during this wait (nkilled 0: none), so that
 * the text replacing the "stopped" one still says who was killed (then
 * critical; else normal). */
void notify_text_resolved(NotifyText *t, const char *cgroup, const OomTask *killed, gsize nkilled,
                          const char *cause, guint64 max, guint64 usage);

/* Pressure(cgroup, 255): the cgroup's processes spend much of their time
 * stalled on memory (PSI full >= 30 %, or v1's critical vmpressure).
 * some_avg10/full_avg10: GetStats' pressure_some_avg10/pressure_full_avg10
 * (per cent of the last 10 s; negative = not reported, as on v1). max,
 * usage as notify_text_oom. Normal: nothing was lost yet, and the
 * notification is withdrawn when the pressure ends. */
void notify_text_pressure(NotifyText *t, const char *cgroup, double some_avg10, double full_avg10, guint64 max,
                          guint64 usage);

/* MonitorStopped: removed and unmonitored are low, error and unknown
 * reasons normal. */
void notify_text_stopped(NotifyText *t, const char *cgroup, const char *reason);

/* The "Details" of a cgroup from a GetStats a{sv} (stats may be NULL when
 * it failed: error then says why), with its OOM policy and whether it
 * waits for a decision when the service reports them. Low urgency. */
void notify_text_details(NotifyText *t, const char *cgroup, GVariant *stats, const char *error);

/* The label of the action that kills the largest process of a stopped
 * cgroup. */
#define NOTIFY_KILL_LARGEST_LABEL "Kill largest"

/* The action label: "Raise limit by 256 MiB". Free with g_free. */
char *notify_raise_label(guint64 step);
