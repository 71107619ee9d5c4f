/* Unit tests for serve/ilog: round trips from many threads, sampling, the
 * disk bound, a full queue, the real zstd tool on the segments, a writer
 * killed with SIGKILL, truncated and damaged frames, resuming readers, and
 * allocation, write, fsync and rename failures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "serve/ilog.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-ilog-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	fault_disarm();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(serve_ilog, .init = setup, .fini = teardown);

#define S(str) ((struct slice){ (str), strlen(str) })

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The request body of a 30-feature row, as MLflow's dataframe_split sends it. */
static void make_input(struct buf *b, unsigned seed)
{
	buf_clear(b);
	buf_puts(b, "{\"dataframe_split\": {\"columns\": [");
	for (int i = 0; i < 30; i++)
		buf_printf(b, "%s\"f%d\"", i ? ", " : "", i);
	buf_puts(b, "], \"data\": [[");
	for (int i = 0; i < 30; i++) {
		seed = seed * 1103515245u + 12345u;
		buf_printf(b, "%s%.6f", i ? ", " : "", (double)(seed >> 8) / (1 << 24) * 20 - 10);
	}
	buf_puts(b, "]]}}");
	cr_assert_eq(b->err, 0);
}

/* The predictions: 1 to 40 of them, so records differ in size. */
static void make_output(struct buf *b, unsigned seed)
{
	buf_clear(b);
	buf_puts(b, "{\"predictions\": [");
	for (unsigned i = 0; i <= seed % 40; i++)
		buf_printf(b, "%s%.4f", i ? ", " : "", (double)((seed + i) % 10000) / 10000);
	buf_puts(b, "]}");
}

/* Append one record with this id and seed; the return of ilog_append. */
static int put(struct ilog *log, const char *id, unsigned seed, int64_t ts)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	int rc;

	make_input(&in, seed);
	make_output(&out, seed);
	rc = ilog_append(log, &(struct ilog_record){
		.id = S(id), .ts_us = ts, .model = S("churn"), .version = S("3"),
		.latency_us = seed % 1000, .status = 200,
		.input = { in.ptr, in.len }, .output = { out.ptr, out.len } });
	buf_release(&in);
	buf_release(&out);
	return rc;
}

/* Check that e is the record put() made for seed. */
static void check_entry(const struct ilog_entry *e, unsigned seed)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	json_t *want_in, *want_out;

	make_input(&in, seed);
	make_output(&out, seed);
	want_in = json_loads(in.ptr, 0, NULL);
	want_out = json_loads(out.ptr, 0, NULL);
	cr_assert_str_eq(e->model, "churn");
	cr_assert_str_eq(e->version, "3");
	cr_assert_eq(e->latency_us, seed % 1000);
	cr_assert_eq(e->status, 200);
	cr_assert(!e->truncated);
	cr_assert(json_equal(e->input, want_in), "input of '%s' differs: %.*s", e->id, (int)e->line.n, e->line.p);
	cr_assert(json_equal(e->output, want_out), "output of '%s' differs", e->id);
	/* the line carries the caller's text as it was */
	cr_assert(memmem(e->line.p, e->line.n, in.ptr, in.len), "input text not verbatim");
	json_decref(want_in);
	json_decref(want_out);
	buf_release(&in);
	buf_release(&out);
}

/* Every record of dir from since (and from), through cb; the count. */
static size_t read_all(const char *d, int64_t since, const struct ilog_pos *from,
		       void (*cb)(const struct ilog_entry *, void *), void *arg, struct ilog_reader_stats *st)
{
	struct ilog_reader *r;
	struct ilog_entry e;
	size_t n = 0;
	int rc;

	cr_assert_eq(ilog_reader_open(d, since, from, &r), 0, "%s", cairn_error_msg());
	while ((rc = ilog_reader_next(r, &e)) == 1) {
		if (cb)
			cb(&e, arg);
		n++;
	}
	cr_assert_eq(rc, 0, "reader: %s", cairn_error_msg());
	if (st)
		ilog_reader_stats(r, st);
	ilog_reader_free(r);
	return n;
}

/* Names of the files in dir matching a suffix; count. */
static int count_files(const char *suffix, uint64_t *bytes)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	if (bytes)
		*bytes = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		char p[512];
		struct stat st;

		if (strncmp(de->d_name, "ilog-", 5) || l < sl || strcmp(de->d_name + l - sl, suffix))
			continue;
		n++;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		cr_assert_eq(stat(p, &st), 0);
		if (bytes)
			*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* ------------------------------------------------------------ round trip */

#define THREADS 8
#define PER_THREAD 2500

struct th {
	struct ilog *log;
	int t;
	int failed;
	int full;      /* appends refused for a full queue, then retried */
};

static void *producer(void *arg)
{
	struct th *th = arg;
	char id[32];

	for (int i = 0; i < PER_THREAD; i++) {
		int rc;

		snprintf(id, sizeof(id), "t%d-%05d", th->t, i);
		while ((rc = put(th->log, id, (unsigned)(th->t * PER_THREAD + i), 0)) == CAIRN_EBUSY) {
			th->full++;
			usleep(200);
		}
		if (rc != 1)
			th->failed++;
	}
	return NULL;
}

struct seen {
	unsigned char *count;
	int last[THREADS];
	int out_of_order;
};

static void on_seen(const struct ilog_entry *e, void *arg)
{
	struct seen *s = arg;
	int t, i;

	cr_assert_eq(sscanf(e->id, "t%d-%d", &t, &i), 2, "id '%s'", e->id);
	cr_assert(t >= 0 && t < THREADS && i >= 0 && i < PER_THREAD);
	s->count[t * PER_THREAD + i]++;
	if (i <= s->last[t])
		s->out_of_order++;
	s->last[t] = i;
	check_entry(e, (unsigned)(t * PER_THREAD + i));
}

