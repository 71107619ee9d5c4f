/* cmd_pipeline.c - `cairn repro`, `cairn status`, `cairn dag`: run and inspect the pipeline in cairn.yaml / dvc.yaml. */
#include "cli/cmd.h"
#include "core/fault.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/util.h"
#include "core/yaml.h"
#include "data/data.h"
#include "pipeline/pipeline.h"
#include "cli/repro_track.h"

#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}



struct popts {
	struct repro_opts ro;
	bool json, dot, no_track, all;
	const char *file, *experiment, *uri, *root, *name;
	char **set;            /* exp run --set-param K=V */
	size_t nset;
};

static void usage(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "repro"))
		fprintf(f, "usage: cairn repro [STAGE...] [-f|--force] [-s|--single] [--downstream] [-j N]\n"
			   "                   [--dry] [--no-run-cache] [-q] [--json] [--file FILE]\n"
			   "                   [-e EXP] [--tracking-uri URI | --root DIR] [--no-track]\n\n"
			   "Run the stages of cairn.yaml (or dvc.yaml) whose commands, deps or params changed\n"
			   "since cairn.lock, in parallel up to -j, skipping what is unchanged and restoring\n"
			   "outs from the run cache when the same fingerprint ran before. STAGE limits the run\n"
			   "to those stages and what they depend on; --force runs them even when unchanged,\n"
			   "and then what depends on them. Exit status: 0 all done, 1 a stage failed (the\n"
			   "others still finish), 130 interrupted (cairn.lock keeps what completed).\n\n"
			   "Every stage that runs (or is restored) is a tracked run, nested under a run\n"
			   "for the whole repro, in experiment EXP (default: Default) of the tracking\n"
			   "store (--tracking-uri, --root, $MLFLOW_TRACKING_URI, else ./cairn-data): its\n"
			   "params, the numbers in its metrics files, deps and outs as dataset inputs,\n"
			   "its log and outs as artifacts. The commands get MLFLOW_TRACKING_URI,\n"
			   "MLFLOW_RUN_ID (mlflow.start_run() attaches to the stage's run), CAIRN_RUN_ID\n"
			   "and CAIRN_STAGE. --no-track records nothing.\n");
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
		{ "no-track", no_argument, NULL, 'T' },      { "experiment", required_argument, NULL, 'e' },
		{ "tracking-uri", required_argument, NULL, 'U' }, { "root", required_argument, NULL, 'R' },
		{ "set-param", required_argument, NULL, 'S' },    { "name", required_argument, NULL, 'N' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	int c;

	if (!o->set && !(o->set = ccalloc((size_t)argc + 1, sizeof(char *))))
		return cli_fail(argv[0], "out of memory");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fsj:nqhe:S:", longopts, NULL)) != -1) {
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
		case 'T': o->no_track = true; break;
		case 'e': o->experiment = optarg; break;
		case 'U': o->uri = optarg; break;
		case 'R': o->root = optarg; break;
		case 'S': o->set[o->nset++] = optarg; break;
		case 'N': o->name = optarg; break;
		case 'a': o->all = true; break;
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
	if (pipeline_load(data_repo_root(*r), o->file, p)) {
		cli_fail(cmd, "%s", cairn_error_msg());
		data_repo_close(*r);
		*r = NULL;
		return 1;
	}
	return 0;
}

/* Apply exp run's --set-param K=V (K: "key.path" in params.yaml or
 * "file.yaml:key.path"), editing only the lines of those keys. */
