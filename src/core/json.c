/* json.c - jansson wrapper: validated field access and protobuf-style encoding. */
#include "core/json.h"
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cjson_parse_object(const char *data, size_t n, json_t **out)
{
	json_error_t jerr;
	json_t *v;
	size_t i = 0;

	while (i < n && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
		i++;
	if (i == n) {
		*out = json_object();
		return *out ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	cjson_oom_clear();
	v = json_loadb(data, n, JSON_REJECT_DUPLICATES, &jerr);
	if (cjson_oom_seen()) { /* jansson may return a value with a string cut short */
		json_decref(v);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory parsing the request body");
	}
	if (!v)
		return cairn_error_set(CAIRN_EINVALID, "malformed JSON request body: %s (line %d, column %d)",
				       jerr.text, jerr.line, jerr.column);
	if (!json_is_object(v)) {
		json_decref(v);
		return cairn_error_set(CAIRN_EINVALID, "request body must be a JSON object");
	}
	*out = v;
	return 0;
}

/* MLflow's server answers a bad request field in these words, which clients
 * and tests match: "Missing value for required parameter 'name'. See the API
 * docs ..." and "Invalid value 31 for parameter 'run_id' supplied:  Hint:
 * Value was of type 'int'. See ..." (the value as Python's json.dumps, the
 * type by Python's name; the two spaces are MLflow's). */
int cjson_missing(const char *path)
{
	return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter '%.200s'." CJSON_API_DOCS, path);
}

const char *cjson_py_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "dict";
	case JSON_ARRAY: return "list";
	case JSON_STRING: return "str";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "NoneType";
	}
}

int cjson_invalid(const char *path, const json_t *v)
{
	char *dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	int rc = cairn_error_set(CAIRN_EINVALID, "Invalid value %.500s for parameter '%.200s' supplied:  Hint: Value "
						"was of type '%s'." CJSON_API_DOCS, dump ? dump : "?", path, cjson_py_type(v));

	free(dump);
	return rc;
}

/* A required field that is absent, null or "" is missing, as for MLflow
 * (protobuf cannot tell an empty string from none). */
static json_t *field(json_t *obj, const char *key, bool required, int *rc)
{
	json_t *v = obj ? json_object_get(obj, key) : NULL;

	*rc = 0;
	if (!v || json_is_null(v) || (required && json_is_string(v) && !json_string_length(v))) {
		if (required)
			*rc = cjson_missing(key);
		return NULL;
	}
	return v;
}

int cjson_get_str(json_t *obj, const char *key, bool required, const char **out)
{
	int rc;
	json_t *v = field(obj, key, required, &rc);

	if (!v)
		return rc;
	if (!json_is_string(v))
		return cjson_invalid(key, v);
	*out = json_string_value(v);
	return 1;
}

int cjson_parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long x;

	if (!s || !*s)
		return CAIRN_EINVALID;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return CAIRN_EINVALID;
	*out = (int64_t)x;
	return 0;
}

int cjson_parse_double(const char *s, double *out)
{
	char *end;
	double d;

	if (!s || !*s)
		return CAIRN_EINVALID;
	if (!strcmp(s, "NaN") || !strcmp(s, "nan")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(s, "Infinity") || !strcmp(s, "inf")) {
		*out = INFINITY;
		return 0;
	}
	if (!strcmp(s, "-Infinity") || !strcmp(s, "-inf")) {
		*out = -INFINITY;
		return 0;
	}
	errno = 0;
	d = strtod(s, &end);
	if (*end || end == s)
		return CAIRN_EINVALID;
	*out = d;
	return 0;
}

int cjson_get_int64(json_t *obj, const char *key, bool required, int64_t *out)
{
	int rc;
	json_t *v = field(obj, key, required, &rc);

	if (!v)
		return rc;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 1;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 9.2e18) {
			*out = (int64_t)d;
			return 1;
		}
	}
	if (json_is_string(v) && cjson_parse_int64(json_string_value(v), out) == 0)
		return 1;
	return cjson_invalid(key, v);
}

int cjson_get_double(json_t *obj, const char *key, bool required, double *out)
{
	int rc;
	json_t *v = field(obj, key, required, &rc);

	if (!v)
		return rc;
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 1;
	}
	if (json_is_string(v) && cjson_parse_double(json_string_value(v), out) == 0)
		return 1;
	return cjson_invalid(key, v);
}

int cjson_get_bool(json_t *obj, const char *key, bool required, bool *out)
{
	int rc;
	json_t *v = field(obj, key, required, &rc);

	if (!v)
		return rc;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 1;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strcmp(s, "true") || !strcmp(s, "false")) {
			*out = s[0] == 't';
			return 1;
		}
	}
	return cjson_invalid(key, v);
}

