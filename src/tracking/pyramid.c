/* pyramid.c - a metric series in step buckets: building, the blob, sampling (pyramid.h). */
#include "tracking/pyramid.h"
#include "core/error.h"
#include "core/fault.h"

#include <stdlib.h>
#include <string.h>

void pyr_init(struct pyramid *p, int64_t min_step, int64_t max_step)
{
	memset(p, 0, sizeof(*p));
	p->min_step = min_step;
	p->max_step = max_step;
}

void pyr_release(struct pyramid *p)
{
	free(p->b);
	pyr_init(p, 0, 0);
}

int64_t pyr_bucket_of(uint64_t off, uint64_t span, int64_t nb)
{
	/* in double: monotonic in off, so buckets are contiguous runs of steps */
	double b = (double)off / ((double)span + 1.0) * (double)nb;

	return b >= (double)(nb - 1) ? nb - 1 : (int64_t)b;
}

int pyr_point_cmp(const struct pyr_point *a, const struct pyr_point *b)
{
	if (a->step != b->step)
		return a->step < b->step ? -1 : 1;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return (int)a->is_nan - (int)b->is_nan;
}

static uint32_t bucket_idx(const struct pyramid *p, int64_t step)
{
	return (uint32_t)pyr_bucket_of((uint64_t)step - (uint64_t)p->min_step,
				       (uint64_t)p->max_step - (uint64_t)p->min_step, PYR_BUCKETS);
}

int pyr_add(struct pyramid *p, const struct pyr_point *pt)
{
	struct pyr_bucket *b = p->nb ? &p->b[p->nb - 1] : NULL;
	uint32_t idx;

	if (pt->step < p->min_step || pt->step > p->max_step || (p->points && pyr_point_cmp(pt, &p->last) < 0))
		return cairn_error_set(CAIRN_ERR, "metric point at step %lld out of order or range",
				       (long long)pt->step);
	idx = bucket_idx(p, pt->step);
	if (!b || b->idx != idx) {
		if (p->nb == p->cap) {
			size_t ncap = p->cap ? p->cap * 2 : 64;
			struct pyr_bucket *nbuf = crealloc(p->b, ncap * sizeof(*nbuf));

			if (!nbuf)
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			p->b = nbuf;
			p->cap = ncap;
		}
		b = &p->b[p->nb++];
		b->idx = idx;
		b->count = 0;
		b->first = b->min = b->max = *pt;
	} else if (!pt->is_nan) {
		if (b->min.is_nan || pt->v < b->min.v)
			b->min = *pt;
		if (b->max.is_nan || pt->v > b->max.v)
			b->max = *pt;
	}
	b->count++;
	p->points++;
	p->last = *pt;
	return 0;
}

/* ---- the blob. A fixed head: "CPY2", u32 buckets, i64 points, min_step,
 * max_step, u8 NaN flag and the last point (i64 step, i64 timestamp, f64
 * value), all little-endian. Then per bucket, in varints (LEB128): its idx
 * after the last one's (idx - previous - 1), a flags byte, count - 1, and its
 * first point: the step after the previous bucket's first step (the first
 * bucket's: after min_step), the timestamp's difference to that point's
 * (zigzag), the value's 8 bytes; then its lowest and highest point unless
 * flags say they are one already written, their step after the first's, the
 * timestamp's difference to it, the value. Differences wrap in uint64, so
 * any int64 round-trips. About 40 bytes a full bucket. ---- */

enum {
	F_FIRST_NAN = 1, F_MIN_NAN = 2, F_MAX_NAN = 4,
	F_MIN_IS_FIRST = 8, F_MAX_IS_FIRST = 16, F_MAX_IS_MIN = 32,
	F_ALL = 63,
};
#define PYR_MAGIC "CPY2" /* 2: varints */
#define PYR_HEAD (4 + 4 + 3 * 8 + 1 + 24)

