/* cmd_models.c - `cairn models`: list, show, alias, promote (gated), lineage, audit, log (with a training
 * profile, cli/training_profile.c), download, package (a container build context, cli/package.c) and profile. */
#include "cli/cmd.h"
#include "cli/package.h"
#include "monitor/training_profile.h"
#include "core/fault.h"
#include "client/client.h"
#include "client/model_fetch.h"
#include "client/table.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "model/mlmodel.h"

#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_GATE_FAILED 3

static void models_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn models list [--filter EXPR] [--json]\n"
		"       cairn models show NAME[/VERSION|@ALIAS] [--json]\n"
		"       cairn models alias set NAME ALIAS VERSION\n"
		"       cairn models alias delete NAME ALIAS\n"
		"       cairn models promote NAME --from ALIAS|VERSION --to ALIAS [--require EXPR]... [--json]\n"
		"       cairn models lineage NAME/VERSION|NAME@ALIAS [--json]\n"
		"       cairn models audit [NAME] [--max N] [--json]\n"
		"       cairn models log FILE --flavor xgboost|sklearn [--signature-from CSV]\n"
		"                        [--run ID | -e EXP] [--register NAME] [--profile TABLE|PROFILE.json]\n"
		"       cairn models download URI [-o DIR] [--json]\n"
		"       cairn models package URI -o DIR [--json]\n"
		"       cairn models profile URI [-o FILE]\n\n"
		"The model registry of a local data root or a tracking server.\n\n"
		"  list      registered models: name, latest version, aliases, last update\n"
		"  show      a model (its versions and aliases) or one version\n"
		"  alias     point an alias (e.g. champion) at a version, or remove it\n"
		"  promote   move alias --to onto the version named by --from when every\n"
		"            --require holds; prints the compared values. Exit 0: promoted;\n"
		"            3: a requirement failed, nothing changed; 2: bad expression or\n"
		"            unknown model, version or alias\n"
		"  lineage   where a version came from: its run, params, metrics, dataset\n"
		"            inputs with digests, git commit, parent run\n"
		"  audit     who moved which alias, transitioned, created or deleted what, when\n"
		"  log       turn a bare model file (XGBoost .json/.ubj/.xgb, scikit-learn .pkl)\n"
		"            into an MLflow model directory (MLmodel, the file, requirements.txt)\n"
		"            logged as artifact 'model' of a run (a new one in -e EXP unless --run),\n"
		"            optionally registered as a new version of --register NAME; --profile\n"
		"            adds the training data's profile as model/training_profile.json and\n"
		"            tags the run and the version cairn.training_profile\n"
		"  download  fetch a model's files: URI is models:/NAME/VERSION, models:/NAME@ALIAS,\n"
		"            models:/NAME/latest or /STAGE, models:/m-ID (a logged model),\n"
		"            runs:/RUN_ID/PATH or mlflow-artifacts:/PATH; prints the local\n"
		"            directory: DIR, or an entry of the model cache ($CAIRN_MODEL_CACHE,\n"
		"            default ~/.cache/cairn/models) that is reused while the files are the same\n"
		"  package   write a container build context for URI into DIR: a Dockerfile on\n"
		"            debian:bookworm-slim with the binary's runtime packages (ldd + dpkg -S),\n"
		"            this cairn binary, the model, an entrypoint running cairn serve, README.md\n"
		"            (cairn models package --help)\n"
		"  profile   the training profile of a model (any URI download takes, or a local\n"
		"            model directory): printed, or written to -o FILE; exit 1 when the\n"
		"            model has none. cairn drift --reference URI compares data with it\n\n"
		"Requirements compare the candidate's run metrics (metrics.X) with those of the\n"
		"version currently holding the --to alias (<to>.metrics.X), with numbers,\n"
		"+ - * /, and/or/not. With no incumbent yet, comparisons against it hold.\n\n"
		"options:\n"
		"  --filter EXPR         list: MLflow filter, e.g. \"name LIKE 'churn%%'\"\n"
		"  --from, --to, --require  promote (see above)\n"
		"  --user NAME           promote/alias: who acts (default $USER), for the audit log\n"
		"  --max N               audit: at most N entries (default 50)\n"
		"  --flavor F            log: xgboost or sklearn\n"
		"  --signature-from CSV  log: infer the input signature from a CSV with a header\n"
		"  --run ID              log: attach to this run instead of creating one\n"
		"  -e, --experiment EXP  log: experiment of the new run (default: Default)\n"
		"  --register NAME       log: register the model (created if missing)\n"
		"  --profile FILE        log: the training data (CSV, JSON lines) to profile, or a\n"
		"                        profile .json from cairn profile, stored with the model\n"
		"  -o, --output DIR      download: into DIR (absent or empty) instead of the cache;\n"
		"                        package: the context's folder (absent or empty);\n"
		"                        profile: write the profile there\n"
		"  --json                print JSON\n"
		"  --tracking-uri URI    talk to this tracking server (default $MLFLOW_TRACKING_URI)\n"
		"  --root DIR            use this local data root (default $CAIRN_HOME or ./cairn-data)\n"
		"  -h, --help            show this help\n\n"
		"examples:\n"
		"  cairn models alias set churn champion 3\n"
		"  cairn models promote churn --from challenger --to champion \\\n"
		"      --require \"metrics.auc >= champion.metrics.auc\" --require \"metrics.latency_ms < 50\"\n"
		"  cairn models lineage churn/3\n"
		"  cairn models log model.ubj --flavor xgboost --signature-from train.csv --register churn \\\n"
		"      --profile train.csv\n"
		"  cairn models profile models:/churn@champion -o train.profile.json\n"
		"  cairn models download models:/churn@champion -o /srv/models/churn\n"
		"  cairn models package models:/churn@champion -o build/churn-image\n");
}

