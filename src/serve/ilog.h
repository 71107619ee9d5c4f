/* ilog.h - the inference log: a sample of scored requests in zstd segments.
 *
 * The model server hands every scored request to ilog_append(); a share of
 * them (the sample rate, decided by a hash of the request id, so a request
 * is logged everywhere or nowhere) is copied into a bounded in-memory queue,
 * and one writer thread turns the queue into JSON lines, compresses them
 * (zstd streaming, one frame per flush) and appends the frames to segment
 * files under one folder. Disk use is bounded: when the segments pass it,
 * the oldest are deleted. The format is docs/inference-log.md; a reader in
 * any language that has zstd can read it.
 *
 * ilog_append() never touches the disk and never waits for the writer: when
 * the queue is full the record is dropped and counted (ilog_stats). A crash
 * loses at most the records of the last flush interval; every frame written
 * before it stays readable, and the next ilog_open() on the folder closes
 * the segment the crashed writer left open.
 *
 * The reader (ilog_reader_*) walks the segments oldest first, closed ones
 * and the open one, up to the last complete frame, and can resume exactly
 * where an earlier reader stopped (struct ilog_pos). Monitoring reads the
 * log through it.
 *
 *	struct ilog_opts o = ILOG_OPTS_INIT;
 *	struct ilog *log;
 *	o.sample_rate = 0.1;
 *	if (ilog_open("data/ilog", &o, &log)) ...
 *	ilog_append(log, &(struct ilog_record){ .id = ..., .input = ... });
 *	ilog_close(log);
 */
#ifndef CAIRN_SERVE_ILOG_H
#define CAIRN_SERVE_ILOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct ilog;
struct ilog_reader;

/* Writer options. Start from ILOG_OPTS_INIT: a zero field means its
 * default, except sample_rate, where 0 logs nothing. */
struct ilog_opts {
	double sample_rate;        /* share of request ids logged, 0..1 (1: all) */
	uint64_t segment_bytes;    /* close a segment past this many uncompressed bytes (64 MiB) */
	uint64_t segment_records;  /* ... or this many records (0: no count limit) */
	uint64_t max_disk_bytes;   /* all segments together; the oldest go first (1 GiB) */
	uint32_t flush_ms;         /* a frame is written at most this long after its first record (1000) */
	uint64_t queue_bytes;      /* the queue's ring, allocated at open; full, appends drop (32 MiB, at least 64 KiB) */
	uint64_t max_record_bytes; /* input + output past this are logged as null, "truncated" (1 MiB, at most 16 MiB) */
	int level;                 /* zstd compression level (3) */
};

#define ILOG_OPTS_INIT { .sample_rate = 1.0 }

/* One scored request. The caller's bytes are copied; nothing is kept. */
struct ilog_record {
	struct slice id;      /* request id (the sampling key) */
	int64_t ts_us;        /* when the request arrived, microseconds since the epoch (0: now) */
	struct slice model;   /* model name */
	struct slice version; /* model version */
	struct slice role;    /* who answered: empty (the primary), "canary" or "shadow" */
	int64_t latency_us;   /* time to the answer, microseconds */
	int status;           /* HTTP status of the answer */
	struct slice input;   /* JSON text of the request's rows (not JSON: logged as a string) */
	struct slice output;  /* JSON text of the predictions (empty: null) */
};

/* Counters since ilog_open. */
struct ilog_stats {
	uint64_t appended;      /* records taken into the queue */
	uint64_t sampled_out;   /* records left out by the sample rate */
	uint64_t dropped;       /* records refused: queue full, or invalid */
	uint64_t truncated;     /* records logged without input and output (too big) */
	uint64_t written;       /* records in frames written to disk */
	uint64_t lost;          /* records taken but lost to a failed write or allocation */
	uint64_t queued;        /* records waiting in the queue now */
	uint64_t bytes_in;      /* uncompressed bytes (JSON lines) written */
	uint64_t bytes_written; /* compressed bytes written */
	uint64_t frames;        /* frames written */
	uint64_t segments;      /* segments created */
	uint64_t segments_deleted; /* segments removed to honour max_disk_bytes */
	uint64_t disk_bytes;    /* bytes of segments on disk now */
	uint64_t errors;        /* failed writes, syncs, renames, deletes and allocations */
};

/* Open (creating it) the log in dir and start its writer thread. opts may be
 * NULL (the defaults). Segments a crashed writer left open are closed first.
 * CAIRN_EBUSY when another writer holds dir, CAIRN_EINVALID for bad options. */
