/* dispatch.c - the one dispatcher of JSON API routes, and mounting. */
#include "api/api_int.h"
#include "core/fault.h"
#include "tracking/tracking.h"
#include "core/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A JSON body must say so, as MLflow requires (it keeps cross-site form posts
 * out). One deliberate difference: curl's default for -d, form-urlencoded, is
 * accepted when the body is JSON, so `curl -d '{...}'` works as documented. */
static int check_content_type(struct http_req *req)
{
	const char *ct = http_req_header(req, "Content-Type");
	size_t n;

	if (!req->conn || !req->body.len) /* in-process calls have no headers */
		return 0;
	if (!ct)
		ct = "";
	n = strcspn(ct, ";");
	while (n && ct[n - 1] == ' ')
		n--;
	if ((n == 16 && !strncasecmp(ct, "application/json", n)) ||
	    (n == 33 && !strncasecmp(ct, "application/x-www-form-urlencoded", n)))
		return 0;
	return cairn_error_set(CAIRN_EINVALID, "Bad Request. Content-Type must be one of ['application/json'].");
}

int api_dispatch(struct http_req *req, struct http_resp *resp)
{
	struct api_call c = { .req = req, .resp = resp, .ctx = req->ctx };
	api_fn fn = ((const struct api_handler *)req->route->data)->fn;
	int rc;

	if ((rc = check_content_type(req)))
		return rc;
	if ((rc = cjson_parse_object(req->body.ptr, req->body.len, &c.body)))
		return rc;
	if ((rc = store_pool_get(c.ctx->pool, &c.st)))
		goto out;
	cjson_oom_clear();
	rc = fn(&c);
	store_pool_put(c.ctx->pool, c.st);
	/* jansson drops what it cannot allocate: a member missing from a reply, or
	 * from a record the handler read back, would be half an answer or a wrong
	 * one ("not found", "not active"). Either way the answer is out of memory. */
	if (cjson_oom_seen() && rc != CAIRN_EBUSY) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory while handling the request");
		goto out;
	}
	if (rc)
		goto out;
	if (!c.raw) {
		resp->status = 200;
		resp->content_type = "application/json";
		buf_clear(&resp->body);
		if (c.reply)
			rc = cjson_dump(c.reply, &resp->body);
		else
			buf_puts(&resp->body, "{}");
	}
out:
	json_decref(c.reply);
	json_decref(c.body);
	return api_busy(resp, rc);
}

int api_busy(struct http_resp *resp, int rc)
{
	if (rc != CAIRN_EBUSY)
		return rc;
	for (size_t i = 0; i < resp->nheaders; i++)
		if (!strcmp(resp->headers[i].name, "Retry-After"))
			return rc;
	(void)http_resp_header(resp, "Retry-After", API_RETRY_AFTER_S); /* the 503 stands without it */
	return rc;
}

int api_str(struct api_call *c, const char *key, bool required, const char **out)
{
	const char *q;

	if (json_object_get(c->body, key))
		return cjson_get_str(c->body, key, required, out);
	q = http_req_query(c->req, key);
	if (q && (*q || !required)) {
		*out = q;
		return 1;
	}
	if (required)
		return cjson_missing(key);
	return 0;
}

int api_path(const char *p, bool allow_empty, struct buf *out)
{
	int rc = path_clean_rel(p, strlen(p), allow_empty, out);

	if (rc == CAIRN_EINVALID || (!rc && strchr(out->ptr, '#'))) /* MLflow refuses '#' too */
		return cairn_error_set(CAIRN_EINVALID, "Invalid path");
	return rc;
}

int api_invalid_query(const char *key, const char *value)
{
	json_t *v = cjson_string(value);
	int rc = v ? cjson_invalid(key, v) : cairn_error_set(CAIRN_ENOMEM, "out of memory");

	json_decref(v);
	return rc;
}

int api_int64(struct api_call *c, const char *key, bool required, int64_t *out)
{
	const char *q;

	if (json_object_get(c->body, key))
		return cjson_get_int64(c->body, key, required, out);
	q = http_req_query(c->req, key);
	if (q) {
		if (cjson_parse_int64(q, out))
			return api_invalid_query(key, q);
		return 1;
	}
	if (required)
		return cjson_missing(key);
	return 0;
}

const char *api_user(struct api_call *c)
{
	const char *u = http_req_header(c->req, "X-Cairn-User");

	if (!u || !*u)
		api_str(c, "user_id", false, &u);
	return u ? u : "";
}

