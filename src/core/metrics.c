/* metrics.c - Prometheus metric families, lock-free series, the text exposition (0.0.4).
 *
 * A family keeps its series twice: in an append-only list in creation order
 * (for rendering) and in an open-addressing hash table of series pointers
 * (for lookups). Both are published with release stores and read with
 * acquire loads, so readers take no lock; writers (series creation) hold the
 * family's mutex. A full table is replaced by one twice its size and the old
 * one is kept until the family is freed, so a reader still probing it stays
 * safe: at worst it misses a series created since and takes the locked path,
 * which looks again in the current table.
 */
#include "core/metrics.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/utf8.h"
#include "core/util.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum mtype { MT_COUNTER, MT_GAUGE, MT_HIST };

static const char *const mtype_name[] = { "counter", "gauge", "histogram" };

const double metrics_latency_bounds[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const size_t metrics_latency_nbounds = sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);

struct metrics_series {
	_Atomic(struct metrics_series *) next; /* the next series of the family, in creation order */
	struct metrics_family *fam;            /* the family that owns it */
	uint64_t hash;                         /* hash of the label values */
	char **values;                         /* the family's nlabels label values (raw) */
	char *text;                            /* escaped labels: a="x",b="y" ("" when none) */
	_Atomic uint64_t sum;                  /* histogram: sum of observations */
	_Atomic uint64_t v[];                  /* counter: the count; gauge: the double's bits;
						* histogram: nbounds + 1 bucket counts (not cumulative) */
};

/* An open-addressing table of series pointers, a slot set only once. */
struct table {
	struct table *older;                 /* the table this one replaced; freed with the family */
	size_t mask;                         /* slots - 1; slots is a power of two */
	size_t used;                         /* slots filled (under the family's mutex) */
	_Atomic(struct metrics_series *) slot[];
};

struct metrics_family {
	struct metrics_family *next;         /* the next family registered (under the registry's mutex) */
	enum mtype type;                     /* counter, gauge or histogram */
	char *name;                          /* metric name */
	char *help;                          /* HELP text, escaped */
	size_t nlabels;                      /* label names */
	char **labels;                       /* nlabels label names */
	size_t nbounds;                      /* histogram bounds besides +Inf */
	uint64_t *ibounds;                   /* the bounds in observation units */
	char (*le)[32];                      /* the bounds as le label values */
	uint64_t per_unit;                   /* histogram: observation units per rendered unit */
	double (*fn)(void *arg);             /* fn family: the value at render time */
	void *fn_arg;                        /* its argument */
	pthread_mutex_t lock;                /* serialises series creation */
	_Atomic(struct metrics_series *) head; /* the first series created */
	struct metrics_series *tail;         /* the last series created (under lock) */
	size_t nseries;                      /* series in the list (under lock) */
	size_t cap;                          /* most series besides overflow (under lock) */
	_Atomic(struct table *) table;       /* the current lookup table (labelled families) */
	struct metrics_series *overflow;     /* the series whose values are all "other" */
	atomic_bool overflow_used;           /* it has been returned: render it */
	atomic_bool overflow_logged;         /* the first overflow has been logged */
};

struct metrics {
	pthread_mutex_t lock;                /* registrations and renders */
	struct metrics_family *first;        /* families in registration order */
	struct metrics_family *last;         /* the last one registered */
};

/* ---- names and text ---- */

static bool name_ok(const char *s)
{
	if (!s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Whether a + sa and b + sb are the same string. */
static bool concat_eq(const char *a, const char *sa, const char *b, const char *sb)
{
	size_t la = strlen(a), lb = strlen(b), n = la + strlen(sa);

	if (n != lb + strlen(sb))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ca = i < la ? a[i] : sa[i - la], cb = i < lb ? b[i] : sb[i - lb];
		if (ca != cb)
			return false;
	}
	return true;
}

static const char *const hist_suffixes[] = { "", "_bucket", "_sum", "_count", NULL };
static const char *const plain_suffixes[] = { "", NULL };

/* Whether two families would render a sample name in common. */
static bool names_clash(const char *a, enum mtype ta, const char *b, enum mtype tb)
{
	const char *const *xa = ta == MT_HIST ? hist_suffixes : plain_suffixes;
	const char *const *xb = tb == MT_HIST ? hist_suffixes : plain_suffixes;

	for (const char *const *p = xa; *p; p++)
		for (const char *const *q = xb; *q; q++)
			if (concat_eq(a, *p, b, *q))
				return true;
	return false;
}

/* Bytes of s once label-value escaped (\\, \", \n) or HELP escaped (\\, \n). */
static size_t escaped_len(const char *s, bool quote)
{
	size_t n = 0;

	for (; *s; s++)
		n += (*s == '\\' || *s == '\n' || (quote && *s == '"')) ? 2 : 1;
	return n;
}

/* Write s escaped at p; returns the end. */
static char *escape_to(char *p, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '\n' || (quote && *s == '"')) {
			*p++ = '\\';
			*p++ = *s == '\n' ? 'n' : *s;
		} else {
			*p++ = *s;
		}
	}
	return p;
}