struct mopts {
	const char *uri, *root, *filter, *from, *to, *user;
	const char *flavor, *signature_csv, *run, *experiment, *register_name, *output, *profile;
	const char **require;
	size_t n_require;
	long max;
	bool json;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn models: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see cairn models --help)\n");
	return 2;
}

static int fail(int code)
{
	cli_fail("models", "%s", cairn_error_msg());
	return code == CAIRN_EINVALID || code == CAIRN_ENOTFOUND ? 2 : 1;
}


static int render(struct table *t)
{
	struct buf out = BUF_INIT;
	int rc = table_render(t, table_term_width(), 48, &out, NULL);

	if (!rc)
		fputs(out.ptr, stdout);
	buf_release(&out);
	return rc;
}


static void aliases_text(json_t *aliases, struct buf *b)
{
	size_t i;
	json_t *a;

	json_array_foreach(aliases, i, a) {
		if (json_is_string(a))
			buf_printf(b, "%s%s", i ? "," : "", json_string_value(a));
		else
			buf_printf(b, "%s%s=v%s", i ? "," : "", cli_str(a, "alias"), cli_str(a, "version"));
	}
}

static int models_list(struct client *cl, const struct mopts *o)
{
	json_t *reply = NULL, *body = json_pack("{s:i}", "max_results", 1000), *m;
	struct table t;
	size_t i;
	int rc;

	if (o->filter)
		cjson_set(body, "filter", json_string(o->filter));
	if ((rc = client_call(cl, "GET", "/mlflow/registered-models/search", body, &reply)))
		return fail(rc);
	if (o->json) {
		cli_print_json(reply);
		json_decref(reply);
		return 0;
	}
	table_init(&t, 5, 1);
	table_add(&t, "NAME");
	table_add(&t, "LATEST");
	table_add(&t, "ALIASES");
	table_add(&t, "UPDATED");
	table_add(&t, "DESCRIPTION");
	json_array_foreach(json_object_get(reply, "registered_models"), i, m) {
		struct buf a = BUF_INIT, tm = BUF_INIT;
		long latest = 0;
		size_t j;
		json_t *v;

		json_array_foreach(json_object_get(m, "latest_versions"), j, v) {
			long n = strtol(cli_str(v, "version"), NULL, 10);
			latest = n > latest ? n : latest;
		}
		aliases_text(json_object_get(m, "aliases"), &a);
		table_fmt_time(json_integer_value(json_object_get(m, "last_updated_timestamp")), &tm);
		table_add(&t, cli_str(m, "name"));
		if (latest)
			table_addf(&t, "%ld", latest);
		else
			table_add(&t, "-");
		table_add(&t, a.len ? a.ptr : "-");
		table_add(&t, tm.ptr);
		table_add(&t, *cli_str(m, "description") ? cli_str(m, "description") : "-");
		buf_release(&a);
		buf_release(&tm);
	}
	rc = render(&t);
	table_release(&t);
	json_decref(reply);
	return rc ? fail(rc) : 0;
}

