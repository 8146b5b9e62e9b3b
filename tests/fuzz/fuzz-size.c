/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parse_size() and parse_size_or_percent() (include/memcgd/parse.h).
 *
 * 1. The input as a string: the result must equal a reference parser
 *    written here, whose value is computed exactly (the fraction is
 *    multiplied by 2^shift digit by digit, in decimal, so no digit is
 *    dropped) and rounded down to a byte; a fraction of a byte without a
 *    unit ("1.5", "1.5B") is refused. A fraction of more than 18 digits
 *    may be refused; if it is accepted, its value must still be exact.
 * 2. Round trips of a u64 taken from the first input bytes, in every
 *    spelling the parser accepts: "%llu" and "%llu<unit>" (or -ERANGE
 *    when the unit pushes it past 2^64), the value written exactly as a
 *    decimal fraction of each unit ("1.5K" is 1536 bytes) when that takes
 *    at most 18 digits (longer ones are the reference check's), and "p%"
 *    of a total. */

#include <errno.h>

#include "fuzz.h"
#include "memcgd/parse.h"

#define PATTERN 0xa5
/* The longest fraction the parser must take; longer ones it may refuse. */
#define FRACTION_DIGITS_REQUIRED 18

static const char units[] = "KMGTPE";

typedef enum RefState {
        REF_OK,
        REF_BAD,      /* -EINVAL */
        REF_OVERFLOW, /* -ERANGE */
} RefState;

typedef struct RefSize {
        RefState state;
        uint64_t value;
        size_t fraction_digits;
} RefSize;

static int ref_errno(RefState s) {
        return s == REF_OK ? 0 : s == REF_OVERFLOW ? -ERANGE : -EINVAL;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Digits s[0..n) as a u64; false when they do not fit. */
static bool ref_digits(const char *s, size_t n, uint64_t *ret) {
        static const char umax[] = "18446744073709551615";
        size_t z = 0;

        while (z < n && s[z] == '0')
                z++;
        if (n - z > 20 || (n - z == 20 && memcmp(s + z, umax, 20) > 0))
                return false;
        uint64_t v = 0;
        for (size_t i = z; i < n; i++)
                v = v * 10 + (uint64_t) (s[i] - '0');
        *ret = v;
        return true;
}

/* floor(0.d[0]d[1]... * 2^shift), exactly: double the decimal fraction
 * shift times, collecting what carries out of it. */
static uint64_t fraction_times_pow2(const char *d, size_t n, unsigned shift) {
        unsigned char *digits = malloc(n ? n : 1);
        uint64_t whole = 0;

        FUZZ_CHECK(digits, "out of memory");
        for (size_t i = 0; i < n; i++)
                digits[i] = (unsigned char) (d[i] - '0');
        for (unsigned k = 0; k < shift; k++) {
                unsigned carry = 0;
                for (size_t i = n; i-- > 0;) {
                        unsigned x = digits[i] * 2u + carry;
                        digits[i] = (unsigned char) (x % 10);
                        carry = x / 10;
                }
                whole = whole * 2 + carry;
        }
        free(digits);
        return whole;
}

/* The grammar as parse.h states it, with the lenient spellings the parser
 * has always taken: a lower-case unit, "Ki" without "B", "b" for "B". */
static RefSize ref_size(const char *s) {
        size_t len = strlen(s), i, fstart = 0, flen = 0;
        unsigned shift = 0;
        uint64_t ip;
        bool unit = false, nonzero_fraction = false;

        if (strcmp(s, "infinity") == 0)
                return (RefSize) { REF_OK, UINT64_MAX, 0 };
        for (i = 0; i < len && is_digit(s[i]); i++)
                ;
        if (i == 0)
                return (RefSize) { REF_BAD, 0, 0 };
        if (!ref_digits(s, i, &ip))
                return (RefSize) { REF_OVERFLOW, 0, 0 };
        if (i < len && s[i] == '.') {
                fstart = ++i;
                for (; i < len && is_digit(s[i]); i++)
                        nonzero_fraction |= s[i] != '0';
                flen = i - fstart;
                if (flen == 0)
                        return (RefSize) { REF_BAD, 0, 0 };
        }
        if (i < len) {
                const char *u = memchr(units, s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i], 6);
                if (u) {
                        unit = true;
                        shift = 10 * (unsigned) (u - units + 1);
                        i++;
                        if (i < len && s[i] == 'i')
                                i++;
                        if (i < len && s[i] == 'B')
                                i++;
                } else if (s[i] == 'B' || s[i] == 'b')
                        i++;
                else
                        return (RefSize) { REF_BAD, 0, flen };
        }
        if (i != len)
                return (RefSize) { REF_BAD, 0, flen };
        if (nonzero_fraction && !unit)
                return (RefSize) { REF_BAD, 0, flen }; /* a fraction of a byte */
        if (shift > 0 && ip > UINT64_MAX >> shift)
                return (RefSize) { REF_OVERFLOW, 0, flen };
        uint64_t v = ip << shift;
        uint64_t f = fraction_times_pow2(s + fstart, flen, shift);
        if (f > UINT64_MAX - v)
                return (RefSize) { REF_OVERFLOW, 0, flen };
        return (RefSize) { REF_OK, v + f, flen };
}

static void check_size_string(const char *s) {
        RefSize want = ref_size(s);
        uint64_t v;
        int r;

        memset(&v, PATTERN, sizeof(v));
        r = parse_size(s, &v);
        if (r == -EINVAL && want.state == REF_OK && want.fraction_digits > FRACTION_DIGITS_REQUIRED)
                want.state = REF_BAD; /* allowed to refuse */
        FUZZ_CHECK(r == ref_errno(want.state), "parse_size(\"%s\") = %d, expected %d (%" PRIu64 ")",
                   fuzz_esc(s, strlen(s)), r, ref_errno(want.state), want.value);
        if (r == 0)
                FUZZ_CHECK(v == want.value, "parse_size(\"%s\") gave %" PRIu64 ", expected %" PRIu64,
                           fuzz_esc(s, strlen(s)), v, want.value);
        else
                FUZZ_CHECK(v == UINT64_C(0xa5a5a5a5a5a5a5a5), "parse_size(\"%s\") wrote its output on error %d",
                           fuzz_esc(s, strlen(s)), r);
}

static void check_percent_string(const char *s, uint64_t total) {
        size_t len = strlen(s);
        uint64_t v, want = 0;
        bool lenient = false;
        int r, expect;

        if (len > 0 && s[len - 1] == '%') {
                uint64_t p;
                size_t d = 0;
                while (d < len - 1 && is_digit(s[d]))
                        d++;
                if (d == 0 || d != len - 1 || !ref_digits(s, d, &p) || p == 0 || p > 100)
                        expect = -EINVAL;
                else {
                        expect = 0;
                        /* floor(total * p / 100) without a 128-bit product. */
                        want = total / 100 * p + total % 100 * p / 100;
                }
        } else {
                RefSize rs = ref_size(s);
                expect = ref_errno(rs.state);
                want = rs.value;
                lenient = rs.state == REF_OK && rs.fraction_digits > FRACTION_DIGITS_REQUIRED;
        }

        memset(&v, PATTERN, sizeof(v));
        r = parse_size_or_percent(s, total, &v);
        if (r == -EINVAL && lenient)
                expect = -EINVAL; /* allowed to refuse */
        FUZZ_CHECK(r == expect, "parse_size_or_percent(\"%s\", %" PRIu64 ") = %d, expected %d",
                   fuzz_esc(s, len), total, r, expect);
        if (r == 0)
                FUZZ_CHECK(v == want, "parse_size_or_percent(\"%s\", %" PRIu64 ") gave %" PRIu64 ", expected %" PRIu64,
                           fuzz_esc(s, len), total, v, want);
        else
                FUZZ_CHECK(v == UINT64_C(0xa5a5a5a5a5a5a5a5),
                           "parse_size_or_percent(\"%s\", %" PRIu64 ") wrote its output on error %d",
                           fuzz_esc(s, len), total, r);
}

/* Parses what was printed; it must give `want` (ok) or `err`. */
static void expect_parse(const char *s, bool ok, uint64_t want, int err) {
        uint64_t v = 0;
        int r = parse_size(s, &v);

        if (ok)
                FUZZ_CHECK(r == 0 && v == want, "parse_size(\"%s\") = %d, %" PRIu64 "; printed from %" PRIu64, s, r,
                           v, want);
        else
                FUZZ_CHECK(r == err, "parse_size(\"%s\") = %d, expected %d", s, r, err);
}

static void check_round_trips(uint64_t v, uint64_t total) {
        static const char *const spellings[] = { "", "iB", "B", "i" };
        char s[128];

        snprintf(s, sizeof(s), "%" PRIu64, v);
        expect_parse(s, true, v, 0);
        snprintf(s, sizeof(s), "%" PRIu64 "B", v);
        expect_parse(s, true, v, 0);

        for (unsigned u = 0; u < 6; u++) {
                unsigned shift = 10 * (u + 1);
                for (unsigned sp = 0; sp < 4; sp++)
                        for (int lower = 0; lower < 2; lower++) {
                                char unit = (char) (lower ? units[u] - 'A' + 'a' : units[u]);

                                /* A whole number of units. */
                                snprintf(s, sizeof(s), "%" PRIu64 "%c%s", v, unit, spellings[sp]);
                                expect_parse(s, v <= UINT64_MAX >> shift, v << shift, -ERANGE);

                                /* v bytes, exactly, as a decimal fraction of
                                 * the unit: r / 2^shift has a finite decimal
                                 * expansion of at most `shift` digits. */
                                uint64_t q = v >> shift, rem = v & ((UINT64_C(1) << shift) - 1);
                                if (rem == 0)
                                        continue;
                                int n = snprintf(s, sizeof(s), "%" PRIu64 ".", q);
                                size_t digits = 0;
                                while (rem != 0) {
                                        rem *= 10; /* rem < 2^60: no overflow */
                                        s[n++] = (char) ('0' + (rem >> shift));
                                        rem &= (UINT64_C(1) << shift) - 1;
                                        digits++;
                                }
                                if (digits > FRACTION_DIGITS_REQUIRED)
                                        continue; /* left to the reference check */
                                snprintf(s + n, sizeof(s) - (size_t) n, "%c%s", unit, spellings[sp]);
                                uint64_t got = 0;
                                int r = parse_size(s, &got);
                                FUZZ_CHECK(r == 0 && got == v,
                                           "parse_size(\"%s\") = %d, %" PRIu64 "; it is exactly %" PRIu64 " bytes", s,
                                           r, got, v);
                        }
        }

        /* p% of a total. */
        unsigned p = (unsigned) (v % 100) + 1;
        uint64_t got = 0;
        snprintf(s, sizeof(s), "%u%%", p);
        int r = parse_size_or_percent(s, total, &got);
        uint64_t want = (uint64_t) ((unsigned __int128) total * p / 100);
        FUZZ_CHECK(r == 0 && got == want, "parse_size_or_percent(\"%s\", %" PRIu64 ") = %d, %" PRIu64 ", expected %" PRIu64,
                   s, total, r, got, want);
        FUZZ_CHECK(want <= total, "%u%% of %" PRIu64 " is more than the total", p, total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint64_t totals[] = { 0, 1, 99, 100, 101, UINT64_C(25189199872), UINT64_MAX / 100,
                                           UINT64_MAX };
        FuzzBuf b = fuzz_copy(data, size, true);
        FuzzReader rd = { data, size };

        check_size_string(b.data);
        for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
                check_percent_string(b.data, totals[i]);
        uint64_t v = fuzz_u64(&rd);
        check_round_trips(v, fuzz_u64(&rd));
        check_round_trips(v >> (fuzz_u8(&rd) % 64), totals[v % (sizeof(totals) / sizeof(totals[0]))]);
        fuzz_free(&b);
        return 0;
}
