/* profile.c - the profile builder: per-column statistics, merging, and the profile's JSON form. */
#include "stats/profile.h"
#include "stats/stats_int.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const double quantile_points[] = { 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99 };
static const char *const quantile_names[] = { "0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99" };
#define NQUANT (sizeof(quantile_points) / sizeof(quantile_points[0]))
#define HIST_BINS 20

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- building ---- */

static void col_init(struct prof_col *c)
{
	memset(c, 0, sizeof(*c));
	sk_freq_init(&c->fnum, false, PROF_NUM_CAP);
	sk_freq_init(&c->ftext, true, PROF_TEXT_CAP);
}

static void col_free(struct prof_col *c)
{
	free(c->name);
	sk_quant_free(&c->q);
	sk_freq_free(&c->fnum);
	sk_freq_free(&c->ftext);
	sk_hll_free(&c->hnum);
	sk_hll_free(&c->htext);
}

int prof_init(struct prof *p, const char *const *names, const size_t *lens, size_t ncols)
{
	memset(p, 0, sizeof(*p));
	p->dup_exact = true;
	if (!ncols)
		return cairn_error_set(CAIRN_EINVALID, "the table has no columns");
	if (!(p->col = ccalloc(ncols, sizeof(*p->col))))
		return oom();
	p->ncols = ncols;
	for (size_t i = 0; i < ncols; i++) {
		col_init(&p->col[i]);
		if (!utf8_valid(names[i], lens[i]) || memchr(names[i], '\0', lens[i])) {
			prof_free(p);
			return cairn_error_set(CAIRN_EINVALID, "column %zu: the name is not valid UTF-8 text", i + 1);
		}
		p->col[i].name = lens[i] ? cstrndup(names[i], lens[i]) : NULL;
		if (!lens[i]) {
			char tmp[32];

			snprintf(tmp, sizeof(tmp), "Unnamed: %zu", i);   /* pandas' name for it */
			p->col[i].name = cstrdup(tmp);
		}
		if (!p->col[i].name) {
			prof_free(p);
			return oom();
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->col[i].name, p->col[j].name)) {
				int rc = cairn_error_set(CAIRN_EINVALID, "duplicate column name '%.100s'", p->col[i].name);

				prof_free(p);
				return rc;
			}
	}
	return 0;
}

int prof_keep_values(struct prof *p)
{
	if (!p->keep && !(p->keep = ccalloc(p->ncols, sizeof(*p->keep))))
		return oom();
	return 0;
}

void prof_free(struct prof *p)
{
	for (size_t i = 0; i < p->ncols; i++) {
		col_free(&p->col[i]);
		if (p->keep)
			prof_vec_free(&p->keep[i]);
	}
	free(p->keep);
	free(p->col);
	free(p->rowset);
	memset(p, 0, sizeof(*p));
}

/* Neumaier's compensated addition (the larger addend chosen without a
 * branch: which one it is is a coin toss for sums of deviations) */
static inline void kadd(double *s, double *c, double x)
{
	double t = *s + x, big = fabs(*s) >= fabs(x) ? *s : x, small = fabs(*s) >= fabs(x) ? x : *s;

	*c += (big - t) + small;
	*s = t;
}

#define FIELD_BATCH 32   /* fields read (and their slots prefetched) before the columns take them */

/* a number as the shortest text that reads back as it */
static int num_text(double x, char *buf, size_t size)
{
	int n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	return n;
}

