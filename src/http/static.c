/* static.c - a directory of built files served read-only (the web UI).
 *
 * GET / answers index.html and GET /assets/<path> the files under assets/,
 * which a bundler names by their content hash: those are cached for a year
 * as immutable, index.html is revalidated every time (its ETag makes that a
 * 304). A file with a gzip twin (name.gz, no older than the file) is sent
 * compressed to clients that accept gzip. Paths go through the one path
 * sanitiser and files are opened relative to the directory without
 * following symbolic links, so nothing outside it can be reached.
 */
#include "http/http.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct http_static {
	int dirfd;           /* the served directory, -1 when there is none */
	char *missing_html;  /* the page answered when there is nothing to serve (owned) */
};

static const struct {
	const char *ext, *type;
	bool compressible;
} types[] = {
	{ ".html", "text/html; charset=utf-8", true },
	{ ".js", "text/javascript; charset=utf-8", true },
	{ ".mjs", "text/javascript; charset=utf-8", true },
	{ ".css", "text/css; charset=utf-8", true },
	{ ".json", "application/json", true },
	{ ".map", "application/json", true },
	{ ".svg", "image/svg+xml", true },
	{ ".txt", "text/plain; charset=utf-8", true },
	{ ".png", "image/png", false },
	{ ".ico", "image/x-icon", false },
	{ ".woff2", "font/woff2", false },
};

/* The type of a file by its extension; NULL for one not served (so a stray
 * file of another kind in the directory is never sent). */
static const char *type_of(const char *name, bool *compressible)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);
		if (n > e && !strcasecmp(name + n - e, types[i].ext)) {
			*compressible = types[i].compressible;
			return types[i].type;
		}
	}
	return NULL;
}

/* Does an Accept-Encoding value accept gzip? "gzip" or "*" as a token whose
 * q is not 0 (RFC 9110 12.5.3). */
static bool accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p && *p) {
		size_t n;
		const char *q, *end = strchr(p, ',');

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = strcspn(p, " \t;,");
		if ((n == 4 && !strncasecmp(p, "gzip", 4)) || (n == 1 && *p == '*')) {
			q = memchr(p, ';', (size_t)(end - p));
			if (!q)
				return true;
			q = strstr(q, "q=");
			if (!q || q > end || strtod(q + 2, NULL) > 0)
				return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

static int open_regular(int dirfd, const char *rel, struct stat *st)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int missing(struct http_static *hs, struct http_resp *resp)
{
	http_resp_static(resp, 404, "text/html; charset=utf-8", hs->missing_html);
	return 0;
}

/* Send rel (already sanitised) from the directory. */
static int send_file(struct http_req *req, struct http_resp *resp, const char *rel, bool immutable)
{
	struct http_static *hs = req->ctx;
	const char *type, *inm;
	bool compressible = false, gz = false;
	struct stat st, gst;
	char etag[80], gzname[4200];
	int fd, gfd = -1;

	if (hs->dirfd < 0)
		return missing(hs, resp);
	type = type_of(rel, &compressible);
	if (!type || (fd = open_regular(hs->dirfd, rel, &st)) < 0) {
		if (!strcmp(rel, "index.html"))
			return missing(hs, resp);
		return cairn_error_set(CAIRN_ENOTFOUND, "no file '%.300s' in the web UI", rel);
	}
	if (compressible && snprintf(gzname, sizeof(gzname), "%s.gz", rel) < (int)sizeof(gzname)) {
		const char *ae = http_req_header(req, "Accept-Encoding");
		gfd = open_regular(hs->dirfd, gzname, &gst);
		/* a twin older than its file is stale: never send it */
		if (gfd >= 0 && gst.st_mtim.tv_sec >= st.st_mtim.tv_sec && ae && accepts_gzip(ae))
			gz = true;
	}
	/* the validator names the variant, so a cache never mixes them up */
	snprintf(etag, sizeof(etag), "\"%llx-%llx%s\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec,
		 gz ? "-gz" : "");
	if (compressible && http_resp_header(resp, "Vary", "Accept-Encoding"))
		goto oom;
	if (http_resp_header(resp, "ETag", etag) ||
	    http_resp_header(resp, "Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache"))
		goto oom;
	if (!strcmp(rel, "index.html") &&
	    (http_resp_header(resp, "Content-Security-Policy",
			      "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
			      "frame-ancestors 'none'; base-uri 'none'; form-action 'self'") ||
	     http_resp_header(resp, "Referrer-Policy", "same-origin")))
		goto oom;
	inm = http_req_header(req, "If-None-Match");
	if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
		close(fd);
		if (gfd >= 0)
			close(gfd);
		resp->status = 304;
		resp->content_type = type;
		return 0;
	}
	if (gz) {
		close(fd);
		if (http_resp_header(resp, "Content-Encoding", "gzip")) {
			close(gfd);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		return http_resp_fd(resp, gfd, (uint64_t)gst.st_size, type);
	}
	if (gfd >= 0)
		close(gfd);
	return http_resp_fd(resp, fd, (uint64_t)st.st_size, type);
oom:
	close(fd);
	if (gfd >= 0)
		close(gfd);
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static int static_index(struct http_req *req, struct http_resp *resp)
{
	return send_file(req, resp, "index.html", false);
}

static int static_asset(struct http_req *req, struct http_resp *resp)
{
	struct buf rel = BUF_INIT;
	int rc;

	if ((rc = buf_puts(&rel, "assets/")) ||
	    (rc = path_clean_rel(req->rest, strlen(req->rest), false, &rel))) {
		buf_release(&rel);
		if (rc == CAIRN_EINVALID)
			return cairn_error_set(CAIRN_ENOTFOUND, "no such file in the web UI");
		return rc;
	}
	rc = send_file(req, resp, rel.ptr, true);
	buf_release(&rel);
	return rc;
}

static const struct http_route static_routes[] = {
	{ .method = "GET", .path = "/", .fn = static_index },
	{ .method = "GET", .path = "/index.html", .fn = static_index },
	{ .method = "GET", .path = "/assets/", .flags = HTTP_PREFIX, .fn = static_asset },
};

int http_static_mount(struct http_server *s, const char *prefix, const char *dir, const char *missing_html,
		      struct http_static **out)
{
	struct http_static *hs = ccalloc(1, sizeof(*hs));
	int rc;

	*out = NULL;
	if (!hs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	hs->dirfd = -1;
	if (!(hs->missing_html = cstrdup(missing_html ? missing_html : "<!doctype html><title>Not built</title>"
								       "<p>There is nothing to serve here.</p>"))) {
		free(hs);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (dir && (hs->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 && errno != ENOENT) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open the web UI directory %.300s: %s", dir, strerror(errno));
		http_static_free(hs);
		return rc;
	}
	if ((rc = http_server_mount(s, prefix, static_routes, sizeof(static_routes) / sizeof(static_routes[0]), hs,
				    NULL))) {
		http_static_free(hs);
		return rc;
	}
	*out = hs;
	return 0;
}

bool http_static_ready(const struct http_static *hs)
{
	struct stat st;

	return hs && hs->dirfd >= 0 && !fstatat(hs->dirfd, "index.html", &st, 0) && S_ISREG(st.st_mode);
}

void http_static_free(struct http_static *hs)
{
	if (!hs)
		return;
	if (hs->dirfd >= 0)
		close(hs->dirfd);
	free(hs->missing_html);
	free(hs);
}
