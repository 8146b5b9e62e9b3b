/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What memcg-notify says and whom it follows: texts, urgencies, merging
 * of limit changes, prefixes and the configuration file. No bus. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "notify-text.h"

#define MIB (G_GUINT64_CONSTANT(1) << 20)

static void assert_contains(const char *haystack, const char *needle) {
        if (!strstr(haystack, needle))
                fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void prefixes_match_whole_components(void **state) {
        assert_true(cgroup_has_prefix("/user.slice", "/user.slice"));
        assert_true(cgroup_has_prefix("/user.slice/user-1000.slice/app.scope", "/user.slice/user-1000.slice"));
        assert_false(cgroup_has_prefix("/user.slice/user-10000.slice", "/user.slice/user-1000.slice"));
        assert_false(cgroup_has_prefix("/machine", "/machine.slice"));
        assert_true(cgroup_has_prefix("/anything/at/all", "/"));
}

static void default_config_follows_the_users_own_slice(void **state) {
        NotifyConfig c;

        notify_config_init_default(&c, 1000);
        assert_true(notify_config_follows(&c, "/user.slice/user-1000.slice/session-2.scope"));
        assert_false(notify_config_follows(&c, "/user.slice/user-1001.slice"));
        assert_false(notify_config_follows(&c, "/system.slice/memcgd.service"));
        assert_int_equal(c.min_urgency, NOTIFY_URGENCY_LOW);
        assert_int_equal(c.limit_interval_sec, 30);
        assert_true(c.raise_step == 256 * MIB);
        notify_config_clear(&c);
}

static GKeyFile *keyfile(const char *text) {
        GKeyFile *kf = g_key_file_new();
        g_autoptr(GError) e = NULL;

        assert_true(g_key_file_load_from_data(kf, text, (gsize) -1, G_KEY_FILE_NONE, &e));
        return kf;
}

static void config_file_sets_every_key(void **state) {
        g_autoptr(GKeyFile) kf = keyfile("[Notify]\nPrefix=/machine.slice/;/user.slice\nMinimumUrgency=Normal\n"
                                         "LimitInterval=5\nRaiseStep=1G\n");
        g_autoptr(GError) e = NULL;
        NotifyConfig c;

        notify_config_init_default(&c, 1000);
        assert_true(notify_config_load(&c, kf, &e));
        assert_string_equal(c.prefixes[0], "/machine.slice");
        assert_string_equal(c.prefixes[1], "/user.slice");
        assert_null(c.prefixes[2]);
        assert_int_equal(c.min_urgency, NOTIFY_URGENCY_NORMAL);
        assert_int_equal(c.limit_interval_sec, 5);
        assert_true(c.raise_step == 1024 * MIB);
        assert_true(notify_config_follows(&c, "/machine.slice/vm1"));
        notify_config_clear(&c);
}

static void config_prefix_root_follows_everything(void **state) {
        g_autoptr(GKeyFile) kf = keyfile("[Notify]\nPrefix=/\n");
        NotifyConfig c;

        notify_config_init_default(&c, 0);
        assert_true(notify_config_load(&c, kf, NULL));
        assert_true(notify_config_follows(&c, "/system.slice/x.service"));
        notify_config_clear(&c);
}

static void config_errors_name_the_key_and_change_nothing(void **state) {
        static const struct {
                const char *text, *key;
        } bad[] = {
                { "[Notify]\nMinimumUrgency=urgent\n", "MinimumUrgency=urgent" },
                { "[Notify]\nLimitInterval=-1\n", "LimitInterval=-1" },
                { "[Notify]\nRaiseStep=lots\n", "RaiseStep=lots" },
                { "[Notify]\nRaiseStep=0\n", "RaiseStep=0" },
                { "[Notify]\nPrefix=user.slice\n", "Prefix=user.slice" },
                { "[Notify]\nPrefix=/ok;relative\nMinimumUrgency=critical\n", "Prefix=relative" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GKeyFile) kf = keyfile(bad[i].text);
                g_autoptr(GError) e = NULL;
                NotifyConfig c;

                notify_config_init_default(&c, 1000);
                assert_false(notify_config_load(&c, kf, &e));
                assert_true(g_error_matches(e, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE));
                assert_contains(e->message, bad[i].key);
                assert_string_equal(c.prefixes[0], "/user.slice/user-1000.slice");
                assert_int_equal(c.min_urgency, NOTIFY_URGENCY_LOW);
                notify_config_clear(&c);
        }
}

static void sizes_read_as_people_say_them(void **state) {
        g_autofree char *a = notify_format_size(256 * MIB), *b = notify_format_size(73819750),
                        *c = notify_format_size(G_MAXUINT64),
                        *d = notify_format_size(G_GUINT64_CONSTANT(9223372036854771712)),
                        *e = notify_format_size(2 * 1024 * MIB), *l = notify_raise_label(256 * MIB);

        assert_string_equal(a, "256 MiB");
        assert_string_equal(b, "70.4 MiB");
        assert_string_equal(c, "unlimited");
        assert_string_equal(d, "unlimited");
        assert_string_equal(e, "2 GiB");
        assert_string_equal(l, "Raise limit by 256 MiB");
}

static void one_grow_says_raised_with_both_sizes(void **state) {
        LimitChanges c = {};
        NotifyText t = {};

        limit_changes_add(&c, 64 * MIB, 74 * MIB, 66 * MIB, "grow");
        notify_text_limit(&t, "/user.slice/app.scope", &c);
        assert_string_equal(t.summary, "Memory limit of app.scope raised");
        assert_string_equal(t.body, "/user.slice/app.scope: 64 MiB → 74 MiB (soft line 66 MiB).");
        assert_int_equal(t.urgency, NOTIFY_URGENCY_LOW);
        notify_text_clear(&t);
        limit_changes_clear(&c);
}

static void merged_changes_count_and_keep_the_peak(void **state) {
        LimitChanges c = {};
        NotifyText t = {};

        limit_changes_add(&c, 64 * MIB, 74 * MIB, 66 * MIB, "grow");
        limit_changes_add(&c, 74 * MIB, 128 * MIB, 118 * MIB, "grow");
        limit_changes_add(&c, 128 * MIB, 18 * MIB, 10 * MIB, "shrink");
        assert_true(c.first_old_max == 64 * MIB);
        notify_text_limit(&t, "/a", &c);
        assert_string_equal(t.summary, "Memory limit of a lowered");
        assert_string_equal(t.body, "/a: changed 3 times (2 up, 1 down): 64 MiB → 18 MiB (soft line 10 MiB), at most 128 MiB.");
        notify_text_clear(&t);
        limit_changes_clear(&c);
        assert_true(limit_changes_empty(&c));

        limit_changes_add(&c, 100 * MIB, 90 * MIB, 80 * MIB, "shrink");
        limit_changes_add(&c, 90 * MIB, 80 * MIB, 70 * MIB, "shrink");
        notify_text_limit(&t, "/a", &c);
        assert_string_equal(t.summary, "Memory limit of a lowered");
        assert_string_equal(t.body, "/a: changed twice (2 down): 100 MiB → 80 MiB (soft line 70 MiB).");
        notify_text_clear(&t);
        limit_changes_clear(&c);
}

static void start_manual_restore_and_emergency_have_their_own_words(void **state) {
        LimitChanges c = {};
        NotifyText t = {};

        limit_changes_add(&c, G_MAXUINT64, 64 * MIB, 56 * MIB, "initial");
        notify_text_limit(&t, "/vm", &c);
        assert_string_equal(t.summary, "Memory of vm now elastic");
        assert_contains(t.body, "starting at a limit of 64 MiB");
        notify_text_clear(&t);
        limit_changes_clear(&c);

        limit_changes_add(&c, 64 * MIB, G_MAXUINT64, G_MAXUINT64, "restore");
        notify_text_limit(&t, "/vm", &c);
        assert_string_equal(t.summary, "Memory limit of vm restored");
        assert_contains(t.body, "back at unlimited");
        notify_text_clear(&t);
        limit_changes_clear(&c);

        limit_changes_add(&c, 64 * MIB, 320 * MIB, 296 * MIB, "manual");
        notify_text_limit(&t, "/vm", &c);
        assert_string_equal(t.summary, "Memory limit of vm set");
        notify_text_clear(&t);
        limit_changes_clear(&c);

        limit_changes_add(&c, 128 * MIB, 136 * MIB, 126 * MIB, "emergency");
        notify_text_limit(&t, "/vm", &c);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.summary, "Emergency memory for vm");
        notify_text_clear(&t);
        limit_changes_clear(&c);

        limit_changes_add(&c, 64 * MIB, 70 * MIB, 60 * MIB, "rebalance");
        notify_text_limit(&t, "/vm", &c);
        assert_string_equal(t.summary, "Memory limit of vm raised");
        assert_contains(t.body, "reason: rebalance");
        notify_text_clear(&t);
        limit_changes_clear(&c);
}

