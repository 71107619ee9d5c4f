/* server.c - libmicrohttpd glue: limits, head checks, mounts and routing
 * (patterns with parameters), hooks, body limits, streaming, asynchronous
 * answers (suspend/resume), error rendering, draining. */
#include "http/http_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MOUNTS 16

struct mount {
	char *prefix;
	size_t prefix_len;
	const struct http_route *routes;
	size_t n;
	void *ctx;
	const struct http_ops *ops;    /* never NULL (no_ops when none given) */
	bool *pattern;                 /* per route: its path has {parameters} (owned) */
};

static const struct http_ops no_ops;

struct http_server {
	struct http_config cfg;
	struct MHD_Daemon *d;
	struct mount mounts[MAX_MOUNTS];
	size_t nmounts;
	unsigned port;
	struct conn_table conns;   /* open connections and their deadlines */
	struct http_policy policy; /* allowed hosts and origins */
	bool policy_ready;
	pthread_mutex_t async_mu;  /* guards every request's async state and the suspended list */
	struct req_state *suspended; /* suspended requests, under async_mu */
	unsigned nsuspended;
	_Atomic unsigned inflight; /* requests between head and end */
	_Atomic bool draining;     /* answers carry Connection: close */
	bool quiesced;             /* draining: the listening socket is closed */
};

/* Where an asynchronous request stands (under async_mu). */
enum async_state {
	ASYNC_NONE,      /* no handler returned HTTP_ASYNC */
	ASYNC_SUSPENDED, /* the handler returned it and the connection is suspended */
	ASYNC_FINISHED,  /* http_req_finish() ran: answer on the next call */
};

/* per-request state stored in libmicrohttpd's con_cls */
struct req_state {
	struct http_req req;       /* first: http_req_finish() finds the state from it */
	struct http_resp resp;     /* the answer being built (lives as long as the request) */
	struct http_server *srv;
	const struct mount *mount; /* the route's mount, or the one answering for the path */
	struct http_conn *conn;    /* the connection's deadline record (may be NULL) */
	char *params;              /* copies of the path parameters' values (owned) */
	uint64_t t0_ns;            /* when the head arrived */
	bool counted;              /* in srv->inflight */
	int async;                 /* enum async_state, under srv->async_mu */
	bool finished_early;       /* http_req_finish() ran before the handler returned */
	int async_rc;              /* http_req_finish()'s rc */
	char *async_msg;           /* ... and message (owned; may be NULL) */
	struct req_state *snext, *sprev; /* the suspended list */
	char *early_msg;           /* message of req.early_error, kept with the request */
	bool too_big;
	bool method_mismatch;
	bool answered;             /* an error was queued at head time; the body is discarded */
	bool head_done;            /* on_head ran */
	bool refused;              /* answered from the URI callback: close without a handler */
};

/* What one query argument costs in libmicrohttpd's per-connection pool beyond
 * its bytes (a header record), and what the rest of a head needs. */
#define ARG_RECORD_COST 64u
#define HEAD_RESERVE (8u << 10)

/* Fewer descriptors than this are left for the store, blobs and logs. */
#define FD_RESERVE 128u

int http_server_new(const struct http_config *cfg, struct http_server **out)
{
	struct http_server *s = ccalloc(1, sizeof(*s));
	int rc;

	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->cfg = *cfg;
	if (!s->cfg.host)
		s->cfg.host = "127.0.0.1";
	if (!s->cfg.max_body)
		s->cfg.max_body = 16u << 20;
	if (!s->cfg.conn_timeout_s)
		s->cfg.conn_timeout_s = 30;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 4096;
	if (!s->cfg.head_timeout_s)
		s->cfg.head_timeout_s = 20;
	if (!s->cfg.body_timeout_s)
		s->cfg.body_timeout_s = 20;
	if (!s->cfg.body_min_rate)
		s->cfg.body_min_rate = 500;
	if (!s->cfg.max_head)
		s->cfg.max_head = 128u << 10;
	if (!s->cfg.threads) {   /* 2 per CPU this process may use, at least 4 (blocking handlers) */
		unsigned n = cairn_cpus();
		s->cfg.threads = n * 2 < 4 ? 4 : n * 2;
	}
	if ((rc = http_policy_init(&s->policy, &s->cfg))) {
		free(s);
		return rc;
	}
	s->policy_ready = true;
	conn_table_init(&s->conns, &s->cfg);
	pthread_mutex_init(&s->async_mu, NULL);
	*out = s;
	return 0;
}

