/* batch - grades a whole class.
 *
 *   batch --kit DIR --submissions DIR --out DIR --grader FILE [--jobs N] [--force]
 *
 * Every student (a folder laid out like exercises/, or one archive; see
 * roster.h) is graded by its own run of the grader, up to --jobs at once.
 * OUT/STUDENT/ receives results.json and report.txt (what the student would
 * see); OUT/grades.csv one row per student. A student whose files, grader and
 * kit tests are unchanged since the last run is not graded again (see
 * fingerprint.h) unless --force. An exercise file identical to one already
 * graded in this output folder (an untouched stub, a copy) is graded once:
 * the graders share their results by key in OUT/.work/reuse (cache.h).
 * One student's failure never stops the rest.
 * Exit status: 0 when every student has a row, 2 when the batch cannot run. */
#define _GNU_SOURCE
#include "classreport.h"
#include "fingerprint.h"
#include "grades.h"
#include "manifest.h"
#include "progress.h"
#include "roster.h"
#include "unpack.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct options {
    char *kit, *submissions, *out, *grader;
    int jobs;
    bool force;
};

enum state { PENDING, RUNNING, CACHED, REFUSED, GRADED, FAILED };

struct task {
    struct student *st;
    char *dir;        /* OUT/NAME */
    char *root;       /* the folder graded */
    char *fp;         /* fingerprint; NULL when refused */
    enum state state;
    pid_t pid;
    int slot;
    long start_ms;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void usage(void)
{
    fprintf(stderr, "usage: batch --kit DIR --submissions DIR --out DIR --grader FILE "
                    "[--jobs N] [--force]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        { "kit", required_argument, NULL, 'k' },   { "submissions", required_argument, NULL, 's' },
        { "out", required_argument, NULL, 'o' },   { "grader", required_argument, NULL, 'g' },
        { "jobs", required_argument, NULL, 'j' },  { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'k': o->kit = optarg; break;
        case 's': o->submissions = optarg; break;
        case 'o': o->out = optarg; break;
        case 'g': o->grader = optarg; break;
        case 'j': o->jobs = atoi(optarg); break;
        case 'f': o->force = true; break;
        default: usage();
        }
    }
    if (optind != argc || !o->kit || !o->submissions || !o->out || !o->grader || o->jobs < 0)
        usage();
    if (!o->jobs)
        o->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "batch: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(2);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    write_file(p, text, strlen(text));
    free(p);
}

/* Decides what to do with one student: refuse, reuse or grade. */
static void prepare(struct task *t, const struct options *o, const char *work, char **ids,
                    const struct exercise *exs, int nex, const char *kit_fp)
{
    char *results = xasprintf("%s/results.json", t->dir);
    char *fp_file = xasprintf("%s/.fingerprint", t->dir);
    char *unpacked = xasprintf("%s/unpacked/%s", work, t->st->name);
    mkdir_p(t->dir);
    if (!t->st->problem && t->st->archive) {
        char *why;
        if (unpack_archive(t->st->path, unpacked, &why) != 0) {
            t->st->problem = xasprintf("archive refused: %s", why);
            free(why);
        }
    }
    if (t->st->problem) {
        char *text = xasprintf("%s: not graded: %s\n", t->st->name, t->st->problem);
        put_text(t->dir, "report.txt", text);
        free(text);
        remove(results);
        remove(fp_file);
        t->state = REFUSED;
        goto out;
    }
    t->root = roster_submission_root(t->st->archive ? unpacked : t->st->path, ids);
    t->fp = fingerprint_student(kit_fp, t->root, exs, nex);
    char *old = read_file(fp_file, NULL);
    t->state = !o->force && old && strcmp(old, t->fp) == 0 && is_file(results) ? CACHED : PENDING;
    if (t->state == PENDING)
        remove(fp_file);   /* written again only once the new results are in */
    free(old);
out:
    free(results);
    free(fp_file);
    free(unpacked);
}

static pid_t spawn_grader(const struct options *o, struct task *t, const char *work)
{
    char *results = xasprintf("%s/results.json", t->dir);
    char *report = xasprintf("%s/report.txt", t->dir);
    char *scratch = xasprintf("%s/slot-%d", work, t->slot);
    char *reuse = xasprintf("%s/reuse", work);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(report, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl(o->grader, o->grader, "--kit", o->kit, "--submission", t->root, "--results",
              results, "--scratch", scratch, "--jobs", "1", "--test-jobs", "1", "--color", "never", "--no-cache",
              "--reuse", reuse, (char *)NULL);
        _exit(127);
    }
    free(results);
    free(report);
    free(scratch);
    free(reuse);
    return pid;
}

/* Records how a grading ended; returns the line for the progress report. */
static char *finish(struct task *t, int status, double *points, char **ids, double max)
{
    char *results = xasprintf("%s/results.json", t->dir);
    long secs = (now_ms() - t->start_ms + 500) / 1000;
    char *line;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if ((code == 0 || code == 1) && grades_read(results, ids, points) == 0) {
        t->state = GRADED;
        put_text(t->dir, ".fingerprint", t->fp);
        double total = 0;
        for (int k = 0; ids[k]; k++)
            total += points[k];
        char num[32], top[32];
        grades_format(total, num);
        grades_format(max, top);
        line = xasprintf("%s: %s/%s (%ld s)", t->st->name, num, top, secs);
    } else {
        t->state = FAILED;
        remove(results);
        line = xasprintf("%s: the grader could not grade it (%s %d), see %s/report.txt",
                         t->st->name, code >= 0 ? "exit" : "signal",
                         code >= 0 ? code : WTERMSIG(status), t->dir);
    }
    free(results);
    return line;
}

/* Grades the pending tasks, `jobs` at a time. */
static void run_all(const struct options *o, struct task *tasks, int n, const char *work,
                    char **ids, double **rows, double max)
{
    int pending = 0, running = 0, next = 0;
    for (int i = 0; i < n; i++)
        pending += tasks[i].state == PENDING;
    bool *busy = xcalloc((size_t)o->jobs, sizeof *busy);
    struct progress prog;
    progress_start(&prog, stderr, pending);
    while (pending || running) {
        while (pending && running < o->jobs && !stop_signal) {
            while (tasks[next].state != PENDING)
                next++;
            struct task *t = &tasks[next++];
            t->slot = 0;
            while (busy[t->slot])
                t->slot++;
            busy[t->slot] = true;
            t->start_ms = now_ms();
            t->pid = spawn_grader(o, t, work);
            pending--;
            if (t->pid > 0) {
                t->state = RUNNING;
                running++;
            } else {
                t->state = FAILED;
                busy[t->slot] = false;
                char *line = xasprintf("%s: cannot start the grader: %s", t->st->name,
                                       strerror(errno));
                progress_step(&prog, line, false, true);
                free(line);
            }
        }
        if (!running)
            continue;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR && stop_signal) {
            for (int i = 0; i < n; i++)
                if (tasks[i].pid > 0)
                    kill(tasks[i].pid, SIGTERM);
            while (wait(NULL) > 0 || errno == EINTR)
                ;
            progress_end(&prog);
            fprintf(stderr, "batch: interrupted; students graded so far keep their results\n");
            exit(128 + stop_signal);
        }
        for (int i = 0; pid > 0 && i < n; i++)
            if (tasks[i].pid == pid) {
                tasks[i].pid = 0;
                busy[tasks[i].slot] = false;
                running--;
                char *line = finish(&tasks[i], status, rows[i], ids, max);
                progress_step(&prog, line, tasks[i].state == GRADED, tasks[i].state == FAILED);
                free(line);
            }
    }
    progress_end(&prog);
    free(busy);
}

