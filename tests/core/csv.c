/* Unit tests for core/csv: quoting, line ends, chunking, quoted flags, BOM, limits, strict mode, faults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"

static void fini(void) { fault_disarm(); }

TestSuite(core_csv, .fini = fini);

/* Records rendered as text: "line: f1|f2\n", a quoted field in <>, NUL as \0. */
struct dump {
	struct buf out;
	size_t stop_after;   /* return CCSV_STOP after this many records (0: never) */
	int fail_with;       /* return this from the second record (0: never) */
};

static int collect(void *ctx, const struct ccsv_record *rec)
{
	struct dump *d = ctx;

	cr_assert_gt(rec->nfields, 0);
	buf_printf(&d->out, "%zu:", rec->line);
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct ccsv_field *f = &rec->fields[i];

		cr_assert_eq(f->p[f->n], '\0', "fields are NUL-terminated");
		if (i)
			buf_putc(&d->out, '|');
		if (f->quoted)
			buf_putc(&d->out, '<');
		for (size_t j = 0; j < f->n; j++) {
			if (f->p[j] == '\0')
				buf_puts(&d->out, "\\0");
			else
				buf_putc(&d->out, f->p[j]);
		}
		if (f->quoted)
			buf_putc(&d->out, '>');
	}
	buf_putc(&d->out, '\n');
	if (d->fail_with && rec->index == 2)
		return cairn_error_set(d->fail_with, "stop at record %zu", rec->index);
	if (d->stop_after && rec->index == d->stop_after)
		return CCSV_STOP;
	return 0;
}

/* Parse in chunks of `chunk` bytes (0: all at once); the rendering, or the error message. */
static char *parse(const char *s, size_t n, const struct ccsv_options *opt, size_t chunk, int *rc)
{
	struct dump d = { BUF_INIT, 0, 0 };
	struct ccsv_reader *r = NULL;

	cr_assert_eq(ccsv_reader_new(opt, collect, &d, &r), 0);
	*rc = 0;
	if (!chunk)
		chunk = n ? n : 1;
	for (size_t i = 0; i < n && !*rc; i += chunk)
		*rc = ccsv_reader_feed(r, s + i, n - i < chunk ? n - i : chunk);
	if (!*rc)
		*rc = ccsv_reader_finish(r);
	ccsv_reader_free(r);
	if (*rc) {
		buf_release(&d.out);
		return strdup(cairn_error_msg());
	}
	return buf_detach(&d.out);
}

