/* pointer.c - pointer files (<path>.cairn): parse, write, find, resolve targets. */
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

#define POINTER_MAX (64 << 10)
#define POINTER_HEADER "# cairn data pointer: commit it to git; `cairn data add` rewrites it\n"

void pointer_release(struct pointer *p)
{
	free(p->file);
	free(p->data);
	free(p->name);
	json_decref(p->keep);
	memset(p, 0, sizeof(*p));
}

static int bad(const char *file, const char *what)
{
	return cairn_error_set(CAIRN_EINVALID,
			       "%s: %s (this pointer file is not valid; restore it with `git checkout -- %s` "
			       "or track the data again with `cairn data add`)",
			       file, what, file);
}

int pointer_parse(const char *text, size_t n, const char *file, struct pointer *p)
{
	json_t *doc = NULL, *v;
	const char *key;
	struct buf clean = BUF_INIT;
	char msg[512];
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = cyaml_parse(text, n, &doc))) {
		snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
		return bad(file, msg);
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		return bad(file, "not a YAML mapping");
	}
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "path") && strcmp(key, "type") && strcmp(key, "sha256") && strcmp(key, "size") &&
		    strcmp(key, "nfiles") && strcmp(key, "isexec") && strcmp(key, "desc") && strcmp(key, "meta")) {
			snprintf(msg, sizeof(msg), "unknown key '%.64s'", key);
			rc = bad(file, msg);
			goto out;
		}
	}
	v = json_object_get(doc, "path");
	if (!json_is_string(v) || path_clean_rel(json_string_value(v), json_string_length(v), false, &clean)) {
		rc = bad(file, "'path' must be a relative path inside the workspace");
		goto out;
	}
	p->name = buf_detach(&clean);
	v = json_object_get(doc, "type");
	if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "file") && strcmp(json_string_value(v), "dir")))) {
		rc = bad(file, "'type' must be file or dir");
		goto out;
	}
	p->is_dir = v && !strcmp(json_string_value(v), "dir");
	v = json_object_get(doc, "isexec");
	if (v && (!json_is_boolean(v) || p->is_dir)) {
		rc = bad(file, "'isexec' is true or false, for file pointers only");
		goto out;
	}
	p->isexec = json_is_true(v);
	v = json_object_get(doc, "sha256");
	if (!json_is_string(v) || json_string_length(v) != SHA256_HEX_LEN || !sha256_is_hex(json_string_value(v))) {
		rc = bad(file, "'sha256' must be 64 lowercase hex digits");
		goto out;
	}
	memcpy(p->hex, json_string_value(v), SHA256_HEX_LEN + 1);
	v = json_object_get(doc, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		rc = bad(file, "'size' must be a non-negative integer");
		goto out;
	}
	p->size = json_integer_value(v);
	v = json_object_get(doc, "nfiles");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
		rc = bad(file, "'nfiles' must be a non-negative integer");
		goto out;
	}
	if (!p->is_dir && v) {
		rc = bad(file, "'nfiles' belongs to directory pointers only");
		goto out;
	}
	if (p->is_dir && !v) {
		rc = bad(file, "a directory pointer needs 'nfiles'");
		goto out;
	}
	p->nfiles = v ? json_integer_value(v) : 1;
	if (json_object_get(doc, "desc") || json_object_get(doc, "meta")) {
		p->keep = json_object();
		if (json_object_get(doc, "desc"))
			json_object_set(p->keep, "desc", json_object_get(doc, "desc"));
		if (json_object_get(doc, "meta"))
			json_object_set(p->keep, "meta", json_object_get(doc, "meta"));
	}
out:
	json_decref(doc);
	buf_release(&clean);
	if (rc)
		pointer_release(p);
	return rc;
}

int pointer_format(const struct pointer *p, struct buf *out)
{
	json_t *doc = json_object(), *v;
	const char *key;
	int rc;

	cjson_set(doc, "path", cjson_string(p->name));
	cjson_set(doc, "type", cjson_string(p->is_dir ? "dir" : "file"));
	cjson_set(doc, "sha256", cjson_string(p->hex));
	cjson_set(doc, "size", json_integer(p->size));
	if (p->is_dir)
		cjson_set(doc, "nfiles", json_integer(p->nfiles));
	else if (p->isexec)
		cjson_set(doc, "isexec", json_true());
	if (p->keep)
		json_object_foreach(p->keep, key, v)
			json_object_set(doc, key, v);
	buf_puts(out, POINTER_HEADER);
	rc = cyaml_dump(doc, out);
	json_decref(doc);
	return rc ? rc : buf_error(out);
}

