/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "exit-status.h"

int exit_status_from_bus_error(const char *name, int error) {
        static const struct {
                const char *name;
                int status;
        } table[] = {
                { "org.memcgd1.Error.InvalidPath", MEMCGCTL_EXIT_USAGE },
                { "org.freedesktop.DBus.Error.InvalidArgs", MEMCGCTL_EXIT_USAGE },
                { "org.freedesktop.DBus.Error.AccessDenied", MEMCGCTL_EXIT_NOT_AUTHORIZED },
                { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", MEMCGCTL_EXIT_NOT_AUTHORIZED },
                { "org.freedesktop.DBus.Error.AuthFailed", MEMCGCTL_EXIT_NOT_AUTHORIZED },
                { "org.memcgd1.Error.NoSuchCgroup", MEMCGCTL_EXIT_NOT_FOUND },
                { "org.memcgd1.Error.NotMemcg", MEMCGCTL_EXIT_NOT_FOUND },
                { "org.memcgd1.Error.NotMonitored", MEMCGCTL_EXIT_NOT_FOUND },
                { "org.memcgd1.Error.LimitBelowUsage", MEMCGCTL_EXIT_LIMIT_REFUSED },
                { "org.memcgd1.Error.BudgetExceeded", MEMCGCTL_EXIT_LIMIT_REFUSED },
                { "org.memcgd1.Error.LimitOutOfRange", MEMCGCTL_EXIT_LIMIT_REFUSED },
                /* No owner for org.memcgd1: a bus without activation says
                 * ServiceUnknown, one with activation may fail to spawn. */
                { "org.freedesktop.DBus.Error.ServiceUnknown", MEMCGCTL_EXIT_NOT_RUNNING },
                { "org.freedesktop.DBus.Error.NameHasNoOwner", MEMCGCTL_EXIT_NOT_RUNNING },
                { "org.freedesktop.DBus.Error.Disconnected", MEMCGCTL_EXIT_NOT_RUNNING },
        };

        if (name) {
                for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                        if (strcmp(name, table[i].name) == 0)
                                return table[i].status;
                if (strncmp(name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                        return MEMCGCTL_EXIT_NOT_RUNNING;
                return MEMCGCTL_EXIT_FAILURE;
        }
        switch (error) {
        case -ENOENT:       /* no bus socket */
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -ENOTCONN:
        case -EPIPE:
                return MEMCGCTL_EXIT_NOT_RUNNING;
        case -EACCES:
        case -EPERM:
                return MEMCGCTL_EXIT_NOT_AUTHORIZED;
        default:
                return MEMCGCTL_EXIT_FAILURE;
        }
}
