/* pyworker.c - the supervised pool of Python worker processes (pyworker.h): a
 * bounded queue of request frames, one thread per worker that owns its
 * process (start, feed, read the answer, restart), deadlines and shutdown. */
#include "serve/pyworker.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MS_NS ((uint64_t)1000000)
#define QUICK_NS (10000 * MS_NS)       /* a death this soon after loading is "quick" */
#define BACKOFF_MIN_NS (100 * MS_NS)   /* first wait before restarting after a quick death */
#define BACKOFF_MAX_NS (10000 * MS_NS)
#define GRACE_NS (2000 * MS_NS)        /* shutdown: end-of-file, then SIGTERM, then SIGKILL */
#define HEAD_MAX 65536                 /* bytes of a frame's header line */
#define IN_KEEP (1u << 20)             /* read buffer kept between answers */
#define LINE_CAP 4096                  /* a longer stderr line is logged in pieces */

/* A queued or running request. */
struct job {
	struct job *next;
	uint64_t id;               /* the frame's "id" */
	uint64_t deadline;         /* monotonic ns: answered 504 past it */
	struct buf frame;          /* the whole request frame */
	pyworker_done_fn done;
	void *ud;
};

/* One worker: its thread and, while one runs, its process. Only its own
 * thread touches these fields. */
struct worker {
	struct pyworker_pool *pool;
	pthread_t thread;
	bool started;              /* the thread was created */
	int pid;                   /* 0: no process */
	int pidfd;                 /* readable once the process exits (-1: none, or no pidfd_open) */
	int chan;                  /* our end of the socket that is its stdin and stdout (nonblocking) */
	int errfd;                 /* its stderr (nonblocking) */
	bool loaded;               /* it reported "loaded" */
	uint64_t loaded_at;        /* when (monotonic ns) */
	unsigned quick;            /* quick deaths in a row */
	uint64_t restart_at;       /* no restart before this (monotonic ns, 0: at once) */
	struct buf in;             /* bytes read from chan, not yet consumed */
	char line[LINE_CAP];       /* a partial stderr line */
	size_t line_len;
	char last[256];            /* the last non-empty stderr line, for messages */
};

struct pyworker_pool {
	char *dir;                 /* the model directory */
	char *python;
	char *argv[5];             /* python -c script dir */
	struct proc_env env;
	unsigned nw;
	uint64_t timeout_ns, start_ns, drain_ns;
	size_t max_queue, max_reply;
	unsigned max_quick;
	void (*log)(void *ud, int pid, const char *line);
	void *log_ud;
	int qfd;                   /* eventfd semaphore: a count per queued job (at least) */
	int stopfd;                /* eventfd: readable once stopping */
	_Atomic uint64_t next_id;
	struct worker *w;          /* nw of them */

	pthread_mutex_t mu;        /* guards what follows */
	pthread_cond_t cv;         /* a worker's first start ended */
	struct job *head, *tail;   /* the queue */
	size_t queued, running;
	bool stopping;
	uint64_t drain_until;      /* stopping: requests get until then */
	unsigned first_ok, first_failed; /* first starts that ended */
	int first_err;             /* the code of the first failure */
	char *first_msg;           /* and its message (NULL: out of memory) */
	unsigned alive, gave_up;
	uint64_t restarts;
	uint64_t outcomes[PYWORKER_NOUTCOMES];
	bool failed;
	char failure[256];
};

static uint64_t now_ns(void)
{
	return (uint64_t)cairn_mono_ns();
}

static void lock(struct pyworker_pool *p)
{
	pthread_mutex_lock(&p->mu);
}

static void unlock(struct pyworker_pool *p)
{
	pthread_mutex_unlock(&p->mu);
}

