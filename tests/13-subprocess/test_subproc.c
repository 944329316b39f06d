/* test_subproc.c - tests of exercise 13-subprocess (subproc.h).
 *
 * The programs the tests run are this test binary itself, started again with
 * HELPER_FLAG as its first argument: a constructor below sees the flag before
 * main and plays the part asked for (exit with a status, die by a signal,
 * write megabytes to both streams, list its descriptors, fork a grandchild,
 * ...) without ever reaching the test runner. Besides them only /bin/sh and
 * /bin/true, which every Debian has.
 *
 * Every call to subproc_run runs in a child process of the test, the
 * "scene", with a deadline: code that deadlocks (waits for the program
 * before reading, reads stdout to its end before stderr, never sees
 * end-of-file) is stopped, with every process under it, and reported instead
 * of hanging the grader. Around the call the scene lists its descriptors
 * (none may be left open), looks for zombies (waitpid(-1, WNOHANG) must say
 * ECHILD) and copies the result into memory shared with the test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "subproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a scene may run (ms, before scaling); correct code needs well
 * under 0.5 s for any of them. */
#define SCENE_MS 6000L
/* How late a time-out may come, or a quick program may end (ms, before
 * scaling): generous, the machine may be busy. */
#define PROMPT_MS 2000L
/* The time-out given to programs that would run too long (ms). */
#define SHORT_TIMEOUT_MS 300L
/* The same for programs that must have written something first: time to
 * start even on a busy machine. */
#define TALK_TIMEOUT_MS 1000L

#define MiB (1024L * 1024L)
/* Bytes of each stream copied back from a scene. */
#define COPY_CAP (9 * MiB)

#define HELPER_FLAG "--kit-subproc-helper"

/* ms, scaled for slow runs (schedule noise). */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

/* ---- The helper programs (this binary, started with HELPER_FLAG) ---- */

/* Byte i of stream s (1: stdout, 2: stderr) of the "write" helper: every
 * value, NUL included, and different on the two streams. */
static unsigned char pattern(int s, size_t i)
{
    size_t k = i + (size_t)s * 977;
    return (unsigned char)((k * 131u) ^ (k >> 9) ^ (size_t)(s * 0x5a));
}

/* What the "bytes" helper writes. */
static const char EXACT_OUT_HEAD[] = { 'a', '\0', 'b', '\n', '\0', '\0' };
static const char EXACT_ERR[] = { '\0', '\0', 'e', 'r', 'r', '\0', '\n', '\0' };

static void put_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(90);
        p += w;
        n -= (size_t)w;
    }
}

static void put_str(int fd, const char *s)
{
    put_all(fd, s, strlen(s));
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* write OUT ERR CHUNK: OUT bytes to stdout and ERR to stderr, CHUNK at a
 * time, alternately (so both pipes fill at once). */
static void helper_write(long out, long err, long chunk)
{
    static unsigned char buf[256 * 1024];
    long done[3] = { 0, 0, 0 }, want[3] = { 0, out, err };
    if (chunk < 1 || chunk > (long)sizeof buf)
        _exit(91);
    while (done[1] < want[1] || done[2] < want[2])
        for (int s = 1; s <= 2; s++) {
            long n = want[s] - done[s] < chunk ? want[s] - done[s] : chunk;
            for (long i = 0; i < n; i++)
                buf[i] = pattern(s, (size_t)(done[s] + i));
            put_all(s, buf, (size_t)n);
            done[s] += n;
        }
}

/* fds: "0 1 2\n", the descriptors this program started with. */
static void helper_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        _exit(92);
    int fds[256], n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) != dirfd(d))
            fds[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)     /* insertion sort: a handful */
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    char line[2048];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%d", i ? " " : "", fds[i]);
    snprintf(line + len, sizeof line - len, "\n");
    put_str(1, line);
}

/* stdin: says what stdin is, then copies it to stdout until end-of-file. */
static void helper_stdin(void)
{
    struct stat in, null;
    if (fstat(0, &in) != 0)
        put_str(1, "stdin: closed\n");
    else if (stat("/dev/null", &null) == 0 && S_ISCHR(in.st_mode) && in.st_rdev == null.st_rdev)
        put_str(1, "stdin: /dev/null\n");
    else
        put_str(1, "stdin: not /dev/null\n");
    char buf[512];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            put_all(1, buf, (size_t)n);
}

/* group: forks a grandchild, says "child PID PGID grandchild PID", and both
 * sleep for a minute. */
static void helper_group(void)
{
    pid_t g = fork();
    if (g < 0)
        _exit(93);
    if (g == 0) {
        sleep_ms(60 * 1000);
        _exit(0);
    }
    char line[128];
    snprintf(line, sizeof line, "child %d %d grandchild %d\n", (int)getpid(), (int)getpgrp(),
             (int)g);
    put_str(1, line);
    sleep_ms(60 * 1000);
}

/* chatter: a little output every millisecond, for ever. */
static void helper_chatter(void)
{
    static char buf[4096];
    memset(buf, 'c', sizeof buf);
    for (;;) {
        put_all(1, buf, sizeof buf);
        sleep_ms(1);
    }
}

static char self_exe[PATH_MAX];

/* In every run of this binary, before main: plays a helper when asked to;
 * otherwise notes where the binary is, for starting helpers. */
__attribute__((constructor)) static void helper_main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], HELPER_FLAG) != 0) {
        ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
        self_exe[n > 0 ? n : 0] = '\0';
        return;
    }
    const char *mode = argv[2];
    long a = argc > 3 ? atol(argv[3]) : 0, b = argc > 4 ? atol(argv[4]) : 0;
    if (strcmp(mode, "exit") == 0) {
        _exit((int)a);
    } else if (strcmp(mode, "signal") == 0) {
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        signal((int)a, SIG_DFL);
        raise((int)a);
        _exit(94);
    } else if (strcmp(mode, "write") == 0) {
        helper_write(a, b, argc > 5 ? atol(argv[5]) : 65536);
    } else if (strcmp(mode, "bytes") == 0) {
        unsigned char all[256];
        for (int i = 0; i < 256; i++)
            all[i] = (unsigned char)i;
        put_all(1, EXACT_OUT_HEAD, sizeof EXACT_OUT_HEAD);
        put_all(2, EXACT_ERR, sizeof EXACT_ERR);
        put_all(1, all, sizeof all);
    } else if (strcmp(mode, "fds") == 0) {
        helper_fds();
    } else if (strcmp(mode, "stdin") == 0) {
        helper_stdin();
    } else if (strcmp(mode, "group") == 0) {
        helper_group();
    } else if (strcmp(mode, "sleep") == 0) {
        sleep_ms(a);
        put_str(1, "slept\n");
    } else if (strcmp(mode, "closed") == 0) {
        close(1);
        close(2);
        sleep_ms(a);
    } else if (strcmp(mode, "chatter") == 0) {
        helper_chatter();
    } else if (strcmp(mode, "say") == 0) {
        put_str(1, argv[3]);
        put_str(2, argv[4]);
    } else {
        _exit(95);
    }
    _exit(0);
}

