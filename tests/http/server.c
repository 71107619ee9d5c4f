/* tests/http/server.c - the HTTP layer as a host of several servers: route
 * patterns, per-mount error renderers and hooks, per-route body limits,
 * asynchronous handlers (suspend/resume), draining, IPv6. Each test starts a
 * real http_server on a free port and talks to it with libcurl. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json.h"
#include "http/http_int.h"

/* ---- a client ---- */

struct reply {
	long status;
	struct buf body;
	char type[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	buf_put(&r->body, p, sz * n);
	return sz * n;
}

/* method url [body]: fills r (release r->body); false when no answer came */
static bool fetch(const char *method, const char *url, const char *body, struct reply *r)
{
	CURL *c = curl_easy_init();
	char *ct = NULL;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	r->body = (struct buf)BUF_INIT;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(r->type, sizeof(r->type), "%s", ct);
	}
	curl_easy_cleanup(c);
	return cc == CURLE_OK;
}

/* the string member key of a JSON body, into out */
static void member(const struct reply *r, const char *key, char *out, size_t cap)
{
	json_t *o = json_loadb(r->body.ptr, r->body.len, 0, NULL);
	const char *v = json_string_value(json_object_get(o, key));

	snprintf(out, cap, "%s", v ? v : "<missing>");
	json_decref(o);
}

/* ---- the servers' routes ---- */

static int echo_params(struct http_req *req, struct http_resp *resp)
{
	const char *name = http_req_param(req, "name"), *v = http_req_param(req, "version");

	buf_printf(&resp->body, "{\"name\":\"%s\",\"version\":\"%s\",\"rest\":\"%s\",\"prefix\":\"%s\",\"body\":%zu}",
		   name ? name : "", v ? v : "", req->rest, req->prefix, req->body.len);
	return buf_error(&resp->body);
}

static int fail_invalid(struct http_req *req, struct http_resp *resp)
{
	return cairn_error_set(CAIRN_EINVALID, "bad input for '%s'", http_req_param(req, "name"));
}

/* async: requests are parked here; a thread finishes them */
#define PARK_MAX 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct http_req *reqs[PARK_MAX];
	struct http_resp *resps[PARK_MAX];
	size_t n;
} park = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, { 0 }, 0 };

static int async_park(struct http_req *req, struct http_resp *resp)
{
	pthread_mutex_lock(&park.mu);
	park.reqs[park.n] = req;
	park.resps[park.n] = resp;
	park.n++;
	pthread_cond_broadcast(&park.cv);
	pthread_mutex_unlock(&park.mu);
	return HTTP_ASYNC;
}

/* finishes inside the handler, before it returns */
static int async_now(struct http_req *req, struct http_resp *resp)
{
	buf_puts(&resp->body, "{\"now\":true}");
	http_req_finish(req, 0, NULL);
	return HTTP_ASYNC;
}

/* park until `want` requests wait, then finish them all (n-th answers n, or an error for odd ones when errors) */
struct finisher {
	size_t want;
	bool errors;
	unsigned delay_ms;
};

static void *finish_all(void *ud)
{
	struct finisher *f = ud;

	pthread_mutex_lock(&park.mu);
	while (park.n < f->want)
		pthread_cond_wait(&park.cv, &park.mu);
	if (f->delay_ms)
		usleep(f->delay_ms * 1000);
	for (size_t i = 0; i < park.n; i++) {
		if (f->errors && i % 2) {
			http_req_finish(park.reqs[i], CAIRN_EBUSY, "queue full");
		} else {
			buf_printf(&park.resps[i]->body, "{\"i\":%zu}", i);
			http_req_finish(park.reqs[i], 0, NULL);
		}
	}
	park.n = 0;
	pthread_mutex_unlock(&park.mu);
	return NULL;
}

