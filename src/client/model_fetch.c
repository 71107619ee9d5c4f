/* model_fetch.c - model URIs resolved to a version and an artifact source; their files downloaded into a cache.
 *
 * Resolution follows MLflow's client (store/artifact/utils/models.py
 * _parse_model_uri and get_model_name_and_version, models_artifact_repo.py,
 * runs_artifact_repo.py): the same URI grammar, the same REST calls, the same
 * messages. Downloads follow http_artifact_repo.py (list each directory,
 * GET each file, validate_path_is_safe on every listed name) and
 * ModelsArtifactRepository.download_artifacts (a registered_model_meta file
 * beside MLmodel for models:/ URIs).
 */
#include "client/model_fetch.h"
#include "client/client_int.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/path.h"
#include "core/progress.h"
#include "core/yaml.h"
#include "tracking/artifact.h"
#include "tracking/logged_model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_TMP_PREFIX ".cairn-fetch-"   /* temporary folders beside an entry */
#define FETCH_MAX_FILES 100000              /* files in one model */
#define FETCH_MAX_DEPTH 64                  /* nested directories in one model */
#define FETCH_ERRBODY_MAX ((size_t)64 << 10) /* error reply kept from a failed GET */
#define RESOLVE_MAX_DEPTH 4                 /* sources naming other models:/ or runs:/ URIs */
#define LM_SEARCH_PAGES 100                 /* logged-model search pages read for runs:/ */
#define META_FILE "registered_model_meta"   /* what MLflow writes beside MLmodel */

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* Replace *dst with a copy of s[0..n) (the whole string when n is SIZE_MAX). */
static int set_strn(char **dst, const char *s, size_t n)
{
	char *c = n == SIZE_MAX ? cstrdup(s) : cstrndup(s, n);

	if (!c)
		return oom();
	free(*dst);
	*dst = c;
	return 0;
}

static int set_str(char **dst, const char *s)
{
	return set_strn(dst, s, SIZE_MAX);
}

/* Move *src into *dst when *dst is unset (steal, no copy). */
static void adopt(char **dst, char **src)
{
	if (!*dst && *src) {
		*dst = *src;
		*src = NULL;
	}
}

void model_ref_dispose(struct model_ref *ref)
{
	char **f[] = { &ref->uri,    &ref->name, &ref->version, &ref->alias, &ref->stage, &ref->model_id,
		       &ref->run_id, &ref->path, &ref->source,  &ref->dir,   &ref->file };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(*f[i]);
	memset(ref, 0, sizeof(*ref));
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool model_ref_same(const struct model_ref *a, const struct model_ref *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == MODEL_REF_DIR || a->kind == MODEL_REF_FILE)
		return str_eq(a->dir, b->dir) && str_eq(a->file, b->file);
	/* a fetched ref and a freshly resolved one compare equal: dir is not looked at */
	return str_eq(a->version, b->version) && str_eq(a->source, b->source);
}

/* ---- parsing: MLflow's grammar ---- */

static int improper_models(const char *uri)
{
	return cairn_error_set(CAIRN_EINVALID, "Not a proper models:/ URI: %.300s. Models URIs must be of the form "
					       "'models:/name/suffix' or 'models:/name@alias' where suffix is a version, "
					       "stage, or the string 'latest' and where alias is a registered model alias. "
					       "Only one of suffix or alias can be defined at a time.", uri);
}

static int improper_runs(const char *uri)
{
	return cairn_error_set(CAIRN_EINVALID, "Not a proper runs:/ URI: %.300s. Runs URIs must be of the form "
					       "'runs:/<run_id>/run-relative/path/to/artifact'", uri);
}

/* Python's s.strip() == "" */
static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* The path of a URI after "<scheme>:": "//" + an empty authority is
 * skipped ("models:///x" is "models:/x"); a non-empty one (Databricks
 * profiles in MLflow) is not supported. NULL when malformed. */
static const char *uri_path_after_scheme(const char *p)
{
	if (p[0] == '/' && p[1] == '/')
		return p[2] == '/' ? p + 2 : NULL;
	return p;
}

/* MLflow's _parse_model_uri of the model part p (a path: "/name/suffix",
 * "/name@alias" or "/<model_id>") of root (for messages). */
static int parse_model_part(const char *root, const char *p, struct model_ref *ref)
{
	const char *slash, *at;
	size_t n0;
	int rc;

	if (*p != '/' || !p[1])
		return improper_models(root);
	while (*p == '/')
		p++;
	slash = strchr(p, '/');
	if (slash && strchr(slash + 1, '/'))
		return improper_models(root);
	n0 = slash ? (size_t)(slash - p) : strlen(p);
	if (blank(p, n0))
		return improper_models(root);
	if (slash) {
		const char *suf = slash + 1;

		if (blank(suf, strlen(suf)))
			return improper_models(root);
		ref->kind = MODEL_REF_VERSION;
		if ((rc = set_strn(&ref->name, p, n0)))
			return rc;
		return client__all_digits(suf) ? set_str(&ref->version, suf) : set_str(&ref->stage, suf);
	}
	at = memchr(p, '@', n0) ? strrchr(p, '@') : NULL;
	if (at) {
		if (at == p || blank(at + 1, strlen(at + 1)))
			return improper_models(root);
		ref->kind = MODEL_REF_VERSION;
		if ((rc = set_strn(&ref->name, p, (size_t)(at - p))))
			return rc;
		return set_str(&ref->alias, at + 1);
	}
	ref->kind = MODEL_REF_LOGGED;
	return set_str(&ref->model_id, p);
}

/* models:/<model part>[/<artifact path>], split as MLflow's split_models_uri:
 * trailing '/' dropped; with two or more '/' in the path, the model part is
 * the first component when it holds '@', else the first two. */
static int parse_models(const char *uri, struct model_ref *ref)
{
	struct buf root = BUF_INIT, part = BUF_INIT, rel = BUF_INIT;
	size_t n = strlen(uri), slashes = 0;
	const char *p, *cut = NULL;
	int rc;

	while (n > 7 && uri[n - 1] == '/')
		n--;
	buf_put(&root, uri, n);
	if ((rc = buf_error(&root)))
		goto out;
	if (!(p = uri_path_after_scheme(root.ptr + 7))) {
		rc = improper_models(root.ptr);
		goto out;
	}
	for (const char *q = p; *q; q++)
		slashes += *q == '/';
	if (slashes >= 2 && *p == '/') {
		const char *s1 = p + 1, *e1 = strchr(s1, '/');
		cut = memchr(s1, '@', (size_t)(e1 - s1)) ? e1 : strchr(e1 + 1, '/');
	}
	buf_put(&part, p, cut ? (size_t)(cut - p) : strlen(p));
	if ((rc = buf_error(&part)))
		goto out;
	if ((rc = path_clean_rel(cut ? cut + 1 : "", cut ? strlen(cut + 1) : 0, true, &rel)))
		goto out;
	if (cut) /* the root URI is what MLflow's messages quote */
		buf_truncate(&root, (size_t)(cut - root.ptr));
	if ((rc = parse_model_part(root.ptr, part.ptr, ref)))
		goto out;
	if (!(ref->path = buf_detach(&rel)))
		rc = oom();
out:
	buf_release(&root);
	buf_release(&part);
	buf_release(&rel);
	return rc;
}

