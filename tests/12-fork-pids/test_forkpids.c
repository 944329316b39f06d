/* test_forkpids.c - tests of 12-fork-pids (forkpids.h).
 *
 * Every test calls spawn_and_wait through call_spawn(), which hands it a
 * fully buffered stream on a temporary file or a pipe (so a line left in the
 * buffer at fork time shows up twice), records what it returned, looks for
 * children left behind (zombies or still running), reaps them, and reads back
 * everything written to out. The checks then compare the lines with the pids,
 * the exit codes and the caller's pid.
 *
 * The test binary is linked with -Wl,--wrap=fork, so every fork() of the code
 * under test comes to __wrap_fork below first. It counts the forks of each
 * call, can make the k-th one fail with EAGAIN, can make the children start in
 * a chosen order, and stops any child that went on running the caller's code:
 * one that returned from spawn_and_wait (call_spawn sees it) or went round
 * the fork loop again (__wrap_fork sees it). Such a child is ended at once
 * with exit status KIT_CHILD_RETURNED and noted in a page shared with the test
 * process, which reports it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "forkpids.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    MAX_N = 64,             /* the largest n spawn_and_wait accepts */
    SLOTS = MAX_N + 8,      /* array room, so that a call overrunning by one does no harm */
    FORK_CAP = 160,         /* forks allowed per call: more means a runaway loop */
    NOT_SET = INT_MIN,      /* what pids[] and exit_codes[] hold before the call */
    OUT_CAP = 32 * 1024,    /* bytes of out kept: 64 lines need about 3 KB */
};

/* ---- the fork wrapper ---------------------------------------------------- */

pid_t __real_fork(void);
pid_t __wrap_fork(void);

/* Written by children, read by the test process once they are all reaped. */
struct shared {
    atomic_ullong returned;     /* bit i: child i returned from spawn_and_wait */
    atomic_ullong looped;       /* bit i: child i called fork itself */
    atomic_int strays;          /* such children whose index is unknown or >= 64 */
};

static struct shared *shared;

/* The plan of the current call, set by the test process before it calls
 * spawn_and_wait; children inherit a copy. */
static pid_t fork_caller;       /* the process calling spawn_and_wait; 0: no call */
static int fork_calls;          /* forks asked for during the call (in the caller) */
static int fork_fail_on;        /* this fork (1-based) fails with EAGAIN; 0: none */
static long stagger_base_ms;    /* children start at base + (n - 1 - i) * step ... */
static long stagger_step_ms;    /* ... when stagger_n > 0, so the last one forked */
static int stagger_n;           /* finishes first */
static int my_index = -1;       /* in a child: its index (the fork call it came from) */

static void note_escape(atomic_ullong *mask)
{
    if (my_index >= 0 && my_index < 64)
        atomic_fetch_or(mask, 1ULL << my_index);
    else
        atomic_fetch_add(&shared->strays, 1);
}

pid_t __wrap_fork(void)
{
    if (fork_caller == 0)
        return __real_fork();
    if (getpid() != fork_caller) {
        /* A child is forking: it did not exit after its line but went on
         * running the parent's loop. Stop it before it forks any further. */
        note_escape(&shared->looped);
        _exit(KIT_CHILD_RETURNED);
    }
    int call = ++fork_calls;
    if (call == fork_fail_on || call > FORK_CAP) {
        errno = EAGAIN;
        return -1;
    }
    pid_t pid = __real_fork();
    if (pid == 0) {
        my_index = call - 1;
        if (stagger_n > 0) {
            long wake = stagger_base_ms + (long)(stagger_n - call) * stagger_step_ms;
            long now = kit_now_ms();
            if (wake > now)
                kit_sleep_ms(wake - now);
        }
    }
    return pid;
}

/* ---- one call of spawn_and_wait ------------------------------------------ */

enum sink { TO_FILE, TO_PIPE };

enum leftover { NONE_LEFT, ZOMBIE_LEFT, RUNNING_LEFT };

struct run {
    int n;
    pid_t caller;               /* the test process */
    int ret, err;               /* what spawn_and_wait returned, and errno */
    pid_t pids[SLOTS];
    int codes[SLOTS];
    int forks;                  /* forks it asked for */
    enum leftover left;         /* what waitpid(-1, WNOHANG) found right after */
    pid_t left_pid;
    unsigned long long returned, looped;
    int strays;
    char text[OUT_CAP];         /* everything written to out, NUL-terminated */
    size_t len;
};

static void must(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "test harness: %s failed: %s\n", what, strerror(errno));
        abort();
    }
}

