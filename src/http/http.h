/* http.h - the one HTTP layer (libmicrohttpd), shared by every cairn server.
 *
 * A server hosts mounts: a static table of struct http_route under a path
 * prefix, with the mount's context and its operations (struct http_ops): how
 * its errors look (MLflow's {"error_code","message"} for the tracking API,
 * {"error": "..."} for the Open Inference Protocol) and hooks that run around
 * every request (auth, counting, timing). The layer reads the request,
 * enforces the limits, finds the route and calls it; a handler fills struct
 * http_resp and returns 0, or returns a negative cairn error code (with
 * cairn_error_set) and the mount's renderer answers with the code's HTTP
 * status (http_error_status). It knows nothing of MLflow or tracking.
 *
 * Route paths are literal, or patterns with parameters in braces, each
 * matching one non-empty path segment: "/v2/models/{name}/versions/{v}/infer"
 * (http_req_param(req, "name")). HTTP_PREFIX routes match a leading part and
 * leave the rest in req->rest. Routes are tried in mount order, then table
 * order; the first match wins.
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
 * Bodies: by default the request body is buffered (up to the route's
 * max_body, else the server's) in req->body before the handler runs. Routes
 * flagged HTTP_STREAM instead get each chunk through route->chunk as it
 * arrives (artifact uploads), so large bodies never sit in memory. Responses
 * are a buffer or a file descriptor (sent with sendfile where the platform
 * allows), with a list of extra headers.
 *
 * Asynchronous handlers: a handler may return HTTP_ASYNC and answer later,
 * from any thread, with http_req_finish(); the connection is suspended
 * meanwhile and holds no worker thread (a request waiting for a batch).
 */
#ifndef CAIRN_HTTP_HTTP_H
#define CAIRN_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/metrics.h"

struct http_server;
struct http_req;
struct http_resp;
struct http_route;

typedef int (*http_fn)(struct http_req *req, struct http_resp *resp);
typedef int (*http_chunk_fn)(struct http_req *req, const char *data, size_t n);
typedef void (*http_cleanup_fn)(struct http_req *req);

/* A handler's return: the answer comes later through http_req_finish(). */
#define HTTP_ASYNC 1

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
	size_t max_body;          /* buffered body limit for this route (0: the server's) */
};

/* What a mount does around its routes. Every member may be NULL. */
struct http_ops {
	/* Write the error body for code and message into resp. resp->status is
	 * already http_error_status(code) (or 413 for an oversized body); the
	 * renderer may change it. It must not fail: when out of memory it sets
	 * resp->body_static. NULL: {"error": "<message>"}. */
	void (*render_error)(struct http_resp *resp, int code, const char *message);
	/* Runs once the head is complete and has passed the checks, before the
	 * body is read (req->route is NULL when no route matched; req->body is
	 * empty). A negative return answers the request with that error and no
	 * handler runs: the place for authentication. */
	int (*before)(struct http_req *req, struct http_resp *resp);
	/* Runs for every answered request of the mount, errors included, just
	 * before the answer is sent, with the time since its head arrived. Must
	 * not block: counting and timing. */
	void (*after)(struct http_req *req, const struct http_resp *resp, uint64_t elapsed_ns);
};

#define HTTP_MAX_PARAMS 4

struct http_param {
	const char *name;  /* the pattern's name, without braces (not NUL-terminated) */
	size_t name_len;
	const char *value; /* the decoded segment (NUL-terminated, owned by the request) */
};

struct http_req {
	const char *method;             /* borrowed from libmicrohttpd */
	const char *path;               /* decoded path, without the query */
	const char *rest;               /* HTTP_PREFIX: the part after the route path */
	const struct http_route *route; /* NULL when no route matched (hooks and renderers see it) */
	const char *prefix;             /* the mount's prefix ("" for the root) */
	void *ctx;                      /* the mount's context */
	struct http_param params[HTTP_MAX_PARAMS]; /* a pattern route's parameters */
	size_t nparams;
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
	const char *host;          /* bind address, IPv4 or IPv6 ("::" takes both), default 127.0.0.1 */
	unsigned port;             /* default 5000 */
	unsigned threads;          /* worker threads (0: automatic) */
	size_t max_body;           /* buffered body limit in bytes (0: 16 MiB); routes may set their own */
	unsigned conn_timeout_s;   /* idle keep-alive timeout (0: 30) */
	unsigned max_conns;        /* open connections (0: 4096), clamped to the fd limit */
	unsigned max_conns_per_client; /* from one IP address (0: a quarter of max_conns) */
	unsigned head_timeout_s;   /* a request head must be complete this long after the
	                              connection opened or went idle (0: 20) */
	unsigned body_timeout_s;   /* a body gets this long (0: 20) plus 1 s per */
	unsigned body_min_rate;    /* ... this many bytes received (0: 500), as Apache's
	                              mod_reqtimeout: trickled bytes do not extend a deadline */
	size_t max_head;           /* request line + headers + query, and libmicrohttpd's per-connection
	                              memory pool (0: 128 KiB); beyond: 431/414 */
	const char *allowed_hosts; /* comma-separated Host patterns (fnmatch); NULL: localhost,
	                              IP literals and this machine's name; "*": any */
	const char *allowed_origins; /* comma-separated origins allowed to make state-changing
	                              cross-origin requests; NULL: localhost only; "*": any */
};