int http_server_mount(struct http_server *s, const char *prefix, const struct http_route *routes,
		      size_t n, void *ctx, const struct http_ops *ops)
{
	struct mount *m;

	if (s->nmounts == MAX_MOUNTS)
		return cairn_error_set(CAIRN_ETOOBIG, "too many route mounts");
	m = &s->mounts[s->nmounts];
	m->prefix = cstrdup(prefix);
	m->pattern = ccalloc(n ? n : 1, sizeof(*m->pattern));
	if (!m->prefix || !m->pattern) {
		free(m->prefix);
		free(m->pattern);
		memset(m, 0, sizeof(*m));
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct http_match hm;
		m->pattern[i] = strchr(routes[i].path, '{') != NULL;
		if (m->pattern[i] && !http_pattern_valid(routes[i].path, &hm))
			CAIRN_BUG("bad route pattern");
	}
	m->prefix_len = strlen(prefix);
	m->routes = routes;
	m->n = n;
	m->ctx = ctx;
	m->ops = ops ? ops : &no_ops;
	s->nmounts++;
	return 0;
}

/* Find the route for method+path into st (route, ctx, prefix, parameters,
 * mount). Sets *mismatch when only the method differs. Without a route,
 * st->mount is the mount with the longest prefix of path (the first when
 * none), which answers the request. Returns false only when out of memory. */
static bool route_find(struct http_server *s, struct req_state *st, const char *method, const char *path,
		       bool *mismatch)
{
	struct http_req *req = &st->req;
	const struct mount *fallback = s->nmounts ? &s->mounts[0] : NULL;
	size_t fallback_len = 0;

	*mismatch = false;
	for (size_t i = 0; i < s->nmounts; i++) {
		struct mount *m = &s->mounts[i];
		const char *p;

		if (strncmp(path, m->prefix, m->prefix_len))
			continue;
		if (m->prefix_len > fallback_len) {
			fallback = m;
			fallback_len = m->prefix_len;
		}
		p = path + m->prefix_len;
		for (size_t j = 0; j < m->n; j++) {
			const struct http_route *r = &m->routes[j];
			struct http_match hm;
			size_t rl;
			bool hit;

			if (m->pattern[j]) {
				hit = http_pattern_match(r->path, p, r->flags & HTTP_PREFIX, &hm);
				rl = hm.end;
			} else {
				rl = strlen(r->path);
				hit = (r->flags & HTTP_PREFIX) ? !strncmp(p, r->path, rl) : !strcmp(p, r->path);
			}
			if (!hit)
				continue;
			if (strcmp(method, r->method) && !(!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
				*mismatch = true;
				continue;
			}
			req->rest = p + rl;
			req->route = r;
			req->ctx = m->ctx;
			req->prefix = m->prefix;
			st->mount = m;
			if (m->pattern[j] && hm.n) {
				/* the values, each NUL-terminated, in one allocation */
				size_t total = 0, off = 0;
				for (size_t k = 0; k < hm.n; k++)
					total += hm.p[k].len + 1;
				if (!(st->params = cmalloc(total)))
					return false;
				for (size_t k = 0; k < hm.n; k++) {
					memcpy(st->params + off, p + hm.p[k].off, hm.p[k].len);
					st->params[off + hm.p[k].len] = '\0';
					req->params[k].name = hm.p[k].name;
					req->params[k].name_len = hm.p[k].name_len;
					req->params[k].value = st->params + off;
					off += hm.p[k].len + 1;
				}
				req->nparams = hm.n;
			}
			return true;
		}
	}
	st->mount = fallback;
	if (fallback) {
		req->ctx = fallback->ctx;
		req->prefix = fallback->prefix;
	}
	return true;
}

uint64_t http_req_start_ns(const struct http_req *req)
{
	/* only a served request lives in a req_state (in-process ones are the caller's) */
	return req->conn ? ((const struct req_state *)req)->t0_ns : 0;
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < req->nparams; i++)
		if (req->params[i].name_len == n && !memcmp(req->params[i].name, name, n))
			return req->params[i].value;
	return NULL;
}

