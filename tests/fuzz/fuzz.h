/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the fuzz targets: the libFuzzer entry point, a contract check
 * that names what broke before it aborts, an exact-length copy of the
 * input, and a reader that turns fuzz bytes into numbers.
 *
 * Each target is built twice: by tests/fuzz/run-fuzzers.sh with clang's
 * libFuzzer (-fsanitize=fuzzer,address,undefined), and by meson with
 * replay-main.c, which feeds it every file of its committed corpus as a
 * unit test. */

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a crash for libFuzzer (SIGABRT) and a failed test
 * for the replay: both show the message. */
#define FUZZ_CHECK(cond, ...)                                                       \
        do {                                                                        \
                if (!(cond)) {                                                      \
                        fprintf(stderr, "%s:%d: contract broken: %s\n  ", __FILE__, \
                                __LINE__, #cond);                                   \
                        fprintf(stderr, __VA_ARGS__);                               \
                        fputc('\n', stderr);                                        \
                        abort();                                                    \
                }                                                                   \
        } while (0)

#if defined(__SANITIZE_ADDRESS__)
#  define FUZZ_HAVE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define FUZZ_HAVE_ASAN 1
#  endif
#endif

/* A copy of the input that ends exactly where the input ends, so that
 * reading one byte past `len` is caught: under ASan a malloc'd buffer of
 * exactly len bytes (the redzone follows); without it (the replay in a
 * normal build) the bytes end at a PROT_NONE page, as the cmocka tests'
 * guarded_copy() does. With nul, one NUL byte follows the copy (for the
 * parsers that take a C string). */
typedef struct FuzzBuf {
        char *data;
        void *map;
        size_t map_len;
} FuzzBuf;

static inline FuzzBuf fuzz_copy(const uint8_t *s, size_t len, bool nul) {
        size_t n = len + (nul ? 1 : 0);
        FuzzBuf b = {};
#ifdef FUZZ_HAVE_ASAN
        b.data = malloc(n ? n : 1);
        FUZZ_CHECK(b.data, "out of memory");
#else
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        size_t data_pages = (n + page - 1) / page;
        if (data_pages == 0)
                data_pages = 1;
        b.map_len = (data_pages + 1) * page;
        b.map = mmap(NULL, b.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        FUZZ_CHECK(b.map != MAP_FAILED, "mmap failed");
        char *guard = (char *) b.map + data_pages * page;
        FUZZ_CHECK(mprotect(guard, page, PROT_NONE) == 0, "mprotect failed");
        b.data = guard - n;
#endif
        if (len > 0)
                memcpy(b.data, s, len);
        if (nul)
                b.data[len] = '\0';
        return b;
}

static inline void fuzz_free(FuzzBuf *b) {
        if (b->map)
                munmap(b->map, b->map_len);
        else
                free(b->data);
        *b = (FuzzBuf) {};
}

/* Reads numbers off the front of the input; zeros once it runs out (so
 * every input, however short, is a complete test case). */
typedef struct FuzzReader {
        const uint8_t *p;
        size_t left;
} FuzzReader;

static inline uint8_t fuzz_u8(FuzzReader *r) {
        if (r->left == 0)
                return 0;
        r->left--;
        return *r->p++;
}

static inline uint32_t fuzz_u32(FuzzReader *r) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
                v = v << 8 | fuzz_u8(r);
        return v;
}

static inline uint64_t fuzz_u64(FuzzReader *r) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | fuzz_u8(r);
        return v;
}

static inline double fuzz_double_bits(FuzzReader *r) {
        uint64_t v = fuzz_u64(r);
        double d;
        memcpy(&d, &v, sizeof(d));
        return d;
}

/* A printable rendering of a buffer for failure messages (one of four
 * static slots, so a message can show several). */
static inline const char *fuzz_esc(const void *p, size_t len) {
        static char out[4][1024];
        static unsigned slot;
        const unsigned char *s = p;
        char *o = out[slot++ % 4];
        size_t i, j = 0;

        for (i = 0; i < len && j < sizeof(out[0]) - 8; i++) {
                if (s[i] == '\n')
                        j += (size_t) snprintf(o + j, 8, "\\n");
                else if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
                        j += (size_t) snprintf(o + j, 8, "\\x%02x", s[i]);
                else
                        o[j++] = (char) s[i];
        }
        if (i < len)
                j += (size_t) snprintf(o + j, 8, "...");
        o[j] = '\0';
        return o;
}

/* ---- temporary directories (the targets that need files) -------------- */

static inline int fuzz_rm_one_(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

/* Removes a directory tree; NULL is fine. */
static inline void fuzz_remove_tree(const char *path) {
        if (path)
                (void) nftw(path, fuzz_rm_one_, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new directory "memcgd-fuzz-WHAT-PID-XXXXXX" (free() the name):
 * in $MEMCGD_FUZZ_TMPDIR, else /dev/shm (the service fsyncs its state
 * file on every change, which costs nothing on tmpfs), else $TMPDIR or
 * /tmp. A target removes it at exit; one that crashed cannot, so the
 * directories of processes that are gone are removed here first. */
static inline char *fuzz_make_tmp_dir(const char *what) {
        const char *base = getenv("MEMCGD_FUZZ_TMPDIR");
        char prefix[64], *path = NULL;
        struct stat st;
        DIR *d;

        if (!base)
                base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : getenv("TMPDIR") ?: "/tmp";
        snprintf(prefix, sizeof(prefix), "memcgd-fuzz-%s-", what);
        d = opendir(base);
        for (struct dirent *de; d && (de = readdir(d));) {
                char *end, *old;
                long pid;

                if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                errno = 0;
                pid = strtol(de->d_name + strlen(prefix), &end, 10);
                if (errno || *end != '-' || pid <= 0 || kill((pid_t) pid, 0) == 0 || errno != ESRCH)
                        continue; /* not ours, or its process lives */
                if (asprintf(&old, "%s/%s", base, de->d_name) > 0) {
                        fuzz_remove_tree(old);
                        free(old);
                }
        }
        if (d)
                closedir(d);
        FUZZ_CHECK(asprintf(&path, "%s/%s%d-XXXXXX", base, prefix, (int) getpid()) > 0, "out of memory");
        FUZZ_CHECK(mkdtemp(path), "mkdtemp(%s): %s", path, strerror(errno));
        return path;
}
