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

struct api_ctx {
	struct store_pool *pool;   /* metadata connections */
	struct blob_store *blobs;  /* artifact objects */
	const char *version;       /* reported by /version */
};

/* Mount every MLflow-compatible route on s. ctx must outlive the server. */
int api_mount(struct http_server *s, struct api_ctx *ctx);

#endif