/* ---- Building argument vectors ---- */

/* argv for the helper: {self, HELPER_FLAG, mode, args..., NULL}. */
struct args {
    char *v[12];
    char s[10][64];
};

static char *const *helper(struct args *a, const char *mode, const char *fmt_args)
{
    int k = 0;
    a->v[k++] = self_exe;
    a->v[k++] = HELPER_FLAG;
    a->v[k++] = (char *)mode;
    char copy[256];
    snprintf(copy, sizeof copy, "%s", fmt_args ? fmt_args : "");
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && k < 11;
         t = strtok_r(NULL, " ", &save)) {
        snprintf(a->s[k - 3], sizeof a->s[0], "%s", t);
        a->v[k] = a->s[k - 3];
        k++;
    }
    a->v[k] = NULL;
    return a->v;
}

/* "exit 3" for the helper, "/bin/sh -c ..." as it is. */
static const char *shown(char *const argv[])
{
    static char buf[512];
    size_t len = 0;
    int i = argv[0] == self_exe ? 2 : 0;
    if (i == 2)
        len += (size_t)snprintf(buf, sizeof buf, "the test program \"");
    for (int first = 1; argv[i] && len < sizeof buf - 64; i++, first = 0)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", first ? "" : " ", argv[i]);
    if (argv[0] == self_exe)
        snprintf(buf + len, sizeof buf - len, "\"");
    return buf;
}

/* The length of the first line of s, at most cap. */
static int line_len(const char *s, int cap)
{
    size_t n = strcspn(s, "\n");
    return n < (size_t)cap ? (int)n : cap;
}

static const char *err_name(int err)
{
    static char buf[64];
    switch (err) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EMFILE: return "EMFILE";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    }
    snprintf(buf, sizeof buf, "%d (%s)", err, strerror(err));
    return buf;
}

/* ---- Scenes: one call of subproc_run in a process of its own ---- */

/* The descriptors open in this process ("0 1 2 3"), without the one used to
 * look. */
static void list_fds(char *out, size_t size)
{
    DIR *d = opendir("/proc/self/fd");
    size_t len = 0;
    out[0] = '\0';
    if (!d) {
        snprintf(out, size, "?");
        return;
    }
    bool seen[1024] = { false };
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            int fd = atoi(e->d_name);
            if (fd != dirfd(d) && fd < 1024)
                seen[fd] = true;
        }
    closedir(d);
    for (int fd = 0; fd < 1024 && len + 8 < size; fd++)
        if (seen[fd])
            len += (size_t)snprintf(out + len, size - len, "%s%d", len ? " " : "", fd);
}

/* How a scene sets up the calling process before the call. */
struct setup {
    bool stdin_pipe;        /* stdin a pipe holding data, its write end kept open */
    bool extra_fds;         /* descriptors without close-on-exec at 7 and 9 */
    int free_fds;           /* >= 0: RLIMIT_NOFILE leaves just this many free */
};

/* What a scene saw, in memory shared with the test. */
struct report {
    int rc;
    struct subproc_result res;      /* as returned (pointers meaningless here) */
    bool out_terminated, err_terminated;
    long elapsed_ms;
    char fds_before[256], fds_after[256];
    pid_t waited;                   /* waitpid(-1, NULL, WNOHANG) afterwards */
    int waited_errno;
    size_t out_copied, err_copied;
    char out[COPY_CAP + 1], err[COPY_CAP + 1];     /* copied bytes, then '\0' */
};

static struct report *rep;

enum scene_end { SCENE_OK, SCENE_HUNG, SCENE_DIED };
static int scene_status;        /* the wait status of a scene that died */
static long scene_ms;           /* how long the last scene ran */

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

/* The state letter of pid ('Z' for a zombie), 0 if there is no such process. */
static char state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end_of_name = strrchr(buf, ')'), state = 0;
    if (!end_of_name || sscanf(end_of_name + 1, " %c", &state) != 1)
        return 0;
    return state;
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

/* Kills a scene that overran its deadline and every process under it (the
 * programs it started, in groups of their own, and theirs), then reaps it.
 * Stopped first, the scene reaps nothing more, so the pids under it stay
 * theirs while they are killed. */
static void kill_scene(pid_t scene)
{
    kill(scene, SIGSTOP);
    pid_t victims[256];
    int nv = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && nv < 256) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid > 0 && descends_from(pid, scene))
            victims[nv++] = pid;
    }
    if (d)
        closedir(d);
    for (int i = 0; i < nv; i++)
        kill(victims[i], SIGKILL);
    kill(scene, SIGKILL);
    while (waitpid(scene, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Runs fn(arg) in a new process and waits for it at most limit_ms. */
static enum scene_end run_scene(void (*fn)(void *), void *arg, long limit_ms)
{
    fflush(NULL);
    long start = kit_now_ms();
    pid_t pid = fork();
    KIT_REQUIRE(pid >= 0, "test harness: fork failed: %s", strerror(errno));
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    enum scene_end end = SCENE_HUNG;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            end = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? SCENE_OK : SCENE_DIED;
            scene_status = status;
            break;
        }
        if (r < 0 && errno != EINTR)
            abort();
        if (kit_now_ms() - start > limit_ms) {
            kill_scene(pid);
            break;
        }
        kit_sleep_ms(1);
    }
    scene_ms = kit_now_ms() - start;
    return end;
}

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

/* Every descriptor up to the highest open one is made open, so that the
 * lowest free descriptor is the one above it; returns that descriptor. The
 * fillers are closed by unfill. */
static int fill_fds(bool filled[64])
{
    int top = 0;
    for (int fd = 0; fd < 64; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            top = fd;
    for (int fd = 0; fd <= top; fd++) {
        filled[fd] = false;
        if (fcntl(fd, F_GETFD) < 0 && dup2(0, fd) == fd) {
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            filled[fd] = true;
        }
    }
    return top + 1;
}

static void set_nofile(rlim_t soft)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0)
        _exit(80);
    r.rlim_cur = soft;
    if (setrlimit(RLIMIT_NOFILE, &r) != 0)
        _exit(81);
}

struct call {
    char *const *argv;
    long timeout_ms;
    struct setup setup;
};

