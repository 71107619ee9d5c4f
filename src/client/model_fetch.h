/* model_fetch.h - model URIs: resolve one to where its files are, and download them.
 *
 * The URIs of `cairn serve`, `cairn models download` and MLflow's
 * mlflow.artifacts.download_artifacts:
 *
 *	models:/churn/3            a registry version
 *	models:/churn@champion     the version an alias names
 *	models:/churn/latest       the highest version (any stage)
 *	models:/churn/Production   the highest version in a stage
 *	models:/m-<id>             an MLflow 3 logged model (any models:/X without a suffix)
 *	models:/churn/3/sub/path   a path under a version's files (also after @alias)
 *	runs:/<run_id>/model       a run's artifact path, or the run's logged model of that name
 *	mlflow-artifacts:/1/...    a path in the server's artifact tree
 *	/path/to/dir, file:///...  a local model directory (with MLmodel) or a bare model file
 *
 * client_model_resolve() is metadata only (one to three JSON calls; none for
 * local paths): what a server serving an alias polls to notice that the alias
 * moved. client_model_fetch() downloads the files under the resolved source,
 * recursively, into a cache directory named by a hash of the source, the
 * listing (paths and sizes) and the registered_model_meta file MLflow adds,
 * so the same version is downloaded once. Files go into a temporary folder
 * beside the entry ("<parent>/.cairn-fetch-<pid>-<n>"), are fsync'd, and the
 * folder is renamed into place when complete: an interrupted download leaves
 * no entry, and the next fetch removes temporary folders whose process is
 * gone. Paths from a listing pass path_clean_rel() and must be one component
 * each, so a lying server cannot write outside the folder; sizes are checked
 * against the listing.
 *
 *	struct model_ref ref = { 0 };
 *	if (client_model_resolve(cl, "models:/churn@champion", &ref) ||
 *	    client_model_fetch(cl, &ref, cache_root))
 *		... cairn_error_msg() ...
 *	load(ref.dir);
 *	model_ref_dispose(&ref);
 *
 * Remote clients list and download through the mlflow-artifacts proxy
 * (GET /api/2.0/mlflow-artifacts/artifacts?path=, then .../artifacts/<path>,
 * each file streamed to disk); local ones read the root's blob store
 * (reflinked where the filesystem can, copied otherwise). Only
 * mlflow-artifacts: sources can be fetched (the locations cairn serves);
 * others (s3://, a server-side path) are CAIRN_EUNSUPPORTED.
 */
#ifndef CAIRN_CLIENT_MODEL_FETCH_H
#define CAIRN_CLIENT_MODEL_FETCH_H

#include <stdbool.h>

#include "client/client.h"
#include "core/buf.h"

/* What a URI named. */
enum model_ref_kind {
	MODEL_REF_VERSION = 1, /* models:/name/N, /latest, /Stage, @alias: a registry version */
	MODEL_REF_LOGGED,      /* models:/<model_id>: an MLflow 3 logged model */
	MODEL_REF_RUN,         /* runs:/<run_id>[/path] */
	MODEL_REF_ARTIFACTS,   /* mlflow-artifacts:/path */
	MODEL_REF_DIR,         /* a local directory holding MLmodel */
	MODEL_REF_FILE,        /* a local bare model file (model.ubj, model.json, model.pkl...) */
};

/* A resolved model. Every string is owned by the ref (model_ref_dispose
 * frees them) and NULL when it does not apply or is not known. */
struct model_ref {
	enum model_ref_kind kind; /* what uri named (0 before a parse) */
	char *uri;                /* the URI as given */
	char *name;               /* registered model name (VERSION) */
	char *version;            /* version number, as a decimal string ("3") (VERSION) */
	char *alias;              /* the alias the URI named (models:/name@alias) */
	char *stage;              /* the stage or "latest" the URI named, as written */
	char *model_id;           /* the logged model ("m-..."): LOGGED, or behind a version or run */
	char *run_id;             /* the run that produced the model, when known */
	char *path;               /* the artifact path the URI adds: inside the run for runs:/ ("model"; "" for the
				   * root), under the version's files for models:/name/1/<path>; "" or NULL for none */
	char *source;             /* the artifact URI holding the files ("mlflow-artifacts:/1/..."); NULL for local kinds */
	char *dir;                /* the local directory of the model: after a fetch, or at resolve for DIR/FILE */
	char *file;               /* the model file when the model is one file (FILE, or a single-file source) */
};

