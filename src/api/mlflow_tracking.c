/* mlflow_tracking.c - MLflow tracking REST handlers (service.proto) and their route table. */
#include "api/api_int.h"
#include "tracking/logged_model.h"
#include "tracking/tracking.h"

#include <stdlib.h>
#include <string.h>

/* ---- experiments ---- */

static int exp_create(struct api_call *c)
{
	const char *name = NULL, *loc = NULL;
	json_t *tags = NULL;
	char *id = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "artifact_location", false, &loc)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &tags)) < 0)
		return rc;
	if ((rc = trk_experiment_create(c->st, name, loc, tags, &id)))
		return rc;
	c->reply = json_pack("{s:s}", "experiment_id", id);
	free(id);
	return 0;
}

static int exp_wrap(struct api_call *c, json_t *e)
{
	c->reply = json_pack("{s:o}", "experiment", e);
	return 0;
}

static int exp_get(struct api_call *c)
{
	const char *id = NULL;
	json_t *e;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0 || (rc = trk_experiment_get(c->st, id, &e)))
		return rc;
	return exp_wrap(c, e);
}

static int exp_get_by_name(struct api_call *c)
{
	const char *name = NULL;
	json_t *e;
	int rc;

	if ((rc = api_str(c, "experiment_name", true, &name)) < 0 || (rc = trk_experiment_get_by_name(c->st, name, &e)))
		return rc;
	return exp_wrap(c, e);
}

static int exp_search(struct api_call *c)
{
	struct trk_page pg;
	const char **order = NULL;
	json_t *list = NULL;
	char *next = NULL;
	int rc;

	if ((rc = api_page_args(c, "view_type", &pg, &order)) ||
	    (rc = trk_experiment_search(c->st, &pg, &list, &next)))
		goto out;
	c->reply = json_pack("{s:o}", "experiments", list);
	if (next)
		cjson_set(c->reply, "next_page_token", json_string(next));
out:
	free(order);
	free(next);
	return rc;
}

static int exp_update(struct api_call *c)
{
	const char *id = NULL, *name = NULL;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0 || (rc = api_str(c, "new_name", false, &name)) < 0)
		return rc;
	if (!name)
		return 0;
	return trk_experiment_rename(c->st, id, name);
}

static int exp_delete(struct api_call *c)
{
	const char *id = NULL;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0)
		return rc;
	return trk_experiment_delete(c->st, id);
}

static int exp_restore(struct api_call *c)
{
	const char *id = NULL;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0)
		return rc;
	return trk_experiment_restore(c->st, id);
}

static int exp_set_tag(struct api_call *c)
{
	const char *id = NULL, *key = NULL, *value = ""; /* MLflow: value optional, "" */
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0 || (rc = api_str(c, "key", true, &key)) < 0 ||
	    (rc = api_str(c, "value", false, &value)) < 0)
		return rc;
	return trk_experiment_set_tag(c->st, id, key, value);
}

static int exp_delete_tag(struct api_call *c)
{
	const char *id = NULL, *key = NULL;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &id)) < 0 || (rc = api_str(c, "key", true, &key)) < 0)
		return rc;
	return trk_experiment_delete_tag(c->st, id, key);
}

/* ---- runs ---- */

/* run_id, falling back to the deprecated run_uuid. */
static int run_id_arg(struct api_call *c, const char **out)
{
	int rc;

	*out = NULL;
	if ((rc = api_str(c, "run_id", false, out)) < 0)
		return rc;
	if ((!*out || !**out) && (rc = api_str(c, "run_uuid", false, out)) < 0)
		return rc;
	if (!*out || !**out)
		return cjson_missing("run_id");
	return 0;
}

static int run_create(struct api_call *c)
{
	const char *exp = NULL, *user = NULL, *name = NULL;
	int64_t start = 0;
	json_t *tags = NULL, *run;
	int rc;

	if ((rc = api_str(c, "experiment_id", false, &exp)) < 0 || (rc = api_str(c, "user_id", false, &user)) < 0 ||
	    (rc = api_str(c, "run_name", false, &name)) < 0 || (rc = api_int64(c, "start_time", false, &start)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &tags)) < 0)
		return rc;
	if ((rc = trk_run_create(c->st, exp, user, start, name, tags, &run)))
		return rc;
	c->reply = json_pack("{s:o}", "run", run);
	return 0;
}

