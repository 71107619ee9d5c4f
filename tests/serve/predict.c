/* Unit tests for serve/predict: batch scoring against what MLflow predicted, formats, order, errors, faults. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/json.h"
#include "serve/predict.h"
#include "serve/serve_int.h"

#define FIX "tests/model/fixtures/xgb/"

static char dir[64];

static void init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-predict-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void fini(void)
{
	fault_disarm();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(serve_predict, .init = init, .fini = fini);

/* dir/name (a few at a time). */
static const char *at(const char *name)
{
	static char paths[4][256];
	static int i;
	char *p = paths[i++ % 4];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void put(const char *name, const char *text)
{
	cr_assert_eq(fs_write_atomic(at(name), text, strlen(text), 0644), 0, "%s", cairn_error_msg());
}

/* The file's contents (free them), or NULL when it does not exist. */
static char *slurp(const char *name)
{
	struct buf b = BUF_INIT;

	if (fs_read_file(at(name), 1u << 30, &b)) {
		buf_release(&b);
		return NULL;
	}
	return b.len ? buf_detach(&b) : strdup("");
}

/* Entries in the test folder, to see that nothing was left behind. */
static size_t entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	return n;
}

static struct predict_model *load(const char *fixture)
{
	struct predict_model *m = NULL;
	char p[256];

	snprintf(p, sizeof(p), FIX "%s", fixture);
	cr_assert_eq(predict_model_load(p, &m), 0, "%s: %s", p, cairn_error_msg());
	return m;
}

/* The regressor fixture under a signature whose columns are required, f2 a long. */
static struct predict_model *required_model(void)
{
	struct predict_model *m = NULL;
	struct buf b = BUF_INIT;

	cr_assert_eq(fs_read_file(FIX "regressor/model.ubj", 1u << 24, &b), 0);
	cr_assert_eq(mkdir(at("req"), 0755), 0);
	cr_assert_eq(fs_write_atomic(at("req/model.ubj"), b.ptr, b.len, 0644), 0);
	buf_release(&b);
	put("req/MLmodel", "flavors:\n  xgboost:\n    data: model.ubj\n    model_class: xgboost.sklearn.XGBRegressor\n"
			   "    model_format: ubj\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"f0\"}, "
			   "{\"type\": \"double\", \"name\": \"f1\"}, {\"type\": \"long\", \"name\": \"f2\"}, "
			   "{\"type\": \"double\", \"name\": \"f3\"}, {\"type\": \"double\", \"name\": \"f4\"}]'\n");
	cr_assert_eq(predict_model_load(at("req"), &m), 0, "%s", cairn_error_msg());
	return m;
}

static struct predict_opts opts(unsigned threads)
{
	struct predict_opts o = { .threads = threads, .method = XGB_PREDICT, .quiet = true };

	return o;
}

/* Score in into out; it must work. Returns out's contents. */
static char *score(struct predict_model *m, const char *in, const char *out, const struct predict_opts *o)
{
	struct predict_stats st;
	char *text;
	int rc = predict_file(m, at(in), at(out), o, &st);

	cr_assert_eq(rc, 0, "%s -> %s: %s", in, out, cairn_error_msg());
	text = slurp(out);
	cr_assert_not_null(text);
	return text;
}

/* Score in into out; it must fail with code, a message holding msg, and leave no out. */
static void refused(struct predict_model *m, const char *in, const char *out, const struct predict_opts *o, int code,
		    const char *msg)
{
	size_t before = entries();
	int rc = predict_file(m, at(in), at(out), o, NULL);

	cr_assert_eq(rc, code, "%s: %d %s", in, rc, cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), msg), "%s: '%s' lacks '%s'", in, cairn_error_msg(), msg);
	cr_assert_null(slurp(out), "%s: %s was left behind", in, out);
	cr_assert_eq(entries(), before, "%s: a temporary file was left behind", in);
}

/* ---- against what MLflow predicted ---- */

