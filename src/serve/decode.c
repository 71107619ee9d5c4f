/* decode.c - scoring request decoding: MLflow's four JSON formats and CSV, the Open Inference Protocol, into one float32 matrix.
 *
 * Layout of this file:
 *   1. Python's words: repr() of strings, floats, JSON values and shapes, for
 *      messages that read like MLflow's.
 *   2. dtypes and struct serve_input (from the MLmodel signature).
 *   3. the body: JSON with Python's NaN/Infinity literals.
 *   4. values: Python's float(), int() and bool(), pandas' and numpy's casts.
 *   5. the MLflow JSON formats (dataframe_split, dataframe_records, instances,
 *      inputs) and the frame they fill.
 *   6. text/csv (through core/csv.h).
 *   7. params against the ParamSchema.
 *   8. the Content-Type and the entry point.
 *   9. the Open Inference Protocol.
 *  10. rows of a stream (cairn predict): a CSV header's mapping, then one
 *      record or one JSON line at a time.
 *
 * The matrix is written as the JSON tree is walked, once, with no allocation
 * per cell. Where pandas' result depends on a whole column (a null in a long
 * column is pandas' IntCastingNaNError when the column is otherwise numeric,
 * Python's TypeError when it holds other objects; a null in a boolean column
 * is True or False the same way), the walk records what kinds of value each
 * column held and the first value that did not convert, and settles the
 * column at the end. Cells not written (a record without the key, a short
 * row) hold a NaN with a payload of their own until then.
 */
#include "serve/decode.h"
#include "serve/decode_int.h"
#include "core/buf.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHAPE_DIMS 32
#define BAD_REQUEST "BAD_REQUEST"
#define INVALID_PARAMETER_VALUE "INVALID_PARAMETER_VALUE"

static const char *const format_names[] = {
	[SERVE_FMT_NONE] = "none",
	[SERVE_FMT_DATAFRAME_SPLIT] = "dataframe_split",
	[SERVE_FMT_DATAFRAME_RECORDS] = "dataframe_records",
	[SERVE_FMT_INSTANCES] = "instances",
	[SERVE_FMT_INPUTS] = "inputs",
	[SERVE_FMT_CSV] = "csv",
	[SERVE_FMT_OIP] = "oip",
};

const char *serve_format_name(enum serve_format f)
{
	return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory decoding the request");
}

/* ==== 1. Python's words ==== */

/* repr() of a str: single quotes unless the text has ' and no ", escapes as Python writes them. */
static void py_repr_str(struct buf *b, const char *s, size_t n)
{
	char q = (memchr(s, '\'', n) && !memchr(s, '"', n)) ? '"' : '\'';

	buf_putc(b, q);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\' || c == (unsigned char)q) {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n') {
			buf_puts(b, "\\n");
		} else if (c == '\r') {
			buf_puts(b, "\\r");
		} else if (c == '\t') {
			buf_puts(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\x%02x", c);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, q);
}

/* repr() of a float: the shortest digits that read back, Python's layout. */
static void py_repr_float(struct buf *b, double d)
{
	char tmp[40], digits[24];
	int prec, exp10, nd = 0, decpt;
	char *e;

	if (isnan(d)) {
		buf_puts(b, "nan");
		return;
	}
	if (isinf(d)) {
		buf_puts(b, d < 0 ? "-inf" : "inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
	e = strchr(tmp, 'e');
	exp10 = (int)strtol(e + 1, NULL, 10);
	for (char *p = tmp; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (d < 0 || (d == 0 && signbit(d)))
		buf_putc(b, '-');
	decpt = exp10 + 1;
	if (decpt <= -4 || decpt > 16) {
		buf_putc(b, digits[0]);
		if (nd > 1) {
			buf_putc(b, '.');
			buf_puts(b, digits + 1);
		}
		buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (decpt <= 0) {
		buf_puts(b, "0.");
		for (int i = decpt; i < 0; i++)
			buf_putc(b, '0');
		buf_puts(b, digits);
	} else if (decpt >= nd) {
		buf_puts(b, digits);
		for (int i = nd; i < decpt; i++)
			buf_putc(b, '0');
		buf_puts(b, ".0");
	} else {
		buf_put(b, digits, (size_t)decpt);
		buf_putc(b, '.');
		buf_puts(b, digits + decpt);
	}
}

/* The special reals that stand for NaN, Infinity and -Infinity in a body
 * rewritten for jansson (section 3): three denormals no client sends. */
#define MAGIC_NAN 0x1p-1074
#define MAGIC_INF 0x1p-1073
#define MAGIC_NINF 0x1.8p-1073

static double jreal(const json_t *v)
{
	double d = json_real_value(v);

	if (d > 0 && d < 0x1p-1072) {
		if (d == MAGIC_NAN)
			return NAN;
		if (d == MAGIC_INF)
			return INFINITY;
		if (d == MAGIC_NINF)
			return -INFINITY;
	}
	return d;
}

/* repr() of a JSON value as Python sees it after json.loads. */
static void py_repr_json(struct buf *b, const json_t *v)
{
	size_t i;
	const char *k;
	json_t *e;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		buf_putc(b, '{');
		i = 0;
		json_object_foreach((json_t *)v, k, e) {
			if (i++)
				buf_puts(b, ", ");
			py_repr_str(b, k, strlen(k));
			buf_puts(b, ": ");
			py_repr_json(b, e);
		}
		buf_putc(b, '}');
		break;
	case JSON_ARRAY:
		buf_putc(b, '[');
		json_array_foreach(v, i, e) {
			if (i)
				buf_puts(b, ", ");
			py_repr_json(b, e);
		}
		buf_putc(b, ']');
		break;
	case JSON_STRING:
		py_repr_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		py_repr_float(b, jreal(v));
		break;
	case JSON_TRUE:
		buf_puts(b, "True");
		break;
	case JSON_FALSE:
		buf_puts(b, "False");
		break;
	default:
		buf_puts(b, "None");
	}
}

/* str() of a JSON value: a string as it is, anything else as repr(). */
static void py_str_json(struct buf *b, const json_t *v)
{
	if (json_is_string(v))
		buf_put(b, json_string_value(v), json_string_length(v));
	else
		py_repr_json(b, v);
}

/* A shape as a Python tuple: (), (3,), (-1, 3). */
static void py_tuple(struct buf *b, const int64_t *dims, size_t n)
{
	buf_putc(b, '(');
	for (size_t i = 0; i < n; i++)
		buf_printf(b, i ? ", %" PRId64 : "%" PRId64, dims[i]);
	if (n == 1)
		buf_putc(b, ',');
	buf_putc(b, ')');
}

/* ==== 2. dtypes and struct serve_input ==== */

static const struct {
	const char *numpy;   /* numpy's name */
	const char *oip;     /* Open Inference Protocol datatype */
	char kind;           /* numpy's dtype.kind */
	int size;            /* itemsize in bytes */
} dtypes[] = {
	[SERVE_DT_ANY] = { "float64", NULL, 'f', 8 },
	[SERVE_DT_BOOL] = { "bool", "BOOL", 'b', 1 },
	[SERVE_DT_INT8] = { "int8", "INT8", 'i', 1 },
	[SERVE_DT_INT16] = { "int16", "INT16", 'i', 2 },
	[SERVE_DT_INT32] = { "int32", "INT32", 'i', 4 },
	[SERVE_DT_INT64] = { "int64", "INT64", 'i', 8 },
	[SERVE_DT_UINT8] = { "uint8", "UINT8", 'u', 1 },
	[SERVE_DT_UINT16] = { "uint16", "UINT16", 'u', 2 },
	[SERVE_DT_UINT32] = { "uint32", "UINT32", 'u', 4 },
	[SERVE_DT_UINT64] = { "uint64", "UINT64", 'u', 8 },
	[SERVE_DT_FLOAT16] = { "float16", "FP16", 'f', 2 },
	[SERVE_DT_FLOAT32] = { "float32", "FP32", 'f', 4 },
	[SERVE_DT_FLOAT64] = { "float64", "FP64", 'f', 8 },
};
#define NDTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

static bool dt_is_int(enum serve_dtype t) { return dtypes[t].kind == 'i' || dtypes[t].kind == 'u'; }
static bool dt_is_float(enum serve_dtype t) { return t != SERVE_DT_ANY && dtypes[t].kind == 'f'; }

static bool dtype_from_mltype(enum mltype t, enum serve_dtype *out)
{
	switch (t) {
	case MLTYPE_BOOLEAN: *out = SERVE_DT_BOOL; return true;
	case MLTYPE_INTEGER: *out = SERVE_DT_INT32; return true;
	case MLTYPE_LONG: *out = SERVE_DT_INT64; return true;
	case MLTYPE_FLOAT: *out = SERVE_DT_FLOAT32; return true;
	case MLTYPE_DOUBLE: *out = SERVE_DT_FLOAT64; return true;
	default: return false;
	}
}

static bool dtype_from_numpy(const char *s, enum serve_dtype *out)
{
	for (size_t i = SERVE_DT_BOOL; i < NDTYPES; i++)
		if (!strcmp(s, dtypes[i].numpy)) {
			*out = (enum serve_dtype)i;
			return true;
		}
	if (!strcmp(s, "bool_")) {
		*out = SERVE_DT_BOOL;
		return true;
	}
	return false;
}

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

long serve_input_column(const struct serve_input *in, const char *name, size_t n)
{
	size_t mask = in->nslots - 1;

	if (!in->names || !in->nslots || memchr(name, '\0', n))
		return -1;
	for (size_t i = name_hash(name, n) & mask;; i = (i + 1) & mask) {
		uint32_t s = in->slots[i];
		const char *c;

		if (!s)
			return -1;
		c = in->names[s - 1];
		if (!strncmp(c, name, n) && c[n] == '\0')   /* name has no NUL: c is at least n long */
			return (long)s - 1;
	}
}

void serve_input_release(struct serve_input *in)
{
	if (!in)
		return;
	if (in->names)
		for (size_t i = 0; i < in->ncols; i++)
			free(in->names[i]);
	free(in->names);
	free(in->dtypes);
	free(in->required);
	free(in->tensor_name);
	free(in->shape);
	free(in->schema_repr);
	free(in->slots);
	json_decref(in->param_defaults);
	memset(in, 0, sizeof(*in));
}

static int build_slots(struct serve_input *in)
{
	size_t n = 8;

	while (n < in->ncols * 2)
		n *= 2;
	if (!(in->slots = ccalloc(n, sizeof(*in->slots))))
		return oom();
	in->nslots = n;
	for (size_t c = 0; c < in->ncols; c++) {
		size_t len = strlen(in->names[c]);
		size_t i = name_hash(in->names[c], len) & (n - 1);

		while (in->slots[i]) {
			if (!strcmp(in->names[in->slots[i] - 1], in->names[c]))
				return cairn_error_set(CAIRN_EINVALID, "the signature names column '%.100s' twice",
						       in->names[c]);
			i = (i + 1) & (n - 1);
		}
		in->slots[i] = (uint32_t)c + 1;
	}
	return 0;
}

static int param_check_default(struct serve_input *in, const struct mlparam *p, json_t **out);
static int param_repr(struct buf *b, const struct mlparam *p, const json_t *def);

int serve_input_from_signature(const struct mlmodel *m, char *const *feature_names, size_t nfeatures,
			       struct serve_input *out)
{
	const struct mlschema *s = m ? m->sig.inputs : NULL;
	struct buf repr = BUF_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if (s && s->tensor) {
		const struct mlspec *t = &s->specs[0];
		enum serve_dtype dt;
		size_t cols = 1;

		if (s->n != 1) {
			rc = cairn_error_set(CAIRN_EUNSUPPORTED, "the signature has %zu input tensors; a native model takes one", s->n);
			goto fail;
		}
		if (!t->dtype || !dtype_from_numpy(t->dtype, &dt)) {
			rc = cairn_error_set(CAIRN_EUNSUPPORTED, "the signature's tensor has dtype '%.40s', which is not numeric",
					     t->dtype ? t->dtype : "?");
			goto fail;
		}
		if (!t->ndim || t->ndim > MAX_SHAPE_DIMS) {
			rc = cairn_error_set(CAIRN_EUNSUPPORTED, "the signature's tensor has %zu dimensions", t->ndim);
			goto fail;
		}
		for (size_t i = 1; i < t->ndim; i++) {
			if (t->shape[i] <= 0) {
				rc = cairn_error_set(CAIRN_EUNSUPPORTED,
						     "the signature's tensor has a variable or empty inner dimension %zu; a native model takes fixed rows", i);
				goto fail;
			}
			if (cols > SERVE_MAX_VALUES / (size_t)t->shape[i]) {
				rc = cairn_error_set(CAIRN_EUNSUPPORTED, "the signature's tensor rows are too large");
				goto fail;
			}
			cols *= (size_t)t->shape[i];
		}
		out->tensor = true;
		out->ncols = cols;
		out->ndim = t->ndim;
		if (!(out->shape = cmalloc(t->ndim * sizeof(*out->shape))) ||
		    !(out->dtypes = cmalloc(cols * sizeof(*out->dtypes))) ||
		    (t->name && !(out->tensor_name = cstrdup(t->name)))) {
			rc = oom();
			goto fail;
		}
		memcpy(out->shape, t->shape, t->ndim * sizeof(*out->shape));
		for (size_t i = 0; i < cols; i++)
			out->dtypes[i] = dt;
		buf_putc(&repr, '[');
		if (t->name) {
			py_repr_str(&repr, t->name, strlen(t->name));
			buf_puts(&repr, ": ");
		}
		buf_printf(&repr, "Tensor('%s', ", dtypes[dt].numpy);
		py_tuple(&repr, t->shape, t->ndim);
		buf_puts(&repr, ")]");
	} else if (s) {
		bool named = s->specs[0].name != NULL;

		out->ncols = s->n;
		if (!(out->dtypes = cmalloc(s->n * sizeof(*out->dtypes))) ||
		    !(out->required = cmalloc(s->n * sizeof(*out->required))) ||
		    (named && !(out->names = ccalloc(s->n, sizeof(*out->names))))) {
			rc = oom();
			goto fail;
		}
		buf_putc(&repr, '[');
		for (size_t i = 0; i < s->n; i++) {
			const struct mlspec *c = &s->specs[i];

			if (!dtype_from_mltype(c->type, &out->dtypes[i])) {
				rc = cairn_error_set(CAIRN_EUNSUPPORTED,
						     "the signature's column '%.100s' is of type %s; a native model takes numbers only",
						     c->name ? c->name : "?", mltype_name(c->type));
				goto fail;
			}
			out->required[i] = c->required;
			if (named && !(out->names[i] = cstrdup(c->name))) {
				rc = oom();
				goto fail;
			}
			if (i)
				buf_puts(&repr, ", ");
			if (c->name) {
				py_repr_str(&repr, c->name, strlen(c->name));
				buf_puts(&repr, ": ");
			}
			buf_printf(&repr, "%s (%s)", mltype_name(c->type), c->required ? "required" : "optional");
		}
		buf_putc(&repr, ']');
		if (named && (rc = build_slots(out)))
			goto fail;
	} else {
		if (!nfeatures) {
			rc = cairn_error_set(CAIRN_EINVALID, "the model has no signature and no feature count");
			goto fail;
		}
		out->ncols = nfeatures;
		if (feature_names) {
			if (!(out->names = ccalloc(nfeatures, sizeof(*out->names)))) {
				rc = oom();
				goto fail;
			}
			for (size_t i = 0; i < nfeatures; i++)
				if (!(out->names[i] = cstrdup(feature_names[i]))) {
					rc = oom();
					goto fail;
				}
			if ((rc = build_slots(out)))
				goto fail;
		}
	}
	if (s && nfeatures && nfeatures != out->ncols) {
		rc = cairn_error_set(CAIRN_EINVALID, "the signature describes %zu columns but the model takes %zu features",
				     out->ncols, nfeatures);
		goto fail;
	}
	if (repr.len) {
		if (repr.err) {
			rc = buf_error(&repr);
			goto fail;
		}
		out->schema_repr = buf_detach(&repr);
	}
	if (m && m->sig.params && m->sig.nparams) {
		out->params = m->sig.params;
		out->nparams = m->sig.nparams;
		if (!(out->param_defaults = json_object())) {
			rc = oom();
			goto fail;
		}
		for (size_t i = 0; i < m->sig.nparams; i++) {
			json_t *def = NULL;

			if ((rc = param_check_default(out, &m->sig.params[i], &def)))
				goto fail;
			if (json_object_set_new(out->param_defaults, m->sig.params[i].name, def)) {
				rc = oom();
				goto fail;
			}
		}
	}
	return 0;
fail:
	buf_release(&repr);
	serve_input_release(out);
	return rc;
}

/* ==== 3. the body ==== */

/* Rewrite Python's NaN, Infinity and -Infinity literals and reals too big
 * for a double (Python reads 1e400 as inf) outside strings into the magic
 * denormals jreal() maps back. (Short spellings: jansson's lexer asserts when
 * it fails to grow its token buffer, which a token of 16 bytes or more needs.) */
static int rewrite_literals(const char *s, size_t n, struct buf *b)
{
	bool in_str = false;

	for (size_t i = 0; i < n;) {
		char c = s[i];

		if (in_str) {
			size_t j = i;

			while (j < n && s[j] != '"' && s[j] != '\\')
				j++;
			buf_put(b, s + i, j - i);
			if (j >= n)
				break;
			if (s[j] == '\\') {
				buf_put(b, s + j, j + 1 < n ? 2 : 1);
				i = j + 2;
			} else {
				buf_putc(b, '"');
				in_str = false;
				i = j + 1;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
			buf_putc(b, c);
			i++;
		} else if (n - i >= 3 && !memcmp(s + i, "NaN", 3)) {
			buf_puts(b, "5e-324");
			i += 3;
		} else if (n - i >= 8 && !memcmp(s + i, "Infinity", 8)) {
			buf_puts(b, "1e-323");
			i += 8;
		} else if (n - i >= 9 && !memcmp(s + i, "-Infinity", 9)) {
			buf_puts(b, "1.5e-323");
			i += 9;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i + 1;
			bool real = false;
			char tmp[64];

			while (j < n && (strchr("0123456789+-.eE", s[j]) != NULL))
				real |= s[j] == '.' || s[j] == 'e' || s[j] == 'E', j++;
			if (real && j - i < sizeof(tmp)) {
				double d;

				memcpy(tmp, s + i, j - i);
				tmp[j - i] = '\0';
				d = strtod(tmp, NULL);
				if (isinf(d)) {
					buf_puts(b, d > 0 ? "1e-323" : "1.5e-323");
					i = j;
					continue;
				}
			}
			buf_put(b, s + i, j - i);
			i = j;
		} else {
			buf_putc(b, c);
			i++;
		}
	}
	return buf_error(b);
}

/* json.loads(body): any JSON value, Python's literals, duplicate keys keep the last. */
static int parse_body(const char *body, size_t len, json_t **out, const char **error_code)
{
	json_error_t jerr, jerr2;
	json_t *v;

	*out = NULL;
	cjson_oom_clear();
	v = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!v && !cjson_oom_seen()) {   /* perhaps Python's literals: read them as jreal() does */
		struct buf b = BUF_INIT;
		int rc = rewrite_literals(body, len, &b);

		if (rc) {
			buf_release(&b);
			return rc;
		}
		v = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr2);
		buf_release(&b);
	}
	if (cjson_oom_seen()) {
		json_decref(v);
		return oom();
	}
	if (!v) {
		*error_code = BAD_REQUEST;
		/* mlflow/pyfunc/scoring_server/__init__.py, _decode_json_input:
		 * "Ensure that input is a valid JSON formatted string. Error: '{ex!r}'\nInput: ..." */
		return cairn_error_set(CAIRN_EINVALID,
				       "Invalid input. Ensure that input is a valid JSON formatted string. "
				       "Error: '%s: line %d column %d (char %d)'",
				       jerr.text, jerr.line, jerr.column, jerr.position);
	}
	*out = v;
	return 0;
}

/* ==== 4. values ==== */

enum {
	K_NULL = 1, K_BOOL = 2, K_INT = 4, K_REAL = 8, K_STR = 16, K_LIST = 32, K_DICT = 64,
};

static unsigned kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return K_DICT;
	case JSON_ARRAY: return K_LIST;
	case JSON_STRING: return K_STR;
	case JSON_INTEGER: return K_INT;
	case JSON_REAL: return K_REAL;
	case JSON_TRUE:
	case JSON_FALSE: return K_BOOL;
	default: return K_NULL;
	}
}

/* Why a value does not convert, in Python's words. */
enum prob {
	P_OK,
	P_STR_FLOAT,   /* ValueError: could not convert string to float: 'x' */
	P_TYPE_FLOAT,  /* TypeError: float() argument must be a string or a real number, not 'dict' */
	P_SEQ,         /* ValueError: setting an array element with a sequence. */
	P_NONE_INT,    /* TypeError: int() argument must be ..., not 'NoneType' */
	P_TYPE_INT,    /* TypeError: int() argument must be ..., not 'dict' */
	P_STR_INT,     /* ValueError: invalid literal for int() with base 10: 'x' */
	P_NAN_INT,     /* ValueError: cannot convert float NaN to integer */
	P_INF_INT,     /* OverflowError: cannot convert float infinity to integer */
	P_BIG_INT,     /* OverflowError: Python int too large to convert to C long */
	P_PD_NAN_INT,  /* pandas' IntCastingNaNError */
	P_NOT_NUMBER,  /* no signature: the model takes numbers */
};

/* Python's message for p about v; with_class: repr() of the exception
 * (pandas' wording in MlflowFailedTypeConversion), else str(). */
static void prob_message(struct buf *b, int p, const json_t *v, bool with_class)
{
	struct buf m = BUF_INIT;
	const char *cls = "ValueError";

	switch (p) {
	case P_STR_FLOAT:
		buf_puts(&m, "could not convert string to float: ");
		py_repr_str(&m, json_string_value(v), json_string_length(v));
		break;
	case P_TYPE_FLOAT:
		cls = "TypeError";
		buf_printf(&m, "float() argument must be a string or a real number, not '%s'", cjson_py_type(v));
		break;
	case P_SEQ:
		buf_puts(&m, "setting an array element with a sequence.");
		break;
	case P_NONE_INT:
	case P_TYPE_INT:
		cls = "TypeError";
		buf_printf(&m, "int() argument must be a string, a bytes-like object or a real number, not '%s'",
			   cjson_py_type(v));
		break;
	case P_STR_INT:
		buf_puts(&m, "invalid literal for int() with base 10: ");
		py_repr_str(&m, json_string_value(v), json_string_length(v));
		break;
	case P_NAN_INT:
		buf_puts(&m, "cannot convert float NaN to integer");
		break;
	case P_INF_INT:
		cls = "OverflowError";
		buf_puts(&m, "cannot convert float infinity to integer");
		break;
	case P_BIG_INT:
		cls = "OverflowError";
		buf_puts(&m, "Python int too large to convert to C long");
		break;
	case P_PD_NAN_INT:
		cls = "IntCastingNaNError";
		buf_puts(&m, "Cannot convert non-finite values (NA or inf) to integer");
		break;
	default:
		buf_puts(&m, "not a number: ");
		py_repr_json(&m, v);
	}
	if (with_class) {
		buf_printf(b, "%s(", cls);
		py_repr_str(b, m.ptr, m.len);
		buf_putc(b, ')');
	} else {
		buf_put(b, m.ptr, m.len);
	}
	buf_release(&m);
}

static bool py_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void strip(const char **s, size_t *n)
{
	while (*n && py_space(**s))
		(*s)++, (*n)--;
	while (*n && py_space((*s)[*n - 1]))
		(*n)--;
}

/* Digits with single underscores between them (PEP 515), copied without them. */
static size_t py_digits(const char *s, size_t n, size_t i, char *out, size_t *o, size_t cap)
{
	size_t start = i;

	while (i < n) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (*o < cap)
				out[(*o)++] = s[i];
			i++;
		} else if (s[i] == '_' && i > start && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
		} else {
			break;
		}
	}
	return i - start;
}

