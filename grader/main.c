/* main.c - the grader's command line.
 *
 *   grader [--kit DIR] [--submission DIR] [--ex ID]... [--results FILE]
 *          [--scratch DIR] [--jobs N] [--color auto|always|never]
 *          [--sandbox auto|bwrap|reduced] [--checks all|unit|race] [--no-cache]
 *          [--first-failure] [--reuse DIR] [--test-jobs N]
 *
 * Grades each exercise in a worker process (up to --jobs at once), prints the
 * table and optionally writes Gradescope's results.json. --reuse DIR: results
 * shared by key with every submission graded with the same DIR (cache.h).
 * --test-jobs N: each exercise's tests N at a time (lanes.h); by default the
 * cores left over by the workers, at most LANES_MAX. Exit status: 0 full
 * marks, 1 points lost, 2 the grader could not do its job. */
#define _GNU_SOURCE
#include "cache.h"
#include "grade.h"
#include "lanes.h"
#include "manifest.h"
#include "proc.h"
#include "results.h"
#include "sandbox.h"
#include "table.h"
#include "util.h"
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct options {
    const char *kit, *submission, *results, *scratch, *color, *sandbox, *reuse;
    char *runner_lib;
    char **only;       /* --ex values, NULL-terminated */
    int nonly;
    int jobs, test_jobs;
    enum grade_checks checks;
    bool no_cache, first_failure;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: grader [--kit DIR] [--submission DIR] [--ex ID]... [--results FILE]\n"
                 "              [--scratch DIR] [--jobs N] [--color auto|always|never]\n"
                 "              [--sandbox auto|bwrap|reduced] [--checks all|unit|race] [--no-cache]\n"
                 "              [--first-failure] [--reuse DIR] [--test-jobs N]\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        { "kit", required_argument, NULL, 'k' },      { "submission", required_argument, NULL, 's' },
        { "ex", required_argument, NULL, 'e' },       { "results", required_argument, NULL, 'r' },
        { "scratch", required_argument, NULL, 'b' },  { "jobs", required_argument, NULL, 'j' },
        { "color", required_argument, NULL, 'c' },    { "runner-lib", required_argument, NULL, 'l' },
        { "sandbox", required_argument, NULL, 'x' },  { "help", no_argument, NULL, 'h' },
        { "checks", required_argument, NULL, 'C' },   { "no-cache", no_argument, NULL, 'N' },
        { "first-failure", no_argument, NULL, 'F' },  { "reuse", required_argument, NULL, 'R' },
        { "test-jobs", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    o->only = xcalloc(1, sizeof *o->only);
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'k': o->kit = optarg; break;
        case 's': o->submission = optarg; break;
        case 'r': o->results = optarg; break;
        case 'b': o->scratch = optarg; break;
        case 'j': o->jobs = atoi(optarg); break;
        case 'c': o->color = optarg; break;
        case 'l': o->runner_lib = xstrdup(optarg); break;
        case 'x': o->sandbox = optarg; break;
        case 'N': o->no_cache = true; break;
        case 'F': o->first_failure = true; break;
        case 'R': o->reuse = optarg; break;
        case 'T': o->test_jobs = atoi(optarg); break;
        case 'C':
            if (strcmp(optarg, "all") == 0) o->checks = CHECKS_ALL;
            else if (strcmp(optarg, "unit") == 0) o->checks = CHECKS_UNIT;
            else if (strcmp(optarg, "race") == 0) o->checks = CHECKS_RACE;
            else { fprintf(stderr, "grader: --checks all, unit or race, not \"%s\"\n", optarg); return -1; }
            break;
        case 'e':   /* "04,05" or repeated */
            for (char *tok = strtok(optarg, ", "); tok; tok = strtok(NULL, ", ")) {
                o->only = xrealloc(o->only, (size_t)(o->nonly + 2) * sizeof *o->only);
                o->only[o->nonly++] = tok;
                o->only[o->nonly] = NULL;
            }
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc || o->jobs < 0 || o->test_jobs < 0 || o->test_jobs > LANES_MAX) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* How many tests of an exercise run side by side: --test-jobs, or the
 * cores the workers leave over (one each). */
static int lanes_for(const struct options *o, int jobs, size_t exercises)
{
    if (o->test_jobs > 0)
        return o->test_jobs;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long workers = (size_t)jobs < exercises ? jobs : (long)exercises;
    long lanes = workers > 0 ? cores / workers : 1;
    return lanes < 1 ? 1 : lanes > LANES_MAX ? LANES_MAX : (int)lanes;
}

/* The runner library sits beside the grader: BUILD/grader, BUILD/runner/. */
static char *default_runner_lib(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return xstrdup("build/runner/libkitrunner.a");
    exe[n] = '\0';
    return xasprintf("%s/runner/libkitrunner.a", dirname(exe));
}

/* The exercises to grade: all, or those named with --ex. */
static char **select_exercises(const struct options *o, char **all)
{
    if (o->nonly == 0)
        return all;
    char **chosen = xcalloc((size_t)o->nonly + 1, sizeof *chosen);
    for (int i = 0; i < o->nonly; i++) {
        char *id = catalogue_find(all, o->only[i]);
        if (!id) {
            fprintf(stderr, "grader: no exercise \"%s\" (or more than one); the exercises are:\n",
                    o->only[i]);
            for (char **p = all; *p; p++)
                fprintf(stderr, "  %s\n", *p);
            free(chosen);
            return NULL;
        }
        chosen[i] = id;
    }
    return chosen;
}

/* Whether a results file can be written there (checked before grading, so
 * that minutes of work are not lost to a typo). */
static bool results_writable(const char *path)
{
    if (is_dir(path)) {
        errno = EISDIR;
        return false;
    }
    char *copy = xstrdup(path);
    bool ok = access(dirname(copy), W_OK | X_OK) == 0;
    free(copy);
    return ok;
}

/* One grader at a time per scratch folder: a second one waits its turn
 * (the lock goes with the process, however it ends). */
static int lock_scratch(const char *scratch)
{
    char *path = xasprintf("%s/.lock", scratch);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) {
        fprintf(stderr, "grader: cannot lock %s: %s\n", scratch, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "grader: another grader is using %s; waiting for it to finish\n", scratch);
        if (flock(fd, LOCK_EX) != 0) {
            fprintf(stderr, "grader: cannot lock %s: %s\n", scratch, strerror(errno));
            return -1;
        }
    }
    return 0;   /* fd stays open: the lock is held until the grader exits */
}

