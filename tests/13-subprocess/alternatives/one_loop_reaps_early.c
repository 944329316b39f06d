/* subproc.c - subprocess.run with one loop that reads and reaps.
 *
 * One poll() loop with short naps both reads the pipes (one read() per
 * readable pipe, blocking descriptors) and checks with waitpid(WNOHANG)
 * whether the program ended; it stops when the program was reaped and both
 * pipes are at end-of-file. The child marks every descriptor above 2
 * close-on-exec with close_range(CLOSE_RANGE_CLOEXEC) instead of closing
 * them, so the exec pipe stays usable until exec itself. */
#include "subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { NAP_MS = 10 };

struct stream {
    int fd;                 /* -1 once at end-of-file */
    char *data;
    size_t len, cap;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One read from s; 0 or ENOMEM. Closes s->fd at end-of-file. */
static int read_once(struct stream *s)
{
    if (s->cap - s->len < 65536 + 1) {
        size_t cap = s->cap ? s->cap * 2 : 131072;
        char *d = realloc(s->data, cap);
        if (!d)
            return ENOMEM;
        s->data = d;
        s->cap = cap;
    }
    ssize_t n = read(s->fd, s->data + s->len, 65536);
    if (n > 0)
        s->len += (size_t)n;
    else if (n == 0 || errno != EINTR) {
        close(s->fd);
        s->fd = -1;
    }
    return 0;
}

static void child(char *const argv[], int out_w, int err_w, int exec_w)
{
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0 && dup2(null, 0) == 0 && dup2(out_w, 1) == 1 && dup2(err_w, 2) == 2 &&
        close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        execvp(argv[0], argv);
    int e = errno;
    ssize_t ignored = write(exec_w, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* Fork and exec with the three pipes; 0 or an errno (nothing left behind). */
static int launch(char *const argv[], struct stream s[2], pid_t *pid)
{
    int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, rc = 0, e = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (pipe2(p[i], O_CLOEXEC) != 0)
            rc = errno;
    if (rc == 0 && (*pid = fork()) < 0)
        rc = errno;
    if (rc == 0 && *pid == 0)
        child(argv, p[0][1], p[1][1], p[2][1]);
    if (rc == 0) {
        setpgid(*pid, *pid);
        for (int i = 0; i < 3; i++) {
            close(p[i][1]);
            p[i][1] = -1;
        }
        ssize_t n;
        while ((n = read(p[2][0], &e, sizeof e)) < 0 && errno == EINTR)
            ;
        if (n > 0) {
            while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
            rc = e;
        }
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (p[i][j] >= 0 && (rc != 0 || i == 2 || j == 1))
                close(p[i][j]);
    if (rc == 0) {
        s[0].fd = p[0][0];
        s[1].fd = p[1][0];
    }
    return rc;
}

int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!argv || !argv[0] || !res)
        return EINVAL;
    long start = now_ms();
    struct stream s[2] = { { -1, NULL, 0, 0 }, { -1, NULL, 0, 0 } };
    pid_t pid;
    int rc = launch(argv, s, &pid);
    if (rc != 0)
        return rc;
    bool reaped = false;
    int status = 0;
    while (rc == 0 && (!reaped || s[0].fd >= 0 || s[1].fd >= 0)) {
        if (timeout_ms >= 0 && now_ms() - start >= timeout_ms) {
            rc = ETIMEDOUT;
            break;
        }
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid)
            reaped = true;
        struct pollfd pf[2] = { { s[0].fd, POLLIN, 0 }, { s[1].fd, POLLIN, 0 } };
        long left = timeout_ms < 0 ? NAP_MS : timeout_ms - (now_ms() - start);
        poll(pf, 2, (int)(left < NAP_MS ? (left > 0 ? left : 0) : NAP_MS));
        for (int i = 0; i < 2 && rc == 0; i++)
            if (s[i].fd >= 0 && pf[i].revents)
                rc = read_once(&s[i]);
    }
    if (rc != 0)    /* the group too, even when the program itself has ended */
        kill(-pid, SIGKILL);
    if (!reaped) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    for (int i = 0; i < 2; i++)
        if (s[i].fd >= 0) {
            if (rc == ETIMEDOUT) {   /* what is left in the pipe, without waiting */
                fcntl(s[i].fd, F_SETFL, O_NONBLOCK);
                while (s[i].fd >= 0 && read_once(&s[i]) == 0)
                    ;
            }
            if (s[i].fd >= 0)
                close(s[i].fd);
        }
    for (int i = 0; i < 2 && (rc == 0 || rc == ETIMEDOUT); i++) {
        if (!s[i].data && !(s[i].data = malloc(1)))
            rc = ENOMEM;
        else
            s[i].data[s[i].len] = '\0';
    }
    if (rc != 0 && rc != ETIMEDOUT) {
        free(s[0].data);
        free(s[1].data);
        return rc;
    }
    res->returncode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    res->out = s[0].data;
    res->out_len = s[0].len;
    res->err = s[1].data;
    res->err_len = s[1].len;
    return rc;
}

void subproc_result_free(struct subproc_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
