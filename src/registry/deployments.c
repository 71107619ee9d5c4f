/* deployments.c - the store's record of running model servers (deployments.h). */
#include "registry/deployments.h"
#include "core/error.h"
#include "core/json.h"
#include "core/utf8.h"
#include "core/util.h"

#include <stdlib.h>
#include <string.h>

static int check_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > DEP_MAX_NAME)
		return cairn_error_set(CAIRN_EINVALID, "a deployment name is 1 to %d characters", DEP_MAX_NAME);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return cairn_error_set(CAIRN_EINVALID, "a deployment name has no control characters");
	if (!utf8_valid(name, n))
		return cairn_error_set(CAIRN_EINVALID, "a deployment name is UTF-8");
	return 0;
}

int dep_report(struct store *st, const char *name, const json_t *info, const char *metrics)
{
	struct store_stmt *q;
	char *text = NULL;
	size_t mlen = metrics ? strlen(metrics) : 0;
	int64_t now = cairn_now_ms();
	int rc;

	if ((rc = check_name(name)))
		return rc;
	if (!json_is_object(info))
		return cairn_error_set(CAIRN_EINVALID, "a deployment report's 'info' is a JSON object");
	if (!metrics)
		return cairn_error_set(CAIRN_EINVALID, "a deployment report carries 'metrics' (the Prometheus exposition text)");
	if (mlen > DEP_MAX_METRICS)
		return cairn_error_set(CAIRN_EINVALID, "a deployment report's metrics are at most %d bytes (got %zu)",
				       DEP_MAX_METRICS, mlen);
	if (!utf8_valid(metrics, mlen))
		return cairn_error_set(CAIRN_EINVALID, "a deployment report's metrics are UTF-8 text");
	if (!(text = json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (strlen(text) > DEP_MAX_INFO) {
		free(text);
		return cairn_error_set(CAIRN_EINVALID, "a deployment report's info is at most %d bytes", DEP_MAX_INFO);
	}
	if ((rc = store_begin_write(st))) {
		free(text);
		return rc;
	}
	if (!(rc = store_prepare(st, "INSERT INTO deployments (name, info, metrics, reported, first_reported) "
				     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
				     "prev_metrics = deployments.metrics, prev_reported = deployments.reported, "
				     "info = excluded.info, metrics = excluded.metrics, reported = excluded.reported",
				 &q))) {
		store_bind_text(q, 1, name);
		store_bind_text(q, 2, text);
		store_bind_text(q, 3, metrics);
		store_bind_int64(q, 4, now);
		store_bind_int64(q, 5, now);
		rc = store_step(q);
		store_reset(q);
		rc = rc < 0 ? rc : 0;
	}
	free(text);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int dep_list(struct store *st, bool with_metrics, json_t **out)
{
	struct store_stmt *q = NULL;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (!arr)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	rc = store_prepare(st, "SELECT name, info, metrics, reported, prev_metrics, prev_reported, first_reported "
			       "FROM deployments ORDER BY reported DESC, name", &q);
	while (!rc && (rc = store_step(q)) == STORE_ROW) {
		json_t *d = json_object(), *info = json_loads(store_col_text(q, 1), 0, NULL);

		cjson_set(d, "name", cjson_string(store_col_text(q, 0)));
		cjson_set(d, "info", info ? info : json_object());
		cjson_set(d, "reported", json_integer(store_col_int64(q, 3)));
		cjson_set(d, "first_reported", json_integer(store_col_int64(q, 6)));
		if (with_metrics) {
			cjson_set(d, "metrics", cjson_string(store_col_text(q, 2)));
			if (!store_col_is_null(q, 4)) {
				cjson_set(d, "prev_metrics", cjson_string(store_col_text(q, 4)));
				cjson_set(d, "prev_reported", json_integer(store_col_int64(q, 5)));
			}
		}
		if (!d || json_array_append_new(arr, d)) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		rc = 0;
	}
	if (q)
		store_reset(q);
	store_rollback(st);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int dep_delete(struct store *st, const char *name)
{
	struct store_stmt *q;
	int rc;

	if ((rc = check_name(name)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if (!(rc = store_prepare(st, "DELETE FROM deployments WHERE name = ?", &q))) {
		store_bind_text(q, 1, name);
		rc = store_step(q);
		store_reset(q);
		if (rc >= 0 && store_changes(st) == 0)
			rc = cairn_error_set(CAIRN_ENOTFOUND, "No deployment named '%.64s'", name);
		rc = rc < 0 ? rc : 0;
	}
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}
