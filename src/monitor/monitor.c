/* monitor.c - windows over the inference log: filter, rows, profile, drift against the reference; their gauges. */
#include "monitor/monitor.h"
#include "core/error.h"
#include "core/fault.h"
#include "stats/profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* the window being filled */
struct win {
	bool open;
	int64_t key;                  /* time windows: floor(ts / window_us) */
	int64_t first_us, last_us;
	uint64_t requests, bad;
	struct profile_rows *rows;
	struct ilog_pos start;        /* its first record */
	struct ilog_pos end;          /* just past its last record */
	/* (prediction, label) pairs of the labelled rows */
	double *pred, *lab;
	size_t npairs, cap;
	bool binary;                  /* every label so far is 0 or 1 */
};

struct scan {
	const struct monitor_opts *o;
	const char **names;           /* the reference's columns, then "prediction" unless it is one */
	size_t nnames, npos;          /* npos: the reference's columns (that name positional values) */
	monitor_window_fn fn;
	void *ctx;
	const json_t *labels;         /* request id -> label (borrowed from o, or owned_labels) */
	json_t *owned_labels;
	bool score_only;              /* monitor_performance: no profile, only (prediction, label) pairs */
	struct win w;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int win_start(struct scan *s, int64_t key, const struct ilog_pos *first)
{
	int rc = s->score_only ? 0 : profile_rows_new(s->names, s->nnames, &s->w.rows);

	if (rc)
		return rc;
	s->w.start = *first;
	s->w.open = true;
	s->w.key = key;
	s->w.requests = s->w.bad = 0;
	s->w.first_us = s->w.last_us = 0;
	s->w.npairs = 0;
	s->w.binary = true;
	return 0;
}

static void win_drop(struct scan *s)
{
	profile_rows_free(s->w.rows);
	s->w.rows = NULL;
	s->w.open = false;
	s->w.npairs = 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const double *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* ROC AUC of scores against 0/1 labels: the Mann-Whitney statistic, ties averaged; NaN with one class */
static double roc_auc(const double *pred, const double *lab, size_t n)
{
	double *p = cmalloc(2 * n * sizeof(*p)), rank_sum = 0;
	size_t pos = 0;

	if (!p)
		return 0.0 / 0.0;
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = pred[i];
		p[2 * i + 1] = lab[i];
		pos += lab[i] == 1;
	}
	qsort(p, n, 2 * sizeof(*p), cmp_pair);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && p[2 * j] == p[2 * i])
			j++;
		for (size_t k = i; k < j; k++)
			if (p[2 * k + 1] == 1)
				rank_sum += (double)(i + j + 1) / 2;   /* the average rank of the tie, from 1 */
		i = j;
	}
	free(p);
	if (!pos || pos == n)
		return 0.0 / 0.0;
	return (rank_sum - (double)pos * (double)(pos + 1) / 2) / ((double)pos * (double)(n - pos));
}

static json_t *performance(const struct win *w)
{
	json_t *o;
	double acc = 0, se = 0, ae = 0;

	if (!w->npairs)
		return NULL;
	for (size_t i = 0; i < w->npairs; i++) {
		double d = w->pred[i] - w->lab[i];

		acc += (w->pred[i] >= 0.5 ? 1.0 : 0.0) == w->lab[i];
		se += d * d;
		ae += fabs(d);
	}
	if (w->binary) {
		double auc = roc_auc(w->pred, w->lab, w->npairs);

		o = json_pack("{s:I,s:s,s:f}", "labelled", (json_int_t)w->npairs, "task", "classification", "accuracy",
			      acc / (double)w->npairs);
		if (o && isfinite(auc) && json_object_set_new(o, "auc", json_real(auc))) {
			json_decref(o);
			return NULL;
		}
		return o;
	}
	return json_pack("{s:I,s:s,s:f,s:f}", "labelled", (json_int_t)w->npairs, "task", "regression", "rmse",
			 sqrt(se / (double)w->npairs), "mae", ae / (double)w->npairs);
}

