/* tsan.h - ThreadSanitizer's data-race reports, read from its log files.
 *
 * TSan models C11 atomics and sem_timedwait, which helgrind does not, so the
 * race check asks it to confirm helgrind's race reports (see race.h). */
#ifndef KIT_TSAN_H
#define KIT_TSAN_H

struct tsan_access {
    char *what;        /* "Write of size 8", "Previous read of size 8", ... */
    char *thread;      /* "T2", "main thread" */
    char *locks;       /* "write M1" or NULL */
    char *file;        /* basename of the first frame in `want_file`, or NULL */
    int line;
};

struct tsan_race {
    struct tsan_access access[2];   /* the current and the previous access */
};

struct tsan_report {
    struct tsan_race *races;
    int nraces;
};

/* Adds the data races in the log text that touch `file` (a basename). */
void tsan_parse(const char *log, const char *file, struct tsan_report *rep);

/* Reads every "tsan.*" log in dir. */
void tsan_parse_dir(const char *dir, const char *file, struct tsan_report *rep);

void tsan_report_free(struct tsan_report *rep);

#endif /* KIT_TSAN_H */
