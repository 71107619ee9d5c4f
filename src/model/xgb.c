/* xgb.c - the native XGBoost predictor: load an MLflow xgboost model through libxgboost and predict what MLflow's pyfunc returns. */
#include "model/xgb.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/path.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xgboost/c_api.h>

#define CFG_LEN 224     /* a predict config: {"type": ..., "missing": ...} */
#define AI_LEN 160      /* an array interface: {"data": [ADDR, true], "shape": [N, F], ...} */
#define MAX_CLASSES 100000

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define F4 ">f4"
#else
#define F4 "<f4"
#endif

/* The model classes MLflow's flavor writes, and what their pyfunc predict does. */
static const struct xgb_class_def {
	const char *name;
	enum xgb_class cls;
	bool sklearn;      /* an XGBModel: meta in the "scikit_learn" attribute, best_iteration used */
	bool classifier;   /* predict gives labels; predict_proba exists */
	const char *estimator_type;  /* sklearn's _estimator_type */
} classes[] = {
	{ "xgboost.core.Booster", XGB_CLASS_BOOSTER, false, false, NULL },
	{ "xgboost.sklearn.XGBClassifier", XGB_CLASS_CLASSIFIER, true, true, "classifier" },
	{ "xgboost.sklearn.XGBRegressor", XGB_CLASS_REGRESSOR, true, false, "regressor" },
	{ "xgboost.sklearn.XGBRanker", XGB_CLASS_RANKER, true, false, "ranker" },
	{ "xgboost.sklearn.XGBRFClassifier", XGB_CLASS_RF_CLASSIFIER, true, true, "classifier" },
	{ "xgboost.sklearn.XGBRFRegressor", XGB_CLASS_RF_REGRESSOR, true, false, "regressor" },
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

/* What a classifier's predict and predict_proba do with the booster's values. */
enum label_rule {
	LABEL_THRESHOLD,  /* 1-D probabilities: p > 0.5 */
	LABEL_ARGMAX,     /* n x classes: argmax */
	LABEL_MULTI,      /* multi-label (2 classes, n x k): p > 0.5 each, as floats */
	LABEL_SOFTMAX,    /* multi:softmax: the index, as int32 */
};

struct xgb_model {
	_Atomic long refs;
	const struct xgb_class_def *def;
	BoosterHandle one;         /* nthread=1 */
	BoosterHandle many;        /* nthread=opts.nthread, for big batches; NULL when nthread <= 1 */
	size_t batch_rows;         /* batches this big use `many` */
	bool linear;               /* gblinear: no in-place prediction, no thread-safety guarantee */
	pthread_mutex_t lock;      /* serialises gblinear predictions */
	size_t nfeat;
	char **names;              /* nfeat names, or NULL */
	char *objective;           /* the booster's objective */
	int num_class;             /* learner_model_param.num_class */
	char cfg[2][CFG_LEN];      /* predict configs: [0] values, [1] margins */
	char dense_cfg[64];        /* XGDMatrixCreateFromDense config (gblinear) */
	/* sklearn classes */
	char *sk_objective;        /* the estimator's objective ("multi:softmax" matters) */
	int n_classes;             /* n_classes_; 0 when the meta has none */
	double *le_classes;        /* a legacy label encoder's classes_ (integers), or NULL */
	size_t le_n;
	struct xgb_shape shapes[3];/* per method */
	bool has_proba;
	/* raw output of the values (0) and margins (1) predictions, from the warm-up */
	size_t raw_width[2];
	bool raw_matrix[2];
};

struct xgb_ctx {
	DMatrixHandle proxy;   /* reused for every in-place prediction */
	double *out;           /* the output buffer */
	size_t cap;            /* doubles allocated in out */
	float *tmp;            /* softmax scratch */
	size_t tmp_cap;
};

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* libxgboost's last error, one line: "[12:00:00] src/x.cc:12: Check failed: ..."
 * loses its time and source position and anything after the first line. */
static void last_error(char *dst, size_t n)
{
	const char *s = XGBGetLastError(), *p;
	size_t k = 0;

	if (!s || !*s)
		s = "unknown error";
	if (*s == '[' && (p = strstr(s, "] ")) && p - s < 16)
		s = p + 2;
	p = s;
	while (*p && *p != ' ' && *p != '\n' && *p != ':')
		p++;
	if (*p == ':' && p[1] >= '0' && p[1] <= '9') {
		const char *q = p + 1;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q[0] == ':' && q[1] == ' ')
			s = q + 2;
	}
	for (; *s && *s != '\n' && k + 1 < n; s++)
		dst[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	while (k && dst[k - 1] == ' ')
		k--;
	dst[k] = 0;
}

static int xgb_fail(int code, const char *what, const char *path)
{
	char msg[512];

	last_error(msg, sizeof(msg));
	return cairn_error_set(code, "xgboost model '%s': %s: %s", path, what, msg);
}

/* ---------- model documents: checked before libxgboost reads them ----------
 *
 * libxgboost 1.7.4 trusts its model files. A truncated UBJSON file makes it
 * read past its buffer or allocate what garbage lengths say (gigabytes); a
 * child, parent or feature index out of range in a tree, a repeated tree id,
 * a tree_info entry past the output groups or a num_parallel_tree that does
 * not divide the trees makes it crash at load or at predict. So cairn reads
 * the document itself first - JSON and UBJSON through the two small readers
 * below, into jansson values - and checks everything xgboost indexes with.
 * A legacy binary file gets the lengths it allocates by bounded before the
 * load, and its trees checked after it, in the UBJSON the loaded booster
 * writes. The check holds the document in memory once (without the floats
 * of the trees: they are never checked), at load only. */

#define DOC_MAX_DEPTH 64
#define LEGACY_MAX_NAME 1024

enum doc_format { DOC_JSON, DOC_UBJ, DOC_LEGACY };

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* As xgboost's loader tells them apart, except that JSON may start with
 * white space: UBJSON is '{' and a type letter at the start. */
static enum doc_format doc_format_of(const unsigned char *p, size_t n)
{
	size_t i = 0;

	if (n >= 2 && p[0] == '{' && p[1] != '"' && p[1] != '}' && !is_ws((char)p[1]))
		return DOC_UBJ;
	while (i < n && is_ws((char)p[i]))
		i++;
	return i < n && p[i] == '{' ? DOC_JSON : DOC_LEGACY;
}

struct ubj {
	const unsigned char *p, *end, *start;
	char *why;       /* room for a reason */
	size_t whylen;
};

static int ubj_bad(struct ubj *u, const char *what)
{
	snprintf(u->why, u->whylen, "malformed UBJSON at byte %zu: %s", (size_t)(u->p - u->start), what);
	return CAIRN_EINVALID;
}

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Bytes of a fixed-size value of this type, 0 for containers and strings, -1 unknown. */
static int ubj_size(int tag)
{
	switch (tag) {
	case 'Z': case 'T': case 'F': case 'N': return 0;
	case 'i': case 'U': case 'C': return 1;
	case 'I': return 2;
	case 'l': case 'd': return 4;
	case 'L': case 'D': return 8;
	default: return -1;
	}
}

/* An integer of type tag (i U I l L). */
static int ubj_int(struct ubj *u, int tag, int64_t *out)
{
	int sz = ubj_size(tag);
	uint64_t v;

	if (tag != 'i' && tag != 'U' && tag != 'I' && tag != 'l' && tag != 'L')
		return ubj_bad(u, "an integer expected");
	if (u->end - u->p < sz)
		return ubj_bad(u, "truncated");
	v = be(u->p, sz);
	u->p += sz;
	switch (tag) {
	case 'i': *out = (int8_t)v; break;
	case 'U': *out = (uint8_t)v; break;
	case 'I': *out = (int16_t)v; break;
	case 'l': *out = (int32_t)v; break;
	default: *out = (int64_t)v; break;
	}
	return 0;
}

static int ubj_tag(struct ubj *u, int *tag)
{
	if (u->p >= u->end)
		return ubj_bad(u, "truncated");
	*tag = *u->p++;
	return 0;
}

/* A length: a tagged non-negative integer that fits in what is left, each
 * item taking at least min_bytes. */
static int ubj_len(struct ubj *u, size_t min_bytes, size_t *out)
{
	int64_t v;
	int tag, rc;

	if ((rc = ubj_tag(u, &tag)) || (rc = ubj_int(u, tag, &v)))
		return rc;
	if (v < 0 || (min_bytes && (uint64_t)v > (uint64_t)(u->end - u->p) / min_bytes))
		return ubj_bad(u, "a length past the end");
	*out = (size_t)v;
	return 0;
}

static int ubj_value(struct ubj *u, int tag, int depth, json_t **out);

/* A scalar of type tag whose bytes are next (no tag byte). */
static int ubj_scalar(struct ubj *u, int tag, json_t **out)
{
	int64_t v;
	int rc;

	switch (tag) {
	case 'Z': *out = json_null(); return 0;
	case 'T': *out = json_true(); return 0;
	case 'F': *out = json_false(); return 0;
	case 'd': case 'D':   /* floats: their values are never checked */
		if (u->end - u->p < ubj_size(tag))
			return ubj_bad(u, "truncated");
		u->p += ubj_size(tag);
		*out = json_null();
		return 0;
	case 'C':
		if (u->p >= u->end)
			return ubj_bad(u, "truncated");
		*out = json_stringn_nocheck((const char *)u->p++, 1);
		return *out ? 0 : oom();
	default:
		if ((rc = ubj_int(u, tag, &v)))
			return rc;
		*out = json_integer(v);
		return *out ? 0 : oom();
	}
}

/* [ and { after their tag: optional $type, optional #count, items. */
static int ubj_container(struct ubj *u, bool object, int depth, json_t **out)
{
	json_t *c = object ? json_object() : json_array();
	int type = 0, rc = 0;
	bool counted = false;
	size_t count = 0;

	if (!c)
		return oom();
	if (u->p < u->end && *u->p == '$') {
		u->p++;
		if ((rc = ubj_tag(u, &type)))
			goto fail;
		if ((ubj_size(type) < 0 && type != 'S' && type != '[' && type != '{') || type == 'N') {
			rc = ubj_bad(u, "unknown container type");
			goto fail;
		}
		if (u->p >= u->end || *u->p != '#') {
			rc = ubj_bad(u, "a typed container without a count");
			goto fail;
		}
	}
	if (u->p < u->end && *u->p == '#') {
		int sz = type ? ubj_size(type) : 1;
		u->p++;
		/* every item takes a byte at least (a key's length) - typed ones their size */
		if ((rc = ubj_len(u, object ? 2 : (sz > 0 ? (size_t)sz : 1), &count)))
			goto fail;
		if (type && sz == 0 && !object && count > (size_t)(u->end - u->p)) {
			rc = ubj_bad(u, "a count past the end");
			goto fail;
		}
		counted = true;
	}
	for (size_t i = 0; !counted || i < count; i++) {
		json_t *v = NULL;
		const unsigned char *key = NULL;
		size_t klen = 0;
		int tag = type;

		if (!counted) {
			if (u->p >= u->end) {
				rc = ubj_bad(u, "truncated");
				goto fail;
			}
			if (*u->p == (object ? '}' : ']')) {
				u->p++;
				break;
			}
		}
		if (object) {
			if ((rc = ubj_len(u, 1, &klen)))
				goto fail;
			key = u->p;
			u->p += klen;
			if (memchr(key, 0, klen)) {
				rc = ubj_bad(u, "a key with a NUL byte");
				goto fail;
			}
		}
		if (!tag && (rc = ubj_tag(u, &tag)))
			goto fail;
		if ((rc = ubj_value(u, tag, depth + 1, &v)))
			goto fail;
		rc = object ? json_object_setn_new_nocheck(c, (const char *)key, klen, v) : json_array_append_new(c, v);
		if (rc) {
			rc = oom();
			goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	json_decref(c);
	return rc;
}

static int ubj_value(struct ubj *u, int tag, int depth, json_t **out)
{
	size_t n;
	int rc;

	*out = NULL;
	if (depth > DOC_MAX_DEPTH)
		return ubj_bad(u, "nested too deep");
	while (tag == 'N' && !(rc = ubj_tag(u, &tag)))   /* no-op */
		;
	switch (tag) {
	case '[': return ubj_container(u, false, depth, out);
	case '{': return ubj_container(u, true, depth, out);
	case 'S':
		if ((rc = ubj_len(u, 1, &n)))
			return rc;
		*out = json_stringn_nocheck((const char *)u->p, n);
		u->p += n;
		return *out ? 0 : oom();
	case 'H':
		return ubj_bad(u, "high-precision numbers are not supported");
	default:
		if (ubj_size(tag) < 0)
			return ubj_bad(u, "unknown type");
		return ubj_scalar(u, tag, out);
	}
}

/* Decode a whole UBJSON document: one object, nothing after it. */
static int ubj_decode(const unsigned char *p, size_t n, char *why, size_t whylen, json_t **out)
{
	struct ubj u = { p, p + n, p, why, whylen };
	int tag, rc;

	*out = NULL;
	if ((rc = ubj_tag(&u, &tag)))
		return rc;
	if (tag != '{')
		return ubj_bad(&u, "not an object");
	if ((rc = ubj_value(&u, tag, 0, out)))
		return rc;
	if (u.p != u.end) {
		json_decref(*out);
		*out = NULL;
		return ubj_bad(&u, "bytes after the document");
	}
	return 0;
}

/* A JSON document as xgboost (and Python's json) writes it, into jansson
 * values. Not jansson's own parser: it refuses the NaN and Infinity these
 * writers emit, and 2.14's lexer writes past a buffer when an allocation
 * fails inside a string (seen under fault injection with a 14-byte key: its
 * closing quote is where the saved text must grow, and lex_save ignores the
 * failed append). Floats become reals (NaN, Infinity, -Infinity: those
 * strings), or, with floats false, nulls (a model's tree values are never
 * checked, and nulls cost no memory). */
struct jr {
	const char *p, *end, *start;
	bool floats;
	char *why;
	size_t whylen;
};

static int jr_bad(struct jr *j, const char *what)
{
	snprintf(j->why, j->whylen, "malformed JSON at byte %zu: %s", (size_t)(j->p - j->start), what);
	return CAIRN_EINVALID;
}

static void jr_ws(struct jr *j)
{
	while (j->p < j->end && is_ws(*j->p))
		j->p++;
}

static bool jr_word(struct jr *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
		return false;
	j->p += n;
	return true;
}

static int jr_hex4(struct jr *j, unsigned *out)
{
	unsigned v = 0;

	if (j->end - j->p < 4)
		return jr_bad(j, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *j->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return jr_bad(j, "bad \\u escape");
	}
	*out = v;
	return 0;
}

/* A string after its opening quote, unescaped into b. */
static int jr_string(struct jr *j, struct buf *b)
{
	buf_clear(b);
	for (;;) {
		const char *run = j->p;
		unsigned cp, lo;
		int rc;

		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
			j->p++;
		buf_put(b, run, (size_t)(j->p - run));
		if (j->p >= j->end)
			return jr_bad(j, "truncated string");
		if (*j->p == '"') {
			j->p++;
			return buf_error(b);
		}
		if (*j->p != '\\')
			return jr_bad(j, "a control character in a string");
		if (++j->p >= j->end)
			return jr_bad(j, "truncated string");
		switch (*j->p++) {
		case '"': buf_putc(b, '"'); break;
		case '\\': buf_putc(b, '\\'); break;
		case '/': buf_putc(b, '/'); break;
		case 'b': buf_putc(b, '\b'); break;
		case 'f': buf_putc(b, '\f'); break;
		case 'n': buf_putc(b, '\n'); break;
		case 'r': buf_putc(b, '\r'); break;
		case 't': buf_putc(b, '\t'); break;
		case 'u':
			if ((rc = jr_hex4(j, &cp)))
				return rc;
			if (cp >= 0xd800 && cp < 0xdc00) {   /* a surrogate pair */
				if (!jr_word(j, "\\u") || (rc = jr_hex4(j, &lo)) || lo < 0xdc00 || lo > 0xdfff)
					return rc ? rc : jr_bad(j, "a lone surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return jr_bad(j, "a lone surrogate");
			}
			if (cp < 0x80) {
				buf_putc(b, (char)cp);
			} else if (cp < 0x800) {
				buf_putc(b, (char)(0xc0 | cp >> 6));
				buf_putc(b, (char)(0x80 | (cp & 0x3f)));
			} else if (cp < 0x10000) {
				buf_putc(b, (char)(0xe0 | cp >> 12));
				buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
				buf_putc(b, (char)(0x80 | (cp & 0x3f)));
			} else {
				buf_putc(b, (char)(0xf0 | cp >> 18));
				buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
				buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
				buf_putc(b, (char)(0x80 | (cp & 0x3f)));
			}
			break;
		default:
			return jr_bad(j, "a bad escape");
		}
	}
}

/* A number: an integer when it has no fraction or exponent and fits. */
static int jr_number(struct jr *j, json_t **out)
{
	const char *s = j->p;
	bool integral = true;
	char tmp[64];
	size_t n;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return jr_bad(j, "a bad number");
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	if (j->p < j->end && *j->p == '.') {
		integral = false;
		if (++j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jr_bad(j, "a bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integral = false;
		if (++j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jr_bad(j, "a bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	n = (size_t)(j->p - s);
	if (!integral && !j->floats) {
		*out = json_null();
		return 0;
	}
	if (n >= sizeof(tmp)) {   /* longer than any int64 or double needs */
		*out = integral ? json_null() : json_real(0);
		return *out ? 0 : oom();
	}
	memcpy(tmp, s, n);
	tmp[n] = 0;
	errno = 0;
	if (integral) {
		long long v = strtoll(tmp, NULL, 10);
		*out = errno ? json_null() : json_integer(v);
	} else {
		double d = strtod(tmp, NULL);
		*out = isfinite(d) ? json_real(d) : json_string(d > 0 ? "Infinity" : "-Infinity");
	}
	return *out ? 0 : oom();
}

/* NaN, Infinity, -Infinity (already consumed): a string, or null. */
static int jr_special(struct jr *j, const char *name, json_t **out)
{
	*out = j->floats ? json_string(name) : json_null();
	return *out ? 0 : oom();
}

static int jr_value(struct jr *j, int depth, struct buf *s, json_t **out);

/* An object or array after its opening bracket. */
static int jr_container(struct jr *j, bool object, int depth, struct buf *s, json_t **out)
{
	struct buf key = BUF_INIT;
	char close = object ? '}' : ']';
	json_t *c = object ? json_object() : json_array();
	int rc = 0;

	if (!c)
		return oom();
	jr_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		*out = c;
		return 0;
	}
	for (;;) {
		json_t *v = NULL;

		if (object) {
			jr_ws(j);
			if (j->p >= j->end || *j->p != '"') {
				rc = jr_bad(j, "a key expected");
				break;
			}
			j->p++;
			if ((rc = jr_string(j, &key)))
				break;
			if (memchr(key.ptr, 0, key.len)) {
				rc = jr_bad(j, "a key with a NUL byte");
				break;
			}
			jr_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				rc = jr_bad(j, "':' expected");
				break;
			}
			j->p++;
		}
		if ((rc = jr_value(j, depth + 1, s, &v)))
			break;
		if (object ? json_object_setn_new_nocheck(c, key.ptr, key.len, v) : json_array_append_new(c, v)) {
			rc = oom();
			break;
		}
		jr_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			break;
		}
		rc = jr_bad(j, object ? "',' or '}' expected" : "',' or ']' expected");
		break;
	}
	buf_release(&key);
	if (rc) {
		json_decref(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int jr_value(struct jr *j, int depth, struct buf *s, json_t **out)
{
	int rc;

	*out = NULL;
	if (depth > DOC_MAX_DEPTH)
		return jr_bad(j, "nested too deep");
	jr_ws(j);
	if (j->p >= j->end)
		return jr_bad(j, "truncated");
	switch (*j->p) {
	case '"':
		j->p++;
		if ((rc = jr_string(j, s)))
			return rc;
		*out = json_stringn_nocheck(s->ptr, s->len);
		return *out ? 0 : oom();
	case '{':
		j->p++;
		return jr_container(j, true, depth, s, out);
	case '[':
		j->p++;
		return jr_container(j, false, depth, s, out);
	case 't':
		if (!jr_word(j, "true"))
			break;
		*out = json_true();
		return 0;
	case 'f':
		if (!jr_word(j, "false"))
			break;
		*out = json_false();
		return 0;
	case 'n':
		if (!jr_word(j, "null"))
			break;
		*out = json_null();
		return 0;
	case 'N':
		if (!jr_word(j, "NaN"))
			break;
		return jr_special(j, "NaN", out);
	case 'I':
		if (!jr_word(j, "Infinity"))
			break;
		return jr_special(j, "Infinity", out);
	default:
		if (jr_word(j, "-Infinity"))
			return jr_special(j, "-Infinity", out);
		return jr_number(j, out);
	}
	return jr_bad(j, "unexpected input");
}

/* Parse n bytes of JSON into an object (the whole input, white space around it allowed). */
static int json_decode(const char *p, size_t n, bool floats, char *why, size_t whylen, json_t **out)
{
	struct jr j = { p, p + n, p, floats, why, whylen };
	struct buf s = BUF_INIT;
	int rc;

	*out = NULL;
	jr_ws(&j);
	if (j.p >= j.end || *j.p != '{') {
		snprintf(why, whylen, "not a JSON object");
		return CAIRN_EINVALID;
	}
	rc = jr_value(&j, 0, &s, out);
	buf_release(&s);
	if (!rc) {
		jr_ws(&j);
		if (j.p != j.end)
			rc = jr_bad(&j, "bytes after the document");
	}
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* An integer, or a string holding one (xgboost writes its parameters as strings). */
static bool doc_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t x;

	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long l = strtoll(s, &end, 10);
		if (errno || end == s || *end || (size_t)(end - s) != json_string_length(v))
			return false;
		x = l;
	} else {
		return false;
	}
	if (x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

static const json_t *doc_get(const json_t *v, const char *key)
{
	return json_object_get(v, key);
}

struct doc_check {
	char *why;
	size_t whylen;
	int64_t nfeat;      /* learner num_feature */
	int64_t ngroup;     /* output groups: max(num_class, num_target, 1) */
};

static int doc_fail(struct doc_check *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int doc_fail(struct doc_check *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return code;
}
#define doc_bad(c, ...) doc_fail((c), CAIRN_EINVALID, __VA_ARGS__)

/* An array of exactly n items; ints: each an integer. */
static bool doc_array(const json_t *a, size_t n, bool ints)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return false;
	for (size_t i = 0; ints && i < n; i++)
		if (!json_is_integer(json_array_get(a, i)))
			return false;
	return true;
}

static int64_t ival(const json_t *a, size_t i)
{
	return json_integer_value(json_array_get(a, i));
}

/* One RegTree: every index xgboost follows stays in range, and the nodes
 * reachable from the root form a tree. */
static int check_tree(struct doc_check *c, size_t t, const json_t *tree)
{
	static const char *const float_arrays[] = { "base_weights", "loss_changes", "split_conditions",
						    "sum_hessian", NULL };
	static const char *const cats[] = { "categories", "categories_nodes", "categories_segments",
					    "categories_sizes", NULL };
	const json_t *tp = doc_get(tree, "tree_param"), *left, *right, *parents, *split, *stype;
	int64_t n, v;
	unsigned char *seen = NULL;
	int64_t *stack = NULL;
	size_t top = 0;
	int rc = 0;

	if (!json_is_object(tree) || !doc_int(doc_get(tp, "num_nodes"), 1, INT32_MAX, &n))
		return doc_bad(c, "tree %zu: bad num_nodes", t);
	if (doc_get(tp, "size_leaf_vector") && (!doc_int(doc_get(tp, "size_leaf_vector"), 0, 0, &v)))
		return doc_bad(c, "tree %zu: vector leaves are not supported", t);
	left = doc_get(tree, "left_children");
	right = doc_get(tree, "right_children");
	parents = doc_get(tree, "parents");
	split = doc_get(tree, "split_indices");
	stype = doc_get(tree, "split_type");
	if (!doc_array(left, (size_t)n, true) || !doc_array(right, (size_t)n, true) ||
	    !doc_array(parents, (size_t)n, true) || !doc_array(split, (size_t)n, true) ||
	    !doc_array(doc_get(tree, "default_left"), (size_t)n, true) ||
	    (stype && !doc_array(stype, (size_t)n, true)))
		return doc_bad(c, "tree %zu: a node array that is not %lld integers", t, (long long)n);
	for (int k = 0; float_arrays[k]; k++)
		if (!doc_array(doc_get(tree, float_arrays[k]), (size_t)n, false))
			return doc_bad(c, "tree %zu: %s is not %lld numbers", t, float_arrays[k], (long long)n);
	for (int k = 0; cats[k]; k++) {
		const json_t *a = doc_get(tree, cats[k]);
		if (a && (!json_is_array(a) || json_array_size(a)))
			return doc_fail(c, CAIRN_EUNSUPPORTED, "tree %zu: categorical splits are not supported", t);
	}
	for (size_t i = 0; stype && i < (size_t)n; i++)
		if (ival(stype, i) != 0)
			return doc_fail(c, CAIRN_EUNSUPPORTED, "tree %zu: categorical splits are not supported", t);
	for (size_t i = 1; i < (size_t)n; i++) {   /* the loader looks up every node's parent */
		v = ival(parents, i) & 0x7fffffff;
		if (ival(parents, i) < 0 || v >= n)
			return doc_bad(c, "tree %zu: node %zu has parent %lld of %lld nodes", t, i,
				       (long long)ival(parents, i), (long long)n);
	}
	if (!(seen = ccalloc((size_t)n, 1)) || !(stack = cmalloc((size_t)n * sizeof(int64_t)))) {
		rc = oom();
		goto out;
	}
	stack[top++] = 0;
	seen[0] = 1;
	while (top) {
		int64_t nid = stack[--top], l = ival(left, (size_t)nid), r = ival(right, (size_t)nid);

		if (l == -1)
			continue;   /* a leaf */
		if (l < 1 || l >= n || r < 1 || r >= n || l == r || seen[l] || seen[r]) {
			rc = doc_bad(c, "tree %zu: node %lld has children %lld and %lld of %lld nodes", t,
				     (long long)nid, (long long)l, (long long)r, (long long)n);
			goto out;
		}
		v = ival(split, (size_t)nid);
		if (v < 0 || v >= c->nfeat) {
			rc = doc_bad(c, "tree %zu: node %lld splits on feature %lld of %lld", t, (long long)nid,
				     (long long)v, (long long)c->nfeat);
			goto out;
		}
		seen[l] = seen[r] = 1;
		stack[top++] = l;
		stack[top++] = r;
	}
out:
	free(seen);
	free(stack);
	return rc;
}

/* A gbtree model: {gbtree_model_param, trees, tree_info}. */
static int check_gbtree(struct doc_check *c, const json_t *model, int64_t *ntrees)
{
	const json_t *param = doc_get(model, "gbtree_model_param"), *trees = doc_get(model, "trees"),
		     *info = doc_get(model, "tree_info");
	unsigned char *ids = NULL;
	int64_t npt, v;
	int rc = 0;

	if (!json_is_object(model) || !doc_int(doc_get(param, "num_trees"), 0, INT32_MAX, ntrees) ||
	    !doc_int(doc_get(param, "num_parallel_tree"), 1, INT32_MAX, &npt))
		return doc_bad(c, "bad gbtree_model_param");
	if (doc_get(param, "size_leaf_vector") && !doc_int(doc_get(param, "size_leaf_vector"), 0, 0, &v))
		return doc_bad(c, "vector leaves are not supported");
	if (!doc_array(trees, (size_t)*ntrees, false) || !doc_array(info, (size_t)*ntrees, true))
		return doc_bad(c, "trees and tree_info are not num_trees (%lld) long", (long long)*ntrees);
	if (*ntrees % (npt * c->ngroup))
		return doc_bad(c, "%lld trees are no whole number of rounds of %lld x %lld", (long long)*ntrees,
			       (long long)npt, (long long)c->ngroup);
	if (*ntrees && !(ids = ccalloc((size_t)*ntrees, 1)))
		return oom();
	for (size_t t = 0; t < (size_t)*ntrees && !rc; t++) {
		const json_t *tree = json_array_get(trees, t);
		if (ival(info, t) < 0 || ival(info, t) >= c->ngroup)
			rc = doc_bad(c, "tree_info[%zu] = %lld for %lld output groups", t, (long long)ival(info, t),
				     (long long)c->ngroup);
		else if (!doc_int(doc_get(tree, "id"), 0, *ntrees - 1, &v) || ids[v]++)
			rc = doc_bad(c, "tree %zu: a missing, repeated or out of range id", t);
		else
			rc = check_tree(c, t, tree);
	}
	free(ids);
	return rc;
}

/* The whole learner document. */
static int check_doc(const json_t *doc, char *why, size_t whylen)
{
	struct doc_check c = { why, whylen, 0, 1 };
	const json_t *learner = doc_get(doc, "learner"), *lmp, *gb, *names, *types;
	const char *gbname;
	int64_t ncls = 0, ntgt = 1, ntrees = 0;

	lmp = doc_get(learner, "learner_model_param");
	if (!doc_int(doc_get(lmp, "num_feature"), 1, INT32_MAX, &c.nfeat) ||
	    !doc_int(doc_get(lmp, "num_class"), 0, MAX_CLASSES, &ncls) ||
	    (doc_get(lmp, "num_target") && !doc_int(doc_get(lmp, "num_target"), 1, MAX_CLASSES, &ntgt)))
		return doc_bad(&c, "bad learner_model_param");
	c.ngroup = ncls > ntgt ? ncls : ntgt;
	c.ngroup = c.ngroup < 1 ? 1 : c.ngroup;
	names = doc_get(learner, "feature_names");
	types = doc_get(learner, "feature_types");
	if ((names && !json_is_array(names)) || (types && !json_is_array(types)) ||
	    (names && json_array_size(names) && json_array_size(names) != (size_t)c.nfeat) ||
	    (types && json_array_size(types) && json_array_size(types) != (size_t)c.nfeat))
		return doc_bad(&c, "feature names or types that are not num_feature (%lld) long", (long long)c.nfeat);
	for (size_t i = 0; i < json_array_size(names); i++)
		if (!json_is_string(json_array_get(names, i)))
			return doc_bad(&c, "a feature name that is not a string");
	for (size_t i = 0; i < json_array_size(types); i++)
		if (!json_is_string(json_array_get(types, i)))
			return doc_bad(&c, "a feature type that is not a string");
	if (!json_is_string(doc_get(doc_get(learner, "objective"), "name")))
		return doc_bad(&c, "no objective");
	gb = doc_get(learner, "gradient_booster");
	gbname = json_string_value(doc_get(gb, "name"));
	if (!gbname)
		return doc_bad(&c, "no gradient_booster");
	if (!strcmp(gbname, "gbtree"))
		return check_gbtree(&c, doc_get(gb, "model"), &ntrees);
	if (!strcmp(gbname, "dart")) {
		int rc = check_gbtree(&c, doc_get(doc_get(gb, "gbtree"), "model"), &ntrees);
		if (!rc && !doc_array(doc_get(gb, "weight_drop"), (size_t)ntrees, false))
			rc = doc_bad(&c, "weight_drop is not num_trees (%lld) long", (long long)ntrees);
		return rc;
	}
	if (!strcmp(gbname, "gblinear")) {
		if (!doc_array(doc_get(doc_get(gb, "model"), "weights"), (size_t)((c.nfeat + 1) * c.ngroup), false))
			return doc_bad(&c, "gblinear weights are not (num_feature + 1) x groups long");
		return 0;
	}
	return doc_bad(&c, "unknown booster '%s'", gbname);
}

/* A legacy binary model (learner.cc LoadModel(dmlc::Stream*)): every length
 * it will allocate by is bounded by the bytes that follow. */
struct legacy {
	const unsigned char *p;
	size_t n, off;
};

static bool leg_skip(struct legacy *l, size_t k)
{
	if (k > l->n - l->off)
		return false;
	l->off += k;
	return true;
}

static bool leg_u64(struct legacy *l, uint64_t *v)
{
	if (l->n - l->off < 8)
		return false;
	memcpy(v, l->p + l->off, 8);   /* little-endian, as dmlc writes on x86 and arm */
	l->off += 8;
	return true;
}

static bool leg_i32(struct legacy *l, size_t at, int32_t *v)
{
	if (at > l->n || l->n - at < 4)
		return false;
	memcpy(v, l->p + at, 4);
	return true;
}

/* A dmlc string or vector: u64 count of elem-byte items. */
static bool leg_vec(struct legacy *l, size_t elem, size_t max, char *copy, size_t copylen)
{
	uint64_t k;

	if (!leg_u64(l, &k) || k > max || k > (l->n - l->off) / elem)
		return false;
	if (copy) {
		size_t c = k < copylen - 1 ? (size_t)k : copylen - 1;
		memcpy(copy, l->p + l->off, c);
		copy[c] = 0;
	}
	l->off += (size_t)k * elem;
	return true;
}

#define LEGACY_MPARAM 136       /* LearnerModelParamLegacy */
#define LEGACY_GBTREE_PARAM 160 /* GBTreeModelParam */
#define LEGACY_TREE_PARAM 148   /* TreeParam */
#define LEGACY_NODE 20          /* RegTree::Node */
#define LEGACY_STAT 16          /* RTreeNodeStat */
#define LEGACY_GBLINEAR_PARAM 136

static int check_legacy(const unsigned char *p, size_t n, char *why, size_t whylen)
{
	struct legacy l = { p, n, 0 };
	char booster[48];
	int32_t extra = 0, metrics = 0, ntrees = 0, nnodes = 0;
	size_t mp;

	if (n >= 4 && !memcmp(p, "bs64", 4))
		goto bad;
	if (n >= 4 && !memcmp(p, "binf", 4))
		l.off = 4;
	mp = l.off;
	if (!leg_skip(&l, LEGACY_MPARAM) || !leg_i32(&l, mp + 12, &extra) || !leg_i32(&l, mp + 16, &metrics))
		goto bad;
	if (!leg_vec(&l, 1, LEGACY_MAX_NAME, NULL, 0) || !leg_vec(&l, 1, LEGACY_MAX_NAME, booster, sizeof(booster)))
		goto bad;
	if (!strcmp(booster, "gbtree") || !strcmp(booster, "dart")) {
		size_t at = l.off;
		if (!leg_i32(&l, at, &ntrees) || ntrees < 0 || !leg_skip(&l, LEGACY_GBTREE_PARAM))
			goto bad;
		for (int32_t t = 0; t < ntrees; t++) {
			int32_t leafvec = 0;
			at = l.off;
			if (!leg_i32(&l, at + 4, &nnodes) || !leg_i32(&l, at + 20, &leafvec) || nnodes < 1 ||
			    leafvec != 0 || !leg_skip(&l, LEGACY_TREE_PARAM) ||
			    (size_t)nnodes > (l.n - l.off) / (LEGACY_NODE + LEGACY_STAT) ||
			    !leg_skip(&l, (size_t)nnodes * (LEGACY_NODE + LEGACY_STAT)))
				goto bad;
		}
		if (ntrees && !leg_skip(&l, (size_t)ntrees * 4))
			goto bad;
		if (!strcmp(booster, "dart") && ntrees && !leg_vec(&l, 4, SIZE_MAX, NULL, 0))
			goto bad;
	} else if (!strcmp(booster, "gblinear")) {
		if (!leg_skip(&l, LEGACY_GBLINEAR_PARAM) || !leg_vec(&l, 4, SIZE_MAX, NULL, 0))
			goto bad;
	} else {
		for (char *q = booster; *q; q++)
			*q = *q < 0x20 || *q > 0x7e ? '?' : *q;
		snprintf(why, whylen, "unknown booster '%.40s' in a legacy binary model", booster);
		return CAIRN_EINVALID;
	}
	if (extra) {   /* attributes: pairs of strings */
		uint64_t k;
		if (!leg_u64(&l, &k) || k > (l.n - l.off) / 16)
			goto bad;
		for (uint64_t i = 0; i < 2 * k; i++)
			if (!leg_vec(&l, 1, SIZE_MAX, NULL, 0))
				goto bad;
	}
	if (metrics) {
		uint64_t k;
		if (!leg_u64(&l, &k) || k > (l.n - l.off) / 8)
			goto bad;
		for (uint64_t i = 0; i < k; i++)
			if (!leg_vec(&l, 1, SIZE_MAX, NULL, 0))
				goto bad;
	}
	return 0;
bad:
	snprintf(why, whylen, "truncated or malformed legacy binary model at byte %zu", l.off);
	return CAIRN_EINVALID;
}

/* Check the model bytes before libxgboost reads them (legacy binary: only
 * its lengths; xgb_check_loaded() does the rest). */
static int check_bytes(const unsigned char *p, size_t n, enum doc_format *fmt, char *why, size_t whylen)
{
	json_t *doc = NULL;
	int rc;

	*fmt = doc_format_of(p, n);
	if (*fmt == DOC_LEGACY)
		return check_legacy(p, n, why, whylen);
	rc = *fmt == DOC_JSON ? json_decode((const char *)p, n, false, why, whylen, &doc)
			      : ubj_decode(p, n, why, whylen, &doc);
	if (!rc)
		rc = check_doc(doc, why, whylen);
	json_decref(doc);
	return rc;
}

/* A loaded legacy model, checked in the UBJSON its booster writes. */
static int check_loaded(BoosterHandle h, char *why, size_t whylen)
{
	const char *raw = NULL;
	bst_ulong len = 0;
	json_t *doc = NULL;
	int rc;

	if (XGBoosterSaveModelToBuffer(h, "{\"format\": \"ubj\"}", &len, &raw)) {
		last_error(why, whylen);
		return CAIRN_ERR;
	}
	if (!(rc = ubj_decode((const unsigned char *)raw, (size_t)len, why, whylen, &doc)))
		rc = check_doc(doc, why, whylen);
	json_decref(doc);
	return rc;
}

/* ---------- loading ---------- */

static const struct xgb_class_def *class_by_name(const char *name)
{
	for (size_t i = 0; i < NCLASSES; i++)
		if (!strcmp(classes[i].name, name))
			return &classes[i];
	return NULL;
}

/* A new booster from the model bytes, with nthread set. */
static int booster_from(const char *data, size_t n, int nthread, const char *path, BoosterHandle *out)
{
	BoosterHandle h = NULL;
	char nt[16];

	*out = NULL;
	if (XGBoosterCreate(NULL, 0, &h))
		return xgb_fail(CAIRN_ERR, "cannot create a booster", path);
	if (XGBoosterLoadModelFromBuffer(h, data, (bst_ulong)n)) {
		int rc = xgb_fail(CAIRN_EINVALID, "not a loadable model", path);
		XGBoosterFree(h);
		return rc;
	}
	snprintf(nt, sizeof(nt), "%d", nthread);
	if (XGBoosterSetParam(h, "nthread", nt)) {
		int rc = xgb_fail(CAIRN_ERR, "cannot set nthread", path);
		XGBoosterFree(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* Parse JSON text from libxgboost (its configuration, an attribute). */
static int parse_json(const char *text, size_t n, const char *what, const char *path, json_t **out)
{
	char why[256];
	int rc = json_decode(text, n, true, why, sizeof(why), out);

	if (rc && rc != CAIRN_ENOMEM)
		cairn_error_set(rc, "xgboost model '%s': %s: %s", path, what, why);
	return rc;
}

static const char *json_path_str(json_t *v, const char *const *keys)
{
	for (; *keys; keys++)
		v = json_object_get(v, *keys);
	return json_string_value(v);
}

/* Objective, num_class and booster name from XGBoosterSaveJsonConfig. */
static int read_config(struct xgb_model *x, const char *path, const char **booster_name, json_t **cfg)
{
	static const char *const k_obj[] = { "learner", "objective", "name", NULL };
	static const char *const k_ncls[] = { "learner", "learner_model_param", "num_class", NULL };
	static const char *const k_gbm[] = { "learner", "gradient_booster", "name", NULL };
	const char *text = NULL, *obj, *ncls;
	bst_ulong len = 0;
	char *end;
	long nc;
	int rc;

	if (XGBoosterSaveJsonConfig(x->one, &len, &text))
		return xgb_fail(CAIRN_ERR, "cannot read its configuration", path);
	if ((rc = parse_json(text, (size_t)len, "the configuration", path, cfg)))
		return rc;
	obj = json_path_str(*cfg, k_obj);
	ncls = json_path_str(*cfg, k_ncls);
	*booster_name = json_path_str(*cfg, k_gbm);
	if (!obj || !ncls || !*booster_name)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': configuration without objective, "
				       "num_class or booster", path);
	errno = 0;
	nc = strtol(ncls, &end, 10);
	if (errno || *end || nc < 0 || nc > MAX_CLASSES)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': bad num_class '%s'", path, ncls);
	x->num_class = (int)nc;
	if (!(x->objective = cstrdup(obj)))
		return oom();
	return 0;
}

/* Feature count, names and types. */
static int read_features(struct xgb_model *x, const char *path)
{
	bst_ulong nf = 0, n = 0;
	const char **names = NULL, **types = NULL;

	if (XGBoosterGetNumFeature(x->one, &nf))
		return xgb_fail(CAIRN_ERR, "cannot read its number of features", path);
	if (nf == 0)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s' has no features", path);
	x->nfeat = (size_t)nf;
	if (XGBoosterGetStrFeatureInfo(x->one, "feature_type", &n, &types))
		return xgb_fail(CAIRN_ERR, "cannot read its feature types", path);
	for (bst_ulong i = 0; i < n; i++)
		if (types[i] && !strcmp(types[i], "c"))
			return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost model '%s': categorical feature %llu "
					       "is not supported", path, (unsigned long long)i);
	if (XGBoosterGetStrFeatureInfo(x->one, "feature_name", &n, &names))
		return xgb_fail(CAIRN_ERR, "cannot read its feature names", path);
	if (n == 0)
		return 0;
	if (n != nf)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': %llu feature names for %llu features",
				       path, (unsigned long long)n, (unsigned long long)nf);
	if (!(x->names = ccalloc(x->nfeat, sizeof(char *))))
		return oom();
	for (size_t i = 0; i < x->nfeat; i++)
		if (!(x->names[i] = cstrdup(names[i] ? names[i] : "")))
			return oom();
	return 0;
}

/* A string attribute of the booster, or NULL. */
static int get_attr(struct xgb_model *x, const char *key, const char *path, const char **out)
{
	int ok = 0;

	*out = NULL;
	if (XGBoosterGetAttr(x->one, key, out, &ok))
		return xgb_fail(CAIRN_ERR, "cannot read an attribute", path);
	if (!ok)
		*out = NULL;
	return 0;
}

/* The scikit-learn estimator's state saved in the "scikit_learn" attribute
 * (XGBModel.save_model) as XGBModel.load_model restores it: _estimator_type
 * must match the class, n_classes_, objective, booster, missing, and a legacy
 * label encoder's classes. Absent: the estimator's defaults. */
static int read_sklearn(struct xgb_model *x, const char *path, const char **sk_booster, double *missing,
			json_t **metap)
{
	const char *text, *s;
	json_t *meta = NULL, *v;
	int rc;

	*sk_booster = NULL;
	*missing = NAN;
	if ((rc = get_attr(x, "scikit_learn", path, &text)))
		return rc;
	if (!text) {
		x->sk_objective = cstrdup("binary:logistic");   /* XGBClassifier()'s default */
		return x->sk_objective ? 0 : oom();
	}
	if ((rc = parse_json(text, strlen(text), "the scikit_learn attribute", path, &meta)))
		goto out;
	*metap = meta;
	if ((s = json_string_value(json_object_get(meta, "_estimator_type"))) &&
	    x->def->estimator_type && strcmp(s, x->def->estimator_type)) {
		rc = cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': model_class %s, but the file holds a %.40s",
				     path, x->def->name, s);
		goto out;
	}
	s = json_string_value(json_object_get(meta, "objective"));
	if (!(x->sk_objective = cstrdup(s ? s : "binary:logistic"))) {
		rc = oom();
		goto out;
	}
	v = json_object_get(meta, "n_classes_");
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= MAX_CLASSES)
		x->n_classes = (int)json_integer_value(v);
	*sk_booster = json_string_value(json_object_get(meta, "booster"));
	v = json_object_get(meta, "missing");
	if (json_is_number(v)) {
		*missing = json_number_value(v);
	} else if (json_is_string(v) && strcmp(json_string_value(v), "NaN")) {
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost model '%s': missing value '%.40s' is not supported",
				     path, json_string_value(v));
		goto out;
	}
	v = json_object_get(json_object_get(meta, "_le"), "classes_");
	if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (!n || !(x->le_classes = ccalloc(n, sizeof(double)))) {
			rc = n ? oom() : cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': empty label encoder", path);
			goto out;
		}
		x->le_n = n;
		for (size_t i = 0; i < n; i++) {
			json_t *c = json_array_get(v, i);
			if (!json_is_integer(c)) {
				rc = cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost model '%s': a label encoder with "
						     "non-integer classes is not supported", path);
				goto out;
			}
			x->le_classes[i] = (double)json_integer_value(c);
		}
	}
	rc = 0;
out:
	return rc;
}

/* The trees sklearn's predict uses: XGBModel._get_iteration_range() -
 * (0, best_iteration + 1) when the booster has that attribute, all for
 * gblinear. The Booster class always predicts with every tree. */
static int iteration_end(struct xgb_model *x, const char *sk_booster, const char *path, long *end)
{
	const char *best;
	char *e;
	long v;
	int rc;

	*end = 0;
	if (!x->def->sklearn || (sk_booster && !strcmp(sk_booster, "gblinear")) || x->linear)
		return 0;
	if ((rc = get_attr(x, "best_iteration", path, &best)) || !best)
		return rc;
	errno = 0;
	v = strtol(best, &e, 10);
	if (errno || e == best || *e || v < 0 || v >= INT32_MAX)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': bad best_iteration '%s'", path, best);
	*end = v + 1;
	return 0;
}

/* ---------- raw prediction ---------- */

/* libxgboost's prediction of type 0 (values) or 1 (margins): *res is in
 * thread-local memory until this thread's next call into libxgboost. */
static int raw_predict(struct xgb_model *x, BoosterHandle h, DMatrixHandle proxy, const float *rows, size_t nrows,
		       int type, const float **res, size_t *width, bool *matrix)
{
	char ai[AI_LEN];
	bst_ulong const *shape = NULL;
	bst_ulong dim = 0;
	int rc = 0;

	snprintf(ai, sizeof(ai), "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], \"typestr\": \"" F4
		 "\", \"version\": 3}", (uintptr_t)rows, nrows, x->nfeat);
	if (x->linear) {
		DMatrixHandle dm = NULL;

		pthread_mutex_lock(&x->lock);
		if (XGDMatrixCreateFromDense(ai, x->dense_cfg, &dm) ||
		    XGBoosterPredictFromDMatrix(h, dm, x->cfg[type], &shape, &dim, res))
			rc = -1;
		if (dm)
			XGDMatrixFree(dm);
		pthread_mutex_unlock(&x->lock);
	} else if (XGBoosterPredictFromDense(h, ai, x->cfg[type], proxy, &shape, &dim, res)) {
		rc = -1;
	}
	if (rc) {
		char msg[512];

		last_error(msg, sizeof(msg));
		return cairn_error_set(CAIRN_ERR, "xgboost prediction failed: %s", msg);
	}
	if (dim < 1 || dim > 2 || shape[0] != nrows || (dim == 2 && shape[1] == 0))
		return cairn_error_set(CAIRN_ERR, "xgboost prediction: unexpected output shape");
	*matrix = dim == 2;
	*width = dim == 2 ? (size_t)shape[1] : 1;
	return 0;
}

/* ---------- from raw values to MLflow's answer ---------- */

static bool is_proba_objective(const char *obj)
{
	return !strcmp(obj, "binary:logistic") || !strcmp(obj, "multi:softprob") || !strcmp(obj, "reg:logistic");
}

/* np.argmax over a float32 row: the first maximum, or the first NaN. */
static size_t argmax(const float *v, size_t n)
{
	size_t best = 0;

	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			return i;
		if (v[i] > v[best])
			best = i;
	}
	return best;
}

/* numpy's float32 -> int32 astype on x86: out of range and NaN give INT32_MIN. */
static double as_int32(float f)
{
	if (!(f > -2147483649.0f && f < 2147483648.0f))
		return (double)INT32_MIN;
	return (double)(int32_t)f;
}

/* The label rule of a classifier for a raw value output of that shape
 * (XGBClassifier.predict in xgboost 1.7's sklearn.py). */
static enum label_rule label_rule(const struct xgb_model *x, bool matrix, size_t width)
{
	/* Without n_classes_ in the meta Python would fail on a 2-D output;
	 * cairn takes the booster's num_class (2 when it has none). */
	int ncls = x->n_classes ? x->n_classes : (x->num_class ? x->num_class : 2);

	if (matrix && ncls != 2)
		return LABEL_ARGMAX;
	if (matrix && width != 1)
		return LABEL_MULTI;
	if (!strcmp(x->sk_objective, "multi:softmax"))
		return LABEL_SOFTMAX;
	return LABEL_THRESHOLD;
}

/* Make room for n doubles in ctx->out. */
static int ctx_reserve(struct xgb_ctx *ctx, size_t n)
{
	double *p;

	if (n <= ctx->cap)
		return 0;
	if (n > SIZE_MAX / sizeof(double))
		return cairn_error_set(CAIRN_ETOOBIG, "xgboost prediction too big");
	if (!(p = crealloc(ctx->out, n * sizeof(double))))
		return oom();
	ctx->out = p;
	ctx->cap = n;
	return 0;
}

static int ctx_reserve_tmp(struct xgb_ctx *ctx, size_t n)
{
	float *p;

	if (n <= ctx->tmp_cap)
		return 0;
	if (!(p = crealloc(ctx->tmp, n * sizeof(float))))
		return oom();
	ctx->tmp = p;
	ctx->tmp_cap = n;
	return 0;
}

/* Map label indexes through a legacy label encoder (LabelEncoder.inverse_transform). */
static int le_map(const struct xgb_model *x, double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(v[i] >= 0 && v[i] < (double)x->le_n))
			return cairn_error_set(CAIRN_ERR, "xgboost prediction: label %g has no class", v[i]);
		v[i] = x->le_classes[(size_t)v[i]];
	}
	return 0;
}

/* Turn the raw values res (nrows x rw) into method's output in dst (room for
 * nrows * max(rw, 2)); sh gets its shape. ctx: scratch for softmax. */
static int finish(const struct xgb_model *x, struct xgb_ctx *ctx, enum xgb_method method, const float *res,
		  size_t nrows, size_t rw, bool rmatrix, double *dst, struct xgb_shape *sh)
{
	size_t n = nrows * rw;

	sh->matrix = rmatrix;
	sh->width = rw;
	if (method == XGB_PREDICT_MARGIN || (method == XGB_PREDICT && !x->def->classifier)) {
		sh->kind = method == XGB_PREDICT && is_proba_objective(x->objective) ? XGB_KIND_PROBABILITIES
										    : XGB_KIND_VALUES;
		for (size_t i = 0; i < n; i++)
			dst[i] = res[i];
		return 0;
	}
	if (method == XGB_PREDICT) {
		enum label_rule rule = label_rule(x, rmatrix, rw);

		sh->kind = XGB_KIND_LABELS;
		sh->matrix = false;
		sh->width = 1;
		switch (rule) {
		case LABEL_ARGMAX:
			for (size_t r = 0; r < nrows; r++)
				dst[r] = (double)argmax(res + r * rw, rw);
			break;
		case LABEL_MULTI:  /* np.zeros(shape) with ones where p > 0.5: float64 */
			if (x->le_classes)
				return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost: a multi-label model with a "
						       "label encoder is not supported");
			sh->kind = XGB_KIND_VALUES;
			sh->matrix = true;
			sh->width = rw;
			for (size_t i = 0; i < n; i++)
				dst[i] = res[i] > 0.5f ? 1.0 : 0.0;
			return 0;
		case LABEL_SOFTMAX:  /* returned before the label encoder */
			for (size_t r = 0; r < nrows; r++)
				dst[r] = as_int32(res[r]);
			return 0;
		case LABEL_THRESHOLD:
			for (size_t r = 0; r < nrows; r++)
				dst[r] = res[r] > 0.5f ? 1.0 : 0.0;
			break;
		}
		return x->le_classes ? le_map(x, dst, nrows) : 0;
	}
	/* predict_proba */
	sh->kind = XGB_KIND_PROBABILITIES;
	if (!strcmp(x->sk_objective, "multi:softmax")) {
		int rc;

		/* scipy.special.softmax over the float32 margins, per row */
		if (!rmatrix)
			return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost: predict_proba of a multi:softmax "
					       "model without class margins");
		if ((rc = ctx_reserve_tmp(ctx, rw)))
			return rc;
		for (size_t r = 0; r < nrows; r++) {
			const float *m = res + r * rw;
			float mx = m[0], sum = 0;

			for (size_t j = 1; j < rw; j++)
				mx = m[j] > mx ? m[j] : mx;
			for (size_t j = 0; j < rw; j++)
				sum += (ctx->tmp[j] = expf(m[j] - mx));
			for (size_t j = 0; j < rw; j++)
				dst[r * rw + j] = ctx->tmp[j] / sum;
		}
		return 0;
	}
	/* _cls_predict_proba(n_classes_, prediction) */
	if (rmatrix && (rw == (size_t)x->n_classes || (x->n_classes == 2 && rw >= 2))) {
		for (size_t i = 0; i < n; i++)
			dst[i] = res[i];
		return 0;
	}
	if (rmatrix)
		return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost: predict_proba of %zu outputs per row for "
				       "%d classes", rw, x->n_classes);
	sh->matrix = true;
	sh->width = 2;
	for (size_t r = 0; r < nrows; r++) {
		dst[2 * r] = 1.0f - res[r];
		dst[2 * r + 1] = res[r];
	}
	return 0;
}

