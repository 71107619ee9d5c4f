/* experiment.c - experiments: create, get, search, rename, delete/restore, tags. */
#include "tracking/trk_int.h"
#include "core/fault.h"
#include "tracking/search.h"
#include "core/path.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#define EXP_COLS "e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time"

static int exp_tags(struct store *st, int64_t id, json_t *o)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key", &q))) {
		json_decref(arr);
		return rc;
	}
	store_bind_int64(q, 1, id);
	rc = trk__kv_rows(q, arr);
	cjson_set_repeated(o, "tags", arr);
	return rc;
}

/* Build an Experiment from the current row (columns EXP_COLS). */
static json_t *exp_row(struct store_stmt *q)
{
	json_t *o = json_object();
	char id[32];

	snprintf(id, sizeof(id), "%lld", (long long)store_col_int64(q, 0));
	cjson_set(o, "experiment_id", json_string(id));
	cjson_set(o, "name", cjson_string(store_col_text(q, 1)));
	cjson_set(o, "artifact_location", cjson_string(store_col_text(q, 2)));
	cjson_set(o, "lifecycle_stage", cjson_string(store_col_text(q, 3)));
	cjson_set(o, "creation_time", json_integer(store_col_int64(q, 4)));
	cjson_set(o, "last_update_time", json_integer(store_col_int64(q, 5)));
	return o;
}

static int exp_load(struct store *st, const char *where, const char *arg, int64_t id, json_t **out)
{
	struct store_stmt *q;
	struct buf sql = BUF_INIT;
	json_t *o = NULL;
	int rc;

	buf_printf(&sql, "SELECT " EXP_COLS " FROM experiments e WHERE %s", where);
	if ((rc = buf_error(&sql)) || (rc = store_prepare(st, sql.ptr, &q)))
		goto out;
	if (arg)
		store_bind_text(q, 1, arg);
	else
		store_bind_int64(q, 1, id);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		o = exp_row(q);
		id = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = arg ? cairn_error_set(CAIRN_ENOTFOUND, "Could not find experiment with name '%.500s'", arg)
			 : cairn_error_set(CAIRN_ENOTFOUND, "No Experiment with id=%lld exists", (long long)id);
	}
	store_reset(q);
	if (!rc)
		rc = exp_tags(st, id, o);
	if (rc) {
		json_decref(o);
		o = NULL;
	}
	*out = o;
out:
	buf_release(&sql);
	return rc;
}

static int validate_name(const char *name)
{
	if (!name || !*name)
		return cairn_error_set(CAIRN_EINVALID, "Invalid experiment name: ''");
	if (strlen(name) > TRK_MAX_EXPERIMENT_NAME)
		return cairn_error_set(CAIRN_EINVALID,
				       "Experiment name exceeds the maximum length of %d characters",
				       TRK_MAX_EXPERIMENT_NAME);
	return 0;
}

