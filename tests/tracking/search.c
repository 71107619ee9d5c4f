/* tests/tracking/search.c - the search grammar, and its SQL run against SQLite.
 *
 * Most tests compile a filter and order_by, execute the SQL over an in-memory
 * database seeded below, and compare the run (or experiment) ids that come
 * back: that is what shows the SQL right, not its text.
 *
 *   run  name     user   status    start end   acc   loss  lr     opt   team    pat
 *   r0   run-a    alice  FINISHED  1000  2000  0.9   0.1   0.01   adam  Vision  a%b
 *   r1   run-b    bob    FAILED    2000  5000  0.5   0.3   0.1    sgd   nlp     axxb
 *   r2   Run-C    alice  RUNNING   3000  -     0.7   -     0.001  Adam  vision  a_b
 *   r3   other    Bob    KILLED    4000  9000  -     0.2   -      sgd   -       a*b
 *   r4   nan%run  carol  FINISHED  5000  6000  NaN   -     -      -     -       -
 * plus metric `val loss` (r0 1, r1 2), metric big (r0 -5, r1 +inf), param a.b
 * (r0 x), param q (r0 it's, r1 say "hi"), tags `with space` (r1 y) and
 * mlflow.user (r0 alice); datasets train-ds (r0 training, r1 training) and
 * Eval (r0 eval, r2 no context), and a MODEL input of Eval's id into r3.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store.h"
#include "tracking/search.h"

static struct store *db;
static struct buf got = BUF_INIT;

static const char seed[] =
	"INSERT INTO runs(run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri) VALUES"
	" ('r0', 'run-a', 0, 'alice', 'FINISHED', 1000, 2000, 'file:///a/r0'),"
	" ('r1', 'run-b', 0, 'bob', 'FAILED', 2000, 5000, 'file:///a/r1'),"
	" ('r2', 'Run-C', 0, 'alice', 'RUNNING', 3000, NULL, 's3://b/r2'),"
	" ('r3', 'other', 0, 'Bob', 'KILLED', 4000, 9000, 'file:///a/r3'),"
	" ('r4', 'nan%run', 0, 'carol', 'FINISHED', 5000, 6000, 'file:///a/r4');"
	"INSERT INTO latest_metrics(run_uuid, key, value, is_nan, timestamp, step) VALUES"
	" ('r0', 'acc', 0.9, 0, 1, 0), ('r1', 'acc', 0.5, 0, 1, 0), ('r2', 'acc', 0.7, 0, 1, 5),"
	" ('r4', 'acc', 0, 1, 1, 0),"
	" ('r0', 'loss', 0.1, 0, 1, 0), ('r1', 'loss', 0.3, 0, 1, 0), ('r3', 'loss', 0.2, 0, 1, 0),"
	" ('r0', 'val loss', 1.0, 0, 1, 0), ('r1', 'val loss', 2.0, 0, 1, 0),"
	" ('r0', 'big', -5, 0, 1, 0), ('r1', 'big', 9e999, 0, 1, 0);"
	"INSERT INTO params(run_uuid, key, value) VALUES"
	" ('r0', 'lr', '0.01'), ('r1', 'lr', '0.1'), ('r2', 'lr', '0.001'),"
	" ('r0', 'opt', 'adam'), ('r1', 'opt', 'sgd'), ('r2', 'opt', 'Adam'), ('r3', 'opt', 'sgd'),"
	" ('r0', 'a.b', 'x'),"
	" ('r0', 'pat', 'a%b'), ('r1', 'pat', 'axxb'), ('r2', 'pat', 'a_b'), ('r3', 'pat', 'a*b'),"
	" ('r0', 'q', 'it''s'), ('r1', 'q', 'say \"hi\"');"
	"INSERT INTO tags(run_uuid, key, value) VALUES"
	" ('r0', 'team', 'Vision'), ('r1', 'team', 'nlp'), ('r2', 'team', 'vision'),"
	" ('r1', 'with space', 'y'), ('r0', 'mlflow.user', 'alice');"
	"INSERT INTO datasets(dataset_uuid, experiment_id, name, digest) VALUES"
	" ('d1', 0, 'train-ds', 'abc123'), ('d2', 0, 'Eval', 'def456');"
	"INSERT INTO inputs(input_uuid, source_type, source_id, destination_type, destination_id) VALUES"
	" ('i1', 'DATASET', 'd1', 'RUN', 'r0'), ('i2', 'DATASET', 'd2', 'RUN', 'r0'),"
	" ('i3', 'DATASET', 'd1', 'RUN', 'r1'), ('i4', 'DATASET', 'd2', 'RUN', 'r2'),"
	" ('i5', 'MODEL', 'd2', 'RUN', 'r3');"
	"INSERT INTO input_tags(input_uuid, name, value) VALUES"
	" ('i1', 'mlflow.data.context', 'training'), ('i2', 'mlflow.data.context', 'eval'),"
	" ('i3', 'mlflow.data.context', 'training'), ('i5', 'mlflow.data.context', 'eval');"
	"INSERT INTO experiments(experiment_id, name, artifact_location, creation_time, last_update_time) VALUES"
	" (1, 'exp-one', 'a', 100, 500), (2, 'Exp-Two', 'b', 200, 300), (3, 'third%', 'c', 300, 100);"
	"INSERT INTO experiment_tags(experiment_id, key, value) VALUES"
	" (1, 'team', 'vision'), (2, 'team', 'Vision'), (3, 'owner', 'z');";

static void setup(void)
{
	int rc = store_open("sqlite::memory:", &db);

	cr_assert_eq(rc, 0, "store_open: %s", cairn_error_msg());
	rc = store_exec(db, seed);
	cr_assert_eq(rc, 0, "seed: %s", cairn_error_msg());
}

static void teardown(void)
{
	store_close(db);
	db = NULL;
	buf_release(&got);
}

static void bind_all(struct store_stmt *st, const struct search_sql *q)
{
	for (size_t i = 0; i < q->nbinds; i++) {
		const struct search_bind *b = &q->binds[i];
		int idx = (int)i + 1;

		if (b->type == SEARCH_BIND_TEXT)
			store_bind_text(st, idx, b->text);
		else if (b->type == SEARCH_BIND_DOUBLE)
			store_bind_double(st, idx, b->d);
		else
			store_bind_int64(st, idx, b->i);
	}
}

/* Execute SELECT <col> FROM <from> WHERE <extra>(where) ORDER BY <order>, <tail>; ids comma-joined. */
static const char *execute(const struct search_sql *q, const char *col, const char *from, const char *extra,
			   const char *tail)
{
	struct buf sql = BUF_INIT;
	struct store_stmt *st;
	int rc;

	buf_printf(&sql, "SELECT %s FROM %s WHERE %s(%s) ORDER BY %s%s%s", col, from, extra, q->where.ptr,
		   q->order.ptr, q->order.len ? ", " : "", tail);
	cr_assert_eq(buf_error(&sql), 0);
	rc = store_prepare(db, sql.ptr, &st);
	cr_assert_eq(rc, 0, "prepare %s: %s", sql.ptr, cairn_error_msg());
	bind_all(st, q);
	buf_clear(&got);
	while ((rc = store_step(st)) == STORE_ROW) {
		if (got.len)
			buf_putc(&got, ',');
		buf_puts(&got, store_col_text(st, 0));
	}
	cr_assert_eq(rc, STORE_DONE, "step %s: %s", sql.ptr, cairn_error_msg());
	store_reset(st);
	buf_release(&sql);
	return got.ptr;
}