Test(serve_ilog, round_trip_from_8_threads)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct th th[THREADS];
	pthread_t tid[THREADS];
	struct seen s = { .count = calloc(THREADS * PER_THREAD, 1) };
	struct ilog_stats st;
	struct ilog_reader_stats rs;

	o.segment_records = 2000;
	o.flush_ms = 20;
	o.queue_bytes = 256 * 1024; /* 25 MB go through it: it wraps a hundred times */
	cr_assert_eq(ilog_open(dir, &o, &log), 0, "%s", cairn_error_msg());
	for (int t = 0; t < THREADS; t++) {
		th[t] = (struct th){ log, t, 0, 0 };
		s.last[t] = -1;
		cr_assert_eq(pthread_create(&tid[t], NULL, producer, &th[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(tid[t], NULL);
		cr_assert_eq(th[t].failed, 0);
	}
	cr_assert_eq(ilog_close(log), 0, "%s", cairn_error_msg());
	cr_assert_eq(count_files(".open", NULL), 0, "a segment stayed open");
	cr_assert_geq(count_files(".jsonl.zst", NULL), 6);

	cr_assert_eq(read_all(dir, 0, NULL, on_seen, &s, &rs), THREADS * PER_THREAD);
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		cr_assert_eq(s.count[i], 1, "record %d read %d times", i, s.count[i]);
	cr_assert_eq(s.out_of_order, 0, "a thread's records out of order");
	cr_assert_eq(rs.bad_lines + rs.corrupt + rs.truncated + rs.gone, 0);
	free(s.count);

	/* the counters of a second log over the same folder start at zero; the
	 * folder's segments count against its disk bound */
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	ilog_stats(log, &st);
	cr_assert_eq(st.appended + st.written + st.segments, 0);
	cr_assert_gt(st.disk_bytes, 0);
	cr_assert_eq(ilog_close(log), 0);
}

Test(serve_ilog, stats_count_what_happened)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_stats st;

	o.segment_records = 100;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 250; i++) {
		char id[32];

		snprintf(id, sizeof(id), "r%d", i);
		cr_assert_eq(put(log, id, (unsigned)i, 1000 + i), 1);
	}
	cr_assert_eq(ilog_flush(log), 0);
	ilog_stats(log, &st);
	cr_assert_eq(st.appended, 250);
	cr_assert_eq(st.written, 250);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.segments, 3);
	cr_assert_eq(st.frames, 3);
	cr_assert_gt(st.bytes_in, st.bytes_written * 2, "%" PRIu64 " -> %" PRIu64, st.bytes_in, st.bytes_written);
	cr_assert_eq(st.lost + st.dropped + st.errors + st.sampled_out, 0);
	cr_assert_eq(count_files(".open", NULL), 1); /* the third, 50 records in */
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(count_files(".open", NULL), 0);
	/* closed names carry the timestamps in them */
	cr_assert_eq(sh("test -f %s/ilog-0000000000000001-1000-1099.jsonl.zst", dir), 0);
	cr_assert_eq(sh("test -f %s/ilog-0000000000000003-1200-1249.jsonl.zst", dir), 0);
}

/* ------------------------------------------------------------- sampling */

struct idset {
	unsigned char *hit;
	size_t n;
};

static void on_sampled(const struct ilog_entry *e, void *arg)
{
	struct idset *s = arg;
	unsigned i;

	cr_assert_eq(sscanf(e->id, "req-%u", &i), 1);
	cr_assert_lt(i, s->n);
	s->hit[i]++;
}

Test(serve_ilog, sampling_is_deterministic_and_close_to_the_rate)
{
	const size_t N = 100000, W = 20000;
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_stats st;
	struct idset s = { calloc(W, 1), W };
	size_t n25 = 0, n_logged = 0, read;
	char id[32];

	for (size_t i = 0; i < N; i++) {
		int l = snprintf(id, sizeof(id), "req-%zu", i);
		bool a = ilog_sampled(0.25, id, (size_t)l);

		cr_assert_eq(a, ilog_sampled(0.25, id, (size_t)l));
		if (a) {
			n25++;
			cr_assert(ilog_sampled(0.5, id, (size_t)l), "rates do not nest");
		}
		if (ilog_sampled(0.1, id, (size_t)l))
			cr_assert(a, "rates do not nest");
		cr_assert(ilog_sampled(1, id, (size_t)l));
		cr_assert(!ilog_sampled(0, id, (size_t)l));
	}
	cr_assert(n25 > N * 0.24 && n25 < N * 0.26, "%zu of %zu sampled at 0.25", n25, N);
	/* pinned: the hash of docs/inference-log.md, h("abc") / 2^64 = 0.20281... */
	cr_assert(ilog_sampled(0.2029, "abc", 3));
	cr_assert(!ilog_sampled(0.2028, "abc", 3));
	cr_assert(ilog_sampled(0.2569, "req-1", 5) && !ilog_sampled(0.2568, "req-1", 5));
	cr_assert(ilog_sampled(0.9368, "", 0) && !ilog_sampled(0.9367, "", 0));

	o.sample_rate = 0.25;
	o.flush_ms = 10;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (size_t i = 0; i < W; i++) {
		int l = snprintf(id, sizeof(id), "req-%zu", i);
		int rc = put(log, id, (unsigned)i, 0);

		cr_assert_eq(rc, ilog_sampled(0.25, id, (size_t)l) ? 1 : 0);
		n_logged += rc == 1;
	}
	ilog_stats(log, &st);
	cr_assert_eq(st.appended, n_logged);
	cr_assert_eq(st.sampled_out, W - n_logged);
	cr_assert_eq(ilog_close(log), 0);
	read = read_all(dir, 0, NULL, on_sampled, &s, NULL);
	cr_assert_eq(read, n_logged);
	for (size_t i = 0; i < W; i++) {
		int l = snprintf(id, sizeof(id), "req-%zu", i);

		cr_assert_eq(s.hit[i], ilog_sampled(0.25, id, (size_t)l) ? 1 : 0, "req-%zu", i);
	}
	free(s.hit);
}

/* ------------------------------------------------------------ disk bound */

struct seqs {
	int first, last, n, gaps;
	struct ilog_pos first_pos;
};

static void on_seq(const struct ilog_entry *e, void *arg)
{
	struct seqs *s = arg;
	int i;

	cr_assert_eq(sscanf(e->id, "d%d", &i), 1);
	if (s->n++ == 0) {
		s->first = i;
		s->first_pos = e->pos;
	}
	else if (i != s->last + 1)
		s->gaps++;
	s->last = i;
}

