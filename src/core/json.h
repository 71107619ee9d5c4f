/* json.h - the one JSON wrapper of cairn, over jansson.
 *
 * Request decoding with MLflow-style validation (every failure is
 * CAIRN_EINVALID with a message naming the field), and encoding helpers that
 * follow protobuf's JSON mapping where MLflow does (non-finite doubles as the
 * strings "NaN", "Infinity", "-Infinity"; int64 accepted as number or string).
 * Values returned through json_t ** are owned by the caller (json_decref);
 * strings returned through const char ** are borrowed from the object.
 */
#ifndef CAIRN_CORE_JSON_H
#define CAIRN_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

/* Parse `n` bytes as one JSON object (an empty body is an empty object). */
int cjson_parse_object(const char *data, size_t n, json_t **out);

/* What MLflow's server appends to its messages about request fields. */
#define CJSON_API_DOCS " See the API docs for more information about request parameters."
/* Record MLflow's message for a missing required field / a field of the
 * wrong type (path names it: "run_id", "metrics[0].timestamp"); both return
 * CAIRN_EINVALID. */
int cjson_missing(const char *path);
int cjson_invalid(const char *path, const json_t *v);
/* Python's name for the type of v after json.loads ("dict", "list", "str",
 * "int", "float", "bool", "NoneType"): what MLflow's messages name. */
const char *cjson_py_type(const json_t *v);

/* Field accessors. `required`: absence (or JSON null, or "") is an error.
 * When absent and optional they return 0 and leave *out untouched; they
 * return 1 when the value was present and stored. */
int cjson_get_str(json_t *obj, const char *key, bool required, const char **out);
int cjson_get_int64(json_t *obj, const char *key, bool required, int64_t *out);
int cjson_get_double(json_t *obj, const char *key, bool required, double *out);
int cjson_get_bool(json_t *obj, const char *key, bool required, bool *out);
/* An array field; absent gives 0 and *out untouched. */
int cjson_get_array(json_t *obj, const char *key, bool required, json_t **out);

/* Parse a decimal int64 string fully ("12x" fails). */
int cjson_parse_int64(const char *s, int64_t *out);
/* Parse a double, accepting NaN/Infinity/-Infinity spellings. */
int cjson_parse_double(const char *s, double *out);

/* Every leaf of v into out under dotted keys from prefix ("train" + {"eta":
 * 0.1} -> "train.eta"). numbers_only: only numbers, as reals, arrays walked
 * by index ("a.0"); else every leaf as a string (arrays as their compact
 * JSON). */
void cjson_flatten(const char *prefix, json_t *v, json_t *out, bool numbers_only);

/* A new JSON value for d: a real, or "NaN"/"Infinity"/"-Infinity". */
json_t *cjson_double(double d);
/* json_string that never fails on invalid UTF-8 (bytes are replaced). */
json_t *cjson_string(const char *s);
/* Set key to a new reference (steals v); ignores NULL v. */
void cjson_set(json_t *obj, const char *key, json_t *v);
/* Like cjson_set, but an empty array is dropped instead (protobuf's JSON
 * mapping omits empty repeated fields, and MLflow's responses follow it). */
void cjson_set_repeated(json_t *obj, const char *key, json_t *arr);

/* Encoder primitives, for responses too large to build as jansson objects
 * first (100,000-point metric histories): append one JSON double (protobuf
 * spelling for non-finite values) or one JSON string to b. */
void cjson_put_double(struct buf *b, double d);
void cjson_put_string(struct buf *b, const char *s, size_t n);

/* Serialize compactly into b (appending). */
int cjson_dump(const json_t *v, struct buf *b);
/* The same with Python's json.dumps separators (", " and ": "), for bodies
 * that must read as MLflow's Python servers write them. */
int cjson_dump_spaced(const json_t *v, struct buf *b);

/* jansson allocates through the fault-injectable layer (core/fault.h). A
 * failed allocation inside jansson shows as a missing member, not an error,
 * so every one is also recorded on its thread: an edge that builds a reply
 * clears the mark first and fails the request when it is set after. */
void cjson_oom_clear(void);
bool cjson_oom_seen(void);

#endif
