/* serve.h - the model server: MLflow's scoring protocol, the Open Inference
 * Protocol (KServe v2) and Prometheus metrics over loaded models.
 *
 * A struct serve holds named model slots. Each slot serves one loaded
 * version at a time (struct serve_model, refcounted); serve_load() loads a
 * model directory beside whatever the slot serves and switches to it
 * atomically: requests that began on the old version finish on it, and the
 * last of them frees it. A version that fails to load leaves the old one
 * serving. The first slot (or the one marked default) answers
 * /invocations; every slot answers /v2/models/<name>/...
 *
 * Models: the `xgboost` flavor natively (model/xgb.h); every other MLflow
 * flavor with python_function through a pool of Python worker processes
 * (serve/pyworker.h), only with allow_pickle (unpickling is code execution:
 * refused otherwise, naming --allow-pickle).
 *
 * serve_mount() puts the routes on an http_server (see docs/serving.md):
 *   GET /ping, /health, /version; POST /invocations   (MLflow)
 *   GET /v2, /v2/health/live, /v2/health/ready,
 *       /v2/models/{name}[/versions/{v}][/ready]; POST .../infer (OIP)
 *   GET /metrics                                         (Prometheus)
 *
 * Threading: serve_load() may run on any thread while requests are served.
 * Ownership: the serve owns its slots and models; serve_free() after the
 * HTTP server is stopped.
 */
#ifndef CAIRN_SERVE_SERVE_H
#define CAIRN_SERVE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"
#include "http/http.h"

struct serve;

/* What a loaded version does in its slot: answer (primary), take a share of
 * the traffic (canary), or get a copy of every request whose answer is only
 * counted (shadow). */
enum serve_role { SERVE_PRIMARY, SERVE_CANARY, SERVE_SHADOW, SERVE_NROLES };
/* "primary", "canary", "shadow". */
const char *serve_role_name(enum serve_role r);

struct serve_config {
	const char *version;        /* reported by /version and GET /v2 */
	unsigned request_timeout_ms; /* 504 past it (0: 60000, MLflow's MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT) */
	int nthread;                /* predict threads for big batches (0: 1) */
	size_t max_batch;           /* rows one predict call may take from queued requests (0, 1:
	                               no batching: each request predicts on its own thread) */
	unsigned max_queue_delay_us; /* how long a batch waits for more requests (0: none) */
	size_t max_queue;           /* requests waiting for a batch (0: 1024); more are 503 at once */
	const char *sticky_header;  /* requests with this header go to the same variant (NULL: random) */
	const char *log_dir;        /* the inference log (serve/ilog.h); NULL: none */
	double log_sample;          /* share of requests logged (0..1; negative: the default, 1) */
	uint64_t log_max_bytes;     /* the log's disk bound (0: 1 GiB) */
	bool allow_pickle;          /* serve Python flavors through worker processes (serve/pyworker.h):
	                               unpickling a model is running its code */
	const char *python;         /* their interpreter (NULL: /usr/bin/python3) */
	unsigned python_workers;    /* workers per Python model (0: 2) */
};

/* Stop the batchers, answering what they hold: before the HTTP server stops. */
void serve_shutdown(struct serve *sv);

int serve_new(const struct serve_config *cfg, struct serve **out);
void serve_free(struct serve *sv);

/* Load the model directory dir (or a bare model file) as version `version`
 * (NULL: "1") of the slot `name`, creating the slot, and make it the one
 * served. The first slot is the default one (/invocations) unless a later
 * call passes make_default. On failure the slot keeps what it served and
 * the failure is counted on /metrics. */
int serve_load(struct serve *sv, const char *name, const char *version, const char *dir, bool make_default);
/* The same for a role: the canary or shadow of slot `name` (which must
 * exist: load its primary first). */
int serve_load_role(struct serve *sv, const char *name, enum serve_role role, const char *version, const char *dir);
/* The percentage (0..100) of the slot's requests the canary answers. */
int serve_set_canary(struct serve *sv, const char *name, unsigned percent);
/* The version a slot serves now into out (cap bytes); CAIRN_ENOTFOUND for
 * no such slot. */
int serve_current(struct serve *sv, const char *name, char *out, size_t cap);

/* The registry behind GET /metrics (borrowed; lives as long as sv), where
 * others (hosted monitors) may add their own series. */
struct metrics *serve_metrics(struct serve *sv);
/* Mount the routes on s (serve must outlive it). */
int serve_mount(struct serve *sv, struct http_server *s);

/* Score body (of content type ct) with the default model as POST
 * /invocations would, in-process: *status and out get the answer (`cairn
 * serve --check` posts the model's serving_input_example.json this way). */
int serve_invoke(struct serve *sv, const char *ct, const char *body, size_t len, int *status, struct buf *out);

#endif
