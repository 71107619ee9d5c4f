/* Unit tests for serve/decode_fast.c: the streaming fast path declines or decodes exactly as the jansson tree decoder does. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "serve/decode.h"
#include "serve/decode_int.h"

static void fini(void) { fault_disarm(); }

TestSuite(serve_decode_fast, .fini = fini);

#define J "application/json"

struct model {
	struct mlmodel *m;
	struct serve_input in;
};

static void model_open(struct model *md, const char *inputs, const char *params, char *const *names, size_t n)
{
	json_t *in = inputs ? json_loads(inputs, 0, NULL) : NULL, *p = params ? json_loads(params, 0, NULL) : NULL;

	md->m = NULL;
	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.json", &md->m), 0);
	cr_assert(!inputs || in, "bad test JSON %s", inputs);
	if (inputs || params)
		cr_assert_eq(mlmodel_set_signature(md->m, in, NULL, p), 0, "%s", cairn_error_msg());
	json_decref(in);
	json_decref(p);
	cr_assert_eq(serve_input_from_signature(md->m, names, n, &md->in), 0, "%s", cairn_error_msg());
}

static void model_close(struct model *md)
{
	serve_input_release(&md->in);
	mlmodel_free(md->m);
}

/* ---- the comparison ---- */

struct tally {
	size_t fast;       /* bodies the fast path decoded */
	size_t declined;
};

/* The fast path on body must decline, or give the tree decoder's frame bit
 * for bit (and meta, for OIP). */
static void same(const struct serve_input *in, bool oip, const char *body, size_t len, struct tally *t)
{
	struct serve_frame f = SERVE_FRAME_INIT, g = SERVE_FRAME_INIT;
	json_t *fm = NULL, *gm = NULL;
	int rc, rc2;

	rc = oip ? serve__fast_oip(in, body, len, &f, &fm) : serve__fast_mlflow(in, body, len, &f);
	cr_assert(rc == 0 || rc == SERVE_FAST_DECLINED, "%.*s: fast rc %d %s", (int)len, body, rc, cairn_error_msg());
	if (rc == SERVE_FAST_DECLINED) {
		cr_assert_null(f.x);
		cr_assert_null(fm);
		t->declined++;
		return;
	}
	t->fast++;
	rc2 = oip ? serve__tree_oip(in, body, len, &g, &gm) : serve__tree_mlflow(in, J, body, len, &g);
	cr_assert_eq(rc2, 0, "%.*s: the fast path decodes it, the tree refuses it: %d %s", (int)len, body, rc2,
		     cairn_error_msg());
	cr_assert_eq(f.nrows, g.nrows, "%.*s: %zu rows, tree %zu", (int)len, body, f.nrows, g.nrows);
	cr_assert_eq(f.ncols, g.ncols);
	cr_assert_eq(f.format, g.format, "%.*s: format %d, tree %d", (int)len, body, f.format, g.format);
	cr_assert_null(f.error_code);
	cr_assert_eq(f.params == NULL, g.params == NULL);
	cr_assert(!f.params || json_equal(f.params, g.params));
	for (size_t i = 0; i < f.nrows * f.ncols; i++)
		cr_assert_eq(memcmp(&f.x[i], &g.x[i], sizeof(float)), 0, "%.*s: cell %zu is %.9g, tree %.9g", (int)len, body,
			     i, f.x[i], g.x[i]);
	cr_assert(!oip || json_equal(fm, gm), "%.*s: meta differs", (int)len, body);
	json_decref(fm);
	json_decref(gm);
	serve_frame_release(&f);
	serve_frame_release(&g);
}

/* ---- numbers ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* A random JSON number token: digits, fractions and exponents of every length around the fast path's bounds. */
static void number_token(struct buf *b)
{
	unsigned nint = below(4) ? 1 + below(8) : 1 + below(24), nfrac = below(3) ? below(20) : below(30);

	if (below(2))
		buf_putc(b, '-');
	if (below(5) == 0) {
		buf_putc(b, '0');
	} else {
		buf_putc(b, (char)('1' + below(9)));
		for (unsigned i = 1; i < nint; i++)
			buf_putc(b, (char)('0' + below(10)));
	}
	if (nfrac) {
		buf_putc(b, '.');
		for (unsigned i = 0; i < nfrac; i++)
			buf_putc(b, (char)('0' + (below(4) ? below(10) : 0)));
	}
	if (below(3) == 0) {
		static const int exps[] = { 0, 1, 5, 15, 19, 20, 21, 22, 23, 30, 37, 38, 39, 45, 290, 307, 308, 309, 320, 330 };
		int e = exps[below(sizeof(exps) / sizeof(exps[0]))] + (int)below(3) - 1;

		buf_putc(b, below(2) ? 'e' : 'E');
		if (below(2))
			buf_putc(b, below(2) ? '-' : '+');
		else if (below(2))
			e = -e, buf_putc(b, '-');
		buf_printf(b, "%d", e < 0 ? -e : e);
	}
}

