/* logged_model.h - MLflow 3 logged models: create, get, finalize, delete,
 * tags, params, search, and their links to runs (outputs and model inputs).
 *
 * As the rest of tracking: each function runs in its own transaction, and
 * entities come back as jansson objects in MLflow's JSON shape (LoggedModel:
 * {info: LoggedModelInfo, data: {params, metrics}}), owned by the caller.
 * Unknown or deleted models are CAIRN_ENOTFOUND ("Logged model with ID '...'
 * not found."), as MLflow's SQL store.
 */
#ifndef CAIRN_TRACKING_LOGGED_MODEL_H
#define CAIRN_TRACKING_LOGGED_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* name NULL: one is generated. params/tags: arrays of {key, value} or NULL. */
int trk_logged_model_create(struct store *st, const char *experiment_id, const char *name, const char *model_type,
			    const char *source_run_id, json_t *params, json_t *tags, json_t **out);
int trk_logged_model_get(struct store *st, const char *model_id, json_t **out);
/* status: a LoggedModelStatus JSON value (name such as "LOGGED_MODEL_READY",
 * or its number). */
int trk_logged_model_finalize(struct store *st, const char *model_id, json_t *status, json_t **out);
int trk_logged_model_delete(struct store *st, const char *model_id);
int trk_logged_model_set_tags(struct store *st, const char *model_id, json_t *tags);
int trk_logged_model_delete_tag(struct store *st, const char *model_id, const char *key);
int trk_logged_model_log_params(struct store *st, const char *model_id, json_t *params);
/* order_by: "<field_name> ASC|DESC" strings (search.h). datasets (NULL or
 * MLflow's [{dataset_name, dataset_digest?}]): only models with a metric on
 * one of them, and metrics.<key> read from those metrics alone. *out: array
 * of LoggedModel; *next: NULL or a page token (free()). max_results 0: 50. */
int trk_logged_model_search(struct store *st, const char *const *experiment_ids, size_t n_exp, const char *filter,
			    json_t *datasets, const char *const *order_by, size_t n_order, int64_t max_results,
			    const char *page_token, json_t **out, char **next);

/* LogOutputs: models is an array of {model_id, step}. */
int trk_log_outputs(struct store *st, const char *run_id, json_t *models);
/* Model inputs of LogInputs: array of {model_id}. */
int trk_log_model_inputs(struct store *st, const char *run_id, json_t *models);

/* Inside a caller's write transaction: record a validated Metric that names a
 * model_id into logged_model_metrics (no-op without one, or for an unknown model). */
int trk__logged_model_metric(struct store *st, const char *run_id, json_t *m, double v, int is_nan, int64_t ts,
			     int64_t step);
/* Inside a caller's write transaction: add {"name": name, "version": version}
 * to the mlflow.modelVersions tag of the logged model (a JSON list, as
 * MLflow's set_model_versions_tags writes it) unless it is there already;
 * an unknown or deleted model is RESOURCE_DOES_NOT_EXIST. */
int trk__logged_model_add_version(struct store *st, const char *model_id, const char *name, int64_t version);
/* Inside a read: add inputs.model_inputs and outputs.model_outputs of a run. */
int trk__run_model_io(struct store *st, const char *run_id, json_t *inputs, json_t *outputs);

#endif