/* The scene of one call: sets up, calls, looks around, reports. */
static void scene_call(void *arg)
{
    const struct call *c = arg;
    int keep[2] = { -1, -1 };
    if (c->setup.stdin_pipe) {
        if (pipe2(keep, O_CLOEXEC) != 0 || dup2(keep[0], 0) != 0)
            _exit(82);
        put_str(keep[1], "SECRET caller's stdin\n");
    }
    if (c->setup.extra_fds) {
        int p[2];
        if (pipe(p) != 0 || dup2(p[0], 7) != 7 || dup2(p[1], 9) != 9)
            _exit(83);
        close(p[0]);
        close(p[1]);
    }
    struct rlimit old;
    bool filled[64];
    int lowest = 0;
    if (c->setup.free_fds >= 0) {
        if (getrlimit(RLIMIT_NOFILE, &old) != 0)
            _exit(84);
        lowest = fill_fds(filled);
    }
    list_fds(rep->fds_before, sizeof rep->fds_before);
    struct subproc_result res;
    memset(&res, 0xa5, sizeof res);
    long start = kit_now_ms();
    if (c->setup.free_fds >= 0)
        set_nofile((rlim_t)(lowest + c->setup.free_fds));
    int rc = subproc_run(c->argv, c->timeout_ms, &res);
    if (c->setup.free_fds >= 0)
        set_nofile(old.rlim_cur);
    rep->elapsed_ms = kit_now_ms() - start;
    rep->rc = rc;
    rep->res = res;
    list_fds(rep->fds_after, sizeof rep->fds_after);
    errno = 0;
    rep->waited = waitpid(-1, NULL, WNOHANG);
    rep->waited_errno = errno;
    if (c->setup.free_fds >= 0)
        for (int fd = 0; fd < lowest; fd++)
            if (filled[fd])
                close(fd);
    if (rc == 0 || rc == ETIMEDOUT) {
        if (res.out) {
            rep->out_copied = res.out_len < COPY_CAP ? res.out_len : COPY_CAP;
            memcpy(rep->out, res.out, rep->out_copied);
            rep->out[rep->out_copied] = '\0';
            rep->out_terminated = res.out[res.out_len] == '\0';
        }
        if (res.err) {
            rep->err_copied = res.err_len < COPY_CAP ? res.err_len : COPY_CAP;
            memcpy(rep->err, res.err, rep->err_copied);
            rep->err[rep->err_copied] = '\0';
            rep->err_terminated = res.err[res.err_len] == '\0';
        }
        subproc_result_free(&res);
    }
}

/* Runs subproc_run(argv, timeout_ms, &res) in a scene; true when the call
 * returned (*rep then says what it did), false when the scene hung or died
 * (the caller reports, with the usual cause). */
static enum scene_end call_in_scene(char *const argv[], long timeout_ms, struct setup setup)
{
    if (!rep) {
        rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        KIT_REQUIRE(rep != MAP_FAILED, "test harness: mmap: %s", strerror(errno));
    }
    memset(rep, 0, offsetof(struct report, out));
    rep->out[0] = rep->err[0] = '\0';
    rep->rc = -1;
    struct call c = { argv, timeout_ms, setup };
    return run_scene(scene_call, &c, scaled(SCENE_MS));
}

static const struct setup PLAIN = { .free_fds = -1 };

/* Checks what every return leaves: no descriptor opened by the call still
 * open, no zombie; on success and ETIMEDOUT both outputs allocated and
 * terminated; on other errors a zeroed result. */
static void check_aftermath(const char *call)
{
    KIT_CHECK(strcmp(rep->fds_before, rep->fds_after) == 0, "%s returned %s and left "
              "descriptors open in the caller: before the call \"%s\", after it \"%s\". "
              "Close both ends of every pipe once done with them, on every path: after "
              "an error, after a time-out, after the child has gone",
              call, err_name(rep->rc), rep->fds_before, rep->fds_after);
    KIT_CHECK(rep->waited == -1 && rep->waited_errno == ECHILD, "after %s returned %s, "
              "waitpid(-1, NULL, WNOHANG) gave %d (errno %d) instead of -1 with ECHILD: %s",
              call, err_name(rep->rc), (int)rep->waited, rep->waited_errno,
              rep->waited > 0 ? "a child was left a zombie: waitpid every child forked, "
              "also after an exec failure and after killing it at a time-out"
              : "a child was still running: wait for it before returning");
    if (rep->rc == 0 || rep->rc == ETIMEDOUT) {
        KIT_CHECK(rep->res.out != NULL && rep->res.err != NULL, "%s returned %s with "
                  "out %s and err %s: both are allocated on every return that gives a "
                  "result, even when the program wrote nothing (an empty string)",
                  call, err_name(rep->rc), rep->res.out ? "set" : "NULL",
                  rep->res.err ? "set" : "NULL");
        KIT_CHECK(!rep->res.out || rep->out_terminated, "%s: out[out_len] is not '\\0': "
                  "keep one byte after the output and put a '\\0' there", call);
        KIT_CHECK(!rep->res.err || rep->err_terminated, "%s: err[err_len] is not '\\0': "
                  "keep one byte after the output and put a '\\0' there", call);
    } else {
        KIT_CHECK(rep->res.out == NULL && rep->res.err == NULL && rep->res.out_len == 0 &&
                  rep->res.err_len == 0 && rep->res.returncode == 0, "%s returned %s but "
                  "left *res not zeroed (out %p, err %p, returncode %d): on an error "
                  "other than ETIMEDOUT, set *res to all zero so that the caller has "
                  "nothing to free", call, err_name(rep->rc), (void *)rep->res.out,
                  (void *)rep->res.err, rep->res.returncode);
    }
}

/* One call that must return: ends the test if the scene hung or died, with
 * `hang_why` as the usual cause of a hang. */
static void must_return(char *const argv[], long timeout_ms, struct setup setup,
                        const char *hang_why)
{
    char call[600];
    snprintf(call, sizeof call, "subproc_run(%s, %ld)", shown(argv), timeout_ms);
    enum scene_end end = call_in_scene(argv, timeout_ms, setup);
    KIT_REQUIRE(end != SCENE_DIED, "the process calling %s %s%s", call,
                how_it_ended(scene_status),
                WIFSIGNALED(scene_status) && WTERMSIG(scene_status) == SIGKILL
                    ? ": did the time-out kill the caller's own process group?" : "");
    KIT_REQUIRE(end == SCENE_OK, "%s had not returned after %ld ms: %s", call,
                scaled(SCENE_MS), hang_why);
    check_aftermath(call);
}

