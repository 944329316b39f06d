/* verdict.h - reading what a test process said on its verdict channel.
 *
 * Each record is one JSON line with the run's token; records without it (or
 * from another run) are ignored, so nothing the student code writes can pass
 * a test. */
#ifndef KIT_VERDICT_H
#define KIT_VERDICT_H

#include <stdbool.h>

/* A random token for one run ("KIT_TOKEN=..." for the child's environment). */
char *verdict_token_env(char token[33]);

/* The test names of a --list record; NULL if there is none. */
char **verdict_list(const char *channel, const char *token);

/* Looks up the verdict for `test`. Returns false if there is none; else sets
 * *ok and, when it failed, *why to the failure messages (one per line, each
 * "test_NAME.c:LINE: message"). */
bool verdict_find(const char *channel, const char *token, const char *test,
                  bool *ok, char **why);

#endif /* KIT_VERDICT_H */
