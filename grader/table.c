/* table.c - see table.h. */
#define _GNU_SOURCE
#include "table.h"

#include "results.h"

#include <string.h>

enum { MAX_DETAIL_LINES = 25, MAX_WARNING_LINES = 8 };

struct paint {
    const char *green, *red, *yellow, *bold, *off;
};

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Prints text indented, at most `max` lines. */
static void print_indented(FILE *out, const char *text, const char *indent, int max)
{
    int lines = 0;
    while (*text && lines < max) {
        size_t len = strcspn(text, "\n");
        fprintf(out, "%s%.*s\n", indent, (int)len, text);
        text += len + (text[len] == '\n');
        lines++;
    }
    if (*text)
        fprintf(out, "%s[...]\n", indent);
}

static void print_row(FILE *out, json_t *ex, const struct paint *p)
{
    const char *build = str(ex, "build"), *race = str(ex, "race");
    bool built = !strcmp(build, "ok") || !strcmp(build, "warnings");
    long passed = (long)json_integer_value(json_object_get(ex, "tests_passed"));
    long total = (long)json_integer_value(json_object_get(ex, "tests_total"));
    char tests[32];
    if (built && total > 0)
        snprintf(tests, sizeof tests, "%ld/%ld", passed, total);
    else
        snprintf(tests, sizeof tests, "-");
    const char *bc = !strcmp(build, "ok") ? p->green : built ? p->yellow : p->red;
    const char *tc = built && total > 0 && passed == total ? p->green : p->red;
    const char *rc = !strcmp(race, "clean") ? p->green : !strcmp(race, "none") ? "" : p->red;
    const char *pc = result_full_marks(ex) ? p->green : p->red;
    fprintf(out, "%-22s %s%-9s%s %s%-7s%s %s%-8s%s %s%5.1f/%-4g%s\n", str(ex, "id"),
            bc, build, p->off, tc, tests, p->off, rc, race, p->off,
            pc, num(ex, "score"), num(ex, "max_score"), p->off);
}

static void print_details(FILE *out, json_t *ex, const struct paint *p)
{
    fprintf(out, "\n%s%s: %s%s\n", p->bold, str(ex, "id"), str(ex, "title"), p->off);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ex, "tests"), i, t) {
        if (!strcmp(str(t, "status"), "passed"))
            continue;
        const char *name = str(t, "name") + strlen(str(ex, "id")) + 2;
        fprintf(out, "  %sFAILED%s %s\n", p->red, p->off, name);
        print_indented(out, str(t, "output"), "      ", MAX_DETAIL_LINES);
    }
    if (json_is_string(json_object_get(ex, "hint")))
        fprintf(out, "  %sHint:%s %s\n  (more hints: exercises/%s/README.md)\n", p->bold, p->off,
                str(ex, "hint"), str(ex, "id"));
}

static void print_warnings(FILE *out, json_t *ex, const struct paint *p)
{
    json_t *build = json_array_get(json_object_get(ex, "tests"), 0);
    fprintf(out, "\n%s%s: compiler warnings%s\n", p->yellow, str(ex, "id"), p->off);
    print_indented(out, str(build, "output"), "  ", MAX_WARNING_LINES);
}

/* One line naming the exercises whose result has `flag` set, if any. */
static void print_flagged(FILE *out, json_t *results, const char *flag, const char *intro)
{
    size_t i;
    json_t *ex;
    int n = 0;
    json_array_foreach(results, i, ex)
        if (json_is_true(json_object_get(ex, flag)))
            fprintf(out, "%s %s", n++ ? "," : intro, str(ex, "id"));
    if (n)
        fputc('\n', out);
}

void table_print(FILE *out, json_t *results, bool color)
{
    struct paint p = { "", "", "", "", "" };
    if (color)
        p = (struct paint){ "\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[0m" };
    double score = 0, max = 0;
    int done = 0;
    json_t *first_short = NULL, *ex;
    size_t i;
    fprintf(out, "%s%-22s %-9s %-7s %-8s %s%s\n", p.bold, "exercise", "build", "tests", "race",
            "points", p.off);
    json_array_foreach(results, i, ex) {
        print_row(out, ex, &p);
        score += num(ex, "score");
        max += num(ex, "max_score");
        if (result_full_marks(ex))
            done++;
        else if (!first_short)
            first_short = ex;
    }
    fprintf(out, "%sScore: %.1f/%g%s  (%d of %zu exercises at full marks", p.bold, score, max,
            p.off, done, json_array_size(results));
    if (first_short)
        fprintf(out, "; next: %s)\n", str(first_short, "id"));
    else
        fprintf(out, ")\n");
    /* Say which results were reused: the student should know nothing ran. */
    print_flagged(out, results, "cached", "Unchanged since they were last graded, not run again:");
    print_flagged(out, results, "reused", "The same file as one graded before, result reused:");
    json_array_foreach(results, i, ex)
        if (!strcmp(str(ex, "build"), "warnings"))
            print_warnings(out, ex, &p);
    if (first_short)
        print_details(out, first_short, &p);
}