static void budget_says_what_was_asked_and_granted(void **state) {
        NotifyText t = {};

        notify_text_budget(&t, "/a", 10 * MIB, 0, 3, 128 * MIB);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.summary, "Memory budget exhausted for a");
        assert_string_equal(t.body, "/a asked for 10 MiB more and got nothing: the memory budget of memcgd is used up. "
                                    "Its limit stays at 128 MiB. (3 times)");
        notify_text_clear(&t);
        notify_text_budget(&t, "/a", 10 * MIB, 4 * MIB, 1, 128 * MIB);
        assert_string_equal(t.body, "/a asked for 10 MiB more and got only 4 MiB: the memory budget of memcgd is running out.");
        notify_text_clear(&t);
}

static void oom_kill_is_critical_and_names_processes_and_sizes(void **state) {
        const OomTask tasks[] = { { 4242, "firefox" }, { 4243, "Web Content" } };
        NotifyText t = {};

        notify_text_oom(&t, "/user.slice/app.scope", "oom_kill", 2, tasks, 2, 128 * MIB, 127 * MIB);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_CRITICAL);
        assert_string_equal(t.summary, "Out of memory: process killed in app.scope");
        assert_string_equal(t.body, "The kernel killed a process of /user.slice/app.scope (2 OOM kills so far): it ran "
                                    "out of memory at its limit. Limit 128 MiB, usage now 127 MiB. It held: firefox (PID "
                                    "4242), Web Content (PID 4243).");
        notify_text_clear(&t);

        notify_text_oom(&t, "/a", "oom_kill", 1, NULL, 0, G_MAXUINT64, G_MAXUINT64);
        assert_string_equal(t.body, "The kernel killed a process of /a: it ran out of memory at its limit. No process "
                                    "is left in it.");
        notify_text_clear(&t);
}

