/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus client of B4: calls one method of memcgd on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS) for a while, synchronously or with N calls in
 * flight (sd_bus_call_async, a new call issued from each reply), and prints
 * one JSON object: calls, seconds, rate, errors (first error name), and for
 * synchronous runs the per-call latency p50/p99.
 *
 *   bench-dbus OP [--inflight=N] [--seconds=S] [--cgroup=PATH] [--limit=BYTES]
 *   OP: ping (org.freedesktop.DBus.Peer.Ping on /org/memcgd1), getstats,
 *       list (ListMonitored), monitor-cycle (Monitor then Unmonitor of
 *       --cgroup: one round trip each; the rate counts pairs).
 *   --dest=NAME  call NAME instead of org.memcgd1 (the echo server).
 *
 *   bench-dbus echo-serve --cgroup=PATH
 *       B4's floor for GetStats: asks memcgd once for GetStats(PATH), then
 *       owns org.memcgd1.BenchEcho and answers every GetStats on
 *       /org/memcgd1 (org.memcgd1.Manager) with the same entries,
 *       appended as memcgd appends them but read from nowhere, until
 *       SIGTERM. Prints "ready"
 *       once it serves. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#define DEST "org.memcgd1"
#define ECHO_NAME "org.memcgd1.BenchEcho"
#define PATH "/org/memcgd1"
#define IFACE "org.memcgd1.Manager"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

typedef enum Op { OP_PING, OP_GETSTATS, OP_LIST, OP_MONITOR_CYCLE } Op;

typedef struct Ctx {
        sd_bus *bus;
        const char *dest;
        Op op;
        const char *cgroup;
        uint64_t limit;
        uint64_t deadline;
        unsigned long calls, errors, outstanding;
        char first_error[256];
} Ctx;

static int new_call(Ctx *c, sd_bus_message **ret, bool monitor) {
        sd_bus_message *m = NULL;
        int r;

        switch (c->op) {
        case OP_PING:
                r = sd_bus_message_new_method_call(c->bus, &m, c->dest, PATH, "org.freedesktop.DBus.Peer", "Ping");
                break;
        case OP_GETSTATS:
                r = sd_bus_message_new_method_call(c->bus, &m, c->dest, PATH, IFACE, "GetStats");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", c->cgroup);
                break;
        case OP_LIST:
                r = sd_bus_message_new_method_call(c->bus, &m, c->dest, PATH, IFACE, "ListMonitored");
                break;
        default:
                r = sd_bus_message_new_method_call(c->bus, &m, c->dest, PATH, IFACE, monitor ? "Monitor" : "Unmonitor");
                if (r >= 0)
                        r = monitor ? sd_bus_message_append(m, "st", c->cgroup, c->limit)
                                    : sd_bus_message_append(m, "s", c->cgroup);
        }
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void note_error(Ctx *c, const sd_bus_error *e, int r) {
        c->errors++;
        if (!c->first_error[0])
                snprintf(c->first_error, sizeof(c->first_error), "%s: %s", e && e->name ? e->name : "errno",
                         e && e->message ? e->message : strerror(-r));
}

static int issue(Ctx *c);

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Ctx *c = userdata;
        c->outstanding--;
        if (sd_bus_message_is_method_error(reply, NULL))
                note_error(c, sd_bus_message_get_error(reply), -EIO);
        else
                c->calls++;
        if (now_ns() < c->deadline)
                (void) issue(c);
        return 0;
}

static int issue(Ctx *c) {
        sd_bus_message *m = NULL;
        int r = new_call(c, &m, true);
        if (r < 0)
                return r;
        r = sd_bus_call_async(c->bus, NULL, m, on_reply, c, 30 * 1000000);
        sd_bus_message_unref(m);
        if (r >= 0)
                c->outstanding++;
        return r;
}

/* ---- the echo server ---------------------------------------------------- */

