/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Load for memcgd: N clients, each its own connection to the system bus,
 * each keeping K calls in flight until it has made M calls of a mix:
 * reads (GetStats on the manager and on cgroup objects, ListMonitored,
 * properties), Monitor/Unmonitor churn on a set of cgroups, and bad
 * input (malformed paths, missing cgroups, a wrong signature, an unknown
 * method). Every reply is checked against what the contract allows for
 * that kind of call; the count of replies must equal the count of calls.
 *
 *   load-client --clients=N --calls=M [--inflight=K] --cgroups=FILE
 *               [--churn=FILE] [--unmonitored=FILE] [--latency-out=FILE]
 *               [--sample-pid=PID] [--timeout=SEC] [--seed=S]
 *               [--monitor-all=BYTES] [--label=NAME] [--unprivileged]
 *
 * --cgroups     monitored cgroups, one path a line (GetStats targets)
 * --churn       cgroups for Monitor/Unmonitor churn (none: no churn)
 * --unmonitored existing cgroups nobody monitors (Unmonitor -> NotMonitored)
 * --monitor-all instead of the load: Monitor every cgroup of --cgroups at
 *               BYTES, all calls in flight at once; exit 0 if all succeed
 * --sample-pid  read VmRSS of PID at the start, when half of all calls
 *               are answered, and at the end
 * --unprivileged the clients may change nothing: every Monitor, Unmonitor
 *               and SetInitialLimit must be refused by authorization
 *               (AccessDenied, InteractiveAuthorizationRequired), never
 *               carried out nor answered with what the cgroup's state is
 *
 * Prints a summary (calls, replies, per kind, errors by name, calls/s,
 * latency p50/p90/p99/max, RSS samples) and "RESULT ok" or "RESULT fail";
 * exits 0 only when every call got an allowed answer. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define DEST "org.memcgd1"
#define MANAGER_PATH "/org/memcgd1"
#define MANAGER_IFACE "org.memcgd1.Manager"
#define CGROUP_PREFIX "/org/memcgd1/cgroup"
#define CGROUP_IFACE "org.memcgd1.Cgroup"

#define E_INVALID_PATH "org.memcgd1.Error.InvalidPath"
#define E_NO_SUCH "org.memcgd1.Error.NoSuchCgroup"
#define E_NOT_MONITORED "org.memcgd1.Error.NotMonitored"
#define E_BELOW "org.memcgd1.Error.LimitBelowUsage"
#define E_BUDGET "org.memcgd1.Error.BudgetExceeded"
#define E_RANGE "org.memcgd1.Error.LimitOutOfRange"
#define E_FAILED "org.freedesktop.DBus.Error.Failed"
#define E_DENIED "org.freedesktop.DBus.Error.AccessDenied"
#define E_INTERACTIVE "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
#define E_INVALID_ARGS "org.freedesktop.DBus.Error.InvalidArgs"
#define E_UNKNOWN_METHOD "org.freedesktop.DBus.Error.UnknownMethod"

typedef enum Kind {
        K_GET_STATS,
        K_OBJECT_GET_STATS,
        K_LIST,
        K_PROPERTY,
        K_MONITOR,
        K_UNMONITOR,
        K_SET_LIMIT,
        K_BAD_PATH,
        K_MISSING,
        K_NOT_MONITORED,
        K_BAD_SIGNATURE,
        K_UNKNOWN_METHOD,
        _K_MAX,
} Kind;

/* The kinds that change something and so need authorization. */
#define IN_SET_CHANGING(k) ((k) == K_MONITOR || (k) == K_UNMONITOR || (k) == K_SET_LIMIT || (k) == K_NOT_MONITORED)

static const char *const kind_names[_K_MAX] = {
        [K_GET_STATS] = "GetStats",
        [K_OBJECT_GET_STATS] = "Cgroup.GetStats",
        [K_LIST] = "ListMonitored",
        [K_PROPERTY] = "Get(property)",
        [K_MONITOR] = "Monitor(churn)",
        [K_UNMONITOR] = "Unmonitor(churn)",
        [K_SET_LIMIT] = "SetInitialLimit(churn)",
        [K_BAD_PATH] = "bad path",
        [K_MISSING] = "missing cgroup",
        [K_NOT_MONITORED] = "Unmonitor(never monitored)",
        [K_BAD_SIGNATURE] = "wrong signature",
        [K_UNKNOWN_METHOD] = "unknown method",
};

