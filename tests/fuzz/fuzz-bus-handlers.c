/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus method handlers (service/manager-bus.c, reclaim-bus.c,
 * lowmem-bus.c) and the polkit client (polkit.c) on calls built from the
 * input, dispatched into the real vtables without a bus daemon, as
 * systemd's fuzz-bus-message does.
 *
 * Set up once per process: a fake cgroup tree in a temporary directory
 * (tests/fake/fake-tree.h: /a, /a/b, /c, /big above the budget, "/sp ace"
 * and "/café" for the escaping of the state file, /nomem without memory
 * files, /file, and /link, a symbolic link), the engine on it, the
 * Manager, and an AF_UNIX socket pair: memcgd's end is an sd-bus server
 * connection carrying the object tree (manager_bus_register(),
 * reclaim_bus_register()), the other end is the client this target
 * drives. The target runs the loop itself: both connections and the
 * engine's event queue (manager_process_engine_events()).
 *
 * Authorization runs unchanged. On a peer-to-peer connection a call
 * without a sender is judged by the peer's credentials (SO_PEERCRED: this
 * process; root passes without polkit, anyone else is refused). A call
 * with a sender (":1.7", ":1.8", set by the client as a bus daemon would)
 * cannot be judged by credentials (sd-bus asks the bus daemon, and there
 * is none), so polkit.c sends its CheckAuthorization over the same
 * connection, to this client, which answers from the input: authorized,
 * not authorized, a challenge, an error, a malformed answer, or later.
 * The call is parked and dispatched again, as with the real polkitd. The
 * RequestName of org.freedesktop.LowMemoryMonitor (lowmem-bus.c) is
 * answered from the input the same way.
 *
 * The input is a sequence of operations (at most OPS_MAX): a call (which
 * method, on which object, from which sender, with the method's signature
 * or one the input chooses, extra or missing arguments, interactive or
 * not, waited for or left outstanding while more calls go out), answers
 * to polkit, a NameOwnerChanged signal (from the bus driver or spoofed by
 * a peer), a change of a fake cgroup's usage and event counters for its
 * worker to react to, a restart of the LowMemoryMonitor. Strings are
 * paths and names from a table, the input's bytes (made valid UTF-8:
 * sd-bus refuses anything else before it is sent), a table path with
 * such a component, or paths around the 4096-byte limit; numbers are the
 * edges of the limits and the budget or raw.
 *
 * Contracts checked on every reply:
 *   - a method return or an error; an error is named
 *     org.memcgd1.Error.<one of DESIGN.md §4> or org.freedesktop.DBus.Error.*
 *     and carries a message;
 *   - a call whose body does not match the method's signature is refused;
 *     a return has the signature the method declares; Monitor returns the
 *     cgroup's object, GetStats the stats of the cgroup asked for,
 *     ListMonitored valid paths with their objects, RegisterReclaimer an
 *     object below /org/memcgd1/reclaimer;
 *   - a path that breaks the path rules is InvalidPath, before polkit is
 *     asked (DESIGN.md: syntax, then authorization, then the system);
 *   - polkit is asked only for the changing methods, by a caller with a
 *     sender, for the action and details of that method and call, with
 *     AllowUserInteraction exactly when the caller set the flag; when it
 *     says no (or fails, or answers nonsense) the call gets AccessDenied,
 *     or InteractiveAuthorizationRequired for a challenge the caller did
 *     not allow, and nothing was changed; when it says yes, neither;
 *   - a caller with a sender never passes a changing method without polkit;
 *     RegisterReclaimer needs a sender;
 *   - reclaimers vanish only when the bus driver says their owner left;
 *   - the pool never grants more than the budget.
 * After the input: a Ping and a GetStats still work, every call was
 * answered, the state file lists what is monitored. Then everything is
 * undone through the bus (Unmonitor, NameOwnerChanged) so that each input
 * starts from the same state, and the pool must be back at 0; a start
 * limit remembered by SetInitialLimit cannot be undone that way, so then
 * the whole set-up is made anew.
 *
 * The temporary directory: fuzz_make_tmp_dir() (fuzz.h).
 * $MEMCGD_FUZZ_LOG=debug: the service's log on stderr (silent otherwise).
 * $MEMCGD_FUZZ_TRACE=1: every call, its reply and polkit's answers on
 * stderr (to read what a reproducer does). */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "../fake/fake-tree.h"
#include "fuzz.h"
#include "manager.h"
#include "state.h"
#include "util.h"

#define MIB_ (UINT64_C(1) << 20)
#define GIB_ (UINT64_C(1) << 30)
#define BUDGET GIB_

#define OPS_MAX 48
#define CALLS_MAX 64
#define WAIT_USEC (UINT64_C(8) * 1000000)

#define MGR_IF MEMCGD_MANAGER_INTERFACE
#define CG_IF MEMCGD_CGROUP_INTERFACE
#define RC_IF MEMCGD_RECLAIMER_INTERFACE
#define PK_IF "org.freedesktop.PolicyKit1.Authority"
#define DBUS_NAME "org.freedesktop.DBus"
#define LMM_PATH "/org/freedesktop/LowMemoryMonitor"

#define ACTION_MONITOR "org.memcgd1.monitor"
#define ACTION_SET_LIMIT "org.memcgd1.set-limit"
#define ACTION_RESOLVE_OOM "org.memcgd1.resolve-oom"
#define ACTION_RECLAIM "org.memcgd1.reclaim"

/* The senders a call may carry: none (the peer's credentials decide), or
 * one of two clients. The reset's calls come from a third. */
static const char *const senders[] = { NULL, ":1.7", ":1.8", NULL };
#define RESET_SENDER ":1.9"

/* ---- the methods ------------------------------------------------------ */

typedef enum Target {
        TARGET_MANAGER,
        TARGET_CGROUP,
        TARGET_RECLAIMER,
        TARGET_ANY,
} Target;

typedef struct Method {
        Target target;
        const char *interface, *member;
        const char *in, *out;
        const char *action;  /* what polkit is asked for a caller that is not root; NULL: never */
        bool path_first;     /* the first argument is a cgroup path, checked before anything else */
} Method;

