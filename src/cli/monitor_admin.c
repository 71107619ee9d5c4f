/* monitor_admin.c - `cairn monitor add|update|list|show|history|enable|disable|delete`: monitors kept in the store. */
#include "cli/monitor_admin.h"
#include "cli/cmd.h"
#include "client/client.h"
#include "client/table.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"
#include "registry/monitors.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void monitor_admin_usage(FILE *f)
{
	fprintf(f, "Monitors kept in the store, run inside cairn server (or cairn serve) - docs/monitoring.md:\n\n"
		   "  cairn monitor add NAME --model URI (--window DURATION | --window-rows N) [options]\n"
		   "  cairn monitor update NAME [options] [--unset FIELD]\n"
		   "  cairn monitor list | show NAME | history NAME [--max N] | delete NAME\n"
		   "  cairn monitor enable NAME | disable NAME\n\n"
		   "  --model URI             the model watched: models:/NAME@ALIAS, models:/NAME/3, ...\n"
		   "  --window DURATION       tumbling windows of this length: 30s, 15m, 1h, 1d\n"
		   "  --window-rows N         ... or of N rows\n"
		   "  --log-dir DIR           its inference log (cairn serve --log-dir); without it the\n"
		   "                          cairn serve that serves the model runs the monitor on its log\n"
		   "  --served-name NAME      the model's name in the log (default: its registered name)\n"
		   "  --reference REF         a profile or a table (default: the model version's training\n"
		   "                          profile, followed when the alias moves)\n"
		   "  --drift-share X         dataset drift threshold (0.5)\n"
		   "  --null-share-threshold X  least change in null share that is drift (0.02; 0 off)\n"
		   "  --resolve-after N       windows without drift that resolve an incident (1)\n"
		   "  --webhook URL           POST an alert when an incident starts and ends (the host must\n"
		   "                          be allowed by the server: --webhook-allow)\n"
		   "  --retrain DIR[:STAGE]   run the pipeline in DIR (cairn server --pipeline DIR) when an\n"
		   "                          incident starts\n"
		   "  --experiment NAME       where the monitoring run is kept (cairn-monitors)\n"
		   "  --labels FILE           ground truth (default: LOG_DIR/labels.jsonl)\n"
		   "  --label-horizon DURATION  labels may come this late: windows that ended within it are\n"
		   "                          revised when they do (default 1d; 'off')\n"
		   "  --disabled              (add) defined but not run until enabled\n"
		   "  --unset FIELD           (update) remove a field: log_dir, reference, webhook, ...\n"
		   "  --max N                 (history) windows and events shown (20)\n"
		   "  --json                  print JSON\n"
		   "  --tracking-uri URI, --root DIR   the store (default $MLFLOW_TRACKING_URI, else the root)\n");
}

static int fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn monitor: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 2;
}

/* an absolute form of a local path (it need not exist) */
static json_t *abs_path(const char *p)
{
	char real[PATH_MAX], cwd[PATH_MAX];
	struct buf b = BUF_INIT;
	json_t *v;

	if (realpath(p, real))
		return json_string(real);
	if (p[0] == '/')
		return json_string(p);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	buf_printf(&b, "%s/%s", cwd, p);
	v = buf_error(&b) ? NULL : json_string(b.ptr);
	buf_release(&b);
	return v;
}

static bool is_uri(const char *s)
{
	return strstr(s, ":/") != NULL || !strncmp(s, "file:", 5);
}

struct admin {
	json_t *spec;          /* the fields given */
	bool json, disabled;
	long max;
	const char *tracking_uri, *root;
};

static int set(struct admin *a, const char *key, json_t *v)
{
	if (!v || json_object_set_new(a->spec, key, v))
		return fail("%s", "out of memory");
	return 0;
}

