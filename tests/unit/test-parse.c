/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel-file and size parsers on good, malformed and truncated input.
 *
 * Every buffer parser is fed through guarded_copy(): the bytes end exactly
 * at a PROT_NONE page with no NUL after them, so reading past `len` (as
 * strtoull() or sscanf() on the raw buffer would) crashes the test. The
 * samples were taken from real kernels (Debian 12's 6.1 and this host's). */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit-test.h"
#include "memcgd/parse.h"

#define SENTINEL UINT64_C(0x5a5a5a5a5a5a5a5a)

/* A printable rendering of a buffer for failure messages. */
static const char *esc(const char *s, size_t len) {
        static char out[4][512];
        static unsigned slot;
        char *o = out[slot++ % 4];
        size_t j = 0;

        for (size_t i = 0; i < len && j < sizeof out[0] - 8; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\n')
                        j += (size_t) snprintf(o + j, 8, "\\n");
                else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
                        j += (size_t) snprintf(o + j, 8, "\\x%02x", c);
                else
                        o[j++] = (char) c;
        }
        o[j] = 0;
        return o;
}

/* ---- parse_u64_value ------------------------------------------------- */

static int u64_value(const char *s, size_t len, uint64_t *ret) {
        Guarded g = guarded_copy(s, len);
        int r = parse_u64_value(g.data, len, ret);
        guarded_free(&g);
        return r;
}

static void expect_u64_value_n(const char *s, size_t len, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = u64_value(s, len, &v);
        if (r != 0 || v != want) {
                print_error("parse_u64_value(\"%s\", %zu) = %d, value %" PRIu64 "; expected 0, value %" PRIu64 "\n",
                            esc(s, len), len, r, v, want);
                fail();
        }
}

static void expect_u64_value_err_n(const char *s, size_t len, int err) {
        uint64_t v = SENTINEL;
        int r = u64_value(s, len, &v);
        if (r != err || v != SENTINEL) {
                print_error("parse_u64_value(\"%s\", %zu) = %d (%s), value %s%" PRIu64 "; expected %d (%s), "
                            "value untouched\n", esc(s, len), len, r, r < 0 ? strerror(-r) : "success",
                            v == SENTINEL ? "untouched " : "", v, err, strerror(-err));
                fail();
        }
}

#define expect_u64_value(s, want) expect_u64_value_n((s), strlen(s), (want))
#define expect_u64_value_err(s, err) expect_u64_value_err_n((s), strlen(s), (err))

static void parse_u64_value_reads_decimals_with_an_optional_newline(void **state) {
        expect_u64_value("0", 0);
        expect_u64_value("0\n", 0);
        expect_u64_value("123\n", 123);
        expect_u64_value("123", 123);
        expect_u64_value("67108864\n", UINT64_C(67108864));
        expect_u64_value("18446744073709551615", UINT64_MAX);
        expect_u64_value("18446744073709551615\n", UINT64_MAX);
        expect_u64_value("9223372036854771712\n", UINT64_C(9223372036854771712)); /* v1 "unlimited" */
}

static void format_u64_writes_what_printf_writes_and_parses_back(void **state) {
        static const uint64_t edges[] = { 0, 1, 9, 10, 99, 100, 4096, UINT64_C(67108864), UINT64_C(999999999999),
                                          UINT64_C(9223372036854771712), UINT64_MAX - 1, UINT64_MAX };
        uint64_t x = UINT64_C(0x9e3779b97f4a7c15);

        for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]) + 10000; k++) {
                uint64_t v, back = 0;
                char mine[21], theirs[32];

                if (k < sizeof(edges) / sizeof(edges[0]))
                        v = edges[k];
                else {
                        /* xorshift64: every length of number, seeded. */
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        v = x >> (x % 64);
                }
                size_t n = format_u64(mine, v);
                snprintf(theirs, sizeof(theirs), "%" PRIu64, v);
                if (strcmp(mine, theirs) != 0 || n != strlen(theirs)) {
                        print_error("format_u64(%" PRIu64 ") = \"%s\" (%zu); expected \"%s\"\n", v, mine, n, theirs);
                        fail();
                }
                assert_int_equal(parse_u64_value(mine, n, &back), 0);
                assert_true(back == v);
        }
}

static void parse_u64_value_reads_max_as_unlimited(void **state) {
        expect_u64_value("max\n", UINT64_MAX);
        expect_u64_value("max", UINT64_MAX);
        expect_u64_value_err("ma", -EINVAL);
        expect_u64_value_err("maximum\n", -EINVAL);
        expect_u64_value_err("max max\n", -EINVAL);
        expect_u64_value_err("max\nmax\n", -EINVAL);
}