static const Method methods[] = {
        { TARGET_MANAGER, MGR_IF, "Monitor", "st", "o", ACTION_MONITOR, true },
        { TARGET_MANAGER, MGR_IF, "Unmonitor", "s", "", ACTION_MONITOR, true },
        { TARGET_MANAGER, MGR_IF, "SetInitialLimit", "st", "", ACTION_SET_LIMIT, true },
        { TARGET_MANAGER, MGR_IF, "GetStats", "s", "a{sv}", NULL, true },
        { TARGET_MANAGER, MGR_IF, "ListMonitored", "", "a(so)", NULL, false },
        { TARGET_MANAGER, MGR_IF, "SetOomPolicy", "ss", "", ACTION_MONITOR, true },
        { TARGET_MANAGER, MGR_IF, "ResolveOom", "sst", "", ACTION_RESOLVE_OOM, true },
        { TARGET_MANAGER, MGR_IF, "RegisterReclaimer", "st", "o", ACTION_RECLAIM, true },
        { TARGET_CGROUP, CG_IF, "GetStats", "", "a{sv}", NULL, false },
        { TARGET_RECLAIMER, RC_IF, "SetReclaimable", "t", "", NULL, false },
        { TARGET_RECLAIMER, RC_IF, "AddReclaimable", "x", "", NULL, false },
        { TARGET_RECLAIMER, RC_IF, "Unregister", "", "", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.Properties", "Get", "ss", "v", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.Properties", "GetAll", "s", "a{sv}", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.Properties", "Set", "ssv", "", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.Introspectable", "Introspect", "", "s", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", "a{oa{sa{sv}}}", NULL, false },
        { TARGET_ANY, "org.freedesktop.DBus.Peer", "Ping", "", "", NULL, false },
        { TARGET_MANAGER, MGR_IF, "Frobnicate", "s", "", NULL, false },
};

#define METHOD_MONITOR (&methods[0])
#define METHOD_UNMONITOR (&methods[1])
#define METHOD_SET_INITIAL_LIMIT (&methods[2])
#define METHOD_GET_STATS (&methods[3])
#define METHOD_SET_OOM_POLICY (&methods[5])
#define METHOD_RESOLVE_OOM (&methods[6])
#define METHOD_REGISTER_RECLAIMER (&methods[7])
#define METHOD_CGROUP_GET_STATS (&methods[8])
#define METHOD_PING (&methods[17])

/* Polkit's answers, chosen by the input. */
typedef enum PolkitAnswer {
        PK_YES,             /* (true, false, {}) */
        PK_NO,              /* (false, false, {}) */
        PK_CHALLENGE,       /* (false, true, {}): a password would be asked */
        PK_ERROR,           /* an error reply */
        PK_WRONG_TYPE,      /* a method return of another type */
        PK_SHORT,           /* (bb) without the details */
        PK_YES_DETAILS,     /* (true, false, {fuzz: fuzz}) */
        PK_LATER,           /* answered after the next operations */
        _PK_MAX,
} PolkitAnswer;

static bool pk_allows(int a) {
        return a == PK_YES || a == PK_YES_DETAILS;
}

typedef struct Call {
        const Method *method;
        char *object;
        const char *interface;      /* as sent (may be NULL or another one) */
        const char *sender;
        bool interactive, no_reply, signature_ok;
        char *path;                 /* the first string argument, if any */
        char *name;                 /* the second string argument, if any */
        uint64_t number;            /* the first number argument, if any */
        bool has_path, has_name, has_number;

        sd_bus_slot *slot;
        sd_bus_message *reply;
        bool done, checked;
        /* Polkit: the question asked for this call, waiting for its answer;
         * the answer given (-1: none yet). */
        bool asked;
        sd_bus_message *question;
        int polkit;
        bool alone;                 /* no other call was under way while it was */
        bool monitored_before;      /* engine_is_monitored(path) when sent */
        unsigned reclaimers_before;
} Call;

typedef struct Harness {
        char *tmp, *root, *state_dir;
        Manager *m;
        sd_bus *server, *client;    /* the server is m->bus */
        int null_fd;
        bool euid_root;

        Call calls[CALLS_MAX];
        size_t n_calls;
        GPtrArray *polkit_queue;    /* Call*: asked about, waiting for polkit's answer, in order */
        GPtrArray *name_queue;      /* RequestName calls (lowmem-bus.c) */
        GPtrArray *reclaimer_paths; /* objects RegisterReclaimer returned in this input */
        FuzzReader *rd;
        bool tree_dirty;
        bool lowmem_started;
        bool trace;                 /* $MEMCGD_FUZZ_TRACE: every call and answer on stderr */
} Harness;

static Harness H = { .null_fd = -1 };

/* ---- time and the loop ------------------------------------------------ */

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void answer_queued(void);

static bool engine_readable(void) {
        struct pollfd p = { .fd = engine_event_fd(H.m->engine), .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* Runs both connections and the engine's queue until nothing moves. */
static void pump(void) {
        bool progress;

        do {
                int r;

                progress = false;
                while ((r = sd_bus_process(H.server, NULL)) > 0)
                        progress = true;
                FUZZ_CHECK(r >= 0, "memcgd's connection failed: %s", strerror(-r));
                while ((r = sd_bus_process(H.client, NULL)) > 0)
                        progress = true;
                FUZZ_CHECK(r >= 0, "the client's connection failed: %s", strerror(-r));
                if (engine_readable()) {
                        manager_process_engine_events(H.m);
                        progress = true;
                }
                if (H.polkit_queue->len > 0 || H.name_queue->len > 0) {
                        answer_queued();
                        progress = true;
                }
                FUZZ_CHECK(engine_budget_granted(H.m->engine) <= engine_budget_total(H.m->engine),
                           "the pool granted %" PRIu64 " of %" PRIu64 " bytes", engine_budget_granted(H.m->engine),
                           engine_budget_total(H.m->engine));
        } while (progress);
}

/* Waits up to timeout_ms for one of them to have something. */
static void sleep_on_fds(int timeout_ms) {
        struct pollfd p[3] = {
                { .fd = sd_bus_get_fd(H.server), .events = (short) sd_bus_get_events(H.server) },
                { .fd = sd_bus_get_fd(H.client), .events = (short) sd_bus_get_events(H.client) },
                { .fd = engine_event_fd(H.m->engine), .events = POLLIN },
        };
        (void) poll(p, 3, timeout_ms);
}

/* Pumps until cond(c) holds; a hang is a broken contract. */
static void wait_until(bool (*cond)(const Call *c), const Call *c, const char *what) {
        uint64_t deadline = now_us() + WAIT_USEC;

        for (;;) {
                pump();
                if (cond(c))
                        return;
                FUZZ_CHECK(now_us() < deadline, "no %s within %" PRIu64 " s", what, WAIT_USEC / 1000000);
                sleep_on_fds(10);
        }
}

static bool call_is_done(const Call *c) {
        return c->done;
}

static bool connected(const Call *unused) {
        return sd_bus_is_ready(H.server) > 0 && sd_bus_is_ready(H.client) > 0;
}

/* ---- strings and numbers from the input ------------------------------- */

static const char *const string_table[] = {
        "/a", "/a/b", "/c", "/big", "/sp ace", "/caf\xc3\xa9", "/nomem", "/file", "/link", "/link/b",
        "/missing", "/a/b/c", "/", "", "a", "/a/", "//a", "/a/./b", "/a/../c", "/a\n", "/\x7f", "/a b\\x",
        "kill", "grow", "freeze", "raise", "kill-largest", "kill-all", "KILL", "kill ",
        MGR_IF, CG_IF, RC_IF, "org.freedesktop.LowMemoryMonitor", "org.freedesktop.DBus.Properties",
        "Version", "BudgetBytes", "GrantedBytes", "MonitoredCount", "Path", "Backend", "MaxLimitBytes",
        "HighLimitBytes", "CurrentBytes", "OomPolicy", "OomWaiting", "Cgroup", "Owner", "ChunkSize",
        "ReclaimableChunks", "RequestedChunks", "Requests", ":1.7", ":1.8", "org.memcgd1",
};

/* Valid UTF-8 (sd-bus refuses anything else before sending) without NUL. */
static char *make_string(const uint8_t *p, size_t n) {
        size_t len = strnlen((const char *) p, n);
        return g_utf8_make_valid((const char *) p, (gssize) len);
}

static char *fuzz_string(FuzzReader *rd) {
        uint8_t sel = fuzz_u8(rd);

        if (sel < 0x80)
                return g_strdup(string_table[sel % G_N_ELEMENTS(string_table)]);
        if (sel < 0xc0) {
                size_t n = fuzz_u8(rd);
                if (n > rd->left)
                        n = rd->left;
                char *s = make_string(rd->p, n);
                rd->p += n;
                rd->left -= n;
                return s;
        }
        if (sel < 0xe0) {
                /* A known path with one more component from the input. */
                const char *base = string_table[fuzz_u8(rd) % 12];
                size_t n = fuzz_u8(rd) % 32;
                if (n > rd->left)
                        n = rd->left;
                _cleanup_gfree_ char *c = make_string(rd->p, n);
                rd->p += n;
                rd->left -= n;
                return g_strconcat(base, "/", c, NULL);
        }
        if (sel < 0xf0) {
                /* Around the 4096-byte limit: /a/b/xxx..., 4090..4105 bytes. */
                size_t len = 4090 + (sel & 0x0f);
                char *s = g_malloc(len + 1);
                memcpy(s, "/a/b/", 5);
                memset(s + 5, 'x', len - 5);
                for (size_t i = 200; i < len; i += 200)
                        s[i] = '/';
                s[len] = '\0';
                return s;
        }
        return g_strdup_printf("%" PRIu64, (uint64_t) fuzz_u8(rd));
}

static uint64_t fuzz_number(FuzzReader *rd) {
        static const uint64_t table[] = {
                0, 1, 4095, 4096, 8 * MIB_, 8 * MIB_ + 4096, 8 * MIB_ + 8192, 16 * MIB_, 64 * MIB_, 100 * MIB_,
                256 * MIB_, 512 * MIB_, BUDGET, BUDGET + 1, 2 * GIB_, LIMITS_MAX_BYTES, LIMITS_MAX_BYTES + 1,
                UINT64_C(1) << 40, (UINT64_C(1) << 40) + 1, UINT64_C(1) << 50, UINT64_MAX, UINT64_MAX - 1,
                (uint64_t) INT64_MAX, (uint64_t) INT64_MIN,
        };
        uint8_t sel = fuzz_u8(rd);

        if (sel < 0xc0)
                return table[sel % G_N_ELEMENTS(table)];
        if (sel < 0xe0)
                return (uint64_t) fuzz_u8(rd) * 4096;
        return fuzz_u64(rd);
}

/* ---- building calls ----------------------------------------------------- */

/* Notes the arguments the contracts look at: the first string (the path),
 * the second (a name), the first number. */
static void note_string(Call *c, const char *s) {
        if (!c->has_path) {
                c->path = g_strdup(s);
                c->has_path = true;
        } else if (!c->has_name) {
                c->name = g_strdup(s);
                c->has_name = true;
        }
}

static void note_number(Call *c, uint64_t n) {
        if (!c->has_number) {
                c->number = n;
                c->has_number = true;
        }
}

/* One complete type of the input's choosing, with a value from it. */
static int append_any(sd_bus_message *msg, FuzzReader *rd, Call *c) {
        static const char *const types[] = { "y", "b", "n", "q", "i", "u", "x", "t", "d", "s",
                                             "o", "g", "h", "v", "as", "a{sv}", "(st)", "ay" };
        const char *t = types[fuzz_u8(rd) % G_N_ELEMENTS(types)];
        uint64_t n;
        int r;

        switch (t[0]) {
        case 's': {
                _cleanup_gfree_ char *s = fuzz_string(rd);
                note_string(c, s);
                return sd_bus_message_append_basic(msg, 's', s);
        }
        case 'o': {
                _cleanup_gfree_ char *s = fuzz_string(rd);
                _cleanup_free_ char *o = NULL;
                r = sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, s, &o);
                return r < 0 ? r : sd_bus_message_append_basic(msg, 'o', o);
        }
        case 'g':
                return sd_bus_message_append_basic(msg, 'g', fuzz_u8(rd) & 1 ? "st" : "a{sv}");
        case 'h':
                return sd_bus_message_append_basic(msg, 'h', &H.null_fd);
        case 'd': {
                double d = fuzz_double_bits(rd);
                return sd_bus_message_append_basic(msg, 'd', &d);
        }
        case 'b': {
                int b = fuzz_u8(rd) & 1;
                return sd_bus_message_append_basic(msg, 'b', &b);
        }
        case 'v':
                n = fuzz_number(rd);
                if (fuzz_u8(rd) & 1)
                        return sd_bus_message_append(msg, "v", "t", n);
                {
                        _cleanup_gfree_ char *s = fuzz_string(rd);
                        return sd_bus_message_append(msg, "v", "s", s);
                }
        case 'a':
                if (t[1] == 's') {
                        _cleanup_gfree_ char *s = fuzz_string(rd);
                        return sd_bus_message_append(msg, "as", 2, s, "x");
                }
                if (t[1] == 'y') {
                        uint8_t buf[16];
                        size_t k = fuzz_u8(rd) % sizeof(buf);
                        for (size_t i = 0; i < k; i++)
                                buf[i] = fuzz_u8(rd);
                        return sd_bus_message_append_array(msg, 'y', buf, k);
                }
                {
                        _cleanup_gfree_ char *k = fuzz_string(rd);
                        return sd_bus_message_append(msg, "a{sv}", 1, k, "t", fuzz_number(rd));
                }
        case '(': {
                _cleanup_gfree_ char *s = fuzz_string(rd);
                return sd_bus_message_append(msg, "(st)", s, fuzz_number(rd));
        }
        default:
                /* The integers: raw bits, of which sd-bus keeps the width. */
                n = fuzz_number(rd);
                if (t[0] == 't' || t[0] == 'x')
                        note_number(c, n);
                return sd_bus_message_append_basic(msg, t[0], &n);
        }
}

static int append_expected(sd_bus_message *msg, const char *sig, FuzzReader *rd, Call *c) {
        int r = 0;

        for (const char *t = sig; *t && r >= 0; t++)
                switch (*t) {
                case 's': {
                        _cleanup_gfree_ char *s = fuzz_string(rd);
                        note_string(c, s);
                        r = sd_bus_message_append_basic(msg, 's', s);
                        break;
                }
                case 't':
                case 'x': {
                        uint64_t n = fuzz_number(rd);
                        note_number(c, n);
                        r = sd_bus_message_append_basic(msg, *t, &n);
                        break;
                }
                case 'v': {
                        /* Properties.Set: a value of either type. */
                        uint64_t n = fuzz_number(rd);
                        if (fuzz_u8(rd) & 1)
                                r = sd_bus_message_append(msg, "v", "t", n);
                        else {
                                _cleanup_gfree_ char *s = fuzz_string(rd);
                                r = sd_bus_message_append(msg, "v", "s", s);
                        }
                        break;
                }
                default:
                        FUZZ_CHECK(false, "no generator for '%c'", *t);
                }
        return r;
}

static char *object_for(Target target, FuzzReader *rd) {
        _cleanup_gfree_ char *s = NULL;
        char *o = NULL;

        switch (target) {
        case TARGET_MANAGER:
                return g_strdup(MEMCGD_MANAGER_PATH);
        case TARGET_CGROUP:
                s = fuzz_string(rd);
                FUZZ_CHECK(sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, s, &o) >= 0, "cannot encode a path");
                break;
        case TARGET_RECLAIMER: {
                uint8_t sel = fuzz_u8(rd);
                if (sel < 0xc0 && H.reclaimer_paths->len > 0)
                        return g_strdup(g_ptr_array_index(H.reclaimer_paths, sel % H.reclaimer_paths->len));
                s = sel < 0xe0 ? g_strdup_printf("%u", fuzz_u8(rd)) : fuzz_string(rd);
                FUZZ_CHECK(sd_bus_path_encode(MEMCGD_RECLAIMER_PREFIX, s, &o) >= 0, "cannot encode an id");
                break;
        }
        case TARGET_ANY: {
                static const char *const fixed[] = { MEMCGD_MANAGER_PATH, MEMCGD_CGROUP_PREFIX,
                                                     MEMCGD_RECLAIMER_PREFIX, "/", "/org", LMM_PATH,
                                                     "/org/memcgd1/nothing" };
                uint8_t sel = fuzz_u8(rd);
                if (sel % 4 == 1)
                        return object_for(TARGET_CGROUP, rd);
                if (sel % 4 == 2)
                        return object_for(TARGET_RECLAIMER, rd);
                return g_strdup(fixed[(sel / 4) % G_N_ELEMENTS(fixed)]);
        }
        }
        char *r = g_strdup(o);
        free(o);
        return r;
}

static void check_reply(Call *c);

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;

        c->reply = sd_bus_message_ref(reply);
        c->done = true;
        check_reply(c);
        return 0;
}