/* NAME/VERSION or NAME@ALIAS → the ModelVersion; *name gets NAME (free()). */
static int version_ref(struct client *cl, const char *ref, json_t **mv)
{
	const char *sep = ref + strcspn(ref, "/@");
	char *name;
	int rc;

	if (!*sep || sep == ref || !sep[1])
		return cairn_error_set(CAIRN_EINVALID, "'%s' is not NAME/VERSION or NAME@ALIAS", ref);
	name = cstrndup(ref, (size_t)(sep - ref));
	if (!name)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (*sep == '@')
		rc = client_call(cl, "GET", "/mlflow/registered-models/alias",
				 json_pack("{s:s,s:s}", "name", name, "alias", sep + 1), mv);
	else
		rc = client_call(cl, "GET", "/mlflow/model-versions/get",
				 json_pack("{s:s,s:s}", "name", name, "version", sep + 1), mv);
	free(name);
	if (!rc) {
		json_t *v = json_incref(json_object_get(*mv, "model_version"));
		json_decref(*mv);
		*mv = v;
	}
	return rc;
}

static void version_table(json_t *versions, struct table *t)
{
	size_t i;
	json_t *v;

	table_init(t, 6, 1);
	table_add(t, "VERSION");
	table_add(t, "ALIASES");
	table_add(t, "STAGE");
	table_add(t, "RUN");
	table_add(t, "CREATED");
	table_add(t, "SOURCE");
	json_array_foreach(versions, i, v) {
		struct buf a = BUF_INIT, tm = BUF_INIT;
		aliases_text(json_object_get(v, "aliases"), &a);
		table_fmt_time(json_integer_value(json_object_get(v, "creation_timestamp")), &tm);
		table_add(t, cli_str(v, "version"));
		table_add(t, a.len ? a.ptr : "-");
		table_add(t, cli_str(v, "current_stage"));
		table_add(t, *cli_str(v, "run_id") ? cli_str(v, "run_id") : "-");
		table_add(t, tm.ptr);
		table_add(t, cli_str(v, "source"));
		buf_release(&a);
		buf_release(&tm);
	}
}

static int models_show(struct client *cl, const struct mopts *o, const char *ref)
{
	json_t *reply = NULL, *versions = NULL;
	struct table t;
	int rc;

	if (strpbrk(ref, "/@")) {
		if ((rc = version_ref(cl, ref, &reply)))
			return fail(rc);
		if (o->json) {
			cli_print_json(reply);
		} else {
			versions = json_pack("[O]", reply);
			version_table(versions, &t);
			rc = render(&t);
			table_release(&t);
		}
		json_decref(reply);
		json_decref(versions);
		return rc ? fail(rc) : 0;
	}
	if ((rc = client_call(cl, "GET", "/mlflow/registered-models/get", json_pack("{s:s}", "name", ref), &reply)))
		return fail(rc);
	{
		char flt[600];
		snprintf(flt, sizeof(flt), "name = '%s'", ref);
		rc = client_call(cl, "GET", "/mlflow/model-versions/search",
				 json_pack("{s:s,s:[s]}", "filter", flt, "order_by", "version_number DESC"), &versions);
	}
	if (rc) {
		json_decref(reply);
		return fail(rc);
	}
	if (o->json) {
		json_t *all = json_pack("{s:O,s:O}", "registered_model", json_object_get(reply, "registered_model"),
					"model_versions", json_object_get(versions, "model_versions") ?
								  json_object_get(versions, "model_versions") : json_null());
		cli_print_json(all);
		json_decref(all);
	} else {
		json_t *rm = json_object_get(reply, "registered_model");
		printf("name:        %s\n", cli_str(rm, "name"));
		if (*cli_str(rm, "description"))
			printf("description: %s\n", cli_str(rm, "description"));
		version_table(json_object_get(versions, "model_versions"), &t);
		rc = render(&t);
		table_release(&t);
	}
	json_decref(reply);
	json_decref(versions);
	return rc ? fail(rc) : 0;
}

static int models_alias(struct client *cl, const struct mopts *o, int argc, char **argv)
{
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "set")) {
		if (argc != 4)
			return usage_error("%s", "alias set needs NAME ALIAS VERSION");
		rc = client_call(cl, "POST", "/mlflow/registered-models/alias",
				 json_pack("{s:s,s:s,s:s,s:s}", "name", argv[1], "alias", argv[2], "version", argv[3],
					   "user_id", o->user), NULL);
		if (!rc)
			printf("%s@%s -> version %s\n", argv[1], argv[2], argv[3]);
	} else if (argc >= 1 && !strcmp(argv[0], "delete")) {
		if (argc != 3)
			return usage_error("%s", "alias delete needs NAME ALIAS");
		rc = client_call(cl, "DELETE", "/mlflow/registered-models/alias",
				 json_pack("{s:s,s:s,s:s}", "name", argv[1], "alias", argv[2], "user_id", o->user), NULL);
	} else {
		return usage_error("%s", "alias needs 'set' or 'delete'");
	}
	return rc ? fail(rc) : 0;
}

