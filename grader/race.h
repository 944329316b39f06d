/* race.h - the race check: data races, lock-order violations and pthread
 * misuse in the student's file.
 *
 * Helgrind runs the exercise's race tests (KIT_MODE=race: light workloads).
 * Its reports are sorted:
 *   - a report with no frame in the student's file is not the student's;
 *   - "dubious: associated lock is not held" on a condition variable signal is
 *     legal POSIX (signal after unlock), and glibc 2.36 triggers it itself;
 *   - a lock-order report whose later acquisition was a trylock or timedlock
 *     cannot deadlock (that is how back-off works);
 *   - a data race is reported only if ThreadSanitizer, which models C11
 *     atomics and sem_timedwait, confirms a race in the student's file when
 *     running the same tests (up to three runs, pinned to one CPU);
 *   - everything else (lock order, unlocking a lock not held, destroying a
 *     held lock, ...) is reported as helgrind says it.
 * A helgrind run that times out fails the check (a deadlock under helgrind). */
#ifndef KIT_RACE_H
#define KIT_RACE_H

#include "build.h"
#include "helgrind.h"
#include "util.h"

#include <stdbool.h>

enum race_state { RACE_CLEAN, RACE_FOUND, RACE_TIMEOUT, RACE_ERROR };

struct race_result {
    enum race_state state;
    char *message;     /* for the student: one line per distinct problem */
    char *notes;       /* what was dismissed and why ("" if nothing) */
    long helgrind_ms;
    long tsan_ms;      /* 0 unless helgrind reported races */
};

/* test_names: the tests to run when the manifest does not choose. */
void race_check(const struct build_ctx *ctx, const char *binary, char **test_names,
                struct race_result *res);
void race_result_free(struct race_result *res);

/* A helgrind report sorted for one student file (exposed for the kit's tests). */
struct race_line {
    char *text;        /* "counter.c:14: write by thread #3 races with ..." */
    char *key;         /* the same without thread numbers, to drop repeats */
    int lines[2];      /* the student's lines involved; 0 if none */
};

struct race_sorted {
    struct strbuf found;        /* problems to report, one line each, unique */
    struct strbuf notes;        /* what was dismissed, and why */
    struct race_line *races;    /* data races awaiting confirmation, unique */
    int nraces;
};

/* `file` is the student file's name, `display` the path the student knows. */
void race_sort_helgrind(const struct hg_report *rep, const char *file, const char *display,
                        struct race_sorted *out);
void race_sorted_free(struct race_sorted *s);

#endif /* KIT_RACE_H */
