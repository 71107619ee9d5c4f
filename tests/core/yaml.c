/* Unit tests for core/yaml: core-schema resolution, aliases and their limits, errors, dump round trips. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"
#include "core/yaml.h"

static json_t *parse_ok(const char *s)
{
	json_t *v = NULL;
	int rc = cyaml_parse(s, strlen(s), &v);

	cr_assert_eq(rc, 0, "parse failed: %s\n--- input:\n%s", cairn_error_msg(), s);
	cr_assert_not_null(v);
	return v;
}

static int parse_err(const char *s)
{
	json_t *v = (json_t *)0x1;
	int rc = cyaml_parse(s, strlen(s), &v);

	cr_assert_neq(rc, 0, "expected an error for:\n%s", s);
	cr_assert_null(v, "*out is NULL on error");
	return rc;
}

/* Parse YAML and compare with the JSON text `want`. */
static void expect_json(const char *yaml, const char *want)
{
	json_t *v = parse_ok(yaml), *w = json_loads(want, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(w, "bad test JSON %s", want);
	if (!json_equal(v, w)) {
		char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		cr_assert_fail("yaml:\n%s\ngot:  %s\nwant: %s", yaml, got, want);
	}
	json_decref(v);
	json_decref(w);
}

static char *dump(const json_t *v)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(cyaml_dump(v, &b), 0, "%s", cairn_error_msg());
	return buf_detach(&b);
}

static void round_trip(const char *json)
{
	json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *back;
	char *y;

	cr_assert_not_null(v, "bad test JSON %s", json);
	y = dump(v);
	back = parse_ok(y);
	cr_assert(json_equal(v, back), "round trip of %s through\n%s", json, y);
	free(y);
	json_decref(v);
	json_decref(back);
}

Test(yaml, mappings_sequences_and_order)
{
	json_t *v = parse_ok("b: 1\na:\n  - x\n  - y: 2\nc: {k: v, j: [1, 2]}\n");
	const char *keys[3];
	const char *k;
	json_t *val;
	int i = 0;

	json_object_foreach(v, k, val)
		keys[i++] = k;
	cr_assert_eq(i, 3);
	cr_assert_str_eq(keys[0], "b", "document order is kept");
	cr_assert_str_eq(keys[1], "a");
	cr_assert_str_eq(keys[2], "c");
	json_decref(v);
	expect_json("b: 1\na:\n  - x\n  - y: 2\nc: {k: v, j: [1, 2]}\n",
		    "{\"b\":1,\"a\":[\"x\",{\"y\":2}],\"c\":{\"k\":\"v\",\"j\":[1,2]}}");
	expect_json("- - 1\n  - 2\n- []\n- {}\n", "[[1,2],[],{}]");
}

Test(yaml, core_schema_scalars)
{
	expect_json("[null, Null, NULL, ~, ]", "[null,null,null,null]");
	expect_json("a:\nb: ~\n", "{\"a\":null,\"b\":null}");
	expect_json("[true, True, TRUE, false, False, FALSE]", "[true,true,true,false,false,false]");
	expect_json("[yes, no, on, off, y, tRUE]", "[\"yes\",\"no\",\"on\",\"off\",\"y\",\"tRUE\"]");
	expect_json("[0, -7, +12, 007, 0x1F, 0xff, 0o17, 9223372036854775807]",
		    "[0,-7,12,7,31,255,15,9223372036854775807]");
	expect_json("[1.5, -2e3, .5, 1., 6.02E+23, 1e-3]", "[1.5,-2000.0,0.5,1.0,6.02e23,0.001]");
	expect_json("[0b101, 1_000, 1:20, 0x, 0o8, 1e, .e1, 2024-01-02, 3.5.2, 1.2.3e4]",
		    "[\"0b101\",\"1_000\",\"1:20\",\"0x\",\"0o8\",\"1e\",\".e1\",\"2024-01-02\",\"3.5.2\",\"1.2.3e4\"]");
	expect_json("['1', \"true\", 'null', '', \"~\"]", "[\"1\",\"true\",\"null\",\"\",\"~\"]");
	expect_json("a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: |\n  42\n",
		    "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\\n\",\"c\":\"42\\n\"}");
	expect_json("s: hello world # comment\nu: héllo ✓\n", "{\"s\":\"hello world\",\"u\":\"héllo ✓\"}");
}

