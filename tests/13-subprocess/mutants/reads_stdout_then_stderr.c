/* Mutant: reads stdout to its end, then stderr
 * Expect: unit
 * While the parent waits for the end of stdout, a program that writes
 * more than 64 KiB to stderr waits for room in that pipe: both wait for
 * ever. poll() on both pipes is needed.
 */
#include "subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A growing byte buffer: len bytes used, cap allocated (room for a '\0'). */
struct buf {
    char *data;
    size_t len, cap;
};

/* Appends n bytes; 0 or ENOMEM. */
static int buf_add(struct buf *b, const char *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return ENOMEM;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Puts fd on target in the child. dup2 onto itself would keep
 * close-on-exec: clear it instead. */
static int move_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* The child, between fork and exec: only async-signal-safe calls (glibc's
 * execvp allocates nothing). Never returns. */
static _Noreturn void child(char *const argv[], int out_w, int err_w, int exec_w)
{
    /* A group of its own, so that a time-out kills what it started too. */
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || move_fd(null, 0) != 0 || move_fd(out_w, 1) != 0 ||
        move_fd(err_w, 2) != 0)
        goto fail;
    /* Nothing but 0, 1 and 2 reaches the program (Python's close_fds=True);
     * the exec pipe is close-on-exec and goes at exec. */
    if (exec_w > 3)
        close_range(3, (unsigned)exec_w - 1, 0);
    close_range((unsigned)exec_w + 1, ~0U, 0);
    execvp(argv[0], argv);
fail:;
    int e = errno;
    while (write(exec_w, &e, sizeof e) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* Waits for our child pid (it is ours: this cannot fail) and returns its
 * returncode. */
static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            abort();
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

/* Whether pid has ended, waiting at most wait_ms (< 0: no limit) on its
 * pidfd; without a pidfd, polls every few milliseconds. */
static bool ended_within(pid_t pid, int pidfd, long wait_ms)
{
    if (pidfd >= 0) {
        struct pollfd p = { pidfd, POLLIN, 0 };
        int r;
        while ((r = poll(&p, 1, wait_ms < 0 ? -1 : (int)wait_ms)) < 0 && errno == EINTR)
            ;
        return r > 0;
    }
    long until = now_ms() + wait_ms;
    for (;;) {
        siginfo_t si = { 0 };
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return true;
        if (wait_ms >= 0 && now_ms() >= until)
            return false;
        struct timespec pause = { 0, 5 * 1000000L };
        nanosleep(&pause, NULL);
    }
}

/* Reads what fd has now into b; false at end-of-file (or a read error). */
static bool drain(int fd, struct buf *b, int *err)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            if (*err == 0)
                *err = buf_add(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

/* Reads both pipes until both are at end-of-file and the program ended, or
 * until the deadline (-1: none). Returns 0, ETIMEDOUT or ENOMEM; the pipes
 * are non-blocking. */
static int collect(pid_t pid, int fds[2], struct buf bufs[2], long deadline)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int err = 0;
    bool live[2] = { true, true };  /* not yet at end-of-file */
    /* stdout to its end first, then stderr. */
    for (int i = 0; i < 2; i++)
        while (err == 0 && live[i]) {
            struct pollfd p = { fds[i], POLLIN, 0 };
            long wait = deadline < 0 ? -1 : deadline - now_ms();
            if (deadline >= 0 && wait <= 0) {
                err = ETIMEDOUT;
                break;
            }
            if (poll(&p, 1, (int)wait) < 0 && errno != EINTR)
                abort();
            if (p.revents & (POLLIN | POLLHUP | POLLERR))
                live[i] = drain(fds[i], &bufs[i], &err);
        }
    /* Both pipes closed: the program has ended or is about to; a program
     * that closed them and went on running still has the rest of the time. */
    if (err == 0 && !ended_within(pid, pidfd, deadline < 0 ? -1 : deadline - now_ms()))
        err = ETIMEDOUT;
    if (pidfd >= 0)
        close(pidfd);
    return err;
}

/* Starts argv with its stdout and stderr on two new pipes, whose read ends
 * it leaves in fds[0] and fds[1] (non-blocking). Returns 0 once the program
 * runs, or an errno with nothing left open and no child left. */
static int start(char *const argv[], int fds[2], pid_t *pid)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 }, exec[2] = { -1, -1 };
    int rc = 0;
    /* O_CLOEXEC at creation: a thread forking at the same moment cannot let
     * these reach its program. */
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        pipe2(exec, O_CLOEXEC) != 0) {
        rc = errno;
        goto fail;
    }
    *pid = fork();
    if (*pid < 0) {
        rc = errno;
        goto fail;
    }
    if (*pid == 0)
        child(argv, out[1], err[1], exec[1]);
    /* Also from here, so that the group exists before any kill. */
    setpgid(*pid, *pid);
    close_fd(&out[1]);
    close_fd(&err[1]);
    close_fd(&exec[1]);

    /* End-of-file: exec worked. An int: exec failed with that errno. */
    int exec_errno = 0;
    ssize_t n;
    while ((n = read(exec[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR)
        ;
    close_fd(&exec[0]);
    if (n > 0) {
        reap(*pid);
        rc = exec_errno;
        goto fail;
    }
    fds[0] = out[0];
    fds[1] = err[0];
    for (int i = 0; i < 2; i++)
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&out[i]);
        close_fd(&err[i]);
        close_fd(&exec[i]);
    }
    return rc;
}

int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res)
{
    if (res)
        *res = (struct subproc_result){ 0 };
    if (!argv || !argv[0] || !res)
        return EINVAL;
    long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int fds[2];
    pid_t pid;
    int rc = start(argv, fds, &pid);
    if (rc != 0)
        return rc;

    struct buf bufs[2] = { { 0 }, { 0 } };
    rc = collect(pid, fds, bufs, deadline);
    if (rc != 0)
        kill(-pid, SIGKILL);    /* time-out or no memory: the program and its group */
    int returncode = reap(pid);
    if (rc == ETIMEDOUT)
        for (int i = 0; i < 2; i++) {   /* what it wrote before the kill */
            int ignored = 0;
            drain(fds[i], &bufs[i], &ignored);
        }
    close(fds[0]);
    close(fds[1]);
    /* Both outputs exist, even when empty. */
    for (int i = 0; i < 2 && (rc == 0 || rc == ETIMEDOUT); i++)
        if (!bufs[i].data && buf_add(&bufs[i], "", 0) != 0)
            rc = ENOMEM;
    if (rc != 0 && rc != ETIMEDOUT) {
        free(bufs[0].data);
        free(bufs[1].data);
        return rc;
    }
    *res = (struct subproc_result){ returncode, bufs[0].data, bufs[0].len,
                                    bufs[1].data, bufs[1].len };
    return rc;
}

void subproc_result_free(struct subproc_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    *res = (struct subproc_result){ 0 };
}