static json_t *expected(const char *fixture)
{
	char p[256];
	json_error_t e;
	json_t *j;

	snprintf(p, sizeof(p), FIX "%s/expected.json", fixture);
	j = json_load_file(p, 0, &e);
	cr_assert_not_null(j, "%s: %s", p, e.text);
	return j;
}

/* The fixture's rows as CSV (NaN: empty) and JSON lines (NaN: null). */
static void write_rows(json_t *exp, const char *csv, const char *jsonl)
{
	json_t *cols = json_object_get(exp, "columns"), *data = json_object_get(exp, "data"), *row, *v;
	struct buf c = BUF_INIT, j = BUF_INIT;
	size_t r, k;

	json_array_foreach(cols, k, v)
		buf_printf(&c, "%s%s", k ? "," : "", json_string_value(v));
	buf_putc(&c, '\n');
	json_array_foreach(data, r, row) {
		buf_putc(&j, '{');
		json_array_foreach(row, k, v) {
			if (k)
				buf_putc(&c, ',');
			if (!json_is_null(v))
				cjson_put_double(&c, json_number_value(v));
			buf_printf(&j, "%s\"%s\": ", k ? ", " : "", json_string_value(json_array_get(cols, k)));
			if (json_is_null(v))
				buf_puts(&j, "null");
			else
				cjson_put_double(&j, json_number_value(v));
		}
		buf_putc(&c, '\n');
		buf_puts(&j, "}\n");
	}
	put(csv, c.ptr);
	put(jsonl, j.ptr);
	buf_release(&c);
	buf_release(&j);
}

static void same_value(double got, const json_t *want, bool labels, const char *what)
{
	double w = json_number_value(want);

	if (labels)
		cr_assert_eq(got, w, "%s: %.17g, MLflow %.17g", what, got, w);
	else
		cr_assert(fabs(got - w) <= 1e-6, "%s: %.17g, MLflow %.17g", what, got, w);
}

/* One predicted row (a number or a list) against MLflow's. */
static void same_row(const double *got, size_t n, const json_t *want, bool labels, const char *what)
{
	if (json_is_array(want)) {
		cr_assert_eq(n, json_array_size(want), "%s: %zu values, MLflow %zu", what, n, json_array_size(want));
		for (size_t k = 0; k < n; k++)
			same_value(got[k], json_array_get(want, k), labels, what);
	} else {
		cr_assert_eq(n, 1, "%s: %zu values, MLflow one", what, n);
		same_value(got[0], want, labels, what);
	}
}

/* Output CSV text against want (a list of rows): a header of prediction columns, then rows. */
static void check_csv(const char *text, const json_t *want, bool labels, const char *what)
{
	const char *line = strchr(text, '\n');
	size_t r = 0;

	cr_assert_not_null(line, "%s: no header", what);
	cr_assert(!strncmp(text, "prediction", 10), "%s: header %.40s", what, text);
	for (line++; *line; r++) {
		double vals[16];
		size_t n = 0;
		const char *s = line;

		while (n < 16) {
			char *end;
			vals[n++] = *s == ',' || *s == '\n' ? NAN : strtod(s, &end);
			if (*s != ',' && *s != '\n')
				s = end;
			if (*s != ',')
				break;
			s++;
		}
		cr_assert_eq(*s, '\n', "%s: row %zu: %.60s", what, r, line);
		cr_assert_lt(r, json_array_size(want), "%s: more rows than MLflow's", what);
		same_row(vals, n, json_array_get(want, r), labels, what);
		line = s + 1;
	}
	cr_assert_eq(r, json_array_size(want), "%s: %zu rows, MLflow %zu", what, r, json_array_size(want));
}

/* A JSON value of a prediction into vals. */
static size_t values_of(const json_t *v, double *vals)
{
	size_t k;
	json_t *e;

	if (!json_is_array(v)) {
		vals[0] = json_number_value(v);
		return 1;
	}
	json_array_foreach(v, k, e)
		vals[k] = json_number_value(e);
	return json_array_size(v);
}

