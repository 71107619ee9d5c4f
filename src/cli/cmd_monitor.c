/* cmd_monitor.c - `cairn monitor run`: drift of a served model's inference log, window by window, against a reference. */
#include "cli/cmd.h"
#include "cli/monitor_admin.h"
#include "monitor/training_profile.h"
#include "client/client.h"
#include "client/webhook.h"
#include "monitor/runner.h"
#include "core/proc.h"
#include "core/util.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/metrics.h"
#include "http/http.h"
#include "monitor/monitor.h"
#include "stats/profile.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void monitor_usage(FILE *f)
{
	fprintf(f, "usage: cairn monitor run --log-dir DIR --reference REF (--window DURATION | --window-rows N) [options]\n\n"
		   "Read the inference log cairn serve writes (--log-dir), cut the model's requests into\n"
		   "tumbling windows, profile each closed window and test it for drift against REF, a\n"
		   "profile (.json from cairn profile) or a table (profiled here). One line per window\n"
		   "(or --json: one JSON object per line). With --state the position is kept in a file,\n"
		   "so the next run starts with the first window not reported yet (run it from cron).\n"
		   "docs/monitoring.md.\n\n"
		   "  --log-dir DIR           the inference log (cairn serve --log-dir)\n"
		   "  --reference REF         the reference: a profile, a table, or a model URI\n"
		   "                          (models:/NAME@ALIAS...: the version's training profile)\n"
		   "  --tracking-uri URI      the tracking server of a model reference (default\n"
		   "                          $MLFLOW_TRACKING_URI, else the local --root)\n"
		   "  --root DIR              the local data root of a model reference\n"
		   "  --model NAME            only this model's requests (default: all)\n"
		   "  --window DURATION       windows of this length, aligned to the epoch: 30s, 15m, 1h, 1d\n"
		   "  --window-rows N         windows of N rows instead\n"
		   "  --labels FILE           ground truth posted to cairn serve's /labels (default:\n"
		   "                          LOG_DIR/labels.jsonl when there is one): live accuracy and AUC,\n"
		   "                          or RMSE and MAE, per window\n"
		   "  --label-horizon DURATION  labels may come this late: when the labels file grew, the\n"
		   "                          windows (the last 32) that ended within it are scored again\n"
		   "                          and reported as revised (default 1d; 'off': never)\n"
		   "  --flush                 also report the window still open at the end of the log\n"
		   "  --state FILE            read the position from FILE and write it back after the scan\n"
		   "  --name NAME             the monitor's name in the metrics (default: the model, or 'default')\n"
		   "  --metrics FILE          write the windows' gauges in Prometheus' text format\n"
		   "  --json                  one JSON object a window: span, rows, the drift result\n"
		   "  --follow                keep reading the log as it grows (until SIGTERM or SIGINT),\n"
		   "                          scanning every --poll (default 10s) and saving --state each time\n"
		   "  --poll DURATION         how often --follow looks for new records\n"
		   "  --port N                with --follow: serve the gauges at http://HOST:N/metrics\n"
		   "                          (and /healthz) for Prometheus to scrape\n"
		   "  --host ADDR             the address --port binds (default 127.0.0.1)\n"
		   "  --log-run EXPERIMENT    store each window's results as metrics (step = window) of a\n"
		   "                          monitoring run in EXPERIMENT (created; the run is kept in\n"
		   "                          --state), in the store of --tracking-uri or --root\n"
		   "  --webhook URL           POST an event when an incident starts (a window with dataset\n"
		   "                          drift) and when it is resolved: one alert per incident\n"
		   "  --allow-host HOST       hosts the webhook may post to (repeat, or comma-separated)\n"
		   "  --resolve-after N       windows without drift that resolve an incident (1)\n"
		   "  --on-drift CMD          run CMD (/bin/sh -c) when an incident starts: a retraining\n"
		   "                          pipeline, e.g. 'cairn repro' in its folder; not waited for\n"
		   "  --drift-share X         dataset drift threshold (0.5)\n"
		   "  --null-share-threshold X  least change in null share that is drift (0.02; 0 off)\n\n"
		   "Exit status: 0 no window drifted, 1 a window had dataset drift, 2 error or usage.\n");
}

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn monitor: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see cairn monitor run --help)\n");
	return 2;
}