static const struct http_route v2_routes[] = {
	{ .method = "GET", .path = "/v2/models/{name}", .fn = echo_params },
	{ .method = "GET", .path = "/v2/models/{name}/ready", .fn = echo_params },
	{ .method = "POST", .path = "/v2/models/{name}/infer", .fn = echo_params, .max_body = 16 },
	{ .method = "POST", .path = "/v2/models/{name}/versions/{version}/infer", .fn = echo_params },
	{ .method = "POST", .path = "/v1/models/{name}:predict", .fn = echo_params },
	{ .method = "POST", .path = "/v2/fail/{name}", .fn = fail_invalid },
	{ .method = "POST", .path = "/v2/park", .fn = async_park },
	{ .method = "POST", .path = "/v2/now", .fn = async_now },
};

static const struct http_route api_routes[] = {
	{ .method = "POST", .path = "/echo", .fn = echo_params },
	{ .method = "GET", .path = "/files/", .flags = HTTP_PREFIX, .fn = echo_params },
	{ .method = "POST", .path = "/fail/{name}", .fn = fail_invalid },
	{ .method = "POST", .path = "/secret", .fn = echo_params },
};

static void render_mlflow(struct http_resp *resp, int code, const char *message)
{
	buf_printf(&resp->body, "{\"error_code\":\"%s\",\"message\":\"%s\"}",
		   code == CAIRN_EINVALID ? "INVALID_PARAMETER_VALUE" : "OTHER", message);
}

static atomic_int befores, afters, after_404, after_413, after_bad_elapsed;

static int deny_secret(struct http_req *req, struct http_resp *resp)
{
	atomic_fetch_add(&befores, 1);
	cr_assert_eq(req->body.len, 0, "the before hook runs before the body is read");
	if (req->route && !strcmp(req->route->path, "/secret"))
		return cairn_error_set(CAIRN_EPERM, "no access to '%s'", req->path);
	return 0;
}

static void count(struct http_req *req, const struct http_resp *resp, uint64_t elapsed_ns)
{
	atomic_fetch_add(&afters, 1);
	if (resp->status == 404)
		atomic_fetch_add(&after_404, 1);
	if (resp->status == 413)
		atomic_fetch_add(&after_413, 1);
	if (elapsed_ns == 0 || elapsed_ns > 60ull * 1000000000ull)
		atomic_fetch_add(&after_bad_elapsed, 1);
}

static const struct http_ops api_like = { .render_error = render_mlflow, .before = deny_secret, .after = count };

static struct http_server *srv;
static char base[128];

static void start(const char *host, unsigned threads)
{
	struct http_config cfg = { .host = host, .port = 0, .threads = threads, .max_body = 1024 };

	cr_assert_eq(http_server_new(&cfg, &srv), 0);
	cr_assert_eq(http_server_mount(srv, "", v2_routes, sizeof(v2_routes) / sizeof(v2_routes[0]), NULL, NULL), 0);
	cr_assert_eq(http_server_mount(srv, "/api", api_routes, sizeof(api_routes) / sizeof(api_routes[0]), NULL,
				       &api_like), 0);
	cr_assert_eq(http_server_start(srv), 0, "%s", cairn_error_msg());
	snprintf(base, sizeof(base), strchr(host, ':') ? "http://[%s]:%u" : "http://%s:%u", host,
		 http_server_port(srv));
}

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atomic_store(&befores, 0);
	atomic_store(&afters, 0);
	atomic_store(&after_404, 0);
	atomic_store(&after_413, 0);
	atomic_store(&after_bad_elapsed, 0);
	start("127.0.0.1", 2);
}

static void teardown(void)
{
	http_server_free(srv);
	srv = NULL;
	curl_global_cleanup();
}

static void get(const char *method, const char *path, const char *body, struct reply *r)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", base, path);
	cr_assert(fetch(method, url, body, r), "no answer to %s %s", method, path);
}

/* ---- tests ---- */

