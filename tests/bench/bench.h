/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the benchmarks share: clocks, percentiles, a tiny JSON writer,
 * /proc readers for another process's cost, v1 memcg helpers and the
 * allocator child (bench-alloc) started with pipes.
 *
 * Benchmarks print one table each and write one JSON file; they exit 0
 * when they ran (whether or not a target was met: targets are reported,
 * not asserted), 77 when the host lacks what they need (not root, no v1
 * memory controller), 1 when they could not measure. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MIB UINT64_C(1048576)

extern char **environ;

static inline uint64_t bench_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline void bench_sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- statistics --------------------------------------------------- */

typedef struct Summary {
        size_t n;
        double p50, p99, max, mean;
} Summary;

static int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of v[0..n) (sorted in place). NaN marks a
 * sample that has no value (an event never seen): moved to the end and
 * left out, so that n counts the values summarized (NaN compares false
 * both ways and would leave qsort's order, and every percentile, wrong). */
static inline Summary bench_summarize(double *v, size_t n) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (!isnan(v[i])) {
                        double t = v[k];
                        v[k++] = v[i];
                        v[i] = t;
                }
        n = k;
        Summary s = { .n = n };
        if (n == 0) {
                s.p50 = s.p99 = s.max = s.mean = NAN;
                return s;
        }
        qsort(v, n, sizeof(*v), bench_cmp_double);
        double sum = 0;
        for (size_t i = 0; i < n; i++)
                sum += v[i];
        size_t i50 = (size_t) ceil(0.50 * (double) n), i99 = (size_t) ceil(0.99 * (double) n);
        s.p50 = v[i50 ? i50 - 1 : 0];
        s.p99 = v[i99 ? i99 - 1 : 0];
        s.max = v[n - 1];
        s.mean = sum / (double) n;
        return s;
}

/* ---- JSON ----------------------------------------------------------- */

/* A streaming writer: objects and arrays nest, commas are placed by the
 * writer. Numbers that are NaN or infinite are written as null. */
typedef struct Json {
        FILE *f;
        int depth;
        bool need_comma[32];
} Json;

static inline void json_sep(Json *j) {
        if (j->need_comma[j->depth])
                fputc(',', j->f);
        j->need_comma[j->depth] = true;
}

