/* webhook.h - POST a JSON event to an allow-listed HTTP(S) endpoint, retried with backoff (libcurl).
 *
 * The target's host must be in the allow-list (exact names or IP literals,
 * comma-separated, compared case-insensitively; "*" allows any), so a
 * configuration cannot make cairn post data anywhere. A delivery is tried
 * up to attempts times: connection failures, timeouts, 408, 429 and 5xx are
 * retried after backoff_ms, doubling each time; any other answer ends it.
 */
#ifndef CAIRN_CLIENT_WEBHOOK_H
#define CAIRN_CLIENT_WEBHOOK_H

#include <jansson.h>

struct webhook_opts {
	const char *url;          /* http:// or https:// */
	const char *allow_hosts;  /* comma-separated hosts that may be posted to */
	unsigned attempts;        /* deliveries tried (0: 4) */
	unsigned timeout_ms;      /* each attempt (0: 5000) */
	unsigned backoff_ms;      /* before the second attempt, doubling (0: 500) */
};

/* Whether o is usable: a http(s) URL whose host is allowed. CAIRN_EINVALID
 * for a bad URL, CAIRN_EPERM for a host not in the list. */
int webhook_check(const struct webhook_opts *o);
/* Deliver body (sent as application/json). 0 when the endpoint answered
 * 2xx; CAIRN_EIO when every attempt failed or it answered otherwise (the
 * message says how). *status gets the last HTTP status (0: none),
 * *tries the attempts made; either may be NULL. */
int webhook_post(const struct webhook_opts *o, const json_t *body, long *status, unsigned *tries);

#endif