/* Python's float(str). */
static bool py_parse_float(const char *s, size_t n, double *d)
{
	char tmp[512];
	size_t i = 0, o = 0, nd;
	const char *w;

	strip(&s, &n);
	if (!n || n >= sizeof(tmp) - 1 || memchr(s, '\0', n))
		return false;
	if (s[0] == '+' || s[0] == '-')
		tmp[o++] = s[i++];
	w = s + i;
	if (n - i == 3 && !strncasecmp(w, "inf", 3))
		return *d = (s[0] == '-' ? -INFINITY : INFINITY), true;
	if (n - i == 8 && !strncasecmp(w, "infinity", 8))
		return *d = (s[0] == '-' ? -INFINITY : INFINITY), true;
	if (n - i == 3 && !strncasecmp(w, "nan", 3))
		return *d = NAN, true;
	nd = py_digits(s, n, i, tmp, &o, sizeof(tmp) - 1);
	i += nd;
	if (i < n && s[i] == '.') {
		size_t fd;

		tmp[o++] = s[i++];
		fd = py_digits(s, n, i, tmp, &o, sizeof(tmp) - 1);
		i += fd;
		nd += fd;
	}
	if (!nd)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		tmp[o++] = s[i++];
		if (i < n && (s[i] == '+' || s[i] == '-'))
			tmp[o++] = s[i++];
		if (!py_digits(s, n, i, tmp, &o, sizeof(tmp) - 1))
			return false;
		while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			i++;
	}
	if (i != n || o >= sizeof(tmp))
		return false;
	tmp[o] = '\0';
	*d = strtod(tmp, NULL);
	return true;
}

/* Python's int(str), base 10; *big when it does not fit an int64. */
static bool py_parse_int(const char *s, size_t n, int64_t *out, bool *big)
{
	char tmp[512];
	size_t i = 0, o = 0;
	long long v;

	*big = false;
	strip(&s, &n);
	if (!n || n >= sizeof(tmp) - 1 || memchr(s, '\0', n))
		return false;
	if (s[0] == '+' || s[0] == '-')
		tmp[o++] = s[i++];
	if (!py_digits(s, n, i, tmp, &o, sizeof(tmp) - 1))
		return false;
	while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
		i++;
	if (i != n)
		return false;
	tmp[o] = '\0';
	errno = 0;
	v = strtoll(tmp, NULL, 10);
	if (errno == ERANGE)
		*big = true;
	*out = v;
	return true;
}

/* float(v) as numpy and pandas cast a value to a float dtype (None is NaN). */
static int conv_float(const json_t *v, double *d)
{
	switch (json_typeof(v)) {
	case JSON_REAL: *d = jreal(v); return P_OK;
	case JSON_INTEGER: *d = (double)json_integer_value(v); return P_OK;
	case JSON_TRUE: *d = 1; return P_OK;
	case JSON_FALSE: *d = 0; return P_OK;
	case JSON_NULL: *d = NAN; return P_OK;
	case JSON_STRING:
		return py_parse_float(json_string_value(v), json_string_length(v), d) ? P_OK : P_STR_FLOAT;
	case JSON_ARRAY: return P_SEQ;
	default: return P_TYPE_FLOAT;
	}
}

/* int(v) as numpy casts a value to an integer dtype. */
static int conv_int(const json_t *v, int64_t *i)
{
	double d;
	bool big;

	switch (json_typeof(v)) {
	case JSON_INTEGER: *i = json_integer_value(v); return P_OK;
	case JSON_TRUE: *i = 1; return P_OK;
	case JSON_FALSE: *i = 0; return P_OK;
	case JSON_REAL:
		d = jreal(v);
		if (isnan(d))
			return P_NAN_INT;
		if (isinf(d))
			return P_INF_INT;
		if (d >= 0x1p63 || d < -0x1p63)
			return P_BIG_INT;
		*i = (int64_t)d;
		return P_OK;
	case JSON_NULL: return P_NONE_INT;
	case JSON_STRING:
		if (!py_parse_int(json_string_value(v), json_string_length(v), i, &big))
			return P_STR_INT;
		return big ? P_BIG_INT : P_OK;
	case JSON_ARRAY: return P_SEQ;
	default: return P_TYPE_INT;
	}
}

/* bool(v) as numpy casts a value to bool (a string is True when not empty). */
static float conv_bool(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_TRUE: return 1;
	case JSON_FALSE: case JSON_NULL: return 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return jreal(v) != 0;   /* NaN is True */
	case JSON_STRING: return json_string_length(v) != 0;
	case JSON_ARRAY: return json_array_size(v) != 0;
	default: return json_object_size(v) != 0;
	}
}

/* A double rounded to the nearest float16, as a float. */
static float round_half(double d)
{
	double a = fabs(d), q;
	int e;

	if (isnan(d) || isinf(d))
		return (float)d;
	if (a >= 65520.0)
		return d < 0 ? -INFINITY : INFINITY;
	if (a < 0x1p-14) {
		q = 0x1p-24;
	} else {
		frexp(a, &e);
		q = ldexp(1.0, e - 11);
	}
	return (float)(nearbyint(d / q) * q);
}

/* An integer cast to t the C (and numpy) way: wrapping to the width. */
static float int_to(enum serve_dtype t, int64_t i)
{
	switch (t) {
	case SERVE_DT_INT8: return (float)(int8_t)(uint8_t)i;
	case SERVE_DT_INT16: return (float)(int16_t)(uint16_t)i;
	case SERVE_DT_INT32: return (float)(int32_t)(uint32_t)i;
	case SERVE_DT_UINT8: return (float)(uint8_t)i;
	case SERVE_DT_UINT16: return (float)(uint16_t)i;
	case SERVE_DT_UINT32: return (float)(uint32_t)i;
	case SERVE_DT_UINT64: return (float)(uint64_t)i;
	case SERVE_DT_BOOL: return i != 0;
	case SERVE_DT_FLOAT16: return round_half((double)i);
	case SERVE_DT_FLOAT32: return (float)i;
	default: return (float)i;
	}
}

static float float_to(enum serve_dtype t, double d)
{
	if (t == SERVE_DT_FLOAT16)
		return round_half(d);
	return (float)d;
}

/* numpy.array([v], dtype=t)[0] into *out; a prob when it fails. */
static int conv_numpy(enum serve_dtype t, const json_t *v, float *out)
{
	double d;
	int64_t i;
	int p;

	if (t == SERVE_DT_ANY) {
		switch (json_typeof(v)) {
		case JSON_REAL: *out = (float)jreal(v); return P_OK;
		case JSON_INTEGER: *out = (float)json_integer_value(v); return P_OK;
		case JSON_TRUE: *out = 1; return P_OK;
		case JSON_FALSE: *out = 0; return P_OK;
		case JSON_NULL: *out = NAN; return P_OK;
		default: return P_NOT_NUMBER;
		}
	}
	if (t == SERVE_DT_BOOL) {
		if (json_is_array(v))
			return P_SEQ;
		*out = conv_bool(v);
		return P_OK;
	}
	if (dt_is_float(t)) {
		if ((p = conv_float(v, &d)))
			return p;
		*out = float_to(t, d);
		return P_OK;
	}
	if ((p = conv_int(v, &i)))
		return p;
	*out = int_to(t, i);
	return P_OK;
}

/* ==== 5. the MLflow JSON formats ==== */

#define SCHEMA_REPR_MAX 400   /* longer schema reprs are cut in messages (error.h keeps 1 KiB) */

/* One decoding: the matrix being filled and what is known about it. */
struct dec {
	const struct serve_input *in;
	struct serve_frame *out;
	size_t ncols, nrows;
	float *x;
	unsigned char *kinds;      /* per model column: K_* of the values met (pandas' column dtype) */
	unsigned char *present;    /* per model column: the request has it */
	unsigned char small[512];  /* kinds and present for up to 256 columns */
	unsigned char *heap;
	bool absent;               /* cells may be unwritten (they hold the sentinel) */
	bool numpy;                /* numpy's rule: the first bad value met is the error */
	/* the bad value to report: pandas, in the lowest model column; numpy, the first */
	int bad;
	size_t bad_col, bad_row;
	const json_t *bad_v;
	/* the request's names of the model's columns, for positional models (named ones use theirs) */
	const json_t *fcols;       /* dataframe_split's "columns" (frame column i is model column i) */
	const char **fkeys;        /* dataframe_records' keys in the order met */
};

/* The NaNs with a payload of their own that stand for cells pandas fills:
 * None (a short row's padding, a JSON null where it matters) or NaN (a
 * record without the key, an index without data). */
enum { SENT_NONE = 1, SENT_NAN = 2 };
static const uint32_t sentinel_bits[3] = { 0, 0x7fc2a5a5u, 0x7fc2a5a6u };

static float sentinel(int kind)
{
	float f;

	memcpy(&f, &sentinel_bits[kind], sizeof(f));
	return f;
}

/* SENT_NONE, SENT_NAN, or 0 for a value. */
static int sentinel_kind(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u == sentinel_bits[SENT_NONE] ? SENT_NONE : u == sentinel_bits[SENT_NAN] ? SENT_NAN : 0;
}

