/* coach.h - the student's loop, besides grading: where am I (list), a nudge
 * (hint), a fresh start (reset). Each command prints for the student and
 * returns the process's exit status. */
#ifndef KIT_COACH_H
#define KIT_COACH_H

#include <stdbool.h>

struct coach_opts {
    const char *kit;          /* absolute */
    const char *submission;   /* the student's exercises/ */
    const char *scratch;      /* the grader's scratch folder (its cache/ is read) */
    const char *runner_lib;
    const char *grader;       /* the grader binary: it is part of the cache's key */
    const char *state;        /* where the coach keeps what it has shown */
    bool yes;                 /* reset without asking */
};

/* The course map: each exercise's state and points, and what is next. */
int coach_list(const struct coach_opts *o);

/* The first exercise, in course order from `from` (NULL: the first), whose
 * last grading is not a pass of its current file; NULL when all pass. */
char *coach_unfinished(const struct coach_opts *o, const char *from);

/* Grades the current exercise, then again each time its file is saved,
 * moving on when it passes; `id` NULL: the first unfinished one. */
int coach_watch(const struct coach_opts *o, const char *id);

/* The next hint for exercise `id` not shown yet (gentle to strong). */
int coach_hint(const struct coach_opts *o, const char *id);

/* Puts the original stub back, after asking, keeping the student's file. */
int coach_reset(const struct coach_opts *o, const char *id);

#endif /* KIT_COACH_H */
