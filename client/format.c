/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"

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

char *flatten_line(char *s) {
        for (char *p = s; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';
        return s;
}