/* 30s, 15m, 1h, 2d (or plain seconds) in microseconds; 0 when not one */
static int64_t parse_duration(const char *s)
{
	double v = cairn_duration_s(s);

	return v * 1e6 >= 1 && v * 1e6 <= 9e18 ? (int64_t)(v * 1e6) : 0;
}

struct run {
	const char *name;
	bool json;
	bool drift_seen;
	const char *on_drift;
	pid_t child;                 /* the last --on-drift command, 0 when reaped */
};

static void run_on_drift(void *ctx, const char *monitor, const char *incident)
{
	struct run *r = ctx;
	struct proc_env env = PROC_ENV_INIT;
	extern char **environ;
	char *argv[] = { "/bin/sh", "-c", (char *)r->on_drift, NULL };
	struct proc_opts po = { .argv = argv, .fd_in = -1, .fd_out = -1, .fd_err = -1, .new_pgroup = true };

	if (r->child > 0 && waitpid(r->child, NULL, WNOHANG) == 0) {
		fprintf(stderr, "cairn monitor: %s: the last --on-drift command is still running; not started again\n",
			monitor);
		return;
	}
	r->child = 0;
	if (proc_env_init(&env, environ) || proc_env_set(&env, "CAIRN_MONITOR", monitor) ||
	    proc_env_set(&env, "CAIRN_INCIDENT", incident)) {
		fprintf(stderr, "cairn monitor: out of memory\n");
	} else {
		po.envp = proc_env_array(&env);
		if (proc_spawn(&po, &r->child))
			fprintf(stderr, "cairn monitor: %s: --on-drift: %s\n", monitor, cairn_error_msg());
	}
	proc_env_release(&env);
}

static int on_report(void *ctx, const struct monitor_report *rep, const struct monitor_state *after)
{
	struct run *r = ctx;
	const struct monitor_window *w = rep->w;
	json_t *ds = json_object_get(w->drift, "dataset"), *flag = json_object_get(w->drift, "flagged_by_test");
	bool drift = rep->drift;

	r->drift_seen = r->drift_seen || drift;
	if (rep->event) {
		fprintf(stderr, "cairn monitor: %s: drift incident %s %s\n", r->name, after->incident, rep->event);
		if (rep->hook_error)
			fprintf(stderr, "cairn monitor: %s: the %s event was not delivered: %s\n", r->name, rep->event,
				rep->hook_error);
	}
	if (r->json) {
		json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:O,s:O?}", "monitor", r->name, "start_us",
				      (json_int_t)w->start_us, "end_us", (json_int_t)w->end_us, "rows", (json_int_t)w->rows,
				      "requests", (json_int_t)w->requests, "bad_requests", (json_int_t)w->bad_requests,
				      "dataset_drift", drift, "drift", w->drift, "performance", w->performance);

		if (!o)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		cli_print_json(o);
		json_decref(o);
	} else {
		json_t *cols = json_object_get(flag, "selected"), *nul = json_object_get(flag, "null_share"), *v;
		size_t i;

		printf("%lld..%lld  rows %llu  drifted %lld/%lld%s", (long long)(w->start_us / 1000000),
		       (long long)(w->end_us / 1000000), (unsigned long long)w->rows,
		       (long long)json_integer_value(json_object_get(ds, "number_of_drifted_columns_with_nulls")),
		       (long long)json_integer_value(json_object_get(ds, "number_of_columns")), drift ? "  DATASET DRIFT" : "");
		json_array_foreach(cols, i, v)
			printf("%s%s", i ? "," : "  columns: ", json_string_value(v));
		json_array_foreach(nul, i, v)
			printf("%s%s", i ? "," : "  null share: ", json_string_value(v));
		if (w->performance) {
			const char *key;

			printf("  labelled %lld:", (long long)json_integer_value(json_object_get(w->performance, "labelled")));
			json_object_foreach((json_t *)w->performance, key, v)
				if (json_is_real(v))
					printf(" %s %.4f", key, json_real_value(v));
		}
		printf("\n");
	}
	fflush(stdout);
	return 0;
}