static enum serve_dtype col_dtype(const struct dec *d, size_t c)
{
	return d->in->dtypes ? d->in->dtypes[c] : SERVE_DT_ANY;
}

static int failv(struct dec *d, const char *code, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	buf_vprintf(&b, fmt, ap);
	if (b.err) {
		buf_release(&b);
		return oom();
	}
	d->out->error_code = code;
	cairn_error_set(CAIRN_EINVALID, "%s", b.ptr);
	buf_release(&b);
	return CAIRN_EINVALID;
}

/* A 400 with MLflow's BAD_REQUEST. */
static int bad(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = failv(d, BAD_REQUEST, fmt, ap);
	va_end(ap);
	return rc;
}

/* An error of _enforce_schema, wrapped as _validate_prediction_input does
 * (mlflow/pyfunc/__init__.py): "Failed to enforce schema of data '{data}'
 * with schema '{input_schema}'. Error: {e}" - without the data. Models
 * without a signature get the inner message alone. */
static int enforce(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int enforce(struct dec *d, const char *fmt, ...)
{
	struct buf inner = BUF_INIT;
	const char *repr = d->in->schema_repr;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	buf_vprintf(&inner, fmt, ap);
	va_end(ap);
	if (inner.err) {
		buf_release(&inner);
		return oom();
	}
	if (!repr) {
		rc = bad(d, "%s", inner.ptr);
	} else {
		size_t n = strlen(repr);

		rc = n > SCHEMA_REPR_MAX
			? bad(d, "Failed to enforce schema of data with schema '%.*s...]'. Error: %s", SCHEMA_REPR_MAX, repr, inner.ptr)
			: bad(d, "Failed to enforce schema of data with schema '%s'. Error: %s", repr, inner.ptr);
		d->out->error_code = INVALID_PARAMETER_VALUE;
	}
	buf_release(&inner);
	return rc;
}

static int dec_init(struct dec *d, const struct serve_input *in, struct serve_frame *out, bool numpy)
{
	memset(d, 0, sizeof(*d));
	d->in = in;
	d->out = out;
	d->ncols = in->ncols;
	d->numpy = numpy;
	if (in->ncols <= sizeof(d->small) / 2) {
		d->kinds = d->small;
	} else {
		if (!(d->heap = ccalloc(in->ncols, 2)))
			return oom();
		d->kinds = d->heap;
	}
	d->present = d->kinds + in->ncols;
	return 0;
}

static void dec_release(struct dec *d)
{
	free(d->heap);
	free(d->x);
}

/* Room for nrows rows; every cell the sentinel `absent` (SENT_*) when cells may stay unwritten. */
static int dec_alloc(struct dec *d, size_t nrows, int absent)
{
	size_t n;

	if (d->ncols && nrows > SERVE_MAX_VALUES / d->ncols)
		return cairn_error_set(CAIRN_ETOOBIG, "the request has %zu rows of %zu columns: more than %zu values",
				       nrows, d->ncols, SERVE_MAX_VALUES);
	d->nrows = nrows;
	n = nrows * d->ncols;
	if (!n)
		return 0;
	if (!(d->x = cmalloc(n * sizeof(*d->x))))
		return oom();
	d->absent = absent != 0;
	if (absent) {
		float s = sentinel(absent);

		for (size_t i = 0; i < n; i++)
			d->x[i] = s;
	}
	return 0;
}

static void note_bad(struct dec *d, int p, size_t col, size_t row, const json_t *v)
{
	if (d->bad && (d->numpy || col >= d->bad_col))
		return;
	d->bad = p;
	d->bad_col = col;
	d->bad_row = row;
	d->bad_v = v;
}

/* One cell the pandas way: astype(dtype) of the column (settled by settle()). */
static void put_pandas(struct dec *d, size_t c, size_t r, const json_t *v)
{
	enum serve_dtype t = col_dtype(d, c);
	float *cell = &d->x[r * d->ncols + c];
	unsigned k = kind_of(v);
	double f;
	int64_t i;
	int p;

	d->kinds[c] |= (unsigned char)k;
	if (k == K_REAL && (t == SERVE_DT_FLOAT64 || t == SERVE_DT_ANY || t == SERVE_DT_FLOAT32)) {
		*cell = (float)jreal(v);
		return;
	}
	if (t == SERVE_DT_ANY) {
		if ((p = conv_numpy(t, v, cell)))
			note_bad(d, p, c, r, v);
		return;
	}
	if (dt_is_float(t)) {
		if ((p = conv_float(v, &f)))
			note_bad(d, p, c, r, v);
		else
			*cell = float_to(t, f);
		return;
	}
	if (t == SERVE_DT_BOOL) {
		if (k == K_NULL)
			*cell = sentinel(SENT_NONE);
		else if (k == K_LIST)
			note_bad(d, P_SEQ, c, r, v);
		else
			*cell = conv_bool(v);
		return;
	}
	if (k == K_NULL) {
		*cell = sentinel(SENT_NONE);
		note_bad(d, P_NONE_INT, c, r, v);
		return;
	}
	if ((p = conv_int(v, &i)))
		note_bad(d, p, c, r, v);
	else
		*cell = int_to(t, i);
}

/* The request's name of model column c as pandas prints it (str()). */
static void put_colname(const struct dec *d, struct buf *b, size_t c)
{
	const json_t *n;

	if (d->in->names)
		buf_puts(b, d->in->names[c]);
	else if (d->fcols && (n = json_array_get(d->fcols, c)))
		py_str_json(b, n);
	else if (d->fkeys)
		buf_puts(b, d->fkeys[c]);
	else
		buf_printf(b, "%zu", c);
}

/* The reported bad value as MLflow's message. */
static int report_bad(struct dec *d)
{
	struct buf m = BUF_INIT;
	int rc;

	if (d->bad == P_NOT_NUMBER) {
		buf_puts(&m, "Invalid input. Column ");
		put_colname(d, &m, d->bad_col);
		buf_puts(&m, " holds ");
		py_repr_json(&m, d->bad_v);
		buf_puts(&m, "; this model takes numbers");
	} else if (d->numpy) {
		/* convert_data_type: MlflowInvalidInputException(f"{ex}") */
		buf_puts(&m, "Invalid input. ");
		prob_message(&m, d->bad, d->bad_v, false);
	} else {
		/* cast_df_types_according_to_schema: MlflowFailedTypeConversion(col_name, col_type, ex):
		 * "Data is not compatible with model signature. Failed to convert column {col_name}
		 * to type '{col_type}'. Error: '{ex!r}'" */
		buf_puts(&m, "Invalid input. Data is not compatible with model signature. Failed to convert column ");
		put_colname(d, &m, d->bad_col);
		buf_printf(&m, " to type '%s'. Error: '", dtypes[col_dtype(d, d->bad_col)].numpy);
		prob_message(&m, d->bad, d->bad_v, true);
		buf_putc(&m, '\'');
	}
	rc = m.err ? oom() : bad(d, "%s", m.ptr);
	buf_release(&m);
	return rc;
}

#define K_OBJ 128   /* kinds: pandas made the column object dtype whatever it holds */

/* After a pandas walk: nulls and unwritten cells by what the whole column held. */
static int settle(struct dec *d)
{
	size_t last = d->bad ? d->bad_col + 1 : d->ncols;

	for (size_t c = 0; c < last; c++) {
		enum serve_dtype t = col_dtype(d, c);
		unsigned k = d->kinds[c];
		size_t first_none = SIZE_MAX, first_nan = SIZE_MAX, first;
		bool numeric;

		if (!d->present[c])
			continue;
		if (d->absent || ((k & K_NULL) && (dt_is_int(t) || t == SERVE_DT_BOOL))) {
			for (size_t r = 0; r < d->nrows; r++) {
				int sk = sentinel_kind(d->x[r * d->ncols + c]);

				if (sk == SENT_NONE && first_none == SIZE_MAX)
					first_none = r;
				if (sk == SENT_NAN && first_nan == SIZE_MAX)
					first_nan = r;
			}
			if (first_none != SIZE_MAX)
				k |= K_NULL;
			if (first_nan != SIZE_MAX)
				k |= K_REAL;
		}
		first = first_none < first_nan ? first_none : first_nan;
		if (first == SIZE_MAX && !(d->bad && d->bad_col == c))
			continue;
		numeric = !(k & ~(K_INT | K_REAL | K_NULL)) && (k & (K_INT | K_REAL));
		if (dt_is_int(t)) {
			if (numeric) {
				/* a float64 column with NaN: pandas' astype raises IntCastingNaNError */
				note_bad(d, P_PD_NAN_INT, c, 0, NULL);
				d->bad = P_PD_NAN_INT;
			} else if (first != SIZE_MAX && (!d->bad || d->bad_col != c || first < d->bad_row)) {
				/* an object column: int(None) or int(nan) */
				if (d->bad && d->bad_col == c)
					d->bad = 0;
				note_bad(d, first == first_none ? P_NONE_INT : P_NAN_INT, c, first, json_null());
			}
			continue;
		}
		if (first == SIZE_MAX)
			continue;
		for (size_t r = first; r < d->nrows; r++) {
			float *cell = &d->x[r * d->ncols + c];
			int sk = sentinel_kind(*cell);

			if (sk && t == SERVE_DT_BOOL)
				*cell = sk == SENT_NAN || numeric ? 1.0f : 0.0f;   /* bool(nan) is True, bool(None) False */
			else if (sk)
				*cell = NAN;
		}
	}
	return d->bad ? report_bad(d) : 0;
}

/* The model's required columns the request lacks: _enforce_schema's "Model
 * is missing inputs ['a']. Note that there were extra inputs: ['c']." (extras:
 * the request's other columns, already in repr form; MLflow lists them in
 * set order, cairn in the request's). */
static int check_missing(struct dec *d, const struct buf *extras)
{
	struct buf miss = BUF_INIT;
	int rc = 0;

	if (!d->in->names)
		return 0;
	for (size_t c = 0; c < d->ncols; c++) {
		if (d->present[c] || (d->in->required && !d->in->required[c]))
			continue;
		if (miss.len)
			buf_puts(&miss, ", ");
		py_repr_str(&miss, d->in->names[c], strlen(d->in->names[c]));
	}
	if (miss.err)
		rc = oom();
	else if (miss.len && extras && extras->len)
		rc = enforce(d, "Model is missing inputs [%s]. Note that there were extra inputs: [%s].", miss.ptr, extras->ptr);
	else if (miss.len)
		rc = enforce(d, "Model is missing inputs [%s].", miss.ptr);
	buf_release(&miss);
	return rc;
}

/* Hand the matrix to the frame: absent optional columns are NaN. */
static int finish(struct dec *d, enum serve_format fmt)
{
	for (size_t c = 0; c < d->ncols; c++)
		if (!d->present[c])
			for (size_t r = 0; r < d->nrows; r++)
				d->x[r * d->ncols + c] = NAN;
	d->out->nrows = d->nrows;
	d->out->ncols = d->ncols;
	d->out->x = d->x;
	d->out->format = fmt;
	d->x = NULL;
	return 0;
}

static void extra_name(struct buf *extras, const json_t *name, size_t j)
{
	if (extras->len)
		buf_puts(extras, ", ");
	if (name)
		py_repr_json(extras, name);
	else
		buf_printf(extras, "%zu", j);
}

/* Frame column j (called name, NULL: unnamed) to model column, or -1. */
static long map_name(struct dec *d, const json_t *name, size_t j, bool positional)
{
	long c;

	if (positional)
		return j < d->ncols ? (long)j : -1;
	if (!name || !json_is_string(name))
		return -1;
	c = serve_input_column(d->in, json_string_value(name), json_string_length(name));
	return c;
}

/* The tensor signature's checks on a frame of w columns (_enforce_tensor_schema for a DataFrame). */
static int tensor_frame(struct dec *d, size_t w)
{
	struct buf shape = BUF_INIT;
	const int64_t *s = d->in->shape;
	size_t nd = d->in->ndim;
	bool var = false;
	int rc = 0;

	py_tuple(&shape, s, nd);
	for (size_t i = 1; i < nd; i++)
		var |= s[i] == -1;
	if (d->nrows == 0)
		rc = enforce(d, "Input DataFrame is empty.");
	else if (w > 1 && !(nd == 2 && s[0] == -1 && (size_t)s[1] == w))
		rc = enforce(d, "This model contains a model signature with an unnamed input. Since the input data is a "
			     "pandas DataFrame containing multiple columns, the input shape must be of the structure "
			     "(-1, number_of_dataframe_columns). Instead, the input DataFrame passed had %zu columns and an "
			     "input shape of %s with all values within the DataFrame of scalar type. Please adjust the "
			     "passed in DataFrame to match the expected structure", w, shape.ptr);
	else if (w == 1 && (s[0] != -1 || var))
		rc = enforce(d, "For pandas dataframe input, the first dimension of shape must be a variable dimension and "
			     "other dimensions must be fixed, but in model signature the shape of the unnamed input is %s.",
			     shape.ptr);
	else if (w == 1 && !(nd == 1 || (nd == 2 && s[1] == 1)))
		rc = enforce(d, "The input pandas dataframe column 'None' contains scalar values, which requires the shape "
			     "to be (-1,) or (-1, 1), but got tensor spec shape of %s.", shape.ptr);
	buf_release(&shape);
	return rc;
}

/* Checks on a positional frame of w columns (no names to match). */
static int positional_frame(struct dec *d, size_t w)
{
	if (d->in->tensor)
		return tensor_frame(d, w);
	if (d->in->dtypes && w < d->ncols)
		return enforce(d, "Model inference is missing inputs. The model signature declares %zu inputs  but the "
			       "provided value only has %zu inputs. Note: the inputs were not named in the signature so "
			       "we can only verify their count.", d->ncols, w);
	if (!d->in->dtypes && w != d->ncols)
		return bad(d, "Invalid input. The model takes %zu columns; the request has %zu", d->ncols, w);
	return 0;
}

/* pd.DataFrame(index=, columns=, data=) then cast_df_types_according_to_schema. */
static int dec_split(struct dec *d, const json_t *split)
{
	const json_t *data, *cols, *index, *v;
	struct buf extras = BUF_INIT;
	long map_small[256], *map = map_small;
	bool positional, rows2d = false, ragged = false, dup = false;
	size_t n, w = 0, nrows, j;
	const char *k;
	int rc;

	if (!json_is_object(split)) {
		/* mlflow/utils/proto_json_utils.py, dataframe_from_parsed_json */
		if (json_is_array(split))
			return bad(d, "Invalid input. Dataframe split format must be a dictionary. Got list.");
		return bad(d, "Invalid input. Dataframe split format must be a dictionary. Got type <class '%s'>.",
			   cjson_py_type(split));
	}
	data = json_object_get(split, "data");
	cols = json_object_get(split, "columns");
	index = json_object_get(split, "index");
	json_object_foreach((json_t *)split, k, v) {
		if (!data || (strcmp(k, "data") && strcmp(k, "columns") && strcmp(k, "index"))) {
			struct buf keys = BUF_INIT;

			json_object_foreach((json_t *)split, k, v) {
				if (keys.len)
					buf_puts(&keys, ", ");
				py_repr_str(&keys, k, strlen(k));
			}
			rc = keys.err ? oom()
				: bad(d, "Invalid input. Dataframe split format must have 'data' field and optionally "
				      "'columns' and 'index' fields. Got {%s}.'", keys.ptr);
			buf_release(&keys);
			return rc;
		}
	}
	if (!data) /* {} */
		return bad(d, "Invalid input. Dataframe split format must have 'data' field and optionally 'columns' "
			   "and 'index' fields. Got set().'");
	if (json_is_null(cols))
		cols = NULL;
	if (json_is_null(index))
		index = NULL;
	if (cols && !json_is_array(cols))
		return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation in "
			   "'split' format. Error: 'columns must be a list'");
	if (json_is_null(data)) {
		n = 0;
	} else if (!json_is_array(data)) {
		return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation in "
			   "'split' format. Error: '%s'", json_is_object(data) ? "data must be a list of rows"
			   : "DataFrame constructor not properly called!");
	} else {
		n = json_array_size(data);
	}
	for (size_t r = 0; r < n; r++) {
		const json_t *row = json_array_get(data, r);

		if (json_is_object(row))
			return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
				   "in 'split' format. Error: 'data must be a list of rows, not of objects'");
		if (r && json_is_array(row) != rows2d)
			return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
				   "in 'split' format. Error: 'rows must all be lists or all be values'");
		rows2d = json_is_array(row);
		if (rows2d) {
			size_t rw = json_array_size(row);

			if (r && rw != w)
				ragged = true;
			if (rw > w)
				w = rw;
		}
	}
	if (n && !rows2d)
		w = 1;
	if (!n)
		w = cols ? json_array_size(cols) : 0;
	if (cols && n && json_array_size(cols) != w) {
		if (rows2d)
			return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
				   "in 'split' format. Error: '%zu columns passed, passed data had %zu columns'",
				   json_array_size(cols), w);
		return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation in "
			   "'split' format. Error: 'Shape of passed values is (%zu, 1), indices imply (%zu, %zu)'",
			   n, n, json_array_size(cols));
	}
	nrows = n;
	if (index) {
		size_t ni = json_is_array(index) ? json_array_size(index) : 0;

		if (!json_is_array(index))
			return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe representation "
				   "in 'split' format. Error: 'index must be a list'");
		if (ni != n) {
			if (n == 0) {
				ragged = true;   /* pandas: as many rows of NaN as the index has */
			} else if (n != 1 || !rows2d) {
				return bad(d, "Invalid input. Provided dataframe_split field is not a valid dataframe "
					   "representation in 'split' format. Error: 'Length of values (%zu) does not match "
					   "length of index (%zu)'", n, ni);
			}
			nrows = ni;   /* pandas broadcasts a single row over the index */
		}
	}
	positional = !d->in->names || (!cols && !d->in->dtypes);
	d->fcols = positional ? cols : NULL;
	if (w > sizeof(map_small) / sizeof(map_small[0]) && !(map = cmalloc(w * sizeof(*map))))
		return oom();
	for (j = 0; j < w; j++) {
		const json_t *name = cols ? json_array_get(cols, j) : NULL;
		long c = map_name(d, name, j, positional);

		map[j] = c;
		if (c < 0) {
			if (!positional)
				extra_name(&extras, name, j);
			continue;
		}
		dup |= d->present[c];   /* pdf[name] is then a DataFrame, which _enforce_schema trips over */
		d->present[c] = 1;
	}
	if ((rc = dec_alloc(d, nrows, n == 0 && nrows ? SENT_NAN : ragged ? SENT_NONE : 0)))
		goto out;
	if (n == 0)
		for (size_t c = 0; c < d->ncols; c++)
			d->kinds[c] |= K_OBJ;
	for (size_t r = 0; r < n && r < nrows; r++) {
		const json_t *row = json_array_get(data, r);

		if (!rows2d) {
			if (map[0] >= 0)
				put_pandas(d, (size_t)map[0], r, row);
			continue;
		}
		json_array_foreach(row, j, v)
			if (map[j] >= 0)
				put_pandas(d, (size_t)map[j], r, v);
	}
	for (size_t r = n; n && r < nrows; r++)   /* broadcast */
		memcpy(&d->x[r * d->ncols], d->x, d->ncols * sizeof(*d->x));
	if (d->in->tensor && n == 0 && w) {
		/* cast_df_types_according_to_schema reads .iloc[0] of each column */
		struct buf m = BUF_INIT;

		put_colname(d, &m, 0);
		rc = m.err ? oom() : bad(d, "Invalid input. Data is not compatible with model signature. Failed to convert "
					 "column %s to type '%s'. Error: 'IndexError('single positional indexer is "
					 "out-of-bounds')'", m.ptr, dtypes[col_dtype(d, 0)].numpy);
		buf_release(&m);
		goto out;
	}
	if ((rc = settle(d)))
		goto out;
	if (extras.err) {
		rc = oom();
		goto out;
	}
	if ((rc = positional ? positional_frame(d, w) : check_missing(d, &extras)))
		goto out;
	if (dup) {
		rc = enforce(d, "'DataFrame' object has no attribute 'dtype'");
		goto out;
	}
	rc = finish(d, SERVE_FMT_DATAFRAME_SPLIT);
