/* validate.c - expectation suites: the parser, the one-pass evaluator over CSV, GX-shaped results, suggestions. */
#include "stats/validate.h"
#include "stats/profile.h"
#include "stats/sketch.h"
#include "stats/stats_int.h"
#include "core/buf.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "core/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- the expectations cairn knows ---- */

enum vx_op {
	OP_NOT_NULL, OP_NULL, OP_UNIQUE, OP_BETWEEN, OP_IN_SET, OP_NOT_IN_SET, OP_REGEX, OP_NOT_REGEX,
	OP_TYPE, OP_TYPE_LIST, OP_LENGTHS,
	OP_MEAN, OP_STD, OP_MEDIAN, OP_QUANTILE, OP_SUM, OP_MIN, OP_MAX, OP_DISTINCT,
	OP_ROWS_BETWEEN, OP_ROWS_EQUAL, OP_COLS_EQUAL, OP_COLS_SET, OP_COLS_LIST, OP_COL_EXISTS,
};

enum vx_class { VX_MAP, VX_AGG, VX_TABLE };

#define RANGE "min_value,max_value,strict_min,strict_max"

struct vx_def {
	const char *name;     /* cairn's short name */
	const char *gx;       /* Great Expectations' name */
	enum vx_op op;
	enum vx_class cls;
	const char *keys;     /* the arguments it takes, comma-separated */
};

static const struct vx_def defs[] = {
	{ "not_null", "expect_column_values_to_not_be_null", OP_NOT_NULL, VX_MAP, "column,mostly" },
	{ "is_null", "expect_column_values_to_be_null", OP_NULL, VX_MAP, "column,mostly" },
	{ "unique", "expect_column_values_to_be_unique", OP_UNIQUE, VX_MAP, "column,mostly" },
	{ "between", "expect_column_values_to_be_between", OP_BETWEEN, VX_MAP, "column," RANGE ",mostly" },
	{ "in_set", "expect_column_values_to_be_in_set", OP_IN_SET, VX_MAP, "column,value_set,mostly" },
	{ "not_in_set", "expect_column_values_to_not_be_in_set", OP_NOT_IN_SET, VX_MAP, "column,value_set,mostly" },
	{ "match_regex", "expect_column_values_to_match_regex", OP_REGEX, VX_MAP, "column,regex,mostly" },
	{ "not_match_regex", "expect_column_values_to_not_match_regex", OP_NOT_REGEX, VX_MAP, "column,regex,mostly" },
	{ "type", "expect_column_values_to_be_of_type", OP_TYPE, VX_MAP, "column,type_,mostly" },
	{ "in_type_list", "expect_column_values_to_be_in_type_list", OP_TYPE_LIST, VX_MAP, "column,type_list,mostly" },
	{ "value_lengths_between", "expect_column_value_lengths_to_be_between", OP_LENGTHS, VX_MAP,
	  "column," RANGE ",mostly" },
	{ "mean_between", "expect_column_mean_to_be_between", OP_MEAN, VX_AGG, "column," RANGE },
	{ "std_between", "expect_column_stdev_to_be_between", OP_STD, VX_AGG, "column," RANGE },
	{ "median_between", "expect_column_median_to_be_between", OP_MEDIAN, VX_AGG, "column," RANGE },
	{ "quantile_between", "expect_column_quantile_values_to_be_between", OP_QUANTILE, VX_AGG,
	  "column,quantile,min_value,max_value,quantile_ranges,allow_relative_error" },
	{ "sum_between", "expect_column_sum_to_be_between", OP_SUM, VX_AGG, "column," RANGE },
	{ "min_between", "expect_column_min_to_be_between", OP_MIN, VX_AGG, "column," RANGE },
	{ "max_between", "expect_column_max_to_be_between", OP_MAX, VX_AGG, "column," RANGE },
	{ "unique_value_count_between", "expect_column_unique_value_count_to_be_between", OP_DISTINCT, VX_AGG,
	  "column," RANGE },
	{ "row_count_between", "expect_table_row_count_to_be_between", OP_ROWS_BETWEEN, VX_TABLE, RANGE },
	{ "row_count_equal", "expect_table_row_count_to_equal", OP_ROWS_EQUAL, VX_TABLE, "value" },
	{ "column_count_equal", "expect_table_column_count_to_equal", OP_COLS_EQUAL, VX_TABLE, "value" },
	{ "columns_equal_set", "expect_table_columns_to_match_set", OP_COLS_SET, VX_TABLE, "column_set,exact_match" },
	{ "columns_match_ordered_list", "expect_table_columns_to_match_ordered_list", OP_COLS_LIST, VX_TABLE,
	  "column_list" },
	{ "column_exists", "expect_column_to_exist", OP_COL_EXISTS, VX_TABLE, "column,column_index" },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* other spellings of short names */
static const struct { const char *alias, *name; } aliases[] = {
	{ "stdev_between", "std_between" },
	{ "of_type", "type" },
	{ "null", "is_null" },
	{ "columns_match_set", "columns_equal_set" },
};

/* arguments every expectation may carry and cairn ignores (GX's standard arguments) */
static const char std_keys[] = "result_format,catch_exceptions,include_config";
/* members of an expectation beside its arguments */
static const char outer_keys[] = "type,expectation_type,kwargs,meta,notes,description,id,rendered_content";

/* value type names: the kinds of core/csv.h each accepts */
#define K(k) (1u << (k))
#define K_ANY (K(CCSV_INT) | K(CCSV_FLOAT) | K(CCSV_BOOL) | K(CCSV_DATETIME) | K(CCSV_TEXT))
static const struct { const char *name; unsigned kinds; } type_names[] = {
	{ "integer", K(CCSV_INT) }, { "int", K(CCSV_INT) }, { "int8", K(CCSV_INT) }, { "int16", K(CCSV_INT) },
	{ "int32", K(CCSV_INT) }, { "int64", K(CCSV_INT) }, { "uint8", K(CCSV_INT) }, { "uint16", K(CCSV_INT) },
	{ "uint32", K(CCSV_INT) }, { "uint64", K(CCSV_INT) }, { "long", K(CCSV_INT) }, { "bigint", K(CCSV_INT) },
	{ "smallint", K(CCSV_INT) },
	{ "float", K(CCSV_INT) | K(CCSV_FLOAT) }, { "float16", K(CCSV_INT) | K(CCSV_FLOAT) },
	{ "float32", K(CCSV_INT) | K(CCSV_FLOAT) }, { "float64", K(CCSV_INT) | K(CCSV_FLOAT) },
	{ "double", K(CCSV_INT) | K(CCSV_FLOAT) }, { "real", K(CCSV_INT) | K(CCSV_FLOAT) },
	{ "number", K(CCSV_INT) | K(CCSV_FLOAT) }, { "numeric", K(CCSV_INT) | K(CCSV_FLOAT) },
	{ "decimal", K(CCSV_INT) | K(CCSV_FLOAT) },
	{ "boolean", K(CCSV_BOOL) }, { "bool", K(CCSV_BOOL) },
	{ "datetime", K(CCSV_DATETIME) }, { "datetime64", K(CCSV_DATETIME) }, { "datetime64[ns]", K(CCSV_DATETIME) },
	{ "timestamp", K(CCSV_DATETIME) }, { "date", K(CCSV_DATETIME) },
	{ "string", K_ANY }, { "str", K_ANY }, { "object", K_ANY }, { "text", K_ANY }, { "varchar", K_ANY },
};

static bool in_list(const char *list, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);

		if (m == n && !memcmp(p, key, n))
			return true;
		p += m + (e != NULL);
	}
	return false;
}

static const struct vx_def *def_find(const char *type)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(type, aliases[i].alias))
			type = aliases[i].name;
	for (size_t i = 0; i < NDEFS; i++)
		if (!strcmp(type, defs[i].name) || !strcmp(type, defs[i].gx))
			return &defs[i];
	return NULL;
}

