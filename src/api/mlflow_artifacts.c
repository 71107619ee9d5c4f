/* mlflow_artifacts.c - the artifact proxy API (mlflow_artifacts.proto) and runs' artifacts/list.
 *
 * PUT streams the body into the blob store chunk by chunk (never buffered
 * whole); GET answers with the object's file descriptor (sendfile).
 */
#include "api/api_int.h"
#include "core/fault.h"
#include "core/path.h"
#include "registry/registry.h"
#include "tracking/artifact.h"
#include "tracking/tracking.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An upload under way (the proxy's PUT and the UI's upload-artifact). */
struct upload {
	struct blob_writer *w;
	struct buf path; /* where it goes (upload-artifact: the path under the run) */
	uint64_t n;      /* bytes so far */
};

#define UI_UPLOAD_MAX (10u << 20)

static int ui_upload_args(struct http_req *req, struct buf *rel)
{
	const char *run = http_req_query(req, "run_uuid"), *p = http_req_query(req, "path");

	if (strcmp(req->prefix, "/ajax-api/2.0")) /* MLflow has no /api/2.0 form */
		return cairn_error_set(CAIRN_ENOROUTE, "no endpoint for POST '%.300s'", req->path);
	if (!run || !*run)
		return cairn_error_set(CAIRN_EINVALID, "Request must specify run_uuid.");
	if (!p || !*p)
		return cairn_error_set(CAIRN_EINVALID, "Request must specify path.");
	if (api_path(p, false, rel))
		return CAIRN_EINVALID;
	if (req->content_length > UI_UPLOAD_MAX)
		return cairn_error_set(CAIRN_EINVALID, "Artifact size is too large. Max size is 10MB.");
	return 0;
}

/* Begin an upload: its path (the proxy's PUT: the URL's rest; ui: the
 * upload-artifact arguments) and a blob writer; req->state owns it from here. */
static int upload_start(struct http_req *req, bool ui, struct upload **out)
{
	struct api_ctx *ctx = req->ctx;
	struct upload *u = ccalloc(1, sizeof(*u));
	int rc;

	if (!u)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_init(&u->path, 4096);
	req->state = u;
	if ((rc = ui ? ui_upload_args(req, &u->path) : api_path(req->rest, false, &u->path)) ||
	    (rc = blob_writer_new(ctx->blobs, &u->w)))
		return rc;
	*out = u;
	return 0;
}

static int upload_write(struct http_req *req, bool ui, const char *data, size_t n)
{
	struct upload *u = req->state;
	int rc;

	if (!u && (rc = upload_start(req, ui, &u)))
		return rc;
	if ((u->n += n) > UI_UPLOAD_MAX && ui) /* a chunked body says no length first */
		return cairn_error_set(CAIRN_EINVALID, "Artifact size is too large. Max size is 10MB.");
	return blob_writer_write(u->w, data, n);
}

static int upload_chunk(struct http_req *req, const char *data, size_t n)
{
	return upload_write(req, false, data, n);
}

static int ui_upload_chunk(struct http_req *req, const char *data, size_t n)
{
	return upload_write(req, true, data, n);
}

static void upload_cleanup(struct http_req *req)
{
	struct upload *u = req->state;

	if (!u)
		return;
	blob_writer_abort(u->w);
	buf_release(&u->path);
	free(u);
	req->state = NULL;
}

static int upload_finish(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;
	struct upload *u = req->state;
	char hex[SHA256_HEX_LEN + 1];
	struct store *st = NULL;
	int64_t size = 0;
	int rc;

	if (!u && (rc = upload_start(req, false, &u)))
		return rc;
	rc = blob_writer_commit(u->w, hex, &size);
	u->w = NULL;
	if (rc)
		return rc;
	if ((rc = store_pool_get(ctx->pool, &st)))
		return api_busy(resp, rc);
	rc = art_record(st, u->path.ptr, hex, size);
	store_pool_put(ctx->pool, st);
	if (rc)
		return api_busy(resp, rc);
	return http_resp_json_text(resp, 200, "{}");
}

