/* ksdist.c - Kolmogorov-Smirnov null distributions with scipy 1.10's numbers.
 *
 * Written from the published algorithms and from reading scipy's choices of
 * method (scipy/stats/_ksstats.py, scipy/special/cephes/kolmogorov.c); no
 * scipy code is copied. Where the choice of method or a constant changes the
 * last digits, scipy's is kept so that results agree with it.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fault.h"
#include "stats/ksdist.h"

#define SQRT2PI 2.5066282746310002     /* sqrt(2 pi), as numpy's np.sqrt(2*np.pi) */
#define LOG_2PI 1.8378770664093453     /* log(2 pi) */
#define LOG_MIN_EXP (-745.13321910194110842)  /* log of the smallest subnormal */

static double clip01(double p)
{
	if (p < 0)
		return 0;
	return p > 1 ? 1 : p;
}

/* ---------------------------------------------------------------- limit */

double ksdist_kolmogorov(double x)
{
	double p;

	if (isnan(x))
		return NAN;
	if (x <= 0)
		return 1.0;
	/* below pi/sqrt(8*746) every term of the small-x series underflows */
	if (x <= M_PI / sqrt(746.0 * 8))
		return 1.0;
	if (x <= 0.82) {
		/* cdf = sqrt(2pi)/x * sum_{k>=1} u^((2k-1)^2), u = exp(-pi^2/(8x^2));
		 * three terms suffice below the switch-over: u (1 + u^8 + u^24 + ...),
		 * nested as 1 + u8 (1 + u8^2 (1 + u8^3)). */
		double w = SQRT2PI / x;
		double logu8 = -M_PI * M_PI / (x * x);
		double u = exp(logu8 / 8);
		double cdf;

		if (u == 0) {
			cdf = exp(logu8 / 8 + log(w));
		} else {
			double u8 = exp(logu8);
			double s = 1 + pow(u8, 3);

			s = 1 + u8 * u8 * s;
			s = 1 + u8 * s;
			cdf = w * u * s;
		}
		p = 1 - cdf;
	} else {
		/* sf = 2 sum_{k>=1} (-1)^(k-1) v^(k^2), v = exp(-2x^2), nested as
		 * 2v (1 - v^3 (1 - v^5 (1 - v^7))); four terms above the switch-over. */
		double v = exp(-2 * x * x);
		double v3 = pow(v, 3);
		double s = 1.0;

		s = 1 - v3 * v3 * v * s;
		s = 1 - v3 * (v * v) * s;
		s = 1 - v3 * s;
		p = 2 * v * s;
	}
	return clip01(p);
}

/* --------------------------------------------------------------- smirnov */

/* floor(n*x) and its fractional part, exactly (the product as a double pair). */
static double split_nx(size_t n, double x, long long *floor_out)
{
	double hi = (double)n * x;
	double lo = fma((double)n, x, -hi);
	double fl = floor(hi);
	double alpha = (hi - fl) + lo;

	if (alpha < 0) {
		fl -= 1;
		alpha += 1;
	}
	if (alpha >= 1) {
		fl += 1;
		alpha = 0;
	}
	*floor_out = (long long)fl;
	return alpha;
}

