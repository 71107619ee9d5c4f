/* fs.h - whole-file and file-descriptor helpers shared by every layer.
 *
 * fs_read_file() reads a small file whole; fs_write_atomic() replaces a file
 * through a temporary in the same directory (fsync'd, renamed), so readers see
 * the old or the new content, never a mix. fs_copy_fd() streams one file into
 * another, optionally hashing what it copies; fs_clone_fd() asks the
 * filesystem for a copy-on-write clone (reflink). fs_hash_fd() hashes a file
 * in constant memory. fs_open_beneath() opens below a folder without following
 * symbolic links.
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
/* The same for the rest of an open fd (what names it in messages). */
int fs_read_fd(int fd, const char *what, size_t max, struct buf *b);
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

/* openat(dirfd, rel, flags, mode) that stays beneath dirfd and follows no
 * symbolic link on the way, for files under a data root that someone else may
 * have planted links in: openat2() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
 * or, where the kernel has no openat2, one O_NOFOLLOW open per component.
 * rel is relative, '/'-separated. Returns the descriptor (O_CLOEXEC), or -1
 * with errno: ELOOP when a component is a symbolic link, EXDEV when rel is
 * absolute or has a ".." component, else what openat() sets. */
int fs_open_beneath(int dirfd, const char *rel, int flags, mode_t mode);
/* Remove name under dirfd (AT_FDCWD: a path) and everything below it, down
 * to max_depth folders, following no symbolic link (a link is removed, never
 * its target). Best effort: what cannot be removed stays. */
void fs_remove_tree_at(int dirfd, const char *name, unsigned max_depth);
/* Create a new file "<prefix><random>" in the folder dirfd (O_EXCL, so never
 * through a link), open for reading and writing, mode 0600; name gets its
 * name (replaced), *fd the descriptor. */
int fs_tmp_at(int dirfd, const char *prefix, struct buf *name, int *fd);
/* A fresh temporary name "<prefix><pid>-<n>" (replacing name), for a caller
 * that creates the entry itself (link, mkdir) and retries on EEXIST. */
int fs_tmp_name(const char *prefix, struct buf *name);
/* For tests: true makes fs_open_beneath() act as on a kernel without openat2. */
void fs__no_openat2(bool on);

#endif