static Call *new_call(void) {
        if (H.n_calls == CALLS_MAX)
                return NULL;
        Call *c = &H.calls[H.n_calls++];
        *c = (Call) { .polkit = -1 };
        return c;
}

static void call_done(Call *c) {
        c->slot = sd_bus_slot_unref(c->slot);
        c->reply = sd_bus_message_unref(c->reply);
        c->question = sd_bus_message_unref(c->question);
        g_free(c->object);
        g_free(c->path);
        g_free(c->name);
        *c = (Call) { .polkit = -1 };
}

static const char *call_name(const Call *c);

/* Whether every call but `except` was answered (or expects no answer). */
static bool all_done(const Call *except) {
        for (size_t i = 0; i < H.n_calls; i++)
                if (&H.calls[i] != except && !H.calls[i].done)
                        return false;
        return true;
}

static void send_call(Call *c, sd_bus_message *msg) {
        int r;

        c->alone = all_done(c) && H.polkit_queue->len == 0;

        if (c->path && cgroup_path_validate(c->path, NULL) == 0)
                c->monitored_before = engine_is_monitored(H.m->engine, c->path);
        c->reclaimers_before = H.m->reclaimers.list->len;
        if (H.trace)
                fprintf(stderr, "fuzz: call %zu: %s%s%s%s\n", (size_t) (c - H.calls), call_name(c),
                        c->signature_ok ? "" : ", wrong body", c->no_reply ? ", no reply expected" : "",
                        c->interactive ? ", interactive" : "");
        if (c->no_reply) {
                r = sd_bus_message_set_expect_reply(msg, 0);
                FUZZ_CHECK(r >= 0, "set_expect_reply: %s", strerror(-r));
                r = sd_bus_send(H.client, msg, NULL);
                c->done = true;
        } else
                r = sd_bus_call_async(H.client, &c->slot, msg, on_reply, c, 0);
        FUZZ_CHECK(r >= 0, "cannot send %s.%s: %s", c->interface ?: "-", c->method->member, strerror(-r));
        if (H.trace) {
                uint64_t cookie = 0;
                (void) sd_bus_message_get_cookie(msg, &cookie);
                fprintf(stderr, "fuzz: call %zu has cookie %" PRIu64 "\n", (size_t) (c - H.calls), cookie);
        }
}

