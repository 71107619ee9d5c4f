/* Unit tests for model/xgb: models saved by the real MLflow client predict what its pyfunc returns; bad files, threads, faults. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fault.h"
#include "model/mlmodel.h"
#include "model/xgb.h"

#define FIXTURES "tests/model/fixtures/xgb/"
#define TOL 1e-6

static const char *const fixtures[] = {
	"booster_binary", "booster_softprob", "booster_logitraw", "booster_linear", "classifier_binary",
	"classifier_multi", "classifier_softmax", "classifier_early", "regressor", "rf_classifier", "ranker",
};
#define NFIX (sizeof(fixtures) / sizeof(fixtures[0]))

static void fini(void)
{
	fault_disarm();
}

TestSuite(model_xgb, .fini = fini);

/* ---------- helpers ---------- */

struct rows {
	size_t n, ncols;
	float *x;
};

/* JSON rows (null: missing) -> row-major float32, as the server will build them. */
static struct rows rows_of(json_t *data)
{
	struct rows r = { json_array_size(data), 0, NULL };

	cr_assert(r.n > 0);
	r.ncols = json_array_size(json_array_get(data, 0));
	r.x = calloc(r.n * r.ncols, sizeof(float));
	for (size_t i = 0; i < r.n; i++) {
		json_t *row = json_array_get(data, i);
		cr_assert_eq(json_array_size(row), r.ncols);
		for (size_t j = 0; j < r.ncols; j++) {
			json_t *v = json_array_get(row, j);
			r.x[i * r.ncols + j] = json_is_null(v) ? NAN : (float)json_number_value(v);
		}
	}
	return r;
}

static json_t *load_json(const char *path)
{
	json_error_t err;
	json_t *v = json_load_file(path, 0, &err);

	cr_assert_not_null(v, "%s: %s", path, err.text);
	return v;
}

static json_t *expected(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), FIXTURES "%s/expected.json", name);
	return load_json(path);
}

static struct xgb_model *load_dir(const char *name, const struct xgb_opts *opts)
{
	char dir[256];
	struct mlmodel *m = NULL;
	struct xgb_model *x = NULL;

	snprintf(dir, sizeof(dir), FIXTURES "%s", name);
	cr_assert_eq(mlmodel_load(dir, &m), 0, "%s: %s", name, cairn_error_msg());
	cr_assert_eq(xgb_model_load_opts(dir, m, opts, &x), 0, "%s: %s", name, cairn_error_msg());
	mlmodel_free(m);
	return x;
}

/* Compare predicted rows [from, from + out->nrows) with the expected JSON
 * list (of numbers or of lists): shape, integer-ness and values. */
static void check_output(const char *what, const struct xgb_output *out, json_t *want, size_t from)
{
	for (size_t i = 0; i < out->nrows; i++) {
		json_t *w = json_array_get(want, from + i);
		cr_assert_not_null(w, "%s: row %zu not expected", what, from + i);
		cr_assert_eq(json_is_array(w), out->shape.matrix, "%s: row %zu: matrix %d", what, from + i,
			     out->shape.matrix);
		size_t width = json_is_array(w) ? json_array_size(w) : 1;
		cr_assert_eq(width, out->shape.width, "%s: width %zu, want %zu", what, out->shape.width, width);
		for (size_t j = 0; j < width; j++) {
			json_t *e = json_is_array(w) ? json_array_get(w, j) : w;
			double got = out->data[i * width + j];
			cr_assert_eq(json_is_integer(e), out->shape.kind == XGB_KIND_LABELS,
				     "%s: row %zu: integer in JSON %d, kind %d", what, from + i, json_is_integer(e),
				     out->shape.kind);
			cr_assert(fabs(got - json_number_value(e)) <= TOL, "%s: row %zu col %zu: got %.9g, want %.9g",
				  what, from + i, j, got, json_number_value(e));
		}
	}
}

static const struct {
	const char *key;
	enum xgb_method method;
} methods[] = {
	{ "predict", XGB_PREDICT },
	{ "predict_margin", XGB_PREDICT_MARGIN },
	{ "predict_proba", XGB_PREDICT_PROBA },
};

