/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-wide memory pressure as org.freedesktop.LowMemoryMonitor, the
 * service GLib's GMemoryMonitor (its D-Bus backend) listens to: signal
 * LowMemoryWarning(y level) on /org/freedesktop/LowMemoryMonitor, level
 * 50 (low), 100 (medium) or 255 (critical). The source is a PSI trigger
 * on /proc/pressure/memory, sampled while pressure lasts, with the
 * hysteresis of pressure.h. The name is taken only when it is free (a
 * real low-memory-monitor wins: memcgd lets itself be replaced, and asks
 * again once the name is free), and only with [Pressure] LowMemoryMonitor=yes. A warning is sent when the level
 * rises and, as low-memory-monitor does, repeated while it holds (every
 * quiet period); the return to none is not announced (GMemoryMonitor has
 * no such level). */
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>

#include "manager.h"
#include "pressure-watch.h"
#include "util.h"

#define LMM_NAME "org.freedesktop.LowMemoryMonitor"
#define LMM_PATH "/org/freedesktop/LowMemoryMonitor"
#define LMM_INTERFACE "org.freedesktop.LowMemoryMonitor"

typedef struct LowMem {
        PressureWatch pw;
        PressureTracker pt;
        uint64_t psi_next;
        uint64_t last_warning;
        sd_event_source *io, *timer;
        sd_bus_slot *vtable_slot, *name_slot, *lost_slot, *owner_slot;
        bool owned;
} LowMem;

static const sd_bus_vtable lmm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_SIGNAL_WITH_ARGS("LowMemoryWarning", SD_BUS_ARGS("y", state), 0),
        SD_BUS_VTABLE_END
};

static uint64_t mono_now(Manager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t ?: 1;
}

static void warn(Manager *m, LowMem *lm, uint64_t now) {
        int r;

        lm->last_warning = now;
        if (!lm->owned)
                return;
        r = sd_bus_emit_signal(m->bus, LMM_PATH, LMM_INTERFACE, "LowMemoryWarning", "y", (uint8_t) lm->pt.level);
        if (r < 0)
                log_warning("Failed to emit LowMemoryWarning: %s", strerror(-r));
}

