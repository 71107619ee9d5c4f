/* run.c - runs: create, get, update, delete/restore, log-batch, tags, inputs, search. */
#include "tracking/trk_int.h"
#include "core/fault.h"
#include "tracking/search.h"
#include "tracking/logged_model.h"
#include "core/path.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const run_statuses[] = { "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED" };

static int validate_status(const char *s)
{
	for (size_t i = 0; i < sizeof(run_statuses) / sizeof(run_statuses[0]); i++)
		if (!strcmp(s, run_statuses[i]))
			return 0;
	return cairn_error_set(CAIRN_EINVALID,
			       "Invalid value '%.40s' for parameter 'status': expected one of RUNNING, SCHEDULED, "
			       "FINISHED, FAILED, KILLED", s);
}

static void random_run_name(struct buf *out)
{
	static const char *const adj[] = { "bright", "calm", "clever", "bold", "brave", "eager", "gentle", "keen",
					   "lucky", "merry", "quiet", "rare", "sharp", "swift", "tidy", "wise" };
	static const char *const noun[] = { "ant", "bat", "crane", "deer", "eel", "finch", "goat", "hawk",
					    "ibis", "jay", "koi", "lark", "mole", "newt", "owl", "yak" };
	char id[CAIRN_ID_LEN + 1];
	unsigned v;

	cairn_id_new(id);
	sscanf(id, "%8x", &v);
	buf_printf(out, "%s-%s-%u", adj[v & 15], noun[(v >> 4) & 15], (v >> 8) % 1000);
}

/* ---- loading a whole run ---- */

static int load_kv(struct store *st, const char *sql, const char *run_id, json_t *data, const char *field)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	if ((rc = store_prepare(st, sql, &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, run_id);
	rc = trk__kv_rows(q, arr);
	cjson_set_repeated(data, field, arr);
	return rc;
}

static int load_metrics(struct store *st, const char *run_id, json_t *data)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT key, value, is_nan, timestamp, step FROM latest_metrics "
				    "WHERE run_uuid = ? ORDER BY key", &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, run_id);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *m = json_object();
		cjson_set(m, "key", cjson_string(store_col_text(q, 0)));
		cjson_set(m, "value", cjson_double(store_col_int64(q, 2) ? NAN : store_col_double(q, 1)));
		cjson_set(m, "timestamp", json_integer(store_col_int64(q, 3)));
		cjson_set(m, "step", json_integer(store_col_int64(q, 4)));
		json_array_append_new(arr, m);
	}
	store_reset(q);
	cjson_set_repeated(data, "metrics", arr);
	return rc < 0 ? rc : 0;
}

static int load_inputs(struct store *st, const char *run_id, json_t *run)
{
	struct store_stmt *q, *tq;
	json_t *inputs = json_object(), *arr = json_array();
	int rc;

	cjson_set(run, "inputs", inputs);
	if ((rc = store_prepare(st, "SELECT i.input_uuid, d.name, d.digest, d.source_type, d.source, d.schema, "
				    "d.profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
				    "WHERE i.destination_id = ? AND i.destination_type = 'RUN' "
				    "AND i.source_type = 'DATASET' ORDER BY d.name, d.digest", &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, run_id);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *di = json_object(), *ds = json_object(), *tags = json_array();
		int trc;
		cjson_set(ds, "name", cjson_string(store_col_text(q, 1)));
		cjson_set(ds, "digest", cjson_string(store_col_text(q, 2)));
		cjson_set(ds, "source_type", cjson_string(store_col_text(q, 3)));
		cjson_set(ds, "source", cjson_string(store_col_text(q, 4)));
		if (!store_col_is_null(q, 5))
			cjson_set(ds, "schema", cjson_string(store_col_text(q, 5)));
		if (!store_col_is_null(q, 6))
			cjson_set(ds, "profile", cjson_string(store_col_text(q, 6)));
		cjson_set(di, "tags", tags); /* emptied below when the input has no tags */
		cjson_set(di, "dataset", ds);
		json_array_append_new(arr, di);
		trc = store_prepare(st, "SELECT name, value FROM input_tags WHERE input_uuid = ? ORDER BY name", &tq);
		if (trc) {
			rc = trc;
			break;
		}
		store_bind_text(tq, 1, store_col_text(q, 0));
		if ((trc = trk__kv_rows(tq, tags))) {
			rc = trc;
			break;
		}
	}
	store_reset(q);
	{
		size_t i;
		json_t *di;
		json_array_foreach(arr, i, di)
			if (!json_array_size(json_object_get(di, "tags")))
				json_object_del(di, "tags");
	}
	cjson_set_repeated(inputs, "dataset_inputs", arr);
	cjson_set(run, "outputs", json_object());
	if (rc >= 0)
		rc = trk__run_model_io(st, run_id, inputs, json_object_get(run, "outputs"));
	return rc < 0 ? rc : 0;
}

/* Build a full Run for the current row of a TRK__RUN_COLS query. */
static int run_from_row(struct store *st, struct store_stmt *q, json_t **out)
{
	json_t *run = json_object(), *info = trk__run_info_row(q), *data = json_object();
	const char *rid = json_string_value(json_object_get(info, "run_id"));
	char *run_id = rid ? cstrdup(rid) : NULL;
	int rc;

	cjson_set(run, "info", info);
	cjson_set(run, "data", data);
	if (!run_id) {
		json_decref(run);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = load_metrics(st, run_id, data)) ||
	    (rc = load_kv(st, "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", run_id, data, "params")) ||
	    (rc = load_kv(st, "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key", run_id, data, "tags")) ||
	    (rc = load_inputs(st, run_id, run))) {
		json_decref(run);
		free(run_id);
		return rc;
	}
	free(run_id);
	*out = run;
	return 0;
}

