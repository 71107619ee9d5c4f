/* Unit tests for stats/stattest and stats/ksdist: parity with scipy 1.10.
 *
 * Expected values come from real scipy/numpy: tests/stats/stattest_expected.json
 * (written by tests/stats/gen_stattest.py; samples are specs expanded here the
 * same way) and the anchor fixtures' drift JSON in
 * ../shared/anchors/monitoring/fixtures/{1k,10k}, recomputed here from their
 * CSVs. Tolerances: KS D 1e-12 absolute, every other number 1e-9 relative,
 * bin edges and counts exact. Tests run from the repository root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"
#include "stats/ksdist.h"
#include "stats/stattest.h"

#define EXPECTED "tests/stats/stattest_expected.json"
#define FIXTURES "../shared/anchors/monitoring/fixtures"
#define REL 1e-9
#define D_ABS 1e-12

/* ------------------------------------------------------------- helpers */

static json_t *load_json(const char *path)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);

	cr_assert(j, "cannot read %s: %s (line %d)", path, e.text, e.line);
	return j;
}

/* a number from the JSON: reals, integers, and "inf", "-inf", "nan" */
static double jnum(const json_t *v)
{
	const char *s;

	if (json_is_number(v))
		return json_number_value(v);
	s = json_string_value(v);
	cr_assert(s, "expected a number in the JSON");
	if (!strcmp(s, "inf"))
		return INFINITY;
	if (!strcmp(s, "-inf"))
		return -INFINITY;
	cr_assert_str_eq(s, "nan");
	return NAN;
}

static double jget(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(v, "no '%s' in the JSON", key);
	return jnum(v);
}

/* The largest deviation seen per kind of number, reported at the end. */
struct maxdev {
	const char *what;
	double dev;
	int checked;
};

static double relerr(double got, double want)
{
	if (got == want || (isnan(got) && isnan(want)))
		return 0;
	if (isinf(got) || isinf(want) || isnan(got) || isnan(want))
		return INFINITY;
	return fabs(got - want) / fmax(fabs(want), 1e-300);
}

/* got == want to rel (absolute below floor: for probabilities near 0) */
static void check_rel(struct maxdev *m, const char *ctx, double got, double want, double rel, double floor_abs)
{
	double r = relerr(got, want);

	m->checked++;
	if (isfinite(r) && fabs(got - want) <= floor_abs)
		r = 0;
	if (r > m->dev)
		m->dev = r;
	cr_expect(r <= rel, "%s: %s = %.17g, scipy %.17g (rel %.3g)", ctx, m->what, got, want, r);
}

static void check_abs(struct maxdev *m, const char *ctx, double got, double want, double tol)
{
	double d = fabs(got - want);

	m->checked++;
	if (d > m->dev)
		m->dev = d;
	cr_expect(d <= tol, "%s: %s = %.17g, scipy %.17g (abs %.3g)", ctx, m->what, got, want, d);
}

