/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reclaim broker's books (service/reclaim.h), as the README documents
 * them: chunk sizes 1 B..1 TiB, at most 1 PiB declared per reclaimer
 * (SetReclaimable refuses more, AddReclaimable clamps at 0 and at 1 PiB),
 * 64 registrations per connection and 4096 in all, and the seed's loop:
 * the reclaimers of the cgroup and those below it, newest first, each
 * asked for min(its chunks, remaining / its chunk size); when that asks
 * nobody, the newest with chunks is asked for one. Asked chunks count as
 * freed at once. A connection that leaves takes its reclaimers along. */

#include <errno.h>

#include "unit-test.h"
#include "service/reclaim.h"

#define KIB UINT64_C(1024)
#define TIB (UINT64_C(1) << 40)
#define PIB (UINT64_C(1) << 50)

/* Each test's registry, and room for the asks of one request. */
typedef struct Broker {
        ReclaimRegistry reg;
        ReclaimAsk asks[8];
} Broker;

static int broker_setup(void **state) {
        Broker *br = g_new0(Broker, 1);
        reclaim_registry_init(&br->reg);
        *state = br;
        return 0;
}

static int broker_teardown(void **state) {
        Broker *br = *state;
        reclaim_registry_done(&br->reg);
        g_free(br);
        return 0;
}

/* One request for `bytes` of `cgroup` with room for `max` asks (in
 * br->asks): checks how many reclaimers were asked and the bytes asked
 * for in all. */
static void expect_distribute(Broker *br, const char *cgroup, uint64_t bytes, size_t max, size_t want_asks,
                              uint64_t want_bytes) {
        uint64_t got_bytes = UINT64_MAX;
        size_t n;

        assert_true(max <= sizeof(br->asks) / sizeof(br->asks[0]));
        n = reclaim_distribute(&br->reg, cgroup, bytes, br->asks, max, &got_bytes);
        if (n != want_asks || got_bytes != want_bytes) {
                print_error("%" PRIu64 " bytes of %s: %zu asks for %" PRIu64 " bytes, expected %zu for %" PRIu64 "\n",
                            bytes, cgroup, n, got_bytes, want_asks, want_bytes);
                fail();
        }
}

static Reclaimer *add_ok(ReclaimRegistry *reg, const char *cgroup, const char *owner, uint64_t chunk_size,
                         uint64_t chunks) {
        Reclaimer *r = NULL;
        assert_errno_eq(reclaim_registry_add(reg, cgroup, owner, chunk_size, &r), 0);
        assert_non_null(r);
        assert_errno_eq(reclaimer_set(r, chunks), 0);
        return r;
}

static void check_ask(const ReclaimAsk *a, const Reclaimer *r, uint64_t chunks) {
        if (a->reclaimer != r) {
                print_error("asked reclaimer %" PRIu64 " (%s), expected %" PRIu64 " (%s)\n",
                            a->reclaimer ? a->reclaimer->id : 0, a->reclaimer ? a->reclaimer->cgroup : "-", r->id,
                            r->cgroup);
                fail();
        }
        assert_u64_eq(a->chunks, chunks);
}

/* chunks left, chunks requested so far, requests sent */
static void check_books(const Reclaimer *r, uint64_t chunks, uint64_t requested, uint64_t requests) {
        assert_u64_eq(r->chunks, chunks);
        assert_u64_eq(r->requested, requested);
        assert_u64_eq(r->requests, requests);
}