const char *validate_short_name(const char *type)
{
	const struct vx_def *d = type ? def_find(type) : NULL;

	return d ? d->name : NULL;
}

/* ---- values as keys: what `in_set` and `unique` compare ----
 *
 * A field is read by ccsv_value_parse: numbers (integer or float) compare by
 * value (1, 1.0 and 1e0 are one value; -0 is 0; every NaN is one value),
 * booleans by value, datetimes by instant, text by its bytes. */

enum { KEY_NUM = 'n', KEY_BOOL = 'b', KEY_TIME = 'd', KEY_TEXT = 't' };

struct vkey {
	char cls;
	const char *text;   /* KEY_TEXT: the bytes (borrowed) */
	size_t n;
	uint64_t bits;      /* otherwise: the value's double, canonical */
};

static void key_from_value(enum ccsv_kind k, const struct ccsv_value *v, const char *s, size_t n, struct vkey *key)
{
	double d = v->d;

	key->text = NULL;
	key->n = 0;
	switch (k) {
	case CCSV_INT:
	case CCSV_FLOAT: key->cls = KEY_NUM; break;
	case CCSV_BOOL: key->cls = KEY_BOOL; break;
	case CCSV_DATETIME: key->cls = KEY_TIME; break;
	default:
		key->cls = KEY_TEXT;
		key->text = s;
		key->n = n;
		return;
	}
	if (d == 0)
		d = 0.0;
	if (isnan(d))
		d = NAN;
	memcpy(&key->bits, &d, sizeof(d));
}

static uint64_t key_hash(const struct vkey *k)
{
	return k->cls == KEY_TEXT ? sk_hash_bytes(k->text, k->n) ^ 0x7465787400000000ULL
				  : sk_hash_bytes(&k->bits, sizeof(k->bits)) ^ (uint64_t)(unsigned char)k->cls;
}

/* one distinct value, with where it was first seen */
struct ventry {
	uint64_t hash;
	uint64_t count;    /* occurrences (unique) */
	uint64_t row;      /* first occurrence: data row from 0, and its line */
	uint64_t line;
	json_t *value;     /* the first occurrence as JSON (unique, while it may still be listed) */
	size_t n;
	char cls;
	char bytes[];      /* text, or the 8 bytes of the double */
};

struct vset {
	struct ventry **slot;
	size_t cap, used;
};

static void vset_free(struct vset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->slot[i]) {
			json_decref(s->slot[i]->value);
			free(s->slot[i]);
		}
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static bool key_equal(const struct ventry *e, const struct vkey *k)
{
	if (e->cls != k->cls)
		return false;
	if (k->cls == KEY_TEXT)
		return e->n == k->n && !memcmp(e->bytes, k->text, k->n);
	return !memcmp(e->bytes, &k->bits, sizeof(k->bits));
}

static int vset_grow(struct vset *s)
{
	size_t n = s->cap ? s->cap * 2 : 16;
	struct ventry **slot = ccalloc(n, sizeof(*slot));

	if (!slot)
		return oom();
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->slot[i])
			continue;
		for (j = s->slot[i]->hash & (n - 1); slot[j]; j = (j + 1) & (n - 1))
			;
		slot[j] = s->slot[i];
	}
	free(s->slot);
	s->slot = slot;
	s->cap = n;
	return 0;
}

/* The entry of k, or NULL; with add, a new one (count 0) when absent. */
static int vset_get(struct vset *s, const struct vkey *k, bool add, struct ventry **out)
{
	uint64_t h = key_hash(k);
	size_t j, n = k->cls == KEY_TEXT ? k->n : sizeof(k->bits);
	struct ventry *e;
	int rc;

	*out = NULL;
	for (j = s->cap ? h & (s->cap - 1) : 0; s->cap && s->slot[j]; j = (j + 1) & (s->cap - 1))
		if (s->slot[j]->hash == h && key_equal(s->slot[j], k)) {
			*out = s->slot[j];
			return 0;
		}
	if (!add)
		return 0;
	if (s->used >= VALIDATE_UNIQUE_MAX)
		return cairn_error_set(CAIRN_ETOOBIG, "more than %zu distinct values to keep", VALIDATE_UNIQUE_MAX);
	if ((s->used + 1) * 2 > s->cap) {
		if ((rc = vset_grow(s)))
			return rc;
		for (j = h & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1))
			;
	}
	if (!(e = cmalloc(sizeof(*e) + n)))
		return oom();
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->cls = k->cls;
	e->n = n;
	memcpy(e->bytes, k->cls == KEY_TEXT ? (const void *)k->text : (const void *)&k->bits, n);
	s->slot[j] = e;
	s->used++;
	*out = e;
	return 0;
}

/* ---- the suite ---- */

struct bound {
	bool set;
	double v;
};

struct qrange {
	double q;
	struct bound lo, hi;
};

struct vx {
	const struct vx_def *def;
	int line;                /* where it stands in the suite; 0 unknown */
	json_t *kwargs;          /* its arguments, as written (expectation_config) */
	json_t *meta;            /* or NULL */
	const char *column;      /* borrowed from kwargs; NULL for table expectations */
	double mostly;           /* 1 unless given */
	bool has_mostly;
	struct bound lo, hi;     /* min_value, max_value */
	bool strict_lo, strict_hi;
	bool time;               /* the bounds are datetimes (compared as instants) */
	struct vset set;         /* value_set */
	regex_t re;
	bool have_re;
	unsigned kinds;          /* type / in_type_list: accepted kinds */
	struct qrange *qr;       /* quantile_between */
	size_t nq;
	int64_t value;           /* row_count_equal, column_count_equal, column_index */
	bool has_value;
	json_t *names;           /* column_set / column_list (borrowed from kwargs) */
	bool exact_match;
};

struct vsuite {
	char *name;
	json_t *meta;
	struct vx *x;
	size_t n;
	bool any_agg;
};

static void vx_release(struct vx *x)
{
	json_decref(x->kwargs);
	json_decref(x->meta);
	vset_free(&x->set);
	if (x->have_re)
		regfree(&x->re);
	free(x->qr);
}

void validate_suite_free(struct vsuite *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		vx_release(&s->x[i]);
	free(s->x);
	free(s->name);
	json_decref(s->meta);
	free(s);
}

const char *validate_suite_name(const struct vsuite *s)
{
	return s->name ? s->name : "";
}

size_t validate_suite_size(const struct vsuite *s)
{
	return s->n;
}

/* the parse in progress, for messages */
struct pctx {
	const char *what;
	json_t *lines;           /* JSON pointer -> line, or NULL (JSON read by jansson) */
	size_t i;                /* the expectation, from 0 */
	const char *type;        /* its type as written, or NULL */
};

static int line_of(const struct pctx *c, const char *key, bool in_kwargs)
{
	char ptr[256];

	if (!c->lines)
		return 0;
	if (key && !strpbrk(key, "/~") && strlen(key) < 128) {
		snprintf(ptr, sizeof(ptr), "/expectations/%zu/%s%s", c->i, in_kwargs ? "kwargs/" : "", key);
		if (json_object_get(c->lines, ptr))
			return cyaml_line(c->lines, ptr);
	}
	snprintf(ptr, sizeof(ptr), "/expectations/%zu", c->i);
	return cyaml_line(c->lines, ptr);
}

