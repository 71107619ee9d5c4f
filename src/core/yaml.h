/* yaml.h - the one YAML wrapper of cairn, over libyaml.
 *
 * cyaml_parse() reads one YAML document into a jansson tree, resolving plain
 * scalars by the YAML 1.2 core schema:
 *   null, Null, NULL, ~, empty          -> JSON null
 *   true/True/TRUE, false/False/FALSE   -> JSON true/false
 *   123, -7, 0x1F, 0o17                 -> JSON integer (a decimal too big for
 *                                          int64 becomes a real)
 *   1.5, -2e3, .5, .inf, -.Inf, .nan    -> JSON real (non-finite values become
 *                                          the strings "Infinity", "-Infinity",
 *                                          "NaN", as in core/json.h)
 *   anything else, and every quoted or block scalar -> JSON string
 * Mappings become objects in document order (keys must be scalars, duplicate
 * keys are an error, "<<" merge keys are honoured), sequences become arrays.
 * Aliases are expanded by deep copy, under limits on the expanded node count,
 * the expanded scalar bytes and the nesting depth, so a "billion laughs"
 * document fails fast instead of eating memory. Tags: the core ones
 * (!!str !!int !!float !!bool !!null !!map !!seq, and "!"); any other is an
 * error. An empty stream or an empty document is JSON null; a second document
 * is an error.
 *
 * Errors: CAIRN_EINVALID for malformed YAML, CAIRN_ETOOBIG for a limit, both
 * with a message "line L, column C: problem" (1-based); CAIRN_ENOMEM.
 *
 * cyaml_dump() writes block-style YAML that cyaml_parse() (and PyYAML's
 * safe_load) read back as the same JSON: strings that would resolve to
 * anything else, under YAML 1.2 or 1.1 rules, are quoted.
 *
 * The tree returned through json_t ** is owned by the caller (json_decref).
 */
#ifndef CAIRN_CORE_YAML_H
#define CAIRN_CORE_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"

/* Default limits of cyaml_parse(). */
#define CYAML_MAX_NODES 1000000             /* nodes after alias expansion */
#define CYAML_MAX_BYTES ((size_t)256 << 20) /* scalar bytes after alias expansion */
#define CYAML_MAX_DEPTH 256                 /* nested mappings/sequences */

struct cyaml_limits {
	size_t max_nodes;  /* scalars + collections, counting each alias expansion */
	size_t max_bytes;  /* bytes of scalar text (keys included), same counting */
	int max_depth;     /* collections nested inside each other */
};

/* Parse `len` bytes of YAML (one document) into *out. */
int cyaml_parse(const char *text, size_t len, json_t **out);
/* The same with explicit limits (a zero field takes the default). */
int cyaml_parse_limits(const char *text, size_t len, const struct cyaml_limits *lim,
		       json_t **out);

/* cyaml_parse, also recording where each value stands: *lines (owned by the
 * caller) maps the JSON pointer of every mapping member and sequence item
 * ("/stages/train/cmd", "/stages/train/deps/0") to its 1-based line (a
 * member's line is its key's). Values merged in by "<<" are not listed. */
int cyaml_parse_lines(const char *text, size_t len, json_t **out, json_t **lines);
/* The line of pointer in lines, or of its nearest listed ancestor; 0 when none. */
int cyaml_line(const json_t *lines, const char *pointer);

/* Set the scalar at a dotted key path ("train.eta") of a block-style YAML
 * document to value_text (inserted as written: quote it first if needed),
 * editing only that line so comments and layout stay; the result is
 * appended to out.
 * CAIRN_ENOTFOUND when the key is not written as plain nested block
 * mappings with a scalar value (the caller may rewrite the document). */
int cyaml_set_scalar(const char *text, size_t len, const char *path, const char *value_text, struct buf *out);

/* Append v as a block-style YAML document to out, object keys in their order. */
int cyaml_dump(const json_t *v, struct buf *out);
/* The same with the keys of every object sorted bytewise (PyYAML's default,
 * which MLflow's files follow). */
int cyaml_dump_sorted(const json_t *v, struct buf *out);

#endif
