/* serve_int.h - private to src/serve: loaded models, slots, the server. */
#ifndef CAIRN_SERVE_SERVE_INT_H
#define CAIRN_SERVE_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/serve.h"
#include "serve/decode.h"
#include "serve/ilog.h"
#include "serve/pyworker.h"
#include "model/mlmodel.h"
#include "model/xgb.h"

enum serve_proto { SERVE_MLFLOW, SERVE_OIP };

/* One loaded model version. Shared by every request that began while it was
 * served: each holds a reference (model_get/model_put). */
struct serve_model {
	_Atomic unsigned refs;
	char *name;                 /* the slot's name */
	char *version;
	char *flavor;               /* "xgboost" */
	char *dir;                  /* where it was loaded from */
	enum serve_role role;
	struct mlmodel *ml;         /* NULL for a bare model file */
	struct xgb_model *xgb;      /* a native model, or */
	struct pyworker_pool *py;   /* a Python one (then in, shape are unused) */
	struct serve_input in;      /* what requests must give (decode.h) */
	struct xgb_shape shape;     /* what predict gives */
	double load_seconds;
};

/* A name requests address; serves one model at a time. */
struct serve_slot {
	char *name;
	pthread_mutex_t mu;         /* guards live (a reference is taken under it) */
	struct serve_model *live[SERVE_NROLES]; /* per role; NULL until its first load succeeds */
	_Atomic unsigned canary_pct; /* share of requests for the canary */
	struct serve_batcher *batcher;      /* NULL when batching is off */
	struct metrics_series *queue_depth; /* requests waiting in the batcher */
	struct metrics_series *rows;        /* rows predicted */
	struct metrics_series *load_failures;
};

#define SERVE_MAX_SLOTS 64

struct serve {
	struct serve_config cfg;
	pthread_mutex_t mu;         /* guards the slot table's growth */
	struct serve_slot *slots[SERVE_MAX_SLOTS];
	_Atomic size_t nslots;
	_Atomic size_t def;         /* the default slot's index */
	pthread_key_t ctx_key;      /* each thread's struct xgb_ctx */
	struct metrics *metrics;
	struct http_metrics *http_metrics;
	struct metrics_family *f_rows, *f_load_failures, *f_info, *f_load_seconds, *f_batch, *f_predict;
	struct metrics_family *f_queue, *f_rejected, *f_timeouts, *f_variant, *f_shadow;
	struct serve_shadow *shadow; /* the shadow queue and thread (NULL until a shadow loads) */
	struct ilog *log;           /* the inference log, or NULL */
	void *log_args;             /* what its metrics' callbacks read (owned) */
	int labels_fd;              /* LOG_DIR/labels.jsonl, appended to by POST /labels; -1: none */
	pthread_mutex_t labels_mu;  /* one append at a time */
	_Atomic uint64_t next_id;   /* generated request ids */
	char id_prefix[17];         /* ... and their per-process random prefix */
};

/* A reference to what slot serves now (NULL when nothing is loaded). */
struct serve_model *model_get(struct serve_slot *slot);
struct serve_model *model_get_role(struct serve_slot *slot, enum serve_role role);
/* The model version that answers req: the canary for its share of requests
 * (by the sticky header's hash when there is one), else the primary. */
struct serve_model *serve_pick(struct serve *sv, struct serve_slot *slot, struct http_req *req);
/* Hand a copy of the request to the slot's shadow, if it has one (never
 * blocks: dropped and counted when the shadow is behind). */
void serve_shadow(struct serve *sv, struct serve_slot *slot, enum serve_proto p, const char *ct, const char *body,
		  size_t len, const char *request_id);
#define SERVE_ID_MAX 64

/* The request's id: its X-Request-ID header (when sane), else a new one,
 * into out (cap bytes, at least 64). */
void serve_request_id(struct serve *sv, struct http_req *req, char *out, size_t cap);
/* Ground truth: open LOG_DIR/labels.jsonl (labels.c), and the POST /labels handler. */
int serve_labels_open(struct serve *sv);
void serve_labels_close(struct serve *sv);
int serve_labels_route(struct http_req *req, struct http_resp *resp);

/* Log one answer (a no-op without a log). */
void serve_log(struct serve *sv, const char *id, const struct serve_model *m, uint64_t start_ns, int status,
	       const char *input, size_t input_n, const char *output, size_t output_n);
void serve_shadow_free(struct serve *sv);
void model_put(struct serve_model *m);
/* The slot of that name, or NULL. */
struct serve_slot *serve_slot_find(struct serve *sv, const char *name);
struct serve_slot *serve_slot_default(struct serve *sv);
/* This thread's prediction context (NULL when out of memory). */
struct xgb_ctx *serve_thread_ctx(struct serve *sv);
/* Predict a decoded frame with m; *out is borrowed from ctx. Counts rows. */
int serve_predict(struct serve *sv, struct serve_slot *slot, struct serve_model *m, const struct serve_frame *f,
		  struct xgb_output *out);
/* A double as Python's json writes it (shortest round trip, "1.0" not "1",
 * NaN, Infinity). */
void serve_put_double(struct buf *b, double v);

/* ---- scoring (batch.c) ---- */

/* Predict the decoded frame f with m and answer resp in protocol p: now, on
 * this thread (batching off, or req NULL: an in-process call), or through
 * the slot's batcher, returning HTTP_ASYNC (req is then finished later). Takes
 * f, meta (OIP: the request's id) and the reference to m in every case. A
 * full queue is CAIRN_EBUSY (503) at once. */
int serve_score(struct serve *sv, struct http_req *req, struct http_resp *resp, enum serve_proto p,
		struct serve_slot *slot, struct serve_model *m, struct serve_frame *f, json_t *meta,
		const char *request_id);
/* Score body through m's Python workers (m->py) and answer resp: later
 * (HTTP_ASYNC) for a served request, now for an in-process one (req NULL).
 * Takes the reference to m. */
int serve_score_python(struct serve *sv, struct http_req *req, struct http_resp *resp, enum serve_proto p,
		       struct serve_model *m, const char *ct, const char *body, size_t len, const char *request_id);
/* The answer bodies: MLflow's {"predictions"}, the OIP infer response. */
int serve_put_mlflow(const struct xgb_output *o, struct buf *b);
int serve_put_oip(const struct serve_model *m, const json_t *meta, const struct xgb_output *out, struct buf *b);
/* MLflow's error body with an explicit error_code. */
void put_error(struct http_resp *resp, const char *code, const char *message);

/* A slot's batcher: requests queue here and one thread predicts them
 * together, up to max_batch rows, waiting up to max_queue_delay_us for more. */
struct serve_batcher;
int serve_batcher_new(struct serve *sv, struct serve_slot *slot, struct serve_batcher **out);
/* Stop the thread: what is queued is answered 503 first. */
void serve_batcher_free(struct serve_batcher *b);

/* Route tables (mlflow.c, oip.c). */
extern const struct http_route serve_mlflow_routes[];
extern const size_t serve_mlflow_nroutes;
extern const struct http_ops serve_mlflow_ops;
extern const struct http_route serve_oip_routes[];
extern const size_t serve_oip_nroutes;
extern const struct http_ops serve_oip_ops;
/* Every mount's after hook: the request metrics. */
void serve_after(struct http_req *req, const struct http_resp *resp, uint64_t elapsed_ns);

#endif