/* A call that must succeed with returncode `code`; the outputs are left in
 * rep for the caller to check. */
static void run_ok(char *const argv[], int code, const char *hang_why)
{
    must_return(argv, -1, PLAIN, hang_why);
    KIT_REQUIRE(rep->rc == 0, "subproc_run(%s, -1) returned %s, expected 0%s", shown(argv),
                err_name(rep->rc), rep->rc == ETIMEDOUT ? ": timeout_ms < 0 means no "
                "time limit" : "");
    KIT_CHECK(rep->res.returncode == code, "subproc_run(%s, -1): returncode %d, expected %d",
              shown(argv), rep->res.returncode, code);
}

#define DEADLOCK_HINT "A program blocks in write() as soon as the pipe it writes is full " \
    "(64 KiB), so the parent must read while the program runs, from both pipes as data " \
    "comes (poll() on both), and wait for the exit only after both reached end-of-file. " \
    "Also: the parent must close its copies of the pipes' write ends (and the child " \
    "the read ends), or end-of-file never comes"

/* ---- Exit codes and signals ---- */

static void test_exit_codes_0_to_255_are_the_returncode(void)
{
    struct args a;
    for (int code = 0; code <= 255; code++) {
        char n[16];
        snprintf(n, sizeof n, "%d", code);
        char *const *argv = helper(&a, "exit", n);
        must_return(argv, -1, PLAIN, "the program exits at once without output");
        KIT_REQUIRE(rep->rc == 0, "subproc_run(%s, -1) returned %s, expected 0: the "
                    "program ran and exited%s", shown(argv), err_name(rep->rc),
                    code == 127 ? "; 127 is an exit status like any other: only a "
                    "program that could not be started is an error" : "");
        KIT_REQUIRE(rep->res.returncode == code, "subproc_run(%s, -1): returncode %d, "
                    "expected %d: the exit status is WEXITSTATUS(status) of the status "
                    "word waitpid gives, not the word itself", shown(argv),
                    rep->res.returncode, code);
        KIT_REQUIRE(rep->res.out_len == 0 && rep->res.err_len == 0, "%s wrote nothing, "
                    "but out_len is %zu and err_len %zu", shown(argv), rep->res.out_len,
                    rep->res.err_len);
    }
    run_ok((char *[]){ "/bin/true", NULL }, 0, "/bin/true ends at once");
    char *const sh[] = { "/bin/sh", "-c", "exit 127", NULL };
    run_ok(sh, 127, "it ends at once");
}

static void test_death_by_signal_is_minus_the_signal_number(void)
{
    static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGUSR1,
                                SIGSEGV, SIGPIPE, SIGTERM, SIGUSR2 };
    struct args a;
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++) {
        char n[16];
        snprintf(n, sizeof n, "%d", sigs[k]);
        char *const *argv = helper(&a, "signal", n);
        must_return(argv, -1, PLAIN, "the program kills itself at once");
        KIT_REQUIRE(rep->rc == 0, "subproc_run(%s, -1) returned %s, expected 0: the "
                    "program ran; that a signal ended it is its returncode, not an error",
                    shown(argv), err_name(rep->rc));
        KIT_CHECK(rep->res.returncode == -sigs[k], "a program killed by signal %d (%s) "
                  "gave returncode %d, expected %d: as in Python, a program killed by "
                  "signal N has returncode -N (WIFSIGNALED(status), then -WTERMSIG(status))%s",
                  sigs[k], strsignal(sigs[k]), rep->res.returncode, -sigs[k],
                  rep->res.returncode == 128 + sigs[k] ? "; 128 + N is what a shell "
                  "shows in $?, not the returncode" : "");
    }
    /* And a program that exits with 128 + 9 was not killed. */
    char *const *argv = helper(&a, "exit", "137");
    run_ok(argv, 137, "the program exits at once");
}

/* ---- A program that cannot be started ---- */

static void check_cannot_start(char *const argv[], int want, const char *why)
{
    must_return(argv, -1, PLAIN, "the program cannot even start: exec fails at once. "
                "Does the parent wait on a pipe whose write end it (or the child) still "
                "holds?");
    if (rep->rc == 0)
        KIT_CHECK(false, "subproc_run(%s, -1) returned 0 with returncode %d, expected %s: "
                  "%s. A failed exec is not an exit status: the child must send exec's "
                  "errno to the parent (through a close-on-exec pipe: end-of-file there "
                  "means exec worked), and subproc_run returns it", shown(argv),
                  rep->res.returncode, err_name(want), why);
    else
        KIT_CHECK(rep->rc == want, "subproc_run(%s, -1) returned %s, expected %s: %s",
                  shown(argv), err_name(rep->rc), err_name(want), why);
}

static void test_a_program_that_does_not_exist_is_enoent_not_127(void)
{
    check_cannot_start((char *[]){ "/nonexistent/kit-13-no-such-program", NULL }, ENOENT,
                       "there is no such file");
    check_cannot_start((char *[]){ "kit-13-no-such-program", "arg", NULL }, ENOENT,
                       "no folder of PATH holds a program of that name");
    /* A real program that exits with 127 is no error. */
    char *const sh[] = { "/bin/sh", "-c", "exit 127", NULL };
    run_ok(sh, 127, "it ends at once");
    /* Found through PATH. */
    char *const path_sh[] = { "sh", "-c", "echo found; exit 3", NULL };
    run_ok(path_sh, 3, "it ends at once");
    KIT_CHECK(rep->res.out_len == 6 && memcmp(rep->out, "found\n", 6) == 0, "subproc_run("
              "{\"sh\", \"-c\", \"echo found; exit 3\"}, -1) captured %zu bytes of output, "
              "expected \"found\\n\": a name without '/' is looked for in PATH (execvp)",
              rep->res.out_len);
}

static void test_a_file_that_is_not_a_program_is_eacces(void)
{
    check_cannot_start((char *[]){ "/tmp", NULL }, EACCES, "a folder cannot be run");
    char path[] = "/tmp/kit-13-not-a-program-XXXXXX";
    int fd = mkstemp(path);
    KIT_REQUIRE(fd >= 0, "test harness: mkstemp: %s", strerror(errno));
    put_str(fd, "#!/bin/sh\necho should not run\n");
    close(fd);
    chmod(path, 0644);
    check_cannot_start((char *[]){ path, NULL }, EACCES, "the file has no execute "
                       "permission");
    unlink(path);
}