/* Run ids matching a runs filter, in order (by run id when order_by is empty). */
static const char *runs_ordered(const char *filter, const char *const *order_by, size_t n)
{
	struct search_sql q;
	const char *r;
	int rc;

	search_sql_init(&q);
	rc = search_compile_runs(filter, order_by, n, &q);
	cr_assert_eq(rc, 0, "compile \"%s\": %s", filter ? filter : "(null)", cairn_error_msg());
	r = execute(&q, "r.run_uuid", "runs r", "",
		    n ? "r.start_time DESC, r.run_uuid ASC" : "r.run_uuid ASC");
	search_sql_release(&q);
	return r;
}

static const char *runs(const char *filter)
{
	return runs_ordered(filter, NULL, 0);
}

static const char *exps_ordered(const char *filter, const char *const *order_by, size_t n)
{
	struct search_sql q;
	const char *r;
	int rc;

	search_sql_init(&q);
	rc = search_compile_experiments(filter, order_by, n, &q);
	cr_assert_eq(rc, 0, "compile \"%s\": %s", filter ? filter : "(null)", cairn_error_msg());
	r = execute(&q, "e.experiment_id", "experiments e", "e.experiment_id > 0 AND ",
		    n ? "e.experiment_id ASC" : "e.experiment_id ASC");
	search_sql_release(&q);
	return r;
}

static const char *exps(const char *filter)
{
	return exps_ordered(filter, NULL, 0);
}

#define ORDER(...) ((const char *const[]){ __VA_ARGS__ }), (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

#define EXPECT_RUNS(flt, ids) cr_expect_str_eq(runs(flt), ids, "filter \"%s\"", flt)
#define EXPECT_EXPS(flt, ids) cr_expect_str_eq(exps(flt), ids, "filter \"%s\"", flt)

/* The filter/order_by must fail with CAIRN_EINVALID and a message holding `needle`. */
static void expect_bad(bool exp, const char *filter, const char *const *order_by, size_t n, const char *needle)
{
	struct search_sql q;
	int rc;

	search_sql_init(&q);
	cairn_error_clear();
	rc = exp ? search_compile_experiments(filter, order_by, n, &q) : search_compile_runs(filter, order_by, n, &q);
	cr_expect_eq(rc, CAIRN_EINVALID, "\"%s\" (order_by %zu): got %d", filter ? filter : "", n, rc);
	cr_expect(strstr(cairn_error_msg(), needle) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
		  filter ? filter : "", cairn_error_msg(), needle);
	cr_expect_eq(q.nbinds, 0);
	cr_expect_eq(q.where.len, 0);
	cr_expect_eq(q.order.len, 0);
	search_sql_release(&q);
}

#define BAD(flt, needle) expect_bad(false, flt, NULL, 0, needle)
#define BAD_EXP(flt, needle) expect_bad(true, flt, NULL, 0, needle)
#define BAD_ORDER(needle, ...) expect_bad(false, NULL, ORDER(__VA_ARGS__), needle)
#define BAD_EXP_ORDER(needle, ...) expect_bad(true, NULL, ORDER(__VA_ARGS__), needle)

TestSuite(tracking_search, .init = setup, .fini = teardown);

/* ---- the compiled form ---- */

Test(tracking_search, empty_filter_is_true)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_runs(NULL, NULL, 0, &q), 0);
	cr_expect_str_eq(q.where.ptr, "1=1");
	cr_expect_str_eq(q.order.ptr, "");
	cr_expect_eq(q.nbinds, 0);
	cr_assert_eq(search_compile_runs("", NULL, 0, &q), 0);
	cr_expect_str_eq(q.where.ptr, "1=1");
	cr_assert_eq(search_compile_experiments(NULL, NULL, 0, &q), 0);
	cr_expect_str_eq(q.where.ptr, "1=1");
	search_sql_release(&q);
	EXPECT_RUNS("", "r0,r1,r2,r3,r4");
	EXPECT_EXPS("", "1,2,3");
}

Test(tracking_search, values_are_bound_never_pasted)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_runs("params.`x'; DROP TABLE runs; --` = 'y''; DROP TABLE runs; --'",
					 NULL, 0, &q), 0);
	cr_expect_null(strstr(q.where.ptr, "DROP"));
	cr_assert_eq(q.nbinds, 2);
	cr_expect_str_eq(q.binds[0].text, "x'; DROP TABLE runs; --");
	cr_expect_str_eq(q.binds[1].text, "y'; DROP TABLE runs; --");
	search_sql_release(&q);
	EXPECT_RUNS("params.`x'; DROP TABLE runs; --` = 'y''; DROP TABLE runs; --'", "");
	EXPECT_RUNS("", "r0,r1,r2,r3,r4");
}

Test(tracking_search, bind_types)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_runs("metrics.m > 1 AND start_time > 2 AND end_time < 2.5 AND "
					 "created = 99999999999999999999 AND params.p = 'v'",
					 ORDER("metrics.m DESC"), &q), 0);
	cr_assert_eq(q.nbinds, 9);
	cr_expect_eq(q.binds[0].type, SEARCH_BIND_TEXT);
	cr_expect_str_eq(q.binds[0].text, "m");
	cr_expect_eq(q.binds[1].type, SEARCH_BIND_DOUBLE); /* metrics compare as doubles */
	cr_expect_eq(q.binds[1].d, 1.0);
	cr_expect_eq(q.binds[2].type, SEARCH_BIND_INT64); /* integer times stay integers */
	cr_expect_eq(q.binds[2].i, 2);
	cr_expect_eq(q.binds[3].type, SEARCH_BIND_DOUBLE);
	cr_expect_eq(q.binds[3].d, 2.5);
	cr_expect_eq(q.binds[4].type, SEARCH_BIND_DOUBLE); /* too big for int64 */
	cr_expect_eq(q.binds[4].d, 1e20);
	cr_expect_str_eq(q.binds[5].text, "p");
	cr_expect_str_eq(q.binds[6].text, "v");
	cr_expect_str_eq(q.binds[7].text, "m"); /* order_by's binds come after the filter's */
	cr_expect_str_eq(q.binds[8].text, "m");
	search_sql_release(&q);
}

