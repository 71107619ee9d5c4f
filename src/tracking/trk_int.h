/* trk_int.h - helpers shared inside the tracking subsystem (not public). */
#ifndef CAIRN_TRACKING_INT_H
#define CAIRN_TRACKING_INT_H

#include "tracking/tracking.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"

/* Run a prepared statement to completion (no rows expected). */
int trk__exec1(struct store *st, const char *sql, const char *const *texts, size_t n);
/* Truncate s to at most max_chars UTF-8 characters into out. */
void trk__truncate_utf8(const char *s, size_t max_chars, struct buf *out);
/* Number of UTF-8 characters in s. */
size_t trk__utf8_len(const char *s);
/* Parse an experiment id string into an integer; CAIRN_EINVALID/ENOTFOUND on junk. */
int trk__parse_exp_id(const char *id, int64_t *out);
/* Append {key, value} objects for rows (key, value) of a prepared statement. */
int trk__kv_rows(struct store_stmt *q, json_t *arr);
/* Finish a write transaction: commit when rc is 0, else roll back; returns
 * rc or the commit's failure (after which the transaction is rolled back). */
int trk__commit_or_rollback(struct store *st, int rc);
/* trk__commit_or_rollback for a function that built *out inside the
 * transaction: on any failure *out is freed and set to NULL, as callers
 * never free an out object of a failed call. */
int trk__commit_or_free(struct store *st, int rc, json_t **out);
/* Load a run's lifecycle ("active"/"deleted"); CAIRN_ENOTFOUND when absent. */
int trk__run_lifecycle(struct store *st, const char *run_id, struct buf *stage, int64_t *exp_id);
/* Validate a run id's form (^[a-zA-Z0-9][\w\-]{0,255}$). */
int trk__validate_run_id(const char *run_id);
/* Build the RunInfo object of the current row of SELECT TRK__RUN_COLS. */
json_t *trk__run_info_row(struct store_stmt *q);

/* Check experiment ids are integers, then append "(?, ?, ...)" (or "(NULL)"
 * when empty) to sql. */
int trk__sql_exp_in(struct buf *sql, const char *const *ids, size_t n);
/* Bind the ids of trk__sql_exp_in from *idx on (advanced). */
void trk__bind_exp_in(struct store_stmt *q, const char *const *ids, size_t n, int *idx);

struct search_sql;
/* Bind a compiled search's values starting at *idx (advanced). */
void trk__bind_search(struct store_stmt *q, const struct search_sql *s, int *idx);
/* Bind only the first n of them (the where clause's: s->nwhere_binds). */
void trk__bind_search_n(struct store_stmt *q, const struct search_sql *s, size_t n, int *idx);
/* Bind s's binds from..to-1 (the terms of an order after its first key). */
void trk__bind_search_range(struct store_stmt *q, const struct search_sql *s, size_t from, size_t to, int *idx);

/* Whole series of at least this many points keep their pyramid after a
 * request reads them (metric.c); shorter ones are sampled from their points
 * each time (<= ~10 ms here), as a pyramid would cost up to 8,192 buckets of
 * space (a few hundred kB) for little. Tests lower it with
 * trk__set_pyramid_min. */
#define TRK_PYRAMID_MIN_POINTS 16384
void trk__set_pyramid_min(int64_t points);

#define TRK__RUN_COLS \
	"r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, " \
	"r.lifecycle_stage, r.artifact_uri"

#endif