Test(yaml, special_floats_and_big_ints)
{
	json_t *v = parse_ok("[.inf, -.Inf, +.INF, .nan, .NaN, 99999999999999999999, 0xFFFFFFFFFFFFFFFFFF]");

	cr_assert_str_eq(json_string_value(json_array_get(v, 0)), "Infinity");
	cr_assert_str_eq(json_string_value(json_array_get(v, 1)), "-Infinity");
	cr_assert_str_eq(json_string_value(json_array_get(v, 2)), "Infinity");
	cr_assert_str_eq(json_string_value(json_array_get(v, 3)), "NaN");
	cr_assert_str_eq(json_string_value(json_array_get(v, 4)), "NaN");
	cr_assert(json_is_real(json_array_get(v, 5)), "decimal past int64 becomes a real");
	cr_assert_float_eq(json_real_value(json_array_get(v, 5)), 1e20, 1e6);
	cr_assert(json_is_real(json_array_get(v, 6)));
	json_decref(v);
}

Test(yaml, tags)
{
	expect_json("[!!str 123, !!int '42', !!float '1', !!bool 'true', !!null '', ! 12, !!str ]",
		    "[\"123\",42,1.0,true,null,\"12\",\"\"]");
	expect_json("a: !!map {b: 1}\nc: !!seq [1]\n", "{\"a\":{\"b\":1},\"c\":[1]}");
	cr_assert_eq(parse_err("a: !!int xyz\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "!!int"), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: !!python/object:os.system ls\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "unsupported tag"), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: !custom 1\n"), CAIRN_EINVALID);
	cr_assert_eq(parse_err("a: !!seq {b: 1}\n"), CAIRN_EINVALID);
	cr_assert_eq(parse_err("a: !!bool maybe\n"), CAIRN_EINVALID);
}

Test(yaml, empty_documents_and_streams)
{
	expect_json("", "null");
	expect_json("# only a comment\n", "null");
	expect_json("---\n", "null");
	expect_json("--- 5\n...\n", "5");
	expect_json("---\na: 1\n...\n", "{\"a\":1}");
	expect_json("plain text", "\"plain text\"");
	cr_assert_eq(parse_err("a: 1\n---\nb: 2\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "line 2, column 1"), "%s", cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), "second document"), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: 1\n---\n"), CAIRN_EINVALID);
}