int ilog_open(const char *dir, const struct ilog_opts *opts, struct ilog **out);
/* Log one record, if its id is sampled. Hot path: copies the record into the
 * queue and returns; never allocates, never waits for the disk or the
 * writer, and records no error message. 1 when queued, 0 when sampled out;
 * CAIRN_EBUSY (queue full) or CAIRN_EINVALID (ts_us < 0, or id, model and
 * version alone past max_record_bytes) when dropped, which is counted. Any
 * thread, concurrently. */
int ilog_append(struct ilog *log, const struct ilog_record *rec);
/* Write everything appended before the call (a frame, not fsync'd) and wait
 * for it. The last writer error since the previous flush or close, or 0. */
int ilog_flush(struct ilog *log);
void ilog_stats(struct ilog *log, struct ilog_stats *out);
/* Write what is queued, close (fsync, rename) the open segment, stop the
 * writer and free log. No append may run during or after it. Returns as
 * ilog_flush; log is freed either way. NULL is a no-op. */
int ilog_close(struct ilog *log);

/* Whether a request with this id is logged at rate: the decision
 * ilog_append makes (the hash is in docs/inference-log.md). */
bool ilog_sampled(double rate, const char *id, size_t n);

/* Where a reader stands: a segment (by sequence number), the byte offset of
 * a frame in it, and how many lines of that frame were read. */
struct ilog_pos {
	uint64_t seq;
	uint64_t offset;
	uint64_t line;
};

/* One record read back. Everything is borrowed from the reader and valid
 * until the next ilog_reader_next or ilog_reader_free. */
struct ilog_entry {
	const char *id;
	int64_t ts_us;
	const char *model;   /* "" when absent */
	const char *version; /* "" when absent */
	const char *role;    /* "" (the primary), "canary", "shadow" */
	int64_t latency_us;
	int status;
	bool truncated;      /* input and output were left out (too big) */
	json_t *input;       /* the logged JSON value (JSON null when absent) */
	json_t *output;
	json_t *obj;         /* the whole line */
	struct slice line;   /* its text, without the newline */
	struct ilog_pos pos; /* where this record is */
};

/* What a reader skipped. */
struct ilog_reader_stats {
	uint64_t records;        /* entries returned */
	uint64_t segments;       /* segments opened */
	uint64_t truncated;      /* incomplete last frames left unread (crash, or being written) */
	uint64_t corrupt;        /* segments whose rest was skipped at an undecodable frame */
	uint64_t bad_lines;      /* lines that are not a record (not JSON, no id or ts) */
	uint64_t gone;           /* segments deleted before they could be read */
};

/* Read the log in dir from from (NULL: its oldest segment), returning only
 * records with ts_us >= since_us. Segments made while reading are read too.
 * CAIRN_ENOTFOUND when dir does not exist. */
int ilog_reader_open(const char *dir, int64_t since_us, const struct ilog_pos *from, struct ilog_reader **out);
/* The next record: 1 with *e filled, 0 at the end (for now: a later call, or
 * a reader opened at ilog_reader_pos, sees records written since), or an
 * error (I/O, memory). Damaged data is skipped and counted, not an error. */
int ilog_reader_next(struct ilog_reader *r, struct ilog_entry *e);
/* The position after the last record returned: a reader opened there
 * returns exactly the records after it. */
void ilog_reader_pos(const struct ilog_reader *r, struct ilog_pos *out);
void ilog_reader_stats(const struct ilog_reader *r, struct ilog_reader_stats *out);
void ilog_reader_free(struct ilog_reader *r);

/* For tests and fuzzing: read one segment's bytes from fd, from its
 * current offset (positions are offsets in fd; pos.seq is 0), with frames of at most frame_max bytes
 * decompressed (0: the reader's limit, 256 MiB). The reader owns fd. */
int ilog__reader_open_fd(int fd, int64_t since_us, size_t frame_max, struct ilog_reader **out);
/* For tests: hold (true) or release the writer thread, to fill the queue. */
void ilog__hold(struct ilog *log, bool hold);
/* For tests and fuzzing: parse a segment file name. 1 and the fields when
 * it is one (max_ts < min_ts never), 0 when it is not. */
int ilog__parse_name(const char *name, uint64_t *seq, bool *open, int64_t *min_ts, int64_t *max_ts);
/* For fuzzing: 1 when s is a JSON text the writer logs as it is (one that
 * jansson reads), 0 when it is logged as a string, CAIRN_ENOMEM. */
int ilog__json_check(const char *s, size_t n);

#endif