static void num_text(json_t *v, struct buf *b)
{
	if (json_is_number(v))
		buf_printf(b, "%.6g", json_number_value(v));
	else if (json_is_string(v))
		buf_puts(b, json_string_value(v));
	else
		buf_puts(b, "-");
}

static int models_promote(struct client *cl, const struct mopts *o, const char *name)
{
	json_t *body, *req = json_array(), *reply = NULL, *c;
	struct table t;
	size_t i;
	int rc;

	if (!o->from || !o->to) {
		json_decref(req);
		return usage_error("%s", "promote needs --from and --to");
	}
	for (i = 0; i < o->n_require; i++)
		json_array_append_new(req, json_string(o->require[i]));
	body = json_pack("{s:s,s:s,s:s,s:o,s:s}", "name", name, "from", o->from, "to", o->to, "require", req,
			 "user_id", o->user);
	if ((rc = client_call(cl, "POST", "/api/cairn/v1/registry/promote", body, &reply)))
		return fail(rc);
	if (o->json) {
		cli_print_json(reply);
	} else {
		json_t *cand = json_object_get(reply, "candidate"), *inc = json_object_get(reply, "incumbent");
		table_init(&t, 5, 1);
		table_add(&t, "REQUIREMENT");
		table_add(&t, "CANDIDATE");
		table_add(&t, "OP");
		table_add(&t, "INCUMBENT");
		table_add(&t, "RESULT");
		json_array_foreach(json_object_get(reply, "checks"), i, c) {
			struct buf l = BUF_INIT, r = BUF_INIT;
			num_text(json_object_get(c, "left"), &l);
			num_text(json_object_get(c, "right"), &r);
			table_add(&t, cli_str(c, "expr"));
			table_add(&t, l.ptr);
			table_add(&t, cli_str(c, "op"));
			table_add(&t, r.ptr);
			if (json_is_true(json_object_get(c, "holds")))
				table_add(&t, *cli_str(c, "note") ? "ok (no incumbent)" : "ok");
			else
				table_addf(&t, "FAILED%s%s", *cli_str(c, "note") ? ": " : "", cli_str(c, "note"));
			buf_release(&l);
			buf_release(&r);
		}
		printf("candidate: %s version %s (run %s)\n", name, cli_str(cand, "version"), cli_str(cand, "run_id"));
		if (json_is_object(inc))
			printf("incumbent: %s@%s = version %s (run %s)\n", name, o->to, cli_str(inc, "version"),
			       cli_str(inc, "run_id"));
		else
			printf("incumbent: none (%s is not set)\n", o->to);
		if (json_array_size(json_object_get(reply, "checks")))
			render(&t);
		table_release(&t);
	}
	if (json_is_true(json_object_get(reply, "promoted"))) {
		if (!o->json)
			printf("promoted: %s@%s -> version %s\n", name, o->to,
			       cli_str(json_object_get(reply, "candidate"), "version"));
		rc = 0;
	} else {
		if (!o->json)
			printf("not promoted: a requirement failed; %s@%s is unchanged\n", name, o->to);
		rc = EXIT_GATE_FAILED;
	}
	json_decref(reply);
	return rc;
}

static json_t *find_kv(json_t *arr, const char *key)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (!strcmp(cli_str(e, "key"), key))
			return json_object_get(e, "value");
	return NULL;
}

static void print_kv(const char *title, json_t *arr)
{
	size_t i;
	json_t *e;

	if (!json_array_size(arr))
		return;
	printf("%s:\n", title);
	json_array_foreach(arr, i, e) {
		struct buf v = BUF_INIT;
		num_text(json_object_get(e, "value"), &v);
		printf("  %-28s %s\n", cli_str(e, "key"), v.ptr);
		buf_release(&v);
	}
}