int pointer_load(struct data_repo *r, const char *file, struct pointer *p)
{
	struct buf path = BUF_INIT, text = BUF_INIT, data = BUF_INIT;
	const char *slash;
	int rc;

	if ((rc = repo_abs(r, file, &path)) || (rc = fs_read_file(path.ptr, POINTER_MAX, &text)))
		goto out;
	if ((rc = pointer_parse(text.ptr, text.len, file, p)))
		goto out;
	slash = strrchr(file, '/');
	if (slash)
		buf_put(&data, file, (size_t)(slash - file) + 1);
	buf_puts(&data, p->name);
	p->file = cstrdup(file);
	p->data = buf_detach(&data);
	if (!p->file || !p->data) {
		pointer_release(p);
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
out:
	buf_release(&path);
	buf_release(&text);
	buf_release(&data);
	return rc;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && !memcmp(s + n - k, suffix, k);
}

/* Walk dirfd (repo-relative prefix rel), appending pointer files to files. */
static int walk(int dfd, struct buf *rel, json_t *files, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	json_t *names = json_array();
	size_t base = rel->len;
	int rc = 0;

	if (!d) {
		close(dfd);
		json_decref(names);
		return 0;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			json_array_append_new(names, json_pack("{s:s,s:i}", "n", e->d_name, "t", (int)e->d_type));
	for (size_t i = 0; !rc && i < json_array_size(names); i++) {
		json_t *it = json_array_get(names, i);
		const char *name = json_string_value(json_object_get(it, "n"));
		int type = (int)json_integer_value(json_object_get(it, "t"));
		size_t len = strlen(name);
		struct stat sb;

		if (type == DT_UNKNOWN || type == DT_LNK) {
			if (fstatat(dirfd(d), name, &sb, type == DT_LNK ? AT_SYMLINK_NOFOLLOW : 0) != 0)
				continue;
			type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_LNK;
		}
		buf_truncate(rel, base);
		if (base)
			buf_putc(rel, '/');
		buf_puts(rel, name);
		if ((rc = buf_error(rel)))
			break;
		if (type == DT_REG && ends_with(name, len, POINTER_SUFFIX)) {
			json_array_append_new(files, json_string(rel->ptr));
		} else if (type == DT_DIR && strcmp(name, ".git") && strcmp(name, ".cairn") && depth < 64) {
			/* a tracked directory holds data, not pointers */
			char tracked[NAME_MAX + 8];
			int sub;
			snprintf(tracked, sizeof(tracked), "%s%s", name, POINTER_SUFFIX);
			if (faccessat(dirfd(d), tracked, F_OK, 0) == 0)
				continue;
			sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub >= 0)
				rc = walk(sub, rel, files, depth + 1);
		}
	}
	buf_truncate(rel, base);
	closedir(d);
	json_decref(names);
	return rc;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void sort_strings(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = n ? cmalloc(n * sizeof(*v)) : NULL;

	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp_json_str);
	json_array_clear(arr);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

int pointer_find_all(struct data_repo *r, json_t **files)
{
	struct buf rel = BUF_INIT;
	int fd = open(r->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", r->root, strerror(errno));
	*files = json_array();
	rc = walk(fd, &rel, *files, 0);
	buf_release(&rel);
	if (rc) {
		json_decref(*files);
		*files = NULL;
		return rc;
	}
	sort_strings(*files);
	return 0;
}

int pointer_targets(struct data_repo *r, char *const *targets, size_t n, json_t **files)
{
	struct buf rel = BUF_INIT, abs = BUF_INIT;
	json_t *all = NULL;
	struct stat sb;
	int rc = 0;

	if (n == 0)
		return pointer_find_all(r, files);
	*files = json_array();
	for (size_t i = 0; !rc && i < n; i++) {
		if ((rc = repo_rel(r, targets[i], &rel)))
			break;
		if (!ends_with(rel.ptr, rel.len, POINTER_SUFFIX))
			buf_puts(&rel, POINTER_SUFFIX);
		if ((rc = repo_abs(r, rel.ptr, &abs)))
			break;
		if (stat(abs.ptr, &sb) == 0 && S_ISREG(sb.st_mode)) {
			json_array_append_new(*files, json_string(rel.ptr));
			continue;
		}
		/* a folder that is not tracked itself: every pointer below it */
		buf_truncate(&rel, rel.len - strlen(POINTER_SUFFIX));
		if ((rc = repo_abs(r, rel.ptr, &abs)))
			break;
		if (stat(abs.ptr, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			size_t before = json_array_size(*files);
			if (!all && (rc = pointer_find_all(r, &all)))
				break;
			for (size_t k = 0; k < json_array_size(all); k++) {
				const char *f = json_string_value(json_array_get(all, k));
				if (!rel.len || (!strncmp(f, rel.ptr, rel.len) && f[rel.len] == '/'))
					json_array_append_new(*files, json_string(f));
			}
			if (json_array_size(*files) > before)
				continue;
		}
		rc = cairn_error_set(CAIRN_ENOTFOUND, "'%s' is not tracked (no %s%s)", targets[i],
				     rel.len ? rel.ptr : ".", POINTER_SUFFIX);
	}
	json_decref(all);
	buf_release(&rel);
	buf_release(&abs);
	if (rc) {
		json_decref(*files);
		*files = NULL;
	}
	return rc;
}
