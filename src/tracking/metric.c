/* metric.c - metric history, paged, and min/max-preserving server-side sampling. */
#include "tracking/trk_int.h"
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int trk_metric_history(struct store *st, const char *run_id, const char *key, int64_t max_results,
		       const char *page_token, struct buf *out)
{
	struct store_stmt *q;
	struct buf prefix = BUF_INIT;
	int64_t offset = 0, count = 0;
	char *next = NULL;
	int rc;

	if (!run_id || !*run_id)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'run_id'");
	if (!key || !*key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'metric_key'");
	if (max_results < 0 || max_results > TRK_MAX_HISTORY_PAGE)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results': it must be "
						      "between 1 and %d", (long long)max_results, TRK_MAX_HISTORY_PAGE);
	if ((rc = trk_page_token_decode(page_token ? page_token : "", &offset)))
		return rc;
	if ((rc = store_begin_read(st)))
		return rc;
	/* an unknown run has no history (MLflow answers an empty list too) */
	if ((rc = store_prepare(st, "SELECT value, is_nan, timestamp, step FROM metrics WHERE run_uuid = ? AND key = ? "
				    "ORDER BY timestamp, step, value LIMIT ? OFFSET ?", &q)))
		goto out;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	store_bind_int64(q, 3, max_results ? max_results + 1 : -1);
	store_bind_int64(q, 4, offset);
	/* every point repeats the key: encode it once */
	buf_puts(&prefix, "{\"key\":");
	cjson_put_string(&prefix, key, strlen(key));
	buf_puts(&prefix, ",\"value\":");
	buf_puts(out, "{\"metrics\":[");
	while ((rc = store_step(q)) == STORE_ROW) {
		if (max_results && count == max_results) {
			next = trk_page_token_encode(offset + max_results);
			break;
		}
		if (count++)
			buf_putc(out, ',');
		buf_put(out, prefix.ptr, prefix.len);
		cjson_put_double(out, store_col_int64(q, 1) ? NAN : store_col_double(q, 0));
		buf_printf(out, ",\"timestamp\":%lld,\"step\":%lld}", (long long)store_col_int64(q, 2),
			   (long long)store_col_int64(q, 3));
	}
	store_reset(q);
	if (rc < 0)
		goto out;
	rc = 0;
	buf_putc(out, ']');
	if (next)
		buf_printf(out, ",\"next_page_token\":\"%s\"", next);
	buf_putc(out, '}');
	rc = buf_error(out);
out:
	store_rollback(st);
	buf_release(&prefix);
	free(next);
	return rc;
}

struct point {
	int64_t step;
	int64_t ts;
	double v;
	int is_nan;
};

/* Which of nb equal-width buckets over [0, span] the offset off falls in. */
static int64_t bucket_of(uint64_t off, uint64_t span, int64_t nb)
{
	double b = (double)off / ((double)span + 1.0) * (double)nb;

	return b >= (double)(nb - 1) ? nb - 1 : (int64_t)b;
}

/* Pick at most max points from pts (sorted by step) into keep[]: about half
 * the budget goes to evenly spaced points (first and last included), so the
 * curve's shape is covered; the rest to the lowest and highest point of equal
 * step buckets, so peaks and dips survive (MLflow's sampling keeps only the
 * evenly spaced steps and loses spikes). */
static void sample_minmax(const struct point *pts, size_t n, int64_t max, unsigned char *keep)
{
	int64_t even, nb;
	uint64_t first, span;
	size_t i = 0;

	if ((int64_t)n <= max) {
		memset(keep, 1, n);
		return;
	}
	memset(keep, 0, n);
	even = max < 4 ? max : max / 2 + 1;
	for (int64_t k = 0; k < even; k++)
		keep[even == 1 ? n - 1 : (size_t)((double)k * (double)(n - 1) / (double)(even - 1) + 0.5)] = 1;
	nb = (max - even) / 2;
	if (nb < 1)
		return;
	/* Steps may span the whole int64 range (INT64_MIN..INT64_MAX): work with
	 * each step's unsigned distance from the first, which always fits in a
	 * uint64_t, and place it in one of nb equal-width buckets in double
	 * (monotonic in the step, so the buckets stay contiguous runs of pts). */
	first = (uint64_t)pts[0].step;
	span = (uint64_t)pts[n - 1].step - first;
	while (i < n) {
		size_t imin = i, imax = i;
		int64_t b = bucket_of((uint64_t)pts[i].step - first, span, nb);

		for (; i < n && bucket_of((uint64_t)pts[i].step - first, span, nb) == b; i++) {
			if (pts[i].is_nan)
				continue;
			if (pts[imin].is_nan || pts[i].v < pts[imin].v)
				imin = i;
			if (pts[imax].is_nan || pts[i].v > pts[imax].v)
				imax = i;
		}
		keep[imin] = 1;
		keep[imax] = 1;
	}
}

