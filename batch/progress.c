/* progress.c - see progress.h. */
#define _GNU_SOURCE
#include "progress.h"

#include "util.h"

#include <unistd.h>

enum { BAR_WIDTH = 30 };

static void draw(struct progress *p)
{
    int filled = p->total ? p->done * BAR_WIDTH / p->total : BAR_WIDTH;
    fprintf(p->out, "\r\033[K[");
    for (int i = 0; i < BAR_WIDTH; i++)
        fputc(i < filled ? '#' : ' ', p->out);
    fprintf(p->out, "] %d/%d graded, %d below full marks, %d errors", p->done, p->total,
            p->below, p->errors);
    if (p->done && p->done < p->total) {
        long left_s = (now_ms() - p->start_ms) * (p->total - p->done) / p->done / 1000;
        fprintf(p->out, ", about %ld:%02ld left", left_s / 60, left_s % 60);
    }
    fflush(p->out);
}

void progress_start(struct progress *p, FILE *out, int total)
{
    *p = (struct progress){ .out = out, .tty = isatty(fileno(out)), .total = total,
                            .start_ms = now_ms() };
    if (p->tty)
        draw(p);
}

void progress_step(struct progress *p, const char *line, bool below, bool error)
{
    p->done++;
    p->below += below;
    p->errors += error;
    if (p->tty)
        draw(p);
    else
        fprintf(p->out, "[%d/%d] %s\n", p->done, p->total, line);
}

void progress_end(struct progress *p)
{
    if (p->tty)
        fputc('\n', p->out);
    fflush(p->out);
}
