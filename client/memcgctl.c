/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memcgctl: the command line client of memcgd. It speaks only the public
 * D-Bus contract (DESIGN.md §4), like busctl would, and turns it into
 * commands, tables, JSON and exit codes people and scripts can use. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "memcgd/engine.h"
#include "memcgd/parse.h"

#include "exit-status.h"
#include "format.h"
#include "json-writer.h"

#define BUS_NAME "org.memcgd1"
#define MANAGER_PATH "/org/memcgd1"
#define MANAGER_IFACE "org.memcgd1.Manager"
#define CGROUP_OBJECT_PREFIX "/org/memcgd1/cgroup"
#define RECLAIMER_IFACE "org.memcgd1.Reclaimer"
/* memcgd also speaks for the host as org.freedesktop.LowMemoryMonitor,
 * from the same connection: watch's match on its sender covers it. */
#define LMM_IFACE "org.freedesktop.LowMemoryMonitor"

/* "get the status of " and a cgroup path of up to 4096 bytes (the path
 * rules of DESIGN.md §2). */
#define WHAT_MAX (64 + 4096 + 1)

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) {
        free(*(void **) p);
}

typedef enum JsonMode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
} JsonMode;

static JsonMode arg_json = JSON_OFF;
static bool arg_legend = true;
static bool arg_ask_password = true;
static bool arg_quiet = false;
static uint64_t arg_limit = 0;
static bool arg_limit_set = false;
/* The SIZE argument of set-limit and of resolve raise, parsed (with the
 * other arguments checked) before memcgctl connects to the bus. */
static uint64_t arg_size = 0;

/* ------------------------------------------------------------------------
 * Errors */

/* Prints "Failed to WHAT: MESSAGE" (one line) and returns the exit status
 * for it. */
static int bus_fail(const char *what, const sd_bus_error *error, int r) {
        const char *name = sd_bus_error_is_set(error) ? error->name : NULL;
        int status = exit_status_from_bus_error(name, r);
        _cleanup_(freep) char *msg = NULL;

        if (sd_bus_error_is_set(error) && error->message)
                msg = strdup(error->message);
        else if (name)
                msg = strdup(name);
        else
                msg = strdup(strerror(-r));
        if (!msg) {
                fprintf(stderr, "Out of memory.\n");
                return MEMCGCTL_EXIT_FAILURE;
        }
        flatten_line(msg);
        /* what names a cgroup path, which may hold any character but C0
         * controls (memcgd's own messages escape them already). */
        fputs("Failed to ", stderr);
        fputs_escaped(what, stderr);
        if (status == MEMCGCTL_EXIT_NOT_RUNNING)
                fprintf(stderr, ": memcgd is not running on the system bus (%s)\n", msg);
        else
                fprintf(stderr, ": %s\n", msg);
        return status;
}

static int oom(void) {
        fprintf(stderr, "Out of memory.\n");
        return MEMCGCTL_EXIT_FAILURE;
}

static int bad_reply(const char *what, int r) {
        fprintf(stderr, "Failed to %s: unexpected reply from memcgd: %s\n", what, strerror(-r));
        return MEMCGCTL_EXIT_FAILURE;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int check_cgroup_path(const char *path) {
        MemcgError e = {};

        if (cgroup_path_validate(path, &e) < 0) {
                fprintf(stderr, "%s.\n", flatten_line(e.message));
                return MEMCGCTL_EXIT_USAGE;
        }
        return MEMCGCTL_EXIT_OK;
}

static int parse_size_arg(const char *what, const char *s, uint64_t *ret) {
        uint64_t v;
        int r = parse_size(s, &v);

        if (r < 0) {
                fprintf(stderr, "Invalid %s '", what);
                fputs_escaped(s, stderr);
                fprintf(stderr, "': %s; use bytes or K, M, G, T, P, E (powers of 1024), e.g. 512M, 1.5G.\n",
                        r == -ERANGE ? "too large" : "not a size");
                return MEMCGCTL_EXIT_USAGE;
        }
        /* parse_size() reads "infinity" (and 2^64 - 1) as UINT64_MAX, the
         * kernel's "no limit": memcgd keeps every limit finite (its range
         * check refuses it), so say so here, as a usage error. */
        if (v == UINT64_MAX) {
                fprintf(stderr, "Invalid %s '", what);
                fputs_escaped(s, stderr);
                fprintf(stderr, "': %s must be a finite size, e.g. 512M or 1.5G (memcgd keeps every limit finite).\n",
                        strcmp(what, "limit") == 0 ? "a limit" : "it");
                return MEMCGCTL_EXIT_USAGE;
        }
        *ret = v;
        return MEMCGCTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * D-Bus values */

typedef union BasicValue {
        uint8_t y;
        int b;
        int16_t n;
        uint16_t q;
        int32_t i;
        uint32_t u;
        int64_t x;
        uint64_t t;
        double d;
        const char *s;
        int h;
} BasicValue;

/* A basic value as JSON. */
static void json_basic(JsonWriter *w, char type, const BasicValue *v) {
        switch (type) {
        case SD_BUS_TYPE_BYTE: json_u64(w, v->y); break;
        case SD_BUS_TYPE_BOOLEAN: json_bool(w, v->b); break;
        case SD_BUS_TYPE_INT16: json_i64(w, v->n); break;
        case SD_BUS_TYPE_UINT16: json_u64(w, v->q); break;
        case SD_BUS_TYPE_INT32: json_i64(w, v->i); break;
        case SD_BUS_TYPE_UINT32: json_u64(w, v->u); break;
        case SD_BUS_TYPE_INT64: json_i64(w, v->x); break;
        case SD_BUS_TYPE_UINT64: json_u64(w, v->t); break;
        case SD_BUS_TYPE_DOUBLE: json_double(w, v->d); break;
        case SD_BUS_TYPE_UNIX_FD: json_i64(w, v->h); break;
        default: json_string(w, v->s); break;
        }
}

/* A basic value as text (for dictionary keys). */
static void text_basic(char *buf, size_t n, char type, const BasicValue *v) {
        switch (type) {
        case SD_BUS_TYPE_BYTE: snprintf(buf, n, "%u", v->y); break;
        case SD_BUS_TYPE_BOOLEAN: snprintf(buf, n, "%s", v->b ? "true" : "false"); break;
        case SD_BUS_TYPE_INT16: snprintf(buf, n, "%d", v->n); break;
        case SD_BUS_TYPE_UINT16: snprintf(buf, n, "%u", v->q); break;
        case SD_BUS_TYPE_INT32: snprintf(buf, n, "%" PRIi32, v->i); break;
        case SD_BUS_TYPE_UINT32: snprintf(buf, n, "%" PRIu32, v->u); break;
        case SD_BUS_TYPE_INT64: snprintf(buf, n, "%" PRIi64, v->x); break;
        case SD_BUS_TYPE_UINT64: snprintf(buf, n, "%" PRIu64, v->t); break;
        case SD_BUS_TYPE_DOUBLE: snprintf(buf, n, "%g", v->d); break;
        case SD_BUS_TYPE_UNIX_FD: snprintf(buf, n, "fd %d", v->h); break;
        default: snprintf(buf, n, "%s", v->s); break;
        }
}

/* Reads the next complete value of m (any type) as JSON: arrays of dict
 * entries become objects, other arrays and structs arrays, variants their
 * content. Returns 0 at the end of the current container, 1 after a value,
 * negative errno on a malformed message. */
static int json_message_value(JsonWriter *w, sd_bus_message *m) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r;

        switch (type) {
        case SD_BUS_TYPE_ARRAY: {
                bool dict = contents[0] == SD_BUS_TYPE_DICT_ENTRY_BEGIN;

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (dict)
                        json_begin_object(w);
                else
                        json_begin_array(w);
                for (;;) {
                        if (dict) {
                                const char *ec;
                                char et, key[128];
                                BasicValue k;

                                r = sd_bus_message_peek_type(m, &et, &ec);
                                if (r < 0)
                                        return r;
                                if (r == 0)
                                        break;
                                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, ec);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_peek_type(m, &et, NULL);
                                if (r <= 0)
                                        return r < 0 ? r : -EBADMSG;
                                r = sd_bus_message_read_basic(m, et, &k);
                                if (r < 0)
                                        return r;
                                text_basic(key, sizeof key, et, &k);
                                json_key(w, key);
                                r = json_message_value(w, m);
                                if (r <= 0)
                                        return r < 0 ? r : -EBADMSG;
                                r = sd_bus_message_exit_container(m);
                                if (r < 0)
                                        return r;
                        } else {
                                r = json_message_value(w, m);
                                if (r < 0)
                                        return r;
                                if (r == 0)
                                        break;
                        }
                }
                if (dict)
                        json_end_object(w);
                else
                        json_end_array(w);
                r = sd_bus_message_exit_container(m);
                return r < 0 ? r : 1;
        }
        case SD_BUS_TYPE_STRUCT:
        case SD_BUS_TYPE_VARIANT: {
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (type == SD_BUS_TYPE_STRUCT)
                        json_begin_array(w);
                for (;;) {
                        r = json_message_value(w, m);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                break;
                }
                if (type == SD_BUS_TYPE_STRUCT)
                        json_end_array(w);
                r = sd_bus_message_exit_container(m);
                return r < 0 ? r : 1;
        }
        default: {
                BasicValue v;

                r = sd_bus_message_read_basic(m, type, &v);
                if (r < 0)
                        return r;
                json_basic(w, type, &v);
                return 1;
        }
        }
}

