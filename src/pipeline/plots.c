/* plots.c - collecting the pipeline's plots as DVC does: definitions from the
 * top-level "plots:" section and the stages' plot outs, their data files
 * loaded and flattened into data points (see plots.h). Drawing is plots_render.c. */
#include "pipeline/plots.h"
#include "pipeline/plots_int.h"

#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLOTS_MAX_FILE ((size_t)256 << 20) /* bytes of one data file or image */
#define PLOTS_MAX_DEPTH 32                 /* folders below a plot folder */
#define INDEX "step"                       /* DVC's x when none is given: the row index */
#define INFERRED_X "dvc_inferred_x_value"  /* DVC's x key when several x fields are joined */
#define INFERRED_Y "dvc_inferred_y_value"  /* and its y key when several y fields overlay */

const char *const plots_templates[] = { "simple", "linear", "confusion", "confusion_normalized", "scatter",
					"scatter_jitter", "smooth", "bar_horizontal_sorted", "bar_horizontal", NULL };

static const char *const plot_props[] = { "template", "x", "y", "x_label", "y_label", "title", "header", NULL };
static const char *const image_exts[] = { ".png", ".jpg", ".jpeg", ".gif", ".svg", NULL };

struct coll {
	const struct pipeline *p;
	const struct plots_opts *o;
	json_t *cli;          /* the command line's options, projected (owned) */
	json_t *defs;         /* {config file: {id: props}} in DVC's order (owned) */
	json_t *cache;        /* {path: data points} of the files loaded so far (owned) */
	regex_t *re;          /* the targets, compiled (ntargets of them; NULL: no targets) */
	bool *re_ok;          /* which compiled (else matched literally) */
	char **tgt;           /* the targets, workspace-relative */
};

/* ---- small helpers ---- */

bool plots__is_bar(const char *tmpl)
{
	return !strncmp(tmpl, "bar_horizontal", 14);
}

bool plots__is_confusion(const char *tmpl)
{
	return !strncmp(tmpl, "confusion", 9);
}

bool plots__num(const json_t *v, double *d)
{
	struct ccsv_value cv;
	const char *s;

	if (json_is_integer(v))
		*d = (double)json_integer_value(v);
	else if (json_is_real(v))
		*d = json_real_value(v);
	else if ((s = json_string_value(v))) {
		enum ccsv_kind k = ccsv_value_parse(s, json_string_length(v), &cv);

		if (k != CCSV_INT && k != CCSV_FLOAT)
			return false;
		*d = cv.d;
	} else
		return false;
	return isfinite(*d);
}

void plots__text(struct buf *b, const json_t *v)
{
	if (json_is_string(v))
		buf_put(b, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v)) {
		/* the shortest of %.15g..%.17g that reads back the same */
		char tmp[40];

		for (int prec = 15; prec <= 17; prec++) {
			snprintf(tmp, sizeof(tmp), "%.*g", prec, json_real_value(v));
			if (strtod(tmp, NULL) == json_real_value(v))
				break;
		}
		buf_puts(b, tmp);
	} else if (json_is_true(v))
		buf_puts(b, "true");
	else if (json_is_false(v))
		buf_puts(b, "false");
	else if (!v || json_is_null(v))
		buf_puts(b, "null");
	else
		cjson_dump(v, b);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const char *ext_of(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	return dot && (!slash || dot > slash) ? dot : "";
}

static bool is_image(const char *path)
{
	const char *e = ext_of(path);

	for (size_t i = 0; image_exts[i]; i++)
		if (!strcasecmp(e, image_exts[i]))
			return true;
	return false;
}

/* rel joined to base ("" the root) with "." and ".." resolved (as DVC's
 * normpath), into out; an absolute path or one that leaves the workspace is
 * an error. */
static int norm_join(const char *base, const char *rel, struct buf *out)
{
	struct buf in = BUF_INIT;
	const char *s, *e;
	int rc = 0;

	buf_clear(out);
	if (rel[0] == '/')
		return cairn_error_set(CAIRN_EINVALID, "'%s': plot paths are relative to the workspace", rel);
	if (base && *base)
		buf_printf(&in, "%s/", base);
	buf_puts(&in, rel);
	if ((rc = buf_error(&in)))
		goto done;
	for (s = in.ptr; *s; s = *e ? e + 1 : e) {
		size_t n;

		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		n = (size_t)(e - s);
		if (!n || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			char *cut;

			if (!out->len) {
				rc = cairn_error_set(CAIRN_EINVALID, "'%s': the path leaves the workspace", rel);
				goto done;
			}
			cut = strrchr(out->ptr, '/');
			buf_truncate(out, cut ? (size_t)(cut - out->ptr) : 0);
			continue;
		}
		if (out->len)
			buf_putc(out, '/');
		buf_put(out, s, n);
	}
	rc = buf_error(out);
done:
	buf_release(&in);
	return rc;
}

