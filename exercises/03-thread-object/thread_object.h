/* thread_object.h - a thread "class" in C, like subclassing Python's
 * threading.Thread and overriding run().
 *
 * struct tobj is the base class. A "subclass" is a struct whose FIRST member
 * is a struct tobj; its run function receives a pointer to that member and
 * casts it back to the whole derived struct:
 *
 *     struct summer { struct tobj base; long from, to, sum; };
 *
 *     static void summer_run(struct tobj *self)
 *     {
 *         struct summer *s = (struct summer *)self;   // base is first
 *         for (long i = s->from; i <= s->to; i++)
 *             s->sum += i;
 *     }
 *
 *     struct summer s = { .from = 1, .to = 100 };
 *     tobj_init(&s.base, summer_run, "summer");
 *     tobj_start(&s.base);               // run() now runs in a new thread
 *     tobj_join(&s.base);                // wait for it: s.sum is 5050
 *     tobj_destroy(&s.base);
 *
 * Every function is thread-safe: any thread may start, join, or ask about any
 * object. Errors are returned as errno values. */
#ifndef THREAD_OBJECT_H
#define THREAD_OBJECT_H

#include <stdbool.h>

/* What thread_object.c keeps for each object (its thread, its state, its
 * name...). thread_object.c defines it; users never look inside. */
struct tobj_private;

struct tobj {
    /* The method start() calls, once, in the new thread. Set by tobj_init. */
    void (*run)(struct tobj *self);
    /* Allocated by tobj_init, freed by tobj_destroy. */
    struct tobj_private *priv;
};

/* Thread.__init__: makes t a thread object that has not started. name is
 * copied; NULL gives a default name "Thread-N", N counting from 1 across the
 * whole program (no two objects get the same default name). Returns 0, EINVAL
 * if t or run is NULL, or ENOMEM. */
int tobj_init(struct tobj *t, void (*run)(struct tobj *self), const char *name);

/* Frees what tobj_init allocated. If t was started, first waits until its
 * run() has returned (as tobj_join does). Never call it from t's own
 * thread, nor while other threads may still use t. */
void tobj_destroy(struct tobj *t);

/* Thread.start(): runs t->run(t) in a new thread and returns without waiting
 * for it. An object starts at most once: EBUSY if it was started before
 * (whether or not its run() has returned), and run() is not called again.
 * If the thread cannot be created, returns pthread_create's error and t stays
 * unstarted. */
int tobj_start(struct tobj *t);

/* Thread.join(): waits until t's run() has returned, and returns 0. Joining
 * a finished object returns 0 at once: any number of joins, from any number of
 * threads at once, are fine. EINVAL if t was never started; EDEADLK if called
 * from t's own thread (from inside run()), which would wait forever. */
int tobj_join(struct tobj *t);

/* Thread.is_alive(): true from the moment tobj_start returns 0 until run()
 * returns; false before start and after run() has returned. Never waits for
 * run(). */
bool tobj_is_alive(struct tobj *t);

/* Thread.name: the name given to tobj_init, or the default one. The string
 * belongs to t and lasts until tobj_destroy. */
const char *tobj_name(const struct tobj *t);

#endif /* THREAD_OBJECT_H */