static int perr(const struct pctx *c, const char *key, bool in_kwargs, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "what:LINE: expectation N (type): message" */
static int perr(const struct pctx *c, const char *key, bool in_kwargs, const char *fmt, ...)
{
	char msg[512], where[64] = "";
	int line = line_of(c, key, in_kwargs);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(where, sizeof(where), ":%d", line);
	return cairn_error_set(CAIRN_EINVALID, "%s%s: expectation %zu%s%.100s%s: %s", c->what, where, c->i + 1,
			       c->type ? " (" : "", c->type ? c->type : "", c->type ? ")" : "", msg);
}

static bool kw_from_kwargs(const json_t *from_kwargs, const char *key)
{
	return from_kwargs && json_object_get(from_kwargs, key);
}

/* a bound: null (none), a number, or (allow_time) an ISO 8601 datetime string */
static int parse_bound(const struct pctx *c, json_t *kw, const json_t *inner, const char *key, bool allow_time,
		       struct bound *b, int *is_time)
{
	json_t *v = json_object_get(kw, key);
	bool ink = kw_from_kwargs(inner, key);

	b->set = false;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v)) {
		b->v = json_number_value(v);
		*is_time = 0;
	} else if (json_is_string(v)) {
		struct ccsv_value cv;
		enum ccsv_kind k = ccsv_value_parse(json_string_value(v), json_string_length(v), &cv);

		if (k == CCSV_INT || k == CCSV_FLOAT) {
			*is_time = 0;
		} else if (k == CCSV_DATETIME && allow_time) {
			*is_time = 1;
		} else {
			return perr(c, key, ink, "%s is a number%s, not '%.100s'", key,
				    allow_time ? " or an ISO 8601 datetime" : "", json_string_value(v));
		}
		b->v = cv.d;
	} else {
		return perr(c, key, ink, "%s is a number%s", key, allow_time ? " or an ISO 8601 datetime" : "");
	}
	if (isnan(b->v))
		return perr(c, key, ink, "%s is NaN", key);
	b->set = true;
	return 0;
}

static int parse_bool(const struct pctx *c, json_t *kw, const json_t *inner, const char *key, bool *out)
{
	json_t *v = json_object_get(kw, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return perr(c, key, kw_from_kwargs(inner, key), "%s is true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int parse_count(const struct pctx *c, json_t *kw, const json_t *inner, const char *key, bool required,
		       int64_t *out, bool *has)
{
	json_t *v = json_object_get(kw, key);

	if (!v || json_is_null(v)) {
		if (required)
			return perr(c, NULL, false, "%s is required", key);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return perr(c, key, kw_from_kwargs(inner, key), "%s is a whole number, at least 0", key);
	*out = json_integer_value(v);
	*has = true;
	return 0;
}

/* min_value/max_value with strict_min/strict_max */
static int parse_range(const struct pctx *c, struct vx *x, const json_t *inner, bool allow_time)
{
	int tlo = -1, thi = -1, rc;

	if ((rc = parse_bound(c, x->kwargs, inner, "min_value", allow_time, &x->lo, &tlo)) ||
	    (rc = parse_bound(c, x->kwargs, inner, "max_value", allow_time, &x->hi, &thi)) ||
	    (rc = parse_bool(c, x->kwargs, inner, "strict_min", &x->strict_lo)) ||
	    (rc = parse_bool(c, x->kwargs, inner, "strict_max", &x->strict_hi)))
		return rc;
	if (!x->lo.set && !x->hi.set)
		return perr(c, NULL, false, "min_value or max_value is required (or both)");
	if (x->lo.set && x->hi.set && tlo != thi)
		return perr(c, "min_value", kw_from_kwargs(inner, "min_value"),
			    "min_value and max_value are both numbers or both datetimes");
	if (x->lo.set && x->hi.set && x->lo.v > x->hi.v)
		return perr(c, "min_value", kw_from_kwargs(inner, "min_value"),
			    "min_value (%.17g) is greater than max_value (%.17g)", x->lo.v, x->hi.v);
	x->time = tlo == 1 || thi == 1;
	return 0;
}

static int parse_value_set(const struct pctx *c, struct vx *x, const json_t *inner)
{
	json_t *set = json_object_get(x->kwargs, "value_set"), *v;
	bool ink = kw_from_kwargs(inner, "value_set");
	size_t i;
	int rc;

	if (!set)
		return perr(c, NULL, false, "value_set is required");
	if (!json_is_array(set))
		return perr(c, "value_set", ink, "value_set is a list of values");
	json_array_foreach(set, i, v) {
		char tmp[64];
		const char *s = tmp;
		size_t n;
		struct ccsv_value cv;
		struct vkey k;
		struct ventry *e;

		if (json_is_string(v)) {
			s = json_string_value(v);
			n = json_string_length(v);
		} else if (json_is_integer(v)) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		} else if (json_is_real(v)) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
		} else if (json_is_boolean(v)) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "%s", json_is_true(v) ? "true" : "false");
		} else {
			return perr(c, "value_set", ink, "value_set[%zu] is not a string, number or boolean", i);
		}
		key_from_value(ccsv_value_parse(s, n, &cv), &cv, s, n, &k);
		if ((rc = vset_get(&x->set, &k, true, &e)))
			return rc;
	}
	return 0;
}

static int parse_type_name(const struct pctx *c, const json_t *inner, const char *key, json_t *v, unsigned *kinds)
{
	const char *s = json_string_value(v);

	if (s)
		for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (!strcasecmp(s, type_names[i].name)) {
				*kinds |= type_names[i].kinds;
				return 0;
			}
	return perr(c, key, kw_from_kwargs(inner, key),
		    "%s: '%.60s' is not a type (integer, float, boolean, datetime or string, or a GX/pandas name "
		    "such as int64, float64, bool, str)", key, s ? s : "(not a string)");
}

static int parse_quantiles(const struct pctx *c, struct vx *x, const json_t *inner)
{
	json_t *qr = json_object_get(x->kwargs, "quantile_ranges"), *q = json_object_get(x->kwargs, "quantile");
	int rc;

	if (qr && q)
		return perr(c, "quantile", kw_from_kwargs(inner, "quantile"),
			    "give quantile (with min_value/max_value) or quantile_ranges, not both");
	if (q) {
		if (!json_is_number(q) || json_number_value(q) < 0 || json_number_value(q) > 1)
			return perr(c, "quantile", kw_from_kwargs(inner, "quantile"), "quantile is a number from 0 to 1");
		if ((rc = parse_range(c, x, inner, true)))
			return rc;
		if (!(x->qr = cmalloc(sizeof(*x->qr))))
			return oom();
		x->nq = 1;
		x->qr[0] = (struct qrange){ json_number_value(q), x->lo, x->hi };
		return 0;
	}
	if (!qr)
		return perr(c, NULL, false, "quantile (with min_value/max_value) or quantile_ranges is required");
	{
		json_t *qs = json_object_get(qr, "quantiles"), *vr = json_object_get(qr, "value_ranges");
		bool ink = kw_from_kwargs(inner, "quantile_ranges");

		if (!json_is_object(qr) || !json_is_array(qs) || !json_is_array(vr) || !json_array_size(qs) ||
		    json_array_size(qs) != json_array_size(vr) || json_object_size(qr) != 2)
			return perr(c, "quantile_ranges", ink,
				    "quantile_ranges is {quantiles: [q, ...], value_ranges: [[min, max], ...]}, "
				    "one range per quantile");
		if (!(x->qr = ccalloc(json_array_size(qs), sizeof(*x->qr))))
			return oom();
		x->nq = json_array_size(qs);
		for (size_t i = 0; i < x->nq; i++) {
			json_t *qi = json_array_get(qs, i), *ri = json_array_get(vr, i), *r[2];
			struct bound *b[2] = { &x->qr[i].lo, &x->qr[i].hi };

			if (!json_is_number(qi) || json_number_value(qi) < 0 || json_number_value(qi) > 1)
				return perr(c, "quantile_ranges", ink, "quantiles[%zu] is not a number from 0 to 1", i);
			x->qr[i].q = json_number_value(qi);
			if (!json_is_array(ri) || json_array_size(ri) != 2)
				return perr(c, "quantile_ranges", ink, "value_ranges[%zu] is not [min, max]", i);
			r[0] = json_array_get(ri, 0);
			r[1] = json_array_get(ri, 1);
			for (int k = 0; k < 2; k++) {
				if (json_is_null(r[k]))
					continue;
				if (!json_is_number(r[k]) || isnan(json_number_value(r[k])))
					return perr(c, "quantile_ranges", ink,
						    "value_ranges[%zu] holds something other than numbers and nulls", i);
				*b[k] = (struct bound){ true, json_number_value(r[k]) };
			}
			if (b[0]->set && b[1]->set && b[0]->v > b[1]->v)
				return perr(c, "quantile_ranges", ink, "value_ranges[%zu]: min %.17g is greater than max %.17g",
					    i, b[0]->v, b[1]->v);
		}
	}
	return 0;
}

