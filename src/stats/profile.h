/* profile.h - one-pass profiles of tables: per-column statistics and sketches, as mergeable JSON.
 *
 * A profile (docs/profiles.md, "kind": "cairn.profile", schema_version 1)
 * holds, per column: the inferred type (core/csv.h's reading of each field),
 * count, nulls, min/max, mean and standard deviation (compensated sums),
 * quantiles and a 20-bin histogram (exact up to SK_EXACT_MAX values, then
 * from a KLL sketch), distinct count (exact while the value table holds
 * every value, else HyperLogLog) and the most frequent values; and for the
 * table: rows, missing cells, empty and duplicated rows, constant columns.
 * The "sketch" block of each column is what merging needs; the rest is
 * derived from it, so merge(profile(A), profile(B)) describes A then B
 * within the sketches' stated error (exactly, for what is not sketched).
 *
 * Memory is bounded per column whatever the row count (the duplicate-row
 * set alone grows with distinct rows, up to PROFILE_ROWSET_MAX).
 */
#ifndef CAIRN_STATS_PROFILE_H
#define CAIRN_STATS_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_SCHEMA_VERSION 1
#define PROFILE_ROWSET_MAX ((size_t)1 << 23)   /* distinct rows tracked for duplicated_rows */
#define PROFILE_TOP_K 10

struct profile_options {
	char delim;          /* CSV delimiter; 0 means ',' */
	bool jsonl;          /* the input is JSON lines (one object per line), not CSV */
	unsigned threads;    /* worker threads for a regular file; 0 means one per usable core */
	const char *name;    /* what "source.file" says; NULL: the path's last component */
};

/* Profile the table at path ("-" for standard input); *out is a new JSON profile. */
int profile_file(const char *path, const struct profile_options *opt, json_t **out);
/* Profile a table held in memory (CSV, or JSON lines with opt->jsonl). */
int profile_buffer(const char *data, size_t len, const struct profile_options *opt, json_t **out);
/* ---- profiles of rows given one by one (a window of served requests) ----
 * Each row is a JSON object: its members are the columns' values (strings,
 * numbers, booleans, null), read as the JSON-lines reader reads them. The
 * columns are names[0..n) in that order (a column a row lacks is null there;
 * members that are not columns are ignored and counted), or, with names
 * NULL, the first row's keys. */
struct profile_rows;
int profile_rows_new(const char *const *names, size_t n, struct profile_rows **out);
int profile_rows_add(struct profile_rows *r, const json_t *row);
/* Rows added so far, and members ignored because they were not columns. */
uint64_t profile_rows_count(const struct profile_rows *r);
uint64_t profile_rows_ignored(const struct profile_rows *r);
/* The profile of the rows so far (new), with source (borrowed, may be NULL). */
int profile_rows_profile(const struct profile_rows *r, json_t *source, json_t **out);
void profile_rows_free(struct profile_rows *r);

/* Merge two profiles (borrowed) of tables with the same columns in the same
 * order into a new one; CAIRN_EINVALID when they are not profiles or differ in columns. */
int profile_merge(const json_t *a, const json_t *b, json_t **out);
/* Check that j is a profile this version reads (kind and schema_version), CAIRN_EINVALID if not. */
int profile_check(const json_t *j);

#endif
