/* mlmodel.h - the one parser and writer of MLflow's MLmodel file.
 *
 * An MLmodel is the YAML file at the root of every MLflow model directory:
 * who made the model (run_id, model_uuid, MLflow 3's model_id, the time and
 * MLflow version), how to load it (flavors: python_function, sklearn,
 * xgboost, ...), and what it takes and returns (signature). mlmodel_parse()
 * reads one through core/yaml.h, validates what cairn relies on, and keeps
 * the whole document in m->doc so nothing is lost when it is written back.
 *
 * The signature's inputs, outputs and params are JSON strings inside the
 * YAML (as MLflow writes them); they are parsed into struct mlschema and
 * struct mlparam with MLflow's rules (mlflow/types/schema.py): a schema is
 * either all column specs ({"type","name","required"}, with the compound
 * types array/object/map/any) or all tensor specs ({"type":"tensor",
 * "tensor-spec":{"dtype","shape"}}), never mixed, never part named.
 *
 * Parse failures are CAIRN_EINVALID with a message starting "MLmodel: "
 * ("MLmodel: flavors must be a mapping", "MLmodel: line 3, column 1: ...",
 * "MLmodel: signature inputs: bad JSON at ..."), or CAIRN_ETOOBIG for the
 * file and alias-expansion limits; mlmodel_load() adds CAIRN_ENOTFOUND and
 * CAIRN_EIO. Anything may fail with CAIRN_ENOMEM.
 *
 * Ownership: a struct mlmodel returned through **out is the caller's
 * (mlmodel_free). Its char * fields are malloc'd strings owned by the
 * struct: to change one, free() it and store a new malloc'd string (or
 * NULL). Pointers returned as function values are borrowed from the model.
 */
#ifndef CAIRN_MODEL_MLMODEL_H
#define CAIRN_MODEL_MLMODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define MLMODEL_FILE_NAME "MLmodel"
#define MLMODEL_MAX_FILE ((size_t)16 << 20)  /* mlmodel_load() refuses bigger files */
#define MLMODEL_MLFLOW_VERSION "3.5.2"       /* mlflow_version written by mlmodel_new_for_file() */

/* MLflow data types (DataType), the compound column types, and tensors. */
enum mltype {
	MLTYPE_BOOLEAN,
	MLTYPE_INTEGER,         /* int32 */
	MLTYPE_LONG,            /* int64 */
	MLTYPE_FLOAT,           /* float32 */
	MLTYPE_DOUBLE,
	MLTYPE_STRING,
	MLTYPE_BINARY,
	MLTYPE_DATETIME,
	MLTYPE_ARRAY,           /* {"type":"array","items":TYPE} */
	MLTYPE_OBJECT,          /* {"type":"object","properties":{NAME:TYPE+required}} */
	MLTYPE_MAP,             /* {"type":"map","values":TYPE} (string keys) */
	MLTYPE_ANY,             /* {"type":"any"} */
	MLTYPE_SPARKML_VECTOR,  /* {"type":"sparkml_vector"} */
	MLTYPE_TENSOR,          /* a tensor spec */
};

/* One column (ColSpec) or tensor (TensorSpec) of a schema. */
struct mlspec {
	char *name;          /* NULL when unnamed */
	enum mltype type;    /* MLTYPE_TENSOR for a tensor spec */
	bool required;       /* columns: "required" (default true); tensors: true */
	const json_t *json;  /* this spec as in the file (borrowed from the schema) */
	char *dtype;         /* tensors: numpy dtype name ("float32"); else NULL */
	int64_t *shape;      /* tensors: dimensions, -1 where variable; else NULL */
	size_t ndim;         /* tensors: number of dimensions */
};

/* A parsed signature schema (inputs or outputs). */
struct mlschema {
	bool tensor;          /* tensor-based; false: column-based */
	size_t n;             /* number of specs, at least 1 */
	struct mlspec *specs;
	json_t *json;         /* the JSON list as written in the file */
};

/* One inference parameter (ParamSpec). */
struct mlparam {
	char *name;
	enum mltype type;              /* a scalar type (not binary) or MLTYPE_OBJECT */
	const json_t *default_value;   /* borrowed; JSON null when the default is None */
	bool list;                     /* shape [-1]: a 1-D list of `type`; else a scalar */
	const json_t *json;            /* this param as in the file (borrowed) */
};

struct mlsignature {
	struct mlschema *inputs;    /* NULL when absent */
	struct mlschema *outputs;   /* NULL when absent */
	struct mlparam *params;     /* nparams entries; NULL when absent */
	size_t nparams;
	json_t *params_json;        /* the params JSON list; NULL when absent */
};

/* One flavor: its name and its keys (python_function: loader_module, ...). */
struct mlflavor {
	char *name;
	json_t *conf;    /* a JSON object in file order (owned reference) */
};

