/* decode.h - scoring requests into a dense float32 matrix: the MLflow scoring protocol and the Open Inference Protocol.
 *
 * A native model (XGBoost, later ONNX) takes a row-major float32 matrix. This
 * module turns a request body into one, in the model's column order, with
 * MLflow's schema enforcement, so that a request cairn accepts is one MLflow's
 * scoring server accepts, gives the model the same numbers, and a request it
 * refuses gets MLflow's message. No HTTP here: the caller passes the body and
 * its Content-Type and answers with what comes back.
 *
 * What the model takes (struct serve_input) is built once per loaded model
 * from its MLmodel signature and/or its own feature names:
 *   - a column-based signature: named columns are matched by name, in any
 *     order; extra columns are ignored; a missing required column is an
 *     error ("Model is missing inputs ['b']."), a missing optional one is NaN.
 *     Unnamed column signatures are positional. Types are boolean, integer,
 *     long, float, double; other types (string, binary, datetime, array,
 *     object, map, any) cannot go into a float matrix and are refused.
 *   - a tensor-based signature with one tensor (dtype + shape, -1 a
 *     wildcard): shape and dtype are enforced; each row is the flattened
 *     tensor row (shape [-1, 28, 28] gives 784 columns).
 *   - no signature: the model's feature names (if it has them) are matched
 *     by name like a named signature whose columns are all required; else
 *     and whenever the request carries no names, columns are positional and
 *     their number must be the model's. Numbers and booleans are taken as they
 *     are, null is NaN, anything else is an error.
 *
 * How values are converted follows the path MLflow takes for each format,
 * because MLflow's own behaviour differs between them (tests/serve/
 * mlflow_parity.json records it, from MLflow itself):
 *   - dataframe_split, dataframe_records: pandas builds a frame and casts
 *     every schema column with astype(), which is not the "safe" cast: 2.7
 *     in a long column becomes 2, "1.5" in a double column becomes 1.5, true
 *     becomes 1.0; a null in a long column fails ("Cannot convert non-finite
 *     values (NA or inf) to integer"); a double column takes null as NaN.
 *   - instances, inputs: numpy.array(values, dtype) per column, the same
 *     unsafe casts, errors in numpy's words ("could not convert string to
 *     float: 'x'"); instances as a list of rows (not of objects) only works
 *     for a single-column or an unnamed signature; inputs as a list of
 *     objects goes through pandas' safe-cast check.
 *   - text/csv: pandas.read_csv with the schema's dtypes (a header row; NA
 *     spellings; "2.5" refused in a long column).
 *   - Open Inference Protocol: the tensor's datatype is checked against the
 *     model with MLflow's safe-cast rules (_enforce_mlflow_datatype: int32 ->
 *     long/double fine, FP64 -> float or int64 -> double refused), as a
 *     KServe/MLServer deployment of an MLflow model enforces it.
 * Integer and boolean columns end as their value in float (2 -> 2.0f, true
 * -> 1.0f); int32 columns wrap as numpy does.
 *
 * JSON bodies may use Python's NaN, Infinity and -Infinity literals (the
 * MLflow client sends them); integers beyond int64 are refused.
 *
 * Plain numeric bodies take a streaming fast path that decodes them without
 * a JSON tree, to the same matrix (serve/decode_int.h); everything else is
 * decoded through jansson as described here.
 *
 * Return values: 0; CAIRN_EINVALID with MLflow's message (HTTP 400, the
 * MLflow error body with out->error_code); CAIRN_EUNSUPPORTED when the
 * Content-Type is not application/json or text/csv (with at most a charset
 * parameter, utf-8): the caller answers 415 with the message as text/plain;
 * CAIRN_ETOOBIG when the matrix would exceed SERVE_MAX_VALUES; CAIRN_ENOMEM.
 * MLflow's messages quote the request's data (a pandas repr); cairn's leave
 * the data out: "Failed to enforce schema of data with schema '['a': double
 * (required)]'. Error: Model is missing inputs ['a']." For the Open Inference
 * Protocol the message is the "error" of the {"error": ...} answer.
 *
 * Ownership: a serve_input is the caller's (serve_input_release) and borrows
 * the model's ParamSchema, so the model must outlive it; it is read-only
 * after it is built and may be shared by threads. A serve_frame is the
 * caller's (serve_frame_release), released or not on failure.
 */
