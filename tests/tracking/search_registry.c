/* tests/tracking/search_registry.c - the registered-model, model-version and
 * logged-model search grammars, their SQL run against SQLite.
 *
 * As in tests/tracking/search.c, each test compiles a filter and order_by,
 * runs the SQL over an in-memory store seeded below, and compares the names
 * (or ids) that come back, in order: `order` is complete (tie-breakers
 * included), so the query is just SELECT ... WHERE (<where>) ORDER BY <order>.
 *
 * Registered models (tags in brackets):
 *   id name       created updated  tags
 *   1  alpha      100     500      team=vision stage=prod
 *   2  Beta       200     300      team=Vision stage=dev
 *   3  gamma_x    300     300      team=nlp stage=prod
 *   4  prompt-a   400     600      mlflow.prompt.is_prompt=true team=vision
 *   5  delta%     500     100      `with space`=y a.b=x
 *   6  notprompt  600     200      mlflow.prompt.is_prompt=false
 * Model versions, shown as name/version:
 *   version      created updated  source        run_id  tags
 *   alpha/1      1000    1500     s3://a/1      abc123  env=prod
 *   alpha/2      2000    2500     s3://a/2      def456  env=staging owner=ann
 *   alpha/3      3000    3000     file:///x/3   -
 *   Beta/1       1100    3000     s3://b/1      abc123  env=prod owner=Ann
 *   Beta/2       1200    1200     S3://B/2      ABC999
 *   gamma_x/10   500     500      models:/m     fff000
 *   prompt-a/1   100     100      prompt        -       mlflow.prompt.is_prompt=true
 * Logged models (all in experiment 0):
 *   id   name   created updated status                 type     run  acc (latest)  lr    opt   team
 *   m-1  lm-a   1000    5000    READY                  sklearn  r1   0.5 then 0.9  0.01  adam  vision
 *   m-2  LM-B   2000    4000    PENDING                torch    r2   0.95 then 0.6 0.1   Adam  Vision
 *   m-3  lm_c   3000    3000    UPLOAD_FAILED          -        -    NaN           0.01  -     -
 *   m-4  other  3000    2000    READY                  sklearn  r1   0.7           -     -     nlp
 *   m-5  lm%5   500     1000    STATUS_UNSPECIFIED     Torch    r3   -             -     -     -
 * plus metric `val loss` (m-5 0.1), metric loss (m-1 0.2) and tag `a b` (m-1 z).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store.h"
#include "tracking/search.h"

typedef int (*compile_fn)(const char *, const char *const *, size_t, struct search_sql *);

static struct store *rdb;
static struct buf rgot = BUF_INIT;

static const char rseed[] =
	"INSERT INTO registered_models(id, name, creation_time, last_updated_time) VALUES"
	" (1, 'alpha', 100, 500), (2, 'Beta', 200, 300), (3, 'gamma_x', 300, 300),"
	" (4, 'prompt-a', 400, 600), (5, 'delta%', 500, 100), (6, 'notprompt', 600, 200);"
	"INSERT INTO registered_model_tags(model, key, value) VALUES"
	" (1, 'team', 'vision'), (1, 'stage', 'prod'), (2, 'team', 'Vision'), (2, 'stage', 'dev'),"
	" (3, 'team', 'nlp'), (3, 'stage', 'prod'), (4, 'mlflow.prompt.is_prompt', 'true'), (4, 'team', 'vision'),"
	" (5, 'with space', 'y'), (5, 'a.b', 'x'), (6, 'mlflow.prompt.is_prompt', 'false');"
	"INSERT INTO model_versions(model, version, creation_time, last_updated_time, source, run_id) VALUES"
	" (1, 1, 1000, 1500, 's3://a/1', 'abc123'), (1, 2, 2000, 2500, 's3://a/2', 'def456'),"
	" (1, 3, 3000, 3000, 'file:///x/3', NULL), (2, 1, 1100, 3000, 's3://b/1', 'abc123'),"
	" (2, 2, 1200, 1200, 'S3://B/2', 'ABC999'), (3, 10, 500, 500, 'models:/m', 'fff000'),"
	" (4, 1, 100, 100, 'prompt', NULL);"
	"INSERT INTO model_version_tags(model, version, key, value) VALUES"
	" (1, 1, 'env', 'prod'), (1, 2, 'env', 'staging'), (1, 2, 'owner', 'ann'),"
	" (2, 1, 'env', 'prod'), (2, 1, 'owner', 'Ann'), (4, 1, 'mlflow.prompt.is_prompt', 'true');"
	"INSERT INTO logged_models(model_id, experiment_id, name, artifact_location, creation_time,"
	" last_updated_time, status, model_type, source_run_id) VALUES"
	" ('m-1', 0, 'lm-a', 'a', 1000, 5000, 'LOGGED_MODEL_READY', 'sklearn', 'r1'),"
	" ('m-2', 0, 'LM-B', 'a', 2000, 4000, 'LOGGED_MODEL_PENDING', 'torch', 'r2'),"
	" ('m-3', 0, 'lm_c', 'a', 3000, 3000, 'LOGGED_MODEL_UPLOAD_FAILED', NULL, NULL),"
	" ('m-4', 0, 'other', 'a', 3000, 2000, 'LOGGED_MODEL_READY', 'sklearn', 'r1'),"
	" ('m-5', 0, 'lm%5', 'a', 500, 1000, 'LOGGED_MODEL_STATUS_UNSPECIFIED', 'Torch', 'r3');"
	"INSERT INTO logged_model_metrics(model_id, key, value, is_nan, timestamp, step) VALUES"
	" ('m-1', 'acc', 0.5, 0, 1, 0), ('m-1', 'acc', 0.9, 0, 2, 0),"
	" ('m-2', 'acc', 0.95, 0, 5, 1), ('m-2', 'acc', 0.6, 0, 5, 2),"
	" ('m-3', 'acc', 0, 1, 3, 0), ('m-4', 'acc', 0.7, 0, 1, 0),"
	" ('m-5', 'val loss', 0.1, 0, 1, 0), ('m-1', 'loss', 0.2, 0, 1, 0);"
	"INSERT INTO logged_model_params(model_id, key, value) VALUES"
	" ('m-1', 'lr', '0.01'), ('m-2', 'lr', '0.1'), ('m-3', 'lr', '0.01'), ('m-1', 'opt', 'adam'),"
	" ('m-2', 'opt', 'Adam');"
	"INSERT INTO logged_model_tags(model_id, key, value) VALUES"
	" ('m-1', 'team', 'vision'), ('m-2', 'team', 'Vision'), ('m-4', 'team', 'nlp'), ('m-1', 'a b', 'z');";

static void rsetup(void)
{
	int rc = store_open("sqlite::memory:", &rdb);

	cr_assert_eq(rc, 0, "store_open: %s", cairn_error_msg());
	rc = store_exec(rdb, rseed);
	cr_assert_eq(rc, 0, "seed: %s", cairn_error_msg());
}

static void rteardown(void)
{
	store_close(rdb);
	rdb = NULL;
	buf_release(&rgot);
}

/* Run SELECT <head> WHERE (<where>) ORDER BY <order>; the first column comma-joined. */
static const char *rexecute(const struct search_sql *q, const char *head)
{
	struct buf sql = BUF_INIT;
	struct store_stmt *st;
	int rc;

	cr_assert(q->order.len > 0, "order must be complete: \"%s\"", q->order.ptr);
	buf_printf(&sql, "%s WHERE (%s) ORDER BY %s", head, q->where.ptr, q->order.ptr);
	cr_assert_eq(buf_error(&sql), 0);
	rc = store_prepare(rdb, sql.ptr, &st);
	cr_assert_eq(rc, 0, "prepare %s: %s", sql.ptr, cairn_error_msg());
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
	buf_clear(&rgot);
	while ((rc = store_step(st)) == STORE_ROW) {
		if (rgot.len)
			buf_putc(&rgot, ',');
		buf_puts(&rgot, store_col_text(st, 0));
	}
	cr_assert_eq(rc, STORE_DONE, "step %s: %s", sql.ptr, cairn_error_msg());
	store_reset(st);
	buf_release(&sql);
	return rgot.ptr;
}

