/* yaml.c - libyaml wrapper: one YAML document <-> a jansson tree (core schema). */
#include "core/yaml.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

/* ---- parsing ---- */

/* An anchored node, kept for the aliases that follow it. */
struct anchor {
	json_t *node;   /* the finished node (a reference) */
	char *raw;      /* scalars: the source text, for use as a mapping key */
	size_t rawlen;
	size_t nodes;   /* nodes in the subtree, expansions included */
	size_t bytes;   /* scalar bytes in the subtree */
	int height;     /* 0 for a scalar, 1 + tallest child for a collection */
};

/* One open mapping or sequence. */
struct frame {
	json_t *node;        /* the object or array being filled */
	char *anchor;        /* its anchor name, or NULL */
	size_t nodes_at;     /* ctx->nodes when it started */
	size_t bytes_at;     /* ctx->bytes when it started */
	int height;          /* 1 + tallest child so far */
	char *key;           /* mappings: the key waiting for its value */
	size_t keylen;
	bool have_key;       /* mappings: a key was read, its value is next */
	bool merge;          /* mappings: the pending key is "<<" */
	yaml_mark_t key_mark;
	json_t *merges;      /* mappings: "<<" sources, applied at the end */
	char *path;          /* its JSON pointer, when lines are recorded */
	yaml_mark_t start;   /* where it began */
};

struct ctx {
	struct cyaml_limits lim;
	const char *text;
	size_t len;
	struct frame *stack;
	int depth;           /* frames in use */
	size_t nodes, bytes; /* running totals, expansions included */
	struct anchor *anchors;
	size_t nanchors, capanchors;
	json_t *anchor_index; /* name -> index into anchors */
	json_t *root;
	bool have_root;
	json_t *lines;       /* JSON pointer -> 1-based line, or NULL */
};

/* Append "/<segment>" to a JSON pointer, escaping '~' and '/' (RFC 6901). */
static char *pointer_join(const char *base, const char *seg, size_t n)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, base ? base : "");
	buf_putc(&b, '/');
	for (size_t i = 0; i < n; i++) {
		if (seg[i] == '~')
			buf_puts(&b, "~0");
		else if (seg[i] == '/')
			buf_puts(&b, "~1");
		else
			buf_putc(&b, seg[i]);
	}
	if (buf_error(&b)) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/* The pointer of the next value of frame f (its pending key, or its next index). */
static char *next_pointer(const struct frame *f)
{
	char idx[32];

	if (json_is_array(f->node)) {
		int n = snprintf(idx, sizeof(idx), "%zu", json_array_size(f->node));
		return pointer_join(f->path, idx, (size_t)n);
	}
	return pointer_join(f->path, f->key ? f->key : "", f->key ? f->keylen : 0);
}

static int record_line(struct ctx *c, const struct frame *f, size_t line0)
{
	char *ptr;
	int rc = 0;

	if (!c->lines || f->merge)
		return 0;
	ptr = next_pointer(f);
	if (!ptr || json_object_set_new(c->lines, ptr, json_integer((json_int_t)line0 + 1)))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	free(ptr);
	return rc;
}

static int at(const yaml_mark_t *m, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record "line L, column C: <message>" for a 0-based mark. */
static int at(const yaml_mark_t *m, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(code, "line %zu, column %zu: %s", m->line + 1, m->column + 1, msg);
}

/* Line and column (0-based) of a byte offset, for reader errors. */
static yaml_mark_t mark_of_offset(const char *text, size_t len, size_t off)
{
	yaml_mark_t m = { off, 0, 0 };

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)text[i] & 0xC0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static int parser_error(struct ctx *c, const yaml_parser_t *p)
{
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "malformed YAML";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return cairn_error_set(CAIRN_ENOMEM, "out of memory parsing YAML");
	case YAML_READER_ERROR:
		m = mark_of_offset(c->text, c->len, p->problem_offset);
		if (p->problem_value != -1)
			return at(&m, CAIRN_EINVALID, "%s (#%X)", problem, (unsigned)p->problem_value);
		return at(&m, CAIRN_EINVALID, "%s", problem);
	default:
		break;
	}
	if (p->context)
		return at(&m, CAIRN_EINVALID, "%s %s at line %zu, column %zu", problem, p->context,
			  p->context_mark.line + 1, p->context_mark.column + 1);
	return at(&m, CAIRN_EINVALID, "%s", problem);
}