Test(yaml, errors_carry_positions)
{
	cr_assert_eq(parse_err("a: 1\nb: [1, 2\n"), CAIRN_EINVALID);
	cr_assert(!strncmp(cairn_error_msg(), "line ", 5), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: 1\na: 2\n"), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "line 2, column 1: duplicate key 'a'");
	cr_assert_eq(parse_err("x:\n  k: 1\n  j: 2\n  k: 3\n"), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "line 4, column 3: duplicate key 'k'");
	cr_assert_eq(parse_err("? [a, b]\n: 1\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "keys must be scalars"), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: b: c\n"), CAIRN_EINVALID);
	cr_assert_eq(parse_err("a:\n\t- 1\n"), CAIRN_EINVALID);
	cr_assert_eq(parse_err("a: 'unterminated\n"), CAIRN_EINVALID);
	cr_assert_eq(parse_err("\"\\q\""), CAIRN_EINVALID);
	cr_assert_eq(parse_err("a: \"x\\0y\"\n\"k\\0\": 1\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "NUL"), "%s", cairn_error_msg());
}

Test(yaml, invalid_bytes_are_errors_not_crashes)
{
	static const char bad_utf8[] = "a: \xff\xfe\n";
	static const char nul[] = "a: b\0c\n";
	static const char ctl[] = "a: \x01\n";
	json_t *v = NULL;

	cr_assert_eq(cyaml_parse(bad_utf8, sizeof(bad_utf8) - 1, &v), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "line 1, column 4"), "%s", cairn_error_msg());
	cr_assert_eq(cyaml_parse(nul, sizeof(nul) - 1, &v), CAIRN_EINVALID);
	cr_assert_eq(cyaml_parse(ctl, sizeof(ctl) - 1, &v), CAIRN_EINVALID);
	cr_assert_eq(cyaml_parse(NULL, 0, &v), 0, "no input is an empty document");
	cr_assert(json_is_null(v));
	json_decref(v);
}

Test(yaml, aliases_are_deep_copies)
{
	json_t *v = parse_ok("base: &b {x: 1, l: [1, 2]}\nother: *b\nname: &n hello\nagain: *n\n*n : keyed\n");

	cr_assert(json_equal(json_object_get(v, "base"), json_object_get(v, "other")));
	cr_assert_neq(json_object_get(v, "base"), json_object_get(v, "other"), "not shared");
	json_object_set_new(json_object_get(v, "other"), "x", json_integer(9));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(v, "base"), "x")), 1);
	cr_assert_str_eq(json_string_value(json_object_get(v, "again")), "hello");
	cr_assert_str_eq(json_string_value(json_object_get(v, "hello")), "keyed", "alias as a key");
	json_decref(v);
	expect_json("a: &x 1\nb: &x 2\nc: *x\n", "{\"a\":1,\"b\":2,\"c\":2}");
	cr_assert_eq(parse_err("a: *nope\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "unknown alias '*nope'"), "%s", cairn_error_msg());
	cr_assert_eq(parse_err("a: &r [1, *r]\n"), CAIRN_EINVALID, "an alias to its own ancestor");
	cr_assert_eq(parse_err("a: &m {k: 1}\n*m : 2\n"), CAIRN_EINVALID);
}

Test(yaml, merge_keys)
{
	expect_json("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n  z: 4\n",
		    "{\"base\":{\"x\":1,\"y\":2},\"use\":{\"y\":3,\"z\":4,\"x\":1}}");
	expect_json("a: &a {k: 1}\nb: &b {k: 2, j: 2}\nc:\n  <<: [*a, *b]\n",
		    "{\"a\":{\"k\":1},\"b\":{\"k\":2,\"j\":2},\"c\":{\"k\":1,\"j\":2}}");
	expect_json("'<<': literal\n", "{\"<<\":\"literal\"}");
	cr_assert_eq(parse_err("a:\n  <<: 5\n"), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "merge"), "%s", cairn_error_msg());
}

Test(yaml, billion_laughs_is_refused)
{
	struct buf b = BUF_INIT;
	json_t *v = NULL;

	buf_puts(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < 10; i++)
		buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
			   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	cr_assert_eq(cyaml_parse(b.ptr, b.len, &v), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "more than 1000000 nodes"), "%s", cairn_error_msg());
	cr_assert_null(v);
	buf_release(&b);
}

Test(yaml, big_strings_by_alias_are_refused)
{
	struct cyaml_limits lim = { 0, 1 << 20, 0 };
	struct buf b = BUF_INIT;
	json_t *v = NULL;

	buf_puts(&b, "s: &s '");
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "0123456789");
	buf_puts(&b, "'\nl: [");
	for (int i = 0; i < 200; i++)
		buf_puts(&b, "*s, ");
	buf_puts(&b, "]\n");
	cr_assert_eq(cyaml_parse_limits(b.ptr, b.len, &lim, &v), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "bytes"), "%s", cairn_error_msg());
	lim.max_bytes = 0;
	cr_assert_eq(cyaml_parse_limits(b.ptr, b.len, &lim, &v), 0, "fine under the default");
	json_decref(v);
	buf_release(&b);
}

Test(yaml, nesting_depth_is_capped)
{
	struct buf b = BUF_INIT;
	struct cyaml_limits lim = { 0, 0, 8 };
	json_t *v = NULL;

	for (int i = 0; i < 300; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 300; i++)
		buf_putc(&b, ']');
	cr_assert_eq(cyaml_parse(b.ptr, b.len, &v), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "nesting deeper than 256"), "%s", cairn_error_msg());
	buf_clear(&b);
	for (int i = 0; i < 256; i++)
		buf_putc(&b, '[');
	for (int i = 0; i < 256; i++)
		buf_putc(&b, ']');
	cr_assert_eq(cyaml_parse(b.ptr, b.len, &v), 0, "exactly the limit is fine");
	json_decref(v);
	/* aliases cannot smuggle depth past the limit */
	const char *deep = "a: &a [[[[1]]]]\nb: [[[[[*a]]]]]\n", *ok = "a: &a [[[[1]]]]\nb: [[[*a]]]\n";

	cr_assert_eq(cyaml_parse_limits(deep, strlen(deep), &lim, &v), CAIRN_ETOOBIG);
	cr_assert_eq(cyaml_parse_limits(ok, strlen(ok), &lim, &v), 0);
	json_decref(v);
	buf_release(&b);
}

