/* mlflow_logged_models.c - MLflow 3 logged-model REST handlers (service.proto:
 * CreateLoggedModel ... ListLoggedModelArtifacts, LogOutputs) and their routes.
 *
 * The paths carry the model id ("/mlflow/logged-models/{model_id}/tags/{key}"),
 * so one HTTP_PREFIX route per method reads it from req->rest and picks the
 * operation by what follows the id.
 */
#include "api/api_int.h"
#include "core/fault.h"
#include "core/path.h"
#include "tracking/artifact.h"
#include "tracking/logged_model.h"
#include "tracking/tracking.h"

#include <stdlib.h>
#include <string.h>

#define LM_PREFIX "/mlflow/logged-models/"
#define API_PREFIX_ROUTE(m, p, f) \
	{ .method = (m), .path = (p), .flags = HTTP_PREFIX, .fn = api_dispatch, .data = &(const struct api_handler){ (f) } }

/* Split req->rest ("<id>[/<sub>]") into the id (in id) and *sub ("" when none). */
static int split_rest(struct api_call *c, struct buf *id, const char **sub)
{
	const char *rest = c->req->rest ? c->req->rest : "";
	size_t n = strcspn(rest, "/");

	if (!n)
		return cjson_missing("model_id");
	buf_put(id, rest, n);
	*sub = rest[n] ? rest + n + 1 : "";
	return buf_error(id);
}

static int no_endpoint(struct api_call *c)
{
	return cairn_error_set(CAIRN_ENOTFOUND, "no endpoint for %s '%.200s'", c->req->method, c->req->path);
}

static int reply_model(struct api_call *c, json_t *m)
{
	c->reply = json_pack("{s:o}", "model", m);
	return 0;
}

/* POST /mlflow/logged-models */
static int lm_create(struct api_call *c)
{
	const char *exp = NULL, *name = NULL, *type = NULL, *run = NULL;
	json_t *params = NULL, *tags = NULL, *m;
	int rc;

	if ((rc = api_str(c, "experiment_id", true, &exp)) < 0 || (rc = api_str(c, "name", false, &name)) < 0 ||
	    (rc = api_str(c, "model_type", false, &type)) < 0 || (rc = api_str(c, "source_run_id", false, &run)) < 0 ||
	    (rc = cjson_get_array(c->body, "params", false, &params)) < 0 ||
	    (rc = cjson_get_array(c->body, "tags", false, &tags)) < 0)
		return rc;
	if ((rc = trk_logged_model_create(c->st, exp, name, type, run, params, tags, &m)))
		return rc;
	return reply_model(c, m);
}

/* POST /mlflow/logged-models/search */
static int lm_search(struct api_call *c)
{
	const char **exps = NULL, *filter = NULL, *token = NULL;
	char **order = NULL, *next = NULL;
	size_t nexp = 0, norder = 0, i;
	json_t *ob = NULL, *datasets = NULL, *e, *list = NULL;
	int64_t max = 0;
	int rc;

	if ((rc = api_str(c, "filter", false, &filter)) < 0 || (rc = api_int64(c, "max_results", false, &max)) < 0 ||
	    (rc = api_str(c, "page_token", false, &token)) < 0 ||
	    (rc = cjson_get_array(c->body, "order_by", false, &ob)) < 0 ||
	    (rc = cjson_get_array(c->body, "datasets", false, &datasets)) < 0)
		return rc;
	/* 0 is MLflow's default (50); a negative count is refused */
	if (max < 0)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results' supplied. It must "
						      "be a positive integer", (long long)max);
	if ((rc = api_str_list(c, "experiment_ids", &exps, &nexp)))
		return rc;
	if (!nexp) {
		rc = cjson_missing("experiment_ids");
		goto out;
	}
	order = ccalloc(json_array_size(ob) + 1, sizeof(*order));
	if (!order) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(ob, i, e) {
		const char *field = NULL;
		bool asc = true;
		struct buf b = BUF_INIT;
		if (!json_is_object(e)) {
			rc = cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'order_by': expected objects");
			goto out;
		}
		if ((rc = cjson_get_str(e, "field_name", true, &field)) < 0 ||
		    (rc = cjson_get_bool(e, "ascending", false, &asc)) < 0)
			goto out;
		{
			const char *dn = NULL;
			if ((rc = cjson_get_str(e, "dataset_name", false, &dn)) < 0)
				goto out;
			if (dn && *dn) {
				rc = cairn_error_set(CAIRN_EINVALID, "Ordering logged models by dataset is not supported");
				goto out;
			}
		}
		buf_printf(&b, "%s %s", field, asc ? "ASC" : "DESC");
		if ((rc = buf_error(&b))) {
			buf_release(&b);
			goto out;
		}
		order[norder++] = cstrdup(b.ptr);
		buf_release(&b);
	}
	if ((rc = trk_logged_model_search(c->st, exps, nexp, filter, datasets, (const char *const *)order, norder, max,
					  token, &list, &next)))
		goto out;
	c->reply = json_object();
	cjson_set_repeated(c->reply, "models", list);
	if (next)
		cjson_set(c->reply, "next_page_token", json_string(next));
