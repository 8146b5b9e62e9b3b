/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <signal.h>

#include "conf.h"
#include "config.h" /* the build's: MEMCGD_VERSION */
#include "manager.h"
#include "memcgd/parse.h"
#include "nobus.h"
#include "state.h"
#include "util.h"

/* The parsed command line: the only statics of the daemon. */
static const char *arg_config = NULL;
static const char *arg_state_directory = NULL;
static const char *arg_budget = NULL;
static const char *arg_log_level = NULL;
static const char *arg_root = NULL;
static const char *arg_shrink_base = NULL;
static bool arg_no_bus = false;
static bool arg_thaw = false;
static GPtrArray *arg_monitor = NULL; /* "PATH=SIZE" strings, NULL-terminated */

static void help(void) {
        printf("memcgd [OPTIONS...]\n\n"
               "Elastic limits for memory cgroups, served as org.memcgd1 on the system bus.\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --config=FILE           Configuration file (default: %s)\n"
               "     --state-directory=DIR   Where the monitored set is kept\n"
               "                             (default: $STATE_DIRECTORY, else %s)\n"
               "     --budget=SIZE           Host budget: a size (4G) or a percentage of MemTotal (80%%)\n"
               "     --log-level=LEVEL       err, warning, notice, info, debug\n"
               "     --root=DIR              Root of the memory hierarchy (default: from mountinfo)\n"
               "     --shrink-base=DURATION  Base of the shrink backoff timer (default 1s)\n"
               "     --no-bus                Do not use D-Bus: monitor the --monitor cgroups and print\n"
               "                             every event on stdout\n"
               "     --monitor=PATH=SIZE     With --no-bus: monitor PATH (SIZE 0 = derived); repeatable\n"
               "     --thaw                  Thaw every cgroup of the state file that an OOM policy may have\n"
               "                             left stopped (after a crash; the unit's ExecStopPost=), then exit\n\n"
               "The bus is the system bus, or $DBUS_SYSTEM_BUS_ADDRESS when set.\n",
               CONFIG_DEFAULT_PATH, MEMCGD_STATEDIR);
}

/* 1: run, 0: exit successfully (help, version), negative: usage error. */
static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG,
                ARG_STATE_DIRECTORY,
                ARG_BUDGET,
                ARG_LOG_LEVEL,
                ARG_ROOT,
                ARG_SHRINK_BASE,
                ARG_NO_BUS,
                ARG_MONITOR,
                ARG_THAW,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "state-directory", required_argument, NULL, ARG_STATE_DIRECTORY },
                { "budget", required_argument, NULL, ARG_BUDGET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "root", required_argument, NULL, ARG_ROOT },
                { "shrink-base", required_argument, NULL, ARG_SHRINK_BASE },
                { "no-bus", no_argument, NULL, ARG_NO_BUS },
                { "monitor", required_argument, NULL, ARG_MONITOR },
                { "thaw", no_argument, NULL, ARG_THAW },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("memcgd %s\n", MEMCGD_VERSION);
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIRECTORY:
                        arg_state_directory = optarg;
                        break;
                case ARG_BUDGET:
                        arg_budget = optarg;
                        break;
                case ARG_LOG_LEVEL:
                        if (log_level_from_string(optarg) < 0) {
                                log_error("Invalid --log-level=%s: expected err, warning, notice, info, debug", optarg);
                                return -EINVAL;
                        }
                        arg_log_level = optarg;
                        break;
                case ARG_ROOT:
                        arg_root = optarg;
                        break;
                case ARG_SHRINK_BASE:
                        arg_shrink_base = optarg;
                        break;
                case ARG_THAW:
                        arg_thaw = true;
                        break;
                case ARG_NO_BUS:
                        arg_no_bus = true;
                        break;
                case ARG_MONITOR:
                        if (!arg_monitor)
                                arg_monitor = g_ptr_array_new();
                        g_ptr_array_add(arg_monitor, optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                log_error("Unexpected argument: %s", argv[optind]);
                return -EINVAL;
        }
        if (arg_monitor && !arg_no_bus) {
                log_error("--monitor= is only for --no-bus; over the bus, call Monitor()");
                return -EINVAL;
        }
        if (arg_monitor)
                g_ptr_array_add(arg_monitor, NULL);
        return 1;
}

