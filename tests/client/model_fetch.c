/* tests/client/model_fetch.c - model URIs: parsing, resolution, downloads into the cache, faults.
 *
 * Each test gets a fresh data root with one run whose artifacts hold a model
 * directory (MLmodel, a binary file, an empty file, a nested file), a
 * registered model "churn" (version 1 from runs:/<run>/model, version 2 from
 * a logged model, alias champion -> 1) and a client on it: local (the root
 * in-process) or remote (an HTTP server started in this process on the same
 * root, reached over libcurl). Fault runs fail each allocation, write,
 * fsync, rename and store step of a fetch in turn, once and from then on:
 * the fetch either succeeds with the whole model, or fails leaving nothing
 * in the cache; ASan's leak check at exit covers every error path.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/client.h"
#include "client/model_fetch.h"
#include "core/error.h"
#include "core/fault.h"

static char dir[64];
static char root[96], srcdir[96];
static struct client *local, *remote;
static char run_id[64], model_id[64];
static unsigned seq;
static uint64_t cur_n; /* the call failing now (0: none), for messages */

static void put_file(const char *artifact_uri, const char *name, const char *data, size_t n)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", srcdir, name);
	for (char *p = path + strlen(srcdir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	cr_assert_not_null(f = fopen(path, "wb"));
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	cr_assert_not_null(f = fopen(path, "rb"));
	cr_assert_eq(client_upload_fd(local, artifact_uri, name, fileno(f)), 0, "%s", cairn_error_msg());
	fclose(f);
}

static json_t *call(struct client *cl, const char *method, const char *path, json_t *body)
{
	json_t *reply = NULL;

	cr_assert_eq(client_call(cl, method, path, body, &reply), 0, "%s: %s", path, cairn_error_msg());
	return reply;
}

static void setup(void)
{
	static char big[40000];
	const char *uri = NULL;
	char art[256], lm_art[256], src[128];
	json_t *r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	snprintf(dir, sizeof(dir), "/tmp/cairn-fetch-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(srcdir, sizeof(srcdir), "%s/src", dir);
	mkdir(srcdir, 0755);
	cr_assert_eq(client_open(NULL, root, &local), 0, "%s", cairn_error_msg());

	r = call(local, "POST", "/mlflow/experiments/create", json_pack("{s:s}", "name", "fetch"));
	const char *exp = json_string_value(json_object_get(r, "experiment_id"));
	json_t *run = call(local, "POST", "/mlflow/runs/create", json_pack("{s:s}", "experiment_id", exp));
	json_t *info = json_object_get(json_object_get(run, "run"), "info");
	snprintf(run_id, sizeof(run_id), "%s", json_string_value(json_object_get(info, "run_id")));
	snprintf(art, sizeof(art), "%s", json_string_value(json_object_get(info, "artifact_uri")));
	json_decref(run);
	put_file(art, "model/MLmodel", "flavors:\n  xgboost:\n    data: model.ubj\n", 38);
	put_file(art, "model/model.ubj", big, sizeof(big));
	put_file(art, "model/empty.txt", "", 0);
	put_file(art, "model/sub/deep.bin", "deep", 4);
	put_file(art, "notes.txt", "not the model", 13);

	/* an MLflow 3 logged model of the same run, named "lm" */
	json_t *lm = call(local, "POST", "/mlflow/logged-models",
			  json_pack("{s:s,s:s,s:s}", "experiment_id", exp, "name", "lm", "source_run_id", run_id));
	json_t *lminfo = json_object_get(json_object_get(lm, "model"), "info");
	snprintf(model_id, sizeof(model_id), "%s", json_string_value(json_object_get(lminfo, "model_id")));
	snprintf(lm_art, sizeof(lm_art), "%s", json_string_value(json_object_get(lminfo, "artifact_uri")));
	json_decref(lm);
	json_decref(r);
	put_file(lm_art, "MLmodel", "flavors: {}\n", 12);
	put_file(lm_art, "model.pkl", "pickle", 6);

	json_decref(call(local, "POST", "/mlflow/registered-models/create", json_pack("{s:s}", "name", "churn")));
	snprintf(src, sizeof(src), "runs:/%s/model", run_id);
	json_decref(call(local, "POST", "/mlflow/model-versions/create",
			 json_pack("{s:s,s:s,s:s}", "name", "churn", "source", src, "run_id", run_id)));
	snprintf(src, sizeof(src), "models:/%s", model_id);
	json_decref(call(local, "POST", "/mlflow/model-versions/create", json_pack("{s:s,s:s}", "name", "churn",
										   "source", src)));
	json_decref(call(local, "POST", "/mlflow/registered-models/alias",
			 json_pack("{s:s,s:s,s:s}", "name", "churn", "alias", "champion", "version", "1")));

	cr_assert_eq(client_serve_uri(local, &uri), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_open(uri, NULL, &remote), 0, "%s", cairn_error_msg());
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	client_free(remote);
	client_free(local);
	remote = local = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(client_model_fetch, .init = setup, .fini = teardown);

/* A fresh cache folder name under the test's folder. */
static void fresh(char *out, size_t n)
{
	snprintf(out, n, "%s/cache-%u", dir, seq++);
}

static int entries(const char *d)
{
	DIR *h = opendir(d);
	struct dirent *e;
	int n = 0;

	if (!h)
		return 0;
	while ((e = readdir(h)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(h);
	return n;
}

/* dir holds exactly the model files of the run's model/ folder (plus meta when set). */
static void same_as_source(const char *got, bool meta)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "diff -r -x registered_model_meta %s/model %s >&2", srcdir, got);
	cr_assert_eq(system(cmd), 0, "%s differs from the source (call %llu failing)", got, (unsigned long long)cur_n);
	snprintf(cmd, sizeof(cmd), "test %s -f %s/registered_model_meta", meta ? "" : "!", got);
	cr_assert_eq(system(cmd), 0, "registered_model_meta %s in %s", meta ? "missing" : "unexpected", got);
}

/* Every entry of cache is a whole model (a failed fetch may leave the entry
 * it completed before a later step failed, never a part of one). */
static void only_whole_entries(const char *cache, uint64_t n, bool persist)
{
	DIR *h = opendir(cache);
	struct dirent *e;
	char path[PATH_MAX];

	if (!h)
		return;
	while ((e = readdir(h))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		cr_assert(strncmp(e->d_name, ".cairn-fetch-", 13), "call %llu%s left a temporary folder %s",
			  (unsigned long long)n, persist ? "+" : "", e->d_name);
		snprintf(path, sizeof(path), "%s/%s", cache, e->d_name);
		same_as_source(path, true);
	}
	closedir(h);
}

static void read_file(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "rb");
	size_t k;

	cr_assert_not_null(f, "%s", path);
	k = fread(out, 1, n - 1, f);
	out[k] = '\0';
	fclose(f);
}

/* ---- parsing (MLflow's grammar and messages) ---- */

Test(client_model_fetch, parse_models_uris)
{
	struct model_ref r = { 0 };

	cr_assert_eq(model_ref_parse("models:/churn/3", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_VERSION);
	cr_assert_str_eq(r.name, "churn");
	cr_assert_str_eq(r.version, "3");
	cr_assert_null(r.alias);
	cr_assert_eq(model_ref_parse("models:/churn@champion", &r), 0);
	cr_assert_str_eq(r.name, "churn");
	cr_assert_str_eq(r.alias, "champion");
	cr_assert_null(r.version);
	cr_assert_eq(model_ref_parse("models:/my@model@champ", &r), 0); /* rsplit, as MLflow */
	cr_assert_str_eq(r.name, "my@model");
	cr_assert_str_eq(r.alias, "champ");
	cr_assert_eq(model_ref_parse("models:/churn/Latest", &r), 0);
	cr_assert_str_eq(r.stage, "Latest");
	cr_assert_eq(model_ref_parse("models:/churn/Production", &r), 0);
	cr_assert_str_eq(r.stage, "Production");
	cr_assert_eq(model_ref_parse("models:///churn/2", &r), 0);
	cr_assert_str_eq(r.version, "2");
	cr_assert_eq(model_ref_parse("models:/m-0123abcd", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_LOGGED);
	cr_assert_str_eq(r.model_id, "m-0123abcd");
	cr_assert_null(r.name);
	/* an artifact path after the model, and trailing slashes, as MLflow's split_models_uri */
	cr_assert_eq(model_ref_parse("models:/churn/3/sub/MLmodel", &r), 0);
	cr_assert_str_eq(r.name, "churn");
	cr_assert_str_eq(r.version, "3");
	cr_assert_str_eq(r.path, "sub/MLmodel");
	cr_assert_eq(model_ref_parse("models:/churn@champ/data/x.bin", &r), 0);
	cr_assert_str_eq(r.alias, "champ");
	cr_assert_str_eq(r.path, "data/x.bin");
	cr_assert_eq(model_ref_parse("models:/churn/3/", &r), 0);
	cr_assert_str_eq(r.version, "3");
	cr_assert_str_eq(r.path, "");
	cr_assert_eq(model_ref_parse("models:/churn/", &r), 0); /* "models:/churn": a logged model id */
	cr_assert_eq(r.kind, MODEL_REF_LOGGED);
	cr_assert_str_eq(r.model_id, "churn");
	cr_assert_eq(model_ref_parse("models:/a/b/c", &r), 0); /* model a, stage b, path c */
	cr_assert_str_eq(r.stage, "b");
	cr_assert_str_eq(r.path, "c");
	cr_assert_eq(model_ref_parse("models:/churn/3/../../x", &r), CAIRN_EINVALID);
	cr_assert_eq(model_ref_parse("MODELS:/churn/1", &r), 0); /* the scheme is case-insensitive */
	cr_assert_str_eq(r.uri, "MODELS:/churn/1");
	model_ref_dispose(&r);
	cr_assert_null(r.uri);
}

Test(client_model_fetch, parse_rejects_malformed_uris)
{
	static const char *const bad[] = { "models:/",         "models:",         "models:/churn/ ", "models:/churn@",
					   "models:/@x",       "models:/ /1",     "models://host/a/1", "runs:/",
					   "runs:",            "runs://x/model",  "runs://",         "",
					   "s3-nope://bucket/x" };
	struct model_ref r = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(model_ref_parse(bad[i], &r), CAIRN_EINVALID, "'%s' parsed", bad[i]);
		cr_assert_eq(r.kind, 0);
		cr_assert_null(r.uri);
	}
	model_ref_parse("models:/", &r); /* quoted as MLflow quotes it: without the trailing '/' */
	cr_assert_str_eq(cairn_error_msg(), "Not a proper models:/ URI: models:. Models URIs must be of the "
					    "form 'models:/name/suffix' or 'models:/name@alias' where suffix is a "
					    "version, stage, or the string 'latest' and where alias is a registered "
					    "model alias. Only one of suffix or alias can be defined at a time.");
	model_ref_parse("runs:/", &r);
	cr_assert_str_eq(cairn_error_msg(), "Not a proper runs:/ URI: runs:/. Runs URIs must be of the form "
					    "'runs:/<run_id>/run-relative/path/to/artifact'");
	cr_assert_eq(model_ref_parse("runs:/abc/../../etc", &r), CAIRN_EINVALID);
	cr_assert_eq(model_ref_parse("mlflow-artifacts:/1/../../x", &r), CAIRN_EINVALID);
	cr_assert_eq(model_ref_parse("file://elsewhere/tmp/m", &r), CAIRN_EINVALID);
}

Test(client_model_fetch, parse_runs_artifacts_and_paths)
{
	struct model_ref r = { 0 };

	cr_assert_eq(model_ref_parse("runs:/abc123/model", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_RUN);
	cr_assert_str_eq(r.run_id, "abc123");
	cr_assert_str_eq(r.path, "model");
	cr_assert_eq(model_ref_parse("runs:/abc123", &r), 0);
	cr_assert_str_eq(r.path, "");
	cr_assert_eq(model_ref_parse("runs:/abc123/a/./b/", &r), 0);
	cr_assert_str_eq(r.path, "a/b");
	cr_assert_eq(model_ref_parse("mlflow-artifacts:/1/x/artifacts/model", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_ARTIFACTS);
	cr_assert_str_eq(r.source, "mlflow-artifacts:/1/x/artifacts/model");
	cr_assert_eq(model_ref_parse("/srv/models/churn", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_DIR);
	cr_assert_str_eq(r.dir, "/srv/models/churn");
	cr_assert_eq(model_ref_parse("file:///srv/m", &r), 0);
	cr_assert_str_eq(r.dir, "/srv/m");
	cr_assert_eq(model_ref_parse("file://localhost/srv/m", &r), 0);
	cr_assert_str_eq(r.dir, "/srv/m");
	cr_assert_eq(model_ref_parse("relative/dir", &r), 0);
	cr_assert_eq(r.kind, MODEL_REF_DIR);
	model_ref_dispose(&r);
}

/* ---- resolution ---- */

static void resolves(struct client *cl, const char *uri, const char *version, const char *source_tail)
{
	struct model_ref r = { 0 };
	size_t n, t = strlen(source_tail);

	cr_assert_eq(client_model_resolve(cl, uri, &r), 0, "%s: %s", uri, cairn_error_msg());
	if (version) {
		cr_assert_str_eq(r.name, "churn");
		cr_assert_str_eq(r.version, version, "%s", uri);
	}
	cr_assert_str_eq(r.run_id, run_id, "%s", uri);
	cr_assert_not_null(r.source);
	n = strlen(r.source);
	cr_assert(n >= t && !strcmp(r.source + n - t, source_tail), "%s: source %s", uri, r.source);
	cr_assert(!strncmp(r.source, "mlflow-artifacts:/", 18), "%s: %s", uri, r.source);
	cr_assert_null(r.dir);
	model_ref_dispose(&r);
}

static void resolve_every_form(struct client *cl)
{
	char uri[160], tail[96];

	resolves(cl, "models:/churn@champion", "1", "/artifacts/model");
	resolves(cl, "models:/churn/1", "1", "/artifacts/model");
	resolves(cl, "models:/churn/latest", "2", "/artifacts");
	resolves(cl, "models:/churn/None", "2", "/artifacts");
	snprintf(tail, sizeof(tail), "%s/artifacts", model_id);
	resolves(cl, "models:/churn/2", "2", tail);
	snprintf(uri, sizeof(uri), "models:/%s", model_id);
	resolves(cl, uri, NULL, tail);
	snprintf(uri, sizeof(uri), "runs:/%s/model", run_id);
	resolves(cl, uri, NULL, "/artifacts/model");
	snprintf(uri, sizeof(uri), "runs:/%s/lm", run_id); /* the run's logged model named lm */
	resolves(cl, uri, NULL, tail);
}

Test(client_model_fetch, resolves_every_form_locally) { resolve_every_form(local); }
Test(client_model_fetch, resolves_every_form_remotely) { resolve_every_form(remote); }

static void resolve_errors(struct client *cl)
{
	struct model_ref r = { 0 };

	cr_assert_eq(client_model_resolve(cl, "models:/nope/1", &r), CAIRN_ENOTFOUND);
	cr_assert_eq(client_model_resolve(cl, "models:/churn/9", &r), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "Model Version (name=churn, version=9) not found");
	cr_assert_neq(client_model_resolve(cl, "models:/churn@nope", &r), 0);
	cr_assert_str_eq(cairn_error_msg(), "Registered model alias nope not found.");
	cr_assert_eq(client_model_resolve(cl, "models:/churn/Staging", &r), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "No versions of model with name 'churn' and stage 'Staging' found");
	cr_assert_eq(client_model_resolve(cl, "models:/nope/latest", &r), CAIRN_ENOTFOUND);
	cr_assert_eq(client_model_resolve(cl, "models:/m-nope", &r), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "Logged model with ID 'm-nope' not found.");
	cr_assert_eq(client_model_resolve(cl, "runs:/0123456789abcdef0123456789abcdef/model", &r), CAIRN_ENOTFOUND);
	cr_assert_eq(client_model_resolve(cl, "models:/", &r), CAIRN_EINVALID);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(client_model_resolve(cl, "models:/nope/1", &r), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "Registered Model with name=nope not found"); /* as MLflow's client */
}

Test(client_model_fetch, resolve_errors_locally) { resolve_errors(local); }
Test(client_model_fetch, resolve_errors_remotely) { resolve_errors(remote); }

Test(client_model_fetch, resolves_local_paths_without_a_store)
{
	struct model_ref r = { 0 };
	char path[160];

	snprintf(path, sizeof(path), "%s/model", srcdir);
	cr_assert_eq(client_model_resolve(NULL, path, &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(r.kind, MODEL_REF_DIR);
	cr_assert_str_eq(r.dir, path);
	cr_assert_null(r.file);
	cr_assert_eq(client_model_fetch(NULL, &r, "/nonexistent/cache"), 0); /* nothing to download */
	snprintf(path, sizeof(path), "%s/model/model.ubj", srcdir);
	cr_assert_eq(client_model_resolve(NULL, path, &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(r.kind, MODEL_REF_FILE);
	cr_assert_str_eq(r.file, path);
	snprintf(path, sizeof(path), "%s/model", srcdir);
	cr_assert_str_eq(r.dir, path);
	snprintf(path, sizeof(path), "%s/model/sub", srcdir);
	cr_assert_eq(client_model_resolve(NULL, path, &r), CAIRN_EINVALID); /* no MLmodel */
	cr_assert(strstr(cairn_error_msg(), "MLmodel"));
	cr_assert_eq(client_model_resolve(NULL, "/nonexistent/model", &r), CAIRN_ENOTFOUND);
	cr_assert_eq(client_model_resolve(NULL, "m-abc", &r), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "Invalid uri `m-abc` is passed. Maybe you meant 'models:/m-abc'?");
	cr_assert_eq(client_model_resolve(NULL, "models:/churn/1", &r), CAIRN_EINVALID);
}

Test(client_model_fetch, same_tells_when_an_alias_moved)
{
	struct model_ref a = { 0 }, b = { 0 };

	cr_assert_eq(client_model_resolve(remote, "models:/churn@champion", &a), 0);
	cr_assert_eq(client_model_resolve(remote, "models:/churn@champion", &b), 0);
	cr_assert(model_ref_same(&a, &b));
	cr_assert_eq(client_model_fetch(remote, &a, dir), 0, "%s", cairn_error_msg()); /* fetched or not */
	cr_assert(model_ref_same(&a, &b));
	json_decref(call(remote, "POST", "/mlflow/registered-models/alias",
			 json_pack("{s:s,s:s,s:s}", "name", "churn", "alias", "champion", "version", "2")));
	cr_assert_eq(client_model_resolve(remote, "models:/churn@champion", &b), 0);
	cr_assert(!model_ref_same(&a, &b));
	cr_assert_str_eq(b.version, "2");
	model_ref_dispose(&a);
	model_ref_dispose(&b);
}

/* ---- fetching ---- */

static void fetch_twice(struct client *cl)
{
	struct model_ref r = { 0 };
	char cache[128], first[PATH_MAX], meta[128];
	struct stat s1, s2;

	fresh(cache, sizeof(cache));
	cr_assert_eq(client_model_resolve(cl, "models:/churn@champion", &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	cr_assert_not_null(r.dir);
	cr_assert(!strncmp(r.dir, cache, strlen(cache)), "%s", r.dir);
	same_as_source(r.dir, true);
	snprintf(meta, sizeof(meta), "%s/registered_model_meta", r.dir);
	read_file(meta, meta, sizeof(meta));
	cr_assert_str_eq(meta, "model_name: churn\nmodel_version: '1'\n");
	snprintf(first, sizeof(first), "%s/model.ubj", r.dir);
	cr_assert_eq(stat(first, &s1), 0);
	snprintf(first, sizeof(first), "%s", r.dir);
	/* the same version again (another URI form): the same entry, not downloaded again */
	cr_assert_eq(client_model_resolve(cl, "models:/churn/1", &r), 0);
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(r.dir, first);
	snprintf(first, sizeof(first), "%s/model.ubj", r.dir);
	cr_assert_eq(stat(first, &s2), 0);
	cr_assert_eq(s1.st_ino, s2.st_ino);
	cr_assert_eq(entries(cache), 1);
	/* runs:/ gives the same files without the meta file: another entry */
	snprintf(first, sizeof(first), "runs:/%s/model", run_id);
	cr_assert_eq(client_model_resolve(cl, first, &r), 0);
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	same_as_source(r.dir, false);
	cr_assert_eq(entries(cache), 2);
	model_ref_dispose(&r);
}

Test(client_model_fetch, fetches_once_locally) { fetch_twice(local); }
Test(client_model_fetch, fetches_once_remotely) { fetch_twice(remote); }

static void fetch_logged_and_single_file(struct client *cl)
{
	struct model_ref r = { 0 };
	char cache[128], uri[160], text[128];

	fresh(cache, sizeof(cache));
	snprintf(uri, sizeof(uri), "models:/%s", model_id);
	cr_assert_eq(client_model_resolve(cl, uri, &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	snprintf(uri, sizeof(uri), "%s/registered_model_meta", r.dir);
	read_file(uri, text, sizeof(text));
	cr_assert_str_eq(text, "model_name: null\nmodel_version: null\n"); /* as MLflow writes for an id */
	snprintf(uri, sizeof(uri), "%s/model.pkl", r.dir);
	read_file(uri, text, sizeof(text));
	cr_assert_str_eq(text, "pickle");
	/* a source that is one file */
	snprintf(uri, sizeof(uri), "runs:/%s/model/sub/deep.bin", run_id);
	cr_assert_eq(client_model_resolve(cl, uri, &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	cr_assert_not_null(r.file);
	cr_assert(strstr(r.file, "/deep.bin"));
	read_file(r.file, text, sizeof(text));
	cr_assert_str_eq(text, "deep");
	/* nothing there */
	snprintf(uri, sizeof(uri), "runs:/%s/missing", run_id);
	cr_assert_eq(client_model_resolve(cl, uri, &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_fetch(cl, &r, cache), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "Failed to download artifacts from path 'missing', please ensure that the "
					    "path is correct.");
	cr_assert_eq(entries(cache), 2);
	/* a path under a version's files */
	cr_assert_eq(client_model_resolve(cl, "models:/churn@champion/sub", &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	cr_assert_null(r.file);
	snprintf(uri, sizeof(uri), "%s/deep.bin", r.dir);
	read_file(uri, text, sizeof(text));
	cr_assert_str_eq(text, "deep");
	cr_assert_eq(entries(r.dir), 1); /* no MLmodel there: no registered_model_meta either */
	cr_assert_eq(entries(cache), 3);
	model_ref_dispose(&r);
}

Test(client_model_fetch, logged_model_and_single_file_locally) { fetch_logged_and_single_file(local); }
Test(client_model_fetch, logged_model_and_single_file_remotely) { fetch_logged_and_single_file(remote); }

Test(client_model_fetch, fetch_to_a_directory)
{
	struct model_ref r = { 0 };
	char dest[128], file[160];

	snprintf(dest, sizeof(dest), "%s/out", dir);
	cr_assert_eq(client_model_resolve(remote, "models:/churn/1", &r), 0);
	cr_assert_eq(client_model_fetch_to(remote, &r, dest), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(r.dir, dest);
	same_as_source(dest, true);
	/* not over files */
	cr_assert_eq(client_model_fetch_to(remote, &r, dest), CAIRN_EEXISTS);
	snprintf(file, sizeof(file), "%s/model.ubj", dest);
	cr_assert_eq(client_model_fetch_to(remote, &r, file), CAIRN_EEXISTS);
	/* an empty directory is replaced */
	snprintf(dest, sizeof(dest), "%s/empty", dir);
	cr_assert_eq(mkdir(dest, 0755), 0);
	cr_assert_eq(client_model_fetch_to(local, &r, dest), 0, "%s", cairn_error_msg());
	same_as_source(dest, true);
	cr_assert_eq(entries(dir), 4); /* root, src, out, empty, and nothing temporary */
	model_ref_dispose(&r);
}

Test(client_model_fetch, stale_temporary_folders_are_removed)
{
	struct model_ref r = { 0 };
	char cache[128], stale[192], live[192];
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0); /* pid names no process now */
	fresh(cache, sizeof(cache));
	mkdir(cache, 0755);
	snprintf(stale, sizeof(stale), "%s/.cairn-fetch-%lx-0", cache, (unsigned long)pid);
	snprintf(live, sizeof(live), "%s/.cairn-fetch-%lx-99", cache, (unsigned long)getpid());
	cr_assert_eq(mkdir(stale, 0700), 0);
	cr_assert_eq(mkdir(live, 0700), 0);
	snprintf(stale + strlen(stale), sizeof(stale) - strlen(stale), "/MLmodel");
	FILE *f = fopen(stale, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(client_model_resolve(local, "models:/churn/1", &r), 0);
	cr_assert_eq(client_model_fetch(local, &r, cache), 0, "%s", cairn_error_msg());
	*strrchr(stale, '/') = '\0';
	cr_assert_neq(access(stale, F_OK), 0, "the dead process's folder is still there");
	cr_assert_eq(access(live, F_OK), 0, "a live process's folder was removed");
	cr_assert_eq(entries(cache), 2);
	model_ref_dispose(&r);
}

Test(client_model_fetch, refuses_sources_it_cannot_read)
{
	struct model_ref r = { 0 };

	cr_assert_eq(model_ref_parse("models:/churn/1", &r), 0);
	cr_assert_eq(client_model_fetch(local, &r, dir), CAIRN_EINVALID); /* not resolved */
	r.source = strdup("s3://bucket/model");
	cr_assert_eq(client_model_fetch(local, &r, dir), CAIRN_EUNSUPPORTED);
	cr_assert(strstr(cairn_error_msg(), "s3://bucket/model"));
	model_ref_dispose(&r);
}

/* ---- faults: every call of a fetch fails in turn ---- */

static void fetch_faults(struct client *cl, unsigned kinds)
{
	struct model_ref r = { 0 };
	char cache[128];
	uint64_t calls, ok = 0, failed = 0;
	int rc;

	cr_assert_eq(client_model_resolve(cl, "models:/churn@champion", &r), 0);
	fresh(cache, sizeof(cache));
	fault_arm(kinds, 0, FAULT_THIS_THREAD);
	rc = client_model_fetch(cl, &r, cache);
	calls = fault_calls();
	fault_disarm();
	cr_assert_eq(rc, 0, "%s", cairn_error_msg());
	cr_assert_gt(calls, 5);
	for (unsigned persist = 0; persist < 2; persist++)
		for (uint64_t n = 1; n <= calls; n++) {
			fresh(cache, sizeof(cache));
			cur_n = n;
			fault_arm(kinds, n, FAULT_THIS_THREAD | (persist ? FAULT_PERSIST : 0));
			rc = client_model_fetch(cl, &r, cache);
			fault_disarm();
			if (rc) {
				failed++;
				cr_assert_neq(cairn_error_msg()[0], '\0', "call %llu%s failed (%d) without a message",
					      (unsigned long long)n, persist ? "+" : "", rc);
				cr_assert_leq(entries(cache), 1);
				only_whole_entries(cache, n, persist);
			} else {
				ok++;
				cr_assert_eq(entries(cache), 1, "call %llu: one entry", (unsigned long long)n);
				same_as_source(r.dir, true);
			}
		}
	cr_assert_gt(failed, 0);
	cr_log_info("%s fetch, kinds %#x: %llu calls, each failed once and from then on: %llu failed, %llu succeeded",
		    client_is_remote(cl) ? "remote" : "local", kinds, (unsigned long long)calls,
		    (unsigned long long)failed, (unsigned long long)ok);
	model_ref_dispose(&r);
}

Test(client_model_fetch, faults_local_files_and_store)
{
	fetch_faults(local, FAULT_FILES | FAULT_STORE_STEP);
}

Test(client_model_fetch, faults_local_allocations)
{
	fetch_faults(local, FAULT_ALLOC);
}

Test(client_model_fetch, faults_remote_files)
{
	fetch_faults(remote, FAULT_FILES);
}

Test(client_model_fetch, faults_remote_allocations)
{
	fetch_faults(remote, FAULT_ALLOC);
}

/* ---- one named file of a model (client_model_read_file) ---- */

static void read_one_file(struct client *cl)
{
	struct model_ref r = { 0 };
	struct buf b = BUF_INIT;
	char cache[128];

	cr_assert_eq(client_model_resolve(cl, "models:/churn@champion", &r), 0, "%s", cairn_error_msg());
	cr_assert_eq(client_model_read_file(cl, &r, "MLmodel", 1 << 20, &b), 0, "%s", cairn_error_msg());
	cr_assert_eq(b.len, 38);
	cr_assert(!memcmp(b.ptr, "flavors:\n  xgboost:\n    data: model.ubj\n", 38));
	buf_clear(&b);
	cr_assert_eq(client_model_read_file(cl, &r, "model.ubj", 40000, &b), 0, "%s", cairn_error_msg());
	cr_assert_eq(b.len, 40000);
	buf_clear(&b);
	/* too big, absent, a directory, not one component */
	cr_assert_eq(client_model_read_file(cl, &r, "model.ubj", 39999, &b), CAIRN_ETOOBIG);
	cr_assert_eq(client_model_read_file(cl, &r, "training_profile.json", 1 << 20, &b), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "models:/churn@champion") && strstr(cairn_error_msg(), "training_profile.json"),
		  "%s", cairn_error_msg());
	cr_assert_eq(client_model_read_file(cl, &r, "sub", 1 << 20, &b), CAIRN_ENOTFOUND);
	cr_assert_eq(client_model_read_file(cl, &r, "sub/deep.bin", 1 << 20, &b), CAIRN_EINVALID);
	cr_assert_eq(client_model_read_file(cl, &r, "..", 1 << 20, &b), CAIRN_EINVALID);
	cr_assert_eq(b.len, 0);
	/* the same from a downloaded directory, with no store */
	fresh(cache, sizeof(cache));
	cr_assert_eq(client_model_fetch(cl, &r, cache), 0, "%s", cairn_error_msg());
	{
		char d[PATH_MAX];
		snprintf(d, sizeof(d), "%s", r.dir);
		cr_assert_eq(client_model_resolve(NULL, d, &r), 0, "%s", cairn_error_msg());
	}
	cr_assert_eq(client_model_read_file(NULL, &r, "MLmodel", 1 << 20, &b), 0, "%s", cairn_error_msg());
	cr_assert_eq(b.len, 38);
	cr_assert_eq(client_model_read_file(NULL, &r, "training_profile.json", 1 << 20, &b), CAIRN_ENOTFOUND);
	model_ref_dispose(&r);
	buf_release(&b);
}

Test(client_model_fetch, reads_one_file_locally) { read_one_file(local); }
Test(client_model_fetch, reads_one_file_remotely) { read_one_file(remote); }

static void read_file_faults(struct client *cl, unsigned kinds)
{
	struct model_ref r = { 0 };
	struct buf b = BUF_INIT;
	uint64_t calls, failed = 0;
	int rc;

	cr_assert_eq(client_model_resolve(cl, "models:/churn/1", &r), 0);
	fault_arm(kinds, 0, FAULT_THIS_THREAD);
	rc = client_model_read_file(cl, &r, "model.ubj", 1 << 20, &b);
	calls = fault_calls();
	fault_disarm();
	cr_assert_eq(rc, 0, "%s", cairn_error_msg());
	for (uint64_t n = 1; n <= calls; n++) {
		buf_release(&b);
		fault_arm(kinds, n, FAULT_THIS_THREAD);
		rc = client_model_read_file(cl, &r, "model.ubj", 1 << 20, &b);
		fault_disarm();
		if (rc) {
			failed++;
			cr_assert_neq(cairn_error_msg()[0], '\0', "call %llu failed (%d) without a message",
				      (unsigned long long)n, rc);
		} else {
			cr_assert_eq(b.len, 40000, "call %llu", (unsigned long long)n);
		}
	}
	cr_assert_gt(failed, 0);
	model_ref_dispose(&r);
	buf_release(&b);
}

Test(client_model_fetch, read_file_faults_locally) { read_file_faults(local, FAULT_ALLOC | FAULT_FILES | FAULT_STORE_STEP); }
Test(client_model_fetch, read_file_faults_remotely) { read_file_faults(remote, FAULT_ALLOC); }
