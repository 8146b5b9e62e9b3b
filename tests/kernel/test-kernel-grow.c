/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine against the real kernel (v1 here, v2 in the VM suite): a
 * child in a fresh memcg monitored at 64 MiB grows to 512 MiB in 16 MiB
 * steps without an OOM kill, the limit grows in the seed's steps, comes
 * back down on the backoff schedule after the child frees down to 32 MiB,
 * to the seed's shrink target and no lower; an initial limit below usage
 * is refused; removing the memcg ends its worker, also one asleep on an
 * hour-long timer. */
#include <signal.h>

#include "kernel-test.h"
#include "service/log.h"

#define STEP (16 * MIB)
#define PEAK (512 * MIB)
#define LOW (32 * MIB)

static char cg_rel[256], cg_abs[4352];

/* The child: joins the cgroup, then obeys one-byte commands on `cmd`:
 * 'g' grow to PEAK in STEP steps with 100 ms pauses, 'f' free down to LOW,
 * 'q' exit. Answers each with one byte on `ack`. */
static void child(int cmd, int ack) {
        void *blocks[PEAK / STEP] = {};
        size_t n = 0;
        char c;

        if (cg_join(cg_abs) < 0)
                _exit(3);
        while (read(cmd, &c, 1) == 1) {
                if (c == 'g') {
                        while (n < PEAK / STEP) {
                                blocks[n] = touch_block(STEP, false);
                                if (!blocks[n])
                                        _exit(4);
                                n++;
                                usleep(100 * 1000);
                        }
                } else if (c == 'f') {
                        while (n > LOW / STEP)
                                syscall(SYS_munmap, blocks[--n], STEP);
                }
                if (write(ack, &c, 1) != 1)
                        _exit(5);
                if (c == 'q')
                        _exit(0);
        }
        _exit(0);
}

typedef struct Seen {
        unsigned grows, shrinks, grows_in_steps, shrink_checked;
        bool started, stopped, failed, shrink_below_target;
        StopReason stop_reason;
        MemcgError error;
        uint64_t last_max;
        uint64_t last_shrink_usec;
} Seen;

static const Tunables *tun;

static void drain(Engine *e, Seen *s, int timeout_ms) {
        struct pollfd p = { .fd = engine_event_fd(e), .events = POLLIN };
        EngineEvent ev;

        (void) poll(&p, 1, timeout_ms);
        while (engine_pop_event(e, &ev) > 0) {
                if (ev.type == ENGINE_EVENT_REQUEST_DONE) {
                        if (ev.error.code == MEMCG_OK)
                                s->started = true;
                        else {
                                s->failed = true;
                                s->error = ev.error;
                        }
                } else if (ev.type == ENGINE_EVENT_LIMIT_CHANGED) {
                        s->last_max = ev.new_max;
                        if (ev.reason == LIMIT_REASON_GROW) {
                                s->grows++;
                                if (ev.new_max - ev.old_max == limits_grow_delta(tun, ev.old_max))
                                        s->grows_in_steps++;
                                else
                                        printf("note: grow %llu -> %llu is not one seed step (%llu)\n",
                                               (unsigned long long) ev.old_max, (unsigned long long) ev.new_max,
                                               (unsigned long long) limits_grow_delta(tun, ev.old_max));
                        } else if (ev.reason == LIMIT_REASON_SHRINK) {
                                s->shrinks++;
                                s->last_shrink_usec = mono_usec();
                                printf("shrink %llu -> %llu\n", (unsigned long long) ev.old_max,
                                       (unsigned long long) ev.new_max);
                        }
                } else if (ev.type == ENGINE_EVENT_STOPPED) {
                        s->stopped = true;
                        s->stop_reason = ev.stop_reason;
                } else if (ev.type == ENGINE_EVENT_OOM)
                        printf("oom event kind=%s count=%llu\n", oom_kind_to_string(ev.oom_kind),
                               (unsigned long long) ev.oom_count);
                engine_event_done(&ev);
        }
}

/* Has the child grow to PEAK in the background of the event loop; true
 * once it says it did (within 60 s). */
static bool grow_child(Engine *e, Seen *s, int cmd, int ack) {
        struct pollfd ap = { .fd = ack, .events = POLLIN };
        char c = 'g';

        if (write(cmd, &c, 1) != 1)
                return false;
        uint64_t t0 = mono_usec();
        while (mono_usec() - t0 < 60 * 1000000ULL) {
                drain(e, s, 20);
                if (poll(&ap, 1, 0) == 1)
                        break;
        }
        return read(ack, &c, 1) == 1 && c == 'g';
}

