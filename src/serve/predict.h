/* predict.h - batch scoring: a CSV or JSON-lines stream through a model, in chunks, in parallel, in order.
 *
 * `cairn predict URI -i FILE -o FILE` is this module behind a command line.
 * The input is read by one thread and cut into chunks of rows
 * (PREDICT_CHUNK_ROWS); N predictor threads, each with an xgb_ctx of its
 * own, decode a chunk with the server's validation (serve/decode.h: column
 * mapping by name from the signature, MLflow's casts and messages), predict
 * it in one call (model/xgb.h, nthread 1) and format its lines; the calling
 * thread writes the chunks in input order. At most 2N + 2 chunks exist, so
 * memory stays the same whatever the size of the input.
 *
 * Input:
 *   CSV          a header row, then records (core/csv.h: RFC 4180 quoting,
 *                strict); each record decoded as read_csv reads a one-row
 *                text/csv request (an empty field is NA: NaN in a float
 *                column, refused in an integer or boolean one). A missing
 *                required column is refused after the header, before any
 *                row is scored.
 *   JSON lines   one object per line ({"column": value, ...}), each decoded
 *                as a dataframe_records request of that record; blank lines
 *                are skipped.
 * Output:
 *   CSV          a header, then one line per input row: `prediction`, or
 *                `prediction_0` .. `prediction_<k-1>` for a model giving k
 *                values a row (class probabilities); labels as integers,
 *                values as Python's repr of the double (what pandas'
 *                to_csv writes), NaN as an empty field. With keep_input,
 *                the input record's fields (quoted as they were) first.
 *   JSON lines   {"prediction": value} or {"prediction": [v, ...]} per row;
 *                with keep_input, the input object with "prediction" added.
 *   JSON         MLflow's {"predictions": [...]}, byte for byte what
 *                `mlflow models predict -o FILE` writes.
 *
 * Errors name the input and the line a record starts on ("'in.csv', line
 * 7: column 'f1': could not convert string to float: 'x'"); the first one
 * in input order is the one reported, and every thread stops. predict_file
 * writes into a temporary file beside the output and renames it into place
 * once everything is written and synced, so a failed run leaves no file (or
 * the previous one); to stdout, what was scored before the failure has been
 * written. An input with no rows (empty, or a header alone) is an error.
 *
 * Return values: 0; CAIRN_EINVALID for bad input (its message names the
 * line), CAIRN_ENOTFOUND for a missing input file, CAIRN_EIO for a read or
 * write failure, CAIRN_ETOOBIG for a line past PREDICT_MAX_LINE, CAIRN_ENOMEM,
 * and the model's own errors from predict_model_load (model/xgb.h).
 */
#ifndef CAIRN_SERVE_PREDICT_H
#define CAIRN_SERVE_PREDICT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/xgb.h"

#define PREDICT_CHUNK_ROWS 4096                 /* rows a predictor takes at a time */
#define PREDICT_CHUNK_BYTES ((size_t)8 << 20)   /* a chunk also ends once it holds this much input */
#define PREDICT_MAX_LINE ((size_t)16 << 20)     /* longest JSON line */

/* Formats of the input and the output. */
enum predict_format {
	PREDICT_FMT_AUTO,   /* input: by the file's extension, else CSV; output: by its extension, else the input's */
	PREDICT_FMT_CSV,
	PREDICT_FMT_JSONL,  /* JSON lines */
	PREDICT_FMT_JSON,   /* output only: MLflow's {"predictions": [...]} */
};

struct predict_opts {
	enum predict_format in_format, out_format;
	char delim;            /* CSV input delimiter (0: ',', or a tab for a .tsv input) */
	char out_delim;        /* CSV output delimiter (0: a tab for a .tsv output, else the input's
	                          delimiter after CSV, ',' after JSON lines) */
	unsigned threads;      /* predictor threads (0: the CPUs this process may run on) */
	size_t chunk_rows;     /* rows per chunk (0: PREDICT_CHUNK_ROWS) */
	bool keep_input;       /* copy each input record into the output (CSV to CSV, JSON lines to JSON lines) */
	enum xgb_method method; /* XGB_PREDICT (MLflow's pyfunc predict), _MARGIN, _PROBA */
	bool quiet;            /* no progress line (there is none unless stderr is a terminal) */
	const atomic_bool *cancel; /* NULL, or set (by a signal handler) to stop the run: it fails with
	                          CAIRN_ERR "interrupted" once the chunks read so far are written */
};

/* What a run did. */
struct predict_stats {
	uint64_t rows;         /* rows scored and written */
	uint64_t bytes;        /* input bytes read */
	double seconds;        /* wall time of the run */
	unsigned threads;      /* predictor threads used */
};

/* A loaded model: an MLflow model directory with the xgboost flavor, or a
 * bare model file (model.ubj, .json, .xgb), and what it takes. */
struct predict_model;

/* Load path. Models without the xgboost flavor are CAIRN_EUNSUPPORTED
 * (Python flavors unpickle code: not here). */
int predict_model_load(const char *path, struct predict_model **out);
void predict_model_free(struct predict_model *m);
/* Columns the model takes, and the shape of what method gives. */
size_t predict_model_ncols(const struct predict_model *m);
int predict_model_shape(const struct predict_model *m, enum xgb_method method, struct xgb_shape *out);

/* Score in_path ("-": stdin) into out_path ("-": stdout, written as it
 * goes; a file: atomically, see above). Formats left AUTO are settled by
 * the paths. st (may be NULL) gets what was done. */
int predict_file(struct predict_model *m, const char *in_path, const char *out_path, const struct predict_opts *o,
		 struct predict_stats *st);

/* The engine over descriptors: read in_fd to its end (named in_name in
 * messages; in_size its size for the progress line, 0: unknown), write
 * out_fd (named out_name) through cwrite as chunks are scored. AUTO
 * formats: CSV in, the input's out. */
int predict_stream(struct predict_model *m, int in_fd, const char *in_name, int64_t in_size, int out_fd,
		   const char *out_name, const struct predict_opts *o, struct predict_stats *st);

/* "csv", "jsonl" (or "ndjson"), "json" into *out; CAIRN_EINVALID otherwise. */
int predict_format_parse(const char *s, enum predict_format *out);
/* The format a file name's extension says (.csv .tsv, .jsonl .ndjson,
 * .json), PREDICT_FMT_AUTO for any other; *tab (may be NULL) is set for .tsv. */
enum predict_format predict_format_of(const char *path, bool *tab);
const char *predict_format_name(enum predict_format f);

/* For the tests: serve_put_double's text of v (Python's repr, as MLflow and
 * pandas write it), the way the predictors write it. */
struct buf;
void predict__put_double(struct buf *b, double v);

#endif
