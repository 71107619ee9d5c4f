/* Unit tests for stats/validate: the suite parser's errors, each expectation passing and failing,
 * mostly, the result's shape, bad tables, suggestions that pass on their own data, and every
 * allocation failed in turn. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "stats/profile.h"
#include "stats/validate.h"

static struct vsuite *parse_ok(const char *yaml)
{
	struct vsuite *s = NULL;
	int rc = validate_suite_parse(yaml, strlen(yaml), "t.yaml", &s);

	cr_assert_eq(rc, 0, "suite refused: %s\n%s", cairn_error_msg(), yaml);
	return s;
}

/* the parse fails with a message holding want */
static void parse_bad(const char *yaml, const char *want)
{
	struct vsuite *s = NULL;
	int rc = validate_suite_parse(yaml, strlen(yaml), "t.yaml", &s);

	cr_assert_eq(rc, CAIRN_EINVALID, "accepted (rc %d):\n%s", rc, yaml);
	cr_assert_null(s);
	cr_assert(strstr(cairn_error_msg(), want), "message '%s' lacks '%s'", cairn_error_msg(), want);
}

static json_t *run(const char *yaml, const char *csv)
{
	struct vsuite *s = parse_ok(yaml);
	struct validate_options o = { .name = "t.csv" };
	json_t *r = NULL;
	int rc = validate_buffer(s, csv, strlen(csv), &o, &r);

	validate_suite_free(s);
	cr_assert_eq(rc, 0, "validation failed: %s", cairn_error_msg());
	cr_assert_not_null(r);
	return r;
}

static json_t *result_at(json_t *r, size_t i)
{
	json_t *one = json_array_get(json_object_get(r, "results"), i);

	cr_assert_not_null(one, "no result %zu", i);
	return one;
}

static bool success_at(json_t *r, size_t i)
{
	return json_is_true(json_object_get(result_at(r, i), "success"));
}

static json_int_t rint_at(json_t *r, size_t i, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(result_at(r, i), "result"), k));
}

/* one expectation on csv: its success */
static bool check1(const char *exp, const char *csv)
{
	char yaml[2048];
	json_t *r;
	bool ok;

	snprintf(yaml, sizeof(yaml), "expectations:\n  - %s\n", exp);
	r = run(yaml, csv);
	ok = success_at(r, 0);
	json_decref(r);
	return ok;
}

#define PASS(exp, csv) cr_expect(check1(exp, csv), "should pass: %s", exp)
#define FAIL(exp, csv) cr_expect(!check1(exp, csv), "should fail: %s", exp)

static const char *T = "id,x,name,when,flag\n"
		       "1,1.5,ann,2024-01-01,true\n"
		       "2,2.5,bob,2024-02-01,false\n"
		       "3,,cy,2024-03-01T12:00:00Z,true\n"
		       "4,4.5,dee,2024-04-01,false\n";

