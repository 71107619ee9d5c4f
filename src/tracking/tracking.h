/* tracking.h - experiments, runs, params, metrics, tags and dataset inputs.
 *
 * Every function takes a store connection (one thread at a time) and runs in
 * its own transaction: a write returns 0 only once it has committed.
 * Entities come back as jansson objects in MLflow's JSON shape (Experiment,
 * Run, Metric), owned by the caller, so the API layer and the CLI render the
 * same thing. Inputs are validated with MLflow's rules and limits; a bad one
 * is CAIRN_EINVALID (or CAIRN_ENOTFOUND for unknown ids) with a message.
 */
#ifndef CAIRN_TRACKING_TRACKING_H
#define CAIRN_TRACKING_TRACKING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "store/store.h"

/* MLflow's limits (mlflow/utils/validation.py). */
#define TRK_MAX_BATCH_METRICS 1000
#define TRK_MAX_BATCH_PARAMS 100
#define TRK_MAX_BATCH_TAGS 100
#define TRK_MAX_BATCH_TOTAL 1000
#define TRK_MAX_KEY_LEN 250
#define TRK_MAX_PARAM_VALUE 6000
#define TRK_MAX_TAG_VALUE 8000
#define TRK_MAX_EXPERIMENT_TAG_VALUE 5000
#define TRK_MAX_EXPERIMENT_NAME 500
#define TRK_MAX_HISTORY_PAGE 25000
#define TRK_MAX_SEARCH_RESULTS 50000

enum trk_view { TRK_ACTIVE_ONLY = 1, TRK_DELETED_ONLY = 2, TRK_ALL = 3 };

/* "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL" (NULL: active). */
int trk_parse_view(const char *s, enum trk_view *out);

/* ---- experiments ---- */
int trk_experiment_create(struct store *st, const char *name, const char *artifact_location,
			  json_t *tags, char **id_out);
int trk_experiment_get(struct store *st, const char *id, json_t **out);
int trk_experiment_get_by_name(struct store *st, const char *name, json_t **out);
int trk_experiment_rename(struct store *st, const char *id, const char *new_name);
int trk_experiment_delete(struct store *st, const char *id);
int trk_experiment_restore(struct store *st, const char *id);
int trk_experiment_set_tag(struct store *st, const char *id, const char *key, const char *value);
int trk_experiment_delete_tag(struct store *st, const char *id, const char *key);

struct trk_page {
	int64_t max_results;     /* 0: the entity's default */
	const char *page_token;  /* NULL or "": first page */
	const char *filter;      /* NULL or "": no filter */
	const char *const *order_by;
	size_t n_order;
	enum trk_view view;
};

/* *out: JSON array of Experiment; *next: NULL or an opaque token (free()). */
int trk_experiment_search(struct store *st, const struct trk_page *pg, json_t **out, char **next);

/* ---- runs ---- */
/* tags: JSON array of {key, value} or NULL. run_name may be NULL (one is generated). */
int trk_run_create(struct store *st, const char *experiment_id, const char *user_id, int64_t start_time,
		   const char *run_name, json_t *tags, json_t **run_out);
int trk_run_get(struct store *st, const char *run_id, json_t **out);
/* status/run_name may be NULL; end_time < 0 means unchanged. *info_out: RunInfo. */
int trk_run_update(struct store *st, const char *run_id, const char *status, int64_t end_time,
		   const char *run_name, json_t **info_out);
int trk_run_delete(struct store *st, const char *run_id);
int trk_run_restore(struct store *st, const char *run_id);
/* metrics/params/tags: JSON arrays as in MLflow's LogBatch (any may be NULL). */
int trk_log_batch(struct store *st, const char *run_id, json_t *metrics, json_t *params, json_t *tags);
int trk_delete_tag(struct store *st, const char *run_id, const char *key);
/* datasets: JSON array of DatasetInput ({tags, dataset}). */
int trk_log_inputs(struct store *st, const char *run_id, json_t *datasets);
/* experiment_ids: array of strings. *out: array of Run. */
int trk_run_search(struct store *st, const char *const *experiment_ids, size_t n_exp,
		   const struct trk_page *pg, json_t **out, char **next);

/* Distinct (experiment, dataset name, digest, context) used by runs of the
 * given experiments (at most 20). *out: array of DatasetSummary. */
int trk_search_datasets(struct store *st, const char *const *experiment_ids, size_t n_exp, json_t **out);

/* ---- metric history ---- */
/* Append the GetMetricHistory response, {"metrics": [Metric...],
 * "next_page_token": ...}, ordered by (timestamp, step), to out. Written
 * directly as JSON text: histories run to millions of points. max_results 0:
 * every point. */
int trk_metric_history(struct store *st, const char *run_id, const char *key, int64_t max_results,
		       const char *page_token, struct buf *out);
/* GetMetricHistoryBulkInterval as MLflow answers it (the default): the union
 * of the runs' steps in [start_step, end_step] (neither given: 0 to the
 * highest step; one alone is refused), up to max_results of them evenly spaced plus the last, and
 * every run's lowest and highest step in the range; then per run, in run_ids'
 * order, each point at those steps by (step, timestamp, value), at most
 * 25,000 a run. Value extremes are not kept. *out: array of MetricWithRunId. */
int trk_metric_history_bulk_steps(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
				  bool has_start, bool has_end, int64_t start_step, int64_t end_step,
				  int64_t max_results, json_t **out);
/* cairn's envelope sampling (cairn_envelope=true; the web UI asks for it):
 * sample one key across runs into at most max_results points per run (every
 * point when they fit): about half evenly spaced, the rest each step bucket's
 * lowest and highest point, so spikes survive (the rule: pyramid.h). A whole
 * series is sampled from its step buckets, kept after the first request that
 * reads it and retired by any write of the series (metric_pyramids); a step
 * range reads its own points, in step order. start/end_step < 0: the whole
 * range. *out: array of MetricWithRunId. */
int trk_metric_history_bulk_interval(struct store *st, const char *const *run_ids, size_t n_runs,
				     const char *key, int64_t start_step, int64_t end_step,
				     int64_t max_results, json_t **out);

/* GetMetricHistoryBulk (the UI route /ajax-api/2.0/mlflow/metrics/get-history-bulk):
 * every point of key for the runs (1 to 100), ordered by run id, then
 * timestamp, step and value, at most max_results (0..25000) in all. *out: an
 * array of MetricWithRunId. */
int trk_metric_history_bulk(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
			    int64_t max_results, json_t **out);
/* How many points of one key each run has in a step range (start/end_step
 * < 0: all), with the lowest and highest step: what tells a chart whether a
 * sample holds every point. *out: [{"run_id", "count", "min_step",
 * "max_step"}] in run_ids' order (count 0, no steps, for a run without it). */
int trk_metric_summary(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
		       int64_t start_step, int64_t end_step, json_t **out);

/* ---- helpers shared with the CLI and API ---- */
/* Validate a metric/param/tag key with MLflow's rules. */
int trk_validate_key(const char *kind, const char *key);
/* Encode/decode the opaque offset page token. */
char *trk_page_token_encode(int64_t offset);
int trk_page_token_decode(const char *token, int64_t *offset);
/* The artifact URI of a run, borrowed from a Run JSON object. */
const char *trk_run_artifact_uri(json_t *run);

#endif
