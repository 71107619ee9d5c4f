/* serve.c - the model server's core: slots, loading and swapping models,
 * per-thread prediction contexts, metrics, mounting. */
#include "serve/serve_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- models and slots ---- */

static void model_free(struct serve_model *m)
{
	if (!m)
		return;
	pyworker_pool_free(m->py);
	serve_input_release(&m->in);
	xgb_model_free(m->xgb);
	mlmodel_free(m->ml);
	free(m->name);
	free(m->version);
	free(m->flavor);
	free(m->dir);
	free(m);
}

struct serve_model *model_get_role(struct serve_slot *slot, enum serve_role role)
{
	struct serve_model *m;

	pthread_mutex_lock(&slot->mu);
	m = slot->live[role];
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&slot->mu);
	return m;
}

struct serve_model *model_get(struct serve_slot *slot)
{
	return model_get_role(slot, SERVE_PRIMARY);
}

static void *model_free_thread(void *arg)
{
	model_free(arg);
	return NULL;
}

void model_put(struct serve_model *m)
{
	pthread_t t;

	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	/* a Python model's last request may end on one of its own pool's threads,
	 * which freeing the pool joins: free it from another thread */
	if (m->py && !pthread_create(&t, NULL, model_free_thread, m)) {
		pthread_detach(t);
		return;
	}
	model_free(m);
}

/* Python flavors are refused: loading them unpickles code. */
static int refuse_python(const struct mlmodel *ml, const char *dir)
{
	char flavors[256] = "";
	size_t n = 0;

	for (size_t i = 0; i < ml->nflavors && n < sizeof(flavors) - 2; i++)
		n += (size_t)snprintf(flavors + n, sizeof(flavors) - n, "%s%s", i ? ", " : "", ml->flavors[i].name);
	if (mlmodel_flavor(ml, "python_function"))
		return cairn_error_set(CAIRN_EPERM,
				       "model '%s' has no native flavor (flavors: %s): serving it loads a pickle in "
				       "Python, which runs the model's code (MLflow's CVE-2024-37052..37060); start "
				       "cairn serve with --allow-pickle if you trust it (natively served: xgboost)",
				       dir, flavors);
	return cairn_error_set(CAIRN_EUNSUPPORTED, "model '%s' has no flavor cairn can serve (flavors: %s; natively "
						   "served: xgboost)", dir, flavors);
}

static int model_load(struct serve *sv, const char *name, const char *version, const char *dir,
		      struct serve_model **out)
{
	struct xgb_opts opts = { .nthread = sv->cfg.nthread > 0 ? sv->cfg.nthread : 1 };
	struct serve_model *m = ccalloc(1, sizeof(*m));
	uint64_t t0 = metrics_now_ns();
	struct stat stb;
	int rc;

	if (!m)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	atomic_init(&m->refs, 1);
	if (!(m->name = cstrdup(name)) || !(m->version = cstrdup(version)) || !(m->dir = cstrdup(dir)) ||
	    !(m->flavor = cstrdup("xgboost"))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}
	if (stat(dir, &stb)) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "no model at '%s'", dir);
		goto fail;
	}
	if (S_ISDIR(stb.st_mode)) {
		if ((rc = mlmodel_load(dir, &m->ml)))
			goto fail;
		if (!mlmodel_flavor(m->ml, "xgboost")) {
			struct pyworker_opts po = { .model_dir = dir, .allow_pickle = sv->cfg.allow_pickle,
						    .python = sv->cfg.python, .workers = sv->cfg.python_workers,
						    .request_timeout_ms = sv->cfg.request_timeout_ms,
						    .max_queue = sv->cfg.max_queue };
			if (!mlmodel_flavor(m->ml, "python_function") || !sv->cfg.allow_pickle) {
				rc = refuse_python(m->ml, dir);
				goto fail;
			}
			free(m->flavor);
			if (!(m->flavor = cstrdup("python_function"))) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto fail;
			}
			if ((rc = pyworker_pool_new(&po, &m->py)))
				goto fail;
			m->load_seconds = (double)(metrics_now_ns() - t0) / 1e9;
			*out = m;
			return 0;
		}
	}
	if ((rc = xgb_model_load_opts(dir, m->ml, &opts, &m->xgb)) ||
	    (rc = xgb_model_shape(m->xgb, XGB_PREDICT, &m->shape)) ||
	    (rc = serve_input_from_signature(m->ml, (char *const *)xgb_model_feature_names(m->xgb),
					     xgb_model_num_features(m->xgb), &m->in)))
		goto fail;
	m->load_seconds = (double)(metrics_now_ns() - t0) / 1e9;
	*out = m;
	return 0;
