/* drift.c - per-column drift tests between two tables or profiles, Evidently's default choice, and the verdict.
 *
 * Both sides are profile builders (stats_int.h). A table read for drift keeps
 * every finite numeric value of each column (prof_read_file with keep); a
 * profile brings its sketches. A numeric column is then a sorted sample: the
 * kept values with weight 1, or the sketch's items with their weights. The
 * exact statistics of stattest.h run when both samples are raw values; the
 * weighted forms below run otherwise (and agree with them on weights of 1).
 * Categorical columns are counts per key, from the value tables.
 */
#include "stats/drift.h"
#include "stats/ksdist.h"
#include "stats/stats_int.h"
#include "stats/stattest.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_REFERENCE_ROWS 1000    /* Evidently: reference rows <= 1000 is a "small" sample */
#define PROFILE_MAX_JSON ((size_t)1 << 30)

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- the tests ---- */

enum test {
	T_KS, T_WASSERSTEIN, T_PSI, T_JS, T_KL, T_CHISQUARE, T_CHI2H, T_Z, T_NTESTS
};

static const struct {
	const char *name;
	double threshold;
	bool pvalue;       /* drift when p < threshold (ks: p <= threshold), else when score >= threshold */
	bool numeric;      /* needs numeric values */
} tests[T_NTESTS] = {
	[T_KS] = { "ks", 0.05, true, true },
	[T_WASSERSTEIN] = { "wasserstein", 0.1, false, true },
	[T_PSI] = { "psi", 0.1, false, false },
	[T_JS] = { "jensenshannon", 0.1, false, false },
	[T_KL] = { "kl_div", 0.1, false, false },
	[T_CHISQUARE] = { "chisquare", 0.05, true, false },
	[T_CHI2H] = { "chi2_homogeneity", 0.05, true, false },
	[T_Z] = { "z", 0.05, true, false },
};

const char *drift_test_names(void)
{
	return "ks, wasserstein, psi, jensenshannon, kl_div, chisquare, chi2_homogeneity, z";
}

static int test_by_name(const char *name)
{
	for (int t = 0; t < T_NTESTS; t++)
		if (!strcmp(tests[t].name, name))
			return t;
	return -1;
}

static bool verdict(int t, double value, double threshold)
{
	if (t == T_KS)
		return value <= threshold;
	return tests[t].pvalue ? value < threshold : value >= threshold;
}

/* ---- samples ---- */

/* A sorted numeric sample: n values, weights w (NULL: all 1) adding up to total. */
struct sample {
	double *v;
	uint64_t *w;
	size_t n;
	uint64_t total;
	bool owned;     /* v (and w) are ours to free */
};

static void sample_free(struct sample *s)
{
	if (s->owned)
		free(s->v);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

/* column ci of p as a sample: its kept values (sorted, released from p), or its sketch */
static int sample_of(struct prof *p, size_t ci, struct sample *s)
{
	memset(s, 0, sizeof(*s));
	s->owned = true;
	if (p->keep) {
		int rc = prof_keep_sorted(p, ci, &s->v, &s->n);

		s->total = s->n;
		return rc;
	}
	if (sk_quant_is_exact(&p->col[ci].q)) {
		int rc = sk_quant_sorted(&p->col[ci].q, &s->v, &s->w, &s->n);

		free(s->w);
		s->w = NULL;
		s->total = s->n;
		return rc;
	}
	s->total = p->col[ci].q.n;
	return sk_quant_sorted(&p->col[ci].q, &s->v, &s->w, &s->n);
}

static uint64_t weight(const struct sample *s, size_t i)
{
	return s->w ? s->w[i] : 1;
}

/* largest |F_a - F_b| over the merged values (F(x) = share <= x) */
static double ks_weighted(const struct sample *a, const struct sample *b)
{
	size_t i = 0, j = 0;
	uint64_t ca = 0, cb = 0;
	double d = 0;

	while (i < a->n || j < b->n) {
		double x = j >= b->n || (i < a->n && a->v[i] <= b->v[j]) ? a->v[i] : b->v[j];

		while (i < a->n && a->v[i] == x)
			ca += weight(a, i++);
		while (j < b->n && b->v[j] == x)
			cb += weight(b, j++);
		d = fmax(d, fabs((double)ca / (double)a->total - (double)cb / (double)b->total));
	}
	return d;
}

/* the integral of |F_a - F_b| */
static double wasserstein_weighted(const struct sample *a, const struct sample *b)
{
	size_t i = 0, j = 0;
	uint64_t ca = 0, cb = 0;
	double sum = 0, prev = 0, gap = 0;
	bool first = true;

	while (i < a->n || j < b->n) {
		double x = j >= b->n || (i < a->n && a->v[i] <= b->v[j]) ? a->v[i] : b->v[j];

		if (!first)
			sum += gap * (x - prev);
		first = false;
		while (i < a->n && a->v[i] == x)
			ca += weight(a, i++);
		while (j < b->n && b->v[j] == x)
			cb += weight(b, j++);
		gap = fabs((double)ca / (double)a->total - (double)cb / (double)b->total);
		prev = x;
	}
	return sum;
}

/* counts of s in the bins of edges (numpy semantics: half-open, the last closed) */
static int histogram(const struct sample *s, const double *edges, size_t nedges, size_t *counts)
{
	size_t i = 0;

	if (!s->w)
		return stattest_histogram_sorted(s->v, s->n, edges, nedges, counts);
	memset(counts, 0, (nedges - 1) * sizeof(*counts));
	for (size_t b = 0; b + 1 < nedges; b++) {
		bool last = b + 2 == nedges;

		while (i < s->n && s->v[i] < edges[b])
			i++;
		while (i < s->n && (s->v[i] < edges[b + 1] || (last && s->v[i] == edges[b + 1])))
			counts[b] += s->w[i++];
	}
	return 0;
}

/* distinct values of the union of two raw samples */
static size_t union_distinct(const struct sample *a, const struct sample *b)
{
	size_t i = 0, j = 0, n = 0;

	while (i < a->n || j < b->n) {
		double x = j >= b->n || (i < a->n && a->v[i] <= b->v[j]) ? a->v[i] : b->v[j];

		while (i < a->n && a->v[i] == x)
			i++;
		while (j < b->n && b->v[j] == x)
			j++;
		n++;
	}
	return n;
}

/* ---- categories: keys and counts over both sides ---- */

struct key {
	double num;
	const char *text;
	uint32_t len;
	size_t ref, cur;
};

struct keys {
	struct key *k;
	size_t n, cap;
	bool text;
	bool approximate;   /* a side's table did not hold every value */
};

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->text) {
		size_t n = x->len < y->len ? x->len : y->len;
		int c = memcmp(x->text, y->text, n);

		return c ? c : (x->len > y->len) - (x->len < y->len);
	}
	return (x->num > y->num) - (x->num < y->num);
}