Test(stats_validate, parse_errors_name_line_and_expectation)
{
	parse_bad("expectations:\n  - {type: nope, column: a}\n", "t.yaml:2: expectation 1 (nope): unknown expectation type");
	parse_bad("expectations:\n  - type: not_null\n    column: a\n  - type: between\n    column: a\n    min_value: 5\n"
		  "    max_value: 1\n", "t.yaml:6: expectation 2 (between): min_value (5) is greater than max_value (1)");
	parse_bad("expectations:\n  - type: not_null\n    colum: a\n", "t.yaml:3: expectation 1 (not_null): unknown key 'colum'");
	parse_bad("expectations:\n  - type: between\n    min_value: 1\n", "expectation 1 (between): column is required");
	parse_bad("expectations:\n  - type: mean_between\n    column: a\n    min_value: 1\n    mostly: 0.5\n",
		  "t.yaml:5: expectation 1 (mean_between): mostly applies to row-wise expectations only");
	parse_bad("expectations:\n  - type: expect_column_mean_to_be_between\n    kwargs: {column: a, min_value: 1, mostly: 0.5}\n",
		  "mostly applies to row-wise expectations only");
	parse_bad("expectations:\n  - {type: match_regex, column: a, regex: '(['}\n", "is not a POSIX extended regular expression");
	parse_bad("expectations:\n  - {type: match_regex, column: a}\n", "regex is required");
	parse_bad("expectations:\n  - {type: not_null, column: a, mostly: 1.5}\n", "mostly is a number from 0 to 1");
	parse_bad("expectations:\n  - {type: between, column: a}\n", "min_value or max_value is required");
	parse_bad("expectations:\n  - {type: between, column: a, min_value: abc}\n", "min_value is a number or an ISO 8601");
	parse_bad("expectations:\n  - {type: between, column: a, min_value: 1, max_value: '2024-01-01'}\n",
		  "both numbers or both datetimes");
	parse_bad("expectations:\n  - {type: in_set, column: a, value_set: x}\n", "value_set is a list");
	parse_bad("expectations:\n  - {type: in_set, column: a}\n", "value_set is required");
	parse_bad("expectations:\n  - {type: in_set, column: a, value_set: [1, [2]]}\n", "value_set[1] is not");
	parse_bad("expectations:\n  - {type: type, column: a, type_: integr}\n", "'integr' is not a type");
	parse_bad("expectations:\n  - {type: in_type_list, column: a, type_list: []}\n", "type_list is a list");
	parse_bad("expectations:\n  - {type: quantile_between, column: a}\n", "quantile (with min_value/max_value) or quantile_ranges");
	parse_bad("expectations:\n  - {type: quantile_between, column: a, quantile: 2, min_value: 1}\n", "quantile is a number from 0 to 1");
	parse_bad("expectations:\n  - type: quantile_between\n    column: a\n    quantile_ranges: {quantiles: [0.5], value_ranges: []}\n",
		  "one range per quantile");
	parse_bad("expectations:\n  - type: quantile_between\n    column: a\n    quantile_ranges: {quantiles: [0.5], value_ranges: [[3, 1]]}\n",
		  "min 3 is greater than max 1");
	parse_bad("expectations:\n  - {type: row_count_equal}\n", "value is required");
	parse_bad("expectations:\n  - {type: row_count_equal, value: -1}\n", "value is a whole number");
	parse_bad("expectations:\n  - {type: columns_equal_set, column_set: [a, 1]}\n", "column_set[1] is not a column name");
	parse_bad("expectations:\n  - {type: not_null, expectation_type: not_null, column: a}\n", "not both");
	parse_bad("expectations:\n  - {column: a}\n", "type is required");
	parse_bad("expectations:\n  - just a string\n", "an expectation is a mapping");
	parse_bad("expectations:\n  - type: not_null\n    column: a\n    kwargs: {column: a}\n", "given twice");
	parse_bad("name: x\n", "expectations (a list) is required");
	parse_bad("name: x\nexpectations: []\nextra: 1\n", "t.yaml:3: unknown key 'extra'");
	parse_bad("- a\n- b\n", "a suite is a mapping");
	parse_bad("expectations: [a: b\n", "t.yaml: line");
	parse_bad("{\"expectations\": [{\"type\": \"unique\", \"kwargs\": {\"column\": \"a\", \"x\": 1}}]}",
		  "unknown key 'x' in kwargs");
}

Test(stats_validate, suite_forms)
{
	struct vsuite *s;

	/* flat short names, GX kwargs, GX 0.x expectation_type and suite name, JSON with tabs */
	s = parse_ok("name: s1\nexpectations:\n  - {type: not_null, column: a, mostly: 0.5, meta: {why: x}}\n"
		     "  - type: expect_column_values_to_be_between\n    kwargs: {column: a, min_value: 0}\n"
		     "    meta: {notes: y}\n  - {type: stdev_between, column: a, max_value: 3, result_format: BASIC}\n");
	cr_assert_str_eq(validate_suite_name(s), "s1");
	cr_assert_eq(validate_suite_size(s), 3);
	validate_suite_free(s);
	s = parse_ok("{\"expectation_suite_name\": \"s2\",\t\"expectations\": [\n\t{\"expectation_type\": "
		     "\"expect_table_row_count_to_equal\", \"kwargs\": {\"value\": 3}}]}");
	cr_assert_str_eq(validate_suite_name(s), "s2");
	validate_suite_free(s);
	s = parse_ok("expectations: []\n");
	cr_assert_str_eq(validate_suite_name(s), "");
	validate_suite_free(s);
	cr_assert_str_eq(validate_short_name("expect_column_values_to_be_unique"), "unique");
	cr_assert_str_eq(validate_short_name("stdev_between"), "std_between");
	cr_assert_null(validate_short_name("expect_nothing"));
}

