/* stats_int.h - private to src/stats: the profile builder that profile.c, its readers and drift.c share. */
#ifndef CAIRN_STATS_INT_H
#define CAIRN_STATS_INT_H

#include "core/csv.h"
#include "stats/profile.h"
#include "stats/sketch.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define PROF_NUM_CAP 16384    /* distinct numbers counted exactly */
#define PROF_TEXT_CAP 65536   /* distinct texts counted exactly */
#define PROF_FREQ_STORE 4096  /* value counts written into a profile's sketch block */
#define PROF_ROWS_AHEAD 8     /* row hashes held back (their slots prefetched) before the row set takes them */

/* One column being profiled. */
struct prof_col {
	char *name;
	uint64_t kinds[CCSV_TEXT + 1];   /* fields of each kind; kinds[CCSV_EMPTY] are the nulls */
	/* numeric values (integer, float, boolean, datetime), finite ones only */
	uint64_t nnum;
	double min, max;
	double shift, s1, c1, s2, c2;     /* compensated sums of x - shift and its square */
	double sum, csum;                 /* compensated sum of x */
	uint64_t zeros, negatives, nans, infs;
	struct sk_quant q;
	struct sk_freq fnum;              /* numbers -> counts */
	struct sk_hll hnum;
	/* texts: counted once the column has held one (earlier numbers are carried over) */
	bool has_text;
	struct sk_freq ftext;
	struct sk_hll htext;
};

/* The finite numeric values of one column (kept for drift tests on raw
 * tables; profile_keep.c): in no particular order, packed as m / 10^scale
 * where that is exact, and not held at all while the column's number
 * table holds every distinct value (started false). */
struct prof_vec {
	double *v;        /* the values, when not packed */
	int32_t *m;       /* packed: value i is m[i] / 10^scale, bit for bit */
	size_t n, cap;    /* values held, room for */
	int scale;        /* packed: the decimal scale, 0..9 */
	int32_t big;      /* packed: the largest |m[i]| */
	bool packed;      /* m holds the values (else v) */
	bool started;     /* the vector holds the values (else the number table does, with counts) */
};

/* A table being profiled: a header, then records. */
struct prof {
	size_t ncols;
	struct prof_col *col;
	struct prof_vec *keep;           /* NULL, or ncols vectors that every numeric value is appended to */
	int64_t bytes;                   /* size of the file read (prof_read_file), -1 when not a regular file */
	uint64_t rows, missing_cells, empty_rows;
	/* distinct rows by 64-bit hash, for duplicated_rows */
	uint64_t *rowset;
	size_t rowset_slots, rowset_used;
	uint64_t rows_hashed;            /* rows offered to the set (all of them while it had room) */
	bool rowset_full;
	bool dup_exact;                  /* false once rows were not all hashed (or after a merge from JSON) */
	uint64_t dup_known;              /* duplicates counted in profiles merged from JSON */
	/* the last rows' hashes, not yet in the set: a ring, oldest at ahead_head */
	uint64_t ahead[PROF_ROWS_AHEAD];
	unsigned ahead_n, ahead_head;
};

/* Records held so that the columns take them column by column
 * (prof_batch_flush): a column's values then go through one tight loop,
 * its running sums in registers, its sketches fed in bulk. The result is
 * the one prof_add_record gives, record by record, bit for bit. */
#define PROF_BATCH 256                 /* records held */
#define PROF_BATCH_BYTES (4u << 20)    /* field bytes held before a flush, whatever the count */
struct prof_batch {
	size_t ncols;
	size_t rows;                   /* records held */
	size_t line[PROF_BATCH];       /* the line of each (for messages) */
	char *bytes;                   /* their field bytes */
	size_t len, cap;
	size_t *off;                   /* field (row r, column c) is bytes[off[c * PROF_BATCH + r]...] */
	size_t *n;                     /* and has n[c * PROF_BATCH + r] bytes */
};

int prof_batch_init(struct prof_batch *b, size_t ncols);
void prof_batch_free(struct prof_batch *b);
/* Hold a record of nfields fields (copied) for p; the held ones go into p
 * first when the batch is full, and before a record with the wrong number
 * of fields is reported. */
int prof_batch_add(struct prof *p, struct prof_batch *b, const struct ccsv_field *f, size_t nfields, size_t line);
/* The held records into p, as prof_add_record would add them one by one
 * (errors too: the first bad field in file order is the one reported). */
int prof_batch_flush(struct prof *p, struct prof_batch *b);

/* Start a profile with these column names (copied); duplicates are an error. */
int prof_init(struct prof *p, const char *const *names, const size_t *lens, size_t ncols);
void prof_free(struct prof *p);
/* Keep every numeric value from now on (p->keep). */
int prof_keep_values(struct prof *p);
/* ---- kept values (profile_keep.c) ---- */
/* Append x. */
int prof_vec_push(struct prof_vec *v, double x);
/* Append x, read from a literal whose digits are dmant with dscale decimals
 * (struct ccsv_value's dmant, dscale; -1: not known): prof_vec_push, with
 * the exactness of the packed form known from the digits. */
int prof_vec_push_dec(struct prof_vec *v, double x, uint64_t dmant, int dscale);
/* Start v from the number table f (every value f holds, as often as it counts); nothing once started. */
int prof_vec_start(struct prof_vec *v, const struct sk_freq *f);
/* The values of o (its own, or those of its table of) after v's (started
 * from vf first); o's vector is released. */
int prof_vec_append(struct prof_vec *v, const struct sk_freq *vf, struct prof_vec *o, const struct sk_freq *of);
void prof_vec_free(struct prof_vec *v);
/* Column ci's kept values sorted ascending as a new array (*out, *n, free
 * it); the kept form is released. */
int prof_keep_sorted(struct prof *p, size_t ci, double **out, size_t *n);

/* Read a CSV (or JSON lines) file into p, keeping numeric values if asked; p is initialised here. */
int prof_read_file(const char *path, const struct profile_options *opt, bool keep, struct prof *p);
/* Add one record of ncols fields; line is for messages. */
int prof_add_record(struct prof *p, const struct ccsv_field *f, size_t nfields, size_t line);
/* Add one value to column c (kind from ccsv_value_parse; raw text for texts). */
int prof_add_value(struct prof *p, size_t c, const char *s, size_t n, size_t line, uint64_t *hash);
/* Fold o into p (same columns); kept values move from o to p. */
int prof_merge(struct prof *p, struct prof *o);
/* The profile as JSON (new), with source information (borrowed, may be NULL). */
json_t *prof_to_json(const struct prof *p, json_t *source);
/* Read a JSON profile back into a builder (prof_init'ed here). */
int prof_from_json(const json_t *j, struct prof *p);

/* What a column turned out to be, its Evidently type, and its value table. */
enum ccsv_kind prof_col_type(const struct prof_col *c);
const char *prof_col_evidently_type(const struct prof_col *c);
const struct sk_freq *prof_col_freq(const struct prof_col *c);
uint64_t prof_col_distinct(const struct prof_col *c, bool *exact);
uint64_t prof_col_count(const struct prof_col *c);   /* non-null fields */
/* The q-quantile (0..1) of the column's finite numbers, as the profile's
 * quantiles are computed (numpy's linear method while exact, then from the
 * KLL sketch); CAIRN_ENOTFOUND when it holds none. */
int prof_col_quantile(const struct prof_col *c, double q, double *out);

#endif