/* memcgd's reply, parsed once; each answer appends the same entries the
 * way memcgd does (manager-bus.c), so what differs is memcgd's reading
 * of the kernel files. */
typedef struct EchoEntry {
        char key[64];
        char type;
        union {
                uint64_t u64;
                uint32_t u32;
                int b;
                double d;
                uint8_t y;
                char *s;
        } v;
} EchoEntry;

static EchoEntry echo_entries[64];
static unsigned echo_n;

static int echo_parse(sd_bus_message *m) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while (echo_n < 64 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                EchoEntry *e = &echo_entries[echo_n];
                const char *key, *contents;
                char type;
                r = sd_bus_message_read(m, "s", &key);
                if (r >= 0)
                        r = sd_bus_message_peek_type(m, &type, &contents);
                if (r < 0)
                        return r;
                snprintf(e->key, sizeof(e->key), "%s", key);
                e->type = contents[0];
                r = sd_bus_message_enter_container(m, 'v', contents);
                if (r < 0)
                        return r;
                if (e->type == 's') {
                        const char *str;
                        r = sd_bus_message_read_basic(m, 's', &str);
                        if (r >= 0 && !(e->v.s = strdup(str)))
                                r = -ENOMEM;
                } else
                        r = sd_bus_message_read_basic(m, e->type, &e->v);
                if (r < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(m)) < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                echo_n++;
        }
        return r < 0 ? r : sd_bus_message_exit_container(m);
}