/* ------------------------------------------------------------------------
 * GetStats replies */

typedef struct StatEntry {
        char *key;
        char type;      /* D-Bus type of the value; only basic types are kept */
        BasicValue v;   /* v.s is owned (strdup) for string types */
} StatEntry;

typedef struct Stats {
        StatEntry *entries;
        size_t n;
} Stats;

static bool type_is_string(char t) {
        return t == SD_BUS_TYPE_STRING || t == SD_BUS_TYPE_OBJECT_PATH || t == SD_BUS_TYPE_SIGNATURE;
}

static void stats_done(Stats *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->entries[i].key);
                if (type_is_string(s->entries[i].type))
                        free((char *) s->entries[i].v.s);
        }
        free(s->entries);
        *s = (Stats) {};
}

/* Reads an a{sv}. Values of container types (none in the contract today)
 * are skipped. Returns 0 or negative errno. */
static int stats_read(sd_bus_message *m, Stats *ret) {
        _cleanup_(stats_done) Stats s = {};
        int r;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key, *contents;
                char type;

                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;
                type = contents[0];
                if (contents[1] != '\0' || type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_VARIANT ||
                    type == SD_BUS_TYPE_STRUCT_BEGIN || type == SD_BUS_TYPE_DICT_ENTRY_BEGIN) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        StatEntry e = { .type = type };
                        StatEntry *grown;

                        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_basic(m, type, &e.v);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                        grown = realloc(s.entries, (s.n + 1) * sizeof(StatEntry));
                        if (!grown)
                                return -ENOMEM;
                        s.entries = grown;
                        e.key = strdup(key);
                        if (!e.key)
                                return -ENOMEM;
                        if (type_is_string(type)) {
                                e.v.s = strdup(e.v.s);
                                if (!e.v.s) {
                                        free(e.key);
                                        return -ENOMEM;
                                }
                        }
                        s.entries[s.n++] = e;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = s;
        s = (Stats) {};
        return 0;
}

static const StatEntry *stats_get(const Stats *s, const char *key) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->entries[i].key, key) == 0)
                        return &s->entries[i];
        return NULL;
}

/* An unsigned figure (t, u, q or y). false when absent. */
static bool stats_u64(const Stats *s, const char *key, uint64_t *ret) {
        const StatEntry *e = stats_get(s, key);

        if (!e)
                return false;
        switch (e->type) {
        case SD_BUS_TYPE_UINT64: *ret = e->v.t; return true;
        case SD_BUS_TYPE_UINT32: *ret = e->v.u; return true;
        case SD_BUS_TYPE_UINT16: *ret = e->v.q; return true;
        case SD_BUS_TYPE_BYTE: *ret = e->v.y; return true;
        default: return false;
        }
}

static bool stats_double(const Stats *s, const char *key, double *ret) {
        const StatEntry *e = stats_get(s, key);

        if (!e || e->type != SD_BUS_TYPE_DOUBLE)
                return false;
        *ret = e->v.d;
        return true;
}

static const char *stats_string(const Stats *s, const char *key) {
        const StatEntry *e = stats_get(s, key);
        return e && type_is_string(e->type) ? e->v.s : NULL;
}

static int stats_bool(const Stats *s, const char *key) {
        const StatEntry *e = stats_get(s, key);
        return e && e->type == SD_BUS_TYPE_BOOLEAN ? !!e->v.b : -1;
}

static void json_stats(JsonWriter *w, const Stats *s) {
        json_begin_object(w);
        for (size_t i = 0; i < s->n; i++) {
                json_key(w, s->entries[i].key);
                json_basic(w, s->entries[i].type, &s->entries[i].v);
        }
        json_end_object(w);
}

/* GetStats(cgroup). On failure prints the error line and returns the exit
 * status (> 0); 0 on success. */
static int get_stats(sd_bus *bus, const char *cgroup, Stats *ret, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "GetStats", ret_error, &reply, "s",
                               cgroup);
        if (r < 0)
                return r;
        return stats_read(reply, ret);
}

/* ------------------------------------------------------------------------
 * Tables */

#define TABLE_MAX_COLUMNS 12

typedef struct Table {
        size_t ncolumns;
        const char *headers[TABLE_MAX_COLUMNS];
        bool right[TABLE_MAX_COLUMNS];  /* right-aligned (numbers) */
        char **cells;                   /* rows * ncolumns, owned */
        size_t nrows;
} Table;

