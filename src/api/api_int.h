/* api_int.h - what the API's route files share: the call context and helpers. */
#ifndef CAIRN_API_INT_H
#define CAIRN_API_INT_H

#include "api/api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"

struct api_call {
	struct http_req *req;
	struct http_resp *resp;
	struct api_ctx *ctx;
	json_t *body;    /* parsed JSON body (an empty object for GET) */
	struct store *st;
	json_t *reply;   /* set by the handler; NULL renders {} */
	bool raw;        /* handler filled resp itself */
};

typedef int (*api_fn)(struct api_call *c);

/* route->data points at one of these (function pointers don't fit in void *). */
struct api_handler {
	api_fn fn;
};

/* The generic http_fn: route->data is the api_fn. */
int api_dispatch(struct http_req *req, struct http_resp *resp);

/* Returns rc; when it is CAIRN_EBUSY (HTTP 503, TEMPORARILY_UNAVAILABLE) the
 * response also gets a Retry-After header. Every handler that can meet a
 * busy store returns through it. */
#define API_RETRY_AFTER_S "1"
int api_busy(struct http_resp *resp, int rc);

/* Request fields: from the JSON body, else the query string. */
int api_str(struct api_call *c, const char *key, bool required, const char **out);
int api_int64(struct api_call *c, const char *key, bool required, int64_t *out);
/* Who is calling, for audit records: the X-Cairn-User header, else the
 * request's user_id field, else "". */
/* An artifact path made safe (core/path.h's path_clean_rel); refused with
 * MLflow's terse "Invalid path" (its validate_path_is_safe). */
int api_path(const char *p, bool allow_empty, struct buf *out);
/* An artifact download as MLflow answers it: MLflow's Content-Type for the
 * name (api_artifact_type: text/plain for its text extensions and MLmodel,
 * else Python's mimetypes table, else application/octet-stream) and
 * Content-Disposition: attachment; filename=<base name>. Takes fd. */
const char *api_artifact_type(const char *path);
struct http_resp;
int api_send_artifact(struct http_resp *resp, int fd, uint64_t size, const char *path);
/* Answer with the file at rel (checked: api_path) under an artifact root
 * served here (mlflow-artifacts:/...; another root is 400, a missing file
 * 404), as api_send_artifact does; c->raw is set. */
struct api_call;
int api_send_under(struct api_call *c, const char *root_uri, const char *rel);
/* MLflow's message for a query-string value of the wrong type (returns CAIRN_EINVALID). */
int api_invalid_query(const char *key, const char *value);
const char *api_user(struct api_call *c);
/* Array of strings from the body, or repeated query keys; *out is owned (free the array only). */
int api_str_list(struct api_call *c, const char *key, const char ***out, size_t *n);

struct trk_page;
/* Paging arguments of a search: max_results (>= 1), page_token, filter,
 * order_by and, when view_key is not NULL, the view named by that key.
 * *order (free() it) holds the order_by strings pg points at. */
int api_page_args(struct api_call *c, const char *view_key, struct trk_page *pg, const char ***order);

#define API_ROUTE(m, p, f) { .method = (m), .path = (p), .fn = api_dispatch, .data = &(const struct api_handler){ (f) } }

extern const struct http_route api_tracking_routes[];
extern const size_t api_tracking_nroutes;
extern const struct http_route api_root_routes_artifacts[];
extern const size_t api_root_routes_artifacts_n;
extern const struct http_route api_artifact_routes[];
extern const size_t api_artifact_nroutes;
extern const struct http_route api_logged_model_routes[];
extern const size_t api_logged_model_nroutes;
extern const struct http_route api_registry_routes[];
extern const size_t api_registry_nroutes;
extern const struct http_route api_cairn_deployment_routes[];
extern const size_t api_cairn_deployment_nroutes;
extern const struct http_route api_cairn_tracking_routes[];
extern const size_t api_cairn_tracking_nroutes;
extern const struct http_route api_cairn_registry_routes[];
extern const size_t api_cairn_registry_nroutes;
extern const struct http_route api_cairn_monitor_routes[];
extern const size_t api_cairn_monitor_nroutes;

#endif
