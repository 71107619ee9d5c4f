/* blob.h - content-addressed object store (SHA-256).
 *
 * Objects are immutable and named by the SHA-256 of their bytes; identical
 * content is stored once. The local backend keeps them at
 * <root>/objects/ab/cdef... and writes each through a temporary file in
 * <root>/objects/tmp, fsync'd and renamed into place, so a crash leaves either
 * the whole object or nothing (stray temp files are removed at open).
 */
#ifndef CAIRN_BLOB_BLOB_H
#define CAIRN_BLOB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"

struct blob_store;
struct blob_writer;

int blob_open(const char *root, struct blob_store **out);
void blob_close(struct blob_store *bs);

/* Streaming write: new, write chunks, then commit (or abort). Both commit and
 * abort free the writer. commit stores the digest in hex and the size. */
int blob_writer_new(struct blob_store *bs, struct blob_writer **out);
int blob_writer_write(struct blob_writer *w, const void *data, size_t n);
int blob_writer_commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], int64_t *size);
void blob_writer_abort(struct blob_writer *w);

/* Store a buffer in one call. */
int blob_put(struct blob_store *bs, const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]);
/* Open an object for reading; the caller closes *fd. CAIRN_ENOTFOUND when absent. */
int blob_open_read(struct blob_store *bs, const char *hex, int *fd, int64_t *size);
bool blob_exists(struct blob_store *bs, const char *hex);
/* Re-hash an object and compare with its name (CAIRN_EIO when corrupt). */
int blob_verify(struct blob_store *bs, const char *hex);

#endif