/* Every method the fixture's expected.json has, batched and row by row. */
static void check_fixture(const char *name, struct xgb_model *x, struct xgb_ctx *ctx)
{
	json_t *exp = expected(name);
	struct rows r = rows_of(json_object_get(exp, "data"));
	struct xgb_output out;
	int checked = 0;

	cr_assert_eq(xgb_model_num_features(x), r.ncols, "%s", name);
	cr_assert_str_eq(xgb_model_class_name(x), json_string_value(json_object_get(exp, "model_class")));
	cr_assert_str_eq(xgb_model_objective(x), json_string_value(json_object_get(exp, "objective")));
	for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
		json_t *want = json_object_get(exp, methods[k].key);
		char what[128];
		struct xgb_shape sh;

		if (!want) {
			if (methods[k].method == XGB_PREDICT_PROBA) {
				cr_assert_eq(xgb_model_shape(x, XGB_PREDICT_PROBA, &sh), CAIRN_EUNSUPPORTED, "%s", name);
				cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, XGB_PREDICT_PROBA, &out),
					     CAIRN_EUNSUPPORTED, "%s", name);
			}
			continue;
		}
		cr_assert_eq(json_array_size(want), r.n, "%s %s", name, methods[k].key);
		snprintf(what, sizeof(what), "%s %s batched", name, methods[k].key);
		cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, methods[k].method, &out), 0, "%s: %s", what,
			     cairn_error_msg());
		cr_assert_eq(out.nrows, r.n);
		cr_assert_eq(xgb_model_shape(x, methods[k].method, &sh), 0);
		cr_assert(sh.kind == out.shape.kind && sh.matrix == out.shape.matrix && sh.width == out.shape.width,
			  "%s: shape differs from xgb_model_shape", what);
		check_output(what, &out, want, 0);
		snprintf(what, sizeof(what), "%s %s single-row", name, methods[k].key);
		for (size_t i = 0; i < r.n; i++) {
			cr_assert_eq(xgb_predict(x, ctx, r.x + i * r.ncols, 1, r.ncols, methods[k].method, &out), 0,
				     "%s: %s", what, cairn_error_msg());
			cr_assert_eq(out.nrows, 1);
			check_output(what, &out, want, i);
		}
		checked++;
	}
	cr_assert(checked >= 1, "%s: nothing expected", name);
	free(r.x);
	json_decref(exp);
}

/* A scratch directory, removed by rm -rf at the end of the test. */
static void scratch(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/cairn-xgb-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = 0;
	*len = (size_t)n;
	return p;
}

