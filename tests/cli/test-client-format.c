/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memcgctl's pure helpers: how sizes, times and JSON are printed, and
 * which exit status each D-Bus error gets. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exit-status.h"
#include "format.h"
#include "json-writer.h"

static void sizes_print_like_systemctl(void **state) {
        char b[FORMAT_BYTES_MAX];

        assert_string_equal(format_bytes(b, 0), "0B");
        assert_string_equal(format_bytes(b, 512), "512B");
        assert_string_equal(format_bytes(b, 1023), "1023B");
        assert_string_equal(format_bytes(b, 1024), "1.0K");
        assert_string_equal(format_bytes(b, 1536), "1.5K");
        assert_string_equal(format_bytes(b, UINT64_C(64) << 20), "64.0M");
        assert_string_equal(format_bytes(b, (UINT64_C(3) << 30) / 2), "1.5G");
        assert_string_equal(format_bytes(b, UINT64_C(2) << 40), "2.0T");
}

static void sizes_are_rounded_down_never_up(void **state) {
        char b[FORMAT_BYTES_MAX];

        /* 64 MiB - 1 byte is not "64.0M". */
        assert_string_equal(format_bytes(b, (UINT64_C(64) << 20) - 1), "63.9M");
        /* 73819750 bytes = 70.399... MiB */
        assert_string_equal(format_bytes(b, 73819750), "70.3M");
}

static void unlimited_prints_as_infinity(void **state) {
        char b[FORMAT_BYTES_MAX];

        assert_string_equal(format_bytes(b, UINT64_MAX), "infinity");
        /* cgroup v1's "unlimited" memory.limit_in_bytes (PAGE_COUNTER_MAX pages). */
        assert_string_equal(format_bytes(b, UINT64_C(9223372036854771712)), "infinity");
        assert_string_equal(format_bytes(b, (UINT64_C(1) << 62) - 1), "3.9E");
}

static void timespans_keep_two_parts(void **state) {
        char b[FORMAT_TIMESPAN_MAX];

        assert_string_equal(format_timespan(b, 0), "0");
        assert_string_equal(format_timespan(b, 250000), "250ms");
        assert_string_equal(format_timespan(b, 868552), "868ms");
        assert_string_equal(format_timespan(b, 552), "552us");
        assert_string_equal(format_timespan(b, 14000000), "14s");
        assert_string_equal(format_timespan(b, 14600000), "14s");
        assert_string_equal(format_timespan(b, 125000000), "2min 5s");
        assert_string_equal(format_timespan(b, UINT64_C(3780) * 1000000), "1h 3min");
}

static char *capture(void (*fn)(JsonWriter *w), bool pretty) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        JsonWriter w;

        assert_non_null(f);
        json_writer_init(&w, f, pretty);
        fn(&w);
        json_finish(&w);
        fclose(f);
        return buf;
}

static void write_nested(JsonWriter *w) {
        json_begin_object(w);
        json_key(w, "cgroup");
        json_string(w, "/a\"b\\c\n\x01");
        json_key(w, "max");
        json_u64(w, UINT64_MAX);
        json_key(w, "neg");
        json_i64(w, -5);
        json_key(w, "ok");
        json_bool(w, true);
        json_key(w, "p");
        json_double(w, 0.12);
        json_key(w, "tasks");
        json_begin_array(w);
        json_begin_object(w);
        json_key(w, "pid");
        json_u64(w, 1);
        json_end_object(w);
        json_null(w);
        json_end_array(w);
        json_key(w, "empty");
        json_begin_array(w);
        json_end_array(w);
        json_end_object(w);
}

static void json_is_escaped_and_exact(void **state) {
        char *s = capture(write_nested, false);

        assert_string_equal(s, "{\"cgroup\":\"/a\\\"b\\\\c\\n\\u0001\",\"max\":18446744073709551615,\"neg\":-5,"
                               "\"ok\":true,\"p\":0.12,\"tasks\":[{\"pid\":1},null],\"empty\":[]}\n");
        free(s);
}