static int apply_set_params(const char *root, char **set, size_t n, json_t *tags)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n; i++) {
		char *kv = cstrdup(set[i]), *eq = kv ? strchr(kv, '=') : NULL, *colon, *key, *file = "params.yaml";
		struct buf path = BUF_INIT, text = BUF_INIT, out = BUF_INIT;
		json_t *want = NULL, *doc = NULL;

		if (!eq || eq == kv) {
			free(kv);
			return cli_fail("exp", "--set-param takes KEY=VALUE (or FILE:KEY=VALUE), not '%s'", set[i]);
		}
		*eq = '\0';
		key = kv;
		if ((colon = strchr(kv, ':'))) {
			*colon = '\0';
			file = kv;
			key = colon + 1;
		}
		buf_printf(&path, "%s/%s", root, file);
		/* the value as YAML reads it (0.1 a number, true a boolean, else a string) */
		if (cyaml_parse(eq + 1, strlen(eq + 1), &want) || json_is_object(want) || json_is_array(want) || !want) {
			json_decref(want);
			want = json_string(eq + 1);
		}
		cairn_error_clear();
		if ((rc = fs_read_file(path.ptr, 16 << 20, &text))) {
			rc = cli_fail("exp", "%s", cairn_error_msg());
		} else if (cyaml_set_scalar(text.ptr, text.len, key, eq + 1, &out) == 0 &&
			   !cyaml_parse(out.ptr, out.len, &doc)) {
			/* check the edit reads back as intended; quote a string that did not */
			json_t *got = doc;
			for (char *k = key; got && *k;) {
				size_t kn = strcspn(k, ".");
				char save = k[kn];
				k[kn] = '\0';
				got = json_object_get(got, k);
				k[kn] = save;
				k += kn + (save == '.');
			}
			if (!got || !json_equal(got, want)) {
				char *q = json_dumps(want, JSON_ENCODE_ANY);
				buf_clear(&out);
				rc = q && cyaml_set_scalar(text.ptr, text.len, key, q, &out) == 0 ? 0 : cli_fail("exp", "cannot set '%s' in %s", key, file);
				free(q);
			}
		} else {
			rc = cli_fail("exp", "%s: '%s' must already be a plain key with a value (block style) to be set",
				      file, key);
		}
		if (!rc && (rc = fs_write_atomic(path.ptr, out.ptr, out.len, 0644)))
			rc = cli_fail("exp", "%s", cairn_error_msg());
		if (!rc) {
			struct buf tk = BUF_INIT;
			buf_printf(&tk, "cairn.exp.set.%s", key);
			json_array_append_new(tags, json_pack("{s:s,s:s}", "key", tk.ptr, "value", eq + 1));
			buf_release(&tk);
		}
		json_decref(want);
		json_decref(doc);
		buf_release(&path);
		buf_release(&text);
		buf_release(&out);
		free(kv);
	}
	return rc;
}

