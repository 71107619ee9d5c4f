/* monitors.c - monitors of served models in the store: definitions, lease, state, windows, events (monitors.h). */
#include "registry/monitors.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- checks ---- */

int mon_check_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > MON_MAX_NAME)
		return cairn_error_set(CAIRN_EINVALID, "a monitor name is 1 to %d characters", MON_MAX_NAME);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return cairn_error_set(CAIRN_EINVALID, "invalid monitor name '%.64s': use letters, digits, '_', '-' and '.'",
					       name);
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return cairn_error_set(CAIRN_EINVALID, "invalid monitor name '%s'", name);
	return 0;
}

enum kind { K_STR, K_ABS, K_SHARE, K_POS, K_COUNT, K_SECONDS };

static const struct {
	const char *key;
	enum kind kind;
} spec_fields[] = {
	{ "model", K_STR },          { "window_seconds", K_POS }, { "window_rows", K_COUNT },
	{ "log_dir", K_ABS },        { "served_name", K_STR },    { "reference", K_STR },
	{ "drift_share", K_SHARE },  { "null_share_threshold", K_SHARE }, { "resolve_after", K_COUNT },
	{ "webhook", K_STR },        { "retrain", K_STR },        { "experiment", K_STR },
	{ "labels", K_ABS },         { "label_horizon", K_SECONDS },
};

static int field_check(const char *key, enum kind kind, const json_t *v)
{
	double d;

	switch (kind) {
	case K_STR:
	case K_ABS:
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 4096 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be a non-empty string", key);
		if (kind == K_ABS && json_string_value(v)[0] != '/')
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be an absolute path, not '%.200s'", key,
					       json_string_value(v));
		return 0;
	case K_SHARE:
		d = json_number_value(v);
		if (!json_is_number(v) || !(d >= 0 && d <= 1) || (d == 0 && !strcmp(key, "drift_share")))
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be a share between 0 and 1", key);
		return 0;
	case K_POS:
		d = json_number_value(v);
		if (!json_is_number(v) || !(d >= 1e-6 && d <= 9e12))
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be a positive number of seconds", key);
		return 0;
	case K_SECONDS:   /* 0: off */
		d = json_number_value(v);
		if (!json_is_number(v) || !(d >= 0 && d <= 9e12))
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be a number of seconds (0: off)", key);
		return 0;
	case K_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000)
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: '%s' must be a whole number from 1", key);
		return 0;
	}
	return 0;
}

int mon_spec_check(const json_t *spec)
{
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(spec))
		return cairn_error_set(CAIRN_EINVALID, "a monitor spec is a JSON object");
	json_object_foreach((json_t *)spec, key, v) {
		size_t i;

		for (i = 0; i < sizeof(spec_fields) / sizeof(spec_fields[0]); i++)
			if (!strcmp(key, spec_fields[i].key))
				break;
		if (i == sizeof(spec_fields) / sizeof(spec_fields[0]))
			return cairn_error_set(CAIRN_EINVALID, "monitor spec: unknown field '%.100s'", key);
		if ((rc = field_check(key, spec_fields[i].kind, v)))
			return rc;
	}
	if (!json_object_get(spec, "model"))
		return cairn_error_set(CAIRN_EINVALID, "monitor spec: 'model' is required (the model URI watched)");
	if (!json_object_get(spec, "window_seconds") == !json_object_get(spec, "window_rows"))
		return cairn_error_set(CAIRN_EINVALID, "monitor spec: one of 'window_seconds' and 'window_rows' is required");
	return 0;
}

/* ---- reading ---- */

#define MON_COLS "name, spec, enabled, creation_time, last_update_time, created_by, state, windows, owner, lease_until"

static json_t *parse_text(const char *s)
{
	return *s ? json_loads(s, 0, NULL) : NULL;
}