static void test_bad_arguments_are_einval(void)
{
    struct subproc_result res;
    memset(&res, 0xa5, sizeof res);
    KIT_CHECK_EQ(EINVAL, subproc_run(NULL, -1, &res), "subproc_run(NULL, -1, &res)");
    KIT_CHECK(res.out == NULL && res.err == NULL, "subproc_run(NULL, -1, &res) left "
              "out %p and err %p: on EINVAL *res is zeroed", (void *)res.out, (void *)res.err);
    char *empty[] = { NULL };
    KIT_CHECK_EQ(EINVAL, subproc_run(empty, -1, &res), "subproc_run({NULL}, -1, &res)");
    char *const t[] = { "/bin/true", NULL };
    KIT_CHECK_EQ(EINVAL, subproc_run(t, -1, NULL), "subproc_run({\"/bin/true\"}, -1, NULL)");
    errno = 0;
    pid_t w = waitpid(-1, NULL, WNOHANG);
    KIT_CHECK(w == -1 && errno == ECHILD, "after subproc_run calls with bad arguments, "
              "waitpid(-1, NULL, WNOHANG) gave %d: check the arguments before starting "
              "anything", (int)w);
    subproc_result_free(NULL);
    struct subproc_result zero = { 0 };
    subproc_result_free(&zero);
}

/* ---- Capturing output ---- */

static void test_output_is_captured_byte_for_byte_nul_bytes_included(void)
{
    struct args a;
    char *const *argv = helper(&a, "bytes", NULL);
    run_ok(argv, 0, "the program writes a few bytes and exits");
    size_t want_out = sizeof EXACT_OUT_HEAD + 256;
    KIT_REQUIRE(rep->res.out_len == want_out, "%s wrote %zu bytes to stdout (NUL bytes "
                "among them), out_len is %zu: count the bytes read(), never use strlen "
                "or string functions on output%s", shown(argv), want_out, rep->res.out_len,
                rep->res.out_len == 1 ? " (1 is where the first NUL is)" : "");
    bool same = memcmp(rep->out, EXACT_OUT_HEAD, sizeof EXACT_OUT_HEAD) == 0;
    for (int i = 0; same && i < 256; i++)
        same = (unsigned char)rep->out[sizeof EXACT_OUT_HEAD + (size_t)i] == i;
    KIT_CHECK(same, "%s: out holds other bytes than the program wrote (\"a\\0b\\n\\0\\0\" "
              "then the bytes 0 to 255)", shown(argv));
    KIT_REQUIRE(rep->res.err_len == sizeof EXACT_ERR, "%s wrote %zu bytes to stderr, "
                "err_len is %zu", shown(argv), sizeof EXACT_ERR, rep->res.err_len);
    KIT_CHECK(memcmp(rep->err, EXACT_ERR, sizeof EXACT_ERR) == 0, "%s: err holds other "
              "bytes than the program wrote to stderr", shown(argv));
    /* Text, and the two streams kept apart. */
    argv = helper(&a, "say", "to-stdout to-stderr");
    run_ok(argv, 0, "the program writes a few bytes and exits");
    KIT_CHECK(rep->res.out_len == 9 && memcmp(rep->out, "to-stdout", 9) == 0 &&
              rep->res.err_len == 9 && memcmp(rep->err, "to-stderr", 9) == 0,
              "a program wrote \"to-stdout\" to stdout and \"to-stderr\" to stderr; out "
              "was \"%.*s\" (%zu bytes) and err \"%.*s\" (%zu bytes): stdout and stderr "
              "are two pipes, read into two buffers", (int)(rep->out_copied < 64 ?
              rep->out_copied : 64), rep->out, rep->res.out_len,
              (int)(rep->err_copied < 64 ? rep->err_copied : 64), rep->err, rep->res.err_len);
    /* Nothing at all. */
    argv = helper(&a, "exit", "0");
    run_ok(argv, 0, "the program exits at once");
    KIT_CHECK(rep->res.out_len == 0 && rep->res.err_len == 0, "a program that wrote "
              "nothing gave out_len %zu and err_len %zu", rep->res.out_len, rep->res.err_len);
}

/* Checks that stream s (1 or 2) holds exactly the pattern of `want` bytes. */
static void check_pattern(const char *call, int s, size_t want)
{
    size_t len = s == 1 ? rep->res.out_len : rep->res.err_len;
    const char *name = s == 1 ? "stdout" : "stderr";
    const char *data = s == 1 ? rep->out : rep->err;
    KIT_REQUIRE(len == want, "%s: the program wrote %zu bytes to %s, %s_len is %zu%s", call,
                want, name, s == 1 ? "out" : "err", len,
                len == 0 || len > want ? ": are stdout and stderr captured apart?" :
                len < want ? ": output was lost (is everything read until end-of-file, "
                "the last bytes too?)" : "");
    for (size_t i = 0; i < want; i++)
        if ((unsigned char)data[i] != pattern(s, i)) {
            KIT_REQUIRE(false, "%s: byte %zu of %s is %u, expected %u: bytes lost, "
                        "repeated or out of order", call, i, name, (unsigned char)data[i],
                        pattern(s, i));
        }
}

static void run_writer(long out, long err, long chunk, const char *why_hang)
{
    struct args a;
    char spec[64];
    snprintf(spec, sizeof spec, "%ld %ld %ld", out, err, chunk);
    char *const *argv = helper(&a, "write", spec);
    char call[256];
    snprintf(call, sizeof call, "a program writing %ld bytes to stdout and %ld to stderr "
             "(%ld at a time, in turn)", out, err, chunk);
    must_return(argv, -1, PLAIN, why_hang);
    KIT_REQUIRE(rep->rc == 0 && rep->res.returncode == 0, "%s: subproc_run returned %s, "
                "returncode %d; expected 0 and 0", call, err_name(rep->rc),
                rep->res.returncode);
    check_pattern(call, 1, (size_t)out);
    check_pattern(call, 2, (size_t)err);
}

static void test_output_larger_than_a_pipe_is_read_while_the_program_runs(void)
{
    run_writer(100 * 1024, 0, 4096, "the program wrote 100 KiB to stdout, more than a "
               "pipe holds (64 KiB): was the parent waiting for it to end before reading? "
               DEADLOCK_HINT);
    run_writer(8 * MiB, 0, 65536, "the program wrote 8 MiB to stdout: was the parent "
               "waiting for it to end before reading? " DEADLOCK_HINT);
    run_writer(0, 8 * MiB, 65536, "the program wrote 8 MiB to stderr and nothing to "
               "stdout: was the parent waiting for stdout (blocking read), or for the exit? "
               DEADLOCK_HINT);
}

