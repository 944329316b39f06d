/* grade.c - see grade.h. */
#define _GNU_SOURCE
#include "grade.h"

#include "build.h"
#include "race.h"
#include "unit.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *json_text(const char *s)
{
    struct strbuf sb = { 0 };
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = 0;
        if (*p < 0x80)
            n = 1;
        else if ((*p & 0xE0) == 0xC0 && p[0] >= 0xC2)
            n = 2;
        else if ((*p & 0xF0) == 0xE0)
            n = 3;
        else if ((*p & 0xF8) == 0xF0 && p[0] <= 0xF4)
            n = 4;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                n = 0;
        if (n == 0) {
            sb_puts(&sb, "\xEF\xBF\xBD");
            p++;
            continue;
        }
        sb_add(&sb, (const char *)p, n);
        p += n;
    }
    char *clean = sb_steal(&sb);
    json_t *j = json_string(clean);
    if (!j)   /* overlong or surrogate forms jansson still refuses */
        j = json_string("(output not shown: not valid UTF-8)");
    free(clean);
    return j;
}

static double round2(double x)
{
    return round(x * 10000) / 10000;
}

static json_t *entry(const struct exercise *ex, const char *kind, const char *name,
                     double score, double max, bool passed, const char *output)
{
    json_t *t = json_object();
    char *full = xasprintf("%s: %s", ex->id, name);
    json_object_set_new(t, "name", json_string(full));
    json_object_set_new(t, "score", json_real(round2(score)));
    json_object_set_new(t, "max_score", json_real(round2(max)));
    json_object_set_new(t, "status", json_string(passed ? "passed" : "failed"));
    json_object_set_new(t, "output", json_text(output));
    json_object_set_new(t, "tags", json_pack("[ss]", ex->id, kind));
    free(full);
    return t;
}

static const char *build_word(enum build_state s)
{
    static const char *const words[] = { "ok", "warnings", "failed", "missing" };
    return words[s];
}

static const char *race_word(enum race_state s)
{
    static const char *const words[] = { "clean", "found", "timeout", "error" };
    return words[s];
}

/* One unit entry per test; returns the points earned. */
static double add_unit_entries(const struct exercise *ex, const struct unit_result *u,
                               json_t *tests, int *passed)
{
    double unit_points = ex->points - ex->race_points, earned = 0;
    *passed = 0;
    if (u->error) {
        json_array_append_new(tests, entry(ex, "unit", "unit tests", 0, unit_points, false, u->error));
        return 0;
    }
    for (int i = 0; i < u->ntests; i++) {
        const struct test_result *t = &u->tests[i];
        double each = unit_points / u->ntests;
        char *out = t->passed ? xstrdup("passed")
                              : xasprintf("%s%s%s", t->message,
                                          t->output[0] ? "\n--- the test printed ---\n" : "",
                                          t->output);
        json_array_append_new(tests, entry(ex, "unit", t->name, t->passed ? each : 0, each,
                                           t->passed, out));
        free(out);
        if (t->passed) {
            earned += each;
            (*passed)++;
        }
    }
    return earned;
}

static char **listed_names(const struct unit_result *u)
{
    char **names = xcalloc((size_t)u->ntests + 1, sizeof *names);
    for (int i = 0; i < u->ntests; i++)
        names[i] = u->tests[i].name;
    return names;
}

/* The outcome object, shared by graded and lost exercises. */
static json_t *outcome(const struct exercise *ex, double score, const char *build, int passed,
                       int total, const char *race, json_t *tests, json_t *timing)
{
    json_t *res = json_object();
    json_object_set_new(res, "id", json_string(ex->id));
    json_object_set_new(res, "title", json_string(ex->title));
    json_object_set_new(res, "score", json_real(round2(score)));
    json_object_set_new(res, "max_score", json_real(round2(ex->points)));
    json_object_set_new(res, "build", json_string(build));
    json_object_set_new(res, "tests_passed", json_integer(passed));
    json_object_set_new(res, "tests_total", json_integer(total));
    json_object_set_new(res, "race", json_string(race));
    json_object_set_new(res, "hint", ex->hints && ex->hints[0] ? json_string(ex->hints[0]) : json_null());
    json_object_set_new(res, "tests", tests);
    json_object_set_new(res, "timing_ms", timing);
    return res;
}

