/* registry.c - registered models, model versions, tags, aliases and stages over the store. */
#include "registry/reg_int.h"
#include "tracking/logged_model.h"
#include "tracking/search.h"
#include "core/path.h"
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const stages[] = { "None", "Staging", "Production", "Archived" };

/* ---- validation ---- */

static int check_name(const char *name, const char *what)
{
	if (!name || !*name)
		return cjson_missing(what);
	if (strlen(name) > REG_MAX_NAME)
		return cairn_error_set(CAIRN_EINVALID, "Registered model name exceeds the maximum length of %d",
				       REG_MAX_NAME);
	if (strchr(name, '/') || strchr(name, '@') || strchr(name, ':'))
		return cairn_error_set(CAIRN_EINVALID, "Invalid model name: '%.256s'. Names cannot contain '/', "
						      "':' or '@'.", name);
	return 0;
}

int reg__parse_version(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'version'.");
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < 1)
		return cairn_error_set(CAIRN_EINVALID, "Parameter 'version' must be an integer, got '%.64s'.", s);
	*out = v;
	return 0;
}

static int check_tag(const char *key, const char *value)
{
	int rc;

	if ((rc = trk_validate_key("tag", key)))
		return rc;
	if (strlen(value) > REG_MAX_TAG_VALUE)
		return cairn_error_set(CAIRN_EINVALID, "Tag value exceeds the maximum length of %d characters",
				       REG_MAX_TAG_VALUE);
	return 0;
}

static int check_description(const char *d)
{
	if (d && strlen(d) > REG_MAX_DESCRIPTION)
		return cairn_error_set(CAIRN_EINVALID, "Description exceeds the maximum length of %d characters",
				       REG_MAX_DESCRIPTION);
	return 0;
}

int reg__check_alias(const char *alias)
{
	size_t n;

	if (!alias || !*alias)
		return cairn_error_set(CAIRN_EINVALID, "Registered model alias name cannot be empty.");
	n = strlen(alias);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)alias[i];
		if (!isalnum(c) && c != '_' && c != '-')
			return cairn_error_set(CAIRN_EINVALID, "Invalid alias name: '%.255s'. Names may only contain "
							      "alphanumerics, underscores (_), and dashes (-).", alias);
	}
	if (n > REG_MAX_ALIAS)
		return cairn_error_set(CAIRN_EINVALID, "Registered model alias name '%.40s...' had length %zu, which "
						      "exceeded length limit of %d", alias, n, REG_MAX_ALIAS);
	if (!strcasecmp(alias, "latest"))
		return cairn_error_set(CAIRN_EINVALID, "'latest' alias name (case insensitive) is reserved.");
	if ((alias[0] == 'v' || alias[0] == 'V') && n > 1 && strspn(alias + 1, "0123456789") == n - 1)
		return cairn_error_set(CAIRN_EINVALID, "Version alias name '%s' is reserved.", alias);
	return 0;
}

static int parse_stage(const char *s, const char **out)
{
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (s && !strcasecmp(s, stages[i])) {
			*out = stages[i];
			return 0;
		}
	return cairn_error_set(CAIRN_EINVALID, "Invalid Model Version stage: %.64s. Value must be one of None, "
					      "Staging, Production, Archived.", s ? s : "");
}

/* ---- lookups ---- */

int reg__model_id(struct store *st, const char *name, int64_t *id)
{
	struct store_stmt *q;
	int rc;

	if ((rc = check_name(name, "name")))
		return rc;
	if ((rc = store_prepare(st, "SELECT id FROM registered_models WHERE name = ?", &q)))
		return rc;
	store_bind_text(q, 1, name);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		*id = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Registered Model with name=%.256s not found", name);
	}
	store_reset(q);
	return rc;
}

/* The model id and checked version of (name, version); ENOTFOUND when absent. */
int reg__version_key(struct store *st, const char *name, const char *version, int64_t *id, int64_t *ver)
{
	struct store_stmt *q;
	int rc;

	if ((rc = check_name(name, "name")) || (rc = reg__parse_version(version, ver)))
		return rc;
	if ((rc = store_prepare(st, "SELECT v.model FROM model_versions v JOIN registered_models m ON m.id = v.model "
				    "WHERE m.name = ? AND v.version = ?", &q)))
		return rc;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, *ver);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		*id = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Model Version (name=%.256s, version=%lld) not found", name,
				     (long long)*ver);
	}
	store_reset(q);
	return rc;
}

static int touch_model(struct store *st, int64_t id, int64_t now)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "UPDATE registered_models SET last_updated_time = ? WHERE id = ?", &q)))
		return rc;
	store_bind_int64(q, 1, now);
	store_bind_int64(q, 2, id);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

static int touch_version(struct store *st, int64_t id, int64_t ver, int64_t now)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "UPDATE model_versions SET last_updated_time = ? WHERE model = ? AND version = ?",
				&q)))
		return rc;
	store_bind_int64(q, 1, now);
	store_bind_int64(q, 2, id);
	store_bind_int64(q, 3, ver);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int reg__audit(struct store *st, const char *user, const char *action, const char *model, int64_t version,
	       const char *alias, json_t *details)
{
	struct store_stmt *q;
	char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
	int rc;

	if ((rc = store_prepare(st, "INSERT INTO registry_audit(time, user_id, action, model, version, alias, details) "
				    "VALUES (?, ?, ?, ?, ?, ?, ?)", &q)))
		goto out;
	store_bind_int64(q, 1, cairn_now_ms());
	store_bind_text(q, 2, user ? user : "");
	store_bind_text(q, 3, action);
	store_bind_text(q, 4, model);
	if (version > 0)
		store_bind_int64(q, 5, version);
	else
		store_bind_null(q, 5);
	if (alias)
		store_bind_text(q, 6, alias);
	else
		store_bind_null(q, 6);
	store_bind_text(q, 7, d ? d : "{}");
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	free(d);
	json_decref(details);
	return rc;
}

/* ---- JSON rendering ---- */

#define MV_COLS "m.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, " \
		"v.current_stage, v.source, v.run_id, v.run_link, v.status, v.status_message, v.model_id, v.model"

