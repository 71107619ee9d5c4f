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