struct mlmodel {
	char *artifact_path;        /* NULL when absent */
	char *run_id;               /* NULL when absent */
	char *model_uuid;           /* NULL when absent */
	char *model_id;             /* MLflow 3 logged-model id ("m-..."); NULL when absent */
	char *utc_time_created;     /* "YYYY-MM-DD HH:MM:SS.ffffff" as written; NULL when absent */
	char *mlflow_version;       /* NULL when absent */
	int64_t model_size_bytes;   /* -1 when absent */
	struct mlflavor *flavors;   /* in file order */
	size_t nflavors;
	struct mlsignature sig;     /* all NULL when there is no signature */
	json_t *saved_input_example_info; /* object or NULL */
	json_t *metadata;           /* object or NULL */
	json_t *doc;                /* the whole document as parsed (an object, never NULL) */
};

/* Parse an MLmodel document. */
int mlmodel_parse(const char *text, size_t len, struct mlmodel **out);
/* Read and parse a file; a directory means its MLmodel file. */
int mlmodel_load(const char *path, struct mlmodel **out);
void mlmodel_free(struct mlmodel *m);

/* The flavor's keys, or NULL when the model has no such flavor. */
const json_t *mlmodel_flavor(const struct mlmodel *m, const char *name);
/* Set one key of a flavor (steals value), adding the flavor if missing. */
int mlmodel_flavor_set(struct mlmodel *m, const char *flavor, const char *key, json_t *value);
/* python_function's loader_module ("mlflow.sklearn"), or NULL. */
const char *mlmodel_loader_module(const struct mlmodel *m);
/* The model data file of a flavor, relative to the model directory: the
 * first of data, model_path, pickled_model, model_data, saved_model_dir
 * that the flavor sets. CAIRN_ENOTFOUND without the flavor or such a key;
 * CAIRN_EINVALID when the path is absolute or escapes the directory. */
int mlmodel_flavor_data(const struct mlmodel *m, const char *flavor, const char **out);

/* A new JSON summary for the API and CLI: run_id, model_uuid, model_id,
 * artifact_path, utc_time_created, mlflow_version, model_size_bytes,
 * flavors, signature {inputs, outputs, params} as JSON lists (not strings),
 * saved_input_example_info, metadata; absent fields are left out. NULL
 * only when out of memory. */
json_t *mlmodel_to_json(const struct mlmodel *m);

/* Append the MLmodel YAML to out: m->doc with the struct's fields written
 * over it, keys sorted, the signature as JSON strings - what MLflow writes,
 * and what mlmodel_parse() and MLflow's Model.load() read back. */
int mlmodel_write(const struct mlmodel *m, struct buf *out);

/* A new model for one bare model file in a directory of its own:
 *   flavor "xgboost": xgboost {data, model_class "xgboost.core.Booster",
 *     model_format from the extension (json, ubj, else xgb), code null};
 *   flavor "sklearn": sklearn {pickled_model, serialization_format
 *     "cloudpickle", code null};
 * plus python_function {loader_module mlflow.<flavor>, data or model_path,
 * env {conda: conda.yaml, virtualenv: python_env.yaml}}, a new model_uuid,
 * utc_time_created now, mlflow_version MLMODEL_MLFLOW_VERSION. Versions
 * cairn cannot know (xgb_version, sklearn_version, python_version) are
 * left for the caller to add with mlmodel_flavor_set(). data_file is a
 * plain file name ("model.ubj"). */
int mlmodel_new_for_file(const char *flavor, const char *data_file, struct mlmodel **out);

/* Replace the whole signature with these JSON lists (borrowed, copied;
 * NULL: none), validated as when parsing. On error m is unchanged. To keep
 * the current outputs while setting inputs, pass m->sig.outputs->json. */
int mlmodel_set_signature(struct mlmodel *m, const json_t *inputs, const json_t *outputs,
			  const json_t *params);

/* Infer a column-based input schema (a new JSON list for
 * mlmodel_set_signature) from CSV text with a header row, as MLflow's
 * infer_signature would from the pandas frame: per column "long" when every
 * value is an integer, "double" when numeric (or integer with missing
 * values), "boolean" for true/false, else "string"; a column with an empty
 * or NA value gets "required": false. Reads at most MLMODEL_CSV_ROWS data
 * rows, read with core/csv.h in strict mode (RFC 4180 quoting, LF, CRLF or
 * CR line ends, a UTF-8 byte-order mark skipped). */
#define MLMODEL_CSV_ROWS 1000
#define MLMODEL_CSV_COLUMNS 10000
int mlmodel_signature_from_csv(const char *csv, size_t len, json_t **inputs);

/* The MLflow name of a type ("double"), or "tensor". */
const char *mltype_name(enum mltype t);

#endif
