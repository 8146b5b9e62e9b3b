/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "memcgd/utf8.h"

const char *format_bytes(char buf[static FORMAT_BYTES_MAX], uint64_t v) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = {
                { 'E', 60 }, { 'P', 50 }, { 'T', 40 }, { 'G', 30 }, { 'M', 20 }, { 'K', 10 },
        };

        if (v >= FORMAT_BYTES_INFINITY_FROM) {
                snprintf(buf, FORMAT_BYTES_MAX, "infinity");
                return buf;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                uint64_t factor = UINT64_C(1) << units[i].shift;
                if (v >= factor) {
                        /* (v % factor) < 2^60, times 10 fits in 64 bits. */
                        snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 ".%" PRIu64 "%c", v / factor,
                                 (v % factor) * 10 / factor, units[i].suffix);
                        return buf;
                }
        }
        snprintf(buf, FORMAT_BYTES_MAX, "%" PRIu64 "B", v);
        return buf;
}

const char *format_timespan(char buf[static FORMAT_TIMESPAN_MAX], uint64_t usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "d", UINT64_C(86400000000) },
                { "h", UINT64_C(3600000000) },
                { "min", UINT64_C(60000000) },
                { "s", UINT64_C(1000000) },
                { "ms", UINT64_C(1000) },
                { "us", UINT64_C(1) },
        };
        size_t used = 0;
        unsigned parts = 0;

        if (usec == 0) {
                snprintf(buf, FORMAT_TIMESPAN_MAX, "0");
                return buf;
        }
        buf[0] = '\0';
        /* From a second on, sub-second parts are noise; from a
         * millisecond on, microseconds are. */
        if (usec >= UINT64_C(1000000))
                usec -= usec % UINT64_C(1000000);
        else if (usec >= UINT64_C(1000))
                usec -= usec % UINT64_C(1000);
        /* Two parts at most ("2min 5s"): a person reading a countdown does
         * not want the microseconds. */
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && parts < 2; i++) {
                if (usec < units[i].usec) {
                        if (parts > 0)
                                break;
                        continue;
                }
                uint64_t n = usec / units[i].usec;
                usec %= units[i].usec;
                used += (size_t) snprintf(buf + used, FORMAT_TIMESPAN_MAX - used, "%s%" PRIu64 "%s",
                                          parts > 0 ? " " : "", n, units[i].suffix);
                parts++;
                if (usec == 0)
                        break;
        }
        return buf;
}

static bool local_tm(uint64_t realtime_usec, struct tm *ret) {
        time_t t = (time_t) (realtime_usec / 1000000);
        return localtime_r(&t, ret) != NULL;
}

const char *format_timestamp(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t realtime_usec) {
        struct tm tm;
        char s[40];

        if (!local_tm(realtime_usec, &tm) || strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &tm) == 0) {
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "@%" PRIu64, realtime_usec);
                return buf;
        }
        snprintf(buf, FORMAT_TIMESTAMP_MAX, "%s.%06u", s, (unsigned) (realtime_usec % 1000000));
        return buf;
}

const char *format_timestamp_iso(char buf[static FORMAT_TIMESTAMP_MAX], uint64_t realtime_usec) {
        struct tm tm;
        char s[40], z[8];

        if (!local_tm(realtime_usec, &tm) || strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
            strftime(z, sizeof z, "%z", &tm) != 5) {
                snprintf(buf, FORMAT_TIMESTAMP_MAX, "@%" PRIu64, realtime_usec);
                return buf;
        }
        /* strftime's %z is "+0100"; ISO 8601 extended form wants "+01:00". */
        snprintf(buf, FORMAT_TIMESTAMP_MAX, "%s.%06u%.3s:%.2s", s, (unsigned) (realtime_usec % 1000000), z,
                 z + 3);
        return buf;
}

const char *pressure_level_name(unsigned level) {
        switch (level) {
        case 0: return "none";
        case 50: return "low";
        case 100: return "medium";
        case 255: return "critical";
        default: return NULL;
        }
}

static bool is_control(uint32_t cp) {
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* The unit of text at s (not at its end): sets *ret_len to the bytes it
 * covers and returns whether they are written escaped. */
static bool text_unit(const unsigned char *s, size_t *ret_len) {
        uint32_t cp;
        /* Up to the NUL: a sequence cut short by it is not one. */
        size_t l = utf8_sequence(s, strnlen((const char *) s, 4), &cp);

        if (l == 0) {
                *ret_len = 1;
                return true;
        }
        *ret_len = l;
        return is_control(cp);
}

char *flatten_line(char *s) {
        for (unsigned char *p = (unsigned char *) s; p && *p;) {
                size_t l;
                bool esc = text_unit(p, &l);

                /* Bytes that are not UTF-8 stay: a message is only made
                 * one line here, fputs_escaped() makes it safe. */
                if (esc && !(l == 1 && *p >= 0x80))
                        memset(p, ' ', l);
                p += l;
        }
        return s;
}

void fputs_escaped(const char *s, FILE *f) {
        for (const unsigned char *p = (const unsigned char *) s; p && *p;) {
                size_t l;

                if (text_unit(p, &l))
                        for (size_t i = 0; i < l; i++)
                                fprintf(f, "\\x%02x", p[i]);
                else
                        fwrite(p, 1, l, f);
                p += l;
        }
}

char *escape_text(const char *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        fputs_escaped(s, f);
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* Characters that mean nothing to sh, bash or zsh anywhere in a word. */
static bool is_shell_safe(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("/._-+:@,%=", c) != NULL;
}

void fputs_shell_word(const char *s, FILE *f) {
        bool safe = s[0] != '\0', escapes = false;

        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t l;

                if (text_unit(p, &l))
                        escapes = true;
                if (!is_shell_safe(*p))
                        safe = false;
                p += l;
        }
        if (safe) {
                fputs(s, f);
                return;
        }
        if (!escapes) {
                fputc('\'', f);
                for (const char *p = s; *p; p++)
                        if (*p == '\'')
                                fputs("'\\''", f);
                        else
                                fputc(*p, f);
                fputc('\'', f);
                return;
        }
        /* bash, zsh and ksh read $'...' (POSIX sh since 2024). */
        fputs("$'", f);
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t l;

                if (text_unit(p, &l))
                        for (size_t i = 0; i < l; i++)
                                fprintf(f, "\\x%02x", p[i]);
                else if (*p == '\'' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else
                        fwrite(p, 1, l, f);
                p += l;
        }
        fputc('\'', f);
}
