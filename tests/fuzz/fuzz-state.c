/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state file loader (service/state.h) on arbitrary bytes.
 *
 * 1. state_parse() of the input (a copy that ends exactly at its length)
 *    is compared with a reference parser written here from the format
 *    state.h documents, in another way (fields cut by hand, numbers judged
 *    on their digit strings, unescaping byte by byte): the same number of
 *    skipped lines and the same records, in the same order, with the same
 *    paths, numbers, OOM policies and oom_kill_disable flags.
 * 2. What it keeps is well formed whatever the input: every path passes
 *    the path rules, no path twice (across both lists), no remembered
 *    limit of 0, every OOM policy a known one.
 * 3. state_format() of it parses back to the same state with nothing
 *    skipped, and state_save() then state_load() in a temporary directory
 *    too; state_load() of the input written to a file equals
 *    state_parse() of it.
 * 4. The input as a C string: state_escape_path() writes only '!'..'~'
 *    and state_unescape_path() gives the string back.
 *
 * The temporary directory: fuzz_make_tmp_dir() (fuzz.h). The parser's
 * warnings are silenced; $MEMCGD_FUZZ_LOG=debug shows them. */

#include "fuzz.h"
#include "state.h"
#include "util.h"

#define HEADER "memcgd-state 1"

/* ---- reference -------------------------------------------------------- */

typedef struct RefRecord {
        char *path;
        uint64_t v[3];  /* monitor: original_max, original_high, initial_limit; remember: limit */
        OomPolicy policy;
        bool okd;       /* monitor: an "oom-kill-disabled" record followed */
} RefRecord;

typedef struct RefState {
        RefRecord mon[512], rem[512];
        size_t n_mon, n_rem;
        int skipped;
        bool overflow;  /* more records than this reference holds: compare nothing */
} RefState;

static void ref_done(RefState *s) {
        for (size_t i = 0; i < s->n_mon; i++)
                free(s->mon[i].path);
        for (size_t i = 0; i < s->n_rem; i++)
                free(s->rem[i].path);
        s->n_mon = s->n_rem = 0;
}

/* A field of decimal digits only, at least one, whose value fits a u64
 * (judged by comparing the digits with UINT64_MAX's). */
static bool ref_u64(const char *s, size_t n, uint64_t *ret) {
        static const char umax[] = "18446744073709551615";
        size_t z = 0;
        uint64_t v = 0;

        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        while (z < n && s[z] == '0')
                z++;
        if (n - z > 20 || (n - z == 20 && memcmp(s + z, umax, 20) > 0))
                return false;
        for (size_t i = z; i < n; i++)
                v = v * 10 + (uint64_t) (s[i] - '0');
        *ret = v;
        return true;
}

static int ref_hex(char c) {
        static const char digits[] = "0123456789abcdef0123456789ABCDEF";
        const char *p = c ? memchr(digits, c, sizeof(digits) - 1) : NULL;
        return p ? (int) ((p - digits) % 16) : -1;
}

/* The escaped path field: bytes '!'..'~' but the backslash stand for
 * themselves, "\xHH" (either case) for the byte HH, which may not be 0.
 * NULL for anything else. */
static char *ref_unescape(const char *s, size_t n) {
        char *out = malloc(n + 1);
        size_t o = 0;

        FUZZ_CHECK(out, "out of memory");
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\\') {
                        int hi, lo;
                        if (n - i < 4)
                                goto fail;
                        if (s[i + 1] != 'x' || (hi = ref_hex(s[i + 2])) < 0 || (lo = ref_hex(s[i + 3])) < 0 ||
                            (hi == 0 && lo == 0))
                                goto fail;
                        out[o++] = (char) (hi * 16 + lo);
                        i += 3;
                } else if (c >= 0x21 && c <= 0x7e)
                        out[o++] = (char) c;
                else
                        goto fail;
        }
        out[o] = '\0';
        return out;
fail:
        free(out);
        return NULL;
}

static bool ref_has_path(const RefState *s, const char *path) {
        for (size_t i = 0; i < s->n_mon; i++)
                if (strcmp(s->mon[i].path, path) == 0)
                        return true;
        for (size_t i = 0; i < s->n_rem; i++)
                if (strcmp(s->rem[i].path, path) == 0)
                        return true;
        return false;
}

static bool field_is(const char *f, size_t n, const char *word) {
        return n == strlen(word) && memcmp(f, word, n) == 0;
}