static void send_cmd(int cmd, int ack, char c) {
        char r;
        if (write(cmd, &c, 1) != 1 || read(ack, &r, 1) != 1 || r != c) {
                check(0, "child answered command '%c'", c);
                exit(1);
        }
}

int main(void) {
        EngineConfig cfg;
        MemcgError err = {};
        Seen s = {};
        bool already;
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (getenv("KT_DEBUG"))
                log_max_level = LOG_DEBUG;
        /* A child killed mid-test must fail a check, not kill us. */
        signal(SIGPIPE, SIG_IGN);
        engine_config_init_default(&cfg);
        /* Shortened backoff: 50 ms doubling up to 400 ms, so ten quiet
         * checks (the 10% margin floor) take about 2.5 s. */
        cfg.tunables.shrink_base_usec = 50 * 1000;
        cfg.tunables.shrink_max_usec = 400 * 1000;
        cfg.budget_bytes = 4096 * MIB;
        /* The reaction alone: no hold at the limit to hide a late one. */
        cfg.v1_hold_at_limit = false;
        tun = &cfg.tunables;
        Engine *e = start_engine(&cfg);
        Backend b = engine_backend(e);
        make_memcg(engine_root(e), "grow", cg_rel, sizeof(cg_rel), cg_abs, sizeof(cg_abs));

        int cmdp[2], ackp[2];
        if (pipe(cmdp) < 0 || pipe(ackp) < 0)
                return 1;
        pid_t pid = fork();
        if (pid == 0) {
                close(cmdp[1]);
                close(ackp[0]);
                child(cmdp[0], ackp[1]);
        }
        close(cmdp[0]);
        close(ackp[1]);

        uint64_t orig_limit = cg_limit(b, cg_abs);
        MonitorRequest req = { .path = cg_rel, .initial_limit = 64 * MIB, .cookie = 1 };
        r = engine_monitor(e, &req, &already, &err);
        check(r == 0 && !already, "monitor %s at 64 MiB accepted (%s)", cg_rel, r < 0 ? err.message : "ok");
        for (int i = 0; i < 50 && !s.started && !s.failed; i++)
                drain(e, &s, 100);
        check(s.started, "worker wrote the initial limits");
        check(cg_limit(b, cg_abs) == 64 * MIB, "limit file is 64 MiB (%llu)",
              (unsigned long long) cg_limit(b, cg_abs));

        check(grow_child(e, &s, cmdp[1], ackp[0]), "child touched 512 MiB and is alive");
        drain(e, &s, 200);
        uint64_t peak_usage = cg_usage(b, cg_abs);
        printf("usage at peak %llu, limit %llu, grows %u\n", (unsigned long long) peak_usage,
               (unsigned long long) cg_limit(b, cg_abs), s.grows);
        check(cg_oom_kills(b, cg_abs) == 0, "no OOM kill while growing (oom_kill=%llu)",
              (unsigned long long) cg_oom_kills(b, cg_abs));
        check(s.grows >= 5, "the limit grew in several steps (%u)", s.grows);
        check(s.grows_in_steps == s.grows, "every grow was exactly one seed step (%u of %u)", s.grows_in_steps,
              s.grows);
        check(cg_limit(b, cg_abs) > peak_usage, "limit %llu is above usage %llu",
              (unsigned long long) cg_limit(b, cg_abs), (unsigned long long) peak_usage);

        /* Free down to 32 MiB and let the backoff bring the limit down. */
        unsigned shrinks_before = s.shrinks;
        send_cmd(cmdp[1], ackp[0], 'f');
        uint64_t t0 = mono_usec();
        while (mono_usec() - t0 < 30 * 1000000ULL) {
                drain(e, &s, 100);
                CgroupStats st;
                if (engine_get_stats(e, cg_rel, &st, &err) == 0 && st.no_increase_count >= 12 &&
                    mono_usec() - s.last_shrink_usec > 1000000)
                        break;
        }
        uint64_t low_usage = cg_usage(b, cg_abs);
        uint64_t final = cg_limit(b, cg_abs);
        uint64_t target = limits_shrink_target(tun, low_usage, 1000);
        uint64_t floor_max = limits_max_from_high(tun, low_usage);
        printf("usage after free %llu, limit %llu, seed target %llu (max_from_high %llu), shrinks %u\n",
               (unsigned long long) low_usage, (unsigned long long) final, (unsigned long long) target,
               (unsigned long long) floor_max, s.shrinks - shrinks_before);
        check(s.shrinks - shrinks_before >= 3, "the limit came down step by step (%u shrinks)",
              s.shrinks - shrinks_before);
        /* The target moves with usage by a few pages; a page of rounding
         * on either side. */
        uint64_t diff = final > target ? final - target : target - final;
        check(diff <= 2 * MIB, "final limit %llu is the seed's shrink target %llu (+-2 MiB)",
              (unsigned long long) final, (unsigned long long) target);
        check(final > floor_max, "final limit %llu is above max_from_high(usage) %llu: no lower",
              (unsigned long long) final, (unsigned long long) floor_max);
        check(final >= 38 * MIB && final <= 46 * MIB, "final limit is about 41 MiB (%.1f MiB)",
              (double) final / MIB);
        check(cg_oom_kills(b, cg_abs) == 0, "still no OOM kill");

        /* Growing again from the shrunk limit: on v1 the lowered line is
         * what wakes the worker (the ladder above it is rebuilt only at
         * this grow, not at every shrink). */
        unsigned grows_before = s.grows;
        check(grow_child(e, &s, cmdp[1], ackp[0]), "child touched 512 MiB again after the shrinks and is alive");
        drain(e, &s, 200);
        check(s.grows - grows_before >= 5, "the limit grew again from the shrunk one (%u grows)", s.grows - grows_before);
        check(cg_limit(b, cg_abs) > cg_usage(b, cg_abs), "limit %llu is above usage %llu again",
              (unsigned long long) cg_limit(b, cg_abs), (unsigned long long) cg_usage(b, cg_abs));
        check(cg_oom_kills(b, cg_abs) == 0, "no OOM kill growing again");

        /* Unmonitor restores the limit from before Monitor. */
        s.stopped = false;
        r = engine_unmonitor(e, cg_rel, 2, &err);
        for (int i = 0; i < 50 && !s.stopped; i++)
                drain(e, &s, 100);
        check(r == 0 && s.stopped && s.stop_reason == STOP_REASON_UNMONITORED, "unmonitor stopped the worker");
        check(cg_limit(b, cg_abs) == orig_limit, "the original limit %llu is back (%llu)",
              (unsigned long long) orig_limit, (unsigned long long) cg_limit(b, cg_abs));
        check(engine_budget_granted(e) == 0, "the grant went back to the pool (%llu)",
              (unsigned long long) engine_budget_granted(e));

        /* An initial limit below usage is refused, synchronously. */
        req = (MonitorRequest) { .path = cg_rel, .initial_limit = 16 * MIB, .cookie = 3 };
        err = (MemcgError) {};
        r = engine_monitor(e, &req, &already, &err);
        check(r < 0 && err.code == MEMCG_ERROR_LIMIT_BELOW_USAGE && strstr(err.message, cg_rel),
              "16 MiB below usage is refused: %s", err.message);
        check(!engine_is_monitored(e, cg_rel), "the refused cgroup is not monitored");

        /* Removing the memcg while monitored ends the worker. */
        send_cmd(cmdp[1], ackp[0], 'q');
        waitpid(pid, NULL, 0);
        s = (Seen) {};
        req = (MonitorRequest) { .path = cg_rel, .initial_limit = 64 * MIB, .cookie = 4 };
        r = engine_monitor(e, &req, &already, &err);
        for (int i = 0; i < 50 && !s.started; i++)
                drain(e, &s, 100);
        check(r == 0 && s.started, "monitored again");
        check(rmdir(cg_abs) == 0, "rmdir %s", cg_abs);
        t0 = mono_usec();
        while (!s.stopped && mono_usec() - t0 < 5000000)
                drain(e, &s, 100);
        check(s.stopped && s.stop_reason == STOP_REASON_REMOVED, "removal ended the worker in %.0f ms",
              (mono_usec() - t0) / 1000.0);
        check(!engine_is_monitored(e, cg_rel), "the removed cgroup is no longer monitored");
        check(engine_budget_granted(e) == 0, "its grant went back to the pool");

        /* v1 with swap accounting: memsw capped at the start limit, so
         * every raise passes memsw.limit_in_bytes, which the kernel
         * refuses (EINVAL) until memsw is lifted first. */
        char ms_rel[256], ms_abs[4352], memsw_path[4400];
        make_memcg(engine_root(e), "memsw", ms_rel, sizeof(ms_rel), ms_abs, sizeof(ms_abs));
        snprintf(memsw_path, sizeof(memsw_path), "%s/memory.memsw.limit_in_bytes", ms_abs);
        if (b == BACKEND_V1 && access(memsw_path, F_OK) == 0) {
                check(cg_write(ms_abs, "memory.limit_in_bytes", "67108864") == 0 &&
                              cg_write(ms_abs, "memory.memsw.limit_in_bytes", "67108864") == 0,
                      "memsw: limit and memsw.limit capped at 64 MiB before Monitor");
                s = (Seen) {};
                req = (MonitorRequest) { .path = ms_rel, .initial_limit = 64 * MIB, .cookie = 5 };
                r = engine_monitor(e, &req, &already, &err);
                for (int i = 0; i < 50 && !s.started && !s.failed; i++)
                        drain(e, &s, 100);
                check(r == 0 && s.started, "memsw: monitored at 64 MiB");
                /* 1 MiB every 2 ms, then held for 3 s: looked at while
                 * held, before the backoff takes the limit down again. */
                pid_t a = spawn_allocator(ms_abs, 160 * MIB, 1 * MIB, 2000, 3000 * 1000);
                int status = -1;
                uint64_t lim = 0, ms = 0;
                pid_t got = 0;
                for (int i = 0; i < 600 && (got = waitpid(a, &status, WNOHANG)) == 0; i++) {
                        drain(e, &s, 20);
                        if (cg_usage(b, ms_abs) >= 160 * MIB) {
                                lim = cg_limit(b, ms_abs);
                                ms = cg_u64(ms_abs, "memory.memsw.limit_in_bytes");
                                break;
                        }
                }
                check(lim > 160 * MIB && ms >= lim,
                      "memsw: the child holds 160 MiB; memsw.limit was lifted with the %u raises (%llu >= %llu)",
                      s.grows, (unsigned long long) ms, (unsigned long long) lim);
                if (got == 0)
                        got = waitpid(a, &status, 0);
                check(got == a && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "memsw: the child exited 0 (status %#x)", status);
                check(cg_oom_kills(b, ms_abs) == 0, "memsw: no OOM kill");
                s.stopped = false;
                r = engine_unmonitor(e, ms_rel, 6, &err);
                for (int i = 0; i < 50 && !s.stopped; i++)
                        drain(e, &s, 100);
                check(r == 0 && cg_limit(b, ms_abs) == 64 * MIB, "memsw: Unmonitor put the 64 MiB limit back (%llu)",
                      (unsigned long long) cg_limit(b, ms_abs));
                /* And memsw's, which memcgd lifted on the way up. */
                check(cg_u64(ms_abs, "memory.memsw.limit_in_bytes") == 64 * MIB,
                      "memsw: Unmonitor put memsw.limit_in_bytes back to 64 MiB (%llu)",
                      (unsigned long long) cg_u64(ms_abs, "memory.memsw.limit_in_bytes"));
        } else
                printf("memsw: no memory.memsw.limit_in_bytes (v2, or v1 without swap accounting): not exercised\n");
        remove_memcg(engine_root(e), ms_abs);

        /* An idle cgroup's worker sleeps through its whole shrink timer:
         * the removal must wake it all the same (v1: the kernel signals
         * its eventfd; v2, whose rmdir wakes no poller of memory.events:
         * the engine's watch of the parent), also without pressure
         * notifications (a v2 PSI trigger is woken by the removal). */
        {
                EngineConfig cfg2 = cfg;
                cfg2.tunables.shrink_base_usec = cfg2.tunables.shrink_max_usec = 3600 * UINT64_C(1000000);
                cfg2.pressure_disabled = true;
                Engine *e2 = start_engine(&cfg2);
                char rm_rel[256], rm_abs[4352];
                make_memcg(engine_root(e2), "idle-removed", rm_rel, sizeof(rm_rel), rm_abs, sizeof(rm_abs));
                Seen s2 = {};
                MonitorRequest rq = { .path = rm_rel, .initial_limit = 64 * MIB, .cookie = 7 };
                r = engine_monitor(e2, &rq, &already, &err);
                for (int i = 0; i < 50 && !s2.started && !s2.failed; i++)
                        drain(e2, &s2, 100);
                check(r == 0 && s2.started, "idle: monitored with a 3600 s shrink timer and no pressure notifications");
                check(rmdir(rm_abs) == 0, "idle: rmdir %s", rm_abs);
                uint64_t t1 = mono_usec();
                while (!s2.stopped && mono_usec() - t1 < 5000000)
                        drain(e2, &s2, 100);
                check(s2.stopped && s2.stop_reason == STOP_REASON_REMOVED,
                      "idle: the removal ended the sleeping worker in %.0f ms", (mono_usec() - t1) / 1000.0);
                check(!engine_is_monitored(e2, rm_rel), "idle: the removed cgroup is no longer monitored");
                engine_free(e2);
        }

        engine_free(e);
        rmdir(cg_abs);
        printf("%d check(s) failed\n", kt_failures);
        return kt_failures ? 1 : 0;
}
