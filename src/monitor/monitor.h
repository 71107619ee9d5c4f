/* monitor.h - live monitoring of a served model: its inference log in windows, each profiled and tested for drift.
 *
 * A monitor reads the inference log that `cairn serve --log-dir` writes
 * (serve/ilog.h), keeps the records of one model (and the primary's answers
 * only, not a canary's or a shadow's), turns each request body back into
 * rows (every protocol the server speaks: MLflow's dataframe_split,
 * dataframe_records, instances, inputs, CSV text, and the Open Inference
 * Protocol) and its answer into a `prediction` column, and cuts them into
 * tumbling windows: by time (aligned to multiples of the window length since
 * the epoch) or by row count. Each closed window is profiled (stats/
 * profile.h) and compared with the reference profile - the model version's
 * training profile, or any other - by stats/drift.h.
 *
 * With labels (ground truth posted to cairn serve's /labels, joined by request
 * id) each window also gets the model's live performance: accuracy and ROC
 * AUC when every label is 0 or 1 (a prediction >= 0.5 counts as 1), else RMSE
 * and MAE. A label counts when it was posted before the window is read;
 * monitor_performance reads a window's records again (from its start to its
 * end position) to score labels that came later.
 *
 * Scanning resumes exactly: the position returned is just past the last
 * record of the last closed window, so the records of a window still open
 * are read again next time, and a restart neither loses nor repeats a
 * window. docs/monitoring.md.
 */
#ifndef CAIRN_MONITOR_MONITOR_H
#define CAIRN_MONITOR_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/metrics.h"
#include "serve/ilog.h"
#include "stats/drift.h"

struct monitor_opts {
	const char *model;              /* keep records of this model name; NULL: any */
	int64_t window_us;              /* tumbling windows of this length ... */
	uint64_t window_rows;           /* ... or of this many rows (one of the two) */
	const json_t *reference;        /* the reference profile (borrowed) */
	struct drift_options drift;
	const char *labels;             /* ground truth (cairn serve's LOG_DIR/labels.jsonl), or NULL */
	const json_t *label_map;        /* or the labels already read (monitor_labels_load; borrowed) */
};

/* One closed window (everything borrowed, valid during the callback). */
struct monitor_window {
	int64_t start_us, end_us;       /* [start, end): the window's span (row windows: first and last record) */
	uint64_t rows, requests, bad_requests;   /* bad: bodies that did not read as rows */
	const json_t *profile;          /* the window's profile (its columns plus "prediction") */
	const json_t *drift;            /* drift of the window against the reference */
	const json_t *performance;      /* with labels: {"labelled", "task", "accuracy", "auc" | "rmse", "mae"}, else NULL */
	struct ilog_pos start;          /* the position of the window's first record */
	struct ilog_pos end;            /* position just past the window's last record */
};

typedef int (*monitor_window_fn)(void *ctx, const struct monitor_window *w);

/* Read the log in dir from *pos (or its start when pos->seq is 0) and call fn
 * for each window closed by a later record; with flush, the window still open
 * at the end of the log is closed too. *pos advances past the last record of
 * the last window passed to fn. A nonzero return from fn stops the scan and
 * is returned. CAIRN_ENOTFOUND when dir does not exist. */
int monitor_scan(const char *dir, const struct monitor_opts *o, struct ilog_pos *pos, bool flush, monitor_window_fn fn,
		 void *ctx);

/* Ground truth from a labels.jsonl (cairn serve's /labels): a new object,
 * request id -> label, the last label of an id winning; bad lines are
 * skipped. *out is NULL when the file does not exist. */
int monitor_labels_load(const char *path, json_t **out);

/* The live performance of the window whose records run from start to end
 * (monitor_window's positions), scored against o's labels as they are now:
 * *out is the new performance object, or NULL when no row is labelled.
 * requests is the window's count of records: CAIRN_ENOTFOUND when the log no
 * longer holds them all (a segment deleted, the log rewritten). */
int monitor_performance(const char *dir, const struct monitor_opts *o, const struct ilog_pos *start,
			const struct ilog_pos *end, uint64_t requests, json_t **out);

/* The rows of one logged request body (input) and its answer (output, may
 * be NULL) as a new JSON array of objects; names (may be NULL) name the
 * columns of positional rows (lists of values, tensors). The predictions
 * become member "prediction" (or prediction_0..k-1 for k values a row) when
 * their count matches the rows. CAIRN_EINVALID when the body is not one the
 * server reads. */
int monitor_rows(const json_t *input, const json_t *output, const char *const *names, size_t nnames, json_t **rows);

/* The Prometheus gauges of monitors, registered in m (borrowed; it must
 * outlive them): cairn_monitor_drift_score{monitor,column,test},
 * cairn_monitor_column_drifted{monitor,column}, cairn_monitor_drifted_columns
 * {monitor}, cairn_monitor_drifted_share{monitor}, cairn_monitor_dataset_drift
 * {monitor}, cairn_monitor_window_rows{monitor},
 * cairn_monitor_window_end_timestamp_seconds{monitor},
 * cairn_monitor_prediction_mean{monitor} and cairn_monitor_prediction_quantile
 * {monitor,q} (q 0.05, 0.5, 0.95). Scores are the selected test's (a p-value
 * for KS, chi-squared and z; a distance otherwise). */
struct monitor_gauges;
int monitor_gauges_new(struct metrics *m, struct monitor_gauges **out);
/* Set the gauges of monitor from a closed window. */
void monitor_export(struct monitor_gauges *g, const char *monitor, const struct monitor_window *w);
/* Set only the performance gauges (a revised last window). */
void monitor_export_performance(struct monitor_gauges *g, const char *monitor, const json_t *performance);
void monitor_gauges_free(struct monitor_gauges *g);

#endif