/* One record line (no newline, no NUL): true when it is kept or applied. */
static bool ref_record(RefState *s, const char *line, size_t len) {
        const char *f[8];
        size_t fl[8], nf = 0, start = 0;
        uint64_t v[3] = {};
        char *path;

        /* Fields are separated by single blanks: two blanks make an empty
         * field, so a count beyond 5 is as wrong as any other. */
        for (size_t i = 0; i <= len; i++)
                if (i == len || line[i] == ' ') {
                        if (nf == 8)
                                return false;
                        f[nf] = line + start;
                        fl[nf++] = i - start;
                        start = i + 1;
                }

        if (field_is(f[0], fl[0], "oom-policy")) {
                static const char *const names[] = { [OOM_POLICY_KILL] = "kill", [OOM_POLICY_GROW] = "grow",
                                                     [OOM_POLICY_FREEZE] = "freeze" };
                int p = -1;
                if (nf != 3)
                        return false;
                for (int k = 0; k < _OOM_POLICY_MAX; k++)
                        if (field_is(f[1], fl[1], names[k]))
                                p = k;
                if (p < 0 || !(path = ref_unescape(f[2], fl[2])))
                        return false;
                for (size_t i = 0; i < s->n_mon; i++)
                        if (strcmp(s->mon[i].path, path) == 0) {
                                s->mon[i].policy = (OomPolicy) p;
                                free(path);
                                return true;
                        }
                free(path);
                return false;
        }

        if (field_is(f[0], fl[0], "oom-kill-disabled")) {
                if (nf != 2 || !(path = ref_unescape(f[1], fl[1])))
                        return false;
                for (size_t i = 0; i < s->n_mon; i++)
                        if (strcmp(s->mon[i].path, path) == 0) {
                                s->mon[i].okd = true;
                                free(path);
                                return true;
                        }
                free(path);
                return false;
        }

        bool monitor = field_is(f[0], fl[0], "monitor");
        if (monitor) {
                if (nf != 5)
                        return false;
                for (int i = 0; i < 3; i++)
                        if (!ref_u64(f[i + 1], fl[i + 1], &v[i]))
                                return false;
        } else if (field_is(f[0], fl[0], "remember")) {
                if (nf != 3 || !ref_u64(f[1], fl[1], &v[0]) || v[0] == 0)
                        return false;
        } else
                return false;

        path = ref_unescape(f[nf - 1], fl[nf - 1]);
        if (!path)
                return false;
        if (cgroup_path_validate(path, NULL) < 0 || ref_has_path(s, path)) {
                free(path);
                return false;
        }
        if ((monitor ? s->n_mon : s->n_rem) == 512) {
                s->overflow = true;
                free(path);
                return true;
        }
        RefRecord *rec = monitor ? &s->mon[s->n_mon++] : &s->rem[s->n_rem++];
        *rec = (RefRecord) { .path = path, .v = { v[0], v[1], v[2] }, .policy = OOM_POLICY_KILL };
        return true;
}

/* The file: lines end with '\n'; a last line without one is skipped (and
 * ends the file), a line holding a NUL is skipped, empty lines and lines
 * starting with '#' are comments. The first other line must be the
 * header, else everything is dropped and that line counts as skipped. */
static void ref_parse(const char *buf, size_t len, RefState *s) {
        size_t pos = 0;
        bool header = false;

        *s = (RefState) {};
        while (pos < len) {
                const char *line = buf + pos;
                size_t n = 0;

                while (pos + n < len && line[n] != '\n')
                        n++;
                bool complete = pos + n < len;
                pos += n + 1;

                if (!complete) {
                        s->skipped++;
                        break;
                }
                if (memchr(line, '\0', n)) {
                        s->skipped++;
                        continue;
                }
                if (n == 0 || line[0] == '#')
                        continue;
                if (!header) {
                        if (!field_is(line, n, HEADER)) {
                                ref_done(s);
                                s->skipped++;
                                return;
                        }
                        header = true;
                        continue;
                }
                if (!ref_record(s, line, n))
                        s->skipped++;
        }
}

/* ---- checks --------------------------------------------------------- */