static int keys_push(struct keys *ks, struct key k)
{
	if (ks->n == ks->cap) {
		size_t ncap = ks->cap ? ks->cap * 2 : 64;
		struct key *nk = crealloc(ks->k, ncap * sizeof(*nk));

		if (!nk)
			return oom();
		ks->k = nk;
		ks->cap = ncap;
	}
	ks->k[ks->n++] = k;
	return 0;
}

/* counts by key from a raw sorted sample */
static int keys_from_sample(struct keys *ks, const struct sample *s, bool cur)
{
	for (size_t i = 0; i < s->n;) {
		size_t j = i;
		int rc;

		while (j < s->n && s->v[j] == s->v[i])
			j++;
		if ((rc = keys_push(ks, (struct key){ .num = s->v[i], .ref = cur ? 0 : j - i, .cur = cur ? j - i : 0 })))
			return rc;
		i = j;
	}
	return 0;
}

static int keys_from_table(struct keys *ks, const struct sk_freq *f, bool cur)
{
	if (!f->complete || f->dropped || f->text != ks->text)
		ks->approximate = true;
	if (f->text != ks->text)   /* numbers on one side, texts on the other: those values are not compared */
		return 0;
	{
		const struct sk_entry **v;
		size_t n;
		int rc = sk_freq_sorted(f, &v, &n);

		if (rc)
			return rc;
		for (size_t i = 0; i < n && !rc; i++)   /* text entries stay the table's; numbers are copied by value */
			rc = keys_push(ks, (struct key){ .num = v[i]->num, .text = v[i]->text, .len = v[i]->len,
							 .ref = cur ? 0 : v[i]->count, .cur = cur ? v[i]->count : 0 });
		free(v);
		return rc;
	}
}

/* sort and fold equal keys */
static void keys_fold(struct keys *ks)
{
	size_t o = 0;

	if (!ks->n)
		return;
	qsort(ks->k, ks->n, sizeof(*ks->k), cmp_key);
	for (size_t i = 1; i < ks->n; i++) {
		if (!cmp_key(&ks->k[o], &ks->k[i])) {
			ks->k[o].ref += ks->k[i].ref;
			ks->k[o].cur += ks->k[i].cur;
		} else {
			ks->k[++o] = ks->k[i];
		}
	}
	ks->n = o + 1;
}

/* ---- one column ---- */

struct side {
	struct prof *p;
	size_t ci;
	struct sample s;
	bool raw;        /* s holds every value (weights 1) */
};

struct colctx {
	const char *name;
	struct side ref, cur;
	const char *ctype;       /* Evidently's type of the reference column */
	enum ccsv_kind itype;
	uint64_t n_ref, n_cur, rows_ref, rows_cur;
	json_t *out;             /* the column's result */
	json_t *testsj;
	bool approximate;
};

static int put(json_t *o, const char *k, json_t *v)
{
	return v && !json_object_set_new(o, k, v) ? 0 : oom();
}