/* the last window's summary of monitor m (into m) */
static int add_last_window(struct store *st, json_t *m)
{
	struct store_stmt *q;
	int rc = store_prepare(st, "SELECT idx, start_us, end_us, nrows, dataset_drift, share FROM monitor_windows "
				   "WHERE monitor = ? ORDER BY idx DESC LIMIT 1", &q);

	if (rc)
		return rc;
	store_bind_text(q, 1, json_string_value(json_object_get(m, "name")));
	if ((rc = store_step(q)) == STORE_ROW) {
		json_t *w = json_object();

		cjson_set(w, "index", json_integer(store_col_int64(q, 0)));
		cjson_set(w, "start_us", json_integer(store_col_int64(q, 1)));
		cjson_set(w, "end_us", json_integer(store_col_int64(q, 2)));
		cjson_set(w, "rows", json_integer(store_col_int64(q, 3)));
		cjson_set(w, "dataset_drift", json_boolean(store_col_int64(q, 4)));
		if (!store_col_is_null(q, 5))
			cjson_set(w, "share", cjson_double(store_col_double(q, 5)));
		cjson_set(m, "last_window", w);
	}
	store_reset(q);
	return rc < 0 ? rc : 0;
}

static json_t *row_monitor(struct store_stmt *q)
{
	json_t *m = json_object(), *state = parse_text(store_col_text(q, 6));
	int64_t until = store_col_int64(q, 9);
	bool held = *store_col_text(q, 8) && until > cairn_now_ms();

	cjson_set(m, "name", cjson_string(store_col_text(q, 0)));
	cjson_set(m, "spec", parse_text(store_col_text(q, 1)) ?: json_object());
	cjson_set(m, "enabled", json_boolean(store_col_int64(q, 2)));
	cjson_set(m, "creation_time", json_integer(store_col_int64(q, 3)));
	cjson_set(m, "last_update_time", json_integer(store_col_int64(q, 4)));
	cjson_set(m, "created_by", cjson_string(store_col_text(q, 5)));
	cjson_set(m, "windows", json_integer(store_col_int64(q, 7)));
	cjson_set(m, "firing", json_boolean(json_is_true(json_object_get(state, "firing"))));
	cjson_set(m, "state", state ? state : json_null());
	cjson_set(m, "owner", cjson_string(held ? store_col_text(q, 8) : ""));
	cjson_set(m, "lease_until", json_integer(held ? until : 0));
	return m;
}

static int load(struct store *st, const char *name, json_t **out)
{
	struct store_stmt *q;
	int rc;

	*out = NULL;
	if ((rc = store_prepare(st, "SELECT " MON_COLS " FROM monitors WHERE name = ?", &q)))
		return rc;
	store_bind_text(q, 1, name);
	rc = store_step(q);
	if (rc == STORE_ROW)
		*out = row_monitor(q);
	store_reset(q);
	if (rc == STORE_DONE)
		return cairn_error_set(CAIRN_ENOTFOUND, "No monitor named '%.64s'", name);
	if (rc < 0)
		return rc;
	if ((rc = add_last_window(st, *out))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int mon_get(struct store *st, const char *name, json_t **out)
{
	int rc;

	*out = NULL;
	if ((rc = store_begin_read(st)))
		return rc;
	rc = load(st, name, out);
	store_rollback(st);
	return rc;
}

int mon_list(struct store *st, json_t **out)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	if ((rc = store_prepare(st, "SELECT " MON_COLS " FROM monitors ORDER BY name", &q)))
		goto out;
	while ((rc = store_step(q)) == STORE_ROW)
		json_array_append_new(arr, row_monitor(q));
	store_reset(q);
	rc = rc < 0 ? rc : 0;
	for (size_t i = 0; !rc && i < json_array_size(arr); i++)
		rc = add_last_window(st, json_array_get(arr, i));
out:
	store_rollback(st);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

/* ---- writing ---- */

/* finish a write: commit (and read the monitor back into *out when out is not NULL), or roll back */
static int finish(struct store *st, const char *name, int rc, json_t **out)
{
	if (!rc && out)
		rc = load(st, name, out);
	if (!rc)
		return store_commit(st);
	store_rollback(st);
	if (out) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int dump(const json_t *v, size_t max, const char *what, char **out)
{
	*out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*out)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (strlen(*out) > max) {
		free(*out);
		*out = NULL;
		return cairn_error_set(CAIRN_ETOOBIG, "%s is larger than %zu bytes", what, max);
	}
	return 0;
}

int mon_create(struct store *st, const char *name, const json_t *spec, const char *user, json_t **out)
{
	struct store_stmt *q;
	int64_t now = cairn_now_ms();
	char *text = NULL;
	int rc;

	*out = NULL;
	if ((rc = mon_check_name(name)) || (rc = mon_spec_check(spec)) || (rc = dump(spec, MON_MAX_SPEC, "a monitor spec", &text)))
		return rc;
	if ((rc = store_begin_write(st))) {
		free(text);
		return rc;
	}
	if (!(rc = store_prepare(st, "INSERT INTO monitors (name, spec, creation_time, last_update_time, created_by) "
				     "VALUES (?, ?, ?, ?, ?)", &q))) {
		store_bind_text(q, 1, name);
		store_bind_text(q, 2, text);
		store_bind_int64(q, 3, now);
		store_bind_int64(q, 4, now);
		store_bind_text(q, 5, user ? user : "");
		rc = store_step(q);
		store_reset(q);
		if (rc == CAIRN_EEXISTS)
			rc = cairn_error_set(CAIRN_EEXISTS, "Monitor (name=%s) already exists.", name);
		rc = rc < 0 ? rc : 0;
	}
	free(text);
	return finish(st, name, rc, out);
}

int mon_update(struct store *st, const char *name, const json_t *spec, int enabled, json_t **out)
{
	struct store_stmt *q;
	json_t *cur = NULL, *merged = NULL;
	char *text = NULL;
	int rc;

	*out = NULL;
	if (spec && !json_is_object(spec))
		return cairn_error_set(CAIRN_EINVALID, "a monitor spec is a JSON object");
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = load(st, name, &cur)))
		goto out;
	merged = json_deep_copy(json_object_get(cur, "spec"));
	if (!merged) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if (spec) {
		const char *key;
		json_t *v;

		json_object_foreach((json_t *)spec, key, v) {
			if (json_is_null(v))
				json_object_del(merged, key);
			else
				json_object_set(merged, key, v);
		}
	}
	if ((rc = mon_spec_check(merged)) || (rc = dump(merged, MON_MAX_SPEC, "a monitor spec", &text)))
		goto out;
	if ((rc = store_prepare(st, "UPDATE monitors SET spec = ?, enabled = CASE WHEN ? < 0 THEN enabled ELSE ? END, "
				    "last_update_time = ? WHERE name = ?", &q)))
		goto out;
	store_bind_text(q, 1, text);
	store_bind_int64(q, 2, enabled);
	store_bind_int64(q, 3, enabled > 0);
	store_bind_int64(q, 4, cairn_now_ms());
	store_bind_text(q, 5, name);
	rc = store_step(q);
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	free(text);
	json_decref(merged);
	json_decref(cur);
	return finish(st, name, rc, out);
}

