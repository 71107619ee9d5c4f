/* runner.c - one monitor over its windows: gauges, the monitoring run, incidents and alerts (runner.h). */
#include "monitor/runner.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct monitor_runner {
	struct monitor_runner_opts o;
	struct monitor_state st;
	/* the scan in progress */
	monitor_report_fn fn;
	void *ctx;
};

/* ---- the state as JSON ---- */

static json_t *pos_json(const struct ilog_pos *p)
{
	return json_pack("[I,I,I]", (json_int_t)p->seq, (json_int_t)p->offset, (json_int_t)p->line);
}

json_t *monitor_state_json(const struct monitor_state *s)
{
	json_t *recent = json_array();
	json_t *j = json_pack("{s:I,s:I,s:I,s:b,s:s,s:I,s:I,s:s,s:I,s:I,s:o}", "seq", (json_int_t)s->pos.seq, "offset",
			      (json_int_t)s->pos.offset, "line", (json_int_t)s->pos.line, "firing", s->firing, "incident",
			      s->firing ? s->incident : "", "since_us", (json_int_t)(s->firing ? s->since_us : 0), "clear",
			      (json_int_t)(s->firing ? s->clear : 0), "run_id", s->run_id, "step", (json_int_t)s->step,
			      "labels_size", (json_int_t)s->labels_size, "recent", recent);

	for (unsigned i = 0; j && i < s->nrecent; i++) {
		const struct monitor_recent *w = &s->recent[i];
		json_t *o = json_pack("{s:I,s:o,s:o,s:I,s:I,s:I,s:o,s:I}", "index", (json_int_t)w->index, "start",
				      pos_json(&w->start), "end", pos_json(&w->end), "end_us", (json_int_t)w->end_us,
				      "requests", (json_int_t)w->requests, "labelled", (json_int_t)w->labelled, "score",
				      isfinite(w->score) ? json_real(w->score) : json_null(), "revision",
				      (json_int_t)w->revision);

		if (!o || json_array_append_new(recent, o)) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

static bool get_count(const json_t *j, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		return true;   /* absent: 0 */
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool get_pos(const json_t *a, struct ilog_pos *p)
{
	for (size_t i = 0; i < 3; i++)
		if (!json_is_integer(json_array_get(a, i)) || json_integer_value(json_array_get(a, i)) < 0)
			return false;
	p->seq = (uint64_t)json_integer_value(json_array_get(a, 0));
	p->offset = (uint64_t)json_integer_value(json_array_get(a, 1));
	p->line = (uint64_t)json_integer_value(json_array_get(a, 2));
	return json_array_size(a) == 3;
}

static bool get_recent(const json_t *o, struct monitor_recent *w)
{
	json_t *score = json_object_get(o, "score");
	uint64_t end_us = 0, rev = 0;

	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "index")) || !get_count(o, "index", &w->index) ||
	    !get_pos(json_object_get(o, "start"), &w->start) || !get_pos(json_object_get(o, "end"), &w->end) ||
	    !get_count(o, "end_us", &end_us) || !get_count(o, "requests", &w->requests) ||
	    !get_count(o, "labelled", &w->labelled) || !get_count(o, "revision", &rev) || rev > 1000000000 ||
	    !(json_is_null(score) || json_is_number(score)))
		return false;
	w->end_us = (int64_t)end_us;
	w->revision = (unsigned)rev;
	w->score = json_is_number(score) ? json_number_value(score) : NAN;
	return true;
}

