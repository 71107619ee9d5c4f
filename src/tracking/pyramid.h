/* pyramid.h - a metric series in step buckets: enough to sample it for a
 * chart without reading its points (get-history-bulk-interval).
 *
 * The steps [min_step, max_step] of a series (or of a step range of one) are
 * cut into PYR_BUCKETS equal-width buckets. Each non-empty bucket keeps how
 * many points it holds and three of them: its first, its lowest and its
 * highest. Points come in the order of the metrics_by_step index (step,
 * timestamp, value, is_nan); "lowest" is the first point of the lowest
 * non-NaN value, or the bucket's first point when all of them are NaN
 * ("highest" alike).
 *
 * pyr_sample() picks at most max points from a pyramid: about half of them
 * evenly spaced by rank (the first point of the bucket holding the rank; the
 * first and the last point always), so the curve's shape is covered, the
 * rest the lowest and highest point of (max - even) / 2 equal-width step
 * buckets, each holding the fine buckets whose first point falls in it, so
 * every spike and dip survives. When no fine bucket holds two points (a
 * series spanning fewer than PYR_BUCKETS steps, one point a step) that is
 * exactly the sample of every point by rank and equal-width bucket.
 *
 * A pyramid is built by pyr_add() from the points in order, and kept as a
 * blob (pyr_encode, pyr_decode; little-endian and varints, versioned, ~40
 * bytes a full bucket), so the sample of a long series costs decoding at
 * most ~330 kB however many points it has.
 */
#ifndef CAIRN_TRACKING_PYRAMID_H
#define CAIRN_TRACKING_PYRAMID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define PYR_BUCKETS 8192

struct pyr_point {
	int64_t step;
	int64_t ts;
	double v;     /* the stored value (0 for NaN) */
	bool is_nan;
};

struct pyr_bucket {
	uint32_t idx;           /* which of the PYR_BUCKETS buckets, ascending */
	int64_t count;          /* points in it (> 0) */
	struct pyr_point first; /* its first point */
	struct pyr_point min;   /* its first lowest non-NaN point (first if all are NaN) */
	struct pyr_point max;   /* its first highest non-NaN point (first if all are NaN) */
};

struct pyramid {
	int64_t points;        /* points added */
	int64_t min_step;      /* the step range the buckets cut */
	int64_t max_step;
	struct pyr_point last; /* the last point added */
	struct pyr_bucket *b;  /* the non-empty buckets, by idx */
	size_t nb;             /* how many */
	size_t cap;            /* allocated */
};

/* Start an empty pyramid over steps [min_step, max_step]. */
void pyr_init(struct pyramid *p, int64_t min_step, int64_t max_step);
/* Add the next point: in index order, with a step inside the range (a
 * point out of order or range is a bug). CAIRN_ENOMEM. */
int pyr_add(struct pyramid *p, const struct pyr_point *pt);
void pyr_release(struct pyramid *p);

/* Append the pyramid's blob to out. */
int pyr_encode(const struct pyramid *p, struct buf *out);
/* Read a blob back into an initialised (empty) pyramid; CAIRN_EINVALID when
 * it is not one pyr_encode wrote, CAIRN_ENOMEM. */
int pyr_decode(const void *blob, size_t n, struct pyramid *p);

/* Which of nb equal-width buckets over [0, span] the offset off falls in
 * (offsets are steps minus the first step, in uint64_t: steps may span all
 * of int64). */
int64_t pyr_bucket_of(uint64_t off, uint64_t span, int64_t nb);

/* Sample at most max (>= 1) points of a pyramid holding more than max into
 * out[max], in index order; returns how many. */
size_t pyr_sample(const struct pyramid *p, int64_t max, struct pyr_point *out);

/* The index order of points: -1, 0, 1. */
int pyr_point_cmp(const struct pyr_point *a, const struct pyr_point *b);

#endif