static void report(const struct maxdev *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_log_info("%-28s %5d checked, max deviation %.3g", m[i].what, m[i].checked, m[i].dev);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint64_t splitmix(uint64_t seed, uint64_t i)
{
	uint64_t z = seed + (i + 1) * UINT64_C(0x9E3779B97F4A7C15);

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* a sample spec of the generator, expanded and sorted; caller frees */
static double *sample(const json_t *spec, size_t *n)
{
	uint64_t seed = (uint64_t)json_integer_value(json_object_get(spec, "seed"));
	uint64_t range = (uint64_t)json_integer_value(json_object_get(spec, "range"));
	uint64_t terms = (uint64_t)json_integer_value(json_object_get(spec, "terms"));
	double scale = jget(spec, "scale"), shift = jget(spec, "shift");
	size_t len = (size_t)json_integer_value(json_object_get(spec, "n"));
	double *x = malloc(len * sizeof(double) + 1);

	cr_assert(x);
	for (size_t i = 0; i < len; i++) {
		uint64_t s = 0;

		if (range == 0) {   /* an arithmetic sequence */
			x[i] = (double)i * scale + shift;
			continue;
		}
		for (uint64_t t = 0; t < terms; t++)
			s += splitmix(seed, i * terms + t) % range;
		x[i] = (double)s * scale + shift;
	}
	qsort(x, len, sizeof(double), cmp_double);
	*n = len;
	return x;
}

static size_t *counts_of(const json_t *arr, size_t *k)
{
	size_t n = json_array_size(arr), *c = malloc(n * sizeof(size_t) + 1);

	cr_assert(c);
	for (size_t i = 0; i < n; i++)
		c[i] = (size_t)json_integer_value(json_array_get(arr, i));
	*k = n;
	return c;
}

static const char *method_name(enum stattest_ks_method m)
{
	switch (m) {
	case STATTEST_KS_EXACT: return "exact";
	case STATTEST_KS_ASYMP: return "asymp";
	case STATTEST_KS_ASYMP_FALLBACK: return "asymp_fallback";
	}
	return "?";
}

/* ------------------------------------------------- generated expectations */

Test(stats_stattest, ks_and_wasserstein_match_scipy)
{
	json_t *all = load_json(EXPECTED), *cases = json_object_get(all, "ks"), *c;
	struct maxdev m[] = { { "ks D (abs)", 0, 0 }, { "ks p exact", 0, 0 }, { "ks p asymp", 0, 0 },
		{ "ks p kolmogorov", 0, 0 }, { "wasserstein", 0, 0 } };
	size_t i;

	cr_assert(json_array_size(cases) > 30);
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t na, nb;
		double *a = sample(json_object_get(c, "a"), &na), *b = sample(json_object_get(c, "b"), &nb), w;
		struct stattest_ks ks;

		cr_assert_eq(stattest_ks_2samp(a, na, b, nb, &ks), 0, "%s: %s", name, cairn_error_msg());
		cr_expect_str_eq(method_name(ks.method), json_string_value(json_object_get(c, "method")), "%s", name);
		check_abs(&m[0], name, ks.statistic, jget(c, "statistic"), D_ABS);
		check_rel(&m[ks.method == STATTEST_KS_EXACT ? 1 : 2], name, ks.p_value, jget(c, "p_value"), REL, 1e-300);
		check_rel(&m[3], name, ks.p_value_kolmogorov, jget(c, "p_value_kolmogorov"), REL, 1e-300);
		cr_assert_eq(stattest_wasserstein(a, na, b, nb, &w), 0, "%s: %s", name, cairn_error_msg());
		check_rel(&m[4], name, w, jget(c, "wasserstein"), REL, 0);
		free(a);
		free(b);
	}
	report(m, sizeof(m) / sizeof(m[0]));
	json_decref(all);
}

Test(stats_stattest, distributions_match_scipy)
{
	json_t *all = load_json(EXPECTED), *c;
	struct maxdev m[] = { { "kstwo.sf", 0, 0 }, { "special.kolmogorov", 0, 0 }, { "special.smirnov", 0, 0 } };
	size_t i;
	char ctx[96];

	json_array_foreach(json_object_get(all, "kstwo"), i, c) {
		size_t n = (size_t)json_integer_value(json_object_get(c, "n"));
		double x = jget(c, "x"), p;

		snprintf(ctx, sizeof(ctx), "kstwo n=%zu x=%.17g", n, x);
		cr_assert_eq(ksdist_kstwo_sf(n, x, &p), 0, "%s: %s", ctx, cairn_error_msg());
		check_rel(&m[0], ctx, p, jget(c, "sf"), REL, 1e-300);
	}
	json_array_foreach(json_object_get(all, "kolmogorov"), i, c) {
		double x = jget(c, "x");

		snprintf(ctx, sizeof(ctx), "kolmogorov x=%.17g", x);
		check_rel(&m[1], ctx, ksdist_kolmogorov(x), jget(c, "sf"), REL, 1e-300);
	}
	json_array_foreach(json_object_get(all, "smirnov"), i, c) {
		size_t n = (size_t)json_integer_value(json_object_get(c, "n"));
		double x = jget(c, "x");

		snprintf(ctx, sizeof(ctx), "smirnov n=%zu x=%.17g", n, x);
		check_rel(&m[2], ctx, ksdist_smirnov(n, x), jget(c, "sf"), REL, 1e-300);
	}
	report(m, sizeof(m) / sizeof(m[0]));
	json_decref(all);
}

static void check_edges(const char *ctx, const double *got, size_t ngot, const json_t *want)
{
	cr_assert_eq(ngot, json_array_size(want), "%s: %zu edges, numpy has %zu", ctx, ngot, json_array_size(want));
	for (size_t i = 0; i < ngot; i++) {
		double w = jnum(json_array_get(want, i));

		cr_expect(got[i] == w, "%s: edge %zu = %.17g, numpy %.17g", ctx, i, got[i], w);
	}
}

static void check_counts(const char *ctx, const size_t *got, const json_t *want)
{
	for (size_t i = 0; i < json_array_size(want); i++) {
		size_t w = (size_t)json_integer_value(json_array_get(want, i));

		cr_expect_eq(got[i], w, "%s: bin %zu holds %zu, numpy %zu", ctx, i, got[i], w);
	}
}

Test(stats_stattest, sturges_edges_and_counts_are_numpys)
{
	json_t *all = load_json(EXPECTED), *c;
	double edges[STATTEST_STURGES_MAX_EDGES];
	size_t i, ne;
	char ctx[96];

	json_array_foreach(json_object_get(all, "sturges"), i, c) {
		double lo = jget(c, "min"), hi = jget(c, "max");
		size_t n = (size_t)json_integer_value(json_object_get(c, "n"));

		snprintf(ctx, sizeof(ctx), "sturges [%.17g, %.17g] n=%zu", lo, hi, n);
		cr_assert_eq(stattest_sturges_edges(lo, hi, n, edges, STATTEST_STURGES_MAX_EDGES, &ne), 0, "%s: %s", ctx, cairn_error_msg());
		check_edges(ctx, edges, ne, json_object_get(c, "edges"));
	}
	json_array_foreach(json_object_get(all, "histogram"), i, c) {
		json_t *jb = json_object_get(c, "b"), *je = json_object_get(c, "edges");
		size_t na, nb = 0, k = json_array_size(je), cnt[STATTEST_STURGES_MAX_EDGES];
		double *a = sample(json_object_get(c, "a"), &na), *b = json_is_null(jb) ? NULL : sample(jb, &nb);

		snprintf(ctx, sizeof(ctx), "histogram case %zu", i);
		if (b) {
			double lo = fmin(a[0], b[0]), hi = fmax(a[na - 1], b[nb - 1]);

			cr_assert_eq(stattest_sturges_edges(lo, hi, na + nb, edges, STATTEST_STURGES_MAX_EDGES, &ne), 0);
			check_edges(ctx, edges, ne, je);
			cr_assert_eq(stattest_histogram_sorted(b, nb, edges, ne, cnt), 0);
			check_counts(ctx, cnt, json_object_get(c, "b_counts"));
		} else {
			for (size_t e = 0; e < k; e++)
				edges[e] = jnum(json_array_get(je, e));
			ne = k;
		}
		cr_assert_eq(stattest_histogram_sorted(a, na, edges, ne, cnt), 0, "%s: %s", ctx, cairn_error_msg());
		check_counts(ctx, cnt, json_object_get(c, "a_counts"));
		free(a);
		free(b);
	}
	json_decref(all);
}

Test(stats_stattest, count_statistics_match_scipy)
{
	json_t *all = load_json(EXPECTED), *c;
	struct maxdev m[] = { { "psi", 0, 0 }, { "kl", 0, 0 }, { "jensenshannon", 0, 0 },
		{ "chi2 evidently stat", 0, 0 }, { "chi2 evidently p", 0, 0 },
		{ "chi2 homogeneity stat", 0, 0 }, { "chi2 homogeneity p", 0, 0 },
		{ "z", 0, 0 }, { "z p", 0, 0 } };
	size_t i;

	json_array_foreach(json_object_get(all, "counts"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		size_t k, k2, *r = counts_of(json_object_get(c, "ref"), &k), *u = counts_of(json_object_get(c, "cur"), &k2);
		json_t *ev = json_object_get(c, "chi2_evidently"), *ho = json_object_get(c, "chi2_homogeneity");
		struct stattest_chi2 chi;
		double v;

		cr_assert_eq(stattest_psi(r, u, k, &v), 0, "%s: %s", name, cairn_error_msg());
		check_rel(&m[0], name, v, jget(c, "psi"), REL, 0);
		cr_assert_eq(stattest_kl_div(r, u, k, &v), 0, "%s: %s", name, cairn_error_msg());
		check_rel(&m[1], name, v, jget(c, "kl"), REL, 0);
		cr_assert_eq(stattest_jensenshannon(r, u, k, &v), 0, "%s: %s", name, cairn_error_msg());
		check_rel(&m[2], name, v, jget(c, "js"), REL, 0);
		if (ev) {
			cr_assert_eq(stattest_chi2_evidently(r, u, k, &chi), 0, "%s: %s", name, cairn_error_msg());
			check_rel(&m[3], name, chi.statistic, jget(ev, "statistic"), REL, 0);
			check_rel(&m[4], name, chi.p_value, jget(ev, "p_value"), REL, 1e-300);
			cr_expect_eq(chi.dof, (size_t)jget(ev, "dof"), "%s", name);
		} else {
			cr_expect_eq(stattest_chi2_evidently(r, u, k, &chi), CAIRN_EINVALID, "%s", name);
		}
		cr_assert_eq(stattest_chi2_homogeneity(r, u, k, &chi), 0, "%s: %s", name, cairn_error_msg());
		check_rel(&m[5], name, chi.statistic, jget(ho, "statistic"), REL, 0);
		check_rel(&m[6], name, chi.p_value, jget(ho, "p_value"), REL, 1e-300);
		cr_expect_eq(chi.dof, (size_t)jget(ho, "dof"), "%s", name);
		free(r);
		free(u);
	}
	json_array_foreach(json_object_get(all, "z"), i, c) {
		size_t k1 = (size_t)jget(c, "k1"), n1 = (size_t)jget(c, "n1"), k2 = (size_t)jget(c, "k2"), n2 = (size_t)jget(c, "n2");
		double z, p;
		char ctx[96];

		snprintf(ctx, sizeof(ctx), "z %zu/%zu vs %zu/%zu", k1, n1, k2, n2);
		cr_assert_eq(stattest_ztest(k1, n1, k2, n2, &z, &p), 0, "%s: %s", ctx, cairn_error_msg());
		check_rel(&m[7], ctx, z, jget(c, "z"), REL, 0);
		check_rel(&m[8], ctx, p, jget(c, "p_value"), REL, 1e-15);
	}
	report(m, sizeof(m) / sizeof(m[0]));
	json_decref(all);
}

/* ------------------------------------------------------ anchor fixtures */

/* The numeric columns of one CSV: values per column, nulls (empty fields)
 * dropped, as the reference drops them. */
struct table {
	size_t ncols;
	char **names;
	double **vals;
	size_t *n, *cap;
};

static int on_record(void *ctx, const struct ccsv_record *rec)
{
	struct table *t = ctx;

	if (rec->index == 1) {
		t->ncols = rec->nfields;
		t->names = calloc(t->ncols, sizeof(char *));
		t->vals = calloc(t->ncols, sizeof(double *));
		t->n = calloc(t->ncols, sizeof(size_t));
		t->cap = calloc(t->ncols, sizeof(size_t));
		cr_assert(t->names && t->vals && t->n && t->cap);
		for (size_t i = 0; i < t->ncols; i++)
			t->names[i] = strdup(rec->fields[i].p);
		return 0;
	}
	cr_assert_eq(rec->nfields, t->ncols, "record %zu has %zu fields", rec->index, rec->nfields);
	for (size_t i = 0; i < t->ncols; i++) {
		const struct ccsv_field *f = &rec->fields[i];
		char *end;
		double v;

		if (f->n == 0)
			continue;
		errno = 0;
		v = strtod(f->p, &end);
		if (*end || !isfinite(v))
			continue;   /* text (a string column) or +-inf: not a sample value */
		if (t->n[i] == t->cap[i]) {
			t->cap[i] = t->cap[i] ? 2 * t->cap[i] : 1024;
			t->vals[i] = realloc(t->vals[i], t->cap[i] * sizeof(double));
			cr_assert(t->vals[i]);
		}
		t->vals[i][t->n[i]++] = v;
	}
	return 0;
}

static bool read_table(const char *path, struct table *t)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long len;

	memset(t, 0, sizeof(*t));
	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)len + 1);
	cr_assert(data);
	cr_assert_eq(fread(data, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	cr_assert_eq(ccsv_read(data, (size_t)len, NULL, on_record, t), 0, "%s: %s", path, cairn_error_msg());
	free(data);
	for (size_t i = 0; i < t->ncols; i++)
		if (t->n[i])
			qsort(t->vals[i], t->n[i], sizeof(double), cmp_double);
	return true;
}

static void free_table(struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->names[i]);
		free(t->vals[i]);
	}
	free(t->names);
	free(t->vals);
	free(t->n);
	free(t->cap);
}

