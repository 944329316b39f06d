/* Mutant: each function has a mutex of its own instead of the list having one
 * Expect: race
 * Appends exclude appends and gets exclude gets, but an append and a get (or
 * a snapshot) take different mutexes and run at the same time: the lock must
 * belong to the data, and every function that touches it must take that one. */
#include "safelist.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; then the capacity doubles. */
enum { SL_FIRST_CAPACITY = 4 };

struct safelist {
    long *items;            /* capacity slots; NULL while capacity is 0 */
    size_t length;          /* items in use */
    size_t capacity;        /* items allocated */
};

/* One mutex per operation: appenders wait for appenders, readers for readers. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t read_lock = PTHREAD_MUTEX_INITIALIZER;

static void lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();
}

static void unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

safelist_t *sl_create(void)
{
    safelist_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;    /* malloc set errno */
    l->items = NULL;
    l->length = l->capacity = 0;
    return l;
}

void sl_destroy(safelist_t *l)
{
    if (!l)
        return;
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
    lock(&append_lock);
    /* Check, grow, store and count as one step: two threads that both saw
     * the same length would otherwise write the same slot. */
    if (l->length == l->capacity)
        err = grow(l);
    if (err == 0)
        l->items[l->length++] = value;
    unlock(&append_lock);
    return err;
}

int sl_get(safelist_t *l, size_t index, long *value)
{
    int err = ERANGE;
    lock(&read_lock);
    if (index < l->length) {
        *value = l->items[index];
        err = 0;
    }
    unlock(&read_lock);
    return err;
}

size_t sl_length(safelist_t *l)
{
    lock(&read_lock);
    size_t length = l->length;
    unlock(&read_lock);
    return length;
}

int sl_snapshot(safelist_t *l, long **items, size_t *n)
{
    /* The length and the items are read under one hold of the lock, so the
     * copy is the list at one instant. malloc under the lock is fine: it
     * cannot wait for anything of ours. */
    lock(&read_lock);
    size_t length = l->length;
    long *copy = NULL;
    if (length > 0) {
        copy = malloc(length * sizeof *copy);
        if (!copy) {
            unlock(&read_lock);
            return ENOMEM;
        }
        memcpy(copy, l->items, length * sizeof *copy);
    }
    unlock(&read_lock);
    *items = copy;
    *n = length;
    return 0;
}