static void many_tasks_are_cut_short(void **state) {
        OomTask tasks[8];
        NotifyText t = {};

        for (guint i = 0; i < G_N_ELEMENTS(tasks); i++)
                tasks[i] = (OomTask) { 100 + i, "w" };
        notify_text_oom(&t, "/a", "oom", 1, tasks, G_N_ELEMENTS(tasks), 64 * MIB, 64 * MIB);
        assert_contains(t.body, "w (PID 104) and 3 more.");
        notify_text_clear(&t);
}

static void every_known_oom_kind_has_its_urgency(void **state) {
        static const struct {
                const char *kind;
                NotifyUrgency u;
                const char *summary;
        } kinds[] = {
                { "oom", NOTIFY_URGENCY_CRITICAL, "Out of memory in a" },
                { "oom_kill", NOTIFY_URGENCY_CRITICAL, "Out of memory: process killed in a" },
                { "oom_group_kill", NOTIFY_URGENCY_CRITICAL, "Out of memory: a killed" },
                { "frozen", NOTIFY_URGENCY_CRITICAL, "Processes of a stopped at their memory limit" },
                { "resolved", NOTIFY_URGENCY_NORMAL, "a runs again" },
                { "max", NOTIFY_URGENCY_NORMAL, "a hit its memory limit" },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
                NotifyText t = {};

                notify_text_oom(&t, "/a", kinds[i].kind, 1, NULL, 0, 64 * MIB, G_MAXUINT64);
                assert_int_equal(t.urgency, kinds[i].u);
                assert_string_equal(t.summary, kinds[i].summary);
                assert_contains(t.body, "Limit 64 MiB.");
                notify_text_clear(&t);
        }
}

