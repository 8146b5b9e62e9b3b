/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asynchronous authorization of bus calls through polkit.
 *
 * A method handler asks polkit_check(); when no verdict is known yet, a
 * CheckAuthorization call goes out, polkit_check() returns 0 and the
 * handler returns 1 (handled, no reply yet). When polkit answers, the very
 * same message is put back into the bus's read queue
 * (sd_bus_enqueue_for_read) and dispatched again; the handler runs from
 * the top and this time polkit_check() returns the verdict. The bus
 * thread never waits for polkit. */

#include <systemd/sd-bus.h>

typedef struct PolkitRegistry PolkitRegistry;

PolkitRegistry *polkit_registry_new(void);
/* Cancels outstanding queries (their calls get no verdict: the bus is
 * going away). Accepts NULL, returns NULL. */
PolkitRegistry *polkit_registry_free(PolkitRegistry *r);

/* Decides whether the sender of `call` may perform `action` with
 * `details` (key, value, key, value, ..., NULL; may be NULL).
 *
 * Returns 1 when allowed: the sender's euid, as the bus daemon reports it
 * for the connection (never read from /proc), is 0; or polkit said yes.
 * Returns 0 when a polkit query is now pending: return 1 from the handler,
 * it will be called again with the same message.
 * Returns a negative errno with *error set otherwise:
 *   org.freedesktop.DBus.Error.InteractiveAuthorizationRequired when polkit
 *   would have asked for a password but the caller did not set the
 *   ALLOW_INTERACTIVE_AUTHORIZATION flag;
 *   org.freedesktop.DBus.Error.AccessDenied when polkit says no, polkit is
 *   unreachable or answers with an error, or the verdict at hand was
 *   given for another action or other details.
 * Interactive authorization is requested from polkit only when the caller
 * set that flag on its message. */
int polkit_check(PolkitRegistry *reg, sd_bus_message *call, const char *action,
                 const char *const *details, sd_bus_error *error);
