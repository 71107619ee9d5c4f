/* remote.c - push, fetch and pull: moving missing objects between the cache and a remote, verified. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/progress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MANIFEST_MAX ((size_t)1 << 30)

/* objects: {hex: "file"|"manifest"}; missing_manifests: [{pointer, sha256}] */
int collect_objects(struct data_repo *r, json_t *files, json_t *objects, json_t *missing_manifests)
{
	struct buf text = BUF_INIT;
	int rc = 0;

	for (size_t i = 0; !rc && i < json_array_size(files); i++) {
		const char *file = json_string_value(json_array_get(files, i));
		struct pointer p;
		struct dlist l = { 0 };

		if ((rc = pointer_load(r, file, &p)))
			break;
		json_object_set_new(objects, p.hex, json_string(p.is_dir ? "manifest" : "file"));
		if (p.is_dir) {
			buf_clear(&text);
			rc = cache_read(r, p.hex, MANIFEST_MAX, &text);
			if (rc == CAIRN_ENOTFOUND) {
				cairn_error_clear();
				rc = 0;
				json_array_append_new(missing_manifests,
						      json_pack("{s:s,s:s}", "pointer", file, "sha256", p.hex));
			} else if (!rc && !(rc = manifest_parse(text.ptr, text.len, &l))) {
				for (size_t k = 0; k < l.n; k++)
					if (!json_object_get(objects, l.v[k].hex))
						json_object_set_new(objects, l.v[k].hex, json_string("file"));
			}
		}
		dlist_release(&l);
		pointer_release(&p);
	}
	buf_release(&text);
	return rc;
}

struct xfer {
	struct data_repo *r;
	struct blob_store *src, *dst;
	const char *src_name;   /* "the cache" or "remote 'x'" */
	char **hex;
	size_t n;
	pthread_mutex_t mu;
	json_t *failed;
	int64_t done, bytes;
	struct progress pg;
};

/* Copy one object, verifying its hash on arrival: nothing corrupt is stored. */
static int copy_object(struct xfer *x, const char *hex, int64_t *bytes)
{
	struct blob_writer *w = NULL;
	char *chunk = cmalloc(1 << 20);
	int fd = -1, rc;
	ssize_t k;

	*bytes = 0;
	if (!chunk)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = blob_open_read(x->src, hex, &fd, NULL)) || (rc = blob_writer_new(x->dst, &w)))
		goto out;
	while ((k = read(fd, chunk, 1 << 20)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read object %s from %s: %s", hex, x->src_name,
					     strerror(errno));
			goto out;
		}
		if ((rc = blob_writer_write(w, chunk, (size_t)k)))
			goto out;
		*bytes += k;
		progress_add(&x->pg, 0, k);
	}
	rc = blob_writer_commit_as(w, hex, NULL);
	w = NULL;
	if (rc == CAIRN_ECONFLICT)
		rc = cairn_error_set(CAIRN_EIO, "object %s in %s is corrupt (%s); it was not copied", hex, x->src_name,
				     cairn_error_msg());
out:
	blob_writer_abort(w);
	if (fd >= 0)
		close(fd);
	free(chunk);
	return rc;
}

static int xfer_one(size_t i, void *arg)
{
	struct xfer *x = arg;
	int64_t bytes = 0;
	int rc = copy_object(x, x->hex[i], &bytes);

	pthread_mutex_lock(&x->mu);
	if (rc)
		json_array_append_new(x->failed, json_pack("{s:s,s:s}", "sha256", x->hex[i], "error", cairn_error_msg()));
	else {
		x->done++;
		x->bytes += bytes;
	}
	pthread_mutex_unlock(&x->mu);
	progress_add(&x->pg, 1, 0);
	return 0;
}

