/* host.h - hosted monitors: the monitors defined in the store (registry/monitors.h), run on a thread of cairn server or cairn serve.
 *
 * Every poll the host lists the monitors through its client (GET
 * /api/cairn/v1/monitors/list), takes the lease of each enabled one it can
 * run (POST .../claim; the lease lasts three polls, at least 3 s, and is
 * renewed every poll), scans its inference log with a runner
 * (monitor/runner.h) from the state stored with it, and records every closed
 * window with the state after it and the incident's event in one call
 * (POST .../record). Nothing blocks a request: the work is on the host's own
 * thread and store connection. A window whose record fails is done again
 * from the stored state; a runner that dies loses its lease, and another
 * host (or the same one after a restart) carries on where the store says.
 *
 * Which monitors a host runs: those whose spec names a log_dir, when the
 * host has no log of its own (cairn server); those whose model is one the
 * host serves (the same URI, or the same name), on the host's log unless
 * the spec names another (cairn serve). The log's records are those of the
 * spec's served_name, else of the served model's name, else of the
 * registered name of a models:/ URI. A host without a retrain function
 * (cairn serve) leaves monitors whose spec asks for retraining to one that
 * has it (cairn server).
 *
 * The reference is the spec's, else the model's training profile; a model
 * reference is resolved again every poll and reloaded when the version it
 * names changes (the alias moved), so windows after a promotion compare
 * with the new version's training data. Problems (no profile, a log that is
 * not there yet, a webhook host not allowed) become "error" events, once
 * per distinct message, and are tried again next poll.
 */
#ifndef CAIRN_MONITOR_HOST_H
#define CAIRN_MONITOR_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"

/* Start retraining for an incident: target is the spec's "retrain". 0 when
 * started; otherwise a cairn error whose message goes into the event. */
typedef int (*monitor_retrain_fn)(void *ctx, const char *monitor, const char *incident, const char *target);

struct monitor_host_model {
	const char *uri;              /* as cairn serve was given it */
	const char *name;             /* its name in the inference log */
};

struct monitor_host_opts {
	const char *tracking_uri;     /* the store: a tracking server ... */
	const char *root;             /* ... or a local data root (when tracking_uri is NULL) */
	const char *who;              /* "server" or "serve": names the lease's owner */
	struct metrics *metrics;      /* the host's /metrics: the gauges go there (borrowed), or NULL */
	const char *log_dir;          /* the host's inference log (cairn serve --log-dir), or NULL */
	const struct monitor_host_model *models;
	size_t nmodels;
	const char *allow_hosts;      /* hosts the webhooks may post to (comma-separated), or NULL: none */
	int64_t poll_ms;              /* (0: 5000) */
	monitor_retrain_fn retrain;   /* NULL: a spec's "retrain" is an error event */
	void *retrain_ctx;
};

struct monitor_host;
/* Everything in o is copied except metrics and retrain_ctx. */
int monitor_host_start(const struct monitor_host_opts *o, struct monitor_host **out);
/* Stop the thread, give the leases back, free. */
void monitor_host_stop(struct monitor_host *h);

#endif
