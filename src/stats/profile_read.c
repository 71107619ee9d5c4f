/* profile_read.c - reading tables into profiles: CSV (streamed, or split across threads) and JSON lines.
 *
 * A regular CSV file big enough to be worth it is cut into one byte range per
 * thread. The cuts must fall between records, and a line end inside a quoted
 * field is not one, so one sequential pass counts quote characters: in valid
 * RFC 4180 text a line end is between records exactly when the quotes before
 * it are even in number (an escaped "" counts two). Each thread profiles its
 * range with its own reader and profile, and the profiles are merged in file
 * order. Any error in a threaded pass is reported by reading the file again
 * in one thread, so the message names the first bad record and its line.
 */
#include "stats/profile.h"
#include "stats/stats_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK ((size_t)1 << 20)
#define PARALLEL_MIN ((off_t)8 << 20)   /* smaller files are read in one thread */
#define MAX_THREADS 64

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

/* ---- CSV ---- */

struct csv_ctx {
	struct prof *p;
	bool have_header;        /* p is initialised */
	bool keep;               /* keep numeric values (prof_keep_values) */
	struct prof_batch b;     /* records held for p (started with the first record after the header) */
};

/* The records still held go into c's profile; the batch is released. */
static int csv_done(struct csv_ctx *c, int rc)
{
	if (!rc && c->have_header && c->b.off)
		rc = prof_batch_flush(c->p, &c->b);
	prof_batch_free(&c->b);
	return rc;
}

static int csv_record(void *ctx, const struct ccsv_record *rec)
{
	struct csv_ctx *c = ctx;

	if (!c->have_header) {
		const char **names = cmalloc(rec->nfields * sizeof(*names));
		size_t *lens = cmalloc(rec->nfields * sizeof(*lens));
		int rc;

		if (!names || !lens) {
			free(names);
			free(lens);
			return oom();
		}
		for (size_t i = 0; i < rec->nfields; i++) {
			names[i] = rec->fields[i].p;
			lens[i] = rec->fields[i].n;
		}
		rc = prof_init(c->p, names, lens, rec->nfields);
		free(names);
		free(lens);
		if (rc)
			return cairn_error_set(rc, "the header row (line %zu): %s", rec->line, cairn_error_msg());
		c->have_header = true;
		return c->keep ? prof_keep_values(c->p) : 0;
	}
	if (!c->b.off) {
		int rc = prof_batch_init(&c->b, c->p->ncols);

		if (rc)
			return rc;
	}
	return prof_batch_add(c->p, &c->b, rec->fields, rec->nfields, rec->line);
}

static struct ccsv_options csv_opts(const struct profile_options *opt)
{
	struct ccsv_options o = { .delim = opt ? opt->delim : 0, .strict = true };

	return o;
}

/* Feed fd from offset off for len bytes (len < 0: to the end) into r. */
static int feed_fd(struct ccsv_reader *r, int fd, off_t off, off_t len, const char *path)
{
	char *buf = cmalloc(BLOCK);
	int rc = 0;

	if (!buf)
		return oom();
	while (len != 0) {
		size_t want = len < 0 || (off_t)BLOCK < len ? BLOCK : (size_t)len;
		ssize_t n = off >= 0 ? pread(fd, buf, want, off) : read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if ((rc = ccsv_reader_feed(r, buf, (size_t)n)) < 0)
			break;
		if (off >= 0)
			off += n;
		if (len > 0)
			len -= n;
	}
	free(buf);
	return rc;
}

static int csv_whole(int fd, const char *path, const struct profile_options *opt, bool keep, struct prof *p)
{
	struct csv_ctx c = { p, false, keep, { 0 } };
	struct ccsv_options o = csv_opts(opt);
	struct ccsv_reader *r = NULL;
	int rc = ccsv_reader_new(&o, csv_record, &c, &r);

	if (rc)
		return rc;
	rc = feed_fd(r, fd, -1, -1, path);
	if (!rc)
		rc = ccsv_reader_finish(r);
	ccsv_reader_free(r);
	rc = csv_done(&c, rc);
	if (!rc && !c.have_header)
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is empty: a header row is expected", path);
	if (rc && c.have_header)
		prof_free(p);
	return rc < 0 ? rc : 0;
}

