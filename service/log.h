/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Logging to stderr, one line a message, with the syslog level as a "<N>"
 * prefix that journald understands when stderr is the journal. */

#include <syslog.h>

extern int log_max_level; /* the only global: set from --log-level */

void log_internal(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "err", "warning", "info", "debug" or a number 0..7: the level, or -EINVAL. */
int log_level_from_string(const char *s);

/* The level is checked before the call: a disabled message costs neither
 * the call nor its arguments (a worker's debug line per reaction computed
 * its arguments and went through vsnprintf's entry for nothing). */
#define log_full(level, ...)                                                          \
        ({                                                                            \
                if ((level) <= __atomic_load_n(&log_max_level, __ATOMIC_RELAXED))     \
                        log_internal(level, __VA_ARGS__);                             \
        })

#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
