/* logged_model.c - MLflow 3 logged models and their links to runs. */
#include "tracking/logged_model.h"
#include "core/fault.h"
#include "tracking/trk_int.h"
#include "tracking/search.h"
#include "core/path.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LM_COLS \
	"lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_time, lm.last_updated_time, " \
	"lm.status, lm.status_message, lm.lifecycle_stage, lm.model_type, lm.source_run_id"
#define LM_MAX_RESULTS_DEFAULT 50

static int not_found(const char *model_id)
{
	return cairn_error_set(CAIRN_ENOTFOUND, "Logged model with ID '%.200s' not found.", model_id);
}

static int validate_name(const char *name)
{
	if (!name)
		return 0;
	if (!*name || strpbrk(name, "/:.%\"'"))
		return cairn_error_set(CAIRN_EINVALID,
				       "Invalid model name ('%.250s') provided. Model name must be a non-empty string and "
				       "cannot contain the following characters: ('/', ':', '.', '%%', '\"', \"'\")",
				       name);
	return 0;
}

static void random_name(struct buf *out)
{
	static const char *const adj[] = { "able", "bold", "calm", "dapper", "eager", "fancy", "gentle", "happy",
					   "keen", "lively", "merry", "nimble", "quiet", "rare", "sunny", "witty" };
	static const char *const noun[] = { "ant", "bear", "crane", "deer", "eel", "finch", "goat", "hawk",
					    "ibis", "jay", "koala", "lark", "mole", "newt", "owl", "panda" };
	char id[CAIRN_ID_LEN + 1];
	unsigned a, b, n;

	cairn_id_new(id);
	sscanf(id, "%1x%1x%3x", &a, &b, &n);
	buf_printf(out, "%s-%s-%u", adj[a], noun[b], n % 1000);
}

/* status JSON value -> stored name; CAIRN_EINVALID for anything else. */
static int parse_status(json_t *v, const char **out)
{
	static const char *const names[] = { "LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING",
					      "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED" };
	int64_t n = -1;

	if (!v || json_is_null(v))
		return cjson_missing("status");
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (cjson_parse_int64(s, &n))
			for (int i = 0; i < 4; i++)
				if (!strcmp(s, names[i]))
					n = i;
	}
	if (n < 1 || n > 3) {
		char *d = json_dumps(v, JSON_ENCODE_ANY);
		int rc = cairn_error_set(CAIRN_EINVALID, "Invalid value %.80s for parameter 'status' supplied",
					 d ? d : "?");
		free(d);
		return rc;
	}
	*out = names[n];
	return 0;
}

static int kv_validate(const char *kind, json_t *arr, size_t max_value)
{
	size_t i;
	json_t *e;
	int rc;

	json_array_foreach(arr, i, e) {
		const char *k = NULL, *v = "";
		if (!json_is_object(e))
			return cairn_error_set(CAIRN_EINVALID, "Invalid %s: expected an object with key and value", kind);
		if ((rc = cjson_get_str(e, "key", true, &k)) < 0 || (rc = cjson_get_str(e, "value", false, &v)) < 0)
			return rc;
		if ((rc = trk_validate_key(kind, k)))
			return rc;
		if (trk__utf8_len(v) > max_value)
			return cairn_error_set(CAIRN_EINVALID, "%s '%.250s' had value length %zu, which exceeded length "
							      "limit of %zu", kind, k, trk__utf8_len(v), max_value);
	}
	return 0;
}

static int kv_put(struct store *st, const char *table, const char *model_id, json_t *arr)
{
	char sql[256];
	size_t i;
	json_t *e;
	int rc;

	snprintf(sql, sizeof(sql), "INSERT INTO %s(model_id, key, value) VALUES (?, ?, ?) "
				   "ON CONFLICT(model_id, key) DO UPDATE SET value = excluded.value", table);
	json_array_foreach(arr, i, e) {
		const char *k = json_string_value(json_object_get(e, "key"));
		const char *v = json_string_value(json_object_get(e, "value"));
		const char *texts[] = { model_id, k, v ? v : "" };
		if ((rc = trk__exec1(st, sql, texts, 3)))
			return rc;
	}
	return 0;
}