static void registration_accepts_chunk_sizes_from_1_byte_to_1_tib(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *r, *sentinel = (Reclaimer *) reg;

        r = sentinel;
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.1", 0, &r), -EINVAL);
        assert_ptr_equal(r, sentinel);
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.1", TIB + 1, &r), -EINVAL);
        assert_ptr_equal(r, sentinel);
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.1", UINT64_MAX, &r), -EINVAL);
        assert_ptr_equal(r, sentinel);
        assert_int_equal(reg->list->len, 0);

        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.1", 1, &r), 0);
        assert_u64_eq(r->chunk_size, 1);
        assert_errno_eq(reclaim_registry_add(reg, "/a/b", ":1.2", TIB, &r), 0);
        assert_u64_eq(r->chunk_size, TIB);
        assert_u64_eq(RECLAIM_CHUNK_SIZE_MAX, TIB);

        /* A new reclaimer: the next id, its cgroup and owner copied, no
         * chunks, nothing requested yet. */
        assert_u64_eq(r->id, 2);
        assert_string_equal(r->cgroup, "/a/b");
        assert_string_equal(r->owner, ":1.2");
        assert_null(r->object_path);
        check_books(r, 0, 0, 0);
        assert_ptr_equal(reclaim_registry_find(reg, 2), r);
        assert_u64_eq(reclaim_registry_find(reg, 1)->id, 1);
        assert_null(reclaim_registry_find(reg, 3));
        assert_null(reclaim_registry_find(reg, 0));

        /* The bus layer's path is freed with the reclaimer (ASan). */
        r->object_path = strdup("/org/memcgd1/reclaimer/2");
        reclaim_registry_done(reg);
        assert_null(reg->list);
        /* The teardown's second done is harmless. */
}

static void ids_are_never_reused_after_a_removal(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *a, *b, *c;

        a = add_ok(reg, "/a", ":1.1", 4096, 0);
        b = add_ok(reg, "/a", ":1.1", 4096, 0);
        assert_u64_eq(a->id, 1);
        assert_u64_eq(b->id, 2);
        assert_true(reclaim_registry_remove(reg, 2));
        assert_false(reclaim_registry_remove(reg, 2));
        assert_false(reclaim_registry_remove(reg, 99));
        assert_null(reclaim_registry_find(reg, 2));
        c = add_ok(reg, "/a", ":1.1", 4096, 0);
        assert_u64_eq(c->id, 3);
        assert_ptr_equal(reclaim_registry_find(reg, 1), a);
        assert_int_equal(reg->list->len, 2);
}

static void registrations_stop_at_64_per_connection_and_4096_in_all(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *r = NULL;
        char owner[32];

        assert_int_equal(RECLAIM_PER_OWNER_MAX, 64);
        assert_int_equal(RECLAIM_TOTAL_MAX, 4096);

        for (unsigned i = 0; i < 64; i++)
                (void) add_ok(reg, "/a", ":1.7", 1, 0);
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.7"), 64);
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.7", 1, &r), -EUSERS);
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.7"), 64);
        /* Another connection is not affected; a name that merely starts
         * the same is another connection. */
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.70", 1, &r), 0);
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.70"), 1);
        /* One unregistered frees one slot of that connection. */
        assert_true(reclaim_registry_remove(reg, 5));
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.7", 1, &r), 0);
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.7", 1, &r), -EUSERS);
        reclaim_registry_done(reg);
        reclaim_registry_init(reg);

        /* 64 connections of 64 fill the registry: a 65th connection, with
         * none of its own yet, is refused too. */
        for (unsigned o = 0; o < 64; o++) {
                snprintf(owner, sizeof(owner), ":1.%u", 100 + o);
                for (unsigned i = 0; i < 64; i++)
                        (void) add_ok(reg, "/a", owner, 1, 0);
        }
        assert_int_equal(reg->list->len, 4096);
        r = NULL;
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.999", 1, &r), -EUSERS);
        assert_null(r);
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.999"), 0);
        /* A connection leaving makes room for 64 more. */
        assert_int_equal(reclaim_registry_drop_owner(reg, ":1.100"), 64);
        assert_int_equal(reg->list->len, 4032);
        for (unsigned i = 0; i < 64; i++)
                (void) add_ok(reg, "/a", ":1.999", 1, 0);
        assert_errno_eq(reclaim_registry_add(reg, "/a", ":1.998", 1, &r), -EUSERS);
}