static void table_done(Table *t) {
        for (size_t i = 0; i < t->nrows * t->ncolumns; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->nrows = 0;
}

/* Adds a row of ncolumns strings (copied, escaped for the terminal: cells
 * carry cgroup paths and words from the service; NULL prints as "-"). */
static int table_add_row(Table *t, const char *const *row) {
        char **grown = realloc(t->cells, (t->nrows + 1) * t->ncolumns * sizeof(char *));

        if (!grown)
                return -ENOMEM;
        t->cells = grown;
        for (size_t c = 0; c < t->ncolumns; c++) {
                char *dup = escape_text(row[c] ? row[c] : "-");
                if (!dup) {
                        for (size_t k = 0; k < c; k++)
                                free(t->cells[t->nrows * t->ncolumns + k]);
                        return -ENOMEM;
                }
                t->cells[t->nrows * t->ncolumns + c] = dup;
        }
        t->nrows++;
        return 0;
}

static void table_print_row(const Table *t, const size_t *width, const char *const *row) {
        for (size_t c = 0; c < t->ncolumns; c++) {
                bool last = c + 1 == t->ncolumns;
                if (t->right[c])
                        printf("%*s", (int) width[c], row[c]);
                else if (last)
                        fputs(row[c], stdout);
                else
                        printf("%-*s", (int) width[c], row[c]);
                if (!last)
                        fputs("  ", stdout);
        }
        putchar('\n');
}

static void table_print(const Table *t) {
        size_t width[TABLE_MAX_COLUMNS] = {};

        for (size_t c = 0; c < t->ncolumns; c++) {
                if (arg_legend)
                        width[c] = strlen(t->headers[c]);
                for (size_t r = 0; r < t->nrows; r++) {
                        size_t l = strlen(t->cells[r * t->ncolumns + c]);
                        if (l > width[c])
                                width[c] = l;
                }
        }
        if (arg_legend)
                table_print_row(t, width, t->headers);
        for (size_t r = 0; r < t->nrows; r++)
                table_print_row(t, width, (const char *const *) &t->cells[r * t->ncolumns]);
}

/* ------------------------------------------------------------------------
 * Commands */

typedef struct Monitored {
        char *cgroup;
        char *object;
} Monitored;

static void monitored_free_array(Monitored **a) {
        if (!*a)
                return;
        for (Monitored *p = *a; p->cgroup; p++) {
                free(p->cgroup);
                free(p->object);
        }
        free(*a);
}

static int monitored_compare(const void *x, const void *y) {
        return strcmp(((const Monitored *) x)->cgroup, ((const Monitored *) y)->cgroup);
}

/* ListMonitored(), as an array sorted by path, ended by an entry with
 * cgroup NULL. */
static int list_monitored(sd_bus *bus, Monitored **ret, size_t *ret_n, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(monitored_free_array) Monitored *a = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ListMonitored", error, &reply, NULL);
        if (r < 0)
                return r;
        a = calloc(1, sizeof(Monitored));
        if (!a)
                return -ENOMEM;
        r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(so)");
        if (r < 0)
                return r;
        for (;;) {
                const char *cg, *obj;
                Monitored *grown;

                r = sd_bus_message_read(reply, "(so)", &cg, &obj);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                grown = realloc(a, (n + 2) * sizeof(Monitored));
                if (!grown)
                        return -ENOMEM;
                a = grown;
                a[n + 1] = (Monitored) {};
                a[n].cgroup = strdup(cg);
                a[n].object = strdup(obj);
                n++;
                if (!a[n - 1].cgroup || !a[n - 1].object)
                        return -ENOMEM;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        qsort(a, n, sizeof(Monitored), monitored_compare);
        *ret = a;
        *ret_n = n;
        a = NULL;
        return 0;
}

static void json_begin_output(JsonWriter *w) {
        json_writer_init(w, stdout, arg_json == JSON_PRETTY);
}

static int verb_list(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(monitored_free_array) Monitored *list = NULL;
        size_t n;
        int r;

        r = list_monitored(bus, &list, &n, &error);
        if (r == -ENOMEM)
                return oom();
        if (r < 0)
                return sd_bus_error_is_set(&error) ? bus_fail("list monitored cgroups", &error, r)
                                                   : bad_reply("list monitored cgroups", r);

        if (arg_json != JSON_OFF) {
                JsonWriter w;

                json_begin_output(&w);
                json_begin_array(&w);
                for (size_t i = 0; i < n; i++) {
                        json_begin_object(&w);
                        json_field_string(&w, "cgroup", list[i].cgroup);
                        json_field_string(&w, "object", list[i].object);
                        json_end_object(&w);
                }
                json_end_array(&w);
                json_finish(&w);
                return MEMCGCTL_EXIT_OK;
        }

        Table t = { .ncolumns = 2, .headers = { "CGROUP", "OBJECT" } };
        for (size_t i = 0; i < n; i++) {
                const char *row[] = { list[i].cgroup, list[i].object };
                if (table_add_row(&t, row) < 0) {
                        table_done(&t);
                        return oom();
                }
        }
        table_print(&t);
        table_done(&t);
        if (arg_legend)
                printf("\n%zu cgroup%s monitored.\n", n, n == 1 ? "" : "s");
        return MEMCGCTL_EXIT_OK;
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* The keys status prints on a line of their own; anything else the
 * service adds later is printed raw at the end. */
static const char *const known_keys[] = {
        "cgroup", "backend", "monitored", "current_bytes", "max_limit_bytes", "high_limit_bytes",
        "peak_bytes", "swap_bytes", "kmem_bytes", "events_high", "events_max", "events_oom",
        "events_oom_kill", "limit_increases", "limit_decreases", "granted_bytes",
        "no_increase_count", "next_shrink_check_usec", "pressure_some_avg10", "pressure_full_avg10",
        "pressure_level", "oom_policy", "oom_waiting", "emergency_grants", "last_oom_usec",
        "oom_decision_deadline_usec",
};

static bool is_known_key(const char *k) {
        for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
                if (strcmp(k, known_keys[i]) == 0)
                        return true;
        return false;
}

/* "freeze", "grow (2 emergency grants)", "freeze, waiting for a decision
 * (27s left)": the OOM policy of a monitored cgroup and what it is doing,
 * from its GetStats. NULL when the service reported no policy (not
 * monitored). */
static const char *format_oom_policy(char *buf, size_t n, const Stats *s) {
        const char *policy = stats_string(s, "oom_policy");
        char ts[FORMAT_TIMESPAN_MAX];
        uint64_t v;

        if (!policy)
                return NULL;
        if (stats_bool(s, "oom_waiting") > 0) {
                if (stats_u64(s, "oom_decision_deadline_usec", &v)) {
                        uint64_t now = now_usec(CLOCK_MONOTONIC);
                        /* Whole seconds, rounded up: "0s left" only once
                         * it is due. */
                        uint64_t left = v > now ? (v - now + 999999) / 1000000 * 1000000 : 0;
                        if (left > 0)
                                snprintf(buf, n, "%s, waiting for a decision (%s left)", policy,
                                         format_timespan(ts, left));
                        else
                                snprintf(buf, n, "%s, waiting for a decision (due now)", policy);
                } else
                        snprintf(buf, n, "%s, waiting for a decision", policy);
        } else if (stats_u64(s, "emergency_grants", &v) && v > 0)
                snprintf(buf, n, "%s (%" PRIu64 " emergency grant%s)", policy, v, v == 1 ? "" : "s");
        else
                snprintf(buf, n, "%s", policy);
        return buf;
}

/* "critical", or "level 42" for a level this version has no name for. */
static const char *format_pressure_level(char buf[static 32], uint64_t level) {
        const char *name = level <= UINT8_MAX ? pressure_level_name((unsigned) level) : NULL;

        if (name)
                return name;
        snprintf(buf, 32, "level %" PRIu64, level);
        return buf;
}

#define LABEL "%12s "

static void print_stats_detail(const Stats *s, const char *cgroup) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], ts[FORMAT_TIMESPAN_MAX], lv[32];
        const char *backend = stats_string(s, "backend");
        int monitored = stats_bool(s, "monitored");
        bool have_level, have_some;
        uint64_t v, w;
        double d, e;

        fputs_escaped(stats_string(s, "cgroup") ?: cgroup, stdout);
        printf(" (%s%s", monitored > 0 ? "monitored" : monitored == 0 ? "not monitored" : "",
               backend ? (monitored >= 0 ? ", cgroup " : "cgroup ") : "");
        fputs_escaped(backend ?: "", stdout);
        printf(")\n");

        if (stats_u64(s, "current_bytes", &v)) {
                printf(LABEL "%s", "Usage:", format_bytes(a, v));
                if (stats_u64(s, "peak_bytes", &w))
                        printf(" (peak %s)", format_bytes(b, w));
                putchar('\n');
        }
        if (stats_u64(s, "swap_bytes", &v))
                printf(LABEL "%s\n", "Swap:", format_bytes(a, v));
        if (stats_u64(s, "kmem_bytes", &v))
                printf(LABEL "%s\n", "Kernel:", format_bytes(a, v));
        if (stats_u64(s, "max_limit_bytes", &v)) {
                printf(LABEL "%s max", "Limit:", format_bytes(a, v));
                if (stats_u64(s, "high_limit_bytes", &w))
                        printf(", %s high", format_bytes(b, w));
                putchar('\n');
        }
        if (stats_u64(s, "granted_bytes", &v))
                printf(LABEL "%s of the budget\n", "Granted:", format_bytes(a, v));
        if (stats_u64(s, "limit_increases", &v) && stats_u64(s, "limit_decreases", &w))
                printf(LABEL "%" PRIu64 " grow%s, %" PRIu64 " shrink%s\n", "Changes:", v, v == 1 ? "" : "s", w,
                       w == 1 ? "" : "s");
        if (stats_u64(s, "next_shrink_check_usec", &v) && v > 0) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                printf(LABEL "%s%s", "Next shrink:", v > now ? "in " : "due",
                       v > now ? format_timespan(ts, v - now) : "");
                if (stats_u64(s, "no_increase_count", &w))
                        printf(" (%" PRIu64 " check%s without growth)", w, w == 1 ? "" : "s");
                putchar('\n');
        }
        {
                char pol[128];
                if (format_oom_policy(pol, sizeof pol, s)) {
                        printf(LABEL, "OOM policy:");
                        fputs_escaped(pol, stdout);
                        putchar('\n');
                }
        }
        if (stats_u64(s, "last_oom_usec", &v) && v > 0) {
                char when[FORMAT_TIMESTAMP_MAX];
                uint64_t now = now_usec(CLOCK_REALTIME);
                printf(LABEL "%s", "Last OOM:", format_timestamp(when, v));
                if (now > v)
                        printf(" (%s ago)", format_timespan(ts, now - v));
                putchar('\n');
        }
        {
                /* Kernel event counters: only the ones this kernel offers. */
                static const struct {
                        const char *key, *label;
                } ev[] = {
                        { "events_high", "high" },
                        { "events_max", "max" },
                        { "events_oom", "OOM" },
                        { "events_oom_kill", "OOM kill" },
                };
                char line[256] = "";
                size_t used = 0;

                for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
                        if (stats_u64(s, ev[i].key, &v) && used < sizeof line)
                                used += (size_t) snprintf(line + used, sizeof line - used, "%s%" PRIu64 " %s",
                                                          used > 0 ? ", " : "", v, ev[i].label);
                if (used > 0)
                        printf(LABEL "%s\n", "Events:", line);
        }
        /* memcgd's level (a monitored cgroup; on v1 from
         * memory.pressure_level) and the kernel's PSI shares where it
         * offers them: "medium (some 20.00%, full 1.00% avg10)". */
        have_level = stats_u64(s, "pressure_level", &v);
        have_some = stats_double(s, "pressure_some_avg10", &d);
        if (have_level || have_some) {
                printf(LABEL, "Pressure:");
                if (have_level)
                        fputs(format_pressure_level(lv, v), stdout);
                if (have_some) {
                        printf("%ssome %.2f%%", have_level ? " (" : "", d);
                        if (stats_double(s, "pressure_full_avg10", &e))
                                printf(", full %.2f%%", e);
                        printf(have_level ? " avg10)" : " (avg10)");
                }
                putchar('\n');
        }
        for (size_t i = 0; i < s->n; i++) {
                const char *key = s->entries[i].key;
                size_t kl = strlen(key);
                char val[128];

                if (is_known_key(key))
                        continue;
                text_basic(val, sizeof val, s->entries[i].type, &s->entries[i].v);
                /* Right-aligned like the labels above. */
                printf("%*s", kl < 12 ? (int) (12 - kl) : 0, "");
                fputs_escaped(key, stdout);
                fputs(": ", stdout);
                fputs_escaped(val, stdout);
                putchar('\n');
        }
}