/* The column's first text: the numbers counted so far become texts too. */
static int start_text(struct prof_col *c)
{
	const struct sk_entry **v;
	size_t n;
	int rc;

	c->has_text = true;
	if ((rc = sk_freq_sorted(&c->fnum, &v, &n)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		char buf[40];
		int len = num_text(v[i]->num, buf, sizeof(buf));
		uint64_t h = sk_hash_bytes(buf, (size_t)len);

		if ((rc = sk_freq_add_text(&c->ftext, buf, (size_t)len, h, v[i]->count)) ||
		    (rc = sk_hll_add(&c->htext, h)))
			break;
	}
	/* NaN and inf seen so far become texts too (their spelling is not kept: "nan", "inf") */
	if (!rc && c->nans)
		rc = sk_freq_add_text(&c->ftext, "nan", 3, sk_hash_bytes("nan", 3), c->nans);
	if (!rc && c->nans)
		rc = sk_hll_add(&c->htext, sk_hash_bytes("nan", 3));
	if (!rc && c->infs)
		rc = sk_freq_add_text(&c->ftext, "inf", 3, sk_hash_bytes("inf", 3), c->infs);
	if (!rc && c->infs)
		rc = sk_hll_add(&c->htext, sk_hash_bytes("inf", 3));
	if (!c->fnum.complete)
		c->ftext.complete = false;
	free(v);
	return rc;
}

/* A field read and hashed, before the column takes it (prof_add_record
 * reads a whole record first, so that the value tables' slots are
 * prefetched while the rest of the record is parsed). */
struct field_val {
	struct ccsv_value v;
	uint64_t hnum;   /* sk_hash_double(v.d) for a finite number */
};

static inline void field_read(struct prof_col *c, const char *s, size_t n, struct field_val *fv)
{
	enum ccsv_kind k = ccsv_value_parse(s, n, &fv->v);

	if (k != CCSV_EMPTY && k != CCSV_TEXT && isfinite(fv->v.d)) {
		fv->hnum = sk_hash_double(fv->v.d);
		if (!c->fnum.dropped && c->fnum.nslots)
			__builtin_prefetch(&c->fnum.nums[2 * (fv->hnum & (c->fnum.nslots - 1))], 1);
	}
}

/* Column c takes the field s[0..n) as fv read it; 1 for a null. */
static inline int col_add(struct prof_col *c, const char *s, size_t n, const struct field_val *fv, size_t line,
			  uint64_t *hash, struct prof_vec *keep)
{
	enum ccsv_kind k = fv->v.kind;
	double x = fv->v.d, d;
	uint64_t h;
	int rc;

	c->kinds[k]++;
	if (k == CCSV_EMPTY) {
		*hash = 0x5bd1e995;
		return 1;   /* a null */
	}
	if (k == CCSV_TEXT || c->has_text) {
		h = sk_hash_bytes(s, n);
		if (!c->has_text && (rc = start_text(c)))
			return rc;
		if (c->ftext.used < c->ftext.cap || c->ftext.complete) {
			size_t before = c->ftext.used;

			if ((rc = sk_freq_add_text(&c->ftext, s, n, h, 1)))
				return rc;
			if (c->ftext.used > before && !utf8_valid(s, n))
				return cairn_error_set(CAIRN_EINVALID, "line %zu, column '%.100s': the value is not valid UTF-8",
						       line, c->name);
		} else if (!utf8_valid(s, n)) {
			return cairn_error_set(CAIRN_EINVALID, "line %zu, column '%.100s': the value is not valid UTF-8",
					       line, c->name);
		}
		if ((rc = sk_hll_add(&c->htext, h)))
			return rc;
		if (k == CCSV_TEXT) {
			*hash = h;
			return 0;
		}
	}
	if (!isfinite(x)) {
		if (isnan(x))
			c->nans++;
		else
			c->infs++;
		*hash = sk_hash_bytes(s, n);
		return 0;
	}
	h = fv->hnum;
	*hash = h;
	if (!c->nnum++) {
		c->min = c->max = x;
		c->shift = x;
	}
	c->min = x < c->min ? x : c->min;
	c->max = x > c->max ? x : c->max;
	d = x - c->shift;
	kadd(&c->s1, &c->c1, d);
	kadd(&c->s2, &c->c2, d * d);
	kadd(&c->sum, &c->csum, x);
	c->zeros += x == 0;
	c->negatives += x < 0;
	/* a table read for drift keeps its values: it has no use for the quantile sketch */
	if (!keep && (rc = sk_quant_add(&c->q, x)))
		return rc;
	if ((rc = sk_hll_add(&c->hnum, h)))
		return rc;
	if (!c->fnum.dropped) {
		if ((rc = sk_freq_add_num(&c->fnum, x, h, 1)))
			return rc;
	}
	/* kept values: the number table stands for them while it holds every
	 * value; when it first misses one (x), they start from it */
	if (keep && (keep->started || !c->fnum.complete)) {
		if (!keep->started && (rc = prof_vec_start(keep, &c->fnum)))
			return rc;
		if ((rc = prof_vec_push(keep, x)))
			return rc;
	}
	/* a float column past the cap has no use for its table (no top values) */
	if (!c->fnum.dropped && !c->fnum.complete && c->kinds[CCSV_FLOAT] && !c->has_text)
		sk_freq_drop(&c->fnum);
	return 0;
}

int prof_add_value(struct prof *p, size_t ci, const char *s, size_t n, size_t line, uint64_t *hash)
{
	struct field_val fv;

	field_read(&p->col[ci], s, n, &fv);
	return col_add(&p->col[ci], s, n, &fv, line, hash, p->keep ? &p->keep[ci] : NULL);
}

/* Ask for huge pages under a big table (a hint): the row set is probed at
 * random, and with 4 KiB pages each probe is a TLB miss as well. */
static void advise_huge(void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;

	if (n >= ((size_t)4 << 20) && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static int rowset_grow(struct prof *p)
{
	size_t n = p->rowset_slots ? p->rowset_slots * 2 : 1024;
	uint64_t *s = ccalloc(n, sizeof(*s));

	if (!s)
		return oom();
	advise_huge(s, n * sizeof(*s));
	for (size_t i = 0; i < p->rowset_slots; i++) {
		size_t j;

		if (!p->rowset[i])
			continue;
		for (j = p->rowset[i] & (n - 1); s[j]; j = (j + 1) & (n - 1))
			;
		s[j] = p->rowset[i];
	}
	free(p->rowset);
	p->rowset = s;
	p->rowset_slots = n;
	return 0;
}

static int rowset_add(struct prof *p, uint64_t h)
{
	size_t j;
	int rc;

	if (p->rowset_full)
		return 0;
	if (!h)
		h = 1;   /* 0 marks an empty slot */
	if ((p->rowset_used + 1) * 2 > p->rowset_slots) {
		if (p->rowset_used >= PROFILE_ROWSET_MAX) {
			p->rowset_full = true;
			p->dup_exact = false;
			return 0;
		}
		if ((rc = rowset_grow(p)))
			return rc;
	}
	p->rows_hashed++;
	for (j = h & (p->rowset_slots - 1); p->rowset[j]; j = (j + 1) & (p->rowset_slots - 1))
		if (p->rowset[j] == h)
			return 0;
	p->rowset[j] = h;
	p->rowset_used++;
	return 0;
}

/* A row's hash goes to the set PROF_ROWS_AHEAD rows later, its slot
 * prefetched now: the set is far bigger than the caches, and a row's
 * parsing hides the miss. Every reader of the set (prof_merge, duplicated)
 * takes the held-back hashes into account, in order. */
static int rowset_offer(struct prof *p, uint64_t h)
{
	int rc = 0;

	if (p->rowset_slots)
		__builtin_prefetch(&p->rowset[(h ? h : 1) & (p->rowset_slots - 1)], 1);
	if (p->ahead_n < PROF_ROWS_AHEAD) {
		p->ahead[(p->ahead_head + p->ahead_n++) % PROF_ROWS_AHEAD] = h;
		return 0;
	}
	rc = rowset_add(p, p->ahead[p->ahead_head]);
	p->ahead[p->ahead_head] = h;
	p->ahead_head = (p->ahead_head + 1) % PROF_ROWS_AHEAD;
	return rc;
}

/* the held-back hashes into the set */
static int rowset_flush(struct prof *p)
{
	int rc = 0;

	for (; p->ahead_n && !rc; p->ahead_n--) {
		rc = rowset_add(p, p->ahead[p->ahead_head]);
		p->ahead_head = (p->ahead_head + 1) % PROF_ROWS_AHEAD;
	}
	p->ahead_head = 0;
	return rc;
}

int prof_add_record(struct prof *p, const struct ccsv_field *f, size_t nfields, size_t line)
{
	uint64_t row = 0xcbf29ce484222325ULL;
	size_t nulls = 0;
	int rc;

	if (nfields != p->ncols)
		return cairn_error_set(CAIRN_EINVALID, "line %zu has %zu fields, the header has %zu", line, nfields,
				       p->ncols);
	for (size_t i0 = 0; i0 < nfields; i0 += FIELD_BATCH) {
		struct field_val fv[FIELD_BATCH];
		size_t m = nfields - i0 < FIELD_BATCH ? nfields - i0 : FIELD_BATCH;

		for (size_t i = 0; i < m; i++)
			field_read(&p->col[i0 + i], f[i0 + i].p, f[i0 + i].n, &fv[i]);
		for (size_t i = 0; i < m; i++) {
			uint64_t h;

			rc = col_add(&p->col[i0 + i], f[i0 + i].p, f[i0 + i].n, &fv[i], line, &h,
				     p->keep ? &p->keep[i0 + i] : NULL);
			if (rc < 0)
				return rc;
			nulls += rc == 1;
			row = (row ^ h) * 0x100000001b3ULL + i0 + i;
		}
	}
	p->rows++;
	p->missing_cells += nulls;
	p->empty_rows += nulls == nfields;
	if (p->keep) {   /* a table read for drift: nothing asks for its duplicated rows */
		p->dup_exact = false;
		return 0;
	}
	return rowset_offer(p, row);
}

/* ---- batches: records taken column by column ---- */

int prof_batch_init(struct prof_batch *b, size_t ncols)
{
	memset(b, 0, sizeof(*b));
	b->ncols = ncols;
	b->off = cmalloc((ncols ? ncols : 1) * PROF_BATCH * sizeof(*b->off));
	b->n = cmalloc((ncols ? ncols : 1) * PROF_BATCH * sizeof(*b->n));
	if (!b->off || !b->n) {
		prof_batch_free(b);
		return oom();
	}
	return 0;
}

void prof_batch_free(struct prof_batch *b)
{
	free(b->bytes);
	free(b->off);
	free(b->n);
	memset(b, 0, sizeof(*b));
}

static int batch_reserve(struct prof_batch *b, size_t more)
{
	size_t ncap;
	char *nb;

	if (b->len + more <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 1 << 16;
	while (ncap < b->len + more)
		ncap *= 2;
	if (!(nb = crealloc(b->bytes, ncap)))
		return oom();
	b->bytes = nb;
	b->cap = ncap;
	return 0;
}

int prof_batch_add(struct prof *p, struct prof_batch *b, const struct ccsv_field *f, size_t nfields, size_t line)
{
	uintptr_t lo, hi;
	size_t r;
	bool one = true;
	int rc;

	if (nfields != p->ncols || nfields != b->ncols) {
		if ((rc = prof_batch_flush(p, b)))   /* an earlier bad field comes first */
			return rc;
		return prof_add_record(p, f, nfields, line);
	}
	/* the reader holds a record's fields in one block: copied at once when so */
	lo = (uintptr_t)f[0].p;
	hi = (uintptr_t)f[nfields - 1].p + f[nfields - 1].n;
	for (size_t c = 0; c < nfields && one; c++)
		one = (uintptr_t)f[c].p >= lo && (uintptr_t)f[c].p + f[c].n <= hi && hi - lo < PROF_BATCH_BYTES;
	r = b->rows;
	if (one) {
		if ((rc = batch_reserve(b, hi - lo)))
			return rc;
		memcpy(b->bytes + b->len, f[0].p, hi - lo);
		for (size_t c = 0; c < nfields; c++) {
			b->off[c * PROF_BATCH + r] = b->len + ((uintptr_t)f[c].p - lo);
			b->n[c * PROF_BATCH + r] = f[c].n;
		}
		b->len += hi - lo;
	} else {
		for (size_t c = 0; c < nfields; c++) {
			if ((rc = batch_reserve(b, f[c].n)))
				return rc;
			memcpy(b->bytes + b->len, f[c].p, f[c].n);
			b->off[c * PROF_BATCH + r] = b->len;
			b->n[c * PROF_BATCH + r] = f[c].n;
			b->len += f[c].n;
		}
	}
	b->line[r] = line;
	b->rows++;
	if (b->rows == PROF_BATCH || b->len >= PROF_BATCH_BYTES)
		return prof_batch_flush(p, b);
	return 0;
}

/* the first error in file order: the row and column it was found at, and its message */
struct batch_err {
	size_t row, col;
	int code;
	char msg[512];
};

/* Column ci takes rows [0, nrows) of b (nrows is short of b->rows after
 * an error in an earlier column: later rows cannot come first). The rows'
 * hashes and nulls are updated as prof_add_record updates them. A data
 * error is recorded in *err (when it comes before the one there); only
 * out of memory returns at once. */
static int col_take(struct prof *p, size_t ci, const struct prof_batch *b, size_t nrows, uint64_t *rowh,
		    uint32_t *nulls, struct batch_err *err)
{
	struct prof_col *c = &p->col[ci];
	struct prof_vec *keep = p->keep ? &p->keep[ci] : NULL;
	const size_t *off = b->off + ci * PROF_BATCH, *len = b->n + ci * PROF_BATCH;
	struct ccsv_value v[PROF_BATCH];
	double x[PROF_BATCH];
	uint64_t h[PROF_BATCH], kinds[CCSV_TEXT + 1] = { 0 };
	bool fast = !c->has_text;
	int rc;

	for (size_t r = 0; r < nrows; r++) {
		enum ccsv_kind k = ccsv_value_parse(b->bytes + off[r], len[r], &v[r]);

		x[r] = v[r].d;
		kinds[k]++;
		fast = fast && k != CCSV_EMPTY && k != CCSV_TEXT && isfinite(x[r]);
	}
	if (!fast) {   /* nulls, texts, NaN or inf among them: one value at a time */
		for (size_t r = 0; r < nrows; r++) {
			struct field_val fv = { v[r], 0 };
			const char *s = b->bytes + off[r];
			uint64_t hv;

			if (fv.v.kind != CCSV_EMPTY && fv.v.kind != CCSV_TEXT && isfinite(fv.v.d))
				fv.hnum = sk_hash_double(fv.v.d);
			rc = col_add(c, s, len[r], &fv, b->line[r], &hv, keep);
			if (rc < 0) {
				if (rc == CAIRN_ENOMEM)
					return rc;
				if (r < err->row || (r == err->row && ci < err->col)) {
					err->row = r;
					err->col = ci;
					err->code = rc;
					snprintf(err->msg, sizeof(err->msg), "%s", cairn_error_msg());
				}
				return 0;
			}
			nulls[r] += rc == 1;
			rowh[r] = (rowh[r] ^ hv) * 0x100000001b3ULL + ci;
		}
		return 0;
	}
	/* finite numbers only, in a column without text: col_add's steps, each over the whole batch */
	for (int k = 0; k <= CCSV_TEXT; k++)
		c->kinds[k] += kinds[k];
	if (!c->nnum)
		c->min = c->max = c->shift = x[0];
	{
		double mn = c->min, mx = c->max, sh = c->shift, s1 = c->s1, c1 = c->c1, s2 = c->s2, c2 = c->c2;
		double sm = c->sum, cs = c->csum;
		uint64_t zeros = 0, neg = 0;

		for (size_t r = 0; r < nrows; r++) {
			double xi = x[r], d = xi - sh;

			mn = xi < mn ? xi : mn;
			mx = xi > mx ? xi : mx;
			kadd(&s1, &c1, d);
			kadd(&s2, &c2, d * d);
			kadd(&sm, &cs, xi);
			zeros += xi == 0;
			neg += xi < 0;
		}
		c->min = mn;
		c->max = mx;
		c->s1 = s1;
		c->c1 = c1;
		c->s2 = s2;
		c->c2 = c2;
		c->sum = sm;
		c->csum = cs;
		c->zeros += zeros;
		c->negatives += neg;
		c->nnum += nrows;
	}
	for (size_t r = 0; r < nrows; r++) {
		h[r] = sk_hash_double(x[r]);
		rowh[r] = (rowh[r] ^ h[r]) * 0x100000001b3ULL + ci;
	}
	if (!keep && (rc = sk_quant_add_many(&c->q, x, nrows)))
		return rc;
	if ((rc = sk_hll_add_many(&c->hnum, h, nrows)))
		return rc;
	if (c->fnum.dropped && !keep)
		return 0;
	if (!c->fnum.dropped && c->fnum.nslots)
		for (size_t r = 0; r < nrows; r++)
			__builtin_prefetch(&c->fnum.nums[2 * (h[r] & (c->fnum.nslots - 1))], 1);
	/* the value table and the kept values, value by value (see col_add) */
	for (size_t r = 0; r < nrows; r++) {
		if (!c->fnum.dropped && (rc = sk_freq_add_num(&c->fnum, x[r], h[r], 1)))
			return rc;
		if (keep && (keep->started || !c->fnum.complete)) {
			if (!keep->started && (rc = prof_vec_start(keep, &c->fnum)))
				return rc;
			if ((rc = prof_vec_push_dec(keep, x[r], v[r].dmant, v[r].dscale)))
				return rc;
		}
		if (!c->fnum.dropped && !c->fnum.complete && c->kinds[CCSV_FLOAT] && !c->has_text)
			sk_freq_drop(&c->fnum);
	}
	return 0;
}

int prof_batch_flush(struct prof *p, struct prof_batch *b)
{
	uint64_t rowh[PROF_BATCH];
	uint32_t nulls[PROF_BATCH] = { 0 };
	struct batch_err err = { .row = SIZE_MAX, .col = SIZE_MAX };
	size_t nrows = b->rows;
	int rc = 0;

	if (!nrows)
		return 0;
	b->rows = 0;
	b->len = 0;
	for (size_t r = 0; r < nrows; r++)
		rowh[r] = 0xcbf29ce484222325ULL;
	for (size_t ci = 0; ci < p->ncols; ci++)
		if ((rc = col_take(p, ci, b, err.row < nrows ? err.row : nrows, rowh, nulls, &err)))
			return rc;
	if (err.row < nrows)
		return cairn_error_set(err.code, "%s", err.msg);
	for (size_t r = 0; r < nrows; r++) {
		p->rows++;
		p->missing_cells += nulls[r];
		p->empty_rows += nulls[r] == p->ncols;
		if (p->keep)
			p->dup_exact = false;
		else if ((rc = rowset_offer(p, rowh[r])))
			return rc;
	}
	return 0;
}

/* ---- merging ---- */

/* the running sums as count, mean and sum of squared deviations */
static void col_moments(const struct prof_col *c, double *mean, double *m2)
{
	double n = (double)c->nnum, s1 = c->s1 + c->c1, s2 = c->s2 + c->c2;

	*mean = n ? c->shift + s1 / n : 0;
	*m2 = n ? s2 - s1 * s1 / n : 0;
	if (*m2 < 0)
		*m2 = 0;
}

static int col_merge(struct prof_col *c, const struct prof_col *o)
{
	int rc;

	if (o->has_text && !c->has_text && (rc = start_text(c)))
		return rc;
	if (c->has_text && !o->has_text) {
		/* o's numbers join c's texts through a copy of o that starts its texts */
		struct prof_col tmp = *o;

		memset(&tmp.ftext, 0, sizeof(tmp.ftext));
		memset(&tmp.htext, 0, sizeof(tmp.htext));
		sk_freq_init(&tmp.ftext, true, PROF_TEXT_CAP);
		if ((rc = start_text(&tmp)) == 0 && (rc = sk_freq_merge(&c->ftext, &tmp.ftext)) == 0)
			rc = sk_hll_merge(&c->htext, &tmp.htext);
		sk_freq_free(&tmp.ftext);
		sk_hll_free(&tmp.htext);
		if (rc)
			return rc;
	} else if (o->has_text) {
		if ((rc = sk_freq_merge(&c->ftext, &o->ftext)) || (rc = sk_hll_merge(&c->htext, &o->htext)))
			return rc;
	}
	for (int k = 0; k <= CCSV_TEXT; k++)
		c->kinds[k] += o->kinds[k];
	if (o->nnum) {
		double ma, m2a, mb, m2b, n, delta;

		col_moments(c, &ma, &m2a);
		col_moments(o, &mb, &m2b);
		n = (double)(c->nnum + o->nnum);
		delta = mb - ma;
		if (!c->nnum) {
			c->min = o->min;
			c->max = o->max;
		}
		c->min = fmin(c->min, o->min);
		c->max = fmax(c->max, o->max);
		/* Chan et al.: the combined mean and squared deviations, as shift = mean, s1 = 0 */
		c->shift = c->nnum ? ma + delta * (double)o->nnum / n : mb;
		c->s2 = m2a + m2b + (c->nnum ? delta * delta * (double)c->nnum * (double)o->nnum / n : 0);
		c->s1 = c->c1 = c->c2 = 0;
		c->nnum += o->nnum;
		kadd(&c->sum, &c->csum, o->sum);
		kadd(&c->sum, &c->csum, o->csum);
	}
	c->zeros += o->zeros;
	c->negatives += o->negatives;
	c->nans += o->nans;
	c->infs += o->infs;
	if ((rc = sk_quant_merge(&c->q, &o->q)) || (rc = sk_hll_merge(&c->hnum, &o->hnum)))
		return rc;
	if (!c->fnum.dropped && (rc = sk_freq_merge(&c->fnum, &o->fnum)))
		return rc;
	if (!c->fnum.complete && c->kinds[CCSV_FLOAT] && !c->has_text)
		sk_freq_drop(&c->fnum);
	return 0;
}

int prof_merge(struct prof *p, struct prof *o)
{
	int rc;

	if (p->ncols != o->ncols)
		return cairn_error_set(CAIRN_EINVALID, "the profiles have %zu and %zu columns", p->ncols, o->ncols);
	for (size_t i = 0; i < p->ncols; i++)
		if (strcmp(p->col[i].name, o->col[i].name))
			return cairn_error_set(CAIRN_EINVALID, "column %zu is '%.100s' in one profile and '%.100s' in the other",
					       i + 1, p->col[i].name, o->col[i].name);
	for (size_t i = 0; i < p->ncols; i++) {
		if (p->keep && o->keep) {
			/* o's values join p's unless both tables still stand for them and
			 * their union is sure to fit the merged one */
			struct prof_vec *pv = &p->keep[i], *ov = &o->keep[i];
			const struct sk_freq *pf = &p->col[i].fnum, *of = &o->col[i].fnum;

			if ((pv->started || ov->started || pf->used + of->used > pf->cap) &&
			    (rc = prof_vec_append(pv, pf, ov, of)))
				return rc;
		}
		if ((rc = col_merge(&p->col[i], &o->col[i])))
			return rc;
	}
	p->rows += o->rows;
	p->missing_cells += o->missing_cells;
	p->empty_rows += o->empty_rows;
	p->dup_known += o->dup_known;
	if (!o->dup_exact)
		p->dup_exact = false;
	if ((rc = rowset_flush(p)))
		return rc;
	for (size_t i = 0; i < o->rowset_slots; i++)
		if (o->rowset[i] && (rc = rowset_add(p, o->rowset[i])))
			return rc;
	p->rows_hashed += o->rows_hashed - o->rowset_used;   /* o's own repeats */
	for (unsigned i = 0; i < o->ahead_n && !o->rowset_full; i++)   /* o's rows not yet in its set */
		if ((rc = rowset_add(p, o->ahead[(o->ahead_head + i) % PROF_ROWS_AHEAD])))
			return rc;
	if (o->rowset_full) {
		p->rowset_full = true;
		p->dup_exact = false;
	}
	return 0;
}

/* ---- what a column is ---- */

enum ccsv_kind prof_col_type(const struct prof_col *c)
{
	uint64_t num = c->kinds[CCSV_INT] + c->kinds[CCSV_FLOAT];
	uint64_t total = num + c->kinds[CCSV_BOOL] + c->kinds[CCSV_DATETIME] + c->kinds[CCSV_TEXT];

	if (c->kinds[CCSV_TEXT] || (c->kinds[CCSV_BOOL] && c->kinds[CCSV_BOOL] != total) ||
	    (c->kinds[CCSV_DATETIME] && c->kinds[CCSV_DATETIME] != total))
		return CCSV_TEXT;
	if (c->kinds[CCSV_BOOL])
		return CCSV_BOOL;
	if (c->kinds[CCSV_DATETIME])
		return CCSV_DATETIME;
	if (c->kinds[CCSV_INT] && !c->kinds[CCSV_FLOAT])
		return CCSV_INT;
	return CCSV_FLOAT;   /* an all-null column too, as pandas reads it */
}

const struct sk_freq *prof_col_freq(const struct prof_col *c)
{
	return prof_col_type(c) == CCSV_TEXT ? &c->ftext : &c->fnum;
}

uint64_t prof_col_count(const struct prof_col *c)
{
	uint64_t n = 0;

	for (int k = CCSV_INT; k <= CCSV_TEXT; k++)
		n += c->kinds[k];
	return n;
}

uint64_t prof_col_distinct(const struct prof_col *c, bool *exact)
{
	bool text = prof_col_type(c) == CCSV_TEXT;
	const struct sk_freq *f = text ? &c->ftext : &c->fnum;
	/* NaN and inf are values too (pandas counts them); each kind once */
	uint64_t special = text ? 0 : (uint64_t)(c->nans > 0) + (uint64_t)(c->infs > 0);

	if (f->complete && !f->dropped) {
		*exact = !text || !c->infs;
		return f->used + special;
	}
	*exact = false;
	return (uint64_t)llround(sk_hll_estimate(text ? &c->htext : &c->hnum)) + special;
}

const char *prof_col_evidently_type(const struct prof_col *c)
{
	bool exact;
	uint64_t distinct = prof_col_distinct(c, &exact);

	switch (prof_col_type(c)) {
	case CCSV_FLOAT: return "numerical";
	case CCSV_INT: return distinct <= 10 ? "categorical" : "numerical";
	case CCSV_BOOL: return "categorical";
	case CCSV_DATETIME: return "datetime";
	default: return (double)distinct > 0.5 * (double)prof_col_count(c) ? "text" : "categorical";
	}
}

/* ---- the JSON form ---- */

/* #{x < e} (or <= e) over a sorted weighted sample */
static uint64_t rank_below(const double *v, const uint64_t *w, const uint64_t *cum, size_t n, double e, bool inclusive)
{
	size_t lo = 0, hi = n;

	(void)w;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < e || (inclusive && v[mid] == e))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? cum[lo - 1] : 0;
}

/* numpy 1.24's quantile(method="linear") on sorted exact values: virtual
 * index (n - 1) q, then its own lerp */
static double exact_quantile(const double *x, size_t n, double q)
{
	double v = (double)(n - 1) * q, lo = floor(v), t = v - lo, a, b;
	size_t i = lo < 0 ? 0 : (size_t)lo, j;

	if (i > n - 1)
		i = n - 1;
	j = i + 1 < n ? i + 1 : n - 1;
	a = x[i];
	b = x[j];
	return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/* the value at rank q of a weighted sample (KLL) */
static double sketch_quantile(const double *v, const uint64_t *cum, size_t n, uint64_t total, double q)
{
	double r = q * (double)(total - 1);

	for (size_t i = 0; i < n; i++)
		if ((double)cum[i] > r)
			return v[i];
	return v[n - 1];
}

int prof_col_quantile(const struct prof_col *c, double q, double *out)
{
	double *v = NULL;
	uint64_t *w = NULL, *cum = NULL;
	size_t nv = 0;
	int rc;

	if (!c->nnum)
		return cairn_error_set(CAIRN_ENOTFOUND, "column '%.100s' has no numeric values", c->name);
	if ((rc = sk_quant_sorted(&c->q, &v, &w, &nv)))
		return rc;
	if (sk_quant_is_exact(&c->q)) {
		*out = exact_quantile(v, nv, q);
	} else if ((cum = cmalloc(nv * sizeof(*cum)))) {
		for (size_t i = 0; i < nv; i++)
			cum[i] = w[i] + (i ? cum[i - 1] : 0);
		*out = sketch_quantile(v, cum, nv, c->nnum, q);
	} else {
		rc = oom();
	}
	free(v);
	free(w);
	free(cum);
	return rc;
}

static int put(json_t *o, const char *k, json_t *v)
{
	return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* numbers of an integer column print as integers */
static json_t *typed_num(const struct prof_col *c, double x)
{
	enum ccsv_kind t = prof_col_type(c);

	if ((t == CCSV_INT || t == CCSV_BOOL || t == CCSV_DATETIME) && x == floor(x) && fabs(x) < 9.2e18)
		return json_integer((json_int_t)x);
	return num(x);
}

static int numeric_json(const struct prof_col *c, json_t *o)
{
	double mean, m2, *v = NULL;
	uint64_t *w = NULL, *cum = NULL, n = c->nnum;
	size_t nv = 0;
	json_t *qs, *hist, *edges, *counts;
	bool exact = sk_quant_is_exact(&c->q);
	int rc = -1;

	col_moments(c, &mean, &m2);
	if (put(o, "zeros", json_integer((json_int_t)c->zeros)) ||
	    put(o, "negatives", json_integer((json_int_t)c->negatives)) ||
	    put(o, "nans", json_integer((json_int_t)c->nans)) || put(o, "infs", json_integer((json_int_t)c->infs)))
		return -1;
	if (!n)
		return 0;
	if (put(o, "min", typed_num(c, c->min)) || put(o, "max", typed_num(c, c->max)) ||
	    put(o, "sum", num(c->sum + c->csum)) || put(o, "mean", num(mean)) ||
	    put(o, "std", n > 1 ? num(sqrt(m2 / (double)(n - 1))) : json_null()) ||
	    put(o, "std_pop", num(sqrt(m2 / (double)n))))
		return -1;
	if (sk_quant_sorted(&c->q, &v, &w, &nv))
		return -1;
	if (!(cum = cmalloc((nv ? nv : 1) * sizeof(*cum))))
		goto out;
	for (size_t i = 0; i < nv; i++)
		cum[i] = w[i] + (i ? cum[i - 1] : 0);
	if (!(qs = json_object()) || put(o, "quantiles", qs))
		goto out;
	for (size_t i = 0; i < NQUANT; i++) {
		double x = exact ? exact_quantile(v, nv, quantile_points[i])
				 : sketch_quantile(v, cum, nv, n, quantile_points[i]);

		if (put(qs, quantile_names[i], num(x)))
			goto out;
	}
	if (put(o, "quantiles_exact", json_boolean(exact)) ||
	    put(o, "quantile_rank_error", json_real(exact ? 0 : SK_KLL_EPS)))
		goto out;
	if (!(hist = json_object()) || put(o, "histogram", hist) || !(edges = json_array()) ||
	    put(hist, "edges", edges) || !(counts = json_array()) || put(hist, "counts", counts))
		goto out;
	if (c->min == c->max) {
		if (json_array_append_new(edges, num(c->min)) || json_array_append_new(edges, num(c->max)) ||
		    json_array_append_new(counts, json_integer((json_int_t)n)))
			goto out;
	} else {
		double step = (c->max - c->min) / HIST_BINS, e[HIST_BINS + 1];
		uint64_t prev = 0;

		for (int i = 0; i < HIST_BINS; i++)
			e[i] = c->min + i * step;   /* numpy linspace */
		e[HIST_BINS] = c->max;
		for (int i = 0; i <= HIST_BINS; i++)
			if (json_array_append_new(edges, num(e[i])))
				goto out;
		for (int i = 1; i <= HIST_BINS; i++) {
			uint64_t below = rank_below(v, w, cum, nv, e[i], i == HIST_BINS);

			if (json_array_append_new(counts, json_integer((json_int_t)(below - prev))))
				goto out;
			prev = below;
		}
	}
	rc = put(hist, "exact", json_boolean(exact));
out:
	free(v);
	free(w);
	free(cum);
	return rc;
}

static json_t *col_sketch_json(const struct prof_col *c)
{
	double mean, m2;
	json_t *s, *kinds;

	col_moments(c, &mean, &m2);
	if (!(s = json_object()) || !(kinds = json_object()) || put(s, "kinds", kinds))
		goto fail;
	for (int k = CCSV_EMPTY; k <= CCSV_TEXT; k++)
		if (put(kinds, k == CCSV_EMPTY ? "null" : ccsv_kind_name((enum ccsv_kind)k),
			json_integer((json_int_t)c->kinds[k])))
			goto fail;
	if (put(s, "moments", json_pack("{s:I,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)c->nnum, "mean", mean, "m2", m2,
					 "sum", c->sum + c->csum, "min", c->nnum ? c->min : 0.0,
					 "max", c->nnum ? c->max : 0.0)) ||
	    put(s, "counts", json_pack("{s:I,s:I,s:I,s:I}", "zeros", (json_int_t)c->zeros, "negatives",
				       (json_int_t)c->negatives, "nans", (json_int_t)c->nans, "infs",
				       (json_int_t)c->infs)) ||
	    put(s, "quantiles", sk_quant_to_json(&c->q)) || put(s, "hll", sk_hll_to_json(&c->hnum)) ||
	    put(s, "values", sk_freq_to_json(&c->fnum, PROF_FREQ_STORE)))
		goto fail;
	if (c->has_text && (put(s, "text_hll", sk_hll_to_json(&c->htext)) ||
			    put(s, "text_values", sk_freq_to_json(&c->ftext, PROF_FREQ_STORE))))
		goto fail;
	return s;
fail:
	json_decref(s);
	return NULL;
}

static json_t *col_json(const struct prof_col *c, uint64_t rows)
{
	enum ccsv_kind t = prof_col_type(c);
	uint64_t count = prof_col_count(c);
	bool exact;
	uint64_t distinct = prof_col_distinct(c, &exact);
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (put(o, "type", json_string(ccsv_kind_name(t))) ||
	    put(o, "evidently_type", json_string(prof_col_evidently_type(c))) ||
	    put(o, "count", json_integer((json_int_t)count)) ||
	    put(o, "nulls", json_integer((json_int_t)c->kinds[CCSV_EMPTY])) ||
	    put(o, "null_share", json_real(rows ? (double)c->kinds[CCSV_EMPTY] / (double)rows : 0)) ||
	    put(o, "distinct", json_integer((json_int_t)distinct)) || put(o, "distinct_exact", json_boolean(exact)))
		goto fail;
	if (t != CCSV_TEXT && numeric_json(c, o))
		goto fail;
	if (t == CCSV_TEXT || t == CCSV_INT || t == CCSV_BOOL) {
		const struct sk_freq *f = prof_col_freq(c);

		if (put(o, "top", sk_freq_entries_json(f, PROFILE_TOP_K)) ||
		    put(o, "top_exact", json_boolean(f->complete && !f->dropped)))
			goto fail;
	}
	if (put(o, "sketch", col_sketch_json(c)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* The duplicated rows, and whether that count is exact: the set's figures
 * as they will be once the held-back hashes are in it (rowset_add's
 * rules, replayed without changing the set). */
static uint64_t duplicated(const struct prof *p, bool *exact)
{
	uint64_t hashed = p->rows_hashed, used = p->rowset_used, taken[PROF_ROWS_AHEAD];
	size_t slots = p->rowset_slots ? p->rowset_slots : 1024;
	unsigned ntaken = 0;
	bool full = p->rowset_full;

	*exact = p->dup_exact;
	for (unsigned i = 0; i < p->ahead_n && !full; i++) {
		uint64_t h = p->ahead[(p->ahead_head + i) % PROF_ROWS_AHEAD];
		bool seen = false;

		h = h ? h : 1;
		if ((used + 1) * 2 > slots) {
			if (used >= PROFILE_ROWSET_MAX) {
				full = true;
				*exact = false;
				break;
			}
			slots *= 2;
		}
		hashed++;
		for (size_t j = p->rowset_slots ? h & (p->rowset_slots - 1) : 0; p->rowset_slots && p->rowset[j];
		     j = (j + 1) & (p->rowset_slots - 1))
			if (p->rowset[j] == h) {
				seen = true;
				break;
			}
		for (unsigned t = 0; t < ntaken && !seen; t++)
			seen = taken[t] == h;
		if (!seen) {
			taken[ntaken++] = h;
			used++;
		}
	}
	return hashed - used + p->dup_known;
}

json_t *prof_to_json(const struct prof *p, json_t *source)
{
	json_t *o = json_object(), *ds, *cols, *constant, *types;
	bool dup_exact;
	uint64_t dup = duplicated(p, &dup_exact);
	static const enum ccsv_kind kinds[] = { CCSV_INT, CCSV_FLOAT, CCSV_BOOL, CCSV_DATETIME, CCSV_TEXT };

	if (!o || put(o, "kind", json_string("cairn.profile")) ||
	    put(o, "schema_version", json_integer(PROFILE_SCHEMA_VERSION)) ||
	    (source && json_object_set(o, "source", source)))
		goto fail;
	if (!(ds = json_object()) || put(o, "dataset", ds) || !(cols = json_object()) || put(o, "columns", cols))
		goto fail;
	if (put(ds, "rows", json_integer((json_int_t)p->rows)) || put(ds, "columns", json_integer((json_int_t)p->ncols)) ||
	    put(ds, "missing_cells", json_integer((json_int_t)p->missing_cells)) ||
	    put(ds, "missing_share", json_real(p->rows ? (double)p->missing_cells / ((double)p->rows * (double)p->ncols) : 0)) ||
	    put(ds, "empty_rows", json_integer((json_int_t)p->empty_rows)) ||
	    put(ds, "duplicated_rows", json_integer((json_int_t)dup)) ||
	    put(ds, "duplicated_rows_exact", json_boolean(dup_exact)) || !(constant = json_array()) ||
	    put(ds, "constant_columns", constant) || !(types = json_object()) || put(ds, "type_counts", types))
		goto fail;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = 0;

		for (size_t i = 0; i < p->ncols; i++)
			n += prof_col_type(&p->col[i]) == kinds[k];
		if (put(types, ccsv_kind_name(kinds[k]), json_integer((json_int_t)n)))
			goto fail;
	}
	for (size_t i = 0; i < p->ncols; i++) {
		bool exact;

		if (prof_col_distinct(&p->col[i], &exact) <= 1 &&
		    json_array_append_new(constant, json_string(p->col[i].name)))
			goto fail;
		if (put(cols, p->col[i].name, col_json(&p->col[i], p->rows)))
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* ---- reading a profile back ---- */

static int bad(const char *col, const char *what)
{
	return cairn_error_set(CAIRN_EINVALID, "profile: column '%.100s': %s", col, what);
}

int profile_check(const json_t *j)
{
	json_t *v = json_object_get(j, "schema_version");

	if (!json_is_object(j) || !json_is_string(json_object_get(j, "kind")) ||
	    strcmp(json_string_value(json_object_get(j, "kind")), "cairn.profile"))
		return cairn_error_set(CAIRN_EINVALID, "not a cairn profile (\"kind\": \"cairn.profile\" is missing)");
	if (!json_is_integer(v) || json_integer_value(v) != PROFILE_SCHEMA_VERSION)
		return cairn_error_set(CAIRN_EINVALID, "profile schema_version %lld is not one this cairn reads (%d)",
				       json_is_integer(v) ? (long long)json_integer_value(v) : -1LL, PROFILE_SCHEMA_VERSION);
	if (!json_is_object(json_object_get(j, "columns")) || !json_is_object(json_object_get(j, "dataset")))
		return cairn_error_set(CAIRN_EINVALID, "profile: \"columns\" and \"dataset\" must be objects");
	return 0;
}

static int get_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int get_real(json_t *o, const char *k, double *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static int col_from_json(const char *name, json_t *cj, struct prof_col *c)
{
	json_t *s = json_object_get(cj, "sketch"), *kinds = json_object_get(s, "kinds"), *mo = json_object_get(s, "moments"),
	       *ct = json_object_get(s, "counts");
	double mean = 0, m2 = 0, sum = 0;
	int rc;

	if (!json_is_object(s) || !json_is_object(kinds) || !json_is_object(mo) || !json_is_object(ct))
		return bad(name, "\"sketch\" with \"kinds\", \"moments\" and \"counts\" is required");
	for (int k = CCSV_EMPTY; k <= CCSV_TEXT; k++)
		if (get_u64(kinds, k == CCSV_EMPTY ? "null" : ccsv_kind_name((enum ccsv_kind)k), &c->kinds[k]))
			return bad(name, "sketch.kinds needs a count of each kind");
	if (get_u64(mo, "n", &c->nnum) || get_real(mo, "mean", &mean) || get_real(mo, "m2", &m2) ||
	    get_real(mo, "sum", &sum) || get_real(mo, "min", &c->min) || get_real(mo, "max", &c->max) || m2 < 0)
		return bad(name, "sketch.moments needs n, mean, m2 (>= 0), sum, min and max");
	if (get_u64(ct, "zeros", &c->zeros) || get_u64(ct, "negatives", &c->negatives) || get_u64(ct, "nans", &c->nans) ||
	    get_u64(ct, "infs", &c->infs))
		return bad(name, "sketch.counts needs zeros, negatives, nans and infs");
	c->shift = mean;
	c->s2 = m2;
	c->sum = sum;
	if ((rc = sk_quant_from_json(json_object_get(s, "quantiles"), &c->q)))
		return rc;
	if (c->q.n != c->nnum)
		return bad(name, "the quantile sketch does not hold moments.n values");
	if ((rc = sk_hll_from_json(json_object_get(s, "hll"), &c->hnum)))
		return rc;
	sk_freq_free(&c->fnum);
	if ((rc = sk_freq_from_json(json_object_get(s, "values"), &c->fnum, PROF_NUM_CAP)))
		return rc;
	if (!c->fnum.complete && !c->fnum.used)
		c->fnum.dropped = true;
	if (json_object_get(s, "text_values")) {
		c->has_text = true;
		sk_freq_free(&c->ftext);
		if ((rc = sk_freq_from_json(json_object_get(s, "text_values"), &c->ftext, PROF_TEXT_CAP)) ||
		    (rc = sk_hll_from_json(json_object_get(s, "text_hll"), &c->htext)))
			return rc;
	}
	return 0;
}

int prof_from_json(const json_t *j, struct prof *p)
{
	json_t *cols, *ds, *cj;
	const char *key, **names = NULL;
	size_t *lens = NULL, i = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = profile_check(j)))
		return rc;
	cols = json_object_get(j, "columns");
	ds = json_object_get(j, "dataset");
	names = cmalloc((json_object_size(cols) + 1) * sizeof(*names));
	lens = cmalloc((json_object_size(cols) + 1) * sizeof(*lens));
	if (!names || !lens) {
		rc = oom();
		goto out;
	}
	json_object_foreach(cols, key, cj) {
		names[i] = key;
		lens[i++] = strlen(key);
	}
	if ((rc = prof_init(p, names, lens, i)))
		goto out;
	i = 0;
	json_object_foreach(cols, key, cj)
		if ((rc = col_from_json(key, cj, &p->col[i++])))
			goto fail;
	{
		uint64_t dup = 0;

		if (get_u64(ds, "rows", &p->rows) || get_u64(ds, "missing_cells", &p->missing_cells) ||
		    get_u64(ds, "empty_rows", &p->empty_rows) || get_u64(ds, "duplicated_rows", &dup)) {
			rc = cairn_error_set(CAIRN_EINVALID, "profile: dataset needs rows, missing_cells, empty_rows, duplicated_rows");
			goto fail;
		}
		p->dup_known = dup;
		p->dup_exact = false;   /* rows of two profiles may repeat each other */
		p->rows_hashed = 0;
	}
	for (i = 0; i < p->ncols; i++)
		if (prof_col_count(&p->col[i]) + p->col[i].kinds[CCSV_EMPTY] != p->rows) {
			rc = bad(p->col[i].name, "its kinds do not add up to the table's rows");
			goto fail;
		}
	goto out;
fail:
	prof_free(p);
out:
	free(names);
	free(lens);
	return rc;
}

int profile_merge(const json_t *a, const json_t *b, json_t **out)
{
	struct prof pa, pb;
	int rc;

	*out = NULL;
	if ((rc = prof_from_json(a, &pa)))
		return rc;
	if ((rc = prof_from_json(b, &pb))) {
		prof_free(&pa);
		return rc;
	}
	rc = prof_merge(&pa, &pb);
	if (!rc) {
		json_t *src = json_pack("{s:[O,O]}", "merged", json_object_get(a, "source") ?
					json_object_get(a, "source") : json_null(), json_object_get(b, "source") ?
					json_object_get(b, "source") : json_null());

		*out = src ? prof_to_json(&pa, src) : NULL;
		json_decref(src);
		if (!*out)
			rc = oom();
	}
	prof_free(&pa);
	prof_free(&pb);
	return rc;
}