static void shared_init(void)
{
    if (!shared) {
        void *p = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        must(p != MAP_FAILED, "mmap");
        shared = p;
    }
    atomic_store(&shared->returned, 0);
    atomic_store(&shared->looped, 0);
    atomic_store(&shared->strays, 0);
}

/* Waits for every child of this process (they end on their own). */
static void reap_all(void)
{
    for (;;) {
        pid_t r = waitpid(-1, NULL, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return;     /* ECHILD: none left */
    }
}

static void read_all(int fd, struct run *r)
{
    for (;;) {
        if (r->len == OUT_CAP - 1)
            break;
        ssize_t got = read(fd, r->text + r->len, OUT_CAP - 1 - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        must(got >= 0, "read");
        if (got == 0)
            break;
        r->len += (size_t)got;
    }
    r->text[r->len] = '\0';
}

struct plan {
    int fail_on;        /* the fork (1-based) that fails; 0: none */
    bool reverse;       /* children start in reverse order, the last first */
    bool at_once;       /* all children start at the same moment */
};

/* Calls spawn_and_wait(n, out, r->pids, r->codes) on a fresh, fully buffered
 * stream and fills r. Only the test process comes back from here. */
static void call_spawn(struct run *r, int n, enum sink sink, struct plan plan)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    r->caller = getpid();
    for (int i = 0; i < SLOTS; i++) {
        r->pids[i] = NOT_SET;
        r->codes[i] = NOT_SET;
    }
    shared_init();

    FILE *out;
    int rfd = -1;
    if (sink == TO_PIPE) {
        int p[2];
        must(pipe(p) == 0, "pipe");
        out = fdopen(p[1], "w");
        rfd = p[0];
    } else {
        out = tmpfile();
    }
    must(out != NULL, sink == TO_PIPE ? "fdopen" : "tmpfile");
    /* Fully buffered, as a file or a pipe is by default: a line that is not
     * flushed before fork is in every child's copy of the buffer. */
    must(setvbuf(out, NULL, _IOFBF, BUFSIZ) == 0, "setvbuf");
    /* Nothing of ours may be waiting in a buffer for a child to write again. */
    fflush(stdout);
    fflush(stderr);

    long factor = kit_time_factor();
    fork_calls = 0;
    fork_fail_on = plan.fail_on;
    stagger_n = plan.reverse || plan.at_once ? n : 0;
    stagger_step_ms = plan.reverse ? 4 : 0;
    stagger_base_ms = kit_now_ms() + 25 * factor;
    fork_caller = r->caller;

    errno = 0;
    r->ret = spawn_and_wait(n, out, r->pids, r->codes);
    r->err = errno;
    if (getpid() != r->caller) {
        /* A child came back: it must not run the rest of the test. */
        note_escape(&shared->returned);
        _exit(KIT_CHILD_RETURNED);
    }
    fork_caller = 0;
    fork_fail_on = 0;
    stagger_n = 0;
    r->forks = fork_calls;

    /* Anything left behind? Look before we reap it ourselves. */
    pid_t w;
    while ((w = waitpid(-1, NULL, WNOHANG)) < 0 && errno == EINTR)
        ;
    r->left = w > 0 ? ZOMBIE_LEFT : w == 0 ? RUNNING_LEFT : NONE_LEFT;
    r->left_pid = w;
    reap_all();
    r->returned = atomic_load(&shared->returned);
    r->looped = atomic_load(&shared->looped);
    r->strays = atomic_load(&shared->strays);

    /* Whatever the parent still holds in its buffer goes out now, after the
     * children's lines: a parent line flushed only now comes last. */
    if (sink == TO_PIPE) {
        fclose(out);
        read_all(rfd, r);
        close(rfd);
    } else {
        fflush(out);
        must(lseek(fileno(out), 0, SEEK_SET) == 0, "lseek");
        read_all(fileno(out), r);
        fclose(out);
    }
}

/* ---- what out holds --------------------------------------------------------- */

struct lines {
    int parent_count;
    long parent_pid;
    int parent_pos;             /* line number of the first parent line, from 0 */
    int child_count[SLOTS];
    long child_pid[SLOTS];
    long child_ppid[SLOTS];
    int extra_index;            /* a child index >= SLOTS seen, or -1 */
    char bad[96];               /* the first line that is not a whole line */
    bool has_bad;
    bool last_unterminated;
};

static void parse_line(struct lines *l, const char *line, size_t len, int lineno)
{
    char copy[160], again[160];
    long a = 0, b = 0, c = 0;
    int consumed = 0;
    snprintf(copy, sizeof copy, "%.*s", (int)(len < 150 ? len : 150), line);
    if (len < 150 && sscanf(copy, "parent %ld%n", &a, &consumed) == 1 &&
        (size_t)consumed == len) {
        snprintf(again, sizeof again, "parent %ld", a);
        if (strcmp(again, copy) == 0) {
            if (l->parent_count++ == 0) {
                l->parent_pid = a;
                l->parent_pos = lineno;
            }
            return;
        }
    }
    if (len < 150 && sscanf(copy, "child %ld pid %ld ppid %ld%n", &a, &b, &c, &consumed) == 3 &&
        (size_t)consumed == len) {
        snprintf(again, sizeof again, "child %ld pid %ld ppid %ld", a, b, c);
        if (strcmp(again, copy) == 0 && a >= 0) {
            if (a >= SLOTS) {
                l->extra_index = (int)a;
            } else if (l->child_count[a]++ == 0) {
                l->child_pid[a] = b;
                l->child_ppid[a] = c;
            }
            return;
        }
    }
    if (!l->has_bad) {
        l->has_bad = true;
        snprintf(l->bad, sizeof l->bad, "%.*s%s", (int)(len < 80 ? len : 80), line,
                 len > 80 ? "..." : "");
    }
}

static void parse_lines(const struct run *r, struct lines *l)
{
    memset(l, 0, sizeof *l);
    l->parent_pos = -1;
    l->extra_index = -1;
    const char *p = r->text, *end = r->text + r->len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            l->last_unterminated = true;
            nl = end;
        }
        parse_line(l, p, (size_t)(nl - p), lineno++);
        p = nl + 1;
    }
}

