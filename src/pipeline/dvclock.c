/* dvclock.c - reading a committed dvc.lock: is a stage already up to date as DVC recorded it?
 *
 * A DVC project switching to cairn has a dvc.lock beside each dvc.yaml that
 * records, per stage, the command, the MD5 of every dep and out, and the
 * params' values. A stage with no cairn.lock entry whose dvc.lock entry
 * matches the workspace exactly (same command, every dep and out present
 * with the recorded MD5, the same param values) did not change since DVC ran
 * it: cairn adopts it instead of running it again. MD5s are DVC 3's: the
 * plain MD5 of a file's bytes; for a folder, the MD5 of the JSON list of its
 * files ([{"md5", "relpath"}] sorted by relpath, Python's json.dumps
 * layout) followed by ".dir".
 */
#include "pipeline/pl_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/path.h"
#include "core/yaml.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DVCLOCK_MAX (16 << 20)

static int md5_file(const char *abs, char hex[MD5_HEX_LEN + 1])
{
	unsigned char chunk[65536];
	struct md5_ctx *c;
	ssize_t n;
	int fd = open(abs, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (!(c = md5_new())) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		md5_update(c, chunk, (size_t)n);
	close(fd);
	md5_final_hex(c, hex); /* frees c */
	return n < 0 ? -1 : 0;
}

/* Every file below abs/rel as {"md5", "relpath"} into list. */
static int list_dir(const char *abs, struct buf *rel, json_t *list, int depth)
{
	struct buf dir = BUF_INIT;
	DIR *d;
	struct dirent *e;
	size_t base = rel->len;
	int rc = 0;

	if (depth > 64)
		return -1;
	buf_printf(&dir, "%s%s%s", abs, rel->len ? "/" : "", rel->len ? rel->ptr : "");
	if (buf_error(&dir) || !(d = opendir(dir.ptr))) {
		buf_release(&dir);
		return -1;
	}
	while (!rc && (e = readdir(d))) {
		struct buf full = BUF_INIT;
		struct stat sb;
		char hex[MD5_HEX_LEN + 1];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		buf_truncate(rel, base);
		if (base)
			buf_putc(rel, '/');
		buf_puts(rel, e->d_name);
		buf_printf(&full, "%s/%s", abs, rel->ptr);
		if (buf_error(rel) || buf_error(&full) || stat(full.ptr, &sb))
			rc = -1;
		else if (S_ISDIR(sb.st_mode))
			rc = list_dir(abs, rel, list, depth + 1);
		else if (S_ISREG(sb.st_mode) && !(rc = md5_file(full.ptr, hex)))
			json_array_append_new(list, json_pack("{s:s,s:s}", "md5", hex, "relpath", rel->ptr));
		buf_release(&full);
	}
	closedir(d);
	buf_truncate(rel, base);
	buf_release(&dir);
	return rc;
}

static int cmp_relpath(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "relpath")),
		      json_string_value(json_object_get(*(json_t *const *)b, "relpath")));
}

