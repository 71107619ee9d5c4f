/* Unit tests for core/metrics: values, exposition text, names, the series cap,
 * threads, allocation failures, and promtool reading what we render. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/metrics.h"

#define L(...) ((const char *[]){ __VA_ARGS__ })

static void fini(void) { fault_disarm(); }

/* A callback: counts its calls. */
static double fn(void *arg)
{
	return ++*(int *)arg;
}

TestSuite(core_metrics, .fini = fini);

/* Render m into a heap string (free it). */
static char *render(struct metrics *m)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(metrics_render(m, &b), 0);
	return buf_detach(&b);
}

static void assert_contains(const char *text, const char *want)
{
	cr_assert(strstr(text, want), "missing:\n%s\nin:\n%s", want, text);
}

Test(core_metrics, empty_registry_renders_nothing)
{
	struct metrics *m;
	struct buf b = BUF_INIT;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_render(m, &b), 0);
	cr_assert_str_eq(b.ptr, "");
	buf_release(&b);
	metrics_free(m);
	metrics_free(NULL);
}

Test(core_metrics, counter_and_gauge_values)
{
	struct metrics *m;
	struct metrics_family *c, *g;
	struct metrics_series *cs, *gs;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "cairn_rows_total", "Rows predicted.", NULL, 0), 0);
	cr_assert_eq(metrics_gauge_new(m, &g, "cairn_inflight", "Requests in flight.", NULL, 0), 0);
	t = render(m);
	cr_assert_str_eq(t, "# HELP cairn_rows_total Rows predicted.\n"
			    "# TYPE cairn_rows_total counter\n"
			    "cairn_rows_total 0\n"
			    "# HELP cairn_inflight Requests in flight.\n"
			    "# TYPE cairn_inflight gauge\n"
			    "cairn_inflight 0\n");
	free(t);
	cs = metrics_series_get(c, NULL, 0);
	gs = metrics_series_get(g, NULL, 0);
	cr_assert_eq(cs, metrics_series_get(c, NULL, 0));
	metrics_counter_add(cs, 3);
	metrics_counter_add(cs, 18446744073709551000ull);
	cr_assert_eq(metrics_counter_get(cs), 18446744073709551003ull);
	metrics_gauge_add(gs, 2);
	metrics_gauge_add(gs, -0.5);
	cr_assert_eq(metrics_gauge_get(gs), 1.5);
	t = render(m);
	assert_contains(t, "\ncairn_rows_total 18446744073709551003\n");
	assert_contains(t, "\ncairn_inflight 1.5\n");
	free(t);
	metrics_gauge_set(gs, 0.1);
	t = render(m);
	assert_contains(t, "\ncairn_inflight 0.1\n");
	free(t);
	metrics_gauge_set(gs, 1.0 / 3);
	t = render(m);
	assert_contains(t, "\ncairn_inflight 0.3333333333333333\n"); /* shortest that reads back */
	free(t);
	metrics_gauge_set(gs, NAN);
	t = render(m);
	assert_contains(t, "\ncairn_inflight NaN\n");
	free(t);
	metrics_gauge_set(gs, -INFINITY);
	t = render(m);
	assert_contains(t, "\ncairn_inflight -Inf\n");
	free(t);
	metrics_gauge_set(gs, 1e300);
	t = render(m);
	assert_contains(t, "\ncairn_inflight 1e+300\n");
	free(t);
	metrics_free(m);
}

