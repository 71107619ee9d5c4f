/* tests/tracking/metric.c - metric history sampling (get-history-bulk-interval). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "store/store.h"
#include "tracking/tracking.h"

static struct store *db;

static void setup(void)
{
	cr_assert_eq(store_open("sqlite::memory:", &db), 0, "store_open: %s", cairn_error_msg());
	cr_assert_eq(store_exec(db, "INSERT INTO runs(run_uuid, name, experiment_id, user_id, status, start_time, "
				    "artifact_uri) VALUES ('r1', 'a', 0, 'u', 'RUNNING', 1, 'mlflow-artifacts:/0/r1/artifacts'),"
				    " ('r2', 'b', 0, 'u', 'RUNNING', 1, 'mlflow-artifacts:/0/r2/artifacts')"), 0, "%s",
		     cairn_error_msg());
}

static void teardown(void)
{
	store_close(db);
	db = NULL;
}

TestSuite(tracking_metric, .init = setup, .fini = teardown);

static void add_point(const char *run, int64_t step, double v)
{
	struct store_stmt *q;

	cr_assert_eq(store_prepare(db, "INSERT INTO metrics(run_uuid, key, value, is_nan, timestamp, step) "
				       "VALUES (?, 'm', ?, 0, 1, ?)", &q), 0, "%s", cairn_error_msg());
	store_bind_text(q, 1, run);
	store_bind_double(q, 2, v);
	store_bind_int64(q, 3, step);
	cr_assert_eq(store_step(q), STORE_DONE, "%s", cairn_error_msg());
	store_reset(q);
}

/* Steps spanning the whole int64 range with more points than max_results:
 * the bucket width (last - first + 1) does not fit in an int64_t; UBSan
 * aborted here before. The sample keeps the first and last point and the
 * extreme values, and never more than max_results points. */
Test(tracking_metric, bulk_interval_sampling_survives_full_int64_step_range)
{
	static const int64_t steps[] = { INT64_MIN, INT64_MIN + 1, -5, -1, 0, 1, 7, INT64_MAX / 2, INT64_MAX - 1,
					 INT64_MAX };
	const char *ids[] = { "r1" };
	const int64_t maxes[] = { 4, 6, 7, 9 };
	size_t nsteps = sizeof(steps) / sizeof(steps[0]);

	for (size_t i = 0; i < nsteps; i++)
		add_point("r1", steps[i], i == 5 ? 100.0 : (double)i);
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		json_t *out = NULL, *p;
		bool first = false, last = false, peak = false;
		size_t i;

		cr_assert_eq(trk_metric_history_bulk_interval(db, ids, 1, "m", -1, -1, maxes[m], &out), 0, "%s",
			     cairn_error_msg());
		cr_assert_leq(json_array_size(out), (size_t)maxes[m], "max_results %lld: %zu points",
			      (long long)maxes[m], json_array_size(out));
		json_array_foreach(out, i, p) {
			json_int_t s = json_integer_value(json_object_get(p, "step"));
			first |= s == INT64_MIN;
			last |= s == INT64_MAX;
			peak |= s == 1;
		}
		cr_assert(first && last, "max_results %lld: the first and last step are kept", (long long)maxes[m]);
		if (maxes[m] >= 6)
			cr_assert(peak, "max_results %lld: the peak survives", (long long)maxes[m]);
		json_decref(out);
	}
}

/* Equal-width step buckets still hold: 100 points at steps 0..99 in 2
 * buckets keep each half's minimum and maximum. */
Test(tracking_metric, bulk_interval_keeps_each_bucket_extremes)
{
	const char *ids[] = { "r2" };
	json_t *out = NULL, *p;
	bool low_dip = false, high_spike = false;
	size_t i;

	for (int s = 0; s < 100; s++)
		add_point("r2", s, s == 20 ? -50.0 : s == 70 ? 500.0 : 1.0);
	/* max 8: 5 evenly spaced points, then (8 - 5) / 2 = 1 bucket; max 10: 2 buckets */
	cr_assert_eq(trk_metric_history_bulk_interval(db, ids, 1, "m", -1, -1, 10, &out), 0, "%s", cairn_error_msg());
	cr_assert_leq(json_array_size(out), 10);
	json_array_foreach(out, i, p) {
		json_int_t s = json_integer_value(json_object_get(p, "step"));
		low_dip |= s == 20;
		high_spike |= s == 70;
	}
	cr_assert(low_dip && high_spike);
	json_decref(out);
}

/* ---- the cached step buckets of whole series (metric_pyramids) ---- */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tracking/pyramid_ref.h"
#include "tracking/trk_int.h"