static int set_exp_tag(struct store *st, int64_t id, const char *key, const char *value)
{
	struct store_stmt *q;
	struct buf v = BUF_INIT;
	int rc;

	if ((rc = trk_validate_key("tag", key)))
		return rc;
	/* experiment tags over the limit are rejected, not truncated (as MLflow) */
	if (trk__utf8_len(value) > TRK_MAX_EXPERIMENT_TAG_VALUE)
		return cairn_error_set(CAIRN_EINVALID, "Experiment tag '%.250s' had value length %zu, which exceeded "
						      "length limit of %d", key, trk__utf8_len(value), TRK_MAX_EXPERIMENT_TAG_VALUE);
	buf_puts(&v, value);
	if ((rc = store_prepare(st, "INSERT INTO experiment_tags(experiment_id, key, value) VALUES (?, ?, ?) "
				    "ON CONFLICT(experiment_id, key) DO UPDATE SET value = excluded.value", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, key);
	store_bind_text(q, 3, v.ptr);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&v);
	return rc;
}

/* The artifact location as MLflow stores it (utils/uri.py
 * resolve_uri_if_local): a relative local path, plain or file:, is made
 * absolute against the server's working folder ("runs/x" ->
 * "/srv/runs/x", "file:x" -> "file:///srv/x"), "." and empty components
 * dropped as pathlib does; anything else is kept as given. */
static int absolute_location(const char *loc, struct buf *out)
{
	size_t n = path_uri_scheme_len(loc);
	bool file = n == 5 && !strncasecmp(loc, "file:", 5);
	const char *p = file ? loc + 5 : loc;
	char cwd[4096];

	if ((n && !file) || p[0] == '/') {
		buf_puts(out, loc);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return cairn_error_set(CAIRN_EIO, "cannot resolve the artifact location '%.200s': no working folder", loc);
	buf_printf(out, "%s%s", file ? "file://" : "", strcmp(cwd, "/") ? cwd : "");
	while (*p) {
		size_t c = strcspn(p, "/");
		if (c && !(c == 1 && p[0] == '.')) {
			buf_putc(out, '/');
			buf_put(out, p, c);
		}
		p += c + (p[c] == '/');
	}
	if (!out->len)
		buf_putc(out, '/');
	return 0;
}

int trk_experiment_create(struct store *st, const char *name, const char *artifact_location,
			  json_t *tags, char **id_out)
{
	struct store_stmt *q;
	struct buf loc = BUF_INIT;
	int64_t now = cairn_now_ms(), id = 0;
	size_t i;
	json_t *t;
	int rc;

	if ((rc = validate_name(name)))
		return rc;
	if (artifact_location && !strncmp(artifact_location, "runs:", 5))
		return cairn_error_set(CAIRN_EINVALID,
				       "Got an invalid artifact location '%.200s': 'runs:/' URIs are not allowed",
				       artifact_location);
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = store_prepare(st, "INSERT INTO experiments(name, artifact_location, lifecycle_stage, creation_time, "
				    "last_update_time) VALUES (?, '', 'active', ?, ?) RETURNING experiment_id", &q)))
		goto out;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, now);
	store_bind_int64(q, 3, now);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		id = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == CAIRN_EEXISTS) {
		rc = cairn_error_set(CAIRN_EEXISTS, "Experiment '%.500s' already exists.", name);
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ERR, "experiment insert returned no id");
	}
	store_reset(q);
	if (rc)
		goto out;
	if (artifact_location && *artifact_location)
		rc = absolute_location(artifact_location, &loc);
	else
		buf_printf(&loc, "mlflow-artifacts:/%lld", (long long)id);
	if (rc || (rc = buf_error(&loc)) ||
	    (rc = store_prepare(st, "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", &q)))
		goto out;
	store_bind_text(q, 1, loc.ptr);
	store_bind_int64(q, 2, id);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	json_array_foreach(tags, i, t) {
		const char *k = NULL, *v = "";
		if ((rc = cjson_get_str(t, "key", true, &k)) < 0 || (rc = cjson_get_str(t, "value", false, &v)) < 0)
			goto out;
		if ((rc = set_exp_tag(st, id, k, v)))
			goto out;
	}
	rc = 0;
out:
	rc = trk__commit_or_rollback(st, rc);
	if (!rc) {
		char s[32];
		snprintf(s, sizeof(s), "%lld", (long long)id);
		*id_out = cstrdup(s);
	}
	buf_release(&loc);
	return rc;
}

int trk_experiment_get(struct store *st, const char *id, json_t **out)
{
	int64_t n;
	int rc;

	if (!id || !*id)
		return cjson_missing("experiment_id");
	if ((rc = trk__parse_exp_id(id, &n)))
		return rc;
	return exp_load(st, "e.experiment_id = ?", NULL, n, out);
}

int trk_experiment_get_by_name(struct store *st, const char *name, json_t **out)
{
	if (!name || !*name)
		return cjson_missing("experiment_name");
	return exp_load(st, "e.name = ?", name, 0, out);
}

/* Fetch an experiment's lifecycle stage; ENOTFOUND when absent. */
static int exp_stage(struct store *st, const char *id, int64_t *n, struct buf *stage)
{
	struct store_stmt *q;
	int rc;

	if ((rc = trk__parse_exp_id(id, n)))
		return rc;
	if ((rc = store_prepare(st, "SELECT lifecycle_stage FROM experiments WHERE experiment_id = ?", &q)))
		return rc;
	store_bind_int64(q, 1, *n);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		buf_puts(stage, store_col_text(q, 0));
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No Experiment with id=%lld exists", (long long)*n);
	}
	store_reset(q);
	return rc;
}