static int add_pair(struct win *w, const json_t *pred, const json_t *lab)
{
	double p, l;

	if (!(json_is_number(pred) || json_is_boolean(pred)) || !(json_is_number(lab) || json_is_boolean(lab)))
		return 0;   /* a class name, a list of probabilities: not scored */
	p = json_is_boolean(pred) ? json_is_true(pred) : json_number_value(pred);
	l = json_is_boolean(lab) ? json_is_true(lab) : json_number_value(lab);
	if (!isfinite(p) || !isfinite(l))
		return 0;
	if (w->npairs == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 256;
		double *np = crealloc(w->pred, ncap * sizeof(*np)), *nl;

		if (!np)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		w->pred = np;
		if (!(nl = crealloc(w->lab, ncap * sizeof(*nl))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		w->lab = nl;
		w->cap = ncap;
	}
	w->pred[w->npairs] = p;
	w->lab[w->npairs++] = l;
	w->binary = w->binary && (l == 0 || l == 1);
	return 0;
}

int monitor_labels_load(const char *path, json_t **out)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	json_t *m;

	*out = NULL;
	if (!f)
		return errno == ENOENT ? 0 : cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", path, strerror(errno));
	if (!(m = json_object())) {
		fclose(f);
		return oom();
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		json_t *l = json_loadb(line, (size_t)n, 0, NULL);
		const char *id = json_string_value(json_object_get(l, "request_id"));
		json_t *label = json_object_get(l, "label");

		if (id && label && json_object_set(m, id, label)) {
			json_decref(l);
			json_decref(m);
			free(line);
			fclose(f);
			return oom();
		}
		json_decref(l);
	}
	free(line);
	fclose(f);
	*out = m;
	return 0;
}

/* close the window: profile, drift, callback */
static int win_close(struct scan *s, struct ilog_pos *pos)
{
	struct monitor_window mw = { 0 };
	json_t *prof = NULL, *drift = NULL, *src;
	int rc;

	if (!s->w.open)
		return 0;
	mw.rows = profile_rows_count(s->w.rows);
	mw.requests = s->w.requests;
	mw.bad_requests = s->w.bad;
	if (s->o->window_us) {
		mw.start_us = s->w.key * s->o->window_us;
		mw.end_us = mw.start_us + s->o->window_us;
	} else {
		mw.start_us = s->w.first_us;
		mw.end_us = s->w.last_us + 1;
	}
	mw.start = s->w.start;
	mw.end = s->w.end;
	if (!mw.rows) {   /* only bad requests: nothing to test */
		*pos = s->w.end;
		win_drop(s);
		return 0;
	}
	src = json_pack("{s:s,s:I,s:I,s:I}", "format", "inference-log", "start_us", (json_int_t)mw.start_us, "end_us",
			(json_int_t)mw.end_us, "requests", (json_int_t)mw.requests);
	if (!src) {
		rc = oom();
		goto out;
	}
	rc = profile_rows_profile(s->w.rows, src, &prof);
	json_decref(src);
	if (rc)
		goto out;
	if ((rc = drift_profiles(s->o->reference, prof, &s->o->drift, &drift)))
		goto out;
	mw.profile = prof;
	mw.drift = drift;
	mw.performance = performance(&s->w);
	if (s->w.npairs && !mw.performance) {
		rc = oom();
		goto out;
	}
	rc = s->fn(s->ctx, &mw);
	json_decref((json_t *)mw.performance);
	if (!rc)
		*pos = s->w.end;
out:
	json_decref(prof);
	json_decref(drift);
	win_drop(s);
	return rc;
}

static bool wanted(const struct monitor_opts *o, const struct ilog_entry *e)
{
	if (o->model && strcmp(e->model, o->model))
		return false;
	return !e->role[0] && e->status == 200 && !e->truncated;
}

static int add_entry(struct scan *s, const struct ilog_entry *e)
{
	json_t *rows = NULL, *row;
	size_t i;
	int rc;

	s->w.requests++;
	if (!s->w.first_us)
		s->w.first_us = e->ts_us;
	s->w.last_us = e->ts_us;
	/* positional rows are named by the reference's columns (not "prediction") */
	if (monitor_rows(e->input, e->output, s->names, s->npos, &rows)) {
		if (cairn_error_code() == CAIRN_ENOMEM)
			return CAIRN_ENOMEM;
		s->w.bad++;
		return 0;
	}
	if (!s->score_only)
		json_array_foreach(rows, i, row)
			if ((rc = profile_rows_add(s->w.rows, row))) {
				json_decref(rows);
				return rc;
			}
	if (s->labels) {   /* the request's ground truth, when it has been posted */
		json_t *label = json_object_get(s->labels, e->id);
		size_t n = json_array_size(rows);

		if (json_is_array(label) && json_array_size(label) == n) {
			for (i = 0; i < n && !rc; i++)
				rc = add_pair(&s->w, json_object_get(json_array_get(rows, i), "prediction"), json_array_get(label, i));
		} else if (label && !json_is_array(label) && n == 1) {
			rc = add_pair(&s->w, json_object_get(json_array_get(rows, 0), "prediction"), label);
		}
	}
	json_decref(rows);
	return rc;
}

/* what a scan and a rescore share: the labels, and the names of positional values */
static int scan_init(struct scan *s, const struct monitor_opts *o)
{
	json_t *cols = json_object_get(o->reference, "columns");
	const char *key;
	json_t *v;
	int rc;

	s->o = o;
	if (profile_check(o->reference))
		return cairn_error_set(CAIRN_EINVALID, "the monitor's reference: %s", cairn_error_msg());
	if ((!o->window_us) == (!o->window_rows) || o->window_us < 0)
		return cairn_error_set(CAIRN_EINVALID, "a monitor has windows of a time or of a row count (one of the two)");
	if (o->label_map)
		s->labels = o->label_map;
	else if (o->labels && (rc = monitor_labels_load(o->labels, &s->owned_labels)))
		return rc;
	else
		s->labels = s->owned_labels;
	if (!(s->names = cmalloc((json_object_size(cols) + 1) * sizeof(*s->names))))
		return oom();
	json_object_foreach(cols, key, v)
		s->names[s->nnames++] = key;
	s->npos = s->nnames;
	if (!json_object_get(cols, "prediction"))
		s->names[s->nnames++] = "prediction";
	return 0;
}

static void scan_release(struct scan *s)
{
	if (s->w.open)
		win_drop(s);
	free(s->names);
	free(s->w.pred);
	free(s->w.lab);
	json_decref(s->owned_labels);
}

int monitor_scan(const char *dir, const struct monitor_opts *o, struct ilog_pos *pos, bool flush, monitor_window_fn fn,
		 void *ctx)
{
	struct scan s = { .fn = fn, .ctx = ctx };
	struct ilog_reader *r = NULL;
	struct ilog_entry e;
	int rc;

	if ((rc = scan_init(&s, o)))
		goto out;
	if ((rc = ilog_reader_open(dir, 0, pos->seq ? pos : NULL, &r)))
		goto out;
	while ((rc = ilog_reader_next(r, &e)) == 1) {
		int64_t k = o->window_us ? floor_div(e.ts_us, o->window_us) : 0;

		if (!wanted(o, &e)) {
			if (!s.w.open)   /* nothing pending: move past it */
				ilog_reader_pos(r, pos);
			continue;
		}
		if (s.w.open && o->window_us && k != s.w.key && (rc = win_close(&s, pos)))
			goto out;
		if (!s.w.open && (rc = win_start(&s, k, &e.pos)))
			goto out;
		if ((rc = add_entry(&s, &e)))
			goto out;
		ilog_reader_pos(r, &s.w.end);
		if (o->window_rows && profile_rows_count(s.w.rows) >= o->window_rows && (rc = win_close(&s, pos)))
			goto out;
	}
	if (rc < 0)
		goto out;
	rc = 0;
	if (flush && s.w.open)
		rc = win_close(&s, pos);
out:
	ilog_reader_free(r);
	scan_release(&s);
	return rc;
}

/* a before b in the log: by segment, then frame, then line */
static bool pos_before(const struct ilog_pos *a, const struct ilog_pos *b)
{
	if (a->seq != b->seq)
		return a->seq < b->seq;
	if (a->offset != b->offset)
		return a->offset < b->offset;
	return a->line < b->line;
}

int monitor_performance(const char *dir, const struct monitor_opts *o, const struct ilog_pos *start,
			const struct ilog_pos *end, uint64_t requests, json_t **out)
{
	struct scan s = { .score_only = true };
	struct ilog_reader *r = NULL;
	struct ilog_reader_stats rs;
	struct ilog_entry e;
	struct ilog_pos at;
	int rc;

	*out = NULL;
	if ((rc = scan_init(&s, o)) || (rc = win_start(&s, 0, start)) || (rc = ilog_reader_open(dir, 0, start, &r)))
		goto out;
	while (s.w.requests < requests && (rc = ilog_reader_next(r, &e)) == 1) {
		if (pos_before(end, &e.pos))
			break;
		if (wanted(o, &e) && (rc = add_entry(&s, &e)))
			goto out;
		ilog_reader_pos(r, &at);
		if (!pos_before(&at, end))
			break;
	}
	if (rc < 0)
		goto out;
	ilog_reader_stats(r, &rs);
	if (s.w.requests != requests || rs.gone || rs.corrupt) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "the log no longer holds the window's %llu records (%llu read)",
				     (unsigned long long)requests, (unsigned long long)s.w.requests);
		goto out;
	}
	rc = 0;
	if (s.w.npairs && !(*out = performance(&s.w)))
		rc = oom();