/* DVC's MD5 of a workspace path (file or folder); -1 when it cannot be read. */
static int dvc_md5(const char *root, const char *path, struct buf *out)
{
	struct buf abs = BUF_INIT, rel = BUF_INIT, text = BUF_INIT;
	json_t *list = NULL, **v = NULL;
	struct stat sb;
	char hex[MD5_HEX_LEN + 1];
	size_t n;
	int rc = -1;

	if (path[0] == '/')
		buf_puts(&abs, path);
	else
		buf_printf(&abs, "%s/%s", root, path);
	if (buf_error(&abs) || stat(abs.ptr, &sb))
		goto out;
	if (S_ISREG(sb.st_mode)) {
		if (!md5_file(abs.ptr, hex)) {
			buf_puts(out, hex);
			rc = 0;
		}
		goto out;
	}
	if (!S_ISDIR(sb.st_mode) || !(list = json_array()) || list_dir(abs.ptr, &rel, list, 0))
		goto out;
	n = json_array_size(list);
	if (n && !(v = cmalloc(n * sizeof(*v))))
		goto out;
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(list, i);
	if (n)
		qsort(v, n, sizeof(*v), cmp_relpath);
	/* json.dumps(list, sort_keys=True): ", " and ": " separators, ASCII only */
	buf_putc(&text, '[');
	for (size_t i = 0; i < n; i++) {
		char *s = json_dumps(json_object_get(v[i], "relpath"), JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
		buf_printf(&text, "%s{\"md5\": \"%s\", \"relpath\": %s}", i ? ", " : "",
			   json_string_value(json_object_get(v[i], "md5")), s ? s : "\"\"");
		free(s);
	}
	buf_putc(&text, ']');
	if (buf_error(&text))
		goto out;
	md5_hex(text.ptr, text.len, hex);
	buf_printf(out, "%s.dir", hex);
	rc = buf_error(out) ? -1 : 0;
out:
	free(v);
	json_decref(list);
	buf_release(&abs);
	buf_release(&rel);
	buf_release(&text);
	return rc;
}

/* The recorded MD5 of a dvc.lock dep/out entry (DVC 2: md5; DVC 3: md5 with hash: md5). */
static const char *entry_md5(const json_t *e)
{
	return json_string_value(json_object_get(e, "md5"));
}

/* Find the entry of list whose path (relative to wdir) is path (workspace-relative). */
static const json_t *find_entry(const json_t *list, const char *wdir, const char *path)
{
	size_t i, n = strlen(wdir);
	const json_t *e;

	json_array_foreach(list, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		struct buf full = BUF_INIT, clean = BUF_INIT;
		bool same;
		if (!p)
			continue;
		if (p[0] == '/' || !n)
			buf_puts(&full, p);
		else
			buf_printf(&full, "%s/%s", wdir, p);
		/* ../ in a dvc.lock path: normalise lexically as the spec loader does */
		if (full.ptr && full.ptr[0] != '/' && !path_resolve_rel(full.ptr, true, &clean))
			same = !strcmp(clean.ptr, path);
		else
			same = full.ptr && !strcmp(full.ptr, path);
		buf_release(&full);
		buf_release(&clean);
		if (same)
			return e;
	}
	return NULL;
}

static bool same_value(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, v)
			if (!same_value(v, json_object_get(b, k)))
				return false;
		return true;
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same_value(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

static bool paths_match(const struct pipeline *p, const json_t *list, const char *wdir, const char *path)
{
	const json_t *e = find_entry(list, wdir, path);
	struct buf now = BUF_INIT;
	bool ok = e && entry_md5(e) && !dvc_md5(p->root, path, &now) && !strcmp(now.ptr, entry_md5(e));

	buf_release(&now);
	return ok;
}

/* The stage's entry in the dvc.lock beside its file (*doc owns it; NULL when none). */
static json_t *lock_entry_for(const struct pipeline *p, const struct pl_stage *s, json_t **doc, struct buf *rel)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	const char *slash = strrchr(s->src, '/'), *name = s->name;
	json_t *e = NULL;

	*doc = NULL;
	if (strstr(s->src, "cairn.yaml"))
		return NULL;
	if (slash) {
		buf_printf(rel, "%.*s/dvc.lock", (int)(slash - s->src), s->src);
		name += strlen(s->src) + 1;
	} else {
		buf_puts(rel, "dvc.lock");
	}
	buf_printf(&path, "%s/%s", p->root, rel->ptr ? rel->ptr : "");
	if (!buf_error(&path) && !buf_error(rel) && !fs_read_file(path.ptr, DVCLOCK_MAX, &text) &&
	    !cyaml_parse(text.ptr, text.len, doc))
		e = json_object_get(json_object_get(*doc, "stages"), name);
	cairn_error_clear();
	buf_release(&path);
	buf_release(&text);
	return json_is_object(e) ? e : NULL;
}

json_t *pipeline_dvc_lock_outs(const struct pipeline *p)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < p->n; i++) {
		const struct pl_stage *s = &p->v[i];
		struct buf rel = BUF_INIT;
		json_t *doc, *e = lock_entry_for(p, s, &doc, &rel);
		for (size_t k = 0; e && k < s->nouts; k++) {
			const json_t *o = s->outs[k].cache ? find_entry(json_object_get(e, "outs"), s->wdir, s->outs[k].path)
							   : NULL;
			json_t *x;
			if (!o || !entry_md5(o))
				continue;
			x = json_deep_copy(o);
			json_object_set_new(x, "path", json_string(s->outs[k].path));
			json_object_set_new(x, "dvc_file", json_string(rel.ptr));
			json_array_append_new(list, x);
		}
		json_decref(doc);
		buf_release(&rel);
	}
	return list;
}

bool pl_dvc_lock_matches(const struct pipeline *p, const struct pl_stage *s)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	const char *slash = strrchr(s->src, '/'), *name = s->name;
	json_t *doc = NULL, *e, *cmd;
	bool ok = false;

	if (strstr(s->src, "cairn.yaml"))
		return false;
	if (slash) {
		buf_printf(&path, "%s/%.*s/dvc.lock", p->root, (int)(slash - s->src), s->src);
		name += strlen(s->src) + 1;
	} else {
		buf_printf(&path, "%s/dvc.lock", p->root);
	}
	if (buf_error(&path) || fs_read_file(path.ptr, DVCLOCK_MAX, &text) || cyaml_parse(text.ptr, text.len, &doc) ||
	    !json_is_object(e = json_object_get(json_object_get(doc, "stages"), name)))
		goto out;
	/* the command */
	cmd = json_object_get(e, "cmd");
	if (s->ncmds == 1 && json_is_array(cmd) && json_array_size(cmd) == 1)
		cmd = json_array_get(cmd, 0);
	if (s->ncmds == 1 ? !json_is_string(cmd) || strcmp(json_string_value(cmd), s->cmds[0])
			  : !json_is_array(cmd) || json_array_size(cmd) != s->ncmds)
		goto out;
	for (size_t i = 0; s->ncmds > 1 && i < s->ncmds; i++)
		if (strcmp(json_string_value(json_array_get(cmd, i)) ?: "", s->cmds[i]))
			goto out;
	/* every dep and out, with the recorded MD5, and nothing else recorded */
	if (json_array_size(json_object_get(e, "deps")) != s->ndeps ||
	    json_array_size(json_object_get(e, "outs")) != s->nouts)
		goto out;
	for (size_t i = 0; i < s->ndeps; i++)
		if (!paths_match(p, json_object_get(e, "deps"), s->wdir, s->deps[i].path))
			goto out;
	for (size_t i = 0; i < s->nouts; i++)
		if (!paths_match(p, json_object_get(e, "outs"), s->wdir, s->outs[i].path))
			goto out;
	/* params: {file (relative to wdir): {key: value}} */
	for (size_t i = 0; i < s->nparams; i++) {
		const struct pl_param *pp = &s->params[i];
		const char *f, *rel = pp->file;
		json_t *keys, *v = NULL;
		size_t n = strlen(s->wdir);
		if (n && !strncmp(rel, s->wdir, n) && rel[n] == '/')
			rel += n + 1;
		json_object_foreach(json_object_get(e, "params"), f, keys)
			if (!strcmp(f, rel))
				v = pp->key ? json_object_get(keys, pp->key) : keys;
		if (!v || !same_value(v, pp->value))
			goto out;
	}
	ok = true;
out:
	cairn_error_clear();
	json_decref(doc);
	buf_release(&path);
	buf_release(&text);
	return ok;
}