static const struct {
	int code;
	int status;
} status_table[] = {
	{ CAIRN_ERR, 500 },     { CAIRN_ENOTFOUND, 404 },    { CAIRN_EEXISTS, 400 }, { CAIRN_EINVALID, 400 },
	{ CAIRN_ECONFLICT, 400 }, { CAIRN_ETOOBIG, 400 },    { CAIRN_EIO, 500 },     { CAIRN_ENOMEM, 500 },
	{ CAIRN_EBUSY, 503 },   { CAIRN_EUNSUPPORTED, 501 }, { CAIRN_EPERM, 403 },   { CAIRN_ENOROUTE, 404 },
	{ CAIRN_EMETHOD, 405 },   { CAIRN_ETIMEDOUT, 504 },
};

int http_error_status(int code)
{
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
		if (status_table[i].code == code)
			return status_table[i].status;
	return 500;
}

void http_resp_static(struct http_resp *resp, int status, const char *content_type, const char *body)
{
	if (resp->fd >= 0) {
		close(resp->fd);
		resp->fd = -1;
	}
	buf_release(&resp->body);
	resp->status = status;
	resp->content_type = content_type;
	resp->body_static = body;
}

/* The default renderer: {"error": message}. */
static void render_plain(struct http_resp *resp, int code, const char *message)
{
	json_t *o = json_pack("{s:s}", "error", message);

	if (!o || cjson_dump(o, &resp->body) || buf_error(&resp->body))
		http_resp_static(resp, 500, "application/json", "{\"error\":\"out of memory\"}");
	json_decref(o);
}

/* resp answers with the error code and message as ops renders it, with
 * status, or the code's status when status is 0. */
static void render(struct http_resp *resp, const struct http_ops *ops, int code, const char *message, int status)
{
	if (resp->fd >= 0) {
		close(resp->fd);
		resp->fd = -1;
	}
	resp->body_static = NULL;
	buf_clear(&resp->body);
	resp->status = status ? status : http_error_status(code);
	resp->content_type = "application/json";
	if (!message || !*message)
		message = cairn_err_name(code);
	if (ops && ops->render_error)
		ops->render_error(resp, code, message);
	else
		render_plain(resp, code, message);
}

void http_resp_error(struct http_resp *resp, const struct http_ops *ops, int code, const char *message)
{
	render(resp, ops, code, message, 0);
}

/* st's answer is an error, as its mount renders errors. */
static void st_error(struct req_state *st, int code, const char *message, int status)
{
	render(&st->resp, st->mount ? st->mount->ops : NULL, code, message, status);
}

int http_resp_json_text(struct http_resp *resp, int status, const char *json)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->body_static = NULL;
	buf_clear(&resp->body);
	buf_puts(&resp->body, json);
	return buf_error(&resp->body);
}

int http_resp_fd(struct http_resp *resp, int fd, uint64_t size, const char *content_type)
{
	if (resp->fd >= 0)
		close(resp->fd);
	resp->fd = fd;
	resp->fd_size = size;
	resp->content_type = content_type;
	return 0;
}

const char *http_req_query(struct http_req *req, const char *key)
{
	if (!req->conn) /* in-process call: no query string */
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct each_ctx {
	const char *key;
	void (*fn)(void *ud, const char *value);
	void *ud;
	int count;
};

static enum MHD_Result each_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct each_ctx *e = cls;

	if (key && !strcmp(key, e->key)) {
		e->fn(e->ud, value ? value : "");
		e->count++;
	}
	return MHD_YES;
}