static void check_jsonl(const char *text, const json_t *want, bool labels, const char *what)
{
	size_t r = 0;

	for (const char *line = text; *line; r++) {
		const char *nl = strchr(line, '\n');
		json_error_t e;
		json_t *o;
		double vals[16];

		cr_assert_not_null(nl, "%s: the last line has no LF", what);
		o = json_loadb(line, (size_t)(nl - line), 0, &e);
		cr_assert_not_null(o, "%s: line %zu: %s", what, r + 1, e.text);
		cr_assert_lt(r, json_array_size(want));
		same_row(vals, values_of(json_object_get(o, "prediction"), vals), json_array_get(want, r), labels, what);
		json_decref(o);
		line = nl + 1;
	}
	cr_assert_eq(r, json_array_size(want), "%s: %zu rows, MLflow %zu", what, r, json_array_size(want));
}

static void check_json(const char *text, const json_t *want, bool labels, const char *what)
{
	json_error_t e;
	json_t *o = json_loads(text, 0, &e), *p, *v;
	size_t r;

	cr_assert_not_null(o, "%s: %s", what, e.text);
	p = json_object_get(o, "predictions");
	cr_assert_eq(json_array_size(p), json_array_size(want), "%s", what);
	json_array_foreach(p, r, v) {
		double vals[16];
		same_row(vals, values_of(v, vals), json_array_get(want, r), labels, what);
	}
	json_decref(o);
}

Test(serve_predict, fixtures_give_what_mlflow_predicted)
{
	static const char *const fixtures[] = { "booster_binary", "booster_softprob", "booster_logitraw", "booster_linear",
		"classifier_binary", "classifier_multi", "classifier_softmax", "classifier_early", "regressor",
		"rf_classifier", "ranker" };
	static const struct { const char *key; enum xgb_method method; } methods[] = {
		{ "predict", XGB_PREDICT }, { "predict_margin", XGB_PREDICT_MARGIN }, { "predict_proba", XGB_PREDICT_PROBA },
	};

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct predict_model *m = load(fixtures[i]);
		json_t *exp = expected(fixtures[i]);

		write_rows(exp, "in.csv", "in.jsonl");
		for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
			const json_t *want = json_object_get(exp, methods[k].key);
			struct predict_opts o = opts(2);
			struct xgb_shape sh;
			char what[128], *t;
			bool labels;

			if (!want)
				continue;
			cr_assert_eq(predict_model_shape(m, methods[k].method, &sh), 0);
			labels = sh.kind == XGB_KIND_LABELS;
			o.method = methods[k].method;
			o.chunk_rows = 5;   /* several chunks, out of order across the threads */
			snprintf(what, sizeof(what), "%s %s csv", fixtures[i], methods[k].key);
			check_csv(t = score(m, "in.csv", "out.csv", &o), want, labels, what);
			free(t);
			snprintf(what, sizeof(what), "%s %s jsonl", fixtures[i], methods[k].key);
			check_jsonl(t = score(m, "in.jsonl", "out.jsonl", &o), want, labels, what);
			free(t);
			snprintf(what, sizeof(what), "%s %s json", fixtures[i], methods[k].key);
			check_json(t = score(m, "in.csv", "out.json", &o), want, labels, what);
			free(t);
		}
		json_decref(exp);
		predict_model_free(m);
	}
}

/* ---- formats ---- */