static void json_pretty_indents(void **state) {
        char *s = capture(write_nested, true);

        assert_string_equal(s, "{\n  \"cgroup\": \"/a\\\"b\\\\c\\n\\u0001\",\n  \"max\": 18446744073709551615,\n"
                               "  \"neg\": -5,\n  \"ok\": true,\n  \"p\": 0.12,\n  \"tasks\": [\n    {\n"
                               "      \"pid\": 1\n    },\n    null\n  ],\n  \"empty\": []\n}\n");
        free(s);
}

static void write_doubles(JsonWriter *w) {
        json_begin_array(w);
        json_double(w, 1.0 / 0.0);
        json_double(w, 0.0);
        json_double(w, 12.5);
        json_double(w, 1e-7);
        json_end_array(w);
}

static void json_doubles_are_short_and_never_inf(void **state) {
        char *s = capture(write_doubles, false);

        assert_string_equal(s, "[null,0,12.5,1e-07]\n");
        free(s);
}

static void exit_status_follows_the_error_name(void **state) {
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.InvalidPath", -EINVAL), MEMCGCTL_EXIT_USAGE);
        assert_int_equal(exit_status_from_bus_error("org.freedesktop.DBus.Error.AccessDenied", -EACCES),
                         MEMCGCTL_EXIT_NOT_AUTHORIZED);
        assert_int_equal(exit_status_from_bus_error("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
                                                    -EACCES),
                         MEMCGCTL_EXIT_NOT_AUTHORIZED);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.NoSuchCgroup", -ENOENT), MEMCGCTL_EXIT_NOT_FOUND);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.NotMemcg", -ENOENT), MEMCGCTL_EXIT_NOT_FOUND);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.NotMonitored", -ENOENT), MEMCGCTL_EXIT_NOT_FOUND);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.LimitBelowUsage", -EBUSY),
                         MEMCGCTL_EXIT_LIMIT_REFUSED);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.BudgetExceeded", -EBUSY),
                         MEMCGCTL_EXIT_LIMIT_REFUSED);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.LimitOutOfRange", -ERANGE),
                         MEMCGCTL_EXIT_LIMIT_REFUSED);
        assert_int_equal(exit_status_from_bus_error("org.freedesktop.DBus.Error.ServiceUnknown", -EHOSTDOWN),
                         MEMCGCTL_EXIT_NOT_RUNNING);
        assert_int_equal(exit_status_from_bus_error("org.freedesktop.DBus.Error.Spawn.ChildExited", -EIO),
                         MEMCGCTL_EXIT_NOT_RUNNING);
        assert_int_equal(exit_status_from_bus_error("org.freedesktop.DBus.Error.Failed", -EIO), MEMCGCTL_EXIT_FAILURE);
        assert_int_equal(exit_status_from_bus_error("org.memcgd1.Error.SomethingNew", -EIO), MEMCGCTL_EXIT_FAILURE);
}

static void exit_status_without_a_name_follows_errno(void **state) {
        assert_int_equal(exit_status_from_bus_error(NULL, -ECONNREFUSED), MEMCGCTL_EXIT_NOT_RUNNING);
        assert_int_equal(exit_status_from_bus_error(NULL, -ENOENT), MEMCGCTL_EXIT_NOT_RUNNING);
        assert_int_equal(exit_status_from_bus_error(NULL, -EACCES), MEMCGCTL_EXIT_NOT_AUTHORIZED);
        assert_int_equal(exit_status_from_bus_error(NULL, -ETIMEDOUT), MEMCGCTL_EXIT_FAILURE);
}

static void messages_are_flattened_to_one_line(void **state) {
        char s[] = "first\nsecond\tthird\r";

        assert_string_equal(flatten_line(s), "first second third ");
}

static void c1_controls_are_flattened_too(void **state) {
        /* U+009B (CSI in one character), then a plain "é" that stays. */
        char s[] = "a\xc2\x9b" "b \xc3\xa9";

        assert_string_equal(flatten_line(s), "a  b \xc3\xa9");
}

