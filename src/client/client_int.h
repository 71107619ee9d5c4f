/* client_int.h - the client's internals, shared by the files of src/client.
 *
 * Not for the CLI: commands use client.h. model_fetch.c streams artifact
 * files over the client's libcurl handle (remote) or reads them from the
 * opened root (local), so it sees the struct and two helpers of client.c.
 */
#ifndef CAIRN_CLIENT_CLIENT_INT_H
#define CAIRN_CLIENT_CLIENT_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "core/buf.h"

struct client {
	bool remote;                  /* talking to a server (else a local root) */
	struct buf target;            /* the server URI without a trailing '/', or the root */
	/* remote */
	CURL *curl;                   /* one handle, reused: keeps the connection alive */
	struct curl_slist *hdr_json;  /* Content-Type: application/json (+ auth) */
	struct curl_slist *hdr_bin;   /* Content-Type: application/octet-stream (+ auth) */
	long timeout_s;               /* per JSON request */
	char errbuf[CURL_ERROR_SIZE]; /* curl's message for the last transfer */
	/* local */
	struct api_ctx ctx;           /* the opened root */
	bool ctx_open;                /* ctx needs api_ctx_close */
	struct http_server *srv;      /* in-process server for children (client_serve_uri) */
	struct buf serve_uri;         /* its URI */
};

/* Reset the handle for a transfer of url: the options every transfer gets
 * (auth, TLS, user agent, connect timeout), the reply body into out. The
 * connection cache survives the reset. */
#define CLIENT_USER_AGENT "cairn/" CAIRN_VERSION_STRING

/* libcurl's global initialisation, once per process (an error is set when it failed). */
int client__curl_global(void);
void client__remote_setup(struct client *cl, const char *url, struct buf *out);
/* Turn a reply (HTTP status + body) into 0 and *reply (may be NULL), or an
 * error whose code follows the MLflow error_code and whose message is the
 * server's (what names the request when the body has none). */
int client__reply_finish(long status, const struct buf *body, const char *what, json_t **reply);

/* The proxy URL of the artifact tree path `path` (appended to url):
 * <server>/api/2.0/mlflow-artifacts/artifacts/<each segment percent-encoded>. */
int client__artifact_url(struct client *cl, const char *path, struct buf *url);

/* True when s is one or more ASCII digits. */
bool client__all_digits(const char *s);

#endif