#ifndef CAIRN_SERVE_DECODE_H
#define CAIRN_SERVE_DECODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/csv.h"
#include "model/mlmodel.h"

#define SERVE_MAX_VALUES ((size_t)1 << 25)   /* most cells in one decoded matrix (128 MiB of floats) */

/* numpy dtypes a column or tensor can have. */
enum serve_dtype {
	SERVE_DT_ANY,       /* no signature: numbers and booleans as they are */
	SERVE_DT_BOOL,
	SERVE_DT_INT8, SERVE_DT_INT16, SERVE_DT_INT32, SERVE_DT_INT64,
	SERVE_DT_UINT8, SERVE_DT_UINT16, SERVE_DT_UINT32, SERVE_DT_UINT64,
	SERVE_DT_FLOAT16, SERVE_DT_FLOAT32, SERVE_DT_FLOAT64,
};

/* What a model takes. Built by serve_input_from_signature; read-only after. */
struct serve_input {
	size_t ncols;               /* matrix width: columns, or the product of a tensor's inner dimensions */
	char **names;               /* ncols column names in model order; NULL: positional */
	enum serve_dtype *dtypes;   /* ncols; NULL: no signature */
	bool *required;             /* ncols; NULL: all required */
	bool tensor;                /* tensor-based signature (dtypes all the tensor's dtype) */
	char *tensor_name;          /* a named tensor's name; NULL when unnamed or not a tensor */
	int64_t *shape;             /* tensor: its shape, -1 where variable */
	size_t ndim;                /* tensor: dimensions (at least 1) */
	const struct mlparam *params;  /* ParamSchema (borrowed from the model); NULL: none */
	size_t nparams;
	json_t *param_defaults;     /* {name: default} converted as MLflow's ParamSpec does; NULL without params */
	char *schema_repr;          /* MLflow's repr of the input schema ("['a': double (required)]"); NULL without one */
	uint32_t *slots;            /* private: open-addressing table over names, nslots entries */
	size_t nslots;
};

/* Which request format a frame came from. */
enum serve_format {
	SERVE_FMT_NONE,
	SERVE_FMT_DATAFRAME_SPLIT,
	SERVE_FMT_DATAFRAME_RECORDS,
	SERVE_FMT_INSTANCES,
	SERVE_FMT_INPUTS,
	SERVE_FMT_CSV,
	SERVE_FMT_OIP,
};

/* A decoded request. Start it zeroed (or SERVE_FRAME_INIT). */
struct serve_frame {
	size_t nrows, ncols;        /* ncols is the model's */
	float *x;                   /* nrows * ncols, row-major, NaN where missing; NULL when nrows is 0 */
	json_t *params;             /* MLflow: the validated params with defaults, when the model has a
	                             * ParamSchema, else NULL (MLflow ignores them); OIP: NULL */
	enum serve_format format;
	const char *error_code;     /* after CAIRN_EINVALID: MLflow's error_code ("BAD_REQUEST",
	                             * "INVALID_PARAMETER_VALUE"); else NULL (static string) */
};
#define SERVE_FRAME_INIT { 0, 0, NULL, NULL, SERVE_FMT_NONE, NULL }

/* What the model m takes. m may be NULL (no MLmodel) or have no signature;
 * then feature_names (nfeatures of them, or NULL: unnamed) and nfeatures,
 * the model's own feature count, describe it. With a signature, nfeatures
 * (when not 0) must agree with it. CAIRN_EUNSUPPORTED for signatures a
 * float matrix cannot carry (string columns, several tensors, a variable
 * inner dimension); CAIRN_EINVALID for a nonsensical one (no columns, a
 * param default of the wrong type). */
