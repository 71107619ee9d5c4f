/* cmd_pipeline.c - `cairn repro`, `cairn status`, `cairn dag`: run and inspect the pipeline in cairn.yaml / dvc.yaml. */
#include "cli/cmd.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "data/data.h"
#include "pipeline/pipeline.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void print_json(json_t *v)
{
	struct buf b = BUF_INIT;

	if (!cjson_dump(v, &b))
		printf("%s\n", b.ptr);
	buf_release(&b);
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

struct popts {
	struct repro_opts ro;
	bool json, dot;
	const char *file;
	int njobs_set;
};

static void usage(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "repro"))
		fprintf(f, "usage: cairn repro [STAGE...] [-f|--force] [-s|--single] [--downstream] [-j N]\n"
			   "                   [--dry] [--no-run-cache] [-q] [--json] [--file FILE]\n\n"
			   "Run the stages of cairn.yaml (or dvc.yaml) whose commands, deps or params changed\n"
			   "since cairn.lock, in parallel up to -j, skipping what is unchanged and restoring\n"
			   "outs from the run cache when the same fingerprint ran before. STAGE limits the run\n"
			   "to those stages and what they depend on; --force runs them even when unchanged,\n"
			   "and then what depends on them. Exit status: 0 all done, 1 a stage failed (the\n"
			   "others still finish), 130 interrupted (cairn.lock keeps what completed).\n");
	else if (!strcmp(cmd, "status"))
		fprintf(f, "usage: cairn status [--json] [--file FILE]\n\n"
			   "Which stages of the pipeline are stale and why: cmd changed, dep changed, param\n"
			   "changed, out missing or modified, never run, upstream stale.\n");
	else
		fprintf(f, "usage: cairn dag [--dot] [--json] [--file FILE]\n\n"
			   "The pipeline's stages in execution order with what each depends on; --dot prints\n"
			   "Graphviz input (cairn dag --dot | dot -Tsvg > dag.svg).\n");
}

static int parse(int argc, char **argv, struct popts *o, char ***targets, size_t *ntargets)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },	     { "single", no_argument, NULL, 's' },
		{ "downstream", no_argument, NULL, 'D' },    { "jobs", required_argument, NULL, 'j' },
		{ "dry", no_argument, NULL, 'n' },	     { "no-run-cache", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },	     { "json", no_argument, NULL, 'J' },
		{ "dot", no_argument, NULL, 'd' },	     { "file", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fsj:nqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->ro.force = true; break;
		case 's': o->ro.single = true; break;
		case 'D': o->ro.downstream = true; break;
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 256) {
				fprintf(stderr, "cairn %s: --jobs takes a number from 1 to 256\n", argv[0]);
				return 2;
			}
			o->ro.jobs = (int)v;
			break;
		}
		case 'n': o->ro.dry = true; break;
		case 'C': o->ro.no_run_cache = true; break;
		case 'q': o->ro.quiet = true; break;
		case 'J': o->json = true; break;
		case 'd': o->dot = true; break;
		case 'F': o->file = optarg; break;
		case 'h': usage(stdout, argv[0]); return -1;
		default:
			fprintf(stderr, "cairn %s: unknown option or missing value: %s\n", argv[0],
				argv[optind - 1] ? argv[optind - 1] : "");
			usage(stderr, argv[0]);
			return 2;
		}
	}
	*targets = argv + optind;
	*ntargets = (size_t)(argc - optind);
	return 0;
}

/* Open the workspace and load its pipeline. */
static int open_pipeline(const char *cmd, const struct popts *o, struct data_repo **r, struct pipeline **p)
{
	struct data_opts dopts = { .quiet = true };

	if (data_repo_open(&dopts, r))
		return cli_fail(cmd, "%s", cairn_error_msg());
	if (pipeline_load(data_repo_root(*r), o->file, NULL, 0, p)) {
		cli_fail(cmd, "%s", cairn_error_msg());
		data_repo_close(*r);
		*r = NULL;
		return 1;
	}
	return 0;
}

