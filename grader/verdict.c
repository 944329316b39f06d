/* verdict.c - see verdict.h. */
#define _GNU_SOURCE
#include "verdict.h"

#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

char *verdict_token_env(char token[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        abort();
    for (int i = 0; i < 16; i++)
        sprintf(token + 2 * i, "%02x", raw[i]);
    return xasprintf("KIT_TOKEN=%s", token);
}

struct find {
    const char *token, *test;
    json_t *found;   /* the last matching record */
};

static void match_line(const char *line, size_t len, void *arg)
{
    struct find *f = arg;
    json_t *rec = json_loadb(line, len, 0, NULL);
    const char *tok = json_string_value(json_object_get(rec, "token"));
    const char *test = json_string_value(json_object_get(rec, "test"));
    bool wanted = tok && strcmp(tok, f->token) == 0 &&
                  (f->test ? test && strcmp(test, f->test) == 0 : json_object_get(rec, "list") != NULL);
    if (wanted) {
        json_decref(f->found);
        f->found = rec;
    } else {
        json_decref(rec);
    }
}

char **verdict_list(const char *channel, const char *token)
{
    struct find f = { token, NULL, NULL };
    for_each_line(channel, match_line, &f);
    if (!f.found)
        return NULL;
    json_t *list = json_object_get(f.found, "list");
    char **names = xcalloc(json_array_size(list) + 1, sizeof *names);
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(list, i, v)
        if (json_is_string(v))
            names[n++] = xstrdup(json_string_value(v));
    json_decref(f.found);
    return names;
}

/* "/kit/tests/04-x/test_counter.c" -> "test_counter.c" */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool verdict_find(const char *channel, const char *token, const char *test,
                  bool *ok, char **why)
{
    struct find f = { token, test, NULL };
    for_each_line(channel, match_line, &f);
    if (!f.found)
        return false;
    *ok = json_is_true(json_object_get(f.found, "ok"));
    struct strbuf sb = { 0 };
    const char *error = json_string_value(json_object_get(f.found, "error"));
    if (error)
        sb_printf(&sb, "the test could not run: %s\n", error);
    size_t i;
    json_t *fl;
    json_array_foreach(json_object_get(f.found, "failures"), i, fl) {
        const char *file = json_string_value(json_object_get(fl, "file"));
        sb_printf(&sb, "%s:%lld: %s\n", base_name(file ? file : "?"),
                  json_integer_value(json_object_get(fl, "line")),
                  json_string_value(json_object_get(fl, "message")));
    }
    if (!*ok && sb.len == 0)
        sb_puts(&sb, "the test failed\n");
    *why = sb_steal(&sb);
    json_decref(f.found);
    return true;
}
