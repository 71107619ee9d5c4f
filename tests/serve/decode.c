/* Unit tests for serve/decode: MLflow's formats, CSV, OIP, signatures, params, parity with MLflow itself, faults. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "serve/decode.h"

static void fini(void) { fault_disarm(); }

TestSuite(serve_decode, .fini = fini);

#define J "application/json"
#define CSV "text/csv"

/* A model whose MLmodel signature is inputs (and params), JSON text; NULL: none. */
static struct mlmodel *model_with(const char *inputs, const char *params)
{
	struct mlmodel *m = NULL;
	json_t *in = inputs ? json_loads(inputs, 0, NULL) : NULL, *p = params ? json_loads(params, 0, NULL) : NULL;

	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.json", &m), 0);
	cr_assert(!inputs || in, "bad test JSON %s", inputs);
	if (inputs || params)
		cr_assert_eq(mlmodel_set_signature(m, in, NULL, p), 0, "%s", cairn_error_msg());
	json_decref(in);
	json_decref(p);
	return m;
}

struct model {
	struct mlmodel *m;
	struct serve_input in;
};

static void model_open(struct model *md, const char *inputs, const char *params, char *const *names, size_t n)
{
	md->m = model_with(inputs, params);
	cr_assert_eq(serve_input_from_signature(md->m, names, n, &md->in), 0, "%s", cairn_error_msg());
}

static void model_close(struct model *md)
{
	serve_input_release(&md->in);
	mlmodel_free(md->m);
}

#define AB "[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\"}]"

/* Decode body; it must succeed with rows x cols values want (NAN allowed). */
static void ok(const struct serve_input *in, const char *ct, const char *body, size_t rows, const float *want)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	int rc = serve_decode_mlflow(in, ct, body, strlen(body), &f);

	cr_assert_eq(rc, 0, "%s\n-> %d %s", body, rc, cairn_error_msg());
	cr_assert_eq(f.nrows, rows, "%s: %zu rows", body, f.nrows);
	cr_assert_eq(f.ncols, in->ncols);
	for (size_t i = 0; i < rows * in->ncols; i++) {
		if (isnan(want[i]))
			cr_assert(isnan(f.x[i]), "%s: cell %zu is %g, want NaN", body, i, f.x[i]);
		else
			cr_assert_eq(f.x[i], want[i], "%s: cell %zu is %.9g, want %.9g", body, i, f.x[i], want[i]);
	}
	serve_frame_release(&f);
}

/* Decode body; it must fail with code and a message containing msg. */
static void fails(const struct serve_input *in, const char *ct, const char *body, int code, const char *msg)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	int rc = serve_decode_mlflow(in, ct, body, strlen(body), &f);

	cr_assert_eq(rc, code, "%s\n-> %d %s", body, rc, cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), msg), "%s\n-> '%s'\nlacks '%s'", body, cairn_error_msg(), msg);
	cr_assert_null(f.x);
	cr_assert_null(f.params);
}

Test(serve_decode, every_format_gives_the_same_matrix)
{
	struct model md;
	const float want[] = { 1.5f, 2, -3, 4 };

	model_open(&md, AB, NULL, NULL, 0);
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[1.5,2],[-3,4]]}}", 2, want);
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"b\",\"a\"],\"data\":[[2,1.5],[4,-3]],\"index\":[0,1]}}", 2, want);
	ok(&md.in, J, "{\"dataframe_records\":[{\"a\":1.5,\"b\":2},{\"b\":4,\"a\":-3,\"extra\":\"x\"}]}", 2, want);
	ok(&md.in, J, "{\"instances\":[{\"a\":1.5,\"b\":2},{\"a\":-3,\"b\":4}]}", 2, want);
	ok(&md.in, J, "{\"inputs\":{\"a\":[1.5,-3],\"b\":[2,4]}}", 2, want);
	ok(&md.in, J, "{\"inputs\":[{\"a\":1.5,\"b\":2},{\"a\":-3,\"b\":4}]}", 2, want);
	ok(&md.in, CSV, "a,b\n1.5,2\n-3,4\n", 2, want);
	ok(&md.in, "text/csv; charset=UTF-8", "b,a\r\n2,1.5\r\n4,-3", 2, want);
	model_close(&md);
}

Test(serve_decode, content_types)
{
	struct model md;
	const char *body = "{\"inputs\":{\"a\":[1],\"b\":[2]}}";
	const float want[] = { 1, 2 };

	model_open(&md, AB, NULL, NULL, 0);
	ok(&md.in, "application/json; charset=utf-8", body, 1, want);
	ok(&md.in, " application/json ;charset=UTF-8 ", body, 1, want);
	/* mlflow/pyfunc/scoring_server/__init__.py, invocations(): */
	/* response="The scoring server only supports UTF-8", status=415 */
	fails(&md.in, "application/json; charset=latin-1", body, CAIRN_EUNSUPPORTED, "The scoring server only supports UTF-8");
	fails(&md.in, "application/json; charset=utf8", body, CAIRN_EUNSUPPORTED, "only supports UTF-8");
	/* f"Unrecognized content type parameters: {', '.join(unexpected_content_parameters)}. ..." */
	fails(&md.in, "application/json; format=pandas-split", body, CAIRN_EUNSUPPORTED,
	      "Unrecognized content type parameters: format. IMPORTANT: The MLflow Model scoring protocol has changed");
	/* "This predictor only supports the following content types: Types: {CONTENT_TYPES}. Got '{content_type}'." */
	fails(&md.in, "text/plain", body, CAIRN_EUNSUPPORTED,
	      "This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got 'text/plain'.");
	fails(&md.in, "Application/JSON", body, CAIRN_EUNSUPPORTED, "Got 'Application/JSON'.");
	fails(&md.in, NULL, body, CAIRN_EUNSUPPORTED, "Got 'None'.");
	model_close(&md);
}

