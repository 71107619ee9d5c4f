/* link.c - moving content between the workspace and the cache: reflink, hard link or copy, verified. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int parse_links(const char *spec, enum link_kind *links, int *n)
{
	const char *p = spec;

	*n = 0;
	while (*p) {
		size_t k = strcspn(p, ",");
		enum link_kind kind;

		if (k == 7 && !strncmp(p, "reflink", k))
			kind = LINK_REFLINK;
		else if (k == 8 && !strncmp(p, "hardlink", k))
			kind = LINK_HARDLINK;
		else if (k == 4 && !strncmp(p, "copy", k))
			kind = LINK_COPY;
		else
			return cairn_error_set(CAIRN_EINVALID,
					       "cache.type '%s': each entry must be reflink, hardlink or copy", spec);
		for (int i = 0; i < *n; i++)
			if (links[i] == kind)
				return cairn_error_set(CAIRN_EINVALID, "cache.type '%s' names a strategy twice", spec);
		links[(*n)++] = kind;
		p += k;
		if (*p == ',')
			p++;
	}
	if (!*n)
		return cairn_error_set(CAIRN_EINVALID, "cache.type is empty");
	return 0;
}

/* Stream the rest of fd (the file abs, for messages) into w. */
static int feed_writer(int fd, const char *abs, struct blob_writer *w)
{
	char *chunk = cmalloc(1 << 20);
	ssize_t k;
	int rc = 0;

	if (!chunk)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (!rc && (k = read(fd, chunk, 1 << 20)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", abs, strerror(errno));
		else
			rc = blob_writer_write(w, chunk, (size_t)k);
	}
	free(chunk);
	return rc;
}

/* Copy src into the cache through a blob writer, which hashes on the way. */
static int insert_copy(struct data_repo *r, const char *abs, const char *hex)
{
	struct blob_writer *w = NULL;
	int fd, rc;

	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", abs, strerror(errno));
	if ((rc = blob_writer_new(r->cache, &w)) || (rc = feed_writer(fd, abs, w)))
		goto out;
	rc = blob_writer_commit_as(w, hex, NULL);
	w = NULL;
	if (rc == CAIRN_ECONFLICT)
		rc = cairn_error_set(CAIRN_ECONFLICT, "'%s' changed while it was being added; add it again", abs);
out:
	blob_writer_abort(w);
	close(fd);
	return rc;
}

/* Remember a cache object's stat, so checking it later costs a stat, not a read. */
static void remember_object(struct data_repo *r, const char *hex)
{
	struct stat sb;

	if (!blob_stat(r->cache, hex, &sb))
		statcache_put(r->sc, &(struct fkey[]){ fkey_of(&sb) }[0], hex, true);
	cairn_error_clear();
}

bool cache_copies(struct data_repo *r, unsigned mode)
{
	for (int i = 0; i < r->nlinks; i++) {
		if ((r->links[i] == LINK_REFLINK && atomic_load(&r->no_reflink)) ||
		    (r->links[i] == LINK_HARDLINK && mode != 0644))
			continue;
		return r->links[i] == LINK_COPY;
	}
	return false;
}

int cache_insert_new(struct data_repo *r, const char *abs, struct fkey *k, char hex[SHA256_HEX_LEN + 1])
{
	struct blob_writer *w = NULL;
	struct stat before, after;
	int fd, rc;

	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", abs, strerror(errno));
	if (fstat(fd, &before) != 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot stat '%s': %s", abs, strerror(errno));
		goto out;
	}
	if ((rc = blob_writer_new(r->cache, &w)) || (rc = feed_writer(fd, abs, w)))
		goto out;
	rc = blob_writer_commit(w, hex, NULL);
	w = NULL;
	if (rc)
		goto out;
	atomic_store(&r->cache_written, true);
	remember_object(r, hex);
	*k = fkey_of(&before);
	if (fstat(fd, &after) == 0 && !memcmp(&(struct fkey[]){ fkey_of(&after) }[0], k, sizeof(*k)))
		statcache_put(r->sc, k, hex, false);
	else
		rc = cairn_error_set(CAIRN_ECONFLICT, "'%s' changed while it was being added; add it again", abs);
out:
	blob_writer_abort(w);
	close(fd);
	return rc;
}

int cache_insert(struct data_repo *r, const char *abs, const char *hex, unsigned mode)
{
	int rc = CAIRN_EUNSUPPORTED;

	/* an object that is there already is used only when it checks out: a
	 * stat and a stat-cache lookup for one cairn wrote, a hash for one it
	 * has not seen; a corrupt or planted one is replaced below */
	if (cache_check(r, hex) == 0)
		return 0;
	cairn_error_clear();
	for (int i = 0; i < r->nlinks && rc == CAIRN_EUNSUPPORTED; i++) {
		switch (r->links[i]) {
		case LINK_REFLINK:
			if (atomic_load(&r->no_reflink))
				break;
			rc = blob_adopt(r->cache, abs, hex, BLOB_CLONE);
			if (rc == CAIRN_EUNSUPPORTED)
				atomic_store(&r->no_reflink, true);
			break;
		case LINK_HARDLINK:
			/* an executable file would share its mode with the object: copy it */
			if (mode == 0644)
				rc = blob_adopt(r->cache, abs, hex, BLOB_HARDLINK);
			break;
		case LINK_COPY:
			rc = insert_copy(r, abs, hex);
			break;
		}
	}
	if (rc == CAIRN_EUNSUPPORTED)
		rc = cairn_error_set(CAIRN_EUNSUPPORTED,
				     "no cache.type strategy could store '%s' (add copy to cache.type)", abs);
	if (!rc) {
		atomic_store(&r->cache_written, true);
		remember_object(r, hex);
	}
	return rc;
}

int cache_check(struct data_repo *r, const char *hex)
{
	char got[SHA256_HEX_LEN + 1];
	struct fkey key;
	struct stat sb;
	int fd = -1, rc;

	if ((rc = blob_stat(r->cache, hex, &sb))) {
		if (rc == CAIRN_ENOTFOUND)
			rc = cairn_error_set(CAIRN_ENOTFOUND, "object %s is not in the cache", hex);
		goto out;
	}
	key = fkey_of(&sb);
	if (statcache_get(r->sc, &key, got) && !strcmp(got, hex))
		goto out;
	if ((rc = blob_open_read(r->cache, hex, &fd, NULL)))
		goto out;
	if ((rc = fs_hash_fd(fd, got, NULL)))
		goto out;
	if (strcmp(got, hex)) {
		rc = cairn_error_set(CAIRN_EIO,
				     "cache object %s is corrupt (its content hashes to %s); remove it and run "
				     "`cairn data pull` to fetch a good copy",
				     hex, got);
		goto out;
	}
	statcache_put(r->sc, &key, hex, false);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Create the folder that will hold abs. */
static int mkparent(const char *abs)
{
	const char *slash = strrchr(abs, '/');
	struct buf d = BUF_INIT;
	int rc;

	if (!slash || slash == abs)
		return 0;
	buf_put(&d, abs, (size_t)(slash - abs));
	/* the parent usually exists: one mkdir says so; else make the chain */
	rc = buf_error(&d) ? buf_error(&d) : mkdir(d.ptr, 0755) == 0 || errno == EEXIST ? 0 : path_mkdirs(d.ptr);
	buf_release(&d);
	return rc;
}

int cache_materialize(struct data_repo *r, const char *hex, const char *abs, unsigned mode)
{
	struct buf obj = BUF_INIT, tmp = BUF_INIT;
	int rc, tfd = -1, sfd = -1;
	struct stat sb;

	/* links share the object's bytes, so check the object first; a copy
	 * checks the bytes it copies */
	for (int i = 0; i < r->nlinks; i++) {
		if ((r->links[i] == LINK_REFLINK && atomic_load(&r->no_reflink)) ||
		    (r->links[i] == LINK_HARDLINK && mode != 0644))
			continue;
		if (r->links[i] != LINK_COPY && (rc = cache_check(r, hex)))
			goto out;
		break;
	}
	if (!blob_exists(r->cache, hex)) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "object %s is not in the cache (cairn data pull)", hex);
		goto out;
	}
	if ((rc = blob_path(r->cache, hex, &obj)) || (rc = mkparent(abs)))
		goto out;
	rc = CAIRN_EUNSUPPORTED;
	for (int i = 0; i < r->nlinks && rc == CAIRN_EUNSUPPORTED; i++) {
		if ((r->links[i] == LINK_HARDLINK && mode != 0644) ||
		    (r->links[i] == LINK_REFLINK && atomic_load(&r->no_reflink)))
			continue;
		if ((rc = fs_tmp_beside(abs, &tmp, &tfd)))
			goto out;
		if (r->links[i] == LINK_HARDLINK) {
			close(tfd);
			tfd = -1;
			unlink(tmp.ptr);
			if (link(obj.ptr, tmp.ptr) != 0) {
				int e = errno;
				buf_clear(&tmp);
				rc = e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP
					     ? CAIRN_EUNSUPPORTED
					     : cairn_error_set(CAIRN_EIO, "cannot link '%s': %s", abs, strerror(e));
				continue;
			}
		} else {
			if ((rc = blob_open_read(r->cache, hex, &sfd, NULL)))
				goto out;
			if (r->links[i] == LINK_REFLINK) {
				rc = fs_clone_fd(sfd, tfd);
				if (rc == CAIRN_EUNSUPPORTED)
					atomic_store(&r->no_reflink, true);
			} else {
				struct sha256_ctx *c = sha256_new();
				char got[SHA256_HEX_LEN + 1];
				if (!c) {
					rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
					goto out;
				}
				if ((rc = fs_copy_fd(sfd, tfd, c, NULL))) {
					sha256_free(c);
					goto out;
				}
				sha256_final_hex(c, got);
				if (strcmp(got, hex))
					rc = cairn_error_set(CAIRN_EIO,
							     "cache object %s is corrupt (its content hashes to %s)", hex,
							     got);
			}
			close(sfd);
			sfd = -1;
			if (!rc && fchmod(tfd, mode) != 0)
				rc = cairn_error_set(CAIRN_EIO, "cannot set the mode of '%s': %s", abs, strerror(errno));
			close(tfd);
			tfd = -1;
			if (rc) {
				unlink(tmp.ptr);
				buf_clear(&tmp);
				if (rc == CAIRN_EUNSUPPORTED)
					continue;
				goto out;
			}
		}
		if (crename(tmp.ptr, abs) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", abs, strerror(errno));
			goto out;
		}
		buf_clear(&tmp);
		rc = 0;
	}
	if (rc == CAIRN_EUNSUPPORTED)
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "no cache.type strategy could write '%s'", abs);
	if (!rc && stat(abs, &sb) == 0)
		statcache_put(r->sc, &(struct fkey[]){ fkey_of(&sb) }[0], hex, true);
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (tmp.len)
		unlink(tmp.ptr);
	buf_release(&tmp);
	buf_release(&obj);
	return rc;
}

int cache_read(struct data_repo *r, const char *hex, size_t max, struct buf *out)
{
	char got[SHA256_HEX_LEN + 1];
	size_t start = out->len;
	int64_t size = 0;
	int fd = -1, rc;

	if ((rc = blob_open_read(r->cache, hex, &fd, &size))) {
		if (rc == CAIRN_ENOTFOUND)
			rc = cairn_error_set(CAIRN_ENOTFOUND, "object %s is not in the cache", hex);
		return rc;
	}
	if ((uint64_t)size > max) {
		rc = cairn_error_set(CAIRN_ETOOBIG, "cache object %s is larger than %zu bytes", hex, max);
		goto out;
	}
	if ((rc = fs_read_fd(fd, hex, max, out)))
		goto out;
	sha256_hex(out->ptr + start, out->len - start, got);
	if (strcmp(got, hex))
		rc = cairn_error_set(CAIRN_EIO, "cache object %s is corrupt (its content hashes to %s)", hex, got);
out:
	close(fd);
	return rc;
}
