/* dvc.c - import an existing DVC project (.dvc files, MD5-addressed local cache) into cairn pointers.
 *
 * Every *.dvc file of the workspace is read (YAML); each of its `outs` with
 * an md5 is looked up in DVC's local cache (DVC 3: cache/files/md5/ab/cdef...,
 * DVC 2: cache/ab/cdef...), streamed into cairn's cache while its MD5 is
 * checked against the .dvc file, and a pointer <path>.cairn is written. A
 * directory out names a ".dir" object (JSON list of {md5, relpath}) whose
 * members are imported the same way and listed in a cairn manifest. Nothing
 * of DVC's is changed: neither the .dvc files, the DVC cache nor the
 * workspace data. Problems with one out are reported and the others still
 * imported.
 */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "core/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DVCFILE_MAX (1 << 20)
#define DIROBJ_MAX ((size_t)256 << 20)
#define CHUNK (256 << 10)

struct dvc {
	struct data_repo *r;
	char *cache;        /* absolute DVC cache folder */
	json_t *imported, *failed, *skipped;
	unsigned char *chunk;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !memcmp(s + n - k, suffix, k);
}

static bool is_md5(const char *s, size_t n)
{
	if (n != MD5_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- finding the .dvc files ---- */

static int walk(const char *root, struct buf *rel, json_t *files, json_t *yamls, int depth)
{
	struct buf abs = BUF_INIT;
	json_t *names = json_array();
	DIR *d;
	struct dirent *e;
	size_t base = rel->len;
	int rc = 0;

	buf_puts(&abs, root);
	if (rel->len) {
		buf_putc(&abs, '/');
		buf_puts(&abs, rel->ptr);
	}
	if ((rc = buf_error(&abs)))
		goto out;
	if (!(d = opendir(abs.ptr)))
		goto out; /* unreadable folders hold nothing we can import */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			json_array_append_new(names, json_string(e->d_name));
	closedir(d);
	for (size_t i = 0; !rc && i < json_array_size(names); i++) {
		const char *name = json_string_value(json_array_get(names, i));
		struct buf p = BUF_INIT;
		struct stat sb;
		int st;

		if (!name)
			continue;
		buf_truncate(rel, base);
		if (base)
			buf_putc(rel, '/');
		buf_puts(rel, name);
		buf_printf(&p, "%s/%s", root, rel->ptr);
		if ((rc = buf_error(rel)) || (rc = buf_error(&p))) {
			buf_release(&p);
			break;
		}
		st = lstat(p.ptr, &sb);
		if (st == 0 && S_ISDIR(sb.st_mode)) {
			/* a folder DVC or cairn tracks (<name>.dvc or <name>.cairn beside it)
			 * holds data, not pipeline files; nor do hidden folders and the
			 * default local tracking store */
			size_t n = p.len;
			buf_puts(&p, ".dvc");
			if (!buf_error(&p) && access(p.ptr, F_OK) == 0)
				st = -1;
			buf_truncate(&p, n);
			buf_puts(&p, ".cairn");
			if (!buf_error(&p) && access(p.ptr, F_OK) == 0)
				st = -1;
			if (name[0] == '.' || !strcmp(name, "cairn-data") || !strcmp(name, "__pycache__"))
				st = -1;
		}
		buf_release(&p);
		if (st != 0)
			continue;
		if (S_ISREG(sb.st_mode) && ends_with(name, ".dvc"))
			json_array_append_new(files, json_string(rel->ptr));
		else if (S_ISREG(sb.st_mode) && yamls && !strcmp(name, "dvc.yaml"))
			json_array_append_new(yamls, json_string(rel->ptr));
		else if (S_ISDIR(sb.st_mode) && strcmp(name, ".git") && strcmp(name, ".dvc") && strcmp(name, ".cairn") &&
			 strcmp(name, "node_modules") && depth < 64)
			rc = walk(root, rel, files, yamls, depth + 1);
	}
	buf_truncate(rel, base);
out:
	buf_release(&abs);
	json_decref(names);
	return rc;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static int sort_strings(json_t *files)
{
	size_t n = json_array_size(files);
	json_t **v = n ? cmalloc(n * sizeof(*v)) : NULL;

	if (n && !v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(files, i));
	if (n)
		qsort(v, n, sizeof(*v), cmp_json_str);
	json_array_clear(files);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(files, v[i]);
	free(v);
	return 0;
}

int data_find_dvc_files(const char *root, json_t **dvcfiles, json_t **yamls)
{
	struct buf rel = BUF_INIT;
	json_t *files = json_array(), *ys = yamls ? json_array() : NULL;
	int rc;

	if (!files || (yamls && !ys))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	else if (!(rc = walk(root, &rel, files, ys, 0)) && !(rc = sort_strings(files)) && ys)
		rc = sort_strings(ys);
	buf_release(&rel);
	if (rc) {
		json_decref(files);
		json_decref(ys);
		return rc;
	}
	*dvcfiles = files;
	if (yamls)
		*yamls = ys;
	return 0;
}

/* ---- the DVC cache ---- */

/* The `dir` of the [cache] section of a DVC config file (INI), or NULL. */
static char *config_cache_dir(const char *path)
{
	struct buf text = BUF_INIT;
	char *found = NULL;
	bool in_cache = false;
	const char *p;

	if (fs_read_file(path, 1 << 20, &text)) {
		cairn_error_clear();
		buf_release(&text);
		return NULL;
	}
	p = text.ptr;
	while (*p) {
		size_t k = strcspn(p, "\n");
		const char *s = p, *e = p + k;

		p += k + (p[k] == '\n');
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			/* [cache] or ['cache'] */
			in_cache = (e - s == 7 && !memcmp(s, "[cache]", 7)) || (e - s == 9 && !memcmp(s, "['cache']", 9)) ||
				   (e - s == 9 && !memcmp(s, "[\"cache\"]", 9));
			continue;
		}
		if (!in_cache || e - s < 3 || memcmp(s, "dir", 3))
			continue;
		s += 3;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s >= e || *s != '=')
			continue;
		s++;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		free(found);
		found = cstrndup(s, (size_t)(e - s));
	}
	buf_release(&text);
	return found;
}

/* Resolve the DVC cache folder: <dvc_dir>/cache unless the config names another. */
static int locate_cache(const char *dvc_dir, char **cache, char **note)
{
	static const char *const names[] = { "config", "config.local" };
	struct buf p = BUF_INIT;
	char *dir = NULL;
	struct stat sb;
	int rc = 0;

	*cache = NULL;
	*note = NULL;
	if (stat(dvc_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return cairn_error_set(CAIRN_ENOTFOUND, "no DVC folder at '%s' (name it with --dvc-dir)", dvc_dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *d;
		buf_clear(&p);
		buf_printf(&p, "%s/%s", dvc_dir, names[i]);
		if ((rc = buf_error(&p)))
			goto out;
		if ((d = config_cache_dir(p.ptr))) {
			free(dir);
			dir = d;
		}
	}
	buf_clear(&p);
	if (dir && dir[0]) {
		/* DVC reads a relative cache.dir from the config file's folder */
		if (dir[0] == '/')
			buf_puts(&p, dir);
		else
			buf_printf(&p, "%s/%s", dvc_dir, dir);
		if ((rc = buf_error(&p)))
			goto out;
		if (stat(p.ptr, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			rc = cairn_error_set(CAIRN_ENOTFOUND,
					     "the DVC config sets cache.dir = %s, but '%s' is not a folder", dir, p.ptr);
			goto out;
		}
		{
			struct buf n = BUF_INIT;
			buf_printf(&n, "DVC cache from cache.dir = %s", dir);
			*note = buf_error(&n) ? NULL : buf_detach(&n);
			buf_release(&n);
		}
	} else {
		buf_printf(&p, "%s/cache", dvc_dir);
		if ((rc = buf_error(&p)))
			goto out;
	}
	*cache = buf_detach(&p);
	if (!*cache)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
out:
	free(dir);
	buf_release(&p);
	if (rc) {
		free(*note);
		*note = NULL;
	}
	return rc;
}

/* Path of DVC object md5 (with suffix ".dir" or ""), DVC 3 layout first, then
 * the legacy one (the order flipped for legacy outs); NULL when absent. */
static char *object_path(struct dvc *x, const char *md5, const char *suffix, bool legacy)
{
	struct buf p = BUF_INIT;

	for (int k = 0; k < 2; k++) {
		bool v3 = (k == 0) != legacy;
		buf_clear(&p);
		buf_printf(&p, "%s/%s%.2s/%s%s", x->cache, v3 ? "files/md5/" : "", md5, md5 + 2, suffix);
		if (buf_error(&p))
			break;
		if (access(p.ptr, F_OK) == 0)
			return buf_detach(&p);
	}
	buf_release(&p);
	return NULL;
}

/* Copy DVC object md5 into cairn's cache, checking its MD5 (for legacy outs
 * DVC 2's CRLF->LF-normalised MD5 of text files is accepted too). */
static int import_object(struct dvc *x, const char *md5, bool legacy, char hex[SHA256_HEX_LEN + 1], int64_t *size)
{
	struct blob_writer *w = NULL;
	struct md5_ctx *m = NULL, *m2 = NULL;
	char got[MD5_HEX_LEN + 1], got2[MD5_HEX_LEN + 1] = "";
	char *path = object_path(x, md5, "", legacy);
	bool cr = false; /* m2: a '\r' held back at the end of the last chunk */
	int fd = -1, rc = 0;

	if (!path)
		return cairn_error_set(CAIRN_ENOTFOUND, "object %s is not in the DVC cache; run dvc pull first", md5);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot read DVC cache object %s: %s", md5, strerror(errno));
		goto out;
	}
	m = md5_new();
	m2 = legacy ? md5_new() : NULL;
	if (!m || (legacy && !m2)) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = blob_writer_new(x->r->cache, &w)))
		goto out;
	for (;;) {
		ssize_t n = read(fd, x->chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read DVC cache object %s: %s", md5, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		md5_update(m, x->chunk, (size_t)n);
		if (m2) {
			size_t s = 0;
			for (size_t i = 0; i < (size_t)n; i++) {
				if (cr) {
					cr = false;
					if (x->chunk[i] != '\n')
						md5_update(m2, "\r", 1);
				}
				if (x->chunk[i] == '\r') {
					md5_update(m2, x->chunk + s, i - s);
					s = i + 1;
					cr = true;
				}
			}
			md5_update(m2, x->chunk + s, (size_t)n - s);
		}
		if ((rc = blob_writer_write(w, x->chunk, (size_t)n)))
			goto out;
	}
	md5_final_hex(m, got);
	m = NULL;
	if (m2) {
		if (cr)
			md5_update(m2, "\r", 1);
		md5_final_hex(m2, got2);
		m2 = NULL;
	}
	if (strcmp(got, md5) && strcmp(got2, md5)) {
		rc = cairn_error_set(CAIRN_EIO, "DVC cache object %s is corrupt (its content hashes to %s)", md5, got);
		goto out;
	}
	rc = blob_writer_commit(w, hex, size);
	w = NULL;
out:
	if (w)
		blob_writer_abort(w);
	if (m)
		md5_free(m);
	if (m2)
		md5_free(m2);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* A directory out: the .dir object's members into l. */
static int import_dir(struct dvc *x, const char *md5, bool legacy, struct dlist *l)
{
	struct buf text = BUF_INIT, clean = BUF_INIT;
	char got[MD5_HEX_LEN + 1], msg[512];
	char *path = object_path(x, md5, ".dir", legacy);
	json_t *list = NULL, *it;
	json_error_t jerr;
	size_t i;
	int rc = 0;

	if (!path)
		return cairn_error_set(CAIRN_ENOTFOUND,
				       "directory object %s.dir is not in the DVC cache; run dvc pull first", md5);
	if ((rc = fs_read_file(path, DIROBJ_MAX, &text))) {
		snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
		rc = cairn_error_set(rc, "cannot read DVC cache object %s.dir: %s", md5, msg);
		goto out;
	}
	md5_hex(text.ptr, text.len, got);
	if (strcmp(got, md5)) {
		rc = cairn_error_set(CAIRN_EIO, "DVC cache object %s.dir is corrupt (its content hashes to %s)", md5,
				     got);
		goto out;
	}
	list = json_loadb(text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_array(list)) {
		rc = cairn_error_set(CAIRN_EINVALID, "DVC cache object %s.dir is not a JSON list of files", md5);
		goto out;
	}
	json_array_foreach(list, i, it) {
		json_t *m = json_object_get(it, "md5"), *rp = json_object_get(it, "relpath");
		struct dentry *e;

		if (!json_is_string(m) || !is_md5(json_string_value(m), json_string_length(m)) || !json_is_string(rp)) {
			rc = cairn_error_set(CAIRN_EINVALID, "DVC cache object %s.dir: entry %zu lacks md5 or relpath",
					     md5, i);
			goto out;
		}
		buf_clear(&clean);
		if ((rc = path_clean_rel(json_string_value(rp), json_string_length(rp), false, &clean))) {
			snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
			rc = cairn_error_set(CAIRN_EINVALID, "DVC cache object %s.dir: %s", md5, msg);
			goto out;
		}
		if ((rc = dlist_push(l, clean.ptr, clean.len)))
			goto out;
		e = &l->v[l->n - 1];
		e->mode = json_is_true(json_object_get(it, "isexec")) ? 0755 : 0644;
		if ((rc = import_object(x, json_string_value(m), legacy, e->hex, &e->size))) {
			snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
			rc = cairn_error_set(rc, "%s: %s", clean.ptr, msg);
			goto out;
		}
		l->bytes += e->size;
	}
	dlist_sort(l);
	for (i = 1; i < l->n; i++) {
		size_t k = strlen(l->v[i - 1].path);
		if (!strcmp(l->v[i - 1].path, l->v[i].path) ||
		    (!strncmp(l->v[i - 1].path, l->v[i].path, k) && l->v[i].path[k] == '/')) {
			rc = cairn_error_set(CAIRN_EINVALID, "DVC cache object %s.dir lists '%s' twice", md5,
					     l->v[i - 1].path);
			goto out;
		}
	}
out:
	json_decref(list);
	free(path);
	buf_release(&text);
	buf_release(&clean);
	return rc;
}

static void fail(struct dvc *x, const char *path, const char *msg)
{
	json_array_append_new(x->failed, json_pack("{s:s,s:s}", "path", path, "error", msg));
}

/* One out of the .dvc file `file` (repo-relative), whose folder is dir ("" at the root). */
/* The folder of abs (a file to write) and its parents. */
static int mkdirs_parent(const char *abs)
{
	char *d = cstrdup(abs), *slash = d ? strrchr(d, '/') : NULL;
	int rc;

	if (!d)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (slash && slash != d)
		*slash = '\0';
	rc = slash && slash != d ? path_mkdirs(d) : 0;
	free(d);
	return rc;
}

static int import_out(struct dvc *x, const char *file, const char *dir, json_t *out)
{
	struct data_repo *r = x->r;
	struct buf clean = BUF_INIT, rel = BUF_INIT, text = BUF_INIT, pfile = BUF_INIT, pabs = BUF_INIT;
	struct pointer p = { 0 }, old = { 0 };
	struct dlist l = { 0 };
	json_t *v = json_object_get(out, "path"), *md5 = json_object_get(out, "md5"), *hash, *desc;
	const char *m, *slash, *label = file;
	bool legacy, is_dir;
	size_t mlen;
	int rc = 0;

	if (!json_is_object(out) || !json_is_string(v)) {
		fail(x, file, "an entry of 'outs' has no 'path'");
		return 0;
	}
	if (path_clean_rel(json_string_value(v), json_string_length(v), false, &clean)) {
		char msg[600];
		snprintf(msg, sizeof(msg), "out '%.200s' is not a path inside the workspace: %s", json_string_value(v),
			 cairn_error_msg());
		cairn_error_clear();
		fail(x, file, msg);
		goto done;
	}
	if (dir[0])
		buf_printf(&rel, "%s/%s", dir, clean.ptr);
	else
		buf_puts(&rel, clean.ptr);
	if ((rc = buf_error(&rel)))
		goto done;
	label = rel.ptr;
	if (!strncmp(rel.ptr, ".git/", 5) || !strncmp(rel.ptr, ".cairn/", 7) || !strncmp(rel.ptr, ".dvc/", 5) ||
	    !strcmp(rel.ptr, ".git") || !strcmp(rel.ptr, ".cairn") || !strcmp(rel.ptr, ".dvc")) {
		fail(x, label, "path is inside .git, .cairn or .dvc");
		goto done;
	}
	if (json_is_false(json_object_get(out, "cache"))) {
		json_array_append_new(x->skipped,
				      json_pack("{s:s,s:s}", "path", label, "reason", "cache: false (kept in git by DVC)"));
		goto done;
	}
	if (!md5 || json_is_null(md5)) {
		fail(x, label, "no md5 in the .dvc file (was it ever committed with dvc add/commit?)");
		goto done;
	}
	if (!json_is_string(md5)) {
		fail(x, label, "md5 in the .dvc file is not a string of 32 hex digits");
		goto done;
	}
	hash = json_object_get(out, "hash");
	if (hash && (!json_is_string(hash) || strcmp(json_string_value(hash), "md5"))) {
		fail(x, label, "unsupported DVC hash type (only md5 is known)");
		goto done;
	}
	legacy = !hash;
	m = json_string_value(md5);
	mlen = json_string_length(md5);
	is_dir = mlen == MD5_HEX_LEN + 4 && !strcmp(m + MD5_HEX_LEN, ".dir");
	if (!is_md5(m, is_dir ? MD5_HEX_LEN : mlen)) {
		fail(x, label, "md5 in the .dvc file is not 32 lowercase hex digits");
		goto done;
	}
	if (is_dir) {
		char dmd5[MD5_HEX_LEN + 1];
		memcpy(dmd5, m, MD5_HEX_LEN);
		dmd5[MD5_HEX_LEN] = '\0';
		if ((rc = import_dir(x, dmd5, legacy, &l)) || (rc = manifest_format(&l, &text)) ||
		    (rc = blob_put(r->cache, text.ptr, text.len, p.hex))) {
			fail(x, label, cairn_error_msg());
			cairn_error_clear();
			rc = 0;
			goto done;
		}
		buf_clear(&text);
		p.size = l.bytes;
		p.nfiles = (int64_t)l.n;
	} else {
		if ((rc = import_object(x, m, legacy, p.hex, &p.size))) {
			fail(x, label, cairn_error_msg());
			cairn_error_clear();
			rc = 0;
			goto done;
		}
		p.nfiles = 1;
	}
	p.is_dir = is_dir;
	p.isexec = !is_dir && json_is_true(json_object_get(out, "isexec"));
	slash = strrchr(rel.ptr, '/');
	if (!(p.name = cstrdup(slash ? slash + 1 : rel.ptr))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	buf_printf(&pfile, "%s%s", rel.ptr, POINTER_SUFFIX);
	if ((rc = buf_error(&pfile)))
		goto done;
	desc = json_object_get(out, "desc");
	if (json_is_string(desc)) {
		p.keep = json_pack("{s:O}", "desc", desc);
	} else if (pointer_load(r, pfile.ptr, &old) == 0) {
		p.keep = json_incref(old.keep);
	}
	cairn_error_clear();
	if ((rc = pointer_format(&p, &text)) || (rc = repo_abs(r, pfile.ptr, &pabs)) || (rc = mkdirs_parent(pabs.ptr)) ||
	    (rc = fs_write_atomic(pabs.ptr, text.ptr, text.len, 0644)) || (rc = gitignore_add(r, rel.ptr))) {
		fail(x, label, cairn_error_msg());
		cairn_error_clear();
		rc = 0;
		goto done;
	}
	json_array_append_new(x->imported,
			      json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "path", rel.ptr, "pointer", pfile.ptr, "dvc_file",
					file, "type", is_dir ? "dir" : "file", "sha256", p.hex, "size", (json_int_t)p.size,
					"nfiles", (json_int_t)p.nfiles));
done:
	dlist_release(&l);
	pointer_release(&p);
	pointer_release(&old);
	buf_release(&clean);
	buf_release(&rel);
	buf_release(&text);
	buf_release(&pfile);
	buf_release(&pabs);
	return rc;
}

static int import_file(struct dvc *x, const char *file)
{
	struct buf abs = BUF_INIT, text = BUF_INIT, dir = BUF_INIT;
	json_t *doc = NULL, *outs, *out;
	const char *slash = strrchr(file, '/');
	char msg[700];
	size_t i;
	int rc;

	if ((rc = repo_abs(x->r, file, &abs)))
		goto out;
	if ((rc = fs_read_file(abs.ptr, DVCFILE_MAX, &text))) {
		snprintf(msg, sizeof(msg), "cannot read: %s", cairn_error_msg());
		cairn_error_clear();
		fail(x, file, msg);
		rc = 0;
		goto out;
	}
	if (cyaml_parse(text.ptr, text.len, &doc)) {
		snprintf(msg, sizeof(msg), "not valid YAML: %s", cairn_error_msg());
		cairn_error_clear();
		fail(x, file, msg);
		goto out;
	}
	if (!json_is_object(doc)) {
		fail(x, file, "not a DVC file (not a YAML mapping)");
		goto out;
	}
	if (json_object_get(doc, "deps")) {
		fail(x, file,
		     "has 'deps' (made by dvc import / import-url, or a stage): cairn cannot keep where the data came "
		     "from, so it is not imported; track the data with `cairn data add` instead");
		goto out;
	}
	outs = json_object_get(doc, "outs");
	if (!json_is_array(outs) || !json_array_size(outs)) {
		fail(x, file, "has no 'outs' list");
		goto out;
	}
	if (slash)
		buf_put(&dir, file, (size_t)(slash - file));
	else
		buf_puts(&dir, "");
	if ((rc = buf_error(&dir)))
		goto out;
	json_array_foreach(outs, i, out) {
		if ((rc = import_out(x, file, dir.ptr, out)))
			break;
	}
out:
	json_decref(doc);
	buf_release(&abs);
	buf_release(&text);
	buf_release(&dir);
	return rc;
}

int data_import_dvc(struct data_repo *r, const char *dvc_dir, json_t *lock_outs, json_t **report)
{
	struct dvc x = { .r = r };
	struct buf dd = BUF_INIT;
	json_t *files = NULL;
	char *note = NULL;
	size_t i;
	json_t *f;
	int rc;

	*report = NULL;
	atomic_store(&r->cache_written, true);
	if (!dvc_dir || !dvc_dir[0])
		buf_printf(&dd, "%s/.dvc", r->root);
	else if (dvc_dir[0] == '/')
		buf_puts(&dd, dvc_dir);
	else
		buf_printf(&dd, "%s/%s", r->cwd, dvc_dir);
	if ((rc = buf_error(&dd)))
		goto out;
	if ((rc = locate_cache(dd.ptr, &x.cache, &note)))
		goto out;
	if (!(x.chunk = cmalloc(CHUNK))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = data_find_dvc_files(r->root, &files, NULL)))
		goto out;
	x.imported = json_array();
	x.failed = json_array();
	x.skipped = json_array();
	json_array_foreach(files, i, f) {
		if ((rc = import_file(&x, json_string_value(f))))
			goto out;
	}
	/* the outs of stages, as the dvc.lock files record them */
	json_array_foreach(lock_outs, i, f) {
		if ((rc = import_out(&x, json_string_value(json_object_get(f, "dvc_file")) ?: "dvc.lock", "", f)))
			goto out;
	}
	*report = json_pack("{s:O,s:O,s:O,s:I,s:s}", "imported", x.imported, "failed", x.failed, "skipped", x.skipped,
			    "dvc_files", (json_int_t)json_array_size(files), "dvc_cache", x.cache);
	if (*report && note)
		json_object_set_new(*report, "note", json_string(note));
	if (!*report)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
out:
	json_decref(x.imported);
	json_decref(x.failed);
	json_decref(x.skipped);
	json_decref(files);
	json_decref(lock_outs);
	free(x.cache);
	free(x.chunk);
	free(note);
	buf_release(&dd);
	return rc;
}
