/* batch.c - scoring a decoded request: on the request's thread, or through a
 * slot's batcher, which predicts queued requests together (dynamic batching,
 * as Triton's max_batch_size and max_queue_delay_microseconds) and splits the
 * results back to each request in order. */
#include "serve/serve_int.h"
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- answers ---- */

/* Answer resp with out in protocol p for m, and log it (req: the request,
 * NULL in-process). */
static int answer(struct serve *sv, struct http_req *req, const char *id, enum serve_proto p,
		  const struct serve_model *m, const json_t *meta, const struct xgb_output *out, struct http_resp *resp)
{
	int rc;

	resp->status = 200;
	resp->content_type = "application/json";
	buf_clear(&resp->body);
	rc = p == SERVE_MLFLOW ? serve_put_mlflow(out, &resp->body) : serve_put_oip(m, meta, out, &resp->body);
	if (rc)
		return rc;
	/* informative headers: not worth failing for */
	(void)http_resp_header(resp, "X-Model-Version", m->version);
	(void)http_resp_header(resp, "X-Model-Variant", serve_role_name(m->role));
	if (req && id && *id) {
		(void)http_resp_header(resp, "X-Request-ID", id);
		serve_log(sv, id, m, http_req_start_ns(req), 200, req->body.ptr, req->body.len, resp->body.ptr,
			  resp->body.len);
	}
	return 0;
}

/* ---- the batcher ---- */

struct job {
	struct job *next;
	struct http_req *req;
	struct http_resp *resp;
	enum serve_proto proto;
	struct serve_model *m;     /* a reference */
	struct serve_frame f;
	json_t *meta;
	uint64_t queued_ns;
	bool alone;                /* params change the method: predicted by itself */
	char id[64];               /* the request id */
};

struct serve_batcher {
	struct serve *sv;
	struct serve_slot *slot;
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* a job arrived, or stop */
	struct job *head, *tail;   /* under mu */
	size_t queued;             /* jobs in the queue */
	size_t queued_rows;
	bool stop;
	pthread_t thread;
	float *x;                  /* the batch's matrix (the batcher thread's) */
	size_t xcap;               /* floats allocated */
};

static void job_free(struct job *j)
{
	serve_frame_release(&j->f);
	json_decref(j->meta);
	model_put(j->m);
	free(j);
}

/* Finish a job with an error. */
static void job_fail(struct job *j, int rc, const char *msg)
{
	http_req_finish(j->req, rc, msg);
	job_free(j);
}

static uint64_t deadline_ns(const struct serve *sv, const struct job *j)
{
	return j->queued_ns + (uint64_t)sv->cfg.request_timeout_ms * 1000000u;
}

/* Take the next batch off the queue (under b->mu): the first job, then the
 * ones after it for the same model version while they fit in max_batch. */
static struct job *take(struct serve_batcher *b, size_t *nrows)
{
	struct job *first = b->head, *last = first, *j;
	size_t rows = first->f.nrows;

	if (!first->alone)
		for (j = first->next; j && !j->alone && j->m == first->m && rows + j->f.nrows <= b->sv->cfg.max_batch;
		     j = j->next) {
			rows += j->f.nrows;
			last = j;
		}
	b->head = last->next;
	if (!b->head)
		b->tail = NULL;
	last->next = NULL;
	for (j = first; j; j = j->next) {
		b->queued--;
		b->queued_rows -= j->f.nrows;
	}
	metrics_gauge_set(b->slot->queue_depth, (double)b->queued);
	*nrows = rows;
	return first;
}