Test(yaml, dump_quotes_what_would_not_stay_a_string)
{
	json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:f,s:b,s:n,s:s}",
			      "plain", "mlflow.sklearn", "num", "123", "ver", "3.5.2", "bool", "yes",
			      "null", "null", "empty", "", "time", "2026-11-23 13:03:29.238429",
			      "colon", "a: b", "int", 7, "real", 1.0, "t", 1, "nil", "hash", "x #y");
	char *y = dump(v);

	cr_assert(strstr(y, "plain: mlflow.sklearn\n"), "%s", y);
	cr_assert(strstr(y, "num: '123'\n"), "%s", y);
	cr_assert(strstr(y, "ver: 3.5.2\n"), "dotted versions stay plain: %s", y);
	cr_assert(strstr(y, "bool: 'yes'\n"), "%s", y);
	cr_assert(strstr(y, "'null': 'null'\n"), "%s", y);
	cr_assert(strstr(y, "empty: ''\n"), "%s", y);
	cr_assert(strstr(y, "time: '2026-11-23 13:03:29.238429'\n"), "%s", y);
	cr_assert(strstr(y, "int: 7\n"), "%s", y);
	cr_assert(strstr(y, "real: 1.0\n"), "%s", y);
	cr_assert(strstr(y, "t: true\n"), "%s", y);
	cr_assert(strstr(y, "nil: null\n"), "%s", y);
	cr_assert(strstr(y, "hash: 'x #y'\n"), "%s", y);
	free(y);
	json_decref(v);
}

Test(yaml, dump_round_trips)
{
	round_trip("{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":{},\"e\":[],\"f\":\"\"}");
	round_trip("[\"5b0ae5c4a4f2\",\"1e5\",\"1E5\",\"0x1F\",\"0b101\",\"0o17\",\"0xZZ\",\"12a\",\"1ee\",\"0X1F\"]");
	round_trip("[\"1.5\",\"1.2.3\",\"1.2.3e4\",\"10.0.0.1\",\"1.2.3-rc1\",\"1.2.3_4\",\"1.2.3:4\"]");
	round_trip("[\"true\",\"False\",\"~\",\"null\",\"0x1F\",\"0o7\",\"1e3\",\".inf\",\".nan\",\"-\",\"- x\",\"? y\"]");
	round_trip("[\"a: b\",\"#c\",\"x #y\",\"&anchor\",\"*alias\",\"!tag\",\"%dir\",\"@at\",\"`tick\",\"{\",\"[\",\"|\",\">\"]");
	round_trip("[\"multi\\nline\\n\",\"trailing \\n\",\"  leading\",\"tab\\there\",\"\\u0000nul\",\"\\u0007bell\"]");
	round_trip("[\"ünïcödé ✓\",\"\\ufeffbom\",\"\\u2028ls\",\"\\u0085nel\",\"end\\n\\n\\n\",\"\\n\"]");
	round_trip("[0,-1,9223372036854775807,-9223372036854775808,0.1,-0.0,1e300,1e-300,1.5e20,2.0]");
	round_trip("{\"<<\":1,\"y\":\"n\",\"Y\":\"ON\",\"1\":\"2\",\"\":\"empty key\",\"k\\nk\":\"newline key\"}");
	round_trip("\"top-level string\"");
	round_trip("42");
	round_trip("null");
	round_trip("{\"long\":\"" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx yyyyyyyyyyyy zzzzzzzzzzz\"}");
}