static void write_all(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* A copy of a fixture's directory (MLmodel and model file) in a scratch dir,
 * with `from` replaced by `to` in the MLmodel text. */
static void copy_fixture(const char *name, const char *file, const char *dir, const char *from, const char *to)
{
	char src[256], dst[256];
	size_t n;
	char *text;

	snprintf(src, sizeof(src), FIXTURES "%s/MLmodel", name);
	text = read_all(src, &n);
	snprintf(dst, sizeof(dst), "%s/MLmodel", dir);
	if (from) {
		char *at = strstr(text, from), *edited;
		cr_assert_not_null(at, "%s not in %s", from, src);
		edited = malloc(n + strlen(to) + 1);
		memcpy(edited, text, (size_t)(at - text));
		strcpy(edited + (at - text), to);
		strcat(edited, at + strlen(from));
		write_all(dst, edited, strlen(edited));
		free(edited);
	} else {
		write_all(dst, text, n);
	}
	free(text);
	if (file) {
		snprintf(src, sizeof(src), FIXTURES "%s/%s", name, file);
		text = read_all(src, &n);
		snprintf(dst, sizeof(dst), "%s/%s", dir, file);
		write_all(dst, text, n);
		free(text);
	}
}

/* ---------- every fixture, as MLflow's pyfunc answers ---------- */

Test(model_xgb, fixtures_predict_what_mlflow_pyfunc_returns)
{
	struct xgb_ctx *ctx = NULL;

	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	for (size_t i = 0; i < NFIX; i++) {
		struct xgb_model *x = load_dir(fixtures[i], NULL);
		check_fixture(fixtures[i], x, ctx);
		xgb_model_free(x);
	}
	xgb_ctx_free(ctx);
}

Test(model_xgb, big_batches_on_threads_give_the_same_answers)
{
	struct xgb_opts opts = { .nthread = 2, .batch_rows = 4 };
	struct xgb_ctx *ctx = NULL;

	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	for (size_t i = 0; i < NFIX; i++) {
		struct xgb_model *x = load_dir(fixtures[i], &opts);
		check_fixture(fixtures[i], x, ctx);
		xgb_model_free(x);
	}
	xgb_ctx_free(ctx);
}

Test(model_xgb, model_description)
{
	struct xgb_model *x = load_dir("classifier_multi", NULL);
	const char *const *names = xgb_model_feature_names(x);
	struct xgb_shape sh;

	cr_assert_eq(xgb_model_class(x), XGB_CLASS_CLASSIFIER);
	cr_assert_eq(xgb_model_num_features(x), 5);
	cr_assert_not_null(names);
	for (int i = 0; i < 5; i++) {
		char want[16];
		snprintf(want, sizeof(want), "f%d", i);
		cr_assert_str_eq(names[i], want);
	}
	cr_assert_eq(xgb_model_num_class(x), 3);
	cr_assert_eq(xgb_model_shape(x, XGB_PREDICT, &sh), 0);
	cr_assert(sh.kind == XGB_KIND_LABELS && !sh.matrix && sh.width == 1);
	cr_assert_eq(xgb_model_shape(x, XGB_PREDICT_PROBA, &sh), 0);
	cr_assert(sh.kind == XGB_KIND_PROBABILITIES && sh.matrix && sh.width == 3);
	cr_assert_eq(xgb_model_shape(x, XGB_PREDICT_MARGIN, &sh), 0);
	cr_assert(sh.kind == XGB_KIND_VALUES && sh.matrix && sh.width == 3);
	cr_assert_str_eq(xgb_method_name(XGB_PREDICT_PROBA), "predict_proba");
	xgb_model_free(x);

	x = load_dir("booster_softprob", NULL);
	cr_assert_eq(xgb_model_class(x), XGB_CLASS_BOOSTER);
	cr_assert_eq(xgb_model_shape(x, XGB_PREDICT, &sh), 0);
	cr_assert(sh.kind == XGB_KIND_PROBABILITIES && sh.matrix && sh.width == 3);
	xgb_model_free(x);

	x = load_dir("regressor", NULL);
	cr_assert_eq(xgb_model_class(x), XGB_CLASS_REGRESSOR);
	cr_assert_eq(xgb_model_num_class(x), 0);
	cr_assert_eq(xgb_model_shape(x, XGB_PREDICT, &sh), 0);
	cr_assert(sh.kind == XGB_KIND_VALUES && !sh.matrix && sh.width == 1);
	xgb_model_free(x);

	x = load_dir("booster_logitraw", NULL);   /* legacy binary: no feature names */
	cr_assert_eq(xgb_model_num_features(x), 5);
	xgb_model_free(x);
}

/* sklearn's predict stops at best_iteration; the same trees as a Booster (all of them) differ. */
Test(model_xgb, early_stopping_uses_best_iteration_for_sklearn_classes)
{
	json_t *exp = expected("classifier_early");
	struct rows r = rows_of(json_object_get(exp, "data"));
	struct xgb_model *sk = load_dir("classifier_early", NULL), *all = NULL;
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	double p_sk, p_all;

	cr_assert_eq(xgb_model_load(FIXTURES "classifier_early/model.ubj", NULL, &all), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(sk, ctx, r.x, 1, r.ncols, XGB_PREDICT_PROBA, &out), 0);
	p_sk = out.data[1];
	cr_assert_eq(xgb_predict(all, ctx, r.x, 1, r.ncols, XGB_PREDICT, &out), 0);
	p_all = out.data[0];
	cr_assert(fabs(p_sk - p_all) > 1e-3, "best_iteration %lld changed nothing (%g vs %g)",
		  json_integer_value(json_object_get(exp, "best_iteration")), p_sk, p_all);
	xgb_ctx_free(ctx);
	xgb_model_free(sk);
	xgb_model_free(all);
	free(r.x);
	json_decref(exp);
}

/* ---------- bare files and directories ---------- */

Test(model_xgb, bare_model_file_is_a_booster)
{
	json_t *exp = expected("booster_binary"), *cls = expected("classifier_binary");
	struct rows r = rows_of(json_object_get(exp, "data")), rc = rows_of(json_object_get(cls, "data"));
	struct xgb_model *x = NULL;
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	json_t *proba = json_object_get(cls, "predict_proba");

	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_model_load(FIXTURES "booster_binary/model.ubj", NULL, &x), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_model_class(x), XGB_CLASS_BOOSTER);
	cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, XGB_PREDICT, &out), 0);
	check_output("bare booster", &out, json_object_get(exp, "predict"), 0);
	xgb_model_free(x);

	/* a classifier's file without its MLmodel: probabilities, not labels */
	cr_assert_eq(xgb_model_load(FIXTURES "classifier_binary/model.ubj", NULL, &x), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_predict(x, ctx, rc.x, rc.n, rc.ncols, XGB_PREDICT, &out), 0);
	cr_assert_eq(out.shape.kind, XGB_KIND_PROBABILITIES);
	for (size_t i = 0; i < rc.n; i++)
		cr_assert(fabs(out.data[i] - json_number_value(json_array_get(json_array_get(proba, i), 1))) <= TOL);
	xgb_model_free(x);

	/* a directory without a parsed MLmodel: its MLmodel is read */
	cr_assert_eq(xgb_model_load(FIXTURES "classifier_binary", NULL, &x), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_model_class(x), XGB_CLASS_CLASSIFIER);
	xgb_model_free(x);
	xgb_ctx_free(ctx);
	free(r.x);
	free(rc.x);
	json_decref(exp);
	json_decref(cls);
}

