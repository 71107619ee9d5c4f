/* cmd_validate.c - `cairn validate`: a CSV table against an expectation suite (a CI gate), or a suite drafted from a profile. */
#include "cli/cmd.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/yaml.h"
#include "stats/profile.h"
#include "stats/validate.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUITE_MAX ((size_t)64 << 20)
#define SHOW_FAILING 3     /* failing values shown per expectation in the table */
#define WHAT_WIDTH 56

static void validate_usage(FILE *f)
{
	fprintf(f, "usage: cairn validate DATA.csv --suite SUITE.yaml [--json] [-o RESULT.json] [options]\n"
		   "       cairn validate --suggest DATA.csv [-o SUITE.yaml] [--json] [options]\n\n"
		   "Check a CSV table against an expectation suite (YAML or JSON; Great Expectations'\n"
		   "expectation names or cairn's short ones: not_null, unique, between, in_set, match_regex,\n"
		   "type, mean_between, quantile_between, row_count_between, columns_equal_set, ...; `mostly`\n"
		   "for row-wise ones), in one pass over the data. Prints one line per expectation (PASS or\n"
		   "FAIL, what, what was observed, failing values with their line numbers); the result is\n"
		   "JSON shaped like GX's ExpectationSuiteValidationResult. See docs/validation.md.\n\n"
		   "  -s, --suite FILE    the expectation suite\n"
		   "  --json              print the result JSON instead of the table\n"
		   "  -o, --output FILE   also write the result JSON there (with --suggest: the suite)\n"
		   "  -q, --quiet         print nothing; the exit status says it all\n"
		   "  -d, --delimiter C   CSV field delimiter (default ',', a tab for .tsv; 'tab')\n"
		   "  --suggest           draft a suite from a profile of DATA that passes on DATA: row count\n"
		   "                      within 50 %%, the column set, each column's type, not_null where\n"
		   "                      there are no nulls, between min and max, in_set for categoricals\n"
		   "                      of at most 20 values (YAML, or JSON with --json)\n"
		   "  --name NAME         the suggested suite's name (default: DATA's file name)\n\n"
		   "Exit status: 0 every expectation passed (or the suite was written), 1 an expectation\n"
		   "failed, 2 an error (usage, an unreadable suite or table; nothing is evaluated).\n");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int fail2(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn validate: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int write_out(const char *path, const char *text, size_t len)
{
	if (!path || !strcmp(path, "-")) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout))
			return cairn_error_set(CAIRN_EIO, "cannot write to standard output: %s", strerror(errno));
		return 0;
	}
	return fs_write_atomic(path, text, len, 0644);
}

static int write_json(const char *path, const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2));
	struct buf b = BUF_INIT;
	int rc;

	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_puts(&b, s);
	buf_putc(&b, '\n');
	free(s);
	rc = b.err ? buf_error(&b) : write_out(path, b.ptr, b.len);
	buf_release(&b);
	return rc;
}

/* ---- the table ---- */

static void put_num(struct buf *b, const json_t *v)
{
	if (json_is_integer(v))
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		buf_printf(b, "%.10g", json_real_value(v));
	else if (json_is_string(v))
		buf_printf(b, "%.40s", json_string_value(v));
	else if (json_is_boolean(v))
		buf_puts(b, json_is_true(v) ? "true" : "false");
	else
		buf_puts(b, "null");
}

/* a value as shown: strings quoted and cut at 30 bytes */
static void put_value(struct buf *b, const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s), cut = n > 30 ? 30 : n;

		while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		buf_printf(b, "\"%.*s%s\"", (int)cut, s, cut < n ? "..." : "");
	} else {
		put_num(b, v);
	}
}

static void put_range(struct buf *b, const json_t *kw)
{
	json_t *lo = json_object_get(kw, "min_value"), *hi = json_object_get(kw, "max_value");

	buf_puts(b, json_is_true(json_object_get(kw, "strict_min")) ? " (" : " [");
	if (lo && !json_is_null(lo))
		put_num(b, lo);
	else
		buf_puts(b, "-inf");
	buf_puts(b, ", ");
	if (hi && !json_is_null(hi))
		put_num(b, hi);
	else
		buf_puts(b, "inf");
	buf_puts(b, json_is_true(json_object_get(kw, "strict_max")) ? ")" : "]");
}

