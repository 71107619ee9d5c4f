/* fuzz_http.c - libFuzzer target: HTTP request heads, end to end.
 *
 * Each input is sent as raw bytes over loopback to a real http_server (the
 * libmicrohttpd daemon with cairn's head checks, percent-decoding, query
 * parsing, Host/Origin policy, routing and body handling) whose routes read
 * query values, headers and bodies the way the API does. The same bytes also
 * go straight through the decoder and the policy functions, with invariants:
 * unescaping never grows a string, and text it accepts is valid UTF-8 with no
 * NUL marker. ASan/UBSan catch the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/utf8.h"
#include "http/http_int.h"

static struct http_server *srv;
static unsigned port;
static struct http_policy pol;

static void each(void *ud, const char *v)
{
	size_t *n = ud;
	*n += strlen(v);
}

static int echo(struct http_req *req, struct http_resp *resp)
{
	size_t n = 0;
	const char *q = http_req_query(req, "q"), *h = http_req_header(req, "X-Test");

	http_req_query_each(req, "run_ids", each, &n);
	buf_printf(&resp->body, "{\"n\":%zu,\"q\":%zu,\"h\":%zu,\"body\":%zu,\"rest\":%zu}", n, q ? strlen(q) : 0,
		   h ? strlen(h) : 0, req->body.len, strlen(req->rest));
	return buf_error(&resp->body);
}

static int chunk(struct http_req *req, const char *data, size_t n)
{
	return n && data[0] == '!' ? cairn_error_set(CAIRN_EINVALID, "chunk starts with '!'") : 0;
}

static const struct http_route routes[] = {
	{ .method = "GET", .path = "/echo", .fn = echo },
	{ .method = "POST", .path = "/echo", .fn = echo },
	{ .method = "GET", .path = "/files/", .flags = HTTP_PREFIX, .fn = echo },
	{ .method = "PUT", .path = "/files/", .flags = HTTP_PREFIX | HTTP_STREAM, .fn = echo, .chunk = chunk },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct http_config cfg = { .host = "127.0.0.1", .port = 0, .threads = 2, .max_body = 1 << 16,
				   .head_timeout_s = 5, .body_timeout_s = 5 };

	if (http_server_new(&cfg, &srv) || http_server_mount(srv, "", routes, sizeof(routes) / sizeof(routes[0]), NULL, NULL) ||
	    http_server_start(srv))
		abort();
	port = http_server_port(srv);
	if (http_policy_init(&pol, &(struct http_config){ .allowed_origins = "https://ui.example.com" }))
		abort();
	return 0;
}

static void over_the_wire(const uint8_t *data, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 2 };
	char buf[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		size_t off = 0;
		while (off < size) {
			ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		shutdown(fd, SHUT_WR);
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	size_t n;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)http_host_allowed(&pol, s);
	(void)http_origin_allowed(&pol, s, "127.0.0.1:5000");
	(void)http_origin_allowed(&pol, "http://127.0.0.1:5000", s);
	n = strlen(s);
	if (http_unescape(s) > n)
		abort();
	if (http_text_ok(s) && (memchr(s, '\x01', strlen(s)) || !utf8_valid(s, strlen(s))))
		abort();
	free(s);
	over_the_wire(data, size);
	return 0;
}
