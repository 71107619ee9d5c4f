/* stattest.c - drift statistics on sorted samples and count vectors.
 *
 * Each function reproduces one scipy 1.10 / numpy 1.24 computation, down to
 * the order of its floating-point operations where that is cheap (numpy's
 * pairwise summation, linspace's i*step + start, ks_2samp's rounding of D to
 * h/lcm), so that the results agree with the Python reference to the last
 * digit or nearly. The algorithms are implemented here from their published
 * descriptions; no scipy or numpy code is copied.
 */
#include <gsl/gsl_cdf.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/fault.h"
#include "stats/ksdist.h"
#include "stats/stattest.h"

/* scipy ks_2samp(method="auto") is exact up to this sample size */
#define KS_MAX_EXACT_N 10000
/* numpy's pairwise summation: unrolled block, and the reduction buffer */
#define PW_BLOCK 128
#define NP_BUFSIZE 8192

/* ------------------------------------------------------------- summation */

/* numpy's pairwise_sum for float64: plain below 8 values, eight lanes up to
 * 128, halves (rounded down to a multiple of 8) above. */
static double pairwise(const double *a, size_t n)
{
	if (n < 8) {
		double r = 0.;

		for (size_t i = 0; i < n; i++)
			r += a[i];
		return r;
	}
	if (n <= PW_BLOCK) {
		double r[8], res;
		size_t i;

		for (int j = 0; j < 8; j++)
			r[j] = a[j];
		for (i = 8; i < n - (n % 8); i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + j];
		res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i];
		return res;
	}
	{
		size_t n2 = n / 2;

		n2 -= n2 % 8;
		return pairwise(a, n2) + pairwise(a + n2, n - n2);
	}
}

/* np.sum of a contiguous float64 array: the reduction runs over buffers of
 * 8192 values, each summed pairwise, and the partial sums in order. */
static double np_sum(const double *a, size_t n)
{
	double acc = 0.;

	for (size_t off = 0; off < n; off += NP_BUFSIZE)
		acc += pairwise(a + off, n - off < NP_BUFSIZE ? n - off : NP_BUFSIZE);
	return acc;
}

/* ------------------------------------------------------------ validation */

static int check_sorted(const double *x, size_t n, const char *what)
{
	size_t i0 = 0;

	/* blocks without a branch per value (the samples hold millions); a
	 * block with something wrong is searched value by value below */
	for (; i0 + 64 < n; i0 += 64) {
		int bad = 0;

		for (size_t i = i0; i < i0 + 64; i++)
			bad |= !(fabs(x[i + 1]) <= DBL_MAX) | (x[i + 1] < x[i]);
		if (bad || !(fabs(x[i0]) <= DBL_MAX))
			break;
	}
	for (size_t i = i0; i < n; i++) {
		if (!isfinite(x[i]))
			return cairn_error_set(CAIRN_EINVALID, "'%s' has a non-finite value at %zu (drop NaN and infinities first)", what, i);
		if (i && x[i] < x[i - 1])
			return cairn_error_set(CAIRN_EINVALID, "'%s' is not sorted at %zu", what, i);
	}
	return 0;
}

static int check_sample(const double *x, size_t n, const char *what)
{
	if (n == 0)
		return cairn_error_set(CAIRN_EINVALID, "'%s' is empty", what);
	if (!x)
		return cairn_error_set(CAIRN_EINVALID, "'%s' is missing", what);
	return check_sorted(x, n, what);
}

static int count_total(const size_t *c, size_t k, const char *what, double *total)
{
	size_t s = 0;

	if (!c)
		return cairn_error_set(CAIRN_EINVALID, "'%s' counts are missing", what);
	for (size_t i = 0; i < k; i++) {
		if (c[i] > SIZE_MAX - s)
			return cairn_error_set(CAIRN_ETOOBIG, "'%s' counts overflow", what);
		s += c[i];
	}
	if (s == 0)
		return cairn_error_set(CAIRN_EINVALID, "'%s' counts are all zero", what);
	*total = (double)s;
	return 0;
}

static int check_counts(const size_t *ref, const size_t *cur, size_t k, double *nref, double *ncur)
{
	int err;

	if (k == 0)
		return cairn_error_set(CAIRN_EINVALID, "no bins or keys to compare");
	if ((err = count_total(ref, k, "reference", nref)) < 0)
		return err;
	return count_total(cur, k, "current", ncur);
}

/* ---------------------------------------------------------------- KS exact */

