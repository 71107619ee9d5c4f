/* conn.c - the table of open connections and the deadline sweeper.
 *
 * libmicrohttpd's connection timeout is an idle timeout: every byte resets
 * it, so a client trickling one header byte every few seconds holds its
 * connection forever (slowloris). Here each connection carries a deadline for
 * its current phase, set from the HTTP threads and checked once a second by a
 * sweeper thread, which shuts the socket down when it passes; libmicrohttpd
 * then sees the end of the stream and closes the connection itself.
 *
 *   phase        deadline
 *   head         opened (or went idle) + head timeout (+ idle timeout when idle)
 *   body         body start + body timeout + 1 s per body_min_rate bytes received
 *   handler      none: the request is complete, the server is answering
 *
 * Deadlines bound what one connection holds; they do not stop many addresses
 * from filling the table together. So near the connection limit the sweeper
 * also evicts: the oldest connections still waiting for a head (attackers
 * trickle heads; idle keep-alive clients simply reconnect) are shut down until
 * there is room again. Connections reading a body or being answered are kept.
 */
#include "http/http_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/util.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

int64_t conn_now_ms(void)
{
	return cairn_mono_ns() / 1000000;
}

void conn_table_init(struct conn_table *t, const struct http_config *cfg)
{
	pthread_condattr_t ca;

	*t = (struct conn_table){ 0 };
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	t->head_ms = cfg->head_timeout_s * 1000u;
	t->body_ms = cfg->body_timeout_s * 1000u;
	t->idle_ms = cfg->conn_timeout_s * 1000u;
	t->body_min_rate = cfg->body_min_rate;
}

struct http_conn *conn_opened(struct conn_table *t, int fd)
{
	struct http_conn *c = ccalloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	atomic_store(&c->phase, CONN_HEAD);
	atomic_store(&c->deadline_ms, conn_now_ms() + t->head_ms);
	pthread_mutex_lock(&t->mu);
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	else
		t->tail = c;
	t->head = c;
	t->open++;
	if (t->high_water && t->open > t->high_water)
		pthread_cond_signal(&t->cv); /* the sweeper makes room now, not in a second */
	pthread_mutex_unlock(&t->mu);
	return c;
}

void conn_closed(struct conn_table *t, struct http_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&t->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	t->open--;
	if (c->killed)
		t->dying--;
	pthread_mutex_unlock(&t->mu);
	free(c);
}

void conn_body_begin(struct conn_table *t, struct http_conn *c)
{
	if (!c)
		return;
	c->body_start_ms = conn_now_ms();
	c->body_bytes = 0;
	atomic_store(&c->phase, CONN_BODY);
	atomic_store(&c->deadline_ms, c->body_start_ms + t->body_ms);
}

void conn_body_bytes(struct conn_table *t, struct http_conn *c, size_t n)
{
	if (!c)
		return;
	c->body_bytes += n;
	if (t->body_min_rate)
		atomic_store(&c->deadline_ms, c->body_start_ms + t->body_ms +
						      (int64_t)(c->body_bytes / t->body_min_rate) * 1000);
}

void conn_body_done(struct http_conn *c)
{
	if (c) {
		atomic_store(&c->phase, CONN_BUSY);
		atomic_store(&c->deadline_ms, 0);
	}
}

void conn_idle(struct conn_table *t, struct http_conn *c)
{
	if (c) {
		atomic_store(&c->deadline_ms, conn_now_ms() + t->idle_ms + t->head_ms);
		atomic_store(&c->phase, CONN_HEAD);
	}
}

void conn_table_limit(struct conn_table *t, unsigned max_conns)
{
	unsigned margin = max_conns / 16 > 8 ? max_conns / 16 : 8;

	pthread_mutex_lock(&t->mu);
	t->high_water = max_conns > 2 * margin ? max_conns - margin : 0;
	t->low_water = max_conns > 2 * margin ? max_conns - 2 * margin : 0;
	pthread_mutex_unlock(&t->mu);
}

unsigned conn_evict(struct conn_table *t)
{
	unsigned n = 0, open;

	pthread_mutex_lock(&t->mu);
	open = t->open - t->dying;
	for (struct http_conn *c = t->tail; c && t->high_water && open - n > t->low_water; c = c->prev) {
		if (c->killed || atomic_load(&c->phase) != CONN_HEAD)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->killed = true;
		n++;
	}
	t->dying += n;
	t->evicted_total += n;
	pthread_mutex_unlock(&t->mu);
	return n;
}

unsigned conn_sweep(struct conn_table *t, int64_t now_ms)
{
	unsigned n = 0;

	pthread_mutex_lock(&t->mu);
	for (struct http_conn *c = t->head; c; c = c->next) {
		int64_t d = atomic_load(&c->deadline_ms);
		if (c->killed || !d || d > now_ms)
			continue;
		/* the descriptor stays open until conn_closed: shutdown is safe here */
		shutdown(c->fd, SHUT_RDWR);
		c->killed = true;
		n++;
	}
	t->dying += n;
	t->killed_total += n;
	pthread_mutex_unlock(&t->mu);
	return n;
}

static void *sweeper(void *arg)
{
	struct conn_table *t = arg;
	int64_t last_log = 0;
	unsigned unlogged = 0, unlogged_evicted = 0;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		int64_t now = conn_now_ms();
		unlogged += conn_sweep(t, now);
		unlogged_evicted += conn_evict(t);
		if ((unlogged || unlogged_evicted) && now - last_log >= 10000) {
			cairn_log(LOG_WARN, "http: closed %u connection%s that missed the request head or body deadline "
				  "and %u waiting for a head to make room (near --max-connections)",
				  unlogged, unlogged == 1 ? "" : "s", unlogged_evicted);
			unlogged = unlogged_evicted = 0;
			last_log = now;
		}
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int conn_table_start(struct conn_table *t)
{
	t->stop = false;
	if (pthread_create(&t->thread, NULL, sweeper, t))
		return cairn_error_set(CAIRN_ERR, "cannot start the connection sweeper thread");
	t->running = true;
	return 0;
}

void conn_table_stop(struct conn_table *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	t->running = false;
}

void conn_table_destroy(struct conn_table *t)
{
	conn_table_stop(t);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}
