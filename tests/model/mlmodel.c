/* Unit tests for model/mlmodel: real MLflow files, signatures, the writer, CSV inference, bad input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/yaml.h"
#include "model/mlmodel.h"

#define FIXTURES "tests/model/fixtures/"

static struct mlmodel *load_fixture(const char *name)
{
	char path[256];
	struct mlmodel *m = NULL;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	cr_assert_eq(mlmodel_load(path, &m), 0, "%s: %s", name, cairn_error_msg());
	cr_assert_not_null(m);
	return m;
}

static struct mlmodel *parse_ok(const char *text)
{
	struct mlmodel *m = NULL;

	cr_assert_eq(mlmodel_parse(text, strlen(text), &m), 0, "%s\n--- input:\n%s", cairn_error_msg(), text);
	return m;
}

/* Expect a parse error whose message contains `want`. */
static void parse_bad(const char *text, int code, const char *want)
{
	struct mlmodel *m = (struct mlmodel *)0x1;
	int rc = mlmodel_parse(text, strlen(text), &m);

	cr_assert_eq(rc, code, "rc %d (%s) for:\n%s", rc, cairn_error_msg(), text);
	cr_assert_null(m);
	cr_assert(strstr(cairn_error_msg(), want), "message '%s' lacks '%s'", cairn_error_msg(), want);
}

/* A minimal valid document with the given signature block appended. */
static void sig_bad(const char *sig, const char *want)
{
	char doc[4096];

	snprintf(doc, sizeof(doc), "flavors:\n  python_function: {loader_module: m}\nsignature:\n%s", sig);
	parse_bad(doc, CAIRN_EINVALID, want);
}

static char *write_model(const struct mlmodel *m)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(mlmodel_write(m, &b), 0, "%s", cairn_error_msg());
	return buf_detach(&b);
}

/* The signature field `key` of written YAML is exactly this JSON text (NULL: null). */
static void assert_sig_string(const char *yaml, const char *key, const char *want)
{
	json_t *doc = NULL, *v;

	cr_assert_eq(cyaml_parse(yaml, strlen(yaml), &doc), 0, "%s", cairn_error_msg());
	v = json_object_get(json_object_get(doc, "signature"), key);
	if (want)
		cr_assert_str_eq(json_string_value(v), want, "signature %s in:\n%s", key, yaml);
	else
		cr_assert(json_is_null(v), "signature %s in:\n%s", key, yaml);
	json_decref(doc);
}

/* write -> parse gives the same summary */
static void assert_round_trip(const struct mlmodel *m)
{
	char *y = write_model(m);
	struct mlmodel *back = parse_ok(y);
	json_t *a = mlmodel_to_json(m), *b = mlmodel_to_json(back);

	if (!json_equal(a, b)) {
		char *sa = json_dumps(a, JSON_INDENT(1)), *sb = json_dumps(b, JSON_INDENT(1));
		cr_assert_fail("round trip differs\n--- before\n%s\n--- after\n%s\n--- yaml\n%s", sa, sb, y);
	}
	json_decref(a);
	json_decref(b);
	mlmodel_free(back);
	free(y);
}