/* Weights of the mix, out of 100 (churn kinds fall back to reads when
 * there is no churn set). */
static const struct {
        Kind kind;
        unsigned weight;
} mix[] = {
        { K_GET_STATS, 34 },    { K_OBJECT_GET_STATS, 6 }, { K_LIST, 12 },        { K_PROPERTY, 6 },
        { K_MONITOR, 10 },      { K_UNMONITOR, 9 },        { K_SET_LIMIT, 3 },    { K_BAD_PATH, 8 },
        { K_MISSING, 4 },       { K_NOT_MONITORED, 3 },    { K_BAD_SIGNATURE, 3 }, { K_UNKNOWN_METHOD, 2 },
};

typedef struct Client Client;

typedef struct Call {
        Client *client;
        Kind kind;
        uint64_t t0;
        char *path;          /* for messages about a wrong answer */
} Call;

struct Client {
        sd_bus *bus;
        unsigned id;
        unsigned issued, answered, inflight;
        uint64_t rng;
};

static unsigned arg_clients = 50, arg_calls = 2000, arg_inflight = 4, arg_timeout = 60;
static const char *arg_cgroups, *arg_churn, *arg_unmonitored, *arg_latency_out, *arg_label = "load";
static pid_t arg_sample_pid;
static bool arg_unprivileged;
static uint64_t arg_seed = 1, arg_monitor_all;

static char **cgroups, **churn, **unmonitored;
static size_t n_cgroups, n_churn, n_unmonitored;

static sd_event *event;
static Client *clients;
static unsigned clients_done;
static uint64_t total_calls, total_answered, half_mark;
static uint64_t *latencies;
static size_t n_latencies;
static uint64_t per_kind_calls[_K_MAX], per_kind_ok[_K_MAX], per_kind_err[_K_MAX];
static uint64_t wrong, no_reply;
static long rss_start = -1, rss_middle = -1, rss_end = -1;
/* The slowest answer of each kind, and what it was. */
static uint64_t kind_max_lat[_K_MAX];
static char kind_max_err[_K_MAX][128];

/* Errors by name. */
#define MAX_ERR_NAMES 64
static struct {
        char name[128];
        uint64_t n;
} err_names[MAX_ERR_NAMES];
static unsigned n_err_names;
static unsigned wrong_shown;

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t rnd(Client *c) {
        /* xorshift64*: a reproducible sequence per client */
        c->rng ^= c->rng >> 12;
        c->rng ^= c->rng << 25;
        c->rng ^= c->rng >> 27;
        return c->rng * UINT64_C(2685821657736338717);
}

static long read_rss_kib(pid_t pid) {
        char path[64], line[256];
        long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
                        break;
        fclose(f);
        return v;
}

static int read_list(const char *file, char ***ret, size_t *ret_n) {
        char line[8192];
        char **l = NULL;
        size_t n = 0;
        FILE *f;

        if (!file) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        f = fopen(file, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (!line[0])
                        continue;
                l = realloc(l, (n + 1) * sizeof(*l));
                if (!l || !(l[n] = strdup(line)))
                        abort();
                n++;
        }
        fclose(f);
        *ret = l;
        *ret_n = n;
        return 0;
}

static void count_error(const char *name) {
        for (unsigned i = 0; i < n_err_names; i++)
                if (strcmp(err_names[i].name, name) == 0) {
                        err_names[i].n++;
                        return;
                }
        if (n_err_names < MAX_ERR_NAMES) {
                snprintf(err_names[n_err_names].name, sizeof(err_names[0].name), "%s", name);
                err_names[n_err_names++].n = 1;
        }
}

static bool is_one_of(const char *name, const char *const *allowed) {
        for (; *allowed; allowed++)
                if (strcmp(name, *allowed) == 0)
                        return true;
        return false;
}

/* The answers the contract allows for each kind; NULL entry 0 = success
 * only. A changing call may be refused by polkit for an unprivileged
 * client; churn races (Monitor while the same path is being
 * unmonitored) answer Failed or NotMonitored. */
