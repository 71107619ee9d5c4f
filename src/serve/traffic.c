/* traffic.c - splitting a model's traffic: the canary's share (random, or
 * sticky by a request header's hash) and the shadow, which scores a copy of
 * every request on a thread of its own and whose answers are only counted. */
#include "serve/serve_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small per-thread generator (xorshift64*), seeded from the thread's
 * address and the clock: the split needs no cryptographic quality. */
static unsigned pick_random(void)
{
	static _Thread_local uint64_t s;

	if (!s)
		s = (metrics_now_ns() ^ (uint64_t)(uintptr_t)&s) | 1;
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (unsigned)((s * 0x2545F4914F6CDD1Dull) >> 33);
}

/* FNV-1a of a header value: the same value, the same variant. */
static unsigned pick_sticky(const char *v)
{
	uint32_t h = 2166136261u;

	for (; *v; v++)
		h = (h ^ (unsigned char)*v) * 16777619u;
	return h;
}

struct serve_model *serve_pick(struct serve *sv, struct serve_slot *slot, struct http_req *req)
{
	unsigned pct = atomic_load(&slot->canary_pct);
	const char *key = NULL;
	struct serve_model *m = NULL;

	if (pct) {
		if (sv->cfg.sticky_header && req)
			key = http_req_header(req, sv->cfg.sticky_header);
		if ((key ? pick_sticky(key) : pick_random()) % 100 < pct)
			m = model_get_role(slot, SERVE_CANARY);
	}
	if (!m)
		m = model_get(slot); /* also when the canary is not loaded (yet) */
	if (m && pct) {
		const char *labels[2] = { slot->name, serve_role_name(m->role) };
		metrics_counter_add(metrics_series_get(sv->f_variant, labels, 2), 1);
	}
	return m;
}

/* ---- the shadow ---- */

#define SHADOW_QUEUE 256   /* copies waiting; more are dropped */

struct shadow_job {
	struct shadow_job *next;
	struct serve_slot *slot;
	enum serve_proto proto;
	char *ct;      /* owned; may be NULL */
	char *body;    /* owned */
	size_t len;
	uint64_t start_ns;
	char id[SERVE_ID_MAX];
};

struct serve_shadow {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct shadow_job *head, *tail;
	size_t queued;
	bool stop;
	pthread_t thread;
};

static void count(struct serve *sv, struct serve_slot *slot, const char *outcome)
{
	const char *labels[2] = { slot->name, outcome };

	metrics_counter_add(metrics_series_get(sv->f_shadow, labels, 2), 1);
}

static void job_free(struct shadow_job *j)
{
	free(j->ct);
	free(j->body);
	free(j);
}

/* Score one copy with the slot's shadow, as the primary would have. */
static void shadow_run(struct serve *sv, struct shadow_job *j)
{
	struct serve_model *m = model_get_role(j->slot, SERVE_SHADOW);
	struct serve_frame f = SERVE_FRAME_INIT;
	struct xgb_output out;
	int rc;

	if (!m)
		return;
	if (m->py) { /* a Python shadow is not supported: counted, never run */
		count(sv, j->slot, "error");
		model_put(m);
		return;
	}
	rc = j->proto == SERVE_MLFLOW ? serve_decode_mlflow(&m->in, j->ct, j->body, j->len, &f)
				      : serve_decode_oip(&m->in, j->body, j->len, &f, NULL);
	if (!rc)
		rc = serve_predict(sv, j->slot, m, &f, &out);
	count(sv, j->slot, rc ? "error" : "ok");
	if (!rc && sv->log) {
		/* both answers are logged: this one under the primary's request id */
		struct buf b = BUF_INIT;
		if (!(j->proto == SERVE_MLFLOW ? serve_put_mlflow(&out, &b) : serve_put_oip(m, NULL, &out, &b)))
			serve_log(sv, j->id, m, j->start_ns, 200, j->body, j->len, b.ptr, b.len);
		buf_release(&b);
	}
	if (rc)
		cairn_log(LOG_DEBUG, "serve: shadow %s of '%s': %s", m->version, j->slot->name, cairn_error_msg());
	serve_frame_release(&f);
	model_put(m);
}

static void *shadow_main(void *arg)
{
	struct serve *sv = arg;
	struct serve_shadow *sh = sv->shadow;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		struct shadow_job *j;

		while (!sh->stop && !sh->head)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (sh->stop)
			break;
		j = sh->head;
		sh->head = j->next;
		if (!sh->head)
			sh->tail = NULL;
		sh->queued--;
		pthread_mutex_unlock(&sh->mu);
		shadow_run(sv, j);
		job_free(j);
		pthread_mutex_lock(&sh->mu);
	}
	pthread_mutex_unlock(&sh->mu);
	return NULL;
}

/* The shadow thread, started with the first shadow (under sv->mu). */
static struct serve_shadow *shadow_start(struct serve *sv)
{
	struct serve_shadow *sh;

	pthread_mutex_lock(&sv->mu);
	if ((sh = sv->shadow)) {
		pthread_mutex_unlock(&sv->mu);
		return sh;
	}
	if ((sh = ccalloc(1, sizeof(*sh)))) {
		pthread_mutex_init(&sh->mu, NULL);
		pthread_cond_init(&sh->cv, NULL);
		sv->shadow = sh;
		if (pthread_create(&sh->thread, NULL, shadow_main, sv)) {
			pthread_cond_destroy(&sh->cv);
			pthread_mutex_destroy(&sh->mu);
			free(sh);
			sh = sv->shadow = NULL;
		}
	}
	pthread_mutex_unlock(&sv->mu);
	return sh;
}

void serve_shadow(struct serve *sv, struct serve_slot *slot, enum serve_proto p, const char *ct, const char *body,
		  size_t len, const char *request_id)
{
	struct serve_shadow *sh;
	struct shadow_job *j;

	pthread_mutex_lock(&slot->mu);
	bool has = slot->live[SERVE_SHADOW] != NULL;
	pthread_mutex_unlock(&slot->mu);
	if (!has)
		return;
	if (!(sh = shadow_start(sv)) || !(j = ccalloc(1, sizeof(*j)))) {
		count(sv, slot, "dropped");
		return;
	}
	j->slot = slot;
	j->proto = p;
	j->len = len;
	j->start_ns = metrics_now_ns();
	snprintf(j->id, sizeof(j->id), "%s", request_id ? request_id : "");
	if ((ct && !(j->ct = cstrdup(ct))) || !(j->body = cmalloc(len + 1))) {
		job_free(j);
		count(sv, slot, "dropped");
		return;
	}
	memcpy(j->body, body, len);
	j->body[len] = '\0';
	pthread_mutex_lock(&sh->mu);
	if (sh->queued >= SHADOW_QUEUE) {
		pthread_mutex_unlock(&sh->mu);
		job_free(j);
		count(sv, slot, "dropped");
		return;
	}
	if (sh->tail)
		sh->tail->next = j;
	else
		sh->head = j;
	sh->tail = j;
	sh->queued++;
	pthread_cond_signal(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
}

void serve_shadow_free(struct serve *sv)
{
	struct serve_shadow *sh = sv->shadow;
	struct shadow_job *j, *next;

	if (!sh)
		return;
	pthread_mutex_lock(&sh->mu);
	sh->stop = true;
	pthread_cond_signal(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	pthread_join(sh->thread, NULL);
	for (j = sh->head; j; j = next) {
		next = j->next;
		job_free(j);
	}
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
	sv->shadow = NULL;
}