Test(mlmodel, real_sklearn_with_params_and_example)
{
	struct mlmodel *m = load_fixture("sklearn_params.MLmodel");
	const struct mlschema *in = m->sig.inputs;
	const char *data = NULL;

	cr_assert_str_eq(m->mlflow_version, "3.5.2.dev0");
	cr_assert_eq(strlen(m->model_uuid), 32);
	cr_assert_str_eq(m->utc_time_created, "2026-11-23 13:03:29.238429");
	cr_assert_null(m->model_id, "model_id: null");
	cr_assert_null(m->run_id);
	cr_assert_eq(m->model_size_bytes, 1098);
	cr_assert_eq(m->nflavors, 2);
	cr_assert_str_eq(m->flavors[0].name, "python_function", "file order");
	cr_assert_str_eq(m->flavors[1].name, "sklearn");
	cr_assert_str_eq(mlmodel_loader_module(m), "mlflow.sklearn");
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "sklearn"), "serialization_format")),
			 "cloudpickle");
	cr_assert_null(mlmodel_flavor(m, "xgboost"));
	cr_assert_eq(mlmodel_flavor_data(m, "python_function", &data), 0);
	cr_assert_str_eq(data, "model.pkl", "python_function's model_path");
	cr_assert_eq(mlmodel_flavor_data(m, "sklearn", &data), 0);
	cr_assert_str_eq(data, "model.pkl", "sklearn's pickled_model");
	cr_assert_eq(mlmodel_flavor_data(m, "onnx", &data), CAIRN_ENOTFOUND);

	cr_assert_not_null(in);
	cr_assert(!in->tensor);
	cr_assert_eq(in->n, 3);
	cr_assert_str_eq(in->specs[0].name, "a");
	cr_assert_eq(in->specs[0].type, MLTYPE_DOUBLE);
	cr_assert_eq(in->specs[1].type, MLTYPE_LONG);
	cr_assert_eq(in->specs[2].type, MLTYPE_STRING);
	cr_assert(in->specs[2].required);
	cr_assert(m->sig.outputs->tensor);
	cr_assert_str_eq(m->sig.outputs->specs[0].dtype, "int64");
	cr_assert_eq(m->sig.outputs->specs[0].ndim, 1);
	cr_assert_eq(m->sig.outputs->specs[0].shape[0], -1);

	cr_assert_eq(m->sig.nparams, 5);
	cr_assert_str_eq(m->sig.params[0].name, "alpha");
	cr_assert_eq(m->sig.params[0].type, MLTYPE_DOUBLE);
	cr_assert_float_eq(json_real_value(m->sig.params[0].default_value), 0.5, 1e-12);
	cr_assert_eq(m->sig.params[1].type, MLTYPE_LONG);
	cr_assert_eq(m->sig.params[3].type, MLTYPE_BOOLEAN);
	cr_assert(m->sig.params[4].list);
	cr_assert_eq(json_array_size(m->sig.params[4].default_value), 2);

	cr_assert_str_eq(json_string_value(json_object_get(m->saved_input_example_info, "serving_input_path")),
			 "serving_input_example.json");
	cr_assert(json_is_false(json_object_get(m->doc, "is_signature_from_type_hint")), "doc keeps everything");
	cr_assert(json_is_null(json_object_get(m->doc, "prompts")));
	assert_round_trip(m);
	mlmodel_free(m);
}

Test(mlmodel, real_logged_model_mlflow3)
{
	struct mlmodel *m = load_fixture("sklearn_logged.MLmodel");

	cr_assert(!strncmp(m->model_id, "m-", 2), "%s", m->model_id);
	cr_assert_str_eq(m->model_uuid, m->model_id, "MLflow 3 logged models reuse the id");
	cr_assert_eq(strlen(m->run_id), 32);
	cr_assert(!strncmp(m->artifact_path, "file://", 7));
	cr_assert(m->sig.inputs->tensor);
	cr_assert_str_eq(m->sig.inputs->specs[0].dtype, "float32");
	cr_assert_eq(m->sig.inputs->specs[0].ndim, 2);
	cr_assert_eq(m->sig.inputs->specs[0].shape[0], -1);
	cr_assert_eq(m->sig.inputs->specs[0].shape[1], 4);
	cr_assert_null(m->sig.inputs->specs[0].name);
	cr_assert_null(m->sig.params, "params: null");
	assert_round_trip(m);
	mlmodel_free(m);
}

Test(mlmodel, real_compound_types_and_named_tensors)
{
	struct mlmodel *m = load_fixture("compound.MLmodel");
	const struct mlschema *in = m->sig.inputs, *outp = m->sig.outputs;
	static const enum mltype want[] = { MLTYPE_ARRAY, MLTYPE_OBJECT, MLTYPE_MAP, MLTYPE_ANY, MLTYPE_DATETIME,
					    MLTYPE_BINARY, MLTYPE_FLOAT, MLTYPE_INTEGER, MLTYPE_BOOLEAN };

	cr_assert_eq(in->n, 9);
	for (size_t i = 0; i < 9; i++)
		cr_assert_eq(in->specs[i].type, want[i], "spec %zu is %s", i, mltype_name(in->specs[i].type));
	cr_assert(!in->specs[3].required, "extra is optional");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(in->specs[0].json, "items"), "type")),
			 "string");
	cr_assert_eq(outp->n, 2);
	cr_assert(outp->tensor);
	cr_assert_str_eq(outp->specs[0].name, "proba");
	cr_assert_eq(outp->specs[0].shape[1], 2);
	cr_assert_str_eq(outp->specs[1].dtype, "int32");
	cr_assert_eq(m->sig.nparams, 3);
	cr_assert_eq(m->sig.params[0].type, MLTYPE_FLOAT);
	cr_assert_eq(m->sig.params[1].type, MLTYPE_STRING);
	cr_assert(m->sig.params[1].list);
	cr_assert_eq(m->sig.params[2].type, MLTYPE_DATETIME);
	cr_assert_str_eq(json_string_value(json_object_get(m->metadata, "team")), "ml");
	assert_round_trip(m);
	mlmodel_free(m);
}