static int run_load(struct store *st, const char *run_id, json_t **out)
{
	struct store_stmt *q;
	char *id = NULL;
	int rc;

	if ((rc = store_prepare(st, "SELECT " TRK__RUN_COLS " FROM runs r WHERE r.run_uuid = ?", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	rc = store_step(q);
	if (rc == STORE_DONE) {
		store_reset(q);
		return cairn_error_set(CAIRN_ENOTFOUND, "Run with id=%.80s not found", run_id);
	}
	if (rc < 0)
		return rc;
	/* run_from_row issues other statements: the row stays valid since q is distinct */
	rc = run_from_row(st, q, out);
	store_reset(q);
	free(id);
	return rc;
}

int trk_run_get(struct store *st, const char *run_id, json_t **out)
{
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = store_begin_read(st)))
		return rc;
	rc = run_load(st, run_id, out);
	store_rollback(st);
	return rc;
}

/* ---- writes ---- */

static int check_active(struct store *st, const char *run_id)
{
	struct buf stage = BUF_INIT;
	int rc = trk__run_lifecycle(st, run_id, &stage, NULL);

	if (!rc && strcmp(stage.ptr, "active"))
		rc = cairn_error_set(CAIRN_EINVALID, "The run %.80s must be in the 'active' state. Current state is %s.",
				     run_id, stage.ptr);
	buf_release(&stage);
	return rc;
}

static int set_run_name(struct store *st, const char *run_id, const char *name)
{
	const char *args[] = { name, run_id };

	return trk__exec1(st, "UPDATE runs SET name = ? WHERE run_uuid = ?", args, 2);
}

static int put_tag(struct store *st, const char *run_id, const char *key, const char *value)
{
	struct buf v = BUF_INIT;
	int rc;

	trk__truncate_utf8(value, TRK_MAX_TAG_VALUE, &v);
	{
		const char *args[] = { run_id, key, v.ptr };
		rc = trk__exec1(st, "INSERT INTO tags(run_uuid, key, value) VALUES (?, ?, ?) "
				    "ON CONFLICT(run_uuid, key) DO UPDATE SET value = excluded.value", args, 3);
	}
	if (!rc && !strcmp(key, "mlflow.runName"))
		rc = set_run_name(st, run_id, v.ptr);
	buf_release(&v);
	return rc;
}

int trk_run_create(struct store *st, const char *experiment_id, const char *user_id, int64_t start_time,
		   const char *run_name, json_t *tags, json_t **run_out)
{
	struct store_stmt *q;
	struct buf name = BUF_INIT, uri = BUF_INIT;
	char run_id[CAIRN_ID_LEN + 1];
	int64_t exp = 0;
	bool have_name_tag = false;
	size_t i;
	json_t *t;
	int rc;

	*run_out = NULL;
	if (!experiment_id || !*experiment_id)
		experiment_id = "0";
	if ((rc = trk__parse_exp_id(experiment_id, &exp)))
		return rc;
	json_array_foreach(tags, i, t) {
		const char *k = NULL, *v = "";
		if ((rc = cjson_get_str(t, "key", true, &k)) < 0 || (rc = cjson_get_str(t, "value", false, &v)) < 0)
			return rc;
		if ((rc = trk_validate_key("tag", k)))
			return rc;
		if (!strcmp(k, "mlflow.runName")) {
			have_name_tag = true;
			if (!run_name || !*run_name)
				run_name = v;
			else if (strcmp(run_name, v))
				return cairn_error_set(CAIRN_EINVALID,
						       "Both 'run_name' argument and 'mlflow.runName' tag are specified, but "
						       "with different values (run_name='%.250s', mlflow.runName='%.250s').",
						       run_name, v);
		}
	}
	if (run_name && *run_name)
		buf_puts(&name, run_name);
	else
		random_run_name(&name);
	cairn_id_new(run_id);
	if ((rc = store_begin_write(st)))
		goto out;
	if ((rc = store_prepare(st, "SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?", &q)))
		goto out;
	store_bind_int64(q, 1, exp);
	rc = store_step(q);
	if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No Experiment with id=%lld exists", (long long)exp);
	} else if (rc == STORE_ROW) {
		if (strcmp(store_col_text(q, 0), "active"))
			rc = cairn_error_set(CAIRN_EINVALID, "The experiment %lld must be in the 'active' state. "
							    "Current state is %s.", (long long)exp, store_col_text(q, 0));
		else
			rc = 0;
		{
			char rel[CAIRN_ID_LEN + 16];
			snprintf(rel, sizeof(rel), "%s/artifacts", run_id);
			path_join_uri(&uri, store_col_text(q, 1), rel); /* as MLflow: never "<loc>//<id>" */
		}
	}
	store_reset(q);
	if (rc)
		goto out;
	if ((rc = store_prepare(st, "INSERT INTO runs(run_uuid, name, experiment_id, user_id, status, start_time, "
				    "lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, 'RUNNING', ?, 'active', ?)", &q)))
		goto out;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, name.ptr);
	store_bind_int64(q, 3, exp);
	store_bind_text(q, 4, user_id ? user_id : "");
	store_bind_int64(q, 5, start_time > 0 ? start_time : cairn_now_ms());
	store_bind_text(q, 6, uri.ptr);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	json_array_foreach(tags, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *v = json_string_value(json_object_get(t, "value"));
		if (!strcmp(k, "mlflow.runName"))
			continue;
		if ((rc = put_tag(st, run_id, k, v ? v : "")))
			goto out;
	}
	(void)have_name_tag;
	if ((rc = put_tag(st, run_id, "mlflow.runName", name.ptr)))
		goto out;
	rc = run_load(st, run_id, run_out);