static json_t *num(double x)
{
	if (isnan(x))
		return json_null();
	if (isinf(x))
		return json_string(x > 0 ? "inf" : "-inf");
	return json_real(x);
}

/* a count vector as JSON */
static json_t *counts_json(const size_t *c, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_integer((json_int_t)c[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *key_json(const struct keys *ks, size_t i)
{
	const struct key *k = &ks->k[i];

	if (ks->text)
		return json_stringn(k->text, k->len);
	if (k->num == floor(k->num) && fabs(k->num) < 9007199254740992.0)
		return json_integer((json_int_t)k->num);
	return json_real(k->num);
}

struct binned {
	size_t *ref, *cur, n;
	json_t *info;
};

static void binned_free(struct binned *b)
{
	free(b->ref);
	free(b->cur);
	json_decref(b->info);
	memset(b, 0, sizeof(*b));
}

static int bins_from_keys(const struct keys *ks, struct binned *b)
{
	json_t *keys = json_array();
	int rc = 0;

	b->n = ks->n;
	b->ref = cmalloc((ks->n ? ks->n : 1) * sizeof(size_t));
	b->cur = cmalloc((ks->n ? ks->n : 1) * sizeof(size_t));
	if (!keys || !b->ref || !b->cur) {
		json_decref(keys);
		return oom();
	}
	for (size_t i = 0; i < ks->n && !rc; i++) {
		b->ref[i] = ks->k[i].ref;
		b->cur[i] = ks->k[i].cur;
		rc = json_array_append_new(keys, key_json(ks, i)) ? oom() : 0;
	}
	if (rc) {
		json_decref(keys);
		return rc;
	}
	/* put() takes each value, also when it fails: nothing leaks when memory runs out */
	if (!(b->info = json_object()) || put(b->info, "keys", keys) || put(b->info, "kind", json_string("values")) ||
	    put(b->info, "reference_counts", counts_json(b->ref, b->n)) ||
	    put(b->info, "current_counts", counts_json(b->cur, b->n))) {
		if (!b->info)
			json_decref(keys);
		return oom();
	}
	return 0;
}

static int bins_sturges(struct colctx *c, struct binned *b)
{
	double edges[STATTEST_STURGES_MAX_EDGES], lo, hi;
	size_t nedges;
	json_t *e;
	int rc;

	lo = fmin(c->ref.p->col[c->ref.ci].min, c->cur.p->col[c->cur.ci].min);
	hi = fmax(c->ref.p->col[c->ref.ci].max, c->cur.p->col[c->cur.ci].max);
	if ((rc = stattest_sturges_edges(lo, hi, (size_t)(c->n_ref + c->n_cur), edges, STATTEST_STURGES_MAX_EDGES, &nedges)))
		return rc;
	b->n = nedges - 1;
	b->ref = cmalloc(b->n * sizeof(size_t));
	b->cur = cmalloc(b->n * sizeof(size_t));
	if (!b->ref || !b->cur)
		return oom();
	if ((rc = histogram(&c->ref.s, edges, nedges, b->ref)) || (rc = histogram(&c->cur.s, edges, nedges, b->cur)))
		return rc;
	if (!(b->info = json_object()) || put(b->info, "kind", json_string("sturges")) || put(b->info, "edges", e = json_array()))
		return oom();
	for (size_t i = 0; i < nedges; i++)
		if (json_array_append_new(e, json_real(edges[i])))
			return oom();
	if (put(b->info, "reference_counts", counts_json(b->ref, b->n)) ||
	    put(b->info, "current_counts", counts_json(b->cur, b->n)))
		return oom();
	return 0;
}

/* keys and counts of a categorical (or few-valued numeric) column */
static int column_keys(struct colctx *c, struct keys *ks)
{
	int rc;

	memset(ks, 0, sizeof(*ks));
	ks->text = c->itype == CCSV_TEXT;
	if (!ks->text && c->ref.raw && c->cur.raw) {
		if ((rc = keys_from_sample(ks, &c->ref.s, false)) || (rc = keys_from_sample(ks, &c->cur.s, true)))
			return rc;
	} else if (ks->text) {
		if ((rc = keys_from_table(ks, &c->ref.p->col[c->ref.ci].ftext, false)) ||
		    (rc = keys_from_table(ks, c->cur.p->col[c->cur.ci].has_text ? &c->cur.p->col[c->cur.ci].ftext
										       : &c->cur.p->col[c->cur.ci].fnum,
						 true)))
			return rc;
	} else {
		if ((rc = keys_from_table(ks, &c->ref.p->col[c->ref.ci].fnum, false)) ||
		    (rc = keys_from_table(ks, &c->cur.p->col[c->cur.ci].fnum, true)))
			return rc;
	}
	keys_fold(ks);
	if (ks->approximate)
		c->approximate = true;
	return 0;
}

/* the result of test t as JSON, and its verdict */
static int run_test(struct colctx *c, int t, double threshold, const struct keys *ks, struct binned *bins,
		    double *score, bool *drifted)
{
	json_t *r = NULL;
	double v = 0;
	int rc = 0;

	switch (t) {
	case T_KS: {
		struct stattest_ks ks2;

		if (c->ref.raw && c->cur.raw) {
			if ((rc = stattest_ks_2samp(c->ref.s.v, c->ref.s.n, c->cur.s.v, c->cur.s.n, &ks2)))
				return rc;
		} else {
			size_t en = (size_t)llround((double)c->n_ref * (double)c->n_cur / (double)(c->n_ref + c->n_cur));

			ks2.statistic = ks_weighted(&c->ref.s, &c->cur.s);
			ks2.method = STATTEST_KS_ASYMP;
			if ((rc = ksdist_kstwo_sf(en ? en : 1, ks2.statistic, &ks2.p_value)))
				return rc;
			ks2.p_value_kolmogorov = ksdist_kolmogorov(sqrt((double)en) * ks2.statistic);
		}
		v = ks2.p_value;
		if (!(r = json_object()) || put(r, "statistic", num(ks2.statistic)) || put(r, "p_value", num(ks2.p_value)) ||
		    put(r, "p_value_method", json_string(!(c->ref.raw && c->cur.raw) ? "asymp (sketch)"
							 : ks2.method == STATTEST_KS_EXACT ? "exact"
							 : ks2.method == STATTEST_KS_ASYMP ? "asymp" : "asymp (exact failed)")) ||
		    put(r, "p_value_kolmogorov", num(ks2.p_value_kolmogorov)))
			goto nomem;
		break;
	}
	case T_WASSERSTEIN: {
		const struct prof_col *rcol = &c->ref.p->col[c->ref.ci];
		double m2, wd, norm;

		if (c->ref.raw && c->cur.raw) {
			if ((rc = stattest_wasserstein(c->ref.s.v, c->ref.s.n, c->cur.s.v, c->cur.s.n, &wd)))
				return rc;
		} else {
			wd = wasserstein_weighted(&c->ref.s, &c->cur.s);
		}
		{
			double n = (double)rcol->nnum, s1 = rcol->s1 + rcol->c1, s2 = rcol->s2 + rcol->c2;

			m2 = n ? s2 - s1 * s1 / n : 0;
			norm = fmax(n ? sqrt(fmax(m2, 0) / n) : 0, 0.001);
		}
		v = wd / norm;
		if (!(r = json_object()) || put(r, "score", num(v)) || put(r, "wasserstein", num(wd)) ||
		    put(r, "norm", num(norm)))
			goto nomem;
		break;
	}
	case T_PSI:
	case T_JS:
	case T_KL:
		if (t == T_PSI)
			rc = stattest_psi(bins->ref, bins->cur, bins->n, &v);
		else if (t == T_JS)
			rc = stattest_jensenshannon(bins->ref, bins->cur, bins->n, &v);
		else
			rc = stattest_kl_div(bins->ref, bins->cur, bins->n, &v);
		if (rc)
			return rc;
		if (!(r = json_object()) || put(r, "score", num(v)))
			goto nomem;
		break;
	case T_CHISQUARE:
	case T_CHI2H: {
		struct stattest_chi2 x;
		size_t *rr = cmalloc((ks->n ? ks->n : 1) * sizeof(size_t)), *cc = cmalloc((ks->n ? ks->n : 1) * sizeof(size_t));

		if (!rr || !cc) {
			free(rr);
			free(cc);
			return oom();
		}
		for (size_t i = 0; i < ks->n; i++) {
			rr[i] = ks->k[i].ref;
			cc[i] = ks->k[i].cur;
		}
		rc = t == T_CHISQUARE ? stattest_chi2_evidently(rr, cc, ks->n, &x) : stattest_chi2_homogeneity(rr, cc, ks->n, &x);
		free(rr);
		free(cc);
		if (rc)
			return rc;
		v = x.p_value;
		if (!(r = json_object()) || put(r, "statistic", num(x.statistic)) || put(r, "p_value", num(x.p_value)) ||
		    put(r, "dof", json_integer((json_int_t)x.dof)))
			goto nomem;
		break;
	}
	case T_Z: {
		double z;
		size_t k1, k2;

		if (!ks->n)
			return cairn_error_set(CAIRN_EINVALID, "column '%.100s': no values for a z-test", c->name);
		k1 = (size_t)c->n_ref - ks->k[0].ref;   /* hits: value != the smallest key */
		k2 = (size_t)c->n_cur - ks->k[0].cur;
		if ((rc = stattest_ztest(k1, (size_t)c->n_ref, k2, (size_t)c->n_cur, &z, &v)))
			return rc;
		if (!(r = json_object()) || put(r, "statistic", num(z)) || put(r, "p_value", num(v)))
			goto nomem;
		break;
	}
	default:
		return cairn_error_set(CAIRN_ERR, "unknown test");
	}
	*score = v;
	*drifted = verdict(t, v, threshold);
	if (put(r, "threshold", json_real(threshold)) || put(r, "drifted", json_boolean(*drifted))) {
		json_decref(r);
		return oom();
	}
	return put(c->testsj, tests[t].name, r);
nomem:
	json_decref(r);
	return oom();
}

/* Evidently's default test for the column */
static int default_test(const struct colctx *c, uint64_t n_unique)
{
	bool numerical = !strcmp(c->ctype, "numerical");

	if (c->n_ref <= SMALL_REFERENCE_ROWS) {
		if (numerical && n_unique > 5)
			return T_KS;
		return n_unique > 2 ? T_CHISQUARE : T_Z;
	}
	return numerical && n_unique > 5 ? T_WASSERSTEIN : T_JS;
}

static const struct drift_override *override_for(const struct drift_options *opt, const char *name)
{
	for (size_t i = 0; opt && i < opt->noverrides; i++)
		if (!strcmp(opt->overrides[i].column, name))
			return &opt->overrides[i];
	return NULL;
}

/* the null share: z-test on the shares and the least change that counts */
static int null_share_test(struct colctx *c, const struct drift_options *opt, bool *drifted)
{
	double thr = opt && opt->null_share_threshold ? opt->null_share_threshold : 0.02;
	double a = c->rows_ref ? (double)(c->rows_ref - c->n_ref) / (double)c->rows_ref : 0;
	double b = c->rows_cur ? (double)(c->rows_cur - c->n_cur) / (double)c->rows_cur : 0;
	double z = 0, p = 1;
	int rc;

	*drifted = false;
	if (c->rows_ref && c->rows_cur &&
	    (rc = stattest_ztest((size_t)(c->rows_ref - c->n_ref), (size_t)c->rows_ref, (size_t)(c->rows_cur - c->n_cur),
				 (size_t)c->rows_cur, &z, &p)))
		return rc;
	if (thr > 0)
		*drifted = fabs(b - a) >= thr && p < 0.05;
	{
		json_t *ns = json_object();

		if (put(c->out, "null_share", ns) || put(ns, "reference", json_real(a)) || put(ns, "current", json_real(b)) ||
		    put(ns, "difference", json_real(b - a)) || put(ns, "p_value", num(p)) ||
		    put(ns, "threshold", json_real(thr > 0 ? thr : 0.0)) || put(ns, "drifted", json_boolean(*drifted)))
			return oom();
	}
	return 0;
}

static int drift_column(struct colctx *c, const struct drift_options *opt, bool *drift, bool *cairn_drift)
{
	const struct prof_col *rcol = &c->ref.p->col[c->ref.ci], *ccol = &c->cur.p->col[c->cur.ci];
	const struct drift_override *ov = override_for(opt, c->name);
	struct keys ks = { 0 };
	struct binned bins = { 0 };
	bool numerical, exact, null_drift = false;
	uint64_t n_unique, ref_distinct;
	int sel, rc, t;
	double score = 0;
	bool drifted = false;

	*drift = *cairn_drift = false;
	c->itype = prof_col_type(rcol);
	c->ctype = prof_col_evidently_type(rcol);
	numerical = !strcmp(c->ctype, "numerical");
	c->rows_ref = c->ref.p->rows;
	c->rows_cur = c->cur.p->rows;
	/* the values tested: non-null and, for numbers, finite (Evidently drops nulls, NaN and +-inf) */
	c->n_ref = c->itype == CCSV_TEXT ? prof_col_count(rcol) : rcol->nnum;
	c->n_cur = c->itype == CCSV_TEXT ? prof_col_count(ccol) : ccol->nnum;
	if (put(c->out, "column_type", json_string(c->ctype)) ||
	    put(c->out, "inferred_type", json_string(ccsv_kind_name(c->itype))) ||
	    put(c->out, "rows_reference", json_integer((json_int_t)c->rows_ref)) ||
	    put(c->out, "rows_current", json_integer((json_int_t)c->rows_cur)) ||
	    put(c->out, "n_reference", json_integer((json_int_t)c->n_ref)) ||
	    put(c->out, "n_current", json_integer((json_int_t)c->n_cur)) ||
	    put(c->out, "null_share_reference", json_real(c->rows_ref ? (double)(c->rows_ref - c->n_ref) / (double)c->rows_ref : 0)) ||
	    put(c->out, "null_share_current", json_real(c->rows_cur ? (double)(c->rows_cur - c->n_cur) / (double)c->rows_cur : 0)))
		return oom();
	if ((rc = null_share_test(c, opt, &null_drift)))
		return rc;
	if (!strcmp(c->ctype, "text") || !strcmp(c->ctype, "datetime") || !c->n_ref || !c->n_cur) {
		const char *why = !c->n_ref || !c->n_cur ? "no values to compare on one side"
				  : !strcmp(c->ctype, "text") ? "text columns (distinct values > half the rows) are not drift-tested"
							     : "datetime columns are not drift-tested";

		*cairn_drift = null_drift;
		return put(c->out, "selected_test", json_null()) || put(c->out, "drift_score", json_null()) ||
			       put(c->out, "drift_detected", json_false()) || put(c->out, "tests", json_object()) ||
			       put(c->out, "binning", json_null()) || put(c->out, "note", json_string(why)) ||
			       put(c->out, "drifted", json_boolean(null_drift))
			       ? oom() : 0;
	}
	if (c->itype != CCSV_TEXT) {
		if ((rc = sample_of(c->ref.p, c->ref.ci, &c->ref.s)) || (rc = sample_of(c->cur.p, c->cur.ci, &c->cur.s)))
			goto out;
		c->ref.raw = !c->ref.s.w && (c->ref.p->keep || sk_quant_is_exact(&rcol->q));
		c->cur.raw = !c->cur.s.w && (c->cur.p->keep || sk_quant_is_exact(&ccol->q));
		if (!c->ref.raw || !c->cur.raw)
			c->approximate = true;
	}
	ref_distinct = prof_col_distinct(rcol, &exact);
	/* distinct values of both sides */
	if (c->itype != CCSV_TEXT && c->ref.raw && c->cur.raw) {
		n_unique = union_distinct(&c->ref.s, &c->cur.s);
	} else {
		if ((rc = column_keys(c, &ks)))
			goto out;
		n_unique = ks.n;
		if (ks.approximate) {
			struct sk_hll h = { 0 };

			if ((rc = sk_hll_merge(&h, c->itype == CCSV_TEXT ? &rcol->htext : &rcol->hnum)) ||
			    (rc = sk_hll_merge(&h, c->itype == CCSV_TEXT ? &ccol->htext : &ccol->hnum))) {
				sk_hll_free(&h);
				goto out;
			}
			n_unique = (uint64_t)llround(sk_hll_estimate(&h));
			sk_hll_free(&h);
		}
	}
	sel = default_test(c, n_unique);
	if (!ov || !ov->test) {
		const char *forced = numerical ? opt->num_test : opt->cat_test;

		if (forced)
			sel = test_by_name(forced);
	} else {
		sel = test_by_name(ov->test);
	}
	if (sel < 0 || (tests[sel].numeric && (c->itype == CCSV_TEXT))) {
		rc = cairn_error_set(CAIRN_EINVALID, "column '%.100s': test '%s' does not apply to a %s column", c->name,
				     ov && ov->test ? ov->test : numerical ? opt->num_test : opt->cat_test, c->ctype);
		goto out;
	}
	if (!(c->testsj = json_object())) {
		rc = oom();
		goto out;
	}
	if (put(c->out, "n_unique", json_integer((json_int_t)n_unique))) {
		json_decref(c->testsj);
		rc = oom();
		goto out;
	}
	if (put(c->out, "tests", c->testsj)) {
		rc = oom();
		goto out;
	}
	/* the bins of PSI, JS and KL */
	if (numerical && ref_distinct > 20) {
		rc = bins_sturges(c, &bins);
	} else {
		if (!ks.k)
			rc = column_keys(c, &ks);
		if (!rc)
			rc = bins_from_keys(&ks, &bins);
	}
	if (rc)
		goto out;
	/* every applicable test, as the reference reports them */
	for (t = 0; t < T_NTESTS; t++) {
		bool applies, d = false;
		double s = 0, thr;

		switch (t) {
		case T_KS:
		case T_WASSERSTEIN: applies = numerical; break;
		case T_CHISQUARE:
		case T_CHI2H: applies = (!numerical || n_unique <= 5) && n_unique > 2; break;
		case T_Z: applies = (!numerical || n_unique <= 5) && n_unique <= 2; break;
		case T_KL: applies = t == sel; break;
		default: applies = true;
		}
		if (t == sel)
			applies = true;
		if (!applies)
			continue;
		if ((t == T_CHISQUARE || t == T_CHI2H || t == T_Z) && !ks.k && (rc = column_keys(c, &ks)))
			goto out;
		thr = t == sel && ov && ov->threshold >= 0 ? ov->threshold : tests[t].threshold;
		if ((rc = run_test(c, t, thr, &ks, &bins, &s, &d)))
			goto out;
		if (t == sel) {
			score = s;
			drifted = d;
			if (put(c->out, "stattest_threshold", json_real(thr))) {
				rc = oom();
				goto out;
			}
		}
	}
	*drift = drifted;
	*cairn_drift = drifted || null_drift;
	if (put(c->out, "selected_test", json_string(tests[sel].name)) || put(c->out, "drift_score", num(score)) ||
	    put(c->out, "drift_detected", json_boolean(drifted)) || put(c->out, "binning", json_incref(bins.info)) ||
	    put(c->out, "approximate", json_boolean(c->approximate)) ||
	    put(c->out, "drifted", json_boolean(*cairn_drift)))
		rc = oom();
out:
	free(ks.k);
	binned_free(&bins);
	sample_free(&c->ref.s);
	sample_free(&c->cur.s);
	return rc;
}

/* ---- the whole comparison ---- */

static const struct drift_options no_options;

static int compare(struct prof *ref, struct prof *cur, json_t *refsrc, json_t *cursrc,
		   const struct drift_options *opt, json_t **out)
{
	double share_thr = opt && opt->drift_share > 0 ? opt->drift_share : 0.5;
	json_t *o = json_object(), *cols = NULL, *missing = NULL, *extra = NULL, *flag = NULL;
	size_t ncols = ref->ncols, ndrift = 0, ncairn = 0;
	int rc = 0;

	*out = NULL;
	if (!opt)
		opt = &no_options;
	if (!o || put(o, "kind", json_string("cairn.drift")) || put(o, "schema_version", json_integer(1)) ||
	    json_object_set(o, "reference", refsrc) || json_object_set(o, "current", cursrc) ||
	    put(o, "rows", json_pack("{s:I,s:I}", "reference", (json_int_t)ref->rows, "current", (json_int_t)cur->rows)) ||
	    !(cols = json_object()) || json_object_set(o, "columns", cols) || !(missing = json_array()) ||
	    !(extra = json_array()) || !(flag = json_object()))
		goto nomem;
	for (size_t j = 0; j < cur->ncols; j++) {
		size_t i;

		for (i = 0; i < ncols && strcmp(ref->col[i].name, cur->col[j].name); i++)
			;
		if (i == ncols && json_array_append_new(extra, json_string(cur->col[j].name)))
			goto nomem;
	}
	for (size_t i = 0; i < ncols; i++) {
		struct colctx c = { .name = ref->col[i].name, .ref = { ref, i, { 0 }, false }, .cur = { cur, 0, { 0 }, false } };
		bool d = false, cd = false;
		size_t j;

		for (j = 0; j < cur->ncols && strcmp(cur->col[j].name, c.name); j++)
			;
		if (!(c.out = json_object()) || json_object_set_new(cols, c.name, c.out))
			goto nomem;
		if (j == cur->ncols) {   /* a column gone is drift of the schema */
			if (json_array_append_new(missing, json_string(c.name)) ||
			    put(c.out, "note", json_string("missing from the current data")) ||
			    put(c.out, "drift_detected", json_true()) || put(c.out, "drifted", json_true()))
				goto nomem;
			ndrift++;
			ncairn++;
			continue;
		}
		c.cur.ci = j;
		if ((rc = drift_column(&c, opt, &d, &cd)))
			goto fail;
		ndrift += d;
		ncairn += cd;
	}
	/* which columns each test flags */
	{
		static const char *const names[] = { "ks", "wasserstein", "chisquare", "chi2_homogeneity", "z", "psi",
						      "jensenshannon" };
		const char *key;
		json_t *cj, *sel, *nul;

		if (put(flag, "selected", sel = json_array()) || put(flag, "null_share", nul = json_array()))
			goto nomem;
		json_object_foreach(cols, key, cj) {
			if (json_is_true(json_object_get(cj, "drift_detected")) && json_array_append_new(sel, json_string(key)))
				goto nomem;
			if (json_is_true(json_object_get(json_object_get(cj, "null_share"), "drifted")) &&
			    json_array_append_new(nul, json_string(key)))
				goto nomem;
		}
		for (size_t t = 0; t < sizeof(names) / sizeof(names[0]); t++) {
			json_t *l = json_array();

			if (!l || put(flag, names[t], l))
				goto nomem;
			json_object_foreach(cols, key, cj) {
				json_t *r = json_object_get(json_object_get(cj, "tests"), names[t]);

				if (json_is_true(json_object_get(r, "drifted")) && json_array_append_new(l, json_string(key)))
					goto nomem;
			}
		}
	}
	if (put(o, "dataset", json_pack("{s:I,s:I,s:f,s:f,s:b,s:I,s:f,s:b,s:O,s:O}", "number_of_columns", (json_int_t)ncols,
					 "number_of_drifted_columns", (json_int_t)ndrift, "share_of_drifted_columns",
					 ncols ? (double)ndrift / (double)ncols : 0.0, "drift_share", share_thr,
					 "dataset_drift_evidently", ncols && (double)ndrift / (double)ncols >= share_thr,
					 "number_of_drifted_columns_with_nulls", (json_int_t)ncairn,
					 "share_of_drifted_columns_with_nulls", ncols ? (double)ncairn / (double)ncols : 0.0,
					 "dataset_drift", ncols && (double)ncairn / (double)ncols >= share_thr,
					 "missing_columns", missing, "extra_columns", extra)))
		goto nomem;
	{
		json_t *f = flag;

		flag = NULL;   /* put takes it, also when it fails */
		if (put(o, "flagged_by_test", f))
			goto nomem;
	}
	json_decref(cols);
	json_decref(missing);
	json_decref(extra);
	*out = o;
	return 0;
nomem:
	rc = oom();
fail:
	json_decref(cols);
	json_decref(missing);
	json_decref(extra);
	json_decref(flag);
	json_decref(o);
	return rc;
}

bool drift_detected(const json_t *result)
{
	return json_is_true(json_object_get(json_object_get(result, "dataset"), "dataset_drift"));
}

int drift_profiles(const json_t *ref, const json_t *cur, const struct drift_options *opt, json_t **out)
{
	struct prof a, b;
	int rc;

	*out = NULL;
	if ((rc = prof_from_json(ref, &a)))
		return cairn_error_set(rc, "reference: %s", cairn_error_msg());
	if ((rc = prof_from_json(cur, &b))) {
		prof_free(&a);
		return cairn_error_set(rc, "current: %s", cairn_error_msg());
	}
	rc = compare(&a, &b, json_object_get(ref, "source") ? json_object_get(ref, "source") : json_null(),
		     json_object_get(cur, "source") ? json_object_get(cur, "source") : json_null(), opt, out);
	prof_free(&a);
	prof_free(&b);
	return rc;
}

static bool is_json_path(const char *path)
{
	size_t n = strlen(path);

	return n > 5 && !strcmp(path + n - 5, ".json");
}

/* a side: a profile (.json) or a table */
static int load_side(const char *path, const struct drift_options *opt, struct prof *p, json_t **src)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int rc;

	*src = NULL;
	if (is_json_path(path)) {
		struct buf b = BUF_INIT;
		json_error_t err;
		json_t *j;

		if ((rc = fs_read_file(path, PROFILE_MAX_JSON, &b)))
			return rc;
		j = json_loadb(b.ptr ? b.ptr : "", b.len, 0, &err);
		buf_release(&b);
		if (!j)
			return cairn_error_set(CAIRN_EINVALID, "'%s' is not JSON: %s (line %d)", path, err.text, err.line);
		rc = prof_from_json(j, p);
		if (!rc && !(*src = json_pack("{s:s,s:s,s:O?}", "file", base, "format", "profile", "profile_of",
					      json_object_get(j, "source")))) {
			prof_free(p);
			rc = oom();
		}
		json_decref(j);
		return rc ? cairn_error_set(rc, "'%s': %s", path, cairn_error_msg()) : 0;
	}
	{
		struct profile_options ro = opt ? opt->read : (struct profile_options){ 0 };
		size_t n = strlen(path);

		if (!ro.jsonl && ((n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 7 && !strcmp(path + n - 7, ".ndjson"))))
			ro.jsonl = true;
		if (!ro.delim && n > 4 && !strcmp(path + n - 4, ".tsv"))
			ro.delim = '\t';
		if ((rc = prof_read_file(path, &ro, true, p)))
			return rc;
		if (!(*src = json_pack("{s:s,s:s}", "file", base, "format", ro.jsonl ? "jsonl" : "csv"))) {
			prof_free(p);
			return oom();
		}
	}
	return 0;
}

/* Load the current side at cur_path and compare it with a (and its source sa); frees a and sa. */
static int against_current(struct prof *a, json_t *sa, const char *cur_path, const struct drift_options *opt, json_t **out)
{
	struct prof b;
	json_t *sb = NULL;
	int rc;

	if ((rc = load_side(cur_path, opt, &b, &sb))) {
		prof_free(a);
		json_decref(sa);
		return cairn_error_set(rc, "current: %s", cairn_error_msg());
	}
	rc = compare(a, &b, sa, sb, opt, out);
	prof_free(a);
	prof_free(&b);
	json_decref(sa);
	json_decref(sb);
	return rc;
}

int drift_files(const char *ref_path, const char *cur_path, const struct drift_options *opt, json_t **out)
{
	struct prof a;
	json_t *sa = NULL;
	int rc;

	*out = NULL;
	if ((rc = load_side(ref_path, opt, &a, &sa)))
		return cairn_error_set(rc, "reference: %s", cairn_error_msg());
	return against_current(&a, sa, cur_path, opt, out);
}

int drift_with_reference_json(const json_t *ref, const char *ref_name, const char *cur_path,
			      const struct drift_options *opt, json_t **out)
{
	struct prof a;
	json_t *sa;
	int rc;

	*out = NULL;
	if ((rc = prof_from_json(ref, &a)))
		return cairn_error_set(rc, "reference: %s", cairn_error_msg());
	if (!(sa = json_pack("{s:s,s:s,s:O?}", "file", ref_name, "format", "profile", "profile_of",
			     json_object_get(ref, "source")))) {
		prof_free(&a);
		return oom();
	}
	return against_current(&a, sa, cur_path, opt, out);
}