int cjson_get_array(json_t *obj, const char *key, bool required, json_t **out)
{
	int rc;
	json_t *v = field(obj, key, required, &rc);

	if (!v)
		return rc;
	if (!json_is_array(v))
		return cjson_invalid(key, v);
	*out = v;
	return 1;
}

json_t *cjson_double(double d)
{
	if (isnan(d))
		return json_string("NaN");
	if (isinf(d))
		return json_string(d > 0 ? "Infinity" : "-Infinity");
	return json_real(d);
}

json_t *cjson_string(const char *s)
{
	json_t *v = json_string(s ? s : "");
	struct buf b = BUF_INIT;

	if (v || !s)
		return v;
	/* invalid UTF-8: keep ASCII, replace other bytes with '?' */
	for (; *s; s++)
		buf_putc(&b, (unsigned char)*s < 0x80 ? *s : '?');
	v = json_string(b.ptr);
	buf_release(&b);
	return v;
}

void cjson_set(json_t *obj, const char *key, json_t *v)
{
	if (v)
		json_object_set_new(obj, key, v);
}

void cjson_set_repeated(json_t *obj, const char *key, json_t *arr)
{
	if (arr && json_is_array(arr) && json_array_size(arr) == 0) {
		json_decref(arr);
		return;
	}
	cjson_set(obj, key, arr);
}

/* Shortest "%.Ng" that reads back as the same double (what Python's repr prints). */
void cjson_put_double(struct buf *b, double d)
{
	char tmp[40];

	if (!isfinite(d)) {
		buf_puts(b, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	buf_puts(b, tmp);
	/* keep it a JSON real: 1 -> 1.0 */
	if (!strpbrk(tmp, ".eE"))
		buf_puts(b, ".0");
}

void cjson_put_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_put(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
			u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0;
			esc = u;
		}
		buf_puts(b, esc);
	}
	buf_put(b, s + run, n - run);
	buf_putc(b, '"');
}

static void put_value(struct buf *b, const json_t *v, int depth, bool spaced)
{
	const char *key;
	json_t *e;
	size_t i;

	if (depth > 64) {
		buf_puts(b, "null");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		buf_putc(b, '{');
		i = 0;
		json_object_foreach((json_t *)v, key, e) {
			if (i++)
				buf_puts(b, spaced ? ", " : ",");
			cjson_put_string(b, key, strlen(key));
			buf_puts(b, spaced ? ": " : ":");
			put_value(b, e, depth + 1, spaced);
		}
		buf_putc(b, '}');
		break;
	case JSON_ARRAY:
		buf_putc(b, '[');
		json_array_foreach((json_t *)v, i, e) {
			if (i)
				buf_puts(b, spaced ? ", " : ",");
			put_value(b, e, depth + 1, spaced);
		}
		buf_putc(b, ']');
		break;
	case JSON_STRING:
		cjson_put_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		cjson_put_double(b, json_real_value(v));
		break;
	case JSON_TRUE:
		buf_puts(b, "true");
		break;
	case JSON_FALSE:
		buf_puts(b, "false");
		break;
	default:
		buf_puts(b, "null");
	}
}

int cjson_dump(const json_t *v, struct buf *b)
{
	put_value(b, v, 0, false);
	return buf_error(b);
}

int cjson_dump_spaced(const json_t *v, struct buf *b)
{
	put_value(b, v, 0, true);
	return buf_error(b);
}

/* ---- allocation through the fault layer ---- */

static _Thread_local bool json_oom;

static void *json_alloc(size_t n)
{
	void *p = cmalloc(n);

	if (!p)
		json_oom = true;
	return p;
}

__attribute__((constructor)) static void json_alloc_init(void)
{
	json_set_alloc_funcs(json_alloc, free);
}

void cjson_oom_clear(void)
{
	json_oom = false;
}

bool cjson_oom_seen(void)
{
	return json_oom;
}

void cjson_flatten(const char *prefix, json_t *v, json_t *out, bool numbers_only)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, e) {
			struct buf key = BUF_INIT;
			buf_printf(&key, "%s%s%s", prefix, *prefix ? "." : "", k);
			cjson_flatten(key.ptr, e, out, numbers_only);
			buf_release(&key);
		}
	} else if (json_is_array(v) && !numbers_only) {
		char *t = json_dumps(v, JSON_COMPACT);
		if (t)
			json_object_set_new(out, prefix, json_string(t));
		free(t);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			struct buf key = BUF_INIT;
			buf_printf(&key, "%s.%zu", prefix, i);
			cjson_flatten(key.ptr, e, out, numbers_only);
			buf_release(&key);
		}
	} else if (numbers_only) {
		if (json_is_number(v) && *prefix)
			json_object_set_new(out, prefix, json_real(json_number_value(v)));
	} else if (*prefix) {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
		if (t) {
			json_object_set_new(out, prefix, json_string(json_is_string(v) ? json_string_value(v) : t));
			free(t);
		}
	}
}
