/* profile_keep.c - the numeric values a table read for drift keeps: packed where exact, and sorted for the tests.
 *
 * Drift's exact tests need every finite value of a numeric column, sorted
 * (the order they came in does not matter: drift.c only ever sorts them).
 * Two things keep that small:
 *
 *  - A column whose number table (prof_col.fnum) still holds every distinct
 *    value holds no vector at all: the table's counts are the multiset. The
 *    vector starts (from the table) when the table first misses a value.
 *  - Values are held as 32-bit integers m with one decimal scale k per
 *    column, value = m / 10^k, when that division gives the value back bit
 *    for bit (it is correctly rounded, so it does for every decimal literal
 *    of up to 9 decimals whose digits fit 31 bits). A value that needs a
 *    larger k rescales the column when its integers still fit; any other
 *    value (too many digits, -0.0, a wide range) turns the column into
 *    doubles for good.
 *
 * The sorted array is rebuilt as doubles, one column at a time, when drift
 * asks for it (prof_keep_sorted), and the kept form is released then.
 */
#include "stats/stats_int.h"
#include "core/error.h"
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_SCALE 9

static const double p10[MAX_SCALE + 1] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* x as m / 10^k, exactly (bit for bit), with |m| < 2^31 */
static inline bool pack(double x, int k, int32_t *out)
{
	double t = x * p10[k], back;
	int32_t m;

	if (!(fabs(t) < 2147483647.0))
		return false;
	m = (int32_t)nearbyint(t);
	back = (double)m / p10[k];
	if (memcmp(&back, &x, sizeof(x)))
		return false;
	*out = m;
	return true;
}

static inline double unpack(int32_t m, int k)
{
	return (double)m / p10[k];
}

/* Ask for huge pages under a big array (a hint): a radix pass scatters
 * its writes over 2048 places, with 4 KiB pages each a TLB miss. */
