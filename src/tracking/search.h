/* search.h - MLflow's search-filter grammar, compiled to parameterised SQL.
 *
 * A filter such as
 *     metrics.auc > 0.9 AND params.lr = '0.01' AND tags.`mlflow.user` LIKE 'a%'
 * and order_by clauses such as "metrics.auc DESC" are parsed and turned into
 * SQL fragments over the schema of src/store/migrate.c. Values are never
 * pasted into the SQL: each literal becomes a '?' with a bind entry, in order.
 * Errors are CAIRN_EINVALID with a message naming the problem (MLflow's
 * INVALID_PARAMETER_VALUE).
 *
 * Runs: the fragments refer to the runs table under the alias `r`
 * (r.run_uuid, r.name, r.status, r.start_time, ...). The caller builds
 *     SELECT ... FROM runs r WHERE r.experiment_id IN (...) AND <lifecycle>
 *       AND (<where>) ORDER BY <order>, r.start_time DESC, r.run_uuid
 * Experiments: alias `e` over the experiments table.
 * Registered models, model versions and logged models: see their functions
 * below; for them `order` is complete (default order and tie-breakers
 * included, never empty), so the caller appends just "ORDER BY <order>".
 * In every case the binds go in order: where's, then order's, then the
 * caller's own (LIMIT, OFFSET) after them.
 *
 * Semantics that differ between SQL engines are resolved per dialect (set
 * search_sql.dialect before compiling; SQLite is the default):
 *   LIKE   is case-sensitive, ILIKE case-insensitive (ASCII only on SQLite);
 *          '%' and '_' are wildcards and a backslash escapes the next
 *          character (PostgreSQL's default), on both engines.
 *   NaN    latest_metrics rows with is_nan = 1 satisfy only '!=' (IEEE).
 * Ordering puts runs lacking the ordered metric, param or tag (and NULL
 * attributes) last in both directions; for metrics NaN sorts after every
 * number and before missing values. Duplicate order_by keys are rejected.
 */
#ifndef CAIRN_TRACKING_SEARCH_H
#define CAIRN_TRACKING_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum search_dialect { SEARCH_DIALECT_SQLITE, SEARCH_DIALECT_POSTGRES };

enum search_bind_type { SEARCH_BIND_TEXT, SEARCH_BIND_DOUBLE, SEARCH_BIND_INT64 };

struct search_bind {
	enum search_bind_type type;
	char *text;     /* owned, for SEARCH_BIND_TEXT */
	double d;
	int64_t i;
};

struct search_sql {
	struct buf where;           /* "1=1" when the filter is empty */
	struct buf order;           /* "" when no order_by given */
	struct search_bind *binds;  /* where's binds first, then order's */
	size_t nbinds;
	size_t nwhere_binds;        /* how many of binds belong to where */
	enum search_dialect dialect; /* SQL flavour to emit; search_sql_init sets SQLite */
	/* Runs, when the order starts with a metric, param or tag key: the
	 * key (owned) and its kind, so the caller may read the runs in
	 * index order instead of sorting them all: runs with a value by value
	 * (for a metric: numbers, then NaN), then runs without it, each part by
	 * start_time DESC, run_uuid ASC as <order> does. */
	char *order_key;
	enum search_order_kind { SEARCH_ORDER_METRIC = 1, SEARCH_ORDER_PARAM, SEARCH_ORDER_TAG } order_kind;
	bool order_asc;
	/* When order_key leads a longer order: where the terms after it start
	 * in <order> (0: there are none) and their first bind's index, so a
	 * part read in the key's order sorts its ties by the rest. */
	size_t order_rest;
	size_t order_rest_bind;
};

void search_sql_init(struct search_sql *q);
/* Free what a compile produced; q stays initialised (its dialect is kept). */
void search_sql_release(struct search_sql *q);

/* Compile a runs filter (may be NULL or "") and order_by list into `out`,
 * which must be initialised; its previous contents are released first. On
 * failure `out` is left empty and the code (CAIRN_EINVALID for bad input) is
 * returned with a message recorded. */
int search_compile_runs(const char *filter, const char *const *order_by, size_t n_order,
			struct search_sql *out);
/* Compile an experiments filter and order_by list. */
int search_compile_experiments(const char *filter, const char *const *order_by, size_t n_order,
			       struct search_sql *out);