/* runs:/<run_id>[/path] */
static int parse_runs(const char *uri, const char *after, struct model_ref *ref)
{
	const char *p = uri_path_after_scheme(after), *slash;
	struct buf rel = BUF_INIT;
	int rc;

	if (!p || *p != '/' || !p[1])
		return improper_runs(uri);
	p++;
	slash = strchr(p, '/');
	if (slash == p || !*p)
		return improper_runs(uri);
	ref->kind = MODEL_REF_RUN;
	if ((rc = set_strn(&ref->run_id, p, slash ? (size_t)(slash - p) : strlen(p))))
		return rc;
	if (slash && (rc = path_clean_rel(slash + 1, strlen(slash + 1), true, &rel)))
		goto out;
	if (!(ref->path = buf_detach(&rel)))
		rc = oom();
out:
	buf_release(&rel);
	return rc;
}

/* file:/p, file:///p, file://localhost/p -> /p */
static int parse_file_uri(const char *uri, struct model_ref *ref)
{
	const char *p = uri + 5;

	if (p[0] == '/' && p[1] == '/') {
		const char *host = p + 2, *slash = strchr(host, '/');
		size_t hn = slash ? (size_t)(slash - host) : strlen(host);

		if (hn && !(hn == 9 && !strncasecmp(host, "localhost", 9)))
			return cairn_error_set(CAIRN_EINVALID, "file URI '%.300s' names another host", uri);
		p = slash ? slash : "";
	}
	if (!*p)
		return cairn_error_set(CAIRN_EINVALID, "file URI '%.300s' has no path", uri);
	ref->kind = MODEL_REF_DIR;
	return set_str(&ref->dir, p);
}

static bool has_scheme(const char *uri, const char *scheme)
{
	size_t n = strlen(scheme);

	return !strncasecmp(uri, scheme, n);
}

int model_ref_parse(const char *uri, struct model_ref *ref)
{
	size_t sl;
	int rc;

	model_ref_dispose(ref);
	if (!uri || !*uri)
		return cairn_error_set(CAIRN_EINVALID, "empty model URI");
	if ((rc = set_str(&ref->uri, uri)))
		return rc;
	sl = path_uri_scheme_len(uri);
	if (has_scheme(uri, "models:"))
		rc = parse_models(uri, ref);
	else if (has_scheme(uri, "runs:"))
		rc = parse_runs(uri, uri + 5, ref);
	else if (has_scheme(uri, "mlflow-artifacts:")) {
		struct buf tree = BUF_INIT;
		ref->kind = MODEL_REF_ARTIFACTS;
		if (!(rc = art_uri_to_path(uri, &tree)))
			rc = set_str(&ref->source, uri);
		buf_release(&tree);
	} else if (has_scheme(uri, "file:"))
		rc = parse_file_uri(uri, ref);
	else if (sl <= 2 || access(uri, F_OK) == 0) { /* a path ("C:" is one too) */
		ref->kind = MODEL_REF_DIR;
		rc = set_str(&ref->dir, uri);
	} else
		rc = cairn_error_set(CAIRN_EINVALID, "unsupported model URI '%.300s': expected models:/, runs:/, "
						     "mlflow-artifacts:/ or a local path", uri);
	if (rc)
		model_ref_dispose(ref);
	return rc;
}

/* ---- resolution ---- */

/* A local directory with MLmodel, or a bare model file. */
static int resolve_local(struct model_ref *ref)
{
	char abs[PATH_MAX];
	struct stat sb;
	struct buf mlmodel = BUF_INIT;
	int rc;

	if (stat(ref->dir, &sb)) {
		if (errno == ENOENT && !strncmp(ref->uri, "m-", 2))
			return cairn_error_set(CAIRN_EINVALID, "Invalid uri `%.300s` is passed. Maybe you meant "
							       "'models:/%.300s'?", ref->uri, ref->uri);
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open model path "
				       "'%.300s': %s", ref->dir, strerror(errno));
	}
	if (!realpath(ref->dir, abs))
		return cairn_error_set(CAIRN_EIO, "cannot resolve model path '%.300s': %s", ref->dir, strerror(errno));
	if (S_ISREG(sb.st_mode)) {
		char *slash = strrchr(abs, '/');
		ref->kind = MODEL_REF_FILE;
		if ((rc = set_str(&ref->file, abs)))
			return rc;
		return set_strn(&ref->dir, abs, slash == abs ? 1 : (size_t)(slash - abs));
	}
	if (!S_ISDIR(sb.st_mode))
		return cairn_error_set(CAIRN_EINVALID, "model path '%.300s' is neither a directory nor a file", ref->dir);
	if ((rc = path_join(&mlmodel, abs, "MLmodel")))
		goto out;
	if (stat(mlmodel.ptr, &sb) || !S_ISREG(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "could not find an MLmodel file in model directory '%.300s'", abs);
		goto out;
	}
	rc = set_str(&ref->dir, abs);
out:
	buf_release(&mlmodel);
	return rc;
}

/* A string member of o, or NULL when absent or empty. */
static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

static int malformed(const char *what)
{
	return cairn_error_set(CAIRN_EIO, "malformed reply from the tracking store: no %s", what);
}

static int resolve_store(struct client *cl, struct model_ref *ref, int depth);

/* ref->source (and what the location tells) from the location loc of the
 * files: a runs:/ or models:/ URI is resolved in turn, anything else is the
 * source as it is. */