Test(core_metrics, histogram_buckets_are_cumulative)
{
	static const double bounds[] = { 0.001, 0.005, 0.01 };
	struct metrics *m;
	struct metrics_family *h, *d, *b;
	struct metrics_series *s;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_hist_new(m, &h, "cairn_req_seconds", "Latency.", L("route"), 1, bounds, 3,
				      METRICS_PER_NS), 0);
	s = metrics_series_get(h, L("/ping"), 1);
	metrics_hist_observe(s, 0);
	metrics_hist_observe(s, 1000000);
	metrics_hist_observe(s, 1000001);
	metrics_hist_observe(s, 5000000);
	metrics_hist_observe(s, 20000000);
	metrics_hist_observe(s, 3000000000ull);
	t = render(m);
	cr_assert_str_eq(t, "# HELP cairn_req_seconds Latency.\n"
			    "# TYPE cairn_req_seconds histogram\n"
			    "cairn_req_seconds_bucket{route=\"/ping\",le=\"0.001\"} 2\n"
			    "cairn_req_seconds_bucket{route=\"/ping\",le=\"0.005\"} 4\n"
			    "cairn_req_seconds_bucket{route=\"/ping\",le=\"0.01\"} 4\n"
			    "cairn_req_seconds_bucket{route=\"/ping\",le=\"+Inf\"} 6\n"
			    "cairn_req_seconds_sum{route=\"/ping\"} 3.027000001\n"
			    "cairn_req_seconds_count{route=\"/ping\"} 6\n");
	free(t);

	/* the default bounds, 50 us .. 10 s, and an empty unlabelled histogram */
	cr_assert_eq(metrics_hist_new(m, &d, "cairn_default_seconds", "Default.", NULL, 0, NULL, 0,
				      METRICS_PER_NS), 0);
	/* plain counts: per_unit 1 */
	cr_assert_eq(metrics_hist_new(m, &b, "cairn_batch_size", "Rows per batch.", NULL, 0,
				      (const double[]){ 1, 2, 4, 8 }, 4, 1), 0);
	metrics_hist_observe(metrics_series_get(b, NULL, 0), 3);
	metrics_hist_observe(metrics_series_get(b, NULL, 0), 8);
	metrics_hist_observe(metrics_series_get(b, NULL, 0), 9);
	t = render(m);
	assert_contains(t, "cairn_default_seconds_bucket{le=\"5e-05\"} 0\n"
			   "cairn_default_seconds_bucket{le=\"0.0001\"} 0\n"
			   "cairn_default_seconds_bucket{le=\"0.00025\"} 0\n");
	assert_contains(t, "cairn_default_seconds_bucket{le=\"10\"} 0\n"
			   "cairn_default_seconds_bucket{le=\"+Inf\"} 0\n"
			   "cairn_default_seconds_sum 0\n"
			   "cairn_default_seconds_count 0\n");
	assert_contains(t, "cairn_batch_size_bucket{le=\"2\"} 0\n"
			   "cairn_batch_size_bucket{le=\"4\"} 1\n"
			   "cairn_batch_size_bucket{le=\"8\"} 2\n"
			   "cairn_batch_size_bucket{le=\"+Inf\"} 3\n"
			   "cairn_batch_size_sum 20\n"
			   "cairn_batch_size_count 3\n");
	free(t);
	cr_assert_eq(metrics_latency_nbounds, 17);
	cr_assert_eq(metrics_latency_bounds[0], 0.00005);
	cr_assert_eq(metrics_latency_bounds[16], 10);
	metrics_free(m);
}

Test(core_metrics, every_default_bound_is_inclusive_in_ns)
{
	struct metrics *m;
	struct metrics_family *h;
	struct metrics_series *s;
	struct buf want = BUF_INIT;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_hist_new(m, &h, "lat_seconds", "L.", NULL, 0, NULL, 0, METRICS_PER_NS), 0);
	s = metrics_series_get(h, NULL, 0);
	for (size_t i = 0; i < metrics_latency_nbounds; i++)
		metrics_hist_observe(s, (uint64_t)llround(metrics_latency_bounds[i] * 1e9));
	t = render(m);
	/* each observation sits exactly on its bound, so bucket i counts i + 1 */
	for (size_t i = 0; i < metrics_latency_nbounds; i++) {
		char le[32];
		buf_clear(&want);
		snprintf(le, sizeof(le), "%.15g", metrics_latency_bounds[i]);
		buf_printf(&want, "lat_seconds_bucket{le=\"%s\"} %zu\n", le, i + 1);
		assert_contains(t, want.ptr);
	}
	free(t);
	buf_release(&want);
	metrics_free(m);
}

Test(core_metrics, labels_and_help_are_escaped)
{
	struct metrics *m;
	struct metrics_family *g;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_gauge_new(m, &g, "cairn_model_info", "Model \"info\"\\ line\nnext.",
				       L("name", "version"), 2), 0);
	metrics_gauge_set(metrics_series_get(g, L("a\\b\"c\nd", "é✓"), 2), 1);
	t = render(m);
	cr_assert_str_eq(t, "# HELP cairn_model_info Model \"info\"\\\\ line\\nnext.\n"
			    "# TYPE cairn_model_info gauge\n"
			    "cairn_model_info{name=\"a\\\\b\\\"c\\nd\",version=\"é✓\"} 1\n");
	free(t);
	metrics_free(m);
}