Test(serve_predict, csv_output_and_keep_input)
{
	struct predict_model *m = load("classifier_multi");
	struct predict_opts o = opts(1);
	char *t;

	/* columns in another order, an extra one with quoting, a quoted empty string */
	put("in.csv", "note,f4,f3,f2,f1,f0\n"
		      "\"a, \"\"quoted\"\" note\",-1.2922,-1.1258,-0.5646,0.7344,-2.0248\n"
		      "\"\",0.1114,0.4375,-0.3023,1.5728,-0.335\n"
		      "plain,,,,,\n");
	t = score(m, "in.csv", "out.csv", &o);
	cr_assert_str_eq(t, "prediction\n2\n0\n0\n");
	free(t);
	o.keep_input = true;
	t = score(m, "in.csv", "out.csv", &o);
	cr_assert_str_eq(t, "note,f4,f3,f2,f1,f0,prediction\n"
			    "\"a, \"\"quoted\"\" note\",-1.2922,-1.1258,-0.5646,0.7344,-2.0248,2\n"
			    "\"\",0.1114,0.4375,-0.3023,1.5728,-0.335,0\n"
			    "plain,,,,,,0\n");
	free(t);
	/* tab-separated in (by extension), matrix out */
	o.keep_input = false;
	o.method = XGB_PREDICT_PROBA;
	put("in.tsv", "f0\tf1\tf2\tf3\tf4\n-2.0248\t0.7344\t-0.5646\t-1.1258\t-1.2922\n");
	t = score(m, "in.tsv", "out.tsv", &o);
	cr_assert(!strncmp(t, "prediction_0\tprediction_1\tprediction_2\n0.", 41), "%s", t);
	free(t);
	/* pandas' index column: one field more than the header */
	o.method = XGB_PREDICT;
	o.keep_input = true;
	put("in.csv", "f0,f1,f2,f3,f4\n7,-2.0248,0.7344,-0.5646,-1.1258,-1.2922\n");
	t = score(m, "in.csv", "out.csv", &o);
	cr_assert_str_eq(t, ",f0,f1,f2,f3,f4,prediction\n7,-2.0248,0.7344,-0.5646,-1.1258,-1.2922,2\n");
	free(t);
	predict_model_free(m);
}

Test(serve_predict, json_lines_and_mlflow_json)
{
	struct predict_model *m = load("booster_binary");
	struct predict_opts o = opts(1);
	char *t;

	put("in.jsonl", "{\"f0\": -2.0248, \"f1\": 0.7344, \"f2\": -0.5646, \"f3\": -1.1258, \"f4\": -1.2922, \"id\": \"x\"}\r\n"
			"\n   \n"
			"  {\"f0\": NaN, \"f1\": null, \"f2\": null, \"f3\": null}  \n"
			"{\"f4\": 1}");
	t = score(m, "in.jsonl", "out.jsonl", &o);
	cr_assert_eq(strncmp(t, "{\"prediction\": 0.", 17), 0, "%s", t);
	free(t);
	o.keep_input = true;
	t = score(m, "in.jsonl", "out.jsonl", &o);
	cr_assert(strstr(t, "{\"f0\": -2.0248, \"f1\": 0.7344, \"f2\": -0.5646, \"f3\": -1.1258, \"f4\": -1.2922, \"id\": \"x\", "
			    "\"prediction\": 0."), "%s", t);
	cr_assert(strstr(t, "\n{\"f0\": NaN, \"f1\": null, \"f2\": null, \"f3\": null, \"prediction\": 0."), "%s", t);
	cr_assert(strstr(t, "\n{\"f4\": 1, \"prediction\": 0."), "%s", t);
	free(t);
	put("empty.jsonl", "{}\n{ }");
	t = score(m, "empty.jsonl", "out.jsonl", &o);
	cr_assert(!strncmp(t, "{\"prediction\": 0.", 17) && strstr(t, "\n{\"prediction\": 0."), "%s", t);
	free(t);
	o.keep_input = false;
	t = score(m, "in.jsonl", "out.json", &o);
	cr_assert(!strncmp(t, "{\"predictions\": [0.", 19) && t[strlen(t) - 1] == '}' && t[strlen(t) - 2] == ']', "%s", t);
	free(t);
	/* keeping the input needs the input's format */
	o.keep_input = true;
	refused(m, "in.jsonl", "out.csv", &o, CAIRN_EINVALID, "keeping the input");
	predict_model_free(m);
}

/* ---- order and chunks ---- */

static void big_csv(const char *name, size_t rows, unsigned seed)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "f0,f1,f2,f3,f4\n");
	for (size_t r = 0; r < rows; r++) {
		for (int k = 0; k < 5; k++) {
			int v = (int)(rand_r(&seed) % 80001) - 40000;

			if (v % 17 == 0)
				buf_puts(&b, k ? "," : "");
			else
				buf_printf(&b, "%s%.4f", k ? "," : "", v / 10000.0);
		}
		buf_putc(&b, '\n');
	}
	put(name, b.ptr);
	buf_release(&b);
}