static int resolve_location(struct client *cl, struct model_ref *ref, const char *loc, int depth)
{
	struct model_ref sub = { 0 };
	int rc;

	if (!has_scheme(loc, "runs:") && !has_scheme(loc, "models:"))
		return set_str(&ref->source, loc);
	if (depth >= RESOLVE_MAX_DEPTH)
		return cairn_error_set(CAIRN_EINVALID, "the source of model '%.300s' leads through more than %d "
						       "models:/ or runs:/ URIs", ref->uri, RESOLVE_MAX_DEPTH);
	if ((rc = model_ref_parse(loc, &sub)) || (rc = resolve_store(cl, &sub, depth + 1)))
		goto out;
	free(ref->source);
	ref->source = sub.source;
	sub.source = NULL;
	adopt(&ref->run_id, &sub.run_id);
	adopt(&ref->model_id, &sub.model_id);
out:
	model_ref_dispose(&sub);
	return rc;
}

/* models:/name/N, @alias, /latest, /Stage: the version, then its download URI. */
static int resolve_version(struct client *cl, struct model_ref *ref, int depth)
{
	json_t *reply = NULL, *mv = NULL, *e;
	const char *s;
	size_t i;
	int rc;

	if (ref->version) {
		rc = client_call(cl, "GET", "/mlflow/model-versions/get",
				 json_pack("{s:s,s:s}", "name", ref->name, "version", ref->version), &reply);
		if (rc == CAIRN_ENOTFOUND) { /* MLflow's client names a missing model rather than its version */
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
			rc = client_call(cl, "GET", "/mlflow/registered-models/get", json_pack("{s:s}", "name", ref->name),
					 NULL);
			if (!rc)
				rc = cairn_error_set(CAIRN_ENOTFOUND, "%s", msg);
			goto out;
		}
	} else if (ref->alias) {
		rc = client_call(cl, "GET", "/mlflow/registered-models/alias",
				 json_pack("{s:s,s:s}", "name", ref->name, "alias", ref->alias), &reply);
	} else {
		bool latest = !strcasecmp(ref->stage, "latest");
		long long best = -1;

		rc = client_call(cl, "POST", "/mlflow/registered-models/get-latest-versions",
				 latest ? json_pack("{s:s}", "name", ref->name)
					: json_pack("{s:s,s:[s]}", "name", ref->name, "stages", ref->stage), &reply);
		if (rc)
			goto out;
		json_array_foreach(json_object_get(reply, "model_versions"), i, e) {
			s = jstr(e, "version");
			if (s && client__all_digits(s) && strtoll(s, NULL, 10) > best) {
				best = strtoll(s, NULL, 10);
				mv = e;
			}
		}
		if (!mv) {
			rc = latest ? cairn_error_set(CAIRN_ENOTFOUND, "No versions of model with name '%.300s' found",
						      ref->name)
				    : cairn_error_set(CAIRN_ENOTFOUND, "No versions of model with name '%.300s' and "
								       "stage '%.100s' found", ref->name, ref->stage);
			goto out;
		}
		mv = json_incref(mv);
	}
	if (rc)
		goto out;
	if (!mv)
		mv = json_incref(json_object_get(reply, "model_version"));
	if (!(s = jstr(mv, "version"))) {
		rc = malformed("model_version.version");
		goto out;
	}
	if ((rc = set_str(&ref->version, s)) || ((s = jstr(mv, "run_id")) && (rc = set_str(&ref->run_id, s))) ||
	    ((s = jstr(mv, "model_id")) && (rc = set_str(&ref->model_id, s))))
		goto out;
	/* MLflow's get-latest-versions leaves model_id out; a models:/<id> source names it */
	if (!ref->model_id && (s = jstr(mv, "source")) && has_scheme(s, "models:/m-") && !strchr(s + 8, '/') &&
	    (rc = set_str(&ref->model_id, s + 8)))
		goto out;
	json_decref(reply);
	reply = NULL;
	if ((rc = client_call(cl, "GET", "/mlflow/model-versions/get-download-uri",
			      json_pack("{s:s,s:s}", "name", ref->name, "version", ref->version), &reply)))
		goto out;
	if (!(s = jstr(reply, "artifact_uri"))) {
		rc = malformed("artifact_uri");
		goto out;
	}
	rc = resolve_location(cl, ref, s, depth);
out:
	json_decref(mv);
	json_decref(reply);
	return rc;
}

/* The LoggedModel of id: GET logged-models/<id> remotely; the tracking
 * layer locally (api_invoke knows only routes without path parameters). */
static int logged_model_get(struct client *cl, const char *id, json_t **model)
{
	struct buf path = BUF_INIT;
	json_t *reply = NULL;
	struct store *st = NULL;
	int rc;

	*model = NULL;
	if (!client_is_remote(cl)) {
		if ((rc = store_pool_get(cl->ctx.pool, &st)))
			return rc;
		rc = trk_logged_model_get(st, id, model);
		store_pool_put(cl->ctx.pool, st);
		return rc;
	}
	buf_puts(&path, "/mlflow/logged-models/");
	buf_put_urlencoded(&path, id);
	if ((rc = buf_error(&path)) || (rc = client_call(cl, "GET", path.ptr, json_object(), &reply)))
		goto out;
	if (!(*model = json_incref(json_object_get(reply, "model"))))
		rc = malformed("model");
out:
	json_decref(reply);
	buf_release(&path);
	return rc;
}

/* models:/<model_id>: the logged model's artifact location. */
static int resolve_logged(struct client *cl, struct model_ref *ref, int depth)
{
	json_t *m = NULL, *info;
	const char *s;
	int rc;

	if ((rc = logged_model_get(cl, ref->model_id, &m)))
		return rc;
	info = json_object_get(m, "info");
	if (!(s = jstr(info, "artifact_uri"))) {
		rc = malformed("model.info.artifact_uri");
		goto out;
	}
	if ((rc = set_str(&ref->source, s)))
		goto out;
	if ((s = jstr(info, "source_run_id")) && !ref->run_id)
		rc = set_str(&ref->run_id, s);
out:
	json_decref(m);
	return rc;
}

/* The logged model named name whose source run is run_id, in experiment exp
 * (MLflow's RunsArtifactRepository._get_logged_model_artifact_repo): *found
 * gets its info (NULL when none). */