/* ---- the checks ------------------------------------------------------------- */

/* Children that went on running the caller's code. Checked first, always:
 * nothing else about such a run means much. True when there were none. */
static bool check_children_exited(const struct run *r)
{
    for (int i = 0; i < 64; i++) {
        if (r->returned & (1ULL << i)) {
            kit_fail_at(__FILE__, __LINE__, true,
                        "child %d returned from spawn_and_wait instead of calling exit: it "
                        "went on running the caller's code (the test stopped it with exit "
                        "status %d). After fork the child is a copy of the caller; it must "
                        "end with _exit(i) right after writing its line", i, KIT_CHILD_RETURNED);
            return false;
        }
        if (r->looped & (1ULL << i)) {
            kit_fail_at(__FILE__, __LINE__, true,
                        "child %d called fork() itself: it did not exit after writing its "
                        "line and went on round the parent's loop, running the caller's "
                        "code (the test stopped it with exit status %d). After fork the "
                        "child is a copy of the caller; it must end with _exit(i) right "
                        "after writing its line", i, KIT_CHILD_RETURNED);
            return false;
        }
    }
    if (r->strays > 0) {
        kit_fail_at(__FILE__, __LINE__, true,
                    "%d process(es) started by spawn_and_wait went on running the caller's "
                    "code instead of exiting (the test stopped them with exit status %d): "
                    "every child must end with _exit(i) right after writing its line",
                    r->strays, KIT_CHILD_RETURNED);
        return false;
    }
    for (int i = 0; i < r->n && i < SLOTS; i++) {
        if (r->codes[i] == KIT_CHILD_RETURNED || r->codes[i] == KIT_CHILD_RETURNED << 8) {
            kit_fail_at(__FILE__, __LINE__, true,
                        "child %d returned from spawn_and_wait instead of calling exit: it "
                        "went on running the caller's code (the test stopped it with exit "
                        "status %d)", i, KIT_CHILD_RETURNED);
            return false;
        }
    }
    return true;
}

/* "0", "-1 with errno EAGAIN (Resource ...)": what a call returned (one at a
 * time). errno only means something after -1. */
static const char *result_str(int ret, int err)
{
    static char buf[160];
    if (ret == -1)
        snprintf(buf, sizeof buf, "-1 with errno %d (%s)", err, strerror(err));
    else
        snprintf(buf, sizeof buf, "%d", ret);
    return buf;
}

/* spawn_and_wait(n, ...) was to succeed: returned 0. */
static bool check_returned_0(const struct run *r)
{
    if (r->ret == 0)
        return true;
    kit_fail_at(__FILE__, __LINE__, true,
                "spawn_and_wait(%d, out, pids, exit_codes) returned %s, expected 0: every "
                "fork should succeed here", r->n, result_str(r->ret, r->err));
    return false;
}