static void g_ptr_array_unrefp(GPtrArray **a) {
        if (*a)
                g_ptr_array_unref(*a);
}

int main(int argc, char *argv[]) {
        _cleanup_(config_done) ServiceConfig cfg = {};
        _cleanup_(g_ptr_array_unrefp) GPtrArray *monitor = NULL;
        Engine *engine = NULL;
        Manager *m = NULL;
        MemcgError err = {};
        sigset_t mask;
        int r;

        r = parse_argv(argc, argv);
        monitor = arg_monitor;
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (arg_log_level)
                log_max_level = log_level_from_string(arg_log_level);

        ConfigOverrides o = {
                .budget = arg_budget,
                .shrink_base = arg_shrink_base,
                .root = arg_root,
                .state_directory = arg_state_directory,
                .log_level = arg_log_level,
        };
        r = config_load(arg_config, &o, NULL, &cfg);
        if (r < 0)
                return EXIT_FAILURE;
        if (cfg.log_level >= 0)
                log_max_level = cfg.log_level;

        /* Blocked before any thread exists, so that no worker ever takes
         * them: the event loop receives them through a signalfd. A write
         * to a closed socket is an error return, not a death. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error("Failed to block SIGTERM/SIGINT: %s", strerror(errno)), EXIT_FAILURE;
        (void) signal(SIGPIPE, SIG_IGN);

        r = engine_new(&cfg.engine, &engine, &err);
        if (r < 0) {
                log_error("Failed to start: %s", err.message[0] ? err.message : strerror(-r));
                return EXIT_FAILURE;
        }
        log_info("memcgd %s: memory hierarchy %s (%s), budget %s = %" PRIu64 " bytes", MEMCGD_VERSION,
                 engine_root(engine), backend_to_string(engine_backend(engine)), cfg.budget_spec,
                 engine_budget_total(engine));

        if (arg_thaw) {
                /* A crashed memcgd may have left tasks stopped: a v2 cgroup
                 * frozen, or v1's oom_kill_disable set with tasks asleep at
                 * the limit. Give them back to the kernel. */
                State s = {};
                r = state_load(cfg.state_directory, &s);
                if (r >= 0) {
                        g_autoptr(GPtrArray) paths = g_ptr_array_new();
                        for (size_t i = 0; i < s.n_monitored; i++)
                                /* The kill policy holds tasks at the limit
                                 * on v1 only (HoldAtLimit=). */
                                if (s.monitored[i].oom_policy != OOM_POLICY_KILL ||
                                    (cfg.engine.v1_hold_at_limit && engine_backend(engine) == BACKEND_V1))
                                        g_ptr_array_add(paths, s.monitored[i].path);
                        g_ptr_array_add(paths, NULL);
                        r = engine_thaw_paths(engine, (char **) paths->pdata);
                        log_info("Thawed %d cgroup(s) of %zu in %s", r, s.n_monitored, cfg.state_directory);
                        state_done(&s);
                } else
                        log_error("Cannot read the state in %s: %s", cfg.state_directory, strerror(-r));
                engine_free(engine);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }

        if (arg_no_bus) {
                r = run_no_bus(engine, monitor ? (char **) monitor->pdata : NULL);
                engine_free(engine);
                return r;
        }

        r = manager_new(engine, cfg.state_directory, &m);
        if (r < 0) {
                engine_free(engine);
                log_error("Failed to set up: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        m->default_oom_policy = cfg.default_oom_policy;
        m->low_memory_monitor = cfg.low_memory_monitor;
        m->pressure_quiet_usec = cfg.engine.pressure_quiet_usec;

        r = manager_start(m);
        if (r < 0) {
                manager_free(m);
                return EXIT_FAILURE;
        }

        r = manager_run(m);
        manager_free(m);
        return r;
}
