/* Mutant: sl_snapshot reads the length and the pointer under the lock, then copies without it
 * Expect: unit
 * The items are copied from a block that a concurrent append may be moving
 * with realloc (and freeing) at that very moment: the copy then holds bytes
 * of freed memory instead of the items. */
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

/* Makes room for one more item. Caller holds l->lock: realloc may free the
 * block that other threads would otherwise still be reading. */
static int grow(safelist_t *l)
{
    size_t capacity = l->capacity ? l->capacity * 2 : SL_FIRST_CAPACITY;
    if (capacity < l->capacity || capacity > SIZE_MAX / sizeof(long))
        return ENOMEM;
    long *items = realloc(l->items, capacity * sizeof(long));
    if (!items)
        return ENOMEM;  /* the old block is still there, unchanged */
    l->items = items;
    l->capacity = capacity;
    return 0;
}

int sl_append(safelist_t *l, long value)
{
    int err = 0;
    lock(l);
    /* Check, grow, store and count as one step: two threads that both saw
     * the same length would otherwise write the same slot. */
    if (l->length == l->capacity)
        err = grow(l);
    if (err == 0)
        l->items[l->length++] = value;
    unlock(l);
    return err;
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
    long *from = l->items;
    unlock(l);
    /* The copy is long: do it without holding the lock. */
    long *copy = NULL;
    if (length > 0) {
        copy = malloc(length * sizeof *copy);
        if (!copy)
            return ENOMEM;
        memcpy(copy, from, length * sizeof *copy);
    }
    *items = copy;
    *n = length;
    return 0;
}
