/* fingerprint.c - see fingerprint.h. */
#define _GNU_SOURCE
#include "fingerprint.h"

#include "digest.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

char *fingerprint_kit(const char *kit, const char *grader, const char *runner_lib, char **ids)
{
    struct digest *d = digest_start();
    int rc = digest_file(d, "grader", grader, 1) | digest_file(d, "runner", runner_lib, 1);
    for (char **id = ids; *id; id++) {
        char *tests = xasprintf("%s/tests/%s", kit, *id);
        char *exercise = xasprintf("%s/exercises/%s", kit, *id);
        digest_bytes(d, *id, strlen(*id) + 1);
        /* The headers only: the stubs and READMEs do not change a grade. */
        rc |= digest_folder(d, tests, "") | digest_folder(d, exercise, ".h");
        free(tests);
        free(exercise);
    }
    char *hex = digest_finish(d);
    if (rc != 0) {
        free(hex);
        return NULL;
    }
    return hex;
}

char *fingerprint_student(const char *kit_fp, const char *root, const struct exercise *exs,
                          int nex)
{
    struct digest *d = digest_start();
    digest_bytes(d, kit_fp, strlen(kit_fp) + 1);
    for (int i = 0; i < nex; i++) {
        char *p = xasprintf("%s/%s/%s", root, exs[i].id, exs[i].student_file);
        digest_file(d, exs[i].id, p, 0);
        free(p);
    }
    return digest_finish(d);
}