Test(serve_ilog, the_disk_bound_deletes_the_oldest_segments)
{
	const uint64_t bound = 96 * 1024;
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_stats st;
	struct seqs s = { 0 };
	uint64_t bytes, peak = 0;
	char id[32];

	o.segment_records = 200;
	o.max_disk_bytes = bound;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		cr_assert_eq(put(log, id, (unsigned)i * 7919u, 0), 1);
		if (i % 1000 == 999) {
			cr_assert_eq(ilog_flush(log), 0);
			count_files("", &bytes);
			if (bytes > peak)
				peak = bytes;
			ilog_stats(log, &st);
			cr_assert_eq(st.disk_bytes, bytes);
		}
	}
	ilog_stats(log, &st);
	cr_assert_gt(st.segments_deleted, 0);
	cr_assert_eq(ilog_close(log), 0);
	count_files("", &bytes);
	cr_assert_leq(bytes, bound, "%" PRIu64 " bytes on disk", bytes);
	cr_assert_leq(peak, bound, "peak %" PRIu64, peak);
	cr_assert_geq(bytes, bound / 2, "%" PRIu64 " bytes left", bytes);
	read_all(dir, 0, NULL, on_seq, &s, NULL);
	cr_assert_gt(s.first, 0, "the oldest records are still there");
	cr_assert_eq(s.last, 19999, "the newest records are gone");
	cr_assert_eq(s.gaps, 0, "a segment in the middle went first");
	cr_assert(s.first_pos.offset == 0 && s.first_pos.line == 0, "a segment was cut");
}

Test(serve_ilog, a_smaller_bound_at_open_deletes_old_segments)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_stats st;
	uint64_t before, after;
	char id[32];

	o.segment_records = 100;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		cr_assert_eq(put(log, id, (unsigned)i, 0), 1);
	}
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(count_files("", &before), 20);
	o.max_disk_bytes = before / 2;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	ilog_stats(log, &st);
	count_files("", &after);
	cr_assert_leq(after, before / 2);
	cr_assert_eq(st.disk_bytes, after);
	cr_assert_geq(st.segments_deleted, 10);
	cr_assert_eq(ilog_close(log), 0);
}

/* ------------------------------------------------------------ full queue */

Test(serve_ilog, a_full_queue_drops_and_counts_instead_of_blocking)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_stats st;
	struct idset s = { calloc(5001, 1), 5001 };
	unsigned char *ok = calloc(5000, 1);
	int64_t t0, worst = 0;
	int queued = 0, busy = 0;
	char id[32];

	o.queue_bytes = 256 * 1024;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	ilog__hold(log, true);
	for (int i = 0; i < 5000; i++) {
		int rc;
		int64_t dt;

		snprintf(id, sizeof(id), "req-%d", i);
		t0 = mono_ns();
		rc = put(log, id, (unsigned)i, 0);
		dt = mono_ns() - t0;
		if (dt > worst)
			worst = dt;
		if (rc == 1) {
			queued++;
			ok[i] = 1;
		} else {
			cr_assert_eq(rc, CAIRN_EBUSY);
			busy++;
		}
	}
	ilog_stats(log, &st);
	cr_assert_gt(queued, 100);
	cr_assert_gt(busy, 1000);
	cr_assert_eq(st.appended, (uint64_t)queued);
	cr_assert_eq(st.dropped, (uint64_t)busy);
	cr_assert_eq(st.queued, (uint64_t)queued);
	cr_assert_eq(st.written, 0);
	/* put() formats the record too; a blocked append would take the whole
	 * hold (forever) */
	cr_assert_lt(worst, 200 * 1000 * 1000, "an append took %" PRId64 " ns", worst);
	ilog__hold(log, false);
	cr_assert_eq(ilog_flush(log), 0);
	ilog_stats(log, &st);
	cr_assert_eq(st.written, (uint64_t)queued);
	/* room again */
	cr_assert_eq(put(log, "req-5000", 1, 0), 1);
	cr_assert_eq(ilog_close(log), 0);
	/* exactly the records taken are on disk */
	cr_assert_eq(read_all(dir, 0, NULL, on_sampled, &s, NULL), (size_t)queued + 1);
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(s.hit[i], ok[i], "req-%d", i);
	cr_assert_eq(s.hit[5000], 1);
	free(s.hit);
	free(ok);
}

/* ------------------------------------------------------ the zstd tool */

Test(serve_ilog, zstd_and_zstdcat_read_the_segments_and_every_line_is_json)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	char cmd[256], *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t n;
	FILE *f;

	cr_assert_eq(sh("command -v zstd >/dev/null && command -v zstdcat >/dev/null"), 0,
		     "the zstd tool is missing (scripts/deps.sh test installs it)");
	o.segment_records = 1000;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 3500; i++) {
		char id[32];

		snprintf(id, sizeof(id), "z%d", i);
		cr_assert_eq(put(log, id, (unsigned)i, 0), 1);
		if (i % 700 == 0)
			cr_assert_eq(ilog_flush(log), 0); /* several frames per segment */
	}
	/* also odd records: a CSV body, bytes that are not UTF-8, a NUL, quotes */
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("csv\"1\""), .model = S("m\xff"),
			.version = { "v\0", 2 }, .status = 200,
			.input = S("f0,f1\n1,2\n"), .output = S("{\n  \"predictions\": [1]\n}") }), 1);
	cr_assert_eq(ilog_flush(log), 0);
	/* the open segment: complete frames only, so zstdcat reads it cleanly */
	cr_assert_eq(count_files(".open", NULL), 1);
	cr_assert_eq(sh("zstdcat %s/*.open | wc -l | grep -qx 501", dir), 0);
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(sh("zstd -tq %s/ilog-*.jsonl.zst", dir), 0);

	snprintf(cmd, sizeof(cmd), "zstdcat %s/ilog-*.jsonl.zst", dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		json_error_t jerr;
		json_t *v;

		cr_assert_eq(line[n - 1], '\n');
		v = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &jerr);
		cr_assert(json_is_object(v), "line %zu is not JSON: %s (%s)", lines + 1, jerr.text, line);
		cr_assert(json_is_string(json_object_get(v, "id")));
		cr_assert(json_is_integer(json_object_get(v, "ts")));
		cr_assert(json_is_string(json_object_get(v, "model")));
		cr_assert(json_is_string(json_object_get(v, "version")));
		cr_assert(json_is_integer(json_object_get(v, "latency_us")));
		cr_assert(json_is_integer(json_object_get(v, "status")));
		cr_assert_not_null(json_object_get(v, "input"));
		cr_assert_not_null(json_object_get(v, "output"));
		if (!strcmp(json_string_value(json_object_get(v, "id")), "csv\"1\"")) {
			cr_assert_str_eq(json_string_value(json_object_get(v, "input")), "f0,f1\n1,2\n");
			cr_assert_str_eq(json_string_value(json_object_get(v, "model")), "m\xef\xbf\xbd");
			cr_assert_eq(json_string_length(json_object_get(v, "version")), 2);
			cr_assert_eq(json_integer_value(json_array_get(json_object_get(
					json_object_get(v, "output"), "predictions"), 0)), 1);
		}
		json_decref(v);
		lines++;
	}
	free(line);
	cr_assert_eq(pclose(f), 0);
	cr_assert_eq(lines, 3501);
}