/* The model's lifecycle; not_found when absent (or deleted and !any). */
static int check_model(struct store *st, const char *model_id, bool any)
{
	struct store_stmt *q;
	int rc;

	if (!model_id || !*model_id)
		return cjson_missing("model_id");
	if ((rc = store_prepare(st, "SELECT lifecycle_stage FROM logged_models WHERE model_id = ?", &q)))
		return rc;
	store_bind_text(q, 1, model_id);
	rc = store_step(q);
	if (rc == STORE_ROW)
		rc = (!any && strcmp(store_col_text(q, 0), "active")) ? not_found(model_id) : 0;
	else if (rc == STORE_DONE)
		rc = not_found(model_id);
	store_reset(q);
	return rc;
}

static int touch(struct store *st, const char *model_id)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "UPDATE logged_models SET last_updated_time = ? WHERE model_id = ?", &q)))
		return rc;
	store_bind_int64(q, 1, cairn_now_ms());
	store_bind_text(q, 2, model_id);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

static int load_metrics(struct store *st, const char *model_id, json_t *data)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT key, value, is_nan, timestamp, step, run_id, dataset_name, dataset_digest "
				    "FROM logged_model_metrics WHERE model_id = ? ORDER BY key, timestamp, step", &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, model_id);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *m = json_object();
		cjson_set(m, "key", cjson_string(store_col_text(q, 0)));
		cjson_set(m, "value", store_col_int64(q, 2) ? json_string("NaN") : cjson_double(store_col_double(q, 1)));
		cjson_set(m, "timestamp", json_integer(store_col_int64(q, 3)));
		cjson_set(m, "step", json_integer(store_col_int64(q, 4)));
		if (!store_col_is_null(q, 5))
			cjson_set(m, "run_id", cjson_string(store_col_text(q, 5)));
		if (!store_col_is_null(q, 6))
			cjson_set(m, "dataset_name", cjson_string(store_col_text(q, 6)));
		if (!store_col_is_null(q, 7))
			cjson_set(m, "dataset_digest", cjson_string(store_col_text(q, 7)));
		cjson_set(m, "model_id", cjson_string(model_id));
		json_array_append_new(arr, m);
	}
	store_reset(q);
	cjson_set_repeated(data, "metrics", arr);
	return rc < 0 ? rc : 0;
}

/* Build a LoggedModel from the current row (LM_COLS). */
static int model_from_row(struct store *st, struct store_stmt *q, json_t **out)
{
	json_t *m = json_object(), *info = json_object(), *data = json_object(), *arr;
	char *id = cstrdup(store_col_text(q, 0));
	struct store_stmt *tq;
	char exp[32];
	int rc;

	cjson_set(m, "info", info);
	cjson_set(m, "data", data);
	if (!id) {
		json_decref(m);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	snprintf(exp, sizeof(exp), "%lld", (long long)store_col_int64(q, 1));
	cjson_set(info, "model_id", cjson_string(id));
	cjson_set(info, "experiment_id", json_string(exp));
	cjson_set(info, "name", cjson_string(store_col_text(q, 2)));
	cjson_set(info, "creation_timestamp_ms", json_integer(store_col_int64(q, 4)));
	cjson_set(info, "last_updated_timestamp_ms", json_integer(store_col_int64(q, 5)));
	cjson_set(info, "artifact_uri", cjson_string(store_col_text(q, 3)));
	cjson_set(info, "status", cjson_string(store_col_text(q, 6)));
	if (!store_col_is_null(q, 7))
		cjson_set(info, "status_message", cjson_string(store_col_text(q, 7)));
	if (!store_col_is_null(q, 9))
		cjson_set(info, "model_type", cjson_string(store_col_text(q, 9)));
	if (!store_col_is_null(q, 10))
		cjson_set(info, "source_run_id", cjson_string(store_col_text(q, 10)));

	arr = json_array();
	if ((rc = store_prepare(st, "SELECT key, value FROM logged_model_tags WHERE model_id = ? ORDER BY key", &tq))) {
		json_decref(arr);
		goto out;
	}
	store_bind_text(tq, 1, id);
	rc = trk__kv_rows(tq, arr);
	cjson_set_repeated(info, "tags", arr);
	if (rc)
		goto out;
	arr = json_array();
	if ((rc = store_prepare(st, "SELECT key, value FROM logged_model_params WHERE model_id = ? ORDER BY key", &tq))) {
		json_decref(arr);
		goto out;
	}
	store_bind_text(tq, 1, id);
	rc = trk__kv_rows(tq, arr);
	cjson_set_repeated(data, "params", arr);
	if (rc)
		goto out;
	rc = load_metrics(st, id, data);
out:
	free(id);
	if (rc) {
		json_decref(m);
		return rc;
	}
	*out = m;
	return 0;
}

static int model_load(struct store *st, const char *model_id, json_t **out)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT " LM_COLS " FROM logged_models lm WHERE lm.model_id = ? "
				    "AND lm.lifecycle_stage = 'active'", &q)))
		return rc;
	store_bind_text(q, 1, model_id);
	rc = store_step(q);
	if (rc == STORE_ROW)
		rc = model_from_row(st, q, out);
	else if (rc == STORE_DONE)
		rc = not_found(model_id);
	store_reset(q);
	return rc;
}