static void check_well_formed(const State *s, const char *what) {
        for (size_t i = 0; i < s->n_monitored + s->n_remembered; i++) {
                bool mon = i < s->n_monitored;
                const char *p = mon ? s->monitored[i].path : s->remembered[i - s->n_monitored].path;

                FUZZ_CHECK(p && cgroup_path_validate(p, NULL) == 0, "%s: kept the invalid path \"%s\"", what,
                           p ? fuzz_esc(p, strlen(p)) : "(null)");
                for (size_t j = 0; j < i; j++) {
                        const char *q = j < s->n_monitored ? s->monitored[j].path
                                                           : s->remembered[j - s->n_monitored].path;
                        FUZZ_CHECK(strcmp(p, q) != 0, "%s: kept \"%s\" twice", what, fuzz_esc(p, strlen(p)));
                }
                if (mon)
                        FUZZ_CHECK((unsigned) s->monitored[i].oom_policy < _OOM_POLICY_MAX,
                                   "%s: OOM policy %d of \"%s\"", what, (int) s->monitored[i].oom_policy,
                                   fuzz_esc(p, strlen(p)));
                else
                        FUZZ_CHECK(s->remembered[i - s->n_monitored].limit != 0,
                                   "%s: kept a remembered limit of 0 for \"%s\"", what, fuzz_esc(p, strlen(p)));
        }
}

static void check_equal(const State *a, const State *b, const char *what) {
        FUZZ_CHECK(a->n_monitored == b->n_monitored && a->n_remembered == b->n_remembered,
                   "%s: %zu monitored and %zu remembered, expected %zu and %zu", what, b->n_monitored,
                   b->n_remembered, a->n_monitored, a->n_remembered);
        for (size_t i = 0; i < a->n_monitored; i++) {
                const StateMonitored *x = &a->monitored[i], *y = &b->monitored[i];
                FUZZ_CHECK(strcmp(x->path, y->path) == 0 && x->original_max == y->original_max &&
                                   x->original_high == y->original_high && x->initial_limit == y->initial_limit &&
                                   x->oom_policy == y->oom_policy && x->original_okd == y->original_okd,
                           "%s: monitored record %zu is \"%s\" %" PRIu64 " %" PRIu64 " %" PRIu64 " %d okd %d, expected \"%s\" %" PRIu64
                           " %" PRIu64 " %" PRIu64 " %d okd %d",
                           what, i, fuzz_esc(y->path, strlen(y->path)), y->original_max, y->original_high,
                           y->initial_limit, (int) y->oom_policy, (int) y->original_okd, fuzz_esc(x->path, strlen(x->path)),
                           x->original_max, x->original_high, x->initial_limit, (int) x->oom_policy, (int) x->original_okd);
        }
        for (size_t i = 0; i < a->n_remembered; i++) {
                const StateRemembered *x = &a->remembered[i], *y = &b->remembered[i];
                FUZZ_CHECK(strcmp(x->path, y->path) == 0 && x->limit == y->limit,
                           "%s: remembered record %zu is \"%s\" %" PRIu64 ", expected \"%s\" %" PRIu64, what, i,
                           fuzz_esc(y->path, strlen(y->path)), y->limit, fuzz_esc(x->path, strlen(x->path)), x->limit);
        }
}

static void check_reference(const char *buf, size_t len, const State *s, int skipped) {
        static RefState ref; /* large: not on the stack */

        ref_parse(buf, len, &ref);
        if (!ref.overflow) {
                FUZZ_CHECK(skipped == ref.skipped, "state_parse() skipped %d lines, the reference %d", skipped,
                           ref.skipped);
                FUZZ_CHECK(s->n_monitored == ref.n_mon && s->n_remembered == ref.n_rem,
                           "state_parse() kept %zu monitored and %zu remembered, the reference %zu and %zu",
                           s->n_monitored, s->n_remembered, ref.n_mon, ref.n_rem);
                for (size_t i = 0; i < ref.n_mon; i++) {
                        const StateMonitored *x = &s->monitored[i];
                        const RefRecord *y = &ref.mon[i];
                        FUZZ_CHECK(strcmp(x->path, y->path) == 0 && x->original_max == y->v[0] &&
                                           x->original_high == y->v[1] && x->initial_limit == y->v[2] &&
                                           x->oom_policy == y->policy && x->original_okd == y->okd,
                                   "monitored record %zu: state_parse() \"%s\" %" PRIu64 " %" PRIu64 " %" PRIu64
                                   " %d okd %d, the reference \"%s\" %" PRIu64 " %" PRIu64 " %" PRIu64 " %d okd %d",
                                   i, fuzz_esc(x->path, strlen(x->path)), x->original_max, x->original_high,
                                   x->initial_limit, (int) x->oom_policy, (int) x->original_okd,
                                   fuzz_esc(y->path, strlen(y->path)), y->v[0], y->v[1], y->v[2], (int) y->policy,
                                   (int) y->okd);
                }
                for (size_t i = 0; i < ref.n_rem; i++)
                        FUZZ_CHECK(strcmp(s->remembered[i].path, ref.rem[i].path) == 0 &&
                                           s->remembered[i].limit == ref.rem[i].v[0],
                                   "remembered record %zu: state_parse() \"%s\" %" PRIu64 ", the reference \"%s\" %" PRIu64,
                                   i, fuzz_esc(s->remembered[i].path, strlen(s->remembered[i].path)),
                                   s->remembered[i].limit, fuzz_esc(ref.rem[i].path, strlen(ref.rem[i].path)),
                                   ref.rem[i].v[0]);
        }
        ref_done(&ref);
}

