/* fuzz_pyramid.c - libFuzzer target: a metric series' step buckets (tracking/pyramid).
 *
 * Input: a mode byte, then bytes. Mode 0 (the byte even): the bytes are a kept
 * blob (damaged or cut anywhere), as metric_pyramids hands it back. Mode 1:
 * the bytes are a series, 11 bytes a point (i64 step, u8 timestamp, u8 value
 * class, u8 value), put in index order without repeats.
 * Invariants: a blob decodes or is refused (CAIRN_EINVALID), never read past
 * its end; a decoded pyramid samples to at most max points, in index order,
 * inside its steps, its last point last, and encodes back to a blob that
 * decodes to the same sample. A series' pyramid round-trips through its blob,
 * and samples exactly as the rule computed from the points says
 * (tests/tracking/pyramid_ref.h) for every max_results tried.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tracking/pyramid.h"
#include "../tests/tracking/pyramid_ref.h"

static const int64_t maxes[] = { 1, 2, 4, 5, 9, 50, 320 };

static int qcmp(const void *a, const void *b)
{
	return pyr_point_cmp(a, b);
}

static void same_sample(const struct pyr_point *a, size_t na, const struct pyr_point *b, size_t nb)
{
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++)
		if (pyr_point_cmp(&a[i], &b[i]) || a[i].is_nan != b[i].is_nan)
			abort();
}

/* The sample's invariants, and the same sample after a blob round trip. */
static void check(const struct pyramid *p)
{
	static struct pyr_point a[320], b[320];
	struct buf blob = BUF_INIT;
	struct pyramid q;

	if (pyr_encode(p, &blob))
		abort();
	pyr_init(&q, 0, 0);
	if (pyr_decode(blob.ptr, blob.len, &q))
		abort();
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		size_t na, nb;

		if (p->points <= maxes[m])
			continue;
		na = pyr_sample(p, maxes[m], a);
		if (!na || na > (size_t)maxes[m] || pyr_point_cmp(&a[na - 1], &p->last))
			abort();
		for (size_t i = 0; i < na; i++)
			if (a[i].step < p->min_step || a[i].step > p->max_step || (i && pyr_point_cmp(&a[i - 1], &a[i]) >= 0))
				abort();
		nb = pyr_sample(&q, maxes[m], b);
		same_sample(a, na, b, nb);
	}
	pyr_release(&q);
	buf_release(&blob);
}

static void series(const unsigned char *d, size_t n)
{
	static struct pyr_point pts[1024], a[320], want[320];
	size_t np = 0, kept = 0;
	struct pyramid p;

	for (; n >= 11 && np < 1024; d += 11, n -= 11, np++) {
		uint64_t step = 0;

		for (int i = 0; i < 8; i++)
			step |= (uint64_t)d[i] << (8 * i);
		pts[np].step = (int64_t)step;
		pts[np].ts = d[8] % 4;
		pts[np].is_nan = d[9] % 8 == 0;
		pts[np].v = pts[np].is_nan ? 0 : d[9] % 8 == 1 ? INFINITY : d[9] % 8 == 2 ? -INFINITY : (double)(int8_t)d[10];
	}
	if (!np)
		return;
	qsort(pts, np, sizeof(*pts), qcmp);
	for (size_t i = 0; i < np; i++)
		if (!kept || pyr_point_cmp(&pts[i], &pts[kept - 1]))
			pts[kept++] = pts[i];
	pyr_init(&p, pts[0].step, pts[kept - 1].step);
	for (size_t i = 0; i < kept; i++)
		if (pyr_add(&p, &pts[i]))
			abort();
	check(&p);
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
		if ((int64_t)kept > maxes[m])
			same_sample(a, pyr_sample(&p, maxes[m], a), want, ref_sample(pts, kept, maxes[m], want));
	pyr_release(&p);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pyramid p;

	if (!size)
		return 0;
	if (data[0] % 2) {
		series(data + 1, size - 1);
		return 0;
	}
	pyr_init(&p, 0, 0);
	if (pyr_decode(data + 1, size - 1, &p) == 0)
		check(&p);
	else if (cairn_error_code() != CAIRN_EINVALID || p.b)
		abort();
	pyr_release(&p);
	return 0;
}
