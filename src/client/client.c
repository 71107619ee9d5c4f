/* client.c - MLflow JSON calls against a remote server (libcurl) or a local root (api_invoke). */
#include "client/client.h"
#include "client/client_int.h"
#include "core/fault.h"
#include "api/api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/path.h"
#include "tracking/artifact.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLIENT_REPLY_MAX ((size_t)512 << 20)   /* largest JSON reply accepted */
#define CLIENT_PREFIX_MIN 4                    /* shortest run id prefix looked up */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- error mapping: one table for both modes ---- */

static const struct {
	const char *mlflow; /* MLflow error_code */
	int code;           /* cairn code */
} code_map[] = {
	{ "RESOURCE_DOES_NOT_EXIST", CAIRN_ENOTFOUND },
	{ "NOT_FOUND", CAIRN_ENOTFOUND },
	{ "ENDPOINT_NOT_FOUND", CAIRN_ENOROUTE },
	{ "RESOURCE_ALREADY_EXISTS", CAIRN_EEXISTS },
	{ "INVALID_PARAMETER_VALUE", CAIRN_EINVALID },
	{ "BAD_REQUEST", CAIRN_EINVALID },
	{ "MALFORMED_REQUEST", CAIRN_EINVALID },
	{ "INVALID_STATE", CAIRN_ECONFLICT },
	{ "PERMISSION_DENIED", CAIRN_EPERM },
	{ "UNAUTHENTICATED", CAIRN_EPERM },
	{ "TEMPORARILY_UNAVAILABLE", CAIRN_EBUSY },
	{ "REQUEST_LIMIT_EXCEEDED", CAIRN_EBUSY },
	{ "NOT_IMPLEMENTED", CAIRN_EUNSUPPORTED },
	{ "INTERNAL_ERROR", CAIRN_ERR },
};

static int code_for(const char *mlflow_code, long status)
{
	if (mlflow_code)
		for (size_t i = 0; i < sizeof(code_map) / sizeof(code_map[0]); i++)
			if (!strcmp(code_map[i].mlflow, mlflow_code))
				return code_map[i].code;
	switch (status) {
	case 404:
		return CAIRN_ENOTFOUND;
	case 401:
	case 403:
		return CAIRN_EPERM;
	case 405:
		return CAIRN_EMETHOD;
	case 409:
		return CAIRN_ECONFLICT;
	case 413:
		return CAIRN_ETOOBIG;
	case 429:
	case 503:
		return CAIRN_EBUSY;
	case 501:
		return CAIRN_EUNSUPPORTED;
	default:
		return status >= 400 && status < 500 ? CAIRN_EINVALID : CAIRN_ERR;
	}
}

int client__reply_finish(long status, const struct buf *body, const char *what, json_t **reply)
{
	json_t *obj = NULL;
	const char *ecode = NULL, *msg = NULL;
	size_t n;
	int rc;

	if (status >= 200 && status < 300) {
		if ((rc = cjson_parse_object(body->ptr, body->len, &obj)))
			return cairn_error_set(CAIRN_EIO, "%s: the reply is not a JSON object", what);
		if (reply)
			*reply = obj;
		else
			json_decref(obj);
		return 0;
	}
	if (!cjson_parse_object(body->ptr, body->len, &obj)) {
		if (json_is_string(json_object_get(obj, "error_code")))
			ecode = json_string_value(json_object_get(obj, "error_code"));
		if (json_is_string(json_object_get(obj, "message")))
			msg = json_string_value(json_object_get(obj, "message"));
	}
	cairn_error_clear();
	if (msg && *msg) {
		rc = cairn_error_set(code_for(ecode, status), "%s", msg);
	} else {
		n = strcspn(body->ptr, "\r\n");
		rc = cairn_error_set(code_for(ecode, status), "%s: the server replied HTTP %ld%s%.*s", what, status,
				     n ? ": " : "", (int)(n > 200 ? 200 : n), body->ptr);
	}
	json_decref(obj);
	return rc;
}

