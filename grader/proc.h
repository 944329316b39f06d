/* proc.h - run one child process under a wall-clock limit.
 *
 * The child leads its own process group; when it ends or its time is up the
 * whole group is killed, so nothing it started outlives the run. On time-out
 * the group gets SIGTERM first (helgrind then closes its XML and says which
 * locks were held), then SIGKILL after a grace period. Its stdout and stderr
 * are captured together, keeping the head and the tail when they are long. An
 * optional channel (a pipe whose descriptor number is put in KIT_VERDICT_FD)
 * carries verdicts that the child's own output cannot fake. */
#ifndef KIT_PROC_H
#define KIT_PROC_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>

struct jail;

struct proc_spec {
    char *const *argv;     /* argv[0]: a path, or a name looked up in PATH */
    const struct jail *jail;   /* student code: run in this jail (sandbox.h) */
    char *const *env;      /* "KEY=VALUE" added to the environment; NULL-terminated or NULL */
    const char *cwd;       /* NULL: the grader's (a jail has its own) */
    long timeout_ms;
    long grace_ms;         /* between SIGTERM and SIGKILL */
    size_t output_cap;     /* bytes of output kept (head and tail); 0: 64 KiB */
    bool channel;          /* open a verdict channel */
    int cpu;               /* >= 0: pin the child to this CPU */
    /* Called once when the time-out strikes, before any signal is sent (the
     * child is still as it was): e.g. to look at its threads. */
    void (*on_timeout)(pid_t pid, void *arg);
    void *on_timeout_arg;
};

struct proc_result {
    int status;            /* as from waitpid */
    bool timed_out;
    long elapsed_ms;
    char *output;          /* captured stdout+stderr, NUL-terminated, capped */
    size_t output_total;   /* bytes the child wrote in all */
    char *channel;         /* what arrived on the channel, NUL-terminated */
};

/* 0 when the child ran (whatever became of it); -1 with errno if it could not
 * be started. */
int proc_run(const struct proc_spec *spec, struct proc_result *res);

/* The parent of process `pid` (from /proc/PID/stat); -1 if it is gone. */
pid_t proc_parent_of(pid_t pid);
void proc_result_free(struct proc_result *res);

/* Makes this process a child subreaper: from then on, whatever a child
 * leaves behind (even in a session of its own) is killed when proc_run
 * returns. */
void proc_adopt_orphans(void);

/* Kills and reaps every child of this process: after proc_run, those are
 * orphans that escaped their process group. Called by proc_run itself. */
void proc_kill_orphans(void);

/* Kills the process group being run, if any: for signal handlers, so that
 * an interrupted grader leaves nothing behind. Async-signal-safe. */
void proc_kill_running(void);

/* "exited with status 3", "killed by SIGSEGV (segmentation fault)", ... */
char *proc_describe(int status);

#endif /* KIT_PROC_H */
