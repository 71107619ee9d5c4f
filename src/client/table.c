/* table.c - plain-text tables and value formats for the CLI's human output. */
#include "client/table.h"
#include "core/fault.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TABLE_GAP 2 /* spaces between columns */

void table_init(struct table *t, size_t ncols, size_t fixed)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->fixed = fixed;
}

void table_release(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	table_init(t, t->ncols, t->fixed);
}

static void table_push(struct table *t, char *s)
{
	char **nc;
	size_t ncap;

	if (!s || t->err) {
		free(s);
		t->err = CAIRN_ENOMEM;
		return;
	}
	if (t->n == t->cap) {
		ncap = t->cap ? t->cap * 2 : 64;
		if (!(nc = crealloc(t->cells, ncap * sizeof(*nc)))) {
			free(s);
			t->err = CAIRN_ENOMEM;
			return;
		}
		t->cells = nc;
		t->cap = ncap;
	}
	t->cells[t->n++] = s;
}

void table_add(struct table *t, const char *s)
{
	table_push(t, cstrdup(s ? s : "-"));
}

void table_addf(struct table *t, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.err) {
		buf_release(&b);
		table_push(t, NULL);
		return;
	}
	table_push(t, buf_detach(&b));
}

size_t table_rows(const struct table *t)
{
	return t->ncols ? (t->n + t->ncols - 1) / t->ncols : 0;
}

/* Display width: UTF-8 code points. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* Append s cut to at most w code points ("..": it was cut), control bytes as spaces. */
static void put_cell(struct buf *out, const char *s, size_t w, bool pad)
{
	size_t sw = text_width(s), shown = 0, keep = sw > w ? (w > 2 ? w - 2 : w) : sw;
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if ((*p & 0xC0) != 0x80) {
			if (shown == keep)
				break;
			shown++;
		}
		buf_putc(out, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
	}
	if (sw > w && w > 2) {
		buf_puts(out, "..");
		shown += 2;
	}
	while (pad && shown++ < w)
		buf_putc(out, ' ');
}

int table_render(const struct table *t, size_t width, size_t maxcell, struct buf *out, size_t *dropped)
{
	size_t rows = table_rows(t), *w = NULL, ncols = t->ncols, shown = 0, total = 0, c, r, cw;
	const char *cell;
	int rc = 0;

	if (dropped)
		*dropped = 0;
	if (t->err)
		return cairn_error_set(t->err, "out of memory");
	if (!ncols || !rows)
		return 0;
	if (!(w = ccalloc(ncols, sizeof(*w))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (r = 0; r < rows; r++)
		for (c = 0; c < ncols; c++) {
			cell = r * ncols + c < t->n ? t->cells[r * ncols + c] : "";
			cw = text_width(cell);
			if (maxcell && cw > maxcell)
				cw = maxcell;
			if (cw > w[c])
				w[c] = cw;
		}
	/* keep columns while they fit */
	for (c = 0; c < ncols; c++) {
		cw = w[c] + (c ? TABLE_GAP : 0);
		if (c >= t->fixed && width && total + cw > width)
			break;
		total += cw;
		shown++;
	}
	if (dropped)
		*dropped = ncols - shown;
	for (r = 0; r < rows; r++) {
		for (c = 0; c < shown; c++) {
			cell = r * ncols + c < t->n ? t->cells[r * ncols + c] : "";
			if (c)
				buf_puts(out, "  ");
			put_cell(out, cell, w[c], c + 1 < shown);
		}
		/* no trailing blanks */
		while (out->len && out->ptr[out->len - 1] == ' ')
			buf_truncate(out, out->len - 1);
		buf_putc(out, '\n');
	}
	rc = buf_error(out);
	free(w);
	return rc;
}

size_t table_term_width(void)
{
	const char *cols = getenv("COLUMNS");
	struct winsize ws;
	char *end;
	long n;

	if (cols && *cols) {
		n = strtol(cols, &end, 10);
		if (!*end && n > 0)
			return (size_t)n;
	}
	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
		return ws.ws_col;
	return 0;
}

void table_fmt_time(int64_t ms, struct buf *out)
{
	time_t secs = (time_t)(ms / 1000);
	char s[64];
	struct tm tm;

	if (ms <= 0 || !localtime_r(&secs, &tm) || !strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm)) {
		buf_putc(out, '-');
		return;
	}
	buf_puts(out, s);
}

void table_fmt_duration(int64_t ms, struct buf *out)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		buf_putc(out, '-');
	else if (ms < 1000)
		buf_printf(out, "%lldms", (long long)ms);
	else if (ms < 60000)
		buf_printf(out, "%.1fs", (double)ms / 1000.0);
	else if (s < 3600)
		buf_printf(out, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		buf_printf(out, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		buf_printf(out, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* The shortest %g form that reads back as d (full), or 6 significant digits. */
static void put_real(struct buf *out, double d, int full)
{
	char s[64];

	if (!full) {
		buf_printf(out, "%.6g", d);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d || prec == 17)
			break;
	}
	buf_puts(out, s);
}

void table_fmt_value(json_t *v, int full, struct buf *out)
{
	if (!v || json_is_null(v))
		buf_putc(out, '-');
	else if (json_is_string(v))
		buf_puts(out, json_string_value(v));
	else if (json_is_integer(v))
		buf_printf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		put_real(out, json_real_value(v), full);
	else if (json_is_boolean(v))
		buf_puts(out, json_is_true(v) ? "true" : "false");
	else
		buf_puts(out, "?");
}