Test(mlmodel, xgboost_2x_and_tensor_fixtures)
{
	struct mlmodel *m = load_fixture("xgboost_2x.MLmodel");
	const char *data = NULL;

	cr_assert_str_eq(mlmodel_loader_module(m), "mlflow.xgboost");
	cr_assert_eq(mlmodel_flavor_data(m, "xgboost", &data), 0);
	cr_assert_str_eq(data, "model.xgb");
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "xgboost"), "model_class")),
			 "xgboost.sklearn.XGBClassifier");
	cr_assert_str_eq(m->artifact_path, "model");
	cr_assert_str_eq(m->sig.inputs->specs[3].name, "petal width (cm)", "folded JSON string joined");
	cr_assert_null(m->sig.outputs->specs[0].name);
	cr_assert_eq(m->sig.outputs->specs[0].type, MLTYPE_LONG);
	assert_round_trip(m);
	mlmodel_free(m);
	m = load_fixture("sklearn_tensor.MLmodel");
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "sklearn"), "serialization_format")),
			 "pickle");
	mlmodel_free(m);
}

Test(mlmodel, load_a_directory_and_missing_files)
{
	struct mlmodel *m = NULL;
	char dir[] = "/tmp/cairn-mlmodel-XXXXXX", path[128];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mlmodel_load(dir, &m), CAIRN_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/MLmodel", dir);
	f = fopen(path, "w");
	fputs("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n", f);
	fclose(f);
	cr_assert_eq(mlmodel_load(dir, &m), 0, "a directory means its MLmodel: %s", cairn_error_msg());
	cr_assert_str_eq(mlmodel_loader_module(m), "mlflow.sklearn");
	mlmodel_free(m);
	f = fopen(path, "w");
	cr_assert_eq(ftruncate(fileno(f), (off_t)MLMODEL_MAX_FILE + 1), 0);
	fclose(f);
	cr_assert_eq(mlmodel_load(path, &m), CAIRN_ETOOBIG);
	unlink(path);
	rmdir(dir);
}

