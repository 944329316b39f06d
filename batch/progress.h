/* progress.h - how far a batch is: a bar redrawn in place on a terminal,
 * plain lines otherwise (logs, CI). */
#ifndef KIT_PROGRESS_H
#define KIT_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

struct progress {
    FILE *out;
    bool tty;
    int total, done, below, errors;   /* below: not at full marks */
    long start_ms;
};

void progress_start(struct progress *p, FILE *out, int total);

/* One student finished: `line` says who and how (printed as is when not on
 * a terminal). */
void progress_step(struct progress *p, const char *line, bool below, bool error);

/* Ends the bar's line on a terminal. */
void progress_end(struct progress *p);

#endif /* KIT_PROGRESS_H */
