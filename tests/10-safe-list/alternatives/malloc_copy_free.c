/* Alternative: grows by 1.5x with malloc, memcpy and free instead of realloc, starting at 16 */
#include "safelist.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct safelist {
    pthread_mutex_t lock;   /* guards everything below */
    long *items;            /* capacity slots */
    size_t length;          /* items in use, <= capacity */
    size_t capacity;
};

safelist_t *sl_create(void)
{
    safelist_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    l->capacity = 16;
    l->length = 0;
    l->items = malloc(l->capacity * sizeof *l->items);
    if (!l->items) {
        free(l);
        return NULL;
    }
    int err = pthread_mutex_init(&l->lock, NULL);
    if (err != 0) {
        free(l->items);
        free(l);
        errno = err;
        return NULL;
    }
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
    if (pthread_mutex_lock(&l->lock) != 0)
        abort();
    int err = 0;
    if (l->length == l->capacity) {
        /* A new block, filled, then the old one freed: all under the lock,
         * since readers use l->items under it too. */
        size_t capacity = l->capacity + l->capacity / 2;
        long *items = capacity > SIZE_MAX / sizeof *items ? NULL
                                                          : malloc(capacity * sizeof *items);
        if (!items) {
            err = ENOMEM;
            goto out;
        }
        memcpy(items, l->items, l->length * sizeof *items);
        free(l->items);
        l->items = items;
        l->capacity = capacity;
    }
    l->items[l->length++] = value;
out:
    if (pthread_mutex_unlock(&l->lock) != 0)
        abort();
    return err;
}

int sl_get(safelist_t *l, size_t index, long *value)
{
    if (pthread_mutex_lock(&l->lock) != 0)
        abort();
    int err = index < l->length ? 0 : ERANGE;
    if (err == 0)
        *value = l->items[index];
    if (pthread_mutex_unlock(&l->lock) != 0)
        abort();
    return err;
}

size_t sl_length(safelist_t *l)
{
    if (pthread_mutex_lock(&l->lock) != 0)
        abort();
    size_t n = l->length;
    if (pthread_mutex_unlock(&l->lock) != 0)
        abort();
    return n;
}

int sl_snapshot(safelist_t *l, long **items, size_t *n)
{
    if (pthread_mutex_lock(&l->lock) != 0)
        abort();
    /* Always a real block, even for 0 items: the caller frees it. */
    long *copy = malloc((l->length ? l->length : 1) * sizeof *copy);
    if (copy) {
        memcpy(copy, l->items, l->length * sizeof *copy);
        *items = copy;
        *n = l->length;
    }
    if (pthread_mutex_unlock(&l->lock) != 0)
        abort();
    return copy ? 0 : ENOMEM;
}