/* Free the strings of ref and zero it (ref itself is the caller's). */
void model_ref_dispose(struct model_ref *ref);

/* Parse uri into ref (kind, uri and the fields the URI itself carries: name,
 * version, alias, stage, model_id, run_id, path, and source for
 * mlflow-artifacts:), without any lookup. A models:/ URI may go on with
 * an artifact path, and trailing '/' are dropped, as in MLflow's
 * split_models_uri: models:/name/1/sub/file, models:/name@alias/sub. Local paths are not checked here.
 * CAIRN_EINVALID with MLflow's message for a malformed models:/ or runs:/
 * URI, and for an unknown scheme. ref is disposed first. */
int model_ref_parse(const char *uri, struct model_ref *ref);

/* Resolve uri: parse it, then ask the store (through cl; cl may be NULL
 * for local paths) which version, run and artifact source it names:
 *   VERSION: registered-models/alias, model-versions/get or
 *     get-latest-versions, then model-versions/get-download-uri;
 *   LOGGED:  logged-models/<id>;
 *   RUN:     runs/get, then logged-models/search for a logged model of the
 *     run named by the path's first component (MLflow 3 logs models there);
 * a source that is itself a runs:/ or models:/ URI is resolved in turn.
 * Local paths are checked (MLmodel in a directory; a regular file) and
 * ref->dir (absolute) and ref->file are set. Errors: the store's, with
 * MLflow's messages (CAIRN_ENOTFOUND for an unknown model, version, alias,
 * run or logged model), CAIRN_EINVALID for a malformed URI. Downloads
 * nothing. ref is disposed first and left disposed on failure. */
int client_model_resolve(struct client *cl, const char *uri, struct model_ref *ref);

/* Download the files of a resolved ref into the cache under cache_root
 * (created as needed) unless an entry for the same source and listing is
 * there already; sets ref->dir (and ref->file for a single-file source).
 * For local kinds nothing is downloaded (ref->dir is already set). On
 * failure nothing is left in cache_root but what was there. */
int client_model_fetch(struct client *cl, struct model_ref *ref, const char *cache_root);

/* Download the files of a resolved ref into the directory dest, which must
 * not exist or be empty (then it is replaced), the same way: a temporary
 * folder beside dest renamed into place when complete. Sets ref->dir to
 * dest (absolute). CAIRN_EEXISTS when dest has files; CAIRN_EINVALID for a
 * local kind (nothing to download). */
int client_model_fetch_to(struct client *cl, struct model_ref *ref, const char *dest);

/* Read the file `name` (one path component, e.g. "training_profile.json")
 * of a resolved ref into out, at most max bytes: from the local directory
 * for local kinds, else from the resolved source, whose listing must name it
 * (so its size is known before anything is read; a remote file goes through
 * an unnamed temporary file). Nothing is cached. CAIRN_ENOTFOUND, with a
 * message naming the model and the file, when the model has no such file
 * (a bare model file has none); CAIRN_ETOOBIG past max. */
int client_model_read_file(struct client *cl, const struct model_ref *ref, const char *name, size_t max,
			   struct buf *out);

/* The default cache root, appended to out: $CAIRN_MODEL_CACHE, else
 * $XDG_CACHE_HOME/cairn/models, else $HOME/.cache/cairn/models. */
int client_model_cache_default(struct buf *out);

/* True when a and b name the same files: the same kind, version and source
 * (for local kinds: the same dir and file). Whether either was fetched does
 * not matter, so a poller compares a fresh resolve with the ref it serves
 * and swaps models when this turns false. */
bool model_ref_same(const struct model_ref *a, const struct model_ref *b);

#endif