static void test_both_streams_full_at_once_are_read_together(void)
{
    static const long chunks[] = { 100 * 1024, 200 * 1024, 7 };
    for (size_t k = 0; k < 3; k++) {
        long size = chunks[k] == 7 ? 256 * 1024 : 4 * MiB;
        run_writer(size, size, chunks[k], "the program wrote to stdout and stderr in "
                   "turn, more than a pipe holds each time: was the parent reading one "
                   "stream to its end before the other? While it waits for stdout, the "
                   "program waits for room in the stderr pipe. " DEADLOCK_HINT);
    }
    run_writer(3 * MiB + 5, 1, 65536, "the program wrote 3 MiB to stdout and 1 byte to "
               "stderr. " DEADLOCK_HINT);
}

/* ---- What the program inherits ---- */

static void check_fds_line(const char *how)
{
    const char *want = "0 1 2\n";
    KIT_CHECK(rep->res.out_len == strlen(want) && memcmp(rep->out, want, strlen(want)) == 0,
              "%s, the program had these descriptors open: \"%.*s\", expected only \"0 1 "
              "2\": %s", how, line_len(rep->out, 200), rep->out,
              "the pipes' other ends and every descriptor of the caller must be closed in "
              "the program: create the pipes with O_CLOEXEC (pipe2), and close everything "
              "above 2 in the child before exec (close_range(3, ~0U, 0)), keeping only the "
              "close-on-exec pipe that reports a failed exec");
}

static void test_the_program_gets_only_descriptors_0_1_2(void)
{
    struct args a;
    char *const *argv = helper(&a, "fds", NULL);
    must_return(argv, -1, PLAIN, "the program lists its descriptors and exits. " DEADLOCK_HINT);
    KIT_REQUIRE(rep->rc == 0, "subproc_run(%s, -1) returned %s", shown(argv), err_name(rep->rc));
    check_fds_line("run by subproc_run");
    struct setup extra = PLAIN;
    extra.extra_fds = true;
    must_return(argv, -1, extra, "the program lists its descriptors and exits");
    KIT_REQUIRE(rep->rc == 0, "subproc_run(%s, -1) returned %s", shown(argv), err_name(rep->rc));
    check_fds_line("when the caller had two descriptors open without close-on-exec (7 "
                   "and 9, a pipe)");
}

static void test_stdin_of_the_program_is_dev_null(void)
{
    struct args a;
    char *const *argv = helper(&a, "stdin", NULL);
    struct setup s = PLAIN;
    s.stdin_pipe = true;
    must_return(argv, scaled(PROMPT_MS), s, "the program reads its stdin until "
                "end-of-file: given the caller's stdin (here a pipe whose writer never "
                "closes it) it waits for ever; its stdin must be /dev/null");
    KIT_CHECK(rep->rc == 0, "a program that reads its stdin to the end: subproc_run "
              "returned %s after %ld ms, expected 0 at once%s", err_name(rep->rc),
              rep->elapsed_ms, rep->rc == ETIMEDOUT ? ": it read the caller's stdin, which "
              "never ends; the program's stdin must be /dev/null" : "");
    const char *want = "stdin: /dev/null\n";
    KIT_CHECK(rep->res.out_len == strlen(want) && memcmp(rep->out, want, strlen(want)) == 0,
              "the program said \"%.*s\", expected \"stdin: /dev/null\\n\": open "
              "/dev/null in the child and dup2 it onto 0 (the program must not read the "
              "caller's stdin, nor find 0 closed)", (int)(rep->out_copied < 200 ?
              rep->out_copied : 200), rep->out);
}

/* ---- Time-outs ---- */

/* pid's process, once neither running nor a zombie: gone. Waits up to ms. */
static bool gone_within(pid_t pid, long ms)
{
    long until = kit_now_ms() + ms;
    for (;;) {
        char st = state_of(pid);
        if (st == 0 || st == 'Z' || st == 'X')
            return true;
        if (kit_now_ms() >= until)
            return false;
        kit_sleep_ms(2);
    }
}

static void test_time_out_returns_etimedout_on_time(void)
{
    struct args a;
    char *const *argv = helper(&a, "sleep", "30000");
    must_return(argv, SHORT_TIMEOUT_MS, PLAIN, "the program sleeps 30 s and the time-out "
                "was 300 ms: kill the program when the time is up (poll() with the time "
                "left, then kill and waitpid)");
    KIT_CHECK(rep->rc == ETIMEDOUT, "subproc_run(%s, %ld) returned %s, expected ETIMEDOUT",
              shown(argv), SHORT_TIMEOUT_MS, err_name(rep->rc));
    KIT_CHECK(rep->elapsed_ms >= SHORT_TIMEOUT_MS - 10, "subproc_run(%s, %ld) returned "
              "after %ld ms: the program must get its %ld ms", shown(argv), SHORT_TIMEOUT_MS,
              rep->elapsed_ms, SHORT_TIMEOUT_MS);
    KIT_CHECK(rep->elapsed_ms <= SHORT_TIMEOUT_MS + scaled(PROMPT_MS), "subproc_run(%s, %ld) "
              "returned after %ld ms: the time-out must come on time", shown(argv),
              SHORT_TIMEOUT_MS, rep->elapsed_ms);
    KIT_CHECK(rep->res.returncode == -SIGKILL, "after a time-out, returncode was %d, "
              "expected -9: the program is killed with SIGKILL", rep->res.returncode);

    /* No time at all. */
    must_return(argv, 0, PLAIN, "timeout_ms 0 gives the program no time at all: it is not "
                "'no limit' (that is < 0)");
    KIT_CHECK(rep->rc == ETIMEDOUT, "subproc_run(%s, 0) returned %s, expected ETIMEDOUT",
              shown(argv), err_name(rep->rc));

    /* A program that talks all the time still has one deadline. */
    argv = helper(&a, "chatter", NULL);
    must_return(argv, TALK_TIMEOUT_MS, PLAIN, "the program writes 4 KiB every "
                "millisecond, for ever: the time-out counts from the start of the run, "
                "not from the last output (compute the time left before each poll())");
    KIT_CHECK(rep->rc == ETIMEDOUT, "subproc_run(%s, %ld) returned %s, expected ETIMEDOUT",
              shown(argv), TALK_TIMEOUT_MS, err_name(rep->rc));
    KIT_CHECK(rep->elapsed_ms <= TALK_TIMEOUT_MS + scaled(PROMPT_MS), "subproc_run(%s, %ld) "
              "returned after %ld ms: the time-out counts from the start of the run",
              shown(argv), TALK_TIMEOUT_MS, rep->elapsed_ms);
    KIT_CHECK(rep->res.out_len > 0, "after a time-out, out held nothing of what the program "
              "wrote: *res keeps the output captured until the kill");

    /* A program that closed its pipes but goes on running. */
    argv = helper(&a, "closed", "30000");
    must_return(argv, SHORT_TIMEOUT_MS, PLAIN, "the program closed stdout and stderr and "
                "then slept 30 s: end-of-file on both pipes does not mean that it ended; "
                "the time-out covers the wait for its exit too");
    KIT_CHECK(rep->rc == ETIMEDOUT, "subproc_run(%s, %ld) returned %s, expected ETIMEDOUT",
              shown(argv), SHORT_TIMEOUT_MS, err_name(rep->rc));
}