static int download(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;
	struct buf path = BUF_INIT;
	struct store *st = NULL;
	int64_t size = 0;
	int fd = -1, rc;

	if ((rc = api_path(req->rest, false, &path)))
		goto out;
	if ((rc = store_pool_get(ctx->pool, &st)))
		goto out;
	rc = art_open(st, ctx->blobs, path.ptr, &fd, &size);
	store_pool_put(ctx->pool, st);
	if (rc)
		goto out;
	rc = api_send_artifact(resp, fd, (uint64_t)size, path.ptr);
out:
	buf_release(&path);
	return api_busy(resp, rc);
}

static int delete_artifact(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;
	struct buf path = BUF_INIT;
	struct store *st = NULL;
	int rc;

	if ((rc = api_path(req->rest, false, &path)))
		goto out;
	if ((rc = store_pool_get(ctx->pool, &st)))
		goto out;
	rc = art_delete(st, path.ptr);
	store_pool_put(ctx->pool, st);
	if (!rc)
		rc = http_resp_json_text(resp, 200, "{}");
out:
	buf_release(&path);
	return api_busy(resp, rc);
}

/* GET /mlflow-artifacts/artifacts?path=dir */
static int list_proxy(struct api_call *c)
{
	const char *p = "";
	struct buf path = BUF_INIT;
	json_t *files = NULL;
	int rc;

	if ((rc = api_str(c, "path", false, &p)) < 0)
		return rc;
	if ((rc = api_path(p, true, &path)))
		goto out;
	if ((rc = art_list(c->st, path.ptr, NULL, &files)))
		goto out;
	/* a reply that lost its files to a failed allocation would read as an empty folder */
	if (!(c->reply = json_object())) {
		json_decref(files);
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory listing '%.300s'", path.ptr);
	} else if (!json_array_size(files)) {
		json_decref(files);
	} else if (json_object_set_new(c->reply, "files", files)) { /* steals files, failing or not */
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory listing '%.300s'", path.ptr);
	}
out:
	buf_release(&path);
	return rc;
}

/* GET /mlflow/artifacts/list?run_id=...&path=sub */
static int list_run(struct api_call *c)
{
	const char *run_id = NULL, *p = "";
	struct buf base = BUF_INIT, path = BUF_INIT, sub = BUF_INIT;
	json_t *run = NULL, *files = NULL;
	int rc;

	if ((rc = api_str(c, "run_id", false, &run_id)) < 0 ||
	    ((!run_id || !*run_id) && (rc = api_str(c, "run_uuid", false, &run_id)) < 0) ||
	    (rc = api_str(c, "path", false, &p)) < 0)
		return rc;
	if (!run_id || !*run_id)
		return cjson_missing("run_id");
	if ((rc = api_path(p, true, &sub)))
		goto out;
	if ((rc = trk_run_get(c->st, run_id, &run)))
		goto out;
	c->reply = json_pack("{s:s}", "root_uri", trk_run_artifact_uri(run));
	if (art_uri_to_path(trk_run_artifact_uri(run), &base)) {
		rc = 0; /* not served here: nothing to list */
		goto out;
	}
	if ((rc = path_join(&path, base.ptr, sub.ptr)) || (rc = art_list(c->st, path.ptr, base.ptr, &files)))
		goto out;
	if (json_array_size(files))
		cjson_set(c->reply, "files", files);
	else
		json_decref(files);
out:
	json_decref(run);
	buf_release(&base);
	buf_release(&path);
	buf_release(&sub);
	return rc;
}

/* GET /get-artifact?run_uuid=ID&path=P (the MLflow UI's download route). */
static int get_artifact(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;
	const char *run_id = http_req_query(req, "run_uuid"), *p = http_req_query(req, "path");
	struct buf base = BUF_INIT, path = BUF_INIT;
	struct store *st = NULL;
	json_t *run = NULL;
	int64_t size = 0;
	int fd = -1, rc;

	if (!run_id)
		run_id = http_req_query(req, "run_id");
	if (!run_id || !*run_id)
		return cjson_missing("run_uuid");
	if (!p || !*p)
		return cjson_missing("path");
	if ((rc = api_path(p, false, &path)))
		goto out;
	if ((rc = store_pool_get(ctx->pool, &st)))
		goto out;
	if ((rc = trk_run_get(st, run_id, &run)) || (rc = art_uri_to_path(trk_run_artifact_uri(run), &base)) ||
	    (rc = path_join(&base, "", path.ptr)) || (rc = art_open(st, ctx->blobs, base.ptr, &fd, &size)))
		goto out;
	rc = api_send_artifact(resp, fd, (uint64_t)size, path.ptr);
out:
	if (st)
		store_pool_put(ctx->pool, st);
	json_decref(run);
	buf_release(&base);
	buf_release(&path);
	return api_busy(resp, rc);
}

