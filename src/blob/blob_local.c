/* blob_local.c - the local-directory backend of the blob store. */
#include "blob/blob.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/path.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct blob_store {
	char *objdir; /* <root>/objects */
	char *tmpdir; /* <root>/objects/tmp */
	unsigned flags;
	/* open handles on the 256 shard folders (-1: not opened yet), so an
	 * existence check is one short lookup instead of a whole path walk */
	int shard_fd[256];
	pthread_mutex_t mu;
};

struct blob_writer {
	struct blob_store *bs;
	struct sha256_ctx *sha;
	char *tmp_path;
	int fd;
	int64_t size;
};

static char *dup_join(const char *a, const char *b)
{
	struct buf p = BUF_INIT;

	if (path_join(&p, a, b)) {
		buf_release(&p);
		return NULL;
	}
	return buf_detach(&p);
}

/* Remove temporary files, all of them or those older than min_age seconds. */
static void remove_stale_tmp(const char *dir, time_t min_age)
{
	DIR *d = opendir(dir);
	time_t now = time(NULL);
	struct dirent *e;
	struct stat sb;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (min_age && (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
				now - sb.st_mtime < min_age))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
			continue;
	}
	closedir(d);
}

int blob_open(const char *root, struct blob_store **out)
{
	return blob_open_flags(root, 0, out);
}

int blob_open_flags(const char *root, unsigned flags, struct blob_store **out)
{
	struct blob_store *bs = calloc(1, sizeof(*bs));
	int rc;

	if (!bs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	bs->flags = flags;
	for (int i = 0; i < 256; i++)
		bs->shard_fd[i] = -1;
	pthread_mutex_init(&bs->mu, NULL);
	bs->objdir = dup_join(root, "objects");
	bs->tmpdir = bs->objdir ? dup_join(bs->objdir, "tmp") : NULL;
	if (!bs->tmpdir) {
		blob_close(bs);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = path_mkdirs(bs->tmpdir))) {
		blob_close(bs);
		return rc;
	}
	remove_stale_tmp(bs->tmpdir, (flags & BLOB_SHARED) ? 86400 : 0);
	*out = bs;
	return 0;
}

void blob_close(struct blob_store *bs)
{
	if (!bs)
		return;
	for (int i = 0; i < 256; i++)
		if (bs->shard_fd[i] >= 0)
			close(bs->shard_fd[i]);
	pthread_mutex_destroy(&bs->mu);
	free(bs->objdir);
	free(bs->tmpdir);
	free(bs);
}

static int object_path(struct blob_store *bs, const char *hex, struct buf *out)
{
	if (!sha256_is_hex(hex))
		return cairn_error_set(CAIRN_EINVALID, "invalid object id '%.80s'", hex);
	buf_printf(out, "%s/%.2s/%s", bs->objdir, hex, hex + 2);
	return buf_error(out);
}

int blob_writer_new(struct blob_store *bs, struct blob_writer **out)
{
	struct blob_writer *w = calloc(1, sizeof(*w));
	struct buf p = BUF_INIT;

	if (!w)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	w->bs = bs;
	w->fd = -1;
	w->sha = sha256_new();
	buf_printf(&p, "%s/upload-XXXXXX", bs->tmpdir);
	if (!w->sha || buf_error(&p)) {
		buf_release(&p);
		blob_writer_abort(w);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	w->tmp_path = buf_detach(&p);
	w->fd = mkostemp(w->tmp_path, O_CLOEXEC);
	if (w->fd < 0) {
		int rc = cairn_error_set(CAIRN_EIO, "cannot create temporary object file in '%s': %s",
					 bs->tmpdir, strerror(errno));
		free(w->tmp_path);
		w->tmp_path = NULL;
		blob_writer_abort(w);
		return rc;
	}
	*out = w;
	return 0;
}

int blob_writer_write(struct blob_writer *w, const void *data, size_t n)
{
	const char *p = data;
	size_t left = n;

	while (left) {
		ssize_t k = write(w->fd, p, left);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set(CAIRN_EIO, "cannot write object: %s", strerror(errno));
		}
		p += k;
		left -= (size_t)k;
	}
	sha256_update(w->sha, data, n);
	w->size += (int64_t)n;
	return 0;
}

/* Make the entries of folder path durable (a rename into it survives a crash). */
static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open folder '%s' to sync it: %s", path, strerror(errno));
	if (fsync(fd) != 0)
		rc = cairn_error_set(CAIRN_EIO, "cannot sync folder '%s': %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], const char *expect, int64_t *size);
static int mkdir_shard(char *path);

int blob_writer_commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], int64_t *size)
{
	return commit(w, hex, NULL, size);
}