Test(tracking_search, numeric_literal_forms)
{
	struct search_sql q;
	static const struct {
		const char *lit;
		double d;
	} ok[] = {
		{ "1", 1 }, { "-1", -1 }, { "0.5", 0.5 }, { ".5", 0.5 }, { "-.5", -0.5 }, { "5.", 5 },
		{ "1e3", 1e3 }, { "1E3", 1e3 }, { "1.5e-3", 1.5e-3 }, { "-2.5E2", -250 }, { "007", 7 },
	};

	search_sql_init(&q);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char flt[64];

		snprintf(flt, sizeof(flt), "metrics.m > %s", ok[i].lit);
		cr_assert_eq(search_compile_runs(flt, NULL, 0, &q), 0, "%s: %s", flt, cairn_error_msg());
		cr_expect_eq(q.binds[1].d, ok[i].d, "%s", flt);
	}
	cr_assert_eq(search_compile_runs("metrics.m > 1e999", NULL, 0, &q), 0);
	cr_expect(isinf(q.binds[1].d) && q.binds[1].d > 0);
	search_sql_release(&q);
	BAD("metrics.m > 1e+3", "Expected numeric value type for metric. Found 1e+3");
	BAD("metrics.m > 1x", "Found 1x");
	BAD("metrics.m > 1.2.3", "Found 1.2.3");
	BAD("metrics.m > 0x10", "Found 0x10");
	BAD("metrics.m > - 1", "Found -");
	BAD("metrics.m > inf", "Found inf");
	BAD("metrics.m > nan", "Found nan");
}

Test(tracking_search, recompiling_releases_previous)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_runs("params.a = 'b' AND tags.c = 'd'", ORDER("params.a"), &q), 0);
	cr_expect_eq(q.nbinds, 6);
	cr_assert_eq(search_compile_runs("metrics.a > 1", NULL, 0, &q), 0);
	cr_expect_eq(q.nbinds, 2);
	cr_expect_str_eq(q.order.ptr, "");
	cr_assert_eq(search_compile_runs("metrics.a >", NULL, 0, &q), CAIRN_EINVALID);
	cr_expect_eq(q.nbinds, 0);
	cr_expect_null(q.binds);
	search_sql_release(&q);
	search_sql_release(&q); /* twice is harmless */
}

Test(tracking_search, postgres_dialect)
{
	struct search_sql q;

	search_sql_init(&q);
	q.dialect = SEARCH_DIALECT_POSTGRES;
	cr_assert_eq(search_compile_runs("params.a LIKE 'x%' AND tags.b ILIKE 'Y_'", NULL, 0, &q), 0);
	cr_expect_not_null(strstr(q.where.ptr, "p.value LIKE ?"));
	cr_expect_not_null(strstr(q.where.ptr, "t.value ILIKE ?"));
	cr_expect_null(strstr(q.where.ptr, "GLOB"));
	cr_expect_str_eq(q.binds[1].text, "x%"); /* PostgreSQL takes the pattern as written */
	cr_expect_str_eq(q.binds[3].text, "Y_");
	cr_expect_eq(q.dialect, SEARCH_DIALECT_POSTGRES);
	search_sql_release(&q);
	cr_expect_eq(q.dialect, SEARCH_DIALECT_POSTGRES); /* release keeps the dialect */
}

Test(tracking_search, sqlite_like_becomes_glob)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_runs("params.a LIKE 'a%_*?[]\\%\\_'", NULL, 0, &q), 0);
	cr_expect_not_null(strstr(q.where.ptr, "p.value GLOB ?"));
	cr_expect_str_eq(q.binds[1].text, "a*?[*][?][[]]%_");
	search_sql_release(&q);
}

/* ---- metrics ---- */

Test(tracking_search, metric_comparators)
{
	EXPECT_RUNS("metrics.acc > 0.7", "r0");
	EXPECT_RUNS("metrics.acc >= 0.7", "r0,r2");
	EXPECT_RUNS("metrics.acc = 0.7", "r2");
	EXPECT_RUNS("metrics.acc != 0.7", "r0,r1,r4"); /* NaN is unequal; r3 has no acc */
	EXPECT_RUNS("metrics.acc < 0.7", "r1");
	EXPECT_RUNS("metrics.acc <= 0.7", "r1,r2");
	EXPECT_RUNS("metric.acc > 0.6", "r0,r2");
	EXPECT_RUNS("metrics.acc > 7e-1", "r0");
	EXPECT_RUNS("metrics.acc > -1", "r0,r1,r2");
	EXPECT_RUNS("metrics.loss >= 0.2 AND metrics.loss <= 0.3", "r1,r3");
	EXPECT_RUNS("metrics.acc>0.7", "r0");
	EXPECT_RUNS("metrics.nope > 0", "");
}

Test(tracking_search, metric_nan_matches_only_not_equal)
{
	/* the NaN row stores value 0: it must not pass for 0 */
	EXPECT_RUNS("metrics.acc = 0", "");
	EXPECT_RUNS("metrics.acc < 0.1", "");
	EXPECT_RUNS("metrics.acc >= 0", "r0,r1,r2");
	EXPECT_RUNS("metrics.acc != 0", "r0,r1,r2,r4");
}

Test(tracking_search, metric_infinity_and_negatives)
{
	EXPECT_RUNS("metrics.big > 1e308", "r1");
	EXPECT_RUNS("metrics.big > 1e999", "");
	EXPECT_RUNS("metrics.big >= 1e999", "r1");
	EXPECT_RUNS("metrics.big < -4.5", "r0");
	EXPECT_RUNS("metrics.big = -5", "r0");
}

/* ---- params and tags ---- */