out:
	rc = trk__commit_or_free(st, rc, run_out);
	buf_release(&name);
	buf_release(&uri);
	return rc;
}

int trk_run_update(struct store *st, const char *run_id, const char *status, int64_t end_time,
		   const char *run_name, json_t **info_out)
{
	struct store_stmt *q;
	int rc;

	*info_out = NULL;
	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if (status && (rc = validate_status(status)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_active(st, run_id)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE runs SET status = COALESCE(?, status), end_time = COALESCE(?, end_time) "
				    "WHERE run_uuid = ?", &q)))
		goto out;
	store_bind_text(q, 1, status);
	if (end_time >= 0)
		store_bind_int64(q, 2, end_time);
	else
		store_bind_null(q, 2);
	store_bind_text(q, 3, run_id);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	if (run_name && *run_name && (rc = put_tag(st, run_id, "mlflow.runName", run_name)))
		goto out;
	if ((rc = store_prepare(st, "SELECT " TRK__RUN_COLS " FROM runs r WHERE r.run_uuid = ?", &q)))
		goto out;
	store_bind_text(q, 1, run_id);
	if ((rc = store_step(q)) == STORE_ROW) {
		*info_out = trk__run_info_row(q);
		rc = 0;
	}
	store_reset(q);
out:
	return trk__commit_or_free(st, rc, info_out);
}

static int run_set_stage(struct store *st, const char *run_id, const char *to)
{
	struct buf stage = BUF_INIT;
	struct store_stmt *q;
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = trk__run_lifecycle(st, run_id, &stage, NULL)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?", &q)))
		goto out;
	store_bind_text(q, 1, to);
	if (!strcmp(to, "deleted"))
		store_bind_int64(q, 2, cairn_now_ms());
	else
		store_bind_null(q, 2);
	store_bind_text(q, 3, run_id);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

int trk_run_delete(struct store *st, const char *run_id)
{
	return run_set_stage(st, run_id, "deleted");
}

int trk_run_restore(struct store *st, const char *run_id)
{
	return run_set_stage(st, run_id, "active");
}

/* Validate everything in a batch before touching the database. */
/* MLflow's check that entry i of a batch's array has key: absent, null and ""
 * are missing, named "metrics[0].timestamp" */
static int require_at(json_t *e, const char *array, size_t i, const char *key)
{
	json_t *v = json_object_get(e, key);
	char path[64];

	if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v)))
		return 0;
	snprintf(path, sizeof(path), "%s[%zu].%s", array, i, key);
	return cjson_missing(path);
}