/* A double as the exposition writes it: the shortest of %.15g..%.17g that
 * reads back exactly, NaN, +Inf, -Inf. */
static void fmt_double(char out[32], double v)
{
	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static uint64_t hash_values(const char *const *values, const size_t *lens, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, a 0 byte after each value */

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < lens[i]; j++) {
			h ^= (unsigned char)values[i][j];
			h *= 1099511628211ull;
		}
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- series ---- */

static size_t series_nv(const struct metrics_family *f)
{
	return f->type == MT_HIST ? f->nbounds + 1 : 1;
}

/* A new series of f with the given values (lengths lens), not yet linked. */
static struct metrics_series *series_alloc(struct metrics_family *f, const char *const *values,
					   const size_t *lens, uint64_t hash)
{
	size_t nv = series_nv(f), strbytes = 0, textlen = 0, size;
	struct metrics_series *s;
	char *p;

	for (size_t i = 0; i < f->nlabels; i++) {
		strbytes += lens[i] + 1;
		textlen += (i ? 1 : 0) + strlen(f->labels[i]) + 2 + escaped_len(values[i], true) + 1;
	}
	size = sizeof(*s) + nv * sizeof(s->v[0]) + f->nlabels * sizeof(char *) + strbytes + textlen + 1;
	s = ccalloc(1, size);
	if (!s)
		return NULL;
	s->fam = f;
	s->hash = hash;
	s->values = (char **)((char *)s + sizeof(*s) + nv * sizeof(s->v[0]));
	p = (char *)(s->values + f->nlabels);
	for (size_t i = 0; i < f->nlabels; i++) {
		s->values[i] = p;
		memcpy(p, values[i], lens[i] + 1);
		p += lens[i] + 1;
	}
	s->text = p;
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			*p++ = ',';
		size_t ln = strlen(f->labels[i]);
		memcpy(p, f->labels[i], ln);
		p += ln;
		*p++ = '=';
		*p++ = '"';
		p = escape_to(p, values[i], true);
		*p++ = '"';
	}
	*p = '\0';
	return s;
}

static bool series_match(const struct metrics_series *s, uint64_t hash, const char *const *values,
			 const size_t *lens, size_t n)
{
	if (s->hash != hash)
		return false;
	for (size_t i = 0; i < n; i++)
		if (memcmp(s->values[i], values[i], lens[i] + 1) != 0)
			return false;
	return true;
}

static struct table *table_alloc(size_t slots)
{
	struct table *t = ccalloc(1, sizeof(*t) + slots * sizeof(t->slot[0]));

	if (t)
		t->mask = slots - 1;
	return t;
}

static struct metrics_series *table_find(struct table *t, uint64_t hash, const char *const *values,
					 const size_t *lens, size_t n)
{
	for (size_t i = hash & t->mask;; i = (i + 1) & t->mask) {
		struct metrics_series *s = atomic_load_explicit(&t->slot[i], memory_order_acquire);
		if (!s)
			return NULL;
		if (series_match(s, hash, values, lens, n))
			return s;
	}
}

/* Put s in the first free slot of its probe sequence (caller holds the lock
 * and has checked a slot is free). */
static void table_put(struct table *t, struct metrics_series *s)
{
	size_t i = s->hash & t->mask;

	while (atomic_load_explicit(&t->slot[i], memory_order_relaxed))
		i = (i + 1) & t->mask;
	atomic_store_explicit(&t->slot[i], s, memory_order_release);
	t->used++;
}

/* Add s to the lookup table, growing it past half full. False when it is full
 * and cannot grow. Caller holds the family's lock. */
