/* tests/api/fault.c - fail the nth call of each request, for every n.
 *
 * For each write the server does (create an experiment, a run, log a batch,
 * register a model and a version, set an alias, upload an artifact), the
 * request is first run with the fault layer counting the calls it makes
 * (allocations, file writes, fsyncs, renames, store begin/commit/step), then
 * once per call with that call failing, once and from then on. Each time: the
 * answer is a success or a clean MLflow error body, never a crash; a success
 * means the whole change is there, a failure means none or all of it (no
 * half-written rows); the database passes integrity_check and every blob
 * re-hashes to its name with no temporary file left behind. ASan's leak check
 * at exit proves every error path freed what it took.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "api/api.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "tracking/artifact.h"
#include "tracking/trk_int.h"

static char dir[64];
static struct api_ctx ctx;
static char exp_id[32], run_id[64];
static unsigned seq;
static uint64_t cur_n;      /* the call failing now (0: none), for messages */
static unsigned cur_persist;

struct answer {
	int status;
	json_t *body;   /* NULL when the body is not JSON */
	char text[512]; /* the start of the body, for messages */
};

/* One in-process request; the output buffer is grown before any fault is
 * armed, so only the server's own calls are counted and failed. */
static struct answer call(const char *method, const char *path, const char *body)
{
	struct buf out = BUF_INIT;
	struct answer a = { 0 };
	int rc;

	fault_hold(true);
	cr_assert_eq(buf_grow(&out, 1 << 16), 0);
	fault_hold(false);
	rc = api_invoke(&ctx, method, path, body, &a.status, &out);
	fault_hold(true);
	cr_assert_eq(rc, 0, "api_invoke %s: %s", path, cairn_error_msg());
	a.body = json_loadb(out.ptr, out.len, 0, NULL);
	snprintf(a.text, sizeof(a.text), "%s", out.ptr);
	buf_release(&out);
	fault_hold(false);
	return a;
}

static json_t *ok(const char *method, const char *path, const char *body)
{
	struct answer a = call(method, path, body);

	cr_assert_eq(a.status, 200, "%s %s -> %d", method, path, a.status);
	cr_assert_not_null(a.body);
	return a.body;
}

