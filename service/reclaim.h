/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The reclaim broker's book-keeping (no bus, no I/O): the userland
 * shrinker of seed 002 with D-Bus clients in place of eventfds.
 *
 * A reclaimer declares a chunk size (the granularity of what it can free)
 * and a number of reclaimable chunks. When memory is wanted back from a
 * cgroup, the reclaimers registered for that cgroup or any cgroup below it
 * are asked in the seed's loop: newest registration first (the kernel's
 * list_add), each asked for min(its chunks, remaining bytes / its chunk
 * size) chunks, skipped when that is 0, until nothing remains. The chunks
 * asked for are counted as freed at once (subtracted from the declared
 * number); a reclaimer that could not free them adds them back. One
 * extension: when the loop asked nobody because every chunk is larger
 * than what remains, the first reclaimer with chunks is asked for one. */

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* Chunk sizes from 1 byte to 1 TiB; the declared total of one reclaimer
 * (chunks * chunk_size) at most 1 PiB. */
#define RECLAIM_CHUNK_SIZE_MAX (UINT64_C(1) << 40)
#define RECLAIM_DECLARED_BYTES_MAX (UINT64_C(1) << 50)
/* Registrations per bus connection and in all (a flood of registrations
 * is refused with LimitsExceeded beyond these). */
#define RECLAIM_PER_OWNER_MAX 64
#define RECLAIM_TOTAL_MAX 4096

typedef struct Reclaimer {
        uint64_t id;
        char *cgroup;           /* "/a/b" */
        char *owner;            /* the unique bus name that registered it */
        char *object_path;      /* set by the bus layer */
        uint64_t chunk_size;
        uint64_t chunks;        /* reclaimable now */
        uint64_t requested;     /* chunks asked for so far */
        uint64_t requests;      /* Reclaim requests sent */
} Reclaimer;

typedef struct ReclaimRegistry {
        GPtrArray *list;        /* Reclaimer*, oldest first */
        uint64_t next_id;
} ReclaimRegistry;

typedef struct ReclaimAsk {
        Reclaimer *reclaimer;
        uint64_t chunks;
} ReclaimAsk;

void reclaim_registry_init(ReclaimRegistry *reg);
void reclaim_registry_done(ReclaimRegistry *reg);

/* Adds a reclaimer with 0 chunks. -EINVAL for a chunk size of 0 or above
 * RECLAIM_CHUNK_SIZE_MAX; -EUSERS when the owner or the registry is full. */
int reclaim_registry_add(ReclaimRegistry *reg, const char *cgroup, const char *owner, uint64_t chunk_size,
                         Reclaimer **ret);
Reclaimer *reclaim_registry_find(ReclaimRegistry *reg, uint64_t id);
/* Removes and frees; false when unknown. */
bool reclaim_registry_remove(ReclaimRegistry *reg, uint64_t id);
/* Drops every reclaimer of `owner` (a bus name that went away); returns
 * how many. */
unsigned reclaim_registry_drop_owner(ReclaimRegistry *reg, const char *owner);
unsigned reclaim_registry_count_owner(const ReclaimRegistry *reg, const char *owner);

/* SetReclaimable: -ERANGE when chunks * chunk_size exceeds
 * RECLAIM_DECLARED_BYTES_MAX (nothing changes). */
int reclaimer_set(Reclaimer *r, uint64_t chunks);
/* AddReclaimable: as the seed, a decrement below zero clamps at zero; an
 * increment clamps at the declared maximum. Returns the new count. */
uint64_t reclaimer_add(Reclaimer *r, int64_t delta);

/* True when `path` is `ancestor` or below it. */
bool cgroup_path_is_below(const char *path, const char *ancestor);

/* The seed's loop for `bytes` wanted back from `cgroup`: fills up to
 * `max` asks, subtracts the asked chunks from each reclaimer and counts
 * them as requested. Returns the number of asks; *ret_bytes (may be NULL)
 * = the bytes asked for in all. */
size_t reclaim_distribute(ReclaimRegistry *reg, const char *cgroup, uint64_t bytes, ReclaimAsk *asks, size_t max,
                          uint64_t *ret_bytes);