Test(serve_decode_fast, numbers_read_as_strtod_reads_them)
{
	static const char *const ok[] = {
		"0", "1", "0.5", "2.1434", "-3.9803", "0.12447988986968994", "9007199254740993", "1e22", "1e23",
		"123456789012345678e-5", "1.7976931348623157e308", "2.2250738585072014e-308", "4.9406564584124654e-300",
		"0.1", "0.30000000000000004", "9007199254740992.5", "1234567890123456789", "12345678901234567890123.5",
		"1.00000000000000011102230246251565404236316680908203125", "0.000001", "7e-10", "-0.0", "0e9999",
	};
	static const char *const bad[] = { "01", "1.", ".5", "+1", "-", "1e", "1e+", "NaN", "Infinity", "1x", " 1", "1 ", "--1",
					   "1e400", "-1e400", "5e-324", "1e-310", "0x10" };
	size_t accepted = 0, n = 0;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double d;

		if (!serve__json_double(ok[i], strlen(ok[i]), &d)) {
			/* integers beyond 15 digits are declined (jansson's json_int_t path) */
			cr_assert(!strchr(ok[i], '.') && !strchr(ok[i], 'e') && strlen(ok[i]) > 15, "'%s' declined", ok[i]);
			continue;
		}
		cr_assert_eq(memcmp(&d, &(double){ strtod(ok[i], NULL) }, sizeof(d)), 0, "'%s': %.17g, strtod %.17g", ok[i], d,
			     strtod(ok[i], NULL));
	}
	{
		double d;

		/* an integer token is jansson's integer: -0 is 0 */
		cr_assert(serve__json_double("-0", 2, &d) && d == 0 && !signbit(d));
		cr_assert(serve__json_double("-0.0", 4, &d) && d == 0 && signbit(d));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d;

		cr_assert(!serve__json_double(bad[i], strlen(bad[i]), &d), "'%s' accepted", bad[i]);
	}
	for (int i = 0; i < 400000; i++) {
		struct buf b = BUF_INIT;
		double d, want;

		number_token(&b);
		cr_assert(!b.err);
		n++;
		if (serve__json_double(b.ptr, b.len, &d)) {
			bool integer = !strpbrk(b.ptr, ".eE");

			want = integer ? (double)strtoll(b.ptr, NULL, 10) : strtod(b.ptr, NULL);
			accepted++;
			cr_assert_eq(memcmp(&d, &want, sizeof(d)), 0, "'%s': %.17g (%a), strtod %.17g (%a)", b.ptr, d, d, want, want);
			cr_assert(!isinf(d) && (d == 0 || fabs(d) >= 0x1p-1022), "'%s' gave %g", b.ptr, d);
		}
		buf_release(&b);
	}
	cr_assert_gt(accepted, n / 2, "only %zu of %zu tokens taken", accepted, n);
}

/* ---- the parity bodies ---- */

static void parity_input(json_t *schemas, const char *name, struct model *md)
{
	json_t *s = json_object_get(schemas, name), *in = json_object_get(s, "inputs"), *p = json_object_get(s, "params");
	json_t *feat = json_object_get(s, "features");
	char *names[64];
	size_t nf = json_array_size(feat);

	md->m = NULL;
	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.json", &md->m), 0);
	if (!json_is_null(in) || !json_is_null(p))
		cr_assert_eq(mlmodel_set_signature(md->m, json_is_null(in) ? NULL : in, NULL, json_is_null(p) ? NULL : p), 0,
			     "schema %s: %s", name, cairn_error_msg());
	for (size_t i = 0; i < nf && i < 64; i++)
		names[i] = (char *)json_string_value(json_array_get(feat, i));
	cr_assert_eq(serve_input_from_signature(md->m, nf ? names : NULL, nf, &md->in), 0, "schema %s: %s", name,
		     cairn_error_msg());
}