fail:
	model_free(m);
	return rc;
}

struct serve_slot *serve_slot_find(struct serve *sv, const char *name)
{
	size_t n = atomic_load(&sv->nslots);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(sv->slots[i]->name, name))
			return sv->slots[i];
	return NULL;
}

struct serve_slot *serve_slot_default(struct serve *sv)
{
	return atomic_load(&sv->nslots) ? sv->slots[atomic_load(&sv->def)] : NULL;
}

static int slot_new(struct serve *sv, const char *name, struct serve_slot **out)
{
	const char *labels[1] = { name };
	struct serve_slot *slot;
	size_t n = atomic_load(&sv->nslots);

	if (n == SERVE_MAX_SLOTS)
		return cairn_error_set(CAIRN_ETOOBIG, "too many models (at most %d)", SERVE_MAX_SLOTS);
	if (!(slot = ccalloc(1, sizeof(*slot))) || !(slot->name = cstrdup(name))) {
		free(slot);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&slot->mu, NULL);
	slot->rows = metrics_series_get(sv->f_rows, labels, 1);
	slot->load_failures = metrics_series_get(sv->f_load_failures, labels, 1);
	slot->queue_depth = metrics_series_get(sv->f_queue, labels, 1);
	if (sv->cfg.max_batch > 1) {
		int rc = serve_batcher_new(sv, slot, &slot->batcher);
		if (rc) {
			pthread_mutex_destroy(&slot->mu);
			free(slot->name);
			free(slot);
			return rc;
		}
	}
	sv->slots[n] = slot;
	atomic_store(&sv->nslots, n + 1); /* published after it is complete: readers take no lock */
	*out = slot;
	return 0;
}

static const char *const role_names[SERVE_NROLES] = { "primary", "canary", "shadow" };

static void info_set(struct serve *sv, const struct serve_model *m, double v)
{
	const char *labels[4] = { m->name, m->version, m->flavor, role_names[m->role] };

	metrics_gauge_set(metrics_series_get(sv->f_info, labels, 4), v);
}

const char *serve_role_name(enum serve_role r)
{
	return (unsigned)r < SERVE_NROLES ? role_names[r] : "?";
}

/* Load dir into the role of slot (created for a primary), and switch. */
static int load_role(struct serve *sv, const char *name, enum serve_role role, const char *version, const char *dir,
		     bool make_default)
{
	struct serve_slot *slot;
	struct serve_model *m = NULL, *old;
	int rc;

	if (!version)
		version = "1";
	pthread_mutex_lock(&sv->mu);
	slot = serve_slot_find(sv, name);
	if (!slot && role != SERVE_PRIMARY) {
		pthread_mutex_unlock(&sv->mu);
		return cairn_error_set(CAIRN_ENOTFOUND, "no model '%s' to add a %s to", name, role_names[role]);
	}
	if (!slot && (rc = slot_new(sv, name, &slot))) {
		pthread_mutex_unlock(&sv->mu);
		return rc;
	}
	if (make_default)
		for (size_t i = 0; i < atomic_load(&sv->nslots); i++)
			if (sv->slots[i] == slot)
				atomic_store(&sv->def, i);
	pthread_mutex_unlock(&sv->mu);
	/* load beside what is served: requests go on meanwhile */
	if ((rc = model_load(sv, name, version, dir, &m))) {
		metrics_counter_add(slot->load_failures, 1);
		cairn_log(LOG_ERROR, "serve: model '%s' version %s (%s) did not load: %s", name, version, role_names[role],
			  cairn_error_msg());
		return rc;
	}
	m->role = role;
	{
		const char *labels[2] = { name, version };
		metrics_gauge_set(metrics_series_get(sv->f_load_seconds, labels, 2), m->load_seconds);
	}
	info_set(sv, m, 1);
	pthread_mutex_lock(&slot->mu);
	old = slot->live[role];
	slot->live[role] = m;
	pthread_mutex_unlock(&slot->mu);
	if (old) {
		if (strcmp(old->version, m->version))
			info_set(sv, old, 0);
		cairn_log(LOG_INFO, "serve: model '%s'%s%s switched from version %s to %s", name,
			  role ? " " : "", role ? role_names[role] : "", old->version, m->version);
		model_put(old); /* freed when its last request ends */
	} else {
		cairn_log(LOG_INFO, "serve: model '%s'%s%s version %s loaded from %s in %.3f s", name, role ? " " : "",
			  role ? role_names[role] : "", version, dir, m->load_seconds);
	}
	return 0;
}

