/* roster.h - who handed something in: the students of a batch.
 *
 * A submissions folder holds one entry per student: a folder laid out like
 * exercises/ (ID/NAME.c), or one archive (NAME.zip, NAME.tar.gz, NAME.tgz).
 * Hidden entries are skipped; anything else is listed as skipped. */
#ifndef KIT_ROSTER_H
#define KIT_ROSTER_H

#include "util.h"

#include <stdbool.h>

struct student {
    char *name;      /* the folder's name, or the archive's without its extension */
    char *path;      /* the folder or archive in the submissions folder */
    bool archive;
    char *problem;   /* why it cannot be graded at all; NULL if it can */
};

/* The students in dir, sorted by name (byte order, so the same everywhere);
 * NULL with errno if dir cannot be read. Entries that are neither a folder
 * nor an archive are named in *skipped, one per line. */
struct student *roster_read(const char *dir, int *n, struct strbuf *skipped);
void roster_free(struct student *s, int n);

/* The folder that holds the exercise folders: root itself, or the one folder
 * inside it (e.g. "alice/exercises/" or an archive's "lab/"), up to two levels
 * down. Returns a new string. */
char *roster_submission_root(const char *root, char **ids);

#endif /* KIT_ROSTER_H */