static bool answer_allowed(Kind k, const char *err) {
        static const char *const denied[] = { E_DENIED, E_INTERACTIVE, NULL };
        static const char *const monitor[] = { E_FAILED, E_DENIED, E_INTERACTIVE, NULL };
        static const char *const unmonitor[] = { E_NOT_MONITORED, E_DENIED, E_INTERACTIVE, NULL };
        static const char *const set_limit[] = { E_BELOW, E_BUDGET, E_FAILED, E_NOT_MONITORED, E_DENIED, E_INTERACTIVE, NULL };
        static const char *const bad_path[] = { E_INVALID_PATH, NULL };
        static const char *const missing[] = { E_NO_SUCH, NULL };
        static const char *const not_monitored[] = { E_NOT_MONITORED, E_DENIED, E_INTERACTIVE, NULL };
        static const char *const bad_sig[] = { E_INVALID_ARGS, NULL };
        static const char *const unknown[] = { E_UNKNOWN_METHOD, NULL };
        if (arg_unprivileged && IN_SET_CHANGING(k))
                /* Authorization comes before any look at the cgroup: a
                 * caller that may not act learns nothing else. */
                return err && is_one_of(err, denied);
        switch (k) {
        case K_GET_STATS:
        case K_OBJECT_GET_STATS: /* only the monitored set, never churned */
        case K_LIST:
        case K_PROPERTY:
                return !err;
        case K_MONITOR:
                return !err || is_one_of(err, monitor);
        case K_UNMONITOR:
                return !err || is_one_of(err, unmonitor);
        case K_SET_LIMIT:
                return !err || is_one_of(err, set_limit);
        case K_BAD_PATH:
                return err && is_one_of(err, bad_path);
        case K_MISSING:
                return err && is_one_of(err, missing);
        case K_NOT_MONITORED:
                return err && is_one_of(err, not_monitored);
        case K_BAD_SIGNATURE:
                return err && is_one_of(err, bad_sig);
        case K_UNKNOWN_METHOD:
                return err && is_one_of(err, unknown);
        default:
                return false;
        }
}

static int issue(Client *c);

