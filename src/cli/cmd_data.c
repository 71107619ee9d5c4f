/* cmd_data.c - `cairn data`: version data files and folders with pointer files, a cache and remotes. */
#include "cli/cmd.h"
#include "core/fault.h"
#include "client/client.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/progress.h"
#include "data/data.h"
#include "pipeline/pipeline.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dopts {
	struct data_opts d;
	bool json, log, all_commits, all_branches, all_tags, workspace, dry_run, make_default;
	const char *run, *experiment, *uri, *root, *dvc_dir;
	char **revs;
	size_t nrevs;
};

static void data_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn data <subcommand> [options]\n\n"
		"Version data files and folders: pointer files (<path>.cairn, for git) name their\n"
		"content by SHA-256; the content lives in the workspace cache (.cairn/cache) and\n"
		"on remotes.\n\n"
		"subcommands:\n"
		"  add PATH...                 track files or folders: write PATH.cairn, cache the\n"
		"                              content, add PATH to .gitignore\n"
		"  status [TARGET...]          what differs from the pointers: modified, missing,\n"
		"                              not in the cache, not pushed to the default remote\n"
		"  checkout [TARGET...]        make the workspace match the pointers\n"
		"  push [TARGET...]            copy objects the remote lacks to it\n"
		"  fetch [TARGET...]           copy objects the cache lacks from the remote\n"
		"  pull [TARGET...]            fetch, then checkout\n"
		"  remote add NAME PATH [--default] | remove NAME | default NAME | list\n"
		"  config KEY [VALUE]          cache.type (e.g. reflink,hardlink,copy), core.remote\n"
		"  gc SCOPE [--dry-run]        drop cache objects no pointer in SCOPE references;\n"
		"                              SCOPE: --workspace, --all-commits, --all-branches,\n"
		"                              --all-tags, --rev REV (repeatable)\n"
		"  fsck                        re-hash every cache object, name corrupt ones\n"
		"  import-dvc [--dvc-dir DIR]  convert a DVC project's .dvc files and local cache\n\n"
		"options:\n"
		"  -j, --jobs N          worker threads (default: cores for hashing, 8 for copies)\n"
		"  -r, --remote NAME     remote for push/fetch/pull/status (default: core.remote)\n"
		"  --no-remote           status: do not look at the remote\n"
		"  -f, --force           checkout/pull: overwrite changes that are not in the cache\n"
		"  -q, --quiet           no progress line\n"
		"  --json                print the report as JSON\n"
		"  --log                 add: record each path as a dataset input of a run\n"
		"  --run ID              --log: that run (default: $MLFLOW_RUN_ID, else a new run)\n"
		"  -e, --experiment EXP  --log: experiment of the new run (default: Default)\n"
		"  --tracking-uri URI, --root DIR   where --log records (as for other commands)\n\n"
		"Targets are data paths or pointer files; a folder that is not tracked itself\n"
		"stands for every pointer below it. The workspace is the nearest folder upwards\n"
		"with a .cairn folder, else the git top level, else the current folder.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "cairn data: %s\n(see cairn data --help)\n", msg);
	return 2;
}

static int fail(void)
{
	cli_fail("data", "%s", cairn_error_msg());
	return 1;
}



