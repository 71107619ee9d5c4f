/* ksdist.h - the Kolmogorov-Smirnov null distributions behind the KS p-values.
 *
 * Pure functions of (n, x), written to give the numbers scipy 1.10 gives:
 * the same series, recursions and switch-over points, so a KS p-value from
 * cairn and one from scipy.stats.ks_2samp agree to about 1e-12 relative
 * (see docs/drift-statistics.md). Used by stats/stattest.c; exported for
 * tests and for callers that already hold a statistic.
 */
#ifndef CAIRN_STATS_KSDIST_H
#define CAIRN_STATS_KSDIST_H

#include <stddef.h>

/* Survival function of the limiting two-sided Kolmogorov distribution,
 * P(K > x) = 2 * sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2): scipy.special.
 * kolmogorov(x) (cephes kolmogorov.c, the two Jacobi theta series switched
 * at x = 0.82). NaN in, NaN out; 1 for x <= 0. */
double ksdist_kolmogorov(double x);

/* Survival function of the exact one-sided statistic, P(D+_n >= x): scipy.
 * special.smirnov(n, x), the Birnbaum-Tingey sum (summed in long double here,
 * scipy uses double-double; the same special cases and the same
 * approximation above n = 1e6). NaN outside 0 <= x <= 1 or for n == 0. */
double ksdist_smirnov(size_t n, double x);

/* Survival function of the exact two-sided one-sample statistic,
 * P(D_n >= x): scipy.stats.kstwo.sf(x, n), i.e. scipy's _kolmogn(n, x,
 * cdf=False) after kstwo's support check (Simard & L'Ecuyer 2011: Ruben-
 * Gambino at the ends, 2*smirnov in the upper tail, the Durbin matrix (Marsaglia-
 * Tsang-Wang) or Pomeranz recursion for small n, Pelz-Good for large n).
 * *out gets the probability; CAIRN_EINVALID for n == 0 or a NaN x,
 * CAIRN_ENOMEM when the matrix cannot be allocated. */
int ksdist_kstwo_sf(size_t n, double x, double *out);

#endif