int serve_load(struct serve *sv, const char *name, const char *version, const char *dir, bool make_default)
{
	return load_role(sv, name, SERVE_PRIMARY, version, dir, make_default);
}

int serve_load_role(struct serve *sv, const char *name, enum serve_role role, const char *version, const char *dir)
{
	return load_role(sv, name, role, version, dir, false);
}

int serve_set_canary(struct serve *sv, const char *name, unsigned percent)
{
	struct serve_slot *slot = serve_slot_find(sv, name);

	if (!slot)
		return cairn_error_set(CAIRN_ENOTFOUND, "no model '%s'", name);
	if (percent > 100)
		return cairn_error_set(CAIRN_EINVALID, "a canary share is a percentage (0 to 100), not %u", percent);
	atomic_store(&slot->canary_pct, percent);
	return 0;
}

int serve_current(struct serve *sv, const char *name, char *out, size_t cap)
{
	struct serve_slot *slot = serve_slot_find(sv, name);
	struct serve_model *m = slot ? model_get(slot) : NULL;

	if (!m)
		return cairn_error_set(CAIRN_ENOTFOUND, "no model '%s' is loaded", name);
	snprintf(out, cap, "%s", m->version);
	model_put(m);
	return 0;
}

/* ---- prediction ---- */

static void ctx_destroy(void *p)
{
	xgb_ctx_free(p);
}

struct xgb_ctx *serve_thread_ctx(struct serve *sv)
{
	struct xgb_ctx *ctx = pthread_getspecific(sv->ctx_key);

