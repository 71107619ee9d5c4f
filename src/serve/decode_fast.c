/* decode_fast.c - the streaming decoder of the hot numeric request shapes: body bytes straight into the float32 matrix, no JSON tree.
 *
 * Shapes it takes (anything else, and any doubt, is SERVE_FAST_DECLINED and
 * goes to the tree decoder in decode.c, which decides semantics and errors):
 *   - {"dataframe_split": {"columns": [names], "index": [...], "data": [[n, ...], ...]}}
 *     ("columns" and "index" optional, "columns" before "data");
 *   - {"dataframe_records": [{"name": n, ...}, ...]} for a model with column names;
 *   - {"instances" | "inputs": [[n, ...], ...]} for a model without signature
 *     or with an unnamed float signature;
 *   - OIP {"id": "...", "inputs": [{"name", "datatype": "FP32" | "FP64",
 *     "shape": [rows, ncols], "data": flat or nested}]} ("data" last).
 * Every value is a JSON number; strings are printable ASCII without escapes;
 * no duplicate keys; models with a tensor signature, params, or boolean or
 * float16 columns are declined. A cell is what the tree decoder computes for
 * the same token: the number read as strtod() reads it (integers exactly, up
 * to 15 digits), then the column's cast (decode.c's put_pandas, conv_numpy,
 * oip_value), which for the columns taken here is (float)double, or for an
 * integer column in the pandas formats int64 truncation and serve__int_to.
 *
 * Numbers: Clinger's fast path (a mantissa of at most 2^53 and a power of ten
 * up to 10^22 are exact doubles, so one multiplication or division rounds
 * correctly); else, with at most 19 significant digits and a decimal exponent
 * in [-21, 19], an exact 128-bit product or quotient rounded to nearest-even;
 * else strtod() on a copy of the token. Results that the tree decoder would
 * treat specially (infinities, subnormals: decode.c's NaN/Infinity stand-ins
 * are subnormal) are declined.
 */
#include "serve/decode_int.h"
#include "core/error.h"
#include "core/fault.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DECLINE SERVE_FAST_DECLINED
#define SMALL_COLS 256        /* per-column scratch on the stack up to this many columns */
#define FIRST_ROWS_MAX 4096   /* rows allocated before the first growth, at most */

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory decoding the request");
}

/* ---- the scanner ---- */

struct scan {
	const char *p, *end;
};

static bool space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static void ws(struct scan *s)
{
	while (s->p < s->end && space(*s->p))
		s->p++;
}

/* Whitespace, then c: consumed (true) or not there (false). */
static bool lit(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* Whitespace, then is c next? (not consumed) */
static bool next_is(struct scan *s, char c)
{
	ws(s);
	return s->p < s->end && *s->p == c;
}

/* A string of printable ASCII without escapes: its bytes in *k, *n. */
static bool str(struct scan *s, const char **k, size_t *n)
{
	const char *q;

	if (!lit(s, '"'))
		return false;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e || *q == '\\')
			return false;
	if (q >= s->end)
		return false;
	*k = s->p;
	*n = (size_t)(q - s->p);
	s->p = q + 1;
	return true;
}

/* Whitespace, then does a list of lists start here? (nothing consumed but the whitespace) */
static bool list_of_lists(struct scan *s)
{
	const char *q;

	ws(s);
	if (s->p >= s->end || *s->p != '[')
		return false;
	for (q = s->p + 1; q < s->end && space(*q); q++)
		;
	return q < s->end && *q == '[';
}

/* "key": consumed, the key in *k, *n. */
static bool key(struct scan *s, const char **k, size_t *n)
{
	return str(s, k, n) && lit(s, ':');
}

static bool is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && !memcmp(k, want, n);
}

/* ---- numbers ---- */

__extension__ typedef unsigned __int128 u128;

static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static uint64_t pow10_u64(int k)   /* k in [0, 19] */
{
	uint64_t p = 1;

	while (k--)
		p *= 10;
	return p;
}

static int clz128(u128 v)
{
	uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;

	return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll(lo);
}

/* q * 2^e2 (plus less than 2^e2 more when sticky) rounded to the nearest
 * double, ties to even; q has more than 53 bits when sticky is set. */
static double round_u128(u128 q, bool sticky, int e2)
{
	int top = 127 - clz128(q), sh;
	uint64_t mant;
	u128 rem, half;

	if (top <= 52)
		return ldexp((double)(uint64_t)q, e2);
	sh = top - 52;
	mant = (uint64_t)(q >> sh);
	rem = q & (((u128)1 << sh) - 1);
	half = (u128)1 << (sh - 1);
	if (rem > half || (rem == half && (sticky || (mant & 1))))
		mant++;
	return ldexp((double)mant, e2 + sh);
}