static int run_logged_model(struct client *cl, const char *exp, const char *name, const char *run_id, json_t **found)
{
	struct buf filter = BUF_INIT;
	json_t *reply = NULL, *body, *m;
	char *token = NULL;
	size_t i;
	int rc = 0;

	*found = NULL;
	if (strpbrk(name, "'\"\\")) /* cannot be written in a filter string: no such model */
		return 0;
	buf_printf(&filter, "name = '%s'", name);
	if ((rc = buf_error(&filter)))
		return rc;
	for (int page = 0; page < LM_SEARCH_PAGES && !*found; page++) {
		body = json_pack("{s:[s],s:s}", "experiment_ids", exp, "filter", filter.ptr);
		if (body && token && json_object_set_new(body, "page_token", json_string(token))) {
			json_decref(body);
			body = NULL;
		}
		json_decref(reply);
		reply = NULL;
		if ((rc = client_call(cl, "POST", "/mlflow/logged-models/search", body, &reply)))
			break;
		json_array_foreach(json_object_get(reply, "models"), i, m) {
			json_t *info = json_object_get(m, "info");
			if (str_eq(jstr(info, "source_run_id"), run_id)) {
				*found = json_incref(info);
				break;
			}
		}
		free(token);
		token = NULL;
		if (!jstr(reply, "next_page_token"))
			break;
		if (!(token = cstrdup(jstr(reply, "next_page_token")))) {
			rc = oom();
			break;
		}
	}
	free(token);
	json_decref(reply);
	buf_release(&filter);
	return rc;
}

/* runs:/<run_id>/path: the run's logged model named by the path's first
 * component when it has one (MLflow 3 stores log_model's files there), else
 * the path under the run's artifact URI. */
static int resolve_run(struct client *cl, struct model_ref *ref)
{
	json_t *reply = NULL, *info, *lm = NULL;
	struct buf first = BUF_INIT, loc = BUF_INIT;
	const char *art, *exp, *rest = "";
	int rc;

	if ((rc = client_call(cl, "GET", "/mlflow/runs/get", json_pack("{s:s}", "run_id", ref->run_id), &reply)))
		goto out;
	info = json_object_get(json_object_get(reply, "run"), "info");
	if (!(art = jstr(info, "artifact_uri")) || !(exp = jstr(info, "experiment_id"))) {
		rc = malformed("run.info.artifact_uri");
		goto out;
	}
	if (*ref->path) {
		const char *slash = strchr(ref->path, '/');
		buf_put(&first, ref->path, slash ? (size_t)(slash - ref->path) : strlen(ref->path));
		rest = slash ? slash + 1 : "";
		if ((rc = buf_error(&first)) || (rc = run_logged_model(cl, exp, first.ptr, ref->run_id, &lm)))
			goto out;
	}
	if (lm) {
		const char *lm_art = jstr(lm, "artifact_uri"), *id = jstr(lm, "model_id");
		if (!lm_art) {
			rc = malformed("model.info.artifact_uri");
			goto out;
		}
		if (id && !ref->model_id && (rc = set_str(&ref->model_id, id)))
			goto out;
		rc = path_join_uri(&loc, lm_art, rest);
	} else {
		rc = path_join_uri(&loc, art, ref->path);
	}
	if (rc || (rc = buf_error(&loc)))
		goto out;
	rc = set_str(&ref->source, loc.ptr);
out:
	json_decref(lm);
	json_decref(reply);
	buf_release(&first);
	buf_release(&loc);
	return rc;
}

/* source + "/" + ref->path (models:/name/1/<path>). */
static int add_path(struct model_ref *ref)
{
	struct buf loc = BUF_INIT;
	int rc;

	if (!ref->path || !*ref->path)
		return 0;
	if (!(rc = path_join_uri(&loc, ref->source, ref->path)))
		rc = set_str(&ref->source, loc.ptr);
	buf_release(&loc);
	return rc;
}

static int resolve_store(struct client *cl, struct model_ref *ref, int depth)
{
	int rc;

	switch (ref->kind) {
	case MODEL_REF_VERSION:
		return (rc = resolve_version(cl, ref, depth)) ? rc : add_path(ref);
	case MODEL_REF_LOGGED:
		return (rc = resolve_logged(cl, ref, depth)) ? rc : add_path(ref);
	case MODEL_REF_RUN:
		return resolve_run(cl, ref);
	case MODEL_REF_ARTIFACTS:
		return 0;
	default:
		/* a location that names a local path of the server: not ours to read */
		return set_str(&ref->source, ref->uri);
	}
}

int client_model_resolve(struct client *cl, const char *uri, struct model_ref *ref)
{
	int rc = model_ref_parse(uri, ref);

	if (!rc) {
		if (ref->kind == MODEL_REF_DIR)
			rc = resolve_local(ref);
		else if (!cl)
			rc = cairn_error_set(CAIRN_EINVALID, "model URI '%.300s' needs a tracking store", uri);
		else
			rc = resolve_store(cl, ref, 0);
	}
	if (rc)
		model_ref_dispose(ref);
	return rc;
}

/* ---- listing ---- */

struct fetch_file {
	char *rel;    /* path under the model's root (sanitised) */
	int64_t size; /* bytes the listing gave; -1 unknown (a single-file source) */
	bool is_dir;  /* a directory entry (created, fsync'd, never downloaded) */
};

struct fetch_list {
	struct fetch_file *v;
	size_t n, cap;
	size_t nfiles;      /* entries that are files */
	int64_t bytes;      /* their listed sizes */
	bool single;        /* the source is one file, not a directory */
	const char *tree;   /* the source's path in the artifact tree (borrowed) */
};

static void list_release(struct fetch_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].rel);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list_add(struct fetch_list *l, const char *rel, int64_t size, bool is_dir)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct fetch_file *v = crealloc(l->v, cap * sizeof(*v));
		if (!v)
			return oom();
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].rel = cstrdup(rel)))
		return oom();
	l->v[l->n].size = size;
	l->v[l->n].is_dir = is_dir;
	l->n++;
	if (!is_dir) {
		l->nfiles++;
		l->bytes += size > 0 ? size : 0;
	}
	return 0;
}

/* A listed size: an integer or a numeric string (int64 in proto JSON); absent is 0. */
static int listed_size(json_t *f, int64_t *size)
{
	json_t *v = json_object_get(f, "file_size");
	char *end;

	*size = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v))
		*size = json_integer_value(v);
	else if (json_is_string(v) && client__all_digits(json_string_value(v)))
		*size = strtoll(json_string_value(v), &end, 10);
	else
		return -1;
	return *size < 0 ? -1 : 0;
}