Test(stats_validate, row_wise_expectations)
{
	PASS("{type: not_null, column: id}", T);
	FAIL("{type: not_null, column: x}", T);
	PASS("{type: not_null, column: x, mostly: 0.75}", T);
	FAIL("{type: not_null, column: x, mostly: 0.76}", T);
	FAIL("{type: is_null, column: x}", T);
	PASS("{type: 'null', column: x, mostly: 0.25}", T);
	PASS("{type: unique, column: id}", T);
	FAIL("{type: unique, column: flag}", T);
	PASS("{type: unique, column: x}", T);   /* nulls are not values */
	PASS("{type: between, column: x, min_value: 1.5, max_value: 4.5}", T);
	FAIL("{type: between, column: x, min_value: 1.5, max_value: 4.5, strict_min: true}", T);
	FAIL("{type: between, column: x, min_value: 1.5, max_value: 4.5, strict_max: true}", T);
	PASS("{type: between, column: x, min_value: 1.5, max_value: 4.5, strict_max: true, mostly: 0.6}", T);
	FAIL("{type: between, column: name, min_value: 0}", T);   /* text is outside every range */
	PASS("{type: between, column: when, min_value: '2024-01-01', max_value: '2024-04-01T00:00:00Z'}", T);
	FAIL("{type: between, column: when, min_value: '2024-01-02'}", T);
	FAIL("{type: between, column: id, min_value: '2000-01-01'}", T);   /* numbers are not datetimes */
	PASS("{type: in_set, column: name, value_set: [ann, bob, cy, dee, eve]}", T);
	FAIL("{type: in_set, column: name, value_set: [ann, bob]}", T);
	PASS("{type: in_set, column: name, value_set: [ann, bob], mostly: 0.5}", T);
	PASS("{type: in_set, column: id, value_set: [1.0, 2, '3', 4e0]}", T);   /* numbers by value */
	PASS("{type: in_set, column: flag, value_set: [true, false]}", T);
	PASS("{type: not_in_set, column: name, value_set: [zed]}", T);
	FAIL("{type: not_in_set, column: name, value_set: [cy]}", T);
	PASS("{type: match_regex, column: name, regex: '^[a-z]{2,3}$'}", T);
	FAIL("{type: match_regex, column: name, regex: '^[a-z]{3}$'}", T);
	PASS("{type: match_regex, column: name, regex: 'n|o', mostly: 0.5}", T);   /* searched, not anchored */
	PASS("{type: not_match_regex, column: name, regex: '[0-9]'}", T);
	FAIL("{type: not_match_regex, column: name, regex: '^a'}", T);
	PASS("{type: type, column: id, type_: integer}", T);
	PASS("{type: type, column: id, type_: float64}", T);   /* integers are floats too */
	FAIL("{type: type, column: x, type_: int}", T);
	PASS("{type: type, column: x, type_: float}", T);
	PASS("{type: type, column: when, type_: datetime}", T);
	PASS("{type: type, column: flag, type_: bool}", T);
	FAIL("{type: type, column: name, type_: integer}", T);
	PASS("{type: type, column: name, type_: str}", T);
	PASS("{type: in_type_list, column: id, type_list: [bool, int]}", T);
	FAIL("{type: in_type_list, column: name, type_list: [bool, int]}", T);
	PASS("{type: value_lengths_between, column: name, min_value: 2, max_value: 3}", T);
	FAIL("{type: value_lengths_between, column: name, min_value: 3}", T);
	PASS("{type: value_lengths_between, column: u, max_value: 2}", "u\n\xc3\xa9\xc3\xa9\n");   /* characters, not bytes */
}

