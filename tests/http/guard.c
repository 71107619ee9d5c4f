/* tests/http/guard.c - request head checks: percent-decoding, UTF-8, Host and Origin. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

static size_t unesc(char *s) { return http_unescape(s); }

Test(http_guard, unescape_decodes_only_two_hex_digits)
{
	char a[] = "a%41%2f%2F%7e", b[] = "%-2%+2% 2%zz%4%", c[] = "x%00y", d[] = "%c3%A9";

	cr_assert_eq(unesc(a), 5);
	cr_assert_str_eq(a, "aA//~");
	unesc(b);
	cr_assert_str_eq(b, "%-2%+2% 2%zz%4%");
	unesc(c);
	cr_assert_str_eq(c, "x\x01y"); /* NUL marker */
	cr_assert_not(http_text_ok(c));
	unesc(d);
	cr_assert_str_eq(d, "\xc3\xa9");
	cr_assert(http_text_ok(d));
	cr_assert_not(http_text_ok("\xff\xfe"));
}

static struct http_policy policy(const char *hosts, const char *origins, const char *bind)
{
	struct http_config cfg = { .allowed_hosts = hosts, .allowed_origins = origins, .host = bind };
	struct http_policy p;

	cr_assert_eq(http_policy_init(&p, &cfg), 0);
	return p;
}

Test(http_guard, default_hosts)
{
	struct http_policy p = policy(NULL, NULL, "127.0.0.1");

	cr_assert(http_host_allowed(&p, "localhost"));
	cr_assert(http_host_allowed(&p, "LOCALHOST:5000"));
	cr_assert(http_host_allowed(&p, "app.localhost:80"));
	cr_assert(http_host_allowed(&p, "127.0.0.1:5000"));
	cr_assert(http_host_allowed(&p, "[::1]:5000"));
	cr_assert(http_host_allowed(&p, "[fd00::7]"));
	cr_assert(http_host_allowed(&p, "203.0.113.9:5000")); /* an IP literal cannot be rebound */
	cr_assert_not(http_host_allowed(&p, "evil.example"));
	cr_assert_not(http_host_allowed(&p, "127.0.0.1.evil.example"));
	cr_assert_not(http_host_allowed(&p, "localhost.evil.example"));
	cr_assert_not(http_host_allowed(&p, "[::1"));
	cr_assert_not(http_host_allowed(&p, "[::1]x"));
	cr_assert_not(http_host_allowed(&p, ""));
	cr_assert_not(http_host_allowed(&p, NULL));
	cr_assert_not(http_host_allowed(&p, ":5000"));
	http_policy_free(&p);
}

Test(http_guard, configured_hosts_replace_the_defaults)
{
	struct http_policy p = policy(" mlflow.example.com , *.corp.example,", NULL, "0.0.0.0");

	cr_assert_eq(p.nhosts, 2);
	cr_assert(http_host_allowed(&p, "mlflow.example.com"));
	cr_assert(http_host_allowed(&p, "MLflow.Example.com:443"));
	cr_assert(http_host_allowed(&p, "a.b.corp.example"));
	cr_assert_not(http_host_allowed(&p, "corp.example"));
	cr_assert_not(http_host_allowed(&p, "localhost"));
	http_policy_free(&p);
	p = policy("*", NULL, NULL);
	cr_assert(http_host_allowed(&p, "anything.example"));
	http_policy_free(&p);
}

Test(http_guard, origins)
{
	struct http_policy p = policy(NULL, "https://ui.example.com/", "127.0.0.1");

	cr_assert(http_origin_allowed(&p, NULL, "127.0.0.1:5000"));
	cr_assert(http_origin_allowed(&p, "http://localhost:3000", "127.0.0.1:5000"));
	cr_assert(http_origin_allowed(&p, "http://127.0.0.1:8080", "127.0.0.1:5000"));
	cr_assert(http_origin_allowed(&p, "http://[::1]:1", "127.0.0.1:5000"));
	cr_assert(http_origin_allowed(&p, "http://10.0.0.5:5000", "10.0.0.5:5000")); /* same origin */
	cr_assert(http_origin_allowed(&p, "https://ui.example.com", "10.0.0.5:5000"));
	cr_assert_not(http_origin_allowed(&p, "https://ui.example.com.evil", "10.0.0.5:5000"));
	cr_assert_not(http_origin_allowed(&p, "http://10.0.0.5:5001", "10.0.0.5:5000"));
	cr_assert_not(http_origin_allowed(&p, "http://evil.example", "127.0.0.1:5000"));
	cr_assert_not(http_origin_allowed(&p, "null", "127.0.0.1:5000"));
	cr_assert_not(http_origin_allowed(&p, "http://localhost.evil.example", "127.0.0.1:5000"));
	cr_assert_not(http_origin_allowed(&p, "http://", "127.0.0.1:5000"));
	http_policy_free(&p);
	p = policy(NULL, "*", NULL);
	cr_assert(http_origin_allowed(&p, "http://evil.example", "127.0.0.1:5000"));
	http_policy_free(&p);
}

