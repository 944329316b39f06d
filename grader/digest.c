/* digest.c - see digest.h. */
#define _GNU_SOURCE
#include "digest.h"

#include "util.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct digest {
    EVP_MD_CTX *md;
};

struct digest *digest_start(void)
{
    struct digest *d = xmalloc(sizeof *d);
    d->md = EVP_MD_CTX_new();
    if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
        abort();
    return d;
}

void digest_bytes(struct digest *d, const void *data, size_t len)
{
    EVP_DigestUpdate(d->md, data, len);
}

int digest_file(struct digest *d, const char *label, const char *path, int required)
{
    struct stat st;
    size_t len = 0;
    bool exists = lstat(path, &st) == 0;
    char *data = exists && S_ISREG(st.st_mode) ? read_file(path, &len) : NULL;
    if (!data && required)
        return -1;
    digest_bytes(d, label, strlen(label) + 1);
    if (data)
        digest_bytes(d, data, len);
    digest_bytes(d, data ? "+" : exists ? "!" : "-", 1);   /* "!": there, but not a plain file */
    free(data);
    return 0;
}

static bool ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int digest_folder(struct digest *d, const char *dir, const char *suffix)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return -1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        char *p = xasprintf("%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && ends_with(e->d_name, suffix) && is_file(p)) {
            names = xrealloc(names, (n + 1) * sizeof *names);
            names[n++] = xstrdup(e->d_name);
        }
        free(p);
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, by_string);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", dir, names[i]);
        rc |= digest_file(d, names[i], p, 1);
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

char *digest_finish(struct digest *d)
{
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(d->md, sum, &len);
    EVP_MD_CTX_free(d->md);
    free(d);
    char *hex = xmalloc(2 * len + 1);
    for (unsigned int i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02x", sum[i]);
    hex[2 * len] = '\0';
    return hex;
}
