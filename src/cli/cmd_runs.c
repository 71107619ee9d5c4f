/* cmd_runs.c - `cairn runs`: list, show, compare, delete and restore runs. */
#include "cli/cmd.h"
#include "core/fault.h"
#include "client/client.h"
#include "client/table.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_PAGE 1000          /* runs asked for per search request */
#define RUNS_DEFAULT_MAX 1000   /* runs list without --max */
#define RUNS_MAX_CELL 32        /* widest table cell in list */
#define ARTIFACTS_MAX 2000      /* entries listed by show */

static void runs_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn runs list -e EXP[,EXP...] [--filter EXPR] [--order KEY [ASC|DESC]]...\n"
		"                       [--max N] [--view active|deleted|all] [--json]\n"
		"       cairn runs show RUN_ID [--json]\n"
		"       cairn runs compare RUN_ID RUN_ID... [--only-diff] [--json]\n"
		"       cairn runs delete RUN_ID...\n"
		"       cairn runs restore RUN_ID...\n\n"
		"Inspect runs in a local data root or on a tracking server.\n\n"
		"  list      a table of runs: id (short), name, status, start time, duration, and\n"
		"            the metrics (latest values) and params that appear, cut to the\n"
		"            terminal width (--json for everything)\n"
		"  show      one run: info, params, metrics, tags, dataset inputs, artifacts\n"
		"  compare   params and metrics side by side; '*' marks rows whose values differ\n"
		"  delete    mark runs deleted\n"
		"  restore   undo delete\n\n"
		"options:\n"
		"  -e, --experiment EXP  list: experiment ids or names, comma-separated or repeated\n"
		"                        (default $MLFLOW_EXPERIMENT_ID or $MLFLOW_EXPERIMENT_NAME)\n"
		"  --filter EXPR         list: MLflow search filter, e.g.\n"
		"                        \"metrics.auc > 0.8 AND params.model = 'xgb'\"\n"
		"  --order CLAUSE        list: sort key, e.g. \"metrics.auc DESC\" (repeatable;\n"
		"                        default newest first)\n"
		"  --max N               list: at most N runs (default %d)\n"
		"  --view V              list: active (default), deleted or all\n"
		"  --only-diff           compare: only rows whose values differ\n"
		"  --json                print JSON (list: the API's runs; show: the run and its\n"
		"                        artifacts; compare: the rows and whether each differs)\n"
		"  --tracking-uri URI    talk to this tracking server (default $MLFLOW_TRACKING_URI)\n"
		"  --root DIR            use this local data root (default $CAIRN_HOME or ./cairn-data)\n"
		"  -h, --help            show this help\n\n"
		"A RUN_ID may be shortened to a unique prefix of at least 4 characters (as list\n"
		"shows it).\n\n"
		"examples:\n"
		"  cairn runs list -e churn --filter \"metrics.auc > 0.8\" --order \"metrics.auc DESC\"\n"
		"  cairn runs list -e churn,baseline --max 20 --json\n"
		"  cairn runs show 3f2a9c1e\n"
		"  cairn runs compare 3f2a9c1e 77b0d2aa --only-diff\n"
		"  cairn runs delete 3f2a9c1e\n",
		RUNS_DEFAULT_MAX);
}

struct runs_opts {
	const char *uri;     /* --tracking-uri */
	const char *root;    /* --root */
	json_t *exps;        /* -e arguments (split at commas) */
	json_t *order;       /* --order clauses */
	const char *filter;  /* --filter */
	const char *view;    /* --view, as the API's run_view_type */
	int64_t max;         /* --max */
	bool json;           /* --json */
	bool only_diff;      /* --only-diff */
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cairn runs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'cairn runs --help' for usage.\n", stderr);
	return 2;
}


/* ---- run JSON accessors ---- */

static json_t *run_info(json_t *run)
{
	return json_object_get(run, "info");
}

static const char *info_str(json_t *run, const char *key)
{
	return json_string_value(json_object_get(run_info(run), key));
}

static int64_t info_int(json_t *run, const char *key)
{
	int64_t v = 0;

	if (cjson_get_int64(run_info(run), key, false, &v) < 0)
		v = 0;
	return v;
}

static json_t *run_list(json_t *run, const char *what)
{
	return json_object_get(json_object_get(run, "data"), what);
}

