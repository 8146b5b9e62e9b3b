/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the valid UTF-8 sequence at s, of at most n
 * bytes, and its code point in *ret_cp (may be NULL); 0 when s does not
 * start one: a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, or cut short. Used by the service's path rules and
 * by memcgctl's escaping of text it prints. */
size_t utf8_sequence(const unsigned char *s, size_t n, uint32_t *ret_cp);