Test(serve_decode, body_errors_are_mlflows)
{
	struct model md;
	struct serve_frame f = SERVE_FRAME_INIT;

	model_open(&md, AB, NULL, NULL, 0);
	/* _decode_json_input: f"Ensure that input is a valid JSON formatted string. Error: '{ex!r}'..." */
	fails(&md.in, J, "{bad", CAIRN_EINVALID, "Invalid input. Ensure that input is a valid JSON formatted string. Error: '");
	/* f"{REQUIRED_INPUT_FORMAT}. Received a list." */
	fails(&md.in, J, "[1,2]", CAIRN_EINVALID,
	      "Invalid input. The input must be a JSON dictionary with exactly one of the input fields "
	      "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}. Received a list.");
	fails(&md.in, J, "5", CAIRN_EINVALID, "Received unexpected input type '<class 'int'>.");
	/* infer_and_parse_data: f"{REQUIRED_INPUT_FORMAT}. {message}. {SCORING_PROTOCOL_CHANGE_INFO}" */
	fails(&md.in, J, "{\"a\":1}", CAIRN_EINVALID, "Received dictionary with input fields: []. IMPORTANT:");
	fails(&md.in, J, "{\"inputs\":{},\"instances\":[]}", CAIRN_EINVALID,
	      "Received dictionary with input fields: ['inputs', 'instances'].");
	cr_assert_eq(serve_decode_mlflow(&md.in, J, "[1]", 3, &f), CAIRN_EINVALID);
	cr_assert_str_eq(f.error_code, "BAD_REQUEST");
	cr_assert_eq(serve_decode_mlflow(&md.in, J, "{\"inputs\":{\"a\":[1]}}", 20, &f), CAIRN_EINVALID);
	cr_assert_str_eq(f.error_code, "INVALID_PARAMETER_VALUE");
	cr_assert_eq(serve_decode_mlflow(&md.in, "text/xml", "", 0, &f), CAIRN_EUNSUPPORTED);
	cr_assert_null(f.error_code);
	model_close(&md);
}

Test(serve_decode, python_literals_and_big_numbers)
{
	struct model md;
	const float want[] = { NAN, 2, INFINITY, 3, -INFINITY, 4, INFINITY, 5 };

	model_open(&md, AB, NULL, NULL, 0);
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[NaN,2],[Infinity,3],[-Infinity,4],"
	   "[1e400,5]]}}", 4, want);
	/* inside strings they stay text */
	fails(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[\"NaN x\",2]]}}", CAIRN_EINVALID,
	      "could not convert string to float: 'NaN x'");
	fails(&md.in, J, "{\"inputs\":{\"a\":[NaNa],\"b\":[1]}}", CAIRN_EINVALID, "valid JSON formatted string");
	model_close(&md);
}

Test(serve_decode, missing_extra_and_optional_columns)
{
	struct model md;
	const float nan_b[] = { 1, NAN, 2, NAN };

	model_open(&md, "[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\",\"required\":false}]",
		   NULL, NULL, 0);
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"zz\"],\"data\":[[1,\"x\"],[2,\"y\"]]}}", 2, nan_b);
	ok(&md.in, J, "{\"inputs\":{\"a\":[1,2]}}", 2, nan_b);
	ok(&md.in, CSV, "a\n1\n2\n", 2, nan_b);
	/* _enforce_schema: f"Model is missing inputs {missing_cols}." + f" Note that there were extra inputs: {extra_cols}." */
	fails(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"b\",\"c\"],\"data\":[[1,2]]}}", CAIRN_EINVALID,
	      "Failed to enforce schema of data with schema '['a': double (required), 'b': long (optional)]'. "
	      "Error: Model is missing inputs ['a']. Note that there were extra inputs: ['c'].");
	fails(&md.in, J, "{\"inputs\":[[1,2]]}", CAIRN_EINVALID,
	      "Model is missing inputs ['a']. Note that there were extra inputs: [0, 1].");
	model_close(&md);
}

Test(serve_decode, casts_follow_each_formats_path)
{
	struct model md;
	const float trunc[] = { 1, 2, 1, -2 };
	const float strs[] = { 1.5f, 2 };

	model_open(&md, AB, NULL, NULL, 0);
	/* pandas' astype: 2.7 in a long column becomes 2; numeric strings convert */
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[1,2.7],[1,-2.7]]}}", 2, trunc);
	ok(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[\"1.5\",\" 2 \"]]}}", 1, strs);
	ok(&md.in, J, "{\"instances\":[{\"a\":\"1.5\",\"b\":\"2\"}]}", 1, strs);
	/* cast_df_types_according_to_schema: MlflowFailedTypeConversion(col_name, col_type, ex) */
	fails(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[1,2],[2,null]]}}", CAIRN_EINVALID,
	      "Invalid input. Data is not compatible with model signature. Failed to convert column b to type 'int64'. "
	      "Error: 'IntCastingNaNError('Cannot convert non-finite values (NA or inf) to integer')'");
	fails(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[\"x\",\"y\"]]}}", CAIRN_EINVALID,
	      "Failed to convert column a to type 'float64'. Error: 'ValueError(\"could not convert string to float: 'x'\")'");
	/* convert_data_type: MlflowInvalidInputException(f"{ex}") */
	fails(&md.in, J, "{\"inputs\":{\"a\":[1,2],\"b\":[3.5,null]}}", CAIRN_EINVALID,
	      "Invalid input. int() argument must be a string, a bytes-like object or a real number, not 'NoneType'");
	/* _enforce_mlflow_datatype: f"Incompatible input types for column {name}. Can not safely convert ..." */
	fails(&md.in, J, "{\"inputs\":[{\"a\":1,\"b\":2},{\"a\":3}]}", CAIRN_EINVALID,
	      "Incompatible input types for column b. Can not safely convert float64 to int64. Hint: the type mismatch");
	/* read_csv(dtype=...) */
	fails(&md.in, CSV, "a,b\n1.5,2.5\n", CAIRN_EINVALID,
	      "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas "
	      "DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'cannot safely convert passed "
	      "user dtype of int64 for float64 dtyped data in column 1'");
	model_close(&md);
}

Test(serve_decode, without_a_signature)
{
	struct model named, plain;
	char *names[] = { "f0", "f1" };
	const float want[] = { 1, 2, 3, 4 };

	model_open(&named, NULL, NULL, names, 2);
	model_open(&plain, NULL, NULL, NULL, 2);
	ok(&named.in, J, "{\"dataframe_split\":{\"columns\":[\"f1\",\"f0\"],\"data\":[[2,1],[4,3]]}}", 2, want);
	ok(&named.in, J, "{\"dataframe_split\":{\"data\":[[1,2],[3,4]]}}", 2, want);
	ok(&named.in, J, "{\"instances\":[[1,2],[3,4]]}", 2, want);
	ok(&named.in, J, "{\"inputs\":{\"f0\":[1,3],\"f1\":[2,4]}}", 2, want);
	ok(&named.in, J, "{\"instances\":[{\"f0\":1,\"f1\":2},{\"f0\":3,\"f1\":4}]}", 2, want);
	ok(&named.in, CSV, "f0,f1\n1,2\n3,4\n", 2, want);
	ok(&plain.in, J, "{\"inputs\":[[1,2],[3,4]]}", 2, want);
	ok(&plain.in, J, "{\"dataframe_split\":{\"columns\":[\"x\",\"y\"],\"data\":[[1,2],[3,4]]}}", 2, want);
	ok(&plain.in, J, "{\"dataframe_records\":[{\"x\":1,\"y\":2},{\"x\":3,\"y\":4}]}", 2, want);
	ok(&plain.in, CSV, "x,y\n1,2\n3,4\n", 2, want);
	fails(&named.in, J, "{\"dataframe_split\":{\"columns\":[\"f0\"],\"data\":[[1]]}}", CAIRN_EINVALID,
	      "Model is missing inputs ['f1'].");
	fails(&plain.in, J, "{\"inputs\":[[1,2,3]]}", CAIRN_EINVALID, "The model takes rows of 2 values");
	fails(&plain.in, J, "{\"dataframe_split\":{\"columns\":[\"x\",\"y\"],\"data\":[[1,\"z\"]]}}", CAIRN_EINVALID,
	      "holds 'z'; this model takes numbers");
	model_close(&named);
	model_close(&plain);
}