static int verb_status_one(sd_bus *bus, const char *cgroup) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(stats_done) Stats s = {};
        char what[WHAT_MAX];
        int r;

        snprintf(what, sizeof what, "get the status of %s", cgroup);
        r = get_stats(bus, cgroup, &s, &error);
        if (r == -ENOMEM)
                return oom();
        if (r < 0)
                return sd_bus_error_is_set(&error) ? bus_fail(what, &error, r) : bad_reply(what, r);

        if (arg_json != JSON_OFF) {
                JsonWriter w;

                json_begin_output(&w);
                json_stats(&w, &s);
                json_finish(&w);
        } else
                print_stats_detail(&s, cgroup);
        return MEMCGCTL_EXIT_OK;
}

static int get_manager_u64(sd_bus *bus, const char *prop, char type, uint64_t *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (type == SD_BUS_TYPE_UINT32) {
                uint32_t u;
                r = sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, prop, &error, type, &u);
                if (r >= 0)
                        *ret = u;
                return r;
        }
        return sd_bus_get_property_trivial(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, prop, &error, type, ret);
}

static int verb_status(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(monitored_free_array) Monitored *list = NULL;
        uint64_t budget = 0, granted = 0;
        bool have_budget, have_granted;
        Stats *all;
        size_t n, shown = 0;
        int r;

        if (args[0])
                return verb_status_one(bus, args[0]);

        r = list_monitored(bus, &list, &n, &error);
        if (r == -ENOMEM)
                return oom();
        if (r < 0)
                return sd_bus_error_is_set(&error) ? bus_fail("list monitored cgroups", &error, r)
                                                   : bad_reply("list monitored cgroups", r);
        have_budget = get_manager_u64(bus, "BudgetBytes", SD_BUS_TYPE_UINT64, &budget) >= 0;
        have_granted = get_manager_u64(bus, "GrantedBytes", SD_BUS_TYPE_UINT64, &granted) >= 0;

        all = calloc(n + 1, sizeof(Stats));
        if (!all)
                return oom();
        for (size_t i = 0; i < n; i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                r = get_stats(bus, list[i].cgroup, &all[i], &e);
                if (r < 0 && sd_bus_error_is_set(&e) &&
                    exit_status_from_bus_error(e.name, r) == MEMCGCTL_EXIT_NOT_FOUND) {
                        /* Removed or unmonitored since ListMonitored(): it
                         * is no longer part of the answer. */
                        sd_bus_error_free(&e);
                        continue;
                }
                if (r < 0) {
                        char what[WHAT_MAX];
                        snprintf(what, sizeof what, "get the status of %s", list[i].cgroup);
                        r = r == -ENOMEM ? oom() : sd_bus_error_is_set(&e) ? bus_fail(what, &e, r) : bad_reply(what, r);
                        sd_bus_error_free(&e);
                        for (size_t k = 0; k < n; k++)
                                stats_done(&all[k]);
                        free(all);
                        return r;
                }
                shown++;
        }

        if (arg_json != JSON_OFF) {
                JsonWriter w;

                json_begin_output(&w);
                json_begin_object(&w);
                if (have_budget) {
                        json_field_u64(&w, "budget_bytes", budget);
                }
                if (have_granted) {
                        json_field_u64(&w, "granted_bytes", granted);
                }
                json_key(&w, "cgroups");
                json_begin_array(&w);
                for (size_t i = 0; i < n; i++)
                        if (all[i].n > 0)
                                json_stats(&w, &all[i]);
                json_end_array(&w);
                json_end_object(&w);
                json_finish(&w);
        } else {
                Table t = {
                        .ncolumns = 10,
                        .headers = { "CGROUP", "USAGE", "HIGH", "MAX", "PEAK", "GROWS", "SHRINKS", "OOMS",
                                     "PRESSURE", "OOM POLICY" },
                        .right = { false, true, true, true, true, true, true, true, true, false },
                };
                for (size_t i = 0; i < n; i++) {
                        char cur[FORMAT_BYTES_MAX], high[FORMAT_BYTES_MAX], max[FORMAT_BYTES_MAX],
                                peak[FORMAT_BYTES_MAX], grows[24], shrinks[24], ooms[24], pressure[72], policy[128];
                        const Stats *s = &all[i];
                        uint64_t v;
                        double d;

                        if (s->n == 0)
                                continue;
                        const char *row[10] = { list[i].cgroup };
                        row[1] = stats_u64(s, "current_bytes", &v) ? format_bytes(cur, v) : NULL;
                        row[2] = stats_u64(s, "high_limit_bytes", &v) ? format_bytes(high, v) : NULL;
                        row[3] = stats_u64(s, "max_limit_bytes", &v) ? format_bytes(max, v) : NULL;
                        row[4] = stats_u64(s, "peak_bytes", &v) ? format_bytes(peak, v) : NULL;
                        if (stats_u64(s, "limit_increases", &v)) {
                                snprintf(grows, sizeof grows, "%" PRIu64, v);
                                row[5] = grows;
                        }
                        if (stats_u64(s, "limit_decreases", &v)) {
                                snprintf(shrinks, sizeof shrinks, "%" PRIu64, v);
                                row[6] = shrinks;
                        }
                        /* OOM kills where the kernel counts them (v1 since
                         * 4.13, v2), else the times the OOM path ran. */
                        if (stats_u64(s, "events_oom_kill", &v) || stats_u64(s, "events_oom", &v)) {
                                snprintf(ooms, sizeof ooms, "%" PRIu64, v);
                                row[7] = ooms;
                        }
                        /* memcgd's level, and the share of time some task
                         * waited where the kernel offers PSI: "low 5.20%". */
                        {
                                char lv[32], pct[32] = "";
                                bool have_level = stats_u64(s, "pressure_level", &v);

                                if (stats_double(s, "pressure_some_avg10", &d))
                                        snprintf(pct, sizeof pct, "%.2f%%", d);
                                if (have_level)
                                        snprintf(pressure, sizeof pressure, "%s%s%s", format_pressure_level(lv, v),
                                                 pct[0] ? " " : "", pct);
                                else
                                        snprintf(pressure, sizeof pressure, "%s", pct);
                                if (pressure[0])
                                        row[8] = pressure;
                        }
                        row[9] = format_oom_policy(policy, sizeof policy, s);
                        if (table_add_row(&t, row) < 0) {
                                table_done(&t);
                                r = oom();
                                goto finish;
                        }
                }
                table_print(&t);
                table_done(&t);
                if (arg_legend) {
                        char bb[FORMAT_BYTES_MAX], gb[FORMAT_BYTES_MAX];

                        printf("\n%zu cgroup%s monitored", shown, shown == 1 ? "" : "s");
                        if (have_budget && have_granted)
                                printf("; %s of the %s budget granted", format_bytes(gb, granted),
                                       format_bytes(bb, budget));
                        printf(".\n");
                }
        }
        r = MEMCGCTL_EXIT_OK;
finish:
        for (size_t k = 0; k < n; k++)
                stats_done(&all[k]);
        free(all);
        return r;
}

/* Whether cgroup is monitored now: 1, 0, or negative when unknown. */
static int is_monitored(sd_bus *bus, const char *cgroup, uint64_t *ret_max) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(stats_done) Stats s = {};
        int r;

        r = get_stats(bus, cgroup, &s, &error);
        if (r < 0)
                return r;
        if (ret_max && !stats_u64(&s, "max_limit_bytes", ret_max))
                *ret_max = 0;
        return stats_bool(&s, "monitored");
}

static int verb_monitor(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *cgroup = args[0];
        char what[WHAT_MAX];
        uint64_t max = 0;
        int r, before;

        /* Monitor() of a monitored cgroup succeeds and leaves its limits
         * alone: look first, so that a --limit that had no effect is not
         * passed over in silence. */
        before = is_monitored(bus, cgroup, &max);

        snprintf(what, sizeof what, "monitor %s", cgroup);
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Monitor", &error, &reply, "st", cgroup,
                               arg_limit);
        if (r < 0)
                return bus_fail(what, &error, r);
        if (before > 0 && arg_limit_set && max != arg_limit && !arg_quiet) {
                char a[FORMAT_BYTES_MAX];
                fputs_escaped(cgroup, stderr);
                fprintf(stderr, " was already monitored: its limit stays at %s (change it with: memcgctl set-limit ",
                        format_bytes(a, max));
                fputs_shell_word(cgroup, stderr);
                fputs(" SIZE)\n", stderr);
        }
        return MEMCGCTL_EXIT_OK;
}

static int verb_unmonitor(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char what[WHAT_MAX];
        int r;

        snprintf(what, sizeof what, "unmonitor %s", args[0]);
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "Unmonitor", &error, NULL, "s", args[0]);
        if (r < 0)
                return bus_fail(what, &error, r);
        return MEMCGCTL_EXIT_OK;
}