static char cdir[64];
static struct store *cdb;
static uint64_t crng = 0x9e3779b97f4a7c15ull;

static int64_t cpick(int64_t lo, int64_t hi)
{
	crng ^= crng << 13;
	crng ^= crng >> 7;
	crng ^= crng << 17;
	return lo + (int64_t)(crng % (uint64_t)(hi - lo + 1));
}

static void cache_setup(void)
{
	char uri[128];

	snprintf(cdir, sizeof(cdir), "/tmp/cairn-pyr-XXXXXX");
	cr_assert_not_null(mkdtemp(cdir));
	snprintf(uri, sizeof(uri), "sqlite:%s/c.db", cdir);
	cr_assert_eq(store_open(uri, &cdb), 0, "store_open: %s", cairn_error_msg());
	cr_assert_eq(store_exec(cdb, "INSERT INTO runs(run_uuid, name, experiment_id, user_id, status, start_time, "
				     "artifact_uri) VALUES ('c1', 'a', 0, 'u', 'RUNNING', 1, 'mlflow-artifacts:/0/c1/artifacts'),"
				     " ('c2', 'b', 0, 'u', 'RUNNING', 1, 'mlflow-artifacts:/0/c2/artifacts')"), 0, "%s",
		     cairn_error_msg());
	trk__set_pyramid_min(100);
}

static void cache_teardown(void)
{
	char cmd[128];

	trk__set_pyramid_min(TRK_PYRAMID_MIN_POINTS);
	store_close(cdb);
	cdb = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cdir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tracking_metric_cache, .init = cache_setup, .fini = cache_teardown, .timeout = 120);

static json_t *value_json(const struct pyr_point *p)
{
	if (p->is_nan)
		return json_string("NaN");
	if (isinf(p->v))
		return json_string(p->v > 0 ? "Infinity" : "-Infinity");
	return json_real(p->v);
}

/* Log points through trk_log_batch (the write path), 1000 a batch. */
static void log_series(const char *run, const char *key, const struct pyr_point *pts, size_t n)
{
	for (size_t b = 0; b < n; b += 1000) {
		json_t *arr = json_array();

		for (size_t i = b; i < n && i < b + 1000; i++)
			json_array_append_new(arr, json_pack("{s:s,s:o,s:I,s:I}", "key", key, "value", value_json(&pts[i]),
							     "timestamp", (json_int_t)pts[i].ts, "step",
							     (json_int_t)pts[i].step));
		cr_assert_eq(trk_log_batch(cdb, run, arr, NULL, NULL), 0, "%s", cairn_error_msg());
		json_decref(arr);
	}
}

static void log_one(const char *run, const char *key, int64_t step, int64_t ts, double v)
{
	struct pyr_point p = { step, ts, v, false };

	log_series(run, key, &p, 1);
}

/* The answer for one run as points (start < 0: the whole series). */
static size_t answer(const char *run, const char *key, int64_t start, int64_t end, int64_t max, struct pyr_point *out)
{
	const char *ids[] = { run };
	json_t *arr = NULL, *m;
	size_t i;

	cr_assert_eq(trk_metric_history_bulk_interval(cdb, ids, 1, key, start, end, max, &arr), 0, "%s",
		     cairn_error_msg());
	json_array_foreach(arr, i, m) {
		json_t *v = json_object_get(m, "value");

		out[i].step = json_integer_value(json_object_get(m, "step"));
		out[i].ts = json_integer_value(json_object_get(m, "timestamp"));
		out[i].is_nan = json_is_string(v) && !strcmp(json_string_value(v), "NaN");
		out[i].v = out[i].is_nan ? 0 : json_is_string(v) ? (json_string_value(v)[0] == '-' ? -INFINITY : INFINITY)
			 : json_number_value(v);
		cr_assert_str_eq(json_string_value(json_object_get(m, "run_id")), run);
		cr_assert_str_eq(json_string_value(json_object_get(m, "key")), key);
	}
	i = json_array_size(arr);
	json_decref(arr);
	return i;
}

static int64_t cint(const char *sql)
{
	struct store_stmt *q;
	int64_t v = -1;

	cr_assert_eq(store_prepare(cdb, sql, &q), 0, "%s: %s", sql, cairn_error_msg());
	if (store_step(q) == STORE_ROW)
		v = store_col_int64(q, 0);
	store_reset(q);
	return v;
}

/* 1 when (run, key) has a pyramid of its current generation, 0 for a stale
 * one, -1 for none */
