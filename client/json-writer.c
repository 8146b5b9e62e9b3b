/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"

void json_writer_init(JsonWriter *w, FILE *f, bool pretty) {
        *w = (JsonWriter) { .f = f, .pretty = pretty };
        w->first[0] = true;
}

static void indent(JsonWriter *w) {
        if (!w->pretty)
                return;
        fputc('\n', w->f);
        for (unsigned i = 0; i < w->depth; i++)
                fputs("  ", w->f);
}

/* Called before every value and every key: the separator it needs. */
static void before_item(JsonWriter *w) {
        if (w->after_key) {
                /* A value right after its key: no comma, no newline. */
                w->after_key = false;
                return;
        }
        if (w->depth == 0)
                return;
        if (!w->first[w->depth])
                fputc(',', w->f);
        w->first[w->depth] = false;
        indent(w);
}

static void open_container(JsonWriter *w, char c) {
        if (w->too_deep > 0 || w->depth + 1 >= JSON_WRITER_DEPTH) {
                if (w->too_deep == 0) {
                        before_item(w);
                        fputs("null", w->f);
                }
                w->too_deep++;
                return;
        }
        before_item(w);
        fputc(c, w->f);
        w->depth++;
        w->first[w->depth] = true;
}

static void close_container(JsonWriter *w, char c) {
        if (w->too_deep > 0) {
                w->too_deep--;
                return;
        }
        if (w->depth == 0)
                return;
        bool empty = w->first[w->depth];
        w->depth--;
        if (!empty)
                indent(w);
        fputc(c, w->f);
}

void json_begin_object(JsonWriter *w) { open_container(w, '{'); }
void json_end_object(JsonWriter *w) { close_container(w, '}'); }
void json_begin_array(JsonWriter *w) { open_container(w, '['); }
void json_end_array(JsonWriter *w) { close_container(w, ']'); }

void json_write_string_literal(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                switch (*p) {
                case '"':  fputs("\\\"", f); break;
                case '\\': fputs("\\\\", f); break;
                case '\n': fputs("\\n", f); break;
                case '\r': fputs("\\r", f); break;
                case '\t': fputs("\\t", f); break;
                case '\b': fputs("\\b", f); break;
                case '\f': fputs("\\f", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fputc(*p, f);
                }
        fputc('"', f);
}

void json_key(JsonWriter *w, const char *key) {
        if (w->too_deep > 0)
                return;
        before_item(w);
        json_write_string_literal(w->f, key);
        fputs(w->pretty ? ": " : ":", w->f);
        w->after_key = true;
}

#define SCALAR_GUARD(w)                 \
        do {                            \
                if ((w)->too_deep > 0)  \
                        return;         \
                before_item(w); \
        } while (0)

void json_string(JsonWriter *w, const char *s) {
        SCALAR_GUARD(w);
        if (!s)
                fputs("null", w->f);
        else
                json_write_string_literal(w->f, s);
}

void json_u64(JsonWriter *w, uint64_t v) {
        SCALAR_GUARD(w);
        fprintf(w->f, "%llu", (unsigned long long) v);
}

void json_i64(JsonWriter *w, int64_t v) {
        SCALAR_GUARD(w);
        fprintf(w->f, "%lld", (long long) v);
}

void json_double(JsonWriter *w, double v) {
        char buf[64];

        SCALAR_GUARD(w);
        if (!isfinite(v)) {
                fputs("null", w->f);
                return;
        }
        /* The shortest form that reads back as the same double: 0.12, not
         * 0.11999999999999999. */
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        /* %g may give "1e-05": valid JSON too. The program runs in the C
         * locale (never setlocale(LC_NUMERIC)), so the point is a '.'. */
        fputs(buf, w->f);
}

void json_bool(JsonWriter *w, bool v) {
        SCALAR_GUARD(w);
        fputs(v ? "true" : "false", w->f);
}

void json_null(JsonWriter *w) {
        SCALAR_GUARD(w);
        fputs("null", w->f);
}

void json_finish(JsonWriter *w) {
        fputc('\n', w->f);
        fflush(w->f);
        w->depth = 0;
        w->too_deep = 0;
        w->after_key = false;
        w->first[0] = true;
}

void json_field_string(JsonWriter *w, const char *key, const char *s) {
        json_key(w, key);
        json_string(w, s);
}

void json_field_u64(JsonWriter *w, const char *key, uint64_t v) {
        json_key(w, key);
        json_u64(w, v);
}