static void parse_u64_value_rejects_empty_and_junk(void **state) {
        expect_u64_value_err("", -EINVAL);
        expect_u64_value_err("\n", -EINVAL);
        expect_u64_value_err("-1", -EINVAL);     /* strtoull() would give UINT64_MAX */
        expect_u64_value_err("-1\n", -EINVAL);
        expect_u64_value_err("12a", -EINVAL);
        expect_u64_value_err("12a\n", -EINVAL);
        expect_u64_value_err("0x10", -EINVAL);
        expect_u64_value_err("abc\n", -EINVAL);
        expect_u64_value_err("1 2\n", -EINVAL);
        expect_u64_value_err("12\n34\n", -EINVAL);
        /* An embedded NUL is junk inside len, not the end of the value. */
        expect_u64_value_err_n("12\0" "3", 4, -EINVAL);
        expect_u64_value_err_n("12\0", 3, -EINVAL);
}

static void parse_u64_value_rejects_signs_and_spaces_the_kernel_never_writes(void **state) {
        expect_u64_value_err("+12", -EINVAL);
        expect_u64_value_err(" 12", -EINVAL);
        expect_u64_value_err("\t12\n", -EINVAL);
        expect_u64_value_err("12 \n", -EINVAL);
}

static void parse_u64_value_reports_overflow_as_erange(void **state) {
        expect_u64_value_err("18446744073709551616", -ERANGE);
        expect_u64_value_err("18446744073709551616\n", -ERANGE);
        expect_u64_value_err("99999999999999999999\n", -ERANGE);
        expect_u64_value_err("184467440737095516150", -ERANGE);
}

static void parse_u64_value_stops_at_len_without_a_nul(void **state) {
        /* Only the first 3 bytes are the file; the rest must not be read
         * (the guard page makes reading them crash). */
        expect_u64_value_n("12345", 3, 123);
        expect_u64_value_n("123\n456", 4, 123);
        expect_u64_value_n("maxi", 3, UINT64_MAX);
        expect_u64_value_n("7", 1, 7);
        expect_u64_value_err_n("9", 0, -EINVAL);
        expect_u64_value_n("18446744073709551615", 20, UINT64_MAX);
        expect_u64_value_n("184467440737095516159", 20, UINT64_MAX);
}

/* ---- parse_keyed_u64 ------------------------------------------------- */

static int keyed(const char *buf, size_t len, const char *key, uint64_t *ret) {
        Guarded g = guarded_copy(buf, len);
        int r = parse_keyed_u64(g.data, len, key, ret);
        guarded_free(&g);
        return r;
}

static void expect_keyed_n(const char *buf, size_t len, const char *key, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = keyed(buf, len, key, &v);
        if (r != 0 || v != want) {
                print_error("parse_keyed_u64(\"%s\", \"%s\") = %d, value %" PRIu64 "; expected 0, value %" PRIu64 "\n",
                            esc(buf, len), key, r, v, want);
                fail();
        }
}

static void expect_keyed_err_n(const char *buf, size_t len, const char *key, int err) {
        uint64_t v = SENTINEL;
        int r = keyed(buf, len, key, &v);
        if (r != err || v != SENTINEL) {
                print_error("parse_keyed_u64(\"%s\", \"%s\") = %d (%s), value %" PRIu64 "%s; expected %d (%s)\n",
                            esc(buf, len), key, r, r < 0 ? strerror(-r) : "success", v,
                            v == SENTINEL ? " (untouched)" : " (written)", err, strerror(-err));
                fail();
        }
}

#define expect_keyed(buf, key, want) expect_keyed_n((buf), strlen(buf), (key), (want))
#define expect_keyed_err(buf, key, err) expect_keyed_err_n((buf), strlen(buf), (key), (err))

static const char EVENTS_V2[] =
        "low 0\n"
        "high 12\n"
        "max 3\n"
        "oom 1\n"
        "oom_kill 1\n"
        "oom_group_kill 0\n";

static void parse_keyed_u64_finds_each_key_of_memory_events(void **state) {
        static const char distinct[] =
                "low 11\nhigh 22\nmax 33\noom 44\noom_kill 55\noom_group_kill 66\n";

        expect_keyed(EVENTS_V2, "high", 12);
        expect_keyed(EVENTS_V2, "max", 3);
        expect_keyed(EVENTS_V2, "low", 0);
        expect_keyed(distinct, "low", 11);
        expect_keyed(distinct, "high", 22);
        expect_keyed(distinct, "max", 33);
        expect_keyed(distinct, "oom", 44);
        expect_keyed(distinct, "oom_kill", 55);
        expect_keyed(distinct, "oom_group_kill", 66);
}

static void parse_keyed_u64_matches_whole_first_words_not_prefixes(void **state) {
        /* The seed's contains() matching read "oom_kill 7" as "oom". */
        expect_keyed("oom_kill 7\noom_group_kill 9\noom 1\n", "oom", 1);
        expect_keyed("oom_group_kill 9\noom_kill 7\n", "oom_kill", 7);
        expect_keyed("high_foo 5\nhigh 12\n", "high", 12);
        expect_keyed("total_rss 789\nrss_huge 4\nrss 456\n", "rss", 456);
        expect_keyed("cache 1\ntotal_cache 2\n", "cache", 1);
        expect_keyed_err("high_foo 5\n", "high", -ENOENT);
        expect_keyed_err("oom_kill 7\noom_group_kill 9\n", "oom", -ENOENT);
        expect_keyed_err("total_rss 789\n", "rss", -ENOENT);
        /* A key that is a prefix or a suffix of a line's key. */
        expect_keyed_err("high 12\n", "hig", -ENOENT);
        expect_keyed_err("high 12\n", "igh", -ENOENT);
        /* The key in the value position is not the key. */
        expect_keyed_err("low 5\nmax_usage 1\n", "5", -ENOENT);
}

