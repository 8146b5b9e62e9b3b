/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "memcgd/engine.h"
#include "state.h"
#include "util.h"

#define STATE_HEADER "memcgd-state 1"

int state_add_monitored(State *s, const char *path, uint64_t original_max, uint64_t original_high,
                        uint64_t initial_limit) {
        s->monitored = g_renew(StateMonitored, s->monitored, s->n_monitored + 1);
        s->monitored[s->n_monitored++] = (StateMonitored) {
                .oom_policy = OOM_POLICY_KILL,
                .path = g_strdup(path),
                .original_max = original_max,
                .original_high = original_high,
                .initial_limit = initial_limit,
        };
        return 0;
}

int state_add_remembered(State *s, const char *path, uint64_t limit) {
        s->remembered = g_renew(StateRemembered, s->remembered, s->n_remembered + 1);
        s->remembered[s->n_remembered++] = (StateRemembered) {
                .path = g_strdup(path),
                .limit = limit,
        };
        return 0;
}

void state_done(State *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_monitored; i++)
                g_free(s->monitored[i].path);
        for (size_t i = 0; i < s->n_remembered; i++)
                g_free(s->remembered[i].path);
        g_free(s->monitored);
        g_free(s->remembered);
        *s = (State) {};
}

char *state_escape_path(const char *path) {
        GString *out = g_string_sized_new(strlen(path) + 8);

        for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
                if (*p > ' ' && *p <= '~' && *p != '\\')
                        g_string_append_c(out, (char) *p);
                else
                        g_string_append_printf(out, "\\x%02x", *p);
        }
        return g_string_free(out, FALSE);
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *state_unescape_path(const char *s) {
        GString *out = g_string_sized_new(strlen(s));

        for (const char *p = s; *p; p++) {
                if (*p != '\\') {
                        if ((unsigned char) *p <= ' ' || (unsigned char) *p > '~')
                                goto fail;
                        g_string_append_c(out, *p);
                        continue;
                }
                if (p[1] != 'x' || unhex(p[2]) < 0 || unhex(p[3]) < 0)
                        goto fail;
                char c = (char) (unhex(p[2]) << 4 | unhex(p[3]));
                if (c == 0)
                        goto fail;
                g_string_append_c(out, c);
                p += 3;
        }
        return g_string_free(out, FALSE);
fail:
        g_string_free(out, TRUE);
        return NULL;
}

char *state_format(const State *s, size_t *ret_len) {
        GString *out = g_string_new("# memcgd: cgroups to re-attach at start. Replaced atomically on every change.\n"
                                    STATE_HEADER "\n");

        for (size_t i = 0; i < s->n_monitored; i++) {
                _cleanup_gfree_ char *e = state_escape_path(s->monitored[i].path);
                g_string_append_printf(out, "monitor %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
                                       s->monitored[i].original_max, s->monitored[i].original_high,
                                       s->monitored[i].initial_limit, e);
                if (s->monitored[i].oom_policy != OOM_POLICY_KILL)
                        g_string_append_printf(out, "oom-policy %s %s\n",
                                               oom_policy_to_string(s->monitored[i].oom_policy), e);
                if (s->monitored[i].original_okd)
                        g_string_append_printf(out, "oom-kill-disabled %s\n", e);
        }
        for (size_t i = 0; i < s->n_remembered; i++) {
                _cleanup_gfree_ char *e = state_escape_path(s->remembered[i].path);
                g_string_append_printf(out, "remember %" PRIu64 " %s\n", s->remembered[i].limit, e);
        }
        if (ret_len)
                *ret_len = out->len;
        return g_string_free(out, FALSE);
}

static int parse_u64_field(const char *s, uint64_t *ret) {
        char *end;

        if (!s || !(*s >= '0' && *s <= '9'))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        *ret = (uint64_t) v;
        return 0;
}

static bool state_has_path(const State *s, const char *path) {
        for (size_t i = 0; i < s->n_monitored; i++)
                if (streq(s->monitored[i].path, path))
                        return true;
        for (size_t i = 0; i < s->n_remembered; i++)
                if (streq(s->remembered[i].path, path))
                        return true;
        return false;
}