double ksdist_smirnov(size_t n, double x)
{
	long long nxfl, nterms;
	long double lgn1, sum = 0, nn = (long double)n;
	double alpha;

	if (!(n > 0 && x >= 0.0 && x <= 1.0))
		return NAN;
	if (n == 1)
		return 1 - x;
	if (x == 0.0)
		return 1.0;
	if (x == 1.0)
		return 0.0;
	alpha = split_nx(n, x, &nxfl);
	/* x <= 1/n: cdf = x (1+x)^(n-1) */
	if (nxfl == 0 || (nxfl == 1 && alpha == 0))
		return clip01(1 - x * exp((double)(n - 1) * log1p(x)));
	/* the survival underflows */
	if (-2 * (double)n * x * x < LOG_MIN_EXP)
		return 0.0;
	/* x >= 1 - 1/n: sf = (1-x)^n */
	if (nxfl >= (long long)n - 1)
		return clip01(exp((double)n * log1p(-x)));
	if (n > 1000000) {
		/* scipy's cut-off: p ~ exp(-(6nx+1)^2 / (18n)) */
		double logp = -pow(6.0 * (double)n * x + 1, 2) / 18.0 / (double)n;

		if (logp < -M_LN2)
			return clip01(exp(logp));
		return clip01(1 - -expm1(logp));
	}
	/* Birnbaum-Tingey: sf = x sum_{v=0}^{n-ceil(nx)} C(n,v) (x+v/n)^(v-1)
	 * (1-x-v/n)^(n-v); every term is positive, so each is formed in logs
	 * (long double) and the sum is accurate to a few ulps. Terms with
	 * 1-x-v/n == 0 vanish, so the sum stops at v = n - floor(nx) - 1. */
	lgn1 = lgammal(nn + 1);
	nterms = (long long)n - nxfl;
	for (long long v = 0; v < nterms; v++) {
		long double vv = (long double)v;
		long double up = ((long double)nxfl + vv + (long double)alpha) / nn;        /* x + v/n */
		long double down = (((long double)n - (long double)nxfl - vv) - (long double)alpha) / nn; /* 1 - x - v/n */
		long double lt, term;

		if (down <= 0)
			break;
		lt = lgn1 - lgammal(vv + 1) - lgammal(nn - vv + 1) + (vv - 1) * logl(up) + (nn - vv) * logl(down);
		term = expl(lt);
		sum += term;
		/* the rest cannot matter (scipy stops on the same rule) */
		if (term != 0 && v != nterms - 1 && 4.0L * (long double)(nterms - v) * term < (long double)DBL_EPSILON * sum)
			break;
		if (term == 0 && v > (long long)n / 2)
			break;
	}
	return clip01((double)((long double)x * sum));
}

/* ------------------------------------------------------------ Durbin (MTW) */

/* c = a b for m x m row-major matrices. */
static void matmul(const double *a, const double *b, double *c, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < m; j++)
			c[i * m + j] = 0;
		for (size_t k = 0; k < m; k++) {
			double aik = a[i * m + k];

			for (size_t j = 0; j < m; j++)
				c[i * m + j] += aik * b[k * m + j];
		}
	}
}

/* P(D_n < d) by the Durbin matrix, H^n with the Marsaglia-Tsang-Wang
 * scaling (an exponent kept apart in steps of 2^128). */
static int cdf_durbin(size_t n, double d, double *out)
{
	const double big = ldexp(1.0, 128);
	double nd = (double)n * d, h, fac, tt;
	size_t k, m;
	double *mem = NULL, *hm, *pw, *tmp, *v, *w;
	long expnt = 0, hexpnt = 0;
	long double p;

	if (d >= 1.0) {
		*out = 1.0;
		return 0;
	}
	if (nd <= 0.5) {
		*out = 0.0;
		return 0;
	}
	k = (size_t)ceil(nd);
	h = (double)k - nd;
	m = 2 * k - 1;
	mem = ccalloc(3 * m * m + 2 * m, sizeof(double));
	if (!mem)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for a %zux%zu Kolmogorov matrix", m, m);
	hm = mem;
	pw = hm + m * m;
	tmp = pw + m * m;
	v = tmp + m * m;
	w = v + m;
	fac = 1.0;
	for (size_t j = 1; j <= m; j++) {
		w[j - 1] = fac;
		fac /= (double)j;
		v[j - 1] = (1.0 - pow(h, (double)j)) * fac;
	}
	tt = pow(fmax(2 * h - 1.0, 0), (double)m) - 2 * pow(h, (double)m);
	v[m - 1] = (1.0 + tt) * fac;
	/* H[r][c] = 1/(r-c+1)! below the superdiagonal, v down the first column
	 * and reversed along the last row */
	for (size_t c = 1; c < m; c++)
		for (size_t r = c - 1; r < m; r++)
			hm[r * m + c] = w[r - (c - 1)];
	for (size_t r = 0; r < m; r++)
		hm[r * m] = v[r];
	for (size_t c = 0; c < m; c++)
		hm[(m - 1) * m + c] = v[m - 1 - c];
	for (size_t i = 0; i < m; i++)
		pw[i * m + i] = 1.0;
	for (size_t e = n; e > 0; e /= 2) {
		if (e % 2) {
			matmul(pw, hm, tmp, m);
			memcpy(pw, tmp, m * m * sizeof(double));
			expnt += hexpnt;
		}
		matmul(hm, hm, tmp, m);
		memcpy(hm, tmp, m * m * sizeof(double));
		hexpnt *= 2;
		if (fabs(hm[(k - 1) * m + (k - 1)]) > big) {
			for (size_t i = 0; i < m * m; i++)
				hm[i] /= big;
			hexpnt += 128;
		}
	}
	p = pw[(k - 1) * m + (k - 1)];
	for (size_t i = 1; i <= n; i++) {
		p = (long double)i * p / (long double)n;
		if (fabsl(p) < 1.0L / (long double)big) {
			p *= big;
			expnt -= 128;
		}
	}
	free(mem);
	*out = clip01((double)ldexpl(p, (int)expnt));
	return 0;
}