static bool all_digits(const char *s, size_t n, int base)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = base == 16 ? ((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'))
			: base == 8 ? (ch >= '0' && ch <= '7') : (ch >= '0' && ch <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static bool is_one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && !memcmp(s, *words, n))
			return true;
	return false;
}

static const char *const null_words[] = { "null", "Null", "NULL", "~", NULL };
static const char *const true_words[] = { "true", "True", "TRUE", NULL };
static const char *const false_words[] = { "false", "False", "FALSE", NULL };

/* An unsigned integer in base 8 or 16 (digits only): integer, or real past int64. */
static json_t *based_int(const char *s, size_t n, int base)
{
	uint64_t u = 0;
	double d = 0;
	bool big = false;

	for (size_t i = 0; i < n; i++) {
		int dig = s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10;
		d = d * base + dig;
		if (!big && u > (UINT64_MAX - (uint64_t)dig) / (uint64_t)base)
			big = true;
		else
			u = u * (uint64_t)base + (uint64_t)dig;
	}
	if (big || u > (uint64_t)INT64_MAX)
		return cjson_double(d);
	return json_integer((json_int_t)u);
}

/* The YAML 1.2 core-schema float syntax (not the special values). */
static bool is_float_syntax(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = 0;
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, e++;
		if (!e)
			return false;
	}
	return i == n;
}

/* A real from float syntax (strtod on a NUL-terminated copy). */
static json_t *parse_real(const char *s, size_t n)
{
	char tmp[128];
	char *heap = NULL, *p = tmp;
	double d;

	if (n >= sizeof(tmp)) {
		heap = cmalloc(n + 1);
		if (!heap)
			return NULL;
		p = heap;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	d = strtod(p, NULL);
	free(heap);
	return cjson_double(d);
}

/* Special floats: .inf, -.Inf, +.INF, .nan... Sets *d when it is one. */
static bool special_float(const char *s, size_t n, double *d)
{
	static const char *const infs[] = { ".inf", ".Inf", ".INF", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	double sign = 1;

	if (is_one_of(s, n, nans)) {
		*d = NAN;
		return true;
	}
	if (n && (s[0] == '-' || s[0] == '+')) {
		sign = s[0] == '-' ? -1 : 1;
		s++, n--;
	}
	if (is_one_of(s, n, infs)) {
		*d = sign * INFINITY;
		return true;
	}
	return false;
}

/* Integer syntax: [-+]?[0-9]+, 0x[0-9a-fA-F]+, 0o[0-7]+. NULL *out: not an int. */
static int resolve_int(const char *s, size_t n, json_t **out)
{
	*out = NULL;
	if (n > 2 && s[0] == '0' && s[1] == 'x' && all_digits(s + 2, n - 2, 16)) {
		*out = based_int(s + 2, n - 2, 16);
	} else if (n > 2 && s[0] == '0' && s[1] == 'o' && all_digits(s + 2, n - 2, 8)) {
		*out = based_int(s + 2, n - 2, 8);
	} else {
		size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
		char tmp[32];
		long long v;
		char *end;

		if (!all_digits(s + i, n - i, 10))
			return 0;
		if (n >= sizeof(tmp)) {
			*out = parse_real(s, n);
		} else {
			memcpy(tmp, s, n);
			tmp[n] = '\0';
			errno = 0;
			v = strtoll(tmp, &end, 10);
			*out = errno == ERANGE ? parse_real(s, n) : json_integer((json_int_t)v);
		}
	}
	return *out ? 1 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* Resolve a plain scalar by the core schema. */
static json_t *resolve_plain(const char *s, size_t n)
{
	json_t *v;
	double d;

	if (n == 0 || is_one_of(s, n, null_words))
		return json_null();
	if (is_one_of(s, n, true_words))
		return json_true();
	if (is_one_of(s, n, false_words))
		return json_false();
	if (resolve_int(s, n, &v) != 0)
		return v;
	if (special_float(s, n, &d))
		return cjson_double(d);
	if (is_float_syntax(s, n))
		return parse_real(s, n);
	return json_stringn(s, n);
}

/* Build the JSON value of a scalar event, honouring its tag. */
static int scalar_value(const yaml_event_t *ev, json_t **out)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	json_t *v = NULL;
	double d;

	*out = NULL;
	if (tag && strcmp(tag, "!") && strcmp(tag, "?")) {
		const char *t = strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) ? NULL : tag + strlen(TAG_PREFIX);

		if (!t)
			return at(&ev->start_mark, CAIRN_EINVALID, "unsupported tag '%.100s'", tag);
		if (!strcmp(t, "str") || !strcmp(t, "binary") || !strcmp(t, "timestamp")) {
			v = json_stringn(s, n);
		} else if (!strcmp(t, "null")) {
			if (n && !is_one_of(s, n, null_words))
				return at(&ev->start_mark, CAIRN_EINVALID, "'%.100s' is not a !!null", s);
			v = json_null();
		} else if (!strcmp(t, "bool")) {
			if (is_one_of(s, n, true_words))
				v = json_true();
			else if (is_one_of(s, n, false_words))
				v = json_false();
			else
				return at(&ev->start_mark, CAIRN_EINVALID, "'%.100s' is not a !!bool", s);
		} else if (!strcmp(t, "int")) {
			int rc = resolve_int(s, n, &v);
			if (rc < 0)
				return rc;
			if (!rc)
				return at(&ev->start_mark, CAIRN_EINVALID, "'%.100s' is not an !!int", s);
		} else if (!strcmp(t, "float")) {
			if (special_float(s, n, &d))
				v = cjson_double(d);
			else if (is_float_syntax(s, n))
				v = parse_real(s, n);
			else
				return at(&ev->start_mark, CAIRN_EINVALID, "'%.100s' is not a !!float", s);
		} else {
			return at(&ev->start_mark, CAIRN_EINVALID, "unsupported tag '!!%.100s' on a scalar", t);
		}
	} else if (plain && !tag) {
		v = resolve_plain(s, n);
	} else {
		v = json_stringn(s, n);
	}
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	*out = v;
	return 0;
}

/* A collection tag must be absent, "!", or the matching core tag. */
static int check_collection_tag(const yaml_event_t *ev, const char *tag, const char *want)
{
	if (!tag || !strcmp(tag, "!"))
		return 0;
	if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) && !strcmp(tag + strlen(TAG_PREFIX), want))
		return 0;
	return at(&ev->start_mark, CAIRN_EINVALID, "unsupported tag '%.100s' on a %s", tag,
		  !strcmp(want, "map") ? "mapping" : "sequence");
}

