/* test_procmap.c - tests of exercise 14-process-map (procmap.h).
 *
 * Every call of pm_map runs in a child process of the test, the "scene",
 * with a deadline: when the student code waits for ever (a result that
 * never comes, a pipe end that nobody closes), the test kills the scene and
 * every process forked under it and says what usually causes that. The
 * scene holds `in` and `out` in its own private memory, as any caller would:
 * a worker that stores its results in its copy of `out` changes nothing the
 * caller sees. What the scene saw travels back to the test through shared
 * memory: the return value, a copy of out, the processes and file
 * descriptors left behind, the signal settings.
 *
 * fn, the function mapped, is the test's: it counts its calls in shared
 * memory (the scene's progress), notes the process it runs in, and on
 * request crashes, ends its worker, or waits for other workers.
 *
 * The test binary is linked with -Wl,--wrap=fork, -Wl,--wrap=read and
 * -Wl,--wrap=write, so those calls of the code under test come to the
 * __wrap_ functions below first. fork: every fork under a scene is recorded
 * (to kill what a hung scene leaves), counted, and the chosen one fails.
 * read and write: when a test asks, they move fewer bytes than asked, as
 * POSIX allows: reads in the calling process (the only reader of the
 * results), writes of more than PIPE_BUF bytes in any process (smaller
 * writes to a pipe are atomic, and designs rely on that). Or they fail with
 * EINTR in the calling process, as after a signal, while a real timer
 * signal interrupts it too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "procmap.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a scene may go without progress (ms): correct code needs well
 * under 0.1 s for the largest call here. */
#define SCENE_MS 3000L
/* How long fn waits for a second worker to be in fn at the same time (ms). */
#define OVERLAP_MS 1000L
/* How long a slow first item waits for the other workers' items (ms). */
#define SLOW_MS 1000L

enum {
    MAX_FORKS = 64,         /* forks one scene may make; more is a runaway */
    FD_SLOTS = 1024,        /* file descriptors watched (the limit is 256) */
    BIG = 100000,           /* the large array */
};

/* What out[i] holds before the call: no result equals it. */
#define UNSET (LONG_MIN + 12345)

/* ms, scaled for slow runs. */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

/* The input of item i, and back. */
static long input_of(size_t i)
{
    return (long)i * 7 - 500;
}

static size_t index_of(long x)
{
    return (size_t)((x + 500) / 7);
}

/* fn's result: spread over all 64 bits, so that a lost or shifted byte
 * shows. */
static long result_of(long x)
{
    unsigned long u = (unsigned long)x * 0x9E3779B97F4A7C15UL;
    return (long)(u ^ (u >> 29) ^ 0x5BD1E995UL);
}

/* Zeroed memory that the processes forked after this call share. */
static void *shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    KIT_REQUIRE(p != MAP_FAILED, "test harness: mmap of %zu bytes failed: %s", size,
                strerror(errno));
    return p;
}

static void shared_free(void *p, size_t size)
{
    if (munmap(p, size) != 0)
        abort();
}

/* ---- One call of pm_map: what to do, and what happened ---- */

enum fn_kind {
    FN_PLAIN,       /* returns result_of(x) */
    FN_ABORT,       /* item bad_at: abort() */
    FN_SEGV,        /* item bad_at: raise(SIGSEGV) */
    FN_EXIT,        /* item bad_at: _exit(exit_status) */
    FN_SLOW_FIRST,  /* item 0 waits until the other workers' items are done */
    FN_OVERLAP,     /* a process's first call waits for a second process in fn */
};

struct call {
    /* Set by the test. */
    size_t n;
    int nworkers;
    enum fn_kind kind;
    size_t bad_at;
    int exit_status;
    bool null_fn, null_in, null_out;
    bool short_io;              /* short reads and writes */
    bool eintr;                 /* EINTR from reads and writes, and a timer signal */
    int fail_fork_at;           /* this fork (1-based) fails with EAGAIN; 0: none */
    int nofile_room;            /* >= 0: free descriptor slots left by RLIMIT_NOFILE */
    bool pending_stdio;         /* a stdio buffer holds an unflushed line */
    long *outs;                 /* shared: the scene's out after the call */
    pid_t *pid_of;              /* shared: the process fn ran in, per item */

    /* Set under the scene. */
    atomic_long calls;          /* fn calls, in any process */
    atomic_long calls_in_caller;
    atomic_long progress;       /* raised by fn as it goes: the scene is alive */
    atomic_int inside;          /* FN_OVERLAP: processes in fn now */
    atomic_bool overlap;        /* FN_OVERLAP: two were in fn at once */
    atomic_int exits;           /* atexit handlers run (exit() in a worker) */
    atomic_long short_reads, short_writes, eintrs;  /* what the wrappers did */
    bool returned;              /* the scene came back from pm_map */
    int rc;
    long ms;                    /* how long pm_map took */
    pid_t left;                 /* waitpid(-1, NULL, WNOHANG) right after */
    int left_errno;
    int leaked, leaked_fd;      /* descriptors open after but not before */
    int global_after;           /* the caller's copy of fn's global counter */
    bool sigpipe_changed, sigchld_changed, mask_changed;
    int line_copies;            /* pending_stdio: copies of the line in the file */
};

/* Every fork made under a scene, in memory the test and its descendants share. */
struct fork_log {
    atomic_int fail_at;     /* the n-th fork under the scene fails (EAGAIN); 0: none */
    atomic_int asked;       /* forks asked for under the scene */
    atomic_int npids;
    atomic_int pids[MAX_FORKS];
    atomic_int strays;      /* processes that came back into the scene's code */
};