/* The raw prediction type a method needs. */
static int method_type(const struct xgb_model *x, enum xgb_method method)
{
	if (method == XGB_PREDICT_MARGIN)
		return 1;
	if (method == XGB_PREDICT_PROBA && !strcmp(x->sk_objective, "multi:softmax"))
		return 1;
	return 0;
}

/* One prediction of a row of missing values per booster, type and method:
 * it ends libxgboost's lazy configuration before the model is shared, proves
 * that the model predicts, and fixes each method's output shape. */
static int warm_up(struct xgb_model *x, struct xgb_ctx *ctx, const char *path)
{
	float *row = NULL;
	const float *res;
	size_t w;
	bool mat;
	int rc = 0;

	if (!(row = cmalloc(x->nfeat * sizeof(float))))
		return oom();
	for (size_t i = 0; i < x->nfeat; i++)
		row[i] = NAN;
	for (int type = 0; type < 2 && !rc; type++) {
		rc = raw_predict(x, x->one, ctx->proxy, row, 1, type, &res, &x->raw_width[type], &x->raw_matrix[type]);
		if (!rc && x->many)
			rc = raw_predict(x, x->many, ctx->proxy, row, 1, type, &res, &w, &mat);
	}
	x->has_proba = x->def->classifier;
	for (int m = XGB_PREDICT; m <= XGB_PREDICT_PROBA && !rc; m++) {
		int type = method_type(x, (enum xgb_method)m);

		if (m == XGB_PREDICT_PROBA && !x->has_proba)
			break;
		if (!(rc = raw_predict(x, x->one, ctx->proxy, row, 1, type, &res, &w, &mat)) &&
		    !(rc = ctx_reserve(ctx, w < 2 ? 2 : w)))
			rc = finish(x, ctx, (enum xgb_method)m, res, 1, w, mat, ctx->out, &x->shapes[m]);
	}
	if (rc && rc != CAIRN_ENOMEM) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", cairn_error_msg());   /* not the buffer being written */
		cairn_error_set(rc, "xgboost model '%s': %s", path, msg);
	}
	free(row);
	return rc;
}

