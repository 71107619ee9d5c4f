/* table.h - plain-text tables for the terminal, and the value formats they show.
 *
 * Cells are appended left to right, top to bottom (row 0 is the header);
 * table_render() sizes each column to its widest cell (capped), cuts longer
 * cells with "..", replaces control characters with spaces, and, when the
 * total would exceed the width available, leaves out trailing columns (never
 * the first `fixed` ones) and reports how many. Widths count UTF-8 code
 * points. Appends set a sticky error checked once by table_render().
 */
#ifndef CAIRN_CLIENT_TABLE_H
#define CAIRN_CLIENT_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct table {
	size_t ncols;   /* columns per row */
	size_t fixed;   /* leading columns never left out */
	char **cells;   /* row-major, owned */
	size_t n;       /* cells appended */
	size_t cap;     /* cells allocated */
	int err;        /* sticky: CAIRN_ENOMEM after a failed append */
};

void table_init(struct table *t, size_t ncols, size_t fixed);
void table_release(struct table *t);
/* Append one cell (copied; NULL shows as "-"). */
void table_add(struct table *t, const char *s);
void table_addf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t table_rows(const struct table *t);

/* Render into out. width 0: unlimited; maxcell 0: no cap. *dropped (may be
 * NULL) gets the number of columns left out. */
int table_render(const struct table *t, size_t width, size_t maxcell, struct buf *out, size_t *dropped);

/* The width to lay tables out in: $COLUMNS, else the terminal's width when
 * stdout is a terminal, else 0 (unlimited). */
size_t table_term_width(void);

/* "2024-05-01 12:03:04" in local time; "-" for ms <= 0. */
void table_fmt_time(int64_t ms, struct buf *out);
/* "850ms", "12.3s", "4m05s", "2h03m", "3d04h"; "-" for negative. */
void table_fmt_duration(int64_t ms, struct buf *out);
/* A JSON scalar as text: strings as they are, integers in full, reals with
 * up to 6 significant digits (or 17 with full set), "-" for NULL. */
void table_fmt_value(json_t *v, int full, struct buf *out);

#endif