Test(core_metrics, series_are_found_again_and_render_in_creation_order)
{
	struct metrics *m;
	struct metrics_family *c;
	struct metrics_series *a, *b, *e;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "req_total", "R.", L("route", "code"), 2), 0);
	t = render(m);
	cr_assert_str_eq(t, "", "a labelled family without series is left out");
	free(t);
	b = metrics_series_get(c, L("/b", "200"), 2);
	a = metrics_series_get(c, L("/a", "200"), 2);
	e = metrics_series_get(c, L("", ""), 2);
	cr_assert_neq(a, b);
	cr_assert_eq(metrics_series_get(c, L("/a", "200"), 2), a);
	cr_assert_eq(metrics_series_get(c, L("/b", "200"), 2), b);
	cr_assert_neq(metrics_series_get(c, L("/a2", "00"), 2), a, "values are not concatenated");
	cr_assert_eq(metrics_series_get(c, L("", ""), 2), e);
	metrics_counter_add(a, 1);
	metrics_counter_add(b, 2);
	t = render(m);
	cr_assert_str_eq(t, "# HELP req_total R.\n# TYPE req_total counter\n"
			    "req_total{route=\"/b\",code=\"200\"} 2\n"
			    "req_total{route=\"/a\",code=\"200\"} 1\n"
			    "req_total{route=\"\",code=\"\"} 0\n"
			    "req_total{route=\"/a2\",code=\"00\"} 0\n");
	free(t);
	cr_assert_eq(metrics_family_nseries(c), 4);
	/* many series: the lookup table grows and keeps finding every one */
	struct metrics_series *all[500];
	char name[32];
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "/r%d", i);
		all[i] = metrics_series_get(c, L(name, "201"), 2);
	}
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "/r%d", i);
		cr_assert_eq(metrics_series_get(c, L(name, "201"), 2), all[i]);
	}
	cr_assert_eq(metrics_family_nseries(c), 504);
	metrics_free(m);
}

Test(core_metrics, names_follow_the_conventions)
{
	struct metrics *m;
	struct metrics_family *f;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &f, "requests", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "requests_total", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_null(f);
	cr_assert_eq(metrics_gauge_new(m, &f, "Requests", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "a:b", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "9a", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "", "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, NULL, "R.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", NULL, NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "\xff", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x_count", "X.", NULL, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", L("le"), 1), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", L("quantile"), 1), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", L("__name"), 1), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", L("a", "a"), 2), CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", L("a-b"), 1), CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "h_seconds", "H.", L("le"), 1, NULL, 0, METRICS_PER_NS),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "X.", NULL, 0), 0);
	cr_assert_eq(metrics_gauge_new(m, &f, "x", "Again.", NULL, 0), CAIRN_EEXISTS);
	cr_assert_eq(metrics_counter_new(m, &f, "x_total", "X.", NULL, 0), 0);
	/* a histogram's samples clash with other names both ways */
	cr_assert_eq(metrics_hist_new(m, &f, "h", "H.", NULL, 0, NULL, 0, METRICS_PER_NS), 0);
	cr_assert_eq(metrics_hist_new(m, &f, "h", "H.", NULL, 0, NULL, 0, METRICS_PER_NS), CAIRN_EEXISTS);
	cr_assert_eq(metrics_hist_new(m, &f, "h_bucket", "H.", NULL, 0, NULL, 0, METRICS_PER_NS), CAIRN_EEXISTS);
	cr_assert_eq(metrics_gauge_new(m, &f, "h_seconds", "H.", NULL, 0), 0);
	cr_assert_eq(metrics_hist_new(m, &f, "x_sum", "H.", NULL, 0, NULL, 0, METRICS_PER_NS), 0);
	cr_assert_eq(metrics_hist_new(m, &f, "x", "H.", NULL, 0, NULL, 0, METRICS_PER_NS), CAIRN_EEXISTS);
	cr_assert_eq(metrics_gauge_fn_new(m, &f, "fn_x", "F.", NULL, NULL), CAIRN_EINVALID);
	metrics_free(m);
}

