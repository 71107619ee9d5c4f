/* Unit tests for core/json: validated decoding and protobuf-style encoding. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/json.h"

static char *dump(json_t *v)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(cjson_dump(v, &b), 0);
	return buf_detach(&b);
}

Test(core_json, parses_objects_and_rejects_others)
{
	json_t *o = NULL;

	cr_assert_eq(cjson_parse_object("{\"a\": 1}", 8, &o), 0);
	json_decref(o);
	cr_assert_eq(cjson_parse_object("  ", 2, &o), 0, "empty body is an empty object");
	cr_assert(json_is_object(o));
	json_decref(o);
	cr_assert_eq(cjson_parse_object("[1]", 3, &o), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "JSON object"));
	cr_assert_eq(cjson_parse_object("{bad", 4, &o), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "malformed JSON"));
	cr_assert_eq(cjson_parse_object("{\"a\":1,\"a\":2}", 13, &o), CAIRN_EINVALID, "duplicate keys rejected");
}

Test(core_json, typed_fields)
{
	json_t *o = json_loads("{\"s\":\"x\",\"i\":5,\"is\":\"-7\",\"d\":1.5,\"nan\":\"NaN\",\"inf\":\"-Infinity\","
			       "\"b\":true,\"n\":null,\"bad\":\"12x\"}", 0, NULL);
	const char *s = NULL;
	int64_t i = 0;
	double d = 0;
	bool b = false;

	cr_assert_eq(cjson_get_str(o, "s", true, &s), 1);
	cr_assert_str_eq(s, "x");
	cr_assert_eq(cjson_get_int64(o, "i", true, &i), 1);
	cr_assert_eq(i, 5);
	cr_assert_eq(cjson_get_int64(o, "is", true, &i), 1, "int64 as string (protobuf JSON)");
	cr_assert_eq(i, -7);
	cr_assert_eq(cjson_get_double(o, "d", true, &d), 1);
	cr_assert_float_eq(d, 1.5, 1e-12);
	cr_assert_eq(cjson_get_double(o, "nan", true, &d), 1);
	cr_assert(isnan(d));
	cr_assert_eq(cjson_get_double(o, "inf", true, &d), 1);
	cr_assert(isinf(d) && d < 0);
	cr_assert_eq(cjson_get_bool(o, "b", true, &b), 1);
	cr_assert(b);
	cr_assert_eq(cjson_get_str(o, "n", false, &s), 0, "null counts as absent");
	cr_assert_eq(cjson_get_str(o, "missing", true, &s), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "'missing'"));
	cr_assert_eq(cjson_get_int64(o, "bad", true, &i), CAIRN_EINVALID);
	cr_assert_eq(cjson_get_str(o, "i", true, &s), CAIRN_EINVALID, "number is not a string");
	cr_assert_eq(cjson_get_double(o, "b", true, &d), CAIRN_EINVALID, "bool is not a number");
	json_decref(o);
}

Test(core_json, encodes_doubles_shortest_and_specials)
{
	json_t *a = json_array();
	char *s;

	json_array_append_new(a, cjson_double(0.1));
	json_array_append_new(a, cjson_double(1));
	json_array_append_new(a, cjson_double(NAN));
	json_array_append_new(a, cjson_double(INFINITY));
	json_array_append_new(a, cjson_double(-INFINITY));
	json_array_append_new(a, cjson_double(1.0 / 3));
	s = dump(a);
	cr_assert_str_eq(s, "[0.1,1.0,\"NaN\",\"Infinity\",\"-Infinity\",0.3333333333333333]");
	free(s);
	json_decref(a);
}

Test(core_json, escapes_strings)
{
	json_t *o = json_pack("{s:s}", "k", "a\"b\\c\n\x01é");
	char *s = dump(o);

	cr_assert_str_eq(s, "{\"k\":\"a\\\"b\\\\c\\n\\u0001é\"}");
	free(s);
	json_decref(o);
}

Test(core_json, roundtrip_through_jansson)
{
	json_t *o = json_pack("{s:[i,f,s,b,n], s:{s:I}}", "a", 1, 2.5, "x", 1, "o", "big", (json_int_t)1795426399326);
	char *s = dump(o);
	json_t *back = json_loads(s, 0, NULL);

	cr_assert(json_equal(o, back));
	free(s);
	json_decref(o);
	json_decref(back);
}
