/* sqlite.c - the SQLite backend: WAL, busy timeout, cached prepared statements. */
#include "store/store_backend.h"
#include "core/fault.h"
#include "core/error.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_CACHE_MAX 96

struct sq_stmt {
	struct store_stmt base; /* must be first */
	sqlite3_stmt *st;
	struct sq_conn *conn;
	char *sql;
	unsigned long last_use;
};

struct sq_conn {
	sqlite3 *db;
	struct sq_stmt *cache[SQ_CACHE_MAX];
	unsigned ncache;
	unsigned long tick;
	int busy_ms;  /* the busy timeout set (restored after a nowait begin) */
};

/* Process-wide SQLite settings, once, before the library initialises:
 * memory statistics off (they take a global mutex on every allocation). */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;

static void sq_config(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static bool sq_accepts(const char *uri)
{
	return !strncmp(uri, "sqlite:", 7) || !strstr(uri, "://");
}

static int sq_err(sqlite3 *db, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(db);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return cairn_error_set(CAIRN_EBUSY, "database is busy: %s", sqlite3_errmsg(db));
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return cairn_error_set(CAIRN_EEXISTS, "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_FULL || rc == SQLITE_IOERR)
		return cairn_error_set(CAIRN_EIO, "database i/o error during %s: %s", what, sqlite3_errmsg(db));
	return cairn_error_set(CAIRN_ERR, "database error during %s: %s", what, sqlite3_errmsg(db));
}

static int sq_exec(void *impl, const char *sql)
{
	struct sq_conn *c = impl;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(c->db, rc, "exec");
}

static void sq_close(void *impl)
{
	struct sq_conn *c = impl;

	if (!c)
		return;
	for (unsigned i = 0; i < c->ncache; i++) {
		sqlite3_finalize(c->cache[i]->st);
		free(c->cache[i]->sql);
		free(c->cache[i]);
	}
	sqlite3_close(c->db);
	free(c);
}

static int sq_open(const char *uri, void **impl)
{
	const char *path = !strncmp(uri, "sqlite:", 7) ? uri + 7 : uri;
	const char *sync = getenv("CAIRN_SQLITE_SYNC");
	struct sq_conn *c = ccalloc(1, sizeof(*c));
	char pragma[128];
	int rc;

	if (!c)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_once(&sq_config_once, sq_config);
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open database '%s': %s", path,
				     c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sq_close(c);
		return rc;
	}
	c->busy_ms = 30000;
	sqlite3_busy_timeout(c->db, c->busy_ms);
	snprintf(pragma, sizeof(pragma), "PRAGMA synchronous=%s;",
		 sync && !strcmp(sync, "full") ? "FULL" : "NORMAL");
	if ((rc = sq_exec(c, "PRAGMA journal_mode=WAL;")) || (rc = sq_exec(c, pragma)) ||
	    (rc = sq_exec(c, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"))) {
		sq_close(c);
		return rc;
	}
	*impl = c;
	return 0;
}

static int sq_begin_write(void *impl) { return sq_exec(impl, "BEGIN IMMEDIATE"); }
/* BEGIN IMMEDIATE with no busy wait: another process's write lock is
 * SQLITE_BUSY (CAIRN_EBUSY) at once. */
static int sq_begin_write_nowait(void *impl)
{
	struct sq_conn *c = impl;
	int rc;

	sqlite3_busy_timeout(c->db, 0);
	rc = sq_exec(impl, "BEGIN IMMEDIATE");
	sqlite3_busy_timeout(c->db, c->busy_ms);
	return rc;
}

static int sq_begin_read(void *impl) { return sq_exec(impl, "BEGIN"); }
static int sq_commit(void *impl) { return sq_exec(impl, "COMMIT"); }

static void sq_rollback(void *impl)
{
	struct sq_conn *c = impl;

	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

extern const struct store_backend store_sqlite_backend;

static int sq_prepare(void *impl, const char *sql, struct store_stmt **out)
{
	struct sq_conn *c = impl;
	struct sq_stmt *s = NULL;
	unsigned victim = 0;
	int rc;

	c->tick++;
	for (unsigned i = 0; i < c->ncache; i++) {
		if (!strcmp(c->cache[i]->sql, sql)) {
			s = c->cache[i];
			sqlite3_reset(s->st);
			sqlite3_clear_bindings(s->st);
			s->last_use = c->tick;
			*out = &s->base;
			return 0;
		}
		if (c->cache[i]->last_use < c->cache[victim]->last_use)
			victim = i;
	}
	s = ccalloc(1, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_err(c->db, rc, "prepare");
		free(s);
		return rc;
	}
	s->sql = cstrdup(sql);
	if (!s->sql) {
		sqlite3_finalize(s->st);
		free(s);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	s->base.be = &store_sqlite_backend;
	s->conn = c;
	s->last_use = c->tick;
	if (c->ncache == SQ_CACHE_MAX) {
		struct sq_stmt *old = c->cache[victim];
		sqlite3_finalize(old->st);
		free(old->sql);
		free(old);
		c->cache[victim] = s;
	} else {
		c->cache[c->ncache++] = s;
	}
	*out = &s->base;
	return 0;
}

#define SQ(st) ((struct sq_stmt *)(st))

static int sq_bind_rc(struct store_stmt *st, int rc)
{
	return rc == SQLITE_OK ? 0 : sq_err(SQ(st)->conn->db, rc, "bind");
}

static int sq_bind_text(struct store_stmt *st, int idx, const char *v, size_t n)
{
	return sq_bind_rc(st, sqlite3_bind_text64(SQ(st)->st, idx, v, n, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_int64(struct store_stmt *st, int idx, int64_t v)
{
	return sq_bind_rc(st, sqlite3_bind_int64(SQ(st)->st, idx, v));
}

static int sq_bind_double(struct store_stmt *st, int idx, double v)
{
	return sq_bind_rc(st, sqlite3_bind_double(SQ(st)->st, idx, v));
}

static int sq_bind_null(struct store_stmt *st, int idx)
{
	return sq_bind_rc(st, sqlite3_bind_null(SQ(st)->st, idx));
}

static int sq_step(struct store_stmt *st)
{
	int rc = sqlite3_step(SQ(st)->st);

	if (rc == SQLITE_ROW)
		return STORE_ROW;
	if (rc == SQLITE_DONE)
		return STORE_DONE;
	rc = sq_err(SQ(st)->conn->db, rc, "step");
	sqlite3_reset(SQ(st)->st);
	return rc;
}

static const char *sq_col_text(struct store_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(SQ(st)->st, col);

	return t ? (const char *)t : "";
}

static int sq_bind_blob(struct store_stmt *st, int idx, const void *p, size_t n)
{
	return sq_bind_rc(st, sqlite3_bind_blob64(SQ(st)->st, idx, n ? p : "", n, SQLITE_TRANSIENT));
}

static const void *sq_col_blob(struct store_stmt *st, int col, size_t *n)
{
	const void *p = sqlite3_column_blob(SQ(st)->st, col);

	*n = p ? (size_t)sqlite3_column_bytes(SQ(st)->st, col) : 0;
	return p;
}

static int64_t sq_col_int64(struct store_stmt *st, int col)
{
	return sqlite3_column_int64(SQ(st)->st, col);
}

static double sq_col_double(struct store_stmt *st, int col)
{
	return sqlite3_column_double(SQ(st)->st, col);
}

static bool sq_col_is_null(struct store_stmt *st, int col)
{
	return sqlite3_column_type(SQ(st)->st, col) == SQLITE_NULL;
}

static void sq_reset(struct store_stmt *st)
{
	sqlite3_reset(SQ(st)->st);
	sqlite3_clear_bindings(SQ(st)->st);
}

static int64_t sq_changes(void *impl)
{
	return sqlite3_changes64(((struct sq_conn *)impl)->db);
}

static int sq_with_migration_lock(void *impl, int (*fn)(struct store *s), struct store *s)
{
	int rc = sq_exec(impl, "BEGIN EXCLUSIVE");

	if (rc)
		return rc;
	rc = fn(s);
	if (!rc)
		rc = sq_commit(impl);
	if (rc)
		sq_rollback(impl); /* a failed COMMIT may leave the transaction open */
	return rc;
}

static int sq_set_lock_timeout(void *impl, unsigned ms)
{
	struct sq_conn *c = impl;
	int rc;

	c->busy_ms = ms > INT_MAX ? INT_MAX : (int)ms;
	rc = sqlite3_busy_timeout(c->db, c->busy_ms);
	return rc == SQLITE_OK ? 0 : sq_err(c->db, rc, "busy timeout");
}

const struct store_backend store_sqlite_backend = {
	.version = STORE_BACKEND_VERSION,
	.name = "sqlite",
	.accepts = sq_accepts,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.begin_write = sq_begin_write,
	.begin_read = sq_begin_read,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.prepare = sq_prepare,
	.bind_text = sq_bind_text,
	.bind_int64 = sq_bind_int64,
	.bind_double = sq_bind_double,
	.bind_null = sq_bind_null,
	.bind_blob = sq_bind_blob,
	.step = sq_step,
	.col_text = sq_col_text,
	.col_int64 = sq_col_int64,
	.col_double = sq_col_double,
	.col_is_null = sq_col_is_null,
	.col_blob = sq_col_blob,
	.reset = sq_reset,
	.changes = sq_changes,
	.with_migration_lock = sq_with_migration_lock,
	.set_lock_timeout = sq_set_lock_timeout,
	.begin_write_nowait = sq_begin_write_nowait,
};
