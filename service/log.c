/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int log_max_level = LOG_INFO;

void log_internal(int level, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        if (level > __atomic_load_n(&log_max_level, __ATOMIC_RELAXED))
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        /* One fprintf per line: stdio locks the stream, so lines of
         * several threads never interleave. */
        fprintf(stderr, "<%d>memcgd: %s\n", level, buf);
}

int log_level_from_string(const char *s) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        char *end;
        long v;

        for (int i = 0; i < 8; i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        if (strcmp(s, "error") == 0)
                return LOG_ERR;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < 0 || v > 7)
                return -EINVAL;
        return (int) v;
}
