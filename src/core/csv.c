/* csv.c - the CSV reader: libcsv underneath, records with quoted flags, line numbers and limits on top.
 *
 * libcsv (csv_parse) is a push parser with two callbacks, one per field and
 * one per record. Three things it does not give are added here:
 *
 *  - whether a field was quoted. libcsv asks is_space() about every byte
 *    that may start a field before anything else, so a space function that
 *    never answers "space" (nothing is trimmed, as RFC 4180 wants) also
 *    sees the first byte of every field; a field is quoted when that byte
 *    is the quote character.
 *  - line numbers. Input is handed to libcsv one line at a time (split at
 *    LF), so the line is known whenever a callback runs.
 *  - limits. libcsv grows its field buffer through a realloc hook; the hook
 *    refuses to grow it past max_field (and grows it geometrically, where
 *    libcsv would add a fixed block each time).
 *
 * libcsv calls back through a function pointer for every byte, which is
 * most of the cost on large files. A line that holds no quote character and
 * no CR, arriving whole between records, leaves libcsv nothing to decide: its
 * fields are the bytes between delimiters. Such lines are split here with
 * memchr and give exactly the records libcsv would give (tests/core/csv.c
 * checks this against byte-at-a-time feeding, which always goes to libcsv).
 * A whole line with a quote is split the same way up to the field that
 * holds its first quote; libcsv parses the rest of it, from that field's
 * start (split_quoted_line).
 *
 * The hooks take no context argument, so the reader being fed is kept in a
 * thread-local pointer for the duration of csv_parse (saved and restored, so
 * a callback may feed another reader).
 */
#include "core/csv.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"

#include <csv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK 256   /* first size of libcsv's field buffer */

struct ccsv_reader {
	struct csv_parser p;
	ccsv_record_fn fn;
	void *ctx;
	size_t max_field, max_fields;
	unsigned char quote;
	int err;                    /* sticky: the first error or CCSV_STOP */
	/* the record being collected */
	struct buf rec;             /* field bytes, each followed by a NUL */
	size_t *off;                /* offset of each field in rec */
	struct ccsv_field *fields;  /* nfields entries once the record is complete */
	size_t nfields, cap;
	size_t nrec;                /* records completed */
	/* what the hooks track */
	size_t line;                /* line being fed, from 1 */
	size_t rec_line;            /* line the current record started on */
	bool expect_first;          /* no byte of the current field seen yet */
	bool expect_record;         /* no byte of the current record seen yet */
	unsigned char first;        /* first byte of the current field */
	bool refused;               /* the realloc hook refused to grow past max_field */
	/* the byte-order mark */
	unsigned bom;               /* bytes of it matched so far */
	bool bom_done;
};

static _Thread_local struct ccsv_reader *tl_reader;

static int hook_space(unsigned char c)
{
	struct ccsv_reader *r = tl_reader;

	if (r->expect_first && c != '\r' && c != '\n') {
		r->first = c;
		r->expect_first = false;
		if (r->expect_record) {
			r->rec_line = r->line;
			r->expect_record = false;
		}
	}
	return 0;
}

static void *hook_realloc(void *old, size_t n)
{
	struct ccsv_reader *r = tl_reader;
	void *p;

	if (n > r->max_field + 2) {   /* the field, and a quote libcsv may hold */
		r->refused = true;
		return NULL;
	}
	p = crealloc(old, n);
	if (p) {
		r->refused = false;
		r->p.blk_size = n;        /* double on the next growth */
	}
	return p;
}

static int fail(struct ccsv_reader *r, int code, const char *what)
{
	size_t line = r->expect_record ? r->line : r->rec_line;

	r->err = cairn_error_set(code, "CSV record %zu (line %zu): %s", r->nrec + 1, line, what);
	return r->err;
}

/* Make room for one more field of len bytes, whose bytes will start at
 * offset off of rec; false (with r->err set) past a limit or out of memory. */