out:
	ilog_reader_free(r);
	scan_release(&s);
	return rc;
}

/* ---- gauges ---- */

struct monitor_gauges {
	struct metrics_family *score, *col_drifted, *ndrifted, *share, *dataset, *rows, *end_ts, *pred_mean, *pred_q;
	struct metrics_family *labelled, *perf;
};

int monitor_gauges_new(struct metrics *m, struct monitor_gauges **out)
{
	static const char *const mon[] = { "monitor" }, *const col[] = { "monitor", "column" },
			  *const coltest[] = { "monitor", "column", "test" }, *const q[] = { "monitor", "q" };
	struct monitor_gauges *g = ccalloc(1, sizeof(*g));
	int rc;

	*out = NULL;
	if (!g)
		return oom();
	if ((rc = metrics_gauge_new(m, &g->score, "cairn_monitor_drift_score",
				    "Drift score of a column in the monitor's last window: the selected test's p-value (ks, chisquare, z) or distance.",
				    coltest, 3)) ||
	    (rc = metrics_gauge_new(m, &g->col_drifted, "cairn_monitor_column_drifted",
				    "1 when the column drifted in the last window (its test or its null share), else 0.", col, 2)) ||
	    (rc = metrics_gauge_new(m, &g->ndrifted, "cairn_monitor_drifted_columns",
				    "Columns that drifted in the last window.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->share, "cairn_monitor_drifted_share",
				    "Share of the reference's columns that drifted in the last window.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->dataset, "cairn_monitor_dataset_drift",
				    "1 when the last window's drifted share reached the monitor's drift share.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->rows, "cairn_monitor_window_rows", "Rows in the last window.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->end_ts, "cairn_monitor_window_end_timestamp_seconds",
				    "End of the last closed window, seconds since the epoch.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->pred_mean, "cairn_monitor_prediction_mean",
				    "Mean prediction in the last window.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->pred_q, "cairn_monitor_prediction_quantile",
				    "Quantiles of the predictions in the last window.", q, 2)) ||
	    (rc = metrics_gauge_new(m, &g->labelled, "cairn_monitor_labelled_rows",
				    "Rows of the last window whose ground truth had been posted to /labels.", mon, 1)) ||
	    (rc = metrics_gauge_new(m, &g->perf, "cairn_monitor_performance",
				    "The model's live performance in the last window, by metric (accuracy, auc, rmse, mae).",
				    (const char *const[]){ "monitor", "metric" }, 2))) {
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void monitor_gauges_free(struct monitor_gauges *g)
{
	free(g);
}

static void set1(struct metrics_family *f, const char *monitor, double v)
{
	metrics_gauge_set(metrics_series_get(f, (const char *[]){ monitor }, 1), v);
}

void monitor_export_performance(struct monitor_gauges *g, const char *monitor, const json_t *performance)
{
	static const char *const ms[] = { "accuracy", "auc", "rmse", "mae" };

	if (!performance)
		return;
	set1(g->labelled, monitor, (double)json_integer_value(json_object_get(performance, "labelled")));
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(performance, ms[i]);

		if (json_is_number(v))
			metrics_gauge_set(metrics_series_get(g->perf, (const char *[]){ monitor, ms[i] }, 2), json_number_value(v));
	}
}

void monitor_export(struct monitor_gauges *g, const char *monitor, const struct monitor_window *w)
{
	json_t *ds = json_object_get(w->drift, "dataset"), *cols = json_object_get(w->drift, "columns"), *c;
	json_t *pred = json_object_get(json_object_get(w->profile, "columns"), "prediction");
	const char *name;

	json_object_foreach(cols, name, c) {
		json_t *score = json_object_get(c, "drift_score");
		const char *test = json_string_value(json_object_get(c, "selected_test"));

		if (test && json_is_number(score))
			metrics_gauge_set(metrics_series_get(g->score, (const char *[]){ monitor, name, test }, 3),
					  json_number_value(score));
		metrics_gauge_set(metrics_series_get(g->col_drifted, (const char *[]){ monitor, name }, 2),
				  json_is_true(json_object_get(c, "drifted")));
	}
	set1(g->ndrifted, monitor, (double)json_integer_value(json_object_get(ds, "number_of_drifted_columns_with_nulls")));
	set1(g->share, monitor, json_number_value(json_object_get(ds, "share_of_drifted_columns_with_nulls")));
	set1(g->dataset, monitor, json_is_true(json_object_get(ds, "dataset_drift")));
	set1(g->rows, monitor, (double)w->rows);
	set1(g->end_ts, monitor, (double)w->end_us / 1e6);
	monitor_export_performance(g, monitor, w->performance);
	if (json_is_number(json_object_get(pred, "mean"))) {
		static const char *const qs[] = { "0.05", "0.5", "0.95" };

		set1(g->pred_mean, monitor, json_number_value(json_object_get(pred, "mean")));
		for (size_t i = 0; i < 3; i++) {
			json_t *v = json_object_get(json_object_get(pred, "quantiles"), qs[i]);

			if (json_is_number(v))
				metrics_gauge_set(metrics_series_get(g->pred_q, (const char *[]){ monitor, qs[i] }, 2),
						  json_number_value(v));
		}
	}
}