static int repro_main(const char *cmd, int argc, char **argv, bool exp)
{
	struct popts o = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	json_t *rep = NULL, *tags = json_array();
	char **targets;
	size_t nt;
	int rc = parse(argc, argv, &o, &targets, &nt);
	struct sigaction sa = { 0 }, old_int, old_term;
	struct repro_track *tr = NULL;
	char name[64];

	if (rc) {
		rc = rc < 0 ? 0 : rc;
		goto early;
	}
	if (!exp && o.nset) {
		rc = 2;
		fprintf(stderr, "cairn repro: --set-param belongs to cairn exp run\n");
		goto early;
	}
	if ((rc = open_pipeline(cmd, &o, &r, &p)))
		goto early;
	if (exp) {
		snprintf(name, sizeof(name), "%s", o.name ? o.name : "");
		if (!*name) {
			time_t now = time(NULL);
			strftime(name, sizeof(name), "exp-%Y%m%d-%H%M%S", localtime(&now));
		}
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", "cairn.exp", "value", name));
		if ((rc = apply_set_params(data_repo_root(r), o.set, o.nset, tags)))
			goto done;
		/* the edited params change the pipeline: load it again */
		pipeline_free(p);
		p = NULL;
		if (pipeline_load(data_repo_root(r), o.file, &p)) {
			rc = cli_fail(cmd, "%s", cairn_error_msg());
			goto done;
		}
	}
	o.ro.targets = targets;
	o.ro.ntargets = nt;
	o.ro.interrupted = &interrupted;
	if (!o.no_track && !o.ro.dry) {
		if (repro_track_open(o.uri, o.root, o.experiment, r, p, tags, exp ? name : "repro", &tr)) {
			rc = cli_fail(cmd, "cannot record runs: %s (--no-track runs without recording)", cairn_error_msg());
			goto done;
		}
		o.ro.hooks = repro_track_hooks(tr);
	}
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (pipeline_repro(p, r, &o.ro, &rep)) {
		rc = cli_fail(cmd, "%s", cairn_error_msg());
	} else {
		if (o.json)
			cli_print_json(rep);
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
			json_t *st;
			json_array_foreach(json_object_get(rep, "stages"), i, st)
				printf("  %-10s %s\n", cli_str(st, "result"), cli_str(st, "name"));
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (tr) {
		if (!o.json && !o.ro.quiet && rep)
			printf("%s%s recorded in %s (run %s)\n", exp ? "experiment " : "runs", exp ? name : "",
			       repro_track_target(tr), repro_track_run(tr));
		repro_track_close(tr, rep, interrupted);
	}
done:
	json_decref(rep);
	pipeline_free(p);
	data_repo_close(r);
early:
	json_decref(tags);
	free(o.set);
	return rc;
}

int cmd_repro(int argc, char **argv)
{
	return repro_main("repro", argc, argv, false);
}

int cmd_exp(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: cairn exp run [--set-param KEY=VALUE]... [--name NAME] [repro options]\n\n"
			   "Run the pipeline as an experiment: set each KEY (a dotted key of params.yaml, or\n"
			   "FILE:KEY) to VALUE in place (only that line changes; comments stay), then\n"
			   "cairn repro. The whole run is a tracked run named NAME (default exp-DATE-TIME),\n"
			   "tagged cairn.exp and cairn.exp.set.KEY, with the stages nested under it. Keep\n"
			   "the variation with git commit, drop it with git checkout -- params.yaml.\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "run")) {
		fprintf(stderr, "cairn exp: unknown subcommand '%s' (cairn exp run --help)\n", argv[1]);
		return 2;
	}
	return repro_main("exp", argc - 1, argv + 1, true);
}

/* ---- metrics ---- */

/* The text of a workspace file at git revision rev: from git, else (an out
 * kept in the cache, as DVC keeps metrics by default) from the cache, by
 * the hash the revision's cairn.lock records for it. */
static void text_at(const struct pipeline *p, struct data_repo *r, const char *rev, const char *path, struct buf *text)
{
	struct buf spec = BUF_INIT, lock = BUF_INIT;
	json_t *doc = NULL, *st;
	const char *name;
	int code = 0, rc;

	buf_printf(&spec, "%s:./%s", rev, path);
	char *argv[] = { "git", "show", spec.ptr, NULL };
	rc = proc_capture(argv, p->root, text, &code);
	if (!rc && !code)
		goto out;
	buf_clear(text);
	buf_clear(&spec);
	buf_printf(&spec, "%s:./cairn.lock", rev);
	argv[2] = spec.ptr;
	if (proc_capture(argv, p->root, &lock, &code) || code || cyaml_parse(lock.ptr, lock.len, &doc))
		goto out;
	json_object_foreach(json_object_get(doc, "stages"), name, st) {
		size_t i;
		json_t *o;
		json_array_foreach(json_object_get(st, "outs"), i, o) {
			const char *h = json_string_value(json_object_get(o, "sha256"));
			if (h && !strcmp(json_string_value(json_object_get(o, "path")) ?: "", path) &&
			    data_read_obj(r, h, 16 << 20, text))
				buf_clear(text);
		}
	}
out:
	cairn_error_clear();
	json_decref(doc);
	buf_release(&spec);
	buf_release(&lock);
}

/* Every metrics file: the stages' metrics and the top-level metrics: list. */
static json_t *metric_files(const struct pipeline *p)
{
	json_t *v = json_array(), *e;
	size_t i;

	for (size_t s = 0; s < p->n; s++)
		for (size_t k = 0; k < p->v[s].nouts; k++)
			if (p->v[s].outs[k].kind == PL_METRIC)
				json_array_append_new(v, json_string(p->v[s].outs[k].path));
	json_array_foreach(p->metrics, i, e) {
		size_t j;
		json_t *x;
		bool dup = false;
		json_array_foreach(v, j, x)
			dup |= json_equal(x, e);
		if (!dup)
			json_array_append(v, e);
	}
	return v;
}

