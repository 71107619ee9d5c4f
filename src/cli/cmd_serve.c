/* cmd_serve.c - `cairn serve`: serve models over MLflow's scoring protocol and
 * the Open Inference Protocol, following registry aliases. */
#include "cli/cmd.h"
#include "cli/http_opts.h"
#include "client/client.h"
#include "client/model_fetch.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/metrics.h"
#include "core/util.h"
#include "core/yaml.h"
#include "monitor/host.h"
#include "serve/serve.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void serve_usage(FILE *f)
{
	fprintf(f, "usage: cairn serve URI [--name NAME] [--port N] [options]\n"
		   "       cairn serve --model NAME=URI [--model NAME=URI ...] [options]\n\n"
		   "Serve models: MLflow's scoring protocol (POST /invocations, GET /ping /health\n"
		   "/version), the Open Inference Protocol (KServe v2: /v2/models/NAME/infer, metadata,\n"
		   "health) and Prometheus metrics (GET /metrics). URI: models:/NAME@ALIAS,\n"
		   "models:/NAME/VERSION, models:/NAME/latest, models:/m-ID, runs:/RUN_ID/PATH,\n"
		   "mlflow-artifacts:/PATH, or a local model directory or model file. A server on an\n"
		   "alias (or latest, or a stage) polls the store and switches to the version it names\n"
		   "without dropping a request. Natively served: the xgboost flavor; other Python\n"
		   "flavors with --allow-pickle.\n\n"
		   "  --model NAME=URI  serve URI as NAME (repeat for several models on one port; the\n"
		   "                 first answers /invocations)\n"
		   "  --name NAME    the name of URI (default: its registered name, else \"model\")\n"
		   "  --port N       port (default 8080; 0 picks a free one)\n"
		   "  --tracking-uri URI  the tracking server holding the registry (default\n"
		   "                 $MLFLOW_TRACKING_URI, else the local --root)\n"
		   "  --root DIR     a local data root instead (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --cache DIR    where downloaded models are kept (default $CAIRN_MODEL_CACHE,\n"
		   "                 else ~/.cache/cairn/models)\n"
		   "  --poll S       how often to ask the store where moving URIs point (default 5;\n"
		   "                 0: never)\n"
		   "  --max-body BYTES  request body limit of the scoring routes (default 16 MiB)\n"
		   "  --request-timeout S  (default 60, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT)\n"
		   "  --nthread N    threads for one big batch (default 1)\n"
		   "  --max-batch-size N  predict up to N queued rows together (dynamic batching; default\n"
		   "                 1: each request on its own thread)\n"
		   "  --max-queue-delay-us N  let a batch wait up to N us for more requests (default 0)\n"
		   "  --max-queue N  requests waiting for a batch (default 1024); beyond, 503 at once\n"
		   "  --canary URI=PERCENT  a second version answering PERCENT %% of the first model's\n"
		   "                 requests (followed like URI); answers carry X-Model-Version and\n"
		   "                 X-Model-Variant: primary or canary\n"
		   "  --shadow URI   a version that scores a copy of every request of the first model;\n"
		   "                 its answers are counted (cairn_serve_shadow_requests_total), never sent\n"
		   "  --sticky-header NAME  requests with the same value of this header go to the same\n"
		   "                 variant (default: each request drawn at random)\n"
		   "  --allow-pickle serve Python flavors (sklearn, any python_function model) through a\n"
		   "                 supervised pool of Python workers running MLflow's own scoring code;\n"
		   "                 loading a pickle runs its code: only for models you trust\n"
		   "  --python PATH  their interpreter (default /usr/bin/python3; needs mlflow importable)\n"
		   "  --python-workers N  worker processes per Python model (default 2)\n"
		   "  --log-dir DIR  log answered requests (id, model, version, latency, input, output) to\n"
		   "                 zstd segments in DIR (docs/inference-log.md); X-Request-ID names them\n"
		   "  --log-sample R the share of requests logged, 0..1 (default 1: all)\n"
		   "  --log-max-bytes N  the log's disk bound; the oldest segments go first (default 1 GiB)\n"
		   "  --monitors     run the store's monitors of the served models (cairn monitor add) on\n"
		   "                 this server's --log-dir; the default when a model comes from a store\n"
		   "  --no-monitors  do not\n"
		   "  --webhook-allow HOST  a host the monitors' webhooks may post to (repeat)\n"
		   "  --report-as NAME  the name this server reports under to the store every poll (its\n"
		   "                 models, versions and /metrics: the web UI's deployments; default\n"
		   "                 its URL); only when a model comes from a store\n"
		   "  --no-report    do not report\n"
		   "  --check        load the model, score its serving_input_example.json, print the\n"
		   "                 answer and exit (0 when it was answered 200)\n"
		   CLI_HTTP_HELP "\n"
		   "Stops cleanly on SIGINT or SIGTERM: requests in flight are answered first.\n");
}

