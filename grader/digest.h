/* digest.h - a SHA-256 of files and bytes, for deciding that nothing changed
 * (the grader's cache, the batch's fingerprints). OpenSSL's libcrypto. */
#ifndef KIT_DIGEST_H
#define KIT_DIGEST_H

#include <stddef.h>

struct digest;

struct digest *digest_start(void);

void digest_bytes(struct digest *d, const void *data, size_t len);

/* Adds a label and the file's bytes, or a mark for a missing file and another
 * for one that is not a plain file (a link, a folder). -1 when `required`
 * and not a readable plain file. */
int digest_file(struct digest *d, const char *label, const char *path, int required);

/* Adds the plain files directly in dir whose names end in `suffix` ("" for
 * all), in name order, each with its name. -1 if dir cannot be read. */
int digest_folder(struct digest *d, const char *dir, const char *suffix);

/* The digest in hex (a new string); d is freed. */
char *digest_finish(struct digest *d);

#endif /* KIT_DIGEST_H */