static void setup(void)
{
	json_t *r;

	snprintf(dir, sizeof(dir), "/tmp/cairn-fault-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(api_ctx_open(dir, &ctx), 0, "%s", cairn_error_msg());
	r = ok("POST", "/mlflow/experiments/create", "{\"name\":\"faults\"}");
	snprintf(exp_id, sizeof(exp_id), "%s", json_string_value(json_object_get(r, "experiment_id")));
	json_decref(r);
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	api_ctx_close(&ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(api_fault, .init = setup, .fini = teardown);

static void new_run(void)
{
	char body[128];
	json_t *r;

	snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\"}", exp_id);
	r = ok("POST", "/mlflow/runs/create", body);
	snprintf(run_id, sizeof(run_id), "%s",
		 json_string_value(json_object_get(json_object_get(json_object_get(r, "run"), "info"), "run_id")));
	json_decref(r);
}

static int64_t count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char path[128];
	int64_t n = -1;

	snprintf(path, sizeof(path), "%s/cairn.db", dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static int verify_one(const char *hex, void *arg)
{
	cr_assert_eq(blob_verify(ctx.blobs, hex), 0, "object %s: %s", hex, cairn_error_msg());
	++*(unsigned *)arg;
	return 0;
}

/* The store and the blobs are consistent whatever failed. */
static void consistent(void)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	char path[128];
	unsigned objects = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/cairn.db", dir);
	cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	sqlite3_close(db);
	cr_assert_eq(blob_list(ctx.blobs, verify_one, &objects), 0, "%s", cairn_error_msg());
	snprintf(path, sizeof(path), "%s/objects/tmp", dir);
	if ((d = opendir(path))) {
		while ((e = readdir(d)))
			cr_assert(e->d_name[0] == '.', "temporary object left behind: %s", e->d_name);
		closedir(d);
	}
}

/* A failed answer is a clean MLflow error, and a server error: a failed
 * allocation or write is not the client's fault (400 would tell an MLflow
 * client not to retry, and blame its input). */
static void clean_error(const struct answer *a, const char *what, uint64_t n)
{
	cr_assert(a->status >= 500 && a->status < 600, "%s, call %llu failing: status %d [%s]", what,
		  (unsigned long long)n, a->status, a->text);
	cr_assert_not_null(a->body, "%s, call %llu failing: the error body is not JSON: %s", what, (unsigned long long)n,
			   a->text);
	cr_assert(json_is_string(json_object_get(a->body, "error_code")) &&
		  json_is_string(json_object_get(a->body, "message")),
		  "%s, call %llu failing: no error_code/message", what, (unsigned long long)n);
}

/* A scenario: prepare (unarmed), act (armed: returns 1 when it succeeded),
 * check (unarmed: the change is whole or absent as `succeeded` says). */
struct scenario {
	const char *name;
	void (*prepare)(void);
	int (*act)(uint64_t n);
	void (*check)(bool succeeded);
};

static void sweep(const struct scenario *sc, unsigned kinds)
{
	uint64_t calls;

	sc->prepare();
	fault_arm(kinds, 0, FAULT_THIS_THREAD);
	cr_assert_eq(sc->act(0), 1, "%s: fails with no fault", sc->name);
	calls = fault_calls();
	fault_disarm();
	sc->check(true);
	cr_assert_gt(calls, 0, "%s: made no call of the kinds armed", sc->name);
	for (unsigned persist = 0; persist < 2; persist++)
		for (uint64_t n = 1; n <= calls; n++) {
			sc->prepare();
			cur_n = n;
			cur_persist = persist;
			fault_arm(kinds, n, FAULT_THIS_THREAD | (persist ? FAULT_PERSIST : 0));
			int succeeded = sc->act(n);
			uint64_t injected = fault_injected();
			fault_disarm();
			cr_assert(succeeded || injected, "%s: failed with no fault injected (call %llu)", sc->name,
				  (unsigned long long)n);
			sc->check(succeeded);
			consistent();
		}
	cr_assert_gt(calls, 0);
}

static int act_json(const char *method, const char *path, const char *body, const char *what, uint64_t n)
{
	struct answer a = call(method, path, body);
	int succeeded = a.status == 200;

	if (!succeeded)
		clean_error(&a, what, n);
	json_decref(a.body);
	return succeeded;
}

/* ---- experiments/create ---- */

static char name[64];
static void prep_exp(void) { snprintf(name, sizeof(name), "exp-%u", ++seq); }
static int act_exp(uint64_t n)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"tags\":[{\"key\":\"a\",\"value\":\"b\"}]}", name);
	return act_json("POST", "/mlflow/experiments/create", body, "experiments/create", n);
}
static void check_exp(bool succeeded)
{
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM experiments WHERE name = '%s'", name);
	int64_t e = count(sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM experiment_tags t JOIN experiments x ON "
				   "x.experiment_id = t.experiment_id WHERE x.name = '%s'", name);
	int64_t t = count(sql);
	cr_assert(succeeded ? e == 1 && t == 1 : (e == 0 && t == 0) || (e == 1 && t == 1),
		  "experiment %s: %lld rows, %lld tags after %s", name, (long long)e, (long long)t,
		  succeeded ? "success" : "failure");
}

Test(api_fault, experiments_create)
{
	struct scenario sc = { "experiments/create", prep_exp, act_exp, check_exp };
	sweep(&sc, FAULT_ALL);
}

/* ---- runs/log-batch: all of it or none ---- */