/* m * 10^k exactly rounded, for m < 10^19 and k in [-21, 19]. */
static double exact_decimal(uint64_t m, int k)
{
	u128 d, n;
	int s;

	if (k >= 0)
		return round_u128((u128)m * pow10_u64(k), false, 0);
	d = -k > 19 ? (u128)pow10_u64(19) * pow10_u64(-k - 19) : pow10_u64(-k);
	s = clz128(m);
	n = (u128)m << s;   /* at least 2^127 over at most 10^21 < 2^70: a quotient of 57 bits or more */
	return round_u128(n / d, n % d != 0, -s);
}

static bool strtod_token(const char *a, const char *b, double *d)
{
	char tmp[128], *e;
	size_t n = (size_t)(b - a);

	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, a, n);
	tmp[n] = '\0';
	*d = strtod(tmp, &e);
	return e == tmp + n;   /* another locale's decimal point stops it early: declined */
}

enum { NUM_INT, NUM_REAL };

struct num {
	int kind;     /* NUM_INT: a token without fraction or exponent (a JSON integer to jansson) */
	int64_t i;    /* NUM_INT: its value */
	double d;     /* the value as a double (NUM_INT: i, exact) */
};

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One JSON number token at the cursor, as jansson reads it. */
static bool number(struct scan *s, struct num *v)
{
	const char *p, *start, *end = s->end;
	uint64_t m = 0;
	int nsig = 0, dexp = 0;   /* the value is m * 10^dexp, over its first 19 significant digits */
	bool neg = false, real = false, more = false;
	double d;

	ws(s);
	p = start = s->p;
	if (p < end && *p == '-')
		neg = true, p++;
	if (p >= end)
		return false;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		for (; p < end && digit(*p); p++) {
			if (nsig < 19)
				m = m * 10 + (uint64_t)(*p - '0'), nsig++;
			else
				more = true, dexp++;
		}
	} else {
		return false;
	}
	if (p < end && *p == '.') {
		const char *f = ++p;

		real = true;
		for (; p < end && digit(*p); p++) {
			if (!m && *p == '0')
				dexp--;
			else if (nsig < 19)
				m = m * 10 + (uint64_t)(*p - '0'), nsig++, dexp--;
			else
				more = true;
		}
		if (p == f)
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		const char *f;
		int e = 0, sign = 1;

		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			sign = *p == '-' ? -1 : 1, p++;
		for (f = p; p < end && digit(*p); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (p == f)
			return false;
		dexp += sign * e;
	}
	s->p = p;
	if (!real) {
		/* jansson's json_int_t; 15 digits keep (float)i == (float)(double)i */
		if (more || nsig > 15)
			return false;
		v->kind = NUM_INT;
		v->i = neg ? -(int64_t)m : (int64_t)m;
		v->d = (double)v->i;
		return true;
	}
	v->kind = NUM_REAL;
	if (!m) {
		d = 0;
	} else if (!more && m <= (UINT64_C(1) << 53) && dexp >= -22 && dexp <= 22) {
		d = dexp < 0 ? (double)m / pow10_exact[-dexp] : (double)m * pow10_exact[dexp];
	} else if (!more && dexp >= -21 && dexp <= 19) {
		d = exact_decimal(m, dexp);
	} else {
		if (!strtod_token(start, p, &d))
			return false;
		neg = false;   /* the token's sign is in d */
	}
	if (neg)
		d = -d;
	if (isinf(d) || (d != 0 && fabs(d) < DBL_MIN))
		return false;
	v->d = d;
	return true;
}

bool serve__json_double(const char *s, size_t n, double *d)
{
	struct scan sc = { s, s + n };
	struct num v;

	if (!n || (s[0] != '-' && !digit(s[0])) || !number(&sc, &v) || sc.p != sc.end)
		return false;
	*d = v.d;
	return true;
}

/* FLT_EVAL_METHOD 0: double arithmetic is done in double (Clinger's fast path needs it). */
_Static_assert(FLT_EVAL_METHOD == 0, "the fast path's number conversion needs FLT_EVAL_METHOD 0");

/* ---- the matrix ---- */