#define RM_HEAD "SELECT m.name FROM registered_models m"
#define MV_HEAD \
	"SELECT m.name || '/' || v.version FROM model_versions v JOIN registered_models m ON m.id = v.model"
#define LM_HEAD "SELECT lm.model_id FROM logged_models lm"

static const char *search(compile_fn fn, const char *head, const char *filter, const char *const *order_by,
			  size_t n)
{
	struct search_sql q;
	const char *r;
	int rc;

	search_sql_init(&q);
	rc = fn(filter, order_by, n, &q);
	cr_assert_eq(rc, 0, "compile \"%s\": %s", filter ? filter : "(null)", cairn_error_msg());
	r = rexecute(&q, head);
	search_sql_release(&q);
	return r;
}

#define ORDER(...) ((const char *const[]){ __VA_ARGS__ }), (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define NOORDER NULL, 0

#define RM(flt, ...) search(search_compile_registered_models, RM_HEAD, flt, __VA_ARGS__)
#define MV(flt, ...) search(search_compile_model_versions, MV_HEAD, flt, __VA_ARGS__)
#define LM(flt, ...) search(search_compile_logged_models, LM_HEAD, flt, __VA_ARGS__)
#define EXPECT_RM(flt, ids) cr_expect_str_eq(RM(flt, NOORDER), ids, "filter \"%s\"", flt)
#define EXPECT_MV(flt, ids) cr_expect_str_eq(MV(flt, NOORDER), ids, "filter \"%s\"", flt)
#define EXPECT_LM(flt, ids) cr_expect_str_eq(LM(flt, NOORDER), ids, "filter \"%s\"", flt)

/* The filter/order_by must fail with CAIRN_EINVALID and a message holding `needle`. */
static void expect_bad(compile_fn fn, const char *filter, const char *const *order_by, size_t n, const char *needle)
{
	struct search_sql q;
	int rc;

	search_sql_init(&q);
	cairn_error_clear();
	rc = fn(filter, order_by, n, &q);
	cr_expect_eq(rc, CAIRN_EINVALID, "\"%s\" (order_by %zu): got %d", filter ? filter : "", n, rc);
	cr_expect(strstr(cairn_error_msg(), needle) != NULL, "\"%s\": message \"%s\" lacks \"%s\"",
		  filter ? filter : "", cairn_error_msg(), needle);
	cr_expect_eq(q.nbinds, 0);
	cr_expect_eq(q.where.len, 0);
	cr_expect_eq(q.order.len, 0);
	search_sql_release(&q);
}