/* The workspace path of rel, as a C string in the root's folder. */
static void abs_path(const struct coll *c, const char *rel, struct buf *out)
{
	buf_clear(out);
	buf_printf(out, "%s/%s", c->p->root, rel);
}

static bool is_dir(const struct coll *c, const char *rel)
{
	struct buf a = BUF_INIT;
	struct stat st;
	bool d;

	abs_path(c, rel, &a);
	d = !a.err && !stat(a.ptr, &st) && S_ISDIR(st.st_mode);
	buf_release(&a);
	return d;
}

static bool exists(const struct coll *c, const char *rel)
{
	struct buf a = BUF_INIT;
	struct stat st;
	bool ok;

	abs_path(c, rel, &a);
	ok = !a.err && !stat(a.ptr, &st);
	buf_release(&a);
	return ok;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file below the folder rel, sorted, appended to files (workspace paths). */
static int list_files(const struct coll *c, const char *rel, int depth, json_t *files)
{
	struct buf a = BUF_INIT, sub = BUF_INIT;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = NULL;
	int rc = 0;

	if (depth > PLOTS_MAX_DEPTH)
		return cairn_error_set(CAIRN_ETOOBIG, "%s: folders nested more than %d deep", rel, PLOTS_MAX_DEPTH);
	abs_path(c, rel, &a);
	if (!(d = opendir(a.ptr))) {
		rc = cairn_error_set(CAIRN_EIO, "%s: %s", rel, strerror(errno));
		goto done;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nv = crealloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

			if (!nv) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto done;
			}
			names = nv;
		}
		if (!(names[n] = cstrdup(de->d_name))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto done;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; !rc && i < n; i++) {
		buf_clear(&sub);
		buf_printf(&sub, "%s/%s", rel, names[i]);
		if ((rc = buf_error(&sub)))
			break;
		if (is_dir(c, sub.ptr))
			rc = list_files(c, sub.ptr, depth + 1, files);
		else
			json_array_append_new(files, json_string(sub.ptr));
	}
done:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	buf_release(&a);
	buf_release(&sub);
	return rc;
}

/* ---- loading data files ---- */

struct csv_load {
	const char *path;
	bool header;
	json_t *names;   /* field names */
	json_t *rows;
};

static int csv_record(void *ctx, const struct ccsv_record *rec)
{
	struct csv_load *l = ctx;
	json_t *row;

	if (!l->names) {
		l->names = json_array();
		for (size_t i = 0; l->names && i < rec->nfields; i++) {
			char num[24];

			snprintf(num, sizeof(num), "%zu", i);
			json_array_append_new(l->names, l->header ? cjson_string(rec->fields[i].p) : json_string(num));
		}
		if (!l->names || json_array_size(l->names) != rec->nfields)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if (l->header)
			return 0;
	}
	if (rec->nfields != json_array_size(l->names))
		return cairn_error_set(CAIRN_EINVALID, "%s: line %zu: %zu fields, the header has %zu", l->path,
				       rec->line, rec->nfields, json_array_size(l->names));
	if (!(row = json_object()) || json_array_append_new(l->rows, row))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct ccsv_field *f = &rec->fields[i];
		struct ccsv_value v;
		enum ccsv_kind k = ccsv_value_parse(f->p, f->n, &v);
		json_t *jv;

		/* numbers as numbers (DVC keeps CSV cells as strings; both draw the same) */
		if (k == CCSV_INT && !f->quoted)
			jv = json_integer(v.i);
		else if (k == CCSV_FLOAT && !f->quoted && isfinite(v.d))
			jv = json_real(v.d);
		else
			jv = cjson_string(f->p);
		if (json_object_set_new(row, json_string_value(json_array_get(l->names, i)), jv))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	return 0;
}

static bool is_datapoints(const json_t *list)
{
	const json_t *first = json_array_get(list, 0), *e;
	size_t i;

	if (!json_is_object(first))
		return false;
	json_array_foreach(list, i, e) {
		const char *k;
		json_t *v;

		if (!json_is_object(e) || json_object_size(e) != json_object_size(first))
			return false;
		json_object_foreach((json_t *)e, k, v)
			if (!json_object_get(first, k))
				return false;
	}
	return true;
}

/* DVC's get_datapoints: every list of objects with one key set in the
 * document (the document itself, or lists under its keys, at any depth),
 * merged row by row. */