Test(serve_decode, tensor_signatures)
{
	struct model t, t3;
	const float want[] = { 1, 2, 3, 4, 5, 6 };

	model_open(&t, "[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,3]}}]", NULL, NULL, 0);
	model_open(&t3, "[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float64\",\"shape\":[-1,2,3]}}]", NULL, NULL, 0);
	cr_assert_eq(t3.in.ncols, 6);
	ok(&t.in, J, "{\"inputs\":[[1,2,3],[4,5,6]]}", 2, want);
	ok(&t.in, J, "{\"instances\":[[1,2,3],[4,5,6]]}", 2, want);
	ok(&t.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\",\"c\"],\"data\":[[1,2,3],[4,5,6]]}}", 2, want);
	ok(&t3.in, J, "{\"inputs\":[[[1,2,3],[4,5,6]]]}", 1, want);
	/* _enforce_tensor_spec: f"Shape of input {actual_shape} does not match expected shape {expected_shape}." */
	fails(&t.in, J, "{\"inputs\":[[1,2]]}", CAIRN_EINVALID,
	      "Failed to enforce schema of data with schema '[Tensor('float32', (-1, 3))]'. Error: Shape of input (1, 2) "
	      "does not match expected shape (-1, 3).");
	fails(&t.in, J, "{\"inputs\":[1,2,3]}", CAIRN_EINVALID, "Shape of input (3,) does not match expected shape (-1, 3).");
	fails(&t3.in, J, "{\"inputs\":[[1,2,3,4,5,6]]}", CAIRN_EINVALID,
	      "Shape of input (1, 6) does not match expected shape (-1, 2, 3).");
	fails(&t.in, J, "{\"inputs\":[[1,2,3],[4,5]]}", CAIRN_EINVALID,
	      "Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape "
	      "after 1 dimensions. The detected shape was (2,) + inhomogeneous part.");
	fails(&t.in, J, "{\"inputs\":{\"a\":[1,2,3]}}", CAIRN_EINVALID,
	      "This model contains an un-named  model signature which expects a single n-dimensional array");
	model_close(&t);
	model_close(&t3);
}

Test(serve_decode, signatures_a_float_matrix_cannot_carry)
{
	struct mlmodel *m = model_with("[{\"type\":\"string\",\"name\":\"s\"}]", NULL);
	struct serve_input in;

	cr_assert_eq(serve_input_from_signature(m, NULL, 0, &in), CAIRN_EUNSUPPORTED);
	cr_assert(strstr(cairn_error_msg(), "'s' is of type string"), "%s", cairn_error_msg());
	mlmodel_free(m);
	m = model_with("[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,-1]}}]", NULL);
	cr_assert_eq(serve_input_from_signature(m, NULL, 0, &in), CAIRN_EUNSUPPORTED);
	mlmodel_free(m);
	m = model_with(AB, NULL);
	cr_assert_eq(serve_input_from_signature(m, NULL, 3, &in), CAIRN_EINVALID, "3 features but 2 columns");
	mlmodel_free(m);
	cr_assert_eq(serve_input_from_signature(NULL, NULL, 0, &in), CAIRN_EINVALID);
}

#define PARAMS "[{\"name\":\"k\",\"type\":\"long\",\"default\":1,\"shape\":null}," \
	"{\"name\":\"t\",\"type\":\"double\",\"default\":1,\"shape\":null}," \
	"{\"name\":\"l\",\"type\":\"long\",\"default\":[1,2],\"shape\":[-1]}]"

static void params_are(const struct serve_input *in, const char *body, const char *want)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *w = json_loads(want, 0, NULL);
	char *got;

	cr_assert_eq(serve_decode_mlflow(in, J, body, strlen(body), &f), 0, "%s: %s", body, cairn_error_msg());
	got = json_dumps(f.params, JSON_COMPACT);
	cr_assert(json_equal(f.params, w), "%s: params %s, want %s", body, got, want);
	free(got);
	json_decref(w);
	serve_frame_release(&f);
}

Test(serve_decode, params_against_the_param_schema)
{
	struct model md, none;
	struct serve_frame f = SERVE_FRAME_INIT;

	model_open(&md, "[{\"type\":\"double\",\"name\":\"a\"}]", PARAMS, NULL, 0);
	model_open(&none, "[{\"type\":\"double\",\"name\":\"a\"}]", NULL, NULL, 0);
	/* defaults as ParamSpec converts them (a double's 1 is 1.0) */
	params_are(&md.in, "{\"inputs\":{\"a\":[1]}}", "{\"k\":1,\"t\":1.0,\"l\":[1,2]}");
	params_are(&md.in, "{\"inputs\":{\"a\":[1]},\"params\":{\"t\":2,\"zz\":\"ignored\"}}", "{\"t\":2.0,\"k\":1,\"l\":[1,2]}");
	params_are(&md.in, "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":null,\"l\":[]}}", "{\"k\":null,\"l\":[],\"t\":1.0}");
	/* _enforce_param_datatype: f"Can not safely convert `{type(value)}` to `{dtype}` for value `{value}`" */
	fails(&md.in, J, "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":\"x\"}}", CAIRN_EINVALID,
	      "Invalid parameters found: {('k', \"Failed to validate type and shape for 'k': long (default: 1), error: Can "
	      "not safely convert `<class 'str'>` to `DataType.long` for value `x`\")}");
	fails(&md.in, J, "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":true}}", CAIRN_EINVALID, "`<class 'bool'>` to `DataType.long`");
	/* validate_type_and_shape: f"Value must be a 1D array with shape (-1,) for param {spec}, received ..." */
	fails(&md.in, J, "{\"inputs\":{\"a\":[1]},\"params\":{\"l\":3}}", CAIRN_EINVALID,
	      "Value must be a 1D array with shape (-1,) for param 'l': long (default: [1, 2]) (shape: (-1,)), received int with ndim 0");
	fails(&md.in, J, "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":[1]}}", CAIRN_EINVALID,
	      "Value must be a scalar for type `DataType.long`, got `[1]`");
	/* _enforce_params_schema: f"Parameters must be a dictionary. Got type '{type(params).__name__}'." */
	fails(&md.in, J, "{\"inputs\":{\"a\":[1]},\"params\":[1]}", CAIRN_EINVALID, "Parameters must be a dictionary. Got type 'list'.");
	/* no ParamSchema: params are ignored */
	cr_assert_eq(serve_decode_mlflow(&none.in, J, "{\"inputs\":{\"a\":[1]},\"params\":5}", 31, &f), 0);
	cr_assert_null(f.params);
	serve_frame_release(&f);
	model_close(&md);
	model_close(&none);
}