/* The parent line: once, first, with the caller's pid. */
static void check_parent_line(const struct run *r, const struct lines *l)
{
    if (l->parent_count == 0) {
        KIT_CHECK(false, "n = %d: no \"parent <pid>\" line in out: before forking, the parent "
                  "writes \"parent %ld\\n\" to out (got %zu bytes: \"%.120s\")",
                  r->n, (long)r->caller, r->len, r->text);
        return;
    }
    KIT_CHECK(l->parent_count == 1,
              "n = %d: the line \"parent %ld\" appears %d times in out, expected once. It was "
              "still in out's stdio buffer when fork copied the process: each child got a copy "
              "of the buffer and wrote it out again when it flushed or exited. Call fflush(out) "
              "before the first fork", r->n, l->parent_pid, l->parent_count);
    KIT_CHECK(l->parent_pos == 0,
              "n = %d: the parent's line is line %d of out, after children's lines: it was "
              "still in out's buffer while the children wrote theirs. Write it and fflush(out) "
              "before forking", r->n, l->parent_pos + 1);
    KIT_CHECK(l->parent_pid == (long)r->caller,
              "n = %d: the parent's line says \"parent %ld\", but the process that called "
              "spawn_and_wait has pid %ld: write getpid() of the parent, before forking",
              r->n, l->parent_pid, (long)r->caller);
}

/* "no child", "only child 0", "only children 0..4" (one at a time). */
static const char *children_str(int started)
{
    static char buf[48];
    if (started == 0)
        return "no child";
    if (started == 1)
        return "only child 0";
    snprintf(buf, sizeof buf, "only children 0..%d", started - 1);
    return buf;
}

/* One whole line for each of children 0..started-1, none for the others. */
static void check_child_lines(const struct run *r, const struct lines *l, int started)
{
    if (l->has_bad) {
        KIT_CHECK(false,
                  "n = %d: out holds a line that is not a whole \"parent ...\" or \"child ...\" "
                  "line: \"%s\". Two children's writes got mixed mid-line, or the format is "
                  "off (\"child <i> pid <pid> ppid <ppid>\\n\", decimal numbers). Write each "
                  "line in one piece: one fprintf followed by one fflush(out), or one write()",
                  r->n, l->bad);
        return;
    }
    KIT_CHECK(!l->last_unterminated,
              "n = %d: the last line of out does not end with \"\\n\"", r->n);
    for (int i = 0; i < started; i++) {
        if (l->child_count[i] == 0) {
            KIT_CHECK(false, "n = %d: no line \"child %d pid ... ppid ...\" in out: each child "
                      "writes its line to out and flushes it (fflush(out)) before it exits; "
                      "_exit() does not flush stdio buffers (out holds: \"%.200s\")",
                      r->n, i, r->text);
            return;
        }
        if (l->child_count[i] > 1) {
            KIT_CHECK(false, "n = %d: the line of child %d appears %d times in out, expected "
                      "once: was a child's line still in a stdio buffer when another fork "
                      "copied it, or was it flushed twice?", r->n, i, l->child_count[i]);
            return;
        }
    }
    for (int i = started; i < SLOTS; i++) {
        if (l->child_count[i] > 0) {
            KIT_CHECK(false, "n = %d: out holds a line for child %d, but %s should have run: "
                      "\"child %d pid %ld ppid %ld\"", r->n, i, children_str(started), i,
                      l->child_pid[i], l->child_ppid[i]);
            return;
        }
    }
    KIT_CHECK(l->extra_index < 0, "n = %d: out holds a line for child %d, but %s should have "
              "run", r->n, l->extra_index, children_str(started));
}