Test(stats_validate, aggregate_and_table_expectations)
{
	PASS("{type: mean_between, column: x, min_value: 2.83, max_value: 2.84}", T);   /* 8.5 / 3 */
	FAIL("{type: mean_between, column: x, min_value: 3}", T);
	PASS("{type: std_between, column: id, min_value: 1.29, max_value: 1.30}", T);  /* sample std of 1..4 */
	FAIL("{type: std_between, column: id, max_value: 1}", T);
	PASS("{type: median_between, column: id, min_value: 2.5, max_value: 2.5}", T);
	FAIL("{type: median_between, column: id, min_value: 2.6}", T);
	PASS("{type: quantile_between, column: id, quantile: 0.25, min_value: 1.75, max_value: 1.75}", T);
	PASS("{type: quantile_between, column: id, quantile_ranges: {quantiles: [0, 1], value_ranges: [[1, 1], [4, null]]}}", T);
	FAIL("{type: quantile_between, column: id, quantile_ranges: {quantiles: [0, 1], value_ranges: [[1, 1], [null, 3]]}}", T);
	PASS("{type: sum_between, column: id, min_value: 10, max_value: 10}", T);
	FAIL("{type: sum_between, column: id, max_value: 9}", T);
	PASS("{type: min_between, column: x, min_value: 1.5, max_value: 1.5}", T);
	FAIL("{type: min_between, column: x, min_value: 1.5, strict_min: true}", T);
	PASS("{type: max_between, column: x, min_value: 4.5, max_value: 4.5}", T);
	PASS("{type: max_between, column: when, min_value: '2024-04-01', max_value: '2024-04-01'}", T);
	FAIL("{type: max_between, column: id, min_value: '2024-04-01'}", T);
	PASS("{type: unique_value_count_between, column: flag, min_value: 2, max_value: 2}", T);
	FAIL("{type: unique_value_count_between, column: name, max_value: 3}", T);
	FAIL("{type: mean_between, column: name, min_value: 0}", T);   /* text: no mean */
	PASS("{type: row_count_between, min_value: 4, max_value: 4}", T);
	FAIL("{type: row_count_between, min_value: 4, strict_min: true}", T);
	PASS("{type: row_count_equal, value: 4}", T);
	FAIL("{type: row_count_equal, value: 5}", T);
	PASS("{type: column_count_equal, value: 5}", T);
	FAIL("{type: column_count_equal, value: 4}", T);
	PASS("{type: columns_equal_set, column_set: [flag, when, name, x, id]}", T);
	FAIL("{type: columns_equal_set, column_set: [flag, when, name, x]}", T);
	PASS("{type: columns_equal_set, column_set: [flag, when], exact_match: false}", T);
	FAIL("{type: columns_equal_set, column_set: [flag, nope], exact_match: false}", T);
	PASS("{type: columns_match_ordered_list, column_list: [id, x, name, when, flag]}", T);
	FAIL("{type: columns_match_ordered_list, column_list: [x, id, name, when, flag]}", T);
	FAIL("{type: columns_match_ordered_list, column_list: [id, x, name, when]}", T);
	PASS("{type: column_exists, column: name}", T);
	PASS("{type: column_exists, column: name, column_index: 2}", T);
	FAIL("{type: column_exists, column: name, column_index: 1}", T);
	FAIL("{type: column_exists, column: nope}", T);
}

