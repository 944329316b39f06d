/* manifest.c - reads exercise manifests (JSON, with jansson) and READMEs. */
#define _GNU_SOURCE
#include "manifest.h"

#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for what a manifest leaves out. */
enum { DEFAULT_TIMEOUT_S = 5, DEFAULT_RACE_TIMEOUT_S = 30, DEFAULT_NOISE_RUNS = 2 };

size_t strv_len(char **v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static char **strv_push(char **v, size_t *n, char *s)
{
    v = xrealloc(v, (*n + 2) * sizeof *v);
    v[(*n)++] = s;
    v[*n] = NULL;
    return v;
}

static int fail(char **err, char *msg)
{
    *err = msg;
    return -1;
}

/* A manifest number: seconds or points; must be positive when present. */
static int get_number(json_t *root, const char *key, double dflt, double *out)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v) || json_number_value(v) < 0)
        return -1;
    *out = json_number_value(v);
    return 0;
}

int manifest_load(const char *kit, const char *id, struct exercise *ex, char **err)
{
    *ex = (struct exercise){ .id = xstrdup(id) };
    char *path = xasprintf("%s/tests/%s/exercise.json", kit, id);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    int rc = -1;
    if (!root) {
        fail(err, xasprintf("%s:%d: %s", path, jerr.line, jerr.text));
        goto out;
    }
    const char *title = json_string_value(json_object_get(root, "title"));
    const char *file = json_string_value(json_object_get(root, "student_file"));
    double timeout_s, race_timeout_s, noise_runs;
    if (!title || !file || strchr(file, '/') || !strstr(file, ".c")) {
        fail(err, xasprintf("%s: needs \"title\" and \"student_file\" (NAME.c)", path));
        goto out;
    }
    if (get_number(root, "points", 10, &ex->points) ||
        get_number(root, "race_points", 2, &ex->race_points) ||
        get_number(root, "timeout_s", DEFAULT_TIMEOUT_S, &timeout_s) ||
        get_number(root, "race_timeout_s", DEFAULT_RACE_TIMEOUT_S, &race_timeout_s) ||
        get_number(root, "noise_runs", DEFAULT_NOISE_RUNS, &noise_runs) ||
        ex->race_points > ex->points) {
        fail(err, xasprintf("%s: a number is negative or race_points > points", path));
        goto out;
    }
    ex->title = xstrdup(title);
    ex->student_file = xstrdup(file);
    ex->timeout_ms = (long)(timeout_s * 1000);
    ex->race_timeout_ms = (long)(race_timeout_s * 1000);
    ex->noise_runs = (int)noise_runs;
    json_t *rc_flag = json_object_get(root, "race_check");
    ex->race_check = !rc_flag || json_is_true(rc_flag);
    if (!ex->race_check)
        ex->race_points = 0;
    json_t *tests = json_object_get(root, "race_tests");
    size_t i;
    if (json_is_array(tests)) {
        size_t n = 0;
        json_t *t;
        ex->race_tests = xcalloc(1, sizeof *ex->race_tests);
        json_array_foreach(tests, i, t)
            if (json_is_string(t))
                ex->race_tests = strv_push(ex->race_tests, &n, xstrdup(json_string_value(t)));
    }
    ex->link_flags = xcalloc(1, sizeof *ex->link_flags);
    size_t nflags = 0;
    json_t *flag;
    json_array_foreach(json_object_get(root, "link_flags"), i, flag)
        if (json_is_string(flag))
            ex->link_flags = strv_push(ex->link_flags, &nflags, xstrdup(json_string_value(flag)));
    char *readme_path = xasprintf("%s/exercises/%s/README.md", kit, id);
    char *readme = read_file(readme_path, NULL);
    ex->hints = hints_parse(readme);
    free(readme);
    free(readme_path);
    rc = 0;
out:
    json_decref(root);
    free(path);
    if (rc != 0)
        manifest_free(ex);
    return rc;
}

void manifest_free(struct exercise *ex)
{
    free(ex->id);
    free(ex->title);
    free(ex->student_file);
    strv_free(ex->race_tests);
    strv_free(ex->hints);
    strv_free(ex->link_flags);
    *ex = (struct exercise){ 0 };
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **catalogue_ids(const char *kit)
{
    char *dir = xasprintf("%s/tests", kit);
    DIR *d = opendir(dir);
    char **ids = xcalloc(1, sizeof *ids);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char *m = xasprintf("%s/%s/exercise.json", dir, e->d_name);
        if (is_file(m))
            ids = strv_push(ids, &n, xstrdup(e->d_name));
        free(m);
    }
    if (d)
        closedir(d);
    free(dir);
    qsort(ids, n, sizeof *ids, cmp_str);
    return ids;
}

char *catalogue_find(char **ids, const char *wanted)
{
    char *found = NULL;
    size_t wl = strlen(wanted);
    for (char **p = ids; *p; p++) {
        if (strcmp(*p, wanted) == 0)
            return *p;
        /* "04" names "04-race-counter": a prefix ending at a dash. */
        if (strncmp(*p, wanted, wl) == 0 && (*p)[wl] == '-') {
            if (found)
                return NULL;
            found = *p;
        }
    }
    return found;
}

struct hint_scan {
    bool in_hints;
    char **hints;
    size_t n;
};

static void scan_hint_line(const char *line, size_t len, void *arg)
{
    struct hint_scan *h = arg;
    if (len >= 3 && strncmp(line, "## ", 3) == 0) {
        h->in_hints = len == 8 && strncmp(line, "## Hints", 8) == 0;
        return;
    }
    if (!h->in_hints)
        return;
    size_t i = 0;
    while (i < len && isdigit((unsigned char)line[i]))
        i++;
    if (i == 0 || i + 1 >= len || line[i] != '.' || line[i + 1] != ' ')
        return;
    h->hints = strv_push(h->hints, &h->n, strndup(line + i + 2, len - i - 2));
}

char **hints_parse(const char *readme)
{
    struct hint_scan h = { .hints = xcalloc(1, sizeof(char *)) };
    for_each_line(readme, scan_hint_line, &h);
    return h.hints;
}