static bool use_color(const char *mode)
{
    if (mode && strcmp(mode, "always") == 0)
        return true;
    if (mode && strcmp(mode, "never") == 0)
        return false;
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

/* After grading some exercises: where the student stands in the course. */
static void print_course(const struct grade_opts *g, char **all)
{
    char *self = realpath("/proc/self/exe", NULL), *next = NULL;
    if (!self)
        return;
    int passing = cache_passing(g, all, self, &next);
    printf("Course: %d of %zu exercises pass", passing, strv_len(all));
    if (next)
        printf("; next: %s", next);
    printf(" (make list)\n");
    free(next);
    free(self);
}

int main(int argc, char **argv)
{
    struct options o = { .kit = "." };
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    char *kit = realpath(o.kit, NULL);
    if (!kit) {
        fprintf(stderr, "grader: %s: %s\n", o.kit, strerror(errno));
        return 2;
    }
    /* Relative to where the student is, as the paths in messages will be. */
    char *submission = o.submission ? xstrdup(o.submission)
                       : strcmp(o.kit, ".") == 0 ? xstrdup("exercises")
                                                 : xasprintf("%s/exercises", o.kit);
    char *scratch = o.scratch ? xstrdup(o.scratch) : xasprintf("%s/build/grade", kit);
    char *runner_lib = o.runner_lib ? o.runner_lib : default_runner_lib();
    int jobs = o.jobs > 0 ? o.jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (!is_dir(submission)) {
        fprintf(stderr, "grader: %s %s\n", submission,
                access(submission, F_OK) == 0 ? "is not a folder" : "does not exist");
        return 2;
    }
    /* The compiler runs in scratch folders: the kit's paths must be absolute. */
    char *lib = realpath(runner_lib, NULL);
    if (!lib) {
        fprintf(stderr, "grader: %s is missing: run make first\n", runner_lib);
        return 2;
    }
    if (mkdir_p(scratch) != 0 || !(scratch = realpath(scratch, NULL))) {
        fprintf(stderr, "grader: cannot create the scratch folder: %s\n", strerror(errno));
        return 2;
    }
    o.kit = kit;
    runner_lib = lib;
    char **all = catalogue_ids(o.kit);
    if (!all[0]) {
        fprintf(stderr, "grader: no exercises under %s/tests\n", o.kit);
        return 2;
    }
    char **ids = select_exercises(&o, all);
    if (!ids)
        return 2;

    if (o.results && !results_writable(o.results)) {
        fprintf(stderr, "grader: cannot write results to %s: %s\n", o.results, strerror(errno));
        return 2;
    }
    if (lock_scratch(scratch) != 0)
        return 2;
    char *cache = xasprintf("%s/cache", scratch);   /* stays here if the scratch moves */
    workers_catch_interrupts();

    /* Student code runs as another user, who must reach the scratch
     * folders: where it cannot (a kit under /root), work in /tmp. */
    struct sandbox sb;
    char *err, *moved = NULL;
    bool unreachable = sandbox_init(&sb, "reduced", scratch, 0, &err) == 0 &&
                       !sandbox_can_reach(&sb, scratch);
    sandbox_free(&sb);
    if (unreachable) {
        moved = xstrdup("/tmp/kit-grade.XXXXXX");
        if (!mkdtemp(moved) || chmod(moved, 0711) != 0) {
            fprintf(stderr, "grader: cannot create %s: %s\n", moved, strerror(errno));
            return 2;
        }
        scratch = moved;
    }
    if (sandbox_init(&sb, o.sandbox, scratch, 0, &err) != 0) {
        fprintf(stderr, "grader: %s\n", err);
        return 2;
    }
    if (sb.kind == SANDBOX_REDUCED)
        fprintf(stderr, "grader: isolation reduced (bubblewrap: %s): student code runs with "
                        "resource limits%s, without its own namespaces\n",
                sb.reduced_why, sb.drop ? " as an unprivileged user" : "");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct grade_opts g = { o.kit, submission, scratch, runner_lib, &sb, o.checks,
                            o.no_cache ? NULL : cache, o.reuse, o.first_failure,
                            lanes_for(&o, jobs, strv_len(ids)) };
    fflush(NULL);
    proc_adopt_orphans();   /* what a killed worker leaves behind comes to us */
    int workers = workers_run(&g, ids, jobs);
    proc_kill_orphans();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    int interrupted = workers_interrupted();
    if (moved && (interrupted || workers != 0))
        remove_tree(moved);
    if (interrupted) {
        fprintf(stderr, "grader: interrupted: every test process was stopped; no results written\n");
        return 128 + interrupted;
    }
    json_t *results = results_load(scratch, ids);
    if (workers != 0 || !results) {
        fprintf(stderr, "grader: grading failed (see above)\n");
        return 2;
    }
    table_print(stdout, results, use_color(o.color));
    if (g.cache && strv_len(ids) < strv_len(all))
        print_course(&g, all);
    if (o.results && results_write(o.results, results, elapsed) != 0) {
        fprintf(stderr, "grader: cannot write %s: %s\n", o.results, strerror(errno));
        return 2;
    }
    int rc = results_full_marks(results) ? 0 : 1;
    json_decref(results);
    sandbox_free(&sb);
    if (moved)
        remove_tree(moved);
    return rc;
}