/* ---- remote ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;

	if (buf_put(b, data, size * nmemb))
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	return size * nmemb;
}

struct upload_src {
	int fd;   /* file being sent */
	int err;  /* errno of a failed read */
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct upload_src *u = ud;
	ssize_t n;

	do
		n = read(u->fd, dst, size * nmemb);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		u->err = errno;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static int env_true(const char *name)
{
	const char *v = getenv(name);

	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

int client__curl_global(void)
{
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return cairn_error_set(CAIRN_ERR, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
	return 0;
}

static int remote_open(struct client *cl)
{
	const char *token = getenv("MLFLOW_TRACKING_TOKEN"), *t = getenv("MLFLOW_HTTP_REQUEST_TIMEOUT");
	struct buf auth = BUF_INIT;
	struct curl_slist *l;
	char *end;
	int rc = CAIRN_ERR;

	if (client__curl_global())
		return CAIRN_ERR;
	if (!(cl->curl = curl_easy_init()))
		return cairn_error_set(CAIRN_ENOMEM, "cannot create a libcurl handle");
	cl->timeout_s = 120;
	if (t && *t) {
		cl->timeout_s = strtol(t, &end, 10);
		if (*end || cl->timeout_s <= 0)
			return cairn_error_set(CAIRN_EINVALID, "invalid MLFLOW_HTTP_REQUEST_TIMEOUT '%s'", t);
	}
	if (token && *token) {
		buf_printf(&auth, "Authorization: Bearer %s", token);
		if ((rc = buf_error(&auth)))
			goto cleanup;
	}
	if (!(l = curl_slist_append(NULL, "Content-Type: application/json")))
		goto oom;
	cl->hdr_json = l;
	if (auth.len && !(l = curl_slist_append(cl->hdr_json, auth.ptr)))
		goto oom;
	if (!(l = curl_slist_append(NULL, "Content-Type: application/octet-stream")))
		goto oom;
	cl->hdr_bin = l;
	if (auth.len && !(l = curl_slist_append(cl->hdr_bin, auth.ptr)))
		goto oom;
	rc = 0;
	goto cleanup;
oom:
	rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
cleanup:
	buf_release(&auth);
	return rc;
}

void client__remote_setup(struct client *cl, const char *url, struct buf *out)
{
	const char *user = getenv("MLFLOW_TRACKING_USERNAME"), *pass = getenv("MLFLOW_TRACKING_PASSWORD");

	curl_easy_reset(cl->curl);
	cl->errbuf[0] = '\0';
	curl_easy_setopt(cl->curl, CURLOPT_URL, url);
	curl_easy_setopt(cl->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_ERRORBUFFER, cl->errbuf);
	curl_easy_setopt(cl->curl, CURLOPT_USERAGENT, CLIENT_USER_AGENT);
	curl_easy_setopt(cl->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(cl->curl, CURLOPT_ACCEPT_ENCODING, "");
	if (user && *user) {
		curl_easy_setopt(cl->curl, CURLOPT_USERNAME, user);
		curl_easy_setopt(cl->curl, CURLOPT_PASSWORD, pass ? pass : "");
	}
	if (env_true("MLFLOW_TRACKING_INSECURE_TLS")) {
		curl_easy_setopt(cl->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(cl->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

static int remote_perform(struct client *cl, const struct buf *out, long *status)
{
	CURLcode cc = curl_easy_perform(cl->curl);

	if (cc == CURLE_WRITE_ERROR && out->err)
		return cairn_error_set(out->err, "the reply from %s is too large", cl->target.ptr);
	if (cc != CURLE_OK)
		return cairn_error_set(CAIRN_EIO, "cannot reach the tracking server %s: %s", cl->target.ptr,
				       cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(cc));
	curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* Append the fields of body as a query string ("?a=1&b=x&b=y"). */
static int query_from_json(json_t *body, struct buf *url)
{
	const char *key;
	json_t *v, *e;
	char sep = '?';
	size_t i, n;

	json_object_foreach(body, key, v) {
		n = json_is_array(v) ? json_array_size(v) : 1;
		for (i = 0; i < n; i++) {
			e = json_is_array(v) ? json_array_get(v, i) : v;
			buf_putc(url, sep);
			sep = '&';
			buf_put_urlencoded(url, key);
			buf_putc(url, '=');
			if (json_is_string(e))
				buf_put_urlencoded(url, json_string_value(e));
			else if (json_is_integer(e))
				buf_printf(url, "%lld", (long long)json_integer_value(e));
			else if (json_is_real(e))
				buf_printf(url, "%.17g", json_real_value(e));
			else if (json_is_boolean(e))
				buf_puts(url, json_is_true(e) ? "true" : "false");
			else if (!json_is_null(e))
				return cairn_error_set(CAIRN_EINVALID, "field '%s' cannot travel in a query string", key);
		}
	}
	return buf_error(url);
}

static int remote_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **reply)
{
	struct buf url = BUF_INIT, text = BUF_INIT, out = BUF_INIT;
	long status = 0;
	int rc;

	buf_init(&out, CLIENT_REPLY_MAX);
	/* paths under /api/ (cairn's own /api/cairn/v1 routes) are taken as they are */
	buf_printf(&url, strncmp(path, "/api/", 5) ? "%s/api/2.0%s" : "%s%s", cl->target.ptr, path);
	if (!strcmp(method, "GET")) {
		if ((rc = query_from_json(body, &url)))
			goto cleanup;
	} else if ((rc = cjson_dump(body, &text))) {
		goto cleanup;
	}
	if ((rc = buf_error(&url)))
		goto cleanup;
	client__remote_setup(cl, url.ptr, &out);
	curl_easy_setopt(cl->curl, CURLOPT_TIMEOUT, cl->timeout_s);
	curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, cl->hdr_json);
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDS, text.ptr);
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)text.len);
	}
	if ((rc = remote_perform(cl, &out, &status)))
		goto cleanup;
	rc = client__reply_finish(status, &out, path, reply);
cleanup:
	buf_release(&url);
	buf_release(&text);
	buf_release(&out);
	return rc;
}

/* ---- local ---- */

static int local_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **reply)
{
	struct buf text = BUF_INIT, out = BUF_INIT;
	int status = 0, rc;

	buf_init(&out, CLIENT_REPLY_MAX);
	if ((rc = cjson_dump(body, &text)))
		goto cleanup;
	if (!strncmp(path, "/api/cairn/v1/", 14)) /* api_invoke knows route paths, not mounts */
		path += strlen("/api/cairn/v1");
	if ((rc = api_invoke(&cl->ctx, method, path, text.ptr, &status, &out)))
		goto cleanup;
	rc = client__reply_finish(status, &out, path, reply);
cleanup:
	buf_release(&text);
	buf_release(&out);
	return rc;
}

/* ---- public ---- */

int client_open(const char *tracking_uri, const char *root, struct client **out)
{
	struct client *cl;
	size_t n;
	int rc;

	*out = NULL;
	if (!(cl = ccalloc(1, sizeof(*cl))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_init(&cl->target, 0);
	buf_init(&cl->serve_uri, 0);
	if (tracking_uri) {
		if (strncmp(tracking_uri, "http://", 7) && strncmp(tracking_uri, "https://", 8)) {
			rc = cairn_error_set(CAIRN_EINVALID,
					     "unsupported tracking URI '%s': expected http://HOST:PORT or https://...",
					     tracking_uri);
			goto fail;
		}
		n = strlen(tracking_uri);
		while (n > 8 && tracking_uri[n - 1] == '/')
			n--;
		cl->remote = true;
		buf_put(&cl->target, tracking_uri, n);
		if ((rc = buf_error(&cl->target)) || (rc = remote_open(cl)))
			goto fail;
	} else {
		CAIRN_ASSERT(root);
		buf_puts(&cl->target, root);
		if ((rc = buf_error(&cl->target)))
			goto fail;
		if ((rc = api_ctx_open(root, &cl->ctx)))
			goto fail;
		cl->ctx_open = true;
	}
	*out = cl;
	return 0;
fail:
	client_free(cl);
	return rc;
}

int client_open_default(const char *opt_uri, const char *opt_root, const char *default_root,
			struct client **out)
{
	const char *env = getenv("MLFLOW_TRACKING_URI");

	if (opt_uri)
		return client_open(opt_uri, NULL, out);
	if (opt_root)
		return client_open(NULL, opt_root, out);
	if (env && *env)
		return client_open(env, NULL, out);
	return client_open(NULL, default_root, out);
}

void client_free(struct client *cl)
{
	if (!cl)
		return;
	if (cl->srv)
		http_server_free(cl->srv);
	if (cl->ctx_open)
		api_ctx_close(&cl->ctx);
	if (cl->curl)
		curl_easy_cleanup(cl->curl);
	curl_slist_free_all(cl->hdr_json);
	curl_slist_free_all(cl->hdr_bin);
	buf_release(&cl->target);
	buf_release(&cl->serve_uri);
	free(cl);
}

bool client_is_remote(const struct client *cl)
{
	return cl->remote;
}

const char *client_target(const struct client *cl)
{
	return cl->target.ptr;
}

int client_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **reply)
{
	int rc;

	if (reply)
		*reply = NULL;
	if (!body)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory building the request for %s", path);
	rc = cl->remote ? remote_call(cl, method, path, body, reply) : local_call(cl, method, path, body, reply);
	json_decref(body);
	return rc;
}

/* The tree path of artifact `name` under the run's artifact URI. */
static int artifact_dest(const char *artifact_uri, const char *name, struct buf *out)
{
	struct buf base = BUF_INIT, rel = BUF_INIT;
	int rc;

	if ((rc = art_uri_to_path(artifact_uri, &base)))
		goto cleanup;
	if ((rc = path_clean_rel(name, strlen(name), false, &rel)))
		goto cleanup;
	rc = path_join(out, base.ptr, rel.ptr);
cleanup:
	buf_release(&base);
	buf_release(&rel);
	return rc;
}

static int local_upload(struct client *cl, const char *dest, int fd)
{
	struct blob_writer *w = NULL;
	char hex[SHA256_HEX_LEN + 1];
	struct store *st = NULL;
	int64_t size = 0;
	char chunk[65536];
	ssize_t n;
	int rc;

	if ((rc = blob_writer_new(cl->ctx.blobs, &w)))
		return rc;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "reading the file for artifact '%s': %s", dest, strerror(errno));
			blob_writer_abort(w);
			return rc;
		}
		if (!n)
			break;
		if ((rc = blob_writer_write(w, chunk, (size_t)n))) {
			blob_writer_abort(w);
			return rc;
		}
	}
	if ((rc = blob_writer_commit(w, hex, &size)))
		return rc;
	if ((rc = store_pool_get(cl->ctx.pool, &st)))
		return rc;
	rc = art_record(st, dest, hex, size);
	store_pool_put(cl->ctx.pool, st);
	return rc;
}

