/* common.c - validation, page tokens and small helpers of the tracking subsystem. */
#include "tracking/trk_int.h"
#include "core/fault.h"
#include "tracking/search.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int trk_parse_view(const char *s, enum trk_view *out)
{
	if (!s || !*s || !strcmp(s, "ACTIVE_ONLY") || !strcmp(s, "1"))
		*out = TRK_ACTIVE_ONLY;
	else if (!strcmp(s, "DELETED_ONLY") || !strcmp(s, "2"))
		*out = TRK_DELETED_ONLY;
	else if (!strcmp(s, "ALL") || !strcmp(s, "3"))
		*out = TRK_ALL;
	else
		return cairn_error_set(CAIRN_EINVALID,
				       "Invalid view type '%.40s': expected ACTIVE_ONLY, DELETED_ONLY or ALL", s);
	return 0;
}

static bool key_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '/' || c == '.' || c == '-' || c == ' ' || c == ':' || c >= 0x80;
}

int trk_validate_key(const char *kind, const char *key)
{
	size_t n = strlen(key);

	if (n == 0)
		return cairn_error_set(CAIRN_EINVALID, "Invalid %s name: ''. Names may not be empty", kind);
	if (n > TRK_MAX_KEY_LEN)
		return cairn_error_set(CAIRN_EINVALID,
				       "%s name '%.40s...' had length %zu, which exceeded length limit of %d",
				       kind, key, n, TRK_MAX_KEY_LEN);
	for (size_t i = 0; i < n; i++)
		if (!key_char_ok((unsigned char)key[i]))
			return cairn_error_set(CAIRN_EINVALID,
					       "Invalid %s name: '%.250s'. Names may only contain alphanumerics, "
					       "underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
					       "slashes (/).", kind, key);
	/* must equal its normalised form: no "//", "/./", "..", leading '/', trailing '/' */
	if (key[0] == '/' || !strcmp(key, ".") || !strncmp(key, "..", 2) || strstr(key, "//") ||
	    strstr(key, "/./") || strstr(key, "/../") || (n >= 2 && !strcmp(key + n - 2, "/.")) ||
	    (n >= 3 && !strcmp(key + n - 3, "/..")) || key[n - 1] == '/' || !strncmp(key, "./", 2))
		return cairn_error_set(CAIRN_EINVALID,
				       "Invalid %s name: '%.250s'. Names may be treated as files in certain cases, "
				       "and must not resolve to other names when treated as such. This name would "
				       "resolve to a different path", kind, key);
	return 0;
}

int trk__validate_run_id(const char *run_id)
{
	size_t n = strlen(run_id);

	if (n == 0 || n > 256)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)run_id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			goto bad;
	}
	return 0;
bad:
	return cairn_error_set(CAIRN_EINVALID, "Invalid run ID: '%.80s'", run_id);
}

int trk__parse_exp_id(const char *id, int64_t *out)
{
	if (!id || cjson_parse_int64(id, out) || *out < 0)
		return cairn_error_set(CAIRN_ENOTFOUND, "No Experiment with id=%.80s exists", id ? id : "");
	return 0;
}

void trk__truncate_utf8(const char *s, size_t max_chars, struct buf *out)
{
	size_t chars = 0, i = 0;

	while (s[i] && chars < max_chars) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		for (size_t k = 1; k < len; k++)
			if (!s[i + k]) {
				len = k;
				break;
			}
		i += len;
		chars++;
	}
	buf_put(out, s, i);
}

size_t trk__utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int trk__exec1(struct store *st, const char *sql, const char *const *texts, size_t n)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, sql, &q)))
		return rc;
	for (size_t i = 0; i < n; i++)
		store_bind_text(q, (int)i + 1, texts[i]);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int trk__kv_rows(struct store_stmt *q, json_t *arr)
{
	int rc;

	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *o = json_object();
		cjson_set(o, "key", cjson_string(store_col_text(q, 0)));
		cjson_set(o, "value", cjson_string(store_col_text(q, 1)));
		json_array_append_new(arr, o);
	}
	store_reset(q);
	return rc < 0 ? rc : 0;
}

int trk__commit_or_rollback(struct store *st, int rc)
{
	if (rc) {
		store_rollback(st);
		return rc;
	}
	rc = store_commit(st);
	if (rc)
		store_rollback(st);
	return rc;
}