static int build_configs(struct xgb_model *x, long iter_end, double missing)
{
	char miss[32];

	if (isnan(missing))
		snprintf(miss, sizeof(miss), "NaN");
	else if (isfinite(missing))
		snprintf(miss, sizeof(miss), "%.9g", (double)(float)missing);
	else
		return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost: missing value %g is not supported", missing);
	for (int t = 0; t < 2; t++)
		snprintf(x->cfg[t], CFG_LEN, "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
			 "\"iteration_end\": %ld, \"strict_shape\": false, \"missing\": %s, \"cache_id\": 0}",
			 t, iter_end, miss);
	snprintf(x->dense_cfg, sizeof(x->dense_cfg), "{\"missing\": %s, \"nthread\": 1}", miss);
	return 0;
}

static void model_destroy(struct xgb_model *x)
{
	if (!x)
		return;
	if (x->one)
		XGBoosterFree(x->one);
	if (x->many)
		XGBoosterFree(x->many);
	if (x->names)
		for (size_t i = 0; i < x->nfeat; i++)
			free(x->names[i]);
	free(x->names);
	free(x->objective);
	free(x->sk_objective);
	free(x->le_classes);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

/* Where the model file is, and its class, from the MLmodel's xgboost flavor. */
static int resolve(const char *model_dir, const struct mlmodel *m, struct buf *path,
		   const struct xgb_class_def **def)
{
	const json_t *flavor = mlmodel_flavor(m, "xgboost");
	const json_t *mc, *data;
	const char *cls = "xgboost.core.Booster";
	struct buf rel = BUF_INIT;
	int rc;

	if (!flavor)
		return cairn_error_set(CAIRN_ENOTFOUND, "model '%s' has no xgboost flavor", model_dir);
	mc = json_object_get(flavor, "model_class");
	if (mc && !json_is_null(mc)) {  /* MLflow < 1.22 wrote none: a Booster */
		if (!json_is_string(mc))
			return cairn_error_set(CAIRN_EINVALID, "model '%s': xgboost model_class must be a string",
					       model_dir);
		cls = json_string_value(mc);
	}
	if (!(*def = class_by_name(cls)))
		return cairn_error_set(CAIRN_EUNSUPPORTED, "model '%s': xgboost model_class '%.200s' is not supported "
				       "(Booster, XGBClassifier, XGBRegressor, XGBRanker, XGBRFClassifier, "
				       "XGBRFRegressor)", model_dir, cls);
	/* MLflow's loader reads "data" (mlflow/xgboost/__init__.py _load_model) */
	data = json_object_get(flavor, "data");
	if (!json_is_string(data))
		return cairn_error_set(CAIRN_EINVALID, "model '%s': the xgboost flavor names no data file", model_dir);
	if ((rc = path_clean_rel(json_string_value(data), json_string_length(data), false, &rel))) {
		if (rc != CAIRN_ENOMEM)
			cairn_error_set(rc, "model '%s': xgboost data '%.200s' is not a path inside the model directory",
					model_dir, json_string_value(data));
		goto out;
	}
	buf_printf(path, "%s/%s", model_dir, rel.ptr);
	rc = buf_error(path);
out:
	buf_release(&rel);
	return rc;
}

/* xgboost's loader tells JSON from UBJSON by the two first bytes ('{' then
 * '"', or a letter): a JSON document with white space there is passed on
 * without it. */
static int json_for_xgboost(const char **data, size_t *n, struct buf *norm)
{
	size_t i = 0, j;

	while (i < *n && (*data)[i] != '{')
		i++;
	for (j = i + 1; j < *n && is_ws((*data)[j]); j++)
		;
	if (i == 0 && j == 1)
		return 0;
	buf_putc(norm, '{');
	buf_put(norm, *data + j, *n - j);
	if (buf_error(norm))
		return buf_error(norm);
	*data = norm->ptr;
	*n = norm->len;
	return 0;
}

/* The model of these bytes, of class def; name names it in messages. */
static int model_from_bytes(const char *data, size_t n, const struct xgb_class_def *def, const char *name,
			    const struct xgb_opts *opts, struct xgb_model **out)
{
	struct buf norm = BUF_INIT;
	struct xgb_model *x = NULL;
	struct xgb_ctx *ctx = NULL;
	json_t *cfg = NULL, *meta = NULL;
	const char *gbm = NULL, *sk_booster = NULL;
	int nthread = opts && opts->nthread > 1 ? opts->nthread : 1;
	enum doc_format fmt;
	double missing = NAN;
	long iter_end = 0;
	char why[512];
	int rc;

	*out = NULL;
	if (n == 0)
		return cairn_error_set(CAIRN_EINVALID, "xgboost model '%s': the file is empty", name);
	why[0] = 0;
	if ((rc = check_bytes((const unsigned char *)data, n, &fmt, why, sizeof(why)))) {
		if (rc != CAIRN_ENOMEM)
			cairn_error_set(rc, "xgboost model '%s': %s", name, why);
		return rc;
	}
	if (fmt == DOC_JSON && (rc = json_for_xgboost(&data, &n, &norm)))
		return rc;
	if (!(x = ccalloc(1, sizeof(*x)))) {
		rc = oom();
		goto out;
	}
	atomic_init(&x->refs, 1);
	pthread_mutex_init(&x->lock, NULL);
	x->def = def;
	x->batch_rows = opts && opts->batch_rows ? opts->batch_rows : XGB_BATCH_ROWS;
	if ((rc = booster_from(data, n, 1, name, &x->one)))
		goto out;
	if (fmt == DOC_LEGACY && (rc = check_loaded(x->one, why, sizeof(why)))) {
		if (rc != CAIRN_ENOMEM)
			cairn_error_set(rc, "xgboost model '%s': %s", name, why);
		goto out;
	}
	if ((nthread > 1 && (rc = booster_from(data, n, nthread, name, &x->many))))
		goto out;
	buf_release(&norm);
	if ((rc = read_features(x, name)) || (rc = read_config(x, name, &gbm, &cfg)))
		goto out;
	x->linear = !strcmp(gbm, "gblinear");
	if (def->sklearn) {
		if ((rc = read_sklearn(x, name, &sk_booster, &missing, &meta)))
			goto out;
	} else if (!(x->sk_objective = cstrdup(x->objective))) {
		rc = oom();
		goto out;
	}
	if ((rc = iteration_end(x, sk_booster, name, &iter_end)) || (rc = build_configs(x, iter_end, missing)) ||
	    (rc = xgb_ctx_new(&ctx)) || (rc = warm_up(x, ctx, name)))
		goto out;
	*out = x;
	x = NULL;
out:
	xgb_ctx_free(ctx);
	json_decref(cfg);
	json_decref(meta);
	model_destroy(x);
	buf_release(&norm);
	return rc;
}

int xgb_model_load_opts(const char *model_dir, const struct mlmodel *m, const struct xgb_opts *opts,
			struct xgb_model **out)
{
	struct buf path = BUF_INIT, bytes = BUF_INIT;
	struct mlmodel *own = NULL;
	const struct xgb_class_def *def = &classes[0];
	struct stat st;
	int rc;

	*out = NULL;
	if (!m && stat(model_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((rc = mlmodel_load(model_dir, &own)))
			return rc;
		m = own;
	}
	if (m) {
		if ((rc = resolve(model_dir, m, &path, &def)))
			goto out;
	} else if ((rc = buf_puts(&path, model_dir))) {
		goto out;
	}
	if (stat(path.ptr, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "xgboost model file '%s' is a directory", path.ptr);
		goto out;
	}
	if ((rc = fs_read_file(path.ptr, XGB_MAX_MODEL_FILE, &bytes))) {
		if (rc == CAIRN_ENOTFOUND)
			cairn_error_set(rc, "xgboost model file '%s' does not exist", path.ptr);
		goto out;
	}
	rc = model_from_bytes(bytes.ptr, bytes.len, def, path.ptr, opts, out);
out:
	buf_release(&bytes);
	buf_release(&path);
	mlmodel_free(own);
	return rc;
}

int xgb__load_buffer(const void *data, size_t n, const char *model_class, const struct xgb_opts *opts,
		     struct xgb_model **out)
{
	const struct xgb_class_def *def = class_by_name(model_class ? model_class : classes[0].name);

	*out = NULL;
	if (!def)
		return cairn_error_set(CAIRN_EUNSUPPORTED, "xgboost model_class '%s' is not supported", model_class);
	return model_from_bytes(data, n, def, "(buffer)", opts, out);
}

int xgb_model_load(const char *model_dir, const struct mlmodel *m, struct xgb_model **out)
{
	return xgb_model_load_opts(model_dir, m, NULL, out);
}

struct xgb_model *xgb_model_ref(struct xgb_model *x)
{
	atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
	return x;
}

void xgb_model_free(struct xgb_model *x)
{
	if (x && atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) == 1)
		model_destroy(x);
}

size_t xgb_model_num_features(const struct xgb_model *x)
{
	return x->nfeat;
}

const char *const *xgb_model_feature_names(const struct xgb_model *x)
{
	return (const char *const *)x->names;
}

enum xgb_class xgb_model_class(const struct xgb_model *x)
{
	return x->def->cls;
}

const char *xgb_model_class_name(const struct xgb_model *x)
{
	return x->def->name;
}

const char *xgb_model_objective(const struct xgb_model *x)
{
	return x->objective;
}

int xgb_model_num_class(const struct xgb_model *x)
{
	return x->num_class;
}

static int no_proba(const struct xgb_model *x)
{
	return cairn_error_set(CAIRN_EUNSUPPORTED, "an xgboost %s has no predict_proba", x->def->name);
}

int xgb_model_shape(const struct xgb_model *x, enum xgb_method method, struct xgb_shape *out)
{
	if ((unsigned)method > XGB_PREDICT_PROBA)
		return cairn_error_set(CAIRN_EINVALID, "unknown prediction method %d", (int)method);
	if (method == XGB_PREDICT_PROBA && !x->has_proba)
		return no_proba(x);
	*out = x->shapes[method];
	return 0;
}

const char *xgb_method_name(enum xgb_method method)
{
	switch (method) {
	case XGB_PREDICT: return "predict";
	case XGB_PREDICT_MARGIN: return "predict_margin";
	case XGB_PREDICT_PROBA: return "predict_proba";
	}
	return "?";
}

/* ---------- contexts and prediction ---------- */

int xgb_ctx_new(struct xgb_ctx **out)
{
	struct xgb_ctx *ctx;

	*out = NULL;
	if (!(ctx = ccalloc(1, sizeof(*ctx))))
		return oom();
	if (XGProxyDMatrixCreate(&ctx->proxy)) {
		char msg[512];

		last_error(msg, sizeof(msg));
		free(ctx);
		return cairn_error_set(CAIRN_ERR, "xgboost: cannot create a proxy DMatrix: %s", msg);
	}
	*out = ctx;
	return 0;
}

void xgb_ctx_free(struct xgb_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->proxy)
		XGDMatrixFree(ctx->proxy);
	free(ctx->out);
	free(ctx->tmp);
	free(ctx);
}