Test(mlmodel, new_for_file_writes_what_mlflow_writes)
{
	struct mlmodel *m = NULL;
	const json_t *xgb, *pf;
	const char *data = NULL;
	char *y;

	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.ubj", &m), 0, "%s", cairn_error_msg());
	xgb = mlmodel_flavor(m, "xgboost");
	pf = mlmodel_flavor(m, "python_function");
	cr_assert_str_eq(json_string_value(json_object_get(xgb, "model_format")), "ubj");
	cr_assert_str_eq(json_string_value(json_object_get(xgb, "model_class")), "xgboost.core.Booster");
	cr_assert_str_eq(json_string_value(json_object_get(pf, "loader_module")), "mlflow.xgboost");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(pf, "env"), "virtualenv")),
			 "python_env.yaml");
	cr_assert_eq(mlmodel_flavor_data(m, "python_function", &data), 0);
	cr_assert_str_eq(data, "model.ubj");
	cr_assert_eq(strlen(m->model_uuid), 32);
	cr_assert_eq(strlen(m->utc_time_created), 26, "%s", m->utc_time_created);
	cr_assert_str_eq(m->mlflow_version, MLMODEL_MLFLOW_VERSION);
	cr_assert_eq(mlmodel_flavor_set(m, "xgboost", "xgb_version", json_string("1.7.4")), 0);
	m->model_size_bytes = 1234;
	y = write_model(m);
	cr_assert(strstr(y, "  xgboost:\n    code: null\n    data: model.ubj\n    model_class: xgboost.core.Booster\n"
			    "    model_format: ubj\n    xgb_version: 1.7.4\n"), "%s", y);
	cr_assert(strstr(y, "mlflow_version: " MLMODEL_MLFLOW_VERSION "\n"), "%s", y);
	cr_assert(strstr(y, "model_size_bytes: 1234\n"), "%s", y);
	cr_assert(strstr(y, "utc_time_created: '"), "quoted, or PyYAML reads a timestamp: %s", y);
	cr_assert_null(strstr(y, "signature"), "%s", y);
	free(y);
	assert_round_trip(m);
	mlmodel_free(m);

	cr_assert_eq(mlmodel_new_for_file("xgboost", "booster.json", &m), 0);
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "xgboost"), "model_format")), "json");
	mlmodel_free(m);
	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.bin", &m), 0);
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "xgboost"), "model_format")), "xgb");
	mlmodel_free(m);

	cr_assert_eq(mlmodel_new_for_file("sklearn", "model.pkl", &m), 0);
	pf = mlmodel_flavor(m, "python_function");
	cr_assert_str_eq(json_string_value(json_object_get(pf, "model_path")), "model.pkl");
	cr_assert_str_eq(json_string_value(json_object_get(pf, "predict_fn")), "predict");
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "sklearn"), "pickled_model")), "model.pkl");
	cr_assert_str_eq(json_string_value(json_object_get(mlmodel_flavor(m, "sklearn"), "serialization_format")),
			 "cloudpickle");
	assert_round_trip(m);
	mlmodel_free(m);

	cr_assert_eq(mlmodel_new_for_file("onnx", "model.onnx", &m), CAIRN_EINVALID);
	cr_assert_eq(mlmodel_new_for_file("sklearn", "../model.pkl", &m), CAIRN_EINVALID);
	cr_assert_eq(mlmodel_new_for_file("sklearn", "", &m), CAIRN_EINVALID);
	cr_assert_eq(mlmodel_new_for_file("sklearn", "MLmodel", &m), CAIRN_EINVALID);
	cr_assert_null(m);
}

Test(mlmodel, signature_written_as_json_strings)
{
	struct mlmodel *m = NULL;
	json_t *in = json_loads("[{\"type\": \"double\", \"name\": \"x\", \"required\": true}]", 0, NULL);
	json_t *outp = json_loads("[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1]}}]",
				  0, NULL);
	json_t *params = json_loads("[{\"name\": \"t\", \"default\": 0.1, \"shape\": null, \"type\": \"double\"}]", 0, NULL);
	char *y;

	cr_assert_eq(mlmodel_new_for_file("sklearn", "model.pkl", &m), 0);
	cr_assert_eq(mlmodel_set_signature(m, in, outp, params), 0, "%s", cairn_error_msg());
	y = write_model(m);
	assert_sig_string(y, "inputs", "[{\"type\": \"double\", \"name\": \"x\", \"required\": true}]");
	assert_sig_string(y, "outputs", "[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float64\", \"shape\": [-1]}}]");
	assert_sig_string(y, "params", "[{\"name\": \"t\", \"default\": 0.1, \"shape\": null, \"type\": \"double\"}]");
	cr_assert(strstr(y, "is_signature_from_type_hint: false\n"), "%s", y);
	free(y);
	assert_round_trip(m);
	/* a bad signature leaves the model as it was */
	json_array_append_new(in, json_pack("{s:s}", "type", "tensor"));
	cr_assert_eq(mlmodel_set_signature(m, in, NULL, NULL), CAIRN_EINVALID);
	cr_assert_not_null(m->sig.outputs);
	cr_assert_eq(m->sig.inputs->n, 1);
	cr_assert_eq(mlmodel_set_signature(m, NULL, NULL, NULL), 0);
	cr_assert_null(m->sig.inputs);
	y = write_model(m);
	cr_assert_null(strstr(y, "signature"), "%s", y);
	free(y);
	json_decref(in);
	json_decref(outp);
	json_decref(params);
	mlmodel_free(m);
}