int client__artifact_url(struct client *cl, const char *path, struct buf *url)
{
	struct buf seg = BUF_INIT;
	const char *p = path, *slash;
	int rc;

	buf_printf(url, "%s/api/2.0/mlflow-artifacts/artifacts", cl->target.ptr);
	while (*p) {
		slash = strchr(p, '/');
		buf_clear(&seg);
		buf_put(&seg, p, slash ? (size_t)(slash - p) : strlen(p));
		buf_putc(url, '/');
		buf_put_urlencoded(url, seg.ptr);
		p = slash ? slash + 1 : p + strlen(p);
	}
	rc = buf_error(url) ? buf_error(url) : buf_error(&seg);
	buf_release(&seg);
	return rc;
}

static int remote_upload(struct client *cl, const char *dest, int fd)
{
	struct buf url = BUF_INIT, out = BUF_INIT;
	struct upload_src src = { .fd = fd };
	struct stat sb;
	long status = 0;
	int rc;

	if (fstat(fd, &sb))
		return cairn_error_set(CAIRN_EIO, "artifact '%s': %s", dest, strerror(errno));
	buf_init(&out, 1 << 20);
	if ((rc = client__artifact_url(cl, dest, &url)))
		goto cleanup;
	client__remote_setup(cl, url.ptr, &out);
	curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, cl->hdr_bin);
	curl_easy_setopt(cl->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(cl->curl, CURLOPT_READDATA, &src);
	if (S_ISREG(sb.st_mode))
		curl_easy_setopt(cl->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sb.st_size);
	/* no overall limit for large files, but give up on a stalled transfer */
	curl_easy_setopt(cl->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_LOW_SPEED_TIME, cl->timeout_s);
	rc = remote_perform(cl, &out, &status);
	if (src.err) {
		rc = cairn_error_set(CAIRN_EIO, "reading the file for artifact '%s': %s", dest, strerror(src.err));
		goto cleanup;
	}
	if (rc)
		goto cleanup;
	rc = client__reply_finish(status, &out, dest, NULL);
cleanup:
	buf_release(&url);
	buf_release(&out);
	return rc;
}