static void prep_batch(void) { new_run(); }
static int act_batch(uint64_t n)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"m1\",\"value\":1,\"timestamp\":1,\"step\":0},"
		 "{\"key\":\"m2\",\"value\":2,\"timestamp\":1,\"step\":0},{\"key\":\"m1\",\"value\":3,\"timestamp\":2,"
		 "\"step\":1}],\"params\":[{\"key\":\"p1\",\"value\":\"a\"},{\"key\":\"p2\",\"value\":\"b\"}],"
		 "\"tags\":[{\"key\":\"t1\",\"value\":\"x\"}]}", run_id);
	return act_json("POST", "/mlflow/runs/log-batch", body, "runs/log-batch", n);
}
static void check_batch(bool succeeded)
{
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM metrics WHERE run_uuid = '%s') * 100 + "
				   "(SELECT count(*) FROM params WHERE run_uuid = '%s') * 10 + "
				   "(SELECT count(*) FROM tags WHERE run_uuid = '%s' AND key = 't1')", run_id, run_id, run_id);
	int64_t v = count(sql);
	cr_assert(v == 321 || (!succeeded && v == 0), "log-batch left %lld (metrics*100+params*10+tags) after %s",
		  (long long)v, succeeded ? "success" : "failure");
}

Test(api_fault, runs_log_batch)
{
	struct scenario sc = { "runs/log-batch", prep_batch, act_batch, check_batch };
	sweep(&sc, FAULT_ALL);
}

/* ---- runs/create ---- */

static int64_t runs_before;
static void prep_run(void) { runs_before = count("SELECT count(*) FROM runs"); }
static int act_run(uint64_t n)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"experiment_id\":\"%s\",\"run_name\":\"r\",\"tags\":[{\"key\":\"k\","
				     "\"value\":\"v\"}]}", exp_id);
	return act_json("POST", "/mlflow/runs/create", body, "runs/create", n);
}
static void check_run(bool succeeded)
{
	int64_t now = count("SELECT count(*) FROM runs");
	cr_assert(now == runs_before + 1 || (!succeeded && now == runs_before));
	cr_assert_eq(count("SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE "
			   "t.run_uuid = r.run_uuid AND t.key = 'k')"), 0, "a run without its tags (call %llu failing%s)",
		     (unsigned long long)cur_n, cur_persist ? " and every later one" : "");
}

Test(api_fault, runs_create)
{
	struct scenario sc = { "runs/create", prep_run, act_run, check_run };
	sweep(&sc, FAULT_ALL);
}

/* ---- registry: a model, a version, an alias ---- */

static void prep_model(void)
{
	snprintf(name, sizeof(name), "model-%u", ++seq);
	new_run();
}
static int act_model(uint64_t n)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
	if (!act_json("POST", "/mlflow/registered-models/create", body, "registered-models/create", n))
		return 0;
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"source\":\"runs:/%s/model\",\"run_id\":\"%s\"}", name, run_id,
		 run_id);
	if (!act_json("POST", "/mlflow/model-versions/create", body, "model-versions/create", n))
		return 0;
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"alias\":\"champion\",\"version\":\"1\"}", name);
	return act_json("POST", "/mlflow/registered-models/alias", body, "registered-models/alias", n);
}
static void check_model(bool succeeded)
{
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM registered_models WHERE name = '%s') * 100 + "
				   "(SELECT count(*) FROM model_versions v JOIN registered_models m ON m.id = v.model "
				   "WHERE m.name = '%s') * 10 + (SELECT count(*) FROM registered_model_aliases a JOIN "
				   "registered_models m ON m.id = a.model WHERE m.name = '%s')", name, name, name);
	int64_t v = count(sql);
	/* each request is its own transaction: a prefix of the three may be there */
	cr_assert(v == 111 || (!succeeded && (v == 0 || v == 100 || v == 110)),
		  "registry left %lld (models*100+versions*10+aliases) after %s", (long long)v,
		  succeeded ? "success" : "failure");
}

Test(api_fault, registry_model_version_alias)
{
	struct scenario sc = { "registry", prep_model, act_model, check_model };
	sweep(&sc, FAULT_ALL);
}

