/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A streaming JSON writer for memcgctl's --json output: values go to a
 * FILE as they are added, commas and (in pretty mode) indentation are
 * placed by the writer. D-Bus strings are valid UTF-8 already, so strings
 * are escaped (quotes, backslash, control characters) but not re-encoded.
 *
 * The writer does not check that the caller nests keys and values
 * correctly beyond what it needs for commas; the callers are few and
 * tested (tests/cli/test-client-format.c). Nesting is limited to
 * JSON_WRITER_DEPTH levels; deeper values are written as null. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_WRITER_DEPTH 32

typedef struct JsonWriter {
        FILE *f;
        bool pretty;
        unsigned depth;
        unsigned too_deep;               /* levels opened beyond JSON_WRITER_DEPTH */
        bool first[JSON_WRITER_DEPTH];   /* no element written yet at this level */
        bool after_key;                  /* the next value completes a "key": pair */
} JsonWriter;

void json_writer_init(JsonWriter *w, FILE *f, bool pretty);

void json_begin_object(JsonWriter *w);
void json_end_object(JsonWriter *w);
void json_begin_array(JsonWriter *w);
void json_end_array(JsonWriter *w);

/* Inside an object: the key of the next value. */
void json_key(JsonWriter *w, const char *key);

void json_string(JsonWriter *w, const char *s);  /* NULL writes null */
void json_u64(JsonWriter *w, uint64_t v);
void json_i64(JsonWriter *w, int64_t v);
void json_double(JsonWriter *w, double v);       /* NaN and infinities write null */
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);
/* A key and its value, in an object. */
void json_field_string(JsonWriter *w, const char *key, const char *s);
void json_field_u64(JsonWriter *w, const char *key, uint64_t v);

/* Ends a top-level value: a newline (so that watch --json prints one
 * object per line) and a flush. */
void json_finish(JsonWriter *w);

/* Writes s as a JSON string literal (with quotes) to f. */
void json_write_string_literal(FILE *f, const char *s);