Test(http_route, pattern_matching)
{
	struct http_match m;

	cr_assert(http_pattern_match("/v2/models/{name}/versions/{v}/infer", "/v2/models/churn/versions/3/infer", false, &m));
	cr_assert_eq(m.n, 2);
	cr_assert_eq(m.p[0].off, 11);
	cr_assert_eq(m.p[0].len, 5);
	cr_assert_eq(m.p[1].name_len, 1);
	cr_assert_not(http_pattern_match("/v2/models/{name}", "/v2/models/", false, &m), "an empty segment");
	cr_assert_not(http_pattern_match("/v2/models/{name}", "/v2/models/a/b", false, &m));
	cr_assert(http_pattern_match("/v2/models/{name}", "/v2/models/a/b", true, &m));
	cr_assert_eq(m.end, 12);
	cr_assert(http_pattern_match("/v1/models/{name}:predict", "/v1/models/m:x:predict", false, &m));
	cr_assert_eq(m.p[0].len, 3, "the value ends before the segment's literal suffix");
	cr_assert_not(http_pattern_match("/v1/models/{name}:predict", "/v1/models/:predict", false, &m));
	cr_assert_not(http_pattern_match("/v1/models/{name}:predict", "/v1/models/m:explain", false, &m));
	cr_assert_not(http_pattern_match("/a/{x}", "/b/1", false, &m));
	cr_assert(http_pattern_valid("/a/{x}/b/{y_2}", &m));
	cr_assert_not(http_pattern_valid("/a{x}", &m), "a parameter starts a segment");
	cr_assert_not(http_pattern_valid("/a/{x}{y}", &m), "one per segment");
	cr_assert_not(http_pattern_valid("/a/{}", &m));
	cr_assert_not(http_pattern_valid("/a/{x", &m));
	cr_assert_not(http_pattern_valid("/a/{x-y}", &m));
	cr_assert_not(http_pattern_valid("/a/x}", &m));
	cr_assert_not(http_pattern_valid("/{a}/{b}/{c}/{d}/{e}", &m), "at most HTTP_MAX_PARAMS");
}

Test(http_server, path_parameters_reach_the_handler, .init = setup, .fini = teardown)
{
	struct reply r;
	char v[64];

	get("POST", "/v2/models/churn/versions/42/infer", "{}", &r);
	cr_assert_eq(r.status, 200, "%s", r.body.ptr);
	member(&r, "name", v, sizeof(v));
	cr_assert_str_eq(v, "churn");
	member(&r, "version", v, sizeof(v));
	cr_assert_str_eq(v, "42");
	buf_release(&r.body);

	get("GET", "/v2/models/caf%C3%A9/ready", NULL, &r); /* decoded before matching */
	cr_assert_eq(r.status, 200);
	member(&r, "name", v, sizeof(v));
	cr_assert_str_eq(v, "caf\xc3\xa9");
	buf_release(&r.body);

	get("POST", "/v1/models/fraud:predict", "{}", &r);
	cr_assert_eq(r.status, 200);
	member(&r, "name", v, sizeof(v));
	cr_assert_str_eq(v, "fraud");
	buf_release(&r.body);

	get("GET", "/v2/models/a%2Fb", NULL, &r); /* an encoded slash is a slash: no such route */
	cr_assert_eq(r.status, 404);
	buf_release(&r.body);

	get("DELETE", "/v2/models/churn", NULL, &r);
	cr_assert_eq(r.status, 405);
	buf_release(&r.body);
}

Test(http_server, each_mount_renders_its_errors, .init = setup, .fini = teardown)
{
	struct reply r;
	char v[256];

	get("POST", "/v2/fail/x", "{}", &r); /* default renderer */
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.type, "application/json"));
	member(&r, "error", v, sizeof(v));
	cr_assert_str_eq(v, "bad input for 'x'");
	buf_release(&r.body);

	get("POST", "/api/fail/y", "{}", &r); /* the mount's renderer */
	cr_assert_eq(r.status, 400);
	member(&r, "error_code", v, sizeof(v));
	cr_assert_str_eq(v, "INVALID_PARAMETER_VALUE");
	member(&r, "message", v, sizeof(v));
	cr_assert_str_eq(v, "bad input for 'y'");
	buf_release(&r.body);

	get("GET", "/api/nothing/here", NULL, &r); /* unmatched: the longest prefix answers */
	cr_assert_eq(r.status, 404);
	member(&r, "error_code", v, sizeof(v));
	cr_assert_str_eq(v, "OTHER");
	buf_release(&r.body);

	get("GET", "/nothing", NULL, &r);
	cr_assert_eq(r.status, 404);
	member(&r, "error", v, sizeof(v));
	cr_assert(strstr(v, "no endpoint for GET '/nothing'"), "%s", v);
	buf_release(&r.body);
}

