/* cmd_server.c - `cairn server`: the MLflow-compatible tracking server. */
#include "cli/cmd.h"
#include "cli/trigger.h"
#include "cli/http_opts.h"
#include "api/api.h"
#include "monitor/host.h"
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
#include <unistd.h>

/* a monitor's "retrain": DIR[:STAGE], DIR being the --pipeline this server runs */
static int retrain(void *ctx, const char *monitor, const char *incident, const char *target)
{
	struct trigger_runner *t = ctx;
	const char *colon = strrchr(target, ':');
	char dir[4096], real[4096], reason[300];
	const char *stage = NULL;

	snprintf(dir, sizeof(dir), "%s", target);
	if (colon && !strchr(colon + 1, '/')) {
		dir[colon - target] = '\0';
		stage = colon + 1;
	}
	if (!t)
		return cairn_error_set(CAIRN_EUNSUPPORTED, "this server runs no pipeline (start it with --pipeline %s)", dir);
	if (!realpath(dir, real) || strcmp(real, trigger_dir(t)))
		return cairn_error_set(CAIRN_EPERM, "'%.300s' is not the pipeline this server runs (--pipeline %.300s)", dir,
				       trigger_dir(t));
	snprintf(reason, sizeof(reason), "monitor %s: drift incident %s", monitor, incident);
	return trigger_request(t, reason, stage);
}

/* The page GET / answers when there is no built UI. */
static const char ui_missing_html[] =
	"<!doctype html><html lang=en><meta charset=utf-8><title>cairn: the web UI is not built</title>"
	"<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}"
	"code{background:#eee;padding:0 .2em}</style>"
	"<h1>The web UI is not built</h1>"
	"<p>This <code>cairn server</code> found no built UI, so only the REST API is served "
	"(<a href=\"/health\">/health</a>, <code>/api/2.0/mlflow/...</code>, <code>/api/cairn/v1/...</code>).</p>"
	"<p>To build it, install Node.js and npm and run <code>make ui</code> in the source tree "
	"(<code>make</code> does it when npm is present); it lands in <code>build/ui</code>, next to the "
	"binary. Or point the server at a built copy: <code>cairn server --ui DIR</code> or "
	"<code>CAIRN_UI_DIR=DIR</code>.</p></html>";

/* Where the built UI is: --ui, else $CAIRN_UI_DIR, else ui/ beside the
 * binary or one level up (build/cairn and build/asan/cairn both find
 * build/ui), else ../share/cairn/ui from the binary (an installed tree).
 * Returns the first that holds an index.html, or the --ui/env value as
 * given (so its absence is reported), or NULL. */
static const char *ui_dir(const char *opt, char *buf, size_t n)
{
	static const char *const rel[] = { "ui", "../ui", "../share/cairn/ui" };
	const char *env = getenv("CAIRN_UI_DIR");
	char exe[4000], *slash;
	ssize_t len;

	if (opt)
		return opt;
	if (env && *env)
		return env;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return NULL;
	exe[len] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char idx[4400];
		snprintf(buf, n, "%s/%s", exe, rel[i]);
		snprintf(idx, sizeof(idx), "%s/index.html", buf);
		if (!access(idx, R_OK))
			return buf;
	}
	return NULL;
}