#define SERVE_MAX_HEAD (32u << 10)   /* request line + headers of the scoring server (its MHD pool); uvicorn's h11 takes 16 KiB */

/* One model to serve, and where it points now. */
struct watch {
	char *name;
	const char *uri;     /* borrowed from argv */
	char version[64];    /* the version served */
	char source[1024];   /* the source served (runs and logged models have no version) */
	bool moving;         /* an alias, latest or a stage: poll it */
	char *dir;           /* where the served version's files are (owned) */
	char *owned_uri;     /* uri when it was copied (canary, shadow) */
	char failed[64];     /* the last version that did not load: not tried again */
	enum serve_role role; /* the canary and the shadow belong to the first model */
	unsigned percent;    /* the canary's share */
};

struct poller {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	unsigned every_s;
	struct watch *w;
	size_t nw;
	struct serve *sv;
	const char *tracking_uri, *root, *cache;
	bool report;         /* post what is served to the store every poll */
	const char *report_as; /* the deployment's name (default: url) */
	const char *url;
	int64_t started_ms;
};

/* A downloaded model directory says which registry version it is in
 * registered_model_meta (MLflow writes it: model_name, model_version).
 * Fills name and version when it is there. */
static void local_meta(const char *dir, char *name, size_t name_cap, char *version, size_t cap)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	json_t *doc = NULL;

	buf_printf(&path, "%s/registered_model_meta", dir);
	if (!buf_error(&path) && !fs_read_file(path.ptr, 1u << 16, &text) && !cyaml_parse(text.ptr, text.len, &doc)) {
		const json_t *n = json_object_get(doc, "model_name"), *v = json_object_get(doc, "model_version");
		if (json_is_string(n))
			snprintf(name, name_cap, "%s", json_string_value(n));
		if (json_is_string(v))
			snprintf(version, cap, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(version, cap, "%lld", (long long)json_integer_value(v));
	}
	json_decref(doc);
	buf_release(&path);
	buf_release(&text);
}

/* Resolve, fetch and load w's URI when it names something else than what is
 * served (or nothing is yet). *changed tells whether a new version loaded. */
static int watch_update(struct client *cl, struct serve *sv, struct watch *w, const char *cache, bool first,
			bool *changed)
{
	struct model_ref ref = { 0 };
	const char *version;
	int rc;

	*changed = false;
	if ((rc = client_model_resolve(cl, w->uri, &ref)))
		return rc;
	char meta_name[256] = "", meta_version[64] = "";
	if (ref.kind == MODEL_REF_DIR && ref.dir)
		local_meta(ref.dir, meta_name, sizeof(meta_name), meta_version, sizeof(meta_version));
	version = ref.version ? ref.version : ref.run_id ? ref.run_id : *meta_version ? meta_version : "1";
	if (!first && ((!strcmp(version, w->version) && !strcmp(ref.source ? ref.source : "", w->source)) ||
		       !strcmp(version, w->failed))) {
		model_ref_dispose(&ref);
		return 0;
	}
	if (!w->name && !(w->name = cstrdup(ref.name ? ref.name : *meta_name ? meta_name : "model"))) { /* a primary's */
		model_ref_dispose(&ref);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = client_model_fetch(cl, &ref, cache))) { /* tried again at the next poll */
		model_ref_dispose(&ref);
		return rc;
	}
	if ((rc = w->role == SERVE_PRIMARY
			  ? serve_load(sv, w->name, version, ref.file && ref.kind == MODEL_REF_FILE ? ref.file : ref.dir, false)
			  : serve_load_role(sv, w->name, w->role, version,
					    ref.file && ref.kind == MODEL_REF_FILE ? ref.file : ref.dir))) {
		snprintf(w->failed, sizeof(w->failed), "%s", version); /* the files are bad: not again */
		model_ref_dispose(&ref);
		return rc;
	}
	w->failed[0] = '\0';
	free(w->dir);
	w->dir = cstrdup(ref.dir ? ref.dir : ".");
	snprintf(w->version, sizeof(w->version), "%s", version);
	snprintf(w->source, sizeof(w->source), "%s", ref.source ? ref.source : "");
	w->moving = ref.alias || ref.stage;
	*changed = true;
	model_ref_dispose(&ref);
	return 0;
}