out:
	for (i = 0; order && i < norder; i++)
		free(order[i]);
	free(order);
	free(exps);
	free(next);
	return rc < 0 ? rc : 0;
}

/* GET /mlflow/logged-models/<id>/artifacts/directories?artifact_directory_path=sub */
static int lm_list_artifacts(struct api_call *c, const char *model_id)
{
	const char *p = "";
	struct buf base = BUF_INIT, path = BUF_INIT, sub = BUF_INIT;
	json_t *m = NULL, *files = NULL;
	const char *uri;
	int rc;

	if ((rc = api_str(c, "artifact_directory_path", false, &p)) < 0)
		return rc;
	if ((rc = api_path(p, true, &sub)))
		goto out;
	if ((rc = trk_logged_model_get(c->st, model_id, &m)))
		goto out;
	uri = json_string_value(json_object_get(json_object_get(m, "info"), "artifact_uri"));
	c->reply = json_pack("{s:s}", "root_uri", uri ? uri : "");
	if (!uri || art_uri_to_path(uri, &base)) {
		rc = 0; /* not served here: nothing to list */
		goto out;
	}
	if ((rc = path_join(&path, base.ptr, sub.ptr)) || (rc = art_list(c->st, path.ptr, base.ptr, &files)))
		goto out;
	cjson_set_repeated(c->reply, "files", files);
out:
	json_decref(m);
	buf_release(&base);
	buf_release(&path);
	buf_release(&sub);
	return rc;
}

/* GET /ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files?artifact_file_path=P
 * (MLflow's UI route, on the ajax prefix only): one file of the model's
 * artifacts, as /get-artifact sends it */
static int lm_artifact_file(struct api_call *c, const char *model_id)
{
	const char *p = NULL, *uri;
	struct buf checked = BUF_INIT;
	json_t *m = NULL;
	int rc;

	if (strcmp(c->req->prefix, "/ajax-api/2.0"))
		return no_endpoint(c);
	if ((rc = api_str(c, "artifact_file_path", false, &p)) < 0)
		return rc;
	if (!p || !*p) { /* MLflow's BAD_REQUEST, a 400 */
		c->raw = true;
		buf_clear(&c->resp->body);
		return http_resp_json_text(c->resp, 400, "{\"error_code\":\"BAD_REQUEST\",\"message\":\"Request must "
							 "include the \\\"artifact_file_path\\\" query parameter.\"}");
	}
	/* the path is judged before the model is looked up, as MLflow does */
	rc = api_path(p, false, &checked);
	buf_release(&checked);
	if (!rc && !(rc = trk_logged_model_get(c->st, model_id, &m))) {
		uri = json_string_value(json_object_get(json_object_get(m, "info"), "artifact_uri"));
		rc = api_send_under(c, uri ? uri : "", p);
	}
	json_decref(m);
	return rc;
}

