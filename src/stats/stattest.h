/* stattest.h - the drift statistics, as pure functions on plain arrays.
 *
 * Each function follows one scipy 1.10 / numpy 1.24 definition (or the
 * Evidently rule built on it) closely enough that its numbers agree with
 * scipy's to about 1e-12 relative and its bin counts exactly; the comment on
 * each says which, and docs/drift-statistics.md says where cairn departs
 * from Evidently and why.
 *
 * Inputs are what a drift run already has: sorted doubles (ascending, no
 * NaN or infinity: the caller drops nulls and non-finite values first, as
 * Evidently does; a function that meets one anyway returns CAIRN_EINVALID)
 * and count vectors over a common set of keys or bins. Empty input and
 * mismatched lengths are CAIRN_EINVALID too, with the message set through
 * cairn_error_set(). Nothing here reads files or JSON, and nothing keeps
 * state: every function is safe to call from any thread.
 */
#ifndef CAIRN_STATS_STATTEST_H
#define CAIRN_STATS_STATTEST_H

#include <stddef.h>

/* How a two-sample KS p-value was computed (scipy ks_2samp method="auto"). */
enum stattest_ks_method {
	STATTEST_KS_EXACT = 0,         /* exact, max(n1, n2) <= 10000 */
	STATTEST_KS_ASYMP = 1,         /* kstwo.sf(D, round(n1 n2 / (n1 + n2))) */
	STATTEST_KS_ASYMP_FALLBACK = 2, /* exact attempted, left [0, 1]: asymptotic */
};

/* The result of a two-sample KS test. */
struct stattest_ks {
	double statistic;          /* D = max |ECDF_a - ECDF_b|, as ks_2samp returns it */
	double p_value;            /* two-sided p-value, ks_2samp(a, b).pvalue */
	enum stattest_ks_method method; /* how p_value was computed */
	double p_value_kolmogorov; /* scipy.special.kolmogorov(sqrt(n1 n2/(n1+n2)) D) */
};

/* Two-sample two-sided Kolmogorov-Smirnov test of sorted a[na] and b[nb]:
 * scipy.stats.ks_2samp(a, b) (two-sided, method="auto"). D is the largest
 * ECDF gap over the merged values; with the exact method it is reported as
 * h/lcm(na, nb), h = round(D lcm), as scipy does. The p-value is exact when
 * max(na, nb) <= 10000 (the closed sum for na == nb, the Hodges lattice-path
 * recursion in Viehmann's 1-p form otherwise), else kstwo.sf as in
 * ksdist.h; a failed exact attempt falls back like scipy's. */
int stattest_ks_2samp(const double *a, size_t na, const double *b, size_t nb, struct stattest_ks *out);

/* First Wasserstein distance between the samples sorted u[nu] and v[nv]:
 * scipy.stats.wasserstein_distance(u, v), the integral of |U(t) - V(t)|
 * over the merged sorted values, summed in numpy's order. */
int stattest_wasserstein(const double *u, size_t nu, const double *v, size_t nv, double *out);

/* Most edges stattest_sturges_edges() can produce (bins + 1). */
#define STATTEST_STURGES_MAX_EDGES 256

/* numpy.histogram_bin_edges(x, bins="sturges") for data of n values whose
 * smallest is min and largest max: nbins = ceil((max - min) / ((max - min) /
 * (log2(n) + 1))), edges = numpy.linspace(min, max, nbins + 1) bit for bit
 * (edge i = i * step + min, the last = max); constant data (min == max) gives
 * the one bin [min - 0.5, max + 0.5]. edges must hold cap doubles;
 * *nedges gets nbins + 1. CAIRN_EINVALID for n == 0, min > max or a
 * non-finite range, CAIRN_ETOOBIG when cap is too small. */
int stattest_sturges_edges(double min, double max, size_t n, double *edges, size_t cap, size_t *nedges);

/* Counts of sorted x[n] in the bins of ascending edges[nedges]: numpy.
 * histogram(x, edges)[0]. Bin i holds edges[i] <= x < edges[i+1], the last
 * bin also x == edges[nedges-1]; values outside are not counted. counts gets
 * nedges - 1 entries. */
int stattest_histogram_sorted(const double *x, size_t n, const double *edges, size_t nedges, size_t *counts);

/* Population stability index of two count vectors over the same k bins:
 * Evidently's psi, shares r = ref/sum(ref), c = cur/sum(cur), a zero share
 * replaced per side by min_nonzero/1e6 when min_nonzero <= 1e-4, else by 1e-4;
 * psi = sum (r - c) ln(r / c). */
int stattest_psi(const size_t *ref, const size_t *cur, size_t k, double *out);

/* Kullback-Leibler divergence KL(ref || cur) of two count vectors with the
 * same zero replacement as stattest_psi: Evidently's kl_div, scipy.stats.
 * entropy(r, c) (natural log). */
int stattest_kl_div(const size_t *ref, const size_t *cur, size_t k, double *out);

/* Jensen-Shannon distance of two count vectors (no zero replacement):
 * scipy.spatial.distance.jensenshannon(ref/n_ref, cur/n_cur), natural log,
 * the square root of (KL(r || m) + KL(c || m)) / 2 with m = (r + c) / 2. */
int stattest_jensenshannon(const size_t *ref, const size_t *cur, size_t k, double *out);

/* A chi-squared result. */
struct stattest_chi2 {
	double statistic;  /* sum of (observed - expected)^2 / expected */
	double p_value;    /* P(chi2_dof >= statistic), from GSL's gsl_cdf_chisq_Q */
	size_t dof;        /* degrees of freedom */
};

/* Evidently's chi-squared drift test over k keys (k >= 2): the current
 * counts against expected = ref * (n_cur / n_ref), scipy.stats.chisquare(
 * cur, expected), dof k - 1. A key absent from the reference but present in
 * the current gives statistic inf and p 0. This treats the reference as the
 * true distribution and so over-alarms; see stattest_chi2_homogeneity.
 * A key with no count on either side is CAIRN_EINVALID. */
int stattest_chi2_evidently(const size_t *ref, const size_t *cur, size_t k, struct stattest_chi2 *out);

/* Pearson's chi-squared test of homogeneity on the 2 x k table (ref, cur):
 * scipy.stats.chi2_contingency(table, correction=False) after dropping the
 * keys with zero total; expected = row total * column total / N, dof = k' - 1
 * for the k' keys kept. One key or fewer gives statistic 0, p 1, dof 0. */
int stattest_chi2_homogeneity(const size_t *ref, const size_t *cur, size_t k, struct stattest_chi2 *out);

/* Two-proportion z-test (Evidently's z_stat_test): hits k1 of n1 in the
 * reference, k2 of n2 in the current, pooled p = (k1 + k2) / (n1 + n2),
 * z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2)), p-value 2 (1 - Phi(|z|))
 * with Phi as scipy's ndtr. When the pooled share is 0 or 1 (one value on
 * both sides) z is 0 and the p-value 1. */
int stattest_ztest(size_t k1, size_t n1, size_t k2, size_t n2, double *z, double *p_value);

#endif
