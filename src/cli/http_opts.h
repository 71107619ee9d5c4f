/* http_opts.h - the HTTP options every serving command takes (cairn server,
 * cairn serve): listen address, threads, limits, deadlines, Host/Origin. */
#ifndef CAIRN_CLI_HTTP_OPTS_H
#define CAIRN_CLI_HTTP_OPTS_H

#include <getopt.h>

#include "http/http.h"

/* Their getopt_long entries (short codes 'H' 'p' 't' 'A' 'O' 'C' 'c' 'T' 'B' 'I'). */
#define CLI_HTTP_OPTIONS \
	{ "host", required_argument, NULL, 'H' }, \
	{ "port", required_argument, NULL, 'p' }, \
	{ "threads", required_argument, NULL, 't' }, \
	{ "allowed-hosts", required_argument, NULL, 'A' }, \
	{ "cors-allowed-origins", required_argument, NULL, 'O' }, \
	{ "max-connections", required_argument, NULL, 'C' }, \
	{ "max-connections-per-client", required_argument, NULL, 'c' }, \
	{ "head-timeout", required_argument, NULL, 'T' }, \
	{ "body-timeout", required_argument, NULL, 'B' }, \
	{ "idle-timeout", required_argument, NULL, 'I' }

/* Their help lines. */
#define CLI_HTTP_HELP \
	"  --host ADDR    address to listen on, IPv4 or IPv6 (default 127.0.0.1; '::' takes both)\n" \
	"  --threads N    worker threads (default: one per CPU the process may run on for\n" \
	"                 cairn serve; two per CPU, at least 4, for cairn server)\n" \
	"  --allowed-hosts LIST  Host header values to serve, comma-separated fnmatch patterns\n" \
	"                 (default: localhost, IP addresses, this machine's name; '*': any);\n" \
	"                 others get 403 (DNS rebinding). Env MLFLOW_SERVER_ALLOWED_HOSTS\n" \
	"  --cors-allowed-origins LIST  origins whose pages may change state (POST, PUT,\n" \
	"                 DELETE, PATCH) from a browser, comma-separated (default: localhost\n" \
	"                 and the server's own origin; '*': any); others get 403.\n" \
	"                 Env MLFLOW_SERVER_CORS_ALLOWED_ORIGINS\n" \
	"  --max-connections N  open connections in all (default 4096, within the fd limit)\n" \
	"  --max-connections-per-client N  from one IP address (default a quarter of the above)\n" \
	"  --head-timeout S  a request head must arrive within S seconds (default 20)\n" \
	"  --body-timeout S  a body gets S seconds plus 1 per 500 bytes received (default 20)\n" \
	"  --idle-timeout S  keep-alive connections idle this long are closed (default 30)\n"

/* Defaults from the environment (MLFLOW_SERVER_ALLOWED_HOSTS, ..._CORS_ALLOWED_ORIGINS). */
void cli_http_defaults(struct http_config *cfg);
/* Apply option c with argument arg to cfg. Returns 1 when c is one of
 * these options, 0 when it is not, and 2 (after printing "cairn <cmd>: ...")
 * for a bad value. */
int cli_http_option(const char *cmd, const struct option *opts, int c, const char *arg, struct http_config *cfg);
/* "http://host:port" for what the server listens on (IPv6 in brackets, a
 * wildcard address as loopback). */
void cli_http_url(const struct http_config *cfg, unsigned port, char *out, size_t cap);

#endif
