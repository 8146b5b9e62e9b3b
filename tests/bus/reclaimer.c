/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A test reclaimer, after the seed's mempressure_test.c: it joins a
 * cgroup, registers with memcgd (Manager.RegisterReclaimer), and keeps
 * allocating chunks up to --chunks, declaring them reclaimable in batches
 * of a tenth (AddReclaimable), as the seed's consume_memory() does. On
 * each Reclaim(n) signal it frees n chunks at once, except --keep of
 * them per request, which it pretends it could not free and adds back
 * (AddReclaimable(+keep)), as the seed's rules ask. Freed slots are
 * allocated again, so the cgroup keeps pressing on its limit.
 *
 * Prints "ready <object path>" once registered and, at the end
 * (--seconds elapsed, or SIGTERM), one "summary" line with its own
 * accounting and memcgd's (the reclaimer object's properties):
 *   summary requests=R asked=A freed=F kept=K declared=D expected=E
 *           memcgd_reclaimable=X memcgd_requested=Y memcgd_requests=Z
 * where expected = declared - asked + kept (clamped at 0 at each request
 * as memcgd does) must equal memcgd_reclaimable.
 *
 *   reclaimer --cgroup=PATH [--cgroup-procs=FILE]... [--chunks=200]
 *             [--chunk-size=1048576] [--keep=1] [--pause-ms=5] [--seconds=20]
 *             [--batch=N (declare every N chunks; default a tenth, as the seed)]
 *   reclaimer --cgroup=PATH --bad-input=FLOOD   (the error and clamping checks)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

static uint64_t arg_chunks = 200, arg_chunk_size = 1 << 20, arg_keep = 1, arg_pause_ms = 5, arg_seconds = 20,
                arg_batch = 0;
static const char *arg_cgroup;
static volatile sig_atomic_t stop;

static char **slots;
static uint64_t held, requests, asked, freed, kept, declared, expected;
static sd_bus *bus;
static char *object;

/* Chunks through raw syscalls and stores the sanitizers do not see: under
 * TSan an intercepted mmap and memset would also fill shadow memory, which
 * is charged to the cgroup and would multiply the chunk (as in
 * tests/kernel/kernel-test.h). */
__attribute__((no_sanitize("thread", "address"))) static void *chunk_new(size_t size) {
        long p = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == -1)
                return NULL;
        for (size_t off = 0; off < size; off += 4096)
                ((volatile char *) p)[off] = 0x5a;
        return (void *) p;
}

static void chunk_free(void *p, size_t size) {
        (void) syscall(SYS_munmap, p, size);
}

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int add_reclaimable(int64_t delta) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(bus, "org.memcgd1", object, "org.memcgd1.Reclaimer", "AddReclaimable", &e, NULL,
                                   "x", delta);
        if (r < 0)
                fprintf(stderr, "AddReclaimable(%" PRId64 "): %s\n", delta, e.message ?: strerror(-r));
        sd_bus_error_free(&e);
        return r;
}

static int on_reclaim(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint64_t n, k, done = 0;

        if (sd_bus_message_read(m, "t", &n) < 0)
                return 0;
        requests++;
        asked += n;
        expected = n > expected ? 0 : expected - n;
        k = n > arg_keep ? arg_keep : 0;
        for (uint64_t i = 0; i < arg_chunks && done < n - k; i++)
                if (slots[i]) {
                        chunk_free(slots[i], arg_chunk_size);
                        slots[i] = NULL;
                        held--;
                        done++;
                }
        freed += done;
        /* What it asked for but was not freed goes back (the seed's rule):
         * the chunks kept on purpose and any it did not hold. */
        if (n - done > 0 && add_reclaimable((int64_t) (n - done)) >= 0) {
                kept += n - done;
                expected += n - done;
        }
        printf("reclaim n=%" PRIu64 " freed=%" PRIu64 " held=%" PRIu64 "\n", n, done, held);
        fflush(stdout);
        return 0;
}

static uint64_t get_prop(const char *name) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t v = UINT64_MAX;
        if (sd_bus_get_property_trivial(bus, "org.memcgd1", object, "org.memcgd1.Reclaimer", name, &e, 't', &v) < 0)
                fprintf(stderr, "Get %s: %s\n", name, e.message);
        sd_bus_error_free(&e);
        return v;
}

/* --bad-input: the documented errors and clampings, on one connection
 * (so that the registrations outlive each call). PASS/FAIL lines. */
static int fails;
static void expect(bool ok, const char *what, const sd_bus_error *e) {
        printf("%s: %s%s%s\n", ok ? "PASS" : "FAIL", what, e && e->name ? " -- " : "", e && e->name ? e->name : "");
        if (!ok)
                fails++;
}

