/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "memcgd/parse.h"

/* All parsers walk (buf, len) with explicit bounds: kernel files are read
 * into buffers that are not NUL-terminated, and a truncated read must be
 * reported, not run past. */

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Parses the decimal digits at buf[*i..end), at least one. */
static int parse_decimal(const char *buf, size_t end, size_t *i, uint64_t *ret) {
        uint64_t v = 0;
        size_t start = *i;

        while (*i < end && is_digit(buf[*i])) {
                unsigned d = (unsigned) (buf[*i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
                (*i)++;
        }
        if (*i == start)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_u64_value(const char *buf, size_t len, uint64_t *ret) {
        size_t i = 0;
        uint64_t v;
        int r;

        /* One optional trailing newline, nothing else around the value. */
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len == 3 && memcmp(buf, "max", 3) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        r = parse_decimal(buf, len, &i, &v);
        if (r < 0)
                return r;
        if (i != len)
                return -EINVAL;
        *ret = v;
        return 0;
}

size_t format_u64(char buf[static 21], uint64_t v) {
        char tmp[20];
        size_t n = 0;

        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        for (size_t i = 0; i < n; i++)
                buf[i] = tmp[n - 1 - i];
        buf[n] = '\0';
        return n;
}

/* Finds the line whose first word is exactly `key` and returns the offset
 * of the rest of the line (after one space) and its end. */
static int find_key(const char *buf, size_t len, const char *key, size_t *ret_start, size_t *ret_end) {
        size_t klen = strlen(key);
        size_t pos = 0;

        while (pos < len) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t eol = nl ? (size_t) (nl - buf) : len;

                if (eol - pos >= klen && memcmp(buf + pos, key, klen) == 0 &&
                    (eol - pos == klen || buf[pos + klen] == ' ')) {
                        /* The key alone on its line: present, no value. */
                        *ret_start = eol - pos == klen ? eol : pos + klen + 1;
                        *ret_end = eol;
                        return 0;
                }
                pos = eol + 1;
        }
        return -ENOENT;
}

/* The value of a keyed line: buf[start..end) is the rest of the line
 * found by find_key(). */
static int keyed_value(const char *buf, size_t len, size_t start, size_t end, uint64_t *ret) {
        size_t i = start;
        uint64_t v;
        int r;

        /* A last line without its newline may have been cut short by a
         * truncated read; the kernel always ends these files with \n. */
        if (end == len)
                return -EINVAL;
        r = parse_decimal(buf, end, &i, &v);
        if (r < 0)
                return r;
        if (i != end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_keyed_u64(const char *buf, size_t len, const char *key, uint64_t *ret) {
        size_t start, end;
        int r;

        r = find_key(buf, len, key, &start, &end);
        if (r < 0)
                return r;
        return keyed_value(buf, len, start, end, ret);
}

/* The keys of memory.events in the order their errors take precedence;
 * the first four are required. */
enum { EV_HIGH, EV_MAX, EV_OOM, EV_OOM_KILL, EV_LOW, EV_OOM_GROUP_KILL, EV_N_KEYS, EV_N_REQUIRED = EV_LOW };

/* Which key of memory.events the first word w[0..n) is, or -1. */
static int event_key(const char *w, size_t n) {
        switch (n) {
        case 3:
                if (memcmp(w, "max", 3) == 0)
                        return EV_MAX;
                if (memcmp(w, "oom", 3) == 0)
                        return EV_OOM;
                if (memcmp(w, "low", 3) == 0)
                        return EV_LOW;
                return -1;
        case 4:
                return memcmp(w, "high", 4) == 0 ? EV_HIGH : -1;
        case 8:
                return memcmp(w, "oom_kill", 8) == 0 ? EV_OOM_KILL : -1;
        case 14:
                return memcmp(w, "oom_group_kill", 14) == 0 ? EV_OOM_GROUP_KILL : -1;
        default:
                return -1;
        }
}

/* One pass over the lines (this runs at every kernel event a worker
 * sees), with the result parse_keyed_u64() would give for each key: its
 * first line decides. */
int parse_memory_events(const char *buf, size_t len, MemoryEvents *ret) {
        uint64_t v[EV_N_KEYS] = {};
        int res[EV_N_KEYS];
        unsigned seen = 0;

        for (size_t pos = 0; pos < len && seen != (1u << EV_N_KEYS) - 1;) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t eol = nl ? (size_t) (nl - buf) : len;
                const char *sp = memchr(buf + pos, ' ', eol - pos);
                size_t wend = sp ? (size_t) (sp - buf) : eol;
                int k = event_key(buf + pos, wend - pos);

                if (k >= 0 && !(seen & (1u << k))) {
                        seen |= 1u << k;
                        /* The key alone on its line: present, no value. */
                        res[k] = keyed_value(buf, len, wend == eol ? eol : wend + 1, eol, &v[k]);
                }
                pos = eol + 1;
        }
        for (int k = 0; k < EV_N_KEYS; k++) {
                if (!(seen & (1u << k))) {
                        if (k < EV_N_REQUIRED)
                                return -ENOENT;
                        continue;
                }
                if (res[k] < 0)
                        return res[k];
        }
        *ret = (MemoryEvents) {
                .high = v[EV_HIGH],
                .max = v[EV_MAX],
                .oom = v[EV_OOM],
                .oom_kill = v[EV_OOM_KILL],
                .low = v[EV_LOW],
                .oom_group_kill = v[EV_OOM_GROUP_KILL],
        };
        return 0;
}

static int parse_bool01(const char *buf, size_t len, const char *key, bool *ret) {
        uint64_t v;
        int r = parse_keyed_u64(buf, len, key, &v);
        if (r < 0)
                return r;
        if (v > 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_oom_control(const char *buf, size_t len, OomControl *ret) {
        OomControl o = {};
        int r;

        r = parse_bool01(buf, len, "oom_kill_disable", &o.oom_kill_disable);
        if (r < 0)
                return r;
        r = parse_bool01(buf, len, "under_oom", &o.under_oom);
        if (r < 0)
                return r;
        r = parse_keyed_u64(buf, len, "oom_kill", &o.oom_kill);
        if (r == 0)
                o.has_oom_kill = true;
        else if (r != -ENOENT)
                return r;
        *ret = o;
        return 0;
}

/* "name=12.34": a non-negative decimal with an optional fraction. */
static int parse_field_double(const char *buf, size_t end, size_t *i, const char *name, double *ret) {
        size_t nlen = strlen(name);
        uint64_t ip = 0, fp = 0;
        size_t fdigits = 0;
        int r;

        if (end - *i < nlen + 1 || memcmp(buf + *i, name, nlen) != 0 || buf[*i + nlen] != '=')
                return -EINVAL;
        *i += nlen + 1;
        r = parse_decimal(buf, end, i, &ip);
        if (r < 0)
                return r;
        if (*i < end && buf[*i] == '.') {
                (*i)++;
                size_t s = *i;
                while (*i < end && is_digit(buf[*i]) && *i - s < 18) {
                        fp = fp * 10 + (uint64_t) (buf[*i] - '0');
                        (*i)++;
                }
                fdigits = *i - s;
                if (fdigits == 0)
                        return -EINVAL;
                while (*i < end && is_digit(buf[*i]))
                        (*i)++;
        }
        *ret = (double) ip + (double) fp / pow(10.0, (double) fdigits);
        return 0;
}

static int expect_space(const char *buf, size_t end, size_t *i) {
        if (*i >= end || buf[*i] != ' ')
                return -EINVAL;
        (*i)++;
        return 0;
}

static int parse_pressure_line(const char *buf, size_t start, size_t end, PressureLine *ret) {
        PressureLine p = {};
        size_t i = start;
        int r;

        if ((r = parse_field_double(buf, end, &i, "avg10", &p.avg10)) < 0 ||
            (r = expect_space(buf, end, &i)) < 0 ||
            (r = parse_field_double(buf, end, &i, "avg60", &p.avg60)) < 0 ||
            (r = expect_space(buf, end, &i)) < 0 ||
            (r = parse_field_double(buf, end, &i, "avg300", &p.avg300)) < 0 ||
            (r = expect_space(buf, end, &i)) < 0)
                return r;
        if (end - i < 6 || memcmp(buf + i, "total=", 6) != 0)
                return -EINVAL;
        i += 6;
        r = parse_decimal(buf, end, &i, &p.total);
        if (r < 0)
                return r;
        if (i != end)
                return -EINVAL;
        *ret = p;
        return 0;
}

int parse_pressure(const char *buf, size_t len, Pressure *ret) {
        Pressure p = {};
        size_t start, end;
        int r;

        r = find_key(buf, len, "some", &start, &end);
        if (r < 0 || end == len)
                return -EINVAL;
        r = parse_pressure_line(buf, start, end, &p.some);
        if (r < 0)
                return r;
        r = find_key(buf, len, "full", &start, &end);
        if (r == 0) {
                if (end == len)
                        return -EINVAL;
                r = parse_pressure_line(buf, start, end, &p.full);
                if (r < 0)
                        return r;
                p.has_full = true;
        }
        *ret = p;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char c;
                unsigned shift;
        } suffixes[] = {
                { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 }, { 'E', 60 },
        };
        size_t len, i = 0;
        uint64_t ip, fp = 0, fscale = 1;
        bool fraction_too_long = false;
        unsigned shift = 0;
        int r;

        if (!s)
                return -EINVAL;
        if (strcmp(s, "infinity") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        len = strlen(s);
        r = parse_decimal(s, len, &i, &ip);
        if (r < 0)
                return r;
        if (i < len && s[i] == '.') {
                i++;
                size_t st = i;
                while (i < len && is_digit(s[i])) {
                        /* 18 digits fit the arithmetic exactly; more would
                         * be silently dropped (a byte off, or "1.000…1"
                         * bytes taken for 1): refused below, after an
                         * overflow of the whole has had its say. */
                        if (fscale > UINT64_C(100000000000000000))
                                fraction_too_long = true;
                        else {
                                fp = fp * 10 + (uint64_t) (s[i] - '0');
                                fscale *= 10;
                        }
                        i++;
                }
                if (i == st)
                        return -EINVAL;
        }
        if (i < len) {
                char c = s[i];
                if (c >= 'a' && c <= 'z')
                        c = (char) (c - 'a' + 'A');
                bool found = false;
                for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
                        if (suffixes[k].c == c) {
                                shift = suffixes[k].shift;
                                found = true;
                        }
                if (!found && c != 'B')
                        return -EINVAL;
                i++;
                if (found) {
                        if (i < len && s[i] == 'i')
                                i++;
                        if (i < len && s[i] == 'B')
                                i++;
                }
        }
        if (i != len)
                return -EINVAL;
        if (fp != 0 && shift == 0)
                return -EINVAL; /* "1.5" bytes means nothing */
        if (shift > 0 && ip > (UINT64_MAX >> shift))
                return -ERANGE;
        if (fraction_too_long)
                return -EINVAL;
        uint64_t v = ip << shift;
        if (fp != 0) {
                /* fp / fscale of one unit, rounded down to a byte. */
                unsigned __int128 frac = ((unsigned __int128) fp << shift) / fscale;
                if ((unsigned __int128) v + frac > UINT64_MAX)
                        return -ERANGE;
                v += (uint64_t) frac;
        }
        *ret = v;
        return 0;
}

int parse_size_or_percent(const char *s, uint64_t total, uint64_t *ret) {
        size_t len;

        if (!s)
                return -EINVAL;
        len = strlen(s);
        if (len > 0 && s[len - 1] == '%') {
                uint64_t p;
                size_t i = 0;
                int r = parse_decimal(s, len - 1, &i, &p);
                if (r < 0)
                        return r == -ERANGE ? -EINVAL : r;
                if (i != len - 1 || p == 0 || p > 100)
                        return -EINVAL;
                *ret = (uint64_t) (((unsigned __int128) total * p) / 100);
                return 0;
        }
        return parse_size(s, ret);
}

int parse_meminfo_total(const char *buf, size_t len, uint64_t *ret) {
        size_t start, end, i;
        uint64_t kb;
        int r;

        /* "MemTotal:       24598828 kB" */
        r = find_key(buf, len, "MemTotal:", &start, &end);
        if (r < 0)
                return r;
        i = start;
        while (i < end && buf[i] == ' ')
                i++;
        r = parse_decimal(buf, end, &i, &kb);
        if (r < 0)
                return r;
        if (end - i != 3 || memcmp(buf + i, " kB", 3) != 0)
                return -EINVAL;
        if (kb > UINT64_MAX / 1024)
                return -ERANGE;
        *ret = kb * 1024;
        return 0;
}