Test(mlmodel, unknown_keys_survive_a_rewrite)
{
	struct mlmodel *m = parse_ok("flavors:\n  custom: {data: x.bin, knobs: [1, 2]}\nresources: {a: 1}\n"
				     "env_vars: [HOME]\nrun_id: abc\n");
	char *y;

	free(m->run_id);
	m->run_id = strdup("def");
	y = write_model(m);
	cr_assert(strstr(y, "env_vars:\n- HOME\n"), "%s", y);
	cr_assert(strstr(y, "resources:\n  a: 1\n"), "%s", y);
	cr_assert(strstr(y, "run_id: def\n"), "%s", y);
	cr_assert(strstr(y, "    knobs:\n    - 1\n    - 2\n"), "%s", y);
	free(y);
	mlmodel_free(m);
}

Test(mlmodel, to_json_summary)
{
	struct mlmodel *m = load_fixture("sklearn_params.MLmodel");
	json_t *j = mlmodel_to_json(m), *sig = json_object_get(j, "signature");

	cr_assert(json_is_array(json_object_get(sig, "inputs")), "parsed lists, not strings");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(sig, "inputs"), 0), "name")), "a");
	cr_assert_eq(json_array_size(json_object_get(sig, "params")), 5);
	cr_assert_str_eq(json_string_value(json_object_get(j, "model_uuid")), m->model_uuid);
	cr_assert_null(json_object_get(j, "run_id"), "absent fields are left out");
	cr_assert_null(json_object_get(j, "model_id"));
	cr_assert_eq(json_integer_value(json_object_get(j, "model_size_bytes")), 1098);
	cr_assert(json_is_object(json_object_get(json_object_get(j, "flavors"), "sklearn")));
	cr_assert_null(json_object_get(j, "doc"));
	json_decref(j);
	mlmodel_free(m);
}

Test(mlmodel, bad_documents)
{
	parse_bad("", CAIRN_EINVALID, "MLmodel: the document must be a mapping");
	parse_bad("- a\n- b\n", CAIRN_EINVALID, "must be a mapping");
	parse_bad("just a string", CAIRN_EINVALID, "must be a mapping");
	parse_bad("run_id: x\n", CAIRN_EINVALID, "MLmodel: 'flavors' is missing");
	parse_bad("flavors: [a, b]\n", CAIRN_EINVALID, "MLmodel: flavors must be a mapping");
	parse_bad("flavors: null\n", CAIRN_EINVALID, "flavors must be a mapping");
	parse_bad("flavors:\n  sklearn: 3\n", CAIRN_EINVALID, "flavor 'sklearn' must be a mapping");
	parse_bad("flavors: {}\nrun_id: [1]\n", CAIRN_EINVALID, "'run_id' must be a string");
	parse_bad("flavors: {}\nmodel_uuid: 12\n", CAIRN_EINVALID, "'model_uuid' must be a string");
	parse_bad("flavors: {}\nmodel_size_bytes: -5\n", CAIRN_EINVALID, "model_size_bytes");
	parse_bad("flavors: {}\nmodel_size_bytes: big\n", CAIRN_EINVALID, "model_size_bytes");
	parse_bad("flavors: {}\nmetadata: [1]\n", CAIRN_EINVALID, "'metadata' must be a mapping");
	parse_bad("flavors: {}\nsaved_input_example_info: x\n", CAIRN_EINVALID, "saved_input_example_info");
	parse_bad("flavors: {}\nsignature: [1]\n", CAIRN_EINVALID, "signature must be a mapping");
	parse_bad("flavors: {}\nflavors: {}\n", CAIRN_EINVALID, "MLmodel: line 2, column 1: duplicate key 'flavors'");
	parse_bad("flavors:\n  a: {x: 1\n", CAIRN_EINVALID, "MLmodel: line ");
	parse_bad("flavors: {}\n---\nflavors: {}\n", CAIRN_EINVALID, "second document");
}

