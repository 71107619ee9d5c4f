/* blob_local.c - the local-directory backend of the blob store.
 *
 * Everything under the root is reached through descriptors: the objects and
 * tmp folders are opened once beneath the root, shard folders and objects
 * beneath those, never through a symbolic link (fs_open_beneath), so a link
 * planted inside the root can neither be read through nor written through.
 * An object that exists already is trusted only once its bytes are compared
 * with the new upload's; a planted or corrupt one is replaced.
 */
#include "blob/blob.h"
#include "core/fault.h"
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
	char *objdir;  /* <root>/objects, for messages and blob_path() */
	int obj_fd;    /* <root>/objects, opened beneath the root */
	int tmp_fd;    /* <root>/objects/tmp */
	unsigned flags;
	/* open handles on the 256 shard folders (-1: not opened yet), so an
	 * existence check is one short lookup instead of a whole path walk */
	int shard_fd[256];
	pthread_mutex_t mu;
};

struct blob_writer {
	struct blob_store *bs;
	struct sha256_ctx *sha;
	struct buf tmp;  /* the temporary file's name in tmp_fd ("" once gone) */
	int fd;
	int64_t size;
};

#define BENEATH_DIR (O_RDONLY | O_DIRECTORY)

/* Open (creating it when create) the folder name inside dirfd, never through
 * a link. A symbolic link or a file planted where the folder belongs is
 * removed and replaced by a real folder when create, else refused (ELOOP or
 * ENOTDIR). Returns the descriptor, or -1 with errno. */
static int open_subdir(int dirfd, const char *name, bool create)
{
	int fd = fs_open_beneath(dirfd, name, BENEATH_DIR, 0);

	if (fd >= 0 || !create)
		return fd;
	if (errno == ELOOP || errno == ENOTDIR) {
		if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
			return -1;
	} else if (errno != ENOENT) {
		return -1;
	}
	if (mkdirat(dirfd, name, 0755) != 0 && errno != EEXIST)
		return -1;
	return fs_open_beneath(dirfd, name, BENEATH_DIR, 0);
}

