/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers of kernel files (include/memcgd/parse.h) on arbitrary bytes.
 *
 * The first input byte picks the parser (low 3 bits: 0 a single value,
 * 1 one key of a "key value" file, 2 memory.events, 3 memory.oom_control,
 * 4 a PSI pressure file, 5 /proc/meminfo, 6 and 7 all of them) and, for
 * 1, the key (the other bits); the rest is the file. Each parser gets a
 * copy that ends exactly at len (an overread is an ASan report, or a
 * SIGSEGV on the guard page in the replay), and its output is filled with
 * a pattern first: on error the pattern must still be there.
 *
 * Beyond "does not crash", every result is compared with a reference
 * parser written here from the contract in parse.h, in a different way
 * (segments first, then the value; overflow judged on the digit string,
 * not by arithmetic): same success, same value, same error class. */

#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "memcgd/parse.h"

#define PATTERN 0xa5

static bool untouched(const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++)
                if (c[i] != PATTERN)
                        return false;
        return true;
}

/* ---- reference ------------------------------------------------------ */

typedef enum RefState {
        REF_OK,
        REF_ABSENT,   /* -ENOENT */
        REF_BAD,      /* -EINVAL */
        REF_OVERFLOW, /* -ERANGE */
} RefState;

static int ref_errno(RefState s) {
        switch (s) {
        case REF_OK:
                return 0;
        case REF_ABSENT:
                return -ENOENT;
        case REF_OVERFLOW:
                return -ERANGE;
        default:
                return -EINVAL;
        }
}

/* The decimal digit string s[0..n) as a u64: REF_OVERFLOW when it does
 * not fit, judged by comparing the digits with UINT64_MAX's. */
static RefState ref_digits(const char *s, size_t n, uint64_t *ret) {
        static const char umax[] = "18446744073709551615";
        size_t z = 0;

        while (z < n && s[z] == '0')
                z++;
        if (n - z > 20 || (n - z == 20 && memcmp(s + z, umax, 20) > 0))
                return REF_OVERFLOW;
        uint64_t v = 0;
        for (size_t i = z; i < n; i++)
                v = v * 10 + (uint64_t) (s[i] - '0');
        *ret = v;
        return REF_OK;
}

static size_t digit_run(const char *s, size_t n) {
        size_t i = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
        return i;
}

/* A value field: only digits, at least one. A run of digits that does not
 * fit is an overflow even when junk follows (the parsers read the number
 * before they look further). */
static RefState ref_number(const char *s, size_t n, uint64_t *ret) {
        size_t d = digit_run(s, n);
        uint64_t v;

        if (d == 0)
                return REF_BAD;
        if (ref_digits(s, d, &v) == REF_OVERFLOW)
                return REF_OVERFLOW;
        if (d != n)
                return REF_BAD;
        *ret = v;
        return REF_OK;
}

/* The first line whose first word is key: its value part (after the key
 * and one space; empty when the key is alone) and whether '\n' ends it. */
typedef struct RefLine {
        const char *value;
        size_t value_len;
        bool terminated;
} RefLine;

static bool ref_find(const char *buf, size_t len, const char *key, RefLine *ret) {
        size_t klen = strlen(key);
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *e = nl ? nl : end;
                size_t l = (size_t) (e - p);

                if (l >= klen && memcmp(p, key, klen) == 0 && (l == klen || p[klen] == ' ')) {
                        ret->value = l == klen ? e : p + klen + 1;
                        ret->value_len = l == klen ? 0 : l - klen - 1;
                        ret->terminated = nl != NULL;
                        return true;
                }
                p = e + 1;
        }
        return false;
}

static RefState ref_keyed(const char *buf, size_t len, const char *key, uint64_t *ret) {
        RefLine l;

        if (!ref_find(buf, len, key, &l))
                return REF_ABSENT;
        if (!l.terminated)
                return REF_BAD;
        return ref_number(l.value, l.value_len, ret);
}

/* ---- checks --------------------------------------------------------- */

