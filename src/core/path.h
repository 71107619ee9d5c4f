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
/* Resolve "." and ".." lexically in a relative '/'-separated path (a path
 * from a pipeline file, "sub/../src/x.py" is "src/x.py"), then clean it as
 * path_clean_rel does. CAIRN_EINVALID when a ".." would leave the root. */
int path_resolve_rel(const char *in, bool allow_empty, struct buf *out);
/* Create a directory and its parents (mode 0755); existing ones are fine. */
int path_mkdirs(const char *dir);
/* Join a and b with one '/' into out (appending): filesystem and tree paths. */
int path_join(struct buf *out, const char *a, const char *b);
/* Append the URI uri with rel added to its path (appending to out), as MLflow's
 * append_to_uri_path: the scheme and authority are kept, one '/' goes between
 * the path and rel (rel's leading slashes are dropped), a query or fragment
 * stays at the end. So "mlflow-artifacts:/" + "abc/artifacts" is
 * "mlflow-artifacts:/abc/artifacts", never "mlflow-artifacts://abc/..." (a
 * host named abc), and "s3://bucket" + "x" is "s3://bucket/x". The one way to
 * build a URI under another (run and logged-model artifact locations). */
int path_join_uri(struct buf *out, const char *uri, const char *rel);
/* Length of uri's scheme including its ':' ("s3:" is 3), 0 when it has none;
 * a scheme is a letter then letters, digits, '+', '-' or '.' (RFC 3986). */
size_t path_uri_scheme_len(const char *uri);
/* Percent-decode in[0..n) and turn '+' into ' ' (Python's unquote_plus),
 * again and again until nothing changes, appending the result to out (a %00
 * gives a NUL byte, counted in out->len). What MLflow does to a model source
 * before it looks for '..' in it. */
int path_unquote_all(const char *in, size_t n, struct buf *out);

#endif