int mon_delete(struct store *st, const char *name)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if (!(rc = store_prepare(st, "DELETE FROM monitors WHERE name = ?", &q))) {
		store_bind_text(q, 1, name);
		rc = store_step(q);
		store_reset(q);
		if (rc >= 0 && store_changes(st) == 0)
			rc = cairn_error_set(CAIRN_ENOTFOUND, "No monitor named '%.64s'", name);
		rc = rc < 0 ? rc : 0;
	}
	return finish(st, name, rc, NULL);
}

/* ---- the lease ---- */

/* whether owner holds (or, with take, may take) the lease of name; ECONFLICT/ENOTFOUND otherwise */
static int lease_check(struct store *st, const char *name, const char *owner, bool take, int64_t *windows)
{
	struct store_stmt *q;
	int64_t now = cairn_now_ms();
	int rc;

	if (!owner || !*owner || strlen(owner) > 200)
		return cairn_error_set(CAIRN_EINVALID, "a monitor runner names itself (owner: 1 to 200 characters)");
	if ((rc = store_prepare(st, "SELECT enabled, owner, lease_until, windows FROM monitors WHERE name = ?", &q)))
		return rc;
	store_bind_text(q, 1, name);
	rc = store_step(q);
	if (rc == STORE_DONE)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "No monitor named '%.64s'", name);
	else if (rc == STORE_ROW) {
		const char *held = store_col_text(q, 1);
		int64_t until = store_col_int64(q, 2);

		rc = 0;
		if (windows)
			*windows = store_col_int64(q, 3);
		if (!store_col_int64(q, 0))
			rc = cairn_error_set(CAIRN_ECONFLICT, "monitor '%.64s' is disabled", name);
		else if (strcmp(held, owner) && (*held && until > now))
			rc = cairn_error_set(CAIRN_ECONFLICT, "monitor '%.64s' is run by %.200s (lease until %lld)", name, held,
					     (long long)until);
		else if (strcmp(held, owner) && !take)
			rc = cairn_error_set(CAIRN_ECONFLICT, "monitor '%.64s': %.200s does not hold its lease", name, owner);
	}
	store_reset(q);
	return rc;
}

