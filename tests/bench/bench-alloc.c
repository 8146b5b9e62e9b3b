/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The allocating child of the v1 benchmarks. Joins a memcg, touches
 * `--prefault` bytes, prints "ready", waits for one byte on stdin, then:
 *
 *   burst mode (default): touches `--bytes` more at full speed with
 *   `--threads` threads (each its own mapping of bytes/threads, MADV_HUGEPAGE
 *   with --thp), prints "done GO_NS END_NS BYTES" (CLOCK_MONOTONIC), and
 *   keeps the memory until stdin closes or `--hold-ms` passed;
 *
 *   --bursty=PEAK_MIB,HOLD_MS,IDLE_MS,STEP_MIB,PAUSE_MS: grows to PEAK in
 *   steps (touching each), holds, frees down to the prefault, idles,
 *   repeats until stdin closes; prints "grown NS", "drop NS" after each
 *   phase.
 *
 * An OOM kill shows as death by SIGKILL. Memory is touched through raw
 * stores only, one per 4 KiB page. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MIB ((size_t) 1 << 20)

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void *map(size_t size, int thp) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        if (thp)
                (void) madvise(p, size, MADV_HUGEPAGE);
        return p;
}

static void touch(void *p, size_t size) {
        for (size_t off = 0; off < size; off += PAGE)
                ((volatile char *) p)[off] = 0x5a;
}

typedef struct Part {
        void *p;
        size_t size;
        pthread_barrier_t *start;
} Part;

static void *toucher(void *userdata) {
        Part *part = userdata;
        pthread_barrier_wait(part->start);
        touch(part->p, part->size);
        return NULL;
}

static size_t opt_size(const char *arg, const char *name) {
        size_t l = strlen(name);
        if (strncmp(arg, name, l) != 0 || arg[l] != '=')
                return (size_t) -1;
        char *end;
        unsigned long long v = strtoull(arg + l + 1, &end, 10);
        switch (*end) {
        case 'G': v <<= 30; break;
        case 'M': v <<= 20; break;
        case 'K': v <<= 10; break;
        default: break;
        }
        return (size_t) v;
}

/* True when stdin is closed (or has data) within `ms`. */
static int stdin_closed(int ms) {
        struct pollfd p = { .fd = 0, .events = POLLIN };
        if (poll(&p, 1, ms) > 0) {
                char c;
                return read(0, &c, 1) <= 0;
        }
        return 0;
}

int main(int argc, char **argv) {
        const char *procs = NULL, *bursty = NULL;
        size_t prefault = 0, bytes = 0, v;
        int threads = 1, thp = 0;
        long hold_ms = -1;
        char c;

        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int i = 1; i < argc; i++) {
                if (strncmp(argv[i], "--procs=", 8) == 0)
                        procs = argv[i] + 8;
                else if ((v = opt_size(argv[i], "--prefault")) != (size_t) -1)
                        prefault = v;
                else if ((v = opt_size(argv[i], "--bytes")) != (size_t) -1)
                        bytes = v;
                else if (strncmp(argv[i], "--threads=", 10) == 0)
                        threads = atoi(argv[i] + 10);
                else if (strncmp(argv[i], "--hold-ms=", 10) == 0)
                        hold_ms = atol(argv[i] + 10);
                else if (strcmp(argv[i], "--thp") == 0)
                        thp = 1;
                else if (strncmp(argv[i], "--bursty=", 9) == 0)
                        bursty = argv[i] + 9;
                else {
                        fprintf(stderr, "bench-alloc: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (threads < 1 || threads > 64)
                return 2;
        if (procs) {
                int fd = open(procs, O_WRONLY | O_CLOEXEC);
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
                if (fd < 0 || write(fd, buf, (size_t) n) != n) {
                        fprintf(stderr, "bench-alloc: cannot join %s: %s\n", procs, strerror(errno));
                        return 3;
                }
                close(fd);
        }
        if (prefault) {
                void *p = map(prefault, 0);
                if (!p)
                        return 4;
                touch(p, prefault);
        }

        if (bursty) {
                unsigned peak_mib, hold, idle, step_mib, pause;
                if (sscanf(bursty, "%u,%u,%u,%u,%u", &peak_mib, &hold, &idle, &step_mib, &pause) != 5 || !step_mib)
                        return 2;
                printf("ready\n");
                if (read(0, &c, 1) != 1)
                        return 0;
                size_t peak = (size_t) peak_mib * MIB, step = (size_t) step_mib * MIB;
                size_t n = (peak + step - 1) / step;
                void **blocks = calloc(n, sizeof(void *));
                if (!blocks)
                        return 4;
                for (;;) {
                        for (size_t i = 0; i < n; i++) {
                                blocks[i] = map(step, thp);
                                if (!blocks[i])
                                        return 4;
                                touch(blocks[i], step);
                                if (pause && stdin_closed((int) pause))
                                        return 0;
                        }
                        printf("grown %llu\n", (unsigned long long) now_ns());
                        if (stdin_closed((int) hold))
                                return 0;
                        for (size_t i = 0; i < n; i++)
                                munmap(blocks[i], step);
                        printf("drop %llu\n", (unsigned long long) now_ns());
                        if (stdin_closed((int) idle))
                                return 0;
                }
        }

        Part *parts = calloc((size_t) threads, sizeof(Part));
        pthread_t *tids = calloc((size_t) threads, sizeof(pthread_t));
        pthread_barrier_t start;
        if (!parts || !tids)
                return 4;
        pthread_barrier_init(&start, NULL, (unsigned) threads + 1);
        for (int i = 0; i < threads; i++) {
                parts[i] = (Part) { .p = map(bytes / (size_t) threads + PAGE, thp), .size = bytes / (size_t) threads,
                                    .start = &start };
                if (!parts[i].p || pthread_create(&tids[i], NULL, toucher, &parts[i]) != 0)
                        return 4;
        }
        printf("ready\n");
        if (read(0, &c, 1) != 1)
                return 0;
        uint64_t go = now_ns();
        pthread_barrier_wait(&start);
        for (int i = 0; i < threads; i++)
                pthread_join(tids[i], NULL);
        uint64_t end = now_ns();
        printf("done %llu %llu %llu\n", (unsigned long long) go, (unsigned long long) end,
               (unsigned long long) bytes);
        (void) stdin_closed(hold_ms < 0 ? -1 : (int) hold_ms);
        return 0;
}
