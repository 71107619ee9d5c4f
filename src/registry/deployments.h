/* deployments.h - the model servers that report to the store: each running
 * `cairn serve` posts, every poll, what it serves and its Prometheus metrics.
 *
 * A deployment is a name ("churn-eu", or the server's address) with:
 *	{"name", "info": {"url", "pid", "started", "models": [{"name", "role",
 *	 "uri", "version"}], ...whatever the server adds},
 *	 "metrics": the exposition text of its /metrics at the last report,
 *	 "reported": ms, "prev_metrics"/"prev_reported": the report before (so a
 *	 reader can tell request rates without keeping history), "first_reported"}
 * The store keeps only the last two reports of each: it holds where models
 * are deployed and how they are doing now, not a time series (that is what
 * Prometheus scraping the server's /metrics is for).
 *
 * Conventions as registry.h: one transaction per call, 0 or a negative
 * CAIRN_E* code with a message, JSON owned by the caller.
 */
#ifndef CAIRN_REGISTRY_DEPLOYMENTS_H
#define CAIRN_REGISTRY_DEPLOYMENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "store/store.h"

#define DEP_MAX_NAME 200
#define DEP_MAX_INFO (64 << 10)
#define DEP_MAX_METRICS (1 << 20)

/* Record a report: info an object, metrics the exposition text (both checked
 * and bounded); the previous report becomes prev_*. */
int dep_report(struct store *st, const char *name, const json_t *info, const char *metrics);
/* Every deployment (with_metrics: the two metrics texts too), most recently reported first. */
int dep_list(struct store *st, bool with_metrics, json_t **out);
/* Forget a deployment (CAIRN_ENOTFOUND when there is none of that name). */
int dep_delete(struct store *st, const char *name);

#endif