/* ------------------------------------------------------------- SIGKILL */

/* Run the Python reader of docs/inference-log.md on dir: its record count. */
static long python_count(void)
{
	char cmd[512];
	long n = -1;
	FILE *f;

	cr_assert_eq(sh("test -f docs/inference-log.md"), 0, "run the tests from the repository root");
	cr_assert_eq(sh("/usr/bin/python3 -c 'import zstandard' 2>/dev/null"), 0,
		     "python3-zstandard is missing (scripts/deps.sh test installs it)");
	cr_assert_eq(sh("sed -n '/^```python$/,/^```$/p' docs/inference-log.md | sed '1d;$d' > %s.py && "
			"printf 'import sys\nprint(sum(1 for _ in records(sys.argv[1])))\n' >> %s.py", dir, dir), 0);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s.py %s", dir, dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%ld", &n), 1);
	cr_assert_eq(pclose(f), 0);
	snprintf(cmd, sizeof(cmd), "rm -f %s.py", dir);
	cr_assert_eq(system(cmd), 0);
	return n;
}

static void on_prefix(const struct ilog_entry *e, void *arg)
{
	int *next = arg;
	int i;

	cr_assert_eq(sscanf(e->id, "k%d", &i), 1);
	cr_assert_eq(i, *next, "read k%d after k%d", i, *next - 1);
	check_entry(e, (unsigned)i);
	(*next)++;
}

Test(serve_ilog, a_writer_killed_mid_stream_leaves_readable_segments)
{
	struct ilog_reader_stats rs;
	uint64_t bytes;
	int next = 0, again = 0, status;
	size_t n;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct ilog_opts o = ILOG_OPTS_INIT;
		struct ilog *log;
		char id[32];

		o.flush_ms = 5;
		o.segment_records = 3000;
		o.queue_bytes = 512u << 20;
		if (ilog_open(dir, &o, &log))
			_exit(3);
		for (int i = 0;; i++) {
			snprintf(id, sizeof(id), "k%d", i);
			if (put(log, id, (unsigned)i, 0) != 1)
				_exit(4);
			if (i % 50 == 0)
				usleep(100);
		}
	}
	/* let it write a few segments, then kill it wherever it is */
	for (int i = 0; i < 400; i++) {
		if (count_files(".jsonl.zst", NULL) >= 2)
			break;
		usleep(10 * 1000);
	}
	usleep((unsigned)(mono_ns() / 1000 % 20000));
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status), "the writer exited by itself: %d", WEXITSTATUS(status));
	cr_assert_leq(count_files(".open", NULL), 1); /* none when killed between segments */

	/* records are a prefix of what was appended, intact */
	n = read_all(dir, 0, NULL, on_prefix, &next, &rs);
	cr_assert_gt(n, 3000, "only %zu records", n);
	cr_assert_eq(rs.bad_lines + rs.corrupt, 0);
	cr_assert_leq(rs.truncated, 1);
	/* zstdcat reads the closed ones, and the open one up to where it was cut */
	cr_assert_eq(sh("zstd -tq %s/ilog-*.jsonl.zst", dir), 0);
	cr_assert_eq(sh("zstdcat %s/*.open 2>/dev/null | head -n -1 | "
			"python3 -c 'import sys, json; [json.loads(l) for l in sys.stdin]'", dir), 0);
	/* and so does the reader of the docs, in another language */
	cr_assert_eq(python_count(), (long)n);

	/* the next writer closes the segment it left; nothing is lost */
	{
		struct ilog *log;

		cr_assert_eq(ilog_open(dir, NULL, &log), 0);
		cr_assert_eq(ilog_close(log), 0);
	}
	cr_assert_eq(count_files(".open", NULL), 0);
	cr_assert_eq(sh("zstd -tq %s/ilog-*.jsonl.zst", dir), 0);
	count_files("", &bytes);
	cr_assert_eq(read_all(dir, 0, NULL, on_prefix, &again, &rs), n);
	cr_assert_eq(rs.truncated, 0);
	cr_assert_eq(python_count(), (long)n);
}

/* ------------------------------------------- truncated and damaged frames */

