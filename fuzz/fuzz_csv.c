/* fuzz_csv.c - libFuzzer target: the CSV reader (core/csv.h).
 *
 * The first byte picks the options (delimiter, quote, strict, small limits) and
 * a chunk size; the rest is CSV. Invariants: no crash, no sanitizer report; the
 * same records and the same result whether the input is fed whole, in chunks or
 * byte by byte; every field NUL-terminated; record numbers count from 1 and
 * lines never go back; and a successful parse, written back out with every
 * field quoted, reads back to the same fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/csv.h"
#include "core/error.h"

struct seen {
	struct buf out;      /* fields, length-prefixed, record by record */
	struct buf rewrite;  /* the records written back as CSV, every field quoted */
	struct buf content;  /* fields only, without quoted flags and lines */
	size_t last_index, last_line;
	char delim, quote;
};

static int on_record(void *ctx, const struct ccsv_record *rec)
{
	struct seen *s = ctx;

	if (rec->index != s->last_index + 1 || rec->line < s->last_line || !rec->nfields)
		abort();
	s->last_index = rec->index;
	s->last_line = rec->line;
	buf_printf(&s->out, "R%zu:%zu\n", rec->index, rec->line);
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct ccsv_field *f = &rec->fields[i];

		if (f->p[f->n] != '\0')
			abort();
		buf_printf(&s->out, "%zu%c", f->n, f->quoted ? 'q' : 'u');
		buf_put(&s->out, f->p, f->n);
		buf_printf(&s->content, "%zu:", f->n);
		buf_put(&s->content, f->p, f->n);
		if (i)
			buf_putc(&s->rewrite, s->delim);
		buf_putc(&s->rewrite, s->quote);
		for (size_t j = 0; j < f->n; j++) {
			if (f->p[j] == s->quote)
				buf_putc(&s->rewrite, s->quote);
			buf_putc(&s->rewrite, f->p[j]);
		}
		buf_putc(&s->rewrite, s->quote);
	}
	buf_putc(&s->rewrite, '\n');
	buf_putc(&s->content, '\n');
	return 0;
}

static int run(const unsigned char *data, size_t size, const struct ccsv_options *opt, size_t chunk,
	       struct seen *s, char *msg, size_t msglen)
{
	struct ccsv_reader *r = NULL;
	int rc;

	*s = (struct seen){ BUF_INIT, BUF_INIT, BUF_INIT, 0, 0, opt->delim ? opt->delim : ',', opt->quote ? opt->quote : '"' };
	if ((rc = ccsv_reader_new(opt, on_record, s, &r)))
		return rc;
	for (size_t i = 0; i < size && !rc; i += chunk)
		rc = ccsv_reader_feed(r, data + i, size - i < chunk ? size - i : chunk);
	if (!rc)
		rc = ccsv_reader_finish(r);
	ccsv_reader_free(r);
	snprintf(msg, msglen, "%s", rc ? cairn_error_msg() : "");
	return rc;
}

static void check_same(int rc1, const struct seen *a, const char *m1, int rc2, const struct seen *b, const char *m2)
{
	if (rc1 != rc2 || strcmp(m1, m2) || a->out.len != b->out.len || memcmp(a->out.ptr, b->out.ptr, a->out.len)) {
		fprintf(stderr, "chunking changed the result: %d '%s' vs %d '%s'\n", rc1, m1, rc2, m2);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char delims[4] = { ',', ';', '\t', '|' };
	struct ccsv_options opt = { 0 };
	struct seen whole, part, bytes, back;
	char m1[256], m2[256], m3[256], m4[256];
	size_t chunk;
	int rc1, rc2, rc3;

	if (!size)
		return 0;
	opt.delim = delims[data[0] & 3];
	opt.quote = (data[0] & 4) ? '\'' : '"';
	opt.strict = data[0] & 8;
	if (data[0] & 16) {
		opt.max_field = 8;
		opt.max_fields = 4;
	}
	chunk = 1 + (data[0] >> 5) * 3;
	data++;
	size--;
	rc1 = run(data, size, &opt, size ? size : 1, &whole, m1, sizeof(m1));
	rc2 = run(data, size, &opt, chunk, &part, m2, sizeof(m2));
	rc3 = run(data, size, &opt, 1, &bytes, m3, sizeof(m3));
	if (rc1 != CAIRN_ENOMEM && !whole.out.err) {
		check_same(rc1, &whole, m1, rc2, &part, m2);
		check_same(rc1, &whole, m1, rc3, &bytes, m3);
	}
	if (rc1 == 0 && !whole.out.err && !whole.rewrite.err) {
		struct ccsv_options o2 = opt;
		int rc4;

		o2.strict = true;
		rc4 = run((const unsigned char *)whole.rewrite.ptr, whole.rewrite.len, &o2, whole.rewrite.len ? whole.rewrite.len : 1,
			  &back, m4, sizeof(m4));
		/* the rewrite quotes every field: the same fields come back */
		if (rc4 == CAIRN_ENOMEM || back.content.err || whole.content.err) {
			/* nothing to compare */
		} else if (rc4) {
			fprintf(stderr, "rewritten CSV does not parse: %s\n", m4);
			abort();
		} else if (back.content.len != whole.content.len ||
			   memcmp(back.content.ptr, whole.content.ptr, whole.content.len)) {
			fprintf(stderr, "rewritten CSV reads back differently\n");
			abort();
		}
		buf_release(&back.out);
		buf_release(&back.rewrite);
		buf_release(&back.content);
	}
	buf_release(&whole.out);
	buf_release(&whole.rewrite);
	buf_release(&whole.content);
	buf_release(&part.out);
	buf_release(&part.rewrite);
	buf_release(&part.content);
	buf_release(&bytes.out);
	buf_release(&bytes.rewrite);
	buf_release(&bytes.content);
	return 0;
}
