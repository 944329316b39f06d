/* runner.c - main() of every exercise's test binary.
 *
 *   tests --list              names every test ("suite/test") on the verdict channel
 *   tests --run NAME...       runs the named tests, one verdict each
 *   tests --debug [NAME...]   runs tests in this process and prints a summary
 *                             (for kit authors; the grader never uses it)
 *
 * The verdict channel is the file descriptor named by KIT_VERDICT_FD, opened
 * by the grader; each record is one JSON line carrying the token from
 * KIT_TOKEN. Both variables are removed before any test runs, so student code
 * printing "PASSED" or exiting 0 can never produce a verdict: the grader only
 * believes a record with its token, read from its own pipe. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"

#include <CUnit/TestRun.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int verdict_fd = -1;
static char token[80];

/* Reads and hides the channel's coordinates; -1 if there is no channel. */
static int open_channel(void)
{
    const char *fd = getenv("KIT_VERDICT_FD");
    const char *tok = getenv("KIT_TOKEN");
    if (!fd || !tok)
        return -1;
    verdict_fd = atoi(fd);
    snprintf(token, sizeof token, "%s", tok);
    unsetenv("KIT_VERDICT_FD");
    unsetenv("KIT_TOKEN");
    /* Programs that tests exec (13-subprocess) must not inherit it. */
    if (fcntl(verdict_fd, F_SETFD, FD_CLOEXEC) != 0)
        return -1;
    return 0;
}

static void send_record(json_t *rec)
{
    json_object_set_new(rec, "token", json_string(token));
    char *line = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!line)
        abort();
    size_t len = strlen(line), off = 0;
    line[len] = '\n';   /* json_dumps leaves room: replace NUL, write len+1 */
    while (off < len + 1) {
        ssize_t n = write(verdict_fd, line + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(line);
}

static void for_each_test(void (*fn)(CU_pSuite, CU_pTest, void *), void *arg)
{
    for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext)
        for (CU_pTest t = s->pTest; t; t = t->pNext)
            fn(s, t, arg);
}

static void add_name(CU_pSuite s, CU_pTest t, void *list)
{
    char name[512];
    snprintf(name, sizeof name, "%s/%s", s->pName, t->pName);
    json_array_append_new(list, json_string(name));
}

/* Finds "suite/test"; 0 when found. */
static int find_test(const char *name, CU_pSuite *suite, CU_pTest *test)
{
    const char *slash = strchr(name, '/');
    if (!slash)
        return -1;
    char sname[256];
    snprintf(sname, sizeof sname, "%.*s", (int)(slash - name), name);
    *suite = CU_get_suite(sname);
    *test = *suite ? CU_get_test(*suite, slash + 1) : NULL;
    return *test ? 0 : -1;
}

static json_t *failures_json(void)
{
    json_t *arr = json_array();
    for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(f->strFileName ? f->strFileName : ""));
        json_object_set_new(o, "line", json_integer(f->uiLineNumber));
        json_object_set_new(o, "message", json_string(f->strCondition ? f->strCondition : ""));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Runs one test; true when it passed. Only the process that started the test
 * reports: a forked child that wrongly returns into the test says nothing. */
static bool run_one(const char *name, bool report)
{
    CU_pSuite s;
    CU_pTest t;
    pid_t self = getpid();
    bool ok = false;
    json_t *rec = json_object();
    json_object_set_new(rec, "test", json_string(name));
    if (find_test(name, &s, &t) != 0) {
        json_object_set_new(rec, "error", json_string("no such test"));
    } else if (CU_run_test(s, t) != CUE_SUCCESS) {
        json_object_set_new(rec, "error", json_string(CU_get_error_msg()));
    } else {
        ok = CU_get_number_of_failures() == 0;
        json_object_set_new(rec, "failures", failures_json());
    }
    json_object_set_new(rec, "ok", json_boolean(ok));
    if (getpid() != self)
        _exit(KIT_CHILD_RETURNED);
    if (report)
        send_record(rec);
    else
        json_decref(rec);
    return ok;
}

static int debug_run(int argc, char **argv)
{
    json_t *names = json_array();
    for_each_test(add_name, names);
    int passed = 0, failed = 0;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        const char *name = json_string_value(v);
        bool wanted = argc == 0;
        for (int a = 0; a < argc; a++)
            wanted |= strcmp(argv[a], name) == 0;
        if (!wanted)
            continue;
        bool ok = run_one(name, false);
        printf("%s %s\n", ok ? "PASS" : "FAIL", name);
        for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
            printf("    %s:%u: %s\n", f->strFileName, f->uiLineNumber, f->strCondition);
        ok ? passed++ : failed++;
    }
    json_decref(names);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s --list | --run NAME... | --debug [NAME...]\n", argv[0]);
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS || CU_register_suites(kit_suites) != CUE_SUCCESS ||
        (kit_hidden_suites && CU_register_suites(kit_hidden_suites) != CUE_SUCCESS)) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 2;
    }
    if (strcmp(argv[1], "--debug") == 0)
        return debug_run(argc - 2, argv + 2);
    if (open_channel() != 0) {
        fprintf(stderr, "no verdict channel: run me through the grader\n");
        return 2;
    }
    if (strcmp(argv[1], "--list") == 0) {
        json_t *names = json_array();
        for_each_test(add_name, names);
        json_t *rec = json_object();
        json_object_set_new(rec, "list", names);
        send_record(rec);
        return 0;
    }
    if (strcmp(argv[1], "--run") != 0)
        return 2;
    for (int a = 2; a < argc; a++)
        run_one(argv[a], true);
    /* Leave at once: student threads still running must not outlive the
     * verdict by running atexit handlers or flushing into freed state. */
    fflush(NULL);
    _exit(0);
}
