/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The main thread of the service: an sd-event loop that alone owns the
 * sd_bus connection and the Engine handle. Workers talk to it only
 * through the engine's event queue, which it drains into bus signals,
 * method replies, object tree changes and state saves. */

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include <glib.h>

#include "memcgd/engine.h"
#include "polkit.h"
#include "reclaim.h"
#include "state.h"

#define MEMCGD_BUS_NAME "org.memcgd1"
#define MEMCGD_MANAGER_PATH "/org/memcgd1"
#define MEMCGD_MANAGER_INTERFACE "org.memcgd1.Manager"
#define MEMCGD_CGROUP_PREFIX "/org/memcgd1/cgroup"
#define MEMCGD_CGROUP_INTERFACE "org.memcgd1.Cgroup"

typedef struct Manager Manager;

typedef enum CgroupState {
        CGROUP_PENDING,  /* Monitor accepted, the worker has not reported yet: no object */
        CGROUP_ACTIVE,   /* monitored, object exported */
        CGROUP_LEAVING,  /* Unmonitor acknowledged, the worker's STOPPED not seen yet:
                          * object still exported, no longer listed or saved */
} CgroupState;

/* The service's record of one monitored cgroup (the engine has its own;
 * this is what the bus shows and the state file keeps). */
typedef struct MonitoredCgroup {
        Manager *manager;
        char *path;
        char *object_path;
        CgroupState state;
        bool exported;          /* InterfacesAdded sent; find() answers for it */
        bool limits_changed;    /* PropertiesChanged owed after this drain */
        Backend backend;
        uint64_t max, high;     /* as of the last LIMIT_CHANGED drained */
        /* What the state file keeps: the limits from before Monitor and
         * the current initial limit. */
        uint64_t original_max, original_high, initial_limit;
        bool original_okd;      /* v1 oom_kill_disable before Monitor */
        uint64_t pending_cookie; /* CGROUP_PENDING: the Monitor request */
        OomPolicy oom_policy;
        bool oom_waiting;       /* the freeze policy holds it, waiting for ResolveOom */
        bool oom_changed;       /* PropertiesChanged (OomPolicy, OomWaiting) owed */
} MonitoredCgroup;

typedef enum RequestType {
        REQUEST_MONITOR,
        REQUEST_REATTACH,
        REQUEST_UNMONITOR,
        REQUEST_SET_LIMIT,
        REQUEST_RESOLVE_OOM,
} RequestType;

/* A request handed to the engine whose outcome arrives as REQUEST_DONE. */
typedef struct Request {
        uint64_t cookie;
        RequestType type;
        char *path;
        uint64_t limit;         /* REQUEST_SET_LIMIT */
        GPtrArray *calls;       /* sd_bus_message* to answer (may be empty) */
} Request;

struct Manager {
        sd_event *event;
        sd_bus *bus;
        Engine *engine;
        PolkitRegistry *polkit;
        char *state_directory;

        sd_event_source *engine_source;
        sd_event_source *sigterm_source, *sigint_source;
        sd_event_source *reattach_timer;
        sd_event_source *recheck_timer;
        sd_event_source *save_retry_timer; /* a failed state save, tried again */

        GHashTable *cgroups;     /* path -> MonitoredCgroup* (owned) */
        GHashTable *requests;    /* uint64_t* cookie -> Request* (owned) */
        /* path -> GPtrArray of sd_bus_message* (referenced): Monitor calls
         * that came while the path's worker was stopping; dispatched again
         * once its MonitorStopped is out (manager_release_parked()). */
        GHashTable *parked_monitors;
        GHashTable *remembered;  /* path -> uint64_t*: start limits remembered by the engine */
        /* path -> StateMonitored*: entries of the state file that could not
         * be re-attached for a reason that may pass (an I/O error, the
         * budget): kept in the file for the next start instead of being
         * forgotten. A Monitor or Unmonitor of the path drops it. */
        GHashTable *dormant;
        bool state_unreadable;   /* never overwrite a state file we could not read */
        uint64_t next_cookie;
        OomPolicy default_oom_policy; /* of a new Monitor ([Oom] DefaultPolicy=) */

        unsigned reattach_pending;
        bool name_requested;
        bool ready;

        /* What the last PropertiesChanged (or the first read) showed. */
        uint64_t shown_budget, shown_granted;
        unsigned shown_count;

        /* The reclaim broker (reclaim-bus.c). */
        ReclaimRegistry reclaimers;
        bool reclaim_registered;
        /* RegisterReclaimer calls polkit was asked about (a reference
         * each): their verdict is taken when they come back. */
        GHashTable *reclaim_asked;
        /* Host pressure as org.freedesktop.LowMemoryMonitor (lowmem-bus.c). */
        bool low_memory_monitor;    /* [Pressure] LowMemoryMonitor= */
        uint64_t pressure_quiet_usec;
        struct LowMem *lowmem;
};

/* Takes ownership of `engine` (freed, i.e. workers joined, by
 * manager_free). 0 or negative errno. */
int manager_new(Engine *engine, const char *state_directory, Manager **ret);
Manager *manager_free(Manager *m);

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set),
 * registers the object tree, re-attaches to the cgroups of the state file
 * and, once they are back, requests the bus name and notifies READY=1.
 * 0 or negative errno (logged). */
int manager_start(Manager *m);

