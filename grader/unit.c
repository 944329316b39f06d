/* unit.c - see unit.h. */
#define _GNU_SOURCE
#include "unit.h"

#include "lanes.h"
#include "proc.h"
#include "stacks.h"
#include "util.h"
#include "verdict.h"

#include "runner/kit_limits.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { LIST_TIMEOUT_MS = 10 * 1000, TERM_GRACE_MS = 300, OUTPUT_CAP = 8 * 1024 };

struct jail unit_jail(const struct build_ctx *ctx, const char *writable, long timeout_ms,
                      enum jail_tool tool)
{
    struct jail j = { .sb = ctx->sb, .dir = ctx->scratch, .writable = { writable, NULL },
                      .lim = jail_limits_for(timeout_ms, tool) };
    return j;
}

char *unit_jailed_path(const char *binary)
{
    const char *slash = strrchr(binary, '/');
    return xasprintf("./%s", slash ? slash + 1 : binary);
}

char **unit_list(const struct build_ctx *ctx, const char *binary, char **why)
{
    char token[33];
    char *tok_env = verdict_token_env(token);
    char *env[] = { tok_env, NULL };
    char *path = unit_jailed_path(binary);
    char *argv[] = { path, "--list", NULL };
    struct jail jail = unit_jail(ctx, NULL, LIST_TIMEOUT_MS, JAIL_NATIVE);
    struct proc_spec spec = { .argv = argv, .env = env, .timeout_ms = LIST_TIMEOUT_MS,
                              .grace_ms = TERM_GRACE_MS, .channel = true, .cpu = -1,
                              .jail = &jail };
    struct proc_result res;
    char **names = NULL;
    *why = NULL;
    if (proc_run(&spec, &res) != 0) {
        *why = xasprintf("cannot run the tests");
        goto out;
    }
    names = verdict_list(res.channel, token);
    if (!names) {
        char *how = proc_describe(res.status);
        *why = xasprintf("the test program %s before listing its tests%s%s", how,
                         res.output[0] ? ":\n" : "", res.output);
        free(how);
    }
    proc_result_free(&res);
out:
    free(tok_env);
    free(path);
    return names;
}

struct stuck {
    const struct build_ctx *ctx;
    const char *binary;   /* as the jail names it */
    char *where;          /* the threads, when the test was stopped */
};

static void look_at_threads(pid_t pid, void *arg)
{
    struct stuck *s = arg;
    const char *name = strrchr(s->binary, '/');
    char *outside = xasprintf("%s/%s", s->ctx->scratch, name ? name + 1 : s->binary);
    s->where = stacks_describe(pid, outside, s->ctx->ex->student_file, s->ctx->student_path);
    free(outside);
}

/* Why a test process gave no verdict, in words that point at the usual cause. */
static char *no_verdict_reason(long limit_ms, const struct proc_result *res, const char *where)
{
    if (res->timed_out)
        return xasprintf("timed out after %g s: deadlock or lost wake-up? (a thread waits for "
                         "a lock or a signal that never comes)%s%s", limit_ms / 1000.0,
                         where ? "\n" : "", where ? where : "");
    if (WIFSIGNALED(res->status)) {
        char *how = proc_describe(res->status);
        char *msg = xasprintf("%s during the test%s", how,
                              WTERMSIG(res->status) == SIGSEGV
                                  ? ": a bad pointer, a use after free, or memory freed "
                                    "while another thread still used it?"
                                  : "");
        free(how);
        return msg;
    }
    char *how = proc_describe(res->status);
    char *msg = xasprintf("the test process %s before the test finished: exit() or "
                          "_exit() called inside the code under test?", how);
    free(how);
    return msg;
}