static bool add_field(struct ccsv_reader *r, size_t off, size_t len, bool quoted)
{
	if (len > r->max_field) {
		char msg[80];

		snprintf(msg, sizeof(msg), "a field is longer than %zu bytes", r->max_field);
		fail(r, CAIRN_ETOOBIG, msg);
		return false;
	}
	if (r->nfields >= r->max_fields) {
		char msg[80];

		snprintf(msg, sizeof(msg), "more than %zu fields", r->max_fields);
		fail(r, CAIRN_ETOOBIG, msg);
		return false;
	}
	if (r->nfields == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 16;
		size_t *o = crealloc(r->off, ncap * sizeof(*o));
		struct ccsv_field *f;

		if (!o) {
			r->err = cairn_error_set(CAIRN_ENOMEM, "out of memory reading CSV");
			return false;
		}
		r->off = o;
		f = crealloc(r->fields, ncap * sizeof(*f));
		if (!f) {
			r->err = cairn_error_set(CAIRN_ENOMEM, "out of memory reading CSV");
			return false;
		}
		r->fields = f;
		r->cap = ncap;
	}
	r->off[r->nfields] = off;
	r->fields[r->nfields].n = len;
	r->fields[r->nfields].quoted = quoted;
	r->nfields++;
	return true;
}

static void on_field(void *s, size_t len, void *data)
{
	struct ccsv_reader *r = data;
	bool quoted = !r->expect_first && r->first == r->quote;

	r->expect_first = true;
	if (r->err)
		return;
	if (r->expect_record) {    /* a record of one empty field: "\n" never starts one */
		r->rec_line = r->line;
		r->expect_record = false;
	}
	if (!add_field(r, r->rec.len, len, quoted))
		return;
	if (len)
		buf_put(&r->rec, s, len);
	buf_putc(&r->rec, '\0');
	if (r->rec.err)
		r->err = buf_error(&r->rec);
}

static void on_record(int c, void *data)
{
	struct ccsv_reader *r = data;
	struct ccsv_record rec;
	int rc;

	(void)c;
	r->expect_first = true;
	r->expect_record = true;
	if (r->err) {
		r->nfields = 0;
		buf_clear(&r->rec);
		return;
	}
	for (size_t i = 0; i < r->nfields; i++)
		r->fields[i].p = r->rec.ptr + r->off[i];
	rec.fields = r->fields;
	rec.nfields = r->nfields;
	rec.index = r->nrec + 1;
	rec.line = r->rec_line;
	rc = r->fn(r->ctx, &rec);
	r->nrec++;
	r->nfields = 0;
	buf_clear(&r->rec);
	if (rc)
		r->err = rc;
}

int ccsv_reader_new(const struct ccsv_options *opt, ccsv_record_fn fn, void *ctx, struct ccsv_reader **out)
{
	struct ccsv_reader *r;
	unsigned char flags = 0;

	*out = NULL;
	r = ccalloc(1, sizeof(*r));
	if (!r)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (opt && opt->strict)
		flags = CSV_STRICT | CSV_STRICT_FINI;
	if (csv_init(&r->p, flags)) {
		free(r);
		return cairn_error_set(CAIRN_ERR, "csv_init failed");
	}
	csv_set_delim(&r->p, (unsigned char)(opt && opt->delim ? opt->delim : ','));
	r->quote = (unsigned char)(opt && opt->quote ? opt->quote : '"');
	csv_set_quote(&r->p, r->quote);
	csv_set_space_func(&r->p, hook_space);
	csv_set_realloc_func(&r->p, hook_realloc);
	csv_set_free_func(&r->p, free);
	csv_set_blk_size(&r->p, BLOCK);
	r->fn = fn;
	r->ctx = ctx;
	r->max_field = opt && opt->max_field ? opt->max_field : CCSV_MAX_FIELD_DEFAULT;
	r->max_fields = opt && opt->max_fields ? opt->max_fields : CCSV_MAX_FIELDS_DEFAULT;
	buf_init(&r->rec, SIZE_MAX / 2);
	r->line = 1;
	r->rec_line = 1;
	r->expect_first = true;
	r->expect_record = true;
	*out = r;
	return 0;
}

