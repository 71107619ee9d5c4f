/* oip.c - the Open Inference Protocol (KServe v2 REST): server and model
 * health and metadata, and inference, with {"error": "..."} bodies. */
#include "serve/serve_int.h"
#include "core/error.h"
#include "core/json.h"

#include <stdio.h>
#include <string.h>

const struct http_ops serve_oip_ops = { .after = serve_after }; /* the layer's {"error": ...} renderer */

static int reply(struct http_resp *resp, json_t *o)
{
	int rc;

	if (!o)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	resp->content_type = "application/json";
	buf_clear(&resp->body);
	rc = cjson_dump(o, &resp->body);
	json_decref(o);
	return rc;
}

static int server_meta(struct http_req *req, struct http_resp *resp)
{
	struct serve *sv = req->ctx;

	return reply(resp, json_pack("{s:s, s:s, s:[]}", "name", "cairn", "version", sv->cfg.version, "extensions"));
}

static int live(struct http_req *req, struct http_resp *resp)
{
	return reply(resp, json_pack("{s:b}", "live", 1));
}

/* Ready when every model has a version loaded. */
static int ready(struct http_req *req, struct http_resp *resp)
{
	struct serve *sv = req->ctx;
	size_t n = atomic_load(&sv->nslots);
	bool ok = n > 0;

	for (size_t i = 0; i < n && ok; i++) {
		struct serve_model *m = model_get(sv->slots[i]);
		ok = m != NULL;
		model_put(m);
	}
	resp->status = ok ? 200 : 503;
	return reply(resp, json_pack("{s:b}", "ready", ok));
}

/* The model the path names, at the version it names (if any), with a
 * reference; the error names what is missing. */
static int find_model(struct http_req *req, struct serve_slot **slot, struct serve_model **m)
{
	const char *name = http_req_param(req, "name"), *ver = http_req_param(req, "version");

	*m = NULL;
	if (!(*slot = serve_slot_find(req->ctx, name)))
		return cairn_error_set(CAIRN_ENOTFOUND, "model '%s' is not served here", name);
	if (!ver) {
		if (!(*m = serve_pick(req->ctx, *slot, req)))
			return cairn_error_set(CAIRN_EBUSY, "model '%s' is not loaded yet", name);
		return 0;
	}
	/* a version asked for by number: the primary or the canary, whichever it is */
	for (int r = SERVE_PRIMARY; r <= SERVE_CANARY; r++) {
		if ((*m = model_get_role(*slot, (enum serve_role)r)) && !strcmp(ver, (*m)->version))
			return 0;
		model_put(*m);
		*m = NULL;
	}
	return cairn_error_set(CAIRN_ENOTFOUND, "model '%s' version '%s' is not served here", name, ver);
}

static const char *out_datatype(const struct xgb_shape *s)
{
	return s->kind == XGB_KIND_LABELS ? "INT64" : "FP32";
}

static json_t *tensor_meta(const char *name, const char *datatype, json_int_t rows, json_int_t width, bool matrix)
{
	return matrix ? json_pack("{s:s, s:s, s:[I,I]}", "name", name, "datatype", datatype, "shape", rows, width)
		      : json_pack("{s:s, s:s, s:[I]}", "name", name, "datatype", datatype, "shape", rows);
}

static const char *dtype_name(enum serve_dtype d)
{
	static const char *const names[] = {
		[SERVE_DT_ANY] = "FP32",     [SERVE_DT_BOOL] = "BOOL",     [SERVE_DT_INT8] = "INT8",
		[SERVE_DT_INT16] = "INT16",  [SERVE_DT_INT32] = "INT32",   [SERVE_DT_INT64] = "INT64",
		[SERVE_DT_UINT8] = "UINT8",  [SERVE_DT_UINT16] = "UINT16", [SERVE_DT_UINT32] = "UINT32",
		[SERVE_DT_UINT64] = "UINT64", [SERVE_DT_FLOAT16] = "FP16", [SERVE_DT_FLOAT32] = "FP32",
		[SERVE_DT_FLOAT64] = "FP64",
	};
	return (unsigned)d < sizeof(names) / sizeof(names[0]) && names[d] ? names[d] : "FP32";
}

/* The inputs of a model's metadata: one tensor, or one [-1] tensor per
 * named column. */
static json_t *input_metadata(const struct serve_input *in)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	if (in->tensor || !in->names) {
		json_t *shape = json_array();
		if (in->tensor)
			for (size_t i = 0; i < in->ndim; i++)
				json_array_append_new(shape, json_integer(in->shape[i]));
		else
			json_array_append_new(shape, json_integer(-1)), json_array_append_new(shape, json_integer((json_int_t)in->ncols));
		json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "name", in->tensor_name ? in->tensor_name : "input-0",
						   "datatype", dtype_name(in->dtypes ? in->dtypes[0] : SERVE_DT_ANY),
						   "shape", shape));
		return a;
	}
	for (size_t i = 0; i < in->ncols; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:[i]}", "name", in->names[i], "datatype",
						   dtype_name(in->dtypes ? in->dtypes[i] : SERVE_DT_ANY), "shape", -1));
	return a;
}

