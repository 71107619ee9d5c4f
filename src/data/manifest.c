/* manifest.c - directory manifests: sorted (sha256, size, mode, path) lines, and the file lists they come from. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void dlist_release(struct dlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
	l->bytes = 0;
}

int dlist_push(struct dlist *l, const char *path, size_t n)
{
	struct dentry *e;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct dentry *v = crealloc(l->v, cap * sizeof(*v));
		if (!v)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->path = cstrndup(path, n);
	if (!e->path)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	e->mode = 0644;
	l->n++;
	return 0;
}

int dentry_abs(const char *base, const struct dentry *e, struct buf *out)
{
	buf_clear(out);
	buf_puts(out, base);
	if (e->path[0]) {
		buf_putc(out, '/');
		buf_puts(out, e->path);
	}
	return buf_error(out);
}

static int cmp_dentry(const void *a, const void *b)
{
	return strcmp(((const struct dentry *)a)->path, ((const struct dentry *)b)->path);
}

void dlist_sort(struct dlist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_dentry);
}

struct dentry *dlist_find(const struct dlist *l, const char *path)
{
	struct dentry key = { .path = (char *)path };

	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_dentry) : NULL;
}

int manifest_format(const struct dlist *l, struct buf *out)
{
	buf_puts(out, MANIFEST_MAGIC);
	for (size_t i = 0; i < l->n; i++) {
		const struct dentry *e = &l->v[i];
		if (strchr(e->path, '\n'))
			return cairn_error_set(CAIRN_EINVALID, "file name with a newline cannot be tracked: '%s'", e->path);
		if (i && strcmp(l->v[i - 1].path, e->path) >= 0)
			return cairn_error_set(CAIRN_ERR, "internal error: manifest entries out of order at '%s'", e->path);
		buf_printf(out, "%s %lld %o %s\n", e->hex, (long long)e->size, e->mode, e->path);
	}
	return buf_error(out);
}

/* Parse an unsigned decimal field ending at a space, in its one canonical
 * form (no leading zeros), up to max. */
static int parse_num(const char **p, const char *end, long long max, long long *v)
{
	const char *s = *p;
	long long x = 0;

	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] != ' '))
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		int d = *s - '0';
		if (x > (max - d) / 10)
			return -1;
		x = x * 10 + d;
		s++;
	}
	if (s >= end || *s != ' ')
		return -1;
	*p = s + 1;
	*v = x;
	return 0;
}

int manifest_parse(const char *text, size_t n, struct dlist *out)
{
	const char *p = text, *end = text + n;
	size_t magic = strlen(MANIFEST_MAGIC), line = 1;
	struct buf clean = BUF_INIT;
	int rc = 0;

	if (n < magic || memcmp(text, MANIFEST_MAGIC, magic))
		return cairn_error_set(CAIRN_EINVALID, "not a cairn manifest (bad first line)");
	p += magic;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		long long size, mode;
		struct dentry *e;

		line++;
		if (!eol || eol - p < SHA256_HEX_LEN + 1) {
			rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu is truncated", line);
			break;
		}
		if (p[SHA256_HEX_LEN] != ' ') {
			rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu: bad hash", line);
			break;
		}
		{
			char hex[SHA256_HEX_LEN + 1];
			memcpy(hex, p, SHA256_HEX_LEN);
			hex[SHA256_HEX_LEN] = '\0';
			if (!sha256_is_hex(hex)) {
				rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu: bad hash", line);
				break;
			}
			p += SHA256_HEX_LEN + 1;
			mode = 0;
			if (parse_num(&p, eol, INT64_MAX / 2, &size) || eol - p < 4 ||
			    (memcmp(p, "644 ", 4) && memcmp(p, "755 ", 4)) || size > INT64_MAX / 2 - out->bytes) {
				rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu: bad size or mode", line);
				break;
			}
			mode = p[0] == '7' ? 0755 : 0644;
			p += 4;
			buf_clear(&clean);
			if ((rc = path_clean_rel(p, (size_t)(eol - p), false, &clean)))
				break;
			if (clean.len != (size_t)(eol - p) || memcmp(clean.ptr, p, clean.len)) {
				rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu: path is not in normal form", line);
				break;
			}
			if (out->n && strcmp(out->v[out->n - 1].path, clean.ptr) >= 0) {
				rc = cairn_error_set(CAIRN_EINVALID, "manifest line %zu: paths are not sorted or repeat", line);
				break;
			}
			if ((rc = dlist_push(out, clean.ptr, clean.len)))
				break;
			e = &out->v[out->n - 1];
			memcpy(e->hex, hex, sizeof(hex));
			e->size = size;
			e->mode = (unsigned)mode;
			out->bytes += size;
		}
		p = eol + 1;
	}
	buf_release(&clean);
	if (rc)
		dlist_release(out);
	return rc;
}