static int pyramid_state(const char *run, const char *key)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT p.gen = l.gen FROM metric_pyramids p JOIN latest_metrics l USING (run_uuid, key) "
				   "WHERE run_uuid = '%s' AND key = '%s'", run, key);
	return (int)cint(sql);
}

static void expect_points(const struct pyr_point *got, size_t ng, const struct pyr_point *want, size_t nw,
			  const char *what)
{
	cr_assert_eq(ng, nw, "%s: %zu points, expected %zu", what, ng, nw);
	for (size_t i = 0; i < ng; i++)
		cr_assert(!pyr_point_cmp(&got[i], &want[i]) && got[i].is_nan == want[i].is_nan,
			  "%s: point %zu is (step %lld, ts %lld, %g%s), expected (step %lld, ts %lld, %g%s)", what, i,
			  (long long)got[i].step, (long long)got[i].ts, got[i].v, got[i].is_nan ? " NaN" : "",
			  (long long)want[i].step, (long long)want[i].ts, want[i].v, want[i].is_nan ? " NaN" : "");
}

/* What the answer must be: every point when they fit, else the rule. */
static size_t expected(const struct pyr_point *pts, size_t n, int64_t max, struct pyr_point *out)
{
	if ((int64_t)n <= max) {
		memcpy(out, pts, n * sizeof(*pts));
		return n;
	}
	return ref_sample(pts, n, max, out);
}

static int point_cmp(const void *a, const void *b)
{
	return pyr_point_cmp(a, b);
}

/* n points at steps 0..n-1, a spike at `spike` */
static void simple_series(struct pyr_point *pts, size_t n, int64_t spike)
{
	for (size_t i = 0; i < n; i++)
		pts[i] = (struct pyr_point){ (int64_t)i, 1000 + (int64_t)i, (int64_t)i == spike ? 100.0 : sin((double)i / 50),
					     false };
}

static bool has_step(const struct pyr_point *p, size_t n, int64_t step)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].step == step)
			return true;
	return false;
}

/* A whole long series is read once: its pyramid is kept, and the next
 * request (and metrics/summary) answers from it, not from the points. */
Test(tracking_metric_cache, whole_series_is_answered_from_its_kept_pyramid)
{
	static struct pyr_point pts[3000], a[300], b[300], want[300];
	const char *ids[] = { "c1" };
	json_t *sum = NULL;
	size_t na, nb;

	simple_series(pts, 3000, 1777);
	log_series("c1", "m", pts, 3000);
	cr_assert_eq(pyramid_state("c1", "m"), -1);
	na = answer("c1", "m", -1, -1, 100, a);
	expect_points(a, na, want, expected(pts, 3000, 100, want), "built from the points");
	cr_assert(has_step(a, na, 1777), "the spike survives");
	cr_assert_eq(pyramid_state("c1", "m"), 1, "the pyramid is kept");
	/* take points away behind the write path's back: the kept pyramid still
	 * answers, so the answer cannot have come from the points */
	cr_assert_eq(store_exec(cdb, "DELETE FROM metrics WHERE run_uuid = 'c1' AND key = 'm' AND step >= 1000"), 0);
	nb = answer("c1", "m", -1, -1, 100, b);
	expect_points(b, nb, a, na, "answered from the pyramid");
	/* every max_results from the one pyramid */
	for (int64_t max = 1; max <= 2500; max += max < 20 ? 1 : 97) {
		static struct pyr_point x[2500], y[2500];

		expect_points(x, answer("c1", "m", -1, -1, max, x), y, expected(pts, 3000, max, y), "another max_results");
	}
	cr_assert_eq(trk_metric_summary(cdb, ids, 1, "m", -1, -1, &sum), 0, "%s", cairn_error_msg());
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(sum, 0), "count")), 3000, "summary from the pyramid");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(sum, 0), "max_step")), 2999);
	json_decref(sum);
	/* a range reads the points themselves */
	nb = answer("c1", "m", 0, 5000, 100, b);
	expect_points(b, nb, want, expected(pts, 1000, 100, want), "a range, from the points");
	cr_assert_eq(trk_metric_summary(cdb, ids, 1, "m", 0, 5000, &sum), 0, "%s", cairn_error_msg());
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(sum, 0), "count")), 1000);
	json_decref(sum);
}

/* Any write of the series retires its pyramid in the same transaction: the
 * next answer holds the new point, and keeps a new pyramid. */
