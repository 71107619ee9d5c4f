/* artifact.c - artifact trees over the store's artifacts table and the blob store. */
#include "tracking/artifact.h"
#include "tracking/trk_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/path.h"
#include "core/util.h"

#include <string.h>
#include <unistd.h>

/* Bind the range [path/, path0) that holds everything under directory path.
 * A bound that failed to build is an error, never a wider or empty range. */
static int bind_range(struct store_stmt *q, int idx, const char *path, struct buf *lo, struct buf *hi)
{
	int rc;

	if (*path) {
		buf_printf(lo, "%s/", path);
		buf_printf(hi, "%s0", path); /* '0' is the byte after '/' */
	} else {
		buf_puts(hi, "\xff");
	}
	if ((rc = buf_error(lo)) || (rc = buf_error(hi)))
		return rc;
	store_bind_text(q, idx, lo->ptr);
	store_bind_text(q, idx + 1, hi->ptr);
	return 0;
}

int art_is_dir(struct store *st, const char *path, bool *is_dir)
{
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT 1 FROM artifacts WHERE path >= ? AND path < ? LIMIT 1", &q)))
		return rc;
	rc = bind_range(q, 1, path, &lo, &hi);
	if (!rc)
		rc = store_step(q);
	store_reset(q);
	buf_release(&lo);
	buf_release(&hi);
	if (rc < 0)
		return rc;
	*is_dir = rc == STORE_ROW;
	return 0;
}

int art_record(struct store *st, const char *path, const char *object, int64_t size)
{
	struct store_stmt *q;
	struct buf anc = BUF_INIT;
	bool dir = false;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = art_is_dir(st, path, &dir)))
		goto out;
	if (dir) {
		rc = cairn_error_set(CAIRN_EINVALID, "cannot write artifact '%.300s': a directory exists at that path", path);
		goto out;
	}
	/* no ancestor may be a file */
	if ((rc = store_prepare(st, "SELECT 1 FROM artifacts WHERE path = ?", &q)))
		goto out;
	for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		buf_clear(&anc);
		buf_put(&anc, path, (size_t)(p - path));
		store_reset(q);
		store_bind_text(q, 1, anc.ptr);
		rc = store_step(q);
		if (rc == STORE_ROW) {
			rc = cairn_error_set(CAIRN_EINVALID, "cannot write artifact '%.300s': '%.300s' is a file",
					     path, anc.ptr);
			break;
		}
		if (rc < 0)
			break;
		rc = 0;
	}
	store_reset(q);
	if (rc)
		goto out;
	if ((rc = store_prepare(st, "INSERT INTO artifacts(path, object, size, mtime) VALUES (?, ?, ?, ?) "
				    "ON CONFLICT(path) DO UPDATE SET object = excluded.object, size = excluded.size, "
				    "mtime = excluded.mtime", &q)))
		goto out;
	store_bind_text(q, 1, path);
	store_bind_text(q, 2, object);
	store_bind_int64(q, 3, size);
	store_bind_int64(q, 4, cairn_now_ms());
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&anc);
	return trk__commit_or_rollback(st, rc);
}

int art_open(struct store *st, struct blob_store *bs, const char *path, int *fd, int64_t *size)
{
	struct store_stmt *q;
	struct buf obj = BUF_INIT;
	int rc;

	if ((rc = store_prepare(st, "SELECT object FROM artifacts WHERE path = ?", &q)))
		return rc;
	store_bind_text(q, 1, path);
	rc = store_step(q);
	if (rc == STORE_ROW)
		buf_puts(&obj, store_col_text(q, 0));
	store_reset(q);
	if (rc == STORE_DONE)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "artifact '%.300s' does not exist", path);
	if (rc < 0)
		goto out;
	rc = blob_open_read(bs, obj.ptr, fd, size);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(CAIRN_EIO, "artifact '%.300s' refers to missing object %s", path, obj.ptr);
out:
	buf_release(&obj);
	return rc;
}

int art_list(struct store *st, const char *path, const char *rel_base, json_t **out)
{
	struct buf lo = BUF_INIT, hi = BUF_INIT, last = BUF_INIT, child = BUF_INIT;
	struct store_stmt *q;
	json_t *arr = json_array();
	size_t plen = *path ? strlen(path) + 1 : 0;
	size_t blen = rel_base && *rel_base ? strlen(rel_base) + 1 : 0;
	int rc;

	if ((rc = store_prepare(st, "SELECT path, size FROM artifacts WHERE path >= ? AND path < ? ORDER BY path", &q)))
		goto out;
	if ((rc = bind_range(q, 1, path, &lo, &hi)) ||
	    (!arr && (rc = cairn_error_set(CAIRN_ENOMEM, "out of memory listing '%.300s'", path)))) {
		store_reset(q);
		goto out;
	}
	while ((rc = store_step(q)) == STORE_ROW) {
		const char *full = store_col_text(q, 0), *rest = full + plen, *slash = strchr(rest, '/');
		size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
		json_t *f;

		if (last.len == nlen && !memcmp(last.ptr, rest, nlen))
			continue; /* another file in the same subdirectory */
		buf_clear(&last);
		buf_put(&last, rest, nlen);
		buf_clear(&child);
		if (rel_base)
			buf_put(&child, full + blen, plen - blen + nlen);
		else
			buf_put(&child, rest, nlen);
		/* an entry lost to a failed allocation would be a silently shorter listing */
		f = slash ? json_pack("{s:o,s:b}", "path", cjson_string(child.ptr), "is_dir", 1)
			  : json_pack("{s:o,s:b,s:I}", "path", cjson_string(child.ptr), "is_dir", 0, "file_size",
				      (json_int_t)store_col_int64(q, 1));
		if (!f || json_array_append_new(arr, f)) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory listing '%.300s'", path);
			break;
		}
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&lo);
	buf_release(&hi);
	buf_release(&last);
	buf_release(&child);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int art_delete(struct store *st, const char *path)
{
	struct buf lo = BUF_INIT, hi = BUF_INIT;
	struct store_stmt *q;
	int64_t n = 0;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = store_prepare(st, "DELETE FROM artifacts WHERE path = ? OR (path >= ? AND path < ?)", &q)))
		goto out;
	store_bind_text(q, 1, path);
	if (!(rc = bind_range(q, 2, path, &lo, &hi)))
		rc = store_step(q);
	store_reset(q);
	n = store_changes(st);
	rc = rc < 0 ? rc : 0;
	if (!rc && n == 0)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "artifact '%.300s' does not exist", path);
out:
	buf_release(&lo);
	buf_release(&hi);
	return trk__commit_or_rollback(st, rc);
}

int art_uri_to_path(const char *uri, struct buf *out)
{
	static const char scheme[] = "mlflow-artifacts:";
	const char *p;

	if (strncmp(uri, scheme, sizeof(scheme) - 1))
		/* the location came from the client (an experiment's artifact_location):
		 * bad input, not a missing feature, so 400 rather than 501 */
		return cairn_error_set(CAIRN_EINVALID, "artifact location '%.300s' is not served by this server: it "
						      "proxies only mlflow-artifacts: locations", uri);
	p = uri + sizeof(scheme) - 1;
	/* mlflow-artifacts:/x, mlflow-artifacts:///x or mlflow-artifacts://host:port/x */
	if (!strncmp(p, "//", 2)) {
		p += 2;
		p = strchr(p, '/');
		if (!p)
			p = "";
	}
	while (*p == '/')
		p++;
	return path_clean_rel(p, strlen(p), true, out);
}
