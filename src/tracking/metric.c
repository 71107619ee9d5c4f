/* metric.c - metric history, paged; get-history-bulk-interval with MLflow's
 * step sampling (the default) or cairn's min/max-preserving one
 * (cairn_envelope=true): from the points, read in step order
 * (the order of the metrics table's key), or for a whole long series from its
 * step buckets cached in metric_pyramids (pyramid.h), which need not read them. */
#include "tracking/trk_int.h"
#include "tracking/pyramid.h"
#include "core/fault.h"
#include "core/util.h"

#include <math.h>
#include <stdatomic.h>
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
		return cjson_missing("run_id");
	if (!key || !*key)
		return cjson_missing("metric_key");
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

/* the arguments a range request over runs shares with the bulk interval */
static int range_check(size_t n_runs, const char *key, int64_t start_step, int64_t end_step, const char *what)
{
	if (!n_runs)
		return cjson_missing("run_ids");
	if (n_runs > 100)
		return cairn_error_set(CAIRN_EINVALID, "%s request must specify at most 100 run_ids. Received %zu run_ids."
						      CJSON_API_DOCS, what, n_runs);
	if (!key || !*key)
		return cjson_missing("metric_key");
	if ((start_step < 0) != (end_step < 0))
		return cairn_error_set(CAIRN_EINVALID, "If either start step or end step are specified, both must be "
						       "specified.");
	if (start_step >= 0 && end_step < start_step)
		return cairn_error_set(CAIRN_EINVALID, "end_step must be greater than start_step. Found start_step=%lld "
						       "and end_step=%lld.", (long long)start_step, (long long)end_step);
	return 0;
}

int trk_metric_history_bulk(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
			    int64_t max_results, json_t **out)
{
	struct buf sql = BUF_INIT;
	struct store_stmt *q = NULL;
	json_t *arr;
	int rc, idx = 1;

	*out = NULL;
	if (!n_runs)
		return cairn_error_set(CAIRN_EINVALID, "GetMetricHistoryBulk request must specify at least one run_id.");
	if (n_runs > 100)
		return cairn_error_set(CAIRN_EINVALID, "GetMetricHistoryBulk request cannot specify more than 100 run_ids. "
						      "Received %zu run_ids.", n_runs);
	if (!key)
		return cairn_error_set(CAIRN_EINVALID, "GetMetricHistoryBulk request must specify a metric_key.");
	if (max_results < 0)
		return cairn_error_set(CAIRN_EINVALID, "Invalid value %lld for parameter 'max_results' supplied: it must "
						      "be at least 0", (long long)max_results);
	if (max_results > 25000)
		max_results = 25000;   /* MLflow caps it silently */
	buf_puts(&sql, "SELECT run_uuid, step, timestamp, value, is_nan FROM metrics WHERE key = ? AND run_uuid IN (");
	for (size_t r = 0; r < n_runs; r++)
		buf_puts(&sql, r ? ", ?" : "?");
	buf_puts(&sql, ") ORDER BY run_uuid, timestamp, step, value LIMIT ?");
	if ((rc = buf_error(&sql))) {
		buf_release(&sql);
		return rc;
	}
	if (!(arr = json_array())) {
		buf_release(&sql);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = store_begin_read(st)))
		goto out;
	if (!(rc = store_prepare(st, sql.ptr, &q))) {
		store_bind_text(q, idx++, key);
		for (size_t r = 0; r < n_runs; r++)
			store_bind_text(q, idx++, run_ids[r]);
		store_bind_int64(q, idx++, max_results);
		while ((rc = store_step(q)) == STORE_ROW) {
			json_t *m = json_object();
			cjson_set(m, "key", cjson_string(key));
			cjson_set(m, "value", cjson_double(store_col_int64(q, 4) ? NAN : store_col_double(q, 3)));
			cjson_set(m, "timestamp", json_integer(store_col_int64(q, 2)));
			cjson_set(m, "step", json_integer(store_col_int64(q, 1)));
			cjson_set(m, "run_id", cjson_string(store_col_text(q, 0)));
			if (!m || json_array_append_new(arr, m)) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
		}
		store_reset(q);
	}
	store_rollback(st);