struct list_acc {
	const char **v;
	size_t n;
	int err;
};

static void list_add(void *ud, const char *value)
{
	struct list_acc *a = ud;
	const char **nv;

	if (a->err)
		return;
	nv = crealloc(a->v, (a->n + 1) * sizeof(*nv));
	if (!nv) {
		a->err = 1;
		return;
	}
	a->v = nv;
	a->v[a->n++] = value;
}

int api_str_list(struct api_call *c, const char *key, const char ***out, size_t *n)
{
	struct list_acc a = { 0 };
	json_t *arr = NULL, *e;
	size_t i;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = cjson_get_array(c->body, key, false, &arr)) < 0)
		return rc;
	if (arr) {
		json_array_foreach(arr, i, e) {
			if (!json_is_string(e)) {
				free(a.v);
				return cjson_invalid(key, arr);
			}
			list_add(&a, json_string_value(e));
		}
	} else {
		http_req_query_each(c->req, key, list_add, &a);
	}
	if (a.err) {
		free(a.v);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	*out = a.v;
	*n = a.n;
	return 0;
}

static int health(struct http_req *req, struct http_resp *resp)
{
	resp->content_type = "text/plain";
	buf_puts(&resp->body, "OK");
	return buf_error(&resp->body);
}

static int version(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;

	resp->content_type = "text/plain";
	buf_puts(&resp->body, ctx->version ? ctx->version : "unknown");
	return buf_error(&resp->body);
}

static int metrics_route(struct http_req *req, struct http_resp *resp)
{
	struct api_ctx *ctx = req->ctx;

	return http_resp_metrics(resp, ctx->metrics);
}

static const struct http_route root_routes[] = {
	{ .method = "GET", .path = "/health", .fn = health },
	{ .method = "GET", .path = "/version", .fn = version },
	{ .method = "GET", .path = "/metrics", .fn = metrics_route },
};

static const struct {
	int code;
	const char *mlflow;
} mlflow_codes[] = {
	{ CAIRN_ERR, "INTERNAL_ERROR" },
	{ CAIRN_ENOTFOUND, "RESOURCE_DOES_NOT_EXIST" },
	{ CAIRN_EEXISTS, "RESOURCE_ALREADY_EXISTS" },
	{ CAIRN_EINVALID, "INVALID_PARAMETER_VALUE" },
	{ CAIRN_ECONFLICT, "INVALID_PARAMETER_VALUE" },
	{ CAIRN_ETOOBIG, "INVALID_PARAMETER_VALUE" },
	{ CAIRN_EIO, "INTERNAL_ERROR" },
	{ CAIRN_ENOMEM, "INTERNAL_ERROR" },
	{ CAIRN_EBUSY, "TEMPORARILY_UNAVAILABLE" },
	{ CAIRN_EUNSUPPORTED, "NOT_IMPLEMENTED" },
	{ CAIRN_EPERM, "PERMISSION_DENIED" },
	{ CAIRN_ENOROUTE, "ENDPOINT_NOT_FOUND" },
	{ CAIRN_EMETHOD, "BAD_REQUEST" },
};

const char *api_error_code(int code)
{
	for (size_t i = 0; i < sizeof(mlflow_codes) / sizeof(mlflow_codes[0]); i++)
		if (mlflow_codes[i].code == code)
			return mlflow_codes[i].mlflow;
	return "INTERNAL_ERROR";
}

void api_render_error(struct http_resp *resp, int code, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "error_code", api_error_code(code), "message", message);

	if (!o || cjson_dump(o, &resp->body) || buf_error(&resp->body))
		/* no memory for the answer: a constant one needs none */
		http_resp_static(resp, 500, "application/json",
				 "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}");
	json_decref(o);
}

/* Every request of every MLflow mount, artifact downloads and uploads
 * included, is counted here. */
static void api_after(struct http_req *req, const struct http_resp *resp, uint64_t elapsed_ns)
{
	struct api_ctx *ctx = req->ctx;

	if (ctx)
		http_metrics_observe(ctx->http_metrics, req, resp, elapsed_ns);
}

const struct http_ops api_ops = { .render_error = api_render_error, .after = api_after };

/* ---- store metrics, read when /metrics is rendered ---- */

enum pool_stat { PS_CONN_WAITS, PS_CONN_WAIT_S, PS_CONN_TIMEOUTS, PS_WRITER_WAITS, PS_WRITER_WAIT_S,
		 PS_WRITER_TIMEOUTS, PS_OPEN, PS_IN_USE, PS_MAX, PS_N };