static void parse_keyed_u64_reports_an_absent_key_as_enoent(void **state) {
        expect_keyed_err(EVENTS_V2, "throttled", -ENOENT);
        expect_keyed_err("", "high", -ENOENT);
        expect_keyed_err("\n", "high", -ENOENT);
        expect_keyed_err("populated 1\nfrozen 0\n", "high", -ENOENT);
}

static void parse_keyed_u64_rejects_a_malformed_value(void **state) {
        expect_keyed_err("high abc\n", "high", -EINVAL);
        expect_keyed_err("high 12x\n", "high", -EINVAL);
        expect_keyed_err("high -1\n", "high", -EINVAL);
        expect_keyed_err("high \n", "high", -EINVAL);
        expect_keyed_err("low 0\nhigh 1 2\n", "high", -EINVAL);
        expect_keyed_err("high 99999999999999999999\n", "high", -ERANGE);

        /* A bare "high" line: its key is there but its value is not.
         * -EINVAL or -ENOENT are both readings of parse.h; success is not. */
        uint64_t v = SENTINEL;
        int r = keyed("high\n", 5, "high", &v);
        if (!((r == -EINVAL || r == -ENOENT) && v == SENTINEL)) {
                print_error("parse_keyed_u64(\"high\\n\", \"high\") = %d, value %" PRIu64 "\n", r, v);
                fail();
        }
}

/* The kernel ends every line of these files with "\n"; a last line
 * without it is a read cut short ("high 1" of "high 12") and must not pass
 * for a value. */
static void parse_keyed_u64_refuses_a_last_line_cut_short_and_stops_at_len(void **state) {
        expect_keyed_err("low 0\nhigh 12", "high", -EINVAL);
        expect_keyed_err("populated 1\nfrozen 0", "frozen", -EINVAL);
        expect_keyed("low 0\nhigh 12\nmax 3", "high", 12);
        /* len ends the buffer: the key beyond it is absent. */
        expect_keyed_err_n("low 0\nhigh 12\n", 6, "high", -ENOENT);
        expect_keyed_err_n("low 0\nhigh 12\n", 12, "high", -EINVAL);
        expect_keyed_n("low 0\nhigh 12\nmax 3\n", 14, "high", 12);
}

/* ---- parse_memory_events ------------------------------------------------ */

static int memory_events(const char *s, size_t len, MemoryEvents *ret) {
        Guarded g = guarded_copy(s, len);
        int r = parse_memory_events(g.data, len, ret);
        guarded_free(&g);
        return r;
}

static void parse_memory_events_reads_a_v2_memory_events_file(void **state) {
        MemoryEvents e;

        memset(&e, 0xa5, sizeof e);
        assert_errno_eq(memory_events(EVENTS_V2, strlen(EVENTS_V2), &e), 0);
        assert_u64_eq(e.low, 0);
        assert_u64_eq(e.high, 12);
        assert_u64_eq(e.max, 3);
        assert_u64_eq(e.oom, 1);
        assert_u64_eq(e.oom_kill, 1);
        assert_u64_eq(e.oom_group_kill, 0);

        static const char distinct[] =
                "low 11\nhigh 22\nmax 33\noom 44\noom_kill 55\noom_group_kill 66\n";
        assert_errno_eq(memory_events(distinct, strlen(distinct), &e), 0);
        assert_u64_eq(e.low, 11);
        assert_u64_eq(e.high, 22);
        assert_u64_eq(e.max, 33);
        assert_u64_eq(e.oom, 44);
        assert_u64_eq(e.oom_kill, 55);
        assert_u64_eq(e.oom_group_kill, 66);
}

static void parse_memory_events_defaults_low_and_oom_group_kill_on_older_kernels(void **state) {
        static const char no_group[] = "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\n";
        static const char no_low[] = "high 7\nmax 3\noom 1\noom_kill 2\n";
        MemoryEvents e;

        memset(&e, 0xa5, sizeof e);
        assert_errno_eq(memory_events(no_group, strlen(no_group), &e), 0);
        assert_u64_eq(e.high, 12);
        assert_u64_eq(e.oom_kill, 1);
        assert_u64_eq(e.oom_group_kill, 0);

        memset(&e, 0xa5, sizeof e);
        assert_errno_eq(memory_events(no_low, strlen(no_low), &e), 0);
        assert_u64_eq(e.low, 0);
        assert_u64_eq(e.high, 7);
        assert_u64_eq(e.oom_kill, 2);
        assert_u64_eq(e.oom_group_kill, 0);
}