static void set_text(json_t *o, const char *key, struct store_stmt *q, int col)
{
	const char *s = store_col_text(q, col);

	if (!store_col_is_null(q, col) && s && *s)
		cjson_set(o, key, cjson_string(s));
}

static int version_extras(struct store *st, int64_t id, int64_t ver, json_t *o)
{
	struct store_stmt *q;
	json_t *tags = json_array(), *aliases = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT key, value FROM model_version_tags WHERE model = ? AND version = ? "
				    "ORDER BY key", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", store_col_text(q, 0), "value",
						      store_col_text(q, 1)));
	store_reset(q);
	if (rc < 0)
		goto out;
	if ((rc = store_prepare(st, "SELECT alias FROM registered_model_aliases WHERE model = ? AND version = ? "
				    "ORDER BY alias", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(aliases, cjson_string(store_col_text(q, 0)));
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	cjson_set_repeated(o, "tags", tags);
	cjson_set_repeated(o, "aliases", aliases);
	return rc;
}

/* A ModelVersion from the current row of SELECT MV_COLS (tags and aliases loaded). */
static int version_row(struct store *st, struct store_stmt *q, json_t **out)
{
	json_t *o = json_object();
	int64_t id = store_col_int64(q, 13), ver = store_col_int64(q, 1);
	char v[32];

	snprintf(v, sizeof(v), "%lld", (long long)ver);
	cjson_set(o, "name", cjson_string(store_col_text(q, 0)));
	cjson_set(o, "version", json_string(v));
	cjson_set(o, "creation_timestamp", json_integer(store_col_int64(q, 2)));
	cjson_set(o, "last_updated_timestamp", json_integer(store_col_int64(q, 3)));
	/* MLflow sends description, run_id and run_link as "" when unset, in
	 * every answer that holds a model version */
	cjson_set(o, "description", cjson_string(store_col_is_null(q, 4) ? "" : store_col_text(q, 4)));
	set_text(o, "user_id", q, 5);
	cjson_set(o, "current_stage", cjson_string(store_col_text(q, 6)));
	set_text(o, "source", q, 7);
	cjson_set(o, "run_id", cjson_string(store_col_is_null(q, 8) ? "" : store_col_text(q, 8)));
	cjson_set(o, "run_link", cjson_string(store_col_is_null(q, 9) ? "" : store_col_text(q, 9)));
	cjson_set(o, "status", cjson_string(store_col_text(q, 10)));
	set_text(o, "status_message", q, 11);
	set_text(o, "model_id", q, 12);
	*out = o;
	(void)id;
	return 0;
}

/* Run a SELECT MV_COLS query and collect ModelVersions (with tags/aliases). */
static int collect_versions(struct store *st, struct store_stmt *q, json_t *arr)
{
	json_t *ids = json_array();
	size_t i;
	json_t *o;
	int rc;

	while ((rc = store_step(q)) == STORE_ROW) {
		version_row(st, q, &o);
		json_array_append_new(arr, o);
		json_array_append_new(ids, json_pack("[I,I]", (json_int_t)store_col_int64(q, 13),
						     (json_int_t)store_col_int64(q, 1)));
	}
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	/* extras after the cursor is reset: they reuse cached statements */
	json_array_foreach(arr, i, o) {
		json_t *k = json_array_get(ids, i);
		if ((rc = version_extras(st, json_integer_value(json_array_get(k, 0)),
					 json_integer_value(json_array_get(k, 1)), o)))
			break;
	}
out:
	json_decref(ids);
	return rc;
}

int reg__load_version(struct store *st, int64_t id, int64_t ver, json_t **out)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if ((rc = store_prepare(st, "SELECT " MV_COLS " FROM model_versions v JOIN registered_models m ON m.id = "
				    "v.model WHERE v.model = ? AND v.version = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	if ((rc = collect_versions(st, q, arr)))
		goto out;
	if (!json_array_size(arr)) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Model Version (version=%lld) not found", (long long)ver);
		goto out;
	}
	*out = json_incref(json_array_get(arr, 0));
out:
	json_decref(arr);
	return rc;
}

/* Latest version per stage (in stage order), or only the stages listed. */
static int latest_versions(struct store *st, int64_t id, const char *const *want, size_t n, json_t *arr)
{
	struct store_stmt *q;
	int rc;

	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++) {
		bool ok = n == 0;
		for (size_t j = 0; j < n; j++)
			ok |= !strcasecmp(want[j], stages[i]);
		if (!ok)
			continue;
		if ((rc = store_prepare(st, "SELECT " MV_COLS " FROM model_versions v JOIN registered_models m ON "
					    "m.id = v.model WHERE v.model = ? AND v.current_stage = ? "
					    "ORDER BY v.version DESC LIMIT 1", &q)))
			return rc;
		store_bind_int64(q, 1, id);
		store_bind_text(q, 2, stages[i]);
		if ((rc = collect_versions(st, q, arr)))
			return rc;
	}
	return 0;
}

static int model_row(struct store *st, struct store_stmt *q, json_t **out)
{
	json_t *o = json_object();

	cjson_set(o, "name", cjson_string(store_col_text(q, 1)));
	cjson_set(o, "creation_timestamp", json_integer(store_col_int64(q, 2)));
	cjson_set(o, "last_updated_timestamp", json_integer(store_col_int64(q, 3)));
	set_text(o, "description", q, 4);
	*out = o;
	return 0;
}

static int model_extras(struct store *st, int64_t id, json_t *o)
{
	struct store_stmt *q;
	json_t *tags = json_array(), *aliases = json_array(), *latest = json_array();
	int rc;

	if ((rc = store_prepare(st, "SELECT key, value FROM registered_model_tags WHERE model = ? ORDER BY key", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", store_col_text(q, 0), "value",
						      store_col_text(q, 1)));
	store_reset(q);
	if (rc < 0)
		goto out;
	if ((rc = store_prepare(st, "SELECT alias, version FROM registered_model_aliases WHERE model = ? "
				    "ORDER BY alias", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	while ((rc = store_step(q)) == STORE_ROW) {
		char v[32];
		snprintf(v, sizeof(v), "%lld", (long long)store_col_int64(q, 1));
		json_array_append_new(aliases, json_pack("{s:s,s:s}", "alias", store_col_text(q, 0), "version", v));
	}
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = latest_versions(st, id, NULL, 0, latest);
out:
	cjson_set_repeated(o, "latest_versions", latest);
	cjson_set_repeated(o, "tags", tags);
	cjson_set_repeated(o, "aliases", aliases);
	return rc;
}

#define RM_COLS "m.id, m.name, m.creation_time, m.last_updated_time, m.description"

static int load_model(struct store *st, int64_t id, json_t **out)
{
	struct store_stmt *q;
	json_t *o = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_prepare(st, "SELECT " RM_COLS " FROM registered_models m WHERE m.id = ?", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		model_row(st, q, &o);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Registered Model not found");
	}
	store_reset(q);
	if (!rc)
		rc = model_extras(st, id, o);
	if (rc)
		json_decref(o);
	else
		*out = o;
	return rc;
}

/* ---- registered models ---- */

static int upsert_model_tag(struct store *st, int64_t id, const char *key, const char *value)
{
	struct store_stmt *q;
	int rc;

	if ((rc = check_tag(key, value)))
		return rc;
	if ((rc = store_prepare(st, "INSERT INTO registered_model_tags(model, key, value) VALUES (?, ?, ?) "
				    "ON CONFLICT(model, key) DO UPDATE SET value = excluded.value", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, key);
	store_bind_text(q, 3, value);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int reg_model_create(struct store *st, const char *name, json_t *tags, const char *description, json_t **out)
{
	struct store_stmt *q;
	int64_t now = cairn_now_ms(), id = 0;
	size_t i;
	json_t *t;
	int rc;

	*out = NULL;
	if ((rc = check_name(name, "name")) || (rc = check_description(description)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = store_prepare(st, "INSERT INTO registered_models(name, creation_time, last_updated_time, description) "
				    "VALUES (?, ?, ?, ?) RETURNING id", &q)))
		goto out;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, now);
	store_bind_int64(q, 3, now);
	store_bind_text(q, 4, description ? description : "");
	rc = store_step(q);
	if (rc == STORE_ROW) {
		id = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == CAIRN_EEXISTS) {
		rc = cairn_error_set(CAIRN_EEXISTS, "Registered Model (name=%.256s) already exists.", name);
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ERR, "registered model insert returned no id");
	}
	store_reset(q);
	if (rc)
		goto out;
	json_array_foreach(tags, i, t) {
		const char *k = NULL, *v = "";
		if ((rc = cjson_get_str(t, "key", true, &k)) < 0 || (rc = cjson_get_str(t, "value", false, &v)) < 0 ||
		    (rc = upsert_model_tag(st, id, k, v)))
			goto out;
	}
	rc = load_model(st, id, out);
out:
	return trk__commit_or_free(st, rc, out);
}

int reg_model_get(struct store *st, const char *name, json_t **out)
{
	int64_t id;
	int rc;

	if ((rc = store_begin_read(st)))
		return rc;
	if (!(rc = reg__model_id(st, name, &id)))
		rc = load_model(st, id, out);
	store_rollback(st);
	return rc;
}

int reg_model_rename(struct store *st, const char *name, const char *new_name, const char *user, json_t **out)
{
	struct store_stmt *q;
	int64_t id;
	int rc;

	*out = NULL;
	if ((rc = check_name(new_name, "new_name")))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE registered_models SET name = ?, last_updated_time = ? WHERE id = ?", &q)))
		goto out;
	store_bind_text(q, 1, new_name);
	store_bind_int64(q, 2, cairn_now_ms());
	store_bind_int64(q, 3, id);
	rc = store_step(q);
	store_reset(q);
	if (rc == CAIRN_EEXISTS) {
		rc = cairn_error_set(CAIRN_EEXISTS, "Registered Model (name=%.256s) already exists.", new_name);
		goto out;
	}
	if (rc < 0)
		goto out;
	if ((rc = reg__audit(st, user, "rename", new_name, 0, NULL, json_pack("{s:s}", "from", name))))
		goto out;
	rc = load_model(st, id, out);
out:
	return trk__commit_or_free(st, rc, out);
}

int reg_model_update(struct store *st, const char *name, const char *description, json_t **out)
{
	struct store_stmt *q;
	int64_t id;
	int rc;

	*out = NULL;
	if ((rc = check_description(description)) || (rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	if (description) {
		if ((rc = store_prepare(st, "UPDATE registered_models SET description = ?, last_updated_time = ? "
					    "WHERE id = ?", &q)))
			goto out;
		store_bind_text(q, 1, description);
		store_bind_int64(q, 2, cairn_now_ms());
		store_bind_int64(q, 3, id);
		rc = store_step(q);
		store_reset(q);
		if (rc < 0)
			goto out;
	}
	rc = load_model(st, id, out);
out:
	return trk__commit_or_free(st, rc, out);
}

int reg_model_delete(struct store *st, const char *name, const char *user)
{
	struct store_stmt *q;
	int64_t id;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	/* versions, their tags and aliases go by ON DELETE CASCADE */
	if ((rc = store_prepare(st, "DELETE FROM registered_models WHERE id = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = reg__audit(st, user, "delete_model", name, 0, NULL, NULL);
out:
	return trk__commit_or_rollback(st, rc);
}

static int page_bounds(const struct trk_page *pg, int64_t def, int64_t max, int64_t *limit, int64_t *offset)
{
	int rc;

	*limit = pg->max_results ? pg->max_results : def;
	if (*limit < 1 || *limit > max)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value for request parameter max_results. It must be at "
						      "most %lld, but got value %lld", (long long)max, (long long)*limit);
	if ((rc = trk_page_token_decode(pg->page_token ? pg->page_token : "", offset)))
		return rc;
	return 0;
}

/* Run a compiled search: "SELECT <cols> <from> WHERE (<where>) ORDER BY <order> LIMIT ? OFFSET ?". */
static int run_search(struct store *st, const char *cols, const char *from, const struct search_sql *s,
		      int64_t limit, int64_t offset, struct store_stmt **qo)
{
	struct buf sql = BUF_INIT;
	int idx = 1, rc;

	buf_printf(&sql, "SELECT %s %s WHERE (%s) ORDER BY %s LIMIT ? OFFSET ?", cols, from, s->where.ptr,
		   s->order.ptr);
	if ((rc = buf_error(&sql)) || (rc = store_prepare(st, sql.ptr, qo)))
		goto out;
	trk__bind_search(*qo, s, &idx);
	store_bind_int64(*qo, idx++, limit + 1);
	store_bind_int64(*qo, idx, offset);
out:
	buf_release(&sql);
	return rc;
}

static void page_next(json_t *arr, int64_t limit, int64_t offset, char **next)
{
	*next = NULL;
	if ((int64_t)json_array_size(arr) > limit) {
		json_array_remove(arr, (size_t)limit);
		*next = trk_page_token_encode(offset + limit);
	}
}

int reg_model_search(struct store *st, const struct trk_page *pg, json_t **out, char **next)
{
	struct search_sql s;
	struct store_stmt *q;
	json_t *arr = json_array(), *ids = json_array(), *o;
	int64_t limit, offset;
	size_t i;
	int rc;

	*out = NULL;
	*next = NULL;
	search_sql_init(&s);
	if ((rc = page_bounds(pg, REG_MODELS_DEFAULT_PAGE, REG_MODELS_MAX_PAGE, &limit, &offset)) ||
	    (rc = search_compile_registered_models(pg->filter, pg->order_by, pg->n_order, &s)))
		goto out;
	if ((rc = store_begin_read(st)))
		goto out;
	if ((rc = run_search(st, RM_COLS, "FROM registered_models m", &s, limit, offset, &q)))
		goto done;
	while ((rc = store_step(q)) == STORE_ROW) {
		model_row(st, q, &o);
		json_array_append_new(arr, o);
		json_array_append_new(ids, json_integer(store_col_int64(q, 0)));
	}
	store_reset(q);
	if (rc < 0)
		goto done;
	rc = 0;
	json_array_foreach(arr, i, o)
		if ((rc = model_extras(st, json_integer_value(json_array_get(ids, i)), o)))
			goto done;
	page_next(arr, limit, offset, next);
done:
	store_rollback(st);
out:
	search_sql_release(&s);
	json_decref(ids);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

int reg_latest_versions(struct store *st, const char *name, const char *const *want, size_t n, json_t **out)
{
	json_t *arr = json_array();
	const char *canon;
	int64_t id;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		if ((rc = parse_stage(want[i], &canon))) {
			json_decref(arr);
			return rc;
		}
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	if (!(rc = reg__model_id(st, name, &id)))
		rc = latest_versions(st, id, want, n, arr);
	store_rollback(st);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

int reg_model_set_tag(struct store *st, const char *name, const char *key, const char *value)
{
	int64_t id;
	int rc;

	if (!key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'key'.");
	if ((rc = check_tag(key, value ? value : "")) || (rc = store_begin_write(st)))
		return rc;
	if (!(rc = reg__model_id(st, name, &id)))
		rc = upsert_model_tag(st, id, key, value ? value : "");
	return trk__commit_or_rollback(st, rc);
}

int reg_model_delete_tag(struct store *st, const char *name, const char *key)
{
	struct store_stmt *q;
	int64_t id;
	int rc;

	if (!key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'key'.");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	if ((rc = store_prepare(st, "DELETE FROM registered_model_tags WHERE model = ? AND key = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, key);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	return trk__commit_or_rollback(st, rc);
}

/* ---- aliases ---- */

int reg__alias_set(struct store *st, int64_t id, const char *name, const char *alias, int64_t ver,
		   const char *user, json_t *details)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "INSERT INTO registered_model_aliases(model, alias, version) VALUES (?, ?, ?) "
				    "ON CONFLICT(model, alias) DO UPDATE SET version = excluded.version", &q))) {
		json_decref(details);
		return rc;
	}
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, alias);
	store_bind_int64(q, 3, ver);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0 || (rc = touch_model(st, id, cairn_now_ms()))) {
		json_decref(details);
		return rc;
	}
	return reg__audit(st, user, "set_alias", name, ver, alias, details);
}

int reg_alias_set(struct store *st, const char *name, const char *alias, const char *version, const char *user)
{
	int64_t id, ver;
	int rc;

	if ((rc = reg__check_alias(alias)) || (rc = store_begin_write(st)))
		return rc;
	if (!(rc = reg__version_key(st, name, version, &id, &ver)))
		rc = reg__alias_set(st, id, name, alias, ver, user, NULL);
	return trk__commit_or_rollback(st, rc);
}

int reg_alias_delete(struct store *st, const char *name, const char *alias, const char *user)
{
	struct store_stmt *q;
	int64_t id;
	int rc;

	if ((rc = reg__check_alias(alias)) || (rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	if ((rc = store_prepare(st, "DELETE FROM registered_model_aliases WHERE model = ? AND alias = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, alias);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = reg__audit(st, user, "delete_alias", name, 0, alias, NULL);
out:
	return trk__commit_or_rollback(st, rc);
}

int reg__alias_version(struct store *st, int64_t id, const char *alias, int64_t *ver)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT version FROM registered_model_aliases WHERE model = ? AND alias = ?", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	store_bind_text(q, 2, alias);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		*ver = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_EINVALID, "Registered model alias %.255s not found.", alias);
	}
	store_reset(q);
	return rc;
}

/* MLflow keeps an alias whose version was deleted, and asking for it is 404
 * "Model Version (name=N, version=V) not found"; cairn drops the alias with
 * its version, so the audit log tells: the alias's last record is its
 * set_alias to V (no delete_alias, nor delete_model or rename of the model
 * since) and V is gone. Else rc, the alias's "not found", stands. */
static int alias_of_deleted_version(struct store *st, const char *name, const char *alias, int rc)
{
	struct store_stmt *q;
	int64_t ver = 0;
	int step;
	char msg[1024];

	snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
	if (store_prepare(st, "SELECT a.version FROM registry_audit a WHERE a.id = (SELECT max(id) FROM registry_audit "
			      "WHERE model = ?1 AND ((alias = ?2 AND action IN ('set_alias', 'delete_alias')) OR "
			      "action IN ('delete_model', 'rename'))) AND a.action = 'set_alias' AND NOT EXISTS "
			      "(SELECT 1 FROM model_versions v JOIN registered_models m ON m.id = v.model "
			      "WHERE m.name = ?1 AND v.version = a.version)", &q))
		return cairn_error_set(rc, "%s", msg);
	store_bind_text(q, 1, name);
	store_bind_text(q, 2, alias);
	step = store_step(q);
	if (step == STORE_ROW)
		ver = store_col_int64(q, 0);
	store_reset(q);
	if (step != STORE_ROW)
		return step < 0 ? step : cairn_error_set(rc, "%s", msg);
	return cairn_error_set(CAIRN_ENOTFOUND, "Model Version (name=%.256s, version=%lld) not found", name,
			       (long long)ver);
}

int reg_version_by_alias(struct store *st, const char *name, const char *alias, json_t **out)
{
	int64_t id = 0, ver;
	int rc;

	if (!alias || !*alias)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'alias'.");
	if ((rc = store_begin_read(st)))
		return rc;
	if (!(rc = reg__model_id(st, name, &id)) && !(rc = reg__alias_version(st, id, alias, &ver)))
		rc = reg__load_version(st, id, ver, out);
	if (rc == CAIRN_EINVALID && id)
		rc = alias_of_deleted_version(st, name, alias, rc);
	store_rollback(st);
	return rc;
}

/* ---- model versions ---- */

static int upsert_version_tag(struct store *st, int64_t id, int64_t ver, const char *key, const char *value)
{
	struct store_stmt *q;
	int rc;

	if ((rc = check_tag(key, value)))
		return rc;
	if ((rc = store_prepare(st, "INSERT INTO model_version_tags(model, version, key, value) VALUES (?, ?, ?, ?) "
				    "ON CONFLICT(model, version, key) DO UPDATE SET value = excluded.value", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	store_bind_text(q, 3, key);
	store_bind_text(q, 4, value);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int reg__version_tag(struct store *st, int64_t id, int64_t ver, const char *key, const char *value)
{
	return upsert_version_tag(st, id, ver, key, value);
}

/* storage_location and run id of a logged model ("models:/m-..."). */
static int logged_model_location(struct store *st, const char *model_id, struct buf *loc, struct buf *run)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT artifact_location, source_run_id FROM logged_models WHERE model_id = ?",
				&q)))
		return rc;
	store_bind_text(q, 1, model_id);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		buf_puts(loc, store_col_text(q, 0));
		if (!store_col_is_null(q, 1))
			buf_puts(run, store_col_text(q, 1));
		rc = buf_error(loc) ? buf_error(loc) : buf_error(run);
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Logged model with ID '%.64s' not found.", model_id);
	}
	store_reset(q);
	return rc;
}

static int version_location(struct store *st, int64_t id, int64_t ver, struct buf *out)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT storage_location, source FROM model_versions WHERE model = ? AND "
				    "version = ?", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		const char *loc = store_col_text(q, 0);
		buf_puts(out, loc && *loc ? loc : store_col_text(q, 1));
		rc = buf_error(out);
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Model Version (version=%lld) not found", (long long)ver);
	}
	store_reset(q);
	return rc;
}

/* Resolve a models:/ URI inside an open transaction. */
static int resolve_models_uri(struct store *st, const char *uri, struct buf *out)
{
	const char *rest = uri + strlen("models:/");
	const char *sep = rest + strcspn(rest, "/@");
	struct buf name = BUF_INIT, run = BUF_INIT;
	int64_t id, ver = 0;
	int rc;

	if (!strncmp(rest, "m-", 2) && !*sep) {
		rc = logged_model_location(st, rest, out, &run);
		buf_release(&run);
		return rc;
	}
	if (!*sep || !sep[1] || sep == rest)
		return cairn_error_set(CAIRN_EINVALID, "Not a proper models:/ URI: '%.300s'. Models URIs must be of "
						      "the form 'models:/model_name/suffix' or "
						      "'models:/model_name@alias'.", uri);
	buf_put(&name, rest, (size_t)(sep - rest));
	if ((rc = buf_error(&name)) || (rc = reg__model_id(st, name.ptr, &id)))
		goto out;
	if (*sep == '@') {
		rc = reg__alias_version(st, id, sep + 1, &ver);
	} else if (!strcasecmp(sep + 1, "latest") || strspn(sep + 1, "0123456789") != strlen(sep + 1)) {
		/* latest, or a stage: the highest version (in that stage) */
		struct store_stmt *q;
		bool latest = !strcasecmp(sep + 1, "latest");
		const char *stage = NULL;

		if (!latest && (rc = parse_stage(sep + 1, &stage)))
			goto out;
		if ((rc = store_prepare(st, latest ? "SELECT max(version) FROM model_versions WHERE model = ?"
						   : "SELECT max(version) FROM model_versions WHERE model = ? AND "
						     "current_stage = ?", &q)))
			goto out;
		store_bind_int64(q, 1, id);
		if (!latest)
			store_bind_text(q, 2, stage);
		rc = store_step(q);
		if (rc == STORE_ROW && !store_col_is_null(q, 0)) {
			ver = store_col_int64(q, 0);
			rc = 0;
		} else if (rc >= 0) {
			rc = cairn_error_set(CAIRN_ENOTFOUND, "No versions of model with name '%.256s' and stage "
							      "'%.64s' found", name.ptr, sep + 1);
		}
		store_reset(q);
	} else {
		rc = reg__parse_version(sep + 1, &ver);
	}
	if (!rc)
		rc = version_location(st, id, ver, out);
out:
	buf_release(&name);
	return rc;
}

/* ---- model-version sources: MLflow's checks (server/handlers.py
 * _validate_source_run/_validate_source_model and
 * _validate_non_local_source_contains_relative_paths, utils/uri.py
 * is_local_uri), so a source never names the server's own files ---- */

static int bad_source(const char *source)
{
	return cairn_error_set(CAIRN_EINVALID, "Invalid model version source: '%.300s'. If supplying a source as an "
					      "http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an "
					      "absolute path must be provided without relative path references present. "
					      "Please provide an absolute path.", source);
}

/* True when some '/'- or '\'-separated component of s[0..n) is "..". */
static bool has_dotdot(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != '/' && s[j] != '\\')
			j++;
		if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
			return true;
		i = j + 1;
	}
	return false;
}

/* No scheme (a plain path) or file: (MLflow's is_local_uri). */
static bool source_is_local(const char *uri)
{
	size_t n = path_uri_scheme_len(uri);

	return n == 0 || (n == 5 && !strncasecmp(uri, "file:", 5));
}

/* The path part of the URI u (after scheme and authority, before ? or #). */
static struct slice uri_path(const char *u)
{
	const char *p = u + path_uri_scheme_len(u);

	if (p[0] == '/' && p[1] == '/')
		p += 2 + strcspn(p + 2, "/?#");
	return (struct slice){ p, strcspn(p, "?#") };
}

/* The normal form of the absolute local path a plain path or file: URI names
 * (decoded, without the leading '/'), or CAIRN_EINVALID. */
static int local_path(const char *uri, struct buf *out)
{
	struct buf dec = BUF_INIT;
	struct slice p = { uri, strlen(uri) };
	int rc;

	if (path_uri_scheme_len(uri)) {
		const char *h = uri + 5;
		if (h[0] == '/' && h[1] == '/') {
			size_t hn = strcspn(h + 2, "/?#");
			if (hn && strncasecmp(h + 2, "localhost", 9) && strncmp(h + 2, "127.0.0.1", 9) &&
			    !(hn == 1 && h[2] == '.'))
				return cairn_error_set(CAIRN_EINVALID, "'%.300s' is not a valid remote uri: a file: URI "
								      "names a file on this server", uri);
		}
		p = uri_path(uri);
	}
	if ((rc = path_unquote_all(p.p, p.n, &dec)))
		goto out;
	if (dec.ptr[0] != '/')
		rc = cairn_error_set(CAIRN_EINVALID, "'%.300s' is not an absolute path", uri);
	else
		rc = path_clean_rel(dec.ptr + 1, dec.len - 1, true, out);
out:
	buf_release(&dec);
	return rc;
}

/* Where the run (or logged model) keeps its artifacts. */
static int owner_location(struct store *st, const char *run_id, const char *model_id, struct buf *out)
{
	struct buf ignore = BUF_INIT;
	struct store_stmt *q;
	int rc;

	if (model_id) {
		rc = logged_model_location(st, model_id, out, &ignore);
		buf_release(&ignore);
		return rc;
	}
	if ((rc = store_prepare(st, "SELECT artifact_uri FROM runs WHERE run_uuid = ?", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	rc = store_step(q);
	if (rc == STORE_ROW)
		rc = buf_puts(out, store_col_text(q, 0)) ? buf_error(out) : 0;
	else if (rc == STORE_DONE)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Run with id=%.64s not found", run_id);
	store_reset(q);
	return rc;
}

/* A local source is accepted only inside the artifact folder of the run
 * (model_id: the logged model) it comes from, when that folder is local too;
 * this server proxies mlflow-artifacts: locations, so in practice a local
 * path or file: URI is refused. */
static int check_local_source(struct store *st, const char *source, const char *run_id, const char *model_id)
{
	struct buf loc = BUF_INIT, src = BUF_INIT, dir = BUF_INIT;
	int rc;

	if (!run_id && !model_id)
		goto refuse;
	if ((rc = owner_location(st, run_id, model_id, &loc)))
		goto out;
	if (!source_is_local(loc.ptr) || (rc = local_path(loc.ptr, &dir)) || (rc = local_path(source, &src)))
		goto refuse;
	if (!strncmp(src.ptr, dir.ptr, dir.len) && (!dir.len || !src.ptr[dir.len] || src.ptr[dir.len] == '/')) {
		rc = 0;
		goto out;
	}
refuse:
	/* with a run (model) MLflow names the source as the absolute path it resolved */
	buf_clear(&src);
	buf_clear(&dir);
	if ((run_id || model_id) && !local_path(source, &src)) {
		buf_printf(&dir, "/%s", src.ptr);
		if (!buf_error(&dir))
			source = dir.ptr;
	}
	rc = cairn_error_set(CAIRN_EINVALID, "Invalid model version source: '%.300s'. To use a local path as a model "
					    "version source, the %s request parameter has to be specified and the local "
					    "path has to be contained within the artifact directory of the %s specified "
					    "by the %s.", source, model_id ? "model_id" : "run_id",
			     model_id ? "logged model" : "run", model_id ? "model_id" : "run_id");
out:
	buf_release(&loc);
	buf_release(&src);
	buf_release(&dir);
	return rc;
}

/* Refuse a source that could reach outside the artifact store: after
 * percent-decoding (again and again, so %252e%252e is ".." too) no ".."
 * component, no NUL or control byte; a remote URI's path absolute and
 * normal (no "." either, as MLflow's resolve() comparison); a local path
 * only inside its run's local artifact folder. A prompt's source
 * ("prompt-template") names no files: MLflow checks nothing, cairn only
 * the decoded form. */
static int check_source(struct store *st, const char *source, const char *run_id, const char *model_id,
			bool prompt)
{
	struct buf dec = BUF_INIT;
	int rc;

	/* MLflow looks at a local source first: without its run, or outside the
	 * run's folder, it is refused as a local path whatever else it holds
	 * ("..%2fetc" too); one inside is still checked below */
	if (!prompt && source_is_local(source) && (rc = check_local_source(st, source, run_id, model_id)))
		goto out;
	if ((rc = path_unquote_all(source, strlen(source), &dec)))
		goto out;
	for (size_t i = 0; i < dec.len; i++)
		if ((unsigned char)dec.ptr[i] < 0x20 || dec.ptr[i] == 0x7f) {
			rc = bad_source(source);
			goto out;
		}
	if (has_dotdot(dec.ptr, dec.len)) {
		rc = bad_source(source);
		goto out;
	}
	if (prompt || source_is_local(source))
		goto out;
	{
		struct slice p = uri_path(dec.ptr);
		bool sep = true;

		while (p.n && p.p[p.n - 1] == '/')
			p.n--;
		if (!p.n || p.p[0] != '/') {
			rc = bad_source(source);
			goto out;
		}
		for (size_t i = 0; i < p.n; i++) {
			if (sep && p.p[i] == '.' && (i + 1 == p.n || p.p[i + 1] == '/')) {
				rc = bad_source(source);
				goto out;
			}
			sep = p.p[i] == '/';
		}
	}
out:
	buf_release(&dec);
	return rc;
}

int reg_version_create(struct store *st, const struct reg_version_new *v, json_t **out)
{
	struct store_stmt *q;
	struct buf loc = BUF_INIT, run = BUF_INIT;
	int64_t now = cairn_now_ms(), id, ver = 0;
	const char *run_id = v->run_id && *v->run_id ? v->run_id : NULL;
	bool is_prompt = false;
	size_t i;
	json_t *t;
	int rc;

	*out = NULL;
	if ((rc = check_name(v->name, "name")) || (rc = check_description(v->description)))
		return rc;
	if (!v->source || !*v->source)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'source'. See the API "
						      "docs for more information about request parameters.");
	json_array_foreach(v->tags, i, t) {
		const char *k = NULL, *val = "";
		if ((rc = cjson_get_str(t, "key", true, &k)) < 0 || (rc = cjson_get_str(t, "value", false, &val)) < 0 ||
		    (rc = check_tag(k, val)))
			return rc < 0 ? rc : cairn_error_set(CAIRN_EINVALID, "bad tag");
		/* MLflow does not check a prompt's source ("prompt-template") */
		is_prompt |= !strcmp(k, "mlflow.prompt.is_prompt");
	}
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = check_source(st, v->source, run_id, v->model_id && *v->model_id ? v->model_id : NULL, is_prompt)) ||
	    (rc = reg__model_id(st, v->name, &id)))
		goto out;
	if (!strncmp(v->source, "models:/", 8)) {
		if (!strncmp(v->source + 8, "m-", 2) && !strchr(v->source + 8, '/'))
			rc = logged_model_location(st, v->source + 8, &loc, &run);
		else
			rc = resolve_models_uri(st, v->source, &loc);
		if (rc) {
			char why[512];
			snprintf(why, sizeof(why), "%s", cairn_error_msg());
			rc = cairn_error_set(rc == CAIRN_ENOTFOUND ? CAIRN_EINVALID : rc,
					     "Unable to fetch model from model URI source artifact location '%.300s'. "
					     "Error: %s", v->source, why);
			goto out;
		}
		if (!run_id && run.len)
			run_id = run.ptr;
	} else if (v->model_id && *v->model_id && !run_id) {
		struct buf ignore = BUF_INIT;
		rc = logged_model_location(st, v->model_id, &ignore, &run);
		buf_release(&ignore);
		if (rc)
			goto out;
		if (run.len)
			run_id = run.ptr;
	}
	/* allocate the next number: the write lock makes this atomic */
	if ((rc = store_prepare(st, "UPDATE registered_models SET next_version = next_version + 1, "
				    "last_updated_time = ? WHERE id = ? RETURNING next_version - 1", &q)))
		goto out;
	store_bind_int64(q, 1, now);
	store_bind_int64(q, 2, id);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		ver = store_col_int64(q, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ERR, "version allocation returned nothing");
	}
	store_reset(q);
	if (rc)
		goto out;
	if ((rc = store_prepare(st, "INSERT INTO model_versions(model, version, creation_time, last_updated_time, "
				    "description, user_id, current_stage, source, storage_location, run_id, run_link, "
				    "model_id, status) VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, ?, 'READY')", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	store_bind_int64(q, 3, now);
	store_bind_int64(q, 4, now);
	store_bind_text(q, 5, v->description ? v->description : "");
	store_bind_text(q, 6, v->user ? v->user : "");
	store_bind_text(q, 7, v->source);
	store_bind_text(q, 8, loc.len ? loc.ptr : v->source);
	if (run_id)
		store_bind_text(q, 9, run_id);
	else
		store_bind_null(q, 9);
	if (v->run_link && *v->run_link)
		store_bind_text(q, 10, v->run_link);
	else
		store_bind_null(q, 10);
	if (v->model_id && *v->model_id)
		store_bind_text(q, 11, v->model_id);
	else if (!strncmp(v->source, "models:/m-", 10))
		store_bind_text(q, 11, v->source + 8);
	else
		store_bind_null(q, 11);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	json_array_foreach(v->tags, i, t) {
		const char *k = NULL, *val = "";
		cjson_get_str(t, "key", true, &k);
		cjson_get_str(t, "value", false, &val);
		if ((rc = upsert_version_tag(st, id, ver, k, val)))
			goto out;
	}
	/* MLflow records the version on the logged model named by model_id */
	if (!is_prompt && v->model_id && *v->model_id &&
	    (rc = trk__logged_model_add_version(st, v->model_id, v->name, ver)))
		goto out;
	if ((rc = reg__audit(st, v->user, "create_version", v->name, ver, NULL,
			     json_pack("{s:s,s:s?}", "source", v->source, "run_id", run_id))))
		goto out;
	rc = reg__load_version(st, id, ver, out);
out:
	buf_release(&loc);
	buf_release(&run);
	return trk__commit_or_free(st, rc, out);
}

int reg_version_get(struct store *st, const char *name, const char *version, json_t **out)
{
	int64_t id, ver;
	int rc;

	if ((rc = store_begin_read(st)))
		return rc;
	if (!(rc = reg__version_key(st, name, version, &id, &ver)))
		rc = reg__load_version(st, id, ver, out);
	store_rollback(st);
	return rc;
}

int reg_version_update(struct store *st, const char *name, const char *version, const char *description,
		       json_t **out)
{
	struct store_stmt *q;
	int64_t id, ver;
	int rc;

	*out = NULL;
	if ((rc = check_description(description)) || (rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__version_key(st, name, version, &id, &ver)))
		goto out;
	if (description) {
		if ((rc = store_prepare(st, "UPDATE model_versions SET description = ?, last_updated_time = ? "
					    "WHERE model = ? AND version = ?", &q)))
			goto out;
		store_bind_text(q, 1, description);
		store_bind_int64(q, 2, cairn_now_ms());
		store_bind_int64(q, 3, id);
		store_bind_int64(q, 4, ver);
		rc = store_step(q);
		store_reset(q);
		if (rc < 0)
			goto out;
	}
	rc = reg__load_version(st, id, ver, out);
out:
	return trk__commit_or_free(st, rc, out);
}

int reg_version_delete(struct store *st, const char *name, const char *version, const char *user)
{
	struct store_stmt *q;
	int64_t id, ver;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__version_key(st, name, version, &id, &ver)))
		goto out;
	/* its tags and the aliases pointing at it go by ON DELETE CASCADE */
	if ((rc = store_prepare(st, "DELETE FROM model_versions WHERE model = ? AND version = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0 || (rc = touch_model(st, id, cairn_now_ms())))
		goto out;
	rc = reg__audit(st, user, "delete_version", name, ver, NULL, NULL);
out:
	return trk__commit_or_rollback(st, rc);
}

int reg_version_search(struct store *st, const struct trk_page *pg, json_t **out, char **next)
{
	struct search_sql s;
	struct store_stmt *q;
	json_t *arr = json_array();
	int64_t limit, offset;
	int rc;

	*out = NULL;
	*next = NULL;
	search_sql_init(&s);
	if ((rc = page_bounds(pg, REG_VERSIONS_DEFAULT_PAGE, REG_VERSIONS_MAX_PAGE, &limit, &offset)) ||
	    (rc = search_compile_model_versions(pg->filter, pg->order_by, pg->n_order, &s)))
		goto out;
	if ((rc = store_begin_read(st)))
		goto out;
	if (!(rc = run_search(st, MV_COLS, "FROM model_versions v JOIN registered_models m ON m.id = v.model", &s,
			      limit, offset, &q)) &&
	    !(rc = collect_versions(st, q, arr)))
		page_next(arr, limit, offset, next);
	store_rollback(st);
out:
	search_sql_release(&s);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

int reg_version_download_uri(struct store *st, const char *name, const char *version, char **out)
{
	struct buf loc = BUF_INIT;
	int64_t id, ver;
	int rc;

	*out = NULL;
	if ((rc = store_begin_read(st)))
		return rc;
	if (!(rc = reg__version_key(st, name, version, &id, &ver)))
		rc = version_location(st, id, ver, &loc);
	store_rollback(st);
	if (!rc)
		*out = buf_detach(&loc);
	buf_release(&loc);
	return rc;
}

int reg_resolve_uri(struct store *st, const char *uri, char **out)
{
	struct buf loc = BUF_INIT;
	int rc;

	*out = NULL;
	if (!uri || strncmp(uri, "models:/", 8))
		return cairn_error_set(CAIRN_EINVALID, "Not a models:/ URI: '%.300s'", uri ? uri : "");
	if ((rc = store_begin_read(st)))
		return rc;
	rc = resolve_models_uri(st, uri, &loc);
	store_rollback(st);
	if (!rc)
		*out = buf_detach(&loc);
	buf_release(&loc);
	return rc;
}

int reg_version_transition(struct store *st, const char *name, const char *version, const char *stage,
			   bool archive_existing, const char *user, json_t **out)
{
	struct store_stmt *q;
	const char *canon;
	int64_t id, ver, now = cairn_now_ms();
	int rc;

	*out = NULL;
	if ((rc = parse_stage(stage, &canon)) || (rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__version_key(st, name, version, &id, &ver)))
		goto out;
	if (archive_existing && (!strcmp(canon, "Staging") || !strcmp(canon, "Production"))) {
		if ((rc = store_prepare(st, "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? "
					    "WHERE model = ? AND version != ? AND current_stage = ?", &q)))
			goto out;
		store_bind_int64(q, 1, now);
		store_bind_int64(q, 2, id);
		store_bind_int64(q, 3, ver);
		store_bind_text(q, 4, canon);
		rc = store_step(q);
		store_reset(q);
		if (rc < 0)
			goto out;
	}
	if ((rc = store_prepare(st, "UPDATE model_versions SET current_stage = ?, last_updated_time = ? "
				    "WHERE model = ? AND version = ?", &q)))
		goto out;
	store_bind_text(q, 1, canon);
	store_bind_int64(q, 2, now);
	store_bind_int64(q, 3, id);
	store_bind_int64(q, 4, ver);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0 || (rc = touch_model(st, id, now)))
		goto out;
	if ((rc = reg__audit(st, user, "transition_stage", name, ver, NULL,
			     json_pack("{s:s,s:b}", "stage", canon, "archive_existing_versions", archive_existing))))
		goto out;
	rc = reg__load_version(st, id, ver, out);
out:
	return trk__commit_or_free(st, rc, out);
}

int reg_version_set_tag(struct store *st, const char *name, const char *version, const char *key,
			const char *value)
{
	int64_t id, ver;
	int rc;

	if (!key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'key'.");
	if ((rc = check_tag(key, value ? value : "")) || (rc = store_begin_write(st)))
		return rc;
	if (!(rc = reg__version_key(st, name, version, &id, &ver)) &&
	    !(rc = upsert_version_tag(st, id, ver, key, value ? value : "")))
		rc = touch_version(st, id, ver, cairn_now_ms());
	return trk__commit_or_rollback(st, rc);
}

int reg_version_delete_tag(struct store *st, const char *name, const char *version, const char *key)
{
	struct store_stmt *q;
	int64_t id, ver;
	int rc;

	if (!key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'key'.");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = reg__version_key(st, name, version, &id, &ver)))
		goto out;
	if ((rc = store_prepare(st, "DELETE FROM model_version_tags WHERE model = ? AND version = ? AND key = ?", &q)))
		goto out;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	store_bind_text(q, 3, key);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	return trk__commit_or_rollback(st, rc);
}