static void a_stopped_cgroup_lists_its_processes_and_the_deadline(void **state) {
        OomTask tasks[] = { { 4242, "firefox" }, { 4243, "Web Content" } };
        NotifyText t = {};

        notify_text_frozen(&t, "/user.slice/app.scope", tasks, 2, 96 * MIB, 96 * MIB, 29500000);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_CRITICAL);
        assert_string_equal(t.summary, "Processes of app.scope stopped at their memory limit");
        assert_string_equal(t.body, "/user.slice/app.scope ran out of memory at its limit: its processes are stopped "
                                    "until the limit is raised or a process is killed. Stopped: firefox (PID 4242), "
                                    "Web Content (PID 4243). Limit 96 MiB, usage now 96 MiB. Without a decision "
                                    "memcgd kills the largest process in 30 s.");
        notify_text_clear(&t);
        notify_text_frozen(&t, "/a", NULL, 0, G_MAXUINT64, G_MAXUINT64, G_MAXUINT64);
        assert_string_equal(t.body, "/a ran out of memory at its limit: its processes are stopped until the limit "
                                    "is raised or a process is killed. Without a decision memcgd kills the largest "
                                    "process.");
        notify_text_clear(&t);
}

static void a_killed_process_is_named_with_its_cause(void **state) {
        static const struct {
                const char *cause, *body;
        } causes[] = {
                { "kernel", "The kernel's OOM killer killed hog (PID 7) in /a/b: it ran out of memory at its limit. "
                            "Limit 64 MiB, usage now 1 MiB." },
                { "decision", "memcgd killed hog (PID 7) in /a/b, as decided while its processes were stopped at the "
                              "memory limit. Limit 64 MiB, usage now 1 MiB." },
                { "timeout", "memcgd killed hog (PID 7) in /a/b: its processes were stopped at the memory limit and "
                             "no decision came in time. Limit 64 MiB, usage now 1 MiB." },
                { "gremlins", "memcgd reports hog (PID 7) killed in /a/b (cause: gremlins). Limit 64 MiB, usage now "
                              "1 MiB." },
        };
        OomTask hog = { 7, "hog" };

        for (size_t i = 0; i < G_N_ELEMENTS(causes); i++) {
                NotifyText t = {};

                notify_text_killed(&t, "/a/b", &hog, 1, causes[i].cause, 64 * MIB, MIB);
                assert_int_equal(t.urgency, NOTIFY_URGENCY_CRITICAL);
                assert_string_equal(t.summary, "Out of memory: hog killed in b");
                assert_string_equal(t.body, causes[i].body);
                notify_text_clear(&t);
        }
}

static void several_killed_processes_are_counted(void **state) {
        OomTask tasks[] = { { 1, "a" }, { 2, "b" }, { 3, "c" } };
        NotifyText t = {};

        notify_text_killed(&t, "/x", tasks, 3, "decision", G_MAXUINT64, G_MAXUINT64);
        assert_string_equal(t.summary, "Out of memory: 3 processes killed in x");
        assert_contains(t.body, "memcgd killed 3 processes: a (PID 1), b (PID 2), c (PID 3) in /x");
        notify_text_clear(&t);
}

