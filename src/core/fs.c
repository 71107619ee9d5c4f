/* fs.c - whole-file reads, atomic replacement, streamed copy/clone/hash of fds. */
#include "core/fs.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS_CHUNK ((size_t)1 << 20)

int fs_read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t start = b->len;
	ssize_t n;

	if (fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", path,
				       strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", path, strerror(errno));
		}
		if (b->len - start + (size_t)n > max) {
			close(fd);
			return cairn_error_set(CAIRN_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
		}
		buf_put(b, chunk, (size_t)n);
	}
	close(fd);
	return buf_error(b);
}

static int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int fs_tmp_beside(const char *path, struct buf *tmp, int *fd)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;

	buf_clear(tmp);
	buf_put(tmp, path, dirlen);
	buf_printf(tmp, ".%s.tmp-XXXXXX", path + dirlen);
	if (buf_error(tmp))
		return buf_error(tmp);
	*fd = mkostemp(tmp->ptr, O_CLOEXEC);
	if (*fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot create a temporary file beside '%s': %s", path,
				       strerror(errno));
	return 0;
}

void fs_sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct buf d = BUF_INIT;
	int fd;

	if (slash)
		buf_put(&d, path, (size_t)(slash - path) + (slash == path));
	else
		buf_putc(&d, '.');
	fd = buf_error(&d) ? -1 : open(d.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	buf_release(&d);
}

int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
	return fs_write_atomic_opt(path, data, n, mode, true);
}

int fs_write_atomic_opt(const char *path, const void *data, size_t n, mode_t mode, bool sync)
{
	struct buf tmp = BUF_INIT;
	int fd = -1, rc;

	if ((rc = fs_tmp_beside(path, &tmp, &fd)))
		goto out;
	if (write_all(fd, data, n) || fchmod(fd, mode) || (sync && fsync(fd))) {
		rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp.ptr, path) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot replace '%s': %s", path, strerror(errno));
		goto out;
	}
	buf_clear(&tmp);
	if (sync)
		fs_sync_parent(path);
out:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.ptr);
	buf_release(&tmp);
	return rc;
}

int fs_copy_fd(int src, int dst, struct sha256_ctx *sha, int64_t *copied)
{
	int64_t total = 0;
	char *chunk;
	ssize_t k;

	if (!sha) {
		/* in-kernel copy first; fall back to read/write where unsupported */
		for (;;) {
			k = copy_file_range(src, NULL, dst, NULL, FS_CHUNK * 64, 0);
			if (k > 0) {
				total += k;
				continue;
			}
			if (k == 0)
				goto done;
			if (errno == EINTR)
				continue;
			if (total == 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
					   errno == EOPNOTSUPP || errno == EBADF))
				break;
			return cairn_error_set(CAIRN_EIO, "cannot copy: %s", strerror(errno));
		}
	}
	chunk = malloc(FS_CHUNK);
	if (!chunk)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	while ((k = read(src, chunk, FS_CHUNK)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			free(chunk);
			return cairn_error_set(CAIRN_EIO, "cannot read: %s", strerror(errno));
		}
		if (write_all(dst, chunk, (size_t)k)) {
			int e = errno;
			free(chunk);
			return cairn_error_set(CAIRN_EIO, "cannot write: %s", strerror(e));
		}
		if (sha)
			sha256_update(sha, chunk, (size_t)k);
		total += k;
	}
	free(chunk);
done:
	if (copied)
		*copied = total;
	return 0;
}

int fs_clone_fd(int src, int dst)
{
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	return cairn_error_set(CAIRN_EUNSUPPORTED, "reflink not supported: %s", strerror(errno));
}

int fs_hash_fd(int fd, char hex[SHA256_HEX_LEN + 1], int64_t *size)
{
	struct sha256_ctx *c = sha256_new();
	int64_t total = 0;
	char *chunk = malloc(FS_CHUNK);
	ssize_t k;

	if (!c || !chunk) {
		sha256_free(c);
		free(chunk);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((k = read(fd, chunk, FS_CHUNK)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			sha256_free(c);
			free(chunk);
			return cairn_error_set(CAIRN_EIO, "cannot read: %s", strerror(e));
		}
		sha256_update(c, chunk, (size_t)k);
		total += k;
	}
	free(chunk);
	sha256_final_hex(c, hex);
	if (size)
		*size = total;
	return 0;
}
