/* fuzz_filter.c - libFuzzer target for the search grammar (src/tracking/search.c).
 *
 * The input is split at NUL bytes: the first piece is the filter, the others
 * (up to 8) are order_by entries. Each is compiled for runs, experiments,
 * registered models, model versions and logged models, for both SQL
 * dialects, and the result is checked: success leaves one bind
 * per '?' and SQL made only of cairn's own text (no input byte is ever pasted
 * in), and the SQLite SQL must prepare and run against the real schema (an
 * in-memory store); failure is CAIRN_EINVALID with a message and leaves
 * nothing behind. Built and run by fuzz/run.sh (make fuzz).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/store.h"
#include "tracking/search.h"

#define MAX_ORDER 8

static size_t count_placeholders(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->ptr[i];

		if (c < 0x20 || c > 0x7e) {
			fprintf(stderr, "non-ASCII byte 0x%02x in SQL: %s\n", c, b->ptr);
			abort();
		}
		n += c == '?';
	}
	return n;
}

/* One search: its compiler, and the query its SQL goes into. */
struct target {
	int (*compile)(const char *, const char *const *, size_t, struct search_sql *);
	const char *head;     /* SELECT ... FROM ... */
	const char *tail;     /* a last ORDER BY term, or NULL: order is complete */
	bool hides_prompts;   /* an empty filter still restricts */
};

static const struct target targets[] = {
	{ search_compile_runs, "SELECT r.run_uuid FROM runs r", "r.run_uuid", false },
	{ search_compile_experiments, "SELECT e.experiment_id FROM experiments e", "e.experiment_id", false },
	{ search_compile_registered_models, "SELECT m.name FROM registered_models m", NULL, true },
	{ search_compile_model_versions,
	  "SELECT m.name, v.version FROM model_versions v JOIN registered_models m ON m.id = v.model", NULL, true },
	{ search_compile_logged_models, "SELECT lm.model_id FROM logged_models lm", NULL, false },
};

static void check(int rc, const struct search_sql *q, bool has_filter, const struct target *t)
{
	if (rc == 0) {
		if (count_placeholders(&q->where) + count_placeholders(&q->order) != q->nbinds) {
			fprintf(stderr, "placeholders != binds (%zu)\nwhere: %s\norder: %s\n", q->nbinds,
				q->where.ptr, q->order.ptr);
			abort();
		}
		if (!q->where.len || (!has_filter && !t->hides_prompts && strcmp(q->where.ptr, "1=1")))
			abort();
		if (!t->tail && !q->order.len) /* these searches give a complete order */
			abort();
		for (size_t i = 0; i < q->nbinds; i++)
			if (q->binds[i].type == SEARCH_BIND_TEXT && !q->binds[i].text)
				abort();
		return;
	}
	if (rc != CAIRN_EINVALID || !cairn_error_msg()[0]) {
		fprintf(stderr, "unexpected failure %d: %s\n", rc, cairn_error_msg());
		abort();
	}
	if (q->nbinds || q->binds || q->where.len || q->order.len)
		abort();
}

/* Prepare and run the compiled query over the (empty) schema: it must be valid SQL. */
static void execute(const struct search_sql *q, const struct target *t)
{
	static struct store *db;
	struct buf sql = BUF_INIT;
	struct store_stmt *st;
	int rc;

	if (!db && store_open("sqlite::memory:", &db)) {
		fprintf(stderr, "store_open: %s\n", cairn_error_msg());
		abort();
	}
	buf_printf(&sql, "%s WHERE (%s) ORDER BY %s%s%s", t->head, q->where.ptr, q->order.ptr,
		   q->order.len && t->tail ? ", " : "", t->tail ? t->tail : "");
	if (buf_error(&sql))
		abort();
	if ((rc = store_prepare(db, sql.ptr, &st))) {
		fprintf(stderr, "prepare failed: %s\n%s\n", cairn_error_msg(), sql.ptr);
		abort();
	}
	for (size_t i = 0; i < q->nbinds; i++) {
		const struct search_bind *b = &q->binds[i];

		if (b->type == SEARCH_BIND_TEXT)
			rc = store_bind_text(st, (int)i + 1, b->text);
		else if (b->type == SEARCH_BIND_DOUBLE)
			rc = store_bind_double(st, (int)i + 1, b->d);
		else
			rc = store_bind_int64(st, (int)i + 1, b->i);
		if (rc)
			abort();
	}
	while ((rc = store_step(st)) == STORE_ROW)
		;
	if (rc != STORE_DONE) {
		fprintf(stderr, "step failed: %s\n%s\n", cairn_error_msg(), sql.ptr);
		abort();
	}
	store_reset(st);
	buf_release(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *order[MAX_ORDER];
	size_t n_order = 0;
	struct search_sql q;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t i = 0; i < size && n_order < MAX_ORDER; i++)
		if (s[i] == '\0')
			order[n_order++] = s + i + 1;

	search_sql_init(&q);
	for (int dialect = 0; dialect < 2; dialect++) {
		int rc;

		q.dialect = dialect ? SEARCH_DIALECT_POSTGRES : SEARCH_DIALECT_SQLITE;
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
			rc = targets[t].compile(s, order, n_order, &q);
			check(rc, &q, s[0] != '\0', &targets[t]);
			if (!rc && !dialect)
				execute(&q, &targets[t]);
		}
	}
	search_sql_release(&q);
	free(s);
	return 0;
}