/* One record line (without its newline): NULL on success, else why not. */
static const char *parse_record(State *s, const char *line) {
        _cleanup_strv_free_ char **f = g_strsplit(line, " ", 0);
        _cleanup_gfree_ char *path = NULL;
        guint n = g_strv_length(f);
        uint64_t v[3];
        MemcgError err;

        if (n >= 1 && streq(f[0], "monitor")) {
                if (n != 5)
                        return "expected: monitor <original_max> <original_high> <initial_limit> <path>";
                for (int i = 0; i < 3; i++)
                        if (parse_u64_field(f[i + 1], &v[i]) < 0)
                                return "a limit is not a decimal number";
        } else if (n >= 1 && streq(f[0], "oom-policy")) {
                OomPolicy p;
                if (n != 3)
                        return "expected: oom-policy <kill|grow|freeze> <path>";
                if (oom_policy_from_string(f[1], &p) < 0)
                        return "unknown OOM policy";
                path = state_unescape_path(f[2]);
                if (!path)
                        return "the path is not correctly escaped";
                for (size_t i = 0; i < s->n_monitored; i++)
                        if (streq(s->monitored[i].path, path)) {
                                s->monitored[i].oom_policy = p;
                                return NULL;
                        }
                return "an OOM policy for a cgroup without a monitor record before it";
        } else if (n >= 1 && streq(f[0], "oom-kill-disabled")) {
                if (n != 2)
                        return "expected: oom-kill-disabled <path>";
                path = state_unescape_path(f[1]);
                if (!path)
                        return "the path is not correctly escaped";
                for (size_t i = 0; i < s->n_monitored; i++)
                        if (streq(s->monitored[i].path, path)) {
                                s->monitored[i].original_okd = true;
                                return NULL;
                        }
                return "oom-kill-disabled for a cgroup without a monitor record before it";
        } else if (n >= 1 && streq(f[0], "remember")) {
                if (n != 3)
                        return "expected: remember <limit> <path>";
                if (parse_u64_field(f[1], &v[0]) < 0)
                        return "the limit is not a decimal number";
                if (v[0] == 0)
                        return "a remembered limit of 0";
        } else
                return "unknown record type";

        path = state_unescape_path(f[n - 1]);
        if (!path)
                return "the path is not correctly escaped";
        if (cgroup_path_validate(path, &err) < 0)
                return "the path breaks the path rules";
        if (state_has_path(s, path))
                return "the path is listed twice (the first record wins)";

        if (streq(f[0], "monitor"))
                (void) state_add_monitored(s, path, v[0], v[1], v[2]);
        else
                (void) state_add_remembered(s, path, v[0]);
        return NULL;
}

int state_parse(const char *buf, size_t len, State *ret) {
        State s = {};
        int skipped = 0;
        bool header = false;
        unsigned lineno = 0;
        size_t i = 0;

        while (i < len) {
                const char *nl = memchr(buf + i, '\n', len - i);
                size_t end = nl ? (size_t) (nl - buf) : len;
                bool has_nul = memchr(buf + i, 0, end - i) != NULL;
                _cleanup_gfree_ char *line = g_strndup(buf + i, end - i);
                const char *why;

                lineno++;
                i = end + 1;

                if (!nl) {
                        /* A crash cannot leave this behind (the file is
                         * replaced by rename), a damaged disk can. */
                        log_warning("State file line %u is truncated (no newline), ignoring it: \"%.80s\"", lineno, line);
                        skipped++;
                        break;
                }
                if (has_nul) {
                        log_warning("State file line %u contains a NUL byte, ignoring it", lineno);
                        skipped++;
                        continue;
                }
                if (line[0] == '#' || line[0] == 0)
                        continue;
                if (!header) {
                        if (!streq(line, STATE_HEADER)) {
                                log_warning("State file does not start with \"%s\" (line %u: \"%.80s\"): another "
                                            "version or damaged, ignoring all of it",
                                            STATE_HEADER, lineno, line);
                                state_done(&s);
                                *ret = (State) { .bad_header = true };
                                return skipped + 1;
                        }
                        header = true;
                        continue;
                }

                why = parse_record(&s, line);
                if (why) {
                        log_warning("State file line %u ignored: %s: \"%.80s\"", lineno, why, line);
                        skipped++;
                }
        }

        *ret = s;
        return skipped;
}

/* Whether dir/STATE_FILE_NAME is a regular file holding exactly `text`. */
static bool state_file_holds(const char *dir, const char *text, size_t len) {
        _cleanup_gfree_ char *path = g_build_filename(dir, STATE_FILE_NAME, NULL);
        _cleanup_gfree_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t got = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size != len)
                return false;
        buf = g_malloc(len + 1);
        while (got < len) {
                ssize_t n = read(fd, buf + got, len - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                got += (size_t) n;
        }
        return memcmp(buf, text, len) == 0;
}

int state_save(const char *dir, const State *s) {
        _cleanup_gfree_ char *text = NULL;
        size_t len;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        text = state_format(s, &len);
        /* Many saves change nothing (the second of the two saves of each
         * Monitor and Unmonitor, a SetInitialLimit to the same limit):
         * rewriting would cost two fsyncs on the main loop for nothing.
         * A file already holding these bytes was left by an earlier save
         * (fsynced, then renamed) or by whoever wrote it with memcgd
         * stopped: writing it again gains nothing either way. */
        if (state_file_holds(dir, text, len))
                return 0;
        return write_file_atomic(dir, STATE_FILE_NAME, text, len, 0600);
}

int state_load(const char *dir, State *ret) {
        _cleanup_gfree_ char *path = g_build_filename(dir, STATE_FILE_NAME, NULL);
        _cleanup_gfree_ char *buf = NULL;
        GError *err = NULL;
        gsize len;

        if (!g_file_get_contents(path, &buf, &len, &err)) {
                bool noent = g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
                g_error_free(err);
                if (noent) {
                        *ret = (State) {};
                        return 0;
                }
                return -EIO;
        }
        return state_parse(buf, len, ret);
}
