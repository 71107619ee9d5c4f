/* progress.c - a throttled, thread-safe progress line on a terminal's stderr. */
#include "core/progress.h"
#include "core/util.h"

#include <stdio.h>
#include <unistd.h>

#define DRAW_EVERY_NS 100000000LL
#define QUIET_FOR_NS 1000000000LL

void progress_fmt_bytes(int64_t n, char *out, unsigned size)
{
	static const char *units[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* isatty once per process: progress lines are begun thousands of times */
static bool stderr_is_tty(void)
{
	static atomic_int tty = -1;
	int v = atomic_load(&tty);

	if (v < 0) {
		v = isatty(STDERR_FILENO) ? 1 : 0;
		atomic_store(&tty, v);
	}
	return v;
}

void progress_begin(struct progress *p, const char *label, int64_t total_items, int64_t total_bytes, bool quiet)
{
	p->label = label;
	p->unit = NULL;
	p->total_items = total_items;
	p->total_bytes = total_bytes;
	atomic_store(&p->items, 0);
	atomic_store(&p->bytes, 0);
	p->start_ns = cairn_mono_ns();
	atomic_store(&p->last_draw_ns, p->start_ns);
	atomic_store(&p->drawn, false);
	p->enabled = !quiet && stderr_is_tty();
}

static void draw(struct progress *p, int64_t now)
{
	int64_t items = atomic_load(&p->items), bytes = atomic_load(&p->bytes);
	double secs = (double)(now - p->start_ns) / 1e9;
	char done[16], rate[16], eta[32] = "";
	double bps = secs > 0 ? (double)bytes / secs : 0;

	progress_fmt_bytes(bytes, done, sizeof(done));
	progress_fmt_bytes((int64_t)bps, rate, sizeof(rate));
	if (p->total_bytes > 0 && bps > 0) {
		double left = (double)(p->total_bytes - bytes) / bps;
		snprintf(eta, sizeof(eta), "  ETA %d:%02d", (int)left / 60, (int)left % 60);
	} else if (p->total_items > 0 && items > 0) {
		double left = secs * (double)(p->total_items - items) / (double)items;
		snprintf(eta, sizeof(eta), "  ETA %d:%02d", (int)left / 60, (int)left % 60);
	}
	if (p->unit) {
		char total[16] = "";

		if (p->total_bytes > 0)
			progress_fmt_bytes(p->total_bytes, total, sizeof(total));
		fprintf(stderr, "\r\033[K%s  %lld %s  %s%s%s  %.0f %s/s  %s/s%s", p->label, (long long)items, p->unit, done,
			*total ? " of " : "", total, secs > 0 ? (double)items / secs : 0.0, p->unit, rate, eta);
	} else if (p->total_items > 0)
		fprintf(stderr, "\r\033[K%s  %lld/%lld files  %s  %s/s%s", p->label, (long long)items,
			(long long)p->total_items, done, rate, eta);
	else
		fprintf(stderr, "\r\033[K%s  %lld files  %s  %s/s%s", p->label, (long long)items, done, rate, eta);
	fflush(stderr);
	atomic_store(&p->drawn, true);
}

void progress_add(struct progress *p, int64_t items, int64_t bytes)
{
	int64_t now, last;

	atomic_fetch_add(&p->items, items);
	atomic_fetch_add(&p->bytes, bytes);
	if (!p->enabled)
		return;
	now = cairn_mono_ns();
	last = atomic_load(&p->last_draw_ns);
	if (now - p->start_ns < QUIET_FOR_NS || now - last < DRAW_EVERY_NS)
		return;
	/* one thread wins the right to draw this frame */
	if (atomic_compare_exchange_strong(&p->last_draw_ns, &last, now))
		draw(p, now);
}

void progress_end(struct progress *p)
{
	if (p->enabled && atomic_load(&p->drawn)) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}