static void efd_post(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

const char *pyworker_outcome_name(enum pyworker_outcome o)
{
	static const char *names[PYWORKER_NOUTCOMES] = {
		[PYWORKER_OK] = "ok",
		[PYWORKER_CLIENT_ERROR] = "client_error",
		[PYWORKER_SERVER_ERROR] = "server_error",
		[PYWORKER_CRASH] = "crash",
		[PYWORKER_TIMEOUT] = "timeout",
		[PYWORKER_REJECTED] = "rejected",
		[PYWORKER_SHUTDOWN] = "shutdown",
		[PYWORKER_INTERNAL] = "internal",
	};

	return (unsigned)o < PYWORKER_NOUTCOMES ? names[o] : "unknown";
}

/* ---- jobs and the queue ---- */

static void job_free(struct job *j)
{
	buf_release(&j->frame);
	free(j);
}

/* Count r's outcome, answer j with it and free j. */
static void job_end(struct pyworker_pool *p, struct job *j, const struct pyworker_reply *r)
{
	lock(p);
	p->outcomes[r->outcome]++;
	p->running--;
	unlock(p);
	j->done(j->ud, r);
	job_free(j);
}

static void job_fail(struct pyworker_pool *p, struct job *j, int err, enum pyworker_outcome outcome, int pid,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Answer j with an error. */
static void job_fail(struct pyworker_pool *p, struct job *j, int err, enum pyworker_outcome outcome, int pid,
		     const char *fmt, ...)
{
	struct pyworker_reply r = { .err = err, .outcome = outcome, .pid = pid };
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r.message = msg;
	job_end(p, j, &r);
}

/* Take the first queued job (it counts as running), or NULL. */
static struct job *queue_take(struct pyworker_pool *p)
{
	struct job *j;

	lock(p);
	if ((j = p->head)) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->next = NULL;
		p->queued--;
		p->running++;
	}
	unlock(p);
	return j;
}

/* Answer the queued jobs whose deadline has passed (the queue is in deadline
 * order: one timeout for all). Returns the next deadline (0: none). */
static uint64_t queue_expire(struct pyworker_pool *p)
{
	struct job *dead = NULL, **tailp = &dead, *j;
	uint64_t now = now_ns(), next;

	lock(p);
	while ((j = p->head) && j->deadline <= now) {
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		j->next = NULL;
		*tailp = j;
		tailp = &j->next;
		p->queued--;
		p->running++;
	}
	next = p->head ? p->head->deadline : 0;
	unlock(p);
	while ((j = dead)) {
		dead = j->next;
		job_fail(p, j, CAIRN_ETIMEDOUT, PYWORKER_TIMEOUT, 0, "Request processing time exceeded limit");
	}
	return next;
}

/* Fail every queued job. */
static void queue_fail_all(struct pyworker_pool *p, int err, enum pyworker_outcome outcome, const char *msg)
{
	struct job *j;

	while ((j = queue_take(p)))
		job_fail(p, j, err, outcome, 0, "%s", msg);
}

/* ---- a worker's stderr ---- */

static void log_line(struct worker *w, char *s, size_t n)
{
	struct pyworker_pool *p = w->pool;

	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	s[n] = 0;
	if (!n)
		return;
	snprintf(w->last, sizeof(w->last), "%s", s);
	if (p->log)
		p->log(p->log_ud, w->pid, s);
	else
		cairn_log(LOG_INFO, "python worker %d: %s", w->pid, s);
}

/* Log what the process wrote to stderr, line by line; at end of file, the
 * partial line too, and close it. */
static void stderr_drain(struct worker *w)
{
	char chunk[4096];
	ssize_t n;

	while (w->errfd >= 0) {
		n = read(w->errfd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			log_line(w, w->line, w->line_len);
			w->line_len = 0;
			close(w->errfd);
			w->errfd = -1;
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			w->line[w->line_len++] = chunk[i];
			if (chunk[i] == '\n' || w->line_len == LINE_CAP - 1) {
				log_line(w, w->line, w->line_len);
				w->line_len = 0;
			}
		}
	}
}

/* ---- waiting ---- */

enum {
	EV_IN = 1 << 0,    /* the channel is readable (or closed) */
	EV_OUT = 1 << 1,   /* the channel is writable (or closed) */
	EV_QUEUE = 1 << 2, /* a job was queued */
	EV_STOP = 1 << 3,  /* the pool is stopping */
	EV_EXIT = 1 << 4,  /* the process exited (always watched) */
	EV_TIME = 1 << 5,  /* until passed */
};

/* Wait for one of want, the process's exit, or until (monotonic ns; 0: no
 * limit). Meanwhile log the process's stderr and answer queued jobs that
 * reach their deadline. */
static unsigned worker_wait(struct worker *w, unsigned want, uint64_t until)
{
	struct pyworker_pool *p = w->pool;

	for (;;) {
		uint64_t next = queue_expire(p), now = now_ns(), limit = until;
		struct pollfd fds[5] = {
			{ .fd = (want & (EV_IN | EV_OUT)) ? w->chan : -1,
			  .events = (short)(((want & EV_IN) ? POLLIN : 0) | ((want & EV_OUT) ? POLLOUT : 0)) },
			{ .fd = w->errfd, .events = POLLIN },
			{ .fd = w->pidfd, .events = POLLIN },
			{ .fd = (want & EV_QUEUE) ? p->qfd : -1, .events = POLLIN },
			{ .fd = (want & EV_STOP) ? p->stopfd : -1, .events = POLLIN },
		};
		unsigned ev = 0;
		int timeout = -1, rc;

		if (until && now >= until)
			return EV_TIME;
		if (next && (!limit || next < limit))
			limit = next;
		if (limit) {
			uint64_t ms = limit > now ? (limit - now + MS_NS - 1) / MS_NS : 0;
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		rc = poll(fds, 5, timeout);
		if (rc < 0) {
			if (errno != EINTR)
				cairn_log(LOG_ERROR, "python worker pool: poll: %s", strerror(errno));
			continue;
		}
		if (fds[1].revents)
			stderr_drain(w);
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR) && (want & EV_IN))
			ev |= EV_IN;
		if (fds[0].revents & (POLLOUT | POLLHUP | POLLERR) && (want & EV_OUT))
			ev |= EV_OUT;
		if (fds[2].revents)
			ev |= EV_EXIT;
		if (fds[3].revents)
			ev |= EV_QUEUE;
		if (fds[4].revents)
			ev |= EV_STOP;
		if (ev)
			return ev;
	}
}

