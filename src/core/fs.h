/* fs.h - whole-file and file-descriptor helpers shared by every layer.
 *
 * fs_read_file() reads a small file whole; fs_write_atomic() replaces a file
 * through a temporary in the same directory (fsync'd, renamed), so readers see
 * the old or the new content, never a mix. fs_copy_fd() streams one file into
 * another, optionally hashing what it copies; fs_clone_fd() asks the
 * filesystem for a copy-on-write clone (reflink). fs_hash_fd() hashes a file
 * in constant memory.
 */
#ifndef CAIRN_CORE_FS_H
#define CAIRN_CORE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/hash.h"

/* Append the whole of path to b; CAIRN_ENOTFOUND when absent, CAIRN_ETOOBIG past max bytes. */
int fs_read_file(const char *path, size_t max, struct buf *b);
/* Replace path with data (mode for a new file), atomically and durably. */
int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode);
/* The same; sync false skips the fsyncs (still atomic: readers see the old
 * or the new content), for files that can be rebuilt. */
int fs_write_atomic_opt(const char *path, const void *data, size_t n, mode_t mode, bool sync);
/* Copy the rest of src into dst; when sha is not NULL, every byte copied is
 * hashed into it. *copied (may be NULL) gets the byte count. */
int fs_copy_fd(int src, int dst, struct sha256_ctx *sha, int64_t *copied);
/* Copy-on-write clone of src into dst (FICLONE); CAIRN_EUNSUPPORTED when the
 * filesystem cannot. */
int fs_clone_fd(int src, int dst);
/* SHA-256 of the rest of fd, streamed; *size (may be NULL) gets the bytes read. */
int fs_hash_fd(int fd, char hex[SHA256_HEX_LEN + 1], int64_t *size);
/* A unique temporary name next to path: "<dir>/.<base>.tmp-XXXXXX", created
 * with O_EXCL; *fd gets it open for writing. The caller owns tmp. */
int fs_tmp_beside(const char *path, struct buf *tmp, int *fd);
/* fsync the directory holding path (best effort). */
void fs_sync_parent(const char *path);

#endif