/* List tree/sub (sub "" for the root) into l, recursively. */
static int list_dir(struct client *cl, struct fetch_list *l, const char *sub, int depth)
{
	struct buf path = BUF_INIT, clean = BUF_INIT, rel = BUF_INIT;
	json_t *reply = NULL, *f;
	size_t i;
	int rc;

	if (depth > FETCH_MAX_DEPTH)
		return cairn_error_set(CAIRN_ETOOBIG, "the model at '%.300s' nests directories deeper than %d",
				       l->tree, FETCH_MAX_DEPTH);
	if ((rc = path_join(&path, l->tree, sub)))
		goto out;
	if ((rc = client_call(cl, "GET", "/mlflow-artifacts/artifacts", json_pack("{s:s}", "path", path.ptr), &reply)))
		goto out;
	json_array_foreach(json_object_get(reply, "files"), i, f) {
		const char *name = json_string_value(json_object_get(f, "path"));
		bool is_dir = json_is_true(json_object_get(f, "is_dir"));
		int64_t size = 0;

		buf_clear(&clean);
		/* one component, unchanged by the sanitiser (MLflow: validate_path_is_safe) */
		if (!name || path_clean_rel(name, strlen(name), false, &clean) || strcmp(clean.ptr, name) ||
		    strchr(name, '/')) {
			rc = cairn_error_set(CAIRN_EINVALID, "the server listed an unsafe path '%.300s' under '%.300s'",
					     name ? name : "(none)", path.ptr);
			goto out;
		}
		if (!is_dir && listed_size(f, &size)) {
			rc = cairn_error_set(CAIRN_EIO, "the server listed a bad size for '%.300s' under '%.300s'", name,
					     path.ptr);
			goto out;
		}
		buf_clear(&rel);
		if ((rc = path_join(&rel, sub, name)) ||
		    (rc = list_add(l, rel.ptr, size, is_dir)))
			goto out;
		if (l->n > FETCH_MAX_FILES) {
			rc = cairn_error_set(CAIRN_ETOOBIG, "the model at '%.300s' has more than %d files", l->tree,
					     FETCH_MAX_FILES);
			goto out;
		}
		if (is_dir && (rc = list_dir(cl, l, rel.ptr, depth + 1)))
			goto out;
	}
out:
	json_decref(reply);
	buf_release(&path);
	buf_release(&clean);
	buf_release(&rel);
	return rc;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct fetch_file *)a)->rel, ((const struct fetch_file *)b)->rel);
}

/* The listing of the source; an empty one means the source is a single
 * file (or nothing: the download says which). */
static int list_source(struct client *cl, struct fetch_list *l)
{
	const char *base;
	int rc;

	if ((rc = list_dir(cl, l, "", 0)))
		return rc;
	if (l->n) {
		qsort(l->v, l->n, sizeof(*l->v), cmp_file);
		if (!l->nfiles)
			return cairn_error_set(CAIRN_ENOTFOUND, "no model files under '%.300s'", l->tree);
		return 0;
	}
	if (!*l->tree)
		return cairn_error_set(CAIRN_ENOTFOUND, "no model files under the artifact root");
	base = strrchr(l->tree, '/') ? strrchr(l->tree, '/') + 1 : l->tree;
	l->single = true;
	return list_add(l, base, -1, false);
}

/* ---- the cache ---- */

/* MLflow's registered_model_meta for models:/ URIs when the model has an
 * MLmodel at its root (ModelsArtifactRepository.download_artifacts), as
 * PyYAML writes it. Empty when none applies. */
static int meta_text(const struct model_ref *ref, const struct fetch_list *l, struct buf *out)
{
	json_t *o;
	bool has_mlmodel = false;
	int rc;

	if ((ref->kind != MODEL_REF_VERSION && ref->kind != MODEL_REF_LOGGED) || l->single)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		has_mlmodel |= !l->v[i].is_dir && !strcmp(l->v[i].rel, "MLmodel");
	if (!has_mlmodel)
		return 0;
	o = json_pack("{s:o,s:o}", "model_name", ref->kind == MODEL_REF_VERSION ? json_string(ref->name) : json_null(),
		      "model_version", ref->kind == MODEL_REF_VERSION ? json_string(ref->version) : json_null());
	if (!o)
		return oom();
	rc = cyaml_dump_sorted(o, out);
	json_decref(o);
	return rc;
}

/* The entry's name: SHA-256 of the source, the meta file and the listing. */
static int cache_key(const char *source, const struct buf *meta, const struct fetch_list *l,
		     char hex[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx *c = sha256_new();
	char num[32];

	if (!c)
		return oom();
	sha256_update(c, "cairn model cache 1\n", 20);
	sha256_update(c, source, strlen(source) + 1);
	sha256_update(c, meta->ptr, meta->len + 1);
	sha256_update(c, l->single ? "s" : "d", 1);
	for (size_t i = 0; i < l->n; i++) {
		int n = snprintf(num, sizeof(num), "%c%lld\n", l->v[i].is_dir ? 'd' : 'f', (long long)l->v[i].size);
		sha256_update(c, l->v[i].rel, strlen(l->v[i].rel) + 1);
		sha256_update(c, num, (size_t)n);
	}
	sha256_final_hex(c, hex);
	return 0;
}

/* Remove name under dirfd and everything below it, following no link (best effort). */
static void remove_tree_at(int dirfd, const char *name, int depth)
{
	fs_remove_tree_at(dirfd, name, (unsigned)(FETCH_MAX_DEPTH + 2 - depth));
}

static void remove_tree(const char *path)
{
	remove_tree_at(AT_FDCWD, path, 0);
}

/* Remove temporary folders in dir left by fetches whose process is gone. */
static void clean_stale(const char *dir)
{
	const size_t plen = strlen(FETCH_TMP_PREFIX);
	struct dirent *e;
	int dfd;
	DIR *d;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		char *end;
		unsigned long pid;

		if (strncmp(e->d_name, FETCH_TMP_PREFIX, plen))
			continue;
		errno = 0;
		pid = strtoul(e->d_name + plen, &end, 16);
		if (errno || end == e->d_name + plen || *end != '-' || !pid || pid > INT_MAX)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* still running (or not ours to ask): its folder */
		remove_tree_at(dfd, e->d_name, 0);
	}
	closedir(d);
}

/* ---- downloading one file ---- */

struct sink {
	CURL *curl;
	int fd;               /* destination */
	int64_t got, want;    /* bytes written; listed size (-1 unknown) */
	long status;          /* HTTP status, read at the first byte */
	bool status_known;
	bool over;            /* more bytes than listed */
	int werr;             /* errno of a failed write */
	struct buf err;       /* the body of a non-2xx reply */
	struct progress *pg;
};

static size_t sink_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb, off = 0;
	ssize_t k;

	if (!s->status_known) {
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
		s->status_known = true;
	}
	if (s->status < 200 || s->status >= 300) {
		if (s->err.len < FETCH_ERRBODY_MAX)
			buf_put(&s->err, data, n < FETCH_ERRBODY_MAX - s->err.len ? n : FETCH_ERRBODY_MAX - s->err.len);
		return n;
	}
	if (s->want >= 0 && s->got + (int64_t)n > s->want) {
		s->over = true;
		return 0;
	}
	while (off < n) {
		k = cwrite(s->fd, data + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			s->werr = k < 0 ? errno : EIO;
			return 0; /* aborts the transfer */
		}
		off += (size_t)k;
	}
	s->got += (int64_t)n;
	progress_add(s->pg, 0, (int64_t)n);
	return n;
}

