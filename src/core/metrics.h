/* metrics.h - a registry of Prometheus metric families and their text exposition.
 *
 * A struct metrics owns metric families (counter, gauge, histogram, and gauges
 * or counters computed when rendered); a family owns its series, one per tuple
 * of label values, created on first use and never removed before
 * metrics_free(). metrics_render() writes the Prometheus text format, version
 * 0.0.4 (Content-Type METRICS_CONTENT_TYPE). There is no HTTP here: a server
 * mounts a route that calls metrics_render().
 *
 * Typical use: register families at start-up, look a series up once and
 * cache the pointer, then update it on the hot path:
 *
 *	struct metrics_family *req;
 *	metrics_counter_new(m, &req, "cairn_http_requests_total",
 *	                    "HTTP requests answered.", (const char *[]){"route", "code"}, 2);
 *	struct metrics_series *s = metrics_series_get(req, (const char *[]){"/ping", "200"}, 2);
 *	metrics_counter_add(s, 1);
 *
 * Names follow Prometheus' conventions, and registration enforces the part
 * of them that `promtool check metrics` lints structurally: metric and label
 * names are snake_case, [a-z_][a-z0-9_]* (no capitals, no ':', which is for
 * recording rules); counters end in "_total" and nothing else does; only a
 * histogram ends in _bucket, _sum or _count; label names do not start with
 * "__" and are not "le" or "quantile"; HELP is non-empty UTF-8. Units are
 * not checked: use base units in names (_seconds, _bytes), as promtool asks.
 *
 * Values. Counters are unsigned 64-bit integers. Gauges are doubles (NaN and
 * infinities render as NaN, +Inf, -Inf). A histogram counts unsigned integer
 * observations in a unit of its own: `per_unit` observation units make one
 * base unit of the exposition, so a latency histogram with METRICS_PER_NS
 * observes nanoseconds and renders seconds; a batch-size histogram with
 * per_unit 1 observes and renders plain counts. Its bucket bounds are given
 * in the rendered unit and must be finite, non-negative, strictly increasing
 * and distinct once converted to observation units; "+Inf" is implicit. An
 * observation v lands in the first bucket whose bound b has v <= b * per_unit.
 *
 * Cardinality. Each labelled family holds at most `cap` series (default
 * METRICS_SERIES_CAP; metrics_family_set_cap()). A lookup that would create
 * one more, whose value is longer than METRICS_VALUE_MAX bytes or is not
 * valid UTF-8, or whose series cannot be allocated, returns the family's
 * overflow series instead: the one whose every label value is
 * METRICS_OVERFLOW ("other"). So a client-controlled label (a route, a model
 * name) cannot exhaust memory, the observation is still counted, and a
 * lookup of the tuple ("other", ...) returns that same series. The first
 * overflow of a family is logged once (warn). The overflow series renders
 * after the others, and only once it has been returned.
 *
 * Threading. Registration (metrics_*_new, metrics_family_set_cap),
 * metrics_series_get() and metrics_render() may be called from any number of
 * threads at once. Looking up an existing series takes no lock (atomic loads
 * only); creating one takes the family's mutex. Updating a series
 * (metrics_counter_add, metrics_gauge_set/add, metrics_hist_observe) is a
 * relaxed atomic add or store, no lock, from any thread; metrics_gauge_add is
 * a compare-and-swap loop. metrics_render() takes the registry's mutex (it
 * serialises renders and registrations, never updates) and reads each value
 * atomically; a histogram's buckets, sum and count are read one by one, so a
 * render racing an observation may show its bucket count without its sum,
 * but the buckets it prints are always cumulative and le="+Inf" always equals
 * _count. Callbacks run on the rendering thread with the registry's mutex
 * held: they must be thread-safe and must not call into the registry.
 * metrics_free() only when no other thread uses the registry or any pointer
 * taken from it.
 *
 * Ownership. metrics_new() hands the registry to the caller (metrics_free()).
 * Families and series are borrowed from the registry and live until
 * metrics_free(); names, help, labels and bounds are copied.
 */
