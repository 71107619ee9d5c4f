/* repro.c - fingerprints, cairn.lock, stage status, and running what changed in parallel. */
#include "pipeline/pl_int.h"
#include "core/fault.h"
#include "pipeline/exec.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/util.h"
#include "core/yaml.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LOCK_FILE "cairn.lock"
#define LOCK_MAX (64 << 20)

/* ---- cairn.lock ---- */

/* The lock document's stages ({name: entry}); an absent file is empty. */
static int lock_load(const char *root, json_t **stages)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	json_t *doc = NULL;
	int rc;

	*stages = NULL;
	buf_printf(&path, "%s/%s", root, LOCK_FILE);
	rc = buf_error(&path) ? buf_error(&path) : fs_read_file(path.ptr, LOCK_MAX, &text);
	if (rc == CAIRN_ENOTFOUND) {
		cairn_error_clear();
		*stages = json_object();
		rc = 0;
	} else if (!rc) {
		if ((rc = cyaml_parse(text.ptr, text.len, &doc)))
			rc = cairn_error_set(rc, "%s: %s (fix it or delete it: every stage then runs again)", LOCK_FILE,
					     cairn_error_msg());
		else if (!json_is_object(doc) || (json_object_get(doc, "stages") &&
						   !json_is_object(json_object_get(doc, "stages"))))
			rc = cairn_error_set(CAIRN_EINVALID, "%s: not a cairn lock file (delete it to start over)", LOCK_FILE);
		else
			*stages = json_is_object(json_object_get(doc, "stages")) ? json_incref(json_object_get(doc, "stages"))
										 : json_object();
	}
	json_decref(doc);
	buf_release(&path);
	buf_release(&text);
	return rc;
}

/* Write the lock: entries of the pipeline's stages, in pipeline order. */
static int lock_save(const struct pipeline *p, json_t *stages)
{
	json_t *doc = json_object(), *ordered = json_object();
	struct buf path = BUF_INIT, text = BUF_INIT;
	int rc;

	for (size_t i = 0; i < p->n; i++) {
		json_t *e = json_object_get(stages, p->v[p->order[i]].name);
		if (e)
			json_object_set(ordered, p->v[p->order[i]].name, e);
	}
	json_object_set_new(doc, "schema", json_string("1"));
	json_object_set_new(doc, "stages", ordered);
	buf_puts(&text, "# cairn.lock: what each stage last ran with (cairn repro writes it; commit it to git)\n");
	buf_printf(&path, "%s/%s", p->root, LOCK_FILE);
	if (!(rc = cyaml_dump(doc, &text)) && !(rc = buf_error(&path)))
		rc = fs_write_atomic(path.ptr, text.ptr, text.len, 0644);
	json_decref(doc);
	buf_release(&path);
	buf_release(&text);
	return rc;
}

static json_t *obj_json(const char *path, const struct data_obj *o)
{
	json_t *e = json_pack("{s:s,s:s,s:I}", "path", path, "sha256", o->sha256, "size", (json_int_t)o->size);

	if (o->is_dir) {
		json_object_set_new(e, "nfiles", json_integer(o->nfiles));
		json_object_set_new(e, "type", json_string("dir"));
	}
	return e;
}

static int obj_from_json(const json_t *e, struct data_obj *o)
{
	const char *h = json_string_value(json_object_get(e, "sha256"));

	memset(o, 0, sizeof(*o));
	if (!h || !sha256_is_hex(h))
		return -1;
	memcpy(o->sha256, h, sizeof(o->sha256));
	o->size = json_integer_value(json_object_get(e, "size"));
	o->nfiles = json_integer_value(json_object_get(e, "nfiles"));
	o->is_dir = !strcmp(json_string_value(json_object_get(e, "type")) ? json_string_value(json_object_get(e, "type")) : "",
			    "dir");
	return 0;
}

static json_t *find_by_path(json_t *list, const char *path)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		if (p && !strcmp(p, path))
			return e;
	}
	return NULL;
}

/* ---- fingerprints ---- */

struct snap {
	json_t *deps;      /* [{path, sha256, size, ...}] */
	json_t *params;    /* {file: {key: value}} */
	char fp[SHA256_HEX_LEN + 1];
};

static void snap_release(struct snap *s)
{
	json_decref(s->deps);
	json_decref(s->params);
	memset(s, 0, sizeof(*s));
}

static json_t *cmd_json(const struct pl_stage *s)
{
	json_t *c;

	if (s->ncmds == 1)
		return json_string(s->cmds[0]);
	c = json_array();
	for (size_t i = 0; i < s->ncmds; i++)
		json_array_append_new(c, json_string(s->cmds[i]));
	return c;
}

/* Hash the deps as they are now and compute the stage's fingerprint. With
 * missing, a dep that does not exist is listed there instead of failing. */