	if (!ctx && !xgb_ctx_new(&ctx) && pthread_setspecific(sv->ctx_key, ctx)) {
		xgb_ctx_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

int serve_predict(struct serve *sv, struct serve_slot *slot, struct serve_model *m, const struct serve_frame *f,
		  struct xgb_output *out)
{
	struct xgb_ctx *ctx = serve_thread_ctx(sv);
	const char *labels[1] = { slot->name };
	uint64_t t0 = metrics_now_ns();
	int rc;

	json_t *margin = f->params ? json_object_get(f->params, "output_margin") : NULL;
	enum xgb_method method = json_is_true(margin) ? XGB_PREDICT_MARGIN : XGB_PREDICT; /* pyfunc's params */

	if (!ctx)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");

	if ((rc = xgb_predict(m->xgb, ctx, f->x, f->nrows, f->ncols, method, out)))
		return rc;
	metrics_hist_observe_since(metrics_series_get(sv->f_predict, labels, 1), t0);
	metrics_hist_observe(metrics_series_get(sv->f_batch, labels, 1), f->nrows);
	metrics_counter_add(slot->rows, f->nrows);
	return 0;
}

void serve_put_double(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN"); /* Python's json, not protobuf's quoted spelling */
	else if (isinf(v))
		buf_puts(b, v > 0 ? "Infinity" : "-Infinity");
	else
		cjson_put_double(b, v);
}

/* ---- request ids and the inference log ---- */

void serve_request_id(struct serve *sv, struct http_req *req, char *out, size_t cap)
{
	const char *h = req ? http_req_header(req, "X-Request-ID") : NULL;
	size_t n = h ? strlen(h) : 0;
	bool ok = n && n < cap;

	/* a client's id is kept when it is printable ASCII (it goes into a header and the log) */
	for (size_t i = 0; ok && i < n; i++)
		ok = h[i] > 0x20 && h[i] < 0x7f;
	if (ok)
		memcpy(out, h, n + 1);
	else
		snprintf(out, cap, "%s-%llu", sv->id_prefix, (unsigned long long)atomic_fetch_add(&sv->next_id, 1) + 1);
}

void serve_log(struct serve *sv, const char *id, const struct serve_model *m, uint64_t start_ns, int status,
	       const char *input, size_t input_n, const char *output, size_t output_n)
{
	struct timespec now;
	uint64_t lat_us = start_ns ? (metrics_now_ns() - start_ns) / 1000u : 0;
	struct ilog_record r;

	if (!sv->log)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	r = (struct ilog_record){
		.id = { id, strlen(id) },
		.ts_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - (int64_t)lat_us, /* the arrival */
		.model = { m->name, strlen(m->name) },
		.version = { m->version, strlen(m->version) },
		.role = { m->role ? serve_role_name(m->role) : "", m->role ? strlen(serve_role_name(m->role)) : 0 },
		.latency_us = (int64_t)lat_us,
		.status = status,
		.input = { input, input_n },
		.output = { output, output_n },
	};
	(void)ilog_append(sv->log, &r); /* a full queue drops and counts: never waits */
}

enum log_stat { LS_APPENDED, LS_SAMPLED_OUT, LS_DROPPED, LS_BYTES, LS_ERRORS, LS_N };

struct log_stat_arg {
	struct serve *sv;
	enum log_stat which;
};

static double log_stat(void *arg)
{
	const struct log_stat_arg *a = arg;
	struct ilog_stats st;

	ilog_stats(a->sv->log, &st);
	switch (a->which) {
	case LS_APPENDED: return (double)st.appended;
	case LS_SAMPLED_OUT: return (double)st.sampled_out;
	case LS_DROPPED: return (double)st.dropped;
	case LS_BYTES: return (double)st.bytes_written;
	default: return (double)st.errors;
	}
}

static int log_open(struct serve *sv)
{
	static const struct {
		enum log_stat which;
		const char *name, *help;
	} defs[] = {
		{ LS_APPENDED, "cairn_serve_log_records_total", "Answers queued for the inference log" },
		{ LS_SAMPLED_OUT, "cairn_serve_log_sampled_out_total", "Answers left out of the inference log by its sample rate" },
		{ LS_DROPPED, "cairn_serve_log_dropped_total", "Answers dropped because the inference log's queue was full" },
		{ LS_BYTES, "cairn_serve_log_written_bytes_total", "Compressed bytes written to the inference log" },
		{ LS_ERRORS, "cairn_serve_log_errors_total", "Inference log write errors" },
	};
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct log_stat_arg *args;
	int rc;

	if (sv->cfg.log_sample >= 0)
		o.sample_rate = sv->cfg.log_sample;
	o.max_disk_bytes = sv->cfg.log_max_bytes;
	if ((rc = ilog_open(sv->cfg.log_dir, &o, &sv->log)) || (rc = serve_labels_open(sv)))
		return rc;
	if (!(args = ccalloc(LS_N, sizeof(*args))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	sv->log_args = args;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		args[i].sv = sv;
		args[i].which = defs[i].which;
		if ((rc = metrics_counter_fn_new(sv->metrics, NULL, defs[i].name, defs[i].help, log_stat, &args[i])))
			return rc;
	}
	return 0;
}

/* ---- the server ---- */

void serve_after(struct http_req *req, const struct http_resp *resp, uint64_t elapsed_ns)
{
	struct serve *sv = req->ctx;

	if (sv)
		http_metrics_observe(sv->http_metrics, req, resp, elapsed_ns);
}

static int metrics_route(struct http_req *req, struct http_resp *resp)
{
	struct serve *sv = req->ctx;

	return http_resp_metrics(resp, sv->metrics);
}

static const struct http_route root_routes[] = {
	{ .method = "GET", .path = "/metrics", .fn = metrics_route },
	{ .method = "POST", .path = "/labels", .fn = serve_labels_route, .max_body = (size_t)8 << 20 },
};

static const struct http_ops root_ops = { .after = serve_after };

/* Batch sizes: powers of two up to 4096 rows. */
static const double batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096 };

int serve_new(const struct serve_config *cfg, struct serve **out)
{
	static const char *const model[] = { "model" };
	static const char *const model_version[] = { "model", "version" };
	static const char *const info[] = { "name", "version", "flavor", "role" };
	static const char *const model_variant[] = { "model", "variant" };
	static const char *const model_outcome[] = { "model", "outcome" };
	struct serve *sv = ccalloc(1, sizeof(*sv));
	int rc;

	if (!sv)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	sv->cfg = *cfg;
	if (!sv->cfg.request_timeout_ms)
		sv->cfg.request_timeout_ms = 60000;
	if (!sv->cfg.version)
		sv->cfg.version = "unknown";
	if (!sv->cfg.max_queue)
		sv->cfg.max_queue = 1024;
	{
		/* generated request ids: a random prefix, then a counter */
		unsigned char rnd[8] = { 0 };
		FILE *f = fopen("/dev/urandom", "rb");
		if (!f || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
			uint64_t t = metrics_now_ns() ^ (uint64_t)getpid() << 32;
			memcpy(rnd, &t, sizeof(rnd));
		}
		if (f)
			fclose(f);
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(sv->id_prefix + 2 * i, 3, "%02x", rnd[i]);
	}
	pthread_mutex_init(&sv->mu, NULL);
	pthread_mutex_init(&sv->labels_mu, NULL);
	sv->labels_fd = -1;
	if (pthread_key_create(&sv->ctx_key, ctx_destroy)) {
		free(sv);
		return cairn_error_set(CAIRN_ERR, "cannot create a thread key");
	}
	if ((rc = metrics_new(&sv->metrics)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_rows, "cairn_serve_rows_predicted_total",
				      "Rows predicted, by model", model, 1)) ||
	    (rc = metrics_hist_new(sv->metrics, &sv->f_batch, "cairn_serve_batch_rows",
				   "Rows per predict call (the batch size), by model", model, 1, batch_bounds,
				   sizeof(batch_bounds) / sizeof(batch_bounds[0]), 1)) ||
	    (rc = metrics_hist_new(sv->metrics, &sv->f_predict, "cairn_serve_predict_duration_seconds",
				   "Time in the model's predict, by model", model, 1, NULL, 0, METRICS_PER_NS)) ||
	    (rc = metrics_gauge_new(sv->metrics, &sv->f_info, "cairn_serve_model_info",
				    "1 for each version served now, by role (0 once replaced)", info, 4)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_variant, "cairn_serve_variant_requests_total",
				      "Requests answered by the primary or the canary, by model", model_variant, 2)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_shadow, "cairn_serve_shadow_requests_total",
				      "Copies of requests scored by the shadow, by outcome (ok, error, dropped)",
				      model_outcome, 2)) ||
	    (rc = metrics_gauge_new(sv->metrics, &sv->f_load_seconds, "cairn_serve_model_load_seconds",
				    "How long a model version took to load", model_version, 2)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_load_failures, "cairn_serve_model_load_failures_total",
				      "Model versions that failed to load (the old one kept serving)", model, 1)) ||
	    (rc = metrics_gauge_new(sv->metrics, &sv->f_queue, "cairn_serve_queue_depth",
				    "Requests waiting for a batch, by model", model, 1)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_rejected, "cairn_serve_queue_rejected_total",
				      "Requests refused because the batch queue was full (503)", model, 1)) ||
	    (rc = metrics_counter_new(sv->metrics, &sv->f_timeouts, "cairn_serve_request_timeouts_total",
				      "Requests that waited past the request timeout (504)", model, 1)) ||
	    (sv->cfg.log_dir && (rc = log_open(sv)))) {
		serve_free(sv);
		return rc;
	}
	*out = sv;
	return 0;
}