/* Numbers of every metrics file of the pipeline at REV (NULL: the workspace). */
static int metrics_at(const struct pipeline *p, struct data_repo *r, const char *rev, json_t *out)
{
	json_t *files = metric_files(p), *f;
	size_t i;

	json_array_foreach(files, i, f) {
		const char *rel = json_string_value(f);
		struct buf text = BUF_INIT, path = BUF_INIT;
		json_t *doc = NULL, *flat = json_object();
		if (rev) {
			text_at(p, r, rev, rel, &text);
		} else {
			buf_printf(&path, "%s/%s", p->root, rel);
			fs_read_file(path.ptr, 16 << 20, &text);
		}
		cairn_error_clear();
		if (text.len && !cyaml_parse(text.ptr, text.len, &doc))
			cjson_flatten("", doc, flat, true);
		cairn_error_clear();
		json_object_set_new(out, rel, flat);
		json_decref(doc);
		buf_release(&text);
		buf_release(&path);
	}
	json_decref(files);
	return 0;
}

/* Values of every params file the pipeline uses, flattened, at REV or in the workspace. */
static void params_at(const struct pipeline *p, const char *rev, json_t *out)
{
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->v[i].nparams; k++) {
			const char *f = p->v[i].params[k].file;
			struct buf text = BUF_INIT, path = BUF_INIT;
			json_t *doc = NULL, *flat;
			int code = 0;
			if (json_object_get(out, f))
				continue;
			flat = json_object();
			if (rev) {
				struct buf spec = BUF_INIT;
				buf_printf(&spec, "%s:./%s", rev, f);
				char *argv[] = { "git", "show", spec.ptr, NULL };
				if (proc_capture(argv, p->root, &text, &code) || code)
					buf_clear(&text);
				buf_release(&spec);
			} else {
				buf_printf(&path, "%s/%s", p->root, f);
				fs_read_file(path.ptr, 16 << 20, &text);
			}
			cairn_error_clear();
			if (text.len && !cyaml_parse(text.ptr, text.len, &doc))
				cjson_flatten("", doc, flat, false);
			cairn_error_clear();
			json_object_set_new(out, f, flat);
			json_decref(doc);
			buf_release(&text);
			buf_release(&path);
		}
}

static void fmt_val(json_t *v, char *out, size_t n)
{
	if (!v)
		snprintf(out, n, "-");
	else if (json_is_real(v))
		snprintf(out, n, "%.6g", json_real_value(v));
	else if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
	else
		snprintf(out, n, "?");
}

/* Rows {path, key, old, new, change} for keys that differ (all with --all). */
static json_t *diff_rows(json_t *old, json_t *cur, bool all, bool numeric)
{
	json_t *rows = json_array(), *of, *nf, *v;
	const char *f, *k;

	json_object_foreach(cur, f, nf) {
		of = json_object_get(old, f);
		json_object_foreach(nf, k, v) {
			json_t *o = json_object_get(of, k);
			if (!all && o && json_equal(o, v))
				continue;
			json_t *row = json_pack("{s:s,s:s,s:O,s:O}", "path", f, "key", k, "old", o ? o : json_null(), "new", v);
			if (numeric && o && json_is_number(o) && json_is_number(v))
				json_object_set_new(row, "change", json_real(json_number_value(v) - json_number_value(o)));
			json_array_append_new(rows, row);
		}
		json_object_foreach(of, k, v)
			if (!json_object_get(nf, k))
				json_array_append_new(rows, json_pack("{s:s,s:s,s:O,s:n}", "path", f, "key", k, "old", v, "new"));
	}
	json_object_foreach(old, f, of)
		if (!json_object_get(cur, f))
			json_object_foreach(of, k, v)
				json_array_append_new(rows, json_pack("{s:s,s:s,s:O,s:n}", "path", f, "key", k, "old", v, "new"));
	return rows;
}

