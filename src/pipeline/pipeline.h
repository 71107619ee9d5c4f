/* pipeline.h - reproducible pipelines: cairn.yaml / dvc.yaml, the DAG,
 * fingerprints, cairn.lock, and running what changed.
 *
 * pipeline_load() reads cairn.yaml (or, when there is none, dvc.yaml) at the
 * workspace root with the params files it names, expands foreach/matrix
 * stages, interpolates ${...} from params.yaml and vars, makes every path
 * workspace-relative, and builds the DAG (an out produced by one stage and
 * depended on by another is an edge). Every mistake is reported as
 * "FILE:LINE: message" (YAML syntax, unknown keys, a cycle with its stages,
 * two stages writing one out, a dep that neither exists nor is produced, a
 * missing param key).
 *
 * A stage's fingerprint is the SHA-256 of its resolved commands, the content
 * hashes of its deps and the values of its params. repro runs a stage when
 * its fingerprint or outs differ from cairn.lock, restores outs from the
 * run cache when the fingerprint was seen before, and stores outs in the
 * workspace cache after a successful run (see docs/pipelines.md).
 */
#ifndef CAIRN_PIPELINE_PIPELINE_H
#define CAIRN_PIPELINE_PIPELINE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "data/data.h"

enum pl_out_kind { PL_OUT, PL_METRIC, PL_PLOT };

struct pl_out {
	char *path;            /* workspace-relative */
	enum pl_out_kind kind;
	bool cache;            /* stored in the cache (default true; metrics/plots: false unless set) */
	bool persist;          /* not deleted before the command runs */
	json_t *opts;          /* its options as written ({x, y, template, ...}; NULL: none) (owned) */
	int line;
};

struct pl_param {
	char *file;            /* workspace-relative params file */
	char *key;             /* dotted key, NULL: the whole file */
	json_t *value;         /* its current value (owned) */
	int line;
};

struct pl_dep {
	char *path;            /* workspace-relative */
	int line;
};

struct pl_stage {
	char *name;            /* its address: "name" in the root file, "sub/dvc.yaml:name" in another */
	char *src;             /* the file that defines it, workspace-relative */
	char **cmds;           /* resolved commands */
	size_t ncmds;
	char *wdir;            /* workspace-relative, "" for the root */
	struct pl_dep *deps;
	size_t ndeps;
	struct pl_param *params;
	size_t nparams;
	struct pl_out *outs;
	size_t nouts;
	bool frozen, always_changed;
	int retries;
	int64_t timeout_ms;    /* 0: none */
	int cpus;              /* slots of -j it takes (default 1) */
	int64_t memory;        /* bytes, 0: unset (informational for the local executor) */
	int gpus;
	json_t *env;           /* {name: string} (owned) */
	int line;
	size_t *up;            /* stages it depends on (indexes) */
	size_t nup;
	size_t *pup;           /* pointer files whose data it reads (indexes in ptrs) */
	size_t npup;
};

/* A DVC pointer file (data/raw.csv.dvc): a node of the DAG as `dvc dag` draws
 * it, not a stage (nothing runs it; `cairn data import-dvc` imports it). */
struct pl_pointer {
	char *file;            /* workspace-relative .dvc file */
	char **outs;           /* workspace-relative paths it tracks */
	size_t nouts;
};

struct pipeline {
	char *file;            /* "cairn.yaml", "dvc.yaml", or the first of files */
	json_t *files;         /* every pipeline file read, workspace-relative */
	struct pl_pointer *ptrs;
	size_t nptrs;
	char *root;            /* workspace root (absolute) */
	struct pl_stage *v;
	size_t n;
	size_t *order;         /* a topological order (file order among equals) */
	json_t *triggers;      /* checked "triggers:" list: [{cron: EXPR} | {every: ms} | {watch: path}] */
	json_t *metrics;       /* top-level "metrics:" files: ["repo-relative path", ...] */
	json_t *plots;         /* top-level "plots:" entries: [{"base": folder of the file ("" root), "def": as written}] */
};

/* Load and check the pipeline of the workspace at root. file NULL: cairn.yaml
 * when the root has one, else every dvc.yaml of the workspace (subfolders
 * too, as DVC reads a repository: stages of sub/dvc.yaml are named
 * "sub/dvc.yaml:stage", their paths are relative to sub/); or one
 * workspace-relative file. The .dvc pointer files are read as DAG nodes. */