out:
	if (map != map_small)
		free(map);
	buf_release(&extras);
	return rc;
}

/* The keys of objects in a list that are not model columns, in the order met (for the missing-inputs message). */
static int extra_keys(struct dec *d, const json_t *list, struct buf *extras)
{
	const char **seen = NULL;
	size_t nseen = 0, cap = 0, i;
	const json_t *o, *v;
	const char *k;

	json_array_foreach(list, i, o) {
		if (!json_is_object(o))
			continue;
		json_object_foreach((json_t *)o, k, v) {
			size_t s;

			if (serve_input_column(d->in, k, strlen(k)) >= 0)
				continue;
			for (s = 0; s < nseen && strcmp(seen[s], k); s++)
				;
			if (s < nseen)
				continue;
			if (nseen == cap) {
				const char **ns = crealloc(seen, (cap = cap ? cap * 2 : 8) * sizeof(*ns));

				if (!ns) {
					free(seen);
					return oom();
				}
				seen = ns;
			}
			seen[nseen++] = k;
			if (extras->len)
				buf_puts(extras, ", ");
			py_repr_str(extras, k, strlen(k));
		}
	}
	free(seen);
	return extras->err ? oom() : 0;
}

/* pd.DataFrame(data=records) then cast_df_types_according_to_schema. */
static int dec_records(struct dec *d, const json_t *recs)
{
	struct buf extras = BUF_INIT;
	const char **keys = NULL;
	size_t n, nkeys = 0, cap = 0, i, j;
	const json_t *rec, *v;
	bool positional;
	const char *k;
	int rc = 0;

	if (!json_is_array(recs)) {
		if (json_is_object(recs))
			return bad(d, "Invalid input. Dataframe records format must be a list of records. Got dictionary.");
		return bad(d, "Invalid input. Dataframe records format must be a list of records. Got type <class '%s'>.",
			   cjson_py_type(recs));
	}
	n = json_array_size(recs);
	rec = json_array_get(recs, 0);
	if (n && !json_is_object(rec)) {
		/* a list of rows (or of values): a frame with columns 0, 1, ... */
		json_t *split = json_pack("{sO}", "data", recs);
		int src;

		if (!split)
			return oom();
		src = dec_split(d, split);
		json_decref(split);
		if (!src)
			d->out->format = SERVE_FMT_DATAFRAME_RECORDS;
		return src;
	}
	json_array_foreach(recs, i, rec)
		if (!json_is_object(rec))
			return bad(d, "Invalid input. Provided dataframe_records field is not a valid dataframe representation "
				   "in 'records' format. Error: ''%s' object has no attribute 'keys''", cjson_py_type(rec));
	positional = !d->in->names;
	if ((rc = dec_alloc(d, n, SENT_NAN)))
		return rc;
	json_array_foreach(recs, i, rec) {
		json_object_foreach((json_t *)rec, k, v) {
			long c;

			if (!positional) {
				c = serve_input_column(d->in, k, strlen(k));
			} else {
				/* the frame's columns in the order keys are first met */
				for (j = 0; j < nkeys && strcmp(keys[j], k); j++)
					;
				if (j == nkeys) {
					if (nkeys == cap) {
						const char **nk = crealloc(keys, (cap = cap ? cap * 2 : 16) * sizeof(*nk));

						if (!nk) {
							rc = oom();
							goto out;
						}
						keys = nk;
					}
					keys[nkeys++] = k;
				}
				c = j < d->ncols ? (long)j : -1;
			}
			if (c < 0)
				continue;
			d->present[c] = 1;
			put_pandas(d, (size_t)c, i, v);
		}
	}
	d->fkeys = keys;
	if ((rc = settle(d)))
		goto out;
	if (positional) {
		rc = positional_frame(d, nkeys);
	} else {
		for (size_t c = 0; c < d->ncols && !rc; c++)
			if (!d->present[c] && (!d->in->required || d->in->required[c]))
				rc = 1;
		if (rc && !(rc = extra_keys(d, recs, &extras)))
			rc = check_missing(d, &extras);
	}
	if (!rc)
		rc = finish(d, SERVE_FMT_DATAFRAME_RECORDS);
out:
	d->fkeys = NULL;
	free(keys);
	buf_release(&extras);
	return rc;
}

/* ---- instances and inputs: numpy's rules ---- */

/* numpy.array(v)'s shape; false when v is ragged, with the depth where it is
 * (numpy: "inhomogeneous shape after {depth} dimensions"). */
static bool check_shape(const json_t *v, const int64_t *dims, size_t nd, size_t depth, size_t *bad_depth)
{
	size_t i;
	const json_t *e;

	if (depth == nd) {
		if (!json_is_array(v))
			return true;
		*bad_depth = depth;
		return false;
	}
	if (!json_is_array(v) || (int64_t)json_array_size(v) != dims[depth]) {
		*bad_depth = depth;
		return false;
	}
	json_array_foreach(v, i, e)
		if (!check_shape(e, dims, nd, depth + 1, bad_depth))
			return false;
	return true;
}

static int nested_shape(struct dec *d, const json_t *v, int64_t *dims, size_t *nd)
{
	const json_t *e = v;
	size_t n = 0, depth = 0;
	struct buf b = BUF_INIT;
	int rc;

	while (json_is_array(e) && n < MAX_SHAPE_DIMS) {
		dims[n++] = (int64_t)json_array_size(e);
		if (!json_array_size(e))
			break;
		e = json_array_get(e, 0);
	}
	*nd = n;
	if (check_shape(v, dims, n, 0, &depth))
		return 0;
	py_tuple(&b, dims, depth);
	rc = b.err ? oom()
		: bad(d, "Invalid input. setting an array element with a sequence. The requested array has an "
		      "inhomogeneous shape after %zu dimensions. The detected shape was %s + inhomogeneous part.", depth, b.ptr);
	buf_release(&b);
	return rc;
}

/* Every leaf of v (of shape dims[0..nd)) in row-major order into x, with
 * numpy's cast to t; the first that fails is the error. */
static int convert_leaves(struct dec *d, enum serve_dtype t, const json_t *v, size_t nd, float *x, size_t *at)
{
	size_t i;
	const json_t *e;
	int p;

	if (!nd) {
		if ((p = conv_numpy(t, v, &x[*at]))) {
			note_bad(d, p, 0, 0, v);
			return report_bad(d);
		}
		(*at)++;
		return 0;
	}
	json_array_foreach(v, i, e) {
		int rc = convert_leaves(d, t, e, nd - 1, x, at);

		if (rc)
			return rc;
	}
	return 0;
}

static size_t shape_count(const int64_t *dims, size_t nd, bool *too_big)
{
	size_t n = 1;

	*too_big = false;
	for (size_t i = 0; i < nd; i++) {
		if (dims[i] && n > SERVE_MAX_VALUES / (size_t)dims[i])
			*too_big = true;
		else
			n *= (size_t)dims[i];
	}
	return n;
}

/* numpy.array(v, dtype=t) for a whole list or value: its shape and values. */
static int numpy_array(struct dec *d, enum serve_dtype t, const json_t *v, int64_t *dims, size_t *nd, float **vals)
{
	size_t n, at = 0;
	bool big;
	int rc;

	*vals = NULL;
	if ((rc = nested_shape(d, v, dims, nd)))
		return rc;
	n = shape_count(dims, *nd, &big);
	if (big)
		return cairn_error_set(CAIRN_ETOOBIG, "the request has more than %zu values", SERVE_MAX_VALUES);
	if (n && !(*vals = cmalloc(n * sizeof(**vals))))
		return oom();
	if ((rc = convert_leaves(d, t, v, *nd, *vals, &at))) {
		free(*vals);
		*vals = NULL;
	}
	return rc;
}

/* _enforce_mlflow_datatype: may a column of numpy dtype `from` be fed to a
 * model column of type `to`? (same kind and no narrower; unsigned to a wider
 * signed; integers of at most 4 bytes to double; int64 to float/double when
 * every value is 0 or 1) */
static bool safe_cast(enum serve_dtype from, enum serve_dtype to, bool zero_one)
{
	char fk = dtypes[from].kind, tk = dtypes[to].kind;
	int fs = dtypes[from].size, ts = dtypes[to].size;

	if (from == to || to == SERVE_DT_ANY)
		return true;
	if (fk == tk)
		return fs <= ts;
	if (fk == 'u' && tk == 'i')
		return fs < ts;
	if ((fk == 'i' || fk == 'u') && to == SERVE_DT_FLOAT64 && fs <= 6)
		return true;
	return from == SERVE_DT_INT64 && (to == SERVE_DT_FLOAT32 || to == SERVE_DT_FLOAT64) && zero_one;
}

#define NAN_HINT " Hint: the type mismatch is likely caused by missing values. Integer columns in python can " \
	"not represent missing values and are therefore encoded as floats. The best way to avoid this problem is " \
	"to infer the model schema based on a realistic data sample (training dataset) that includes missing " \
	"values. Alternatively, you can declare integer columns as doubles (float64) whenever these columns may " \
	"have missing values. See `Handling Integers With Missing Values <https://www.mlflow.org/docs/latest/" \
	"models.html#handling-integers-with-missing-values>`_ for more details."

/* "Incompatible input types for column X. Can not safely convert float64 to int64." */
static int incompatible(struct dec *d, size_t c, enum serve_dtype from, bool hint)
{
	struct buf name = BUF_INIT;
	int rc;

	put_colname(d, &name, c);
	rc = name.err ? oom()
		: enforce(d, "Incompatible input types for column %s. Can not safely convert %s to %s.%s", name.ptr,
			  dtypes[from].numpy, dtypes[col_dtype(d, c)].numpy, hint ? NAN_HINT : "");
	buf_release(&name);
	return rc;
}

/* The un-named signature's refusal of a dict (or None) in _cast_schema_type. */
static int unnamed_refuses(struct dec *d, const json_t *v)
{
	return bad(d, "Invalid input. Failed to parse input data. This model contains an un-named  model signature "
		   "which expects a single n-dimensional array or a single value as input, however, an input of type "
		   "<class '%s'> was found.", cjson_py_type(v));
}

/* A whole array (the tensor, the unnamed columns, or rows for a model without signature). */
static int dec_array(struct dec *d, const json_t *v, enum serve_format fmt)
{
	const struct serve_input *in = d->in;
	int64_t dims[MAX_SHAPE_DIMS];
	size_t nd = 0, rows, w;
	float *vals = NULL;
	struct buf b = BUF_INIT;
	enum serve_dtype t = in->dtypes ? in->dtypes[0] : SERVE_DT_ANY;
	int rc;

	if (in->tensor) {
		if (!in->tensor_name && json_is_array(v) && !json_array_size(v))
			return enforce(d, "This model contains a tensor-based model signature with no input names, which "
				       "suggests a numpy array input or a pandas dataframe input with proper column values, "
				       "but an input of type <class 'list'> was found.");
		if ((rc = numpy_array(d, t, v, dims, &nd, &vals)))
			return rc;
		/* _enforce_tensor_spec */
		rc = nd != in->ndim;
		for (size_t i = 0; i < nd && !rc; i++)
			rc = in->shape[i] != -1 && in->shape[i] != dims[i];
		if (rc) {
			struct buf e = BUF_INIT;

			py_tuple(&b, dims, nd);
			py_tuple(&e, in->shape, in->ndim);
			rc = b.err || e.err ? oom() : enforce(d, "Shape of input %s does not match expected shape %s.", b.ptr, e.ptr);
			buf_release(&e);
			goto out;
		}
		rows = nd ? (size_t)dims[0] : 1;
		w = d->ncols;
		goto done;
	}
	if (!in->dtypes) {
		/* no signature: rows of the model's width (one column: a list of values) */
		if ((rc = numpy_array(d, SERVE_DT_ANY, v, dims, &nd, &vals)))
			return rc;
		if (nd == 2 && (size_t)dims[1] == d->ncols) {
			rows = (size_t)dims[0];
		} else if (nd == 1 && d->ncols == 1) {
			rows = (size_t)dims[0];
		} else if (nd == 0 && d->ncols == 1) {
			rows = 1;
		} else {
			rc = bad(d, "Invalid input. The model takes rows of %zu values; the request's %s is %s", d->ncols,
				 serve_format_name(fmt), nd == 2 ? "a list of rows of another width" :
				 nd == 1 ? "a list of values, not of rows" : "not a list of rows");
			goto out;
		}
		w = d->ncols;
		goto done;
	}
	/* numpy.array(v, dtype of the first column), then pd.DataFrame of it */
	if (json_is_object(v) || json_is_null(v))
		return unnamed_refuses(d, v);
	if ((rc = numpy_array(d, t, v, dims, &nd, &vals)))
		return rc;
	if (nd > 2) {
		py_tuple(&b, dims, nd);
		rc = b.err ? oom() : enforce(d, "Must pass 2-d input. shape=%s", b.ptr);
		goto out;
	}
	rows = nd ? (size_t)dims[0] : 1;
	w = nd == 2 ? (size_t)dims[1] : 1;
	if (w < d->ncols) {
		rc = enforce(d, "Model inference is missing inputs. The model signature declares %zu inputs  but the "
			     "provided value only has %zu inputs. Note: the inputs were not named in the signature so we "
			     "can only verify their count.", d->ncols, w);
		goto out;
	}
	for (size_t c = 0; c < d->ncols; c++) {
		bool zero_one = true;

		for (size_t r = 0; r < rows && zero_one; r++)
			zero_one = vals[r * w + c] == 0 || vals[r * w + c] == 1;
		if (!safe_cast(t, col_dtype(d, c), zero_one)) {
			rc = incompatible(d, c, t, false);
			goto out;
		}
	}
done:
	if ((rc = dec_alloc(d, rows, 0)))
		goto out;
	for (size_t r = 0; r < rows; r++)
		memcpy(&d->x[r * d->ncols], &vals[r * w], d->ncols * sizeof(*vals));
	for (size_t c = 0; c < d->ncols; c++)
		d->present[c] = 1;
	rc = finish(d, fmt);
out:
	free(vals);
	buf_release(&b);
	return rc;
}

