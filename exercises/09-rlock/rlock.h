/* rlock.h - a re-entrant lock (Python's threading.RLock), and two recursive
 * functions over a binary tree that use one.
 *
 * An rlock has an owner: the thread that acquired it. The owner may acquire it
 * again without waiting; the lock becomes free only when the owner has
 * released it as many times as it acquired it. Every function is thread-safe,
 * except rlock_destroy, which the caller runs once no thread uses the lock. */
#ifndef RLOCK_H
#define RLOCK_H

/* Opaque: rlock.c defines the struct, so it may choose its own mechanism. */
typedef struct rlock rlock_t;

/* A new, free lock; NULL if memory runs out. */
rlock_t *rlock_create(void);

/* Frees the lock. It must be free, and no other thread may be using it. */
void rlock_destroy(rlock_t *l);

/* Blocks until the calling thread holds l. If the caller already holds it,
 * returns at once, one acquire deeper. Returns 0. */
int rlock_acquire(rlock_t *l);

/* Undoes one rlock_acquire of the calling thread: after as many releases as
 * acquires, l is free and one waiting thread can take it. Returns 0, or EPERM
 * (changing nothing) if the calling thread does not hold l, which includes
 * releasing a free lock. */
int rlock_release(rlock_t *l);

/* A node of a binary tree; NULL is the empty tree. */
struct tree { long value; struct tree *left, *right; };

/* Both recurse over the tree and take l on entry to every call (so the lock is
 * held re-entrantly, as deep as the tree), releasing it on return.
 * A tree_sum that runs while tree_add runs in another thread sees the tree
 * wholly before or wholly after that tree_add. */
long tree_sum(rlock_t *l, const struct tree *t);       /* sum of all values; 0 for NULL */
void tree_add(rlock_t *l, struct tree *t, long delta); /* adds delta to every value */

#endif /* RLOCK_H */
