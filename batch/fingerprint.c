/* fingerprint.c - see fingerprint.h. SHA-256 from OpenSSL's libcrypto. */
#define _GNU_SOURCE
#include "fingerprint.h"

#include "util.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Adds a name and what it holds: the file's bytes, or a mark for "absent". */
static int add_file(EVP_MD_CTX *md, const char *label, const char *path, int required)
{
    size_t len = 0;
    char *data = read_file(path, &len);
    if (!data && required)
        return -1;
    EVP_DigestUpdate(md, label, strlen(label) + 1);
    if (data)
        EVP_DigestUpdate(md, data, len);
    EVP_DigestUpdate(md, data ? "+" : "-", 1);
    free(data);
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

/* The plain files of one folder whose names end in `suffix` ("" for all), not
 * its sub-folders, sorted. */
static int add_folder(EVP_MD_CTX *md, const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *p = xasprintf("%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && ends_with(e->d_name, suffix) && is_file(p)) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xstrdup(e->d_name);
        }
        free(p);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_string);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", dir, names[i]);
        rc |= add_file(md, names[i], p, 1);
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

static char *finish(EVP_MD_CTX *md)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, sum, &len);
    EVP_MD_CTX_free(md);
    char *hex = xmalloc(2 * len + 1);
    for (unsigned int i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", sum[i]);
    hex[2 * len] = '\0';
    return hex;
}

static EVP_MD_CTX *start(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();
    return md;
}

char *fingerprint_kit(const char *kit, const char *grader, const char *runner_lib, char **ids)
{
    EVP_MD_CTX *md = start();
    int rc = add_file(md, "grader", grader, 1) | add_file(md, "runner", runner_lib, 1);
    for (char **id = ids; *id; id++) {
        char *tests = xasprintf("%s/tests/%s", kit, *id);
        char *exercise = xasprintf("%s/exercises/%s", kit, *id);
        EVP_DigestUpdate(md, *id, strlen(*id) + 1);
        /* The headers only: the stubs and READMEs do not change a grade. */
        rc |= add_folder(md, tests, "") | add_folder(md, exercise, ".h");
        free(tests);
        free(exercise);
    }
    char *hex = finish(md);
    if (rc != 0) {
        free(hex);
        return NULL;
    }
    return hex;
}

char *fingerprint_student(const char *kit_fp, const char *root, const struct exercise *exs,
                          int nex)
{
    EVP_MD_CTX *md = start();
    EVP_DigestUpdate(md, kit_fp, strlen(kit_fp) + 1);
    for (int i = 0; i < nex; i++) {
        char *p = xasprintf("%s/%s/%s", root, exs[i].id, exs[i].student_file);
        struct stat st;
        if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode))   /* the grader refuses it */
            EVP_DigestUpdate(md, "not a plain file", 17);
        else
            add_file(md, exs[i].id, p, 0);
        free(p);
    }
    return finish(md);
}
