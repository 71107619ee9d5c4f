/* gc.c - cache garbage collection over chosen git revisions, and fsck of the cache. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/fs.h"
#include "core/proc.h"
#include "core/yaml.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MANIFEST_MAX ((size_t)1 << 30)
#define POINTER_MAX (64 << 10)

/* Keep the objects of one parsed pointer (and its manifest's members). */
static int keep_pointer(struct data_repo *r, const struct pointer *p, const char *where, json_t *keep, json_t *unknown)
{
	struct buf text = BUF_INIT;
	struct dlist l = { 0 };
	int rc;

	json_object_set_new(keep, p->hex, json_true());
	if (!p->is_dir)
		return 0;
	rc = cache_read(r, p->hex, MANIFEST_MAX, &text);
	if (rc == CAIRN_ENOTFOUND || rc == CAIRN_EIO) {
		/* its members, if any are here, came from a remote (fetch stores a
		 * manifest last) or are unreadable: report, do not guess */
		json_array_append_new(unknown, json_pack("{s:s,s:s,s:s}", "pointer", where, "sha256", p->hex, "error",
							 cairn_error_msg()));
		cairn_error_clear();
		rc = 0;
	} else if (!rc && !(rc = manifest_parse(text.ptr, text.len, &l))) {
		for (size_t k = 0; k < l.n; k++)
			json_object_set_new(keep, l.v[k].hex, json_true());
	}
	dlist_release(&l);
	buf_release(&text);
	return rc;
}

#define LOCK_NAME "cairn.lock"
#define LOCK_MAX (64 << 20)

static bool is_lock_path(const char *path)
{
	const char *slash = strrchr(path, '/');

	return !strcmp(slash ? slash + 1 : path, LOCK_NAME);
}

/* The outs a pipeline lock file (cairn.lock) records: kept like pointers. */
static int keep_lock(struct data_repo *r, const char *text, size_t n, const char *where, json_t *keep, json_t *unknown)
{
	json_t *doc = NULL, *st, *outs, *o;
	const char *name;
	size_t i;
	int rc = 0;

	if (cyaml_parse(text, n, &doc) || !json_is_object(doc)) {
		json_array_append_new(unknown, json_pack("{s:s,s:s}", "pointer", where, "error",
							 "not a readable cairn.lock; the outs it records are not kept"));
		cairn_error_clear();
		json_decref(doc);
		return 0;
	}
	json_object_foreach(json_object_get(doc, "stages"), name, st) {
		outs = json_object_get(st, "outs");
		json_array_foreach(outs, i, o) {
			const char *h = json_string_value(json_object_get(o, "sha256")), *t;
			struct pointer p = { 0 };
			if (!h || !sha256_is_hex(h) || json_is_false(json_object_get(o, "cache")))
				continue;
			memcpy(p.hex, h, sizeof(p.hex));
			t = json_string_value(json_object_get(o, "type"));
			p.is_dir = t && !strcmp(t, "dir");
			if ((rc = keep_pointer(r, &p, where, keep, unknown)))
				break;
		}
		if (rc)
			break;
	}
	json_decref(doc);
	return rc;
}

/* Pointer files at the given git revisions: every blob named *.cairn (and
 * the pipeline's cairn.lock). */
static int keep_git(struct data_repo *r, const struct data_gc_scope *s, json_t *keep, json_t *unknown, int64_t *nrevs)
{
	struct buf out = BUF_INIT, blob = BUF_INIT, where = BUF_INIT;
	char **argv = ccalloc(s->nrevs + 8, sizeof(char *));
	json_t *blobs = json_object(), *v;
	const char *sha;
	size_t k = 0;
	int code = 0, rc = 0;

	if (!argv)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	argv[k++] = "git";
	argv[k++] = "rev-list";
	argv[k++] = "--objects";
	if (s->all_commits)
		argv[k++] = "--all";
	else {
		argv[k++] = "--no-walk";
		if (s->all_branches)
			argv[k++] = "--branches";
		if (s->all_tags)
			argv[k++] = "--tags";
		for (size_t i = 0; i < s->nrevs; i++)
			argv[k++] = s->revs[i];
	}
	buf_init(&out, (size_t)1 << 31);
	buf_init(&blob, LOCK_MAX);
	if ((rc = proc_capture(argv, r->root, &out, &code)))
		goto done;
	if (code != 0) {
		rc = cairn_error_set(CAIRN_EINVALID, "git rev-list failed in %s (is it a git repository, and do the "
				     "revisions exist?)", r->root);
		goto done;
	}
	for (char *line = out.ptr; *line;) {
		char *eol = strchr(line, '\n'), *sp;
		if (eol)
			*eol = '\0';
		sp = strchr(line, ' ');
		if (sp && sp - line == 40) {
			size_t n = strlen(sp + 1);
			if ((n > strlen(POINTER_SUFFIX) && !strcmp(sp + 1 + n - strlen(POINTER_SUFFIX), POINTER_SUFFIX)) ||
			    is_lock_path(sp + 1)) {
				*sp = '\0';
				json_object_set_new(blobs, line, json_string(sp + 1));
			}
		} else if (!sp && strlen(line) == 40) {
			(*nrevs)++;
		}
		if (!eol)
			break;
		line = eol + 1;
	}
	json_object_foreach(blobs, sha, v) {
		char *cat[] = { "git", "cat-file", "blob", (char *)sha, NULL };
		struct pointer p;

		buf_clear(&blob);
		if ((rc = proc_capture(cat, r->root, &blob, &code)))
			break;
		buf_clear(&where);
		buf_printf(&where, "%s (git blob %.12s)", json_string_value(v), sha);
		if (code == 0 && is_lock_path(json_string_value(v))) {
			if ((rc = keep_lock(r, blob.ptr, blob.len, where.ptr, keep, unknown)))
				break;
			continue;
		}
		if (code != 0 || blob.len > POINTER_MAX)
			continue;
		if (pointer_parse(blob.ptr, blob.len, where.ptr, &p)) {
			/* a broken pointer in history protects nothing; say so */
			json_array_append_new(unknown, json_pack("{s:s,s:s}", "pointer", where.ptr, "error", cairn_error_msg()));
			cairn_error_clear();
			continue;
		}
		rc = keep_pointer(r, &p, where.ptr, keep, unknown);
		pointer_release(&p);
		if (rc)
			break;
	}
done:
	free(argv);
	json_decref(blobs);
	buf_release(&out);
	buf_release(&blob);
	buf_release(&where);
	return rc;
}

