/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers of the D-Bus service layer: cleanup attributes, logging
 * to stderr, and file helpers. Nothing here knows about the engine or the
 * bus. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#ifndef ELEMENTSOF
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#endif

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void gfreep(void *p) {
        g_free(*(void **) p);
}
#define _cleanup_gfree_ _cleanup_(gfreep)

static inline void strv_freep(char ***p) {
        g_strfreev(*p);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Closes fd unless negative; keeps errno (a failed close during cleanup
 * must not clobber the error being returned). Returns -1. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -1;
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hands ownership out of a cleanup variable. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _p_ = (p);        \
                (p) = NULL;                     \
                _p_;                            \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -1;                      \
                _fd_;                           \
        })

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* ---- logging ------------------------------------------------------------
 * The engine's log.h (log_error(), log_warning()...), plus forms that
 * also return -abs(error), so that `return log_error_errno(r, ...)`
 * logs and fails in one statement. */

#include <stdlib.h>

#include "log.h"

#ifndef log_error_errno
#define log_full_errno(level, error, ...)                       \
        ({                                                      \
                int _e_ = (error);                              \
                log_full(level, __VA_ARGS__);                   \
                _e_ > 0 ? -_e_ : _e_;                           \
        })
#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
#endif

/* ---- files ---------------------------------------------------------------- */

/* Creates `path` and its parents with `mode` (existing ones are fine).
 * 0 or negative errno. */
int mkdir_p(const char *path, unsigned mode);

/* Writes `len` bytes of `data` to `dir`/`name` atomically: a temporary
 * file in the same directory, fsync, rename over `name`, fsync of the
 * directory. Either the old or the new content survives a crash, never a
 * mixture. 0 or negative errno. */
int write_file_atomic(const char *dir, const char *name, const char *data, size_t len, unsigned mode);

/* Parses a duration: a number with an optional unit ("us", "ms", "s",
 * "min", "h"; no unit = seconds), e.g. "1s", "200ms", "1.5s". 0 and
 * *ret in microseconds, or -EINVAL / -ERANGE. */
int parse_duration_usec(const char *s, uint64_t *ret);
