/* fuzz_suite.c - libFuzzer target: the expectation-suite parser, the evaluator and --suggest.
 *
 * The input is a suite, optionally followed by a NUL byte and a CSV table (else a
 * built-in one is used). Any input: no crash, no sanitizer report. An accepted suite
 * evaluates to a result with one entry per expectation whose statistics add up. A
 * table that profiles yields a suggested suite that parses and passes on that table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stats/profile.h"
#include "stats/validate.h"

static const char table[] = "id,x,name,when,flag\n1,1.5,ann,2024-01-01,true\n2,,bob,2024-02-01,false\n"
			    "3,nan,ann,2024-03-01T12:00:00Z,true\n4,-inf,\"d,e\",2024-04-01,false\n";

static void check_result(const struct vsuite *s, const json_t *r)
{
	json_t *st = json_object_get(r, "statistics"), *res = json_object_get(r, "results");
	json_int_t good = json_integer_value(json_object_get(st, "successful_expectations"));
	json_int_t bad = json_integer_value(json_object_get(st, "unsuccessful_expectations"));

	if (json_array_size(res) != validate_suite_size(s) || good + bad != (json_int_t)validate_suite_size(s) ||
	    json_is_true(json_object_get(r, "success")) != (bad == 0))
		abort();
}

static void check_suggest(const char *csv, size_t n)
{
	json_t *prof = NULL, *suite = NULL, *r = NULL;
	struct vsuite *s = NULL;
	char *text;

	if (profile_buffer(csv, n, NULL, &prof))
		return;
	if (validate_suggest(prof, "fuzz", &suite)) {
		fprintf(stderr, "suggest failed: %s\n", cairn_error_msg());
		abort();
	}
	text = json_dumps(suite, 0);
	if (!text || validate_suite_parse(text, strlen(text), "suggested", &s)) {
		fprintf(stderr, "suggested suite refused: %s\n%s\n", cairn_error_msg(), text ? text : "");
		abort();
	}
	if (validate_buffer(s, csv, n, NULL, &r) || !json_is_true(json_object_get(r, "success"))) {
		char *dump = r ? json_dumps(r, JSON_INDENT(1)) : NULL;

		fprintf(stderr, "suggested suite fails on its data: %s\n%s\n%s\n", cairn_error_msg(), text,
			dump ? dump : "");
		abort();
	}
	check_result(s, r);
	json_decref(r);
	validate_suite_free(s);
	free(text);
	json_decref(suite);
	json_decref(prof);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *in = (const char *)data, *csv = table;
	const char *nul = memchr(in, '\0', size);
	size_t slen = nul ? (size_t)(nul - in) : size, clen = strlen(table);
	struct vsuite *s = NULL;
	json_t *r = NULL;

	if (nul) {
		csv = nul + 1;
		clen = size - slen - 1;
	}
	if (validate_suite_parse(in, slen, "fuzz.yaml", &s) == 0) {
		if (validate_buffer(s, csv, clen, NULL, &r) == 0)
			check_result(s, r);
		else if (r)
			abort();
		json_decref(r);
		validate_suite_free(s);
	} else if (s) {
		abort();
	}
	if (nul)
		check_suggest(csv, clen);
	return 0;
}