int monitor_state_parse(const json_t *j, const char *what, struct monitor_state *s)
{
	json_t *inc = json_object_get(j, "incident"), *run = json_object_get(j, "run_id");
	json_t *recent = json_object_get(j, "recent");
	uint64_t since = 0, clear = 0;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(j) || !json_is_integer(json_object_get(j, "seq")) || !json_is_integer(json_object_get(j, "offset")) ||
	    !json_is_integer(json_object_get(j, "line")) || !get_count(j, "seq", &s->pos.seq) ||
	    !get_count(j, "offset", &s->pos.offset) || !get_count(j, "line", &s->pos.line) ||
	    !get_count(j, "step", &s->step) || !get_count(j, "since_us", &since) || !get_count(j, "clear", &clear) ||
	    !get_count(j, "labels_size", &s->labels_size) || clear > 1000000 ||
	    (inc && (!json_is_string(inc) || json_string_length(inc) > CAIRN_ID_LEN)) ||
	    (run && (!json_is_string(run) || json_string_length(run) >= sizeof(s->run_id))) ||
	    (recent && (!json_is_array(recent) || json_array_size(recent) > MONITOR_RECENT)))
		goto bad;
	for (size_t i = 0; i < json_array_size(recent); i++)
		if (!get_recent(json_array_get(recent, i), &s->recent[s->nrecent++]))
			goto bad;
	if (json_is_true(json_object_get(j, "firing")) && inc && json_string_length(inc)) {
		s->firing = true;
		snprintf(s->incident, sizeof(s->incident), "%s", json_string_value(inc));
		s->since_us = (int64_t)since;
		s->clear = (unsigned)clear;
	}
	if (run)
		snprintf(s->run_id, sizeof(s->run_id), "%s", json_string_value(run));
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return cairn_error_set(CAIRN_EINVALID, "%s is not a monitor state ({\"seq\", \"offset\", \"line\", ...})", what);
}

/* ---- the monitoring run ---- */