/* How a model column takes a number. */
enum mode {
	M_FLOAT,   /* (float)double: no signature, float32, float64 */
	M_INT,     /* pandas' astype to an integer dtype: int64 truncation, then serve__int_to */
};

struct fast {
	const struct serve_input *in;
	size_t ncols;
	float *x;
	size_t cap;                     /* rows x has room for */
	size_t nrows;
	unsigned char mode_small[SMALL_COLS];
	unsigned char *mode;            /* per model column: enum mode */
	bool numpy;                     /* instances/inputs: every column M_FLOAT */
};

static void fast_release(struct fast *f)
{
	free(f->x);
	f->x = NULL;
	if (f->mode != f->mode_small)
		free(f->mode);
	f->mode = NULL;
}

/* The model's columns for the pandas formats (numpy: instances/inputs rows), or DECLINE. */
static int fast_init(struct fast *f, const struct serve_input *in, size_t len, bool numpy)
{
	memset(f, 0, sizeof(*f));
	f->in = in;
	f->ncols = in->ncols;
	f->numpy = numpy;
	if (!in->ncols || in->tensor || in->params || in->nparams)
		return DECLINE;
	if (in->ncols <= SMALL_COLS)
		f->mode = f->mode_small;
	else if (!(f->mode = cmalloc(in->ncols)))
		return oom();
	for (size_t c = 0; c < in->ncols; c++) {
		enum serve_dtype t = in->dtypes ? in->dtypes[c] : SERVE_DT_ANY;

		if (t == SERVE_DT_ANY || t == SERVE_DT_FLOAT32 || t == SERVE_DT_FLOAT64)
			f->mode[c] = M_FLOAT;
		else if (!numpy && t >= SERVE_DT_INT8 && t <= SERVE_DT_UINT64)
			f->mode[c] = M_INT;
		else
			return DECLINE;
	}
	/* every number takes two bytes or more ("1,"): an upper bound for the row formats */
	f->cap = len / (2 * f->ncols) + 1;
	if (f->cap > FIRST_ROWS_MAX)
		f->cap = FIRST_ROWS_MAX;
	if (f->cap > SERVE_MAX_VALUES / f->ncols)
		f->cap = SERVE_MAX_VALUES / f->ncols;
	if (!(f->x = cmalloc(f->cap * f->ncols * sizeof(*f->x))))
		return oom();
	return 0;
}

/* Room for row r; DECLINE past SERVE_MAX_VALUES (the tree decoder says so). */
static int fast_row(struct fast *f, size_t r)
{
	size_t cap;
	float *nx;

	if (r < f->cap)
		return 0;
	if (r >= SERVE_MAX_VALUES / f->ncols)
		return DECLINE;
	cap = f->cap * 2;
	if (cap > SERVE_MAX_VALUES / f->ncols)
		cap = SERVE_MAX_VALUES / f->ncols;
	if (!(nx = crealloc(f->x, cap * f->ncols * sizeof(*nx))))
		return oom();
	f->x = nx;
	f->cap = cap;
	return 0;
}

/* Number v into model column c of row r, as the tree decoder casts it. */
static bool put(struct fast *f, size_t r, size_t c, const struct num *v)
{
	float *cell = &f->x[r * f->ncols + c];

	if (f->mode[c] == M_FLOAT) {
		*cell = (float)v->d;
		return true;
	}
	if (v->kind == NUM_INT) {
		*cell = serve__int_to(f->in->dtypes[c], v->i);
		return true;
	}
	if (!(fabs(v->d) < 0x1p63))
		return false;
	*cell = serve__int_to(f->in->dtypes[c], (int64_t)v->d);
	return true;
}

/* Hand the matrix to the frame. */
static int fast_finish(struct fast *f, struct serve_frame *out, enum serve_format fmt)
{
	*out = (struct serve_frame)SERVE_FRAME_INIT;
	out->nrows = f->nrows;
	out->ncols = f->ncols;
	out->x = f->x;
	out->format = fmt;
	f->x = NULL;
	fast_release(f);
	return 0;
}

/* [[n, ...], ...]: rows of w numbers (w 0: the first row's width, then
 * *wout); request column j is model column map[j] (-1: none), or j when map
 * is NULL (then w must be the model's width). At least one row. */