static int verb_set_limit(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char what[WHAT_MAX];
        uint64_t limit = arg_size;
        int r, monitored;

        snprintf(what, sizeof what, "set the limit of %s", args[0]);
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "SetInitialLimit", &error, NULL, "st",
                               args[0], limit);
        if (r < 0)
                return bus_fail(what, &error, r);
        monitored = is_monitored(bus, args[0], NULL);
        if (monitored == 0 && !arg_quiet) {
                char a[FORMAT_BYTES_MAX];
                /* The command last, quoted: it can be pasted as it is. */
                fputs_escaped(args[0], stderr);
                fprintf(stderr, " is not monitored: %s will be its start limit once it is: memcgctl monitor ",
                        format_bytes(a, limit));
                fputs_shell_word(args[0], stderr);
                fputc('\n', stderr);
        }
        return MEMCGCTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * OOM policy and decisions */

static bool is_oom_policy(const char *p) {
        return strcmp(p, "kill") == 0 || strcmp(p, "grow") == 0 || strcmp(p, "freeze") == 0;
}

static int verb_oom_policy(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(stats_done) Stats s = {};
        const char *cgroup = args[0], *policy;
        char what[WHAT_MAX];
        uint64_t deadline;
        int r;

        if (args[1]) {
                snprintf(what, sizeof what, "set the OOM policy of %s", cgroup);
                r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "SetOomPolicy", &error, NULL,
                                       "ss", cgroup, args[1]);
                if (r < 0)
                        return bus_fail(what, &error, r);
                return MEMCGCTL_EXIT_OK;
        }

        snprintf(what, sizeof what, "get the OOM policy of %s", cgroup);
        r = get_stats(bus, cgroup, &s, &error);
        if (r == -ENOMEM)
                return oom();
        if (r < 0)
                return sd_bus_error_is_set(&error) ? bus_fail(what, &error, r) : bad_reply(what, r);
        policy = stats_string(&s, "oom_policy");
        if (!policy) {
                if (stats_bool(&s, "monitored") == 0) {
                        fputs("Failed to ", stderr);
                        fputs_escaped(what, stderr);
                        fputs(": cgroup ", stderr);
                        fputs_escaped(cgroup, stderr);
                        fputs(" is not monitored (an OOM policy belongs to a monitored cgroup).\n", stderr);
                        return MEMCGCTL_EXIT_NOT_FOUND;
                }
                fputs("Failed to ", stderr);
                fputs_escaped(what, stderr);
                fputs(": memcgd did not report one (a version without OOM policies?).\n", stderr);
                return MEMCGCTL_EXIT_FAILURE;
        }

        if (arg_json != JSON_OFF) {
                JsonWriter w;

                json_begin_output(&w);
                json_begin_object(&w);
                json_field_string(&w, "cgroup", cgroup);
                json_field_string(&w, "oom_policy", policy);
                json_key(&w, "oom_waiting");
                json_bool(&w, stats_bool(&s, "oom_waiting") > 0);
                if (stats_u64(&s, "oom_decision_deadline_usec", &deadline)) {
                        json_field_u64(&w, "oom_decision_deadline_usec", deadline);
                }
                json_end_object(&w);
                json_finish(&w);
                return MEMCGCTL_EXIT_OK;
        }
        /* stdout is the policy alone, for scripts; what it is doing now
         * is a note, ending in a command that can be pasted. */
        fputs_escaped(policy, stdout);
        putchar('\n');
        if (stats_bool(&s, "oom_waiting") > 0 && !arg_quiet) {
                char text[128];
                fputs_escaped(cgroup, stderr);
                fputs(": ", stderr);
                fputs_escaped(format_oom_policy(text, sizeof text, &s), stderr);
                fputs(". Decide with: memcgctl resolve ", stderr);
                fputs_shell_word(cgroup, stderr);
                fputs(" raise SIZE (or kill-largest, or kill-all)\n", stderr);
        }
        return MEMCGCTL_EXIT_OK;
}

static int verb_resolve(sd_bus *bus, char **args) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *cgroup = args[0], *decision = args[1];
        char what[WHAT_MAX];
        uint64_t bytes = strcmp(decision, "raise") == 0 ? arg_size : 0;
        int r;

        snprintf(what, sizeof what, "resolve the OOM of %s", cgroup);
        r = sd_bus_call_method(bus, BUS_NAME, MANAGER_PATH, MANAGER_IFACE, "ResolveOom", &error, NULL, "sst",
                               cgroup, decision, bytes);
        if (r < 0)
                return bus_fail(what, &error, r);
        return MEMCGCTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * watch */

typedef struct Watch {
        JsonWriter json;
        bool interrupted;  /* ended by SIGINT/SIGTERM/SIGHUP, not by the bus */
} Watch;

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Watch *w = userdata;

        w->interrupted = true;
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The cgroup path an object of the service stands for, or NULL. */
static char *cgroup_of_object(const char *path) {
        char *ext = NULL;

        if (!path)
                return NULL;
        if (sd_bus_path_decode(path, CGROUP_OBJECT_PREFIX, &ext) <= 0)
                return NULL;
        return ext;
}

static void watch_begin(Watch *w, uint64_t now, const char *signal) {
        char ts[FORMAT_TIMESTAMP_MAX];

        if (arg_json != JSON_OFF) {
                json_writer_init(&w->json, stdout, false);
                json_begin_object(&w->json);
                json_field_string(&w->json, "timestamp", format_timestamp_iso(ts, now));
                json_field_u64(&w->json, "realtime_usec", now);
                json_field_string(&w->json, "signal", signal);
        } else
                printf("%s %-17s", format_timestamp(ts, now), signal);
}

static void watch_end(Watch *w) {
        if (arg_json != JSON_OFF) {
                json_end_object(&w->json);
                json_finish(&w->json);
        } else {
                putchar('\n');
                fflush(stdout);
        }
}

/* What an Oom kind means, for people; NULL for a kind this version does
 * not know (printed as it came). */
static const char *oom_kind_description(const char *kind) {
        static const struct {
                const char *kind, *text;
        } kinds[] = {
                { "max", "hit its hard limit, the kernel reclaims" },
                { "oom", "out of memory at its limit" },
                { "oom_kill", "the kernel's OOM killer killed a task" },
                { "oom_group_kill", "the kernel's OOM killer killed every task" },
                { "frozen", "tasks stopped at the limit, waiting for a decision (memcgctl resolve)" },
                { "resolved", "the wait for a decision ended" },
        };
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
                if (strcmp(kind, kinds[i].kind) == 0)
                        return kinds[i].text;
        return NULL;
}

static const char *kill_cause_description(const char *cause) {
        if (strcmp(cause, "kernel") == 0)
                return "killed by the kernel's OOM killer";
        if (strcmp(cause, "decision") == 0)
                return "killed as decided (ResolveOom)";
        if (strcmp(cause, "timeout") == 0)
                return "killed: no OOM decision in time";
        return NULL;
}

/* " TEXT" on the current watch line, escaped: every string of a signal
 * comes from the service, and cgroup paths and process names from whoever
 * named them. */
static void watch_word(const char *text) {
        putchar(' ');
        fputs_escaped(text, stdout);
}

/* The a(us) of (pid, comm) at the read position of m: a JSON array of
 * {pid, comm} (the key was written by the caller), or in text
 * "LABEL comm[pid], comm[pid]" (LABEL such as ", killed:") naming at most
 * TASKS_SHOWN (a cgroup can hold thousands; JSON carries all of them).
 * A comm is whatever the process set (prctl, /proc/PID/comm): escaped. */
static void watch_tasks(Watch *w, sd_bus_message *m, const char *label) {
        enum { TASKS_SHOWN = 8 };
        bool json = arg_json != JSON_OFF;
        unsigned ntasks = 0;
        int r;

        if (json)
                json_begin_array(&w->json);
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "(us)");
        for (; r >= 0;) {
                uint32_t pid;
                const char *comm;

                r = sd_bus_message_read(m, "(us)", &pid, &comm);
                if (r <= 0)
                        break;
                if (json) {
                        json_begin_object(&w->json);
                        json_field_u64(&w->json, "pid", pid);
                        json_field_string(&w->json, "comm", comm);
                        json_end_object(&w->json);
                } else if (ntasks < TASKS_SHOWN) {
                        fputs(ntasks == 0 ? label : ",", stdout);
                        watch_word(comm);
                        printf("[%" PRIu32 "]", pid);
                }
                ntasks++;
        }
        if (json)
                json_end_array(&w->json);
        else if (ntasks > TASKS_SHOWN)
                printf(" and %u more", ntasks - TASKS_SHOWN);
        else if (ntasks == 0)
                printf(", no tasks");
}

/* A pressure level in JSON: the number under key, its name under
 * key_name (null for a level this version has no name for). */
static void json_pressure_level(JsonWriter *w, const char *key, uint8_t level) {
        char name_key[32];

        json_key(w, key);
        json_u64(w, level);
        snprintf(name_key, sizeof name_key, "%s_name", key);
        json_key(w, name_key);
        json_string(w, pressure_level_name(level));
}

/* The known signals of org.memcgd1.Manager, typed. Returns 1 when printed,
 * 0 when the signal (or its signature) is not one this version knows, so
 * the caller prints it generically. */