Test(core_metrics, histogram_bounds_are_checked)
{
	struct metrics *m;
	struct metrics_family *f;
	double many[METRICS_BUCKETS_MAX + 1];

	for (int i = 0; i <= METRICS_BUCKETS_MAX; i++)
		many[i] = i + 1;
	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ 1, 1 }, 2, 1),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ 2, 1 }, 2, 1),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ -1 }, 1, 1),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ 1, INFINITY }, 2, 1),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ NAN }, 1, 1),
		     CAIRN_EINVALID);
	/* 1.2 and 1.7 are the same bucket in whole units */
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, (const double[]){ 1.2, 1.7 }, 2, 1),
		     CAIRN_EINVALID);
	/* the latency bounds in whole seconds collapse */
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, NULL, 0, 1), CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, NULL, 0, 0), CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, many, METRICS_BUCKETS_MAX + 1, 1),
		     CAIRN_EINVALID);
	cr_assert_eq(metrics_hist_new(m, &f, "a", "A.", NULL, 0, many, METRICS_BUCKETS_MAX, 1), 0);
	cr_assert_eq(metrics_hist_new(m, &f, "b", "No bounds: one +Inf bucket.", NULL, 0, many, 0, 1), 0);
	metrics_hist_observe(metrics_series_get(f, NULL, 0), 7);
	cr_assert_eq(metrics_hist_count(metrics_series_get(f, NULL, 0)), 1);
	metrics_free(m);
}

Test(core_metrics, series_cap_sends_the_rest_to_overflow)
{
	struct metrics *m;
	struct metrics_family *c;
	struct metrics_series *s[3], *o;
	char long_value[METRICS_VALUE_MAX + 2];
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "req_total", "R.", L("route", "code"), 2), 0);
	metrics_family_set_cap(c, 3);
	s[0] = metrics_series_get(c, L("/a", "200"), 2);
	s[1] = metrics_series_get(c, L("/b", "200"), 2);
	s[2] = metrics_series_get(c, L("/c", "200"), 2);
	t = render(m);
	cr_assert_null(strstr(t, "other"), "the overflow series shows only once used");
	free(t);
	o = metrics_series_get(c, L("/d", "200"), 2);
	cr_assert_neq(o, s[0]);
	cr_assert_neq(o, s[1]);
	cr_assert_neq(o, s[2]);
	cr_assert_eq(metrics_series_get(c, L("/e", "404"), 2), o);
	cr_assert_eq(metrics_series_get(c, L("other", "other"), 2), o, "the overflow tuple is one series");
	cr_assert_eq(metrics_series_get(c, L("/a", "200"), 2), s[0], "existing series stay");
	cr_assert_eq(metrics_family_nseries(c), 3);
	/* a value too long or not UTF-8 goes there too, even below the cap */
	metrics_family_set_cap(c, 100);
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	cr_assert_eq(metrics_series_get(c, L(long_value, "200"), 2), o);
	cr_assert_eq(metrics_series_get(c, L("/\xff", "200"), 2), o);
	cr_assert_eq(metrics_series_get(c, L("/\xc3", "200"), 2), o);
	long_value[METRICS_VALUE_MAX] = '\0';
	cr_assert_neq(metrics_series_get(c, L(long_value, "200"), 2), o, "METRICS_VALUE_MAX bytes is fine");
	metrics_counter_add(o, 5);
	metrics_counter_add(s[2], 1);
	t = render(m);
	assert_contains(t, "req_total{route=\"/c\",code=\"200\"} 1\n");
	cr_assert(strstr(t, "req_total{route=\"other\",code=\"other\"} 5\n") ==
			  t + strlen(t) - strlen("req_total{route=\"other\",code=\"other\"} 5\n"),
		  "overflow renders last:\n%s", t);
	free(t);
	/* cap 0: everything new overflows */
	metrics_family_set_cap(c, 0);
	cr_assert_eq(metrics_series_get(c, L("/f", "200"), 2), o);
	metrics_free(m);
}

Test(core_metrics, callback_families_are_read_on_render)
{
	struct metrics *m;
	int calls = 0;
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_gauge_fn_new(m, NULL, "conn_open", "Open connections.", fn, &calls), 0);
	cr_assert_eq(metrics_counter_fn_new(m, NULL, "pool_waits_total", "Waits.", fn, &calls), 0);
	cr_assert_eq(metrics_counter_fn_new(m, NULL, "pool_waits", "Waits.", fn, &calls), CAIRN_EINVALID);
	cr_assert_eq(calls, 0);
	t = render(m);
	cr_assert_str_eq(t, "# HELP conn_open Open connections.\n# TYPE conn_open gauge\nconn_open 1\n"
			    "# HELP pool_waits_total Waits.\n# TYPE pool_waits_total counter\n"
			    "pool_waits_total 2\n");
	free(t);
	t = render(m);
	assert_contains(t, "conn_open 3\n");
	free(t);
	metrics_free(m);
}

