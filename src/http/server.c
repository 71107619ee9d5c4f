/* server.c - libmicrohttpd glue: limits, head checks, routing, body limits,
 * streaming, JSON errors. */
#include "http/http_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MOUNTS 16

struct mount {
	char *prefix;
	size_t prefix_len;
	const struct http_route *routes;
	size_t n;
	void *ctx;
};

struct http_server {
	struct http_config cfg;
	struct MHD_Daemon *d;
	struct mount mounts[MAX_MOUNTS];
	size_t nmounts;
	unsigned port;
	struct conn_table conns;   /* open connections and their deadlines */
	struct http_policy policy; /* allowed hosts and origins */
	bool policy_ready;
};

/* per-request state stored in libmicrohttpd's con_cls */
struct req_state {
	struct http_req req;
	struct http_conn *conn;    /* the connection's deadline record (may be NULL) */
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
	if (!s->cfg.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->cfg.threads = n > 0 ? (unsigned)(n * 2 < 4 ? 4 : n * 2) : 4;
	}
	if ((rc = http_policy_init(&s->policy, &s->cfg))) {
		free(s);
		return rc;
	}
	s->policy_ready = true;
	conn_table_init(&s->conns, &s->cfg);
	*out = s;
	return 0;
}

int http_server_mount(struct http_server *s, const char *prefix, const struct http_route *routes,
		      size_t n, void *ctx)
{
	struct mount *m;

	if (s->nmounts == MAX_MOUNTS)
		return cairn_error_set(CAIRN_ETOOBIG, "too many route mounts");
	m = &s->mounts[s->nmounts];
	m->prefix = cstrdup(prefix);
	if (!m->prefix)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	m->prefix_len = strlen(prefix);
	m->routes = routes;
	m->n = n;
	m->ctx = ctx;
	s->nmounts++;
	return 0;
}

/* Find the route for method+path. Sets *mismatch when only the method differs. */
static const struct http_route *route_find(struct http_server *s, const char *method, const char *path,
					   const char **rest, void **ctx, bool *mismatch)
{
	*mismatch = false;
	for (size_t i = 0; i < s->nmounts; i++) {
		struct mount *m = &s->mounts[i];
		const char *p;

		if (strncmp(path, m->prefix, m->prefix_len))
			continue;
		p = path + m->prefix_len;
		for (size_t j = 0; j < m->n; j++) {
			const struct http_route *r = &m->routes[j];
			size_t rl = strlen(r->path);
			bool hit = (r->flags & HTTP_PREFIX) ? !strncmp(p, r->path, rl) : !strcmp(p, r->path);
			if (!hit)
				continue;
			if (strcmp(method, r->method) && !(!strcmp(method, "HEAD") && !strcmp(r->method, "GET"))) {
				*mismatch = true;
				continue;
			}
			*rest = p + rl;
			*ctx = m->ctx;
			return r;
		}
	}
	return NULL;
}

