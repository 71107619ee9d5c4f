/* http.h - the one HTTP layer (libmicrohttpd), shared by every cairn server.
 *
 * Routes are static tables of struct http_route mounted under a prefix. The
 * layer reads the request, enforces the body limit, finds the route and calls
 * it; a handler fills struct http_resp and returns 0, or returns a negative
 * cairn error code (with cairn_error_set) and the layer answers with the JSON
 * error body {"error_code": ..., "message": ...} and the code's HTTP status.
 * It knows nothing of MLflow or tracking.
 *
 * Limits and guards, all applied before a handler runs (see struct
 * http_config): connection counts in total and per client address; a deadline
 * for the request head and a minimum rate for the body, enforced by a sweeper
 * thread independent of trickled bytes; a head size limit answered with 431
 * or 414; one Content-Length and no unknown Transfer-Encoding (400); the path
 * and every query key and value valid UTF-8 without NUL (400); the Host
 * header among the allowed hosts (403, DNS rebinding) and state-changing
 * requests from a browser only from allowed origins (403, cross-site
 * requests), as MLflow 3's security middleware does.
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

struct http_header {
	char *name;  /* owned */
	char *value; /* owned */
};

struct http_resp {
	int status;               /* HTTP status, default 200 */
	struct buf body;          /* response body when fd < 0 */
	const char *content_type; /* static string; default application/json */
	int fd;                   /* file to send instead of body (owned: closed by the layer) */
	uint64_t fd_size;         /* bytes to send from fd */
	const char *body_static;  /* a constant body sent instead of body (the out-of-memory answer) */
	struct http_header *headers; /* further headers (owned; see http_resp_header) */
	size_t nheaders;
};

struct http_config {
	const char *host;          /* bind address, default 127.0.0.1 */
	unsigned port;             /* default 5000 */
	unsigned threads;          /* worker threads (0: automatic) */
	size_t max_body;           /* buffered body limit in bytes (0: 16 MiB) */
	unsigned conn_timeout_s;   /* idle keep-alive timeout (0: 30) */
	unsigned max_conns;        /* open connections (0: 4096), clamped to the fd limit */
	unsigned max_conns_per_client; /* from one IP address (0: a quarter of max_conns) */
	unsigned head_timeout_s;   /* a request head must be complete this long after the
	                              connection opened or went idle (0: 20) */
	unsigned body_timeout_s;   /* a body gets this long (0: 20) plus 1 s per */
	unsigned body_min_rate;    /* ... this many bytes received (0: 500), as Apache's
	                              mod_reqtimeout: trickled bytes do not extend a deadline */
	size_t max_head;           /* request line + headers + query (0: 256 KiB); beyond: 431/414 */
	const char *allowed_hosts; /* comma-separated Host patterns (fnmatch); NULL: localhost,
	                              IP literals and this machine's name; "*": any */
	const char *allowed_origins; /* comma-separated origins allowed to make state-changing
	                              cross-origin requests; NULL: localhost only; "*": any */
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
/* Add a response header (both strings copied). */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Free what resp owns (body, fd, headers); the layer does this for served requests. */
void http_resp_dispose(struct http_resp *resp);
/* Fill resp with the JSON error body for code and message. */
void http_resp_error(struct http_resp *resp, int code, const char *message);

#endif