/* a window scored again with labels that came after it was reported */
static int on_revise(void *ctx, const struct monitor_revision *rv, const struct monitor_state *after)
{
	struct run *r = ctx;

	(void)after;
	if (r->json) {
		json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:O?}", "monitor", r->name, "revised", (json_int_t)rv->index,
				      "revision", (json_int_t)rv->revision, "end_us", (json_int_t)rv->end_us, "performance",
				      rv->performance);

		if (!o)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		cli_print_json(o);
		json_decref(o);
	} else {
		json_t *v;
		const char *key;

		printf("window %llu revised (late labels): labelled %lld:", (unsigned long long)rv->index,
		       (long long)json_integer_value(json_object_get(rv->performance, "labelled")));
		json_object_foreach((json_t *)rv->performance, key, v)
			if (json_is_real(v))
				printf(" %s %.4f", key, json_real_value(v));
		printf("\n");
	}
	fflush(stdout);
	return 0;
}

static int load_reference(const char *ref, const char *tracking_uri, const char *root, json_t **out)
{
	struct client *cl = NULL;
	int rc = 0;

	if (training_profile_needs_store(ref))
		rc = client_open_default(tracking_uri, root, cli_default_root(), &cl);
	if (!rc)
		rc = monitor_reference_load(cl, ref, out);
	client_free(cl);
	return rc;
}

static int read_state(const char *path, struct monitor_state *st)
{
	struct buf b = BUF_INIT;
	json_t *j;
	int rc = fs_read_file(path, MONITOR_STATE_MAX, &b);
	char what[300];

	if (rc == CAIRN_ENOTFOUND)
		return 0;   /* the first run */
	if (rc)
		return rc;
	j = json_loadb(b.ptr ? b.ptr : "", b.len, 0, NULL);
	buf_release(&b);
	snprintf(what, sizeof(what), "'%.280s'", path);
	rc = monitor_state_parse(j, what, st);
	json_decref(j);
	return rc;
}