/* -------------------------------------------------------------- Pomeranz */

static void pomeranz_bounds(long i, long n, long ll, long ceilf, long roundf, long *j1, long *j2)
{
	long a, b;

	if (i == 0) {
		a = -ll - ceilf - 1;
		b = ll + ceilf - 1;
	} else {
		long half = (i + 1) / 2;

		if ((i + 1) % 2 == 0) {
			if (half == n + 1) {
				a = n - ll - ceilf - 1;
				b = n + ll + ceilf - 1;
			} else {
				a = half - 1 - ll - roundf - 1;
				b = half + ll - 1 + ceilf - 1;
			}
		} else {
			a = half - 1 - ll - 1;
			b = half + ll + roundf - 1;
		}
	}
	*j1 = a + 2 > 0 ? a + 2 : 0;
	*j2 = b < n ? b : n;
}

/* P(D_n < x) by Pomeranz's recursion (n <= 140 only, as scipy uses it). */
static int cdf_pomeranz(size_t un, double x, double *out)
{
	const double big = ldexp(1.0, 128), small = ldexp(1.0, -128);
	long n = (long)un;
	double t = (double)n * x, f, g, ans;
	long ll, ceilf, roundf, npw, j1, j2, v0s = 0, v1s = 0, expnt = 0;
	double *mem, *gp, *tgp, *ogp, *va, *vb, *v0, *v1, *conv;

	ll = (long)floor(t);
	f = t - (double)ll;
	g = fmin(f, 1.0 - f);
	ceilf = f > 0;
	roundf = f > 0.5;
	npw = 2 * (ll + 1);
	mem = ccalloc((size_t)(7 * npw), sizeof(double));
	if (!mem)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for the Pomeranz recursion");
	gp = mem;
	tgp = gp + npw;
	ogp = tgp + npw;
	va = ogp + npw;
	vb = va + npw;
	conv = vb + npw;   /* 2 * npw */
	gp[0] = tgp[0] = ogp[0] = 1.0;
	{
		double a = g / (double)n, b = 2 * g / (double)n, c = (1 - 2 * g) / (double)n;

		for (long m = 1; m < npw; m++) {
			gp[m] = gp[m - 1] * a / (double)m;
			tgp[m] = tgp[m - 1] * b / (double)m;
			ogp[m] = ogp[m - 1] * c / (double)m;
		}
	}
	v0 = va;
	v1 = vb;
	v1[0] = 1;
	pomeranz_bounds(0, n, ll, ceilf, roundf, &j1, &j2);
	for (long i = 1; i < 2 * n + 2; i++) {
		long k1 = j1, len, off, alen;
		double *sw = v0, *pwrs;

		v0 = v1;
		v1 = sw;
		{
			long s = v0s;

			v0s = v1s;
			v1s = s;
		}
		memset(v1, 0, (size_t)npw * sizeof(double));
		pomeranz_bounds(i, n, ll, ceilf, roundf, &j1, &j2);
		if (i == 1 || i == 2 * n + 1)
			pwrs = gp;
		else
			pwrs = i % 2 ? tgp : ogp;
		len = j2 - k1 + 1;
		if (len <= 0)
			continue;
		off = k1 - v0s;
		CAIRN_ASSERT(off >= 0 && len <= npw);
		alen = off + len <= npw ? len : npw - off;
		if (alen < 0)
			alen = 0;
		/* the full convolution of v0[off..off+alen) with pwrs[0..len) */
		for (long c = 0; c < alen + len - 1; c++) {
			double s = 0;

			for (long a = 0; a < alen; a++) {
				long b = c - a;

				if (b >= 0 && b < len)
					s += v0[off + a] * pwrs[b];
			}
			conv[c] = s;
		}
		{
			long start = j1 - k1, cnt = j2 - j1 + 1;
			double mx;

			for (long c = 0; c < cnt; c++)
				v1[c] = conv[start + c];
			mx = v1[0];
			for (long c = 1; c < npw; c++)
				if (v1[c] > mx)
					mx = v1[c];
			if (0 < mx && mx < small) {
				for (long c = 0; c < npw; c++)
					v1[c] *= big;
				expnt -= 128;
			}
		}
		v1s = v0s + j1 - k1;
	}
	ans = v1[n - v1s];
	for (long m = 1; m <= n; m++) {
		if (fabs(ans) > big) {
			ans *= small;
			expnt += 128;
		}
		ans *= (double)m;
	}
	free(mem);
	*out = clip01(ldexp(ans, (int)expnt));
	return 0;
}

