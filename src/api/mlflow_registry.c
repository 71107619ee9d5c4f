/* mlflow_registry.c - MLflow model registry REST handlers (model_registry.proto) and cairn's promotion/audit routes. */
#include "api/api_int.h"
#include "registry/registry.h"
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

/* Who acted: X-Cairn-User, else the body's user_id, else "". */
static int wrap(struct api_call *c, const char *key, json_t *o)
{
	c->reply = json_pack("{s:o}", key, o);
	return 0;
}

/* ---- registered models ---- */

static int rm_create(struct api_call *c)
{
	const char *name = NULL, *desc = NULL;
	json_t *tags = NULL, *o;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "description", false, &desc)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &tags)) < 0 ||
	    (rc = reg_model_create(c->st, name, tags, desc, &o)))
		return rc;
	return wrap(c, "registered_model", o);
}

static int rm_get(struct api_call *c)
{
	const char *name = NULL;
	json_t *o;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = reg_model_get(c->st, name, &o)))
		return rc;
	return wrap(c, "registered_model", o);
}

static int rm_rename(struct api_call *c)
{
	const char *name = NULL, *new_name = NULL;
	json_t *o;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "new_name", true, &new_name)) < 0 ||
	    (rc = reg_model_rename(c->st, name, new_name, api_user(c), &o)))
		return rc;
	return wrap(c, "registered_model", o);
}

static int rm_update(struct api_call *c)
{
	const char *name = NULL, *desc = NULL;
	json_t *o;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "description", false, &desc)) < 0 ||
	    (rc = reg_model_update(c->st, name, desc, &o)))
		return rc;
	return wrap(c, "registered_model", o);
}

static int rm_delete(struct api_call *c)
{
	const char *name = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0)
		return rc;
	return reg_model_delete(c->st, name, api_user(c));
}

static int search(struct api_call *c, bool versions)
{
	struct trk_page pg;
	const char **order = NULL;
	json_t *list = NULL;
	char *next = NULL;
	int rc;

	if ((rc = api_page_args(c, NULL, &pg, &order)))
		goto out;
	rc = versions ? reg_version_search(c->st, &pg, &list, &next) : reg_model_search(c->st, &pg, &list, &next);
	if (rc)
		goto out;
	c->reply = json_object();
	cjson_set_repeated(c->reply, versions ? "model_versions" : "registered_models", list);
	if (next)
		cjson_set(c->reply, "next_page_token", json_string(next));
out:
	free(order);
	free(next);
	return rc;
}

static int rm_search(struct api_call *c)
{
	return search(c, false);
}

static int rm_latest(struct api_call *c)
{
	const char *name = NULL, **stages = NULL;
	size_t n = 0;
	json_t *list;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str_list(c, "stages", &stages, &n)) < 0)
		return rc;
	rc = reg_latest_versions(c->st, name, stages, n, &list);
	free(stages);
	if (rc)
		return rc;
	c->reply = json_object();
	cjson_set_repeated(c->reply, "model_versions", list);
	return 0;
}

static int rm_set_tag(struct api_call *c)
{
	const char *name = NULL, *key = NULL, *value = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "key", true, &key)) < 0 ||
	    (rc = api_str(c, "value", true, &value)) < 0)
		return rc;
	return reg_model_set_tag(c->st, name, key, value);
}

static int rm_delete_tag(struct api_call *c)
{
	const char *name = NULL, *key = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "key", true, &key)) < 0)
		return rc;
	return reg_model_delete_tag(c->st, name, key);
}

static int alias_set(struct api_call *c)
{
	const char *name = NULL, *alias = NULL, *version = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "alias", true, &alias)) < 0 ||
	    (rc = api_str(c, "version", true, &version)) < 0)
		return rc;
	return reg_alias_set(c->st, name, alias, version, api_user(c));
}

static int alias_delete(struct api_call *c)
{
	const char *name = NULL, *alias = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "alias", true, &alias)) < 0)
		return rc;
	return reg_alias_delete(c->st, name, alias, api_user(c));
}

