/* cmd_server.c - `cairn server`: the MLflow-compatible tracking server. */
#include "cli/cmd.h"
#include "cli/trigger.h"
#include "api/api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void server_usage(FILE *f)
{
	fprintf(f, "usage: cairn server [--host ADDR] [--port N] [--root DIR] [--threads N] [--pipeline DIR]\n"
		   "                    [--allowed-hosts LIST] [--cors-allowed-origins LIST] [--max-connections N]\n"
		   "                    [--max-connections-per-client N] [--head-timeout S] [--body-timeout S]\n"
		   "                    [--idle-timeout S]\n\n"
		   "Serve the MLflow REST API (tracking and the mlflow-artifacts proxy) so unmodified\n"
		   "MLflow clients work: MLFLOW_TRACKING_URI=http://ADDR:PORT.\n\n"
		   "  --host ADDR    IPv4 address to listen on (default 127.0.0.1)\n"
		   "  --port N       port (default 5000; 0 picks a free one)\n"
		   "  --root DIR     data directory: cairn.db and objects/ (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --threads N    worker threads (default 2 per core, at least 4)\n"
		   "  --pipeline DIR run `cairn repro` in DIR when one of the triggers of its cairn.yaml\n"
		   "                 fires ({cron: EXPR}, {every: DURATION}, {watch: PATH}); the runs are\n"
		   "                 recorded in this server, tagged cairn.trigger\n"
		   "  --allowed-hosts LIST  Host header values to serve, comma-separated fnmatch patterns\n"
		   "                 (default: localhost, IP addresses, this machine's name; '*': any);\n"
		   "                 others get 403 (DNS rebinding). Env MLFLOW_SERVER_ALLOWED_HOSTS\n"
		   "  --cors-allowed-origins LIST  origins whose pages may change state (POST, PUT,\n"
		   "                 DELETE, PATCH) from a browser, comma-separated (default: localhost\n"
		   "                 and the server's own origin; '*': any); others get 403.\n"
		   "                 Env MLFLOW_SERVER_CORS_ALLOWED_ORIGINS\n"
		   "  --max-connections N  open connections in all (default 4096, within the fd limit)\n"
		   "  --max-connections-per-client N  from one IP address (default a quarter of the above)\n"
		   "  --head-timeout S  a request head must arrive within S seconds (default 20)\n"
		   "  --body-timeout S  a body gets S seconds plus 1 per 500 bytes received (default 20)\n"
		   "  --idle-timeout S  keep-alive connections idle this long are closed (default 30)\n\n"
		   "Stops cleanly on SIGINT or SIGTERM. CAIRN_SQLITE_SYNC=full makes every commit survive\n"
		   "power loss (the default survives process crashes).\n");
}

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The index of the long option whose short code is c. */
static int optind_long(const struct option *o, int c)
{
	int i = 0;

	while (o[i].name && o[i].val != c)
		i++;
	return i;
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "root", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "allowed-hosts", required_argument, NULL, 'A' },
		{ "cors-allowed-origins", required_argument, NULL, 'O' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-connections-per-client", required_argument, NULL, 'c' },
		{ "head-timeout", required_argument, NULL, 'T' },
		{ "body-timeout", required_argument, NULL, 'B' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_config cfg = { .host = "127.0.0.1", .port = 5000 };
	unsigned *num;
	const char *root = cli_default_root();
	struct http_server *srv = NULL;
	struct trigger_runner *trig = NULL;
	const char *pipeline_dir = NULL;
	struct api_ctx ctx;
	sigset_t set;
	int c, sig, rc;
	char *end;

	if (!cfg.allowed_hosts)
		cfg.allowed_hosts = env_or_null("MLFLOW_SERVER_ALLOWED_HOSTS");
	if (!cfg.allowed_origins)
		cfg.allowed_origins = env_or_null("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			cfg.host = optarg;
			break;
		case 'p':
			cfg.port = (unsigned)strtoul(optarg, &end, 10);
			if (*end || cfg.port > 65535)
				return cli_fail("server", "invalid port '%s'", optarg), 2;
			break;
		case 'r':
			root = optarg;
			break;
		case 't':
			cfg.threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || cfg.threads < 1 || cfg.threads > 256)
				return cli_fail("server", "invalid thread count '%s'", optarg), 2;
			break;
		case 'P':
			pipeline_dir = optarg;
			break;
		case 'A':
			cfg.allowed_hosts = optarg;
			break;
		case 'O':
			cfg.allowed_origins = optarg;
			break;
		case 'C':
		case 'c':
		case 'T':
		case 'B':
		case 'I':
			num = c == 'C' ? &cfg.max_conns : c == 'c' ? &cfg.max_conns_per_client
			    : c == 'T' ? &cfg.head_timeout_s : c == 'B' ? &cfg.body_timeout_s : &cfg.conn_timeout_s;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || v < 1 || v > 1000000)
				return cli_fail("server", "invalid value '%s' for --%s (a whole number from 1 to 1000000)",
						optarg, opts[optind_long(opts, c)].name), 2;
			*num = (unsigned)v;
			break;
		case 'h':
			server_usage(stdout);
			return 0;
		default:
			server_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		server_usage(stderr);
		return 2;
	}
	/* block the stop signals in every thread; main waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = api_ctx_open(root, &ctx)))
		return cli_fail("server", "%s", cairn_error_msg());
	if ((rc = http_server_new(&cfg, &srv)) || (rc = api_mount(srv, &ctx)) || (rc = http_server_start(srv))) {
		cli_fail("server", "%s", cairn_error_msg());
		http_server_free(srv);
		api_ctx_close(&ctx);
		return 1;
	}
	if (pipeline_dir) {
		struct buf uri = BUF_INIT;
		buf_printf(&uri, "http://%s:%u", strcmp(cfg.host, "0.0.0.0") ? cfg.host : "127.0.0.1",
			   http_server_port(srv));
		rc = buf_error(&uri) ? buf_error(&uri) : trigger_start(pipeline_dir, uri.ptr, &trig);
		buf_release(&uri);
		if (rc) {
			cli_fail("server", "%s", cairn_error_msg());
			http_server_free(srv);
			api_ctx_close(&ctx);
			return 1;
		}
	}
	printf("cairn server listening on http://%s:%u (root: %s)\n", cfg.host, http_server_port(srv), root);
	fflush(stdout);
	sigwait(&set, &sig);
	trigger_stop(trig);
	cairn_log(LOG_INFO, "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	http_server_free(srv);
	api_ctx_close(&ctx);
	return 0;
}
