/* proc.c - see proc.h. */
#define _GNU_SOURCE
#include "proc.h"

#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The process group of the child being run, for proc_kill_running(). */
static volatile sig_atomic_t running_pgid;

void proc_kill_running(void)
{
    pid_t pgid = running_pgid;
    if (pgid > 0)
        kill(-pgid, SIGKILL);
}

/* The descriptor number the child sees its channel at. */
enum { CHANNEL_FD = 3, DEFAULT_CAP = 64 * 1024 };

/* Output kept as head and tail around what was cut. */
struct capture {
    struct strbuf head, tail;
    size_t cap, total;
};

static void capture_add(struct capture *c, const char *buf, size_t n)
{
    size_t half = c->cap / 2;
    c->total += n;
    if (c->head.len < half) {
        size_t take = n < half - c->head.len ? n : half - c->head.len;
        sb_add(&c->head, buf, take);
        buf += take;
        n -= take;
    }
    if (n == 0)
        return;
    sb_add(&c->tail, buf, n);
    if (c->tail.len > 2 * half) {   /* keep the last `half` bytes */
        memmove(c->tail.buf, c->tail.buf + c->tail.len - half, half);
        c->tail.len = half;
        c->tail.buf[half] = '\0';
    }
}

static char *capture_finish(struct capture *c)
{
    size_t half = c->cap / 2;
    struct strbuf out = { 0 };
    sb_add(&out, c->head.buf ? c->head.buf : "", c->head.len);
    size_t kept = c->head.len + (c->tail.len > half ? half : c->tail.len);
    const char *tail = c->tail.buf ? c->tail.buf + (c->tail.len > half ? c->tail.len - half : 0) : "";
    if (c->total > kept)
        sb_printf(&out, "\n[... %zu bytes of output cut ...]\n", c->total - kept);
    sb_puts(&out, tail);
    free(c->head.buf);
    free(c->tail.buf);
    return sb_steal(&out);
}

static char **child_env(char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    for (char *const *e = extra; e && *e; e++)
        k++;
    char **env = xcalloc(n + k + 1, sizeof *env);
    size_t j = 0;
    for (size_t i = 0; i < n; i++)   /* the kit's own variables come only from `extra` */
        if (strncmp(environ[i], "KIT_", 4) != 0)
            env[j++] = environ[i];
    for (char *const *e = extra; e && *e; e++)
        env[j++] = *e;
    return env;
}

/* In the child: never returns. */
static void exec_child(const struct proc_spec *spec, char **argv, int out_w, int chan_w, char **env)
{
    /* A session of its own: a process group for the kill, and its own
     * scheduling autogroup, so a fork bomb shares one slice of the CPU. */
    if (setsid() < 0)
        setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);   /* only its copy on 0 stays */
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0 ||
        (devnull == 0 && fcntl(0, F_SETFD, 0) != 0))   /* dup2 onto itself keeps the flag */
        _exit(127);
    if (chan_w >= 0 && dup2(chan_w, CHANNEL_FD) < 0)
        _exit(127);
    struct rlimit core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &core);
    if (spec->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(spec->cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    signal(SIGPIPE, SIG_DFL);
    if (spec->cwd && chdir(spec->cwd) != 0)
        _exit(127);
    if (spec->jail && sandbox_enter(spec->jail) != 0) {
        fprintf(stderr, "cannot enter the sandbox: %s\n", strerror(errno));
        _exit(127);
    }
    execvpe(argv[0], argv, env);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Drains fd into c (or sb); false at end of file. */
static bool drain(int fd, struct capture *c, struct strbuf *sb)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (c)
                capture_add(c, buf, (size_t)n);
            else if (sb->len < 4 * 1024 * 1024)
                sb_add(sb, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

/* Whether the child has ended (it stays a zombie until reaped). */
static bool child_exited(int pidfd, pid_t pid, short revents)
{
    if (pidfd >= 0)
        return (revents & POLLIN) != 0;
    siginfo_t si = { 0 };
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

pid_t proc_parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');   /* after "pid (comm)" */
    int ppid;
    return p && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

/* A process that left its group (setsid, setpgid) escapes the group kill.
 * As a child subreaper we inherit it when its parent dies: kill and reap
 * every such orphan, until none is left. */
void proc_kill_orphans(void)
{
    int reaper = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &reaper) != 0 || !reaper)
        return;
    siginfo_t info;   /* no child at all (the usual case): no orphan to look for */
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD)
        return;
    for (int round = 0; round < 100; round++) {
        int found = 0;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || proc_parent_of((pid_t)atoi(e->d_name)) != getpid())
                continue;
            pid_t orphan = (pid_t)atoi(e->d_name);
            kill(orphan, SIGKILL);
            while (waitpid(orphan, NULL, 0) < 0 && errno == EINTR)
                ;
            found++;   /* its own children come to us: look again */
        }
        if (d)
            closedir(d);
        if (!found)
            break;
    }
}

