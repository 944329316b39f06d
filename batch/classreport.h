/* classreport.h - report.html: the class at a glance.
 *
 * One self-contained page (inline SVG, no script, nothing fetched): the
 * distribution of total scores, each exercise's pass rate, the tests failed
 * most often, how many students the race check caught per exercise, and the
 * students who could not be graded. */
#ifndef KIT_CLASSREPORT_H
#define KIT_CLASSREPORT_H

#include "manifest.h"

struct class_member {
    const char *name;
    const char *results;   /* results.json; NULL if the student was not graded */
    const char *why;       /* when not graded: the reason */
};

/* Writes the page to path (through a temporary file). 0, or -1 with errno. */
int classreport_write(const char *path, const struct exercise *exs, int nex,
                      const struct class_member *m, int n);

#endif /* KIT_CLASSREPORT_H */