static int count(struct ctx *c, const yaml_mark_t *m, size_t nodes, size_t bytes)
{
	if (nodes > c->lim.max_nodes - c->nodes)
		return at(m, CAIRN_ETOOBIG, "document expands to more than %zu nodes", c->lim.max_nodes);
	if (bytes > c->lim.max_bytes - c->bytes)
		return at(m, CAIRN_ETOOBIG, "document expands to more than %zu bytes of text",
			  c->lim.max_bytes);
	c->nodes += nodes;
	c->bytes += bytes;
	return 0;
}

static int add_anchor(struct ctx *c, const char *name, json_t *node, const char *raw, size_t rawlen,
		      size_t nodes, size_t bytes, int height)
{
	struct anchor *a;
	json_t *idx;

	if (c->nanchors == c->capanchors) {
		size_t ncap = c->capanchors ? c->capanchors * 2 : 16;
		struct anchor *p = crealloc(c->anchors, ncap * sizeof(*p));
		if (!p)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		c->anchors = p;
		c->capanchors = ncap;
	}
	a = &c->anchors[c->nanchors];
	memset(a, 0, sizeof(*a));
	if (raw) {
		a->raw = cmalloc(rawlen + 1);
		if (!a->raw)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		memcpy(a->raw, raw, rawlen);
		a->raw[rawlen] = '\0';
		a->rawlen = rawlen;
	}
	idx = json_integer((json_int_t)c->nanchors);
	if (!idx || json_object_set_new(c->anchor_index, name, idx)) {
		free(a->raw);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	a->node = json_incref(node);
	a->nodes = nodes;
	a->bytes = bytes;
	a->height = height;
	c->nanchors++;
	return 0;
}

static struct anchor *find_anchor(struct ctx *c, const char *name)
{
	json_t *idx = json_object_get(c->anchor_index, name);

	return idx ? &c->anchors[json_integer_value(idx)] : NULL;
}

/* Take the key for the mapping on top of the stack. */
static int set_key(struct ctx *c, const char *s, size_t n, const yaml_mark_t *m, bool merge)
{
	struct frame *f = &c->stack[c->depth - 1];

	if (memchr(s, '\0', n))
		return at(m, CAIRN_EINVALID, "mapping key contains a NUL character");
	f->key = cmalloc(n + 1);
	if (!f->key)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(f->key, s, n);
	f->key[n] = '\0';
	f->keylen = n;
	f->have_key = true;
	f->merge = merge;
	f->key_mark = *m;
	return 0;
}

/* Is the mapping on top of the stack waiting for a key? */
static bool wants_key(const struct ctx *c)
{
	const struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;

	return f && json_is_object(f->node) && !f->have_key;
}

/* Add a finished value (a new reference, stolen) of the given height. */
static int put_value(struct ctx *c, json_t *v, int height, const yaml_mark_t *m)
{
	struct frame *f;

	if (c->depth == 0) {
		c->root = v;
		c->have_root = true;
		return 0;
	}
	f = &c->stack[c->depth - 1];
	if (height + 1 > f->height)
		f->height = height + 1;
	if (c->lines && record_line(c, f, json_is_array(f->node) ? m->line : f->key_mark.line)) {
		json_decref(v);
		return CAIRN_ENOMEM;
	}
	if (json_is_array(f->node)) {
		if (json_array_append_new(f->node, v))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		return 0;
	}
	if (f->merge) {
		bool ok = json_is_object(v);
		size_t i;
		json_t *e;

		if (json_is_array(v)) {
			ok = true;
			json_array_foreach(v, i, e)
				ok = ok && json_is_object(e);
		}
		if (!ok) {
			json_decref(v);
			return at(m, CAIRN_EINVALID, "the value of a '<<' merge key must be a mapping "
				  "or a sequence of mappings");
		}
		if (!f->merges && !(f->merges = json_array())) {
			json_decref(v);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		if (json_is_object(v)) {
			if (json_array_append_new(f->merges, v))
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		} else {
			json_array_foreach(v, i, e)
				if (json_array_append(f->merges, e)) {
					json_decref(v);
					return cairn_error_set(CAIRN_ENOMEM, "out of memory");
				}
			json_decref(v);
		}
	} else {
		if (json_object_getn(f->node, f->key, f->keylen)) {
			json_decref(v);
			return at(&f->key_mark, CAIRN_EINVALID, "duplicate key '%.200s'", f->key);
		}
		if (json_object_setn_new(f->node, f->key, f->keylen, v))
			return utf8_valid(f->key, f->keylen)
				       ? cairn_error_set(CAIRN_ENOMEM, "out of memory")
				       : at(&f->key_mark, CAIRN_EINVALID, "key '%.200s' is not valid UTF-8", f->key);
	}
	free(f->key);
	f->key = NULL;
	f->have_key = false;
	f->merge = false;
	return 0;
}

static int on_scalar(struct ctx *c, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	json_t *v = NULL;
	int rc;

	if ((rc = count(c, &ev->start_mark, 1, n)))
		return rc;
	if ((rc = scalar_value(ev, &v)))
		return rc;
	if (anchor && (rc = add_anchor(c, anchor, v, s, n, 1, n, 0))) {
		json_decref(v);
		return rc;
	}
	if (wants_key(c)) {
		bool merge = n == 2 && !memcmp(s, "<<", 2) && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			     !ev->data.scalar.tag;
		json_decref(v);
		return set_key(c, s, n, &ev->start_mark, merge);
	}
	return put_value(c, v, 0, &ev->start_mark);
}

static int on_alias(struct ctx *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = find_anchor(c, name);
	json_t *v;
	int rc;

	if (!a)
		return at(&ev->start_mark, CAIRN_EINVALID, "unknown alias '*%.100s'", name);
	if (c->depth + a->height > c->lim.max_depth)
		return at(&ev->start_mark, CAIRN_ETOOBIG, "nesting deeper than %d levels", c->lim.max_depth);
	if ((rc = count(c, &ev->start_mark, a->nodes, a->bytes)))
		return rc;
	if (wants_key(c)) {
		if (!a->raw)
			return at(&ev->start_mark, CAIRN_EINVALID, "mapping keys must be scalars");
		return set_key(c, a->raw, a->rawlen, &ev->start_mark, false);
	}
	v = json_deep_copy(a->node);
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return put_value(c, v, a->height, &ev->start_mark);
}

static int on_start(struct ctx *c, const yaml_event_t *ev, bool map)
{
	const char *anchor = (const char *)(map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
	const char *tag = (const char *)(map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	struct frame *f;
	int rc;

	if ((rc = check_collection_tag(ev, tag, map ? "map" : "seq")))
		return rc;
	if (wants_key(c))
		return at(&ev->start_mark, CAIRN_EINVALID, "mapping keys must be scalars");
	if (c->depth >= c->lim.max_depth)
		return at(&ev->start_mark, CAIRN_ETOOBIG, "nesting deeper than %d levels", c->lim.max_depth);
	f = &c->stack[c->depth];
	memset(f, 0, sizeof(*f));
	f->start = ev->start_mark;
	f->nodes_at = c->nodes;
	f->bytes_at = c->bytes;
	f->height = 1;
	if ((rc = count(c, &ev->start_mark, 1, 0)))
		return rc;
	f->node = map ? json_object() : json_array();
	if (!f->node)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (anchor && !(f->anchor = cstrdup(anchor))) {
		json_decref(f->node);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (c->lines && !(f->path = c->depth ? next_pointer(&c->stack[c->depth - 1]) : cstrdup(""))) {
		json_decref(f->node);
		free(f->anchor);
		memset(f, 0, sizeof(*f));
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	c->depth++;
	return 0;
}

/* Apply "<<" sources: keys the mapping does not set itself, first source first. */
static int apply_merges(struct frame *f)
{
	size_t i;
	json_t *src;

	json_array_foreach(f->merges, i, src) {
		const char *k;
		json_t *v;

		json_object_foreach(src, k, v) {
			size_t kl = json_object_iter_key_len(json_object_key_to_iter(k));
			if (!json_object_getn(f->node, k, kl) && json_object_setn(f->node, k, kl, v))
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
	}
	return 0;
}

static void frame_release(struct frame *f)
{
	json_decref(f->node);
	json_decref(f->merges);
	free(f->anchor);
	free(f->key);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static int on_end(struct ctx *c, const yaml_event_t *ev)
{
	struct frame f = c->stack[c->depth - 1];
	int rc = 0;

	memset(&c->stack[c->depth - 1], 0, sizeof(f));
	c->depth--;
	if (f.merges && (rc = apply_merges(&f)))
		goto out;
	if (f.anchor && (rc = add_anchor(c, f.anchor, f.node, NULL, 0, c->nodes - f.nodes_at,
					 c->bytes - f.bytes_at, f.height)))
		goto out;
	rc = put_value(c, f.node, f.height, &f.start);
	f.node = NULL;
out:
	frame_release(&f);
	return rc;
}

static void limits_fill(struct cyaml_limits *l, const struct cyaml_limits *in)
{
	l->max_nodes = in && in->max_nodes ? in->max_nodes : CYAML_MAX_NODES;
	l->max_bytes = in && in->max_bytes ? in->max_bytes : CYAML_MAX_BYTES;
	l->max_depth = in && in->max_depth > 0 ? in->max_depth : CYAML_MAX_DEPTH;
}

static int parse(const char *text, size_t len, const struct cyaml_limits *lim, json_t **out, json_t **lines);

int cyaml_parse_limits(const char *text, size_t len, const struct cyaml_limits *lim, json_t **out)
{
	return parse(text, len, lim, out, NULL);
}

int cyaml_parse_lines(const char *text, size_t len, json_t **out, json_t **lines)
{
	return parse(text, len, NULL, out, lines);
}

int cyaml_line(const json_t *lines, const char *pointer)
{
	char *p = cstrdup(pointer), *slash;
	int line = 0;

	while (p) {
		json_t *v = json_object_get(lines, p);
		if (v) {
			line = (int)json_integer_value(v);
			break;
		}
		slash = strrchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	free(p);
	return line;
}

static int parse(const char *text, size_t len, const struct cyaml_limits *lim, json_t **out, json_t **lines)
{
	struct ctx c;
	yaml_parser_t p;
	yaml_event_t ev;
	bool done = false;
	int docs = 0, err = CAIRN_ERR;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	limits_fill(&c.lim, lim);
	if (lines) {
		*lines = NULL;
		if (!(c.lines = json_object()))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	c.text = text;
	c.len = len;
	c.stack = ccalloc((size_t)c.lim.max_depth, sizeof(*c.stack));
	c.anchor_index = json_object();
	if (!c.stack || !c.anchor_index) {
		free(c.stack);
		json_decref(c.anchor_index);
		json_decref(c.lines);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (!yaml_parser_initialize(&p)) {
		err = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out_ctx;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)(text ? text : ""), text ? len : 0);
	while (!done) {
		int rc = 0;

		if (!yaml_parser_parse(&p, &ev)) {
			err = parser_error(&c, &p);
			goto out_parser;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++)
				rc = at(&ev.start_mark, CAIRN_EINVALID, "a second document (only one is allowed)");
			break;
		case YAML_MAPPING_START_EVENT:
			rc = on_start(&c, &ev, true);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = on_start(&c, &ev, false);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			rc = c.depth ? on_end(&c, &ev) : at(&ev.start_mark, CAIRN_EINVALID, "unbalanced end");
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(&c, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(&c, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc) {
			err = rc;
			goto out_parser;
		}
	}
	if (!c.have_root) {
		c.root = json_null();
		c.have_root = true;
	}
	*out = c.root;
	c.root = NULL;
	if (lines) {
		*lines = c.lines;
		c.lines = NULL;
	}
	err = 0;
out_parser:
	yaml_parser_delete(&p);
out_ctx:
	while (c.depth > 0)
		frame_release(&c.stack[--c.depth]);
	for (size_t i = 0; i < c.nanchors; i++) {
		json_decref(c.anchors[i].node);
		free(c.anchors[i].raw);
	}
	free(c.anchors);
	free(c.stack);
	json_decref(c.anchor_index);
	json_decref(c.root);
	json_decref(c.lines);
	return err;
}

int cyaml_parse(const char *text, size_t len, json_t **out)
{
	return cyaml_parse_limits(text, len, NULL, out);
}

/* ---- emitting ---- */

struct emit {
	yaml_emitter_t e;
	bool sorted;
	struct buf *out;
};

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	struct buf *b = data;

	return buf_put(b, buffer, size) == 0;
}

static int emit_error(struct emit *em)
{
	if (em->out->err)
		return buf_error(em->out);
	if (em->e.error == YAML_MEMORY_ERROR)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory writing YAML");
	return cairn_error_set(CAIRN_ERR, "cannot write YAML: %s",
			       em->e.problem ? em->e.problem : "emitter error");
}

static int emit_event(struct emit *em, yaml_event_t *ev)
{
	return yaml_emitter_emit(&em->e, ev) ? 0 : emit_error(em);
}

/* A string starting with a digit that is still a string under every YAML
 * resolver: only letters, digits and dots, and either at least two dots
 * ("1.2.1", "3.5.2.dev0": no number has two, timestamps and sexagesimals need
 * '-' or ':'), or no dot, a letter other than e/E, and no 0x/0o/0b prefix
 * (hex ids such as "5b0ae5c4..."). */
static bool digit_first_string(const char *s, size_t n)
{
	size_t dots = 0;
	bool letter = false;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.')
			dots++;
		else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
			letter = letter || (ch != 'e' && ch != 'E');
		else if (!(ch >= '0' && ch <= '9'))
			return false;
	}
	if (dots >= 2)
		return true;
	if (dots || !letter)
		return false;
	return !(n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b' || s[1] == 'X' ||
					   s[1] == 'O' || s[1] == 'B'));
}

/* May a string be written plain, i.e. would no YAML reader (1.2 core schema,
 * or PyYAML's 1.1 resolver) take it for a null, bool, number, timestamp or
 * merge key? Conservative: the first byte must be a letter, '_' or '/' (or a
 * non-ASCII byte), and the word must not be a 1.1 boolean or null; or it is
 * one of the digit-first strings above. libyaml's
 * emitter still quotes what is not syntactically plain (": ", " #", breaks). */
static bool plain_safe(const char *s, size_t n)
{
	static const char *const words[] = {
		"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", NULL
	};
	unsigned char c0;

	if (!n)
		return false;
	c0 = (unsigned char)s[0];
	if (c0 >= '0' && c0 <= '9')
		return digit_first_string(s, n);
	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_' || c0 == '/' || c0 >= 0x80))
		return false;
	return !is_one_of(s, n, words);
}

static int emit_scalar(struct emit *em, const char *s, size_t n, bool plain_ok, bool is_string)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

	if (n > INT_MAX)
		return cairn_error_set(CAIRN_ETOOBIG, "string too long for YAML");
	if (is_string && memchr(s, '\n', n))
		style = YAML_LITERAL_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, plain_ok,
					  is_string, style))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return emit_event(em, &ev);
}

static int emit_string(struct emit *em, const char *s, size_t n)
{
	return emit_scalar(em, s, n, plain_safe(s, n), true);
}

static int cmp_keys(const void *a, const void *b)
{
	const json_t *ka = *(json_t *const *)a, *kb = *(json_t *const *)b;
	size_t la = json_string_length(ka), lb = json_string_length(kb);
	int r = memcmp(json_string_value(ka), json_string_value(kb), la < lb ? la : lb);

	return r ? r : (la > lb) - (la < lb);
}

static int emit_node(struct emit *em, const json_t *v, int depth);

static int emit_object(struct emit *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	size_t n = json_object_size(v), i = 0;
	json_t **keys = NULL;
	const char *k;
	json_t *val;
	int rc = 0;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = emit_event(em, &ev)))
		return rc;
	if (n && !(keys = ccalloc(n, sizeof(*keys))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	json_object_foreach((json_t *)v, k, val) {
		size_t kl = json_object_iter_key_len(json_object_key_to_iter(k));
		if (i < n && !(keys[i++] = json_stringn_nocheck(k, kl))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (em->sorted && i > 1)
		qsort(keys, i, sizeof(*keys), cmp_keys);
	for (size_t j = 0; j < i; j++) {
		const char *ks = json_string_value(keys[j]);
		size_t kl = json_string_length(keys[j]);

		if ((rc = emit_string(em, ks, kl)) ||
		    (rc = emit_node(em, json_object_getn(v, ks, kl), depth + 1)))
			goto out;
	}
	if (!yaml_mapping_end_event_initialize(&ev)) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	rc = emit_event(em, &ev);
out:
	for (size_t j = 0; j < i; j++)
		json_decref(keys[j]);
	free(keys);
	return rc;
}

/* Shortest text that reads back as the same double, always with a '.' (PyYAML
 * takes "1e+20" for a string), or .inf/-.inf/.nan. */
static void format_real(double d, char *out, size_t size)
{
	char num[40], *ex;

	if (isnan(d)) {
		snprintf(out, size, ".nan");
		return;
	}
	if (isinf(d)) {
		snprintf(out, size, "%s", d > 0 ? ".inf" : "-.inf");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, d);
		if (strtod(num, NULL) == d)
			break;
	}
	if (strchr(num, '.')) {
		snprintf(out, size, "%s", num);
		return;
	}
	ex = strpbrk(num, "eE");
	if (!ex) {
		snprintf(out, size, "%s.0", num);
		return;
	}
	snprintf(out, size, "%.*s.0%s", (int)(ex - num), num, ex);
}

static int emit_node(struct emit *em, const json_t *v, int depth)
{
	yaml_event_t ev;
	char tmp[64];
	size_t i;
	json_t *e;
	int rc;

	if (depth > CYAML_MAX_DEPTH)
		return cairn_error_set(CAIRN_ETOOBIG, "nesting deeper than %d levels", CYAML_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return emit_object(em, v, depth);
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if ((rc = emit_event(em, &ev)))
			return rc;
		json_array_foreach(v, i, e)
			if ((rc = emit_node(em, e, depth + 1)))
				return rc;
		if (!yaml_sequence_end_event_initialize(&ev))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		return emit_event(em, &ev);
	case JSON_STRING:
		return emit_string(em, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(em, tmp, strlen(tmp), true, false);
	case JSON_REAL:
		format_real(json_real_value(v), tmp, sizeof(tmp));
		return emit_scalar(em, tmp, strlen(tmp), true, false);
	case JSON_TRUE:
		return emit_scalar(em, "true", 4, true, false);
	case JSON_FALSE:
		return emit_scalar(em, "false", 5, true, false);
	default:
		return emit_scalar(em, "null", 4, true, false);
	}
}

static int dump(const json_t *v, bool sorted, struct buf *out)
{
	struct emit em;
	yaml_event_t ev;
	int rc = 0;

	memset(&em, 0, sizeof(em));
	em.sorted = sorted;
	em.out = out;
	if (!v)
		CAIRN_BUG("cyaml_dump of NULL");
	if (!yaml_emitter_initialize(&em.e))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	yaml_emitter_set_output(&em.e, write_handler, out);
	yaml_emitter_set_unicode(&em.e, 1);
	yaml_emitter_set_indent(&em.e, 2);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING))
		goto oom;
	if ((rc = emit_event(&em, &ev)))
		goto out;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1))
		goto oom;
	if ((rc = emit_event(&em, &ev)) || (rc = emit_node(&em, v, 0)))
		goto out;
	if (!yaml_document_end_event_initialize(&ev, 1))
		goto oom;
	if ((rc = emit_event(&em, &ev)))
		goto out;
	if (!yaml_stream_end_event_initialize(&ev))
		goto oom;
	if ((rc = emit_event(&em, &ev)))
		goto out;
	if (!yaml_emitter_flush(&em.e))
		rc = emit_error(&em);
	goto out;
oom:
	rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
out:
	if (!rc && em.e.error)
		rc = emit_error(&em);
	yaml_emitter_delete(&em.e);
	return rc ? rc : buf_error(out);
}

int cyaml_dump(const json_t *v, struct buf *out)
{
	return dump(v, false, out);
}

int cyaml_dump_sorted(const json_t *v, struct buf *out)
{
	return dump(v, true, out);
}

/* ---- editing one scalar in place ---- */

/* The indentation of a line, or -1 for blank and comment-only lines. */
static int line_indent(const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && l[i] == ' ')
		i++;
	if (i == n || l[i] == '#' || l[i] == '\r')
		return -1;
	return (int)i;
}

/* Does the line at indent d hold "key:" followed by a space, end, or comment? */
static bool line_has_key(const char *l, size_t n, int d, const char *key, size_t kn)
{
	const char *p = l + d;
	size_t rest = n - (size_t)d;

	if (rest < kn + 1 || memcmp(p, key, kn) || p[kn] != ':')
		return false;
	return rest == kn + 1 || p[kn + 1] == ' ' || p[kn + 1] == '\r';
}

int cyaml_set_scalar(const char *text, size_t len, const char *path, const char *value_text, struct buf *out)
{
	const char *key = path, *lines = text, *end = text + len;
	int depth_indent = -1; /* indent of the mapping that holds the current key (-1: top) */
	const char *hit = NULL;
	size_t hitlen = 0;
	int hit_indent = 0;

	if (!*path)
		return cairn_error_set(CAIRN_EINVALID, "empty key");
	while (*key) {
		size_t kn = strcspn(key, ".");
		const char *p = lines;
		int want = -2; /* indent of this level, learned from its first line */
		bool found = false;

		while (p < end) {
			const char *eol = memchr(p, '\n', (size_t)(end - p));
			size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
			int d = line_indent(p, n);

			if (d >= 0) {
				if (d <= depth_indent)
					break; /* left the parent mapping */
				if (want == -2)
					want = d;
				if (d == want && line_has_key(p, n, d, key, kn)) {
					found = true;
					hit = p;
					hitlen = n;
					hit_indent = d;
					lines = eol ? eol + 1 : end;
					break;
				}
			}
			p = eol ? eol + 1 : end;
		}
		if (!found)
			return cairn_error_set(CAIRN_ENOTFOUND, "'%s' is not a plain block key", path);
		depth_indent = hit_indent;
		key += kn + (key[kn] == '.');
	}
	{
		/* the value: after "key:", up to a " #" comment */
		const char *v = hit + hit_indent;
		size_t vstart = (size_t)((const char *)memchr(v, ':', hitlen - (size_t)hit_indent) - hit) + 1, vend;

		while (vstart < hitlen && hit[vstart] == ' ')
			vstart++;
		vend = vstart;
		while (vend < hitlen && !(hit[vend] == '#' && hit[vend - 1] == ' ') && hit[vend] != '\r')
			vend++;
		while (vend > vstart && hit[vend - 1] == ' ')
			vend--;
		if (vend == vstart || hit[vstart] == '|' || hit[vstart] == '>' || hit[vstart] == '&' || hit[vstart] == '*' ||
		    hit[vstart] == '{' || hit[vstart] == '[')
			return cairn_error_set(CAIRN_ENOTFOUND, "'%s' does not hold a plain scalar", path);
		buf_put(out, text, (size_t)(hit - text) + vstart);
		buf_puts(out, value_text);
		buf_put(out, hit + vend, (size_t)(end - (hit + vend)));
	}
	return buf_error(out);
}