static int rows(struct fast *f, struct scan *s, const long *map, size_t w, size_t *wout)
{
	struct num v;
	size_t r = 0;
	int rc;

	if (!lit(s, '['))
		return DECLINE;
	do {
		size_t j = 0;

		if ((rc = fast_row(f, r)))
			return rc;
		if (!lit(s, '['))
			return DECLINE;
		do {
			long c = map ? (j < w ? map[j] : -1) : (long)j;

			if (!number(s, &v) || (map && j >= w) || (!map && j >= f->ncols))
				return DECLINE;
			if (c >= 0 && !put(f, r, (size_t)c, &v))
				return DECLINE;
			j++;
		} while (lit(s, ','));
		if (!lit(s, ']'))
			return DECLINE;
		if (map ? j != w : j != f->ncols)
			return DECLINE;
		r++;
	} while (lit(s, ','));
	if (!lit(s, ']'))
		return DECLINE;
	f->nrows = r;
	if (wout)
		*wout = map ? w : f->ncols;
	return 0;
}

/* A list of plain strings or numbers (dataframe_split's index): its length. */
static bool index_list(struct scan *s, size_t *n)
{
	const char *k;
	size_t kn;
	struct num v;

	*n = 0;
	if (!lit(s, '['))
		return false;
	if (lit(s, ']'))
		return true;
	do {
		if (next_is(s, '"') ? !str(s, &k, &kn) : !number(s, &v))
			return false;
		(*n)++;
	} while (lit(s, ','));
	return lit(s, ']');
}

/* The model columns the request has all the required ones, and no integer column lacks a cell. */
static bool columns_complete(const struct fast *f, const unsigned char *present)
{
	for (size_t c = 0; c < f->ncols; c++)
		if (!present[c] && (!f->in->required || f->in->required[c] || f->mode[c] == M_INT))
			return false;
	return true;
}

/* NaN in the model columns the request does not have (optional ones). */
static void fill_absent(struct fast *f, const unsigned char *present)
{
	for (size_t c = 0; c < f->ncols; c++)
		if (!present[c])
			for (size_t r = 0; r < f->nrows; r++)
				f->x[r * f->ncols + c] = NAN;
}

static int split(struct fast *f, struct scan *s)
{
	const struct serve_input *in = f->in;
	const char *k;
	size_t kn, ncolumns = 0, nindex = 0;
	bool have_cols = false, have_index = false, have_data = false, positional;
	long map_small[SMALL_COLS], *map = map_small;
	unsigned char present_small[SMALL_COLS], *present = present_small;
	size_t cap_map = SMALL_COLS;
	int rc = DECLINE;

	if (in->ncols > SMALL_COLS && !(present = ccalloc(in->ncols, 1)))
		return oom();
	if (in->ncols <= SMALL_COLS)
		memset(present, 0, in->ncols);
	if (!lit(s, '{'))
		goto out;
	do {
		if (!key(s, &k, &kn))
			goto out;
		if (is(k, kn, "columns") && !have_cols && !have_data) {
			have_cols = true;
			if (!lit(s, '['))
				goto out;
			if (lit(s, ']'))
				goto out;   /* no columns: the tree decoder */
			do {
				const char *name;
				size_t nn;
				long c;

				if (!str(s, &name, &nn))
					goto out;
				if (ncolumns == cap_map) {
					long *nm;

					cap_map *= 2;
					nm = map == map_small ? cmalloc(cap_map * sizeof(*nm)) : crealloc(map, cap_map * sizeof(*nm));
					if (!nm) {
						rc = oom();
						goto out;
					}
					if (map == map_small)
						memcpy(nm, map_small, sizeof(map_small));
					map = nm;
				}
				c = in->names ? serve_input_column(in, name, nn) : -1;
				map[ncolumns++] = c;
			} while (lit(s, ','));
			if (!lit(s, ']'))
				goto out;
		} else if (is(k, kn, "index") && !have_index) {
			have_index = true;
			if (!index_list(s, &nindex))
				goto out;
		} else if (is(k, kn, "data") && !have_data) {
			have_data = true;
			positional = !in->names || (!have_cols && !in->dtypes);
			if (positional) {
				/* request column j is model column j: the same width */
				if (have_cols && ncolumns != f->ncols)
					goto out;
				if ((rc = rows(f, s, NULL, 0, NULL)))
					goto out;
				rc = DECLINE;
				memset(present, 1, f->ncols);
			} else {
				if (!have_cols)
					goto out;   /* named model, unnamed frame: missing inputs */
				for (size_t j = 0; j < ncolumns; j++) {
					if (map[j] < 0)
						continue;
					if (present[map[j]])
						goto out;   /* a column twice */
					present[map[j]] = 1;
				}
				if (!columns_complete(f, present))
					goto out;
				if ((rc = rows(f, s, map, ncolumns, NULL)))
					goto out;
				rc = DECLINE;
			}
		} else {
			goto out;
		}
	} while (lit(s, ','));
	if (!lit(s, '}') || !have_data || (have_index && nindex != f->nrows))
		goto out;
	fill_absent(f, present);
	rc = 0;
out:
	if (map != map_small)
		free(map);
	if (present != present_small)
		free(present);
	return rc;
}

