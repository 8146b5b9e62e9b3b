/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup_path_validate() and cgroup_path_render() on arbitrary bytes (the
 * whole input is the path; a NUL in it ends the C string, as on D-Bus it
 * cannot occur).
 *
 * validate: its verdict must equal the rules of DESIGN.md §2 (plus the
 * control characters engine.h adds) re-checked here independently, UTF-8
 * by the table of well-formed byte sequences of the Unicode standard
 * (§3.9, table 3-7) rather than by decoding; a refusal carries
 * InvalidPath and a message of printable ASCII (D-Bus error messages must
 * be valid UTF-8), with or without an error to fill.
 *
 * render: the output fits the buffer (allocated at its exact size), is
 * printable ASCII, decodes back to the first 96 bytes of the input
 * followed by "..." when there were more, and a smaller buffer gets a
 * prefix of it cut between two rendered bytes. */

#include <errno.h>

#include "fuzz.h"
#include "cgroup-path.h"

#define PATTERN 0xa5
#define RENDER_LIMIT 96

/* ---- the rules ------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if ill-formed. */
static size_t utf8_wellformed(const unsigned char *s, size_t n) {
        static const struct {
                unsigned char lo0, hi0, lo1, hi1;
                size_t len;
        } forms[] = {
                { 0x00, 0x7f, 0, 0, 1 },
                { 0xc2, 0xdf, 0x80, 0xbf, 2 },
                { 0xe0, 0xe0, 0xa0, 0xbf, 3 },
                { 0xe1, 0xec, 0x80, 0xbf, 3 },
                { 0xed, 0xed, 0x80, 0x9f, 3 },
                { 0xee, 0xef, 0x80, 0xbf, 3 },
                { 0xf0, 0xf0, 0x90, 0xbf, 4 },
                { 0xf1, 0xf3, 0x80, 0xbf, 4 },
                { 0xf4, 0xf4, 0x80, 0x8f, 4 },
        };

        for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
                if (s[0] < forms[f].lo0 || s[0] > forms[f].hi0)
                        continue;
                size_t len = forms[f].len;
                if (len == 1)
                        return 1;
                if (n < len || s[1] < forms[f].lo1 || s[1] > forms[f].hi1)
                        return 0;
                for (size_t i = 2; i < len; i++)
                        if (s[i] < 0x80 || s[i] > 0xbf)
                                return 0;
                return len;
        }
        return 0;
}

/* NULL when the path is valid, else which rule it breaks. */
static const char *rule_broken(const char *path) {
        size_t len = strlen(path);
        const unsigned char *u = (const unsigned char *) path;

        if (len == 0)
                return "empty";
        if (len > 4096)
                return "longer than 4096 bytes";
        for (size_t i = 0; i < len;) {
                size_t l = utf8_wellformed(u + i, len - i);
                if (l == 0)
                        return "not UTF-8";
                i += l;
        }
        if (path[0] != '/')
                return "not absolute";
        if (len == 1)
                return "the root";
        if (path[len - 1] == '/')
                return "trailing '/'";

        /* Components: the bytes between one '/' and the next. */
        size_t start = 1;
        for (size_t i = 1; i <= len; i++) {
                if (i < len && path[i] != '/')
                        continue;
                size_t clen = i - start;
                if (clen == 0)
                        return "empty component";
                if (clen == 1 && path[start] == '.')
                        return "'.' component";
                if (clen == 2 && path[start] == '.' && path[start + 1] == '.')
                        return "'..' component";
                if (clen > 255)
                        return "component longer than 255 bytes";
                for (size_t k = start; k < i; k++)
                        if (u[k] < 0x20 || u[k] == 0x7f)
                                return "control character";
                start = i + 1;
        }
        return NULL;
}

static bool printable_ascii(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e)
                        return false;
        return true;
}

static void check_validate(const uint8_t *data, size_t size) {
        FuzzBuf b = fuzz_copy(data, size, true);
        size_t len = strlen(b.data);
        const char *broken = rule_broken(b.data);
        MemcgError err;
        int r, r_noerr;

        memset(&err, PATTERN, sizeof(err));
        r = cgroup_path_validate(b.data, &err);
        r_noerr = cgroup_path_validate(b.data, NULL);

        FUZZ_CHECK(r == r_noerr, "cgroup_path_validate(\"%s\") = %d with an error to fill, %d without",
                   fuzz_esc(b.data, len), r, r_noerr);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "cgroup_path_validate(\"%s\") = %d", fuzz_esc(b.data, len), r);
        FUZZ_CHECK((r == 0) == (broken == NULL), "cgroup_path_validate(\"%s\") = %d, but the path %s",
                   fuzz_esc(b.data, len), r, broken ? broken : "follows every rule");
        if (r < 0) {
                const char *nul = memchr(err.message, '\0', sizeof(err.message));
                FUZZ_CHECK(err.code == MEMCG_ERROR_INVALID_PATH, "cgroup_path_validate(\"%s\"): error code %d",
                           fuzz_esc(b.data, len), (int) err.code);
                FUZZ_CHECK(nul && nul > err.message, "cgroup_path_validate(\"%s\"): message empty or unterminated",
                           fuzz_esc(b.data, len));
                FUZZ_CHECK(printable_ascii(err.message, (size_t) (nul - err.message)),
                           "cgroup_path_validate(\"%s\"): message not printable ASCII: \"%s\"",
                           fuzz_esc(b.data, len), fuzz_esc(err.message, (size_t) (nul - err.message)));
        }
        fuzz_free(&b);
}