/* Copy the listed objects that dst lacks. */
static int transfer(struct data_repo *r, struct blob_store *src, struct blob_store *dst, const char *src_name,
		    json_t *hexes, const char *label, json_t *report)
{
	struct xfer x = { .r = r, .src = src, .dst = dst, .src_name = src_name };
	int64_t present = 0;
	int rc;

	x.hex = ccalloc(json_array_size(hexes) + 1, sizeof(char *));
	if (!x.hex)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(hexes); i++) {
		const char *h = json_string_value(json_array_get(hexes, i));
		if (blob_exists(dst, h))
			present++;
		else
			x.hex[x.n++] = (char *)h;
	}
	x.failed = json_object_get(report, "failed");
	pthread_mutex_init(&x.mu, NULL);
	progress_begin(&x.pg, label, (int64_t)x.n, 0, r->o.quiet);
	if (dst == r->cache && x.n)
		atomic_store(&r->cache_written, true);
	rc = data_parallel(data_jobs(r, true), x.n, xfer_one, &x);
	progress_end(&x.pg);
	pthread_mutex_destroy(&x.mu);
	free(x.hex);
	json_object_set_new(report, "copied", json_integer(json_integer_value(json_object_get(report, "copied")) + x.done));
	json_object_set_new(report, "bytes", json_integer(json_integer_value(json_object_get(report, "bytes")) + x.bytes));
	json_object_set_new(report, "present",
			    json_integer(json_integer_value(json_object_get(report, "present")) + present));
	return rc;
}

static json_t *new_report(const char *remote)
{
	return json_pack("{s:s,s:i,s:i,s:i,s:[]}", "remote", remote, "copied", 0, "bytes", 0, "present", 0, "failed");
}

int data_push(struct data_repo *r, char *const *targets, size_t n, json_t **report)
{
	struct blob_store *remote = NULL;
	const char *rname, *url;
	json_t *files = NULL, *objects = json_object(), *missing = json_array(), *leaves = json_array(),
	       *manifests = json_array(), *rep = NULL, *v;
	const char *hex;
	int rc;

	if ((rc = pointer_targets(r, targets, n, &files)) || (rc = remote_open(r, r->o.remote, true, &remote, &rname, &url)))
		goto out;
	if ((rc = collect_objects(r, files, objects, missing)))
		goto out;
	rep = new_report(rname);
	for (size_t i = 0; i < json_array_size(missing); i++)
		json_array_append_new(json_object_get(rep, "failed"),
				      json_pack("{s:O,s:s}", "sha256", json_object_get(json_array_get(missing, i), "sha256"),
						"error", "the folder's manifest is not in the cache"));
	/* members first, manifests last: a manifest on the remote means its
	 * folder is complete there, so an interrupted push resumes cleanly */
	json_object_foreach(objects, hex, v) {
		if (!blob_exists(r->cache, hex)) {
			json_array_append_new(json_object_get(rep, "failed"),
					      json_pack("{s:s,s:s}", "sha256", hex, "error", "not in the cache"));
			continue;
		}
		json_array_append_new(!strcmp(json_string_value(v), "manifest") ? manifests : leaves, json_string(hex));
	}
	if ((rc = transfer(r, r->cache, remote, "the cache", leaves, "pushing", rep)))
		goto out;
	if (json_array_size(json_object_get(rep, "failed")) == 0)
		rc = transfer(r, r->cache, remote, "the cache", manifests, "pushing", rep);
out:
	if (!rc)
		*report = json_incref(rep);
	json_decref(rep);
	blob_close(remote);
	json_decref(files);
	json_decref(objects);
	json_decref(missing);
	json_decref(leaves);
	json_decref(manifests);
	return rc;
}