/* Predict a batch and answer each of its jobs. */
static void run_batch(struct serve_batcher *b, struct job *jobs, size_t rows)
{
	struct serve *sv = b->sv;
	struct serve_frame all = *(&jobs->f);
	struct xgb_output out;
	uint64_t now = metrics_now_ns();
	struct job *j, *next;
	size_t off = 0;
	int rc = 0;

	/* past the request timeout while queued: MLflow's 504 */
	for (struct job **pp = &jobs; *pp;) {
		j = *pp;
		if (now > deadline_ns(sv, j)) {
			*pp = j->next;
			rows -= j->f.nrows;
			metrics_counter_add(metrics_series_get(sv->f_timeouts, (const char *const[]){ b->slot->name }, 1), 1);
			job_fail(j, CAIRN_ETIMEDOUT, "Request processing time exceeded limit");
			continue;
		}
		pp = &j->next;
	}
	if (!jobs)
		return;
	if (jobs->next) { /* several requests: one matrix */
		size_t need = rows * jobs->f.ncols;
		if (need > b->xcap) {
			float *nx = crealloc(b->x, need * sizeof(*nx));
			if (!nx) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory for a batch of %zu rows", rows);
				goto fail;
			}
			b->x = nx;
			b->xcap = need;
		}
		for (j = jobs; j; j = j->next) {
			memcpy(b->x + off * j->f.ncols, j->f.x, j->f.nrows * j->f.ncols * sizeof(float));
			off += j->f.nrows;
		}
		all.x = b->x;
		all.nrows = rows;
		all.params = NULL;
	} else {
		all = jobs->f;
	}
	if ((rc = serve_predict(sv, b->slot, jobs->m, &all, &out)))
		goto fail;
	off = 0;
	for (j = jobs; j; j = next) {
		struct xgb_output part = out;
		next = j->next;
		part.data = out.data + off * out.shape.width;
		part.nrows = j->f.nrows;
		off += j->f.nrows;
		rc = answer(sv, j->req, j->id, j->proto, j->m, j->meta, &part, j->resp);
		http_req_finish(j->req, rc, rc ? cairn_error_msg() : NULL);
		job_free(j);
	}
	return;
fail:
	for (j = jobs; j; j = next) {
		next = j->next;
		job_fail(j, rc, cairn_error_msg());
	}
}

static void *batcher_main(void *arg)
{
	struct serve_batcher *b = arg;
	struct serve *sv = b->sv;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct job *jobs;
		size_t rows;

		while (!b->stop && !b->head)
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->stop)
			break;
		if (sv->cfg.max_queue_delay_us && b->queued_rows < sv->cfg.max_batch) {
			/* wait a little for more, counted from the first request's arrival */
			uint64_t until = b->head->queued_ns + (uint64_t)sv->cfg.max_queue_delay_us * 1000u;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			while (!b->stop && b->queued_rows < sv->cfg.max_batch && metrics_now_ns() < until) {
				uint64_t left = until - metrics_now_ns();
				ts.tv_sec += (time_t)(left / 1000000000u);
				ts.tv_nsec += (long)(left % 1000000000u);
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
				if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
					break;
				clock_gettime(CLOCK_MONOTONIC, &ts);
			}
			if (b->stop)
				break;
		}
		jobs = take(b, &rows);
		pthread_mutex_unlock(&b->mu);
		run_batch(b, jobs, rows);
		pthread_mutex_lock(&b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int serve_batcher_new(struct serve *sv, struct serve_slot *slot, struct serve_batcher **out)
{
	struct serve_batcher *b = ccalloc(1, sizeof(*b));
	pthread_condattr_t a;

	if (!b)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	b->sv = sv;
	b->slot = slot;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &a);
	pthread_condattr_destroy(&a);
	if (pthread_create(&b->thread, NULL, batcher_main, b)) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return cairn_error_set(CAIRN_ERR, "cannot start a batcher thread");
	}
	*out = b;
	return 0;
}

void serve_batcher_free(struct serve_batcher *b)
{
	struct job *j, *next;

	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	for (j = b->head; j; j = next) {
		next = j->next;
		job_fail(j, CAIRN_EBUSY, "the server is shutting down");
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->x);
	free(b);
}

/* ---- Python models ---- */

struct pyjob {
	struct serve *sv;
	struct http_req *req;      /* NULL: in-process, waited for */
	struct http_resp *resp;
	struct serve_model *m;     /* a reference */
	char id[SERVE_ID_MAX];
	pthread_mutex_t mu;        /* in-process: the waiter's */
	pthread_cond_t cv;
	bool done;
	int rc;
	char msg[512];
};

/* The worker's content type as a constant (resp keeps only static strings). */
static const char *static_type(const char *ct)
{
	static const char *const known[] = { "application/json", "text/plain; charset=utf-8", "text/csv",
					     "text/html; charset=utf-8" };

	for (size_t i = 0; ct && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strncmp(ct, known[i], strcspn(known[i], ";")))
			return known[i];
	return "application/octet-stream";
}