int cmd_repro(int argc, char **argv)
{
	struct popts o = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	json_t *rep = NULL;
	char **targets;
	size_t nt;
	int rc = parse(argc, argv, &o, &targets, &nt);
	struct sigaction sa = { 0 }, old_int, old_term;

	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = open_pipeline("repro", &o, &r, &p)))
		return rc;
	o.ro.targets = targets;
	o.ro.ntargets = nt;
	o.ro.interrupted = &interrupted;
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (pipeline_repro(p, r, &o.ro, &rep)) {
		rc = cli_fail("repro", "%s", cairn_error_msg());
	} else {
		if (o.json)
			print_json(rep);
		else if (!o.ro.quiet || json_integer_value(json_object_get(rep, "failed")))
			printf("%s%lld ran, %lld unchanged, %lld restored from the run cache, %lld failed, %lld skipped\n",
			       o.ro.dry ? "dry run: " : "", (long long)json_integer_value(json_object_get(rep, "ran")),
			       (long long)json_integer_value(json_object_get(rep, "unchanged")),
			       (long long)json_integer_value(json_object_get(rep, "restored")),
			       (long long)json_integer_value(json_object_get(rep, "failed")),
			       (long long)json_integer_value(json_object_get(rep, "skipped")));
		rc = interrupted ? 130 : json_integer_value(json_object_get(rep, "failed")) ? 1 : 0;
		if (o.ro.dry && !o.json) {
			size_t i;
			json_t *s;
			json_array_foreach(json_object_get(rep, "stages"), i, s)
				printf("  %-10s %s\n", js(s, "result"), js(s, "name"));
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	json_decref(rep);
	pipeline_free(p);
	data_repo_close(r);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	struct popts o = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	json_t *rep = NULL, *s, *why;
	char **targets;
	size_t nt, i, k;
	int rc = parse(argc, argv, &o, &targets, &nt);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (nt) {
		fprintf(stderr, "cairn status: takes no arguments (see cairn status --help)\n");
		return 2;
	}
	if ((rc = open_pipeline("status", &o, &r, &p)))
		return rc;
	if (pipeline_status(p, r, &rep)) {
		rc = cli_fail("status", "%s", cairn_error_msg());
	} else if (o.json) {
		print_json(rep);
	} else {
		size_t stale = 0;
		json_array_foreach(json_object_get(rep, "stages"), i, s) {
			if (!strcmp(js(s, "state"), "ok"))
				continue;
			stale += !strcmp(js(s, "state"), "stale");
			printf("%s: %s\n", js(s, "name"), js(s, "state"));
			json_array_foreach(json_object_get(s, "reasons"), k, why)
				printf("    %s\n", json_string_value(why));
		}
		if (!stale)
			printf("all %zu stage(s) up to date\n", json_array_size(json_object_get(rep, "stages")));
	}
	json_decref(rep);
	pipeline_free(p);
	data_repo_close(r);
	return rc;
}

int cmd_dag(int argc, char **argv)
{
	struct popts o = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	char **targets;
	size_t nt;
	int rc = parse(argc, argv, &o, &targets, &nt);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (nt) {
		fprintf(stderr, "cairn dag: takes no arguments (see cairn dag --help)\n");
		return 2;
	}
	if ((rc = open_pipeline("dag", &o, &r, &p)))
		return rc;
	if (o.json) {
		json_t *stages = json_array();
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct pl_stage *s = &p->v[p->order[oi]];
			json_t *up = json_array(), *deps = json_array(), *outs = json_array();
			for (size_t k = 0; k < s->nup; k++)
				json_array_append_new(up, json_string(p->v[s->up[k]].name));
			for (size_t k = 0; k < s->ndeps; k++)
				json_array_append_new(deps, json_string(s->deps[k].path));
			for (size_t k = 0; k < s->nouts; k++)
				json_array_append_new(outs, json_string(s->outs[k].path));
			json_array_append_new(stages, json_pack("{s:s,s:o,s:o,s:o}", "name", s->name, "after", up, "deps",
								deps, "outs", outs));
		}
		json_t *doc = json_pack("{s:o}", "stages", stages);
		print_json(doc);
		json_decref(doc);
	} else if (o.dot) {
		printf("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct pl_stage *s = &p->v[p->order[oi]];
			printf("  \"%s\";\n", s->name);
			for (size_t k = 0; k < s->nup; k++)
				printf("  \"%s\" -> \"%s\";\n", p->v[s->up[k]].name, s->name);
		}
		printf("}\n");
	} else {
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct pl_stage *s = &p->v[p->order[oi]];
			printf("%s", s->name);
			for (size_t k = 0; k < s->nup; k++)
				printf("%s%s", k ? ", " : "  <- ", p->v[s->up[k]].name);
			printf("\n");
		}
	}
	pipeline_free(p);
	data_repo_close(r);
	return 0;
}
