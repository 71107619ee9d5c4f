/* tests/tracking/pyramid.c - step buckets of a metric series (tracking/pyramid.h):
 * the sample from buckets against two references computed from the points,
 * the blob round trip and its validation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tracking/pyramid.h"
#include "tracking/pyramid_ref.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int64_t pick(int64_t lo, int64_t hi) /* in [lo, hi] */
{
	return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1));
}

static int qcmp(const void *a, const void *b)
{
	return pyr_point_cmp(a, b);
}

/* A random series in index order, no two points equal: steps dense or
 * sparse, repeated or spread over all of int64; values with NaN, +/-inf,
 * ties and spikes. */
static size_t random_series(struct pyr_point *pts, size_t cap)
{
	size_t n = (size_t)pick(1, (int64_t)cap), kept = 0;
	int shape = (int)pick(0, 5);
	int64_t base = pick(-1000000, 1000000);

	for (size_t i = 0; i < n; i++) {
		struct pyr_point *p = &pts[i];
		int64_t r = pick(0, 99);

		switch (shape) {
		case 0: p->step = base + (int64_t)i; break;                       /* one point a step */
		case 1: p->step = base + (int64_t)i / (int64_t)pick(1, 4); break;  /* repeated steps */
		case 2: p->step = pick(-50, 50); break;                           /* a few steps, many points */
		case 3: p->step = (int64_t)next(); break;                         /* all of int64 */
		case 4: p->step = r < 3 ? (r == 0 ? INT64_MIN : INT64_MAX) : pick(0, 20000); break; /* extremes + dense */
		default: p->step = pick(0, 100) * 1000003; break;                 /* sparse clusters */
		}
		p->ts = pick(0, 3);
		p->is_nan = r < 8;
		p->v = p->is_nan ? 0 : r < 10 ? INFINITY : r < 12 ? -INFINITY : r < 40 ? (double)pick(-3, 3)
		       : r < 42 ? (double)pick(-1000000, 1000000) : (double)(int64_t)next() / 1e15;
	}
	qsort(pts, n, sizeof(*pts), qcmp);
	for (size_t i = 0; i < n; i++)
		if (!kept || pyr_point_cmp(&pts[i], &pts[kept - 1]))
			pts[kept++] = pts[i];
	return kept;
}

static void build(struct pyramid *p, const struct pyr_point *pts, size_t n)
{
	pyr_init(p, pts[0].step, pts[n - 1].step);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(pyr_add(p, &pts[i]), 0, "%s", cairn_error_msg());
}

/* The sampler before the buckets (metric.c's sample_minmax, by rank and by
 * equal-width bucket of each point). */
static size_t old_sample(const struct pyr_point *pts, size_t n, int64_t max, struct pyr_point *out)
{
	int64_t even = max < 4 ? max : max / 2 + 1, nb = (max - even) / 2;
	uint64_t first = (uint64_t)pts[0].step, span = (uint64_t)pts[n - 1].step - first;
	unsigned char *keep = calloc(n, 1);
	size_t i = 0, k = 0;

	for (int64_t e = 0; e < even; e++)
		keep[even == 1 ? n - 1 : (size_t)((double)e * (double)(n - 1) / (double)(even - 1) + 0.5)] = 1;
	while (nb >= 1 && i < n) {
		size_t imin = i, imax = i;
		int64_t b = pyr_bucket_of((uint64_t)pts[i].step - first, span, nb);

		for (; i < n && pyr_bucket_of((uint64_t)pts[i].step - first, span, nb) == b; i++) {
			if (pts[i].is_nan)
				continue;
			if (pts[imin].is_nan || pts[i].v < pts[imin].v)
				imin = i;
			if (pts[imax].is_nan || pts[i].v > pts[imax].v)
				imax = i;
		}
		keep[imin] = keep[imax] = 1;
	}
	for (i = 0; i < n; i++)
		if (keep[i])
			out[k++] = pts[i];
	free(keep);
	return k;
}

