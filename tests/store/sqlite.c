/* Unit tests for the store interface over SQLite: migrations, statements, errors, pool. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/error.h"
#include "store/store.h"

static char dir[64];
static char uri[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/t.db", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store_sqlite, .init = setup, .fini = teardown);

Test(store_sqlite, migrates_and_has_default_experiment)
{
	struct store *s;
	struct store_stmt *q;

	cr_assert_eq(store_open(uri, &s), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_prepare(s, "SELECT name FROM experiments WHERE experiment_id = 0", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_str_eq(store_col_text(q, 0), "Default");
	store_reset(q);
	store_close(s);
	/* reopening does not migrate twice */
	cr_assert_eq(store_open(uri, &s), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_prepare(s, "SELECT count(*) FROM experiments", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_eq(store_col_int64(q, 0), 1);
	store_reset(q);
	store_close(s);
}

Test(store_sqlite, binds_and_reads_types)
{
	struct store *s;
	struct store_stmt *q;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_exec(s, "CREATE TABLE t(a TEXT, b BIGINT, c DOUBLE PRECISION, d TEXT)"), 0);
	cr_assert_eq(store_prepare(s, "INSERT INTO t VALUES (?, ?, ?, ?)", &q), 0);
	store_bind_text(q, 1, "it's \"quoted\"; DROP TABLE t");
	store_bind_int64(q, 2, INT64_MAX);
	store_bind_double(q, 3, 0.25);
	store_bind_text(q, 4, NULL);
	cr_assert_eq(store_step(q), STORE_DONE);
	store_reset(q);
	cr_assert_eq(store_prepare(s, "SELECT a, b, c, d FROM t", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_str_eq(store_col_text(q, 0), "it's \"quoted\"; DROP TABLE t");
	cr_assert_eq(store_col_int64(q, 1), INT64_MAX);
	cr_assert_float_eq(store_col_double(q, 2), 0.25, 1e-12);
	cr_assert(store_col_is_null(q, 3));
	cr_assert_str_eq(store_col_text(q, 3), "");
	cr_assert_eq(store_step(q), STORE_DONE);
	store_reset(q);
	store_close(s);
}

Test(store_sqlite, binds_and_reads_blobs)
{
	static const unsigned char bytes[] = { 0, 1, 0xff, 0, 'x' };
	struct store *s;
	struct store_stmt *q;
	const unsigned char *p;
	size_t n = 99;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_exec(s, "CREATE TABLE b(k INTEGER, v BLOB)"), 0);
	cr_assert_eq(store_prepare(s, "INSERT INTO b VALUES (?, ?)", &q), 0);
	store_bind_int64(q, 1, 1);
	store_bind_blob(q, 2, bytes, sizeof(bytes));
	cr_assert_eq(store_step(q), STORE_DONE);
	store_reset(q);
	store_bind_int64(q, 1, 2);
	store_bind_blob(q, 2, NULL, 0);
	cr_assert_eq(store_step(q), STORE_DONE);
	store_reset(q);
	cr_assert_eq(store_prepare(s, "SELECT v, typeof(v) FROM b ORDER BY k", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	p = store_col_blob(q, 0, &n);
	cr_assert_eq(n, sizeof(bytes));
	cr_assert_arr_eq(p, bytes, sizeof(bytes));
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_str_eq(store_col_text(q, 1), "blob");
	store_col_blob(q, 0, &n);
	cr_assert_eq(n, 0);
	cr_assert_eq(store_step(q), STORE_DONE);
	store_reset(q);
	store_close(s);
}

Test(store_sqlite, unique_violation_is_exists_and_rollback_discards)
{
	struct store *s;
	struct store_stmt *q;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_begin_write(s), 0);
	cr_assert_eq(store_exec(s, "INSERT INTO experiments(name, artifact_location, creation_time, last_update_time) "
				   "VALUES ('x', '', 0, 0)"), 0);
	store_rollback(s);
	cr_assert_eq(store_prepare(s, "SELECT count(*) FROM experiments WHERE name = 'x'", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_eq(store_col_int64(q, 0), 0, "rolled-back insert must not be visible");
	store_reset(q);
	cr_assert_eq(store_prepare(s, "INSERT INTO experiments(name, artifact_location, creation_time, last_update_time) "
				      "VALUES ('Default', '', 0, 0)", &q), 0);
	cr_assert_eq(store_step(q), CAIRN_EEXISTS);
	store_close(s);
}

Test(store_sqlite, bad_sql_is_an_error_not_a_crash)
{
	struct store *s;
	struct store_stmt *q;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_prepare(s, "SELEC nonsense", &q), CAIRN_ERR);
	cr_assert(strstr(cairn_error_msg(), "syntax error"));
	store_close(s);
}

Test(store_sqlite, statement_cache_survives_many_distinct_statements)
{
	struct store *s;
	struct store_stmt *q;
	char sql[64];

	cr_assert_eq(store_open(uri, &s), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		cr_assert_eq(store_prepare(s, sql, &q), 0);
		cr_assert_eq(store_step(q), STORE_ROW);
		cr_assert_eq(store_col_int64(q, 0), i);
		store_reset(q);
	}
	store_close(s);
}

Test(store_sqlite, pool_hands_out_working_connections)
{
	struct store_pool *p;
	struct store *a, *b;
	struct store_stmt *q;

	cr_assert_eq(store_pool_open(uri, 2, 0, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_pool_get(p, &b), 0);
	cr_assert_neq(a, b);
	cr_assert_eq(store_exec(a, "INSERT INTO experiments(name, artifact_location, creation_time, last_update_time) "
				   "VALUES ('y', '', 0, 0)"), 0);
	cr_assert_eq(store_prepare(b, "SELECT count(*) FROM experiments WHERE name = 'y'", &q), 0);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_eq(store_col_int64(q, 0), 1, "committed write visible to another connection");
	store_reset(q);
	store_pool_put(p, a);
	store_pool_put(p, b);
	store_pool_close(p);
}

Test(store_sqlite, refuses_newer_schema)
{
	struct store *s;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_exec(s, "UPDATE schema_version SET version = 9999"), 0);
	store_close(s);
	cr_assert_eq(store_open(uri, &s), CAIRN_ERR);
	cr_assert(strstr(cairn_error_msg(), "newer"));
}

static int64_t one_int(struct store *s, const char *sql)
{
	struct store_stmt *q;
	int64_t v;

	cr_assert_eq(store_prepare(s, sql, &q), 0, "%s: %s", sql, cairn_error_msg());
	cr_assert_eq(store_step(q), STORE_ROW, "%s", sql);
	v = store_col_int64(q, 0);
	store_reset(q);
	return v;
}

/* Migration 6 rebuilds metrics clustered by step: a database of schema 4
 * (its metrics tables as they were) keeps every point, the old uniqueness
 * holds, a series reads in step order through the key with no sort, and
 * latest_metrics has its generation. */
Test(store_sqlite, migration_6_keeps_points_and_orders_them_by_step)
{
	sqlite3 *db;
	struct store *s;
	struct store_stmt *q;
	char path[128];
	int64_t prev = INT64_MIN;
	int rows = 0;

	snprintf(path, sizeof(path), "%s/t.db", dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db,
		"CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (4);"
		"CREATE TABLE runs (run_uuid TEXT PRIMARY KEY);"
		"CREATE TABLE tags (run_uuid TEXT, key TEXT, value TEXT);"
		"CREATE TABLE metrics (run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
		"  key TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,"
		"  timestamp BIGINT NOT NULL, step BIGINT NOT NULL);"
		"CREATE UNIQUE INDEX metrics_points ON metrics(run_uuid, key, timestamp, step, value, is_nan);"
		"CREATE TABLE latest_metrics (run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
		"  key TEXT NOT NULL, value DOUBLE PRECISION NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,"
		"  timestamp BIGINT NOT NULL, step BIGINT NOT NULL, PRIMARY KEY (run_uuid, key));"
		"INSERT INTO runs VALUES ('r');"
		"INSERT INTO metrics VALUES ('r', 'm', 3, 0, 30, 2), ('r', 'm', 1, 0, 10, 9), ('r', 'm', 0, 1, 20, -4),"
		"  ('r', 'm', 2, 0, 5, 2), ('r', 'n', 7, 0, 1, 0);"
		"INSERT INTO latest_metrics VALUES ('r', 'm', 1, 0, 10, 9), ('r', 'n', 7, 0, 1, 0);",
		NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
	cr_assert_eq(store_open(uri, &s), 0, "%s", cairn_error_msg());
	cr_assert_eq(one_int(s, "SELECT version FROM schema_version"), 6);
	cr_assert_eq(one_int(s, "SELECT count(*) FROM metrics"), 5);
	cr_assert_eq(one_int(s, "SELECT sum(gen) FROM latest_metrics"), 0);
	cr_assert_eq(store_exec(s, "INSERT INTO metrics VALUES ('r', 'm', 3, 0, 30, 2)"), CAIRN_EEXISTS);
	cr_assert_eq(store_prepare(s, "SELECT step, timestamp FROM metrics WHERE run_uuid = 'r' AND key = 'm' "
				      "ORDER BY step, timestamp, value, is_nan", &q), 0);
	while (store_step(q) == STORE_ROW) {
		cr_assert_geq(store_col_int64(q, 0), prev);
		prev = store_col_int64(q, 0);
		rows++;
	}
	store_reset(q);
	cr_assert_eq(rows, 4);
	cr_assert_eq(store_prepare(s, "EXPLAIN QUERY PLAN SELECT step, timestamp FROM metrics WHERE run_uuid = 'r' AND "
				      "key = 'm' AND step >= 0 AND step <= 5 ORDER BY step, timestamp, value, is_nan", &q), 0);
	while (store_step(q) == STORE_ROW) {
		const char *detail = store_col_text(q, 3);
		cr_assert(!strstr(detail, "TEMP B-TREE") && !strstr(detail, "SCAN"), "plan: %s", detail);
	}
	store_reset(q);
	store_close(s);
}

Test(store_sqlite, unsupported_uri)
{
	struct store *s;

	cr_assert_eq(store_open("redis://x", &s), CAIRN_EINVALID);
}
