/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers shared by the cmocka unit tests: assertions that print sizes in
 * decimal (cmocka's own print hex, which hides whether a value is off by a
 * byte or by a page) and a buffer with a guard page behind it, so that a
 * parser reading one byte past `len` dies with SIGSEGV instead of passing
 * by luck. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>

#define UT_MIB UINT64_C(1048576)

#define assert_u64_eq(got, want)                                                   \
        do {                                                                        \
                uint64_t _g = (got), _w = (want);                                   \
                if (_g != _w) {                                                     \
                        print_error("%s = %" PRIu64 " (%.6f MiB), expected %s = %"  \
                                    PRIu64 " (%.6f MiB)\n",                         \
                                    #got, _g, (double) _g / UT_MIB, #want, _w,      \
                                    (double) _w / UT_MIB);                          \
                        fail();                                                     \
                }                                                                   \
        } while (0)

/* lo <= got <= hi */
#define assert_u64_between(got, lo, hi)                                             \
        do {                                                                        \
                uint64_t _g = (got), _l = (lo), _h = (hi);                          \
                if (_g < _l || _g > _h) {                                           \
                        print_error("%s = %" PRIu64 ", expected within [%" PRIu64   \
                                    ", %" PRIu64 "]\n", #got, _g, _l, _h);          \
                        fail();                                                     \
                }                                                                   \
        } while (0)

#define assert_errno_eq(got, want)                                                  \
        do {                                                                        \
                int _g = (got), _w = (want);                                        \
                if (_g != _w) {                                                     \
                        print_error("%s returned %d (%s), expected %d (%s)\n",      \
                                    #got, _g, _g < 0 ? strerror(-_g) : "success",   \
                                    _w, _w < 0 ? strerror(-_w) : "success");        \
                        fail();                                                     \
                }                                                                   \
        } while (0)

/* A copy of `len` bytes of `s` that ends exactly at a PROT_NONE page. No
 * NUL follows it. Free with guarded_free(). */
typedef struct Guarded {
        void *map;
        size_t map_len;
        char *data;
} Guarded;

static inline Guarded guarded_copy(const char *s, size_t len) {
        long page = sysconf(_SC_PAGESIZE);
        size_t data_pages = (len + (size_t) page - 1) / (size_t) page;
        if (data_pages == 0)
                data_pages = 1;
        size_t map_len = (data_pages + 1) * (size_t) page;
        void *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(m != MAP_FAILED);
        char *guard = (char *) m + data_pages * (size_t) page;
        assert_int_equal(mprotect(guard, (size_t) page, PROT_NONE), 0);
        char *data = guard - len;
        memcpy(data, s, len);
        return (Guarded) { .map = m, .map_len = map_len, .data = data };
}

static inline void guarded_free(Guarded *g) {
        if (g->map)
                munmap(g->map, g->map_len);
        g->map = NULL;
}