/* A list or value given to a named-column model: one column if the model
 * has one, else numpy.array(v, first dtype), a frame with columns 0, 1, ...
 * that names none of the model's. */
static int dec_unnamed_to_named(struct dec *d, const json_t *v, enum serve_format fmt)
{
	int64_t dims[MAX_SHAPE_DIMS];
	size_t nd = 0;
	float *vals = NULL;
	struct buf extras = BUF_INIT;
	enum serve_dtype t = d->in->dtypes ? d->in->dtypes[0] : SERVE_DT_ANY;
	int rc;

	if (!d->in->dtypes)   /* no signature: the request's columns are the model's, in order */
		return dec_array(d, v, fmt);
	if (d->ncols == 1 && json_is_array(v)) {
		/* _cast_schema_type: {name: data} for a single-column schema */
		if ((rc = numpy_array(d, t, v, dims, &nd, &vals)))
			return rc;
		if (nd > 1) {
			rc = enforce(d, "Invalid object type at position 0");
			goto out;
		}
		if ((rc = dec_alloc(d, (size_t)dims[0], 0)))
			goto out;
		if (dims[0])
			memcpy(d->x, vals, (size_t)dims[0] * sizeof(*vals));
		d->present[0] = 1;
		rc = finish(d, fmt);
		goto out;
	}
	if (json_is_array(v) && !json_array_size(v)) {
		rc = check_missing(d, NULL);
		goto out;
	}
	if ((rc = numpy_array(d, t, v, dims, &nd, &vals)))
		return rc;
	if (nd > 2) {
		py_tuple(&extras, dims, nd);
		rc = extras.err ? oom() : enforce(d, "Must pass 2-d input. shape=%s", extras.ptr);
		goto out;
	}
	for (int64_t j = 0; j < (nd == 2 ? dims[1] : 1); j++)
		buf_printf(&extras, j ? ", %" PRId64 : "%" PRId64, j);
	rc = extras.err ? oom() : check_missing(d, &extras);
	if (!rc)   /* every column optional: none of them is in the request */
		rc = bad(d, "Invalid input. None of the model's columns is in the request");
out:
	free(vals);
	buf_release(&extras);
	return rc;
}

/* {name: values} (inputs, or instances given as a dict): each column through
 * numpy.array(values, dtype), then pd.DataFrame of the dict. */
static int dec_columns(struct dec *d, const json_t *obj, enum serve_format fmt)
{
	struct buf extras = BUF_INIT;
	size_t rows = 0, len = SIZE_MAX, req_len = SIZE_MAX, ndeep = 0;
	bool any_list = false, mismatch = false, req_mismatch = false;
	const json_t *v;
	const char *k;
	int rc = 0;

	if (d->in->tensor && !d->in->tensor_name)
		return unnamed_refuses(d, obj);
	if (!d->in->names && d->in->dtypes && !d->in->tensor)
		return unnamed_refuses(d, obj);
	if (!d->in->names && !d->in->tensor)
		return bad(d, "Invalid input. This model's columns have no names; send the %s as a list of rows",
			   serve_format_name(fmt));
	if (d->in->tensor) {
		/* a named tensor: {name: tensor} */
		v = json_object_get(obj, d->in->tensor_name);
		if (!v) {
			json_object_foreach((json_t *)obj, k, v) {
				if (extras.len)
					buf_puts(&extras, ", ");
				py_repr_str(&extras, k, strlen(k));
			}
			if (extras.err)
				rc = oom();
			else if (extras.len)
				rc = enforce(d, "Model is missing inputs ['%s']. Note that there were extra inputs: [%s].",
					     d->in->tensor_name, extras.ptr);
			else
				rc = enforce(d, "Model is missing inputs ['%s'].", d->in->tensor_name);
			buf_release(&extras);
			return rc;
		}
		return dec_array(d, v, fmt);
	}
	/* the number of rows: the lists' length (scalars broadcast) */
	json_object_foreach((json_t *)obj, k, v) {
		long c = serve_input_column(d->in, k, strlen(k));
		size_t n;

		if (!json_is_array(v))
			continue;
		n = json_array_size(v);
		any_list = true;
		if (len != SIZE_MAX && n != len)
			mismatch = true;
		if (n > rows)
			rows = n;
		len = n;
		if (c >= 0 && (!d->in->required || d->in->required[c])) {
			if (req_len != SIZE_MAX && n != req_len)
				req_mismatch = true;
			req_len = n;
		}
	}
	if (!any_list)
		rows = 1;
	if ((rc = dec_alloc(d, rows, 0)))
		return rc;
	json_object_foreach((json_t *)obj, k, v) {
		long c = serve_input_column(d->in, k, strlen(k));
		int64_t dims[MAX_SHAPE_DIMS];
		size_t nd;
		enum serve_dtype t;

		if (c < 0) {
			/* numpy.array(values) of a column the model does not take fails only when ragged */
			if (json_is_array(v) && (rc = nested_shape(d, v, dims, &nd)))
				goto out;
			if (extras.len)
				buf_puts(&extras, ", ");
			py_repr_str(&extras, k, strlen(k));
			continue;
		}
		t = col_dtype(d, (size_t)c);
		d->present[c] = 1;
		if (!json_is_array(v)) {
			float f;
			int p = conv_numpy(t, v, &f);

			if (p) {
				note_bad(d, p, (size_t)c, 0, v);
				rc = report_bad(d);
				goto out;
			}
			for (size_t r = 0; r < rows; r++)
				d->x[r * d->ncols + (size_t)c] = f;
			continue;
		}
		if ((rc = nested_shape(d, v, dims, &nd)))
			goto out;
		if (nd > 1) {
			ndeep++;
			continue;
		}
		for (size_t r = 0; r < json_array_size(v); r++) {
			float f;
			const json_t *e = json_array_get(v, r);
			int p = conv_numpy(t, e, &f);

			if (p) {
				note_bad(d, p, (size_t)c, r, e);
				rc = report_bad(d);
				goto out;
			}
			d->x[r * d->ncols + (size_t)c] = f;
		}
	}
	if (fmt == SERVE_FMT_INSTANCES && req_mismatch) {
		/* parse_instances_data's check over the required columns */
		rc = bad(d, "Invalid input. The length of values for each input/column name are not the same");
		goto out;
	}
	if (mismatch) {
		rc = enforce(d, "This model contains a column-based signature, which suggests a DataFrame input. There "
			     "was an error casting the input data to a DataFrame: All arrays must be of the same length");
		goto out;
	}
	if ((rc = check_missing(d, &extras)))
		goto out;
	if (ndeep) {
		rc = enforce(d, "Invalid object type at position 0");
		goto out;
	}
	rc = extras.err ? oom() : finish(d, fmt);
out:
	buf_release(&extras);
	return rc;
}

/* The counts of one column's values across instances' objects. */
struct keycount {
	const char *key;
	size_t n;
};

/* instances: [{name: value}, ...]: each value through numpy.array([v], dtype)[0],
 * gathered per column (a column's nth value is its nth row), then the
 * length checks and pd.DataFrame. */
static int dec_instance_rows(struct dec *d, const json_t *list)
{
	struct buf extras = BUF_INIT;
	struct keycount *xk = NULL;
	size_t *cnt = NULL, nxk = 0, cap = 0, n = json_array_size(list), i, rows = SIZE_MAX;
	bool req_mismatch = false, mismatch = false;
	const json_t *item, *v;
	const char *k;
	int rc = 0;

	if (d->in->tensor && !d->in->tensor_name)
		return enforce(d, "This model contains a tensor-based model signature with no input names, which suggests "
			       "a numpy array input or a pandas dataframe input with proper column values, but an input of "
			       "type <class 'dict'> was found.");
	if (!d->in->names || d->in->tensor)
		return bad(d, "Invalid input. This model's columns have no names; send the instances as a list of rows");
	json_array_foreach(list, i, item)
		if (!json_is_object(item))
			return bad(d, "Invalid input. Ensure that the input is a valid JSON-formatted string.\nError: "
				   "AttributeError(\"'%s' object has no attribute 'items'\")", cjson_py_type(item));
	if (!(cnt = ccalloc(d->ncols, sizeof(*cnt))))
		return oom();
	if ((rc = dec_alloc(d, n, 0)))
		goto out;
	json_array_foreach(list, i, item) {
		json_object_foreach((json_t *)item, k, v) {
			long c = serve_input_column(d->in, k, strlen(k));
			int p;

			if (c < 0) {
				size_t x;

				for (x = 0; x < nxk && strcmp(xk[x].key, k); x++)
					;
				if (x == nxk) {
					if (nxk == cap) {
						struct keycount *nx = crealloc(xk, (cap = cap ? cap * 2 : 8) * sizeof(*nx));

						if (!nx) {
							rc = oom();
							goto out;
						}
						xk = nx;
					}
					xk[nxk++] = (struct keycount){ k, 0 };
					if (extras.len)
						buf_puts(&extras, ", ");
					py_repr_str(&extras, k, strlen(k));
				}
				xk[x].n++;
				continue;
			}
			d->present[c] = 1;
			if (json_is_array(v)) {
				rc = enforce(d, "Invalid object type at position 0");
				goto out;
			}
			p = conv_numpy(col_dtype(d, (size_t)c), v, &d->x[cnt[c] * d->ncols + (size_t)c]);
			if (p) {
				note_bad(d, p, (size_t)c, cnt[c], v);
				rc = report_bad(d);
				goto out;
			}
			cnt[c]++;
		}
	}
	for (size_t c = 0; c < d->ncols; c++) {
		if (!d->present[c])
			continue;
		if (rows != SIZE_MAX && cnt[c] != rows) {
			mismatch = true;
			if (!d->in->required || d->in->required[c])
				req_mismatch = true;
		}
		rows = cnt[c];
	}
	/* only the required columns count for parse_instances_data's check */
	if (req_mismatch || mismatch) {
		size_t want = SIZE_MAX;

		req_mismatch = false;
		for (size_t c = 0; c < d->ncols; c++) {
			if (!d->present[c] || (d->in->required && !d->in->required[c]))
				continue;
			if (want != SIZE_MAX && cnt[c] != want)
				req_mismatch = true;
			want = cnt[c];
		}
	}
	for (size_t x = 0; x < nxk; x++)
		if (rows != SIZE_MAX && xk[x].n != rows)
			mismatch = true;
	if (req_mismatch) {
		rc = bad(d, "Invalid input. The length of values for each input/column name are not the same");
		goto out;
	}
	if (mismatch) {
		rc = enforce(d, "This model contains a column-based signature, which suggests a DataFrame input. There "
			     "was an error casting the input data to a DataFrame: All arrays must be of the same length");
		goto out;
	}
	if (extras.err) {
		rc = oom();
		goto out;
	}
	if ((rc = check_missing(d, &extras)))
		goto out;
	d->nrows = rows == SIZE_MAX ? 0 : rows;
	rc = finish(d, SERVE_FMT_INSTANCES);
out:
	free(cnt);
	free(xk);
	buf_release(&extras);
	return rc;
}

/* inputs: [{name: value}, ...]: numpy scalars per value, pd.DataFrame of the
 * list (a missing key is NaN), then _enforce_mlflow_datatype's safe casts. */
static int dec_input_rows(struct dec *d, const json_t *list)
{
	struct buf extras = BUF_INIT;
	size_t n = json_array_size(list), i;
	const json_t *item, *v;
	const char *k;
	int rc;

	if (!d->in->names || d->in->tensor)
		return bad(d, "Invalid input. This model's columns have no names; send the inputs as a list of rows");
	if ((rc = dec_alloc(d, n, SENT_NAN)))
		return rc;
	json_array_foreach(list, i, item) {
		json_object_foreach((json_t *)item, k, v) {
			long c = serve_input_column(d->in, k, strlen(k));
			int p;

			if (c < 0)
				continue;
			d->present[c] = 1;
			if (json_is_array(v)) {
				rc = enforce(d, "Invalid object type at position 0");
				goto out;
			}
			p = conv_numpy(col_dtype(d, (size_t)c), v, &d->x[i * d->ncols + (size_t)c]);
			if (p) {
				note_bad(d, p, (size_t)c, i, v);
				rc = report_bad(d);
				goto out;
			}
		}
	}
	if ((rc = extra_keys(d, list, &extras)))
		goto out;
	if ((rc = check_missing(d, &extras)))
		goto out;
	for (size_t c = 0; c < d->ncols; c++) {
		enum serve_dtype t = col_dtype(d, c);
		bool hole = false;

		if (!d->present[c])
			continue;
		for (size_t r = 0; r < d->nrows; r++) {
			float *cell = &d->x[r * d->ncols + c];

			if (sentinel_kind(*cell)) {
				*cell = NAN;
				hole = true;
			}
		}
		/* a column with a hole is float64 with NaN, and that is no long, int or float */
		if (hole && t != SERVE_DT_FLOAT64 && t != SERVE_DT_BOOL && t != SERVE_DT_ANY) {
			rc = incompatible(d, c, SERVE_DT_FLOAT64, dt_is_int(t));
			goto out;
		}
	}
	rc = finish(d, SERVE_FMT_INPUTS);
out:
	buf_release(&extras);
	return rc;
}

/* instances (tf-serving's row format) and inputs (its column format). */
static int dec_tf(struct dec *d, const json_t *v, enum serve_format fmt)
{
	const json_t *first = json_is_array(v) ? json_array_get(v, 0) : NULL;
	bool named = d->in->names || d->in->tensor_name;

	d->numpy = true;
	if (fmt == SERVE_FMT_INSTANCES && first && json_is_object(first))
		return dec_instance_rows(d, v);
	if (json_is_object(v))
		return dec_columns(d, v, fmt);
	if (fmt == SERVE_FMT_INPUTS && json_is_array(v) && json_array_size(v)) {
		size_t i;
		const json_t *e;
		bool all = true;

		json_array_foreach(v, i, e)
			all &= json_is_object(e);
		if (all && d->in->names && !d->in->tensor)
			return dec_input_rows(d, v);
	}
	if (d->in->tensor_name && json_is_array(v))
		return dec_array(d, v, fmt);
	if (named && !d->in->tensor)
		return dec_unnamed_to_named(d, v, fmt);
	return dec_array(d, v, fmt);
}

/* ==== 6. text/csv ==== */

/* pandas.read_csv's default NA spellings (pandas 2, which added "None"). */
static bool csv_is_na(const char *s, size_t n)
{
	static const char *const na[] = { "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
		"1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", NULL };

	for (const char *const *w = na; *w; w++)
		if (strlen(*w) == n && !memcmp(s, *w, n))
			return true;
	return false;
}

static bool csv_is_bool(const char *s, size_t n, bool *val)
{
	static const char *const t[] = { "True", "TRUE", "true" }, *const f[] = { "False", "FALSE", "false" };

	for (int i = 0; i < 3; i++) {
		if (strlen(t[i]) == n && !memcmp(s, t[i], n))
			return *val = true, true;
		if (strlen(f[i]) == n && !memcmp(s, f[i], n))
			return *val = false, true;
	}
	return false;
}