static size_t column(const struct table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->names[i], name))
			return i;
	cr_assert_fail("no column '%s'", name);
	return 0;
}

static void anchors_unavailable(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true"))
		cr_assert_fail("the monitoring anchors must be present with CI=true: %s", why);
	cr_skip_test("the monitoring anchors are absent (%s)", why);
}

static void check_fixture(const char *size, const char *variant, struct maxdev *m)
{
	char path[256], ctx[160];
	struct table ref, cur;
	json_t *drift, *cols, *col;
	const char *name;

	snprintf(path, sizeof(path), "%s/%s/reference.csv", FIXTURES, size);
	if (!read_table(path, &ref))
		anchors_unavailable(path);
	snprintf(path, sizeof(path), "%s/%s/current_%s.csv", FIXTURES, size, variant);
	cr_assert(read_table(path, &cur), "cannot read %s", path);
	snprintf(path, sizeof(path), "%s/%s/drift_%s.json", FIXTURES, size, variant);
	drift = load_json(path);
	cols = json_object_get(drift, "columns");
	json_object_foreach(cols, name, col) {
		json_t *tests = json_object_get(col, "tests"), *bin = json_object_get(col, "binning");
		json_t *ks = json_object_get(tests, "ks"), *chi = json_object_get(tests, "chisquare");
		json_t *z = json_object_get(tests, "z");
		size_t k, k2, *rc = NULL, *cc = NULL;
		double v;

		snprintf(ctx, sizeof(ctx), "%s/%s %s", size, variant, name);
		if (!bin || json_is_null(bin))
			continue;   /* text column: no test */
		if (ks) {
			size_t ci = column(&ref, name), cj = column(&cur, name), ne;
			const double *a = ref.vals[ci], *b = cur.vals[cj];
			size_t na = ref.n[ci], nb = cur.n[cj];
			struct stattest_ks r;
			double w;

			cr_assert_eq(na, (size_t)jget(col, "n_reference"), "%s", ctx);
			cr_assert_eq(nb, (size_t)jget(col, "n_current"), "%s", ctx);
			cr_assert_eq(stattest_ks_2samp(a, na, b, nb, &r), 0, "%s: %s", ctx, cairn_error_msg());
			check_abs(&m[0], ctx, r.statistic, jget(ks, "statistic"), D_ABS);
			check_rel(&m[1], ctx, r.p_value, jget(ks, "p_value"), REL, 1e-300);
			check_rel(&m[2], ctx, r.p_value_kolmogorov, jget(ks, "p_value_kolmogorov"), REL, 1e-300);
			cr_expect_str_eq(json_string_value(json_object_get(ks, "p_value_method")),
				r.method == STATTEST_KS_EXACT ? "exact" : r.method == STATTEST_KS_ASYMP ? "asymp" : "asymp (exact failed)", "%s", ctx);
			cr_assert_eq(stattest_wasserstein(a, na, b, nb, &w), 0, "%s: %s", ctx, cairn_error_msg());
			check_rel(&m[3], ctx, w, jget(json_object_get(tests, "wasserstein"), "wasserstein"), REL, 0);
			if (!strcmp(json_string_value(json_object_get(bin, "kind")), "sturges")) {
				double edges[STATTEST_STURGES_MAX_EDGES];
				size_t cnt[STATTEST_STURGES_MAX_EDGES];

				cr_assert_eq(stattest_sturges_edges(fmin(a[0], b[0]), fmax(a[na - 1], b[nb - 1]), na + nb,
					edges, STATTEST_STURGES_MAX_EDGES, &ne), 0, "%s: %s", ctx, cairn_error_msg());
				check_edges(ctx, edges, ne, json_object_get(bin, "edges"));
				cr_assert_eq(stattest_histogram_sorted(a, na, edges, ne, cnt), 0);
				check_counts(ctx, cnt, json_object_get(bin, "reference_counts"));
				cr_assert_eq(stattest_histogram_sorted(b, nb, edges, ne, cnt), 0);
				check_counts(ctx, cnt, json_object_get(bin, "current_counts"));
				m[4].checked++;
			}
		}
		rc = counts_of(json_object_get(bin, "reference_counts"), &k);
		cc = counts_of(json_object_get(bin, "current_counts"), &k2);
		cr_assert_eq(k, k2);
		cr_assert_eq(stattest_psi(rc, cc, k, &v), 0, "%s: %s", ctx, cairn_error_msg());
		check_rel(&m[5], ctx, v, jget(json_object_get(tests, "psi"), "score"), REL, 0);
		cr_assert_eq(stattest_jensenshannon(rc, cc, k, &v), 0, "%s: %s", ctx, cairn_error_msg());
		check_rel(&m[6], ctx, v, jget(json_object_get(tests, "jensenshannon"), "score"), REL, 0);
		if (chi) {
			struct stattest_chi2 r;

			cr_assert_eq(stattest_chi2_evidently(rc, cc, k, &r), 0, "%s: %s", ctx, cairn_error_msg());
			check_rel(&m[7], ctx, r.statistic, jget(chi, "statistic"), REL, 0);
			check_rel(&m[8], ctx, r.p_value, jget(chi, "p_value"), REL, 1e-300);
			cr_expect_eq(r.dof, (size_t)jget(chi, "dof"), "%s", ctx);
		}
		if (z) {
			size_t n1 = 0, n2 = 0;
			double zz, p;

			for (size_t i = 0; i < k; i++) {
				n1 += rc[i];
				n2 += cc[i];
			}
			/* hits: values other than the smallest key */
			cr_assert_eq(stattest_ztest(n1 - rc[0], n1, n2 - cc[0], n2, &zz, &p), 0, "%s", ctx);
			check_rel(&m[9], ctx, zz, jget(z, "statistic"), REL, 0);
			check_rel(&m[9], ctx, p, jget(z, "p_value"), REL, 1e-15);
		}
		free(rc);
		free(cc);
	}
	json_decref(drift);
	free_table(&ref);
	free_table(&cur);
}