int trk_experiment_rename(struct store *st, const char *id, const char *new_name)
{
	struct buf stage = BUF_INIT;
	struct store_stmt *q;
	int64_t n;
	int rc;

	if ((rc = validate_name(new_name)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = exp_stage(st, id, &n, &stage)))
		goto out;
	if (strcmp(stage.ptr, "active")) {
		rc = cairn_error_set(CAIRN_EINVALID, "Cannot rename a non-active experiment.");
		goto out;
	}
	if ((rc = store_prepare(st, "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?", &q)))
		goto out;
	store_bind_text(q, 1, new_name);
	store_bind_int64(q, 2, cairn_now_ms());
	store_bind_int64(q, 3, n);
	rc = store_step(q);
	store_reset(q);
	if (rc == CAIRN_EEXISTS)
		rc = cairn_error_set(CAIRN_EEXISTS, "Experiment '%.500s' already exists.", new_name);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

static int set_stage(struct store *st, const char *id, const char *from, const char *to)
{
	struct buf stage = BUF_INIT;
	struct store_stmt *q;
	int64_t n, now = cairn_now_ms();
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = exp_stage(st, id, &n, &stage)))
		goto out;
	if (n == 0 && !strcmp(to, "deleted")) {
		rc = cairn_error_set(CAIRN_EINVALID, "Cannot delete the default experiment '0'. This is an internal "
						    "experiment and must be kept.");
		goto out;
	}
	if (strcmp(stage.ptr, from)) {
		rc = cairn_error_set(CAIRN_EINVALID, "Cannot %s experiment %lld: it is already %s",
				     !strcmp(to, "deleted") ? "delete" : "restore", (long long)n, stage.ptr);
		goto out;
	}
	if ((rc = store_prepare(st, "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
				    "WHERE experiment_id = ?", &q)))
		goto out;
	store_bind_text(q, 1, to);
	store_bind_int64(q, 2, now);
	store_bind_int64(q, 3, n);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	/* runs follow their experiment */
	if ((rc = store_prepare(st, "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? "
				    "AND lifecycle_stage = ?", &q)))
		goto out;
	store_bind_text(q, 1, to);
	if (!strcmp(to, "deleted"))
		store_bind_int64(q, 2, now);
	else
		store_bind_null(q, 2);
	store_bind_int64(q, 3, n);
	store_bind_text(q, 4, from);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

int trk_experiment_delete(struct store *st, const char *id)
{
	return set_stage(st, id, "active", "deleted");
}

int trk_experiment_restore(struct store *st, const char *id)
{
	return set_stage(st, id, "deleted", "active");
}

int trk_experiment_set_tag(struct store *st, const char *id, const char *key, const char *value)
{
	struct buf stage = BUF_INIT;
	int64_t n;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = exp_stage(st, id, &n, &stage)))
		goto out;
	if (strcmp(stage.ptr, "active")) {
		rc = cairn_error_set(CAIRN_EINVALID, "The experiment %lld must be in the 'active' state. "
						    "Current state is %s.", (long long)n, stage.ptr);
		goto out;
	}
	rc = set_exp_tag(st, n, key, value ? value : "");
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

int trk_experiment_delete_tag(struct store *st, const char *id, const char *key)
{
	struct buf stage = BUF_INIT;
	struct store_stmt *q;
	int64_t n;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = exp_stage(st, id, &n, &stage)))
		goto out;
	if ((rc = store_prepare(st, "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", &q)))
		goto out;
	store_bind_int64(q, 1, n);
	store_bind_text(q, 2, key);
	rc = store_step(q);
	store_reset(q);
	if (rc >= 0 && store_changes(st) == 0)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No tag with name: %.250s in experiment with id %lld",
				     key, (long long)n);
	rc = rc < 0 ? rc : 0;
out:
	buf_release(&stage);
	return trk__commit_or_rollback(st, rc);
}

int trk_experiment_search(struct store *st, const struct trk_page *pg, json_t **out, char **next)
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
	if ((rc = search_compile_experiments(pg->filter, pg->order_by, pg->n_order, &s)))
		goto out;
	buf_printf(&sql, "SELECT " EXP_COLS " FROM experiments e WHERE (%s)", s.where.ptr);
	if (pg->view == TRK_ACTIVE_ONLY)
		buf_puts(&sql, " AND e.lifecycle_stage = 'active'");
	else if (pg->view == TRK_DELETED_ONLY)
		buf_puts(&sql, " AND e.lifecycle_stage = 'deleted'");
	buf_puts(&sql, " ORDER BY ");
	if (s.order.len)
		buf_printf(&sql, "%s, ", s.order.ptr);
	buf_puts(&sql, "e.creation_time DESC, e.experiment_id ASC LIMIT ? OFFSET ?");
	if ((rc = buf_error(&sql)))
		goto out;
	if ((rc = store_begin_read(st)))
		goto out;
	if ((rc = store_prepare(st, sql.ptr, &q)))
		goto rollback;
	trk__bind_search(q, &s, &idx);
	store_bind_int64(q, idx++, max + 1);
	store_bind_int64(q, idx++, offset);
	while ((rc = store_step(q)) == STORE_ROW) {
		if (count++ == max) {
			*next = trk_page_token_encode(offset + max);
			break;
		}
		json_array_append_new(arr, exp_row(q));
	}
	store_reset(q);
	if (rc < 0)
		goto rollback;
	rc = 0;
	{
		size_t i;
		json_t *e;
		json_array_foreach(arr, i, e) {
			int64_t id;
			cjson_parse_int64(json_string_value(json_object_get(e, "experiment_id")), &id);
			if ((rc = exp_tags(st, id, e)))
				break;
		}
	}
rollback:
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
