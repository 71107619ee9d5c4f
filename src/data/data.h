/* data.h - data versioning: pointer files, the workspace cache, remotes.
 *
 * A workspace is a directory tree (normally a git repository) with a .cairn/
 * folder at its root: .cairn/config (YAML, meant for git: remotes, cache
 * link strategy), .cairn/cache (a blob store of the tracked data),
 * .cairn/tmp (the stat cache and the lock; ignored by git).
 *
 * `data_add` hashes files or directories (SHA-256, in parallel, through a
 * (device, inode, size, mtime_ns) -> digest stat cache so unchanged files are
 * never re-read), puts their content into the cache, and writes a pointer
 * file "<path>.cairn" beside each: small, stable YAML that goes into git. A
 * directory becomes a manifest object listing (path, sha256, size, mode) of
 * every file, sorted; the pointer names the manifest. Checkout makes the
 * workspace match the pointers, push/pull move missing objects to and from a
 * remote (a directory with the same layout), gc drops what no pointer in the
 * chosen scope references. docs/data.md describes the formats.
 *
 * Every operation returns a JSON report (owned by the caller) that the CLI
 * prints as text or JSON. Errors follow core/error.h; a command that fails
 * part-way leaves the cache and workspace consistent (objects are written
 * whole or not at all; workspace files are replaced by rename).
 */
#ifndef CAIRN_DATA_DATA_H
#define CAIRN_DATA_DATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct data_repo;

struct data_opts {
	const char *cwd;     /* where relative paths start (NULL: the process's cwd) */
	int jobs;            /* worker threads (0: one per core for hashing, 8 for transfers) */
	bool quiet;          /* no progress line */
	bool force;          /* checkout/pull: overwrite changes that are not in the cache */
	const char *remote;  /* push/pull/fetch/status: remote name (NULL: the default) */
	bool no_remote;      /* status: do not look at the remote */
};

/* Find the workspace that holds opts->cwd (the nearest directory upwards with
 * a .cairn folder, not above the enclosing git repository's top; else that
 * git top level; else cwd itself), create .cairn/ there if missing, and take
 * the workspace lock. */
int data_repo_open(const struct data_opts *o, struct data_repo **out);
void data_repo_close(struct data_repo *r);
const char *data_repo_root(const struct data_repo *r);

/* Track paths (files or directories). Report: {"added": [{path, pointer,
 * sha256, size, nfiles, type, changed}]} */
int data_add(struct data_repo *r, char *const *paths, size_t n, json_t **report);
/* Make the workspace match the pointers (all of them when n == 0). Targets
 * are data paths or pointer files. Report: {"checkout": [{path, written,
 * deleted, unchanged, failed}], "failed": N} */
int data_checkout(struct data_repo *r, char *const *targets, size_t n, json_t **report);
/* What differs: {"entries": [{path, pointer, state, added[], modified[],
 * deleted[], not_in_cache, not_pushed}], "remote": name|null} */
int data_status(struct data_repo *r, char *const *targets, size_t n, json_t **report);
/* Copy objects the remote lacks to it: {"remote", "uploaded", "bytes", "present", "failed": [..]} */
int data_push(struct data_repo *r, char *const *targets, size_t n, json_t **report);
/* Copy objects the cache lacks from the remote, verifying each. */
int data_fetch(struct data_repo *r, char *const *targets, size_t n, json_t **report);
/* fetch, then checkout. */
int data_pull(struct data_repo *r, char *const *targets, size_t n, json_t **report);
/* Re-hash every cache object: {"checked", "corrupt": [hex...]} */
int data_fsck(struct data_repo *r, json_t **report);

/* gc scope: the workspace's pointers are always kept. */
struct data_gc_scope {
	bool all_commits, all_branches, all_tags;
	char *const *revs;
	size_t nrevs;
	bool workspace;  /* at least one scope must be named */
	bool dry_run;
};
int data_gc(struct data_repo *r, const struct data_gc_scope *s, json_t **report);

/* Remotes and settings in .cairn/config. */
int data_remote_add(struct data_repo *r, const char *name, const char *url, bool make_default);
int data_remote_remove(struct data_repo *r, const char *name);
int data_remote_default(struct data_repo *r, const char *name);
/* {"default": name|null, "remotes": {name: url}} */
int data_remote_list(struct data_repo *r, json_t **out);
/* Read (value NULL; *out gets a string or null) or set a config key
 * ("cache.type", "core.remote"). */
int data_config(struct data_repo *r, const char *key, const char *value, json_t **out);

/* Content objects of workspace paths, for the pipeline engine (outs and the
 * run cache). rel is workspace-relative, or absolute
 * for an external dependency (hashed only: save must be false). */
struct data_obj {
	char sha256[65];   /* of the file, or of the folder's manifest */
	int64_t size, nfiles;
	bool is_dir;
};
/* Hash a file or folder through the stat cache; with save, also store its
 * content (and manifest) in the cache. CAIRN_ENOTFOUND when rel is absent. */
int data_save_path(struct data_repo *r, const char *rel, bool save, struct data_obj *o);
/* Make rel hold object o exactly (replacing whatever is there, deleting
 * files a folder does not list); CAIRN_ENOTFOUND naming what the cache lacks. */
int data_restore_path(struct data_repo *r, const char *rel, const struct data_obj *o);
/* The content of the cached file object sha256 (up to max bytes) into out;
 * CAIRN_ENOTFOUND when the cache does not hold it. */
int data_read_obj(struct data_repo *r, const char *sha256, size_t max, struct buf *out);
/* True when o (and, for a folder, its manifest and every member) is in the cache. */
bool data_have_obj(struct data_repo *r, const struct data_obj *o);

/* Add "/name" to the .gitignore beside rel (what DVC does for outputs). */
int data_gitignore(struct data_repo *r, const char *rel);
/* The same for many paths (a JSON array of strings), each .gitignore read
 * and written once. */
int data_gitignore_many(struct data_repo *r, const json_t *rels);

/* The project's DVC files below root, sorted, workspace-relative: every
 * *.dvc file (*dvcfiles) and, when yamls is not NULL, every dvc.yaml. Folders
 * DVC tracks (a <name>.dvc beside them), .git, .dvc, .cairn and node_modules
 * are not entered. The caller owns both arrays. */
int data_find_dvc_files(const char *root, json_t **dvcfiles, json_t **yamls);

/* Convert a DVC project (.dvc files and the local DVC cache, MD5-addressed)
 * into cairn pointers, verifying every object. lock_outs (taken, may be
 * NULL): more outs to import, as a dvc.lock records them: [{path
 * (workspace-relative), md5, hash, isexec, dvc_file}]. */
int data_import_dvc(struct data_repo *r, const char *dvc_dir, json_t *lock_outs, json_t **report);

#endif