/* ---- render --------------------------------------------------------- */

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

static void check_render(const uint8_t *data, size_t size) {
        /* Around the first escape, the 96-byte cut and the "...". */
        static const size_t sizes[] = { 0, 1, 2, 5, 6, 7, 8, 64, 100, 101, 387, 388, 389, 390 };
        /* What the callers pass (cgroup-path.c, cgroup.c): room for 96
         * escaped bytes, "..." and the NUL, with some to spare. */
        const size_t big = 512;
        FuzzBuf b = fuzz_copy(data, size, false);
        char *full = malloc(big);
        size_t shown = size < RENDER_LIMIT ? size : RENDER_LIMIT;
        size_t *boundary = malloc((shown + 2) * sizeof(size_t));
        size_t flen, o = 0, n = 0;

        FUZZ_CHECK(full && boundary, "out of memory");
        cgroup_path_render(b.data, size, full, big);
        flen = strnlen(full, big);
        FUZZ_CHECK(flen < big, "cgroup_path_render(\"%s\") left no NUL in %zu bytes", fuzz_esc(data, size), big);
        FUZZ_CHECK(printable_ascii(full, flen), "cgroup_path_render(\"%s\") = \"%s\": not printable ASCII",
                   fuzz_esc(data, size), fuzz_esc(full, flen));

        /* Decode, noting where each rendered byte ends. */
        boundary[0] = 0;
        while (n < shown) {
                uint8_t c;
                if (full[o] == '\\') {
                        int h = o + 3 < flen ? hexval(full[o + 2]) : -1, l = o + 3 < flen ? hexval(full[o + 3]) : -1;
                        FUZZ_CHECK(full[o + 1] == 'x' && h >= 0 && l >= 0,
                                   "cgroup_path_render(\"%s\") = \"%s\": a '\\' that is not \\xNN at %zu",
                                   fuzz_esc(data, size), fuzz_esc(full, flen), o);
                        c = (uint8_t) (h << 4 | l);
                        FUZZ_CHECK(c < 0x20 || c >= 0x7f || c == '\\',
                                   "cgroup_path_render(\"%s\") = \"%s\": printable byte 0x%02x escaped",
                                   fuzz_esc(data, size), fuzz_esc(full, flen), c);
                        o += 4;
                } else {
                        FUZZ_CHECK(o < flen, "cgroup_path_render(\"%s\") = \"%s\": only %zu of %zu bytes shown",
                                   fuzz_esc(data, size), fuzz_esc(full, flen), n, shown);
                        c = (uint8_t) full[o++];
                }
                FUZZ_CHECK(c == data[n], "cgroup_path_render(\"%s\") = \"%s\": byte %zu shows as 0x%02x, is 0x%02x",
                           fuzz_esc(data, size), fuzz_esc(full, flen), n, c, data[n]);
                boundary[++n] = o;
        }
        const char *tail = size > RENDER_LIMIT ? "..." : "";
        FUZZ_CHECK(strcmp(full + o, tail) == 0, "cgroup_path_render(\"%s\") = \"%s\": ends \"%s\", expected \"%s\"",
                   fuzz_esc(data, size), fuzz_esc(full, flen), fuzz_esc(full + o, flen - o), tail);
        if (*tail)
                boundary[++n] = flen;

        /* Smaller buffers: a prefix of the full rendering, cut between
         * rendered bytes, never a byte past the buffer. */
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                size_t sz = sizes[k];
                char *out = malloc(sz ? sz : 1);
                FUZZ_CHECK(out, "out of memory");
                memset(out, PATTERN, sz ? sz : 1);
                cgroup_path_render(b.data, size, out, sz);
                if (sz == 0) {
                        FUZZ_CHECK((unsigned char) out[0] == PATTERN, "cgroup_path_render(\"%s\", 0) wrote",
                                   fuzz_esc(data, size));
                        free(out);
                        continue;
                }
                size_t olen = strnlen(out, sz);
                FUZZ_CHECK(olen < sz, "cgroup_path_render(\"%s\", %zu) left no NUL", fuzz_esc(data, size), sz);
                FUZZ_CHECK(olen <= flen && memcmp(out, full, olen) == 0,
                           "cgroup_path_render(\"%s\", %zu) = \"%s\", not a prefix of \"%s\"", fuzz_esc(data, size),
                           sz, fuzz_esc(out, olen), fuzz_esc(full, flen));
                bool cut_ok = false;
                for (size_t j = 0; j <= n && !cut_ok; j++)
                        cut_ok = boundary[j] == olen;
                FUZZ_CHECK(cut_ok, "cgroup_path_render(\"%s\", %zu) = \"%s\": cut inside an escape",
                           fuzz_esc(data, size), sz, fuzz_esc(out, olen));
                FUZZ_CHECK(size == 0 || sz < 8 || olen > 0, "cgroup_path_render(\"%s\", %zu) rendered nothing",
                           fuzz_esc(data, size), sz);
                free(out);
        }
        free(boundary);
        free(full);
        fuzz_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_validate(data, size);
        check_render(data, size);
        return 0;
}
