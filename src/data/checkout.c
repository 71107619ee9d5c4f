/* checkout.c - comparing the workspace with pointers (status) and making it match them (checkout). */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/progress.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST_MAX ((size_t)1 << 30)

/* What a pointer wants and what the workspace has. */
struct wsdiff {
	struct pointer p;
	struct buf abs;        /* the data path, absolute */
	struct dlist want, have;
	bool have_dir;         /* the workspace path is a folder */
	bool exists;           /* the workspace path exists */
	bool no_manifest;      /* a folder's manifest is not in the cache */
};

static void wsdiff_release(struct wsdiff *d)
{
	pointer_release(&d->p);
	buf_release(&d->abs);
	dlist_release(&d->want);
	dlist_release(&d->have);
}

static int load_want(struct data_repo *r, struct wsdiff *d)
{
	struct buf text = BUF_INIT;
	int rc;

	if (!d->p.is_dir) {
		if ((rc = dlist_push(&d->want, "", 0)))
			return rc;
		memcpy(d->want.v[0].hex, d->p.hex, sizeof(d->p.hex));
		d->want.v[0].size = d->p.size;
		d->want.v[0].mode = d->p.isexec ? 0755 : 0644;
		d->want.bytes = d->p.size;
		return 0;
	}
	rc = cache_read(r, d->p.hex, MANIFEST_MAX, &text);
	if (rc == CAIRN_ENOTFOUND) {
		d->no_manifest = true;
		cairn_error_clear();
		rc = 0;
	} else if (!rc && (rc = manifest_parse(text.ptr, text.len, &d->want))) {
		rc = cairn_error_set(rc, "manifest %s of %s: %s", d->p.hex, d->p.file, cairn_error_msg());
	}
	buf_release(&text);
	return rc;
}

/* Load the pointer (or take the object given instead), what it wants, and
 * hash what the workspace has. */
static int wsdiff_compute(struct data_repo *r, const char *file, const struct data_obj *given, struct wsdiff *d)
{
	struct stat sb;
	char label[96];
	int rc;

	memset(d, 0, sizeof(*d));
	if (given) {
		d->p.file = cstrdup(file);
		d->p.data = cstrdup(file);
		if (!d->p.file || !d->p.data)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		memcpy(d->p.hex, given->sha256, sizeof(d->p.hex));
		d->p.is_dir = given->is_dir;
		d->p.size = given->size;
		d->p.nfiles = given->nfiles;
	} else if ((rc = pointer_load(r, file, &d->p))) {
		return rc;
	}
	if ((rc = repo_abs(r, d->p.data, &d->abs)) || (rc = load_want(r, d)))
		return rc;
	if (stat(d->abs.ptr, &sb) != 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return cairn_error_set(CAIRN_EIO, "cannot stat '%s': %s", d->p.data, strerror(errno));
		return 0;
	}
	d->exists = true;
	snprintf(label, sizeof(label), "checking %.80s", d->p.data);
	if (S_ISDIR(sb.st_mode)) {
		d->have_dir = true;
		if ((rc = scan_dir(d->abs.ptr, &d->have)))
			return rc;
	} else if (S_ISREG(sb.st_mode)) {
		if ((rc = dlist_push(&d->have, "", 0)))
			return rc;
		d->have.v[0].key = fkey_of(&sb);
		d->have.v[0].has_stat = true;
		d->have.v[0].size = sb.st_size;
		d->have.v[0].mode = (sb.st_mode & 0111) ? 0755 : 0644;
		d->have.bytes = sb.st_size;
	} else {
		return cairn_error_set(CAIRN_EINVALID, "'%s' is not a regular file or folder", d->p.data);
	}
	return scan_hash(r, d->abs.ptr, &d->have, label);
}

static bool kind_matches(const struct wsdiff *d)
{
	return !d->exists || d->have_dir == d->p.is_dir;
}

/* status */

static void add_str(json_t *arr, const char *s)
{
	json_array_append_new(arr, json_string(s[0] ? s : "."));
}