/* "between(price) [0, 100] mostly 0.95" */
static void put_what(struct buf *b, const json_t *cfg)
{
	const char *type = json_string_value(json_object_get(cfg, "type"));
	const char *name = validate_short_name(type);
	json_t *kw = json_object_get(cfg, "kwargs"), *v;

	buf_puts(b, name ? name : type ? type : "?");
	if ((v = json_object_get(kw, "column")))
		buf_printf(b, "(%.60s)", json_string_value(v));
	if (json_object_get(kw, "min_value") || json_object_get(kw, "max_value")) {
		if ((v = json_object_get(kw, "quantile"))) {
			buf_puts(b, " q");
			put_num(b, v);
		}
		put_range(b, kw);
	}
	if ((v = json_object_get(kw, "quantile_ranges")))
		buf_printf(b, " %zu quantiles", json_array_size(json_object_get(v, "quantiles")));
	if ((v = json_object_get(kw, "value_set")))
		buf_printf(b, " %zu value%s", json_array_size(v), json_array_size(v) == 1 ? "" : "s");
	if ((v = json_object_get(kw, "regex")))
		buf_printf(b, " /%.40s/", json_string_value(v));
	if ((v = json_object_get(kw, "type_")))
		buf_printf(b, " %.20s", json_string_value(v));
	if ((v = json_object_get(kw, "value"))) {
		buf_puts(b, " = ");
		put_num(b, v);
	}
	if ((v = json_object_get(kw, "column_set")) || (v = json_object_get(kw, "column_list")))
		buf_printf(b, " %zu columns", json_array_size(v));
	if ((v = json_object_get(kw, "mostly"))) {
		buf_puts(b, " mostly ");
		put_num(b, v);
	}
}

static void put_observed(struct buf *b, const json_t *one, bool ok)
{
	json_t *res = json_object_get(one, "result"), *exc = json_object_get(one, "exception_info");
	json_t *unexpected = json_object_get(res, "unexpected_count"), *v;

	if (json_is_true(json_object_get(exc, "raised_exception"))) {
		buf_printf(b, "%s", json_string_value(json_object_get(exc, "exception_message")));
		return;
	}
	if (unexpected) {
		json_int_t n = json_integer_value(unexpected), all = json_integer_value(json_object_get(res, "element_count"));
		json_int_t miss = json_integer_value(json_object_get(res, "missing_count"));
		const char *type = json_string_value(json_object_get(json_object_get(one, "expectation_config"), "type"));
		const char *sn = validate_short_name(type);
		bool nullish = sn && (!strcmp(sn, "not_null") || !strcmp(sn, "is_null"));
		json_t *pct = json_object_get(res, "unexpected_percent");
		json_t *vals = json_object_get(res, "partial_unexpected_list");
		json_t *lines = json_object_get(res, "partial_unexpected_line_list");

		buf_printf(b, "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " %s", n, nullish ? all : all - miss,
			   nullish ? "rows" : "values");
		if (n && json_is_number(pct))
			buf_printf(b, " (%.2f %%)", json_number_value(pct));
		buf_puts(b, " unexpected");
		if (n && !ok) {
			size_t i;

			buf_puts(b, ":");
			for (i = 0; i < json_array_size(vals) && i < SHOW_FAILING; i++) {
				buf_printf(b, "%s line %" JSON_INTEGER_FORMAT " ", i ? "," : "",
					   json_integer_value(json_array_get(lines, i)));
				put_value(b, json_array_get(vals, i));
			}
			if ((json_int_t)i < n)
				buf_puts(b, ", ...");
		}
		return;
	}
	v = json_object_get(res, "observed_value");
	if ((!v || json_is_null(v)) && json_object_get(json_object_get(res, "details"), "message")) {
		buf_puts(b, json_string_value(json_object_get(json_object_get(res, "details"), "message")));
		return;
	}
	buf_puts(b, "observed ");
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		buf_puts(b, "[");
		json_array_foreach(v, i, e) {
			if (i == 5) {
				buf_puts(b, ", ...");
				break;
			}
			if (i)
				buf_puts(b, ", ");
			put_value(b, e);
		}
		buf_puts(b, "]");
	} else if (json_is_object(v)) {
		json_t *vals = json_object_get(v, "values"), *e;
		size_t i;

		json_array_foreach(vals, i, e) {
			if (i)
				buf_puts(b, ", ");
			buf_puts(b, "q");
			put_num(b, json_array_get(json_object_get(v, "quantiles"), i));
			buf_puts(b, "=");
			put_num(b, e);
		}
	} else {
		put_num(b, v);
	}
	if ((v = json_object_get(json_object_get(res, "details"), "mismatched")) && json_array_size(v)) {
		json_t *m = json_array_get(v, 0);

		buf_printf(b, "; %zu mismatched, first at position %" JSON_INTEGER_FORMAT ": expected ", json_array_size(v),
			   json_integer_value(json_object_get(m, "expected_column_position")));
		put_value(b, json_object_get(m, "expected"));
		buf_puts(b, ", found ");
		put_value(b, json_object_get(m, "found"));
	}
	if ((v = json_object_get(json_object_get(res, "details"), "mismatched")) && json_is_object(v)) {
		json_t *m = json_object_get(v, "missing"), *u = json_object_get(v, "unexpected");

		if (json_array_size(m))
			buf_printf(b, "; missing %zu (first '%s')", json_array_size(m), json_string_value(json_array_get(m, 0)));
		if (json_array_size(u))
			buf_printf(b, "; unexpected %zu (first '%s')", json_array_size(u),
				   json_string_value(json_array_get(u, 0)));
	}
}