static void finish_call(Call *call, const sd_bus_error *e, bool timed_out) {
        Client *c = call->client;
        uint64_t lat = now_usec() - call->t0;
        const char *err = e && sd_bus_error_is_set(e) ? e->name : NULL;

        c->inflight--;
        c->answered++;
        total_answered++;
        latencies[n_latencies++] = lat;

        if (timed_out || (err && (strcmp(err, SD_BUS_ERROR_NO_REPLY) == 0 || strcmp(err, SD_BUS_ERROR_TIMEOUT) == 0 ||
                                  strcmp(err, SD_BUS_ERROR_DISCONNECTED) == 0 ||
                                  strcmp(err, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 ||
                                  strcmp(err, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0))) {
                /* Not an answer from memcgd. */
                no_reply++;
                if (wrong_shown++ < 10)
                        fprintf(stderr, "%s: client %u: %s(%s): no answer: %s\n", arg_label, c->id,
                                kind_names[call->kind], call->path ? call->path : "", err ? err : "timeout");
        } else if (!answer_allowed(call->kind, err)) {
                wrong++;
                if (wrong_shown++ < 10)
                        fprintf(stderr, "%s: client %u: %s(%.80s): unexpected answer %s: %s\n", arg_label, c->id,
                                kind_names[call->kind], call->path ? call->path : "", err ? err : "success",
                                err && e->message ? e->message : "");
        }
        if (err) {
                per_kind_err[call->kind]++;
                count_error(err);
        } else
                per_kind_ok[call->kind]++;
        if (lat > kind_max_lat[call->kind]) {
                kind_max_lat[call->kind] = lat;
                snprintf(kind_max_err[call->kind], sizeof(kind_max_err[0]), "%s", err ?: "success");
        }

        if (arg_sample_pid > 0 && rss_middle < 0 && total_answered >= half_mark)
                rss_middle = read_rss_kib(arg_sample_pid);

        free(call->path);
        free(call);

        if (c->issued < arg_calls)
                (void) issue(c);
        else if (c->inflight == 0 && ++clients_done == arg_clients)
                sd_event_exit(event, 0);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *call = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        finish_call(call, e, false);
        return 0;
}

static Kind pick_kind(Client *c) {
        unsigned r = (unsigned) (rnd(c) % 100), acc = 0;
        Kind k = K_GET_STATS;

        for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
                acc += mix[i].weight;
                if (r < acc) {
                        k = mix[i].kind;
                        break;
                }
        }
        if ((k == K_MONITOR || k == K_UNMONITOR || k == K_SET_LIMIT) && n_churn == 0)
                k = K_GET_STATS;
        if (k == K_NOT_MONITORED && n_unmonitored == 0)
                k = K_MISSING;
        return k;
}

static char *bad_path(Client *c) {
        static const char *const fixed[] = {
                "", "relative", "/", "/a/../b", "/a/./b", "//double", "/trailing/", "/a//b", "/..", "/.",
                "/ctl\001char", "/esc\033[31m", "/nl\nline",
        };
        unsigned n = sizeof(fixed) / sizeof(fixed[0]);
        unsigned i = (unsigned) (rnd(c) % (n + 1));
        if (i < n)
                return strdup(fixed[i]);
        /* Longer than the 4096 bytes a path may have. */
        char *s = malloc(5002);
        if (!s)
                abort();
        s[0] = '/';
        memset(s + 1, 'x', 5000);
        s[5001] = 0;
        return s;
}

static int issue(Client *c) {
        __attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *m = NULL;
        Call *call = calloc(1, sizeof(*call));
        const char *p;
        char *obj = NULL;
        int r;

        if (!call)
                abort();
        call->client = c;
        call->kind = pick_kind(c);
        per_kind_calls[call->kind]++;

        switch (call->kind) {
        case K_GET_STATS:
                p = cgroups[rnd(c) % n_cgroups];
                call->path = strdup(p);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "GetStats");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", p);
                break;
        case K_OBJECT_GET_STATS:
                p = cgroups[rnd(c) % n_cgroups];
                call->path = strdup(p);
                r = sd_bus_path_encode(CGROUP_PREFIX, p, &obj);
                if (r >= 0)
                        r = sd_bus_message_new_method_call(c->bus, &m, DEST, obj, CGROUP_IFACE, "GetStats");
                free(obj);
                break;
        case K_LIST:
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "ListMonitored");
                break;
        case K_PROPERTY:
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, "org.freedesktop.DBus.Properties",
                                                   "Get");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ss", MANAGER_IFACE,
                                                  (rnd(c) & 1) ? "GrantedBytes" : "MonitoredCount");
                break;
        case K_MONITOR:
                p = churn[rnd(c) % n_churn];
                call->path = strdup(p);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "Monitor");
                if (r >= 0)
                        r = sd_bus_message_append(m, "st", p, (uint64_t) 32 << 20);
                break;
        case K_UNMONITOR:
                p = churn[rnd(c) % n_churn];
                call->path = strdup(p);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "Unmonitor");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", p);
                break;
        case K_SET_LIMIT:
                p = churn[rnd(c) % n_churn];
                call->path = strdup(p);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "SetInitialLimit");
                if (r >= 0)
                        r = sd_bus_message_append(m, "st", p, (uint64_t) (24 + rnd(c) % 24) << 20);
                break;
        case K_BAD_PATH:
                call->path = bad_path(c);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE,
                                                   (rnd(c) & 1) ? "Monitor" : "Unmonitor");
                if (r >= 0 && strcmp(sd_bus_message_get_member(m), "Monitor") == 0)
                        r = sd_bus_message_append(m, "st", call->path, (uint64_t) 64 << 20);
                else if (r >= 0)
                        r = sd_bus_message_append(m, "s", call->path);
                break;
        case K_MISSING: {
                char buf[128];
                snprintf(buf, sizeof(buf), "/memcgd-load-missing-%u-%" PRIu64, c->id, rnd(c) % 1000);
                call->path = strdup(buf);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "GetStats");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", buf);
                break;
        }
        case K_NOT_MONITORED:
                p = unmonitored[rnd(c) % n_unmonitored];
                call->path = strdup(p);
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "Unmonitor");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", p);
                break;
        case K_BAD_SIGNATURE:
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "Monitor");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", cgroups[0]);
                break;
        case K_UNKNOWN_METHOD:
                r = sd_bus_message_new_method_call(c->bus, &m, DEST, MANAGER_PATH, MANAGER_IFACE, "NoSuchMethod");
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0) {
                fprintf(stderr, "%s: building a %s call: %s\n", arg_label, kind_names[call->kind], strerror(-r));
                exit(2);
        }

        call->t0 = now_usec();
        c->issued++;
        c->inflight++;
        total_calls++;
        r = sd_bus_call_async(c->bus, NULL, m, on_reply, call, (uint64_t) arg_timeout * 1000000);
        if (r < 0) {
                /* Counted as a call without an answer. */
                sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(SD_BUS_ERROR_DISCONNECTED, "send failed");
                fprintf(stderr, "%s: client %u: sending: %s\n", arg_label, c->id, strerror(-r));
                finish_call(call, &e, true);
        }
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, size_t n, double p) {
        if (n == 0)
                return 0;
        size_t i = (size_t) (p * (double) (n - 1) + 0.5);
        return sorted[i < n ? i : n - 1];
}

