/* test_proc.c - time limits, process groups, output capture, the channel. */
#define _GNU_SOURCE
#include "proc.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static struct proc_result run_sh(const char *script, long timeout_ms, size_t cap, bool channel)
{
    char *argv[] = { "sh", "-c", (char *)script, NULL };
    struct proc_spec spec = { .argv = argv, .timeout_ms = timeout_ms, .grace_ms = 300,
                              .output_cap = cap, .channel = channel, .cpu = -1 };
    struct proc_result res;
    CU_ASSERT_EQUAL_FATAL(proc_run(&spec, &res), 0);
    return res;
}

/* True while pid exists and is not a zombie. */
static bool alive(long pid)
{
    char *path = xasprintf("/proc/%ld/stat", pid);
    char *stat = read_file(path, NULL);
    free(path);
    if (!stat)
        return false;
    const char *close = strrchr(stat, ')');
    bool zombie = close && close[1] == ' ' && close[2] == 'Z';
    free(stat);
    return !zombie;
}

static void test_exit_status_and_output_are_captured(void)
{
    struct proc_result r = run_sh("echo out; echo err >&2; exit 3", 5000, 0, false);
    CU_ASSERT_FALSE(r.timed_out);
    CU_ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.output, "out\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.output, "err\n"));
    proc_result_free(&r);
}

static void test_a_hang_is_stopped_at_the_deadline(void)
{
    struct proc_result r = run_sh("sleep 30", 200, 0, false);
    CU_ASSERT_TRUE(r.timed_out);
    CU_ASSERT_TRUE(r.elapsed_ms >= 200);
    CU_ASSERT_TRUE(r.elapsed_ms < 3000);
    proc_result_free(&r);
}

static void test_sigterm_comes_before_sigkill(void)
{
    struct proc_result r = run_sh("trap 'echo got-term; exit 7' TERM; while :; do sleep 0.05; done",
                                  200, 0, false);
    CU_ASSERT_TRUE(r.timed_out);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.output, "got-term"));
    proc_result_free(&r);
}

static void test_a_child_ignoring_sigterm_is_killed(void)
{
    struct proc_result r = run_sh("trap '' TERM; while :; do sleep 0.05; done", 200, 0, false);
    CU_ASSERT_TRUE(r.timed_out);
    CU_ASSERT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    CU_ASSERT_TRUE(r.elapsed_ms < 3000);
    proc_result_free(&r);
}

static void test_nothing_outlives_the_run(void)
{
    /* A background grandchild, left behind by a child that exits at once. */
    struct proc_result r = run_sh("sleep 30 >/dev/null 2>&1 & echo $!", 5000, 0, false);
    long pid = atol(r.output);
    CU_ASSERT_TRUE_FATAL(pid > 0);
    for (int i = 0; i < 100 && alive(pid); i++)
        usleep(10000);
    CU_ASSERT_FALSE(alive(pid));
    proc_result_free(&r);
    /* And one left behind by a child that times out. */
    r = run_sh("sleep 30 >/dev/null 2>&1 & echo $!; sleep 30", 300, 0, false);
    pid = atol(r.output);
    CU_ASSERT_TRUE(r.timed_out);
    for (int i = 0; i < 100 && alive(pid); i++)
        usleep(10000);
    CU_ASSERT_FALSE(alive(pid));
    proc_result_free(&r);
}

static void test_long_output_keeps_head_and_tail(void)
{
    struct proc_result r = run_sh("echo HEAD; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo TAIL",
                                  10000, 1000, false);
    CU_ASSERT_TRUE(r.output_total > 1000000);
    CU_ASSERT_TRUE(strlen(r.output) < 1200);
    CU_ASSERT_EQUAL(strncmp(r.output, "HEAD\n", 5), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.output, "bytes of output cut"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.output, "TAIL\n"));
    proc_result_free(&r);
}

static void test_the_channel_is_separate_from_output(void)
{
    struct proc_result r = run_sh("echo on-stdout; echo \"on-channel $KIT_VERDICT_FD\" >&\"$KIT_VERDICT_FD\"",
                                  5000, 0, true);
    CU_ASSERT_STRING_EQUAL(r.channel, "on-channel 3\n");
    CU_ASSERT_PTR_NULL(strstr(r.output, "on-channel"));
    proc_result_free(&r);
}

static void test_describe_names_signals(void)
{
    char *s = proc_describe(SIGSEGV);   /* a wait status for "killed by SIGSEGV" */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "killed by SIGSEGV"));
    free(s);
    s = proc_describe(3 << 8);
    CU_ASSERT_STRING_EQUAL(s, "exited with status 3");
    free(s);
}

static CU_TestInfo tests[] = {
    { "test_exit_status_and_output_are_captured", test_exit_status_and_output_are_captured },
    { "test_a_hang_is_stopped_at_the_deadline", test_a_hang_is_stopped_at_the_deadline },
    { "test_sigterm_comes_before_sigkill", test_sigterm_comes_before_sigkill },
    { "test_a_child_ignoring_sigterm_is_killed", test_a_child_ignoring_sigterm_is_killed },
    { "test_nothing_outlives_the_run", test_nothing_outlives_the_run },
    { "test_long_output_keeps_head_and_tail", test_long_output_keeps_head_and_tail },
    { "test_the_channel_is_separate_from_output", test_the_channel_is_separate_from_output },
    { "test_describe_names_signals", test_describe_names_signals },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo proc_suites[] = {
    { "proc", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