Test(http_server, hooks_see_every_request_of_their_mount, .init = setup, .fini = teardown)
{
	struct reply r;
	char v[256], big[2048];

	get("POST", "/api/echo", "{}", &r);
	cr_assert_eq(r.status, 200);
	buf_release(&r.body);
	get("GET", "/api/files/a/b", NULL, &r);
	cr_assert_eq(r.status, 200);
	member(&r, "rest", v, sizeof(v));
	cr_assert_str_eq(v, "a/b");
	buf_release(&r.body);
	get("GET", "/api/nope", NULL, &r);
	cr_assert_eq(r.status, 404);
	buf_release(&r.body);
	get("POST", "/api/secret", "{\"x\":1}", &r); /* refused by the before hook */
	cr_assert_eq(r.status, 403);
	member(&r, "message", v, sizeof(v));
	cr_assert_str_eq(v, "no access to '/api/secret'");
	buf_release(&r.body);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	get("POST", "/api/echo", big, &r); /* over the server's 1024 */
	cr_assert_eq(r.status, 413);
	buf_release(&r.body);
	get("POST", "/v2/models/m/versions/1/infer", "{}", &r); /* another mount: no hooks */
	cr_assert_eq(r.status, 200);
	buf_release(&r.body);

	cr_assert_eq(atomic_load(&befores), 5);
	cr_assert_eq(atomic_load(&afters), 5);
	cr_assert_eq(atomic_load(&after_404), 1);
	cr_assert_eq(atomic_load(&after_413), 1);
	cr_assert_eq(atomic_load(&after_bad_elapsed), 0);
}

Test(http_server, per_route_body_limit, .init = setup, .fini = teardown)
{
	struct reply r;
	char v[256];

	get("POST", "/v2/models/m/infer", "0123456789abcdef", &r); /* 16: the route's limit */
	cr_assert_eq(r.status, 200);
	buf_release(&r.body);
	get("POST", "/v2/models/m/infer", "0123456789abcdefg", &r);
	cr_assert_eq(r.status, 413);
	member(&r, "error", v, sizeof(v));
	cr_assert_str_eq(v, "request body exceeds the limit of 16 bytes");
	buf_release(&r.body);
	get("POST", "/v2/models/m/versions/1/infer", "0123456789abcdefg", &r); /* the server's 1024 */
	cr_assert_eq(r.status, 200);
	buf_release(&r.body);
}

/* N requests at once, each answered by one thread once all N wait */
static void concurrent(size_t n, const char *path, long *status, struct buf *bodies)
{
	CURLM *m = curl_multi_init();
	CURL *e[PARK_MAX];
	struct reply rs[PARK_MAX];
	char url[256];
	int running = 1;

	snprintf(url, sizeof(url), "%s%s", base, path);
	for (size_t i = 0; i < n; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		rs[i].body = (struct buf)BUF_INIT;
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, url);
		curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, "{}");
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &rs[i]);
		curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 30L);
		curl_multi_add_handle(m, e[i]);
	}
	while (running) {
		curl_multi_perform(m, &running);
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		status[i] = 0;
		curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &status[i]);
		bodies[i] = rs[i].body;
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
	}
	curl_multi_cleanup(m);
}

Test(http_server, async_requests_hold_no_worker, .init = setup, .fini = teardown)
{
	/* one worker thread and 24 requests that are only answered once all 24
	 * wait: a handler that held its thread could never see the second */
	struct finisher f = { .want = 24 };
	long status[PARK_MAX];
	struct buf bodies[PARK_MAX];
	pthread_t t;

	http_server_free(srv);
	start("127.0.0.1", 1);
	pthread_create(&t, NULL, finish_all, &f);
	concurrent(24, "/v2/park", status, bodies);
	pthread_join(t, NULL);
	for (size_t i = 0; i < 24; i++) {
		cr_assert_eq(status[i], 200, "request %zu: %ld", i, status[i]);
		cr_assert(strstr(bodies[i].ptr, "{\"i\":"), "%s", bodies[i].ptr);
		buf_release(&bodies[i]);
	}
	for (int i = 0; i < 200 && http_server_inflight(srv); i++)
		usleep(10000); /* a request ends just after its answer is sent */
	cr_assert_eq(http_server_inflight(srv), 0);
}

