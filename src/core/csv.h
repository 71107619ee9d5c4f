/* csv.h - the one CSV reader of cairn, a streaming layer over libcsv.
 *
 * Feed bytes in any chunking (ccsv_reader_feed, then ccsv_reader_finish);
 * the reader calls back once per record with its fields. RFC 4180 quoting
 * ("a ""quoted"" field", delimiters and newlines inside quotes), LF, CRLF or
 * CR line ends, blank lines skipped, a UTF-8 byte-order mark at the start
 * skipped. Spaces are part of fields (nothing is trimmed). Each field says
 * whether it was quoted, so "" (a quoted empty string) and an empty field
 * can be told apart.
 *
 * Fields are borrowed: they live until the callback returns. Each is
 * NUL-terminated for convenience, but may itself hold NUL bytes - n is
 * authoritative.
 *
 * The callback returns 0 to go on, CCSV_STOP to stop cleanly (feed and
 * finish then return CCSV_STOP and parse nothing more), or a negative
 * cairn_err code (with its message set) that feed/finish return unchanged.
 *
 * Errors name the record and the line it starts on ("CSV record 3 (line 4):
 * ..."; the first record, usually the header, is record 1; lines are counted
 * by LF): CAIRN_EINVALID for malformed quoting in strict mode - a quote inside
 * an unquoted field, text after a closing quote, a quoted field still open at
 * the end; CAIRN_ETOOBIG when a field is longer than max_field bytes or a
 * record has more than max_fields fields; CAIRN_ENOMEM. After an error the
 * reader accepts nothing more (free it). Not strict, libcsv's lenient reading
 * applies: stray quotes are kept as text and an open quote runs to the end.
 *
 * Allocation goes through core/fault.h, libcsv's field buffer included.
 */
#ifndef CAIRN_CORE_CSV_H
#define CAIRN_CORE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCSV_STOP 1                               /* a callback's "stop here, no error" */
#define CCSV_MAX_FIELD_DEFAULT ((size_t)1 << 20)  /* bytes in one field */
#define CCSV_MAX_FIELDS_DEFAULT ((size_t)100000)  /* fields in one record */

struct ccsv_options {
	char delim;         /* field delimiter; 0 means ',' */
	char quote;         /* quote character; 0 means '"' */
	bool strict;        /* malformed quoting is an error (see above) */
	size_t max_field;   /* most bytes in one field; 0 means CCSV_MAX_FIELD_DEFAULT */
	size_t max_fields;  /* most fields in one record; 0 means CCSV_MAX_FIELDS_DEFAULT */
};

/* One field of a record, unquoted and unescaped. */
struct ccsv_field {
	const char *p;   /* the bytes, NUL-terminated (borrowed) */
	size_t n;        /* their number, not counting the terminating NUL */
	bool quoted;     /* the field was written in quotes */
};

/* One record, as handed to the callback. */
struct ccsv_record {
	const struct ccsv_field *fields;  /* nfields entries, at least 1 (borrowed) */
	size_t nfields;
	size_t index;    /* record number, from 1 */
	size_t line;     /* line the record starts on, from 1 */
};

typedef int (*ccsv_record_fn)(void *ctx, const struct ccsv_record *rec);

struct ccsv_reader;

/* A new reader (opt NULL: the defaults, not strict). */
int ccsv_reader_new(const struct ccsv_options *opt, ccsv_record_fn fn, void *ctx, struct ccsv_reader **out);
/* Parse the next len bytes; records that end in them are called back. */
int ccsv_reader_feed(struct ccsv_reader *r, const void *data, size_t len);
/* End of input: the last record, if it has no line end, is called back. */
int ccsv_reader_finish(struct ccsv_reader *r);
/* Records completed so far. */
size_t ccsv_reader_records(const struct ccsv_reader *r);
void ccsv_reader_free(struct ccsv_reader *r);

/* All of data at once: new, feed, finish, free. */
int ccsv_read(const void *data, size_t len, const struct ccsv_options *opt, ccsv_record_fn fn, void *ctx);

/* ---- what a field holds ----
 *
 * One reading of a field's text, shared by everything that infers types from
 * CSV (the model layer's signature inference, profiles, validation). It follows
 * pandas' read_csv with keep_default_na=False, na_values=[""]: an empty field
 * (quoted or not) is CCSV_EMPTY and nothing else is a null - "NA", "null",
 * "None" are text. Surrounding spaces and tabs are ignored for numbers and
 * booleans (as pandas does), never for text.
 *  - CCSV_INT: [+-]?digits that fit an int64 (v->i, and v->d = (double)v->i).
 *  - CCSV_FLOAT: a decimal literal ([+-]? digits [. digits] [e[+-]digits], or
 *    .digits), or inf/infinity/nan in any case with an optional sign; v->d is
 *    the correctly rounded double (strtod's answer, bit for bit). Integers too
 *    big for an int64 are CCSV_FLOAT. No hexadecimal.
 *  - CCSV_BOOL: true/True/TRUE/false/False/FALSE (v->i 1 or 0, v->d the same).
 *  - CCSV_DATETIME: ISO 8601 YYYY-MM-DD, optionally followed by T or a space
 *    and HH:MM[:SS[.fraction]], optionally Z or +HH[:MM] / -HH[:MM]; a valid
 *    calendar date. v->d is seconds since the Unix epoch (UTC; no offset means UTC).
 *  - CCSV_TEXT: anything else.
 * p need not be NUL-terminated. */
enum ccsv_kind { CCSV_EMPTY, CCSV_INT, CCSV_FLOAT, CCSV_BOOL, CCSV_DATETIME, CCSV_TEXT };

struct ccsv_value {
	enum ccsv_kind kind;
	int64_t i;
	double d;
	/* the literal's decimal digits, where known: d is exactly the correctly
	 * rounded (+-)dmant / 10^dscale, dmant < 2^53 (for plain literals such as
	 * "-12.50" or "7"); dscale is -1 when not known */
	uint64_t dmant;
	int dscale;
};

enum ccsv_kind ccsv_value_parse(const char *p, size_t n, struct ccsv_value *v);
/* The name of a kind: "empty", "integer", "float", "boolean", "datetime", "string". */
const char *ccsv_kind_name(enum ccsv_kind k);

#endif
