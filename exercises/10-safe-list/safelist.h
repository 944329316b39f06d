/* safelist.h - a growable array of longs that many threads may use at once,
 * like a Python list that only ever grows: append, lst[i], len(lst) and
 * lst.copy().
 *
 * The type is opaque: safelist.c defines struct safelist, so you choose how it
 * works (one mutex, a reader-writer lock, ...). Every function here is
 * thread-safe: any number of threads may call any of them on the same list at
 * the same time, except sl_destroy. Errors are returned as errno values. */
#ifndef SAFELIST_H
#define SAFELIST_H

#include <stddef.h>

typedef struct safelist safelist_t;

/* A new, empty list. NULL with errno set (ENOMEM) on failure. */
safelist_t *sl_create(void);

/* Frees l and its items. No thread may be using l any more. */
void sl_destroy(safelist_t *l);

/* Adds value at the end, growing the storage when it is full: lst.append(value).
 * 0, or ENOMEM (the list is unchanged) when memory runs out. */
int sl_append(safelist_t *l, long value);

/* Stores the item at `index` (0 is the oldest) in *value: lst[index].
 * 0, or ERANGE when index >= the length (*value is then left alone). */
int sl_get(safelist_t *l, size_t index, long *value);

/* The number of items: len(lst). */
size_t sl_length(safelist_t *l);

/* A copy of the whole list at one instant: lst.copy(). On success *items is a
 * new array from malloc holding the *n items (the caller frees it; it may be
 * NULL when *n is 0) and the result is 0. ENOMEM when memory runs out (*items
 * and *n are then left alone). The copy is the list exactly as it was at one
 * moment between the call and the return: the first *n items ever appended,
 * in order. */
int sl_snapshot(safelist_t *l, long **items, size_t *n);

#endif /* SAFELIST_H */