/* The bytes of the only segment in dir. */
static char *segment_bytes(size_t *len)
{
	char cmd[256], *p;
	FILE *f;
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;

	snprintf(cmd, sizeof(cmd), "cat %s/ilog-*", dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	pclose(f);
	*len = b.len;
	p = buf_detach(&b);
	return p;
}

/* Read bytes as one segment through a memfd: records, and stats. */
static size_t read_mem(const char *p, size_t n, struct ilog_reader_stats *st, uint64_t *offs, size_t max_offs)
{
	struct ilog_reader *r;
	struct ilog_entry e;
	size_t k = 0;
	int fd = memfd_create("seg", 0), rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	lseek(fd, 0, SEEK_SET);
	cr_assert_eq(ilog__reader_open_fd(fd, 0, 0, &r), 0);
	while ((rc = ilog_reader_next(r, &e)) == 1) {
		if (offs && k < max_offs)
			offs[k] = e.pos.offset;
		k++;
	}
	cr_assert_eq(rc, 0, "%s", cairn_error_msg());
	ilog_reader_stats(r, st);
	ilog_reader_free(r);
	return k;
}

Test(serve_ilog, a_truncated_last_frame_is_skipped_and_damage_is_counted)
{
	struct ilog *log;
	struct ilog_reader_stats st;
	uint64_t offs[40], bounds[5];
	size_t len, nb = 0;
	char *seg, *copy;

	cr_assert_eq(ilog_open(dir, NULL, &log), 0);
	for (int f = 0; f < 4; f++) {
		for (int i = 0; i < 10; i++) {
			char id[32];

			snprintf(id, sizeof(id), "f%d-%d", f, i);
			cr_assert_eq(put(log, id, (unsigned)(f * 10 + i), 0), 1);
		}
		cr_assert_eq(ilog_flush(log), 0);
	}
	cr_assert_eq(ilog_close(log), 0);
	seg = segment_bytes(&len);
	cr_assert_eq(read_mem(seg, len, &st, offs, 40), 40);
	for (int i = 0; i < 40; i += 10)
		bounds[nb++] = offs[i];
	bounds[nb] = len;
	cr_assert_eq(bounds[0], 0);

	/* cuts at every byte near a frame's ends, every 7th elsewhere: the
	 * frames wholly before the cut, no error */
	for (size_t cut = 0; cut <= len; cut++) {
		size_t whole = 0;
		bool at_bound = false, near = false;

		for (size_t b = 0; b <= nb; b++)
			near |= cut + 16 >= bounds[b] && cut <= bounds[b] + 16;
		if (!near && cut % 7)
			continue;
		for (size_t b = 1; b <= nb; b++)
			if (bounds[b] <= cut)
				whole = b;
		for (size_t b = 0; b <= nb; b++)
			at_bound |= bounds[b] == cut;
		cr_assert_eq(read_mem(seg, cut, &st, NULL, 0), whole * 10, "cut at %zu", cut);
		cr_assert_eq(st.truncated, at_bound ? 0 : 1, "cut at %zu", cut);
		cr_assert_eq(st.corrupt, 0);
	}

	/* a flipped byte in the third frame: two frames, then the rest skipped */
	copy = malloc(len + 16);
	memcpy(copy, seg, len);
	copy[(bounds[2] + bounds[3]) / 2] ^= 0x5a;
	cr_assert_eq(read_mem(copy, len, &st, NULL, 0), 20);
	cr_assert_eq(st.corrupt, 1);
	/* garbage after the last frame */
	memcpy(copy, seg, len);
	memcpy(copy + len, "not zstd at all!", 16);
	cr_assert_eq(read_mem(copy, len + 16, &st, NULL, 0), 40);
	cr_assert_eq(st.corrupt, 1);
	free(copy);
	free(seg);
}

Test(serve_ilog, lines_that_are_not_records_are_skipped)
{
	const char text[] = "{\"id\":\"a\",\"ts\":5}\nnot json\n[1]\n{\"ts\":1}\n{\"id\":\"b\",\"ts\":-1}\n"
			    "{\"id\":\"c\",\"ts\":7,\"status\":\"x\"}\n\n{\"id\":\"d\",\"ts\":9,\"input\":[1]}";
	char out[1024];
	struct ilog_reader_stats st;

	/* compress with the real tool, to read what another writer made */
	cr_assert_eq(sh("printf '%%s' '%s' | zstd -q > %s/x.zst", text, dir), 0);
	{
		FILE *f;
		size_t len;
		char path[128];

		snprintf(path, sizeof(path), "%s/x.zst", dir);
		f = fopen(path, "rb");
		cr_assert_not_null(f);
		len = fread(out, 1, sizeof(out), f);
		fclose(f);
		cr_assert_eq(read_mem(out, len, &st, NULL, 0), 2);
	}
	cr_assert_eq(st.bad_lines, 5);
}

/* --------------------------------------------------- resuming, since */

static void on_index(const struct ilog_entry *e, void *arg)
{
	int *next = arg;
	int i;

	cr_assert_eq(sscanf(e->id, "p%d", &i), 1);
	cr_assert_eq(i, *next, "read p%d, want p%d", i, *next);
	(*next)++;
}

static void put_range(struct ilog *log, int from, int to)
{
	char id[32];

	for (int i = from; i < to; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		cr_assert_eq(put(log, id, (unsigned)i, 1000000 + i), 1);
	}
}

Test(serve_ilog, a_reader_resumes_exactly_where_another_stopped_and_tails_the_log)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_reader *r;
	struct ilog_entry e;
	struct ilog_pos pos;
	int next = 0;

	o.segment_records = 250;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 1000; i += 50) {
		put_range(log, i, i + 50);
		cr_assert_eq(ilog_flush(log), 0); /* 5 frames a segment */
	}
	/* stop after 333, anywhere in a frame */
	cr_assert_eq(ilog_reader_open(dir, 0, NULL, &r), 0);
	for (int i = 0; i < 333; i++) {
		cr_assert_eq(ilog_reader_next(r, &e), 1);
		on_index(&e, &next);
	}
	ilog_reader_pos(r, &pos);
	ilog_reader_free(r);
	cr_assert_eq(read_all(dir, 0, &pos, on_index, &next, NULL), 667);

	/* a reader at the end of the open segment sees what comes later */
	cr_assert_eq(ilog_reader_open(dir, 0, &pos, &r), 0);
	next = 333;
	while (ilog_reader_next(r, &e) == 1)
		on_index(&e, &next);
	cr_assert_eq(next, 1000);
	put_range(log, 1000, 1100); /* fills the open segment and starts another */
	cr_assert_eq(ilog_reader_next(r, &e), 0, "read before the flush");
	cr_assert_eq(ilog_flush(log), 0);
	while (ilog_reader_next(r, &e) == 1)
		on_index(&e, &next);
	cr_assert_eq(next, 1100);
	ilog_reader_pos(r, &pos);
	put_range(log, 1100, 1120);
	cr_assert_eq(ilog_close(log), 0);
	while (ilog_reader_next(r, &e) == 1)
		on_index(&e, &next);
	cr_assert_eq(next, 1120);
	ilog_reader_free(r);
	/* and from a saved position, after the writer closed */
	next = 1100;
	cr_assert_eq(read_all(dir, 0, &pos, on_index, &next, NULL), 20);
	/* from a position in a segment since deleted: the next one on */
	next = 0;
	pos = (struct ilog_pos){ 0, 12345, 7 };
	cr_assert_eq(read_all(dir, 0, &pos, on_index, &next, NULL), 1120);
}