static int batch_validate(json_t *metrics, json_t *params, json_t *tags)
{
	size_t nm = json_array_size(metrics), np = json_array_size(params), nt = json_array_size(tags);
	size_t i, j;
	json_t *e;
	int rc;

	if (nm > TRK_MAX_BATCH_METRICS)
		return cairn_error_set(CAIRN_EINVALID, "A batch logging request can contain at most %d metrics. Got %zu "
						      "metrics. Please split up metrics across multiple requests and try "
						      "again.", TRK_MAX_BATCH_METRICS, nm);
	if (np > TRK_MAX_BATCH_PARAMS)
		return cairn_error_set(CAIRN_EINVALID, "A batch logging request can contain at most %d params. Got %zu "
						      "params. Please split up params across multiple requests and try "
						      "again.", TRK_MAX_BATCH_PARAMS, np);
	if (nt > TRK_MAX_BATCH_TAGS)
		return cairn_error_set(CAIRN_EINVALID, "A batch logging request can contain at most %d tags. Got %zu "
						      "tags. Please split up tags across multiple requests and try again.",
				       TRK_MAX_BATCH_TAGS, nt);
	if (nm + np + nt > TRK_MAX_BATCH_TOTAL)
		return cairn_error_set(CAIRN_EINVALID, "A batch logging request can contain at most %d metrics, params, "
						      "and tags in total. Got %zu.", TRK_MAX_BATCH_TOTAL, nm + np + nt);
	json_array_foreach(metrics, i, e) {
		const char *k = NULL;
		double v;
		int64_t x;
		if (!json_is_object(e))
			return cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'metrics': expected objects");
		if ((rc = require_at(e, "metrics", i, "key")) || (rc = require_at(e, "metrics", i, "value")) ||
		    (rc = require_at(e, "metrics", i, "timestamp")) ||
		    (rc = cjson_get_str(e, "key", true, &k)) < 0 || (rc = cjson_get_double(e, "value", true, &v)) < 0 ||
		    (rc = cjson_get_int64(e, "timestamp", true, &x)) < 0)
			return rc;
		if (x < 0)
			return cairn_error_set(CAIRN_EINVALID, "Invalid timestamp %lld for metric '%.250s': it must be a "
							      "non-negative number of milliseconds", (long long)x, k);
		if ((rc = cjson_get_int64(e, "step", false, &x)) < 0)
			return rc;
		if ((rc = trk_validate_key("metric", k)))
			return rc;
	}
	json_array_foreach(params, i, e) {
		const char *k = NULL, *v = NULL;
		if (!json_is_object(e))
			return cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'params': expected objects");
		if ((rc = require_at(e, "params", i, "key")) || (rc = cjson_get_str(e, "key", true, &k)) < 0 || (rc = cjson_get_str(e, "value", false, &v)) < 0)
			return rc;
		if ((rc = trk_validate_key("param", k)))
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(k, json_string_value(json_object_get(json_array_get(params, j), "key"))))
				return cairn_error_set(CAIRN_EINVALID, "Duplicate parameter keys have been submitted: "
								      "['%.250s']. Please ensure the request contains only "
								      "one param value per param key.", k);
	}
	json_array_foreach(tags, i, e) {
		const char *k = NULL, *v = NULL;
		if (!json_is_object(e))
			return cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'tags': expected objects");
		if ((rc = require_at(e, "tags", i, "key")) || (rc = cjson_get_str(e, "key", true, &k)) < 0 || (rc = cjson_get_str(e, "value", false, &v)) < 0)
			return rc;
		if ((rc = trk_validate_key("tag", k)))
			return rc;
	}
	return 0;
}

static int put_param(struct store *st, const char *run_id, const char *key, const char *value)
{
	struct store_stmt *q;
	struct buf v = BUF_INIT;
	int rc;

	trk__truncate_utf8(value, TRK_MAX_PARAM_VALUE, &v);
	if ((rc = store_prepare(st, "SELECT value FROM params WHERE run_uuid = ? AND key = ?", &q)))
		goto out;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		if (strcmp(store_col_text(q, 0), v.ptr))
			rc = cairn_error_set(CAIRN_EINVALID, "Changing param values is not allowed. Param with key='%.250s' "
							    "was already logged with value='%.500s' for run ID='%.80s'. "
							    "Attempted logging new value '%.500s'.",
					     key, store_col_text(q, 0), run_id, v.ptr);
		else
			rc = 1; /* same value: no-op */
	}
	store_reset(q);
	if (rc)
		goto out;
	{
		const char *args[] = { run_id, key, v.ptr };
		rc = trk__exec1(st, "INSERT INTO params(run_uuid, key, value) VALUES (?, ?, ?)", args, 3);
	}
out:
	buf_release(&v);
	return rc < 0 ? rc : 0;
}

/* Read a validated metric's fields (NaN becomes value 0 with is_nan 1, as stored). */
static void metric_fields(json_t *m, int64_t now, double *v, int *is_nan, int64_t *ts, int64_t *step)
{
	*v = 0;
	*ts = now;
	*step = 0;
	cjson_get_double(m, "value", true, v);
	cjson_get_int64(m, "timestamp", false, ts);
	cjson_get_int64(m, "step", false, step);
	*is_nan = isnan(*v);
	if (*is_nan)
		*v = 0;
}