Test(stats_validate, result_shape_like_gx)
{
	json_t *r = run("name: shape\nexpectations:\n  - {type: not_null, column: x, meta: {owner: me}}\n"
			"  - {type: between, column: x, max_value: 2}\n  - {type: mean_between, column: x, min_value: 0}\n"
			"  - {type: between, column: nope, min_value: 0}\n", T);
	json_t *st = json_object_get(r, "statistics"), *one, *res, *cfg;

	cr_assert(json_is_false(json_object_get(r, "success")));
	cr_assert_str_eq(json_string_value(json_object_get(r, "suite_name")), "shape");
	cr_assert_eq(json_integer_value(json_object_get(st, "evaluated_expectations")), 4);
	cr_assert_eq(json_integer_value(json_object_get(st, "successful_expectations")), 1);
	cr_assert_eq(json_integer_value(json_object_get(st, "unsuccessful_expectations")), 3);
	cr_assert_float_eq(json_real_value(json_object_get(st, "success_percent")), 25.0, 1e-12);
	/* not_null: the null row, by index from 0 and by line */
	one = result_at(r, 0);
	cfg = json_object_get(one, "expectation_config");
	cr_assert_str_eq(json_string_value(json_object_get(cfg, "type")), "expect_column_values_to_not_be_null");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "kwargs"), "column")), "x");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "meta"), "owner")), "me");
	res = json_object_get(one, "result");
	cr_assert_eq(rint_at(r, 0, "element_count"), 4);
	cr_assert_eq(rint_at(r, 0, "unexpected_count"), 1);
	cr_assert_float_eq(json_real_value(json_object_get(res, "unexpected_percent")), 25.0, 1e-12);
	cr_assert(json_is_null(json_array_get(json_object_get(res, "partial_unexpected_list"), 0)));
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "partial_unexpected_index_list"), 0)), 2);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "partial_unexpected_line_list"), 0)), 4);
	/* between: 2 of 3 non-missing values are over 2 */
	res = json_object_get(result_at(r, 1), "result");
	cr_assert_eq(rint_at(r, 1, "missing_count"), 1);
	cr_assert_eq(rint_at(r, 1, "unexpected_count"), 2);
	cr_assert_float_eq(json_real_value(json_object_get(res, "unexpected_percent")), 200.0 / 3, 1e-12);
	cr_assert_float_eq(json_real_value(json_object_get(res, "unexpected_percent_total")), 50.0, 1e-12);
	cr_assert_float_eq(json_real_value(json_object_get(res, "missing_percent")), 25.0, 1e-12);
	cr_assert_float_eq(json_real_value(json_array_get(json_object_get(res, "partial_unexpected_list"), 0)), 2.5, 0);
	/* an aggregate's observed value */
	cr_assert_float_eq(json_real_value(json_object_get(json_object_get(result_at(r, 2), "result"), "observed_value")),
			   8.5 / 3, 1e-12);
	/* a column the data lacks fails that expectation, with a message */
	one = result_at(r, 3);
	cr_assert(json_is_false(json_object_get(one, "success")));
	cr_assert(json_is_true(json_object_get(json_object_get(one, "exception_info"), "raised_exception")));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(one, "exception_info"), "exception_message")),
			 "column 'nope' is not in the data");
	json_decref(r);
}

Test(stats_validate, partial_lists_hold_twenty_and_unique_lists_every_copy)
{
	char csv[4096];
	size_t n = snprintf(csv, sizeof(csv), "v\n");
	json_t *r, *res;

	for (int i = 0; i < 50; i++)
		n += snprintf(csv + n, sizeof(csv) - n, "%d\n", i < 30 ? -i : i % 3);
	r = run("expectations:\n  - {type: between, column: v, min_value: 0}\n  - {type: unique, column: v}\n", csv);
	res = json_object_get(result_at(r, 0), "result");
	cr_assert_eq(rint_at(r, 0, "unexpected_count"), 29);   /* -1 .. -29 */
	cr_assert_eq(json_array_size(json_object_get(res, "partial_unexpected_list")), VALIDATE_PARTIAL_MAX);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "partial_unexpected_index_list"), 0)), 1);
	/* 0 appears at rows 0, 30, 33, ...; 1 and 2 repeat too: every copy is unexpected */
	cr_assert_eq(rint_at(r, 1, "unexpected_count"), 21);
	res = json_object_get(result_at(r, 1), "result");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(res, "partial_unexpected_index_list"), 0)), 0);
	json_decref(r);
}

Test(stats_validate, nan_and_inf)
{
	const char *csv = "a\n1\nnan\ninf\n-inf\nNaN\n2\n";

	FAIL("{type: between, column: a, min_value: 0, max_value: 10}", csv);
	PASS("{type: between, column: a, min_value: 0, max_value: 10, mostly: 0.3}", csv);
	FAIL("{type: between, column: a, min_value: 0, max_value: 10, mostly: 0.34}", csv);
	PASS("{type: between, column: a, min_value: -.inf, max_value: .inf, mostly: 0.66}", csv);   /* inf within, NaN never */
	FAIL("{type: between, column: a, min_value: -.inf, max_value: .inf, mostly: 0.67}", csv);
	PASS("{type: mean_between, column: a, min_value: 1.5, max_value: 1.5}", csv);   /* finite values only */
	PASS("{type: max_between, column: a, max_value: 2}", csv);
	FAIL("{type: unique, column: a}", csv);   /* NaN equals NaN */
	PASS("{type: in_set, column: a, value_set: [1, 2, .nan, .inf, -.inf]}", csv);
	PASS("{type: type, column: a, type_: float}", csv);
	FAIL("{type: type, column: a, type_: integer}", csv);
	PASS("{type: not_null, column: a}", csv);
}