/* ---------- the serving anchor's model ---------- */

static const char *shared_dir(void)
{
	const char *s = getenv("CAIRN_SHARED");
	return s && *s ? s : "../shared";
}

/* dataframe_split rows and {"predictions": [...]} of the anchor's files. */
static void anchor_check(struct xgb_model *x, struct xgb_ctx *ctx, const char *req, const char *want)
{
	char path[512];
	json_t *rq, *ex;
	struct rows r;
	struct xgb_output out;

	snprintf(path, sizeof(path), "%s/anchors/serving/data/%s", shared_dir(), req);
	rq = load_json(path);
	snprintf(path, sizeof(path), "%s/anchors/serving/data/%s", shared_dir(), want);
	ex = load_json(path);
	r = rows_of(json_object_get(json_object_get(rq, "dataframe_split"), "data"));
	cr_assert_eq(r.ncols, xgb_model_num_features(x));
	cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, XGB_PREDICT, &out), 0, "%s", cairn_error_msg());
	check_output(req, &out, json_object_get(ex, "predictions"), 0);
	for (size_t i = 0; i < r.n; i++) {
		cr_assert_eq(xgb_predict(x, ctx, r.x + i * r.ncols, 1, r.ncols, XGB_PREDICT, &out), 0);
		check_output(req, &out, json_object_get(ex, "predictions"), i);
	}
	free(r.x);
	json_decref(rq);
	json_decref(ex);
}

Test(model_xgb, serving_anchor_model)
{
	char path[512];
	struct xgb_model *x = NULL;
	struct xgb_ctx *ctx = NULL;
	const char *const *names;

	snprintf(path, sizeof(path), "%s/anchors/serving/data/model.json", shared_dir());
	if (access(path, R_OK) != 0)
		cr_skip_test("%s is absent", path);
	cr_assert_eq(xgb_model_load(path, NULL, &x), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_model_num_features(x), 30);
	names = xgb_model_feature_names(x);
	cr_assert_not_null(names);
	cr_assert_str_eq(names[29], "f29");
	cr_assert_str_eq(xgb_model_objective(x), "binary:logistic");
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	anchor_check(x, ctx, "request_1.json", "expected_1.json");
	anchor_check(x, ctx, "request_100.json", "expected_100.json");
	xgb_ctx_free(ctx);
	xgb_model_free(x);
}

/* ---------- input ---------- */

Test(model_xgb, nan_is_missing)
{
	json_t *exp = expected("booster_binary");
	struct rows r = rows_of(json_object_get(exp, "data"));
	json_t *want = json_object_get(exp, "predict");
	struct xgb_model *x = load_dir("booster_binary", NULL);
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	float nans[5] = { NAN, NAN, NAN, NAN, NAN }, zeros[5] = { 0 };
	size_t allnan = r.n;
	double p_nan;

	for (size_t i = 0; i < r.n && allnan == r.n; i++)
		if (isnan(r.x[i * 5]) && isnan(r.x[i * 5 + 4]))
			allnan = i;
	cr_assert(allnan < r.n, "the fixture has no row of missing values");
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, nans, 1, 5, XGB_PREDICT, &out), 0);
	p_nan = out.data[0];
	cr_assert(fabs(p_nan - json_number_value(json_array_get(want, allnan))) <= TOL);
	cr_assert_eq(xgb_predict(x, ctx, zeros, 1, 5, XGB_PREDICT, &out), 0);
	cr_assert(fabs(out.data[0] - p_nan) > 1e-6, "NaN predicted like 0");
	xgb_ctx_free(ctx);
	xgb_model_free(x);
	free(r.x);
	json_decref(exp);
}