static void print_rows(const char *title, const char *rev, json_t *rows)
{
	size_t i;
	json_t *r;

	if (!json_array_size(rows))
		return;
	printf("%-20s %-28s %-14s %-14s %s\n", "Path", title, rev, "workspace", "Change");
	json_array_foreach(rows, i, r) {
		char a[64], b[64], c[64];
		fmt_val(json_object_get(r, "old"), a, sizeof(a));
		fmt_val(json_is_null(json_object_get(r, "new")) ? NULL : json_object_get(r, "new"), b, sizeof(b));
		if (json_is_null(json_object_get(r, "old")))
			snprintf(a, sizeof(a), "-");
		if (json_object_get(r, "change"))
			snprintf(c, sizeof(c), "%+.6g", json_real_value(json_object_get(r, "change")));
		else
			snprintf(c, sizeof(c), "-");
		printf("%-20s %-28s %-14s %-14s %s\n", cli_str(r, "path"), cli_str(r, "key"), a, b, c);
	}
}

int cmd_metrics(int argc, char **argv)
{
	struct popts o = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	char **pos;
	size_t npos;
	int rc;

	if (argc < 2 || cli_is_help(argv[1])) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: cairn metrics show [--json]\n"
			   "       cairn metrics diff [REV] [--all] [--json]\n\n"
			   "The numbers in the pipeline's metrics files (flattened to dotted keys), and\n"
			   "how they and the params differ from git revision REV (default HEAD), as dvc\n"
			   "metrics diff / dvc params diff do. --all lists unchanged values too.\n");
		return argc < 2 ? 2 : 0;
	}
	if ((rc = parse(argc - 1, argv + 1, &o, &pos, &npos)))
		return free(o.set), rc < 0 ? 0 : rc;
	if ((strcmp(argv[1], "show") || npos) && (strcmp(argv[1], "diff") || npos > 1)) {
		free(o.set);
		fprintf(stderr, "cairn metrics: show | diff [REV] (cairn metrics --help)\n");
		return 2;
	}
	if ((rc = open_pipeline("metrics", &o, &r, &p))) {
		free(o.set);
		return rc;
	}
	if (!strcmp(argv[1], "show")) {
		json_t *cur = json_object(), *f, *v;
		const char *path, *k;
		metrics_at(p, r, NULL, cur);
		if (o.json)
			cli_print_json(cur);
		else
			json_object_foreach(cur, path, f) {
				printf("%s:\n", path);
				json_object_foreach(f, k, v)
					printf("    %-30s %.6g\n", k, json_real_value(v));
			}
		json_decref(cur);
	} else {
		const char *rev = npos ? pos[0] : "HEAD";
		json_t *mo = json_object(), *mn = json_object(), *po = json_object(), *pn = json_object();
		char *verify[] = { "git", "rev-parse", "--verify", "--quiet", NULL, NULL };
		struct buf revc = BUF_INIT, out = BUF_INIT;
		int code = 0;
		buf_printf(&revc, "%s^{commit}", rev);
		verify[4] = revc.ptr;
		if (proc_capture(verify, p->root, &out, &code) || code) {
			rc = cli_fail("metrics", "'%s' is not a git revision here", rev);
		} else {
			metrics_at(p, r, rev, mo);
			metrics_at(p, r, NULL, mn);
			params_at(p, rev, po);
			params_at(p, NULL, pn);
			json_t *m = diff_rows(mo, mn, o.all, true), *pr = diff_rows(po, pn, o.all, false);
			if (o.json) {
				json_t *doc = json_pack("{s:s,s:O,s:O}", "rev", rev, "metrics", m, "params", pr);
				cli_print_json(doc);
				json_decref(doc);
			} else {
				print_rows("Metric", rev, m);
				if (json_array_size(m) && json_array_size(pr))
					printf("\n");
				print_rows("Param", rev, pr);
				if (!json_array_size(m) && !json_array_size(pr))
					printf("no metric or param differs from %s\n", rev);
			}
			json_decref(m);
			json_decref(pr);
		}
		buf_release(&revc);
		buf_release(&out);
		json_decref(mo);
		json_decref(mn);
		json_decref(po);
		json_decref(pn);
	}
	pipeline_free(p);
	data_repo_close(r);
	free(o.set);
	return rc;
}