/* ---- contracts of the replies ----------------------------------------- */

static bool error_name_known(const char *name) {
        for (MemcgErrorCode e = MEMCG_ERROR_INVALID_PATH; e < _MEMCG_ERROR_MAX; e++)
                if (streq(name, memcg_error_name(e)))
                        return true;
        return g_str_has_prefix(name, "org.freedesktop.DBus.Error.") && name[strlen("org.freedesktop.DBus.Error.")];
}

/* Whether the call is sure to reach the method it names (on an object
 * that exists, for the per-cgroup and reclaimer objects): then a return
 * has the method's signature. sd-bus dispatches a call without an
 * interface to no vtable (UnknownObject). */
static bool dispatches_to_method(const Call *c) {
        if (!c->interface || !streq(c->interface, c->method->interface))
                return false;
        switch (c->method->target) {
        case TARGET_MANAGER:
                return streq(c->object, MEMCGD_MANAGER_PATH) && !streq(c->method->member, "Frobnicate");
        case TARGET_CGROUP:
                return g_str_has_prefix(c->object, MEMCGD_CGROUP_PREFIX "/");
        case TARGET_RECLAIMER:
                return g_str_has_prefix(c->object, MEMCGD_RECLAIMER_PREFIX "/");
        default:
                return true;
        }
}

/* Whether the call reached a handler of org.memcgd1.Manager with the
 * arguments it expects. */
static bool reaches_handler(const Call *c) {
        return c->signature_ok && c->method->target == TARGET_MANAGER && dispatches_to_method(c);
}

/* The checks a changing method makes before it asks polkit. */
static bool valid_before_polkit(const Call *c) {
        OomPolicy p;
        OomDecision d;

        if (!c->has_path || cgroup_path_validate(c->path, NULL) < 0)
                return false;
        if (c->method == METHOD_SET_OOM_POLICY)
                return oom_policy_from_string(c->name, &p) == 0;
        if (c->method == METHOD_RESOLVE_OOM)
                return oom_decision_from_string(c->name, &d) == 0;
        if (c->method == METHOD_REGISTER_RECLAIMER)
                return c->number >= 1 && c->number <= RECLAIM_CHUNK_SIZE_MAX && c->sender;
        return true;
}

static const char *call_name(const Call *c) {
        static char buf[4][256];
        static unsigned slot;
        char *b = buf[slot++ % 4];

        snprintf(b, sizeof(buf[0]), "%s.%s on %.80s from %s (path \"%s\")", c->interface ?: "(no interface)",
                 c->method->member, c->object, c->sender ?: "(no sender)",
                 c->path ? fuzz_esc(c->path, strnlen(c->path, 100)) : "");
        return b;
}

/* What the reply says, for failure messages. */
static const char *reply_summary(const Call *c) {
        static char buf[512];
        const sd_bus_error *e;

        if (!c->reply)
                return "no reply";
        e = sd_bus_message_get_error(c->reply);
        if (e)
                snprintf(buf, sizeof(buf), "error %s: %s", e->name, e->message ?: "");
        else
                snprintf(buf, sizeof(buf), "a return of '%s'", sd_bus_message_get_signature(c->reply, true));
        return buf;
}

static void check_stats(const Call *c, sd_bus_message *reply, const char *path) {
        bool has_cgroup = false, has_backend = false, has_monitored = false;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        FUZZ_CHECK(r > 0, "%s: stats unreadable: %s", call_name(c), strerror(-r));
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key, *contents, *s;
                char type;

                FUZZ_CHECK(sd_bus_message_read(reply, "s", &key) > 0, "%s: a key unreadable", call_name(c));
                FUZZ_CHECK(sd_bus_message_peek_type(reply, &type, &contents) > 0, "%s: a value unreadable",
                           call_name(c));
                if (streq(key, "cgroup")) {
                        FUZZ_CHECK(streq(contents, "s") && sd_bus_message_read(reply, "v", "s", &s) > 0 &&
                                           streq(s, path),
                                   "%s: stats of another cgroup", call_name(c));
                        has_cgroup = true;
                } else if (streq(key, "backend")) {
                        FUZZ_CHECK(streq(contents, "s") && sd_bus_message_read(reply, "v", "s", &s) > 0 &&
                                           (streq(s, "v1") || streq(s, "v2")),
                                   "%s: backend", call_name(c));
                        has_backend = true;
                } else {
                        has_monitored |= streq(key, "monitored");
                        FUZZ_CHECK(sd_bus_message_skip(reply, "v") >= 0, "%s: value of %s", call_name(c), key);
                }
                FUZZ_CHECK(sd_bus_message_exit_container(reply) >= 0, "%s: entry", call_name(c));
        }
        FUZZ_CHECK(r == 0, "%s: stats unreadable: %s", call_name(c), strerror(-r));
        FUZZ_CHECK(has_cgroup && has_backend && has_monitored, "%s: cgroup, backend or monitored missing",
                   call_name(c));
}

static void check_return(Call *c, sd_bus_message *reply) {
        const char *sig = sd_bus_message_get_signature(reply, true), *o;
        int r;

        if (!c->signature_ok || !dispatches_to_method(c))
                return;
        FUZZ_CHECK(streq(sig, c->method->out), "%s returned '%s', not '%s'", call_name(c), sig, c->method->out);

        if (c->method == METHOD_MONITOR) {
                _cleanup_free_ char *want = NULL;
                FUZZ_CHECK(sd_bus_message_read(reply, "o", &o) > 0, "%s: reply unreadable", call_name(c));
                FUZZ_CHECK(sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, c->path, &want) >= 0 && streq(o, want),
                           "%s returned %s", call_name(c), o);
        } else if (c->method == METHOD_REGISTER_RECLAIMER) {
                FUZZ_CHECK(sd_bus_message_read(reply, "o", &o) > 0, "%s: reply unreadable", call_name(c));
                FUZZ_CHECK(g_str_has_prefix(o, MEMCGD_RECLAIMER_PREFIX "/"), "%s returned %s", call_name(c), o);
                g_ptr_array_add(H.reclaimer_paths, g_strdup(o));
        } else if (c->method == METHOD_GET_STATS)
                check_stats(c, reply, c->path);
        else if (c->method == METHOD_CGROUP_GET_STATS) {
                _cleanup_free_ char *p = NULL;
                FUZZ_CHECK(sd_bus_path_decode(c->object, MEMCGD_CGROUP_PREFIX, &p) > 0, "%s: not a cgroup object",
                           call_name(c));
                check_stats(c, reply, p);
        } else if (streq(c->method->member, "ListMonitored")) {
                const char *p;
                r = sd_bus_message_enter_container(reply, 'a', "(so)");
                FUZZ_CHECK(r > 0, "%s: reply unreadable", call_name(c));
                while ((r = sd_bus_message_read(reply, "(so)", &p, &o)) > 0) {
                        _cleanup_free_ char *want = NULL;
                        FUZZ_CHECK(cgroup_path_validate(p, NULL) == 0, "%s listed the invalid path \"%s\"",
                                   call_name(c), fuzz_esc(p, strlen(p)));
                        FUZZ_CHECK(sd_bus_path_encode(MEMCGD_CGROUP_PREFIX, p, &want) >= 0 && streq(o, want),
                                   "%s listed %s as %s", call_name(c), p, o);
                }
                FUZZ_CHECK(r == 0, "%s: reply unreadable: %s", call_name(c), strerror(-r));
        }
}

