/* sketch.c - the column summaries of sketch.h: exact-then-KLL quantiles, HyperLogLog, value tables. */
#include "stats/sketch.h"
#include "core/error.h"
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- hashing ---- */

#define mix64 sk_mix64

uint64_t sk_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0xff51afd7ed558ccdULL);

	for (; n >= 8; s += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, s, 8);
		h = mix64(h ^ w) + 0x632be59bd9b4e019ULL;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, s, n);
		h = mix64(h ^ w ^ ((uint64_t)n << 56));
	}
	return mix64(h);
}

/* ---- quantiles: exact values, then a KLL sketch ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* capacity of level h when there are H levels: k (2/3)^(H-1-h), at least
 * 32; level 0, the unsorted buffer new values go to, counts as at least k/2
 * (kll_insert halves it anyway whenever it reaches SK_KLL_BUF) */
static uint32_t level_cap(uint32_t h, uint32_t H)
{
	double c = SK_KLL_K;

	for (uint32_t i = h + 1; i < H; i++)
		c *= 2.0 / 3.0;
	if (h == 0 && c < SK_KLL_K / 2)
		c = SK_KLL_K / 2;
	return c < 32 ? 32 : (uint32_t)ceil(c);
}

static int level_reserve(struct sk_level *l, uint32_t n)
{
	if (n > l->cap) {
		uint32_t ncap = l->cap ? l->cap : 16;
		double *v;

		while (ncap < n)
			ncap *= 2;
		if (!(v = crealloc(l->v, ncap * sizeof(*v))))
			return oom();
		l->v = v;
		l->cap = ncap;
	}
	return 0;
}

static int level_push(struct sk_level *l, double x)
{
	int rc;

	if (l->n == l->cap && (rc = level_reserve(l, l->n + 1)))
		return rc;
	l->v[l->n++] = x;
	return 0;
}

static int add_level(struct sk_quant *q)
{
	struct sk_level *lv = crealloc(q->lv, (q->kll_levels + 1) * sizeof(*lv));

	if (!lv)
		return oom();
	q->lv = lv;
	memset(&lv[q->kll_levels], 0, sizeof(*lv));
	q->kll_levels++;
	return 0;
}

static uint64_t next_rng(struct sk_quant *q)
{
	if (!q->rng)
		q->rng = 0x853c49e6748fea9bULL;
	q->rng ^= q->rng << 13;
	q->rng ^= q->rng >> 7;
	q->rng ^= q->rng << 17;
	return q->rng;
}

static bool radix_sort(double *v, size_t n);
static void quicksort_doubles(double *v, size_t n);

/* an in-place sort of doubles (no NaN): quicksort, insertion sort for short
 * runs; large arrays go to a radix sort when its buffers can be had */
void sk_sort_doubles(double *v, size_t n)
{
	if (n < ((size_t)1 << 16) || !radix_sort(v, n))
		quicksort_doubles(v, n);
}

