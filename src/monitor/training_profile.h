/* training_profile.h - the training profile of a model version: made at `cairn models log --profile`,
 * read back by `cairn models profile` and `cairn drift --reference models:/...`.
 *
 * The profile (docs/profiles.md) lives inside the logged model directory as
 * TRAINING_PROFILE_FILE, so it travels with the model's files (downloads,
 * packages, MLflow clients); the run and the registered version carry the
 * tag TRAINING_PROFILE_TAG = its run-relative artifact path.
 *
 *	struct buf text = BUF_INIT;
 *	json_t *prof = NULL;
 *	bool none = false;
 *	if (training_profile_load(cl, "models:/churn@champion", &text, &prof, &none))
 *		... none ? "has no training profile" : cairn_error_msg() ...
 */
#ifndef CAIRN_MONITOR_TRAINING_PROFILE_H
#define CAIRN_MONITOR_TRAINING_PROFILE_H

#include <jansson.h>
#include <stdbool.h>

#include "client/client.h"
#include "core/buf.h"

#define TRAINING_PROFILE_FILE "training_profile.json"      /* its name in the model directory */
#define TRAINING_PROFILE_TAG "cairn.training_profile"      /* run and version tag: its artifact path */
#define TRAINING_PROFILE_MAX ((size_t)1 << 30)              /* largest profile read */

/* The profile JSON text for `--profile PATH` into text: PATH ending in
 * .json is an existing profile (parsed and checked with profile_check, its
 * bytes kept), anything else a table profiled as `cairn profile` does
 * (.jsonl/.ndjson as JSON lines, .tsv with tabs). Errors name PATH. */
int training_profile_make(const char *path, struct buf *text);

/* True when ref names a model rather than a table or profile file: a
 * models:/, runs:/, mlflow-artifacts: or file: URI, or a directory. */
bool training_profile_is_model_uri(const char *ref);

/* The training profile of the model uri names (any URI `cairn serve` takes;
 * cl may be NULL for a local directory): its text into text and, when
 * profile is not NULL, the parsed and checked profile into *profile (owned
 * by the caller). When the model exists but has no profile the error is
 * CAIRN_ENOTFOUND, with a message saying so, and *none is set. */
int training_profile_load(struct client *cl, const char *uri, struct buf *text, json_t **profile, bool *none);

/* True when ref is a URI that resolves through a tracking store (models:/,
 * runs:/, mlflow-artifacts:): training_profile_load needs a client for it. */
bool training_profile_needs_store(const char *ref);

/* The reference of a drift monitor: a model (training_profile_is_model_uri:
 * its training profile; cl as for training_profile_load), a profile (a path
 * ending in .json, checked with profile_check) or a table (profiled as
 * `cairn profile` does; .jsonl as JSON lines). *out is owned by the caller. */
int monitor_reference_load(struct client *cl, const char *ref, json_t **out);

#endif