static int parse(int argc, char **argv, struct admin *a, bool update)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },        { "window", required_argument, NULL, 'w' },
		{ "window-rows", required_argument, NULL, 'W' },  { "log-dir", required_argument, NULL, 'L' },
		{ "served-name", required_argument, NULL, 'n' },  { "reference", required_argument, NULL, 'R' },
		{ "drift-share", required_argument, NULL, 's' },  { "null-share-threshold", required_argument, NULL, 'N' },
		{ "resolve-after", required_argument, NULL, 'Z' }, { "webhook", required_argument, NULL, 'K' },
		{ "retrain", required_argument, NULL, 'T' },      { "experiment", required_argument, NULL, 'E' },
		{ "labels", required_argument, NULL, 'B' },       { "disabled", no_argument, NULL, 'd' },
		{ "unset", required_argument, NULL, 'u' },        { "max", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },               { "tracking-uri", required_argument, NULL, 'U' },
		{ "root", required_argument, NULL, 'r' },         { "help", no_argument, NULL, 'h' },
		{ "label-horizon", required_argument, NULL, 0x100 },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		char *end;
		double v;
		long n;

		rc = 0;
		switch (c) {
		case 'm': rc = set(a, "model", json_string(optarg)); break;
		case 'w':
			if ((v = cairn_duration_s(optarg)) <= 0)
				return fail("--window is a duration like 30s, 15m, 1h or 1d, not '%s'", optarg);
			rc = set(a, "window_seconds", json_real(v));
			if (!rc && update)
				rc = set(a, "window_rows", json_null());
			break;
		case 'W':
		case 'Z':
		case 'x':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || !*optarg || n < 1 || n > 1000000000)
				return fail("expected a whole number from 1, not '%s'", optarg);
			if (c == 'x')
				a->max = n;
			else
				rc = set(a, c == 'W' ? "window_rows" : "resolve_after", json_integer(n));
			if (!rc && c == 'W' && update)
				rc = set(a, "window_seconds", json_null());
			break;
		case 'L': rc = set(a, "log_dir", abs_path(optarg)); break;
		case 'B': rc = set(a, "labels", abs_path(optarg)); break;
		case 'n': rc = set(a, "served_name", json_string(optarg)); break;
		case 'R': rc = set(a, "reference", is_uri(optarg) ? json_string(optarg) : abs_path(optarg)); break;
		case 's':
		case 'N':
			errno = 0;
			v = strtod(optarg, &end);
			if (errno || *end || !*optarg || v < 0 || v > 1 || (c == 's' && v == 0))
				return fail("expected a share between 0 and 1, not '%s'", optarg);
			rc = set(a, c == 's' ? "drift_share" : "null_share_threshold", json_real(v));
			break;
		case 'K': rc = set(a, "webhook", json_string(optarg)); break;
		case 'T': {
			const char *colon = strrchr(optarg, ':');
			char dir[PATH_MAX], real[PATH_MAX];
			struct buf b = BUF_INIT;

			snprintf(dir, sizeof(dir), "%s", optarg);
			if (colon && !strchr(colon + 1, '/'))
				dir[colon - optarg] = '\0';
			if (!realpath(dir, real))
				return fail("--retrain: no pipeline folder '%s'", dir);
			buf_printf(&b, "%s%s", real, colon && !strchr(colon + 1, '/') ? colon : "");
			rc = buf_error(&b) ? fail("%s", "out of memory") : set(a, "retrain", json_string(b.ptr));
			buf_release(&b);
			break;
		}
		case 'E': rc = set(a, "experiment", json_string(optarg)); break;
		case 0x100:
			v = strcmp(optarg, "off") ? cairn_duration_s(optarg) : 0;
			if (v <= 0 && strcmp(optarg, "off"))
				return fail("--label-horizon is a duration like 1h or 7d, or 'off', not '%s'", optarg);
			rc = set(a, "label_horizon", json_real(v));
			break;
		case 'd': a->disabled = true; break;
		case 'u': rc = set(a, optarg, json_null()); break;
		case 'j': a->json = true; break;
		case 'U': a->tracking_uri = optarg; break;
		case 'r': a->root = optarg; break;
		case 'h': monitor_admin_usage(stdout); return -1;
		default: monitor_admin_usage(stderr); return 2;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- printing ---- */