static int add_datapoints(const json_t *doc, json_t *rows, int depth)
{
	const char *k;
	json_t *v;

	if (depth > CYAML_MAX_DEPTH)
		return 0;
	if (json_is_array(doc)) {
		size_t i;
		json_t *e;

		if (!is_datapoints(doc))
			return 0;
		json_array_foreach(doc, i, e) {
			json_t *r = json_array_get(rows, i);

			if (!r && json_array_append_new(rows, (r = json_object())))
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			if (json_object_update(r, e))
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		return 0;
	}
	if (json_is_object(doc))
		json_object_foreach((json_t *)doc, k, v) {
			int rc;

			if ((json_is_object(v) || json_is_array(v)) && (rc = add_datapoints(v, rows, depth + 1)))
				return rc;
		}
	return 0;
}

/* The data points of the data file path (cached), or the error naming it. */
static int load_rows(struct coll *c, const char *path, const json_t *props, json_t **rows)
{
	const char *e = ext_of(path);
	struct buf a = BUF_INIT, text = BUF_INIT;
	json_t *doc = NULL, *r = NULL;
	int rc;

	if ((*rows = json_object_get(c->cache, path)))
		return 0;
	if (strcasecmp(e, ".csv") && strcasecmp(e, ".tsv") && strcasecmp(e, ".json") && strcasecmp(e, ".yaml") &&
	    strcasecmp(e, ".yml"))
		return cairn_error_set(CAIRN_EINVALID, "%s: not a plot file: data is CSV, TSV, JSON or YAML, images "
				       ".png, .jpg, .jpeg, .gif or .svg", path);
	abs_path(c, path, &a);
	rc = a.err ? buf_error(&a) : fs_read_file(a.ptr, PLOTS_MAX_FILE, &text);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(rc, "%s: no such file", path);
	else if (rc)
		rc = cairn_error_set(rc, "%s: %s", path, cairn_error_msg());
	if (rc)
		goto done;
	if (strspn(text.ptr, " \t\r\n") == text.len) {
		rc = cairn_error_set(CAIRN_EINVALID, "%s: the file is empty", path);
		goto done;
	}
	if (!(r = json_array())) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	if (!strcasecmp(e, ".csv") || !strcasecmp(e, ".tsv")) {
		struct ccsv_options co = { .delim = strcasecmp(e, ".tsv") ? ',' : '\t', .strict = true };
		struct csv_load l = { .path = path, .header = !json_is_false(json_object_get(props, "header")), .rows = r };

		rc = ccsv_read(text.ptr, text.len, &co, csv_record, &l);
		json_decref(l.names);
		if (rc && !strstr(cairn_error_msg(), path))
			rc = cairn_error_set(rc, "%s: %s", path, cairn_error_msg());
	} else {
		if (!strcasecmp(e, ".json")) {
			json_error_t je;

			if (!(doc = json_loadb(text.ptr, text.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je)))
				rc = cairn_error_set(CAIRN_EINVALID, "%s: not JSON: %s (line %d)", path, je.text, je.line);
		} else if ((rc = cyaml_parse(text.ptr, text.len, &doc)))
			rc = cairn_error_set(rc, "%s: not YAML: %s", path, cairn_error_msg());
		if (!rc)
			rc = add_datapoints(doc, r, 0);
	}
	if (rc)
		goto done;
	if (!json_array_size(r)) {
		rc = cairn_error_set(CAIRN_EINVALID, "%s: no data points (a list of objects, or an object holding lists "
				     "of objects)", path);
		goto done;
	}
	if (json_object_set_new(c->cache, path, r)) {
		r = NULL;
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	*rows = r;
	r = NULL;
done:
	json_decref(r);
	json_decref(doc);
	buf_release(&a);
	buf_release(&text);
	return rc;
}

static int load_image(struct coll *c, const char *path, json_t *entry)
{
	static const struct { const char *ext, *mime; } mimes[] = {
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" }, { ".svg", "image/svg+xml" },
	};
	struct buf a = BUF_INIT, data = BUF_INIT, uri = BUF_INIT;
	const char *mime = "application/octet-stream";
	int rc;

	for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
		if (!strcasecmp(ext_of(path), mimes[i].ext))
			mime = mimes[i].mime;
	abs_path(c, path, &a);
	rc = a.err ? buf_error(&a) : fs_read_file(a.ptr, PLOTS_MAX_FILE, &data);
	if (rc == CAIRN_ENOTFOUND)
		rc = cairn_error_set(rc, "%s: no such file", path);
	else if (rc)
		rc = cairn_error_set(rc, "%s: %s", path, cairn_error_msg());
	else if (!data.len)
		rc = cairn_error_set(CAIRN_EINVALID, "%s: the file is empty", path);
	if (rc)
		goto done;
	buf_printf(&uri, "data:%s;base64,", mime);
	if (!(rc = buf_grow(&uri, 4 * ((data.len + 2) / 3) + 1))) {
		int n = EVP_EncodeBlock((unsigned char *)uri.ptr + uri.len, (const unsigned char *)data.ptr, (int)data.len);

		uri.len += (size_t)n;
		uri.ptr[uri.len] = '\0';
		if (json_object_set_new(entry, "url", json_string(path)) ||
		    json_object_set_new(entry, "src", json_string(uri.ptr)))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
done:
	buf_release(&a);
	buf_release(&data);
	buf_release(&uri);
	return rc;
}

/* ---- definitions ---- */

/* Does the plot id (in config file cfg) match the targets (none: all)? A
 * target is a regular expression matched at the start of the id or of
 * "cfg::id", as DVC's re.match. */
static bool matches(const struct coll *c, const char *cfg, const char *id)
{
	struct buf full = BUF_INIT;
	bool hit = false;

	if (!c->o || !c->o->ntargets)
		return true;
	buf_printf(&full, "%s::%s", cfg, id);
	for (size_t i = 0; !hit && i < c->o->ntargets; i++) {
		const char *cand[2] = { id, full.ptr };

		for (int k = 0; !hit && k < (*cfg ? 2 : 1); k++) {
			regmatch_t m;

			if (c->re_ok[i])
				hit = !regexec(&c->re[i], cand[k], 1, &m, 0) && m.rm_so == 0;
			else
				hit = !strncmp(cand[k], c->tgt[i], strlen(c->tgt[i]));
		}
	}
	buf_release(&full);
	return hit;
}

/* Add {path: props} to the definitions of config cfg, merging with what is
 * there (later keys win). */
static int def_merge(struct coll *c, const char *cfg, const char *id, const json_t *props)
{
	json_t *d = json_object_get(c->defs, cfg), *cur;

	if (!d && json_object_set_new(c->defs, cfg, (d = json_object())))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!(cur = json_object_get(d, id)) && json_object_set_new(d, id, (cur = json_object())))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (json_object_update(cur, (json_t *)props) || (c->cli && json_object_update(cur, c->cli)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* The length of the common leading path components of a and b. */
static size_t common_path(const char *a, const char *b)
{
	size_t i = 0, last = 0;

	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			last = i;
	if ((!a[i] || a[i] == '/') && (!b[i] || b[i] == '/'))
		return i;
	return last;
}

/* A data path (or every file of a folder) with props; parents (NULL: any)
 * are the paths of every plot of the same file, so a file of a folder takes
 * the definition of its closest listed parent, as in DVC. */
static int add_path(struct coll *c, const char *cfg, const char *path, const json_t *props, const json_t *parents)
{
	json_t *files;
	size_t i;
	int rc = 0;

	if (!is_dir(c, path))
		return def_merge(c, cfg, path, props);
	if (!(files = json_array()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!(rc = list_files(c, path, 0, files))) {
		json_t *f;

		json_array_foreach(files, i, f) {
			const char *fp = json_string_value(f), *best = "";
			size_t best_n = 0, k;
			json_t *par;

			json_array_foreach(parents, k, par) {
				size_t n = common_path(fp, json_string_value(par));

				if (n > best_n) {
					best_n = n;
					best = json_string_value(par);
				}
			}
			if (parents && (best_n != strlen(path) || strncmp(best, path, best_n)))
				continue;
			if ((rc = def_merge(c, cfg, fp, props)))
				break;
		}
	}
	json_decref(files);
	return rc;
}

/* Options as written, checked: only DVC's plot properties, each of its type. */
static int check_props(const char *where, const json_t *props)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)props, k, v) {
		bool ok = true;

		if (!strcmp(k, "x")) {
			ok = json_is_string(v) || json_is_object(v);
			if (json_is_object(v)) {
				const char *f;
				json_t *fv;

				json_object_foreach(v, f, fv)
					ok = ok && json_is_string(fv);
			}
		} else if (!strcmp(k, "y")) {
			ok = json_is_string(v) || json_is_array(v) || json_is_object(v);
			if (json_is_array(v)) {
				size_t i;
				json_t *e;

				json_array_foreach(v, i, e)
					ok = ok && json_is_string(e);
			} else if (json_is_object(v)) {
				const char *f;
				json_t *fv;

				json_object_foreach(v, f, fv)
					if (json_is_array(fv)) {
						size_t i;
						json_t *e;

						json_array_foreach(fv, i, e)
							ok = ok && json_is_string(e);
					} else
						ok = ok && json_is_string(fv);
			}
		} else if (!strcmp(k, "header"))
			ok = json_is_boolean(v);
		else if (in_list(k, plot_props))
			ok = json_is_string(v);
		else
			return cairn_error_set(CAIRN_EINVALID, "%s: unknown plot option '%s' (template, x, y, title, "
					       "x_label, y_label, header)", where, k);
		if (!ok)
			return cairn_error_set(CAIRN_EINVALID, "%s: '%s' must be %s", where, k,
					       !strcmp(k, "x")	  ? "a field or {file: field}"
					       : !strcmp(k, "y")  ? "a field, a list of fields or {file: field or [fields]}"
					       : !strcmp(k, "header") ? "true or false" : "a string");
	}
	return 0;
}

/* The top-level "plots:" of one file (entries with that base), as DVC's
 * _resolve_definitions: a later entry with the same id replaces an earlier one. */
static int collect_top(struct coll *c, const char *cfg, const char *base)
{
	json_t *dict = json_object(), *parents = json_array(), *e, *props;
	struct buf path = BUF_INIT, where = BUF_INIT;
	const char *id;
	size_t i;
	int rc = 0;

	if (!dict || !parents) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	json_array_foreach(c->p->plots, i, e) {
		json_t *def = json_object_get(e, "def");

		if (strcmp(json_string_value(json_object_get(e, "base")), base))
			continue;
		if (json_is_string(def))
			json_object_set_new(dict, json_string_value(def), json_null());
		else
			json_object_update(dict, def);
	}
	json_object_foreach(dict, id, props) {
		if ((rc = norm_join(base, id, &path)))
			break;
		json_array_append_new(parents, json_string(path.ptr));
	}
	json_object_foreach(dict, id, props) {
		json_t *y = json_object_get(props, "y");

		buf_clear(&where);
		buf_printf(&where, "%s: plot '%s'", cfg, id);
		if (!json_is_object(props) && !json_is_null(props)) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s: its options must be a mapping", where.ptr);
			break;
		}
		if ((rc = check_props(where.ptr, props)))
			break;
		if (!json_is_object(y)) {
			json_t *empty = json_object();

			if ((rc = norm_join(base, id, &path)) == 0 && matches(c, cfg, path.ptr))
				rc = add_path(c, cfg, path.ptr, json_is_object(props) ? props : empty, parents);
			json_decref(empty);
		} else if (matches(c, cfg, id)) {
			/* x and y files are relative to the folder of the file */
			json_t *adj = json_deep_copy(props);
			const char *axes[2] = { "x", "y" };

			for (int k = 0; !rc && k < 2; k++) {
				json_t *old = json_object_get(adj, axes[k]), *nw, *v;
				const char *f;

				if (!json_is_object(old))
					continue;
				if (!(nw = json_object())) {
					rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
					break;
				}
				json_object_foreach(old, f, v) {
					if ((rc = norm_join(base, f, &path)))
						break;
					json_object_set(nw, path.ptr, v);
				}
				json_object_set_new(adj, axes[k], nw);
			}
			if (!rc)
				rc = adj ? def_merge(c, cfg, id, adj) : cairn_error_set(CAIRN_ENOMEM, "out of memory");
			json_decref(adj);
		}
		if (rc)
			break;
	}
	if (rc && !strstr(cairn_error_msg(), cfg))
		rc = cairn_error_set(rc, "%s: %s", cfg, cairn_error_msg());
done:
	json_decref(dict);
	json_decref(parents);
	buf_release(&path);
	buf_release(&where);
	return rc;
}

/* Every plot out of every stage, under config "" (DVC's output plots). */
static int collect_outs(struct coll *c)
{
	struct buf where = BUF_INIT;
	int rc = 0;

	for (size_t s = 0; !rc && s < c->p->n; s++) {
		const struct pl_stage *st = &c->p->v[s];

		for (size_t k = 0; !rc && k < st->nouts; k++) {
			const struct pl_out *o = &st->outs[k];
			json_t *props;

			if (o->kind != PL_PLOT || !matches(c, "", o->path))
				continue;
			if (!(props = json_object())) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			for (size_t i = 0; plot_props[i]; i++) {
				json_t *v = json_object_get(o->opts, plot_props[i]);

				if (v)
					json_object_set(props, plot_props[i], v);
			}
			buf_clear(&where);
			buf_printf(&where, "%s: stage '%s': plot '%s'", c->p->file, st->name, o->path);
			if (!(rc = check_props(where.ptr, props)))
				rc = add_path(c, "", o->path, props, NULL);
			json_decref(props);
		}
	}
	buf_release(&where);
	return rc;
}

/* ---- resolving one plot into data points (DVC's VegaConverter) ---- */

struct src {
	const char *file, *field;
};

/* The (file, field) pairs of an axis mapping {file: field | [fields]}. */
static int file_fields(const json_t *axis, struct src **out, size_t *n)
{
	const char *f;
	json_t *v;

	*out = NULL;
	*n = 0;
	json_object_foreach((json_t *)axis, f, v) {
		size_t m = json_is_array(v) ? json_array_size(v) : 1;
		struct src *nv = crealloc(*out, (*n + m + 1) * sizeof(**out));

		if (!nv)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		*out = nv;
		for (size_t i = 0; i < m; i++) {
			nv[*n].file = f;
			nv[(*n)++].field = json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
		}
	}
	return 0;
}

static int field_missing(const char *file, const char *field, const json_t *rows)
{
	struct buf names = BUF_INIT;
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(json_array_get(rows, 0), k, v)
		buf_printf(&names, "%s%s", names.len ? ", " : "", k);
	rc = cairn_error_set(CAIRN_EINVALID, "%s: no field '%s' (its fields: %s)", file, field, names.ptr);
	buf_release(&names);
	return rc;
}

/* The data of every source file of the plot, loaded, and each (file, field)
 * checked against the file's first row, as DVC's _verify_field. */
static int load_sources(struct coll *c, const struct src *s, size_t n, const json_t *props, json_t *data)
{
	for (size_t i = 0; i < n; i++) {
		json_t *rows;
		int rc;

		if ((rc = load_rows(c, s[i].file, props, &rows)))
			return rc;
		if (!json_object_get(json_array_get(rows, 0), s[i].field))
			return field_missing(s[i].file, s[i].field, rows);
		json_object_set(data, s[i].file, rows);
	}
	return 0;
}

static size_t distinct_fields(const struct src *s, size_t n, bool files)
{
	size_t d = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		for (; j < i; j++)
			if (!strcmp(files ? s[i].file : s[i].field, files ? s[j].file : s[j].field))
				break;
		d += j == i;
	}
	return d;
}

/* The quantity of each data point must be a number for the template. */
static int check_numbers(const char *tmpl, const char *xkey, const char *ykey, const json_t *values,
			 const json_t *rows_per)
{
	const char *key = plots__is_bar(tmpl) ? xkey : ykey;
	size_t i;
	json_t *dp;

	if (plots__is_confusion(tmpl))
		return 0;
	json_array_foreach(values, i, dp) {
		json_t *v = json_object_get(dp, key);
		double d;

		struct ccsv_value cv;

		/* NaN and infinities (a diverged loss) are numbers too: not drawn */
		if (json_is_string(v) && (ccsv_value_parse(json_string_value(v), json_string_length(v), &cv) == CCSV_FLOAT))
			continue;
		if (v && !json_is_null(v) && !plots__num(v, &d)) {
			struct buf t = BUF_INIT;
			size_t row = json_integer_value(json_array_get(rows_per, i));
			const char *file = json_string_value(json_object_get(dp, "__file")), *field = key;
			int rc;

			if (!strcmp(key, INFERRED_Y) || !strcmp(key, ykey))
				field = json_string_value(json_object_get(dp, "field"));
			plots__text(&t, v);
			rc = cairn_error_set(CAIRN_EINVALID, "%s: row %zu: field '%s' is '%s', not a number (template %s)",
					     file, row + 1, field, t.ptr, tmpl);
			buf_release(&t);
			return rc;
		}
	}
	return 0;
}

static json_t *str_or(const json_t *props, const char *k, const char *dflt)
{
	json_t *v = json_object_get(props, k);

	return json_is_string(v) ? json_incref(v) : json_string(dflt);
}

/* One data-series plot: sources inferred from id and props, data points flat. */
static int resolve_vega(struct coll *c, const char *plot_id, const char *inner, const json_t *props, json_t **out)
{
	json_t *x = json_object_get(props, "x"), *y = json_object_get(props, "y");
	json_t *xd = NULL, *yd = NULL, *data = json_object(), *values = json_array(), *rowsof = json_array();
	json_t *content = NULL, *anchors = json_array();
	struct src *xs = NULL, *ys = NULL;
	size_t nxs = 0, nys = 0, prefix = 0;
	const char *tmpl = json_string_value(json_object_get(props, "template"));
	const char *xkey, *ykey;
	int rc = 0;

	*out = NULL;
	if (!data || !values || !rowsof || !anchors) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	if (!tmpl)
		tmpl = "linear";
	if (!in_list(tmpl, plots_templates)) {
		struct buf known = BUF_INIT;

		for (size_t i = 0; plots_templates[i]; i++)
			buf_printf(&known, "%s%s", i ? ", " : "", plots_templates[i]);
		rc = cairn_error_set(CAIRN_EINVALID, "plot '%s': unknown template '%s' (known: %s)", plot_id, tmpl,
				     known.ptr);
		buf_release(&known);
		goto done;
	}
	/* y: a mapping {file: fields}; a field or list of fields of the id's file;
	 * else the last field of the id's file */
	if (json_is_object(y))
		yd = json_incref(y);
	else if (y)
		yd = json_pack("{sO}", inner, y);
	else {
		json_t *rows;
		const char *last = NULL, *k;
		json_t *v;

		if ((rc = load_rows(c, inner, props, &rows)))
			goto done;
		json_object_foreach(json_array_get(rows, 0), k, v)
			last = k;
		yd = json_pack("{ss}", inner, last ? last : "");
	}
	/* x: a field of each y file, or {file: field}, or the row index */
	if (json_is_string(x)) {
		const char *f;
		json_t *v;

		xd = json_object();
		json_object_foreach(yd, f, v) {
			if (json_is_array(v)) {
				json_t *l = json_array();

				for (size_t i = 0; i < json_array_size(v); i++)
					json_array_append(l, x);
				json_object_set_new(xd, f, l);
			} else
				json_object_set(xd, f, x);
		}
	} else if (json_is_object(x))
		xd = json_incref(x);
	if (!yd || (x && !xd)) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = file_fields(yd, &ys, &nys)) || (xd && (rc = file_fields(xd, &xs, &nxs))))
		goto done;
	if ((rc = load_sources(c, xs, nxs, props, data)) || (rc = load_sources(c, ys, nys, props, data)))
		goto done;
	if (!nys) {
		rc = cairn_error_set(CAIRN_EINVALID, "plot '%s': no y field", plot_id);
		goto done;
	}
	if (nxs > 1 && nxs != nys) {
		rc = cairn_error_set(CAIRN_EINVALID, "plot '%s': %zu x and %zu y data sources: give one x, or one "
				     "for each y", plot_id, nxs, nys);
		goto done;
	}
	xkey = !nxs ? INDEX : nxs > 1 && distinct_fields(xs, nxs, false) > 1 ? INFERRED_X : xs[0].field;
	ykey = distinct_fields(ys, nys, false) > 1 ? INFERRED_Y : ys[0].field;
	if (distinct_fields(ys, nys, true) > 1) {
		prefix = strlen(ys[0].file);
		for (size_t i = 1; i < nys; i++) {
			size_t n = common_path(ys[0].file, ys[i].file);

			prefix = n < prefix ? n : prefix;
		}
	}
	for (size_t i = 0; i < nys; i++) {
		const char *short_file = ys[i].file + prefix;
		json_t *rows = json_object_get(data, ys[i].file), *xrows = NULL, *dp;
		const struct src *xi = nxs > 1 ? &xs[i] : nxs ? &xs[0] : NULL;
		size_t r;

		while (*short_file == '/')
			short_file++;
		json_array_append_new(anchors, json_pack("{ssss}", "filename", short_file, "field", ys[i].field));
		if (xi && json_array_size(xrows = json_object_get(data, xi->file)) != json_array_size(rows)) {
			rc = cairn_error_set(CAIRN_EINVALID, "plot '%s': cannot join '%s' of %s (%zu rows) and '%s' of %s "
					     "(%zu rows): they must have the same length", plot_id, xi->field, xi->file,
					     json_array_size(xrows), ys[i].field, ys[i].file, json_array_size(rows));
			goto done;
		}
		json_array_foreach(rows, r, dp) {
			json_t *d = json_copy(dp), *xv;

			if (!d || json_array_append_new(values, d)) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto done;
			}
			if (!strcmp(ykey, INFERRED_Y) && json_object_get(dp, ys[i].field))
				json_object_set(d, INFERRED_Y, json_object_get(dp, ys[i].field));
			if (!xi)
				json_object_set_new(d, INDEX, json_integer((json_int_t)r));
			else if ((xv = json_object_get(json_array_get(xrows, r), xi->field)))
				json_object_set(d, xkey, xv);
			json_object_set_new(d, "rev", json_string("workspace"));
			json_object_set_new(d, "filename", json_string(short_file));
			json_object_set_new(d, "field", json_string(ys[i].field));
			json_object_set_new(d, "__file", json_string(ys[i].file));
			json_array_append_new(rowsof, json_integer((json_int_t)r));
		}
	}
	if ((rc = check_numbers(tmpl, xkey, ykey, values, rowsof)))
		goto done;
	{
		size_t i;
		json_t *dp;

		json_array_foreach(values, i, dp)
			json_object_del(dp, "__file");
	}
	content = json_pack("{ss}", "template", tmpl);
	if (!content) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	json_object_set_new(content, "title", str_or(props, "title", plot_id));
	json_object_set_new(content, "x", json_string(xkey));
	json_object_set_new(content, "y", json_string(ykey));
	/* labels: given, else the one field of the axis, else "x"/"y" (x: "step" for the index) */
	json_object_set_new(content, "x_label", str_or(props, "x_label", !nxs ? INDEX
							     : distinct_fields(xs, nxs, false) == 1 ? xs[0].field : "x"));
	json_object_set_new(content, "y_label", str_or(props, "y_label", distinct_fields(ys, nys, false) == 1 ?
							     ys[0].field : "y"));
	json_object_set(content, "anchors_y_definitions", anchors);
	json_object_set_new(content, "data", json_pack("{sO}", "values", values));
	*out = json_pack("{ss s[s] so}", "type", "vega", "revisions", "workspace", "content", content);
	content = NULL;
	if (!*out || cjson_oom_seen())
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
done:
	json_decref(content);
	json_decref(xd);
	json_decref(yd);
	json_decref(data);
	json_decref(values);
	json_decref(rowsof);
	json_decref(anchors);
	free(xs);
	free(ys);
	return rc;
}

