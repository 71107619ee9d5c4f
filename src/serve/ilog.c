/* ilog.c - the inference log: a lock-free queue filled by the server's
 * threads, one writer thread that compresses it into zstd segments, and the
 * reader that walks them (see ilog.h; the format is docs/inference-log.md).
 *
 * The queue is a byte ring allocated once (queue_bytes): ilog_append()
 * reserves room for the whole record with one compare-and-swap on the head,
 * copies the record in and publishes it with a release store of its header
 * word; the writer consumes in reservation order, zeroes what it consumed
 * and moves the tail. No allocation, lock or system call on the hot path,
 * and a full ring is a refused reservation, not a wait.
 *
 * The writer turns records into JSON lines and feeds them to a zstd stream;
 * a frame ends when flush_ms has passed since its first record, when it holds
 * ILOG_FRAME_TARGET bytes, or when the segment is full, and is then written
 * with one write() call to the segment "ilog-<seq>.jsonl.zst.open". A full
 * segment is fsync'd and renamed "ilog-<seq>-<min_ts>-<max_ts>.jsonl.zst".
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: zstd allocates through core/fault */
#include "serve/ilog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "core/path.h"
#include "core/utf8.h"
#include "core/util.h"

#define MiB ((uint64_t)1 << 20)
#define ILOG_FRAME_TARGET MiB          /* uncompressed bytes that end a frame */
#define ILOG_READ_FRAME_MAX (256 * MiB) /* the most a reader decompresses of one frame */
#define ILOG_RECORD_LIMIT (16 * MiB)   /* the largest max_record_bytes */
#define ILOG_TICK_MS 100               /* the writer looks at the queue at least this often */
#define ILOG_READ_CHUNK (128 * 1024)
#define ILOG_NAME_MAX 96
#define ILOG_LOCK_NAME "ilog.lock"
#define ILOG_OPEN_SUFFIX ".jsonl.zst.open"
#define ILOG_CLOSED_SUFFIX ".jsonl.zst"

/* ---------------------------------------------------------------- helpers */

static void *z_alloc(void *opaque, size_t n)
{
	(void)opaque;
	return cmalloc(n);
}

static void z_free(void *opaque, void *p)
{
	(void)opaque;
	free(p);
}

static const ZSTD_customMem z_mem = { z_alloc, z_free, NULL };

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a 64 of the id, then MurmurHash3's fmix64 so every bit is mixed. */
static uint64_t id_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The hash threshold of a rate: an id is logged when its hash is below it;
 * *all when every id is. */
static uint64_t rate_threshold(double rate, bool *all)
{
	*all = rate >= 1.0;
	if (*all || !(rate > 0.0))
		return 0;
	return (uint64_t)(rate * 0x1p64); /* rate < 1, so below 2^64 */
}

bool ilog_sampled(double rate, const char *id, size_t n)
{
	bool all;
	uint64_t t = rate_threshold(rate, &all);

	return all || id_hash(id, n) < t;
}