static void check_reply(Call *c) {
        sd_bus_message *reply = c->reply;
        const sd_bus_error *e;
        bool denied_by_polkit = c->polkit >= 0 && !pk_allows(c->polkit);
        bool changing = reaches_handler(c) && c->method->action && valid_before_polkit(c);

        if (!reply || c->checked)
                return; /* no reply expected, or seen already */
        c->checked = true;
        if (H.trace) {
                uint64_t cookie = 0;
                (void) sd_bus_message_get_reply_cookie(reply, &cookie);
                fprintf(stderr, "fuzz: reply to cookie %" PRIu64 "\n", cookie);
        }
        if (H.trace)
                fprintf(stderr, "fuzz: call %zu: %s -> %s%s\n", (size_t) (c - H.calls), call_name(c), reply_summary(c),
                        c->polkit >= 0 ? " (polkit asked)" : "");

        if (!c->signature_ok && c->method->target != TARGET_ANY && dispatches_to_method(c))
                FUZZ_CHECK(sd_bus_message_is_method_error(reply, NULL), "%s with a body of the wrong type succeeded",
                           call_name(c));

        /* A caller with a sender is never root here (sd-bus cannot ask a
         * bus daemon for its credentials): polkit must have been asked. */
        if (changing && c->sender)
                FUZZ_CHECK(c->polkit >= 0, "%s was answered without asking polkit: %s", call_name(c),
                           reply_summary(c));

        if (sd_bus_message_is_method_error(reply, NULL)) {
                e = sd_bus_message_get_error(reply);
                FUZZ_CHECK(e && e->name && error_name_known(e->name), "%s failed with the error name %s",
                           call_name(c), e && e->name ? e->name : "(none)");
                FUZZ_CHECK(e->message && e->message[0], "%s failed with %s without a message", call_name(c), e->name);

                if (reaches_handler(c) && c->method->path_first && cgroup_path_validate(c->path, NULL) < 0)
                        FUZZ_CHECK(streq(e->name, memcg_error_name(MEMCG_ERROR_INVALID_PATH)),
                                   "%s: an invalid path gave %s (%s), not InvalidPath", call_name(c), e->name,
                                   e->message);
                if (denied_by_polkit) {
                        const char *want = c->polkit == PK_CHALLENGE && !c->interactive
                                                   ? SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED
                                                   : SD_BUS_ERROR_ACCESS_DENIED;
                        FUZZ_CHECK(streq(e->name, want), "%s: polkit answer %d gave %s (%s), not %s", call_name(c),
                                   c->polkit, e->name, e->message, want);
                } else if (c->polkit >= 0 || (changing && !c->sender && H.euid_root))
                        FUZZ_CHECK(!streq(e->name, SD_BUS_ERROR_ACCESS_DENIED) &&
                                           !streq(e->name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED),
                                   "%s: authorized, and yet %s (%s)", call_name(c), e->name, e->message);
                if (changing && !c->sender && !H.euid_root)
                        FUZZ_CHECK(streq(e->name, SD_BUS_ERROR_ACCESS_DENIED),
                                   "%s: a caller that is not root and has no bus name got %s (%s)", call_name(c),
                                   e->name, e->message);
        } else {
                FUZZ_CHECK(!denied_by_polkit, "%s succeeded although polkit answered %d", call_name(c), c->polkit);
                if (reaches_handler(c) && c->method == METHOD_REGISTER_RECLAIMER)
                        FUZZ_CHECK(c->sender, "%s: a reclaimer registered by a caller without a bus name",
                                   call_name(c));
                if (changing && !c->sender)
                        FUZZ_CHECK(H.euid_root, "%s passed for a caller that is not root", call_name(c));
                check_return(c, reply);
        }

        /* A refused call changed nothing (judged only when no other call
         * could have). */
        if (denied_by_polkit && c->alone) {
                if (c->method == METHOD_MONITOR || c->method == METHOD_UNMONITOR)
                        FUZZ_CHECK(engine_is_monitored(H.m->engine, c->path) == c->monitored_before,
                                   "%s: refused, and yet the cgroup is %s monitored", call_name(c),
                                   c->monitored_before ? "no longer" : "now");
                if (c->method == METHOD_REGISTER_RECLAIMER)
                        FUZZ_CHECK(H.m->reclaimers.list->len <= c->reclaimers_before,
                                   "%s: refused, and yet a reclaimer was registered", call_name(c));
        }
}

/* ---- the client's side: polkit and the bus driver -------------------- */

static Call *find_asking_call(const char *subject, const char *action, const char *cgroup) {
        for (size_t i = 0; i < H.n_calls; i++) {
                Call *c = &H.calls[i];
                if (!c->asked && c->sender && streq(c->sender, subject) && reaches_handler(c) &&
                    c->method->action && streq(c->method->action, action) && c->has_path &&
                    streq(c->path, cgroup) && (!c->done || c->no_reply))
                        return c;
        }
        return NULL;
}

static const char *detail(char **details, const char *key) {
        for (char **d = details; d && d[0] && d[1]; d += 2)
                if (streq(d[0], key))
                        return d[1];
        return NULL;
}

/* Checks what polkit is asked and finds the call it is asked for: the
 * first of the matching calls not asked about yet (memcgd handles calls,
 * and so asks, in the order they arrive). */
static Call *polkit_question(sd_bus_message *q) {
        const char *kind, *key, *name = NULL, *action, *cancel;
        g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func(g_free);
        uint32_t flags;
        char num[32];
        Call *c;
        int r;

        r = sd_bus_message_enter_container(q, 'r', "sa{sv}");
        if (r > 0)
                r = sd_bus_message_read(q, "s", &kind);
        FUZZ_CHECK(r > 0 && streq(kind, "system-bus-name"), "polkit asked about an unexpected subject");
        r = sd_bus_message_enter_container(q, 'a', "{sv}");
        FUZZ_CHECK(r > 0, "polkit subject unreadable");
        while ((r = sd_bus_message_enter_container(q, 'e', "sv")) > 0) {
                FUZZ_CHECK(sd_bus_message_read(q, "s", &key) > 0, "polkit subject key");
                if (streq(key, "name"))
                        FUZZ_CHECK(sd_bus_message_read(q, "v", "s", &name) > 0, "polkit subject name");
                else
                        FUZZ_CHECK(sd_bus_message_skip(q, "v") >= 0, "polkit subject value");
                FUZZ_CHECK(sd_bus_message_exit_container(q) >= 0, "polkit subject entry");
        }
        FUZZ_CHECK(r == 0 && sd_bus_message_exit_container(q) >= 0 && sd_bus_message_exit_container(q) >= 0,
                   "polkit subject unreadable");
        FUZZ_CHECK(name, "polkit asked about a subject without a name");
        FUZZ_CHECK(sd_bus_message_read(q, "s", &action) > 0, "polkit action unreadable");

        r = sd_bus_message_enter_container(q, 'a', "{ss}");
        FUZZ_CHECK(r > 0, "polkit details unreadable");
        const char *k, *v;
        while ((r = sd_bus_message_read(q, "{ss}", &k, &v)) > 0) {
                g_ptr_array_add(details, g_strdup(k));
                g_ptr_array_add(details, g_strdup(v));
        }
        g_ptr_array_add(details, NULL);
        FUZZ_CHECK(r == 0 && sd_bus_message_exit_container(q) >= 0, "polkit details unreadable");
        FUZZ_CHECK(sd_bus_message_read(q, "us", &flags, &cancel) > 0, "polkit flags unreadable");

        const char *cgroup = detail((char **) details->pdata, "cgroup");
        FUZZ_CHECK(cgroup, "polkit asked about %s without the cgroup", action);
        /* Syntax comes first: an invalid path never reaches polkit. */
        FUZZ_CHECK(cgroup_path_validate(cgroup, NULL) == 0, "polkit asked about %s for the invalid path \"%s\"", action,
                   fuzz_esc(cgroup, strlen(cgroup)));
        c = find_asking_call(name, action, cgroup);
        FUZZ_CHECK(c, "polkit asked whether %s may %s on \"%s\": no call of that sender needs it", name, action,
                   fuzz_esc(cgroup, strlen(cgroup)));
        FUZZ_CHECK((flags & 1) == (c->interactive ? 1u : 0u), "%s: AllowUserInteraction %u", call_name(c), flags);

        if (c->method == METHOD_SET_INITIAL_LIMIT) {
                snprintf(num, sizeof(num), "%" PRIu64, c->number);
                FUZZ_CHECK(streq_ptr(detail((char **) details->pdata, "limit"), num), "%s: polkit not told the limit",
                           call_name(c));
        } else if (c->method == METHOD_SET_OOM_POLICY)
                FUZZ_CHECK(streq_ptr(detail((char **) details->pdata, "oom_policy"), c->name),
                           "%s: polkit not told the policy", call_name(c));
        else if (c->method == METHOD_RESOLVE_OOM) {
                snprintf(num, sizeof(num), "%" PRIu64, c->number);
                FUZZ_CHECK(streq_ptr(detail((char **) details->pdata, "decision"), c->name) &&
                                   streq_ptr(detail((char **) details->pdata, "bytes"), num),
                           "%s: polkit not told the decision", call_name(c));
        }
        return c;
}