static void parse_memory_events_ignores_keys_of_newer_kernels(void **state) {
        static const char newer[] =
                "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\nsock_throttled 9\n";
        MemoryEvents e;

        assert_errno_eq(memory_events(newer, strlen(newer), &e), 0);
        assert_u64_eq(e.high, 12);
        assert_u64_eq(e.max, 3);
}

static void expect_memory_events_fails(const char *s, size_t len, int want_or_zero) {
        MemoryEvents e, before;
        memset(&e, 0xa5, sizeof e);
        before = e;
        int r = memory_events(s, len, &e);
        if (r >= 0 || (want_or_zero != 0 && r != want_or_zero) || memcmp(&e, &before, sizeof e) != 0) {
                print_error("parse_memory_events(\"%s\") = %d (%s)%s; expected %s, output untouched\n",
                            esc(s, len), r, r < 0 ? strerror(-r) : "success",
                            memcmp(&e, &before, sizeof e) != 0 ? ", output written" : "",
                            want_or_zero ? strerror(-want_or_zero) : "an error");
                fail();
        }
}

static void parse_memory_events_rejects_missing_truncated_and_garbage_files(void **state) {
#define EVF(s, err) expect_memory_events_fails((s), sizeof(s) - 1, (err))
        /* Truncated mid-read: "max" is cut, "oom"/"oom_kill" never came. */
        EVF("high 1\nma", 0);
        EVF("low 0\nhigh 12\nmax 3\noom 1\noom_kill", 0);
        EVF("low 0\nhigh 12\nmax 3\noom 1\noom_kill \n", 0);
        /* Required keys absent (parse.h allows reading that as -ENOENT or
         * as a malformed file). */
        EVF("low 0\nmax 3\noom 1\noom_kill 1\n", 0);
        EVF("low 0\nhigh 12\nmax 3\noom 1\n", 0);
        EVF("populated 1\nfrozen 0\n", 0);
        /* The last line cut short. */
        EVF("low 0\nhigh 12\nmax 3\noom 1\noom_kill 1", 0);
        EVF("", 0);
        /* Garbage. */
        EVF("\x7f" "ELF\x02\x01\x01\0\0\0", 0);
        EVF("high twelve\nmax 3\noom 1\noom_kill 1\n", -EINVAL);
        EVF("low 0\nhigh 12\nmax -3\noom 1\noom_kill 1\n", -EINVAL);
#undef EVF
}

/* ---- parse_oom_control ------------------------------------------------- */

static int oom_control(const char *s, OomControl *ret) {
        size_t len = strlen(s);
        Guarded g = guarded_copy(s, len);
        int r = parse_oom_control(g.data, len, ret);
        guarded_free(&g);
        return r;
}

static void parse_oom_control_reads_a_v1_oom_control_file(void **state) {
        OomControl o;

        memset(&o, 0xa5, sizeof o);
        assert_errno_eq(oom_control("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", &o), 0);
        assert_false(o.oom_kill_disable);
        assert_false(o.under_oom);
        assert_true(o.has_oom_kill);
        assert_u64_eq(o.oom_kill, 0);

        memset(&o, 0, sizeof o);
        assert_errno_eq(oom_control("oom_kill_disable 1\nunder_oom 1\noom_kill 5\n", &o), 0);
        assert_true(o.oom_kill_disable);
        assert_true(o.under_oom);
        assert_true(o.has_oom_kill);
        assert_u64_eq(o.oom_kill, 5);
}

static void parse_oom_control_without_oom_kill_line_says_so(void **state) {
        OomControl o;

        /* Kernels before 4.13 have no oom_kill counter here. */
        memset(&o, 0xa5, sizeof o);
        assert_errno_eq(oom_control("oom_kill_disable 1\nunder_oom 0\n", &o), 0);
        assert_true(o.oom_kill_disable);
        assert_false(o.under_oom);
        assert_false(o.has_oom_kill);
}

static void parse_oom_control_rejects_missing_and_malformed_fields(void **state) {
        OomControl o, before;
        static const char *bad[] = {
                "oom_kill_disable 0\noom_kill 0\n",
                "under_oom 0\noom_kill 0\n",
                "oom_kill_disable x\nunder_oom 0\noom_kill 0\n",
                "oom_kill_disable 0\nunder_oom 0\noom_kill -1\n",
                "oom_kill_disable 0\nunder_o",
                "",
        };

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                memset(&o, 0xa5, sizeof o);
                before = o;
                int r = oom_control(bad[i], &o);
                if (r >= 0 || memcmp(&o, &before, sizeof o) != 0) {
                        print_error("parse_oom_control(\"%s\") = %d%s; expected an error, output untouched\n",
                                    esc(bad[i], strlen(bad[i])), r,
                                    memcmp(&o, &before, sizeof o) != 0 ? ", output written" : "");
                        fail();
                }
        }
}

/* ---- parse_pressure ---------------------------------------------------- */

static int pressure(const char *s, Pressure *ret) {
        size_t len = strlen(s);
        Guarded g = guarded_copy(s, len);
        int r = parse_pressure(g.data, len, ret);
        guarded_free(&g);
        return r;
}