int http_req_query_each(struct http_req *req, const char *key, void (*fn)(void *ud, const char *value),
			void *ud)
{
	struct each_ctx e = { key, fn, ud, 0 };

	if (!req->conn)
		return 0;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, each_cb, &e);
	return e.count;
}

const char *http_req_header(struct http_req *req, const char *name)
{
	if (!req->conn)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

int http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	struct http_header *nh;
	char *n = cstrdup(name), *v = cstrdup(value);

	if (!n || !v || !(nh = crealloc(resp->headers, (resp->nheaders + 1) * sizeof(*nh)))) {
		free(n);
		free(v);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	resp->headers = nh;
	nh[resp->nheaders].name = n;
	nh[resp->nheaders].value = v;
	resp->nheaders++;
	return 0;
}

static void resp_header(struct http_resp *resp, const char *name, const char *value)
{
	(void)http_resp_header(resp, name, value); /* a header lost to OOM is not worth failing for */
}

static enum MHD_Result send_resp(struct http_server *s, struct MHD_Connection *conn, struct http_resp *resp,
				 bool close_after)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *origin;

	if (resp->fd >= 0) {
		r = MHD_create_response_from_fd64(resp->fd_size, resp->fd);
		if (r)
			resp->fd = -1; /* owned by the response now */
	} else if (resp->body_static) {
		r = MHD_create_response_from_buffer(strlen(resp->body_static), (void *)resp->body_static,
						    MHD_RESPMEM_PERSISTENT);
	} else {
		size_t n = resp->body.len;
		char *p = buf_detach(&resp->body);
		r = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
		if (!r)
			free(p);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				resp->content_type ? resp->content_type : "application/json");
	/* as MLflow's server, on every answer */
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "SAMEORIGIN");
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
	origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	if (origin && http_text_ok(origin) &&
	    http_origin_allowed(&s->policy, origin, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host"))) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
		MHD_add_response_header(r, "Access-Control-Allow-Credentials", "true");
		MHD_add_response_header(r, "Vary", "Origin");
	}
	if (close_after)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

void http_resp_dispose(struct http_resp *resp)
{
	buf_release(&resp->body);
	if (resp->fd >= 0)
		close(resp->fd);
	resp->fd = -1;
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	resp->headers = NULL;
	resp->nheaders = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Send st's answer: the mount's after hook sees it first. close_after (or a
 * draining server) closes the connection after it. */
static enum MHD_Result st_send(struct http_server *s, struct MHD_Connection *conn, struct req_state *st,
			       bool close_after)
{
	enum MHD_Result ret;

	if (st->mount && st->mount->ops->after)
		st->mount->ops->after(&st->req, &st->resp, now_ns() - st->t0_ns);
	ret = send_resp(s, conn, &st->resp, close_after || atomic_load(&s->draining));
	http_resp_dispose(&st->resp);
	return ret;
}

/* Queue st's answer at once, before the body is read: libmicrohttpd then
 * discards the body and closes the connection after the answer. */
static enum MHD_Result answer_early(struct http_server *s, struct MHD_Connection *conn, struct req_state *st)
{
	st->answered = true;
	conn_body_done(st->conn);
	return st_send(s, conn, st, true);
}

static void resp_text(struct http_resp *resp, int status, const char *text)
{
	resp->status = status;
	resp->content_type = "text/plain";
	buf_clear(&resp->body);
	buf_puts(&resp->body, text);
}

struct framing {
	unsigned content_lengths;
	bool transfer_encoding;
	bool chunked;
	bool bad_query;
};

static enum MHD_Result framing_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;

	if (!key)
		return MHD_YES;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->content_lengths++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		if (f->transfer_encoding || !value || strcasecmp(value, "chunked"))
			f->chunked = false;
		else
			f->chunked = true;
		f->transfer_encoding = true;
	}
	return MHD_YES;
}

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct framing *f = cls;

	if ((key && !http_text_ok(key)) || (value && !http_text_ok(value))) {
		f->bad_query = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* The checks of a complete request head, before any hook or handler.
 * Returns true when st->resp holds the answer (an error, or a CORS
 * preflight). */
static bool check_head(struct http_server *s, struct MHD_Connection *conn, struct req_state *st, const char *method,
		       const char *url)
{
	struct framing f = { 0 };
	struct http_resp *resp = &st->resp;
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");

	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_cb, &f);
	if (f.content_lengths > 1) {
		st_error(st, CAIRN_EINVALID, "more than one Content-Length header", 0);
		return true;
	}
	if (f.transfer_encoding && (!f.chunked || f.content_lengths)) {
		st_error(st, CAIRN_EINVALID, f.chunked ? "both Transfer-Encoding and Content-Length"
						       : "unsupported Transfer-Encoding (only chunked)", 0);
		return true;
	}
	if (!http_text_ok(url)) {
		st_error(st, CAIRN_EINVALID, "invalid path: not UTF-8, or an encoded NUL", 0);
		return true;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_cb, &f);
	if (f.bad_query) {
		st_error(st, CAIRN_EINVALID, "invalid query string: a key or value is not UTF-8, or has an encoded NUL", 0);
		return true;
	}
	if (strcmp(url, "/health") && strcmp(url, "/version") && !http_host_allowed(&s->policy, host)) {
		cairn_log(LOG_WARN, "http: refused a request with Host '%.100s' (not in --allowed-hosts)",
			  host ? host : "");
		resp_text(resp, 403, "Invalid Host header - possible DNS rebinding attack detected");
		return true;
	}
	if (!strcmp(method, "OPTIONS")) { /* CORS preflight */
		if (!origin || !http_origin_allowed(&s->policy, origin, host)) {
			resp_text(resp, 403, "Cross-origin request blocked");
		} else {
			const char *rh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								     "Access-Control-Request-Headers");
			resp->status = 204;
			resp_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, PATCH, OPTIONS");
			if (rh && http_text_ok(rh))
				resp_header(resp, "Access-Control-Allow-Headers", rh);
			resp_header(resp, "Access-Control-Max-Age", "600");
		}
		return true;
	}
	if (http_method_changes_state(method) && !http_origin_allowed(&s->policy, origin, host)) {
		cairn_log(LOG_WARN, "http: blocked a cross-origin %s %.200s from %.100s", method, url, origin);
		resp_text(resp, 403, "Cross-origin request blocked");
		return true;
	}
	return false;
}