int trk_logged_model_create(struct store *st, const char *experiment_id, const char *name, const char *model_type,
			    const char *source_run_id, json_t *params, json_t *tags, json_t **out)
{
	struct store_stmt *q;
	struct buf gen = BUF_INIT, loc = BUF_INIT, base = BUF_INIT;
	char id[CAIRN_ID_LEN + 3] = "m-";
	int64_t exp = 0, now = cairn_now_ms();
	int rc;

	*out = NULL;
	if (!experiment_id || !*experiment_id)
		return cjson_missing("experiment_id");
	if ((rc = trk__parse_exp_id(experiment_id, &exp)) || (rc = validate_name(name)) ||
	    (rc = kv_validate("param", params, TRK_MAX_PARAM_VALUE)) ||
	    (rc = kv_validate("tag", tags, TRK_MAX_TAG_VALUE)))
		return rc;
	if (!name) {
		random_name(&gen);
		name = gen.ptr;
	}
	cairn_id_new(id + 2);
	if ((rc = store_begin_write(st)))
		goto done;
	if ((rc = store_prepare(st, "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
				&q)))
		goto out;
	store_bind_int64(q, 1, exp);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		rc = 0;
		if (strcmp(store_col_text(q, 1), "active"))
			rc = cairn_error_set(CAIRN_EINVALID, "The experiment %lld must be in the 'active' state. "
							     "Current state is %s.", (long long)exp, store_col_text(q, 1));
		buf_puts(&base, store_col_text(q, 0));
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No Experiment with id=%lld exists", (long long)exp);
	}
	store_reset(q);
	if (rc)
		goto out;
	{
		char rel[CAIRN_ID_LEN + 32];
		snprintf(rel, sizeof(rel), "models/%s/artifacts", id);
		path_join_uri(&loc, base.ptr, rel);
	}
	if ((rc = buf_error(&loc)))
		goto out;
	if ((rc = store_prepare(st, "INSERT INTO logged_models(model_id, experiment_id, name, artifact_location, "
				    "creation_time, last_updated_time, status, lifecycle_stage, model_type, source_run_id) "
				    "VALUES (?, ?, ?, ?, ?, ?, 'LOGGED_MODEL_PENDING', 'active', ?, ?)", &q)))
		goto out;
	store_bind_text(q, 1, id);
	store_bind_int64(q, 2, exp);
	store_bind_text(q, 3, name);
	store_bind_text(q, 4, loc.ptr);
	store_bind_int64(q, 5, now);
	store_bind_int64(q, 6, now);
	store_bind_text(q, 7, model_type && *model_type ? model_type : NULL);
	store_bind_text(q, 8, source_run_id && *source_run_id ? source_run_id : NULL);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	if ((rc = kv_put(st, "logged_model_params", id, params)) || (rc = kv_put(st, "logged_model_tags", id, tags)))
		goto out;
	rc = model_load(st, id, out);
out:
	rc = trk__commit_or_rollback(st, rc);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
done:
	buf_release(&gen);
	buf_release(&loc);
	buf_release(&base);
	return rc;
}

int trk_logged_model_get(struct store *st, const char *model_id, json_t **out)
{
	int rc;

	if (!model_id || !*model_id)
		return cjson_missing("model_id");
	if ((rc = store_begin_read(st)))
		return rc;
	rc = model_load(st, model_id, out);
	store_rollback(st);
	return rc;
}