static void fmt_window(const json_t *spec, struct buf *b)
{
	json_t *s = json_object_get(spec, "window_seconds"), *r = json_object_get(spec, "window_rows");

	if (json_is_number(s))
		table_fmt_duration((int64_t)(json_number_value(s) * 1000), b);
	else if (json_is_integer(r))
		buf_printf(b, "%lld rows", (long long)json_integer_value(r));
	else
		buf_puts(b, "-");
}

static const char *status_of(const json_t *m)
{
	if (!json_is_true(json_object_get(m, "enabled")))
		return "disabled";
	if (json_is_true(json_object_get(m, "firing")))
		return "FIRING";
	return json_string_length(json_object_get(m, "owner")) ? "ok" : "idle";
}

static int print_list(json_t *list)
{
	struct table t;
	struct buf b = BUF_INIT, text = BUF_INIT;
	size_t i, dropped = 0;
	json_t *m;
	int rc;

	table_init(&t, 7, 1);
	table_add(&t, "name");
	table_add(&t, "model");
	table_add(&t, "window");
	table_add(&t, "windows");
	table_add(&t, "status");
	table_add(&t, "last drift share");
	table_add(&t, "runner");
	json_array_foreach(list, i, m) {
		json_t *spec = json_object_get(m, "spec"), *last = json_object_get(m, "last_window");

		table_add(&t, cli_str(m, "name"));
		table_add(&t, cli_str(spec, "model"));
		buf_clear(&b);
		fmt_window(spec, &b);
		table_add(&t, b.ptr);
		table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(m, "windows")));
		table_add(&t, status_of(m));
		if (json_is_number(json_object_get(last, "share")))
			table_addf(&t, "%.3f%s", json_number_value(json_object_get(last, "share")),
				   json_is_true(json_object_get(last, "dataset_drift")) ? " drift" : "");
		else
			table_add(&t, NULL);
		table_add(&t, json_string_length(json_object_get(m, "owner")) ? cli_str(m, "owner") : NULL);
	}
	if (!table_rows(&t) || table_rows(&t) == 1) {
		table_release(&t);
		buf_release(&b);
		printf("no monitors (cairn monitor add NAME --model URI --window 1h)\n");
		return 0;
	}
	if (!(rc = buf_error(&b)) && !(rc = table_render(&t, table_term_width(), 60, &text, &dropped)))
		fwrite(text.ptr, 1, text.len, stdout);
	table_release(&t);
	buf_release(&b);
	buf_release(&text);
	return rc ? cli_fail("monitor", "%s", cairn_error_msg()) : 0;
}

static void print_monitor(json_t *m)
{
	json_t *spec = json_object_get(m, "spec"), *v, *last = json_object_get(m, "last_window");
	struct buf b = BUF_INIT;
	const char *key;

	printf("monitor     %s (%s)\n", cli_str(m, "name"), status_of(m));
	json_object_foreach(spec, key, v) {
		buf_clear(&b);
		table_fmt_value(v, 0, &b);
		printf("  %-20s %s\n", key, b.ptr ? b.ptr : "");
	}
	printf("windows     %lld\n", (long long)json_integer_value(json_object_get(m, "windows")));
	if (last) {
		buf_clear(&b);
		table_fmt_time(json_integer_value(json_object_get(last, "end_us")) / 1000, &b);
		printf("last window ended %s, %lld rows, drift share %.3f%s\n", b.ptr ? b.ptr : "-",
		       (long long)json_integer_value(json_object_get(last, "rows")), json_number_value(json_object_get(last, "share")),
		       json_is_true(json_object_get(last, "dataset_drift")) ? " (dataset drift)" : "");
	}
	if (json_is_true(json_object_get(m, "firing")))
		printf("incident    %s, open\n", cli_str(json_object_get(m, "state"), "incident"));
	if (json_string_length(json_object_get(m, "owner"))) {
		buf_clear(&b);
		table_fmt_time(json_integer_value(json_object_get(m, "lease_until")), &b);
		printf("runner      %s (lease until %s)\n", cli_str(m, "owner"), b.ptr ? b.ptr : "-");
	}
	if (json_string_length(json_object_get(json_object_get(m, "state"), "run_id")))
		printf("run         %s\n", cli_str(json_object_get(m, "state"), "run_id"));
	buf_release(&b);
}

