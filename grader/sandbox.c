/* sandbox.c - see sandbox.h. */
#define _GNU_SOURCE
#include "sandbox.h"

#include "proc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    /* The unprivileged users of student code when the grader is root: a
     * block of JAIL_SLOTS per grader (chosen by its pid, so that graders
     * running side by side rarely share one), one per parallel worker, above
     * the ids distributions hand out and below the subordinate-id ranges. */
    JAIL_UID_BASE = 70000,
    JAIL_SLOTS = 16,
    JAIL_BLOCKS = 1000,
    NPROC_ROOM = 256,           /* threads and processes a test may start (64-thread tests, workers) */
    JAIL_FD_DIR = 10,           /* where sandbox_enter puts the jail's folders */
    MAX_BWRAP_ARGS = 96,
    PROBE_TIMEOUT_MS = 10 * 1000,
};

static const long long MiB = 1024LL * 1024;

struct jail_limits jail_limits_for(long timeout_ms, enum jail_tool tool)
{
    /* CPU: two cores busy for the whole wall-clock limit, and a margin; the
     * wall clock stops honest code long before. Address space: room for 64
     * threads' stacks and malloc arenas natively; valgrind keeps its own
     * shadow memory; ThreadSanitizer reserves terabytes of address space, so
     * it gets no address-space limit (its run is bounded by time). */
    struct jail_limits l = {
        .cpu_s = 2 * timeout_ms / 1000 + 10,
        .as_bytes = tool == JAIL_NATIVE ? 4096 * MiB : tool == JAIL_VALGRIND ? 8192 * MiB : 0,
        .fsize_bytes = 64 * MiB,
        .nofile = 256,
    };
    return l;
}

/* Threads running now as `uid` (RLIMIT_NPROC counts threads). */
static long threads_of(uid_t uid)
{
    DIR *d = opendir("/proc");
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char *path = xasprintf("/proc/%s/status", e->d_name);
        char *text = read_file(path, NULL);
        free(path);
        if (!text)
            continue;
        const char *u = strstr(text, "\nUid:"), *t = strstr(text, "\nThreads:");
        if (u && t && strtoul(u + 5, NULL, 10) == uid)
            n += strtol(t + 9, NULL, 10);
        free(text);
    }
    if (d)
        closedir(d);
    return n;
}

void sandbox_for_slot(struct sandbox *sb, int slot)
{
    sb->slot = slot;
    if (sb->drop)
        sb->uid = sb->gid =
            (uid_t)(JAIL_UID_BASE + sb->block * JAIL_SLOTS + slot % JAIL_SLOTS);
}

void sandbox_for_lane(struct sandbox *sb, int lane)
{
    int slot = sb->slot;
    sandbox_for_slot(sb, slot + lane * (JAIL_SLOTS / SANDBOX_LANES));
    sb->slot = slot;
}

/* An argument vector whose strings are all its own. */
struct argv_buf {
    char **v;
    int n;
};

static void put(struct argv_buf *a, char *s)   /* takes s */
{
    if (a->n < MAX_BWRAP_ARGS)
        a->v[a->n++] = s;
    else
        free(s);
}

static void put3(struct argv_buf *a, const char *opt, char *from, const char *to)
{
    put(a, xstrdup(opt));
    put(a, from);
    put(a, xstrdup(to));
}

/* A read-only view of the system: /usr, /etc and the top-level links or
 * folders into them. */
static void put_system(struct argv_buf *a)
{
    static const char *const top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" };
    put3(a, "--ro-bind", xstrdup("/usr"), "/usr");
    put3(a, "--ro-bind", xstrdup("/etc"), "/etc");
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
        struct stat st;
        char target[256];
        ssize_t len;
        if (lstat(top[i], &st) != 0)
            continue;
        if (!S_ISLNK(st.st_mode))
            put3(a, "--ro-bind", xstrdup(top[i]), top[i]);
        else if ((len = readlink(top[i], target, sizeof target - 1)) > 0)   /* merged /usr */
            put3(a, "--symlink", xstrndup(target, (size_t)len), top[i]);
    }
}