/* ---- CSV in threads ---- */

struct chunk {
	int fd;
	const char *path;
	off_t start, end;
	const struct profile_options *opt;
	const struct prof *header;   /* column names */
	bool keep;
	struct prof p;
	int rc;
	char msg[256];
};

static void *chunk_main(void *arg)
{
	struct chunk *ch = arg;
	struct csv_ctx c = { &ch->p, true, ch->keep, { 0 } };
	struct ccsv_options o = csv_opts(ch->opt);
	struct ccsv_reader *r = NULL;
	const char **names = cmalloc(ch->header->ncols * sizeof(*names));
	size_t *lens = cmalloc(ch->header->ncols * sizeof(*lens));
	int rc;

	if (!names || !lens) {
		rc = oom();
		goto out;
	}
	for (size_t i = 0; i < ch->header->ncols; i++) {
		names[i] = ch->header->col[i].name;
		lens[i] = strlen(names[i]);
	}
	if ((rc = prof_init(&ch->p, names, lens, ch->header->ncols)) ||
	    (ch->keep && (rc = prof_keep_values(&ch->p))))
		goto out;
	if ((rc = ccsv_reader_new(&o, csv_record, &c, &r)) == 0) {
		rc = feed_fd(r, ch->fd, ch->start, ch->end - ch->start, ch->path);
		if (!rc)
			rc = ccsv_reader_finish(r);
	}
	ccsv_reader_free(r);
	rc = csv_done(&c, rc);
out:
	free(names);
	free(lens);
	ch->rc = rc < 0 ? rc : 0;
	if (ch->rc) {
		snprintf(ch->msg, sizeof(ch->msg), "%s", cairn_error_msg());
		prof_free(&ch->p);
	}
	return NULL;
}

/* The header's end and the cut points: cut[i] for i in 0..n, each just past
 * a line end outside quotes (cut[0] the header's end, cut[n] the size). */
static int find_cuts(int fd, const char *path, off_t size, char quote, off_t *cut, unsigned n)
{
	char *buf = cmalloc(BLOCK);
	bool inq = false, header = false;
	unsigned next = 1;
	off_t pos = 0, target = 0;
	int rc = 0;

	if (!buf)
		return oom();
	cut[0] = -1;
	while (pos < size && next < n) {
		ssize_t got = pread(fd, buf, BLOCK, pos);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", path, got ? strerror(errno) : "file shrank");
			break;
		}
		for (ssize_t i = 0; i < got && next < n;) {
			/* before the next target, only the quotes matter: jump from quote to quote */
			if (header && pos + i < target) {
				ssize_t stop = target - pos < got ? (ssize_t)(target - pos) : got;
				const char *q = memchr(buf + i, quote, (size_t)(stop - i));

				if (!q) {
					i = stop;
					continue;
				}
				inq = !inq;
				i = q - buf + 1;
				continue;
			}
			if (buf[i] == quote) {
				inq = !inq;
			} else if (buf[i] == '\n' && !inq) {
				if (!header) {
					header = true;
					cut[0] = pos + i + 1;
					target = cut[0] + (size - cut[0]) / n;
				} else {
					cut[next++] = pos + i + 1;
					target = cut[0] + (size - cut[0]) / n * next;
				}
			}
			i++;
		}
		pos += got;
	}
	free(buf);
	for (; next <= n; next++)
		cut[next] = size;
	return rc;
}

