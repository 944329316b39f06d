/* sandbox.h - where and as whom student code runs.
 *
 * Every process that runs student code (the compile of the student file, the
 * test processes, helgrind and ThreadSanitizer) goes into a jail: resource
 * limits, an unprivileged user when the grader is root, and, where bubblewrap
 * works, its own namespaces: no network, its own PID namespace (signals and
 * fork bombs stay inside and die with it), a read-only view of the system,
 * none of the kit or of other submissions, and only the exercise's scratch
 * folder visible (at JAIL_DIR), writable only where the grader says.
 *
 * Where bubblewrap cannot run, the jail is "reduced": the same limits and
 * user, a process group instead of a PID namespace, and the real file system
 * (read-only to the unprivileged user, except what the grader gives it). */
#ifndef KIT_SANDBOX_H
#define KIT_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

/* Inside a bubblewrap jail the exercise's scratch folder is seen here. */
#define JAIL_DIR "/grade"

enum sandbox_kind { SANDBOX_BWRAP, SANDBOX_REDUCED };

struct sandbox {
    enum sandbox_kind kind;
    bool drop;           /* the grader is root: student code runs as uid/gid */
    uid_t uid;
    gid_t gid;
    int block;           /* this grader's block of jail users */
    int slot;            /* the worker's place in the block */
    long nproc;          /* RLIMIT_NPROC for student code */
    char *reduced_why;   /* why bubblewrap is not used (kind REDUCED) */
};

/* Resource limits of one jailed process; 0 leaves a limit as it is. */
struct jail_limits {
    long cpu_s;          /* CPU seconds (SIGXCPU, then SIGKILL a second later) */
    long long as_bytes;  /* address space */
    long long fsize_bytes;
    long nofile;
};

struct jail {
    const struct sandbox *sb;
    const char *dir;            /* real path of the folder the process works in */
    bool dir_writable;          /* all of dir writable (the compile) ... */
    const char *writable[4];    /* ... or only these sub folders of dir; NULL-ended */
    struct jail_limits lim;
};

/* Decides how student code runs. `want` is "auto" (bubblewrap if it works),
 * "bwrap" (bubblewrap or fail) or "reduced". `probe_dir` is a folder the
 * probe may use; `slot` picks the unprivileged user (one per parallel worker,
 * so a fork bomb in one exercise cannot starve another). 0, or -1 with *err. */
int sandbox_init(struct sandbox *sb, const char *want, const char *probe_dir, int slot, char **err);

/* Frees what sandbox_init allocated. */
void sandbox_free(struct sandbox *sb);

/* The same sandbox for worker `slot`. */
void sandbox_for_slot(struct sandbox *sb, int slot);

/* A jail user for lane `lane` (lanes.h) of the worker sb belongs to; a
 * worker has at most SANDBOX_LANES. */
enum { SANDBOX_LANES = 4 };
void sandbox_for_lane(struct sandbox *sb, int lane);

/* The command line that runs argv inside the jail (argv itself when reduced);
 * paths in argv are relative to jail->dir. Free with sandbox_argv_free. */
char **sandbox_argv(const struct jail *j, char *const *argv);
void sandbox_argv_free(const struct jail *j, char **argv);

/* In the forked child, just before exec: working folder, limits, user. Uses
 * only system calls. Returns -1 with errno if the jail cannot be entered. */
int sandbox_enter(const struct jail *j);

/* The wait status of the jailed command from that of the jail: bubblewrap
 * exits with 128 + N when the command was killed by signal N (so an honest
 * exit(139) reads as SIGSEGV, as a shell would say). */
int sandbox_wait_status(const struct jail *j, int status);

/* Whether the jailed user can reach the folder `path` (every folder above
 * it must let others through). */
bool sandbox_can_reach(const struct sandbox *sb, const char *path);

/* Makes path (and what is in it) writable by the jailed user. */
int sandbox_give(const struct sandbox *sb, const char *path);

/* Limits of a process with the given wall-clock limit. Valgrind and
 * ThreadSanitizer need far more address space than the tests alone. */
enum jail_tool { JAIL_NATIVE, JAIL_VALGRIND, JAIL_TSAN };
struct jail_limits jail_limits_for(long timeout_ms, enum jail_tool tool);

#endif /* KIT_SANDBOX_H */