static void check_format_round_trip(const State *s) {
        size_t len = 0;
        _cleanup_gfree_ char *text = state_format(s, &len);
        State back = {};
        int r;

        FUZZ_CHECK(text && len == strlen(text), "state_format() gave %zu bytes, the text has %zu", len,
                   text ? strlen(text) : 0);
        r = state_parse(text, len, &back);
        FUZZ_CHECK(r == 0, "the formatted state parses with %d lines skipped:\n%s", r, fuzz_esc(text, len));
        check_equal(s, &back, "format, then parse");
        state_done(&back);
}

/* ---- files ------------------------------------------------------------ */

static char *tmp_dir;

static void remove_tmp_dir(void) {
        fuzz_remove_tree(tmp_dir);
        free(tmp_dir);
        tmp_dir = NULL;
}

static void set_up(void) {
        const char *lvl = getenv("MEMCGD_FUZZ_LOG");

        log_max_level = lvl ? log_level_from_string(lvl) : -1;
        tmp_dir = fuzz_make_tmp_dir("state");
        atexit(remove_tmp_dir);
}

static void check_files(const uint8_t *data, size_t size, const State *parsed, int skipped) {
        _cleanup_gfree_ char *in_dir = g_build_filename(tmp_dir, "in", NULL);
        _cleanup_gfree_ char *out_dir = g_build_filename(tmp_dir, "out", NULL);
        _cleanup_gfree_ char *file = g_build_filename(in_dir, STATE_FILE_NAME, NULL);
        State loaded = {};
        int r;

        /* What a damaged disk hands the loader: the bytes as they are. */
        FUZZ_CHECK(mkdir_p(in_dir, 0700) == 0, "mkdir %s: %s", in_dir, strerror(errno));
        FUZZ_CHECK(g_file_set_contents(file, (const char *) data, (gssize) size, NULL), "cannot write %s", file);
        r = state_load(in_dir, &loaded);
        FUZZ_CHECK(r == skipped, "state_load() skipped %d lines, state_parse() of the same bytes %d", r, skipped);
        check_equal(parsed, &loaded, "state_load() of the input");
        state_done(&loaded);

        r = state_save(out_dir, parsed);
        FUZZ_CHECK(r == 0, "state_save() into %s: %s", out_dir, strerror(-r));
        r = state_load(out_dir, &loaded);
        FUZZ_CHECK(r == 0, "the saved state loads with %d lines skipped", r);
        check_equal(parsed, &loaded, "save, then load");
        state_done(&loaded);
}

static void check_escaping(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, true);
        _cleanup_gfree_ char *e = state_escape_path(b.data);
        _cleanup_gfree_ char *back = NULL;

        for (const char *p = e; *p; p++)
                FUZZ_CHECK(*p >= '!' && *p <= '~', "state_escape_path(\"%s\") wrote the byte 0x%02x",
                           fuzz_esc(b.data, strlen(b.data)), (unsigned char) *p);
        back = state_unescape_path(e);
        FUZZ_CHECK(back && strcmp(back, b.data) == 0, "\"%s\" escaped as \"%s\" reads back as \"%s\"",
                   fuzz_esc(b.data, strlen(b.data)), fuzz_esc(e, strlen(e)), back ? fuzz_esc(back, strlen(back)) : "(null)");
        fuzz_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzBuf b;
        State s = {};
        int skipped;

        if (!tmp_dir)
                set_up();

        b = fuzz_copy(data, size, false);
        skipped = state_parse(b.data, size, &s);
        FUZZ_CHECK(skipped >= 0, "state_parse() = %d", skipped);
        check_well_formed(&s, "state_parse()");
        check_reference(b.data, size, &s, skipped);
        check_format_round_trip(&s);
        check_files(data, size, &s, skipped);
        check_escaping(data, size);
        state_done(&s);
        fuzz_free(&b);
        return 0;
}