int main(int argc, char **argv)
{
    struct options o = { 0 };
    parse(argc, argv, &o);
    if (!is_dir(o.submissions))
        fail("%s is not a folder", o.submissions);
    char **ids = catalogue_ids(o.kit);
    int nex = (int)strv_len(ids);
    if (!nex)
        fail("no exercise in the kit at %s", o.kit);
    struct exercise *exs = xcalloc((size_t)nex, sizeof *exs);
    double max = 0;
    for (int i = 0; i < nex; i++) {
        char *err;
        if (manifest_load(o.kit, ids[i], &exs[i], &err) != 0)
            fail("%s", err);
        max += exs[i].points;
    }
    char *grader_copy = xstrdup(o.grader);
    char *runner = xasprintf("%s/runner/libkitrunner.a", dirname(grader_copy));
    char *kit_fp = fingerprint_kit(o.kit, o.grader, runner, ids);
    if (!kit_fp)
        fail("cannot read the grader, its runner library or the kit's tests (%s)", o.kit);

    struct strbuf skipped = { 0 };
    int n;
    struct student *students = roster_read(o.submissions, &n, &skipped);
    if (!students)
        fail("cannot read %s", o.submissions);
    if (skipped.len)
        fprintf(stderr, "skipped:\n%s", skipped.buf);
    char *work = xasprintf("%s/.work", o.out);
    char *unpacked = xasprintf("%s/unpacked", work);
    remove_tree(unpacked);
    char *reuse = xasprintf("%s/reuse", work);
    if (o.force)
        remove_tree(reuse);   /* everything graded afresh */
    free(reuse);
    if (mkdir_p(unpacked) != 0)
        fail("cannot create %s", work);

    struct task *tasks = xcalloc((size_t)n + 1, sizeof *tasks);
    double **rows = xcalloc((size_t)n + 1, sizeof *rows);
    int cached = 0, refused = 0;
    for (int i = 0; i < n; i++) {
        tasks[i] = (struct task){ .st = &students[i], .dir = xasprintf("%s/%s", o.out, students[i].name) };
        prepare(&tasks[i], &o, work, ids, exs, nex, kit_fp);
        rows[i] = xcalloc((size_t)nex, sizeof **rows);
        if (tasks[i].state == CACHED) {
            char *r = xasprintf("%s/results.json", tasks[i].dir);
            grades_read(r, ids, rows[i]);
            free(r);
        }
        cached += tasks[i].state == CACHED;
        refused += tasks[i].state == REFUSED;
    }
    struct sigaction sa = { .sa_handler = on_stop };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    fprintf(stderr, "%d students: %d to grade, %d unchanged since the last run, %d refused\n", n,
            n - cached - refused, cached, refused);
    run_all(&o, tasks, n, work, ids, rows, max);

    int failed = 0;
    for (int i = 0; i < n; i++) {
        failed += tasks[i].state == FAILED;
        if (tasks[i].state == REFUSED || tasks[i].state == FAILED)
            fprintf(stderr, "  %s: see %s/report.txt\n", students[i].name, tasks[i].dir);
    }
    char *csv = xasprintf("%s/grades.csv", o.out);
    if (grades_write_csv(csv, ids, students, n, rows) != 0)
        fail("cannot write %s", csv);
    struct class_member *members = xcalloc((size_t)n + 1, sizeof *members);
    for (int i = 0; i < n; i++) {
        bool graded = tasks[i].state == GRADED || tasks[i].state == CACHED;
        members[i] = (struct class_member){
            .name = students[i].name,
            .results = graded ? xasprintf("%s/results.json", tasks[i].dir) : NULL,
            .why = students[i].problem ? students[i].problem : "the grader could not grade it" };
    }
    char *html = xasprintf("%s/report.html", o.out);
    if (classreport_write(html, exs, nex, members, n) != 0)
        fail("cannot write %s", html);
    fprintf(stderr, "grades: %s, class report: %s (%d refused, %d the grader could not "
                    "grade)\n", csv, html, refused, failed);
    remove_tree(unpacked);
    return 0;
}