Test(tracking_metric_cache, a_logged_point_is_in_the_next_answer)
{
	static struct pyr_point pts[3002], a[300], want[300];
	size_t na;

	simple_series(pts, 3000, -1);
	log_series("c1", "m", pts, 3000);
	answer("c1", "m", -1, -1, 100, a);
	cr_assert_eq(pyramid_state("c1", "m"), 1);
	/* a dip in the middle (an older step), as one log-metric sends it */
	log_one("c1", "m", 1234, 7, -50.0);
	cr_assert_eq(pyramid_state("c1", "m"), 0, "the write retired the pyramid");
	na = answer("c1", "m", -1, -1, 100, a);
	pts[3000] = (struct pyr_point){ 1234, 7, -50.0, false };
	qsort(pts, 3001, sizeof(*pts), point_cmp);
	expect_points(a, na, want, expected(pts, 3001, 100, want), "after a point in the middle");
	cr_assert(has_step(a, na, 1234));
	cr_assert_eq(pyramid_state("c1", "m"), 1, "rebuilt");
	/* a new last step, in a batch with another key */
	{
		json_t *arr = json_pack("[{s:s,s:f,s:i,s:i},{s:s,s:f,s:i,s:i}]", "key", "other", "value", 1.0, "timestamp",
					1, "step", 1, "key", "m", "value", 5.0, "timestamp", 9, "step", 4000);

		cr_assert_eq(trk_log_batch(cdb, "c1", arr, NULL, NULL), 0, "%s", cairn_error_msg());
		json_decref(arr);
	}
	na = answer("c1", "m", -1, -1, 100, a);
	cr_assert_eq(a[na - 1].step, 4000, "the new last point");
	pts[3001] = (struct pyr_point){ 4000, 9, 5.0, false };
	expect_points(a, na, want, expected(pts, 3002, 100, want), "after a new last point");
	/* a batch of points already there changes no point, and stays right */
	log_series("c1", "m", pts, 10);
	cr_assert_eq(pyramid_state("c1", "m"), 0);
	expect_points(a, answer("c1", "m", -1, -1, 100, a), want, expected(pts, 3002, 100, want), "after duplicates");
	/* another run's writes leave this pyramid alone */
	log_one("c2", "m", 1, 1, 1.0);
	cr_assert_eq(pyramid_state("c1", "m"), 1);
}

/* A run's deletion and restoration do not touch its metrics: the kept
 * pyramid stays current and the answer the same. */
Test(tracking_metric_cache, deleting_and_restoring_the_run_keeps_its_answer)
{
	static struct pyr_point pts[2000], a[300], b[300];
	size_t na;

	simple_series(pts, 2000, 512);
	log_series("c1", "m", pts, 2000);
	na = answer("c1", "m", -1, -1, 300, a);
	cr_assert_eq(trk_run_delete(cdb, "c1"), 0, "%s", cairn_error_msg());
	cr_assert_eq(pyramid_state("c1", "m"), 1);
	expect_points(b, answer("c1", "m", -1, -1, 300, b), a, na, "deleted run");
	cr_assert_eq(trk_run_restore(cdb, "c1"), 0, "%s", cairn_error_msg());
	expect_points(b, answer("c1", "m", -1, -1, 300, b), a, na, "restored run");
	cr_assert_eq(pyramid_state("c1", "m"), 1);
	/* a run removed for good takes its pyramid along */
	cr_assert_eq(store_exec(cdb, "DELETE FROM runs WHERE run_uuid = 'c1'"), 0, "%s", cairn_error_msg());
	cr_assert_eq(cint("SELECT count(*) FROM metric_pyramids"), 0);
	cr_assert_eq(answer("c1", "m", -1, -1, 300, b), 0);
}

/* A series short of the threshold, or fitting max_results, keeps nothing;
 * a malformed kept blob is rebuilt over. */
Test(tracking_metric_cache, short_series_keep_nothing_and_a_bad_blob_is_rebuilt)
{
	static struct pyr_point pts[500], a[500], want[500];

	simple_series(pts, 99, 50);
	log_series("c1", "s", pts, 99);
	expect_points(a, answer("c1", "s", -1, -1, 10, a), want, expected(pts, 99, 10, want), "short");
	cr_assert_eq(pyramid_state("c1", "s"), -1);
	simple_series(pts, 500, 50);
	log_series("c1", "m", pts, 500);
	expect_points(a, answer("c1", "m", -1, -1, 10, a), want, expected(pts, 500, 10, want), "long");
	cr_assert_eq(pyramid_state("c1", "m"), 1);
	cr_assert_eq(store_exec(cdb, "UPDATE metric_pyramids SET buckets = x'4350593100'"), 0);
	expect_points(a, answer("c1", "m", -1, -1, 10, a), want, expected(pts, 500, 10, want), "bad blob");
	cr_assert_gt(cint("SELECT length(buckets) FROM metric_pyramids WHERE key = 'm'"), 5, "rewritten");
}