/* a metric key MLflow accepts: letters, digits, _ - . / and space; anything else becomes _ */
static void metric_key(struct buf *b, const char *prefix, const char *name, const char *suffix)
{
	buf_clear(b);
	buf_puts(b, prefix);
	for (const char *p = name; p && *p; p++) {
		char c = *p;

		buf_putc(b, (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
				    c == '-' || c == '.' || c == '/' || c == ' ' ? c : '_');
	}
	buf_puts(b, suffix);
}

static int add_metric(json_t *list, const char *key, double v, int64_t ts_ms, uint64_t step)
{
	json_t *m;

	if (!isfinite(v))
		return 0;
	m = json_pack("{s:s,s:f,s:I,s:I}", "key", key, "value", v, "timestamp", (json_int_t)ts_ms, "step", (json_int_t)step);
	return !m || json_array_append_new(list, m) ? cairn_error_set(CAIRN_ENOMEM, "out of memory") : 0;
}

/* the monitoring run, created on the first window (kept in the state) */
static int ensure_run(struct monitor_runner *r)
{
	json_t *reply = NULL;
	char *exp_id = NULL;
	bool created;
	const char *id;
	int rc;

	if (r->st.run_id[0])
		return 0;
	if ((rc = client_experiment_ensure(r->o.cl, r->o.experiment, &exp_id, &created)))
		return rc;
	rc = client_call(r->o.cl, "POST", "/mlflow/runs/create",
			 json_pack("{s:s,s:I,s:s+,s:[{s:s,s:s},{s:s,s:s}]}", "experiment_id", exp_id, "start_time",
				   (json_int_t)cairn_now_ms(), "run_name", "monitor ", r->o.name, "tags", "key",
				   "cairn.monitor", "value", r->o.name, "key", "mlflow.source.type", "value", "LOCAL"),
			 &reply);
	free(exp_id);
	if (rc)
		return rc;
	id = json_string_value(json_object_get(json_object_get(json_object_get(reply, "run"), "info"), "run_id"));
	if (!id || strlen(id) >= sizeof(r->st.run_id))
		rc = cairn_error_set(CAIRN_EIO, "malformed reply to runs/create: no run id");
	else
		snprintf(r->st.run_id, sizeof(r->st.run_id), "%s", id);
	json_decref(reply);
	return rc;
}

static int flush_metrics(struct monitor_runner *r, json_t *list)
{
	int rc;

	if (!json_array_size(list))
		return 0;
	rc = client_call(r->o.cl, "POST", "/mlflow/runs/log-batch", json_pack("{s:s,s:O}", "run_id", r->st.run_id, "metrics", list),
			 NULL);
	json_array_clear(list);
	return rc;
}

/* performance.labelled, performance.accuracy ... */
static int add_performance(json_t *list, const json_t *perf, int64_t ts, uint64_t step)
{
	static const char *const ms[] = { "accuracy", "auc", "rmse", "mae" };
	int rc = add_metric(list, "performance.labelled", (double)json_integer_value(json_object_get(perf, "labelled")), ts,
			    step);
	char key[32];

	for (size_t i = 0; i < 4 && !rc; i++) {
		json_t *v = json_object_get(perf, ms[i]);

		snprintf(key, sizeof(key), "performance.%s", ms[i]);
		if (json_is_number(v))
			rc = add_metric(list, key, json_number_value(v), ts, step);
	}
	return rc;
}

/* the window as metrics of the run: step = window number, timestamp = its end */
static int log_window(struct monitor_runner *r, const struct monitor_window *w)
{
	json_t *ds = json_object_get(w->drift, "dataset"), *cols = json_object_get(w->drift, "columns"), *c;
	json_t *pred = json_object_get(json_object_get(w->profile, "columns"), "prediction");
	json_t *list = json_array();
	int64_t ts = w->end_us / 1000;
	uint64_t step = r->st.step;
	struct buf key = BUF_INIT;
	const char *name;
	int rc;

	if (!list)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = ensure_run(r)) ||
	    (rc = add_metric(list, "drift.share", json_number_value(json_object_get(ds, "share_of_drifted_columns_with_nulls")), ts, step)) ||
	    (rc = add_metric(list, "drift.dataset_drift", json_is_true(json_object_get(ds, "dataset_drift")), ts, step)) ||
	    (rc = add_metric(list, "window.rows", (double)w->rows, ts, step)) ||
	    (rc = add_metric(list, "window.requests", (double)w->requests, ts, step)))
		goto out;
	if (json_is_number(json_object_get(pred, "mean")) &&
	    (rc = add_metric(list, "prediction.mean", json_number_value(json_object_get(pred, "mean")), ts, step)))
		goto out;
	if (w->performance && (rc = add_performance(list, w->performance, ts, step)))
		goto out;
	json_object_foreach(cols, name, c) {
		json_t *score = json_object_get(c, "drift_score");

		if (json_is_number(score)) {
			metric_key(&key, "drift.", name, ".score");
			if (key.err || (rc = add_metric(list, key.ptr, json_number_value(score), ts, step)))
				goto out;
		}
		metric_key(&key, "drift.", name, ".drifted");
		if (key.err || (rc = add_metric(list, key.ptr, json_is_true(json_object_get(c, "drifted")), ts, step)))
			goto out;
		if (json_array_size(list) >= 900 && (rc = flush_metrics(r, list)))   /* MLflow takes 1000 a batch */
			goto out;
	}
	rc = key.err ? cairn_error_set(CAIRN_ENOMEM, "out of memory") : flush_metrics(r, list);
out:
	buf_release(&key);
	json_decref(list);
	return rc;
}

/* ---- incidents and alerts ---- */

/* the alert of the window (event: "firing" or "resolved"); NULL when out of memory */
static json_t *alert_body(const struct monitor_runner *r, const char *event, const struct monitor_window *w)
{
	json_t *ds = json_object_get(w->drift, "dataset");
	json_t *cols = json_object_get(json_object_get(w->drift, "flagged_by_test"), "selected");
	json_t *nul = json_object_get(json_object_get(w->drift, "flagged_by_test"), "null_share");

	return json_pack("{s:s,s:s,s:s,s:I,s:{s:I,s:I,s:I},s:O?,s:O?,s:O?,s:b}", "event",
			 !strcmp(event, "firing") ? "cairn.drift.firing" : "cairn.drift.resolved", "monitor", r->o.name,
			 "incident", r->st.incident, "since_us", (json_int_t)r->st.since_us, "window", "start_us",
			 (json_int_t)w->start_us, "end_us", (json_int_t)w->end_us, "rows", (json_int_t)w->rows,
			 "drifted_columns", cols, "null_share_columns", nul, "share_of_drifted_columns",
			 json_object_get(ds, "share_of_drifted_columns_with_nulls"), "dataset_drift",
			 json_is_true(json_object_get(ds, "dataset_drift")));
}

