/* tests/tracking/run.c - runs' and logged models' artifact URIs under their experiment's location. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/store.h"
#include "tracking/artifact.h"
#include "tracking/logged_model.h"
#include "tracking/tracking.h"

static struct store *db;

static void setup(void)
{
	cr_assert_eq(store_open("sqlite::memory:", &db), 0, "store_open: %s", cairn_error_msg());
}

static void teardown(void)
{
	store_close(db);
	db = NULL;
}

TestSuite(tracking_run, .init = setup, .fini = teardown);

static char *new_experiment(const char *name, const char *location)
{
	char *id = NULL;

	cr_assert_eq(trk_experiment_create(db, name, location, NULL, &id), 0, "%s", cairn_error_msg());
	return id;
}

static char *run_uri(const char *exp)
{
	json_t *run = NULL;
	char *uri;

	cr_assert_eq(trk_run_create(db, exp, "u", 1, NULL, NULL, &run), 0, "%s", cairn_error_msg());
	uri = strdup(json_string_value(json_object_get(json_object_get(run, "info"), "artifact_uri")));
	json_decref(run);
	return uri;
}

/* "mlflow-artifacts:/" + run id must not become "mlflow-artifacts://<id>/...",
 * which reads as host <id> and path "artifacts", shared by every run. */
Test(tracking_run, artifact_uri_under_a_bare_root_location_is_per_run)
{
	static const struct { const char *loc, *prefix; } cases[] = {
		{ "mlflow-artifacts:/", "mlflow-artifacts:/" },
		{ "mlflow-artifacts:/base/", "mlflow-artifacts:/base/" },
		{ "mlflow-artifacts:/base", "mlflow-artifacts:/base/" },
		{ "mlflow-artifacts://host:5000/base", "mlflow-artifacts://host:5000/base/" },
		{ "mlflow-artifacts://host:5000", "mlflow-artifacts://host:5000/" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32], *exp, *a, *b, expect[128];
		struct buf pa = BUF_INIT, pb = BUF_INIT;
		json_t *run = NULL;

		snprintf(name, sizeof(name), "e%zu", i);
		exp = new_experiment(name, cases[i].loc);
		a = run_uri(exp);
		b = run_uri(exp);
		cr_assert_eq(trk_run_create(db, exp, "u", 1, NULL, NULL, &run), 0);
		json_decref(run);
		cr_assert_eq(strncmp(a, cases[i].prefix, strlen(cases[i].prefix)), 0, "%s: %s", cases[i].loc, a);
		snprintf(expect, sizeof(expect), "%s%.32s/artifacts", cases[i].prefix, a + strlen(cases[i].prefix));
		cr_assert_str_eq(a, expect, "%s", cases[i].loc);
		cr_assert_eq(art_uri_to_path(a, &pa), 0, "%s", cairn_error_msg());
		cr_assert_eq(art_uri_to_path(b, &pb), 0, "%s", cairn_error_msg());
		cr_assert_str_neq(pa.ptr, pb.ptr, "two runs share the artifact folder '%s'", pa.ptr);
		cr_assert(strstr(pa.ptr, "/artifacts") && strlen(pa.ptr) > strlen("artifacts"), "%s", pa.ptr);
		buf_release(&pa);
		buf_release(&pb);
		free(a);
		free(b);
		free(exp);
	}
}

Test(tracking_run, logged_model_location_under_a_bare_root_location)
{
	char *exp = new_experiment("lm", "mlflow-artifacts:/");
	json_t *m = NULL;
	const char *uri;

	cr_assert_eq(trk_logged_model_create(db, exp, "model", NULL, NULL, NULL, NULL, &m), 0, "%s",
		     cairn_error_msg());
	uri = json_string_value(json_object_get(json_object_get(m, "info"), "artifact_uri"));
	cr_assert(!strncmp(uri, "mlflow-artifacts:/models/m-", 27), "%s", uri);
	json_decref(m);
	free(exp);
}