int serve_input_from_signature(const struct mlmodel *m, char *const *feature_names, size_t nfeatures,
			       struct serve_input *out);
void serve_input_release(struct serve_input *in);
/* Index of the model column called name (n bytes), or -1. */
long serve_input_column(const struct serve_input *in, const char *name, size_t n);

/* POST /invocations: decode body (len bytes) sent with content_type (NULL:
 * none was sent) for the model in. */
int serve_decode_mlflow(const struct serve_input *in, const char *content_type, const char *body, size_t len,
			struct serve_frame *out);

/* POST /v2/models/{name}/infer: decode an Open Inference Protocol request.
 * The inputs are one tensor of shape [n, ncols] (for a tensor signature, the
 * signature's shape), or one tensor per named column of shape [n] or [n, 1];
 * data row-major, flat or nested as the shape says. *meta (when meta is not
 * NULL) gets a new object with the request's "id", "parameters" and
 * "outputs" when present, for the answer. */
int serve_decode_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		     json_t **meta);

void serve_frame_release(struct serve_frame *f);

/* The name of a format ("dataframe_split", "csv", "oip"...). */
const char *serve_format_name(enum serve_format f);

/* ---- rows of a stream: batch scoring (cairn predict) ----
 *
 * A file too big for one request is decoded a row at a time with the
 * server's validation: the CSV header once (serve_csv_map_new: the column
 * mapping by name, extra columns ignored, a missing required column refused
 * with MLflow's "Model is missing inputs" message, positional and tensor
 * signatures checked as for text/csv), then each record
 * (serve_csv_map_row) with read_csv's conversions for the column's dtype
 * (pandas' NA spellings, an empty field among them, are NaN in a float
 * column and refused in an integer or boolean one); a JSON-lines object
 * as a dataframe_records request of that one record decodes it
 * (serve_decode_json_row: the same casts, nulls, missing keys and messages).
 *
 * Where pandas decides over a whole column, each row is decided as a
 * one-row request would be, so a row's numbers never depend on its
 * neighbours (a long column takes "2.0", and a boolean one both 1 and True,
 * in any mix). Messages name the column, not the line: the caller knows
 * where the record started. A map is read-only after serve_csv_map_first
 * and may be shared by threads (serve_csv_map_row writes only row).
 */
struct serve_csv_map;

/* The mapping of a CSV header's n fields (as core/csv gives them) onto the
 * model in (which must outlive it). CAIRN_EINVALID with MLflow's message
 * when a required column is missing or a positional model's count is
 * wrong; CAIRN_ENOMEM. */
int serve_csv_map_new(const struct serve_input *in, const struct ccsv_field *header, size_t n,
		      struct serve_csv_map **out);
/* The first data record had nfields fields: one more than the header means
 * every record leads with pandas' index (to_csv's default), as read_csv
 * infers it. Call before any serve_csv_map_row. */
void serve_csv_map_first(struct serve_csv_map *map, size_t nfields);
/* Decode one record's n fields (NUL-terminated, as core/csv gives them)
 * into row (in->ncols floats). A short record's missing fields are NA; one
 * with more fields than the header (and index) is CAIRN_EINVALID, as is a
 * value its column's dtype refuses ("column 'b': invalid literal for int()
 * with base 10: 'x'"); CAIRN_ENOMEM. */
int serve_csv_map_row(const struct serve_csv_map *map, const struct ccsv_field *fields, size_t n, float *row);
void serve_csv_map_free(struct serve_csv_map *map);

/* Decode one JSON-lines record, len bytes of text holding one JSON object
 * ({"column": value, ...}; Python's NaN and Infinity literals allowed), into
 * row (in->ncols floats). CAIRN_EINVALID with MLflow's message (a parse
 * error, a missing column, a value that does not convert) or for a value
 * that is not an object; CAIRN_ENOMEM. */
int serve_decode_json_row(const struct serve_input *in, const char *text, size_t len, float *row);

#endif