static void answer_polkit(sd_bus_message *q, int answer) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        switch (answer) {
        case PK_ERROR:
                r = sd_bus_message_new_method_errorf(q, &reply, "org.freedesktop.PolicyKit1.Error.Failed",
                                                     "polkit is having a bad day");
                break;
        case PK_WRONG_TYPE:
                r = sd_bus_message_new_method_return(q, &reply);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", "yes");
                break;
        case PK_SHORT:
                r = sd_bus_message_new_method_return(q, &reply);
                if (r >= 0)
                        r = sd_bus_message_append(reply, "(bb)", 1, 0);
                break;
        default: {
                _cleanup_gfree_ char *k = NULL, *v = NULL;
                if (answer == PK_YES_DETAILS) {
                        k = fuzz_string(H.rd);
                        v = fuzz_string(H.rd);
                }
                r = sd_bus_message_new_method_return(q, &reply);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "bb", answer == PK_YES || answer == PK_YES_DETAILS,
                                                  answer == PK_CHALLENGE);
                if (r >= 0)
                        r = answer == PK_YES_DETAILS ? sd_bus_message_append(reply, "a{ss}", 2, k, v,
                                                                             "polkit.dismissed", "true")
                                                     : sd_bus_message_append(reply, "a{ss}", 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        }
        FUZZ_CHECK(r >= 0, "cannot build polkit's answer: %s", strerror(-r));
        r = sd_bus_send(H.client, reply, NULL);
        FUZZ_CHECK(r >= 0, "cannot send polkit's answer: %s", strerror(-r));
}

static void answer_name_request(sd_bus_message *q) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint8_t how = fuzz_u8(H.rd);
        int r;

        if (how % 4 == 3)
                r = sd_bus_message_new_method_errorf(q, &reply, SD_BUS_ERROR_ACCESS_DENIED, "not yours");
        else {
                r = sd_bus_message_new_method_return(q, &reply);
                if (r >= 0 && how % 4 == 2)
                        r = sd_bus_message_append(reply, "s", "primary");
                else if (r >= 0)
                        r = sd_bus_message_append(reply, "u", (uint32_t) (how % 4 == 0 ? 1 : how / 4));
        }
        FUZZ_CHECK(r >= 0, "cannot build RequestName's answer: %s", strerror(-r));
        FUZZ_CHECK(sd_bus_send(H.client, reply, NULL) >= 0, "cannot answer RequestName");
}

/* Answers what waits, in order; an answer "later" goes to the back of the
 * queue (the input runs out eventually, and 0 says yes). */
static void answer_queued(void) {
        while (H.name_queue->len > 0) {
                sd_bus_message *q = g_ptr_array_steal_index(H.name_queue, 0);
                answer_name_request(q);
                sd_bus_message_unref(q);
        }
        if (H.polkit_queue->len > 0) {
                Call *c = g_ptr_array_steal_index(H.polkit_queue, 0);
                int answer = fuzz_u8(H.rd) % _PK_MAX;

                if (answer == PK_LATER && H.polkit_queue->len < 8) {
                        g_ptr_array_add(H.polkit_queue, c);
                        return;
                }
                if (answer == PK_LATER)
                        answer = PK_NO;
                c->polkit = answer;
                if (H.trace)
                        fprintf(stderr, "fuzz: call %zu: polkit answers %d for %s\n", (size_t) (c - H.calls), answer,
                                call_name(c));
                answer_polkit(c->question, answer);
                c->question = sd_bus_message_unref(c->question);
        }
}

static int client_filter(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        if (!sd_bus_message_is_method_call(msg, NULL, NULL))
                return 0; /* signals of the service: not asked for, dropped */
        if (sd_bus_message_is_method_call(msg, PK_IF, "CheckAuthorization")) {
                Call *c = polkit_question(msg);
                c->asked = true;
                c->question = sd_bus_message_ref(msg);
                g_ptr_array_add(H.polkit_queue, c);
                return 1;
        }
        if (sd_bus_message_is_method_call(msg, DBUS_NAME, "RequestName")) {
                g_ptr_array_add(H.name_queue, sd_bus_message_ref(msg));
                return 1;
        }
        FUZZ_CHECK(false, "memcgd called %s.%s on its peer", sd_bus_message_get_interface(msg) ?: "-",
                   sd_bus_message_get_member(msg) ?: "-");
        return 0;
}

/* ---- operations ------------------------------------------------------- */

static void op_call(FuzzReader *rd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        const Method *mt = &methods[fuzz_u8(rd) % G_N_ELEMENTS(methods)];
        uint8_t flags = fuzz_u8(rd), more = flags & 0x80 ? fuzz_u8(rd) : 0;
        Call *c = new_call();
        int r;

        if (!c)
                return;
        c->method = mt;
        c->sender = senders[flags & 3];
        c->interactive = flags & 4;
        c->no_reply = more & 4;
        c->object = object_for(flags & 0x40 ? TARGET_ANY : mt->target, rd);
        c->interface = more & 1 ? NULL : more & 2 ? MGR_IF : mt->interface;

        r = sd_bus_message_new_method_call(H.client, &msg, MEMCGD_BUS_NAME, c->object, c->interface, mt->member);
        FUZZ_CHECK(r >= 0, "cannot make a call to %s: %s", c->object, strerror(-r));
        if (c->sender)
                FUZZ_CHECK(sd_bus_message_set_sender(msg, c->sender) >= 0, "set_sender");
        if (c->interactive)
                FUZZ_CHECK(sd_bus_message_set_allow_interactive_authorization(msg, 1) >= 0, "set_allow_interactive");

        if (flags & 8) {
                /* A body of the input's choosing. */
                unsigned n = fuzz_u8(rd) % 5;
                for (unsigned i = 0; i < n && r >= 0; i++)
                        r = append_any(msg, rd, c);
        } else if (more & 8 && mt->in[0]) {
                /* One argument short. */
                _cleanup_gfree_ char *shorter = g_strndup(mt->in, strlen(mt->in) - 1);
                r = append_expected(msg, shorter, rd, c);
        } else
                r = append_expected(msg, mt->in, rd, c);
        if (r >= 0 && flags & 0x10)
                r = append_any(msg, rd, c); /* one too many */
        if (r < 0) {
                /* sd-bus refused a value before sending: nothing to test. */
                call_done(c);
                H.n_calls--;
                return;
        }
        c->signature_ok = streq(sd_bus_message_get_signature(msg, true), mt->in);

        send_call(c, msg);
        if (flags & 0x20)
                c->alone = false; /* more calls go out while it waits */
        else
                wait_until(call_is_done, c, "reply");
}

/* NameOwnerChanged, from the bus driver or from a peer pretending. */
static void op_name_owner_changed(FuzzReader *rd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        uint8_t how = fuzz_u8(rd);
        const char *name = senders[1 + how % 2];
        bool from_driver = !(how & 4);
        /* Judged only when no call under way could add or remove one. */
        bool alone = all_done(NULL) && H.polkit_queue->len == 0;
        unsigned before = H.m->reclaimers.list->len;
        int r;

        r = sd_bus_message_new_signal(H.client, &msg, "/org/freedesktop/DBus", DBUS_NAME, "NameOwnerChanged");
        FUZZ_CHECK(r >= 0, "new_signal: %s", strerror(-r));
        FUZZ_CHECK(sd_bus_message_set_sender(msg, from_driver ? DBUS_NAME : ":1.66") >= 0, "set_sender");
        if (how & 8)
                r = sd_bus_message_append(msg, "sss", name, name, "");
        else if (how & 16)
                r = sd_bus_message_append(msg, "ss", name, name);
        else {
                _cleanup_gfree_ char *a = fuzz_string(rd), *b = fuzz_string(rd), *cc = fuzz_string(rd);
                r = sd_bus_message_append(msg, "sss", a, b, cc);
        }
        FUZZ_CHECK(r >= 0, "append: %s", strerror(-r));
        FUZZ_CHECK(sd_bus_send(H.client, msg, NULL) >= 0, "cannot send NameOwnerChanged");

        /* A Ping after it: once answered, the signal was dispatched. */
        Call *c = new_call();
        if (!c)
                return;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *ping = NULL;
        c->method = METHOD_PING;
        c->object = g_strdup(MEMCGD_MANAGER_PATH);
        c->interface = METHOD_PING->interface;
        c->signature_ok = true;
        FUZZ_CHECK(sd_bus_message_new_method_call(H.client, &ping, MEMCGD_BUS_NAME, c->object, c->interface, "Ping") >= 0,
                   "new ping");
        send_call(c, ping);
        wait_until(call_is_done, c, "reply to the Ping after NameOwnerChanged");
        if (!from_driver && alone)
                FUZZ_CHECK(H.m->reclaimers.list->len == before,
                           "a NameOwnerChanged sent by the peer %s, not by the bus driver, left %u of %u reclaimer(s)",
                           ":1.66", H.m->reclaimers.list->len, before);
}