static int parse_names(const struct pctx *c, struct vx *x, const json_t *inner, const char *key)
{
	json_t *v = json_object_get(x->kwargs, key), *e;
	size_t i;

	if (!v)
		return perr(c, NULL, false, "%s is required", key);
	if (!json_is_array(v))
		return perr(c, key, kw_from_kwargs(inner, key), "%s is a list of column names", key);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return perr(c, key, kw_from_kwargs(inner, key), "%s[%zu] is not a column name", key, i);
	x->names = v;
	return 0;
}

/* the arguments of one expectation, from its members and its kwargs */
static int parse_args(struct pctx *c, struct vx *x, const json_t *inner)
{
	json_t *v;
	int rc;

	if ((v = json_object_get(x->kwargs, "mostly"))) {
		if (x->def->cls != VX_MAP)
			return perr(c, "mostly", kw_from_kwargs(inner, "mostly"),
				    "mostly applies to row-wise expectations only, and %s is an aggregate", x->def->name);
		if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= 1))
			return perr(c, "mostly", kw_from_kwargs(inner, "mostly"), "mostly is a number from 0 to 1");
		x->mostly = json_number_value(v);
		x->has_mostly = true;
	}
	if (in_list(x->def->keys, "column")) {
		v = json_object_get(x->kwargs, "column");
		if (!v)
			return perr(c, NULL, false, "column is required");
		if (!json_is_string(v) || !json_string_length(v))
			return perr(c, "column", kw_from_kwargs(inner, "column"), "column is a column name");
		x->column = json_string_value(v);
	}
	switch (x->def->op) {
	case OP_BETWEEN:
	case OP_MEAN:
	case OP_MEDIAN:
	case OP_MIN:
	case OP_MAX:
		return parse_range(c, x, inner, true);
	case OP_LENGTHS:
	case OP_STD:
	case OP_SUM:
	case OP_DISTINCT:
	case OP_ROWS_BETWEEN:
		return parse_range(c, x, inner, false);
	case OP_QUANTILE:
		if ((v = json_object_get(x->kwargs, "allow_relative_error")) && !json_is_boolean(v) && !json_is_number(v))
			return perr(c, "allow_relative_error", kw_from_kwargs(inner, "allow_relative_error"),
				    "allow_relative_error is a boolean or a number");
		return parse_quantiles(c, x, inner);
	case OP_IN_SET:
	case OP_NOT_IN_SET:
		return parse_value_set(c, x, inner);
	case OP_REGEX:
	case OP_NOT_REGEX: {
		char msg[256];

		v = json_object_get(x->kwargs, "regex");
		if (!v)
			return perr(c, NULL, false, "regex is required");
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return perr(c, "regex", kw_from_kwargs(inner, "regex"), "regex is a string");
		if ((rc = regcomp(&x->re, json_string_value(v), REG_EXTENDED | REG_NOSUB))) {
			regerror(rc, &x->re, msg, sizeof(msg));
			return perr(c, "regex", kw_from_kwargs(inner, "regex"), "regex '%.100s' is not a POSIX extended "
				    "regular expression: %s", json_string_value(v), msg);
		}
		x->have_re = true;
		return 0;
	}
	case OP_TYPE:
		if (!(v = json_object_get(x->kwargs, "type_")))
			return perr(c, NULL, false, "type_ is required");
		return parse_type_name(c, inner, "type_", v, &x->kinds);
	case OP_TYPE_LIST: {
		json_t *e;
		size_t i;

		v = json_object_get(x->kwargs, "type_list");
		if (!v)
			return perr(c, NULL, false, "type_list is required");
		if (!json_is_array(v) || !json_array_size(v))
			return perr(c, "type_list", kw_from_kwargs(inner, "type_list"), "type_list is a list of types");
		json_array_foreach(v, i, e)
			if ((rc = parse_type_name(c, inner, "type_list", e, &x->kinds)))
				return rc;
		return 0;
	}
	case OP_ROWS_EQUAL:
	case OP_COLS_EQUAL:
		return parse_count(c, x->kwargs, inner, "value", true, &x->value, &x->has_value);
	case OP_COLS_SET:
		x->exact_match = true;
		if ((rc = parse_bool(c, x->kwargs, inner, "exact_match", &x->exact_match)))
			return rc;
		return parse_names(c, x, inner, "column_set");
	case OP_COLS_LIST:
		return parse_names(c, x, inner, "column_list");
	case OP_COL_EXISTS:
		return parse_count(c, x->kwargs, inner, "column_index", false, &x->value, &x->has_value);
	default:
		return 0;
	}
}

/* "column, min_value, ..." */
static const char *keys_text(const struct vx_def *d, char *out, size_t size)
{
	size_t j = 0;

	for (const char *p = d->keys; *p && j + 3 < size; p++) {
		out[j++] = *p;
		if (*p == ',')
			out[j++] = ' ';
	}
	out[j] = '\0';
	return out;
}

static int parse_expectation(struct pctx *c, json_t *e, struct vx *x)
{
	json_t *type = json_object_get(e, "type"), *alt = json_object_get(e, "expectation_type");
	json_t *inner = json_object_get(e, "kwargs"), *v;
	const char *key;
	char list[256];
	void *tmp;

	x->mostly = 1;
	x->line = line_of(c, NULL, false);
	if (!json_is_object(e))
		return perr(c, NULL, false, "an expectation is a mapping with a type");
	if (type && alt)
		return perr(c, "expectation_type", false, "give type or expectation_type, not both");
	if (!type)
		type = alt;
	if (!type)
		return perr(c, NULL, false, "type is required");
	if (!json_is_string(type))
		return perr(c, "type", false, "type is an expectation name (not_null, between, ...)");
	c->type = json_string_value(type);
	if (!(x->def = def_find(c->type))) {
		return perr(c, "type", false, "unknown expectation type '%.100s' (see docs/validation.md for the list)",
			    c->type);
	}
	if (inner && !json_is_object(inner))
		return perr(c, "kwargs", false, "kwargs is a mapping of arguments");
	if ((v = json_object_get(e, "meta")) && !json_is_null(v)) {
		if (!json_is_object(v))
			return perr(c, "meta", false, "meta is a mapping");
		x->meta = json_incref(v);
	}
	if (!(x->kwargs = json_object()))
		return oom();
	/* the arguments: members beside type, then those in kwargs */
	json_object_foreach_safe(e, tmp, key, v) {
		if (in_list(outer_keys, key))
			continue;
		if (!in_list(x->def->keys, key) && !in_list(std_keys, key)) {
			if (!strcmp(key, "mostly"))
				return perr(c, key, false, "mostly applies to row-wise expectations only, and %s is an "
					    "aggregate", x->def->name);
			return perr(c, key, false, "unknown key '%.100s' (%s takes: %s)", key, x->def->name,
				    keys_text(x->def, list, sizeof(list)));
		}
		if (json_object_set(x->kwargs, key, v))
			return oom();
	}
	if (inner)
		json_object_foreach_safe(inner, tmp, key, v) {
			if (!in_list(x->def->keys, key) && !in_list(std_keys, key)) {
				if (!strcmp(key, "mostly"))
					return perr(c, key, true, "mostly applies to row-wise expectations only, and %s "
						    "is an aggregate", x->def->name);
				return perr(c, key, true, "unknown key '%.100s' in kwargs (%s takes: %s)", key,
					    x->def->name, keys_text(x->def, list, sizeof(list)));
			}
			if (json_object_get(x->kwargs, key))
				return perr(c, key, true, "'%.100s' is given twice, beside type and in kwargs", key);
			if (json_object_set(x->kwargs, key, v))
				return oom();
		}
	return parse_args(c, x, inner);
}