Test(serve_decode_fast, every_parity_body_under_every_schema)
{
	json_error_t err;
	json_t *doc = json_load_file("tests/serve/mlflow_parity.json", 0, &err), *schemas, *c;
	struct tally t = { 0, 0 };
	const char *name;
	json_t *v;
	size_t i;

	cr_assert_not_null(doc, "tests/serve/mlflow_parity.json: %s", err.text);
	schemas = json_object_get(doc, "schemas");
	/* each body against every schema, not only its own: more pairs where the fast path must decline */
	json_object_foreach(schemas, name, v) {
		struct model md;

		parity_input(schemas, name, &md);
		json_array_foreach(json_object_get(doc, "cases"), i, c) {
			const char *body = json_string_value(json_object_get(c, "body"));

			same(&md.in, false, body, strlen(body), &t);
			same(&md.in, true, body, strlen(body), &t);
		}
		model_close(&md);
	}
	fprintf(stderr, "parity bodies x schemas: %zu decoded by the fast path, %zu declined\n", t.fast, t.declined);
	cr_assert_gt(t.fast, 50);
	json_decref(doc);
}

/* ---- generated bodies ---- */

/* One value: mostly a number, sometimes what the fast path must leave to the tree. */
static void value(struct buf *b)
{
	static const char *const odd[] = {
		"null", "true", "false", "\"1.5\"", "\"x\"", "NaN", "Infinity", "-Infinity", "[1]", "{}", "{\"a\":1}",
		"12345678901234567890", "123456789012345678", "9007199254740993", "1e400", "-1e400", "5e-324", "1e-323",
		"-0", "-0.0", "01", "1.", "2.5e-310", "1E2", "0.1e1", "\"\\u0031\"", "[]",
	};

	if (below(12) == 0)
		buf_puts(b, odd[below(sizeof(odd) / sizeof(odd[0]))]);
	else if (below(3) == 0)
		buf_printf(b, "%d", (int)below(2000) - 1000);
	else if (below(2))
		buf_printf(b, "%.*g", 1 + (int)below(17), ((double)(int64_t)rnd() / 0x1p63) * pow(10, (int)below(12) - 6));
	else
		number_token(b);
}

static void sp(struct buf *b)
{
	static const char *const spaces[] = { "", "", "", " ", "\n", " \t", "\r\n  " };

	buf_puts(b, spaces[below(sizeof(spaces) / sizeof(spaces[0]))]);
}

/* The request's column names: the model's (shuffled, some dropped, an extra or a duplicate added) or made up. */
static size_t colnames(const struct serve_input *in, const char **out, size_t cap)
{
	static const char *const made[] = { "a", "b", "f", "i", "l", "t", "x", "f0", "f1", "f2", "zz", "extra", "0", "" };
	size_t n = 0;

	if (in->names && below(6)) {
		for (size_t c = 0; c < in->ncols && n < cap; c++)
			if (below(10))
				out[n++] = in->names[c];
		for (size_t i = n; i > 1; i--) {
			size_t j = below((unsigned)i);
			const char *tmp = out[i - 1];

			out[i - 1] = out[j];
			out[j] = tmp;
		}
		if (below(4) == 0 && n < cap)
			out[n++] = "extra";
		if (below(10) == 0 && n && n < cap)
			out[n++] = out[0];
	} else {
		size_t want = in->ncols + below(3) - (below(2) ? 1 : 0);

		for (size_t c = 0; c < want && n < cap; c++)
			out[n++] = made[below(sizeof(made) / sizeof(made[0]))];
	}
	return n;
}

static void row(struct buf *b, size_t w)
{
	buf_putc(b, '[');
	for (size_t j = 0; j < w; j++) {
		if (j)
			buf_putc(b, ',');
		sp(b);
		value(b);
	}
	sp(b);
	buf_putc(b, ']');
}

