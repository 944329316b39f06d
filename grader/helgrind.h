/* helgrind.h - run tests under valgrind's helgrind and read its XML.
 *
 * Valgrind writes one XML document per process (--xml-file=...%p.xml), so the
 * reports of forked children are read as well. Each error keeps its kind,
 * its headline, and its stacks, each with the line that introduces it. */
#ifndef KIT_HELGRIND_H
#define KIT_HELGRIND_H

#include <stdbool.h>

struct hg_frame {
    char *fn, *file;   /* either may be NULL (no debug information) */
    int line;
};

struct hg_stack {
    char *label;       /* the text before it: the headline for the first */
    int thread;        /* helgrind's thread number named with it; 0 if none */
    struct hg_frame *frames;
    int nframes;
};

struct hg_error {
    char *kind;        /* "Race", "LockOrder", "Misc", "UnlockUnlocked", ... */
    struct hg_stack *stacks;
    int nstacks;
};

struct hg_report {
    struct hg_error *errors;
    int nerrors;
    int nfiles;        /* XML documents read */
    bool truncated;    /* some document was incomplete (process killed) */
};

/* Parses one XML document and appends its errors; -1 if unreadable. */
int hg_parse_file(const char *path, struct hg_report *rep);

/* Parses every "*.xml" file in dir. */
void hg_parse_dir(const char *dir, struct hg_report *rep);

void hg_report_free(struct hg_report *rep);

/* The first frame whose file is `file` (basename); NULL if none. */
const struct hg_frame *hg_frame_in(const struct hg_stack *st, const char *file);

#endif /* KIT_HELGRIND_H */
