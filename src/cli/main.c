/* main.c - cairn's entry point: one table of subcommands. */
#include "cli/cmd.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_cmd commands[] = {
	{ "server", cmd_server, "run the MLflow-compatible tracking server" },
	{ "serve", cmd_serve, "serve models: MLflow scoring protocol, Open Inference Protocol, metrics" },
	{ "predict", cmd_predict, "batch scoring: a CSV or JSON-lines file through a model, streamed, in parallel" },
	{ "profile", cmd_profile, "profile a table in one pass (statistics and mergeable sketches as JSON)" },
	{ "drift", cmd_drift, "data drift between a reference and a current table or profile (Evidently's tests; exit 1 on drift)" },
	{ "validate", cmd_validate, "check a table against an expectation suite (exit 1 when one fails); --suggest drafts one" },
	{ "monitor", cmd_monitor, "monitor a served model: its inference log in windows, each tested for drift (run)" },
	{ "experiments", cmd_experiments, "list, create, rename, delete experiments" },
	{ "runs", cmd_runs, "list, show, compare, delete runs" },
	{ "run", cmd_run, "run a command as a tracked run" },
	{ "models", cmd_models, "model registry: list, show, alias, promote through gates, lineage, audit" },
	{ "data", cmd_data, "version data: add, status, checkout, push/pull to remotes, gc" },
	{ "repro", cmd_repro, "run the pipeline (cairn.yaml / dvc.yaml): what changed, in parallel, cached" },
	{ "status", cmd_status, "which pipeline stages are stale, and why" },
	{ "dag", cmd_dag, "the pipeline's stages and dependencies (--dot for Graphviz)" },
	{ "exp", cmd_exp, "exp run --set-param K=V: run the pipeline as a tracked variation" },
	{ "metrics", cmd_metrics, "the pipeline's metrics, and their diff (and params') against a git revision" },
	{ "plots", cmd_plots, "plots show: the pipeline's plots as one self-contained HTML page (or --json)" },
};

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cairn %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

void cli_print_json(json_t *v)
{
	struct buf b = BUF_INIT;

	if (!cjson_dump(v, &b))
		printf("%s\n", b.ptr);
	buf_release(&b);
}

const char *cli_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

const char *cli_default_root(void)
{
	const char *e = getenv("CAIRN_HOME");

	return e && *e ? e : "cairn-data";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cairn <command> [options]\n\n"
		   "cairn: one program for the ML lifecycle, speaking MLflow's REST API.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-12s %s\n", "version", "print the version");
	fprintf(f, "\nRun 'cairn <command> --help' for a command's options.\n"
		   "Environment: CAIRN_HOME (data root, default ./cairn-data), MLFLOW_TRACKING_URI\n"
		   "(talk to a remote server), CAIRN_LOG=debug|info|warn|error.\n");
}

int main(int argc, char **argv)
{
	cairn_log_init_from_env();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		if (argc > 2 && cli_is_help(argv[2])) {
			printf("usage: cairn version\n\nPrint cairn's version.\n");
			return 0;
		}
		if (argc > 2) {
			cli_fail("version", "unexpected argument '%s' (usage: cairn version)", argv[2]);
			return 2;
		}
		printf("cairn %s\n", CAIRN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "cairn: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
