#include <pthread.h>
#include <unistd.h>
static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static void lock(pthread_mutex_t *m) { pthread_mutex_lock(m); }
static void *t1(void *x) { lock(&a); usleep(100000); lock(&b); return x; }
static void *t2(void *x) { lock(&b); usleep(100000); lock(&a); return x; }
int main(void) { pthread_t x, y; pthread_create(&x, 0, t1, 0); pthread_create(&y, 0, t2, 0); pthread_join(x, 0); pthread_join(y, 0); return 0; }
