/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a fuzz target's corpus without libFuzzer: every regular file of
 * each directory (or each file) named on the command line is fed once to
 * LLVMFuzzerTestOneInput(), in name order. First all of them in one child
 * process, as libFuzzer runs them (its exit runs LeakSanitizer once: a
 * check at every input's exit cost ~55 ms each, 11 s of a 12 s replay
 * under ASan). Only when that child fails is every input replayed again
 * in a child of its own, so that one input breaking a contract (the target
 * prints what broke and aborts) does not hide the others: all failing
 * inputs are listed at the end. An empty or missing corpus is a failure,
 * not a pass: a replay of nothing proves nothing. */

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fuzz.h"

typedef struct Replay {
        bool batch; /* in the one child: run each input here */
        size_t count;
        size_t failed;
        char **failed_names;
} Replay;

/* Runs fn(userdata) in a child, which exits with what fn returns: 0 when
 * that is 0 (and, under ASan, nothing leaked), 1 when the child failed or
 * died (said on stderr after `what`), -errno when it could not run. */
static int run_in_child(const char *what, int (*fn)(void *userdata), void *userdata) {
        pid_t pid;
        int status;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                fprintf(stderr, "replay: fork: %s\n", strerror(-r));
                return r;
        }
        if (pid == 0)
                exit(fn(userdata));
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        int r = -errno;
                        fprintf(stderr, "replay: waitpid: %s\n", strerror(-r));
                        return r;
                }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFSIGNALED(status))
                fprintf(stderr, "replay: FAILED: %s: killed by signal %d (%s)\n", what, WTERMSIG(status),
                        strsignal(WTERMSIG(status)));
        else
                fprintf(stderr, "replay: FAILED: %s: exit status %d\n", what, WEXITSTATUS(status));
        return 1;
}

typedef struct Input {
        const uint8_t *data;
        size_t size;
} Input;

static int run_input(void *userdata) {
        const Input *in = userdata;
        (void) LLVMFuzzerTestOneInput(in->data, in->size);
        return 0;
}


static int replay_file(const char *path, Replay *rp) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t size = 0, cap = 0;

        if (!f) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (;;) {
                if (size == cap) {
                        cap = cap ? cap * 2 : 4096;
                        uint8_t *n = realloc(buf, cap);
                        if (!n) {
                                fclose(f);
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = n;
                }
                size_t got = fread(buf + size, 1, cap - size, f);
                size += got;
                if (got == 0)
                        break;
        }
        int err = ferror(f);
        fclose(f);
        if (err) {
                fprintf(stderr, "replay: %s: read error\n", path);
                free(buf);
                return -EIO;
        }
        /* The target copies the bytes into a buffer of exactly their size
         * itself (fuzz_copy()), so reading past them is caught there. */
        int r = 0;
        if (rp->batch)
                (void) LLVMFuzzerTestOneInput(buf, size);
        else
                r = run_in_child(path, run_input, &(Input) { .data = buf, .size = size });
        free(buf);
        if (r < 0)
                return r;
        rp->count++;
        if (r > 0) {
                char **n = realloc(rp->failed_names, (rp->failed + 1) * sizeof(char *));
                if (!n)
                        return -ENOMEM;
                rp->failed_names = n;
                if (!(n[rp->failed++] = strdup(path)))
                        return -ENOMEM;
        }
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_path(const char *path, Replay *rp) {
        struct stat st;
        struct dirent **names;
        int n, r = 0;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return replay_file(path, rp);

        n = scandir(path, &names, NULL, by_name);
        if (n < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                char *p = NULL;
                if (r == 0 && names[i]->d_name[0] != '.') {
                        if (asprintf(&p, "%s/%s", path, names[i]->d_name) < 0)
                                r = -ENOMEM;
                        else if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
                                r = replay_file(p, rp);
                }
                free(p);
                free(names[i]);
        }
        free(names);
        return r;
}

typedef struct Args {
        int argc;
        char **argv;
        Replay *rp;
} Args;

/* Every path named on the command line: 0, or 1 when one could not be
 * read (said on stderr). */
static int replay_args(const Args *a) {
        for (int i = 1; i < a->argc; i++)
                if (replay_path(a->argv[i], a->rp) < 0)
                        return 1;
        return 0;
}

/* The child that runs every input in one process. */
static int replay_batch(void *userdata) {
        const Args *a = userdata;
        a->rp->batch = true;
        if (replay_args(a) != 0 || a->rp->count == 0)
                return 1;
        printf("replayed %zu inputs in one process without a contract broken\n", a->rp->count);
        return 0;
}

int main(int argc, char **argv) {
        Replay rp = {};
        Args args = { .argc = argc, .argv = argv, .rp = &rp };
        int ret;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS-DIR|FILE...\n", argv[0]);
                return 2;
        }
        ret = run_in_child("the run in one process", replay_batch, &args);
        if (ret == 0)
                return 0;
        if (ret < 0)
                return 1;
        printf("replay: each input alone now\n");

        ret = replay_args(&args);
        if (ret == 0 && rp.count == 0) {
                fprintf(stderr, "replay: no inputs in %s\n", argv[1]);
                ret = 1;
        }
        if (rp.failed > 0) {
                printf("replay: %zu of %zu inputs broke a contract or crashed:\n", rp.failed, rp.count);
                for (size_t i = 0; i < rp.failed; i++)
                        printf("  %s\n", rp.failed_names[i]);
                ret = 1;
        } else if (ret == 0) {
                /* Each input passes alone, not all in one process: state
                 * carried from one input to the next. */
                printf("replay: all %zu inputs pass one by one but not in one process: the target keeps state "
                       "between inputs\n",
                       rp.count);
                ret = 1;
        }
        for (size_t i = 0; i < rp.failed; i++)
                free(rp.failed_names[i]);
        free(rp.failed_names);
        return ret;
}