/* Which objects a store has. A big folder is checked against one listing of
 * the store (a few hundred directory reads, then a sorted array of digests)
 * instead of one lookup per file. */
struct have {
	struct blob_store *bs;
	unsigned char (*v)[32]; /* sorted binary digests; NULL until listed */
	size_t n, cap;
	bool listed;
};

static void unhex32(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		int a = hex[2 * i], b = hex[2 * i + 1];
		out[i] = (unsigned char)(((a <= '9' ? a - '0' : a - 'a' + 10) << 4) | (b <= '9' ? b - '0' : b - 'a' + 10));
	}
}

static int have_add(const char *hex, void *arg)
{
	struct have *h = arg;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4096;
		void *v = crealloc(h->v, cap * 32);
		if (!v)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		h->v = v;
		h->cap = cap;
	}
	unhex32(hex, h->v[h->n++]);
	return 0;
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static bool has(struct have *h, const char *hex, size_t batch)
{
	unsigned char key[32];

	if (!h->listed && batch > 1000) {
		h->listed = true;
		if (blob_list(h->bs, have_add, h) == 0)
			qsort(h->v, h->n, 32, cmp32);
		else {
			free(h->v);
			h->v = NULL;
			h->n = h->cap = 0;
			h->listed = false;
			cairn_error_clear();
		}
	}
	if (!h->listed)
		return blob_exists(h->bs, hex);
	unhex32(hex, key); /* hex comes from a parsed pointer or manifest: valid */
	return h->n && bsearch(key, h->v, h->n, 32, cmp32) != NULL;
}

static int status_one(struct data_repo *r, const char *file, struct have *cache, struct have *remote,
		      json_t *entries)
{
	struct wsdiff d;
	json_t *added = json_array(), *modified = json_array(), *deleted = json_array(), *e;
	int64_t not_in_cache = 0, not_pushed = 0;
	const char *state;
	int rc;

	if ((rc = wsdiff_compute(r, file, NULL, &d)))
		goto out;
	if (!has(cache, d.p.hex, d.want.n))
		not_in_cache++;
	if (remote->bs && !has(remote, d.p.hex, d.want.n))
		not_pushed++;
	if (d.p.is_dir)
		for (size_t i = 0; i < d.want.n; i++) {
			if (!has(cache, d.want.v[i].hex, d.want.n))
				not_in_cache++;
			if (remote->bs && !has(remote, d.want.v[i].hex, d.want.n))
				not_pushed++;
		}
	if (d.exists && kind_matches(&d) && !d.no_manifest) {
		size_t i = 0, k = 0;
		while (i < d.want.n || k < d.have.n) {
			int c = i >= d.want.n ? 1 : k >= d.have.n ? -1 : strcmp(d.want.v[i].path, d.have.v[k].path);
			if (c < 0)
				add_str(deleted, d.want.v[i++].path);
			else if (c > 0)
				add_str(added, d.have.v[k++].path);
			else {
				if (strcmp(d.want.v[i].hex, d.have.v[k].hex) ||
				    (d.p.is_dir && d.want.v[i].mode != d.have.v[k].mode))
					add_str(modified, d.want.v[i].path);
				i++;
				k++;
			}
		}
	}
	if (!d.exists)
		state = "missing";
	else if (!kind_matches(&d))
		state = "modified";
	else if (d.no_manifest)
		state = "unknown";
	else if (json_array_size(added) || json_array_size(modified) || json_array_size(deleted))
		state = "modified";
	else
		state = "ok";
	e = json_pack("{s:s,s:s,s:s,s:s,s:I,s:b}", "path", d.p.data, "pointer", file, "state", state, "type",
		      d.p.is_dir ? "dir" : "file", "not_in_cache", (json_int_t)not_in_cache, "manifest_missing",
		      d.no_manifest);
	if (remote->bs)
		json_object_set_new(e, "not_pushed", json_integer(not_pushed));
	if (d.p.is_dir) {
		json_object_set(e, "added", added);
		json_object_set(e, "modified", modified);
		json_object_set(e, "deleted", deleted);
	}
	json_array_append_new(entries, e);
out:
	json_decref(added);
	json_decref(modified);
	json_decref(deleted);
	wsdiff_release(&d);
	return rc;
}

