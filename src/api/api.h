/* api.h - the MLflow REST API (tracking + artifacts), mounted on the HTTP layer.
 *
 * Routes are tables in mlflow_tracking.c and mlflow_artifacts.c, mounted at
 * both /api/2.0 and /ajax-api/2.0. Every JSON route goes through one
 * dispatcher (dispatch.c) that parses the body, takes a store connection
 * from the pool, calls the handler and renders its reply or error.
 */
#ifndef CAIRN_API_API_H
#define CAIRN_API_API_H

#include "http/http.h"
#include "store/store.h"
#include "blob/blob.h"

#define CAIRN_VERSION_STRING "0.1.0"

struct api_ctx {
	struct store_pool *pool;   /* metadata connections */
	struct blob_store *blobs;  /* artifact objects */
	const char *version;       /* reported by /version */
	struct metrics *metrics;   /* what GET /metrics renders (api_mount creates it; owned) */
	struct http_metrics *http_metrics; /* the request metrics in it (owned) */
	void *metrics_args;        /* what the store metrics' callbacks read (owned) */
};

/* Connections in the store pool: one per HTTP thread (`cairn server
 * --threads` accepts up to 256) plus one for in-process users such as the
 * pipeline trigger runner, so a server never waits for a connection below
 * overload. They are opened as needed, so a small server holds few. */
#define API_POOL_CONNS (256 + 1)

/* Open the metadata store (<root>/cairn.db, migrated) and the blob store
 * (<root>/objects) under root, creating root if needed. The environment can
 * size the store pool (CAIRN_STORE_POOL, default API_POOL_CONNS) and bound
 * its waits (CAIRN_STORE_WAIT_MS, default STORE_POOL_WAIT_MS); a request that
 * meets the bound is answered 503 with Retry-After. */
int api_ctx_open(const char *root, struct api_ctx *ctx);
void api_ctx_close(struct api_ctx *ctx);

/* The MLflow error_code name for a cairn error code ("INVALID_PARAMETER_VALUE"...). */
const char *api_error_code(int code);
/* MLflow's error body {"error_code": ..., "message": ...} (an http_ops renderer). */
void api_render_error(struct http_resp *resp, int code, const char *message);
/* The operations of every MLflow API mount. */
extern const struct http_ops api_ops;

/* Mount every MLflow-compatible route on s, and GET /metrics (Prometheus:
 * the requests of every route, the store pool's waits and write-lock
 * waits). ctx must outlive the server. */
int api_mount(struct http_server *s, struct api_ctx *ctx);

/* Call a JSON API route in-process, as if it came over HTTP (the CLI's local
 * mode). path is relative to /api/2.0 (e.g. "/mlflow/runs/search"); all
 * arguments travel in the JSON body. *status gets the HTTP status and out the
 * response body (an MLflow error body on failure). Returns 0 when a response
 * was produced (check *status), or CAIRN_ENOTFOUND for an unknown route. */
int api_invoke(struct api_ctx *ctx, const char *method, const char *path, const char *body,
	       int *status, struct buf *out);

#endif