static void same_points(const struct pyr_point *a, size_t na, const struct pyr_point *b, size_t nb, const char *what,
			int iter, int64_t max)
{
	cr_assert_eq(na, nb, "%s (series %d, max %lld): %zu points, expected %zu", what, iter, (long long)max, na, nb);
	for (size_t i = 0; i < na; i++)
		cr_assert(!pyr_point_cmp(&a[i], &b[i]) && a[i].is_nan == b[i].is_nan,
			  "%s (series %d, max %lld): point %zu is step %lld, expected %lld", what, iter, (long long)max, i,
			  (long long)a[i].step, (long long)b[i].step);
}

static const int64_t maxes[] = { 1, 2, 3, 4, 5, 6, 7, 9, 10, 17, 50, 320, 999, 2500 };

Test(tracking_pyramid, sample_from_buckets_equals_the_rule_from_the_points)
{
	enum { CAP = 30000 };
	struct pyr_point *pts = malloc(CAP * sizeof(*pts)), *got = malloc(2500 * sizeof(*got)),
			 *want = malloc(2500 * sizeof(*want));

	for (int iter = 0; iter < 300; iter++) {
		size_t n = random_series(pts, iter < 200 ? 3000 : CAP);
		struct pyramid p;

		build(&p, pts, n);
		cr_assert_eq(p.points, (int64_t)n);
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			size_t ng, nw;

			if ((int64_t)n <= maxes[m])
				continue;
			ng = pyr_sample(&p, maxes[m], got);
			nw = ref_sample(pts, n, maxes[m], want);
			same_points(got, ng, want, nw, "buckets vs points", iter, maxes[m]);
			cr_assert_leq(ng, (size_t)maxes[m]);
			cr_assert(!pyr_point_cmp(&got[ng - 1], &pts[n - 1]), "the last point is kept");
			cr_assert(maxes[m] == 1 || !pyr_point_cmp(&got[0], &pts[0]), "the first point is kept");
		}
		pyr_release(&p);
	}
	free(pts);
	free(got);
	free(want);
}

/* Where no fine bucket holds two points, the sample is exactly the one of
 * the sampler before the buckets. */
Test(tracking_pyramid, one_point_a_bucket_samples_as_before)
{
	enum { CAP = PYR_BUCKETS };
	struct pyr_point *pts = malloc(CAP * sizeof(*pts)), *got = malloc(2500 * sizeof(*got)),
			 *want = malloc(2500 * sizeof(*want));

	for (int iter = 0; iter < 200; iter++) {
		size_t n = (size_t)pick(2, CAP);
		int64_t base = pick(-100000, 100000), span = pick((int64_t)n - 1, CAP - 1);
		struct pyramid p;

		/* n distinct steps in [base, base + span], span < PYR_BUCKETS */
		for (size_t i = 0; i < n; i++) {
			pts[i].step = i == 0 ? base : i == n - 1 ? base + span
				    : base + 1 + (int64_t)((double)(i - 1) * (double)(span - 1) / (double)(n - 2));
			pts[i].ts = pick(0, 1000);
			pts[i].is_nan = pick(0, 20) == 0;
			pts[i].v = pts[i].is_nan ? 0 : (double)pick(-5, 5);
		}
		build(&p, pts, n);
		cr_assert_eq(p.nb, n, "one point a bucket");
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			size_t ng, nw;

			if ((int64_t)n <= maxes[m])
				continue;
			ng = pyr_sample(&p, maxes[m], got);
			nw = old_sample(pts, n, maxes[m], want);
			same_points(got, ng, want, nw, "buckets vs the old sampler", iter, maxes[m]);
		}
		pyr_release(&p);
	}
	free(pts);
	free(got);
	free(want);
}