Test(mlmodel, bad_signatures)
{
	sig_bad("  inputs: '[{\"type\": \"double\"'\n", "MLmodel: signature inputs: bad JSON at line 1");
	sig_bad("  inputs: 5\n", "signature inputs: must be a JSON string");
	sig_bad("  inputs: '{\"type\": \"double\"}'\n", "must be a non-empty JSON list");
	sig_bad("  inputs: '[]'\n", "must be a non-empty JSON list");
	sig_bad("  inputs: '[5]'\n", "entry 1: must be a JSON object");
	sig_bad("  inputs: '[{\"name\": \"x\"}]'\n", "'x': missing \"type\"");
	sig_bad("  inputs: '[{\"type\": \"decimal\", \"name\": \"x\"}]'\n", "'x': unknown type 'decimal'");
	sig_bad("  inputs: '[{\"type\": \"double\", \"name\": 7}]'\n", "\"name\" must be a string");
	sig_bad("  inputs: '[{\"type\": \"double\", \"name\": \"x\", \"required\": \"yes\"}]'\n",
		"\"required\" must be a boolean");
	sig_bad("  inputs: '[{\"type\": \"array\", \"name\": \"x\"}]'\n", "needs an \"items\" object");
	sig_bad("  inputs: '[{\"type\": \"array\", \"name\": \"x\", \"items\": {\"type\": \"nope\"}}]'\n",
		"unknown type 'nope'");
	sig_bad("  inputs: '[{\"type\": \"object\", \"name\": \"x\", \"properties\": []}]'\n",
		"needs a \"properties\" object");
	sig_bad("  inputs: '[{\"type\": \"map\", \"name\": \"x\", \"values\": 3}]'\n", "needs a \"values\" object");
	sig_bad("  inputs: '[{\"type\": \"array\", \"name\": \"x\", \"items\": {\"type\": \"tensor\"}}]'\n",
		"unknown type 'tensor'");
	sig_bad("  inputs: '[{\"type\": \"double\", \"name\": \"x\"}, {\"type\": \"double\"}]'\n",
		"mixes named and unnamed");
	sig_bad("  inputs: '[{\"type\": \"double\", \"name\": \"x\"}, {\"type\": \"tensor\", \"name\": \"t\", "
		"\"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1]}}]'\n", "mixes tensor and column");
	sig_bad("  inputs: '[{\"type\": \"double\", \"required\": false}]'\n", "unnamed entries cannot be optional");
	sig_bad("  outputs: '[{\"type\": \"tensor\"}]'\n", "signature outputs: entry 1: a tensor spec needs");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\"}}]'\n",
		"needs a \"shape\" list");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, -2]}}]'\n",
		"bad tensor shape: dimension 1");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [\"x\"]}}]'\n",
		"bad tensor shape");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": 4}}]'\n",
		"needs a \"shape\" list");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"fl oat\", \"shape\": [1]}}]'\n",
		"bad tensor dtype");
	sig_bad("  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"f4\", \"shape\": [1]}}, "
		"{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"f4\", \"shape\": [1]}}]'\n",
		"several tensors must each have a name");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"long\"}]'\n", "'k': missing \"default\"");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"binary\", \"default\": null}]'\n", "not allowed for a parameter");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"long\", \"default\": 1, \"shape\": [2]}]'\n",
		"shape must be null or [-1]");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"long\", \"default\": 1, \"shape\": [-1]}]'\n",
		"must be a list");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"long\", \"default\": \"x\"}]'\n", "the default is not a long");
	sig_bad("  params: '[{\"name\": \"k\", \"type\": \"string\", \"default\": [\"a\", 1], \"shape\": [-1]}]'\n",
		"default item 2 is not a string");
	sig_bad("  params: '[{\"type\": \"long\", \"default\": 1}]'\n", "needs a \"name\" string");
}

Test(mlmodel, lenient_where_mlflow_is)
{
	struct mlmodel *m = parse_ok("flavors: {python_function: {loader_module: x}}\nsignature:\n"
				     "  inputs: ''\n  outputs: null\n"
				     "  params: '[{\"name\": \"k\", \"dtype\": \"double\", \"default\": 1}]'\n"
				     "model_size_bytes: null\nextra_future_key: {x: 1}\n");

	cr_assert_null(m->sig.inputs, "an empty string is no schema, as in MLflow");
	cr_assert_eq(m->sig.params[0].type, MLTYPE_DOUBLE, "old \"dtype\" key and an int default for a double");
	cr_assert_eq(m->model_size_bytes, -1);
	mlmodel_free(m);
	m = parse_ok("flavors: {}\nsignature:\n  inputs:\n  - {type: string, name: s}\n");
	cr_assert_eq(m->sig.inputs->specs[0].type, MLTYPE_STRING, "a YAML list is taken as is");
	mlmodel_free(m);
}

