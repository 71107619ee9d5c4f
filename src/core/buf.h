/* buf.h - the one growable byte buffer of cairn, and a non-owning slice.
 *
 * A struct buf starts as BUF_INIT and is never NULL-dereferenced: ptr always
 * points at a NUL-terminated string (an empty static one before the first
 * append). Appends that would grow past `max` (BUF_MAX_DEFAULT unless set) or
 * fail to allocate set a sticky error instead: check buf.err (or
 * buf_error()) once after a chain of appends. buf_detach() hands the memory to
 * the caller, who frees it with free(); buf_release() frees it and resets.
 */
#ifndef CAIRN_CORE_BUF_H
#define CAIRN_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define BUF_MAX_DEFAULT ((size_t)1 << 30)

struct buf {
	char *ptr;   /* NUL-terminated contents; never NULL */
	size_t len;  /* bytes used, not counting the NUL */
	size_t cap;  /* bytes allocated (0: ptr is the static empty string) */
	size_t max;  /* hard limit on len (0 means BUF_MAX_DEFAULT) */
	int err;     /* sticky: CAIRN_ENOMEM or CAIRN_ETOOBIG after a failed append */
};

extern char buf__empty[1];
#define BUF_INIT { buf__empty, 0, 0, 0, 0 }

/* A borrowed span of bytes, not necessarily NUL-terminated. */
struct slice {
	const char *p;
	size_t n;
};

void buf_init(struct buf *b, size_t max);
int buf_grow(struct buf *b, size_t extra);
int buf_put(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Append s with every byte outside [A-Za-z0-9-_.~] percent-encoded. */
int buf_put_urlencoded(struct buf *b, const char *s);
/* n bytes of text escaped for HTML (& < > " ' as entities), for element text and quoted attributes. */
int buf_put_html(struct buf *b, const char *s, size_t n);
/* Truncate to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
void buf_clear(struct buf *b);
/* Give the heap string to the caller (free() it); b becomes empty. */
char *buf_detach(struct buf *b);
void buf_release(struct buf *b);
/* 0, or the sticky error with a message recorded. */
int buf_error(const struct buf *b);

#endif