static int cmd_status_impl(struct popts *po, int argc, char **argv)
{
	struct popts o = *po;
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
		cli_print_json(rep);
	} else {
		size_t stale = 0;
		json_array_foreach(json_object_get(rep, "stages"), i, s) {
			if (!strcmp(cli_str(s, "state"), "ok"))
				continue;
			stale += !strcmp(cli_str(s, "state"), "stale");
			printf("%s: %s\n", cli_str(s, "name"), cli_str(s, "state"));
			json_array_foreach(json_object_get(s, "reasons"), k, why)
				printf("    %s\n", json_string_value(why));
		}
		/* apart, as dvc status keeps them: stages that may run once what they depend on has */
		json_array_foreach(json_object_get(rep, "stages"), i, s) {
			json_t *after = json_object_get(s, "after");
			if (strcmp(cli_str(s, "state"), "ok") || !json_array_size(after))
				continue;
			printf("%s: will run after ", cli_str(s, "name"));
			json_array_foreach(after, k, why)
				printf("%s'%s'", k ? ", " : "", json_string_value(why));
			printf(" if %s outs change\n", json_array_size(after) > 1 ? "their" : "its");
		}
		if (!stale)
			printf("all %zu stage(s) up to date\n", json_array_size(json_object_get(rep, "stages")));
	}
	json_decref(rep);
	pipeline_free(p);
	data_repo_close(r);
	return rc;
}

static int cmd_dag_impl(struct popts *po, int argc, char **argv)
{
	struct popts o = *po;
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
		json_t *doc = pipeline_dag_json(p);
		cli_print_json(doc);
		json_decref(doc);
	} else if (o.dot) {
		printf("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
		for (size_t i = 0; i < p->nptrs; i++)
			printf("  \"%s\" [shape=ellipse];\n", p->ptrs[i].file);
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct pl_stage *s = &p->v[p->order[oi]];
			printf("  \"%s\";\n", s->name);
			for (size_t k = 0; k < s->npup; k++)
				printf("  \"%s\" -> \"%s\";\n", p->ptrs[s->pup[k]].file, s->name);
			for (size_t k = 0; k < s->nup; k++)
				printf("  \"%s\" -> \"%s\";\n", p->v[s->up[k]].name, s->name);
		}
		printf("}\n");
	} else {
		/* pointer files first (data, as dvc dag draws them), then the stages in order */
		for (size_t i = 0; i < p->nptrs; i++)
			printf("%s\n", p->ptrs[i].file);
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct pl_stage *s = &p->v[p->order[oi]];
			size_t n = 0;
			printf("%s", s->name);
			for (size_t k = 0; k < s->npup; k++)
				printf("%s%s", n++ ? ", " : "  <- ", p->ptrs[s->pup[k]].file);
			for (size_t k = 0; k < s->nup; k++)
				printf("%s%s", n++ ? ", " : "  <- ", p->v[s->up[k]].name);
			printf("\n");
		}
	}
	pipeline_free(p);
	data_repo_close(r);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct popts o = { 0 };
	int rc;

	/* parse() allocates the --set-param array; release it whatever happens */
	o.set = ccalloc((size_t)argc + 1, sizeof(char *));
	if (!o.set)
		return cli_fail(argv[0], "out of memory");
	rc = cmd_status_impl(&o, argc, argv);
	free(o.set);
	return rc;
}

int cmd_dag(int argc, char **argv)
{
	struct popts o = { 0 };
	int rc;

	/* parse() allocates the --set-param array; release it whatever happens */
	o.set = ccalloc((size_t)argc + 1, sizeof(char *));
	if (!o.set)
		return cli_fail(argv[0], "out of memory");
	rc = cmd_dag_impl(&o, argc, argv);
	free(o.set);
	return rc;
}
