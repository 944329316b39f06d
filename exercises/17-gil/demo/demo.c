/* demo.c - David Beazley's table ("Understanding the Python GIL", 2010) with
 * your GIL: the same CPU-bound count-down run one after the other, in two
 * threads that share the GIL, and in two threads without it.
 *
 *     def count(n):
 *         while n > 0:
 *             n -= 1
 *
 * Build it with your gil.c (from the kit's top folder):
 *
 *     gcc -std=c11 -D_GNU_SOURCE -O2 -pthread -Iexercises/17-gil \
 *         exercises/17-gil/demo/demo.c exercises/17-gil/gil.c -o /tmp/gil-demo
 *     /tmp/gil-demo [N [TICK [RUNS]]]
 *
 * N is the count of each count-down (default 400000000; the talk counted to
 * 100000000 in Python, which took 24.6 s for the two: C is faster),
 * TICK the iterations between two gil_check calls (default 100, Python 2's
 * sys.setcheckinterval), RUNS how many times each line is measured (default
 * 3); the table shows the medians of the wall time, of the CPU time (of all
 * threads together: above the wall time only when threads ran at once) and
 * of the GIL's switches. */
#include "gil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_RUNS 15

static long n_count = 400000000L;
static long tick_every = 100;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time used by the whole process so far (all threads), in seconds. */
static double cpu_s(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "demo: %s: %s\n", what, strerror(err));
    exit(1);
}

/* count(n), calling gil_check every tick_every iterations when g is not NULL.
 * `volatile` keeps the compiler from replacing the loop by its result. */
static void count(long n, gil_t *g)
{
    volatile long left = n;
    long tick = tick_every;
    while (left > 0) {
        left = left - 1;
        if (--tick == 0) {
            tick = tick_every;
            if (g) {
                int err = gil_check(g, NULL);
                if (err != 0)
                    die("gil_check", err);
            }
        }
    }
}

/* A thread of the threaded lines: count(n) with (or without) the GIL. */
static void *count_main(void *arg)
{
    gil_t *g = arg;
    int err = g ? gil_acquire(g) : 0;
    if (err != 0)
        die("gil_acquire", err);
    count(n_count, g);
    err = g ? gil_release(g) : 0;
    if (err != 0)
        die("gil_release", err);
    return NULL;
}

enum line { SEQUENTIAL, ALONE_WITH_GIL, THREADS_WITH_GIL, THREADS_WITHOUT_GIL, NLINES };

static const char *const line_names[NLINES] = {
    "sequential: count(N); count(N)",
    "1 thread holding the GIL: count(N) x 2",
    "2 threads sharing the GIL",
    "2 threads, no GIL",
};

/* Runs one line of the table once: its wall time in seconds; the CPU time
 * its threads used in *cpu, the GIL's switches in *switches. */
static double run_line(enum line line, double *cpu, unsigned long *switches)
{
    gil_t *g = NULL;
    if (line == ALONE_WITH_GIL || line == THREADS_WITH_GIL) {
        g = gil_create(GIL_DEFAULT_INTERVAL_MS);
        if (!g)
            die("gil_create", errno);
    }
    double t0 = now_s(), c0 = cpu_s();
    if (line == SEQUENTIAL || line == ALONE_WITH_GIL) {
        int err = g ? gil_acquire(g) : 0;
        if (err != 0)
            die("gil_acquire", err);
        count(n_count, g);
        count(n_count, g);
        if (g && (err = gil_release(g)) != 0)
            die("gil_release", err);
    } else {
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            int err = pthread_create(&t[i], NULL, count_main, g);
            if (err != 0)
                die("pthread_create", err);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
    }
    double took = now_s() - t0;
    *cpu = cpu_s() - c0;
    *switches = 0;
    if (g) {
        struct gil_stats s;
        if (gil_get_stats(g, &s) == 0)
            *switches = s.switches;
        gil_destroy(g);
    }
    return took;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = 3;
    if (argc > 1)
        n_count = atol(argv[1]);
    if (argc > 2)
        tick_every = atol(argv[2]);
    if (argc > 3)
        runs = atoi(argv[3]);
    if (n_count < 1 || tick_every < 1 || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [N >= 1 [TICK >= 1 [RUNS 1..%d]]]\n", argv[0], MAX_RUNS);
        return 2;
    }
    printf("count(%ld) twice, gil_check every %ld iterations, switch interval %ld ms, "
           "median of %d runs\n\n", n_count, tick_every, GIL_DEFAULT_INTERVAL_MS, runs);
    printf("| %-40s | %9s | %9s | %8s |\n", "", "wall time", "CPU time", "switches");
    printf("|%.42s|%.11s|%.11s|%.10s|\n", "------------------------------------------",
           "-----------", "-----------", "----------");
    /* Round by round, every line in each round: a machine that gets busier
     * or quieter while the demo runs then affects every line alike. */
    double times[NLINES][MAX_RUNS], cpus[NLINES][MAX_RUNS], switches[NLINES][MAX_RUNS];
    for (int r = 0; r < runs; r++)
        for (int line = 0; line < NLINES; line++) {
            unsigned long sw;
            times[line][r] = run_line((enum line)line, &cpus[line][r], &sw);
            switches[line][r] = (double)sw;
        }
    for (int line = 0; line < NLINES; line++) {
        qsort(times[line], (size_t)runs, sizeof times[line][0], by_value);
        qsort(cpus[line], (size_t)runs, sizeof cpus[line][0], by_value);
        qsort(switches[line], (size_t)runs, sizeof switches[line][0], by_value);
        char sw[32] = "-";
        if (line == ALONE_WITH_GIL || line == THREADS_WITH_GIL)
            snprintf(sw, sizeof sw, "%.0f", switches[line][runs / 2]);
        printf("| %-40s | %7.2f s | %7.2f s | %8s |\n", line_names[line], times[line][runs / 2],
               cpus[line][runs / 2], sw);
    }
    return 0;
}