/* A fresh request state: an empty answer. */
static struct req_state *st_new(struct http_server *s)
{
	struct req_state *st = ccalloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->srv = s;
	st->resp.status = 200;
	st->resp.body = (struct buf)BUF_INIT;
	st->resp.fd = -1;
	st->req.body = (struct buf)BUF_INIT;
	st->req.rest = "";
	st->req.prefix = "";
	return st;
}

static size_t body_limit(const struct http_server *s, const struct http_route *r)
{
	return r && r->max_body ? r->max_body : s->cfg.max_body;
}

static void body_too_big(struct req_state *st, size_t limit)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes", limit);
	st_error(st, CAIRN_ETOOBIG, msg, 413);
}

static enum MHD_Result on_head(struct http_server *s, struct MHD_Connection *conn, const char *url,
			       const char *method, void **con_cls)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct req_state *st = *con_cls ? *con_cls : st_new(s);
	const char *cl, *te;
	int rc;

	if (!st)
		return MHD_NO;
	*con_cls = st;
	st->head_done = true;
	st->t0_ns = now_ns();
	st->counted = true;
	atomic_fetch_add(&s->inflight, 1);
	st->conn = ci ? ci->socket_context : NULL;
	st->req.method = method;
	st->req.path = url;
	st->req.conn = conn;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (cl)
		st->req.content_length = strtoull(cl, NULL, 10);
	if (!route_find(s, st, method, url, &st->method_mismatch))
		return MHD_NO; /* out of memory for the parameters */
	if (check_head(s, conn, st, method, url))
		return answer_early(s, conn, st);
	if (st->mount && st->mount->ops->before) {
		cairn_error_clear();
		if ((rc = st->mount->ops->before(&st->req, &st->resp)) < 0) {
			st_error(st, rc, cairn_error_msg(), 0);
			return answer_early(s, conn, st);
		}
	}
	if (st->req.route && !(st->req.route->flags & HTTP_STREAM) &&
	    st->req.content_length > body_limit(s, st->req.route)) {
		body_too_big(st, body_limit(s, st->req.route));
		return answer_early(s, conn, st);
	}
	buf_init(&st->req.body, body_limit(s, st->req.route));
	if (st->req.content_length || te)
		conn_body_begin(&s->conns, st->conn);
	return MHD_YES;
}