static const char *const fake_paths[] = { "/a", "/a/b", "/c", "/big", "/sp ace", "/caf\xc3\xa9" };
static const uint64_t fake_usage[] = { 10 * MIB_, 6 * MIB_, 300 * MIB_, 3 * GIB_, MIB_, 2 * MIB_ };

/* What a kernel would do to a cgroup: usage and event counters move; the
 * worker watching it reacts on its own time. */
static void op_kernel(FuzzReader *rd) {
        size_t i = fuzz_u8(rd) % G_N_ELEMENTS(fake_paths);
        uint8_t what = fuzz_u8(rd);

        H.tree_dirty = true;
        if (what & 1)
                (void) fake_write(H.root, fake_paths[i], "memory.current", "%" PRIu64 "\n", fuzz_number(rd));
        if (what & 2)
                (void) fake_events(H.root, fake_paths[i], fuzz_u8(rd), fuzz_u8(rd), fuzz_u8(rd) % 4, fuzz_u8(rd) % 4);
        /* Give its worker a moment, so that the next calls may see what
         * it made of it. */
        if (engine_is_monitored(H.m->engine, fake_paths[i])) {
                struct pollfd p = { .fd = engine_event_fd(H.m->engine), .events = POLLIN };
                (void) poll(&p, 1, 2);
        }
        pump();
}

static void op_lowmem(void) {
        if (H.lowmem_started)
                return;
        H.lowmem_started = true;
        H.m->low_memory_monitor = true;
        (void) lowmem_start(H.m);
        pump();
}

/* ---- set-up, reset, tear-down ------------------------------------------ */

static void message_unref(void *p) {
        sd_bus_message_unref(p);
}

/* The fake cgroups, as a kernel would show them unlimited; cgroup.freeze
 * lets the freeze policy stop "the tasks". There is never a cgroup.procs:
 * the kill decisions and the timeout signal the pids listed there, and
 * this process is root. */
static void make_tree(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(fake_paths); i++) {
                _cleanup_gfree_ char *procs = g_strconcat(H.root, fake_paths[i], "/cgroup.procs", NULL);

                FUZZ_CHECK(fake_cgroup(H.root, fake_paths[i], fake_usage[i]) == 0 &&
                                   fake_write(H.root, fake_paths[i], "cgroup.freeze", "0\n") == 0 &&
                                   fake_write(H.root, fake_paths[i], "cgroup.events", "populated 1\nfrozen 0\n") == 0,
                           "fake cgroup %s", fake_paths[i]);
                FUZZ_CHECK(access(procs, F_OK) < 0 && errno == ENOENT, "%s exists", procs);
        }
}

static void set_up(void) {
        const char *lvl = getenv("MEMCGD_FUZZ_LOG");
        _cleanup_gfree_ char *p = NULL;
        EngineConfig cfg;
        MemcgError err = {};
        Engine *e = NULL;
        sd_id128_t id;
        int sv[2], r;

        log_max_level = lvl ? log_level_from_string(lvl) : -1;
        H.trace = getenv("MEMCGD_FUZZ_TRACE");
        (void) signal(SIGPIPE, SIG_IGN);
        H.euid_root = geteuid() == 0;
        if (H.null_fd < 0)
                H.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        H.tmp = fuzz_make_tmp_dir("bus");
        H.root = g_build_filename(H.tmp, "root", NULL);
        H.state_dir = g_build_filename(H.tmp, "state", NULL);
        FUZZ_CHECK(mkdir(H.root, 0755) == 0, "mkdir %s", H.root);
        make_tree();
        p = g_build_filename(H.root, "nomem", NULL);
        FUZZ_CHECK(mkdir(p, 0755) == 0, "mkdir %s", p);
        g_free(p);
        p = g_build_filename(H.root, "file", NULL);
        FUZZ_CHECK(g_file_set_contents(p, "", 0, NULL), "create %s", p);
        g_free(p);
        p = g_build_filename(H.root, "link", NULL);
        FUZZ_CHECK(symlink("a", p) == 0, "symlink %s", p);

        engine_config_init_default(&cfg);
        cfg.root = H.root;
        cfg.budget_bytes = BUDGET;
        cfg.pressure_disabled = true;
        r = engine_new(&cfg, &e, &err);
        FUZZ_CHECK(r >= 0, "engine_new: %s", err.message);
        r = manager_new(e, H.state_dir, &H.m);
        FUZZ_CHECK(r >= 0, "manager_new: %s", strerror(-r));

        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0, "socketpair");
        FUZZ_CHECK(sd_id128_randomize(&id) >= 0, "id");
        FUZZ_CHECK(sd_bus_new(&H.server) >= 0 && sd_bus_set_fd(H.server, sv[0], sv[0]) >= 0 &&
                           sd_bus_set_server(H.server, 1, id) >= 0 && sd_bus_start(H.server) >= 0,
                   "server connection");
        FUZZ_CHECK(sd_bus_new(&H.client) >= 0 && sd_bus_set_fd(H.client, sv[1], sv[1]) >= 0 &&
                           sd_bus_start(H.client) >= 0,
                   "client connection");
        FUZZ_CHECK(sd_bus_add_filter(H.client, NULL, client_filter, NULL) >= 0, "filter");
        H.m->bus = H.server;
        FUZZ_CHECK(manager_bus_register(H.m) >= 0 && reclaim_bus_register(H.m) >= 0, "object tree");
        H.m->shown_budget = engine_budget_total(H.m->engine);
        H.m->shown_granted = engine_budget_granted(H.m->engine);

        H.polkit_queue = g_ptr_array_new();
        H.name_queue = g_ptr_array_new_with_free_func(message_unref);
        H.reclaimer_paths = g_ptr_array_new_with_free_func(g_free);

        /* Authenticated on both ends before the first call: sd-bus would
         * otherwise wait for it in place (blocking, with the other end in
         * this very thread) to learn whether a call may carry an fd. */
        wait_until(connected, NULL, "authentication of the connection");
}

static void tear_down(void) {
        for (size_t i = 0; i < H.n_calls; i++)
                call_done(&H.calls[i]);
        H.n_calls = 0;
        if (H.polkit_queue)
                g_ptr_array_unref(H.polkit_queue);
        if (H.name_queue)
                g_ptr_array_unref(H.name_queue);
        if (H.reclaimer_paths)
                g_ptr_array_unref(H.reclaimer_paths);
        H.polkit_queue = H.name_queue = H.reclaimer_paths = NULL;
        /* Closes memcgd's end and joins every worker. */
        H.m = manager_free(H.m);
        H.server = NULL;
        H.client = sd_bus_flush_close_unref(H.client);
        fuzz_remove_tree(H.tmp);
        free(H.tmp);
        g_free(H.root);
        g_free(H.state_dir);
        H.tmp = H.root = H.state_dir = NULL;
        H.lowmem_started = false;
}

static void tear_down_at_exit(void) {
        tear_down();
        if (H.null_fd >= 0)
                close(H.null_fd);
        H.null_fd = -1;
}

static bool no_requests(const Call *unused) {
        return g_hash_table_size(H.m->requests) == 0 && H.polkit_queue->len == 0;
}