static bool table_add(struct metrics_family *f, struct metrics_series *s)
{
	struct table *t = atomic_load_explicit(&f->table, memory_order_relaxed), *nt;

	if ((t->used + 1) * 2 > t->mask + 1) {
		nt = table_alloc((t->mask + 1) * 2);
		if (nt) {
			for (size_t i = 0; i <= t->mask; i++) {
				struct metrics_series *o = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
				if (o)
					table_put(nt, o);
			}
			nt->older = t;
			atomic_store_explicit(&f->table, nt, memory_order_release);
			t = nt;
		}
	}
	if (t->used + 1 >= t->mask + 1) /* keep one slot empty so probes end */
		return false;
	table_put(t, s);
	return true;
}

/* Link s at the end of the creation list (caller holds the lock). */
static void list_append(struct metrics_family *f, struct metrics_series *s)
{
	if (f->tail)
		atomic_store_explicit(&f->tail->next, s, memory_order_release);
	else
		atomic_store_explicit(&f->head, s, memory_order_release);
	f->tail = s;
	f->nseries++;
}

/* The overflow series, marked for rendering; the first forced use is logged. */
static struct metrics_series *overflow(struct metrics_family *f, const char *why)
{
	if (!atomic_load_explicit(&f->overflow_used, memory_order_relaxed))
		atomic_store_explicit(&f->overflow_used, true, memory_order_relaxed);
	if (why && !atomic_load_explicit(&f->overflow_logged, memory_order_relaxed) &&
	    !atomic_exchange(&f->overflow_logged, true))
		cairn_log(LOG_WARN, "metric '%s': %s, observations go to the series labelled \"%s\"",
			  f->name, why, METRICS_OVERFLOW);
	return f->overflow;
}

struct metrics_series *metrics_series_get(struct metrics_family *f, const char *const *values, size_t n)
{
	size_t lens[METRICS_LABELS_MAX];
	struct metrics_series *s;
	uint64_t hash;
	const char *why = NULL;

	if (f->fn)
		CAIRN_BUG("metrics_series_get on a callback family");
	if (n != f->nlabels)
		CAIRN_BUG("metrics_series_get: wrong number of label values");
	if (!n)
		return atomic_load_explicit(&f->head, memory_order_relaxed);
	for (size_t i = 0; i < n; i++) {
		lens[i] = strnlen(values[i], METRICS_VALUE_MAX + 1);
		if (lens[i] > METRICS_VALUE_MAX || !utf8_valid(values[i], lens[i]))
			return overflow(f, "a label value is too long or not UTF-8");
	}
	hash = hash_values(values, lens, n);
	s = table_find(atomic_load_explicit(&f->table, memory_order_acquire), hash, values, lens, n);
	if (s)
		return s == f->overflow ? overflow(f, NULL) : s;

	pthread_mutex_lock(&f->lock);
	s = table_find(atomic_load_explicit(&f->table, memory_order_relaxed), hash, values, lens, n);
	if (s)
		goto out;
	if (f->nseries >= f->cap) {
		why = "the series cap is reached";
		goto out;
	}
	s = series_alloc(f, values, lens, hash);
	if (!s) {
		why = "out of memory for a series";
		goto out;
	}
	if (!table_add(f, s)) {
		free(s);
		s = NULL;
		why = "out of memory for a series";
		goto out;
	}
	list_append(f, s);
out:
	pthread_mutex_unlock(&f->lock);
	if (!s || s == f->overflow)
		return overflow(f, why);
	return s;
}

/* ---- the hot path ---- */