int trk_logged_model_finalize(struct store *st, const char *model_id, json_t *status, json_t **out)
{
	struct store_stmt *q;
	const char *s = NULL;
	int rc;

	*out = NULL;
	if ((rc = parse_status(status, &s)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_model(st, model_id, false)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE logged_models SET status = ?, last_updated_time = ? WHERE model_id = ?",
				&q)))
		goto out;
	store_bind_text(q, 1, s);
	store_bind_int64(q, 2, cairn_now_ms());
	store_bind_text(q, 3, model_id);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = model_load(st, model_id, out);
out:
	rc = trk__commit_or_rollback(st, rc);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int trk_logged_model_delete(struct store *st, const char *model_id)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_model(st, model_id, false)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_time = ? "
				    "WHERE model_id = ?", &q)))
		goto out;
	store_bind_int64(q, 1, cairn_now_ms());
	store_bind_text(q, 2, model_id);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	return trk__commit_or_rollback(st, rc);
}

static int put_kvs(struct store *st, const char *model_id, const char *table, const char *kind, json_t *arr,
		   size_t max_value)
{
	int rc;

	if ((rc = kv_validate(kind, arr, max_value)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if (!(rc = check_model(st, model_id, false)) && !(rc = kv_put(st, table, model_id, arr)))
		rc = touch(st, model_id);
	return trk__commit_or_rollback(st, rc);
}

int trk__logged_model_add_version(struct store *st, const char *model_id, const char *name, int64_t version)
{
	struct store_stmt *q;
	json_t *list = NULL, *e, *tags = NULL;
	char *text = NULL;
	size_t i;
	int rc;

	if ((rc = check_model(st, model_id, false)))
		return rc;
	if ((rc = store_prepare(st, "SELECT value FROM logged_model_tags WHERE model_id = ? AND key = "
				    "'mlflow.modelVersions'", &q)))
		return rc;
	store_bind_text(q, 1, model_id);
	rc = store_step(q);
	if (rc == STORE_ROW)
		list = json_loads(store_col_text(q, 0), 0, NULL);
	store_reset(q);
	if (rc < 0)
		return rc;
	rc = 0;
	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	json_array_foreach(list, i, e)
		if (json_is_object(e) && json_is_string(json_object_get(e, "name")) &&
		    !strcmp(json_string_value(json_object_get(e, "name")), name) &&
		    json_is_integer(json_object_get(e, "version")) &&
		    json_integer_value(json_object_get(e, "version")) == version)
			goto out;
	json_array_append_new(list, json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version));
	/* Python's json.dumps: ", " and ": " between items, ASCII only */
	if (!(text = json_dumps(list, JSON_ENSURE_ASCII)) ||
	    !(tags = json_pack("[{s:s, s:s}]", "key", "mlflow.modelVersions", "value", text))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if (!(rc = kv_put(st, "logged_model_tags", model_id, tags)))
		rc = touch(st, model_id);
out:
	free(text);
	json_decref(tags);
	json_decref(list);
	return rc;
}

int trk_logged_model_set_tags(struct store *st, const char *model_id, json_t *tags)
{
	return put_kvs(st, model_id, "logged_model_tags", "tag", tags, TRK_MAX_TAG_VALUE);
}

int trk_logged_model_log_params(struct store *st, const char *model_id, json_t *params)
{
	return put_kvs(st, model_id, "logged_model_params", "param", params, TRK_MAX_PARAM_VALUE);
}

int trk_logged_model_delete_tag(struct store *st, const char *model_id, const char *key)
{
	const char *texts[2] = { model_id, key };
	int rc;

	if (!key || !*key)
		return cjson_missing("tag_key");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_model(st, model_id, false)))
		goto out;
	if ((rc = trk__exec1(st, "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", texts, 2)))
		goto out;
	if (store_changes(st) == 0) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No tag with key '%.250s' found for model with ID '%.200s'.", key,
				     model_id);
		goto out;
	}
	rc = touch(st, model_id);
out:
	return trk__commit_or_rollback(st, rc);
}

/* WITH lm_scope: the metric rows of the datasets (a name, and the digest or
 * none: MLflow's handler passes an absent digest as None, which its store
 * compares as IS NULL, so a name alone matches only rows without a digest);
 * scope_bind binds it. */
