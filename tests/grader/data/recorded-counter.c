#include <unistd.h>
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
static void two(void *(*f)(void *), void *(*g)(void *)) { pthread_t t1, t2; pthread_create(&t1, 0, f, 0); pthread_join(t1, 0); pthread_create(&t2, 0, g, 0); pthread_join(t2, 0); }
int main(int argc, char **argv) {
    (void)argc;
    switch (argv[1][0]) {
    case 'r': { pthread_t t1, t2; pthread_create(&t1, 0, racer, 0); pthread_create(&t2, 0, racer, 0); pthread_join(t1, 0); pthread_join(t2, 0); break; }
    case 'l': two(ab, ba); break;
    case 't': two(ab, ba_try); break;
    case 'd': { pthread_t t; pthread_create(&t, 0, signaller, 0); pthread_mutex_lock(&c); while (!ready) pthread_cond_wait(&cv, &c); pthread_mutex_unlock(&c); pthread_join(t, 0); break; }
    case 'u': pthread_mutex_unlock(&a); break;
    case 'p': { pthread_t t; pthread_create(&t, 0, publisher, 0); while (!atomic_load_explicit(&flag, memory_order_acquire)) ; long v = published; (void)v; pthread_join(t, 0); break; }
    }
    return 0;
}