static void check_u64_value(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, false);
        uint64_t v, want = 0;
        RefState s;
        int r;

        memset(&v, PATTERN, sizeof(v));
        r = parse_u64_value(b.data, size, &v);

        size_t n = size > 0 && data[size - 1] == '\n' ? size - 1 : size;
        if (n == 3 && memcmp(data, "max", 3) == 0) {
                s = REF_OK;
                want = UINT64_MAX;
        } else
                s = ref_number((const char *) data, n, &want);

        FUZZ_CHECK(r == ref_errno(s), "parse_u64_value(\"%s\") = %d, expected %d", fuzz_esc(data, size), r,
                   ref_errno(s));
        if (r == 0)
                FUZZ_CHECK(v == want, "parse_u64_value(\"%s\") gave %" PRIu64 ", expected %" PRIu64,
                           fuzz_esc(data, size), v, want);
        else
                FUZZ_CHECK(untouched(&v, sizeof(v)), "parse_u64_value(\"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), r);
        fuzz_free(&b);
}

static void check_keyed(const uint8_t *data, size_t size, const char *key) {
        FuzzBuf b = fuzz_copy(data, size, false);
        uint64_t v, want = 0;
        RefState s;
        int r;

        memset(&v, PATTERN, sizeof(v));
        r = parse_keyed_u64(b.data, size, key, &v);
        s = ref_keyed((const char *) data, size, key, &want);

        FUZZ_CHECK(r == ref_errno(s), "parse_keyed_u64(\"%s\", \"%s\") = %d, expected %d", fuzz_esc(data, size),
                   key, r, ref_errno(s));
        if (r == 0)
                FUZZ_CHECK(v == want, "parse_keyed_u64(\"%s\", \"%s\") gave %" PRIu64 ", expected %" PRIu64,
                           fuzz_esc(data, size), key, v, want);
        else
                FUZZ_CHECK(untouched(&v, sizeof(v)), "parse_keyed_u64(\"%s\", \"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), key, r);
        fuzz_free(&b);
}

static void check_memory_events(const uint8_t *data, size_t size) {
        static const char *const keys[] = { "high", "max", "oom", "oom_kill", "low", "oom_group_kill" };
        FuzzBuf b = fuzz_copy(data, size, false);
        MemoryEvents e;
        uint64_t want[6] = {};
        int r, expect = 0;

        memset(&e, PATTERN, sizeof(e));
        r = parse_memory_events(b.data, size, &e);

        /* The required keys, then the optional ones; the first failing
         * one decides the error. */
        for (size_t k = 0; k < 6 && expect == 0; k++) {
                RefState s = ref_keyed((const char *) data, size, keys[k], &want[k]);
                if (s == REF_ABSENT && k >= 4) {
                        want[k] = 0;
                        continue;
                }
                expect = ref_errno(s);
        }

        FUZZ_CHECK(r == expect, "parse_memory_events(\"%s\") = %d, expected %d", fuzz_esc(data, size), r, expect);
        if (r == 0) {
                const uint64_t got[6] = { e.high, e.max, e.oom, e.oom_kill, e.low, e.oom_group_kill };
                for (size_t k = 0; k < 6; k++)
                        FUZZ_CHECK(got[k] == want[k], "parse_memory_events(\"%s\"): %s = %" PRIu64 ", expected %" PRIu64,
                                   fuzz_esc(data, size), keys[k], got[k], want[k]);
        } else
                FUZZ_CHECK(untouched(&e, sizeof(e)), "parse_memory_events(\"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), r);
        fuzz_free(&b);
}

static void check_oom_control(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, false);
        OomControl o;
        uint64_t disable = 0, under = 0, kills = 0;
        RefState s;
        bool has_kills = false;
        int r, expect = 0;

        memset(&o, PATTERN, sizeof(o));
        r = parse_oom_control(b.data, size, &o);

        s = ref_keyed((const char *) data, size, "oom_kill_disable", &disable);
        expect = s == REF_OK && disable > 1 ? -EINVAL : ref_errno(s);
        if (expect == 0) {
                s = ref_keyed((const char *) data, size, "under_oom", &under);
                expect = s == REF_OK && under > 1 ? -EINVAL : ref_errno(s);
        }
        if (expect == 0) {
                s = ref_keyed((const char *) data, size, "oom_kill", &kills);
                has_kills = s == REF_OK;
                expect = s == REF_ABSENT ? 0 : ref_errno(s);
        }

        FUZZ_CHECK(r == expect, "parse_oom_control(\"%s\") = %d, expected %d", fuzz_esc(data, size), r, expect);
        if (r == 0) {
                FUZZ_CHECK(o.oom_kill_disable == (disable == 1) && o.under_oom == (under == 1) &&
                                   o.has_oom_kill == has_kills && (!has_kills || o.oom_kill == kills),
                           "parse_oom_control(\"%s\") gave disable=%d under=%d has=%d kills=%" PRIu64
                           ", expected %" PRIu64 " %" PRIu64 " %d %" PRIu64,
                           fuzz_esc(data, size), o.oom_kill_disable, o.under_oom, o.has_oom_kill, o.oom_kill,
                           disable, under, has_kills, kills);
        } else
                FUZZ_CHECK(untouched(&o, sizeof(o)), "parse_oom_control(\"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), r);
        fuzz_free(&b);
}

/* "name=" then digits with an optional '.' and at least one more digit,
 * valued by strtod() (correctly rounded; the parser may differ in the
 * last bits). */
static bool ref_avg(const char **p, const char *end, const char *name, double *ret) {
        size_t nl = strlen(name);
        const char *s = *p;
        char tmp[64];

        if ((size_t) (end - s) < nl + 1 || memcmp(s, name, nl) != 0 || s[nl] != '=')
                return false;
        s += nl + 1;
        size_t d = digit_run(s, (size_t) (end - s));
        uint64_t ip;
        if (d == 0 || ref_digits(s, d, &ip) != REF_OK)
                return false;
        /* Leading zeros dropped, so that what is copied below starts with
         * the significant digits (at most 20 of them before the '.'). */
        const char *num = s;
        while (num < s + d - 1 && *num == '0')
                num++;
        s += d;
        if (s < end && *s == '.') {
                s++;
                size_t f = digit_run(s, (size_t) (end - s));
                if (f == 0)
                        return false;
                s += f;
        }
        /* Enough digits for a double; the rest cannot change it by more
         * than the tolerance of the comparison. */
        size_t n = (size_t) (s - num) < sizeof(tmp) - 1 ? (size_t) (s - num) : sizeof(tmp) - 1;
        memcpy(tmp, num, n);
        tmp[n] = '\0';
        *ret = strtod(tmp, NULL);
        *p = s;
        return true;
}

static bool ref_pressure_line(const RefLine *l, PressureLine *ret) {
        const char *p = l->value, *end = l->value + l->value_len;

        if (!ref_avg(&p, end, "avg10", &ret->avg10) || p >= end || *p++ != ' ' ||
            !ref_avg(&p, end, "avg60", &ret->avg60) || p >= end || *p++ != ' ' ||
            !ref_avg(&p, end, "avg300", &ret->avg300) || p >= end || *p++ != ' ')
                return false;
        if (end - p < 6 || memcmp(p, "total=", 6) != 0)
                return false;
        p += 6;
        return ref_number(p, (size_t) (end - p), &ret->total) == REF_OK;
}

static bool close_enough(double a, double b) {
        return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b));
}