static const char suite_keys[] = "name,expectation_suite_name,expectations,meta,notes,id,data_asset_type,ge_cloud_id";

int validate_suite_parse(const char *text, size_t len, const char *what, struct vsuite **out)
{
	json_t *doc = NULL, *lines = NULL, *list, *v, *name;
	struct pctx c = { .what = what ? what : "suite" };
	struct vsuite *s = NULL;
	const char *key, *p = text;
	int rc = CAIRN_ERR;

	*out = NULL;
	if ((rc = cyaml_parse_lines(text, len, &doc, &lines))) {
		json_error_t jerr;
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
		if (rc == CAIRN_ENOMEM)
			return rc;
		while (p < text + len && strchr(" \t\r\n", *p))
			p++;
		/* JSON that YAML refuses (tabs, say) is still JSON */
		if (p < text + len && *p == '{' &&
		    (doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr)) == NULL)
			return cairn_error_set(CAIRN_EINVALID, "%s:%d: not JSON: %s", c.what, jerr.line, jerr.text);
		if (!doc)
			return cairn_error_set(rc, "%s: %s", c.what, msg);
		lines = NULL;
	}
	c.lines = lines;
	if (!json_is_object(doc)) {
		rc = cairn_error_set(CAIRN_EINVALID, "%s: a suite is a mapping with a name and expectations", c.what);
		goto out;
	}
	json_object_foreach(doc, key, v)
		if (!in_list(suite_keys, key)) {
			char ptr[160];
			int line = 0;

			if (lines && !strpbrk(key, "/~") && strlen(key) < 128) {
				snprintf(ptr, sizeof(ptr), "/%s", key);
				line = cyaml_line(lines, ptr);
			}
			rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: unknown key '%.100s' (a suite has name, expectations "
					     "and meta)", c.what, line, key);
			goto out;
		}
	list = json_object_get(doc, "expectations");
	if (!json_is_array(list)) {
		rc = cairn_error_set(CAIRN_EINVALID, "%s: expectations (a list) is required", c.what);
		goto out;
	}
	if (!(s = ccalloc(1, sizeof(*s))) || !(s->x = ccalloc(json_array_size(list) + 1, sizeof(*s->x)))) {
		rc = oom();
		goto out;
	}
	name = json_object_get(doc, "name");
	if (!name)
		name = json_object_get(doc, "expectation_suite_name");
	if (name && !json_is_null(name)) {
		if (!json_is_string(name)) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s: name is a string", c.what);
			goto out;
		}
		if (!(s->name = cstrdup(json_string_value(name)))) {
			rc = oom();
			goto out;
		}
	}
	if ((v = json_object_get(doc, "meta")) && json_is_object(v))
		s->meta = json_incref(v);
	for (c.i = 0; c.i < json_array_size(list); c.i++) {
		c.type = NULL;
		s->n++;
		if ((rc = parse_expectation(&c, json_array_get(list, c.i), &s->x[c.i])))
			goto out;
		s->any_agg |= s->x[c.i].def->cls == VX_AGG;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	validate_suite_free(s);
	json_decref(doc);
	json_decref(lines);
	return rc;
}

/* ---- evaluation ---- */

struct vhit {
	uint64_t row, line;
	json_t *value;
};

struct vrun {
	long col;                /* the column's index in the data; -1 when absent */
	uint64_t elements, missing, unexpected;
	struct vhit hit[VALIDATE_PARTIAL_MAX];
	size_t nhit;
	struct vset seen;        /* unique */
};

struct vstate {
	const struct vsuite *s;
	struct vrun *run;
	struct prof p;
	bool have_header;
	uint64_t rows;
};

/* a field as GX would list it: numbers as numbers, the rest as text */
static json_t *field_json(enum ccsv_kind k, const struct ccsv_value *v, const char *s, size_t n)
{
	switch (k) {
	case CCSV_EMPTY: return json_null();
	case CCSV_INT: return json_integer((json_int_t)v->i);
	case CCSV_FLOAT: return cjson_double(v->d);
	case CCSV_BOOL: return json_boolean(v->i);
	default: return json_stringn(s, n);
	}
}

static int hit_add(struct vrun *r, uint64_t row, uint64_t line, json_t *value)
{
	if (!value)
		return oom();
	if (r->nhit == VALIDATE_PARTIAL_MAX) {
		json_decref(value);
		return 0;
	}
	r->hit[r->nhit++] = (struct vhit){ row, line, value };
	return 0;
}

