/* stacks.c - see stacks.h. */
#define _GNU_SOURCE
#include "stacks.h"

#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { GDB_TIMEOUT_MS = 15000, MAX_THREADS_SHOWN = 8 };

/* What a thread waits in, from the names of glibc's functions in its stack. */
static const struct { const char *fn, *says; } waits[] = {
    { "pthread_mutex_lock", "blocked in pthread_mutex_lock" },
    { "pthread_mutex_timedlock", "blocked in pthread_mutex_timedlock" },
    { "pthread_mutex_clocklock", "blocked in pthread_mutex_clocklock" },
    { "pthread_cond_wait", "waiting in pthread_cond_wait" },
    { "pthread_cond_timedwait", "waiting in pthread_cond_timedwait" },
    { "pthread_cond_clockwait", "waiting in pthread_cond_clockwait" },
    { "pthread_clockjoin", "waiting in pthread_join" },
    { "pthread_join", "waiting in pthread_join" },
    { "pthread_rwlock_rdlock", "blocked in pthread_rwlock_rdlock" },
    { "pthread_rwlock_wrlock", "blocked in pthread_rwlock_wrlock" },
    { "sem_wait", "waiting in sem_wait" },
    { "sem_timedwait", "waiting in sem_timedwait" },
    { "sem_clockwait", "waiting in sem_clockwait" },
    { "pthread_barrier_wait", "waiting in pthread_barrier_wait" },
    { "nanosleep", "sleeping" },
    { "pause", "waiting in pause" },
    { "wait4", "waiting in waitpid" },
    { "waitpid", "waiting in waitpid" },
    { "__libc_read", "waiting in read" },
    { "poll", "waiting in poll" },
};

struct frame {
    char *fn, *file;
    int line;
};

struct thread {
    int number;
    struct frame *frames;
    int nframes;
};

/* "#4  0x0000559a9de37181 in lock (m=...) at bank.c:4" */
static bool parse_frame(const char *line, struct frame *f)
{
    if (line[0] != '#')
        return false;
    const char *p = line + 1 + strspn(line + 1, "0123456789");
    p += strspn(p, " ");
    const char *in = strstr(p, " in ");
    if (strncmp(p, "0x", 2) == 0 && in)
        p = in + 4;
    size_t n = strcspn(p, " (");
    f->fn = xstrndup(p, n);
    f->file = NULL;
    f->line = 0;
    const char *at = strstr(p, ") at ");
    if (at) {
        at += 5;
        const char *colon = strrchr(at, ':');
        if (colon) {
            const char *base = memrchr(at, '/', (size_t)(colon - at));
            base = base ? base + 1 : at;
            f->file = xstrndup(base, (size_t)(colon - base));
            f->line = atoi(colon + 1);
        }
    }
    return true;
}

static void free_threads(struct thread *t, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < t[i].nframes; k++)
            free(t[i].frames[k].fn), free(t[i].frames[k].file);
        free(t[i].frames);
    }
    free(t);
}

static struct thread *parse_threads(const char *out, int *count)
{
    struct thread *t = NULL;
    int n = 0;
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *copy = xstrndup(line, len);
        int number;
        struct frame f;
        if (sscanf(copy, "Thread %d (", &number) == 1) {
            t = xrealloc(t, (size_t)(n + 1) * sizeof *t);
            t[n++] = (struct thread){ .number = number };
        } else if (n && parse_frame(copy, &f)) {
            struct thread *cur = &t[n - 1];
            cur->frames = xrealloc(cur->frames, (size_t)(cur->nframes + 1) * sizeof *cur->frames);
            cur->frames[cur->nframes++] = f;
        }
        free(copy);
        line = end ? end + 1 : NULL;
    }
    *count = n;
    return t;
}

static const char *waiting_in(const struct thread *t, int before)
{
    for (int k = 0; k < before; k++)
        for (size_t w = 0; w < sizeof waits / sizeof waits[0]; w++)
            if (strstr(t->frames[k].fn, waits[w].fn))
                return waits[w].says;
    return "running";
}

static int by_number(const void *a, const void *b)
{
    return ((const struct thread *)a)->number - ((const struct thread *)b)->number;
}

char *stacks_from_gdb(const char *gdb_output, const char *file, const char *display)
{
    int n = 0, others = 0, shown = 0;
    struct thread *t = parse_threads(gdb_output, &n);
    if (!n) {
        free(t);
        return NULL;
    }
    qsort(t, (size_t)n, sizeof *t, by_number);
    struct strbuf sb = { 0 };
    sb_printf(&sb, "where the threads were when the test was stopped:\n");
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < t[i].nframes && !(t[i].frames[k].file && strcmp(t[i].frames[k].file, file) == 0))
            k++;
        if (k == t[i].nframes) {
            others++;   /* the test's own threads */
            continue;
        }
        if (++shown > MAX_THREADS_SHOWN)
            continue;
        const struct frame *f = &t[i].frames[k], *caller = NULL;
        for (int c = k + 1; c < t[i].nframes && !caller; c++)
            if (t[i].frames[c].file && strcmp(t[i].frames[c].file, file) == 0 &&
                strcmp(t[i].frames[c].fn, f->fn) != 0)
                caller = &t[i].frames[c];
        sb_printf(&sb, "  thread %d: %s at %s:%d (%s", t[i].number, waiting_in(&t[i], k), display,
                  f->line, f->fn);
        if (caller)
            sb_printf(&sb, ", called from line %d in %s", caller->line, caller->fn);
        sb_puts(&sb, ")\n");
    }
    if (shown > MAX_THREADS_SHOWN)
        sb_printf(&sb, "  (and %d more threads in %s)\n", shown - MAX_THREADS_SHOWN, display);
    if (others)
        sb_printf(&sb, "  (and %d thread%s of the test itself)\n", others, others == 1 ? "" : "s");
    free_threads(t, n);
    if (!shown) {
        free(sb.buf);
        return NULL;
    }
    return sb_steal(&sb);
}