int data_status(struct data_repo *r, char *const *targets, size_t n, json_t **report)
{
	struct have cache = { .bs = r->cache }, remote = { 0 };
	const char *rname = NULL, *url = NULL;
	json_t *files = NULL, *entries = json_array();
	int rc;

	if ((rc = pointer_targets(r, targets, n, &files)))
		goto out;
	/* the remote is looked at when one is named or a default is set */
	if (!r->o.no_remote &&
	    (r->o.remote || json_object_get(json_object_get(r->config, "core"), "remote")) &&
	    (rc = remote_open(r, r->o.remote, false, &remote.bs, &rname, &url)))
		goto out;
	for (size_t i = 0; !rc && i < json_array_size(files); i++)
		rc = status_one(r, json_string_value(json_array_get(files, i)), &cache, &remote, entries);
	if (!rc)
		*report = json_pack("{s:O,s:o}", "entries", entries, "remote", rname ? json_string(rname) : json_null());
out:
	free(cache.v);
	free(remote.v);
	blob_close(remote.bs);
	json_decref(files);
	json_decref(entries);
	return rc;
}

/* checkout */

struct co_job {
	struct data_repo *r;
	struct wsdiff *d;
	size_t *idx;       /* want entries to write */
	pthread_mutex_t mu;
	json_t *failed;
	struct progress pg;
};

static int write_one(size_t i, void *arg)
{
	struct co_job *j = arg;
	struct dentry *e = &j->d->want.v[j->idx[i]];
	struct buf abs = BUF_INIT;
	int rc;

	dentry_abs(j->d->abs.ptr, e, &abs);
	rc = buf_error(&abs) ? buf_error(&abs) : cache_materialize(j->r, e->hex, abs.ptr, e->mode);
	if (rc) {
		pthread_mutex_lock(&j->mu);
		json_array_append_new(j->failed, json_pack("{s:s,s:s}", "path", e->path[0] ? e->path : ".", "error",
							   cairn_error_msg()));
		pthread_mutex_unlock(&j->mu);
	}
	progress_add(&j->pg, 1, e->size);
	buf_release(&abs);
	return 0;
}

