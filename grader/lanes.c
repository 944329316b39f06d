/* lanes.c - see lanes.h. */
#define _GNU_SOURCE
#include "lanes.h"

#include "proc.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where test i's result waits: SCRATCH/lanes/I. */
static char *record_path(const struct build_ctx *ctx, int i)
{
    return xasprintf("%s/lanes/%d", ctx->scratch, i);
}

/* A record: "PASSED PLAIN_MS NOISE_MS MESSAGE_LEN OUTPUT_LEN\n", then the
 * message and the output, byte for byte. */
static void record_write(const struct build_ctx *ctx, int i, const struct test_result *t,
                         const struct unit_result *times)
{
    char *path = record_path(ctx, i);
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        size_t m = strlen(t->message), o = strlen(t->output);
        fprintf(f, "%d %ld %ld %zu %zu\n", t->passed, times->plain_ms, times->noise_ms, m, o);
        fwrite(t->message, 1, m, f);
        fwrite(t->output, 1, o, f);
        if (fclose(f) == 0)
            rename(tmp, path);
    }
    free(tmp);
    free(path);
}

/* Reads test i's record into t and adds its times to res; -1 if there is none. */
static int record_read(const struct build_ctx *ctx, int i, struct test_result *t,
                       struct unit_result *res)
{
    char *path = record_path(ctx, i);
    size_t len;
    char *text = read_file(path, &len);
    free(path);
    char *eol = text ? memchr(text, '\n', len) : NULL;
    int passed;
    long plain, noise;
    size_t m, o, at = eol ? (size_t)(eol - text) + 1 : 0;
    if (!eol || sscanf(text, "%d %ld %ld %zu %zu", &passed, &plain, &noise, &m, &o) != 5 ||
        at + m + o != len) {
        free(text);
        return -1;
    }
    t->passed = passed;
    t->message = xstrndup(text + at, m);
    t->output = xstrndup(text + at + m, o);
    res->plain_ms += plain;
    res->noise_ms += noise;
    free(text);
    return 0;
}

/* One lane: runs the tests whose numbers it reads from `work` until none is
 * left. It stops with the worker that started it, its test with it. */
static void lane(const struct build_ctx *ctx, const char *binary, int number,
                 struct test_result *tests, int work, pid_t worker)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != worker)   /* it was gone before the line above */
        _exit(1);
    proc_adopt_orphans();
    struct sandbox sb = *ctx->sb;
    sandbox_for_lane(&sb, number);
    struct build_ctx own = *ctx;
    own.sb = &sb;
    int32_t i;
    ssize_t got;
    while ((got = read(work, &i, sizeof i)) == (ssize_t)sizeof i || (got < 0 && errno == EINTR)) {
        if (got < 0)
            continue;
        struct unit_result times = { 0 };
        struct test_result *t = &tests[i];
        unit_run_test(&own, binary, t, &times);
        record_write(ctx, i, t, &times);
    }
    _exit(0);
}

void lanes_run(const struct build_ctx *ctx, const char *binary, int lanes, struct unit_result *res)
{
    char *dir = xasprintf("%s/lanes", ctx->scratch);
    remove_tree(dir);
    int work[2] = { -1, -1 };
    pid_t *pids = xcalloc((size_t)lanes, sizeof *pids);
    bool ready = mkdir_p(dir) == 0 && pipe(work) == 0;
    /* Every test number goes in the pipe first: a lane that finds it empty
     * is done. (Four bytes are read whole from a pipe.) */
    for (int32_t i = 0; ready && i < res->ntests; i++)
        ready = write(work[1], &i, sizeof i) == (ssize_t)sizeof i;
    if (work[1] >= 0)
        close(work[1]);
    if (ready) {
        fflush(NULL);
        pid_t worker = getpid();
        for (int k = 0; k < lanes; k++) {
            pids[k] = fork();
            if (pids[k] == 0)
                lane(ctx, binary, k, res->tests, work[0], worker);
        }
        for (int k = 0; k < lanes; k++)
            while (pids[k] > 0 && waitpid(pids[k], NULL, 0) < 0 && errno == EINTR)
                ;
    }
    if (work[0] >= 0)
        close(work[0]);
    for (int i = 0; i < res->ntests; i++) {
        struct test_result *t = &res->tests[i];
        if (record_read(ctx, i, t, res) != 0) {
            t->passed = false;
            t->message = xstrdup(ready ? "the grader's process that ran this test stopped "
                                         "before it was done (killed from outside?)"
                                       : "the grader could not share out the tests");
            t->output = xstrdup("");
        }
    }
    remove_tree(dir);
    free(pids);
    free(dir);
}