/* ---- an artifact upload: the blob writer and the artifact tree ---- */

static char art_path[128];
static char content[70000];

static void prep_art(void)
{
	new_run();
	snprintf(art_path, sizeof(art_path), "%s/%s/artifacts/dir/file-%u.bin", exp_id, run_id, ++seq);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (char)('a' + (i * 7 + seq) % 26);
}

/* What the upload route does (api/mlflow_artifacts.c): stream into a blob
 * writer, commit, record the path. */
static int act_art(uint64_t n)
{
	struct blob_writer *w;
	char hex[SHA256_HEX_LEN + 1];
	struct store *st;
	int64_t size;

	if (blob_writer_new(ctx.blobs, &w))
		return 0;
	if (blob_writer_write(w, content, 40000) || blob_writer_write(w, content + 40000, sizeof(content) - 40000)) {
		blob_writer_abort(w);
		return 0;
	}
	if (blob_writer_commit(w, hex, &size))
		return 0;
	if (store_pool_get(ctx.pool, &st))
		return 0;
	int rc = art_record(st, art_path, hex, size);
	store_pool_put(ctx.pool, st);
	return rc == 0;
}

static void check_art(bool succeeded)
{
	struct store *st;
	int fd = -1;
	int64_t size = 0;
	char *back = malloc(sizeof(content));

	cr_assert_eq(store_pool_get(ctx.pool, &st), 0);
	int rc = art_open(st, ctx.blobs, art_path, &fd, &size);
	store_pool_put(ctx.pool, st);
	if (succeeded)
		cr_assert_eq(rc, 0, "uploaded artifact unreadable: %s", cairn_error_msg());
	if (rc == 0) {
		cr_assert_eq(size, (int64_t)sizeof(content));
		cr_assert_eq(read(fd, back, sizeof(content)), (ssize_t)sizeof(content));
		cr_assert_eq(memcmp(back, content, sizeof(content)), 0, "artifact content differs");
		close(fd);
	} else {
		cr_assert_eq(rc, CAIRN_ENOTFOUND, "%s", cairn_error_msg());
	}
	free(back);
}

Test(api_fault, artifact_upload)
{
	struct scenario sc = { "artifact upload", prep_art, act_art, check_art };
	sweep(&sc, FAULT_ALL);
}

/* ---- get-history-bulk-interval keeping a pyramid: a failure anywhere is a
 * clean error or an answer as right as the unfailed one; a kept pyramid is
 * of the series' current generation and answers the same ---- */

static char bulk_ref[8192];

/* The points of a bulk-interval answer, without their run_id. */
static void bulk_points(json_t *body, char *out, size_t cap)
{
	json_t *m;
	size_t i, len = 0;

	out[0] = 0;
	json_array_foreach(json_object_get(body, "metrics"), i, m)
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%lld:%lld:%.17g;",
					(long long)json_integer_value(json_object_get(m, "step")),
					(long long)json_integer_value(json_object_get(m, "timestamp")),
					json_number_value(json_object_get(m, "value")));
	cr_assert_lt(len, cap);
}

static void prep_bulk(void)
{
	char body[8192];
	size_t len;

	trk__set_pyramid_min(20);
	new_run();
	len = (size_t)snprintf(body, sizeof(body), "{\"run_id\":\"%s\",\"metrics\":[", run_id);
	for (int i = 0; i < 60; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len, "%s{\"key\":\"m\",\"value\":%d,\"timestamp\":%d,"
					"\"step\":%d}", i ? "," : "", i == 37 ? 100 : i % 5, 1000 + i, i);
	snprintf(body + len, sizeof(body) - len, "]}");
	json_decref(ok("POST", "/mlflow/runs/log-batch", body));
}