static int alias_get(struct api_call *c)
{
	const char *name = NULL, *alias = NULL;
	json_t *o;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "alias", true, &alias)) < 0 ||
	    (rc = reg_version_by_alias(c->st, name, alias, &o)))
		return rc;
	return wrap(c, "model_version", o);
}

/* ---- model versions ---- */

static int mv_create(struct api_call *c)
{
	struct reg_version_new v = { 0 };
	json_t *o;
	int rc;

	if ((rc = api_str(c, "name", true, &v.name)) < 0 || (rc = api_str(c, "source", true, &v.source)) < 0 ||
	    (rc = api_str(c, "run_id", false, &v.run_id)) < 0 || (rc = api_str(c, "run_link", false, &v.run_link)) < 0 ||
	    (rc = api_str(c, "description", false, &v.description)) < 0 ||
	    (rc = api_str(c, "model_id", false, &v.model_id)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &v.tags)) < 0)
		return rc;
	v.user = api_user(c);
	if ((rc = reg_version_create(c->st, &v, &o)))
		return rc;
	return wrap(c, "model_version", o);
}

static int name_version(struct api_call *c, const char **name, const char **version)
{
	int rc;

	if ((rc = api_str(c, "name", true, name)) < 0 || (rc = api_str(c, "version", true, version)) < 0)
		return rc;
	return 0;
}

static int mv_get(struct api_call *c)
{
	const char *name, *version;
	json_t *o;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = reg_version_get(c->st, name, version, &o)))
		return rc;
	return wrap(c, "model_version", o);
}

static int mv_update(struct api_call *c)
{
	const char *name, *version, *desc = NULL;
	json_t *o;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = api_str(c, "description", false, &desc)) < 0 ||
	    (rc = reg_version_update(c->st, name, version, desc, &o)))
		return rc;
	return wrap(c, "model_version", o);
}

static int mv_delete(struct api_call *c)
{
	const char *name, *version;
	int rc;

	if ((rc = name_version(c, &name, &version)))
		return rc;
	return reg_version_delete(c->st, name, version, api_user(c));
}

static int mv_search(struct api_call *c)
{
	return search(c, true);
}

static int mv_download_uri(struct api_call *c)
{
	const char *name, *version;
	char *uri;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = reg_version_download_uri(c->st, name, version, &uri)))
		return rc;
	c->reply = json_pack("{s:s}", "artifact_uri", uri);
	free(uri);
	return 0;
}

static int mv_transition(struct api_call *c)
{
	const char *name, *version, *stage = NULL;
	json_t *o;
	bool archive = false;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = api_str(c, "stage", true, &stage)) < 0)
		return rc;
	if ((rc = cjson_get_bool(c->body, "archive_existing_versions", false, &archive)) < 0)
		return rc;
	if (rc == 0) { /* from the query string */
		const char *a = NULL;
		if ((rc = api_str(c, "archive_existing_versions", false, &a)) < 0)
			return rc;
		archive = a && !strcasecmp(a, "true");
	}
	if ((rc = reg_version_transition(c->st, name, version, stage, archive, api_user(c), &o)))
		return rc;
	return wrap(c, "model_version", o);
}

static int mv_set_tag(struct api_call *c)
{
	const char *name, *version, *key = NULL, *value = NULL;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = api_str(c, "key", true, &key)) < 0 ||
	    (rc = api_str(c, "value", true, &value)) < 0)
		return rc;
	return reg_version_set_tag(c->st, name, version, key, value);
}

static int mv_delete_tag(struct api_call *c)
{
	const char *name, *version, *key = NULL;
	int rc;

	if ((rc = name_version(c, &name, &version)) || (rc = api_str(c, "key", true, &key)) < 0)
		return rc;
	return reg_version_delete_tag(c->st, name, version, key);
}

/* ---- cairn: resolve, promote, audit ---- */