char **sandbox_argv(const struct jail *j, char *const *argv)
{
    size_t k = 0;
    while (argv[k])
        k++;
    struct argv_buf a = { xcalloc(MAX_BWRAP_ARGS + k + 1, sizeof *a.v), 0 };
    if (j->sb->kind == SANDBOX_BWRAP) {
        static const char *const head[] = { "bwrap", "--die-with-parent", "--unshare-all",
                                            "--proc", "/proc", "--dev", "/dev",
                                            "--size", "67108864", "--tmpfs", "/tmp", NULL };
        for (const char *const *h = head; *h; h++)
            put(&a, xstrdup(*h));
        put_system(&a);
        put3(&a, j->dir_writable ? "--bind-fd" : "--ro-bind-fd",
             xasprintf("%d", JAIL_FD_DIR), JAIL_DIR);
        for (int i = 0; i < 3 && j->writable[i]; i++) {
            char *to = xasprintf("%s/%s", JAIL_DIR, j->writable[i]);
            put3(&a, "--bind-fd", xasprintf("%d", JAIL_FD_DIR + 1 + i), to);
            free(to);
        }
        put(&a, xstrdup("--chdir"));
        put(&a, xstrdup(JAIL_DIR));
        put(&a, xstrdup("--"));
    }
    int own = a.n;
    for (size_t i = 0; i < k; i++)
        a.v[own + (int)i] = argv[i];
    return a.v;
}

void sandbox_argv_free(const struct jail *j, char **argv)
{
    /* The jail's own strings come first, up to and including "--". */
    if (j->sb->kind == SANDBOX_BWRAP)
        for (int i = 0; argv[i]; i++) {
            bool last = strcmp(argv[i], "--") == 0;
            free(argv[i]);
            if (last)
                break;
        }
    free(argv);
}

static int limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit r = { soft, hard };
    return setrlimit(resource, &r);
}

/* Opens `path` at descriptor `at`, for bubblewrap's --bind-fd. */
static int open_at(const char *dir, const char *sub, int at)
{
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = sub && dfd >= 0 ? openat(dfd, sub, O_PATH | O_DIRECTORY | O_CLOEXEC) : dfd;
    if (fd < 0)
        return -1;
    if (fd == at)   /* dup2 would keep close-on-exec */
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, at) < 0 ? -1 : 0;
}

int sandbox_enter(const struct jail *j)
{
    if (chdir(j->dir) != 0)
        return -1;
    if (j->sb->kind == SANDBOX_BWRAP) {
        if (open_at(j->dir, NULL, JAIL_FD_DIR) != 0)
            return -1;
        for (int i = 0; i < 3 && j->writable[i]; i++)
            if (open_at(j->dir, j->writable[i], JAIL_FD_DIR + 1 + i) != 0)
                return -1;
        /* bubblewrap, as the jailed user, must be able to look at its own
         * working folder; it moves to JAIL_DIR itself. */
        if (chdir("/") != 0)
            return -1;
    }
    const struct jail_limits *l = &j->lim;
    if ((l->cpu_s && limit(RLIMIT_CPU, (rlim_t)l->cpu_s, (rlim_t)l->cpu_s + 1) != 0) ||
        (l->as_bytes && limit(RLIMIT_AS, (rlim_t)l->as_bytes, (rlim_t)l->as_bytes) != 0) ||
        (l->fsize_bytes &&
         limit(RLIMIT_FSIZE, (rlim_t)l->fsize_bytes, (rlim_t)l->fsize_bytes) != 0) ||
        (l->nofile && limit(RLIMIT_NOFILE, (rlim_t)l->nofile, (rlim_t)l->nofile) != 0) ||
        limit(RLIMIT_NPROC, (rlim_t)j->sb->nproc, (rlim_t)j->sb->nproc) != 0)
        return -1;
    if (j->sb->drop && (setgroups(0, NULL) != 0 || setgid(j->sb->gid) != 0 ||
                        setuid(j->sb->uid) != 0))
        return -1;
    return 0;
}

