/* spec.c - loading cairn.yaml / dvc.yaml: params, vars, ${} interpolation, foreach/matrix, checks with file:line. */
#include "pipeline/pipeline.h"
#include "core/fault.h"
#include "pipeline/pl_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "core/util.h"
#include "core/yaml.h"
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPEC_MAX (16 << 20)
#define MAX_STAGES 100000

struct ld {
	const char *root;
	const char *file;      /* the file being read, workspace-relative ("cairn.yaml", "sub/dvc.yaml") */
	const char *base;      /* its folder, workspace-relative ("" for the root) */
	bool prefixed;         /* its stages are named "FILE:name" (a dvc.yaml in a subfolder) */
	json_t *doc, *lines;
	json_t *params;        /* params file -> parsed document (json null when absent) */
	json_t *ctx;           /* interpolation context: params.yaml + vars */
	struct pipeline *p;
	size_t cap;
};

static int vars_into(struct ld *l, json_t *vars, const char *dir, json_t *ctx, const char *vptr);

/* "FILE:LINE: message" for the value at JSON pointer ptr. */
static int ld_err(struct ld *l, const char *ptr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ld_err(struct ld *l, const char *ptr, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int line = ptr ? cyaml_line(l->lines, ptr) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		return cairn_error_set(CAIRN_EINVALID, "%s:%d: %s", l->file, line, msg);
	return cairn_error_set(CAIRN_EINVALID, "%s: %s", l->file, msg);
}

/* ptr + "/" + segment (escaped) into a fresh buffer the caller releases. */
static void ptr_join(struct buf *out, const char *base, const char *seg)
{
	buf_clear(out);
	buf_puts(out, base);
	buf_putc(out, '/');
	for (; *seg; seg++) {
		if (*seg == '~')
			buf_puts(out, "~0");
		else if (*seg == '/')
			buf_puts(out, "~1");
		else
			buf_putc(out, *seg);
	}
}

static void ptr_idx(struct buf *out, const char *base, size_t i)
{
	buf_clear(out);
	buf_printf(out, "%s/%zu", base, i);
}

/* A params (or vars) file, parsed once; *doc borrowed, json null when absent. */
static int params_doc(struct ld *l, const char *rel, json_t **doc)
{
	struct buf abs = BUF_INIT, text = BUF_INIT;
	json_t *d = json_object_get(l->params, rel);
	int rc = 0;

	if (d) {
		*doc = d;
		return 0;
	}
	buf_printf(&abs, "%s/%s", l->root, rel);
	rc = buf_error(&abs) ? buf_error(&abs) : fs_read_file(abs.ptr, SPEC_MAX, &text);
	if (rc == CAIRN_ENOTFOUND) {
		cairn_error_clear();
		d = json_null();
		rc = 0;
	} else if (!rc) {
		if ((rc = cyaml_parse(text.ptr, text.len, &d)))
			rc = cairn_error_set(rc, "%s:%s", rel, cairn_error_msg() + (strncmp(cairn_error_msg(), "line ", 5) ? 0 : 5));
		else if (json_is_null(d)) {
			json_decref(d);
			d = json_object();
		}
	}
	if (!rc) {
		json_object_set_new(l->params, rel, d);
		*doc = d;
	}
	buf_release(&abs);
	buf_release(&text);
	return rc;
}

/* Follow a dotted key with [n] indexes ("train.layers[0].size") in v, as
 * DVC reads it: "[" is a ".", "]" is dropped, and each part is trimmed of
 * spaces ("${ train.lr }"). */
static json_t *lookup(json_t *v, const char *key)
{
	const char *p = key;
	char part[256];

	for (;;) {
		size_t k = 0;
		const char *a, *b;
		while (*p && *p != '.' && *p != '[') {
			if (*p != ']') {
				if (k + 1 >= sizeof(part))
					return NULL;
				part[k++] = *p;
			}
			p++;
		}
		part[k] = '\0';
		for (a = part; *a == ' ' || *a == '\t'; a++)
			;
		for (b = part + k; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		part[b - part] = '\0';
		if (!*a)
			return NULL;
		if (json_is_object(v)) {
			v = json_object_get(v, a);
		} else if (json_is_array(v)) {
			char *end;
			long i = strtol(a, &end, 10);
			if (*end || i < 0)
				return NULL;
			v = json_array_get(v, (size_t)i);
		} else {
			return NULL;
		}
		if (!v || !*p)
			return v;
		p++;
	}
}

/* A float as Python's str() writes it (DVC formats values with it): the
 * shortest digits that read back the same, positional from 1e-4 to 1e16
 * with at least one decimal ("100.0"), else "1e-05", "1.5e+16". */
static void py_float(double x, struct buf *out)
{
	char e[64], digits[32];
	int prec, exp10, nd = 0;

	if (x != x) {
		buf_puts(out, "nan");
		return;
	}
	if (x == 1.0 / 0.0 || x == -1.0 / 0.0) {
		buf_puts(out, x < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, x);
		if (strtod(e, NULL) == x)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", prec, x);
	/* e = [-]d[.ddd]e[+-]XX */
	{
		const char *q = e;
		if (*q == '-') {
			buf_putc(out, '-');
			q++;
		}
		for (; *q && *q != 'e'; q++)
			if (*q != '.')
				digits[nd++] = *q;
		digits[nd] = '\0';
		exp10 = (int)strtol(q + 1, NULL, 10);
	}
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	if (exp10 < -4 || exp10 >= 16) {
		buf_putc(out, digits[0]);
		if (nd > 1) {
			buf_putc(out, '.');
			buf_puts(out, digits + 1);
		}
		buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
	} else if (exp10 < 0) {
		buf_puts(out, "0.");
		for (int i = -1; i > exp10; i--)
			buf_putc(out, '0');
		buf_puts(out, digits);
	} else {
		for (int i = 0; i <= exp10; i++)
			buf_putc(out, i < nd ? digits[i] : '0');
		buf_putc(out, '.');
		if (nd > exp10 + 1)
			buf_puts(out, digits + exp10 + 1);
		else
			buf_putc(out, '0');
	}
}

/* A plain value as DVC writes it into a string (Python's str(); booleans
 * "true"/"false", null "None"); -1 for a list or mapping. */
static int scalar_str(const json_t *v, struct buf *out)
{
	if (json_is_string(v))
		buf_put(out, json_string_value(v), json_string_length(v));
	else if (json_is_integer(v))
		buf_printf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		py_float(json_real_value(v), out);
	else if (json_is_true(v))
		buf_puts(out, "true");
	else if (json_is_false(v))
		buf_puts(out, "false");
	else if (json_is_null(v))
		buf_puts(out, "None");
	else
		return -1;
	return 0;
}

/* s quoted for /bin/sh as Python's shlex.quote does it: unchanged when it is
 * made only of [A-Za-z0-9_@%+=:,./-], else in single quotes. */
static void sh_quote(const char *s, size_t n, struct buf *out)
{
	bool plain = n > 0;

	for (size_t i = 0; i < n && plain; i++) {
		unsigned char c = (unsigned char)s[i];
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
	}
	if (plain) {
		buf_put(out, s, n);
		return;
	}
	buf_putc(out, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			buf_puts(out, "'\"'\"'");
		else
			buf_putc(out, s[i]);
	}
	buf_putc(out, '\'');
}

static void arg_str(const json_t *v, struct buf *out)
{
	if (json_is_string(v))
		sh_quote(json_string_value(v), json_string_length(v), out);
	else
		scalar_str(v, out);
}

/* ${dict} in a command, as DVC unpacks it: nested keys dotted; true gives
 * --key, false nothing; a string --key 'quoted'; a list --key a b; any other
 * value --key value. -1 for a list inside a list. */
static int unpack_dict(const json_t *d, const char *prefix, struct buf *out)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)d, k, v) {
		struct buf name = BUF_INIT;
		int rc = 0;
		buf_printf(&name, "%s%s%s", prefix, *prefix ? "." : "", k);
		if (json_is_object(v)) {
			rc = unpack_dict(v, name.ptr, out);
		} else if (json_is_boolean(v)) {
			if (json_is_true(v))
				buf_printf(out, "%s--%s", out->len ? " " : "", name.ptr);
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				if (json_is_array(e) || json_is_object(e)) {
					rc = -1;
					break;
				}
				if (!i)
					buf_printf(out, "%s--%s", out->len ? " " : "", name.ptr);
				buf_putc(out, ' ');
				arg_str(e, out);
			}
		} else {
			buf_printf(out, "%s--%s ", out->len ? " " : "", name.ptr);
			arg_str(v, out);
		}
		buf_release(&name);
		if (rc)
			return rc;
	}
	return 0;
}