static void test_a_quick_program_does_not_wait_for_the_time_out(void)
{
    struct args a;
    char *const *argv = helper(&a, "sleep", "50");
    long timeouts[] = { -1, 20000 };
    for (int k = 0; k < 2; k++) {
        must_return(argv, timeouts[k], PLAIN, "the program sleeps 50 ms");
        KIT_CHECK(rep->rc == 0 && rep->res.returncode == 0, "subproc_run(%s, %ld) returned "
                  "%s, returncode %d, expected 0 and 0", shown(argv), timeouts[k],
                  err_name(rep->rc), rep->res.returncode);
        KIT_CHECK(rep->elapsed_ms < 50 + scaled(PROMPT_MS), "subproc_run(%s, %ld) took %ld "
                  "ms for a program of 50 ms: return as soon as it ended", shown(argv),
                  timeouts[k], rep->elapsed_ms);
        KIT_CHECK(rep->res.out_len == 6 && memcmp(rep->out, "slept\n", 6) == 0,
                  "subproc_run(%s, %ld): out_len %zu, expected \"slept\\n\"", shown(argv),
                  timeouts[k], rep->res.out_len);
    }
}

static void test_time_out_kills_the_program_and_its_children(void)
{
    struct args a;
    char *const *argv = helper(&a, "group", NULL);
    for (int round = 0; round < 3; round++) {
        must_return(argv, TALK_TIMEOUT_MS, PLAIN, "the program and a child of its own "
                    "sleep 60 s, the time-out was 1 s: when the time is up, kill the "
                    "whole process group (kill(-pid, SIGKILL)), or the grandchild keeps "
                    "the pipes open and end-of-file never comes");
        KIT_REQUIRE(rep->rc == ETIMEDOUT, "subproc_run(%s, %ld) returned %s, expected "
                    "ETIMEDOUT", shown(argv), TALK_TIMEOUT_MS, err_name(rep->rc));
        int child = 0, pgid = 0, grandchild = 0;
        rep->out[rep->out_copied < 200 ? rep->out_copied : 199] = '\0';
        KIT_REQUIRE(sscanf(rep->out, "child %d %d grandchild %d", &child, &pgid,
                           &grandchild) == 3, "after the time-out, out held \"%s\", not the "
                    "line the program wrote before it was killed: *res keeps what was "
                    "captured until then", rep->out);
        bool child_gone = gone_within(child, scaled(PROMPT_MS));
        bool grandchild_gone = gone_within(grandchild, scaled(PROMPT_MS));
        if (!grandchild_gone)
            kill(grandchild, SIGKILL);
        if (!child_gone)
            kill(child, SIGKILL);
        KIT_CHECK(pgid == child, "the program ran in process group %d, not in a group of "
                  "its own (%d): call setpgid(0, 0) in the child before exec, so that a "
                  "time-out can kill the program and everything it started together",
                  pgid, child);
        KIT_CHECK(child_gone, "the program (pid %d) still ran %ld ms after the time-out",
                  child, scaled(PROMPT_MS));
        KIT_REQUIRE(grandchild_gone, "the program's child (pid %d, in the program's "
                    "process group) still ran %ld ms after the time-out: kill the whole "
                    "group, kill(-pid, SIGKILL), not only the program", grandchild,
                    scaled(PROMPT_MS));
    }
}

/* ---- Error paths leave nothing behind ---- */

static void test_no_descriptor_leaks_when_descriptors_run_out(void)
{
    struct args a;
    char *const *argv = helper(&a, "say", "out err");
    for (int room = 0; room <= 12; room++) {
        struct setup s = PLAIN;
        s.free_fds = room;
        char call[128];
        snprintf(call, sizeof call, "subproc_run with %d descriptors free", room);
        enum scene_end end = call_in_scene(argv, scaled(PROMPT_MS), s);
        KIT_REQUIRE(end == SCENE_OK, "%s: the calling process %s", call,
                    end == SCENE_HUNG ? "did not return" : how_it_ended(scene_status));
        check_aftermath(call);
        if (room == 0)
            KIT_CHECK(rep->rc == EMFILE, "%s returned %s, expected EMFILE: no pipe can be "
                      "made", call, err_name(rep->rc));
        else if (room >= 12)
            KIT_CHECK(rep->rc == 0, "%s returned %s, expected 0: that is enough for the "
                      "pipes", call, err_name(rep->rc));
        else
            KIT_CHECK(rep->rc == 0 || rep->rc == EMFILE, "%s returned %s, expected 0 or "
                      "EMFILE", call, err_name(rep->rc));
        if (rep->rc == 0)
            KIT_CHECK(rep->res.out_len == 3 && memcmp(rep->out, "out", 3) == 0 &&
                      rep->res.err_len == 3 && memcmp(rep->err, "err", 3) == 0,
                      "%s returned 0, but the output was not captured", call);
    }
}

/* ---- Threads ---- */

enum { CREW = 4, CALLS_EACH = 12 };

struct crew_report {
    atomic_int bad_rc, bad_output, bad_fds, done;
    int first_rc;
    char first_fds[200];
};

static struct crew_report *crew;

static void crew_member(int i, void *arg)
{
    (void)arg;
    for (int k = 0; k < CALLS_EACH; k++) {
        struct args a;
        char spec[64];
        bool fds = k % 3 == 2;
        long size = 70000 + 1000 * i + k;
        snprintf(spec, sizeof spec, "%ld %ld 4096", size, size / 2);
        char *const *argv = fds ? helper(&a, "fds", NULL) : helper(&a, "write", spec);
        struct subproc_result res;
        int rc = subproc_run(argv, -1, &res);
        if (rc != 0) {
            if (atomic_fetch_add(&crew->bad_rc, 1) == 0)
                crew->first_rc = rc;
            continue;
        }
        if (fds) {
            if (res.out_len != 6 || memcmp(res.out, "0 1 2\n", 6) != 0) {
                if (atomic_fetch_add(&crew->bad_fds, 1) == 0)
                    snprintf(crew->first_fds, sizeof crew->first_fds, "%.*s",
                             (int)(res.out_len < 150 ? res.out_len : 150) -
                             (res.out_len > 0 && res.out_len <= 150 &&
                              res.out[res.out_len - 1] == '\n'), res.out);
            }
        } else {
            bool ok = res.out_len == (size_t)size && res.err_len == (size_t)size / 2;
            for (size_t j = 0; ok && j < res.out_len; j++)
                ok = (unsigned char)res.out[j] == pattern(1, j);
            for (size_t j = 0; ok && j < res.err_len; j++)
                ok = (unsigned char)res.err[j] == pattern(2, j);
            if (!ok)
                atomic_fetch_add(&crew->bad_output, 1);
        }
        subproc_result_free(&res);
        atomic_fetch_add(&crew->done, 1);
    }
}