static bool nothing_monitored(const Call *unused) {
        return g_hash_table_size(H.m->cgroups) == 0 && engine_monitored_count(H.m->engine) == 0;
}

/* The last of the Monitor and Unmonitor calls on a cgroup that succeeded
 * (in the order they were sent, which is the order memcgd reads them)
 * decides whether it is monitored once every call is answered. Not judged:
 * a path with a call that expected no reply (its outcome is unknown), or
 * with a call that waited for polkit (it takes effect when the answer
 * comes, after calls sent later). */
static void check_last_call_wins(void) {
        for (size_t i = 0; i < H.n_calls; i++) {
                const Call *c = &H.calls[i], *last = NULL;
                bool judge = true;

                if ((c->method != METHOD_MONITOR && c->method != METHOD_UNMONITOR) || !reaches_handler(c) ||
                    cgroup_path_validate(c->path, NULL) < 0)
                        continue;
                for (size_t j = 0; j < i && judge; j++)
                        if ((H.calls[j].method == METHOD_MONITOR || H.calls[j].method == METHOD_UNMONITOR) &&
                            reaches_handler(&H.calls[j]) && streq(H.calls[j].path, c->path))
                                judge = false; /* judged with the first call on the path */
                for (size_t j = i; j < H.n_calls && judge; j++) {
                        const Call *d = &H.calls[j];
                        if ((d->method != METHOD_MONITOR && d->method != METHOD_UNMONITOR) || !reaches_handler(d) ||
                            !streq(d->path, c->path))
                                continue;
                        if (d->no_reply || d->asked)
                                judge = false;
                        else if (d->reply && !sd_bus_message_is_method_error(d->reply, NULL))
                                last = d;
                }
                if (!judge || !last)
                        continue;
                MonitoredCgroup *mc = manager_get_cgroup(H.m, c->path);
                bool monitored = engine_is_monitored(H.m->engine, c->path) && mc && mc->state == CGROUP_ACTIVE;
                FUZZ_CHECK(monitored == (last->method == METHOD_MONITOR),
                           "%s succeeded last (call %zu), and yet the cgroup is %s monitored", call_name(last),
                           (size_t) (last - H.calls), monitored ? "still" : "not");
        }
}

/* The state file lists exactly the cgroups the manager keeps. */
static void check_state_file(void) {
        State s = {};
        int r = state_load(H.state_dir, &s);
        unsigned kept = 0;
        GHashTableIter it;
        MonitoredCgroup *mc;

        FUZZ_CHECK(r == 0, "the state file loads with %d (skipped lines or error)", r);
        g_hash_table_iter_init(&it, H.m->cgroups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &mc)) {
                if (mc->state == CGROUP_LEAVING)
                        continue;
                kept++;
                bool found = false;
                for (size_t i = 0; i < s.n_monitored; i++)
                        if (streq(s.monitored[i].path, mc->path)) {
                                found = true;
                                FUZZ_CHECK(s.monitored[i].oom_policy == mc->oom_policy,
                                           "the state file has OOM policy %d for %s, the manager %d",
                                           (int) s.monitored[i].oom_policy, mc->path, (int) mc->oom_policy);
                        }
                FUZZ_CHECK(found, "the state file lacks the monitored %s", fuzz_esc(mc->path, strlen(mc->path)));
        }
        FUZZ_CHECK(s.n_monitored == kept, "the state file lists %zu monitored cgroups, the manager %u",
                   s.n_monitored, kept);
        state_done(&s);
}

static void simple_call(const Method *mt, const char *object, const char *sender, const char *path,
                        bool want_success) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        Call *c = new_call();

        FUZZ_CHECK(c, "too many calls");
        c->method = mt;
        c->object = g_strdup(object);
        c->interface = mt->interface;
        c->sender = sender;
        c->signature_ok = true;
        FUZZ_CHECK(sd_bus_message_new_method_call(H.client, &msg, MEMCGD_BUS_NAME, object, mt->interface,
                                                  mt->member) >= 0,
                   "new call");
        if (sender)
                FUZZ_CHECK(sd_bus_message_set_sender(msg, sender) >= 0, "set_sender");
        if (path) {
                c->path = g_strdup(path);
                c->has_path = true;
                FUZZ_CHECK(sd_bus_message_append(msg, "s", path) >= 0, "append");
        }
        send_call(c, msg);
        wait_until(call_is_done, c, "reply");
        if (want_success)
                FUZZ_CHECK(!sd_bus_message_is_method_error(c->reply, NULL), "%s failed: %s", call_name(c),
                           sd_bus_message_get_error(c->reply)->message);
}

static void reset(void) {
        static const uint8_t none = 0;
        FuzzReader empty = { &none, 0 };
        GHashTableIter it;
        MonitoredCgroup *mc;
        GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);

        /* Whatever is asked from now on is allowed. */
        H.rd = &empty;
        wait_until(all_done, NULL, "reply to every call");
        wait_until(no_requests, NULL, "answer to every request");

        check_last_call_wins();

        /* Alive: a Ping and a GetStats of a cgroup that is always there. */
        simple_call(METHOD_PING, MEMCGD_MANAGER_PATH, NULL, NULL, true);
        simple_call(METHOD_GET_STATS, MEMCGD_MANAGER_PATH, NULL, "/a", true);
        check_state_file();

        /* Undo: every cgroup unmonitored, every reclaimer's owner gone. */
        g_hash_table_iter_init(&it, H.m->cgroups);
        while (g_hash_table_iter_next(&it, NULL, (void **) &mc))
                if (mc->state == CGROUP_ACTIVE)
                        g_ptr_array_add(paths, g_strdup(mc->path));
        for (guint i = 0; i < paths->len; i++)
                simple_call(METHOD_UNMONITOR, MEMCGD_MANAGER_PATH, RESET_SENDER, paths->pdata[i], false);
        g_ptr_array_unref(paths);
        wait_until(nothing_monitored, NULL, "end of every worker");
        for (size_t i = 1; i <= 2; i++)
                if (H.m->reclaimers.list->len > 0) {
                        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
                        FUZZ_CHECK(sd_bus_message_new_signal(H.client, &msg, "/org/freedesktop/DBus", DBUS_NAME,
                                                             "NameOwnerChanged") >= 0 &&
                                           sd_bus_message_set_sender(msg, DBUS_NAME) >= 0 &&
                                           sd_bus_message_append(msg, "sss", senders[i], senders[i], "") >= 0 &&
                                           sd_bus_send(H.client, msg, NULL) >= 0,
                                   "NameOwnerChanged");
                }
        simple_call(METHOD_PING, MEMCGD_MANAGER_PATH, NULL, NULL, true);
        FUZZ_CHECK(H.m->reclaimers.list->len == 0, "%u reclaimer(s) left after their owners left the bus",
                   H.m->reclaimers.list->len);
        FUZZ_CHECK(engine_budget_granted(H.m->engine) == 0, "%" PRIu64 " bytes still granted with nothing monitored",
                   engine_budget_granted(H.m->engine));
        check_state_file();

        for (size_t i = 0; i < H.n_calls; i++)
                call_done(&H.calls[i]);
        H.n_calls = 0;
        g_ptr_array_set_size(H.reclaimer_paths, 0);
        if (H.lowmem_started) {
                lowmem_stop(H.m);
                H.m->low_memory_monitor = false;
                H.lowmem_started = false;
        }
        if (H.tree_dirty)
                make_tree();
        H.tree_dirty = false;
        H.rd = NULL;

        /* A start limit remembered for a cgroup that is not monitored has
         * no way out through the bus: start afresh. */
        if (g_hash_table_size(H.m->remembered) > 0) {
                tear_down();
                set_up();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzReader rd = { data, size };

        if (!H.m) {
                set_up();
                atexit(tear_down_at_exit);
        }
        H.rd = &rd;

        for (unsigned n = 0; n < OPS_MAX && rd.left > 0; n++) {
                uint8_t op = fuzz_u8(&rd);

                switch (op % 16) {
                case 0 ... 10:
                        op_call(&rd);
                        break;
                case 11:
                        wait_until(all_done, NULL, "reply to every call");
                        break;
                case 12:
                        op_name_owner_changed(&rd);
                        break;
                case 13:
                        op_kernel(&rd);
                        break;
                case 14:
                        op_lowmem();
                        break;
                default:
                        pump();
                        break;
                }
        }
        reset();
        return 0;
}