Test(tracking_search, param_comparators)
{
	EXPECT_RUNS("params.lr = '0.01'", "r0");
	EXPECT_RUNS("params.lr != '0.01'", "r1,r2"); /* runs without lr never match */
	EXPECT_RUNS("params.lr LIKE '0.0%'", "r0,r2");
	EXPECT_RUNS("params.lr LIKE '%1'", "r0,r1,r2");
	EXPECT_RUNS("params.lr LIKE '0._'", "r1");
	EXPECT_RUNS("params.opt = 'adam'", "r0");
	EXPECT_RUNS("params.opt ILIKE 'ADAM'", "r0,r2");
	EXPECT_RUNS("params.opt ILIKE '%a%'", "r0,r2");
	EXPECT_RUNS("params.lr = \"0.1\"", "r1");
}

Test(tracking_search, like_is_case_sensitive)
{
	EXPECT_RUNS("params.opt LIKE 'adam'", "r0");
	EXPECT_RUNS("params.opt LIKE 'A%'", "r2");
	EXPECT_RUNS("params.opt LIKE '%DAM'", "");
	EXPECT_RUNS("tags.team LIKE 'V%'", "r0");
	EXPECT_RUNS("tags.team LIKE 'v%'", "r2");
	EXPECT_RUNS("params.opt = 'ADAM'", "");
	EXPECT_RUNS("params.opt like 'sgd'", "r1,r3");
}

Test(tracking_search, ilike_is_case_insensitive)
{
	EXPECT_RUNS("tags.team ILIKE 'VISION'", "r0,r2");
	EXPECT_RUNS("tags.team ilike 'v%'", "r0,r2");
	EXPECT_RUNS("tags.team ILIKE 'N_P'", "r1");
}

Test(tracking_search, like_wildcards_and_escapes)
{
	EXPECT_RUNS("params.pat LIKE 'a_b'", "r0,r2,r3");
	EXPECT_RUNS("params.pat LIKE 'a%b'", "r0,r1,r2,r3");
	EXPECT_RUNS("params.pat LIKE 'a\\%b'", "r0"); /* backslash escapes, as PostgreSQL */
	EXPECT_RUNS("params.pat LIKE 'a\\_b'", "r2");
	EXPECT_RUNS("params.pat LIKE 'a*b'", "r3"); /* GLOB's own wildcards are literal */
	EXPECT_RUNS("params.pat LIKE 'a?b'", "");
	EXPECT_RUNS("params.pat LIKE '[a]%'", "");
	EXPECT_RUNS("params.pat ILIKE 'A\\%B'", "r0");
	EXPECT_RUNS("params.pat ILIKE 'A\\_%'", "r2");
	BAD("params.pat LIKE 'a\\\\\\'", "ends with the escape character");
}

Test(tracking_search, tag_comparators)
{
	EXPECT_RUNS("tags.team = 'vision'", "r2");
	EXPECT_RUNS("tags.team != 'nlp'", "r0,r2");
	EXPECT_RUNS("tag.team = 'nlp'", "r1");
	EXPECT_RUNS("tags.`mlflow.user` = 'alice'", "r0");
	EXPECT_RUNS("tags.mlflow.user = 'alice'", "r0"); /* dotted keys need no quotes */
	EXPECT_RUNS("tags.\"with space\" = 'y'", "r1");
}

Test(tracking_search, entity_type_aliases)
{
	EXPECT_RUNS("param.opt = 'sgd'", "r1,r3");
	EXPECT_RUNS("params.opt = 'sgd'", "r1,r3");
	EXPECT_RUNS("parameter.opt = 'sgd'", "r1,r3");
	EXPECT_RUNS("parameters.opt = 'sgd'", "r1,r3");
	EXPECT_RUNS("metric.loss > 0.15", "r1,r3");
	EXPECT_RUNS("metrics.loss > 0.15", "r1,r3");
	EXPECT_RUNS("tag.team = 'nlp'", "r1");
	EXPECT_RUNS("tags.team = 'nlp'", "r1");
	EXPECT_RUNS("attribute.status = 'KILLED'", "r3");
	EXPECT_RUNS("attributes.status = 'KILLED'", "r3");
	EXPECT_RUNS("attr.status = 'KILLED'", "r3");
	EXPECT_RUNS("run.status = 'KILLED'", "r3");
	EXPECT_RUNS("status = 'KILLED'", "r3");
	EXPECT_RUNS("dataset.name = 'Eval'", "r0,r2");
	EXPECT_RUNS("datasets.name = 'Eval'", "r0,r2");
	EXPECT_RUNS("`params`.opt = 'sgd'", "r1,r3"); /* MLflow trims backticks off the type */
}

Test(tracking_search, quoted_keys)
{
	EXPECT_RUNS("metrics.`val loss` < 1.5", "r0");
	EXPECT_RUNS("metrics.\"val loss\" > 1.5", "r1");
	EXPECT_RUNS("params.`a.b` = 'x'", "r0");
	EXPECT_RUNS("params.a.b = 'x'", "r0");
	EXPECT_RUNS("params.\"a.b\" = 'x'", "r0");
	EXPECT_RUNS("tags.`with space` = 'y'", "r1");
	EXPECT_RUNS("metrics.`` > 0", "");
}

Test(tracking_search, quoted_values)
{
	EXPECT_RUNS("params.q = 'it''s'", "r0");   /* doubled quote */
	EXPECT_RUNS("params.q = 'it\\'s'", "r0");  /* backslash-escaped quote */
	EXPECT_RUNS("params.q = \"it's\"", "r0");
	EXPECT_RUNS("params.q = 'say \"hi\"'", "r1");
	EXPECT_RUNS("params.q = \"say \"\"hi\"\"\"", "r1");
	EXPECT_RUNS("params.q LIKE '%''%'", "r0");
	EXPECT_RUNS("params.lr = ''", "");
}

/* ---- attributes ---- */

Test(tracking_search, string_attributes)
{
	EXPECT_RUNS("attributes.status = 'FINISHED'", "r0,r4");
	EXPECT_RUNS("status != 'RUNNING'", "r0,r1,r3,r4");
	EXPECT_RUNS("attr.status LIKE 'F%'", "r0,r1,r4");
	EXPECT_RUNS("run.status ILIKE 'killed'", "r3");
	EXPECT_RUNS("user_id = 'bob'", "r1");
	EXPECT_RUNS("user_id ILIKE 'bob'", "r1,r3");
	EXPECT_RUNS("attributes.artifact_uri LIKE 's3://%'", "r2");
	EXPECT_RUNS("artifact_uri LIKE '%r1'", "r1");
	EXPECT_RUNS("attributes.run_id = 'r2'", "r2");
	EXPECT_RUNS("run_id LIKE 'r%'", "r0,r1,r2,r3,r4");
}