/* pids[i] is the child that wrote "child i", whose parent is the caller. */
static void check_ids(const struct run *r, const struct lines *l)
{
    for (int i = 0; i < r->n; i++) {
        if (l->child_count[i] != 1)
            continue;   /* check_child_lines tells */
        long pid = l->child_pid[i], ppid = l->child_ppid[i];
        if (pid == 0) {
            KIT_CHECK(false, "n = %d: child %d wrote \"pid 0\": fork() returns 0 in the child, "
                      "which says \"you are the child\", not its pid; the child's own pid is "
                      "getpid()", r->n, i);
            return;
        }
        if (ppid == pid) {
            KIT_CHECK(false, "n = %d: child %d wrote its own pid %ld as its ppid: getpid() is "
                      "the calling process's own pid, getppid() its parent's (%ld here)",
                      r->n, i, pid, (long)r->caller);
            return;
        }
        if (ppid != (long)r->caller) {
            KIT_CHECK(false, "n = %d: child %d wrote ppid %ld, but its parent, the process "
                      "that called spawn_and_wait, is %ld: the child's line holds getppid()",
                      r->n, i, ppid, (long)r->caller);
            return;
        }
        if ((long)r->pids[i] != pid) {
            int j = -1;
            for (int k = 0; k < r->n; k++)
                if ((long)r->pids[k] == pid)
                    j = k;
            if (r->pids[i] == NOT_SET)
                KIT_CHECK(false, "n = %d: pids[%d] was never set: it should hold %ld, the pid "
                          "that fork() returned to the parent for child %d", r->n, i, pid, i);
            else if (j >= 0)
                KIT_CHECK(false, "n = %d: the child that wrote \"child %d\" has pid %ld, but "
                          "that pid is in pids[%d] and pids[%d] holds %ld: pids[i] is the pid "
                          "fork() returned for child i (wait() returns children in the order "
                          "they end, not the order they were made)", r->n, i, pid, j, i,
                          (long)r->pids[i]);
            else
                KIT_CHECK(false, "n = %d: pids[%d] holds %ld, but child %d has pid %ld: pids[i] "
                          "is the pid fork() returned to the parent for child i", r->n, i,
                          (long)r->pids[i], i, pid);
            return;
        }
    }
}

/* exit_codes[i] == i: the child's exit status, matched to the child. */
static void check_codes(const struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        int c = r->codes[i];
        if (c == i)
            continue;
        if (c == NOT_SET)
            KIT_CHECK(false, "n = %d: exit_codes[%d] was never set: wait for child %d and store "
                      "its exit status there", r->n, i, i);
        else if (c == i << 8)
            KIT_CHECK(false, "n = %d: exit_codes[%d] is %d = %d * 256, expected %d: that is the "
                      "raw status word from wait()/waitpid(), which packs the exit status "
                      "with other information; the exit status itself is WEXITSTATUS(status)",
                      r->n, i, c, i, i);
        else if (c >= 0 && c < r->n)
            KIT_CHECK(false, "n = %d: exit_codes[%d] is %d, expected %d: that is the status of "
                      "child %d. wait() returns whichever child ended first; look up which "
                      "child the returned pid belongs to (or waitpid() each pid in turn)",
                      r->n, i, c, i, c);
        else if (c >= 256 && c % 256 == 0 && c / 256 < r->n)
            KIT_CHECK(false, "n = %d: exit_codes[%d] is %d, expected %d: a raw status word from "
                      "wait() (use WEXITSTATUS(status)), and from another child", r->n, i, c, i);
        else if (c < 0)
            KIT_CHECK(false, "n = %d: exit_codes[%d] is %d, expected %d: was child %d killed by "
                      "a signal (a crash, abort()) before it could end with _exit(%d)?", r->n, i,
                      c, i, i, i);
        else
            KIT_CHECK(false, "n = %d: exit_codes[%d] is %d, expected %d: child i ends with "
                      "_exit(i), and exit_codes[i] holds WEXITSTATUS of its status", r->n, i, c,
                      i);
        return;
    }
}

/* Nothing left: no zombie, nothing running. */
static void check_reaped(const struct run *r, const char *when)
{
    if (r->left == ZOMBIE_LEFT)
        KIT_CHECK(false, "n = %d: %s, child %ld was a zombie: it had ended but nobody had waited "
                  "for it. Wait for every child started (waitpid() on each pid, or wait() as "
                  "many times as children were started)", r->n, when, (long)r->left_pid);
    else if (r->left == RUNNING_LEFT)
        KIT_CHECK(false, "n = %d: %s, a child was still running: spawn_and_wait must wait for "
                  "every child it started before it returns", r->n, when);
}

/* A call that should have succeeded: everything right. */
enum { LINES = 1, IDS = 2, CODES = 4, REAPED = 8, ALL = 15 };

static void check_success(const struct run *r, int what)
{
    if (!check_children_exited(r) || !check_returned_0(r))
        return;
    struct lines l;
    parse_lines(r, &l);
    if (what & LINES) {
        check_parent_line(r, &l);
        check_child_lines(r, &l, r->n);
    }
    if (what & IDS)
        check_ids(r, &l);
    if (what & CODES)
        check_codes(r);
    if (what & REAPED)
        check_reaped(r, "after spawn_and_wait returned");
}

/* Calls spawn_and_wait for every n in sizes, `reps` times each; stops at the
 * first call with a failed check. */
