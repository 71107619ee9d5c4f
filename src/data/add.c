/* add.c - cairn data add: hash, store in the cache, write pointer files. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct target {
	char *rel;
	char *abs;
	bool is_dir;
};

/* Refuse paths git already tracks: the data would be in git twice. */
static int check_not_in_git(struct data_repo *r, struct target *t, size_t n)
{
	struct buf out = BUF_INIT, gitdir = BUF_INIT;
	char **argv = ccalloc(n + 6, sizeof(char *));
	int code = 0, rc = 0;
	size_t k = 0;

	if (!argv)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_printf(&gitdir, "%s/.git", r->root);
	if (buf_error(&gitdir) || access(gitdir.ptr, F_OK) != 0)
		goto out;
	argv[k++] = "git";
	argv[k++] = "ls-files";
	argv[k++] = "-z";
	argv[k++] = "--";
	for (size_t i = 0; i < n; i++)
		argv[k++] = t[i].rel;
	if (proc_capture(argv, r->root, &out, &code) || code != 0) {
		cairn_error_clear();
		goto out; /* no usable git: nothing to check against */
	}
	if (out.len)
		rc = cairn_error_set(CAIRN_ECONFLICT,
				     "'%s' is tracked by git; stop tracking it there first (git rm -r --cached %s)",
				     out.ptr, out.ptr);
out:
	free(argv);
	buf_release(&out);
	buf_release(&gitdir);
	return rc;
}

static int check_target(struct data_repo *r, const char *user, struct target *t)
{
	struct buf rel = BUF_INIT, abs = BUF_INIT, anc = BUF_INIT;
	struct stat sb;
	int rc;

	if ((rc = repo_rel(r, user, &rel)))
		goto out;
	if (!rel.len) {
		rc = cairn_error_set(CAIRN_EINVALID, "cannot track the whole workspace; name files or folders in it");
		goto out;
	}
	if (rel.len > strlen(POINTER_SUFFIX) && !strcmp(rel.ptr + rel.len - strlen(POINTER_SUFFIX), POINTER_SUFFIX)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is a pointer file; name the data it tracks", user);
		goto out;
	}
	if ((rc = repo_abs(r, rel.ptr, &abs)))
		goto out;
	if (stat(abs.ptr, &sb) != 0) {
		rc = cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot add '%s': %s", user,
				     strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is not a regular file or folder", user);
		goto out;
	}
	/* a parent folder tracked as a whole already covers this path */
	for (char *s = strchr(rel.ptr, '/'); s; s = strchr(s + 1, '/')) {
		buf_clear(&anc);
		buf_put(&anc, rel.ptr, (size_t)(s - rel.ptr));
		buf_puts(&anc, POINTER_SUFFIX);
		struct buf a2 = BUF_INIT;
		if (!repo_abs(r, anc.ptr, &a2) && access(a2.ptr, F_OK) == 0) {
			buf_release(&a2);
			rc = cairn_error_set(CAIRN_ECONFLICT, "'%s' is inside '%.*s', which is already tracked by %s", user,
					     (int)(s - rel.ptr), rel.ptr, anc.ptr);
			goto out;
		}
		buf_release(&a2);
	}
	t->is_dir = S_ISDIR(sb.st_mode);
	t->rel = buf_detach(&rel);
	t->abs = buf_detach(&abs);
out:
	buf_release(&rel);
	buf_release(&abs);
	buf_release(&anc);
	return rc;
}

struct insert_job {
	struct data_repo *r;
	const char *base;
	struct dlist *l;
	bool save;         /* false: hash only */
	struct progress pg;
};

/* Hash one file and put it in the cache: a file the stat cache knows is not
 * read to hash it; a new file headed for a copy is hashed while it is copied
 * (one read instead of two). */
static int insert_one(size_t i, void *arg)
{
	struct insert_job *j = arg;
	struct dentry *e = &j->l->v[i];
	struct buf abs = BUF_INIT;
	int rc;

	if ((rc = dentry_abs(j->base, e, &abs)))
		goto out;
	if (!statcache_get(j->r->sc, &e->key, e->hex)) {
		if (j->save && cache_copies(j->r, e->mode)) {
			rc = cache_insert_new(j->r, abs.ptr, &e->key, e->hex);
			goto out;
		}
		if ((rc = data_hash_file(j->r, abs.ptr, &e->key, e->hex)))
			goto out;
	}
	if (j->save)
		rc = cache_insert(j->r, abs.ptr, e->hex, e->mode);
out:
	progress_add(&j->pg, 1, e->size);
	buf_release(&abs);
	return rc;
}

/* Hash a file or folder (abs; rel names it in messages) and, when save, put
 * its content and manifest in the cache. */
static int store_path(struct data_repo *r, const char *rel, const char *abs, bool is_dir, bool save,
		      struct data_obj *o)
{
	struct dlist l = { 0 };
	struct insert_job j = { .r = r, .base = abs, .l = &l, .save = save };
	struct buf text = BUF_INIT;
	char label[96];
	int rc;