static bool range_holds(const struct bound *lo, const struct bound *hi, bool strict_lo, bool strict_hi, double v)
{
	if (isnan(v))
		return false;
	if (lo->set && (strict_lo ? !(v > lo->v) : !(v >= lo->v)))
		return false;
	if (hi->set && (strict_hi ? !(v < hi->v) : !(v <= hi->v)))
		return false;
	return true;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

/* one field of a row-wise expectation */
static int eval_field(const struct vx *x, struct vrun *r, const struct ccsv_field *f, uint64_t row, uint64_t line)
{
	struct ccsv_value v;
	enum ccsv_kind k = ccsv_value_parse(f->p, f->n, &v);
	struct vkey key;
	struct ventry *e;
	bool ok = true;
	int rc;

	r->elements++;
	if (k == CCSV_EMPTY) {
		r->missing++;
		if (x->def->op != OP_NOT_NULL)
			return 0;
		r->unexpected++;
		return hit_add(r, row, line, json_null());
	}
	switch (x->def->op) {
	case OP_NOT_NULL: break;
	case OP_NULL: ok = false; break;
	case OP_BETWEEN:
		ok = (x->time ? k == CCSV_DATETIME : k == CCSV_INT || k == CCSV_FLOAT) &&
		     range_holds(&x->lo, &x->hi, x->strict_lo, x->strict_hi, v.d);
		break;
	case OP_LENGTHS:
		ok = range_holds(&x->lo, &x->hi, x->strict_lo, x->strict_hi, (double)utf8_chars(f->p, f->n));
		break;
	case OP_IN_SET:
	case OP_NOT_IN_SET:
		key_from_value(k, &v, f->p, f->n, &key);
		if ((rc = vset_get((struct vset *)&x->set, &key, false, &e)))
			return rc;
		ok = (e != NULL) == (x->def->op == OP_IN_SET);
		break;
	case OP_REGEX:
	case OP_NOT_REGEX:
		ok = (regexec(&x->re, f->p, 0, NULL, 0) == 0) == (x->def->op == OP_REGEX);
		break;
	case OP_TYPE:
	case OP_TYPE_LIST:
		ok = (x->kinds & K(k)) != 0;
		break;
	case OP_UNIQUE:
		key_from_value(k, &v, f->p, f->n, &key);
		if ((rc = vset_get(&r->seen, &key, true, &e)))
			return rc;
		if (++e->count == 1) {
			e->row = row;
			e->line = line;
			if (r->nhit < VALIDATE_PARTIAL_MAX && !(e->value = field_json(k, &v, f->p, f->n)))
				return oom();
			return 0;
		}
		if (e->count == 2) {
			r->unexpected++;
			if (e->value) {
				rc = hit_add(r, e->row, e->line, e->value);
				e->value = NULL;
				if (rc)
					return rc;
			}
		}
		ok = false;
		break;
	default:
		break;
	}
	if (ok)
		return 0;
	r->unexpected++;
	if (r->nhit == VALIDATE_PARTIAL_MAX)
		return 0;
	return hit_add(r, row, line, field_json(k, &v, f->p, f->n));
}

static int on_header(struct vstate *st, const struct ccsv_record *rec)
{
	const char **names = cmalloc(rec->nfields * sizeof(*names));
	size_t *lens = cmalloc(rec->nfields * sizeof(*lens));
	int rc;

	if (!names || !lens) {
		free(names);
		free(lens);
		return oom();
	}
	for (size_t i = 0; i < rec->nfields; i++) {
		names[i] = rec->fields[i].p;
		lens[i] = rec->fields[i].n;
	}
	rc = prof_init(&st->p, names, lens, rec->nfields);
	free(names);
	free(lens);
	if (rc)
		return cairn_error_set(rc, "the header row (line %zu): %s", rec->line, cairn_error_msg());
	st->have_header = true;
	for (size_t i = 0; i < st->s->n; i++) {
		const struct vx *x = &st->s->x[i];

		st->run[i].col = -1;
		if (!x->column)
			continue;
		for (size_t c = 0; c < st->p.ncols; c++)
			if (!strcmp(st->p.col[c].name, x->column)) {
				st->run[i].col = (long)c;
				break;
			}
	}
	return 0;
}

static int on_record(void *ctx, const struct ccsv_record *rec)
{
	struct vstate *st = ctx;
	int rc;

	if (!st->have_header)
		return on_header(st, rec);
	if ((rc = prof_add_record(&st->p, rec->fields, rec->nfields, rec->line)))
		return rc;
	for (size_t i = 0; i < st->s->n; i++) {
		const struct vx *x = &st->s->x[i];
		struct vrun *r = &st->run[i];

		if (x->def->cls == VX_MAP && r->col >= 0 &&
		    (rc = eval_field(x, r, &rec->fields[r->col], st->rows, rec->line)))
			return rc;
	}
	st->rows++;
	return 0;
}

/* ---- results ---- */

static int set(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *percent(uint64_t a, uint64_t b)
{
	return b ? json_real(100.0 * (double)a / (double)b) : json_null();
}

static int cmp_hit(const void *a, const void *b)
{
	const struct vhit *x = a, *y = b;

	return x->row < y->row ? -1 : x->row > y->row;
}

static int map_result(const struct vx *x, struct vrun *r, json_t *res, bool *success)
{
	bool nullish = x->def->op == OP_NOT_NULL || x->def->op == OP_NULL;
	uint64_t nonmissing = r->elements - r->missing, base = nullish ? r->elements : nonmissing;
	json_t *vals, *idx, *lines;

	*success = !base || (double)(base - r->unexpected) / (double)base >= x->mostly;
	if (x->def->op == OP_UNIQUE)
		qsort(r->hit, r->nhit, sizeof(r->hit[0]), cmp_hit);
	if (set(res, "element_count", json_integer((json_int_t)r->elements)) ||
	    set(res, "missing_count", json_integer((json_int_t)r->missing)) ||
	    set(res, "missing_percent", percent(r->missing, r->elements)) ||
	    set(res, "unexpected_count", json_integer((json_int_t)r->unexpected)) ||
	    set(res, "unexpected_percent", percent(r->unexpected, base)) ||
	    set(res, "unexpected_percent_total", percent(r->unexpected, r->elements)) ||
	    set(res, "unexpected_percent_nonmissing", nullish ? json_null() : percent(r->unexpected, nonmissing)) ||
	    !(vals = json_array()) || set(res, "partial_unexpected_list", vals) || !(idx = json_array()) ||
	    set(res, "partial_unexpected_index_list", idx) || !(lines = json_array()) ||
	    set(res, "partial_unexpected_line_list", lines))
		return -1;
	for (size_t i = 0; i < r->nhit; i++) {
		if (json_array_append(vals, r->hit[i].value) ||
		    json_array_append_new(idx, json_integer((json_int_t)r->hit[i].row)) ||
		    json_array_append_new(lines, json_integer((json_int_t)r->hit[i].line)))
			return -1;
	}
	return 0;
}

/* seconds since the epoch as ISO 8601 UTC */
static json_t *time_json(double t)
{
	char out[64];
	struct tm tm;
	time_t s = (time_t)floor(t);
	double frac = t - floor(t);

	if (!isfinite(t) || !gmtime_r(&s, &tm))
		return json_null();
	if (frac > 0)
		snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, lround(frac * 1e6) % 1000000);
	else
		snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return json_string(out);
}

static const char *agg_key(enum vx_op op)
{
	switch (op) {
	case OP_MEAN: return "mean";
	case OP_STD: return "std";
	case OP_SUM: return "sum";
	case OP_MIN: return "min";
	case OP_MAX: return "max";
	case OP_DISTINCT: return "distinct";
	default: return NULL;
	}
}

/* a failed aggregate with a reason in details.message */
static int agg_unobserved(json_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int agg_unobserved(json_t *res, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return set(res, "observed_value", json_null()) ||
	       set(res, "details", json_pack("{s:s}", "message", msg));
}

static int agg_result(const struct vx *x, const struct vstate *st, long col, const json_t *prof, json_t *res,
		      bool *success)
{
	const struct prof_col *pc = &st->p.col[col];
	json_t *cj = json_object_get(json_object_get(prof, "columns"), pc->name);
	enum ccsv_kind t = prof_col_type(pc);
	bool datetime = t == CCSV_DATETIME;
	int rc;

	*success = false;
	if (set(res, "element_count", json_integer((json_int_t)st->rows)) ||
	    set(res, "missing_count", json_integer((json_int_t)pc->kinds[CCSV_EMPTY])) ||
	    set(res, "missing_percent", percent(pc->kinds[CCSV_EMPTY], st->rows)))
		return -1;
	if (x->time && !datetime)
		return agg_unobserved(res, "the bounds are datetimes and column '%.100s' is %s", pc->name,
				      ccsv_kind_name(t));
	if (x->def->op != OP_DISTINCT && t == CCSV_TEXT)
		return agg_unobserved(res, "column '%.100s' is string, not numeric", pc->name);
	if (x->def->op == OP_MEDIAN || x->def->op == OP_QUANTILE) {
		struct qrange med = { 0.5, x->lo, x->hi };
		const struct qrange *qr = x->def->op == OP_MEDIAN ? &med : x->qr;
		size_t nq = x->def->op == OP_MEDIAN ? 1 : x->nq;
		json_t *qs = json_array(), *vs = json_array(), *obs;
		bool ok = true;

		rc = qs && vs ? 0 : -1;
		for (size_t i = 0; !rc && i < nq; i++) {
			double q;

			if ((rc = prof_col_quantile(pc, qr[i].q, &q)))
				break;
			ok &= range_holds(&qr[i].lo, &qr[i].hi, x->strict_lo, x->strict_hi, q);
			if (json_array_append_new(qs, json_real(qr[i].q)) ||
			    json_array_append_new(vs, datetime ? time_json(q) : json_real(q)))
				rc = -1;
		}
		if (!rc) {
			obs = x->def->op == OP_MEDIAN ? json_incref(json_array_get(vs, 0))
						       : json_pack("{s:O,s:O}", "quantiles", qs, "values", vs);
			rc = set(res, "observed_value", obs);
		}
		json_decref(qs);
		json_decref(vs);
		if (rc == CAIRN_ENOTFOUND)
			return agg_unobserved(res, "column '%.100s' has no numeric values", pc->name);
		*success = !rc && ok;
		return rc;
	}
	{
		const char *k = agg_key(x->def->op);
		json_t *v = json_object_get(cj, k);
		double d;

		if (!v || json_is_null(v)) {
			if (x->def->op == OP_STD && pc->nnum == 1)
				return agg_unobserved(res, "column '%.100s' has one number: no standard deviation", pc->name);
			return agg_unobserved(res, "column '%.100s' has no numeric values", pc->name);
		}
		d = json_number_value(v);
		*success = range_holds(&x->lo, &x->hi, x->strict_lo, x->strict_hi, d);
		if (datetime && (x->def->op == OP_MIN || x->def->op == OP_MAX || x->def->op == OP_MEAN))
			v = time_json(d);
		else
			v = json_incref(v);
		if (set(res, "observed_value", v))
			return -1;
		if (x->def->op == OP_DISTINCT &&
		    set(res, "details", json_pack("{s:b}", "exact", json_is_true(json_object_get(cj, "distinct_exact")))))
			return -1;
		return 0;
	}
}

static json_t *header_json(const struct vstate *st)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < st->p.ncols; i++)
		if (json_array_append_new(a, json_string(st->p.col[i].name))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static long header_index(const struct vstate *st, const char *name)
{
	for (size_t i = 0; i < st->p.ncols; i++)
		if (!strcmp(st->p.col[i].name, name))
			return (long)i;
	return -1;
}

static int table_result(const struct vx *x, const struct vstate *st, json_t *res, bool *success)
{
	json_t *missing, *extra, *e;
	size_t i;

	switch (x->def->op) {
	case OP_ROWS_BETWEEN:
		*success = range_holds(&x->lo, &x->hi, x->strict_lo, x->strict_hi, (double)st->rows);
		return set(res, "observed_value", json_integer((json_int_t)st->rows));
	case OP_ROWS_EQUAL:
		*success = st->rows == (uint64_t)x->value;
		return set(res, "observed_value", json_integer((json_int_t)st->rows));
	case OP_COLS_EQUAL:
		*success = st->p.ncols == (uint64_t)x->value;
		return set(res, "observed_value", json_integer((json_int_t)st->p.ncols));
	case OP_COL_EXISTS: {
		long at = header_index(st, x->column);

		*success = at >= 0 && (!x->has_value || at == x->value);
		if (set(res, "observed_value", json_boolean(at >= 0)))
			return -1;
		return at >= 0 && x->has_value ? set(res, "details", json_pack("{s:I}", "column_index", (json_int_t)at)) : 0;
	}
	case OP_COLS_SET:
		if (set(res, "observed_value", header_json(st)) || !(missing = json_array()) ||
		    set(res, "details", json_pack("{s:{s:o,s:[]}}", "mismatched", "missing", missing, "unexpected")))
			return -1;
		extra = json_object_get(json_object_get(json_object_get(res, "details"), "mismatched"), "unexpected");
		json_array_foreach(x->names, i, e)
			if (header_index(st, json_string_value(e)) < 0 && json_array_append(missing, e))
				return -1;
		for (i = 0; i < st->p.ncols; i++) {
			bool listed = false;
			size_t j;

			json_array_foreach(x->names, j, e)
				listed |= !strcmp(json_string_value(e), st->p.col[i].name);
			if (!listed && json_array_append_new(extra, json_string(st->p.col[i].name)))
				return -1;
		}
		*success = !json_array_size(missing) && (!x->exact_match || !json_array_size(extra));
		return 0;
	case OP_COLS_LIST: {
		json_t *mm;
		size_t n = json_array_size(x->names) > st->p.ncols ? json_array_size(x->names) : st->p.ncols;

		if (set(res, "observed_value", header_json(st)) || !(mm = json_array()) ||
		    set(res, "details", json_pack("{s:o}", "mismatched", mm)))
			return -1;
		for (i = 0; i < n; i++) {
			json_t *want = json_array_get(x->names, i);
			const char *got = i < st->p.ncols ? st->p.col[i].name : NULL;

			if (want && got && !strcmp(json_string_value(want), got))
				continue;
			if (json_array_append_new(mm, json_pack("{s:I,s:O,s:o}", "expected_column_position", (json_int_t)i,
								"expected", want ? want : json_null(), "found",
								got ? json_string(got) : json_null())))
				return -1;
		}
		*success = !json_array_size(mm);
		return 0;
	}
	default:
		return -1;
	}
}

static int build_result(struct vstate *st, const char *source, json_t **out)
{
	const struct vsuite *s = st->s;
	json_t *o = NULL, *results, *prof = NULL;
	size_t good = 0;
	int rc = CAIRN_ERR;

	if (s->any_agg && !(prof = prof_to_json(&st->p, NULL)))
		return oom();
	if (!(o = json_object()) || set(o, "success", json_false()) ||
	    set(o, "suite_name", json_string(validate_suite_name(s))) || !(results = json_array()) ||
	    set(o, "results", results))
		goto fail;
	for (size_t i = 0; i < s->n; i++) {
		const struct vx *x = &s->x[i];
		struct vrun *r = &st->run[i];
		json_t *one, *cfg, *res, *exc;
		bool ok = false;

		if (!(one = json_object()) || json_array_append_new(results, one) || set(one, "success", json_false()) ||
		    !(cfg = json_object()) ||
		    set(one, "expectation_config", cfg) || set(cfg, "type", json_string(x->def->gx)) ||
		    json_object_set(cfg, "kwargs", x->kwargs) || (x->meta && json_object_set(cfg, "meta", x->meta)) ||
		    !(res = json_object()) || set(one, "result", res) || !(exc = json_object()) ||
		    set(one, "exception_info", exc) || set(exc, "raised_exception", json_false()) ||
		    set(exc, "exception_message", json_null()) || set(exc, "exception_traceback", json_null()))
			goto fail;
		if (x->column && x->def->op != OP_COL_EXISTS && r->col < 0) {
			char msg[300];

			snprintf(msg, sizeof(msg), "column '%.200s' is not in the data", x->column);
			if (set(exc, "raised_exception", json_true()) || set(exc, "exception_message", json_string(msg)) ||
			    set(res, "observed_value", json_null()))
				goto fail;
		} else if (x->def->cls == VX_MAP) {
			if (map_result(x, r, res, &ok))
				goto fail;
		} else if (x->def->cls == VX_AGG) {
			if ((rc = agg_result(x, st, r->col, prof, res, &ok)) < -1)
				goto out;
			if (rc)
				goto fail;
		} else if (table_result(x, st, res, &ok)) {
			goto fail;
		}
		good += ok;
		if (set(one, "success", json_boolean(ok)))
			goto fail;
	}
	if (set(o, "success", json_boolean(good == s->n)) ||
	    set(o, "statistics", json_pack("{s:I,s:I,s:I,s:o}", "evaluated_expectations", (json_int_t)s->n,
					   "successful_expectations", (json_int_t)good, "unsuccessful_expectations",
					   (json_int_t)(s->n - good), "success_percent", percent(good, s->n))) ||
	    set(o, "meta", json_pack("{s:s,s:I,s:I}", "data", source, "rows", (json_int_t)st->rows, "columns",
				     (json_int_t)st->p.ncols)))
		goto fail;
	*out = o;
	o = NULL;
	rc = 0;
	goto out;
fail:
	rc = oom();
out:
	json_decref(o);
	json_decref(prof);
	return rc;
}

static void state_free(struct vstate *st)
{
	if (st->run)
		for (size_t i = 0; i < st->s->n; i++) {
			for (size_t h = 0; h < st->run[i].nhit; h++)
				json_decref(st->run[i].hit[h].value);
			vset_free(&st->run[i].seen);
		}
	free(st->run);
	if (st->have_header)
		prof_free(&st->p);
}

typedef int (*feed_fn)(struct ccsv_reader *r, void *arg);

static int run_validation(const struct vsuite *s, const struct validate_options *opt, const char *source,
			  feed_fn feed, void *arg, json_t **out)
{
	struct vstate st = { .s = s };
	struct ccsv_options o = { .delim = opt ? opt->delim : 0, .strict = true };
	struct ccsv_reader *r = NULL;
	int rc;

	*out = NULL;
	cjson_oom_clear();
	if (!(st.run = ccalloc(s->n + 1, sizeof(*st.run))))
		return oom();
	if ((rc = ccsv_reader_new(&o, on_record, &st, &r)))
		goto out;
	if ((rc = feed(r, arg)) < 0 || (rc = ccsv_reader_finish(r)) < 0)
		goto out;
	if (!st.have_header) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is empty: a header row is expected", source);
		goto out;
	}
	rc = build_result(&st, source, out);
	if (!rc && cjson_oom_seen()) {
		json_decref(*out);
		*out = NULL;
		rc = oom();
	}
out:
	if (rc < 0 && rc != CAIRN_ENOMEM && !strstr(cairn_error_msg(), source))
		cairn_error_set(rc, "'%s': %s", source, cairn_error_msg());
	ccsv_reader_free(r);
	state_free(&st);
	return rc < 0 ? rc : 0;
}

struct mem_src {
	const char *data;
	size_t len;
};

static int feed_mem(struct ccsv_reader *r, void *arg)
{
	struct mem_src *m = arg;

	return ccsv_reader_feed(r, m->data, m->len);
}

struct fd_src {
	int fd;
	const char *path;
};

static int feed_fd(struct ccsv_reader *r, void *arg)
{
	struct fd_src *f = arg;
	char *buf = cmalloc(BLOCK);
	int rc = 0;

	if (!buf)
		return oom();
	for (;;) {
		ssize_t n = read(f->fd, buf, BLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", f->path, strerror(errno));
			break;
		}
		if (n == 0 || (rc = ccsv_reader_feed(r, buf, (size_t)n)) < 0)
			break;
	}
	free(buf);
	return rc;
}

int validate_buffer(const struct vsuite *s, const char *data, size_t len, const struct validate_options *opt,
		    json_t **out)
{
	struct mem_src m = { data, len };

	return run_validation(s, opt, opt && opt->name ? opt->name : "(buffer)", feed_mem, &m, out);
}

int validate_file(const struct vsuite *s, const char *path, const struct validate_options *opt, json_t **out)
{
	bool std_in = !strcmp(path, "-");
	struct fd_src f = { std_in ? 0 : open(path, O_RDONLY | O_CLOEXEC), path };
	int rc;

	*out = NULL;
	if (f.fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", path,
				       strerror(errno));
	rc = run_validation(s, opt, opt && opt->name ? opt->name : path, feed_fd, &f, out);
	if (!std_in)
		close(f.fd);
	return rc;
}

/* ---- suggestions ---- */

static int add_exp(json_t *list, json_t *e)
{
	return e ? json_array_append_new(list, e) : -1;
}

/* the column's values for in_set, or NULL when it is not a small categorical */
static json_t *category_values(const json_t *cj, const char *type)
{
	const char *et = json_string_value(json_object_get(cj, "evidently_type"));
	json_t *sk = json_object_get(cj, "sketch"), *vals, *entries, *e, *out;
	bool text = !strcmp(type, "string"), boolean = !strcmp(type, "boolean");
	json_int_t counted = 0;
	size_t i;

	if (!et || strcmp(et, "categorical") || !json_is_true(json_object_get(cj, "distinct_exact")) ||
	    json_integer_value(json_object_get(cj, "distinct")) > VALIDATE_SUGGEST_SET_MAX)
		return NULL;
	if (!text && !boolean && strcmp(type, "integer"))
		return NULL;
	vals = json_object_get(sk, text ? "text_values" : "values");
	entries = json_object_get(vals, "entries");
	if (!json_is_true(json_object_get(vals, "complete")) || !json_is_array(entries) || !json_array_size(entries))
		return NULL;
	/* the table must account for every value (a text column's table misses the NaN and inf
	 * read before its first text) */
	json_array_foreach(entries, i, e)
		counted += json_integer_value(json_array_get(e, 1));
	if (counted != json_integer_value(json_object_get(cj, "count")))
		return NULL;
	if (!(out = json_array()))
		return NULL;
	json_array_foreach(entries, i, e) {
		json_t *v = json_array_get(e, 0);

		if (boolean)
			v = json_boolean(json_number_value(v) != 0);
		else
			v = json_incref(v);
		if (!v || json_array_append_new(out, v)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

int validate_suggest(const json_t *profile, const char *name, json_t **out)
{
	json_t *suite = NULL, *list, *cols = json_object_get(profile, "columns"), *cj, *names;
	json_t *ds = json_object_get(profile, "dataset");
	json_int_t rows = json_integer_value(json_object_get(ds, "rows"));
	const char *col;
	int rc;

	*out = NULL;
	if ((rc = profile_check(profile)))
		return rc;
	if (!json_is_object(cols))
		return cairn_error_set(CAIRN_EINVALID, "the profile has no columns");
	cjson_oom_clear();
	if (!(suite = json_object()) || set(suite, "name", json_string(name ? name : "suggested")) ||
	    set(suite, "meta", json_pack("{s:s}", "generated_by", "cairn validate --suggest")) ||
	    !(list = json_array()) || set(suite, "expectations", list) || !(names = json_array()))
		goto fail;
	json_object_foreach(cols, col, cj)
		if (json_array_append_new(names, json_string(col))) {
			json_decref(names);
			goto fail;
		}
	if (add_exp(list, json_pack("{s:s,s:o}", "type", "columns_equal_set", "column_set", names)))
		goto fail;
	if (json_array_insert_new(list, 0, json_pack("{s:s,s:I,s:I}", "type", "row_count_between", "min_value",
						     (json_int_t)(rows / 2), "max_value", (json_int_t)(rows + (rows + 1) / 2))))
		goto fail;
	json_object_foreach(cols, col, cj) {
		const char *type = json_string_value(json_object_get(cj, "type"));
		json_int_t count = json_integer_value(json_object_get(cj, "count"));
		json_int_t nulls = json_integer_value(json_object_get(cj, "nulls"));
		json_int_t bad = json_integer_value(json_object_get(cj, "nans")) +
				 json_integer_value(json_object_get(cj, "infs"));
		json_t *min = json_object_get(cj, "min"), *max = json_object_get(cj, "max"), *e, *set_vals;

		if (!type)
			continue;
		if (!nulls && rows > 0 && add_exp(list, json_pack("{s:s,s:s}", "type", "not_null", "column", col)))
			goto fail;
		if (add_exp(list, json_pack("{s:s,s:s,s:s}", "type", "type", "column", col, "type_", type)))
			goto fail;
		if ((!strcmp(type, "integer") || !strcmp(type, "float")) && json_is_number(min) && json_is_number(max) &&
		    count > bad) {
			if (!(e = json_pack("{s:s,s:s,s:O,s:O}", "type", "between", "column", col, "min_value", min,
					    "max_value", max)) || add_exp(list, e))
				goto fail;
			if (bad) {
				/* NaN and inf are outside every range: tolerate the share seen */
				double share = (double)(count - bad) / (double)count, m = floor(share * 1000) / 1000;

				while (m > share)
					m -= 0.001;
				if (set(e, "mostly", json_real(m < 0 ? 0 : m)))
					goto fail;
			}
		}
		if ((set_vals = category_values(cj, type)) &&
		    add_exp(list, json_pack("{s:s,s:s,s:o}", "type", "in_set", "column", col, "value_set", set_vals)))
			goto fail;
	}
	if (cjson_oom_seen())
		goto fail;
	*out = suite;
	return 0;
fail:
	json_decref(suite);
	return oom();
}