/* Remove temporary files, all of them or those older than min_age seconds. */
static void remove_stale_tmp(int tmp_fd, time_t min_age)
{
	int fd = openat(tmp_fd, ".", BENEATH_DIR | O_CLOEXEC); /* its own read position */
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	time_t now = time(NULL);
	struct dirent *e;
	struct stat sb;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
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
	struct blob_store *bs = ccalloc(1, sizeof(*bs));
	struct buf p = BUF_INIT;
	int rc, root_fd = -1;

	if (!bs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	bs->flags = flags;
	bs->obj_fd = bs->tmp_fd = -1;
	for (int i = 0; i < 256; i++)
		bs->shard_fd[i] = -1;
	pthread_mutex_init(&bs->mu, NULL);
	if ((rc = path_join(&p, root, "objects"))) {
		blob_close(bs);
		return rc;
	}
	bs->objdir = buf_detach(&p);
	/* the root itself is the operator's choice (it may be reached through
	 * links); everything below it is ours and is opened beneath it */
	if ((rc = path_mkdirs(root)))
		goto fail;
	root_fd = open(root, BENEATH_DIR | O_CLOEXEC);
	if (root_fd < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", root, strerror(errno));
		goto fail;
	}
	bs->obj_fd = fs_open_beneath(root_fd, "objects", BENEATH_DIR, 0);
	if (bs->obj_fd < 0 && errno == ENOENT && (mkdirat(root_fd, "objects", 0755) == 0 || errno == EEXIST))
		bs->obj_fd = fs_open_beneath(root_fd, "objects", BENEATH_DIR, 0);
	if (bs->obj_fd < 0) {
		rc = cairn_error_set(CAIRN_EIO, errno == ELOOP ? "cannot open '%s': it is a symbolic link (the object "
								 "store must be a real folder inside the root)"
							       : "cannot open '%s': %s",
				     bs->objdir, strerror(errno));
		goto fail;
	}
	/* only temporary files live in tmp: a link planted there is replaced */
	bs->tmp_fd = open_subdir(bs->obj_fd, "tmp", true);
	if (bs->tmp_fd < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open '%s/tmp': %s", bs->objdir, strerror(errno));
		goto fail;
	}
	close(root_fd);
	remove_stale_tmp(bs->tmp_fd, (flags & BLOB_SHARED) ? 86400 : 0);
	*out = bs;
	return 0;
fail:
	if (root_fd >= 0)
		close(root_fd);
	blob_close(bs);
	return rc;
}

void blob_close(struct blob_store *bs)
{
	if (!bs)
		return;
	for (int i = 0; i < 256; i++)
		if (bs->shard_fd[i] >= 0)
			close(bs->shard_fd[i]);
	if (bs->obj_fd >= 0)
		close(bs->obj_fd);
	if (bs->tmp_fd >= 0)
		close(bs->tmp_fd);
	pthread_mutex_destroy(&bs->mu);
	free(bs->objdir);
	free(bs);
}

static int check_hex(const char *hex)
{
	if (!sha256_is_hex(hex))
		return cairn_error_set(CAIRN_EINVALID, "invalid object id '%.80s'", hex);
	return 0;
}

/* The open handle of shard folder "ab" (hex[0..1]), made first when create;
 * -1 when it does not exist (or is not a real folder) and create is false.
 * The handle belongs to the store. */
static int shard(struct blob_store *bs, const char *hex, bool create)
{
	int i = (int)strtol((char[3]){ hex[0], hex[1], 0 }, NULL, 16), fd;

	pthread_mutex_lock(&bs->mu);
	fd = bs->shard_fd[i];
	if (fd < 0) {
		char name[3] = { hex[0], hex[1], 0 };
		fd = open_subdir(bs->obj_fd, name, create);
		bs->shard_fd[i] = fd;
	}
	pthread_mutex_unlock(&bs->mu);
	return fd;
}

int blob_writer_new(struct blob_store *bs, struct blob_writer **out)
{
	struct blob_writer *w = ccalloc(1, sizeof(*w));
	int rc;

	if (!w)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	w->bs = bs;
	w->fd = -1;
	buf_init(&w->tmp, 256);
	w->sha = sha256_new();
	if (!w->sha) {
		blob_writer_abort(w);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = fs_tmp_at(bs->tmp_fd, "upload-", &w->tmp, &w->fd))) {
		buf_clear(&w->tmp);
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
		ssize_t k = cwrite(w->fd, p, left);
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

static int read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* True when the files a and b (both size bytes) hold the same bytes. */
static bool same_bytes(int a, int b, int64_t size)
{
	enum { CHUNK = 1 << 16 };
	char *x = cmalloc(2 * CHUNK), *y = x + CHUNK;
	bool same = x && lseek(a, 0, SEEK_SET) == 0 && lseek(b, 0, SEEK_SET) == 0;

	for (int64_t left = size; same && left > 0;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		same = !read_full(a, x, n) && !read_full(b, y, n) && !memcmp(x, y, n);
		left -= (int64_t)n;
	}
	free(x);
	return same;
}

/* Open object name in the shard folder sfd for reading, refusing anything
 * but a regular file (a link, a fifo that would block the open, a folder).
 * -1 with errno (ENOENT when absent, ELOOP for a link, EINVAL for another
 * kind of file). */
static int open_object(int sfd, const char *name, struct stat *sb)
{
	int fd = fs_open_beneath(sfd, name, O_RDONLY | O_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* O_NONBLOCK stays: it means nothing for a regular file */
	return fd;
}

static int commit(struct blob_writer *w, char hex[SHA256_HEX_LEN + 1], const char *expect, int64_t *size);

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
	struct blob_store *bs = w->bs;
	struct stat sb;
	int rc = 0, sfd, efd;

	sha256_final_hex(w->sha, hex);
	w->sha = NULL;
	if (expect && strcmp(hex, expect)) {
		rc = cairn_error_set(CAIRN_ECONFLICT, "content of object %s hashes to %s", expect, hex);
		goto out;
	}
	if (size)
		*size = w->size;
	if ((sfd = shard(bs, hex, true)) < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open the folder of object '%s' in '%s': %s", hex, bs->objdir,
				     strerror(errno));
		goto out;
	}
	/* identical content already stored: keep it, but only once its bytes
	 * say so (a size match alone would keep a corrupt or planted object) */
	efd = open_object(sfd, hex + 2, &sb);
	if (efd >= 0) {
		bool same = sb.st_size == w->size && same_bytes(efd, w->fd, w->size);
		close(efd);
		if (same)
			goto out;
	}
	if (fchmod(w->fd, 0444) != 0 || (!(bs->flags & BLOB_NOSYNC) && cfsync(w->fd) != 0)) {
		rc = cairn_error_set(CAIRN_EIO, "cannot sync object: %s", strerror(errno));
		goto out;
	}
	/* rename replaces a link or a bad object itself, never what a link points at */
	if (crenameat(bs->tmp_fd, w->tmp.ptr, sfd, hex + 2) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot store object '%s': %s", hex, strerror(errno));
		goto out;
	}
	buf_clear(&w->tmp);
	if (!(bs->flags & BLOB_NOSYNC) && cfsync(sfd) != 0)
		rc = cairn_error_set(CAIRN_EIO, "cannot sync the folder of object '%s': %s", hex, strerror(errno));
out:
	blob_writer_abort(w);
	return rc;
}

void blob_writer_abort(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp.len)
		unlinkat(w->bs->tmp_fd, w->tmp.ptr, 0);
	buf_release(&w->tmp);
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

/* The error for a failed open_object() or fstatat() of object hex. */
static int object_error(const char *hex, int e)
{
	if (e == ENOENT)
		return cairn_error_set(CAIRN_ENOTFOUND, "object '%s' is missing", hex);
	if (e == ELOOP || e == EINVAL)
		return cairn_error_set(CAIRN_EIO, "object '%s' is not a regular file inside the store (a symbolic link "
						  "or another kind of file was put there): not used", hex);
	return cairn_error_set(CAIRN_EIO, "cannot open object '%s': %s", hex, strerror(e));
}

int blob_open_read(struct blob_store *bs, const char *hex, int *fd, int64_t *size)
{
	struct stat sb;
	int rc, sfd;

	*fd = -1;
	if ((rc = check_hex(hex)))
		return rc;
	if ((sfd = shard(bs, hex, false)) < 0)
		return object_error(hex, errno == ENOENT ? ENOENT : errno == ENOTDIR ? ELOOP : errno);
	*fd = open_object(sfd, hex + 2, &sb);
	if (*fd < 0)
		return object_error(hex, errno);
	if (size)
		*size = sb.st_size;
	return 0;
}

int blob_stat(struct blob_store *bs, const char *hex, struct stat *sb)
{
	int rc, sfd;

	if ((rc = check_hex(hex)))
		return rc;
	if ((sfd = shard(bs, hex, false)) < 0)
		return object_error(hex, errno == ENOENT ? ENOENT : errno == ENOTDIR ? ELOOP : errno);
	if (fstatat(sfd, hex + 2, sb, AT_SYMLINK_NOFOLLOW) != 0)
		return object_error(hex, errno);
	if (!S_ISREG(sb->st_mode))
		return object_error(hex, EINVAL);
	return 0;
}

bool blob_exists(struct blob_store *bs, const char *hex)
{
	struct stat sb;
	int fd;

	if (!sha256_is_hex(hex))
		return false;
	fd = shard(bs, hex, false);
	/* a link or another kind of file is no object: it is replaced when
	 * the object is stored */
	return fd >= 0 && fstatat(fd, hex + 2, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}

int blob_verify(struct blob_store *bs, const char *hex)
{
	char got[SHA256_HEX_LEN + 1];
	int fd, rc;

	if ((rc = blob_open_read(bs, hex, &fd, NULL)))
		return rc;
	rc = fs_hash_fd(fd, got, NULL);
	close(fd);
	if (rc)
		return rc;
	if (strcmp(got, hex))
		return cairn_error_set(CAIRN_EIO, "object '%s' is corrupt (content hashes to %s)", hex, got);
	return 0;
}

int blob_path(struct blob_store *bs, const char *hex, struct buf *out)
{
	int rc;

	if ((rc = check_hex(hex)))
		return rc;
	buf_printf(out, "%s/%.2s/%s", bs->objdir, hex, hex + 2);
	return buf_error(out);
}

int blob_adopt(struct blob_store *bs, const char *src, const char *hex, enum blob_adopt how)
{
	struct buf tmp = BUF_INIT;
	int rc, sfd, sfile = -1, tfd = -1;
	struct stat sb;

	if ((rc = check_hex(hex)))
		return rc;
	if ((sfd = shard(bs, hex, true)) < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open the folder of object '%s' in '%s': %s", hex, bs->objdir,
				       strerror(errno));
	sfile = open(src, O_RDONLY | O_CLOEXEC);
	if (sfile < 0 || fstat(sfile, &sb) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", src, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is not a regular file", src);
		goto out;
	}
	if (how == BLOB_HARDLINK) {
		/* link src under a temporary name, then rename it over whatever
		 * is at the object's name (nothing, a good copy, or a planted entry) */
		for (int tries = 0;; tries++) {
			if ((rc = fs_tmp_name("link-", &tmp)))
				goto out;
			/* follow a link at src, as the open above did: an object is never a link */
			if (linkat(AT_FDCWD, src, bs->tmp_fd, tmp.ptr, AT_SYMLINK_FOLLOW) == 0)
				break;
			if (errno != EEXIST || tries == 100) {
				int e = errno;
				buf_clear(&tmp);
				rc = e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP
					     ? cairn_error_set(CAIRN_EUNSUPPORTED, "cannot hard-link '%s' into the cache: %s",
							       src, strerror(e))
					     : cairn_error_set(CAIRN_EIO, "cannot link '%s' into the cache: %s", src,
							       strerror(e));
				goto out;
			}
		}
		if (fchmod(sfile, 0444) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot protect object '%s': %s", hex, strerror(errno));
			goto out;
		}
	} else {
		if ((rc = fs_tmp_at(bs->tmp_fd, "clone-", &tmp, &tfd))) {
			buf_clear(&tmp);
			goto out;
		}
		if ((rc = fs_clone_fd(sfile, tfd)))
			goto out;
		if (fchmod(tfd, 0444) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot protect object '%s': %s", hex, strerror(errno));
			goto out;
		}
	}
	if (crenameat(bs->tmp_fd, tmp.ptr, sfd, hex + 2) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot store object '%s': %s", hex, strerror(errno));
		goto out;
	}
	buf_clear(&tmp);
out:
	if (sfile >= 0)
		close(sfile);
	if (tfd >= 0)
		close(tfd);
	if (tmp.len)
		unlinkat(bs->tmp_fd, tmp.ptr, 0);
	buf_release(&tmp);
	return rc;
}

void blob_sync(struct blob_store *bs)
{
	syncfs(bs->obj_fd);
}

int blob_remove(struct blob_store *bs, const char *hex)
{
	int rc, sfd;

	if ((rc = check_hex(hex)))
		return rc;
	/* through the shard's handle: a shard folder replaced by a link is not
	 * followed, so nothing outside the store is removed */
	if ((sfd = shard(bs, hex, false)) < 0)
		return 0;
	if (unlinkat(sfd, hex + 2, 0) != 0 && errno != ENOENT)
		return cairn_error_set(CAIRN_EIO, "cannot remove object '%s': %s", hex, strerror(errno));
	return 0;
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
	int tfd = openat(bs->obj_fd, ".", BENEATH_DIR | O_CLOEXEC); /* its own read position */
	DIR *top = tfd >= 0 ? fdopendir(tfd) : NULL, *sub;
	struct dirent *e, *f;
	char hex[SHA256_HEX_LEN + 1];
	int rc = 0;

	if (!top) {
		rc = cairn_error_set(CAIRN_EIO, "cannot list '%s': %s", bs->objdir, strerror(errno));
		if (tfd >= 0)
			close(tfd);
		return rc;
	}
	while (!rc && (e = readdir(top))) {
		int fd;

		if (!is_hex_name(e->d_name, 2))
			continue;
		fd = fs_open_beneath(dirfd(top), e->d_name, BENEATH_DIR, 0);
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