out:
	buf_release(&sql);
	if (rc < 0) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
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

		/* a whole series' figures are kept with its current pyramid; only
		 * without one is the COUNT run (LIMIT 1 stops a UNION ALL at the
		 * first arm's row) */
		if (start_step < 0)
			rc = store_prepare(st, "SELECT p.points, p.min_step, p.max_step FROM latest_metrics l JOIN metric_pyramids "
					       "p ON p.run_uuid = l.run_uuid AND p.key = l.key AND p.gen = l.gen WHERE "
					       "l.run_uuid = ? AND l.key = ? UNION ALL SELECT COUNT(*), MIN(step), MAX(step) FROM "
					       "metrics WHERE run_uuid = ? AND key = ? LIMIT 1", &q);
		else
			rc = store_prepare(st, "SELECT COUNT(*), MIN(step), MAX(step) FROM metrics WHERE run_uuid = ? AND "
					       "key = ? AND step >= ? AND step <= ?", &q);
		if (rc)
			break;
		store_bind_text(q, 1, run_ids[r]);
		store_bind_text(q, 2, key);
		if (start_step < 0) {
			store_bind_text(q, 3, run_ids[r]);
			store_bind_text(q, 4, key);
		} else {
			store_bind_int64(q, 3, start_step);
			store_bind_int64(q, 4, end_step);
		}
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

/* TRK_PYRAMID_MIN_POINTS, or what a test set */
static _Atomic int64_t pyramid_min = TRK_PYRAMID_MIN_POINTS;

void trk__set_pyramid_min(int64_t points)
{
	atomic_store(&pyramid_min, points);
}

/* The series' generation (*gen, -1 when it has no latest_metrics row, so
 * nothing is cached for it) and, when its cached pyramid is current, that
 * pyramid (*hit). A malformed blob is a miss, rebuilt over. */
