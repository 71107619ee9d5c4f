/* metrics.c - the request metrics every cairn server exports: requests by
 * route, method and status, their latency, and what is in flight. */
#include "http/http.h"
#include "core/fault.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_metrics {
	struct metrics_family *requests;  /* counter {route, method, status} */
	struct metrics_family *latency;   /* histogram {route, method} */
	struct http_server *srv;
};

static const char *const known_methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };

/* The method as a label: a known one, else OTHER (clients choose it). */
static const char *method_label(const char *m)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (m && !strcmp(m, known_methods[i]))
			return known_methods[i];
	return "OTHER";
}

static double inflight(void *arg)
{
	return (double)http_server_inflight(arg);
}

static double connections(void *arg)
{
	return (double)http_server_connections(arg);
}

int http_metrics_new(struct metrics *m, const char *prefix, struct http_server *srv, struct http_metrics **out)
{
	static const char *const rl[] = { "route", "method", "status" };
	struct http_metrics *hm = ccalloc(1, sizeof(*hm));
	char name[128];
	int rc;

	if (!hm)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	hm->srv = srv;
	snprintf(name, sizeof(name), "%s_http_requests_total", prefix);
	if ((rc = metrics_counter_new(m, &hm->requests, name, "HTTP requests answered, by route pattern, method and "
							    "status", rl, 3)))
		goto fail;
	snprintf(name, sizeof(name), "%s_http_request_duration_seconds", prefix);
	if ((rc = metrics_hist_new(m, &hm->latency, name, "Time from a request's head to its answer", rl, 2, NULL, 0,
				   METRICS_PER_NS)))
		goto fail;
	snprintf(name, sizeof(name), "%s_http_requests_in_flight", prefix);
	if ((rc = metrics_gauge_fn_new(m, NULL, name, "Requests between their head and their end", inflight, srv)))
		goto fail;
	snprintf(name, sizeof(name), "%s_http_connections_open", prefix);
	if ((rc = metrics_gauge_fn_new(m, NULL, name, "Open client connections", connections, srv)))
		goto fail;
	*out = hm;
	return 0;
fail:
	free(hm);
	return rc;
}

void http_metrics_free(struct http_metrics *hm)
{
	free(hm);
}

void http_metrics_observe(struct http_metrics *hm, const struct http_req *req, const struct http_resp *resp,
			  uint64_t elapsed_ns)
{
	char route[256], status[8];
	const char *labels[3];

	if (!hm)
		return;
	/* the pattern, never the path: a label per path would let clients
	 * create series without bound */
	if (req->route)
		snprintf(route, sizeof(route), "%s%s", req->prefix ? req->prefix : "", req->route->path);
	else
		snprintf(route, sizeof(route), "unmatched");
	snprintf(status, sizeof(status), "%d", resp->status);
	labels[0] = route;
	labels[1] = method_label(req->method);
	labels[2] = status;
	metrics_counter_add(metrics_series_get(hm->requests, labels, 3), 1);
	metrics_hist_observe(metrics_series_get(hm->latency, labels, 2), elapsed_ns);
}

int http_resp_metrics(struct http_resp *resp, struct metrics *m)
{
	int rc;

	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
	buf_clear(&resp->body);
	if ((rc = metrics_render(m, &resp->body)))
		return rc;
	return buf_error(&resp->body);
}
