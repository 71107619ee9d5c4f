/* pyworker.h - a supervised pool of long-lived Python processes that serve one
 * MLflow model: every flavor cairn does not run natively (sklearn, any
 * python_function model).
 *
 * Each worker is `python3 -c <script> MODEL_DIR` (the script is embedded in
 * cairn: pyworker_script.c). It imports MLflow, loads the model once with
 * mlflow.pyfunc.load_model(), reports "loaded", then answers one request at
 * a time. MLflow's scoring protocol is answered by MLflow's own code,
 * mlflow.pyfunc.scoring_server.invocations(body, content_type, model,
 * input_schema), and an MlflowException becomes MLflow's error body and status
 * (e.serialize_as_json(), e.get_http_status_code(), as the scoring server's
 * _async_catch_mlflow_exception); any other exception is Starlette's 500
 * "Internal Server Error". So every format, cast and error message is MLflow's
 * by construction, and the content type is the header MLflow's server sends
 * (Starlette adds "; charset=utf-8" to text/ types).
 *
 * The Open Inference Protocol (KServe v2 /infer) is converted in the worker:
 * each input tensor (every datatype, `data` flat or nested, reshaped to
 * `shape`; BYTES as strings) becomes, for a column signature, a pandas
 * DataFrame (one tensor [n, ncols] in the signature's column order, or one
 * tensor [n] or [n, 1] per column, by name); for a tensor signature or none,
 * the numpy array (several: a dict by name; several without a signature: a
 * DataFrame by name). model.predict() then enforces the signature as MLflow
 * does. Its result becomes the outputs: an array or Series is one output
 * "predict", a DataFrame one output per column, a dict one per key, with
 * shape, datatype (BOOL, INT*, UINT*, FP*, else BYTES as strings) and data
 * row-major. The answer is {"model_name", "model_version", "id"?, "outputs"};
 * errors are {"error": "..."}: 400 for a malformed request or a schema
 * violation (MLflow's message), 500 for an exception of the model. Request
 * "parameters" are not passed to the model.
 *
 * Frames (between cairn and a worker, over one Unix socket that is the
 * worker's stdin and stdout; not HTTP): a 4-byte big-endian length N, then N
 * bytes: one line of JSON (the header), "\n", the raw body.
 *   request: {"id": 7, "proto": "mlflow", "content_type": "text/csv"}  + body
 *            {"id": 8, "proto": "oip", "name": "m", "version": "3"}     + body
 *   answer:  {"id": 7, "status": 200, "content_type": "application/json"} + body
 *   first frame of a worker: {"loaded": true, "mlflow": "3.5.2", "python": "3.11.2"}
 *            or {"error": "ModuleNotFoundError: No module named 'x'"}
 * Inside the worker, file descriptor 1 and sys.stdout are pointed at stderr and
 * stdin at /dev/null before the model loads, so the socket carries nothing but
 * frames whatever the model prints. Each line a worker writes to stderr goes to
 * the log, prefixed with its pid (struct pyworker_opts.log).
 *
 * Supervision. One pool thread per worker owns its process: it starts it,
 * waits for "loaded", feeds it requests from the shared queue, and restarts
 * it when it dies. A worker that exits or is killed (os._exit, a segfault,
 * the OOM killer) while answering fails that request with CAIRN_ERR (500),
 * the message naming the pid and the exit status or signal. The request is
 * never retried on another worker: a model may have side effects, and MLflow
 * serves each request at most once (a client may retry; cairn does not). A
 * request not answered within request_timeout_ms of its submission is
 * answered CAIRN_ETIMEDOUT (504, MLflow's "Request processing time exceeded
 * limit"); when a worker was running it, that worker is killed and restarted.
 * A worker that dies before loading or within 10 s of it dies "quickly": it is
 * restarted after a backoff (100 ms, doubling, at most 10 s), and after
 * max_quick_deaths quick deaths in a row it gives up. When every worker has
 * given up the model has failed to load: pyworker_pool_stats() says so and
 * why, queued requests are failed and new ones refused. A worker's process is
 * the leader of its own process group; killing it kills the group (what the
 * model started), and every process is reaped. If cairn itself dies, the
 * workers read end-of-file and exit.
 *
 * Security: loading a pickled model runs the code in the pickle (MLflow's
 * CVE-2024-37052..37060), with cairn's rights. pyworker_pool_new() refuses
 * (CAIRN_EPERM) unless the caller passes allow_pickle, which `cairn serve`
 * sets only when the operator gives --allow-pickle.
 *
 * Threading: pyworker_submit() and pyworker_pool_stats() may be called from
 * any thread. Ownership: the caller owns the pool (pyworker_pool_free).
 */
#ifndef CAIRN_SERVE_PYWORKER_H
#define CAIRN_SERVE_PYWORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pyworker_pool;