static unsigned usable_cores(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

/* 1 when the threaded pass found an error (the caller reads it again in one thread) */
static int csv_threads(int fd, const char *path, off_t size, const struct profile_options *opt, unsigned n,
		       bool keep, struct prof *p)
{
	off_t cut[MAX_THREADS + 1];
	struct chunk *ch = NULL;
	pthread_t tid[MAX_THREADS];
	struct csv_ctx hc = { p, false, keep, { 0 } };
	struct ccsv_options o = csv_opts(opt);
	struct ccsv_reader *r = NULL;
	unsigned started = 0;
	int rc;

	if ((rc = find_cuts(fd, path, size, '"', cut, n)))
		return rc;
	if (cut[0] < 0)
		return 1;   /* no line end outside quotes: not worth it */
	/* the header, read as the one-thread path would */
	if ((rc = ccsv_reader_new(&o, csv_record, &hc, &r)))
		return rc;
	rc = feed_fd(r, fd, 0, cut[0], path);
	if (!rc)
		rc = ccsv_reader_finish(r);
	ccsv_reader_free(r);
	rc = csv_done(&hc, rc);
	if (rc || !hc.have_header) {
		if (hc.have_header)
			prof_free(p);
		return 1;
	}
	if (!(ch = ccalloc(n, sizeof(*ch)))) {
		prof_free(p);
		return oom();
	}
	for (unsigned i = 0; i < n; i++) {
		ch[i] = (struct chunk){ .fd = fd, .path = path, .start = i ? cut[i] : cut[0], .end = cut[i + 1],
					.opt = opt, .header = p, .keep = keep };
		if (pthread_create(&tid[i], NULL, chunk_main, &ch[i])) {
			ch[i].rc = cairn_error_set(CAIRN_ERR, "cannot start a thread");
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	rc = started < n;
	for (unsigned i = 0; i < started && !rc; i++)
		rc = ch[i].rc ? 1 : 0;
	for (unsigned i = 0; i < started && !rc; i++)
		if ((rc = prof_merge(p, &ch[i].p)))
			break;
	for (unsigned i = 0; i < n; i++)
		prof_free(&ch[i].p);
	free(ch);
	if (rc)
		prof_free(p);
	return rc;
}

/* ---- JSON lines ---- */

static int jsonl_text(json_t *v, char *tmp, size_t size, const char **s, size_t *n)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		*s = "";
		*n = 0;
		return 0;
	case JSON_STRING:
		*s = json_string_value(v);
		*n = json_string_length(v);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		*s = json_is_true(v) ? "true" : "false";
		*n = strlen(*s);
		return 0;
	case JSON_INTEGER:
		*n = (size_t)snprintf(tmp, size, "%lld", (long long)json_integer_value(v));
		*s = tmp;
		return 0;
	case JSON_REAL:
		*n = (size_t)snprintf(tmp, size, "%.17g", json_real_value(v));
		*s = tmp;
		return 0;
	default:
		return -1;
	}
}

static int jsonl_line(struct prof *p, bool *init, bool keep, const char *line, size_t len, size_t lineno)
{
	json_error_t err;
	json_t *o, *v;
	const char *key;
	struct ccsv_field *f = NULL;
	char (*tmp)[40] = NULL;
	int rc = 0;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len)
		return 0;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(o)) {
		json_decref(o);
		return cairn_error_set(CAIRN_EINVALID, "line %zu: not a JSON object%s%s", lineno, o ? "" : ": ",
				       o ? "" : err.text);
	}
	if (!*init) {
		size_t n = json_object_size(o), i = 0;
		const char **names = cmalloc((n + 1) * sizeof(*names));
		size_t *lens = cmalloc((n + 1) * sizeof(*lens));

		if (!names || !lens) {
			rc = oom();
		} else {
			json_object_foreach(o, key, v) {
				names[i] = key;
				lens[i++] = strlen(key);
			}
			rc = prof_init(p, names, lens, n);
			if (rc)
				rc = cairn_error_set(rc, "line %zu: %s", lineno, cairn_error_msg());
			else if (keep && (rc = prof_keep_values(p)))
				prof_free(p);
		}
		free(names);
		free(lens);
		if (rc)
			goto out;
		*init = true;
	}
	if (!(f = ccalloc(p->ncols, sizeof(*f))) || !(tmp = cmalloc(p->ncols * sizeof(*tmp)))) {
		rc = oom();
		goto out;
	}
	for (size_t i = 0; i < p->ncols; i++)
		f[i].p = "";
	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; i < p->ncols && strcmp(p->col[i].name, key); i++)
			;
		if (i == p->ncols) {
			rc = cairn_error_set(CAIRN_EINVALID, "line %zu: key '%.100s' is not a column (the first line names them)",
					     lineno, key);
			goto out;
		}
		if (jsonl_text(v, tmp[i], sizeof(tmp[i]), &f[i].p, &f[i].n)) {
			rc = cairn_error_set(CAIRN_EINVALID, "line %zu, key '%.100s': arrays and objects are not column values",
					     lineno, key);
			goto out;
		}
	}
	rc = prof_add_record(p, f, p->ncols, lineno);