static int models_lineage(struct client *cl, const struct mopts *o, const char *ref)
{
	json_t *mv = NULL, *run = NULL, *out = NULL, *data, *tags, *inputs;
	const char *run_id, *parent;
	size_t i;
	json_t *d;
	int rc;

	if ((rc = version_ref(cl, ref, &mv)))
		return fail(rc);
	run_id = cli_str(mv, "run_id");
	if (*run_id && (rc = client_call(cl, "GET", "/mlflow/runs/get", json_pack("{s:s}", "run_id", run_id), &run))) {
		json_decref(mv);
		return fail(rc);
	}
	if (run) {
		json_t *r = json_incref(json_object_get(run, "run"));
		json_decref(run);
		run = r;
	}
	data = json_object_get(run, "data");
	tags = json_object_get(data, "tags");
	inputs = json_object_get(json_object_get(run, "inputs"), "dataset_inputs");
	parent = json_string_value(find_kv(tags, "mlflow.parentRunId"));
	if (o->json) {
		out = json_pack("{s:O,s:O}", "model_version", mv, "run", run ? run : json_null());
		cjson_set(out, "git_commit", json_incref(find_kv(tags, "mlflow.source.git.commit") ?
							 find_kv(tags, "mlflow.source.git.commit") : json_null()));
		cjson_set(out, "parent_run_id", parent ? json_string(parent) : json_null());
		cli_print_json(out);
		json_decref(out);
	} else {
		json_t *commit = find_kv(tags, "mlflow.source.git.commit");
		json_t *src = find_kv(tags, "mlflow.source.name");
		printf("model:    %s version %s (%s)\n", cli_str(mv, "name"), cli_str(mv, "version"), cli_str(mv, "current_stage"));
		printf("source:   %s\n", cli_str(mv, "source"));
		if (*cli_str(mv, "model_id"))
			printf("model id: %s\n", cli_str(mv, "model_id"));
		if (!run) {
			printf("run:      none (the version names no run)\n");
		} else {
			json_t *info = json_object_get(run, "info");
			printf("run:      %s (%s, experiment %s, %s)\n", run_id, cli_str(info, "run_name"),
			       cli_str(info, "experiment_id"), cli_str(info, "status"));
			printf("git:      %s\n", commit ? json_string_value(commit) : "-");
			if (src)
				printf("code:     %s\n", json_string_value(src));
			printf("parent:   %s\n", parent ? parent : "-");
			print_kv("params", json_object_get(data, "params"));
			print_kv("metrics", json_object_get(data, "metrics"));
			if (json_array_size(inputs)) {
				printf("datasets:\n");
				json_array_foreach(inputs, i, d) {
					json_t *ds = json_object_get(d, "dataset");
					json_t *ctx = find_kv(json_object_get(d, "tags"), "mlflow.data.context");
					printf("  %-20s digest %-10s %s%s%s\n", cli_str(ds, "name"), cli_str(ds, "digest"),
					       cli_str(ds, "source_type"), ctx ? " context=" : "",
					       ctx ? json_string_value(ctx) : "");
				}
			}
		}
	}
	json_decref(mv);
	json_decref(run);
	return 0;
}

static int models_audit(struct client *cl, const struct mopts *o, const char *name)
{
	json_t *reply = NULL, *body = json_pack("{s:i}", "max_results", (int)(o->max > 0 ? o->max : 50)), *e;
	struct table t;
	size_t i;
	int rc;

	if (name)
		cjson_set(body, "name", json_string(name));
	if ((rc = client_call(cl, "GET", "/api/cairn/v1/registry/audit", body, &reply)))
		return fail(rc);
	if (o->json) {
		cli_print_json(reply);
		json_decref(reply);
		return 0;
	}
	table_init(&t, 6, 2);
	table_add(&t, "TIME");
	table_add(&t, "ACTION");
	table_add(&t, "MODEL");
	table_add(&t, "VERSION");
	table_add(&t, "ALIAS");
	table_add(&t, "USER");
	json_array_foreach(json_object_get(reply, "entries"), i, e) {
		struct buf tm = BUF_INIT;
		table_fmt_time(json_integer_value(json_object_get(e, "time")), &tm);
		table_add(&t, tm.ptr);
		table_add(&t, cli_str(e, "action"));
		table_add(&t, cli_str(e, "model"));
		if (json_is_integer(json_object_get(e, "version")))
			table_addf(&t, "%lld", (long long)json_integer_value(json_object_get(e, "version")));
		else
			table_add(&t, "-");
		table_add(&t, *cli_str(e, "alias") ? cli_str(e, "alias") : "-");
		table_add(&t, *cli_str(e, "user") ? cli_str(e, "user") : "-");
		buf_release(&tm);
	}
	rc = render(&t);
	table_release(&t);
	json_decref(reply);
	return rc ? fail(rc) : 0;
}

/* Upload text as artifact `name` through a temporary file. */
static int upload_text(struct client *cl, const char *artifact_uri, const char *name, const char *text, size_t n)
{
	FILE *f = tmpfile();
	int rc;

	if (!f)
		return cairn_error_set(CAIRN_EIO, "cannot create a temporary file: %m");
	if (fwrite(text, 1, n, f) != n || fflush(f)) {
		fclose(f);
		return cairn_error_set(CAIRN_EIO, "cannot write a temporary file: %m");
	}
	rc = client_upload_fd(cl, artifact_uri, name, fileno(f));
	fclose(f);
	return rc;
}