Test(core_metrics, time_helper_is_monotonic)
{
	struct metrics *m;
	struct metrics_family *h;
	struct metrics_series *s;
	uint64_t a = metrics_now_ns(), b;

	usleep(1000);
	b = metrics_now_ns();
	cr_assert_geq(b - a, 1000000);
	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_hist_new(m, &h, "t_seconds", "T.", NULL, 0, NULL, 0, METRICS_PER_NS), 0);
	s = metrics_series_get(h, NULL, 0);
	metrics_hist_observe_since(s, a);
	metrics_hist_observe_since(s, UINT64_MAX); /* clock "went back": 0 */
	cr_assert_eq(metrics_hist_count(s), 2);
	metrics_free(m);
}

Test(core_metrics, render_reports_the_buffer_limit)
{
	struct metrics *m;
	struct metrics_family *c;
	struct buf b;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "a_total", "A.", NULL, 0), 0);
	buf_init(&b, 10);
	cr_assert_eq(metrics_render(m, &b), CAIRN_ETOOBIG);
	buf_release(&b);
	metrics_free(m);
}

/* ---- threads ---- */

#define THREADS 8
#define ITER 20000

struct worker {
	struct metrics_family *c, *g, *h; /* shared families */
	struct metrics *m;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char own[16];
	struct buf b = BUF_INIT;

	snprintf(own, sizeof(own), "t%d", w->id);
	for (int i = 0; i < ITER; i++) {
		/* a shared series, one of this thread, and new ones created racing the others */
		metrics_counter_add(metrics_series_get(w->c, L("shared"), 1), 1);
		metrics_counter_add(metrics_series_get(w->c, L(own), 1), 2);
		if (i % 100 == 0) {
			char k[16];
			snprintf(k, sizeof(k), "k%d", i / 100);
			metrics_counter_add(metrics_series_get(w->c, L(k), 1), 1);
		}
		metrics_gauge_add(metrics_series_get(w->g, NULL, 0), 1);
		metrics_hist_observe(metrics_series_get(w->h, NULL, 0), (uint64_t)i * 1000);
		if (w->id == 0 && i % 2000 == 0) {
			buf_clear(&b);
			cr_assert_eq(metrics_render(w->m, &b), 0);
		}
	}
	buf_release(&b);
	return NULL;
}

Test(core_metrics, concurrent_updates_sum_exactly)
{
	struct metrics *m;
	struct metrics_family *c, *g, *h;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	char own[16];

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "ops_total", "Ops.", L("who"), 1), 0);
	cr_assert_eq(metrics_gauge_new(m, &g, "level", "Level.", NULL, 0), 0);
	cr_assert_eq(metrics_hist_new(m, &h, "op_seconds", "Op.", NULL, 0, NULL, 0, METRICS_PER_NS), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ c, g, h, m, i };
		cr_assert_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(metrics_counter_get(metrics_series_get(c, L("shared"), 1)), THREADS * ITER);
	for (int i = 0; i < THREADS; i++) {
		snprintf(own, sizeof(own), "t%d", i);
		cr_assert_eq(metrics_counter_get(metrics_series_get(c, L(own), 1)), 2 * ITER);
	}
	for (int k = 0; k < ITER / 100; k++) {
		snprintf(own, sizeof(own), "k%d", k);
		cr_assert_eq(metrics_counter_get(metrics_series_get(c, L(own), 1)), THREADS);
	}
	cr_assert_eq(metrics_family_nseries(c), 1 + THREADS + ITER / 100, "no series created twice");
	cr_assert_eq(metrics_gauge_get(metrics_series_get(g, NULL, 0)), THREADS * ITER);
	cr_assert_eq(metrics_hist_count(metrics_series_get(h, NULL, 0)), THREADS * ITER);
	char *text = render(m);
	/* sum of i*1000 ns for i < ITER, times THREADS, in seconds */
	char want[96];
	snprintf(want, sizeof(want), "op_seconds_sum %.15g\n",
		 (double)THREADS * ((double)ITER * (ITER - 1) / 2) * 1000 / 1e9);
	assert_contains(text, want);
	free(text);
	metrics_free(m);
}

