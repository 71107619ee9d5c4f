/* progress.h - one progress line on stderr for long operations.
 *
 * A struct progress counts items and bytes from any number of threads
 * (atomics). progress_tick() redraws "label  done/total files  size  rate/s
 * ETA" at most ten times a second, and only once the operation has run for a
 * second, and only when stderr is a terminal and the progress is not quiet;
 * progress_end() clears the line. Non-interactive output gets nothing. With a
 * unit ("rows"), the line reads "label  N rows  12.3 MB of 40.0 MB  R rows/s
 * 5.1 MB/s  ETA": items have no total, bytes say how far through the input.
 */
#ifndef CAIRN_CORE_PROGRESS_H
#define CAIRN_CORE_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *label;
	const char *unit;                 /* what items are: NULL for files (set after progress_begin) */
	int64_t total_items, total_bytes; /* 0: unknown */
	atomic_llong items, bytes;
	atomic_llong last_draw_ns;
	int64_t start_ns;
	bool enabled;
	atomic_bool drawn;
};

/* Start; quiet forces silence (--quiet). */
void progress_begin(struct progress *p, const char *label, int64_t total_items, int64_t total_bytes, bool quiet);
/* Count work done (thread-safe) and redraw when due. */
void progress_add(struct progress *p, int64_t items, int64_t bytes);
/* Clear the line if one was drawn. */
void progress_end(struct progress *p);
/* Format a byte count as "12.3 MB" into out (size >= 16). */
void progress_fmt_bytes(int64_t n, char *out, unsigned size);

#endif