/* GET the tree path src from the proxy into fd. */
static int download_remote(struct client *cl, const char *src, int fd, int64_t want, struct progress *pg)
{
	struct buf url = BUF_INIT, unused = BUF_INIT;
	struct sink s = { .curl = cl->curl, .fd = fd, .want = want, .pg = pg };
	CURLcode cc;
	int rc;

	buf_init(&s.err, FETCH_ERRBODY_MAX + 1);
	if ((rc = client__artifact_url(cl, src, &url)))
		goto out;
	client__remote_setup(cl, url.ptr, &unused);
	curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, cl->hdr_bin);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, sink_cb);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &s);
	/* no overall limit for large files, but give up on a stalled transfer */
	curl_easy_setopt(cl->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_LOW_SPEED_TIME, cl->timeout_s);
	cc = curl_easy_perform(cl->curl);
	if (!s.status_known)
		curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &s.status);
	if (s.werr) {
		rc = cairn_error_set(CAIRN_EIO, "cannot write the download of '%.300s': %s", src, strerror(s.werr));
	} else if (s.over) {
		rc = cairn_error_set(CAIRN_EIO, "'%.300s' from %s is larger than the %lld bytes listed", src,
				     cl->target.ptr, (long long)want);
	} else if (cc != CURLE_OK) {
		rc = cairn_error_set(CAIRN_EIO, "cannot download '%.300s' from %s: %s", src, cl->target.ptr,
				     cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(cc));
	} else if (s.status < 200 || s.status >= 300) {
		rc = client__reply_finish(s.status, &s.err, src, NULL);
	} else if (want >= 0 && s.got != want) {
		rc = cairn_error_set(CAIRN_EIO, "'%.300s' from %s has %lld bytes, the listing says %lld", src,
				     cl->target.ptr, (long long)s.got, (long long)want);
	}
out:
	buf_release(&url);
	buf_release(&unused);
	buf_release(&s.err);
	return rc;
}

/* Copy the tree path src of the local root into fd. */
static int download_local(struct client *cl, struct store *st, const char *src, int fd, int64_t want,
			  struct progress *pg)
{
	int64_t size = 0, copied = 0;
	int sfd = -1, rc;

	if ((rc = art_open(st, cl->ctx.blobs, src, &sfd, &size)))
		return rc;
	if (want >= 0 && size != want) {
		rc = cairn_error_set(CAIRN_EIO, "'%.300s' has %lld bytes in the store, the listing says %lld", src,
				     (long long)size, (long long)want);
		goto out;
	}
	if ((rc = fs_copy_fd(sfd, fd, NULL, &copied)))
		goto out;
	if (copied != size)
		rc = cairn_error_set(CAIRN_EIO, "'%.300s': copied %lld of %lld bytes", src, (long long)copied,
				     (long long)size);
	progress_add(pg, 0, copied);
out:
	close(sfd);
	return rc;
}

/* Create the directories of rel's parent under dirfd (rel is sanitised and
 * dirfd is a folder only this process writes). */
static int make_parents(int dirfd, const char *rel)
{
	struct buf d = BUF_INIT;
	const char *p = rel, *slash;
	int rc = 0;

	while ((slash = strchr(p, '/'))) {
		buf_clear(&d);
		buf_put(&d, rel, (size_t)(slash - rel));
		if ((rc = buf_error(&d)))
			break;
		if (mkdirat(dirfd, d.ptr, 0755) && errno != EEXIST) {
			rc = cairn_error_set(CAIRN_EIO, "cannot create directory '%.300s': %s", d.ptr, strerror(errno));
			break;
		}
		p = slash + 1;
	}
	buf_release(&d);
	return rc;
}