static void check_pressure_line(const uint8_t *data, size_t size, const char *which, const PressureLine *got,
                                const PressureLine *want) {
        FUZZ_CHECK(close_enough(got->avg10, want->avg10) && close_enough(got->avg60, want->avg60) &&
                           close_enough(got->avg300, want->avg300) && got->total == want->total,
                   "parse_pressure(\"%s\"): %s = %g %g %g %" PRIu64 ", expected %g %g %g %" PRIu64,
                   fuzz_esc(data, size), which, got->avg10, got->avg60, got->avg300, got->total, want->avg10,
                   want->avg60, want->avg300, want->total);
        FUZZ_CHECK(got->avg10 >= 0 && got->avg60 >= 0 && got->avg300 >= 0 && isfinite(got->avg10) &&
                           isfinite(got->avg60) && isfinite(got->avg300),
                   "parse_pressure(\"%s\"): %s has a negative or infinite average", fuzz_esc(data, size), which);
}

static void check_pressure(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, false);
        Pressure p;
        PressureLine some = {}, full = {};
        RefLine l;
        bool ok, has_full = false;
        int r;

        memset(&p, PATTERN, sizeof(p));
        r = parse_pressure(b.data, size, &p);

        ok = ref_find((const char *) data, size, "some", &l) && l.terminated && ref_pressure_line(&l, &some);
        if (ok && ref_find((const char *) data, size, "full", &l)) {
                has_full = true;
                ok = l.terminated && ref_pressure_line(&l, &full);
        }

        FUZZ_CHECK((r == 0) == ok, "parse_pressure(\"%s\") = %d, expected %s", fuzz_esc(data, size), r,
                   ok ? "success" : "an error");
        if (r == 0) {
                FUZZ_CHECK(p.has_full == has_full, "parse_pressure(\"%s\"): has_full = %d, expected %d",
                           fuzz_esc(data, size), p.has_full, has_full);
                check_pressure_line(data, size, "some", &p.some, &some);
                if (has_full)
                        check_pressure_line(data, size, "full", &p.full, &full);
        } else {
                FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "parse_pressure(\"%s\") = %d, not -EINVAL or -ERANGE",
                           fuzz_esc(data, size), r);
                FUZZ_CHECK(untouched(&p, sizeof(p)), "parse_pressure(\"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), r);
        }
        fuzz_free(&b);
}