Test(stats_validate, bad_tables)
{
	struct vsuite *s = parse_ok("expectations:\n  - {type: not_null, column: a}\n");
	json_t *r = NULL;

	cr_assert_eq(validate_buffer(s, "a,b\n1,2\n3\n", 10, NULL, &r), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "line 3 has 1 fields, the header has 2"), "%s", cairn_error_msg());
	cr_assert_null(r);
	cr_assert_eq(validate_buffer(s, "a\n\xff\xfe\n", 6, NULL, &r), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "not valid UTF-8"), "%s", cairn_error_msg());
	cr_assert_eq(validate_buffer(s, "", 0, NULL, &r), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "is empty: a header row is expected"), "%s", cairn_error_msg());
	cr_assert_eq(validate_buffer(s, "a,a\n1,2\n", 8, NULL, &r), CAIRN_EINVALID);
	cr_assert_eq(validate_buffer(s, "a\n\"open\n", 8, NULL, &r), CAIRN_EINVALID);
	cr_assert_eq(validate_file(s, "/nonexistent/t.csv", NULL, &r), CAIRN_ENOTFOUND);
	validate_suite_free(s);
	/* a header alone: row-wise expectations hold, aggregates have nothing to observe */
	r = run("expectations:\n  - {type: not_null, column: a}\n  - {type: mean_between, column: a, min_value: 0}\n"
		"  - {type: row_count_between, min_value: 1}\n", "a\n");
	cr_assert(success_at(r, 0));
	cr_assert(!success_at(r, 1));
	cr_assert(!success_at(r, 2));
	json_decref(r);
	/* quoted fields with line breaks: lines are where records start */
	r = run("expectations:\n  - {type: not_null, column: b}\n", "a,b\n\"x\ny\",1\nz,\n");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(json_object_get(result_at(r, 0), "result"),
								       "partial_unexpected_line_list"), 0)), 4);
	json_decref(r);
}

static json_t *suggest_of(const char *csv)
{
	json_t *prof = NULL, *suite = NULL;

	cr_assert_eq(profile_buffer(csv, strlen(csv), NULL, &prof), 0, "%s", cairn_error_msg());
	cr_assert_eq(validate_suggest(prof, "t", &suite), 0, "%s", cairn_error_msg());
	json_decref(prof);
	return suite;
}

Test(stats_validate, suggestions_pass_on_their_data)
{
	const char *csv = "id,x,color,flag,when,mixed,none\n"
			  "1,0.1,red,true,2024-01-01,a,\n"
			  "2,nan,blue,false,2024-01-02,1,\n"
			  "3,0.3,red,true,2024-01-03,b,\n"
			  "4,inf,green,false,2024-01-04,2.5,\n";
	json_t *suite = suggest_of(csv), *r = NULL, *e;
	char *text = json_dumps(suite, 0);
	struct vsuite *s = NULL;
	bool has_in_set = false, has_mostly = false;
	size_t i;

	json_array_foreach(json_object_get(suite, "expectations"), i, e) {
		has_in_set |= !strcmp(json_string_value(json_object_get(e, "type")), "in_set");
		has_mostly |= json_object_get(e, "mostly") != NULL;
	}
	cr_assert(has_in_set && has_mostly, "%s", text);
	cr_assert_eq(validate_suite_parse(text, strlen(text), "suggested", &s), 0, "%s", cairn_error_msg());
	cr_assert_eq(validate_buffer(s, csv, strlen(csv), NULL, &r), 0, "%s", cairn_error_msg());
	cr_assert(json_is_true(json_object_get(r, "success")), "%s", json_dumps(r, JSON_INDENT(1)));
	json_decref(r);
	validate_suite_free(s);
	free(text);
	json_decref(suite);
}

/* the anchor fixtures: a suite drafted from reference.csv passes on it; with not_null mostly 0.9,
 * current_d_nulls.csv (20 % nulls in f_uniform) fails */