Test(serve_predict, order_is_the_inputs_whatever_the_chunks_and_threads)
{
	struct predict_model *m = load("booster_softprob");
	struct predict_opts o = opts(1);
	char *one, *many;

	big_csv("in.csv", 5000, 7);
	one = score(m, "in.csv", "one.csv", &o);
	o.threads = 5;
	o.chunk_rows = 7;
	many = score(m, "in.csv", "many.csv", &o);
	cr_assert_str_eq(one, many);
	free(many);
	o.chunk_rows = 1;
	o.threads = 3;
	many = score(m, "in.csv", "many.csv", &o);
	cr_assert_str_eq(one, many);
	free(many);
	free(one);
	predict_model_free(m);
}

Test(serve_predict, the_first_bad_row_in_input_order_is_reported)
{
	struct predict_model *m = load("regressor");
	struct predict_opts o = opts(4);
	struct buf b = BUF_INIT;

	buf_puts(&b, "f0,f1,f2,f3,f4\n");
	for (int r = 0; r < 400; r++)
		buf_printf(&b, "%s,1,2,3,4\n", r == 333 ? "oops" : r == 377 ? "worse" : "0.5");
	put("in.csv", b.ptr);
	o.chunk_rows = 3;
	for (int i = 0; i < 10; i++)
		refused(m, "in.csv", "out.csv", &o, CAIRN_EINVALID, "line 335: column 'f0': could not convert string to float: 'oops'");
	buf_release(&b);
	predict_model_free(m);
}

/* ---- bad input ---- */

Test(serve_predict, bad_input_names_its_line_and_leaves_no_file)
{
	struct predict_model *m = required_model();
	struct predict_opts o = opts(2);

	put("missing.csv", "f0,f1,f2,f4,extra\n1,2,3,4,5\n");
	refused(m, "missing.csv", "out.csv", &o, CAIRN_EINVALID, "Model is missing inputs ['f3']. Note that there were extra inputs: ['extra'].");
	put("na.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n1,2,,4,5\n");
	refused(m, "na.csv", "out.csv", &o, CAIRN_EINVALID, "line 3: column 'f2': Integer column has NA values");
	put("missing.jsonl", "{\"f0\": 1, \"f1\": 2, \"f2\": 3, \"f3\": 4, \"f4\": 5}\n{\"f0\": 1}\n");
	refused(m, "missing.jsonl", "out.jsonl", &o, CAIRN_EINVALID, "line 2: Failed to enforce schema");
	predict_model_free(m);
	m = load("classifier_binary");
	put("string.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n1,2,three,4,5\n");
	refused(m, "string.csv", "out.csv", &o, CAIRN_EINVALID, "string.csv', line 3: column 'f2': could not convert string to float: 'three'");
	put("quote.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n1,2,3\"x\",4,5\n");
	refused(m, "quote.csv", "out.csv", &o, CAIRN_EINVALID, "(line 3): a quote inside an unquoted field");
	put("open.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n\"1,2,3,4,5\n");
	refused(m, "open.csv", "out.csv", &o, CAIRN_EINVALID, "unterminated quoted field");
	put("wide.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n1,2,3,4,5,6,7\n");
	refused(m, "wide.csv", "out.csv", &o, CAIRN_EINVALID, "line 3: expected 5 fields, saw 7");
	/* a record's line is the one it starts on: quoted newlines count, blank lines too */
	put("lines.csv", "f0,f1,f2,f3,f4,note\n1,2,3,4,5,\"two\nlines\"\n\n\n1,2,x,4,5,n\n");
	refused(m, "lines.csv", "out.csv", &o, CAIRN_EINVALID, "lines.csv', line 6: column 'f2'");
	put("empty.csv", "");
	refused(m, "empty.csv", "out.csv", &o, CAIRN_EINVALID, "is empty");
	put("header.csv", "f0,f1,f2,f3,f4\n");
	refused(m, "header.csv", "out.csv", &o, CAIRN_EINVALID, "has a header but no rows");
	put("bad.jsonl", "{\"f0\": 1, \"f1\": 2, \"f2\": 3, \"f3\": 4, \"f4\": 5}\n\n[1, 2]\n");
	refused(m, "bad.jsonl", "out.jsonl", &o, CAIRN_EINVALID, "bad.jsonl', line 3: expected a JSON object");
	put("bad2.jsonl", "{\"f0\": 1, \"f1\": 2, \"f2\": 3, \"f3\": 4, \"f4\": \"five\"}\n");
	refused(m, "bad2.jsonl", "out.jsonl", &o, CAIRN_EINVALID, "line 1: Invalid input. Data is not compatible with model signature. Failed to convert column f4");
	put("bad3.jsonl", "{\"f0\": 1, \"f1\": 2,\n");
	refused(m, "bad3.jsonl", "out.jsonl", &o, CAIRN_EINVALID, "line 1: Invalid input. Ensure that input is a valid JSON");
	put("blank.jsonl", "\n \n");
	refused(m, "blank.jsonl", "out.jsonl", &o, CAIRN_EINVALID, "has no rows");
	put("in.json", "{}");
	refused(m, "in.json", "out.jsonl", &o, CAIRN_EINVALID, "read only as JSON lines");
	refused(m, "absent.csv", "out.csv", &o, CAIRN_ENOTFOUND, "cannot open");
	put("ok.csv", "f0,f1,f2,f3,f4\n1,2,3,4,5\n");
	refused(m, "ok.csv", "no/such/dir/out.csv", &o, CAIRN_EIO, "cannot create a temporary file beside");
	o.method = XGB_PREDICT_PROBA;
	predict_model_free(m);
	m = load("regressor");
	refused(m, "ok.csv", "out.csv", &o, CAIRN_EUNSUPPORTED, "");
	predict_model_free(m);
}