Test(serve_decode, csv_quoting_and_structure)
{
	struct model md;
	const float want[] = { 1.5f, 2, 3, 4 };
	const float idx[] = { 1, 2, 4, 5 };

	model_open(&md, AB, NULL, NULL, 0);
	ok(&md.in, CSV, "\xEF\xBB\xBF\"a\",\"b\"\n\"1.5\",\"2\"\n\n3,4", 2, want);
	ok(&md.in, CSV, "a,b\n0,1,2\n3,4,5\n", 2, idx);   /* one more field than the header: the index */
	fails(&md.in, CSV, "a,b\n1,2\n3,4,5\n", CAIRN_EINVALID,
	      "Error: 'Error tokenizing data. C error: Expected 2 fields in line 3, saw 3\n'");
	fails(&md.in, CSV, "", CAIRN_EINVALID, "Error: 'No columns to parse from file'");
	fails(&md.in, CSV, "a,b\n\"1,5\",2\n", CAIRN_EINVALID, "could not convert string to float: '1,5'");
	fails(&md.in, CSV, "a,b\n\"open,2\n", CAIRN_EINVALID, "unterminated quoted field");
	fails(&md.in, CSV, ",b\n1,2\n", CAIRN_EINVALID, "Model is missing inputs ['a']. Note that there were extra inputs: ['Unnamed: 0'].");
	fails(&md.in, CSV, "a,a\n1,2\n", CAIRN_EINVALID, "Model is missing inputs ['b']. Note that there were extra inputs: ['a.1'].");
	model_close(&md);
}

/* ---- rows of a stream (cairn predict) ---- */

/* The records of csv (header first) through serve_csv_map, row by row, into x (nrows x ncols). */
struct rowdec {
	const struct serve_input *in;
	struct serve_csv_map *map;
	float *x;
	size_t nrows, cap;
	int rc;
	char msg[1024];
};

static int rows_record(void *ctx, const struct ccsv_record *rec)
{
	struct rowdec *rd = ctx;

	if (rec->index == 1) {
		rd->rc = serve_csv_map_new(rd->in, rec->fields, rec->nfields, &rd->map);
		snprintf(rd->msg, sizeof(rd->msg), "%s", cairn_error_msg());
		return rd->rc ? CCSV_STOP : 0;
	}
	if (rec->index == 2)
		serve_csv_map_first(rd->map, rec->nfields);
	if (rd->nrows == rd->cap) {
		rd->cap = rd->cap ? rd->cap * 2 : 16;
		rd->x = realloc(rd->x, rd->cap * rd->in->ncols * sizeof(float));
	}
	rd->rc = serve_csv_map_row(rd->map, rec->fields, rec->nfields, rd->x + rd->nrows * rd->in->ncols);
	snprintf(rd->msg, sizeof(rd->msg), "%s", cairn_error_msg());
	rd->nrows++;
	return rd->rc ? CCSV_STOP : 0;
}

static int rows_csv(const struct serve_input *in, const char *csv, struct rowdec *rd)
{
	int rc;

	memset(rd, 0, sizeof(*rd));
	rd->in = in;
	rc = ccsv_read(csv, strlen(csv), &(struct ccsv_options){ .strict = true }, rows_record, rd);
	if (rc < 0) {
		rd->rc = rc;
		snprintf(rd->msg, sizeof(rd->msg), "%s", cairn_error_msg());
	}
	serve_csv_map_free(rd->map);
	rd->map = NULL;
	return rd->rc;
}

/* Row by row must give what the whole body as a text/csv request gives, bit for bit. */
static void rows_like_request(const struct serve_input *in, const char *csv)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	struct rowdec rd;
	int rc = serve_decode_mlflow(in, CSV, csv, strlen(csv), &f);

	cr_assert_eq(rc, 0, "%s\n-> %s", csv, cairn_error_msg());
	cr_assert_eq(rows_csv(in, csv, &rd), 0, "%s\n-> %s", csv, rd.msg);
	cr_assert_eq(rd.nrows, f.nrows);
	for (size_t i = 0; i < f.nrows * in->ncols; i++)
		cr_assert(memcmp(&rd.x[i], &f.x[i], sizeof(float)) == 0 || (isnan(rd.x[i]) && isnan(f.x[i])),
			  "%s\ncell %zu: row by row %.9g, request %.9g", csv, i, rd.x[i], f.x[i]);
	free(rd.x);
	serve_frame_release(&f);
}

static void rows_fail(const struct serve_input *in, const char *csv, const char *msg)
{
	struct rowdec rd;

	cr_assert_eq(rows_csv(in, csv, &rd), CAIRN_EINVALID, "%s\n-> %s", csv, rd.msg);
	cr_assert(strstr(rd.msg, msg), "%s\n-> '%s'\nlacks '%s'", csv, rd.msg, msg);
	free(rd.x);
}

#define MIXED "[{\"type\":\"double\",\"name\":\"d\"},{\"type\":\"float\",\"name\":\"f\"},{\"type\":\"long\",\"name\":\"l\"}," \
	"{\"type\":\"integer\",\"name\":\"i\"},{\"type\":\"boolean\",\"name\":\"b\"},{\"type\":\"double\",\"name\":\"o\",\"required\":false}]"