static void advise_huge(void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;

	if (n >= ((size_t)4 << 20) && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static int reserve(struct prof_vec *v, size_t n)
{
	size_t ncap;

	if (n <= v->cap)
		return 0;
	ncap = v->cap ? v->cap : 1024;
	while (ncap < n)
		ncap *= 2;
	if (v->packed) {
		int32_t *nm = crealloc(v->m, ncap * sizeof(*nm));

		if (!nm)
			return oom();
		v->m = nm;
		advise_huge(nm, ncap * sizeof(*nm));
	} else {
		double *nv = crealloc(v->v, ncap * sizeof(*nv));

		if (!nv)
			return oom();
		v->v = nv;
		advise_huge(nv, ncap * sizeof(*nv));
	}
	v->cap = ncap;
	return 0;
}

/* the column's integers into doubles, for good */
static int to_doubles(struct prof_vec *v)
{
	double *d = cmalloc((v->cap ? v->cap : 1) * sizeof(*d));

	if (!d)
		return oom();
	for (size_t i = 0; i < v->n; i++)
		d[i] = unpack(v->m[i], v->scale);
	free(v->m);
	v->m = NULL;
	v->v = d;
	v->packed = false;
	return 0;
}

/* every integer times 10^d, when they all still fit */
static bool rescale(struct prof_vec *v, int d)
{
	int64_t f = 1;

	for (int i = 0; i < d; i++)
		f *= 10;
	if ((int64_t)v->big * f >= INT32_MAX)
		return false;
	for (size_t i = 0; i < v->n; i++)
		v->m[i] = (int32_t)(v->m[i] * f);
	v->big = (int32_t)(v->big * f);
	v->scale += d;
	return true;
}

static int push_slow(struct prof_vec *v, double x)
{
	int32_t m;
	int rc;

	if (v->packed) {
		for (int k = v->n ? v->scale + 1 : 0; k <= MAX_SCALE; k++)
			if (pack(x, k, &m) && (!v->n || rescale(v, k - v->scale))) {
				v->scale = k;
				v->m[v->n++] = m;
				if ((m < 0 ? -m : m) > v->big)
					v->big = m < 0 ? -m : m;
				return 0;
			}
		if ((rc = to_doubles(v)))
			return rc;
	}
	v->v[v->n++] = x;
	return 0;
}

int prof_vec_push(struct prof_vec *v, double x)
{
	int32_t m;
	int rc;

	if (v->n == v->cap) {
		if (!v->cap)
			v->packed = true;   /* a new vector starts packed */
		if ((rc = reserve(v, v->n + 1)))
			return rc;
	}
	if (v->packed && v->n && pack(x, v->scale, &m)) {
		int32_t a = m < 0 ? -m : m;

		v->m[v->n++] = m;
		v->big = a > v->big ? a : v->big;
		return 0;
	}
	if (!v->packed) {
		v->v[v->n++] = x;
		return 0;
	}
	return push_slow(v, x);
}

static const uint32_t p10i[MAX_SCALE + 1] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000 };
/* the largest digits that still fit an int32 when times 10^i */
static const uint32_t fit10[MAX_SCALE + 1] = { INT32_MAX, INT32_MAX / 10, INT32_MAX / 100, INT32_MAX / 1000,
	INT32_MAX / 10000, INT32_MAX / 100000, INT32_MAX / 1000000, INT32_MAX / 10000000, INT32_MAX / 100000000,
	INT32_MAX / 1000000000 };

int prof_vec_push_dec(struct prof_vec *v, double x, uint64_t dmant, int dscale)
{
	/* x is the correctly rounded dmant / 10^dscale, so m = dmant * 10^(k - dscale)
	 * gives it back as m / 10^k (the same rational, rounded the same way;
	 * negative values by symmetry), with no division to check it: -0.0
	 * (m = 0 would come back as 0.0) and values that do not fit go the
	 * general way */
	if (v->packed && v->n && v->n < v->cap && dscale >= 0 && dscale <= v->scale && (dmant || !signbit(x))) {
		int d = v->scale - dscale;

		if (dmant < fit10[d]) {
			int32_t a = (int32_t)(dmant * p10i[d]);

			v->m[v->n++] = x < 0 ? -a : a;
			v->big = a > v->big ? a : v->big;
			return 0;
		}
	}
	return prof_vec_push(v, x);
}

/* A number table's values, each as often as it counts, onto v. */
static int push_table(struct prof_vec *v, const struct sk_freq *f)
{
	int rc;

	for (size_t i = 0; i < f->nslots; i++) {
		double x;
		uint64_t n;

		if (!sk_freq_num_slot(f, i, &x, &n))
			continue;
		for (uint64_t k = 0; k < n; k++)
			if ((rc = prof_vec_push(v, x)))
				return rc;
	}
	return 0;
}

int prof_vec_start(struct prof_vec *v, const struct sk_freq *f)
{
	if (v->started)
		return 0;
	v->started = true;
	return push_table(v, f);
}

int prof_vec_append(struct prof_vec *v, const struct sk_freq *vf, struct prof_vec *o, const struct sk_freq *of)
{
	int rc;

	if ((rc = prof_vec_start(v, vf)))
		return rc;
	if (!o->started)
		return push_table(v, of);
	if (v->packed && o->packed && v->scale == o->scale && v->n) {
		if ((rc = reserve(v, v->n + o->n)))
			return rc;
		memcpy(v->m + v->n, o->m, o->n * sizeof(*o->m));
		v->n += o->n;
		v->big = o->big > v->big ? o->big : v->big;
	} else {
		for (size_t i = 0; i < o->n; i++)
			if ((rc = prof_vec_push(v, o->packed ? unpack(o->m[i], o->scale) : o->v[i])))
				return rc;
	}
	prof_vec_free(o);
	o->started = true;
	return 0;
}

void prof_vec_free(struct prof_vec *v)
{
	free(v->v);
	free(v->m);
	memset(v, 0, sizeof(*v));
}

/* LSD radix sort of 32-bit integers (11, 11, 10 bits; passes where every
 * key has the same digit are skipped); tmp holds n */
static int sort_i32(int32_t *a, int32_t *tmp, size_t n)
{
	static const unsigned shift[3] = { 0, 11, 22 }, bits[3] = { 11, 11, 10 };
	uint32_t *src = (uint32_t *)a, *dst = (uint32_t *)tmp;
	size_t *cnt = ccalloc(3 * 2048, sizeof(*cnt));

	if (!cnt)
		return oom();
	for (size_t i = 0; i < n; i++) {
		uint32_t k = src[i] ^ 0x80000000u;

		src[i] = k;
		cnt[k & 2047]++;
		cnt[2048 + ((k >> 11) & 2047)]++;
		cnt[4096 + (k >> 22)]++;
	}
	for (int p = 0; p < 3; p++) {
		size_t *c = cnt + 2048 * p, sum = 0;
		uint32_t mask = (1u << bits[p]) - 1, *t;

		if (c[(src[0] >> shift[p]) & mask] == n)
			continue;
		for (size_t d = 0; d <= mask; d++) {
			size_t x = c[d];

			c[d] = sum;
			sum += x;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[(src[i] >> shift[p]) & mask]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = (int32_t)(src[i] ^ 0x80000000u);   /* back, into a if the data ended in tmp */
	free(cnt);
	return 0;
}

int prof_keep_sorted(struct prof *p, size_t ci, double **out, size_t *n)
{
	struct prof_vec *v = &p->keep[ci];
	int rc;

	*out = NULL;
	*n = 0;
	if (!v->started && (rc = prof_vec_start(v, &p->col[ci].fnum)))
		return rc;
	if (!v->packed) {
		sk_sort_doubles(v->v, v->n);
		*out = v->v;
		*n = v->n;
		v->v = NULL;
	} else {
		int32_t *tmp = cmalloc((v->n ? v->n : 1) * sizeof(*tmp));
		double *d = cmalloc((v->n ? v->n : 1) * sizeof(*d));

		if (!tmp || !d) {
			free(tmp);
			free(d);
			return oom();
		}
		advise_huge(tmp, v->n * sizeof(*tmp));
		rc = sort_i32(v->m, tmp, v->n);
		free(tmp);
		if (rc) {
			free(d);
			return rc;
		}
		for (size_t i = 0; i < v->n; i++)
			d[i] = unpack(v->m[i], v->scale);
		*out = d;
		*n = v->n;
	}
	if (!*out && !(*out = cmalloc(sizeof(double))))
		return oom();
	prof_vec_free(v);
	v->started = true;
	return 0;
}
