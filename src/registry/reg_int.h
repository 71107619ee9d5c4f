/* reg_int.h - helpers shared inside the registry subsystem (not public). */
#ifndef CAIRN_REGISTRY_INT_H
#define CAIRN_REGISTRY_INT_H

#include "registry/registry.h"
#include "tracking/trk_int.h"

int reg__parse_version(const char *s, int64_t *out);
int reg__check_alias(const char *alias);
int reg__model_id(struct store *st, const char *name, int64_t *id);
int reg__version_key(struct store *st, const char *name, const char *version, int64_t *id, int64_t *ver);
int reg__alias_version(struct store *st, int64_t id, const char *alias, int64_t *ver);
int reg__load_version(struct store *st, int64_t id, int64_t ver, json_t **out);
/* details: owned (stolen). */
int reg__alias_set(struct store *st, int64_t id, const char *name, const char *alias, int64_t ver,
		   const char *user, json_t *details);
int reg__version_tag(struct store *st, int64_t id, int64_t ver, const char *key, const char *value);
/* details: owned (stolen); NULL for none. */
int reg__audit(struct store *st, const char *user, const char *action, const char *model, int64_t version,
	       const char *alias, json_t *details);

#endif