/* hysteresis: the incident's change this window brings, or NULL */
static const char *incident_step(struct monitor_runner *r, const struct monitor_window *w, bool drift)
{
	if (drift) {
		r->st.clear = 0;
		if (r->st.firing)
			return NULL;
		r->st.firing = true;
		cairn_id_new(r->st.incident);
		r->st.since_us = w->start_us;
		return "firing";
	}
	if (r->st.firing && ++r->st.clear >= (r->o.resolve_after ? r->o.resolve_after : 1))
		return "resolved";
	return NULL;
}

/* ---- late labels ---- */

static double score_of(const json_t *perf)
{
	json_t *v = json_object_get(perf, "accuracy");

	if (!v)
		v = json_object_get(perf, "rmse");
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t horizon_us(const struct monitor_runner *r)
{
	return r->o.label_horizon_us ? r->o.label_horizon_us : 86400LL * 1000000;
}

/* keep the window among those a late label may revise (the oldest goes first) */
static void remember(struct monitor_runner *r, const struct monitor_window *w)
{
	struct monitor_state *st = &r->st;
	struct monitor_recent *e;

	if (r->o.label_horizon_us < 0)
		return;
	if (st->nrecent == MONITOR_RECENT)
		memmove(st->recent, st->recent + 1, --st->nrecent * sizeof(*st->recent));
	e = &st->recent[st->nrecent++];
	*e = (struct monitor_recent){ .index = st->step, .start = w->start, .end = w->end, .end_us = w->end_us,
				      .requests = w->requests,
				      .labelled = (uint64_t)json_integer_value(json_object_get(w->performance, "labelled")),
				      .score = score_of(w->performance) };
}

static bool same_score(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* the remembered windows without those marked to drop */
static void compact(struct monitor_state *st, const bool *drop)
{
	unsigned n = 0;

	for (unsigned i = 0; i < st->nrecent; i++)
		if (!drop[i])
			st->recent[n++] = st->recent[i];
	st->nrecent = n;
}

/* log the revised performance at the window's step, stamped now: the latest value of the step wins */
static int log_revision(struct monitor_runner *r, const struct monitor_recent *e, const json_t *perf)
{
	json_t *list = json_array();
	int rc;

	if (!list)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!(rc = add_performance(list, perf, cairn_now_ms(), e->index)))
		rc = flush_metrics(r, list);
	json_decref(list);
	return rc ? cairn_error_set(rc, "storing the revised window in the monitoring run: %s", cairn_error_msg()) : 0;
}

/* score the remembered windows again; revise those whose performance changed */
static int revise(struct monitor_runner *r, const char *dir, const struct monitor_opts *mo, uint64_t first_new)
{
	int64_t oldest = cairn_now_ms() * 1000 - horizon_us(r);
	bool drop[MONITOR_RECENT] = { false };
	int rc = 0;

	for (unsigned i = 0; i < r->st.nrecent && !rc; i++) {
		struct monitor_recent *e = &r->st.recent[i], was = *e;
		json_t *perf = NULL;

		if (e->end_us < oldest) {
			drop[i] = true;   /* too old: forgotten */
			continue;
		}
		if (e->index >= first_new)
			continue;         /* scored with these labels already */
		if ((rc = monitor_performance(dir, mo, &e->start, &e->end, e->requests, &perf))) {
			if (rc == CAIRN_ENOTFOUND) {
				drop[i] = true;   /* its records are gone: it cannot be revised */
				rc = 0;
			}
			continue;
		}
		if ((uint64_t)json_integer_value(json_object_get(perf, "labelled")) == e->labelled &&
		    same_score(score_of(perf), e->score)) {
			json_decref(perf);
			continue;
		}
		e->labelled = (uint64_t)json_integer_value(json_object_get(perf, "labelled"));
		e->score = score_of(perf);
		e->revision++;
		if (r->o.gauges && e->index + 1 == r->st.step)
			monitor_export_performance(r->o.gauges, r->o.name, perf);
		if (r->o.experiment && perf && r->st.run_id[0])
			rc = log_revision(r, e, perf);
		if (!rc && r->o.on_revise) {
			struct monitor_revision rv = { .index = e->index, .revision = e->revision, .end_us = e->end_us,
						       .performance = perf };
			struct monitor_state after = r->st;

			compact(&after, drop);
			rc = r->o.on_revise(r->o.revise_ctx, &rv, &after);
		}
		if (rc)
			*e = was;         /* tried again at the next scan */
		json_decref(perf);
	}
	compact(&r->st, drop);
	return rc;
}

static int on_window(void *ctx, const struct monitor_window *w)
{
	struct monitor_runner *r = ctx;
	struct monitor_state before = r->st;
	struct monitor_report rep = { .w = w, .drift = drift_detected(w->drift) };
	json_t *body = NULL;
	char why[512] = "";
	int rc = 0;

	if (r->o.gauges)
		monitor_export(r->o.gauges, r->o.name, w);
	if (r->o.experiment && (rc = log_window(r, w))) {
		rc = cairn_error_set(rc, "storing the window in the monitoring run: %s", cairn_error_msg());
		goto undo;
	}
	if ((rep.event = incident_step(r, w, rep.drift))) {
		if (!(body = alert_body(r, rep.event, w))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto undo;
		}
		rep.alert = body;
		if (r->o.hook.url) {
			if (webhook_post(&r->o.hook, body, &rep.hook_status, NULL)) {
				snprintf(why, sizeof(why), "%s", cairn_error_msg());
				rep.hook_error = why;
			} else {
				rep.delivered = true;
			}
		}
		if (!strcmp(rep.event, "resolved")) {
			r->st.firing = false;
			r->st.clear = 0;
		} else if (r->o.on_firing) {
			r->o.on_firing(r->o.firing_ctx, r->o.name, r->st.incident);
		}
	}
	remember(r, w);
	r->st.step++;
	r->st.pos = w->end;
	if (r->fn && (rc = r->fn(r->ctx, &rep, &r->st)))
		goto undo;
	json_decref(body);
	return 0;
undo:   /* the window does not count: the next scan does it again */
	r->st = before;
	json_decref(body);
	return rc;
}

/* ---- the runner ---- */

int monitor_runner_new(const struct monitor_runner_opts *o, const struct monitor_state *start, struct monitor_runner **out)
{
	struct monitor_runner *r;

	*out = NULL;
	if (o->experiment && !o->cl)
		return cairn_error_set(CAIRN_EINVALID, "a monitoring run needs a tracking store");
	if (!(r = ccalloc(1, sizeof(*r))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	r->o = *o;
	if (start)
		r->st = *start;
	*out = r;
	return 0;
}

void monitor_runner_free(struct monitor_runner *r)
{
	free(r);
}

int monitor_runner_scan(struct monitor_runner *r, const char *dir, const struct monitor_opts *mo, bool flush,
			monitor_report_fn fn, void *ctx)
{
	struct ilog_pos pos = r->st.pos;
	struct monitor_opts o = *mo;
	uint64_t first_new = r->st.step, size = 0;
	json_t *labels = NULL;
	struct stat sb;
	int rc;

	/* the labels once for both: the size first, so labels written meanwhile count as new next time */
	if (mo->labels && !mo->label_map) {
		if (stat(mo->labels, &sb) == 0)
			size = (uint64_t)sb.st_size;
		if ((rc = monitor_labels_load(mo->labels, &labels)))
			return rc;
		o.label_map = labels;
	}
	r->fn = fn;
	r->ctx = ctx;
	rc = monitor_scan(dir, &o, &pos, flush, on_window, r);
	r->fn = NULL;
	r->ctx = NULL;
	if (!rc && labels && size != r->st.labels_size) {
		if (!(rc = revise(r, dir, &o, first_new)))
			r->st.labels_size = size;
	}
	json_decref(labels);
	return rc;
}

const struct monitor_state *monitor_runner_state(const struct monitor_runner *r)
{
	return &r->st;
}