/* Interpolate ${...} in string s. A string that is exactly one ${expr}
 * becomes the value itself (any type); otherwise values are formatted into
 * the string (a mapping unpacks to --key value flags only in commands).
 * "\${" stays a literal "${". */
static int interp_str(struct ld *l, const char *s, json_t *ctx, bool in_cmd, const char *ptr, json_t **out)
{
	struct buf b = BUF_INIT;
	const char *p = s;
	int rc = 0;

	*out = NULL;
	if (!strncmp(s, "${", 2) && strchr(s, '}') && strchr(s, '}')[1] == '\0' && !strchr(s + 2, '$')) {
		char expr[512];
		size_t n = (size_t)(strchr(s, '}') - s - 2);
		json_t *v;
		if (n >= sizeof(expr))
			return ld_err(l, ptr, "interpolation '%.60s...' is too long", s);
		memcpy(expr, s + 2, n);
		expr[n] = '\0';
		if (!(v = lookup(ctx, expr)))
			return ld_err(l, ptr, "${%s}: not defined in params.yaml, vars or the foreach item", expr);
		if (in_cmd && json_is_object(v)) {
			if (unpack_dict(v, "", &b)) {
				buf_release(&b);
				return ld_err(l, ptr, "${%s}: cannot unpack nested lists into a command", expr);
			}
			*out = json_stringn(b.ptr, b.len);
			buf_release(&b);
			return *out ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		*out = json_deep_copy(v);
		return *out ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	while (*p) {
		const char *d = strstr(p, "${");
		char expr[512];
		const char *end;
		json_t *v;

		if (!d) {
			buf_puts(&b, p);
			break;
		}
		if (d > s && d[-1] == '\\') {
			buf_put(&b, p, (size_t)(d - p - 1));
			buf_puts(&b, "${");
			p = d + 2;
			continue;
		}
		buf_put(&b, p, (size_t)(d - p));
		end = strchr(d, '}');
		if (!end) {
			rc = ld_err(l, ptr, "unterminated ${ in '%.80s'", s);
			break;
		}
		if ((size_t)(end - d - 2) >= sizeof(expr)) {
			rc = ld_err(l, ptr, "interpolation in '%.60s...' is too long", s);
			break;
		}
		memcpy(expr, d + 2, (size_t)(end - d - 2));
		expr[end - d - 2] = '\0';
		if (!(v = lookup(ctx, expr))) {
			rc = ld_err(l, ptr, "${%s}: not defined in params.yaml, vars or the foreach item", expr);
			break;
		}
		if (json_is_object(v) && in_cmd) {
			struct buf u = BUF_INIT;
			if (unpack_dict(v, "", &u)) {
				buf_release(&u);
				rc = ld_err(l, ptr, "${%s}: cannot unpack nested lists into a command", expr);
				break;
			}
			buf_put(&b, u.ptr, u.len);
			buf_release(&u);
		} else if (scalar_str(v, &b)) {
			rc = ld_err(l, ptr, "${%s} is a %s; only plain values can go inside a string", expr,
				    json_is_array(v) ? "list" : "mapping");
			break;
		}
		p = end + 1;
	}
	if (!rc && !(rc = buf_error(&b)) && !(*out = json_stringn(b.ptr, b.len)))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_release(&b);
	return rc;
}

/* Interpolate every string inside v (a new tree in *out). */
static int interp_value(struct ld *l, json_t *v, json_t *ctx, bool in_cmd, const char *ptr, json_t **out)
{
	struct buf cp = BUF_INIT;
	int rc = 0;

	if (json_is_string(v))
		return interp_str(l, json_string_value(v), ctx, in_cmd, ptr, out);
	if (json_is_array(v)) {
		size_t i;
		json_t *e, *r = json_array();
		json_array_foreach(v, i, e) {
			json_t *x;
			ptr_idx(&cp, ptr, i);
			if ((rc = interp_value(l, e, ctx, in_cmd, cp.ptr, &x)))
				break;
			json_array_append_new(r, x);
		}
		buf_release(&cp);
		if (rc)
			json_decref(r);
		else
			*out = r;
		return rc;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *e, *r = json_object();
		json_object_foreach(v, k, e) {
			json_t *x, *kv = NULL;
			ptr_join(&cp, ptr, k);
			if (strstr(k, "${")) {
				/* a key can be interpolated too: "- ${dir}/metrics.json: {cache: false}" */
				struct buf ks = BUF_INIT;
				if ((rc = interp_str(l, k, ctx, false, cp.ptr, &kv)))
					break;
				if (scalar_str(kv, &ks)) {
					json_decref(kv);
					buf_release(&ks);
					rc = ld_err(l, cp.ptr, "the key '%s' does not give a plain value", k);
					break;
				}
				json_decref(kv);
				kv = json_stringn(ks.ptr, ks.len);
				buf_release(&ks);
				if (!kv) {
					rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
					break;
				}
			}
			if ((rc = interp_value(l, e, ctx, in_cmd || !strcmp(k, "cmd"), cp.ptr, &x))) {
				json_decref(kv);
				break;
			}
			json_object_set_new(r, kv ? json_string_value(kv) : k, x);
			json_decref(kv);
		}
		buf_release(&cp);
		if (rc)
			json_decref(r);
		else
			*out = r;
		return rc;
	}
	*out = json_incref(v);
	return 0;
}

/* Join wdir and a path from the file, lexically, keeping it inside the
 * workspace. With allow_abs an absolute path is kept as it is (an external
 * dependency, as DVC accepts it). */
static int ws_path_ext(struct ld *l, const char *wdir, const char *p, const char *ptr, bool allow_abs, char **out)
{
	struct buf full = BUF_INIT, clean = BUF_INIT;
	int rc = 0;

	if (!*p)
		return ld_err(l, ptr, "empty path");
	if (allow_abs && path_uri_scheme_len(p) > 2 && !strncmp(p + path_uri_scheme_len(p), "//", 2)) {
		/* a URL dep (https://..., s3://...): external, kept as written */
		if (!(*out = cstrdup(p)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		return 0;
	}
	if (p[0] == '/' && allow_abs) {
		if (path_clean_rel(p + 1, strlen(p + 1), false, &clean)) {
			buf_release(&clean);
			return ld_err(l, ptr, "bad path '%s': %s", p, cairn_error_msg());
		}
		buf_release(&clean);
		if (!(*out = cstrdup(p)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		return 0;
	}
	if (p[0] == '/')
		return ld_err(l, ptr, "'%s' is an absolute path; outs and params files are relative to the stage's wdir", p);
	buf_printf(&full, "%s%s%s", wdir, *wdir ? "/" : "", p);
	if ((rc = buf_error(&full)))
		goto out;
	if (path_resolve_rel(full.ptr, true, &clean)) {
		rc = ld_err(l, ptr, strstr(cairn_error_msg(), "leads outside") ? "'%s' leads outside the workspace"
										: "bad path '%s'", p);
		goto out;
	}
	*out = buf_detach(&clean);
out:
	buf_release(&full);
	buf_release(&clean);
	return rc;
}

static int ws_path(struct ld *l, const char *wdir, const char *p, const char *ptr, char **out)
{
	return ws_path_ext(l, wdir, p, ptr, false, out);
}

/* "20m", "90s", "1h", "1.5h", or a number of seconds. */
static int parse_duration(const json_t *v, int64_t *ms)
{
	double x = json_is_number(v) ? json_number_value(v) : json_is_string(v) ? cairn_duration_s(json_string_value(v)) : -1;

	if (!(x > 0) || x > 1e9)
		return -1;
	*ms = (int64_t)(x * 1000);
	return 0;
}

static int parse_bytes(const json_t *v, int64_t *out)
{
	double x;
	char *end;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return *out >= 0 ? 0 : -1;
	}
	if (!json_is_string(v))
		return -1;
	x = strtod(json_string_value(v), &end);
	if (end == json_string_value(v) || x < 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': x *= 1024; end++; break;
	case 'm': case 'M': x *= 1024.0 * 1024; end++; break;
	case 'g': case 'G': x *= 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': x *= 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || x > 9e18)
		return -1;
	*out = (int64_t)x;
	return 0;
}

static bool in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(k, *list))
			return true;
	return false;
}

static struct pl_stage *new_stage(struct ld *l)
{
	struct pipeline *p = l->p;

	if (p->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct pl_stage *v = crealloc(p->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		p->v = v;
		l->cap = cap;
	}
	memset(&p->v[p->n], 0, sizeof(p->v[0]));
	return &p->v[p->n++];
}

static int parse_outs(struct ld *l, struct pl_stage *st, json_t *list, enum pl_out_kind kind, const char *sptr,
		      const char *field)
{
	struct buf ptr = BUF_INIT, fp = BUF_INIT;
	size_t i;
	json_t *e;
	int rc = 0;

	ptr_join(&fp, sptr, field);
	if (!json_is_array(list)) {
		rc = ld_err(l, fp.ptr, "stage '%s': '%s' must be a list", st->name, field);
		goto out;
	}
	json_array_foreach(list, i, e) {
		const char *path = NULL;
		json_t *opts = NULL, *v;
		struct pl_out *o;

		ptr_idx(&ptr, fp.ptr, i);
		if (json_is_string(e))
			path = json_string_value(e);
		else if (json_is_object(e) && json_object_size(e) == 1) {
			path = json_object_iter_key(json_object_iter(e));
			opts = json_object_iter_value(json_object_iter(e));
			if (!json_is_object(opts) && !json_is_null(opts)) {
				rc = ld_err(l, ptr.ptr, "stage '%s': options of '%s' must be a mapping", st->name, path);
				break;
			}
		} else {
			rc = ld_err(l, ptr.ptr, "stage '%s': each of '%s' is a path or {path: {options}}", st->name, field);
			break;
		}
		if (json_is_object(opts)) {
			const char *k;
			/* checkpoint: DVC 2's, accepted and ignored as DVC 3 does */
			static const char *const known[] = { "cache", "persist", "desc", "remote", "push", "type",
							    "labels", "meta", "x", "y", "template", "title",
							    "x_label", "y_label", "header", "checkpoint", NULL };
			json_object_foreach(opts, k, v) {
				if (!in_list(k, known)) {
					rc = ld_err(l, ptr.ptr, "stage '%s': unknown option '%s' of '%s'", st->name, k, path);
					goto out;
				}
			}
		}
		o = &st->outs[st->nouts];
		memset(o, 0, sizeof(*o));
		o->kind = kind;
		o->line = cyaml_line(l->lines, ptr.ptr);
		o->cache = true; /* metrics and plots too, as DVC does, unless cache: false */
		v = json_object_get(opts, "cache");
		if (v) {
			if (!json_is_boolean(v)) {
				rc = ld_err(l, ptr.ptr, "stage '%s': 'cache' of '%s' must be true or false", st->name, path);
				break;
			}
			o->cache = json_is_true(v);
		}
		v = json_object_get(opts, "persist");
		if (v) {
			if (!json_is_boolean(v)) {
				rc = ld_err(l, ptr.ptr, "stage '%s': 'persist' of '%s' must be true or false", st->name, path);
				break;
			}
			o->persist = json_is_true(v);
		}
		if ((rc = ws_path(l, st->wdir, path, ptr.ptr, &o->path)))
			break;
		o->opts = json_is_object(opts) ? json_incref(opts) : NULL;
		st->nouts++;
	}
out:
	buf_release(&ptr);
	buf_release(&fp);
	return rc;
}

static int add_param(struct ld *l, struct pl_stage *st, const char *file, const char *key, const char *ptr)
{
	struct pl_param *pp;
	json_t *doc, *v;
	int rc;

	if ((rc = params_doc(l, file, &doc)))
		return rc;
	if (json_is_null(doc))
		return ld_err(l, ptr, "stage '%s': params file '%s' does not exist", st->name, file);
	v = key ? lookup(doc, key) : doc;
	if (!v)
		return ld_err(l, ptr, "stage '%s': param '%s' is not in %s", st->name, key, file);
	pp = crealloc(st->params, (st->nparams + 1) * sizeof(*pp));
	if (!pp)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	st->params = pp;
	pp = &st->params[st->nparams++];
	memset(pp, 0, sizeof(*pp));
	pp->file = cstrdup(file);
	pp->key = key ? cstrdup(key) : NULL;
	pp->value = json_deep_copy(v);
	pp->line = cyaml_line(l->lines, ptr);
	if (!pp->file || (key && !pp->key) || !pp->value)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

static int parse_params(struct ld *l, struct pl_stage *st, json_t *list, const char *sptr)
{
	struct buf ptr = BUF_INIT, fp = BUF_INIT, pfile = BUF_INIT;
	size_t i;
	json_t *e;
	int rc = 0;

	ptr_join(&fp, sptr, "params");
	if (!json_is_array(list)) {
		rc = ld_err(l, fp.ptr, "stage '%s': 'params' must be a list", st->name);
		goto out;
	}
	/* the default params file is params.yaml in the stage's wdir */
	buf_printf(&pfile, "%s%sparams.yaml", st->wdir, *st->wdir ? "/" : "");
	json_array_foreach(list, i, e) {
		ptr_idx(&ptr, fp.ptr, i);
		if (json_is_string(e)) {
			if ((rc = add_param(l, st, pfile.ptr, json_string_value(e), ptr.ptr)))
				break;
		} else if (json_is_object(e)) {
			const char *f;
			json_t *keys;
			json_object_foreach(e, f, keys) {
				char *rel = NULL;
				if ((rc = ws_path(l, st->wdir, f, ptr.ptr, &rel)))
					break;
				if (json_is_null(keys) || (json_is_array(keys) && !json_array_size(keys))) {
					rc = add_param(l, st, rel, NULL, ptr.ptr);
				} else if (json_is_array(keys)) {
					size_t k;
					json_t *key;
					json_array_foreach(keys, k, key) {
						if (!json_is_string(key)) {
							rc = ld_err(l, ptr.ptr, "stage '%s': param keys of %s must be strings",
								    st->name, f);
							break;
						}
						if ((rc = add_param(l, st, rel, json_string_value(key), ptr.ptr)))
							break;
					}
				} else {
					rc = ld_err(l, ptr.ptr, "stage '%s': params of %s must be a list of keys", st->name, f);
				}
				free(rel);
				if (rc)
					break;
			}
			if (rc)
				break;
		} else {
			rc = ld_err(l, ptr.ptr, "stage '%s': each param is a key or {file: [keys]}", st->name);
			break;
		}
	}
out:
	buf_release(&ptr);
	buf_release(&fp);
	buf_release(&pfile);
	return rc;
}

static const char *const stage_keys[] = { "cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
					  "always_changed", "desc", "meta", "vars", "retries", "timeout",
					  "resources", "env", NULL };

/* One stage from its (already expanded) definition; ctx for ${}. */
static int parse_stage(struct ld *l, const char *name, json_t *raw, json_t *ctx, const char *sptr, int line)
{
	struct buf ptr = BUF_INIT;
	struct pl_stage *st;
	json_t *def = NULL, *v;
	const char *k;
	size_t nouts;
	int rc = 0;

	if (!json_is_object(raw))
		return ld_err(l, sptr, "stage '%s' must be a mapping", name);
	json_object_foreach(raw, k, v) {
		if (!in_list(k, stage_keys)) {
			ptr_join(&ptr, sptr, k);
			rc = ld_err(l, ptr.ptr, "stage '%s': unknown key '%s'", name, k);
			buf_release(&ptr);
			return rc;
		}
	}
	if (json_object_get(raw, "vars")) {
		/* stage-level vars: files relative to the stage's wdir, values for this stage only */
		json_t *wv = json_object_get(raw, "wdir"), *w = NULL, *body = json_copy(raw);
		char *dir = NULL;
		struct buf vp = BUF_INIT;
		ptr_join(&vp, sptr, "vars");
		if (!body)
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		else if (json_is_string(wv) && (rc = interp_str(l, json_string_value(wv), ctx, false, sptr, &w)))
			;
		else if (!(rc = ws_path(l, l->base, json_is_string(w) ? json_string_value(w) : ".", sptr, &dir)) &&
			 (ctx = json_deep_copy(ctx)) != NULL) {
			rc = vars_into(l, json_object_get(raw, "vars"), dir, ctx, vp.ptr);
			json_object_del(body, "vars");
			if (!rc)
				rc = interp_value(l, body, ctx, false, sptr, &def);
			json_decref(ctx);
		} else if (!rc) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		json_decref(w);
		json_decref(body);
		free(dir);
		buf_release(&vp);
		if (rc)
			return rc;
	} else if ((rc = interp_value(l, raw, ctx, false, sptr, &def))) {
		return rc;
	}
	if (l->p->n >= MAX_STAGES) {
		json_decref(def);
		return ld_err(l, sptr, "more than %d stages", MAX_STAGES);
	}
	if (!(st = new_stage(l))) {
		json_decref(def);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (l->prefixed) {
		struct buf full = BUF_INIT;
		buf_printf(&full, "%s:%s", l->file, name);
		st->name = buf_detach(&full);
	} else {
		st->name = cstrdup(name);
	}
	st->src = cstrdup(l->file);
	st->line = line;
	st->cpus = 1;
	st->env = json_object();
	/* wdir first: every path is relative to it */
	v = json_object_get(def, "wdir");
	ptr_join(&ptr, sptr, "wdir");
	if (v && !json_is_string(v)) {
		rc = ld_err(l, ptr.ptr, "stage '%s': 'wdir' must be a path", name);
		goto out;
	}
	if (v && strcmp(json_string_value(v), ".")) {
		if ((rc = ws_path(l, l->base, json_string_value(v), ptr.ptr, &st->wdir)))
			goto out;
	} else if (!(st->wdir = cstrdup(l->base))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	v = json_object_get(def, "cmd");
	ptr_join(&ptr, sptr, "cmd");
	if (json_is_string(v)) {
		st->cmds = ccalloc(1, sizeof(char *));
		if (st->cmds && (st->cmds[0] = cstrdup(json_string_value(v))))
			st->ncmds = 1;
	} else if (json_is_array(v) && json_array_size(v)) {
		size_t i;
		json_t *c;
		st->cmds = ccalloc(json_array_size(v), sizeof(char *));
		json_array_foreach(v, i, c) {
			if (!json_is_string(c) && !json_is_number(c)) {
				rc = ld_err(l, ptr.ptr, "stage '%s': each command must be a string", name);
				goto out;
			}
			if (st->cmds) {
				struct buf s = BUF_INIT;
				scalar_str(c, &s);
				st->cmds[st->ncmds++] = buf_detach(&s);
			}
		}
	} else {
		rc = ld_err(l, v ? ptr.ptr : sptr, "stage '%s' needs a 'cmd' (a string or a list of strings)", name);
		goto out;
	}
	for (size_t i = 0; i < st->ncmds; i++)
		if (!*st->cmds[i]) {
			rc = ld_err(l, ptr.ptr, "stage '%s': empty command", name);
			goto out;
		}
	v = json_object_get(def, "deps");
	if (v) {
		size_t i;
		json_t *d;
		ptr_join(&ptr, sptr, "deps");
		if (!json_is_array(v)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': 'deps' must be a list of paths", name);
			goto out;
		}
		st->deps = ccalloc(json_array_size(v) + 1, sizeof(*st->deps));
		json_array_foreach(v, i, d) {
			struct buf ip = BUF_INIT;
			ptr_idx(&ip, ptr.ptr, i);
			if (!json_is_string(d)) {
				rc = ld_err(l, ip.ptr, "stage '%s': each dep must be a path", name);
			} else if (st->deps) {
				st->deps[st->ndeps].line = cyaml_line(l->lines, ip.ptr);
				if (!(rc = ws_path_ext(l, st->wdir, json_string_value(d), ip.ptr, true,
						       &st->deps[st->ndeps].path)))
					st->ndeps++;
			}
			buf_release(&ip);
			if (rc)
				goto out;
		}
	}
	if ((v = json_object_get(def, "params")) && (rc = parse_params(l, st, v, sptr)))
		goto out;
	nouts = json_array_size(json_object_get(def, "outs")) + json_array_size(json_object_get(def, "metrics")) +
		json_array_size(json_object_get(def, "plots"));
	st->outs = ccalloc(nouts + 1, sizeof(*st->outs));
	if (!st->outs) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((v = json_object_get(def, "outs")) && (rc = parse_outs(l, st, v, PL_OUT, sptr, "outs")))
		goto out;
	if ((v = json_object_get(def, "metrics")) && (rc = parse_outs(l, st, v, PL_METRIC, sptr, "metrics")))
		goto out;
	if ((v = json_object_get(def, "plots")) && (rc = parse_outs(l, st, v, PL_PLOT, sptr, "plots")))
		goto out;
	for (const char *const *b = (const char *const[]){ "frozen", "always_changed", NULL }; *b; b++) {
		v = json_object_get(def, *b);
		ptr_join(&ptr, sptr, *b);
		if (v && !json_is_boolean(v)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': '%s' must be true or false", name, *b);
			goto out;
		}
	}
	st->frozen = json_is_true(json_object_get(def, "frozen"));
	st->always_changed = json_is_true(json_object_get(def, "always_changed"));
	if ((v = json_object_get(def, "retries"))) {
		ptr_join(&ptr, sptr, "retries");
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100) {
			rc = ld_err(l, ptr.ptr, "stage '%s': 'retries' must be a whole number from 0 to 100", name);
			goto out;
		}
		st->retries = (int)json_integer_value(v);
	}
	if ((v = json_object_get(def, "timeout"))) {
		ptr_join(&ptr, sptr, "timeout");
		if (parse_duration(v, &st->timeout_ms)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': 'timeout' must be seconds or a duration like 90s, 20m, 2h",
				    name);
			goto out;
		}
	}
	if ((v = json_object_get(def, "resources"))) {
		json_t *r;
		ptr_join(&ptr, sptr, "resources");
		if (!json_is_object(v)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': 'resources' must be {cpus, memory, gpus}", name);
			goto out;
		}
		json_object_foreach(v, k, r) {
			if (strcmp(k, "cpus") && strcmp(k, "memory") && strcmp(k, "gpus")) {
				rc = ld_err(l, ptr.ptr, "stage '%s': unknown resource '%s' (cpus, memory, gpus)", name, k);
				goto out;
			}
		}
		if ((r = json_object_get(v, "cpus"))) {
			if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 4096) {
				rc = ld_err(l, ptr.ptr, "stage '%s': resources.cpus must be a whole number >= 1", name);
				goto out;
			}
			st->cpus = (int)json_integer_value(r);
		}
		if ((r = json_object_get(v, "gpus"))) {
			if (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 1024) {
				rc = ld_err(l, ptr.ptr, "stage '%s': resources.gpus must be a whole number >= 0", name);
				goto out;
			}
			st->gpus = (int)json_integer_value(r);
		}
		if ((r = json_object_get(v, "memory")) && parse_bytes(r, &st->memory)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': resources.memory must be bytes or a size like 512M, 4G", name);
			goto out;
		}
	}
	if ((v = json_object_get(def, "env"))) {
		json_t *e;
		ptr_join(&ptr, sptr, "env");
		if (!json_is_object(v)) {
			rc = ld_err(l, ptr.ptr, "stage '%s': 'env' must be a mapping of names to values", name);
			goto out;
		}
		json_object_foreach(v, k, e) {
			struct buf s = BUF_INIT;
			if (!*k || strchr(k, '=') || scalar_str(e, &s) || json_is_null(e)) {
				buf_release(&s);
				rc = ld_err(l, ptr.ptr, "stage '%s': env '%s' must be a name without '=' and a plain value",
					    name, k);
				goto out;
			}
			json_object_set_new(st->env, k, json_stringn(s.ptr, s.len));
			buf_release(&s);
		}
	}
	if (!st->name || !st->src || !st->cmds || !st->env)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
out:
	buf_release(&ptr);
	json_decref(def);
	return rc;
}

static bool valid_stage_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-' || *s == '.' || *s == '@'))
			return false;
	return true;
}

/* A name foreach or matrix made: DVC takes any text, cairn only refuses
 * what would break "FILE:name" addresses and log names. */
static bool valid_generated_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == ':' || *s == 0x7f)
			return false;
	return true;
}

/* Was the stage name (short) already made by this foreach, from index from?
 * (DVC keys items by their text: a repeated item is one stage.) */
static bool made_since(struct ld *l, size_t from, const char *name)
{
	for (size_t i = from; i < l->p->n; i++) {
		const char *n = l->p->v[i].name;
		if (l->prefixed)
			n += strlen(l->file) + 1;
		if (!strcmp(n, name))
			return true;
	}
	return false;
}

/* foreach/do and matrix: one stage per item, named name@item. */
static int expand(struct ld *l, const char *name, json_t *raw, const char *sptr)
{
	json_t *fe = json_object_get(raw, "foreach"), *mx = json_object_get(raw, "matrix");
	struct buf ptr = BUF_INIT, sname = BUF_INIT;
	int line = cyaml_line(l->lines, sptr), rc = 0;

	if (!valid_stage_name(name))
		return ld_err(l, sptr, "stage name '%s' may use letters, digits, '_', '-' and '.' only", name);
	if (!fe && !mx)
		return parse_stage(l, name, raw, l->ctx, sptr, line);
	if (fe && mx)
		return ld_err(l, sptr, "stage '%s': use foreach or matrix, not both", name);
	if (fe) {
		json_t *items = NULL, *tmpl = json_object_get(raw, "do"), *e;
		const char *k;
		size_t i;
		json_object_foreach(raw, k, e)
			if (strcmp(k, "foreach") && strcmp(k, "do")) {
				ptr_join(&ptr, sptr, k);
				rc = ld_err(l, ptr.ptr, "stage '%s': with foreach, '%s' belongs inside 'do'", name, k);
				goto out;
			}
		if (!tmpl) {
			rc = ld_err(l, sptr, "stage '%s': foreach needs a 'do' template", name);
			goto out;
		}
		ptr_join(&ptr, sptr, "foreach");
		if ((rc = interp_value(l, fe, l->ctx, false, ptr.ptr, &items)))
			goto out;
		if (!json_is_array(items) && !json_is_object(items)) {
			json_decref(items);
			rc = ld_err(l, ptr.ptr, "stage '%s': foreach takes a list or a mapping", name);
			goto out;
		}
		ptr_join(&ptr, sptr, "do");
		if (json_is_array(items)) {
			size_t from = l->p->n;
			bool composite = false;
			json_array_foreach(items, i, e)
				composite |= json_is_array(e) || json_is_object(e);
			json_array_foreach(items, i, e) {
				json_t *ctx;
				buf_clear(&sname);
				/* DVC: items name their stages, or their indexes when any item is a list or mapping */
				if (!composite) {
					buf_printf(&sname, "%s@", name);
					scalar_str(e, &sname);
				} else
					buf_printf(&sname, "%s@%zu", name, i);
				if (made_since(l, from, sname.ptr))
					continue;
				ctx = json_deep_copy(l->ctx);
				json_object_set(ctx, "item", e);
				rc = valid_generated_name(sname.ptr) ? parse_stage(l, sname.ptr, tmpl, ctx, ptr.ptr, line)
								 : ld_err(l, sptr, "foreach item gives the bad stage name '%s'",
									  sname.ptr);
				json_decref(ctx);
				if (rc)
					break;
			}
		} else {
			json_object_foreach(items, k, e) {
				json_t *ctx = json_deep_copy(l->ctx);
				buf_clear(&sname);
				buf_printf(&sname, "%s@%s", name, k);
				json_object_set(ctx, "item", e);
				json_object_set_new(ctx, "key", json_string(k));
				rc = valid_generated_name(sname.ptr) ? parse_stage(l, sname.ptr, tmpl, ctx, ptr.ptr, line)
								 : ld_err(l, sptr, "foreach key gives the bad stage name '%s'",
									  sname.ptr);
				json_decref(ctx);
				if (rc)
					break;
			}
		}
		json_decref(items);
	} else {
		/* matrix: the cross product of every list */
		json_t *axes = NULL, *tmpl = json_deep_copy(raw), *e;
		const char *k;
		size_t total = 1, naxes;
		json_object_del(tmpl, "matrix");
		ptr_join(&ptr, sptr, "matrix");
		if (!json_is_object(mx) || !json_object_size(mx)) {
			json_decref(tmpl);
			rc = ld_err(l, ptr.ptr, "stage '%s': matrix takes a mapping of names to lists", name);
			goto out;
		}
		if ((rc = interp_value(l, mx, l->ctx, false, ptr.ptr, &axes))) {
			json_decref(tmpl);
			goto out;
		}
		json_object_foreach(axes, k, e) {
			if (!json_is_array(e) || !json_array_size(e)) {
				rc = ld_err(l, ptr.ptr, "stage '%s': matrix '%s' must be a non-empty list", name, k);
				break;
			}
			total *= json_array_size(e);
			if (total > MAX_STAGES) {
				rc = ld_err(l, ptr.ptr, "stage '%s': the matrix has more than %d combinations", name, MAX_STAGES);
				break;
			}
		}
		naxes = json_object_size(axes);
		for (size_t c = 0; !rc && c < total; c++) {
			json_t *ctx = json_deep_copy(l->ctx), *item = json_object();
			size_t rest = c, a = 0;
			buf_clear(&sname);
			buf_printf(&sname, "%s@", name);
			/* the last axis varies fastest */
			size_t *idx = ccalloc(naxes, sizeof(size_t));
			json_t **vals = ccalloc(naxes, sizeof(json_t *));
			const char **names = ccalloc(naxes, sizeof(char *));
			json_object_foreach(axes, k, e) {
				names[a] = k;
				vals[a++] = e;
			}
			for (size_t x = naxes; x-- > 0;) {
				idx[x] = rest % json_array_size(vals[x]);
				rest /= json_array_size(vals[x]);
			}
			for (size_t x = 0; x < naxes; x++) {
				json_t *val = json_array_get(vals[x], idx[x]);
				if (x)
					buf_putc(&sname, '-');
				/* DVC: a plain value names itself, a list or mapping "<axis><index>" */
				if (scalar_str(val, &sname))
					buf_printf(&sname, "%s%zu", names[x], idx[x]);
				json_object_set(item, names[x], val);
			}
			free(idx);
			free(vals);
			free(names);
			json_object_set_new(ctx, "item", item);
			rc = valid_generated_name(sname.ptr) ? parse_stage(l, sname.ptr, tmpl, ctx, sptr, line)
							 : ld_err(l, sptr, "matrix values give the bad stage name '%s'", sname.ptr);
			json_decref(ctx);
		}
		json_decref(axes);
		json_decref(tmpl);
	}
out:
	buf_release(&ptr);
	buf_release(&sname);
	return rc;
}

/* Merge src into dst, recursively for mappings. */
static void merge_into(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v;

	json_object_foreach(src, k, v) {
		json_t *d = json_object_get(dst, k);
		if (json_is_object(d) && json_is_object(v))
			merge_into(d, v);
		else
			json_object_set_new(dst, k, json_deep_copy(v));
	}
}

/* Merge the entries of a vars list (mappings, "file.yaml",
 * "file.yaml:key1,key2"; files relative to dir) into ctx. */
static int vars_into(struct ld *l, json_t *vars, const char *dir, json_t *ctx, const char *vptr)
{
	struct buf ptr = BUF_INIT;
	json_t *doc, *e;
	size_t i;
	int rc = 0;

	if (!json_is_array(vars))
		return ld_err(l, vptr, "'vars' must be a list of mappings or file names");
	json_array_foreach(vars, i, e) {
		ptr_idx(&ptr, vptr, i);
		if (json_is_object(e)) {
			merge_into(ctx, e);
		} else if (json_is_string(e)) {
			/* "file.yaml" or "file.yaml:key1,key2" */
			char *spec = cstrdup(json_string_value(e)), *colon = spec ? strchr(spec, ':') : NULL, *rel = NULL;
			if (colon)
				*colon = '\0';
			if (!spec || (rc = ws_path(l, dir, spec, ptr.ptr, &rel)) || (rc = params_doc(l, rel, &doc))) {
				free(spec);
				free(rel);
				if (!rc)
					rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			if (!json_is_object(doc)) {
				rc = ld_err(l, ptr.ptr, "vars file '%s' does not exist or is not a mapping", rel);
			} else if (colon) {
				for (char *key = colon + 1; *key && !rc;) {
					size_t n = strcspn(key, ",");
					char save = key[n];
					json_t *v;
					key[n] = '\0';
					if (!(v = lookup(doc, key)))
						rc = ld_err(l, ptr.ptr, "vars: '%s' is not in %s", key, rel);
					else
						json_object_set_new(ctx, key, json_deep_copy(v));
					key[n] = save;
					key += n + (save == ',');
				}
			} else {
				merge_into(ctx, doc);
			}
			free(spec);
			free(rel);
			if (rc)
				break;
		} else {
			rc = ld_err(l, ptr.ptr, "each of 'vars' is a mapping or a file name");
			break;
		}
	}
	buf_release(&ptr);
	return rc;
}

/* The interpolation context of a file: params.yaml beside it, then its vars. */
static int load_vars(struct ld *l)
{
	json_t *vars = json_object_get(l->doc, "vars"), *doc;
	struct buf pf = BUF_INIT;
	int rc;

	buf_printf(&pf, "%s%sparams.yaml", l->base, *l->base ? "/" : "");
	rc = buf_error(&pf) ? buf_error(&pf) : params_doc(l, pf.ptr, &doc);
	buf_release(&pf);
	if (rc)
		return rc;
	json_decref(l->ctx);
	l->ctx = json_is_object(doc) ? json_deep_copy(doc) : json_object();
	if (!vars)
		return 0;
	return vars_into(l, vars, l->base, l->ctx, "/vars");
}

/* triggers: [{cron: "0 3 * * *"}, {every: 10m}, {watch: data/raw.csv.cairn}] (cairn server --pipeline) */
static int load_triggers(struct ld *l)
{
	json_t *list = json_object_get(l->doc, "triggers"), *e;
	struct buf ptr = BUF_INIT;
	size_t i;
	int rc = 0;

	if (!l->p->triggers)
		l->p->triggers = json_array();
	if (!list)
		return 0;
	if (!json_is_array(list))
		return ld_err(l, "/triggers", "'triggers' must be a list of {cron: EXPR}, {every: DURATION} or {watch: PATH}");
	json_array_foreach(list, i, e) {
		json_t *v;
		ptr_idx(&ptr, "/triggers", i);
		if (!json_is_object(e) || json_object_size(e) != 1) {
			rc = ld_err(l, ptr.ptr, "each trigger is one of {cron: EXPR}, {every: DURATION}, {watch: PATH}");
			break;
		}
		if ((v = json_object_get(e, "cron"))) {
			struct cron c;
			if (!json_is_string(v) || cron_parse(json_string_value(v), &c)) {
				rc = ld_err(l, ptr.ptr, "%s", json_is_string(v) ? cairn_error_msg() : "cron takes a string");
				break;
			}
			json_array_append_new(l->p->triggers, json_pack("{s:O}", "cron", v));
		} else if ((v = json_object_get(e, "every"))) {
			int64_t ms;
			if (parse_duration(v, &ms) || ms < 1000) {
				rc = ld_err(l, ptr.ptr, "'every' takes a duration of at least 1s, like 30s, 10m, 1h");
				break;
			}
			json_array_append_new(l->p->triggers, json_pack("{s:I}", "every", (json_int_t)ms));
		} else if ((v = json_object_get(e, "watch"))) {
			char *rel = NULL;
			if (!json_is_string(v) || (rc = ws_path(l, "", json_string_value(v), ptr.ptr, &rel))) {
				free(rel);
				if (!rc)
					rc = ld_err(l, ptr.ptr, "watch takes a path");
				break;
			}
			json_array_append_new(l->p->triggers, json_pack("{s:s}", "watch", rel));
			free(rel);
		} else {
			rc = ld_err(l, ptr.ptr, "unknown trigger '%s' (cron, every, watch)",
				    json_object_iter_key(json_object_iter(e)));
			break;
		}
	}
	buf_release(&ptr);
	return rc;
}

/* Top-level "metrics:" (paths) and "plots:" (paths or {id: {x, y, ...}}) of a
 * file in folder base, kept for cairn metrics / cairn plots. */
static int load_top_outputs(struct ld *l, const char *base)
{
	json_t *m = json_object_get(l->doc, "metrics"), *pl = json_object_get(l->doc, "plots"), *e;
	struct buf ptr = BUF_INIT;
	size_t i;
	int rc = 0;

	if (!l->p->metrics)
		l->p->metrics = json_array();
	if (!l->p->plots)
		l->p->plots = json_array();
	if (!l->p->metrics || !l->p->plots)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (m && !json_is_array(m))
		return ld_err(l, "/metrics", "'metrics' must be a list of files");
	if (pl && !json_is_array(pl))
		return ld_err(l, "/plots", "'plots' must be a list of files or {id: {options}}");
	json_array_foreach(m, i, e) {
		char *rel = NULL;
		ptr_idx(&ptr, "/metrics", i);
		if (!json_is_string(e)) {
			rc = ld_err(l, ptr.ptr, "each of 'metrics' is a file name");
			break;
		}
		if ((rc = ws_path(l, base, json_string_value(e), ptr.ptr, &rel)))
			break;
		json_array_append_new(l->p->metrics, json_string(rel));
		free(rel);
	}
	json_array_foreach(pl, i, e) {
		ptr_idx(&ptr, "/plots", i);
		if (rc)
			break;
		if (!json_is_string(e) && !(json_is_object(e) && json_object_size(e) == 1)) {
			rc = ld_err(l, ptr.ptr, "each of 'plots' is a file name or {id: {options}}");
			break;
		}
		json_array_append_new(l->p->plots, json_pack("{s:s,s:O}", "base", base, "def", e));
	}
	buf_release(&ptr);
	return rc;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct pl_stage *s = &p->v[i];
		free(s->name);
		free(s->src);
		for (size_t k = 0; k < s->ncmds; k++)
			free(s->cmds[k]);
		free(s->cmds);
		free(s->wdir);
		for (size_t k = 0; k < s->ndeps; k++)
			free(s->deps[k].path);
		free(s->deps);
		for (size_t k = 0; k < s->nparams; k++) {
			free(s->params[k].file);
			free(s->params[k].key);
			json_decref(s->params[k].value);
		}
		free(s->params);
		for (size_t k = 0; k < s->nouts; k++) {
			free(s->outs[k].path);
			json_decref(s->outs[k].opts);
		}
		free(s->outs);
		json_decref(s->env);
		free(s->up);
		free(s->pup);
	}
	for (size_t i = 0; i < p->nptrs; i++) {
		for (size_t k = 0; k < p->ptrs[i].nouts; k++)
			free(p->ptrs[i].outs[k]);
		free(p->ptrs[i].outs);
		free(p->ptrs[i].file);
	}
	free(p->ptrs);
	json_decref(p->files);
	free(p->v);
	free(p->order);
	json_decref(p->triggers);
	json_decref(p->metrics);
	json_decref(p->plots);
	free(p->file);
	free(p->root);
	free(p);
}

long pipeline_find(const struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].name, name))
			return (long)i;
	return -1;
}

