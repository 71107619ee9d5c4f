/* tests/tracking/pyramid_ref.h - the sampling rule of tracking/pyramid.h
 * computed from the points themselves, for tests to compare with. */
#ifndef CAIRN_TESTS_PYRAMID_REF_H
#define CAIRN_TESTS_PYRAMID_REF_H

#include <stdbool.h>
#include <stdlib.h>

#include "tracking/pyramid.h"

/* The rule from the points: fine bucket of each point, the coarse bucket of
 * the fine bucket's first point, even ranks to their fine bucket's first
 * point (rank n - 1 to the last), each coarse bucket's first lowest and
 * first highest non-NaN point. */
static inline size_t ref_sample(const struct pyr_point *pts, size_t n, int64_t max, struct pyr_point *out)
{
	int64_t even = max < 4 ? max : max / 2 + 1, nc = (max - even) / 2;
	uint64_t span = (uint64_t)pts[n - 1].step - (uint64_t)pts[0].step;
	size_t *first = calloc(n, sizeof(*first)), k = 0;
	unsigned char *keep = calloc(n, 1);

	for (size_t i = 0; i < n; i++) {
		int64_t f = pyr_bucket_of((uint64_t)pts[i].step - (uint64_t)pts[0].step, span, PYR_BUCKETS);
		bool same = i && f == pyr_bucket_of((uint64_t)pts[i - 1].step - (uint64_t)pts[0].step, span, PYR_BUCKETS);

		first[i] = same ? first[i - 1] : i;
	}
	for (int64_t e = 0; e < even; e++) {
		size_t r = even == 1 ? n - 1 : (size_t)((double)e * (double)(n - 1) / (double)(even - 1) + 0.5);
		keep[r >= n - 1 ? n - 1 : first[r]] = 1;
	}
	for (size_t i = 0; nc >= 1 && i < n;) {
		int64_t c = pyr_bucket_of((uint64_t)pts[first[i]].step - (uint64_t)pts[0].step, span, nc);
		size_t lo = i, hi = i;

		for (; i < n && pyr_bucket_of((uint64_t)pts[first[i]].step - (uint64_t)pts[0].step, span, nc) == c; i++) {
			if (pts[i].is_nan)
				continue;
			if (pts[lo].is_nan || pts[i].v < pts[lo].v)
				lo = i;
			if (pts[hi].is_nan || pts[i].v > pts[hi].v)
				hi = i;
		}
		keep[lo] = keep[hi] = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (keep[i])
			out[k++] = pts[i];
	free(first);
	free(keep);
	return k;
}

#endif
