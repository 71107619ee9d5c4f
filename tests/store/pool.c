/* Unit tests for the store pool's bounded waits, the writer slot, nesting
 * asserts, and commit failure (through the store's fault-injection points).
 *
 * Pools here use a 200 ms wait limit, so "bounded" is checked as "failed
 * with CAIRN_EBUSY after at least the limit and well under the old 30 s". */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "store/store.h"
#include "core/fault.h"

#define WAIT_MS 200

static char dir[64];
static char uri[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-pool-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/t.db", dir);
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(store_pool, .init = setup, .fini = teardown, .timeout = 20);

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int64_t count_rows(struct store *s, const char *name)
{
	struct store_stmt *q;
	int64_t n;

	cr_assert_eq(store_prepare(s, "SELECT count(*) FROM experiments WHERE name = ?", &q), 0);
	store_bind_text(q, 1, name);
	cr_assert_eq(store_step(q), STORE_ROW);
	n = store_col_int64(q, 0);
	store_reset(q);
	return n;
}

static int insert(struct store *s, const char *name)
{
	struct store_stmt *q;
	int rc;

	if ((rc = store_prepare(s, "INSERT INTO experiments(name, artifact_location, creation_time, "
				   "last_update_time) VALUES (?, '', 0, 0)", &q)))
		return rc;
	store_bind_text(q, 1, name);
	rc = store_step(q);
	store_reset(q);
	return rc < 0 ? rc : 0;
}

/* A thread that takes a connection (and optionally the writer slot) and
 * holds it until told to let go. */
struct holder {
	struct store_pool *p;
	bool write;                /* also begin a write transaction */
	int hold_ms;               /* > 0: let go by itself after this long */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool holding, release;
	pthread_t th;
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	struct store *s;

	cr_assert_eq(store_pool_get(h->p, &s), 0, "%s", cairn_error_msg());
	if (h->write)
		cr_assert_eq(store_begin_write(s), 0, "%s", cairn_error_msg());
	pthread_mutex_lock(&h->mu);
	h->holding = true;
	pthread_cond_broadcast(&h->cv);
	if (h->hold_ms > 0) {
		pthread_mutex_unlock(&h->mu);
		usleep((useconds_t)h->hold_ms * 1000);
	} else {
		while (!h->release)
			pthread_cond_wait(&h->cv, &h->mu);
		pthread_mutex_unlock(&h->mu);
	}
	if (h->write)
		cr_assert_eq(store_commit(s), 0);
	store_pool_put(h->p, s);
	return NULL;
}

static void holder_start(struct holder *h, struct store_pool *p, bool write, int hold_ms)
{
	memset(h, 0, sizeof(*h));
	h->p = p;
	h->write = write;
	h->hold_ms = hold_ms;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	cr_assert_eq(pthread_create(&h->th, NULL, holder_main, h), 0);
	pthread_mutex_lock(&h->mu);
	while (!h->holding)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void holder_stop(struct holder *h)
{
	pthread_mutex_lock(&h->mu);
	h->release = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
}

Test(store_pool, get_times_out_with_ebusy_when_every_connection_is_held)
{
	struct store_pool *p;
	struct holder h;
	struct store *s = NULL;
	double t0, dt;

	cr_assert_eq(store_pool_open(uri, 1, WAIT_MS, &p), 0, "%s", cairn_error_msg());
	holder_start(&h, p, false, 0);
	t0 = now_ms();
	cr_assert_eq(store_pool_get(p, &s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_geq(dt, WAIT_MS * 0.9, "gave up after %.0f ms, before the limit", dt);
	cr_assert_lt(dt, WAIT_MS + 2000, "waited %.0f ms", dt);
	cr_assert(strstr(cairn_error_msg(), "busy"), "%s", cairn_error_msg());
	holder_stop(&h);
	/* the connection came back: get works again */
	cr_assert_eq(store_pool_get(p, &s), 0);
	store_pool_put(p, s);
	store_pool_close(p);
}

Test(store_pool, get_is_woken_by_a_returned_connection)
{
	struct store_pool *p;
	struct holder h;
	struct store *s = NULL;

	cr_assert_eq(store_pool_open(uri, 1, 5000, &p), 0);
	holder_start(&h, p, false, 50);
	cr_assert_eq(store_pool_get(p, &s), 0, "%s", cairn_error_msg());
	store_pool_put(p, s);
	holder_stop(&h);
	store_pool_close(p);
}

Test(store_pool, pool_sized_above_its_users_never_waits)
{
	struct store_pool *p;
	struct holder h[4];
	struct store *s = NULL;
	double t0;

	/* as api_ctx_open sizes it: one per thread plus one */
	cr_assert_eq(store_pool_open(uri, 5, WAIT_MS, &p), 0);
	for (int i = 0; i < 4; i++)
		holder_start(&h[i], p, false, 0);
	t0 = now_ms();
	cr_assert_eq(store_pool_get(p, &s), 0, "%s", cairn_error_msg());
	cr_assert_lt(now_ms() - t0, WAIT_MS / 2);
	store_pool_put(p, s);
	for (int i = 0; i < 4; i++)
		holder_stop(&h[i]);
	store_pool_close(p);
}

Test(store_pool, writer_slot_wait_is_bounded)
{
	struct store_pool *p;
	struct holder h;
	struct store *s = NULL;
	double t0, dt;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	holder_start(&h, p, true, 0);
	cr_assert_eq(store_pool_get(p, &s), 0);
	t0 = now_ms();
	cr_assert_eq(store_begin_write(s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_geq(dt, WAIT_MS * 0.9, "gave up after %.0f ms", dt);
	cr_assert_lt(dt, WAIT_MS + 2000, "waited %.0f ms", dt);
	cr_assert_not(store_in_write(s));
	holder_stop(&h);
	cr_assert_eq(store_begin_write(s), 0, "%s", cairn_error_msg());
	cr_assert_eq(insert(s, "after"), 0);
	cr_assert_eq(store_commit(s), 0);
	store_pool_put(p, s);
	store_pool_close(p);
}

Test(store_pool, writers_queue_and_all_get_through)
{
	struct store_pool *p;
	struct holder h;
	struct store *s = NULL;

	/* a writer that lets go within the limit is waited for, not refused */
	cr_assert_eq(store_pool_open(uri, 2, 5000, &p), 0);
	holder_start(&h, p, true, 50);
	cr_assert_eq(store_pool_get(p, &s), 0);
	cr_assert_eq(store_begin_write(s), 0, "%s", cairn_error_msg());
	cr_assert_eq(store_commit(s), 0);
	store_pool_put(p, s);
	holder_stop(&h);
	store_pool_close(p);
}

Test(store_pool, database_lock_of_another_process_is_waited_for_boundedly)
{
	struct store_pool *p;
	struct store *other, *s = NULL;
	double t0, dt;

	/* a connection outside the pool stands for another process */
	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	cr_assert_eq(store_open(uri, &other), 0);
	cr_assert_eq(store_begin_write(other), 0);
	cr_assert_eq(store_pool_get(p, &s), 0);
	t0 = now_ms();
	cr_assert_eq(store_begin_write(s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_lt(dt, WAIT_MS + 2000, "waited %.0f ms for the database lock", dt);
	cr_assert_not(store_in_write(s));
	store_rollback(other);
	/* the writer slot was given back with the failure */
	cr_assert_eq(store_begin_write(s), 0, "%s", cairn_error_msg());
	store_rollback(s);
	store_pool_put(p, s);
	store_close(other);
	store_pool_close(p);
}

Test(store_pool, nested_begin_write_on_one_connection_aborts, .signal = SIGABRT)
{
	struct store *s;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_begin_write(s), 0);
	store_begin_write(s);
}

Test(store_pool, nested_begin_write_on_one_thread_aborts_instead_of_deadlocking, .signal = SIGABRT)
{
	struct store_pool *p;
	struct store *a, *b;

	/* a long limit: without the assert this waits for itself, then fails */
	cr_assert_eq(store_pool_open(uri, 2, 60000, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_pool_get(p, &b), 0);
	cr_assert_eq(store_begin_write(a), 0);
	store_begin_write(b);
}

Test(store_pool, commit_failure_rolls_back_and_releases_the_writer_slot)
{
	struct store_pool *p;
	struct store *a, *b;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_pool_get(p, &b), 0);
	cr_assert_eq(store_begin_write(a), 0);
	cr_assert_eq(insert(a, "lost"), 0);
	fault_arm_code(FAULT_STORE_COMMIT, 1, 0, CAIRN_EIO);
	cr_assert_eq(store_commit(a), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "injected"), "%s", cairn_error_msg());
	cr_assert_not(store_in_write(a));
	cr_assert_eq(count_rows(a, "lost"), 0, "a failed commit must leave nothing behind");
	/* neither the database lock nor the writer slot is still held */
	cr_assert_eq(store_begin_write(b), 0, "%s", cairn_error_msg());
	cr_assert_eq(insert(b, "kept"), 0);
	cr_assert_eq(store_commit(b), 0);
	cr_assert_eq(count_rows(a, "kept"), 1);
	store_pool_put(p, a);
	store_pool_put(p, b);
	store_pool_close(p);
}

Test(store_pool, begin_write_failure_releases_the_writer_slot)
{
	struct store_pool *p;
	struct store *a, *b;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_pool_get(p, &b), 0);
	fault_arm_code(FAULT_STORE_BEGIN, 1, 0, CAIRN_EIO);
	cr_assert_eq(store_begin_write(a), CAIRN_EIO);
	cr_assert_not(store_in_write(a));
	cr_assert_eq(store_begin_write(b), 0, "%s", cairn_error_msg());
	store_rollback(b);
	/* and the same thread may begin again on the failed connection */
	cr_assert_eq(store_begin_write(a), 0, "%s", cairn_error_msg());
	store_rollback(a);
	store_pool_put(p, a);
	store_pool_put(p, b);
	store_pool_close(p);
}

Test(store_pool, put_inside_a_write_rolls_back)
{
	struct store_pool *p;
	struct store *a, *b;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_begin_write(a), 0);
	cr_assert_eq(insert(a, "abandoned"), 0);
	store_pool_put(p, a);
	cr_assert_eq(store_pool_get(p, &b), 0);
	cr_assert_eq(count_rows(b, "abandoned"), 0);
	cr_assert_eq(store_begin_write(b), 0, "%s", cairn_error_msg());
	store_rollback(b);
	store_pool_put(p, b);
	store_pool_close(p);
}

Test(store_pool, fault_fires_on_the_nth_call_once)
{
	struct store *s;
	struct store_stmt *q;

	cr_assert_eq(store_open(uri, &s), 0);
	cr_assert_eq(store_prepare(s, "SELECT 1", &q), 0);
	fault_arm_code(FAULT_STORE_STEP, 2, 0, CAIRN_EBUSY);
	cr_assert_eq(store_step(q), STORE_ROW);
	store_reset(q);
	cr_assert_eq(store_step(q), CAIRN_EBUSY);
	store_reset(q);
	cr_assert_eq(store_step(q), STORE_ROW);
	store_reset(q);
	store_close(s);
}

/* try_begin_write never waits: a held writer slot or another process's
 * database lock is CAIRN_EBUSY at once, and leaves nothing held. */
Test(store_pool, try_begin_write_refuses_at_once_when_a_write_is_open)
{
	struct store_pool *p;
	struct holder h;
	struct store *other, *s = NULL;
	double t0, dt;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	holder_start(&h, p, true, 0);
	cr_assert_eq(store_pool_get(p, &s), 0);
	t0 = now_ms();
	cr_assert_eq(store_try_begin_write(s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_lt(dt, WAIT_MS / 2, "waited %.0f ms for the writer slot", dt);
	cr_assert_not(store_in_write(s));
	holder_stop(&h);
	cr_assert_eq(store_try_begin_write(s), 0, "%s", cairn_error_msg());
	cr_assert_eq(insert(s, "tried"), 0);
	cr_assert_eq(store_commit(s), 0);
	/* another process holding the database's lock */
	cr_assert_eq(store_open(uri, &other), 0);
	cr_assert_eq(store_begin_write(other), 0);
	t0 = now_ms();
	cr_assert_eq(store_try_begin_write(s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_lt(dt, WAIT_MS / 2, "waited %.0f ms for the database lock", dt);
	cr_assert_not(store_in_write(s));
	store_rollback(other);
	/* the writer slot came back with the failure, and the busy timeout too */
	cr_assert_eq(store_try_begin_write(s), 0, "%s", cairn_error_msg());
	store_rollback(s);
	cr_assert_eq(store_begin_write(other), 0);
	t0 = now_ms();
	cr_assert_eq(store_begin_write(s), CAIRN_EBUSY);
	dt = now_ms() - t0;
	cr_assert_geq(dt, WAIT_MS * 0.9, "gave up after %.0f ms: the lock timeout was not restored", dt);
	store_rollback(other);
	cr_assert_eq(count_rows(s, "tried"), 1);
	store_pool_put(p, s);
	store_close(other);
	store_pool_close(p);
}

Test(store_pool, try_begin_write_failure_releases_the_writer_slot)
{
	struct store_pool *p;
	struct store *a, *b;

	cr_assert_eq(store_pool_open(uri, 2, WAIT_MS, &p), 0);
	cr_assert_eq(store_pool_get(p, &a), 0);
	cr_assert_eq(store_pool_get(p, &b), 0);
	fault_arm_code(FAULT_STORE_BEGIN, 1, 0, CAIRN_EIO);
	cr_assert_eq(store_try_begin_write(a), CAIRN_EIO);
	cr_assert_not(store_in_write(a));
	cr_assert_eq(store_try_begin_write(b), 0, "%s", cairn_error_msg());
	store_rollback(b);
	store_pool_put(p, a);
	store_pool_put(p, b);
	store_pool_close(p);
}
