/* helgrind.c - see helgrind.h. Parsing uses libxml2's tree API. */
#define _GNU_SOURCE
#include "helgrind.h"

#include "util.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is(c, name))
            return c;
    return NULL;
}

/* The text of an element, or NULL. */
static char *text_of(const xmlNode *n)
{
    if (!n)
        return NULL;
    xmlChar *s = xmlNodeGetContent(n);
    char *r = xstrdup((const char *)s);
    xmlFree(s);
    return r;
}

static int int_of(const xmlNode *n)
{
    char *s = text_of(n);
    int v = s ? atoi(s) : 0;
    free(s);
    return v;
}

static void parse_stack(const xmlNode *n, struct hg_stack *st)
{
    for (const xmlNode *f = n->children; f; f = f->next) {
        if (!is(f, "frame"))
            continue;
        st->frames = xrealloc(st->frames, (size_t)(st->nframes + 1) * sizeof *st->frames);
        st->frames[st->nframes++] = (struct hg_frame){ text_of(child(f, "fn")),
                                                      text_of(child(f, "file")),
                                                      int_of(child(f, "line")) };
    }
}

/* A label: <what>/<auxwhat> text, or <xwhat>/<xauxwhat> with text and thread. */
static bool label_of(const xmlNode *n, char **label, int *thread)
{
    if (is(n, "what") || is(n, "auxwhat")) {
        *label = text_of(n);
        *thread = 0;
        return true;
    }
    if (is(n, "xwhat") || is(n, "xauxwhat")) {
        *label = text_of(child(n, "text"));
        *thread = int_of(child(n, "hthreadid"));
        return true;
    }
    return false;
}

static void parse_error(const xmlNode *n, struct hg_error *e)
{
    char *label = NULL;
    int thread = 0;
    e->kind = text_of(child(n, "kind"));
    for (const xmlNode *c = n->children; c; c = c->next) {
        char *l;
        int t;
        if (label_of(c, &l, &t)) {
            free(label);
            label = l;
            thread = t;
        } else if (is(c, "stack")) {
            e->stacks = xrealloc(e->stacks, (size_t)(e->nstacks + 1) * sizeof *e->stacks);
            struct hg_stack *st = &e->stacks[e->nstacks++];
            *st = (struct hg_stack){ label ? label : xstrdup(""), thread, NULL, 0 };
            label = NULL;
            thread = 0;
            parse_stack(c, st);
        }
    }
    if (label) {   /* a trailing label without a stack ("Address ... is inside") */
        e->stacks = xrealloc(e->stacks, (size_t)(e->nstacks + 1) * sizeof *e->stacks);
        e->stacks[e->nstacks++] = (struct hg_stack){ label, thread, NULL, 0 };
    }
}

int hg_parse_file(const char *path, struct hg_report *rep)
{
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_RECOVER | XML_PARSE_NONET |
                                          XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return -1;
    const xmlNode *root = xmlDocGetRootElement(doc);
    rep->nfiles++;
    if (!root || !child(root, "errorcounts"))
        rep->truncated = true;   /* valgrind writes the counts last */
    for (const xmlNode *c = root ? root->children : NULL; c; c = c->next) {
        if (!is(c, "error"))
            continue;
        rep->errors = xrealloc(rep->errors, (size_t)(rep->nerrors + 1) * sizeof *rep->errors);
        struct hg_error *e = &rep->errors[rep->nerrors++];
        *e = (struct hg_error){ 0 };
        parse_error(c, e);
    }
    xmlFreeDoc(doc);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void hg_parse_dir(const char *dir, struct hg_report *rep)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".xml") == 0) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xasprintf("%s/%s", dir, e->d_name);
        }
    }
    if (d)
        closedir(d);
    /* Sorted, so that reports come in the same order on every run. */
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (hg_parse_file(names[i], rep) != 0)
            rep->truncated = true;
        free(names[i]);
    }
    free(names);
}

void hg_report_free(struct hg_report *rep)
{
    for (int i = 0; i < rep->nerrors; i++) {
        struct hg_error *e = &rep->errors[i];
        for (int s = 0; s < e->nstacks; s++) {
            for (int f = 0; f < e->stacks[s].nframes; f++) {
                free(e->stacks[s].frames[f].fn);
                free(e->stacks[s].frames[f].file);
            }
            free(e->stacks[s].frames);
            free(e->stacks[s].label);
        }
        free(e->stacks);
        free(e->kind);
    }
    free(rep->errors);
    *rep = (struct hg_report){ 0 };
}

const struct hg_frame *hg_frame_in(const struct hg_stack *st, const char *file)
{
    for (int i = 0; i < st->nframes; i++)
        if (st->frames[i].file && strcmp(st->frames[i].file, file) == 0)
            return &st->frames[i];
    return NULL;
}