static void the_end_of_a_stop_keeps_who_was_killed(void **state) {
        OomTask hog = { 7, "hog" };
        NotifyText t = {};

        notify_text_resolved(&t, "/a", NULL, 0, NULL, 320 * MIB, 200 * MIB);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.summary, "a runs again");
        assert_string_equal(t.body, "The out-of-memory stop of /a has ended: its processes run again. Limit 320 MiB, "
                                    "usage now 200 MiB.");
        notify_text_clear(&t);
        notify_text_resolved(&t, "/a", &hog, 1, "timeout", 96 * MIB, 0);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_CRITICAL);
        assert_string_equal(t.summary, "Out of memory: hog killed in a");
        assert_string_equal(t.body, "memcgd killed hog (PID 7) in /a: its processes were stopped at the memory limit "
                                    "and no decision came in time. The stop has ended. Limit 96 MiB, usage now 0 bytes.");
        notify_text_clear(&t);
}

static void an_unknown_oom_kind_is_reported_neutrally(void **state) {
        NotifyText t = {};

        notify_text_oom(&t, "/a", "swap_storm", 7, NULL, 0, G_MAXUINT64, G_MAXUINT64);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.summary, "Memory event in a");
        assert_string_equal(t.body, "memcgd reports 'swap_storm' (count 7) for /a.");
        notify_text_clear(&t);
}

static void limit_hits_are_counted(void **state) {
        NotifyText t = {};

        notify_text_limit_hit(&t, "/a", 34, 128 * MIB, FALSE);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.body, "/a reached its hard limit of 128 MiB; the kernel reclaims its memory to stay below. (34 times)");
        notify_text_clear(&t);
        notify_text_limit_hit(&t, "/a", 1, 128 * MIB, TRUE);
        assert_string_equal(t.body, "/a reached its hard limit of 128 MiB; the kernel reclaims its memory to stay below. "
                                    "The memory budget of memcgd is used up: the limit cannot grow.");
        notify_text_clear(&t);
}

static void monitoring_stopped_by_reason(void **state) {
        NotifyText t = {};

        notify_text_stopped(&t, "/a", "removed");
        assert_int_equal(t.urgency, NOTIFY_URGENCY_LOW);
        assert_string_equal(t.body, "/a was removed; memcgd stopped monitoring it.");
        notify_text_clear(&t);
        notify_text_stopped(&t, "/a", "error");
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        notify_text_clear(&t);
        notify_text_stopped(&t, "/a", "retired");
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_contains(t.body, "(retired)");
        notify_text_clear(&t);
}

static void critical_pressure_names_the_stall_and_the_sizes(void **state) {
        NotifyText t = {};

        notify_text_pressure(&t, "/user.slice/app.scope", 42.4, 31.6, 128 * MIB, 127 * MIB);
        assert_int_equal(t.urgency, NOTIFY_URGENCY_NORMAL);
        assert_string_equal(t.summary, "Memory pressure critical in app.scope");
        assert_string_equal(t.body, "The processes of /user.slice/app.scope are stalled waiting for memory (some "
                                    "waited 42 %, all 32 % of the last 10 s); they may run out of memory soon. "
                                    "Limit 128 MiB, usage now 127 MiB.");
        notify_text_clear(&t);
        /* v1 reports no stall shares; unknown sizes are left out. */
        notify_text_pressure(&t, "/a", -1, -1, G_MAXUINT64, G_MAXUINT64);
        assert_string_equal(t.body, "The processes of /a are stalled waiting for memory; they may run out of memory "
                                    "soon.");
        notify_text_clear(&t);
}