/* ---- the whole collection ---- */

static void coll_release(struct coll *c)
{
	if (c->re) {
		for (size_t i = 0; i < c->o->ntargets; i++)
			if (c->re_ok[i])
				regfree(&c->re[i]);
	}
	if (c->tgt)
		for (size_t i = 0; i < c->o->ntargets; i++)
			free(c->tgt[i]);
	free(c->tgt);
	free(c->re);
	free(c->re_ok);
	json_decref(c->cli);
	json_decref(c->defs);
	json_decref(c->cache);
}

static int coll_targets(struct coll *c)
{
	struct buf t = BUF_INIT;
	size_t n = c->o ? c->o->ntargets : 0;
	int rc = 0;

	if (!n)
		return 0;
	c->re = ccalloc(n, sizeof(*c->re));
	c->re_ok = ccalloc(n, sizeof(*c->re_ok));
	c->tgt = ccalloc(n, sizeof(*c->tgt));
	if (!c->re || !c->re_ok || !c->tgt)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < n; i++) {
		if ((rc = norm_join(c->o->cwd, c->o->targets[i], &t)))
			break;
		if (!(c->tgt[i] = cstrdup(t.ptr)))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		else
			c->re_ok[i] = !regcomp(&c->re[i], t.ptr, REG_EXTENDED);
	}
	buf_release(&t);
	return rc;
}

