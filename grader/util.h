/* util.h - small helpers shared by the grader's modules: memory that aborts
 * on exhaustion, a growable string, files and paths. */
#ifndef KIT_UTIL_H
#define KIT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable, always NUL-terminated string. */
struct strbuf {
    char *buf;
    size_t len, cap;
};
void sb_add(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sb_steal(struct strbuf *sb);   /* the string ("" if empty); sb is reset */

/* Reads a whole file (NUL-terminated); NULL with errno on failure. */
char *read_file(const char *path, size_t *len);
int write_file(const char *path, const char *data, size_t len);
int mkdir_p(const char *path);
int remove_tree(const char *path);
bool is_dir(const char *path);
bool is_file(const char *path);

/* CLOCK_MONOTONIC in milliseconds. */
long now_ms(void);

/* Lines of text: calls fn for each line (without its newline). */
void for_each_line(const char *text, void (*fn)(const char *line, size_t len, void *arg), void *arg);

#endif /* KIT_UTIL_H */