static int models_log(struct client *cl, const struct mopts *o, const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	struct mlmodel *m = NULL;
	struct buf text = BUF_INIT, name = BUF_INIT, prof = BUF_INIT;
	json_t *run = NULL, *reply = NULL, *inputs = NULL, *tags = NULL;
	const char *artifact_uri, *run_id;
	bool created = false;
	int fd = -1, rc;

	if (!o->flavor)
		return usage_error("%s", "log needs --flavor xgboost|sklearn");
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cairn_error_set(CAIRN_ENOTFOUND, "cannot open '%s': %m", file);
		goto out;
	}
	if ((rc = mlmodel_new_for_file(o->flavor, base, &m)))
		goto out;
	if (o->signature_csv) {
		if ((rc = fs_read_file(o->signature_csv, (size_t)64 << 20, &text)) ||
		    (rc = mlmodel_signature_from_csv(text.ptr, text.len, &inputs)) ||
		    (rc = mlmodel_set_signature(m, inputs, NULL, NULL)))
			goto out;
		buf_clear(&text);
	}
	/* the profile first: a bad one leaves no run behind */
	if (o->profile && (rc = training_profile_make(o->profile, &prof)))
		goto out;
	/* the run: given, or a new one */
	if (o->run) {
		rc = client_call(cl, "GET", "/mlflow/runs/get", json_pack("{s:s}", "run_id", o->run), &run);
	} else {
		char *eid = NULL;
		bool made = false;
		if ((rc = client_experiment_ensure(cl, o->experiment ? o->experiment : "0", &eid, &made)))
			goto out;
		rc = client_call(cl, "POST", "/mlflow/runs/create",
				 json_pack("{s:s,s:s,s:I,s:s}", "experiment_id", eid, "user_id", o->user, "start_time",
					   (json_int_t)time(NULL) * 1000, "run_name", base), &run);
		free(eid);
		created = !rc;
	}
	if (rc)
		goto out;
	run_id = cli_str(json_object_get(json_object_get(run, "run"), "info"), "run_id");
	artifact_uri = cli_str(json_object_get(json_object_get(run, "run"), "info"), "artifact_uri");
	free(m->run_id);
	m->run_id = cstrdup(run_id);
	free(m->artifact_path);
	m->artifact_path = cstrdup("model");
	if (!m->run_id || !m->artifact_path) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = mlmodel_write(m, &text)))
		goto out;
	buf_printf(&name, "model/%s", base);
	if ((rc = buf_error(&name)) || (rc = client_upload_fd(cl, artifact_uri, name.ptr, fd)) ||
	    (rc = upload_text(cl, artifact_uri, "model/MLmodel", text.ptr, text.len)))
		goto out;
	{
		const char *req = !strcmp(o->flavor, "xgboost") ? "mlflow\nxgboost\n" : "mlflow\nscikit-learn\ncloudpickle\n";
		if ((rc = upload_text(cl, artifact_uri, "model/requirements.txt", req, strlen(req))))
			goto out;
	}
	if (o->profile) {
		if ((rc = upload_text(cl, artifact_uri, "model/" TRAINING_PROFILE_FILE, prof.ptr, prof.len)) ||
		    (rc = client_call(cl, "POST", "/mlflow/runs/set-tag",
				      json_pack("{s:s,s:s,s:s}", "run_id", run_id, "key", TRAINING_PROFILE_TAG, "value",
						"model/" TRAINING_PROFILE_FILE), NULL)))
			goto out;
		tags = json_pack("[{s:s,s:s}]", "key", TRAINING_PROFILE_TAG, "value", "model/" TRAINING_PROFILE_FILE);
	} else {
		tags = json_array();
	}
	if (!tags) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	printf("logged %s as runs:/%s/model\n", file, run_id);
	if (o->profile)
		printf("training profile of %s: runs:/%s/model/%s\n", o->profile, run_id, TRAINING_PROFILE_FILE);
	if (o->register_name) {
		char src[400];
		rc = client_call(cl, "POST", "/mlflow/registered-models/create",
				 json_pack("{s:s}", "name", o->register_name), NULL);
		if (rc && rc != CAIRN_EEXISTS)
			goto out;
		snprintf(src, sizeof(src), "runs:/%s/model", run_id);
		if ((rc = client_call(cl, "POST", "/mlflow/model-versions/create",
				      json_pack("{s:s,s:s,s:s,s:s,s:O}", "name", o->register_name, "source", src, "run_id",
						run_id, "user_id", o->user, "tags", tags), &reply)))
			goto out;
		printf("registered %s version %s\n", o->register_name,
		       cli_str(json_object_get(reply, "model_version"), "version"));
	}
	if (created)
		rc = client_call(cl, "POST", "/mlflow/runs/update",
				 json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", "FINISHED", "end_time",
					   (json_int_t)time(NULL) * 1000), NULL);