static int run_get(struct api_call *c)
{
	const char *id;
	json_t *run;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = trk_run_get(c->st, id, &run)))
		return rc;
	c->reply = json_pack("{s:o}", "run", run);
	return 0;
}

static int run_update(struct api_call *c)
{
	const char *id, *status = NULL, *name = NULL;
	int64_t end = -1;
	json_t *info = NULL;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = api_str(c, "status", false, &status)) < 0 ||
	    (rc = api_str(c, "run_name", false, &name)) < 0 || (rc = api_int64(c, "end_time", false, &end)) < 0)
		return rc;
	if ((rc = trk_run_update(c->st, id, status, end, name, &info)))
		return rc;
	c->reply = json_pack("{s:o}", "run_info", info ? info : json_object());
	return 0;
}

static int run_delete(struct api_call *c)
{
	const char *id;
	int rc;

	if ((rc = run_id_arg(c, &id)))
		return rc;
	return trk_run_delete(c->st, id);
}

static int run_restore(struct api_call *c)
{
	const char *id;
	int rc;

	if ((rc = run_id_arg(c, &id)))
		return rc;
	return trk_run_restore(c->st, id);
}

static int log_metric(struct api_call *c)
{
	const char *id;
	json_t *arr, *m;
	int64_t ts;
	int rc;

	if ((rc = run_id_arg(c, &id)))
		return rc;
	/* MLflow requires key, value and timestamp here */
	if ((rc = cjson_get_str(c->body, "key", true, &(const char *){ NULL })) < 0 ||
	    (rc = cjson_get_double(c->body, "value", true, &(double){ 0 })) < 0 ||
	    (rc = cjson_get_int64(c->body, "timestamp", true, &ts)) < 0 ||
	    (rc = cjson_get_int64(c->body, "step", false, &ts)) < 0)
		return rc;
	m = json_pack("{s:O, s:O, s:O}", "key", json_object_get(c->body, "key"), "value",
		      json_object_get(c->body, "value"), "timestamp", json_object_get(c->body, "timestamp"));
	if (json_object_get(c->body, "step"))
		json_object_set(m, "step", json_object_get(c->body, "step"));
	/* MLflow 3: a metric may name the logged model (and dataset) it measures */
	for (const char *const *k = (const char *const[]){ "model_id", "dataset_name", "dataset_digest", NULL }; *k; k++)
		if (json_is_string(json_object_get(c->body, *k)))
			json_object_set(m, *k, json_object_get(c->body, *k));
	arr = json_pack("[o]", m);
	rc = trk_log_batch(c->st, id, arr, NULL, NULL);
	json_decref(arr);
	return rc;
}

static int log_param(struct api_call *c)
{
	const char *id, *key = NULL, *value = ""; /* MLflow: value optional, "" */
	json_t *arr;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = api_str(c, "key", true, &key)) < 0 ||
	    (rc = api_str(c, "value", false, &value)) < 0)
		return rc;
	arr = json_pack("[{s:s, s:s}]", "key", key, "value", value);
	rc = trk_log_batch(c->st, id, NULL, arr, NULL);
	json_decref(arr);
	return rc;
}

static int set_tag(struct api_call *c)
{
	const char *id, *key = NULL, *value = ""; /* MLflow: value optional, "" */
	json_t *arr;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = api_str(c, "key", true, &key)) < 0 ||
	    (rc = api_str(c, "value", false, &value)) < 0)
		return rc;
	arr = json_pack("[{s:s, s:s}]", "key", key, "value", value);
	rc = trk_log_batch(c->st, id, NULL, NULL, arr);
	json_decref(arr);
	return rc;
}

static int delete_tag(struct api_call *c)
{
	const char *id, *key = NULL;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = api_str(c, "key", true, &key)) < 0)
		return rc;
	return trk_delete_tag(c->st, id, key);
}

static int log_batch(struct api_call *c)
{
	const char *id;
	json_t *metrics = NULL, *params = NULL, *tags = NULL;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = cjson_get_array(c->body, "metrics", false, &metrics)) < 0 ||
	    (rc = cjson_get_array(c->body, "params", false, &params)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &tags)) < 0)
		return rc;
	return trk_log_batch(c->st, id, metrics, params, tags);
}

static int log_inputs(struct api_call *c)
{
	const char *id;
	json_t *datasets = NULL, *models = NULL;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = cjson_get_array(c->body, "datasets", false, &datasets)) < 0 ||
	    (rc = cjson_get_array(c->body, "models", false, &models)) < 0)
		return rc;
	if ((rc = trk_log_inputs(c->st, id, datasets)))
		return rc;
	return json_array_size(models) ? trk_log_model_inputs(c->st, id, models) : 0;
}