/* s parses to want, whole, split in two at every byte, and byte by byte. */
static void expect_opt(const char *s, size_t n, const struct ccsv_options *opt, const char *want)
{
	int rc;
	char *got = parse(s, n, opt, 0, &rc);

	cr_assert_eq(rc, 0, "for %s: %s", s, got);
	cr_assert_str_eq(got, want, "for:\n%s", s);
	free(got);
	for (size_t cut = 1; cut < n; cut++) {
		struct dump d = { BUF_INIT, 0, 0 };
		struct ccsv_reader *r = NULL;

		cr_assert_eq(ccsv_reader_new(opt, collect, &d, &r), 0);
		cr_assert_eq(ccsv_reader_feed(r, s, cut), 0);
		cr_assert_eq(ccsv_reader_feed(r, s + cut, n - cut), 0);
		cr_assert_eq(ccsv_reader_finish(r), 0);
		cr_assert_str_eq(d.out.ptr, want, "split at %zu of:\n%s", cut, s);
		ccsv_reader_free(r);
		buf_release(&d.out);
	}
	got = parse(s, n, opt, 1, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(got, want, "byte by byte:\n%s", s);
	free(got);
}

static void expect(const char *s, const char *want)
{
	expect_opt(s, strlen(s), NULL, want);
}

static void expect_error(const char *s, const struct ccsv_options *opt, int code, const char *msg)
{
	/* whole and byte by byte give the same error */
	for (size_t chunk = 0; chunk < 2; chunk++) {
		int rc;
		char *got = parse(s, strlen(s), opt, chunk, &rc);

		cr_assert_eq(rc, code, "for %s (chunk %zu): rc %d, %s", s, chunk, rc, got);
		cr_assert_str_eq(got, msg, "for %s (chunk %zu)", s, chunk);
		free(got);
	}
}

Test(core_csv, fields_records_and_line_ends)
{
	expect("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\n");
	expect("a,b\r\n1,2\r\n", "1:a|b\n2:1|2\n");
	expect("a,b\r1,2\r", "1:a|b\n1:1|2\n");            /* CR alone ends records; lines count LFs */
	expect("a,b\n1,2", "1:a|b\n2:1|2\n");              /* no final line end */
	expect("x", "1:x\n");
	expect("", "");
	expect("\n\n\r\n", "");
	expect("a\n\n\nb\n", "1:a\n4:b\n");                 /* blank lines are skipped, lines still count */
	expect(" a , b \n", "1: a | b \n");                 /* spaces are data */
	expect("a\tb\n", "1:a\tb\n");
}

Test(core_csv, quoting)
{
	expect("\"a,b\",c\n", "1:<a,b>|c\n");
	expect("\"say \"\"hi\"\"\",x\n", "1:<say \"hi\">|x\n");
	expect("\"multi\nline\",2\nnext,3\n", "1:<multi\nline>|2\n3:next|3\n");
	expect("\"crlf\r\ninside\"\r\n", "1:<crlf\r\ninside>\n");
	expect("\"\"\"\"\n", "1:<\">\n");
	expect("\"a\"\"\"\n", "1:<a\">\n");
	expect("\"\",\"x\"\n", "1:<>|<x>\n");
}

Test(core_csv, empty_fields_versus_quoted_empty)
{
	expect(",\n", "1:|\n");
	expect(",,\n", "1:||\n");
	expect("\"\",\n", "1:<>|\n");
	expect(",\"\"\n", "1:|<>\n");
	expect("a,\n", "1:a|\n");
	expect("a,", "1:a|\n");
	expect("\"a\",", "1:<a>|\n");
	expect("\"\"", "1:<>\n");
	expect("\"\"\n\"\"\n", "1:<>\n2:<>\n");
	expect("x,\"\"\r\n,y\r\n", "1:x|<>\n2:|y\n");
}

Test(core_csv, nul_bytes_are_data)
{
	static const char s[] = "a\0b,\"c\0\"\n";

	expect_opt(s, sizeof(s) - 1, NULL, "1:a\\0b|<c\\0>\n");
}

Test(core_csv, byte_order_mark)
{
	expect("\xEF\xBB\xBF" "a,b\n", "1:a|b\n");
	expect("\xEF\xBB\xBF", "");
	expect("\xEF\xBB\xBF\"q\"\n", "1:<q>\n");
	expect("\xEF\xBB" "a\n", "1:\xEF\xBB" "a\n");        /* a partial mark is data */
	expect("\xEF", "1:\xEF\n");
	expect("a\xEF\xBB\xBF\n", "1:a\xEF\xBB\xBF\n");       /* only at the start */
	expect("\xEF\xBB\xBF\xEF\xBB\xBF" "a\n", "1:\xEF\xBB\xBF" "a\n");
}

Test(core_csv, options)
{
	struct ccsv_options semi = { .delim = ';' };
	struct ccsv_options tab = { .delim = '\t', .quote = '\'' };

	expect_opt("a;b,c\n\"x;y\";z\n", 14, &semi, "1:a|b,c\n2:<x;y>|z\n");
	expect_opt("a\t'b\tc'\n", 8, &tab, "1:a|<b\tc>\n");
}

Test(core_csv, strict_mode_errors)
{
	struct ccsv_options strict = { .strict = true };

	expect_error("a,b\nx\"y,2\n", &strict, CAIRN_EINVALID, "CSV record 2 (line 2): a quote inside an unquoted field");
	expect_error("a,b\n\"x\"y,2\n", &strict, CAIRN_EINVALID, "CSV record 2 (line 2): text after a closing quote");
	expect_error("a\n\"open\nstill open", &strict, CAIRN_EINVALID, "CSV record 2 (line 2): unterminated quoted field");
	expect_error("a\n\n\n\"x\"\"\"z\n", &strict, CAIRN_EINVALID, "CSV record 2 (line 4): text after a closing quote");
	expect_error("h\n\"a\nb\"x\n", &strict, CAIRN_EINVALID, "CSV record 2 (line 2): text after a closing quote");
	/* well-formed input passes strict mode */
	expect_opt("\"a\"\"b\",c\n", 9, &strict, "1:<a\"b>|c\n");
}

Test(core_csv, lenient_mode_keeps_stray_quotes)
{
	expect("x\"y,2\n", "1:x\"y|2\n");
	expect("\"open", "1:<open>\n");
}

Test(core_csv, limits)
{
	struct ccsv_options small = { .max_field = 4, .max_fields = 3 };
	struct buf big = BUF_INIT;
	int rc;
	char *got;

	expect_opt("abcd,\"wxyz\"\n1,2,3\n", 18, &small, "1:abcd|<wxyz>\n2:1|2|3\n");
	expect_error("ok\nabcde\n", &small, CAIRN_ETOOBIG, "CSV record 2 (line 2): a field is longer than 4 bytes");
	expect_error("ok\n\"ab\ncd\"\n", &small, CAIRN_ETOOBIG, "CSV record 2 (line 2): a field is longer than 4 bytes");
	expect_error("a,b,c,d\n", &small, CAIRN_ETOOBIG, "CSV record 1 (line 1): more than 3 fields");
	/* the buffer is not grown past the limit before the field ends */
	for (int i = 0; i < 100000; i++)
		buf_puts(&big, "xxxxxxxxxx");
	got = parse(big.ptr, big.len, &(struct ccsv_options){ .max_field = 1000 }, 4096, &rc);
	cr_assert_eq(rc, CAIRN_ETOOBIG, "%s", got);
	cr_assert_str_eq(got, "CSV record 1 (line 1): a field is longer than 1000 bytes");
	free(got);
	/* a long field within the default limit */
	buf_truncate(&big, 1000000);
	got = parse(big.ptr, big.len, NULL, 0, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_eq(strlen(got), 1000000 + 3);
	free(got);
	buf_release(&big);
}

Test(core_csv, callback_stops_and_fails)
{
	struct dump d = { BUF_INIT, 2, 0 };
	const char *s = "a\nb\nc\nragged,\"\n";

	cr_assert_eq(ccsv_read(s, strlen(s), &(struct ccsv_options){ .strict = true }, collect, &d), CCSV_STOP);
	cr_assert_str_eq(d.out.ptr, "1:a\n2:b\n");
	buf_release(&d.out);

	d = (struct dump){ BUF_INIT, 0, CAIRN_ECONFLICT };
	cr_assert_eq(ccsv_read(s, strlen(s), NULL, collect, &d), CAIRN_ECONFLICT);
	cr_assert_str_eq(cairn_error_msg(), "stop at record 2");
	cr_assert_str_eq(d.out.ptr, "1:a\n2:b\n");
	buf_release(&d.out);
}

Test(core_csv, records_count)
{
	struct dump d = { BUF_INIT, 0, 0 };
	struct ccsv_reader *r = NULL;

	cr_assert_eq(ccsv_reader_new(NULL, collect, &d, &r), 0);
	cr_assert_eq(ccsv_reader_feed(r, "a\nb\nc", 5), 0);
	cr_assert_eq(ccsv_reader_records(r), 2);
	cr_assert_eq(ccsv_reader_finish(r), 0);
	cr_assert_eq(ccsv_reader_records(r), 3);
	ccsv_reader_free(r);
	buf_release(&d.out);
}

Test(core_csv, allocation_failures)
{
	const char *s = "a,\"b b\",c\n1,2,3\n\"long field long field long field long field\"\n";
	uint64_t calls;

	/* count, then fail each allocation in turn: ENOMEM or success, never a crash or a leak */
	for (uint64_t nth = 1;; nth++) {
		struct dump d = { BUF_INIT, 0, 0 };
		int rc;
		uint64_t injected;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = ccsv_read(s, strlen(s), NULL, collect, &d);
		calls = fault_calls();
		injected = fault_injected();
		fault_disarm();
		if (d.out.err)
			injected--;   /* the test's own buffer took that failure */
		buf_release(&d.out);
		if (!rc && nth > calls)
			break;
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "nth %llu: rc %d %s", (unsigned long long)nth, rc,
			  cairn_error_msg());
		cr_assert(rc != 0 || injected == 0 || d.out.err, "nth %llu: a failure was swallowed",
			  (unsigned long long)nth);
	}
	cr_assert_gt(calls, 3);
}

/* ---- ccsv_value_parse ---- */

static enum ccsv_kind kind_of(const char *s, struct ccsv_value *v)
{
	return ccsv_value_parse(s, strlen(s), v);
}

Test(core_csv, value_kinds)
{
	struct ccsv_value v;

	cr_assert_eq(kind_of("", &v), CCSV_EMPTY);
	cr_assert_eq(kind_of("NA", &v), CCSV_TEXT, "NA is text, not a null");
	cr_assert_eq(kind_of("null", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("42", &v), CCSV_INT);
	cr_assert_eq(v.i, 42);
	cr_assert_eq(kind_of(" -7\t", &v), CCSV_INT, "spaces around a number are ignored");
	cr_assert_eq(v.i, -7);
	cr_assert_eq(kind_of("+0007", &v), CCSV_INT);
	cr_assert_eq(v.i, 7);
	cr_assert_eq(kind_of("9223372036854775807", &v), CCSV_INT);
	cr_assert_eq(v.i, INT64_MAX);
	cr_assert_eq(kind_of("-9223372036854775808", &v), CCSV_INT);
	cr_assert_eq(v.i, INT64_MIN);
	cr_assert_eq(kind_of("9223372036854775808", &v), CCSV_FLOAT, "past int64 is a float");
	cr_assert_eq(v.d, 9223372036854775808.0);
	cr_assert_eq(kind_of("123456789012345678901234", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, 123456789012345678901234.0);
	cr_assert_eq(kind_of("1.5", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, 1.5);
	cr_assert_eq(kind_of(".5", &v), CCSV_FLOAT);
	cr_assert_eq(kind_of("5.", &v), CCSV_FLOAT);
	cr_assert_eq(kind_of("1e3", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, 1000.0);
	cr_assert_eq(kind_of("-0.0", &v), CCSV_FLOAT);
	cr_assert(v.d == 0 && __builtin_signbit(v.d));
	cr_assert_eq(kind_of("inf", &v), CCSV_FLOAT);
	cr_assert(v.d > 1e308);
	cr_assert_eq(kind_of("-Infinity", &v), CCSV_FLOAT);
	cr_assert(v.d < -1e308);
	cr_assert_eq(kind_of("NaN", &v), CCSV_FLOAT);
	cr_assert(v.d != v.d);
	cr_assert_eq(kind_of("0x10", &v), CCSV_TEXT, "no hexadecimal");
	cr_assert_eq(kind_of("1e", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("1.2.3", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("-", &v), CCSV_TEXT);
	cr_assert_eq(kind_of(".", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("1 2", &v), CCSV_TEXT);
	cr_assert_eq(kind_of(" a ", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("True", &v), CCSV_BOOL);
	cr_assert_eq(v.i, 1);
	cr_assert_eq(kind_of("FALSE", &v), CCSV_BOOL);
	cr_assert_eq(v.i, 0);
	cr_assert_eq(kind_of("yes", &v), CCSV_TEXT);
}

Test(core_csv, value_datetimes)
{
	struct ccsv_value v;

	cr_assert_eq(kind_of("1970-01-01", &v), CCSV_DATETIME);
	cr_assert_eq(v.d, 0);
	cr_assert_eq(kind_of("2024-02-29T12:30:15Z", &v), CCSV_DATETIME);
	cr_assert_eq(v.i, 1709209815);
	cr_assert_eq(kind_of("2024-02-29 12:30", &v), CCSV_DATETIME);
	cr_assert_eq(v.i, 1709209800);
	cr_assert_eq(kind_of("2024-02-29T14:30:15+02:00", &v), CCSV_DATETIME);
	cr_assert_eq(v.i, 1709209815);
	cr_assert_eq(kind_of("2024-02-29T12:30:15.25", &v), CCSV_DATETIME);
	cr_assert_eq(v.d, 1709209815.25);
	cr_assert_eq(kind_of("1969-12-31", &v), CCSV_DATETIME);
	cr_assert_eq(v.i, -86400);
	cr_assert_eq(kind_of("2023-02-29", &v), CCSV_TEXT, "not a calendar date");
	cr_assert_eq(kind_of("2023-13-01", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("2023-01-01T25:00", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("2023-01-01x", &v), CCSV_TEXT);
}

/* the short loop for [+-]digits[.digits] (csv_value.c quick_number) and the
 * general scan agree at the edges of its shape: 18 and 19 digits, leading
 * zeros, a bare point, signs, m past 2^53 */
Test(core_csv, value_quick_shapes)
{
	struct ccsv_value v;

	cr_assert_eq(kind_of("-0.000", &v), CCSV_FLOAT);
	cr_assert(v.d == 0 && __builtin_signbit(v.d));
	cr_assert_eq(kind_of("-0", &v), CCSV_INT);
	cr_assert(v.i == 0 && !__builtin_signbit(v.d));
	cr_assert_eq(kind_of("000000000000000007", &v), CCSV_INT);
	cr_assert_eq(v.i, 7);
	cr_assert_eq(kind_of("999999999999999999", &v), CCSV_INT);
	cr_assert_eq(v.i, 999999999999999999LL);
	cr_assert_eq(kind_of("-9999999999999999999", &v), CCSV_FLOAT, "19 digits past int64");
	cr_assert_eq(kind_of("1234567890123456789", &v), CCSV_INT);
	cr_assert_eq(v.i, 1234567890123456789LL);
	cr_assert_eq(kind_of("12345678901234567.8", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, strtod("12345678901234567.8", NULL));
	cr_assert_eq(kind_of("0.00000000000000001", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, 1e-17);
	cr_assert_eq(kind_of("+.5", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, 0.5);
	cr_assert_eq(kind_of("-5.", &v), CCSV_FLOAT);
	cr_assert_eq(v.d, -5.0);
	cr_assert_eq(kind_of("+", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("-.", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("1.5.", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("-nan", &v), CCSV_FLOAT);
	cr_assert_eq(kind_of("+Inf", &v), CCSV_FLOAT);
	cr_assert_eq(kind_of("-true", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("n", &v), CCSV_TEXT);
	cr_assert_eq(kind_of("t", &v), CCSV_TEXT);
}

/* every literal reads as strtod reads it, bit for bit (the fast path and the fallback) */
Test(core_csv, value_floats_match_strtod)
{
	char s[64];
	unsigned seed = 12345;

	for (int i = 0; i < 200000; i++) {
		struct ccsv_value v;
		double d;
		int digits = 1 + (int)(rand_r(&seed) % 20), point = (int)(rand_r(&seed) % (digits + 1));
		int e = (int)(rand_r(&seed) % 700) - 350;
		size_t n = 0;

		if (rand_r(&seed) % 2)
			s[n++] = '-';
		for (int k = 0; k < digits; k++) {
			if (k == point && k)
				s[n++] = '.';
			s[n++] = (char)('0' + rand_r(&seed) % 10);
		}
		if (rand_r(&seed) % 3 == 0)
			n += (size_t)snprintf(s + n, sizeof(s) - n, "e%d", e % (rand_r(&seed) % 2 ? 25 : 350));
		s[n] = '\0';
		d = strtod(s, NULL);
		cr_assert_neq(ccsv_value_parse(s, n, &v), CCSV_TEXT, "%s", s);
		if (v.kind == CCSV_FLOAT)
			cr_assert(!memcmp(&v.d, &d, sizeof(d)), "%s: %.17g, strtod %.17g", s, v.d, d);
		else
			cr_assert_eq(v.d, d, "%s", s);
	}
}

/* Whole lines without quotes are split without libcsv (csv.c), and lines
 * with one up to the field that holds it; random text read whole must give
 * exactly what byte-by-byte feeding (always libcsv) gives. */
Test(core_csv, split_fast_path_agrees_with_libcsv)
{
	static const char alphabet[] = "ab,,,\n\n\"\r ;x\xc3\xa9";
	unsigned seed = 777;

	for (int round = 0; round < 20000; round++) {
		char s[80];
		size_t n = (size_t)(rand_r(&seed) % (sizeof(s) - 1));
		struct ccsv_options opt = { .strict = round % 2, .delim = round % 5 == 0 ? ';' : 0,
					    .max_fields = round % 7 == 0 ? 3 : 0, .max_field = round % 11 == 0 ? 4 : 0 };
		char *whole, *bytes;
		int rc1, rc2;

		for (size_t i = 0; i < n; i++)
			s[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		s[n] = '\0';
		whole = parse(s, n, &opt, 0, &rc1);
		bytes = parse(s, n, &opt, 1, &rc2);
		cr_assert_eq(rc1, rc2, "rc for [%s]: %s / %s", s, whole, bytes);
		cr_assert_str_eq(whole, bytes, "for [%s]", s);
		free(whole);
		free(bytes);
	}
}
