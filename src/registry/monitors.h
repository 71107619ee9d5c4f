/* monitors.h - the monitors of served models in the store: definitions, the runner's lease and state, windows, events.
 *
 * A monitor is a name and a spec (a JSON object, checked by mon_spec_check):
 *
 *	{"model": "models:/churn@champion",   the model watched (required)
 *	 "window_seconds": 3600 | "window_rows": 1000,   tumbling windows (one of the two)
 *	 "log_dir": "/abs/path",              the inference log (default: the log of the
 *	                                      cairn serve that serves the model)
 *	 "served_name": "churn",              the model's name in that log (default: the
 *	                                      registered name of a models:/ URI)
 *	 "reference": "...",                  default: the model version's training profile
 *	 "drift_share": 0.5, "null_share_threshold": 0.02, "resolve_after": 1,
 *	 "webhook": "http://...",             alerts (the host's allow-list decides)
 *	 "retrain": "DIR[:STAGE]",            a pipeline the host runs when an incident starts
 *	 "experiment": "monitors",            where the monitoring run is kept
 *	 "labels": "/abs/labels.jsonl"}       ground truth (default: LOG_DIR/labels.jsonl)
 *
 * One runner at a time advances a monitor: it claims a lease (owner, until
 * a time), renews it with each claim and record, and releases it when it
 * stops; a lease that ran out may be taken by another runner, so a killed
 * runner's monitor is picked up again. mon_record stores a window, the state
 * after it and the incident's event in one transaction, only for the lease's
 * owner and only as the next window (its index is the number recorded
 * before), so a window is never recorded twice or skipped.
 *
 * Conventions as registry.h: one store connection, one transaction per call,
 * 0 or a negative CAIRN_E* code with a message, JSON owned by the caller.
 * The monitor object: {"name", "spec", "enabled", "creation_time",
 * "last_update_time", "created_by", "windows", "state" (or null), "owner",
 * "lease_until", "firing", "last_window" (a window's summary, or absent)}.
 */
#ifndef CAIRN_REGISTRY_MONITORS_H
#define CAIRN_REGISTRY_MONITORS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define MON_MAX_NAME 64
#define MON_MAX_SPEC 65536        /* bytes of a spec's JSON */
#define MON_MAX_RESULT (8 << 20)  /* bytes of a window's result */
#define MON_MAX_STATE 16384       /* bytes of a runner's state */
#define MON_DEFAULT_PAGE 100
#define MON_MAX_PAGE 10000

/* CAIRN_EINVALID with a message naming the field when spec is not one. */
int mon_spec_check(const json_t *spec);
/* A monitor name: 1..MON_MAX_NAME of letters, digits, '_', '-', '.'. */
int mon_check_name(const char *name);

int mon_create(struct store *st, const char *name, const json_t *spec, const char *user, json_t **out);
/* spec (may be NULL) replaces the fields it names (a null value removes
 * one); enabled < 0 leaves it as it is. A disabled monitor cannot be claimed. */
int mon_update(struct store *st, const char *name, const json_t *spec, int enabled, json_t **out);
int mon_get(struct store *st, const char *name, json_t **out);
/* *out: array of monitor objects, by name. */
int mon_list(struct store *st, json_t **out);
int mon_delete(struct store *st, const char *name);

/* Take or renew the lease of owner for lease_ms from now; *out: the
 * monitor. *claimed is false (and nothing changes) when another owner
 * holds an unexpired lease or the monitor is disabled. */
int mon_claim(struct store *st, const char *name, const char *owner, int64_t lease_ms, bool *claimed, json_t **out);
/* Give the lease up (nothing when owner does not hold it). */
int mon_release(struct store *st, const char *name, const char *owner);
/* Record window number `idx` (= the windows recorded so far) with the state
 * after it and, when event is not NULL, an event ({"event", "incident",
 * ...detail}); renews the lease. window: {"start_us", "end_us", "rows",
 * "dataset_drift", "share", ...}. CAIRN_ECONFLICT when owner does not hold
 * the lease or idx is not the next window. */
int mon_record(struct store *st, const char *name, const char *owner, int64_t lease_ms, int64_t idx,
	       const json_t *window, const json_t *state, const json_t *event);
/* Revise recorded window `idx`: its performance (late labels; NULL or JSON
 * null removes it) and its revision number (> the one stored), with the
 * runner's state after it; renews the lease. CAIRN_ECONFLICT when owner does
 * not hold the lease or the revision is not newer, CAIRN_ENOTFOUND when the
 * window was never recorded. */
int mon_revise(struct store *st, const char *name, const char *owner, int64_t lease_ms, int64_t idx, int64_t revision,
	       const json_t *performance, const json_t *state);
/* An event outside a window (an error the runner met), for the lease's owner. */
int mon_note(struct store *st, const char *name, const char *owner, const json_t *event);

/* Windows, newest first: at most limit (0: MON_DEFAULT_PAGE), below index
 * `before` (< 0: from the newest); full adds each window's whole result. */
int mon_windows(struct store *st, const char *name, int64_t before, int64_t limit, bool full, json_t **out);
/* Events, newest first, at most limit. */
int mon_events(struct store *st, const char *name, int64_t limit, json_t **out);

#endif
