/* artifact.h - artifact trees: logical paths mapped to blob objects.
 *
 * An artifact path is the sanitised relative path under the artifact root,
 * e.g. "1/<run_id>/artifacts/model/MLmodel" (what MLflow's proxy API calls
 * mlflow-artifacts:/1/<run_id>/artifacts/model/MLmodel). Contents live in the
 * blob store, so identical files are stored once; the store's artifacts
 * table maps each path to its object. Client paths never reach the
 * filesystem, so they cannot escape the root.
 */
#ifndef CAIRN_TRACKING_ARTIFACT_H
#define CAIRN_TRACKING_ARTIFACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "blob/blob.h"
#include "core/buf.h"
#include "store/store.h"

/* Record path -> object (after the object is committed). Fails with
 * CAIRN_EINVALID when path is a directory or has a file as an ancestor. */
int art_record(struct store *st, const char *path, const char *object, int64_t size);
/* Open the file at path; the caller closes *fd. CAIRN_ENOTFOUND when absent. */
int art_open(struct store *st, struct blob_store *bs, const char *path, int *fd, int64_t *size);
/* True when some file lies under path/ (path is a directory). */
int art_is_dir(struct store *st, const char *path, bool *is_dir);
/* Immediate children of directory path ("" = root): array of
 * {path, is_dir, file_size}. With rel_base, child paths are written relative
 * to it (run listing); otherwise just the child's name. */
int art_list(struct store *st, const char *path, const char *rel_base, json_t **out);
/* Delete the file at path or everything under the directory path. */
int art_delete(struct store *st, const char *path);
/* Turn an artifact URI ("mlflow-artifacts:/1/abc/artifacts") into a tree
 * path ("1/abc/artifacts") in out; CAIRN_EINVALID for other schemes (the
 * location is the client's choice and is not served here) and for paths the
 * sanitiser refuses. */
int art_uri_to_path(const char *uri, struct buf *out);

#endif