static void put_fixed(struct buf *b, uint64_t v, int bytes)
{
	unsigned char x[8];

	for (int i = 0; i < bytes; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	buf_put(b, x, (size_t)bytes);
}

static void put_varint(struct buf *b, uint64_t v)
{
	unsigned char x[10];
	int n = 0;

	do {
		x[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			x[n] |= 0x80;
		n++;
	} while (v);
	buf_put(b, x, (size_t)n);
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static uint64_t bits_of(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits;
}

/* a point relative to another (step after it, timestamp difference) */
static void put_point(struct buf *b, const struct pyr_point *pt, int64_t step0, int64_t ts0)
{
	put_varint(b, (uint64_t)pt->step - (uint64_t)step0);
	put_varint(b, zigzag((uint64_t)pt->ts - (uint64_t)ts0));
	put_fixed(b, bits_of(pt->v), 8);
}

static bool same(const struct pyr_point *a, const struct pyr_point *b)
{
	return !pyr_point_cmp(a, b);
}

int pyr_encode(const struct pyramid *p, struct buf *out)
{
	int64_t step0 = p->min_step, ts0 = 0;

	buf_grow(out, PYR_HEAD + p->nb * 48);
	buf_put(out, PYR_MAGIC, 4);
	put_fixed(out, p->nb, 4);
	put_fixed(out, (uint64_t)p->points, 8);
	put_fixed(out, (uint64_t)p->min_step, 8);
	put_fixed(out, (uint64_t)p->max_step, 8);
	put_fixed(out, p->last.is_nan, 1);
	put_fixed(out, (uint64_t)p->last.step, 8);
	put_fixed(out, (uint64_t)p->last.ts, 8);
	put_fixed(out, bits_of(p->last.v), 8);
	for (size_t i = 0; i < p->nb; i++) {
		const struct pyr_bucket *b = &p->b[i];
		unsigned f = (b->first.is_nan ? F_FIRST_NAN : 0) | (b->min.is_nan ? F_MIN_NAN : 0) |
			     (b->max.is_nan ? F_MAX_NAN : 0);

		if (same(&b->min, &b->first))
			f |= F_MIN_IS_FIRST;
		if (same(&b->max, &b->first))
			f |= F_MAX_IS_FIRST;
		else if (same(&b->max, &b->min))
			f |= F_MAX_IS_MIN;
		put_varint(out, i ? b->idx - b[-1].idx - 1 : b->idx);
		put_fixed(out, f, 1);
		put_varint(out, (uint64_t)b->count - 1);
		put_point(out, &b->first, step0, ts0);
		if (!(f & F_MIN_IS_FIRST))
			put_point(out, &b->min, b->first.step, b->first.ts);
		if (!(f & (F_MAX_IS_FIRST | F_MAX_IS_MIN)))
			put_point(out, &b->max, b->first.step, b->first.ts);
		step0 = b->first.step;
		ts0 = b->first.ts;
	}
	return buf_error(out);
}

struct reader {
	const unsigned char *p;
	size_t left;
	bool bad; /* read past the end, or a varint too long */
};

static uint64_t get_fixed(struct reader *r, int bytes)
{
	uint64_t v = 0;

	if (r->left < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	r->left -= (size_t)bytes;
	return v;
}

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char c;

		if (!r->left)
			break;
		c = *r->p++;
		r->left--;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static void get_point(struct reader *r, struct pyr_point *pt, bool is_nan, int64_t step0, int64_t ts0)
{
	uint64_t bits;

	pt->step = (int64_t)((uint64_t)step0 + get_varint(r));
	pt->ts = (int64_t)((uint64_t)ts0 + unzigzag(get_varint(r)));
	bits = get_fixed(r, 8);
	memcpy(&pt->v, &bits, sizeof(bits));
	pt->is_nan = is_nan;
}

static bool point_ok(const struct pyramid *p, const struct pyr_point *pt)
{
	return pt->step >= p->min_step && pt->step <= p->max_step && pt->v == pt->v; /* no NaN stored */
}

int pyr_decode(const void *blob, size_t n, struct pyramid *p)
{
	struct reader r = { blob, n, false };
	uint64_t nb, sum = 0, last_nan, idx = 0;
	int64_t step0, ts0 = 0;
	uint64_t bits;

	if (n < PYR_HEAD || memcmp(blob, PYR_MAGIC, 4))
		goto bad;
	r.p += 4;
	r.left -= 4;
	nb = get_fixed(&r, 4);
	p->points = (int64_t)get_fixed(&r, 8);
	p->min_step = (int64_t)get_fixed(&r, 8);
	p->max_step = (int64_t)get_fixed(&r, 8);
	last_nan = get_fixed(&r, 1);
	p->last.step = (int64_t)get_fixed(&r, 8);
	p->last.ts = (int64_t)get_fixed(&r, 8);
	bits = get_fixed(&r, 8);
	memcpy(&p->last.v, &bits, sizeof(bits));
	p->last.is_nan = last_nan == 1;
	if (last_nan > 1 || !nb || nb > PYR_BUCKETS || p->points < (int64_t)nb || p->min_step > p->max_step ||
	    !point_ok(p, &p->last) || p->last.step != p->max_step)
		goto bad;
	if (!(p->b = ccalloc(nb, sizeof(*p->b))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->cap = nb;
	step0 = p->min_step;
	for (p->nb = 0; p->nb < nb; p->nb++) {
		struct pyr_bucket *b = &p->b[p->nb];
		uint64_t count;
		unsigned f;

		idx += get_varint(&r) + (p->nb ? 1 : 0);
		f = (unsigned)get_fixed(&r, 1);
		count = get_varint(&r) + 1;
		get_point(&r, &b->first, f & F_FIRST_NAN, step0, ts0);
		if (f & F_MIN_IS_FIRST)
			b->min = b->first;
		else
			get_point(&r, &b->min, f & F_MIN_NAN, b->first.step, b->first.ts);
		if (f & F_MAX_IS_FIRST)
			b->max = b->first;
		else if (f & F_MAX_IS_MIN)
			b->max = b->min;
		else
			get_point(&r, &b->max, f & F_MAX_NAN, b->first.step, b->first.ts);
		if (r.bad || (f & ~(unsigned)F_ALL) || idx >= PYR_BUCKETS || (p->nb && idx <= b[-1].idx) || !count ||
		    count > (uint64_t)p->points - sum ||
		    !point_ok(p, &b->first) || !point_ok(p, &b->min) || !point_ok(p, &b->max) ||
		    pyr_point_cmp(&b->min, &b->first) < 0 || pyr_point_cmp(&b->max, &b->first) < 0 ||
		    pyr_point_cmp(&b->min, &p->last) > 0 || pyr_point_cmp(&b->max, &p->last) > 0 ||
		    (p->nb && pyr_point_cmp(&b->first, &b[-1].first) <= 0))
			goto bad;
		b->idx = (uint32_t)idx;
		b->count = (int64_t)count;
		if (b->idx != bucket_idx(p, b->first.step))
			goto bad;
		sum += count;
		step0 = b->first.step;
		ts0 = b->first.ts;
	}
	if (r.left || sum != (uint64_t)p->points || p->b[0].first.step != p->min_step ||
	    bucket_idx(p, p->last.step) != p->b[nb - 1].idx || pyr_point_cmp(&p->last, &p->b[nb - 1].first) < 0)
		goto bad;
	return 0;
bad:
	free(p->b);
	pyr_init(p, 0, 0);
	return cairn_error_set(CAIRN_EINVALID, "malformed metric pyramid (%zu bytes)", n);
}

static int point_qcmp(const void *a, const void *b)
{
	return pyr_point_cmp(a, b);
}

size_t pyr_sample(const struct pyramid *p, int64_t max, struct pyr_point *out)
{
	int64_t n = p->points, even = max < 4 ? max : max / 2 + 1, nc = (max - even) / 2, below = 0;
	size_t k = 0, bi = 0, kept = 0;

	CAIRN_ASSERT(max >= 1 && n > max && p->nb);
	/* evenly spaced ranks, the first and the last point included */
	for (int64_t e = 0; e < even; e++) {
		int64_t rank = even == 1 ? n - 1 : (int64_t)((double)e * (double)(n - 1) / (double)(even - 1) + 0.5);

		if (rank >= n - 1) {
			out[k++] = p->last;
			continue;
		}
		while (below + p->b[bi].count <= rank)
			below += p->b[bi++].count;
		out[k++] = p->b[bi].first;
	}
	/* the lowest and highest point of nc equal-width step buckets */
	if (nc >= 1) {
		uint64_t span = (uint64_t)p->max_step - (uint64_t)p->min_step;
		size_t i = 0;

		while (i < p->nb) {
			int64_t c = pyr_bucket_of((uint64_t)p->b[i].first.step - (uint64_t)p->min_step, span, nc);
			const struct pyr_point *lo = &p->b[i].min, *hi = &p->b[i].max;

			for (i++; i < p->nb && pyr_bucket_of((uint64_t)p->b[i].first.step - (uint64_t)p->min_step, span,
							       nc) == c; i++) {
				const struct pyr_bucket *b = &p->b[i];

				if (!b->min.is_nan && (lo->is_nan || b->min.v < lo->v))
					lo = &b->min;
				if (!b->max.is_nan && (hi->is_nan || b->max.v > hi->v))
					hi = &b->max;
			}
			out[k++] = *lo;
			out[k++] = *hi;
		}
	}
	CAIRN_ASSERT(k <= (size_t)max);
	qsort(out, k, sizeof(*out), point_qcmp);
	for (size_t i = 0; i < k; i++)
		if (!kept || pyr_point_cmp(&out[i], &out[kept - 1]))
			out[kept++] = out[i];
	return kept;
}