#define assert_double_eq(got, want)                                                     \
        do {                                                                            \
                double _g = (got), _w = (want);                                         \
                if (!(fabs(_g - _w) < 1e-9)) {                                          \
                        print_error("%s = %.17g, expected %.17g\n", #got, _g, _w);      \
                        fail();                                                         \
                }                                                                       \
        } while (0)

static const char PSI[] =
        "some avg10=0.12 avg60=0.05 avg300=0.00 total=12345\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=678\n";

static void parse_pressure_reads_some_and_full_lines(void **state) {
        Pressure p;

        memset(&p, 0xa5, sizeof p);
        assert_errno_eq(pressure(PSI, &p), 0);
        assert_double_eq(p.some.avg10, 0.12);
        assert_double_eq(p.some.avg60, 0.05);
        assert_double_eq(p.some.avg300, 0.0);
        assert_u64_eq(p.some.total, 12345);
        assert_true(p.has_full);
        assert_double_eq(p.full.avg10, 0.0);
        assert_double_eq(p.full.avg60, 0.0);
        assert_double_eq(p.full.avg300, 0.0);
        assert_u64_eq(p.full.total, 678);

        memset(&p, 0xa5, sizeof p);
        assert_errno_eq(pressure("some avg10=12.34 avg60=5.60 avg300=100.00 total=18446744073709551615\n"
                                 "full avg10=1.25 avg60=0.50 avg300=99.99 total=1\n", &p), 0);
        assert_double_eq(p.some.avg10, 12.34);
        assert_double_eq(p.some.avg60, 5.60);
        assert_double_eq(p.some.avg300, 100.0);
        assert_u64_eq(p.some.total, UINT64_MAX);
        assert_true(p.has_full);
        assert_double_eq(p.full.avg10, 1.25);
        assert_double_eq(p.full.avg300, 99.99);
        assert_u64_eq(p.full.total, 1);
}

static void parse_pressure_without_full_line_says_so(void **state) {
        Pressure p;

        memset(&p, 0xa5, sizeof p);
        assert_errno_eq(pressure("some avg10=0.12 avg60=0.05 avg300=0.00 total=12345\n", &p), 0);
        assert_double_eq(p.some.avg10, 0.12);
        assert_u64_eq(p.some.total, 12345);
        assert_false(p.has_full);

}

static void parse_pressure_rejects_malformed_and_truncated_files(void **state) {
        static const char *bad[] = {
                "",
                "\n",
                "hello\n",
                "some avg10=abc avg60=0.05 avg300=0.00 total=12345\n",
                "some avg10=0.12 avg60=0.05 avg300=0.00\n",
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=\n",
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=12x\n",
                "some avg10=0.12 avg60=0.05\n",
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=99999999999999999999\n",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=678\n",
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=12345\nfull avg10=0.00 avg6",
                /* A last line without "\n" is a read cut short. */
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=1234",
                "some avg10=0.12 avg60=0.05 avg300=0.00 total=12345\nfull avg10=x avg60=0.00 avg300=0.00 total=678\n",
        };
        Pressure p, before;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                memset(&p, 0xa5, sizeof p);
                before = p;
                int r = pressure(bad[i], &p);
                if (r >= 0 || memcmp(&p, &before, sizeof p) != 0) {
                        print_error("parse_pressure(\"%s\") = %d%s; expected an error, output untouched\n",
                                    esc(bad[i], strlen(bad[i])), r,
                                    memcmp(&p, &before, sizeof p) != 0 ? ", output written" : "");
                        fail();
                }
        }
}

/* ---- parse_size / parse_size_or_percent --------------------------------- */

static void expect_size(const char *s, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = parse_size(s, &v);
        if (r != 0 || v != want) {
                print_error("parse_size(\"%s\") = %d, value %" PRIu64 "; expected 0, value %" PRIu64 "\n",
                            esc(s, strlen(s)), r, v, want);
                fail();
        }
}

static void expect_size_err(const char *s, int err) {
        uint64_t v = SENTINEL;
        int r = parse_size(s, &v);
        if (r != err || v != SENTINEL) {
                print_error("parse_size(\"%s\") = %d (%s), value %" PRIu64 "%s; expected %d (%s)\n",
                            esc(s, strlen(s)), r, r < 0 ? strerror(-r) : "success", v,
                            v == SENTINEL ? " (untouched)" : " (written)", err, strerror(-err));
                fail();
        }
}

static void parse_size_reads_bytes_and_binary_suffixes(void **state) {
        expect_size("0", 0);
        expect_size("4096", 4096);
        expect_size("1K", 1024);
        expect_size("64M", 64 * UT_MIB);
        expect_size("64MiB", 64 * UT_MIB);
        expect_size("64MB", 64 * UT_MIB);
        expect_size("1G", UINT64_C(1) << 30);
        expect_size("1GiB", UINT64_C(1) << 30);
        expect_size("1T", UINT64_C(1) << 40);
        expect_size("2T", UINT64_C(2) << 40);
        expect_size("1P", UINT64_C(1) << 50);
        expect_size("1E", UINT64_C(1) << 60);
        expect_size("15E", UINT64_C(15) << 60);
        expect_size("18446744073709551615", UINT64_MAX);
}