out:
	free(f);
	free(tmp);
	json_decref(o);
	return rc;
}

static int jsonl_fd(int fd, const char *path, bool keep, struct prof *p)
{
	struct buf pending = BUF_INIT;
	char *blk = cmalloc(BLOCK);
	bool init = false;
	size_t lineno = 0;
	int rc = 0;

	if (!blk)
		return oom();
	for (;;) {
		ssize_t n = read(fd, blk, BLOCK);
		size_t start = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", path, strerror(errno));
			break;
		}
		if (n == 0) {
			if (pending.len)
				rc = jsonl_line(p, &init, keep, pending.ptr, pending.len, ++lineno);
			break;
		}
		for (ssize_t i = 0; i < n && !rc; i++) {
			if (blk[i] != '\n')
				continue;
			if (pending.len) {
				if (buf_put(&pending, blk + start, (size_t)i - start)) {
					rc = oom();
					break;
				}
				rc = jsonl_line(p, &init, keep, pending.ptr, pending.len, ++lineno);
				buf_clear(&pending);
			} else {
				rc = jsonl_line(p, &init, keep, blk + start, (size_t)i - start, ++lineno);
			}
			start = (size_t)i + 1;
		}
		if (rc)
			break;
		if (start < (size_t)n && buf_put(&pending, blk + start, (size_t)n - start)) {
			rc = oom();
			break;
		}
	}
	free(blk);
	buf_release(&pending);
	if (!rc && !init)
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' holds no JSON object", path);
	if (rc && init)
		prof_free(p);
	return rc;
}

/* ---- entry points ---- */

static json_t *source_json(const char *path, const struct profile_options *opt, off_t size)
{
	const char *name = opt && opt->name ? opt->name : strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	return json_pack("{s:s,s:s,s:I}", "file", name, "format", opt && opt->jsonl ? "jsonl" : "csv", "bytes",
			 (json_int_t)size);
}

static int finish(struct prof *p, json_t *src, json_t **out)
{
	*out = src ? prof_to_json(p, src) : NULL;
	json_decref(src);
	prof_free(p);
	return *out ? 0 : oom();
}

int prof_read_file(const char *path, const struct profile_options *opt, bool keep, struct prof *p)
{
	struct stat st;
	int fd, rc = 1;
	unsigned threads = opt && opt->threads ? opt->threads : usable_cores();

	memset(p, 0, sizeof(*p));
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
	if (fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", path,
				       strerror(errno));
	if (fstat(fd, &st)) {
		rc = cairn_error_set(CAIRN_EIO, "cannot stat '%s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is a directory, not a table", path);
		goto out;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (opt && opt->jsonl) {
		rc = jsonl_fd(fd, path, keep, p);
	} else {
		if (S_ISREG(st.st_mode) && st.st_size >= PARALLEL_MIN && threads > 1)
			rc = csv_threads(fd, path, st.st_size, opt, threads, keep, p);
		if (rc > 0) {   /* one thread: small, not a file, or the threaded pass failed */
			if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_SET) < 0)
				rc = cairn_error_set(CAIRN_EIO, "cannot seek '%s': %s", path, strerror(errno));
			else
				rc = csv_whole(fd, path, opt, keep, p);
		}
	}
	p->bytes = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
out:
	close(fd);
	return rc;
}

int profile_file(const char *path, const struct profile_options *opt, json_t **out)
{
	struct prof p;
	int rc;

	*out = NULL;
	if ((rc = prof_read_file(path, opt, false, &p)))
		return rc;
	return finish(&p, source_json(path, opt, (off_t)p.bytes), out);
}