static void check_meminfo(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, false);
        uint64_t v, kb = 0, want = 0;
        RefState s = REF_ABSENT;
        RefLine l;
        int r;

        memset(&v, PATTERN, sizeof(v));
        r = parse_meminfo_total(b.data, size, &v);

        /* "MemTotal:" spaces digits " kB"; the " kB" tells a cut line
         * from a whole one, so no '\n' is needed after it. */
        if (ref_find((const char *) data, size, "MemTotal:", &l)) {
                const char *p = l.value, *end = l.value + l.value_len;
                while (p < end && *p == ' ')
                        p++;
                size_t d = digit_run(p, (size_t) (end - p));
                if (d == 0)
                        s = REF_BAD;
                else if (ref_digits(p, d, &kb) != REF_OK)
                        s = REF_OVERFLOW;
                else if ((size_t) (end - p) - d != 3 || memcmp(p + d, " kB", 3) != 0)
                        s = REF_BAD;
                else if (kb > UINT64_MAX / 1024)
                        s = REF_OVERFLOW;
                else {
                        s = REF_OK;
                        want = kb * 1024;
                }
        }

        FUZZ_CHECK(r == ref_errno(s), "parse_meminfo_total(\"%s\") = %d, expected %d", fuzz_esc(data, size), r,
                   ref_errno(s));
        if (r == 0)
                FUZZ_CHECK(v == want, "parse_meminfo_total(\"%s\") gave %" PRIu64 ", expected %" PRIu64,
                           fuzz_esc(data, size), v, want);
        else
                FUZZ_CHECK(untouched(&v, sizeof(v)), "parse_meminfo_total(\"%s\") wrote its output on error %d",
                           fuzz_esc(data, size), r);
        fuzz_free(&b);
}

/* The keys memcgd asks for, and a few of memory.stat's and meminfo's. */
static const char *const keys[] = {
        "high", "max", "oom", "oom_kill", "low", "oom_group_kill", "oom_kill_disable", "under_oom",
        "cache", "rss", "kernel", "file", "anon", "populated", "frozen", "hierarchical_memory_limit",
        "total_rss", "sock", "shmem", "MemTotal:",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;

        uint8_t sel = data[0];
        const char *key = keys[(sel >> 3) % (sizeof(keys) / sizeof(keys[0]))];
        data++;
        size--;

        switch (sel & 7) {
        case 0:
                check_u64_value(data, size);
                break;
        case 1:
                check_keyed(data, size, key);
                break;
        case 2:
                check_memory_events(data, size);
                break;
        case 3:
                check_oom_control(data, size);
                break;
        case 4:
                check_pressure(data, size);
                break;
        case 5:
                check_meminfo(data, size);
                break;
        default:
                check_u64_value(data, size);
                check_keyed(data, size, key);
                check_memory_events(data, size);
                check_oom_control(data, size);
                check_pressure(data, size);
                check_meminfo(data, size);
                break;
        }
        return 0;
}