static void parse_size_reads_fractions_of_a_unit(void **state) {
        expect_size("1.5G", UINT64_C(3) << 29);
        expect_size("0.5K", 512);
        expect_size("1.5K", 1536);
        expect_size("1.25G", UINT64_C(1342177280));
        expect_size("2.5MiB", 5 * UT_MIB / 2);
}

static void parse_size_reads_infinity_as_u64_max(void **state) {
        expect_size("infinity", UINT64_MAX);
        expect_size_err("infinityX", -EINVAL);
        expect_size_err("infinit", -EINVAL);
}

static void parse_size_rejects_junk(void **state) {
        expect_size_err("", -EINVAL);
        expect_size_err("abc", -EINVAL);
        expect_size_err("-1", -EINVAL);
        expect_size_err("-1G", -EINVAL);
        expect_size_err("1.5.5G", -EINVAL);
        expect_size_err("G", -EINVAL);
        expect_size_err("64Q", -EINVAL);
        expect_size_err("64MiBx", -EINVAL);
        expect_size_err("64MM", -EINVAL);
        expect_size_err("64M4", -EINVAL);
        /* What strtod() would accept but a size is not. */
        expect_size_err("0x10", -EINVAL);
        expect_size_err("1e3", -EINVAL);
        expect_size_err("1E3", -EINVAL);
        expect_size_err("inf", -EINVAL);
        expect_size_err("nan", -EINVAL);
}

static void parse_size_reports_overflow_as_erange(void **state) {
        expect_size_err("99999999999E", -ERANGE);
        expect_size_err("16E", -ERANGE);
        expect_size_err("16.5E", -ERANGE);
        expect_size_err("18446744073709551616", -ERANGE);
        expect_size_err("99999999999999999999999", -ERANGE);
        expect_size_err("17179869184G", -ERANGE);
}

/* limits.h's comment names no spaces and only upper-case suffixes; either
 * refusing these or reading them as the unit is defensible. Reading "64 M"
 * as 64 bytes (ignoring what follows) is not. */
static void parse_size_never_reads_a_spaced_or_lowercase_suffix_as_bytes(void **state) {
        static const char *amb[] = { "64 M", "64m", "64 MiB", "64mib" };

        for (size_t i = 0; i < sizeof amb / sizeof amb[0]; i++) {
                uint64_t v = SENTINEL;
                int r = parse_size(amb[i], &v);
                print_message("note: parse_size(\"%s\") = %d, value %" PRIu64 "\n", amb[i], r,
                              r == 0 ? v : 0);
                if (!(r == -EINVAL && v == SENTINEL) && !(r == 0 && v == 64 * UT_MIB)) {
                        print_error("parse_size(\"%s\") = %d, value %" PRIu64
                                    "; expected -EINVAL or 64 MiB\n", amb[i], r, v);
                        fail();
                }
        }
}

static void expect_pct(const char *s, uint64_t total, uint64_t want) {
        uint64_t v = SENTINEL;
        int r = parse_size_or_percent(s, total, &v);
        if (r != 0 || v != want) {
                print_error("parse_size_or_percent(\"%s\", %" PRIu64 ") = %d, value %" PRIu64
                            "; expected 0, value %" PRIu64 "\n", s, total, r, v, want);
                fail();
        }
}

static void expect_pct_err(const char *s, uint64_t total, int err) {
        uint64_t v = SENTINEL;
        int r = parse_size_or_percent(s, total, &v);
        if (r != err || v != SENTINEL) {
                print_error("parse_size_or_percent(\"%s\", %" PRIu64 ") = %d, value %" PRIu64
                            "%s; expected %d (%s)\n", s, total, r, v,
                            v == SENTINEL ? " (untouched)" : " (written)", err, strerror(-err));
                fail();
        }
}

static void parse_size_or_percent_takes_a_share_of_the_total(void **state) {
        expect_pct("80%", 1000, 800);
        expect_pct("100%", 1000, 1000);
        expect_pct("1%", 1000, 10);
        expect_pct("50%", UINT64_C(8) << 30, UINT64_C(4) << 30);
        expect_pct("80%", UINT64_C(25276063744), UINT64_C(20220850995)); /* floor of 20220850995.2 */
        /* total * 100 overflows 64 bits here. */
        expect_pct("100%", UINT64_MAX, UINT64_MAX);

        uint64_t v = SENTINEL;
        assert_errno_eq(parse_size_or_percent("50%", UINT64_MAX, &v), 0);
        assert_u64_between(v, UINT64_MAX / 2 - 4096, UINT64_MAX / 2 + 4096);
        assert_errno_eq(parse_size_or_percent("80%", UINT64_MAX, &v), 0);
        /* floor(UINT64_MAX * 0.8) = 14757395258967641292; allow a double's
         * rounding, not a wrap. */
        assert_u64_between(v, UINT64_C(14757395258967641292) - 4096, UINT64_C(14757395258967641292) + 4096);
}

