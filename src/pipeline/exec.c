/* exec.c - the local executor: runs a stage's commands through /bin/sh, streaming and logging their output. */
#include "pipeline/exec.h"
#include "core/fault.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXEC_LINE_MAX ((size_t)64 * 1024) /* longer lines are split */
#define EXEC_POLL_MS 100     /* how often timeouts and *interrupted are checked */
#define EXEC_GRACE_MS 2000   /* SIGTERM/SIGINT -> SIGKILL */
#define EXEC_LINGER_MS 200   /* the shell exited but something still holds its pipes */
#define EXEC_DRAIN_MS 500    /* after SIGKILL, how long to wait for the pipes to close */
#define EXEC_BACKOFF_MS 1000 /* default first backoff */

/* The one piece of global state: whole prefixed lines go out under it. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct stream {
	int fd;       /* read end of the child's pipe; -1 once closed */
	int out_fd;   /* where its lines go: 1 or 2 */
	char *line;   /* EXEC_LINE_MAX bytes; NULL when quiet */
	size_t len;   /* bytes of the current line */
	bool split;   /* the last line went out because it was full */
};

struct run {
	const struct exec_req *rq;
	int log_fd;          /* -1: no log */
	int null_fd;         /* /dev/null, the children's stdin */
	struct buf scratch;  /* one prefixed line */
	struct stream s[2];  /* child stdout, child stderr */
};

enum why { WHY_NONE, WHY_TIMEOUT, WHY_INTERRUPT };

struct outcome {
	int exit_code;
	enum why why;
};

static int64_t now_ms(void)
{
	return cairn_mono_ns() / 1000000;
}

static bool is_interrupted(const struct exec_req *rq)
{
	return rq->interrupted && *rq->interrupted;
}

/* write() the whole span; only a partial write makes it loop. Errors are
 * dropped: losing output must not stop a stage. */
static void write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* "[name] text\n" to out_fd with one write() under the output lock. */
static void emit(struct run *r, int out_fd, const char *p, size_t n)
{
	buf_clear(&r->scratch);
	buf_printf(&r->scratch, "[%s] ", r->rq->name);
	buf_put(&r->scratch, p, n);
	buf_putc(&r->scratch, '\n');
	if (r->scratch.err)
		return;
	pthread_mutex_lock(&out_lock);
	write_all(out_fd, r->scratch.ptr, r->scratch.len);
	pthread_mutex_unlock(&out_lock);
}

/* A note of cairn's own: to stderr (unless quiet) and to the log. */
static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct run *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	if (!r->rq->quiet)
		emit(r, 2, msg, (size_t)n);
	if (r->log_fd >= 0) {
		buf_clear(&r->scratch);
		buf_printf(&r->scratch, "[%s] %.*s\n", r->rq->name, n, msg);
		if (!r->scratch.err)
			write_all(r->log_fd, r->scratch.ptr, r->scratch.len);
	}
}

static void stream_emit(struct run *r, struct stream *st)
{
	emit(r, st->out_fd, st->line, st->len);
	st->len = 0;
}

/* Cut data into lines; each whole line (or EXEC_LINE_MAX bytes) goes out. */
static void stream_feed(struct run *r, struct stream *st, const char *p, size_t n)
{
	const char *nl;
	size_t take;

	if (!st->line)
		return;
	while (n > 0) {
		nl = memchr(p, '\n', n);
		take = nl ? (size_t)(nl - p) : n;
		if (take > EXEC_LINE_MAX - st->len)
			take = EXEC_LINE_MAX - st->len;
		if (take > 0)
			st->split = false;
		memcpy(st->line + st->len, p, take);
		st->len += take;
		p += take;
		n -= take;
		if (n > 0 && *p == '\n') {
			/* the newline right after a split line ends nothing new */
			if (st->len > 0 || !st->split)
				stream_emit(r, st);
			st->split = false;
			p++;
			n--;
		} else if (st->len == EXEC_LINE_MAX) {
			stream_emit(r, st);
			st->split = true;
		}
	}
}

/* EOF (or giving up): flush a partial last line, close the pipe. */
static void stream_close(struct run *r, struct stream *st)
{
	if (st->line && st->len > 0)
		stream_emit(r, st);
	st->len = 0;
	st->split = false;
	close_fd(&st->fd);
}

static void stream_read(struct run *r, struct stream *st)
{
	char chunk[16384];
	ssize_t n;

	n = read(st->fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		stream_close(r, st);
		return;
	}
	if (r->log_fd >= 0)
		write_all(r->log_fd, chunk, (size_t)n);
	stream_feed(r, st, chunk, (size_t)n);
}