Test(mlmodel, hostile_yaml)
{
	struct buf b = BUF_INIT;
	struct mlmodel *m = NULL;
	static const char garbage[] = "\x00\xff\xfe\x01flavors:\x80\x81\n\t- [";

	buf_puts(&b, "flavors: {}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++)
		buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
			   i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	cr_assert_eq(mlmodel_parse(b.ptr, b.len, &m), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "MLmodel: line "), "%s", cairn_error_msg());
	buf_clear(&b);
	buf_puts(&b, "flavors: {}\nmetadata: ");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "{a: ");
	buf_puts(&b, "1");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "}");
	cr_assert_eq(mlmodel_parse(b.ptr, b.len, &m), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "nesting deeper"), "%s", cairn_error_msg());
	buf_release(&b);
	cr_assert_eq(mlmodel_parse(garbage, sizeof(garbage) - 1, &m), CAIRN_EINVALID);
	cr_assert_null(m);
	buf_init(&b, 0);
	buf_puts(&b, "  inputs: '[{\"type\": \"array\", \"name\": \"x\", \"items\": ");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "{\"type\": \"array\", \"items\": ");
	buf_puts(&b, "{\"type\": \"long\"}");
	for (int i = 0; i < 41; i++)
		buf_puts(&b, "}");
	buf_puts(&b, "]'\n");
	sig_bad(b.ptr, "nested deeper than");
	buf_release(&b);
}

Test(mlmodel, flavor_data_refuses_escaping_paths)
{
	struct mlmodel *m = parse_ok("flavors:\n  xgboost: {data: ../../etc/passwd}\n  onnx: {data: /abs/model.onnx}\n"
				     "  pytorch: {model_data: data}\n  none: {x: 1}\n");
	const char *d = NULL;

	cr_assert_eq(mlmodel_flavor_data(m, "xgboost", &d), CAIRN_EINVALID);
	cr_assert_eq(mlmodel_flavor_data(m, "onnx", &d), CAIRN_EINVALID);
	cr_assert_eq(mlmodel_flavor_data(m, "pytorch", &d), 0);
	cr_assert_str_eq(d, "data");
	cr_assert_eq(mlmodel_flavor_data(m, "none", &d), CAIRN_ENOTFOUND);
	cr_assert_null(mlmodel_loader_module(m));
	mlmodel_free(m);
}

static json_t *csv_ok(const char *csv)
{
	json_t *in = NULL;

	cr_assert_eq(mlmodel_signature_from_csv(csv, strlen(csv), &in), 0, "%s\n--- csv:\n%s", cairn_error_msg(), csv);
	return in;
}

static void csv_expect(const char *csv, const char *want)
{
	json_t *in = csv_ok(csv), *w = json_loads(want, 0, NULL);

	cr_assert_not_null(w, "bad test JSON");
	if (!json_equal(in, w)) {
		char *got = json_dumps(in, JSON_COMPACT);
		cr_assert_fail("csv:\n%s\ngot:  %s\nwant: %s", csv, got, want);
	}
	json_decref(in);
	json_decref(w);
}

static void csv_bad(const char *csv, const char *want)
{
	json_t *in = (json_t *)0x1;

	cr_assert_eq(mlmodel_signature_from_csv(csv, strlen(csv), &in), CAIRN_EINVALID, "for:\n%s", csv);
	cr_assert_null(in);
	cr_assert(strstr(cairn_error_msg(), want), "message '%s' lacks '%s'", cairn_error_msg(), want);
}