static void parse_size_or_percent_refuses_zero_and_over_100_percent(void **state) {
        expect_pct_err("0%", 1000, -EINVAL);
        expect_pct_err("101%", 1000, -EINVAL);
        expect_pct_err("1000%", 1000, -EINVAL);
        expect_pct_err("-5%", 1000, -EINVAL);
        expect_pct_err("%", 1000, -EINVAL);
        expect_pct_err("80%%", 1000, -EINVAL);
        expect_pct_err("80%x", 1000, -EINVAL);
        expect_pct_err("", 1000, -EINVAL);
}

static void parse_size_or_percent_reads_a_plain_size_as_parse_size_does(void **state) {
        expect_pct("4G", 1000, UINT64_C(4) << 30);
        expect_pct("4096", 1000, 4096);
        expect_pct("infinity", 1000, UINT64_MAX);
        expect_pct_err("abc", 1000, -EINVAL);
        expect_pct_err("99999999999E", 1000, -ERANGE);
}

/* ---- parse_meminfo_total ---------------------------------------------- */

static const char MEMINFO[] =
        "MemTotal:       16318480 kB\n"
        "MemFree:         9876544 kB\n"
        "MemAvailable:   12345676 kB\n"
        "Buffers:          234568 kB\n"
        "Cached:          3456788 kB\n"
        "SwapCached:            0 kB\n"
        "Active:          2345676 kB\n"
        "Inactive:        2876544 kB\n"
        "SwapTotal:             0 kB\n"
        "SwapFree:              0 kB\n"
        "Dirty:               124 kB\n"
        "HugePages_Total:       0\n"
        "HugePages_Free:        0\n"
        "Hugepagesize:       2048 kB\n"
        "Hugetlb:               0 kB\n"
        "DirectMap4k:      339844 kB\n"
        "DirectMap2M:     8046592 kB\n"
        "DirectMap1G:     9437184 kB\n";

static int meminfo(const char *s, size_t len, uint64_t *ret) {
        Guarded g = guarded_copy(s, len);
        int r = parse_meminfo_total(g.data, len, ret);
        guarded_free(&g);
        return r;
}

static void parse_meminfo_total_converts_kb_to_bytes(void **state) {
        uint64_t v = SENTINEL;

        assert_errno_eq(meminfo(MEMINFO, strlen(MEMINFO), &v), 0);
        assert_u64_eq(v, UINT64_C(16318480) * 1024);

        static const char only[] = "MemTotal:       24683656 kB";
        v = SENTINEL;
        assert_errno_eq(meminfo(only, strlen(only), &v), 0);
        assert_u64_eq(v, UINT64_C(24683656) * 1024);
}

static void parse_meminfo_total_rejects_missing_malformed_and_overflowing_values(void **state) {
        static const char missing[] = "MemFree:         9876544 kB\nSwapTotal:             0 kB\n";
        static const char bad[] = "MemTotal:       abc kB\n";
        static const char over[] = "MemTotal:       99999999999999999 kB\n";  /* * 1024 > 2^64 */
        uint64_t v = SENTINEL;

        assert_errno_eq(meminfo(missing, strlen(missing), &v), -ENOENT);
        assert_errno_eq(meminfo("", 0, &v), -ENOENT);
        assert_errno_eq(meminfo(bad, strlen(bad), &v), -EINVAL);
        assert_errno_eq(meminfo(over, strlen(over), &v), -ERANGE);
        assert_u64_eq(v, SENTINEL);
}

static void parse_meminfo_total_agrees_with_the_kernels_own_proc_meminfo(void **state) {
        FILE *f = fopen("/proc/meminfo", "re");
        char buf[16384];
        uint64_t v = SENTINEL;

        if (!f) {
                print_message("no /proc/meminfo: %s\n", strerror(errno));
                skip();
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        assert_true(n > 0);
        assert_errno_eq(meminfo(buf, n, &v), 0);

        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        /* Both come from totalram_pages(). */
        assert_u64_eq(v, (uint64_t) pages * (uint64_t) page);
}

/* ---- this host's own files ---------------------------------------------- */

/* Reads a whole kernel file the way the daemon does (one read into a
 * buffer, no NUL added). Returns the length, or -1 when it is not there. */
static ssize_t read_kernel_file(const char *path, char *buf, size_t size) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, size, f);
        fclose(f);
        return (ssize_t) n;
}