Test(tracking_search, run_name_and_aliases)
{
	EXPECT_RUNS("attributes.run_name = 'run-b'", "r1");
	EXPECT_RUNS("run_name LIKE 'run-%'", "r0,r1");
	EXPECT_RUNS("run_name ILIKE 'run-%'", "r0,r1,r2");
	EXPECT_RUNS("attributes.`Run name` = 'other'", "r3");
	EXPECT_RUNS("attributes.`Run Name` = 'other'", "r3");
	EXPECT_RUNS("attributes.\"run name\" != 'other'", "r0,r1,r2,r4");
	EXPECT_RUNS("`run name` = 'other'", "r3");
	EXPECT_RUNS("\"Run name\" = 'other'", "r3");
	EXPECT_RUNS("run_name LIKE '%\\%%'", "r4");
	BAD("attributes.`RUN NAME` = 'x'", "Invalid attribute key 'RUN NAME'");
	BAD("attributes.runName = 'x'", "Invalid attribute key 'runName'");
}

Test(tracking_search, numeric_attributes)
{
	EXPECT_RUNS("attributes.start_time >= 3000", "r2,r3,r4");
	EXPECT_RUNS("attributes.start_time < 2000", "r0");
	EXPECT_RUNS("attributes.start_time != 2000", "r0,r2,r3,r4");
	EXPECT_RUNS("start_time = 2000", "r1");
	EXPECT_RUNS("start_time <= 2000", "r0,r1");
	EXPECT_RUNS("start_time > 2999.5", "r2,r3,r4");
	EXPECT_RUNS("attributes.created = 2000", "r1");
	EXPECT_RUNS("attributes.Created <= 2000", "r0,r1");
	EXPECT_RUNS("end_time > 4000", "r1,r3,r4"); /* r2 has no end_time */
	EXPECT_RUNS("end_time <= 5000", "r0,r1");
	EXPECT_RUNS("end_time != 5000", "r0,r3,r4");
}

Test(tracking_search, run_id_in_and_not_in)
{
	EXPECT_RUNS("attributes.run_id IN ('r0', 'r3')", "r0,r3");
	EXPECT_RUNS("attributes.run_id NOT IN ('r0', 'r3')", "r1,r2,r4");
	EXPECT_RUNS("run_id IN ('r2')", "r2");
	EXPECT_RUNS("run_id in (\"r2\", 'r4',)", "r2,r4");
	EXPECT_RUNS("run_id not in ('r2')", "r0,r1,r3,r4");
	EXPECT_RUNS("run_id NOT   IN('r2')", "r0,r1,r3,r4");
	/* MLflow drops ids that are not lower case (run ids are lower-case hex) */
	EXPECT_RUNS("run_id IN ('R2', 'r3')", "r3");
	EXPECT_RUNS("run_id IN ('R2')", "");
	EXPECT_RUNS("run_id NOT IN ('R2')", "r0,r1,r2,r3,r4");
	EXPECT_RUNS("run_id IN ('r1') AND metrics.acc > 0", "r1");
}

Test(tracking_search, large_in_list)
{
	struct buf f = BUF_INIT;

	buf_puts(&f, "run_id IN (");
	for (int i = 0; i < 5000; i++)
		buf_printf(&f, "'x%d', ", i);
	buf_puts(&f, "'r3')");
	cr_assert_eq(buf_error(&f), 0);
	EXPECT_RUNS(f.ptr, "r3");
	buf_release(&f);
}

/* ---- datasets ---- */

Test(tracking_search, dataset_filters)
{
	EXPECT_RUNS("dataset.name = 'train-ds'", "r0,r1");
	EXPECT_RUNS("dataset.name = 'Eval'", "r0,r2"); /* r3's MODEL input is not a dataset */
	EXPECT_RUNS("dataset.name != 'Eval'", "r0,r1");
	EXPECT_RUNS("dataset.name LIKE 'e%'", "");
	EXPECT_RUNS("dataset.name ILIKE 'e%'", "r0,r2");
	EXPECT_RUNS("dataset.digest = 'abc123'", "r0,r1");
	EXPECT_RUNS("dataset.digest LIKE 'def%'", "r0,r2");
	EXPECT_RUNS("dataset.name IN ('Eval', 'nope')", "r0,r2"); /* upper case kept for datasets */
	EXPECT_RUNS("dataset.name NOT IN ('Eval')", "r0,r1");
	EXPECT_RUNS("dataset.digest IN ('abc123')", "r0,r1");
}

Test(tracking_search, dataset_context)
{
	EXPECT_RUNS("dataset.context = 'training'", "r0,r1");
	EXPECT_RUNS("dataset.context = 'eval'", "r0");
	EXPECT_RUNS("dataset.context IN ('eval', 'training')", "r0,r1");
	EXPECT_RUNS("dataset.context LIKE 'train%'", "r0,r1");
	EXPECT_RUNS("datasets.context != 'training'", "r0");
	EXPECT_RUNS("dataset.name = 'Eval' AND dataset.context = 'eval'", "r0");
}

/* ---- conjunctions and blanks ---- */

Test(tracking_search, conjunctions)
{
	EXPECT_RUNS("metrics.acc > 0.4 AND params.opt = 'sgd' AND tags.team = 'nlp'", "r1");
	EXPECT_RUNS("metrics.acc > 0.4 and params.opt ILIKE 'adam'", "r0,r2");
	EXPECT_RUNS("params.opt = 'sgd' And attributes.status = 'KILLED'", "r3");
	EXPECT_RUNS("metrics.acc > 0.4 AND metrics.acc < 0.4", "");
	EXPECT_RUNS("params.opt='sgd'AND status='KILLED'", "r3");
	EXPECT_RUNS("  \tmetrics.acc\n>\n0.8  ", "r0");
	EXPECT_RUNS("metrics.`val loss`>1.5", "r1");
	EXPECT_RUNS("tags.`with space`LIKE 'y'", "r1");
}

Test(tracking_search, stray_ands_are_ignored_as_mlflow_does)
{
	EXPECT_RUNS("metrics.acc > 0.8 AND", "r0");
	EXPECT_RUNS("metrics.acc > 0.8 and  ", "r0");
	EXPECT_RUNS("AND metrics.acc > 0.8", "r0");
	EXPECT_RUNS("metrics.acc > 0.6 AND AND tags.team = 'vision'", "r2");
	EXPECT_RUNS("AND", "r0,r1,r2,r3,r4");
	EXPECT_EXPS("name = 'exp-one' AND", "1");
}