int client_upload_fd(struct client *cl, const char *artifact_uri, const char *name, int fd)
{
	struct buf dest = BUF_INIT;
	int rc;

	if ((rc = artifact_dest(artifact_uri, name, &dest)))
		goto cleanup;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = cairn_error_set(CAIRN_EIO, "artifact '%s': cannot rewind the file: %s", name, strerror(errno));
		goto cleanup;
	}
	rc = cl->remote ? remote_upload(cl, dest.ptr, fd) : local_upload(cl, dest.ptr, fd);
cleanup:
	buf_release(&dest);
	return rc;
}

int client_serve_uri(struct client *cl, const char **uri)
{
	struct http_config cfg = { .host = "127.0.0.1", .port = 0, .threads = 4 };
	int rc;

	if (cl->remote) {
		*uri = cl->target.ptr;
		return 0;
	}
	if (!cl->srv) {
		if ((rc = http_server_new(&cfg, &cl->srv)) || (rc = api_mount(cl->srv, &cl->ctx)) ||
		    (rc = http_server_start(cl->srv))) {
			http_server_free(cl->srv);
			cl->srv = NULL;
			return rc;
		}
		buf_clear(&cl->serve_uri);
		buf_printf(&cl->serve_uri, "http://127.0.0.1:%u", http_server_port(cl->srv));
		if ((rc = buf_error(&cl->serve_uri)))
			return rc;
	}
	*uri = cl->serve_uri.ptr;
	return 0;
}