static int lease_set(struct store *st, const char *name, const char *owner, int64_t until)
{
	struct store_stmt *q;
	int rc = store_prepare(st, "UPDATE monitors SET owner = ?, lease_until = ? WHERE name = ?", &q);

	if (rc)
		return rc;
	store_bind_text(q, 1, owner);
	store_bind_int64(q, 2, until);
	store_bind_text(q, 3, name);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

static int check_lease_ms(int64_t lease_ms)
{
	if (lease_ms < 1000 || lease_ms > 86400000)
		return cairn_error_set(CAIRN_EINVALID, "a monitor lease lasts 1 s to 1 day (lease_ms %lld)", (long long)lease_ms);
	return 0;
}

int mon_claim(struct store *st, const char *name, const char *owner, int64_t lease_ms, bool *claimed, json_t **out)
{
	int rc;

	*out = NULL;
	*claimed = false;
	if ((rc = check_lease_ms(lease_ms)) || (rc = store_begin_write(st)))
		return rc;
	rc = lease_check(st, name, owner, true, NULL);
	if (rc == CAIRN_ECONFLICT) {   /* someone else's, or disabled: say so in the answer */
		cairn_error_clear();
		rc = 0;
	} else if (!rc) {
		*claimed = true;
		rc = lease_set(st, name, owner, cairn_now_ms() + lease_ms);
	}
	return finish(st, name, rc, out);
}

int mon_release(struct store *st, const char *name, const char *owner)
{
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	rc = lease_check(st, name, owner, false, NULL);
	if (rc == CAIRN_ECONFLICT) {   /* not ours (any more): nothing to give up */
		cairn_error_clear();
		rc = 0;
	} else if (!rc) {
		rc = lease_set(st, name, "", 0);
	}
	return finish(st, name, rc, NULL);
}

static int add_event(struct store *st, const char *name, int64_t idx, const json_t *event)
{
	struct store_stmt *q;
	const char *kind = json_string_value(json_object_get(event, "event"));
	const char *incident = json_string_value(json_object_get(event, "incident"));
	char *detail = NULL;
	int rc;

	if (!json_is_object(event) || !kind || !*kind || strlen(kind) > 64)
		return cairn_error_set(CAIRN_EINVALID, "a monitor event is an object with a string 'event'");
	if ((rc = dump(event, 1 << 20, "a monitor event", &detail)))
		return rc;
	if (!(rc = store_prepare(st, "INSERT INTO monitor_events (monitor, time, window_idx, event, incident, detail) "
				     "VALUES (?, ?, ?, ?, ?, ?)", &q))) {
		store_bind_text(q, 1, name);
		store_bind_int64(q, 2, cairn_now_ms());
		if (idx >= 0)
			store_bind_int64(q, 3, idx);
		else
			store_bind_null(q, 3);
		store_bind_text(q, 4, kind);
		store_bind_text(q, 5, incident ? incident : "");
		store_bind_text(q, 6, detail);
		rc = store_step(q);
		store_reset(q);
		rc = rc < 0 ? rc : 0;
	}
	free(detail);
	return rc;
}

static int record_window(struct store *st, const char *name, int64_t idx, const json_t *w)
{
	struct store_stmt *q;
	json_t *share = json_object_get(w, "share");
	char *text = NULL;
	int rc;

	if (!json_is_object(w) || !json_is_integer(json_object_get(w, "start_us")) ||
	    !json_is_integer(json_object_get(w, "end_us")) || !json_is_integer(json_object_get(w, "rows")) ||
	    json_integer_value(json_object_get(w, "rows")) < 0)
		return cairn_error_set(CAIRN_EINVALID, "a monitor window has integer 'start_us', 'end_us' and 'rows'");
	if (share && !json_is_number(share))
		return cairn_error_set(CAIRN_EINVALID, "a monitor window's 'share' is a number");
	if ((rc = dump(w, MON_MAX_RESULT, "a monitor window", &text)))
		return rc;
	if (!(rc = store_prepare(st, "INSERT INTO monitor_windows (monitor, idx, start_us, end_us, nrows, dataset_drift, "
				     "share, result, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &q))) {
		store_bind_text(q, 1, name);
		store_bind_int64(q, 2, idx);
		store_bind_int64(q, 3, json_integer_value(json_object_get(w, "start_us")));
		store_bind_int64(q, 4, json_integer_value(json_object_get(w, "end_us")));
		store_bind_int64(q, 5, json_integer_value(json_object_get(w, "rows")));
		store_bind_int64(q, 6, json_is_true(json_object_get(w, "dataset_drift")));
		if (share && isfinite(json_number_value(share)))
			store_bind_double(q, 7, json_number_value(share));
		else
			store_bind_null(q, 7);
		store_bind_text(q, 8, text);
		store_bind_int64(q, 9, cairn_now_ms());
		rc = store_step(q);
		store_reset(q);
		rc = rc < 0 ? rc : 0;
	}
	free(text);
	return rc;
}

/* the monitor's state after a runner's step, and a longer lease */
static int save_state(struct store *st, const char *name, const char *text, int64_t lease_ms, bool count_window)
{
	struct store_stmt *q;
	int rc = store_prepare(st, count_window ? "UPDATE monitors SET state = ?, windows = windows + 1, lease_until = ? WHERE name = ?"
						: "UPDATE monitors SET state = ?, lease_until = ? WHERE name = ?",
			       &q);

	if (rc)
		return rc;
	store_bind_text(q, 1, text);
	store_bind_int64(q, 2, cairn_now_ms() + lease_ms);
	store_bind_text(q, 3, name);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int mon_record(struct store *st, const char *name, const char *owner, int64_t lease_ms, int64_t idx,
	       const json_t *window, const json_t *state, const json_t *event)
{
	int64_t windows = 0;
	char *text = NULL;
	int rc;

	if ((rc = check_lease_ms(lease_ms)))
		return rc;
	if (!json_is_object(state))
		return cairn_error_set(CAIRN_EINVALID, "a monitor record carries the runner's state (an object)");
	if ((rc = dump(state, MON_MAX_STATE, "a monitor state", &text)))
		return rc;
	if ((rc = store_begin_write(st))) {
		free(text);
		return rc;
	}
	if ((rc = lease_check(st, name, owner, false, &windows)))
		goto out;
	if (idx != windows) {
		rc = cairn_error_set(CAIRN_ECONFLICT, "monitor '%.64s' has %lld windows: window %lld is not the next one", name,
				     (long long)windows, (long long)idx);
		goto out;
	}
	if ((rc = record_window(st, name, idx, window)) || (event && (rc = add_event(st, name, idx, event))))
		goto out;
	rc = save_state(st, name, text, lease_ms, true);
out:
	free(text);
	return finish(st, name, rc, NULL);
}

int mon_revise(struct store *st, const char *name, const char *owner, int64_t lease_ms, int64_t idx, int64_t revision,
	       const json_t *performance, const json_t *state)
{
	struct store_stmt *q;
	char *text = NULL, *result = NULL;
	json_t *res = NULL;
	int64_t stored = 0;
	int rc;

	if ((rc = check_lease_ms(lease_ms)))
		return rc;
	if (!json_is_object(state))
		return cairn_error_set(CAIRN_EINVALID, "a monitor revision carries the runner's state (an object)");
	if (performance && !json_is_null(performance) && !json_is_object(performance))
		return cairn_error_set(CAIRN_EINVALID, "a window's performance is an object");
	if (revision < 1)
		return cairn_error_set(CAIRN_EINVALID, "a revision is numbered from 1");
	if ((rc = dump(state, MON_MAX_STATE, "a monitor state", &text)))
		return rc;
	if ((rc = store_begin_write(st))) {
		free(text);
		return rc;
	}
	if ((rc = lease_check(st, name, owner, false, NULL)) ||
	    (rc = store_prepare(st, "SELECT result, revision FROM monitor_windows WHERE monitor = ? AND idx = ?", &q)))
		goto out;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, idx);
	if ((rc = store_step(q)) == STORE_ROW) {
		res = parse_text(store_col_text(q, 0));
		stored = store_col_int64(q, 1);
		rc = 0;
	} else if (rc >= 0) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "monitor '%.64s' has no window %lld", name, (long long)idx);
	}
	store_reset(q);
	if (rc)
		goto out;
	if (revision <= stored) {
		rc = cairn_error_set(CAIRN_ECONFLICT, "window %lld of monitor '%.64s' is at revision %lld already", (long long)idx,
				     name, (long long)stored);
		goto out;
	}
	if (!res)
		res = json_object();
	if (!res || (performance && !json_is_null(performance) ? json_object_set(res, "performance", (json_t *)performance)
							       : (json_object_del(res, "performance"), 0))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = dump(res, MON_MAX_RESULT, "a monitor window", &result)) ||
	    (rc = store_prepare(st, "UPDATE monitor_windows SET result = ?, revision = ? WHERE monitor = ? AND idx = ?", &q)))
		goto out;
	store_bind_text(q, 1, result);
	store_bind_int64(q, 2, revision);
	store_bind_text(q, 3, name);
	store_bind_int64(q, 4, idx);
	rc = store_step(q);
	store_reset(q);
	if (rc >= 0)
		rc = save_state(st, name, text, lease_ms, false);
out:
	json_decref(res);
	free(result);
	free(text);
	return finish(st, name, rc, NULL);
}

