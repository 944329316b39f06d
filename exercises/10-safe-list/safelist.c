/* safelist.c - a growable array of longs.
 *
 * This is the plain version that every C programmer writes first: correct
 * with one thread, and wrong as soon as two threads use the same list. Two
 * appends at once write the same slot or realloc the same block twice; a
 * sl_get that runs while an append grows the list reads memory that realloc
 * has just freed. Run `make grade EX=10` to see it fail, then read README.md
 * and make every function thread-safe (the places marked TODO).
 *
 * items has room for capacity longs; items[0..length) are the values
 * appended, oldest first. */
#include "safelist.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation; then the capacity doubles. */
enum { SL_FIRST_CAPACITY = 4 };

struct safelist {
    /* TODO: a lock that guards the three fields below. */
    long *items;            /* capacity slots; NULL while capacity is 0 */
    size_t length;          /* items in use */
    size_t capacity;        /* items allocated */
};

safelist_t *sl_create(void)
{
    safelist_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;    /* malloc set errno */
    /* TODO: initialise the lock (and destroy it in sl_destroy). */
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

/* Makes room for one more item. realloc may move the items to a new block
 * and free the old one: any thread still reading the old block then reads
 * freed memory. */
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
    /* TODO: check, grow, store and count are four steps; another thread can
     * run between any two of them. */
    int err = 0;
    if (l->length == l->capacity)
        err = grow(l);
    if (err == 0)
        l->items[l->length++] = value;
    return err;
}

int sl_get(safelist_t *l, size_t index, long *value)
{
    /* TODO: l->items may be freed by a growing append while this reads it. */
    if (index >= l->length)
        return ERANGE;
    *value = l->items[index];
    return 0;
}

size_t sl_length(safelist_t *l)
{
    /* TODO: even one read of a field that another thread writes is a data
     * race. */
    return l->length;
}

int sl_snapshot(safelist_t *l, long **items, size_t *n)
{
    /* TODO: the length and the items must come from the same instant. */
    size_t length = l->length;
    long *copy = NULL;
    if (length > 0) {
        copy = malloc(length * sizeof *copy);
        if (!copy)
            return ENOMEM;
        memcpy(copy, l->items, length * sizeof *copy);
    }
    *items = copy;
    *n = length;
    return 0;
}