static void set_reclaimable_refuses_more_than_1_pib_and_changes_nothing(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *page, *odd, *huge, *byte;

        assert_u64_eq(RECLAIM_DECLARED_BYTES_MAX, PIB);
        page = add_ok(reg, "/a", ":1.1", 4096, 10);
        assert_u64_eq(page->chunks, 10);
        /* 2^38 pages are exactly 1 PiB. */
        assert_errno_eq(reclaimer_set(page, PIB / 4096), 0);
        assert_u64_eq(page->chunks, PIB / 4096);
        assert_errno_eq(reclaimer_set(page, PIB / 4096 + 1), -ERANGE);
        assert_u64_eq(page->chunks, PIB / 4096);
        assert_errno_eq(reclaimer_set(page, UINT64_MAX), -ERANGE);
        assert_u64_eq(page->chunks, PIB / 4096);
        assert_errno_eq(reclaimer_set(page, 0), 0);
        assert_u64_eq(page->chunks, 0);

        /* A chunk size that does not divide 1 PiB: the most chunks whose
         * bytes stay within it. */
        odd = add_ok(reg, "/a", ":1.1", 3, 0);
        assert_errno_eq(reclaimer_set(odd, PIB / 3), 0);
        assert_true(odd->chunks * 3 <= PIB);
        assert_errno_eq(reclaimer_set(odd, PIB / 3 + 1), -ERANGE);
        assert_true((PIB / 3 + 1) * 3 > PIB);
        assert_u64_eq(odd->chunks, PIB / 3);

        huge = add_ok(reg, "/a", ":1.1", TIB, 1024);
        assert_errno_eq(reclaimer_set(huge, 1025), -ERANGE);
        assert_u64_eq(huge->chunks, 1024);

        byte = add_ok(reg, "/a", ":1.1", 1, PIB);
        assert_errno_eq(reclaimer_set(byte, PIB + 1), -ERANGE);
        assert_u64_eq(byte->chunks, PIB);

        /* Setting does not count as a request. */
        check_books(page, 0, 0, 0);
}

static void add_reclaimable_clamps_at_zero_and_at_1_pib(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *r, *t;
        const uint64_t max = PIB / 4096;

        r = add_ok(reg, "/a", ":1.1", 4096, 10);
        assert_u64_eq(reclaimer_add(r, 5), 15);
        assert_u64_eq(reclaimer_add(r, -15), 0);
        assert_u64_eq(reclaimer_add(r, 0), 0);
        assert_u64_eq(reclaimer_add(r, -1), 0);
        assert_u64_eq(reclaimer_add(r, 7), 7);
        assert_u64_eq(reclaimer_add(r, -8), 0);
        assert_u64_eq(reclaimer_add(r, 3), 3);
        assert_u64_eq(reclaimer_add(r, INT64_MIN), 0);
        assert_u64_eq(r->chunks, 0);

        assert_u64_eq(reclaimer_add(r, (int64_t) max - 1), max - 1);
        assert_u64_eq(reclaimer_add(r, 1), max);
        assert_u64_eq(reclaimer_add(r, 1), max);
        assert_u64_eq(reclaimer_add(r, INT64_MAX), max);
        assert_u64_eq(reclaimer_add(r, -(int64_t) max), 0);
        assert_u64_eq(reclaimer_add(r, INT64_MAX), max);
        assert_u64_eq(r->chunks, max);

        /* 1-byte chunks: the clamp is at 2^50, far below INT64_MAX. */
        t = add_ok(reg, "/a", ":1.1", 1, 0);
        assert_u64_eq(reclaimer_add(t, INT64_MAX), PIB);
        assert_u64_eq(reclaimer_add(t, INT64_MIN), 0);
        check_books(t, 0, 0, 0);
}