/* Run the route's handler for a complete request. Returns true when the
 * request went asynchronous (the connection is suspended: answer nothing
 * now). */
static bool run_handler(struct http_server *s, struct MHD_Connection *conn, struct req_state *st)
{
	int rc;

	cairn_error_clear();
	rc = st->req.route->fn(&st->req, &st->resp);
	if (rc == HTTP_ASYNC) {
		pthread_mutex_lock(&s->async_mu);
		if (st->finished_early) {
			pthread_mutex_unlock(&s->async_mu);
			rc = st->async_rc;
			if (rc)
				st_error(st, rc, st->async_msg, 0);
			return false;
		}
		st->async = ASYNC_SUSPENDED;
		st->snext = s->suspended;
		st->sprev = NULL;
		if (s->suspended)
			s->suspended->sprev = st;
		s->suspended = st;
		s->nsuspended++;
		MHD_suspend_connection(conn);
		pthread_mutex_unlock(&s->async_mu);
		return true;
	}
	if (rc) {
		st_error(st, rc, cairn_error_msg(), 0);
		if (rc == CAIRN_ERR || rc == CAIRN_EIO || rc == CAIRN_ENOMEM)
			cairn_log(LOG_ERROR, "%s %s: %s", st->req.method, st->req.path, cairn_error_msg());
	}
	return false;
}