static bool is_descendant(pid_t p, pid_t root)
{
    for (int depth = 0; p > 1 && depth < 16; depth++) {
        if (p == root)
            return true;
        p = proc_parent_of(p);
    }
    return false;
}

/* The process named `program` (its comm) under root, root included. */
static pid_t find_program(pid_t root, const char *program)
{
    DIR *d = opendir("/proc");
    pid_t found = -1;
    struct dirent *e;
    while (d && (e = readdir(d)) && found < 0) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char *path = xasprintf("/proc/%s/comm", e->d_name);
        char *comm = read_file(path, NULL);
        pid_t p = (pid_t)atoi(e->d_name);
        if (comm && strncmp(comm, program, strlen(program)) == 0 && comm[strlen(program)] == '\n' &&
            is_descendant(p, root))
            found = p;
        free(comm);
        free(path);
    }
    if (d)
        closedir(d);
    return found;
}

/* The owner of a process (from /proc/PID/status); -1 if unknown. */
static int owner_of(pid_t pid, const char *field)
{
    char *path = xasprintf("/proc/%d/status", (int)pid);
    char *status = read_file(path, NULL);
    free(path);
    const char *line = status ? strstr(status, field) : NULL;
    int id = -1;
    if (line)
        sscanf(line + strlen(field), "%d", &id);
    free(status);
    return id;
}

/* gdb reads what the student's code left in memory: never as root. As the
 * test's own user it may attach only where the system allows a non-parent to
 * trace (Yama's ptrace_scope 0); elsewhere the wait channels speak. */
static void drop_to_owner(pid_t pid)
{
    struct rlimit cpu = { 20, 20 };
    setrlimit(RLIMIT_CPU, &cpu);
    if (geteuid() != 0)
        return;
    int uid = owner_of(pid, "Uid:"), gid = owner_of(pid, "Gid:");
    if (uid <= 0 || gid < 0 || setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 ||
        setuid((uid_t)uid) != 0)
        _exit(126);
}

/* gdb's output for every thread of pid; NULL if gdb cannot run or attach. */
static char *gdb_backtraces(pid_t pid, const char *binary)
{
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return NULL;
    char spid[16];
    snprintf(spid, sizeof spid, "%d", (int)pid);
    pid_t gdb = fork();
    if (gdb == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(out[1], 1), dup2(null, 2);
        setenv("DEBUGINFOD_URLS", "", 1);
        drop_to_owner(pid);
        /* The binary and libraries as this side sees them: the test's own view
         * (/proc/PID/root) is closed to another mount namespace's user. */
        execlp("gdb", "gdb", "-nx", "-batch", "-iex", "set sysroot /", binary, "-p", spid, "-ex",
               "thread apply all bt", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    struct strbuf sb = { 0 };
    long deadline = now_ms() + GDB_TIMEOUT_MS;
    char buf[8192];
    for (;;) {
        struct pollfd p = { out[0], POLLIN, 0 };
        long left = deadline - now_ms();
        if (gdb < 0 || left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = read(out[0], buf, sizeof buf);
        if (n <= 0)
            break;
        if (sb.len < (1 << 20))
            sb_add(&sb, buf, (size_t)n);
    }
    close(out[0]);
    if (gdb > 0) {
        kill(gdb, SIGKILL);   /* detaches the test if gdb was still at it */
        while (waitpid(gdb, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    return sb.buf;
}

/* Without gdb: each thread's kernel wait channel. */
static char *wait_channels(pid_t pid)
{
    char *dir = xasprintf("/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    struct strbuf sb = { 0 };
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char *path = xasprintf("%s/%s/wchan", dir, e->d_name);
        char *w = read_file(path, NULL);
        if (w)
            sb_printf(&sb, "%s%s", sb.len ? ", " : "", strcmp(w, "0") == 0 || !*w ? "running" : w);
        free(w);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
    if (!sb.len)
        return NULL;
    char *text = xasprintf("the threads were in (kernel wait channels): %s\n", sb.buf);
    free(sb.buf);
    return text;
}

char *stacks_describe(pid_t pid, const char *binary, const char *file, const char *display)
{
    const char *slash = strrchr(binary, '/');
    pid_t target = find_program(pid, slash ? slash + 1 : binary);
    if (target < 0)
        return NULL;
    char *out = gdb_backtraces(target, binary);
    char *text = out ? stacks_from_gdb(out, file, display) : NULL;
    free(out);
    return text ? text : wait_channels(target);
}