static inline void json_str_raw(Json *j, const char *s) {
        fputc('"', j->f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        fprintf(j->f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(j->f, "\\u%04x", c);
                else
                        fputc(c, j->f);
        }
        fputc('"', j->f);
}

static inline void json_key(Json *j, const char *k) {
        json_sep(j);
        json_str_raw(j, k);
        fputc(':', j->f);
        /* The value that follows needs no comma of its own. */
        j->need_comma[j->depth] = false;
}

static inline void json_open(Json *j, const char *k, char c) {
        if (k)
                json_key(j, k);
        json_sep(j);
        fputc(c, j->f);
        j->need_comma[++j->depth] = false;
}
static inline void json_obj(Json *j, const char *k) { json_open(j, k, '{'); }
static inline void json_arr(Json *j, const char *k) { json_open(j, k, '['); }
static inline void json_end_obj(Json *j) {
        fputc('}', j->f);
        j->need_comma[--j->depth] = true;
}
static inline void json_end_arr(Json *j) {
        fputc(']', j->f);
        j->need_comma[--j->depth] = true;
}

static inline void json_num(Json *j, const char *k, double v) {
        if (k)
                json_key(j, k);
        json_sep(j);
        if (isfinite(v))
                fprintf(j->f, "%.6g", v);
        else
                fputs("null", j->f);
}

static inline void json_u64(Json *j, const char *k, uint64_t v) {
        if (k)
                json_key(j, k);
        json_sep(j);
        fprintf(j->f, "%llu", (unsigned long long) v);
}

static inline void json_bool(Json *j, const char *k, bool v) {
        if (k)
                json_key(j, k);
        json_sep(j);
        fputs(v ? "true" : "false", j->f);
}

static inline void json_str(Json *j, const char *k, const char *v) {
        if (k)
                json_key(j, k);
        json_sep(j);
        if (v)
                json_str_raw(j, v);
        else
                fputs("null", j->f);
}

/* Latency summary in microseconds. */
static inline void json_summary(Json *j, const char *k, Summary s) {
        json_obj(j, k);
        json_u64(j, "n", s.n);
        json_num(j, "p50_us", s.p50);
        json_num(j, "p99_us", s.p99);
        json_num(j, "max_us", s.max);
        json_num(j, "mean_us", s.mean);
        json_end_obj(j);
}

/* mkdir -p of the directory part of `path`. */
static inline void bench_mkdir_parents(const char *path) {
        char d[4096];
        snprintf(d, sizeof(d), "%s", path);
        for (char *s = d + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(d, 0755);
                        *s = '/';
                }
}

static inline int json_begin_file(Json *j, const char *path, const char *bench) {
        *j = (Json) {};
        bench_mkdir_parents(path);
        j->f = fopen(path, "we");
        if (!j->f) {
                fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
                return -errno;
        }
        json_obj(j, NULL);
        json_str(j, "benchmark", bench);
        char host[256] = "";
        (void) gethostname(host, sizeof(host) - 1);
        json_str(j, "host", host);
        json_u64(j, "cpus", (uint64_t) sysconf(_SC_NPROCESSORS_ONLN));
        FILE *la = fopen("/proc/loadavg", "re");
        double l1 = NAN;
        if (la) {
                if (fscanf(la, "%lf", &l1) != 1)
                        l1 = NAN;
                fclose(la);
        }
        json_num(j, "loadavg_1min_at_start", l1);
        json_u64(j, "unix_time", (uint64_t) time(NULL));
        return 0;
}

static inline void json_end_file(Json *j) {
        if (!j->f)
                return;
        json_end_obj(j);
        fputc('\n', j->f);
        fclose(j->f);
        j->f = NULL;
}

/* ---- files ---------------------------------------------------------- */

static inline int bench_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int bench_write_file(const char *path, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t w = write(fd, buf, (size_t) n);
        int r = w < 0 ? -errno : w != n ? -EIO : 0;
        close(fd);
        return r;
}

static inline int bench_read_file(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int r = n < 0 ? -errno : (int) n;
        close(fd);
        if (n >= 0)
                buf[n] = 0;
        return r;
}

/* UINT64_MAX when unreadable. */
/* A file's number; UINT64_MAX when it cannot be read or says "max" (a v2
 * limit without one), which strtoull() would read as 0. */
static inline uint64_t bench_read_u64(const char *path) {
        char buf[64];
        if (bench_read_file(path, buf, sizeof(buf)) <= 0 || strncmp(buf, "max", 3) == 0)
                return UINT64_MAX;
        return strtoull(buf, NULL, 10);
}

/* "key value" line of a keyed file (oom_control, status...). */
static inline uint64_t bench_read_keyed(const char *path, const char *key) {
        char buf[4096];
        size_t kl = strlen(key);
        if (bench_read_file(path, buf, sizeof(buf)) <= 0)
                return UINT64_MAX;
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, kl) == 0 && (l[kl] == ' ' || l[kl] == '\t' || l[kl] == ':'))
                        return strtoull(l + kl + 1 + strspn(l + kl + 1, " \t"), NULL, 10);
        return UINT64_MAX;
}

/* ---- v1 memcgs ------------------------------------------------------ */

/* The v1 memory hierarchy from /proc/self/mountinfo, or NULL. */
static inline const char *bench_v1_root(void) {
        static char root[200];
        char line[4096];
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return NULL;
        while (fgets(line, sizeof(line), f)) {
                /* id parent maj:min root mountpoint opts... - fstype source superopts */
                char *sep = strstr(line, " - ");
                char mp[4096], fstype[64], src[256], opts[1024];
                if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
                    sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
                        continue;
                if (strcmp(fstype, "cgroup") != 0)
                        continue;
                for (char *o = strtok(opts, ","); o; o = strtok(NULL, ","))
                        if (strcmp(o, "memory") == 0 && strlen(mp) < sizeof(root)) {
                                memcpy(root, mp, strlen(mp) + 1);
                                fclose(f);
                                return root;
                        }
        }
        fclose(f);
        return NULL;
}

/* Exits 77 with a reason when the host cannot run real-v1 benchmarks. */
static inline const char *bench_require_v1(const char *what) {
        const char *root = bench_v1_root();
        if (geteuid() != 0) {
                printf("SKIP %s: needs root (creates memory cgroups)\n", what);
                return NULL;
        }
        if (!root) {
                printf("SKIP %s: no cgroup v1 memory hierarchy mounted\n", what);
                return NULL;
        }
        return root;
}

