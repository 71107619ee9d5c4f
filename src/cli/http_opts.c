/* http_opts.c - parsing the HTTP options shared by cairn server and cairn serve. */
#include "cli/http_opts.h"
#include "cli/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void cli_http_defaults(struct http_config *cfg)
{
	if (!cfg->allowed_hosts)
		cfg->allowed_hosts = env_or_null("MLFLOW_SERVER_ALLOWED_HOSTS");
	if (!cfg->allowed_origins)
		cfg->allowed_origins = env_or_null("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS");
}

/* The long name of the option whose short code is c. */
static const char *long_name(const struct option *o, int c)
{
	while (o->name && o->val != c)
		o++;
	return o->name ? o->name : "?";
}

int cli_http_option(const char *cmd, const struct option *opts, int c, const char *arg, struct http_config *cfg)
{
	unsigned *num = NULL;
	unsigned long v;
	char *end;

	switch (c) {
	case 'H':
		cfg->host = arg;
		return 1;
	case 'A':
		cfg->allowed_hosts = arg;
		return 1;
	case 'O':
		cfg->allowed_origins = arg;
		return 1;
	case 'p':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || !*arg || *arg == '-' || v > 65535)
			return cli_fail(cmd, "invalid port '%s'", arg), 2;
		cfg->port = (unsigned)v;
		return 1;
	case 't':
		errno = 0;
		v = strtoul(arg, &end, 10);
		if (errno || *end || !*arg || *arg == '-' || v < 1 || v > 256)
			return cli_fail(cmd, "invalid thread count '%s'", arg), 2;
		cfg->threads = (unsigned)v;
		return 1;
	case 'C':
		num = &cfg->max_conns;
		break;
	case 'c':
		num = &cfg->max_conns_per_client;
		break;
	case 'T':
		num = &cfg->head_timeout_s;
		break;
	case 'B':
		num = &cfg->body_timeout_s;
		break;
	case 'I':
		num = &cfg->conn_timeout_s;
		break;
	default:
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || !*arg || *arg == '-' || v < 1 || v > 1000000)
		return cli_fail(cmd, "invalid value '%s' for --%s (a whole number from 1 to 1000000)", arg,
				long_name(opts, c)), 2;
	*num = (unsigned)v;
	return 1;
}

void cli_http_url(const struct http_config *cfg, unsigned port, char *out, size_t cap)
{
	const char *h = cfg->host ? cfg->host : "127.0.0.1";

	if (!strcmp(h, "0.0.0.0"))
		h = "127.0.0.1";
	else if (!strcmp(h, "::"))
		h = "::1";
	snprintf(out, cap, strchr(h, ':') ? "http://[%s]:%u" : "http://%s:%u", h, port);
}