/* ---- the process ---- */

/* How a wait status reads: "exited with status 1", "was killed by signal 9 (Killed)". */
static void describe_status(int ws, char *out, size_t cap)
{
	if (WIFEXITED(ws))
		snprintf(out, cap, "exited with status %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(out, cap, "was killed by signal %d (%s)", WTERMSIG(ws),
			 sigdescr_np(WTERMSIG(ws)) ? sigdescr_np(WTERMSIG(ws)) : "unknown");
	else
		snprintf(out, cap, "ended (wait status %d)", ws);
}

/* Kill what is left of w's process group, reap the process, log the rest of
 * its stderr and close its descriptors. desc (may be NULL) gets how it ended. */
static void worker_reap(struct worker *w, char *desc, size_t cap)
{
	struct pyworker_pool *p = w->pool;
	int ws = 0;

	/* the group id stays ours while the leader is unreaped: nothing else can have it;
	 * the leader itself too, should it have left its group */
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	if (proc_wait(w->pid, &ws))
		ws = 0;
	if (desc)
		describe_status(ws, desc, cap);
	stderr_drain(w);
	if (w->errfd >= 0) {
		/* a descendant that left the group may hold it open: what it has now, then no more */
		log_line(w, w->line, w->line_len);
		w->line_len = 0;
		close(w->errfd);
		w->errfd = -1;
	}
	if (w->chan >= 0)
		close(w->chan);
	if (w->pidfd >= 0)
		close(w->pidfd);
	w->chan = w->pidfd = -1;
	w->pid = 0;
	buf_truncate(&w->in, 0);
	if (w->loaded) {
		lock(p);
		p->alive--;
		unlock(p);
	}
	w->loaded = false;
}

/* The process died by itself (crash, exit, failed start) rather than killed
 * by the pool, as `what` says: count quick deaths, schedule the restart,
 * give up after max_quick. */
static void worker_died(struct worker *w, bool was_loaded, uint64_t loaded_at, const char *what)
{
	struct pyworker_pool *p = w->pool;
	uint64_t now = now_ns(), backoff;
	bool quick = !was_loaded || now - loaded_at < QUICK_NS, failed = false;
	char msg[512];

	w->quick = quick ? w->quick + 1 : 0;
	if (w->quick >= p->max_quick) {
		lock(p);
		p->gave_up++;
		if (p->gave_up == p->nw && !p->failed) {
			p->failed = failed = true;
			snprintf(p->failure, sizeof(p->failure), "%u quick deaths in a row; the last: %s", w->quick, what);
		}
		unlock(p);
		cairn_log(LOG_ERROR, "a python worker for '%s' died %u times in a row soon after starting; not restarting it "
			  "(the last: %s)", p->dir, w->quick, what);
		if (failed) {
			snprintf(msg, sizeof(msg), "the model in '%s' failed to load: %s", p->dir, p->failure);
			cairn_log(LOG_ERROR, "%s", msg);
			queue_fail_all(p, CAIRN_ERR, PYWORKER_INTERNAL, msg);
		}
		return;
	}
	backoff = 0;
	if (quick) {
		backoff = BACKOFF_MIN_NS << (w->quick - 1 < 8 ? w->quick - 1 : 8);
		if (backoff > BACKOFF_MAX_NS)
			backoff = BACKOFF_MAX_NS;
	}
	w->restart_at = backoff ? now + backoff : 0;
}

