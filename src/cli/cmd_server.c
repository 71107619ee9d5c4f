/* cmd_server.c - `cairn server`: the MLflow-compatible tracking server. */
#include "cli/cmd.h"
#include "cli/trigger.h"
#include "api/api.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void server_usage(FILE *f)
{
	fprintf(f, "usage: cairn server [--host ADDR] [--port N] [--root DIR] [--threads N] [--pipeline DIR]\n\n"
		   "Serve the MLflow REST API (tracking and the mlflow-artifacts proxy) so unmodified\n"
		   "MLflow clients work: MLFLOW_TRACKING_URI=http://ADDR:PORT.\n\n"
		   "  --host ADDR    IPv4 address to listen on (default 127.0.0.1)\n"
		   "  --port N       port (default 5000; 0 picks a free one)\n"
		   "  --root DIR     data directory: cairn.db and objects/ (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --threads N    worker threads (default 2 per core, at least 4)\n"
		   "  --pipeline DIR run `cairn repro` in DIR when one of the triggers of its cairn.yaml\n"
		   "                 fires ({cron: EXPR}, {every: DURATION}, {watch: PATH}); the runs are\n"
		   "                 recorded in this server, tagged cairn.trigger\n\n"
		   "Stops cleanly on SIGINT or SIGTERM. CAIRN_SQLITE_SYNC=full makes every commit survive\n"
		   "power loss (the default survives process crashes).\n");
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "root", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_config cfg = { .host = "127.0.0.1", .port = 5000 };
	const char *root = cli_default_root();
	struct http_server *srv = NULL;
	struct trigger_runner *trig = NULL;
	const char *pipeline_dir = NULL;
	struct api_ctx ctx;
	sigset_t set;
	int c, sig, rc;
	char *end;

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