void metrics_counter_add(struct metrics_series *s, uint64_t n)
{
	atomic_fetch_add_explicit(&s->v[0], n, memory_order_relaxed);
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

void metrics_gauge_set(struct metrics_series *s, double v)
{
	atomic_store_explicit(&s->v[0], dbits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metrics_series *s, double delta)
{
	uint64_t old = atomic_load_explicit(&s->v[0], memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(&s->v[0], &old, dbits(bitsd(old) + delta),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void metrics_hist_observe(struct metrics_series *s, uint64_t v)
{
	const struct metrics_family *f = s->fam;
	const uint64_t *b = f->ibounds;
	size_t lo = 0, hi = f->nbounds; /* the first bound >= v, nbounds for +Inf */

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v <= b[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&s->v[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum, v, memory_order_relaxed);
}

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_hist_observe_since(struct metrics_series *s, uint64_t start_ns)
{
	uint64_t now = metrics_now_ns();

	metrics_hist_observe(s, now > start_ns ? now - start_ns : 0);
}

uint64_t metrics_counter_get(const struct metrics_series *s)
{
	return atomic_load_explicit(&s->v[0], memory_order_relaxed);
}

double metrics_gauge_get(const struct metrics_series *s)
{
	return bitsd(atomic_load_explicit(&s->v[0], memory_order_relaxed));
}

uint64_t metrics_hist_count(const struct metrics_series *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= s->fam->nbounds; i++)
		n += atomic_load_explicit(&s->v[i], memory_order_relaxed);
	return n;
}

/* ---- families ---- */

static void family_free(struct metrics_family *f)
{
	struct metrics_series *s, *next;
	struct table *t, *older;

	if (!f)
		return;
	for (s = atomic_load_explicit(&f->head, memory_order_relaxed); s; s = next) {
		next = atomic_load_explicit(&s->next, memory_order_relaxed);
		free(s);
	}
	free(f->overflow);
	for (t = atomic_load_explicit(&f->table, memory_order_relaxed); t; t = older) {
		older = t->older;
		free(t);
	}
	if (f->labels)
		for (size_t i = 0; i < f->nlabels; i++)
			free(f->labels[i]);
	free(f->labels);
	free(f->ibounds);
	free(f->le);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Check a family's name, help and labels against the rules in metrics.h. */
static int family_check(enum mtype type, bool fn, const char *name, const char *help,
			const char *const *labels, size_t nlabels)
{
	static const char *const reserved[] = { "_bucket", "_sum", "_count" };

	if (!name_ok(name))
		return cairn_error_set(CAIRN_EINVALID, "metric name '%s' is not snake_case [a-z_][a-z0-9_]*",
				       name ? name : "");
	if (type == MT_COUNTER && !ends_with(name, "_total"))
		return cairn_error_set(CAIRN_EINVALID, "counter name '%s' must end in _total", name);
	if (type != MT_COUNTER && ends_with(name, "_total"))
		return cairn_error_set(CAIRN_EINVALID, "only a counter's name may end in _total ('%s')", name);
	if (type != MT_HIST)
		for (size_t i = 0; i < 3; i++)
			if (ends_with(name, reserved[i]))
				return cairn_error_set(CAIRN_EINVALID, "only a histogram's samples end in %s ('%s')",
						       reserved[i], name);
	if (!help || !*help || !utf8_valid(help, strlen(help)))
		return cairn_error_set(CAIRN_EINVALID, "metric '%s' needs a help text in UTF-8", name);
	if (nlabels > METRICS_LABELS_MAX || (nlabels && (!labels || fn)))
		return cairn_error_set(CAIRN_EINVALID, "metric '%s': bad label list", name);
	for (size_t i = 0; i < nlabels; i++) {
		const char *l = labels[i];
		if (!name_ok(l) || strncmp(l, "__", 2) == 0 || strcmp(l, "le") == 0 ||
		    strcmp(l, "quantile") == 0)
			return cairn_error_set(CAIRN_EINVALID, "metric '%s': label name '%s' is not allowed",
					       name, l ? l : "");
		for (size_t j = 0; j < i; j++)
			if (strcmp(labels[j], l) == 0)
				return cairn_error_set(CAIRN_EINVALID, "metric '%s': label '%s' given twice", name, l);
	}
	return 0;
}

/* Convert the bounds to observation units and le values (f->nbounds set). */
static int family_bounds(struct metrics_family *f, const double *bounds)
{
	double pu = (double)f->per_unit;

	f->ibounds = ccalloc(f->nbounds ? f->nbounds : 1, sizeof(*f->ibounds));
	f->le = ccalloc(f->nbounds ? f->nbounds : 1, sizeof(*f->le));
	if (!f->ibounds || !f->le)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < f->nbounds; i++) {
		double x = bounds[i] * pu, r = nearbyint(x), u;

		if (!isfinite(bounds[i]) || bounds[i] < 0 || x >= 18446744073709551616.0)
			return cairn_error_set(CAIRN_EINVALID, "histogram '%s': bound %g is not finite and >= 0",
					       f->name, bounds[i]);
		/* bounds*per_unit is an integer up to rounding (0.005 s in ns): take it */
		u = fabs(x - r) <= 1e-9 * fmax(1.0, x) ? r : floor(x);
		f->ibounds[i] = (uint64_t)u;
		if (i && (bounds[i] <= bounds[i - 1] || f->ibounds[i] <= f->ibounds[i - 1]))
			return cairn_error_set(CAIRN_EINVALID,
					       "histogram '%s': bounds must increase, by a whole observation unit",
					       f->name);
		fmt_double(f->le[i], bounds[i]);
	}
	return 0;
}

static int family_new(struct metrics *m, struct metrics_family **out, enum mtype type, const char *name,
		      const char *help, const char *const *labels, size_t nlabels, const double *bounds,
		      size_t nbounds, uint64_t per_unit, double (*fn)(void *), void *fn_arg)
{
	static const char *const other[METRICS_LABELS_MAX] = {
		METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW,
		METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW,
		METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW,
		METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW,
	};
	size_t lens[METRICS_LABELS_MAX];
	struct metrics_family *f = NULL;
	struct metrics_series *s;
	int err = CAIRN_ERR;
	char *p;

	if (out)
		*out = NULL;
	err = family_check(type, fn != NULL, name, help, labels, nlabels);
	if (err)
		return err;
	if (type == MT_HIST) {
		if (!bounds && !nbounds) {
			bounds = metrics_latency_bounds;
			nbounds = metrics_latency_nbounds;
		}
		if (!bounds || nbounds > METRICS_BUCKETS_MAX || per_unit == 0)
			return cairn_error_set(CAIRN_EINVALID, "histogram '%s': bad bounds or unit", name);
	}
	err = CAIRN_ENOMEM;
	f = ccalloc(1, sizeof(*f));
	if (!f)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&f->lock, NULL);
	f->type = type;
	f->cap = METRICS_SERIES_CAP;
	f->fn = fn;
	f->fn_arg = fn_arg;
	f->nlabels = nlabels;
	f->nbounds = nbounds;
	f->per_unit = per_unit;
	f->name = cstrdup(name);
	f->help = cmalloc(escaped_len(help, false) + 1);
	if (!f->name || !f->help)
		goto fail;
	p = escape_to(f->help, help, false);
	*p = '\0';
	if (type == MT_HIST && (err = family_bounds(f, bounds)) != 0)
		goto fail;
	err = CAIRN_ENOMEM;
	if (nlabels) {
		f->labels = ccalloc(nlabels, sizeof(*f->labels));
		if (!f->labels)
			goto fail;
		for (size_t i = 0; i < nlabels; i++) {
			f->labels[i] = cstrdup(labels[i]);
			if (!f->labels[i])
				goto fail;
			lens[i] = strlen(METRICS_OVERFLOW);
		}
		f->table = table_alloc(16);
		if (!f->table)
			goto fail;
		f->overflow = series_alloc(f, other, lens, hash_values(other, lens, nlabels));
		if (!f->overflow)
			goto fail;
		table_add(f, f->overflow);
	} else if (!fn) {
		s = series_alloc(f, NULL, NULL, 0);
		if (!s)
			goto fail;
		list_append(f, s);
	}

	pthread_mutex_lock(&m->lock);
	for (struct metrics_family *o = m->first; o; o = o->next) {
		if (names_clash(name, type, o->name, o->type)) {
			pthread_mutex_unlock(&m->lock);
			err = cairn_error_set(CAIRN_EEXISTS, "metric '%s' clashes with '%s'", name, o->name);
			family_free(f);
			return err;
		}
	}
	if (m->last)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	pthread_mutex_unlock(&m->lock);
	if (out)
		*out = f;
	return 0;
fail:
	family_free(f);
	if (err == CAIRN_ENOMEM)
		cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return err;
}

int metrics_counter_new(struct metrics *m, struct metrics_family **out, const char *name,
			const char *help, const char *const *labels, size_t nlabels)
{
	return family_new(m, out, MT_COUNTER, name, help, labels, nlabels, NULL, 0, 1, NULL, NULL);
}

int metrics_gauge_new(struct metrics *m, struct metrics_family **out, const char *name,
		      const char *help, const char *const *labels, size_t nlabels)
{
	return family_new(m, out, MT_GAUGE, name, help, labels, nlabels, NULL, 0, 1, NULL, NULL);
}

int metrics_hist_new(struct metrics *m, struct metrics_family **out, const char *name,
		     const char *help, const char *const *labels, size_t nlabels,
		     const double *bounds, size_t nbounds, uint64_t per_unit)
{
	return family_new(m, out, MT_HIST, name, help, labels, nlabels, bounds, nbounds, per_unit, NULL,
			  NULL);
}

int metrics_gauge_fn_new(struct metrics *m, struct metrics_family **out, const char *name,
			 const char *help, double (*fn)(void *arg), void *arg)
{
	if (!fn)
		return cairn_error_set(CAIRN_EINVALID, "metric '%s' needs a function", name ? name : "");
	return family_new(m, out, MT_GAUGE, name, help, NULL, 0, NULL, 0, 1, fn, arg);
}

int metrics_counter_fn_new(struct metrics *m, struct metrics_family **out, const char *name,
			   const char *help, double (*fn)(void *arg), void *arg)
{
	if (!fn)
		return cairn_error_set(CAIRN_EINVALID, "metric '%s' needs a function", name ? name : "");
	return family_new(m, out, MT_COUNTER, name, help, NULL, 0, NULL, 0, 1, fn, arg);
}

void metrics_family_set_cap(struct metrics_family *f, size_t cap)
{
	pthread_mutex_lock(&f->lock);
	f->cap = cap;
	pthread_mutex_unlock(&f->lock);
}

size_t metrics_family_nseries(struct metrics_family *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->nseries;
	pthread_mutex_unlock(&f->lock);
	return n;
}

/* ---- the registry ---- */

int metrics_new(struct metrics **out)
{
	struct metrics *m = ccalloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (!m)
		return;
	for (f = m->first; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---- rendering ---- */

/* name{labels[,extra]} : the braces only when there is a label. */
static void put_sample_name(struct buf *out, const char *name, const char *suffix, const char *labels,
			    const char *le)
{
	buf_puts(out, name);
	buf_puts(out, suffix);
	if (!*labels && !le)
		return;
	buf_putc(out, '{');
	buf_puts(out, labels);
	if (le)
		buf_printf(out, "%sle=\"%s\"", *labels ? "," : "", le);
	buf_putc(out, '}');
}

static void render_series(struct buf *out, const struct metrics_family *f, struct metrics_series *s)
{
	char num[32];

	if (f->type == MT_COUNTER) {
		put_sample_name(out, f->name, "", s->text, NULL);
		buf_printf(out, " %" PRIu64 "\n", metrics_counter_get(s));
	} else if (f->type == MT_GAUGE) {
		fmt_double(num, metrics_gauge_get(s));
		put_sample_name(out, f->name, "", s->text, NULL);
		buf_printf(out, " %s\n", num);
	} else {
		uint64_t cum = 0;

		for (size_t i = 0; i < f->nbounds; i++) {
			cum += atomic_load_explicit(&s->v[i], memory_order_relaxed);
			put_sample_name(out, f->name, "_bucket", s->text, f->le[i]);
			buf_printf(out, " %" PRIu64 "\n", cum);
		}
		cum += atomic_load_explicit(&s->v[f->nbounds], memory_order_relaxed);
		put_sample_name(out, f->name, "_bucket", s->text, "+Inf");
		buf_printf(out, " %" PRIu64 "\n", cum);
		fmt_double(num, (double)atomic_load_explicit(&s->sum, memory_order_relaxed) /
					(double)f->per_unit);
		put_sample_name(out, f->name, "_sum", s->text, NULL);
		buf_printf(out, " %s\n", num);
		put_sample_name(out, f->name, "_count", s->text, NULL);
		buf_printf(out, " %" PRIu64 "\n", cum);
	}
}

static void render_family(struct buf *out, struct metrics_family *f)
{
	struct metrics_series *s = atomic_load_explicit(&f->head, memory_order_acquire);
	bool ovf = f->overflow && atomic_load_explicit(&f->overflow_used, memory_order_relaxed);
	char num[32];

	if (!f->fn && !s && !ovf)
		return;
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, mtype_name[f->type]);
	if (f->fn) {
		fmt_double(num, f->fn(f->fn_arg));
		buf_printf(out, "%s %s\n", f->name, num);
		return;
	}
	for (; s; s = atomic_load_explicit(&s->next, memory_order_acquire))
		render_series(out, f, s);
	if (ovf)
		render_series(out, f, f->overflow);
}

int metrics_render(struct metrics *m, struct buf *out)
{
	pthread_mutex_lock(&m->lock);
	for (struct metrics_family *f = m->first; f && !out->err; f = f->next)
		render_family(out, f);
	pthread_mutex_unlock(&m->lock);
	return buf_error(out);
}
