/* subproc.c - subprocess.run with one reader thread per pipe.
 *
 * Python's communicate() does it this way on Windows: each pipe gets a
 * thread that reads it to end-of-file with plain blocking reads, so neither
 * pipe can fill while the other is read. The calling thread waits for both
 * readers on a condition variable with the deadline, then for the program
 * with waitpid(WNOHANG). The child closes the caller's descriptors one by
 * one and reports a failed exec through a close-on-exec pipe. */
#include "subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct reader {
    int fd;
    char *data;             /* owned by the reader thread until it is done */
    size_t len, cap;
    int error;              /* ENOMEM if the buffer could not grow */
    pthread_t tid;
};

struct run {
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int done;               /* readers at end-of-file; guarded by lock */
    struct reader r[2];
};

struct reader_arg {
    struct run *run;
    struct reader *r;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    struct reader *r = a->r;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(r->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (r->error)
            continue;       /* keep draining so the program can finish */
        if (r->len + (size_t)n + 1 > r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 8192;
            while (r->len + (size_t)n + 1 > cap)
                cap *= 2;
            char *d = realloc(r->data, cap);
            if (!d) {
                r->error = ENOMEM;
                continue;
            }
            r->data = d;
            r->cap = cap;
        }
        memcpy(r->data + r->len, chunk, (size_t)n);
        r->len += (size_t)n;
    }
    pthread_mutex_lock(&a->run->lock);
    a->run->done++;
    pthread_cond_signal(&a->run->done_cv);
    pthread_mutex_unlock(&a->run->lock);
    free(a);
    return NULL;
}

static _Noreturn void child(char *const argv[], int out_w, int err_w, int exec_w)
{
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        goto fail;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        if (fd != exec_w)
            close(fd);
    execvp(argv[0], argv);
fail:;
    int e = errno;
    ssize_t ignored = write(exec_w, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

static int status_to_code(int status)
{
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

static void deadline_ts(struct timespec *ts, long timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool past(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

/* Waits for both readers and for the program until the deadline (NULL:
 * none); true when all ended in time, *status then set. */
static bool wait_all(struct run *run, pid_t pid, const struct timespec *d, int *status)
{
    bool in_time = true;
    pthread_mutex_lock(&run->lock);
    while (run->done < 2 && in_time) {
        if (!d)
            pthread_cond_wait(&run->done_cv, &run->lock);
        else if (pthread_cond_timedwait(&run->done_cv, &run->lock, d) == ETIMEDOUT)
            in_time = run->done == 2;
    }
    pthread_mutex_unlock(&run->lock);
    while (in_time) {
        pid_t r = waitpid(pid, status, d ? WNOHANG : 0);
        if (r == pid)
            return true;
        if (r < 0 && errno != EINTR)
            abort();
        if (d && past(d))
            return false;
        if (r == 0) {
            struct timespec pause = { 0, 1000000L };
            nanosleep(&pause, NULL);
        }
    }
    return false;
}

int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res)
{
    if (res)
        *res = (struct subproc_result){ 0 };
    if (!argv || !argv[0] || !res)
        return EINVAL;
    struct timespec d;
    deadline_ts(&d, timeout_ms < 0 ? 0 : timeout_ms);
    int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    int rc = 0;
    for (int i = 0; i < 3; i++)
        if (pipe2(p[i], O_CLOEXEC) != 0) {
            rc = errno;
            goto close_all;
        }
    pid_t pid = fork();
    if (pid < 0) {
        rc = errno;
        goto close_all;
    }
    if (pid == 0)
        child(argv, p[0][1], p[1][1], p[2][1]);
    setpgid(pid, pid);
    for (int i = 0; i < 3; i++) {
        close(p[i][1]);
        p[i][1] = -1;
    }
    int e = 0;
    ssize_t n;
    while ((n = read(p[2][0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    if (n > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        rc = e;
        goto close_all;
    }

    struct run run = { .done = 0 };
    pthread_mutex_init(&run.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run.done_cv, &ca);
    pthread_condattr_destroy(&ca);
    int started = 0;
    for (; started < 2; started++) {
        run.r[started].fd = p[started][0];
        struct reader_arg *a = malloc(sizeof *a);
        if (a)
            *a = (struct reader_arg){ &run, &run.r[started] };
        if (!a || pthread_create(&run.r[started].tid, NULL, reader_main, a) != 0) {
            free(a);
            rc = a ? EAGAIN : ENOMEM;
            break;
        }
    }
    int status = 0;
    if (rc != 0 || !wait_all(&run, pid, timeout_ms < 0 ? NULL : &d, &status)) {
        if (rc == 0)
            rc = ETIMEDOUT;
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < started; i++)
        pthread_join(run.r[i].tid, NULL);
    pthread_cond_destroy(&run.done_cv);
    pthread_mutex_destroy(&run.lock);
    for (int i = 0; i < 2 && (rc == 0 || rc == ETIMEDOUT); i++) {
        if (run.r[i].error)
            rc = run.r[i].error;
        else if (!run.r[i].data && !(run.r[i].data = malloc(1)))
            rc = ENOMEM;
        else
            run.r[i].data[run.r[i].len] = '\0';
    }
    if (rc == 0 || rc == ETIMEDOUT)
        *res = (struct subproc_result){ status_to_code(status), run.r[0].data, run.r[0].len,
                                        run.r[1].data, run.r[1].len };
    else
        for (int i = 0; i < 2; i++)
            free(run.r[i].data);
close_all:
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (p[i][j] >= 0)
                close(p[i][j]);
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