void proc_adopt_orphans(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int proc_run(const struct proc_spec *spec, struct proc_result *res)
{
    *res = (struct proc_result){ 0 };
    int out[2], chan[2] = { -1, -1 };
    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (spec->channel && pipe2(chan, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    char *chan_env = xasprintf("KIT_VERDICT_FD=%d", CHANNEL_FD);
    char *extra[64];
    size_t k = 0;
    for (char *const *e = spec->env; e && *e && k < 62; e++)
        extra[k++] = *e;
    if (spec->channel)
        extra[k++] = chan_env;
    extra[k] = NULL;
    char **env = child_env(extra);
    char **argv = spec->jail ? sandbox_argv(spec->jail, spec->argv) : (char **)spec->argv;

    long start = now_ms();
    pid_t pid = fork();
    if (pid == 0)
        exec_child(spec, argv, out[1], chan[1], env);
    int saved = errno;
    free(env);
    if (spec->jail)
        sandbox_argv_free(spec->jail, argv);
    free(chan_env);
    close(out[1]);
    if (chan[1] >= 0)
        close(chan[1]);
    if (pid < 0) {
        close(out[0]);
        if (chan[0] >= 0)
            close(chan[0]);
        errno = saved;
        return -1;
    }
    running_pgid = pid;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    if (chan[0] >= 0)
        fcntl(chan[0], F_SETFL, O_NONBLOCK);

    struct capture cap = { .cap = spec->output_cap ? spec->output_cap : DEFAULT_CAP };
    struct strbuf chan_data = { 0 };
    long deadline = start + spec->timeout_ms, kill_at = -1;
    bool exited = false, out_open = true, chan_open = chan[0] >= 0;
    while (!exited) {
        struct pollfd p[3] = { { pidfd, POLLIN, 0 }, { out_open ? out[0] : -1, POLLIN, 0 },
                               { chan_open ? chan[0] : -1, POLLIN, 0 } };
        long now = now_ms(), wake = kill_at >= 0 ? kill_at : deadline;
        int wait = wake - now > 0 ? (int)(wake - now) : 0;
        if (pidfd < 0 && wait > 20)
            wait = 20;   /* no pidfd (old kernel): poll for the exit */
        poll(p, 3, wait);
        if (out_open && (p[1].revents & (POLLIN | POLLHUP)))
            out_open = drain(out[0], &cap, NULL);
        if (chan_open && (p[2].revents & (POLLIN | POLLHUP)))
            chan_open = drain(chan[0], NULL, &chan_data);
        exited = child_exited(pidfd, pid, p[0].revents);
        now = now_ms();
        if (!exited && kill_at < 0 && now >= deadline) {
            res->timed_out = true;
            if (spec->on_timeout)
                spec->on_timeout(pid, spec->on_timeout_arg);
            kill(-pid, SIGTERM);
            kill_at = now + spec->grace_ms;
        } else if (!exited && kill_at >= 0 && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_at = now + 60 * 1000;
        }
    }
    /* The leader is a zombie, so its group id cannot be reused yet: kill what
     * it left behind, then reap it. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &res->status, 0) < 0 && errno == EINTR)
        ;
    running_pgid = 0;
    proc_kill_orphans();
    if (spec->jail)
        res->status = sandbox_wait_status(spec->jail, res->status);
    res->elapsed_ms = now_ms() - start;
    if (out_open)
        drain(out[0], &cap, NULL);
    if (chan_open)
        drain(chan[0], NULL, &chan_data);
    close(out[0]);
    if (chan[0] >= 0)
        close(chan[0]);
    if (pidfd >= 0)
        close(pidfd);
    res->output_total = cap.total;
    res->output = capture_finish(&cap);
    res->channel = sb_steal(&chan_data);
    return 0;
}

void proc_result_free(struct proc_result *res)
{
    free(res->output);
    free(res->channel);
    *res = (struct proc_result){ 0 };
}

char *proc_describe(int status)
{
    if (WIFEXITED(status))
        return xasprintf("exited with status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *abbrev = sigabbrev_np(sig);
        return xasprintf("killed by SIG%s (%s)", abbrev ? abbrev : "?", strsignal(sig));
    }
    return xasprintf("ended with wait status %#x", status);
}