/* Registered models (SearchRegisteredModels). Alias `m` over
 * registered_models; the caller builds
 *     SELECT ... FROM registered_models m WHERE (<where>) ORDER BY <order>
 * Filter: name (= != LIKE ILIKE), tags.<key> / tag.<key> (= != LIKE ILIKE,
 * over registered_model_tags with model = m.id); entity types attribute, tag,
 * tags. Prompts are hidden as MLflow does: <where> also requires that the
 * model carry no tag mlflow.prompt.is_prompt = 'true', unless the first
 * clause on that tag is "= 'true'" or "!= 'false'" (value in any case);
 * otherwise the clauses on that tag are ignored. So <where> is never "1=1".
 * order_by (MLflow's SQL store): name, timestamp, last_updated_timestamp
 * [ASC|DESC], the two latter both on m.last_updated_time (creation_timestamp
 * is refused, as MLflow's server does). <order> ends with "m.name ASC" unless
 * name was ordered on. */
int search_compile_registered_models(const char *filter, const char *const *order_by, size_t n_order,
				     struct search_sql *out);
/* Model versions (SearchModelVersions). Alias `v` over model_versions and `m`
 * over registered_models; the caller builds
 *     SELECT ... FROM model_versions v JOIN registered_models m ON m.id = v.model
 *       WHERE <its own conditions, e.g. v.current_stage != 'Deleted_Internal'>
 *       AND (<where>) ORDER BY <order>
 * Filter: name (m.name), run_id (v.run_id; also IN a list, whose entries not
 * in lower case are dropped as MLflow does; NOT IN is refused as by MLflow),
 * source_path (v.source), all with = != LIKE ILIKE; version_number (v.version,
 * numeric comparators; a quoted number is taken as the number); tags.<key>
 * (model_version_tags, model = v.model AND version = v.version). Prompts are
 * hidden as for registered models, by the version tags: every version of a
 * model any of whose versions is tagged mlflow.prompt.is_prompt = 'true'.
 * order_by: name, version_number, creation_timestamp, last_updated_timestamp;
 * none given means "last_updated_timestamp DESC, name ASC, version_number
 * DESC". <order> then ends with "m.name ASC" and "v.version DESC" unless
 * those were ordered on. */
int search_compile_model_versions(const char *filter, const char *const *order_by, size_t n_order,
				  struct search_sql *out);
/* MLflow 3 logged models (SearchLoggedModels). Alias `lm` over logged_models;
 * the caller builds
 *     SELECT ... FROM logged_models lm WHERE lm.experiment_id IN (...)
 *       AND lm.lifecycle_stage = 'active' AND (<where>) ORDER BY <order>
 * Filter (entity types attributes, metrics, params, tags, as MLflow's SQL
 * store): string attributes name, model_id, model_type, source_run_id, status
 * (= != LIKE ILIKE IN NOT IN, lists allowed); numeric creation_time /
 * creation_timestamp (lm.creation_time), last_updated_time /
 * last_updated_timestamp (lm.last_updated_time); metrics.<key> (numeric; the
 * latest value in logged_model_metrics: greatest timestamp, then step; NaN
 * satisfies only !=); params.<key>, tags.<key> (as string attributes). status
 * compares MLflow's short names READY, PENDING, FAILED, UNSPECIFIED (the
 * stored LOGGED_MODEL_* names and 0-3 are taken as those). The request's
 * `datasets` filter is search_compile_logged_models_scoped's.
 * order_by entries are "<field_name> [ASC|DESC]" (ASC by default), made by
 * the API layer from MLflow's {field_name, ascending} objects; field_name is
 * taken verbatim (no quoting): an attribute key above or metrics.<key>
 * (dataset_name / dataset_digest are not supported). NULLs (and rows lacking
 * the metric) sort last, NaN metrics just before them; status sorts in enum
 * order (UNSPECIFIED, PENDING, READY, FAILED). <order> ends with
 * "lm.creation_time DESC" and "lm.model_id ASC" unless those were ordered on. */
int search_compile_logged_models(const char *filter, const char *const *order_by, size_t n_order,
				 struct search_sql *out);
/* The same with every metrics.<key> (in the filter and in order_by) read from
 * lm_scope, the metric rows of the request's `datasets`, which the caller's
 * SQL defines in a WITH clause. */
int search_compile_logged_models_scoped(const char *filter, const char *const *order_by, size_t n_order,
					struct search_sql *out);

#endif
