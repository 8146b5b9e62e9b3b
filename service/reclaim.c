/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reclaim.h"

static void reclaimer_free(gpointer p) {
        Reclaimer *r = p;
        if (!r)
                return;
        g_free(r->cgroup);
        g_free(r->owner);
        free(r->object_path); /* from sd_bus_path_encode() */
        g_free(r);
}

void reclaim_registry_init(ReclaimRegistry *reg) {
        reg->list = g_ptr_array_new_with_free_func(reclaimer_free);
        reg->next_id = 1;
}

void reclaim_registry_done(ReclaimRegistry *reg) {
        if (reg->list)
                g_ptr_array_unref(reg->list);
        reg->list = NULL;
}

unsigned reclaim_registry_count_owner(const ReclaimRegistry *reg, const char *owner) {
        unsigned n = 0;
        for (guint i = 0; i < reg->list->len; i++)
                n += strcmp(((Reclaimer *) reg->list->pdata[i])->owner, owner) == 0;
        return n;
}

int reclaim_registry_add(ReclaimRegistry *reg, const char *cgroup, const char *owner, uint64_t chunk_size,
                         Reclaimer **ret) {
        Reclaimer *r;

        if (chunk_size == 0 || chunk_size > RECLAIM_CHUNK_SIZE_MAX)
                return -EINVAL;
        if (reg->list->len >= RECLAIM_TOTAL_MAX || reclaim_registry_count_owner(reg, owner) >= RECLAIM_PER_OWNER_MAX)
                return -EUSERS;
        r = g_new0(Reclaimer, 1);
        r->id = reg->next_id++;
        r->cgroup = g_strdup(cgroup);
        r->owner = g_strdup(owner);
        r->chunk_size = chunk_size;
        g_ptr_array_add(reg->list, r);
        *ret = r;
        return 0;
}

Reclaimer *reclaim_registry_find(ReclaimRegistry *reg, uint64_t id) {
        for (guint i = 0; i < reg->list->len; i++)
                if (((Reclaimer *) reg->list->pdata[i])->id == id)
                        return reg->list->pdata[i];
        return NULL;
}

bool reclaim_registry_remove(ReclaimRegistry *reg, uint64_t id) {
        for (guint i = 0; i < reg->list->len; i++)
                if (((Reclaimer *) reg->list->pdata[i])->id == id) {
                        g_ptr_array_remove_index(reg->list, i);
                        return true;
                }
        return false;
}

unsigned reclaim_registry_drop_owner(ReclaimRegistry *reg, const char *owner) {
        unsigned n = 0;
        for (guint i = reg->list->len; i > 0; i--)
                if (strcmp(((Reclaimer *) reg->list->pdata[i - 1])->owner, owner) == 0) {
                        g_ptr_array_remove_index(reg->list, i - 1);
                        n++;
                }
        return n;
}

static uint64_t declared_max(const Reclaimer *r) {
        return RECLAIM_DECLARED_BYTES_MAX / r->chunk_size;
}

int reclaimer_set(Reclaimer *r, uint64_t chunks) {
        if (chunks > declared_max(r))
                return -ERANGE;
        r->chunks = chunks;
        return 0;
}

uint64_t reclaimer_add(Reclaimer *r, int64_t delta) {
        if (delta < 0) {
                uint64_t d = delta == INT64_MIN ? (uint64_t) INT64_MAX + 1 : (uint64_t) -delta;
                r->chunks = d > r->chunks ? 0 : r->chunks - d;
        } else {
                uint64_t d = (uint64_t) delta, max = declared_max(r);
                r->chunks = d > max - r->chunks ? max : r->chunks + d;
        }
        return r->chunks;
}

bool cgroup_path_is_below(const char *path, const char *ancestor) {
        size_t n = strlen(ancestor);
        if (strncmp(path, ancestor, n) != 0)
                return false;
        return path[n] == '\0' || path[n] == '/' || (n == 1 && ancestor[0] == '/');
}

static void ask(Reclaimer *r, uint64_t chunks, ReclaimAsk *asks, size_t *n) {
        r->chunks -= chunks;
        r->requested += chunks;
        r->requests++;
        asks[(*n)++] = (ReclaimAsk) { .reclaimer = r, .chunks = chunks };
}

size_t reclaim_distribute(ReclaimRegistry *reg, const char *cgroup, uint64_t bytes, ReclaimAsk *asks, size_t max,
                          uint64_t *ret_bytes) {
        uint64_t remaining = bytes, asked = 0;
        size_t n = 0;

        for (guint i = reg->list->len; i > 0 && remaining > 0 && n < max; i--) {
                Reclaimer *r = reg->list->pdata[i - 1];
                if (r->chunks == 0 || !cgroup_path_is_below(r->cgroup, cgroup))
                        continue;
                uint64_t c = remaining / r->chunk_size;
                if (c > r->chunks)
                        c = r->chunks;
                if (c == 0)
                        continue;
                ask(r, c, asks, &n);
                asked += c * r->chunk_size;
                remaining -= c * r->chunk_size;
        }
        if (n == 0 && remaining > 0 && max > 0)
                for (guint i = reg->list->len; i > 0; i--) {
                        Reclaimer *r = reg->list->pdata[i - 1];
                        if (r->chunks == 0 || !cgroup_path_is_below(r->cgroup, cgroup))
                                continue;
                        ask(r, 1, asks, &n);
                        asked += r->chunk_size;
                        break;
                }
        if (ret_bytes)
                *ret_bytes = asked;
        return n;
}
