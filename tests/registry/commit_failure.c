/* Unit tests for registry writes whose commit fails (injected through the
 * store's fault points): the call fails with the commit's error, frees the
 * RegisteredModel or ModelVersion it built inside the transaction, and
 * leaves neither the change nor a transaction behind. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json.h"
#include "registry/registry.h"
#include "store/store.h"
#include "core/fault.h"

static char dir[64];
static char uri[128];
static struct store_pool *pool;
static struct store *st;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-regfail-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/t.db", dir);
	cr_assert_eq(store_pool_open(uri, 2, 200, &pool), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_pool_get(pool, &st), 0);
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	store_pool_put(pool, st);
	store_pool_close(pool);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(registry_commit, .init = setup, .fini = teardown, .timeout = 20);

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

static void make_model(const char *name)
{
	json_t *o = NULL;

	cr_assert_eq(reg_model_create(st, name, NULL, NULL, &o), 0, "%s", cairn_error_msg());
	json_decref(o);
}

static void make_version(const char *name)
{
	struct reg_version_new v = { .name = name, .source = "mlflow-artifacts:/1/r/artifacts/model" };
	json_t *o = NULL;

	cr_assert_eq(reg_version_create(st, &v, &o), 0, "%s", cairn_error_msg());
	json_decref(o);
}

Test(registry_commit, model_create_frees_the_model)
{
	json_t *o = NULL;

	fail_next_commit();
	cr_assert_eq(reg_model_create(st, "m", NULL, "d", &o), CAIRN_EIO);
	cr_assert_null(o, "the RegisteredModel built before the failed commit leaks");
	cr_assert_eq(count("SELECT count(*) FROM registered_models"), 0);
	assert_released();
}

Test(registry_commit, model_rename_and_update_free_the_model)
{
	json_t *o = NULL;

	make_model("m");
	fail_next_commit();
	cr_assert_eq(reg_model_rename(st, "m", "n", "u", &o), CAIRN_EIO);
	cr_assert_null(o);
	cr_assert_eq(count("SELECT count(*) FROM registered_models WHERE name = 'm'"), 1);
	assert_released();
	fail_next_commit();
	cr_assert_eq(reg_model_update(st, "m", "new description", &o), CAIRN_EIO);
	cr_assert_null(o);
	cr_assert_eq(count("SELECT count(*) FROM registered_models WHERE description = 'new description'"), 0);
	assert_released();
}

Test(registry_commit, version_create_frees_the_version_and_keeps_the_number)
{
	struct reg_version_new v = { .name = "m", .source = "mlflow-artifacts:/1/r/artifacts/model" };
	json_t *o = NULL;

	make_model("m");
	fail_next_commit();
	cr_assert_eq(reg_version_create(st, &v, &o), CAIRN_EIO);
	cr_assert_null(o, "the ModelVersion built before the failed commit leaks");
	cr_assert_eq(count("SELECT count(*) FROM model_versions"), 0);
	assert_released();
	/* the number allocated in the failed transaction is not used up */
	cr_assert_eq(reg_version_create(st, &v, &o), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(json_string_value(json_object_get(o, "version")), "1");
	json_decref(o);
}

Test(registry_commit, version_update_and_transition_free_the_version)
{
	json_t *o = NULL;

	make_model("m");
	make_version("m");
	fail_next_commit();
	cr_assert_eq(reg_version_update(st, "m", "1", "new description", &o), CAIRN_EIO);
	cr_assert_null(o);
	assert_released();
	fail_next_commit();
	cr_assert_eq(reg_version_transition(st, "m", "1", "Production", false, "u", &o), CAIRN_EIO);
	cr_assert_null(o);
	cr_assert_eq(count("SELECT count(*) FROM model_versions WHERE current_stage = 'None'"), 1);
	assert_released();
}

Test(registry_commit, alias_set_rolls_back)
{
	make_model("m");
	make_version("m");
	fail_next_commit();
	cr_assert_eq(reg_alias_set(st, "m", "champion", "1", "u"), CAIRN_EIO);
	cr_assert_eq(count("SELECT count(*) FROM registered_model_aliases"), 0);
	assert_released();
}