static int echo_get_stats(sd_bus_message *call, void *userdata, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && i < echo_n; i++) {
                const EchoEntry *e = &echo_entries[i];
                const char sig[2] = { e->type, 0 };
                char *p;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_string_space(reply, strlen(e->key), &p);
                if (r >= 0)
                        memcpy(p, e->key, strlen(e->key));
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', sig);
                if (r >= 0)
                        r = sd_bus_message_append_basic(reply, e->type, e->type == 's' ? (const void *) e->v.s : &e->v);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r < 0 ? r : 1;
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetStats", "s", "a{sv}", echo_get_stats, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int echo_serve(const char *cgroup) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_call_method(bus, DEST, PATH, IFACE, "GetStats", &e, &reply, "s", cgroup);
        if (r >= 0)
                r = echo_parse(reply);
        if (r < 0) {
                fprintf(stderr, "echo-serve: GetStats(%s) from memcgd: %s\n", cgroup, e.message ?: strerror(-r));
                return 1;
        }
        r = sd_bus_add_object_vtable(bus, NULL, PATH, IFACE, echo_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, ECHO_NAME, 0);
        if (r < 0) {
                fprintf(stderr, "echo-serve: cannot serve %s: %s\n", ECHO_NAME, strerror(-r));
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        break;
                if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
                        break;
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
        Ctx c = { .limit = 64 * 1048576ULL, .cgroup = "/", .dest = DEST };
        unsigned inflight = 1;
        double seconds = 3;
        const char *opname;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: bench-dbus ping|getstats|list|monitor-cycle [--inflight=N] [--seconds=S] [--cgroup=PATH] "
                                "[--dest=NAME]\n       bench-dbus echo-serve --cgroup=PATH\n");
                return 2;
        }
        opname = argv[1];
        if (strcmp(opname, "echo-serve") == 0)
                return echo_serve(argc > 2 && strncmp(argv[2], "--cgroup=", 9) == 0 ? argv[2] + 9 : "/");
        if (strcmp(opname, "ping") == 0)
                c.op = OP_PING;
        else if (strcmp(opname, "getstats") == 0)
                c.op = OP_GETSTATS;
        else if (strcmp(opname, "list") == 0)
                c.op = OP_LIST;
        else if (strcmp(opname, "monitor-cycle") == 0)
                c.op = OP_MONITOR_CYCLE;
        else {
                fprintf(stderr, "unknown op %s\n", opname);
                return 2;
        }
        for (int i = 2; i < argc; i++) {
                if (strncmp(argv[i], "--inflight=", 11) == 0)
                        inflight = (unsigned) atoi(argv[i] + 11);
                else if (strncmp(argv[i], "--seconds=", 10) == 0)
                        seconds = atof(argv[i] + 10);
                else if (strncmp(argv[i], "--cgroup=", 9) == 0)
                        c.cgroup = argv[i] + 9;
                else if (strncmp(argv[i], "--dest=", 7) == 0)
                        c.dest = argv[i] + 7;
                else if (strncmp(argv[i], "--limit=", 8) == 0)
                        c.limit = strtoull(argv[i] + 8, NULL, 10);
                else {
                        fprintf(stderr, "unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (inflight < 1 || (c.op == OP_MONITOR_CYCLE && inflight != 1)) {
                fprintf(stderr, "monitor-cycle is synchronous\n");
                return 2;
        }
        r = sd_bus_open_system(&c.bus);
        if (r < 0) {
                fprintf(stderr, "cannot connect to the system bus: %s\n", strerror(-r));
                return 1;
        }

        size_t cap = 1 << 22, n_lat = 0;
        uint64_t *lat = inflight == 1 ? malloc(cap * sizeof(uint64_t)) : NULL;
        uint64_t t0 = now_ns();
        c.deadline = t0 + (uint64_t) (seconds * 1e9);

        if (inflight == 1) {
                while (now_ns() < c.deadline) {
                        for (int half = 0; half < (c.op == OP_MONITOR_CYCLE ? 2 : 1); half++) {
                                sd_bus_error e = SD_BUS_ERROR_NULL;
                                sd_bus_message *m = NULL, *reply = NULL;
                                uint64_t t = now_ns();
                                r = new_call(&c, &m, half == 0);
                                if (r >= 0)
                                        r = sd_bus_call(c.bus, m, 30 * 1000000, &e, &reply);
                                uint64_t dt = now_ns() - t;
                                if (r < 0)
                                        note_error(&c, &e, r);
                                else if (half == (c.op == OP_MONITOR_CYCLE ? 1 : 0)) {
                                        c.calls++;
                                }
                                if (r >= 0 && lat && n_lat < cap)
                                        lat[n_lat++] = dt;
                                sd_bus_error_free(&e);
                                sd_bus_message_unref(m);
                                sd_bus_message_unref(reply);
                        }
                }
        } else {
                for (unsigned i = 0; i < inflight; i++)
                        if (issue(&c) < 0)
                                break;
                while (c.outstanding > 0) {
                        r = sd_bus_process(c.bus, NULL);
                        if (r < 0)
                                break;
                        if (r == 0)
                                (void) sd_bus_wait(c.bus, 100000);
                }
        }
        double dt = (double) (now_ns() - t0) / 1e9;
        double p50 = NAN, p99 = NAN;
        if (n_lat) {
                qsort(lat, n_lat, sizeof(*lat), cmp_u64);
                p50 = (double) lat[(size_t) ceil(0.50 * (double) n_lat) - 1] / 1000.0;
                p99 = (double) lat[(size_t) ceil(0.99 * (double) n_lat) - 1] / 1000.0;
        }
        printf("{\"op\":\"%s\",\"inflight\":%u,\"calls\":%lu,\"seconds\":%.3f,\"rate\":%.1f,\"errors\":%lu", opname,
               inflight, c.calls, dt, (double) c.calls / dt, c.errors);
        if (isfinite(p50))
                printf(",\"p50_us\":%.1f,\"p99_us\":%.1f", p50, p99);
        if (c.first_error[0]) {
                printf(",\"first_error\":\"");
                for (const char *s = c.first_error; *s; s++)
                        if (*s != '"' && *s != '\\' && (unsigned char) *s >= 0x20)
                                putchar(*s);
                printf("\"");
        }
        printf("}\n");
        free(lat);
        sd_bus_flush_close_unref(c.bus);
        return c.calls > 0 ? 0 : 1;
}