Test(serve_decode, rows_of_a_csv_decode_as_the_request_does)
{
	static const char *const reals[] = { "1.5", "-0.001", "1e-3", "2E+5", ".5", "5.", "+3", "-0", "-0.0", "007",
		"12345678901234567890", "0.1234567890123456789", "9007199254740993", "1e-30", "3.4e38", "1e300", "",
		"NA", "nan", "inf", "-Infinity", " 2.5", "2.5 ", "0.30000000000000004", "123456.789e-2", "4.9e-324",
		"1.7976931348623157e308", "-2.2250738585072014e-308", "0.000000000000000000000000001" };
	struct model md;
	unsigned seed = 12345;

	model_open(&md, MIXED, NULL, NULL, 0);
	rows_like_request(&md.in, "d,f,l,i,b\n1.5,2.5,3,4,True\n-1,0,-7,2147483648,False\n");
	rows_like_request(&md.in, "b,i,l,f,d,extra\n1,1,1,1,1,x\n0,0,0,0,0,y\n");
	rows_like_request(&md.in, ",d,f,l,i,b\n0,1,2,3,4,1\n1,5,6,7,8,0\n");     /* pandas' index column */
	rows_like_request(&md.in, "d,f,l,i,b\n0,1,2,3,4,1\n1,5,6,7,8,0\n");  /* one field more: the index */
	for (int n = 0; n < 300; n++) {
		struct buf b = BUF_INIT;
		bool tf = n % 2;

		buf_puts(&b, n % 3 ? "d,f,l,i,b,o\n" : "o,b,i,l,f,d,x\n");
		for (int r = 0; r < 8; r++) {
			const char *d = reals[rand_r(&seed) % (sizeof(reals) / sizeof(reals[0]))];
			const char *fv = reals[rand_r(&seed) % (sizeof(reals) / sizeof(reals[0]))];
			const char *o = reals[rand_r(&seed) % (sizeof(reals) / sizeof(reals[0]))];
			long long l = (long long)rand_r(&seed) * (rand_r(&seed) % 2 ? -977 : 1);
			const char *bv = tf ? (rand_r(&seed) % 2 ? "True" : "false") : (rand_r(&seed) % 2 ? "1" : "0");

			if (n % 3)
				buf_printf(&b, "%s,%s,%lld,%lld,%s,%s\n", d, fv, l, l % 100000, bv, o);
			else
				buf_printf(&b, "%s,%s,%lld,%lld,%s,%s,z\n", o, bv, l % 100000, l, fv, d);
		}
		rows_like_request(&md.in, b.ptr);
		buf_release(&b);
	}
	model_close(&md);
}

Test(serve_decode, rows_of_a_csv_are_refused_as_the_request_would_be)
{
	struct model md, plain;
	char *names[] = { "f0", "f1" };
	struct rowdec rd;

	model_open(&md, AB, NULL, NULL, 0);
	rows_fail(&md.in, "a,b\n1,2\nx,3\n", "column 'a': could not convert string to float: 'x'");
	rows_fail(&md.in, "a,b\n1,\n", "column 'b': Integer column has NA values in column 1");
	rows_fail(&md.in, "a,b\n1,2.5\n", "column 'b': cannot safely convert passed user dtype of int64 for float64");
	rows_fail(&md.in, "a,b\n1,x\n", "column 'b': invalid literal for int() with base 10: 'x'");
	rows_fail(&md.in, "a,b\n1\n", "column 'b': Integer column has NA values");   /* a short row */
	rows_fail(&md.in, "a,b\n1,2\n3,4,5,6\n", "expected 2 fields, saw 4");
	rows_fail(&md.in, "a,c\n1,2\n", "Model is missing inputs ['b']. Note that there were extra inputs: ['c'].");
	cr_assert_eq(rows_csv(&md.in, "a,b\n1,2.0\n", &rd), 0, "%s", rd.msg);   /* integral: a long takes it */
	cr_assert_eq(rd.x[1], 2.0f);
	free(rd.x);
	cr_assert_eq(rows_csv(&md.in, "a,b\n,7\n", &rd), 0, "%s", rd.msg);      /* an empty double is NaN */
	cr_assert(isnan(rd.x[0]));
	free(rd.x);
	model_open(&plain, NULL, NULL, names, 2);
	rows_like_request(&plain.in, "f1,f0\n1,2\n3,4\n");
	rows_fail(&plain.in, "f1,f0\nx,2\n", "column 'f1': could not convert string to float: 'x'");
	rows_fail(&plain.in, "f1\n1\n", "missing inputs ['f0']");
	model_close(&plain);
	model_close(&md);
}

/* One JSON line must decode as a dataframe_records request of that one record. */
static void json_row_like_request(const struct serve_input *in, const char *obj, bool same_message)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	struct buf body = BUF_INIT;
	char want[1024];
	float row[16];
	int rc, rc2;

	buf_printf(&body, "{\"dataframe_records\": [%s]}", obj);
	rc = serve_decode_mlflow(in, J, body.ptr, body.len, &f);
	snprintf(want, sizeof(want), "%s", cairn_error_msg());
	rc2 = serve_decode_json_row(in, obj, strlen(obj), row);
	cr_assert_eq(rc2, rc, "%s: row %d (%s), request %d (%s)", obj, rc2, cairn_error_msg(), rc, want);
	if (rc && same_message)
		cr_assert_str_eq(cairn_error_msg(), want);
	for (size_t i = 0; !rc && i < in->ncols; i++)
		cr_assert(memcmp(&row[i], &f.x[i], sizeof(float)) == 0 || (isnan(row[i]) && isnan(f.x[i])),
			  "%s: cell %zu %.9g vs %.9g", obj, i, row[i], f.x[i]);
	serve_frame_release(&f);
	buf_release(&body);
}

Test(serve_decode, a_json_line_decodes_as_one_record)
{
	struct model md;
	float row[6];

	model_open(&md, MIXED, NULL, NULL, 0);
	json_row_like_request(&md.in, "{\"d\": 1.5, \"f\": 2, \"l\": 3, \"i\": 4, \"b\": true}", true);
	json_row_like_request(&md.in, "{\"b\": 0, \"i\": \"4\", \"l\": 2.7, \"f\": \"1.5\", \"d\": NaN, \"o\": null, \"x\": [1]}", true);
	json_row_like_request(&md.in, "{\"d\": null, \"f\": Infinity, \"l\": -3, \"i\": 2147483648, \"b\": null}", true);
	json_row_like_request(&md.in, "{\"d\": \"x\", \"f\": 2, \"l\": 3, \"i\": 4, \"b\": true}", true);
	json_row_like_request(&md.in, "{\"d\": 1, \"f\": 2, \"l\": null, \"i\": 4, \"b\": true}", true);
	json_row_like_request(&md.in, "{\"f\": 2, \"l\": 3, \"i\": 4}", true);
	json_row_like_request(&md.in, "{\"d\": 1, \"f\": 2, \"l\": 3, \"i\": 4, \"b\": true", false);
	cr_assert_eq(serve_decode_json_row(&md.in, "[1, 2]", 6, row), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "expected a JSON object"), "%s", cairn_error_msg());
	{
		const char *line = " {\"d\":1,\"f\":2,\"l\":3,\"i\":4,\"b\":1}\r";

		cr_assert_eq(serve_decode_json_row(&md.in, line, strlen(line), row), 0, "%s", cairn_error_msg());
	}
	cr_assert(isnan(row[5]));   /* the optional column, absent */
	model_close(&md);
}