static int write_state(const char *path, const struct monitor_state *st)
{
	json_t *j = monitor_state_json(st);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int rc;

	json_decref(j);
	if (!text)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	rc = fs_write_atomic(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

static atomic_bool stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = true;
}

static int metrics_route(struct http_req *req, struct http_resp *resp)
{
	return http_resp_metrics(resp, req->ctx);
}

static int health_route(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	return http_resp_json_text(resp, 200, "{\"status\": \"ok\"}");
}

static const struct http_route monitor_routes[] = {
	{ .method = "GET", .path = "/metrics", .fn = metrics_route },
	{ .method = "GET", .path = "/healthz", .fn = health_route },
};

/* sleep for us microseconds, or less when asked to stop */
static void nap(int64_t us)
{
	for (int64_t slept = 0; slept < us && !stopping; slept += 100000) {
		struct timespec ts = { 0, 100000000 };

		nanosleep(&ts, NULL);
	}
}

static int monitor_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log-dir", required_argument, NULL, 'L' },
		{ "reference", required_argument, NULL, 'R' },
		{ "model", required_argument, NULL, 'M' },
		{ "window", required_argument, NULL, 'w' },
		{ "window-rows", required_argument, NULL, 'W' },
		{ "flush", no_argument, NULL, 'f' },
		{ "state", required_argument, NULL, 'S' },
		{ "name", required_argument, NULL, 'N' },
		{ "metrics", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "drift-share", required_argument, NULL, 's' },
		{ "null-share-threshold", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'F' },
		{ "poll", required_argument, NULL, 'o' },
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "log-run", required_argument, NULL, 'E' },
		{ "labels", required_argument, NULL, 'B' },
		{ "label-horizon", required_argument, NULL, 0x100 },
		{ "webhook", required_argument, NULL, 'K' },
		{ "allow-host", required_argument, NULL, 'A' },
		{ "resolve-after", required_argument, NULL, 'Z' },
		{ "on-drift", required_argument, NULL, 'D' },
		{ "tracking-uri", required_argument, NULL, 'U' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct monitor_opts mo = { 0 };
	struct run r = { 0 };
	struct monitor_runner_opts ro = { .resolve_after = 1 };
	struct monitor_state st = { 0 };
	struct monitor_runner *runner = NULL;
	struct monitor_gauges *g = NULL;
	struct client *cl = NULL;
	struct buf allow = BUF_INIT, labels_path = BUF_INIT;
	const char *dir = NULL, *ref = NULL, *state = NULL, *metrics_out = NULL, *tracking_uri = NULL, *root = NULL;
	struct metrics *m = NULL;
	json_t *reference = NULL;
	bool flush = false, follow = false;
	int64_t poll_us = 10 * 1000000LL;
	unsigned long port = 0;
	const char *host = "127.0.0.1";
	struct http_server *srv = NULL;
	int c, rc, status = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		double v;

		switch (c) {
		case 'L': dir = optarg; break;
		case 'R': ref = optarg; break;
		case 'M': mo.model = optarg; break;
		case 'w':
			if (!(mo.window_us = parse_duration(optarg)))
				return usage("--window is a duration like 30s, 15m, 1h or 1d, not '%s'", optarg);
			break;
		case 'W':
			errno = 0;
			mo.window_rows = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || !mo.window_rows)
				return usage("--window-rows is a positive whole number, not '%s'", optarg);
			break;
		case 'f': flush = true; break;
		case 'S': state = optarg; break;
		case 'N': r.name = optarg; break;
		case 'P': metrics_out = optarg; break;
		case 'j': r.json = true; break;
		case 'F': follow = true; break;
		case 'o':
			if (!(poll_us = parse_duration(optarg)))
				return usage("--poll is a duration like 1s, 10s or 1m, not '%s'", optarg);
			break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || port > 65535)
				return usage("--port is a port number, not '%s'", optarg);
			break;
		case 'H': host = optarg; break;
		case 'E': ro.experiment = optarg; break;
		case 'B': mo.labels = optarg; break;
		case 0x100:
			if (!strcmp(optarg, "off"))
				ro.label_horizon_us = -1;
			else if (!(ro.label_horizon_us = parse_duration(optarg)))
				return usage("--label-horizon is a duration like 1h or 7d, or 'off', not '%s'", optarg);
			break;
		case 'K': ro.hook.url = optarg; break;
		case 'A':
			if (allow.len)
				buf_putc(&allow, ',');
			buf_puts(&allow, optarg);
			break;
		case 'Z':
			errno = 0;
			v = strtod(optarg, &end);
			if (errno || *end || v < 1 || v > 1000000 || v != (unsigned)v)
				return usage("--resolve-after is a whole number of windows, not '%s'", optarg);
			ro.resolve_after = (unsigned)v;
			break;
		case 'D': r.on_drift = optarg; break;
		case 'U': tracking_uri = optarg; break;
		case 'r': root = optarg; break;
		case 's':
		case 'n':
			errno = 0;
			v = strtod(optarg, &end);
			if (errno || *end || !*optarg || v < 0 || v > 1 || (c == 's' && v == 0))
				return usage("expected a share between 0 and 1, not '%s'", optarg);
			if (c == 's')
				mo.drift.drift_share = v;
			else
				mo.drift.null_share_threshold = v ? v : -1;
			break;
		case 'h': monitor_usage(stdout); return 0;
		default: monitor_usage(stderr); return 2;
		}
	}
	if (!dir || !ref)
		return usage("%s", "--log-dir and --reference are required");
	if (!mo.window_us == !mo.window_rows)
		return usage("%s", "one of --window and --window-rows is required");
	if (optind != argc)
		return usage("unexpected argument '%s'", argv[optind]);
	if ((port || follow) && !follow)
		return usage("%s", "--port needs --follow");
	if (follow && flush)
		return usage("%s", "--flush does not go with --follow (a window closes when the next begins)");
	if (!r.name)
		r.name = mo.model ? mo.model : "default";
	if (!mo.labels) {   /* cairn serve keeps them beside the log */
		buf_printf(&labels_path, "%s/labels.jsonl", dir);
		if (!labels_path.err && access(labels_path.ptr, R_OK) == 0)
			mo.labels = labels_path.ptr;
	}
	if (allow.err) {
		buf_release(&allow);
		buf_release(&labels_path);
		return usage("%s", "out of memory");
	}
	ro.hook.allow_hosts = allow.ptr ? allow.ptr : "";
	if (ro.hook.url && webhook_check(&ro.hook)) {
		fprintf(stderr, "cairn monitor: %s\n", cairn_error_msg());
		buf_release(&allow);
		buf_release(&labels_path);
		return 2;
	}
	if ((rc = load_reference(ref, tracking_uri, root, &reference))) {
		fprintf(stderr, "cairn monitor: the reference: %s\n", cairn_error_msg());
		goto out;
	}
	mo.reference = reference;
	if (state && (rc = read_state(state, &st)))
		goto fail;
	if ((metrics_out || port) && ((rc = metrics_new(&m)) || (rc = monitor_gauges_new(m, &g))))
		goto fail;
	if (ro.experiment && (rc = client_open_default(tracking_uri, root, cli_default_root(), &cl)))
		goto fail;
	ro.name = r.name;
	ro.gauges = g;
	ro.cl = cl;
	if (r.on_drift) {
		ro.on_firing = run_on_drift;
		ro.firing_ctx = &r;
	}
	ro.on_revise = on_revise;
	ro.revise_ctx = &r;
	if ((rc = monitor_runner_new(&ro, &st, &runner)))
		goto fail;
	if (port) {
		struct http_config cfg = { .host = host, .port = (unsigned)port, .threads = 1 };

		if ((rc = http_server_new(&cfg, &srv)) ||
		    (rc = http_server_mount(srv, "", monitor_routes, sizeof(monitor_routes) / sizeof(monitor_routes[0]), m,
					    NULL)) ||
		    (rc = http_server_start(srv)))
			goto fail;
		fprintf(stderr, "cairn monitor: gauges at http://%s:%u/metrics\n", host, http_server_port(srv));
	}
	if (follow) {
		struct sigaction sa = { .sa_handler = on_stop };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	do {
		rc = monitor_runner_scan(runner, dir, &mo, flush, on_report, &r);
		/* the position is good up to the last window handled, also after an error */
		if (state) {
			int src = write_state(state, monitor_runner_state(runner));

			if (!rc)
				rc = src;
		}
		if (rc && !(follow && rc == CAIRN_ENOTFOUND))
			goto fail;   /* following, a log not made yet is waited for */
		if (metrics_out) {
			struct buf b = BUF_INIT;

			rc = metrics_render(m, &b);
			if (!rc)
				rc = fs_write_atomic(metrics_out, b.ptr ? b.ptr : "", b.len, 0644);
			buf_release(&b);
			if (rc)
				goto fail;
		}
		if (follow)
			nap(poll_us);
	} while (follow && !stopping);
	status = follow ? 0 : r.drift_seen ? 1 : 0;
	goto out;
fail:
	fprintf(stderr, "cairn monitor: %s\n", cairn_error_msg());
out:
	if (srv) {
		http_server_stop(srv);
		http_server_free(srv);
	}
	monitor_runner_free(runner);
	monitor_gauges_free(g);
	metrics_free(m);
	json_decref(reference);
	buf_release(&allow);
	buf_release(&labels_path);
	client_free(cl);
	if (r.child > 0)   /* a retraining command still running goes on without us */
		waitpid(r.child, NULL, WNOHANG);
	return status;
}

int cmd_monitor(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		monitor_usage(argc < 2 ? stderr : stdout);
		fprintf(argc < 2 ? stderr : stdout, "\n");
		monitor_admin_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "run"))
		return monitor_run(argc - 1, argv + 1);
	if (monitor_admin_is(argv[1]))
		return monitor_admin(argc - 1, argv + 1);
	fprintf(stderr, "cairn monitor: unknown subcommand '%s' (run, add, update, list, show, history, enable, disable, "
			"delete; see cairn monitor --help)\n", argv[1]);
	return 2;
}
