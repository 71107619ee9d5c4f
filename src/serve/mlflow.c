/* mlflow.c - MLflow's scoring protocol (mlflow/pyfunc/scoring_server):
 * GET /ping, /health, /version and POST /invocations. */
#include "serve/serve_int.h"
#include "core/error.h"
#include "core/json.h"

#include <stdio.h>
#include <string.h>

/* MLflow's error_code for a cairn code on the scoring routes. */
static const char *error_code(int code)
{
	switch (code) {
	case CAIRN_EINVALID:
	case CAIRN_ETOOBIG:
	case CAIRN_EMETHOD:
		return "BAD_REQUEST";
	case CAIRN_ENOTFOUND:
	case CAIRN_ENOROUTE:
		return "RESOURCE_DOES_NOT_EXIST";
	case CAIRN_EBUSY:
		return "TEMPORARILY_UNAVAILABLE";
	default:
		return "INTERNAL_ERROR";
	}
}

/* MLflow's error body, as json.dumps writes {"error_code", "message"}. */
void put_error(struct http_resp *resp, const char *code, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "error_code", code, "message", message);

	if (!o || cjson_dump_spaced(o, &resp->body) || buf_error(&resp->body))
		http_resp_static(resp, 500, "application/json",
				 "{\"error_code\": \"INTERNAL_ERROR\", \"message\": \"out of memory\"}");
	json_decref(o);
}

static void render_mlflow(struct http_resp *resp, int code, const char *message)
{
	if (code == CAIRN_ETIMEDOUT) /* MLflow's timeout middleware answers a bare sentence */
		http_resp_static(resp, 504, "application/json", "Request processing time exceeded limit");
	else
		put_error(resp, error_code(code), message);
}

const struct http_ops serve_mlflow_ops = { .render_error = render_mlflow, .after = serve_after };

/* "\n" with 200 once the default model is loaded, 404 before. */
static int ping(struct http_req *req, struct http_resp *resp)
{
	struct serve_slot *slot = serve_slot_default(req->ctx);
	struct serve_model *m = slot ? model_get(slot) : NULL;

	resp->status = m ? 200 : 404;
	resp->content_type = "application/json";
	buf_puts(&resp->body, "\n");
	model_put(m);
	return buf_error(&resp->body);
}

static int version(struct http_req *req, struct http_resp *resp)
{
	struct serve *sv = req->ctx;

	resp->content_type = "application/json";
	buf_puts(&resp->body, sv->cfg.version);
	return buf_error(&resp->body);
}

/* {"predictions": [...]} as MLflow writes a numpy result: one value per row,
 * or a list per row; labels as integers. */
int serve_put_mlflow(const struct xgb_output *o, struct buf *b)
{
	buf_puts(b, "{\"predictions\": [");
	for (size_t r = 0; r < o->nrows; r++) {
		const double *row = o->data + r * o->shape.width;
		if (r)
			buf_puts(b, ", ");
		if (o->shape.matrix)
			buf_putc(b, '[');
		for (size_t c = 0; c < o->shape.width; c++) {
			if (c)
				buf_puts(b, ", ");
			if (o->shape.kind == XGB_KIND_LABELS)
				buf_printf(b, "%lld", (long long)row[c]);
			else
				serve_put_double(b, row[c]);
		}
		if (o->shape.matrix)
			buf_putc(b, ']');
	}
	buf_puts(b, "]}");
	return buf_error(b);
}

/* Score a body with the default model into resp: now, or later through the
 * batcher when req is not NULL (then HTTP_ASYNC). */
static int score(struct serve *sv, struct http_req *req, const char *ct, const char *body, size_t len,
		 struct http_resp *resp)
{
	struct serve_slot *slot = serve_slot_default(sv);
	struct serve_model *m = slot ? serve_pick(sv, slot, req) : NULL;
	struct serve_frame f = SERVE_FRAME_INIT;
	int rc;

	if (!m)
		return cairn_error_set(CAIRN_EBUSY, "no model is loaded yet");
	if (m->py) { /* MLflow's own scoring code answers in the worker */
		char id[SERVE_ID_MAX];
		serve_request_id(sv, req, id, sizeof(id));
		return serve_score_python(sv, req, resp, SERVE_MLFLOW, m, ct, body, len, id);
	}
	rc = serve_decode_mlflow(&m->in, ct, body, len, &f);
	if (rc == CAIRN_EINVALID && f.error_code) {
		/* schema errors are INVALID_PARAMETER_VALUE, parse errors BAD_REQUEST, as in MLflow */
		resp->status = 400;
		resp->content_type = "application/json";
		buf_clear(&resp->body);
		put_error(resp, f.error_code, cairn_error_msg());
		rc = 0;
	} else if (rc == CAIRN_EUNSUPPORTED) {
		/* MLflow answers content-type problems in plain text */
		resp->status = 415;
		resp->content_type = "text/plain";
		buf_clear(&resp->body);
		buf_puts(&resp->body, cairn_error_msg());
		rc = buf_error(&resp->body);
	} else if (!rc) {
		char id[SERVE_ID_MAX];
		serve_request_id(sv, req, id, sizeof(id));
		serve_shadow(sv, slot, SERVE_MLFLOW, ct, body, len, id);
		return serve_score(sv, req, resp, SERVE_MLFLOW, slot, m, &f, NULL, id); /* takes f and m */
	}
	serve_frame_release(&f);
	model_put(m);
	return rc;
}

static int invocations(struct http_req *req, struct http_resp *resp)
{
	return score(req->ctx, req, http_req_header(req, "Content-Type"), req->body.ptr, req->body.len, resp);
}

int serve_invoke(struct serve *sv, const char *ct, const char *body, size_t len, int *status, struct buf *out)
{
	struct http_resp resp = { .status = 200, .body = BUF_INIT, .fd = -1 };
	int rc;

	cairn_error_clear();
	if ((rc = score(sv, NULL, ct, body, len, &resp)))
		http_resp_error(&resp, &serve_mlflow_ops, rc, cairn_error_msg());
	*status = resp.status;
	if (resp.body_static)
		buf_puts(out, resp.body_static);
	else
		buf_put(out, resp.body.ptr, resp.body.len);
	http_resp_dispose(&resp);
	return buf_error(out);
}

const struct http_route serve_mlflow_routes[] = {
	{ .method = "GET", .path = "/ping", .fn = ping },
	{ .method = "GET", .path = "/health", .fn = ping },
	{ .method = "GET", .path = "/version", .fn = version },
	{ .method = "POST", .path = "/invocations", .fn = invocations },
};
const size_t serve_mlflow_nroutes = sizeof(serve_mlflow_routes) / sizeof(serve_mlflow_routes[0]);