int plots_collect(const struct pipeline *p, const struct plots_opts *o, json_t **out)
{
	struct coll c = { .p = p, .o = o };
	struct buf cfg = BUF_INIT, full = BUF_INIT;
	json_t *result = NULL, *data, *count = NULL, *v;
	const char *cname, *id;
	size_t i;
	int rc = 0;

	*out = NULL;
	c.defs = json_object();
	c.cache = json_object();
	c.cli = json_object();
	count = json_object();
	result = json_pack("{s{}}", "data");
	if (!c.defs || !c.cache || !c.cli || !count || !result) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	data = json_object_get(result, "data");
	if (o && o->props) {
		for (i = 0; plot_props[i]; i++)
			if ((v = json_object_get(o->props, plot_props[i])))
				json_object_set(c.cli, plot_props[i], v);
		if ((rc = check_props("the command line", c.cli)))
			goto done;
	}
	if ((rc = coll_targets(&c)))
		goto done;
	/* DVC's order: the top-level plots of each file, then the stages' plot outs */
	json_array_foreach(p->plots, i, v) {
		const char *base = json_string_value(json_object_get(v, "base"));

		buf_clear(&cfg);
		if (*base)
			buf_printf(&cfg, "%s/", base);
		buf_puts(&cfg, p->file);
		if (json_object_get(c.defs, cfg.ptr))
			continue;
		if ((rc = json_object_set_new(c.defs, cfg.ptr, json_object()) ? cairn_error_set(CAIRN_ENOMEM, "out of memory")
		     : collect_top(&c, cfg.ptr, base)))
			goto done;
	}
	if ((rc = collect_outs(&c)))
		goto done;
	/* targets that are files: plotted even when no definition names them */
	for (i = 0; o && i < o->ntargets; i++) {
		bool any = false;
		json_t *d;

		bool named = false;

		json_object_foreach(c.defs, cname, d) {
			any = any || json_object_size(d);
			named = named || json_object_get(d, c.tgt[i]);
		}
		if (named)
			continue; /* drawn already, with its definition */
		if (!any && !exists(&c, c.tgt[i])) {
			rc = cairn_error_set(CAIRN_ENOTFOUND, "%s: no plot of that id and no such file", c.tgt[i]);
			goto done;
		}
		if (exists(&c, c.tgt[i]) && (rc = add_path(&c, "", c.tgt[i], c.cli, NULL)))
			goto done;
	}
	/* an id in several files is named "file::id" in each (DVC's group_definitions_by_id) */
	json_object_foreach(c.defs, cname, v) {
		json_t *props;

		json_object_foreach(v, id, props)
			json_object_set_new(count, id, json_integer(json_integer_value(json_object_get(count, id)) + 1));
	}
	json_object_foreach(c.defs, cname, v) {
		json_t *props;

		json_object_foreach(v, id, props) {
			json_t *entry = NULL;

			buf_clear(&full);
			if (json_integer_value(json_object_get(count, id)) > 1 && *cname)
				buf_printf(&full, "%s::", cname);
			buf_puts(&full, id);
			if ((rc = buf_error(&full)))
				goto done;
			if (is_image(id)) {
				entry = json_pack("{ss s[s]}", "type", "image", "revisions", "workspace");
				rc = entry ? load_image(&c, id, entry) : cairn_error_set(CAIRN_ENOMEM, "out of memory");
			} else
				rc = resolve_vega(&c, full.ptr, id, props, &entry);
			if (!rc && json_object_set_new(data, full.ptr, json_pack("[O]", entry)))
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			json_decref(entry);
			if (rc)
				goto done;
		}
	}
	*out = result;
	result = NULL;
done:
	coll_release(&c);
	json_decref(count);
	json_decref(result);
	buf_release(&cfg);
	buf_release(&full);
	return rc;
}