int data_fetch(struct data_repo *r, char *const *targets, size_t n, json_t **report)
{
	struct blob_store *remote = NULL;
	const char *rname, *url, *hex;
	char label[96];
	json_t *files = NULL, *objects = json_object(), *missing = json_array(), *leaves = json_array(), *rep = NULL,
	       *fetched_manifests = json_array(), *v;
	struct buf text = BUF_INIT, src_name = BUF_INIT;
	int rc;

	if ((rc = pointer_targets(r, targets, n, &files)) ||
	    (rc = remote_open(r, r->o.remote, false, &remote, &rname, &url)))
		goto out;
	if ((rc = collect_objects(r, files, objects, missing)))
		goto out;
	rep = new_report(rname);
	buf_printf(&src_name, "remote '%s'", rname);
	/* manifests the cache lacks: read them from the remote (verified) */
	for (size_t i = 0; i < json_array_size(missing); i++) {
		const char *mh = json_string_value(json_object_get(json_array_get(missing, i), "sha256"));
		struct dlist l = { 0 };
		char got[SHA256_HEX_LEN + 1];
		int fd, e;
		int64_t size;

		buf_clear(&text);
		e = blob_open_read(remote, mh, &fd, &size);
		if (!e) {
			ssize_t k;
			char chunk[65536];
			while ((k = read(fd, chunk, sizeof(chunk))) > 0 && text.len < MANIFEST_MAX)
				buf_put(&text, chunk, (size_t)k);
			close(fd);
			sha256_hex(text.ptr, text.len, got);
			if (strcmp(got, mh))
				e = cairn_error_set(CAIRN_EIO, "object %s in %s is corrupt (content hashes to %s); not used",
						    mh, src_name.ptr, got);
			else
				e = manifest_parse(text.ptr, text.len, &l);
		} else if (e == CAIRN_ENOTFOUND) {
			e = cairn_error_set(CAIRN_ENOTFOUND, "%s does not have object %s (was it pushed?)", src_name.ptr, mh);
		}
		if (e) {
			json_array_append_new(json_object_get(rep, "failed"),
					      json_pack("{s:s,s:s}", "sha256", mh, "error", cairn_error_msg()));
			cairn_error_clear();
			continue;
		}
		for (size_t k = 0; k < l.n; k++)
			if (!json_object_get(objects, l.v[k].hex))
				json_object_set_new(objects, l.v[k].hex, json_string("file"));
		dlist_release(&l);
		json_array_append_new(fetched_manifests, json_stringn(text.ptr, text.len));
	}
	json_object_foreach(objects, hex, v) {
		if (!strcmp(json_string_value(v), "manifest") || blob_exists(r->cache, hex))
			continue;
		if (!blob_exists(remote, hex)) {
			json_array_append_new(json_object_get(rep, "failed"),
					      json_pack("{s:s,s:s}", "sha256", hex, "error", "not on the remote (was it pushed?)"));
			continue;
		}
		json_array_append_new(leaves, json_string(hex));
	}
	snprintf(label, sizeof(label), "fetching from %.60s", rname);
	if ((rc = transfer(r, remote, r->cache, src_name.ptr, leaves, label, rep)))
		goto out;
	/* manifests last, so a manifest in the cache means its members are there */
	if (json_array_size(json_object_get(rep, "failed")) == 0)
		for (size_t i = 0; !rc && i < json_array_size(fetched_manifests); i++) {
			char h[SHA256_HEX_LEN + 1];
			json_t *m = json_array_get(fetched_manifests, i);
			rc = blob_put(r->cache, json_string_value(m), json_string_length(m), h);
		}
out:
	if (!rc)
		*report = json_incref(rep);
	json_decref(rep);
	blob_close(remote);
	buf_release(&text);
	buf_release(&src_name);
	json_decref(files);
	json_decref(objects);
	json_decref(missing);
	json_decref(leaves);
	json_decref(fetched_manifests);
	return rc;
}

int data_pull(struct data_repo *r, char *const *targets, size_t n, json_t **report)
{
	json_t *fetch = NULL, *co = NULL;
	int rc;

	if ((rc = data_fetch(r, targets, n, &fetch)))
		return rc;
	if ((rc = data_checkout(r, targets, n, &co))) {
		json_decref(fetch);
		return rc;
	}
	*report = json_pack("{s:o,s:o}", "fetch", fetch, "checkout", co);
	return 0;
}
