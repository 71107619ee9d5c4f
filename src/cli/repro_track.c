/* repro_track.c - a tracked `cairn repro`: one run for the pipeline (its DAG
 * as an artifact, the counts of what happened) and one nested run per stage
 * that ran or was restored (params, metrics from its metrics files, lineage
 * as dataset inputs, its log and outs as artifacts), through the pipeline's
 * begin/end hooks. */
#include "cli/repro_track.h"
#include "cli/cmd.h"
#include "client/client.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/util.h"
#include "core/yaml.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_UPLOAD_MAX ((int64_t)64 << 20)

struct repro_track {
	struct pl_hooks hooks;  /* what pipeline_repro calls (arg: this) */
	struct client *cl;
	char *exp_id;
	char *parent;          /* the pipeline run */
	const char *serve_uri; /* what the stage commands get as MLFLOW_TRACKING_URI */
	char commit[64];
	const char *root;
	json_t *art;           /* run id -> artifact URI */
};

static int64_t now_ms(void)
{
	return cairn_now_ms();
}

static json_t *tag(const char *k, const char *v)
{
	return json_pack("{s:s,s:s}", "key", k, "value", v);
}

static int run_create(struct repro_track *t, const char *name, json_t *tags, char **run_id)
{
	json_t *reply = NULL, *info;
	int rc = client_call(t->cl, "POST", "/mlflow/runs/create",
			     json_pack("{s:s,s:s,s:I,s:o}", "experiment_id", t->exp_id, "run_name", name, "start_time",
				       (json_int_t)now_ms(), "tags", tags), &reply);

	if (rc)
		return rc;
	info = json_object_get(json_object_get(reply, "run"), "info");
	*run_id = cstrdup(json_string_value(json_object_get(info, "run_id")) ?: "");
	json_object_set(t->art, *run_id, json_object_get(info, "artifact_uri"));
	json_decref(reply);
	return *run_id ? 0 : cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static int run_finish(struct repro_track *t, const char *run_id, const char *status)
{
	return client_call(t->cl, "POST", "/mlflow/runs/update",
			   json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", status, "end_time", (json_int_t)now_ms()),
			   NULL);
}

static int hook_begin(void *arg, const struct pl_stage *s, const json_t *info, json_t **env, char **run_id)
{
	struct repro_track *t = arg;
	json_t *tags = json_array(), *params = json_object(), *batch = json_array(), *v;
	const char *k, *f;
	int rc;

	json_array_append_new(tags, tag("mlflow.parentRunId", t->parent));
	json_array_append_new(tags, tag("cairn.stage", s->name));
	json_array_append_new(tags, tag("cairn.fingerprint", json_string_value(json_object_get(info, "fingerprint"))));
	json_array_append_new(tags, tag("cairn.cached", json_is_true(json_object_get(info, "cached")) ? "true" : "false"));
	json_array_append_new(tags, tag("mlflow.source.name", "cairn repro"));
	if (*t->commit)
		json_array_append_new(tags, tag("mlflow.source.git.commit", t->commit));
	if ((rc = run_create(t, s->name, tags, run_id)))
		return rc;
	json_object_foreach(json_object_get(info, "params"), f, v) {
		const char *key;
		json_t *val;
		json_object_foreach(v, key, val)
			cjson_flatten(strcmp(key, ".") ? key : "", val, params, false);
	}
	json_object_foreach(params, k, v)
		if (strlen(k) <= 250)
			json_array_append_new(batch, json_pack("{s:s,s:s%}", "key", k, "value", json_string_value(v),
							       json_string_length(v) > 6000 ? (size_t)6000 : json_string_length(v)));
	if (json_array_size(batch))
		rc = client_call(t->cl, "POST", "/mlflow/runs/log-batch",
				 json_pack("{s:s,s:O}", "run_id", *run_id, "params", batch), NULL);
	json_decref(params);
	json_decref(batch);
	*env = json_pack("{s:s,s:s,s:s,s:s}", "MLFLOW_TRACKING_URI", t->serve_uri, "MLFLOW_RUN_ID", *run_id,
			 "CAIRN_RUN_ID", *run_id, "MLFLOW_EXPERIMENT_ID", t->exp_id);
	return rc;
}

static int upload_file(struct repro_track *t, const char *run_id, const char *abs, const char *name)
{
	const char *uri = json_string_value(json_object_get(t->art, run_id));
	int fd, rc;

	if (!uri)
		return 0;
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	rc = client_upload_fd(t->cl, uri, name, fd);
	close(fd);
	return rc;
}

/* Upload a JSON document as the artifact NAME of a run (through an anonymous
 * in-memory file, so nothing is left in the workspace). */
static int upload_json(struct repro_track *t, const char *run_id, const json_t *doc, const char *name)
{
	const char *uri = json_string_value(json_object_get(t->art, run_id));
	char *text;
	size_t len, off = 0;
	int fd, rc = 0;

	if (!uri)
		return 0;
	if (!(text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	len = strlen(text);
	if ((fd = memfd_create("cairn-artifact", MFD_CLOEXEC)) < 0) {
		free(text);
		return cairn_error_set(CAIRN_EIO, "artifact '%s': cannot make a memory file: %s", name, strerror(errno));
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = cairn_error_set(CAIRN_EIO, "artifact '%s': cannot write a memory file: %s", name, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (!rc)
		rc = client_upload_fd(t->cl, uri, name, fd);
	close(fd);
	free(text);
	return rc;
}

/* Upload an out (a file, or the files of a folder) under outs/, within a size budget. */
static int upload_tree(struct repro_track *t, const char *run_id, const char *rel, int64_t *budget, int depth)
{
	struct buf abs = BUF_INIT, name = BUF_INIT;
	struct stat sb;
	int rc = 0;

	buf_printf(&abs, "%s/%s", t->root, rel);
	if (buf_error(&abs) || stat(abs.ptr, &sb) != 0 || depth > 32)
		goto out;
	if (S_ISREG(sb.st_mode)) {
		if (sb.st_size > *budget) {
			*budget = -1;
			goto out;
		}
		*budget -= sb.st_size;
		buf_printf(&name, "outs/%s", rel);
		rc = upload_file(t, run_id, abs.ptr, name.ptr);
	} else if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(abs.ptr);
		struct dirent *e;
		while (d && !rc && (e = readdir(d))) {
			struct buf sub = BUF_INIT;
			if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
				continue;
			buf_printf(&sub, "%s/%s", rel, e->d_name);
			rc = buf_error(&sub) ? 0 : upload_tree(t, run_id, sub.ptr, budget, depth + 1);
			buf_release(&sub);
		}
		if (d)
			closedir(d);
	}
out:
	buf_release(&abs);
	buf_release(&name);
	return rc;
}

static json_t *dataset(const json_t *o, const char *context)
{
	const char *path = json_string_value(json_object_get(o, "path")), *h = json_string_value(json_object_get(o, "sha256"));
	json_t *src = json_pack("{s:s,s:s}", "uri", path ? path : "", "sha256", h ? h : "");
	json_t *prof = json_pack("{s:I,s:I}", "size_bytes", json_integer_value(json_object_get(o, "size")), "num_files",
				 json_object_get(o, "nfiles") ? json_integer_value(json_object_get(o, "nfiles")) : 1);
	char *s = json_dumps(src, JSON_COMPACT | JSON_SORT_KEYS), *p = json_dumps(prof, JSON_COMPACT | JSON_SORT_KEYS);
	char digest[33];
	json_t *d;

	snprintf(digest, sizeof(digest), "%.32s", h ? h : "");
	d = json_pack("{s:[{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s}}", "tags", "key", "mlflow.data.context", "value", context,
		      "dataset", "name", path ? path : "", "digest", digest, "source_type", "cairn-pipeline", "source",
		      s ? s : "{}", "profile", p ? p : "{}");
	free(s);
	free(p);
	json_decref(src);
	json_decref(prof);
	return d;
}

static int hook_end(void *arg, const struct pl_stage *s, const char *run_id, const json_t *result)
{
	struct repro_track *t = arg;
	const char *res = json_string_value(json_object_get(result, "result"));
	json_t *datasets = json_array(), *metrics = json_object(), *batch = json_array(), *v, *tags = json_array();
	int64_t budget = OUT_UPLOAD_MAX;
	const char *k;
	size_t i;
	int rc = 0;

	(void)s;
	json_array_foreach(json_object_get(result, "deps"), i, v)
		json_array_append_new(datasets, dataset(v, "input"));
	json_array_foreach(json_object_get(result, "outs"), i, v)
		json_array_append_new(datasets, dataset(v, "output"));
	if (json_array_size(datasets))
		rc = client_call(t->cl, "POST", "/mlflow/runs/log-inputs",
				 json_pack("{s:s,s:O}", "run_id", run_id, "datasets", datasets), NULL);
	/* metrics files: every number, with dotted keys */
	json_array_foreach(json_object_get(result, "metrics"), i, v) {
		struct buf abs = BUF_INIT, text = BUF_INIT;
		json_t *doc = NULL;
		buf_printf(&abs, "%s/%s", t->root, json_string_value(v));
		if (!buf_error(&abs) && !fs_read_file(abs.ptr, 16 << 20, &text) && !cyaml_parse(text.ptr, text.len, &doc))
			cjson_flatten("", doc, metrics, true);
		cairn_error_clear();
		json_decref(doc);
		buf_release(&abs);
		buf_release(&text);
	}
	json_object_foreach(metrics, k, v)
		if (strlen(k) <= 250)
			json_array_append_new(batch, json_pack("{s:s,s:f,s:I,s:i}", "key", k, "value", json_real_value(v),
							       "timestamp", (json_int_t)now_ms(), "step", 0));
	json_array_append_new(tags, tag("cairn.result", res ? res : "failed"));
	if (json_is_string(json_object_get(result, "error")))
		json_array_append_new(tags, tag("cairn.error", json_string_value(json_object_get(result, "error"))));
	if (!rc)
		rc = client_call(t->cl, "POST", "/mlflow/runs/log-batch",
				 json_pack("{s:s,s:O,s:O}", "run_id", run_id, "metrics", batch, "tags", tags), NULL);
	if (!rc && json_is_string(json_object_get(result, "log"))) {
		struct buf name = BUF_INIT;
		buf_puts(&name, "logs/");
		pl_log_name(s->name, &name);
		rc = upload_file(t, run_id, json_string_value(json_object_get(result, "log")), name.ptr);
		buf_release(&name);
	}
	json_array_foreach(json_object_get(result, "outs"), i, v)
		if (!rc && budget >= 0)
			rc = upload_tree(t, run_id, json_string_value(json_object_get(v, "path")), &budget, 0);
	if (!rc && budget < 0)
		rc = client_call(t->cl, "POST", "/mlflow/runs/set-tag",
				 json_pack("{s:s,s:s,s:s}", "run_id", run_id, "key", "cairn.outs.uploaded", "value",
					   "partial: over 64 MiB; the outs are in the workspace cache"), NULL);
	if (!rc)
		rc = run_finish(t, run_id, res && (!strcmp(res, "ran") || !strcmp(res, "restored")) ? "FINISHED"
								: !strcmp(res ? res : "", "interrupted") ? "KILLED" : "FAILED");
	json_decref(datasets);
	json_decref(metrics);
	json_decref(batch);
	json_decref(tags);
	return rc;
}

/* A local tracking root inside the workspace stays out of git. */
static void ignore_local_store(struct repro_track *t, struct data_repo *r)
{
	char real[4096];
	const char *root = data_repo_root(r);
	size_t n = strlen(root);

	if (client_is_remote(t->cl) || !realpath(client_target(t->cl), real))
		return;
	if (!strncmp(real, root, n) && real[n] == '/' && data_gitignore(r, real + n + 1))
		cairn_error_clear();
}

static int open_run(struct repro_track *t, const char *uri, const char *root_opt, const char *experiment,
		    const char *root, const char *file, json_t *extra, const char *run_name)
{
	json_t *tags = extra ? json_incref(extra) : json_array();
	bool made;
	int code = 0, rc;
	struct buf out = BUF_INIT;
	char *git[] = { "git", "rev-parse", "HEAD", NULL };

	t->root = root;
	if (!(t->art = json_object())) {
		json_decref(tags);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = client_open_default(uri, root_opt, cli_default_root(), &t->cl)) ||
	    (rc = client_experiment_ensure(t->cl, experiment ? experiment : "0", &t->exp_id, &made)) ||
	    (rc = client_serve_uri(t->cl, &t->serve_uri))) {
		json_decref(tags);
		return rc;
	}
	if (!proc_capture(git, root, &out, &code) && code == 0 && out.len >= 40)
		snprintf(t->commit, sizeof(t->commit), "%.40s", out.ptr);
	cairn_error_clear();
	buf_release(&out);
	json_array_append_new(tags, tag("cairn.pipeline.file", file));
	if (getenv("CAIRN_TRIGGER") && *getenv("CAIRN_TRIGGER"))
		json_array_append_new(tags, tag("cairn.trigger", getenv("CAIRN_TRIGGER")));
	json_array_append_new(tags, tag("mlflow.source.name", "cairn repro"));
	if (*t->commit)
		json_array_append_new(tags, tag("mlflow.source.git.commit", t->commit));
	return run_create(t, run_name, tags, &t->parent);
}

void repro_track_close(struct repro_track *t, json_t *rep, bool interrupted_)
{
	if (t->parent && rep) {
		json_t *batch = json_array();
		static const char *const keys[] = { "ran", "unchanged", "restored", "failed", "skipped", NULL };
		for (const char *const *k = keys; *k; k++) {
			struct buf name = BUF_INIT;
			buf_printf(&name, "stages_%s", *k);
			json_array_append_new(batch, json_pack("{s:s,s:f,s:I,s:i}", "key", name.ptr, "value",
							       (double)json_integer_value(json_object_get(rep, *k)),
							       "timestamp", (json_int_t)now_ms(), "step", 0));
			buf_release(&name);
		}
		if (client_call(t->cl, "POST", "/mlflow/runs/log-batch",
				json_pack("{s:s,s:O}", "run_id", t->parent, "metrics", batch), NULL) ||
		    run_finish(t, t->parent, interrupted_ ? "KILLED"
						  : json_integer_value(json_object_get(rep, "failed")) ? "FAILED" : "FINISHED"))
			fprintf(stderr, "cairn repro: cannot finish the pipeline run: %s\n", cairn_error_msg());
		json_decref(batch);
	} else if (t->parent) {
		run_finish(t, t->parent, "FAILED");
	}
	free(t->parent);
	free(t->exp_id);
	json_decref(t->art);
	client_free(t->cl);
	free(t);
}

int repro_track_open(const char *uri, const char *root_opt, const char *experiment, struct data_repo *r,
		     const struct pipeline *p, json_t *tags, const char *run_name, struct repro_track **out)
{
	struct repro_track *t = ccalloc(1, sizeof(*t));
	json_t *dag;

	*out = NULL;
	if (!t)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	t->hooks = (struct pl_hooks){ t, hook_begin, hook_end };
	if (open_run(t, uri, root_opt, experiment, data_repo_root(r), p->file, tags, run_name)) {
		int rc = cairn_error_code();
		repro_track_close(t, NULL, false);
		return rc ? rc : CAIRN_EIO;
	}
	ignore_local_store(t, r);
	/* the DAG with the run, so its stages can be drawn (the web UI's pipeline view) */
	dag = pipeline_dag_json(p);
	if (!dag || upload_json(t, t->parent, dag, "pipeline/dag.json")) {
		fprintf(stderr, "cairn repro: warning: the DAG was not stored with run %s: %s\n", t->parent,
			dag ? cairn_error_msg() : "out of memory");
		cairn_error_clear();
	}
	json_decref(dag);
	*out = t;
	return 0;
}

const struct pl_hooks *repro_track_hooks(const struct repro_track *t)
{
	return &t->hooks;
}

const char *repro_track_run(const struct repro_track *t)
{
	return t->parent;
}

const char *repro_track_target(const struct repro_track *t)
{
	return client_target(t->cl);
}