struct pool_stat_arg {
	struct api_ctx *ctx;
	enum pool_stat which;
};

static double pool_stat(void *arg)
{
	const struct pool_stat_arg *a = arg;
	struct store_pool_stats st;

	store_pool_stats(a->ctx->pool, &st);
	switch (a->which) {
	case PS_CONN_WAITS: return (double)st.conn_waits;
	case PS_CONN_WAIT_S: return (double)st.conn_wait_ns / 1e9;
	case PS_CONN_TIMEOUTS: return (double)st.conn_timeouts;
	case PS_WRITER_WAITS: return (double)st.writer_waits;
	case PS_WRITER_WAIT_S: return (double)st.writer_wait_ns / 1e9;
	case PS_WRITER_TIMEOUTS: return (double)st.writer_timeouts;
	case PS_OPEN: return st.open;
	case PS_IN_USE: return st.in_use;
	default: return st.max;
	}
}

/* One argument per statistic, for the callbacks (the registry keeps only the pointer). */
struct api_metrics_args {
	struct pool_stat_arg a[PS_N];
};

static int store_metrics(struct api_ctx *ctx, struct api_metrics_args *args)
{
	static const struct {
		enum pool_stat which;
		bool counter;
		const char *name, *help;
	} defs[] = {
		{ PS_CONN_WAITS, true, "cairn_store_pool_waits_total", "Requests that waited for a free database connection" },
		{ PS_CONN_WAIT_S, true, "cairn_store_pool_wait_seconds_total", "Time spent waiting for a free database connection" },
		{ PS_CONN_TIMEOUTS, true, "cairn_store_pool_timeouts_total", "Waits for a database connection that gave up (503)" },
		{ PS_WRITER_WAITS, true, "cairn_store_write_lock_waits_total", "Writes that waited for another write to finish" },
		{ PS_WRITER_WAIT_S, true, "cairn_store_write_lock_wait_seconds_total", "Time writes spent waiting for the write lock" },
		{ PS_WRITER_TIMEOUTS, true, "cairn_store_write_lock_timeouts_total", "Waits for the write lock that gave up (503)" },
		{ PS_OPEN, false, "cairn_store_pool_connections_open", "Database connections open" },
		{ PS_IN_USE, false, "cairn_store_pool_connections_in_use", "Database connections handed to requests" },
		{ PS_MAX, false, "cairn_store_pool_connections_max", "The database connection pool's size" },
	};
	int rc;

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		args->a[i].ctx = ctx;
		args->a[i].which = defs[i].which;
		rc = defs[i].counter ? metrics_counter_fn_new(ctx->metrics, NULL, defs[i].name, defs[i].help, pool_stat, &args->a[i])
				     : metrics_gauge_fn_new(ctx->metrics, NULL, defs[i].name, defs[i].help, pool_stat, &args->a[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int api_mount(struct http_server *s, struct api_ctx *ctx)
{
	int rc;

	if (!ctx->metrics) {
		if ((rc = metrics_new(&ctx->metrics)) ||
		    (rc = http_metrics_new(ctx->metrics, "cairn", s, &ctx->http_metrics)))
			return rc;
		if (!(ctx->metrics_args = ccalloc(1, sizeof(struct api_metrics_args))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if ((rc = store_metrics(ctx, ctx->metrics_args)))
			return rc;
	}

	if ((rc = http_server_mount(s, "", root_routes, sizeof(root_routes) / sizeof(root_routes[0]), ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "", api_root_routes_artifacts, api_root_routes_artifacts_n, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_tracking_routes, api_tracking_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_tracking_routes, api_tracking_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_artifact_routes, api_artifact_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_artifact_routes, api_artifact_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_logged_model_routes, api_logged_model_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_logged_model_routes, api_logged_model_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_registry_routes, api_registry_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_registry_routes, api_registry_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/cairn/v1", api_cairn_tracking_routes, api_cairn_tracking_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/cairn/v1", api_cairn_deployment_routes, api_cairn_deployment_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/cairn/v1", api_cairn_registry_routes, api_cairn_registry_nroutes, ctx, &api_ops)) ||
	    (rc = http_server_mount(s, "/api/cairn/v1", api_cairn_monitor_routes, api_cairn_monitor_nroutes, ctx, &api_ops)))
		return rc;
	return 0;
}

int api_invoke(struct api_ctx *ctx, const char *method, const char *path, const char *body,
	       int *status, struct buf *out)
{
	const struct http_route *tables[] = { api_tracking_routes, api_artifact_routes, api_logged_model_routes,
					      api_registry_routes, api_cairn_registry_routes, api_cairn_monitor_routes };
	const size_t sizes[] = { api_tracking_nroutes, api_artifact_nroutes, api_logged_model_nroutes,
				 api_registry_nroutes, api_cairn_registry_nroutes, api_cairn_monitor_nroutes };
	struct http_req req = { .method = method, .path = path, .rest = "", .ctx = ctx };
	struct http_resp resp = { .status = 200, .body = BUF_INIT, .fd = -1 };
	int rc;

	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]) && !req.route; t++)
		for (size_t i = 0; i < sizes[t]; i++)
			if (tables[t][i].fn == api_dispatch && !strcmp(tables[t][i].path, path) &&
			    !strcmp(tables[t][i].method, method)) {
				req.route = &tables[t][i];
				break;
			}
	if (!req.route)
		return cairn_error_set(CAIRN_ENOTFOUND, "no endpoint for %s '%s'", method, path);
	buf_init(&req.body, 0);
	if (body)
		buf_puts(&req.body, body);
	cairn_error_clear();
	rc = buf_error(&req.body) ? cairn_error_set(CAIRN_ENOMEM, "out of memory copying the request") :
				    api_dispatch(&req, &resp);
	if (rc)
		http_resp_error(&resp, &api_ops, rc, cairn_error_msg());
	*status = resp.status;
	if (resp.body_static)
		buf_puts(out, resp.body_static);
	else
		buf_put(out, resp.body.ptr, resp.body.len);
	http_resp_dispose(&resp);
	buf_release(&req.body);
	return buf_error(out);
}

/* A positive count from environment variable name, else def. */
static int env_count(const char *name, unsigned def, unsigned max, unsigned *out)
{
	const char *v = getenv(name);
	unsigned long n;
	char *end;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < 1 || n > max)
		return cairn_error_set(CAIRN_EINVALID, "invalid %s '%.40s': expected a number from 1 to %u", name, v, max);
	*out = (unsigned)n;
	return 0;
}

int api_ctx_open(const char *root, struct api_ctx *ctx)
{
	struct buf db = BUF_INIT;
	unsigned conns, wait_ms;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->version = CAIRN_VERSION_STRING;
	if ((rc = env_count("CAIRN_STORE_POOL", API_POOL_CONNS, 4096, &conns)) ||
	    (rc = env_count("CAIRN_STORE_WAIT_MS", STORE_POOL_WAIT_MS, 600000, &wait_ms)))
		return rc;
	if ((rc = path_mkdirs(root)))
		return rc;
	buf_printf(&db, "sqlite:%s/cairn.db", root);
	if ((rc = buf_error(&db)))
		goto out;
	if ((rc = store_pool_open(db.ptr, conns, wait_ms, &ctx->pool)))
		goto out;
	if ((rc = blob_open(root, &ctx->blobs))) {
		store_pool_close(ctx->pool);
		ctx->pool = NULL;
	}
out:
	buf_release(&db);
	return rc;
}

void api_ctx_close(struct api_ctx *ctx)
{
	http_metrics_free(ctx->http_metrics);
	metrics_free(ctx->metrics);
	free(ctx->metrics_args);
	ctx->http_metrics = NULL;
	ctx->metrics = NULL;
	ctx->metrics_args = NULL;
	store_pool_close(ctx->pool);
	blob_close(ctx->blobs);
	ctx->pool = NULL;
	ctx->blobs = NULL;
}

int api_page_args(struct api_call *c, const char *view_key, struct trk_page *pg, const char ***order)
{
	const char *view = NULL;
	int rc;

	memset(pg, 0, sizeof(*pg));
	*order = NULL;
	if ((rc = api_int64(c, "max_results", false, &pg->max_results)) < 0)
		return rc;
	if (rc == 1 && pg->max_results < 1)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results' supplied. It must "
						      "be a positive integer", (long long)pg->max_results);
	if ((rc = api_str(c, "page_token", false, &pg->page_token)) < 0 ||
	    (rc = api_str(c, "filter", false, &pg->filter)) < 0 ||
	    (view_key && ((rc = api_str(c, view_key, false, &view)) < 0 || (rc = trk_parse_view(view, &pg->view)) < 0)))
		return rc;
	if ((rc = api_str_list(c, "order_by", order, &pg->n_order)) < 0)
		return rc;
	pg->order_by = *order;
	return 0;
}