/* Hand one segment (at most one LF, at its end) to libcsv. */
static int parse_segment(struct ccsv_reader *r, const unsigned char *s, size_t n)
{
	struct ccsv_reader *saved = tl_reader;
	size_t done;

	tl_reader = r;
	done = csv_parse(&r->p, s, n, on_field, on_record, r);
	tl_reader = saved;
	if (r->err)
		return r->err;
	if (done < n) {
		switch (csv_error(&r->p)) {
		case CSV_EPARSE:
			return fail(r, CAIRN_EINVALID, s[done] == r->quote ? "a quote inside an unquoted field"
									  : "text after a closing quote");
		case CSV_ENOMEM:
			if (r->refused) {
				char msg[80];

				snprintf(msg, sizeof(msg), "a field is longer than %zu bytes", r->max_field);
				return fail(r, CAIRN_ETOOBIG, msg);
			}
			r->err = cairn_error_set(CAIRN_ENOMEM, "out of memory reading CSV");
			return r->err;
		default:
			return fail(r, CAIRN_ETOOBIG, "a field is too big");
		}
	}
	if (n && s[n - 1] == '\n')
		r->line++;
	return 0;
}

/* Offsets of the bytes equal to c in s[0..16), as a bit mask (SSE2 where
 * the compiler has it, else a plain loop). */
static inline unsigned match16(const unsigned char *s, unsigned char c)
{
#ifdef __SSE2__
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)s),
							  _mm_set1_epi8((char)c)));
#else
	unsigned m = 0;

	for (unsigned i = 0; i < 16; i++)
		m |= (unsigned)(s[i] == c) << i;
	return m;
#endif
}

/* Copy s[0..m) into the record as fields, each ending at a delimiter
 * (or at m when last is set: the line's last field), NUL-terminated.
 * The copy is one memcpy; the delimiters are then found 16 bytes at a
 * time in it and overwritten with NULs. */
static int split_fields(struct ccsv_reader *r, const unsigned char *s, size_t m, bool last)
{
	const unsigned char delim = r->p.delim_char;
	size_t start = 0, i;
	unsigned char *out;

	buf_clear(&r->rec);
	r->nfields = 0;
	if (buf_grow(&r->rec, m + 32))   /* room for the NULs and a 16-byte read past the end */
		return r->err = buf_error(&r->rec);
	out = (unsigned char *)r->rec.ptr;
	memcpy(out, s, m);
	memset(out + m, 0, 17);
	for (i = 0; i < m; i += 16) {
		unsigned hits = match16(out + i, delim);

		if (m - i < 16)
			hits &= (1u << (m - i)) - 1;
		while (hits) {
			size_t at = i + (size_t)__builtin_ctz(hits);

			hits &= hits - 1;
			out[at] = '\0';
			if (r->nfields < r->cap && at - start <= r->max_field && r->nfields < r->max_fields) {
				r->off[r->nfields] = start;
				r->fields[r->nfields].n = at - start;
				r->fields[r->nfields].quoted = false;
				r->nfields++;
			} else if (!add_field(r, start, at - start, false)) {
				return r->err;
			}
			start = at + 1;
		}
	}
	r->rec.len = m;
	if (last) {
		r->rec.len = m + 1;
		if (!add_field(r, start, m - start, false))
			return r->err;
	}
	return 0;
}

/* The first byte of s[0..n) that is a line end, a CR or the quote
 * character, or NULL. */
static const unsigned char *find_special(const unsigned char *s, size_t n, unsigned char quote)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		unsigned hits = match16(s + i, '\n') | match16(s + i, '\r') | match16(s + i, quote);

		if (hits)
			return s + i + __builtin_ctz(hits);
	}
	for (; i < n; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == quote)
			return s + i;
	return NULL;
}

/* One whole line with no quote character and no CR, between records: the
 * record is the line split at the delimiter, which is all libcsv would do
 * with it, without its per-byte callbacks (see the comment at the top). */