static int snapshot_ext(struct data_repo *r, const struct pl_stage *s, struct snap *sn, json_t *missing)
{
	json_t *fp = json_object(), *outs = json_array();
	char *text;
	int rc = 0;

	memset(sn, 0, sizeof(*sn));
	sn->deps = json_array();
	sn->params = json_object();
	for (size_t i = 0; i < s->ndeps; i++) {
		struct data_obj o;
		size_t sl = path_uri_scheme_len(s->deps[i].path);
		if (sl > 2 && !strncmp(s->deps[i].path + sl, "//", 2)) {
			/* a URL dep: not fetched nor hashed (its command reads it); listed as it is */
			json_array_append_new(sn->deps, json_pack("{s:s,s:s}", "path", s->deps[i].path, "url", "not hashed"));
			continue;
		}
		if ((rc = data_save_path(r, s->deps[i].path, false, &o))) {
			if (rc == CAIRN_ENOTFOUND && missing) {
				cairn_error_clear();
				json_array_append_new(missing, json_string(s->deps[i].path));
				rc = 0;
				continue;
			}
			rc = cairn_error_set(rc, "stage '%s': dep '%s': %s", s->name, s->deps[i].path, cairn_error_msg());
			break;
		}
		json_array_append_new(sn->deps, obj_json(s->deps[i].path, &o));
	}
	for (size_t i = 0; !rc && i < s->nparams; i++) {
		json_t *f = json_object_get(sn->params, s->params[i].file);
		if (!f) {
			f = json_object();
			json_object_set_new(sn->params, s->params[i].file, f);
		}
		json_object_set(f, s->params[i].key ? s->params[i].key : ".", s->params[i].value);
	}
	for (size_t i = 0; i < s->nouts; i++)
		json_array_append_new(outs, json_pack("{s:s,s:b}", "path", s->outs[i].path, "cache", s->outs[i].cache));
	json_object_set_new(fp, "cmd", cmd_json(s));
	json_object_set_new(fp, "wdir", json_string(s->wdir));
	json_object_set(fp, "deps", sn->deps);
	json_object_set(fp, "params", sn->params);
	json_object_set(fp, "env", s->env);
	json_object_set_new(fp, "outs", outs);
	text = json_dumps(fp, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!text && !rc)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (text) {
		sha256_hex(text, strlen(text), sn->fp);
		free(text);
	}
	json_decref(fp);
	if (rc)
		snap_release(sn);
	return rc;
}

static bool in_strings(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		if (!strcmp(json_string_value(e), s))
			return true;
	return false;
}

/* Why the stage is stale compared with its lock entry (empty: it is not);
 * deps in missing are absent (already reported). */
static int reasons(struct data_repo *r, const struct pl_stage *s, const struct snap *sn, json_t *entry,
		   const json_t *missing, json_t *out)
{
	json_t *ldeps = json_object_get(entry, "deps"), *louts = json_object_get(entry, "outs");
	char *a, *b;
	size_t i;
	json_t *e;

	if (s->always_changed)
		json_array_append_new(out, json_string("always_changed"));
	if (!entry) {
		json_array_append_new(out, json_string("never run"));
		return 0;
	}
	a = json_dumps(json_object_get(entry, "cmd"), JSON_COMPACT | JSON_ENCODE_ANY);
	{
		json_t *c = cmd_json(s);
		b = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(c);
	}
	if (!a || !b || strcmp(a, b))
		json_array_append_new(out, json_string("cmd changed"));
	free(a);
	free(b);
	json_array_foreach(sn->deps, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));
		json_t *old = find_by_path(ldeps, path);
		if (!old)
			json_array_append_new(out, json_sprintf("dep added: %s", path));
		else if (!json_equal(json_object_get(old, "sha256"), json_object_get(e, "sha256")))
			json_array_append_new(out, json_sprintf("dep changed: %s", path));
	}
	json_array_foreach(ldeps, i, e) {
		const char *path = json_string_value(json_object_get(e, "path"));
		if (path && !find_by_path(sn->deps, path) && !in_strings(missing, path))
			json_array_append_new(out, json_sprintf("dep removed: %s", path));
	}
	{
		const char *f, *k;
		json_t *keys, *v, *lp = json_object_get(entry, "params");
		json_object_foreach(sn->params, f, keys) {
			json_object_foreach(keys, k, v) {
				json_t *old = json_object_get(json_object_get(lp, f), k);
				if (!old || !json_equal(old, v)) {
					char *ov = old ? json_dumps(old, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
					char *nv = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
					json_array_append_new(out, json_sprintf("param changed: %s (%s -> %s)", k,
										ov ? ov : "unset", nv ? nv : "?"));
					free(ov);
					free(nv);
				}
			}
		}
		json_object_foreach(lp, f, keys)
			json_object_foreach(keys, k, v)
				if (!json_object_get(json_object_get(sn->params, f), k))
					json_array_append_new(out, json_sprintf("param removed: %s", k));
	}
	for (size_t k = 0; k < s->nouts; k++) {
		json_t *old = find_by_path(louts, s->outs[k].path);
		struct data_obj o;
		int rc;
		if (!old) {
			json_array_append_new(out, json_sprintf("out added: %s", s->outs[k].path));
			continue;
		}
		rc = data_save_path(r, s->outs[k].path, false, &o);
		if (rc == CAIRN_ENOTFOUND) {
			cairn_error_clear();
			json_array_append_new(out, json_sprintf("out missing: %s", s->outs[k].path));
		} else if (rc) {
			return rc;
		} else if (strcmp(o.sha256, json_string_value(json_object_get(old, "sha256")) ?: "")) {
			json_array_append_new(out, json_sprintf("out modified: %s", s->outs[k].path));
		}
	}
	if (!json_array_size(out) && strcmp(sn->fp, json_string_value(json_object_get(entry, "fingerprint")) ?: ""))
		json_array_append_new(out, json_string("fingerprint changed (env, wdir or outs)"));
	return 0;
}