/* P(D_{n,n} >= h/n), the alternating sum 2 sum_k (-1)^(k-1) C(2n, n-kh)/C(2n, n)
 * evaluated from the innermost term outwards, each ratio of binomials a
 * product of h factors (scipy's _compute_prob_outside_square). */
static double ks_prob_outside_square(long long n, long long h)
{
	double P = 0.0;

	for (long long k = (long long)floor((double)n / (double)h); k >= 0; k--) {
		double p1 = 1.0;

		for (long long j = 0; j < h; j++)
			p1 = (double)(n - k * h - j) * p1 / (double)(n + k * h + j + 1);
		P = p1 * (1.0 - P);
	}
	return 2 * P;
}

/* P(D_{m,n} >= h/lcm) for m != n: the share of monotone lattice paths from
 * (0,0) to (m,n) that leave the band |x/m - y/n| < h/lcm, computed directly
 * as 1 - p one column at a time over the band's sliding window (Hodges 1958;
 * Viehmann 2021, arXiv:2102.08037), the recursion scipy runs in pythran. */
static int ks_prob_outside_band(long long m, long long n, long long g, long long h, double *out)
{
	long long mg, ng, minj, maxj, curlen, lena;
	double *A;

	if (m < n) {
		long long t = m;

		m = n;
		n = t;
	}
	mg = m / g;
	ng = n / g;
	minj = 0;
	maxj = (long long)ceil((double)h / (double)mg);
	if (maxj > n + 1)
		maxj = n + 1;
	curlen = maxj - minj;
	lena = 2 * maxj + 2 < n + 1 ? 2 * maxj + 2 : n + 1;
	A = cmalloc((size_t)lena * sizeof(double));
	if (!A)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for the exact KS recursion");
	for (long long j = 0; j < lena; j++)
		A[j] = j < maxj ? 0.0 : 1.0;
	for (long long i = 1; i <= m; i++) {
		long long lastminj = minj, lastlen = curlen;
		double val;

		minj = (long long)floor((double)(ng * i - h) / (double)mg) + 1;
		if (minj < 0)
			minj = 0;
		if (minj > n)
			minj = n;
		maxj = (long long)ceil((double)(ng * i + h) / (double)mg);
		if (maxj > n + 1)
			maxj = n + 1;
		if (maxj <= minj) {
			free(A);
			*out = 1.0;
			return 0;
		}
		val = minj == 0 ? 0.0 : 1.0;
		for (long long jj = 0; jj < maxj - minj; jj++) {
			long long j = jj + minj, src = jj + minj - lastminj;

			CAIRN_ASSERT(src >= 0 && src < lena && jj < lena);
			val = (A[src] * (double)i + val * (double)j) / (double)(i + j);
			A[jj] = val;
		}
		curlen = maxj - minj;
		for (long long jj = curlen; jj < curlen + (lastlen - curlen) && jj < lena; jj++)
			A[jj] = 1;
	}
	*out = A[maxj - minj - 1];
	free(A);
	return 0;
}

static long long gcd_ll(long long a, long long b)
{
	while (b) {
		long long t = a % b;

		a = b;
		b = t;
	}
	return a;
}