/* A random body in one of the fast path's formats (bit 0 of *oip set for OIP), near its edges. */
static void body(const struct serve_input *in, struct buf *b, bool *oip)
{
	const char *cols[16];
	size_t ncol = colnames(in, cols, 16), nrows = 1 + below(4), w = below(5) ? ncol : ncol + 1;
	unsigned fmt = below(5);

	*oip = fmt == 4;
	if (w == 0)
		w = in->ncols;
	sp(b);
	buf_putc(b, '{');
	sp(b);
	if (below(15) == 0)
		buf_puts(b, "\"params\": {}, ");
	switch (fmt) {
	case 0: {
		bool data_first = below(8) == 0, with_cols = below(8) != 0;

		buf_puts(b, "\"dataframe_split\":");
		sp(b);
		buf_putc(b, '{');
		if (with_cols && !data_first) {
			buf_puts(b, "\"columns\":[");
			for (size_t j = 0; j < ncol; j++)
				buf_printf(b, j ? ", \"%s\"" : "\"%s\"", cols[j]);
			buf_puts(b, "],");
		}
		if (below(6) == 0)
			buf_printf(b, "\"index\": [%s],", nrows > 1 && below(2) ? "0, 1" : "0");
		sp(b);
		buf_puts(b, "\"data\":[");
		for (size_t r = 0; r < nrows; r++) {
			if (r)
				buf_putc(b, ',');
			row(b, with_cols ? (below(10) ? ncol : w) : (below(3) ? in->ncols : w));
		}
		buf_putc(b, ']');
		if (with_cols && data_first) {
			buf_puts(b, ",\"columns\":[");
			for (size_t j = 0; j < ncol; j++)
				buf_printf(b, j ? ", \"%s\"" : "\"%s\"", cols[j]);
			buf_putc(b, ']');
		}
		buf_putc(b, '}');
		break;
	}
	case 1:
		buf_puts(b, "\"dataframe_records\": [");
		for (size_t r = 0; r < nrows; r++) {
			buf_puts(b, r ? ",{" : "{");
			for (size_t j = 0, k = 0; j < ncol; j++) {
				if (below(12) == 0)
					continue;   /* a record without the key */
				buf_printf(b, k++ ? ", \"%s\": " : "\"%s\": ", cols[j]);
				value(b);
			}
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
		break;
	case 2:
	case 3:
		buf_puts(b, fmt == 2 ? "\"instances\":" : "\"inputs\":");
		sp(b);
		buf_putc(b, '[');
		for (size_t r = 0; r < nrows; r++) {
			if (r)
				buf_putc(b, ',');
			row(b, below(4) ? in->ncols : w);
		}
		buf_putc(b, ']');
		break;
	default: {
		static const char *const dts[] = { "FP32", "FP64", "FP32", "FP64", "INT64", "FP16", "BOOL" };
		size_t rows_said = below(8) ? nrows : nrows + 1, wide = below(8) ? in->ncols : w;

		if (below(3))
			buf_printf(b, "\"id\": \"%s\", ", below(4) ? "req-1" : "");
		buf_printf(b, "\"inputs\": [{\"name\": \"%s\", ", below(4) ? "input-0" : cols[0] ? cols[0] : "a");
		buf_printf(b, "\"shape\": [%zu, %zu], \"datatype\": \"%s\", \"data\": ", rows_said, wide,
			   dts[below(sizeof(dts) / sizeof(dts[0]))]);
		if (below(2)) {
			buf_putc(b, '[');
			for (size_t r = 0; r < nrows; r++) {
				if (r)
					buf_putc(b, ',');
				row(b, below(6) ? wide : w);
			}
			buf_putc(b, ']');
		} else {
			row(b, nrows * wide);
		}
		buf_puts(b, below(10) ? "}]" : "}], \"outputs\": [{\"name\": \"predict\"}]");
		break;
	}
	}
	sp(b);
	buf_putc(b, '}');
	sp(b);
	if (below(40) == 0)
		buf_puts(b, "x");
}

Test(serve_decode_fast, generated_bodies_decode_as_the_tree_does)
{
	static const char *const sigs[] = {
		"[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\"}]",
		"[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\",\"required\":false}]",
		"[{\"type\":\"float\",\"name\":\"f\"},{\"type\":\"integer\",\"name\":\"i\"}]",
		"[{\"type\":\"float\",\"name\":\"f\"},{\"type\":\"double\",\"name\":\"x\",\"required\":false}]",
		"[{\"type\":\"double\",\"name\":\"a\"}]",
		"[{\"type\":\"boolean\",\"name\":\"t\"},{\"type\":\"double\",\"name\":\"a\"}]",
		"[{\"type\":\"double\"},{\"type\":\"long\"}]",
		"[{\"type\":\"float\"},{\"type\":\"double\"}]",
		"[{\"type\":\"double\"},{\"type\":\"float\"}]",
		"[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,2]}}]",
		NULL, NULL, NULL,
	};
	static char *names[] = { "f0", "f1", "f2" };
	enum { NSIG = sizeof(sigs) / sizeof(sigs[0]) };
	struct model md[NSIG];
	struct tally t = { 0, 0 };

	for (size_t i = 0; i < NSIG; i++) {
		bool named = i == NSIG - 3 || i == NSIG - 1;

		model_open(&md[i], sigs[i], NULL, named ? names : NULL, named ? (i == NSIG - 1 ? 1 : 3) : (i == NSIG - 2 ? 2 : 0));
	}
	for (int k = 0; k < 60000; k++) {
		const struct serve_input *in = &md[below(NSIG)].in;
		struct buf b = BUF_INIT;
		bool oip;

		body(in, &b, &oip);
		cr_assert(!b.err);
		same(in, oip, b.ptr, b.len, &t);
		buf_release(&b);
	}
	fprintf(stderr, "generated bodies: %zu decoded by the fast path, %zu declined\n", t.fast, t.declined);
	cr_assert_gt(t.fast, 5000, "the fast path took only %zu bodies", t.fast);
	for (size_t i = 0; i < NSIG; i++)
		model_close(&md[i]);
}

/* ---- the hot shapes do take the fast path ---- */

Test(serve_decode_fast, the_hot_shapes_are_taken)
{
	static const char *const mlflow[] = {
		"{\"dataframe_split\":{\"columns\":[\"f0\",\"f1\",\"f2\"],\"data\":[[1.5,2,-3],[4,5e-1,6.25]]}}",
		"{\"dataframe_split\": {\"columns\": [\"f2\", \"f0\", \"f1\"], \"index\": [0, 1], \"data\": [[1, 2, 3], [4, 5, 6]]}}",
		"{\"dataframe_split\":{\"data\":[[1,2,3]]}}",
		"{\"dataframe_records\":[{\"f0\":1,\"f1\":2,\"f2\":3},{\"f2\":3,\"f1\":2,\"f0\":1,\"other\":9}]}",
		"{\"instances\":[[1,2,3],[4,5,6]]}",
		"{\"inputs\":[[0.1,0.2,0.3]]}",
	};
	static const char *const oip[] = {
		"{\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,3],\"datatype\":\"FP32\",\"data\":[[1,2,3],[4,5,6]]}]}",
		"{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP64\",\"shape\":[1,3],\"data\":[1,2,3]}]}",
	};
	static char *names[] = { "f0", "f1", "f2" };
	struct model md;

	model_open(&md, NULL, NULL, names, 3);
	for (size_t i = 0; i < sizeof(mlflow) / sizeof(mlflow[0]); i++) {
		struct serve_frame f = SERVE_FRAME_INIT;
		struct tally t = { 0, 0 };

		cr_assert_eq(serve__fast_mlflow(&md.in, mlflow[i], strlen(mlflow[i]), &f), 0, "declined: %s", mlflow[i]);
		serve_frame_release(&f);
		same(&md.in, false, mlflow[i], strlen(mlflow[i]), &t);
	}
	for (size_t i = 0; i < sizeof(oip) / sizeof(oip[0]); i++) {
		struct serve_frame f = SERVE_FRAME_INIT;
		struct tally t = { 0, 0 };
		json_t *meta = NULL;

		cr_assert_eq(serve__fast_oip(&md.in, oip[i], strlen(oip[i]), &f, &meta), 0, "declined: %s", oip[i]);
		cr_assert_not_null(meta);
		json_decref(meta);
		serve_frame_release(&f);
		same(&md.in, true, oip[i], strlen(oip[i]), &t);
	}
	model_close(&md);
}

/* Allocation failures in the fast path end in CAIRN_ENOMEM, never a leak or a half frame. */
Test(serve_decode_fast, allocation_failures)
{
	static char *names[] = { "f0", "f1", "f2" };
	const char *b = "{\"dataframe_records\":[{\"f0\":1,\"f1\":2,\"f2\":3}]}";
	const char *o = "{\"id\":\"r\",\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}";
	struct model md;

	model_open(&md, NULL, NULL, names, 3);
	for (uint64_t nth = 1; nth < 8; nth++) {
		struct serve_frame f = SERVE_FRAME_INIT, g = SERVE_FRAME_INIT;
		json_t *meta = NULL;
		int rc, rc2;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = serve__fast_mlflow(&md.in, b, strlen(b), &f);
		fault_disarm();
		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc2 = serve__fast_oip(&md.in, o, strlen(o), &g, &meta);
		fault_disarm();
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "%d", rc);
		cr_assert(rc2 == 0 || rc2 == CAIRN_ENOMEM, "%d", rc2);
		cr_assert(rc == 0 || !f.x);
		cr_assert(rc2 == 0 || (!g.x && !meta));
		json_decref(meta);
		serve_frame_release(&f);
		serve_frame_release(&g);
	}
	model_close(&md);
}
