/* symbols.c - see symbols.h. */
#define _GNU_SOURCE
#include "symbols.h"

#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { TOOL_TIMEOUT_MS = 20 * 1000, TOOL_OUTPUT_CAP = 4 * 1024 * 1024 };

/* Runs a binutils command on the objects in ctx->scratch/src, in the jail;
 * its output, or NULL (with the reason in *msgs) if it failed. */
static char *run_tool(const struct build_ctx *ctx, char **argv, struct strbuf *msgs)
{
    char *src = xasprintf("%s/src", ctx->scratch);
    struct jail jail = { .sb = ctx->sb, .dir = src, .dir_writable = true,
                         .lim = jail_limits_for(TOOL_TIMEOUT_MS, JAIL_NATIVE) };
    struct proc_spec spec = { .argv = argv, .jail = &jail, .timeout_ms = TOOL_TIMEOUT_MS,
                              .grace_ms = 200, .output_cap = TOOL_OUTPUT_CAP, .cpu = -1 };
    struct proc_result res;
    char *out = NULL;
    if (proc_run(&spec, &res) != 0) {
        sb_printf(msgs, "cannot run %s: %s\n", argv[0], strerror(errno));
    } else if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
        char *how = proc_describe(res.status);
        sb_printf(msgs, "%s %s:\n%s", argv[0], how, res.output);
        free(how);
    } else {
        out = res.output;
        res.output = NULL;
    }
    proc_result_free(&res);
    free(src);
    return out;
}

struct names {
    struct strbuf list;   /* "\nname\nname\n": whole-line search with strstr */
};

static bool names_has(const struct names *n, const char *name)
{
    if (!n->list.buf)
        return false;
    char *key = xasprintf("\n%s\n", name);
    bool has = strstr(n->list.buf, key) != NULL;
    free(key);
    return has;
}

/* From `nm -P` lines "name type [value size]": the names whose type is in
 * `types`. */
static void nm_names(const char *nm_out, const char *types, struct names *out)
{
    sb_puts(&out->list, "\n");
    for (const char *line = nm_out; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *sp = memchr(line, ' ', len);
        if (sp && sp + 1 < line + len && strchr(types, sp[1])) {
            sb_add(&out->list, line, (size_t)(sp - line));
            sb_puts(&out->list, "\n");
        }
        line += len + (end ? 1 : 0);
    }
}

static bool framework_name(const char *name)
{
    static const char *const prefixes[] = { "CU_", "kit_", "__wrap_", "__real_", NULL };
    if (strcmp(name, "main") == 0)
        return true;
    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(name, *p, strlen(*p)) == 0)
            return true;
    return false;
}

/* Code the student object would run before main or after exit. */
static const char *early_code(const char *sections, const char *nm_out)
{
    static const char *const kinds[] = { "INIT_ARRAY", "FINI_ARRAY", "PREINIT_ARRAY",
                                         " .ctors", " .dtors", NULL };
    for (const char *const *k = kinds; *k; k++)
        if (strstr(sections, *k))
            return "constructor or destructor functions (__attribute__((constructor)) or "
                   "((destructor)))";
    for (const char *l = nm_out; (l = strstr(l, " i ")); l++)
        return "an ifunc resolver (__attribute__((ifunc)))";
    return NULL;
}

int symbols_confine(const struct build_ctx *ctx, const char *student_obj, const char *tests_obj,
                    bool early_check, struct strbuf *msgs)
{
    char *nm_student[] = { "nm", "-P", "--defined-only", (char *)student_obj, NULL };
    char *nm_tests[] = { "nm", "-P", "--undefined-only", (char *)tests_obj, NULL };
    char *readelf[] = { "readelf", "-SW", (char *)student_obj, NULL };
    char *defined = run_tool(ctx, nm_student, msgs);
    char *needed = defined ? run_tool(ctx, nm_tests, msgs) : NULL;
    char *sections = needed ? run_tool(ctx, readelf, msgs) : NULL;
    struct names globals = { 0 }, used = { 0 };
    int rc = -1;
    if (!sections)
        goto out;
    const char *early = early_check ? early_code(sections, defined) : NULL;
    if (early) {
        sb_printf(msgs, "%s: %s are not allowed: no code of yours may run before the tests "
                        "start or after they end. Initialise in the functions of the API "
                        "(pthread_once, or PTHREAD_MUTEX_INITIALIZER for a static mutex).\n",
                  ctx->student_path, early);
        goto out;
    }
    nm_names(defined, "TDBRCGSVWui", &globals);
    nm_names(needed, "U", &used);

    /* The API the tests use stays global; everything else becomes private. */
    struct strbuf keep = { 0 };
    for (char *name = strtok(globals.list.buf, "\n"); name; name = strtok(NULL, "\n")) {
        if (framework_name(name))
            sb_printf(msgs, "%s: your %s() is not used: the tests bring their own (it stays "
                            "private to your file)\n", ctx->student_path, name);
        else if (names_has(&used, name))
            sb_printf(&keep, "%s\n", name);
    }
    char *keep_path = xasprintf("%s/src/%s.keep", ctx->scratch, student_obj);
    char *keep_arg = xasprintf("--keep-global-symbols=%s.keep", student_obj);
    char *objcopy[] = { "objcopy", keep_arg, (char *)student_obj, NULL };
    if (write_file(keep_path, keep.buf ? keep.buf : "", keep.len) != 0) {
        sb_printf(msgs, "cannot write %s: %s\n", keep_path, strerror(errno));
    } else {
        char *out = run_tool(ctx, objcopy, msgs);
        rc = out ? 0 : -1;
        free(out);
    }
    free(keep.buf);
    free(keep_path);
    free(keep_arg);
out:
    free(globals.list.buf);
    free(used.list.buf);
    free(defined);
    free(needed);
    free(sections);
    return rc;
}
