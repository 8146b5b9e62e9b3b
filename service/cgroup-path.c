/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cgroup-path.h"
#include "memcgd/utf8.h"

/* Writes at most `max` bytes of s into out, escaping everything that is
 * not printable ASCII as \xNN so that a message never carries invalid
 * UTF-8 (sd-bus refuses to send that) and never grows past the buffer. */
void cgroup_path_render(const char *s, size_t len, char *out, size_t outsz) {
        size_t o = 0;
        const size_t limit = 96;

        if (outsz == 0)
                return;
        for (size_t i = 0; i < len && o + 5 < outsz; i++) {
                unsigned char c = (unsigned char) s[i];
                if (i >= limit) {
                        if (o + 4 < outsz)
                                o += (size_t) snprintf(out + o, outsz - o, "...");
                        break;
                }
                if (c >= 0x20 && c < 0x7f && c != '\\')
                        out[o++] = (char) c;
                else
                        o += (size_t) snprintf(out + o, outsz - o, "\\x%02x", c);
        }
        out[o] = '\0';
}

void memcg_error_set(MemcgError *e, MemcgErrorCode code, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
}

size_t utf8_sequence(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        size_t need;
        uint32_t cp;

        if (n == 0)
                return 0;
        if (s[0] < 0x80) {
                cp = s[0];
                need = 1;
                goto done;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                need = 2;
                cp = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                need = 3;
                cp = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                need = 4;
                cp = s[0] & 0x07;
        } else
                return 0;
        if (n < need)
                return 0;
        for (size_t i = 1; i < need; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF. */
        if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                return 0;
done:
        if (ret_cp)
                *ret_cp = cp;
        return need;
}

static bool utf8_valid(const char *s, size_t len) {
        for (size_t i = 0; i < len;) {
                size_t l = utf8_sequence((const unsigned char *) s + i, len - i, NULL);
                if (l == 0)
                        return false;
                i += l;
        }
        return true;
}

int cgroup_path_validate(const char *path, MemcgError *ret_error) {
        char shown[512];
        size_t len;

        if (!path || path[0] == '\0') {
                memcg_error_set(ret_error, MEMCG_ERROR_INVALID_PATH,
                                "Invalid cgroup path '': a cgroup path must not be empty; name it from the root of the memory hierarchy, e.g. /user.slice");
                return -EINVAL;
        }
        len = strlen(path);
        cgroup_path_render(path, len, shown, sizeof(shown));

#define FAIL(...)                                                                     \
        do {                                                                          \
                memcg_error_set(ret_error, MEMCG_ERROR_INVALID_PATH, __VA_ARGS__);    \
                return -EINVAL;                                                       \
        } while (0)

        if (len > CGROUP_PATH_MAX)
                FAIL("Invalid cgroup path '%s': it is %zu bytes long, the limit is %d bytes", shown, len,
                     CGROUP_PATH_MAX);
        if (!utf8_valid(path, len))
                FAIL("Invalid cgroup path '%s': it is not valid UTF-8", shown);
        if (path[0] != '/')
                FAIL("Invalid cgroup path '%s': it must be absolute (start with '/') from the root of the memory hierarchy",
                     shown);
        if (len == 1)
                FAIL("Invalid cgroup path '/': the root cgroup cannot be limited");
        if (path[len - 1] == '/')
                FAIL("Invalid cgroup path '%s': it must not end with '/'", shown);

        for (const char *p = path + 1;;) {
                const char *slash = strchr(p, '/');
                size_t clen = slash ? (size_t) (slash - p) : strlen(p);

                if (clen == 0)
                        FAIL("Invalid cgroup path '%s': it contains an empty component ('//')", shown);
                if ((clen == 1 && p[0] == '.') || (clen == 2 && p[0] == '.' && p[1] == '.'))
                        FAIL("Invalid cgroup path '%s': '.' and '..' components are not allowed", shown);
                if (clen > 255)
                        FAIL("Invalid cgroup path '%s': a component is longer than 255 bytes", shown);
                for (size_t i = 0; i < clen; i++)
                        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
                                FAIL("Invalid cgroup path '%s': it contains a control character", shown);
                if (!slash)
                        break;
                p = slash + 1;
        }
#undef FAIL
        return 0;
}

/* Undoes the octal escapes (\040 for space...) of /proc/self/mountinfo. */
static void unescape_mount_path(const char *s, size_t len, char *out, size_t outsz) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 1 < outsz; i++) {
                if (s[i] == '\\' && i + 3 < len + 0 && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        out[o++] = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                } else
                        out[o++] = s[i];
        }
        out[o] = '\0';
}

/* Splits one mountinfo line into whitespace-separated fields. */
static size_t split_fields(const char *line, size_t len, const char **f, size_t *flen, size_t max) {
        size_t n = 0, i = 0;
        while (i < len && n < max) {
                while (i < len && line[i] == ' ')
                        i++;
                if (i >= len)
                        break;
                size_t s = i;
                while (i < len && line[i] != ' ')
                        i++;
                f[n] = line + s;
                flen[n] = i - s;
                n++;
        }
        return n;
}

static bool option_has(const char *opts, size_t len, const char *want) {
        size_t wl = strlen(want);
        for (size_t i = 0; i < len;) {
                const char *comma = memchr(opts + i, ',', len - i);
                size_t e = comma ? (size_t) (comma - opts) : len;
                if (e - i == wl && memcmp(opts + i, want, wl) == 0)
                        return true;
                i = e + 1;
        }
        return false;
}

int parse_mountinfo_memory(const char *buf, size_t len, MountinfoMemory *ret) {
        MountinfoMemory v1 = {}, v2 = {};
        size_t pos = 0;

        while (pos < len) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t eol = nl ? (size_t) (nl - buf) : len;
                const char *f[32];
                size_t fl[32];
                size_t n = split_fields(buf + pos, eol - pos, f, fl, 32);
                size_t sep = 0;

                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                for (size_t i = 6; i < n; i++)
                        if (fl[i] == 1 && f[i][0] == '-') {
                                sep = i;
                                break;
                        }
                if (sep && sep + 3 < n + 1 && sep + 3 <= n - 0 && n >= sep + 4) {
                        const char *fstype = f[sep + 1];
                        size_t fstl = fl[sep + 1];
                        const char *super = f[sep + 3];
                        size_t superl = fl[sep + 3];
                        bool root_is_slash = fl[3] == 1 && f[3][0] == '/';

                        if (fstl == 6 && memcmp(fstype, "cgroup", 6) == 0 && !v1.found &&
                            option_has(super, superl, "memory") && root_is_slash) {
                                unescape_mount_path(f[4], fl[4], v1.path, sizeof(v1.path));
                                v1.backend = BACKEND_V1;
                                v1.found = true;
                        } else if (fstl == 7 && memcmp(fstype, "cgroup2", 7) == 0 && !v2.found && root_is_slash) {
                                unescape_mount_path(f[4], fl[4], v2.path, sizeof(v2.path));
                                v2.backend = BACKEND_V2;
                                v2.found = true;
                        }
                }
                pos = eol + 1;
        }
        /* A memory controller bound to v1 is not available on v2, so v1
         * wins when both are mounted (the hybrid layout). The caller still
         * has to check that v2 really has "memory" in cgroup.controllers. */
        if (v1.found) {
                v1.unified_found = v2.found;
                memcpy(v1.unified_path, v2.path, sizeof(v1.unified_path));
                *ret = v1;
                return 0;
        }
        if (v2.found) {
                *ret = v2;
                return 0;
        }
        return -ENOENT;
}