int profile_buffer(const char *data, size_t len, const struct profile_options *opt, json_t **out)
{
	struct prof p;
	int rc;

	*out = NULL;
	if (opt && opt->jsonl) {
		bool init = false;
		size_t lineno = 0, start = 0;

		rc = 0;
		for (size_t i = 0; i <= len && !rc; i++)
			if (i == len || data[i] == '\n') {
				rc = jsonl_line(&p, &init, false, data + start, i - start, ++lineno);
				start = i + 1;
			}
		if (!rc && !init)
			rc = cairn_error_set(CAIRN_EINVALID, "the input holds no JSON object");
		if (rc && init)
			prof_free(&p);
	} else {
		struct csv_ctx c = { &p, false, false, { 0 } };
		struct ccsv_options o = csv_opts(opt);

		rc = ccsv_read(data, len, &o, csv_record, &c);
		rc = csv_done(&c, rc < 0 ? rc : 0);
		if (!rc && !c.have_header)
			rc = cairn_error_set(CAIRN_EINVALID, "the input is empty: a header row is expected");
		if (rc && c.have_header)
			prof_free(&p);
	}
	if (rc)
		return rc;
	return finish(&p, source_json(opt && opt->name ? opt->name : "-", opt, (off_t)len), out);
}

/* ---- rows given one by one ---- */

struct profile_rows {
	struct prof p;
	bool init;
	uint64_t ignored;
};

int profile_rows_new(const char *const *names, size_t n, struct profile_rows **out)
{
	struct profile_rows *r = ccalloc(1, sizeof(*r));
	size_t *lens = NULL;
	int rc;

	*out = NULL;
	if (!r)
		return oom();
	if (names) {
		if (!(lens = cmalloc((n ? n : 1) * sizeof(*lens)))) {
			free(r);
			return oom();
		}
		for (size_t i = 0; i < n; i++)
			lens[i] = strlen(names[i]);
		rc = prof_init(&r->p, names, lens, n);
		free(lens);
		if (rc) {
			free(r);
			return rc;
		}
		r->init = true;
	}
	*out = r;
	return 0;
}

int profile_rows_add(struct profile_rows *r, const json_t *row)
{
	struct ccsv_field *f;
	char (*tmp)[40];
	const char *key;
	json_t *v;
	int rc = 0;

	if (!json_is_object(row))
		return cairn_error_set(CAIRN_EINVALID, "row %llu is not a JSON object", (unsigned long long)r->p.rows + 1);
	if (!r->init) {
		size_t n = json_object_size(row), i = 0;
		const char **names = cmalloc((n + 1) * sizeof(*names));
		size_t *lens = cmalloc((n + 1) * sizeof(*lens));

		if (!names || !lens) {
			rc = oom();
		} else {
			json_object_foreach((json_t *)row, key, v) {
				names[i] = key;
				lens[i++] = strlen(key);
			}
			rc = prof_init(&r->p, names, lens, n);
		}
		free(names);
		free(lens);
		if (rc)
			return rc;
		r->init = true;
	}
	f = ccalloc(r->p.ncols, sizeof(*f));
	tmp = cmalloc(r->p.ncols * sizeof(*tmp));
	if (!f || !tmp) {
		rc = oom();
		goto out;
	}
	for (size_t i = 0; i < r->p.ncols; i++)
		f[i].p = "";
	json_object_foreach((json_t *)row, key, v) {
		size_t i;

		for (i = 0; i < r->p.ncols && strcmp(r->p.col[i].name, key); i++)
			;
		if (i == r->p.ncols || jsonl_text(v, tmp[i], sizeof(tmp[i]), &f[i].p, &f[i].n)) {
			r->ignored++;   /* not a column, or not a scalar */
			if (i < r->p.ncols) {
				f[i].p = "";
				f[i].n = 0;
			}
		}
	}
	rc = prof_add_record(&r->p, f, r->p.ncols, (size_t)r->p.rows + 1);
out:
	free(f);
	free(tmp);
	return rc;
}

uint64_t profile_rows_count(const struct profile_rows *r)
{
	return r->p.rows;
}

uint64_t profile_rows_ignored(const struct profile_rows *r)
{
	return r->ignored;
}

int profile_rows_profile(const struct profile_rows *r, json_t *source, json_t **out)
{
	*out = NULL;
	if (!r->init)
		return cairn_error_set(CAIRN_EINVALID, "no rows, and no columns named: nothing to profile");
	if (!(*out = prof_to_json(&r->p, source)))
		return oom();
	return 0;
}

void profile_rows_free(struct profile_rows *r)
{
	if (!r)
		return;
	if (r->init)
		prof_free(&r->p);
	free(r);
}