/* Why a dep is absent: what will make it, or that it is data to pull. */
static json_t *missing_reason(const struct pipeline *p, const struct pl_stage *s, const char *dep)
{
	for (size_t k = 0; k < s->nup; k++) {
		const struct pl_stage *u = &p->v[s->up[k]];
		for (size_t j = 0; j < u->nouts; j++) {
			size_t n = strlen(u->outs[j].path);
			if (!strcmp(u->outs[j].path, dep) || (!strncmp(u->outs[j].path, dep, n) && dep[n] == '/'))
				return json_sprintf("dep missing: %s (an out of '%s', not made yet)", dep, u->name);
		}
	}
	for (size_t k = 0; k < s->npup; k++)
		return json_sprintf("dep missing: %s (tracked by %s: pull it)", dep, p->ptrs[s->pup[k]].file);
	return json_sprintf("dep missing: %s (no stage makes it)", dep);
}

int pipeline_status(struct pipeline *p, struct data_repo *r, json_t **report)
{
	json_t *lock = NULL, *stages = json_array();
	bool *stale = ccalloc(p->n + 1, sizeof(bool)), *pending = ccalloc(p->n + 1, sizeof(bool));
	int rc;

	if (!stale || !pending) {
		free(stale);
		free(pending);
		json_decref(stages);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	if ((rc = lock_load(p->root, &lock)))
		goto out;
	/* As dvc status: a stage is stale for its own deps, params, outs or
	 * command; a stage downstream of a stale one is not listed as changed
	 * (it may not need to run: early cutoff) but says what it waits for. */
	for (size_t oi = 0; !rc && oi < p->n; oi++) {
		size_t i = p->order[oi];
		const struct pl_stage *s = &p->v[i];
		json_t *why = json_array(), *after = json_array(), *missing = json_array(), *e, *st;
		struct snap sn;
		const char *state;
		size_t k;

		if (s->frozen) {
			state = "frozen";
		} else {
			if ((rc = snapshot_ext(r, s, &sn, missing))) {
				json_decref(why);
				json_decref(after);
				json_decref(missing);
				break;
			}
			json_array_foreach(missing, k, e)
				json_array_append_new(why, missing_reason(p, s, json_string_value(e)));
			if (json_object_get(lock, s->name) || json_array_size(missing) || !pl_dvc_lock_matches(p, s))
				rc = reasons(r, s, &sn, json_object_get(lock, s->name), missing, why);
			/* else: up to date as the committed dvc.lock records it */
			snap_release(&sn);
			for (k = 0; k < s->nup; k++)
				if (stale[s->up[k]] || pending[s->up[k]])
					json_array_append_new(after, json_string(p->v[s->up[k]].name));
			stale[i] = json_array_size(why) > 0;
			pending[i] = !stale[i] && json_array_size(after) > 0;
			state = stale[i] ? "stale" : "ok";
		}
		st = json_pack("{s:s,s:s,s:o}", "name", s->name, "state", state, "reasons", why);
		if (json_array_size(after))
			json_object_set(st, "after", after);
		json_decref(after);
		json_decref(missing);
		json_array_append_new(stages, st);
	}
	if (!rc)
		*report = json_pack("{s:O,s:s}", "stages", stages, "file", p->file);
out:
	free(stale);
	free(pending);
	json_decref(lock);
	json_decref(stages);
	return rc;
}

/* ---- repro ---- */

enum st_state { ST_SKIP_SEL, ST_PENDING, ST_RUNNING, ST_DONE, ST_FAILED, ST_BLOCKED };

struct rp {
	struct pipeline *p;
	struct data_repo *r;
	const struct repro_opts *o;
	json_t *lock;               /* stages -> entries, updated as stages finish */
	enum st_state *state;
	bool *forced;
	json_t **result;            /* per stage report */
	bool *changed;              /* its outs differ from before (for reporting) */
	int slots;                  /* free -j slots */
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t n_ran, n_unchanged, n_restored, n_failed, n_skipped;
	int err;                    /* a fatal error (writing the lock) */
	char errmsg[512];
	pthread_mutex_t hook_mu;    /* one hook call at a time */
	bool lock_dirty;            /* entries not written to cairn.lock yet */
	int64_t lock_saved_ns;      /* when it was last written */
	json_t *ignore;             /* cached outs to add to .gitignore at the end */
	/* the worker pool: the scheduler queues ready stages, -j workers run them */
	size_t *queue, qhead, qtail;
	pthread_cond_t work_cv;
	bool shutdown;
};

/* cairn.lock is written at most this often while stages complete, and at
 * the end; a stage that completed after the last write is restored from
 * the run cache next time, not rerun. */
#define LOCK_EVERY_NS 500000000LL

/* Write the lock when due (or when forced); called with rp->mu held. */
static int lock_flush(struct rp *rp, bool force)
{
	int64_t now = cairn_mono_ns();
	int rc;

	if (!rp->lock_dirty || (!force && now - rp->lock_saved_ns < LOCK_EVERY_NS))
		return 0;
	rc = lock_save(rp->p, rp->lock);
	rp->lock_dirty = false;
	rp->lock_saved_ns = now;
	return rc;
}

static void say(const struct rp *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct rp *rp, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (rp->o->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stdout, "%s\n", line);
	fflush(stdout);
}

/* Run cache: .cairn/cache/runs/<fp>.json lists the outs a past run of this
 * fingerprint produced; their objects are in the workspace cache. */
static int runcache_path(const struct rp *rp, const char *fp, struct buf *out)
{
	buf_clear(out);
	buf_printf(out, "%s/.cairn/cache/runs/%.2s/%s.json", rp->p->root, fp, fp + 2);
	return buf_error(out);
}

static json_t *runcache_get(const struct rp *rp, const char *fp)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	json_t *v = NULL;

	if (!runcache_path(rp, fp, &path) && !fs_read_file(path.ptr, 16 << 20, &text))
		v = json_loadb(text.ptr, text.len, 0, NULL);
	cairn_error_clear();
	buf_release(&path);
	buf_release(&text);
	if (v && !json_is_array(json_object_get(v, "outs"))) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static int runcache_put(const struct rp *rp, const char *fp, json_t *outs)
{
	struct buf path = BUF_INIT;
	json_t *doc = json_pack("{s:s,s:O}", "fingerprint", fp, "outs", outs);
	char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	int rc;

	if (!text)
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	else if (!(rc = runcache_path(rp, fp, &path))) {
		char *slash = strrchr(path.ptr, '/');
		*slash = '\0';
		rc = path_mkdirs(path.ptr);
		*slash = '/';
		if (!rc)
			rc = fs_write_atomic_opt(path.ptr, text, strlen(text), 0644, false);
	}
	free(text);
	json_decref(doc);
	buf_release(&path);
	return rc;
}

/* Remove an out before its stage runs (files and folders). */
static int remove_out(const char *root, const char *rel)
{
	struct buf abs = BUF_INIT;
	char *argv[] = { "rm", "-rf", "--", NULL, NULL };
	struct buf cap = BUF_INIT;
	struct stat sb;
	int code = 0, rc = 0;

	buf_printf(&abs, "%s/%s", root, rel);
	if (buf_error(&abs))
		return buf_error(&abs);
	if (lstat(abs.ptr, &sb) == 0) {
		if (S_ISDIR(sb.st_mode)) {
			argv[3] = abs.ptr;
			rc = proc_capture(argv, NULL, &cap, &code);
			if (!rc && code)
				rc = cairn_error_set(CAIRN_EIO, "cannot remove out '%s'", rel);
		} else if (unlink(abs.ptr) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot remove out '%s': %s", rel, strerror(errno));
		}
	}
	buf_release(&abs);
	buf_release(&cap);
	return rc;
}

/* The outs as they are after a run (stored in the cache when cache: true). */
static int collect_outs(struct rp *rp, const struct pl_stage *s, json_t **outs)
{
	int rc = 0;

	*outs = json_array();
	for (size_t k = 0; k < s->nouts; k++) {
		struct data_obj o;
		rc = data_save_path(rp->r, s->outs[k].path, s->outs[k].cache, &o);
		if (rc == CAIRN_ENOTFOUND) {
			rc = cairn_error_set(CAIRN_ENOTFOUND, "stage '%s' finished but did not write its out '%s'", s->name,
					     s->outs[k].path);
			break;
		}
		if (rc)
			break;
		json_t *e = obj_json(s->outs[k].path, &o);
		if (!s->outs[k].cache)
			json_object_set_new(e, "cache", json_false());
		json_array_append_new(*outs, e);
	}
	if (rc) {
		json_decref(*outs);
		*outs = NULL;
	}
	return rc;
}

static json_t *lock_entry(const struct pl_stage *s, const struct snap *sn, json_t *outs)
{
	json_t *e = json_object();

	json_object_set_new(e, "cmd", cmd_json(s));
	if (*s->wdir)
		json_object_set_new(e, "wdir", json_string(s->wdir));
	json_object_set_new(e, "fingerprint", json_string(sn->fp));
	if (json_array_size(sn->deps))
		json_object_set(e, "deps", sn->deps);
	if (json_object_size(sn->params))
		json_object_set(e, "params", sn->params);
	if (json_array_size(outs))
		json_object_set(e, "outs", outs);
	return e;
}

/* Are the outs on disk exactly those of the lock entry? */
static bool outs_match(struct rp *rp, const struct pl_stage *s, json_t *entry)
{
	json_t *louts = json_object_get(entry, "outs");

	for (size_t k = 0; k < s->nouts; k++) {
		json_t *old = find_by_path(louts, s->outs[k].path);
		struct data_obj o;
		if (!old || data_save_path(rp->r, s->outs[k].path, false, &o) ||
		    strcmp(o.sha256, json_string_value(json_object_get(old, "sha256")) ?: "")) {
			cairn_error_clear();
			return false;
		}
	}
	return true;
}

static int build_env(struct rp *rp, const struct pl_stage *s, struct proc_env *env)
{
	const char *k;
	json_t *v;
	int rc;

	if ((rc = proc_env_init(env, environ)))
		return rc;
	json_object_foreach(s->env, k, v)
		if ((rc = proc_env_set(env, k, json_string_value(v))))
			return rc;
	/* the running cairn, so a stage can call it without it being on PATH */
	{
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			if ((rc = proc_env_set(env, "CAIRN", self)))
				return rc;
		}
	}
	return proc_env_set(env, "CAIRN_STAGE", s->name);
}

