/* build.c - see build.h. */
#define _GNU_SOURCE
#include "build.h"

#include "proc.h"
#include "symbols.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KIT_CC
#define KIT_CC "gcc"
#endif
#ifndef KIT_TEST_LIBS   /* set by the Makefile from pkg-config */
#define KIT_TEST_LIBS "-lcunit -ljansson"
#endif

enum {
    MAX_STUDENT_BYTES = 1024 * 1024,
    COMPILE_TIMEOUT_MS = 20 * 1000,
    MAX_ARGS = 64,
};

/* Refuses what is not a plain, reasonable C file; NULL when acceptable. */
static char *check_student_file(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return xasprintf("%s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return xasprintf("%s is a symbolic link: submit the file itself", path);
    if (!S_ISREG(st.st_mode))
        return xasprintf("%s is not a regular file", path);
    if (st.st_size > MAX_STUDENT_BYTES)
        return xasprintf("%s is %lld bytes: more than the %d allowed", path,
                         (long long)st.st_size, MAX_STUDENT_BYTES);
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return xasprintf("%s: %s", path, strerror(errno));
    bool has_nul = memchr(text, '\0', len) != NULL;
    free(text);
    return has_nul ? xasprintf("%s contains NUL bytes: not a C source file", path) : NULL;
}

static int copy_file(const char *from, const char *to)
{
    size_t len;
    char *data = read_file(from, &len);
    if (!data)
        return -1;
    int rc = write_file(to, data, len);
    free(data);
    return rc;
}

/* Copies the kit's headers of the exercise into dst. */
static int copy_headers(const char *kit, const char *id, const char *dst)
{
    char *dir = xasprintf("%s/exercises/%s", kit, id);
    DIR *d = opendir(dir);
    int rc = d ? 0 : -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
            continue;
        char *from = xasprintf("%s/%s", dir, e->d_name);
        char *to = xasprintf("%s/%s", dst, e->d_name);
        rc |= copy_file(from, to);
        free(from);
        free(to);
    }
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

struct rewrite {
    const char *name, *display;
    struct strbuf out;
};

/* "counter.c:14:5: error" -> "exercises/04-race-counter/counter.c:14:5: error" */
static void rewrite_line(const char *line, size_t len, void *arg)
{
    struct rewrite *rw = arg;
    size_t n = strlen(rw->name);
    if (len > n && strncmp(line, rw->name, n) == 0 && line[n] == ':') {
        sb_puts(&rw->out, rw->display);
        line += n;
        len -= n;
    }
    sb_add(&rw->out, line, len);
    sb_puts(&rw->out, "\n");
}

/* Runs the compiler in the scratch source folder; 0 when it succeeded. The
 * compiler's messages are appended to *msgs. `student`: the command reads the
 * student's file (which may #include anything), so it runs in the jail. */
static int run_cc(const struct build_ctx *ctx, char **argv, bool student, struct strbuf *msgs)
{
    char *src = xasprintf("%s/src", ctx->scratch);
    struct jail jail = { .sb = ctx->sb, .dir = src, .dir_writable = true,
                         .lim = jail_limits_for(COMPILE_TIMEOUT_MS, JAIL_NATIVE) };
    struct proc_spec spec = { .argv = argv, .cwd = src, .timeout_ms = COMPILE_TIMEOUT_MS,
                              .grace_ms = 500, .cpu = -1, .jail = student ? &jail : NULL };
    struct proc_result res;
    int rc = -1;
    if (proc_run(&spec, &res) != 0) {
        sb_printf(msgs, "cannot run %s: %s\n", argv[0], strerror(errno));
        goto out;
    }
    struct rewrite rw = { ctx->ex->student_file, ctx->student_path, { 0 } };
    for_each_line(res.output, rewrite_line, &rw);
    if (rw.out.len)
        sb_puts(msgs, rw.out.buf);
    free(rw.out.buf);
    if (res.timed_out)
        sb_printf(msgs, "the compiler was stopped after %d s\n", COMPILE_TIMEOUT_MS / 1000);
    else if (WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0)
        rc = 0;
    proc_result_free(&res);
out:
    free(src);
    return rc;
}

/* How one variant of the test binary is compiled. */
struct variant {
    const char *suffix;       /* of object and binary names */
    const char *cflags[3];    /* optimisation and instrumentation, NULL-ended */
    bool noise;               /* link the schedule-noise wrappers */
    bool own_ctors;           /* the compiler adds constructors (sanitizers) */
};

static const struct variant PLAIN = { "", { "-O0", NULL }, true, false };
/* -O0 like the plain build, so both tools name the same lines. */
static const struct variant TSAN = { "-tsan", { "-fsanitize=thread", "-O0", NULL }, false, true };

/* An argument vector under construction. */
struct args {
    char *v[MAX_ARGS];
    int n;
};

static void args_add(struct args *a, const char *s)
{
    if (a->n < MAX_ARGS - 1)
        a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void args_compile(struct args *a, const struct variant *var)
{
    static const char *const flags[] = { KIT_CC, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                                         "-pthread", "-g", "-fdiagnostics-color=never",
                                         "-fmax-errors=10", NULL };
    for (const char *const *f = flags; *f; f++)
        args_add(a, *f);
    for (const char *const *f = var->cflags; *f; f++)
        args_add(a, *f);
}

/* The tests to compile: test_NAME.c, or, when the instructor keeps hidden
 * tests in hidden_NAME.c (left out of the student handout), a file in the
 * scratch folder that includes both, so that the hidden tests may use the
 * public file's helpers. NULL if that file cannot be written. */
static char *tests_source(const struct build_ctx *ctx)
{
    char *pub = xasprintf("%s/tests/%s/test_%s", ctx->kit, ctx->ex->id, ctx->ex->student_file);
    char *hidden = xasprintf("%s/tests/%s/hidden_%s", ctx->kit, ctx->ex->id, ctx->ex->student_file);
    if (!is_file(hidden)) {
        free(hidden);
        return pub;
    }
    char *both = xasprintf("%s/all-tests.c", ctx->scratch);
    char *text = xasprintf("#include \"%s\"\n#include \"%s\"\n", pub, hidden);
    if (write_file(both, text, strlen(text)) != 0) {
        free(both);
        both = NULL;
    }
    free(text), free(pub), free(hidden);
    return both;
}

/* Compiles the student file and the tests as `var` and links them into `out`.
 * 0 on success; compiler messages are appended to *msgs. */
static int compile_and_link(const struct build_ctx *ctx, const struct variant *var,
                            const char *out, struct strbuf *msgs)
{
    char *obj = xasprintf("student%s.o", var->suffix);
    char *tobj = xasprintf("tests%s.o", var->suffix);
    char *tsrc = tests_source(ctx);
    char *runner_inc = xasprintf("-I%s/grader/runner", ctx->kit);
    char *wrap = xasprintf("@%s/grader/runner/noise.wrap", ctx->kit);
    char *libs = xstrdup(KIT_TEST_LIBS);
    struct args student = { 0 }, tests = { 0 }, link = { 0 };
    int rc = -1;

    args_compile(&student, var);
    args_add(&student, "-c");
    args_add(&student, ctx->ex->student_file);
    args_add(&student, "-o");
    args_add(&student, obj);
    if (run_cc(ctx, student.v, true, msgs) != 0)
        goto out;

    if (!tsrc) {
        sb_printf(msgs, "cannot write %s/all-tests.c: %s\n", ctx->scratch, strerror(errno));
        goto out;
    }
    args_compile(&tests, var);
    args_add(&tests, "-iquote");
    args_add(&tests, ".");
    args_add(&tests, runner_inc);
    args_add(&tests, "-c");
    args_add(&tests, tsrc);
    args_add(&tests, "-o");
    args_add(&tests, tobj);
    if (run_cc(ctx, tests.v, false, msgs) != 0 || symbols_confine(ctx, obj, tobj, !var->own_ctors, msgs) != 0)
        goto out;

    args_compile(&link, var);
    args_add(&link, obj);
    args_add(&link, tobj);
    args_add(&link, ctx->runner_lib);
    if (var->noise)
        args_add(&link, wrap);
    for (char **f = ctx->ex->link_flags; f && *f; f++)
        args_add(&link, *f);
    for (char *tok = strtok(libs, " "); tok; tok = strtok(NULL, " "))
        args_add(&link, tok);
    args_add(&link, "-o");
    args_add(&link, out);
    rc = run_cc(ctx, link.v, false, msgs);
out:
    free(obj);
    free(tobj);
    free(tsrc);
    free(runner_inc);
    free(wrap);
    free(libs);
    return rc;
}

void build_tests(const struct build_ctx *ctx, struct build_result *res)
{
    *res = (struct build_result){ .state = BUILD_FAILED };
    char *src = xasprintf("%s/src", ctx->scratch);
    char *copy = xasprintf("%s/%s", src, ctx->ex->student_file);
    char *binary = xasprintf("%s/tests", ctx->scratch);
    struct strbuf msgs = { 0 };

    remove_tree(ctx->scratch);
    if (access(ctx->student_path, F_OK) != 0) {
        res->state = BUILD_MISSING;
        sb_printf(&msgs, "%s is missing: nothing to grade\n", ctx->student_path);
        goto out;
    }
    char *refused = check_student_file(ctx->student_path);
    if (refused) {
        sb_printf(&msgs, "%s\n", refused);
        free(refused);
        goto out;
    }
    if (mkdir_p(src) != 0 || copy_headers(ctx->kit, ctx->ex->id, src) != 0 ||
        copy_file(ctx->student_path, copy) != 0 || sandbox_give(ctx->sb, src) != 0) {
        sb_printf(&msgs, "cannot prepare %s: %s\n", src, strerror(errno));
        goto out;
    }
    if (compile_and_link(ctx, &PLAIN, binary, &msgs) == 0) {
        res->state = msgs.len ? BUILD_WARNINGS : BUILD_OK;
        res->binary = xstrdup(binary);
    }
out:
    res->messages = sb_steal(&msgs);
    free(src);
    free(copy);
    free(binary);
}

char *build_tsan(const struct build_ctx *ctx, char **why)
{
    char *binary = xasprintf("%s/tests-tsan", ctx->scratch);
    struct strbuf msgs = { 0 };
    if (compile_and_link(ctx, &TSAN, binary, &msgs) != 0) {
        *why = sb_steal(&msgs);
        free(binary);
        return NULL;
    }
    free(msgs.buf);
    *why = NULL;
    return binary;
}

void build_result_free(struct build_result *res)
{
    free(res->messages);
    free(res->binary);
    *res = (struct build_result){ 0 };
}
