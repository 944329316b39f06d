/* classreport.c - see classreport.h. */
#define _GNU_SOURCE
#include "classreport.h"

#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BINS = 10, TOP_FAILURES = 10, BAR_W = 400, ROW_H = 22 };

struct exercise_stats {
    int graded, full, race_caught;
};

struct failure {
    char *name;   /* as results.json names the test */
    int count;
};

struct stats {
    int graded;
    int bins[BINS];
    struct exercise_stats *ex;
    struct failure *fails;
    int nfails;
};

static void html(struct strbuf *sb, const char *s)   /* escaped text */
{
    for (; *s; s++) {
        switch (*s) {
        case '<': sb_puts(sb, "&lt;"); break;
        case '>': sb_puts(sb, "&gt;"); break;
        case '&': sb_puts(sb, "&amp;"); break;
        case '"': sb_puts(sb, "&quot;"); break;
        default: sb_add(sb, s, 1);
        }
    }
}

static int exercise_index(const struct exercise *exs, int nex, const char *id)
{
    for (int i = 0; id && i < nex; i++)
        if (strcmp(exs[i].id, id) == 0)
            return i;
    return -1;
}

static void count_failure(struct stats *st, const char *test)
{
    char *name = xstrdup(test);
    for (int i = 0; i < st->nfails; i++)
        if (strcmp(st->fails[i].name, name) == 0) {
            st->fails[i].count++;
            free(name);
            return;
        }
    st->fails = xrealloc(st->fails, (size_t)(st->nfails + 1) * sizeof *st->fails);
    st->fails[st->nfails++] = (struct failure){ name, 1 };
}

/* Adds one student's results.json; -1 if it cannot be read. */
static int add_student(struct stats *st, const struct exercise *exs, int nex, const char *path,
                       double max)
{
    json_t *root = json_load_file(path, 0, NULL);
    json_t *tests = root ? json_object_get(root, "tests") : NULL;
    if (!json_is_array(tests)) {
        json_decref(root);
        return -1;
    }
    double total = 0;
    /* per exercise: 1 points lost, 2 the build failed, 4 the race check failed */
    int *lost = xcalloc((size_t)nex, sizeof *lost);
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t) {
        json_t *tags = json_object_get(t, "tags");
        const char *id = json_string_value(json_array_get(tags, 0));
        const char *kind = json_string_value(json_array_get(tags, 1));
        int k = exercise_index(exs, nex, id);
        if (k < 0)
            continue;
        double score = json_number_value(json_object_get(t, "score"));
        total += score;
        if (json_string_value(json_object_get(t, "status")) &&
            strcmp(json_string_value(json_object_get(t, "status")), "passed") != 0) {
            const char *name = json_string_value(json_object_get(t, "name"));
            count_failure(st, name ? name : "?");
            lost[k] |= 1 | (kind && strcmp(kind, "build") == 0 ? 2 : 0) |
                       (kind && strcmp(kind, "race") == 0 ? 4 : 0);
        }
    }
    for (int k = 0; k < nex; k++) {
        st->ex[k].graded++;
        st->ex[k].full += !lost[k];
        st->ex[k].race_caught += (lost[k] & 6) == 4;   /* it built, and raced */
    }
    int bin = max > 0 ? (int)(total / max * BINS) : 0;
    st->bins[bin >= BINS ? BINS - 1 : bin < 0 ? 0 : bin]++;
    st->graded++;
    free(lost);
    json_decref(root);
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const struct failure *x = a, *y = b;
    return x->count != y->count ? y->count - x->count : strcmp(x->name, y->name);
}

/* A bar chart as inline SVG: one labelled horizontal bar per row. */
static void bars(struct strbuf *sb, const char *title, char **labels, const int *values,
                 const int *of, int rows)
{
    int label_w = 180, h = rows * ROW_H + 10;
    sb_printf(sb, "<svg role=\"img\" aria-label=\"%s\" width=\"%d\" height=\"%d\" "
                  "xmlns=\"http://www.w3.org/2000/svg\">\n", title, label_w + BAR_W + 90, h);
    for (int r = 0; r < rows; r++) {
        int y = r * ROW_H + 5;
        int w = of[r] > 0 ? values[r] * BAR_W / of[r] : 0;
        sb_printf(sb, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 6, y + 15);
        html(sb, labels[r]);
        sb_printf(sb, "</text><rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                      "<text x=\"%d\" y=\"%d\">%d / %d</text>\n",
                  label_w, y, w, ROW_H - 6, label_w + w + 6, y + 15, values[r], of[r]);
    }
    sb_puts(sb, "</svg>\n");
}