	snprintf(label, sizeof(label), "hashing %.80s", rel);
	if (is_dir) {
		if ((rc = scan_dir(abs, &l)))
			goto out;
	} else {
		struct stat sb;
		if ((rc = dlist_push(&l, "", 0)))
			goto out;
		if (stat(abs, &sb) != 0) {
			rc = cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot stat '%s': %s", rel,
					     strerror(errno));
			goto out;
		}
		l.v[0].key = fkey_of(&sb);
		l.v[0].has_stat = true;
		l.v[0].size = sb.st_size;
		l.v[0].mode = (sb.st_mode & 0111) ? 0755 : 0644;
		l.bytes = sb.st_size;
	}
	progress_begin(&j.pg, label, (int64_t)l.n, l.bytes, r->o.quiet);
	rc = data_parallel(data_jobs(r, false), l.n, insert_one, &j);
	progress_end(&j.pg);
	if (rc)
		goto out;
	o->is_dir = is_dir;
	o->size = l.bytes;
	o->nfiles = (int64_t)l.n;
	if (is_dir) {
		if ((rc = manifest_format(&l, &text)))
			goto out;
		if (save) {
			if ((rc = blob_put(r->cache, text.ptr, text.len, o->sha256)))
				goto out;
			atomic_store(&r->cache_written, true);
		} else {
			sha256_hex(text.ptr, text.len, o->sha256);
		}
	} else {
		memcpy(o->sha256, l.v[0].hex, sizeof(o->sha256));
	}
out:
	dlist_release(&l);
	buf_release(&text);
	return rc;
}

int data_save_path(struct data_repo *r, const char *rel, bool save, struct data_obj *o)
{
	struct buf abs = BUF_INIT, clean = BUF_INIT;
	struct stat sb;
	int rc;

	memset(o, 0, sizeof(*o));
	if (rel[0] == '/' && !save) {
		/* an external dependency (outside the workspace): hashed, never stored */
		buf_puts(&abs, rel);
		if ((rc = buf_error(&abs)))
			goto out;
	} else if ((rc = path_clean_rel(rel, strlen(rel), false, &clean)) || (rc = repo_abs(r, clean.ptr, &abs)))
		goto out;
	if (stat(abs.ptr, &sb) != 0) {
		rc = cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "'%s': %s", rel, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is not a regular file or folder", rel);
		goto out;
	}
	rc = store_path(r, clean.len ? clean.ptr : rel, abs.ptr, S_ISDIR(sb.st_mode), save, o);
out:
	buf_release(&abs);
	buf_release(&clean);
	return rc;
}

static int add_one(struct data_repo *r, const struct target *t, json_t *added)
{
	struct pointer p = { 0 }, old = { 0 };
	struct buf text = BUF_INIT, pfile = BUF_INIT, pabs = BUF_INIT, oldtext = BUF_INIT;
	const char *slash = strrchr(t->rel, '/');
	struct data_obj o;
	bool changed = true;
	int rc;

	if ((rc = store_path(r, t->rel, t->abs, t->is_dir, true, &o)))
		goto out;
	p.name = cstrdup(slash ? slash + 1 : t->rel);
	if (!p.name) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	p.is_dir = o.is_dir;
	if (!o.is_dir) {
		struct stat xsb;
		p.isexec = stat(t->abs, &xsb) == 0 && (xsb.st_mode & 0111);
	}
	p.size = o.size;
	p.nfiles = o.nfiles;
	memcpy(p.hex, o.sha256, sizeof(p.hex));
	buf_printf(&pfile, "%s%s", t->rel, POINTER_SUFFIX);
	if ((rc = buf_error(&pfile)))
		goto out;
	/* keep what the user wrote by hand (desc, meta) from the old pointer */
	if (pointer_load(r, pfile.ptr, &old) == 0) {
		p.keep = json_incref(old.keep);
	}
	cairn_error_clear();
	if ((rc = pointer_format(&p, &text)) || (rc = repo_abs(r, pfile.ptr, &pabs)))
		goto out;
	if (fs_read_file(pabs.ptr, 1 << 20, &oldtext) == 0 && oldtext.len == text.len &&
	    !memcmp(oldtext.ptr, text.ptr, text.len))
		changed = false;
	cairn_error_clear();
	if (changed && (rc = fs_write_atomic(pabs.ptr, text.ptr, text.len, 0644)))
		goto out;
	if ((rc = gitignore_add(r, t->rel)))
		goto out;
	json_array_append_new(added, json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:b}", "path", t->rel, "pointer", pfile.ptr,
					       "type", t->is_dir ? "dir" : "file", "sha256", p.hex, "size",
					       (json_int_t)p.size, "nfiles", (json_int_t)p.nfiles, "changed", changed));
out:
	pointer_release(&p);
	pointer_release(&old);
	buf_release(&text);
	buf_release(&pfile);
	buf_release(&pabs);
	buf_release(&oldtext);
	return rc;
}

int data_add(struct data_repo *r, char *const *paths, size_t n, json_t **report)
{
	struct target *t = ccalloc(n ? n : 1, sizeof(*t));
	json_t *added = json_array();
	int rc = 0;

	if (!t) {
		json_decref(added);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (!n)
		rc = cairn_error_set(CAIRN_EINVALID, "nothing to add: name files or folders");
	/* check every path before changing anything */
	for (size_t i = 0; !rc && i < n; i++)
		rc = check_target(r, paths[i], &t[i]);
	for (size_t i = 0; !rc && i < n; i++)
		for (size_t k = 0; !rc && k < i; k++) {
			size_t a = strlen(t[i].rel), b = strlen(t[k].rel);
			const char *lo = a < b ? t[i].rel : t[k].rel, *hi = a < b ? t[k].rel : t[i].rel;
			size_t ln = a < b ? a : b;
			if (!strcmp(t[i].rel, t[k].rel) || (!strncmp(lo, hi, ln) && hi[ln] == '/'))
				rc = cairn_error_set(CAIRN_EINVALID, "'%s' and '%s' overlap; add one of them", t[k].rel,
						     t[i].rel);
		}
	if (!rc)
		rc = check_not_in_git(r, t, n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = add_one(r, &t[i], added);
	for (size_t i = 0; i < n; i++) {
		free(t[i].rel);
		free(t[i].abs);
	}
	free(t);
	if (rc) {
		json_decref(added);
		return rc;
	}
	*report = json_pack("{s:o}", "added", added);
	return 0;
}