int stattest_ks_2samp(const double *a, size_t na, const double *b, size_t nb, struct stattest_ks *out)
{
	size_t i = 0, j = 0;
	double dmax = 0, dmin = 0, d, en;
	bool first = true;
	int err;

	if ((err = check_sample(a, na, "reference")) < 0 || (err = check_sample(b, nb, "current")) < 0)
		return err;
	if (na > (size_t)1 << 40 || nb > (size_t)1 << 40)
		return cairn_error_set(CAIRN_ETOOBIG, "KS samples of %zu and %zu values are too large", na, nb);
	/* ECDF gap at each distinct merged value: i/na - j/nb, as searchsorted
	 * (side right) gives it */
	while (i < na || j < nb) {
		double v = (j >= nb || (i < na && a[i] <= b[j])) ? a[i] : b[j], diff;

		while (i < na && a[i] <= v)
			i++;
		while (j < nb && b[j] <= v)
			j++;
		diff = (double)i / (double)na - (double)j / (double)nb;
		if (first || diff > dmax)
			dmax = diff;
		if (first || diff < dmin)
			dmin = diff;
		first = false;
	}
	dmin = -dmin;
	if (dmin < 0)
		dmin = 0;
	if (dmin > 1)
		dmin = 1;
	d = dmin > dmax ? dmin : dmax;

	out->method = STATTEST_KS_ASYMP;
	if (na <= KS_MAX_EXACT_N && nb <= KS_MAX_EXACT_N) {
		long long n1 = (long long)na, n2 = (long long)nb, g = gcd_ll(n1, n2);
		long long lcm = (n1 / g) * n2, h = (long long)rint(d * (double)lcm);
		double prob = NAN;

		d = (double)h * 1.0 / (double)lcm;
		if (h == 0) {
			prob = 1.0;
		} else if (n1 == n2) {
			prob = ks_prob_outside_square(n1, h);
		} else if ((err = ks_prob_outside_band(n1, n2, g, h, &prob)) < 0) {
			return err;
		}
		if (prob >= 0 && prob <= 1) {
			out->method = STATTEST_KS_EXACT;
			out->p_value = prob;
		} else {
			out->method = STATTEST_KS_ASYMP_FALLBACK;
		}
	}
	if (out->method != STATTEST_KS_EXACT) {
		double m = (double)(na > nb ? na : nb), n = (double)(na > nb ? nb : na);
		double nr = rint(m * n / (m + n)), prob;

		if (nr < 1) {
			prob = NAN;   /* kstwo rejects n = 0, as scipy's does */
		} else if ((err = ksdist_kstwo_sf((size_t)nr, d, &prob)) < 0) {
			return err;
		}
		out->p_value = prob;
	}
	if (out->p_value < 0)
		out->p_value = 0;
	if (out->p_value > 1)
		out->p_value = 1;
	out->statistic = d;
	en = (double)((uint64_t)na * (uint64_t)nb) / (double)(na + nb);
	out->p_value_kolmogorov = ksdist_kolmogorov(sqrt(en) * d);
	return 0;
}

/* ------------------------------------------------------------ Wasserstein */

int stattest_wasserstein(const double *u, size_t nu, const double *v, size_t nv, double *out)
{
	size_t i = 0, j = 0, fill = 0;
	double *buf, acc = 0;
	int err;

	if ((err = check_sample(u, nu, "reference")) < 0 || (err = check_sample(v, nv, "current")) < 0)
		return err;
	buf = cmalloc(NP_BUFSIZE * sizeof(double));
	if (!buf)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for the Wasserstein sum");
	/* Walk the merged sorted values x_0..x_{N-1}. Term k is |U(x_k) - V(x_k)|
	 * (x_{k+1} - x_k) with U(x_k) = #u <= x_k / nu: when x_{k+1} > x_k the
	 * k+1 values taken so far are exactly those <= x_k, and when they tie
	 * the term is 0. The N-1 terms are summed the way np.sum sums them. */
	for (size_t k = 0; k + 1 < nu + nv; k++) {
		double x, y, t;

		if (j >= nv || (i < nu && u[i] <= v[j]))
			x = u[i++];
		else
			x = v[j++];
		y = (j >= nv || (i < nu && u[i] <= v[j])) ? u[i] : v[j];
		t = y > x ? fabs((double)i / (double)nu - (double)j / (double)nv) * (y - x) : 0.0;
		buf[fill++] = t;
		if (fill == NP_BUFSIZE) {
			acc += pairwise(buf, fill);
			fill = 0;
		}
	}
	if (fill)
		acc += pairwise(buf, fill);
	free(buf);
	*out = acc;
	return 0;
}

/* ---------------------------------------------------------------- binning */

int stattest_sturges_edges(double min, double max, size_t n, double *edges, size_t cap, size_t *nedges)
{
	double first = min, last = max, delta, step;
	size_t nbins = 1;

	if (n == 0)
		return cairn_error_set(CAIRN_EINVALID, "sturges bins of an empty sample");
	if (!isfinite(min) || !isfinite(max) || min > max)
		return cairn_error_set(CAIRN_EINVALID, "sturges range [%g, %g] is not a finite interval", min, max);
	if (first == last) {
		first = first - 0.5;
		last = last + 0.5;
	} else {
		double ptp = max - min, width, q;

		if (!isfinite(ptp))
			return cairn_error_set(CAIRN_EINVALID, "sturges range [%g, %g] is too wide for a double", min, max);
		width = ptp / (log2((double)n) + 1.0);
		if (width != 0) {
			q = ceil(ptp / width);
			if (!(q < (double)STATTEST_STURGES_MAX_EDGES))
				return cairn_error_set(CAIRN_ETOOBIG, "sturges binning of [%g, %g] wants %g bins", min, max, q);
			nbins = (size_t)q;
		}
	}
	if (!edges || cap < nbins + 1)
		return cairn_error_set(CAIRN_ETOOBIG, "sturges binning needs %zu edges, room for %zu", nbins + 1, cap);
	/* numpy.linspace(first, last, nbins + 1) */
	delta = last - first;
	step = delta / (double)nbins;
	for (size_t i = 0; i <= nbins; i++) {
		if (step == 0)
			edges[i] = (double)i / (double)nbins * delta + first;
		else
			edges[i] = (double)i * step + first;
	}
	edges[nbins] = last;
	*nedges = nbins + 1;
	return 0;
}