Test(model_xgb, wrong_column_count_and_empty_batches)
{
	struct xgb_model *x = load_dir("classifier_multi", NULL);
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	float row[6] = { 0 };

	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, row, 1, 4, XGB_PREDICT, &out), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "takes 5 features per row, not 4"), "%s", cairn_error_msg());
	cr_assert_eq(xgb_predict(x, ctx, row, 1, 6, XGB_PREDICT, &out), CAIRN_EINVALID);
	cr_assert_eq(xgb_predict(x, ctx, row, 0, 5, XGB_PREDICT_PROBA, &out), 0);
	cr_assert_eq(out.nrows, 0);
	cr_assert(out.shape.matrix && out.shape.width == 3);
	cr_assert_eq(xgb_predict(x, ctx, row, 1, 5, (enum xgb_method)7, &out), CAIRN_EINVALID);
	xgb_ctx_free(ctx);
	xgb_model_free(x);

	x = load_dir("regressor", NULL);
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, row, 1, 5, XGB_PREDICT_PROBA, &out), CAIRN_EUNSUPPORTED);
	cr_assert(strstr(cairn_error_msg(), "XGBRegressor has no predict_proba"), "%s", cairn_error_msg());
	xgb_ctx_free(ctx);
	xgb_model_free(x);
}

/* ---------- bad models ---------- */

Test(model_xgb, missing_files)
{
	struct xgb_model *x = (struct xgb_model *)0x1;
	char dir[64];

	cr_assert_eq(xgb_model_load("/nonexistent/model.ubj", NULL, &x), CAIRN_ENOTFOUND);
	cr_assert_null(x);
	cr_assert(strstr(cairn_error_msg(), "'/nonexistent/model.ubj' does not exist"), "%s", cairn_error_msg());

	scratch(dir, sizeof(dir));   /* an MLmodel whose model file is gone */
	copy_fixture("classifier_binary", NULL, dir, NULL, NULL);
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "/model.ubj' does not exist"), "%s", cairn_error_msg());
	rm_rf(dir);

	scratch(dir, sizeof(dir));   /* no MLmodel at all */
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_ENOTFOUND, "%s", cairn_error_msg());
	rm_rf(dir);
}

Test(model_xgb, unsupported_or_bad_flavor)
{
	struct xgb_model *x = NULL;
	char dir[64];

	scratch(dir, sizeof(dir));
	copy_fixture("classifier_binary", "model.ubj", dir, "xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBFancy");
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_EUNSUPPORTED);
	cr_assert(strstr(cairn_error_msg(), "model_class 'xgboost.sklearn.XGBFancy' is not supported"), "%s",
		  cairn_error_msg());
	rm_rf(dir);

	scratch(dir, sizeof(dir));   /* a classifier's file declared a regressor: sklearn refuses it too */
	copy_fixture("classifier_binary", "model.ubj", dir, "xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBRegressor");
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "but the file holds a classifier"), "%s", cairn_error_msg());
	rm_rf(dir);

	scratch(dir, sizeof(dir));   /* no xgboost flavor */
	copy_fixture("classifier_binary", "model.ubj", dir, "  xgboost:\n", "  xgboost_not:\n");
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "has no xgboost flavor"), "%s", cairn_error_msg());
	rm_rf(dir);

	scratch(dir, sizeof(dir));   /* a data path out of the directory */
	copy_fixture("classifier_binary", "model.ubj", dir, "    data: model.ubj\n    model_class",
		     "    data: ../model.ubj\n    model_class");
	cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_EINVALID, "%s", cairn_error_msg());
	rm_rf(dir);
	cr_assert_null(x);
}

