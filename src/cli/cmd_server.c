/* cmd_server.c - `cairn server`: the MLflow-compatible tracking server. */
#include "cli/cmd.h"
#include "cli/trigger.h"
#include "cli/http_opts.h"
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
		   "MLflow clients work: MLFLOW_TRACKING_URI=http://ADDR:PORT. GET /metrics: Prometheus.\n\n"
		   "  --port N       port (default 5000; 0 picks a free one)\n"
		   "  --root DIR     data directory: cairn.db and objects/ (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --pipeline DIR run `cairn repro` in DIR when one of the triggers of its cairn.yaml\n"
		   "                 fires ({cron: EXPR}, {every: DURATION}, {watch: PATH}); the runs are\n"
		   "                 recorded in this server, tagged cairn.trigger\n"
		   CLI_HTTP_HELP "\n"
		   "Stops cleanly on SIGINT or SIGTERM: requests in flight are answered first (up to\n"
		   "10 s). CAIRN_SQLITE_SYNC=full makes every commit survive power loss (the default\n"
		   "survives process crashes).\n");
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_HTTP_OPTIONS,
		{ "root", required_argument, NULL, 'r' },
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
	char url[300];

	cli_http_defaults(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((rc = cli_http_option("server", opts, c, optarg, &cfg)) == 2)
			return 2;
		if (rc)
			continue;
		switch (c) {
		case 'r':
			root = optarg;
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
		cli_http_url(&cfg, http_server_port(srv), url, sizeof(url));
		if ((rc = trigger_start(pipeline_dir, url, &trig))) {
			cli_fail("server", "%s", cairn_error_msg());
			http_server_free(srv);
			api_ctx_close(&ctx);
			return 1;
		}
	}
	cli_http_url(&cfg, http_server_port(srv), url, sizeof(url));
	printf("cairn server listening on %s (root: %s)\n", url, root);
	fflush(stdout);
	sigwait(&set, &sig);
	trigger_stop(trig);
	cairn_log(LOG_INFO, "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (http_server_drain(srv, 10000))
		cairn_log(LOG_WARN, "server: %u requests were still in flight after 10 s", http_server_inflight(srv));
	http_server_free(srv);
	api_ctx_close(&ctx);
	return 0;
}
