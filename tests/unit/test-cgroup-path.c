/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cgroup path rules of DESIGN.md §2, as every D-Bus input meets them:
 * "/"-rooted, no empty, "." or ".." component, no trailing "/", at most
 * 4096 bytes, valid UTF-8, never the root itself.
 *
 * Those are the only rules: other bytes the kernel allows in a cgroup name
 * (spaces, tabs, newlines) are accepted. The refusal's message goes out as
 * a D-Bus error string, so it must itself be valid UTF-8 and printable
 * even when the path is neither. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit-test.h"
#include "memcgd/engine.h"

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0;

        while (i < len) {
                unsigned char c = p[i];
                uint32_t cp, min;
                size_t n;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        n = 2; cp = c & 0x1f; min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        n = 3; cp = c & 0x0f; min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        n = 4; cp = c & 0x07; min = 0x10000;
                } else
                        return false;
                if (i + n > len)
                        return false;
                for (size_t k = 1; k < n; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += n;
        }
        return true;
}

static const char *esc(const char *s) {
        static char out[2][256];
        static unsigned slot;
        char *o = out[slot++ % 2];
        size_t j = 0;

        for (size_t i = 0; s[i] && j < sizeof out[0] - 8; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c >= 0x7f || c == '\\')
                        j += (size_t) snprintf(o + j, 8, "\\x%02x", c);
                else
                        o[j++] = (char) c;
        }
        if (strlen(s) > 60)
                j = 60, snprintf(o + j, 32, "... (%zu bytes)", strlen(s));
        else
                o[j] = 0;
        return o;
}

static bool printable_ascii(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f || (unsigned char) *s >= 0x80)
                        return false;
        return true;
}

static void check_accepted(const char *path) {
        MemcgError err;
        memset(&err, 0, sizeof err);

        int r = cgroup_path_validate(path, &err);
        if (r != 0) {
                print_error("cgroup_path_validate(\"%s\") = %d (%s), code %d, message \"%s\"; expected 0\n",
                            esc(path), r, r < 0 ? strerror(-r) : "?", (int) err.code, esc(err.message));
                fail();
        }
}

static void check_rejected(const char *path) {
        MemcgError err;
        memset(&err, 0xa5, sizeof err);

        int r = cgroup_path_validate(path, &err);
        if (r != -EINVAL) {
                print_error("cgroup_path_validate(\"%s\") = %d; expected -EINVAL\n", esc(path), r);
                fail();
        }
        if (err.code != MEMCG_ERROR_INVALID_PATH) {
                print_error("cgroup_path_validate(\"%s\"): code %d, expected MEMCG_ERROR_INVALID_PATH\n",
                            esc(path), (int) err.code);
                fail();
        }
        size_t mlen = strnlen(err.message, sizeof err.message);
        if (mlen == sizeof err.message) {
                print_error("cgroup_path_validate(\"%s\"): message not NUL-terminated\n", esc(path));
                fail();
        }
        if (mlen == 0) {
                print_error("cgroup_path_validate(\"%s\"): empty message\n", esc(path));
                fail();
        }
        /* It becomes a D-Bus error string: invalid UTF-8 would make sd-bus
         * refuse to send the reply. */
        if (!utf8_valid(err.message, mlen)) {
                print_error("cgroup_path_validate(\"%s\"): message is not valid UTF-8: \"%s\"\n",
                            esc(path), esc(err.message));
                fail();
        }
        for (size_t i = 0; i < mlen; i++)
                if ((unsigned char) err.message[i] < 0x20 || err.message[i] == 0x7f) {
                        print_error("cgroup_path_validate(\"%s\"): control byte 0x%02x in message \"%s\"\n",
                                    esc(path), (unsigned char) err.message[i], esc(err.message));
                        fail();
                }
        /* Every message names the cgroup: printable short paths verbatim. */
        if (printable_ascii(path) && strlen(path) < 200 && !strstr(err.message, path)) {
                print_error("cgroup_path_validate(\"%s\"): message \"%s\" does not name the path\n",
                            esc(path), esc(err.message));
                fail();
        }
}

/* A path of exactly `len` bytes, components of at most 200 bytes (under
 * NAME_MAX) made of `fill`, topped up with 'x' to the exact length. */
static char *make_path(size_t len, const char *fill) {
        size_t fl = strlen(fill);
        char *p = malloc(len + 1);
        size_t i = 0, comp = 0;

        assert_non_null(p);
        assert_true(len >= 2);
        p[i++] = '/';
        while (i < len) {
                /* A new component only when one more byte can follow it:
                 * neither a trailing "/" nor an empty component. */
                if (comp + fl > 200 && len - i >= 2) {
                        p[i++] = '/';
                        comp = 0;
                } else if (i + fl <= len) {
                        memcpy(p + i, fill, fl);
                        i += fl;
                        comp += fl;
                } else {
                        p[i++] = 'x';
                        comp++;
                }
        }
        p[len] = 0;
        return p;
}

static void cgroup_path_validate_accepts_proc_pid_cgroup_style_paths(void **state) {
        check_accepted("/a");
        check_accepted("/a/b.c");
        check_accepted("/user.slice/user-1000.slice");
        check_accepted("/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo-1234.scope");
        check_accepted("/machine.slice/libpod-0123abcd.scope/container");
        check_accepted("/system.slice/memcgd-test");
}

static void cgroup_path_validate_accepts_dots_that_are_not_whole_components(void **state) {
        check_accepted("/.hidden");
        check_accepted("/a.");
        check_accepted("/..a");
        check_accepted("/a..");
        check_accepted("/...");
        check_accepted("/a/.b/c..d");
}