/* Truncated and damaged copies of each format are clean errors, never a crash. */
Test(model_xgb, corrupt_and_truncated_files)
{
	static const char *const files[] = { "booster_binary/model.ubj", "booster_softprob/model.json",
					     "booster_logitraw/model.xgb" };
	char dir[64], path[128];

	scratch(dir, sizeof(dir));
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char src[256];
		size_t n, cuts[] = { 1, 2, 4, 8, 16, 64, 0, 0, 0 };
		char *data;

		snprintf(src, sizeof(src), FIXTURES "%s", files[f]);
		data = read_all(src, &n);
		cuts[6] = n / 3;
		cuts[7] = n / 2;
		cuts[8] = n - 1;
		snprintf(path, sizeof(path), "%s/%s", dir, strrchr(files[f], '/') + 1);
		for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
			struct xgb_model *x = NULL;
			int rc;

			write_all(path, data, cuts[c]);
			rc = xgb_model_load(path, NULL, &x);
			cr_assert_eq(rc, CAIRN_EINVALID, "%s cut at %zu: rc %d (%s)", files[f], cuts[c], rc,
				     cairn_error_msg());
			cr_assert_null(x);
			cr_assert(strstr(cairn_error_msg(), "xgboost model '"), "%s", cairn_error_msg());
			cr_assert_null(strchr(cairn_error_msg(), '\n'), "multi-line: %s", cairn_error_msg());
		}
		free(data);
	}
	write_all(path, "", 0);
	{
		struct xgb_model *x = NULL;
		cr_assert_eq(xgb_model_load(path, NULL, &x), CAIRN_EINVALID);
		cr_assert(strstr(cairn_error_msg(), "the file is empty"), "%s", cairn_error_msg());
		write_all(path, "this is not a model at all, not even close", 42);
		cr_assert_eq(xgb_model_load(path, NULL, &x), CAIRN_EINVALID);
		cr_assert(strstr(cairn_error_msg(), "malformed legacy binary model"), "%s", cairn_error_msg());
		cr_assert_eq(xgb_model_load(dir, NULL, &x), CAIRN_ENOTFOUND, "%s", cairn_error_msg());
	}
	rm_rf(dir);
}

/* Documents whose indexes would send libxgboost out of bounds are refused
 * before it reads them (each edit crashed libxgboost 1.7.4 at load or predict). */
Test(model_xgb, hostile_documents_are_refused)
{
	static const struct {
		const char *from, *to, *why;
		int code;
	} edits[] = {
		{ "\"left_children\":[1,", "\"left_children\":[100000,", "has children 100000", CAIRN_EINVALID },
		{ "\"left_children\":[1,", "\"left_children\":[0,", "has children 0", CAIRN_EINVALID },
		{ "\"split_indices\":[2,", "\"split_indices\":[7,", "splits on feature 7 of 5", CAIRN_EINVALID },
		{ "\"parents\":[2147483647,0,", "\"parents\":[2147483647,99,", "has parent 99", CAIRN_EINVALID },
		{ "\"tree_info\":[0,1,2,", "\"tree_info\":[0,1,50,", "tree_info[2] = 50", CAIRN_EINVALID },
		{ "\"num_parallel_tree\":\"1\"", "\"num_parallel_tree\":\"9\"", "no whole number of rounds",
		  CAIRN_EINVALID },
		{ "\"id\":1,", "\"id\":0,", "repeated", CAIRN_EINVALID },
		{ "\"split_type\":[0,", "\"split_type\":[1,", "categorical splits are not supported",
		  CAIRN_EUNSUPPORTED },
		{ "\"num_nodes\":\"13\"", "\"num_nodes\":\"100000000\"", "is not 100000000 integers",
		  CAIRN_EINVALID },
		/* past cairn's checks, refused by libxgboost: its message, one line */
		{ "\"name\":\"multi:softprob\"", "\"name\":\"multi:nonsense\"",
		  "not a loadable model: Unknown objective function: `multi:nonsense`", CAIRN_EINVALID },
	};
	char dir[64], path[128];
	size_t n;
	char *text = read_all(FIXTURES "booster_softprob/model.json", &n);

	scratch(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/model.json", dir);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *at = strstr(text, edits[i].from), *edited;
		struct xgb_model *x = NULL;
		size_t k;

		cr_assert_not_null(at, "%s", edits[i].from);
		k = (size_t)(at - text);
		edited = malloc(n + strlen(edits[i].to) + 1);
		memcpy(edited, text, k);
		memcpy(edited + k, edits[i].to, strlen(edits[i].to));
		memcpy(edited + k + strlen(edits[i].to), at + strlen(edits[i].from), n - k - strlen(edits[i].from));
		write_all(path, edited, n - strlen(edits[i].from) + strlen(edits[i].to));
		free(edited);
		cr_assert_eq(xgb_model_load(path, NULL, &x), edits[i].code, "%s: %s", edits[i].to, cairn_error_msg());
		cr_assert(strstr(cairn_error_msg(), edits[i].why), "%s: %s", edits[i].to, cairn_error_msg());
		cr_assert_null(x);
	}
	free(text);

	/* a legacy binary file: node 0's left child out of range, found in the loaded booster */
	text = read_all(FIXTURES "booster_logitraw/model.xgb", &n);
	cr_assert(n > 0x1ed && text[0x1e9] == 1, "the fixture's layout changed");
	text[0x1ec] = 0x7f;
	snprintf(path, sizeof(path), "%s/model.xgb", dir);
	write_all(path, text, n);
	{
		struct xgb_model *x = NULL;
		cr_assert_eq(xgb_model_load(path, NULL, &x), CAIRN_EINVALID, "%s", cairn_error_msg());
		cr_assert(strstr(cairn_error_msg(), "node 0 has children"), "%s", cairn_error_msg());
	}
	free(text);
	rm_rf(dir);
}