static void put_i64(struct buf *b, int64_t v)
{
	char t[24];
	size_t i = sizeof(t);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		t[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		t[--i] = '-';
	buf_put(b, t + i, sizeof(t) - i);
}

/* A JSON string of s, with every byte that is not UTF-8 replaced by U+FFFD
 * (tmp is scratch). */
static void put_str(struct buf *b, struct buf *tmp, const char *s, size_t n)
{
	size_t i = 0, bad;

	if (utf8_valid(s, n)) {
		cjson_put_string(b, s, n);
		return;
	}
	buf_clear(tmp);
	while (i < n) {
		bad = utf8_invalid_at(s + i, n - i);
		buf_put(tmp, s + i, bad);
		i += bad;
		if (i < n) {
			buf_put(tmp, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	if (tmp->err) {
		b->err = tmp->err;
		return;
	}
	cjson_put_string(b, tmp->ptr, tmp->len);
}

/* ------------------------------------------------------ JSON check */

/* Whether a JSON text is what jansson reads (with JSON_DECODE_ANY |
 * JSON_ALLOW_NUL), checked in one pass without building it: RFC 8259, UTF-8,
 * nesting to jansson's 2048, integers in int64 and reals that do not
 * overflow a double, no NUL in object keys. jansson builds a tree (10 us for
 * a 30-feature row: 44 MB/s here), which would cap the writer below the
 * server's request rate; this runs at memory speed. fuzz_ilog holds it to
 * jansson's answer. */
#define JV_MAX_DEPTH 2048

static const char *jv_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int jv_hex4(const char *p, const char *e)
{
	int v = 0;

	if (e - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A string at *pp (on its opening quote), UTF-8 inside. Bytes past 0x7f
 * are only valid in strings, so only strings are checked for UTF-8. */
static bool jv_string(const char **pp, const char *e, bool key)
{
	const char *p = *pp + 1, *start = p;
	bool high = false;

	while (p < e) {
		unsigned char c = (unsigned char)*p;
		int u, lo;

		if (c == '"') {
			*pp = p + 1;
			return !high || utf8_valid(start, (size_t)(p - start));
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			high |= c >= 0x80;
			p++;
			continue;
		}
		if (++p == e)
			return false;
		switch (*p) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p++;
			break;
		case 'u':
			if ((u = jv_hex4(p + 1, e)) < 0)
				return false;
			p += 5;
			if (u >= 0xdc00 && u <= 0xdfff)
				return false;
			if (u >= 0xd800 && u <= 0xdbff) {
				if (e - p < 2 || p[0] != '\\' || p[1] != 'u' || (lo = jv_hex4(p + 2, e)) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return false;
				p += 6;
			}
			if (!u && key)
				return false; /* jansson keeps keys as C strings */
			break;
		default:
			return false;
		}
	}
	return false;
}

static locale_t jv_c_locale(void)
{
	static _Atomic(locale_t) loc;
	locale_t l = atomic_load(&loc), nl;

	if (l)
		return l;
	nl = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!nl)
		return (locale_t)0;
	if (!atomic_compare_exchange_strong(&loc, &l, nl)) {
		freelocale(nl);
		return l;
	}
	return nl;
}

/* A number at *pp: 1, 0 when it is none or out of jansson's range,
 * CAIRN_ENOMEM. */
static int jv_number(const char **pp, const char *e, struct buf *tmp)
{
	const char *p = *pp, *start = p, *digits;
	bool neg = false, real = false;
	uint64_t exp = 0;
	bool exp_neg = false;
	size_t int_digits;

	if (*p == '-') {
		neg = true;
		p++;
	}
	digits = p;
	if (p == e)
		return 0;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	else
		return 0;
	int_digits = (size_t)(p - digits);
	if (p < e && *p == '.') {
		real = true;
		if (++p == e || *p < '0' || *p > '9')
			return 0;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		real = true;
		if (++p < e && (*p == '+' || *p == '-'))
			exp_neg = *p++ == '-';
		if (p == e || *p < '0' || *p > '9')
			return 0;
		for (; p < e && *p >= '0' && *p <= '9'; p++)
			if (exp < 100000)
				exp = exp * 10 + (uint64_t)(*p - '0');
	}
	*pp = p;
	if (!real) {
		/* int64: 19 digits at most, and then not past the limit */
		if (int_digits != 19)
			return int_digits < 19;
		return memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
	}
	if (int_digits + (exp_neg ? 0 : exp) < 300)
		return 1; /* far below DBL_MAX */
	{
		locale_t c = jv_c_locale();
		double v;

		buf_clear(tmp);
		if (buf_put(tmp, start, (size_t)(p - start)))
			return CAIRN_ENOMEM;
		errno = 0;
		v = c ? strtod_l(tmp->ptr, NULL, c) : strtod(tmp->ptr, NULL);
		return !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL));
	}
}

/* 1 when s[0..n) is a JSON text jansson reads, 0 when not, CAIRN_ENOMEM. */
static int json_text_check(const char *s, size_t n, struct buf *tmp)
{
	const char *p = s, *e = s + n;
	unsigned char objs[JV_MAX_DEPTH / 8]; /* bit d: level d is an object */
	enum { V_VALUE, V_KEY, V_AFTER } want = V_VALUE;
	int depth = 0, rc;

	for (;;) {
		p = jv_ws(p, e);
		if (want == V_AFTER) {
			bool obj;

			if (!depth)
				return p == e;
			if (p == e)
				return 0;
			obj = objs[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
			if (*p == ',') {
				p++;
				want = obj ? V_KEY : V_VALUE;
			} else if (*p == (obj ? '}' : ']')) {
				p++;
				depth--;
			} else {
				return 0;
			}
			continue;
		}
		if (p == e)
			return 0;
		if (want == V_KEY) {
			if (*p != '"' || !jv_string(&p, e, true))
				return 0;
			p = jv_ws(p, e);
			if (p == e || *p != ':')
				return 0;
			p++;
			want = V_VALUE;
			continue;
		}
		switch (*p) {
		case '{':
		case '[':
			if (depth == JV_MAX_DEPTH)
				return 0;
			if (*p == '{')
				objs[depth / 8] |= (unsigned char)(1u << (depth % 8));
			else
				objs[depth / 8] &= (unsigned char)~(1u << (depth % 8));
			depth++;
			p = jv_ws(p + 1, e);
			if (p < e && *p == (objs[(depth - 1) / 8] & (1u << ((depth - 1) % 8)) ? '}' : ']')) {
				p++;
				depth--;
				want = V_AFTER;
			} else {
				want = objs[(depth - 1) / 8] & (1u << ((depth - 1) % 8)) ? V_KEY : V_VALUE;
			}
			break;
		case '"':
			if (!jv_string(&p, e, false))
				return 0;
			want = V_AFTER;
			break;
		case 't':
		case 'f':
		case 'n': {
			const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
			size_t l = strlen(lit);

			if ((size_t)(e - p) < l || memcmp(p, lit, l))
				return 0;
			p += l;
			want = V_AFTER;
			break;
		}
		default:
			if ((rc = jv_number(&p, e, tmp)) <= 0)
				return rc;
			want = V_AFTER;
		}
	}
}

/* For fuzzing: the check above. */
int ilog__json_check(const char *s, size_t n)
{
	struct buf tmp = BUF_INIT;
	int rc = json_text_check(s, n, &tmp);

	buf_release(&tmp);
	return rc;
}

/* Append the JSON value s as it is when it is JSON (line breaks, which can
 * only be whitespace there, become spaces), else s as a JSON string; an empty
 * s is null. CAIRN_ENOMEM when the check ran out of memory. */
static int put_json(struct buf *b, struct buf *tmp, const char *s, size_t n)
{
	size_t at;
	int rc;

	if (!n) {
		buf_puts(b, "null");
		return 0;
	}
	if ((rc = json_text_check(s, n, tmp)) < 0)
		return rc;
	if (!rc) {
		put_str(b, tmp, s, n);
		return 0;
	}
	at = b->len;
	if (buf_put(b, s, n))
		return 0;
	for (char *q = b->ptr + at, *end = b->ptr + b->len; (q = memchr(q, '\n', (size_t)(end - q))); )
		*q = ' ';
	for (char *q = b->ptr + at, *end = b->ptr + b->len; (q = memchr(q, '\r', (size_t)(end - q))); )
		*q = ' ';
	return 0;
}

/* ------------------------------------------------------- segment names */

static int parse_u64(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*out = v;
	return 1;
}

int ilog__parse_name(const char *name, uint64_t *seq, bool *open, int64_t *min_ts, int64_t *max_ts)
{
	const char *p = name;
	uint64_t s, lo, hi;

	if (strncmp(p, "ilog-", 5))
		return 0;
	p += 5;
	if (!parse_u64(&p, &s))
		return 0;
	if (!strcmp(p, ILOG_OPEN_SUFFIX)) {
		*seq = s;
		*open = true;
		*min_ts = 0;
		*max_ts = INT64_MAX;
		return 1;
	}
	if (*p++ != '-' || !parse_u64(&p, &lo) || *p++ != '-' || !parse_u64(&p, &hi))
		return 0;
	if (strcmp(p, ILOG_CLOSED_SUFFIX) || lo > INT64_MAX || hi > INT64_MAX || lo > hi)
		return 0;
	*seq = s;
	*open = false;
	*min_ts = (int64_t)lo;
	*max_ts = (int64_t)hi;
	return 1;
}

static void open_name(char out[ILOG_NAME_MAX], uint64_t seq)
{
	snprintf(out, ILOG_NAME_MAX, "ilog-%016" PRIu64 ILOG_OPEN_SUFFIX, seq);
}

static void closed_name(char out[ILOG_NAME_MAX], uint64_t seq, int64_t lo, int64_t hi)
{
	snprintf(out, ILOG_NAME_MAX, "ilog-%016" PRIu64 "-%" PRId64 "-%" PRId64 ILOG_CLOSED_SUFFIX, seq, lo, hi);
}

/* One segment file found in the folder. */
struct seg {
	uint64_t seq;
	bool open;               /* still ".open" */
	int64_t min_ts, max_ts;  /* from a closed name; 0..INT64_MAX when open */
	uint64_t size;           /* bytes (only when scanned with sizes) */
	char name[ILOG_NAME_MAX];
};

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (int)x->open - (int)y->open; /* closed first */
}

/* The segments in dirfd with seq >= min_seq, by sequence number (one entry
 * per number: a closed one wins). *out is the caller's (free). */
static int scan_dir(int dirfd, const char *dir, uint64_t min_seq, bool sizes, struct seg **out, size_t *n)
{
	struct seg *v = NULL, *nv;
	size_t len = 0, cap = 0, w;
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		err = cairn_error_set(CAIRN_EIO, "cannot list inference log '%s': %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((errno = 0, de = readdir(d))) {
		struct seg s = { 0 };
		struct stat st;

		if (strlen(de->d_name) >= ILOG_NAME_MAX ||
		    !ilog__parse_name(de->d_name, &s.seq, &s.open, &s.min_ts, &s.max_ts) || s.seq < min_seq)
			continue;
		memcpy(s.name, de->d_name, strlen(de->d_name) + 1);
		if (sizes) {
			if (fstatat(dirfd, s.name, &st, AT_SYMLINK_NOFOLLOW))
				continue; /* gone meanwhile */
			if (!S_ISREG(st.st_mode))
				continue;
			s.size = (uint64_t)st.st_size;
		}
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			nv = crealloc(v, cap * sizeof(*v));
			if (!nv) {
				err = cairn_error_set(CAIRN_ENOMEM, "out of memory listing inference log '%s'", dir);
				goto out;
			}
			v = nv;
		}
		v[len++] = s;
	}
	if (errno) {
		err = cairn_error_set(CAIRN_EIO, "cannot list inference log '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (len)
		qsort(v, len, sizeof(*v), seg_cmp);
	for (size_t i = w = 0; i < len; i++)
		if (!w || v[w - 1].seq != v[i].seq)
			v[w++] = v[i];
	len = w;
out:
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = len;
	return 0;
}

/* ------------------------------------------------------- frame decoder */

/* Decodes one segment file frame by frame. */
struct dec {
	int fd;              /* the segment, or -1 */
	ZSTD_DCtx *dctx;
	char *in;            /* ILOG_READ_CHUNK bytes */
	size_t in_len, in_pos;
	uint64_t in_off;     /* file offset of in[0] */
	struct buf frame;    /* the decompressed frame */
	uint64_t frame_off;  /* where the last frame started */
	uint64_t frame_end;  /* where it ended: the next frame's offset */
};

static int dec_init(struct dec *d, size_t frame_max)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	buf_init(&d->frame, frame_max ? frame_max : ILOG_READ_FRAME_MAX);
	d->in = cmalloc(ILOG_READ_CHUNK);
	d->dctx = ZSTD_createDCtx_advanced(z_mem);
	if (!d->in || !d->dctx)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory for the inference log reader");
	ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_windowLogMax, 27);
	return 0;
}

static void dec_close_fd(struct dec *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static void dec_release(struct dec *d)
{
	dec_close_fd(d);
	ZSTD_freeDCtx(d->dctx);
	free(d->in);
	buf_release(&d->frame);
	d->dctx = NULL;
	d->in = NULL;
}

/* Go on decoding at byte off of the same file. */
static int dec_seek(struct dec *d, uint64_t off, const char *what)
{
	if (lseek(d->fd, (off_t)off, SEEK_SET) < 0)
		return cairn_error_set(CAIRN_EIO, "cannot seek in '%s': %s", what, strerror(errno));
	d->in_len = d->in_pos = 0;
	d->in_off = off;
	d->frame_off = d->frame_end = off;
	ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	return 0;
}

/* Start decoding fd (taken) at byte off. */
static int dec_start(struct dec *d, int fd, uint64_t off, const char *what)
{
	dec_close_fd(d);
	d->fd = fd;
	return dec_seek(d, off, what);
}

/* Decode the next frame into d->frame: 1 when one is complete (frame_off and
 * frame_end say where it lies), 0 at the end of the file (*partial: the
 * file ends inside a frame), CAIRN_EINVALID for bytes that are no zstd frame
 * or a frame too big, CAIRN_EIO, CAIRN_ENOMEM. */
static int dec_next(struct dec *d, const char *what, bool *partial)
{
	bool started = false, full = false;
	size_t ret;

	*partial = false;
	buf_clear(&d->frame);
	d->frame_off = d->in_off + d->in_pos;
	for (;;) {
		ZSTD_inBuffer ib;
		ZSTD_outBuffer ob;

		if (d->in_pos == d->in_len && !full) {
			ssize_t n;

			d->in_off += d->in_len;
			d->in_len = d->in_pos = 0;
			do
				n = read(d->fd, d->in, ILOG_READ_CHUNK);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return cairn_error_set(CAIRN_EIO, "cannot read '%s': %s", what, strerror(errno));
			if (n == 0) {
				*partial = started;
				return 0;
			}
			d->in_len = (size_t)n;
		}
		if (buf_grow(&d->frame, ZSTD_DStreamOutSize()))
			return d->frame.err == CAIRN_ENOMEM ?
				cairn_error_set(CAIRN_ENOMEM, "out of memory reading '%s'", what) :
				cairn_error_set(CAIRN_EINVALID, "'%s': a frame is bigger than %zu bytes", what,
						d->frame.max);
		ib = (ZSTD_inBuffer){ d->in, d->in_len, d->in_pos };
		ob = (ZSTD_outBuffer){ d->frame.ptr + d->frame.len, d->frame.cap - d->frame.len - 1, 0 };
		ret = ZSTD_decompressStream(d->dctx, &ob, &ib);
		if (ib.pos > d->in_pos)
			started = true;
		d->in_pos = ib.pos;
		d->frame.len += ob.pos;
		d->frame.ptr[d->frame.len] = '\0';
		if (ZSTD_isError(ret)) {
			ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
			if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
				return cairn_error_set(CAIRN_ENOMEM, "out of memory reading '%s'", what);
			return cairn_error_set(CAIRN_EINVALID, "'%s' at byte %" PRIu64 ": %s", what, d->frame_off,
					       ZSTD_getErrorName(ret));
		}
		if (ret == 0) {
			d->frame_end = d->in_off + d->in_pos;
			return 1;
		}
		full = ob.pos == ob.size; /* more output may be waiting without input */
	}
}

/* Parse one line into e (e->obj is the caller's then). 1 for a record, 0 for
 * a line that is not one, CAIRN_ENOMEM. */
static int parse_entry(const char *p, size_t n, struct ilog_entry *e)
{
	json_error_t jerr;
	json_t *o, *v;

	cjson_oom_clear();
	o = json_loadb(p, n, JSON_ALLOW_NUL, &jerr);
	if (!o) {
		if (json_error_code(&jerr) == json_error_out_of_memory || cjson_oom_seen())
			return cairn_error_set(CAIRN_ENOMEM, "out of memory reading the inference log");
		return 0;
	}
	if (cjson_oom_seen()) { /* jansson left a member out */
		json_decref(o);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory reading the inference log");
	}
	if (!json_is_object(o))
		goto bad;
	memset(e, 0, sizeof(*e));
	v = json_object_get(o, "id");
	if (!json_is_string(v))
		goto bad;
	e->id = json_string_value(v);
	v = json_object_get(o, "ts");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		goto bad;
	e->ts_us = json_integer_value(v);
	e->model = e->version = e->role = "";
	if ((v = json_object_get(o, "model"))) {
		if (!json_is_string(v))
			goto bad;
		e->model = json_string_value(v);
	}
	if ((v = json_object_get(o, "version"))) {
		if (!json_is_string(v))
			goto bad;
		e->version = json_string_value(v);
	}
	if ((v = json_object_get(o, "role"))) {
		if (!json_is_string(v))
			goto bad;
		e->role = json_string_value(v);
	}
	if ((v = json_object_get(o, "latency_us"))) {
		if (!json_is_integer(v))
			goto bad;
		e->latency_us = json_integer_value(v);
	}
	if ((v = json_object_get(o, "status"))) {
		if (!json_is_integer(v) || json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX)
			goto bad;
		e->status = (int)json_integer_value(v);
	}
	if ((v = json_object_get(o, "truncated"))) {
		if (!json_is_boolean(v))
			goto bad;
		e->truncated = json_is_true(v);
	}
	e->input = json_object_get(o, "input");
	e->output = json_object_get(o, "output");
	if (!e->input)
		e->input = json_null();
	if (!e->output)
		e->output = json_null();
	e->obj = o;
	e->line = (struct slice){ p, n };
	return 1;
bad:
	json_decref(o);
	return 0;
}

/* ------------------------------------------------------------- writer */

/* One record in the ring: this header, then its bytes (id, model, version,
 * input, output), padded to RING_ALIGN. word is written last (release): 0
 * while the producer copies, then the record's size and kind. The writer
 * zeroes what it consumed, so a 0 is never stale. */
struct rhdr {
	_Atomic uint64_t word;   /* size << 8 | RH_REC or RH_PAD; 0: not written yet */
	int64_t ts, latency;
	uint32_t id_n, model_n, version_n, input_n, output_n;
	int32_t status;
	uint32_t truncated;
	uint32_t role_n;         /* the role's bytes follow the version's */
};

#define RING_ALIGN 16
#define RH_REC 1u
#define RH_PAD 2u
#define RING_MIN (64 * 1024)

/* A closed segment, for the disk bound. */
struct closed {
	uint64_t seq;
	uint64_t size;
	char name[ILOG_NAME_MAX];
};

struct ilog {
	/* the hot path: producers reserve ring bytes [head, head + size). What
	 * producers write, the tail, and what they only read lie on separate
	 * cache lines (the pads). */
	_Atomic uint64_t head;         /* bytes ever reserved */
	_Atomic uint64_t appended, sampled_out, dropped, truncated;
	char pad1_[64];
	_Atomic uint64_t tail;         /* bytes ever consumed (the writer's) */
	char pad2_[64];
	char *ring;                    /* ring_cap bytes, zero where free */
	uint64_t ring_cap;             /* a multiple of RING_ALIGN */
	uint64_t threshold;            /* ids hashing below it are logged */
	bool all, none;                /* rate 1 / rate 0 */
	uint64_t wake_at, max_record;

	/* options */
	uint64_t segment_bytes, segment_records, max_disk;
	int64_t flush_ms;
	int level;

	char *dir;
	int dirfd, lockfd;
	pthread_t thread;
	bool started;

	/* between the writer and ilog_flush/ilog_close, under mu */
	pthread_mutex_t mu;
	pthread_cond_t wake_cv;        /* the writer waits on it */
	pthread_cond_t done_cv;        /* flushers wait on it */
	bool stop, hold, wake;
	uint64_t flush_req, flush_done;
	int err_code;                  /* the last writer error */
	char err_msg[256];
	uint64_t err_gen, err_seen;    /* errors recorded, and reported */

	/* the writer thread's own */
	ZSTD_CCtx *cctx;
	struct buf line, tmp;          /* one JSON line; scratch */
	struct buf frame;              /* the compressed frame so far */
	uint64_t frame_in, frame_records;
	int64_t frame_min, frame_max, frame_start_ms;
	int seg_fd;                    /* the open segment, or -1 */
	uint64_t seg_seq, seg_size, seg_in, seg_records;
	int64_t seg_min, seg_max;
	char seg_name[ILOG_NAME_MAX];
	uint64_t next_seq;
	struct closed *closed;         /* oldest first */
	size_t nclosed, capclosed;
	uint64_t closed_bytes;

	/* writer counters */
	_Atomic uint64_t taken, written, lost, bytes_in, bytes_written, frames, segments, segments_deleted,
		disk_bytes, errors;
};

/* Count a writer failure and keep its message (the one set on this thread). */
static void w_error(struct ilog *l, int code)
{
	uint64_t n;

	pthread_mutex_lock(&l->mu);
	l->err_code = code;
	snprintf(l->err_msg, sizeof(l->err_msg), "%s", cairn_error_msg());
	l->err_gen++;
	pthread_mutex_unlock(&l->mu);
	n = atomic_fetch_add(&l->errors, 1) + 1;
	if (!(n & (n - 1))) /* the 1st, 2nd, 4th... : a full disk does not flood the log */
		cairn_log(LOG_WARN, "inference log: %s (%" PRIu64 " errors)", cairn_error_msg(), n);
}

static int w_fail(struct ilog *l, int code, const char *fmt, const char *name, int e)
{
	w_error(l, cairn_error_set(code, fmt, l->dir, name, strerror(e)));
	return code;
}

/* The error to report to a flush or close: the last one since the last
 * report. Called under mu. */
static int take_error(struct ilog *l)
{
	if (l->err_gen == l->err_seen)
		return 0;
	l->err_seen = l->err_gen;
	return cairn_error_set(l->err_code, "%s", l->err_msg);
}

int ilog_append(struct ilog *l, const struct ilog_record *r)
{
	size_t meta, body, size, pad, need;
	uint64_t h, t, off;
	struct rhdr *hd;
	char *p;
	bool trunc;

	if (l->none || (!l->all && id_hash(r->id.p, r->id.n) >= l->threshold)) {
		atomic_fetch_add_explicit(&l->sampled_out, 1, memory_order_relaxed);
		return 0;
	}
	meta = r->id.n + r->model.n + r->version.n + r->role.n;
	if (r->ts_us < 0 || meta > l->max_record) {
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
		return CAIRN_EINVALID;
	}
	body = r->input.n + r->output.n;
	trunc = r->input.n > l->max_record || r->output.n > l->max_record || body > l->max_record;
	size = (sizeof(*hd) + meta + (trunc ? 0 : body) + RING_ALIGN - 1) & ~(size_t)(RING_ALIGN - 1);

	/* reserve: a record never wraps; the bytes to the end pad it over */
	h = atomic_load_explicit(&l->head, memory_order_relaxed);
	for (;;) {
		t = atomic_load_explicit(&l->tail, memory_order_acquire);
		off = h % l->ring_cap;
		pad = l->ring_cap - off < size ? l->ring_cap - off : 0;
		need = pad + size;
		if (h + need - t > l->ring_cap) {
			atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
			return CAIRN_EBUSY;
		}
		if (atomic_compare_exchange_weak_explicit(&l->head, &h, h + need, memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	if (pad) {
		atomic_store_explicit(&((struct rhdr *)(l->ring + off))->word, (uint64_t)pad << 8 | RH_PAD,
				      memory_order_release);
		off = 0;
	}
	hd = (struct rhdr *)(l->ring + off);
	hd->ts = r->ts_us ? r->ts_us : now_us();
	hd->latency = r->latency_us;
	hd->status = r->status;
	hd->truncated = trunc;
	hd->id_n = (uint32_t)r->id.n;
	hd->model_n = (uint32_t)r->model.n;
	hd->version_n = (uint32_t)r->version.n;
	hd->role_n = (uint32_t)r->role.n;
	hd->input_n = trunc ? 0 : (uint32_t)r->input.n;
	hd->output_n = trunc ? 0 : (uint32_t)r->output.n;
	p = (char *)(hd + 1);
#define PUT(s, n) do { if (n) memcpy(p, (s), (n)); p += (n); } while (0)
	PUT(r->id.p, hd->id_n);
	PUT(r->model.p, hd->model_n);
	PUT(r->version.p, hd->version_n);
	PUT(r->role.p, hd->role_n);
	PUT(r->input.p, hd->input_n);
	PUT(r->output.p, hd->output_n);
#undef PUT
	atomic_store_explicit(&hd->word, (uint64_t)size << 8 | RH_REC, memory_order_release);
	atomic_fetch_add_explicit(&l->appended, 1, memory_order_relaxed);
	if (trunc)
		atomic_fetch_add_explicit(&l->truncated, 1, memory_order_relaxed);
	if (h - t < l->wake_at && h + need - t >= l->wake_at) {
		/* rare: the ring just passed a quarter full */
		pthread_mutex_lock(&l->mu);
		l->wake = true;
		pthread_cond_signal(&l->wake_cv);
		pthread_mutex_unlock(&l->mu);
	}
	return 1;
}

/* Write all of data to fd. */
static int write_all(int fd, const char *data, size_t n)
{
	while (n) {
		ssize_t w = cwrite(fd, data, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Run the compressor over src in mode, appending its output to l->frame. */
static int z_run(struct ilog *l, const char *src, size_t n, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { src, n, 0 };
	size_t rem;

	do {
		ZSTD_outBuffer out;

		if (buf_grow(&l->frame, ZSTD_CStreamOutSize()))
			return cairn_error_set(l->frame.err, "out of memory compressing the inference log");
		out = (ZSTD_outBuffer){ l->frame.ptr + l->frame.len, l->frame.cap - l->frame.len - 1, 0 };
		rem = ZSTD_compressStream2(l->cctx, &out, &in, mode);
		l->frame.len += out.pos;
		if (ZSTD_isError(rem))
			return cairn_error_set(ZSTD_getErrorCode(rem) == ZSTD_error_memory_allocation ? CAIRN_ENOMEM :
					       CAIRN_ERR, "compressing the inference log: %s", ZSTD_getErrorName(rem));
	} while (mode == ZSTD_e_end ? rem != 0 : in.pos < in.size);
	return 0;
}

/* Forget the frame being built (its records are lost). */
static void frame_drop(struct ilog *l)
{
	atomic_fetch_add(&l->lost, l->frame_records);
	ZSTD_CCtx_reset(l->cctx, ZSTD_reset_session_only);
	buf_clear(&l->frame);
	l->frame_in = l->frame_records = 0;
}

static int seg_open(struct ilog *l)
{
	l->seg_seq = l->next_seq++;
	open_name(l->seg_name, l->seg_seq);
	l->seg_fd = openat(l->dirfd, l->seg_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (l->seg_fd < 0)
		return w_fail(l, CAIRN_EIO, "cannot create '%s/%s': %s", l->seg_name, errno);
	l->seg_size = l->seg_in = l->seg_records = 0;
	l->seg_min = INT64_MAX;
	l->seg_max = 0;
	atomic_fetch_add(&l->segments, 1);
	return 0;
}

/* Remember a closed segment for the disk bound. */
static void closed_add(struct ilog *l, uint64_t seq, uint64_t size, const char *name)
{
	if (l->nclosed == l->capclosed) {
		size_t cap = l->capclosed ? l->capclosed * 2 : 32;
		struct closed *v = crealloc(l->closed, cap * sizeof(*v));

		if (!v) {
			w_error(l, cairn_error_set(CAIRN_ENOMEM, "out of memory: '%s/%s' is left out of the disk bound",
						   l->dir, name));
			return;
		}
		l->closed = v;
		l->capclosed = cap;
	}
	l->closed[l->nclosed].seq = seq;
	l->closed[l->nclosed].size = size;
	snprintf(l->closed[l->nclosed].name, ILOG_NAME_MAX, "%s", name);
	l->nclosed++;
	l->closed_bytes += size;
}

/* Close the open segment: fsync, rename to its closed name, fsync the folder.
 * A segment that got no frame is removed. */
static void seg_close(struct ilog *l)
{
	char name[ILOG_NAME_MAX];

	if (l->seg_fd < 0)
		return;
	if (!l->seg_records) {
		close(l->seg_fd);
		l->seg_fd = -1;
		unlinkat(l->dirfd, l->seg_name, 0);
		return;
	}
	if (cfsync(l->seg_fd))
		w_fail(l, CAIRN_EIO, "cannot sync '%s/%s': %s", l->seg_name, errno);
	close(l->seg_fd);
	l->seg_fd = -1;
	closed_name(name, l->seg_seq, l->seg_min, l->seg_max);
	if (crenameat(l->dirfd, l->seg_name, l->dirfd, name)) {
		w_fail(l, CAIRN_EIO, "cannot close '%s/%s': %s", l->seg_name, errno);
		snprintf(name, sizeof(name), "%s", l->seg_name); /* stays open; the next ilog_open closes it */
	} else if (cfsync(l->dirfd)) {
		w_fail(l, CAIRN_EIO, "cannot sync '%s%s': %s", "", errno);
	}
	closed_add(l, l->seg_seq, l->seg_size, name);
}

/* Delete the oldest closed segments while all of them pass the bound. */
static void retention(struct ilog *l)
{
	uint64_t open_size = l->seg_fd >= 0 ? l->seg_size : 0;
	size_t i = 0;

	while (i < l->nclosed && l->closed_bytes + open_size > l->max_disk) {
		struct closed *c = &l->closed[i++];

		if (unlinkat(l->dirfd, c->name, 0) && errno != ENOENT)
			w_fail(l, CAIRN_EIO, "cannot delete '%s/%s': %s", c->name, errno);
		else
			atomic_fetch_add(&l->segments_deleted, 1);
		l->closed_bytes -= c->size;
	}
	if (i) {
		memmove(l->closed, l->closed + i, (l->nclosed - i) * sizeof(*l->closed));
		l->nclosed -= i;
	}
	atomic_store(&l->disk_bytes, l->closed_bytes + open_size);
}

/* End the frame and append it to the open segment (opening one). */
static void frame_end(struct ilog *l)
{
	int err;

	if (!l->frame_records)
		return;
	if ((err = z_run(l, NULL, 0, ZSTD_e_end))) {
		w_error(l, err);
		frame_drop(l);
		return;
	}
	if (l->seg_fd < 0 && seg_open(l)) {
		frame_drop(l);
		return;
	}
	if (write_all(l->seg_fd, l->frame.ptr, l->frame.len)) {
		w_fail(l, CAIRN_EIO, "cannot write '%s/%s': %s", l->seg_name, errno);
		frame_drop(l);
		/* cut the partial frame and go on in a new segment */
		if (ftruncate(l->seg_fd, (off_t)l->seg_size) == 0)
			lseek(l->seg_fd, 0, SEEK_END);
		seg_close(l);
		retention(l);
		return;
	}
	l->seg_size += l->frame.len;
	l->seg_in += l->frame_in;
	l->seg_records += l->frame_records;
	if (l->frame_min < l->seg_min)
		l->seg_min = l->frame_min;
	if (l->frame_max > l->seg_max)
		l->seg_max = l->frame_max;
	atomic_fetch_add(&l->written, l->frame_records);
	atomic_fetch_add(&l->bytes_in, l->frame_in);
	atomic_fetch_add(&l->bytes_written, l->frame.len);
	atomic_fetch_add(&l->frames, 1);
	buf_clear(&l->frame);
	l->frame_in = l->frame_records = 0;
	if (l->seg_in >= l->segment_bytes || (l->segment_records && l->seg_records >= l->segment_records) ||
	    l->seg_size >= l->max_disk / 4)
		seg_close(l);
	retention(l);
}

/* Add one record to the frame. */
static void frame_add(struct ilog *l, const struct rhdr *it)
{
	const char *p = (const char *)(it + 1);
	struct buf *b = &l->line;
	int err;

	buf_clear(b);
	buf_puts(b, "{\"id\":");
	put_str(b, &l->tmp, p, it->id_n);
	p += it->id_n;
	buf_puts(b, ",\"ts\":");
	put_i64(b, it->ts);
	buf_puts(b, ",\"model\":");
	put_str(b, &l->tmp, p, it->model_n);
	p += it->model_n;
	buf_puts(b, ",\"version\":");
	put_str(b, &l->tmp, p, it->version_n);
	p += it->version_n;
	if (it->role_n) {
		buf_puts(b, ",\"role\":");
		put_str(b, &l->tmp, p, it->role_n);
		p += it->role_n;
	}
	buf_puts(b, ",\"latency_us\":");
	put_i64(b, it->latency);
	buf_puts(b, ",\"status\":");
	put_i64(b, it->status);
	if (it->truncated)
		buf_puts(b, ",\"truncated\":true");
	buf_puts(b, ",\"input\":");
	if ((err = put_json(b, &l->tmp, p, it->input_n)))
		goto fail;
	p += it->input_n;
	buf_puts(b, ",\"output\":");
	if ((err = put_json(b, &l->tmp, p, it->output_n)))
		goto fail;
	buf_puts(b, "}\n");
	if ((err = b->err))
		goto fail;
	if ((err = z_run(l, b->ptr, b->len, ZSTD_e_continue))) {
		/* the stream is broken: the frame goes with this record */
		w_error(l, err);
		atomic_fetch_add(&l->lost, 1);
		frame_drop(l);
		return;
	}
	if (!l->frame_records++) {
		l->frame_min = l->frame_max = it->ts;
		l->frame_start_ms = mono_ms();
	}
	if (it->ts < l->frame_min)
		l->frame_min = it->ts;
	if (it->ts > l->frame_max)
		l->frame_max = it->ts;
	l->frame_in += b->len;
	if (l->frame_in >= ILOG_FRAME_TARGET)
		frame_end(l);
	else if ((l->seg_fd >= 0 ? l->seg_in : 0) + l->frame_in >= l->segment_bytes ||
		 (l->segment_records && (l->seg_fd >= 0 ? l->seg_records : 0) + l->frame_records >= l->segment_records))
		frame_end(l); /* which closes the segment */
	return;
fail:
	w_error(l, cairn_error_set(err, "out of memory formatting an inference log record"));
	atomic_fetch_add(&l->lost, 1);
}

/* Take what is in the ring, oldest first, into frames. all: also wait for
 * records reserved but still being copied (a flush, the close). */
static void drain(struct ilog *l, bool all)
{
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&l->head, memory_order_acquire);

	while (t < h) {
		uint64_t off = t % l->ring_cap, w;
		struct rhdr *hd = (struct rhdr *)(l->ring + off);

		w = atomic_load_explicit(&hd->word, memory_order_acquire);
		if (!w) {
			if (!all)
				break;
			sched_yield(); /* a producer between reserving and publishing */
			continue;
		}
		if ((w & 0xff) == RH_REC) {
			frame_add(l, hd);
			atomic_fetch_add_explicit(&l->taken, 1, memory_order_relaxed);
		}
		memset(hd, 0, w >> 8);
		t += w >> 8;
		atomic_store_explicit(&l->tail, t, memory_order_release);
	}
}

static void *writer_main(void *arg)
{
	struct ilog *l = arg;
	bool stop;
	uint64_t req;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		int64_t now = mono_ms(), until = now + (l->flush_ms < ILOG_TICK_MS ? l->flush_ms : ILOG_TICK_MS);
		struct timespec dl;

		if (l->frame_records && l->frame_start_ms + l->flush_ms < until)
			until = l->frame_start_ms + l->flush_ms;
		dl.tv_sec = until / 1000;
		dl.tv_nsec = (until % 1000) * 1000000;
		for (;;) {
			if (l->hold && !l->stop) {
				pthread_cond_wait(&l->wake_cv, &l->mu);
				continue;
			}
			if (l->stop || l->wake || l->flush_req != l->flush_done)
				break;
			if (pthread_cond_timedwait(&l->wake_cv, &l->mu, &dl) == ETIMEDOUT)
				break;
		}
		l->wake = false;
		req = l->flush_req;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);

		drain(l, stop || req != l->flush_done);
		if (l->frame_records && (stop || req != l->flush_done || mono_ms() - l->frame_start_ms >= l->flush_ms))
			frame_end(l);
		if (stop) {
			seg_close(l);
			retention(l);
		}

		pthread_mutex_lock(&l->mu);
		l->flush_done = req;
		pthread_cond_broadcast(&l->done_cv);
		if (stop)
			break;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Close a segment a crashed writer left open: cut it after its last
 * complete frame, name it for the timestamps in it; one with no complete
 * frame is removed. Failures are counted; the segment then stays open. */
static void recover(struct ilog *l, struct seg *s)
{
	struct dec d;
	struct ilog_entry e;
	char name[ILOG_NAME_MAX];
	int64_t lo = INT64_MAX, hi = 0;
	uint64_t good = 0, nrec = 0;
	bool partial;
	int fd = -1, rc;

	if ((rc = dec_init(&d, 0)))
		goto fail;
	fd = openat(l->dirfd, s->name, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = w_fail(l, CAIRN_EIO, "cannot open '%s/%s': %s", s->name, errno);
		goto out;
	}
	if ((rc = dec_start(&d, dup(fd), 0, s->name))) {
		rc = w_fail(l, CAIRN_EIO, "cannot read '%s/%s': %s", s->name, errno);
		goto out;
	}
	while ((rc = dec_next(&d, s->name, &partial)) == 1) {
		const char *p = d.frame.ptr, *end = p + d.frame.len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			rc = n ? parse_entry(p, n, &e) : 0;
			if (rc < 0)
				goto fail;
			if (rc == 1) {
				nrec++;
				if (e.ts_us < lo)
					lo = e.ts_us;
				if (e.ts_us > hi)
					hi = e.ts_us;
				json_decref(e.obj);
			}
			p += n + 1;
		}
		good = d.frame_end;
	}
	if (rc == CAIRN_ENOMEM || rc == CAIRN_EIO)
		goto fail;
	/* rc 0 (the end) or CAIRN_EINVALID (damage): keep what decoded */
	if (!nrec) {
		if (unlinkat(l->dirfd, s->name, 0) && errno != ENOENT)
			rc = w_fail(l, CAIRN_EIO, "cannot delete '%s/%s': %s", s->name, errno);
		s->size = 0;
		s->name[0] = '\0';
		goto out;
	}
	if (good < s->size && ftruncate(fd, (off_t)good)) {
		rc = w_fail(l, CAIRN_EIO, "cannot truncate '%s/%s': %s", s->name, errno);
		goto out;
	}
	if (cfsync(fd)) {
		rc = w_fail(l, CAIRN_EIO, "cannot sync '%s/%s': %s", s->name, errno);
		goto out;
	}
	s->size = good;
	closed_name(name, s->seq, lo, hi);
	if (crenameat(l->dirfd, s->name, l->dirfd, name)) {
		rc = w_fail(l, CAIRN_EIO, "cannot close '%s/%s': %s", s->name, errno);
		goto out;
	}
	memcpy(s->name, name, sizeof(name));
	s->open = false;
	if (cfsync(l->dirfd))
		w_fail(l, CAIRN_EIO, "cannot sync '%s%s': %s", "", errno);
	goto out;
fail:
	w_error(l, rc);
out:
	if (fd >= 0)
		close(fd);
	dec_release(&d);
}

static void ilog_free_(struct ilog *l)
{
	if (!l)
		return;
	free(l->ring);
	if (l->seg_fd >= 0)
		close(l->seg_fd);
	if (l->lockfd >= 0)
		close(l->lockfd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	ZSTD_freeCCtx(l->cctx);
	buf_release(&l->line);
	buf_release(&l->tmp);
	buf_release(&l->frame);
	free(l->closed);
	free(l->dir);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->wake_cv);
	pthread_cond_destroy(&l->done_cv);
	free(l);
}

static int check_opts(const struct ilog_opts *o)
{
	if (isnan(o->sample_rate) || o->sample_rate < 0 || o->sample_rate > 1)
		return cairn_error_set(CAIRN_EINVALID, "inference log sample rate %g is not between 0 and 1", o->sample_rate);
	if (o->max_record_bytes > ILOG_RECORD_LIMIT)
		return cairn_error_set(CAIRN_EINVALID, "inference log record limit %" PRIu64 " passes %" PRIu64 " bytes",
				       o->max_record_bytes, ILOG_RECORD_LIMIT);
	if (o->level < 0 || o->level > ZSTD_maxCLevel())
		return cairn_error_set(CAIRN_EINVALID, "zstd level %d is not between 1 and %d", o->level, ZSTD_maxCLevel());
	if (o->queue_bytes && o->queue_bytes < RING_MIN)
		return cairn_error_set(CAIRN_EINVALID, "inference log queue of %" PRIu64 " bytes is under %d",
				       o->queue_bytes, RING_MIN);
	if (o->flush_ms > 3600 * 1000)
		return cairn_error_set(CAIRN_EINVALID, "inference log flush interval %" PRIu32 " ms passes an hour",
				       o->flush_ms);
	return 0;
}

int ilog_open(const char *dir, const struct ilog_opts *opts, struct ilog **out)
{
	static const struct ilog_opts defaults = ILOG_OPTS_INIT;
	const struct ilog_opts *o = opts ? opts : &defaults;
	struct seg *segs = NULL;
	pthread_condattr_t ca;
	sigset_t all, old;
	struct ilog *l;
	size_t nsegs = 0;
	int err, e;

	*out = NULL;
	if ((err = check_opts(o)))
		return err;
	l = ccalloc(1, sizeof(*l));
	if (!l)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory opening the inference log");
	l->dirfd = l->lockfd = l->seg_fd = -1;
	buf_init(&l->line, 0);
	buf_init(&l->tmp, 0);
	buf_init(&l->frame, 0);
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&l->done_cv, NULL);
	l->threshold = rate_threshold(o->sample_rate, &l->all);
	l->none = !l->all && !l->threshold;
	l->segment_bytes = o->segment_bytes ? o->segment_bytes : 64 * MiB;
	l->segment_records = o->segment_records;
	l->max_disk = o->max_disk_bytes ? o->max_disk_bytes : 1024 * MiB;
	l->flush_ms = o->flush_ms ? o->flush_ms : 1000;
	l->ring_cap = (o->queue_bytes ? o->queue_bytes : 32 * MiB) & ~(uint64_t)(RING_ALIGN - 1);
	l->wake_at = l->ring_cap / 4;
	l->max_record = o->max_record_bytes ? o->max_record_bytes : MiB;
	l->level = o->level ? o->level : 3;

	if (!(l->dir = cstrdup(dir)) || !(l->ring = ccalloc(1, l->ring_cap))) {
		err = cairn_error_set(CAIRN_ENOMEM, "out of memory opening the inference log");
		goto fail;
	}
	if ((err = path_mkdirs(dir)))
		goto fail;
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0) {
		err = cairn_error_set(CAIRN_EIO, "cannot open inference log '%s': %s", dir, strerror(errno));
		goto fail;
	}
	l->lockfd = openat(l->dirfd, ILOG_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->lockfd < 0) {
		err = cairn_error_set(CAIRN_EIO, "cannot create '%s/" ILOG_LOCK_NAME "': %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(l->lockfd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ?
			cairn_error_set(CAIRN_EBUSY, "inference log '%s' is in use by another writer", dir) :
			cairn_error_set(CAIRN_EIO, "cannot lock inference log '%s': %s", dir, strerror(errno));
		goto fail;
	}
	l->cctx = ZSTD_createCCtx_advanced(z_mem);
	if (!l->cctx) {
		err = cairn_error_set(CAIRN_ENOMEM, "out of memory opening the inference log");
		goto fail;
	}
	ZSTD_CCtx_setParameter(l->cctx, ZSTD_c_compressionLevel, l->level);
	ZSTD_CCtx_setParameter(l->cctx, ZSTD_c_checksumFlag, 1);

	/* what earlier writers left: close their open segments, count the rest */
	if ((err = scan_dir(l->dirfd, dir, 0, true, &segs, &nsegs)))
		goto fail;
	for (size_t i = 0; i < nsegs; i++) {
		if (segs[i].open)
			recover(l, &segs[i]);
		if (segs[i].name[0])
			closed_add(l, segs[i].seq, segs[i].size, segs[i].name);
		l->next_seq = segs[i].seq + 1;
	}
	free(segs);
	if (!l->next_seq)
		l->next_seq = 1;
	l->err_seen = l->err_gen; /* recovery failures are in the stats, not an open error */
	retention(l);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the writer takes no signals */
	e = pthread_create(&l->thread, NULL, writer_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		err = cairn_error_set(CAIRN_ERR, "cannot start the inference log writer: %s", strerror(e));
		goto fail;
	}
	l->started = true;
	*out = l;
	return 0;
fail:
	ilog_free_(l);
	return err;
}

int ilog_flush(struct ilog *l)
{
	uint64_t my;
	int err;

	pthread_mutex_lock(&l->mu);
	my = ++l->flush_req;
	pthread_cond_signal(&l->wake_cv);
	while (l->flush_done < my)
		pthread_cond_wait(&l->done_cv, &l->mu);
	err = take_error(l);
	pthread_mutex_unlock(&l->mu);
	return err;
}

void ilog__hold(struct ilog *l, bool hold)
{
	pthread_mutex_lock(&l->mu);
	l->hold = hold;
	pthread_cond_signal(&l->wake_cv);
	pthread_mutex_unlock(&l->mu);
}

void ilog_stats(struct ilog *l, struct ilog_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->queued = atomic_load(&l->taken); /* first: every record taken was counted appended */
	s->appended = atomic_load(&l->appended);
	s->sampled_out = atomic_load(&l->sampled_out);
	s->dropped = atomic_load(&l->dropped);
	s->truncated = atomic_load(&l->truncated);
	s->written = atomic_load(&l->written);
	s->lost = atomic_load(&l->lost);
	s->queued = s->appended - s->queued;
	s->bytes_in = atomic_load(&l->bytes_in);
	s->bytes_written = atomic_load(&l->bytes_written);
	s->frames = atomic_load(&l->frames);
	s->segments = atomic_load(&l->segments);
	s->segments_deleted = atomic_load(&l->segments_deleted);
	s->disk_bytes = atomic_load(&l->disk_bytes);
	s->errors = atomic_load(&l->errors);
}

int ilog_close(struct ilog *l)
{
	int err = 0;

	if (!l)
		return 0;
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		l->hold = false;
		pthread_cond_signal(&l->wake_cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		pthread_mutex_lock(&l->mu);
		err = take_error(l);
		pthread_mutex_unlock(&l->mu);
	}
	ilog_free_(l);
	return err;
}

/* ------------------------------------------------------------- reader */

struct ilog_reader {
	char *dir;                /* NULL: one fd (ilog__reader_open_fd) */
	int dirfd;
	int64_t since;
	struct ilog_pos from;     /* where to begin */
	bool have_from;           /* from not reached yet */

	struct seg *segs;         /* the last listing, by seq */
	size_t nsegs, iseg;       /* its length; the next to read */
	uint64_t next_min;        /* the next listing starts at this seq */
	uint64_t retried_seq;     /* an open segment looked up again by its closed name */
	bool retried;

	struct dec dec;
	bool in_seg;              /* dec reads cur */
	struct seg cur;
	bool complete;            /* cur is written to its end (closed, or a later one exists) */
	bool at_end;              /* stopped at the end of cur while it was open */

	bool have_frame;          /* dec.frame has lines to hand out */
	size_t line_off;          /* the next line in it */
	uint64_t line_no;         /* lines of it consumed */
	uint64_t skip_lines;      /* lines to skip in the first frame (resuming) */

	struct ilog_pos pos;      /* after the last record returned */
	json_t *cur_obj;          /* the last entry's line */
	struct ilog_reader_stats st;
};

static struct ilog_reader *reader_new(int64_t since, size_t frame_max, int *err)
{
	struct ilog_reader *r = ccalloc(1, sizeof(*r));

	if (!r) {
		*err = cairn_error_set(CAIRN_ENOMEM, "out of memory opening the inference log reader");
		return NULL;
	}
	r->dirfd = -1;
	r->since = since;
	if ((*err = dec_init(&r->dec, frame_max))) {
		dec_release(&r->dec);
		free(r);
		return NULL;
	}
	return r;
}

int ilog_reader_open(const char *dir, int64_t since_us, const struct ilog_pos *from, struct ilog_reader **out)
{
	struct ilog_reader *r;
	int err;

	*out = NULL;
	if (!(r = reader_new(since_us, 0, &err)))
		return err;
	if (!(r->dir = cstrdup(dir))) {
		err = cairn_error_set(CAIRN_ENOMEM, "out of memory opening the inference log reader");
		goto fail;
	}
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		err = cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO,
				      "cannot open inference log '%s': %s", dir, strerror(errno));
		goto fail;
	}
	if (from) {
		r->from = *from;
		r->have_from = true;
		r->pos = *from;
		r->next_min = from->seq;
	}
	*out = r;
	return 0;
fail:
	ilog_reader_free(r);
	return err;
}

int ilog__reader_open_fd(int fd, int64_t since_us, size_t frame_max, struct ilog_reader **out)
{
	struct ilog_reader *r;
	off_t cur;
	int err;

	*out = NULL;
	if (!(r = reader_new(since_us, frame_max, &err))) {
		close(fd);
		return err;
	}
	snprintf(r->cur.name, sizeof(r->cur.name), "fd %d", fd);
	r->dec.fd = fd; /* read from where it stands */
	cur = lseek(fd, 0, SEEK_CUR);
	r->dec.in_off = r->dec.frame_off = r->dec.frame_end = cur > 0 ? (uint64_t)cur : 0;
	r->pos.offset = r->dec.in_off;
	r->in_seg = true;
	r->complete = true;
	r->st.segments = 1;
	*out = r;
	return 0;
}

/* List the segments from seq min on, replacing the listing. */
static int reader_list(struct ilog_reader *r, uint64_t min)
{
	free(r->segs);
	r->segs = NULL;
	r->nsegs = r->iseg = 0;
	return scan_dir(r->dirfd, r->dir, min, false, &r->segs, &r->nsegs);
}

/* Open the next segment to read: 1, or 0 when there is none yet. */
static int reader_next_seg(struct ilog_reader *r)
{
	int err;

	for (;;) {
		struct seg s;
		uint64_t off = 0;
		int fd;

		if (r->iseg == r->nsegs) {
			if ((err = reader_list(r, r->next_min)))
				return err;
			if (!r->nsegs)
				return 0;
		}
		s = r->segs[r->iseg++];
		r->next_min = s.seq + 1;
		if (!s.open && s.max_ts < r->since)
			continue; /* nothing new enough in it */
		fd = openat(r->dirfd, s.name, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && s.open && !(r->retried && r->retried_seq == s.seq)) {
			/* closed since the listing: list again from it for its new name */
			r->retried = true;
			r->retried_seq = s.seq;
			r->next_min = s.seq;
			r->iseg = r->nsegs;
			continue;
		}
		if (fd < 0) {
			if (errno != ENOENT)
				return cairn_error_set(CAIRN_EIO, "cannot open '%s/%s': %s", r->dir, s.name,
						       strerror(errno));
			r->st.gone++; /* deleted by the disk bound */
			continue;
		}
		r->cur = s;
		r->in_seg = true;
		r->complete = !s.open || r->iseg < r->nsegs;
		r->at_end = false;
		r->skip_lines = 0;
		if (r->have_from && s.seq == r->from.seq) {
			off = r->from.offset;
			r->skip_lines = r->from.line;
		}
		r->have_from = false;
		r->st.segments++;
		if ((err = dec_start(&r->dec, fd, off, s.name))) {
			dec_close_fd(&r->dec);
			r->in_seg = false;
			return err;
		}
		r->pos = (struct ilog_pos){ s.seq, off, r->skip_lines };
		return 1;
	}
}

/* The next record of the frame in hand: 1, 0 when it has no more. */
static int reader_line(struct ilog_reader *r, struct ilog_entry *e)
{
	struct buf *f = &r->dec.frame;

	while (r->line_off < f->len) {
		const char *p = f->ptr + r->line_off;
		const char *nl = memchr(p, '\n', f->len - r->line_off);
		size_t n = nl ? (size_t)(nl - p) : f->len - r->line_off;
		int rc;

		if (r->line_no < r->skip_lines) {
			r->line_off += n + 1;
			r->line_no++;
			continue;
		}
		rc = n ? parse_entry(p, n, e) : 0;
		if (rc < 0)
			return rc; /* the same line again next time */
		r->line_off += n + 1;
		r->line_no++;
		r->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_off, r->line_no };
		if (!rc) {
			if (n)
				r->st.bad_lines++;
			continue;
		}
		if (e->ts_us < r->since) {
			json_decref(e->obj);
			continue;
		}
		e->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_off, r->line_no - 1 };
		r->cur_obj = e->obj;
		r->st.records++;
		return 1;
	}
	return 0;
}

int ilog_reader_next(struct ilog_reader *r, struct ilog_entry *e)
{
	bool partial;
	int rc;

	json_decref(r->cur_obj);
	r->cur_obj = NULL;
	for (;;) {
		if (r->have_frame) {
			if ((rc = reader_line(r, e)))
				return rc;
			r->have_frame = false;
			r->skip_lines = 0;
			r->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_end, 0 };
		}
		if (!r->in_seg) {
			if (!r->dir)
				return 0; /* one fd, read */
			if ((rc = reader_next_seg(r)) <= 0)
				return rc;
			continue;
		}
		if (r->at_end) {
			/* cur was open at its end: look again from its last frame */
			if ((rc = dec_seek(&r->dec, r->pos.offset, r->cur.name)))
				return rc;
			r->at_end = false;
		}
		rc = dec_next(&r->dec, r->cur.name, &partial);
		if (rc == 1) {
			r->have_frame = true;
			r->line_off = 0;
			r->line_no = 0;
			continue;
		}
		if (rc < 0 && rc != CAIRN_EINVALID) {
			/* out of memory or an I/O error inside a frame: the next
			 * call decodes it again from its start */
			r->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_off, 0 };
			r->at_end = true;
			return rc;
		}
		if (rc == 0 && !r->complete) {
			/* the end of a segment being written; it is complete once a
			 * later one exists, and is then read once more to its end */
			r->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_off, 0 };
			r->at_end = true; /* from pos.offset again, whatever happens */
			if ((rc = reader_list(r, r->cur.seq + 1)))
				return rc;
			r->next_min = r->cur.seq + 1;
			if (!r->nsegs)
				return 0;
			r->complete = true;
			continue;
		}
		if (rc == CAIRN_EINVALID) {
			r->st.corrupt++;
			cairn_log(LOG_WARN, "inference log: %s: the rest of the segment is skipped", cairn_error_msg());
		} else if (partial) {
			r->st.truncated++;
		}
		r->pos = (struct ilog_pos){ r->cur.seq, r->dec.frame_off, 0 };
		dec_close_fd(&r->dec);
		r->in_seg = false;
	}
}

void ilog_reader_pos(const struct ilog_reader *r, struct ilog_pos *out)
{
	*out = r->pos;
}

void ilog_reader_stats(const struct ilog_reader *r, struct ilog_reader_stats *out)
{
	*out = r->st;
}

void ilog_reader_free(struct ilog_reader *r)
{
	if (!r)
		return;
	json_decref(r->cur_obj);
	dec_release(&r->dec);
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->segs);
	free(r->dir);
	free(r);
}
