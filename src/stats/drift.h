/* drift.h - data drift between a reference and a current table (or their profiles), per column and overall.
 *
 * Per column the test is chosen as Evidently chooses it by default (the
 * reference's non-null row count against 1000, the column's type, the
 * distinct values of both sides) with Evidently's thresholds, so verdicts are
 * comparable; every applicable test is also reported. Beyond Evidently:
 * a two-sample chi-squared of homogeneity next to Evidently's one-sample one,
 * and a null-share test (Evidently drops nulls before testing, so a column
 * that goes from 0 % to 20 % nulls passes). docs/drift.md has the rules and
 * the JSON ("kind": "cairn.drift", schema_version 1).
 *
 * Either side may be a table (CSV or JSON lines) or a profile (cairn profile's
 * JSON). On tables the tests are exact (scipy's numbers, see stattest.h). On
 * profiles they run on the sketches: exact while a column's sketch still
 * holds its values (up to 16384), else within the KLL rank error, the KS
 * p-value from the asymptotic distribution, Sturges bins counted from the
 * sketch.
 */
#ifndef CAIRN_STATS_DRIFT_H
#define CAIRN_STATS_DRIFT_H

#include "core/buf.h"
#include "stats/profile.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A test (and/or threshold) chosen for one column. */
struct drift_override {
	const char *column;
	const char *test;      /* NULL: the default choice */
	double threshold;      /* < 0: the test's default */
};

struct drift_options {
	double drift_share;            /* dataset drift when drifted columns / columns >= this; 0 means 0.5 */
	double null_share_threshold;   /* least absolute change in null share that counts; 0 means 0.02, < 0 off */
	const char *num_test;          /* test for numerical columns instead of the default choice, or NULL */
	const char *cat_test;          /* for categorical columns, or NULL */
	const struct drift_override *overrides;
	size_t noverrides;
	struct profile_options read;   /* how tables are read */
};

/* The names of the tests, for usage messages: "ks, wasserstein, ...". */
const char *drift_test_names(void);

/* Compare the table or profile at ref_path with the one at cur_path (a path
 * ending in .json is read as a profile); *out is the new drift JSON. */
int drift_files(const char *ref_path, const char *cur_path, const struct drift_options *opt, json_t **out);
/* Compare two profiles (borrowed). */
int drift_profiles(const json_t *ref, const json_t *cur, const struct drift_options *opt, json_t **out);
/* Compare the profile ref (borrowed, already loaded: a model's training
 * profile) with the table or profile at cur_path; the result's "reference"
 * names it ref_name (a model URI). */
int drift_with_reference_json(const json_t *ref, const char *ref_name, const char *cur_path,
			      const struct drift_options *opt, json_t **out);
/* Whether a drift result (from drift_files/drift_profiles) declares dataset drift. */
bool drift_detected(const json_t *result);

/* A self-contained HTML report of a drift result (no scripts, no network:
 * inline CSS and SVG histograms), appended to out. */
int drift_report_html(const json_t *result, struct buf *out);

#endif
