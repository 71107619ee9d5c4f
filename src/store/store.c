/* store.c - backend dispatch, migrations at open, the connection pool with
 * bounded waits, and the store's fault-injection points for tests. */
#include "store/store.h"
#include "core/fault.h"
#include "store/store_backend.h"
#include "core/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
	const struct store_backend *be;
	void *impl;
	struct store *next_free;  /* pool free list link */
	struct store_pool *pool;  /* the pool it belongs to, NULL outside a pool */
	bool writing;             /* inside a write transaction */
};

struct store_pool {
	char *uri;
	pthread_mutex_t mu;        /* guards everything below */
	pthread_cond_t conn_cv;    /* a connection came back */
	pthread_cond_t writer_cv;  /* the writer slot came free */
	struct store *free_list;
	unsigned open;             /* connections open (free or handed out) */
	unsigned max;              /* most connections open at once */
	unsigned wait_ms;          /* limit of every wait */
	struct store *writer;      /* connection in a write transaction, NULL when none */
	pthread_t writer_thread;   /* the thread that began it (valid while writer is set) */
	struct store_pool_stats stats; /* waits so far (open and in_use filled on read) */
	unsigned in_use;           /* connections handed out */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- fault injection (tests): the store's points of core/fault ---- */

/* 0, or the armed code when this call is the one to fail. */
static int store__fault(enum fault_kind at)
{
	if (!fault_fail(at))
		return 0;
	return cairn_error_set(fault_code(), "injected %s failure",
			       at == FAULT_STORE_BEGIN ? "begin_write" : at == FAULT_STORE_COMMIT ? "commit" : "step");
}

/* ---- bounded waits ---- */

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Condition variables that time out on the monotonic clock (immune to the
 * wall clock being set). */
static void cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

/* Take the pool's writer slot for s. Writers of one pool queue here rather
 * than in the database's busy handler (SQLite's sleeps and retries): one
 * writer at a time is all SQLite allows anyway, and a condition variable
 * hands over in microseconds. */
static int pool__writer_take(struct store_pool *p, struct store *s)
{
	struct timespec until;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (p->writer && pthread_equal(p->writer_thread, pthread_self())) {
		pthread_mutex_unlock(&p->mu);
		CAIRN_BUG("store_begin_write nested on one thread: it would wait for itself");
	}
	if (p->writer) {
		uint64_t t0 = mono_ns();
		deadline_after(&until, p->wait_ms);
		while (p->writer && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->writer_cv, &p->mu, &until);
		p->stats.writer_waits++;
		p->stats.writer_wait_ns += mono_ns() - t0;
	}
	if (p->writer) {
		p->stats.writer_timeouts++;
		pthread_mutex_unlock(&p->mu);
		return cairn_error_set(CAIRN_EBUSY, "the database is busy: waited %u ms for another write to finish; "
						   "try again", p->wait_ms);
	}
	p->writer = s;
	p->writer_thread = pthread_self();
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Take the writer slot only if it is free now. */
static int pool__writer_try(struct store_pool *p, struct store *s)
{
	pthread_mutex_lock(&p->mu);
	if (p->writer && pthread_equal(p->writer_thread, pthread_self())) {
		pthread_mutex_unlock(&p->mu);
		CAIRN_BUG("store_try_begin_write nested on one thread");
	}
	if (p->writer) {
		pthread_mutex_unlock(&p->mu);
		return cairn_error_set(CAIRN_EBUSY, "the database is busy: another write is open");
	}
	p->writer = s;
	p->writer_thread = pthread_self();
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void pool__writer_give(struct store_pool *p, struct store *s)
{
	pthread_mutex_lock(&p->mu);
	CAIRN_ASSERT(p->writer == s);
	p->writer = NULL;
	pthread_cond_signal(&p->writer_cv);
	pthread_mutex_unlock(&p->mu);
}

/* Leave the write transaction's bookkeeping (the backend's is done). */
static void store__end_write(struct store *s)
{
	if (!s->writing)
		return;
	s->writing = false;
	if (s->pool)
		pool__writer_give(s->pool, s);
}

static const struct store_backend *const backends[] = {
	&store_sqlite_backend,
};

static int store_open_conn(const char *uri, bool migrate, struct store **out)
{
	const struct store_backend *be = NULL;
	struct store *s;
	int rc;

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->accepts(uri))
			be = backends[i];
	if (!be)
		return cairn_error_set(CAIRN_EINVALID, "unsupported store uri '%s'", uri);
	s = ccalloc(1, sizeof(*s));
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->be = be;
	rc = be->open(uri, &s->impl);
	if (rc) {
		free(s);
		return rc;
	}
	if (migrate) {
		rc = be->with_migration_lock(s->impl, store_migrate, s);
		if (rc) {
			store_close(s);
			return rc;
		}
	}
	*out = s;
	return 0;
}

int store_open(const char *uri, struct store **out)
{
	return store_open_conn(uri, true, out);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	s->be->close(s->impl);
	free(s);
}

int store_begin_write(struct store *s)
{
	int rc;

	CAIRN_ASSERT(!s->writing); /* nested on one connection */
	if (s->pool && (rc = pool__writer_take(s->pool, s)))
		return rc;
	s->writing = true;
	if ((rc = store__fault(FAULT_STORE_BEGIN)) || (rc = s->be->begin_write(s->impl))) {
		s->be->rollback(s->impl);
		store__end_write(s);
	}
	return rc;
}

int store_try_begin_write(struct store *s)
{
	int (*begin)(void *) = s->be->begin_write_nowait ? s->be->begin_write_nowait : s->be->begin_write;
	int rc;

	CAIRN_ASSERT(!s->writing); /* nested on one connection */
	if (s->pool && (rc = pool__writer_try(s->pool, s)))
		return rc;
	s->writing = true;
	if ((rc = store__fault(FAULT_STORE_BEGIN)) || (rc = begin(s->impl))) {
		s->be->rollback(s->impl);
		store__end_write(s);
	}
	return rc;
}

int store_begin_read(struct store *s) { return s->be->begin_read(s->impl); }

int store_commit(struct store *s)
{
	int rc = store__fault(FAULT_STORE_COMMIT);

	if (!rc)
		rc = s->be->commit(s->impl);
	if (rc)
		s->be->rollback(s->impl); /* a failed COMMIT may leave the transaction open */
	store__end_write(s);
	return rc;
}

void store_rollback(struct store *s)
{
	s->be->rollback(s->impl);
	store__end_write(s);
}

bool store_in_write(const struct store *s) { return s->writing; }

int store_exec(struct store *s, const char *sql) { return s->be->exec(s->impl, sql); }
int64_t store_changes(struct store *s) { return s->be->changes(s->impl); }

int store_prepare(struct store *s, const char *sql, struct store_stmt **out)
{
	return s->be->prepare(s->impl, sql, out);
}

int store_bind_text(struct store_stmt *st, int idx, const char *v)
{
	if (!v)
		return st->be->bind_null(st, idx);
	return st->be->bind_text(st, idx, v, strlen(v));
}

int store_bind_textn(struct store_stmt *st, int idx, const char *v, size_t n)
{
	return st->be->bind_text(st, idx, v, n);
}

int store_bind_int64(struct store_stmt *st, int idx, int64_t v) { return st->be->bind_int64(st, idx, v); }
int store_bind_double(struct store_stmt *st, int idx, double v) { return st->be->bind_double(st, idx, v); }
int store_bind_null(struct store_stmt *st, int idx) { return st->be->bind_null(st, idx); }
int store_bind_blob(struct store_stmt *st, int idx, const void *p, size_t n) { return st->be->bind_blob(st, idx, p, n); }
int store_step(struct store_stmt *st)
{
	int rc = store__fault(FAULT_STORE_STEP);

	return rc ? rc : st->be->step(st);
}
const char *store_col_text(struct store_stmt *st, int col) { return st->be->col_text(st, col); }
int64_t store_col_int64(struct store_stmt *st, int col) { return st->be->col_int64(st, col); }
double store_col_double(struct store_stmt *st, int col) { return st->be->col_double(st, col); }
bool store_col_is_null(struct store_stmt *st, int col) { return st->be->col_is_null(st, col); }
const void *store_col_blob(struct store_stmt *st, int col, size_t *n) { return st->be->col_blob(st, col, n); }

void store_reset(struct store_stmt *st)
{
	if (st)
		st->be->reset(st);
}

/* Open one connection for the pool (migrating when it is the first). */
static int pool__open_conn(struct store_pool *p, bool migrate, struct store **out)
{
	struct store *s = NULL;
	int rc;

	if ((rc = store_open_conn(p->uri, migrate, &s)))
		return rc;
	if (s->be->set_lock_timeout && (rc = s->be->set_lock_timeout(s->impl, p->wait_ms))) {
		store_close(s);
		return rc;
	}
	s->pool = p;
	*out = s;
	return 0;
}

int store_pool_open(const char *uri, unsigned max_conns, unsigned wait_ms, struct store_pool **out)
{
	struct store_pool *p = ccalloc(1, sizeof(*p));
	struct store *first = NULL;
	int rc;

	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->uri = cstrdup(uri);
	if (!p->uri) {
		free(p);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	cond_init_monotonic(&p->conn_cv);
	cond_init_monotonic(&p->writer_cv);
	p->max = max_conns ? max_conns : 8;
	p->wait_ms = wait_ms ? wait_ms : STORE_POOL_WAIT_MS;
	/* the first connection migrates the schema */
	rc = pool__open_conn(p, true, &first);
	if (rc) {
		store_pool_close(p);
		return rc;
	}
	p->free_list = first;
	p->open = 1;
	*out = p;
	return 0;
}

void store_pool_stats(struct store_pool *p, struct store_pool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->stats;
	out->open = p->open;
	out->in_use = p->in_use;
	out->max = p->max;
	pthread_mutex_unlock(&p->mu);
}

int store_pool_get(struct store_pool *p, struct store **out)
{
	struct timespec until;
	struct store *s;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	if (!p->free_list && p->open >= p->max) {
		uint64_t t0 = mono_ns();
		deadline_after(&until, p->wait_ms);
		while (!p->free_list && p->open >= p->max && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&p->conn_cv, &p->mu, &until);
		p->stats.conn_waits++;
		p->stats.conn_wait_ns += mono_ns() - t0;
	}
	s = p->free_list;
	if (s) {
		p->free_list = s->next_free;
		p->in_use++;
		pthread_mutex_unlock(&p->mu);
		s->next_free = NULL;
		*out = s;
		return 0;
	}
	if (p->open >= p->max) {
		p->stats.conn_timeouts++;
		pthread_mutex_unlock(&p->mu);
		return cairn_error_set(CAIRN_EBUSY, "the server is busy: all %u database connections were in use "
						   "for %u ms; try again", p->max, p->wait_ms);
	}
	p->open++;
	p->in_use++;
	pthread_mutex_unlock(&p->mu);
	rc = pool__open_conn(p, false, &s);
	if (rc) {
		pthread_mutex_lock(&p->mu);
		p->open--;
		p->in_use--;
		pthread_cond_signal(&p->conn_cv);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	*out = s;
	return 0;
}

void store_pool_put(struct store_pool *p, struct store *s)
{
	if (!s)
		return;
	CAIRN_ASSERT(s->pool == p);
	if (s->writing) {
		/* a handler returned inside a write transaction: a bug, but never leak the lock */
		store_rollback(s);
	}
	pthread_mutex_lock(&p->mu);
	s->next_free = p->free_list;
	p->free_list = s;
	p->in_use--;
	pthread_cond_signal(&p->conn_cv);
	pthread_mutex_unlock(&p->mu);
}

void store_pool_close(struct store_pool *p)
{
	if (!p)
		return;
	while (p->free_list) {
		struct store *s = p->free_list;
		p->free_list = s->next_free;
		store_close(s);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->conn_cv);
	pthread_cond_destroy(&p->writer_cv);
	free(p->uri);
	free(p);
}