/* One run of one test; true when it passed. On failure *why and *output are set. */
static bool run_once(const struct build_ctx *ctx, const char *binary, const char *test,
                     bool noise, char **why, char **output, long *elapsed_ms)
{
    char token[33];
    char *tok_env = verdict_token_env(token);
    char *env[] = { tok_env, noise ? "KIT_NOISE=1" : NULL, NULL };
    char *argv[] = { (char *)binary, "--run", (char *)test, NULL };
    long limit = ctx->ex->timeout_ms * (noise ? KIT_NOISE_TIME_FACTOR : 1);
    struct jail jail = unit_jail(ctx, NULL, limit, JAIL_NATIVE);
    struct proc_spec spec = { .argv = argv, .env = env, .timeout_ms = limit,
                              .grace_ms = TERM_GRACE_MS, .output_cap = OUTPUT_CAP,
                              .channel = true, .cpu = -1, .jail = &jail };
    struct stuck stuck = { ctx, binary, NULL };
    spec.on_timeout = look_at_threads;
    spec.on_timeout_arg = &stuck;
    struct proc_result res;
    bool ok = false;
    if (proc_run(&spec, &res) != 0) {
        *why = xasprintf("cannot run the test program");
        *output = xstrdup("");
        free(tok_env);
        return false;
    }
    *elapsed_ms += res.elapsed_ms;
    bool said = verdict_find(res.channel, token, test, &ok, why);
    if (said && ok && !(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0)) {
        /* Passed its checks, then crashed on the way out (a thread left running?). */
        char *how = proc_describe(res.status);
        free(*why);
        *why = xasprintf("the checks passed, but then the test process %s: a thread "
                         "still running after the function returned?", how);
        free(how);
        ok = false;
    } else if (!said) {
        *why = no_verdict_reason(limit, &res, stuck.where);
    }
    *output = ok ? NULL : xstrdup(res.output);
    if (ok) {
        free(*why);
        *why = NULL;
    }
    proc_result_free(&res);
    free(stuck.where);
    free(tok_env);
    return ok;
}

void unit_run_test(const struct build_ctx *ctx, const char *binary, struct test_result *t,
                   struct unit_result *res)
{
    const struct exercise *ex = ctx->ex;
    char *why = NULL, *output = NULL;
    t->passed = run_once(ctx, binary, t->name, false, &why, &output, &res->plain_ms);
    for (int i = 1; t->passed && i <= ex->noise_runs; i++) {
        t->passed = run_once(ctx, binary, t->name, true, &why, &output, &res->noise_ms);
        if (!t->passed) {
            char *plain = why;
            why = xasprintf("passed a plain run but failed with schedule noise (run %d of %d, "
                            "threads made to yield at every lock): %s",
                            i, ex->noise_runs, plain);
            free(plain);
        }
    }
    t->message = why ? why : xstrdup("");
    t->output = output ? output : xstrdup("");
}

void unit_run(const struct build_ctx *ctx, const char *binary, bool first_failure, int lanes,
              struct unit_result *res)
{
    *res = (struct unit_result){ 0 };
    char **names = unit_list(ctx, binary, &res->error);
    if (!names)
        return;
    char *jailed = unit_jailed_path(binary);
    while (names[res->ntests])
        res->ntests++;
    res->tests = xcalloc((size_t)res->ntests, sizeof *res->tests);
    for (int i = 0; i < res->ntests; i++)
        res->tests[i].name = names[i];
    res->lanes = first_failure || lanes < 2 || res->ntests < 2 ? 1
                 : lanes < res->ntests ? lanes : res->ntests;
    if (res->lanes > 1) {
        lanes_run(ctx, jailed, res->lanes, res);
        free(jailed);
        free(names);
        return;
    }
    bool failed = false;
    for (int i = 0; i < res->ntests; i++) {
        struct test_result *t = &res->tests[i];
        if (failed && first_failure) {
            t->message = xstrdup("not run: the grading stops at the first failure");
            t->output = xstrdup("");
            continue;
        }
        unit_run_test(ctx, jailed, t, res);
        failed = failed || !t->passed;
    }
    free(jailed);
    free(names);
}

void unit_result_free(struct unit_result *res)
{
    for (int i = 0; i < res->ntests; i++) {
        free(res->tests[i].name);
        free(res->tests[i].message);
        free(res->tests[i].output);
    }
    free(res->tests);
    free(res->error);
    *res = (struct unit_result){ 0 };
}
