/* grades.c - see grades.h. */
#define _GNU_SOURCE
#include "grades.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int grades_read(const char *results_json, char **ids, double *points)
{
    int nids = 0;
    while (ids[nids])
        points[nids++] = 0;
    json_t *root = json_load_file(results_json, 0, NULL);
    json_t *tests = root ? json_object_get(root, "tests") : NULL;
    if (!json_is_array(tests)) {
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t) {
        const char *id = json_string_value(json_array_get(json_object_get(t, "tags"), 0));
        for (int k = 0; id && k < nids; k++)
            if (strcmp(id, ids[k]) == 0)
                points[k] += json_number_value(json_object_get(t, "score"));
    }
    json_decref(root);
    return 0;
}

void grades_format(double points, char buf[32])
{
    snprintf(buf, 32, "%.2f", points + 0.0);   /* + 0.0: never "-0.00" */
    char *end = buf + strlen(buf);
    while (end[-1] == '0')
        *--end = '\0';
    if (end[-1] == '.')
        end[-1] = '\0';
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int grades_write_csv(const char *path, char **ids, const struct student *s, int n,
                     double *const *rows)
{
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(tmp);
        return -1;
    }
    fputs("student", f);
    for (char **id = ids; *id; id++)
        fprintf(f, ",%s", *id);
    fputs(",total\n", f);
    char num[32];
    for (int i = 0; i < n; i++) {
        double total = 0;
        put_field(f, s[i].name);
        for (int k = 0; ids[k]; k++) {
            double p = rows[i] ? rows[i][k] : 0;
            total += p;
            grades_format(p, num);
            fprintf(f, ",%s", num);
        }
        grades_format(total, num);
        fprintf(f, ",%s\n", num);
    }
    int rc = ferror(f) | fclose(f);
    if (rc == 0)
        rc = rename(tmp, path);
    else
        remove(tmp);
    free(tmp);
    return rc ? -1 : 0;
}