/* --monitor-all: every cgroup of --cgroups, 64 calls in flight (the bus
 * allows a connection 128 pending replies by default). */
#define MONITOR_ALL_INFLIGHT 64
static sd_bus *ma_bus;
static size_t ma_next;
static unsigned ma_pending, ma_failed;

static int on_monitor_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static void monitor_next(void) {
        while (ma_pending < MONITOR_ALL_INFLIGHT && ma_next < n_cgroups) {
                const char *p = cgroups[ma_next++];
                int r = sd_bus_call_method_async(ma_bus, NULL, DEST, MANAGER_PATH, MANAGER_IFACE, "Monitor",
                                                 on_monitor_reply, (void *) p, "st", p, arg_monitor_all);
                if (r < 0) {
                        fprintf(stderr, "%s: Monitor(%s): %s\n", arg_label, p, strerror(-r));
                        ma_failed++;
                } else
                        ma_pending++;
        }
        if (ma_pending == 0)
                sd_event_exit(event, 0);
}

static int on_monitor_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        if (e) {
                ma_failed++;
                fprintf(stderr, "%s: Monitor(%s): %s: %s\n", arg_label, (char *) userdata, e->name, e->message);
        }
        ma_pending--;
        monitor_next();
        return 0;
}

static int monitor_all(void) {
        int r = sd_bus_open_system(&ma_bus);
        if (r < 0) {
                fprintf(stderr, "%s: connecting to the system bus: %s\n", arg_label, strerror(-r));
                return 2;
        }
        sd_bus_attach_event(ma_bus, event, 0);
        monitor_next();
        if (ma_pending > 0)
                sd_event_loop(event);
        printf("%s: monitored %zu cgroup(s), %u failed\n", arg_label, n_cgroups - ma_failed, ma_failed);
        sd_bus_flush_close_unref(ma_bus);
        return ma_failed ? 1 : 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "clients", required_argument, NULL, 'c' },   { "calls", required_argument, NULL, 'n' },
                { "inflight", required_argument, NULL, 'k' },  { "cgroups", required_argument, NULL, 'g' },
                { "churn", required_argument, NULL, 'h' },     { "unmonitored", required_argument, NULL, 'u' },
                { "latency-out", required_argument, NULL, 'l' }, { "sample-pid", required_argument, NULL, 'p' },
                { "timeout", required_argument, NULL, 't' },   { "seed", required_argument, NULL, 's' },
                { "monitor-all", required_argument, NULL, 'm' }, { "label", required_argument, NULL, 'L' },
                { "unprivileged", no_argument, NULL, 'U' },
                {}
        };
        int opt, r;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case 'c': arg_clients = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'n': arg_calls = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'k': arg_inflight = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'g': arg_cgroups = optarg; break;
                case 'h': arg_churn = optarg; break;
                case 'u': arg_unmonitored = optarg; break;
                case 'l': arg_latency_out = optarg; break;
                case 'p': arg_sample_pid = (pid_t) strtol(optarg, NULL, 10); break;
                case 't': arg_timeout = (unsigned) strtoul(optarg, NULL, 10); break;
                case 's': arg_seed = strtoull(optarg, NULL, 10); break;
                case 'm': arg_monitor_all = strtoull(optarg, NULL, 10); break;
                case 'L': arg_label = optarg; break;
                case 'U': arg_unprivileged = true; break;
                default: return 64;
                }
        if (!arg_cgroups || arg_clients == 0 || arg_calls == 0 || arg_inflight == 0) {
                fprintf(stderr, "usage: load-client --clients=N --calls=M --cgroups=FILE [...]\n");
                return 64;
        }
        if (read_list(arg_cgroups, &cgroups, &n_cgroups) < 0 || n_cgroups == 0 ||
            read_list(arg_churn, &churn, &n_churn) < 0 || read_list(arg_unmonitored, &unmonitored, &n_unmonitored) < 0) {
                fprintf(stderr, "%s: cannot read the cgroup lists\n", arg_label);
                return 64;
        }
        r = sd_event_default(&event);
        if (r < 0)
                return 2;
        if (arg_monitor_all)
                return monitor_all();

        latencies = calloc((size_t) arg_clients * arg_calls, sizeof(*latencies));
        clients = calloc(arg_clients, sizeof(*clients));
        if (!latencies || !clients)
                return 2;
        half_mark = (uint64_t) arg_clients * arg_calls / 2;

        for (unsigned i = 0; i < arg_clients; i++) {
                Client *c = &clients[i];
                c->id = i;
                c->rng = arg_seed * 1000003u + i * 7919u + 1;
                r = sd_bus_open_system(&c->bus);
                if (r < 0) {
                        fprintf(stderr, "%s: client %u: connecting to the system bus: %s\n", arg_label, i, strerror(-r));
                        return 2;
                }
                r = sd_bus_attach_event(c->bus, event, 0);
                if (r < 0)
                        return 2;
        }
        if (arg_sample_pid > 0)
                rss_start = read_rss_kib(arg_sample_pid);

        uint64_t t0 = now_usec();
        for (unsigned i = 0; i < arg_clients; i++)
                for (unsigned k = 0; k < arg_inflight && clients[i].issued < arg_calls; k++)
                        issue(&clients[i]);
        r = sd_event_loop(event);
        uint64_t elapsed = now_usec() - t0;
        if (arg_sample_pid > 0)
                rss_end = read_rss_kib(arg_sample_pid);

        qsort(latencies, n_latencies, sizeof(*latencies), cmp_u64);
        if (arg_latency_out) {
                FILE *f = fopen(arg_latency_out, "we");
                if (f) {
                        for (size_t i = 0; i < n_latencies; i++)
                                fprintf(f, "%" PRIu64 "\n", latencies[i]);
                        fclose(f);
                }
        }

        printf("%s: %u clients x %u calls, %u in flight each\n", arg_label, arg_clients, arg_calls, arg_inflight);
        printf("%s: calls %" PRIu64 ", replies %" PRIu64 ", no answer %" PRIu64 ", not allowed %" PRIu64 "\n",
               arg_label, total_calls, total_answered - no_reply, no_reply, wrong);
        for (Kind k = 0; k < _K_MAX; k++)
                if (per_kind_calls[k])
                        printf("%s:   %-28s %7" PRIu64 " calls %7" PRIu64 " ok %7" PRIu64 " errors, slowest %8.2f ms (%s)\n",
                               arg_label, kind_names[k], per_kind_calls[k], per_kind_ok[k], per_kind_err[k],
                               (double) kind_max_lat[k] / 1000.0, kind_max_err[k]);
        for (unsigned i = 0; i < n_err_names; i++)
                printf("%s:   error %-60s %7" PRIu64 "\n", arg_label, err_names[i].name, err_names[i].n);
        printf("%s: %.1f s, %.0f calls/s; latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f\n", arg_label,
               (double) elapsed / 1e6, (double) total_answered / ((double) elapsed / 1e6),
               (double) pct(latencies, n_latencies, 0.50) / 1000.0, (double) pct(latencies, n_latencies, 0.90) / 1000.0,
               (double) pct(latencies, n_latencies, 0.99) / 1000.0,
               n_latencies ? (double) latencies[n_latencies - 1] / 1000.0 : 0.0);
        if (arg_sample_pid > 0)
                printf("%s: memcgd RSS KiB start %ld middle %ld end %ld\n", arg_label, rss_start, rss_middle, rss_end);

        bool ok = r >= 0 && total_calls == (uint64_t) arg_clients * arg_calls && total_answered == total_calls &&
                  no_reply == 0 && wrong == 0;
        printf("RESULT %s\n", ok ? "ok" : "fail");
        for (unsigned i = 0; i < arg_clients; i++)
                sd_bus_flush_close_unref(clients[i].bus);
        sd_event_unref(event);
        return ok ? 0 : 1;
}