static void scene_crew(void *arg)
{
    (void)arg;
    kit_run_threads(CREW, crew_member, NULL);
}

static void test_threads_run_programs_at_the_same_time(void)
{
    crew = mmap(NULL, sizeof *crew, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    KIT_REQUIRE(crew != MAP_FAILED, "test harness: mmap: %s", strerror(errno));
    for (int round = 0; round < 2; round++) {
        memset(crew, 0, sizeof *crew);
        enum scene_end end = run_scene(scene_crew, NULL, scaled(SCENE_MS));
        KIT_REQUIRE(end != SCENE_DIED, "a process whose %d threads called subproc_run at "
                    "the same time %s", CREW, how_it_ended(scene_status));
        KIT_REQUIRE(end == SCENE_OK, "%d threads calling subproc_run at the same time did "
                    "not finish within %ld ms (%d of %d calls done); each program writes "
                    "about 70 KB to stdout and half that to stderr, more than a pipe holds: "
                    "does the parent read while the program runs? Else a pipe of one call "
                    "that reaches another call's program (no O_CLOEXEC) keeps its write "
                    "end open, and its reader never sees end-of-file; or the calls share "
                    "something they must not", CREW, scaled(SCENE_MS),
                    atomic_load(&crew->done), CREW * CALLS_EACH);
        KIT_CHECK(atomic_load(&crew->bad_rc) == 0, "with %d threads calling subproc_run at "
                  "once, %d calls failed (the first with %s)", CREW,
                  atomic_load(&crew->bad_rc), err_name(crew->first_rc));
        KIT_CHECK(atomic_load(&crew->bad_output) == 0, "with %d threads calling subproc_run "
                  "at once, %d calls captured other bytes than their program wrote: does "
                  "anything (a buffer, a descriptor) live outside the call?", CREW,
                  atomic_load(&crew->bad_output));
        KIT_CHECK(atomic_load(&crew->bad_fds) == 0, "with %d threads calling subproc_run at "
                  "once, %d programs started with more than 0, 1 and 2 open (one had \"%s\"): "
                  "a descriptor of the caller, or a pipe that another thread made at that "
                  "moment, reached the program; create every pipe with O_CLOEXEC (pipe2) "
                  "and close everything above 2 in the child", CREW, atomic_load(&crew->bad_fds),
                  crew->first_fds);
    }
    munmap(crew, sizeof *crew);
}

struct long_and_short {
    int rc_long;
    long short_max_ms;
    int short_bad;
};

static struct long_and_short *las;

static void las_member(int i, void *arg)
{
    (void)arg;
    struct args a;
    struct subproc_result res;
    if (i == 0) {
        las->rc_long = subproc_run(helper(&a, "sleep", "2500"), -1, &res);
        if (las->rc_long == 0)
            subproc_result_free(&res);
        return;
    }
    kit_sleep_ms(100);     /* the long one runs */
    for (int k = 0; k < 5; k++) {
        long start = kit_now_ms();
        int rc = subproc_run(helper(&a, "exit", "0"), -1, &res);
        long ms = kit_now_ms() - start;
        if (ms > las->short_max_ms)
            las->short_max_ms = ms;
        if (rc != 0)
            las->short_bad++;
        else
            subproc_result_free(&res);
    }
}

static void scene_las(void *arg)
{
    (void)arg;
    kit_run_threads(2, las_member, NULL);
}

static void test_a_long_run_does_not_hold_up_other_threads(void)
{
    las = mmap(NULL, sizeof *las, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    KIT_REQUIRE(las != MAP_FAILED, "test harness: mmap: %s", strerror(errno));
    memset(las, 0, sizeof *las);
    enum scene_end end = run_scene(scene_las, NULL, scaled(SCENE_MS));
    KIT_REQUIRE(end == SCENE_OK, "one thread running a 2.5 s program and another running "
                "quick ones: the process %s", end == SCENE_HUNG ? "did not finish" :
                how_it_ended(scene_status));
    KIT_CHECK(las->rc_long == 0 && las->short_bad == 0, "subproc_run returned %s for the "
              "long program, and failed %d times for quick ones", err_name(las->rc_long),
              las->short_bad);
    KIT_CHECK(las->short_max_ms < 1200, "while one thread ran a program of 2.5 s, a quick "
              "program run by another thread took %ld ms: calls from different threads "
              "must run at the same time (no lock held for the whole run)",
              las->short_max_ms);
    munmap(las, sizeof *las);
}

/* ---- Suites ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo status_tests[] = {
    TEST(test_exit_codes_0_to_255_are_the_returncode),
    TEST(test_death_by_signal_is_minus_the_signal_number),
    TEST(test_a_program_that_does_not_exist_is_enoent_not_127),
    TEST(test_a_file_that_is_not_a_program_is_eacces),
    TEST(test_bad_arguments_are_einval),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo output_tests[] = {
    TEST(test_output_is_captured_byte_for_byte_nul_bytes_included),
    TEST(test_output_larger_than_a_pipe_is_read_while_the_program_runs),
    TEST(test_both_streams_full_at_once_are_read_together),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo inherit_tests[] = {
    TEST(test_the_program_gets_only_descriptors_0_1_2),
    TEST(test_stdin_of_the_program_is_dev_null),
    TEST(test_no_descriptor_leaks_when_descriptors_run_out),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo timeout_tests[] = {
    TEST(test_time_out_returns_etimedout_on_time),
    TEST(test_a_quick_program_does_not_wait_for_the_time_out),
    TEST(test_time_out_kills_the_program_and_its_children),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_threads_run_programs_at_the_same_time),
    TEST(test_a_long_run_does_not_hold_up_other_threads),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "status", NULL, NULL, NULL, NULL, status_tests },
    { "output", NULL, NULL, NULL, NULL, output_tests },
    { "inherit", NULL, NULL, NULL, NULL, inherit_tests },
    { "timeout", NULL, NULL, NULL, NULL, timeout_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