/* ---- allocation failures ---- */

/* Register one of each kind; returns the first error. */
static int register_all(struct metrics *m)
{
	static int calls;
	struct metrics_family *f;
	int err;

	if ((err = metrics_counter_new(m, &f, "c_total", "C.", L("a", "b"), 2)) ||
	    (err = metrics_gauge_new(m, &f, "g", "G.", NULL, 0)) ||
	    (err = metrics_hist_new(m, &f, "h_seconds", "H.", L("a"), 1, NULL, 0, METRICS_PER_NS)) ||
	    (err = metrics_hist_new(m, &f, "h2_seconds", "H.", NULL, 0, NULL, 0, METRICS_PER_NS)) ||
	    (err = metrics_gauge_fn_new(m, &f, "fn", "F.", fn, &calls)))
		return err;
	return 0;
}

Test(core_metrics, registration_fails_cleanly_on_every_allocation)
{
	struct metrics *m;
	uint64_t n, calls;
	int err;

	fault_arm(FAULT_ALLOC, 0, FAULT_THIS_THREAD);
	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(register_all(m), 0);
	calls = fault_calls();
	fault_disarm();
	metrics_free(m);
	cr_assert_gt(calls, 10);
	for (n = 1; n <= calls; n++) {
		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		err = metrics_new(&m);
		if (err) {
			cr_assert_eq(err, CAIRN_ENOMEM);
			cr_assert_null(m);
			continue;
		}
		err = register_all(m);
		fault_disarm();
		cr_assert_eq(err, CAIRN_ENOMEM, "allocation %" PRIu64 " failed, got %d", n, err);
		/* what registered still works and renders */
		struct buf b = BUF_INIT;
		cr_assert_eq(metrics_render(m, &b), 0);
		buf_release(&b);
		metrics_free(m); /* LSan: nothing left behind */
	}
}

Test(core_metrics, series_creation_failure_goes_to_overflow)
{
	struct metrics *m;
	struct metrics_family *c;
	struct metrics_series *o, *s;
	char name[32];
	int outcome[2] = { 0, 0 }; /* created, overflowed */
	char *t;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "req_total", "R.", L("route"), 1), 0);
	o = metrics_series_get(c, L("other"), 1);
	/* every allocation fails: the observation is counted as "other" */
	fault_arm(FAULT_ALLOC, 1, FAULT_PERSIST | FAULT_THIS_THREAD);
	s = metrics_series_get(c, L("/a"), 1);
	fault_disarm();
	cr_assert_eq(s, o);
	metrics_counter_add(s, 1);
	cr_assert_eq(metrics_family_nseries(c), 0);
	s = metrics_series_get(c, L("/a"), 1);
	cr_assert_neq(s, o, "memory is back: the series is created");
	/* fill the lookup table up to where it grows, then fail each allocation of the next lookup */
	for (int n = 1; n <= 3; n++) {
		for (int i = 0; i < 40; i++) {
			snprintf(name, sizeof(name), "/n%d/%d", n, i);
			fault_arm(FAULT_ALLOC, (uint64_t)n, FAULT_THIS_THREAD);
			s = metrics_series_get(c, L(name), 1);
			fault_disarm();
			cr_assert_not_null(s);
			/* created, or dropped into "other" and created by the next lookup */
			struct metrics_series *again = metrics_series_get(c, L(name), 1);
			cr_assert(again == s || (s == o && again != o), "%s", name);
			outcome[s == o]++;
		}
	}
	cr_assert_gt(outcome[0], 0);
	cr_assert_gt(outcome[1], 0);
	t = render(m);
	assert_contains(t, "req_total{route=\"other\"} 1\n");
	free(t);
	metrics_free(m);
}

Test(core_metrics, render_fails_cleanly_without_memory)
{
	struct metrics *m;
	struct buf b = BUF_INIT;

	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(register_all(m), 0);
	fault_arm(FAULT_ALLOC, 1, FAULT_PERSIST | FAULT_THIS_THREAD);
	cr_assert_eq(metrics_render(m, &b), CAIRN_ENOMEM);
	fault_disarm();
	buf_release(&b);
	metrics_free(m);
}

/* ---- the real parser ---- */