/* pandas' C tokenizer's integer: [spaces][sign]digits[spaces]. */
static bool csv_int(const char *s, size_t n, int64_t *v, bool *big)
{
	char tmp[32];
	size_t i = 0, o = 0;

	strip(&s, &n);
	if (n && (s[0] == '+' || s[0] == '-'))
		tmp[o++] = s[i++];
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || o >= sizeof(tmp) - 1)
			return false;
		tmp[o++] = s[i];
	}
	tmp[o] = '\0';
	errno = 0;
	*v = strtoll(tmp, NULL, 10);
	*big = errno == ERANGE;
	return true;
}

/* pandas' C tokenizer's float: decimal, exponent, inf/infinity/nan; no underscores, no hex. */
static bool csv_float(const char *s, size_t n, double *d)
{
	strip(&s, &n);
	if (memchr(s, '_', n))
		return false;
	return py_parse_float(s, n, d);
}

/* What one CSV column held, for pandas' per-column dtype resolution. */
struct csvcol {
	long col;              /* model column, or -1 */
	size_t na;             /* NA values */
	bool all_int, all_float, all_bool;
	bool integral;         /* every float value integral */
	bool zero_one;         /* every number 0 or 1 */
	bool float_fail, int_fail;   /* a value Python's float() / int() refuses was seen */
	size_t int_fail_na;    /* int_fail is NaN from an NA value (1) or a token (0) */
	struct buf float_tok, int_tok;   /* the first such values */
};

struct csvdec {
	struct dec *d;
	size_t nfile;          /* header fields */
	bool index_col;        /* rows have one more field: the first is the index */
	struct csvcol *cols;
	size_t cap;            /* rows allocated in d->x */
	struct buf extras;     /* the header's names the model does not take, in repr form */
};

static void csv_cell(struct csvdec *cd, struct csvcol *cc, size_t r, const char *s, size_t n)
{
	struct dec *d = cd->d;
	enum serve_dtype t = col_dtype(d, (size_t)cc->col);
	float *cell = &d->x[r * d->ncols + (size_t)cc->col];
	int64_t i;
	double f;
	bool b, big, isint = false, isfloat = false, isbool = false;

	if (csv_is_na(s, n)) {
		cc->na++;
		*cell = NAN;
		if (!cc->int_fail) {   /* int(nan) in the object fallback */
			cc->int_fail = true;
			cc->int_fail_na = 1;
		}
		return;
	}
	if (csv_int(s, n, &i, &big) && !big) {
		isint = isfloat = true;
		f = (double)i;
		*cell = t == SERVE_DT_BOOL ? (float)(i != 0) : dt_is_int(t) ? int_to(t, i) : float_to(t, (double)i);
	} else if (csv_float(s, n, &f)) {
		isfloat = true;
		if (dt_is_int(t))
			*cell = isfinite(f) && fabs(f) < 0x1p63 ? int_to(t, (int64_t)f) : NAN;
		else
			*cell = t == SERVE_DT_BOOL ? (float)(f != 0) : float_to(t, f);
	} else if (csv_is_bool(s, n, &b)) {
		isbool = true;
		*cell = b;
	} else {
		*cell = NAN;
	}
	cc->all_int &= isint;
	cc->all_float &= isfloat;
	cc->all_bool &= isbool;
	if (isfloat) {
		cc->integral &= f == nearbyint(f);
		cc->zero_one &= f == 0 || f == 1;
	}
	if (!cc->float_fail && !py_parse_float(s, n, &f)) {
		cc->float_fail = true;
		buf_put(&cc->float_tok, s, n);
	}
	if (!cc->int_fail && !py_parse_int(s, n, &i, &big)) {
		cc->int_fail = true;
		buf_put(&cc->int_tok, s, n);
	}
}

/* What pandas' read_csv says of the column cc held (frame column fj, as
 * pandas numbers them), appended to m; nothing when it converts. */
static void csv_problem(const struct dec *d, const struct csvcol *cc, size_t fj, struct buf *m)
{
	enum serve_dtype t = col_dtype(d, (size_t)cc->col);
	const char *dt = dtypes[t].numpy;

	if (t == SERVE_DT_ANY) {
		if (!cc->all_float && !cc->all_bool && cc->float_fail) {
			buf_puts(m, "could not convert string to float: ");
			py_repr_str(m, cc->float_tok.ptr, cc->float_tok.len);
		}
	} else if (dt_is_int(t)) {
		if (cc->all_int) {
			if (cc->na)
				buf_printf(m, "Integer column has NA values in column %zu", fj);
		} else if (cc->all_float) {
			if (cc->na || !cc->integral)
				buf_printf(m, "cannot safely convert passed user dtype of %s for float64 dtyped data in column %zu", dt, fj);
		} else if (cc->all_bool && !cc->na) {
			/* bool values: safe */
		} else if (cc->int_fail && cc->int_fail_na) {
			buf_puts(m, "cannot convert float NaN to integer");
		} else if (cc->int_fail) {
			buf_puts(m, "invalid literal for int() with base 10: ");
			py_repr_str(m, cc->int_tok.ptr, cc->int_tok.len);
		} else {
			buf_printf(m, "cannot safely convert passed user dtype of %s for object dtyped data in column %zu", dt, fj);
		}
	} else if (t == SERVE_DT_BOOL) {
		if (cc->all_bool) {
			if (cc->na)
				buf_printf(m, "Bool column has NA values in column %zu", fj);
		} else if (cc->all_int) {
			if (cc->na || !cc->zero_one)
				buf_printf(m, "cannot safely convert passed user dtype of bool for int64 dtyped data in column %zu", fj);
		} else if (cc->all_float) {
			if (cc->na || !cc->zero_one)
				buf_printf(m, "cannot safely convert passed user dtype of bool for float64 dtyped data in column %zu", fj);
		} else {
			buf_printf(m, "cannot safely convert passed user dtype of bool for object dtyped data in column %zu", fj);
		}
	} else if (!cc->all_float && !(cc->all_bool && !cc->na)) {
		if (cc->float_fail) {
			buf_puts(m, "could not convert string to float: ");
			py_repr_str(m, cc->float_tok.ptr, cc->float_tok.len);
		} else {
			buf_printf(m, "cannot safely convert passed user dtype of %s for object dtyped data in column %zu", dt, fj);
		}
	}
}

/* The error pandas' read_csv raises for column j, or 0. */
static int csv_settle(struct csvdec *cd, size_t j)
{
	struct dec *d = cd->d;
	struct buf m = BUF_INIT;
	int rc = 0;

	csv_problem(d, &cd->cols[j], j, &m);
	if (m.err)
		rc = oom();
	else if (m.len)
		/* mlflow/pyfunc/scoring_server/__init__.py, parse_csv_input */
		rc = bad(d, "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
			 "Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '%s'", m.ptr);
	buf_release(&m);
	return rc;
}

static int csv_header(struct csvdec *cd, const struct ccsv_record *rec)
{
	struct dec *d = cd->d;
	bool positional = !d->in->names;

	cd->nfile = rec->nfields;
	if (!(cd->cols = ccalloc(rec->nfields, sizeof(*cd->cols))))
		return oom();
	for (size_t j = 0; j < rec->nfields; j++) {
		const struct ccsv_field *f = &rec->fields[j];
		struct csvcol *cc = &cd->cols[j];
		long c = -1;

		cc->all_int = cc->all_float = cc->all_bool = cc->integral = cc->zero_one = true;
		cc->col = -1;
		if (positional) {
			c = j < d->ncols ? (long)j : -1;
		} else if (f->n) {
			/* pandas renames a repeated header ("a.1"): the first one is the column */
			c = serve_input_column(d->in, f->p, f->n);
			for (size_t i = 0; i < j && c >= 0; i++)
				if (cd->cols[i].col == c)
					c = -1;
		}
		if (c >= 0) {
			cc->col = c;
			d->present[c] = 1;
		} else if (!positional) {
			/* pandas' name for it: "Unnamed: j" when empty, "a.1" when repeated */
			struct buf name = BUF_INIT;
			size_t dup = 0;

			for (size_t i = 0; i < j; i++)
				dup += rec->fields[i].n == f->n && !memcmp(rec->fields[i].p, f->p, f->n);
			if (!f->n)
				buf_printf(&name, "Unnamed: %zu", j);
			else
				buf_put(&name, f->p, f->n);
			if (dup && f->n)
				buf_printf(&name, ".%zu", dup);
			if (cd->extras.len)
				buf_puts(&cd->extras, ", ");
			py_repr_str(&cd->extras, name.ptr, name.len);
			buf_release(&name);
		}
	}
	return cd->extras.err ? oom() : 0;
}

static int csv_record(void *ctx, const struct ccsv_record *rec)
{
	struct csvdec *cd = ctx;
	struct dec *d = cd->d;
	size_t r, skip, width;

	if (rec->index == 1)
		return csv_header(cd, rec);
	if (rec->index == 2 && rec->nfields == cd->nfile + 1)
		cd->index_col = true;
	width = cd->nfile + cd->index_col;
	if (rec->nfields > width)
		return bad(d, "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
			   "Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'Error tokenizing "
			   "data. C error: Expected %zu fields in line %zu, saw %zu\n'", width, rec->line, rec->nfields);
	r = d->nrows;
	if (r == cd->cap) {
		size_t ncap = cd->cap ? cd->cap * 2 : 16;
		float *x;

		if (d->ncols && ncap > SERVE_MAX_VALUES / d->ncols)
			ncap = SERVE_MAX_VALUES / d->ncols;
		if (ncap <= r)
			return cairn_error_set(CAIRN_ETOOBIG, "the CSV has more than %zu values", SERVE_MAX_VALUES);
		if (d->ncols) {
			if (!(x = crealloc(d->x, ncap * d->ncols * sizeof(*x))))
				return oom();
			d->x = x;
		}
		cd->cap = ncap;
	}
	d->nrows++;
	skip = cd->index_col ? 1 : 0;
	for (size_t j = 0; j < cd->nfile; j++) {
		struct csvcol *cc = &cd->cols[j];
		size_t f = j + skip;

		if (cc->col < 0)
			continue;
		if (f < rec->nfields)
			csv_cell(cd, cc, r, rec->fields[f].p, rec->fields[f].n);
		else
			csv_cell(cd, cc, r, "", 0);   /* a short row: NaN */
	}
	return 0;
}

static int dec_csv(struct dec *d, const char *body, size_t len)
{
	struct ccsv_options opt = { .strict = true, .max_field = CCSV_MAX_FIELD_DEFAULT, .max_fields = 1u << 20 };
	struct csvdec cd = { .d = d, .extras = BUF_INIT };
	int rc;

	rc = ccsv_read(body, len, &opt, csv_record, &cd);
	if (rc == CAIRN_EINVALID && !d->out->error_code)   /* malformed quoting */
		rc = bad(d, "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
			 "Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '%s'", cairn_error_msg());
	if (rc)
		goto out;
	if (!cd.cols) {
		rc = bad(d, "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted "
			 "Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'No columns to parse "
			 "from file'");
		goto out;
	}
	for (size_t j = 0; j < cd.nfile && !rc; j++)
		if (cd.cols[j].col >= 0)
			rc = csv_settle(&cd, j);
	if (rc)
		goto out;
	rc = d->in->names ? check_missing(d, &cd.extras) : positional_frame(d, cd.nfile);
	if (rc)
		goto out;
	rc = finish(d, SERVE_FMT_CSV);
out:
	if (cd.cols)
		for (size_t j = 0; j < cd.nfile; j++) {
			buf_release(&cd.cols[j].float_tok);
			buf_release(&cd.cols[j].int_tok);
		}
	free(cd.cols);
	buf_release(&cd.extras);
	return rc;
}

/* ==== 7. params ==== */

/* str(DataType.x): "DataType.long". */
static const char *param_type_str(enum mltype t)
{
	switch (t) {
	case MLTYPE_BOOLEAN: return "DataType.boolean";
	case MLTYPE_INTEGER: return "DataType.integer";
	case MLTYPE_LONG: return "DataType.long";
	case MLTYPE_FLOAT: return "DataType.float";
	case MLTYPE_DOUBLE: return "DataType.double";
	case MLTYPE_STRING: return "DataType.string";
	case MLTYPE_BINARY: return "DataType.binary";
	case MLTYPE_DATETIME: return "DataType.datetime";
	default: return mltype_name(t);
	}
}

/* _enforce_param_datatype: a new reference to the value as the model gets
 * it, or NULL with the message in err. */
static json_t *param_scalar(const struct mlparam *p, json_t *v, struct buf *err)
{
	bool ok;

	if (json_is_null(v))
		return json_incref(v);
	if (p->type == MLTYPE_OBJECT) {
		if (json_is_object(v))
			return json_incref(v);
		buf_puts(err, "Failed to enforce schema of ");
		py_repr_json(err, v);
		buf_printf(err, " with type 'object'. Expected data to be dictionary, got %s", cjson_py_type(v));
		return NULL;
	}
	if (p->type == MLTYPE_DATETIME) {
		if (json_is_string(v))
			return json_incref(v);
		buf_puts(err, "Failed to convert value `");
		py_str_json(err, v);
		buf_printf(err, "` from type `<class '%s'>` to `%s`", cjson_py_type(v), param_type_str(p->type));
		return NULL;
	}
	if (json_is_array(v) || json_is_object(v)) {
		buf_printf(err, "Value must be a scalar for type `%s`, got `", param_type_str(p->type));
		py_str_json(err, v);
		buf_putc(err, '`');
		return NULL;
	}
	switch (p->type) {
	case MLTYPE_BOOLEAN: ok = json_is_boolean(v); break;
	case MLTYPE_INTEGER:
	case MLTYPE_LONG: ok = json_is_integer(v); break;
	case MLTYPE_FLOAT:
	case MLTYPE_DOUBLE:
		if (json_is_integer(v))
			return json_real((double)json_integer_value(v));
		ok = json_is_real(v);
		if (ok && jreal(v) != json_real_value(v))   /* a NaN or Infinity literal */
			return cjson_double(jreal(v));
		break;
	case MLTYPE_STRING: ok = json_is_string(v); break;
	default: ok = false;
	}
	if (ok)
		return json_incref(v);
	buf_printf(err, "Can not safely convert `<class '%s'>` to `%s` for value `", cjson_py_type(v), param_type_str(p->type));
	py_str_json(err, v);
	buf_putc(err, '`');
	return NULL;
}

/* repr(ParamSpec): "'k': long (default: 1)", " (shape: (-1,))" for lists. */
static int param_repr(struct buf *b, const struct mlparam *p, const json_t *def)
{
	py_repr_str(b, p->name, strlen(p->name));
	buf_printf(b, ": %s (default: ", mltype_name(p->type));
	py_str_json(b, def);
	buf_putc(b, ')');
	if (p->list)
		buf_puts(b, " (shape: (-1,))");
	return b->err;
}

/* numpy.array(v).ndim for the shape check of list params. */
static size_t param_ndim(const json_t *v)
{
	size_t nd = 0;

	while (json_is_array(v)) {
		nd++;
		if (!json_array_size(v))
			break;
		v = json_array_get(v, 0);
	}
	return nd;
}

/* ParamSpec.validate_type_and_shape; spec is the repr of the spec. */
static json_t *param_validate(const struct mlparam *p, const char *spec, json_t *v, struct buf *err)
{
	struct buf inner = BUF_INIT;
	json_t *out = NULL;

	if (p->list) {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || param_ndim(v) != 1) {
			buf_printf(err, "Value must be a 1D array with shape (-1,) for param %s, received %s with ndim %zu",
				   spec, cjson_py_type(v), param_ndim(v));
			return NULL;
		}
		if (!(out = json_array()))
			return NULL;
		json_array_foreach(v, i, e) {
			json_t *c = param_scalar(p, e, &inner);

			if (!c || json_array_append_new(out, c)) {
				json_decref(out);
				out = NULL;
				break;
			}
		}
	} else {
		out = param_scalar(p, v, &inner);
	}
	if (!out && inner.len)
		buf_printf(err, "Failed to validate type and shape for %s, error: %s", spec, inner.ptr);
	buf_release(&inner);
	return out;
}

static int param_check_default(struct serve_input *in, const struct mlparam *p, json_t **out)
{
	struct buf spec = BUF_INIT, err = BUF_INIT;
	json_t *def = (json_t *)p->default_value;
	int rc = 0;

	(void)in;
	*out = NULL;
	if (!def || json_is_null(def)) {
		*out = json_null();
		return 0;
	}
	param_repr(&spec, p, def);
	*out = param_validate(p, spec.ptr, def, &err);
	if (spec.err || err.err) {
		json_decref(*out);
		*out = NULL;
		rc = oom();
	}
	else if (!*out && err.len)
		rc = cairn_error_set(CAIRN_EINVALID, "the signature's param '%.100s' has a bad default: %s", p->name, err.ptr);
	else if (!*out)
		rc = oom();
	buf_release(&spec);
	buf_release(&err);
	return rc;
}

