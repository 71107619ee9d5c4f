/* path.c - sanitising client paths and small filesystem path helpers. */
#include "core/path.h"
#include "core/error.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static bool is_encoded_sep(const char *p, size_t left)
{
	/* %2e %2f %5c (any case), and %25 (double-encoding) */
	if (left < 3 || p[0] != '%')
		return false;
	if (p[1] == '2' && (p[2] == 'e' || p[2] == 'E' || p[2] == 'f' || p[2] == 'F' || p[2] == '5'))
		return true;
	if (p[1] == '5' && (p[2] == 'c' || p[2] == 'C'))
		return true;
	return false;
}

int path_clean_rel(const char *in, size_t n, bool allow_empty, struct buf *out)
{
	size_t i = 0, start = out->len;

	if (n && in[0] == '/')
		return cairn_error_set(CAIRN_EINVALID, "invalid path '%.*s': absolute paths are not allowed",
				       (int)(n > 200 ? 200 : n), in);
	if (n >= 2 && in[1] == ':')
		return cairn_error_set(CAIRN_EINVALID, "invalid path '%.*s': drive prefixes are not allowed",
				       (int)(n > 200 ? 200 : n), in);
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)in[k];
		if (c == '\\')
			return cairn_error_set(CAIRN_EINVALID, "invalid path '%.*s': backslashes are not allowed",
					       (int)(n > 200 ? 200 : n), in);
		if (c < 0x20 || c == 0x7f)
			return cairn_error_set(CAIRN_EINVALID, "invalid path: control characters are not allowed");
		if (is_encoded_sep(in + k, n - k))
			return cairn_error_set(CAIRN_EINVALID,
					       "invalid path '%.*s': percent-encoded '.', '/', '\\' or '%%' is not allowed",
					       (int)(n > 200 ? 200 : n), in);
	}
	while (i < n) {
		size_t j = i;
		while (j < n && in[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && in[i] == '.')) {
			/* skip empty and "." components */
		} else if (len == 2 && in[i] == '.' && in[i + 1] == '.') {
			buf_truncate(out, start);
			return cairn_error_set(CAIRN_EINVALID, "invalid path '%.*s': '..' is not allowed",
					       (int)(n > 200 ? 200 : n), in);
		} else {
			if (out->len > start)
				buf_putc(out, '/');
			buf_put(out, in + i, len);
		}
		i = j + 1;
	}
	if (buf_error(out))
		return buf_error(out);
	if (out->len == start && !allow_empty)
		return cairn_error_set(CAIRN_EINVALID, "invalid path: empty");
	return 0;
}

int path_mkdirs(const char *dir)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	if (!dir[0])
		return 0;
	{
		struct stat sb;
		if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
			return 0; /* the common case: one stat, no mkdir per component */
	}
	if (buf_puts(&b, dir))
		return buf_error(&b);
	for (char *p = b.ptr + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(b.ptr, 0755) != 0 && errno != EEXIST) {
				rc = cairn_error_set(CAIRN_EIO, "cannot create directory '%s': %s", b.ptr, strerror(errno));
				break;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	buf_release(&b);
	return rc;
}

int path_join(struct buf *out, const char *a, const char *b)
{
	buf_puts(out, a);
	if (out->len && out->ptr[out->len - 1] != '/' && *b)
		buf_putc(out, '/');
	buf_puts(out, b);
	return buf_error(out);
}

size_t path_uri_scheme_len(const char *uri)
{
	size_t i = 1;

	if (!isalpha((unsigned char)uri[0]))
		return 0;
	while (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')
		i++;
	return uri[i] == ':' ? i + 1 : 0;
}

int path_join_uri(struct buf *out, const char *uri, const char *rel)
{
	size_t scheme = path_uri_scheme_len(uri), auth = 0, plen;
	const char *path;

	if (uri[scheme] == '/' && uri[scheme + 1] == '/')
		auth = 2 + strcspn(uri + scheme + 2, "/?#");
	path = uri + scheme + auth;
	plen = strcspn(path, "?#");
	buf_put(out, uri, scheme + auth + plen);
	while (*rel == '/')
		rel++;
	if (*rel) {
		/* "s3://bucket" needs the '/' that starts a path; "mlflow-artifacts:" has none (as MLflow) */
		if (plen ? path[plen - 1] != '/' : auth != 0)
			buf_putc(out, '/');
		buf_puts(out, rel);
	}
	buf_puts(out, path + plen);
	return buf_error(out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int path_unquote_all(const char *in, size_t n, struct buf *out)
{
	struct buf a = BUF_INIT, b = BUF_INIT, *cur = &a, *next = &b, *t;
	bool changed = true;
	int rc;

	buf_put(cur, in, n);
	while (changed && !buf_error(cur)) {
		changed = false;
		buf_clear(next);
		for (size_t i = 0; i < cur->len; i++) {
			const char *p = cur->ptr + i;
			if (*p == '%' && i + 2 < cur->len && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				buf_putc(next, (char)(hexval(p[1]) * 16 + hexval(p[2])));
				i += 2;
				changed = true;
			} else if (*p == '+') {
				buf_putc(next, ' ');
				changed = true;
			} else {
				buf_putc(next, *p);
			}
		}
		if (buf_error(next))
			break;
		t = cur;
		cur = next;
		next = t;
	}
	if (!(rc = buf_error(cur)) && !(rc = buf_error(next)))
		buf_put(out, cur->ptr, cur->len), rc = buf_error(out);
	buf_release(&a);
	buf_release(&b);
	return rc;
}

int path_resolve_rel(const char *in, bool allow_empty, struct buf *out)
{
	struct buf norm = BUF_INIT;
	const char *s = in;
	int rc;

	while (*s) {
		size_t k = strcspn(s, "/");
		if (k == 0 || (k == 1 && s[0] == '.')) {
		} else if (k == 2 && s[0] == '.' && s[1] == '.') {
			char *slash;
			if (!norm.len) {
				buf_release(&norm);
				return cairn_error_set(CAIRN_EINVALID, "'%s' leads outside the workspace", in);
			}
			slash = strrchr(norm.ptr, '/');
			buf_truncate(&norm, slash ? (size_t)(slash - norm.ptr) : 0);
		} else {
			if (norm.len)
				buf_putc(&norm, '/');
			buf_put(&norm, s, k);
		}
		s += k;
		if (*s == '/')
			s++;
	}
	if (!(rc = buf_error(&norm)))
		rc = path_clean_rel(norm.ptr ? norm.ptr : "", norm.len, allow_empty, out);
	buf_release(&norm);
	return rc;
}