static double nan_fn(void *arg) { return NAN; }

Test(core_metrics, promtool_accepts_the_awkward_cases)
{
	struct metrics *m;
	struct metrics_family *c, *g, *h, *e, *many, *b;
	char path[] = "/tmp/cairn-metrics-XXXXXX";
	char cmd[256], line[512];
	struct buf text = BUF_INIT, said = BUF_INIT;
	FILE *p;
	int fd, rc, calls = 0;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		cr_skip_test("promtool is not installed (scripts/deps.sh test)");
	cr_assert_eq(metrics_new(&m), 0);
	cr_assert_eq(metrics_counter_new(m, &c, "cairn_http_requests_total", "HTTP requests answered, by \"route\" and \\code\\\nsecond line.",
					 L("route", "code"), 2), 0);
	metrics_counter_add(metrics_series_get(c, L("/api/2.0/mlflow/runs/get", "200"), 2), 41);
	metrics_counter_add(metrics_series_get(c, L("a\\b\"c\nd}{,=", "500"), 2), 1);
	metrics_counter_add(metrics_series_get(c, L("", ""), 2), 1);
	metrics_counter_add(metrics_series_get(c, L("ünïcødé ✓ 模型", "404"), 2), 1);
	metrics_counter_add(metrics_series_get(c, L("/\xff", "400"), 2), 1); /* -> other */
	cr_assert_eq(metrics_gauge_new(m, &g, "cairn_drift_score", "Drift.", L("model", "column", "test"), 3), 0);
	metrics_gauge_set(metrics_series_get(g, L("m", "nan", "ks"), 3), NAN);
	metrics_gauge_set(metrics_series_get(g, L("m", "pinf", "ks"), 3), INFINITY);
	metrics_gauge_set(metrics_series_get(g, L("m", "ninf", "ks"), 3), -INFINITY);
	metrics_gauge_set(metrics_series_get(g, L("m", "tiny", "ks"), 3), 5e-324);
	metrics_gauge_set(metrics_series_get(g, L("m", "huge", "ks"), 3), 1.7976931348623157e308);
	metrics_gauge_set(metrics_series_get(g, L("m", "neg", "ks"), 3), -0.1);
	metrics_gauge_set(metrics_series_get(g, L("m", "third", "ks"), 3), 1.0 / 3);
	cr_assert_eq(metrics_hist_new(m, &h, "cairn_http_request_duration_seconds", "Latency.", L("route"), 1,
				      NULL, 0, METRICS_PER_NS), 0);
	metrics_hist_observe(metrics_series_get(h, L("/ping"), 1), 123456);
	metrics_hist_observe(metrics_series_get(h, L("/ping"), 1), 20000000000ull);
	metrics_series_get(h, L("/empty"), 1);
	cr_assert_eq(metrics_hist_new(m, &e, "cairn_empty_seconds", "Never observed.", NULL, 0, NULL, 0,
				      METRICS_PER_NS), 0);
	cr_assert_eq(metrics_hist_new(m, &b, "cairn_serve_batch_size", "Rows per batch.", L("model"), 1,
				      (const double[]){ 1, 2, 4, 8, 16, 32, 64 }, 7, 1), 0);
	metrics_hist_observe(metrics_series_get(b, L("churn"), 1), 5);
	cr_assert_eq(metrics_gauge_new(m, &many, "cairn_model_info", "Model served.",
				       L("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"),
				       16), 0);
	metrics_gauge_set(metrics_series_get(many, L("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
						     "13", "14", "15", "16"), 16), 1);
	cr_assert_eq(metrics_gauge_fn_new(m, NULL, "cairn_nan_fn", "Callback.", nan_fn, NULL), 0);
	cr_assert_eq(metrics_counter_fn_new(m, NULL, "cairn_fn_total", "Callback counter.", fn, &calls), 0);
	cr_assert_eq(metrics_render(m, &text), 0);

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text.ptr, text.len), (ssize_t)text.len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p))
		buf_puts(&said, line);
	rc = pclose(p);
	cr_assert_eq(rc, 0, "promtool exit %d:\n%s\non:\n%s", rc, said.ptr, text.ptr);
	cr_assert_str_eq(said.ptr, "", "promtool said:\n%s", said.ptr);
	unlink(path);
	buf_release(&text);
	buf_release(&said);
	metrics_free(m);
}
