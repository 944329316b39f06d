/* subproc.c - subprocess.run with posix_spawnp, open_memstream buffers, and
 * a wait for the exit that polls waitpid(WNOHANG).
 *
 * posix_spawnp does in one call what fork and exec do in two: the file
 * actions put /dev/null and the pipes on 0, 1, 2 and close everything else,
 * the attributes make a new process group, and exec's errno comes back as
 * its result (glibc reports a failed exec to the parent itself). */
#include "subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Starts the program; 0 or an errno. */
static int spawn(char *const argv[], int out_w, int err_w, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, out_w, 1)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) == 0 &&
        (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
        (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP)) == 0 &&
        (rc = posix_spawnattr_setpgroup(&at, 0)) == 0)
        rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Reads what fd holds now into f; false at end-of-file. */
static bool pump(int fd, FILE *f)
{
    char chunk[32768];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            fwrite(chunk, 1, (size_t)n, f);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

/* Waits for pid until the deadline (-1: none); the wait status, or -1 on
 * time-out. */
static int wait_until(pid_t pid, long deadline)
{
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, deadline < 0 ? 0 : WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            abort();
        if (deadline >= 0 && now_ms() >= deadline)
            return -1;
        if (r == 0) {
            struct timespec pause = { 0, 2 * 1000000L };
            nanosleep(&pause, NULL);
        }
    }
}

int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res)
{
    if (res)
        *res = (struct subproc_result){ 0 };
    if (!argv || !argv[0] || !res)
        return EINVAL;
    long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int p[2][2] = { { -1, -1 }, { -1, -1 } };
    char *data[2] = { NULL, NULL };
    size_t len[2] = { 0, 0 };
    FILE *f[2] = { NULL, NULL };
    int rc = 0;
    pid_t pid;
    for (int i = 0; i < 2; i++)
        if (pipe2(p[i], O_CLOEXEC) != 0) {
            rc = errno;
            goto out;
        }
    f[0] = open_memstream(&data[0], &len[0]);
    f[1] = open_memstream(&data[1], &len[1]);
    if (!f[0] || !f[1]) {
        rc = ENOMEM;
        goto out;
    }
    rc = spawn(argv, p[0][1], p[1][1], &pid);
    if (rc != 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        close(p[i][1]);
        p[i][1] = -1;
        fcntl(p[i][0], F_SETFL, O_NONBLOCK);
    }
    bool live[2] = { true, true };
    while (rc == 0 && (live[0] || live[1])) {
        struct pollfd pf[2] = { { live[0] ? p[0][0] : -1, POLLIN, 0 },
                                { live[1] ? p[1][0] : -1, POLLIN, 0 } };
        long left = deadline < 0 ? -1 : deadline - now_ms();
        if (deadline >= 0 && left <= 0)
            rc = ETIMEDOUT;
        else if (poll(pf, 2, (int)left) >= 0)
            for (int i = 0; i < 2; i++)
                if (live[i] && pf[i].revents)
                    live[i] = pump(p[i][0], f[i]);
    }
    int status = rc == 0 ? wait_until(pid, deadline) : -1;
    if (status == -1) {
        rc = ETIMEDOUT;
        kill(-pid, SIGKILL);
        status = wait_until(pid, -1);
        for (int i = 0; i < 2; i++)
            pump(p[i][0], f[i]);
    }
    res->returncode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    for (int i = 0; i < 2; i++) {
        if (fclose(f[i]) != 0)
            rc = ENOMEM;
        f[i] = NULL;
    }
    if (rc != 0 && rc != ETIMEDOUT) {
        res->returncode = 0;
        goto out;
    }
    res->out = data[0];
    res->out_len = len[0];
    res->err = data[1];
    res->err_len = len[1];
    data[0] = data[1] = NULL;
out:
    for (int i = 0; i < 2; i++) {
        if (f[i])
            fclose(f[i]);
        free(data[i]);
        for (int j = 0; j < 2; j++)
            if (p[i][j] >= 0)
                close(p[i][j]);
    }
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