/* Tell the store what this server serves and how it goes (a deployment,
 * registry/deployments.h): its URL, its models and their versions, and its
 * whole /metrics text. A failure is logged once per distinct message: the
 * store may be down for a while, serving goes on. */
static void report(struct poller *p, struct client *cl, const char *state, char *last_err, size_t cap)
{
	json_t *models = json_array(), *info;
	struct buf text = BUF_INIT;
	int rc;

	for (size_t i = 0; models && i < p->nw; i++) {
		const struct watch *w = &p->w[i];
		json_array_append_new(models, json_pack("{s:s,s:s,s:s,s:s,s:b}", "name", w->name, "role",
							serve_role_name(w->role), "uri", w->uri, "version", w->version,
							"followed", w->moving));
	}
	info = json_pack("{s:s,s:I,s:I,s:s,s:o,s:I,s:s}", "url", p->url, "pid", (json_int_t)getpid(), "started",
			 (json_int_t)p->started_ms, "state", state, "models", models ? models : json_array(), "poll_s",
			 (json_int_t)p->every_s, "version", CAIRN_VERSION);
	if ((rc = metrics_render(serve_metrics(p->sv), &text)) || !info || buf_error(&text))
		rc = rc ? rc : cairn_error_set(CAIRN_ENOMEM, "out of memory");
	else
		rc = client_call(cl, "POST", "/api/cairn/v1/deployments/report",
				 json_pack("{s:s,s:o,s:s}", "name", p->report_as ? p->report_as : p->url, "info",
					   json_incref(info), "metrics", text.ptr),
				 NULL);
	if (rc && strncmp(last_err, cairn_error_msg(), cap - 1)) {
		snprintf(last_err, cap, "%s", cairn_error_msg());
		cairn_log(LOG_WARN, "serve: cannot report to the store: %s", last_err);
	} else if (!rc) {
		*last_err = '\0';
	}
	cairn_error_clear();
	json_decref(info);
	buf_release(&text);
}

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct client *cl = NULL;
	struct timespec until;
	char last_err[256] = "";

	if (p->report) {
		if (client_open_default(p->tracking_uri, p->root, cli_default_root(), &cl))
			cairn_log(LOG_WARN, "serve: cannot reach the registry: %s", cairn_error_msg());
		else
			report(p, cl, "serving", last_err, sizeof(last_err));
	}
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += p->every_s;
		while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->mu);
		if (!cl && client_open_default(p->tracking_uri, p->root, cli_default_root(), &cl))
			cairn_log(LOG_WARN, "serve: cannot reach the registry: %s", cairn_error_msg());
		for (size_t i = 0; cl && i < p->nw; i++) {
			bool changed;
			if (!p->w[i].moving)
				continue;
			if (watch_update(cl, p->sv, &p->w[i], p->cache, false, &changed))
				cairn_log(LOG_WARN, "serve: %s (%s): %s; still serving version %s", p->w[i].name,
					  p->w[i].uri, cairn_error_msg(), p->w[i].version);
		}
		if (cl && p->report)
			report(p, cl, "serving", last_err, sizeof(last_err));
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	if (cl && p->report)   /* the last word: this server stops */
		report(p, cl, "stopped", last_err, sizeof(last_err));
	client_free(cl);
	return NULL;
}

