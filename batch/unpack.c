/* unpack.c - see unpack.h. Uses libarchive to read; writes each entry itself,
 * so nothing but plain files and folders can ever be created. */
#define _GNU_SOURCE
#include "unpack.h"

#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A path that stays inside the folder: relative, no ".." component. */
static bool stays_inside(const char *path)
{
    if (!*path || path[0] == '/')
        return false;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += len;
        p += *p == '/';
    }
    return true;
}

static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

/* Copies the entry's data into a new file; -1 with *why on failure. */
static int write_entry(struct archive *a, const char *to, long long *total, char **why)
{
    int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        *why = errno == EEXIST ? xstrdup("a file appears twice in it")
                               : xasprintf("cannot write a file from it: %s", strerror(errno));
        return -1;
    }
    char buf[65536];
    la_ssize_t got;
    int rc = 0;
    while (rc == 0 && (got = archive_read_data(a, buf, sizeof buf)) != 0) {
        if (got < 0) {
            *why = xasprintf("it is damaged: %s", archive_error_string(a));
            rc = -1;
        } else if ((*total += got) > UNPACK_MAX_BYTES) {
            *why = xasprintf("it unpacks to more than %d MiB", UNPACK_MAX_BYTES >> 20);
            rc = -1;
        } else if (write(fd, buf, (size_t)got) != got) {
            *why = xasprintf("cannot write a file from it: %s", strerror(errno));
            rc = -1;
        }
    }
    close(fd);
    return rc;
}

/* Checks and writes one entry under dir; -1 with *why if it is refused. */
static int take_entry(struct archive *a, struct archive_entry *e, const char *dir,
                      long long *total, char **why)
{
    const char *name = archive_entry_pathname(e);
    mode_t type = archive_entry_filetype(e);
    if (!name || !stays_inside(name)) {
        *why = xasprintf("\"%s\" would land outside its folder", name ? name : "(no name)");
        return -1;
    }
    if (archive_entry_hardlink(e) || archive_entry_symlink(e) || (type != AE_IFREG && type != AE_IFDIR)) {
        *why = xasprintf("\"%s\" is a link or a special file: only plain files and folders "
                         "are accepted", name);
        return -1;
    }
    char *to = xasprintf("%s/%s", dir, name);
    int rc;
    if (type == AE_IFDIR) {
        rc = mkdir_p(to);
    } else {
        char *parent = parent_of(to);
        rc = mkdir_p(parent) == 0 ? write_entry(a, to, total, why) : -1;
        free(parent);
    }
    if (rc != 0 && !*why)
        *why = xasprintf("cannot unpack \"%s\": %s", name, strerror(errno));
    free(to);
    return rc;
}

int unpack_archive(const char *archive, const char *dir, char **why)
{
    *why = NULL;
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    int rc = -1;
    if (mkdir(dir, 0755) != 0) {
        *why = xasprintf("cannot create %s: %s", dir, strerror(errno));
        archive_read_free(a);
        return -1;
    }
    if (archive_read_open_filename(a, archive, 65536) != ARCHIVE_OK) {
        *why = xasprintf("it cannot be read: %s", archive_error_string(a));
        goto out;
    }
    long long total = 0;
    int entries = 0, r;
    struct archive_entry *e;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        if (++entries > UNPACK_MAX_ENTRIES) {
            *why = xasprintf("it holds more than %d files", UNPACK_MAX_ENTRIES);
            goto out;
        }
        if (take_entry(a, e, dir, &total, why) != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF)
        *why = xasprintf("it is damaged: %s", archive_error_string(a));
    else
        rc = 0;
out:
    archive_read_free(a);
    if (rc != 0)
        remove_tree(dir);
    return rc;
}