Test(stats_stattest, anchor_fixtures_match_scipy)
{
	static const char *sizes[] = { "1k", "10k" };
	static const char *variants[] = { "a_nodrift", "b_meanshift", "c_catmix", "d_nulls" };
	struct maxdev m[] = { { "fixture ks D (abs)", 0, 0 }, { "fixture ks p", 0, 0 },
		{ "fixture ks p kolmogorov", 0, 0 }, { "fixture wasserstein", 0, 0 },
		{ "fixture sturges bins exact", 0, 0 }, { "fixture psi", 0, 0 }, { "fixture js", 0, 0 },
		{ "fixture chi2 stat", 0, 0 }, { "fixture chi2 p", 0, 0 }, { "fixture z, z p", 0, 0 } };

	if (access(FIXTURES, R_OK) != 0)
		anchors_unavailable(FIXTURES);
	for (size_t s = 0; s < 2; s++)
		for (size_t v = 0; v < 4; v++)
			check_fixture(sizes[s], variants[v], m);
	cr_expect(m[1].checked >= 100, "only %d KS columns checked", m[1].checked);
	cr_expect(m[4].checked >= 80, "only %d sturges binnings checked", m[4].checked);
	report(m, sizeof(m) / sizeof(m[0]));
}

/* ------------------------------------------------------------ bad input */