static void py_done(void *ud, const struct pyworker_reply *r)
{
	struct pyjob *j = ud;
	int rc = r->err;

	if (!rc) {
		j->resp->status = r->status;
		j->resp->content_type = static_type(r->content_type);
		buf_clear(&j->resp->body);
		buf_put(&j->resp->body, r->body, r->len);
		if ((rc = buf_error(&j->resp->body))) {
			snprintf(j->msg, sizeof(j->msg), "out of memory for the model's answer");
		} else {
			(void)http_resp_header(j->resp, "X-Model-Version", j->m->version);
			(void)http_resp_header(j->resp, "X-Model-Variant", serve_role_name(j->m->role));
			if (j->req && *j->id) {
				(void)http_resp_header(j->resp, "X-Request-ID", j->id);
				if (r->status == 200)
					serve_log(j->sv, j->id, j->m, http_req_start_ns(j->req), 200, j->req->body.ptr,
						  j->req->body.len, r->body, r->len);
			}
		}
	} else {
		snprintf(j->msg, sizeof(j->msg), "%s", r->message ? r->message : "");
	}
	if (j->req) {
		http_req_finish(j->req, rc, rc ? j->msg : NULL);
		model_put(j->m); /* a last reference is freed on another thread (model_put) */
		free(j);
		return;
	}
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

int serve_score_python(struct serve *sv, struct http_req *req, struct http_resp *resp, enum serve_proto p,
		       struct serve_model *m, const char *ct, const char *body, size_t len, const char *request_id)
{
	struct pyworker_req pr = { .proto = p == SERVE_MLFLOW ? PYWORKER_MLFLOW : PYWORKER_OIP, .content_type = ct,
				   .model_name = m->name, .model_version = m->version, .body = body, .len = len };
	struct pyjob *j = ccalloc(1, sizeof(*j));
	int rc;

	if (!j) {
		model_put(m);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	j->sv = sv;
	j->req = req;
	j->resp = resp;
	j->m = m;
	snprintf(j->id, sizeof(j->id), "%s", request_id ? request_id : "");
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	if ((rc = pyworker_submit(m->py, &pr, py_done, j))) {
		pthread_cond_destroy(&j->cv);
		pthread_mutex_destroy(&j->mu);
		free(j);
		model_put(m);
		return rc;
	}
	if (req)
		return HTTP_ASYNC; /* py_done finishes the request and frees j */
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
	rc = j->rc ? cairn_error_set(j->rc, "%s", j->msg) : 0;
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	model_put(m);
	free(j);
	return rc;
}

/* ---- scoring ---- */

int serve_score(struct serve *sv, struct http_req *req, struct http_resp *resp, enum serve_proto p,
		struct serve_slot *slot, struct serve_model *m, struct serve_frame *f, json_t *meta,
		const char *request_id)
{
	struct serve_batcher *b = slot->batcher;
	struct xgb_output out;
	struct job *j;
	int rc;

	if (!b || !req) {
		if (!(rc = serve_predict(sv, slot, m, f, &out)))
			rc = answer(sv, req, request_id, p, m, meta, &out, resp);
		goto done;
	}
	if (!(j = ccalloc(1, sizeof(*j)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	j->req = req;
	j->resp = resp;
	j->proto = p;
	j->m = m;
	j->f = *f;
	j->meta = meta;
	j->queued_ns = metrics_now_ns();
	snprintf(j->id, sizeof(j->id), "%s", request_id ? request_id : "");
	j->alone = f->params && json_object_get(f->params, "output_margin") &&
		   json_is_true(json_object_get(f->params, "output_margin"));
	pthread_mutex_lock(&b->mu);
	if (b->queued >= sv->cfg.max_queue) {
		pthread_mutex_unlock(&b->mu);
		free(j);
		metrics_counter_add(metrics_series_get(sv->f_rejected, (const char *const[]){ slot->name }, 1), 1);
		rc = cairn_error_set(CAIRN_EBUSY, "the queue of model '%s' is full (%zu requests): try again",
				     slot->name, sv->cfg.max_queue);
		goto done;
	}
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	b->queued++;
	b->queued_rows += f->nrows;
	metrics_gauge_set(slot->queue_depth, (double)b->queued);
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return HTTP_ASYNC; /* j owns f, meta and m now */
done:
	serve_frame_release(f);
	json_decref(meta);
	model_put(m);
	return rc;
}