static struct fork_log *fork_log;
static pid_t scene_pid;         /* in a scene: the scene's own process; 0 outside */
static struct call *cur;        /* in a scene: its call */
static int fn_global;           /* fn adds 1 in whichever process runs it */
static bool waited_here;        /* FN_OVERLAP: this process already waited once */

/* ---- The wrappers ---- */

pid_t __real_fork(void);
pid_t __wrap_fork(void);
ssize_t __real_read(int fd, void *buf, size_t count);
ssize_t __wrap_read(int fd, void *buf, size_t count);
ssize_t __real_write(int fd, const void *buf, size_t count);
ssize_t __wrap_write(int fd, const void *buf, size_t count);

pid_t __wrap_fork(void)
{
    struct fork_log *log = fork_log;
    if (!log || scene_pid == 0)
        return __real_fork();
    int nth = atomic_fetch_add(&log->asked, 1) + 1;
    if (nth == atomic_load(&log->fail_at) || nth > MAX_FORKS) {
        errno = EAGAIN;
        return -1;
    }
    pid_t pid = __real_fork();
    if (pid > 0) {
        int i = atomic_fetch_add(&log->npids, 1);
        if (i < MAX_FORKS)
            atomic_store(&log->pids[i], pid);
    }
    return pid;
}

/* Set by the scene around pm_map only; workers inherit a copy. */
static pid_t io_caller;         /* the process calling pm_map; 0: wrappers off */
static bool io_short, io_eintr;
static unsigned io_seq;         /* this process's wrapped calls so far */

/* A length in [1, count - 1] that changes from call to call. */
static size_t part_of(size_t count, unsigned k)
{
    return 1 + (size_t)((k * 2654435761u) >> 7) % (count - 1);
}

ssize_t __wrap_read(int fd, void *buf, size_t count)
{
    if (io_caller == 0 || count == 0 || getpid() != io_caller)
        return __real_read(fd, buf, count);
    unsigned k = io_seq++;
    if (io_eintr && k % 4 == 1) {
        atomic_fetch_add(&cur->eintrs, 1);
        errno = EINTR;
        return -1;
    }
    if (io_short && count > 1 && k % 3 != 2) {
        ssize_t r = __real_read(fd, buf, part_of(count, k));
        if (r > 0)
            atomic_fetch_add(&cur->short_reads, 1);
        return r;
    }
    return __real_read(fd, buf, count);
}

ssize_t __wrap_write(int fd, const void *buf, size_t count)
{
    if (io_caller == 0 || count == 0)
        return __real_write(fd, buf, count);
    unsigned k = io_seq++;
    if (io_eintr && k % 4 == 1 && getpid() == io_caller) {
        atomic_fetch_add(&cur->eintrs, 1);
        errno = EINTR;
        return -1;
    }
    if (io_short && count > PIPE_BUF && k % 3 != 2) {
        ssize_t w = __real_write(fd, buf, part_of(count, k));
        if (w > 0)
            atomic_fetch_add(&cur->short_writes, 1);
        return w;
    }
    return __real_write(fd, buf, count);
}

/* ---- fn ---- */

/* Sleeps 1 ms, showing the scene is alive. */
static void tick(void)
{
    atomic_fetch_add(&cur->progress, 1);
    kit_sleep_ms(1);
}

static long the_fn(long x)
{
    struct call *c = cur;
    size_t i = index_of(x);
    atomic_fetch_add(&c->progress, 1);
    atomic_fetch_add(&c->calls, 1);
    if (getpid() == scene_pid)
        atomic_fetch_add(&c->calls_in_caller, 1);
    fn_global++;
    if (c->pid_of && i < c->n)
        c->pid_of[i] = getpid();
    switch (c->kind) {
    case FN_PLAIN:
        break;
    case FN_ABORT:
        if (i == c->bad_at)
            abort();
        break;
    case FN_SEGV:
        if (i == c->bad_at)
            raise(SIGSEGV);
        break;
    case FN_EXIT:
        if (i == c->bad_at)
            _exit(c->exit_status);
        break;
    case FN_SLOW_FIRST:
        /* Item 0 waits until the other workers have done their share (the
         * calls of other processes), then a little more, so that their
         * results are sent before item 0's. */
        if (i == 0) {
            long until = kit_now_ms() + scaled(SLOW_MS);
            long others = (long)c->n - ((long)c->n + c->nworkers - 1) / c->nworkers;
            long mine = fn_global;
            while (atomic_load(&c->calls) - mine < others && kit_now_ms() < until)
                tick();
            for (int k = 0; k < 100; k++)
                tick();
        }
        break;
    case FN_OVERLAP:
        if (atomic_fetch_add(&c->inside, 1) >= 1)
            atomic_store(&c->overlap, true);
        if (!waited_here) {
            waited_here = true;
            long until = kit_now_ms() + scaled(OVERLAP_MS);
            while (!atomic_load(&c->overlap) && kit_now_ms() < until)
                tick();
        }
        atomic_fetch_sub(&c->inside, 1);
        break;
    }
    return result_of(x);
}

/* ---- The scene ---- */

static void note_exit(void)
{
    if (cur && getpid() != scene_pid)
        atomic_fetch_add(&cur->exits, 1);
}

/* A worker that came back into the scene's code: counted and ended. */
static void end_if_stray(void)
{
    if (getpid() != scene_pid) {
        atomic_fetch_add(&fork_log->strays, 1);
        _exit(0);
    }
}