/* Score the default model's serving_input_example.json in-process. */
static int check_model(struct serve *sv, const char *dir)
{
	struct buf path = BUF_INIT, body = BUF_INIT, out = BUF_INIT;
	int status = 0, rc;

	buf_printf(&path, "%s/serving_input_example.json", dir);
	if ((rc = buf_error(&path)) || (rc = fs_read_file(path.ptr, 64u << 20, &body))) {
		cli_fail("serve", "--check: %s", rc == CAIRN_ENOTFOUND ? "the model has no serving_input_example.json "
									 "(log it with an input_example)" : cairn_error_msg());
		rc = 1;
		goto out;
	}
	if ((rc = serve_invoke(sv, "application/json", body.ptr, body.len, &status, &out))) {
		cli_fail("serve", "--check: %s", cairn_error_msg());
		rc = 1;
		goto out;
	}
	printf("POST /invocations %s -> %d\n%s\n", path.ptr, status, out.ptr);
	rc = status == 200 ? 0 : 1;
out:
	buf_release(&path);
	buf_release(&body);
	buf_release(&out);
	return rc;
}

/* A local directory or file: served without opening a store (which would
 * create a data root in the working directory). */
static bool uri_is_local(const char *uri)
{
	struct model_ref probe = { 0 };
	bool local = !model_ref_parse(uri, &probe) && (probe.kind == MODEL_REF_DIR || probe.kind == MODEL_REF_FILE);

	model_ref_dispose(&probe);
	return local;
}