static int call_err(const char *obj, const char *iface, const char *member, sd_bus_error *e, sd_bus_message **reply,
                    const char *sig, ...) {
        sd_bus_message *m = NULL;
        va_list ap;
        int r = sd_bus_message_new_method_call(bus, &m, "org.memcgd1", obj, iface, member);
        if (r >= 0) {
                va_start(ap, sig);
                r = sd_bus_message_appendv(m, sig, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, e, reply);
        sd_bus_message_unref(m);
        return r;
}

static int bad_input(unsigned flood) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *p;
        char own[256];
        int r;

        r = call_err("/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e, NULL, "st", arg_cgroup,
                     (uint64_t) 0);
        expect(r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS), "chunk size 0 is InvalidArgs", &e);
        sd_bus_error_free(&e);
        r = call_err("/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e, NULL, "st", arg_cgroup,
                     (UINT64_C(1) << 40) + 1);
        expect(r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS), "chunk size above 1 TiB is InvalidArgs", &e);
        sd_bus_error_free(&e);
        r = call_err("/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e, NULL, "st", "/no/such/cgroup-x",
                     (uint64_t) 4096);
        expect(r < 0 && sd_bus_error_has_name(&e, "org.memcgd1.Error.NoSuchCgroup"), "a missing cgroup is NoSuchCgroup", &e);
        sd_bus_error_free(&e);

        r = call_err("/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e, &reply, "st", arg_cgroup,
                     (uint64_t) 4096);
        expect(r >= 0 && sd_bus_message_read(reply, "o", &p) >= 0, "chunk size 4096 registers", &e);
        sd_bus_error_free(&e);
        if (r < 0)
                return 1;
        snprintf(own, sizeof(own), "%s", p);
        reply = sd_bus_message_unref(reply);
        object = own;

        r = call_err(own, "org.memcgd1.Reclaimer", "AddReclaimable", &e, NULL, "x", (int64_t) -5);
        expect(r >= 0 && get_prop("ReclaimableChunks") == 0, "AddReclaimable(-5) on 0 chunks clamps at 0", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "SetReclaimable", &e, NULL, "t", UINT64_C(1) << 40);
        expect(r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS),
               "SetReclaimable beyond 1 PiB declared is InvalidArgs", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "SetReclaimable", &e, NULL, "t", (uint64_t) 10);
        expect(r >= 0 && get_prop("ReclaimableChunks") == 10, "SetReclaimable(10) sets 10", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "AddReclaimable", &e, NULL, "x", (int64_t) -25);
        expect(r >= 0 && get_prop("ReclaimableChunks") == 0, "AddReclaimable(-25) on 10 chunks clamps at 0", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "AddReclaimable", &e, NULL, "x", INT64_MAX);
        expect(r >= 0 && get_prop("ReclaimableChunks") == (UINT64_C(1) << 50) / 4096,
               "AddReclaimable(INT64_MAX) clamps at 1 PiB of chunks", &e);
        sd_bus_error_free(&e);
        r = call_err("/org/memcgd1/reclaimer/999999999", "org.memcgd1.Reclaimer", "AddReclaimable", &e, NULL, "x",
                     (int64_t) 1);
        expect(r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT), "an unknown reclaimer is UnknownObject", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "Unregister", &e, NULL, "");
        expect(r >= 0, "Unregister succeeds", &e);
        sd_bus_error_free(&e);
        r = call_err(own, "org.memcgd1.Reclaimer", "Unregister", &e, NULL, "");
        expect(r < 0 && sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT), "a second Unregister is UnknownObject", &e);
        sd_bus_error_free(&e);

        unsigned ok = 0, limited = 0, other = 0;
        uint64_t t0 = mono_ms();
        for (unsigned i = 0; i < flood; i++) {
                r = call_err("/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e, NULL, "st", arg_cgroup,
                             (uint64_t) 4096);
                if (r >= 0)
                        ok++;
                else if (sd_bus_error_has_name(&e, SD_BUS_ERROR_LIMITS_EXCEEDED))
                        limited++;
                else
                        other++;
                sd_bus_error_free(&e);
        }
        printf("flood: %u registrations in %llu ms: %u registered, %u LimitsExceeded, %u other errors\n", flood,
               (unsigned long long) (mono_ms() - t0), ok, limited, other);
        if (flood > 0)
                expect(ok == 64 && limited == flood - 64 && other == 0,
                       "a flood of registrations from one connection stops at 64 with LimitsExceeded", NULL);
        object = NULL;
        return fails ? 1 : 0;
}

