/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Memory that breathes in many memcgs at once: one child per cgroup
 * joins it and cycles - grows by 1 MiB every 200 ms (4 KiB pages
 * touched) up to a random 16-40 MiB, holds 5-15 s, frees it all, rests
 * 5-15 s - so that limits grow and, later, shrink, in every cgroup, at a
 * page-fault rate two CPUs carry beside the load (~200 MB/s for 200).
 *
 *   load-breathers CGROUP_DIR...
 *
 * Prints "ready N" once every child has joined its cgroup, then runs
 * until SIGTERM, which it passes on to its children; waits for them and
 * exits 0. A child killed by the OOM killer is counted and restarted;
 * "oom-killed N" is printed at the end. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((size_t) 1 << 20)
#define MAX_CHUNKS 64

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

/* No SA_RESTART: a SIGTERM must interrupt the parent's waitpid(). */
static void catch_term(void) {
        struct sigaction sa = { .sa_handler = on_term };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
}

static void msleep(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int join(const char *dir) {
        char path[4096], buf[32];
        int fd, n;

        snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
        if (write(fd, buf, (size_t) n) != n) {
                close(fd);
                return -errno;
        }
        close(fd);
        return 0;
}

static void breathe(unsigned seed) {
        void *chunks[MAX_CHUNKS];
        unsigned n = 0;

        srand(seed);
        /* Not all in step: start somewhere in a rest. */
        msleep((unsigned) (rand() % 10000));
        while (!stop) {
                unsigned target = 16 + (unsigned) (rand() % 25);
                while (!stop && n < target && n < MAX_CHUNKS) {
                        void *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                break;
                        (void) madvise(p, MIB, MADV_NOHUGEPAGE);
                        for (size_t off = 0; off < MIB; off += 4096)
                                ((volatile char *) p)[off] = 1;
                        chunks[n++] = p;
                        msleep(200);
                }
                msleep(5000 + (unsigned) (rand() % 10000));
                while (n > 0)
                        munmap(chunks[--n], MIB);
                msleep(5000 + (unsigned) (rand() % 10000));
        }
        _exit(0);
}

static pid_t spawn(const char *dir, unsigned seed, int ready_fd) {
        pid_t pid = fork();
        if (pid != 0)
                return pid;
        /* Never outlive the parent (a test killed by its timeout). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
                _exit(0);
        catch_term();
        if (join(dir) < 0)
                _exit(3);
        if (ready_fd >= 0) {
                (void) !write(ready_fd, "j", 1);
                close(ready_fd);
        }
        breathe(seed);
        _exit(0);
}

int main(int argc, char *argv[]) {
        int n = argc - 1, pipefd[2], joined = 0;
        unsigned oom_killed = 0;
        pid_t *pids;
        char c;

        if (n <= 0) {
                fprintf(stderr, "usage: load-breathers CGROUP_DIR...\n");
                return 64;
        }
        pids = calloc((size_t) n, sizeof(*pids));
        if (!pids || pipe2(pipefd, O_CLOEXEC) < 0)
                return 1;
        catch_term();
        for (int i = 0; i < n; i++)
                pids[i] = spawn(argv[i + 1], (unsigned) i * 7919u + 17u, pipefd[1]);
        close(pipefd[1]);
        while (joined < n && read(pipefd[0], &c, 1) == 1)
                joined++;
        close(pipefd[0]);
        printf("ready %d\n", joined);
        fflush(stdout);

        while (!stop) {
                int status;
                pid_t p = waitpid(-1, &status, 0);
                if (p < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < n; i++)
                        if (pids[i] == p) {
                                if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
                                        oom_killed++;
                                pids[i] = stop ? 0 : spawn(argv[i + 1], (unsigned) i * 7919u + 31u + oom_killed, -1);
                        }
        }
        for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                        kill(pids[i], SIGTERM);
        for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                        waitpid(pids[i], NULL, 0);
        printf("oom-killed %u\n", oom_killed);
        free(pids);
        return 0;
}