int trk__commit_or_free(struct store *st, int rc, json_t **out)
{
	rc = trk__commit_or_rollback(st, rc);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int trk__run_lifecycle(struct store *st, const char *run_id, struct buf *stage, int64_t *exp_id)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		if (stage)
			buf_puts(stage, store_col_text(q, 0));
		if (exp_id)
			*exp_id = store_col_int64(q, 1);
		rc = stage ? buf_error(stage) : 0;
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Run with id=%.80s not found", run_id);
	}
	store_reset(q);
	return rc;
}

json_t *trk__run_info_row(struct store_stmt *q)
{
	json_t *o = json_object();
	char exp[32];

	snprintf(exp, sizeof(exp), "%lld", (long long)store_col_int64(q, 2));
	cjson_set(o, "run_id", cjson_string(store_col_text(q, 0)));
	cjson_set(o, "run_uuid", cjson_string(store_col_text(q, 0)));
	cjson_set(o, "run_name", cjson_string(store_col_text(q, 1)));
	cjson_set(o, "experiment_id", json_string(exp));
	cjson_set(o, "user_id", cjson_string(store_col_text(q, 3)));
	cjson_set(o, "status", cjson_string(store_col_text(q, 4)));
	if (!store_col_is_null(q, 5))
		cjson_set(o, "start_time", json_integer(store_col_int64(q, 5)));
	if (!store_col_is_null(q, 6))
		cjson_set(o, "end_time", json_integer(store_col_int64(q, 6)));
	cjson_set(o, "artifact_uri", cjson_string(store_col_text(q, 8)));
	cjson_set(o, "lifecycle_stage", cjson_string(store_col_text(q, 7)));
	return o;
}

char *trk_page_token_encode(int64_t offset)
{
	char json[64];
	unsigned char out[128];
	int n = snprintf(json, sizeof(json), "{\"offset\": %lld}", (long long)offset);

	EVP_EncodeBlock(out, (const unsigned char *)json, n);
	return cstrdup((const char *)out);
}

int trk_page_token_decode(const char *token, int64_t *offset)
{
	unsigned char out[256];
	size_t n = strlen(token);
	json_t *o = NULL;
	int len, rc = 0;

	*offset = 0;
	if (!n)
		return 0;
	if (n > 160 || n % 4)
		goto bad;
	len = EVP_DecodeBlock(out, (const unsigned char *)token, (int)n);
	if (len < 0)
		goto bad;
	while (len > 0 && out[len - 1] == '\0')
		len--;
	if (cjson_parse_object((const char *)out, (size_t)len, &o) ||
	    cjson_get_int64(o, "offset", true, offset) != 1 || *offset < 0) {
		json_decref(o);
		goto bad;
	}
	json_decref(o);
	return rc;
bad:
	return cairn_error_set(CAIRN_EINVALID, "Invalid page token, could not base64-decode");
}

const char *trk_run_artifact_uri(json_t *run)
{
	json_t *info = json_object_get(run, "info");
	const char *s = json_string_value(json_object_get(info, "artifact_uri"));

	return s ? s : "";
}

void trk__bind_search(struct store_stmt *q, const struct search_sql *s, int *idx)
{
	trk__bind_search_n(q, s, s->nbinds, idx);
}

void trk__bind_search_n(struct store_stmt *q, const struct search_sql *s, size_t n, int *idx)
{
	trk__bind_search_range(q, s, 0, n, idx);
}

void trk__bind_search_range(struct store_stmt *q, const struct search_sql *s, size_t from, size_t to, int *idx)
{
	for (size_t i = from; i < to && i < s->nbinds; i++) {
		const struct search_bind *b = &s->binds[i];
		if (b->type == SEARCH_BIND_TEXT)
			store_bind_text(q, (*idx)++, b->text);
		else if (b->type == SEARCH_BIND_DOUBLE)
			store_bind_double(q, (*idx)++, b->d);
		else
			store_bind_int64(q, (*idx)++, b->i);
	}
}

int trk__sql_exp_in(struct buf *sql, const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t x;
		if (cjson_parse_int64(ids[i], &x))
			return cairn_error_set(CAIRN_EINVALID, "Invalid experiment id '%.80s'", ids[i]);
	}
	buf_putc(sql, '(');
	for (size_t i = 0; i < n; i++)
		buf_puts(sql, i ? ", ?" : "?");
	buf_puts(sql, n ? ")" : "NULL)");
	return buf_error(sql);
}

void trk__bind_exp_in(struct store_stmt *q, const char *const *ids, size_t n, int *idx)
{
	for (size_t i = 0; i < n; i++) {
		int64_t x = 0;
		cjson_parse_int64(ids[i], &x);
		store_bind_int64(q, (*idx)++, x);
	}
}