/* The open descriptors of this process. */
static void list_fds(bool open[FD_SLOTS])
{
    memset(open, 0, FD_SLOTS);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int fd = atoi(e->d_name);
        if (fd != self && fd >= 0 && fd < FD_SLOTS)
            open[fd] = true;
    }
    closedir(d);
}

static int highest_fd(void)
{
    bool open[FD_SLOTS];
    list_fds(open);
    int hi = 2;
    for (int fd = 0; fd < FD_SLOTS; fd++)
        if (open[fd])
            hi = fd;
    return hi;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static const char PENDING_LINE[] = "a line the caller wrote but has not flushed yet\n";

/* Counts PENDING_LINE in the file behind f, once the caller flushed it. */
static int count_lines(FILE *f)
{
    char buf[1024];
    fflush(f);
    rewind(f);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = '\0';
    int copies = 0;
    for (char *p = buf; (p = strstr(p, PENDING_LINE)) != NULL; p += sizeof PENDING_LINE - 1)
        copies++;
    return copies;
}

static bool signals_differ(const sigset_t *a, const sigset_t *b)
{
    for (int s = 1; s < NSIG; s++)
        if (sigismember(a, s) != sigismember(b, s))
            return true;
    return false;
}

/* The scene: calls pm_map as c says, in private memory, and reports. */
static void scene_main(struct call *c)
{
    scene_pid = getpid();
    cur = c;
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);   /* crashing workers leave no core files */
    if (atexit(note_exit) != 0)
        _exit(3);
    size_t slots = c->n ? c->n : 1;
    long *in = NULL, *out = NULL;
    if (!c->null_in) {
        in = malloc(slots * sizeof *in);
        if (!in)
            _exit(3);
        for (size_t i = 0; i < c->n; i++)
            in[i] = input_of(i);
    }
    if (!c->null_out) {
        out = malloc(slots * sizeof *out);
        if (!out)
            _exit(3);
        for (size_t i = 0; i < slots; i++)
            out[i] = UNSET;
    }
    FILE *pending = NULL;
    if (c->pending_stdio) {
        pending = tmpfile();
        if (!pending || setvbuf(pending, NULL, _IOFBF, BUFSIZ) != 0)
            _exit(3);
        fputs(PENDING_LINE, pending);   /* stays in the buffer: not flushed */
    }

    bool fds_before[FD_SLOTS], fds_after[FD_SLOTS];
    list_fds(fds_before);
    struct sigaction pipe_before, chld_before, pipe_after, chld_after;
    sigset_t mask_before, mask_after;
    sigaction(SIGPIPE, NULL, &pipe_before);
    sigaction(SIGCHLD, NULL, &chld_before);
    sigprocmask(SIG_BLOCK, NULL, &mask_before);

    struct sigaction alarm_old;
    struct itimerval tick_1ms = { { 0, 1000 }, { 0, 1000 } }, stop = { { 0, 0 }, { 0, 0 } };
    if (c->eintr) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;   /* no SA_RESTART: blocking calls fail with EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, &alarm_old);
        setitimer(ITIMER_REAL, &tick_1ms, NULL);
    }
    struct rlimit nofile_old;
    getrlimit(RLIMIT_NOFILE, &nofile_old);
    if (c->nofile_room >= 0) {
        struct rlimit low = { (rlim_t)(highest_fd() + 1 + c->nofile_room), nofile_old.rlim_max };
        setrlimit(RLIMIT_NOFILE, &low);
    }
    atomic_store(&fork_log->fail_at, c->fail_fork_at);
    io_short = c->short_io;
    io_eintr = c->eintr;
    io_caller = scene_pid;

    long start = kit_now_ms();
    int rc = pm_map(c->null_fn ? NULL : the_fn, in, out, c->n, c->nworkers);
    end_if_stray();
    c->ms = kit_now_ms() - start;

    io_caller = 0;
    atomic_store(&fork_log->fail_at, 0);
    setrlimit(RLIMIT_NOFILE, &nofile_old);
    if (c->eintr) {
        setitimer(ITIMER_REAL, &stop, NULL);
        sigaction(SIGALRM, &alarm_old, NULL);
    }
    c->rc = rc;
    errno = 0;
    c->left = waitpid(-1, NULL, WNOHANG);
    c->left_errno = errno;

    list_fds(fds_after);
    for (int fd = 0; fd < FD_SLOTS; fd++)
        if (fds_after[fd] && !fds_before[fd] && c->leaked++ == 0)
            c->leaked_fd = fd;
    sigaction(SIGPIPE, NULL, &pipe_after);
    sigaction(SIGCHLD, NULL, &chld_after);
    sigprocmask(SIG_BLOCK, NULL, &mask_after);
    c->sigpipe_changed = pipe_after.sa_handler != pipe_before.sa_handler;
    c->sigchld_changed = chld_after.sa_handler != chld_before.sa_handler;
    c->mask_changed = signals_differ(&mask_before, &mask_after);
    c->global_after = fn_global;
    if (out)
        memcpy(c->outs, out, slots * sizeof *out);
    if (pending)
        c->line_copies = count_lines(pending);
    c->returned = true;
}

/* The parent of pid, from /proc; -1 if unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end_of_name = strrchr(buf, ')');
    int ppid;
    if (!end_of_name || sscanf(end_of_name + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

static bool descends_from(pid_t pid, pid_t ancestor)
{
    for (int depth = 0; depth < 16 && pid > 1; depth++) {
        pid = parent_of(pid);
        if (pid == ancestor)
            return true;
    }
    return false;
}

/* Kills a scene that overran its deadline, and every recorded process under
 * it, then reaps the scene. Stopped first, the scene reaps nothing more, so
 * the pids of its children stay theirs while they are killed. */
static void kill_scene(pid_t scene)
{
    kill(scene, SIGSTOP);
    int n = atomic_load(&fork_log->npids), nv = 0;
    pid_t victims[MAX_FORKS];
    for (int i = 0; i < n && i < MAX_FORKS; i++) {
        pid_t pid = atomic_load(&fork_log->pids[i]);
        if (pid > 0 && descends_from(pid, scene))
            victims[nv++] = pid;
    }
    for (int i = 0; i < nv; i++)
        kill(victims[i], SIGKILL);
    kill(scene, SIGKILL);
    while (waitpid(scene, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* In a scene that is ending: kills and reaps its children still running. */
static void reap_leftovers(void)
{
    int n = atomic_load(&fork_log->npids);
    for (int i = 0; i < n && i < MAX_FORKS; i++) {
        pid_t pid = atomic_load(&fork_log->pids[i]);
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {   /* ours, running */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

enum scene_end { SCENE_OK, SCENE_HUNG, SCENE_DIED };

/* "exited with status 3", "was killed by signal 6 (Aborted)" */
static const char *how_it_ended(int status)
{
    static char buf[128];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, sizeof buf, "ended with wait status %d", status);
    return buf;
}

/* "pm_map(fn, in, out, 7, 2)", for messages (one at a time). */
static const char *call_text(const struct call *c)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "pm_map(%s, %s, %s, %zu, %d)", c->null_fn ? "NULL" : "fn",
             c->null_in ? "NULL" : "in", c->null_out ? "NULL" : "out", c->n, c->nworkers);
    return buf;
}

/* "calling abort() at in[4]": what fn does on purpose, for messages. */
static const char *fn_text(const struct call *c)
{
    static char buf[96];
    switch (c->kind) {
    case FN_ABORT:
        snprintf(buf, sizeof buf, "calling abort() at in[%zu]", c->bad_at);
        break;
    case FN_SEGV:
        snprintf(buf, sizeof buf, "raising SIGSEGV at in[%zu]", c->bad_at);
        break;
    case FN_EXIT:
        snprintf(buf, sizeof buf, "calling _exit(%d) at in[%zu]", c->exit_status, c->bad_at);
        break;
    default:
        buf[0] = '\0';
    }
    return buf;
}

/* A fresh call of pm_map(fn, in, out, n, nworkers) with shared memory for
 * what it leaves; free it with call_free. */
static struct call *call_new(size_t n, int nworkers)
{
    if (!fork_log)
        fork_log = shared_alloc(sizeof *fork_log);
    struct call *c = shared_alloc(sizeof *c);
    c->n = n;
    c->nworkers = nworkers;
    c->nofile_room = -1;
    c->outs = shared_alloc((n ? n : 1) * sizeof *c->outs);
    return c;
}

static void call_free(struct call *c)
{
    if (c->pid_of)
        shared_free(c->pid_of, (c->n ? c->n : 1) * sizeof *c->pid_of);
    shared_free(c->outs, (c->n ? c->n : 1) * sizeof *c->outs);
    shared_free(c, sizeof *c);
}

/* Runs the call in a scene and waits while it makes progress; ends the test
 * when it hangs, dies or lets a worker come back into the caller's code. */
static void run(struct call *c)
{
    atomic_store(&fork_log->fail_at, 0);
    atomic_store(&fork_log->asked, 0);
    atomic_store(&fork_log->npids, 0);
    atomic_store(&fork_log->strays, 0);
    fflush(NULL);
    pid_t pid = __real_fork();
    KIT_REQUIRE(pid >= 0, "test harness: fork failed: %s", strerror(errno));
    if (pid == 0) {
        scene_main(c);
        reap_leftovers();
        _exit(0);
    }
    int status = 0;
    enum scene_end end = SCENE_HUNG;
    long last = atomic_load(&c->progress), last_change = kit_now_ms();
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            end = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? SCENE_OK : SCENE_DIED;
            break;
        }
        if (r < 0 && errno != EINTR)
            abort();
        long now = kit_now_ms(), p = atomic_load(&c->progress);
        if (p != last) {
            last = p;
            last_change = now;
        } else if (now - last_change > scaled(SCENE_MS)) {
            kill_scene(pid);
            break;
        }
        kit_sleep_ms(1);
    }
    KIT_REQUIRE(atomic_load(&fork_log->strays) == 0, "%s: %d worker process(es) returned "
                "from pm_map into the caller's code: a worker is a copy of the caller, so "
                "when it is done it must end with _exit(), never return",
                call_text(c), atomic_load(&fork_log->strays));
    KIT_REQUIRE(end != SCENE_DIED, "the process that called %s %s%s", call_text(c),
                how_it_ended(status),
                WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE
                    ? ": it wrote to a pipe that no process reads any more (its workers "
                      "had ended); SIGPIPE kills such a writer unless it is blocked or "
                      "ignored while pm_map runs, and then write fails with EPIPE"
                    : "");
    bool crash = c->kind == FN_ABORT || c->kind == FN_SEGV || c->kind == FN_EXIT;
    KIT_REQUIRE((end == SCENE_OK && c->returned) || crash, "%s did not return: nothing "
                "happened for %ld ms after fn had been called %ld times for %zu items. "
                "Usually the parent waits for a worker (waitpid) before reading all its "
                "results, while the worker waits for ever in write() on its full pipe (a "
                "pipe holds 64 KiB, 8192 longs): read every result first, then wait. Or "
                "the parent waits for results that no worker will send", call_text(c),
                scaled(SCENE_MS), atomic_load(&c->calls), c->n);
    KIT_REQUIRE(end == SCENE_OK && c->returned, "%s, with fn %s, did not return: nothing "
                "happened for %ld ms after fn had been called %ld times. The parent still "
                "waits for the dead worker's results, or for its pipe to end; but a pipe "
                "ends only when no process holds its write end any more: the parent must "
                "close its copy right after fork, and each worker must close the pipe ends "
                "it inherited and does not use (another worker's write end keeps the pipe "
                "open). Or a live worker waits for ever in write() on a full pipe that "
                "nobody reads", call_text(c), fn_text(c), scaled(SCENE_MS),
                atomic_load(&c->calls));
}

/* ---- Checks ---- */

static bool is_result(size_t i, long v)
{
    return v == result_of(input_of(i));
}

/* out is fn(in[i]) everywhere. */
static void check_out(const struct call *c)
{
    size_t unset = 0, wrong = 0, first = c->n;
    for (size_t i = 0; i < c->n; i++) {
        if (is_result(i, c->outs[i]))
            continue;
        if (first == c->n)
            first = i;
        if (c->outs[i] == UNSET)
            unset++;
        else
            wrong++;
    }
    if (first == c->n)
        return;
    long v = c->outs[first];
    if (wrong == 0 && unset == c->n) {
        KIT_CHECK(false, "%s returned 0 but left every out[i] as it was: the results "
                  "never reached the caller. A worker is a copy of the caller: storing "
                  "into out in the worker changes the worker's copy only. Send the "
                  "results through a pipe and store them in out in the parent",
                  call_text(c));
        return;
    }
    if (v == UNSET) {
        KIT_CHECK(false, "%s returned 0 but out[%zu] never got a result (%zu item(s) "
                  "never set, %zu wrong): is every item in some worker's share? With n "
                  "items and w workers, the chunks must also cover the remainder of n / w",
                  call_text(c), first, unset, wrong);
        return;
    }
    size_t from = c->n;
    for (size_t j = 0; j < c->n && from == c->n; j++)
        if (is_result(j, v))
            from = j;
    if (from != c->n)
        KIT_CHECK(false, "%s: out[%zu] holds fn(in[%zu]), the result of another item "
                  "(%zu item(s) wrong, %zu never set): results must be stored in input "
                  "order, out[i] = fn(in[i]), whichever worker finishes first",
                  call_text(c), first, from, wrong, unset);
    else
        KIT_CHECK(false, "%s: out[%zu] is %ld, expected fn(in[%zu]) = %ld (%zu item(s) "
                  "wrong, %zu never set): a value that no fn call returned. Was a result "
                  "read only in part? read() may return fewer bytes than asked: loop "
                  "until all the bytes of every value have come", call_text(c), first, v,
                  first, result_of(input_of(first)), wrong, unset);
}

/* After an error: each out[i] is as it was or fn(in[i]). */
static void check_out_after_error(const struct call *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->outs[i] != UNSET && !is_result(i, c->outs[i])) {
            KIT_CHECK(false, "%s returned %d (%s), and out[%zu] is %ld: after an error each "
                      "out[i] must hold fn(in[i]) or the value it had before the call, "
                      "never anything else (a half-read value, a result of another item)",
                      call_text(c), c->rc, strerror(c->rc), i, c->outs[i]);
            return;
        }
}

/* Nothing left behind: processes, descriptors, signal settings. */
static void check_clean(const struct call *c)
{
    KIT_CHECK(c->left == -1 && c->left_errno == ECHILD, "after %s returned %d (%s), "
              "waitpid(-1, NULL, WNOHANG) gave %d instead of -1 with ECHILD: %s",
              call_text(c), c->rc, strerror(c->rc), (int)c->left,
              c->left > 0 ? "a worker was never waited for and stayed a zombie: waitpid "
              "every process you forked, also when something went wrong"
              : "a worker process was still running: wait for every worker before "
              "returning (after an error, kill them first if they are of no use)");
    KIT_CHECK(c->leaked == 0, "%s returned %d (%s) but left %d file descriptor(s) open "
              "(fd %d for one): close both ends of every pipe in the parent once done, "
              "also when something went wrong", call_text(c), c->rc, strerror(c->rc),
              c->leaked, c->leaked_fd);
    KIT_CHECK(!c->sigpipe_changed && !c->sigchld_changed && !c->mask_changed,
              "%s changed the caller's signal settings (%s%s%s): a library function "
              "must leave them as it found them (restore what you change)", call_text(c),
              c->sigpipe_changed ? "SIGPIPE's handler " : "",
              c->sigchld_changed ? "SIGCHLD's handler " : "",
              c->mask_changed ? "the signal mask" : "");
    KIT_CHECK(atomic_load(&c->exits) == 0, "%s: %d worker(s) ran the caller's atexit "
              "handlers: a worker must end with _exit(), not exit(); exit() runs the "
              "handlers and flushes the stdio buffers it inherited from the caller",
              call_text(c), atomic_load(&c->exits));
}

/* The checks of a call that must succeed. */
static void check_ok(const struct call *c)
{
    KIT_REQUIRE(c->rc == 0, "%s returned %d (%s), expected 0%s", call_text(c), c->rc,
                strerror(c->rc),
                c->rc == ECHILD ? ": no worker died here. Did a worker end before sending "
                "all its results (a write() may write fewer bytes than asked: loop), or "
                "was a read that returned fewer bytes, or -1 with EINTR, taken for the "
                "end of the pipe?"
                : c->rc == EINTR ? ": a read, write or waitpid interrupted by a signal "
                "(EINTR) is not an error: do it again" : "");
    check_out(c);
    KIT_CHECK(atomic_load(&c->calls) == (long)c->n, "%s called fn %ld times, expected once "
              "per item (%zu)", call_text(c), atomic_load(&c->calls), c->n);
    KIT_CHECK(atomic_load(&c->calls_in_caller) == 0, "%s called fn %ld times in the calling "
              "process: fn must run in the worker processes only", call_text(c),
              atomic_load(&c->calls_in_caller));
    int forks = atomic_load(&fork_log->asked);
    KIT_CHECK(forks <= c->nworkers, "%s forked %d processes: at most nworkers (%d) "
              "workers may be started", call_text(c), forks, c->nworkers);
    check_clean(c);
}

/* True once the test has failed: a loop of calls stops at the first. */
static bool failed(void)
{
    return CU_get_number_of_failures() != 0;
}

/* One call that must succeed; true if it did. */
static bool map_ok(size_t n, int nworkers)
{
    struct call *c = call_new(n, nworkers);
    run(c);
    check_ok(c);
    call_free(c);
    return !failed();
}

/* ---- Suite "results" ---- */

static void test_results_are_exact_and_in_input_order(void)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 64, 1000 };
    static const int workers[] = { 1, 2, 3, 8 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t w = 0; w < sizeof workers / sizeof workers[0]; w++)
            if (!map_ok(sizes[s], workers[w]))
                return;
}