static int records(struct fast *f, struct scan *s)
{
	const struct serve_input *in = f->in;
	size_t small[SMALL_COLS], *seen = small;   /* per model column: 1 + the last row that had it */
	unsigned char present_small[SMALL_COLS], *present = present_small;
	size_t r = 0;
	bool int_hole = false;
	int rc = DECLINE;

	if (!in->names)
		return DECLINE;   /* positional records: columns in the order keys are met */
	if (in->ncols > SMALL_COLS) {
		seen = ccalloc(in->ncols, sizeof(*seen));
		present = ccalloc(in->ncols, 1);
		if (!seen || !present) {
			rc = oom();
			goto out;
		}
	} else {
		memset(seen, 0, in->ncols * sizeof(*seen));
		memset(present, 0, in->ncols);
	}
	if (!lit(s, '['))
		goto out;
	do {
		float *row;
		size_t have = 0;

		if ((rc = fast_row(f, r)))
			goto out;
		rc = DECLINE;
		row = &f->x[r * f->ncols];
		for (size_t c = 0; c < f->ncols; c++)
			row[c] = NAN;   /* a record without the key: NaN in a float column */
		if (!lit(s, '{'))
			goto out;
		if (!lit(s, '}')) {
			do {
				const char *k;
				size_t kn;
				struct num v;
				long c;

				if (!key(s, &k, &kn) || !number(s, &v))
					goto out;
				c = serve_input_column(in, k, kn);
				if (c < 0)
					continue;
				if (seen[c] == r + 1)
					goto out;   /* a key twice */
				seen[c] = r + 1;
				present[c] = 1;
				have++;
				if (!put(f, r, (size_t)c, &v))
					goto out;
			} while (lit(s, ','));
			if (!lit(s, '}'))
				goto out;
		}
		if (have != f->ncols)
			for (size_t c = 0; c < f->ncols; c++)
				int_hole |= f->mode[c] == M_INT && seen[c] != r + 1;   /* pandas' error */
		r++;
	} while (lit(s, ','));
	if (!lit(s, ']'))
		goto out;
	f->nrows = r;
	if (int_hole || !columns_complete(f, present))
		goto out;
	rc = 0;
out:
	if (seen != small)
		free(seen);
	if (present != present_small)
		free(present);
	return rc;
}

/* instances/inputs as a list of rows: numpy.array of them, for a model
 * without signature (rows of its width) or with an unnamed one (the first
 * column's dtype, safely cast to each). */
static int tf_rows(struct fast *f, struct scan *s)
{
	const struct serve_input *in = f->in;

	if (in->dtypes) {
		if (in->names)
			return DECLINE;   /* a list given to named columns */
		for (size_t c = 0; c < f->ncols; c++)
			if (!serve__safe_cast(in->dtypes[0], in->dtypes[c], false))
				return DECLINE;
	}
	return rows(f, s, NULL, 0, NULL);
}

int serve__fast_mlflow(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out)
{
	struct scan s = { body, body + len };
	struct fast f;
	enum serve_format fmt;
	const char *k;
	size_t kn;
	int rc;

	if (!lit(&s, '{') || !key(&s, &k, &kn))
		return DECLINE;
	if (is(k, kn, "dataframe_split"))
		fmt = SERVE_FMT_DATAFRAME_SPLIT;
	else if (is(k, kn, "dataframe_records"))
		fmt = SERVE_FMT_DATAFRAME_RECORDS;
	else if (is(k, kn, "instances"))
		fmt = SERVE_FMT_INSTANCES;
	else if (is(k, kn, "inputs"))
		fmt = SERVE_FMT_INPUTS;
	else
		return DECLINE;
	if ((rc = fast_init(&f, in, len, fmt == SERVE_FMT_INSTANCES || fmt == SERVE_FMT_INPUTS)))
		goto out;
	switch (fmt) {
	case SERVE_FMT_DATAFRAME_SPLIT:
		rc = split(&f, &s);
		break;
	case SERVE_FMT_DATAFRAME_RECORDS:
		rc = records(&f, &s);
		break;
	default:
		rc = tf_rows(&f, &s);
		break;
	}
	if (rc)
		goto out;
	if (!lit(&s, '}') || (ws(&s), s.p != s.end) || !f.nrows) {
		rc = DECLINE;
		goto out;
	}
	return fast_finish(&f, out, fmt);
out:
	fast_release(&f);
	return rc;
}

