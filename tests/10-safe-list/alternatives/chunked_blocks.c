/* Alternative: items in fixed blocks of 64 that never move; only the table of block pointers is reallocated */
#include "safelist.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 64 };

struct safelist {
    pthread_mutex_t lock;   /* guards everything below */
    long **blocks;          /* nblocks blocks of BLOCK items; item i is blocks[i / BLOCK][i % BLOCK] */
    size_t nblocks;
    size_t table_size;      /* slots in blocks[] */
    size_t length;          /* items in use, <= nblocks * BLOCK */
};

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
    safelist_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    int err = pthread_mutex_init(&l->lock, NULL);
    if (err != 0) {
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
    for (size_t b = 0; b < l->nblocks; b++)
        free(l->blocks[b]);
    free(l->blocks);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Adds a block. Caller holds l->lock (the table moves when it grows). */
static int add_block(safelist_t *l)
{
    if (l->nblocks == l->table_size) {
        size_t size = l->table_size ? 2 * l->table_size : 4;
        if (size > SIZE_MAX / sizeof *l->blocks)
            return ENOMEM;
        long **table = realloc(l->blocks, size * sizeof *table);
        if (!table)
            return ENOMEM;
        l->blocks = table;
        l->table_size = size;
    }
    long *block = malloc(BLOCK * sizeof *block);
    if (!block)
        return ENOMEM;
    l->blocks[l->nblocks++] = block;
    return 0;
}

int sl_append(safelist_t *l, long value)
{
    lock(l);
    int err = l->length == l->nblocks * BLOCK ? add_block(l) : 0;
    if (err == 0) {
        l->blocks[l->length / BLOCK][l->length % BLOCK] = value;
        l->length++;
    }
    unlock(l);
    return err;
}

int sl_get(safelist_t *l, size_t index, long *value)
{
    lock(l);
    int err = ERANGE;
    if (index < l->length) {
        *value = l->blocks[index / BLOCK][index % BLOCK];
        err = 0;
    }
    unlock(l);
    return err;
}

size_t sl_length(safelist_t *l)
{
    lock(l);
    size_t n = l->length;
    unlock(l);
    return n;
}

int sl_snapshot(safelist_t *l, long **items, size_t *n)
{
    lock(l);
    size_t length = l->length;
    long *copy = length ? malloc(length * sizeof *copy) : NULL;
    if (length && !copy) {
        unlock(l);
        return ENOMEM;
    }
    for (size_t done = 0; done < length; done += BLOCK) {
        size_t chunk = length - done < BLOCK ? length - done : BLOCK;
        memcpy(copy + done, l->blocks[done / BLOCK], chunk * sizeof *copy);
    }
    unlock(l);
    *items = copy;
    *n = length;
    return 0;
}
