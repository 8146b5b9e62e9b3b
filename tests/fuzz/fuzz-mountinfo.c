/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parse_mountinfo_memory() (service/cgroup-path.h) on arbitrary bytes, in
 * a copy that ends exactly at len, against a reference written here from
 * proc(5)'s description of /proc/PID/mountinfo:
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 * fields separated by spaces, optional fields (7) ended by a lone "-", then
 * the filesystem type, the source and the super options. The memory
 * hierarchy is the first "cgroup" mount whose super options list "memory"
 * and whose root (4) is "/", else the first "cgroup2" mount with root "/";
 * the mount point (5) has its \ooo escapes undone and is cut to 4095
 * bytes. Like the parser, the reference looks at the first 32 fields of a
 * line only (the kernel writes at most a handful of optional fields). On
 * -ENOENT the output must be untouched. */

#include <errno.h>

#include "fuzz.h"
#include "cgroup-path.h"

#define PATTERN 0xa5
#define MAX_FIELDS 32

typedef struct RefMount {
        bool found;
        char path[4096];
} RefMount;

typedef struct Field {
        const char *s;
        size_t len;
} Field;

static bool field_is(Field f, const char *want) {
        return f.len == strlen(want) && memcmp(f.s, want, f.len) == 0;
}

static bool has_option(Field opts, const char *want) {
        size_t start = 0;
        for (size_t i = 0; i <= opts.len; i++)
                if (i == opts.len || opts.s[i] == ',') {
                        if (field_is((Field) { opts.s + start, i - start }, want))
                                return true;
                        start = i + 1;
                }
        return false;
}

/* \ooo (an octal byte value, at most 0377) is one byte; anything else,
 * including a lone '\', stands for itself. Cut to 4095 bytes + NUL. */
static void ref_unescape(Field f, char out[4096]) {
        size_t o = 0;
        for (size_t i = 0; i < f.len && o < 4095;) {
                unsigned v = 0;
                bool esc = f.s[i] == '\\' && f.len - i >= 4;
                for (size_t k = 1; esc && k <= 3; k++) {
                        esc = f.s[i + k] >= '0' && f.s[i + k] <= '7';
                        v = v * 8 + (unsigned) (f.s[i + k] - '0');
                }
                if (esc && v <= 0377) {
                        out[o++] = (char) v;
                        i += 4;
                } else
                        out[o++] = f.s[i++];
        }
        out[o] = '\0';
}

static void ref_line(const char *line, size_t len, RefMount *v1, RefMount *v2) {
        Field f[MAX_FIELDS];
        size_t n = 0, sep = 0;

        for (size_t i = 0; i < len && n < MAX_FIELDS;) {
                if (line[i] == ' ') {
                        i++;
                        continue;
                }
                size_t s = i;
                while (i < len && line[i] != ' ')
                        i++;
                f[n++] = (Field) { line + s, i - s };
        }
        for (size_t i = 6; i < n && !sep; i++)
                if (field_is(f[i], "-"))
                        sep = i;
        if (!sep || n < sep + 4 || !field_is(f[3], "/"))
                return;
        if (field_is(f[sep + 1], "cgroup") && has_option(f[sep + 3], "memory") && !v1->found) {
                ref_unescape(f[4], v1->path);
                v1->found = true;
        }
        if (field_is(f[sep + 1], "cgroup2") && !v2->found) {
                ref_unescape(f[4], v2->path);
                v2->found = true;
        }
}

/* The mount point the parser wrote: at most 4095 bytes then a NUL, equal
 * to the reference's (which may itself hold a NUL from "\000"). */
static bool same_path(const char got[4096], const char want[4096]) {
        return memchr(got, '\0', 4096) != NULL && strcmp(got, want) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, false);
        MountinfoMemory *m = malloc(sizeof(*m));
        RefMount *v1 = calloc(1, sizeof(*v1)), *v2 = calloc(1, sizeof(*v2));
        int r;

        FUZZ_CHECK(m && v1 && v2, "out of memory");
        memset(m, PATTERN, sizeof(*m));
        r = parse_mountinfo_memory(b.data, size, m);

        for (const char *p = (const char *) data, *end = p + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *e = nl ? nl : end;
                ref_line(p, (size_t) (e - p), v1, v2);
                p = e + 1;
        }

        if (!v1->found && !v2->found) {
                FUZZ_CHECK(r == -ENOENT, "parse_mountinfo_memory(\"%s\") = %d, expected -ENOENT",
                           fuzz_esc(data, size), r);
                for (size_t i = 0; i < sizeof(*m); i++)
                        FUZZ_CHECK(((unsigned char *) m)[i] == PATTERN,
                                   "parse_mountinfo_memory(\"%s\") wrote its output (byte %zu) on -ENOENT",
                                   fuzz_esc(data, size), i);
        } else {
                const RefMount *want = v1->found ? v1 : v2;
                FUZZ_CHECK(r == 0, "parse_mountinfo_memory(\"%s\") = %d, expected a %s mount at \"%s\"",
                           fuzz_esc(data, size), r, v1->found ? "v1" : "v2",
                           fuzz_esc(want->path, strlen(want->path)));
                FUZZ_CHECK(m->found && m->backend == (v1->found ? BACKEND_V1 : BACKEND_V2),
                           "parse_mountinfo_memory(\"%s\"): found=%d backend=%d, expected %s", fuzz_esc(data, size),
                           (int) m->found, (int) m->backend, v1->found ? "v1" : "v2");
                FUZZ_CHECK(same_path(m->path, want->path),
                           "parse_mountinfo_memory(\"%s\"): path \"%s\", expected \"%s\"", fuzz_esc(data, size),
                           fuzz_esc(m->path, strnlen(m->path, 4096)), fuzz_esc(want->path, strlen(want->path)));
                bool unified = v1->found && v2->found;
                FUZZ_CHECK(m->unified_found == unified, "parse_mountinfo_memory(\"%s\"): unified_found=%d, expected %d",
                           fuzz_esc(data, size), (int) m->unified_found, (int) unified);
                FUZZ_CHECK(same_path(m->unified_path, unified ? v2->path : ""),
                           "parse_mountinfo_memory(\"%s\"): unified path \"%s\", expected \"%s\"",
                           fuzz_esc(data, size), fuzz_esc(m->unified_path, strnlen(m->unified_path, 4096)),
                           unified ? fuzz_esc(v2->path, strlen(v2->path)) : "");
        }

        free(v2);
        free(v1);
        free(m);
        fuzz_free(&b);
        return 0;
}
