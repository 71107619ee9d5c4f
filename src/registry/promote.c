/* promote.c - promotion through gates (compare two versions' run metrics, move an alias) and the audit log. */
#include "registry/reg_int.h"
#include "core/fault.h"
#include "registry/gate.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct side {
	int64_t ver;        /* 0: no version (incumbent alias unset) */
	struct buf run_id;  /* the version's source run, "" if none */
};

struct lookup_ctx {
	struct store *st;
	struct side *cand, *inc;
};

static int run_metric(struct store *st, const char *run_id, const char *key, double *value)
{
	struct store_stmt *q;
	int rc;

	if (!*run_id)
		return GATE_MISSING;
	if ((rc = store_prepare(st, "SELECT value, is_nan FROM latest_metrics WHERE run_uuid = ? AND key = ?", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		*value = store_col_int64(q, 1) ? (double)NAN : store_col_double(q, 0);
		rc = GATE_FOUND;
	} else if (rc == STORE_DONE) {
		rc = GATE_MISSING;
	}
	store_reset(q);
	return rc;
}

static int lookup(void *vctx, bool incumbent, const char *metric, double *value)
{
	struct lookup_ctx *c = vctx;
	struct side *s = incumbent ? c->inc : c->cand;

	if (incumbent && !s->ver)
		return GATE_NO_INCUMBENT;
	return run_metric(c->st, s->run_id.ptr ? s->run_id.ptr : "", metric, value);
}

static int side_load(struct store *st, int64_t id, int64_t ver, struct side *s)
{
	struct store_stmt *q;
	int rc;

	s->ver = ver;
	if ((rc = store_prepare(st, "SELECT run_id FROM model_versions WHERE model = ? AND version = ?", &q)))
		return rc;
	store_bind_int64(q, 1, id);
	store_bind_int64(q, 2, ver);
	rc = store_step(q);
	if (rc == STORE_ROW) {
		buf_puts(&s->run_id, store_col_is_null(q, 0) ? "" : store_col_text(q, 0));
		rc = buf_error(&s->run_id);
	} else if (rc == STORE_DONE) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Model Version (version=%lld) not found", (long long)ver);
	}
	store_reset(q);
	return rc;
}

static json_t *side_json(const struct side *s)
{
	char v[32];

	if (!s->ver)
		return json_null();
	snprintf(v, sizeof(v), "%lld", (long long)s->ver);
	return json_pack("{s:s,s:s}", "version", v, "run_id", s->run_id.ptr ? s->run_id.ptr : "");
}

int reg_promote(struct store *st, const char *name, const char *from, const char *to,
		const char *const *require, size_t n_require, const char *user, json_t **out)
{
	struct side cand = { 0, BUF_INIT }, inc = { 0, BUF_INIT };
	struct lookup_ctx lc = { st, &cand, &inc };
	struct gate **gates = NULL;
	json_t *checks = json_array(), *res = NULL;
	bool all = true;
	int64_t id, ver;
	int rc;

	*out = NULL;
	if ((rc = reg__check_alias(to)))
		goto free;
	if (!from || !*from) {
		rc = cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'from'.");
		goto free;
	}
	gates = ccalloc(n_require ? n_require : 1, sizeof(*gates));
	if (!gates) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto free;
	}
	for (size_t i = 0; i < n_require; i++)
		if ((rc = gate_parse(require[i], to, &gates[i])))
			goto free;
	if ((rc = store_begin_write(st)))
		goto free;
	if ((rc = reg__model_id(st, name, &id)))
		goto out;
	/* from: a version number, else an alias */
	if (strspn(from, "0123456789") == strlen(from)) {
		if ((rc = reg__version_key(st, name, from, &id, &ver)))
			goto out;
	} else if ((rc = reg__alias_version(st, id, from, &ver))) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "Registered model alias %.255s not found for model %.256s",
				     from, name);
		goto out;
	}
	if ((rc = side_load(st, id, ver, &cand)))
		goto out;
	rc = reg__alias_version(st, id, to, &ver);
	if (rc == 0) {
		if ((rc = side_load(st, id, ver, &inc)))
			goto out;
	} else if (rc != CAIRN_EINVALID) {
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < n_require; i++) {
		json_t *report = NULL;
		bool holds = false;
		if ((rc = gate_eval(gates[i], lookup, &lc, &holds, &report)))
			goto out;
		json_array_extend(checks, report);
		json_decref(report);
		all = all && holds;
	}
	res = json_pack("{s:b,s:s,s:s,s:o,s:o,s:O}", "promoted", all, "name", name, "to", to, "candidate",
			side_json(&cand), "incumbent", side_json(&inc), "checks", checks);
	if (all) {
		char *tag = NULL;
		char key[300];
		json_t *rec = json_pack("{s:s,s:I,s:s,s:O,s:O}", "user", user ? user : "", "time",
					(json_int_t)cairn_now_ms(), "from", from, "previous", json_object_get(res, "incumbent"),
					"checks", checks);
		tag = json_dumps(rec, JSON_COMPACT);
		json_decref(rec);
		snprintf(key, sizeof(key), "cairn.promotion.%s", to);
		rc = tag ? reg__version_tag(st, id, cand.ver, key, tag) : cairn_error_set(CAIRN_ENOMEM, "out of memory");
		free(tag);
		if (rc || (rc = reg__alias_set(st, id, name, to, cand.ver, user, NULL)))
			goto out;
	}
	rc = reg__audit(st, user, all ? "promote" : "promote_rejected", name, cand.ver, to,
			json_pack("{s:s,s:O,s:O}", "from", from, "previous", json_object_get(res, "incumbent"),
				  "checks", checks));