static int act_bulk(uint64_t n)
{
	char body[256], got[8192];
	struct answer a;
	int succeeded;

	snprintf(body, sizeof(body), "{\"run_ids\":[\"%s\"],\"metric_key\":\"m\",\"max_results\":10,\"cairn_envelope\":\"true\"}", run_id);
	a = call("GET", "/mlflow/metrics/get-history-bulk-interval", body);
	succeeded = a.status == 200;
	if (!succeeded) {
		clean_error(&a, "get-history-bulk-interval", n);
	} else {
		fault_hold(true);
		bulk_points(a.body, got, sizeof(got));
		if (!bulk_ref[0])
			snprintf(bulk_ref, sizeof(bulk_ref), "%s", got);
		cr_assert_str_eq(got, bulk_ref, "call %llu failing: a wrong answer", (unsigned long long)n);
		cr_assert(strstr(got, "37:1037:100;"), "the spike is kept");
		fault_hold(false);
	}
	json_decref(a.body);
	return succeeded;
}

static void check_bulk(bool succeeded)
{
	char sql[512], body[256], got[8192];
	json_t *r;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM metric_pyramids p JOIN latest_metrics l USING (run_uuid, key) "
				   "WHERE run_uuid = '%s' AND p.gen <> l.gen", run_id);
	cr_assert_eq(count(sql), 0, "a pyramid of another generation was kept");
	/* whatever was kept answers as the points do */
	snprintf(body, sizeof(body), "{\"run_ids\":[\"%s\"],\"metric_key\":\"m\",\"max_results\":10,\"cairn_envelope\":\"true\"}", run_id);
	r = ok("GET", "/mlflow/metrics/get-history-bulk-interval", body);
	bulk_points(r, got, sizeof(got));
	json_decref(r);
	cr_assert_str_eq(got, bulk_ref, "the answer after call %llu failed%s", (unsigned long long)cur_n,
			 cur_persist ? " (and every later one)" : "");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM metric_pyramids WHERE run_uuid = '%s'", run_id);
	cr_assert_eq(count(sql), 1, "the next request keeps the pyramid");
}

Test(api_fault, bulk_interval_keeping_a_pyramid)
{
	struct scenario sc = { "get-history-bulk-interval", prep_bulk, act_bulk, check_bulk };

	bulk_ref[0] = 0;
	sweep(&sc, FAULT_ALL);
	trk__set_pyramid_min(TRK_PYRAMID_MIN_POINTS);
}

/* MLflow's step sampling (the default answer): a failed call is a clean
 * error, a successful one always the same points, and it writes nothing. */
static int act_steps(uint64_t n)
{
	char body[256], got[8192];
	struct answer a;
	int succeeded;

	snprintf(body, sizeof(body), "{\"run_ids\":[\"%s\"],\"metric_key\":\"m\",\"max_results\":10}", run_id);
	a = call("GET", "/mlflow/metrics/get-history-bulk-interval", body);
	succeeded = a.status == 200;
	if (!succeeded) {
		clean_error(&a, "get-history-bulk-interval", n);
	} else {
		fault_hold(true);
		bulk_points(a.body, got, sizeof(got));
		if (!bulk_ref[0])
			snprintf(bulk_ref, sizeof(bulk_ref), "%s", got);
		cr_assert_str_eq(got, bulk_ref, "call %llu failing: a wrong answer", (unsigned long long)n);
		fault_hold(false);
	}
	json_decref(a.body);
	return succeeded;
}

static void check_steps(bool succeeded)
{
	char sql[256];

	(void)succeeded;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM metric_pyramids WHERE run_uuid = '%s'", run_id);
	cr_assert_eq(count(sql), 0, "MLflow's sampling keeps no pyramid");
}

Test(api_fault, bulk_interval_mlflow_steps)
{
	struct scenario sc = { "get-history-bulk-interval (steps)", prep_bulk, act_steps, check_steps };

	bulk_ref[0] = 0;
	sweep(&sc, FAULT_ALL);
	trk__set_pyramid_min(TRK_PYRAMID_MIN_POINTS);
}