/* ------------------------------------------------------------- Pelz-Good */

/* The Pelz-Good expansion of P(D_n < x) in powers of 1/sqrt(n). */
static double cdf_pelz_good(size_t un, double x)
{
	const double pi2 = M_PI * M_PI, pi4 = pow(M_PI, 4), pi6 = pow(M_PI, 6);
	double n = (double)un, z, z2, z3, z4, z6, qlog, q, k[4] = { 0, 0, 0, 0 };
	double k1a, k1b, k2a, k2b, k2c, k3a, k3b, k3c, k3d, s2[16], s3[16], e2, e3;
	long maxk;

	if (x <= 0.0)
		return 0.0;
	if (x >= 1.0)
		return 1.0;
	z = sqrt(n) * x;
	z2 = pow(z, 2);
	z3 = pow(z, 3);
	z4 = pow(z, 4);
	z6 = pow(z, 6);
	qlog = -pi2 / 8 / z2;
	if (qlog < -708)
		return 0.0;
	q = exp(qlog);
	k1a = -z2;
	k1b = pi2 / 4;
	k2a = 6 * z6 + 2 * z4;
	k2b = (2 * z4 - 5 * z2) * pi2 / 4;
	k2c = pi4 * (1 - 2 * z2) / 16;
	k3d = pi6 * (5 - 30 * z2) / 64;
	k3c = pi4 * (-60 * z2 + 212 * z4) / 16;
	k3b = pi2 * (135 * z4 - 96 * z6) / 4;
	k3a = -30 * z6 - 90 * pow(z, 8);
	maxk = (long)ceil(16 * z / M_PI);
	if (maxk > 16)
		maxk = 16;   /* z < 1.49 where it is used: maxk <= 8 */
	for (long kk = maxk; kk > 0; kk--) {
		double m = (double)(2 * kk - 1), m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
		double qp = pow(q, (double)(8 * kk));
		double c[4] = { 1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
			k3a + k3b * m2 + k3c * m4 + k3d * m6 };

		for (int i = 0; i < 4; i++)
			k[i] = k[i] * qp + c[i];
	}
	for (int i = 0; i < 4; i++)
		k[i] = k[i] * q * SQRT2PI;
	k[0] /= z;
	k[1] /= 6 * z4;
	k[2] /= 72 * pow(z, 7);
	k[3] /= 6480 * pow(z, 10);
	q = exp(-pi2 / 2 / z2);
	for (long kk = maxk, i = 0; kk > 0; kk--, i++) {
		double ks = (double)(kk * kk), kp = M_PI * (double)kk, s3z = sqrt(3.0) * z;
		double qk = pow(q, ks);

		s2[i] = ks * qk;
		s3[i] = (s3z + kp) * (s3z - kp) * ks * qk;
	}
	e2 = 0;
	e3 = 0;
	/* numpy's sum of at most 8 terms: plain order below 8, eight lanes at 8 */
	if (maxk < 8) {
		for (long i = 0; i < maxk; i++) {
			e2 += s2[i];
			e3 += s3[i];
		}
	} else {
		e2 = ((s2[0] + s2[1]) + (s2[2] + s2[3])) + ((s2[4] + s2[5]) + (s2[6] + s2[7]));
		e3 = ((s3[0] + s3[1]) + (s3[2] + s3[3])) + ((s3[4] + s3[5]) + (s3[6] + s3[7]));
		for (long i = 8; i < maxk; i++) {
			e2 += s2[i];
			e3 += s3[i];
		}
	}
	k[2] += e2 * (pi2 * SQRT2PI / (-36 * z3));
	k[3] += e3 * (pi2 * SQRT2PI / (216 * z6));
	k[1] /= pow(n, 0.5);
	k[2] /= pow(n, 1.0);
	k[3] /= pow(n, 1.5);
	return k[0] + k[1] + k[2] + k[3];
}