static void hook_begin(struct rp *rp, const struct pl_stage *s, const struct snap *sn, bool cached, json_t **env,
		       char **run_id)
{
	const struct pl_hooks *h = rp->o->hooks;
	json_t *info;

	*env = NULL;
	*run_id = NULL;
	if (!h || !h->begin)
		return;
	info = json_pack("{s:s,s:O,s:O,s:b}", "fingerprint", sn->fp, "params", sn->params, "deps", sn->deps, "cached",
			 cached);
	pthread_mutex_lock(&rp->hook_mu);
	if (h->begin(h->arg, s, info, env, run_id))
		fprintf(stderr, "cairn repro: stage '%s': cannot record its run: %s\n", s->name, cairn_error_msg());
	pthread_mutex_unlock(&rp->hook_mu);
	json_decref(info);
}

static void hook_end(struct rp *rp, const struct pl_stage *s, const char *run_id, json_t *res, const struct snap *sn,
		     json_t *outs, const char *log)
{
	const struct pl_hooks *h = rp->o->hooks;
	json_t *r, *metrics = json_array();

	if (!h || !h->end || !run_id)
		return;
	for (size_t k = 0; k < s->nouts; k++)
		if (s->outs[k].kind == PL_METRIC)
			json_array_append_new(metrics, json_string(s->outs[k].path));
	r = json_deep_copy(res);
	json_object_set(r, "deps", sn->deps ? sn->deps : json_null());
	json_object_set(r, "params", sn->params ? sn->params : json_null());
	json_object_set(r, "outs", outs ? outs : json_null());
	json_object_set_new(r, "metrics", metrics);
	if (log)
		json_object_set_new(r, "log", json_string(log));
	pthread_mutex_lock(&rp->hook_mu);
	if (h->end(h->arg, s, run_id, r))
		fprintf(stderr, "cairn repro: stage '%s': cannot finish its run: %s\n", s->name, cairn_error_msg());
	pthread_mutex_unlock(&rp->hook_mu);
	json_decref(r);
}

