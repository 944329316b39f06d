/* watch.c - make watch: grade, wait for the file to be saved, grade again.
 *
 * The current exercise is graded by the grader itself (the same table as
 * make grade). Then the watch waits for its file to change: inotify on the
 * exercise's folder (editors often save by renaming a new file over the old
 * one), or a look at the file's size and time every second where inotify is
 * not available. When the exercise passes, the watch moves on to the next
 * unfinished one. On a terminal the screen is cleared before each grading and
 * single keys work: h hint, l list, q quit; otherwise it prints plain lines. */
#define _GNU_SOURCE
#include "coach.h"

#include "manifest.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

enum { POLL_MS = 1000, SETTLE_MS = 200 };

static struct termios saved;
static bool raw;

static void restore_terminal(void)
{
    if (raw)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    raw = false;
}

static void on_signal(int sig)
{
    restore_terminal();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Keys without Enter, and no echo; put back at exit. */
static void raw_keys(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0)
        return;
    struct termios t = saved;
    t.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
        raw = true;
        atexit(restore_terminal);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
    }
}

/* Runs the grader on one exercise; true if it passed. */
static bool grade(const struct coach_opts *o, const char *id, bool tty)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(o->grader, o->grader, "--kit", o->kit, "--submission", o->submission, "--ex", id,
              "--scratch", o->scratch, "--color", tty ? "always" : "never", (char *)NULL);
        perror(o->grader);
        _exit(2);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct watched {
    int fd;            /* inotify, or -1: look every POLL_MS */
    char *dir, *name, *path;
    struct stat last;
};

static void watch_start(struct watched *w, const struct coach_opts *o, const struct exercise *ex)
{
    w->dir = xasprintf("%s/%s", o->submission, ex->id);
    w->name = xstrdup(ex->student_file);
    w->path = xasprintf("%s/%s", w->dir, w->name);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd >= 0 && inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (stat(w->path, &w->last) != 0)
        memset(&w->last, 0, sizeof w->last);
}

static void watch_stop(struct watched *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->dir), free(w->name), free(w->path);
}

/* True if an inotify event (or, without inotify, the file's stat) says the
 * student's file was written. */
static bool changed(struct watched *w)
{
    bool hit = false;
    if (w->fd >= 0) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;
        while ((n = read(w->fd, buf, sizeof buf)) > 0)
            for (char *p = buf; p < buf + n;) {
                struct inotify_event *e = (struct inotify_event *)p;
                if (e->len && strcmp(e->name, w->name) == 0)
                    hit = true;
                p += sizeof *e + e->len;
            }
        return hit;
    }
    struct stat now;
    if (stat(w->path, &now) != 0)
        return false;
    hit = now.st_size != w->last.st_size || now.st_mtim.tv_sec != w->last.st_mtim.tv_sec ||
          now.st_mtim.tv_nsec != w->last.st_mtim.tv_nsec;
    w->last = now;
    return hit;
}

/* Waits for a save or a key: 's' (saved), 'h', 'l', 'q', or 'q' at the end of
 * the input on a terminal. */
static int next_event(struct watched *w, bool keys)
{
    for (;;) {
        struct pollfd fds[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = keys ? STDIN_FILENO : -1,
                                                                       .events = POLLIN } };
        int n = poll(fds, 2, w->fd >= 0 ? -1 : POLL_MS);
        if (n < 0 && errno != EINTR)
            return 'q';
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            char c;
            if (read(STDIN_FILENO, &c, 1) != 1)
                return 'q';
            if (c == 'h' || c == 'l' || c == 'q')
                return c;
        }
        if ((w->fd < 0 || (fds[0].revents & POLLIN)) && changed(w)) {
            usleep(SETTLE_MS * 1000);   /* an editor's save may come in several writes */
            changed(w);
            return 's';
        }
    }
}

int coach_watch(const struct coach_opts *o, const char *id)
{
    bool tty = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO);
    char *current = id ? xstrdup(id) : coach_unfinished(o, NULL);
    if (!current) {
        printf("Every exercise passes: nothing to watch (make list shows them all).\n");
        return 0;
    }
    if (keys)
        raw_keys();
    while (current) {
        struct exercise ex;
        char *err;
        if (manifest_load(o->kit, current, &ex, &err) != 0) {
            fprintf(stderr, "%s\n", err);
            free(current);
            return 2;
        }
        struct watched w;
        watch_start(&w, o, &ex);
        int event = 's';
        bool passed = false;
        while (event != 'q' && !passed) {
            if (event == 's') {
                if (tty)
                    printf("\033[H\033[2J");
                printf("== make watch: %s (%s)\n", ex.id, w.path);
                passed = grade(o, ex.id, tty);
                if (passed)
                    break;
                printf("\n== waiting for %s to be saved%s\n", w.path,
                       keys ? " (h: next hint, l: list, q: quit)" : "");
            } else if (event == 'h') {
                coach_hint(o, ex.id);
            } else if (event == 'l') {
                coach_list(o);
            }
            fflush(stdout);
            event = next_event(&w, keys);
        }
        watch_stop(&w);
        manifest_free(&ex);
        if (event == 'q')
            break;
        char *next = coach_unfinished(o, current);
        printf("\n== %s passes.%s%s\n", current, next ? " Next: " : " Every exercise passes.",
               next ? next : "");
        fflush(stdout);
        free(current);
        current = next;
        if (current)
            sleep(2);   /* time to read the good news before the screen clears */
    }
    free(current);
    restore_terminal();
    return 0;
}