int pipeline_load(const char *root, const char *file, struct pipeline **out);
void pipeline_free(struct pipeline *p);
/* Index of a stage by name, or -1. */
long pipeline_find(const struct pipeline *p, const char *name);
/* The stages a target names, as DVC resolves targets: a stage address
 * ("train", "sub/dvc.yaml:train"), a foreach/matrix group ("train" for
 * train@*), a pipeline file (every stage in it), or a stage name unique in
 * the workspace. sel[i] is set for each; CAIRN_ENOTFOUND (or CAIRN_EINVALID
 * when ambiguous) with a message otherwise. */
int pipeline_select(const struct pipeline *p, const char *target, bool *sel);

/* ---- triggers (cron.c; cairn server --pipeline) ---- */

/* A five-field cron expression: minute hour day-of-month month day-of-week,
 * each "*", N, A-B, lists and /steps (Sunday is 0 or 7). */
struct cron {
	uint64_t bits[5];
	bool dom_star, dow_star;
};
int cron_parse(const char *expr, struct cron *c);
/* Does the (local) time t fall on the expression? */
bool cron_match(const struct cron *c, const struct tm *t);

/* ---- status and repro (repro.c) ---- */

/* Tracking hooks: the CLI connects them to the tracking store or server so
 * each stage execution becomes a run. The engine calls them from stage
 * threads, one call at a time. A hook error is reported on stderr and the
 * stage goes on: tracking never decides whether a pipeline runs.
 *   begin: a stage is about to run or be restored. info = {fingerprint,
 *          params {file: {key: value}}, deps [..], cached (restored)}. It may
 *          return *env: {NAME: value} for the stage's commands, and *run_id
 *          (malloc'd; the engine frees it).
 *   end:   the stage is over. result = the stage's report plus deps, outs,
 *          params, log (path of its output), metrics (paths). */
struct pl_hooks {
	void *arg;
	int (*begin)(void *arg, const struct pl_stage *s, const json_t *info, json_t **env, char **run_id);
	int (*end)(void *arg, const struct pl_stage *s, const char *run_id, const json_t *result);
};

struct repro_opts {
	char *const *targets;  /* stage names (NULL/0: all) */
	size_t ntargets;
	bool force;            /* run the targets (all when none) even when unchanged */
	bool downstream;       /* also the stages that depend on the targets */
	bool single;           /* only the targets, not what they depend on */
	bool dry;              /* say what would run, run nothing */
	bool no_run_cache;     /* never restore outs from the run cache */
	bool keep_going;       /* (always on) independent stages finish after a failure */
	int jobs;              /* parallel stages (0: 1) */
	bool quiet;            /* no stage output streamed */
	volatile sig_atomic_t *interrupted;
	const struct pl_hooks *hooks; /* NULL: no tracking */
};

/* The cached outs of the stages as their committed dvc.lock records them
 * (what `cairn data import-dvc` imports): [{path (workspace-relative), md5,
 * hash, isexec, size, dvc_file}]. Caller owns it. (dvclock.c) */
json_t *pipeline_dvc_lock_outs(const struct pipeline *p);

/* The file name of a stage's log (in .cairn/tmp/logs/ and the run's logs/
 * artifacts): its name with "/" as "__" and ":" as "--", then ".log". */
struct buf;
void pl_log_name(const char *name, struct buf *out);

/* The DAG as `cairn dag --json` prints it and a tracked repro stores with its
 * run: {"file", "stages": [{name, after, deps, outs}]} in topological order.
 * Caller owns it; NULL when out of memory. */
json_t *pipeline_dag_json(const struct pipeline *p);
/* Which stages are stale and why: {"stages": [{name, state: "ok"|"stale"|
 * "frozen", reasons: [..]}]} */
int pipeline_status(struct pipeline *p, struct data_repo *r, json_t **report);
/* Run what changed. Report: {"stages": [{name, result: "ran"|"unchanged"|
 * "restored"|"failed"|"skipped"|"interrupted", ...}], "ran", "unchanged",
 * "restored", "failed", "skipped"}. Returns 0 when the report was made
 * (even with failed stages), an error when nothing could be attempted. */
int pipeline_repro(struct pipeline *p, struct data_repo *r, const struct repro_opts *o, json_t **report);

#endif
