/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The persistent state: which cgroups are monitored, with the limits they
 * had before Monitor (restored by Unmonitor) and their initial limit, plus
 * the start limits remembered by SetInitialLimit for cgroups that are not
 * monitored. A restart re-attaches to every monitored entry.
 *
 * The file is text, one record a line, so that a damaged line costs only
 * that record:
 *
 *   memcgd-state 1
 *   monitor <original_max> <original_high> <initial_limit> <path>
 *   oom-policy <kill|grow|freeze> <path>      (after its monitor record;
 *                                             absent = kill)
 *   oom-kill-disabled <path>                  (after its monitor record:
 *                                             v1 oom_kill_disable was 1
 *                                             before Monitor; absent = 0)
 *   remember <limit> <path>
 *
 * Numbers are decimal u64. <path> is the cgroup path with every byte
 * outside '!'..'~' and the backslash written as \xHH, so a line never
 * holds a blank inside a field. Lines starting with '#' are comments. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memcgd/engine.h"

#define STATE_FILE_NAME "state"

typedef struct StateMonitored {
        char *path;
        uint64_t original_max, original_high, initial_limit;
        OomPolicy oom_policy;   /* from an "oom-policy" record; kill when absent */
        bool original_okd;      /* v1 oom_kill_disable before Monitor ("oom-kill-disabled") */
} StateMonitored;

typedef struct StateRemembered {
        char *path;
        uint64_t limit;
} StateRemembered;

typedef struct State {
        StateMonitored *monitored;
        size_t n_monitored;
        StateRemembered *remembered;
        size_t n_remembered;
        /* The first record line was not the version header: a file of
         * another version or damaged at its start. Nothing of it is kept,
         * and it must not be overwritten (it may well hold a monitored set
         * that a matching memcgd, or an admin, can still read). */
        bool bad_header;
} State;

/* Appends a copy of path (OOM policy kill). 0 or -ENOMEM. */
int state_add_monitored(State *s, const char *path, uint64_t original_max, uint64_t original_high,
                        uint64_t initial_limit);
int state_add_remembered(State *s, const char *path, uint64_t limit);
void state_done(State *s);

/* The file's text for `s` (g_free it). Never NULL. */
char *state_format(const State *s, size_t *ret_len);

/* Parses a state file's text into *ret (initialized here). Lines that are
 * malformed, truncated (no final newline), name an invalid path or repeat
 * a path are skipped, each logged with its line number and why; the rest
 * is kept. A missing or unknown version header drops everything (logged)
 * and sets ret->bad_header. Returns the number of skipped lines (>= 0);
 * never fails otherwise. */
int state_parse(const char *buf, size_t len, State *ret);

/* Writes atomically (temporary file, fsync, rename, fsync of the
 * directory) into dir/STATE_FILE_NAME, creating dir (0700) if needed; a
 * file that already holds exactly these bytes is left alone. 0 or
 * negative errno; does not log. */
int state_save(const char *dir, const State *s);

/* Reads dir/STATE_FILE_NAME into *ret (initialized here). A missing file
 * is an empty state (0). Returns the number of skipped lines, or a
 * negative errno when the file exists but cannot be read. A file with a
 * wrong header loads as an empty state with ret->bad_header set (and the
 * header line counted as skipped): the caller must treat it as unreadable. */
int state_load(const char *dir, State *ret);

/* Path escaping of the file format; exposed for tests. */
char *state_escape_path(const char *path);
/* NULL when `s` is not a well-formed escaped string. */
char *state_unescape_path(const char *s);