static void rearm(Manager *m, LowMem *lm) {
        uint64_t next = lm->psi_next, d = pressure_tracker_next_drop(&lm->pt);
        if (d < next)
                next = d;
        if (lm->pt.level > PRESSURE_NONE && lm->last_warning + lm->pt.quiet_usec < next)
                next = lm->last_warning + lm->pt.quiet_usec;
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(lm->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(lm->timer, next);
        (void) sd_event_source_set_enabled(lm->timer, SD_EVENT_ONESHOT);
}

static void step(Manager *m, LowMem *lm, bool woke) {
        uint64_t now = mono_now(m);
        PressureLevel old = lm->pt.level, sample = PRESSURE_NONE;
        bool sampled = false;

        if (woke || now >= lm->psi_next) {
                int r = pressure_watch_sample(&lm->pw, woke, now, &sample);
                sampled = r >= 0;
        }
        if (sampled)
                (void) pressure_tracker_sample(&lm->pt, sample, now);
        else
                (void) pressure_tracker_tick(&lm->pt, now);
        if (sampled || now >= lm->psi_next)
                lm->psi_next = (lm->pt.level > PRESSURE_NONE || sample > PRESSURE_NONE) ? now + PRESSURE_SAMPLE_USEC
                                                                                     : UINT64_MAX;
        if (lm->pt.level != old)
                log_info("Host memory pressure %s -> %s", pressure_level_to_string(old),
                         pressure_level_to_string(lm->pt.level));
        if (lm->pt.level > old || (lm->pt.level > PRESSURE_NONE && now >= lm->last_warning + lm->pt.quiet_usec))
                warn(m, lm, now);
        rearm(m, lm);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        step(m, m->lowmem, true);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        step(m, m->lowmem, false);
        return 0;
}

static int on_name(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint32_t ret = 0;

        if (!m->lowmem)
                return 0;
        if (e) {
                log_info("Not publishing %s: %s", LMM_NAME, e->message ?: e->name);
                return 0;
        }
        if (sd_bus_message_read(reply, "u", &ret) < 0 || ret != 1 /* PRIMARY_OWNER */) {
                /* Taken by someone else (a real low-memory-monitor): no
                 * queueing, it stays theirs. */
                log_info("%s is owned by another service; not publishing host pressure there", LMM_NAME);
                return 0;
        }
        m->lowmem->owned = true;
        log_info("Publishing host memory pressure as %s", LMM_NAME);
        return 0;
}

/* Only when free, and a real low-memory-monitor may take it over. */
static int request_name(Manager *m) {
        m->lowmem->name_slot = sd_bus_slot_unref(m->lowmem->name_slot);
        return sd_bus_call_method_async(m->bus, &m->lowmem->name_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "RequestName", on_name, m, "su", LMM_NAME,
                                        (uint32_t) (1 /* ALLOW_REPLACEMENT */ | 4 /* DO_NOT_QUEUE */));
}

/* The name became free (the low-memory-monitor that had it left): memcgd
 * publishes again, as at start. */
static int on_owner_changed(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        if (!m->lowmem || m->lowmem->owned || !streq_ptr(sd_bus_message_get_sender(msg), "org.freedesktop.DBus"))
                return 0;
        if (sd_bus_message_read(msg, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, LMM_NAME) ||
            new_owner[0] != '\0')
                return 0;
        log_info("%s is free again (%s left); asking for it", LMM_NAME, old_owner);
        r = request_name(m);
        if (r < 0)
                log_warning("Cannot ask for %s again: %s", LMM_NAME, strerror(-r));
        return 0;
}

/* A real low-memory-monitor took the name over (ALLOW_REPLACEMENT): the
 * bus driver says so with NameLost; from then on the warnings are its. */
static int on_name_lost(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *name;

        if (!m->lowmem || !streq_ptr(sd_bus_message_get_sender(msg), "org.freedesktop.DBus"))
                return 0;
        if (sd_bus_message_read(msg, "s", &name) < 0 || !streq(name, LMM_NAME))
                return 0;
        if (m->lowmem->owned)
                log_info("%s was taken over by another service; no longer publishing host pressure there", LMM_NAME);
        m->lowmem->owned = false;
        return 0;
}

int lowmem_start(Manager *m) {
        LowMem *lm;
        int r;

        if (!m->low_memory_monitor || !m->bus)
                return 0;
        lm = g_new0(LowMem, 1);
        lm->pw = PRESSURE_WATCH_INIT;
        lm->psi_next = UINT64_MAX;
        pressure_tracker_init(&lm->pt, m->pressure_quiet_usec);
        m->lowmem = lm;

        r = pressure_watch_open_psi(AT_FDCWD, "/proc/pressure/memory", mono_now(m), &lm->pw);
        if (r < 0) {
                log_info("No host memory pressure (/proc/pressure/memory: %s): not publishing %s", strerror(-r),
                         LMM_NAME);
                lowmem_stop(m);
                return 0;
        }
        r = sd_event_add_io(m->event, &lm->io, lm->pw.fd, EPOLLPRI, on_io, m);
        if (r >= 0)
                r = sd_event_add_time(m->event, &lm->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(lm->timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_bus_add_object_vtable(m->bus, &lm->vtable_slot, LMM_PATH, LMM_INTERFACE, lmm_vtable, m);
        if (r >= 0)
                r = sd_bus_match_signal(m->bus, &lm->lost_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "NameLost", on_name_lost, m);
        if (r >= 0)
                r = sd_bus_add_match(m->bus, &lm->owner_slot,
                                     "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                     "arg0='" LMM_NAME "'",
                                     on_owner_changed, m);
        if (r >= 0)
                r = request_name(m);
        if (r < 0) {
                log_warning("Cannot publish %s: %s", LMM_NAME, strerror(-r));
                lowmem_stop(m);
                return r;
        }
        log_debug("Host memory pressure: PSI trigger with a %" PRIu64 " ms window", lm->pw.window_usec / 1000);
        return 0;
}

void lowmem_stop(Manager *m) {
        LowMem *lm = m->lowmem;

        if (!lm)
                return;
        sd_event_source_disable_unref(lm->io);
        sd_event_source_disable_unref(lm->timer);
        sd_bus_slot_unref(lm->vtable_slot);
        sd_bus_slot_unref(lm->name_slot);
        sd_bus_slot_unref(lm->lost_slot);
        sd_bus_slot_unref(lm->owner_slot);
        pressure_watch_close(&lm->pw);
        g_free(lm);
        m->lowmem = NULL;
}
