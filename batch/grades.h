/* grades.h - the class's grades: one row per student, one column per
 * exercise, from each student's results.json. */
#ifndef KIT_GRADES_H
#define KIT_GRADES_H

#include "roster.h"

/* Points per exercise from a results.json: points[i] for ids[i] (0 for an
 * exercise it does not mention). 0, or -1 if the file cannot be read. */
int grades_read(const char *results_json, char **ids, double *points);

/* "10", "4.7", "3.33": at most two decimals, no trailing zeros. */
void grades_format(double points, char buf[32]);

/* Writes path (through a temporary file and a rename): a header row
 * "student,ID...,total", then one row per student in roster order; rows[i]
 * NULL gives zeros. 0, or -1 with errno. */
int grades_write_csv(const char *path, char **ids, const struct student *s, int n,
                     double *const *rows);

#endif /* KIT_GRADES_H */
