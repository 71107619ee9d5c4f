/* path.h - the one path sanitiser: client-supplied relative paths.
 *
 * path_clean_rel() accepts a relative, '/'-separated path and writes its
 * normal form (no empty or "." components, no trailing '/') into out. It
 * rejects, with CAIRN_EINVALID and a message quoting the path: absolute
 * paths, ".." components, backslashes, NUL or control bytes, a drive prefix,
 * and percent-encoded '.', '/' or '\' (double-encoding attempts). An empty
 * result is allowed only when allow_empty (the root of a tree).
 */
#ifndef CAIRN_CORE_PATH_H
#define CAIRN_CORE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

int path_clean_rel(const char *in, size_t n, bool allow_empty, struct buf *out);
/* Create a directory and its parents (mode 0755); existing ones are fine. */
int path_mkdirs(const char *dir);
/* Join a and b with one '/' into out (appending). */
int path_join(struct buf *out, const char *a, const char *b);

#endif