struct pyworker_opts {
	const char *model_dir;        /* the MLflow model directory (with MLmodel) */
	bool allow_pickle;            /* the operator allowed Python models (see above); else CAIRN_EPERM */
	const char *python;           /* the interpreter (NULL: /usr/bin/python3) */
	unsigned workers;             /* processes (0: 2) */
	unsigned request_timeout_ms;  /* from submit to answer (0: 60000, MLflow's default) */
	size_t max_queue;             /* requests waiting for a worker (0: 1024); more are CAIRN_EBUSY */
	size_t max_reply;             /* bytes of one answer's body (0: 64 MiB); a larger one is a 500 */
	unsigned start_timeout_ms;    /* for a worker to load the model (0: 300000) */
	unsigned drain_ms;            /* how long pyworker_pool_free lets requests finish (0: 30000) */
	unsigned max_quick_deaths;    /* quick deaths in a row before a worker gives up (0: 5) */
	const char *const *env;       /* "KEY=VALUE" set over cairn's environment (which passes through,
	                                 PYTHONPATH included), NULL-terminated; NULL: none */
	void (*log)(void *ud, int pid, const char *line); /* a line of a worker's stderr, from a pool
	                                 thread (NULL: cairn_log at info, "python worker PID: LINE") */
	void *log_ud;                 /* for log */
};

enum pyworker_proto {
	PYWORKER_MLFLOW,              /* POST /invocations */
	PYWORKER_OIP,                 /* POST /v2/models/NAME[/versions/V]/infer */
};

struct pyworker_req {
	enum pyworker_proto proto;
	const char *content_type;     /* MLFLOW: the Content-Type header as received (NULL: none) */
	const char *model_name;       /* OIP: the answer's model_name (NULL: null) */
	const char *model_version;    /* OIP: the answer's model_version (NULL: null) */
	const char *body;             /* the request body, copied by pyworker_submit */
	size_t len;                   /* its bytes */
};

/* How a request ended (labels for /metrics: pyworker_outcome_name). */
enum pyworker_outcome {
	PYWORKER_OK,                  /* the worker answered 1xx-3xx */
	PYWORKER_CLIENT_ERROR,        /* the worker answered 4xx (MLflow's 400s and 415s) */
	PYWORKER_SERVER_ERROR,        /* the worker answered 5xx */
	PYWORKER_CRASH,               /* the worker died while answering */
	PYWORKER_TIMEOUT,             /* past request_timeout_ms */
	PYWORKER_REJECTED,            /* refused by pyworker_submit (queue full, shutting down, failed) */
	PYWORKER_SHUTDOWN,            /* not answered before pyworker_pool_free gave up */
	PYWORKER_INTERNAL,            /* cairn's side failed (out of memory, a broken frame) */
	PYWORKER_NOUTCOMES
};

struct pyworker_reply {
	int err;                      /* 0: the worker's answer is below; else a CAIRN_E* code:
	                                 CAIRN_ERR (crash, model failed), CAIRN_ETIMEDOUT,
	                                 CAIRN_EBUSY (shutdown), CAIRN_ENOMEM */
	enum pyworker_outcome outcome;
	int status;                   /* err 0: the HTTP status to answer */
	const char *content_type;     /* err 0: the Content-Type to answer */
	const char *body;             /* err 0: the body (not NUL-terminated) */
	size_t len;                   /* its bytes */
	const char *message;          /* err: one line saying what happened */
	int pid;                      /* the worker that ran it (0: none) */
};

/* The borrowed strings of a reply are valid only during the callback. It
 * may submit again; it must not call pyworker_pool_free (it runs on a pool
 * thread that the free joins). */
typedef void (*pyworker_done_fn)(void *ud, const struct pyworker_reply *reply);

/* Start o->workers workers on o->model_dir and wait until each has loaded
 * the model. Fails with CAIRN_EPERM without o->allow_pickle, CAIRN_ENOTFOUND
 * when the interpreter cannot be found, CAIRN_ERR when a worker cannot load
 * the model (the message has Python's error, "ModuleNotFoundError: ...", or
 * the last line the worker wrote to stderr), CAIRN_ETIMEDOUT past
 * start_timeout_ms; nothing is left running then. */
int pyworker_pool_new(const struct pyworker_opts *o, struct pyworker_pool **out);

/* Queue req; done(ud, reply) is called exactly once, from a pool thread (for
 * requests still queued when pyworker_pool_free gives up, from its caller),
 * with the answer or an error. Returns at once: 0, or CAIRN_EBUSY when
 * max_queue requests wait already or the pool is shutting down, CAIRN_ERR
 * when the model has failed, CAIRN_ENOMEM, CAIRN_ETOOBIG for a body over
 * 4 GiB; done is then never called. */
int pyworker_submit(struct pyworker_pool *p, const struct pyworker_req *req, pyworker_done_fn done, void *ud);

struct pyworker_stats {
	unsigned workers;             /* configured */
	unsigned alive;               /* loaded and serving (or ready to) now */
	uint64_t restarts;            /* processes started after the first ones */
	size_t queued;                /* requests waiting for a worker */
	size_t running;               /* requests a worker is answering */
	uint64_t outcomes[PYWORKER_NOUTCOMES]; /* requests ended, by outcome */
	bool failed;                  /* every worker gave up: the model failed to load */
	char failure[256];            /* failed: why */
};

void pyworker_pool_stats(struct pyworker_pool *p, struct pyworker_stats *out);
/* "ok", "client_error", ... (static). */
const char *pyworker_outcome_name(enum pyworker_outcome o);

/* Stop accepting requests, let the queued and running ones finish for up to
 * drain_ms (then answer them CAIRN_EBUSY), close the workers' input (they
 * exit), SIGTERM what is left after 2 s, SIGKILL after 2 s more, reap every
 * process and free the pool. NULL is a no-op. */
void pyworker_pool_free(struct pyworker_pool *p);

/* The worker's Python source (pyworker_script.c). */
extern const char pyworker_script[];

#endif
