/* Mutant: sl_append unlocks while realloc runs, then locks again
 * Expect: unit
 * "Never call malloc with a lock held" taken too far: two threads that both
 * find the list full both realloc the same block (the second one frees or
 * reuses memory the first already moved), and a get under the lock can read
 * the block that realloc is freeing. */
#include "safelist.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; then the capacity doubles. */
enum { SL_FIRST_CAPACITY = 4 };

struct safelist {
    pthread_mutex_t lock;   /* guards everything below */
    long *items;            /* capacity slots; NULL while capacity is 0 */
    size_t length;          /* items in use */
    size_t capacity;        /* items allocated */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(safelist_t *l)
{
    if (pthread_mutex_lock(&l->lock) != 0)
        abort();
}

static void unlock(safelist_t *l)
{
    if (pthread_mutex_unlock(&l->lock) != 0)
        abort();
}

safelist_t *sl_create(void)
{
    safelist_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;    /* malloc set errno */
    int err = pthread_mutex_init(&l->lock, NULL);
    if (err != 0) {
        free(l);
        errno = err;
        return NULL;
    }
    l->items = NULL;
    l->length = l->capacity = 0;
    return l;
}

void sl_destroy(safelist_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->items);
    free(l);
}

int sl_append(safelist_t *l, long value)
{
    lock(l);
    if (l->length == l->capacity) {
        /* Do the slow realloc without holding everybody up. */
        size_t capacity = l->capacity ? l->capacity * 2 : SL_FIRST_CAPACITY;
        long *old = l->items;
        unlock(l);
        long *items = realloc(old, capacity * sizeof(long));
        lock(l);
        if (!items) {
            unlock(l);
            return ENOMEM;
        }
        l->items = items;
        l->capacity = capacity;
    }
    l->items[l->length++] = value;
    unlock(l);
    return 0;
}

int sl_get(safelist_t *l, size_t index, long *value)
{
    int err = ERANGE;
    lock(l);
    if (index < l->length) {
        *value = l->items[index];
        err = 0;
    }
    unlock(l);
    return err;
}

size_t sl_length(safelist_t *l)
{
    lock(l);
    size_t length = l->length;
    unlock(l);
    return length;
}

int sl_snapshot(safelist_t *l, long **items, size_t *n)
{
    /* The length and the items are read under one hold of the lock, so the
     * copy is the list at one instant. malloc under the lock is fine: it
     * cannot wait for anything of ours. */
    lock(l);
    size_t length = l->length;
    long *copy = NULL;
    if (length > 0) {
        copy = malloc(length * sizeof *copy);
        if (!copy) {
            unlock(l);
            return ENOMEM;
        }
        memcpy(copy, l->items, length * sizeof *copy);
    }
    unlock(l);
    *items = copy;
    *n = length;
    return 0;
}
