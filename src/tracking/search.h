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
	enum search_dialect dialect; /* SQL flavour to emit; search_sql_init sets SQLite */
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

#endif
