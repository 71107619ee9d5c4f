/* Unit tests for tracking writes whose commit fails (injected through the
 * store's fault points): the call fails with the commit's error, frees what
 * it built inside the transaction (callers never free the out object of a
 * failed call), and leaves neither the change nor a transaction behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json.h"
#include "store/store.h"
#include "core/fault.h"
#include "tracking/artifact.h"
#include "tracking/logged_model.h"
#include "tracking/tracking.h"

static char dir[64];
static char uri[128];
static struct store_pool *pool;
static struct store *st;
static char *exp_id;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-trkfail-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/t.db", dir);
	cr_assert_eq(store_pool_open(uri, 2, 200, &pool), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_pool_get(pool, &st), 0);
	cr_assert_eq(trk_experiment_create(st, "e", NULL, NULL, &exp_id), 0, "%s", cairn_error_msg());
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	free(exp_id);
	store_pool_put(pool, st);
	store_pool_close(pool);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tracking_commit, .init = setup, .fini = teardown, .timeout = 20);

static int64_t count(const char *sql)
{
	struct store_stmt *q;
	int64_t n;

	cr_assert_eq(store_prepare(st, sql, &q), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_step(q), STORE_ROW);
	n = store_col_int64(q, 0);
	store_reset(q);
	return n;
}

/* The failed call left no transaction: this and another connection can write. */
static void assert_released(void)
{
	struct store *other;

	cr_assert_not(store_in_write(st), "a failed call must not stay inside its transaction");
	cr_assert_eq(store_pool_get(pool, &other), 0);
	cr_assert_eq(store_begin_write(other), 0, "the write lock is still held: %s", cairn_error_msg());
	store_rollback(other);
	store_pool_put(pool, other);
}

static void fail_next_commit(void)
{
	fault_arm_code(FAULT_STORE_COMMIT, 1, 0, CAIRN_EIO);
}

Test(tracking_commit, run_create_frees_the_run)
{
	json_t *run = NULL;

	fail_next_commit();
	cr_assert_eq(trk_run_create(st, exp_id, "u", 0, "r", NULL, &run), CAIRN_EIO);
	cr_assert_null(run, "the run built before the failed commit leaks");
	cr_assert_eq(count("SELECT count(*) FROM runs"), 0);
	assert_released();
	/* and it works once the store does */
	cr_assert_eq(trk_run_create(st, exp_id, "u", 0, "r", NULL, &run), 0, "%s", cairn_error_msg());
	cr_assert_not_null(run);
	json_decref(run);
}

Test(tracking_commit, run_update_frees_the_info)
{
	json_t *run = NULL, *info = NULL;
	char id[64];

	cr_assert_eq(trk_run_create(st, exp_id, "u", 0, "r", NULL, &run), 0);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_object_get(run, "info"), "run_id")));
	json_decref(run);
	fail_next_commit();
	cr_assert_eq(trk_run_update(st, id, "FINISHED", 5, NULL, &info), CAIRN_EIO);
	cr_assert_null(info, "the RunInfo built before the failed commit leaks");
	cr_assert_eq(count("SELECT count(*) FROM runs WHERE status = 'RUNNING' AND end_time IS NULL"), 1);
	assert_released();
}

Test(tracking_commit, log_batch_keeps_nothing)
{
	json_t *run = NULL, *metrics;
	char id[64];

	cr_assert_eq(trk_run_create(st, exp_id, "u", 0, "r", NULL, &run), 0);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_object_get(run, "info"), "run_id")));
	json_decref(run);
	metrics = json_pack("[{s:s,s:f,s:I,s:I}]", "key", "m", "value", 1.0, "timestamp", (json_int_t)1, "step",
			    (json_int_t)0);
	fail_next_commit();
	cr_assert_eq(trk_log_batch(st, id, metrics, NULL, NULL), CAIRN_EIO);
	json_decref(metrics);
	cr_assert_eq(count("SELECT count(*) FROM metrics"), 0);
	assert_released();
}

Test(tracking_commit, experiment_create_hands_back_no_id)
{
	char *id = NULL;

	fail_next_commit();
	cr_assert_eq(trk_experiment_create(st, "f", NULL, NULL, &id), CAIRN_EIO);
	cr_assert_null(id);
	cr_assert_eq(count("SELECT count(*) FROM experiments WHERE name = 'f'"), 0);
	assert_released();
}

Test(tracking_commit, logged_model_create_and_finalize_free_the_model)
{
	json_t *m = NULL, *status = json_string("LOGGED_MODEL_READY");
	char id[64];

	fail_next_commit();
	cr_assert_eq(trk_logged_model_create(st, exp_id, "m", NULL, NULL, NULL, NULL, &m), CAIRN_EIO);
	cr_assert_null(m);
	assert_released();
	cr_assert_eq(trk_logged_model_create(st, exp_id, "m", NULL, NULL, NULL, NULL, &m), 0, "%s", cairn_error_msg());
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_object_get(m, "info"), "model_id")));
	json_decref(m);
	m = NULL;
	fail_next_commit();
	cr_assert_eq(trk_logged_model_finalize(st, id, status, &m), CAIRN_EIO);
	cr_assert_null(m);
	json_decref(status);
	assert_released();
}

Test(tracking_commit, artifact_record_rolls_back)
{
	fail_next_commit();
	cr_assert_eq(art_record(st, "1/r/artifacts/a.txt", "ab", 1), CAIRN_EIO);
	cr_assert_eq(count("SELECT count(*) FROM artifacts"), 0);
	assert_released();
	cr_assert_eq(art_record(st, "1/r/artifacts/a.txt", "ab", 1), 0, "%s", cairn_error_msg());
}

Test(tracking_commit, artifact_delete_rolls_back)
{
	cr_assert_eq(art_record(st, "1/r/artifacts/a.txt", "ab", 1), 0, "%s", cairn_error_msg());
	fail_next_commit();
	cr_assert_eq(art_delete(st, "1/r/artifacts/a.txt"), CAIRN_EIO);
	cr_assert_eq(count("SELECT count(*) FROM artifacts"), 1);
	assert_released();
	cr_assert_eq(art_delete(st, "1/r/artifacts/a.txt"), 0, "%s", cairn_error_msg());
}

Test(tracking_commit, busy_store_is_ebusy_not_a_hang)
{
	json_t *run = NULL;

	fault_arm_code(FAULT_STORE_BEGIN, 1, 0, CAIRN_EBUSY);
	cr_assert_eq(trk_run_create(st, exp_id, "u", 0, "r", NULL, &run), CAIRN_EBUSY);
	cr_assert_null(run);
	assert_released();
}