static void run_sizes(const int *sizes, int nsizes, int reps, enum sink sink,
                      struct plan plan, int what)
{
    static struct run r;    /* big: not on the stack */
    for (int k = 0; k < nsizes; k++) {
        for (int rep = 0; rep < reps; rep++) {
            unsigned before = CU_get_number_of_failures();
            call_spawn(&r, sizes[k], sink, plan);
            check_success(&r, what);
            if (CU_get_number_of_failures() != before)
                return;
        }
    }
}

/* ---- suite "output": the lines ---------------------------------------------- */

static void test_parent_line_is_written_once_before_any_child_line(void)
{
    static const int sizes[] = { 1, 2, 8 };
    run_sizes(sizes, 3, 3, TO_FILE, (struct plan){ 0 }, LINES);
}

static void test_each_child_writes_one_whole_line(void)
{
    static const int sizes[] = { 1, 2, 3, 8, 16 };
    run_sizes(sizes, 5, 4, TO_FILE, (struct plan){ 0 }, LINES);
}

static void test_lines_are_whole_when_out_is_a_pipe(void)
{
    static const int sizes[] = { 2, 16, 64 };
    run_sizes(sizes, 3, 2, TO_PIPE, (struct plan){ 0 }, LINES);
}

static void test_64_children_started_at_once_write_whole_lines(void)
{
    static const int sizes[] = { 64 };
    run_sizes(sizes, 1, 4, TO_FILE, (struct plan){ .at_once = true }, LINES);
}

/* ---- suite "ids": pid and ppid ----------------------------------------------- */

static void test_pids_are_the_children_that_wrote_the_lines(void)
{
    static const int sizes[] = { 1, 2, 8, 64 };
    run_sizes(sizes, 4, 2, TO_FILE, (struct plan){ 0 }, IDS);
}

static void test_child_ppid_is_the_callers_pid(void)
{
    static const int sizes[] = { 1, 4, 16 };
    run_sizes(sizes, 3, 2, TO_PIPE, (struct plan){ 0 }, IDS);
}

static void test_pids_match_when_children_end_in_reverse_order(void)
{
    static const int sizes[] = { 8 };
    run_sizes(sizes, 1, 3, TO_FILE, (struct plan){ .reverse = true }, IDS);
}

/* ---- suite "status": exit codes ---------------------------------------------- */

static void test_exit_codes_are_exactly_i(void)
{
    static const int sizes[] = { 2, 8, 64 };
    run_sizes(sizes, 3, 2, TO_FILE, (struct plan){ 0 }, CODES);
}

static void test_exit_codes_match_when_children_end_in_reverse_order(void)
{
    static const int sizes[] = { 8 };
    run_sizes(sizes, 1, 3, TO_FILE, (struct plan){ .reverse = true }, CODES);
}

/* ---- suite "waiting": no zombie, nothing running ------------------------------ */

static void test_no_child_is_left_after_return(void)
{
    static const int sizes[] = { 1, 8, 64 };
    run_sizes(sizes, 3, 2, TO_FILE, (struct plan){ 0 }, REAPED);
}

static void test_no_child_is_left_when_the_first_ends_last(void)
{
    static const int sizes[] = { 8 };
    run_sizes(sizes, 1, 2, TO_FILE, (struct plan){ .reverse = true }, REAPED);
}

/* ---- suite "sizes": everything at the limits ---------------------------------- */

static void test_one_child(void)
{
    static const int sizes[] = { 1 };
    run_sizes(sizes, 1, 5, TO_FILE, (struct plan){ 0 }, ALL);
}

static void test_64_children(void)
{
    static const int sizes[] = { 64 };
    run_sizes(sizes, 1, 3, TO_FILE, (struct plan){ 0 }, ALL);
}

static void test_many_calls_in_a_row(void)
{
    static const int sizes[] = { 3, 1, 7, 2, 5 };
    run_sizes(sizes, 5, 6, TO_PIPE, (struct plan){ 0 }, ALL);
}

/* ---- suite "arguments": bad calls rejected, nothing forked -------------------- */

struct bad_call {
    int n;
    bool null_out, null_pids, null_codes;
    const char *text;       /* the call, as the student would write it */
};

/* What a bad call did, sent back from the helper process that made it. */
struct bad_result {
    int ret, err, forks;
    bool zombie_or_running;
};

/* Makes the call in a helper process, so that a crash or a fork does not
 * touch the test process; true when the helper reported back. */