/* The number of x[] < e (left) or <= e (!left): numpy searchsorted. */
static size_t search_sorted(const double *x, size_t n, double e, bool left)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (left ? x[mid] < e : x[mid] <= e)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int stattest_histogram_sorted(const double *x, size_t n, const double *edges, size_t nedges, size_t *counts)
{
	size_t prev;
	int err;

	if (!edges || nedges < 2 || !counts)
		return cairn_error_set(CAIRN_EINVALID, "a histogram needs at least 2 edges (got %zu)", nedges);
	if ((err = check_sorted(edges, nedges, "edges")) < 0)
		return err;
	if (n && !x)
		return cairn_error_set(CAIRN_EINVALID, "'sample' is missing");
	if ((err = check_sorted(x, n, "sample")) < 0)
		return err;
	prev = search_sorted(x, n, edges[0], true);
	for (size_t i = 1; i < nedges; i++) {
		size_t c = search_sorted(x, n, edges[i], i + 1 < nedges);

		counts[i - 1] = c - prev;
		prev = c;
	}
	return 0;
}

/* ---------------------------------------------------- PSI, KL and JS */

/* shares c/n of one side, zero shares replaced as Evidently does */
static void shares(const size_t *c, size_t k, double n, bool fill_zeroes, double *p)
{
	double m = INFINITY;

	for (size_t i = 0; i < k; i++) {
		p[i] = (double)c[i] / n;
		if (p[i] != 0 && p[i] < m)
			m = p[i];
	}
	if (!fill_zeroes)
		return;
	for (size_t i = 0; i < k; i++)
		if (p[i] == 0)
			p[i] = m <= 0.0001 ? m / 1000000 : 0.0001;
}

/* scipy.special.rel_entr */
static double rel_entr(double x, double y)
{
	if (isnan(x) || isnan(y))
		return NAN;
	if (x > 0 && y > 0)
		return x * log(x / y);
	if (x == 0 && y >= 0)
		return 0;
	return INFINITY;
}

enum divergence { DIV_PSI, DIV_KL, DIV_JS };

static int divergence(const size_t *ref, const size_t *cur, size_t k, enum divergence kind, double *out)
{
	double nref, ncur, *mem, *r, *c, *t;
	int err;

	if ((err = check_counts(ref, cur, k, &nref, &ncur)) < 0)
		return err;
	mem = cmalloc(3 * k * sizeof(double));
	if (!mem)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for %zu bins", k);
	r = mem;
	c = r + k;
	t = c + k;
	shares(ref, k, nref, kind != DIV_JS, r);
	shares(cur, k, ncur, kind != DIV_JS, c);
	if (kind == DIV_PSI) {
		for (size_t i = 0; i < k; i++)
			t[i] = (r[i] - c[i]) * log(r[i] / c[i]);
		*out = np_sum(t, k);
	} else {
		/* both renormalised to sum 1 first, as entropy() and
		 * jensenshannon() do */
		double sr = np_sum(r, k), sc = np_sum(c, k);

		for (size_t i = 0; i < k; i++) {
			r[i] = 1.0 * r[i] / sr;
			c[i] = 1.0 * c[i] / sc;
		}
		if (kind == DIV_KL) {
			for (size_t i = 0; i < k; i++)
				t[i] = rel_entr(r[i], c[i]);
			*out = np_sum(t, k);
		} else {
			double left, right;

			for (size_t i = 0; i < k; i++)
				t[i] = rel_entr(r[i], (r[i] + c[i]) / 2.0);
			left = np_sum(t, k);
			for (size_t i = 0; i < k; i++)
				t[i] = rel_entr(c[i], (r[i] + c[i]) / 2.0);
			right = np_sum(t, k);
			*out = sqrt((left + right) / 2.0);
		}
	}
	free(mem);
	return 0;
}

int stattest_psi(const size_t *ref, const size_t *cur, size_t k, double *out)
{
	return divergence(ref, cur, k, DIV_PSI, out);
}

int stattest_kl_div(const size_t *ref, const size_t *cur, size_t k, double *out)
{
	return divergence(ref, cur, k, DIV_KL, out);
}

