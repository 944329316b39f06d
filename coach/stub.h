/* stub.h - the stub an exercise started from, as the kit shipped it.
 *
 * A student edits exercises/ID/NAME.c in place. The original is kept in the
 * handout's .stubs/ID/NAME.c (written by make dist); in a clone of the kit's
 * repository it is the committed exercises/ID/NAME.c. */
#ifndef KIT_STUB_H
#define KIT_STUB_H

#include "manifest.h"

#include <stddef.h>

/* The original stub's text (NUL-terminated, length in *len); NULL if the kit
 * has no pristine copy (a handout without .stubs/, a repository without git). */
char *stub_original(const char *kit, const struct exercise *ex, size_t *len);

#endif /* KIT_STUB_H */