/* /sys/fs/cgroup when it is cgroup v2 handing the memory controller to
 * its children (the VM of tests/bench/v2-vm.sh); else NULL, saying why. */
static inline const char *bench_require_v2(const char *what) {
        struct statfs sfs;
        char ctl[256] = "";
        if (geteuid() != 0) {
                printf("SKIP %s: needs root (creates memory cgroups)\n", what);
                return NULL;
        }
        FILE *f = fopen("/sys/fs/cgroup/cgroup.subtree_control", "re");
        if (f) {
                if (!fgets(ctl, sizeof(ctl), f))
                        ctl[0] = 0;
                fclose(f);
        }
        if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC || !strstr(ctl, "memory")) {
                printf("SKIP %s: /sys/fs/cgroup is not cgroup v2 with the memory controller for its children "
                       "(tests/bench/v2-vm.sh runs it in a QEMU VM)\n", what);
                return NULL;
        }
        return "/sys/fs/cgroup";
}

static inline int bench_memcg_create(const char *root, const char *name, char *rel, size_t relsz, char *abs_,
                                     size_t abssz) {
        snprintf(rel, relsz, "/memcgd-bench-%d-%s", (int) getpid(), name);
        snprintf(abs_, abssz, "%s%s", root, rel);
        if (mkdir(abs_, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* SIGKILLs every task of the memcg and removes it (retrying while the
 * kernel still holds it busy). */
static inline void bench_memcg_remove(const char *abs_) {
        char p[4200], buf[16384];
        snprintf(p, sizeof(p), "%s/cgroup.procs", abs_);
        for (int round = 0; round < 100; round++) {
                int n = bench_read_file(p, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (char *s = buf, *e; *s; s = e) {
                        long pid = strtol(s, &e, 10);
                        if (e == s)
                                break;
                        while (*e == '\n')
                                e++;
                        (void) kill((pid_t) pid, SIGKILL);
                }
                bench_sleep_ms(10);
        }
        for (int i = 0; i < 200 && rmdir(abs_) < 0 && errno == EBUSY; i++)
                bench_sleep_ms(10);
}

static inline uint64_t bench_memcg_u64(const char *abs_, const char *file) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", abs_, file);
        return bench_read_u64(p);
}

/* OOM kills in the memcg: v1 memory.oom_control, v2 memory.events. */
static inline uint64_t bench_memcg_oom_kills(const char *abs_) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/memory.oom_control", abs_);
        if (access(p, F_OK) < 0)
                snprintf(p, sizeof(p), "%s/memory.events", abs_);
        return bench_read_keyed(p, "oom_kill");
}

/* ---- child processes -------------------------------------------------- */

typedef struct Child {
        pid_t pid;
        int in;     /* its stdin */
        FILE *out;  /* its stdout */
        int status; /* after bench_child_wait */
} Child;

/* Starts argv[0] (a path) with pipes on stdin and stdout. */
static inline int bench_child_start(Child *c, char *const argv[]) {
        int pin[2], pout[2];
        posix_spawn_file_actions_t fa;

        *c = (Child) { .pid = -1, .in = -1 };
        if (pipe2(pin, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(pout, O_CLOEXEC) < 0) {
                close(pin[0]);
                close(pin[1]);
                return -errno;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
        posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
        int r = posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pin[0]);
        close(pout[1]);
        if (r != 0) {
                close(pin[1]);
                close(pout[0]);
                c->pid = -1;
                return -r;
        }
        c->in = pin[1];
        c->out = fdopen(pout[0], "re");
        return 0;
}

/* Reads a line of the child's stdout starting with `prefix` (other lines
 * are skipped); false at EOF (the child died). */
static inline bool bench_child_expect(Child *c, const char *prefix, char *line, size_t size) {
        while (fgets(line, (int) size, c->out))
                if (strncmp(line, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

static inline void bench_child_go(Child *c) {
        (void) !write(c->in, "g", 1);
}

/* Closes its stdin (which tells bench-alloc to exit) and waits. */
static inline int bench_child_wait(Child *c) {
        if (c->in >= 0)
                close(c->in);
        c->in = -1;
        if (c->pid > 0)
                while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
                        ;
        if (c->out)
                fclose(c->out);
        c->out = NULL;
        c->pid = -1;
        return c->status;
}

static inline void bench_child_kill(Child *c) {
        if (c->pid > 0)
                (void) kill(c->pid, SIGKILL);
        (void) bench_child_wait(c);
}

/* The directory this binary lives in, to find its helper programs. */
static inline void bench_helper_path(const char *name, char *buf, size_t size) {
        char self[2048];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
                snprintf(buf, size, "./%s", name);
                return;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash)
                *slash = 0;
        snprintf(buf, size, "%s/%s", self, name);
}

/* ---- another process's cost --------------------------------------------- */

typedef struct ProcCost {
        uint64_t cpu_ns;       /* sum of every thread's time on a CPU */
        uint64_t runs;         /* sum of every thread's times scheduled in: wake-ups */
        uint64_t vol_cs, invol_cs;
        uint64_t main_cpu_ns, main_runs; /* the main thread's share (its tid is the pid) */
        unsigned threads;
        uint64_t rss_kib, rss_anon_kib;
        unsigned fds;
} ProcCost;

/* Reads /proc/PID/task/ * /schedstat (ns on CPU, ns waiting, timeslices)
 * and status. */
static inline int bench_proc_cost(pid_t pid, ProcCost *ret) {
        char p[512], buf[4096];
        ProcCost c = {};
        DIR *d;
        struct dirent *de;

        snprintf(p, sizeof(p), "/proc/%d/task", (int) pid);
        d = opendir(p);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                unsigned long long run, wait, slices;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
                if (bench_read_file(p, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) == 3) {
                        c.cpu_ns += run;
                        c.runs += slices;
                        if (atoi(de->d_name) == (int) pid) {
                                c.main_cpu_ns = run;
                                c.main_runs = slices;
                        }
                }
                snprintf(p, sizeof(p), "/proc/%d/task/%s/status", (int) pid, de->d_name);
                uint64_t v = bench_read_keyed(p, "voluntary_ctxt_switches");
                if (v != UINT64_MAX)
                        c.vol_cs += v;
                v = bench_read_keyed(p, "nonvoluntary_ctxt_switches");
                if (v != UINT64_MAX)
                        c.invol_cs += v;
                c.threads++;
        }
        closedir(d);
        snprintf(p, sizeof(p), "/proc/%d/status", (int) pid);
        c.rss_kib = bench_read_keyed(p, "VmRSS");
        c.rss_anon_kib = bench_read_keyed(p, "RssAnon");
        snprintf(p, sizeof(p), "/proc/%d/fd", (int) pid);
        d = opendir(p);
        if (d) {
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                c.fds++;
                closedir(d);
        }
        *ret = c;
        return 0;
}

/* How many of PID's fds are open on a file named `name` (e.g.
 * "memory.max"): the limit files a daemon kept open, one per cgroup. */
static inline unsigned bench_count_fds_named(pid_t pid, const char *name) {
        char p[512], target[4096];
        unsigned n = 0;
        size_t l = strlen(name);
        DIR *d;
        struct dirent *de;

        snprintf(p, sizeof(p), "/proc/%d/fd", (int) pid);
        d = opendir(p);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "/proc/%d/fd/%s", (int) pid, de->d_name);
                ssize_t k = readlink(p, target, sizeof(target) - 1);
                if (k <= (ssize_t) l)
                        continue;
                target[k] = 0;
                if (target[k - l - 1] == '/' && strcmp(target + k - l, name) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

/* ---- command line ------------------------------------------------------- */

/* "--name=value" → value, else NULL. */
static inline const char *bench_opt(int argc, char **argv, const char *name) {
        size_t l = strlen(name);
        for (int i = 1; i < argc; i++)
                if (strncmp(argv[i], name, l) == 0 && argv[i][l] == '=')
                        return argv[i] + l + 1;
        return NULL;
}

static inline bool bench_flag(int argc, char **argv, const char *name) {
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], name) == 0)
                        return true;
        return false;
}

static inline long bench_opt_long(int argc, char **argv, const char *name, long dflt) {
        const char *v = bench_opt(argc, argv, name);
        return v ? strtol(v, NULL, 10) : dflt;
}

static inline void bench_fmt_us(char *buf, size_t size, double us) {
        if (!isfinite(us))
                snprintf(buf, size, "-");
        else if (us >= 10000)
                snprintf(buf, size, "%.1fms", us / 1000);
        else if (us >= 100)
                snprintf(buf, size, "%.0f", us);
        else
                snprintf(buf, size, "%.1f", us);
}