Test(http_guard, state_changing_methods)
{
	cr_assert(http_method_changes_state("POST"));
	cr_assert(http_method_changes_state("DELETE"));
	cr_assert_not(http_method_changes_state("GET"));
	cr_assert_not(http_method_changes_state("OPTIONS"));
}

Test(http_conn, sweep_shuts_down_only_connections_past_their_deadline)
{
	struct http_config cfg = { .head_timeout_s = 20, .body_timeout_s = 20, .body_min_rate = 500,
				   .conn_timeout_s = 30 };
	struct conn_table t;
	int a[2], b[2];
	char ch;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	conn_table_init(&t, &cfg);
	struct http_conn *ca = conn_opened(&t, a[0]), *cb = conn_opened(&t, b[0]);
	int64_t now = conn_now_ms();
	cr_assert_eq(conn_sweep(&t, now), 0);
	/* the body deadline grows with the bytes: 20 s + 1 s per 500 bytes */
	conn_body_begin(&t, cb);
	conn_body_bytes(&t, cb, 5000);
	cr_assert_eq(conn_sweep(&t, now + 25000), 1); /* a's head deadline passed, b has until ~30 s */
	cr_assert_eq(read(a[1], &ch, 1), 0);          /* a was shut down: its peer sees EOF */
	cr_assert_eq(conn_sweep(&t, now + 25000), 0); /* once */
	conn_body_done(cb);
	cr_assert_eq(conn_sweep(&t, now + 1000000), 0); /* the handler phase has no deadline */
	conn_idle(&t, cb);
	cr_assert_eq(conn_sweep(&t, now + 40000), 0);  /* idle: idle timeout + head timeout */
	cr_assert_eq(conn_sweep(&t, now + 60000), 1);
	cr_assert_eq(t.open, 2);
	conn_closed(&t, ca);
	conn_closed(&t, cb);
	cr_assert_eq(t.open, 0);
	cr_assert_eq(t.killed_total, 2);
	conn_table_destroy(&t);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
}

Test(http_conn, eviction_near_the_limit_takes_the_oldest_waiting_for_a_head)
{
	struct http_config cfg = { .head_timeout_s = 20, .body_timeout_s = 20, .body_min_rate = 500,
				   .conn_timeout_s = 30 };
	struct conn_table t;
	int sp[40][2];
	struct http_conn *c[40];
	char ch;

	conn_table_init(&t, &cfg);
	conn_table_limit(&t, 36); /* margin 8: evict past 28 open, down to 20 */
	for (int i = 0; i < 30; i++) {
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
		c[i] = conn_opened(&t, sp[i][0]);
	}
	conn_body_begin(&t, c[0]); /* the oldest is reading a body: kept */
	conn_body_done(c[1]);      /* the next is being answered: kept */
	cr_assert_eq(conn_evict(&t), 10);
	cr_assert_eq(read(sp[0][1], &ch, 0), 0);
	for (int i = 2; i < 12; i++) /* the ten oldest waiting for a head went */
		cr_assert_eq(read(sp[i][1], &ch, 1), 0, "connection %d was not shut down", i);
	cr_assert_eq(conn_evict(&t), 0, "shut down once"); /* they stay in the table until closed */
	for (int i = 0; i < 30; i++) {
		conn_closed(&t, c[i]);
		close(sp[i][0]);
		close(sp[i][1]);
	}
	cr_assert_eq(t.open, 0);
	cr_assert_null(t.head);
	cr_assert_null(t.tail);
	cr_assert_eq(t.evicted_total, 10);
	conn_table_destroy(&t);
}