Test(yaml, dump_sorted_sorts_every_level)
{
	json_t *v = json_loads("{\"b\":{\"z\":1,\"a\":2},\"a\":[{\"q\":1,\"p\":2}]}", 0, NULL);
	struct buf b = BUF_INIT;

	cr_assert_eq(cyaml_dump_sorted(v, &b), 0);
	cr_assert_str_eq(b.ptr, "a:\n- p: 2\n  q: 1\nb:\n  a: 2\n  z: 1\n");
	buf_clear(&b);
	cr_assert_eq(cyaml_dump(v, &b), 0);
	cr_assert_str_eq(b.ptr, "b:\n  z: 1\n  a: 2\na:\n- q: 1\n  p: 2\n");
	buf_release(&b);
	json_decref(v);
}

Test(yaml, dump_refuses_overdeep_trees)
{
	json_t *root = json_array(), *cur = root;
	struct buf b = BUF_INIT;

	for (int i = 0; i < 300; i++) {
		json_t *n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	cr_assert_eq(cyaml_dump(root, &b), CAIRN_ETOOBIG);
	buf_release(&b);
	json_decref(root);
}

Test(yaml, lines_of_values)
{
	const char *doc = "stages:\n"
			  "  train:\n"
			  "    cmd: python3 train.py\n"
			  "    deps:\n"
			  "      - data/x\n"
			  "      - src/a/b\n"
			  "  \"we~ird/key\":\n"
			  "    cmd: [a, b]\n";
	json_t *v = NULL, *lines = NULL;

	cr_assert_eq(cyaml_parse_lines(doc, strlen(doc), &v, &lines), 0, "%s", cairn_error_msg());
	cr_assert_eq(cyaml_line(lines, "/stages"), 1);
	cr_assert_eq(cyaml_line(lines, "/stages/train"), 2);
	cr_assert_eq(cyaml_line(lines, "/stages/train/cmd"), 3);
	cr_assert_eq(cyaml_line(lines, "/stages/train/deps/0"), 5);
	cr_assert_eq(cyaml_line(lines, "/stages/train/deps/1"), 6);
	cr_assert_eq(cyaml_line(lines, "/stages/we~0ird~1key/cmd"), 8);
	cr_assert_eq(cyaml_line(lines, "/stages/we~0ird~1key/cmd/1"), 8);
	/* unknown pointers fall back to the nearest ancestor */
	cr_assert_eq(cyaml_line(lines, "/stages/train/nope/deeper"), 2);
	cr_assert_eq(cyaml_line(lines, "/nothing"), 0);
	json_decref(v);
	json_decref(lines);
	/* errors leave nothing behind */
	cr_assert_neq(cyaml_parse_lines("a: [\n", 5, &v, &lines), 0);
	cr_assert_null(v);
	cr_assert_null(lines);
}

Test(yaml, set_scalar_keeps_the_rest)
{
	const char *doc = "# params\n"
			  "prepare:\n"
			  "  n: 10   # rows\n"
			  "train:\n"
			  "  # learning\n"
			  "  eta: 0.1\n"
			  "  nested:\n"
			  "    depth: 3\n"
			  "other: x\n";
	struct buf out = BUF_INIT;

	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "train.eta", "0.25", &out), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(out.ptr, "# params\nprepare:\n  n: 10   # rows\ntrain:\n  # learning\n  eta: 0.25\n"
				  "  nested:\n    depth: 3\nother: x\n");
	buf_clear(&out);
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "prepare.n", "20", &out), 0);
	cr_assert(strstr(out.ptr, "  n: 20   # rows\n"));
	buf_clear(&out);
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "train.nested.depth", "8", &out), 0);
	cr_assert(strstr(out.ptr, "    depth: 8\nother: x\n"));
	buf_clear(&out);
	/* a key of another section with the same name is not confused */
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "other", "y", &out), 0);
	cr_assert(strstr(out.ptr, "other: y\n"));
	buf_clear(&out);
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "train.nope", "1", &out), CAIRN_ENOTFOUND);
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "depth", "1", &out), CAIRN_ENOTFOUND);
	cr_assert_eq(cyaml_set_scalar(doc, strlen(doc), "train.nested", "1", &out), CAIRN_ENOTFOUND);
	cr_assert_eq(cyaml_set_scalar("a: {b: 1}\n", 10, "a.b", "2", &out), CAIRN_ENOTFOUND);
	buf_release(&out);
}