/* ---- POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=ID&path=P (MLflow's
 * UI upload, server/handlers.py upload_artifact_handler): the body, at most
 * 10 MB and not empty, becomes the run's artifact P; MLflow's messages ---- */

static int ui_upload_finish(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;
	struct upload *u = req->state;
	char hex[SHA256_HEX_LEN + 1];
	struct buf path = BUF_INIT;
	struct store *st = NULL;
	json_t *run = NULL;
	int64_t size = 0;
	int rc;

	if (!u && (rc = upload_start(req, true, &u)))
		return rc;
	if (!u->n)
		return cairn_error_set(CAIRN_EINVALID, "Request must specify data.");
	rc = blob_writer_commit(u->w, hex, &size);
	u->w = NULL;
	if (rc)
		return rc;
	if ((rc = store_pool_get(ctx->pool, &st)))
		return api_busy(resp, rc);
	if (!(rc = trk_run_get(st, http_req_query(req, "run_uuid"), &run)) &&
	    !(rc = art_uri_to_path(trk_run_artifact_uri(run), &path)) && !(rc = path_join(&path, "", u->path.ptr)))
		rc = art_record(st, path.ptr, hex, size);
	store_pool_put(ctx->pool, st);
	json_decref(run);
	buf_release(&path);
	if (rc)
		return api_busy(resp, rc);
	return http_resp_json_text(resp, 200, ""); /* MLflow: an empty application/json answer */
}

/* GET /model-versions/get-artifact?name=&version=&path= (MLflow's UI route, at
 * the root): a file of the version's artifacts, as /get-artifact sends it */
static int mv_get_artifact(struct api_call *c)
{
	const char *name = NULL, *version = NULL, *path = NULL;
	char *uri = NULL;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "version", true, &version)) < 0 ||
	    (rc = api_str(c, "path", true, &path)) < 0 || (rc = reg_version_download_uri(c->st, name, version, &uri)))
		return rc;
	rc = api_send_under(c, uri, path);
	free(uri);
	return rc;
}

const struct http_route api_root_routes_artifacts[] = {
	{ .method = "GET", .path = "/get-artifact", .fn = get_artifact },
	API_ROUTE("GET", "/model-versions/get-artifact", mv_get_artifact),
};
const size_t api_root_routes_artifacts_n = sizeof(api_root_routes_artifacts) / sizeof(api_root_routes_artifacts[0]);

const struct http_route api_artifact_routes[] = {
	{ .method = "PUT", .path = "/mlflow-artifacts/artifacts/", .flags = HTTP_PREFIX | HTTP_STREAM,
	  .fn = upload_finish, .chunk = upload_chunk, .cleanup = upload_cleanup },
	{ .method = "GET", .path = "/mlflow-artifacts/artifacts/", .flags = HTTP_PREFIX, .fn = download },
	{ .method = "DELETE", .path = "/mlflow-artifacts/artifacts/", .flags = HTTP_PREFIX, .fn = delete_artifact },
	/* MLflow's UI upload: on the ajax prefix only (ui_upload_args) */
	{ .method = "POST", .path = "/mlflow/upload-artifact", .flags = HTTP_STREAM, .fn = ui_upload_finish,
	  .chunk = ui_upload_chunk, .cleanup = upload_cleanup },
	API_ROUTE("GET", "/mlflow-artifacts/artifacts", list_proxy),
	API_ROUTE("GET", "/mlflow/artifacts/list", list_run),
};
const size_t api_artifact_nroutes = sizeof(api_artifact_routes) / sizeof(api_artifact_routes[0]);