static int run_search(struct api_call *c)
{
	struct trk_page pg;
	const char **order = NULL, **exps = NULL;
	size_t nexp = 0;
	json_t *runs = NULL;
	char *next = NULL;
	int rc;

	if ((rc = api_page_args(c, "run_view_type", &pg, &order)) || (rc = api_str_list(c, "experiment_ids", &exps, &nexp)))
		goto out;
	if ((rc = trk_run_search(c->st, exps, nexp, &pg, &runs, &next)))
		goto out;
	c->reply = json_object();
	if (json_array_size(runs))
		cjson_set(c->reply, "runs", runs);
	else
		json_decref(runs);
	if (next)
		cjson_set(c->reply, "next_page_token", json_string(next));
out:
	free(order);
	free(exps);
	free(next);
	return rc;
}

static int search_datasets(struct api_call *c)
{
	const char **ids = NULL;
	size_t n = 0;
	json_t *list = NULL;
	int rc;

	if ((rc = api_str_list(c, "experiment_ids", &ids, &n)))
		goto out;
	/* MLflow's limits (server/handlers.py search_datasets_impl) */
	if (!n) {
		rc = cairn_error_set(CAIRN_EINVALID, "SearchDatasets request must specify at least one experiment_id.");
		goto out;
	}
	if (n > 20) {
		rc = cairn_error_set(CAIRN_EINVALID, "SearchDatasets request cannot specify more than 20 experiment_ids. "
						     "Received %zu experiment_ids.", n);
		goto out;
	}
	if ((rc = trk_search_datasets(c->st, ids, n, &list)))
		goto out;
	c->reply = json_object();
	if (json_array_size(list))
		cjson_set(c->reply, "dataset_summaries", list);
	else
		json_decref(list);
out:
	free(ids);
	return rc;
}

/* ---- metrics ---- */

static int metric_history(struct api_call *c)
{
	const char *id, *key = NULL, *token = NULL;
	int64_t max = 0;
	int rc;

	if ((rc = run_id_arg(c, &id)) || (rc = api_str(c, "metric_key", true, &key)) < 0 ||
	    (rc = api_str(c, "page_token", false, &token)) < 0 || (rc = api_int64(c, "max_results", false, &max)) < 0)
		return rc;
	buf_clear(&c->resp->body);
	if ((rc = trk_metric_history(c->st, id, key, max, token, &c->resp->body)))
		return rc;
	c->raw = true;
	c->resp->status = 200;
	c->resp->content_type = "application/json";
	return 0;
}

/* The arguments the series routes share: runs (ids_key: "run_ids" or MLflow's
 * UI's "run_id"), the metric key, an optional step range and max_results
 * (left as given when absent). a->ids is the caller's to free. */
struct series_args {
	const char **ids;
	size_t n;
	const char *key;
	int64_t start, end, max;
	bool has_start, has_end; /* given in the request */
};

static int series_args(struct api_call *c, const char *ids_key, bool key_required, bool range,
		       struct series_args *a)
{
	int rc;

	if ((rc = api_str_list(c, ids_key, &a->ids, &a->n)) ||
	    (rc = api_str(c, "metric_key", key_required, &a->key)) < 0 ||
	    (range && ((rc = api_int64(c, "start_step", false, &a->start)) < 0 || ((a->has_start = rc), 0) ||
		       (rc = api_int64(c, "end_step", false, &a->end)) < 0 || ((a->has_end = rc), 0))) ||
	    (rc = api_int64(c, "max_results", false, &a->max)) < 0)
		return rc;   /* every failure above is negative */
	return 0;
}

/* reply {name: list} from a series route's result, freeing the arguments */
static int series_reply(struct api_call *c, struct series_args *a, int rc, const char *name, json_t *list)
{
	free(a->ids);
	if (rc)
		return rc < 0 ? rc : 0;
	c->reply = json_pack("{s:o}", name, list);
	return 0;
}

/* MLflow's step sampling; cairn_envelope=true: cairn's min/max-preserving
 * sampling instead (its web UI asks for it) */