static bool worker_gave_up(const struct worker *w)
{
	return w->quick >= w->pool->max_quick;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Start w's process: its stdin and stdout one end of a socket pair, its
 * stderr a pipe, in its own process group. */
static int worker_spawn(struct worker *w)
{
	struct pyworker_pool *p = w->pool;
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, rc;
	struct proc_opts o = { .argv = p->argv, .envp = proc_env_array(&p->env), .new_pgroup = true };
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return cairn_error_set(CAIRN_EIO, "socketpair: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC)) {
		rc = cairn_error_set(CAIRN_EIO, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (set_nonblock(sv[0]) || set_nonblock(ep[0])) {
		rc = cairn_error_set(CAIRN_EIO, "fcntl: %s", strerror(errno));
		goto fail;
	}
	o.fd_in = o.fd_out = sv[1];
	o.fd_err = ep[1];
	if ((rc = proc_spawn(&o, &pid)))
		goto fail;
	close(sv[1]);
	close(ep[1]);
	w->pid = (int)pid;
	w->chan = sv[0];
	w->errfd = ep[0];
	/* the child is unreaped: its pid is not reused before we wait for it */
	w->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	w->loaded = false;
	w->line_len = 0;
	w->last[0] = 0;
	buf_truncate(&w->in, 0);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return rc;
}

/* ---- frames ---- */

enum rd { RD_OK, RD_DIED, RD_TIME, RD_STOP, RD_BROKEN };

/* Read what the channel has: 1 bytes came, 0 end of file, -EAGAIN nothing
 * now, else an error (recorded). */
static int chan_read(struct worker *w)
{
	ssize_t n;

	if (w->in.cap - w->in.len < 4096 + 1 && buf_grow(&w->in, 65536)) {
		int rc = buf_error(&w->in);
		buf_release(&w->in);
		buf_init(&w->in, w->in.max);
		return rc;
	}
	do
		n = recv(w->chan, w->in.ptr + w->in.len, w->in.cap - w->in.len - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		w->in.len += (size_t)n;
		w->in.ptr[w->in.len] = 0;
		return 1;
	}
	if (n == 0 || errno == ECONNRESET)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return -EAGAIN;
	return cairn_error_set(CAIRN_EIO, "reading from python worker %d: %s", w->pid, strerror(errno));
}

/* Is a whole frame at the start of w->in? 1 with its parts, 0 not yet, or
 * an error (recorded) for one that cannot be. */
static int frame_peek(struct worker *w, struct slice *head, struct slice *body, size_t *total)
{
	const unsigned char *b = (const unsigned char *)w->in.ptr;
	const char *start, *nl;
	uint32_t n;

	if (w->in.len < 4)
		return 0;
	n = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	if (n > w->pool->max_reply + HEAD_MAX)
		return cairn_error_set(CAIRN_ETOOBIG, "python worker %d sent an answer of %" PRIu32
				       " bytes, over the limit of %zu", w->pid, n, w->pool->max_reply);
	if (w->in.len - 4 < n)
		return 0;
	start = w->in.ptr + 4;
	if (!(nl = memchr(start, '\n', n < HEAD_MAX ? n : HEAD_MAX)))
		return cairn_error_set(CAIRN_ERR, "python worker %d sent a frame without a header line", w->pid);
	head->p = start;
	head->n = (size_t)(nl - start);
	body->p = nl + 1;
	body->n = n - head->n - 1;
	*total = 4 + (size_t)n;
	return 1;
}

/* Drop the first total bytes of w->in (a consumed frame). */
static void frame_consume(struct worker *w, size_t total)
{
	memmove(w->in.ptr, w->in.ptr + total, w->in.len - total);
	buf_truncate(&w->in, w->in.len - total);
	if (w->in.cap > IN_KEEP && w->in.len == 0) {
		/* a big answer: give its memory back */
		size_t max = w->in.max;
		buf_release(&w->in);
		buf_init(&w->in, max);
	}
}

/* Read one frame from w's process, waiting until `until` (0: no limit); with
 * stop_ok, also return RD_STOP when the pool starts stopping. */
static enum rd frame_read(struct worker *w, uint64_t until, bool stop_ok, struct slice *head, struct slice *body,
			  size_t *total)
{
	unsigned ev;
	int rc;

	for (;;) {
		if ((rc = frame_peek(w, head, body, total)))
			return rc > 0 ? RD_OK : RD_BROKEN;
		rc = chan_read(w);
		if (rc == 1)
			continue;
		if (rc == 0)
			return RD_DIED;
		if (rc != -EAGAIN)
			return RD_BROKEN;
		ev = worker_wait(w, EV_IN | (stop_ok ? EV_STOP : 0), until);
		if (ev & EV_IN)
			continue;
		if (ev & EV_EXIT) {
			/* it ended; an answer it wrote before is still in the socket */
			while ((rc = chan_read(w)) == 1)
				;
			if (rc != 0 && rc != -EAGAIN)
				return RD_BROKEN;
			rc = frame_peek(w, head, body, total);
			return rc > 0 ? RD_OK : rc < 0 ? RD_BROKEN : RD_DIED;
		}
		if (ev & EV_STOP)
			return RD_STOP;
		return RD_TIME;
	}
}

/* Append s as a JSON string, each byte as the code point of its value: the
 * way Starlette decodes header bytes (latin-1), and always valid JSON. */
static void put_header_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	buf_putc(b, '"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\') {
			buf_putc(b, (char)*c);
			continue;
		}
		buf_puts(b, "\\u00");
		buf_putc(b, hex[*c >> 4]);
		buf_putc(b, hex[*c & 15]);
	}
	buf_putc(b, '"');
}

static void put_opt_string(struct buf *b, const char *s)
{
	if (s)
		cjson_put_string(b, s, strlen(s));
	else
		buf_puts(b, "null");
}

/* ---- a worker's life ---- */

/* Whether the pool is stopping, and the drain deadline. */
static bool pool_stopping(struct pyworker_pool *p, uint64_t *drain_until)
{
	bool s;

	lock(p);
	s = p->stopping;
	*drain_until = p->drain_until;
	unlock(p);
	return s;
}

/* Start w's process and wait until it has loaded the model. On failure the
 * process is gone and the error recorded. */
static int worker_start(struct worker *w)
{
	struct pyworker_pool *p = w->pool;
	uint64_t until = now_ns() + p->start_ns, drain;
	struct slice head, body;
	json_t *h = NULL;
	const char *err = NULL;
	char desc[128];
	size_t total;
	enum rd r;
	int rc, pid;

	if (pool_stopping(p, &drain))
		return cairn_error_set(CAIRN_EBUSY, "the python worker pool is stopping");
	if ((rc = worker_spawn(w)))
		return rc;
	pid = w->pid;
	r = frame_read(w, until, true, &head, &body, &total); /* a stop ends a start at once */
	switch (r) {
	case RD_OK:
		break;
	case RD_DIED:
		worker_reap(w, desc, sizeof(desc));
		return cairn_error_set(CAIRN_ERR, "python worker %d %s before loading the model in '%s'%s%s", pid, desc,
				       p->dir, w->last[0] ? ": " : "", w->last);
	case RD_TIME:
		worker_reap(w, NULL, 0);
		return cairn_error_set(CAIRN_ETIMEDOUT, "python worker %d did not load the model in '%s' within %" PRIu64
				       " s%s%s", pid, p->dir, p->start_ns / 1000 / MS_NS, w->last[0] ? "; it said: " : "",
				       w->last);
	case RD_STOP:
		worker_reap(w, NULL, 0);
		return cairn_error_set(CAIRN_EBUSY, "the python worker pool is stopping");
	case RD_BROKEN: {
		char why[256];
		snprintf(why, sizeof(why), "%s", cairn_error_msg());
		worker_reap(w, NULL, 0);
		return cairn_error_set(CAIRN_ERR, "%s", why);
	}
	}
	cjson_oom_clear();
	h = json_loadb(head.p, head.n, 0, NULL);
	if (!cjson_oom_seen() && json_is_true(json_object_get(h, "loaded"))) {
		json_decref(h);
		frame_consume(w, total);
		w->loaded = true;
		w->loaded_at = now_ns();
		lock(p);
		p->alive++;
		unlock(p);
		cairn_log(LOG_DEBUG, "python worker %d loaded the model in '%s'", pid, p->dir);
		return 0;
	}
	if (cjson_oom_seen())
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
	else if ((err = json_string_value(json_object_get(h, "error"))))
		rc = cairn_error_set(CAIRN_ERR, "python worker %d could not load the model in '%s': %s", pid, p->dir, err);
	else
		rc = cairn_error_set(CAIRN_ERR, "python worker %d sent '%.*s' instead of loading the model in '%s'", pid,
				     (int)(head.n < 200 ? head.n : 200), head.p, p->dir);
	json_decref(h);
	worker_reap(w, NULL, 0);
	return rc;
}

/* Kill w's process, whatever it was doing (the pool's doing: not a death that counts). */
static void worker_kill(struct worker *w)
{
	worker_reap(w, NULL, 0);
	w->restart_at = 0;
}

/* The time a job may take now: its deadline, or the drain deadline if sooner. */
static uint64_t job_until(struct pyworker_pool *p, const struct job *j, bool *stopping)
{
	uint64_t drain;

	*stopping = pool_stopping(p, &drain);
	return *stopping && drain < j->deadline ? drain : j->deadline;
}

/* The job could not finish by job_until: 504 past its deadline, else the
 * pool's drain ended. The worker was running it: kill it. */
static void job_overdue(struct worker *w, struct job *j)
{
	struct pyworker_pool *p = w->pool;
	int pid = w->pid;

	worker_kill(w);
	if (now_ns() >= j->deadline) {
		cairn_log(LOG_WARN, "python worker %d did not answer within %" PRIu64 " ms; killed it", pid,
			  p->timeout_ns / MS_NS);
		job_fail(p, j, CAIRN_ETIMEDOUT, PYWORKER_TIMEOUT, pid, "Request processing time exceeded limit");
	} else {
		job_fail(p, j, CAIRN_EBUSY, PYWORKER_SHUTDOWN, pid,
			 "the python worker pool stopped before python worker %d answered", pid);
	}
}

/* w's process died (end of file, exit) while answering j. */
static void job_crashed(struct worker *w, struct job *j)
{
	struct pyworker_pool *p = w->pool;
	bool was_loaded = w->loaded;
	uint64_t loaded_at = w->loaded_at;
	int pid = w->pid;
	char desc[128], what[256];

	worker_reap(w, desc, sizeof(desc));
	snprintf(what, sizeof(what), "python worker %d %s while answering the request", pid, desc);
	cairn_log(LOG_WARN, "%s; restarting it", what);
	job_fail(p, j, CAIRN_ERR, PYWORKER_CRASH, pid, "%s", what);
	worker_died(w, was_loaded, loaded_at, what);
}

/* Send j's frame to w's process and answer j with what it says. */
static void worker_run(struct worker *w, struct job *j)
{
	struct pyworker_pool *p = w->pool;
	struct pyworker_reply r = { .pid = w->pid };
	struct slice head, body;
	size_t off = 0, total;
	bool stopping;
	json_t *h;
	json_int_t id;
	unsigned ev;
	enum rd rd;
	ssize_t n;

	if (now_ns() >= j->deadline) {
		job_fail(p, j, CAIRN_ETIMEDOUT, PYWORKER_TIMEOUT, 0, "Request processing time exceeded limit");
		return;
	}
	while (off < j->frame.len) {
		n = send(w->chan, j->frame.ptr + off, j->frame.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uint64_t until = job_until(p, j, &stopping);
			ev = worker_wait(w, EV_OUT | (stopping ? 0 : EV_STOP), until);
			if (ev & EV_OUT)
				continue;
			if (ev & EV_EXIT) {
				job_crashed(w, j);
				return;
			}
			if (ev & EV_TIME) {
				job_overdue(w, j);
				return;
			}
			continue; /* EV_STOP: a new deadline */
		}
		job_crashed(w, j); /* EPIPE, ECONNRESET */
		return;
	}
	for (;;) {
		uint64_t until = job_until(p, j, &stopping);
		rd = frame_read(w, until, !stopping, &head, &body, &total);
		if (rd != RD_STOP)
			break;
	}
	switch (rd) {
	case RD_OK:
		break;
	case RD_DIED:
		job_crashed(w, j);
		return;
	case RD_TIME:
		job_overdue(w, j);
		return;
	case RD_STOP:
	case RD_BROKEN: {
		int pid = w->pid, code = cairn_error_code();
		char why[256];
		snprintf(why, sizeof(why), "%s", cairn_error_msg());
		cairn_log(LOG_ERROR, "%s; killing python worker %d", why, pid);
		worker_kill(w);
		job_fail(p, j, code == CAIRN_ENOMEM ? CAIRN_ENOMEM : CAIRN_ERR, PYWORKER_INTERNAL, pid, "%s", why);
		return;
	}
	}
	cjson_oom_clear();
	h = json_loadb(head.p, head.n, 0, NULL);
	if (cjson_oom_seen()) {
		/* jansson drops what it cannot allocate: a header read short of memory is not read */
		json_decref(h);
		/* the frame is whole: skip it, the worker is fine */
		frame_consume(w, total);
		job_fail(p, j, CAIRN_ENOMEM, PYWORKER_INTERNAL, r.pid, "out of memory reading the answer of python worker %d",
			 r.pid);
		return;
	}
	id = json_integer_value(json_object_get(h, "id"));
	r.status = (int)json_integer_value(json_object_get(h, "status"));
	r.content_type = json_string_value(json_object_get(h, "content_type"));
	if (!json_is_integer(json_object_get(h, "id")) || (uint64_t)id != j->id || r.status < 100 || r.status > 599 ||
	    !r.content_type) {
		int pid = w->pid;
		cairn_log(LOG_ERROR, "python worker %d answered with the header '%.*s' to request %" PRIu64 "; killing it",
			  pid, (int)(head.n < 200 ? head.n : 200), head.p, j->id);
		json_decref(h);
		worker_kill(w);
		job_fail(p, j, CAIRN_ERR, PYWORKER_INTERNAL, pid, "python worker %d broke the protocol", pid);
		return;
	}
	if (body.n > p->max_reply) {
		json_decref(h);
		frame_consume(w, total);
		job_fail(p, j, CAIRN_ERR, PYWORKER_INTERNAL, r.pid, "the answer of python worker %d has %zu bytes, over the limit of %zu",
			 r.pid, body.n, p->max_reply);
		return;
	}
	r.body = body.p;
	r.len = body.n;
	r.outcome = r.status >= 500 ? PYWORKER_SERVER_ERROR : r.status >= 400 ? PYWORKER_CLIENT_ERROR : PYWORKER_OK;
	job_end(p, j, &r);
	json_decref(h);
	frame_consume(w, total);
}

/* End w's process at shutdown: end of file on its input (it exits), then
 * SIGTERM, then SIGKILL; reap it. */
static void worker_stop(struct worker *w)
{
	uint64_t until;

	if (!w->pid)
		return;
	shutdown(w->chan, SHUT_WR);
	for (int step = 0; step < 2; step++) {
		bool exited = false;
		until = now_ns() + GRACE_NS;
		while (!exited && now_ns() < until) {
			if (w->pidfd >= 0) {
				exited = worker_wait(w, 0, until) & EV_EXIT;
			} else {
				struct timespec ts = { 0, 10 * 1000 * 1000 };
				(void)worker_wait(w, 0, now_ns() + 10 * MS_NS);
				if (proc_exited(w->pid, &exited))
					exited = true;
				if (!exited)
					nanosleep(&ts, NULL);
			}
		}
		if (exited)
			break;
		if (step == 0)
			kill(-w->pid, SIGTERM);
	}
	worker_reap(w, NULL, 0);
}

/* Report the end of a worker's first start to pyworker_pool_new. */
static void first_start_done(struct worker *w, int rc)
{
	struct pyworker_pool *p = w->pool;

	lock(p);
	if (rc) {
		if (!p->first_failed++) {
			p->first_err = rc;
			p->first_msg = cstrdup(cairn_error_msg());
		}
	} else {
		p->first_ok++;
	}
	pthread_cond_broadcast(&p->cv);
	unlock(p);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pyworker_pool *p = w->pool;
	uint64_t drain, v;
	struct job *j;
	unsigned ev;
	int rc;

	rc = worker_start(w);
	first_start_done(w, rc);
	if (rc)
		return NULL;
	for (;;) {
		if (!w->pid) {
			if (worker_gave_up(w))
				break;
			if (w->restart_at && !(worker_wait(w, EV_STOP, w->restart_at) & EV_TIME))
				break; /* stopping */
			if (pool_stopping(p, &drain))
				break;
			lock(p);
			p->restarts++;
			unlock(p);
			if ((rc = worker_start(w))) {
				char what[512];
				snprintf(what, sizeof(what), "%s", cairn_error_msg());
				cairn_log(LOG_WARN, "restarting a python worker: %s", what);
				if (rc != CAIRN_EBUSY)
					worker_died(w, false, 0, what);
			}
			continue;
		}
		if (pool_stopping(p, &drain)) {
			/* draining: what is queued, while there is time */
			if (now_ns() >= drain || !(j = queue_take(p)))
				break;
			worker_run(w, j);
			continue;
		}
		ev = worker_wait(w, EV_IN | EV_QUEUE | EV_STOP, 0);
		if (ev & (EV_IN | EV_EXIT)) {
			/* idle: only an exit or a protocol violation makes the channel readable */
			bool was_loaded = w->loaded;
			uint64_t loaded_at = w->loaded_at;
			int pid = w->pid;
			char desc[128], what[256];

			rc = chan_read(w);
			if (rc == -EAGAIN && !(ev & EV_EXIT))
				continue;
			if (rc == 1) {
				cairn_log(LOG_ERROR, "python worker %d wrote outside an answer; killing it", pid);
				worker_kill(w);
				continue;
			}
			worker_reap(w, desc, sizeof(desc));
			snprintf(what, sizeof(what), "python worker %d %s while idle", pid, desc);
			cairn_log(LOG_WARN, "%s; restarting it", what);
			worker_died(w, was_loaded, loaded_at, what);
			continue;
		}
		if ((ev & EV_QUEUE) && read(p->qfd, &v, sizeof(v)) == (ssize_t)sizeof(v) && (j = queue_take(p)))
			worker_run(w, j);
	}
	worker_stop(w);
	return NULL;
}

/* ---- the pool ---- */

/* Free p after its threads are joined (or never started). */
static void pool_release(struct pyworker_pool *p)
{
	for (unsigned i = 0; p->w && i < p->nw; i++)
		buf_release(&p->w[i].in);
	free(p->w);
	if (p->qfd >= 0)
		close(p->qfd);
	if (p->stopfd >= 0)
		close(p->stopfd);
	proc_env_release(&p->env);
	free(p->first_msg);
	free(p->dir);
	free(p->python);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void pyworker_pool_free(struct pyworker_pool *p)
{
	if (!p)
		return;
	lock(p);
	p->stopping = true;
	p->drain_until = now_ns() + p->drain_ns;
	unlock(p);
	efd_post(p->stopfd);
	for (unsigned i = 0; i < p->nw; i++)
		if (p->w[i].started)
			pthread_join(p->w[i].thread, NULL);
	queue_fail_all(p, CAIRN_EBUSY, PYWORKER_SHUTDOWN, "the python worker pool stopped before answering");
	pool_release(p);
}

/* Set each "KEY=VALUE" of env over e. */
static int env_apply(struct proc_env *e, const char *const *env)
{
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		char *key;
		int rc;

		if (!eq || eq == env[i])
			return cairn_error_set(CAIRN_EINVALID, "environment entry '%s' is not KEY=VALUE", env[i]);
		if (!(key = cstrndup(env[i], (size_t)(eq - env[i]))))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		rc = proc_env_set(e, key, eq + 1);
		free(key);
		if (rc)
			return rc;
	}
	return 0;
}

int pyworker_pool_new(const struct pyworker_opts *o, struct pyworker_pool **out)
{
	struct pyworker_pool *p;
	char msg[512];
	int rc = CAIRN_ERR;

	*out = NULL;
	if (!o->model_dir || !*o->model_dir)
		return cairn_error_set(CAIRN_EINVALID, "no model directory for the python workers");
	if (!o->allow_pickle)
		return cairn_error_set(CAIRN_EPERM, "refusing to load the python model in '%s': loading it runs the code "
				       "in its pickles (MLflow's CVE-2024-37052..37060); allow it with --allow-pickle",
				       o->model_dir);
	if (!(p = ccalloc(1, sizeof(*p))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	p->qfd = p->stopfd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->nw = o->workers ? o->workers : 2;
	p->timeout_ns = (uint64_t)(o->request_timeout_ms ? o->request_timeout_ms : 60000) * MS_NS;
	p->start_ns = (uint64_t)(o->start_timeout_ms ? o->start_timeout_ms : 300000) * MS_NS;
	p->drain_ns = (uint64_t)(o->drain_ms ? o->drain_ms : 30000) * MS_NS;
	p->max_queue = o->max_queue ? o->max_queue : 1024;
	p->max_reply = o->max_reply ? o->max_reply : (size_t)64 << 20;
	if (p->max_reply > UINT32_MAX - HEAD_MAX)
		p->max_reply = UINT32_MAX - HEAD_MAX;
	p->max_quick = o->max_quick_deaths ? o->max_quick_deaths : 5;
	p->log = o->log;
	p->log_ud = o->log_ud;
	if (!(p->dir = cstrdup(o->model_dir)) || !(p->python = cstrdup(o->python ? o->python : "/usr/bin/python3")) ||
	    !(p->w = ccalloc(p->nw, sizeof(*p->w)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}
	p->argv[0] = p->python;
	p->argv[1] = "-c";
	p->argv[2] = (char *)pyworker_script;
	p->argv[3] = p->dir;
	if ((rc = proc_env_init(&p->env, environ)) || (rc = env_apply(&p->env, o->env)))
		goto fail;
	for (unsigned i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];
		w->pool = p;
		w->chan = w->errfd = w->pidfd = -1;
		buf_init(&w->in, p->max_reply + HEAD_MAX + 4 + 65536);
		if (buf_grow(&w->in, 65536)) {
			rc = buf_error(&w->in);
			goto fail;
		}
	}
	if ((p->qfd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (p->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = cairn_error_set(CAIRN_EIO, "eventfd: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < p->nw; i++) {
		if ((rc = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]))) {
			rc = cairn_error_set(CAIRN_ERR, "cannot start a thread: %s", strerror(rc));
			goto stop;
		}
		p->w[i].started = true;
	}
	lock(p);
	while (p->first_ok < p->nw && !p->first_failed)
		pthread_cond_wait(&p->cv, &p->mu);
	rc = p->first_failed ? p->first_err : 0;
	snprintf(msg, sizeof(msg), "%s", p->first_msg ? p->first_msg : "a python worker could not start");
	unlock(p);
	if (!rc) {
		*out = p;
		return 0;
	}
	goto stopped;
stop:
	snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
stopped:
	pyworker_pool_free(p);
	return cairn_error_set(rc, "%s", msg);
fail:
	pool_release(p);
	return rc;
}

int pyworker_submit(struct pyworker_pool *p, const struct pyworker_req *req, pyworker_done_fn done, void *ud)
{
	struct job *j;
	uint64_t id;
	size_t n;
	int rc = 0;

	if (req->len > UINT32_MAX - HEAD_MAX)
		return cairn_error_set(CAIRN_ETOOBIG, "a request body of %zu bytes is too big for the python workers",
				       req->len);
	if (!(j = ccalloc(1, sizeof(*j))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	id = atomic_fetch_add(&p->next_id, 1) + 1;
	j->id = id;
	j->done = done;
	j->ud = ud;
	buf_init(&j->frame, (size_t)UINT32_MAX);
	buf_grow(&j->frame, 4 + 128 + req->len);
	buf_put(&j->frame, "\0\0\0\0", 4);
	buf_printf(&j->frame, "{\"id\":%" PRIu64 ",\"proto\":", id);
	if (req->proto == PYWORKER_OIP) {
		buf_puts(&j->frame, "\"oip\",\"name\":");
		put_opt_string(&j->frame, req->model_name);
		buf_puts(&j->frame, ",\"version\":");
		put_opt_string(&j->frame, req->model_version);
	} else {
		buf_puts(&j->frame, "\"mlflow\",\"content_type\":");
		if (req->content_type)
			put_header_string(&j->frame, req->content_type);
		else
			buf_puts(&j->frame, "null");
	}
	buf_puts(&j->frame, "}\n");
	buf_put(&j->frame, req->body, req->len);
	if ((rc = buf_error(&j->frame)) || j->frame.len - 4 > UINT32_MAX) {
		job_free(j);
		return rc ? rc : cairn_error_set(CAIRN_ETOOBIG, "a request of %zu bytes is too big for the python workers",
						 req->len);
	}
	n = j->frame.len - 4;
	j->frame.ptr[0] = (char)(n >> 24);
	j->frame.ptr[1] = (char)(n >> 16);
	j->frame.ptr[2] = (char)(n >> 8);
	j->frame.ptr[3] = (char)n;
	lock(p);
	if (p->stopping)
		rc = cairn_error_set(CAIRN_EBUSY, "the python workers of '%s' are shutting down", p->dir);
	else if (p->failed)
		rc = cairn_error_set(CAIRN_ERR, "the model in '%s' failed to load: %s", p->dir, p->failure);
	else if (p->queued >= p->max_queue)
		rc = cairn_error_set(CAIRN_EBUSY, "%zu requests are waiting for a python worker already", p->queued);
	if (rc) {
		p->outcomes[PYWORKER_REJECTED]++;
		unlock(p);
		job_free(j);
		return rc;
	}
	j->deadline = now_ns() + p->timeout_ns;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	unlock(p);
	efd_post(p->qfd);
	return 0;
}

void pyworker_pool_stats(struct pyworker_pool *p, struct pyworker_stats *out)
{
	memset(out, 0, sizeof(*out));
	lock(p);
	out->workers = p->nw;
	out->alive = p->alive;
	out->restarts = p->restarts;
	out->queued = p->queued;
	out->running = p->running;
	memcpy(out->outcomes, p->outcomes, sizeof(out->outcomes));
	out->failed = p->failed;
	snprintf(out->failure, sizeof(out->failure), "%s", p->failure);
	unlock(p);
}