static int cr_resolve(struct api_call *c)
{
	const char *uri = NULL;
	char *out;
	int rc;

	if ((rc = api_str(c, "uri", true, &uri)) < 0 || (rc = reg_resolve_uri(c->st, uri, &out)))
		return rc;
	c->reply = json_pack("{s:s}", "artifact_uri", out);
	free(out);
	return 0;
}

static int cr_promote(struct api_call *c)
{
	const char *name = NULL, *from = NULL, *to = NULL, **req = NULL;
	size_t n = 0;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "from", true, &from)) < 0 ||
	    (rc = api_str(c, "to", true, &to)) < 0 || (rc = api_str_list(c, "require", &req, &n)) < 0)
		return rc;
	rc = reg_promote(c->st, name, from, to, req, n, api_user(c), &c->reply);
	free(req);
	return rc;
}

static int cr_audit(struct api_call *c)
{
	const char *name = NULL;
	int64_t limit = 0;
	json_t *list;
	int rc;

	if ((rc = api_str(c, "name", false, &name)) < 0 || (rc = api_int64(c, "max_results", false, &limit)) < 0 ||
	    (rc = reg_audit_list(c->st, name, limit, &list)))
		return rc;
	c->reply = json_pack("{s:o}", "entries", list);
	return 0;
}

const struct http_route api_registry_routes[] = {
	API_ROUTE("POST", "/mlflow/registered-models/create", rm_create),
	API_ROUTE("GET", "/mlflow/registered-models/get", rm_get),
	API_ROUTE("POST", "/mlflow/registered-models/rename", rm_rename),
	API_ROUTE("PATCH", "/mlflow/registered-models/update", rm_update),
	API_ROUTE("DELETE", "/mlflow/registered-models/delete", rm_delete),
	API_ROUTE("GET", "/mlflow/registered-models/search", rm_search),
	API_ROUTE("POST", "/mlflow/registered-models/get-latest-versions", rm_latest),
	API_ROUTE("GET", "/mlflow/registered-models/get-latest-versions", rm_latest),
	API_ROUTE("POST", "/mlflow/registered-models/set-tag", rm_set_tag),
	API_ROUTE("DELETE", "/mlflow/registered-models/delete-tag", rm_delete_tag),
	API_ROUTE("POST", "/mlflow/registered-models/alias", alias_set),
	API_ROUTE("DELETE", "/mlflow/registered-models/alias", alias_delete),
	API_ROUTE("GET", "/mlflow/registered-models/alias", alias_get),
	API_ROUTE("POST", "/mlflow/model-versions/create", mv_create),
	API_ROUTE("GET", "/mlflow/model-versions/get", mv_get),
	API_ROUTE("PATCH", "/mlflow/model-versions/update", mv_update),
	API_ROUTE("DELETE", "/mlflow/model-versions/delete", mv_delete),
	API_ROUTE("GET", "/mlflow/model-versions/search", mv_search),
	API_ROUTE("GET", "/mlflow/model-versions/get-download-uri", mv_download_uri),
	API_ROUTE("POST", "/mlflow/model-versions/transition-stage", mv_transition),
	API_ROUTE("POST", "/mlflow/model-versions/set-tag", mv_set_tag),
	API_ROUTE("DELETE", "/mlflow/model-versions/delete-tag", mv_delete_tag),
};
const size_t api_registry_nroutes = sizeof(api_registry_routes) / sizeof(api_registry_routes[0]);

/* Mounted at /api/cairn/v1. */
const struct http_route api_cairn_registry_routes[] = {
	API_ROUTE("GET", "/registry/resolve", cr_resolve),
	API_ROUTE("POST", "/registry/promote", cr_promote),
	API_ROUTE("GET", "/registry/audit", cr_audit),
};
const size_t api_cairn_registry_nroutes = sizeof(api_cairn_registry_routes) / sizeof(api_cairn_registry_routes[0]);