void http_resp_error(struct http_resp *resp, int code, const char *message)
{
	json_t *o;

	resp->status = cairn_err_http_status(code);
	resp->content_type = "application/json";
	resp->body_static = NULL;
	if (resp->fd >= 0) {
		close(resp->fd);
		resp->fd = -1;
	}
	buf_clear(&resp->body);
	o = json_pack("{s:s, s:s}", "error_code", cairn_err_mlflow_code(code), "message",
		      message && *message ? message : cairn_err_name(code));
	if (!o || cjson_dump(o, &resp->body) || buf_error(&resp->body)) {
		/* no memory for the answer: a constant one needs none */
		buf_release(&resp->body);
		resp->status = 500;
		resp->body_static = "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"out of memory\"}";
	}
	json_decref(o);
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
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
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

/* Queue resp at once, before the body is read: libmicrohttpd then discards
 * the body and closes the connection after the answer. */
static enum MHD_Result answer_early(struct http_server *s, struct MHD_Connection *conn, struct req_state *st,
				    struct http_resp *resp)
{
	enum MHD_Result ret;

	st->answered = true;
	conn_body_done(st->conn);
	ret = send_resp(s, conn, resp, true);
	http_resp_dispose(resp);
	return ret;
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

/* The checks of a complete request head, before routing. Returns true when
 * resp holds the answer (an error, or a CORS preflight). */
static bool check_head(struct http_server *s, struct MHD_Connection *conn, const char *method, const char *url,
		       struct http_resp *resp)
{
	struct framing f = { 0 };
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");

	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_cb, &f);
	if (f.content_lengths > 1) {
		http_resp_error(resp, CAIRN_EINVALID, "more than one Content-Length header");
		return true;
	}
	if (f.transfer_encoding && (!f.chunked || f.content_lengths)) {
		http_resp_error(resp, CAIRN_EINVALID, f.chunked ? "both Transfer-Encoding and Content-Length"
								 : "unsupported Transfer-Encoding (only chunked)");
		return true;
	}
	if (!http_text_ok(url)) {
		http_resp_error(resp, CAIRN_EINVALID, "invalid path: not UTF-8, or an encoded NUL");
		return true;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_cb, &f);
	if (f.bad_query) {
		http_resp_error(resp, CAIRN_EINVALID, "invalid query string: a key or value is not UTF-8, or has an "
						      "encoded NUL");
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

static enum MHD_Result on_head(struct http_server *s, struct MHD_Connection *conn, const char *url,
			       const char *method, void **con_cls)
{
	struct http_resp resp = { .status = 200, .body = BUF_INIT, .fd = -1 };
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct req_state *st = *con_cls ? *con_cls : ccalloc(1, sizeof(*st));
	const char *cl, *te;

	if (!st)
		return MHD_NO;
	*con_cls = st;
	st->head_done = true;
	st->conn = ci ? ci->socket_context : NULL;
	buf_init(&st->req.body, s->cfg.max_body);
	st->req.method = method;
	st->req.path = url;
	st->req.conn = conn;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (cl)
		st->req.content_length = strtoull(cl, NULL, 10);
	if (check_head(s, conn, method, url, &resp))
		return answer_early(s, conn, st, &resp);
	st->req.route = route_find(s, method, url, &st->req.rest, &st->req.ctx, &st->method_mismatch);
	if (st->req.route && !(st->req.route->flags & HTTP_STREAM) && st->req.content_length > s->cfg.max_body) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes", s->cfg.max_body);
		http_resp_error(&resp, CAIRN_ETOOBIG, msg);
		resp.status = 413;
		return answer_early(s, conn, st, &resp);
	}
	if (st->req.content_length || te)
		conn_body_begin(&s->conns, st->conn);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req_state *st = *con_cls;
	struct http_resp resp = { .status = 200, .body = BUF_INIT, .fd = -1 };
	enum MHD_Result ret;
	int rc;

	if (st && st->refused)
		return MHD_NO;
	if (!st || !st->head_done)
		return on_head(s, conn, url, method, con_cls);
	if (st->answered) {
		*upload_data_size = 0;
		return MHD_YES;
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
		http_resp_error(&resp, st->method_mismatch ? CAIRN_EMETHOD : CAIRN_ENOROUTE, msg);
	} else if (st->too_big) {
		char msg[128];
		snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes", s->cfg.max_body);
		http_resp_error(&resp, CAIRN_ETOOBIG, msg);
		resp.status = 413;
	} else if (st->req.early_error) {
		http_resp_error(&resp, st->req.early_error, st->early_msg ? st->early_msg : "");
	} else {
		cairn_error_clear();
		rc = st->req.route->fn(&st->req, &resp);
		if (rc) {
			http_resp_error(&resp, rc, cairn_error_msg());
			if (rc == CAIRN_ERR || rc == CAIRN_EIO || rc == CAIRN_ENOMEM)
				cairn_log(LOG_ERROR, "%s %s: %s", method, url, cairn_error_msg());
		}
	}
	ret = send_resp(s, conn, &resp, false);
	http_resp_dispose(&resp);
	return ret;
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
	struct req_state *st = ccalloc(1, sizeof(*st));
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
					  "HTTP/1.1 414 URI Too Long\r\nContent-Type: application/json\r\nContent-Length: "
					  "%d\r\nConnection: close\r\n\r\n%s", bn, body);
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
	buf_release(&st->req.body);
	free(st->early_msg);
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
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port) };
	const union MHD_DaemonInfo *di;
	int rc;

	if (inet_pton(AF_INET, s->cfg.host, &addr.sin_addr) != 1)
		return cairn_error_set(CAIRN_EINVALID, "invalid listen address '%s' (use an IPv4 address)",
				       s->cfg.host);
	fit_fd_limit(&s->cfg);
	conn_table_limit(&s->conns, s->cfg.max_conns);
	if ((rc = conn_table_start(&s->conns)))
		return rc;
	/* poll, not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loop misses
	 * the reset of a keep-alive connection that is busy when it arrives and
	 * holds the dead socket until the idle timeout (issue 11, defect 1) */
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG,
				(uint16_t)s->cfg.port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
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
		return cairn_error_set(CAIRN_EIO, "cannot listen on %s:%u (address in use or not available)",
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

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
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
	for (size_t i = 0; i < s->nmounts; i++)
		free(s->mounts[i].prefix);
	free(s);
}