/* The short name of a stage (after "FILE:"). */
static const char *short_name(const struct pl_stage *s)
{
	size_t n = strlen(s->src);

	return !strncmp(s->name, s->src, n) && s->name[n] == ':' ? s->name + n + 1 : s->name;
}

int pipeline_select(const struct pipeline *p, const char *target, bool *sel)
{
	const char *colon = strstr(target, ".yaml:");
	struct buf file = BUF_INIT, name = BUF_INIT;
	size_t hits = 0;
	long i;
	int rc = 0;

	if ((i = pipeline_find(p, target)) >= 0) {
		sel[i] = true;
		return 0;
	}
	/* "FILE:NAME", "FILE" or "NAME"; "./" and a leading path are the same file */
	if (colon) {
		buf_put(&file, target, (size_t)(colon - target) + 5);
		buf_puts(&name, colon + 6);
	} else if (strlen(target) >= 8 && !strcmp(target + strlen(target) - 8, "dvc.yaml")) {
		buf_puts(&file, target);
	} else {
		buf_puts(&name, target);
	}
	if ((rc = buf_error(&file)) || (rc = buf_error(&name)))
		goto out;
	while (file.len > 2 && !strncmp(file.ptr, "./", 2)) {
		memmove(file.ptr, file.ptr + 2, file.len - 1);
		file.len -= 2;
	}
	for (size_t k = 0; k < p->n; k++) {
		const struct pl_stage *s = &p->v[k];
		const char *sn = short_name(s), *at = strrchr(sn, '@');
		bool file_ok = !file.len || !strcmp(s->src, file.ptr);
		bool name_ok = !name.len || !strcmp(sn, name.ptr) ||
			       (at && (size_t)(at - sn) == name.len && !strncmp(sn, name.ptr, name.len));
		if (file_ok && name_ok) {
			sel[k] = true;
			hits++;
		}
	}
	if (!hits) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no stage named '%s' in %s", target,
				     json_array_size(p->files) > 1 ? "the workspace's dvc.yaml files" : p->file);
	} else if (!file.len && name.len) {
		/* a bare name: the stages of one file only (else say which to pick) */
		const char *first = NULL;
		for (size_t k = 0; k < p->n && !rc; k++)
			if (sel[k] && !first)
				first = p->v[k].src;
			else if (sel[k] && strcmp(first, p->v[k].src)) {
				/* the root file wins, as DVC reads "train" as ./dvc.yaml:train */
				bool root_has = false;
				for (size_t j = 0; j < p->n; j++)
					root_has |= sel[j] && !strchr(p->v[j].src, '/');
				if (root_has) {
					for (size_t j = 0; j < p->n; j++)
						if (strchr(p->v[j].src, '/'))
							sel[j] = false;
				} else {
					for (size_t j = 0; j < p->n; j++)
						sel[j] = false;
					rc = cairn_error_set(CAIRN_EINVALID, "'%s' names stages in %s and %s: say which, as %s:%s",
							     target, first, p->v[k].src, first, name.ptr);
				}
				break;
			}
	}