/* ------------------------------------------------------------------ kstwo */

/* log(n!/n^n) by Stirling's series (scipy's coefficients). */
static double log_nfact_over_npown(double n)
{
	static const double c[] = { -2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4,
		7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2 };
	double rn = 1.0 / n, u = rn / n, p = c[0];

	for (size_t i = 1; i < sizeof(c) / sizeof(c[0]); i++)
		p = p * u + c[i];
	return log(n) / 2 - n + LOG_2PI / 2 + rn * p;
}

int ksdist_kstwo_sf(size_t n, double x, double *out)
{
	double t, nx2, cdf;
	int err;

	if (n == 0 || isnan(x))
		return cairn_error_set(CAIRN_EINVALID, "kstwo needs n >= 1 and a number (n %zu)", n);
	/* kstwo's support is (1/(2n), 1) */
	if (x <= 0.5 / (double)n) {
		*out = 1.0;
		return 0;
	}
	if (x >= 1.0) {
		*out = 0.0;
		return 0;
	}
	t = (double)n * x;
	if (t <= 1.0) {
		/* Ruben-Gambino: cdf = n!/n^n (2t-1)^n */
		double prob;

		if (n <= 140) {
			prob = 1.0;
			for (size_t i = 1; i <= n; i++)
				prob *= (double)i * (1.0 / (double)n) * (2 * t - 1);
		} else {
			prob = exp(log_nfact_over_npown((double)n) + (double)n * log(2 * t - 1));
		}
		*out = clip01(1.0 - prob);
		return 0;
	}
	if (t >= (double)n - 1) {
		*out = clip01(2 * pow(1.0 - x, (double)n));
		return 0;
	}
	if (x >= 0.5) {
		*out = clip01(2 * ksdist_smirnov(n, x));
		return 0;
	}
	nx2 = t * x;
	if (n <= 140) {
		if (nx2 <= 0.754693)
			err = cdf_durbin(n, x, &cdf);
		else if (nx2 <= 4)
			err = cdf_pomeranz(n, x, &cdf);
		else {
			*out = clip01(2 * ksdist_smirnov(n, x));
			return 0;
		}
		if (err)
			return err;
		*out = clip01(1.0 - cdf);
		return 0;
	}
	if (nx2 >= 370.0) {
		*out = 0.0;
		return 0;
	}
	if (nx2 >= 2.2) {
		*out = clip01(2 * ksdist_smirnov(n, x));
		return 0;
	}
	if (n <= 100000 && (double)n * pow(x, 1.5) <= 1.4) {
		err = cdf_durbin(n, x, &cdf);
		if (err)
			return err;
	} else {
		cdf = cdf_pelz_good(n, x);
	}
	*out = clip01(1.0 - cdf);
	return 0;
}