#define BAD_RM(flt, needle) expect_bad(search_compile_registered_models, flt, NULL, 0, needle)
#define BAD_MV(flt, needle) expect_bad(search_compile_model_versions, flt, NULL, 0, needle)
#define BAD_LM(flt, needle) expect_bad(search_compile_logged_models, flt, NULL, 0, needle)
#define BAD_RM_ORDER(needle, ...) expect_bad(search_compile_registered_models, NULL, ORDER(__VA_ARGS__), needle)
#define BAD_MV_ORDER(needle, ...) expect_bad(search_compile_model_versions, NULL, ORDER(__VA_ARGS__), needle)
#define BAD_LM_ORDER(needle, ...) expect_bad(search_compile_logged_models, NULL, ORDER(__VA_ARGS__), needle)

#define PROMPT "tags.`mlflow.prompt.is_prompt`"

TestSuite(search_rm, .init = rsetup, .fini = rteardown);
TestSuite(search_mv, .init = rsetup, .fini = rteardown);
TestSuite(search_lm, .init = rsetup, .fini = rteardown);

/* ---- registered models ---- */

Test(search_rm, compiled_form)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_registered_models(NULL, NULL, 0, &q), 0);
	cr_expect_not_null(strstr(q.where.ptr, "NOT EXISTS"), "prompts hidden: %s", q.where.ptr);
	cr_expect_str_eq(q.order.ptr, "m.name ASC");
	cr_expect_eq(q.nbinds, 0);
	cr_assert_eq(search_compile_registered_models("name = 'a' AND tags.t = 'b'", ORDER("timestamp DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "m.last_updated_time DESC, m.name ASC");
	cr_assert_eq(q.nbinds, 3);
	cr_expect_str_eq(q.binds[0].text, "a");
	cr_expect_str_eq(q.binds[1].text, "t");
	cr_expect_str_eq(q.binds[2].text, "b");
	cr_assert_eq(search_compile_registered_models("", ORDER("name DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "m.name DESC"); /* name ordered already: no tie-breaker */
	search_sql_release(&q);
}

Test(search_rm, empty_filter_lists_models_but_prompts_by_name)
{
	EXPECT_RM(NULL, "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM("", "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM("  AND  ", "Beta,alpha,delta%,gamma_x,notprompt");
	BAD_RM("   ", "Could not be parsed");
}

Test(search_rm, name_equality)
{
	EXPECT_RM("name = 'alpha'", "alpha");
	EXPECT_RM("name = 'ALPHA'", "");
	EXPECT_RM("name != 'alpha'", "Beta,delta%,gamma_x,notprompt");
	EXPECT_RM("attribute.name = \"Beta\"", "Beta");
	EXPECT_RM("`name` = 'gamma_x'", "gamma_x");
	EXPECT_RM("name = 'prompt-a'", ""); /* a prompt, hidden */
}

Test(search_rm, like_is_case_sensitive_ilike_is_not)
{
	EXPECT_RM("name LIKE 'al%'", "alpha");
	EXPECT_RM("name LIKE 'AL%'", "");
	EXPECT_RM("name ILIKE 'AL%'", "alpha");
	EXPECT_RM("name ILIKE 'b%'", "Beta");
	EXPECT_RM("name like 'b%'", "");
	EXPECT_RM("name LIKE '%a'", "Beta,alpha");
	EXPECT_RM("name LIKE 'gamma_x'", "gamma_x");
	EXPECT_RM("name LIKE '_eta'", "Beta");
}

Test(search_rm, like_wildcards_escape)
{
	EXPECT_RM("name LIKE 'delta\\%'", "delta%");
	EXPECT_RM("name LIKE '%\\%'", "delta%");
	EXPECT_RM("name LIKE 'gamma\\_%'", "gamma_x");
	EXPECT_RM("name ILIKE 'GAMMA\\_X'", "gamma_x");
	EXPECT_RM("name LIKE 'del*'", "");
	BAD_RM("name LIKE 'a\\'", "ends with the escape character");
}

Test(search_rm, tag_filters)
{
	EXPECT_RM("tags.team = 'vision'", "alpha");
	EXPECT_RM("tag.team ILIKE 'VISION'", "Beta,alpha");
	EXPECT_RM("tags.team LIKE 'V%'", "Beta");
	EXPECT_RM("tags.stage != 'prod'", "Beta"); /* models without the tag never match */
	EXPECT_RM("tags.missing != 'x'", "");
	EXPECT_RM("tags.`with space` = 'y'", "delta%");
	EXPECT_RM("tags.a.b = 'x'", "delta%");
	EXPECT_RM("tags.\"a.b\" = 'x'", "delta%");
}

Test(search_rm, several_tag_clauses_are_anded)
{
	EXPECT_RM("tags.team ILIKE 'vision' AND tags.stage = 'prod'", "alpha");
	EXPECT_RM("tags.team ILIKE 'vision' AND tags.stage = 'dev'", "Beta");
	EXPECT_RM("tags.stage = 'prod' AND tags.team != 'vision'", "gamma_x");
	EXPECT_RM("tags.team LIKE '%i%' AND tags.team != 'Vision'", "alpha"); /* same key twice */
	EXPECT_RM("tags.stage = 'prod' and name LIKE 'g%'", "gamma_x");
	EXPECT_RM("tags.team = 'vision' AND tags.stage = 'dev'", "");
}

Test(search_rm, prompts_hidden_unless_asked_for)
{
	EXPECT_RM(PROMPT " = 'true'", "prompt-a");
	EXPECT_RM(PROMPT " = 'TRUE'", "");   /* asks for prompts, but the stored value is 'true' */
	EXPECT_RM(PROMPT " != 'false'", "prompt-a");
	EXPECT_RM(PROMPT " = 'true' AND tags.team = 'vision'", "prompt-a");
	EXPECT_RM("tags.team = 'vision' AND " PROMPT " = 'true'", "prompt-a");
	/* otherwise the prompt clauses are ignored and prompts hidden, as MLflow does */
	EXPECT_RM(PROMPT " = 'false'", "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM(PROMPT " != 'true'", "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM(PROMPT " LIKE 't%'", "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM(PROMPT " = 'false' AND " PROMPT " = 'true'", "Beta,alpha,delta%,gamma_x,notprompt");
	EXPECT_RM("tags.team = 'vision'", "alpha");
}

Test(search_rm, order_by)
{
	cr_expect_str_eq(RM("", ORDER("name DESC")), "notprompt,gamma_x,delta%,alpha,Beta");
	cr_expect_str_eq(RM("", ORDER("timestamp DESC")), "alpha,Beta,gamma_x,notprompt,delta%");
	cr_expect_str_eq(RM("", ORDER("last_updated_timestamp")), "delta%,notprompt,Beta,gamma_x,alpha");
	cr_expect_str_eq(RM("", ORDER("last_updated_timestamp ASC", "name DESC")), "delta%,notprompt,gamma_x,Beta,alpha");
	cr_expect_str_eq(RM("tags.stage = 'prod'", ORDER(" timestamp  desc ")), "alpha,gamma_x");
	cr_expect_str_eq(RM("", ORDER("`name` DESC")), "notprompt,gamma_x,delta%,alpha,Beta");
}

Test(search_rm, bad_order_by)
{
	BAD_RM_ORDER("Invalid order by key 'creation_timestamp' specified. Valid keys are '['name', 'timestamp']'",
		     "creation_timestamp");
	BAD_RM_ORDER("Invalid order by key 'attribute.name' specified", "attribute.name");
	BAD_RM_ORDER("Invalid order by key 'tags.team' specified", "tags.team");
	BAD_RM_ORDER("`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp DESC']", "timestamp",
		     "last_updated_timestamp DESC");
	BAD_RM_ORDER("`order_by` contains duplicate fields", "name", "name DESC");
	BAD_RM_ORDER("Invalid ordering key in order_by clause 'name up'", "name up");
	BAD_RM_ORDER("Invalid order_by clause 'name ASC x'. Could not be parsed.", "name ASC x");
}

Test(search_rm, bad_identifiers)
{
	BAD_RM("params.a = 'b'", "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')");
	BAD_RM("attributes.name = 'b'", "Invalid entity type 'attributes'");
	BAD_RM("creation_timestamp > 5", "Invalid attribute key 'creation_timestamp' specified. Valid keys are '['name']'");
	BAD_RM("run_id = 'a'", "Invalid attribute key 'run_id' specified. Valid keys are '['name']'");
	BAD_RM("= 'a'", "Invalid comparison clause. Expected 'Identifier'");
}

Test(search_rm, bad_comparators_and_values)
{
	BAD_RM("name > 'a'", "Invalid comparator for attribute: >");
	BAD_RM("name IN 'a'", "Invalid comparator for attribute: IN");
	BAD_RM("name NOT IN 'a'", "Invalid comparator for attribute: NOT IN");
	BAD_RM("name ~ 'a'", "Invalid comparator for attribute: ~");
	BAD_RM("tags.a > 'b'", "Invalid comparator for tag: >");
	BAD_RM("tags.a rlike 'b'", "Invalid comparator for tag: RLIKE");
	BAD_RM("name IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
	BAD_RM("name = 5", "Expected a quoted string value or a list of quoted string values for attributes. Got value 5");
	BAD_RM("name > 5", "Expected a quoted string value or a list of quoted string values for attributes");
	BAD_RM("tags.a = 5", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 5");
	BAD_RM("name = alpha", "Parameter value is either not quoted");
	BAD_RM("name = 'a' OR name = 'b'", "Clauses must be joined by AND");
	BAD_RM("name = 'a", "unterminated quoted string");
}

Test(search_rm, values_are_bound_never_pasted)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_registered_models("tags.`x'; DROP TABLE t; --` = 'y''; DROP TABLE t; --'",
						      NULL, 0, &q), 0);
	cr_expect_null(strstr(q.where.ptr, "DROP"));
	cr_assert_eq(q.nbinds, 2);
	cr_expect_str_eq(q.binds[1].text, "y'; DROP TABLE t; --");
	search_sql_release(&q);
	EXPECT_RM("name = 'alpha''; DROP TABLE registered_models; --'", "");
	EXPECT_RM("", "Beta,alpha,delta%,gamma_x,notprompt");
}

Test(search_rm, postgres_dialect)
{
	struct search_sql q;

	search_sql_init(&q);
	q.dialect = SEARCH_DIALECT_POSTGRES;
	cr_assert_eq(search_compile_registered_models("name LIKE 'a%' AND tags.t ILIKE 'B_'", NULL, 0, &q), 0);
	cr_expect_not_null(strstr(q.where.ptr, "m.name LIKE ?"));
	cr_expect_not_null(strstr(q.where.ptr, "t.value ILIKE ?"));
	cr_expect_null(strstr(q.where.ptr, "GLOB"));
	cr_expect_str_eq(q.binds[0].text, "a%");
	search_sql_release(&q);
}

/* ---- model versions ---- */

Test(search_mv, compiled_form_and_default_order)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_model_versions(NULL, NULL, 0, &q), 0);
	cr_expect_str_eq(q.order.ptr, "v.last_updated_time DESC, m.name ASC, v.version DESC");
	cr_expect_not_null(strstr(q.where.ptr, "NOT EXISTS"));
	cr_assert_eq(search_compile_model_versions("", ORDER("creation_timestamp"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "v.creation_time ASC, m.name ASC, v.version DESC");
	cr_assert_eq(search_compile_model_versions("", ORDER("version_number ASC", "name DESC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "v.version ASC, m.name DESC");
	search_sql_release(&q);
	EXPECT_MV(NULL, "Beta/1,alpha/3,alpha/2,alpha/1,Beta/2,gamma_x/10");
}

Test(search_mv, name_and_source_path)
{
	EXPECT_MV("name = 'alpha'", "alpha/3,alpha/2,alpha/1");
	EXPECT_MV("name != 'alpha'", "Beta/1,Beta/2,gamma_x/10");
	EXPECT_MV("name ILIKE 'BETA'", "Beta/1,Beta/2");
	EXPECT_MV("source_path LIKE 's3://%'", "Beta/1,alpha/2,alpha/1");
	EXPECT_MV("source_path ILIKE 's3://%'", "Beta/1,alpha/2,alpha/1,Beta/2");
	EXPECT_MV("source_path = 'models:/m'", "gamma_x/10");
	EXPECT_MV("source_path LIKE 's3://_/_'", "Beta/1,alpha/2,alpha/1");
}

Test(search_mv, version_number_is_numeric)
{
	EXPECT_MV("version_number > 1", "alpha/3,alpha/2,Beta/2,gamma_x/10");
	EXPECT_MV("version_number = 10", "gamma_x/10");
	EXPECT_MV("version_number <= 1 AND name = 'Beta'", "Beta/1");
	EXPECT_MV("version_number = '2'", "alpha/2,Beta/2"); /* a numeric string is a number */
	EXPECT_MV("version_number >= 2.5", "alpha/3,gamma_x/10");
	EXPECT_MV("version_number != 1", "alpha/3,alpha/2,Beta/2,gamma_x/10");
}

Test(search_mv, run_id_and_lists)
{
	EXPECT_MV("run_id = 'abc123'", "Beta/1,alpha/1");
	EXPECT_MV("run_id IN ('abc123', 'def456')", "Beta/1,alpha/2,alpha/1");
	EXPECT_MV("run_id IN ('def456',)", "alpha/2");
	EXPECT_MV("run_id in ('abc123') AND name = 'alpha'", "alpha/1");
	/* as MLflow, ids that are not lower case are dropped from a list */
	EXPECT_MV("run_id IN ('ABC999')", "");
	EXPECT_MV("run_id IN ('ABC999', 'fff000')", "gamma_x/10");
	EXPECT_MV("run_id = 'ABC999'", "Beta/2");
	EXPECT_MV("run_id != 'abc123'", "alpha/2,Beta/2,gamma_x/10"); /* NULL run ids never match */
	EXPECT_MV("run_id LIKE '%1%'", "Beta/1,alpha/1");
}

Test(search_mv, tag_filters)
{
	EXPECT_MV("tags.env = 'prod'", "Beta/1,alpha/1");
	EXPECT_MV("tags.env = 'prod' AND tags.owner ILIKE 'ANN'", "Beta/1");
	EXPECT_MV("tags.owner = 'ann' AND tags.env = 'staging'", "alpha/2");
	EXPECT_MV("tags.owner LIKE 'a%'", "alpha/2");
	EXPECT_MV("tags.env != 'prod'", "alpha/2");
	EXPECT_MV("tag.env = 'prod' AND name = 'alpha' AND version_number = 1", "alpha/1");
}

Test(search_mv, prompts_hidden_unless_asked_for)
{
	EXPECT_MV(PROMPT " = 'true'", "prompt-a/1");
	EXPECT_MV(PROMPT " = 'True' AND version_number = 1", "");
	EXPECT_MV("name = 'prompt-a'", "");
	EXPECT_MV(PROMPT " != 'true' AND name = 'gamma_x'", "gamma_x/10");
}

Test(search_mv, order_by_with_tie_breakers)
{
	cr_expect_str_eq(MV("", ORDER("name DESC")), "gamma_x/10,alpha/3,alpha/2,alpha/1,Beta/2,Beta/1");
	cr_expect_str_eq(MV("", ORDER("version_number")), "Beta/1,alpha/1,Beta/2,alpha/2,alpha/3,gamma_x/10");
	cr_expect_str_eq(MV("", ORDER("creation_timestamp DESC")), "alpha/3,alpha/2,Beta/2,Beta/1,alpha/1,gamma_x/10");
	cr_expect_str_eq(MV("", ORDER("last_updated_timestamp ASC")), "gamma_x/10,Beta/2,alpha/1,alpha/2,Beta/1,alpha/3");
	cr_expect_str_eq(MV("name = 'alpha'", ORDER("attribute.version_number ASC")), "alpha/1,alpha/2,alpha/3");
}

Test(search_mv, bad_filters)
{
	BAD_MV("run_id NOT IN ('abc123')", "Invalid comparator for attribute: NOT IN");
	BAD_MV("name IN 'a'", "Invalid comparator for attribute: IN");
	BAD_MV("name IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values.");
	BAD_MV("version_number IN ('1')", "Only the 'run_id' attribute supports comparison with a list");
	BAD_MV("version_number LIKE 1", "Invalid comparator for attribute version_number: LIKE");
	BAD_MV("version_number = 'abc'", "Expected numeric value type for numeric attribute: version_number. Found 'abc'");
	BAD_MV("version_number = abc", "Parameter value is either not quoted");
	BAD_MV("name = 5", "Only the '['creation_timestamp', 'last_updated_timestamp', 'version_number']' attributes "
			   "support comparison with numeric values.");
	BAD_MV("source_path > 's'", "Invalid comparator for attribute: >");
	BAD_MV("creation_timestamp > 5", "Invalid attribute key 'creation_timestamp' specified. Valid keys are "
					 "'['name', 'run_id', 'source_path', 'version_number']'");
	BAD_MV("metrics.a > 1", "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')");
	BAD_MV("tags.a > 'b'", "Invalid comparator for tag: >");
	BAD_MV("tags.a = 1", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1");
	BAD_MV("run_id IN ()", "expected a non-empty list of string values, but got empty list");
	BAD_MV("run_id IN ('a', 1)", "expected string value, punctuation, or whitespace");
}

Test(search_mv, bad_order_by)
{
	BAD_MV_ORDER("Invalid attribute key 'run_id' specified. Valid keys are "
		     "'['creation_timestamp', 'last_updated_timestamp', 'name', 'version_number']'", "run_id");
	BAD_MV_ORDER("Invalid order by key 'env' specified. Valid keys are "
		     "['creation_timestamp', 'last_updated_timestamp', 'name', 'version_number']", "tags.env");
	BAD_MV_ORDER("Invalid entity type 'params'", "params.x");
	BAD_MV_ORDER("`order_by` contains duplicate fields: ['version_number', 'version_number DESC']",
		     "version_number", "version_number DESC");
	BAD_MV_ORDER("Invalid ordering key", "name sideways");
}

/* ---- logged models ---- */

Test(search_lm, compiled_form_and_default_order)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_logged_models(NULL, NULL, 0, &q), 0);
	cr_expect_str_eq(q.where.ptr, "1=1");
	cr_expect_str_eq(q.order.ptr, "lm.creation_time DESC, lm.model_id ASC");
	cr_assert_eq(search_compile_logged_models("", ORDER("creation_timestamp ASC"), &q), 0);
	cr_expect_str_eq(q.order.ptr, "lm.creation_time IS NULL, lm.creation_time ASC, lm.model_id ASC");
	cr_assert_eq(search_compile_logged_models("metrics.acc > 1", ORDER("metrics.acc DESC"), &q), 0);
	cr_assert_eq(q.nbinds, 5);
	cr_expect_str_eq(q.binds[0].text, "acc");
	cr_expect_str_eq(q.binds[1].text, "acc");
	cr_expect_eq(q.binds[2].type, SEARCH_BIND_DOUBLE);
	cr_expect_str_eq(q.binds[3].text, "acc");
	search_sql_release(&q);
	EXPECT_LM(NULL, "m-3,m-4,m-2,m-1,m-5");
}

Test(search_lm, string_attributes)
{
	EXPECT_LM("name = 'lm-a'", "m-1");
	EXPECT_LM("name LIKE 'lm%'", "m-3,m-1,m-5");
	EXPECT_LM("name LIKE 'LM%'", "m-2");
	EXPECT_LM("name ILIKE 'lm%'", "m-3,m-2,m-1,m-5");
	EXPECT_LM("name LIKE 'lm\\%%'", "m-5");
	EXPECT_LM("name LIKE 'lm\\_c'", "m-3");
	EXPECT_LM("attributes.model_type = 'sklearn'", "m-4,m-1");
	EXPECT_LM("model_type != 'sklearn'", "m-2,m-5"); /* NULL never matches */
	EXPECT_LM("model_type ILIKE 'TORCH'", "m-2,m-5");
	EXPECT_LM("source_run_id = 'r1'", "m-4,m-1");
	EXPECT_LM("model_id = 'm-2'", "m-2");
}

Test(search_lm, in_lists_on_any_string_field)
{
	EXPECT_LM("model_id IN ('m-1', 'm-3')", "m-3,m-1");
	EXPECT_LM("model_id NOT IN ('m-1', 'm-3')", "m-4,m-2,m-5");
	EXPECT_LM("name IN ('LM-B', 'other')", "m-4,m-2");
	EXPECT_LM("source_run_id IN ('R1')", ""); /* upper case kept, unlike run ids of model versions */
	EXPECT_LM("params.lr IN ('0.1', '0.01')", "m-3,m-2,m-1");
	EXPECT_LM("tags.team NOT IN ('nlp')", "m-2,m-1");
}

Test(search_lm, status_by_short_name)
{
	EXPECT_LM("status = 'READY'", "m-4,m-1");
	EXPECT_LM("status = 'LOGGED_MODEL_READY'", "m-4,m-1");
	EXPECT_LM("status = '2'", "m-4,m-1");
	EXPECT_LM("status != 'READY'", "m-3,m-2,m-5");
	EXPECT_LM("status IN ('PENDING', 'LOGGED_MODEL_UPLOAD_FAILED')", "m-3,m-2");
	EXPECT_LM("status NOT IN ('READY', 'FAILED')", "m-2,m-5");
	EXPECT_LM("status LIKE 'READ%'", "m-4,m-1");
	EXPECT_LM("status ILIKE 'unspecified'", "m-5");
	EXPECT_LM("status = 'ready'", "");
}

Test(search_lm, numeric_attributes)
{
	EXPECT_LM("creation_time >= 2000", "m-3,m-4,m-2");
	EXPECT_LM("creation_timestamp < 1000", "m-5");
	EXPECT_LM("last_updated_timestamp > 4000", "m-1");
	EXPECT_LM("last_updated_time = 2000", "m-4");
	EXPECT_LM("creation_time != 3000 AND creation_time > 999.5", "m-2,m-1");
}

Test(search_lm, metrics_compare_latest_value)
{
	EXPECT_LM("metrics.acc > 0.8", "m-1");     /* m-2's latest is 0.6, not its earlier 0.95 */
	EXPECT_LM("metrics.acc < 0.65", "m-2");
	EXPECT_LM("metrics.acc = 0.5", "");        /* m-1's old value */
	EXPECT_LM("metrics.acc != 0.9", "m-3,m-4,m-2"); /* NaN is unequal; m-5 has no acc */
	EXPECT_LM("metrics.acc >= 0", "m-4,m-2,m-1");   /* NaN is neither above nor below */
	EXPECT_LM("metrics.`val loss` < 1", "m-5");
	EXPECT_LM("metrics.acc > 0.5 AND metrics.loss < 1", "m-1");
}

Test(search_lm, params_and_tags)
{
	EXPECT_LM("params.lr = '0.01'", "m-3,m-1");
	EXPECT_LM("params.lr = 0.01", "m-3,m-1"); /* a number where a string is wanted: its text */
	EXPECT_LM("params.opt LIKE 'a%'", "m-1");
	EXPECT_LM("params.opt ILIKE 'ADAM'", "m-2,m-1");
	EXPECT_LM("tags.team = 'vision' AND params.lr = '0.01'", "m-1");
	EXPECT_LM("tags.`a b` = 'z'", "m-1");
	EXPECT_LM("tags.team ILIKE 'vision' AND params.opt = 'Adam'", "m-2");
	EXPECT_LM("name = 1", "");
}

Test(search_lm, order_by_fields)
{
	cr_expect_str_eq(LM("", ORDER("name ASC")), "m-2,m-5,m-1,m-3,m-4");
	cr_expect_str_eq(LM("", ORDER("model_type DESC")), "m-2,m-4,m-1,m-5,m-3"); /* NULL last */
	cr_expect_str_eq(LM("", ORDER("model_type ASC")), "m-5,m-4,m-1,m-2,m-3");
	cr_expect_str_eq(LM("", ORDER("status ASC")), "m-5,m-2,m-4,m-1,m-3"); /* enum order */
	cr_expect_str_eq(LM("", ORDER("creation_time")), "m-5,m-1,m-2,m-3,m-4");
	cr_expect_str_eq(LM("", ORDER("last_updated_timestamp DESC")), "m-1,m-2,m-3,m-4,m-5");
	cr_expect_str_eq(LM("", ORDER("model_id DESC")), "m-5,m-4,m-3,m-2,m-1");
	cr_expect_str_eq(LM("", ORDER("source_run_id desc", "name DESC")), "m-5,m-2,m-4,m-1,m-3");
}

Test(search_lm, order_by_metrics)
{
	cr_expect_str_eq(LM("", ORDER("metrics.acc DESC")), "m-1,m-4,m-2,m-3,m-5");
	cr_expect_str_eq(LM("", ORDER("metrics.acc ASC")), "m-2,m-4,m-1,m-3,m-5");
	cr_expect_str_eq(LM("", ORDER("metrics.acc")), "m-2,m-4,m-1,m-3,m-5");
	cr_expect_str_eq(LM("", ORDER("  metrics.val loss  desc ")), "m-5,m-3,m-4,m-2,m-1");
	cr_expect_str_eq(LM("metrics.acc > 0", ORDER("metrics.loss DESC", "metrics.acc DESC")), "m-1,m-4,m-2");
	cr_expect_str_eq(LM("", ORDER("name", "name DESC")), "m-2,m-5,m-1,m-3,m-4"); /* MLflow allows repeats */
}

Test(search_lm, bad_filters)
{
	BAD_LM("metric.acc > 1", "Invalid entity type: 'metric'. Expected one of ['attributes', 'metrics', 'params', 'tags'].");
	BAD_LM("attribute.name = 'a'", "Invalid entity type: 'attribute'");
	BAD_LM("experiment_id = '1'", "Invalid attribute key 'experiment_id' specified. Valid keys are '['creation_time', "
				      "'creation_timestamp', 'last_updated_time', 'last_updated_timestamp', 'model_id', "
				      "'model_type', 'name', 'source_run_id', 'status']'");
	BAD_LM("metrics.acc LIKE 'x'",
	       "Invalid comparison operator for metrics.acc: 'LIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=').");
	BAD_LM("name > 'a'", "Invalid comparison operator for attributes.name: '>'. Expected one of "
			     "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN').");
	BAD_LM("params.lr > 1", "Invalid comparison operator for params.lr: '>'");
	BAD_LM("creation_time IN (1)", "Invalid comparison operator for attributes.creation_time: 'IN'");
	BAD_LM("metrics.acc > 'x'", "Expected numeric value type for metric. Found 'x'");
	BAD_LM("creation_time > '5'", "Expected numeric value type for numeric attribute: creation_time. Found '5'");
	BAD_LM("name = lm", "Parameter value is either not quoted");
	BAD_LM("tags.t = x", "Parameter value is either not quoted");
	BAD_LM("name = 'a' ORDER BY name", "Clauses must be joined by AND");
	BAD_LM("name IN ('a'", "ill-formed list");
	BAD_LM("name = ('a')", "Invalid comparator '=' for a list of values");
}

Test(search_lm, bad_order_by)
{
	BAD_LM_ORDER("Invalid order by field name: params.lr. Only metrics are supported.", "params.lr");
	BAD_LM_ORDER("Invalid order by field name: tags.x. Only metrics are supported.", "tags.x DESC");
	BAD_LM_ORDER("Invalid order by field name: experiment_id", "experiment_id ASC");
	BAD_LM_ORDER("Invalid order by field name: DESC", " DESC");
	BAD_LM_ORDER("Invalid order by field name: name sideways", "name sideways");
	BAD_LM_ORDER("`field_name` in the `order_by` clause must be specified.", "  ");
}

Test(search_lm, postgres_dialect)
{
	struct search_sql q;

	search_sql_init(&q);
	q.dialect = SEARCH_DIALECT_POSTGRES;
	cr_assert_eq(search_compile_logged_models("status ILIKE 'read%' AND tags.t LIKE 'x%'", NULL, 0, &q), 0);
	cr_expect_not_null(strstr(q.where.ptr, "END) ILIKE ?"));
	cr_expect_not_null(strstr(q.where.ptr, "t.value LIKE ?"));
	cr_expect_null(strstr(q.where.ptr, "GLOB"));
	search_sql_release(&q);
}

/* ---- more edges ---- */

Test(search_rm, limits)
{
	struct buf f = BUF_INIT;
	const char *many[51];

	for (int i = 0; i < 251; i++)
		buf_printf(&f, "%sname != 'x%d'", i ? " AND " : "", i);
	BAD_RM(f.ptr, "more than 250 clauses");
	buf_release(&f);
	for (size_t i = 0; i < 51; i++)
		many[i] = "name";
	expect_bad(search_compile_registered_models, NULL, many, 51, "more than 50 clauses");
}

Test(search_mv, a_prompt_model_hides_all_its_versions)
{
	cr_assert_eq(store_exec(rdb, "INSERT INTO model_versions(model, version, creation_time, last_updated_time) "
				     "VALUES (4, 2, 100, 100)"), 0);
	EXPECT_MV("name = 'prompt-a'", "");
	EXPECT_MV(PROMPT " = 'true'", "prompt-a/1");
	EXPECT_MV(PROMPT " != 'false' AND name = 'prompt-a'", "prompt-a/1");
	EXPECT_MV(PROMPT " != 'false' AND version_number = 2", "");
}

Test(search_mv, values_bound_and_postgres)
{
	struct search_sql q;

	search_sql_init(&q);
	q.dialect = SEARCH_DIALECT_POSTGRES;
	cr_assert_eq(search_compile_model_versions("run_id IN ('a''); drop table x', 'B') AND source_path ILIKE 'S3%' "
						   "AND version_number > 1",
						   ORDER("name"), &q), 0);
	cr_expect_null(strstr(q.where.ptr, "drop"));
	cr_expect_not_null(strstr(q.where.ptr, "v.run_id IN (?)")); /* 'B' dropped: not lower case */
	cr_expect_not_null(strstr(q.where.ptr, "v.source ILIKE ?"));
	cr_assert_eq(q.nbinds, 3);
	cr_expect_str_eq(q.binds[0].text, "a'); drop table x");
	cr_expect_eq(q.binds[2].type, SEARCH_BIND_INT64);
	cr_expect_eq(q.binds[2].i, 1);
	cr_expect_str_eq(q.order.ptr, "m.name ASC, v.version DESC");
	search_sql_release(&q);
}

Test(search_lm, latest_metric_among_ties)
{
	/* same timestamp and step: a number beats NaN, the greatest number wins */
	cr_assert_eq(store_exec(rdb, "INSERT INTO logged_model_metrics(model_id, key, value, is_nan, timestamp, step) "
				     "VALUES ('m-4', 'acc', 0.3, 0, 1, 0), ('m-3', 'acc', 0.1, 0, 3, 0),"
				     " ('m-5', 'acc', 5, 0, 1, 0), ('m-5', 'acc', 0.2, 0, 1, 7)"),
		     0);
	EXPECT_LM("metrics.acc < 0.5", "m-3,m-5");
	EXPECT_LM("metrics.acc = 0.7", "m-4");
	cr_expect_str_eq(LM("", ORDER("metrics.acc DESC")), "m-1,m-4,m-2,m-5,m-3");
}

Test(search_lm, status_values_are_bound_by_short_name)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_logged_models("status IN ('LOGGED_MODEL_READY', '3', 'odd') AND "
						  "status != 'LOGGED_MODEL_PENDING' AND status LIKE 'LOGGED%'",
						  NULL, 0, &q), 0);
	cr_assert_eq(q.nbinds, 5);
	cr_expect_str_eq(q.binds[0].text, "READY");
	cr_expect_str_eq(q.binds[1].text, "FAILED");
	cr_expect_str_eq(q.binds[2].text, "odd");
	cr_expect_str_eq(q.binds[3].text, "PENDING");
	cr_expect_str_eq(q.binds[4].text, "LOGGED*"); /* patterns match the short name */
	search_sql_release(&q);
	EXPECT_LM("status LIKE 'LOGGED%'", "");
}

Test(search_lm, failure_leaves_nothing_and_recompiling_releases)
{
	struct search_sql q;

	search_sql_init(&q);
	cr_assert_eq(search_compile_logged_models("params.a = 'b' AND tags.c = 'd'", ORDER("metrics.m"), &q), 0);
	cr_expect_eq(q.nbinds, 6);
	cr_assert_eq(search_compile_logged_models("name = 'x'", NULL, 0, &q), 0);
	cr_expect_eq(q.nbinds, 1);
	cr_assert_eq(search_compile_logged_models("name = 'x'", ORDER("bogus"), &q), CAIRN_EINVALID);
	cr_expect_eq(q.nbinds, 0);
	cr_expect_eq(q.where.len, 0);
	cr_expect_eq(q.order.len, 0);
	search_sql_release(&q);
}