Test(mlmodel, csv_signature_inference)
{
	csv_expect("i,d,b,s\n1,1.5,true,x\n-2,3,False,y\n",
		   "[{\"type\":\"long\",\"name\":\"i\",\"required\":true},"
		   "{\"type\":\"double\",\"name\":\"d\",\"required\":true},"
		   "{\"type\":\"boolean\",\"name\":\"b\",\"required\":true},"
		   "{\"type\":\"string\",\"name\":\"s\",\"required\":true}]");
	csv_expect("a,b,c,d\r\n1,,NA,1e3\r\n2,x,,-inf\r\n",
		   "[{\"type\":\"long\",\"name\":\"a\",\"required\":true},"
		   "{\"type\":\"string\",\"name\":\"b\",\"required\":false},"
		   "{\"type\":\"double\",\"name\":\"c\",\"required\":false},"
		   "{\"type\":\"double\",\"name\":\"d\",\"required\":true}]");
	csv_expect("n\n1\n\n2\n3\n", "[{\"type\":\"long\",\"name\":\"n\",\"required\":true}]");
	csv_expect("n\n1\nNaN\n", "[{\"type\":\"double\",\"name\":\"n\",\"required\":false}]");
	csv_expect("\xEF\xBB\xBF\"quoted, name\",\"say \"\"hi\"\"\"\n\"1,5\",\"multi\nline\"\n",
		   "[{\"type\":\"string\",\"name\":\"quoted, name\",\"required\":true},"
		   "{\"type\":\"string\",\"name\":\"say \\\"hi\\\"\",\"required\":true}]");
	csv_expect(",x\n0,1\n", "[{\"type\":\"long\",\"name\":\"Unnamed: 0\",\"required\":true},"
		   "{\"type\":\"long\",\"name\":\"x\",\"required\":true}]");
	csv_expect("h\n0x1F\n", "[{\"type\":\"string\",\"name\":\"h\",\"required\":true}]");
	csv_expect("h\n99999999999999999999\n", "[{\"type\":\"double\",\"name\":\"h\",\"required\":true}]");
	csv_expect("a,b\n1,2", "[{\"type\":\"long\",\"name\":\"a\",\"required\":true},"
		   "{\"type\":\"long\",\"name\":\"b\",\"required\":true}]");
}

Test(mlmodel, csv_reads_at_most_the_row_limit)
{
	struct buf b = BUF_INIT;
	json_t *in = NULL;

	buf_puts(&b, "v\n");
	for (int i = 0; i < MLMODEL_CSV_ROWS; i++)
		buf_puts(&b, "1\n");
	buf_puts(&b, "not a number,with,a,ragged,row\n");
	cr_assert_eq(mlmodel_signature_from_csv(b.ptr, b.len, &in), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(in, 0), "type")), "long");
	json_decref(in);
	buf_release(&b);
}

Test(mlmodel, csv_errors)
{
	csv_bad("", "CSV is empty");
	csv_bad("\n\n", "CSV is empty");
	csv_bad("a,b\n", "no data rows");
	csv_bad("a,b\n1,2\n3\n", "CSV line 3 has 1 fields, the header has 2");
	csv_bad("a,b\n1,2,3\n", "CSV line 2 has 3 fields");
	csv_bad("a,a\n1,2\n", "duplicate column name 'a'");
	csv_bad("a\n\"open\n", "unterminated quoted field");
	csv_bad("a\n\"x\"y\n", "text after a closing quote");
	csv_bad("\xff\xfe\n1\n", "not valid UTF-8");
	{
		static const char nul[] = "a,b\0c\n1,2\n";
		json_t *in = NULL;

		cr_assert_eq(mlmodel_signature_from_csv(nul, sizeof(nul) - 1, &in), CAIRN_EINVALID);
		cr_assert(strstr(cairn_error_msg(), "NUL"), "%s", cairn_error_msg());
	}
}

Test(mlmodel, csv_signature_attaches_to_a_model)
{
	struct mlmodel *m = NULL;
	json_t *in = csv_ok("x,y\n1.5,2\n");
	char *y;

	cr_assert_eq(mlmodel_new_for_file("xgboost", "model.json", &m), 0);
	cr_assert_eq(mlmodel_set_signature(m, in, NULL, NULL), 0, "%s", cairn_error_msg());
	y = write_model(m);
	assert_sig_string(y, "inputs", "[{\"type\": \"double\", \"name\": \"x\", \"required\": true}, "
			  "{\"type\": \"long\", \"name\": \"y\", \"required\": true}]");
	assert_sig_string(y, "outputs", NULL);
	assert_sig_string(y, "params", NULL);
	free(y);
	assert_round_trip(m);
	json_decref(in);
	mlmodel_free(m);
}