static int watch_manager_signal(Watch *w, sd_bus_message *m, uint64_t now) {
        const char *member = sd_bus_message_get_member(m);
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX], c[FORMAT_BYTES_MAX], lv[32];
        bool json = arg_json != JSON_OFF;
        const char *cgroup, *s;
        uint64_t x, y, z;

        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "LimitChanged") &&
            sd_bus_message_has_signature(m, "sttts")) {
                if (sd_bus_message_read(m, "sttts", &cgroup, &x, &y, &z, &s) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_u64(&w->json, "old_max", x);
                        json_field_u64(&w->json, "new_max", y);
                        json_field_u64(&w->json, "new_high", z);
                        json_field_string(&w->json, "reason", s);
                } else {
                        watch_word(cgroup);
                        watch_word(s);
                        printf(": max %s -> %s, high %s", format_bytes(a, x), format_bytes(b, y), format_bytes(c, z));
                }
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "BudgetExhausted") &&
            sd_bus_message_has_signature(m, "stt")) {
                if (sd_bus_message_read(m, "stt", &cgroup, &x, &y) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_u64(&w->json, "requested", x);
                        json_field_u64(&w->json, "granted", y);
                } else {
                        watch_word(cgroup);
                        printf(" requested %s, granted %s", format_bytes(a, x), format_bytes(b, y));
                }
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "MonitorStopped") &&
            sd_bus_message_has_signature(m, "ss")) {
                if (sd_bus_message_read(m, "ss", &cgroup, &s) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_string(&w->json, "reason", s);
                } else {
                        watch_word(cgroup);
                        watch_word(s);
                }
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "Oom") && sd_bus_message_has_signature(m, "ssta(us)")) {
                if (sd_bus_message_read(m, "sst", &cgroup, &s, &x) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_string(&w->json, "kind", s);
                        json_field_u64(&w->json, "count", x);
                        json_key(&w->json, "tasks");
                } else {
                        const char *what = oom_kind_description(s);
                        watch_word(cgroup);
                        watch_word(s);
                        printf(" (count %" PRIu64 ")%s%s", x, what ? ": " : "", what ?: "");
                }
                watch_tasks(w, m, strcmp(s, "frozen") == 0 ? ", stopped:" : ", tasks:");
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "TasksKilled") && sd_bus_message_has_signature(m, "sa(us)s")) {
                const char *cause;

                if (sd_bus_message_read(m, "s", &cgroup) < 0)
                        return 0;
                /* The cause comes after the tasks: peek at it first, the
                 * text names it before them. */
                if (sd_bus_message_skip(m, "a(us)") < 0 || sd_bus_message_read(m, "s", &cause) < 0 ||
                    sd_bus_message_rewind(m, true) < 0 || sd_bus_message_skip(m, "s") < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_string(&w->json, "cause", cause);
                        json_key(&w->json, "tasks");
                } else {
                        const char *why = kill_cause_description(cause);
                        watch_word(cgroup);
                        watch_word(cause);
                        printf("%s%s", why ? ": " : "", why ?: "");
                }
                watch_tasks(w, m, ", killed:");
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "Pressure") && sd_bus_message_has_signature(m, "sy")) {
                uint8_t level;

                if (sd_bus_message_read(m, "sy", &cgroup, &level) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_pressure_level(&w->json, "level", level);
                } else {
                        watch_word(cgroup);
                        printf(" %s", format_pressure_level(lv, level));
                }
                watch_end(w);
                return 1;
        }
        if (sd_bus_message_is_signal(m, MANAGER_IFACE, "ReclaimRequested") &&
            sd_bus_message_has_signature(m, "sttus")) {
                uint32_t reclaimers;

                if (sd_bus_message_read(m, "sttus", &cgroup, &x, &y, &reclaimers, &s) < 0)
                        return 0;
                watch_begin(w, now, member);
                if (json) {
                        json_field_string(&w->json, "cgroup", cgroup);
                        json_field_u64(&w->json, "wanted_bytes", x);
                        json_field_u64(&w->json, "asked_bytes", y);
                        json_field_u64(&w->json, "reclaimers", reclaimers);
                        json_field_string(&w->json, "cause", s);
                } else {
                        watch_word(cgroup);
                        watch_word(s);
                        printf(": wanted %s, asked %s of %" PRIu32 " reclaimer%s", format_bytes(a, x),
                               format_bytes(b, y), reclaimers, reclaimers == 1 ? "" : "s");
                }
                watch_end(w);
                return 1;
        }
        return 0;
}

/* org.freedesktop.LowMemoryMonitor.LowMemoryWarning(y state): memcgd's
 * host-wide level, as low-memory-monitor names it. */
static int watch_low_memory_warning(Watch *w, sd_bus_message *m, uint64_t now) {
        char lv[32];
        uint8_t level;

        if (!sd_bus_message_has_signature(m, "y") || sd_bus_message_read(m, "y", &level) < 0)
                return 0;
        watch_begin(w, now, "LowMemoryWarning");
        if (arg_json != JSON_OFF)
                json_pressure_level(&w->json, "state", level);
        else
                printf(" host %s", format_pressure_level(lv, level));
        watch_end(w);
        return 1;
}

/* org.memcgd1.Reclaimer.Reclaim(t chunks): memcgd sends it to the
 * reclaimer's owner alone, so watch does not receive it from others'
 * reclaimers; typed all the same, like every signal of the contract. */
static int watch_reclaim(Watch *w, sd_bus_message *m, uint64_t now) {
        const char *path = sd_bus_message_get_path(m) ?: "-";
        uint64_t chunks;

        if (!sd_bus_message_has_signature(m, "t") || sd_bus_message_read(m, "t", &chunks) < 0)
                return 0;
        watch_begin(w, now, "Reclaim");
        if (arg_json != JSON_OFF) {
                json_field_string(&w->json, "path", path);
                json_field_u64(&w->json, "chunks", chunks);
        } else
                printf(" %s %" PRIu64 " chunk%s", path, chunks, chunks == 1 ? "" : "s");
        watch_end(w);
        return 1;
}

/* org.freedesktop.DBus.Properties.PropertiesChanged, with sizes readable. */
static int watch_properties_changed(Watch *w, sd_bus_message *m, uint64_t now) {
        _cleanup_(freep) char *cgroup = cgroup_of_object(sd_bus_message_get_path(m));
        const char *iface;
        bool json = arg_json != JSON_OFF;
        int r;

        if (!sd_bus_message_has_signature(m, "sa{sv}as"))
                return 0;
        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0)
                return 0;
        watch_begin(w, now, "PropertiesChanged");
        if (json) {
                json_field_string(&w->json, "path", sd_bus_message_get_path(m));
                if (cgroup) {
                        json_field_string(&w->json, "cgroup", cgroup);
                }
                json_field_string(&w->json, "interface", iface);
                json_key(&w->json, "changed");
                (void) json_message_value(&w->json, m);
                json_key(&w->json, "invalidated");
                (void) json_message_value(&w->json, m);
                watch_end(w);
                return 1;
        }
        watch_word(cgroup ?: sd_bus_message_get_path(m));
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
        while (r >= 0) {
                const char *name, *contents;
                char buf[FORMAT_BYTES_MAX];
                size_t l;

                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
                if (r <= 0)
                        break;
                if (sd_bus_message_read(m, "s", &name) < 0 || sd_bus_message_peek_type(m, NULL, &contents) < 0)
                        break;
                l = strlen(name);
                if (strcmp(contents, "t") == 0) {
                        uint64_t v;
                        if (sd_bus_message_read(m, "v", "t", &v) < 0)
                                break;
                        /* Properties named *Bytes are sizes. */
                        watch_word(name);
                        if (l > 5 && strcmp(name + l - 5, "Bytes") == 0)
                                printf("=%s", format_bytes(buf, v));
                        else
                                printf("=%" PRIu64, v);
                } else {
                        /* Other values as JSON, whose strings escape
                         * C0 controls; C1 and the rest are escaped as
                         * anywhere else on the line. */
                        _cleanup_(freep) char *value = NULL;
                        size_t vlen = 0;
                        FILE *f = open_memstream(&value, &vlen);
                        JsonWriter jw;

                        if (!f)
                                break;
                        json_writer_init(&jw, f, false);
                        r = json_message_value(&jw, m);
                        if (fclose(f) != 0 || r < 0)
                                break;
                        watch_word(name);
                        putchar('=');
                        fputs_escaped(value, stdout);
                }
                if (sd_bus_message_exit_container(m) < 0)
                        break;
        }
        watch_end(w);
        return 1;
}

/* org.freedesktop.DBus.ObjectManager.InterfacesAdded/Removed: a cgroup's
 * object appeared or went away. */