static int scope_sql(json_t *datasets, struct buf *sql)
{
	size_t i;
	json_t *d;

	buf_puts(sql, "WITH lm_scope AS (SELECT * FROM logged_model_metrics WHERE ");
	json_array_foreach(datasets, i, d) {
		const char *name = NULL, *digest = NULL;
		int rc;
		if (!json_is_object(d))
			return cjson_invalid("datasets", datasets);
		if ((rc = cjson_get_str(d, "dataset_name", false, &name)) < 0 ||
		    (rc = cjson_get_str(d, "dataset_digest", false, &digest)) < 0)
			return rc;
		if (!name || !*name)
			return cairn_error_set(CAIRN_EINVALID, "`dataset_name` in the `datasets` clause must be specified.");
		buf_puts(sql, i ? " OR (dataset_name = ? AND dataset_digest IS ?)" : "(dataset_name = ? AND dataset_digest IS ?)");
	}
	buf_puts(sql, ") ");
	return buf_error(sql);
}

static void scope_bind(struct store_stmt *q, json_t *datasets, int *idx)
{
	size_t i;
	json_t *d;

	json_array_foreach(datasets, i, d) {
		const char *digest = json_string_value(json_object_get(d, "dataset_digest"));
		store_bind_text(q, (*idx)++, json_string_value(json_object_get(d, "dataset_name")));
		if (digest && *digest)
			store_bind_text(q, (*idx)++, digest);
		else
			store_bind_null(q, (*idx)++);
	}
}

int trk_logged_model_search(struct store *st, const char *const *experiment_ids, size_t n_exp, const char *filter,
			    json_t *datasets, const char *const *order_by, size_t n_order, int64_t max_results,
			    const char *page_token, json_t **out, char **next)
{
	bool scoped = json_array_size(datasets) > 0;
	struct search_sql s;
	struct buf sql = BUF_INIT;
	struct store_stmt *q;
	int64_t offset = 0, count = 0;
	json_t *arr = NULL;
	int idx = 1, rc;

	*out = NULL;
	*next = NULL;
	if (max_results <= 0)
		max_results = LM_MAX_RESULTS_DEFAULT;
	if (max_results > TRK_MAX_SEARCH_RESULTS)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results' supplied. It "
						      "must be at most %d", (long long)max_results, TRK_MAX_SEARCH_RESULTS);
	if (page_token && (rc = trk_page_token_decode(page_token, &offset)))
		return rc;
	search_sql_init(&s);
	if ((rc = (scoped ? search_compile_logged_models_scoped : search_compile_logged_models)(filter, order_by,
												 n_order, &s)))
		goto done;
	if (scoped && (rc = scope_sql(datasets, &sql)))
		goto done;
	buf_puts(&sql, "SELECT " LM_COLS " FROM logged_models lm WHERE lm.experiment_id IN ");
	if ((rc = trk__sql_exp_in(&sql, experiment_ids, n_exp)))
		goto done;
	/* with datasets, a model needs a metric on one of them (MLflow joins on
	 * them when no metric clause does) */
	if (scoped)
		buf_puts(&sql, " AND EXISTS (SELECT 1 FROM lm_scope d WHERE d.model_id = lm.model_id)");
	buf_printf(&sql, " AND lm.lifecycle_stage = 'active' AND (%s) ORDER BY %s LIMIT ? OFFSET ?", s.where.ptr,
		   s.order.ptr);
	if ((rc = buf_error(&sql)) || (rc = store_begin_read(st)))
		goto done;
	if ((rc = store_prepare(st, sql.ptr, &q)))
		goto rollback;
	if (scoped)
		scope_bind(q, datasets, &idx);
	trk__bind_exp_in(q, experiment_ids, n_exp, &idx);
	trk__bind_search(q, &s, &idx);
	store_bind_int64(q, idx++, max_results + 1);
	store_bind_int64(q, idx++, offset);
	arr = json_array();
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *m;
		if (++count > max_results)
			break;
		if ((rc = model_from_row(st, q, &m)))
			break;
		json_array_append_new(arr, m);
	}
	store_reset(q);
	if (rc == STORE_ROW) {
		*next = trk_page_token_encode(offset + max_results);
		rc = 0;
	}
rollback:
	store_rollback(st);
done:
	if (rc < 0) {
		json_decref(arr);
		free(*next);
		*next = NULL;
	} else {
		rc = 0;
		*out = arr;
	}
	search_sql_release(&s);
	buf_release(&sql);
	return rc;
}

/* Check the run is active (inside a write). */
static int run_active(struct store *st, const char *run_id)
{
	struct buf stage = BUF_INIT;
	int rc;

	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	rc = trk__run_lifecycle(st, run_id, &stage, NULL);
	if (!rc && strcmp(stage.ptr, "active"))
		rc = cairn_error_set(CAIRN_EINVALID, "The run %.80s must be in the 'active' state. Current state is %s.",
				     run_id, stage.ptr);
	buf_release(&stage);
	return rc;
}