/* A location this server does not proxy is the client's choice: bad input
 * (400), not "not implemented" (501). */
Test(tracking_run, unserved_location_is_invalid_not_unsupported)
{
	struct buf p = BUF_INIT;

	cr_assert_eq(art_uri_to_path("s3://bucket/1/abc/artifacts", &p), CAIRN_EINVALID);
	cr_assert_eq(art_uri_to_path("file:///tmp/x", &p), CAIRN_EINVALID);
	buf_release(&p);
}

static void log_points(const char *run, const char *json)
{
	json_error_t e;
	json_t *m = json_loads(json, 0, &e);

	cr_assert_not_null(m, "%s", e.text);
	cr_assert_eq(trk_log_batch(db, run, m, NULL, NULL), 0, "%s", cairn_error_msg());
	json_decref(m);
}

static void latest_is(const char *run, const char *key, int64_t gen, int64_t step, int64_t ts, double v)
{
	struct store_stmt *q;

	cr_assert_eq(store_prepare(db, "SELECT gen, step, timestamp, value FROM latest_metrics WHERE run_uuid = ? AND "
				       "key = ?", &q), 0);
	store_bind_text(q, 1, run);
	store_bind_text(q, 2, key);
	cr_assert_eq(store_step(q), STORE_ROW);
	cr_assert_eq(store_col_int64(q, 0), gen, "%s: gen %lld", key, (long long)store_col_int64(q, 0));
	cr_assert_eq(store_col_int64(q, 1), step, "%s: step %lld", key, (long long)store_col_int64(q, 1));
	cr_assert_eq(store_col_int64(q, 2), ts);
	cr_assert_eq(store_col_double(q, 3), v);
	store_reset(q);
}

/* Every batch writing a key bumps that series' generation once (what retires
 * its cached buckets), whether or not its latest value changes; the latest
 * value still follows MLflow's order (step, then timestamp, then value). */
Test(tracking_run, log_batch_bumps_the_generation_of_each_key_written)
{
	json_t *run = NULL;
	char *exp = new_experiment("gen", NULL);
	char id[64];

	cr_assert_eq(trk_run_create(db, exp, "u", 1, NULL, NULL, &run), 0, "%s", cairn_error_msg());
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(json_object_get(run, "info"), "run_id")));
	json_decref(run);
	free(exp);
	log_points(id, "[{\"key\":\"a\",\"value\":1,\"timestamp\":10,\"step\":5},{\"key\":\"b\",\"value\":1,\"timestamp\":1,"
		       "\"step\":0},{\"key\":\"a\",\"value\":0,\"timestamp\":11,\"step\":4}]");
	latest_is(id, "a", 0, 5, 10, 1);
	latest_is(id, "b", 0, 0, 1, 1);
	/* older: the latest value stays, the generation moves */
	log_points(id, "[{\"key\":\"a\",\"value\":9,\"timestamp\":99,\"step\":3}]");
	latest_is(id, "a", 1, 5, 10, 1);
	latest_is(id, "b", 0, 0, 1, 1);
	/* same step and timestamp, larger value: newer */
	log_points(id, "[{\"key\":\"a\",\"value\":2,\"timestamp\":10,\"step\":5},{\"key\":\"a\",\"value\":1.5,"
		       "\"timestamp\":10,\"step\":5}]");
	latest_is(id, "a", 2, 5, 10, 2);
	/* a point already there changes nothing but still counts */
	log_points(id, "[{\"key\":\"a\",\"value\":2,\"timestamp\":10,\"step\":5}]");
	latest_is(id, "a", 3, 5, 10, 2);
	log_points(id, "[{\"key\":\"a\",\"value\":-1,\"timestamp\":1,\"step\":6}]");
	latest_is(id, "a", 4, 6, 1, -1);
	latest_is(id, "b", 0, 0, 1, 1);
}
