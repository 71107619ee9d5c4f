/* registry.h - the model registry: registered models, versions, tags, aliases,
 * stages, URI resolution, promotion through gates, and the audit log.
 *
 * Same conventions as tracking.h: every function takes one store connection,
 * runs in its own transaction, returns 0 or a negative CAIRN_E* code with a
 * message (MLflow's wording where MLflow has one), and hands back jansson
 * objects in MLflow's JSON shape (RegisteredModel, ModelVersion) owned by the
 * caller. Version numbers are allocated from a per-model counter inside the
 * write transaction, so concurrent creators get distinct consecutive numbers
 * and a deleted version's number is never reused (as MLflow).
 * `user` arguments name who acted, for the audit log ("" when unknown).
 */
#ifndef CAIRN_REGISTRY_REGISTRY_H
#define CAIRN_REGISTRY_REGISTRY_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"
#include "tracking/tracking.h"

#define REG_MAX_NAME 256
#define REG_MAX_TAG_VALUE 100000
#define REG_MAX_ALIAS 255
#define REG_MAX_DESCRIPTION 5000
#define REG_MODELS_DEFAULT_PAGE 100
#define REG_MODELS_MAX_PAGE 1000
#define REG_VERSIONS_DEFAULT_PAGE 10000
#define REG_VERSIONS_MAX_PAGE 200000

/* ---- registered models ---- */
int reg_model_create(struct store *st, const char *name, json_t *tags, const char *description, json_t **out);
int reg_model_get(struct store *st, const char *name, json_t **out);
int reg_model_rename(struct store *st, const char *name, const char *new_name, const char *user, json_t **out);
int reg_model_update(struct store *st, const char *name, const char *description, json_t **out);
int reg_model_delete(struct store *st, const char *name, const char *user);
/* pg: filter, order_by, max_results, page_token (view is ignored). */
int reg_model_search(struct store *st, const struct trk_page *pg, json_t **out, char **next);
/* stages: NULL/0 means every stage. *out: array of ModelVersion. */
int reg_latest_versions(struct store *st, const char *name, const char *const *stages, size_t n, json_t **out);
int reg_model_set_tag(struct store *st, const char *name, const char *key, const char *value);
int reg_model_delete_tag(struct store *st, const char *name, const char *key);

/* ---- aliases ---- */
int reg_alias_set(struct store *st, const char *name, const char *alias, const char *version, const char *user);
int reg_alias_delete(struct store *st, const char *name, const char *alias, const char *user);
int reg_version_by_alias(struct store *st, const char *name, const char *alias, json_t **out);

/* ---- model versions ---- */
struct reg_version_new {
	const char *name, *source, *run_id, *run_link, *description, *model_id, *user;
	json_t *tags; /* array of {key, value} or NULL */
};
int reg_version_create(struct store *st, const struct reg_version_new *v, json_t **out);
int reg_version_get(struct store *st, const char *name, const char *version, json_t **out);
int reg_version_update(struct store *st, const char *name, const char *version, const char *description,
		       json_t **out);
int reg_version_delete(struct store *st, const char *name, const char *version, const char *user);
int reg_version_search(struct store *st, const struct trk_page *pg, json_t **out, char **next);
/* The URI the version's files are read from (*out: malloc'd). */
int reg_version_download_uri(struct store *st, const char *name, const char *version, char **out);
int reg_version_transition(struct store *st, const char *name, const char *version, const char *stage,
			   bool archive_existing, const char *user, json_t **out);
int reg_version_set_tag(struct store *st, const char *name, const char *version, const char *key,
			const char *value);
int reg_version_delete_tag(struct store *st, const char *name, const char *version, const char *key);

/* Resolve "models:/name/3", "models:/name@alias", "models:/name/Stage",
 * "models:/name/latest" or "models:/m-<id>" to the URI holding the files. */
int reg_resolve_uri(struct store *st, const char *uri, char **out);

/* ---- promotion and audit ---- */
/* Move alias `to` onto the version named by `from` (an alias or a version
 * number) when every requirement holds, comparing the latest metrics of the
 * two versions' runs. One write transaction: the checks, the alias move, the
 * version tag cairn.promotion.<to> and the audit entry commit together.
 * *out: {"promoted": bool, "name", "to", "candidate": {version, run_id},
 * "incumbent": {version, run_id} | null, "checks": [...]}. A failed gate is
 * not an error (0, promoted false, nothing changed but the audit entry);
 * a bad expression is CAIRN_EINVALID, an unknown model/version/alias
 * CAIRN_ENOTFOUND. */
int reg_promote(struct store *st, const char *name, const char *from, const char *to,
		const char *const *require, size_t n_require, const char *user, json_t **out);
/* Audit entries of one model (or all when name is NULL), newest first. */
int reg_audit_list(struct store *st, const char *name, int64_t limit, json_t **out);

#endif