static int list_cb(const char *hex, void *arg)
{
	return json_array_append_new(arg, json_string(hex)) ? cairn_error_set(CAIRN_ENOMEM, "out of memory") : 0;
}

int data_gc(struct data_repo *r, const struct data_gc_scope *s, json_t **report)
{
	json_t *keep = json_object(), *unknown = json_array(), *files = NULL, *all = json_array();
	int64_t removed = 0, freed = 0, kept = 0, nrevs = 0;
	int rc;

	if (!s->workspace && !s->all_commits && !s->all_branches && !s->all_tags && !s->nrevs) {
		rc = cairn_error_set(CAIRN_EINVALID, "name what to keep: --workspace, --all-commits, --all-branches, "
				     "--all-tags or --rev REV (the workspace is always kept)");
		goto out;
	}
	/* the workspace is always kept */
	if ((rc = pointer_find_all(r, &files)))
		goto out;
	for (size_t i = 0; !rc && i < json_array_size(files); i++) {
		struct pointer ptr;
		const char *f = json_string_value(json_array_get(files, i));
		if ((rc = pointer_load(r, f, &ptr)))
			break;
		rc = keep_pointer(r, &ptr, f, keep, unknown);
		pointer_release(&ptr);
	}
	/* and the outs of the workspace's pipeline */
	if (!rc) {
		struct buf lp = BUF_INIT, lt = BUF_INIT;
		buf_printf(&lp, "%s/%s", data_repo_root(r), LOCK_NAME);
		if (!buf_error(&lp) && fs_read_file(lp.ptr, LOCK_MAX, &lt) == 0)
			rc = keep_lock(r, lt.ptr, lt.len, LOCK_NAME, keep, unknown);
		else
			cairn_error_clear(); /* no pipeline here */
		buf_release(&lp);
		buf_release(&lt);
	}
	if (!rc && (s->all_commits || s->all_branches || s->all_tags || s->nrevs))
		rc = keep_git(r, s, keep, unknown, &nrevs);
	if (rc || (rc = blob_list(r->cache, list_cb, all)))
		goto out;
	for (size_t i = 0; !rc && i < json_array_size(all); i++) {
		const char *hex = json_string_value(json_array_get(all, i));
		struct stat sb;
		if (json_object_get(keep, hex)) {
			kept++;
			continue;
		}
		if (!blob_stat(r->cache, hex, &sb))
			freed += sb.st_size;
		cairn_error_clear();
		removed++;
		if (!s->dry_run)
			rc = blob_remove(r->cache, hex);
	}
	if (!rc)
		*report = json_pack("{s:I,s:I,s:I,s:I,s:b,s:O}", "removed", (json_int_t)removed, "bytes_freed",
				    (json_int_t)freed, "kept", (json_int_t)kept, "commits", (json_int_t)nrevs, "dry_run",
				    s->dry_run, "unknown_manifests", unknown);
out:
	json_decref(keep);
	json_decref(unknown);
	json_decref(files);
	json_decref(all);
	return rc;
}

struct fsck_job {
	struct data_repo *r;
	json_t *all, *corrupt;
	pthread_mutex_t mu;
};

static int fsck_one(size_t i, void *arg)
{
	struct fsck_job *j = arg;
	const char *hex = json_string_value(json_array_get(j->all, i));

	if (blob_verify(j->r->cache, hex)) {
		pthread_mutex_lock(&j->mu);
		json_array_append_new(j->corrupt, json_pack("{s:s,s:s}", "sha256", hex, "error", cairn_error_msg()));
		pthread_mutex_unlock(&j->mu);
	}
	return 0;
}

int data_fsck(struct data_repo *r, json_t **report)
{
	struct fsck_job j = { .r = r, .all = json_array(), .corrupt = json_array() };
	int rc;

	pthread_mutex_init(&j.mu, NULL);
	if (!(rc = blob_list(r->cache, list_cb, j.all)))
		rc = data_parallel(data_jobs(r, false), json_array_size(j.all), fsck_one, &j);
	if (!rc)
		*report = json_pack("{s:I,s:O}", "checked", (json_int_t)json_array_size(j.all), "corrupt", j.corrupt);
	pthread_mutex_destroy(&j.mu);
	json_decref(j.all);
	json_decref(j.corrupt);
	return rc;
}
