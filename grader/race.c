/* race.c - see race.h. */
#define _GNU_SOURCE
#include "race.h"

#include "proc.h"
#include "tsan.h"
#include "unit.h"
#include "verdict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { TSAN_ATTEMPTS = 3, TERM_GRACE_MS = 3000, OUTPUT_CAP = 8 * 1024, MAX_PROBLEMS = 8 };

/* Keeps the first `max` lines of text and says how many more there were. */
static char *cap_lines(char *text, int max)
{
    char *p = text;
    for (int i = 0; i < max && p; i++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (!p || !*p)
        return text;
    int more = 0;
    for (char *q = p; *q; q++)
        more += *q == '\n';
    *p = '\0';
    char *capped = xasprintf("%s(and %d more like these)\n", text, more);
    free(text);
    return capped;
}

/* "file.c:14", from the first frame in the student file, else the first frame
 * with a file at all, else "?". */
static char *where(const struct hg_stack *st, const char *file, const char *display, int *line)
{
    const struct hg_frame *f = hg_frame_in(st, file);
    *line = f ? f->line : 0;
    if (f) {
        /* A helper (lock_account) says little alone: name its caller too. */
        const struct hg_frame *caller = NULL;
        for (const struct hg_frame *c = f + 1; c < st->frames + st->nframes && !caller; c++)
            if (c->file && strcmp(c->file, file) == 0)
                caller = c;
        if (caller && f->fn && caller->fn && strcmp(f->fn, caller->fn) != 0)
            return xasprintf("%s:%d (%s, called from line %d)", display, f->line, f->fn, caller->line);
        return xasprintf("%s:%d", display, f->line);
    }
    for (int i = 0; i < st->nframes; i++)
        if (st->frames[i].file)
            return xasprintf("%s:%d", st->frames[i].file, st->frames[i].line);
    return xstrdup("?");
}

/* The word after `after` in a label: "during write of size 8" -> "write". */
static char *word_after(const char *label, const char *after)
{
    const char *p = label ? strstr(label, after) : NULL;
    if (!p)
        return xstrdup("access");
    p += strlen(after);
    return strndup(p, strcspn(p, " "));
}

static bool touches(const struct hg_error *e, const char *file)
{
    for (int s = 0; s < e->nstacks; s++)
        if (hg_frame_in(&e->stacks[s], file))
            return true;
    return false;
}

/* True if the acquisition in this stack was a trylock or timedlock: it gives
 * up instead of waiting, so it cannot close a deadlock cycle. */
static bool gives_up(const struct hg_stack *st, const char *file)
{
    for (int i = 0; i < st->nframes; i++) {
        const char *fn = st->frames[i].fn;
        if (st->frames[i].file && strcmp(st->frames[i].file, file) == 0)
            return false;
        if (fn && (strstr(fn, "pthread_mutex_trylock") || strstr(fn, "pthread_mutex_timedlock") ||
                   strstr(fn, "pthread_mutex_clocklock")))
            return true;
    }
    return false;
}

/* True if, above the first frame in the student file, the stack runs through
 * one of `fns` (substrings of function names): glibc's own code at work. */
static bool inside(const struct hg_stack *st, const char *file, const char *const *fns)
{
    for (int i = 0; i < st->nframes; i++) {
        const struct hg_frame *f = &st->frames[i];
        if (f->file && strcmp(f->file, file) == 0)
            return false;
        for (const char *const *fn = fns; f->fn && *fn; fn++)
            if (strstr(f->fn, *fn))
                return true;
    }
    return false;
}

/* glibc hands a finished thread's stack and thread-local storage to the next
 * pthread_create, in any thread, under a lock helgrind cannot see. */
static const char *const thread_setup[] = { "get_cached_stack", "allocate_stack", "allocate_dtv",
                                            "_dl_allocate_tls", "_dl_deallocate_tls",
                                            "free_stacks", "deallocate_stack", NULL };

/* pthread_cond_wait wakes other waiters itself (a time-out that consumed a
 * signal passes it on) while the mutex is released. */
static const char *const cond_wait[] = { "pthread_cond_wait", "pthread_cond_timedwait",
                                         "pthread_cond_clockwait", "__pthread_cond_wait_common",
                                         NULL };

static const struct hg_stack *stack_labelled(const struct hg_error *e, const char *prefix)
{
    for (int s = 0; s < e->nstacks; s++)
        if (strncmp(e->stacks[s].label, prefix, strlen(prefix)) == 0 && e->stacks[s].nframes)
            return &e->stacks[s];
    return NULL;
}

static void add_unique(struct strbuf *sb, char *line)
{
    if (!sb->buf || !strstr(sb->buf, line)) {
        sb_puts(sb, line);
        sb_puts(sb, "\n");
    }
    free(line);
}

static void sort_race(const struct hg_error *e, const char *file, const char *display,
                      struct race_sorted *out)
{
    const struct hg_stack *now = &e->stacks[0];
    const struct hg_stack *before = stack_labelled(e, "This conflicts with a previous");
    /* Without the other access, the stack that allocated the memory speaks. */
    const struct hg_stack *other = before ? before : e->nstacks > 1 ? &e->stacks[1] : NULL;
    if (inside(now, file, thread_setup) && (!other || inside(other, file, thread_setup))) {
        add_unique(&out->notes, xstrdup("races inside glibc's pthread_create (its cache of "
                                        "thread stacks) were dismissed: glibc orders them "
                                        "with a lock helgrind does not see"));
        return;
    }
    int l1, l2 = 0;
    char *w1 = where(now, file, display, &l1), *a1 = word_after(now->label, "during ");
    char *with, *key;   /* the other access, or what helgrind could not keep of it */
    if (before) {
        char *w2 = where(before, file, display, &l2), *a2 = word_after(before->label, "previous ");
        with = xasprintf("%s at %s by thread #%d", a2, w2, before->thread);
        /* The same pair of accesses between other threads is the same bug. */
        key = xasprintf("%s %s %s %s", w1, a1, a2, w2);
        free(w2), free(a2);
    } else {
        with = xstrdup("an earlier access helgrind did not keep");
        key = xasprintf("%s %s", w1, a1);
    }
    bool seen = false;
    for (int i = 0; i < out->nraces && !seen; i++)
        seen = strcmp(out->races[i].key, key) == 0;
    if (seen) {
        free(key);
    } else {
        out->races = xrealloc(out->races, (size_t)(out->nraces + 1) * sizeof *out->races);
        out->races[out->nraces++] = (struct race_line){
            xasprintf("%s: %s by thread #%d races with %s: no lock or join orders the two "
                      "accesses", w1, a1, now->thread, with),
            key, { l1, l2 } };
    }
    free(w1), free(a1), free(with);
}

static void sort_lock_order(const struct hg_error *e, const char *file, const char *display,
                            struct race_sorted *out)
{
    const struct hg_stack *first = stack_labelled(e, "Required order was established");
    const struct hg_stack *later = stack_labelled(e, "followed by a later acquisition");
    if (gives_up(&e->stacks[0], file) || (later && gives_up(later, file))) {
        add_unique(&out->notes, xstrdup("lock-order reports where the second lock is taken "
                                        "with trylock/timedlock were dismissed: that cannot deadlock"));
        return;
    }
    int l;
    char *w = where(&e->stacks[0], file, display, &l);
    char *w1 = first ? where(first, file, display, &l) : xstrdup("?");
    char *w2 = later ? where(later, file, display, &l) : xstrdup("?");
    /* One line per place, whichever threads met there. */
    char *key = xasprintf("%s: lock order inversion:", w);
    if (!out->found.buf || !strstr(out->found.buf, key))
        add_unique(&out->found, xasprintf("%s thread #%d takes two locks in the opposite order "
                                          "to the one taken at %s then %s: two threads doing "
                                          "both can deadlock", key, e->stacks[0].thread, w1, w2));
    free(key), free(w), free(w1), free(w2);
}

/* "Thread #18: Exiting thread still holds 1 lock" at one place is the same
 * problem whichever thread met it: one line per text and place. */
static void sort_other(const struct hg_error *e, const char *file, const char *display,
                       struct race_sorted *out)
{
    int l;
    const char *label = e->stacks[0].label;
    if (strncmp(label, "Thread #", 8) == 0 && strstr(label, ": "))
        label = strstr(label, ": ") + 2;
    char *w = where(&e->stacks[0], file, display, &l);
    char *key = xasprintf("%s: %s", w, label);
    if (!out->found.buf || !strstr(out->found.buf, key))
        add_unique(&out->found, e->stacks[0].thread
                                    ? xasprintf("%s (thread #%d)", key, e->stacks[0].thread)
                                    : xstrdup(key));
    free(key), free(w);
}

/* "pthread_cond_wait succeeded without prior pthread_cond_post", "sem_wait
 * succeeded on semaphore without prior sem_post": with process-shared objects
 * the post happened in another process, where this helgrind cannot see it. */
static bool woken_by_unseen_post(const char *label)
{
    const char *s = strstr(label, " succeeded ");
    return s && strstr(s, " without prior ");
}

void race_sort_helgrind(const struct hg_report *rep, const char *file, const char *display,
                        struct race_sorted *out)
{
    int elsewhere = 0;
    for (int i = 0; i < rep->nerrors; i++) {
        const struct hg_error *e = &rep->errors[i];
        if (!e->kind || e->nstacks == 0)
            continue;
        if (!touches(e, file)) {
            elsewhere++;
        } else if (strcmp(e->kind, "Race") == 0) {
            sort_race(e, file, display, out);
        } else if (strcmp(e->kind, "LockOrder") == 0) {
            sort_lock_order(e, file, display, out);
        } else if (strstr(e->stacks[0].label, "dubious: associated lock is not held")) {
            add_unique(&out->notes, xstrdup("\"dubious: associated lock is not held\" reports on "
                                            "condition-variable signals were dismissed: POSIX "
                                            "allows signalling after unlocking"));
        } else if (strstr(e->stacks[0].label, "pthread_cond_{signal,broadcast}") &&
                   inside(&e->stacks[0], file, cond_wait)) {
            add_unique(&out->notes, xstrdup("reports on the signal glibc's pthread_cond_wait "
                                            "sends itself (after a time-out) were dismissed: "
                                            "it is not the caller's signal"));
        } else if (woken_by_unseen_post(e->stacks[0].label)) {
            add_unique(&out->notes, xstrdup("reports of waits that \"succeeded without prior "
                                            "post\" were dismissed: helgrind does not see a "
                                            "signal or sem_post made by another process"));
        } else {
            sort_other(e, file, display, out);
        }
    }
    if (elsewhere)
        sb_printf(&out->notes, "%d report(s) that do not involve %s were ignored\n", elsewhere, file);
}

void race_sorted_free(struct race_sorted *s)
{
    for (int i = 0; i < s->nraces; i++)
        free(s->races[i].text), free(s->races[i].key);
    free(s->races);
    free(s->found.buf);
    free(s->notes.buf);
    *s = (struct race_sorted){ 0 };
}

/* Runs the tests with `prefix` (valgrind or nothing) in front; 0 if it ran. */
static int run_tests(const struct build_ctx *ctx, char **prefix, const char *binary,
                     char **names, char *extra_env, int cpu, const char *writable,
                     struct proc_result *res)   /* writable: a sub folder of the scratch */
{
    enum jail_tool tool = prefix[0] ? JAIL_VALGRIND : JAIL_TSAN;
    struct jail jail = unit_jail(ctx, writable, ctx->ex->race_timeout_ms, tool);
    char *out_dir = xasprintf("%s/%s", ctx->scratch, writable);
    char *jailed = unit_jailed_path(binary);
    char token[33];
    char *tok_env = verdict_token_env(token);
    char *env[] = { "KIT_MODE=race", tok_env, extra_env, NULL };
    size_t n = 0, k = 0;
    while (prefix[n])
        n++;
    while (names[k])
        k++;
    char **argv = xcalloc(n + k + 3, sizeof *argv);
    memcpy(argv, prefix, n * sizeof *argv);
    argv[n] = jailed;
    argv[n + 1] = "--run";
    memcpy(argv + n + 2, names, k * sizeof *argv);
    struct proc_spec spec = { .argv = argv, .env = env, .timeout_ms = ctx->ex->race_timeout_ms,
                              .grace_ms = TERM_GRACE_MS, .output_cap = OUTPUT_CAP,
                              .channel = true, .cpu = cpu, .jail = &jail };
    int rc = sandbox_give(ctx->sb, out_dir) == 0 ? proc_run(&spec, res) : -1;
    free(out_dir);
    free(jailed);
    free(argv);
    free(tok_env);
    return rc;
}

/* Runs the TSan build up to TSAN_ATTEMPTS times; the races it confirms. */
static void tsan_confirm(const struct build_ctx *ctx, char **names, struct tsan_report *rep,
                         struct strbuf *notes)
{
    /* Timed by the caller, build included. */
    char *why = NULL;
    char *binary = build_tsan(ctx, &why);
    if (!binary) {
        sb_printf(notes, "ThreadSanitizer build failed, helgrind's race reports stand:\n%s", why);
        free(why);
        rep->nraces = -1;
        return;
    }
    char *no_prefix[] = { NULL };
    for (int attempt = 0; attempt < TSAN_ATTEMPTS && rep->nraces == 0; attempt++) {
        char *sub = xasprintf("tsan-%d", attempt);
        char *dir = xasprintf("%s/%s", ctx->scratch, sub);
        char *opts = xasprintf("TSAN_OPTIONS=log_path=%s/tsan halt_on_error=0 exitcode=0 "
                               "detect_deadlocks=0 report_thread_leaks=0 report_signal_unsafe=0",
                               sub);
        struct proc_result res;
        remove_tree(dir);
        mkdir_p(dir);
        if (run_tests(ctx, no_prefix, binary, names, opts, 0, sub, &res) == 0) {
            tsan_parse_dir(dir, ctx->ex->student_file, rep);
            proc_result_free(&res);
        }
        free(opts);
        free(dir);
        free(sub);
    }
    free(binary);
}

static bool confirmed(const struct race_line *r, const struct tsan_report *t)
{
    for (int i = 0; i < t->nraces; i++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                if (r->lines[b] && t->races[i].access[a].line == r->lines[b])
                    return true;
    return false;
}

/* "Previous atomic write of size 8" -> "atomic write" */
static char *access_kind(const char *what)
{
    if (!what)
        return xstrdup("access");
    if (strncmp(what, "Previous ", 9) == 0)
        what += 9;
    char *kind = strndup(what, strcspn(what, "0123456789"));
    char *size = strstr(kind, " of size");
    if (size)
        *size = '\0';
    for (char *p = kind; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return kind;
}

static void report_tsan_race(const struct tsan_race *r, const char *display, struct strbuf *found)
{
    const struct tsan_access *a = &r->access[0], *b = &r->access[1];
    char *ka = access_kind(a->what), *kb = access_kind(b->what);
    add_unique(found, xasprintf("%s:%d: %s by thread %s races with %s at %s:%d by thread %s: "
                                "no lock or join orders the two accesses (ThreadSanitizer)",
                                display, a->line, ka, a->thread ? a->thread : "?", kb, display,
                                b->line, b->thread ? b->thread : "?"));
    free(ka), free(kb);
}

/* Keeps the races TSan confirms; dismisses the rest with a note. */
static void settle_races(const struct build_ctx *ctx, char **names, struct race_sorted *s)
{
    struct tsan_report t = { 0 };
    tsan_confirm(ctx, names, &t, &s->notes);
    int kept = 0;
    for (int i = 0; i < s->nraces; i++)
        if (t.nraces < 0 || confirmed(&s->races[i], &t)) {
            add_unique(&s->found, xstrdup(s->races[i].text));
            kept++;
        }
    for (int i = 0; !kept && i < t.nraces; i++)
        report_tsan_race(&t.races[i], ctx->student_path, &s->found), kept++;
    if (!kept)
        sb_printf(&s->notes, "%d possible data race(s) reported by helgrind were not confirmed "
                             "by ThreadSanitizer in %d runs and were dismissed (helgrind does not "
                             "understand C11 atomics or sem_timedwait)\n", s->nraces, TSAN_ATTEMPTS);
    if (t.nraces < 0)
        t.nraces = 0;
    tsan_report_free(&t);
}

/* Copies file `from` into folder `dir` as `name`. */
static int copy_into(const char *from, const char *dir, const char *name)
{
    size_t len;
    char *data = read_file(from, &len);
    char *to = xasprintf("%s/%s", dir, name);
    int rc = data ? write_file(to, data, len) : -1;
    free(data);
    free(to);
    return rc;
}

void race_check(const struct build_ctx *ctx, const char *binary, char **test_names,
                struct race_result *res)
{
    *res = (struct race_result){ .state = RACE_ERROR };
    char **names = ctx->ex->race_tests ? ctx->ex->race_tests : test_names;
    char *dir = xasprintf("%s/helgrind", ctx->scratch);
    /* Through the working folder's link: valgrind makes a relative path
     * absolute, and the jailed user may not traverse the real one. */
    char *xml = xstrdup("--xml-file=/proc/self/cwd/helgrind/hg.%p.xml");
    char *supp = xasprintf("--suppressions=helgrind/kit.supp");
    char *supp_from = xasprintf("%s/grader/helgrind.supp", ctx->kit);
    char *valgrind[] = { "valgrind", "--tool=helgrind", "--xml=yes", xml, supp,
                         "--fair-sched=yes", "--child-silent-after-fork=no", NULL };
    struct race_sorted sorted = { 0 };
    struct hg_report rep = { 0 };
    struct proc_result run;

    remove_tree(dir);
    mkdir_p(dir);
    if (copy_into(supp_from, dir, "kit.supp") != 0 ||
        run_tests(ctx, valgrind, binary, names, NULL, -1, "helgrind", &run) != 0) {
        res->message = xasprintf("cannot run valgrind: %s", strerror(errno));
        goto out;
    }
    hg_parse_dir(dir, &rep);
    if (rep.nfiles == 0) {
        res->message = xasprintf("helgrind did not run:\n%s", run.output);
        proc_result_free(&run);
        goto out;
    }
    race_sort_helgrind(&rep, ctx->ex->student_file, ctx->student_path, &sorted);
    res->helgrind_ms = run.elapsed_ms;
    if (sorted.nraces) {
        long t0 = now_ms();
        settle_races(ctx, names, &sorted);
        res->tsan_ms = now_ms() - t0;
    }
    res->state = run.timed_out ? RACE_TIMEOUT : sorted.found.len ? RACE_FOUND : RACE_CLEAN;
    if (run.timed_out)
        sb_printf(&sorted.found, "the race check timed out after %g s under helgrind: a deadlock "
                                 "(threads waiting for each other's locks)?\n",
                  ctx->ex->race_timeout_ms / 1000.0);
    res->message = cap_lines(sb_steal(&sorted.found), MAX_PROBLEMS);
    res->notes = sb_steal(&sorted.notes);
    proc_result_free(&run);
out:
    if (!res->notes)
        res->notes = xstrdup("");
    race_sorted_free(&sorted);
    hg_report_free(&rep);
    free(dir);
    free(xml);
    free(supp);
    free(supp_from);
}

void race_result_free(struct race_result *res)
{
    free(res->message);
    free(res->notes);
    *res = (struct race_result){ 0 };
}