out:
	buf_release(&file);
	buf_release(&name);
	return rc;
}

/* A .dvc pointer file: the paths of its outs (relative to its folder). */
static int load_pointer(struct ld *l, const char *rel)
{
	struct buf abs = BUF_INIT, text = BUF_INIT;
	struct pl_pointer *v, *pt;
	json_t *doc = NULL, *outs, *e;
	const char *slash = strrchr(rel, '/');
	char *dir = slash ? cstrndup(rel, (size_t)(slash - rel)) : cstrdup("");
	size_t i;
	int rc = 0;

	buf_printf(&abs, "%s/%s", l->root, rel);
	if (!dir || buf_error(&abs)) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* an unreadable or broken pointer is DVC's business (dvc status reports it): no node */
	if (fs_read_file(abs.ptr, SPEC_MAX, &text) || cyaml_parse(text.ptr, text.len, &doc) ||
	    !json_is_array(outs = json_object_get(doc, "outs"))) {
		cairn_error_clear();
		goto out;
	}
	if (!(v = crealloc(l->p->ptrs, (l->p->nptrs + 1) * sizeof(*v)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	l->p->ptrs = v;
	pt = &v[l->p->nptrs++];
	memset(pt, 0, sizeof(*pt));
	pt->file = cstrdup(rel);
	pt->outs = ccalloc(json_array_size(outs) + 1, sizeof(char *));
	if (!pt->file || !pt->outs) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if (json_is_string(json_object_get(doc, "wdir"))) {
		/* an import's .dvc file may say wdir: .. (its outs relative to that) */
		char *w = NULL;
		if (!ws_path(l, dir, json_string_value(json_object_get(doc, "wdir")), NULL, &w)) {
			free(dir);
			dir = w;
		}
		cairn_error_clear();
	}
	json_array_foreach(outs, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));
		char *full = NULL;
		if (!path || ws_path(l, dir, path, NULL, &full)) {
			cairn_error_clear();
			continue;
		}
		pt->outs[pt->nouts++] = full;
	}
out:
	json_decref(doc);
	free(dir);
	buf_release(&abs);
	buf_release(&text);
	return rc;
}

/* One pipeline file: its vars, triggers, top-level metrics/plots and stages. */
static int load_file(struct ld *l, const char *file)
{
	struct buf abs = BUF_INIT, text = BUF_INIT, ptr = BUF_INIT, base = BUF_INIT;
	const char *slash = strrchr(file, '/');
	json_t *stages, *v;
	const char *k;
	int rc;

	buf_put(&base, file, slash ? (size_t)(slash - file) : 0);
	buf_printf(&abs, "%s/%s", l->root, file);
	if ((rc = buf_error(&base)) || (rc = buf_error(&abs)))
		goto out;
	l->file = file;
	l->base = base.ptr ? base.ptr : "";
	l->prefixed = slash != NULL;
	if ((rc = fs_read_file(abs.ptr, SPEC_MAX, &text))) {
		if (rc == CAIRN_ENOTFOUND)
			rc = cairn_error_set(CAIRN_ENOTFOUND, "no pipeline: %s does not exist in %s", file, l->root);
		goto out;
	}
	if ((rc = cyaml_parse_lines(text.ptr, text.len, &l->doc, &l->lines))) {
		rc = cairn_error_set(rc, "%s: %s", file, cairn_error_msg());
		goto out;
	}
	if (json_is_null(l->doc)) {
		json_decref(l->doc);
		l->doc = json_object();
	}
	if (!json_is_object(l->doc)) {
		rc = ld_err(l, NULL, "not a YAML mapping with 'stages'");
		goto out;
	}
	json_object_foreach(l->doc, k, v) {
		if (strcmp(k, "stages") && strcmp(k, "vars") && strcmp(k, "params") && strcmp(k, "metrics") &&
		    strcmp(k, "plots") && strcmp(k, "artifacts") && strcmp(k, "datasets") && strcmp(k, "schema") &&
		    strcmp(k, "triggers")) {
			ptr_join(&ptr, "", k);
			rc = ld_err(l, ptr.ptr, "unknown top-level key '%s' (stages, vars, params, metrics, plots)", k);
			goto out;
		}
	}
	/* a file with no stages (only metrics and plots, as dvclive writes it) is fine */
	stages = json_object_get(l->doc, "stages");
	if (stages && !json_is_object(stages) && !json_is_null(stages)) {
		rc = ld_err(l, "/stages", "'stages' must be a mapping of stage names to stages");
		goto out;
	}
	if ((rc = load_vars(l)) || (rc = load_triggers(l)) || (rc = load_top_outputs(l, l->base)))
		goto out;
	json_object_foreach(stages, k, v) {
		ptr_join(&ptr, "/stages", k);
		if ((rc = expand(l, k, v, ptr.ptr)))
			goto out;
	}
out:
	json_decref(l->doc);
	json_decref(l->lines);
	json_decref(l->ctx);
	l->doc = l->lines = l->ctx = NULL;
	l->base = "";
	buf_release(&abs);
	buf_release(&text);
	buf_release(&ptr);
	buf_release(&base);
	return rc;
}

int pipeline_load(const char *root, const char *file, struct pipeline **out)
{
	struct ld l = { .root = root, .base = "" };
	struct buf abs = BUF_INIT;
	json_t *files = NULL, *dvcfiles = NULL, *e;
	size_t i;
	int rc;

	*out = NULL;
	l.p = ccalloc(1, sizeof(*l.p));
	l.params = json_object();
	if (!l.p || !l.params) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	l.p->root = cstrdup(root);
	if ((rc = data_find_dvc_files(root, &dvcfiles, file ? NULL : &files)))
		goto out;
	buf_printf(&abs, "%s/cairn.yaml", root);
	if (file || access(abs.ptr, F_OK) == 0) {
		json_decref(files);
		files = json_pack("[s]", file ? file : "cairn.yaml");
	} else if (!json_array_size(files)) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no pipeline: neither cairn.yaml nor dvc.yaml in %s", root);
		goto out;
	}
	l.p->files = json_incref(files);
	l.p->file = cstrdup(json_string_value(json_array_get(files, 0)));
	if (!l.p->root || !l.p->file || !l.p->files) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(files, i, e)
		if ((rc = load_file(&l, json_string_value(e))))
			goto out;
	json_array_foreach(dvcfiles, i, e)
		if ((rc = load_pointer(&l, json_string_value(e))))
			goto out;
	for (size_t a = 0; a < l.p->n; a++)
		for (size_t b = a + 1; b < l.p->n; b++)
			if (!strcmp(l.p->v[a].name, l.p->v[b].name)) {
				rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: stage name '%s' is used twice (also line %d)",
						     l.p->v[b].src, l.p->v[b].line, l.p->v[b].name, l.p->v[a].line);
				goto out;
			}
	rc = pl_build_dag(l.p);
out:
	if (rc) {
		pipeline_free(l.p);
	} else {
		*out = l.p;
	}
	json_decref(files);
	json_decref(dvcfiles);
	json_decref(l.params);
	buf_release(&abs);
	return rc;
}