void pl_log_name(const char *name, struct buf *out)
{
	for (; *name; name++)
		if (*name == '/')
			buf_puts(out, "__");
		else if (*name == ':')
			buf_puts(out, "--");
		else
			buf_putc(out, *name);
	buf_puts(out, ".log");
}

/* Decide and do: unchanged, restored from the run cache, or run. */
static void run_stage(struct rp *rp, size_t si)
{
	const struct pl_stage *s = &rp->p->v[si];
	struct snap sn = { 0 };
	json_t *entry, *outs = NULL, *res = json_pack("{s:s}", "name", s->name), *cached = NULL;
	struct proc_env env = PROC_ENV_INIT;
	struct buf wdir = BUF_INIT, logp = BUF_INIT;
	const char *result = "failed";
	char *run_id = NULL;
	json_t *henv = NULL;
	int rc;
	int64_t t0 = cairn_mono_ns();

	pthread_mutex_lock(&rp->mu);
	entry = json_incref(json_object_get(rp->lock, s->name));
	pthread_mutex_unlock(&rp->mu);
	{
		json_t *missing = json_array();
		if (!(rc = snapshot_ext(rp->r, s, &sn, missing)) && json_array_size(missing)) {
			json_t *why = missing_reason(rp->p, s, json_string_value(json_array_get(missing, 0)));
			rc = cairn_error_set(CAIRN_ENOTFOUND, "%s", json_string_value(why) ? json_string_value(why) : "dep missing");
			json_decref(why);
		}
		json_decref(missing);
		if (rc)
			goto done;
	}
	json_object_set_new(res, "fingerprint", json_string(sn.fp));
	if (!rp->forced[si] && !s->always_changed && !entry && pl_dvc_lock_matches(rp->p, s)) {
		/* DVC ran it and nothing changed since: adopt its dvc.lock entry (outs into the cache) */
		result = "unchanged";
		json_object_set_new(res, "adopted", json_string("dvc.lock"));
		if (rp->o->dry)
			goto done;
		outs = json_array();
		for (size_t k = 0; k < s->nouts; k++) {
			struct data_obj o;
			json_t *x;
			if ((rc = data_save_path(rp->r, s->outs[k].path, s->outs[k].cache, &o)))
				goto done;
			x = obj_json(s->outs[k].path, &o);
			if (!s->outs[k].cache)
				json_object_set_new(x, "cache", json_false());
			json_array_append_new(outs, x);
		}
		if (s->nouts && (rc = runcache_put(rp, sn.fp, outs)))
			goto done;
		pthread_mutex_lock(&rp->mu);
		json_object_set_new(rp->lock, s->name, lock_entry(s, &sn, outs));
		rp->lock_dirty = true;
		rc = lock_flush(rp, false);
		pthread_mutex_unlock(&rp->mu);
		goto done;
	}
	if (!rp->forced[si] && !s->always_changed && entry &&
	    !strcmp(sn.fp, json_string_value(json_object_get(entry, "fingerprint")) ?: "") && outs_match(rp, s, entry)) {
		result = "unchanged";
		goto done;
	}
	/* the run cache: this exact fingerprint ran before and its outs are cached */
	if (!rp->forced[si] && !s->always_changed && !rp->o->no_run_cache && s->nouts &&
	    (cached = runcache_get(rp, sn.fp))) {
		bool ok = true;
		size_t k;
		json_t *e;
		json_array_foreach(json_object_get(cached, "outs"), k, e) {
			struct data_obj o, now;
			if (!ok || obj_from_json(e, &o)) {
				ok = false;
			} else if (json_is_false(json_object_get(e, "cache"))) {
				/* not in the cache (metrics kept in git): usable when it is already there */
				ok = !data_save_path(rp->r, json_string_value(json_object_get(e, "path")), false, &now) &&
				     !strcmp(now.sha256, o.sha256);
				cairn_error_clear();
			} else {
				ok = data_have_obj(rp->r, &o);
			}
		}
		ok = ok && json_array_size(json_object_get(cached, "outs")) == s->nouts;
		if (ok && !rp->o->dry) {
			hook_begin(rp, s, &sn, true, &henv, &run_id);
			json_object_set_new(res, "cached", json_true());
			json_array_foreach(json_object_get(cached, "outs"), k, e) {
				struct data_obj o;
				obj_from_json(e, &o);
				if (!json_is_false(json_object_get(e, "cache")) &&
				    (rc = data_restore_path(rp->r, json_string_value(json_object_get(e, "path")), &o)))
					goto done;
			}
			/* the lock entry in its usual form, whatever the run cache file's key order */
			outs = json_array();
			json_array_foreach(json_object_get(cached, "outs"), k, e) {
				struct data_obj o;
				json_t *x;
				obj_from_json(e, &o);
				x = obj_json(json_string_value(json_object_get(e, "path")), &o);
				if (json_is_false(json_object_get(e, "cache")))
					json_object_set_new(x, "cache", json_false());
				json_array_append_new(outs, x);
			}
			result = "restored";
			goto record;
		} else if (ok) {
			result = "restored";
			goto done;
		}
	}
	if (rp->o->dry) {
		result = "ran";
		goto done;
	}
	/* run it */
	for (size_t k = 0; k < s->nouts; k++)
		if (!s->outs[k].persist && (rc = remove_out(rp->p->root, s->outs[k].path)))
			goto done;
	for (size_t k = 0; k < s->nouts; k++) {
		/* the folder an out goes into exists before the command runs */
		struct buf d = BUF_INIT;
		char *slash;
		buf_printf(&d, "%s/%s", rp->p->root, s->outs[k].path);
		if ((slash = strrchr(d.ptr, '/')) && !buf_error(&d)) {
			*slash = '\0';
			rc = path_mkdirs(d.ptr);
		}
		buf_release(&d);
		if (rc)
			goto done;
	}
	buf_printf(&wdir, "%s%s%s", rp->p->root, *s->wdir ? "/" : "", s->wdir);
	buf_printf(&logp, "%s/.cairn/tmp/logs", rp->p->root);
	hook_begin(rp, s, &sn, false, &henv, &run_id);
	if ((rc = buf_error(&wdir)) || (rc = buf_error(&logp)) || (rc = path_mkdirs(logp.ptr)) ||
	    (rc = build_env(rp, s, &env)))
		goto done;
	{
		const char *k;
		json_t *v;
		json_object_foreach(henv, k, v)
			if (json_is_string(v) && (rc = proc_env_set(&env, k, json_string_value(v))))
				goto done;
	}
	buf_putc(&logp, '/');
	pl_log_name(s->name, &logp);
	if (!buf_error(&logp))
		unlink(logp.ptr);
	{
		struct exec_req rq = { .name = s->name, .cmds = s->cmds, .ncmds = s->ncmds, .wdir = wdir.ptr,
				       .env = proc_env_array(&env), .timeout_ms = s->timeout_ms, .retries = s->retries,
				       .log_path = logp.ptr, .quiet = rp->o->quiet, .interrupted = rp->o->interrupted };
		struct exec_result er = { 0 };
		say(rp, "running stage '%s'", s->name);
		if ((rc = exec_stage(&rq, &er)))
			goto done;
		json_object_set_new(res, "exit_code", json_integer(er.exit_code));
		json_object_set_new(res, "attempts", json_integer(er.attempts));
		json_object_set_new(res, "log", json_string(logp.ptr));
		if (er.interrupted) {
			result = "interrupted";
			goto done;
		}
		if (er.exit_code) {
			json_object_set_new(res, "error", er.timed_out ? json_sprintf("timed out after %lld ms", (long long)s->timeout_ms)
								      : json_sprintf("exit code %d", er.exit_code));
			goto done;
		}
	}
	if ((rc = collect_outs(rp, s, &outs)))
		goto done;
	if (s->nouts && (rc = runcache_put(rp, sn.fp, outs)))
		goto done;
	result = "ran";
record:
	pthread_mutex_lock(&rp->mu);
	/* cached outs stay out of git, as DVC does (written at the end) */
	for (size_t k = 0; k < s->nouts; k++)
		if (s->outs[k].cache)
			json_array_append_new(rp->ignore, json_string(s->outs[k].path));
	json_object_set_new(rp->lock, s->name, lock_entry(s, &sn, outs));
	rp->lock_dirty = true;
	rc = lock_flush(rp, false);
	pthread_mutex_unlock(&rp->mu);
done:
	if (rc) {
		json_object_set_new(res, "error", json_string(cairn_error_msg()));
		result = "failed";
	}
	json_object_set_new(res, "result", json_string(result));
	json_object_set_new(res, "seconds", json_real((double)(cairn_mono_ns() - t0) / 1e9));
	if (run_id) {
		json_object_set_new(res, "run_id", json_string(run_id));
		hook_end(rp, s, run_id, res, &sn, outs, logp.len ? logp.ptr : NULL);
	}
	free(run_id);
	json_decref(henv);
	snap_release(&sn);
	json_decref(entry);
	json_decref(outs);
	json_decref(cached);
	proc_env_release(&env);
	buf_release(&wdir);
	buf_release(&logp);
	pthread_mutex_lock(&rp->mu);
	rp->result[si] = res;
	rp->state[si] = strcmp(result, "failed") && strcmp(result, "interrupted") ? ST_DONE : ST_FAILED;
	if (!strcmp(result, "ran"))
		rp->n_ran++;
	else if (!strcmp(result, "unchanged"))
		rp->n_unchanged++;
	else if (!strcmp(result, "restored"))
		rp->n_restored++;
	else
		rp->n_failed++;
	rp->slots += s->cpus;
	rp->running--;
	if (!strcmp(result, "failed"))
		say(rp, "stage '%s' failed: %s", s->name, json_string_value(json_object_get(res, "error")) ?: "");
	else if (!strcmp(result, "restored"))
		say(rp, "stage '%s' restored from the run cache", s->name);
	else if (!strcmp(result, "interrupted"))
		say(rp, "stage '%s' interrupted", s->name);
	/* a live progress line on a terminal only */
	if (!rp->o->quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "\r\033[K[%lld ran, %lld unchanged, %lld restored, %lld failed, %d running]%s",
			(long long)rp->n_ran, (long long)rp->n_unchanged, (long long)rp->n_restored, (long long)rp->n_failed,
			rp->running, rp->running ? "" : "\r\033[K");
	pthread_cond_signal(&rp->cv);
	pthread_mutex_unlock(&rp->mu);
}