static int print_history(json_t *windows, json_t *events)
{
	struct table t;
	struct buf b = BUF_INIT, text = BUF_INIT;
	size_t i, dropped = 0;
	json_t *w, *e;
	int rc;

	table_init(&t, 6, 1);
	table_add(&t, "window");
	table_add(&t, "end");
	table_add(&t, "rows");
	table_add(&t, "drift share");
	table_add(&t, "drifted");
	table_add(&t, "performance");
	json_array_foreach(windows, i, w) {
		json_t *cols = json_object_get(w, "drifted_columns"), *perf = json_object_get(w, "performance"), *v;
		const char *key;
		size_t j;

		table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(w, "index")));
		buf_clear(&b);
		table_fmt_time(json_integer_value(json_object_get(w, "end_us")) / 1000, &b);
		table_add(&t, b.ptr);
		table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(w, "rows")));
		table_addf(&t, "%.3f%s", json_number_value(json_object_get(w, "share")),
			   json_is_true(json_object_get(w, "dataset_drift")) ? " DRIFT" : "");
		buf_clear(&b);
		json_array_foreach(cols, j, v)
			buf_printf(&b, "%s%s", j ? "," : "", json_string_value(v));
		table_add(&t, b.len ? b.ptr : NULL);
		buf_clear(&b);
		json_object_foreach(perf, key, v)
			if (json_is_number(v))
				buf_printf(&b, "%s%s %.4g", b.len ? " " : "", key, json_number_value(v));
		if (json_integer_value(json_object_get(w, "revision")) > 0)   /* late labels scored */
			buf_printf(&b, " (revised %lld)", (long long)json_integer_value(json_object_get(w, "revision")));
		table_add(&t, b.len ? b.ptr : NULL);
	}
	if (table_rows(&t) > 1 && !(rc = buf_error(&b)) && !(rc = table_render(&t, table_term_width(), 60, &text, &dropped)))
		fwrite(text.ptr, 1, text.len, stdout);
	else if (table_rows(&t) <= 1)
		printf("no windows yet\n");
	table_release(&t);
	if (json_array_size(events))
		printf("\nevents:\n");
	json_array_foreach(events, i, e) {
		json_t *d = json_object_get(e, "detail"), *rt = json_object_get(d, "retrain"), *hook = json_object_get(d, "webhook");

		buf_clear(&b);
		table_fmt_time(json_integer_value(json_object_get(e, "time")), &b);
		printf("  %s  %-8s", b.ptr ? b.ptr : "-", cli_str(e, "event"));
		if (json_is_integer(json_object_get(e, "window")))
			printf("  window %lld", (long long)json_integer_value(json_object_get(e, "window")));
		if (json_string_length(json_object_get(e, "incident")))
			printf("  incident %s", cli_str(e, "incident"));
		if (json_string_value(json_object_get(d, "message")))
			printf("  %s", cli_str(d, "message"));
		if (hook)
			printf("  webhook %s", json_is_true(json_object_get(hook, "delivered")) ? "delivered" : "NOT delivered");
		if (rt)
			printf("  retrain %s%s%s", cli_str(rt, "target"), json_is_true(json_object_get(rt, "started")) ? " started" : ": ",
			       json_is_true(json_object_get(rt, "started")) ? "" : cli_str(rt, "error"));
		printf("\n");
	}
	buf_release(&b);
	buf_release(&text);
	return 0;
}

/* ---- the subcommands ---- */

