/* cache.c - see cache.h. */
#define _GNU_SOURCE
#include "cache.h"

#include "digest.h"
#include "results.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cache_key(const struct grade_opts *g, const struct exercise *ex, const char *grader)
{
    struct digest *d = digest_start();
    char *tests = xasprintf("%s/tests/%s", g->kit, ex->id);
    char *exercise = xasprintf("%s/exercises/%s", g->kit, ex->id);
    char *student = xasprintf("%s/%s/%s", g->submission, ex->id, ex->student_file);
    char checks[2] = { (char)('0' + g->checks), g->first_failure ? 'F' : '-' };
    char *supp = xasprintf("%s/grader/helgrind.supp", g->kit);
    char *wrap = xasprintf("%s/grader/runner/noise.wrap", g->kit);
    int rc = digest_file(d, "grader", grader, 1) | digest_file(d, "supp", supp, 1) |
             digest_file(d, "wrap", wrap, 1) |
             digest_file(d, "runner", g->runner_lib, 1) | digest_folder(d, tests, "") |
             digest_folder(d, exercise, ".h");
    digest_file(d, "student", student, 0);
    digest_bytes(d, checks, sizeof checks);
    free(tests), free(exercise), free(student), free(supp), free(wrap);
    char *key = digest_finish(d);
    if (rc != 0) {
        free(key);
        return NULL;
    }
    return key;
}

static char *cache_path(const char *cache, const char *id)
{
    return xasprintf("%s/%s.json", cache, id);
}

json_t *cache_get(const char *cache, const char *id, const char *key)
{
    char *path = cache_path(cache, id);
    json_t *entry = json_load_file(path, 0, NULL);
    free(path);
    const char *stored = json_string_value(json_object_get(entry, "key"));
    json_t *result = json_object_get(entry, "result");
    if (!stored || strcmp(stored, key) != 0 || !json_is_object(result)) {
        json_decref(entry);
        return NULL;
    }
    json_incref(result);
    json_decref(entry);
    json_object_set_new(result, "cached", json_true());
    return result;
}

json_t *cache_last(const char *cache, const char *id)
{
    char *path = cache_path(cache, id);
    json_t *entry = json_load_file(path, 0, NULL);
    free(path);
    json_t *result = json_object_get(entry, "result");
    if (json_is_object(result))
        json_incref(result);
    else
        result = NULL;
    json_decref(entry);
    return result;
}

void cache_put(const char *cache, const char *id, const char *key, json_t *result)
{
    char *path = cache_path(cache, id);
    char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());   /* writers may race */
    json_t *entry = json_pack("{s:s, s:O}", "key", key, "result", result);
    if (mkdir_p(cache) == 0 && entry && json_dump_file(entry, tmp, JSON_COMPACT) == 0)
        rename(tmp, path);
    json_decref(entry);
    free(path), free(tmp);
}

json_t *cache_shared_get(const char *shared, const char *key)
{
    json_t *res = cache_get(shared, key, key);
    if (res) {
        json_object_del(res, "cached");
        json_object_set_new(res, "reused", json_true());
    }
    return res;
}

void cache_shared_put(const char *shared, const char *key, json_t *result)
{
    cache_put(shared, key, key, result);
}

json_t *cache_current(const struct grade_opts *g, const struct exercise *ex, const char *grader)
{
    struct grade_opts all = *g;
    all.checks = CHECKS_ALL;
    char *key = cache_key(&all, ex, grader);
    json_t *res = key ? cache_get(g->cache, ex->id, key) : NULL;
    free(key);
    return res;
}

int cache_passing(const struct grade_opts *g, char **ids, const char *grader, char **next)
{
    int passing = 0;
    *next = NULL;
    for (char **id = ids; *id; id++) {
        struct exercise ex;
        char *err = NULL;
        if (manifest_load(g->kit, *id, &ex, &err) != 0) {
            free(err);
            continue;
        }
        json_t *res = cache_current(g, &ex, grader);
        if (result_full_marks(res))
            passing++;
        else if (!*next)
            *next = xstrdup(*id);
        json_decref(res);
        manifest_free(&ex);
    }
    return passing;
}