/* _enforce_params_schema: the given params checked and converted, the
 * others' defaults, unknown ones dropped. */
static int dec_params(struct dec *d, json_t *params)
{
	const struct serve_input *in = d->in;
	struct buf errs = BUF_INIT;
	json_t *res, *v;
	const char *k;
	int rc = 0;

	if (!in->params)   /* MLflow ignores params when the signature declares none */
		return 0;
	if (params && !json_is_null(params) && !json_is_object(params)) {
		rc = bad(d, "Parameters must be a dictionary. Got type '%s'.", cjson_py_type(params));
		d->out->error_code = INVALID_PARAMETER_VALUE;
		return rc;
	}
	if (!(res = json_object()))
		return oom();
	if (params && json_is_object(params))
		json_object_foreach(params, k, v) {
			const struct mlparam *p = NULL;

			for (size_t i = 0; i < in->nparams && !p; i++)
				if (!strcmp(in->params[i].name, k))
					p = &in->params[i];
			if (p && json_object_set_new(res, k, json_null())) {
				rc = oom();
				goto out;
			}
		}
	for (size_t i = 0; i < in->nparams; i++) {
		const struct mlparam *p = &in->params[i];
		json_t *given = params && json_is_object(params) ? json_object_get(params, p->name) : NULL;
		json_t *val;

		if (!given) {
			val = json_incref(json_object_get(in->param_defaults, p->name));
		} else {
			struct buf spec = BUF_INIT, err = BUF_INIT;

			param_repr(&spec, p, json_object_get(in->param_defaults, p->name));
			val = param_validate(p, spec.ptr, given, &err);
			if (!val && !err.len)
				rc = oom();
			if (!val && err.len) {
				/* "Invalid parameters found: {('k', 'message')}" */
				if (errs.len)
					buf_puts(&errs, ", ");
				buf_putc(&errs, '(');
				py_repr_str(&errs, p->name, strlen(p->name));
				buf_puts(&errs, ", ");
				py_repr_str(&errs, err.ptr, err.len);
				buf_putc(&errs, ')');
			}
			if (spec.err || err.err)
				rc = oom();
			buf_release(&spec);
			buf_release(&err);
			if (rc) {
				json_decref(val);
				goto out;
			}
			if (!val)
				continue;
		}
		if (!val || json_object_set_new(res, p->name, val)) {
			rc = oom();
			goto out;
		}
	}
	if (errs.err) {
		rc = oom();
	} else if (errs.len) {
		rc = bad(d, "Invalid parameters found: {%s}", errs.ptr);
		d->out->error_code = INVALID_PARAMETER_VALUE;
	}
out:
	buf_release(&errs);
	if (rc) {
		json_decref(res);
		return rc;
	}
	d->out->params = res;
	return 0;
}

/* ==== 8. the Content-Type and the entry point ==== */

#define SCORING_PROTOCOL_CHANGE_INFO "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow " \
	"version 2.0. If you are seeing this error, you are likely using an outdated scoring request format. To " \
	"resolve the error, either update your request format or adjust your MLflow Model's requirements file to " \
	"specify an older version of MLflow (for example, change the 'mlflow' requirement specifier to " \
	"'mlflow==1.30.0'). If you are making a request using the MLflow client (e.g. via " \
	"`mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in order to use the new " \
	"request format. For more information about the updated MLflow Model scoring protocol in MLflow 2.0, see " \
	"https://mlflow.org/docs/latest/models.html#deploy-mlflow-models."
#define REQUIRED_INPUT_FORMAT "The input must be a JSON dictionary with exactly one of the input fields " \
	"{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"

/* invocations(): the media type and its parameters (only charset=utf-8).
 * 0 with *csv set, or CAIRN_EUNSUPPORTED with the 415 text. */
static int content_type(const char *ct, bool *csv)
{
	struct buf unexpected = BUF_INIT;
	const char *p, *semi;
	char mime[128], charset[64] = "utf-8";
	size_t n, nunexpected = 0;
	int rc = 0;

	if (!ct)
		return cairn_error_set(CAIRN_EUNSUPPORTED, "This predictor only supports the following content types: "
				       "Types: ['text/csv', 'application/json']. Got 'None'.");
	/* type_parts = list(map(str.strip, content_type.split(";"))) */
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	p = ct;
	strip(&p, &n);
	snprintf(mime, sizeof(mime), "%.*s", (int)(n < sizeof(mime) ? n : sizeof(mime) - 1), p);
	while (semi) {
		const char *part = semi + 1, *eq;
		size_t len;

		semi = strchr(part, ';');
		len = semi ? (size_t)(semi - part) : strlen(part);
		strip(&part, &len);
		eq = memchr(part, '=', len);
		if (eq && eq - part == 7 && !memcmp(part, "charset", 7)) {
			size_t vl = len - 8;

			snprintf(charset, sizeof(charset), "%.*s", (int)(vl < sizeof(charset) ? vl : sizeof(charset) - 1), eq + 1);
			for (char *c = charset; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			if (vl >= sizeof(charset))
				charset[0] = '?';
		} else if (!(len == 7 && !memcmp(part, "charset", 7))) {
			size_t kl = eq ? (size_t)(eq - part) : len;

			if (nunexpected++)
				buf_puts(&unexpected, ", ");
			buf_put(&unexpected, part, kl);
		} else {
			charset[0] = '\0';   /* "charset" without a value */
		}
	}
	if (strcmp(charset, "utf-8"))
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "The scoring server only supports UTF-8");
	else if (unexpected.err)
		rc = oom();
	else if (nunexpected)
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "Unrecognized content type parameters: %.300s. %s",
				     unexpected.ptr, SCORING_PROTOCOL_CHANGE_INFO);
	else if (!strcmp(mime, "text/csv"))
		*csv = true;
	else if (!strcmp(mime, "application/json"))
		*csv = false;
	else
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "This predictor only supports the following content types: Types: "
				     "['text/csv', 'application/json']. Got '%.300s'.", ct);
	buf_release(&unexpected);
	return rc;
}

static bool is_format_key(const char *k)
{
	return !strcmp(k, "dataframe_split") || !strcmp(k, "dataframe_records") || !strcmp(k, "instances") ||
	       !strcmp(k, "inputs");
}

static int dec_json(struct dec *d, const char *body, size_t len)
{
	json_t *doc = NULL, *data = NULL, *v, *params;
	struct buf keys = BUF_INIT;
	const char *k, *fmt = NULL;
	size_t nfmt = 0;
	int rc;

	if ((rc = parse_body(body, len, &doc, &d->out->error_code)))
		return rc;
	if (!json_is_object(doc)) {
		/* _decode_json_input */
		rc = json_is_array(doc)
			? bad(d, "Invalid input. " REQUIRED_INPUT_FORMAT ". Received a list.")
			: bad(d, "Invalid input. " REQUIRED_INPUT_FORMAT ". Received unexpected input type '<class '%s'>.",
			      cjson_py_type(doc));
		goto out;
	}
	if (json_object_get(doc, "messages") || json_object_get(doc, "prompt") || json_object_get(doc, "input")) {
		/* is_unified_llm_input: the body is the data (less the params the schema declares) */
		if (!(data = json_copy(doc))) {
			rc = oom();
			goto out;
		}
		params = json_object();
		for (size_t i = 0; i < d->in->nparams && params; i++) {
			json_t *p = json_object_get(data, d->in->params[i].name);

			if (p && json_object_set(params, d->in->params[i].name, p))
				rc = oom();
			json_object_del(data, d->in->params[i].name);
		}
		if (!params || rc) {
			json_decref(params);
			rc = oom();
			goto out;
		}
		d->numpy = true;
		rc = dec_columns(d, data, SERVE_FMT_INPUTS);
		if (!rc)
			rc = dec_params(d, params);
		json_decref(params);
		goto out;
	}
	json_object_foreach(doc, k, v) {
		if (!is_format_key(k))
			continue;
		if (keys.len)
			buf_puts(&keys, ", ");
		py_repr_str(&keys, k, strlen(k));
		fmt = k;
		nfmt++;
	}
	if (keys.err) {
		rc = oom();
		goto out;
	}
	if (nfmt != 1) {
		/* infer_and_parse_data */
		rc = bad(d, REQUIRED_INPUT_FORMAT ". Received dictionary with input fields: [%s]. " SCORING_PROTOCOL_CHANGE_INFO,
			 keys.ptr);
		goto out;
	}
	v = json_object_get(doc, fmt);
	if (!strcmp(fmt, "dataframe_split"))
		rc = dec_split(d, v);
	else if (!strcmp(fmt, "dataframe_records"))
		rc = dec_records(d, v);
	else
		rc = dec_tf(d, v, !strcmp(fmt, "instances") ? SERVE_FMT_INSTANCES : SERVE_FMT_INPUTS);
	if (!rc)
		rc = dec_params(d, json_object_get(doc, "params"));
out:
	buf_release(&keys);
	json_decref(data);
	json_decref(doc);
	return rc;
}

void serve_frame_release(struct serve_frame *f)
{
	if (!f)
		return;
	free(f->x);
	json_decref(f->params);
	*f = (struct serve_frame)SERVE_FRAME_INIT;
}

float serve__int_to(enum serve_dtype t, int64_t i)
{
	return int_to(t, i);
}

bool serve__safe_cast(enum serve_dtype from, enum serve_dtype to, bool zero_one)
{
	return safe_cast(from, to, zero_one);
}

static int decode_mlflow(const struct serve_input *in, const char *ct, const char *body, size_t len,
			 struct serve_frame *out, bool fast)
{
	struct dec d;
	bool csv = false;
	int rc;

	*out = (struct serve_frame)SERVE_FRAME_INIT;
	if ((rc = content_type(ct, &csv)))
		return rc;
	if (fast && !csv && (rc = serve__fast_mlflow(in, body, len, out)) != SERVE_FAST_DECLINED)
		return rc;
	if ((rc = dec_init(&d, in, out, false)))
		return rc;
	rc = csv ? dec_csv(&d, body, len) : dec_json(&d, body, len);
	dec_release(&d);
	if (rc) {
		const char *code = out->error_code;

		serve_frame_release(out);
		out->error_code = rc == CAIRN_EINVALID ? (code ? code : BAD_REQUEST) : NULL;
	}
	return rc;
}

int serve_decode_mlflow(const struct serve_input *in, const char *ct, const char *body, size_t len,
			struct serve_frame *out)
{
	return decode_mlflow(in, ct, body, len, out, true);
}

int serve__tree_mlflow(const struct serve_input *in, const char *ct, const char *body, size_t len,
		       struct serve_frame *out)
{
	return decode_mlflow(in, ct, body, len, out, false);
}

/* ==== 9. the Open Inference Protocol ==== */

static bool oip_dtype(const char *s, enum serve_dtype *out)
{
	for (size_t i = SERVE_DT_BOOL; i < NDTYPES; i++)
		if (dtypes[i].oip && !strcmp(s, dtypes[i].oip)) {
			*out = (enum serve_dtype)i;
			return true;
		}
	return false;
}

/* An OIP error: the message of the {"error": ...} answer. */
static int oip_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int oip_fail(const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(CAIRN_EINVALID, "%s", msg);
}

/* One element of an input tensor as its datatype requires it (Triton's
 * rules: BOOL takes true/false, integers take integers in range, floats
 * take numbers). */
static bool oip_value(enum serve_dtype t, const json_t *v, float *out)
{
	int64_t i;

	if (t == SERVE_DT_BOOL) {
		if (!json_is_boolean(v))
			return false;
		*out = json_is_true(v);
		return true;
	}
	if (dt_is_float(t)) {
		if (json_is_integer(v))
			*out = float_to(t, (double)json_integer_value(v));
		else if (json_is_real(v))
			*out = float_to(t, jreal(v));
		else
			return false;
		return true;
	}
	if (!json_is_integer(v))
		return false;
	i = json_integer_value(v);
	switch (t) {
	case SERVE_DT_INT8: if (i < INT8_MIN || i > INT8_MAX) return false; break;
	case SERVE_DT_INT16: if (i < INT16_MIN || i > INT16_MAX) return false; break;
	case SERVE_DT_INT32: if (i < INT32_MIN || i > INT32_MAX) return false; break;
	case SERVE_DT_UINT8: if (i < 0 || i > UINT8_MAX) return false; break;
	case SERVE_DT_UINT16: if (i < 0 || i > UINT16_MAX) return false; break;
	case SERVE_DT_UINT32: if (i < 0 || i > (int64_t)UINT32_MAX) return false; break;
	case SERVE_DT_UINT64: if (i < 0) return false; break;
	default: break;
	}
	*out = (float)i;
	return true;
}

/* One request input, checked. */
struct oip_input {
	const char *name;
	enum serve_dtype dt;
	int64_t shape[MAX_SHAPE_DIMS];
	size_t ndim, count;
	const json_t *data;
	bool nested;          /* data nested as the shape (else flat) */
	long col;             /* the model column it names, or -1 */
};

static void shape_list(struct buf *b, const int64_t *dims, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n; i++)
		buf_printf(b, i ? ", %" PRId64 : "%" PRId64, dims[i]);
	buf_putc(b, ']');
}

static int oip_parse_input(const json_t *o, size_t idx, struct oip_input *in)
{
	const json_t *name = json_object_get(o, "name"), *shape = json_object_get(o, "shape");
	const json_t *dt = json_object_get(o, "datatype"), *params = json_object_get(o, "parameters"), *e;
	size_t i, depth = 0;
	bool big;

	in->nested = false;
	if (!json_is_object(o))
		return oip_fail("inputs[%zu] is not an object", idx);
	if (!json_is_string(name))
		return oip_fail("inputs[%zu] has no 'name'", idx);
	in->name = json_string_value(name);
	if (!json_is_string(dt))
		return oip_fail("input '%.100s' has no 'datatype'", in->name);
	if (!strcmp(json_string_value(dt), "BYTES"))
		return oip_fail("input '%.100s' has datatype BYTES; this model takes numbers", in->name);
	if (!oip_dtype(json_string_value(dt), &in->dt))
		return oip_fail("input '%.100s' has an unknown datatype '%.40s' (BOOL, UINT8..UINT64, INT8..INT64, FP16, "
				"FP32, FP64, BYTES)", in->name, json_string_value(dt));
	if (!json_is_array(shape) || !json_array_size(shape) || json_array_size(shape) > MAX_SHAPE_DIMS)
		return oip_fail("input '%.100s' needs a 'shape': a list of 1 to %d dimensions", in->name, MAX_SHAPE_DIMS);
	in->ndim = json_array_size(shape);
	json_array_foreach(shape, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 0)
			return oip_fail("input '%.100s': shape dimensions are integers from 0", in->name);
		in->shape[i] = json_integer_value(e);
	}
	in->count = shape_count(in->shape, in->ndim, &big);
	if (big)
		return cairn_error_set(CAIRN_ETOOBIG, "input '%.100s' has more than %zu values", in->name, SERVE_MAX_VALUES);
	if (params && json_is_object(params) && json_object_get(params, "binary_data_size"))
		return oip_fail("input '%.100s': binary tensor data is not supported; send 'data' as JSON", in->name);
	in->data = json_object_get(o, "data");
	if (!json_is_array(in->data))
		return oip_fail("input '%.100s' has no 'data' list", in->name);
	/* row-major, nested as the shape or flat */
	if (check_shape(in->data, in->shape, in->ndim, 0, &depth)) {
		in->nested = true;
		return 0;
	}
	if (json_array_size(in->data) == in->count && check_shape(in->data, (int64_t[]){ (int64_t)in->count }, 1, 0, &depth))
		return 0;
	{
		struct buf b = BUF_INIT;
		int rc;

		shape_list(&b, in->shape, in->ndim);
		rc = b.err ? oom()
			: oip_fail("input '%.100s': 'data' is neither nested as shape %s nor a flat list of its %zu values",
				   in->name, b.ptr, in->count);
		buf_release(&b);
		return rc;
	}
}