int monitor_admin(int argc, char **argv)
{
	const char *sub = argv[0], *name = NULL;
	struct admin a = { .spec = json_object(), .max = 20 };
	struct client *cl = NULL;
	json_t *reply = NULL, *more = NULL;
	int rc, status = 1;
	bool needs_name = strcmp(sub, "list") != 0;

	if (!a.spec)
		return fail("%s", "out of memory");
	if ((rc = parse(argc, argv, &a, !strcmp(sub, "update")))) {
		json_decref(a.spec);
		return rc < 0 ? 0 : rc;
	}
	if (needs_name) {
		if (optind >= argc) {
			json_decref(a.spec);
			return fail("%s: which monitor? (cairn monitor --help)", sub);
		}
		name = argv[optind++];
	}
	if (optind != argc) {
		json_decref(a.spec);
		return fail("unexpected argument '%s'", argv[optind]);
	}
	if (json_object_size(a.spec) && strcmp(sub, "add") && strcmp(sub, "update")) {
		json_decref(a.spec);
		return fail("%s takes no monitor fields", sub);
	}
	if (name && mon_check_name(name)) {
		json_decref(a.spec);
		return fail("%s", cairn_error_msg());
	}
	if (!strcmp(sub, "add") && mon_spec_check(a.spec)) {
		json_decref(a.spec);
		return fail("%s", cairn_error_msg());
	}
	if ((rc = client_open_default(a.tracking_uri, a.root, cli_default_root(), &cl)))
		goto out;
	if (!strcmp(sub, "add")) {
		rc = client_call(cl, "POST", "/api/cairn/v1/monitors/create", json_pack("{s:s,s:O}", "name", name, "spec", a.spec),
				 &reply);
		if (!rc && a.disabled)
			rc = client_call(cl, "PATCH", "/api/cairn/v1/monitors/update",
					 json_pack("{s:s,s:b}", "name", name, "enabled", 0), NULL);
	} else if (!strcmp(sub, "update")) {
		rc = client_call(cl, "PATCH", "/api/cairn/v1/monitors/update", json_pack("{s:s,s:O}", "name", name, "spec", a.spec),
				 &reply);
	} else if (!strcmp(sub, "enable") || !strcmp(sub, "disable")) {
		rc = client_call(cl, "PATCH", "/api/cairn/v1/monitors/update",
				 json_pack("{s:s,s:b}", "name", name, "enabled", !strcmp(sub, "enable")), &reply);
	} else if (!strcmp(sub, "delete")) {
		rc = client_call(cl, "DELETE", "/api/cairn/v1/monitors/delete", json_pack("{s:s}", "name", name), NULL);
	} else if (!strcmp(sub, "list")) {
		rc = client_call(cl, "GET", "/api/cairn/v1/monitors/list", json_object(), &reply);
	} else if (!strcmp(sub, "show")) {
		rc = client_call(cl, "GET", "/api/cairn/v1/monitors/get", json_pack("{s:s}", "name", name), &reply);
	} else {   /* history */
		rc = client_call(cl, "GET", "/api/cairn/v1/monitors/windows",
				 json_pack("{s:s,s:I}", "name", name, "max_results", (json_int_t)a.max), &reply);
		if (!rc)
			rc = client_call(cl, "GET", "/api/cairn/v1/monitors/events",
					 json_pack("{s:s,s:I}", "name", name, "max_results", (json_int_t)a.max), &more);
	}
	if (rc)
		goto out;
	status = 0;
	if (a.json) {
		if (more)
			json_object_set(reply, "events", json_object_get(more, "events"));
		cli_print_json(reply ? reply : json_object());
	} else if (!strcmp(sub, "list")) {
		status = print_list(json_object_get(reply, "monitors"));
	} else if (!strcmp(sub, "history")) {
		status = print_history(json_object_get(reply, "windows"), json_object_get(more, "events"));
	} else if (!strcmp(sub, "delete")) {
		printf("deleted monitor %s\n", name);
	} else {
		if (strcmp(sub, "show"))
			printf("%s monitor %s\n",
			       !strcmp(sub, "add") ? "added" : !strcmp(sub, "update") ? "updated" : !strcmp(sub, "enable") ? "enabled" : "disabled",
			       name);
		else
			print_monitor(json_object_get(reply, "monitor"));
	}
out:
	if (rc)
		cli_fail("monitor", "%s", cairn_error_msg());
	json_decref(reply);
	json_decref(more);
	json_decref(a.spec);
	client_free(cl);
	return status;
}

bool monitor_admin_is(const char *sub)
{
	static const char *const subs[] = { "add", "update", "list", "show", "history", "enable", "disable", "delete" };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(sub, subs[i]))
			return true;
	return false;
}
