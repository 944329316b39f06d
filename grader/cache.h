/* cache.h - an exercise is not graded again when nothing that decides its
 * grade changed: the student's file, the exercise's tests, manifest and
 * header, the grader, its runner library, helgrind suppressions and noise
 * wrappers, and which checks run.
 *
 * Results live in CACHE/ID.json (CACHE: the scratch folder's cache/, where
 * the grader itself writes) with the key they were graded under; the key
 * covers the file's content, not its path.
 * A correct solution passes every run, and a verdict changes only with what
 * the key covers, so an unchanged file gets the verdict it had. */
#ifndef KIT_CACHE_H
#define KIT_CACHE_H

#include "grade.h"
#include "manifest.h"

#include <jansson.h>

/* The key of grading ex for g with the grader binary `grader`; NULL if a part
 * cannot be read. */
char *cache_key(const struct grade_opts *g, const struct exercise *ex, const char *grader);

/* The result stored under key, with "cached": true; NULL if there is none. */
json_t *cache_get(const char *cache, const char *id, const char *key);

/* The result of grading ex's file as it is now with every check, if the
 * cache holds one; NULL otherwise. */
json_t *cache_current(const struct grade_opts *g, const struct exercise *ex, const char *grader);

/* The result last stored for id, whatever its key; NULL if none. */
json_t *cache_last(const char *cache, const char *id);

/* Of the exercises `ids`, how many pass as their files are now (graded, with
 * every check, and unchanged since); *next: the first that does not (a new
 * string, or NULL). */
int cache_passing(const struct grade_opts *g, char **ids, const char *grader, char **next);

/* Stores a result under key (quietly does nothing if it cannot). */
void cache_put(const char *cache, const char *id, const char *key, json_t *result);

/* A folder shared by every submission graded with the same kit (a batch):
 * results stored by key alone, SHARED/KEY.json, so that a file identical to
 * one already graded (an untouched stub, a copy) is graded once.
 * cache_shared_get marks what it returns "reused": true. */
json_t *cache_shared_get(const char *shared, const char *key);
void cache_shared_put(const char *shared, const char *key, json_t *result);

#endif /* KIT_CACHE_H */