static bool bad_call_in_helper(const struct bad_call *c, struct bad_result *res, int *status)
{
    int p[2];
    must(pipe(p) == 0, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t helper = __real_fork();
    must(helper >= 0, "fork");
    if (helper == 0) {
        close(p[0]);
        static pid_t pids[SLOTS];
        static int codes[SLOTS];
        FILE *out = c->null_out ? NULL : tmpfile();
        struct bad_result br = { 0 };
        pid_t self = getpid();
        fork_calls = 0;
        fork_caller = self;
        shared_init();
        errno = 0;
        br.ret = spawn_and_wait(c->n, out, c->null_pids ? NULL : pids,
                                c->null_codes ? NULL : codes);
        br.err = errno;
        if (getpid() != self)
            _exit(KIT_CHILD_RETURNED);
        fork_caller = 0;
        br.forks = fork_calls;
        pid_t w = waitpid(-1, NULL, WNOHANG);
        br.zombie_or_running = w >= 0;
        reap_all();
        if (write(p[1], &br, sizeof br) != (ssize_t)sizeof br)
            _exit(3);
        _exit(0);
    }
    close(p[1]);
    long deadline = kit_now_ms() + 2000 * kit_time_factor();
    pid_t w;
    while ((w = waitpid(helper, status, WNOHANG)) == 0 && kit_now_ms() < deadline)
        kit_sleep_ms(2);
    if (w == 0) {
        kill(helper, SIGKILL);
        waitpid(helper, status, 0);
    }
    bool got = read(p[0], res, sizeof *res) == (ssize_t)sizeof *res;
    close(p[0]);
    return got;
}

static void check_bad_call(const struct bad_call *c)
{
    struct bad_result res;
    int status = 0;
    if (!bad_call_in_helper(c, &res, &status)) {
        if (WIFSIGNALED(status))
            KIT_CHECK(false, "%s crashed (signal %d, %s): check the arguments first, and "
                      "return -1 with errno EINVAL before using any of them",
                      c->text, WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            KIT_CHECK(false, "%s did not return (the process ended with status %d, or hung): "
                      "it should return -1 with errno EINVAL at once", c->text,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    KIT_CHECK(res.ret == -1 && res.err == EINVAL,
              "%s returned %s, expected -1 with errno EINVAL (%d): n must be 1..64 and no "
              "pointer NULL", c->text, result_str(res.ret, res.err), EINVAL);
    KIT_CHECK(res.forks == 0, "%s forked %d time(s): check the arguments before writing or "
              "forking anything", c->text, res.forks);
    KIT_CHECK(!res.zombie_or_running, "%s left a child behind", c->text);
}

static void test_bad_n_is_einval_and_forks_nothing(void)
{
    static const struct bad_call calls[] = {
        { 0, false, false, false, "spawn_and_wait(0, out, pids, exit_codes)" },
        { 65, false, false, false, "spawn_and_wait(65, out, pids, exit_codes)" },
        { -1, false, false, false, "spawn_and_wait(-1, out, pids, exit_codes)" },
        { INT_MIN, false, false, false, "spawn_and_wait(INT_MIN, out, pids, exit_codes)" },
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        check_bad_call(&calls[i]);
}

static void test_null_pointers_are_einval_and_fork_nothing(void)
{
    static const struct bad_call calls[] = {
        { 3, true, false, false, "spawn_and_wait(3, NULL, pids, exit_codes)" },
        { 3, false, true, false, "spawn_and_wait(3, out, NULL, exit_codes)" },
        { 3, false, false, true, "spawn_and_wait(3, out, pids, NULL)" },
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        check_bad_call(&calls[i]);
}

/* ---- suite "fork_failure": a fork fails part way ------------------------------- */

/* Fork number k (1-based) of a call with n fails with EAGAIN: children
 * 0..k-2 were started and must be waited for, no other one may start. */
static void check_failed_fork(int n, int k)
{
    static struct run r;
    call_spawn(&r, n, TO_FILE, (struct plan){ .fail_on = k });
    if (!check_children_exited(&r))
        return;
    int started = k - 1;
    KIT_CHECK(r.ret == -1 && r.err == EAGAIN,
              "n = %d, fork number %d fails with EAGAIN: spawn_and_wait returned %s, expected "
              "-1 with errno EAGAIN (%d), fork's errno%s", n, k, result_str(r.ret, r.err), EAGAIN,
              r.ret == -1 && r.err == ECHILD
                  ? ". ECHILD comes from a wait() that found no child left: save fork's errno "
                    "when it fails, and set it again after the waits"
                  : r.ret == 0 ? ": a fork that returns -1 must not be ignored" : "");
    KIT_CHECK(r.forks <= k, "n = %d, fork number %d fails: spawn_and_wait went on forking "
              "after the failure (%d forks asked for): stop at the first failed fork, wait "
              "for the children already started, and return -1", n, k, r.forks);
    check_reaped(&r, "after a failed fork, once spawn_and_wait had returned");
    struct lines l;
    parse_lines(&r, &l);
    check_parent_line(&r, &l);
    check_child_lines(&r, &l, started);
    for (int i = 0; i < started; i++) {
        if (l.child_count[i] == 1 && l.child_ppid[i] != (long)r.caller) {
            KIT_CHECK(false, "n = %d, fork number %d fails: child %d wrote ppid %ld, expected "
                      "the caller's pid %ld", n, k, i, l.child_ppid[i], (long)r.caller);
            break;
        }
    }
}

static void test_failed_fork_returns_eagain_after_waiting_for_started_children(void)
{
    check_failed_fork(5, 3);
    if (CU_get_number_of_failures() == 0)
        check_failed_fork(8, 2);
}

static void test_first_fork_failing_starts_no_child(void)
{
    check_failed_fork(4, 1);
    if (CU_get_number_of_failures() == 0)
        check_failed_fork(1, 1);
}

static void test_last_of_64_forks_failing_leaves_no_child(void)
{
    check_failed_fork(64, 64);
}

static void test_works_again_after_a_failed_fork(void)
{
    check_failed_fork(6, 4);
    if (CU_get_number_of_failures() != 0)
        return;
    static const int sizes[] = { 6 };
    run_sizes(sizes, 1, 2, TO_FILE, (struct plan){ 0 }, ALL);
}

/* ---- the table ------------------------------------------------------------------ */

static CU_TestInfo output_tests[] = {
    { "test_parent_line_is_written_once_before_any_child_line",
      test_parent_line_is_written_once_before_any_child_line },
    { "test_each_child_writes_one_whole_line", test_each_child_writes_one_whole_line },
    { "test_lines_are_whole_when_out_is_a_pipe", test_lines_are_whole_when_out_is_a_pipe },
    { "test_64_children_started_at_once_write_whole_lines",
      test_64_children_started_at_once_write_whole_lines },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo ids_tests[] = {
    { "test_pids_are_the_children_that_wrote_the_lines",
      test_pids_are_the_children_that_wrote_the_lines },
    { "test_child_ppid_is_the_callers_pid", test_child_ppid_is_the_callers_pid },
    { "test_pids_match_when_children_end_in_reverse_order",
      test_pids_match_when_children_end_in_reverse_order },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo status_tests[] = {
    { "test_exit_codes_are_exactly_i", test_exit_codes_are_exactly_i },
    { "test_exit_codes_match_when_children_end_in_reverse_order",
      test_exit_codes_match_when_children_end_in_reverse_order },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo waiting_tests[] = {
    { "test_no_child_is_left_after_return", test_no_child_is_left_after_return },
    { "test_no_child_is_left_when_the_first_ends_last",
      test_no_child_is_left_when_the_first_ends_last },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo sizes_tests[] = {
    { "test_one_child", test_one_child },
    { "test_64_children", test_64_children },
    { "test_many_calls_in_a_row", test_many_calls_in_a_row },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo arguments_tests[] = {
    { "test_bad_n_is_einval_and_forks_nothing", test_bad_n_is_einval_and_forks_nothing },
    { "test_null_pointers_are_einval_and_fork_nothing",
      test_null_pointers_are_einval_and_fork_nothing },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo fork_failure_tests[] = {
    { "test_failed_fork_returns_eagain_after_waiting_for_started_children",
      test_failed_fork_returns_eagain_after_waiting_for_started_children },
    { "test_first_fork_failing_starts_no_child", test_first_fork_failing_starts_no_child },
    { "test_last_of_64_forks_failing_leaves_no_child",
      test_last_of_64_forks_failing_leaves_no_child },
    { "test_works_again_after_a_failed_fork", test_works_again_after_a_failed_fork },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "output", NULL, NULL, NULL, NULL, output_tests },
    { "ids", NULL, NULL, NULL, NULL, ids_tests },
    { "status", NULL, NULL, NULL, NULL, status_tests },
    { "waiting", NULL, NULL, NULL, NULL, waiting_tests },
    { "sizes", NULL, NULL, NULL, NULL, sizes_tests },
    { "arguments", NULL, NULL, NULL, NULL, arguments_tests },
    { "fork_failure", NULL, NULL, NULL, NULL, fork_failure_tests },
    CU_SUITE_INFO_NULL,
};