Test(tracking_search, many_clauses_execute)
{
	struct buf f = BUF_INIT;
	struct search_sql q;

	for (int i = 0; i < 250; i++)
		buf_printf(&f, "%smetrics.acc > %d", i ? " AND " : "", -i);
	EXPECT_RUNS(f.ptr, "r0,r1,r2");
	buf_puts(&f, " AND metrics.acc > 0");
	search_sql_init(&q);
	cr_expect_eq(search_compile_runs(f.ptr, NULL, 0, &q), CAIRN_EINVALID);
	cr_expect_not_null(strstr(cairn_error_msg(), "more than 250 clauses"));
	search_sql_release(&q);
	buf_release(&f);
}

/* ---- order_by ---- */

Test(tracking_search, order_by_metric_missing_last)
{
	/* numbers, then NaN (r4), then runs without the metric (r3), both ways */
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc DESC")), "r0,r2,r1,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc ASC")), "r1,r2,r0,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc")), "r1,r2,r0,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc desc")), "r0,r2,r1,r4,r3");
	/* ties among the missing fall to start_time DESC */
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.`val loss` DESC")), "r1,r0,r4,r3,r2");
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.big ASC")), "r0,r1,r4,r3,r2");
}

Test(tracking_search, order_by_params_and_tags)
{
	cr_expect_str_eq(runs_ordered("", ORDER("params.lr ASC")), "r2,r0,r1,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("params.lr DESC")), "r1,r0,r2,r4,r3");
	/* binary collation: 'Vision' < 'nlp' < 'vision' */
	cr_expect_str_eq(runs_ordered("", ORDER("tags.team DESC")), "r2,r1,r0,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("tags.team")), "r0,r1,r2,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("params.opt ASC", "metrics.loss DESC")), "r2,r0,r1,r3,r4");
	cr_expect_str_eq(runs_ordered("", ORDER("params.opt ASC", "metrics.loss ASC")), "r2,r0,r3,r1,r4");
	cr_expect_str_eq(runs_ordered("", ORDER("params.`a.b` DESC")), "r0,r4,r3,r2,r1");
}

Test(tracking_search, order_by_attributes)
{
	cr_expect_str_eq(runs_ordered("", ORDER("attributes.start_time ASC")), "r0,r1,r2,r3,r4");
	cr_expect_str_eq(runs_ordered("", ORDER("start_time")), "r0,r1,r2,r3,r4");
	cr_expect_str_eq(runs_ordered("", ORDER("created DESC")), "r4,r3,r2,r1,r0");
	cr_expect_str_eq(runs_ordered("", ORDER("Created")), "r0,r1,r2,r3,r4");
	/* a missing end_time sorts last both ways */
	cr_expect_str_eq(runs_ordered("", ORDER("attributes.end_time DESC")), "r3,r4,r1,r0,r2");
	cr_expect_str_eq(runs_ordered("", ORDER("attributes.end_time ASC")), "r0,r1,r4,r3,r2");
	cr_expect_str_eq(runs_ordered("", ORDER("attributes.run_name ASC")), "r2,r4,r3,r0,r1");
	cr_expect_str_eq(runs_ordered("", ORDER("run_id DESC")), "r4,r3,r2,r1,r0");
	cr_expect_str_eq(runs_ordered("", ORDER("status DESC", "user_id")), "r2,r3,r0,r4,r1");
	cr_expect_str_eq(runs_ordered("", ORDER("run.artifact_uri", "attr.user_id DESC")), "r0,r1,r3,r4,r2");
	cr_expect_str_eq(runs_ordered("", ORDER("params.opt DESC", "attributes.start_time DESC")),
			 "r3,r1,r0,r2,r4");
}

Test(tracking_search, order_by_forms)
{
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.\"val loss\" ASC")), "r0,r1,r4,r3,r2");
	cr_expect_str_eq(runs_ordered("", ORDER("  metrics.acc   DESC  ")), "r0,r2,r1,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("tags.`with space`")), "r1,r4,r3,r2,r0");
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc\tDesc")), "r0,r2,r1,r4,r3");
	cr_expect_str_eq(runs_ordered("", ORDER("tags.mlflow.user")), "r0,r4,r3,r2,r1");
}

Test(tracking_search, order_by_with_filter)
{
	cr_expect_str_eq(runs_ordered("params.opt = 'sgd'", ORDER("metrics.loss DESC")), "r1,r3");
	cr_expect_str_eq(runs_ordered("metrics.acc > 0 AND params.lr LIKE '0.%'", ORDER("params.lr")),
			 "r2,r0,r1");
}