/* Write data as file name under dirfd, durably. */
static int write_file_at(int dirfd, const char *name, const char *data, size_t n)
{
	int fd = fs_open_beneath(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t off = 0;
	ssize_t k;
	int rc = 0;

	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot create '%s': %s", name, strerror(errno));
	while (off < n && !rc) {
		k = cwrite(fd, data + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", name, k < 0 ? strerror(errno) : "short write");
		else
			off += (size_t)k;
	}
	if (!rc && cfsync(fd))
		rc = cairn_error_set(CAIRN_EIO, "cannot sync '%s': %s", name, strerror(errno));
	close(fd);
	return rc;
}

/* fsync the directory rel ("" for dirfd itself). */
static int sync_dir_at(int dirfd, const char *rel)
{
	int fd = *rel ? fs_open_beneath(dirfd, rel, O_RDONLY | O_DIRECTORY, 0) : dup(dirfd);
	int rc = 0;

	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open directory '%s': %s", *rel ? rel : ".", strerror(errno));
	if (cfsync(fd))
		rc = cairn_error_set(CAIRN_EIO, "cannot sync directory '%s': %s", *rel ? rel : ".", strerror(errno));
	close(fd);
	return rc;
}

/* Every file of l into the folder tmpfd (named tmp, for messages). */
static int download_all(struct client *cl, const struct fetch_list *l, int tmpfd)
{
	struct buf src = BUF_INIT;
	struct store *st = NULL;
	struct progress pg;
	int fd = -1, rc = 0;

	progress_begin(&pg, "download", (int64_t)l->nfiles, l->bytes, false);
	if (!cl->remote && (rc = store_pool_get(cl->ctx.pool, &st)))
		goto out;
	for (size_t i = 0; i < l->n && !rc; i++) {
		const struct fetch_file *f = &l->v[i];

		if ((rc = make_parents(tmpfd, f->rel)))
			break;
		if (f->is_dir) {
			if (mkdirat(tmpfd, f->rel, 0755) && errno != EEXIST)
				rc = cairn_error_set(CAIRN_EIO, "cannot create directory '%.300s': %s", f->rel,
						     strerror(errno));
			continue;
		}
		buf_clear(&src);
		if ((rc = path_join(&src, l->tree, l->single ? "" : f->rel)))
			break;
		if ((fd = fs_open_beneath(tmpfd, f->rel, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot create '%.300s': %s", f->rel, strerror(errno));
			break;
		}
		rc = cl->remote ? download_remote(cl, src.ptr, fd, f->size, &pg)
				: download_local(cl, st, src.ptr, fd, f->size, &pg);
		if (!rc && cfsync(fd))
			rc = cairn_error_set(CAIRN_EIO, "cannot sync '%.300s': %s", f->rel, strerror(errno));
		close(fd);
		fd = -1;
		progress_add(&pg, 1, 0);
	}
out:
	if (st)
		store_pool_put(cl->ctx.pool, st);
	progress_end(&pg);
	buf_release(&src);
	return rc;
}

/* Download l into dest through a temporary folder beside it. With cache
 * set, an entry that appeared meanwhile (another fetch of the same key) is
 * taken as it is; otherwise dest must be absent or empty. */
static int fetch_into(struct client *cl, const struct fetch_list *l, const struct buf *meta, const char *dest,
		      bool cache)
{
	struct buf parent = BUF_INIT, prefix = BUF_INIT, tmp = BUF_INIT;
	const char *slash = strrchr(dest, '/');
	bool made = false;
	int tmpfd = -1, rc;

	if (slash)
		buf_put(&parent, dest, slash == dest ? 1 : (size_t)(slash - dest));
	else
		buf_putc(&parent, '.');
	if ((rc = buf_error(&parent)) || (rc = path_mkdirs(parent.ptr)))
		goto out;
	clean_stale(parent.ptr);
	if ((rc = path_join(&prefix, parent.ptr, FETCH_TMP_PREFIX)))
		goto out;
	for (int tries = 0; !made; tries++) {
		if ((rc = fs_tmp_name(prefix.ptr, &tmp)))
			goto out;
		if (!mkdir(tmp.ptr, 0700))
			made = true;
		else if (errno != EEXIST || tries > 100) {
			rc = cairn_error_set(CAIRN_EIO, "cannot create a temporary folder in '%.300s': %s", parent.ptr,
					     strerror(errno));
			goto out;
		}
	}
	if ((tmpfd = open(tmp.ptr, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", tmp.ptr, strerror(errno));
		goto out;
	}
	if ((rc = download_all(cl, l, tmpfd)))
		goto out;
	if (meta->len && (rc = write_file_at(tmpfd, META_FILE, meta->ptr, meta->len)))
		goto out;
	for (size_t i = 0; i < l->n && !rc; i++)
		if (l->v[i].is_dir)
			rc = sync_dir_at(tmpfd, l->v[i].rel);
	if (rc || (rc = sync_dir_at(tmpfd, "")))
		goto out;
	if (fchmod(tmpfd, 0755)) {
		rc = cairn_error_set(CAIRN_EIO, "cannot set the mode of '%.300s': %s", tmp.ptr, strerror(errno));
		goto out;
	}
	if (crename(tmp.ptr, dest)) {
		struct stat sb;
		if (cache && (errno == ENOTEMPTY || errno == EEXIST) && !stat(dest, &sb) && S_ISDIR(sb.st_mode)) {
			rc = 0; /* the same entry, downloaded meanwhile by another fetch */
			goto out;
		}
		rc = cairn_error_set(errno == ENOTEMPTY || errno == EEXIST ? CAIRN_EEXISTS : CAIRN_EIO,
				     "cannot move the download into '%.300s': %s", dest, strerror(errno));
		goto out;
	}
	made = false;
	fs_sync_parent(dest);
out:
	if (tmpfd >= 0)
		close(tmpfd);
	if (made)
		remove_tree(tmp.ptr);
	buf_release(&parent);
	buf_release(&prefix);
	buf_release(&tmp);
	return rc;
}

/* ref->dir = realpath(dir), ref->file = dir/<name> for a single-file source. */
static int set_result(struct model_ref *ref, const char *dir, const struct fetch_list *l)
{
	char abs[PATH_MAX];
	struct buf file = BUF_INIT;
	int rc;

	if (!realpath(dir, abs))
		return cairn_error_set(CAIRN_EIO, "cannot resolve '%.300s': %s", dir, strerror(errno));
	if ((rc = set_str(&ref->dir, abs)))
		return rc;
	if (!l->single)
		return 0;
	if (!(rc = path_join(&file, abs, l->v[0].rel)))
		rc = set_str(&ref->file, file.ptr);
	buf_release(&file);
	return rc;
}

/* The listing and meta file of a resolved store ref. */
static int prepare(struct client *cl, struct model_ref *ref, struct buf *tree, struct fetch_list *l, struct buf *meta)
{
	int rc;

	if (!ref->source)
		return cairn_error_set(CAIRN_EINVALID, "model '%.300s' is not resolved", ref->uri ? ref->uri : "");
	if (!has_scheme(ref->source, "mlflow-artifacts:"))
		return cairn_error_set(CAIRN_EUNSUPPORTED, "cannot download model '%.300s': its files are at "
							   "'%.300s', and only mlflow-artifacts: locations can be fetched",
				       ref->uri, ref->source);
	if ((rc = art_uri_to_path(ref->source, tree)))
		return rc;
	l->tree = tree->ptr;
	if ((rc = list_source(cl, l)))
		return rc;
	return meta_text(ref, l, meta);
}

/* MLflow's message for a runs:/ path with nothing under it. */
static int fetch_failed(const struct model_ref *ref, const struct fetch_list *l, int rc)
{
	if (rc == CAIRN_ENOTFOUND && l->single && ref->kind == MODEL_REF_RUN)
		return cairn_error_set(CAIRN_ENOTFOUND, "Failed to download artifacts from path '%.300s', please "
							"ensure that the path is correct.", ref->path ? ref->path : "");
	return rc;
}

static bool local_kind(const struct model_ref *ref)
{
	return ref->kind == MODEL_REF_DIR || ref->kind == MODEL_REF_FILE;
}

int client_model_fetch(struct client *cl, struct model_ref *ref, const char *cache_root)
{
	struct buf tree = BUF_INIT, meta = BUF_INIT, entry = BUF_INIT;
	struct fetch_list l = { 0 };
	char key[SHA256_HEX_LEN + 1];
	struct stat sb;
	int rc;

	if (local_kind(ref))
		return ref->dir ? 0 : cairn_error_set(CAIRN_EINVALID, "model '%.300s' is not resolved", ref->uri);
	if ((rc = prepare(cl, ref, &tree, &l, &meta)) || (rc = cache_key(ref->source, &meta, &l, key)))
		goto out;
	if ((rc = path_join(&entry, cache_root, key)))
		goto out;
	if (stat(entry.ptr, &sb) || !S_ISDIR(sb.st_mode)) {
		if ((rc = fetch_into(cl, &l, &meta, entry.ptr, true))) {
			rc = fetch_failed(ref, &l, rc);
			goto out;
		}
	}
	rc = set_result(ref, entry.ptr, &l);
out:
	list_release(&l);
	buf_release(&tree);
	buf_release(&meta);
	buf_release(&entry);
	return rc;
}

/* True when dir is an empty directory; false with errno ENOTDIR or ENOTEMPTY otherwise. */
static bool empty_dir(const char *dir)
{
	struct dirent *e;
	bool empty = true;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

int client_model_fetch_to(struct client *cl, struct model_ref *ref, const char *dest)
{
	struct buf tree = BUF_INIT, meta = BUF_INIT, d = BUF_INIT;
	struct fetch_list l = { 0 };
	struct stat sb;
	size_t n = strlen(dest);
	int rc;

	if (local_kind(ref))
		return cairn_error_set(CAIRN_EINVALID, "'%.300s' is a local model already: nothing to download",
				       ref->uri ? ref->uri : "");
	while (n > 1 && dest[n - 1] == '/')
		n--;
	buf_put(&d, dest, n);
	if ((rc = buf_error(&d)))
		goto out;
	if (!stat(d.ptr, &sb) && (!S_ISDIR(sb.st_mode) || !empty_dir(d.ptr))) {
		rc = cairn_error_set(CAIRN_EEXISTS, "'%.300s' exists and is not an empty directory", d.ptr);
		goto out;
	}
	if ((rc = prepare(cl, ref, &tree, &l, &meta)))
		goto out;
	if ((rc = fetch_into(cl, &l, &meta, d.ptr, false))) {
		rc = fetch_failed(ref, &l, rc);
		goto out;
	}
	rc = set_result(ref, d.ptr, &l);
out:
	list_release(&l);
	buf_release(&tree);
	buf_release(&meta);
	buf_release(&d);
	return rc;
}

int client_model_cache_default(struct buf *out)
{
	const char *v = getenv("CAIRN_MODEL_CACHE");

	if (v && *v)
		buf_puts(out, v);
	else if ((v = getenv("XDG_CACHE_HOME")) && *v == '/')
		buf_printf(out, "%s/cairn/models", v);
	else if ((v = getenv("HOME")) && *v)
		buf_printf(out, "%s/.cache/cairn/models", v);
	else
		return cairn_error_set(CAIRN_EINVALID, "no model cache: set CAIRN_MODEL_CACHE or HOME");
	return buf_error(out);
}

/* ---- one named file of a model ---- */

static int no_such_file(const struct model_ref *ref, const char *name)
{
	return cairn_error_set(CAIRN_ENOTFOUND, "model '%.300s' has no file '%.200s'", ref->uri ? ref->uri : "", name);
}

/* The listed size of the file name directly under the tree path tree. */
static int listed_file_size(struct client *cl, const struct model_ref *ref, const char *tree, const char *name,
			    int64_t *size)
{
	json_t *reply = NULL, *f;
	size_t i;
	int rc;

	*size = -1;
	if ((rc = client_call(cl, "GET", "/mlflow-artifacts/artifacts", json_pack("{s:s}", "path", tree), &reply)))
		return rc;
	rc = no_such_file(ref, name);
	json_array_foreach(json_object_get(reply, "files"), i, f) {
		if (!str_eq(json_string_value(json_object_get(f, "path")), name) ||
		    json_is_true(json_object_get(f, "is_dir")))
			continue;
		rc = listed_size(f, size) ? cairn_error_set(CAIRN_EIO, "the server listed a bad size for '%.200s' "
								       "under '%.300s'", name, tree) : 0;
		break;
	}
	json_decref(reply);
	return rc;
}

int client_model_read_file(struct client *cl, const struct model_ref *ref, const char *name, size_t max,
			   struct buf *out)
{
	struct buf tree = BUF_INIT, path = BUF_INIT;
	struct store *st = NULL;
	struct progress pg;
	int64_t size = -1;
	FILE *tmp = NULL;
	int fd = -1, rc;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return cairn_error_set(CAIRN_EINVALID, "'%.200s' is not a file name", name);
	if (local_kind(ref)) {
		if (ref->kind == MODEL_REF_FILE || !ref->dir) /* a bare model file has nothing beside it */
			return ref->dir ? no_such_file(ref, name)
					: cairn_error_set(CAIRN_EINVALID, "model '%.300s' is not resolved", ref->uri);
		if (!(rc = path_join(&path, ref->dir, name)) && (rc = fs_read_file(path.ptr, max, out)) == CAIRN_ENOTFOUND)
			rc = no_such_file(ref, name);
		goto out;
	}
	if (!ref->source) {
		rc = cairn_error_set(CAIRN_EINVALID, "model '%.300s' is not resolved", ref->uri ? ref->uri : "");
		goto out;
	}
	if (!has_scheme(ref->source, "mlflow-artifacts:")) {
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "cannot read '%.200s' of model '%.300s': its files are at "
							 "'%.300s', and only mlflow-artifacts: locations can be fetched",
				     name, ref->uri, ref->source);
		goto out;
	}
	if ((rc = art_uri_to_path(ref->source, &tree)) || (rc = listed_file_size(cl, ref, tree.ptr, name, &size)))
		goto out;
	if (size > (int64_t)max) {
		rc = cairn_error_set(CAIRN_ETOOBIG, "'%.200s' of model '%.300s' is larger than %zu bytes", name, ref->uri,
				     max);
		goto out;
	}
	if ((rc = path_join(&path, tree.ptr, name)))
		goto out;
	if (!cl->remote) {
		int64_t n = 0;
		if ((rc = store_pool_get(cl->ctx.pool, &st)) || (rc = art_open(st, cl->ctx.blobs, path.ptr, &fd, &n)))
			goto out;
		rc = fs_read_fd(fd, name, max, out);
		goto out;
	}
	if (!(tmp = tmpfile())) {
		rc = cairn_error_set(CAIRN_EIO, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	progress_begin(&pg, "download", 1, size, true);
	rc = download_remote(cl, path.ptr, fileno(tmp), size, &pg);
	progress_end(&pg);
	if (!rc && lseek(fileno(tmp), 0, SEEK_SET) < 0)
		rc = cairn_error_set(CAIRN_EIO, "cannot read back the download of '%.200s': %s", name, strerror(errno));
	if (!rc)
		rc = fs_read_fd(fileno(tmp), name, max, out);
out:
	if (tmp)
		fclose(tmp);
	if (fd >= 0)
		close(fd);
	if (st)
		store_pool_put(cl->ctx.pool, st);
	buf_release(&tree);
	buf_release(&path);
	return rc;
}
