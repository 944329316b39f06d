/* tsan.c - see tsan.h. */
#define _GNU_SOURCE
#include "tsan.h"

#include "util.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    const char *file;
    struct tsan_report *rep;
    bool in_race;          /* inside a "data race" warning */
    int access;            /* index of the access being read, -1 if none */
    struct tsan_race cur;
};

static void finish_race(struct parse *p)
{
    bool ours = p->cur.access[0].file || p->cur.access[1].file;
    if (p->in_race && p->access >= 0 && ours) {
        p->rep->races = xrealloc(p->rep->races, (size_t)(p->rep->nraces + 1) * sizeof *p->rep->races);
        p->rep->races[p->rep->nraces++] = p->cur;
    } else {
        for (int i = 0; i < 2; i++) {
            free(p->cur.access[i].what);
            free(p->cur.access[i].thread);
            free(p->cur.access[i].locks);
            free(p->cur.access[i].file);
        }
    }
    p->cur = (struct tsan_race){ 0 };
    p->access = -1;
}

/* "  Write of size 8 at 0x7b04 by thread T2 (mutexes: write M1):" */
static void parse_access(struct parse *p, const char *line)
{
    const char *at = strstr(line, " at 0x");
    const char *by = strstr(line, " by ");
    if (!at || !by || p->access >= 1)
        return;
    struct tsan_access *a = &p->cur.access[++p->access];
    const char *start = line + strspn(line, " ");
    a->what = strndup(start, (size_t)(at - start));
    by += 4;
    if (strncmp(by, "thread ", 7) == 0)
        by += 7;
    const char *end = strpbrk(by, " :");
    a->thread = strndup(by, end ? (size_t)(end - by) : strlen(by));
    const char *mx = strstr(line, "(mutexes: ");
    if (mx) {
        mx += 10;
        const char *close = strchr(mx, ')');
        a->locks = strndup(mx, close ? (size_t)(close - mx) : strlen(mx));
    }
}

/* "    #0 fn /path/counter.c:14 (bin+0x11df)" */
static void parse_frame(struct parse *p, const char *line)
{
    if (p->access < 0 || p->cur.access[p->access].file)
        return;
    const char *sp = strchr(line + strspn(line, " ") + 1, ' ');   /* after "#0" */
    sp = sp ? strchr(sp + 1, ' ') : NULL;                        /* after fn */
    if (!sp)
        return;
    const char *path = sp + 1, *colon = strchr(path, ':');
    if (!colon)
        return;
    const char *slash = memrchr(path, '/', (size_t)(colon - path));
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(p->file);
    if ((size_t)(colon - base) == n && strncmp(base, p->file, n) == 0) {
        p->cur.access[p->access].file = xstrdup(p->file);
        p->cur.access[p->access].line = atoi(colon + 1);
    }
}

static void parse_line(const char *text, size_t len, void *arg)
{
    struct parse *p = arg;
    char *line = strndup(text, len);
    if (strstr(line, "WARNING: ThreadSanitizer: ")) {
        finish_race(p);
        p->in_race = strstr(line, "ThreadSanitizer: data race") != NULL;
    } else if (strncmp(line, "SUMMARY: ", 9) == 0 || strncmp(line, "==================", 18) == 0) {
        finish_race(p);
        p->in_race = false;
    } else if (p->in_race && strncmp(line, "    #", 5) == 0) {
        parse_frame(p, line);
    } else if (p->in_race && strncmp(line, "  ", 2) == 0 && line[2] != ' ' &&
               strstr(line, " of size ")) {
        parse_access(p, line);
    }
    free(line);
}

void tsan_parse(const char *log, const char *file, struct tsan_report *rep)
{
    struct parse p = { .file = file, .rep = rep, .access = -1 };
    for_each_line(log, parse_line, &p);
    finish_race(&p);
}

void tsan_parse_dir(const char *dir, const char *file, struct tsan_report *rep)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "tsan.", 5) != 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        char *log = read_file(path, NULL);
        if (log)
            tsan_parse(log, file, rep);
        free(log);
        free(path);
    }
    if (d)
        closedir(d);
}

void tsan_report_free(struct tsan_report *rep)
{
    for (int r = 0; r < rep->nraces; r++)
        for (int i = 0; i < 2; i++) {
            free(rep->races[r].access[i].what);
            free(rep->races[r].access[i].thread);
            free(rep->races[r].access[i].locks);
            free(rep->races[r].access[i].file);
        }
    free(rep->races);
    *rep = (struct tsan_report){ 0 };
}
