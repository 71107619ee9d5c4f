/* fs.c - whole-file reads, atomic replacement, streamed copy/clone/hash of fds. */
#include "core/fs.h"
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FS_CHUNK ((size_t)1 << 20)

int fs_read_fd(int fd, const char *what, size_t max, struct buf *b)
{
	char chunk[65536];
	size_t start = b->len;
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", what, strerror(errno));
		}
		if (b->len - start + (size_t)n > max)
			return cairn_error_set(CAIRN_ETOOBIG, "'%s' is larger than %zu bytes", what, max);
		buf_put(b, chunk, (size_t)n);
	}
	return buf_error(b);
}

int fs_read_file(const char *path, size_t max, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", path,
				       strerror(errno));
	rc = fs_read_fd(fd, path, max, b);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n) {
		ssize_t k = cwrite(fd, p, n);
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
		cfsync(fd);
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
	if (write_all(fd, data, n) || fchmod(fd, mode) || (sync && cfsync(fd))) {
		rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (crename(tmp.ptr, path) != 0) {
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
	chunk = cmalloc(FS_CHUNK);
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
	char *chunk = cmalloc(FS_CHUNK);
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

/* 1: openat2 works, -1: the kernel lacks it (or a filter refuses it), 0: not tried yet */
static atomic_int openat2_state;

void fs__no_openat2(bool on)
{
	atomic_store(&openat2_state, on ? -1 : 0);
}

/* The fallback: walk rel one component at a time, each opened with
 * O_NOFOLLOW relative to the one before. */
static int open_beneath_walk(int dirfd, const char *rel, int flags, mode_t mode)
{
	int cur = dirfd, fd;

	for (;;) {
		size_t n = strcspn(rel, "/");
		char comp[256];
		struct stat sb;

		if (n >= sizeof(comp)) {
			fd = -1;
			errno = ENAMETOOLONG;
			break;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		rel += n;
		while (*rel == '/')
			rel++;
		if (!*rel) { /* the last component */
			fd = openat(cur, n ? comp : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
			/* O_DIRECTORY on a link says ENOTDIR: say what it is */
			if (fd < 0 && errno == ENOTDIR && n && fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(sb.st_mode))
				errno = ELOOP;
			break;
		}
		if (!n || (n == 1 && comp[0] == '.'))
			continue;
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
			close(fd);
			fd = -1;
			errno = S_ISLNK(sb.st_mode) ? ELOOP : ENOTDIR;
		}
		if (fd < 0)
			break;
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (cur != dirfd) {
		int e = errno;
		close(cur);
		errno = e;
	}
	return fd;
}

/* True when rel has a ".." component. */
static bool has_dotdot(const char *rel)
{
	for (const char *p = rel; (p = strstr(p, "..")); p += 2)
		if ((p == rel || p[-1] == '/') && (!p[2] || p[2] == '/'))
			return true;
	return false;
}

int fs_open_beneath(int dirfd, const char *rel, int flags, mode_t mode)
{
	/* openat2 would allow a ".." that stays beneath: the walk cannot */
	if (rel[0] == '/' || has_dotdot(rel)) {
		errno = EXDEV;
		return -1;
	}
	if (atomic_load(&openat2_state) >= 0) {
		struct open_how how = {
			.flags = (uint64_t)(flags | O_CLOEXEC),
			.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		int state = atomic_load(&openat2_state);

		if (fd >= 0 || (errno != ENOSYS && !(errno == EPERM && state == 0))) {
			if (state == 0)
				atomic_store(&openat2_state, 1);
			return (int)fd;
		}
		/* ENOSYS: an older kernel; EPERM before openat2 ever worked: a
		 * seccomp filter that does not know it (the walk says whether a
		 * real permission problem is behind it) */
		atomic_store(&openat2_state, -1);
	}
	return open_beneath_walk(dirfd, rel, flags, mode);
}

int fs_tmp_name(const char *prefix, struct buf *name)
{
	/* unique by process and counter; O_EXCL (or link's EEXIST) settles the
	 * rest (other hosts on a shared folder): no random source asked per file */
	static atomic_uint_fast64_t counter;

	buf_clear(name);
	buf_printf(name, "%s%lx-%llx", prefix, (unsigned long)getpid(),
		   (unsigned long long)atomic_fetch_add(&counter, 1));
	return buf_error(name);
}

int fs_tmp_at(int dirfd, const char *prefix, struct buf *name, int *fd)
{
	int rc;

	for (int tries = 0; tries < 100; tries++) {
		if ((rc = fs_tmp_name(prefix, name)))
			return rc;
		*fd = openat(dirfd, name->ptr, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (*fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return cairn_error_set(CAIRN_EIO, "cannot create a temporary file '%s': %s", name->ptr, strerror(errno));
}

void fs_remove_tree_at(int dirfd, const char *name, unsigned max_depth)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0) {
		unlinkat(dirfd, name, 0);
		return;
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(fd, e->d_name, 0) && (errno == EISDIR || errno == EPERM) && max_depth)
			fs_remove_tree_at(fd, e->d_name, max_depth - 1);
	}
	closedir(d);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}
