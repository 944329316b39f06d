/* stub.c - see stub.h. */
#define _GNU_SOURCE
#include "stub.h"

#include "proc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *stub_original(const char *kit, const struct exercise *ex, size_t *len)
{
    char *kept = xasprintf("%s/.stubs/%s/%s", kit, ex->id, ex->student_file);
    char *text = read_file(kept, len);
    free(kept);
    if (text)
        return text;
    /* A clone of the repository: the committed version. */
    char *object = xasprintf("HEAD:exercises/%s/%s", ex->id, ex->student_file);
    char *argv[] = { "git", "-C", (char *)kit, "show", object, NULL };
    struct proc_spec spec = { .argv = argv, .timeout_ms = 10000, .grace_ms = 500, .cpu = -1,
                              .output_cap = 4 << 20 };
    struct proc_result res;
    if (proc_run(&spec, &res) == 0 && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0) {
        text = res.output;
        res.output = NULL;
        *len = strlen(text);
    }
    proc_result_free(&res);
    free(object);
    return text;
}
