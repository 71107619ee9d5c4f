/* fuzz_ilog.c - libFuzzer target: the inference log reader (serve/ilog).
 *
 * Input: a mode byte, then bytes. Mode 0 (the byte mod 3): the bytes are a
 * segment file (zstd frames, damaged or cut anywhere). Mode 1: the bytes are
 * the text of one frame, compressed here first, so the line parser sees
 * arbitrary lines inside a valid frame. Mode 2: the bytes are a JSON text for
 * the writer's check. Every input's first line also goes through the segment
 * name parser.
 * Invariants: the reader never fails on damaged data (it skips and counts);
 * an entry has an id, a non-negative ts, JSON input and output, a line inside
 * the frame that parses again to an object; positions never go backwards; a
 * valid frame is never reported truncated or corrupt; records and bad lines
 * never outnumber the lines. A name that parses prints back to one that
 * parses to the same fields. The writer's JSON check says yes exactly when
 * jansson reads the text (but for NUL bytes between tokens, which jansson
 * lets pass and the check does not).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "serve/ilog.h"

static void check_name(const unsigned char *data, size_t size)
{
	char name[128], again[160];
	size_t n = 0;
	uint64_t seq, seq2;
	bool open, open2;
	int64_t lo, hi, lo2, hi2;

	while (n < size && n < sizeof(name) - 1 && data[n] && data[n] != '\n') {
		name[n] = (char)data[n];
		n++;
	}
	name[n] = '\0';
	if (!ilog__parse_name(name, &seq, &open, &lo, &hi))
		return;
	if (!open && (lo < 0 || hi < lo))
		abort();
	if (open)
		snprintf(again, sizeof(again), "ilog-%016" PRIu64 ".jsonl.zst.open", seq);
	else
		snprintf(again, sizeof(again), "ilog-%016" PRIu64 "-%" PRId64 "-%" PRId64 ".jsonl.zst", seq, lo, hi);
	if (!ilog__parse_name(again, &seq2, &open2, &lo2, &hi2) || seq2 != seq || open2 != open ||
	    (!open && (lo2 != lo || hi2 != hi)))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct ilog_reader *r;
	struct ilog_reader_stats st;
	struct ilog_entry e;
	struct ilog_pos last = { 0, 0, 0 };
	const unsigned char *body;
	size_t n, lines = 0;
	bool framed;
	void *z = NULL;
	int fd, rc;

	if (!size)
		return 0;
	framed = data[0] % 3 == 1;
	body = data + 1;
	n = size - 1;
	check_name(body, n);
	if (data[0] % 3 == 2) {
		json_t *v = json_loadb((const char *)body, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		int ok = ilog__json_check((const char *)body, n);

		/* what it passes jansson reads; what jansson reads it passes, but
		 * for jansson's leniency with NUL bytes between tokens ("[1\0]") */
		if (ok < 0 || (ok && !v) || (!ok && v && !memchr(body, '\0', n)))
			abort();
		json_decref(v);
		return 0;
	}
	if (framed) {
		size_t cap = ZSTD_compressBound(n);

		z = malloc(cap ? cap : 1);
		if (!z)
			return 0;
		for (size_t i = 0; i < n; i++)
			lines += body[i] == '\n';
		lines++;
		n = ZSTD_compress(z, cap, body, n, 1);
		if (ZSTD_isError(n))
			abort();
		body = z;
	}
	fd = memfd_create("fuzz-ilog", 0);
	if (fd < 0 || write(fd, body, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (ilog__reader_open_fd(fd, 0, 1 << 20, &r))
		abort();
	while ((rc = ilog_reader_next(r, &e)) == 1) {
		json_t *again;

		if (!e.id || e.ts_us < 0 || !e.input || !e.output || !e.model || !e.version)
			abort();
		again = json_loadb(e.line.p, e.line.n, JSON_ALLOW_NUL, NULL);
		if (!json_is_object(again))
			abort();
		json_decref(again);
		if (e.pos.offset < last.offset || (e.pos.offset == last.offset && e.pos.line < last.line))
			abort();
		last = e.pos;
	}
	if (rc)
		abort();
	ilog_reader_stats(r, &st);
	if (framed && (st.truncated || st.corrupt || st.records + st.bad_lines > lines))
		abort();
	ilog_reader_free(r);
	free(z);
	return 0;
}