/* Has the child exited? It stays a zombie (proc_exited), so its pid, which
 * is also its process group's id, cannot be reused while we signal the group. */
static bool leader_exited(pid_t pid)
{
	bool exited = false;

	if (proc_exited(pid, &exited)) {
		cairn_error_clear();
		return true; /* reaped elsewhere: nothing to wait for */
	}
	return exited;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Run one command to its end. *oc gets its exit code, and why it was
 * stopped. Fails only when it could not be started. */
static int run_command(struct run *r, const char *cmd, int64_t deadline, struct outcome *oc)
{
	const struct exec_req *rq = r->rq;
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL };
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int64_t now, t_exit = -1, t_signal = -1, t_kill = -1, wake, idle = 1;
	struct proc_opts o;
	struct pollfd pf[2];
	bool exited = false, open;
	int wstatus = 0, err;
	pid_t pid;

	oc->exit_code = 0;
	oc->why = WHY_NONE;
	if (pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
		err = cairn_error_set(CAIRN_EIO, "stage '%s': pipe: %s", rq->name, strerror(errno));
		goto fail;
	}
	o = (struct proc_opts){ .argv = argv, .envp = rq->env, .cwd = rq->wdir, .fd_in = r->null_fd,
				.fd_out = pout[1], .fd_err = perr[1], .new_pgroup = true };
	if ((err = proc_spawn(&o, &pid)))
		goto fail;
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	r->s[0].fd = pout[0];
	r->s[1].fd = perr[0];

	for (;;) {
		now = now_ms();
		if (!exited && (exited = leader_exited(pid)))
			t_exit = now;
		open = r->s[0].fd >= 0 || r->s[1].fd >= 0;
		if (exited && (!open || (t_kill >= 0 && now >= t_kill + EXEC_DRAIN_MS)))
			break;
		if (!exited && oc->why == WHY_NONE) {
			if (deadline > 0 && now >= deadline) {
				oc->why = WHY_TIMEOUT;
				kill(-pid, SIGTERM);
				t_signal = now;
			} else if (is_interrupted(rq)) {
				oc->why = WHY_INTERRUPT;
				kill(-pid, SIGINT);
				t_signal = now;
			}
		}
		if (t_kill < 0 && ((oc->why != WHY_NONE && now >= t_signal + EXEC_GRACE_MS) ||
				   (oc->why == WHY_NONE && exited && now >= t_exit + EXEC_LINGER_MS))) {
			kill(-pid, SIGKILL);
			t_kill = now;
		}

		/* sleep until output, or the next thing to check */
		wake = now + EXEC_POLL_MS;
		if (!open) { /* pipes closed, the shell not gone yet: check soon */
			wake = now + idle;
			idle = min64(idle * 2, EXEC_POLL_MS);
		}
		if (!exited && oc->why == WHY_NONE && deadline > 0)
			wake = min64(wake, deadline);
		if (t_kill < 0 && oc->why != WHY_NONE)
			wake = min64(wake, t_signal + EXEC_GRACE_MS);
		if (t_kill < 0 && t_exit >= 0)
			wake = min64(wake, t_exit + EXEC_LINGER_MS);
		if (t_kill >= 0)
			wake = min64(wake, t_kill + EXEC_DRAIN_MS);
		for (int i = 0; i < 2; i++)
			pf[i] = (struct pollfd){ .fd = r->s[i].fd, .events = POLLIN };
		if (poll(pf, 2, (int)(wake > now ? wake - now : 0)) > 0) {
			for (int i = 0; i < 2; i++)
				if (r->s[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
					stream_read(r, &r->s[i]);
		}
	}
	stream_close(r, &r->s[0]);
	stream_close(r, &r->s[1]);
	/* Whatever the shell left behind in its group goes with it. The shell
	 * is still a zombie here, so the group id is still ours. */
	kill(-pid, SIGKILL);
	if (proc_wait(pid, &wstatus))
		wstatus = 1 << 8; /* reaped elsewhere: call it exit code 1 */
	if (oc->why == WHY_TIMEOUT)
		oc->exit_code = 124;
	else if (oc->why == WHY_INTERRUPT)
		oc->exit_code = 130;
	else
		oc->exit_code = proc_exit_code(wstatus);
	return 0;
fail:
	close_fd(&pout[0]);
	close_fd(&pout[1]);
	close_fd(&perr[0]);
	close_fd(&perr[1]);
	return err;
}

/* Sleep ms, waking within EXEC_POLL_MS when *interrupted is set. Returns
 * true when interrupted. */
static bool backoff_sleep(const struct exec_req *rq, int64_t ms)
{
	int64_t end = now_ms() + ms, left, step;
	struct timespec ts;

	for (;;) {
		if (is_interrupted(rq))
			return true;
		left = end - now_ms();
		if (left <= 0)
			return false;
		step = min64(left, EXEC_POLL_MS);
		ts.tv_sec = (time_t)(step / 1000);
		ts.tv_nsec = (long)(step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static int check_wdir(const char *wdir)
{
	struct stat sb;

	if (stat(wdir, &sb)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cairn_error_set(CAIRN_ENOTFOUND, "working folder '%s' not found", wdir);
		return cairn_error_set(CAIRN_EIO, "working folder '%s': %s", wdir, strerror(errno));
	}
	if (!S_ISDIR(sb.st_mode))
		return cairn_error_set(CAIRN_EINVALID, "working folder '%s' is not a folder", wdir);
	return 0;
}

int exec_stage(const struct exec_req *rq, struct exec_result *res)
{
	struct run r = { .rq = rq, .log_fd = -1, .null_fd = -1, .scratch = BUF_INIT };
	int64_t t0 = cairn_mono_ns(), backoff, deadline;
	int retries = rq->retries > 0 ? rq->retries : 0, err = 0;
	struct outcome oc = { 0, WHY_NONE };

	memset(res, 0, sizeof(*res));
	for (int i = 0; i < 2; i++)
		r.s[i] = (struct stream){ .fd = -1, .out_fd = i + 1 };
	if (!rq->name || !rq->wdir || (rq->ncmds && !rq->cmds))
		return cairn_error_set(CAIRN_EINVALID, "exec_stage: missing name, working folder or commands");
	if ((err = check_wdir(rq->wdir)))
		return err;
	if ((r.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		err = cairn_error_set(CAIRN_EIO, "/dev/null: %s", strerror(errno));
		goto out;
	}
	if (rq->log_path &&
	    (r.log_fd = open(rq->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		err = cairn_error_set(CAIRN_EIO, "stage '%s': cannot open log '%s': %s", rq->name, rq->log_path,
				      strerror(errno));
		goto out;
	}
	if (!rq->quiet) {
		for (int i = 0; i < 2; i++)
			if (!(r.s[i].line = cmalloc(EXEC_LINE_MAX))) {
				err = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				goto out;
			}
	}

	backoff = rq->backoff_ms > 0 ? rq->backoff_ms : EXEC_BACKOFF_MS;
	for (int attempt = 1;; attempt++) {
		if (is_interrupted(rq)) {
			oc = (struct outcome){ 130, WHY_INTERRUPT };
			break;
		}
		res->attempts = attempt;
		deadline = rq->timeout_ms > 0 ? now_ms() + rq->timeout_ms : 0;
		oc = (struct outcome){ 0, WHY_NONE };
		for (size_t i = 0; i < rq->ncmds; i++) {
			if (is_interrupted(rq)) {
				oc = (struct outcome){ 130, WHY_INTERRUPT };
				break;
			}
			if ((err = run_command(&r, rq->cmds[i], deadline, &oc)))
				goto out;
			if (oc.exit_code != 0 || oc.why != WHY_NONE)
				break;
		}
		if (oc.exit_code == 0 || oc.why == WHY_INTERRUPT || attempt > retries)
			break;
		if (oc.why == WHY_TIMEOUT)
			note(&r, "attempt %d of %d after timeout (%lld ms)", attempt + 1, retries + 1,
			     (long long)rq->timeout_ms);
		else
			note(&r, "attempt %d of %d after exit code %d", attempt + 1, retries + 1, oc.exit_code);
		if (backoff_sleep(rq, backoff)) {
			oc = (struct outcome){ 130, WHY_INTERRUPT };
			break;
		}
		if (backoff <= INT64_MAX / 4)
			backoff *= 2;
	}
	res->exit_code = oc.exit_code;
	res->timed_out = oc.why == WHY_TIMEOUT;
	res->interrupted = oc.why == WHY_INTERRUPT;
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&r.s[i].fd);
		free(r.s[i].line);
	}
	close_fd(&r.log_fd);
	close_fd(&r.null_fd);
	buf_release(&r.scratch);
	res->duration_ms = (cairn_mono_ns() - t0) / 1000000;
	return err;
}