Test(serve_decode, rows_survive_allocation_failures)
{
	struct model md;
	const char *hdr = "a,b,x\n1,2,3\n2,x,3\n", *obj = "{\"a\": 1, \"b\": \"x\"}";

	model_open(&md, AB, NULL, NULL, 0);
	for (uint64_t nth = 1;; nth++) {
		struct rowdec rd;
		float row[2];
		int rc, rc2;
		uint64_t calls;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = rows_csv(&md.in, hdr, &rd);
		rc2 = serve_decode_json_row(&md.in, obj, strlen(obj), row);
		calls = fault_calls();
		fault_disarm();
		free(rd.x);
		cr_assert(rc == CAIRN_EINVALID || rc == CAIRN_ENOMEM, "nth %llu: %d %s", (unsigned long long)nth, rc, rd.msg);
		cr_assert(rc2 == CAIRN_EINVALID || rc2 == CAIRN_ENOMEM, "nth %llu: %d", (unsigned long long)nth, rc2);
		if (rc == CAIRN_EINVALID && rc2 == CAIRN_EINVALID && nth > calls)
			break;
	}
	model_close(&md);
}

/* ---- the Open Inference Protocol ---- */

static void oip_ok(const struct serve_input *in, const char *body, size_t rows, const float *want)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *meta = NULL;
	int rc = serve_decode_oip(in, body, strlen(body), &f, &meta);

	cr_assert_eq(rc, 0, "%s\n-> %s", body, cairn_error_msg());
	cr_assert_eq(f.nrows, rows);
	cr_assert_eq(f.format, SERVE_FMT_OIP);
	for (size_t i = 0; i < rows * in->ncols; i++)
		cr_assert(isnan(want[i]) ? isnan(f.x[i]) : f.x[i] == want[i], "%s: cell %zu is %g, want %g", body, i,
			  f.x[i], want[i]);
	cr_assert_not_null(meta);
	json_decref(meta);
	serve_frame_release(&f);
}

static void oip_fails(const struct serve_input *in, const char *body, const char *msg)
{
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *meta = (json_t *)1;
	int rc = serve_decode_oip(in, body, strlen(body), &f, &meta);

	cr_assert_eq(rc, CAIRN_EINVALID, "%s\n-> %d %s", body, rc, cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), msg), "%s\n-> '%s'\nlacks '%s'", body, cairn_error_msg(), msg);
	cr_assert_null(meta);
	cr_assert_null(f.x);
}

Test(serve_decode, oip_one_tensor_or_one_per_column)
{
	struct model md, plain;
	const float want[] = { 1.5f, 2, -3, 4 };
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *meta = NULL;
	const char *b;

	model_open(&md, AB, NULL, NULL, 0);
	model_open(&plain, NULL, NULL, NULL, 2);
	oip_ok(&plain.in, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1.5,2,-3,4]}]}", 2, want);
	oip_ok(&plain.in, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[2,2],\"datatype\":\"FP64\",\"data\":[[1.5,2],[-3,4]]}]}", 2, want);
	oip_ok(&md.in, "{\"inputs\":[{\"name\":\"b\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[2,4]},"
	       "{\"name\":\"a\",\"shape\":[2,1],\"datatype\":\"FP64\",\"data\":[[1.5],[-3]]}]}", 2, want);
	b = "{\"id\":\"42\",\"parameters\":{\"p\":1},\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]},"
	    "{\"name\":\"b\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[2]}],\"outputs\":[{\"name\":\"predict\"}]}";
	cr_assert_eq(serve_decode_oip(&md.in, b, strlen(b), &f, &meta), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(json_string_value(json_object_get(meta, "id")), "42");
	cr_assert(json_is_object(json_object_get(meta, "parameters")));
	cr_assert(json_is_array(json_object_get(meta, "outputs")));
	json_decref(meta);
	serve_frame_release(&f);
	/* the safe casts of _enforce_mlflow_datatype */
	oip_fails(&md.in, "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]},"
		  "{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[2]}]}",
		  "Incompatible input types for column b. Can not safely convert float32 to int64.");
	oip_fails(&md.in, "{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]}]}",
		  "Model is missing inputs ['b'].");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
		  "input 'x' has shape [1, 3]; the model takes [n, 2]");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
		  "'data' is neither nested as shape [2, 2] nor a flat list of its 4 values");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[[1,2],[3]]}]}",
		  "neither nested");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"BYTES\",\"data\":[\"a\",\"b\"]}]}",
		  "datatype BYTES; this model takes numbers");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"INT8\",\"data\":[1,300]}]}",
		  "element 1 (300) is not a INT8 value");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"BOOL\",\"data\":[1,0]}]}",
		  "is not a BOOL value");
	oip_fails(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP9\",\"data\":[1,0]}]}",
		  "unknown datatype 'FP9'");
	oip_fails(&plain.in, "{\"inputs\":[]}", "needs 'inputs'");
	oip_fails(&plain.in, "[1]", "needs 'inputs'");
	oip_fails(&plain.in, "{bad", "not a JSON object");
	model_close(&md);
	model_close(&plain);
}

Test(serve_decode, oip_datatypes)
{
	struct model plain, t;
	const float bools[] = { 1, 0 }, half[] = { 0.0999755859375f, 65504 }, u[] = { 255, 0 };

	model_open(&plain, NULL, NULL, NULL, 2);
	model_open(&t, "[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,2]}}]", NULL, NULL, 0);
	oip_ok(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"BOOL\",\"data\":[true,false]}]}", 1, bools);
	oip_ok(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP16\",\"data\":[0.1,65504]}]}", 1, half);
	oip_ok(&plain.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"UINT8\",\"data\":[255,0]}]}", 1, u);
	oip_ok(&t.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,0]}]}", 1, bools);
	/* _enforce_tensor_spec: f"dtype of input {actual_type} does not match expected dtype {expected_type}" */
	oip_fails(&t.in, "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP64\",\"data\":[1,0]}]}",
		  "dtype of input float64 does not match expected dtype float32");
	model_close(&plain);
	model_close(&t);
}