static int pyramid_load(struct store *st, const char *run_id, const char *key, int64_t *gen, struct pyramid *p,
			bool *hit)
{
	struct store_stmt *q;
	int rc;

	*gen = -1;
	*hit = false;
	if ((rc = store_prepare(st, "SELECT l.gen, p.gen, p.buckets FROM latest_metrics l LEFT JOIN metric_pyramids p "
				    "ON p.run_uuid = l.run_uuid AND p.key = l.key WHERE l.run_uuid = ? AND l.key = ?", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	if ((rc = store_step(q)) == STORE_ROW) {
		*gen = store_col_int64(q, 0);
		rc = 0;
		if (!store_col_is_null(q, 1) && store_col_int64(q, 1) == *gen) {
			size_t n;
			const void *blob = store_col_blob(q, 2, &n);

			if (!(rc = pyr_decode(blob, n, p)))
				*hit = true;
			else if (rc == CAIRN_EINVALID)
				rc = 0; /* rebuilt from the points */
		}
	}
	store_reset(q);
	return rc < 0 ? rc : 0;
}

/* The first (or, desc, the last) step of a series in [lo, hi]; false when it
 * has no point there. */
static int step_bound(struct store *st, const char *run_id, const char *key, int64_t lo, int64_t hi, bool desc,
		      int64_t *out, bool *any)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(st, desc ? "SELECT step FROM metrics WHERE run_uuid = ? AND key = ? AND step >= ? AND "
					   "step <= ? ORDER BY step DESC LIMIT 1"
					 : "SELECT step FROM metrics WHERE run_uuid = ? AND key = ? AND step >= ? AND "
					   "step <= ? ORDER BY step LIMIT 1", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	store_bind_int64(q, 3, lo);
	store_bind_int64(q, 4, hi);
	rc = store_step(q);
	*any = rc == STORE_ROW;
	if (*any)
		*out = store_col_int64(q, 0);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

/* Read a series' points in [lo, hi] in index order into a pyramid over their
 * steps, the first max of them also into pts (all of them when *n <= max). */
static int read_points(struct store *st, const char *run_id, const char *key, int64_t lo, int64_t hi, int64_t max,
		       struct pyramid *p, struct pyr_point *pts, int64_t *n)
{
	struct store_stmt *q;
	int64_t first, last;
	bool any;
	int rc;

	*n = 0;
	if ((rc = step_bound(st, run_id, key, lo, hi, false, &first, &any)) || !any ||
	    (rc = step_bound(st, run_id, key, lo, hi, true, &last, &any)) || !any)
		return rc;
	pyr_init(p, first, last);
	if ((rc = store_prepare(st, "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
				    "AND step >= ? AND step <= ? ORDER BY step, timestamp, value, is_nan", &q)))
		return rc;
	store_bind_text(q, 1, run_id);
	store_bind_text(q, 2, key);
	store_bind_int64(q, 3, first);
	store_bind_int64(q, 4, last);
	while ((rc = store_step(q)) == STORE_ROW) {
		struct pyr_point pt = { store_col_int64(q, 0), store_col_int64(q, 1), store_col_double(q, 2),
					store_col_int64(q, 3) != 0 };

		if ((rc = pyr_add(p, &pt)))
			break;
		if (*n < max)
			pts[*n] = pt;
		++*n;
	}
	store_reset(q);
	return rc < 0 ? rc : 0;
}

/* Keep the pyramid of a whole series built at generation gen, if the series
 * is still at it. Best effort, and never waiting: while another request
 * writes, the next reader builds again; any failure only loses the cache. */
static void pyramid_store(struct store *st, const char *run_id, const char *key, int64_t gen, const struct pyramid *p)
{
	struct buf blob = BUF_INIT;
	struct store_stmt *q;
	int rc;

	if (pyr_encode(p, &blob) || store_try_begin_write(st))
		goto out;
	if ((rc = store_prepare(st, "INSERT INTO metric_pyramids(run_uuid, key, gen, points, min_step, max_step, buckets) "
				    "SELECT run_uuid, key, gen, ?, ?, ?, ? FROM latest_metrics WHERE run_uuid = ? AND "
				    "key = ? AND gen = ? ON CONFLICT(run_uuid, key) DO UPDATE SET gen = excluded.gen, "
				    "points = excluded.points, min_step = excluded.min_step, max_step = excluded.max_step, "
				    "buckets = excluded.buckets", &q))) {
		store_rollback(st);
		goto out;
	}
	store_bind_int64(q, 1, p->points);
	store_bind_int64(q, 2, p->min_step);
	store_bind_int64(q, 3, p->max_step);
	store_bind_blob(q, 4, blob.ptr, blob.len);
	store_bind_text(q, 5, run_id);
	store_bind_text(q, 6, key);
	store_bind_int64(q, 7, gen);
	rc = store_step(q);
	store_reset(q);
	if (rc < 0)
		store_rollback(st);
	else if (store_commit(st) == 0)
		cairn_log(LOG_DEBUG, "metric '%.250s' of run %.64s: %lld points in %zu buckets cached (%zu bytes)", key,
			  run_id, (long long)p->points, p->nb, blob.len);
out:
	cairn_error_clear();
	buf_release(&blob);
}

/* Sample one run's series in [lo, hi] (whole: no range asked) into pts[max];
 * *n: how many. Its own read transaction; then, when a whole long series was
 * read from its points, its pyramid is kept for the next request. */
static int sample_run(struct store *st, const char *run_id, const char *key, int64_t lo, int64_t hi, bool whole,
		      int64_t max, struct pyr_point *pts, size_t *n)
{
	struct pyramid p;
	int64_t gen = -1, points = 0;
	bool hit = false;
	int rc;

	pyr_init(&p, 0, 0);
	*n = 0;
	if ((rc = store_begin_read(st)))
		return rc;
	if (whole && (rc = pyramid_load(st, run_id, key, &gen, &p, &hit)))
		goto out;
	if (hit && p.points > max) {
		*n = pyr_sample(&p, max, pts);
		goto out;
	}
	/* else every point, or the pyramid of the range read */
	pyr_release(&p);
	if ((rc = read_points(st, run_id, key, lo, hi, max, &p, pts, &points)))
		goto out;
	*n = points <= max ? (size_t)points : pyr_sample(&p, max, pts);
out:
	store_rollback(st);
	if (!rc && !hit && whole && gen >= 0 && points >= atomic_load(&pyramid_min) && points > 0)
		pyramid_store(st, run_id, key, gen, &p);
	pyr_release(&p);
	return rc;
}

int trk_metric_history_bulk_interval(struct store *st, const char *const *run_ids, size_t n_runs,
				     const char *key, int64_t start_step, int64_t end_step,
				     int64_t max_results, json_t **out)
{
	struct pyr_point *pts = NULL;
	json_t *arr = NULL, *jkey = NULL, *jrun = NULL;
	bool whole = start_step < 0;
	int rc;

	rc = range_check(n_runs, key, start_step, end_step, "GetMetricHistoryBulkInterval");
	if (!rc && (max_results < 1 || max_results > 2500))
		rc = cairn_error_set(CAIRN_EINVALID, "max_results must be between 1 and 2500 (got %lld)",
				     (long long)max_results);
	if (rc)
		return rc;
	pts = cmalloc((size_t)max_results * sizeof(*pts));
	arr = json_array();
	jkey = cjson_string(key); /* one string for every point */
	if (!pts || !arr || !jkey) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	/* unknown runs simply have no points (as MLflow answers) */
	for (size_t r = 0; r < n_runs; r++) {
		size_t n;

		if ((rc = sample_run(st, run_ids[r], key, whole ? INT64_MIN : start_step, whole ? INT64_MAX : end_step,
				     whole, max_results, pts, &n)))
			goto out;
		json_decref(jrun);
		jrun = NULL;
		if (!n)
			continue;
		if (!(jrun = cjson_string(run_ids[r]))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			json_t *m = json_object();

			if (!m || json_array_append_new(arr, m)) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto out;
			}
			json_object_set(m, "key", jkey);
			cjson_set(m, "value", cjson_double(pts[i].is_nan ? NAN : pts[i].v));
			cjson_set(m, "timestamp", json_integer(pts[i].ts));
			cjson_set(m, "step", json_integer(pts[i].step));
			json_object_set(m, "run_id", jrun);
		}
	}
out:
	json_decref(jkey);
	json_decref(jrun);
	free(pts);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ---- MLflow's own step sampling (store/tracking/abstract_store.py
 * get_metric_history_bulk_interval), the default answer ---- */

struct steps {
	int64_t *v;
	size_t n, cap;
};

static int steps_add(struct steps *s, int64_t step)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		int64_t *v = crealloc(s->v, cap * sizeof(*v));
		if (!v)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory sampling steps");
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = step;
	return 0;
}

static int cmp_step(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* first index of a sorted v[0..n) whose value is >= x (> x when after) */
static size_t steps_bisect(const struct steps *s, int64_t x, bool after)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid] < x || (after && s->v[mid] == x))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The steps to answer with: every step of the runs (one list, sorted, no
 * duplicates) in [start, end] (no range: 0 to the highest step), up to
 * max_results of them evenly spaced by MLflow's float arithmetic plus the
 * last, and each run's lowest and highest step that fall in the range. */
static int sample_steps(struct store *st, const char *const *run_ids, size_t n_runs, const char *key, bool range,
			int64_t start, int64_t end, int64_t max_results, struct steps *out)
{
	struct steps all = { 0 };
	struct buf sql = BUF_INIT;
	struct store_stmt *q;
	size_t lo, hi;
	int rc;

	buf_puts(&sql, "SELECT DISTINCT step FROM metrics WHERE key = ? AND run_uuid IN (");
	for (size_t r = 0; r < n_runs; r++)
		buf_puts(&sql, r ? ", ?" : "?");
	buf_puts(&sql, ") ORDER BY step");
	if ((rc = buf_error(&sql)) || (rc = store_prepare(st, sql.ptr, &q)))
		goto out;
	store_bind_text(q, 1, key);
	for (size_t r = 0; r < n_runs; r++)
		store_bind_text(q, (int)r + 2, run_ids[r]);
	while ((rc = store_step(q)) == STORE_ROW)
		if ((rc = steps_add(&all, store_col_int64(q, 0))))
			break;
	store_reset(q);
	if (rc < 0)
		goto out;
	if (!range) {
		start = 0;
		end = all.n ? all.v[all.n - 1] : 0;
	}
	lo = steps_bisect(&all, start, false);
	hi = steps_bisect(&all, end, true);
	if (hi - lo <= (size_t)max_results) {
		for (size_t i = lo; i < hi; i++)
			if ((rc = steps_add(out, all.v[i])))
				goto out;
	} else {
		double interval = (double)(hi - lo) / (double)max_results;
		for (int64_t i = 0; i < max_results; i++) {
			size_t idx = lo + (size_t)((double)i * interval);
			if (idx < hi && (rc = steps_add(out, all.v[idx])))
				goto out;
		}
		if ((rc = steps_add(out, all.v[hi - 1])))
			goto out;
	}
	if ((rc = store_prepare(st, "SELECT min(step), max(step) FROM metrics WHERE run_uuid = ? AND key = ?", &q)))
		goto out;
	for (size_t r = 0; r < n_runs && !rc; r++) {
		store_bind_text(q, 1, run_ids[r]);
		store_bind_text(q, 2, key);
		rc = store_step(q);
		if (rc == STORE_ROW && !store_col_is_null(q, 0)) {
			rc = 0;
			for (int c = 0; c < 2 && !rc; c++) {
				int64_t s = store_col_int64(q, c);
				if (s >= start && s <= end)
					rc = steps_add(out, s);
			}
		}
		rc = rc < 0 ? rc : 0;
		store_reset(q);
	}
	if (rc)
		goto out;
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_step);
	lo = 0;
	for (size_t i = 0; i < out->n; i++)
		if (!lo || out->v[lo - 1] != out->v[i])
			out->v[lo++] = out->v[i];
	out->n = lo;
out:
	free(all.v);
	buf_release(&sql);
	return rc;
}