static void cgroup_path_validate_accepts_utf8_and_other_bytes_the_kernel_allows(void **state) {
        check_accepted("/\xc3\xa4/\xc3\xb6");         /* ä/ö */
        check_accepted("/\xe6\x97\xa5\xe6\x9c\xac");  /* 日本 */
        check_accepted("/\xf0\x9f\x98\x80");          /* U+1F600, 4 bytes */
        check_accepted("/\xf4\x8f\xbf\xbf");          /* U+10FFFF, the last code point */
        check_accepted("/with space");
        check_accepted("/quote'and\"double");
        check_accepted("/back\\slash");
}

/* A path is named in /proc/PID/cgroup form, one line per entry, and lands
 * in logs, the state file and D-Bus messages: a newline cannot be part of
 * it. */
static void cgroup_path_validate_refuses_a_newline(void **state) {
        check_rejected("/a\nb");
        check_rejected("/a\n");
        check_rejected("/\n/x");
}

/* DESIGN.md §2 neither allows nor refuses other control bytes; either is
 * fine, but a refusal must still carry a printable UTF-8 message. */
static void cgroup_path_validate_handles_other_control_bytes_consistently(void **state) {
        static const char *paths[] = { "/tab\there", "/bell\a", "/esc\x1b[31m", "/del\x7f", "/cr\r" };

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
                MemcgError err;
                memset(&err, 0, sizeof err);
                int r = cgroup_path_validate(paths[i], &err);
                print_message("note: cgroup_path_validate(\"%s\") = %d\n", esc(paths[i]), r);
                if (r == 0)
                        continue;
                check_rejected(paths[i]);
        }
}

static void cgroup_path_validate_refuses_the_root_and_paths_not_starting_with_a_slash(void **state) {
        check_rejected("");
        check_rejected("/");
        check_rejected("a");
        check_rejected("a/b");
        check_rejected("./a");
        check_rejected(" /a");
}

static void cgroup_path_validate_refuses_empty_components_and_a_trailing_slash(void **state) {
        check_rejected("//");
        check_rejected("//a");
        check_rejected("/a/");
        check_rejected("/a/b/");
        check_rejected("/a//b");
        check_rejected("/a///b");
        check_rejected("/a\n/");
}

static void cgroup_path_validate_refuses_dot_and_dot_dot_components(void **state) {
        check_rejected("/.");
        check_rejected("/..");
        check_rejected("/a/.");
        check_rejected("/a/..");
        check_rejected("/a/./b");
        check_rejected("/a/../b");
        check_rejected("/../a");
        check_rejected("/./a");
        check_rejected("/a/b/../../..");
}

static void cgroup_path_validate_accepts_4096_bytes_and_refuses_4097(void **state) {
        char *p = make_path(4096, "a");
        assert_int_equal(strlen(p), 4096);
        check_accepted(p);
        free(p);

        p = make_path(4097, "a");
        assert_int_equal(strlen(p), 4097);
        check_rejected(p);
        free(p);

        p = make_path(100000, "a");
        check_rejected(p);
        free(p);

        /* Multi-byte characters: cutting the path into the 512-byte message
         * must not split one. */
        for (size_t len = 4097; len < 4097 + 6; len++) {
                p = make_path(len, "\xc3\xa4\xe6\x97\xa5\xf0\x9f\x98\x80");
                assert_int_equal(strlen(p), len);
                assert_true(utf8_valid(p, len));
                check_rejected(p);
                free(p);
        }
        p = make_path(4096, "\xc3\xa4\xe6\x97\xa5\xf0\x9f\x98\x80");
        assert_true(utf8_valid(p, 4096));
        check_accepted(p);
        free(p);
}

static void cgroup_path_validate_refuses_invalid_utf8(void **state) {
        check_rejected("/\xff");
        check_rejected("/a\xc3");                    /* truncated 2-byte sequence at the end */
        check_rejected("/\xe2\x82");                 /* truncated 3-byte sequence at the end */
        check_rejected("/\xe2\x82/x");               /* truncated in the middle */
        check_rejected("/\x80");                     /* lone continuation byte */
        check_rejected("/\xc0\xaf");                 /* overlong "/" */
        check_rejected("/\xe0\x80\xaf");             /* overlong "/" in 3 bytes */
        check_rejected("/\xed\xa0\x80");             /* UTF-16 surrogate U+D800 */
        check_rejected("/\xf4\x90\x80\x80");         /* U+110000, above the last code point */
        check_rejected("/\xf8\x88\x80\x80\x80");     /* 5-byte form */
        check_rejected("/a/\xfe\xff/b");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(cgroup_path_validate_accepts_proc_pid_cgroup_style_paths),
                cmocka_unit_test(cgroup_path_validate_accepts_dots_that_are_not_whole_components),
                cmocka_unit_test(cgroup_path_validate_accepts_utf8_and_other_bytes_the_kernel_allows),
                cmocka_unit_test(cgroup_path_validate_refuses_a_newline),
                cmocka_unit_test(cgroup_path_validate_handles_other_control_bytes_consistently),
                cmocka_unit_test(cgroup_path_validate_refuses_the_root_and_paths_not_starting_with_a_slash),
                cmocka_unit_test(cgroup_path_validate_refuses_empty_components_and_a_trailing_slash),
                cmocka_unit_test(cgroup_path_validate_refuses_dot_and_dot_dot_components),
                cmocka_unit_test(cgroup_path_validate_accepts_4096_bytes_and_refuses_4097),
                cmocka_unit_test(cgroup_path_validate_refuses_invalid_utf8),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