Test(stats_stattest, rejects_empty_nan_unsorted_and_mismatched)
{
	double a[] = { 1, 2, 3 }, nan_in[] = { 1, NAN, 3 }, inf_in[] = { 1, 2, INFINITY }, unsorted[] = { 1, 3, 2 };
	double w, edges[STATTEST_STURGES_MAX_EDGES], e2[] = { 0, 1 }, e_bad[] = { 1, 0 };
	size_t rc[] = { 1, 2, 3 }, zero[] = { 0, 0, 0 }, cnt[4], ne;
	struct stattest_ks ks;
	struct stattest_chi2 chi;

	cr_expect_eq(stattest_ks_2samp(a, 0, a, 3, &ks), CAIRN_EINVALID);
	cr_expect(strstr(cairn_error_msg(), "empty"), "%s", cairn_error_msg());
	cr_expect_eq(stattest_ks_2samp(a, 3, nan_in, 3, &ks), CAIRN_EINVALID);
	cr_expect(strstr(cairn_error_msg(), "non-finite"), "%s", cairn_error_msg());
	cr_expect_eq(stattest_ks_2samp(inf_in, 3, a, 3, &ks), CAIRN_EINVALID);
	cr_expect_eq(stattest_ks_2samp(unsorted, 3, a, 3, &ks), CAIRN_EINVALID);
	cr_expect(strstr(cairn_error_msg(), "not sorted"), "%s", cairn_error_msg());
	cr_expect_eq(stattest_wasserstein(a, 3, a, 0, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_wasserstein(a, 3, nan_in, 3, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_sturges_edges(0, 1, 0, edges, STATTEST_STURGES_MAX_EDGES, &ne), CAIRN_EINVALID);
	cr_expect_eq(stattest_sturges_edges(NAN, 1, 5, edges, STATTEST_STURGES_MAX_EDGES, &ne), CAIRN_EINVALID);
	cr_expect_eq(stattest_sturges_edges(2, 1, 5, edges, STATTEST_STURGES_MAX_EDGES, &ne), CAIRN_EINVALID);
	cr_expect_eq(stattest_sturges_edges(-DBL_MAX, DBL_MAX, 5, edges, STATTEST_STURGES_MAX_EDGES, &ne), CAIRN_EINVALID);
	cr_expect_eq(stattest_sturges_edges(0, 1, 1000, edges, 3, &ne), CAIRN_ETOOBIG);
	cr_expect_eq(stattest_histogram_sorted(a, 3, e2, 1, cnt), CAIRN_EINVALID);
	cr_expect_eq(stattest_histogram_sorted(a, 3, e_bad, 2, cnt), CAIRN_EINVALID);
	cr_expect_eq(stattest_histogram_sorted(nan_in, 3, e2, 2, cnt), CAIRN_EINVALID);
	cr_expect_eq(stattest_histogram_sorted(a, 0, e2, 2, cnt), 0, "an empty sample has empty bins");
	cr_expect_eq(cnt[0], 0);
	cr_expect_eq(stattest_psi(rc, rc, 0, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_psi(zero, rc, 3, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_jensenshannon(rc, zero, 3, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_kl_div(rc, zero, 3, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_chi2_evidently(rc, rc, 1, &chi), CAIRN_EINVALID);
	cr_expect_eq(stattest_chi2_homogeneity(zero, rc, 3, &chi), CAIRN_EINVALID);
	cr_expect_eq(stattest_ztest(1, 0, 1, 5, &w, &w), CAIRN_EINVALID);
	cr_expect_eq(stattest_ztest(6, 5, 1, 5, &w, &w), CAIRN_EINVALID);
	cr_expect_eq(ksdist_kstwo_sf(0, 0.5, &w), CAIRN_EINVALID);
	cr_expect_eq(ksdist_kstwo_sf(10, NAN, &w), CAIRN_EINVALID);
	cr_expect(isnan(ksdist_kolmogorov(NAN)));
	cr_expect(isnan(ksdist_smirnov(0, 0.5)));
	cr_expect(isnan(ksdist_smirnov(5, 1.5)));
}

Test(stats_stattest, allocation_failure_is_enomem)
{
	double a[] = { 1, 2, 3, 4 }, b[] = { 2.5, 3.5, 9 }, w;
	size_t rc[] = { 1, 2, 3 };
	struct stattest_ks ks;

	fault_arm(FAULT_ALLOC, 1, FAULT_PERSIST | FAULT_THIS_THREAD);
	cr_expect_eq(stattest_ks_2samp(a, 4, b, 3, &ks), CAIRN_ENOMEM);
	cr_expect_eq(stattest_wasserstein(a, 4, b, 3, &w), CAIRN_ENOMEM);
	cr_expect_eq(stattest_psi(rc, rc, 3, &w), CAIRN_ENOMEM);
	cr_expect_eq(ksdist_kstwo_sf(100, 0.05, &w), CAIRN_ENOMEM);
	fault_disarm();
	cr_expect_eq(stattest_ks_2samp(a, 4, b, 3, &ks), 0);
}

Test(stats_stattest, same_sample_is_no_drift)
{
	double a[] = { -1, 0, 0, 2, 5 }, w;
	struct stattest_ks ks;

	cr_assert_eq(stattest_ks_2samp(a, 5, a, 5, &ks), 0);
	cr_expect_eq(ks.statistic, 0);
	cr_expect_eq(ks.p_value, 1);
	cr_expect_eq(ks.method, STATTEST_KS_EXACT);
	cr_assert_eq(stattest_wasserstein(a, 5, a, 5, &w), 0);
	cr_expect_eq(w, 0);
}