static long long ji(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void fmt_bytes(long long n, char *out)
{
	progress_fmt_bytes(n, out, 16);
}

/* --log: record each added path as a dataset input of a run. */
static int log_inputs(const struct dopts *o, json_t *added)
{
	struct client *cl = NULL;
	json_t *run = NULL, *datasets = json_array(), *reply = NULL;
	const char *run_id = o->run;
	char *eid = NULL;
	bool made, created = false;
	int rc;

	if (!run_id)
		run_id = getenv("MLFLOW_RUN_ID");
	if (!run_id || !*run_id)
		run_id = getenv("CAIRN_RUN_ID");
	if ((rc = client_open_default(o->uri, o->root, cli_default_root(), &cl)))
		goto out;
	if (run_id && *run_id) {
		if ((rc = client_run_find(cl, run_id, &run)))
			goto out;
	} else {
		json_t *r = NULL;
		if ((rc = client_experiment_ensure(cl, o->experiment ? o->experiment : "0", &eid, &made)))
			goto out;
		if ((rc = client_call(cl, "POST", "/mlflow/runs/create",
				      json_pack("{s:s,s:I,s:s}", "experiment_id", eid, "start_time",
						(json_int_t)time(NULL) * 1000, "run_name", "data-add"),
				      &r)))
			goto out;
		run = json_incref(json_object_get(r, "run"));
		json_decref(r);
		created = true;
	}
	run_id = cli_str(json_object_get(run, "info"), "run_id");
	for (size_t i = 0; i < json_array_size(added); i++) {
		json_t *a = json_array_get(added, i);
		char digest[33], *src, *profile;
		json_t *so = json_pack("{s:s,s:s,s:s}", "uri", cli_str(a, "path"), "sha256", cli_str(a, "sha256"), "pointer",
				       cli_str(a, "pointer"));
		json_t *po = json_pack("{s:I,s:I,s:s}", "size_bytes", (json_int_t)ji(a, "size"), "num_files",
				       (json_int_t)ji(a, "nfiles"), "type", cli_str(a, "type"));
		snprintf(digest, sizeof(digest), "%.32s", cli_str(a, "sha256"));
		src = so ? json_dumps(so, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		profile = po ? json_dumps(po, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(so);
		json_decref(po);
		json_array_append_new(datasets,
				      json_pack("{s:[{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s}}", "tags", "key", "mlflow.data.context",
						"value", "data", "dataset", "name", cli_str(a, "path"), "digest", digest,
						"source_type", "cairn-data", "source", src ? src : "{}", "profile",
						profile ? profile : "{}"));
		free(src);
		free(profile);
	}
	rc = client_call(cl, "POST", "/mlflow/runs/log-inputs",
			 json_pack("{s:s,s:O}", "run_id", run_id, "datasets", datasets), &reply);
	if (!rc && created)
		rc = client_call(cl, "POST", "/mlflow/runs/update",
				 json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", "FINISHED", "end_time",
					   (json_int_t)time(NULL) * 1000), NULL);
	if (!rc && !o->json)
		printf("logged %zu dataset input(s) to run %s\n", json_array_size(added), run_id);
out:
	json_decref(reply);
	json_decref(datasets);
	json_decref(run);
	free(eid);
	client_free(cl);
	return rc;
}

static int print_add(const struct dopts *o, json_t *rep)
{
	json_t *added = json_object_get(rep, "added"), *a;
	size_t i;
	char sz[16];

	if (o->json)
		return 0;
	json_array_foreach(added, i, a) {
		fmt_bytes(ji(a, "size"), sz);
		if (!strcmp(cli_str(a, "type"), "dir"))
			printf("%s %s/ (%lld files, %s) -> %s\n", json_is_true(json_object_get(a, "changed")) ? "added" : "unchanged",
			       cli_str(a, "path"), ji(a, "nfiles"), sz, cli_str(a, "pointer"));
		else
			printf("%s %s (%s) -> %s\n", json_is_true(json_object_get(a, "changed")) ? "added" : "unchanged",
			       cli_str(a, "path"), sz, cli_str(a, "pointer"));
	}
	if (json_array_size(added)) {
		const char *ptr = cli_str(json_array_get(added, 0), "pointer"), *slash = strrchr(ptr, '/');
		printf("commit the pointer files and .gitignore with git (git add %s %.*s%s.gitignore ...)\n", ptr,
		       slash ? (int)(slash - ptr) : 0, ptr, slash ? "/" : "");
	}
	return 0;
}

static void print_list(const char *what, json_t *arr)
{
	size_t n = json_array_size(arr);

	for (size_t i = 0; i < n && i < 20; i++)
		printf("    %-9s %s\n", what, json_string_value(json_array_get(arr, i)));
	if (n > 20)
		printf("    ... and %zu more %s\n", n - 20, what);
}

static int print_status(const struct dopts *o, json_t *rep)
{
	json_t *e;
	size_t i, changed = 0;
	const char *remote = cli_str(rep, "remote");

	json_array_foreach(json_object_get(rep, "entries"), i, e) {
		bool ok = !strcmp(cli_str(e, "state"), "ok") && !ji(e, "not_in_cache") && !ji(e, "not_pushed");
		if (!ok)
			changed++;
		if (o->json)
			continue;
		printf("%-9s %s%s\n", cli_str(e, "state"), cli_str(e, "path"), !strcmp(cli_str(e, "type"), "dir") ? "/" : "");
		print_list("added:", json_object_get(e, "added"));
		print_list("modified:", json_object_get(e, "modified"));
		print_list("deleted:", json_object_get(e, "deleted"));
		if (json_is_true(json_object_get(e, "manifest_missing")))
			printf("    the folder's manifest is not in the cache (cairn data fetch)\n");
		if (ji(e, "not_in_cache"))
			printf("    %lld object(s) not in the cache (cairn data fetch)\n", ji(e, "not_in_cache"));
		if (ji(e, "not_pushed"))
			printf("    %lld object(s) not pushed to %s (cairn data push)\n", ji(e, "not_pushed"), remote);
	}
	if (!o->json) {
		size_t n = json_array_size(json_object_get(rep, "entries"));
		if (!n)
			printf("no tracked data (cairn data add PATH)\n");
		else if (!changed)
			printf("%zu tracked path(s), all up to date%s%s\n", n, *remote ? " and pushed to " : "", remote);
	}
	return 0;
}

static int print_checkout(const struct dopts *o, json_t *rep)
{
	json_t *e, *f;
	size_t i, k;

	json_array_foreach(json_object_get(rep, "checkout"), i, e) {
		json_array_foreach(json_object_get(e, "failed"), k, f) {
			if (!strcmp(cli_str(f, "path"), "."))
				cli_fail("data", "%s: %s", cli_str(e, "path"), cli_str(f, "error"));
			else
				cli_fail("data", "%s: %s: %s", cli_str(e, "path"), cli_str(f, "path"), cli_str(f, "error"));
		}
		if (!o->json)
			printf("%s: %lld written, %lld deleted, %lld unchanged%s\n", cli_str(e, "path"), ji(e, "written"),
			       ji(e, "deleted"), ji(e, "unchanged"),
			       json_array_size(json_object_get(e, "failed")) ? ", some failed" : "");
	}
	return ji(rep, "failed") ? 1 : 0;
}

static int print_transfer(const struct dopts *o, json_t *rep, const char *verb, const char *dir)
{
	json_t *f;
	size_t i;
	char sz[16];

	json_array_foreach(json_object_get(rep, "failed"), i, f)
		cli_fail("data", "%s: %s", cli_str(f, "sha256"), cli_str(f, "error"));
	if (!o->json) {
		fmt_bytes(ji(rep, "bytes"), sz);
		printf("%s %lld object(s) (%s) %s %s; %lld already there\n", verb, ji(rep, "copied"), sz, dir,
		       cli_str(rep, "remote"), ji(rep, "present"));
	}
	return json_array_size(json_object_get(rep, "failed")) ? 1 : 0;
}

/* The cached outs the project's dvc.lock files record, for import-dvc (a
 * project without dvc.yaml has none; a broken one is reported, not fatal).
 * The caller owns the array. */
static json_t *lock_outs(struct data_repo *r)
{
	struct pipeline *p = NULL;
	json_t *outs;
	int rc = pipeline_load(data_repo_root(r), NULL, &p);

	if (rc) {
		if (rc != CAIRN_ENOTFOUND)
			fprintf(stderr, "cairn data: note: the outs of dvc.lock are not imported: %s\n", cairn_error_msg());
		cairn_error_clear();
		return NULL;
	}
	outs = pipeline_dvc_lock_outs(p);
	pipeline_free(p);
	return outs;
}

static int run_sub(const char *sub, struct dopts *o, int n, char **pos)
{
	struct data_repo *r = NULL;
	json_t *rep = NULL;
	int rc, exit_code = 0;

	if ((rc = data_repo_open(&o->d, &r)))
		return fail();
	if (!strcmp(sub, "add")) {
		if (!(rc = data_add(r, pos, (size_t)n, &rep))) {
			print_add(o, rep);
			if (o->log && (rc = log_inputs(o, json_object_get(rep, "added"))))
				exit_code = fail();
		}
	} else if (!strcmp(sub, "status")) {
		if (!(rc = data_status(r, pos, (size_t)n, &rep)))
			print_status(o, rep);
	} else if (!strcmp(sub, "checkout")) {
		if (!(rc = data_checkout(r, pos, (size_t)n, &rep)))
			exit_code = print_checkout(o, rep);
	} else if (!strcmp(sub, "push")) {
		if (!(rc = data_push(r, pos, (size_t)n, &rep)))
			exit_code = print_transfer(o, rep, "pushed", "to");
	} else if (!strcmp(sub, "fetch")) {
		if (!(rc = data_fetch(r, pos, (size_t)n, &rep)))
			exit_code = print_transfer(o, rep, "fetched", "from");
	} else if (!strcmp(sub, "pull")) {
		if (!(rc = data_pull(r, pos, (size_t)n, &rep))) {
			exit_code = print_transfer(o, json_object_get(rep, "fetch"), "fetched", "from");
			exit_code |= print_checkout(o, json_object_get(rep, "checkout"));
		}
	} else if (!strcmp(sub, "fsck")) {
		if (n)
			exit_code = usage_error("fsck takes no arguments");
		else if (!(rc = data_fsck(r, &rep))) {
			json_t *c;
			size_t i;
			json_array_foreach(json_object_get(rep, "corrupt"), i, c)
				cli_fail("data", "%s", cli_str(c, "error"));
			if (!o->json)
				printf("checked %lld object(s): %zu corrupt\n", ji(rep, "checked"),
				       json_array_size(json_object_get(rep, "corrupt")));
			exit_code = json_array_size(json_object_get(rep, "corrupt")) ? 1 : 0;
		}
	} else if (!strcmp(sub, "gc")) {
		struct data_gc_scope s = { o->all_commits, o->all_branches, o->all_tags, o->revs, o->nrevs,
					   o->workspace, o->dry_run };
		if (n)
			exit_code = usage_error("gc takes no paths; name a scope");
		else if (!(rc = data_gc(r, &s, &rep)) && !o->json) {
			char sz[16];
			json_t *u;
			size_t i;
			fmt_bytes(ji(rep, "bytes_freed"), sz);
			json_array_foreach(json_object_get(rep, "unknown_manifests"), i, u)
				fprintf(stderr, "cairn data: note: %s: %s\n", cli_str(u, "pointer"), cli_str(u, "error"));
			printf("%s %lld object(s) (%s); kept %lld\n", o->dry_run ? "would remove" : "removed",
			       ji(rep, "removed"), sz, ji(rep, "kept"));
		}
	} else if (!strcmp(sub, "remote")) {
		if (n >= 3 && !strcmp(pos[0], "add") && n == 3)
			rc = data_remote_add(r, pos[1], pos[2], o->make_default);
		else if (n == 2 && !strcmp(pos[0], "remove"))
			rc = data_remote_remove(r, pos[1]);
		else if (n == 2 && !strcmp(pos[0], "default"))
			rc = data_remote_default(r, pos[1]);
		else if ((n == 1 && !strcmp(pos[0], "list")) || n == 0) {
			if (!(rc = data_remote_list(r, &rep)) && !o->json) {
				const char *k, *def = cli_str(rep, "default");
				json_t *v;
				json_object_foreach(json_object_get(rep, "remotes"), k, v)
					printf("%-16s %s%s\n", k, json_string_value(v), strcmp(k, def) ? "" : "  (default)");
			}
		} else
			exit_code = usage_error("remote add NAME PATH [--default] | remove NAME | default NAME | list");
	} else if (!strcmp(sub, "config")) {
		if (n < 1 || n > 2)
			exit_code = usage_error("config KEY [VALUE]");
		else if (!(rc = data_config(r, pos[0], n == 2 ? pos[1] : NULL, &rep)) && !o->json)
			printf("%s\n", json_is_string(rep) ? json_string_value(rep) : "");
	} else if (!strcmp(sub, "import-dvc")) {
		if (n)
			exit_code = usage_error("import-dvc takes no paths");
		else if (!(rc = data_import_dvc(r, o->dvc_dir, lock_outs(r), &rep))) {
			json_t *e;
			size_t i;
			if (!o->json)
				json_array_foreach(json_object_get(rep, "imported"), i, e)
					printf("imported %s -> %s\n", cli_str(e, "path"), cli_str(e, "pointer"));
			json_array_foreach(json_object_get(rep, "failed"), i, e)
				cli_fail("data", "%s: %s", cli_str(e, "path"), cli_str(e, "error"));
			exit_code = json_array_size(json_object_get(rep, "failed")) ? 1 : 0;
		}
	} else {
		exit_code = usage_error("unknown subcommand");
	}
	if (rc)
		exit_code = fail();
	else if (o->json && rep)
		cli_print_json(rep);
	json_decref(rep);
	data_repo_close(r);
	return exit_code;
}

int cmd_data(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },	  { "remote", required_argument, NULL, 'r' },
		{ "no-remote", no_argument, NULL, 'N' },	  { "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },		  { "json", no_argument, NULL, 'J' },
		{ "log", no_argument, NULL, 'L' },		  { "run", required_argument, NULL, 'u' },
		{ "experiment", required_argument, NULL, 'e' },	  { "tracking-uri", required_argument, NULL, 'U' },
		{ "root", required_argument, NULL, 'R' },	  { "all-commits", no_argument, NULL, 'A' },
		{ "all-branches", no_argument, NULL, 'B' },	  { "all-tags", no_argument, NULL, 'T' },
		{ "workspace", no_argument, NULL, 'w' },	  { "rev", required_argument, NULL, 'V' },
		{ "dry-run", no_argument, NULL, 'D' },		  { "default", no_argument, NULL, 'd' },
		{ "dvc-dir", required_argument, NULL, 'C' },	  { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dopts o = { 0 };
	const char *sub;
	int c, rc;

	if (argc < 2) {
		data_usage(stderr);
		return 2;
	}
	if (cli_is_help(argv[1])) {
		data_usage(stdout);
		return 0;
	}
	sub = argv[1];
	/* past a file-size limit, fail the write (EFBIG) instead of dying */
	signal(SIGXFSZ, SIG_IGN);
	o.revs = ccalloc((size_t)argc, sizeof(char *));
	if (!o.revs)
		return cli_fail("data", "out of memory");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "j:r:fqe:wh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 64) {
				free(o.revs);
				return usage_error("--jobs takes a number from 1 to 64");
			}
			o.d.jobs = (int)v;
			break;
		}
		case 'r': o.d.remote = optarg; break;
		case 'N': o.d.no_remote = true; break;
		case 'f': o.d.force = true; break;
		case 'q': o.d.quiet = true; break;
		case 'J': o.json = true; break;
		case 'L': o.log = true; break;
		case 'u': o.run = optarg; break;
		case 'e': o.experiment = optarg; break;
		case 'U': o.uri = optarg; break;
		case 'R': o.root = optarg; break;
		case 'A': o.all_commits = true; break;
		case 'B': o.all_branches = true; break;
		case 'T': o.all_tags = true; break;
		case 'w': o.workspace = true; break;
		case 'V': o.revs[o.nrevs++] = optarg; break;
		case 'D': o.dry_run = true; break;
		case 'd': o.make_default = true; break;
		case 'C': o.dvc_dir = optarg; break;
		case 'h': data_usage(stdout); free(o.revs); return 0;
		default:
			free(o.revs);
			fprintf(stderr, "cairn data: unknown option or missing value: %s\n(see cairn data --help)\n",
				argv[optind] ? argv[optind] : "");
			return 2;
		}
	}
	rc = run_sub(sub, &o, argc - 1 - optind, argv + 1 + optind);
	free(o.revs);
	return rc;
}