void http_req_finish(struct http_req *req, int rc, const char *message)
{
	struct req_state *st = (struct req_state *)req; /* req is the state's first member */
	struct http_server *s = st->srv;
	char *msg = rc && message ? cstrdup(message) : NULL;

	pthread_mutex_lock(&s->async_mu);
	st->async_rc = rc;
	free(st->async_msg);
	st->async_msg = msg;
	if (st->async == ASYNC_SUSPENDED) {
		if (st->sprev)
			st->sprev->snext = st->snext;
		else
			s->suspended = st->snext;
		if (st->snext)
			st->snext->sprev = st->sprev;
		s->nsuspended--;
		st->async = ASYNC_FINISHED;
		MHD_resume_connection(req->conn);
	} else if (st->async == ASYNC_NONE) {
		st->finished_early = true; /* the handler has not returned yet */
	}
	pthread_mutex_unlock(&s->async_mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;
	int rc;

	if (st && st->refused)
		return MHD_NO;
	if (!st || !st->head_done)
		return on_head(s, conn, url, method, con_cls);
	if (st->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->async == ASYNC_FINISHED) { /* resumed: http_req_finish() ran */
		if (st->async_rc)
			st_error(st, st->async_rc, st->async_msg, 0);
		return st_send(s, conn, st, false);
	}
	if (*upload_data_size) {
		conn_body_bytes(&s->conns, st->conn, *upload_data_size);
		if (st->too_big || st->req.early_error || !st->req.route) {
			/* discard */
		} else if (st->req.route->flags & HTTP_STREAM) {
			cairn_error_clear();
			rc = st->req.route->chunk(&st->req, upload_data, *upload_data_size);
			if (rc) {
				st->req.early_error = rc;
				st->early_msg = cstrdup(cairn_error_msg());
			}
		} else if ((rc = buf_put(&st->req.body, upload_data, *upload_data_size))) {
			if (rc == CAIRN_ETOOBIG)
				st->too_big = true;
			else if (!st->req.early_error)
				st->req.early_error = cairn_error_set(rc, "out of memory reading the request body");
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* request complete: answer */
	conn_body_done(st->conn);
	if (!st->req.route) {
		char msg[512];
		snprintf(msg, sizeof(msg), st->method_mismatch ? "method %s is not allowed for '%.300s'"
							       : "no endpoint for %s '%.300s'", method, url);
		st_error(st, st->method_mismatch ? CAIRN_EMETHOD : CAIRN_ENOROUTE, msg, 0);
	} else if (st->too_big) {
		body_too_big(st, body_limit(s, st->req.route));
	} else if (st->req.early_error) {
		st_error(st, st->req.early_error, st->early_msg ? st->early_msg : "", 0);
	} else if (run_handler(s, conn, st)) {
		return MHD_YES; /* suspended until http_req_finish() */
	}
	return st_send(s, conn, st, false);
}

/* Called with the raw request target before libmicrohttpd parses its query.
 * libmicrohttpd 0.9.75 answers nothing at all when the query's arguments do
 * not fit its per-connection pool (its 431 needs pool memory too), so a
 * target that would not fit is answered 414 here, on the socket directly,
 * and the connection is shut down: no handler runs for it. Returns the
 * request's state, which libmicrohttpd hands to on_request. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *s = cls;
	struct req_state *st = st_new(s);
	const char *q = strchr(uri, '?');
	size_t len = strlen(uri), nargs = 0;

	if (q)
		for (nargs = 1; (q = strchr(q + 1, '&')); nargs++)
			;
	if (nargs) {
		size_t need = len + nargs * ARG_RECORD_COST + HEAD_RESERVE;
		if (need > s->cfg.max_head) {
			const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
			char body[256], msg[512];
			int bn = snprintf(body, sizeof(body),
					  "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"the request target has %zu "
					  "query arguments in %zu bytes, more than the %zu KiB request head limit allows\"}",
					  nargs, len, s->cfg.max_head >> 10);
			int mn = snprintf(msg, sizeof(msg),
					  "HTTP/1.1 414 URI Too Long\r\nContent-Type: application/json\r\nX-Content-Type-Options: "
					  "nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", bn, body);
			if (ci && mn > 0 && (size_t)mn < sizeof(msg)) {
				(void)!send(ci->connect_fd, msg, (size_t)mn, MSG_NOSIGNAL | MSG_DONTWAIT);
				shutdown(ci->connect_fd, SHUT_RDWR);
			}
			if (st)
				st->refused = true;
		}
	}
	return st;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;

	if (!st)
		return;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		conn_idle(&s->conns, st->conn); /* keep-alive: the next head has a deadline */
	if (st->req.route && st->req.route->cleanup)
		st->req.route->cleanup(&st->req);
	if (st->counted)
		atomic_fetch_sub(&s->inflight, 1);
	buf_release(&st->req.body);
	http_resp_dispose(&st->resp);
	free(st->early_msg);
	free(st->async_msg);
	free(st->params);
	free(st);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		conn_closed(&s->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*socket_context = conn_opened(&s->conns, ci->connect_fd);
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return http_unescape(s);
}

/* libmicrohttpd's own messages (malformed requests, limits reached) are
 * expected under attack: keep them at debug level. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	cairn_log(LOG_DEBUG, "http: %s", msg);
}

/* Raise the soft descriptor limit to what max_conns needs (up to the hard
 * limit), then clamp the connection limits to what the process may open. */
static void fit_fd_limit(struct http_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_conns + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		rlim_t cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
		struct rlimit nl = { cur, rl.rlim_max };
		if (!setrlimit(RLIMIT_NOFILE, &nl))
			rl.rlim_cur = cur;
	}
	if (rl.rlim_cur < want) {
		unsigned fit = rl.rlim_cur > 2 * FD_RESERVE ? (unsigned)(rl.rlim_cur - FD_RESERVE) : FD_RESERVE;
		cairn_log(LOG_WARN, "http: the descriptor limit (%llu) allows %u connections, not %u",
			  (unsigned long long)rl.rlim_cur, fit, cfg->max_conns);
		cfg->max_conns = fit;
	}
	if (!cfg->max_conns_per_client || cfg->max_conns_per_client > cfg->max_conns)
		cfg->max_conns_per_client = cfg->max_conns / 4 ? cfg->max_conns / 4 : 1;
	if (cfg->threads > cfg->max_conns)
		cfg->threads = cfg->max_conns;
}

int http_server_start(struct http_server *s)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)s->cfg.port) };
	struct sockaddr *addr = (struct sockaddr *)&a4;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *di;
	int rc;

	if (inet_pton(AF_INET, s->cfg.host, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, s->cfg.host, &a6.sin6_addr) != 1)
			return cairn_error_set(CAIRN_EINVALID, "invalid listen address '%s' (use an IPv4 or IPv6 address)",
					       s->cfg.host);
		addr = (struct sockaddr *)&a6;
		/* "::" takes IPv4 too, as most servers do; a specific address only itself */
		flags |= IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr) ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	}
	fit_fd_limit(&s->cfg);
	conn_table_limit(&s->conns, s->cfg.max_conns);
	if ((rc = conn_table_start(&s->conns)))
		return rc;
	/* poll, not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop misses
	 * the reset of a keep-alive connection that is busy when it arrives and
	 * holds the dead socket until the idle timeout (issue 11, defect 1).
	 * ITC: MHD_quiesce_daemon (draining) and resuming need it. */
	s->d = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, addr,
				MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads > 1 ? s->cfg.threads : 0u, /* 1: no pool */
				MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout_s,
				MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_conns,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_conns_per_client,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.max_head,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_END);
	if (!s->d) {
		conn_table_stop(&s->conns);
		return cairn_error_set(CAIRN_EIO, "cannot listen on %s port %u (address in use or not available)",
				       s->cfg.host, s->cfg.port);
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : s->cfg.port;
	return 0;
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

unsigned http_server_inflight(const struct http_server *s)
{
	return atomic_load(&s->inflight);
}

unsigned http_server_connections(const struct http_server *s)
{
	struct conn_table *t = (struct conn_table *)&s->conns;
	unsigned n;

	pthread_mutex_lock(&t->mu);
	n = t->open;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

unsigned http_server_drain(struct http_server *s, unsigned timeout_ms)
{
	unsigned waited = 0, n;

	if (!s->d)
		return 0;
	atomic_store(&s->draining, true);
	if (!s->quiesced) {
		/* new connections are refused from here: the socket is ours to close */
		int fd = MHD_quiesce_daemon(s->d);
		if (fd >= 0)
			close(fd);
		s->quiesced = true;
	}
	while ((n = atomic_load(&s->inflight)) && waited < timeout_ms) {
		sleep_ms(10);
		waited += 10;
	}
	return n;
}

/* Wait for the suspended requests to be finished; after a grace time finish
 * them with 503 (a producer that never finishes is a bug: libmicrohttpd
 * cannot stop while a connection is suspended). */
static void finish_suspended(struct http_server *s)
{
	unsigned waited = 0;

	for (;;) {
		pthread_mutex_lock(&s->async_mu);
		if (!s->nsuspended || waited >= 30000) {
			while (s->suspended) {
				struct req_state *st = s->suspended;
				cairn_log(LOG_ERROR, "http: %s %s was never finished; answering 503 to stop",
					  st->req.method, st->req.path);
				pthread_mutex_unlock(&s->async_mu);
				http_req_finish(&st->req, CAIRN_EBUSY, "the server is shutting down");
				pthread_mutex_lock(&s->async_mu);
			}
			pthread_mutex_unlock(&s->async_mu);
			return;
		}
		pthread_mutex_unlock(&s->async_mu);
		sleep_ms(10);
		waited += 10;
	}
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	if (s->d)
		finish_suspended(s);
	conn_table_stop(&s->conns); /* before the daemon: it shuts sockets down */
	if (s->d) {
		MHD_stop_daemon(s->d);
		s->d = NULL;
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	conn_table_destroy(&s->conns);
	if (s->policy_ready)
		http_policy_free(&s->policy);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].prefix);
		free(s->mounts[i].pattern);
	}
	pthread_mutex_destroy(&s->async_mu);
	free(s);
}