int mon_note(struct store *st, const char *name, const char *owner, const json_t *event)
{
	int rc;

	if ((rc = store_begin_write(st)))
		return rc;
	if (!(rc = lease_check(st, name, owner, false, NULL)))
		rc = add_event(st, name, -1, event);
	return finish(st, name, rc, NULL);
}

/* ---- history ---- */

static int exists(struct store *st, const char *name)
{
	json_t *m = NULL;
	int rc = load(st, name, &m);

	json_decref(m);
	return rc;
}

int mon_windows(struct store *st, const char *name, int64_t before, int64_t limit, bool full, json_t **out)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (limit <= 0)
		limit = MON_DEFAULT_PAGE;
	if (limit > MON_MAX_PAGE)
		limit = MON_MAX_PAGE;
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	if ((rc = exists(st, name)) ||
	    (rc = store_prepare(st, "SELECT idx, start_us, end_us, nrows, dataset_drift, share, recorded, revision, result "
				    "FROM monitor_windows WHERE monitor = ? AND idx < ? ORDER BY idx DESC LIMIT ?", &q)))
		goto out;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, before < 0 ? INT64_MAX : before);
	store_bind_int64(q, 3, limit);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *w = json_object(), *res = parse_text(store_col_text(q, 8));

		cjson_set(w, "index", json_integer(store_col_int64(q, 0)));
		cjson_set(w, "start_us", json_integer(store_col_int64(q, 1)));
		cjson_set(w, "end_us", json_integer(store_col_int64(q, 2)));
		cjson_set(w, "rows", json_integer(store_col_int64(q, 3)));
		cjson_set(w, "dataset_drift", json_boolean(store_col_int64(q, 4)));
		if (!store_col_is_null(q, 5))
			cjson_set(w, "share", cjson_double(store_col_double(q, 5)));
		cjson_set(w, "recorded", json_integer(store_col_int64(q, 6)));
		cjson_set(w, "revision", json_integer(store_col_int64(q, 7)));
		if (json_object_get(res, "drifted_columns"))
			cjson_set(w, "drifted_columns", json_incref(json_object_get(res, "drifted_columns")));
		if (json_object_get(res, "performance"))
			cjson_set(w, "performance", json_incref(json_object_get(res, "performance")));
		if (full && res)
			cjson_set(w, "result", json_incref(res));
		json_decref(res);
		json_array_append_new(arr, w);
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	store_rollback(st);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

int mon_events(struct store *st, const char *name, int64_t limit, json_t **out)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (limit <= 0 || limit > MON_MAX_PAGE)
		limit = limit <= 0 ? MON_DEFAULT_PAGE : MON_MAX_PAGE;
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	if ((rc = exists(st, name)) ||
	    (rc = store_prepare(st, "SELECT time, window_idx, event, incident, detail FROM monitor_events WHERE monitor = ? "
				    "ORDER BY id DESC LIMIT ?", &q)))
		goto out;
	store_bind_text(q, 1, name);
	store_bind_int64(q, 2, limit);
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *e = json_object(), *d = parse_text(store_col_text(q, 4));

		cjson_set(e, "time", json_integer(store_col_int64(q, 0)));
		if (!store_col_is_null(q, 1))
			cjson_set(e, "window", json_integer(store_col_int64(q, 1)));
		cjson_set(e, "event", cjson_string(store_col_text(q, 2)));
		cjson_set(e, "incident", cjson_string(store_col_text(q, 3)));
		cjson_set(e, "detail", d ? d : json_object());
		json_array_append_new(arr, e);
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
out:
	store_rollback(st);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}