/* JSON with white space where xgboost's loader looks for '{"' still loads. */
Test(model_xgb, pretty_json_loads)
{
	json_t *exp = expected("booster_softprob");
	struct rows r = rows_of(json_object_get(exp, "data"));
	struct xgb_model *x = NULL;
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	char dir[64], path[128];
	size_t n;
	char *text = read_all(FIXTURES "booster_softprob/model.json", &n), *pretty = malloc(n + 8);

	cr_assert_eq(text[0], '{');
	memcpy(pretty, "\n {\n  ", 6);
	memcpy(pretty + 6, text + 1, n - 1);
	scratch(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/model.json", dir);
	write_all(path, pretty, n + 5);
	cr_assert_eq(xgb_model_load(path, NULL, &x), 0, "%s", cairn_error_msg());
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, XGB_PREDICT, &out), 0);
	check_output("pretty json", &out, json_object_get(exp, "predict"), 0);
	xgb_ctx_free(ctx);
	xgb_model_free(x);
	rm_rf(dir);
	free(text);
	free(pretty);
	free(r.x);
	json_decref(exp);
}

/* ---------- threads ---------- */

#define NTHREADS 8
#define ROUNDS 200

struct worker {
	struct xgb_model *x;
	const struct rows *r;
	enum xgb_method method;
	const double *want;   /* single-threaded answers, nrows * width */
	size_t width;
	int bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;

	if (xgb_ctx_new(&ctx))
		return (void *)1;
	xgb_model_ref(w->x);
	for (int k = 0; k < ROUNDS; k++) {
		size_t i = (size_t)k % w->r->n;
		if (xgb_predict(w->x, ctx, w->r->x + i * w->r->ncols, 1, w->r->ncols, w->method, &out) ||
		    memcmp(out.data, w->want + i * w->width, w->width * sizeof(double)))
			w->bad++;
		if (k % 50 == 0) {  /* and whole batches now and then */
			if (xgb_predict(w->x, ctx, w->r->x, w->r->n, w->r->ncols, w->method, &out) ||
			    memcmp(out.data, w->want, w->r->n * w->width * sizeof(double)))
				w->bad++;
		}
	}
	xgb_model_free(w->x);
	xgb_ctx_free(ctx);
	return NULL;
}

static void threads_agree(const char *name, enum xgb_method method)
{
	json_t *exp = expected(name);
	struct rows r = rows_of(json_object_get(exp, "data"));
	struct xgb_opts opts = { .nthread = 2, .batch_rows = 8 };
	struct xgb_model *x = load_dir(name, &opts);
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	double *want;

	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, r.x, r.n, r.ncols, method, &out), 0);
	want = malloc(r.n * out.shape.width * sizeof(double));
	memcpy(want, out.data, r.n * out.shape.width * sizeof(double));
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ x, &r, method, want, out.shape.width, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		cr_assert_null(ret);
		cr_assert_eq(w[i].bad, 0, "%s: thread %d: %d answers differ", name, i, w[i].bad);
	}
	free(want);
	xgb_ctx_free(ctx);
	xgb_model_free(x);
	free(r.x);
	json_decref(exp);
}

Test(model_xgb, threads_share_one_model)
{
	threads_agree("classifier_multi", XGB_PREDICT_PROBA);
	threads_agree("booster_softprob", XGB_PREDICT);
	threads_agree("regressor", XGB_PREDICT);
	threads_agree("booster_linear", XGB_PREDICT);   /* gblinear: under the model's lock */
}

