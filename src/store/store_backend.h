/* store_backend.h - the vtable a metadata backend implements (SQLite, PostgreSQL). */
#ifndef CAIRN_STORE_BACKEND_H
#define CAIRN_STORE_BACKEND_H

#include "store/store.h"

#define STORE_BACKEND_VERSION 2 /* 2: bind_blob, col_blob, begin_write_nowait */

struct store_backend {
	int version;
	const char *name;
	/* true when this backend handles the uri */
	bool (*accepts)(const char *uri);
	int (*open)(const char *uri, void **impl);
	void (*close)(void *impl);
	int (*exec)(void *impl, const char *sql);
	int (*begin_write)(void *impl);
	int (*begin_read)(void *impl);
	int (*commit)(void *impl);
	void (*rollback)(void *impl);
	int (*prepare)(void *impl, const char *sql, struct store_stmt **out);
	int (*bind_text)(struct store_stmt *st, int idx, const char *v, size_t n);
	int (*bind_int64)(struct store_stmt *st, int idx, int64_t v);
	int (*bind_double)(struct store_stmt *st, int idx, double v);
	int (*bind_null)(struct store_stmt *st, int idx);
	int (*bind_blob)(struct store_stmt *st, int idx, const void *p, size_t n);
	int (*step)(struct store_stmt *st);
	const char *(*col_text)(struct store_stmt *st, int col);
	int64_t (*col_int64)(struct store_stmt *st, int col);
	double (*col_double)(struct store_stmt *st, int col);
	bool (*col_is_null)(struct store_stmt *st, int col);
	const void *(*col_blob)(struct store_stmt *st, int col, size_t *n);
	void (*reset)(struct store_stmt *st);
	int64_t (*changes)(void *impl);
	/* run fn under the backend's cross-process migration lock */
	int (*with_migration_lock)(void *impl, int (*fn)(struct store *s), struct store *s);
	/* optional: how long a statement waits for a lock held by another
	 * process before failing with CAIRN_EBUSY */
	int (*set_lock_timeout)(void *impl, unsigned ms);
	/* optional: begin_write failing with CAIRN_EBUSY at once when another
	 * process holds the database's write lock (else begin_write is used) */
	int (*begin_write_nowait)(void *impl);
};

/* Every statement starts with the backend pointer so store.c can dispatch. */
struct store_stmt {
	const struct store_backend *be;
};

extern const struct store_backend store_sqlite_backend;

/* migrate.c: bring the schema to the newest version (called with the lock held). */
int store_migrate(struct store *s);

#endif