Test(serve_ilog, since_skips_older_records_and_segments)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct ilog_reader_stats st;
	int next = 600;

	o.segment_records = 100;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	put_range(log, 0, 1000);
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(read_all(dir, 1000000 + 600, NULL, on_index, &next, &st), 400);
	cr_assert_eq(st.segments, 4, "older segments were opened");
	next = 650;
	cr_assert_eq(read_all(dir, 1000000 + 650, NULL, on_index, &next, &st), 350);
	cr_assert_eq(st.segments, 4);
	next = 0;
	cr_assert_eq(read_all(dir, 0, NULL, on_index, &next, &st), 1000);
	cr_assert_eq(st.segments, 10);
}

/* ---------------------------------------------------- odd input, misuse */

static void on_odd(const struct ilog_entry *e, void *arg)
{
	int *n = arg;

	if (!strcmp(e->id, "pretty")) {
		cr_assert(json_is_object(e->input));
		cr_assert_eq(json_integer_value(json_object_get(e->input, "a")), 1);
		cr_assert(json_is_null(e->output));
		cr_assert_null(memchr(e->line.p, '\n', e->line.n));
	} else if (!strcmp(e->id, "big")) {
		cr_assert(e->truncated);
		cr_assert(json_is_null(e->input) && json_is_null(e->output));
		cr_assert_eq(e->status, 413);
	} else if (!strcmp(e->id, "csv")) {
		cr_assert_str_eq(json_string_value(e->input), "a,b\r\n1,2");
	} else if (!strcmp(e->id, "nan")) {
		cr_assert_str_eq(json_string_value(e->input), "[NaN]"); /* not JSON: kept as text */
	} else {
		cr_assert_str_eq(e->id, "bad\xef\xbf\xbdutf8");
	}
	(*n)++;
}

Test(serve_ilog, odd_records_stay_valid_json_and_misuse_is_refused)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log, *other;
	struct ilog_stats st;
	char *big = malloc(2 << 20);
	int n = 0;

	memset(big, '1', 2 << 20);
	o.max_record_bytes = 1 << 20;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	cr_assert_eq(ilog_open(dir, &o, &other), CAIRN_EBUSY);
	cr_assert(strstr(cairn_error_msg(), "in use"), "%s", cairn_error_msg());
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("pretty"), .input = S("{\n\t\"a\": 1\r\n}") }), 1);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("big"), .status = 413,
			.input = { big, 2 << 20 }, .output = S("[1]") }), 1);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("csv"), .input = S("a,b\r\n1,2") }), 1);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("nan"), .input = S("[NaN]") }), 1);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("bad\xffutf8") }), 1);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("neg"), .ts_us = -5 }), CAIRN_EINVALID);
	cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = { big, 2 << 20 } }), CAIRN_EINVALID);
	ilog_stats(log, &st);
	cr_assert_eq(st.appended, 5);
	cr_assert_eq(st.truncated, 1);
	cr_assert_eq(st.dropped, 2);
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(read_all(dir, 0, NULL, on_odd, &n, NULL), 5);
	free(big);

	o.sample_rate = 1.5;
	cr_assert_eq(ilog_open(dir, &o, &log), CAIRN_EINVALID);
	o.sample_rate = -0.0 / 0.0;
	cr_assert_eq(ilog_open(dir, &o, &log), CAIRN_EINVALID);
	o.sample_rate = 1;
	o.max_record_bytes = 64u << 20;
	cr_assert_eq(ilog_open(dir, &o, &log), CAIRN_EINVALID);
	cr_assert_eq(ilog_reader_open("/nonexistent/ilog", 0, NULL, &(struct ilog_reader *){ NULL }), CAIRN_ENOTFOUND);
	cr_assert_eq(ilog_close(NULL), 0);
	ilog_reader_free(NULL);

	/* sample rate 0 logs nothing */
	o = (struct ilog_opts){ 0 };
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	cr_assert_eq(put(log, "x", 1, 0), 0);
	ilog_stats(log, &st);
	cr_assert_eq(st.sampled_out, 1);
	cr_assert_eq(ilog_close(log), 0);
}

