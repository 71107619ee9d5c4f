/* runner.h - one monitor over its windows: gauges, the monitoring run, incidents and their alerts.
 *
 * monitor_scan (monitor.h) finds the windows; a runner decides what each
 * one means and does it, in this order: the gauges are set, the window's
 * results are logged as metrics (step = window number) of the monitor's
 * tracking run, the incident state moves (hysteresis: an incident starts
 * with a window with dataset drift and is resolved after resolve_after
 * windows without), an alert goes to the webhook when an incident starts or
 * ends, the on_firing hook runs when one starts, and last the caller's
 * report callback sees the window, the alert and the state after it.
 *
 * A window counts only when all of that succeeded: when logging the run or
 * the report callback fails, the state (position, incident, step) is put
 * back as it was before the window, the scan stops with the error, and the
 * next scan does the window again. Alerts are therefore delivered at least
 * once: a window redone after a failure (or after a crash before its state
 * was saved) may alert again.
 *
 * Labels that arrive late: the state remembers the last MONITOR_RECENT
 * windows (where their records are, how many rows were labelled). When the
 * labels file has grown since the last scan, each remembered window that
 * ended less than label_horizon_us ago is scored again
 * (monitor_performance); one whose performance changed is revised: the
 * performance gauges follow when it is the last window, its performance.*
 * metrics are logged again at its step, and the revise callback sees it.
 * A revision that fails is put back and tried at the next scan.
 *
 * The state is all a runner needs to resume; it travels as JSON
 * ({"seq", "offset", "line", "firing", "incident", "since_us", "clear",
 * "run_id", "step", "labels_size", "recent": [...]}) in a state file
 * (`cairn monitor run --state`) or in the store (hosted monitors,
 * monitor/host.h); at most MONITOR_STATE_MAX bytes.
 */
#ifndef CAIRN_MONITOR_RUNNER_H
#define CAIRN_MONITOR_RUNNER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "client/webhook.h"
#include "core/util.h"
#include "monitor/monitor.h"

#define MONITOR_RECENT 32
#define MONITOR_STATE_MAX 16384

/* A window a late label may still revise. */
struct monitor_recent {
	uint64_t index;                 /* its number (the step it was logged at) */
	struct ilog_pos start, end;     /* its records in the log */
	int64_t end_us;
	uint64_t requests;              /* its records (checked when read again) */
	uint64_t labelled;              /* rows with a label when last scored */
	double score;                   /* accuracy or rmse when last scored (NaN: none) */
	unsigned revision;              /* times revised */
};

struct monitor_state {
	struct ilog_pos pos;            /* just past the last window reported */
	bool firing;                    /* an incident is open */
	char incident[CAIRN_ID_LEN + 1];
	int64_t since_us;               /* the start of the incident's first window */
	unsigned clear;                 /* windows without drift since its last drifted one */
	char run_id[64];                /* the monitoring run ("" until the first window) */
	uint64_t step;                  /* windows reported so far */
	uint64_t labels_size;           /* bytes of the labels file at the last scan */
	unsigned nrecent;
	struct monitor_recent recent[MONITOR_RECENT];   /* oldest first */
};

/* The state as JSON (new reference; NULL when out of memory), and back:
 * CAIRN_EINVALID when j is not a state (what names it in the message). */
json_t *monitor_state_json(const struct monitor_state *s);
int monitor_state_parse(const json_t *j, const char *what, struct monitor_state *s);

/* What one window did, for the report callback (all borrowed). */
struct monitor_report {
	const struct monitor_window *w;
	bool drift;                     /* the window has dataset drift */
	const char *event;              /* "firing", "resolved" or NULL: the incident's change */
	const json_t *alert;            /* with event: the alert's body (what the webhook got) */
	bool delivered;                 /* with event and a webhook: it answered 2xx */
	long hook_status;               /* its last HTTP status (0: none) */
	const char *hook_error;         /* why it was not delivered, or NULL */
};

typedef int (*monitor_report_fn)(void *ctx, const struct monitor_report *rep, const struct monitor_state *after);

/* A window scored again because labels came after it was reported (borrowed). */
struct monitor_revision {
	uint64_t index;                 /* the window's number */
	unsigned revision;              /* 1 for its first revision */
	int64_t end_us;
	const json_t *performance;      /* its performance now */
};

typedef int (*monitor_revise_fn)(void *ctx, const struct monitor_revision *rv, const struct monitor_state *after);
typedef void (*monitor_firing_fn)(void *ctx, const char *monitor, const char *incident);

struct monitor_runner_opts {
	const char *name;               /* the monitor's name (metrics, alerts, the run's name) */
	struct monitor_gauges *gauges;  /* set per window, or NULL */
	struct client *cl;              /* with experiment: the store of the monitoring run */
	const char *experiment;         /* log each window in a run of this experiment (created), or NULL */
	struct webhook_opts hook;       /* alerts (url NULL: none; checked with webhook_check by the caller) */
	unsigned resolve_after;         /* windows without drift that resolve an incident (0: 1) */
	monitor_firing_fn on_firing;    /* called when an incident starts, or NULL */
	void *firing_ctx;
	int64_t label_horizon_us;       /* revise windows that ended this recently (0: one day; < 0: never) */
	monitor_revise_fn on_revise;    /* called for each revised window, or NULL */
	void *revise_ctx;
};

/* Everything borrowed from o must outlive the runner. */
struct monitor_runner;
int monitor_runner_new(const struct monitor_runner_opts *o, const struct monitor_state *start, struct monitor_runner **out);
void monitor_runner_free(struct monitor_runner *r);
/* Scan the log in dir from the runner's position (monitor_scan with mo),
 * doing the above for each window and then calling fn (may be NULL); then,
 * with mo->labels, revise the windows late labels changed. */
int monitor_runner_scan(struct monitor_runner *r, const char *dir, const struct monitor_opts *mo, bool flush,
			monitor_report_fn fn, void *ctx);
const struct monitor_state *monitor_runner_state(const struct monitor_runner *r);

#endif
