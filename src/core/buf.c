/* buf.c - growable byte buffer with a hard limit and a sticky error. */
#include "core/buf.h"
#include "core/fault.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf__empty[1];

void buf_init(struct buf *b, size_t max)
{
	b->ptr = buf__empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->err = 0;
}

static size_t buf_limit(const struct buf *b)
{
	return b->max ? b->max : BUF_MAX_DEFAULT;
}

int buf_grow(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (b->err)
		return b->err;
	if (extra > buf_limit(b) - b->len) {
		b->err = CAIRN_ETOOBIG;
		return b->err;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap * 2;
	p = crealloc(b->cap ? b->ptr : NULL, ncap);
	if (!p) {
		b->err = CAIRN_ENOMEM;
		return b->err;
	}
	if (!b->cap)
		p[0] = '\0';
	b->ptr = p;
	b->cap = ncap;
	return 0;
}

int buf_put(struct buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n))
		return b->err;
	if (n)
		memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_put(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->err)
		return b->err;
	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return b->err = CAIRN_ERR;
	if (buf_grow(b, (size_t)n))
		return b->err;
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int buf_put_urlencoded(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
			buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_put(b, e, 3);
		}
	}
	return b->err;
}

int buf_put_html(struct buf *b, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *e;

		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: continue;
		}
		buf_put(b, s + start, i - start);
		buf_puts(b, e);
		start = i + 1;
	}
	buf_put(b, s + start, n - start);
	return b->err;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	if (b->cap)
		b->ptr[len] = '\0';
}

void buf_clear(struct buf *b)
{
	buf_truncate(b, 0);
	b->err = 0;
}

char *buf_detach(struct buf *b)
{
	char *p;

	if (!b->cap) {
		p = cmalloc(1);
		if (p)
			p[0] = '\0';
	} else {
		p = b->ptr;
	}
	buf_init(b, b->max);
	return p;
}

void buf_release(struct buf *b)
{
	if (b->cap)
		free(b->ptr);
	buf_init(b, b->max);
}

int buf_error(const struct buf *b)
{
	if (!b->err)
		return 0;
	if (b->err == CAIRN_ETOOBIG)
		return cairn_error_set(b->err, "buffer exceeds %zu bytes", buf_limit(b));
	return cairn_error_set(b->err, "out of memory");
}
