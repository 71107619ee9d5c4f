/* http_int.h - private to src/http: the connection table with its deadline
 * sweeper (conn.c) and the checks of a request head (guard.c). */
#ifndef CAIRN_HTTP_HTTP_INT_H
#define CAIRN_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* ---- connections and deadlines (conn.c) ---- */

/* One accepted connection. Created when libmicrohttpd reports it started and
 * freed when it reports it closed, which it does before closing the socket,
 * so the sweeper never touches a reused descriptor. */
enum conn_phase {
	CONN_HEAD,   /* waiting for a request head (new, or idle between requests) */
	CONN_BODY,   /* reading a request body */
	CONN_BUSY,   /* the request is complete: the server is answering */
};

struct http_conn {
	struct http_conn *prev, *next; /* table list, newest first, under the table mutex */
	int fd;                        /* the socket (owned by libmicrohttpd) */
	_Atomic int phase;             /* enum conn_phase */
	_Atomic int64_t deadline_ms;   /* monotonic ms by which the current phase must end; 0: none */
	int64_t body_start_ms;         /* when the body phase began (the connection's thread only) */
	uint64_t body_bytes;           /* body bytes received so far (the connection's thread only) */
	bool killed;                   /* the sweeper shut it down (under the table mutex) */
};

struct conn_table {
	pthread_mutex_t mu;            /* guards the list and `killed` */
	pthread_cond_t cv;             /* wakes the sweeper to stop */
	struct http_conn *head;        /* open connections, newest first */
	struct http_conn *tail;        /* the oldest */
	unsigned open;                 /* their number */
	unsigned dying;                /* of them, shut down and not yet closed */
	unsigned high_water;           /* past this many open, evict (0: never) */
	unsigned low_water;            /* ... down to this many */
	uint64_t evicted_total;        /* connections shut down to make room */
	uint64_t killed_total;         /* connections shut down for missing a deadline */
	bool stop;                     /* the sweeper should exit */
	bool running;                  /* the sweeper thread exists */
	pthread_t thread;
	unsigned head_ms, body_ms, idle_ms; /* from struct http_config */
	unsigned body_min_rate;
};

void conn_table_init(struct conn_table *t, const struct http_config *cfg);
int conn_table_start(struct conn_table *t);   /* start the sweeper */
void conn_table_stop(struct conn_table *t);   /* stop and join it */
void conn_table_destroy(struct conn_table *t);
/* A connection opened: its head deadline starts now. NULL when out of memory
 * (the connection is then served without deadlines). */
struct http_conn *conn_opened(struct conn_table *t, int fd);
void conn_closed(struct conn_table *t, struct http_conn *c);
/* Phases: the head arrived and a body follows; body bytes arrived; the body is
 * complete (the handler runs, no deadline); the request ended (idle). */
void conn_body_begin(struct conn_table *t, struct http_conn *c);
void conn_body_bytes(struct conn_table *t, struct http_conn *c, size_t n);
void conn_body_done(struct http_conn *c);
void conn_idle(struct conn_table *t, struct http_conn *c);
/* Shut down every connection past its deadline now; returns how many. */
unsigned conn_sweep(struct conn_table *t, int64_t now_ms);
/* Near the connection limit, shut down the oldest connections that are
 * waiting for a request head (slow clients, idle keep-alive ones) until
 * low_water are open, so new clients get in while an attack from many
 * addresses holds slots until its deadlines; returns how many. */
unsigned conn_evict(struct conn_table *t);
/* Set the water marks from the connection limit. */
void conn_table_limit(struct conn_table *t, unsigned max_conns);
int64_t conn_now_ms(void);

/* ---- route patterns (route.c) ---- */

/* Where a pattern's parameters are in a matched path. */
struct http_match {
	size_t n;                     /* parameters found */
	struct {
		const char *name;     /* in the pattern, without braces (not NUL-terminated) */
		size_t name_len;
		size_t off, len;      /* the value's place in the path */
	} p[HTTP_MAX_PARAMS];
	size_t end;                   /* bytes of the path matched */
};

/* Whether pattern is well formed: each {name} (letters, digits, '_') starts
 * a segment, one per segment, optionally followed by a literal in that
 * segment ("{name}:predict"); at most HTTP_MAX_PARAMS. m is scratch. */
bool http_pattern_valid(const char *pattern, struct http_match *m);
/* Match path against pattern: literal parts equal, each parameter a non-empty
 * part of one segment. With prefix, path may go on past the pattern. */
bool http_pattern_match(const char *pattern, const char *path, bool prefix, struct http_match *m);

/* ---- request head checks (guard.c) ---- */

struct http_policy {
	char **hosts;                  /* allowed Host patterns (owned); NULL: the defaults */
	size_t nhosts;
	bool any_host;                 /* "*" */
	char **origins;                /* allowed cross-origin origins (owned) */
	size_t norigins;
	bool any_origin;               /* "*" */
	char *self_host;               /* the bind address when it is not a wildcard (owned) */
	char machine[256];             /* gethostname(), allowed by default */
};

int http_policy_init(struct http_policy *p, const struct http_config *cfg);
void http_policy_free(struct http_policy *p);
/* Whether a Host header value is allowed (NULL or "" is not). */
bool http_host_allowed(const struct http_policy *p, const char *host);
/* Whether a request with this Origin may change state: no Origin (not a
 * browser), a localhost origin, the server's own origin (same Host), or one
 * of the allowed origins. */
bool http_origin_allowed(const struct http_policy *p, const char *origin, const char *host);
bool http_method_changes_state(const char *method);
/* Percent-decode s in place. Only %XX with two hex digits is decoded; a
 * decoded NUL becomes \x01 so the path and query checks reject it. */
size_t http_unescape(char *s);
/* A decoded path or query string: valid UTF-8 and no control byte 0x01
 * (the NUL marker)? */
bool http_text_ok(const char *s);

#endif
