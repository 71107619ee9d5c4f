/* guard.c - checks of a request head before any handler runs: percent-
 * decoding, UTF-8, and the Host and Origin policy (DNS rebinding and
 * cross-site requests), following MLflow 3's security middleware. */
#include "http/http_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/utf8.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t http_unescape(char *s)
{
	char *r = s, *w = s;

	while (*r) {
		int hi, lo;
		if (r[0] == '%' && (hi = hexval((unsigned char)r[1])) >= 0 && (lo = hexval((unsigned char)r[2])) >= 0) {
			int v = hi * 16 + lo;
			*w++ = v ? (char)v : '\x01';
			r += 3;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

bool http_text_ok(const char *s)
{
	size_t n = strlen(s);

	return !memchr(s, '\x01', n) && utf8_valid(s, n);
}

bool http_method_changes_state(const char *m)
{
	return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE") || !strcmp(m, "PATCH");
}

/* Split a comma-separated list into trimmed, owned strings. */
static int split_list(const char *s, char ***out, size_t *n, bool *any)
{
	char **v = NULL;
	size_t cnt = 0;

	*any = false;
	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		const char *a = s;
		while (len && isspace((unsigned char)*a))
			a++, len--;
		while (len && isspace((unsigned char)a[len - 1]))
			len--;
		if (len) {
			char **nv = crealloc(v, (cnt + 1) * sizeof(*v));
			if (!nv || !(nv[cnt] = cstrndup(a, len))) {
				v = nv ? nv : v;
				while (cnt)
					free(v[--cnt]);
				free(v);
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			}
			v = nv;
			if (len == 1 && *a == '*')
				*any = true;
			cnt++;
		}
		s = e ? e + 1 : NULL;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int http_policy_init(struct http_policy *p, const struct http_config *cfg)
{
	int rc;

	memset(p, 0, sizeof(*p));
	if (cfg->allowed_hosts && (rc = split_list(cfg->allowed_hosts, &p->hosts, &p->nhosts, &p->any_host)))
		return rc;
	if (cfg->allowed_origins &&
	    (rc = split_list(cfg->allowed_origins, &p->origins, &p->norigins, &p->any_origin))) {
		http_policy_free(p);
		return rc;
	}
	if (cfg->host && strcmp(cfg->host, "0.0.0.0") && strcmp(cfg->host, "::") && !(p->self_host = cstrdup(cfg->host))) {
		http_policy_free(p);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if (gethostname(p->machine, sizeof(p->machine)))
		p->machine[0] = '\0';
	p->machine[sizeof(p->machine) - 1] = '\0';
	return 0;
}

void http_policy_free(struct http_policy *p)
{
	for (size_t i = 0; i < p->nhosts; i++)
		free(p->hosts[i]);
	for (size_t i = 0; i < p->norigins; i++)
		free(p->origins[i]);
	free(p->hosts);
	free(p->origins);
	free(p->self_host);
	memset(p, 0, sizeof(*p));
}

/* The host part of "name", "name:port", "[v6]" or "[v6]:port" into out
 * (without brackets); false when malformed or too long. */
static bool host_name(const char *hostport, size_t n, char *out, size_t cap)
{
	const char *end;
	size_t len;

	if (n && hostport[0] == '[') {
		end = memchr(hostport, ']', n);
		if (!end || (end + 1 < hostport + n && end[1] != ':'))
			return false;
		hostport++;
		len = (size_t)(end - hostport);
	} else {
		end = memchr(hostport, ':', n);
		len = end ? (size_t)(end - hostport) : n;
	}
	if (!len || len >= cap)
		return false;
	memcpy(out, hostport, len);
	out[len] = '\0';
	return true;
}

static bool is_ip_literal(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

static bool is_localhost(const char *name)
{
	size_t n = strlen(name);

	/* only names: "127.0.0.1.evil.example" is not a loopback address */
	return !strcasecmp(name, "localhost") || (n > 10 && !strcasecmp(name + n - 10, ".localhost"));
}

bool http_host_allowed(const struct http_policy *p, const char *host)
{
	char name[256];

	if (!host || !*host || !host_name(host, strlen(host), name, sizeof(name)))
		return false;
	if (p->any_host)
		return true;
	if (p->nhosts) {
		for (size_t i = 0; i < p->nhosts; i++)
			if (!fnmatch(p->hosts[i], host, FNM_CASEFOLD) || !fnmatch(p->hosts[i], name, FNM_CASEFOLD))
				return true;
		return false;
	}
	/* A DNS rebinding attack needs a name the attacker controls: an IP literal,
	 * localhost, this machine's own name or the bound address cannot be one. */
	return is_ip_literal(name) || is_localhost(name) || (p->machine[0] && !strcasecmp(name, p->machine)) ||
	       (p->self_host && !strcasecmp(name, p->self_host));
}

bool http_origin_allowed(const struct http_policy *p, const char *origin, const char *host)
{
	const char *hp;
	size_t n;
	char name[256];

	if (!origin)
		return true; /* not from a browser: curl, MLflow clients */
	if (p->any_origin)
		return true;
	hp = strstr(origin, "://");
	if (!hp)
		return false; /* "null" (sandboxed frames, file: pages) and garbage */
	hp += 3;
	n = strcspn(hp, "/");
	if (!host_name(hp, n, name, sizeof(name)))
		return false;
	if (!strcasecmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "::1"))
		return true;
	if (host && strlen(host) == n && !strncasecmp(hp, host, n) && !hp[n])
		return true; /* same origin: the page was served by this server */
	for (size_t i = 0; i < p->norigins; i++) {
		size_t l = strlen(p->origins[i]);
		while (l && p->origins[i][l - 1] == '/')
			l--;
		if (strlen(origin) == l && !strncasecmp(origin, p->origins[i], l))
			return true;
	}
	return false;
}