/* The input's values in row-major order into dst (stride: the model's width, at column off). */
static int oip_values(const struct oip_input *in, float *dst, size_t width, size_t per_row, size_t off)
{
	size_t at = 0;
	const json_t *stack[MAX_SHAPE_DIMS + 1];
	size_t pos[MAX_SHAPE_DIMS + 1], depth = 0, nd = in->nested ? in->ndim : 1;

	stack[0] = in->data;
	pos[0] = 0;
	while (1) {
		const json_t *cur = stack[depth];

		if (pos[depth] >= json_array_size(cur)) {
			if (!depth)
				break;
			depth--;
			pos[depth]++;
			continue;
		}
		if (depth + 1 < nd) {
			stack[depth + 1] = json_array_get(cur, pos[depth]);
			pos[depth + 1] = 0;
			depth++;
			continue;
		}
		{
			const json_t *v = json_array_get(cur, pos[depth]);
			float *cell = &dst[(at / per_row) * width + off + at % per_row];

			if (!oip_value(in->dt, v, cell)) {
				struct buf b = BUF_INIT;
				int rc;

				py_repr_json(&b, v);
				rc = b.err ? oom()
					: oip_fail("input '%.100s': element %zu (%s) is not a %s value", in->name, at, b.ptr,
						   dtypes[in->dt].oip);
				buf_release(&b);
				return rc;
			}
			at++;
			pos[depth]++;
		}
	}
	return 0;
}

static bool all_zero_one(const float *x, size_t rows, size_t width, size_t off, size_t n)
{
	for (size_t r = 0; r < rows; r++)
		for (size_t j = 0; j < n; j++) {
			float v = x[r * width + off + j];

			if (v != 0 && v != 1)
				return false;
		}
	return true;
}

int serve_decode_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		     json_t **meta)
{
	int rc;

	*out = (struct serve_frame)SERVE_FRAME_INIT;
	if (meta)
		*meta = NULL;
	if ((rc = serve__fast_oip(in, body, len, out, meta)) != SERVE_FAST_DECLINED)
		return rc;
	return serve__tree_oip(in, body, len, out, meta);
}

int serve__tree_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		    json_t **meta)
{
	struct oip_input small[8], *inputs = small;
	const json_t *list, *id, *params, *outputs, *e;
	json_t *doc = NULL;
	json_error_t jerr;
	struct dec d;
	size_t n = 0, i, rows = 0;
	bool by_column;
	int rc;

	*out = (struct serve_frame)SERVE_FRAME_INIT;
	if (meta)
		*meta = NULL;
	if ((rc = dec_init(&d, in, out, true)))
		return rc;
	cjson_oom_clear();
	doc = json_loadb(body, len, 0, &jerr);
	if (cjson_oom_seen()) {
		rc = oom();
		goto out;
	}
	if (!doc) {
		rc = oip_fail("the request is not a JSON object: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
		goto out;
	}
	id = json_object_get(doc, "id");
	params = json_object_get(doc, "parameters");
	outputs = json_object_get(doc, "outputs");
	list = json_object_get(doc, "inputs");
	if (id && !json_is_string(id)) {
		rc = oip_fail("'id' must be a string");
		goto out;
	}
	if (params && !json_is_object(params)) {
		rc = oip_fail("'parameters' must be an object");
		goto out;
	}
	if (outputs && !json_is_array(outputs)) {
		rc = oip_fail("'outputs' must be a list");
		goto out;
	}
	if (outputs)
		json_array_foreach(outputs, i, e)
			if (!json_is_object(e) || !json_is_string(json_object_get(e, "name"))) {
				rc = oip_fail("outputs[%zu] needs a 'name'", i);
				goto out;
			}
	if (!json_is_array(list) || !(n = json_array_size(list))) {
		rc = oip_fail("the request needs 'inputs': a non-empty list of tensors");
		goto out;
	}
	if (n > sizeof(small) / sizeof(small[0]) && !(inputs = cmalloc(n * sizeof(*inputs)))) {
		rc = oom();
		goto out;
	}
	by_column = in->names != NULL;
	json_array_foreach(list, i, e) {
		if ((rc = oip_parse_input(e, i, &inputs[i])))
			goto out;
		inputs[i].col = in->names ? serve_input_column(in, inputs[i].name, strlen(inputs[i].name)) : -1;
		if (inputs[i].col < 0)
			by_column = false;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(inputs[j].name, inputs[i].name)) {
				rc = oip_fail("input '%.100s' is given twice", inputs[i].name);
				goto out;
			}
	}
	if (by_column) {
		/* one tensor per named column, shape [n] or [n, 1] */
		for (i = 0; i < n; i++) {
			struct oip_input *t = &inputs[i];

			if (!(t->ndim == 1 || (t->ndim == 2 && t->shape[1] == 1))) {
				struct buf b = BUF_INIT;

				shape_list(&b, t->shape, t->ndim);
				rc = b.err ? oom() : oip_fail("input '%.100s' has shape %s; a column takes [n] or [n, 1]", t->name, b.ptr);
				buf_release(&b);
				goto out;
			}
			if (i && (size_t)t->shape[0] != rows) {
				rc = oip_fail("input '%.100s' has %" PRId64 " rows, input '%.100s' has %zu", t->name, t->shape[0],
					      inputs[0].name, rows);
				goto out;
			}
			rows = (size_t)t->shape[0];
		}
		if ((rc = dec_alloc(&d, rows, 0)))
			goto out;
		for (i = 0; i < n; i++) {
			struct oip_input *t = &inputs[i];

			d.present[t->col] = 1;
			if ((rc = oip_values(t, d.x, d.ncols, 1, (size_t)t->col)))
				goto out;
			if (in->dtypes && !safe_cast(t->dt, in->dtypes[t->col], t->dt == SERVE_DT_INT64 &&
						     all_zero_one(d.x, rows, d.ncols, (size_t)t->col, 1))) {
				rc = incompatible(&d, (size_t)t->col, t->dt, false);
				goto out;
			}
		}
		if ((rc = check_missing(&d, NULL)))
			goto out;
	} else {
		struct oip_input *t = &inputs[0];
		struct buf b = BUF_INIT, want = BUF_INIT;
		bool ok;

		if (n > 1) {
			for (i = 0; i < n; i++) {
				if (b.len)
					buf_puts(&b, ", ");
				py_repr_str(&b, inputs[i].name, strlen(inputs[i].name));
			}
			rc = b.err ? oom()
				: in->names ? oip_fail("the inputs [%s] are not all columns of the model; send one tensor of shape "
						       "[n, %zu] or one per column", b.ptr, in->ncols)
				: oip_fail("the model takes one tensor of shape [n, %zu]; the request has %zu inputs", in->ncols, n);
			buf_release(&b);
			goto out;
		}
		if (in->tensor) {
			ok = t->ndim == in->ndim;
			for (i = 0; ok && i < t->ndim; i++)
				ok = in->shape[i] == -1 || in->shape[i] == t->shape[i];
			shape_list(&want, in->shape, in->ndim);
		} else {
			ok = (t->ndim == 2 && (size_t)t->shape[1] == in->ncols) || (t->ndim == 1 && in->ncols == 1);
			buf_printf(&want, "[n, %zu]", in->ncols);
		}
		if (!ok) {
			shape_list(&b, t->shape, t->ndim);
			rc = b.err || want.err ? oom()
				: oip_fail("input '%.100s' has shape %s; the model takes %s", t->name, b.ptr, want.ptr);
			buf_release(&b);
			buf_release(&want);
			goto out;
		}
		buf_release(&want);
		rows = (size_t)t->shape[0];
		if ((rc = dec_alloc(&d, rows, 0)))
			goto out;
		if ((rc = oip_values(t, d.x, d.ncols, d.ncols, 0)))
			goto out;
		for (size_t c = 0; c < d.ncols; c++)
			d.present[c] = 1;
		if (in->tensor && t->dt != in->dtypes[0]) {
			/* _enforce_tensor_spec */
			rc = enforce(&d, "dtype of input %s does not match expected dtype %s", dtypes[t->dt].numpy,
				     dtypes[in->dtypes[0]].numpy);
			goto out;
		}
		if (in->dtypes && !in->tensor) {
			bool zo = t->dt == SERVE_DT_INT64 && all_zero_one(d.x, rows, d.ncols, 0, d.ncols);

			for (size_t c = 0; c < d.ncols; c++)
				if (!safe_cast(t->dt, in->dtypes[c], zo)) {
					rc = incompatible(&d, c, t->dt, false);
					goto out;
				}
		}
	}
	if (meta) {
		json_t *m = json_object();

		if (!m || (id && json_object_set(m, "id", (json_t *)id)) ||
		    (params && json_object_set(m, "parameters", (json_t *)params)) ||
		    (outputs && json_object_set(m, "outputs", (json_t *)outputs))) {
			json_decref(m);
			rc = oom();
			goto out;
		}
		*meta = m;
	}
	rc = finish(&d, SERVE_FMT_OIP);
out:
	if (rc) {
		out->error_code = NULL;
		if (meta) {
			json_decref(*meta);
			*meta = NULL;
		}
	}
	if (inputs != small)
		free(inputs);
	dec_release(&d);
	json_decref(doc);
	return rc;
}

/* ==== 10. rows of a stream (cairn predict) ==== */

struct serve_csv_map {
	const struct serve_input *in;
	size_t nheader;        /* fields of the header */
	long *col;             /* nheader: the model column each header field feeds, or -1 */
	struct buf names;      /* the header's fields, each followed by a NUL (for messages) */
	size_t *name_at;       /* nheader: where each starts in names */
	size_t *absent;        /* the model's columns no header field feeds (optional ones): NaN */
	size_t nabsent;
	size_t skip;           /* 1 when records lead with pandas' index (one field more than the header) */
};

void serve_csv_map_free(struct serve_csv_map *map)
{
	if (!map)
		return;
	free(map->col);
	free(map->name_at);
	free(map->absent);
	buf_release(&map->names);
	free(map);
}

int serve_csv_map_new(const struct serve_input *in, const struct ccsv_field *header, size_t n,
		      struct serve_csv_map **out)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	struct csvdec cd = { .extras = BUF_INIT };
	struct ccsv_record rec = { .fields = header, .nfields = n, .index = 1, .line = 1 };
	struct serve_csv_map *map = NULL;
	struct dec d;
	int rc;

	*out = NULL;
	if ((rc = dec_init(&d, in, &f, false)))
		return rc;
	cd.d = &d;
	d.nrows = 1;   /* tensor_frame's checks are about a frame with rows */
	if ((rc = csv_header(&cd, &rec)) ||
	    (rc = in->names ? check_missing(&d, &cd.extras) : positional_frame(&d, n)))
		goto out;
	if (!(map = ccalloc(1, sizeof(*map))) || !(map->col = ccalloc(n + 1, sizeof(*map->col))) ||
	    !(map->name_at = ccalloc(n + 1, sizeof(*map->name_at))) ||
	    !(map->absent = ccalloc(in->ncols + 1, sizeof(*map->absent)))) {
		rc = oom();
		goto out;
	}
	map->in = in;
	map->nheader = n;
	map->names = (struct buf)BUF_INIT;
	for (size_t j = 0; j < n; j++) {
		map->col[j] = cd.cols[j].col;
		map->name_at[j] = map->names.len;
		buf_put(&map->names, header[j].p, header[j].n);
		buf_putc(&map->names, '\0');
	}
	for (size_t c = 0; c < in->ncols; c++)
		if (!d.present[c])
			map->absent[map->nabsent++] = c;
	rc = map->names.err ? oom() : 0;
out:
	free(cd.cols);
	buf_release(&cd.extras);
	dec_release(&d);
	if (rc)
		serve_csv_map_free(map);
	else
		*out = map;
	return rc;
}

void serve_csv_map_first(struct serve_csv_map *map, size_t nfields)
{
	map->skip = nfields == map->nheader + 1;
}

/* A plain number, the common case, converted without pandas' per-column
 * bookkeeping: exactly what csv_cell and csv_problem make of a column
 * holding this one value, or false to leave it to them. s[n] is a NUL. */
static bool csv_fast(enum serve_dtype t, const char *s, size_t n, float *out)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
				      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
	bool floaty = t == SERVE_DT_ANY || dt_is_float(t), neg = false, point = false;
	const char *p = s, *end = s + n, *digits;
	uint64_t m = 0;
	long e = 0;
	size_t nd;
	double v;

	if (!n) {
		if (floaty)
			*out = NAN;   /* pandas' NA: a float column takes it */
		return floaty;
	}
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	digits = p;
	while (p < end && (unsigned)(*p - '0') < 10)
		m = m * 10 + (uint64_t)(*p++ - '0');
	nd = (size_t)(p - digits);
	if (p < end && *p == '.') {
		const char *frac = ++p;

		point = true;
		while (p < end && (unsigned)(*p - '0') < 10)
			m = m * 10 + (uint64_t)(*p++ - '0');
		e = -(long)(p - frac);
		nd += (size_t)(p - frac);
	}
	if (!nd || nd > 19)   /* no digits; or more than a uint64 surely holds (leading zeros count) */
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false;
		long x = 0;
		const char *start;

		if (++p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		for (start = p; p < end && (unsigned)(*p - '0') < 10 && x < 10000; p++)
			x = x * 10 + (*p - '0');
		if (p == start)
			return false;
		e += eneg ? -x : x;
		point = true;
	}
	if (p != end)
		return false;
	if (!point) {
		int64_t iv;

		if (nd > 18)
			return false;
		iv = neg ? -(int64_t)m : (int64_t)m;
		if (t == SERVE_DT_BOOL) {
			if (iv != 0 && iv != 1)
				return false;
			*out = (float)iv;
		} else {
			*out = dt_is_int(t) ? int_to(t, iv) : float_to(t, (double)iv);
		}
		return true;
	}
	if (!floaty)
		return false;
	if (m <= ((uint64_t)1 << 53) && e >= -22 && e <= 22)
		v = e < 0 ? (double)m / p10[-e] : (double)m * p10[e];   /* exact operands: one rounding (Clinger) */
	else
		v = fabs(strtod(s, NULL));
	*out = float_to(t, neg ? -v : v);
	return true;
}

/* Header field j (model column c) of one record, the slow way: csv_cell and
 * csv_problem over a column of this one value. */
static int csv_cell_alone(const struct serve_csv_map *map, size_t j, long c, const char *s, size_t n, float *row)
{
	struct dec d = { .in = map->in, .ncols = map->in->ncols, .x = row };
	struct csvdec cd = { .d = &d };
	struct csvcol cc = { .col = c, .all_int = true, .all_float = true, .all_bool = true, .integral = true,
			     .zero_one = true, .float_tok = BUF_INIT, .int_tok = BUF_INIT };
	struct buf m = BUF_INIT;
	int rc = 0;

	csv_cell(&cd, &cc, 0, s, n);
	csv_problem(&d, &cc, j, &m);
	if (cc.float_tok.err || cc.int_tok.err || m.err)
		rc = oom();
	else if (m.len)
		rc = cairn_error_set(CAIRN_EINVALID, "column '%.200s': %s", map->names.ptr + map->name_at[j], m.ptr);
	buf_release(&cc.float_tok);
	buf_release(&cc.int_tok);
	buf_release(&m);
	return rc;
}

int serve_csv_map_row(const struct serve_csv_map *map, const struct ccsv_field *f, size_t n, float *row)
{
	const struct serve_input *in = map->in;
	size_t width = map->nheader + map->skip;

	if (n > width)
		return cairn_error_set(CAIRN_EINVALID, "expected %zu fields, saw %zu", width, n);
	for (size_t j = 0; j < map->nheader; j++) {
		long c = map->col[j];
		size_t k = j + map->skip;
		const char *s = k < n ? f[k].p : "";
		size_t len = k < n ? f[k].n : 0;
		int rc;

		if (c < 0)
			continue;
		if (!csv_fast(in->dtypes ? in->dtypes[c] : SERVE_DT_ANY, s, len, &row[c]) &&
		    (rc = csv_cell_alone(map, j, c, s, len, row)))
			return rc;
	}
	for (size_t i = 0; i < map->nabsent; i++)
		row[map->absent[i]] = NAN;
	return 0;
}

int serve_decode_json_row(const struct serve_input *in, const char *text, size_t len, float *row)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *doc = NULL, *list = NULL;
	struct dec d;
	int rc;

	if ((rc = dec_init(&d, in, &f, false)))
		return rc;
	if ((rc = parse_body(text, len, &doc, &f.error_code)))
		goto out;
	if (!json_is_object(doc)) {
		rc = cairn_error_set(CAIRN_EINVALID, "expected a JSON object ({\"column\": value, ...}), got '%s'",
				     cjson_py_type(doc));
		goto out;
	}
	if (!(list = json_array()) || json_array_append(list, doc)) {
		rc = oom();
		goto out;
	}
	if ((rc = dec_records(&d, list)))
		goto out;
	memcpy(row, f.x, in->ncols * sizeof(*row));
out:
	serve_frame_release(&f);
	json_decref(list);
	json_decref(doc);
	dec_release(&d);
	return rc;
}