Test(stats_validate, anchor_fixtures)
{
	const char *ref = "../shared/anchors/monitoring/fixtures/10k/reference.csv";
	const char *nulls = "../shared/anchors/monitoring/fixtures/10k/current_d_nulls.csv";
	json_t *prof = NULL, *suite = NULL, *r = NULL;
	struct vsuite *s = NULL;
	char *text;

	cr_assert_eq(profile_file(ref, NULL, &prof), 0, "%s", cairn_error_msg());
	cr_assert_eq(validate_suggest(prof, "ref", &suite), 0);
	text = json_dumps(suite, 0);
	cr_assert_eq(validate_suite_parse(text, strlen(text), "suggested", &s), 0, "%s", cairn_error_msg());
	cr_assert_eq(validate_file(s, ref, NULL, &r), 0, "%s", cairn_error_msg());
	cr_assert(json_is_true(json_object_get(r, "success")));
	json_decref(r);
	validate_suite_free(s);
	free(text);
	json_decref(suite);
	json_decref(prof);

	s = parse_ok("expectations:\n  - {type: not_null, column: f_uniform, mostly: 0.9}\n");
	cr_assert_eq(validate_file(s, ref, NULL, &r), 0);
	cr_assert(json_is_true(json_object_get(r, "success")));
	json_decref(r);
	cr_assert_eq(validate_file(s, nulls, NULL, &r), 0);
	cr_assert(json_is_false(json_object_get(r, "success")));
	cr_assert_gt(rint_at(r, 0, "unexpected_count"), 1500);
	json_decref(r);
	validate_suite_free(s);
}

/* Every allocation of a parse and a validation failed in turn: CAIRN_ENOMEM or success, never a
 * swallowed failure (ASan checks that nothing leaks). */
Test(stats_validate, allocation_failures)
{
	static const char suite[] =
		"name: f\nexpectations:\n  - {type: not_null, column: x, mostly: 0.5}\n  - {type: unique, column: id}\n"
		"  - {type: in_set, column: name, value_set: [ann, bob]}\n  - {type: between, column: x, min_value: 2}\n"
		"  - {type: mean_between, column: x, min_value: 0}\n"
		"  - {type: quantile_between, column: id, quantile_ranges: {quantiles: [0.5], value_ranges: [[0, 9]]}}\n"
		"  - {type: median_between, column: id, min_value: 0}\n"
		"  - {type: columns_equal_set, column_set: [id, x]}\n  - {type: columns_match_ordered_list, column_list: [x]}\n"
		"  - {type: column_exists, column: id, column_index: 0}\n  - {type: between, column: nope, min_value: 0}\n";
	uint64_t calls = 0;

	for (uint64_t nth = 1;; nth++) {
		struct vsuite *s = NULL;
		json_t *r = NULL, *prof = NULL, *sg = NULL;
		int rc;
		uint64_t injected;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = validate_suite_parse(suite, strlen(suite), "f.yaml", &s);
		if (!rc)
			rc = validate_buffer(s, T, strlen(T), NULL, &r);
		if (!rc)
			rc = profile_buffer(T, strlen(T), NULL, &prof);
		if (!rc)
			rc = validate_suggest(prof, "f", &sg);
		calls = fault_calls();
		injected = fault_injected();
		fault_disarm();
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "nth %llu: rc %d %s", (unsigned long long)nth, rc, cairn_error_msg());
		cr_assert(rc != 0 || injected == 0, "nth %llu: a failure was swallowed", (unsigned long long)nth);
		cr_assert(rc != 0 || (r && sg));
		validate_suite_free(s);
		json_decref(r);
		json_decref(prof);
		json_decref(sg);
		if (!rc && nth > calls)
			break;
	}
	cr_assert_gt(calls, 50);
}

/* found by fuzz_suite: a text column's value table misses a NaN read before the first text, so
 * no in_set is suggested from it */
Test(stats_validate, suggestion_skips_an_incomplete_value_table)
{
	const char *csv = "a,b\n2,y\nnan,x\nabc,z\n";
	json_t *suite = suggest_of(csv), *e, *r = NULL;
	char *text = json_dumps(suite, 0);
	struct vsuite *s = NULL;
	size_t i;

	json_array_foreach(json_object_get(suite, "expectations"), i, e)
		cr_assert(strcmp(json_string_value(json_object_get(e, "type")), "in_set") ||
			  strcmp(json_string_value(json_object_get(e, "column")), "a"), "%s", text);
	cr_assert_eq(validate_suite_parse(text, strlen(text), "suggested", &s), 0);
	cr_assert_eq(validate_buffer(s, csv, strlen(csv), NULL, &r), 0);
	cr_assert(json_is_true(json_object_get(r, "success")));
	json_decref(r);
	validate_suite_free(s);
	free(text);
	json_decref(suite);
}