/* ---- lookups ---- */

bool client__all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int client_experiment_find(struct client *cl, const char *id_or_name, json_t **exp)
{
	json_t *reply = NULL;
	int rc;

	*exp = NULL;
	if (!*id_or_name)
		return cairn_error_set(CAIRN_EINVALID, "empty experiment name");
	if (client__all_digits(id_or_name)) {
		rc = client_call(cl, "GET", "/mlflow/experiments/get", json_pack("{s:s}", "experiment_id", id_or_name),
				 &reply);
		if (!rc)
			goto found;
		if (rc != CAIRN_ENOTFOUND && rc != CAIRN_EINVALID)
			return rc;
	}
	rc = client_call(cl, "GET", "/mlflow/experiments/get-by-name", json_pack("{s:s}", "experiment_name", id_or_name),
			 &reply);
	if (rc == CAIRN_ENOTFOUND)
		return cairn_error_set(CAIRN_ENOTFOUND, "experiment '%s' does not exist", id_or_name);
	if (rc)
		return rc;
found:
	*exp = json_incref(json_object_get(reply, "experiment"));
	json_decref(reply);
	if (!json_is_object(*exp)) {
		json_decref(*exp);
		*exp = NULL;
		return cairn_error_set(CAIRN_EIO, "malformed reply: no experiment for '%s'", id_or_name);
	}
	return 0;
}

int client_experiment_ensure(struct client *cl, const char *id_or_name, char **id, bool *created)
{
	json_t *exp = NULL, *reply = NULL;
	const char *s;
	int rc;

	*id = NULL;
	*created = false;
	rc = client_experiment_find(cl, id_or_name, &exp);
	if (rc == CAIRN_ENOTFOUND) {
		rc = client_call(cl, "POST", "/mlflow/experiments/create", json_pack("{s:s}", "name", id_or_name),
				 &reply);
		if (rc == CAIRN_EEXISTS) /* created meanwhile by someone else */
			rc = client_experiment_find(cl, id_or_name, &exp);
		else if (!rc)
			*created = true;
	}
	if (rc)
		goto cleanup;
	s = json_string_value(json_object_get(exp ? exp : reply, "experiment_id"));
	if (!s) {
		rc = cairn_error_set(CAIRN_EIO, "malformed reply: no experiment_id for '%s'", id_or_name);
		goto cleanup;
	}
	if (!(*id = cstrdup(s)))
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
cleanup:
	json_decref(exp);
	json_decref(reply);
	return rc;
}

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* Every experiment id (all lifecycle stages) into ids (array of strings). */
static int all_experiment_ids(struct client *cl, json_t *ids)
{
	json_t *reply = NULL, *e, *body;
	const char *token = NULL;
	char *tok = NULL;
	size_t i;
	int rc = 0;

	do {
		body = json_pack("{s:s, s:I}", "view_type", "ALL", "max_results", (json_int_t)1000);
		if (body && tok)
			json_object_set_new(body, "page_token", json_string(tok));
		json_decref(reply);
		if ((rc = client_call(cl, "POST", "/mlflow/experiments/search", body, &reply)))
			break;
		json_array_foreach(json_object_get(reply, "experiments"), i, e)
			json_array_append(ids, json_object_get(e, "experiment_id"));
		token = json_string_value(json_object_get(reply, "next_page_token"));
		free(tok);
		tok = token && *token ? cstrdup(token) : NULL;
	} while (tok);
	free(tok);
	json_decref(reply);
	return rc;
}