/* The "value" of the entry with this key in an array of {key, value, ...}. */
static json_t *kv_get(json_t *arr, const char *key)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		const char *k = json_string_value(json_object_get(e, "key"));

		if (k && !strcmp(k, key))
			return json_object_get(e, "value");
	}
	return NULL;
}

static void fmt_duration(json_t *run, struct buf *b)
{
	int64_t start = info_int(run, "start_time"), end = info_int(run, "end_time");

	if (end > 0 && start > 0 && end >= start)
		table_fmt_duration(end - start, b);
	else
		buf_putc(b, '-');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted keys found in data.<what> of every run; *keys is owned (free the array only). */
static int collect_keys(json_t *runs, const char *what, json_t *set, const char ***keys, size_t *n)
{
	json_t *r, *e;
	const char *k;
	size_t i, j;
	void *it;

	*keys = NULL;
	*n = 0;
	json_object_clear(set);
	json_array_foreach(runs, i, r)
		json_array_foreach(run_list(r, what), j, e)
			if ((k = json_string_value(json_object_get(e, "key"))))
				json_object_set(set, k, json_true());
	if (!json_object_size(set))
		return 0;
	if (!(*keys = ccalloc(json_object_size(set), sizeof(**keys))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (it = json_object_iter(set); it; it = json_object_iter_next(set, it))
		(*keys)[(*n)++] = json_object_iter_key(it);
	qsort(*keys, *n, sizeof(**keys), cmp_str);
	return 0;
}

/* ---- list ---- */

static int resolve_experiments(struct client *cl, json_t *args, json_t *ids, json_t *names)
{
	json_t *exp = NULL, *a;
	const char *id;
	size_t i;
	int rc = 0;

	json_array_foreach(args, i, a) {
		if ((rc = client_experiment_find(cl, json_string_value(a), &exp)))
			return rc;
		id = json_string_value(json_object_get(exp, "experiment_id"));
		if (!id) {
			json_decref(exp);
			return cairn_error_set(CAIRN_EIO, "malformed experiment in the reply for '%s'",
					       json_string_value(a));
		}
		json_array_append_new(ids, json_string(id));
		json_object_set(names, id, json_object_get(exp, "name"));
		json_decref(exp);
		exp = NULL;
	}
	return rc;
}

static int runs_list(struct client *cl, const struct runs_opts *o)
{
	json_t *ids = json_array(), *names = json_object(), *all = json_array();
	json_t *mset = json_object(), *pset = json_object();
	json_t *reply = NULL, *body, *out = NULL, *r, *v;
	const char **mkeys = NULL, **pkeys = NULL, *token, *k;
	size_t nm = 0, np = 0, i, j, dropped = 0, ncols;
	struct buf b = BUF_INIT, text = BUF_INIT, hdr = BUF_INIT;
	bool more = false, multi;
	char *tok = NULL;
	int64_t want;
	struct table t;
	int rc;

	table_init(&t, 1, 1);
	if (!ids || !names || !all || !mset || !pset) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((rc = resolve_experiments(cl, o->exps, ids, names)))
		goto cleanup;
	do {
		want = o->max - (int64_t)json_array_size(all);
		body = json_pack("{s:O, s:I, s:s}", "experiment_ids", ids, "max_results",
				 (json_int_t)(want < RUNS_PAGE ? want : RUNS_PAGE), "run_view_type", o->view);
		if (body && o->filter)
			json_object_set_new(body, "filter", json_string(o->filter));
		if (body && json_array_size(o->order))
			json_object_set(body, "order_by", o->order);
		if (body && tok)
			json_object_set_new(body, "page_token", json_string(tok));
		json_decref(reply);
		if ((rc = client_call(cl, "POST", "/mlflow/runs/search", body, &reply)))
			goto cleanup;
		json_array_extend(all, json_object_get(reply, "runs"));
		token = json_string_value(json_object_get(reply, "next_page_token"));
		free(tok);
		tok = token && *token ? cstrdup(token) : NULL;
	} while (tok && (int64_t)json_array_size(all) < o->max);
	more = tok != NULL;
	if (o->json) {
		out = json_pack("{s:O}", "runs", all);
		if (out && tok)
			json_object_set_new(out, "next_page_token", json_string(tok));
		cli_print_json(out);
		goto cleanup;
	}
	if (!json_array_size(all)) {
		fprintf(stderr, "no runs\n");
		goto cleanup;
	}
	if ((rc = collect_keys(all, "metrics", mset, &mkeys, &nm)) ||
	    (rc = collect_keys(all, "params", pset, &pkeys, &np)))
		goto cleanup;
	multi = json_array_size(ids) > 1;
	ncols = 5 + (multi ? 1 : 0) + nm + np;
	table_init(&t, ncols, 2);
	table_add(&t, "RUN");
	table_add(&t, "NAME");
	if (multi)
		table_add(&t, "EXPERIMENT");
	table_add(&t, "STATUS");
	table_add(&t, "STARTED");
	table_add(&t, "DURATION");
	for (j = 0; j < nm; j++)
		table_add(&t, mkeys[j]);
	for (j = 0; j < np; j++) {
		/* a param named like a metric gets its prefix */
		buf_clear(&hdr);
		buf_printf(&hdr, "%s%s", json_object_get(mset, pkeys[j]) ? "params." : "",
			   pkeys[j]);
		table_add(&t, hdr.ptr);
	}
	json_array_foreach(all, i, r) {
		k = info_str(r, "run_id");
		table_addf(&t, "%.8s", k ? k : "?");
		table_add(&t, info_str(r, "run_name"));
		if (multi) {
			v = json_object_get(names, info_str(r, "experiment_id") ? info_str(r, "experiment_id") : "");
			table_add(&t, v ? json_string_value(v) : info_str(r, "experiment_id"));
		}
		table_add(&t, info_str(r, "status"));
		buf_clear(&b);
		table_fmt_time(info_int(r, "start_time"), &b);
		table_add(&t, b.ptr);
		buf_clear(&b);
		fmt_duration(r, &b);
		table_add(&t, b.ptr);
		for (j = 0; j < nm; j++) {
			buf_clear(&b);
			table_fmt_value(kv_get(run_list(r, "metrics"), mkeys[j]), 0, &b);
			table_add(&t, b.ptr);
		}
		for (j = 0; j < np; j++) {
			buf_clear(&b);
			table_fmt_value(kv_get(run_list(r, "params"), pkeys[j]), 0, &b);
			table_add(&t, b.ptr);
		}
	}
	if ((rc = buf_error(&b)) || (rc = buf_error(&hdr)) ||
	    (rc = table_render(&t, table_term_width(), RUNS_MAX_CELL, &text, &dropped)))
		goto cleanup;
	fputs(text.ptr, stdout);
	fflush(stdout);
	if (dropped)
		fprintf(stderr, "(%zu more column%s not shown: widen the terminal or use --json)\n", dropped,
			dropped == 1 ? "" : "s");
	if (more)
		fprintf(stderr, "(more runs match: showing the first %zu; use --max)\n", json_array_size(all));
cleanup:
	free(tok);
	free(mkeys);
	free(pkeys);
	json_decref(reply);
	json_decref(out);
	json_decref(ids);
	json_decref(names);
	json_decref(all);
	json_decref(mset);
	json_decref(pset);
	table_release(&t);
	buf_release(&b);
	buf_release(&text);
	buf_release(&hdr);
	return rc;
}

/* ---- show ---- */

/* Every file under the run's artifact root, depth first, into files ({path, is_dir, file_size}). */
static int list_artifacts(struct client *cl, const char *run_id, const char *path, int depth, json_t *files)
{
	json_t *reply = NULL, *f;
	const char *p;
	size_t i;
	int rc;

	if (depth > 32 || json_array_size(files) >= ARTIFACTS_MAX)
		return 0;
	rc = client_call(cl, "GET", "/mlflow/artifacts/list",
			 path ? json_pack("{s:s, s:s}", "run_id", run_id, "path", path)
			      : json_pack("{s:s}", "run_id", run_id),
			 &reply);
	if (rc)
		return rc;
	json_array_foreach(json_object_get(reply, "files"), i, f) {
		if (json_array_size(files) >= ARTIFACTS_MAX)
			break;
		json_array_append(files, f);
		p = json_string_value(json_object_get(f, "path"));
		if (p && json_is_true(json_object_get(f, "is_dir")) && (rc = list_artifacts(cl, run_id, p, depth + 1, files)))
			break;
	}
	json_decref(reply);
	return rc;
}

static void print_section(const char *title, struct table *t)
{
	struct buf text = BUF_INIT;

	printf("\n%s\n", title);
	if (table_rows(t) == 0) {
		printf("  (none)\n");
		return;
	}
	if (!table_render(t, 0, 0, &text, NULL)) {
		/* indent every line by two spaces */
		for (const char *p = text.ptr; *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

			printf("  %.*s", (int)n, p);
			p += n;
		}
	}
	buf_release(&text);
}

static void print_kv_section(const char *title, json_t *arr, bool metrics)
{
	struct buf b = BUF_INIT;
	struct table t;
	json_t *e;
	size_t i;
	int64_t step;

	table_init(&t, 2, 2);
	json_array_foreach(arr, i, e) {
		table_add(&t, json_string_value(json_object_get(e, "key")));
		buf_clear(&b);
		table_fmt_value(json_object_get(e, "value"), 1, &b);
		step = 0;
		if (metrics && cjson_get_int64(e, "step", false, &step) > 0 && step)
			buf_printf(&b, "  (step %lld)", (long long)step);
		table_add(&t, b.ptr);
	}
	print_section(title, &t);
	table_release(&t);
	buf_release(&b);
}

static void print_datasets(json_t *inputs)
{
	struct buf b = BUF_INIT;
	struct table t;
	json_t *di, *ds, *tg;
	size_t i, j;

	table_init(&t, 4, 4);
	json_array_foreach(inputs, i, di) {
		ds = json_object_get(di, "dataset");
		table_add(&t, json_string_value(json_object_get(ds, "name")));
		table_add(&t, json_string_value(json_object_get(ds, "digest")));
		table_add(&t, json_string_value(json_object_get(ds, "source_type")));
		buf_clear(&b);
		json_array_foreach(json_object_get(di, "tags"), j, tg)
			buf_printf(&b, "%s%s=%s", b.len ? " " : "", json_string_value(json_object_get(tg, "key")),
				   json_string_value(json_object_get(tg, "value")));
		table_add(&t, b.len ? b.ptr : "");
	}
	print_section("datasets", &t);
	table_release(&t);
	buf_release(&b);
}

static int runs_show(struct client *cl, const struct runs_opts *o, const char *arg)
{
	json_t *run = NULL, *files = json_array(), *exp = NULL, *out = NULL, *f;
	struct buf b = BUF_INIT;
	const char *id, *ename = NULL, *stage;
	struct table t;
	int64_t size;
	size_t i;
	int rc, lrc;

	table_init(&t, 2, 2);
	if (!files) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto cleanup;
	}
	if ((rc = client_run_find(cl, arg, &run)))
		goto cleanup;
	id = info_str(run, "run_id");
	if (!id) {
		rc = cairn_error_set(CAIRN_EIO, "malformed run in the reply for '%s'", arg);
		goto cleanup;
	}
	lrc = list_artifacts(cl, id, NULL, 0, files);
	if (lrc && !o->json)
		fprintf(stderr, "cairn runs: cannot list artifacts: %s\n", cairn_error_msg());
	if (o->json) {
		out = json_pack("{s:O, s:O}", "run", run, "artifacts", files);
		cli_print_json(out);
		rc = 0;
		goto cleanup;
	}
	if (info_str(run, "experiment_id") && !client_experiment_find(cl, info_str(run, "experiment_id"), &exp))
		ename = json_string_value(json_object_get(exp, "name"));

	table_add(&t, "run");
	table_add(&t, id);
	table_add(&t, "name");
	table_add(&t, info_str(run, "run_name"));
	table_add(&t, "experiment");
	table_addf(&t, "%s%s%s%s", ename ? ename : "", ename ? " (id " : "", info_str(run, "experiment_id") ?
		   info_str(run, "experiment_id") : "?", ename ? ")" : "");
	table_add(&t, "status");
	table_add(&t, info_str(run, "status"));
	stage = info_str(run, "lifecycle_stage");
	if (stage && strcmp(stage, "active")) {
		table_add(&t, "lifecycle");
		table_add(&t, stage);
	}
	table_add(&t, "user");
	table_add(&t, info_str(run, "user_id") && *info_str(run, "user_id") ? info_str(run, "user_id") : "-");
	table_add(&t, "started");
	buf_clear(&b);
	table_fmt_time(info_int(run, "start_time"), &b);
	table_add(&t, b.ptr);
	table_add(&t, "ended");
	buf_clear(&b);
	table_fmt_time(info_int(run, "end_time"), &b);
	table_add(&t, b.ptr);
	table_add(&t, "duration");
	buf_clear(&b);
	fmt_duration(run, &b);
	table_add(&t, b.ptr);
	table_add(&t, "artifact uri");
	table_add(&t, info_str(run, "artifact_uri"));
	buf_clear(&b);
	if ((rc = table_render(&t, 0, 0, &b, NULL)))
		goto cleanup;
	fputs(b.ptr, stdout);

	print_kv_section("params", run_list(run, "params"), false);
	print_kv_section("metrics", run_list(run, "metrics"), true);
	print_kv_section("tags", run_list(run, "tags"), false);
	print_datasets(json_object_get(json_object_get(run, "inputs"), "dataset_inputs"));
	table_release(&t);
	table_init(&t, 2, 2);
	json_array_foreach(files, i, f) {
		if (json_is_true(json_object_get(f, "is_dir")))
			continue;
		table_add(&t, json_string_value(json_object_get(f, "path")));
		size = 0;
		cjson_get_int64(f, "file_size", false, &size);
		buf_clear(&b);
		if (size < 10 * 1024)
			buf_printf(&b, "%lld B", (long long)size);
		else if (size < 10 * 1024 * 1024)
			buf_printf(&b, "%.1f KiB", (double)size / 1024.0);
		else
			buf_printf(&b, "%.1f MiB", (double)size / (1024.0 * 1024.0));
		table_add(&t, b.ptr);
	}
	print_section("artifacts", &t);
	rc = 0;
cleanup:
	json_decref(run);
	json_decref(files);
	json_decref(exp);
	json_decref(out);
	table_release(&t);
	buf_release(&b);
	return rc;
}

/* ---- compare ---- */

/* Rows of one section ("params" or "metrics"): {key, values: [...], differs}. */
static int compare_rows(json_t *runs, const char *what, json_t *set, json_t *rows)
{
	const char **keys = NULL;
	size_t n = 0, i, j;
	json_t *row, *vals, *v, *first;
	bool differs;
	int rc;

	if ((rc = collect_keys(runs, what, set, &keys, &n)))
		return rc;
	for (i = 0; i < n; i++) {
		vals = json_array();
		first = NULL;
		differs = false;
		for (j = 0; j < json_array_size(runs); j++) {
			v = kv_get(run_list(json_array_get(runs, j), what), keys[i]);
			json_array_append(vals, v ? v : json_null());
			if (j == 0)
				first = v;
			else if (!first != !v || (v && !json_equal(first, v)))
				differs = true;
		}
		row = json_pack("{s:s, s:o, s:b}", "key", keys[i], "values", vals, "differs", differs);
		if (!row || json_array_append_new(rows, row)) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
	}
	free(keys);
	return rc;
}

static void compare_add_rows(struct table *t, json_t *rows, const char *prefix, bool only_diff)
{
	struct buf b = BUF_INIT;
	json_t *row, *v;
	size_t i, j;
	bool differs;

	json_array_foreach(rows, i, row) {
		differs = json_is_true(json_object_get(row, "differs"));
		if (only_diff && !differs)
			continue;
		table_add(t, differs ? "*" : "");
		table_addf(t, "%s%s", prefix, json_string_value(json_object_get(row, "key")));
		json_array_foreach(json_object_get(row, "values"), j, v) {
			buf_clear(&b);
			table_fmt_value(v, 1, &b);
			table_add(t, b.ptr);
		}
	}
	buf_release(&b);
}

static int runs_compare(struct client *cl, const struct runs_opts *o, const char *const *args, int n)
{
	json_t *runs = json_array(), *set = json_object(), *params = json_array(), *metrics = json_array();
	json_t *run = NULL, *out = NULL, *heads = json_array(), *r;
	struct buf b = BUF_INIT, text = BUF_INIT;
	size_t i, dropped = 0;
	struct table t;
	int rc;

	table_init(&t, 1, 1);
	if (!runs || !set || !params || !metrics || !heads) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (int k = 0; k < n; k++) {
		if ((rc = client_run_find(cl, args[k], &run)))
			goto cleanup;
		json_array_append_new(runs, run);
		run = NULL;
	}
	if ((rc = compare_rows(runs, "params", set, params)) || (rc = compare_rows(runs, "metrics", set, metrics)))
		goto cleanup;
	if (o->json) {
		json_array_foreach(runs, i, r)
			json_array_append_new(heads, json_pack("{s:s?, s:s?, s:s?, s:O?, s:O?}", "run_id",
							       info_str(r, "run_id"), "run_name", info_str(r, "run_name"),
							       "status", info_str(r, "status"), "start_time",
							       json_object_get(run_info(r), "start_time"), "end_time",
							       json_object_get(run_info(r), "end_time")));
		out = json_pack("{s:O, s:O, s:O}", "runs", heads, "params", params, "metrics", metrics);
		cli_print_json(out);
		goto cleanup;
	}
	table_init(&t, 2 + (size_t)n, 2);
	table_add(&t, "");
	table_add(&t, "RUN");
	json_array_foreach(runs, i, r)
		table_addf(&t, "%.8s", info_str(r, "run_id") ? info_str(r, "run_id") : "?");
	table_add(&t, "");
	table_add(&t, "name");
	json_array_foreach(runs, i, r)
		table_add(&t, info_str(r, "run_name"));
	table_add(&t, "");
	table_add(&t, "status");
	json_array_foreach(runs, i, r)
		table_add(&t, info_str(r, "status"));
	table_add(&t, "");
	table_add(&t, "duration");
	json_array_foreach(runs, i, r) {
		buf_clear(&b);
		fmt_duration(r, &b);
		table_add(&t, b.ptr);
	}
	compare_add_rows(&t, params, "params.", o->only_diff);
	compare_add_rows(&t, metrics, "metrics.", o->only_diff);
	if ((rc = buf_error(&b)) || (rc = table_render(&t, table_term_width(), 40, &text, &dropped)))
		goto cleanup;
	fputs(text.ptr, stdout);
	fflush(stdout);
	if (dropped)
		fprintf(stderr, "(%zu run%s not shown: widen the terminal or use --json)\n", dropped,
			dropped == 1 ? "" : "s");
cleanup:
	json_decref(runs);
	json_decref(set);
	json_decref(params);
	json_decref(metrics);
	json_decref(heads);
	json_decref(run);
	json_decref(out);
	table_release(&t);
	buf_release(&b);
	buf_release(&text);
	return rc;
}

/* ---- delete / restore ---- */

static int runs_lifecycle(struct client *cl, const char *arg, bool restore)
{
	json_t *run = NULL;
	const char *id;
	int rc;

	if ((rc = client_run_find(cl, arg, &run)))
		return rc;
	id = info_str(run, "run_id");
	if (!id)
		rc = cairn_error_set(CAIRN_EIO, "malformed run in the reply for '%s'", arg);
	else
		rc = client_call(cl, "POST", restore ? "/mlflow/runs/restore" : "/mlflow/runs/delete",
				 json_pack("{s:s}", "run_id", id), NULL);
	if (!rc)
		printf("%s run %s\n", restore ? "restored" : "deleted", id);
	json_decref(run);
	return rc;
}

/* ---- entry ---- */

static int add_split(json_t *arr, const char *arg)
{
	const char *p = arg, *comma;
	size_t n;

	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (!n)
			return CAIRN_EINVALID;
		if (json_array_append_new(arr, json_stringn(p, n)))
			return CAIRN_ENOMEM;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static const char *view_type(const char *v)
{
	if (!strcmp(v, "active") || !strcmp(v, "ACTIVE_ONLY"))
		return "ACTIVE_ONLY";
	if (!strcmp(v, "deleted") || !strcmp(v, "DELETED_ONLY"))
		return "DELETED_ONLY";
	if (!strcmp(v, "all") || !strcmp(v, "ALL"))
		return "ALL";
	return NULL;
}

int cmd_runs(int argc, char **argv)
{
	enum { O_URI = 256, O_ROOT, O_FILTER, O_ORDER, O_MAX, O_VIEW, O_JSON, O_DIFF };
	static const struct option opts[] = {
		{ "tracking-uri", required_argument, NULL, O_URI },
		{ "root", required_argument, NULL, O_ROOT },
		{ "experiment", required_argument, NULL, 'e' },
		{ "filter", required_argument, NULL, O_FILTER },
		{ "order", required_argument, NULL, O_ORDER },
		{ "order-by", required_argument, NULL, O_ORDER },
		{ "max", required_argument, NULL, O_MAX },
		{ "view", required_argument, NULL, O_VIEW },
		{ "json", no_argument, NULL, O_JSON },
		{ "only-diff", no_argument, NULL, O_DIFF },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct runs_opts o = { .view = "ACTIVE_ONLY", .max = RUNS_DEFAULT_MAX };
	struct client *cl = NULL;
	const char *sub, *const *pos, *env;
	bool list_only = false;
	int c, npos, rc = 2, i;
	char *end;

	o.exps = json_array();
	o.order = json_array();
	if (!o.exps || !o.order) {
		rc = cli_fail("runs", "out of memory");
		goto out;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":he:", opts, NULL)) != -1) {
		switch (c) {
		case O_URI:
			o.uri = optarg;
			break;
		case O_ROOT:
			o.root = optarg;
			break;
		case 'e':
			if (add_split(o.exps, optarg)) {
				rc = usage_error("invalid experiment list '%s'", optarg);
				goto out;
			}
			list_only = true;
			break;
		case O_FILTER:
			o.filter = optarg;
			list_only = true;
			break;
		case O_ORDER:
			json_array_append_new(o.order, json_string(optarg));
			list_only = true;
			break;
		case O_MAX:
			o.max = strtoll(optarg, &end, 10);
			if (*end || end == optarg || o.max < 1 || o.max > 1000000) {
				rc = usage_error("invalid --max '%s': expected a number from 1 to 1000000", optarg);
				goto out;
			}
			list_only = true;
			break;
		case O_VIEW:
			if (!(o.view = view_type(optarg))) {
				rc = usage_error("invalid --view '%s': expected active, deleted or all", optarg);
				goto out;
			}
			list_only = true;
			break;
		case O_JSON:
			o.json = true;
			break;
		case O_DIFF:
			o.only_diff = true;
			break;
		case 'h':
			runs_usage(stdout);
			rc = 0;
			goto out;
		case ':':
			rc = usage_error("option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			rc = usage_error("unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		runs_usage(stderr);
		goto out;
	}
	sub = argv[optind];
	pos = (const char *const *)argv + optind + 1;
	npos = argc - optind - 1;
	if ((list_only && strcmp(sub, "list")) || (o.only_diff && strcmp(sub, "compare")) ||
	    (o.json && (!strcmp(sub, "delete") || !strcmp(sub, "restore")))) {
		rc = usage_error("an option given does not apply to '%s'", sub);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		if (npos) {
			rc = usage_error("list takes no arguments (got '%s'); name experiments with -e", pos[0]);
			goto out;
		}
		if (!json_array_size(o.exps)) {
			if ((env = getenv("MLFLOW_EXPERIMENT_ID")) && *env)
				json_array_append_new(o.exps, json_string(env));
			else if ((env = getenv("MLFLOW_EXPERIMENT_NAME")) && *env)
				json_array_append_new(o.exps, json_string(env));
			else {
				rc = usage_error("%s", "list needs -e EXPERIMENT (an id or a name)");
				goto out;
			}
		}
	} else if (!strcmp(sub, "show")) {
		if (npos != 1) {
			rc = usage_error("%s", "usage: cairn runs show RUN_ID");
			goto out;
		}
	} else if (!strcmp(sub, "compare")) {
		if (npos < 2) {
			rc = usage_error("%s", "usage: cairn runs compare RUN_ID RUN_ID...");
			goto out;
		}
	} else if (!strcmp(sub, "delete") || !strcmp(sub, "restore")) {
		if (npos < 1) {
			rc = usage_error("usage: cairn runs %s RUN_ID...", sub);
			goto out;
		}
	} else {
		rc = usage_error("unknown subcommand '%s'", sub);
		goto out;
	}

	if (client_open_default(o.uri, o.root, cli_default_root(), &cl)) {
		rc = cli_fail("runs", "%s", cairn_error_msg());
		goto out;
	}
	if (!strcmp(sub, "list")) {
		rc = runs_list(cl, &o);
	} else if (!strcmp(sub, "show")) {
		rc = runs_show(cl, &o, pos[0]);
	} else if (!strcmp(sub, "compare")) {
		rc = runs_compare(cl, &o, pos, npos);
	} else {
		rc = 0;
		for (i = 0; i < npos; i++)
			if (runs_lifecycle(cl, pos[i], !strcmp(sub, "restore"))) {
				cli_fail("runs", "%s", cairn_error_msg());
				rc = 1;
			}
		goto out;
	}
	if (rc)
		rc = cli_fail("runs", "%s", cairn_error_msg());
out:
	client_free(cl);
	json_decref(o.exps);
	json_decref(o.order);
	return rc;
}
