/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host budget pool: the controller of the seed
 * (on_allocation_change). The max limits of all monitored cgroups must fit
 * in `total`. Thread-safe: workers take and give concurrently. */

#include <stdint.h>

typedef struct Budget Budget;

/* NULL on ENOMEM. */
Budget *budget_new(uint64_t total);
Budget *budget_free(Budget *b);

/* Grants min(want, free) and returns it (possibly 0). */
uint64_t budget_take(Budget *b, uint64_t want);
/* Takes exactly `want` or nothing: 0, or -ENOSPC when it does not fit. */
int budget_take_exact(Budget *b, uint64_t want);
/* Returns `n` bytes; returns what was accepted (never more than granted:
 * a give beyond what is out is clamped, so granted never goes negative). */
uint64_t budget_give(Budget *b, uint64_t n);

/* Changes the total. Granted bytes stay granted, even if over. */
void budget_set_total(Budget *b, uint64_t total);

uint64_t budget_total(Budget *b);
uint64_t budget_granted(Budget *b);
uint64_t budget_free_bytes(Budget *b);