int client_run_find(struct client *cl, const char *id_or_prefix, json_t **run)
{
	json_t *reply = NULL, *exps = NULL, *batch = NULL, *r, *body, *match = NULL;
	const char *token, *rid;
	size_t len = strlen(id_or_prefix), i, j, nmatch = 0;
	char *tok = NULL;
	int rc;

	*run = NULL;
	if (len >= 32 || !is_hex(id_or_prefix)) {
		rc = client_call(cl, "GET", "/mlflow/runs/get", json_pack("{s:s}", "run_id", id_or_prefix), &reply);
		if (rc)
			return rc;
		*run = json_incref(json_object_get(reply, "run"));
		json_decref(reply);
		return *run ? 0 : cairn_error_set(CAIRN_EIO, "malformed reply: no run for '%s'", id_or_prefix);
	}
	if (len < CLIENT_PREFIX_MIN)
		return cairn_error_set(CAIRN_EINVALID, "run id '%s' is too short: give at least %d characters",
				       id_or_prefix, CLIENT_PREFIX_MIN);
	if (!(exps = json_array()) || !(batch = json_array())) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((rc = all_experiment_ids(cl, exps)))
		goto cleanup;
	/* runs/search over batches of experiments, scanning every page */
	for (i = 0; i < json_array_size(exps) && nmatch < 2; i += 100) {
		json_array_clear(batch);
		for (j = i; j < json_array_size(exps) && j < i + 100; j++)
			json_array_append(batch, json_array_get(exps, j));
		do {
			body = json_pack("{s:O, s:s, s:I}", "experiment_ids", batch, "run_view_type", "ALL", "max_results",
					 (json_int_t)1000);
			if (body && tok)
				json_object_set_new(body, "page_token", json_string(tok));
			json_decref(reply);
			if ((rc = client_call(cl, "POST", "/mlflow/runs/search", body, &reply)))
				goto cleanup;
			json_array_foreach(json_object_get(reply, "runs"), j, r) {
				rid = json_string_value(json_object_get(json_object_get(r, "info"), "run_id"));
				if (rid && !strncasecmp(rid, id_or_prefix, len)) {
					nmatch++;
					if (!match)
						match = json_incref(r);
				}
			}
			token = json_string_value(json_object_get(reply, "next_page_token"));
			free(tok);
			tok = token && *token ? cstrdup(token) : NULL;
		} while (tok && nmatch < 2);
		free(tok);
		tok = NULL;
	}
	if (!nmatch) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no run id starts with '%s'", id_or_prefix);
	} else if (nmatch > 1) {
		rc = cairn_error_set(CAIRN_EINVALID, "run id prefix '%s' is ambiguous: give more characters",
				     id_or_prefix);
	} else {
		*run = match;
		match = NULL;
		rc = 0;
	}
cleanup:
	free(tok);
	json_decref(match);
	json_decref(reply);
	json_decref(exps);
	json_decref(batch);
	return rc;
}

int client_tag_append(json_t *tags, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *t;

	if (!eq || eq == kv)
		return CAIRN_EINVALID;
	t = json_pack("{s:s%, s:s}", "key", kv, (size_t)(eq - kv), "value", eq + 1);
	if (!t || json_array_append_new(tags, t))
		return CAIRN_ENOMEM;
	return 0;
}