static void on_signal(int sig) {
        stop = 1;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "cgroup", required_argument, NULL, 'g' },
                { "cgroup-procs", required_argument, NULL, 'p' },
                { "chunks", required_argument, NULL, 'n' },
                { "chunk-size", required_argument, NULL, 's' },
                { "keep", required_argument, NULL, 'k' },
                { "pause-ms", required_argument, NULL, 'P' },
                { "seconds", required_argument, NULL, 'S' },
                { "bad-input", required_argument, NULL, 'B' },
                { "batch", required_argument, NULL, 'b' },
                {}
        };
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        uint64_t batch = 0, end;
        int c, r;
        long bad = -1;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'g':
                        arg_cgroup = optarg;
                        break;
                case 'p': {
                        FILE *f = fopen(optarg, "we");
                        if (!f || fprintf(f, "%d\n", (int) getpid()) < 0 || fclose(f) != 0) {
                                fprintf(stderr, "cannot join %s: %m\n", optarg);
                                return 1;
                        }
                        break;
                }
                case 'n':
                        arg_chunks = strtoull(optarg, NULL, 0);
                        break;
                case 's':
                        arg_chunk_size = strtoull(optarg, NULL, 0);
                        break;
                case 'k':
                        arg_keep = strtoull(optarg, NULL, 0);
                        break;
                case 'P':
                        arg_pause_ms = strtoull(optarg, NULL, 0);
                        break;
                case 'S':
                        arg_seconds = strtoull(optarg, NULL, 0);
                        break;
                case 'B':
                        bad = strtol(optarg, NULL, 0);
                        break;
                case 'b':
                        arg_batch = strtoull(optarg, NULL, 0);
                        break;
                default:
                        return 2;
                }
        }
        if (!arg_cgroup || arg_chunks == 0 || arg_chunk_size == 0) {
                fprintf(stderr, "usage: reclaimer --cgroup=PATH [--cgroup-procs=FILE]... [--chunks=N] ...\n");
                return 2;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        slots = calloc(arg_chunks, sizeof(char *));
        if (!slots)
                return 1;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "bus: %s\n", strerror(-r));
                return 1;
        }
        if (bad >= 0) {
                r = bad_input((unsigned) bad);
                sd_bus_flush_close_unref(bus);
                free(slots);
                return r;
        }
        r = sd_bus_call_method(bus, "org.memcgd1", "/org/memcgd1", "org.memcgd1.Manager", "RegisterReclaimer", &e,
                               &reply, "st", arg_cgroup, arg_chunk_size);
        if (r < 0) {
                fprintf(stderr, "RegisterReclaimer: %s: %s\n", e.name, e.message);
                return 1;
        }
        if (sd_bus_message_read(reply, "o", &path) < 0 || !(object = strdup(path)))
                return 1;
        sd_bus_message_unref(reply);
        r = sd_bus_match_signal(bus, NULL, "org.memcgd1", object, "org.memcgd1.Reclaimer", "Reclaim", on_reclaim,
                                NULL);
        if (r < 0) {
                fprintf(stderr, "match: %s\n", strerror(-r));
                return 1;
        }
        printf("ready %s\n", object);
        fflush(stdout);

        end = mono_ms() + arg_seconds * 1000;
        while (!stop && mono_ms() < end) {
                while ((r = sd_bus_process(bus, NULL)) > 0)
                        ;
                if (r < 0) {
                        fprintf(stderr, "bus: %s\n", strerror(-r));
                        return 1;
                }
                for (uint64_t i = 0; held < arg_chunks && i < arg_chunks; i++) {
                        if (slots[i])
                                continue;
                        /* mmap, not malloc: glibc raises its mmap threshold
                         * after the first free() of a large block, and then
                         * keeps freed chunks in the heap, never giving the
                         * memory back to the cgroup. */
                        slots[i] = chunk_new(arg_chunk_size);
                        if (!slots[i])
                                break;
                        held++;
                        if (++batch >= (arg_batch ?: arg_chunks / 10 ?: 1)) {
                                if (add_reclaimable((int64_t) batch) >= 0) {
                                        declared += batch;
                                        expected += batch;
                                }
                                batch = 0;
                        }
                        break;
                }
                (void) sd_bus_wait(bus, arg_pause_ms * 1000);
        }
        while (sd_bus_process(bus, NULL) > 0)
                ;
        printf("summary requests=%" PRIu64 " asked=%" PRIu64 " freed=%" PRIu64 " kept=%" PRIu64 " declared=%" PRIu64
               " expected=%" PRIu64 " memcgd_reclaimable=%" PRIu64 " memcgd_requested=%" PRIu64
               " memcgd_requests=%" PRIu64 " held=%" PRIu64 "\n",
               requests, asked, freed, kept, declared, expected, get_prop("ReclaimableChunks"),
               get_prop("RequestedChunks"), get_prop("Requests"), held);
        fflush(stdout);
        for (uint64_t i = 0; i < arg_chunks; i++)
                if (slots[i])
                        chunk_free(slots[i], arg_chunk_size);
        free(slots);
        free(object);
        sd_bus_flush_close_unref(bus);
        return 0;
}