static void cgroup_below_means_the_same_path_or_a_descendant_by_whole_components(void **state) {
        static const struct {
                const char *path, *ancestor;
                bool below;
        } cases[] = {
                { "/a", "/a", true },
                { "/a/b", "/a", true },
                { "/a/b/c", "/a", true },
                { "/a/b/c", "/a/b", true },
                { "/a", "/", true },
                { "/a/b", "/", true },
                { "/", "/", true },
                /* Whole components only: a name that starts the same is
                 * a sibling. */
                { "/ab", "/a", false },
                { "/a.slice", "/a", false },
                { "/b", "/a", false },
                { "/a", "/a/b", false },
                { "/", "/a", false },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (cgroup_path_is_below(cases[i].path, cases[i].ancestor) != cases[i].below) {
                        print_error("%s below %s: %s, expected %s\n", cases[i].path, cases[i].ancestor,
                                    cases[i].below ? "no" : "yes", cases[i].below ? "yes" : "no");
                        fail();
                }
}

static void distribution_asks_newest_first_for_whole_chunks_within_what_each_declared(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *a, *b, *c;

        a = add_ok(reg, "/x", ":1.1", 4 * KIB, 10);
        b = add_ok(reg, "/x", ":1.2", 64 * KIB, 3);
        c = add_ok(reg, "/x", ":1.3", UT_MIB, 2);

        /* 3 MiB + 5000 B: c (newest) has 2 of the 3 MiB it could give,
         * b then 3 of its 16 possible 64 KiB, a 10 of 209 possible 4 KiB. */
        expect_distribute(br, "/x", 3 * UT_MIB + 5000, 8, 3, 2 * UT_MIB + 3 * 64 * KIB + 10 * 4 * KIB);
        check_ask(&br->asks[0], c, 2);
        check_ask(&br->asks[1], b, 3);
        check_ask(&br->asks[2], a, 10);
        /* Asked chunks count as freed at once. */
        check_books(a, 0, 10, 1);
        check_books(b, 0, 3, 1);
        check_books(c, 0, 2, 1);

        /* Nothing left to ask: no asks, 0 bytes. */
        expect_distribute(br, "/x", UT_MIB, 8, 0, 0);

        /* Clients that could not free some add them back; the next
         * request asks again, only for what remains wanted: 200 KiB is
         * 3 chunks of b (192 KiB), then 2 of a (8 KiB); c's 1 MiB chunks
         * are all larger and c is skipped. */
        assert_u64_eq(reclaimer_add(a, 10), 10);
        assert_u64_eq(reclaimer_add(b, 5), 5);
        assert_u64_eq(reclaimer_add(c, 1), 1);
        expect_distribute(br, "/x", 200 * KIB, 8, 2, 200 * KIB);
        check_ask(&br->asks[0], b, 3);
        check_ask(&br->asks[1], a, 2);
        check_books(a, 8, 12, 2);
        check_books(b, 2, 6, 2);
        check_books(c, 1, 2, 1);

        /* A remainder smaller than every chunk left is not asked for once
         * somebody was asked: 130 KiB + 1 is b's last 2 chunks, and the
         * 2 KiB + 1 left is less than one of a's 4 KiB chunks. */
        expect_distribute(br, "/x", 130 * KIB + 1, 8, 1, 128 * KIB);
        check_ask(&br->asks[0], b, 2);
        check_books(a, 8, 12, 2);
        check_books(b, 0, 8, 3);
}

static void when_every_chunk_is_larger_than_wanted_the_newest_with_chunks_is_asked_for_one(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *a, *b, *c;

        a = add_ok(reg, "/x", ":1.1", UT_MIB, 4);
        b = add_ok(reg, "/x", ":1.1", 2 * UT_MIB, 4);
        c = add_ok(reg, "/x", ":1.1", 4 * UT_MIB, 0);

        /* 100 bytes wanted: c is newest but has nothing; b is asked for one
         * 2 MiB chunk, more than wanted (the asked bytes say so). */
        expect_distribute(br, "/x", 100, 4, 1, 2 * UT_MIB);
        check_ask(&br->asks[0], b, 1);
        check_books(b, 3, 1, 1);
        check_books(a, 4, 0, 0);
        check_books(c, 0, 0, 0);

        /* 1 MiB - 1: still nobody whole; b again, newest with chunks. */
        expect_distribute(br, "/x", UT_MIB - 1, 4, 1, 2 * UT_MIB);
        check_ask(&br->asks[0], b, 1);

        /* Exactly 1 MiB fits one of a's chunks: the loop asks a, no extra. */
        expect_distribute(br, "/x", UT_MIB, 4, 1, UT_MIB);
        check_ask(&br->asks[0], a, 1);
        check_books(a, 3, 1, 1);
        check_books(b, 2, 2, 2);

        /* Nothing wanted: nobody is asked, not even for one chunk. */
        expect_distribute(br, "/x", 0, 4, 0, 0);
        check_books(a, 3, 1, 1);
        check_books(b, 2, 2, 2);
}

static void distribution_covers_the_cgroup_and_those_below_it_only(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *x, *xy, *xyz, *sibling, *prefix, *parent;

        x = add_ok(reg, "/x", ":1.1", 4 * KIB, 100);
        xy = add_ok(reg, "/x/y", ":1.2", 4 * KIB, 100);
        sibling = add_ok(reg, "/w", ":1.3", 4 * KIB, 100);
        prefix = add_ok(reg, "/xy", ":1.4", 4 * KIB, 100);
        xyz = add_ok(reg, "/x/y/z", ":1.5", 4 * KIB, 1);
        parent = add_ok(reg, "/", ":1.6", 4 * KIB, 100);

        /* For /x/y: xyz (newest of the subtree) gives its 1, xy the rest;
         * neither /x above it nor /, /w, /xy is asked. */
        expect_distribute(br, "/x/y", 40 * KIB, 8, 2, 40 * KIB);
        check_ask(&br->asks[0], xyz, 1);
        check_ask(&br->asks[1], xy, 9);
        check_books(x, 100, 0, 0);
        check_books(parent, 100, 0, 0);

        /* For /x: xy before x (newer); /xy is not below /x. */
        expect_distribute(br, "/x", 400 * KIB, 8, 2, 400 * KIB);
        check_ask(&br->asks[0], xy, 91);
        check_ask(&br->asks[1], x, 9);
        check_books(prefix, 100, 0, 0);
        check_books(sibling, 100, 0, 0);

        /* A cgroup with no reclaimer in its subtree: nobody, even with the
         * one-chunk extension. */
        expect_distribute(br, "/v", 1, 8, 0, 0);

        /* The root covers everyone, / itself newest: its 100 chunks, then
         * /x/y/z (empty) is skipped and /xy gives the last one. */
        expect_distribute(br, "/", 404 * KIB, 8, 2, 404 * KIB);
        check_ask(&br->asks[0], parent, 100);
        check_ask(&br->asks[1], prefix, 1);
        check_books(sibling, 100, 0, 0);
}

static void distribution_fills_no_more_asks_than_the_caller_has_room_for(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        ReclaimAsk sentinel = { .chunks = 777 };
        Reclaimer *a, *b, *c;

        a = add_ok(reg, "/x", ":1.1", 4 * KIB, 5);
        b = add_ok(reg, "/x", ":1.1", 4 * KIB, 5);
        c = add_ok(reg, "/x", ":1.1", 4 * KIB, 5);

        br->asks[1] = sentinel;
        expect_distribute(br, "/x", 60 * KIB, 1, 1, 20 * KIB);
        check_ask(&br->asks[0], c, 5);
        assert_u64_eq(br->asks[1].chunks, 777);
        check_books(b, 5, 0, 0);
        check_books(a, 5, 0, 0);

        /* No room at all: nobody is asked, the books are untouched. */
        expect_distribute(br, "/x", 4 * KIB, 0, 0, 0);
        expect_distribute(br, "/x", 1, 0, 0, 0);
        check_books(b, 5, 0, 0);

        /* ret_bytes may be NULL. */
        assert_int_equal(reclaim_distribute(reg, "/x", 8 * KIB, br->asks, 2, NULL), 1);
        check_ask(&br->asks[0], b, 2);
        check_books(b, 3, 2, 1);
}

static void a_connection_leaving_takes_its_reclaimers_out_of_later_requests(void **state) {
        Broker *br = *state;
        ReclaimRegistry *reg = &br->reg;
        Reclaimer *a1, *b1, *a2, *b2;

        a1 = add_ok(reg, "/x", ":1.10", 4 * KIB, 4);
        b1 = add_ok(reg, "/x", ":1.11", 4 * KIB, 4);
        a2 = add_ok(reg, "/x/y", ":1.10", 4 * KIB, 4);
        b2 = add_ok(reg, "/x/y", ":1.11", 4 * KIB, 4);
        uint64_t b1_id = b1->id, b2_id = b2->id;

        expect_distribute(br, "/x", 24 * KIB, 8, 2, 24 * KIB);
        check_ask(&br->asks[0], b2, 4);
        check_ask(&br->asks[1], a2, 2);

        /* :1.11 leaves the bus: its two go, :1.10's two stay, in order. */
        assert_int_equal(reclaim_registry_drop_owner(reg, ":1.11"), 2);
        assert_int_equal(reclaim_registry_drop_owner(reg, ":1.11"), 0);
        assert_int_equal(reclaim_registry_drop_owner(reg, ":1.99"), 0);
        assert_null(reclaim_registry_find(reg, b1_id));
        assert_null(reclaim_registry_find(reg, b2_id));
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.11"), 0);
        assert_int_equal(reclaim_registry_count_owner(reg, ":1.10"), 2);
        assert_int_equal(reg->list->len, 2);
        assert_ptr_equal(reg->list->pdata[0], a1);
        assert_ptr_equal(reg->list->pdata[1], a2);

        /* The next request is shared by who remains: a2's last 2, then a1. */
        expect_distribute(br, "/x", 100 * KIB, 8, 2, 24 * KIB);
        check_ask(&br->asks[0], a2, 2);
        check_ask(&br->asks[1], a1, 4);
        check_books(a2, 0, 4, 2);
        check_books(a1, 0, 4, 1);

        /* Unregister of the last one of a cgroup: nothing to ask there. */
        assert_true(reclaim_registry_remove(reg, a2->id));
        (void) reclaimer_add(a1, 1);
        expect_distribute(br, "/x/y", 4 * KIB, 8, 0, 0);
        expect_distribute(br, "/x", 4 * KIB, 8, 1, 4 * KIB);
        check_ask(&br->asks[0], a1, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, broker_setup, broker_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(registration_accepts_chunk_sizes_from_1_byte_to_1_tib),
                T(ids_are_never_reused_after_a_removal),
                T(registrations_stop_at_64_per_connection_and_4096_in_all),
                T(set_reclaimable_refuses_more_than_1_pib_and_changes_nothing),
                T(add_reclaimable_clamps_at_zero_and_at_1_pib),
                T(cgroup_below_means_the_same_path_or_a_descendant_by_whole_components),
                T(distribution_asks_newest_first_for_whole_chunks_within_what_each_declared),
                T(when_every_chunk_is_larger_than_wanted_the_newest_with_chunks_is_asked_for_one),
                T(distribution_covers_the_cgroup_and_those_below_it_only),
                T(distribution_fills_no_more_asks_than_the_caller_has_room_for),
                T(a_connection_leaving_takes_its_reclaimers_out_of_later_requests),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
