/* reset.c - make reset: the original stub back, the student's work kept.
 *
 * The student's file is first copied to NAME.c.backup-YYYYMMDD-HHMMSS beside
 * it (the grader reads NAME.c only), then replaced. Asks first unless told
 * yes; with no terminal to ask, does nothing. */
#define _GNU_SOURCE
#include "coach.h"

#include "manifest.h"
#include "stub.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool confirmed(const char *file, const char *backup)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty) {
        fprintf(stderr, "No terminal to ask on: run make reset with FORCE=1 to reset %s\n", file);
        return false;
    }
    fprintf(tty, "Put the original stub back in %s? Your file is kept as %s. [y/N] ", file,
            backup);
    fflush(tty);
    char answer[16] = "";
    bool yes = fgets(answer, sizeof answer, tty) && (answer[0] == 'y' || answer[0] == 'Y');
    fclose(tty);
    return yes;
}

int coach_reset(const struct coach_opts *o, const char *id)
{
    struct exercise ex;
    char *err;
    if (manifest_load(o->kit, id, &ex, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int rc = 2;
    size_t len = 0, mine_len = 0;
    char *stub = stub_original(o->kit, &ex, &len);
    char *dir = xasprintf("%s/%s", o->submission, ex.id);
    char *file = xasprintf("%s/%s", dir, ex.student_file);
    char *mine = read_file(file, &mine_len);
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    char *backup = xasprintf("%s.backup-%s", file, stamp);
    if (!stub) {
        fprintf(stderr, "There is no original of %s in this copy of the kit (no .stubs/ folder, "
                        "no git history)\n", file);
    } else if (mine && mine_len == len && memcmp(mine, stub, len) == 0) {
        printf("%s is the original stub already: nothing to do\n", file);
        rc = 0;
    } else if (!o->yes && !confirmed(file, backup)) {
        printf("%s left as it was\n", file);
        rc = 1;
    } else if (mine && write_file(backup, mine, mine_len) != 0) {
        fprintf(stderr, "cannot write %s: nothing changed\n", backup);
    } else if (mkdir_p(dir) != 0 || write_file(file, stub, len) != 0) {
        fprintf(stderr, "cannot write %s\n", file);
    } else {
        printf("%s is the original stub again%s%s\n", file, mine ? "; your version: " : "",
               mine ? backup : "");
        rc = 0;
    }
    free(stub), free(dir), free(file), free(mine), free(backup);
    manifest_free(&ex);
    return rc;
}