static int metric_bulk_interval(struct api_call *c)
{
	struct series_args a = { .start = -1, .end = -1, .max = 2500 };
	const char *envelope = NULL;
	json_t *list = NULL;
	int rc = series_args(c, "run_ids", true, true, &a);

	if (!rc && (rc = api_str(c, "cairn_envelope", false, &envelope)) > 0) {
		rc = strcmp(envelope, "true") && strcmp(envelope, "false") ? api_invalid_query("cairn_envelope", envelope)
									  : 0;
	}
	if (!rc && envelope && !strcmp(envelope, "true"))
		rc = trk_metric_history_bulk_interval(c->st, a.ids, a.n, a.key, a.start, a.end, a.max, &list);
	else if (!rc)
		rc = trk_metric_history_bulk_steps(c->st, a.ids, a.n, a.key, a.has_start, a.has_end, a.start, a.end,
						   a.max, &list);
	return series_reply(c, &a, rc, "metrics", list);
}

/* GET metrics/get-history-bulk?run_id=A&run_id=B&metric_key=K&max_results=N (MLflow's UI route) */
static int metric_history_bulk(struct api_call *c)
{
	struct series_args a = { .max = 25000 };
	json_t *list = NULL;
	int rc = series_args(c, "run_id", false, false, &a);

	if (!rc)
		rc = trk_metric_history_bulk(c->st, a.ids, a.n, a.key, a.max, &list);
	return series_reply(c, &a, rc, "metrics", list);
}

/* cairn's own: how many points each run has (GET /api/cairn/v1/metrics/summary) */
static int metric_summary(struct api_call *c)
{
	struct series_args a = { .start = -1, .end = -1 };
	json_t *list = NULL;
	int rc = series_args(c, "run_ids", true, true, &a);

	if (!rc)
		rc = trk_metric_summary(c->st, a.ids, a.n, a.key, a.start, a.end, &list);
	return series_reply(c, &a, rc, "summaries", list);
}

const struct http_route api_cairn_tracking_routes[] = {
	API_ROUTE("GET", "/metrics/summary", metric_summary),
};
const size_t api_cairn_tracking_nroutes = sizeof(api_cairn_tracking_routes) / sizeof(api_cairn_tracking_routes[0]);

const struct http_route api_tracking_routes[] = {
	API_ROUTE("POST", "/mlflow/experiments/create", exp_create),
	API_ROUTE("GET", "/mlflow/experiments/get", exp_get),
	API_ROUTE("GET", "/mlflow/experiments/get-by-name", exp_get_by_name),
	API_ROUTE("POST", "/mlflow/experiments/search", exp_search),
	API_ROUTE("GET", "/mlflow/experiments/search", exp_search),
	API_ROUTE("POST", "/mlflow/experiments/update", exp_update),
	API_ROUTE("POST", "/mlflow/experiments/delete", exp_delete),
	API_ROUTE("POST", "/mlflow/experiments/restore", exp_restore),
	API_ROUTE("POST", "/mlflow/experiments/set-experiment-tag", exp_set_tag),
	API_ROUTE("POST", "/mlflow/experiments/delete-experiment-tag", exp_delete_tag),
	API_ROUTE("POST", "/mlflow/runs/create", run_create),
	API_ROUTE("GET", "/mlflow/runs/get", run_get),
	API_ROUTE("POST", "/mlflow/runs/update", run_update),
	API_ROUTE("POST", "/mlflow/runs/delete", run_delete),
	API_ROUTE("POST", "/mlflow/runs/restore", run_restore),
	API_ROUTE("POST", "/mlflow/runs/log-metric", log_metric),
	API_ROUTE("POST", "/mlflow/runs/log-parameter", log_param),
	API_ROUTE("POST", "/mlflow/runs/set-tag", set_tag),
	API_ROUTE("POST", "/mlflow/runs/delete-tag", delete_tag),
	API_ROUTE("POST", "/mlflow/runs/log-batch", log_batch),
	API_ROUTE("POST", "/mlflow/runs/log-inputs", log_inputs),
	API_ROUTE("POST", "/mlflow/runs/search", run_search),
	API_ROUTE("GET", "/mlflow/metrics/get-history", metric_history),
	API_ROUTE("GET", "/mlflow/metrics/get-history-bulk-interval", metric_bulk_interval),
	API_ROUTE("GET", "/mlflow/metrics/get-history-bulk", metric_history_bulk),
	API_ROUTE("POST", "/mlflow/experiments/search-datasets", search_datasets),
};
const size_t api_tracking_nroutes = sizeof(api_tracking_routes) / sizeof(api_tracking_routes[0]);