static void page(struct strbuf *sb, const struct stats *st, const struct exercise *exs, int nex,
                 const struct class_member *m, int n, double max)
{
    sb_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<title>Class report</title>\n<style>\n"
                "body{font-family:sans-serif;margin:2em;max-width:60em}\n"
                "svg text{font-size:13px} .bar{fill:#4a7fb5}\n"
                "table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.2em .6em}\n"
                "</style></head><body>\n<h1>Class report</h1>\n");
    sb_printf(sb, "<p id=\"summary\">%d students, %d graded, %d not graded; %d exercise%s, "
                  "%g points in all.</p>\n", n, st->graded, n - st->graded, nex,
              nex == 1 ? "" : "s", max);

    sb_puts(sb, "<h2>Total scores</h2>\n");
    char *labels[BINS];
    int of[BINS], values[BINS];
    for (int b = 0; b < BINS; b++) {
        labels[b] = xasprintf("%g%% to %s%g%%", 100.0 * b / BINS, b == BINS - 1 ? "" : "under ",
                              100.0 * (b + 1) / BINS);
        values[b] = st->bins[b];
        of[b] = st->graded;
    }
    bars(sb, "distribution of total scores", labels, values, of, BINS);
    for (int b = 0; b < BINS; b++)
        free(labels[b]);

    sb_puts(sb, "<h2>Students at full marks, per exercise</h2>\n");
    char **ids = xcalloc((size_t)nex + 1, sizeof *ids);
    int *full = xcalloc((size_t)nex + 1, sizeof *full), *graded = xcalloc((size_t)nex + 1, sizeof *graded);
    for (int k = 0; k < nex; k++)
        ids[k] = exs[k].id, full[k] = st->ex[k].full, graded[k] = st->ex[k].graded;
    bars(sb, "pass rate per exercise", ids, full, graded, nex);

    sb_puts(sb, "<h2>Caught by the race check, per exercise</h2>\n<p>Students whose file built "
                "and the race check then failed.</p>\n<table><tr><th>exercise</th>"
                "<th>students</th></tr>\n");
    for (int k = 0; k < nex; k++)
        if (exs[k].race_check)
            sb_printf(sb, "<tr><td>%s</td><td>%d</td></tr>\n", exs[k].id, st->ex[k].race_caught);
    sb_puts(sb, "</table>\n");

    sb_printf(sb, "<h2>Tests failed most often</h2>\n<table><tr><th>test</th><th>students</th>"
                  "</tr>\n");
    for (int i = 0; i < st->nfails && i < TOP_FAILURES; i++) {
        sb_puts(sb, "<tr><td>");
        html(sb, st->fails[i].name);
        sb_printf(sb, "</td><td>%d</td></tr>\n", st->fails[i].count);
    }
    sb_puts(sb, "</table>\n<h2>Not graded</h2>\n<ul id=\"not-graded\">\n");
    for (int i = 0; i < n; i++)
        if (!m[i].results) {
            sb_puts(sb, "<li>");
            html(sb, m[i].name);
            sb_puts(sb, ": ");
            html(sb, m[i].why ? m[i].why : "not graded");
            sb_puts(sb, "</li>\n");
        }
    if (st->graded == n)
        sb_puts(sb, "<li>nobody: every student was graded</li>\n");
    sb_puts(sb, "</ul>\n</body></html>\n");
    free(ids), free(full), free(graded);
}

int classreport_write(const char *path, const struct exercise *exs, int nex,
                      const struct class_member *m, int n)
{
    struct stats st = { .ex = xcalloc((size_t)nex + 1, sizeof *st.ex) };
    double max = 0;
    for (int k = 0; k < nex; k++)
        max += exs[k].points;
    for (int i = 0; i < n; i++)
        if (m[i].results)
            add_student(&st, exs, nex, m[i].results, max);
    if (st.nfails)
        qsort(st.fails, (size_t)st.nfails, sizeof *st.fails, by_count);
    struct strbuf sb = { 0 };
    page(&sb, &st, exs, nex, m, n, max);
    char *tmp = xasprintf("%s.tmp", path);
    int rc = write_file(tmp, sb.buf, sb.len);
    if (rc == 0)
        rc = rename(tmp, path);
    free(tmp);
    free(sb.buf);
    for (int i = 0; i < st.nfails; i++)
        free(st.fails[i].name);
    free(st.fails);
    free(st.ex);
    return rc;
}
