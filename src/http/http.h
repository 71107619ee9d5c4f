/* http.h - the one HTTP layer (libmicrohttpd), shared by every cairn server.
 *
 * Routes are static tables of struct http_route mounted under a prefix. The
 * layer reads the request, enforces the body limit, finds the route and calls
 * it; a handler fills struct http_resp and returns 0, or returns a negative
 * cairn error code (with cairn_error_set) and the layer answers with the JSON
 * error body {"error_code": ..., "message": ...} and the code's HTTP status.
 * It knows nothing of MLflow or tracking.
 *
 * Bodies: by default the request body is buffered (up to max_body bytes) in
 * req->body before the handler runs. Routes flagged HTTP_STREAM instead get
 * each chunk through route->chunk as it arrives (artifact uploads), so large
 * bodies never sit in memory. Responses are a buffer or a file descriptor
 * (sent with sendfile where the platform allows).
 */
#ifndef CAIRN_HTTP_HTTP_H
#define CAIRN_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct http_server;
struct http_req;
struct http_resp;
struct http_route;

typedef int (*http_fn)(struct http_req *req, struct http_resp *resp);
typedef int (*http_chunk_fn)(struct http_req *req, const char *data, size_t n);
typedef void (*http_cleanup_fn)(struct http_req *req);

enum http_route_flags {
	HTTP_PREFIX = 1 << 0, /* path matches as a prefix; the remainder is req->rest */
	HTTP_STREAM = 1 << 1, /* body goes to route->chunk instead of req->body */
};

struct http_route {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* relative to the mount prefix */
	unsigned flags;           /* enum http_route_flags */
	http_fn fn;               /* called once the body is complete */
	const void *data;         /* route-specific data for fn (e.g. an API handler) */
	http_chunk_fn chunk;      /* HTTP_STREAM: called per body chunk */
	http_cleanup_fn cleanup;  /* called when the request ends, always */
};

struct http_req {
	const char *method;             /* borrowed from libmicrohttpd */
	const char *path;               /* decoded path, without the query */
	const char *rest;               /* HTTP_PREFIX: the part after the route path */
	const struct http_route *route;
	void *ctx;                      /* the mount's context */
	struct buf body;                /* buffered body (non-stream routes) */
	void *state;                    /* handler's per-request state (cleanup frees it) */
	int early_error;                /* set by a chunk callback to fail the request */
	void *conn;                     /* struct MHD_Connection * */
	uint64_t content_length;        /* Content-Length header, 0 when absent */
};

struct http_resp {
	int status;               /* HTTP status, default 200 */
	struct buf body;          /* response body when fd < 0 */
	const char *content_type; /* static string; default application/json */
	int fd;                   /* file to send instead of body (owned: closed by the layer) */
	uint64_t fd_size;         /* bytes to send from fd */
	char *extra_header_name;  /* optional one extra header (owned) */
	char *extra_header_value;
};

struct http_config {
	const char *host;         /* bind address, default 127.0.0.1 */
	unsigned port;            /* default 5000 */
	unsigned threads;         /* worker threads (0: automatic) */
	size_t max_body;          /* buffered body limit in bytes (0: 16 MiB) */
	unsigned conn_timeout_s;  /* idle connection timeout (0: 300) */
};

int http_server_new(const struct http_config *cfg, struct http_server **out);
/* Mount a route table under prefix (e.g. "/api/2.0"); table must outlive the server. */
int http_server_mount(struct http_server *s, const char *prefix, const struct http_route *routes,
		      size_t n, void *ctx);
int http_server_start(struct http_server *s);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *s);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

/* Request accessors (borrowed strings, valid during the request). */
const char *http_req_query(struct http_req *req, const char *key);
/* Call fn for each value of a repeated query key; returns the count. */
int http_req_query_each(struct http_req *req, const char *key,
			void (*fn)(void *ud, const char *value), void *ud);
const char *http_req_header(struct http_req *req, const char *name);

/* Response helpers. */
int http_resp_json_text(struct http_resp *resp, int status, const char *json);
int http_resp_fd(struct http_resp *resp, int fd, uint64_t size, const char *content_type);
/* Fill resp with the JSON error body for code and message. */
void http_resp_error(struct http_resp *resp, int code, const char *message);

#endif