#ifndef CAIRN_CORE_METRICS_H
#define CAIRN_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_SERIES_CAP 1000   /* default series per labelled family */
#define METRICS_OVERFLOW "other"  /* every label value of the overflow series */
#define METRICS_VALUE_MAX 256     /* longest label value in bytes; longer ones overflow */
#define METRICS_LABELS_MAX 16     /* most label names per family */
#define METRICS_BUCKETS_MAX 32    /* most histogram bounds (besides +Inf) */
#define METRICS_PER_NS 1000000000u /* per_unit of a histogram observing ns, rendering seconds */

struct metrics;
struct metrics_family;
struct metrics_series;

/* The default histogram bounds, in seconds: request latency from 50 us to 10 s
 * (17 bounds), for a histogram with per_unit METRICS_PER_NS. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_nbounds;

/* A new, empty registry into *out. CAIRN_ENOMEM. */
int metrics_new(struct metrics **out);
/* Free the registry, its families and series. NULL is fine. */
void metrics_free(struct metrics *m);

/* Register a family into *out (borrowed). labels: nlabels label names,
 * copied (NULL when nlabels is 0). Errors: CAIRN_EINVALID for a name, label or
 * help that breaks the rules above, CAIRN_EEXISTS when the name (or a
 * histogram's _bucket/_sum/_count) collides with a registered family,
 * CAIRN_ENOMEM. */
int metrics_counter_new(struct metrics *m, struct metrics_family **out, const char *name,
			const char *help, const char *const *labels, size_t nlabels);
int metrics_gauge_new(struct metrics *m, struct metrics_family **out, const char *name,
		      const char *help, const char *const *labels, size_t nlabels);
/* bounds: nbounds bucket bounds in the rendered unit (NULL and 0: the
 * default metrics_latency_bounds); per_unit: observation units per rendered
 * unit (METRICS_PER_NS, 1...). */
int metrics_hist_new(struct metrics *m, struct metrics_family **out, const char *name,
		     const char *help, const char *const *labels, size_t nlabels,
		     const double *bounds, size_t nbounds, uint64_t per_unit);
/* An unlabelled gauge, or counter, whose value is fn(arg), called each time
 * the registry is rendered (see Threading). out may be NULL. */
int metrics_gauge_fn_new(struct metrics *m, struct metrics_family **out, const char *name,
			 const char *help, double (*fn)(void *arg), void *arg);
int metrics_counter_fn_new(struct metrics *m, struct metrics_family **out, const char *name,
			   const char *help, double (*fn)(void *arg), void *arg);
/* Most series the family holds besides the overflow one (default
 * METRICS_SERIES_CAP; 0 sends every lookup to the overflow series). Series
 * that exist already stay. No effect on unlabelled families. */
void metrics_family_set_cap(struct metrics_family *f, size_t cap);
/* Series the family holds, the overflow series not counted. */
size_t metrics_family_nseries(struct metrics_family *f);

/* The series of label values `values` (n of them, as many as the family has
 * label names; NULL and 0 for an unlabelled family), created when new; never
 * NULL (the overflow series when the family is full, a value is unfit or
 * memory runs out, see above). Borrowed: cache it. Not for fn families. */
struct metrics_series *metrics_series_get(struct metrics_family *f, const char *const *values,
					  size_t n);

/* Hot path: lock-free updates of a series of the right type. */
void metrics_counter_add(struct metrics_series *s, uint64_t n);
void metrics_gauge_set(struct metrics_series *s, double v);
void metrics_gauge_add(struct metrics_series *s, double delta);
/* Count one observation, in the histogram's observation unit. */
void metrics_hist_observe(struct metrics_series *s, uint64_t v);
/* Monotonic clock in nanoseconds, to time a request. */
uint64_t metrics_now_ns(void);
/* Observe metrics_now_ns() - start_ns (0 if the clock went back), for a
 * histogram with per_unit METRICS_PER_NS. */
void metrics_hist_observe_since(struct metrics_series *s, uint64_t start_ns);

/* Current values, for tests and health pages. */
uint64_t metrics_counter_get(const struct metrics_series *s);
double metrics_gauge_get(const struct metrics_series *s);
/* Observations a histogram series has counted. */
uint64_t metrics_hist_count(const struct metrics_series *s);

/* Append the text exposition of every family to out: families in
 * registration order, series in creation order (overflow last), HELP and
 * TYPE lines, labelled families without series left out. Returns 0 or out's
 * sticky error (CAIRN_ENOMEM, CAIRN_ETOOBIG). */
int metrics_render(struct metrics *m, struct buf *out);

#endif
