/* list.c - make list: the course map with where the student stands.
 *
 * An exercise's state comes from the grader's cache (cache.h): passing or
 * failing when its last grading still matches the file; "changed" when the
 * file moved on since; otherwise "not started" while the file is the original
 * stub, "not graded" once it is not. Nothing is graded here. */
#define _GNU_SOURCE
#include "coach.h"

#include "cache.h"
#include "grade.h"
#include "manifest.h"
#include "results.h"
#include "stub.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    const char *state;
    double score, max;
    bool scored;   /* score is known (from a grading) */
};

static bool unchanged_stub(const char *kit, const struct exercise *ex, const char *file)
{
    size_t a = 0, b = 0;
    char *stub = stub_original(kit, ex, &a), *mine = read_file(file, &b);
    bool same = stub && mine && a == b && memcmp(stub, mine, a) == 0;
    free(stub), free(mine);
    return same;
}

static struct row state_of(const struct coach_opts *o, const char *cache, const struct exercise *ex)
{
    struct row r = { .state = "not graded", .max = ex->points };
    char *file = xasprintf("%s/%s/%s", o->submission, ex->id, ex->student_file);
    char *exe = realpath(o->grader, NULL);
    struct grade_opts g = { .kit = o->kit, .submission = o->submission, .runner_lib = o->runner_lib,
                            .cache = cache };
    json_t *now = exe ? cache_current(&g, ex, exe) : NULL;
    json_t *last = now ? NULL : cache_last(cache, ex->id);
    json_t *res = now ? now : last;
    if (res) {
        r.score = json_number_value(json_object_get(res, "score"));
        r.scored = true;
    }
    if (!is_file(file))
        r.state = "missing";
    else if (now)
        r.state = result_full_marks(now) ? "passing" : "failing";
    else if (last)
        r.state = "changed since graded";
    else if (unchanged_stub(o->kit, ex, file))
        r.state = "not started";
    json_decref(now), json_decref(last);
    free(file), free(exe);
    return r;
}

char *coach_unfinished(const struct coach_opts *o, const char *from)
{
    char **ids = catalogue_ids(o->kit);
    char *cache = xasprintf("%s/cache", o->scratch), *found = NULL;
    bool started = !from;
    for (char **id = ids; id && *id && !found; id++) {
        started = started || strcmp(*id, from) == 0;
        struct exercise ex;
        char *err;
        if (!started || manifest_load(o->kit, *id, &ex, &err) != 0)
            continue;
        struct row r = state_of(o, cache, &ex);
        if (strcmp(r.state, "passing") != 0)
            found = xstrdup(*id);
        manifest_free(&ex);
    }
    free(cache);
    strv_free(ids);
    return found;
}

int coach_list(const struct coach_opts *o)
{
    char **ids = catalogue_ids(o->kit);
    char *cache = xasprintf("%s/cache", o->scratch);
    int total = 0, passing = 0;
    const char *next = NULL;
    printf("%-22s %-22s %-9s %s\n", "exercise", "state", "points", "title");
    for (char **id = ids; id && *id; id++) {
        struct exercise ex;
        char *err;
        if (manifest_load(o->kit, *id, &ex, &err) != 0) {
            fprintf(stderr, "%s\n", err);
            free(err);
            continue;
        }
        struct row r = state_of(o, cache, &ex);
        char points[32];
        if (r.scored)
            snprintf(points, sizeof points, "%.1f/%g", r.score, r.max);
        else
            snprintf(points, sizeof points, "-/%g", r.max);
        printf("%-22s %-22s %-9s %s\n", ex.id, r.state, points, ex.title);
        total++;
        if (strcmp(r.state, "passing") == 0)
            passing++;
        else if (!next)
            next = *id;
        manifest_free(&ex);
    }
    printf("Done: %d of %d exercises", passing, total);
    if (next)
        printf("; next: %s (make grade EX=%.2s)", next, next);
    printf("\n");
    free(cache);
    strv_free(ids);
    return 0;
}
