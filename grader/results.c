/* results.c - see results.h. */
#define _GNU_SOURCE
#include "results.h"

#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

json_t *results_load(const char *scratch, char **ids)
{
    json_t *all = json_array();
    for (char **id = ids; *id; id++) {
        char *path = xasprintf("%s/%s/result.json", scratch, *id);
        json_error_t err;
        json_t *one = json_load_file(path, 0, &err);
        if (!one) {
            fprintf(stderr, "grader: %s: %s\n", path, err.text);
            free(path);
            json_decref(all);
            return NULL;
        }
        json_array_append_new(all, one);
        free(path);
    }
    return all;
}

json_t *results_gradescope(json_t *results, double elapsed_s)
{
    json_t *tests = json_array(), *ex, *t;
    double score = 0;
    size_t i, j;
    json_array_foreach(results, i, ex) {
        json_array_foreach(json_object_get(ex, "tests"), j, t)
            json_array_append(tests, t);
        score += json_number_value(json_object_get(ex, "score"));
    }
    return json_pack("{s:f, s:f, s:o}", "score", round(score * 10000) / 10000,
                     "execution_time", round(elapsed_s * 100) / 100, "tests", tests);
}

int results_write(const char *path, json_t *results, double elapsed_s)
{
    json_t *doc = results_gradescope(results, elapsed_s);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return -1;
    struct strbuf sb = { 0 };
    sb_puts(&sb, text);
    sb_puts(&sb, "\n");
    free(text);
    int rc = write_file(path, sb.buf, sb.len);
    free(sb.buf);
    return rc;
}

bool result_full_marks(json_t *exercise_result)
{
    return json_is_object(exercise_result) &&
           json_number_value(json_object_get(exercise_result, "score")) >=
               json_number_value(json_object_get(exercise_result, "max_score")) - 1e-9;
}

bool results_full_marks(json_t *results)
{
    json_t *ex;
    size_t i;
    json_array_foreach(results, i, ex)
        if (!result_full_marks(ex))
            return false;
    return true;
}
