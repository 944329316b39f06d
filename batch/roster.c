/* roster.c - see roster.h. */
#define _GNU_SOURCE
#include "roster.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const archive_ext[] = { ".tar.gz", ".tgz", ".zip", NULL };

/* The length of name without an archive extension; 0 if it has none. */
static size_t archive_stem(const char *name)
{
    size_t len = strlen(name);
    for (const char *const *e = archive_ext; *e; e++) {
        size_t el = strlen(*e);
        if (len > el && strcmp(name + len - el, *e) == 0)
            return len - el;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct student *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)x->archive - (int)y->archive;
}

struct student *roster_read(const char *dir, int *n, struct strbuf *skipped)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct student *s = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        size_t stem = archive_stem(e->d_name);
        if (lstat(path, &st) != 0 || !(S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && stem))) {
            sb_printf(skipped, "%s: neither a folder nor a .zip, .tar.gz or .tgz archive\n",
                      e->d_name);
            free(path);
            continue;
        }
        s = xrealloc(s, (size_t)(count + 1) * sizeof *s);
        s[count++] = (struct student){
            .name = S_ISDIR(st.st_mode) ? xstrdup(e->d_name) : xstrndup(e->d_name, stem),
            .path = path, .archive = !S_ISDIR(st.st_mode) };
    }
    closedir(d);
    if (count)
        qsort(s, (size_t)count, sizeof *s, by_name);
    /* A folder and an archive with one name: which one counts is a guess. */
    for (int i = 1; i < count; i++)
        if (strcmp(s[i].name, s[i - 1].name) == 0) {
            s[i].problem = xstrdup("handed in twice (a folder and an archive, or two "
                                   "archives): keep one");
            if (!s[i - 1].problem)
                s[i - 1].problem = xstrdup(s[i].problem);
        }
    *n = count;
    return s ? s : xcalloc(1, sizeof *s);
}

void roster_free(struct student *s, int n)
{
    for (int i = 0; i < n; i++)
        free(s[i].name), free(s[i].path), free(s[i].problem);
    free(s);
}

static bool holds_an_exercise(const char *dir, char **ids)
{
    for (char **id = ids; *id; id++) {
        char *p = xasprintf("%s/%s", dir, *id);
        bool yes = is_dir(p);
        free(p);
        if (yes)
            return true;
    }
    return false;
}

/* The only visible folder in dir (macOS's __MACOSX aside); NULL if not one. */
static char *only_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *found = NULL;
    int folders = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "__MACOSX") == 0)
            continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && ++folders == 1) {
            found = p;
            continue;
        }
        free(p);
    }
    closedir(d);
    if (folders != 1) {
        free(found);
        return NULL;
    }
    return found;
}

char *roster_submission_root(const char *root, char **ids)
{
    char *at = xstrdup(root);
    for (int depth = 0; depth < 2 && !holds_an_exercise(at, ids); depth++) {
        char *inner = only_folder(at);
        if (!inner)
            break;
        free(at);
        at = inner;
    }
    if (!holds_an_exercise(at, ids)) {   /* nothing handed in: say so from the top */
        free(at);
        at = xstrdup(root);
    }
    return at;
}