static void quicksort_doubles(double *v, size_t n)
{
	while (n > 16) {
		double a = v[0], b = v[n / 2], c = v[n - 1];
		double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
		size_t i = 0, j = n - 1;

		for (;;) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i >= j)
				break;
			double t = v[i];
			v[i] = v[j];
			v[j] = t;
			i++;
			j--;
		}
		/* recurse into the smaller side, loop on the larger */
		if (j + 1 < n - j - 1) {
			quicksort_doubles(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			quicksort_doubles(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;

		for (; j && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Doubles as unsigned keys in the same order (-0.0 just below 0.0; no NaN). */
static inline uint64_t dkey(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b >> 63 ? ~b : b | ((uint64_t)1 << 63);
}

static inline double dkey_value(uint64_t k)
{
	uint64_t b = k >> 63 ? k & ~((uint64_t)1 << 63) : ~k;
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

/* LSD radix sort of the order keys, 16 bits a pass, passes where every key
 * has the same digit skipped; false (nothing done) when memory is short */
static bool radix_sort(double *v, size_t n)
{
	uint64_t *a = cmalloc(n * sizeof(*a)), *b = cmalloc(n * sizeof(*b)), *t;
	size_t *cnt = ccalloc(4 * 65536, sizeof(*cnt));

	if (!a || !b || !cnt) {
		free(a);
		free(b);
		free(cnt);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		a[i] = dkey(v[i]);
		for (int d = 0; d < 4; d++)
			cnt[d * 65536 + ((a[i] >> (16 * d)) & 0xffff)]++;
	}
	for (int d = 0; d < 4; d++) {
		size_t *c = cnt + d * 65536, sum = 0;

		if (c[(a[0] >> (16 * d)) & 0xffff] == n)
			continue;   /* one digit for all: nothing to move */
		for (size_t k = 0; k < 65536; k++) {
			size_t x = c[k];

			c[k] = sum;
			sum += x;
		}
		for (size_t i = 0; i < n; i++)
			b[c[(a[i] >> (16 * d)) & 0xffff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = dkey_value(a[i]);
	free(a);
	free(b);
	free(cnt);
	return true;
}

#define RADIX_BITS 11
#define RADIX_PASSES 3   /* 33 key bits: from the highest bit that differs down */
#define RADIX_MAX SK_KLL_BUF

/* Sort a level-0 buffer: an LSD radix sort of the double's order key on
 * the 33 bits below (and including) the highest bit in which the keys
 * differ, then an insertion pass for keys that agree on all of those (they
 * are rare: values within 2^-33 of the buffer's spread). The insertion pass
 * has a budget; a buffer that exceeds it (or is small, or big) goes to the
 * quicksort. The result is the sorted order either way. */
static void sort_level0(double *v, size_t n)
{
	uint64_t ka[RADIX_MAX], kb[RADIX_MAX], *src = ka, *dst = kb, diff = 0, first;
	uint32_t hist[RADIX_PASSES][1u << RADIX_BITS];
	const uint32_t mask = (1u << RADIX_BITS) - 1;
	unsigned shift, top;
	size_t moves = 0;

	if (n < 256 || n > RADIX_MAX) {
		sk_sort_doubles(v, n);
		return;
	}
	first = dkey(v[0]);
	for (size_t i = 0; i < n; i++) {
		ka[i] = dkey(v[i]);
		diff |= ka[i] ^ first;
	}
	if (!diff)
		return;   /* all equal */
	top = 63 - (unsigned)__builtin_clzll(diff);
	shift = top >= RADIX_BITS * RADIX_PASSES ? top + 1 - RADIX_BITS * RADIX_PASSES : 0;
	memset(hist, 0, sizeof(hist));
	for (size_t i = 0; i < n; i++) {
		uint64_t k = ka[i] >> shift;

		for (unsigned p = 0; p < RADIX_PASSES; p++)
			hist[p][(k >> (p * RADIX_BITS)) & mask]++;
	}
	for (unsigned p = 0; p < RADIX_PASSES; p++) {
		uint32_t sum = 0, *h = hist[p];
		unsigned sh = shift + p * RADIX_BITS;

		if (h[(first >> sh) & mask] == n)
			continue;   /* this digit is the same in every key */
		for (uint32_t d = 0; d <= mask; d++) {
			uint32_t c = h[d];

			h[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[h[(src[i] >> sh) & mask]++] = src[i];
		uint64_t *t = src;
		src = dst;
		dst = t;
	}
	if (shift) {   /* keys equal in the sorted bits may still be out of order below them */
		for (size_t i = 1; i < n && moves <= 8 * n; i++) {
			uint64_t k = src[i];
			size_t j = i;

			for (; j && src[j - 1] > k; j--)
				src[j] = src[j - 1];
			src[j] = k;
			moves += i - j;
		}
	}
	for (size_t i = 0; i < n; i++)
		v[i] = dkey_value(src[i]);
	if (moves > 8 * n)
		sk_sort_doubles(v, n);   /* too many near-equal keys: the budget ran out */
}

/* Halve level h into level h+1: every other item of the sorted level, from
 * a random offset, merged into the (sorted) level above; an odd item out
 * stays. Levels above 0 are kept sorted; level 0 is sorted here. */
static int compact(struct sk_quant *q, uint32_t h)
{
	struct sk_level *l, *up;
	uint32_t even, off, m, i, j, k;
	double keep, *merged;
	int rc;

	if (h + 1 == q->kll_levels && (rc = add_level(q)))
		return rc;
	l = &q->lv[h];
	up = &q->lv[h + 1];
	if (h == 0)
		sort_level0(l->v, l->n);
	even = l->n & ~1u;
	keep = l->v[l->n - 1];
	off = (uint32_t)(next_rng(q) >> 63);
	m = even / 2;
	if ((rc = level_reserve(up, up->n + m)))
		return rc;
	if (!(merged = cmalloc((up->n + m) * sizeof(*merged))))
		return oom();
	for (i = 0, j = off, k = 0; i < up->n || j < even;) {
		if (j >= even || (i < up->n && up->v[i] <= l->v[j]))
			merged[k++] = up->v[i++];
		else {
			merged[k++] = l->v[j];
			j += 2;
		}
	}
	free(up->v);
	up->v = merged;
	up->n = k;
	up->cap = k;
	if (l->n & 1) {
		l->v[0] = keep;
		l->n = 1;
	} else {
		l->n = 0;
	}
	return 0;
}

/* compact the lowest full level until everything fits */
static int compress(struct sk_quant *q)
{
	for (;;) {
		uint64_t total = 0, cap = 0;
		uint32_t H = q->kll_levels, h, caps[64];
		int rc;

		for (h = 0; h < H && h < 64; h++) {
			caps[h] = level_cap(h, H);
			total += q->lv[h].n;
			cap += caps[h];
		}
		if (total <= cap)
			return 0;
		for (h = 0; h < H; h++)
			if (q->lv[h].n >= caps[h])
				break;
		if (h == H)   /* over in total but no level full: the lowest that can halve */
			for (h = 0; h + 1 < H && q->lv[h].n < 2; h++)
				;
		if ((rc = compact(q, h)))
			return rc;
	}
}

/* New values collect in level 0 until it holds SK_KLL_BUF of them; then
 * level 0 is sorted and halved once (whatever the slack above), and the
 * levels compressed. Compacting a level past its capacity only means fewer
 * compactions, so the rank error stays within the k-sketch's bound. */
static int kll_insert(struct sk_quant *q, double x)
{
	struct sk_level *l0 = &q->lv[0];
	int rc;

	if (l0->n == l0->cap && (rc = level_reserve(l0, l0->n < SK_KLL_BUF ? SK_KLL_BUF : l0->n + 1)))
		return rc;
	l0->v[l0->n++] = x;
	if (l0->n >= SK_KLL_BUF) {
		if ((rc = compact(q, 0)))
			return rc;
		return compress(q);
	}
	return 0;
}

/* leave exact mode: every kept value goes into a new sketch */
static int to_kll(struct sk_quant *q)
{
	int rc;

	if (q->kll_levels)
		return 0;
	if ((rc = add_level(q)))
		return rc;
	for (uint64_t i = 0; i < q->n && i < q->exact_cap; i++)
		if ((rc = kll_insert(q, q->exact[i])))
			return rc;
	free(q->exact);
	q->exact = NULL;
	q->exact_cap = 0;
	return 0;
}

int sk_quant_add(struct sk_quant *q, double x)
{
	int rc;

	if (!q->kll_levels) {
		if (q->n < SK_EXACT_MAX) {
			if (q->n == q->exact_cap) {
				uint32_t ncap = q->exact_cap ? q->exact_cap * 2 : 64;
				double *v;

				if (ncap > SK_EXACT_MAX)
					ncap = SK_EXACT_MAX;
				if (!(v = crealloc(q->exact, ncap * sizeof(*v))))
					return oom();
				q->exact = v;
				q->exact_cap = ncap;
			}
			q->exact[q->n++] = x;
			return 0;
		}
		if ((rc = to_kll(q)))
			return rc;
	}
	if ((rc = kll_insert(q, x)))
		return rc;
	q->n++;
	return 0;
}

int sk_quant_add_many(struct sk_quant *q, const double *x, size_t n)
{
	int rc;

	while (n) {
		struct sk_level *l0;
		size_t take;

		if (!q->kll_levels) {   /* exact: one at a time (it ends at SK_EXACT_MAX) */
			if ((rc = sk_quant_add(q, *x++)))
				return rc;
			n--;
			continue;
		}
		/* level 0 takes values up to SK_KLL_BUF, as kll_insert does one by one */
		l0 = &q->lv[0];
		take = l0->n < SK_KLL_BUF ? SK_KLL_BUF - l0->n : 1;
		if (take > n)
			take = n;
		if (l0->n + take > l0->cap &&
		    (rc = level_reserve(l0, l0->n < SK_KLL_BUF ? SK_KLL_BUF : l0->n + (uint32_t)take)))
			return rc;
		memcpy(l0->v + l0->n, x, take * sizeof(*x));
		l0->n += (uint32_t)take;
		x += take;
		n -= take;
		if (l0->n >= SK_KLL_BUF && ((rc = compact(q, 0)) || (rc = compress(q))))
			return rc;
		q->n += take;
	}
	return 0;
}

bool sk_quant_is_exact(const struct sk_quant *q)
{
	return q->kll_levels == 0;
}

int sk_quant_merge(struct sk_quant *q, const struct sk_quant *o)
{
	int rc;

	if (!o->n)
		return 0;
	if (!o->kll_levels) {
		for (uint64_t i = 0; i < o->n; i++)
			if ((rc = sk_quant_add(q, o->exact[i])))
				return rc;
		return 0;
	}
	if ((rc = to_kll(q)))
		return rc;
	while (q->kll_levels < o->kll_levels)
		if ((rc = add_level(q)))
			return rc;
	for (uint32_t h = 0; h < o->kll_levels; h++) {
		for (uint32_t i = 0; i < o->lv[h].n; i++)
			if ((rc = level_push(&q->lv[h], o->lv[h].v[i])))
				return rc;
		if (h)   /* levels above 0 stay sorted */
			sk_sort_doubles(q->lv[h].v, q->lv[h].n);
	}
	q->n += o->n;
	return compress(q);
}

struct witem {
	double v;
	uint64_t w;
};

static int cmp_witem(const void *a, const void *b)
{
	return cmp_double(&((const struct witem *)a)->v, &((const struct witem *)b)->v);
}

int sk_quant_sorted(const struct sk_quant *q, double **values, uint64_t **weights, size_t *n)
{
	size_t total = 0, k = 0;
	struct witem *it;

	*values = NULL;
	*weights = NULL;
	*n = 0;
	if (!q->kll_levels)
		total = q->n;
	for (uint32_t h = 0; h < q->kll_levels; h++)
		total += q->lv[h].n;
	it = cmalloc((total ? total : 1) * sizeof(*it));
	*values = cmalloc((total ? total : 1) * sizeof(double));
	*weights = cmalloc((total ? total : 1) * sizeof(uint64_t));
	if (!it || !*values || !*weights) {
		free(it);
		free(*values);
		free(*weights);
		*values = NULL;
		*weights = NULL;
		return oom();
	}
	if (!q->kll_levels)
		for (size_t i = 0; i < total; i++)
			it[k++] = (struct witem){ q->exact[i], 1 };
	for (uint32_t h = 0; h < q->kll_levels; h++)
		for (uint32_t i = 0; i < q->lv[h].n; i++)
			it[k++] = (struct witem){ q->lv[h].v[i], (uint64_t)1 << h };
	qsort(it, total, sizeof(*it), cmp_witem);
	for (size_t i = 0; i < total; i++) {
		(*values)[i] = it[i].v;
		(*weights)[i] = it[i].w;
	}
	free(it);
	*n = total;
	return 0;
}

static json_t *doubles_json(const double *v, size_t n, bool sort)
{
	json_t *a = json_array();
	double *tmp = NULL;

	if (!a)
		return NULL;
	if (sort && n) {
		if (!(tmp = cmalloc(n * sizeof(*tmp)))) {
			json_decref(a);
			return NULL;
		}
		memcpy(tmp, v, n * sizeof(*tmp));
		qsort(tmp, n, sizeof(*tmp), cmp_double);
		v = tmp;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_real(v[i]))) {
			json_decref(a);
			a = NULL;
			break;
		}
	free(tmp);
	return a;
}

json_t *sk_quant_to_json(const struct sk_quant *q)
{
	json_t *o = json_object(), *levels;

	if (!o)
		return NULL;
	if (json_object_set_new(o, "n", json_integer((json_int_t)q->n)))
		goto fail;
	if (!q->kll_levels) {
		json_t *v = doubles_json(q->exact, q->n, true);

		if (!v || json_object_set_new(o, "exact", v))
			goto fail;
		return o;
	}
	if (json_object_set_new(o, "k", json_integer(SK_KLL_K)) || !(levels = json_array()) ||
	    json_object_set_new(o, "levels", levels))
		goto fail;
	for (uint32_t h = 0; h < q->kll_levels; h++) {
		json_t *v = doubles_json(q->lv[h].v, q->lv[h].n, false);

		if (!v || json_array_append_new(levels, v))
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static int bad(const char *what)
{
	return cairn_error_set(CAIRN_EINVALID, "profile sketch: %s", what);
}

int sk_quant_from_json(const json_t *j, struct sk_quant *q)
{
	json_t *n = json_object_get(j, "n"), *exact = json_object_get(j, "exact"), *levels = json_object_get(j, "levels");
	uint64_t weight = 0;
	size_t i, h;
	json_t *v, *lv;
	int rc;

	memset(q, 0, sizeof(*q));
	if (!json_is_integer(n) || json_integer_value(n) < 0)
		return bad("quantiles: \"n\" must be a count");
	if (exact) {
		if (!json_is_array(exact) || json_array_size(exact) != (size_t)json_integer_value(n) ||
		    json_array_size(exact) > SK_EXACT_MAX)
			return bad("quantiles: \"exact\" must list n values (at most 16384)");
		json_array_foreach(exact, i, v) {
			if (!json_is_number(v) || !isfinite(json_number_value(v)))
				return sk_quant_free(q), bad("quantiles: values must be finite numbers");
			if ((rc = sk_quant_add(q, json_number_value(v))))
				return sk_quant_free(q), rc;
		}
		return 0;
	}
	if (!json_is_array(levels) || !json_array_size(levels) || json_array_size(levels) > 60)
		return bad("quantiles: \"exact\" or \"levels\" (1 to 60 arrays) is required");
	json_array_foreach(levels, h, lv) {
		if (!json_is_array(lv) || (rc = add_level(q)))
			return sk_quant_free(q), json_is_array(lv) ? rc : bad("quantiles: each level is an array");
		json_array_foreach(lv, i, v) {
			if (!json_is_number(v) || !isfinite(json_number_value(v)))
				return sk_quant_free(q), bad("quantiles: values must be finite numbers");
			if ((rc = level_push(&q->lv[h], json_number_value(v))))
				return sk_quant_free(q), rc;
			weight += (uint64_t)1 << h;
		}
	}
	if (weight != (uint64_t)json_integer_value(n))
		return sk_quant_free(q), bad("quantiles: the levels' weights do not add up to n");
	q->n = weight;
	for (h = 1; h < q->kll_levels; h++)
		sk_sort_doubles(q->lv[h].v, q->lv[h].n);
	if ((rc = compress(q)))
		return sk_quant_free(q), rc;
	return 0;
}

void sk_quant_free(struct sk_quant *q)
{
	free(q->exact);
	for (uint32_t h = 0; h < q->kll_levels; h++)
		free(q->lv[h].v);
	free(q->lv);
	memset(q, 0, sizeof(*q));
}

/* ---- HyperLogLog ---- */

#define HLL_M (1u << SK_HLL_BITS)

int sk_hll_add(struct sk_hll *h, uint64_t hash)
{
	uint32_t idx = (uint32_t)(hash >> (64 - SK_HLL_BITS));
	uint64_t w = (hash << SK_HLL_BITS) | ((uint64_t)1 << (SK_HLL_BITS - 1));
	uint8_t rho = (uint8_t)(__builtin_clzll(w) + 1);

	if (!h->reg && !(h->reg = ccalloc(HLL_M, 1)))
		return oom();
	if (h->reg[idx] < rho)
		h->reg[idx] = rho;
	return 0;
}

int sk_hll_add_many(struct sk_hll *h, const uint64_t *hash, size_t n)
{
	if (!n)
		return 0;
	if (!h->reg && !(h->reg = ccalloc(HLL_M, 1)))
		return oom();
	for (size_t i = 0; i < n; i++) {
		uint32_t idx = (uint32_t)(hash[i] >> (64 - SK_HLL_BITS));
		uint64_t w = (hash[i] << SK_HLL_BITS) | ((uint64_t)1 << (SK_HLL_BITS - 1));
		uint8_t rho = (uint8_t)(__builtin_clzll(w) + 1);

		h->reg[idx] = h->reg[idx] < rho ? rho : h->reg[idx];
	}
	return 0;
}

int sk_hll_merge(struct sk_hll *h, const struct sk_hll *o)
{
	if (!o->reg)
		return 0;
	if (!h->reg && !(h->reg = ccalloc(HLL_M, 1)))
		return oom();
	for (uint32_t i = 0; i < HLL_M; i++)
		if (h->reg[i] < o->reg[i])
			h->reg[i] = o->reg[i];
	return 0;
}

/* Ertl's estimator ("New cardinality estimation algorithms for HyperLogLog
 * sketches", 2017): unbiased from 0 to far past 2^32 without bias tables. */
static double hll_sigma(double x)
{
	double y = 1, z = x, prev;

	if (x == 1)
		return 1.0 / 0.0;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

static double hll_tau(double x)
{
	double y = 1, z = 1 - x, prev;

	if (x == 0 || x == 1)
		return 0;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != prev);
	return z / 3;
}

double sk_hll_estimate(const struct sk_hll *h)
{
	const int q = 64 - SK_HLL_BITS;
	double m = HLL_M, z;
	uint32_t c[64] = { 0 };

	if (!h->reg)
		return 0;
	for (uint32_t i = 0; i < HLL_M; i++)
		c[h->reg[i] > q + 1 ? q + 1 : h->reg[i]]++;
	if (c[0] == HLL_M)
		return 0;
	z = m * hll_tau(1 - c[q + 1] / m);
	for (int k = q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * hll_sigma(c[0] / m);
	return m * m / (2 * log(2)) / z;
}

json_t *sk_hll_to_json(const struct sk_hll *h)
{
	static const char hex[] = "0123456789abcdef";
	char *s;
	json_t *j;

	if (!h->reg)
		return json_null();
	if (!(s = cmalloc(2 * HLL_M + 1)))
		return NULL;
	for (uint32_t i = 0; i < HLL_M; i++) {
		s[2 * i] = hex[h->reg[i] >> 4];
		s[2 * i + 1] = hex[h->reg[i] & 15];
	}
	s[2 * HLL_M] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int sk_hll_from_json(const json_t *j, struct sk_hll *h)
{
	const char *s;

	h->reg = NULL;
	if (json_is_null(j) || !j)
		return 0;
	s = json_string_value(j);
	if (!s || json_string_length(j) != 2 * HLL_M)
		return bad("distinct: \"hll\" must be 8192 hex digits or null");
	if (!(h->reg = cmalloc(HLL_M)))
		return oom();
	for (uint32_t i = 0; i < HLL_M; i++) {
		int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);

		if (a < 0 || b < 0 || a * 16 + b > 64 - SK_HLL_BITS + 1) {
			sk_hll_free(h);
			return bad("distinct: \"hll\" holds a register out of range");
		}
		h->reg[i] = (uint8_t)(a * 16 + b);
	}
	return 0;
}

void sk_hll_free(struct sk_hll *h)
{
	free(h->reg);
	h->reg = NULL;
}

/* ---- value tables ---- */

void sk_freq_init(struct sk_freq *f, bool text, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->text = text;
	f->cap = cap;
	f->complete = true;
}

/* Number tables keep 16 bytes a slot - the value's bits and its count - so
 * that a table at its cap (32768 slots) stays in a core's cache; a free
 * slot holds NUM_FREE, a NaN no value in a table has. The hash of a number
 * is sk_hash_double of it, so it need not be kept. Text tables keep an
 * sk_entry a slot. */
#define NUM_FREE 0x7ff4c0ffee5a17adULL

static double num_of(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static int freq_grow(struct sk_freq *f)
{
	size_t n = f->nslots ? f->nslots * 2 : 16;

	if (!f->text) {
		uint64_t *s = cmalloc(n * 2 * sizeof(*s));

		if (!s)
			return oom();
		for (size_t j = 0; j < n; j++) {
			s[2 * j] = NUM_FREE;
			s[2 * j + 1] = 0;
		}
		for (size_t i = 0; i < f->nslots; i++) {
			size_t j;

			if (f->nums[2 * i] == NUM_FREE)
				continue;
			for (j = sk_hash_double(num_of(f->nums[2 * i])) & (n - 1); s[2 * j] != NUM_FREE; j = (j + 1) & (n - 1))
				;
			s[2 * j] = f->nums[2 * i];
			s[2 * j + 1] = f->nums[2 * i + 1];
		}
		free(f->nums);
		f->nums = s;
		f->nslots = n;
		return 0;
	}
	struct sk_entry *s = ccalloc(n, sizeof(*s));

	if (!s)
		return oom();
	for (size_t i = 0; i < f->nslots; i++) {
		size_t j;

		if (!f->slot[i].used)
			continue;
		for (j = f->slot[i].hash & (n - 1); s[j].used; j = (j + 1) & (n - 1))
			;
		s[j] = f->slot[i];
	}
	free(f->slot);
	f->slot = s;
	f->nslots = n;
	return 0;
}

/* the text slot holding the value, or the empty slot where it would go */
static struct sk_entry *freq_find(struct sk_freq *f, const char *t, size_t n, uint64_t hash)
{
	for (size_t j = hash & (f->nslots - 1);; j = (j + 1) & (f->nslots - 1)) {
		struct sk_entry *e = &f->slot[j];

		if (!e->used)
			return e;
		if (e->hash == hash && e->len == n && !memcmp(e->text, t, n))
			return e;
	}
}

/* the number slot (index) holding x, or the free one where it would go */
static size_t freq_find_num(const struct sk_freq *f, double x, uint64_t hash)
{
	size_t j = hash & (f->nslots - 1);

	for (; f->nums[2 * j] != NUM_FREE; j = (j + 1) & (f->nslots - 1))
		if (num_of(f->nums[2 * j]) == x)
			break;
	return j;
}

int sk_freq_add_num(struct sk_freq *f, double x, uint64_t hash, uint64_t count)
{
	size_t j;
	int rc;

	if (f->dropped)
		return 0;
	if (!f->nslots && (rc = freq_grow(f)))
		return rc;
	j = freq_find_num(f, x, hash);
	if (f->nums[2 * j] != NUM_FREE) {
		f->nums[2 * j + 1] += count;
		return 0;
	}
	if (f->used >= f->cap) {
		f->complete = false;
		return 0;
	}
	if ((f->used + 1) * 2 > f->nslots) {
		if ((rc = freq_grow(f)))
			return rc;
		j = freq_find_num(f, x, hash);
	}
	x = x == 0 ? 0 : x;   /* -0.0 is 0.0 */
	memcpy(&f->nums[2 * j], &x, sizeof(x));
	f->nums[2 * j + 1] = count;
	f->used++;
	return 0;
}

int sk_freq_add_text(struct sk_freq *f, const char *t, size_t n, uint64_t hash, uint64_t count)
{
	struct sk_entry *e;
	int rc;

	if (f->dropped)
		return 0;
	if (!f->nslots && (rc = freq_grow(f)))
		return rc;
	e = freq_find(f, t, n, hash);
	if (e->used) {
		e->count += count;
		return 0;
	}
	if (f->used >= f->cap) {
		f->complete = false;
		return 0;
	}
	if ((f->used + 1) * 2 > f->nslots) {
		if ((rc = freq_grow(f)))
			return rc;
		e = freq_find(f, t, n, hash);
	}
	if (n > UINT32_MAX || !(e->text = cmalloc(n + 1)))
		return oom();
	memcpy(e->text, t, n);
	e->text[n] = '\0';
	e->len = (uint32_t)n;
	e->hash = hash;
	e->count = count;
	e->used = true;
	f->used++;
	return 0;
}

int sk_freq_merge(struct sk_freq *f, const struct sk_freq *o)
{
	int rc;

	if (o->dropped || f->text != o->text) {
		sk_freq_drop(f);
		return 0;
	}
	for (size_t i = 0; i < o->nslots; i++) {
		if (o->text) {
			const struct sk_entry *e = &o->slot[i];

			if (e->used && (rc = sk_freq_add_text(f, e->text, e->len, e->hash, e->count)))
				return rc;
		} else if (o->nums[2 * i] != NUM_FREE) {
			double x = num_of(o->nums[2 * i]);

			if ((rc = sk_freq_add_num(f, x, sk_hash_double(x), o->nums[2 * i + 1])))
				return rc;
		}
	}
	if (!o->complete)
		f->complete = false;
	return 0;
}

bool sk_freq_num_slot(const struct sk_freq *f, size_t i, double *x, uint64_t *count)
{
	if (f->text || f->nums[2 * i] == NUM_FREE)
		return false;
	*x = num_of(f->nums[2 * i]);
	*count = f->nums[2 * i + 1];
	return true;
}

void sk_freq_drop(struct sk_freq *f)
{
	bool text = f->text;
	size_t cap = f->cap;

	sk_freq_free(f);
	sk_freq_init(f, text, cap);
	f->complete = false;
	f->dropped = true;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct sk_entry *x = *(const struct sk_entry *const *)a, *y = *(const struct sk_entry *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->text) {
		size_t n = x->len < y->len ? x->len : y->len;
		int c = memcmp(x->text, y->text, n);

		return c ? c : (x->len > y->len) - (x->len < y->len);
	}
	return (x->num > y->num) - (x->num < y->num);
}

int sk_freq_sorted(const struct sk_freq *f, const struct sk_entry ***out, size_t *n)
{
	size_t k = 0, used = f->used ? f->used : 1;
	/* number tables have no entries to point at: they go after the pointers, in the same block */
	const struct sk_entry **v = cmalloc(used * sizeof(*v) + (f->text ? 0 : used * sizeof(struct sk_entry)));
	struct sk_entry *num = (struct sk_entry *)(v + used);

	*out = NULL;
	*n = 0;
	if (!v)
		return oom();
	for (size_t i = 0; i < f->nslots; i++) {
		if (f->text) {
			if (f->slot[i].used)
				v[k++] = &f->slot[i];
		} else if (f->nums[2 * i] != NUM_FREE) {
			num[k] = (struct sk_entry){ .num = num_of(f->nums[2 * i]), .count = f->nums[2 * i + 1], .used = true };
			num[k].hash = sk_hash_double(num[k].num);
			v[k] = &num[k];
			k++;
		}
	}
	qsort(v, k, sizeof(*v), cmp_entry);
	*out = v;
	*n = k;
	return 0;
}

/* a number as JSON: an integer when it is one exactly */
static json_t *num_json(double x)
{
	if (x == floor(x) && fabs(x) < 9007199254740992.0)
		return json_integer((json_int_t)x);
	return json_real(x);
}

json_t *sk_freq_entries_json(const struct sk_freq *f, size_t max)
{
	const struct sk_entry **v;
	size_t n;
	json_t *a;

	if (sk_freq_sorted(f, &v, &n))
		return NULL;
	if (!(a = json_array())) {
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < n && (!max || i < max); i++) {
		json_t *pair = json_array();

		if (!pair || json_array_append_new(a, pair) ||
		    json_array_append_new(pair, f->text ? json_stringn(v[i]->text, v[i]->len) : num_json(v[i]->num)) ||
		    json_array_append_new(pair, json_integer((json_int_t)v[i]->count))) {
			json_decref(a);
			a = NULL;
			break;
		}
	}
	free(v);
	return a;
}

json_t *sk_freq_to_json(const struct sk_freq *f, size_t max)
{
	json_t *entries, *o;

	if (f->dropped)
		return json_pack("{s:s,s:b,s:[]}", "kind", f->text ? "text" : "number", "complete", 0, "entries");
	if (!(entries = sk_freq_entries_json(f, max)))
		return NULL;
	o = json_pack("{s:s,s:b,s:O}", "kind", f->text ? "text" : "number", "complete",
		      f->complete && (!max || f->used <= max), "entries", entries);
	json_decref(entries);
	return o;
}

int sk_freq_from_json(const json_t *j, struct sk_freq *f, size_t cap)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));
	json_t *entries = json_object_get(j, "entries"), *e;
	size_t i;
	int rc;

	if (!kind || (strcmp(kind, "text") && strcmp(kind, "number")) || !json_is_array(entries) ||
	    !json_is_boolean(json_object_get(j, "complete")))
		return bad("values: \"kind\" (text or number), \"complete\" and \"entries\" are required");
	sk_freq_init(f, !strcmp(kind, "text"), cap);
	json_array_foreach(entries, i, e) {
		json_t *v = json_array_get(e, 0), *c = json_array_get(e, 1);

		if (json_array_size(e) != 2 || !json_is_integer(c) || json_integer_value(c) < 0 ||
		    (f->text ? !json_is_string(v) : !json_is_number(v) || !isfinite(json_number_value(v)))) {
			sk_freq_free(f);
			return bad("values: each entry is [value, count]");
		}
		rc = f->text ? sk_freq_add_text(f, json_string_value(v), json_string_length(v),
						sk_hash_bytes(json_string_value(v), json_string_length(v)),
						(uint64_t)json_integer_value(c))
			     : sk_freq_add_num(f, json_number_value(v), sk_hash_double(json_number_value(v)),
					       (uint64_t)json_integer_value(c));
		if (rc) {
			sk_freq_free(f);
			return rc;
		}
	}
	f->complete = json_is_true(json_object_get(j, "complete")) && f->complete;
	return 0;
}

void sk_freq_free(struct sk_freq *f)
{
	for (size_t i = 0; f->slot && i < f->nslots; i++)
		free(f->slot[i].text);
	free(f->slot);
	free(f->nums);
	f->slot = NULL;
	f->nums = NULL;
	f->nslots = f->used = 0;
}