/* ---- the anchor requests ---- */

static char *slurp(const char *path, size_t *n)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(path, "rb");
	char tmp[65536];
	size_t r;

	if (!f)
		return NULL;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_put(&b, tmp, r);
	fclose(f);
	*n = b.len;
	return buf_detach(&b);
}

#define ANCHORS "../shared/anchors/serving/data/"

Test(serve_decode, anchor_requests_decode_to_the_same_matrix)
{
	static const char *const files[] = { ANCHORS "request_100.json", ANCHORS "request_100_instances.json" };
	char *names[30], buf[30][16];
	struct model md;
	struct serve_frame f[2] = { SERVE_FRAME_INIT, SERVE_FRAME_INIT }, one = SERVE_FRAME_INIT;
	char *body;
	size_t n;
	struct stat st;

	if (stat(ANCHORS "request_1.json", &st))
		cr_skip_test("../shared/anchors/serving is not here");
	for (int i = 0; i < 30; i++) {
		snprintf(buf[i], sizeof(buf[i]), "f%d", i);
		names[i] = buf[i];
	}
	model_open(&md, NULL, NULL, names, 30);
	for (int i = 0; i < 2; i++) {
		body = slurp(files[i], &n);
		cr_assert_not_null(body);
		cr_assert_eq(serve_decode_mlflow(&md.in, J, body, n, &f[i]), 0, "%s: %s", files[i], cairn_error_msg());
		cr_assert_eq(f[i].nrows, 100);
		free(body);
	}
	cr_assert_eq(memcmp(f[0].x, f[1].x, 100 * 30 * sizeof(float)), 0, "split and instances differ");
	cr_assert_eq(f[0].x[0], 2.1434f);
	cr_assert_eq(f[0].x[29], -3.9803f);
	body = slurp(ANCHORS "request_1.json", &n);
	cr_assert_eq(serve_decode_mlflow(&md.in, J, body, n, &one), 0, "%s", cairn_error_msg());
	cr_assert_eq(one.nrows, 1);
	cr_assert_eq(memcmp(one.x, f[0].x, 30 * sizeof(float)), 0, "request_1 is request_100's first row");
	free(body);
	serve_frame_release(&one);
	serve_frame_release(&f[0]);
	serve_frame_release(&f[1]);
	model_close(&md);
}

/* ---- parity with MLflow itself (tests/serve/mlflow_parity.json) ---- */

static void parity_input(json_t *schemas, const char *name, struct model *md)
{
	json_t *s = json_object_get(schemas, name), *in = json_object_get(s, "inputs"), *p = json_object_get(s, "params");
	json_t *feat = json_object_get(s, "features");
	char *names[64];
	size_t nf = json_array_size(feat);

	md->m = NULL;
	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.json", &md->m), 0);
	if (!json_is_null(in) || !json_is_null(p))
		cr_assert_eq(mlmodel_set_signature(md->m, json_is_null(in) ? NULL : in, NULL, json_is_null(p) ? NULL : p), 0,
			     "schema %s: %s", name, cairn_error_msg());
	for (size_t i = 0; i < nf && i < 64; i++)
		names[i] = (char *)json_string_value(json_array_get(feat, i));
	cr_assert_eq(serve_input_from_signature(md->m, nf ? names : NULL, nf, &md->in), 0, "schema %s: %s", name,
		     cairn_error_msg());
}

static bool cell_equal(float got, const json_t *want)
{
	if (json_is_null(want))
		return isnan(got);
	if (json_is_string(want))
		return isinf(got) && (got > 0) == !strcmp(json_string_value(want), "inf");
	return got == (float)json_number_value(want);
}

/* One case: NULL when cairn agrees with MLflow, else what differs (malloc'd). */
static char *parity_case(json_t *schemas, json_t *c)
{
	json_t *cairn = json_object_get(c, "cairn"), *want = json_object_get(c, "matrix"), *expect = json_object_get(c, "expect");
	const char *body = json_string_value(json_object_get(c, "body"));
	const char *ct = json_string_value(json_object_get(c, "content_type"));
	const json_t *code = json_object_get(c, "error_code");
	bool accept = json_is_true(json_object_get(c, "ok"));
	struct serve_frame f = SERVE_FRAME_INIT;
	struct buf why = BUF_INIT;
	struct model md;
	int rc, status = (int)json_integer_value(json_object_get(c, "status"));

	if (cairn) {
		if (json_object_get(cairn, "ok"))
			accept = json_is_true(json_object_get(cairn, "ok"));
		if (json_object_get(cairn, "matrix"))
			want = json_object_get(cairn, "matrix");
		if (json_object_get(cairn, "expect"))
			expect = json_object_get(cairn, "expect");
		if (json_object_get(cairn, "error_code"))
			code = json_object_get(cairn, "error_code");
	}
	parity_input(schemas, json_string_value(json_object_get(c, "schema")), &md);
	rc = serve_decode_mlflow(&md.in, ct, body, strlen(body), &f);
	if (accept && rc) {
		buf_printf(&why, "MLflow accepts it, cairn: %d %s", rc, cairn_error_msg());
	} else if (accept) {
		if (f.nrows != json_array_size(want))
			buf_printf(&why, "%zu rows, MLflow %zu", f.nrows, json_array_size(want));
		for (size_t r = 0; r < f.nrows && !why.len; r++)
			for (size_t j = 0; j < f.ncols && !why.len; j++)
				if (!cell_equal(f.x[r * f.ncols + j], json_array_get(json_array_get(want, r), j)))
					buf_printf(&why, "cell [%zu][%zu] is %.9g, MLflow's %s", r, j, f.x[r * f.ncols + j],
						   json_dumps(json_array_get(json_array_get(want, r), j), JSON_ENCODE_ANY));
		if (!why.len && json_object_get(c, "params") && !json_equal(f.params, json_object_get(c, "params")))
			buf_printf(&why, "params %s, MLflow's %s", json_dumps(f.params, JSON_COMPACT),
				   json_dumps(json_object_get(c, "params"), JSON_COMPACT));
	} else if (!rc) {
		buf_printf(&why, "MLflow refuses it (%s), cairn accepts it", json_string_value(json_object_get(c, "message")));
	} else {
		size_t i;
		json_t *e;

		if ((status == 415) != (rc == CAIRN_EUNSUPPORTED))
			buf_printf(&why, "status %d, cairn rc %d", status, rc);
		if (status != 415 && json_is_string(code) && (!f.error_code || strcmp(f.error_code, json_string_value(code))))
			buf_printf(&why, "error_code %s, MLflow's %s; ", f.error_code ? f.error_code : "none",
				   json_string_value(code));
		json_array_foreach(expect, i, e)
			if (!strstr(cairn_error_msg(), json_string_value(e)))
				buf_printf(&why, "message lacks [%s]; ", json_string_value(e));
		if (why.len)
			buf_printf(&why, "\n   cairn: %s", cairn_error_msg());
	}
	serve_frame_release(&f);
	model_close(&md);
	if (!why.len)
		return NULL;
	{
		struct buf out = BUF_INIT;

		buf_printf(&out, "[%s] %s %s\n   %s", json_string_value(json_object_get(c, "schema")), ct, body, why.ptr);
		buf_release(&why);
		return buf_detach(&out);
	}
}