Test(tracking_search, order_by_sql_shape)
{
	struct search_sql q;

	search_sql_init(&q);
	/* nulls last: SQLite's DESC does it alone (so an index can give the order), ASC and
	 * PostgreSQL need the IS NULL term */
	cr_assert_eq(search_compile_runs(NULL, ORDER("start_time DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "r.start_time DESC");
	cr_assert_eq(search_compile_runs(NULL, ORDER("start_time ASC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "r.start_time IS NULL, r.start_time ASC");
	q.dialect = SEARCH_DIALECT_POSTGRES;
	cr_assert_eq(search_compile_runs(NULL, ORDER("start_time DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "r.start_time IS NULL, r.start_time DESC");
	q.dialect = SEARCH_DIALECT_SQLITE;
	cr_expect_null(q.order_key);
	/* a metric, param or tag first: the caller may read it in index order */
	cr_assert_eq(search_compile_runs("params.a = 'x'", ORDER("metrics.`val loss` DESC"), &q), 0);
	cr_expect_str_eq(q.order_key, "val loss");
	cr_expect_eq(q.order_kind, SEARCH_ORDER_METRIC);
	cr_expect_not(q.order_asc);
	cr_expect_eq(q.nwhere_binds, 2);
	cr_expect_eq(q.nbinds, 4);
	cr_assert_eq(search_compile_runs(NULL, ORDER("params.lr"), &q), 0);
	cr_expect_eq(q.order_kind, SEARCH_ORDER_PARAM);
	cr_expect(q.order_asc);
	cr_assert_eq(search_compile_runs(NULL, ORDER("tags.team DESC"), &q), 0);
	cr_expect_eq(q.order_kind, SEARCH_ORDER_TAG);
	cr_expect_eq(q.order_rest, 0);
	/* a key first, then more: its ties sorted by the rest, which starts after the first term */
	cr_assert_eq(search_compile_runs("params.a = 'x'", ORDER("metrics.a", "params.b DESC", "start_time"), &q), 0);
	cr_expect_str_eq(q.order_key, "a");
	cr_expect_eq(q.order_kind, SEARCH_ORDER_METRIC);
	cr_expect_eq(q.order_rest_bind, 4);   /* the filter's 2, the first key's 2 */
	cr_expect_eq(q.nbinds, 6);
	cr_assert_neq(q.order_rest, 0);
	cr_expect_eq(strncmp(q.order.ptr + q.order_rest, "(SELECT", 7), 0, "%s", q.order.ptr + q.order_rest);
	cr_expect_neq(strstr(q.order.ptr + q.order_rest, "r.start_time"), NULL);
	cr_expect_eq(strncmp(q.order.ptr, "ORDER", 5) != 0, 1);
	/* an attribute first: the general query */
	cr_assert_eq(search_compile_runs(NULL, ORDER("start_time", "metrics.a"), &q), 0);
	cr_expect_null(q.order_key);
	cr_assert_eq(search_compile_experiments(NULL, ORDER("name", "creation_time DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "e.name ASC, e.creation_time DESC");
	search_sql_release(&q);
}

/* ---- experiments ---- */

Test(tracking_search, experiment_filters)
{
	EXPECT_EXPS("name = 'exp-one'", "1");
	EXPECT_EXPS("attribute.name != 'exp-one'", "2,3");
	EXPECT_EXPS("name LIKE 'e%'", "1");
	EXPECT_EXPS("name ILIKE 'e%'", "1,2");
	EXPECT_EXPS("name LIKE '%\\%'", "3");
	EXPECT_EXPS("creation_time > 100", "2,3");
	EXPECT_EXPS("creation_time <= 200", "1,2");
	EXPECT_EXPS("last_update_time >= 300 AND last_update_time != 500", "2");
	EXPECT_EXPS("creation_time = 300.0", "3");
	EXPECT_EXPS("tags.team = 'vision'", "1");
	EXPECT_EXPS("tag.team ILIKE 'VISION'", "1,2");
	EXPECT_EXPS("tags.team LIKE 'V%'", "2");
	EXPECT_EXPS("tags.team != 'vision'", "2");
	EXPECT_EXPS("tags.`owner` = 'z' AND name LIKE 'third%'", "3");
}

Test(tracking_search, experiment_order_by)
{
	cr_expect_str_eq(exps_ordered("", ORDER("name")), "2,1,3");
	cr_expect_str_eq(exps_ordered("", ORDER("name DESC")), "3,1,2");
	cr_expect_str_eq(exps_ordered("", ORDER("creation_time DESC")), "3,2,1");
	cr_expect_str_eq(exps_ordered("", ORDER("last_update_time")), "3,2,1");
	cr_expect_str_eq(exps_ordered("", ORDER("experiment_id DESC")), "3,2,1");
	cr_expect_str_eq(exps_ordered("", ORDER("attribute.name ASC")), "2,1,3");
	cr_expect_str_eq(exps_ordered("creation_time > 100", ORDER("name DESC")), "3,2");
}

Test(tracking_search, experiment_bad_filters)
{
	BAD_EXP("params.a = 'b'", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')");
	BAD_EXP("attributes.name = 'x'", "Invalid entity type 'attributes'");
	BAD_EXP("metrics.a > 1", "Invalid entity type 'metrics'");
	BAD_EXP("experiment_id = '1'", "Invalid attribute key 'experiment_id' specified");
	BAD_EXP("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'");
	BAD_EXP("name > 'a'", "Invalid comparator for string attribute: >");
	BAD_EXP("name IN ('a')", "Only the 'run_id' attribute supports comparison with a list");
	BAD_EXP("tags.a > 'b'", "Invalid comparator for tag: >");
	BAD_EXP("creation_time LIKE 5", "Invalid comparator for numeric attribute: LIKE");
	BAD_EXP("creation_time > '5'", "Expected numeric value type for numeric attribute: creation_time");
	BAD_EXP("name = x", "Parameter value is either not quoted");
	BAD_EXP("name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: 'OR'");
}

Test(tracking_search, experiment_bad_order_by)
{
	BAD_EXP_ORDER("Invalid order_by entity: tag", "tags.a");
	BAD_EXP_ORDER("Invalid attribute key 'run_id'", "run_id");
	BAD_EXP_ORDER("Invalid ordering key in order_by clause 'name up'", "name up");
	BAD_EXP_ORDER("`order_by` contains duplicate fields", "name", "name DESC");
	BAD_EXP_ORDER("Invalid entity type 'metrics'", "metrics.a");
}

/* ---- errors: runs ---- */

Test(tracking_search, bad_comparators)
{
	BAD("params.lr > '1'", "Invalid comparator '>' not one of '['!=', '=', 'ILIKE', 'LIKE']'");
	BAD("tags.team ~ 'x'", "Invalid comparator '~' not one of '['!=', '=', 'ILIKE', 'LIKE']'");
	BAD("metrics.acc == 1", "Invalid comparator '==' not one of '['!=', '<', '<=', '=', '>', '>=']'");
	BAD("metrics.acc <> 1", "Invalid comparator '<>'");
	BAD("status > 'a'", "Invalid comparator '>' not one of '['!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN']'");
	BAD("start_time LIKE 5", "Invalid comparator 'LIKE' not one of '['!=', '<', '<=', '=', '>', '>=']'");
	BAD("dataset.name > 'a'", "Invalid comparator '>' not one of '['!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN']'");
	BAD("metrics.a NOT LIKE 1", "Invalid comparator 'NOT LIKE'");
	BAD("params.a rlike 'x'", "Invalid comparator 'RLIKE'");
	BAD("params.a IS 'x'", "Invalid comparator 'IS'");
}

Test(tracking_search, bad_values)
{
	BAD("metrics.acc > 'x'", "Expected numeric value type for metric. Found 'x'");
	BAD("metrics.acc LIKE '1'", "Expected numeric value type for metric. Found '1'");
	BAD("metrics.acc > ('1')", "Expected numeric value type for metric. Found ('1')");
	BAD("params.lr = 1", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1");
	BAD("tags.team IN ('a')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')");
	BAD("params.x = abc", "Parameter value is either not quoted or unidentified quote types used for string "
			      "value abc. Use either single or double quotes.");
	BAD("params.x = `abc`", "string value `abc`");
	BAD("status = 5", "Expected a quoted string value for attributes. Got value 5");
	BAD("start_time = 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'");
	BAD("dataset.name = 5", "Expected a quoted string value for dataset attributes. Got value 5");
	BAD("dataset.name = abc", "Parameter value is either not quoted");
}

Test(tracking_search, bad_lists)
{
	BAD("attributes.status IN ('FINISHED')",
	    "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
	BAD("run_id IN ()", "expected a non-empty list of string values, but got empty list");
	BAD("run_id IN (1, 2)", "but got different type in list: (1, 2)");
	BAD("run_id IN ('a' 'b')", "but got ill-formed list");
	BAD("run_id IN ('a',,)", "but got ill-formed list");
	BAD("run_id IN (,)", "but got ill-formed list");
	BAD("run_id IN ('a'", "but got ill-formed list");
	BAD("run_id IN ('a', ('b'))", "but got ill-formed list");
	BAD("run_id = ('a')", "for a list of values: use IN or NOT IN");
	BAD("run_id IN 'a'", "Expected a list of quoted string values for 'IN'");
	BAD("run_id NOT IN 'a'", "Expected a list of quoted string values for 'NOT IN'");
}

Test(tracking_search, bad_identifiers)
{
	BAD("attributes.lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage' specified. Valid keys are");
	BAD("lifecycle_stage = 'active'", "Invalid attribute key 'lifecycle_stage'");
	BAD("experiment_id = '0'", "Invalid attribute key 'experiment_id'");
	BAD("foo.bar = 'x'", "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', "
			     "'dataset']");
	BAD("Metrics.acc > 1", "Invalid entity type 'Metrics'");
	BAD("\"metrics\".acc > 1", "Invalid entity type '\"metrics\"'");
	BAD("datasets.foo = 'x'", "Invalid dataset key 'foo' specified. Valid keys are '['context', 'digest', 'name']'");
	BAD("metrics. > 1", "Invalid identifier 'metrics. '");
	BAD("metrics.a. > 1", "Invalid identifier");
	BAD("metrics.`a`b > 1", "Expected value token found '> 1'");
	BAD("metrics.`a`. > 1", "Invalid identifier");
	BAD("metrics.a`b` > 1", "Invalid identifier");
	BAD("(metrics.acc > 0.5)", "Expected 'Identifier' found '(metrics.acc > 0.5)'");
	BAD("= 1", "Expected 'Identifier'");
	BAD("'metrics.a' = 1", "Expected 'Identifier'");
}

Test(tracking_search, bad_structure)
{
	BAD("metrics.acc > 0.5 OR metrics.acc < 0.1", "Invalid clause(s) in filter string: 'OR'");
	BAD("metrics.acc > 0.5 metrics.acc < 0.1", "Clauses must be joined by AND");
	BAD("metrics.acc > 0.5 AND = 1", "Expected 'Identifier' found '= 1'");
	BAD("ANDY = 'x'", "Invalid attribute key 'ANDY'");
	BAD("metrics.acc > 0.5;", "Invalid clause(s) in filter string: ';'");
	BAD("metrics.acc > 0.5) ", "Invalid clause(s) in filter string: ')'");
	BAD("metrics.acc", "Invalid comparison clause 'metrics.acc': missing comparator");
	BAD("metrics.acc >", "Invalid comparison clause 'metrics.acc >': missing value");
	BAD("metrics.acc > ", "missing value");
	BAD("metrics.acc (1)", "Expected comparison found '(1)'");
	BAD("params.lr = 'unterminated", "unterminated quoted string 'unterminated");
	BAD("params.lr = \"unterminated", "unterminated quoted string");
	BAD("metrics.`a b > 1", "unterminated quoted string `a b > 1");
	BAD("   ", "Invalid filter '   '. Could not be parsed.");
	BAD("params.a = 'x' AND params.b = 'y'z", "Invalid clause(s) in filter string: 'z'");
	BAD("params.a = 'x' ANDparams.b = 'y'", "Invalid clause(s) in filter string: 'ANDparams'");
}

Test(tracking_search, bad_order_by)
{
	BAD_ORDER("Invalid ordering key in order_by clause 'metrics.acc SIDEWAYS'.", "metrics.acc SIDEWAYS");
	BAD_ORDER("Invalid entity type 'foo'", "foo.bar");
	BAD_ORDER("Invalid attribute key 'nope' specified", "attributes.nope");
	BAD_ORDER("Invalid order_by clause 'metrics.acc DESC ASC'. Could not be parsed.", "metrics.acc DESC ASC");
	BAD_ORDER("Invalid order_by clause ''. Could not be parsed.", "");
	BAD_ORDER("Invalid order_by clause ''. Could not be parsed.", NULL);
	BAD_ORDER("Could not be parsed", "metrics.acc, metrics.b");
	BAD_ORDER("Could not be parsed", "metrics.");
	BAD_ORDER("Could not be parsed", "metrics.`acc");
	BAD_ORDER("Invalid attribute key 'Run name' specified", "attributes.`Run name`");
	BAD_ORDER("Invalid attribute key 'lifecycle_stage'", "lifecycle_stage");
	BAD_ORDER("Invalid identifier type 'dataset'", "dataset.name");
	BAD_ORDER("`order_by` contains duplicate fields: ['metrics.acc', 'metrics.acc DESC']", "metrics.acc",
		  "metrics.acc DESC");
	BAD_ORDER("`order_by` contains duplicate fields", "created", "start_time DESC");
	BAD_ORDER("`order_by` contains duplicate fields", "params.`a b`", "param.\"a b\"");
	BAD_ORDER("Invalid ordering key", "metrics.acc 1");
}

Test(tracking_search, same_key_on_different_entities_is_not_duplicate)
{
	cr_expect_str_eq(runs_ordered("", ORDER("metrics.acc", "params.acc", "tags.acc")), "r1,r2,r0,r4,r3");
}

Test(tracking_search, too_many_order_by)
{
	const char *ob[51];
	char keys[51][32];

	for (int i = 0; i < 51; i++) {
		snprintf(keys[i], sizeof(keys[i]), "metrics.k%d", i);
		ob[i] = keys[i];
	}
	expect_bad(false, NULL, ob, 51, "more than 50 clauses");
	cr_expect_str_eq(runs_ordered("", ob, 50), "r4,r3,r2,r1,r0");
}

Test(tracking_search, error_messages_truncate_long_input)
{
	struct buf f = BUF_INIT;
	struct search_sql q;

	buf_puts(&f, "params.x = ");
	for (int i = 0; i < 10000; i++)
		buf_putc(&f, 'a');
	search_sql_init(&q);
	cr_assert_eq(search_compile_runs(f.ptr, NULL, 0, &q), CAIRN_EINVALID);
	cr_expect_lt(strlen(cairn_error_msg()), 600);
	search_sql_release(&q);
	buf_release(&f);
}