Test(serve_ilog, segment_names_parse_strictly)
{
	uint64_t seq;
	bool open;
	int64_t lo, hi;

	cr_assert_eq(ilog__parse_name("ilog-0000000000000007-10-20.jsonl.zst", &seq, &open, &lo, &hi), 1);
	cr_assert(seq == 7 && !open && lo == 10 && hi == 20);
	cr_assert_eq(ilog__parse_name("ilog-0000000000000008.jsonl.zst.open", &seq, &open, &lo, &hi), 1);
	cr_assert(seq == 8 && open);
	cr_assert_eq(ilog__parse_name("ilog-1-20-10.jsonl.zst", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog-1--1-10.jsonl.zst", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog-1-1-10.jsonl.zst.tmp", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog-99999999999999999999-1-2.jsonl.zst", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog-1-1-99999999999999999999.jsonl.zst", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog.lock", &seq, &open, &lo, &hi), 0);
	cr_assert_eq(ilog__parse_name("ilog-.jsonl.zst.open", &seq, &open, &lo, &hi), 0);
}

/* ------------------------------------------------------ fault injection */

static struct ilog *open_fresh(uint64_t segment_records)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;

	o.segment_records = segment_records;
	o.flush_ms = 3600 * 1000; /* frames only on flush or a full segment */
	cr_assert_eq(ilog_open(dir, &o, &log), 0, "%s", cairn_error_msg());
	return log;
}

/* Put the segment a crash left open back, as restore() found it. */
static void restore_open(const char *bytes, size_t len)
{
	char path[128];
	int fd;

	cr_assert_eq(sh("rm -f %s/ilog-0000000000000002*", dir), 0);
	snprintf(path, sizeof(path), "%s/ilog-0000000000000002.jsonl.zst.open", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
	close(fd);
}

Test(serve_ilog, allocation_failures_in_open_fail_cleanly)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	struct buf open_seg = BUF_INIT;
	char path[128];
	uint64_t calls;
	int opened = 0;

	/* a folder with a closed segment and one a crash left open */
	o.segment_records = 30;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	put_range(log, 0, 33);
	cr_assert_eq(ilog_flush(log), 0);
	snprintf(path, sizeof(path), "%s/ilog-0000000000000002.jsonl.zst.open", dir);
	cr_assert_eq(fs_read_file(path, 1 << 20, &open_seg), 0);
	cr_assert_eq(ilog_close(log), 0);
	restore_open(open_seg.ptr, open_seg.len);

	fault_arm(FAULT_ALLOC, 0, FAULT_THIS_THREAD);
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	calls = fault_calls();
	fault_disarm();
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_gt(calls, 5);
	for (uint64_t n = 1; n <= calls; n++) {
		struct ilog_stats st;
		int rc;

		restore_open(open_seg.ptr, open_seg.len);
		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		rc = ilog_open(dir, &o, &log);
		fault_disarm();
		if (rc) {
			cr_assert_eq(rc, CAIRN_ENOMEM, "alloc %" PRIu64 ": %s", n, cairn_error_msg());
			continue;
		}
		opened++;
		/* a failure in recovery is counted, and the segment stays readable */
		ilog_stats(log, &st);
		cr_assert_leq(st.errors, 1);
		cr_assert_eq(ilog_close(log), 0);
		cr_assert_eq(read_all(dir, 0, NULL, NULL, NULL, NULL), 33, "alloc %" PRIu64, n);
	}
	cr_assert_gt(opened, 0);
	buf_release(&open_seg);
}

Test(serve_ilog, allocation_failures_in_the_writer_lose_records_not_the_log)
{
	uint64_t calls;

	/* how many allocations the writer makes for a first flush */
	{
		struct ilog *log = open_fresh(0);

		put_range(log, 0, 20);
		fault_arm(FAULT_ALLOC, 0, 0); /* only the writer allocates now */
		cr_assert_eq(ilog_flush(log), 0);
		calls = fault_calls();
		fault_disarm();
		cr_assert_eq(ilog_close(log), 0);
		cr_assert_eq(sh("rm -f %s/ilog-*", dir), 0);
	}
	cr_assert_geq(calls, 3, "%" PRIu64 " allocations", calls);
	for (uint64_t n = 1; n <= calls; n++) {
		struct ilog *log = open_fresh(0);
		struct ilog_stats st;
		int rc;

		put_range(log, 0, 20);
		fault_arm(FAULT_ALLOC, n, 0);
		rc = ilog_flush(log);
		cr_assert_eq(fault_injected(), 1);
		fault_disarm();
		ilog_stats(log, &st);
		cr_assert_eq(st.written + st.lost, 20, "alloc %" PRIu64, n);
		cr_assert_geq(st.lost, 1, "alloc %" PRIu64 " failed and nothing was lost", n);
		cr_assert_eq(st.errors, 1);
		cr_assert_eq(rc, CAIRN_ENOMEM, "alloc %" PRIu64 ": %d %s", n, rc, cairn_error_msg());
		/* it goes on working */
		put_range(log, 20, 30);
		cr_assert_eq(ilog_close(log), 0, "alloc %" PRIu64 ": %s", n, cairn_error_msg());
		cr_assert_eq(read_all(dir, 0, NULL, NULL, NULL, NULL), st.written + 10, "alloc %" PRIu64, n);
		cr_assert_eq(sh("rm -f %s/ilog-*", dir), 0);
	}

	/* the hot path never allocates */
	{
		struct ilog *log = open_fresh(0);
		struct ilog_stats st;

		fault_arm(FAULT_ALLOC, 1, FAULT_PERSIST | FAULT_THIS_THREAD);
		cr_assert_eq(ilog_append(log, &(struct ilog_record){ .id = S("oom"), .input = S("[1]") }), 1);
		cr_assert_eq(fault_calls(), 0);
		fault_disarm();
		ilog_stats(log, &st);
		cr_assert_eq(st.appended, 1);
		cr_assert_eq(ilog_close(log), 0);
	}
}

Test(serve_ilog, a_failed_write_loses_its_frame_and_the_log_goes_on)
{
	struct ilog *log = open_fresh(0);
	struct ilog_stats st;

	put_range(log, 0, 50);
	cr_assert_eq(ilog_flush(log), 0);
	put_range(log, 50, 100);
	cr_assert_eq(ilog_flush(log), 0);
	put_range(log, 100, 150);
	fault_arm(FAULT_WRITE, 1, 0);
	cr_assert_eq(ilog_flush(log), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "cannot write"), "%s", cairn_error_msg());
	fault_disarm();
	ilog_stats(log, &st);
	cr_assert_eq(st.lost, 50);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(ilog_flush(log), 0, "the error is reported once");
	put_range(log, 150, 200);
	cr_assert_eq(ilog_close(log), 0);
	/* the first segment was cut back to its good frames and closed */
	cr_assert_eq(count_files(".jsonl.zst", NULL), 2);
	cr_assert_eq(sh("zstd -tq %s/ilog-*.jsonl.zst", dir), 0);
	cr_assert_eq(read_all(dir, 0, NULL, NULL, NULL, NULL), 150);

	/* a full disk: everything lost and counted, no crash, close says so */
	{
		struct ilog *l2 = open_fresh(0);

		fault_arm(FAULT_WRITE, 1, FAULT_PERSIST);
		for (int i = 0; i < 5; i++) {
			put_range(l2, 200 + i * 10, 210 + i * 10);
			cr_assert_eq(ilog_flush(l2), CAIRN_EIO);
		}
		put_range(l2, 250, 260);
		cr_assert_eq(ilog_close(l2), CAIRN_EIO);
		fault_disarm();
		cr_assert_eq(read_all(dir, 0, NULL, NULL, NULL, NULL), 150);
	}
}