/* The property: for random series (NaN, +/-inf, ties, repeated steps,
 * negative and int64-extreme steps), the answer built from the points, the
 * one from the kept pyramid and the one after dropping it are the same, and
 * are the rule computed from the points; any range is too. */
Test(tracking_metric_cache, answers_from_the_pyramid_equal_answers_from_the_points)
{
	enum { CAP = 6000 };
	static struct pyr_point pts[CAP], a[2500], b[2500], want[2500], sub[CAP];
	static const int64_t maxes[] = { 1, 3, 4, 7, 10, 50, 320, 2500 };

	for (int iter = 0; iter < 40; iter++) {
		char key[32];
		size_t n = (size_t)cpick(1, CAP), kept = 0;
		int shape = iter % 5;

		snprintf(key, sizeof(key), "k%d", iter);
		for (size_t i = 0; i < n; i++) {
			int64_t r = cpick(0, 99);

			pts[i].step = shape == 0 ? (int64_t)i : shape == 1 ? cpick(-30, 30) * 7
				    : shape == 2 ? (r < 5 ? (r & 1 ? INT64_MAX : INT64_MIN) : cpick(-1000, 100000))
				    : shape == 3 ? (int64_t)(crng ^ (uint64_t)i * 0x9e3779b97f4a7c15ull) : (int64_t)i / 3;
			pts[i].ts = cpick(0, 2);
			pts[i].is_nan = r < 7;
			pts[i].v = pts[i].is_nan ? 0 : r < 10 ? INFINITY : r < 13 ? -INFINITY : (double)cpick(-20, 20) / 4;
		}
		qsort(pts, n, sizeof(*pts), point_cmp);
		for (size_t i = 0; i < n; i++)
			if (!kept || pyr_point_cmp(&pts[i], &pts[kept - 1]))
				pts[kept++] = pts[i];
		n = kept;
		log_series(iter & 1 ? "c1" : "c2", key, pts, n);
		for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
			const char *run = iter & 1 ? "c1" : "c2";
			size_t nw = expected(pts, n, maxes[m], want), na, nb;

			na = answer(run, key, -1, -1, maxes[m], a);
			expect_points(a, na, want, nw, "first answer");
			cr_assert_eq(pyramid_state(run, key), (int64_t)n >= 100 ? 1 : -1, "series %d", iter);
			nb = answer(run, key, -1, -1, maxes[m], b);
			expect_points(b, nb, want, nw, "from the pyramid");
			cr_assert_eq(store_exec(cdb, "DELETE FROM metric_pyramids"), 0);
			nb = answer(run, key, -1, -1, maxes[m], b);
			expect_points(b, nb, want, nw, "built again");
			/* a random range of non-negative steps */
			{
				int64_t lo = cpick(0, 1000), hi = lo + cpick(0, 50000);
				size_t ns = 0;

				for (size_t i = 0; i < n; i++)
					if (pts[i].step >= lo && pts[i].step <= hi)
						sub[ns++] = pts[i];
				nb = answer(run, key, lo, hi, maxes[m], b);
				expect_points(b, nb, want, ns ? expected(sub, ns, maxes[m], want) : 0, "a range");
			}
		}
	}
}

/* A reader never waits for the write lock to keep a pyramid: with another
 * process's write open the answer comes at once, unkept, and the next
 * request keeps it. */
Test(tracking_metric_cache, a_held_write_lock_only_skips_keeping)
{
	static struct pyr_point pts[1000], a[100], want[100];
	struct store *other;
	struct timespec t0, t1;
	char uri[128];
	double ms;

	simple_series(pts, 1000, 10);
	log_series("c1", "m", pts, 1000);
	snprintf(uri, sizeof(uri), "sqlite:%s/c.db", cdir);
	cr_assert_eq(store_open(uri, &other), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_begin_write(other), 0, "%s", cairn_error_msg());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_points(a, answer("c1", "m", -1, -1, 50, a), want, expected(pts, 1000, 50, want), "while locked");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_lt(ms, 2000, "the read waited %.0f ms", ms);
	cr_assert_eq(pyramid_state("c1", "m"), -1, "nothing kept while locked");
	store_rollback(other);
	store_close(other);
	expect_points(a, answer("c1", "m", -1, -1, 50, a), want, expected(pts, 1000, 50, want), "after");
	cr_assert_eq(pyramid_state("c1", "m"), 1);
}