static int link_models(struct store *st, const char *run_id, json_t *models, bool outputs)
{
	struct store_stmt *q;
	size_t i;
	json_t *e;
	int rc;

	json_array_foreach(models, i, e) {
		const char *id = NULL;
		int64_t step = 0;
		if (!json_is_object(e))
			return cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'models': expected objects");
		if ((rc = cjson_get_str(e, "model_id", true, &id)) < 0 ||
		    (outputs && (rc = cjson_get_int64(e, "step", false, &step)) < 0))
			return rc;
	}
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = run_active(st, run_id)))
		goto out;
	json_array_foreach(models, i, e) {
		const char *id = json_string_value(json_object_get(e, "model_id"));
		int64_t step = 0;
		if ((rc = check_model(st, id, false)))
			goto out;
		cjson_get_int64(e, "step", false, &step);
		rc = store_prepare(st, outputs ? "INSERT INTO run_outputs(run_uuid, model_id, step) VALUES (?, ?, ?) "
						 "ON CONFLICT(run_uuid, model_id) DO UPDATE SET step = excluded.step"
					       : "INSERT INTO run_model_inputs(run_uuid, model_id) VALUES (?, ?) "
						 "ON CONFLICT DO NOTHING", &q);
		if (rc)
			goto out;
		store_bind_text(q, 1, run_id);
		store_bind_text(q, 2, id);
		if (outputs)
			store_bind_int64(q, 3, step);
		rc = store_step(q);
		store_reset(q);
		if (rc < 0)
			goto out;
		rc = 0;
	}
out:
	return trk__commit_or_rollback(st, rc);
}

int trk_log_outputs(struct store *st, const char *run_id, json_t *models)
{
	return link_models(st, run_id, models, true);
}

int trk_log_model_inputs(struct store *st, const char *run_id, json_t *models)
{
	return link_models(st, run_id, models, false);
}

int trk__logged_model_metric(struct store *st, const char *run_id, json_t *m, double v, int is_nan, int64_t ts,
			     int64_t step)
{
	const char *model_id = json_string_value(json_object_get(m, "model_id"));
	const char *dn = json_string_value(json_object_get(m, "dataset_name"));
	const char *dd = json_string_value(json_object_get(m, "dataset_digest"));
	struct store_stmt *q;
	int rc;

	if (!model_id || !*model_id)
		return 0;
	if ((rc = store_prepare(st, "INSERT INTO logged_model_metrics(model_id, key, value, is_nan, timestamp, step, "
				    "run_id, dataset_name, dataset_digest) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? "
				    "WHERE EXISTS (SELECT 1 FROM logged_models WHERE model_id = ?)", &q)))
		return rc;
	store_bind_text(q, 1, model_id);
	store_bind_text(q, 2, json_string_value(json_object_get(m, "key")));
	store_bind_double(q, 3, v);
	store_bind_int64(q, 4, is_nan);
	store_bind_int64(q, 5, ts);
	store_bind_int64(q, 6, step);
	store_bind_text(q, 7, run_id);
	store_bind_text(q, 8, dn && *dn ? dn : NULL);
	store_bind_text(q, 9, dd && *dd ? dd : NULL);
	store_bind_text(q, 10, model_id);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int trk__run_model_io(struct store *st, const char *run_id, json_t *inputs, json_t *outputs)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT model_id FROM run_model_inputs WHERE run_uuid = ? ORDER BY model_id", &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, run_id);
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(arr, json_pack("{s:o}", "model_id", cjson_string(store_col_text(q, 0))));
	store_reset(q);
	cjson_set_repeated(inputs, "model_inputs", arr);
	if (rc < 0)
		return rc;
	arr = json_array();
	if ((rc = store_prepare(st, "SELECT model_id, step FROM run_outputs WHERE run_uuid = ? ORDER BY step, model_id",
				&q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_text(q, 1, run_id);
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:I}", "model_id", cjson_string(store_col_text(q, 0)), "step",
						     (json_int_t)store_col_int64(q, 1)));
	store_reset(q);
	cjson_set_repeated(outputs, "model_outputs", arr);
	return rc < 0 ? rc : 0;
}