Test(serve_ilog, a_failed_fsync_or_rename_is_reported_and_nothing_is_lost)
{
	struct ilog *log;
	int next = 0;

	/* fsync of the segment at close */
	log = open_fresh(0);
	put_range(log, 0, 30);
	fault_arm(FAULT_FSYNC, 1, 0);
	cr_assert_eq(ilog_close(log), CAIRN_EIO);
	cr_assert_eq(fault_injected(), 1);
	fault_disarm();
	cr_assert_eq(count_files(".open", NULL), 0);

	/* rename at close: the segment stays open, readable; the next open closes it */
	log = open_fresh(0);
	put_range(log, 30, 60);
	fault_arm(FAULT_RENAME, 1, 0);
	cr_assert_eq(ilog_close(log), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "cannot close"), "%s", cairn_error_msg());
	fault_disarm();
	cr_assert_eq(count_files(".open", NULL), 1);
	cr_assert_eq(read_all(dir, 0, NULL, on_index, &next, NULL), 60);

	/* rename failing again in recovery: counted, not an open error */
	fault_arm(FAULT_RENAME, 1, 0);
	log = open_fresh(0);
	fault_disarm();
	{
		struct ilog_stats st;

		ilog_stats(log, &st);
		cr_assert_eq(st.errors, 1);
	}
	put_range(log, 60, 90);
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(count_files(".open", NULL), 1);
	next = 0;
	cr_assert_eq(read_all(dir, 0, NULL, on_index, &next, NULL), 90);

	/* and then it works */
	log = open_fresh(0);
	cr_assert_eq(ilog_close(log), 0);
	cr_assert_eq(count_files(".open", NULL), 0);
	next = 0;
	cr_assert_eq(read_all(dir, 0, NULL, on_index, &next, NULL), 90);
	cr_assert_eq(sh("zstd -tq %s/ilog-*.jsonl.zst", dir), 0);
}

/* ------------------------------------------------- a reader tailing */

struct tail {
	struct ilog *log;
	int close_rc;
	_Atomic int done; /* the producer closed the log */
};

static void *tail_producer(void *arg)
{
	struct tail *t = arg;

	for (int i = 0; i < 10000; i++) {
		char id[32];

		snprintf(id, sizeof(id), "p%d", i);
		while (put(t->log, id, (unsigned)i, 1000000 + i) == CAIRN_EBUSY)
			usleep(100);
		if (i % 20 == 0)
			usleep(1000); /* slower than the reader, so it catches up often */
	}
	t->close_rc = ilog_close(t->log);
	atomic_store(&t->done, 1);
	return NULL;
}

Test(serve_ilog, a_reader_tailing_a_live_log_sees_every_record_once_in_order)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct tail t = { 0 };
	struct ilog_reader *r;
	struct ilog_reader_stats st;
	struct ilog_entry e;
	pthread_t tid;
	int next = 0, ends = 0;

	o.flush_ms = 3;
	o.segment_records = 700;
	cr_assert_eq(ilog_open(dir, &o, &t.log), 0);
	cr_assert_eq(ilog_reader_open(dir, 0, NULL, &r), 0);
	cr_assert_eq(pthread_create(&tid, NULL, tail_producer, &t), 0);
	for (;;) {
		int done = atomic_load(&t.done), rc;

		while ((rc = ilog_reader_next(r, &e)) == 1) {
			on_index(&e, &next);
			check_entry(&e, (unsigned)next - 1);
		}
		cr_assert_eq(rc, 0, "%s", cairn_error_msg());
		if (done)
			break; /* the pass after the close read to the end */
		ends++;
		usleep(1000);
	}
	pthread_join(tid, NULL);
	cr_assert_eq(t.close_rc, 0);
	ilog_reader_stats(r, &st);
	ilog_reader_free(r);
	cr_assert_eq(next, 10000);
	cr_log_info("the reader caught up with the writer %d times", ends);
	cr_assert_eq(st.bad_lines + st.corrupt + st.gone, 0);
	cr_assert_geq(st.segments, 14);
}

Test(serve_ilog, allocation_failures_in_the_reader_are_errors_and_it_goes_on)
{
	struct ilog_opts o = ILOG_OPTS_INIT;
	struct ilog *log;
	uint64_t calls;
	int next = 0;

	o.segment_records = 40;
	cr_assert_eq(ilog_open(dir, &o, &log), 0);
	for (int i = 0; i < 100; i += 10) {
		put_range(log, i, i + 10);
		cr_assert_eq(ilog_flush(log), 0);
	}
	put_range(log, 100, 105); /* an open segment too */
	cr_assert_eq(ilog_flush(log), 0);

	fault_arm(FAULT_ALLOC, 0, FAULT_THIS_THREAD);
	cr_assert_eq(read_all(dir, 0, NULL, on_index, &next, NULL), 105);
	calls = fault_calls();
	fault_disarm();
	cr_assert_gt(calls, 20);
	/* every one of the first 64, then a sample */
	for (uint64_t n = 1; n <= calls; n += n < 64 ? 1 : calls / 64) {
		struct ilog_reader *r;
		struct ilog_entry e;
		int rc, got = 0, failed = 0;

		next = 0;
		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		rc = ilog_reader_open(dir, 0, NULL, &r);
		if (rc) {
			fault_disarm();
			cr_assert_eq(rc, CAIRN_ENOMEM, "alloc %" PRIu64 ": %s", n, cairn_error_msg());
			cr_assert_null(r);
			continue;
		}
		/* the failed call is an error; the next ones go on where it was */
		while ((rc = ilog_reader_next(r, &e)) != 0) {
			if (rc < 0) {
				cr_assert_eq(rc, CAIRN_ENOMEM, "alloc %" PRIu64 ": %s", n, cairn_error_msg());
				failed++;
				continue;
			}
			fault_hold(true);
			on_index(&e, &next);
			fault_hold(false);
			got++;
		}
		fault_disarm();
		cr_assert_eq(failed, (int)fault_injected(), "alloc %" PRIu64 " failed silently", n);
		cr_assert_eq(got, 105, "alloc %" PRIu64 ": %d records", n, got);
		ilog_reader_free(r);
	}
	cr_assert_eq(ilog_close(log), 0);
}