out:
	rc = trk__commit_or_rollback(st, rc);
free:
	for (size_t i = 0; gates && i < n_require; i++)
		gate_free(gates[i]);
	free(gates);
	buf_release(&cand.run_id);
	buf_release(&inc.run_id);
	json_decref(checks);
	if (rc)
		json_decref(res);
	else
		*out = res;
	return rc;
}

int reg_audit_list(struct store *st, const char *name, int64_t limit, json_t **out)
{
	struct store_stmt *q;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	if (name && *name) {
		/* entries outlive the model; an unknown name is an error only when it has no history */
		rc = store_prepare(st, "SELECT time, user_id, action, model, version, alias, details FROM registry_audit "
				       "WHERE model = ? ORDER BY id DESC LIMIT ?", &q);
		if (!rc) {
			store_bind_text(q, 1, name);
			store_bind_int64(q, 2, limit > 0 ? limit : 1000);
		}
	} else {
		rc = store_prepare(st, "SELECT time, user_id, action, model, version, alias, details FROM registry_audit "
				       "ORDER BY id DESC LIMIT ?", &q);
		if (!rc)
			store_bind_int64(q, 1, limit > 0 ? limit : 1000);
	}
	if (rc)
		goto out;
	while ((rc = store_step(q)) == STORE_ROW) {
		json_t *e = json_object(), *d = json_loads(store_col_text(q, 6), 0, NULL);
		cjson_set(e, "time", json_integer(store_col_int64(q, 0)));
		cjson_set(e, "user", cjson_string(store_col_text(q, 1)));
		cjson_set(e, "action", cjson_string(store_col_text(q, 2)));
		cjson_set(e, "model", cjson_string(store_col_text(q, 3)));
		if (!store_col_is_null(q, 4))
			cjson_set(e, "version", json_integer(store_col_int64(q, 4)));
		if (!store_col_is_null(q, 5))
			cjson_set(e, "alias", cjson_string(store_col_text(q, 5)));
		cjson_set(e, "details", d ? d : json_object());
		json_array_append_new(arr, e);
	}
	store_reset(q);
	rc = rc < 0 ? rc : 0;
	if (!rc && name && *name && !json_array_size(arr)) {
		int64_t id;
		rc = reg__model_id(st, name, &id);
	}
out:
	store_rollback(st);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}