/* the arguments a range request over runs shares with the bulk interval */
static int range_check(size_t n_runs, const char *key, int64_t start_step, int64_t end_step, const char *what)
{
	if (!n_runs)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'run_ids'");
	if (n_runs > 100)
		return cairn_error_set(CAIRN_EINVALID, "%s request must specify at most 100 run_ids. Received %zu run_ids.",
				       what, n_runs);
	if (!key || !*key)
		return cairn_error_set(CAIRN_EINVALID, "Missing value for required parameter 'metric_key'");
	if ((start_step < 0) != (end_step < 0))
		return cairn_error_set(CAIRN_EINVALID, "If either start step or end step are specified, both must be "
						       "specified.");
	if (start_step >= 0 && end_step < start_step)
		return cairn_error_set(CAIRN_EINVALID, "end_step must be greater than start_step. Found start_step=%lld "
						       "and end_step=%lld.", (long long)start_step, (long long)end_step);
	return 0;
}

int trk_metric_summary(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
		       int64_t start_step, int64_t end_step, json_t **out)
{
	json_t *arr;
	int rc;

	if ((rc = range_check(n_runs, key, start_step, end_step, "GetMetricSummary")))
		return rc;
	if (!(arr = json_array()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	for (size_t r = 0; r < n_runs && !rc; r++) {
		struct store_stmt *q;
		json_t *o;

		if ((rc = store_prepare(st, "SELECT COUNT(*), MIN(step), MAX(step) FROM metrics WHERE run_uuid = ? AND key = ? "
					    "AND step >= ? AND step <= ?", &q)))
			break;
		store_bind_text(q, 1, run_ids[r]);
		store_bind_text(q, 2, key);
		store_bind_int64(q, 3, start_step >= 0 ? start_step : INT64_MIN);
		store_bind_int64(q, 4, end_step >= 0 ? end_step : INT64_MAX);
		if ((rc = store_step(q)) != STORE_ROW) {
			store_reset(q);
			if (rc >= 0)
				rc = cairn_error_set(CAIRN_EIO, "a metric count returned no row");
			break;
		}
		rc = 0;
		o = json_pack("{s:s,s:I}", "run_id", run_ids[r], "count", (json_int_t)store_col_int64(q, 0));
		if (o && store_col_int64(q, 0)) {
			cjson_set(o, "min_step", json_integer(store_col_int64(q, 1)));
			cjson_set(o, "max_step", json_integer(store_col_int64(q, 2)));
		}
		store_reset(q);
		if (!o || json_array_append_new(arr, o))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	store_rollback(st);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int trk_metric_history_bulk_interval(struct store *st, const char *const *run_ids, size_t n_runs,
				     const char *key, int64_t start_step, int64_t end_step,
				     int64_t max_results, json_t **out)
{
	struct point *pts = NULL;
	unsigned char *keep = NULL;
	size_t cap = 0;
	json_t *arr = json_array();
	int rc = 0;

	rc = range_check(n_runs, key, start_step, end_step, "GetMetricHistoryBulkInterval");
	if (!rc && (max_results < 1 || max_results > 2500))
		rc = cairn_error_set(CAIRN_EINVALID, "max_results must be between 1 and 2500 (got %lld)",
				     (long long)max_results);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	if ((rc = store_begin_read(st))) {
		json_decref(arr);
		return rc;
	}
	for (size_t r = 0; r < n_runs && !rc; r++) {
		struct store_stmt *q;
		size_t n = 0;

		/* unknown runs simply have no points (as MLflow answers) */
		if ((rc = store_prepare(st, "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
					    "AND step >= ? AND step <= ? ORDER BY step, timestamp", &q)))
			break;
		store_bind_text(q, 1, run_ids[r]);
		store_bind_text(q, 2, key);
		store_bind_int64(q, 3, start_step >= 0 ? start_step : INT64_MIN);
		store_bind_int64(q, 4, end_step >= 0 ? end_step : INT64_MAX);
		while ((rc = store_step(q)) == STORE_ROW) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				struct point *np = crealloc(pts, ncap * sizeof(*np));
				if (!np) {
					rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
					break;
				}
				pts = np;
				cap = ncap;
			}
			pts[n].step = store_col_int64(q, 0);
			pts[n].ts = store_col_int64(q, 1);
			pts[n].v = store_col_double(q, 2);
			pts[n].is_nan = (int)store_col_int64(q, 3);
			n++;
		}
		store_reset(q);
		if (rc < 0)
			break;
		rc = 0;
		if (!n)
			continue;
		free(keep);
		keep = cmalloc(n);
		if (!keep) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		sample_minmax(pts, n, max_results, keep);
		for (size_t i = 0; i < n; i++) {
			json_t *m;
			if (!keep[i])
				continue;
			m = json_object();
			cjson_set(m, "key", cjson_string(key));
			cjson_set(m, "value", cjson_double(pts[i].is_nan ? NAN : pts[i].v));
			cjson_set(m, "timestamp", json_integer(pts[i].ts));
			cjson_set(m, "step", json_integer(pts[i].step));
			cjson_set(m, "run_id", cjson_string(run_ids[r]));
			json_array_append_new(arr, m);
		}
	}
	store_rollback(st);
	free(pts);
	free(keep);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