int xgb_predict(struct xgb_model *x, struct xgb_ctx *ctx, const float *rows, size_t nrows, size_t ncols,
		enum xgb_method method, struct xgb_output *out)
{
	BoosterHandle h;
	const float *res;
	size_t rw, need;
	bool rmatrix;
	int type, rc;

	CAIRN_ASSERT(x && ctx && out && (rows || !nrows));
	memset(out, 0, sizeof(*out));
	if ((unsigned)method > XGB_PREDICT_PROBA)
		return cairn_error_set(CAIRN_EINVALID, "unknown prediction method %d", (int)method);
	if (method == XGB_PREDICT_PROBA && !x->has_proba)
		return no_proba(x);
	if (ncols != x->nfeat)
		return cairn_error_set(CAIRN_EINVALID, "the xgboost model takes %zu features per row, not %zu",
				       x->nfeat, ncols);
	type = method_type(x, method);
	rw = x->raw_width[type];
	if (nrows > SIZE_MAX / ncols || nrows > SIZE_MAX / sizeof(double) / (rw < 2 ? 2 : rw))
		return cairn_error_set(CAIRN_ETOOBIG, "xgboost prediction of %zu rows is too big", nrows);
	out->shape = x->shapes[method];
	if (nrows == 0)
		return 0;
	need = nrows * (rw < 2 ? 2 : rw);
	if ((rc = ctx_reserve(ctx, need)))
		return rc;
	h = x->many && nrows >= x->batch_rows ? x->many : x->one;
	if ((rc = raw_predict(x, h, ctx->proxy, rows, nrows, type, &res, &rw, &rmatrix)))
		return rc;
	if (rw != x->raw_width[type] || rmatrix != x->raw_matrix[type])
		return cairn_error_set(CAIRN_ERR, "xgboost prediction: output shape changed");
	if ((rc = finish(x, ctx, method, res, nrows, rw, rmatrix, ctx->out, &out->shape)))
		return rc;
	out->nrows = nrows;
	out->data = ctx->out;
	return 0;
}
