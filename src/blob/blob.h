/* blob.h - content-addressed object store (SHA-256).
 *
 * Objects are immutable and named by the SHA-256 of their bytes; identical
 * content is stored once. The local backend keeps them at
 * <root>/objects/ab/cdef... and writes each through a temporary file in
 * <root>/objects/tmp, fsync'd and renamed into place, so a crash leaves either
 * the whole object or nothing (stray temp files are removed at open). Objects
 * are read-only (0444) files.
 *
 * Nothing below the root is reached through a symbolic link: a link (or a
 * fifo, a folder...) planted where an object or a shard folder belongs is
 * never read or written through; reads refuse it (CAIRN_EIO), writes replace
 * it. Storing content whose object exists already compares the bytes first,
 * and replaces an object that differs (corrupt or planted), so dedupe never
 * trusts a size or a name alone.
 */
#ifndef CAIRN_BLOB_BLOB_H
#define CAIRN_BLOB_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/hash.h"

struct blob_store;
struct blob_writer;

int blob_open(const char *root, struct blob_store **out);
/* BLOB_SHARED: other processes may write into the same directory (a data
 * remote, a workspace cache), so only temporary files older than a day are
 * removed at open. */
#define BLOB_SHARED 1u
/* BLOB_NOSYNC: do not fsync each object (a workspace cache, whose content
 * can be recreated and is checked by hash before use; the caller may
 * blob_sync() once at the end). */
#define BLOB_NOSYNC 2u
int blob_open_flags(const char *root, unsigned flags, struct blob_store **out);
void blob_close(struct blob_store *bs);

/* Streaming write: new, write chunks, then commit (or abort). Both commit and
 * abort free the writer. commit stores the digest in hex and the size. */
int blob_writer_new(struct blob_store *bs, struct blob_writer **out);
int blob_writer_write(struct blob_writer *w, const void *data, size_t n);
int blob_writer_commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], int64_t *size);
/* Commit only if the content hashes to expect; otherwise store nothing and
 * fail with CAIRN_ECONFLICT naming both hashes. Frees the writer either way. */
int blob_writer_commit_as(struct blob_writer *w, const char *expect, int64_t *size);
void blob_writer_abort(struct blob_writer *w);

/* Store a buffer in one call. */
int blob_put(struct blob_store *bs, const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]);
/* Open an object for reading; the caller closes *fd. CAIRN_ENOTFOUND when
 * absent, CAIRN_EIO when what is there is not a regular file. */
int blob_open_read(struct blob_store *bs, const char *hex, int *fd, int64_t *size);
/* The object's stat (not following links); errors as blob_open_read. */
int blob_stat(struct blob_store *bs, const char *hex, struct stat *sb);
/* True when a regular file is stored under hex (its bytes are not checked). */
bool blob_exists(struct blob_store *bs, const char *hex);
/* Re-hash an object and compare with its name (CAIRN_EIO when corrupt). */
int blob_verify(struct blob_store *bs, const char *hex);

/* The local path object hex has, or would have (appended to out), for
 * messages and for handing to another program; open objects with
 * blob_open_read(), which does not follow links. */
int blob_path(struct blob_store *bs, const char *hex, struct buf *out);

/* Insert the file at src as object hex without copying its bytes. The caller
 * vouches that src hashes to hex (objects written this way are not re-hashed).
 * BLOB_CLONE makes a copy-on-write clone (reflink); BLOB_HARDLINK links src
 * itself in, so src IS the object from then on and turns read-only.
 * CAIRN_EUNSUPPORTED when the filesystem cannot (cross-device, no reflink).
 * Whatever is at the object's name (a good copy, a corrupt or planted entry)
 * is replaced atomically, so check blob_exists() or the content first when an
 * existing object should be kept. Copying is blob_writer's job. */
enum blob_adopt { BLOB_CLONE, BLOB_HARDLINK };
int blob_adopt(struct blob_store *bs, const char *src, const char *hex, enum blob_adopt how);
/* Flush everything written to the store's filesystem (syncfs). */
void blob_sync(struct blob_store *bs);
/* Remove an object (absent is fine). */
int blob_remove(struct blob_store *bs, const char *hex);
/* Call fn for every object id in the store (stops at fn's first non-zero). */
int blob_list(struct blob_store *bs, int (*fn)(const char *hex, void *arg), void *arg);

#endif