int blob_writer_commit_as(struct blob_writer *w, const char *expect, int64_t *size)
{
	char hex[SHA256_HEX_LEN + 1];

	return commit(w, hex, expect, size);
}

static int commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], const char *expect, int64_t *size)
{
	struct buf dst = BUF_INIT;
	struct stat sb;
	int rc = 0;

	sha256_final_hex(w->sha, hex);
	w->sha = NULL;
	if (expect && strcmp(hex, expect)) {
		rc = cairn_error_set(CAIRN_ECONFLICT, "content of object %s hashes to %s", expect, hex);
		goto out;
	}
	if (size)
		*size = w->size;
	if ((rc = object_path(w->bs, hex, &dst)))
		goto out;
	if (stat(dst.ptr, &sb) == 0 && sb.st_size == w->size) {
		/* identical content already stored */
		goto out;
	}
	if (fchmod(w->fd, 0444) != 0 || (!(w->bs->flags & BLOB_NOSYNC) && fsync(w->fd) != 0)) {
		rc = cairn_error_set(CAIRN_EIO, "cannot sync object: %s", strerror(errno));
		goto out;
	}
	if (rename(w->tmp_path, dst.ptr) != 0) {
		/* the shard folder is made on first use */
		if (errno != ENOENT || (rc = mkdir_shard(dst.ptr)) || rename(w->tmp_path, dst.ptr) != 0) {
			if (!rc)
				rc = cairn_error_set(CAIRN_EIO, "cannot store object '%s': %s", hex, strerror(errno));
			goto out;
		}
	}
	free(w->tmp_path);
	w->tmp_path = NULL;
	*strrchr(dst.ptr, '/') = '\0';
	if (!(w->bs->flags & BLOB_NOSYNC))
		rc = fsync_dir(dst.ptr);
out:
	buf_release(&dst);
	blob_writer_abort(w);
	return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path) {
		unlink(w->tmp_path);
		free(w->tmp_path);
	}
	sha256_free(w->sha);
	free(w);
}

int blob_put(struct blob_store *bs, const void *data, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	struct blob_writer *w;
	int rc;

	if ((rc = blob_writer_new(bs, &w)))
		return rc;
	if ((rc = blob_writer_write(w, data, n))) {
		blob_writer_abort(w);
		return rc;
	}
	return blob_writer_commit(w, hex, NULL);
}

int blob_open_read(struct blob_store *bs, const char *hex, int *fd, int64_t *size)
{
	struct buf p = BUF_INIT;
	struct stat sb;
	int rc;

	if ((rc = object_path(bs, hex, &p)))
		goto out;
	*fd = open(p.ptr, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		rc = errno == ENOENT ? cairn_error_set(CAIRN_ENOTFOUND, "object '%s' is missing", hex)
				     : cairn_error_set(CAIRN_EIO, "cannot open object '%s': %s", hex, strerror(errno));
		goto out;
	}
	if (fstat(*fd, &sb) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot stat object '%s': %s", hex, strerror(errno));
		close(*fd);
		*fd = -1;
		goto out;
	}
	if (size)
		*size = sb.st_size;
out:
	buf_release(&p);
	return rc;
}

/* The open handle of shard folder "ab" (hex[0..1]); -1 when it does not exist yet. */
static int shard(struct blob_store *bs, const char *hex)
{
	int i = (int)strtol((char[3]){ hex[0], hex[1], 0 }, NULL, 16), fd;

	pthread_mutex_lock(&bs->mu);
	fd = bs->shard_fd[i];
	if (fd < 0) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s/%.2s", bs->objdir, hex);
		fd = buf_error(&p) ? -1 : open(p.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bs->shard_fd[i] = fd;
		buf_release(&p);
	}
	pthread_mutex_unlock(&bs->mu);
	return fd;
}

bool blob_exists(struct blob_store *bs, const char *hex)
{
	int fd;

	if (!sha256_is_hex(hex))
		return false;
	fd = shard(bs, hex);
	return fd >= 0 && faccessat(fd, hex + 2, F_OK, 0) == 0;
}