static void parsers_read_this_hosts_own_kernel_files(void **state) {
        static char buf[65536];
        unsigned found = 0;
        ssize_t n;

        if ((n = read_kernel_file("/proc/pressure/memory", buf, sizeof buf)) > 0) {
                Pressure p;
                Guarded g = guarded_copy(buf, (size_t) n);
                assert_errno_eq(parse_pressure(g.data, (size_t) n, &p), 0);
                assert_true(p.has_full);
                guarded_free(&g);
                found++;
        }
        if ((n = read_kernel_file("/sys/fs/cgroup/memory/memory.oom_control", buf, sizeof buf)) > 0) {
                OomControl o;
                Guarded g = guarded_copy(buf, (size_t) n);
                assert_errno_eq(parse_oom_control(g.data, (size_t) n, &o), 0);
                guarded_free(&g);
                found++;
        }
        if ((n = read_kernel_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", buf, sizeof buf)) > 0) {
                uint64_t v;
                Guarded g = guarded_copy(buf, (size_t) n);
                assert_errno_eq(parse_u64_value(g.data, (size_t) n, &v), 0);
                assert_true(v > 0);
                guarded_free(&g);
                found++;
        }
        if ((n = read_kernel_file("/sys/fs/cgroup/memory/memory.stat", buf, sizeof buf)) > 0) {
                uint64_t v;
                Guarded g = guarded_copy(buf, (size_t) n);
                assert_errno_eq(parse_keyed_u64(g.data, (size_t) n, "total_rss", &v), 0);
                assert_errno_eq(parse_keyed_u64(g.data, (size_t) n, "rss", &v), 0);
                guarded_free(&g);
                found++;
        }
        /* cgroup v2: this process's own cgroup ("0::/path" in /proc/self/cgroup). */
        if ((n = read_kernel_file("/proc/self/cgroup", buf, sizeof buf - 1)) > 0) {
                buf[n] = 0;
                char *line = strstr(buf, "0::/");
                if (line && (line == buf || line[-1] == '\n')) {
                        char path[4200];
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = 0;
                        snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.events", line + 3);
                        if ((n = read_kernel_file(path, buf, sizeof buf)) > 0) {
                                MemoryEvents e;
                                Guarded g = guarded_copy(buf, (size_t) n);
                                assert_errno_eq(parse_memory_events(g.data, (size_t) n, &e), 0);
                                guarded_free(&g);
                                found++;
                        }
                }
        }
        print_message("note: parsed %u kernel files of this host\n", found);
        if (found == 0)
                skip();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_u64_value_reads_decimals_with_an_optional_newline),
                cmocka_unit_test(parse_u64_value_reads_max_as_unlimited),
                cmocka_unit_test(format_u64_writes_what_printf_writes_and_parses_back),
                cmocka_unit_test(parse_u64_value_rejects_empty_and_junk),
                cmocka_unit_test(parse_u64_value_rejects_signs_and_spaces_the_kernel_never_writes),
                cmocka_unit_test(parse_u64_value_reports_overflow_as_erange),
                cmocka_unit_test(parse_u64_value_stops_at_len_without_a_nul),
                cmocka_unit_test(parse_keyed_u64_finds_each_key_of_memory_events),
                cmocka_unit_test(parse_keyed_u64_matches_whole_first_words_not_prefixes),
                cmocka_unit_test(parse_keyed_u64_reports_an_absent_key_as_enoent),
                cmocka_unit_test(parse_keyed_u64_rejects_a_malformed_value),
                cmocka_unit_test(parse_keyed_u64_refuses_a_last_line_cut_short_and_stops_at_len),
                cmocka_unit_test(parse_memory_events_reads_a_v2_memory_events_file),
                cmocka_unit_test(parse_memory_events_defaults_low_and_oom_group_kill_on_older_kernels),
                cmocka_unit_test(parse_memory_events_ignores_keys_of_newer_kernels),
                cmocka_unit_test(parse_memory_events_rejects_missing_truncated_and_garbage_files),
                cmocka_unit_test(parse_oom_control_reads_a_v1_oom_control_file),
                cmocka_unit_test(parse_oom_control_without_oom_kill_line_says_so),
                cmocka_unit_test(parse_oom_control_rejects_missing_and_malformed_fields),
                cmocka_unit_test(parse_pressure_reads_some_and_full_lines),
                cmocka_unit_test(parse_pressure_without_full_line_says_so),
                cmocka_unit_test(parse_pressure_rejects_malformed_and_truncated_files),
                cmocka_unit_test(parse_size_reads_bytes_and_binary_suffixes),
                cmocka_unit_test(parse_size_reads_fractions_of_a_unit),
                cmocka_unit_test(parse_size_reads_infinity_as_u64_max),
                cmocka_unit_test(parse_size_rejects_junk),
                cmocka_unit_test(parse_size_reports_overflow_as_erange),
                cmocka_unit_test(parse_size_never_reads_a_spaced_or_lowercase_suffix_as_bytes),
                cmocka_unit_test(parse_size_or_percent_takes_a_share_of_the_total),
                cmocka_unit_test(parse_size_or_percent_refuses_zero_and_over_100_percent),
                cmocka_unit_test(parse_size_or_percent_reads_a_plain_size_as_parse_size_does),
                cmocka_unit_test(parse_meminfo_total_converts_kb_to_bytes),
                cmocka_unit_test(parse_meminfo_total_rejects_missing_malformed_and_overflowing_values),
                cmocka_unit_test(parse_meminfo_total_agrees_with_the_kernels_own_proc_meminfo),
                cmocka_unit_test(parsers_read_this_hosts_own_kernel_files),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