static char *escaped(const char *s, void (*fn)(const char *s, FILE *f)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        fn(s, f);
        fclose(f);
        return buf;
}

#define assert_escaped(fn, in, out)                      \
        do {                                             \
                char *_e = escaped(in, fn);              \
                assert_string_equal(_e, out);            \
                free(_e);                                \
        } while (0)

static void terminal_controls_in_names_are_escaped(void **state) {
        char *e;

        /* The process name of the review: colour and carriage return. */
        assert_escaped(fputs_escaped, "ok\x1b[31mRED\rX", "ok\\x1b[31mRED\\x0dX");
        assert_escaped(fputs_escaped, "tab\tnl\ndel\x7f", "tab\\x09nl\\x0adel\\x7f");
        /* C1 controls: both bytes of U+009B. */
        assert_escaped(fputs_escaped, "/a\xc2\x9b" "b", "/a\\xc2\\x9bb");
        /* Bytes that are not UTF-8: a stray continuation, a lone lead
         * byte, an overlong '/', a surrogate. */
        assert_escaped(fputs_escaped, "x\x80y\xc3", "x\\x80y\\xc3");
        assert_escaped(fputs_escaped, "\xc0\xaf", "\\xc0\\xaf");
        assert_escaped(fputs_escaped, "\xed\xa0\x80", "\\xed\\xa0\\x80");
        /* Printable text stays as it is, backslashes and UTF-8 too. */
        assert_escaped(fputs_escaped, "/system.slice/getty\\x2dx \xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa7",
                       "/system.slice/getty\\x2dx \xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xa7");
        assert_escaped(fputs_escaped, "", "");

        e = escape_text("a\x1b");
        assert_string_equal(e, "a\\x1b");
        free(e);
}

static void shell_words_can_be_pasted(void **state) {
        assert_escaped(fputs_shell_word, "/machine.slice/vm1", "/machine.slice/vm1");
        assert_escaped(fputs_shell_word, "/user.slice/user-1000.slice/app@x:1,2%=+",
                       "/user.slice/user-1000.slice/app@x:1,2%=+");
        assert_escaped(fputs_shell_word, "/rv gui", "'/rv gui'");
        assert_escaped(fputs_shell_word, "/it's $HOME `x` *", "'/it'\\''s $HOME `x` *'");
        assert_escaped(fputs_shell_word, "/caf\xc3\xa9", "'/caf\xc3\xa9'");
        assert_escaped(fputs_shell_word, "", "''");
        /* What a terminal would obey goes into $'...' as \xNN. */
        assert_escaped(fputs_shell_word, "/a\xc2\x9b'b\\", "$'/a\\xc2\\x9b\\'b\\\\'");
}

static void pressure_levels_have_names(void **state) {
        assert_string_equal(pressure_level_name(0), "none");
        assert_string_equal(pressure_level_name(50), "low");
        assert_string_equal(pressure_level_name(100), "medium");
        assert_string_equal(pressure_level_name(255), "critical");
        assert_null(pressure_level_name(1));
        assert_null(pressure_level_name(254));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sizes_print_like_systemctl),
                cmocka_unit_test(sizes_are_rounded_down_never_up),
                cmocka_unit_test(unlimited_prints_as_infinity),
                cmocka_unit_test(timespans_keep_two_parts),
                cmocka_unit_test(json_is_escaped_and_exact),
                cmocka_unit_test(json_pretty_indents),
                cmocka_unit_test(json_doubles_are_short_and_never_inf),
                cmocka_unit_test(exit_status_follows_the_error_name),
                cmocka_unit_test(exit_status_without_a_name_follows_errno),
                cmocka_unit_test(messages_are_flattened_to_one_line),
                cmocka_unit_test(c1_controls_are_flattened_too),
                cmocka_unit_test(terminal_controls_in_names_are_escaped),
                cmocka_unit_test(shell_words_can_be_pasted),
                cmocka_unit_test(pressure_levels_have_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