void serve_shutdown(struct serve *sv)
{
	size_t n = sv ? atomic_load(&sv->nslots) : 0;

	for (size_t i = 0; i < n; i++) {
		serve_batcher_free(sv->slots[i]->batcher);
		sv->slots[i]->batcher = NULL;
	}
}

void serve_free(struct serve *sv)
{
	size_t n;

	if (!sv)
		return;
	serve_shutdown(sv);
	serve_shadow_free(sv);
	if (sv->log && ilog_close(sv->log))
		cairn_log(LOG_WARN, "serve: the inference log: %s", cairn_error_msg());
	sv->log = NULL;
	serve_labels_close(sv);
	n = atomic_load(&sv->nslots);
	for (size_t i = 0; i < n; i++) {
		struct serve_slot *slot = sv->slots[i];
		for (int r = 0; r < SERVE_NROLES; r++)
			model_put(slot->live[r]);
		pthread_mutex_destroy(&slot->mu);
		free(slot->name);
		free(slot);
	}
	/* the calling thread's context (worker threads' went with them) */
	xgb_ctx_free(pthread_getspecific(sv->ctx_key));
	pthread_setspecific(sv->ctx_key, NULL);
	pthread_key_delete(sv->ctx_key);
	http_metrics_free(sv->http_metrics);
	metrics_free(sv->metrics);
	free(sv->log_args);
	pthread_mutex_destroy(&sv->mu);
	pthread_mutex_destroy(&sv->labels_mu);
	free(sv);
}

struct metrics *serve_metrics(struct serve *sv)
{
	return sv->metrics;
}

int serve_mount(struct serve *sv, struct http_server *s)
{
	int rc;

	if (!sv->http_metrics && (rc = http_metrics_new(sv->metrics, "cairn", s, &sv->http_metrics)))
		return rc;
	if ((rc = http_server_mount(s, "", root_routes, sizeof(root_routes) / sizeof(root_routes[0]), sv, &root_ops)) ||
	    (rc = http_server_mount(s, "", serve_mlflow_routes, serve_mlflow_nroutes, sv, &serve_mlflow_ops)) ||
	    (rc = http_server_mount(s, "/v2", serve_oip_routes, serve_oip_nroutes, sv, &serve_oip_ops)))
		return rc;
	return 0;
}