static void print_table(const json_t *result, const char *data)
{
	json_t *results = json_object_get(result, "results"), *one;
	json_t *st = json_object_get(result, "statistics"), *meta = json_object_get(result, "meta");
	struct buf line = BUF_INIT;
	size_t i;

	printf("suite '%s' on %s (%" JSON_INTEGER_FORMAT " rows, %" JSON_INTEGER_FORMAT " columns)\n",
	       cli_str((json_t *)result, "suite_name"), data, json_integer_value(json_object_get(meta, "rows")),
	       json_integer_value(json_object_get(meta, "columns")));
	json_array_foreach(results, i, one) {
		bool ok = json_is_true(json_object_get(one, "success"));
		size_t w;

		buf_clear(&line);
		buf_printf(&line, "%s  ", ok ? "PASS" : "FAIL");
		put_what(&line, json_object_get(one, "expectation_config"));
		w = line.len;
		buf_putc(&line, ' ');
		while (line.len < WHAT_WIDTH + 6 && w < WHAT_WIDTH + 6)
			buf_putc(&line, ' ');
		buf_putc(&line, ' ');
		put_observed(&line, one, ok);
		printf("%s\n", line.err ? "(out of memory)" : line.ptr);
	}
	buf_release(&line);
	printf("%s: %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " expectations passed\n",
	       json_is_true(json_object_get(result, "success")) ? "PASSED" : "FAILED",
	       json_integer_value(json_object_get(st, "successful_expectations")),
	       json_integer_value(json_object_get(st, "evaluated_expectations")));
}

/* ---- the command ---- */

static int suggest(const char *data, const struct profile_options *po, const char *name, const char *out, bool json)
{
	json_t *prof = NULL, *suite = NULL;
	struct buf b = BUF_INIT;
	const char *base = strrchr(data, '/');
	int rc;

	if ((rc = profile_file(data, po, &prof)))
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	rc = validate_suggest(prof, name ? name : base ? base + 1 : data, &suite);
	json_decref(prof);
	if (rc)
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	if (json)
		rc = write_json(out, suite);
	else if (!(rc = cyaml_dump(suite, &b)))
		rc = write_out(out, b.ptr, b.len);
	buf_release(&b);
	json_decref(suite);
	if (rc)
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	return 0;
}

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "delimiter", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "suggest", no_argument, NULL, 'S' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct validate_options vo = { 0 };
	struct profile_options po = { 0 };
	const char *suite_path = NULL, *out = NULL, *name = NULL, *data;
	bool json = false, quiet = false, want_suggest = false;
	struct vsuite *suite = NULL;
	struct buf text = BUF_INIT;
	json_t *result = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:d:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': suite_path = optarg; break;
		case 'o': out = optarg; break;
		case 'd':
			if (!strcmp(optarg, "tab") || !strcmp(optarg, "\\t"))
				vo.delim = '\t';
			else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n' && optarg[0] != '\r')
				vo.delim = optarg[0];
			else
				return fail2("the delimiter is one character (or 'tab'), not '%s'", optarg);
			break;
		case 'j': json = true; break;
		case 'q': quiet = true; break;
		case 'S': want_suggest = true; break;
		case 'n': name = optarg; break;
		case 'h': validate_usage(stdout); return 0;
		default: validate_usage(stderr); return 2;
		}
	}
	if (argc - optind != 1)
		return fail2("one data file is expected%s", " (see cairn validate --help)");
	data = argv[optind];
	if (!vo.delim && ends_with(data, ".tsv"))
		vo.delim = '\t';
	po.delim = vo.delim;
	if (want_suggest) {
		if (suite_path)
			return fail2("--suggest drafts a suite: it takes no --suite%s", "");
		return suggest(data, &po, name, out, json);
	}
	if (!suite_path)
		return fail2("--suite FILE is required (or --suggest to draft one)%s", "");
	if ((rc = fs_read_file(suite_path, SUITE_MAX, &text)))
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	rc = validate_suite_parse(text.ptr, text.len, suite_path, &suite);
	buf_release(&text);
	if (rc)
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	rc = validate_file(suite, data, &vo, &result);
	validate_suite_free(suite);
	if (rc)
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	if (out && (rc = write_json(out, result))) {
		json_decref(result);
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	}
	if (json && !quiet)
		rc = write_json(NULL, result);
	else if (!quiet)
		print_table(result, data);
	c = json_is_true(json_object_get(result, "success")) ? 0 : 1;
	json_decref(result);
	if (rc)
		return fprintf(stderr, "cairn validate: %s\n", cairn_error_msg()), 2;
	return c;
}
