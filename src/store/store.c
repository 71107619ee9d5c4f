/* store.c - backend dispatch, migrations at open, and the connection pool. */
#include "store/store.h"
#include "store/store_backend.h"
#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct store {
	const struct store_backend *be;
	void *impl;
	struct store *next_free;     /* pool free list link */
	pthread_mutex_t *write_lock; /* the pool's writer mutex, NULL outside a pool */
	bool writing;                /* holds write_lock (inside a write transaction) */
};

static void store__unlock(struct store *s)
{
	if (s->writing) {
		s->writing = false;
		pthread_mutex_unlock(s->write_lock);
	}
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
	s = calloc(1, sizeof(*s));
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

/* Writers of one pool queue on a mutex rather than in the database's busy
 * handler (SQLite's sleeps and retries): one writer at a time is all SQLite
 * allows anyway, and a mutex hands over in microseconds. */
int store_begin_write(struct store *s)
{
	int rc;

	if (s->write_lock) {
		pthread_mutex_lock(s->write_lock);
		s->writing = true;
	}
	rc = s->be->begin_write(s->impl);
	if (rc)
		store__unlock(s);
	return rc;
}

int store_begin_read(struct store *s) { return s->be->begin_read(s->impl); }

int store_commit(struct store *s)
{
	int rc = s->be->commit(s->impl);

	if (!rc)
		store__unlock(s);
	return rc;
}

void store_rollback(struct store *s)
{
	s->be->rollback(s->impl);
	store__unlock(s);
}
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
int store_step(struct store_stmt *st) { return st->be->step(st); }
const char *store_col_text(struct store_stmt *st, int col) { return st->be->col_text(st, col); }
int64_t store_col_int64(struct store_stmt *st, int col) { return st->be->col_int64(st, col); }
double store_col_double(struct store_stmt *st, int col) { return st->be->col_double(st, col); }
bool store_col_is_null(struct store_stmt *st, int col) { return st->be->col_is_null(st, col); }

void store_reset(struct store_stmt *st)
{
	if (st)
		st->be->reset(st);
}

struct store_pool {
	char *uri;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t write_lock; /* one writer at a time (see store_begin_write) */
	struct store *free_list;
	unsigned open;
	unsigned max;
};

int store_pool_open(const char *uri, unsigned max_conns, struct store_pool **out)
{
	struct store_pool *p = calloc(1, sizeof(*p));
	struct store *first = NULL;
	int rc;

	if (!p)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->uri = strdup(uri);
	if (!p->uri) {
		free(p);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->write_lock, NULL);
	p->max = max_conns ? max_conns : 8;
	/* the first connection migrates the schema */
	rc = store_open_conn(uri, true, &first);
	if (rc) {
		store_pool_close(p);
		return rc;
	}
	first->write_lock = &p->write_lock;
	p->free_list = first;
	p->open = 1;
	*out = p;
	return 0;
}

int store_pool_get(struct store_pool *p, struct store **out)
{
	struct store *s;
	int rc;

	pthread_mutex_lock(&p->mu);
	while (!p->free_list && p->open >= p->max)
		pthread_cond_wait(&p->cv, &p->mu);
	s = p->free_list;
	if (s) {
		p->free_list = s->next_free;
		pthread_mutex_unlock(&p->mu);
		*out = s;
		return 0;
	}
	p->open++;
	pthread_mutex_unlock(&p->mu);
	rc = store_open_conn(p->uri, false, &s);
	if (!rc)
		s->write_lock = &p->write_lock;
	if (rc) {
		pthread_mutex_lock(&p->mu);
		p->open--;
		pthread_cond_signal(&p->cv);
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
	if (s->writing) {
		/* a handler returned inside a write transaction: a bug, but never leak the lock */
		store_rollback(s);
	}
	pthread_mutex_lock(&p->mu);
	s->next_free = p->free_list;
	p->free_list = s;
	pthread_cond_signal(&p->cv);
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
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->write_lock);
	free(p->uri);
	free(p);
}
