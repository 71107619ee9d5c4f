/* predict.c - batch scoring: a reader thread, predictor threads, and the calling thread writing chunks in order.
 *
 * Chunks are the unit of work and of memory. A fixed pool of them (2N + 2
 * for N predictors) circulates: the reader takes a free one, fills it with
 * up to chunk_rows records (their bytes, copied out of the CSV reader or
 * the input block) and hands it on with the next sequence number; a
 * predictor decodes it into its float matrix, predicts it and formats its
 * output lines; the writer waits for the chunk whose turn it is, writes it
 * and frees it. The chunks in flight are the writer's next one and those
 * after it, fewer than the pool, so chunk seq waits in done[seq % pool].
 * One mutex and one condition variable guard the lists; a stop (an error
 * met by the writer, in input order, or the end) wakes everyone.
 *
 * The reader's last chunk carries no rows: it says the input ended, or why
 * reading stopped (a malformed quote, a missing column in the header, a
 * read error), after the rows read before it.
 */
#include "serve/predict.h"
#include "serve/decode.h"
#include "serve/serve_int.h"
#include "core/buf.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK ((size_t)256 << 10)   /* bytes read from the input at a time */
#define CHUNK_MAX_VALUES ((size_t)1 << 22) /* most floats in one chunk's matrix (16 MiB) */
#define POLL_MS 100                       /* how often a reader waiting on a pipe looks for a stop */
#define FLEN_QUOTED ((uint32_t)1 << 31)   /* in a chunk's field lengths (fields are at most 1 MiB) */

/* ---- the model ---- */

struct predict_model {
	struct mlmodel *ml;        /* NULL for a bare model file */
	struct xgb_model *xgb;
	struct serve_input in;     /* what rows must give (serve/decode.h) */
};

void predict_model_free(struct predict_model *m)
{
	if (!m)
		return;
	serve_input_release(&m->in);
	xgb_model_free(m->xgb);
	mlmodel_free(m->ml);
	free(m);
}

