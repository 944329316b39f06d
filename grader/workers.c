/* workers.c - see workers.h. */
#define _GNU_SOURCE
#include "workers.h"

#include "cache.h"
#include "manifest.h"
#include "proc.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_signal(int sig)
{
    proc_kill_running();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Set by a signal to the grader itself: stop the workers and exit 128+sig. */
static volatile sig_atomic_t interrupted;

int workers_interrupted(void)
{
    return interrupted;
}

static void on_interrupt(int sig)
{
    interrupted = sig;
}

void workers_catch_interrupts(void)
{
    struct sigaction sa = { .sa_handler = on_interrupt };   /* no SA_RESTART: wait() returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void worker(const struct grade_opts *shared, const char *id, int slot)
{
    if (interrupted)
        _exit(2);
    proc_adopt_orphans();
    struct grade_opts own = *shared;
    struct sandbox sb = *shared->sandbox;
    sandbox_for_slot(&sb, slot);   /* a user of its own: see sandbox_init */
    own.sandbox = &sb;
    const struct grade_opts *g = &own;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    struct exercise ex;
    char *err = NULL;
    json_t *res;
    if (manifest_load(g->kit, id, &ex, &err) != 0) {
        fprintf(stderr, "grader: %s\n", err);
        _exit(2);
    }
    char *self = realpath("/proc/self/exe", NULL);
    char *key = (g->cache || g->shared) && self ? cache_key(g, &ex, self) : NULL;
    free(self);
    res = key && g->cache ? cache_get(g->cache, id, key) : NULL;
    if (!res && key && g->shared)
        res = cache_shared_get(g->shared, key);
    if (!res) {
        res = grade_exercise(g, &ex);
        if (key && g->cache)
            cache_put(g->cache, id, key, res);
        if (key && g->shared)
            cache_shared_put(g->shared, key, res);
    }
    free(key);
    char *dir = xasprintf("%s/%s", g->scratch, id);
    char *path = xasprintf("%s/result.json", dir);
    mkdir_p(dir);
    char *text = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = text && write_file(path, text, strlen(text)) == 0 ? 0 : 2;
    _exit(rc);
}

/* One line on stderr as each exercise is done, when someone is watching. */
static void say_done(const struct grade_opts *g, const char *id, long ms)
{
    if (!isatty(STDERR_FILENO))
        return;
    char *path = xasprintf("%s/%s/result.json", g->scratch, id);
    json_t *r = json_load_file(path, 0, NULL);
    fprintf(stderr, "  graded %-22s %5.1f/%-4g (%.1f s)\n", id,
            json_number_value(json_object_get(r, "score")),
            json_number_value(json_object_get(r, "max_score")), ms / 1000.0);
    json_decref(r);
    free(path);
}

/* A worker killed from outside (by code under test that reached it, or by
 * the system): the exercise gets no points and the reason. */
static void record_lost(const struct grade_opts *g, const char *id, int status)
{
    struct exercise ex;
    char *err = NULL;
    if (manifest_load(g->kit, id, &ex, &err) != 0) {
        fprintf(stderr, "grader: %s\n", err);
        return;
    }
    char *how = proc_describe(status);
    char *why = xasprintf("the grading of this exercise was stopped: its process was %s "
                          "(did the code under test kill its parent or its process group, "
                          "or exhaust the machine's memory?)", how);
    json_t *res = grade_lost(&ex, why);
    char *dir = xasprintf("%s/%s", g->scratch, id);
    char *path = xasprintf("%s/result.json", dir);
    char *text = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
    mkdir_p(dir);
    if (!text || write_file(path, text, strlen(text)) != 0)
        fprintf(stderr, "grader: cannot write %s\n", path);
    free(text), free(path), free(dir), free(why), free(how);
    json_decref(res);
    manifest_free(&ex);
}

int workers_run(const struct grade_opts *g, char **ids, int jobs)
{
    size_t n = 0;
    while (ids[n])
        n++;
    pid_t *pids = xcalloc(n, sizeof *pids);
    long *started = xcalloc(n, sizeof *started);
    int *slots = xcalloc(n, sizeof *slots);
    bool *busy = xcalloc((size_t)jobs, sizeof *busy);
    size_t next = 0;
    int running = 0, failed = 0;
    bool stopping = false;
    while (next < n || running > 0) {
        if (interrupted && !stopping) {   /* start no more; stop those running */
            stopping = true;
            n = next;
            for (size_t i = 0; i < next; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGTERM);
        }
        if (next < n && running < jobs) {
            int slot = 0;
            while (busy[slot])
                slot++;
            pid_t pid = fork();
            if (pid == 0)
                worker(g, ids[next], slot);
            if (pid < 0) {
                perror("grader: fork");
                failed = 1;
                n = next;   /* start no more */
                continue;
            }
            pids[next] = pid;
            slots[next] = slot;
            busy[slot] = true;
            started[next++] = now_ms();
            running++;
            continue;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        running--;
        for (size_t i = 0; i < next; i++)
            if (pids[i] == pid) {
                pids[i] = 0;
                busy[slots[i]] = false;
                if (WIFSIGNALED(status) && !interrupted)
                    record_lost(g, ids[i], status);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                    say_done(g, ids[i], now_ms() - started[i]);
                else if (!WIFSIGNALED(status) || interrupted)
                    failed = 1;
            }
    }
    free(pids);
    free(started);
    free(slots);
    free(busy);
    return failed ? -1 : 0;
}