Test(tracking_pyramid, blob_round_trip)
{
	enum { CAP = 20000 };
	struct pyr_point *pts = malloc(CAP * sizeof(*pts)), *a = malloc(2500 * sizeof(*a)), *b = malloc(2500 * sizeof(*b));

	for (int iter = 0; iter < 200; iter++) {
		size_t n = random_series(pts, CAP);
		struct pyramid p, q;
		struct buf blob = BUF_INIT;

		build(&p, pts, n);
		cr_assert_eq(pyr_encode(&p, &blob), 0);
		pyr_init(&q, 0, 0);
		cr_assert_eq(pyr_decode(blob.ptr, blob.len, &q), 0, "series %d: %s", iter, cairn_error_msg());
		cr_assert_eq(q.points, p.points);
		cr_assert_eq(q.min_step, p.min_step);
		cr_assert_eq(q.max_step, p.max_step);
		cr_assert_eq(q.nb, p.nb);
		for (size_t i = 0; i < p.nb; i++) {
			cr_assert_eq(q.b[i].idx, p.b[i].idx);
			cr_assert_eq(q.b[i].count, p.b[i].count);
			cr_assert(!pyr_point_cmp(&q.b[i].first, &p.b[i].first) && !pyr_point_cmp(&q.b[i].min, &p.b[i].min) &&
				  !pyr_point_cmp(&q.b[i].max, &p.b[i].max));
			cr_assert(q.b[i].min.is_nan == p.b[i].min.is_nan && q.b[i].max.is_nan == p.b[i].max.is_nan);
		}
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			size_t na, nb;

			if ((int64_t)n <= maxes[m])
				continue;
			na = pyr_sample(&q, maxes[m], a);
			nb = pyr_sample(&p, maxes[m], b);
			same_points(a, na, b, nb, "decoded vs built", iter, maxes[m]);
		}
		pyr_release(&p);
		pyr_release(&q);
		buf_release(&blob);
	}
	free(pts);
	free(a);
	free(b);
}

/* A blob cut short or with any byte changed is refused or read as some
 * consistent pyramid, never past its end (ASan) nor into a sample that
 * breaks its bounds. */
Test(tracking_pyramid, malformed_blobs_are_refused)
{
	struct pyr_point pts[600], out[100];
	struct pyramid p, q;
	struct buf blob = BUF_INIT;
	size_t n;

	do
		n = random_series(pts, 600);
	while (n < 200);
	build(&p, pts, n);
	cr_assert_eq(pyr_encode(&p, &blob), 0);
	for (size_t len = 0; len < blob.len; len++) {
		pyr_init(&q, 0, 0);
		cr_assert_eq(pyr_decode(blob.ptr, len, &q), CAIRN_EINVALID, "%zu of %zu bytes", len, blob.len);
		cr_assert_null(q.b);
	}
	for (int iter = 0; iter < 3000; iter++) {
		char *bad = malloc(blob.len + 1);
		size_t at = (size_t)pick(0, (int64_t)blob.len - 1);

		memcpy(bad, blob.ptr, blob.len);
		bad[at] ^= (char)(1u << pick(0, 7));
		pyr_init(&q, 0, 0);
		if (pyr_decode(bad, blob.len, &q) == 0) {
			size_t k = pyr_sample(&q, 100, out);

			cr_assert_leq(k, 100);
			for (size_t i = 0; i < k; i++)
				cr_assert(out[i].step >= q.min_step && out[i].step <= q.max_step);
		}
		pyr_release(&q);
		free(bad);
	}
	/* trailing bytes */
	buf_putc(&blob, 0);
	pyr_init(&q, 0, 0);
	cr_assert_eq(pyr_decode(blob.ptr, blob.len, &q), CAIRN_EINVALID);
	pyr_release(&p);
	buf_release(&blob);
}

Test(tracking_pyramid, points_out_of_order_or_range_are_an_error)
{
	struct pyramid p;
	struct pyr_point a = { 5, 1, 1.0, false }, b = { 4, 1, 1.0, false }, c = { 11, 1, 1.0, false };

	pyr_init(&p, 0, 10);
	cr_assert_eq(pyr_add(&p, &a), 0);
	cr_assert_eq(pyr_add(&p, &b), CAIRN_ERR);
	cr_assert_eq(pyr_add(&p, &c), CAIRN_ERR);
	cr_assert_eq(pyr_add(&p, &a), 0, "an equal point is not out of order");
	cr_assert_eq(p.points, 2);
	pyr_release(&p);
}
