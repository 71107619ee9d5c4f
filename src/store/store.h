/* store.h - the metadata store: one interface over SQL backends.
 *
 * A struct store is one connection, used by one thread at a time; a
 * struct store_pool hands connections to server threads. Statements use '?'
 * placeholders and the portable SQL subset both backends accept (RETURNING,
 * ON CONFLICT ... DO UPDATE). The SQLite backend is the default
 * ("sqlite:PATH" or a plain path); a PostgreSQL backend is a new file
 * implementing struct store_backend (store_backend.h).
 *
 * Prepared statements are cached per connection: store_prepare() returns a
 * borrowed statement that stays valid until store_close(); call
 * store_reset() when done with it (also done by the next store_prepare of
 * the same SQL). A write is acknowledged only after store_commit() returns 0.
 *
 * Waits are bounded. A pool's connections wait at most the pool's wait limit
 * for a free connection, for the pool's one writer slot and for the
 * database's own lock (held by another process); past it the call fails
 * with CAIRN_EBUSY ("try again later", HTTP 503), never hangs.
 */
#ifndef CAIRN_STORE_STORE_H
#define CAIRN_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_stmt;
struct store_pool;

enum { STORE_DONE = 0, STORE_ROW = 1 };

/* Open a connection; applies pending migrations (under an exclusive lock). */
int store_open(const char *uri, struct store **out);
void store_close(struct store *s);

/* Transactions: begin_write takes the write lock up front (no upgrade
 * deadlocks); CAIRN_EBUSY when it cannot within the wait limit. A thread
 * holds at most one write transaction: beginning a second one on the same
 * connection, or on another connection of the same pool while the first is
 * open, is a bug (it would wait for itself) and aborts.
 * store_commit: on failure the transaction is rolled back and the write lock
 * released before it returns (a store_rollback after it is harmless). */
int store_begin_write(struct store *s);
/* store_begin_write that does not wait: CAIRN_EBUSY at once when another
 * write holds the pool's writer slot or the database's lock. For writes a
 * reader may skip (a cache it could fill), never for a client's write. */
int store_try_begin_write(struct store *s);
int store_begin_read(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* true inside a write transaction (between begin_write and commit/rollback) */
bool store_in_write(const struct store *s);

int store_prepare(struct store *s, const char *sql, struct store_stmt **out);
/* Bind parameter idx (1-based). NULL text binds SQL NULL. */
int store_bind_text(struct store_stmt *st, int idx, const char *v);
int store_bind_textn(struct store_stmt *st, int idx, const char *v, size_t n);
int store_bind_int64(struct store_stmt *st, int idx, int64_t v);
int store_bind_double(struct store_stmt *st, int idx, double v);
int store_bind_null(struct store_stmt *st, int idx);
/* Bind n bytes as a BLOB (copied). */
int store_bind_blob(struct store_stmt *st, int idx, const void *p, size_t n);
/* STORE_ROW, STORE_DONE, or a negative error (CAIRN_EEXISTS on a unique violation). */
int store_step(struct store_stmt *st);
/* Column accessors (0-based); text is borrowed until the next step/reset, "" for NULL. */
const char *store_col_text(struct store_stmt *st, int col);
int64_t store_col_int64(struct store_stmt *st, int col);
double store_col_double(struct store_stmt *st, int col);
bool store_col_is_null(struct store_stmt *st, int col);
/* A BLOB column's bytes (borrowed as text is; NULL with *n 0 for NULL or empty). */
const void *store_col_blob(struct store_stmt *st, int col, size_t *n);
void store_reset(struct store_stmt *st);
/* Run SQL without parameters or results (may hold several statements). */
int store_exec(struct store *s, const char *sql);
/* Number of rows changed by the last statement. */
int64_t store_changes(struct store *s);

/* Pool of connections for server threads: at most max_conns (0: 8), opened
 * as needed. wait_ms (0: STORE_POOL_WAIT_MS) bounds every wait of the pool's
 * connections (see above). Give a server at least one connection per thread
 * that may hold one, so that the limit is only reached under overload. */
#define STORE_POOL_WAIT_MS 5000
int store_pool_open(const char *uri, unsigned max_conns, unsigned wait_ms, struct store_pool **out);
/* What a pool has waited for so far (for /metrics). */
struct store_pool_stats {
	uint64_t conn_waits;       /* store_pool_get calls that found no free connection */
	uint64_t conn_wait_ns;     /* ... and the time they waited */
	uint64_t conn_timeouts;    /* ... of them, those that gave up (CAIRN_EBUSY) */
	uint64_t writer_waits;     /* store_begin_write calls that found another write open */
	uint64_t writer_wait_ns;   /* ... and the time they waited for the writer slot */
	uint64_t writer_timeouts;  /* ... of them, those that gave up */
	unsigned open;             /* connections open now */
	unsigned in_use;           /* ... of them handed out */
	unsigned max;              /* the pool's size */
};
void store_pool_stats(struct store_pool *p, struct store_pool_stats *out);
/* A free connection, waiting up to the wait limit; CAIRN_EBUSY past it. */
int store_pool_get(struct store_pool *p, struct store **out);
void store_pool_put(struct store_pool *p, struct store *s);
void store_pool_close(struct store_pool *p);

/* Fault injection for tests: core/fault.h's FAULT_STORE_BEGIN (in
 * store_begin_write and store_try_begin_write, after the writer slot is taken), FAULT_STORE_COMMIT and
 * FAULT_STORE_STEP fail with fault_code() and an "injected" message instead of
 * reaching the backend. An injected commit failure leaves the backend's
 * transaction open, as a failed COMMIT may, so the rollback path is exercised. */

#endif
