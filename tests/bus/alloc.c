/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A memory hog for the bus tests: joins a cgroup, then allocates and
 * touches memory step by step, pausing between steps, so that the
 * service's watcher sees each usage threshold go by instead of one burst
 * (on cgroup v1 nothing throttles a task between the high line and the
 * limit, DESIGN.md §2).
 *
 *   memcgd-test-alloc [--cgroup-procs FILE] --total MIB [--step MIB]
 *                     [--pause-ms MS] [--exit]
 *
 * Prints "allocated N" after each step and "ready N" when done, flushing
 * every line, then waits for SIGTERM, SIGINT or SIGUSR1, frees everything,
 * prints "freed" and exits 0 (with --exit it exits right after "ready").
 * An OOM kill shows as death by SIGKILL. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t) 1 << 20)

static int join_cgroup(const char *procs) {
        char buf[32];
        int fd, n;

        fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        if (write(fd, buf, (size_t) n) != n) {
                int r = -errno;
                close(fd);
                return r;
        }
        close(fd);
        return 0;
}

static unsigned parse_unsigned(const char *s, const char *what) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX) {
                fprintf(stderr, "alloc: invalid %s: %s\n", what, s);
                exit(64);
        }
        return (unsigned) v;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "cgroup-procs", required_argument, NULL, 'c' },
                { "total",        required_argument, NULL, 'n' },
                { "step",         required_argument, NULL, 's' },
                { "pause-ms",     required_argument, NULL, 'p' },
                { "exit",         no_argument,       NULL, 'e' },
                {}
        };
        const char *procs = NULL;
        unsigned total = 0, step = 4, pause_ms = 20, done = 0, nchunks = 0;
        int exit_when_done = 0, c, sig;
        void **chunks;
        size_t *sizes;
        sigset_t set;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'c': procs = optarg; break;
                case 'n': total = parse_unsigned(optarg, "--total"); break;
                case 's': step = parse_unsigned(optarg, "--step"); break;
                case 'p': pause_ms = parse_unsigned(optarg, "--pause-ms"); break;
                case 'e': exit_when_done = 1; break;
                default: return 64;
                }
        if (step == 0) {
                fprintf(stderr, "alloc: --step must be > 0\n");
                return 64;
        }

        /* Block the stop signals first: one that arrives while allocating is
         * taken by sigwait() afterwards instead of killing us half way. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);

        if (procs) {
                int r = join_cgroup(procs);
                if (r < 0) {
                        fprintf(stderr, "alloc: joining %s: %s\n", procs, strerror(-r));
                        return 1;
                }
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("joined %d\n", (int) getpid());

        chunks = calloc(total / step + 2, sizeof *chunks);
        sizes = calloc(total / step + 2, sizeof *sizes);
        if (!chunks || !sizes) {
                fprintf(stderr, "alloc: out of memory\n");
                return 1;
        }

        while (done < total) {
                unsigned n = total - done < step ? total - done : step;
                size_t len = (size_t) n * MIB;
                void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        fprintf(stderr, "alloc: mmap %u MiB: %s\n", n, strerror(errno));
                        return 1;
                }
                /* 4 KiB pages: a huge page would charge 2 MiB at once and
                 * run through the gap faster than any watcher (DESIGN.md §2). */
                (void) madvise(p, len, MADV_NOHUGEPAGE);
                for (size_t off = 0; off < len; off += 4096)
                        ((volatile char *) p)[off] = 1;
                chunks[nchunks] = p;
                sizes[nchunks++] = len;
                done += n;
                printf("allocated %u\n", done);
                if (pause_ms > 0 && done < total) {
                        struct timespec ts = {
                                .tv_sec = pause_ms / 1000,
                                .tv_nsec = (long) (pause_ms % 1000) * 1000000L,
                        };
                        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                                ;
                }
        }
        printf("ready %u\n", done);
        if (exit_when_done)
                return 0;

        if (sigwait(&set, &sig) != 0)
                return 1;
        for (unsigned i = 0; i < nchunks; i++)
                munmap(chunks[i], sizes[i]);
        free(chunks);
        free(sizes);
        printf("freed\n");
        return 0;
}
