/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "memcgd/budget.h"

/* A mutex, not atomics: take() must read free bytes and grant in one step,
 * and the critical sections are a few instructions long. */
struct Budget {
        pthread_mutex_t lock;
        uint64_t total;
        uint64_t granted;
};

Budget *budget_new(uint64_t total) {
        Budget *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        pthread_mutex_init(&b->lock, NULL);
        b->total = total;
        return b;
}

Budget *budget_free(Budget *b) {
        if (!b)
                return NULL;
        pthread_mutex_destroy(&b->lock);
        free(b);
        return NULL;
}

static uint64_t free_locked(const Budget *b) {
        return b->granted >= b->total ? 0 : b->total - b->granted;
}

uint64_t budget_take(Budget *b, uint64_t want) {
        pthread_mutex_lock(&b->lock);
        uint64_t avail = free_locked(b);
        uint64_t g = want < avail ? want : avail;
        b->granted += g;
        pthread_mutex_unlock(&b->lock);
        return g;
}

int budget_take_exact(Budget *b, uint64_t want) {
        int r = 0;

        pthread_mutex_lock(&b->lock);
        if (want > free_locked(b))
                r = -ENOSPC;
        else
                b->granted += want;
        pthread_mutex_unlock(&b->lock);
        return r;
}

uint64_t budget_give(Budget *b, uint64_t n) {
        pthread_mutex_lock(&b->lock);
        uint64_t g = n < b->granted ? n : b->granted;
        b->granted -= g;
        pthread_mutex_unlock(&b->lock);
        return g;
}

void budget_set_total(Budget *b, uint64_t total) {
        pthread_mutex_lock(&b->lock);
        b->total = total;
        pthread_mutex_unlock(&b->lock);
}

uint64_t budget_total(Budget *b) {
        pthread_mutex_lock(&b->lock);
        uint64_t v = b->total;
        pthread_mutex_unlock(&b->lock);
        return v;
}

uint64_t budget_granted(Budget *b) {
        pthread_mutex_lock(&b->lock);
        uint64_t v = b->granted;
        pthread_mutex_unlock(&b->lock);
        return v;
}

uint64_t budget_free_bytes(Budget *b) {
        pthread_mutex_lock(&b->lock);
        uint64_t v = free_locked(b);
        pthread_mutex_unlock(&b->lock);
        return v;
}