/* GET /mlflow/logged-models/<id>[/artifacts/directories] */
static int lm_get(struct api_call *c)
{
	struct buf id = BUF_INIT;
	const char *sub;
	json_t *m;
	int rc;

	if ((rc = split_rest(c, &id, &sub)))
		goto out;
	if (!strcmp(sub, "artifacts/directories"))
		rc = lm_list_artifacts(c, id.ptr);
	else if (!strcmp(sub, "artifacts/files"))
		rc = lm_artifact_file(c, id.ptr);
	else if (*sub)
		rc = no_endpoint(c);
	else if (!(rc = trk_logged_model_get(c->st, id.ptr, &m)))
		rc = reply_model(c, m);
out:
	buf_release(&id);
	return rc;
}

/* PATCH /mlflow/logged-models/<id> (finalize) and <id>/tags */
static int lm_patch(struct api_call *c)
{
	struct buf id = BUF_INIT;
	const char *sub;
	json_t *arr = NULL, *m;
	int rc;

	if ((rc = split_rest(c, &id, &sub)))
		goto out;
	if (!strcmp(sub, "tags")) {
		if ((rc = cjson_get_array(c->body, "tags", false, &arr)) >= 0)
			rc = trk_logged_model_set_tags(c->st, id.ptr, arr);
	} else if (*sub) {
		rc = no_endpoint(c);
	} else if (!(rc = trk_logged_model_finalize(c->st, id.ptr, json_object_get(c->body, "status"), &m))) {
		rc = reply_model(c, m);
	}
out:
	buf_release(&id);
	return rc < 0 ? rc : 0;
}

/* DELETE /mlflow/logged-models/<id> and <id>/tags/<key> */
static int lm_delete(struct api_call *c)
{
	struct buf id = BUF_INIT;
	const char *sub;
	int rc;

	if ((rc = split_rest(c, &id, &sub)))
		goto out;
	if (!strncmp(sub, "tags/", 5) && sub[5])
		rc = trk_logged_model_delete_tag(c->st, id.ptr, sub + 5);
	else if (*sub)
		rc = no_endpoint(c);
	else
		rc = trk_logged_model_delete(c->st, id.ptr);
out:
	buf_release(&id);
	return rc;
}

/* POST /mlflow/logged-models/<id>/params */
static int lm_post(struct api_call *c)
{
	struct buf id = BUF_INIT;
	const char *sub;
	json_t *arr = NULL;
	int rc;

	if ((rc = split_rest(c, &id, &sub)))
		goto out;
	if (strcmp(sub, "params"))
		rc = no_endpoint(c);
	else if ((rc = cjson_get_array(c->body, "params", false, &arr)) >= 0)
		rc = trk_logged_model_log_params(c->st, id.ptr, arr);
out:
	buf_release(&id);
	return rc < 0 ? rc : 0;
}

/* POST /mlflow/runs/outputs */
static int log_outputs(struct api_call *c)
{
	const char *run_id = NULL;
	json_t *models = NULL;
	int rc;

	if ((rc = api_str(c, "run_id", true, &run_id)) < 0 ||
	    (rc = cjson_get_array(c->body, "models", false, &models)) < 0)
		return rc;
	return trk_log_outputs(c->st, run_id, models);
}

const struct http_route api_logged_model_routes[] = {
	API_ROUTE("POST", "/mlflow/logged-models", lm_create),
	API_ROUTE("POST", "/mlflow/logged-models/search", lm_search),
	API_ROUTE("POST", "/mlflow/runs/outputs", log_outputs),
	API_PREFIX_ROUTE("GET", LM_PREFIX, lm_get),
	API_PREFIX_ROUTE("PATCH", LM_PREFIX, lm_patch),
	API_PREFIX_ROUTE("DELETE", LM_PREFIX, lm_delete),
	API_PREFIX_ROUTE("POST", LM_PREFIX, lm_post),
};
const size_t api_logged_model_nroutes = sizeof(api_logged_model_routes) / sizeof(api_logged_model_routes[0]);
