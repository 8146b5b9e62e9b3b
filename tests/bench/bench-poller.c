/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A polling watcher, for comparison with memcgd's event-driven workers:
 * the way a watcher without kernel notifications keeps a v1 memcg's limit
 * elastic. Writes `--initial` as limit_in_bytes, then every `--interval-ms`
 * reads usage_in_bytes and, while usage is at or above high_from_max(max),
 * raises max by the seed's step (DESIGN.md §1, the same functions the
 * engine uses). Prints "ready" once the initial limit is written; runs
 * until SIGTERM/SIGINT or stdin closes.
 *
 *   bench-poller --memcg=DIR --interval-ms=MS [--initial=BYTES] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memcgd/limits.h"

static int write_u64(int dirfd, const char *name, uint64_t v) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = write(fd, buf, (size_t) n) == n ? 0 : -errno;
        close(fd);
        return r;
}

static uint64_t read_u64(int fd) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return UINT64_MAX;
        buf[n] = 0;
        return strtoull(buf, NULL, 10);
}

int main(int argc, char **argv) {
        const char *memcg = NULL;
        long interval_ms = 100;
        uint64_t max = 64 * MIB;
        Tunables t;

        setvbuf(stdout, NULL, _IOLBF, 0);
        for (int i = 1; i < argc; i++) {
                if (strncmp(argv[i], "--memcg=", 8) == 0)
                        memcg = argv[i] + 8;
                else if (strncmp(argv[i], "--interval-ms=", 14) == 0)
                        interval_ms = atol(argv[i] + 14);
                else if (strncmp(argv[i], "--initial=", 10) == 0)
                        max = strtoull(argv[i] + 10, NULL, 10);
                else {
                        fprintf(stderr, "bench-poller: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (!memcg || interval_ms <= 0)
                return 2;
        tunables_init_default(&t);
        int dirfd = open(memcg, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (dirfd < 0)
                return 3;
        int ufd = openat(dirfd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
        if (ufd < 0 || write_u64(dirfd, "memory.limit_in_bytes", max) < 0)
                return 3;
        uint64_t high = limits_high_from_max(&t, max);
        (void) write_u64(dirfd, "memory.soft_limit_in_bytes", high);
        printf("ready\n");

        for (;;) {
                struct pollfd p = { .fd = 0, .events = POLLIN };
                if (poll(&p, 1, (int) interval_ms) > 0) {
                        char c;
                        if (read(0, &c, 1) <= 0)
                                break;
                }
                uint64_t usage = read_u64(ufd);
                while (usage != UINT64_MAX && usage >= high) {
                        uint64_t next = max + limits_grow_delta(&t, max);
                        if (write_u64(dirfd, "memory.limit_in_bytes", next) < 0)
                                break;
                        max = next;
                        high = limits_high_from_max(&t, max);
                        (void) write_u64(dirfd, "memory.soft_limit_in_bytes", high);
                }
        }
        return 0;
}
