/* sketch.h - mergeable summaries of one column: quantiles (exact, then KLL), distinct (HyperLogLog), value counts.
 *
 * All three take values one at a time, merge with another of their kind,
 * and round-trip through JSON (the "sketch" block of a profile, see
 * docs/profiles.md). Each owns its memory: *_free releases it; a zeroed
 * struct is an empty summary (all three can be declared = {0}).
 *
 * Quantiles: the first SK_EXACT_MAX values are kept as they are, so small
 * columns get exact quantiles and histograms; past that they feed a KLL
 * sketch (Karnin, Lang, Liberty 2016) with k = SK_KLL_K, whose rank error is
 * about SK_KLL_EPS of the count (with high probability). Compaction coins
 * come from a fixed-seed generator, so a profile of the same input in the
 * same chunking is the same.
 *
 * Distinct: HyperLogLog with 2^12 registers (standard error 1.6 %), read
 * with Ertl's 2017 estimator (no bias at small or large counts); the exact
 * count comes from the value table while it holds every distinct value.
 *
 * Value counts: an exact table of value -> count keyed by number or by text,
 * up to a cap of distinct values; past the cap it is "frozen": values
 * already in it go on being counted, new ones are not (complete = false).
 */
#ifndef CAIRN_STATS_SKETCH_H
#define CAIRN_STATS_SKETCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SK_EXACT_MAX 16384     /* values kept exactly before the KLL sketch takes over */
#define SK_KLL_K 1024
#define SK_KLL_EPS 0.004       /* the KLL's stated normalised rank error at SK_KLL_K */
#define SK_KLL_BUF 4096        /* new values buffered in level 0 before it is sorted and halved */
#define SK_HLL_BITS 12

uint64_t sk_hash_bytes(const void *p, size_t n);

/* the finaliser of splitmix64 (the hashes' mixing step) */
static inline uint64_t sk_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* -0.0 hashes as 0.0 (they are one value); inline: profiling hashes every number */
static inline uint64_t sk_hash_double(double d)
{
	uint64_t bits;

	if (d == 0)
		d = 0;   /* -0.0 is 0.0 */
	memcpy(&bits, &d, sizeof(bits));
	return sk_mix64(bits ^ 0x2545f4914f6cdd1dULL);
}

/* Sort doubles ascending in place (no NaN). */
void sk_sort_doubles(double *v, size_t n);

/* ---- quantiles ---- */
struct sk_level {
	double *v;
	uint32_t n, cap;
};

struct sk_quant {
	uint64_t n;             /* values added */
	/* exact while kll_levels == 0: the values in exact[0..n) */
	double *exact;
	uint32_t exact_cap;
	/* the KLL sketch: level h holds items of weight 2^h */
	struct sk_level *lv;
	uint32_t kll_levels;
	uint64_t rng;
};

int sk_quant_add(struct sk_quant *q, double x);
/* x[0..n) one after the other: what n sk_quant_add calls give, in bulk. */
int sk_quant_add_many(struct sk_quant *q, const double *x, size_t n);
int sk_quant_merge(struct sk_quant *q, const struct sk_quant *other);
bool sk_quant_is_exact(const struct sk_quant *q);
/* A sorted view: values and their weights (all 1 when exact), count *n;
 * the arrays are new (free both). */
int sk_quant_sorted(const struct sk_quant *q, double **values, uint64_t **weights, size_t *n);
json_t *sk_quant_to_json(const struct sk_quant *q);
int sk_quant_from_json(const json_t *j, struct sk_quant *q);
void sk_quant_free(struct sk_quant *q);

/* ---- distinct ---- */
struct sk_hll {
	uint8_t *reg;   /* 2^SK_HLL_BITS registers, NULL while empty */
};

int sk_hll_add(struct sk_hll *h, uint64_t hash);
/* hash[0..n), as n sk_hll_add calls. */
int sk_hll_add_many(struct sk_hll *h, const uint64_t *hash, size_t n);
int sk_hll_merge(struct sk_hll *h, const struct sk_hll *other);
double sk_hll_estimate(const struct sk_hll *h);
json_t *sk_hll_to_json(const struct sk_hll *h);   /* hex string, or null when empty */
int sk_hll_from_json(const json_t *j, struct sk_hll *h);
void sk_hll_free(struct sk_hll *h);

/* ---- value counts ---- */
struct sk_entry {
	uint64_t hash, count;
	double num;        /* numeric tables */
	char *text;        /* text tables (owned, NUL-terminated) */
	uint32_t len;
	bool used;
};

struct sk_freq {
	bool text;         /* keyed by text (else by number); fixed by the first add */
	bool complete;     /* every distinct value added is in the table */
	bool dropped;      /* given up (sk_freq_drop): nothing is counted any more */
	size_t cap;        /* most distinct values kept */
	struct sk_entry *slot;    /* text tables: the slots */
	uint64_t *nums;           /* number tables: each slot's value (as bits) and count */
	size_t nslots, used;
};

/* A table for numbers or text holding up to cap distinct values. */
void sk_freq_init(struct sk_freq *f, bool text, size_t cap);
/* hash: sk_hash_double(x) for numbers (the table rehashes with it), sk_hash_bytes(s, n) for texts. */
int sk_freq_add_num(struct sk_freq *f, double x, uint64_t hash, uint64_t count);
int sk_freq_add_text(struct sk_freq *f, const char *s, size_t n, uint64_t hash, uint64_t count);
int sk_freq_merge(struct sk_freq *f, const struct sk_freq *other);
/* Slot i (0 <= i < nslots) of a number table: true with its value and count when it holds one. */
bool sk_freq_num_slot(const struct sk_freq *f, size_t i, double *x, uint64_t *count);
/* Stop counting and release the table (complete becomes false). */
void sk_freq_drop(struct sk_freq *f);
/* The entries in order: count descending, then value ascending (numeric
 * order, or byte order of UTF-8, i.e. code-point order); a new array of
 * pointers to the entries (free it, not the entries: they are the table's,
 * or for a number table copies in the same block), count *n. */
int sk_freq_sorted(const struct sk_freq *f, const struct sk_entry ***out, size_t *n);
/* At most max entries (all when max is 0) as [[value, count], ...], most frequent first. */
json_t *sk_freq_entries_json(const struct sk_freq *f, size_t max);
json_t *sk_freq_to_json(const struct sk_freq *f, size_t max);
int sk_freq_from_json(const json_t *j, struct sk_freq *f, size_t cap);
void sk_freq_free(struct sk_freq *f);

#endif