int trk_metric_history_bulk_steps(struct store *st, const char *const *run_ids, size_t n_runs, const char *key,
				  bool has_start, bool has_end, int64_t start_step, int64_t end_step,
				  int64_t max_results, json_t **out)
{
	struct steps steps = { 0 };
	struct store_stmt *q;
	json_t *arr = NULL;
	bool range = has_start && has_end;
	int rc;

	*out = NULL;
	rc = range_check(n_runs, key, -1, -1, "GetMetricHistoryBulkInterval");
	if (!rc && has_start != has_end)
		rc = cairn_error_set(CAIRN_EINVALID, "If either start step or end step are specified, both must be "
						     "specified.");
	if (!rc && range && start_step > end_step)
		rc = cairn_error_set(CAIRN_EINVALID, "end_step must be greater than start_step. Found start_step=%lld "
						     "and end_step=%lld.", (long long)start_step, (long long)end_step);
	if (!rc && (max_results < 1 || max_results > 2500))
		rc = cairn_error_set(CAIRN_EINVALID, "max_results must be between 1 and 2500." CJSON_API_DOCS);
	if (rc)
		return rc;
	if (!(arr = json_array()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = store_begin_read(st)))
		goto fail;
	if ((rc = sample_steps(st, run_ids, n_runs, key, range, start_step, end_step, max_results, &steps)) ||
	    !steps.n)
		goto out;
	if ((rc = store_prepare(st, "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ? AND key = ? "
				    "AND step BETWEEN ? AND ? ORDER BY step, timestamp, value", &q)))
		goto out;
	/* per run in run_ids' order, every point at a sampled step, at most
	 * MLflow's 25,000 a run */
	for (size_t r = 0; r < n_runs && !rc; r++) {
		size_t got = 0;
		store_bind_text(q, 1, run_ids[r]);
		store_bind_text(q, 2, key);
		store_bind_int64(q, 3, steps.v[0]);
		store_bind_int64(q, 4, steps.v[steps.n - 1]);
		while (got < 25000 && (rc = store_step(q)) == STORE_ROW) {
			int64_t s = store_col_int64(q, 0);
			json_t *m;
			if (!bsearch(&s, steps.v, steps.n, sizeof(*steps.v), cmp_step))
				continue;
			m = json_object();
			cjson_set(m, "key", cjson_string(key));
			cjson_set(m, "value", cjson_double(store_col_int64(q, 3) ? NAN : store_col_double(q, 2)));
			cjson_set(m, "timestamp", json_integer(store_col_int64(q, 1)));
			cjson_set(m, "step", json_integer(s));
			cjson_set(m, "run_id", cjson_string(run_ids[r]));
			if (!m || json_array_append_new(arr, m)) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			got++;
		}
		rc = rc < 0 ? rc : 0;
		store_reset(q);
	}
out:
	store_rollback(st);
fail:
	free(steps.v);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}