static void details_come_from_getstats(void **state) {
        GVariantDict d;
        g_autoptr(GVariant) stats = NULL;
        NotifyText t = {};

        g_variant_dict_init(&d, NULL);
        g_variant_dict_insert(&d, "monitored", "b", TRUE);
        g_variant_dict_insert(&d, "current_bytes", "t", 10 * MIB);
        g_variant_dict_insert(&d, "peak_bytes", "t", 128 * MIB);
        g_variant_dict_insert(&d, "max_limit_bytes", "t", 64 * MIB);
        g_variant_dict_insert(&d, "high_limit_bytes", "t", 56 * MIB);
        g_variant_dict_insert(&d, "limit_increases", "t", (guint64) 3);
        g_variant_dict_insert(&d, "limit_decreases", "t", (guint64) 1);
        g_variant_dict_insert(&d, "events_oom_kill", "t", (guint64) 2);
        stats = g_variant_ref_sink(g_variant_dict_end(&d));
        notify_text_details(&t, "/a/b", stats, NULL);
        assert_string_equal(t.summary, "Memory of b");
        assert_string_equal(t.body, "/a/b (elastic)\nUsage: 10 MiB (peak 128 MiB)\nLimit: 64 MiB (soft line 56 MiB)\n"
                                    "Raised 3×, lowered 1×\nOOM kills: 2");
        notify_text_clear(&t);
        g_variant_dict_init(&d, stats);
        g_variant_dict_insert(&d, "oom_policy", "s", "freeze");
        g_variant_dict_insert(&d, "oom_waiting", "b", TRUE);
        g_variant_unref(stats);
        stats = g_variant_ref_sink(g_variant_dict_end(&d));
        notify_text_details(&t, "/a/b", stats, NULL);
        assert_contains(t.body, "\nOOM kills: 2\nOOM policy: freeze, stopped, waiting for a decision");
        notify_text_clear(&t);
        notify_text_details(&t, "/a/b", NULL, "No such cgroup");
        assert_string_equal(t.body, "/a/b: no details: No such cgroup");
        notify_text_clear(&t);
}

static void urgency_names_round_trip(void **state) {
        NotifyUrgency u;

        assert_true(notify_urgency_from_string("CRITICAL", &u));
        assert_int_equal(u, NOTIFY_URGENCY_CRITICAL);
        assert_string_equal(notify_urgency_to_string(u), "critical");
        assert_false(notify_urgency_from_string("high", &u));
        assert_false(notify_urgency_from_string(NULL, &u));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(prefixes_match_whole_components),
                cmocka_unit_test(default_config_follows_the_users_own_slice),
                cmocka_unit_test(config_file_sets_every_key),
                cmocka_unit_test(config_prefix_root_follows_everything),
                cmocka_unit_test(config_errors_name_the_key_and_change_nothing),
                cmocka_unit_test(sizes_read_as_people_say_them),
                cmocka_unit_test(one_grow_says_raised_with_both_sizes),
                cmocka_unit_test(merged_changes_count_and_keep_the_peak),
                cmocka_unit_test(start_manual_restore_and_emergency_have_their_own_words),
                cmocka_unit_test(budget_says_what_was_asked_and_granted),
                cmocka_unit_test(oom_kill_is_critical_and_names_processes_and_sizes),
                cmocka_unit_test(many_tasks_are_cut_short),
                cmocka_unit_test(every_known_oom_kind_has_its_urgency),
                cmocka_unit_test(a_stopped_cgroup_lists_its_processes_and_the_deadline),
                cmocka_unit_test(a_killed_process_is_named_with_its_cause),
                cmocka_unit_test(several_killed_processes_are_counted),
                cmocka_unit_test(the_end_of_a_stop_keeps_who_was_killed),
                cmocka_unit_test(an_unknown_oom_kind_is_reported_neutrally),
                cmocka_unit_test(limit_hits_are_counted),
                cmocka_unit_test(monitoring_stopped_by_reason),
                cmocka_unit_test(critical_pressure_names_the_stall_and_the_sizes),
                cmocka_unit_test(details_come_from_getstats),
                cmocka_unit_test(urgency_names_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