json_t *grade_lost(const struct exercise *ex, const char *why)
{
    json_t *tests = json_array();
    json_array_append_new(tests, entry(ex, "build", "build", 0, 0, false, why));
    json_array_append_new(tests, entry(ex, "unit", "unit tests", 0, ex->points - ex->race_points,
                                       false, why));
    if (ex->race_check)
        json_array_append_new(tests, entry(ex, "race", "race check (helgrind)", 0,
                                           ex->race_points, false, why));
    return outcome(ex, 0, "failed", 0, 0, ex->race_check ? "error" : "none", tests, json_object());
}

json_t *grade_exercise(const struct grade_opts *opts, const struct exercise *ex)
{
    char *student = xasprintf("%s/%s/%s", opts->submission, ex->id, ex->student_file);
    char *scratch = xasprintf("%s/%s", opts->scratch, ex->id);
    struct build_ctx ctx = { opts->kit, opts->runner_lib, ex, student, scratch, opts->sandbox };
    struct build_result b;
    json_t *tests = json_array();
    double score = 0;
    int passed = 0, total = 0;
    const char *race = ex->race_check ? "skipped" : "none";

    json_t *timing = json_object();
    long t0 = now_ms();
    build_tests(&ctx, &b);
    json_object_set_new(timing, "build", json_integer(now_ms() - t0));
    bool built = b.state == BUILD_OK || b.state == BUILD_WARNINGS;
    json_array_append_new(tests, entry(ex, "build", "build", 0, 0, built,
                                       b.messages[0] ? b.messages : "compiled without warnings"));
    if (!built) {
        json_array_append_new(tests, entry(ex, "unit", "unit tests", 0, ex->points - ex->race_points,
                                           false, "not run: the build failed"));
    } else {
        struct unit_result u = { 0 };
        char **names = NULL, **listed = NULL;   /* listed: owned; names may point into u */
        if (opts->checks != CHECKS_RACE) {
            long t1 = now_ms();
            unit_run(&ctx, b.binary, opts->first_failure, opts->lanes, &u);
            json_object_set_new(timing, "tests_wall", json_integer(now_ms() - t1));
            json_object_set_new(timing, "lanes", json_integer(u.lanes));
            score += add_unit_entries(ex, &u, tests, &passed);
            json_object_set_new(timing, "unit", json_integer(u.plain_ms));
            json_object_set_new(timing, "noise", json_integer(u.noise_ms));
            total = u.ntests;
            names = u.error ? NULL : listed_names(&u);
        } else {
            json_array_append_new(tests, entry(ex, "unit", "unit tests", 0, ex->points - ex->race_points,
                                               false, "not run: only the race check was asked for"));
            char *why = NULL;
            names = listed = unit_list(&ctx, b.binary, &why);
            free(why);
        }
        if (ex->race_check && opts->checks == CHECKS_UNIT) {
            json_array_append_new(tests, entry(ex, "race", "race check (helgrind)", 0, ex->race_points,
                                               false, "not run: only the unit tests were asked for"));
            race = "not run";
        } else if (ex->race_check && names) {
            struct race_result r;
            race_check(&ctx, b.binary, names, &r);
            bool clean = r.state == RACE_CLEAN;
            char *out = clean ? xasprintf("no data race, lock-order violation or pthread misuse found%s%s",
                                          r.notes[0] ? "\n" : "", r.notes)
                              : xasprintf("%s%s%s", r.message, r.notes[0] ? "\n" : "", r.notes);
            json_array_append_new(tests, entry(ex, "race", "race check (helgrind)",
                                               clean ? ex->race_points : 0, ex->race_points, clean, out));
            score += clean ? ex->race_points : 0;
            race = race_word(r.state);
            json_object_set_new(timing, "helgrind", json_integer(r.helgrind_ms));
            json_object_set_new(timing, "tsan", json_integer(r.tsan_ms));
            free(out);
            race_result_free(&r);
        }
        if (listed)
            strv_free(listed);
        else
            free(names);
        unit_result_free(&u);
    }
    if (ex->race_check && strcmp(race, "skipped") == 0)
        json_array_append_new(tests, entry(ex, "race", "race check (helgrind)", 0, ex->race_points,
                                           false, "not run: the tests could not be built or listed"));

    json_t *res = outcome(ex, score, build_word(b.state), passed, total, race, tests, timing);
    build_result_free(&b);
    free(student);
    free(scratch);
    return res;
}