static int split_line(struct ccsv_reader *r, const unsigned char *s, size_t n)
{
	r->rec_line = r->line;
	r->line++;
	if (n == 1)   /* a blank line is not a record */
		return 0;
	r->expect_record = false;
	if (split_fields(r, s, n - 1, true))
		return r->err;
	on_record(0, r);
	return r->err;
}

/* A whole line without CR, between records, whose first quote character
 * is at q: the fields before the one holding it have no quote, so they
 * are split here; libcsv gets the rest from that field's start, where it
 * is in the state it is in at a record's start (a field about to begin),
 * and its fields join the record (on_field appends). */
static int split_quoted_line(struct ccsv_reader *r, const unsigned char *s, size_t n, const unsigned char *q)
{
	const unsigned char *d = q;
	size_t fs;

	while (d > s && d[-1] != r->p.delim_char)
		d--;
	fs = (size_t)(d - s);
	if (!fs)
		return parse_segment(r, s, n);
	r->rec_line = r->line;
	r->expect_record = false;
	if (split_fields(r, s, fs, false))
		return r->err;
	return parse_segment(r, s + fs, n - fs);
}

static int feed_lines(struct ccsv_reader *r, const unsigned char *s, size_t len)
{
	while (len) {
		const unsigned char *nl, *q;
		size_t n;
		int rc;

		if (r->expect_record && r->p.pstate == 0 && (q = find_special(s, len, r->quote)) && *q == '\n') {
			/* a whole line with no quote and no CR: the common case */
			n = (size_t)(q - s) + 1;
			rc = split_line(r, s, n);
			s += n;
			len -= n;
			if (rc)
				return rc;
			continue;
		}
		nl = memchr(s, '\n', len);
		n = nl ? (size_t)(nl - s) + 1 : len;
		if (nl && r->expect_record && r->p.pstate == 0 && !memchr(s, '\r', n))
			rc = (q = memchr(s, r->quote, n)) ? split_quoted_line(r, s, n, q) : split_line(r, s, n);
		else
			rc = parse_segment(r, s, n);

		if (rc)
			return rc;
		s += n;
		len -= n;
	}
	return 0;
}

int ccsv_reader_feed(struct ccsv_reader *r, const void *data, size_t len)
{
	static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
	const unsigned char *s = data;

	if (r->err)
		return r->err;
	while (!r->bom_done && len) {
		if (*s == bom[r->bom]) {
			s++;
			len--;
			if (++r->bom == 3)
				r->bom_done = true;
			continue;
		}
		r->bom_done = true;   /* not a BOM: what matched so far is data */
		if (r->bom) {
			int rc = feed_lines(r, bom, r->bom);

			if (rc)
				return rc;
		}
	}
	return feed_lines(r, s, len);
}

int ccsv_reader_finish(struct ccsv_reader *r)
{
	struct ccsv_reader *saved;
	int rc;

	if (r->err)
		return r->err;
	if (!r->bom_done) {
		r->bom_done = true;
		if (r->bom && (rc = feed_lines(r, (const unsigned char *)"\xEF\xBB\xBF", r->bom)))
			return rc;
	}
	saved = tl_reader;
	tl_reader = r;
	rc = csv_fini(&r->p, on_field, on_record, r);
	tl_reader = saved;
	if (r->err)
		return r->err;
	if (rc)
		return fail(r, CAIRN_EINVALID, "unterminated quoted field");
	return 0;
}

size_t ccsv_reader_records(const struct ccsv_reader *r)
{
	return r->nrec;
}

void ccsv_reader_free(struct ccsv_reader *r)
{
	if (!r)
		return;
	csv_free(&r->p);
	buf_release(&r->rec);
	free(r->off);
	free(r->fields);
	free(r);
}

int ccsv_read(const void *data, size_t len, const struct ccsv_options *opt, ccsv_record_fn fn, void *ctx)
{
	struct ccsv_reader *r = NULL;
	int rc = ccsv_reader_new(opt, fn, ctx, &r);

	if (rc)
		return rc;
	rc = ccsv_reader_feed(r, data, len);
	if (!rc)
		rc = ccsv_reader_finish(r);
	ccsv_reader_free(r);
	return rc;
}