int blob_verify(struct blob_store *bs, const char *hex)
{
	char got[SHA256_HEX_LEN + 1];
	struct sha256_ctx *c;
	char chunk[65536];
	int fd, rc;
	ssize_t k;

	if ((rc = blob_open_read(bs, hex, &fd, NULL)))
		return rc;
	c = sha256_new();
	if (!c) {
		close(fd);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	while ((k = read(fd, chunk, sizeof(chunk))) > 0)
		sha256_update(c, chunk, (size_t)k);
	close(fd);
	sha256_final_hex(c, got);
	if (k < 0 || strcmp(got, hex))
		return cairn_error_set(CAIRN_EIO, "object '%s' is corrupt (content hashes to %s)", hex, got);
	return 0;
}

int blob_path(struct blob_store *bs, const char *hex, struct buf *out)
{
	return object_path(bs, hex, out);
}

/* Create the shard directory of an object path (the part before the last '/'). */
static int mkdir_shard(char *path)
{
	char *slash = strrchr(path, '/');
	int rc;

	*slash = '\0';
	rc = mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : path_mkdirs(path);
	*slash = '/';
	return rc;
}

int blob_adopt(struct blob_store *bs, const char *src, const char *hex, enum blob_adopt how)
{
	struct buf dst = BUF_INIT, tmp = BUF_INIT;
	int rc, sfd = -1, tfd = -1;

	if ((rc = object_path(bs, hex, &dst)))
		goto out;
	if (access(dst.ptr, F_OK) == 0)
		goto out;
	if ((rc = mkdir_shard(dst.ptr)))
		goto out;
	if (how == BLOB_HARDLINK) {
		if (link(src, dst.ptr) != 0 && errno != EEXIST) {
			rc = errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP
				     ? cairn_error_set(CAIRN_EUNSUPPORTED, "cannot hard-link '%s' into the cache: %s", src,
						       strerror(errno))
				     : cairn_error_set(CAIRN_EIO, "cannot link '%s' into the cache: %s", src, strerror(errno));
			goto out;
		}
		if (chmod(dst.ptr, 0444) != 0)
			rc = cairn_error_set(CAIRN_EIO, "cannot protect object '%s': %s", hex, strerror(errno));
		goto out;
	}
	sfd = open(src, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", src, strerror(errno));
		goto out;
	}
	buf_printf(&tmp, "%s/clone-XXXXXX", bs->tmpdir);
	if ((rc = buf_error(&tmp)))
		goto out;
	tfd = mkostemp(tmp.ptr, O_CLOEXEC);
	if (tfd < 0) {
		buf_clear(&tmp);
		rc = cairn_error_set(CAIRN_EIO, "cannot create temporary object file in '%s': %s", bs->tmpdir,
				     strerror(errno));
		goto out;
	}
	if ((rc = fs_clone_fd(sfd, tfd)))
		goto out;
	if (fchmod(tfd, 0444) != 0 || rename(tmp.ptr, dst.ptr) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot store object '%s': %s", hex, strerror(errno));
		goto out;
	}
	buf_clear(&tmp);
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (tmp.len)
		unlink(tmp.ptr);
	buf_release(&tmp);
	buf_release(&dst);
	return rc;
}

void blob_sync(struct blob_store *bs)
{
	int fd = open(bs->objdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
}

int blob_remove(struct blob_store *bs, const char *hex)
{
	struct buf p = BUF_INIT;
	int rc;

	if ((rc = object_path(bs, hex, &p)) == 0 && unlink(p.ptr) != 0 && errno != ENOENT)
		rc = cairn_error_set(CAIRN_EIO, "cannot remove object '%s': %s", hex, strerror(errno));
	buf_release(&p);
	return rc;
}

static bool is_hex_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == n;
}

int blob_list(struct blob_store *bs, int (*fn)(const char *hex, void *arg), void *arg)
{
	DIR *top = opendir(bs->objdir), *sub;
	struct dirent *e, *f;
	char hex[SHA256_HEX_LEN + 1];
	int rc = 0;

	if (!top)
		return cairn_error_set(CAIRN_EIO, "cannot list '%s': %s", bs->objdir, strerror(errno));
	while (!rc && (e = readdir(top))) {
		int fd;

		if (!is_hex_name(e->d_name, 2))
			continue;
		fd = openat(dirfd(top), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || !(sub = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (!rc && (f = readdir(sub))) {
			if (!is_hex_name(f->d_name, SHA256_HEX_LEN - 2))
				continue;
			memcpy(hex, e->d_name, 2);
			memcpy(hex + 2, f->d_name, SHA256_HEX_LEN - 2);
			hex[SHA256_HEX_LEN] = '\0';
			rc = fn(hex, arg);
		}
		closedir(sub);
	}
	closedir(top);
	return rc;
}