/* The last reference frees the model, whoever drops it. */
Test(model_xgb, references)
{
	struct xgb_model *x = load_dir("regressor", NULL);
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	float row[5] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f };

	cr_assert_eq(xgb_model_ref(x), x);
	xgb_model_free(x);   /* the loader's reference */
	cr_assert_eq(xgb_ctx_new(&ctx), 0);
	cr_assert_eq(xgb_predict(x, ctx, row, 1, 5, XGB_PREDICT, &out), 0);
	xgb_model_free(x);   /* the last: freed (LeakSanitizer would tell) */
	xgb_model_free(NULL);
	xgb_ctx_free(ctx);
	xgb_ctx_free(NULL);
}

/* ---------- allocation failures ---------- */

/* Fail each allocation of f in turn: every failure is CAIRN_ENOMEM and leaks nothing. */
static void sweep(const char *what, int (*f)(void *), void *arg)
{
	uint64_t calls;

	fault_arm(FAULT_ALLOC, 0, FAULT_THIS_THREAD);
	cr_assert_eq(f(arg), 0, "%s: %s", what, cairn_error_msg());
	calls = fault_calls();
	fault_disarm();
	cr_assert(calls > 0, "%s allocates nothing", what);
	for (uint64_t n = 1; n <= calls; n++) {
		int rc;

		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		rc = f(arg);
		fault_disarm();
		cr_assert_eq(rc, CAIRN_ENOMEM, "%s: allocation %llu of %llu failed: rc %d (%s)", what,
			     (unsigned long long)n, (unsigned long long)calls, rc, cairn_error_msg());
	}
}

struct load_arg {
	const char *path;
	const struct mlmodel *m;   /* parsed outside the sweep: core/yaml has its own tests */
	int nthread;
};

static int load_free(void *arg)
{
	struct load_arg *a = arg;
	struct xgb_model *x = NULL;
	int rc = xgb_model_load_opts(a->path, a->m, &(struct xgb_opts){ .nthread = a->nthread }, &x);

	xgb_model_free(x);
	return rc;
}

struct predict_arg {
	struct xgb_model *x;
	struct rows r;
	enum xgb_method method;
};

static int ctx_predict(void *arg)
{
	struct predict_arg *p = arg;
	struct xgb_ctx *ctx = NULL;
	struct xgb_output out;
	int rc;

	if ((rc = xgb_ctx_new(&ctx)))
		return rc;
	rc = xgb_predict(p->x, ctx, p->r.x, p->r.n, p->r.ncols, p->method, &out);
	xgb_ctx_free(ctx);
	return rc;
}

/* Loading: one model of each document reader and class path (every allocation
 * of a load is failed in turn, so this is quadratic: not all fixtures). */
Test(model_xgb, allocation_failures_in_load_are_enomem_without_leaks)
{
	static const struct {
		const char *name;
		int nthread;
	} cases[] = {
		{ "classifier_multi", 1 },   /* UBJSON trees, scikit-learn meta */
		{ "booster_linear", 1 },     /* JSON, gblinear */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[128];
		struct mlmodel *m = NULL;
		struct load_arg la = { dir, NULL, cases[i].nthread };

		snprintf(dir, sizeof(dir), FIXTURES "%s", cases[i].name);
		cr_assert_eq(mlmodel_load(dir, &m), 0);
		la.m = m;
		sweep(dir, load_free, &la);
		mlmodel_free(m);
	}
	{   /* a bare legacy binary file: its lengths, then the loaded booster's document */
		struct load_arg la = { FIXTURES "booster_logitraw/model.xgb", NULL, 1 };
		sweep(la.path, load_free, &la);
	}
}

/* Predicting: every fixture, every method it has. */
Test(model_xgb, allocation_failures_in_predict_are_enomem_without_leaks)
{
	for (size_t i = 0; i < NFIX; i++) {
		json_t *exp = expected(fixtures[i]);
		struct predict_arg p = { NULL, rows_of(json_object_get(exp, "data")), XGB_PREDICT };

		p.x = load_dir(fixtures[i], NULL);
		sweep("predict", ctx_predict, &p);
		if (json_object_get(exp, "predict_margin")) {
			p.method = XGB_PREDICT_MARGIN;
			sweep("predict_margin", ctx_predict, &p);
		}
		if (json_object_get(exp, "predict_proba")) {
			p.method = XGB_PREDICT_PROBA;
			sweep("predict_proba", ctx_predict, &p);
		}
		xgb_model_free(p.x);
		free(p.r.x);
		json_decref(exp);
	}
}