static int watch_object_manager(Watch *w, sd_bus_message *m, uint64_t now) {
        const char *member = sd_bus_message_get_member(m), *opath;
        bool added = strcmp(member, "InterfacesAdded") == 0;
        _cleanup_(freep) char *cgroup = NULL;
        int r;

        if (!sd_bus_message_has_signature(m, added ? "oa{sa{sv}}" : "oas"))
                return 0;
        if (sd_bus_message_read(m, "o", &opath) < 0)
                return 0;
        cgroup = cgroup_of_object(opath);
        watch_begin(w, now, member);
        if (arg_json != JSON_OFF) {
                json_field_string(&w->json, "object", opath);
                if (cgroup) {
                        json_field_string(&w->json, "cgroup", cgroup);
                }
                json_key(&w->json, "interfaces");
                (void) json_message_value(&w->json, m);
                watch_end(w);
                return 1;
        }
        watch_word(cgroup ?: opath);
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, added ? "{sa{sv}}" : "s");
        while (r >= 0) {
                const char *iface;

                if (added) {
                        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sa{sv}");
                        if (r <= 0)
                                break;
                        if (sd_bus_message_read(m, "s", &iface) < 0 || sd_bus_message_skip(m, "a{sv}") < 0 ||
                            sd_bus_message_exit_container(m) < 0)
                                break;
                } else if (sd_bus_message_read(m, "s", &iface) <= 0)
                        break;
                watch_word(iface);
        }
        watch_end(w);
        return 1;
}

/* Any other signal: interface.member, path and the arguments as JSON. */
static void watch_generic(Watch *w, sd_bus_message *m, uint64_t now) {
        const char *member = sd_bus_message_get_member(m) ?: "?";

        (void) sd_bus_message_rewind(m, true);
        watch_begin(w, now, member);
        if (arg_json != JSON_OFF) {
                json_field_string(&w->json, "interface", sd_bus_message_get_interface(m));
                json_field_string(&w->json, "path", sd_bus_message_get_path(m));
                json_key(&w->json, "args");
                json_begin_array(&w->json);
                while (json_message_value(&w->json, m) > 0)
                        ;
                json_end_array(&w->json);
        } else {
                _cleanup_(freep) char *args = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&args, &len);

                printf(" %s %s.%s ", sd_bus_message_get_path(m) ?: "-", sd_bus_message_get_interface(m) ?: "-",
                       member);
                if (f) {
                        JsonWriter jw;

                        json_writer_init(&jw, f, false);
                        json_begin_array(&jw);
                        while (json_message_value(&jw, m) > 0)
                                ;
                        json_end_array(&jw);
                        if (fclose(f) == 0)
                                fputs_escaped(args, stdout);
                        else
                                fputs("[...]", stdout);
                } else
                        fputs("[...]", stdout);
        }
        watch_end(w);
}

static int on_service_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        uint64_t now = now_usec(CLOCK_REALTIME);
        int r = 0;

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Properties", "PropertiesChanged"))
                r = watch_properties_changed(w, m, now);
        else if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded") ||
                 sd_bus_message_is_signal(m, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved"))
                r = watch_object_manager(w, m, now);
        else if (sd_bus_message_is_signal(m, MANAGER_IFACE, NULL))
                r = watch_manager_signal(w, m, now);
        else if (sd_bus_message_is_signal(m, LMM_IFACE, "LowMemoryWarning"))
                r = watch_low_memory_warning(w, m, now);
        else if (sd_bus_message_is_signal(m, RECLAIMER_IFACE, "Reclaim"))
                r = watch_reclaim(w, m, now);
        if (r == 0)
                watch_generic(w, m, now);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Watch *w = userdata;
        const char *name, *old_owner, *new_owner;
        uint64_t now = now_usec(CLOCK_REALTIME);

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || strcmp(name, BUS_NAME) != 0)
                return 0;
        watch_begin(w, now, "NameOwnerChanged");
        if (arg_json != JSON_OFF) {
                json_field_string(&w->json, "name", name);
                json_field_string(&w->json, "old_owner", old_owner);
                json_field_string(&w->json, "new_owner", new_owner);
        } else if (new_owner[0] && old_owner[0])
                printf(" memcgd moved from %s to %s", old_owner, new_owner);
        else if (new_owner[0])
                printf(" memcgd started as %s", new_owner);
        else
                printf(" memcgd stopped (was %s)", old_owner);
        watch_end(w);
        return 0;
}

static int verb_watch(sd_bus *bus, char **args) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Watch w = {};
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return MEMCGCTL_EXIT_FAILURE;

        r = sd_event_default(&event);
        if (r < 0)
                return oom();
        /* Ctrl-C is the normal way to end watch: exit 0. */
        if (sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, &w) < 0 ||
            sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, &w) < 0 ||
            sd_event_add_signal(event, NULL, SIGHUP, on_exit_signal, &w) < 0)
                return oom();

        /* Every signal org.memcgd1 sends, whoever owns the name: the bus
         * applies a well-known sender in a match rule to each new owner,
         * so a restarted memcgd is followed without re-subscribing. */
        r = sd_bus_add_match(bus, NULL, "type='signal',sender='" BUS_NAME "'", on_service_signal, &w);
        if (r < 0)
                return bus_fail("subscribe to the signals of memcgd", &error, r);
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" BUS_NAME "'",
                             on_name_owner_changed, &w);
        if (r < 0)
                return bus_fail("subscribe to the start and stop of memcgd", &error, r);

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", BUS_NAME);
        if (r < 0)
                return bus_fail("ask the bus whether memcgd runs", &error, r);
        int running = 0;
        (void) sd_bus_message_read(reply, "b", &running);
        if (arg_legend && !arg_quiet)
                fprintf(stderr, "Watching memcgd signals%s. Press Ctrl-C to stop.\n",
                        running ? "" : " (memcgd is not running now; waiting for it)");

        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return oom();
        (void) sd_bus_set_exit_on_disconnect(bus, true);
        /* Leaving the loop closes the bus (sd-bus's exit source), so
         * whether the bus or a signal ended it is recorded by the signal
         * handler. */
        r = sd_event_loop(event);
        if (r >= 0 && !w.interrupted) {
                fprintf(stderr, "Failed to watch: the connection to the system bus was closed.\n");
                return MEMCGCTL_EXIT_NOT_RUNNING;
        }
        if (r < 0) {
                fprintf(stderr, "Failed to watch: %s\n", strerror(-r));
                return MEMCGCTL_EXIT_FAILURE;
        }
        return MEMCGCTL_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * Command line */