Test(serve_predict, models_that_cannot_be_scored)
{
	struct predict_model *m = NULL;

	cr_assert_eq(predict_model_load(at("nothing"), &m), CAIRN_ENOTFOUND);
	cr_assert_eq(mkdir(at("py"), 0755), 0);
	put("py/MLmodel", "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.2\n"
			  "  sklearn:\n    pickled_model: model.pkl\n");
	cr_assert_eq(predict_model_load(at("py"), &m), CAIRN_EUNSUPPORTED);
	cr_assert(strstr(cairn_error_msg(), "python_function, sklearn"), "%s", cairn_error_msg());
	cr_assert_null(m);
}

Test(serve_predict, a_stream_from_a_pipe)
{
	struct predict_model *m = load("regressor");
	struct predict_opts o = opts(2);
	const char *in = "f0,f1,f2,f3,f4\n1,2,3,4,5\n,,,,\n";
	struct predict_stats st;
	int fds[2], out;
	char *t;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(write(fds[1], in, strlen(in)), (ssize_t)strlen(in));
	close(fds[1]);
	out = open(at("out.csv"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(predict_stream(m, fds[0], "<pipe>", 0, out, "out", &o, &st), 0, "%s", cairn_error_msg());
	close(fds[0]);
	close(out);
	cr_assert_eq(st.rows, 2);
	cr_assert_eq(st.bytes, strlen(in));
	t = slurp("out.csv");
	cr_assert(!strncmp(t, "prediction\n", 11) && strchr(t + 11, '\n'), "%s", t);
	free(t);
	predict_model_free(m);
}

/* ---- faults ---- */

Test(serve_predict, allocation_failures_fail_the_run_cleanly)
{
	struct predict_model *m = load("classifier_multi");
	struct predict_opts o = opts(2);

	o.chunk_rows = 2;
	put("in.csv", "f0,f1,f2,f3,f4,x\n1,2,3,4,5,\"q\"\n2,3,4,5,6,y\n3,4,5,6,7,z\n4,5,6,7,8,w\n5,6,7,8,9,v\n");
	put("in.jsonl", "{\"f0\": 1, \"f1\": 2, \"f2\": 3, \"f3\": 4, \"f4\": 5}\n{\"f0\": 2}\n{\"f0\": 3}\n{}\n");
	for (int pass = 0; pass < 4; pass++) {
		const char *in = pass % 2 ? "in.jsonl" : "in.csv";

		o.keep_input = pass >= 2;
		for (uint64_t nth = 1;; nth++) {
			uint64_t injected;
			int rc;

			fault_arm(FAULT_ALLOC, nth, pass >= 2 ? FAULT_PERSIST : 0);
			rc = predict_file(m, at(in), at("out"), &o, NULL);
			injected = fault_injected();
			fault_disarm();
			if (!injected) {
				cr_assert_eq(rc, 0, "%s: %s", in, cairn_error_msg());
				unlink(at("out"));
				break;
			}
			if (rc) {
				cr_assert(rc == CAIRN_ENOMEM, "%s, allocation %llu: %d %s", in, (unsigned long long)nth, rc,
					  cairn_error_msg());
				cr_assert_null(slurp("out"), "%s, allocation %llu: an output after a failure", in,
					       (unsigned long long)nth);
			}
			unlink(at("out"));
			cr_assert_eq(entries(), 2, "%s: a temporary file was left behind", in);
		}
	}
	predict_model_free(m);
}

Test(serve_predict, write_failures_leave_no_file)
{
	struct predict_model *m = load("booster_softprob");
	struct predict_opts o = opts(2);
	static const unsigned kinds[] = { FAULT_WRITE, FAULT_FSYNC, FAULT_RENAME };

	o.chunk_rows = 50;
	big_csv("in.csv", 1000, 3);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (uint64_t nth = 1;; nth++) {
			uint64_t injected;
			int rc;

			fault_arm(kinds[k], nth, 0);
			rc = predict_file(m, at("in.csv"), at("out.csv"), &o, NULL);
			injected = fault_injected();
			fault_disarm();
			if (!injected) {
				cr_assert_eq(rc, 0, "%s", cairn_error_msg());
				unlink(at("out.csv"));
				break;
			}
			if (!rc && kinds[k] == FAULT_FSYNC) {   /* the folder's sync after the rename: best effort */
				char *t = slurp("out.csv");

				cr_assert_not_null(t);
				free(t);
				unlink(at("out.csv"));
				continue;
			}
			cr_assert_eq(rc, CAIRN_EIO, "fault %u, call %llu: %d %s", kinds[k], (unsigned long long)nth, rc,
				     cairn_error_msg());
			cr_assert(strstr(cairn_error_msg(), "out.csv"), "%s", cairn_error_msg());
			cr_assert_null(slurp("out.csv"));
			cr_assert_eq(entries(), 1, "a temporary file was left behind");
		}
	predict_model_free(m);
}

/* ---- numbers ---- */

Test(serve_predict, numbers_are_written_as_the_server_writes_them)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	unsigned seed = 99;

	for (size_t i = 0; i < 400000; i++) {
		uint32_t r = (uint32_t)rand_r(&seed) ^ ((uint32_t)rand_r(&seed) << 16);
		uint64_t u;
		double v;
		float f;

		switch (i % 5) {
		case 0:   /* any float32: what xgboost gives */
			memcpy(&f, &r, sizeof(f));
			v = f;
			break;
		case 1:   /* probabilities */
			v = (float)((double)rand_r(&seed) / RAND_MAX);
			break;
		case 2:   /* any double */
			u = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 11) ^ (uint64_t)rand_r(&seed);
			memcpy(&v, &u, sizeof(v));
			break;
		case 3:   /* powers of two, where the ulp below is half the one above */
			v = ldexp(r & 1 ? -1.0 : 1.0, (int)(r % 240) - 120);
			break;
		default:  /* short decimals, ties in the roundings */
			v = (float)((double)(r % 200001) / 1000 - 100);
		}
		buf_clear(&a);
		buf_clear(&b);
		serve_put_double(&a, v);
		predict__put_double(&b, v);
		cr_assert_str_eq(b.ptr, a.ptr, "%a: %s, the server writes %s", v, b.ptr, a.ptr);
	}
	buf_release(&a);
	buf_release(&b);
}