/* MLflow's "latest" order: higher step, then later timestamp, then larger value. */
static bool metric_newer(json_t *a, json_t *b, int64_t now)
{
	double va, vb;
	int na, nb;
	int64_t ta, tb, sa, sb;

	metric_fields(a, now, &va, &na, &ta, &sa);
	metric_fields(b, now, &vb, &nb, &tb, &sb);
	if (sa != sb)
		return sa > sb;
	if (ta != tb)
		return ta > tb;
	return va > vb;
}

/* excluded (the point being logged) is newer than the latest value */
#define NEWER "(excluded.step, excluded.timestamp, excluded.value) > " \
	      "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"

/* Insert one point; latest: it is the batch's newest point of its key, which
 * also updates latest_metrics (once per key and batch: every batch writing a
 * key passes here exactly once for it). */
static int put_metric(struct store *st, const char *run_id, json_t *m, int64_t now, bool latest)
{
	struct store_stmt *q;
	const char *key = json_string_value(json_object_get(m, "key"));
	double v;
	int64_t ts, step;
	int is_nan, rc;

	metric_fields(m, now, &v, &is_nan, &ts, &step);
	if ((rc = store_prepare(st, "INSERT INTO metrics(run_uuid, key, value, is_nan, timestamp, step) "
				    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	store_bind_double(q, 3, v);
	store_bind_int64(q, 4, is_nan);
	store_bind_int64(q, 5, ts);
	store_bind_int64(q, 6, step);
	rc = store_step(q);
	store_reset(q);
	if (rc >= 0 && (rc = trk__logged_model_metric(st, run_id, m, v, is_nan, ts, step)))
		return rc;
	if (rc < 0 || !latest)
		return rc < 0 ? rc : 0;
	/* The newest point (step, then timestamp, then value) becomes the latest
	 * value; gen counts the writes of the series, whatever they were, which
	 * retires its cached step buckets (metric_pyramids, see metric.c). */
	if ((rc = store_prepare(st, "INSERT INTO latest_metrics(run_uuid, key, value, is_nan, timestamp, step) "
				    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_uuid, key) DO UPDATE SET "
				    "gen = latest_metrics.gen + 1, "
				    "value = CASE WHEN " NEWER " THEN excluded.value ELSE latest_metrics.value END, "
				    "is_nan = CASE WHEN " NEWER " THEN excluded.is_nan ELSE latest_metrics.is_nan END, "
				    "timestamp = CASE WHEN " NEWER " THEN excluded.timestamp ELSE latest_metrics.timestamp END, "
				    "step = CASE WHEN " NEWER " THEN excluded.step ELSE latest_metrics.step END", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	store_bind_double(q, 3, v);
	store_bind_int64(q, 4, is_nan);
	store_bind_int64(q, 5, ts);
	store_bind_int64(q, 6, step);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int trk_log_batch(struct store *st, const char *run_id, json_t *metrics, json_t *params, json_t *tags)
{
	int64_t now = cairn_now_ms();
	json_t *e, *best = NULL;
	size_t i;
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = batch_validate(metrics, params, tags)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_active(st, run_id)))
		goto out;
	json_array_foreach(params, i, e) {
		const char *v = json_string_value(json_object_get(e, "value"));
		if ((rc = put_param(st, run_id, json_string_value(json_object_get(e, "key")), v ? v : "")))
			goto out;
	}
	/* only the newest point of each key in the batch can become the latest value */
	best = json_object();
	json_array_foreach(metrics, i, e) {
		const char *k = json_string_value(json_object_get(e, "key"));
		json_t *cur = json_object_get(best, k);
		if (!cur || metric_newer(e, json_array_get(metrics, (size_t)json_integer_value(cur)), now))
			json_object_set_new(best, k, json_integer((json_int_t)i));
	}
	json_array_foreach(metrics, i, e) {
		json_t *b = json_object_get(best, json_string_value(json_object_get(e, "key")));
		if ((rc = put_metric(st, run_id, e, now, (size_t)json_integer_value(b) == i)))
			goto out;
	}
	json_array_foreach(tags, i, e) {
		const char *v = json_string_value(json_object_get(e, "value"));
		if ((rc = put_tag(st, run_id, json_string_value(json_object_get(e, "key")), v ? v : "")))
			goto out;
	}
out:
	json_decref(best);
	return trk__commit_or_rollback(st, rc);
}

int trk_delete_tag(struct store *st, const char *run_id, const char *key)
{
	const char *args[] = { run_id, key };
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_active(st, run_id)))
		goto out;
	if ((rc = trk__exec1(st, "DELETE FROM tags WHERE run_uuid = ? AND key = ?", args, 2)))
		goto out;
	if (store_changes(st) == 0)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No tag with name: %.250s in run with id %.80s", key, run_id);
out:
	return trk__commit_or_rollback(st, rc);
}

static int put_input(struct store *st, const char *run_id, int64_t exp, json_t *di)
{
	json_t *ds = json_object_get(di, "dataset"), *tags = NULL, *t;
	const char *name = NULL, *digest = NULL, *stype = "", *src = "", *schema = NULL, *profile = NULL;
	char uuid[CAIRN_ID_LEN + 1], input_uuid[CAIRN_ID_LEN + 1];
	struct store_stmt *q;
	size_t i;
	int rc;

	if (!json_is_object(ds))
		return cjson_missing("datasets[].dataset");
	if ((rc = cjson_get_str(ds, "name", true, &name)) < 0 || (rc = cjson_get_str(ds, "digest", true, &digest)) < 0 ||
	    (rc = cjson_get_str(ds, "source_type", false, &stype)) < 0 || (rc = cjson_get_str(ds, "source", false, &src)) < 0 ||
	    (rc = cjson_get_str(ds, "schema", false, &schema)) < 0 || (rc = cjson_get_str(ds, "profile", false, &profile)) < 0 ||
	    (rc = cjson_get_array(di, "tags", false, &tags)) < 0)
		return rc;
	if (strlen(name) > 500 || strlen(digest) > 36)
		return cairn_error_set(CAIRN_EINVALID, "Dataset name (max 500) or digest (max 36 characters) too long");
	if (strlen(src) > 65535 || (schema && strlen(schema) > 1048575) || (profile && strlen(profile) > 16777215))
		return cairn_error_set(CAIRN_EINVALID, "Dataset source, schema or profile exceeds MLflow's size limit");
	/* find or create the dataset */
	if ((rc = store_prepare(st, "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?", &q)))
		return rc;
	store_bind_int64(q, 1, exp);
	store_bind_text(q, 2, name);
	store_bind_text(q, 3, digest);
	rc = store_step(q);
	if (rc == STORE_ROW)
		snprintf(uuid, sizeof(uuid), "%s", store_col_text(q, 0));
	store_reset(q);
	if (rc < 0)
		return rc;
	if (rc == STORE_DONE) {
		cairn_id_new(uuid);
		if ((rc = store_prepare(st, "INSERT INTO datasets(dataset_uuid, experiment_id, name, digest, source_type, "
					    "source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &q)))
			return rc;
		store_bind_text(q, 1, uuid);
		store_bind_int64(q, 2, exp);
		store_bind_text(q, 3, name);
		store_bind_text(q, 4, digest);
		store_bind_text(q, 5, stype);
		store_bind_text(q, 6, src);
		store_bind_text(q, 7, schema);
		store_bind_text(q, 8, profile);
		rc = store_step(q);
		store_reset(q);
		if (rc < 0)
			return rc;
	}
	/* link it to the run once */
	if ((rc = store_prepare(st, "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? "
				    "AND destination_type = 'RUN' AND destination_id = ?", &q)))
		return rc;
	store_bind_text(q, 1, uuid);
	store_bind_text(q, 2, run_id);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		return rc;
	if (rc == STORE_ROW)
		return 0;
	cairn_id_new(input_uuid);
	{
		const char *args[] = { input_uuid, uuid, run_id };
		if ((rc = trk__exec1(st, "INSERT INTO inputs(input_uuid, source_type, source_id, destination_type, "
					 "destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)", args, 3)))
			return rc;
	}
	json_array_foreach(tags, i, t) {
		const char *k = NULL, *v = "";
		if ((rc = cjson_get_str(t, "key", true, &k)) < 0 || (rc = cjson_get_str(t, "value", false, &v)) < 0)
			return rc;
		if (strlen(k) > 255 || strlen(v) > 500)
			return cairn_error_set(CAIRN_EINVALID, "Input tag key (max 255) or value (max 500) too long");
		{
			const char *args[] = { input_uuid, k, v };
			if ((rc = trk__exec1(st, "INSERT INTO input_tags(input_uuid, name, value) VALUES (?, ?, ?) "
						 "ON CONFLICT(input_uuid, name) DO UPDATE SET value = excluded.value", args, 3)))
				return rc;
		}
	}
	return 0;
}

int trk_log_inputs(struct store *st, const char *run_id, json_t *datasets)
{
	struct buf stage = BUF_INIT;
	int64_t exp = 0;
	size_t i;
	json_t *d;
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = trk__run_lifecycle(st, run_id, &stage, &exp)))
		goto out;
	if (strcmp(stage.ptr, "active")) {
		rc = cairn_error_set(CAIRN_EINVALID, "The run %.80s must be in the 'active' state. Current state is %s.",
				     run_id, stage.ptr);
		goto out;
	}
	json_array_foreach(datasets, i, d) {
		if ((rc = put_input(st, run_id, exp, d)))
			goto out;
	}
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

/* The parts of an order by one key, each read in index order: runs with a
 * value (a metric's numbers by value, then its NaN), then runs without it. */
enum { PART_VALUE, PART_NAN, PART_MISSING, NPARTS };

/* One part's runs from offset *skip, at most *need of them, appended to arr;
 * *skip and *need shrink by what the part held before and gave. */
static int key_part(struct store *st, int part, const struct search_sql *s, const char *const *experiment_ids,
		    size_t n_exp, const char *scope, int64_t *skip, int64_t *need, json_t *arr)
{
	const char *table = s->order_kind == SEARCH_ORDER_METRIC ? "latest_metrics"
			    : s->order_kind == SEARCH_ORDER_PARAM ? "params"
								   : "tags";
	const char *nan = s->order_kind != SEARCH_ORDER_METRIC ? "" : part == PART_NAN ? " AND ko.is_nan = 1" : " AND ko.is_nan = 0";
	struct buf sql = BUF_INIT;
	struct store_stmt *q;
	int64_t got = 0;
	int rc, idx;

	for (int count = 0; count < 2; count++) {
		buf_clear(&sql);
		buf_printf(&sql, "SELECT %s FROM ", count ? "COUNT(*)" : TRK__RUN_COLS);
		if (part == PART_MISSING)
			buf_printf(&sql, "runs r WHERE NOT EXISTS (SELECT 1 FROM %s ko WHERE ko.run_uuid = r.run_uuid "
					 "AND ko.key = ?) AND ", table);
		else
			buf_printf(&sql, "%s ko JOIN runs r ON r.run_uuid = ko.run_uuid WHERE ko.key = ?%s AND ", table, nan);
		buf_puts(&sql, scope);
		/* within the key's order, ties by the order's other terms, then the usual tiebreak */
		if (!count)
			buf_printf(&sql, " ORDER BY %s%s%s%sr.start_time DESC, r.run_uuid ASC LIMIT ? OFFSET ?",
				   part == PART_VALUE ? "ko.value " : "", part == PART_VALUE ? (s->order_asc ? "ASC, " : "DESC, ") : "",
				   s->order_rest ? s->order.ptr + s->order_rest : "", s->order_rest ? ", " : "");
		if ((rc = buf_error(&sql)) || (rc = store_prepare(st, sql.ptr, &q)))
			goto out;
		idx = 1;
		store_bind_text(q, idx++, s->order_key);
		trk__bind_exp_in(q, experiment_ids, n_exp, &idx);
		trk__bind_search_n(q, s, s->nwhere_binds, &idx);
		if (count) {   /* the offset is past this part: how many did it hold? */
			if ((rc = store_step(q)) == STORE_ROW) {
				*skip -= store_col_int64(q, 0);
				rc = 0;
			}
			store_reset(q);
			break;
		}
		if (s->order_rest)
			trk__bind_search_range(q, s, s->order_rest_bind, s->nbinds, &idx);
		store_bind_int64(q, idx++, *need);
		store_bind_int64(q, idx++, *skip);
		while ((rc = store_step(q)) == STORE_ROW) {
			json_t *run;

			if ((rc = run_from_row(st, q, &run)))
				break;
			json_array_append_new(arr, run);
			got++;
		}
		store_reset(q);
		if (rc < 0)
			goto out;
		rc = 0;
		*need -= got;
		if (got || !*need || !*skip)
			break;   /* the offset was inside this part, or the page is full */
	}
	if (!rc && got)
		*skip = 0;
out:
	buf_release(&sql);
	return rc < 0 ? rc : 0;
}

/* runs/search ordered by a key first: its parts in index order (ties by the
 * order's other terms), then the page */
static int search_by_key(struct store *st, const struct search_sql *s, const char *const *experiment_ids, size_t n_exp,
			 const char *view, int64_t offset, int64_t max, json_t *arr, char **next)
{
	struct buf scope = BUF_INIT;
	int64_t skip = offset, need = max + 1;
	int rc;

	buf_puts(&scope, "r.experiment_id IN ");
	if ((rc = trk__sql_exp_in(&scope, experiment_ids, n_exp)))
		goto out;
	buf_printf(&scope, "%s AND (%s)", view, s->where.ptr);
	if ((rc = buf_error(&scope)))
		goto out;
	for (int part = 0; part < NPARTS && need > 0 && !rc; part++)
		if (part != PART_NAN || s->order_kind == SEARCH_ORDER_METRIC)
			rc = key_part(st, part, s, experiment_ids, n_exp, scope.ptr, &skip, &need, arr);
	if (!rc && (int64_t)json_array_size(arr) > max) {
		json_array_remove(arr, json_array_size(arr) - 1);
		if (!(*next = trk_page_token_encode(offset + max)))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
out:
	buf_release(&scope);
	return rc;
}

int trk_run_search(struct store *st, const char *const *experiment_ids, size_t n_exp,
		   const struct trk_page *pg, json_t **out, char **next)
{
	struct search_sql s;
	struct buf sql = BUF_INIT;
	struct store_stmt *q;
	json_t *arr = json_array();
	int64_t offset = 0, max = pg->max_results ? pg->max_results : 1000, count = 0;
	int rc, idx = 1;

	*next = NULL;
	search_sql_init(&s);
	if (max < 1 || max > TRK_MAX_SEARCH_RESULTS) {
		rc = cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results' supplied. It must "
						    "be at most %d, and at least 1", (long long)max, TRK_MAX_SEARCH_RESULTS);
		goto out;
	}
	if ((rc = trk_page_token_decode(pg->page_token ? pg->page_token : "", &offset)))
		goto out;
	if ((rc = search_compile_runs(pg->filter, pg->order_by, pg->n_order, &s)))
		goto out;
	buf_puts(&sql, "SELECT " TRK__RUN_COLS " FROM runs r WHERE r.experiment_id IN ");
	if ((rc = trk__sql_exp_in(&sql, experiment_ids, n_exp)))
		goto out;
	if (pg->view == TRK_ACTIVE_ONLY)
		buf_puts(&sql, " AND r.lifecycle_stage = 'active'");
	else if (pg->view == TRK_DELETED_ONLY)
		buf_puts(&sql, " AND r.lifecycle_stage = 'deleted'");
	buf_printf(&sql, " AND (%s) ORDER BY ", s.where.ptr);
	if (s.order.len)
		buf_printf(&sql, "%s, ", s.order.ptr);
	buf_puts(&sql, "r.start_time DESC, r.run_uuid ASC LIMIT ? OFFSET ?");
	if ((rc = buf_error(&sql)))
		goto out;
	if ((rc = store_begin_read(st)))
		goto out;
	if (s.order_key) {
		rc = search_by_key(st, &s, experiment_ids, n_exp,
				      pg->view == TRK_ACTIVE_ONLY    ? " AND r.lifecycle_stage = 'active'"
				      : pg->view == TRK_DELETED_ONLY ? " AND r.lifecycle_stage = 'deleted'"
								     : "",
				      offset, max, arr, next);
		goto done;
	}
	if ((rc = store_prepare(st, sql.ptr, &q)))
		goto done;
	trk__bind_exp_in(q, experiment_ids, n_exp, &idx);
	trk__bind_search(q, &s, &idx);
	store_bind_int64(q, idx++, max + 1);
	store_bind_int64(q, idx++, offset);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *run;
		if (count++ == max) {
			*next = trk_page_token_encode(offset + max);
			break;
		}
		if ((rc = run_from_row(st, q, &run)))
			break;
		json_array_append_new(arr, run);
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
done:
	store_rollback(st);
out:
	search_sql_release(&s);
	buf_release(&sql);
	if (rc) {
		json_decref(arr);
		free(*next);
		*next = NULL;
		return rc;
	}
	*out = arr;
	return 0;
}

int trk_search_datasets(struct store *st, const char *const *experiment_ids, size_t n_exp, json_t **out)
{
	struct buf sql = BUF_INIT;
	struct store_stmt *q;
	json_t *arr = NULL;
	int rc;

	if (n_exp > 20)
		return cairn_error_set(CAIRN_EINVALID, "SearchDatasets request cannot specify more than 20 "
						      "experiment_ids. Received %zu experiment_ids.", n_exp);
	buf_puts(&sql, "SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value FROM datasets d "
		       "JOIN inputs i ON i.source_type = 'DATASET' AND i.source_id = d.dataset_uuid "
		       "AND i.destination_type = 'RUN' "
		       "LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = 'mlflow.data.context' "
		       "WHERE d.experiment_id IN ");
	if ((rc = trk__sql_exp_in(&sql, experiment_ids, n_exp)))
		goto out;
	buf_puts(&sql, " ORDER BY d.experiment_id, d.name, d.digest, t.value");
	if ((rc = buf_error(&sql)))
		goto out;
	if ((rc = store_begin_read(st)))
		goto out;
	if ((rc = store_prepare(st, sql.ptr, &q)))
		goto done;
	{
		int idx = 1;
		trk__bind_exp_in(q, experiment_ids, n_exp, &idx);
	}
	arr = json_array();
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *o = json_object();
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)store_col_int64(q, 0));
		cjson_set(o, "experiment_id", json_string(id));
		cjson_set(o, "name", cjson_string(store_col_text(q, 1)));
		cjson_set(o, "digest", cjson_string(store_col_text(q, 2)));
		if (!store_col_is_null(q, 3))
			cjson_set(o, "context", cjson_string(store_col_text(q, 3)));
		json_array_append_new(arr, o);
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
done:
	store_rollback(st);
out:
	buf_release(&sql);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