/* ---- the Open Inference Protocol ---- */

int serve__fast_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		    json_t **meta)
{
	struct scan s = { body, body + len };
	const char *k, *id = NULL, *name = NULL, *dt = NULL;
	size_t kn, idn = 0, namen = 0, dtn = 0;
	int64_t shape[2] = { 0, 0 };
	bool have_shape = false, have_inputs = false, have_data = false;
	enum serve_dtype t = SERVE_DT_ANY;
	struct fast f;
	json_t *m = NULL;
	int rc;

	if ((rc = fast_init(&f, in, len, true)))
		goto out;
	rc = DECLINE;
	if (!lit(&s, '{'))
		goto out;
	do {
		if (!key(&s, &k, &kn))
			goto out;
		if (is(k, kn, "id") && !id) {
			if (!str(&s, &id, &idn))
				goto out;
		} else if (is(k, kn, "inputs") && !have_inputs) {
			have_inputs = true;
			if (!lit(&s, '[') || !lit(&s, '{'))
				goto out;
			do {
				if (!key(&s, &k, &kn))
					goto out;
				if (have_data) {
					goto out;   /* "data" last */
				} else if (is(k, kn, "name") && !name) {
					if (!str(&s, &name, &namen))
						goto out;
				} else if (is(k, kn, "datatype") && !dt) {
					if (!str(&s, &dt, &dtn))
						goto out;
					if (is(dt, dtn, "FP32"))
						t = SERVE_DT_FLOAT32;
					else if (is(dt, dtn, "FP64"))
						t = SERVE_DT_FLOAT64;
					else
						goto out;
				} else if (is(k, kn, "shape") && !have_shape) {
					struct num d0, d1;

					have_shape = true;
					if (!lit(&s, '[') || !number(&s, &d0) || !lit(&s, ',') || !number(&s, &d1) || !lit(&s, ']'))
						goto out;
					if (d0.kind != NUM_INT || d1.kind != NUM_INT || d0.i < 1 || d1.i != (int64_t)f.ncols ||
					    (uint64_t)d0.i > SERVE_MAX_VALUES / f.ncols)
						goto out;
					shape[0] = d0.i;
					shape[1] = d1.i;
				} else if (is(k, kn, "data") && name && dt && have_shape) {
					size_t w;

					have_data = true;
					/* one tensor [rows, ncols], not a column of a named model */
					if (in->names && serve_input_column(in, name, namen) >= 0)
						goto out;
					if (in->dtypes)
						for (size_t c = 0; c < f.ncols; c++)
							if (!serve__safe_cast(t, in->dtypes[c], false))
								goto out;
					if (list_of_lists(&s)) {
						/* nested as the shape */
						if ((rc = rows(&f, &s, NULL, 0, &w)))
							goto out;
						rc = DECLINE;
						if (f.nrows != (size_t)shape[0])
							goto out;
					} else {
						/* flat: rows x ncols numbers */
						size_t n = (size_t)shape[0] * f.ncols, at = 0;
						struct num v;

						if ((rc = fast_row(&f, (size_t)shape[0] - 1)))
							goto out;
						rc = DECLINE;
						if (!lit(&s, '['))
							goto out;
						do {
							if (at >= n || !number(&s, &v))
								goto out;
							f.x[at] = (float)v.d;
							at++;
						} while (lit(&s, ','));
						if (!lit(&s, ']') || at != n)
							goto out;
						f.nrows = (size_t)shape[0];
					}
				} else {
					goto out;
				}
			} while (lit(&s, ','));
			if (!have_data || !lit(&s, '}') || !lit(&s, ']'))
				goto out;
		} else {
			goto out;
		}
	} while (lit(&s, ','));
	if (!have_inputs || !lit(&s, '}') || (ws(&s), s.p != s.end))
		goto out;
	if (meta) {
		if (!(m = json_object()) || (id && json_object_set_new(m, "id", json_stringn(id, idn)))) {
			json_decref(m);
			rc = oom();
			goto out;
		}
		*meta = m;
	}
	return fast_finish(&f, out, SERVE_FMT_OIP);
out:
	fast_release(&f);
	return rc;
}