out:
	if (rc && created && run) /* leave no RUNNING run behind */
		client_call(cl, "POST", "/mlflow/runs/update",
			    json_pack("{s:s,s:s}", "run_id", cli_str(json_object_get(json_object_get(run, "run"), "info"),
								    "run_id"), "status", "FAILED"), NULL);
	if (fd >= 0)
		close(fd);
	mlmodel_free(m);
	json_decref(run);
	json_decref(reply);
	json_decref(inputs);
	json_decref(tags);
	buf_release(&text);
	buf_release(&name);
	buf_release(&prof);
	return rc ? fail(rc) : 0;
}

/* The ref as JSON (the --json output of download). */
static json_t *ref_json(const struct model_ref *r)
{
	static const char *const kinds[] = { "", "version", "logged_model", "run", "artifacts", "directory", "file" };
	json_t *o = json_object();

	cjson_set(o, "uri", json_string(r->uri));
	cjson_set(o, "kind", json_string(kinds[r->kind]));
	const struct { const char *k, *v; } f[] = {
		{ "name", r->name },     { "version", r->version }, { "alias", r->alias },   { "stage", r->stage },
		{ "model_id", r->model_id }, { "run_id", r->run_id }, { "source", r->source }, { "dir", r->dir },
		{ "file", r->file },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v)
			cjson_set(o, f[i].k, json_string(f[i].v));
	return o;
}

/* `cairn models download URI [-o DIR]`: resolve, fetch, print the directory. */
static int models_download(struct client *cl, const struct mopts *o, const char *uri)
{
	struct model_ref ref = { 0 };
	struct buf cache = BUF_INIT;
	int rc;

	if ((rc = client_model_resolve(cl, uri, &ref)))
		goto out;
	if (o->output) {
		rc = client_model_fetch_to(cl, &ref, o->output);
	} else if (!(rc = client_model_cache_default(&cache))) {
		rc = client_model_fetch(cl, &ref, cache.ptr);
	}
	if (rc)
		goto out;
	if (o->json) {
		json_t *j = ref_json(&ref);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", ref.file ? ref.file : ref.dir);
	}
out:
	model_ref_dispose(&ref);
	buf_release(&cache);
	return rc ? fail(rc) : 0;
}

/* `cairn models package URI -o DIR`: a container build context (cli/package.c). */
static int models_package(struct client *cl, const struct mopts *o, const char *uri)
{
	int rc = package_write(cl, uri, o->output, o->json);

	return rc ? fail(rc) : 0;
}

/* `cairn models profile URI [-o FILE]`: the training profile stored with a model. Exit 1 when it has none. */
static int models_profile(struct client *cl, const struct mopts *o, const char *uri)
{
	struct buf text = BUF_INIT;
	bool none = false;
	int rc;

	if ((rc = training_profile_load(cl, uri, &text, NULL, &none)))
		goto out;
	if (o->output)
		rc = fs_write_atomic(o->output, text.ptr, text.len, 0644);
	else if (fwrite(text.ptr, 1, text.len, stdout) != text.len || fflush(stdout))
		rc = cairn_error_set(CAIRN_EIO, "cannot write the profile: %m");
out:
	buf_release(&text);
	if (rc && none) {
		cli_fail("models", "%s", cairn_error_msg());
		return 1;
	}
	return rc ? fail(rc) : 0;
}