int http_server_new(const struct http_config *cfg, struct http_server **out);
/* Mount a route table under prefix (e.g. "/api/2.0") with its context and
 * operations (NULL: the defaults); routes and ops must outlive the server. A
 * request no route matches is answered by the mount with the longest prefix
 * of its path (the first mount when none), whose hooks also see it. */
int http_server_mount(struct http_server *s, const char *prefix, const struct http_route *routes,
		      size_t n, void *ctx, const struct http_ops *ops);
int http_server_start(struct http_server *s);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const struct http_server *s);
/* Graceful shutdown, first half: stop accepting connections, answer what is
 * in flight (each with Connection: close) and wait up to timeout_ms for the
 * requests in flight to end. Returns how many are still in flight (0: all
 * done). http_server_stop() follows. */
unsigned http_server_drain(struct http_server *s, unsigned timeout_ms);
/* Requests between their head and their end, asynchronous ones included. */
unsigned http_server_inflight(const struct http_server *s);
/* Open connections. */
unsigned http_server_connections(const struct http_server *s);
/* Stop serving. Every asynchronous request must have been finished (stop
 * their producers first): libmicrohttpd cannot stop with a suspended
 * connection, so stop waits for them. */
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);

/* The HTTP status for a cairn error code (400, 404, 500...). */
int http_error_status(int code);

/* Request accessors (borrowed strings, valid during the request). */
const char *http_req_query(struct http_req *req, const char *key);
/* Call fn for each value of a repeated query key; returns the count. */
int http_req_query_each(struct http_req *req, const char *key,
			void (*fn)(void *ud, const char *value), void *ud);
const char *http_req_header(struct http_req *req, const char *name);
/* When a served request's head arrived (monotonic ns); 0 for a request
 * made in-process (req->conn NULL). */
uint64_t http_req_start_ns(const struct http_req *req);
/* A path parameter of a pattern route ("name" for "{name}"), or NULL. */
const char *http_req_param(const struct http_req *req, const char *name);
/* Finish a request whose handler returned HTTP_ASYNC, from any thread,
 * exactly once: resp (the one the handler got) holds the answer when rc is 0;
 * else the mount renders the error rc with message. The request may be
 * freed as soon as this returns: touch neither it nor resp afterwards. */
void http_req_finish(struct http_req *req, int rc, const char *message);

/* Response helpers. */
int http_resp_json_text(struct http_resp *resp, int status, const char *json);
int http_resp_fd(struct http_resp *resp, int fd, uint64_t size, const char *content_type);
/* Add a response header (both strings copied). */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);
/* Free what resp owns (body, fd, headers); the layer does this for served requests. */
void http_resp_dispose(struct http_resp *resp);
/* Answer resp with the error code and message as ops renders it (ops or its
 * renderer NULL: {"error": message}), with status http_error_status(code);
 * what resp held before is dropped. For callers outside a served request
 * (in-process calls); the layer does it for handlers' errors. */
void http_resp_error(struct http_resp *resp, const struct http_ops *ops, int code, const char *message);
/* Drop resp's body (and fd) and set a body from a constant string. */
void http_resp_static(struct http_resp *resp, int status, const char *content_type, const char *body);

/* ---- a directory of built files (static.c): the web UI ---- */

struct http_static;
/* Mount dir's files under prefix: GET / and /index.html answer index.html
 * (revalidated on every use: Cache-Control no-cache, an ETag, 304), GET
 * /assets/<path> the files under assets/ (content-hashed names: cached for a
 * year, immutable). A file's gzip twin (name.gz) is sent to clients that
 * accept gzip. When dir is NULL, does not exist or has no index.html, GET /
 * answers 404 with missing_html (a page saying how to build it). *out is
 * freed with http_static_free after the server. */
int http_static_mount(struct http_server *s, const char *prefix, const char *dir, const char *missing_html,
		      struct http_static **out);
/* Whether there is an index.html to serve. */
bool http_static_ready(const struct http_static *hs);
void http_static_free(struct http_static *hs);

/* ---- request metrics (metrics.c), for a mount's after hook ---- */

struct http_metrics;
/* Register in m the request metrics of srv, named <prefix>_http_...:
 * requests_total {route, method, status}, request_duration_seconds {route,
 * method}, requests_in_flight and connections_open. The route label is the
 * mount prefix plus the route's pattern ("unmatched" when none matched). */
int http_metrics_new(struct metrics *m, const char *prefix, struct http_server *srv, struct http_metrics **out);
void http_metrics_free(struct http_metrics *hm);
/* Count one answered request (an after hook's arguments). */
void http_metrics_observe(struct http_metrics *hm, const struct http_req *req, const struct http_resp *resp,
			  uint64_t elapsed_ns);
/* Answer resp with m in the Prometheus text format. */
int http_resp_metrics(struct http_resp *resp, struct metrics *m);

#endif