Test(serve_decode, parity_with_mlflow)
{
	json_error_t err;
	json_t *doc = json_load_file("tests/serve/mlflow_parity.json", 0, &err), *c;
	size_t i, bad = 0;

	cr_assert_not_null(doc, "tests/serve/mlflow_parity.json: %s", err.text);
	json_array_foreach(json_object_get(doc, "cases"), i, c) {
		char *why = parity_case(json_object_get(doc, "schemas"), c);

		if (why) {
			fprintf(stderr, "parity %zu: %s\n", i, why);
			free(why);
			bad++;
		}
	}
	cr_assert_eq(bad, 0, "%zu of %zu cases differ from MLflow (see above)", bad, json_array_size(json_object_get(doc, "cases")));
	cr_assert_gt(json_array_size(json_object_get(doc, "cases")), 200);
	json_decref(doc);
}

/* ---- allocation failures ---- */

/* Fail every allocation of one decode in turn: each ends in CAIRN_ENOMEM (or
 * succeeds when the failure is absorbed), never another error, never a leak. */
static void sweep(const struct serve_input *in, const char *ct, const char *body, bool oip)
{
	uint64_t calls = 0;

	for (uint64_t nth = 1;; nth++) {
		struct serve_frame f = SERVE_FRAME_INIT;
		json_t *meta = NULL;
		int rc;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = oip ? serve_decode_oip(in, body, strlen(body), &f, &meta) : serve_decode_mlflow(in, ct, body, strlen(body), &f);
		calls = fault_calls();
		fault_disarm();
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "%s: allocation %llu failed: rc %d %s", body,
			  (unsigned long long)nth, rc, cairn_error_msg());
		if (rc) {
			cr_assert_null(f.x);
			cr_assert_null(f.params);
			cr_assert_null(meta);
		}
		json_decref(meta);
		serve_frame_release(&f);
		if (!rc && nth > calls)
			break;
	}
	cr_assert_gt(calls, 0, "%s allocates nothing?", body);
}

Test(serve_decode, allocation_failures_are_enomem)
{
	struct model md, par, t, plain;
	char *names[] = { "f0", "f1" };

	model_open(&md, "[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\",\"required\":false}]",
		   NULL, NULL, 0);
	model_open(&par, "[{\"type\":\"double\",\"name\":\"a\"}]", PARAMS, NULL, 0);
	model_open(&t, "[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,3]}}]", NULL, NULL, 0);
	model_open(&plain, NULL, NULL, names, 2);
	sweep(&md.in, J, "{\"dataframe_split\":{\"columns\":[\"a\",\"b\",\"x\"],\"data\":[[1,2,\"q\"],[3,4,null]]}}", false);
	sweep(&md.in, J, "{\"dataframe_records\":[{\"a\":1,\"b\":2},{\"b\":4}]}", false);
	sweep(&md.in, J, "{\"instances\":[{\"a\":1,\"b\":2},{\"a\":3,\"b\":4}]}", false);
	sweep(&md.in, J, "{\"inputs\":{\"a\":[1,NaN],\"b\":[3,4],\"c\":[[1],[2]]}}", false);
	sweep(&md.in, J, "{\"inputs\":[{\"a\":1,\"b\":2}]}", false);
	sweep(&md.in, CSV, "\"a\",b,c\n1,2,3\n4,5,6\n", false);
	sweep(&par.in, J, "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":2,\"t\":3,\"l\":[4,5]}}", false);
	sweep(&t.in, J, "{\"inputs\":[[1,2,3],[4,5,6]]}", false);
	sweep(&plain.in, J, "{\"dataframe_records\":[{\"f1\":1,\"f0\":2}]}", false);
	sweep(&plain.in, NULL, "{\"id\":\"x\",\"inputs\":[{\"name\":\"f0\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[1,2]},"
	      "{\"name\":\"f1\",\"shape\":[2,1],\"datatype\":\"INT32\",\"data\":[[3],[4]]}]}", true);
	/* error paths allocate too (their messages): they end in the error or in ENOMEM */
	for (uint64_t nth = 1; nth < 200; nth++) {
		struct serve_frame f = SERVE_FRAME_INIT;
		const char *b = "{\"inputs\":{\"a\":[1]},\"params\":{\"k\":\"x\"}}";
		int rc;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = serve_decode_mlflow(&par.in, J, b, strlen(b), &f);
		fault_disarm();
		cr_assert(rc == CAIRN_EINVALID || rc == CAIRN_ENOMEM, "nth %llu: %d %s", (unsigned long long)nth, rc,
			  cairn_error_msg());
		serve_frame_release(&f);
	}
	model_close(&md);
	model_close(&par);
	model_close(&t);
	model_close(&plain);
}

Test(serve_decode, building_the_input_survives_allocation_failures)
{
	struct mlmodel *m = model_with("[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\"}]", PARAMS);
	char *names[] = { "f0", "f1", "f2" };

	for (uint64_t nth = 1;; nth++) {
		struct serve_input in, in2;
		int rc, rc2;
		uint64_t calls;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = serve_input_from_signature(m, NULL, 0, &in);
		rc2 = serve_input_from_signature(NULL, names, 3, &in2);
		calls = fault_calls();
		fault_disarm();
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "nth %llu: %d %s", (unsigned long long)nth, rc, cairn_error_msg());
		cr_assert(rc2 == 0 || rc2 == CAIRN_ENOMEM);
		if (!rc)
			serve_input_release(&in);
		if (!rc2)
			serve_input_release(&in2);
		if (!rc && !rc2 && nth > calls)
			break;
	}
	mlmodel_free(m);
}