static void server_usage(FILE *f)
{
	fprintf(f, "usage: cairn server [--host ADDR] [--port N] [--root DIR] [--threads N] [--pipeline DIR]\n"
		   "                    [--no-monitors] [--monitor-poll S] [--webhook-allow HOST]\n"
		   "                    [--allowed-hosts LIST] [--cors-allowed-origins LIST] [--max-connections N]\n"
		   "                    [--max-connections-per-client N] [--head-timeout S] [--body-timeout S]\n"
		   "                    [--idle-timeout S] [--ui DIR]\n\n"
		   "Serve the MLflow REST API (tracking and the mlflow-artifacts proxy) so unmodified\n"
		   "MLflow clients work: MLFLOW_TRACKING_URI=http://ADDR:PORT. GET /metrics: Prometheus.\n\n"
		   "  --port N       port (default 5000; 0 picks a free one)\n"
		   "  --root DIR     data directory: cairn.db and objects/ (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --pipeline DIR run `cairn repro` in DIR when one of the triggers of its cairn.yaml\n"
		   "                 fires ({cron: EXPR}, {every: DURATION}, {watch: PATH}); the runs are\n"
		   "                 recorded in this server, tagged cairn.trigger; a monitor whose\n"
		   "                 spec says retrain: DIR[:STAGE] runs it when a drift incident starts\n"
		   "  --no-monitors  do not run the monitors defined in the store (cairn monitor add)\n"
		   "  --monitor-poll S  how often the monitors look for new windows (default 5)\n"
		   "  --webhook-allow HOST  a host the monitors' webhooks may post to (repeat, or\n"
		   "                 comma-separated; none by default)\n"
		   "  --ui DIR       the built web UI to serve at / (default $CAIRN_UI_DIR, else ui/\n"
		   "                 beside the binary or one level up; `make ui` builds it)\n"
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
		/* long-only options take codes above any letter, so none collides with CLI_HTTP_OPTIONS */
		{ "no-monitors", no_argument, NULL, 0x100 },
		{ "monitor-poll", required_argument, NULL, 0x101 },
		{ "webhook-allow", required_argument, NULL, 0x102 },
		{ "ui", required_argument, NULL, 0x103 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_config cfg = { .host = "127.0.0.1", .port = 5000 };
	const char *root = cli_default_root();
	struct http_server *srv = NULL;
	struct trigger_runner *trig = NULL;
	const char *pipeline_dir = NULL, *ui_opt = NULL, *ui;
	struct http_static *web = NULL;
	char ui_buf[4200];
	struct monitor_host *mon = NULL;
	struct buf allow = BUF_INIT;
	bool monitors = true;
	unsigned long poll_s = 5;
	char *end;
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
		case 0x100:
			monitors = false;
			break;
		case 0x101:
			errno = 0;
			poll_s = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || poll_s < 1 || poll_s > 86400) {
				fprintf(stderr, "cairn server: --monitor-poll is a number of seconds from 1 to 86400, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 0x102:
			if (allow.len)
				buf_putc(&allow, ',');
			buf_puts(&allow, optarg);
			break;
		case 0x103:
			ui_opt = optarg;
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

	if ((rc = api_ctx_open(root, &ctx))) {
		buf_release(&allow);
		return cli_fail("server", "%s", cairn_error_msg());
	}
	ui = ui_dir(ui_opt, ui_buf, sizeof(ui_buf));
	if ((rc = http_server_new(&cfg, &srv)) || (rc = api_mount(srv, &ctx)) ||
	    (rc = http_static_mount(srv, "", ui, ui_missing_html, &web)) || (rc = http_server_start(srv))) {
		cli_fail("server", "%s", cairn_error_msg());
		http_server_free(srv);
		http_static_free(web);
		api_ctx_close(&ctx);
		buf_release(&allow);
		return 1;
	}
	if (pipeline_dir) {
		cli_http_url(&cfg, http_server_port(srv), url, sizeof(url));
		if ((rc = trigger_start(pipeline_dir, url, &trig))) {
			cli_fail("server", "%s", cairn_error_msg());
			http_server_free(srv);
			http_static_free(web);
			api_ctx_close(&ctx);
			buf_release(&allow);
			return 1;
		}
	}
	if (monitors) {
		struct monitor_host_opts mo = { .root = root, .who = "server", .metrics = ctx.metrics,
						.allow_hosts = allow.ptr, .poll_ms = (int64_t)poll_s * 1000,
						.retrain = retrain, .retrain_ctx = trig };

		if (buf_error(&allow) || (rc = monitor_host_start(&mo, &mon))) {
			cli_fail("server", "the monitors: %s", buf_error(&allow) ? "out of memory" : cairn_error_msg());
			trigger_stop(trig);
			http_server_free(srv);
			http_static_free(web);
			api_ctx_close(&ctx);
			buf_release(&allow);
			return 1;
		}
	}
	cli_http_url(&cfg, http_server_port(srv), url, sizeof(url));
	printf("cairn server listening on %s (root: %s)\n", url, root);
	if (http_static_ready(web))
		printf("web UI: %s/\n", url);
	else
		printf("web UI: not built (%s); see %s/\n", ui ? ui : "no ui/ beside the binary", url);
	fflush(stdout);
	sigwait(&set, &sig);
	monitor_host_stop(mon);
	buf_release(&allow);
	trigger_stop(trig);
	cairn_log(LOG_INFO, "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (http_server_drain(srv, 10000))
		cairn_log(LOG_WARN, "server: %u requests were still in flight after 10 s", http_server_inflight(srv));
	http_server_free(srv);
	http_static_free(web);
	api_ctx_close(&ctx);
	return 0;
}