int stattest_jensenshannon(const size_t *ref, const size_t *cur, size_t k, double *out)
{
	return divergence(ref, cur, k, DIV_JS, out);
}

/* ------------------------------------------------------------ chi-squared */

static double chi2_sf(double stat, size_t dof)
{
	if (isnan(stat))
		return NAN;
	if (isinf(stat))
		return 0.0;
	return gsl_cdf_chisq_Q(stat, (double)dof);
}

int stattest_chi2_evidently(const size_t *ref, const size_t *cur, size_t k, struct stattest_chi2 *out)
{
	double nref, ncur, knorm, *t;
	int err;

	if ((err = check_counts(ref, cur, k, &nref, &ncur)) < 0)
		return err;
	if (k < 2)
		return cairn_error_set(CAIRN_EINVALID, "chi-squared needs at least 2 keys (got %zu)", k);
	for (size_t i = 0; i < k; i++)
		if (ref[i] == 0 && cur[i] == 0)
			return cairn_error_set(CAIRN_EINVALID, "key %zu has no count on either side", i);
	t = cmalloc(k * sizeof(double));
	if (!t)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for %zu keys", k);
	knorm = ncur / nref;
	for (size_t i = 0; i < k; i++) {
		double e = (double)ref[i] * knorm, d = (double)cur[i] - e;

		t[i] = d * d / e;   /* inf where the reference lacks the key */
	}
	out->statistic = np_sum(t, k);
	out->dof = k - 1;
	out->p_value = chi2_sf(out->statistic, out->dof);
	free(t);
	return 0;
}

int stattest_chi2_homogeneity(const size_t *ref, const size_t *cur, size_t k, struct stattest_chi2 *out)
{
	double nref, ncur, total, *t;
	size_t kept = 0;
	int err;

	if ((err = check_counts(ref, cur, k, &nref, &ncur)) < 0)
		return err;
	for (size_t i = 0; i < k; i++)
		kept += ref[i] + cur[i] > 0;
	if (kept < 2) {
		out->statistic = 0.0;
		out->p_value = 1.0;
		out->dof = 0;
		return 0;
	}
	t = cmalloc(2 * kept * sizeof(double));
	if (!t)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for %zu keys", k);
	total = nref + ncur;
	/* the 2 x kept table row by row, as chi2_contingency ravels it */
	for (int row = 0; row < 2; row++) {
		const size_t *o = row ? cur : ref;
		double rsum = row ? ncur : nref;
		size_t c = 0;

		for (size_t i = 0; i < k; i++) {
			double e, d;

			if (ref[i] + cur[i] == 0)
				continue;
			e = rsum * (double)(ref[i] + cur[i]) / total;
			d = (double)o[i] - e;
			t[row * kept + c++] = d * d / e;
		}
	}
	out->statistic = np_sum(t, 2 * kept);
	out->dof = kept - 1;
	out->p_value = chi2_sf(out->statistic, out->dof);
	free(t);
	return 0;
}

/* ----------------------------------------------------------------- z-test */

/* scipy.special.ndtr: erf near 0, erfc in the tails */
static double ndtr(double a)
{
	double x = a * M_SQRT1_2, z = fabs(x), y;

	if (z < M_SQRT1_2)
		return 0.5 + 0.5 * erf(x);
	y = 0.5 * erfc(z);
	return x > 0 ? 1.0 - y : y;
}

int stattest_ztest(size_t k1, size_t n1, size_t k2, size_t n2, double *z, double *p_value)
{
	double p1, p2, pp, zz;

	if (n1 == 0 || n2 == 0)
		return cairn_error_set(CAIRN_EINVALID, "z-test of an empty sample (%zu and %zu values)", n1, n2);
	if (k1 > n1 || k2 > n2)
		return cairn_error_set(CAIRN_EINVALID, "z-test hits exceed the sample (%zu of %zu, %zu of %zu)", k1, n1, k2, n2);
	p1 = (double)k1 / (double)n1;
	p2 = (double)k2 / (double)n2;
	pp = (p1 * (double)n1 + p2 * (double)n2) / (double)(n1 + n2);
	if (pp <= 0 || pp >= 1) {
		*z = 0.0;
		*p_value = 1.0;
		return 0;
	}
	zz = (p1 - p2) / sqrt(pp * (1 - pp) * (1.0 / (double)n1 + 1.0 / (double)n2));
	*z = zz;
	*p_value = 2 * (1 - ndtr(fabs(zz)));
	return 0;
}