static int parse_uint(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 10);
	if (errno || *end || !*arg || *arg == '-' || *out > max)
		return cli_fail("serve", "invalid value '%s' for --%s (a whole number up to %lu)", arg, opt, max), 2;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_HTTP_OPTIONS,
		{ "model", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "tracking-uri", required_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'r' },
		{ "cache", required_argument, NULL, 'K' },
		{ "poll", required_argument, NULL, 'L' },
		{ "max-body", required_argument, NULL, 'M' },
		{ "request-timeout", required_argument, NULL, 'R' },
		{ "nthread", required_argument, NULL, 'N' },
		{ "check", no_argument, NULL, 'k' },
		{ "max-batch-size", required_argument, NULL, 'b' },
		{ "max-queue-delay-us", required_argument, NULL, 'd' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "canary", required_argument, NULL, 'y' },
		{ "shadow", required_argument, NULL, 'w' },
		{ "sticky-header", required_argument, NULL, 'S' },
		{ "log-dir", required_argument, NULL, 'l' },
		{ "allow-pickle", no_argument, NULL, 'P' },
		{ "python", required_argument, NULL, 'Y' },
		{ "python-workers", required_argument, NULL, 'W' },
		{ "log-sample", required_argument, NULL, 's' },
		{ "log-max-bytes", required_argument, NULL, 'x' },
		{ "monitors", no_argument, NULL, 0x100 },
		{ "no-monitors", no_argument, NULL, 0x101 },
		{ "webhook-allow", required_argument, NULL, 0x102 },
		{ "report-as", required_argument, NULL, 0x103 },
		{ "no-report", no_argument, NULL, 0x104 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_config cfg = { .host = "127.0.0.1", .port = 8080 };
	int monitors = -1;   /* -1: when a model comes from a store */
	bool no_report = false;
	struct buf allow = BUF_INIT;
	struct monitor_host *mon = NULL;
	struct monitor_host_model *served = NULL;
	struct serve_config scfg = { .version = CAIRN_VERSION, .log_sample = -1 };
	struct poller p = { .every_s = 5 };
	struct watch *w = NULL, extra[2] = { { 0 } };
	size_t nw = 0, nextra = 0;
	const char *name = NULL, *tracking_uri = NULL, *root = NULL;
	struct buf cache = BUF_INIT;
	struct client *cl = NULL;
	struct serve *sv = NULL;
	struct http_server *srv = NULL;
	bool check = false, polling = false;
	unsigned long v;
	char url[300];
	sigset_t set;
	int c, sig, rc, status = 1;

	cli_http_defaults(&cfg);
	if (!(w = ccalloc((size_t)argc + 3, sizeof(*w))))
		return cli_fail("serve", "out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((rc = cli_http_option("serve", opts, c, optarg, &cfg)) == 2) {
			status = 2;
			goto out;
		}
		if (rc)
			continue;
		switch (c) {
		case 'm': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1]) {
				cli_fail("serve", "invalid --model '%s' (NAME=URI)", optarg);
				status = 2;
				goto out;
			}
			w[nw].name = cstrndup(optarg, (size_t)(eq - optarg));
			w[nw++].uri = eq + 1;
			break;
		}
		case 'n':
			name = optarg;
			break;
		case 'u':
			tracking_uri = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'K':
			buf_clear(&cache);
			buf_puts(&cache, optarg);
			break;
		case 'L':
			if ((status = parse_uint("poll", optarg, 86400, &v)))
				goto out;
			p.every_s = (unsigned)v;
			status = 1;
			break;
		case 'M':
			if ((status = parse_uint("max-body", optarg, 1ul << 32, &v)) || !v) {
				if (!status)
					cli_fail("serve", "invalid value '0' for --max-body");
				status = 2;
				goto out;
			}
			cfg.max_body = v;
			status = 1;
			break;
		case 'R':
			if ((status = parse_uint("request-timeout", optarg, 86400, &v)))
				goto out;
			scfg.request_timeout_ms = (unsigned)v * 1000;
			status = 1;
			break;
		case 'N':
			if ((status = parse_uint("nthread", optarg, 256, &v)))
				goto out;
			scfg.nthread = (int)v;
			status = 1;
			break;
		case 'k':
			check = true;
			break;
		case 'y': {
			/* URI=PERCENT */
			const char *eq = strrchr(optarg, '=');
			char *end;
			unsigned long pct = eq ? strtoul(eq + 1, &end, 10) : 0;
			if (!eq || eq == optarg || !eq[1] || *end || pct > 100 || nextra == 2) {
				cli_fail("serve", "invalid --canary '%s' (URI=PERCENT, a share from 0 to 100)", optarg);
				status = 2;
				goto out;
			}
			extra[nextra].role = SERVE_CANARY;
			extra[nextra].percent = (unsigned)pct;
			extra[nextra++].uri = cstrndup(optarg, (size_t)(eq - optarg));
			break;
		}
		case 'w':
			if (nextra == 2) {
				serve_usage(stderr);
				status = 2;
				goto out;
			}
			extra[nextra].role = SERVE_SHADOW;
			extra[nextra++].uri = cstrdup(optarg);
			break;
		case 'S':
			scfg.sticky_header = optarg;
			break;
		case 'l':
			scfg.log_dir = optarg;
			break;
		case 'P':
			scfg.allow_pickle = true;
			break;
		case 'Y':
			scfg.python = optarg;
			break;
		case 'W':
			if ((status = parse_uint("python-workers", optarg, 64, &v)) || !v) {
				if (!status)
					cli_fail("serve", "invalid value '0' for --python-workers");
				status = 2;
				goto out;
			}
			scfg.python_workers = (unsigned)v;
			status = 1;
			break;
		case 's': {
			char *end;
			double r = strtod(optarg, &end);
			if (*end || !*optarg || !(r >= 0 && r <= 1)) {
				cli_fail("serve", "invalid --log-sample '%s' (a share from 0 to 1)", optarg);
				status = 2;
				goto out;
			}
			scfg.log_sample = r;
			break;
		}
		case 'x':
			if ((status = parse_uint("log-max-bytes", optarg, ~0ul, &v)))
				goto out;
			scfg.log_max_bytes = v;
			status = 1;
			break;
		case 'b':
			if ((status = parse_uint("max-batch-size", optarg, 1u << 20, &v)))
				goto out;
			scfg.max_batch = v;
			status = 1;
			break;
		case 'd':
			if ((status = parse_uint("max-queue-delay-us", optarg, 10000000, &v)))
				goto out;
			scfg.max_queue_delay_us = (unsigned)v;
			status = 1;
			break;
		case 'q':
			if ((status = parse_uint("max-queue", optarg, 1u << 20, &v)) || !v) {
				if (!status)
					cli_fail("serve", "invalid value '0' for --max-queue");
				status = 2;
				goto out;
			}
			scfg.max_queue = v;
			status = 1;
			break;
		case 0x100:
		case 0x101:
			monitors = c == 0x100;
			break;
		case 0x102:
			if (allow.len)
				buf_putc(&allow, ',');
			buf_puts(&allow, optarg);
			break;
		case 0x103:
			p.report_as = optarg;
			break;
		case 0x104:
			no_report = true;
			break;
		case 'h':
			serve_usage(stdout);
			status = 0;
			goto out;
		default:
			serve_usage(stderr);
			status = 2;
			goto out;
		}
	}
	if (optind < argc) {
		if (optind + 1 < argc) {
			serve_usage(stderr);
			status = 2;
			goto out;
		}
		memmove(w + 1, w, nw * sizeof(*w)); /* the positional URI is the default model */
		memset(&w[0], 0, sizeof(*w));
		w[0].uri = argv[optind];
		if (name && !(w[0].name = cstrdup(name))) {
			cli_fail("serve", "out of memory");
			goto out;
		}
		nw++;
	}
	if (!nw) {
		serve_usage(stderr);
		status = 2;
		goto out;
	}
	for (size_t i = 0; i < nextra; i++) {
		if (!extra[i].uri) {
			cli_fail("serve", "out of memory");
			goto out;
		}
		for (size_t k = 0; k < i; k++)
			if (extra[k].role == extra[i].role) {
				cli_fail("serve", "one --%s at most", extra[i].role == SERVE_CANARY ? "canary" : "shadow");
				status = 2;
				goto out;
			}
	}
	if (!cache.len && client_model_cache_default(&cache)) {
		cli_fail("serve", "%s", cairn_error_msg());
		goto out;
	}
	/* block the stop signals in every thread; main waits for them */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = serve_new(&scfg, &sv))) {
		cli_fail("serve", "%s", cairn_error_msg());
		goto out;
	}
	for (size_t i = 0; i < nw; i++) {
		bool changed;
		bool local = uri_is_local(w[i].uri);
		if (!local && !cl && client_open_default(tracking_uri, root, cli_default_root(), &cl)) {
			cli_fail("serve", "%s", cairn_error_msg());
			goto out;
		}
		if (watch_update(local ? NULL : cl, sv, &w[i], cache.ptr, true, &changed)) {
			cli_fail("serve", "%s: %s", w[i].uri, cairn_error_msg());
			goto out;
		}
		polling |= w[i].moving;
	}
	/* the canary and the shadow of the first model, after it */
	for (size_t i = 0; i < nextra; i++) {
		bool changed;
		struct watch *x = &w[nw];
		*x = extra[i];
		extra[i].uri = NULL;
		x->owned_uri = (char *)x->uri;
		if (!(x->name = cstrdup(w[0].name))) {
			cli_fail("serve", "out of memory");
			nw++;
			goto out;
		}
		nw++;
		if (!uri_is_local(x->uri) && !cl && client_open_default(tracking_uri, root, cli_default_root(), &cl)) {
			cli_fail("serve", "%s", cairn_error_msg());
			goto out;
		}
		if (watch_update(uri_is_local(x->uri) ? NULL : cl, sv, x, cache.ptr, true, &changed)) {
			cli_fail("serve", "%s: %s", x->uri, cairn_error_msg());
			goto out;
		}
		if (x->role == SERVE_CANARY)
			serve_set_canary(sv, x->name, x->percent);
		polling |= x->moving;
	}
	if (check) {
		status = check_model(sv, w[0].dir ? w[0].dir : ".");
		goto out;
	}
	client_free(cl); /* the poller opens its own */
	cl = NULL;
	/* scoring is CPU work that never blocks its thread (Python models and batches suspend
	 * the connection): one HTTP thread per CPU this process may run on, so that a server
	 * pinned to one core (taskset) runs one thread, not one per online CPU */
	if (!cfg.threads)
		cfg.threads = cairn_cpus();
	/* libmicrohttpd zeroes a connection's whole memory pool after every keep-alive
	 * request (MHD_pool_reset), and the pool is the head limit: 128 KiB cost ~3.5 us a
	 * request (bench/README.md). A scoring head needs a few KiB; bodies are buffered
	 * outside the pool (http_req.body, up to --max-body), so they are not limited by it */
	if (!cfg.max_head)
		cfg.max_head = SERVE_MAX_HEAD;
	if ((rc = http_server_new(&cfg, &srv)) || (rc = serve_mount(sv, srv)) || (rc = http_server_start(srv))) {
		cli_fail("serve", "%s", cairn_error_msg());
		goto out;
	}
	cli_http_url(&cfg, http_server_port(srv), url, sizeof(url));
	printf("cairn serve listening on %s:", url);
	for (size_t i = 0; i < nw; i++)
		printf(" %s%s%s=%s (version %s%s)", w[i].name, w[i].role ? " " : "", w[i].role ? serve_role_name(w[i].role) : "",
		       w[i].uri, w[i].version, w[i].moving ? ", followed" : "");
	printf("\n");
	fflush(stdout);
	if (monitors < 0)   /* a model from a store: the store's monitors of it run here */
		for (size_t i = 0; i < nw && monitors < 0; i++)
			if (!uri_is_local(w[i].uri))
				monitors = 2;
	if (monitors > 0 && !scfg.log_dir) {
		if (monitors == 1)
			cairn_log(LOG_WARN, "serve: --monitors without --log-dir: there is no log to monitor");
	} else if (monitors > 0) {
		struct monitor_host_opts mo = { .tracking_uri = tracking_uri, .root = root ? root : cli_default_root(),
						.who = "serve", .metrics = serve_metrics(sv), .log_dir = scfg.log_dir,
						.allow_hosts = allow.ptr, .poll_ms = p.every_s ? (int64_t)p.every_s * 1000 : 5000 };
		size_t n = 0;

		if (!(served = ccalloc(nw, sizeof(*served))) || buf_error(&allow)) {
			cli_fail("serve", "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nw; i++)
			if (w[i].role == SERVE_PRIMARY)
				served[n++] = (struct monitor_host_model){ .uri = w[i].uri, .name = w[i].name };
		mo.models = served;
		mo.nmodels = n;
		if (!mo.tracking_uri && getenv("MLFLOW_TRACKING_URI") && *getenv("MLFLOW_TRACKING_URI") && !root)
			mo.tracking_uri = getenv("MLFLOW_TRACKING_URI");
		if (monitor_host_start(&mo, &mon)) {
			cli_fail("serve", "the monitors: %s", cairn_error_msg());
			goto out;
		}
	}
	/* report to the store when a model comes from one (a local model dir has no store) */
	for (size_t i = 0; i < nw && !no_report; i++)
		if (!uri_is_local(w[i].uri))
			p.report = true;
	p.url = url;
	p.started_ms = cairn_now_ms();
	if (!p.every_s)
		p.report = false;
	if ((polling && p.every_s) || p.report) {
		p.w = w;
		p.nw = nw;
		p.sv = sv;
		p.tracking_uri = tracking_uri;
		p.root = root;
		p.cache = cache.ptr;
		pthread_mutex_init(&p.mu, NULL);
		pthread_cond_init(&p.cv, NULL);
		{
			pthread_condattr_t a;
			pthread_condattr_init(&a);
			pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
			pthread_cond_destroy(&p.cv);
			pthread_cond_init(&p.cv, &a);
			pthread_condattr_destroy(&a);
		}
		if (pthread_create(&p.thread, NULL, poll_main, &p)) {
			cli_fail("serve", "cannot start the registry poller");
			goto out;
		}
		p.sv = sv; /* marks the thread as started */
	} else {
		p.sv = NULL;
	}
	sigwait(&set, &sig);
	cairn_log(LOG_INFO, "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (p.sv) {
		pthread_mutex_lock(&p.mu);
		p.stop = true;
		pthread_cond_signal(&p.cv);
		pthread_mutex_unlock(&p.mu);
		pthread_join(p.thread, NULL);
		pthread_mutex_destroy(&p.mu);
		pthread_cond_destroy(&p.cv);
	}
	if (http_server_drain(srv, 30000))
		cairn_log(LOG_WARN, "serve: %u requests were still in flight after 30 s", http_server_inflight(srv));
	status = 0;
out:
	monitor_host_stop(mon);
	free(served);
	buf_release(&allow);
	serve_shutdown(sv); /* the batchers answer what they hold before the HTTP server stops */
	http_server_free(srv);
	serve_free(sv);
	client_free(cl);
	for (size_t i = 0; i < nw; i++) {
		free(w[i].name);
		free(w[i].dir);
		free(w[i].owned_uri);
	}
	for (size_t i = 0; i < nextra; i++)
		free((char *)extra[i].uri);
	free(w);
	buf_release(&cache);
	return status;
}