/* Remove a folder tree (only used on a workspace path cairn is replacing). */
static int remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct buf p = BUF_INIT;
	int rc = 0;

	if (!d)
		return unlink(path) == 0 || errno == ENOENT ? 0
							    : cairn_error_set(CAIRN_EIO, "cannot remove '%s': %s", path,
									      strerror(errno));
	while (!rc && (e = readdir(d))) {
		struct stat sb;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_clear(&p);
		buf_printf(&p, "%s/%s", path, e->d_name);
		if ((rc = buf_error(&p)))
			break;
		if (lstat(p.ptr, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = remove_tree(p.ptr);
		else if (unlink(p.ptr) != 0 && errno != ENOENT)
			rc = cairn_error_set(CAIRN_EIO, "cannot remove '%s': %s", p.ptr, strerror(errno));
	}
	closedir(d);
	buf_release(&p);
	if (!rc && rmdir(path) != 0 && errno != ENOENT)
		rc = cairn_error_set(CAIRN_EIO, "cannot remove '%s': %s", path, strerror(errno));
	return rc;
}

/* Remove now-empty folders from the parent of rel up to (not including) top. */
static void prune_empty(const char *top, const char *rel)
{
	struct buf p = BUF_INIT;
	char *slash;

	buf_printf(&p, "%s/%s", top, rel);
	while (!buf_error(&p) && (slash = strrchr(p.ptr, '/')) && (size_t)(slash - p.ptr) > strlen(top)) {
		*slash = '\0';
		if (rmdir(p.ptr) != 0)
			break;
	}
	buf_release(&p);
}

static int checkout_one(struct data_repo *r, const char *file, const struct data_obj *given, bool force,
			json_t *out, int64_t *nfailed)
{
	struct co_job j = { .r = r };
	struct wsdiff d;
	json_t *lost = json_array(), *deleted = json_array();
	size_t nwrite = 0, unchanged = 0;
	bool replace_all;
	int rc;

	j.failed = json_array();
	j.d = &d;
	pthread_mutex_init(&j.mu, NULL);
	if ((rc = wsdiff_compute(r, file, given, &d)))
		goto out;
	if (d.no_manifest) {
		json_array_append_new(j.failed, json_pack("{s:s,s:s}", "path", ".", "error", "the folder's manifest is not "
							   "in the cache; run `cairn data pull` (or fetch)"));
		goto report;
	}
	replace_all = !kind_matches(&d);
	j.idx = ccalloc(d.want.n ? d.want.n : 1, sizeof(size_t));
	if (!j.idx) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* plan: what to write, what to delete, and what that would lose */
	for (size_t i = 0; i < d.want.n; i++) {
		struct dentry *h = replace_all ? NULL : dlist_find(&d.have, d.want.v[i].path);
		if (h && !strcmp(h->hex, d.want.v[i].hex) && (!d.p.is_dir || h->mode == d.want.v[i].mode)) {
			unchanged++;
			continue;
		}
		if (!d.p.is_dir && h)
			d.want.v[i].mode = h->mode; /* a single file keeps its mode */
		if (h && !blob_exists(r->cache, h->hex))
			add_str(lost, d.want.v[i].path[0] ? d.want.v[i].path : d.p.data);
		j.idx[nwrite++] = i;
	}
	for (size_t k = 0; k < d.have.n; k++) {
		if (!replace_all && dlist_find(&d.want, d.have.v[k].path))
			continue;
		if (!blob_exists(r->cache, d.have.v[k].hex))
			add_str(lost, d.have.v[k].path[0] ? d.have.v[k].path : d.p.data);
		add_str(deleted, d.have.v[k].path);
	}
	if (json_array_size(lost) && !force) {
		const char *first = json_string_value(json_array_get(lost, 0));
		rc = cairn_error_set(CAIRN_ECONFLICT,
				     "checkout of %s would overwrite or delete %zu file(s) whose content is not in the "
				     "cache (first: %s%s%s); add them (cairn data add) or pass --force",
				     d.p.data, json_array_size(lost), d.p.is_dir ? d.p.data : "", d.p.is_dir ? "/" : "",
				     first);
		goto out;
	}
	/* execute: deletions first (a file may stand where a folder must go) */
	if (replace_all) {
		if ((rc = remove_tree(d.abs.ptr)))
			goto out;
	} else {
		for (size_t k = 0; k < d.have.n; k++) {
			struct buf p = BUF_INIT;
			if (dlist_find(&d.want, d.have.v[k].path))
				continue;
			buf_printf(&p, "%s/%s", d.abs.ptr, d.have.v[k].path);
			if (!buf_error(&p) && unlink(p.ptr) != 0 && errno != ENOENT)
				rc = cairn_error_set(CAIRN_EIO, "cannot remove '%s': %s", p.ptr, strerror(errno));
			buf_release(&p);
			if (rc)
				goto out;
			prune_empty(d.abs.ptr, d.have.v[k].path);
		}
	}
	if (d.p.is_dir && !d.want.n && mkdir(d.abs.ptr, 0755) != 0 && errno != EEXIST) {
		rc = cairn_error_set(CAIRN_EIO, "cannot create '%s': %s", d.p.data, strerror(errno));
		goto out;
	}
	{
		int64_t bytes = 0;
		char label[96];
		for (size_t k = 0; k < nwrite; k++)
			bytes += d.want.v[j.idx[k]].size;
		snprintf(label, sizeof(label), "checking out %.80s", d.p.data);
		progress_begin(&j.pg, label, (int64_t)nwrite, bytes, r->o.quiet);
		rc = data_parallel(data_jobs(r, true), nwrite, write_one, &j);
		progress_end(&j.pg);
	}
	if (!rc && !given)
		rc = gitignore_add(r, d.p.data);
report:
	if (!rc) {
		*nfailed += (int64_t)json_array_size(j.failed);
		json_array_append_new(out, json_pack("{s:s,s:s,s:I,s:I,s:I,s:O}", "path", d.p.data, "pointer", file,
						     "written", (json_int_t)(nwrite - json_array_size(j.failed)), "deleted",
						     (json_int_t)json_array_size(deleted), "unchanged",
						     (json_int_t)unchanged, "failed", j.failed));
	}
out:
	free(j.idx);
	pthread_mutex_destroy(&j.mu);
	json_decref(j.failed);
	json_decref(lost);
	json_decref(deleted);
	wsdiff_release(&d);
	return rc;
}

int data_checkout(struct data_repo *r, char *const *targets, size_t n, json_t **report)
{
	json_t *files = NULL, *out = json_array();
	int64_t failed = 0;
	int rc;

	if ((rc = pointer_targets(r, targets, n, &files)))
		goto done;
	/* one pointer's failure (a change that would be lost, a broken pointer)
	 * is reported and the others are still checked out */
	for (size_t i = 0; !rc && i < json_array_size(files); i++) {
		const char *f = json_string_value(json_array_get(files, i));
		rc = checkout_one(r, f, NULL, r->o.force, out, &failed);
		if (rc && rc != CAIRN_ENOMEM) {
			json_array_append_new(out, json_pack("{s:s,s:s,s:I,s:I,s:I,s:[{s:s,s:s}]}", "path", f, "pointer", f,
							     "written", (json_int_t)0, "deleted", (json_int_t)0,
							     "unchanged", (json_int_t)0, "failed", "path", ".", "error",
							     cairn_error_msg()));
			failed++;
			cairn_error_clear();
			rc = 0;
		}
	}
	if (!rc)
		*report = json_pack("{s:O,s:I}", "checkout", out, "failed", (json_int_t)failed);
done:
	json_decref(files);
	json_decref(out);
	return rc;
}

int data_restore_path(struct data_repo *r, const char *rel, const struct data_obj *o)
{
	json_t *out = json_array();
	int64_t failed = 0;
	int rc;

	if (!data_have_obj(r, o)) {
		json_decref(out);
		return cairn_error_set(CAIRN_ENOTFOUND, "'%s': object %s (or part of it) is not in the cache", rel,
				       o->sha256);
	}
	rc = checkout_one(r, rel, o, true, out, &failed);
	if (!rc && failed) {
		json_t *f = json_array_get(json_object_get(json_array_get(out, 0), "failed"), 0);
		rc = cairn_error_set(CAIRN_EIO, "'%s': %s", rel, json_string_value(json_object_get(f, "error")));
	}
	json_decref(out);
	return rc;
}

bool data_have_obj(struct data_repo *r, const struct data_obj *o)
{
	struct buf text = BUF_INIT;
	struct dlist l = { 0 };
	bool ok = blob_exists(r->cache, o->sha256);

	if (ok && o->is_dir) {
		ok = cache_read(r, o->sha256, MANIFEST_MAX, &text) == 0 && manifest_parse(text.ptr, text.len, &l) == 0;
		for (size_t i = 0; ok && i < l.n; i++)
			ok = blob_exists(r->cache, l.v[i].hex);
	}
	cairn_error_clear();
	dlist_release(&l);
	buf_release(&text);
	return ok;
}

int data_read_obj(struct data_repo *r, const char *sha256, size_t max, struct buf *out)
{
	int64_t size;
	int fd, rc;

	if ((rc = blob_open_read(r->cache, sha256, &fd, &size)))
		return rc;
	rc = fs_read_fd(fd, sha256, max, out);
	close(fd);
	return rc;
}