static void test_no_items_gives_0_and_calls_nothing(void)
{
    static const int workers[] = { 1, 4 };
    for (size_t w = 0; w < 2; w++)
        for (int nulls = 0; nulls <= 1; nulls++) {
            struct call *c = call_new(0, workers[w]);
            c->null_in = c->null_out = nulls;
            run(c);
            KIT_CHECK(c->rc == 0, "%s returned %d (%s), expected 0: mapping no items is "
                      "valid (in and out may be NULL then) and gives nothing", call_text(c),
                      c->rc, strerror(c->rc));
            KIT_CHECK(atomic_load(&c->calls) == 0, "%s called fn %ld times: there is no "
                      "item", call_text(c), atomic_load(&c->calls));
            check_clean(c);
            call_free(c);
            if (failed())
                return;
        }
}

static void test_more_workers_than_items(void)
{
    static const struct { size_t n; int nworkers; } cases[] = {
        { 1, 2 }, { 1, 8 }, { 3, 8 }, { 5, 12 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        if (!map_ok(cases[k].n, cases[k].nworkers))
            return;
}

static void test_100000_items_come_back_whole(void)
{
    static const int workers[] = { 1, 2, 8 };
    for (size_t w = 0; w < 3; w++)
        if (!map_ok(BIG, workers[w]))
            return;
}

static void test_results_keep_input_order_when_the_first_item_finishes_last(void)
{
    static const struct { size_t n; int nworkers; } cases[] = { { 64, 4 }, { 30, 2 } };
    for (size_t k = 0; k < 2; k++) {
        struct call *c = call_new(cases[k].n, cases[k].nworkers);
        c->kind = FN_SLOW_FIRST;
        run(c);
        check_ok(c);
        call_free(c);
        if (failed())
            return;
    }
}

/* ---- Suite "processes" ---- */

static void test_fn_runs_in_worker_processes_not_in_the_caller(void)
{
    static const struct { size_t n; int nworkers; } cases[] = {
        { 5, 1 }, { 40, 2 }, { 200, 4 }, { 3, 8 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct call *c = call_new(cases[k].n, cases[k].nworkers);
        c->pid_of = shared_alloc(c->n * sizeof *c->pid_of);
        run(c);
        check_ok(c);
        pid_t forked[MAX_FORKS];
        int nforked = atomic_load(&fork_log->npids);
        for (int i = 0; i < nforked && i < MAX_FORKS; i++)
            forked[i] = atomic_load(&fork_log->pids[i]);
        pid_t seen[MAX_FORKS];
        int nseen = 0;
        for (size_t i = 0; i < c->n; i++) {
            pid_t p = c->pid_of[i];
            bool known = false;
            for (int j = 0; j < nforked && j < MAX_FORKS && !known; j++)
                known = forked[j] == p;
            if (!known) {
                KIT_CHECK(false, "%s: fn(in[%zu]) ran in process %d, which is not a "
                          "process pm_map forked: every fn call belongs in a worker",
                          call_text(c), i, (int)p);
                break;
            }
            bool again = false;
            for (int j = 0; j < nseen && !again; j++)
                again = seen[j] == p;
            if (!again && nseen < MAX_FORKS)
                seen[nseen++] = p;
        }
        KIT_CHECK(nseen <= c->nworkers, "%s: fn ran in %d different processes, more than "
                  "the %d workers asked for: a pool hands all the items to its nworkers "
                  "workers, it does not start a process per item", call_text(c), nseen,
                  c->nworkers);
        call_free(c);
        if (failed())
            return;
    }
}

static void test_a_global_changed_by_fn_is_unchanged_in_the_caller(void)
{
    static const int workers[] = { 1, 3 };
    for (size_t w = 0; w < 2; w++) {
        struct call *c = call_new(50, workers[w]);
        run(c);
        check_ok(c);
        KIT_CHECK(c->global_after == 0, "%s: fn adds 1 to a global variable at each call, "
                  "and in the caller that global went from 0 to %d: fn ran in the calling "
                  "process. In a worker it changes the worker's copy only, which is the "
                  "point: processes share no memory", call_text(c), c->global_after);
        call_free(c);
        if (failed())
            return;
    }
}

static void test_workers_run_at_the_same_time(void)
{
    static const int workers[] = { 2, 4 };
    for (size_t w = 0; w < 2; w++) {
        struct call *c = call_new(2000, workers[w]);
        c->kind = FN_OVERLAP;
        run(c);
        check_ok(c);
        KIT_CHECK(atomic_load(&c->overlap), "%s: no two workers were ever in fn at the "
                  "same time (fn waited %ld ms for a second one): start every worker "
                  "before waiting for any (in Python, start() all the processes, then "
                  "join() them), and let them all work while the parent reads",
                  call_text(c), scaled(OVERLAP_MS));
        call_free(c);
        if (failed())
            return;
    }
}

static void test_workers_end_with__exit_and_leave_the_callers_buffers_alone(void)
{
    struct call *c = call_new(20, 3);
    c->pending_stdio = true;
    run(c);
    check_ok(c);
    KIT_CHECK(c->line_copies == 1, "%s: a line the caller had written to a file but not "
              "yet flushed appears %d times in the file, expected once: each worker "
              "inherits a copy of the caller's stdio buffers, and exit() (or returning "
              "from main) flushes them. A worker must end with _exit()",
              call_text(c), c->line_copies);
    call_free(c);
}

/* ---- Suite "pipes" ---- */

static void test_short_reads_and_writes_are_continued(void)
{
    static const size_t sizes[] = { 1, 5, 1000, 30000, BIG };
    static const int workers[] = { 1, 3 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t w = 0; w < 2; w++) {
            struct call *c = call_new(sizes[s], workers[w]);
            c->short_io = true;
            run(c);
            KIT_REQUIRE(c->rc == 0, "%s, with read() and write() moving fewer bytes than "
                        "asked part of the time (as POSIX allows; %ld short reads, %ld "
                        "short writes), returned %d (%s), expected 0: read and write "
                        "return how many bytes they moved; loop until every byte has "
                        "gone through. Only 0 from read() means the end of the pipe",
                        call_text(c), atomic_load(&c->short_reads),
                        atomic_load(&c->short_writes), c->rc, strerror(c->rc));
            check_ok(c);
            call_free(c);
            if (failed())
                return;
        }
}

static void test_reads_and_writes_interrupted_by_a_signal_are_retried(void)
{
    static const struct { size_t n; int nworkers; } cases[] = {
        { 1000, 2 }, { 20000, 3 }, { BIG, 2 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct call *c = call_new(cases[k].n, cases[k].nworkers);
        c->eintr = true;
        run(c);
        KIT_REQUIRE(c->rc == 0, "%s, called with a timer signal arriving every "
                    "millisecond (its handler installed without SA_RESTART, so that "
                    "blocking calls fail with EINTR; the test also made %ld reads and "
                    "writes fail so), "
                    "returned %d (%s), expected 0: read, write and waitpid failing with "
                    "errno EINTR did nothing; call them again", call_text(c),
                    atomic_load(&c->eintrs), c->rc, strerror(c->rc));
        check_ok(c);
        call_free(c);
        if (failed())
            return;
    }
}

/* ---- Suite "crashes" ---- */

static void check_crash(const struct call *c)
{
    KIT_REQUIRE(c->rc == ECHILD, "%s, with fn %s, returned %d (%s), expected ECHILD (%d): "
                "a worker that dies before sending all its results must be reported. The "
                "pipe from a dead worker ends early (read returns 0 before all its values "
                "came), and waitpid says how it ended", call_text(c), fn_text(c), c->rc,
                strerror(c->rc), ECHILD);
    KIT_CHECK(c->outs[c->bad_at] == UNSET, "%s, with fn %s: out[%zu] was changed to %ld, "
              "yet fn never returned for that item", call_text(c), fn_text(c), c->bad_at,
              c->outs[c->bad_at]);
    check_out_after_error(c);
    check_clean(c);
    int forks = atomic_load(&fork_log->asked);
    KIT_CHECK(forks <= c->nworkers, "%s, with fn %s, forked %d processes: at most nworkers "
              "(%d); a dead worker is reported, not replaced", call_text(c), fn_text(c),
              forks, c->nworkers);
}

struct crash_case { size_t n; int nworkers; size_t bad_at; };

/* Small and large; the first item, the last, one in the middle; with 4
 * workers and the first item, the other workers fill their pipes while the
 * parent waits on the dead one's. */
static const struct crash_case crash_cases[] = {
    { 1, 1, 0 }, { 10, 3, 4 }, { BIG, 4, 0 }, { BIG, 2, BIG - 1 }, { BIG, 1, BIG / 2 },
};

static void crash_each(enum fn_kind kind, int exit_status)
{
    for (size_t k = 0; k < sizeof crash_cases / sizeof crash_cases[0]; k++) {
        struct call *c = call_new(crash_cases[k].n, crash_cases[k].nworkers);
        c->kind = kind;
        c->bad_at = crash_cases[k].bad_at;
        c->exit_status = exit_status;
        run(c);
        check_crash(c);
        call_free(c);
        if (failed())
            return;
    }
}

static void test_a_worker_killed_by_abort_is_reported_as_echild(void)
{
    crash_each(FN_ABORT, 0);
}

static void test_a_worker_killed_by_sigsegv_is_reported_as_echild(void)
{
    crash_each(FN_SEGV, 0);
}

static void test_a_worker_that_exits_part_way_is_reported_as_echild(void)
{
    crash_each(FN_EXIT, 3);
    if (!failed())
        crash_each(FN_EXIT, 0);
}

/* ---- Suite "cleanup" ---- */

static void test_no_zombie_and_no_descriptor_left_after_many_calls(void)
{
    static const struct { size_t n; int nworkers; } cases[] = {
        { 10, 4 }, { 1, 1 }, { 5000, 3 }, { 2, 8 }, { 100, 2 }, { 64, 6 },
    };
    for (int round = 0; round < 2; round++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            if (!map_ok(cases[k].n, cases[k].nworkers))
                return;
}

/* ---- Suite "errors" ---- */

static void test_bad_arguments_are_einval_and_fork_nothing(void)
{
    static const struct { size_t n; int nworkers; bool null_fn, null_in, null_out; } cases[] = {
        { 5, 0, false, false, false },
        { 5, -1, false, false, false },
        { 5, INT_MIN, false, false, false },
        { 5, 2, true, false, false },
        { 5, 2, false, true, false },
        { 5, 2, false, false, true },
        { 0, 0, false, true, true },
        { 0, 2, true, true, true },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct call *c = call_new(cases[k].n, cases[k].nworkers);
        c->null_fn = cases[k].null_fn;
        c->null_in = cases[k].null_in;
        c->null_out = cases[k].null_out;
        run(c);
        KIT_CHECK(c->rc == EINVAL, "%s returned %d (%s), expected EINVAL (%d)%s",
                  call_text(c), c->rc, strerror(c->rc), EINVAL,
                  c->nworkers < 1 ? ": a pool needs at least one worker (Python's "
                  "Pool(0) raises ValueError)" : "");
        KIT_CHECK(atomic_load(&fork_log->asked) == 0, "%s forked %d processes: check the "
                  "arguments before forking anything", call_text(c),
                  atomic_load(&fork_log->asked));
        KIT_CHECK(atomic_load(&c->calls) == 0, "%s called fn %ld times", call_text(c),
                  atomic_load(&c->calls));
        check_clean(c);
        call_free(c);
    }
}

static void test_a_failed_fork_is_reported_and_leaves_nothing_behind(void)
{
    static const int fail_at[] = { 1, 2, 4 };
    for (size_t k = 0; k < 3; k++) {
        struct call *c = call_new(40000, 4);
        c->fail_fork_at = fail_at[k];
        run(c);
        KIT_CHECK(c->rc == EAGAIN, "%s, when fork number %d fails with EAGAIN, returned "
                  "%d (%s), expected EAGAIN (%d): return the errno of the failed fork",
                  call_text(c), fail_at[k], c->rc, strerror(c->rc), EAGAIN);
        check_out_after_error(c);
        check_clean(c);
        call_free(c);
        if (failed())
            return;
    }
}

static void test_a_failed_pipe_is_reported_and_leaves_nothing_behind(void)
{
    static const int rooms[] = { 0, 1, 2, 3, 4, 5, 7 };
    for (size_t k = 0; k < sizeof rooms / sizeof rooms[0]; k++) {
        struct call *c = call_new(40000, 4);
        c->nofile_room = rooms[k];
        run(c);
        KIT_CHECK(c->rc == 0 || c->rc == EMFILE, "%s, with room for only %d more file "
                  "descriptors, returned %d (%s), expected EMFILE (%d) from the pipe() "
                  "that failed (or 0 if every pipe it needed fitted)", call_text(c),
                  rooms[k], c->rc, strerror(c->rc), EMFILE);
        if (c->rc == 0)
            check_out(c);
        else
            check_out_after_error(c);
        check_clean(c);
        call_free(c);
        if (failed())
            return;
    }
}

/* ---- Suites ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo results_tests[] = {
    TEST(test_results_are_exact_and_in_input_order),
    TEST(test_no_items_gives_0_and_calls_nothing),
    TEST(test_more_workers_than_items),
    TEST(test_100000_items_come_back_whole),
    TEST(test_results_keep_input_order_when_the_first_item_finishes_last),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo process_tests[] = {
    TEST(test_fn_runs_in_worker_processes_not_in_the_caller),
    TEST(test_a_global_changed_by_fn_is_unchanged_in_the_caller),
    TEST(test_workers_run_at_the_same_time),
    TEST(test_workers_end_with__exit_and_leave_the_callers_buffers_alone),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo pipe_tests[] = {
    TEST(test_short_reads_and_writes_are_continued),
    TEST(test_reads_and_writes_interrupted_by_a_signal_are_retried),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo crash_tests[] = {
    TEST(test_a_worker_killed_by_abort_is_reported_as_echild),
    TEST(test_a_worker_killed_by_sigsegv_is_reported_as_echild),
    TEST(test_a_worker_that_exits_part_way_is_reported_as_echild),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo cleanup_tests[] = {
    TEST(test_no_zombie_and_no_descriptor_left_after_many_calls),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
    TEST(test_bad_arguments_are_einval_and_fork_nothing),
    TEST(test_a_failed_fork_is_reported_and_leaves_nothing_behind),
    TEST(test_a_failed_pipe_is_reported_and_leaves_nothing_behind),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "results", NULL, NULL, NULL, NULL, results_tests },
    { "processes", NULL, NULL, NULL, NULL, process_tests },
    { "pipes", NULL, NULL, NULL, NULL, pipe_tests },
    { "crashes", NULL, NULL, NULL, NULL, crash_tests },
    { "cleanup", NULL, NULL, NULL, NULL, cleanup_tests },
    { "errors", NULL, NULL, NULL, NULL, error_tests },
    CU_SUITE_INFO_NULL,
};