int sandbox_wait_status(const struct jail *j, int status)
{
    if (j->sb->kind != SANDBOX_BWRAP || !WIFEXITED(status))
        return status;
    int code = WEXITSTATUS(status);
    return code > 128 && code < 128 + SIGRTMIN ? code - 128 : status;   /* WTERMSIG == N */
}

static int give(const char *path, uid_t uid, gid_t gid)
{
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
        return -1;
    int rc = lchown(path, uid, gid);
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = xasprintf("%s/%s", path, e->d_name);
            rc |= give(p, uid, gid);
            free(p);
        }
        if (d)
            closedir(d);
    }
    return rc;
}

int sandbox_give(const struct sandbox *sb, const char *path)
{
    return sb->drop ? give(path, sb->uid, sb->gid) : 0;
}

bool sandbox_can_reach(const struct sandbox *sb, const char *path)
{
    if (!sb->drop)
        return true;
    pid_t pid = fork();
    if (pid == 0) {
        bool ok = setgroups(0, NULL) == 0 && setgid(sb->gid) == 0 && setuid(sb->uid) == 0 &&
                  access(path, R_OK | X_OK) == 0;
        _exit(ok ? 0 : 1);
    }
    int status;
    while (pid > 0 && waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Whether bubblewrap runs here, as the jailed user; NULL if so, else why not. */
static char *probe_bwrap(struct sandbox *sb, const char *dir)
{
    struct sandbox try = *sb;
    try.kind = SANDBOX_BWRAP;
    struct jail j = { .sb = &try, .dir = dir, .lim = jail_limits_for(PROBE_TIMEOUT_MS, JAIL_NATIVE) };
    char *cmd[] = { "/bin/true", NULL };
    struct proc_spec spec = { .argv = cmd, .jail = &j, .timeout_ms = PROBE_TIMEOUT_MS,
                              .grace_ms = 100, .cpu = -1 };
    struct proc_result res;
    if (proc_run(&spec, &res) != 0)
        return xasprintf("cannot run bwrap: %s", strerror(errno));
    char *why = NULL;
    if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
        size_t len = strcspn(res.output, "\n");
        why = len ? xasprintf("%.*s", (int)len, res.output) : proc_describe(res.status);
    }
    proc_result_free(&res);
    return why;
}

int sandbox_init(struct sandbox *sb, const char *want, const char *probe_dir, int slot, char **err)
{
    *sb = (struct sandbox){ .kind = SANDBOX_REDUCED, .drop = geteuid() == 0,
                            .block = (int)(getpid() % JAIL_BLOCKS) };
    *err = NULL;
    sandbox_for_slot(sb, slot);
    if (!sb->drop) {
        sb->uid = getuid();
        sb->gid = getgid();
    }
    /* As the student's own user, the limit counts all their processes. */
    sb->nproc = (sb->drop ? 0 : threads_of(sb->uid)) + NPROC_ROOM;
    if (!want || strcmp(want, "auto") == 0 || strcmp(want, "bwrap") == 0) {
        char *why = probe_bwrap(sb, probe_dir);
        if (!why) {
            sb->kind = SANDBOX_BWRAP;
            return 0;
        }
        if (want && strcmp(want, "bwrap") == 0) {
            *err = xasprintf("bubblewrap cannot run here: %s", why);
            free(why);
            return -1;
        }
        sb->reduced_why = why;
        return 0;
    }
    if (strcmp(want, "reduced") != 0) {
        *err = xasprintf("unknown sandbox \"%s\": auto, bwrap or reduced", want);
        return -1;
    }
    sb->reduced_why = xstrdup("asked for");
    return 0;
}

void sandbox_free(struct sandbox *sb)
{
    free(sb->reduced_why);
    sb->reduced_why = NULL;
}