static void *worker(void *arg)
{
	struct rp *rp = arg;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&rp->mu);
		while (!rp->shutdown && rp->qhead == rp->qtail)
			pthread_cond_wait(&rp->work_cv, &rp->mu);
		if (rp->qhead == rp->qtail) {
			pthread_mutex_unlock(&rp->mu);
			return NULL;
		}
		i = rp->queue[rp->qhead++];
		pthread_mutex_unlock(&rp->mu);
		run_stage(rp, i);
	}
}

/* Mark the stages to consider: targets, their upstream, maybe downstream. */
static int select_stages(struct rp *rp)
{
	struct pipeline *p = rp->p;
	const struct repro_opts *o = rp->o;
	bool *sel = ccalloc(p->n + 1, sizeof(bool));
	int rc = 0;

	if (!sel)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!o->ntargets) {
		for (size_t i = 0; i < p->n; i++) {
			sel[i] = true;
			rp->forced[i] = o->force;
		}
	} else {
		for (size_t t = 0; t < o->ntargets; t++)
			if ((rc = pipeline_select(p, o->targets[t], sel)))
				goto out;
		for (size_t i = 0; i < p->n; i++)
			rp->forced[i] = sel[i] && o->force;
		/* upstream (what the targets need), in reverse topological order */
		if (!o->single)
			for (size_t oi = p->n; oi-- > 0;) {
				size_t i = p->order[oi];
				if (sel[i])
					for (size_t k = 0; k < p->v[i].nup; k++)
						sel[p->v[i].up[k]] = true;
			}
		if (o->downstream || (o->force && !o->single)) {
			bool *tgt = ccalloc(p->n + 1, sizeof(bool));
			if (!tgt) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto out;
			}
			for (size_t t = 0; t < o->ntargets; t++)
				pipeline_select(p, o->targets[t], tgt);
			for (size_t oi = 0; oi < p->n; oi++) {
				size_t i = p->order[oi];
				for (size_t k = 0; k < p->v[i].nup; k++)
					if (tgt[p->v[i].up[k]])
						tgt[i] = sel[i] = true;
			}
			free(tgt);
		}
	}
	for (size_t i = 0; i < p->n; i++)
		rp->state[i] = sel[i] && !p->v[i].frozen ? ST_PENDING : ST_SKIP_SEL;
