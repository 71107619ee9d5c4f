/* validate.h - data validation: expectation suites over CSV tables, in Great Expectations' vocabulary.
 *
 * A suite (docs/validation.md) is YAML or JSON: a `name` and a list of
 * `expectations`, each with a `type` - cairn's short name (not_null,
 * between, ...) or Great Expectations' full one
 * (expect_column_values_to_not_be_null, ...) - and its arguments, written
 * flat beside `type` or in a GX-style `kwargs` mapping, with an optional
 * `mostly` (row-wise expectations only) and `meta`.
 *
 * validate_suite_parse() checks the whole suite before anything is read:
 * an unknown type or key, a missing argument, min_value > max_value, a bad
 * regex, `mostly` on an aggregate - CAIRN_EINVALID with a message naming
 * the file, the YAML line and the expectation ("suite.yaml:7: expectation 2
 * (between): ...").
 *
 * validate_file() streams the table once: each record feeds the row-wise
 * (map) expectations and the profile builder of stats/profile.h, from which
 * the aggregates (mean, std, quantiles, distinct count...) are read after
 * the pass. Memory is constant in the row count, except for `unique`, which
 * keeps a hash set of the distinct values of its column (at most
 * VALIDATE_UNIQUE_MAX, else CAIRN_ETOOBIG). The result is a new JSON object
 * shaped like GX's ExpectationSuiteValidationResult. A table that cannot be
 * read (no header, a ragged record, malformed quoting, bytes that are not
 * UTF-8) is an error naming its line, not a failed expectation; a column a
 * suite names that the table lacks fails that expectation.
 *
 * validate_suggest() drafts a suite from a profile (profile_file's JSON)
 * that passes on the table profiled.
 *
 * Objects returned through ** are owned by the caller.
 */
#ifndef CAIRN_STATS_VALIDATE_H
#define CAIRN_STATS_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define VALIDATE_PARTIAL_MAX 20                  /* failing values listed per expectation (GX's default) */
#define VALIDATE_UNIQUE_MAX ((size_t)1 << 26)    /* distinct values `unique` may hold */
#define VALIDATE_SUGGEST_SET_MAX 20              /* values of a categorical column for in_set */

struct vsuite;

struct validate_options {
	char delim;          /* CSV delimiter; 0 means ',' */
	const char *name;    /* what the result's meta says the data is; NULL: the path */
};

/* Parse and check a suite of len bytes; what names it in messages (a path). */
int validate_suite_parse(const char *text, size_t len, const char *what, struct vsuite **out);
void validate_suite_free(struct vsuite *s);
/* The suite's name ("" when it has none) and number of expectations. */
const char *validate_suite_name(const struct vsuite *s);
size_t validate_suite_size(const struct vsuite *s);

/* Validate the CSV table at path ("-": standard input) against s. */
int validate_file(const struct vsuite *s, const char *path, const struct validate_options *opt, json_t **out);
/* The same over a table held in memory. */
int validate_buffer(const struct vsuite *s, const char *data, size_t len, const struct validate_options *opt,
		    json_t **out);

/* cairn's short name for an expectation type (short or GX name); NULL when unknown. */
const char *validate_short_name(const char *type);

/* A suite (JSON, flat short-name form) drafted from a profile: the row count
 * within +-50 %, the column set, and per column its type, not_null when it
 * has no nulls, between its min and max when numeric, in_set when
 * categorical with at most VALIDATE_SUGGEST_SET_MAX values. */
int validate_suggest(const json_t *profile, const char *name, json_t **out);

#endif