static int model_meta(struct http_req *req, struct http_resp *resp)
{
	struct serve_slot *slot;
	struct serve_model *m;
	json_t *o, *inputs;
	int rc;

	if ((rc = find_model(req, &slot, &m)))
		return rc;
	inputs = m->py ? json_array() : input_metadata(&m->in);
	o = json_pack("{s:s, s:[s], s:s, s:o, s:[o]}", "name", m->name, "versions", m->version, "platform",
		      m->flavor, "inputs", inputs ? inputs : json_array(), "outputs",
		      tensor_meta("predict", out_datatype(&m->shape), -1, (json_int_t)m->shape.width, m->shape.matrix));
	model_put(m);
	return reply(resp, o);
}

static int model_ready(struct http_req *req, struct http_resp *resp)
{
	struct serve_slot *slot;
	struct serve_model *m;
	int rc;

	if ((rc = find_model(req, &slot, &m)))
		return rc;
	rc = reply(resp, json_pack("{s:s, s:b}", "name", m->name, "ready", 1));
	model_put(m);
	return rc;
}

/* The infer answer for out (the request's rows) of model m; meta holds the
 * request's id. */
int serve_put_oip(const struct serve_model *m, const json_t *meta, const struct xgb_output *out, struct buf *b)
{
	const json_t *id = meta ? json_object_get(meta, "id") : NULL;

	buf_puts(b, "{\"model_name\":");
	cjson_put_string(b, m->name, strlen(m->name));
	buf_puts(b, ",\"model_version\":");
	cjson_put_string(b, m->version, strlen(m->version));
	if (id) {
		buf_puts(b, ",\"id\":");
		cjson_dump(id, b);
	}
	buf_printf(b, ",\"outputs\":[{\"name\":\"predict\",\"datatype\":\"%s\",\"shape\":", out_datatype(&out->shape));
	if (out->shape.matrix)
		buf_printf(b, "[%zu,%zu]", out->nrows, out->shape.width);
	else
		buf_printf(b, "[%zu]", out->nrows);
	buf_puts(b, ",\"data\":[");
	for (size_t i = 0; i < out->nrows * out->shape.width; i++) {
		if (i)
			buf_putc(b, ',');
		if (out->shape.kind == XGB_KIND_LABELS)
			buf_printf(b, "%lld", (long long)out->data[i]);
		else
			serve_put_double(b, out->data[i]);
	}
	buf_puts(b, "]}]}");
	return buf_error(b);
}

static int infer(struct http_req *req, struct http_resp *resp)
{
	struct serve_slot *slot;
	struct serve_model *m;
	struct serve_frame f = SERVE_FRAME_INIT;
	json_t *meta = NULL;
	int rc;

	if ((rc = find_model(req, &slot, &m)))
		return rc;
	if (m->py) {
		char id[SERVE_ID_MAX];
		serve_request_id(req->ctx, req, id, sizeof(id));
		return serve_score_python(req->ctx, req, resp, SERVE_OIP, m, NULL, req->body.ptr, req->body.len, id);
	}
	if ((rc = serve_decode_oip(&m->in, req->body.ptr, req->body.len, &f, &meta))) {
		json_decref(meta);
		serve_frame_release(&f);
		model_put(m);
		return rc;
	}
	{
		char id[SERVE_ID_MAX];
		const json_t *rid = meta ? json_object_get(meta, "id") : NULL;
		/* the OIP request's own "id" names it, else the header, else a new one */
		if (json_is_string(rid) && json_string_length(rid) < sizeof(id) && json_string_length(rid))
			snprintf(id, sizeof(id), "%s", json_string_value(rid));
		else
			serve_request_id(req->ctx, req, id, sizeof(id));
		serve_shadow(req->ctx, slot, SERVE_OIP, NULL, req->body.ptr, req->body.len, id);
		return serve_score(req->ctx, req, resp, SERVE_OIP, slot, m, &f, meta, id); /* takes f, meta and m */
	}
}

const struct http_route serve_oip_routes[] = {
	{ .method = "GET", .path = "", .fn = server_meta },
	{ .method = "GET", .path = "/health/live", .fn = live },
	{ .method = "GET", .path = "/health/ready", .fn = ready },
	{ .method = "GET", .path = "/models/{name}", .fn = model_meta },
	{ .method = "GET", .path = "/models/{name}/ready", .fn = model_ready },
	{ .method = "POST", .path = "/models/{name}/infer", .fn = infer },
	{ .method = "GET", .path = "/models/{name}/versions/{version}", .fn = model_meta },
	{ .method = "GET", .path = "/models/{name}/versions/{version}/ready", .fn = model_ready },
	{ .method = "POST", .path = "/models/{name}/versions/{version}/infer", .fn = infer },
};
const size_t serve_oip_nroutes = sizeof(serve_oip_routes) / sizeof(serve_oip_routes[0]);