int predict_model_load(const char *path, struct predict_model **out)
{
	struct xgb_opts opts = { .nthread = 1 };   /* the parallelism is the predictor threads' */
	struct predict_model *m;
	struct stat st;
	int rc;

	*out = NULL;
	if (!(m = ccalloc(1, sizeof(*m))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (stat(path, &st)) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no model at '%s'", path);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((rc = mlmodel_load(path, &m->ml)))
			goto fail;
		if (!mlmodel_flavor(m->ml, "xgboost")) {
			char flavors[256] = "";
			size_t n = 0;

			for (size_t i = 0; i < m->ml->nflavors && n < sizeof(flavors) - 2; i++)
				n += (size_t)snprintf(flavors + n, sizeof(flavors) - n, "%s%s", i ? ", " : "",
						      m->ml->flavors[i].name);
			rc = cairn_error_set(CAIRN_EUNSUPPORTED, "model '%s' has no flavor cairn can score (flavors: %s; "
					     "natively scored: xgboost; Python flavors unpickle code, MLflow's "
					     "CVE-2024-37052..37060, and are not in this version)", path, flavors);
			goto fail;
		}
	}
	if ((rc = xgb_model_load_opts(path, m->ml, &opts, &m->xgb)) ||
	    (rc = serve_input_from_signature(m->ml, (char *const *)xgb_model_feature_names(m->xgb),
					     xgb_model_num_features(m->xgb), &m->in)))
		goto fail;
	*out = m;
	return 0;
fail:
	predict_model_free(m);
	return rc;
}

size_t predict_model_ncols(const struct predict_model *m)
{
	return m->in.ncols;
}

int predict_model_shape(const struct predict_model *m, enum xgb_method method, struct xgb_shape *out)
{
	return xgb_model_shape(m->xgb, method, out);
}

/* ---- formats ---- */

static const char *const format_names[] = {
	[PREDICT_FMT_AUTO] = "auto", [PREDICT_FMT_CSV] = "csv", [PREDICT_FMT_JSONL] = "jsonl", [PREDICT_FMT_JSON] = "json",
};

const char *predict_format_name(enum predict_format f)
{
	return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

int predict_format_parse(const char *s, enum predict_format *out)
{
	if (!strcmp(s, "csv"))
		*out = PREDICT_FMT_CSV;
	else if (!strcmp(s, "jsonl") || !strcmp(s, "ndjson"))
		*out = PREDICT_FMT_JSONL;
	else if (!strcmp(s, "json"))
		*out = PREDICT_FMT_JSON;
	else
		return cairn_error_set(CAIRN_EINVALID, "unknown format '%s' (csv, jsonl or json)", s);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcasecmp(s + n - k, suffix);
}

enum predict_format predict_format_of(const char *path, bool *tab)
{
	if (tab)
		*tab = ends_with(path, ".tsv");
	if (ends_with(path, ".csv") || ends_with(path, ".tsv"))
		return PREDICT_FMT_CSV;
	if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
		return PREDICT_FMT_JSONL;
	if (ends_with(path, ".json"))
		return PREDICT_FMT_JSON;
	return PREDICT_FMT_AUTO;
}

/* ---- chunks and the pipeline ---- */

/* One input row of a chunk. */
struct row {
	size_t first;   /* where it starts in raw: its first field (CSV), its text (JSON lines) */
	size_t n;       /* CSV: its fields; JSON lines: its text's length */
	size_t f0;      /* CSV: its first field's length in chunk->flen */
	size_t line;    /* the line it starts on */
};

struct chunk {
	struct chunk *next;         /* in the free list or the todo queue */
	uint64_t seq;               /* its place in the input */
	struct row *rows;
	size_t nrows, rcap;
	struct buf raw;             /* the rows' bytes: CSV fields or JSON lines, each followed by a NUL */
	uint32_t *flen;             /* CSV: each field's length (| FLEN_QUOTED when it was quoted), in raw's order */
	size_t nfields, fcap;
	float *x;                   /* nrows * ncols, the decoded rows */
	size_t xcap;
	struct buf out;             /* the output lines */
	int64_t bytes;              /* input bytes read when it was handed on */
	bool end;                   /* the reader's last chunk: no rows; err says why it stopped (0: the input ended) */
	int err;                    /* 0, or what went wrong with it (msg says what) */
	char msg[1100];
};

struct pipe {
	struct predict_model *m;
	const char *in_name;
	int in_fd;
	bool in_poll;               /* not a regular file: wait in poll(), to notice a stop */
	const atomic_bool *cancel;  /* the caller's: stop reading when set */
	enum predict_format in_fmt, out_fmt;
	char delim, out_delim;
	bool keep;
	enum xgb_method method;
	struct xgb_shape shape;
	size_t chunk_rows;
	unsigned nworkers;
	/* written by the reader before it hands on its first chunk, read-only after */
	struct serve_csv_map *map;  /* CSV: the header's mapping */
	struct buf hdr;             /* CSV: the header's fields, each followed by a NUL */
	struct ccsv_field *hfields;
	size_t nhfields;
	bool skip;                  /* CSV: records lead with pandas' index */
	/* the pool, under mu */
	struct chunk *chunks;
	size_t nchunks;
	pthread_mutex_t mu;
	pthread_cond_t cv;          /* any change: a free chunk, a chunk to score, a chunk scored, stop */
	struct chunk *free_list, *todo, *todo_tail;
	struct chunk **done;        /* nchunks slots: the scored chunk seq waits in done[seq % nchunks] */
	atomic_bool stop;
	/* the reader's own */
	struct chunk *cur;          /* being filled */
	uint64_t seq;               /* the next chunk's */
	int64_t bytes;              /* read so far */
	uint64_t records;           /* data records read */
};

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* A free chunk, emptied; NULL once the pipeline stops. */
static struct chunk *take_free(struct pipe *p)
{
	struct chunk *c;

	pthread_mutex_lock(&p->mu);
	while (!p->free_list && !atomic_load(&p->stop))
		pthread_cond_wait(&p->cv, &p->mu);
	c = atomic_load(&p->stop) ? NULL : p->free_list;
	if (c)
		p->free_list = c->next;
	pthread_mutex_unlock(&p->mu);
	if (c) {
		c->next = NULL;
		c->nrows = c->nfields = 0;
		buf_clear(&c->raw);
		buf_clear(&c->out);
		c->end = false;
		c->err = 0;
		c->msg[0] = '\0';
	}
	return c;
}

/* To the predictors, or (the reader's last chunk) straight to the writer. */
static void hand_on(struct pipe *p, struct chunk *c)
{
	c->seq = p->seq++;
	c->bytes = p->bytes;
	pthread_mutex_lock(&p->mu);
	if (c->end) {
		p->done[c->seq % p->nchunks] = c;
	} else if (p->todo_tail) {
		p->todo_tail->next = c;
		p->todo_tail = c;
	} else {
		p->todo = p->todo_tail = c;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void stop_all(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void chunk_fail(struct chunk *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void chunk_fail(struct chunk *c, int rc, const char *fmt, ...)
{
	va_list ap;

	c->err = rc;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

/* ---- the reader ---- */

/* Room for one more row in c, and nfields more fields. */
static int chunk_grow(struct chunk *c, size_t nfields)
{
	if (c->nrows == c->rcap) {
		size_t ncap = c->rcap ? c->rcap * 2 : 256;
		struct row *r = crealloc(c->rows, ncap * sizeof(*r));

		if (!r)
			return oom();
		c->rows = r;
		c->rcap = ncap;
	}
	if (c->nfields + nfields > c->fcap) {
		size_t ncap = c->fcap ? c->fcap : 1024;
		uint32_t *f;

		while (ncap < c->nfields + nfields)
			ncap *= 2;
		if (!(f = crealloc(c->flen, ncap * sizeof(*f))))
			return oom();
		c->flen = f;
		c->fcap = ncap;
	}
	return 0;
}

/* The chunk being filled (a new one when none is), NULL when stopping. */
static struct chunk *current(struct pipe *p)
{
	if (!p->cur)
		p->cur = take_free(p);
	return p->cur;
}

/* Hand the current chunk on when it is full. */
static void maybe_hand_on(struct pipe *p)
{
	struct chunk *c = p->cur;

	if (c && (c->nrows >= p->chunk_rows || c->raw.len >= PREDICT_CHUNK_BYTES)) {
		hand_on(p, c);
		p->cur = NULL;
	}
}

static int csv_header(struct pipe *p, const struct ccsv_record *rec)
{
	int rc;

	if ((rc = serve_csv_map_new(&p->m->in, rec->fields, rec->nfields, &p->map)))
		return rc;
	/* kept for the output's header */
	if (!(p->hfields = ccalloc(rec->nfields, sizeof(*p->hfields))))
		return oom();
	for (size_t j = 0; j < rec->nfields; j++) {
		p->hfields[j].n = rec->fields[j].n;
		p->hfields[j].quoted = rec->fields[j].quoted;
		p->hfields[j].p = (const char *)(uintptr_t)p->hdr.len;   /* an offset until hdr is complete */
		buf_put(&p->hdr, rec->fields[j].p, rec->fields[j].n);
		buf_putc(&p->hdr, '\0');
	}
	if ((rc = buf_error(&p->hdr)))
		return rc;
	for (size_t j = 0; j < rec->nfields; j++)
		p->hfields[j].p = p->hdr.ptr + (uintptr_t)p->hfields[j].p;
	p->nhfields = rec->nfields;
	return 0;
}

static int csv_record(void *ctx, const struct ccsv_record *rec)
{
	struct pipe *p = ctx;
	struct chunk *c;
	struct row *r;
	int rc;

	if (rec->index == 1)
		return csv_header(p, rec);
	if (rec->index == 2) {
		serve_csv_map_first(p->map, rec->nfields);
		p->skip = rec->nfields == p->nhfields + 1;
	}
	if (!(c = current(p)))
		return CCSV_STOP;
	if ((rc = chunk_grow(c, rec->nfields)))
		return rc;
	r = &c->rows[c->nrows];
	r->first = c->raw.len;
	r->f0 = c->nfields;
	r->n = rec->nfields;
	r->line = rec->line;
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct ccsv_field *f = &rec->fields[i];
		size_t j = i;

		c->flen[c->nfields++] = (uint32_t)f->n | (f->quoted ? FLEN_QUOTED : 0);
		/* the reader keeps a record's fields end to end: copy such a run in one go */
		while (j + 1 < rec->nfields && rec->fields[j + 1].p == rec->fields[j].p + rec->fields[j].n + 1) {
			j++;
			c->flen[c->nfields++] = (uint32_t)rec->fields[j].n | (rec->fields[j].quoted ? FLEN_QUOTED : 0);
		}
		buf_put(&c->raw, f->p, (size_t)(rec->fields[j].p - f->p) + rec->fields[j].n + 1);
		i = j;
	}
	if ((rc = buf_error(&c->raw)))
		return rc;
	c->nrows++;
	p->records++;
	maybe_hand_on(p);
	return 0;
}

/* Read what comes next into b: *got 0 at the end; CCSV_STOP when stopping. */
static int read_some(struct pipe *p, char *b, size_t cap, size_t *got)
{
	for (;;) {
		ssize_t n;

		if (atomic_load(&p->stop))
			return CCSV_STOP;
		if (p->cancel && atomic_load(p->cancel))
			return cairn_error_set(CAIRN_ERR, "interrupted");
		if (p->in_poll) {
			struct pollfd pf = { .fd = p->in_fd, .events = POLLIN };
			int k = poll(&pf, 1, POLL_MS);

			if (k == 0 || (k < 0 && errno == EINTR))
				continue;
		}
		n = read(p->in_fd, b, cap);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", p->in_name, strerror(errno));
		}
		*got = (size_t)n;
		p->bytes += n;
		return 0;
	}
}

static int read_csv(struct pipe *p, char *b)
{
	struct ccsv_options opt = { .delim = p->delim, .strict = true, .max_field = CCSV_MAX_FIELD_DEFAULT };
	struct ccsv_reader *r = NULL;
	size_t got;
	int rc;

	if ((rc = ccsv_reader_new(&opt, csv_record, p, &r)))
		return rc;
	while (!(rc = read_some(p, b, READ_BLOCK, &got)) && got)
		if ((rc = ccsv_reader_feed(r, b, got)))
			break;
	if (!rc)
		rc = ccsv_reader_finish(r);
	if (!rc && !ccsv_reader_records(r))
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is empty: no header row, no rows", p->in_name);
	else if (!rc && !p->records)
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' has a header but no rows", p->in_name);
	else if (rc && rc != CCSV_STOP && rc != CAIRN_ERR)
		rc = cairn_error_set(rc, "'%s'%s: %s", p->in_name, p->map ? "" : " (its header)", cairn_error_msg());
	ccsv_reader_free(r);
	return rc;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
			return false;
	return true;
}

/* The line that began at offset start of the current chunk's raw ends here. */
static int jsonl_line_end(struct pipe *p, size_t start, size_t line)
{
	struct chunk *c = p->cur;
	size_t n = c->raw.len - start;
	int rc;

	if (blank(c->raw.ptr + start, n)) {
		buf_truncate(&c->raw, start);
		return 0;
	}
	if ((rc = chunk_grow(c, 0)))
		return rc;
	buf_putc(&c->raw, '\0');
	if ((rc = buf_error(&c->raw)))
		return rc;
	c->rows[c->nrows].first = start;
	c->rows[c->nrows].n = n;
	c->rows[c->nrows].line = line;
	c->nrows++;
	p->records++;
	maybe_hand_on(p);
	return 0;
}

static int read_jsonl(struct pipe *p, char *b)
{
	size_t got, line = 1, start = 0;
	bool open = false;   /* a line has begun in the current chunk */
	int rc;

	while (!(rc = read_some(p, b, READ_BLOCK, &got)) && got) {
		const char *s = b, *e = b + got;

		while (s < e) {
			const char *nl = memchr(s, '\n', (size_t)(e - s));
			size_t k = nl ? (size_t)(nl - s) : (size_t)(e - s);
			struct chunk *c;

			if (!open) {
				if (!(c = current(p)))
					return CCSV_STOP;
				start = c->raw.len;
				open = true;
			}
			c = p->cur;
			if (c->raw.len - start + k > PREDICT_MAX_LINE)
				return cairn_error_set(CAIRN_ETOOBIG, "'%s', line %zu: longer than %zu bytes", p->in_name, line,
						       PREDICT_MAX_LINE);
			buf_put(&c->raw, s, k);
			if ((rc = buf_error(&c->raw)))
				return rc;
			s += k;
			if (nl) {
				s++;
				open = false;
				if ((rc = jsonl_line_end(p, start, line)))
					return rc;
				line++;
			}
		}
	}
	if (!rc && open)
		rc = jsonl_line_end(p, start, line);   /* the last line, without its LF */
	if (!rc && !p->records)
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' has no rows", p->in_name);
	return rc;
}

static void *reader_main(void *arg)
{
	struct pipe *p = arg;
	char *b = cmalloc(READ_BLOCK);
	struct chunk *end;
	int rc;

	rc = !b ? oom() : p->in_fmt == PREDICT_FMT_CSV ? read_csv(p, b) : read_jsonl(p, b);
	free(b);
	if (rc == CCSV_STOP)
		return NULL;
	if (p->cur && p->cur->nrows) {
		hand_on(p, p->cur);
		p->cur = NULL;
	}
	if (!(end = current(p)))   /* the last chunk: the end, or why reading stopped */
		return NULL;
	p->cur = NULL;
	end->end = true;
	if (rc)
		chunk_fail(end, rc, "%s", cairn_error_msg());
	hand_on(p, end);
	return NULL;
}

/* ---- the predictors ---- */

/* A predictor thread. */
struct worker {
	struct pipe *p;
	pthread_t thread;
	struct xgb_ctx *ctx;       /* made at its first chunk */
	struct ccsv_field *fs;     /* a CSV row's fields, as serve_csv_map_row takes them */
	size_t fscap;
};

/* CSV: the fields of row rw into w->fs. */
static int row_fields(struct worker *w, const struct chunk *c, const struct row *rw)
{
	const char *s = c->raw.ptr + rw->first;

	if (rw->n > w->fscap) {
		struct ccsv_field *fs = crealloc(w->fs, rw->n * sizeof(*fs));

		if (!fs)
			return oom();
		w->fs = fs;
		w->fscap = rw->n;
	}
	for (size_t k = 0; k < rw->n; k++) {
		uint32_t l = c->flen[rw->f0 + k];

		w->fs[k].p = s;
		w->fs[k].n = l & ~FLEN_QUOTED;
		w->fs[k].quoted = (l & FLEN_QUOTED) != 0;
		s += w->fs[k].n + 1;
	}
	return 0;
}

/* ---- numbers out ----
 *
 * serve_put_double writes what Python's json and pandas write: the first of
 * "%.15g", "%.16g", "%.17g" that reads back as the same double (then ".0"
 * if it looks like an integer). Done with printf and strtod that costs
 * about a microsecond a value, more than predicting the row. xgboost's
 * results are float32 values, so the exact decimal expansion of most of them
 * (v = m / 2^k with m < 2^24) fits in 128 bits: m * 5^k over 10^k. From it
 * the three roundings and whether each reads back (whether it lies within
 * half a double ulp of v, which is 5^k / 2^s at that scale) are exact
 * integer work, and the text is what printf would print. Values it cannot
 * do exactly (k > 55, integers from 2^53) go to serve_put_double.
 * tests/serve/predict.c checks it against serve_put_double on millions of
 * values. */

typedef unsigned __int128 u128;

static u128 pow5[56], pow10[39];   /* 5^0..5^55 (the last below 2^128), 10^0..10^38 */
static pthread_once_t pow_once = PTHREAD_ONCE_INIT;

static void pow_init(void)
{
	pow5[0] = pow10[0] = 1;
	for (unsigned i = 1; i < 56; i++)
		pow5[i] = pow5[i - 1] * 5;
	for (unsigned i = 1; i < 39; i++)
		pow10[i] = pow10[i - 1] * 10;
}

/* The decimal digits of n (not 0) into d (no leading zeros); their number. */
static int u128_digits(u128 n, char *d)
{
	char tmp[40];
	int len = 0;

	while (n >= (u128)10000000000000000000u) {
		uint64_t lo = (uint64_t)(n % 10000000000000000000u);

		n /= 10000000000000000000u;
		for (int i = 0; i < 19; i++, lo /= 10)
			tmp[len++] = (char)('0' + lo % 10);
	}
	for (uint64_t hi = (uint64_t)n; hi; hi /= 10)
		tmp[len++] = (char)('0' + hi % 10);
	for (int i = 0; i < len; i++)
		d[i] = tmp[len - 1 - i];
	return len;
}

/* The P significant digits dig (exponent x, the value dig[0].dig[1..] * 10^x) as "%.Pg" prints them. */
static void put_g(struct buf *b, bool neg, const char *dig, int P, int x)
{
	char out[64];
	int n = 0, last = P;

	while (last > 1 && dig[last - 1] == '0')   /* %g drops trailing zeros */
		last--;
	if (neg)
		out[n++] = '-';
	if (x < -4 || x >= P) {
		out[n++] = dig[0];
		if (last > 1) {
			out[n++] = '.';
			for (int i = 1; i < last; i++)
				out[n++] = dig[i];
		}
		n += snprintf(out + n, sizeof(out) - (size_t)n, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	} else if (x >= 0) {
		for (int i = 0; i <= x; i++)
			out[n++] = i < last ? dig[i] : '0';
		if (last > x + 1) {
			out[n++] = '.';
			for (int i = x + 1; i < last; i++)
				out[n++] = dig[i];
		}
	} else {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -x - 1; i++)
			out[n++] = '0';
		for (int i = 0; i < last; i++)
			out[n++] = dig[i];
	}
	buf_put(b, out, (size_t)n);
	if (!memchr(out, '.', (size_t)n) && !memchr(out, 'e', (size_t)n))
		buf_puts(b, ".0");   /* keep it a real: 1 -> 1.0 */
}

/* serve_put_double(b, v), exactly, faster for most values. */
void predict__put_double(struct buf *b, double v)
{
	bool neg = v < 0;
	uint64_t bits, m;
	int e, k, len, bl;
	u128 n, limit;
	char dig[48];

	if (!isfinite(v) || v == 0) {
		serve_put_double(b, v);
		return;
	}
	pthread_once(&pow_once, pow_init);
	memcpy(&bits, &v, sizeof(bits));
	e = (int)((bits >> 52) & 0x7ff);
	m = bits & (((uint64_t)1 << 52) - 1);
	if (!e) {
		serve_put_double(b, v);   /* subnormal */
		return;
	}
	m |= (uint64_t)1 << 52;
	e -= 1075;                      /* |v| = m * 2^e */
	while (!(m & 1)) {
		m >>= 1;
		e++;
	}
	if (e >= 0 || -e > 55) {
		serve_put_double(b, v);   /* integers (rare among predictions), and too many fractional digits */
		return;
	}
	k = -e;
	if (m > ~(u128)0 / pow5[k]) {
		serve_put_double(b, v);
		return;
	}
	n = (u128)m * pow5[k];          /* |v| = n / 10^k exactly */
	len = u128_digits(n, dig);
	bl = 64 - __builtin_clzll(m);
	/* reads back when within half a double ulp: |c - v| * 10^k <= (5^k - 1) >> s, s = 54 - bits of m
	 * (never a tie: 5^k is odd); below a power of two the ulp is half as wide */
	limit = (pow5[k] - 1) >> (54 - bl);
	for (int P = 15; P <= 17; P++) {
		char r[20];
		int x = len - 1 - k;
		bool down = true;
		u128 diff = 0;

		if (len <= P) {
			memcpy(r, dig, (size_t)len);
			memset(r + len, '0', (size_t)(P - len));
		} else {
			u128 unit = pow10[len - P], tail = n % unit;
			bool up = tail > unit / 2 || (tail == unit / 2 && !(unit & 1) && ((dig[P - 1] - '0') & 1));

			memcpy(r, dig, (size_t)P);
			if (up) {
				int i = P - 1;

				down = false;
				diff = unit - tail;
				while (i >= 0 && r[i] == '9')
					r[i--] = '0';
				if (i < 0) {
					r[0] = '1';
					x++;
				} else {
					r[i]++;
				}
			} else {
				diff = tail;
			}
		}
		if (P == 17 || diff <= (m == 1 && down && diff ? limit >> 1 : limit)) {
			put_g(b, neg, r, P, x);
			return;
		}
	}
}

/* One value as the output writes it. */
static void put_value(struct buf *b, enum xgb_kind kind, double v, bool csv)
{
	char tmp[32];

	if (kind == XGB_KIND_LABELS) {
		int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

		buf_put(b, tmp, (size_t)n);
	} else if (csv && isnan(v)) {
		/* pandas' to_csv: NaN is an empty field */
	} else if (csv && isinf(v)) {
		buf_puts(b, v > 0 ? "inf" : "-inf");
	} else {
		predict__put_double(b, v);   /* Python's repr, as MLflow's JSON and pandas write it */
	}
}

/* A row's values in JSON: one, or a list. */
static void put_json_values(struct buf *b, const struct xgb_shape *sh, const double *v)
{
	if (sh->matrix)
		buf_putc(b, '[');
	for (size_t k = 0; k < sh->width; k++) {
		if (k)
			buf_puts(b, ", ");
		put_value(b, sh->kind, v[k], false);
	}
	if (sh->matrix)
		buf_putc(b, ']');
}

/* A CSV field as the output writes it: quoted when it was, or when it must be. */
static void put_csv_field(struct buf *b, const char *s, size_t n, bool quoted, char delim)
{
	for (size_t i = 0; i < n && !quoted; i++)
		quoted = s[i] == delim || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quoted) {
		buf_put(b, s, n);
		return;
	}
	buf_putc(b, '"');
	for (const char *q; n && (q = memchr(s, '"', n));) {
		size_t k = (size_t)(q - s) + 1;

		buf_put(b, s, k);
		buf_putc(b, '"');
		s += k;
		n -= k;
	}
	buf_put(b, s, n);
	buf_putc(b, '"');
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* An input object (decoded, so one object with spaces around it) less its
 * closing brace, ready for one more member. */
static void put_kept_object(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, e = n;

	while (e && json_space(s[e - 1]))
		e--;
	while (i < e && json_space(s[i]))
		i++;
	for (size_t k = i + 1; k + 1 < e; k++)
		if (!json_space(s[k])) {
			buf_put(b, s + i, e - 1 - i);   /* "{...", without the "}" */
			buf_puts(b, ", ");
			return;
		}
	buf_putc(b, '{');   /* an empty object */
}

static int format_chunk(const struct pipe *p, struct worker *w, struct chunk *c, const struct xgb_output *o)
{
	const struct xgb_shape *sh = &o->shape;
	struct buf *b = &c->out;

	for (size_t r = 0; r < c->nrows; r++) {
		const double *v = o->data + r * sh->width;
		const struct row *rw = &c->rows[r];

		switch (p->out_fmt) {
		case PREDICT_FMT_CSV:
			if (p->keep) {
				const struct ccsv_field *f;
				int rc;

				if ((rc = row_fields(w, c, rw)))
					return rc;
				f = w->fs;
				for (size_t k = 0; k < p->nhfields + p->skip; k++) {
					if (k < rw->n)
						put_csv_field(b, f[k].p, f[k].n, f[k].quoted, p->out_delim);
					buf_putc(b, p->out_delim);
				}
			}
			for (size_t k = 0; k < sh->width; k++) {
				if (k)
					buf_putc(b, p->out_delim);
				put_value(b, sh->kind, v[k], true);
			}
			buf_putc(b, '\n');
			break;
		case PREDICT_FMT_JSONL:
			if (p->keep)
				put_kept_object(b, c->raw.ptr + rw->first, rw->n);
			else
				buf_putc(b, '{');
			buf_puts(b, "\"prediction\": ");
			put_json_values(b, sh, v);
			buf_puts(b, "}\n");
			break;
		default:   /* MLflow's JSON: the chunk's part of the list */
			if (r)
				buf_puts(b, ", ");
			put_json_values(b, sh, v);
		}
	}
	return buf_error(b);
}

/* Decode, predict and format chunk c on w's thread. */
static void score(const struct pipe *p, struct worker *w, struct chunk *c)
{
	size_t nc = p->m->in.ncols;
	struct xgb_output o;
	int rc;

	if (!w->ctx && (rc = xgb_ctx_new(&w->ctx))) {
		chunk_fail(c, rc, "%s", cairn_error_msg());
		return;
	}
	if (c->nrows * nc > c->xcap) {
		float *x = crealloc(c->x, c->nrows * nc * sizeof(*x));

		if (!x) {
			chunk_fail(c, CAIRN_ENOMEM, "out of memory");
			return;
		}
		c->x = x;
		c->xcap = c->nrows * nc;
	}
	for (size_t r = 0; r < c->nrows; r++) {
		const struct row *rw = &c->rows[r];
		float *row = c->x + r * nc;

		if (p->in_fmt == PREDICT_FMT_CSV)
			rc = row_fields(w, c, rw) ? CAIRN_ENOMEM : serve_csv_map_row(p->map, w->fs, rw->n, row);
		else
			rc = serve_decode_json_row(&p->m->in, c->raw.ptr + rw->first, rw->n, row);
		if (rc == CAIRN_ENOMEM) {
			chunk_fail(c, rc, "%s", cairn_error_msg());
			return;
		}
		if (rc) {
			chunk_fail(c, rc, "'%s', line %zu: %s", p->in_name, rw->line, cairn_error_msg());
			return;
		}
	}
	if ((rc = xgb_predict(p->m->xgb, w->ctx, c->x, c->nrows, nc, p->method, &o))) {
		chunk_fail(c, rc, "'%s', lines %zu-%zu: %s", p->in_name, c->rows[0].line, c->rows[c->nrows - 1].line,
			   cairn_error_msg());
		return;
	}
	if ((rc = format_chunk(p, w, c, &o)))
		chunk_fail(c, rc, "%s", cairn_error_msg());
}


static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;

	for (;;) {
		struct chunk *c;

		pthread_mutex_lock(&p->mu);
		while (!p->todo && !atomic_load(&p->stop))
			pthread_cond_wait(&p->cv, &p->mu);
		if (atomic_load(&p->stop)) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		c = p->todo;
		if (!(p->todo = c->next))
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);
		score(p, w, c);
		pthread_mutex_lock(&p->mu);
		p->done[c->seq % p->nchunks] = c;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	xgb_ctx_free(w->ctx);
	free(w->fs);
	return NULL;
}

/* ---- the writer, and the whole run ---- */

static int write_all(int fd, const char *name, const char *s, size_t n)
{
	while (n) {
		ssize_t k = cwrite(fd, s, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", name, strerror(errno));
		}
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* What the output starts with: CSV's header, MLflow's opening. */
static int put_head(const struct pipe *p, struct buf *b)
{
	if (p->out_fmt == PREDICT_FMT_JSON) {
		buf_puts(b, "{\"predictions\": [");
	} else if (p->out_fmt == PREDICT_FMT_CSV) {
		if (p->keep) {
			if (p->skip)   /* the index's column: no name, as pandas writes it */
				buf_putc(b, p->out_delim);
			for (size_t j = 0; j < p->nhfields; j++) {
				put_csv_field(b, p->hfields[j].p, p->hfields[j].n, p->hfields[j].quoted, p->out_delim);
				buf_putc(b, p->out_delim);
			}
		}
		if (!p->shape.matrix)
			buf_puts(b, "prediction");
		for (size_t k = 0; p->shape.matrix && k < p->shape.width; k++)
			buf_printf(b, "%sprediction_%zu", k ? (char[2]){ p->out_delim, 0 } : "", k);
		buf_putc(b, '\n');
	}
	return buf_error(b);
}

static void pipe_release(struct pipe *p)
{
	for (size_t i = 0; p->chunks && i < p->nchunks; i++) {
		struct chunk *c = &p->chunks[i];

		free(c->rows);
		free(c->flen);
		free(c->x);
		buf_release(&c->raw);
		buf_release(&c->out);
	}
	free(p->chunks);
	free(p->done);
	serve_csv_map_free(p->map);
	free(p->hfields);
	buf_release(&p->hdr);
}

int predict_stream(struct predict_model *m, int in_fd, const char *in_name, int64_t in_size, int out_fd,
		   const char *out_name, const struct predict_opts *o, struct predict_stats *st)
{
	struct pipe p = { .m = m, .in_name = in_name, .in_fd = in_fd, .hdr = BUF_INIT };
	struct worker *w = NULL;
	unsigned nstarted = 0;
	bool reader = false, sync = false;
	pthread_t rthread;
	struct progress pg;
	struct buf head = BUF_INIT;
	uint64_t next = 0, rows = 0;
	int64_t shown = 0, t0 = cairn_mono_ns();
	size_t ncols = m->in.ncols;
	struct stat sb;
	int rc;

	if (st)
		memset(st, 0, sizeof(*st));
	p.in_fmt = o->in_format == PREDICT_FMT_AUTO ? PREDICT_FMT_CSV : o->in_format;
	p.out_fmt = o->out_format == PREDICT_FMT_AUTO ? p.in_fmt : o->out_format;
	if (p.in_fmt == PREDICT_FMT_JSON)
		return cairn_error_set(CAIRN_EINVALID, "JSON input is read as JSON lines (one object a line): jsonl");
	if (o->keep_input && p.out_fmt != p.in_fmt)
		return cairn_error_set(CAIRN_EINVALID, "keeping the input needs an output of the input's format (%s), "
				       "not %s", predict_format_name(p.in_fmt), predict_format_name(p.out_fmt));
	p.delim = o->delim ? o->delim : ',';
	p.out_delim = o->out_delim ? o->out_delim : p.in_fmt == PREDICT_FMT_CSV ? p.delim : ',';
	p.keep = o->keep_input;
	p.cancel = o->cancel;
	p.method = o->method;
	if ((rc = xgb_model_shape(m->xgb, o->method, &p.shape)))
		return rc;
	p.nworkers = o->threads ? o->threads : cairn_cpus();
	if (p.nworkers > 256)
		p.nworkers = 256;
	p.chunk_rows = o->chunk_rows ? o->chunk_rows : PREDICT_CHUNK_ROWS;
	if (ncols && p.chunk_rows > CHUNK_MAX_VALUES / ncols)
		p.chunk_rows = CHUNK_MAX_VALUES / ncols ? CHUNK_MAX_VALUES / ncols : 1;
	p.in_poll = fstat(in_fd, &sb) || !S_ISREG(sb.st_mode);
	p.nchunks = 2 * (size_t)p.nworkers + 2;
	if (!(p.chunks = ccalloc(p.nchunks, sizeof(*p.chunks))) || !(p.done = ccalloc(p.nchunks, sizeof(*p.done))) ||
	    !(w = ccalloc(p.nworkers, sizeof(*w)))) {
		pipe_release(&p);
		free(w);
		return oom();
	}
	for (size_t i = 0; i < p.nchunks; i++) {
		p.chunks[i].raw = (struct buf)BUF_INIT;
		p.chunks[i].out = (struct buf)BUF_INIT;
		p.chunks[i].next = p.free_list;
		p.free_list = &p.chunks[i];
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	sync = true;
	atomic_init(&p.stop, false);

	rc = 0;
	for (; nstarted < p.nworkers; nstarted++) {
		w[nstarted].p = &p;
		if (pthread_create(&w[nstarted].thread, NULL, worker_main, &w[nstarted])) {
			rc = cairn_error_set(CAIRN_ERR, "cannot start a predictor thread: %s", strerror(errno));
			break;
		}
	}
	if (!rc && pthread_create(&rthread, NULL, reader_main, &p))
		rc = cairn_error_set(CAIRN_ERR, "cannot start the reader thread: %s", strerror(errno));
	reader = !rc;
	progress_begin(&pg, "cairn predict", 0, in_size, o->quiet);
	pg.unit = "rows";
	while (!rc) {
		struct chunk *c;

		pthread_mutex_lock(&p.mu);
		while (!(c = p.done[next % p.nchunks]))
			pthread_cond_wait(&p.cv, &p.mu);
		p.done[next % p.nchunks] = NULL;
		pthread_mutex_unlock(&p.mu);
		if (c->err) {
			rc = cairn_error_set(c->err, "%s", c->msg);
			break;
		}
		if (c->end)
			break;
		buf_clear(&head);
		if (!next && (rc = put_head(&p, &head)))
			break;
		if (next && p.out_fmt == PREDICT_FMT_JSON)
			buf_puts(&head, ", ");
		if ((rc = buf_error(&head)) || (rc = write_all(out_fd, out_name, head.ptr, head.len)) ||
		    (rc = write_all(out_fd, out_name, c->out.ptr, c->out.len)))
			break;
		rows += c->nrows;
		progress_add(&pg, (int64_t)c->nrows, c->bytes - shown);
		shown = c->bytes;
		pthread_mutex_lock(&p.mu);
		c->next = p.free_list;
		p.free_list = c;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
		next++;
	}
	if (!rc && p.out_fmt == PREDICT_FMT_JSON)
		rc = write_all(out_fd, out_name, "]}", 2);   /* as mlflow models predict: no newline */
	stop_all(&p);
	if (reader)
		pthread_join(rthread, NULL);
	for (unsigned i = 0; i < nstarted; i++)
		pthread_join(w[i].thread, NULL);
	progress_end(&pg);
	if (st) {
		st->rows = rows;
		st->bytes = (uint64_t)p.bytes;
		st->seconds = (double)(cairn_mono_ns() - t0) / 1e9;
		st->threads = p.nworkers;
	}
	buf_release(&head);
	if (sync) {
		pthread_mutex_destroy(&p.mu);
		pthread_cond_destroy(&p.cv);
	}
	pipe_release(&p);
	free(w);
	return rc;
}

int predict_file(struct predict_model *m, const char *in_path, const char *out_path, const struct predict_opts *o,
		 struct predict_stats *st)
{
	struct predict_opts eo = *o;
	bool in_std = !strcmp(in_path, "-"), out_std = !strcmp(out_path, "-"), tab = false;
	const char *in_name = in_std ? "<stdin>" : in_path;
	struct buf tmp = BUF_INIT;
	int in_fd = in_std ? STDIN_FILENO : -1, out_fd = out_std ? STDOUT_FILENO : -1, rc;
	int64_t size = 0;
	struct stat sb;

	if (st)
		memset(st, 0, sizeof(*st));
	if (eo.in_format == PREDICT_FMT_AUTO && !in_std) {
		enum predict_format f = predict_format_of(in_path, &tab);

		if (f == PREDICT_FMT_JSON)
			return cairn_error_set(CAIRN_EINVALID, "'%s': a .json input is read only as JSON lines, one object a "
					       "line (--format jsonl)", in_path);
		eo.in_format = f == PREDICT_FMT_AUTO ? PREDICT_FMT_CSV : f;
	} else if (!in_std) {
		predict_format_of(in_path, &tab);
	}
	if (!eo.delim && tab)
		eo.delim = '\t';
	if (!out_std) {
		bool otab;
		enum predict_format f = predict_format_of(out_path, &otab);

		if (eo.out_format == PREDICT_FMT_AUTO)
			eo.out_format = f;
		if (!eo.out_delim && otab)
			eo.out_delim = '\t';
	}
	if (!in_std && (in_fd = open(in_path, O_RDONLY | O_CLOEXEC)) < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", in_path,
				       strerror(errno));
	if (!fstat(in_fd, &sb)) {
		if (S_ISDIR(sb.st_mode)) {
			rc = cairn_error_set(CAIRN_EINVALID, "'%s' is a directory", in_name);
			goto out;
		}
		if (S_ISREG(sb.st_mode))
			size = sb.st_size;
	}
	if (!out_std && !stat(out_path, &sb) && S_ISDIR(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is a directory", out_path);
		goto out;
	}
	if (!out_std && (rc = fs_tmp_beside(out_path, &tmp, &out_fd))) {
		buf_clear(&tmp);   /* nothing was created */
		goto out;
	}
	if ((rc = predict_stream(m, in_fd, in_name, size, out_fd, out_std ? "<stdout>" : out_path, &eo, st)))
		goto out;
	if (!out_std) {
		mode_t um = umask(0);

		umask(um);
		if (fchmod(out_fd, 0666 & ~um) || cfsync(out_fd)) {
			rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", out_path, strerror(errno));
			goto out;
		}
		close(out_fd);
		out_fd = -1;
		if (crename(tmp.ptr, out_path)) {
			rc = cairn_error_set(CAIRN_EIO, "cannot replace '%s': %s", out_path, strerror(errno));
			goto out;
		}
		buf_clear(&tmp);
		fs_sync_parent(out_path);
	}
out:
	if (!in_std && in_fd >= 0)
		close(in_fd);
	if (!out_std && out_fd >= 0)
		close(out_fd);
	if (tmp.len)
		unlink(tmp.ptr);   /* a failed run leaves no file */
	buf_release(&tmp);
	return rc;
}