int cmd_models(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tracking-uri", required_argument, NULL, 'U' }, { "root", required_argument, NULL, 'R' },
		{ "filter", required_argument, NULL, 'f' },       { "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },           { "require", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },         { "max", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },               { "help", no_argument, NULL, 'h' },
		{ "flavor", required_argument, NULL, 'L' },       { "signature-from", required_argument, NULL, 'S' },
		{ "run", required_argument, NULL, 'N' },          { "experiment", required_argument, NULL, 'e' },
		{ "register", required_argument, NULL, 'G' },     { "output", required_argument, NULL, 'o' },
		{ "profile", required_argument, NULL, 'P' },      { NULL, 0, NULL, 0 },
	};
	struct mopts o = { 0 };
	struct client *cl = NULL;
	const char *sub;
	int c, rc;

	o.user = getenv("USER");
	if (!o.user || !*o.user) {
		struct passwd *pw = getpwuid(getuid());
		o.user = pw ? pw->pw_name : "";
	}
	o.require = ccalloc((size_t)argc + 1, sizeof(*o.require));
	if (!o.require)
		return cli_fail("models", "out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "+he:o:", longopts, NULL)) != -1 || optind < argc) {
		if (c == -1) { /* a positional: keep it and go on parsing options after it */
			optind++;
			continue;
		}
		switch (c) {
		case 'U': o.uri = optarg; break;
		case 'R': o.root = optarg; break;
		case 'f': o.filter = optarg; break;
		case 'F': o.from = optarg; break;
		case 'T': o.to = optarg; break;
		case 'r': o.require[o.n_require++] = optarg; break;
		case 'u': o.user = optarg; break;
		case 'm': o.max = strtol(optarg, NULL, 10); break;
		case 'j': o.json = true; break;
		case 'L': o.flavor = optarg; break;
		case 'S': o.signature_csv = optarg; break;
		case 'N': o.run = optarg; break;
		case 'e': o.experiment = optarg; break;
		case 'G': o.register_name = optarg; break;
		case 'o': o.output = optarg; break;
		case 'P': o.profile = optarg; break;
		case 'h':
			if (argc > 1 && !strcmp(argv[1], "package"))
				package_usage(stdout);
			else
				models_usage(stdout);
			free(o.require);
			return 0;
		default: free(o.require); return usage_error("%s", "bad option");
		}
	}
	/* positionals: everything in argv[1..] that is not an option or its value */
	{
		char **pos = ccalloc((size_t)argc + 1, sizeof(*pos));
		int n = 0;

		if (!pos) {
			free(o.require);
			return cli_fail("models", "out of memory");
		}
		for (int i = 1; i < argc; i++) {
			const char *a = argv[i];
			if (!strncmp(a, "--", 2) && strcmp(a, "--json") && !strchr(a, '=')) {
				i++; /* an option with its value */
				continue;
			}
			if (!strcmp(a, "-e") || !strcmp(a, "-o")) {
				i++;
				continue;
			}
			if (a[0] == '-' && a[1])
				continue;
			pos[n++] = argv[i];
		}
		if (n == 0) {
			models_usage(stderr);
			free(pos);
			free(o.require);
			return 2;
		}
		sub = pos[0];
		if (!strcmp(sub, "package") && n == 2 && !o.output) {
			rc = usage_error("%s", "package needs -o DIR");
			goto out;
		}
		if ((!strcmp(sub, "download") || !strcmp(sub, "package") || !strcmp(sub, "profile")) && n == 2) {
			struct model_ref probe = { 0 };
			bool local = !model_ref_parse(pos[1], &probe) &&
				     (probe.kind == MODEL_REF_DIR || probe.kind == MODEL_REF_FILE);
			model_ref_dispose(&probe);
			if (local) { /* a local path: no store to open */
				rc = !strcmp(sub, "download") ? models_download(NULL, &o, pos[1])
				     : !strcmp(sub, "package") ? models_package(NULL, &o, pos[1])
							       : models_profile(NULL, &o, pos[1]);
				goto out;
			}
		}
		if ((rc = client_open_default(o.uri, o.root, cli_default_root(), &cl))) {
			rc = fail(rc);
			goto out;
		}
		if (!strcmp(sub, "list") && n == 1)
			rc = models_list(cl, &o);
		else if (!strcmp(sub, "show") && n == 2)
			rc = models_show(cl, &o, pos[1]);
		else if (!strcmp(sub, "alias"))
			rc = models_alias(cl, &o, n - 1, pos + 1);
		else if (!strcmp(sub, "promote") && n == 2)
			rc = models_promote(cl, &o, pos[1]);
		else if (!strcmp(sub, "lineage") && n == 2)
			rc = models_lineage(cl, &o, pos[1]);
		else if (!strcmp(sub, "log") && n == 2)
			rc = models_log(cl, &o, pos[1]);
		else if (!strcmp(sub, "download") && n == 2)
			rc = models_download(cl, &o, pos[1]);
		else if (!strcmp(sub, "package") && n == 2)
			rc = models_package(cl, &o, pos[1]);
		else if (!strcmp(sub, "profile") && n == 2)
			rc = models_profile(cl, &o, pos[1]);
		else if (!strcmp(sub, "audit") && n <= 2)
			rc = models_audit(cl, &o, n == 2 ? pos[1] : NULL);
		else
			rc = usage_error("unknown or incomplete subcommand '%s'", sub);
out:
		client_free(cl);
		free(pos);
	}
	free(o.require);
	return rc;
}