static void help(void) {
        printf("memcgctl [OPTIONS...] COMMAND ...\n"
               "\n"
               "Control memcgd, the service that gives memory cgroups elastic limits.\n"
               "\n"
               "Commands:\n"
               "  monitor CGROUP [--limit SIZE]\n"
               "                      Start elastic limits on CGROUP. Without --limit the\n"
               "                      start limit is the one set earlier with set-limit,\n"
               "                      else memcgd's configured default, else one derived\n"
               "                      from the current usage. A cgroup monitored already\n"
               "                      keeps its limits.\n"
               "  unmonitor CGROUP    Stop; its budget grant returns to the pool and the\n"
               "                      limits it had before monitor are restored.\n"
               "  set-limit CGROUP SIZE\n"
               "                      Monitored: re-base the hard limit to SIZE now (the\n"
               "                      high line follows). Not monitored: remember SIZE as\n"
               "                      the start limit of a later monitor.\n"
               "  status [CGROUP]     One cgroup in detail (any memory cgroup, monitored or\n"
               "                      not), or a table of all monitored ones: path, usage,\n"
               "                      high, max, peak, grows, shrinks, OOM kills, pressure,\n"
               "                      OOM policy (and \"waiting for a decision (27s left)\"\n"
               "                      while the freeze policy holds the cgroup).\n"
               "  list                The monitored cgroups and their D-Bus objects.\n"
               "  watch               Print every signal memcgd sends as one timestamped\n"
               "                      line, until Ctrl-C: LimitChanged, Oom, TasksKilled,\n"
               "                      BudgetExhausted, MonitorStopped, Pressure (a\n"
               "                      cgroup's level: none, low, medium, critical),\n"
               "                      ReclaimRequested, LowMemoryWarning (the host's\n"
               "                      level), PropertiesChanged, InterfacesAdded/Removed,\n"
               "                      and memcgd starting or stopping.\n"
               "  oom-policy CGROUP [kill|grow|freeze]\n"
               "                      Without a policy: print the OOM policy of the\n"
               "                      monitored CGROUP. With one: set what happens when it\n"
               "                      reaches its limit: kill (the kernel's OOM killer; the\n"
               "                      default), grow (an emergency step from the budget)\n"
               "                      or freeze (stop its tasks and wait for 'resolve').\n"
               "  resolve CGROUP raise SIZE|kill-largest|kill-all\n"
               "                      Decide for a cgroup the freeze policy stopped: raise\n"
               "                      its limit by SIZE (from the budget), kill its largest\n"
               "                      task, or kill all its tasks. Without a decision\n"
               "                      memcgd kills the largest task after its\n"
               "                      DecisionTimeout= (30 s by default).\n"
               "\n"
               "Options:\n"
               "  -h --help           Show this help and exit\n"
               "     --version        Show the version and exit\n"
               "  -l --limit=SIZE     The start limit of monitor\n"
               "     --json[=MODE]    JSON output for status, list, watch and oom-policy;\n"
               "                      MODE (after '=') is 'short' (the default: one\n"
               "                      line), 'pretty' or 'off'. watch always prints one\n"
               "                      compact object per line, whatever the MODE. Sizes\n"
               "                      are numbers of bytes.\n"
               "     --no-legend      Leave out column headers, footers and hints\n"
               "     --no-ask-password\n"
               "                      Never let polkit prompt for a password. Otherwise a\n"
               "                      polkit agent may prompt when stdin is a terminal.\n"
               "  -q --quiet          Leave out notes on stderr\n"
               "\n"
               "CGROUP is a path from the root of the memory cgroup hierarchy, as in\n"
               "/proc/PID/cgroup: /user.slice/user-1000.slice, /machine/vm1 (not \"/\").\n"
               "SIZE is a number of bytes, optionally with K, M, G, T, P or E (powers of\n"
               "1024, optionally followed by iB or B): 4096, 512M, 1.5G, 2GiB. A limit\n"
               "is always finite. Sizes print the same way: 512B, 64.0M, 1.5G (one\n"
               "decimal, rounded down); an unlimited value prints as 'infinity'.\n"
               "\n"
               "Reading (status, list, watch, oom-policy without a policy) is open to\n"
               "every user. monitor, unmonitor and setting an OOM policy need the polkit\n"
               "action org.memcgd1.monitor, set-limit org.memcgd1.set-limit, resolve\n"
               "org.memcgd1.resolve-oom; root passes without asking.\n"
               "\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  any other failure (also: resolve when the cgroup is not waiting for\n"
               "     a decision)\n"
               "  2  usage: bad command line, invalid SIZE, invalid CGROUP path, unknown\n"
               "     OOM policy or decision (checked before connecting to the bus)\n"
               "  3  not authorized (polkit denied the action)\n"
               "  4  no such cgroup, not a memory cgroup, or not monitored\n"
               "  5  memcgd is not running (or the system bus cannot be reached)\n"
               "  6  limit refused: below the current usage, out of range, or more than\n"
               "     the budget has left (also a resolve raise)\n"
               "Every error is one line on stderr: \"Failed to ACTION: MESSAGE\", the\n"
               "message as memcgd sent it.\n"
               "\n"
               "Environment:\n"
               "  DBUS_SYSTEM_BUS_ADDRESS  the system bus to talk to (default: the\n"
               "                           standard system bus socket)\n"
               "\n"
               "Examples:\n"
               "  memcgctl monitor /machine/vm1 --limit 2G\n"
               "  memcgctl status\n"
               "  memcgctl status /machine/vm1 --json | jq .max_limit_bytes\n"
               "  memcgctl watch --json\n"
               "  memcgctl oom-policy /machine/vm1 freeze\n"
               "  memcgctl resolve /machine/vm1 raise 256M\n"
               "\n"
               "See memcgctl(1) for more.\n");
}

/* The checks of each command's arguments, made before connecting: a bad
 * argument is a usage error (exit 2) whether or not the bus and memcgd
 * are there, and never costs a password prompt. memcgd checks them again
 * (paths by the same rules). Each returns 0 or the exit status, after
 * printing the error line. */

static int check_cgroup_arg(char **args) {
        return check_cgroup_path(args[0]);
}

static int check_status_args(char **args) {
        return args[0] ? check_cgroup_path(args[0]) : MEMCGCTL_EXIT_OK;
}

static int check_set_limit_args(char **args) {
        int r = check_cgroup_path(args[0]);
        return r != 0 ? r : parse_size_arg("limit", args[1], &arg_size);
}

static int check_oom_policy_args(char **args) {
        int r = check_cgroup_path(args[0]);

        if (r != 0)
                return r;
        /* memcgd refuses an unknown policy too (InvalidArgs, also exit 2). */
        if (args[1] && !is_oom_policy(args[1]))
                return usage_error("Invalid OOM policy '%s': use kill, grow or freeze", args[1]);
        return MEMCGCTL_EXIT_OK;
}

static int check_resolve_args(char **args) {
        const char *decision = args[1];
        int r = check_cgroup_path(args[0]);

        if (r != 0)
                return r;
        if (strcmp(decision, "raise") == 0) {
                if (!args[2])
                        return usage_error("'resolve CGROUP raise' needs the SIZE to raise the limit by");
                return parse_size_arg("size", args[2], &arg_size);
        }
        if (strcmp(decision, "kill-largest") == 0 || strcmp(decision, "kill-all") == 0) {
                if (args[2])
                        return usage_error("The decision '%s' takes no SIZE", decision);
                return MEMCGCTL_EXIT_OK;
        }
        return usage_error("Invalid decision '%s': use raise SIZE, kill-largest or kill-all", decision);
}

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args;
        int (*check)(char **args);      /* NULL: nothing to check */
        int (*run)(sd_bus *bus, char **args);
} Verb;

static const Verb verbs[] = {
        { "monitor", 1, 1, check_cgroup_arg, verb_monitor },
        { "unmonitor", 1, 1, check_cgroup_arg, verb_unmonitor },
        { "set-limit", 2, 2, check_set_limit_args, verb_set_limit },
        { "status", 0, 1, check_status_args, verb_status },
        { "list", 0, 0, NULL, verb_list },
        { "watch", 0, 0, NULL, verb_watch },
        { "oom-policy", 1, 2, check_oom_policy_args, verb_oom_policy },
        { "resolve", 2, 3, check_resolve_args, verb_resolve },
};

static int usage_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see memcgctl --help)\n", stderr);
        return MEMCGCTL_EXIT_USAGE;
}

/* Returns -1 to go on, else the exit status. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_NO_ASK_PASSWORD,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "limit", required_argument, NULL, 'l' },
                { "json", optional_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "quiet", no_argument, NULL, 'q' },
                {}
        };
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hl:q", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return MEMCGCTL_EXIT_OK;
                case ARG_VERSION:
                        printf("memcgctl %s\n", MEMCGD_VERSION);
                        return MEMCGCTL_EXIT_OK;
                case 'l':
                        r = parse_size_arg("limit", optarg, &arg_limit);
                        if (r != 0)
                                return r;
                        if (arg_limit == 0)
                                return usage_error("Invalid limit '%s': it must be above 0 (leave --limit out for the default)",
                                                   optarg);
                        arg_limit_set = true;
                        break;
                case ARG_JSON:
                        /* An optional argument must follow '=': "--json
                         * pretty" would make "pretty" the command or the
                         * CGROUP, and fail on that. No command or cgroup
                         * path is named like a mode, so say what was
                         * meant. */
                        if (!optarg && optind < argc &&
                            (strcmp(argv[optind], "short") == 0 || strcmp(argv[optind], "pretty") == 0 ||
                             strcmp(argv[optind], "off") == 0))
                                return usage_error("--json takes its mode after '=' (did you mean --json=%s?)",
                                                   argv[optind]);
                        if (!optarg || strcmp(optarg, "short") == 0)
                                arg_json = JSON_SHORT;
                        else if (strcmp(optarg, "pretty") == 0)
                                arg_json = JSON_PRETTY;
                        else if (strcmp(optarg, "off") == 0)
                                arg_json = JSON_OFF;
                        else
                                return usage_error("Invalid --json mode '%s': use short, pretty or off", optarg);
                        break;
                case ARG_NO_LEGEND:
                        arg_legend = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case ':':
                        return usage_error("Option '%s' needs an argument", argv[optind - 1]);
                case '?':
                default:
                        return usage_error("Unknown option '%s'", argv[optind - 1]);
                }
        return -1;
}

int main(int argc, char *argv[]) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const Verb *verb = NULL;
        unsigned nargs;
        int r;

        r = parse_argv(argc, argv);
        if (r >= 0)
                return r;
        if (optind >= argc)
                return usage_error("%s", "No command given");
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(argv[optind], verbs[i].name) == 0)
                        verb = &verbs[i];
        if (!verb)
                return usage_error("Unknown command '%s'", argv[optind]);
        nargs = (unsigned) (argc - optind - 1);
        if (nargs < verb->min_args)
                return usage_error("Too few arguments for '%s'", verb->name);
        if (nargs > verb->max_args)
                return usage_error("Too many arguments for '%s'", verb->name);
        if (arg_limit_set && verb->run != verb_monitor)
                return usage_error("--limit is an option of monitor, not of '%s'", verb->name);
        if (verb->check) {
                r = verb->check(argv + optind + 1);
                if (r != 0)
                        return r;
        }

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "Failed to connect to the system bus: %s\n", strerror(-r));
                return MEMCGCTL_EXIT_NOT_RUNNING;
        }
        /* A polkit agent can prompt only for a person at a terminal. */
        (void) sd_bus_set_allow_interactive_authorization(bus, arg_ask_password && isatty(STDIN_FILENO));

        return verb->run(bus, argv + optind + 1);
}
