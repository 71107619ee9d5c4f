/* dispatch.c - the one dispatcher of JSON API routes, and mounting. */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

int api_dispatch(struct http_req *req, struct http_resp *resp)
{
	struct api_call c = { .req = req, .resp = resp, .ctx = req->ctx };
	api_fn fn = ((const struct api_handler *)req->route->data)->fn;
	int rc;

	if ((rc = cjson_parse_object(req->body.ptr, req->body.len, &c.body)))
		return rc;
	if ((rc = store_pool_get(c.ctx->pool, &c.st)))
		goto out;
	rc = fn(&c);
	store_pool_put(c.ctx->pool, c.st);
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
	return rc;
}

int api_str(struct api_call *c, const char *key, bool required, const char **out)
{
	const char *q;

	if (json_object_get(c->body, key))
		return cjson_get_str(c->body, key, required, out);
	q = http_req_query(c->req, key);
	if (q) {
		*out = q;
		return 1;
	}
	if (required)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter '%s'", key);
	return 0;
}

int api_int64(struct api_call *c, const char *key, bool required, int64_t *out)
{
	const char *q;

	if (json_object_get(c->body, key))
		return cjson_get_int64(c->body, key, required, out);
	q = http_req_query(c->req, key);
	if (q) {
		if (cjson_parse_int64(q, out))
			return cairn_error_set(CAIRN_EINVALID,
					       "Invalid value '%.40s' for parameter '%s': expected an integer", q, key);
		return 1;
	}
	if (required)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter '%s'", key);
	return 0;
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
	nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
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
				return cairn_error_set(CAIRN_EINVALID,
						       "Invalid value for parameter '%s': expected a list of strings", key);
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

static const struct http_route root_routes[] = {
	{ .method = "GET", .path = "/health", .fn = health },
	{ .method = "GET", .path = "/version", .fn = version },
};

int api_mount(struct http_server *s, struct api_ctx *ctx)
{
	int rc;

	if ((rc = http_server_mount(s, "", root_routes, sizeof(root_routes) / sizeof(root_routes[0]), ctx)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_tracking_routes, api_tracking_nroutes, ctx)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_tracking_routes, api_tracking_nroutes, ctx)) ||
	    (rc = http_server_mount(s, "/api/2.0", api_artifact_routes, api_artifact_nroutes, ctx)) ||
	    (rc = http_server_mount(s, "/ajax-api/2.0", api_artifact_routes, api_artifact_nroutes, ctx)))
		return rc;
	return 0;
}
