/* server.c - libmicrohttpd glue: routing, body limits, streaming, JSON errors. */
#include "http/http.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

/* per-request state stored in libmicrohttpd's con_cls */
struct req_state {
	struct http_req req;
	bool too_big;
	bool path_error;
	bool method_mismatch;
	bool started;
};

int http_server_new(const struct http_config *cfg, struct http_server **out)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->cfg = *cfg;
	if (!s->cfg.host)
		s->cfg.host = "127.0.0.1";
	if (!s->cfg.max_body)
		s->cfg.max_body = 16u << 20;
	if (!s->cfg.conn_timeout_s)
		s->cfg.conn_timeout_s = 300;
	if (!s->cfg.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->cfg.threads = n > 0 ? (unsigned)(n * 2 < 4 ? 4 : n * 2) : 4;
	}
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
	m->prefix = strdup(prefix);
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
	if (resp->fd >= 0) {
		close(resp->fd);
		resp->fd = -1;
	}
	buf_clear(&resp->body);
	o = json_pack("{s:s, s:s}", "error_code", cairn_err_mlflow_code(code), "message",
		      message && *message ? message : cairn_err_name(code));
	if (!o || cjson_dump(o, &resp->body))
		buf_puts(&resp->body, "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"cannot encode error\"}");
	json_decref(o);
}

int http_resp_json_text(struct http_resp *resp, int status, const char *json)
{
	resp->status = status;
	resp->content_type = "application/json";
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

static enum MHD_Result send_resp(struct MHD_Connection *conn, struct http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->fd >= 0) {
		r = MHD_create_response_from_fd64(resp->fd_size, resp->fd);
		if (r)
			resp->fd = -1; /* owned by the response now */
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
	if (resp->extra_header_name)
		MHD_add_response_header(r, resp->extra_header_name, resp->extra_header_value);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void resp_dispose(struct http_resp *resp)
{
	buf_release(&resp->body);
	if (resp->fd >= 0)
		close(resp->fd);
	free(resp->extra_header_name);
	free(resp->extra_header_value);
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

	if (!st) {
		const char *cl;
		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		buf_init(&st->req.body, s->cfg.max_body);
		st->req.method = method;
		st->req.path = url;
		st->req.conn = conn;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl)
			st->req.content_length = strtoull(cl, NULL, 10);
		st->path_error = strchr(url, '\x01') != NULL; /* an encoded NUL (see unescape) */
		st->req.route = route_find(s, method, url, &st->req.rest, &st->req.ctx, &st->method_mismatch);
		if (st->req.route && !(st->req.route->flags & HTTP_STREAM) &&
		    st->req.content_length > s->cfg.max_body)
			st->too_big = true;
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (st->too_big || st->path_error || st->req.early_error || !st->req.route) {
			/* discard */
		} else if (st->req.route->flags & HTTP_STREAM) {
			rc = st->req.route->chunk(&st->req, upload_data, *upload_data_size);
			if (rc)
				st->req.early_error = rc;
		} else if (buf_put(&st->req.body, upload_data, *upload_data_size)) {
			st->too_big = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* request complete: answer */
	if (st->path_error) {
		http_resp_error(&resp, CAIRN_EINVALID, "invalid path: encoded NUL or control characters");
	} else if (!st->req.route) {
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
		http_resp_error(&resp, st->req.early_error, cairn_error_msg());
	} else {
		cairn_error_clear();
		rc = st->req.route->fn(&st->req, &resp);
		if (rc) {
			http_resp_error(&resp, rc, cairn_error_msg());
			if (rc == CAIRN_ERR || rc == CAIRN_EIO || rc == CAIRN_ENOMEM)
				cairn_log(LOG_ERROR, "%s %s: %s", method, url, cairn_error_msg());
		}
	}
	ret = send_resp(conn, &resp);
	resp_dispose(&resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;

	if (!st)
		return;
	if (st->req.route && st->req.route->cleanup)
		st->req.route->cleanup(&st->req);
	buf_release(&st->req.body);
	free(st);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Percent-decode in place; a decoded NUL becomes \x01 so the path check rejects it. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s;

	while (*r) {
		if (r[0] == '%' && r[1] && r[2]) {
			char hex[3] = { r[1], r[2], 0 };
			char *end;
			unsigned long v = strtoul(hex, &end, 16);
			if (*end == '\0') {
				*w++ = v ? (char)v : '\x01';
				r += 3;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

int http_server_start(struct http_server *s)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port) };
	const union MHD_DaemonInfo *di;

	if (inet_pton(AF_INET, s->cfg.host, &addr.sin_addr) != 1)
		return cairn_error_set(CAIRN_EINVALID, "invalid listen address '%s' (use an IPv4 address)",
				       s->cfg.host);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
				(uint16_t)s->cfg.port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
				MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout_s,
				MHD_OPTION_CONNECTION_LIMIT, 1024u,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
				MHD_OPTION_END);
	if (!s->d)
		return cairn_error_set(CAIRN_EIO, "cannot listen on %s:%u (address in use or not available)",
				       s->cfg.host, s->cfg.port);
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
	if (s && s->d) {
		MHD_stop_daemon(s->d);
		s->d = NULL;
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	for (size_t i = 0; i < s->nmounts; i++)
		free(s->mounts[i].prefix);
	free(s);
}
