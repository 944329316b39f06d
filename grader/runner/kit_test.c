/* kit_test.c - helpers for exercise test files (see kit_test.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool kit_race_mode(void)
{
    const char *mode = getenv("KIT_MODE");
    return mode && strcmp(mode, "race") == 0;
}

long kit_scale(long native, long race)
{
    return kit_race_mode() ? race : native;
}

long kit_time_factor(void)
{
    const char *noise = getenv("KIT_NOISE");
    if (kit_race_mode())
        return KIT_RACE_TIME_FACTOR;
    return noise && strcmp(noise, "1") == 0 ? KIT_NOISE_TIME_FACTOR : 1;
}

long kit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void kit_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void kit_fail_at(const char *file, unsigned line, bool fatal, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal ? CU_TRUE : CU_FALSE);
}

struct kit_thread_arg {
    void (*fn)(int i, void *arg);
    void *arg;
    int i;
};

static void *kit_thread_main(void *p)
{
    struct kit_thread_arg *a = p;
    a->fn(a->i, a->arg);
    return NULL;
}

void kit_run_threads(int n, void (*fn)(int i, void *arg), void *arg)
{
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    struct kit_thread_arg *args = calloc((size_t)n, sizeof *args);
    KIT_REQUIRE(tids && args, "test harness: out of memory starting %d threads", n);
    int started = 0, err = 0;
    for (; started < n; started++) {
        args[started] = (struct kit_thread_arg){ fn, arg, started };
        err = pthread_create(&tids[started], NULL, kit_thread_main, &args[started]);
        if (err)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    free(args);
    KIT_REQUIRE(err == 0, "test harness: could not start thread %d of %d: %s",
                started, n, strerror(err));
}