/* Runs the loop until SIGTERM/SIGINT (exit code 0) or a fatal condition
 * such as a lost bus connection (non-zero); then stops accepting calls,
 * frees the engine (joining every worker) and saves the state. Returns
 * the process exit code. */
int manager_run(Manager *m);

/* Writes the state file from the records (pending and active cgroups,
 * remembered start limits). Logs failures. 0 or negative errno. */
int manager_save_state(Manager *m);

/* Drains the engine's event queue, as the loop does whenever
 * engine_event_fd() is readable: records, state file, replies, signals.
 * For a caller that runs its own loop over a bus it set up itself (the
 * bus handlers' fuzz target). */
void manager_process_engine_events(Manager *m);

/* A fresh cookie (never 0). */
uint64_t manager_new_cookie(Manager *m);

/* Registers a request waiting for REQUEST_DONE; `call` (may be NULL) is
 * referenced and answered when it completes. */
Request *manager_add_request(Manager *m, uint64_t cookie, RequestType type, const char *path,
                             uint64_t limit, sd_bus_message *call);

/* Notes that the engine remembers a start limit for the unmonitored
 * `path` (saved in the state file while the engine still has it). */
void manager_remember_limit(Manager *m, const char *path, uint64_t limit);

/* Whether a failed re-attach should keep the entry for the next start:
 * everything but "the cgroup is gone or is not one". */
bool memcg_error_is_transient(MemcgErrorCode code);
/* Keeps a state file entry that could not be re-attached (with its OOM
 * policy) for the next start; replaces an earlier one of the path. */
void manager_add_dormant(Manager *m, const char *path, uint64_t original_max, uint64_t original_high,
                         bool original_okd, uint64_t initial_limit, OomPolicy oom_policy);
void manager_drop_dormant(Manager *m, const char *path);
/* Parks a Monitor call until the stopping worker of its path is gone. */
void manager_park_monitor(Manager *m, const char *path, sd_bus_message *call);
/* The dormant entry of `path`, or NULL. */
StateMonitored *manager_get_dormant(Manager *m, const char *path);
/* Unmonitor of a dormant entry: restores the limits it recorded from
 * before Monitor (when usage allows), forgets it and saves the state.
 * -ENOENT when `path` has no dormant entry, else what the save returned
 * (the entry is gone either way). */
int manager_unmonitor_dormant(Manager *m, const char *path);

MonitoredCgroup *manager_get_cgroup(Manager *m, const char *path);
/* Creates the record (state PENDING, not exported). NULL on bad path. */
MonitoredCgroup *manager_add_cgroup(Manager *m, const char *path);
void manager_remove_cgroup(Manager *m, MonitoredCgroup *c);
unsigned manager_active_count(Manager *m);

/* Fills limits and backend of the record from engine_get_stats; keeps
 * what it had when the engine cannot read them. */
void manager_refresh_cgroup(Manager *m, MonitoredCgroup *c);

/* Emits PropertiesChanged on the manager for what changed since the last
 * emission. */
void manager_send_changed(Manager *m);

/* ---- manager-bus.c ---- */

/* Registers vtables, the fallback vtable with its node enumerator and the
 * object manager. 0 or negative errno. */
int manager_bus_register(Manager *m);

/* Exports / unexports a cgroup object (InterfacesAdded/Removed). */
void manager_bus_cgroup_added(Manager *m, MonitoredCgroup *c);
void manager_bus_cgroup_removed(Manager *m, MonitoredCgroup *c);

/* Signals of org.memcgd1.Manager. Failures are logged. */
void manager_bus_emit_limit_changed(Manager *m, const EngineEvent *ev);
void manager_bus_emit_oom(Manager *m, const EngineEvent *ev);
void manager_bus_emit_budget_exhausted(Manager *m, const EngineEvent *ev);
void manager_bus_emit_monitor_stopped(Manager *m, const char *path, StopReason reason);
void manager_bus_emit_tasks_killed(Manager *m, const EngineEvent *ev);
/* PropertiesChanged for OomPolicy and OomWaiting of a cgroup object. */
void manager_bus_emit_oom_changed(Manager *m, MonitoredCgroup *c);

/* ---- reclaim-bus.c ---- */

#define MEMCGD_RECLAIMER_PREFIX "/org/memcgd1/reclaimer"
#define MEMCGD_RECLAIMER_INTERFACE "org.memcgd1.Reclaimer"

/* Manager.RegisterReclaimer(s cgroup, t chunk_size) -> o. */
int reclaim_method_register(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* The reclaimer objects and the watch for vanished owners. 0 or -errno. */
int reclaim_bus_register(Manager *m);
/* RECLAIM_WANTED: the seed's loop over the cgroup's reclaimers, one
 * Reclaim signal to each asked, then Manager.ReclaimRequested. */
void reclaim_bus_request(Manager *m, const EngineEvent *ev);
/* Manager.Pressure(s cgroup, y level). */
void manager_bus_emit_pressure(Manager *m, const EngineEvent *ev);
void reclaim_bus_done(Manager *m);

/* ---- lowmem-bus.c ---- */

/* Watches /proc/pressure/memory and, when the name is free, owns
 * org.freedesktop.LowMemoryMonitor. Failures are logged and leave it off.
 * 0 or -errno. */
int lowmem_start(Manager *m);
void lowmem_stop(Manager *m);

/* The error reply of an engine error: its D-Bus name and message. */
int bus_error_from_memcg(sd_bus_error *error, const MemcgError *e);