Test(http_server, async_errors_and_early_finish, .init = setup, .fini = teardown)
{
	struct finisher f = { .want = 4, .errors = true };
	long status[PARK_MAX];
	struct buf bodies[PARK_MAX];
	struct reply r;
	pthread_t t;
	int ok = 0, busy = 0;

	pthread_create(&t, NULL, finish_all, &f);
	concurrent(4, "/v2/park", status, bodies);
	pthread_join(t, NULL);
	for (size_t i = 0; i < 4; i++) {
		if (status[i] == 200)
			ok++;
		if (status[i] == 503 && strstr(bodies[i].ptr, "queue full"))
			busy++;
		buf_release(&bodies[i]);
	}
	cr_assert_eq(ok, 2);
	cr_assert_eq(busy, 2);

	get("POST", "/v2/now", "{}", &r); /* finished before the handler returned */
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body.ptr, "{\"now\":true}");
	buf_release(&r.body);
}

struct drain_arg {
	unsigned left;
};

static void *drain_thread(void *ud)
{
	struct drain_arg *d = ud;

	d->left = http_server_drain(srv, 20000);
	return NULL;
}

static void *one_request(void *ud)
{
	struct reply *r = ud;
	char url[256];

	snprintf(url, sizeof(url), "%s/v2/park", base);
	fetch("POST", url, "{}", r);
	return NULL;
}

Test(http_server, drain_answers_what_is_in_flight_then_refuses, .init = setup, .fini = teardown)
{
	struct finisher f = { .want = 1, .delay_ms = 200 };
	struct drain_arg d = { 99 };
	struct reply r, late;
	pthread_t req_t, fin_t, drain_t;

	pthread_create(&req_t, NULL, one_request, &r);
	pthread_mutex_lock(&park.mu);
	while (park.n < 1)
		pthread_cond_wait(&park.cv, &park.mu);
	pthread_mutex_unlock(&park.mu);
	cr_assert_eq(http_server_inflight(srv), 1);
	pthread_create(&drain_t, NULL, drain_thread, &d);
	pthread_create(&fin_t, NULL, finish_all, &f); /* answers 200 ms later */
	pthread_join(req_t, NULL);
	pthread_join(fin_t, NULL);
	pthread_join(drain_t, NULL);
	cr_assert_eq(r.status, 200, "the request in flight is answered");
	buf_release(&r.body);
	cr_assert_eq(d.left, 0);
	cr_assert_not(fetch("GET", base, NULL, &late), "a draining server takes no new connection");
	buf_release(&late.body);
}

Test(http_server, listens_on_ipv6)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct reply r;
	char url[256], v[64];

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (fd >= 0)
			close(fd);
		cr_skip_test("no IPv6 loopback here");
	}
	close(fd);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	start("::1", 2);
	snprintf(url, sizeof(url), "%s/v2/models/six", base);
	cr_assert(fetch("GET", url, NULL, &r), "no answer on %s", url);
	cr_assert_eq(r.status, 200);
	member(&r, "name", v, sizeof(v));
	cr_assert_str_eq(v, "six");
	buf_release(&r.body);
	http_server_free(srv);

	start("::", 2); /* both families */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/models/four", http_server_port(srv));
	cr_assert(fetch("GET", url, NULL, &r), "\"::\" takes IPv4 too");
	cr_assert_eq(r.status, 200);
	buf_release(&r.body);
	http_server_free(srv);
	srv = NULL;
	curl_global_cleanup();
}

Test(http_server, bad_listen_address)
{
	struct http_config cfg = { .host = "not-an-address", .port = 0 };
	struct http_server *s;

	cr_assert_eq(http_server_new(&cfg, &s), 0);
	cr_assert_eq(http_server_start(s), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "IPv4 or IPv6"));
	http_server_free(s);
}
