#include <unistd.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdatomic.h>
static long n;
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;
static atomic_int flag;
static long published;
static void *racer(void *x) { (void)x; for (int i = 0; i < 100; i++) n++; return 0; }
static void *ab(void *x) { (void)x; pthread_mutex_lock(&a); pthread_mutex_lock(&b); pthread_mutex_unlock(&b); pthread_mutex_unlock(&a); return 0; }
static void *ba(void *x) { (void)x; pthread_mutex_lock(&b); pthread_mutex_lock(&a); pthread_mutex_unlock(&a); pthread_mutex_unlock(&b); return 0; }
static void *ba_try(void *x) { (void)x; pthread_mutex_lock(&b); if (pthread_mutex_trylock(&a) == 0) pthread_mutex_unlock(&a); pthread_mutex_unlock(&b); return 0; }
static void *signaller(void *x) { (void)x; usleep(200000); pthread_mutex_lock(&c); ready = 1; pthread_mutex_unlock(&c); pthread_cond_signal(&cv); return 0; }
static void *publisher(void *x) { (void)x; published = 42; atomic_store_explicit(&flag, 1, memory_order_release); return 0; }
struct shared { pthread_mutex_t m; pthread_cond_t cv; int ready; };
static void across_fork(void) {   /* a process-shared condition variable signalled by a child */
    struct shared *s = mmap(0, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t ma; pthread_mutexattr_init(&ma); pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED); pthread_mutex_init(&s->m, &ma);
    pthread_condattr_t ca; pthread_condattr_init(&ca); pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED); pthread_cond_init(&s->cv, &ca);
    if (fork() == 0) { usleep(200000); pthread_mutex_lock(&s->m); s->ready = 1; pthread_cond_signal(&s->cv); pthread_mutex_unlock(&s->m); _exit(0); }
    pthread_mutex_lock(&s->m); while (!s->ready) pthread_cond_wait(&s->cv, &s->m); pthread_mutex_unlock(&s->m); wait(0);
}
static void *timed_waiter(void *x) {   /* short timed waits while others signal */
    (void)x;
    for (int i = 0; i < 2000; i++) {
        struct timespec t; clock_gettime(CLOCK_REALTIME, &t); t.tv_nsec = (t.tv_nsec + 20000) % 1000000000;
        pthread_mutex_lock(&c); pthread_cond_timedwait(&cv, &c, &t); pthread_mutex_unlock(&c);
    }
    return 0;
}
static void *busy_signaller(void *x) { (void)x; for (int i = 0; i < 20000; i++) { pthread_mutex_lock(&c); pthread_cond_signal(&cv); pthread_mutex_unlock(&c); } return 0; }
static void *nothing(void *x) { return x; }
static void *spawner(void *x) { (void)x; for (int i = 0; i < 50; i++) { pthread_t t; pthread_create(&t, 0, nothing, 0); pthread_join(t, 0); } return 0; }
static void all(int n, void *(*f)(void *), void *(*g)(void *)) {   /* n threads, the first half running f */
    pthread_t t[8];
    for (int i = 0; i < n; i++) pthread_create(&t[i], 0, i < n / 2 ? f : g, 0);
    for (int i = 0; i < n; i++) pthread_join(t[i], 0);
}
static void two(void *(*f)(void *), void *(*g)(void *)) { pthread_t t1, t2; pthread_create(&t1, 0, f, 0); pthread_join(t1, 0); pthread_create(&t2, 0, g, 0); pthread_join(t2, 0); }
int main(int argc, char **argv) {
    (void)argc;
    switch (argv[1][0]) {
    case 'r': { pthread_t t1, t2; pthread_create(&t1, 0, racer, 0); pthread_create(&t2, 0, racer, 0); pthread_join(t1, 0); pthread_join(t2, 0); break; }
    case 'l': two(ab, ba); break;
    case 't': two(ab, ba_try); break;
    case 'd': { pthread_t t; pthread_create(&t, 0, signaller, 0); pthread_mutex_lock(&c); while (!ready) pthread_cond_wait(&cv, &c); pthread_mutex_unlock(&c); pthread_join(t, 0); break; }
    case 'u': pthread_mutex_unlock(&a); break;
    case 's': across_fork(); break;
    case 'w': all(6, timed_waiter, busy_signaller); break;
    case 'c': all(4, spawner, spawner); break;
    case 'p': { pthread_t t; pthread_create(&t, 0, publisher, 0); while (!atomic_load_explicit(&flag, memory_order_acquire)) ; long v = published; (void)v; pthread_join(t, 0); break; }
    }
    return 0;
}