out:
	free(sel);
	return rc;
}

int pipeline_repro(struct pipeline *p, struct data_repo *r, const struct repro_opts *o, json_t **report)
{
	struct rp rp = { .p = p, .r = r, .o = o };
	json_t *stages = json_array();
	int jobs = o->jobs > 0 ? o->jobs : 1, rc, nworkers = 0;
	pthread_t *workers = NULL;

	rp.state = ccalloc(p->n + 1, sizeof(*rp.state));
	rp.forced = ccalloc(p->n + 1, sizeof(bool));
	rp.result = ccalloc(p->n + 1, sizeof(json_t *));
	rp.slots = jobs;
	rp.ignore = json_array();
	rp.queue = ccalloc(p->n + 1, sizeof(size_t));
	rp.lock_saved_ns = cairn_mono_ns();
	pthread_mutex_init(&rp.mu, NULL);
	pthread_mutex_init(&rp.hook_mu, NULL);
	pthread_cond_init(&rp.cv, NULL);
	pthread_cond_init(&rp.work_cv, NULL);
	if (!rp.state || !rp.forced || !rp.result || !rp.queue || !(workers = ccalloc((size_t)jobs, sizeof(pthread_t)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = lock_load(p->root, &rp.lock)) || (rc = select_stages(&rp)))
		goto out;
	for (int w = 0; w < jobs && (size_t)w < p->n; w++) {
		if (pthread_create(&workers[w], NULL, worker, &rp) != 0) {
			rc = cairn_error_set(CAIRN_ERR, "cannot start a worker thread");
			break;
		}
		nworkers++;
	}
	if (rc)
		goto stop;
	pthread_mutex_lock(&rp.mu);
	for (;;) {
		bool pending = false, started = false;
		for (size_t oi = 0; oi < p->n; oi++) {
			size_t i = p->order[oi];
			const struct pl_stage *s = &p->v[i];
			bool ready = true, blocked = false;
			if (rp.state[i] != ST_PENDING)
				continue;
			pending = true;
			for (size_t k = 0; k < s->nup; k++) {
				enum st_state u = rp.state[s->up[k]];
				if (u == ST_FAILED || u == ST_BLOCKED)
					blocked = true;
				else if (u == ST_PENDING || u == ST_RUNNING)
					ready = false;
			}
			if (blocked || (o->interrupted && *o->interrupted)) {
				rp.state[i] = ST_BLOCKED;
				rp.n_skipped++;
				rp.result[i] = json_pack("{s:s,s:s,s:s}", "name", s->name, "result", "skipped", "error",
							 blocked ? "an upstream stage failed" : "interrupted");
				started = true; /* state changed: scan again */
				continue;
			}
			/* a stage wider than -j runs alone */
			int need = s->cpus < jobs ? s->cpus : jobs;
			if (rc || !ready || need > rp.slots)
				continue;
			rp.state[i] = ST_RUNNING;
			rp.slots -= s->cpus; /* given back when it ends */
			rp.running++;
			rp.queue[rp.qtail++] = i;
			pthread_cond_signal(&rp.work_cv);
			started = true;
		}
		if (rc && !rp.running)
			break;
		if (!pending && !rp.running)
			break;
		if (!started || rp.running) {
			/* wake at least twice a second to write a lock that is due */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += LOCK_EVERY_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rp.cv, &rp.mu, &ts);
			if (lock_flush(&rp, false) && !rc)
				rc = cairn_error_code() ? cairn_error_code() : CAIRN_EIO;
		}
	}
	{
		int frc = lock_flush(&rp, true);
		if (!rc)
			rc = frc;
	}
	pthread_mutex_unlock(&rp.mu);
stop:
	pthread_mutex_lock(&rp.mu);
	rp.shutdown = true;
	pthread_cond_broadcast(&rp.work_cv);
	pthread_mutex_unlock(&rp.mu);
	for (int w = 0; w < nworkers; w++)
		pthread_join(workers[w], NULL);
	if (!rc && json_array_size(rp.ignore))
		rc = data_gitignore_many(r, rp.ignore);
	if (rc)
		goto out;
	for (size_t oi = 0; oi < p->n; oi++)
		if (rp.result[p->order[oi]])
			json_array_append(stages, rp.result[p->order[oi]]);
	*report = json_pack("{s:O,s:I,s:I,s:I,s:I,s:I,s:b}", "stages", stages, "ran", (json_int_t)rp.n_ran, "unchanged",
			    (json_int_t)rp.n_unchanged, "restored", (json_int_t)rp.n_restored, "failed",
			    (json_int_t)rp.n_failed, "skipped", (json_int_t)rp.n_skipped, "interrupted",
			    o->interrupted && *o->interrupted);
out:
	for (size_t i = 0; rp.result && i < p->n; i++)
		json_decref(rp.result[i]);
	free(rp.result);
	free(rp.state);
	free(rp.queue);
	free(workers);
	free(rp.forced);
	json_decref(rp.lock);
	json_decref(rp.ignore);
	json_decref(stages);
	pthread_cond_destroy(&rp.cv);
	pthread_cond_destroy(&rp.work_cv);
	pthread_mutex_destroy(&rp.mu);
	pthread_mutex_destroy(&rp.hook_mu);
	return rc;
}
