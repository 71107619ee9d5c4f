/* cmd_run.c - `cairn run`: run a command as a tracked run.
 *
 * Creates the run (and the experiment when missing), tags it with the git
 * state and the command line, starts the command with MLFLOW_TRACKING_URI,
 * MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID set (so mlflow.start_run() inside
 * attaches to the run; a local root is served to it over HTTP from this
 * process), tees its stdout and stderr to the terminal and to the artifacts
 * stdout.txt and stderr.txt, forwards SIGINT/SIGTERM/SIGHUP to its process
 * group (which owns the terminal, when cairn does), follows it through job
 * control stops, and finally records FINISHED, FAILED or KILLED with the end
 * time and exits with the command's status.
 */
#include "cli/cmd.h"
#include "client/client.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TAG_MAX 5000     /* longest command line stored in cairn.command */
#define RUN_DRAIN_MS 200     /* after the command exits, wait this long for output its children still write */
#define RUN_DRAIN_MAX_NS (2 * 1000000000LL) /* and stop listening to them after this long */

extern char **environ;

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn run [-e EXP] [--name NAME] [--tag KEY=VALUE]... [-q] [--] CMD [ARG...]\n\n"
		"Run CMD as a tracked run. cairn creates the run (and the experiment, when it does\n"
		"not exist), then starts CMD with\n"
		"  MLFLOW_TRACKING_URI   a server for the run's store (a local root is served from\n"
		"                        this process on 127.0.0.1 while CMD runs)\n"
		"  MLFLOW_RUN_ID         the run, so mlflow.start_run() inside attaches to it\n"
		"  MLFLOW_EXPERIMENT_ID  its experiment\n"
		"  CAIRN_RUN_ID          the run again, for scripts that do not use MLflow\n"
		"and PYTHONUNBUFFERED=1 (unless set) so Python output appears as it is written.\n"
		"CMD's stdout and stderr still reach the terminal and are stored as the artifacts\n"
		"stdout.txt and stderr.txt. SIGINT, SIGTERM and SIGHUP are forwarded to CMD's\n"
		"process group. The run ends FINISHED (exit 0), FAILED (non-zero exit) or KILLED\n"
		"(killed by a signal), and cairn exits with CMD's status (128+N for signal N).\n\n"
		"Tags: mlflow.source.name, mlflow.source.type=LOCAL, mlflow.user,\n"
		"mlflow.source.git.commit, mlflow.source.git.branch, mlflow.source.git.repoURL (in a\n"
		"git work tree), cairn.git.dirty (true/false: tracked files modified) and\n"
		"cairn.command (the command line).\n\n"
		"options:\n"
		"  -e, --experiment EXP  experiment id or name, created when missing (default\n"
		"                        $MLFLOW_EXPERIMENT_ID, $MLFLOW_EXPERIMENT_NAME, else 0 Default)\n"
		"  -n, --name NAME       run name (default: generated)\n"
		"  --tag KEY=VALUE       an extra run tag (repeatable)\n"
		"  -q, --quiet           do not print the run id and outcome on stderr\n"
		"  --tracking-uri URI    talk to this tracking server (default $MLFLOW_TRACKING_URI)\n"
		"  --root DIR            use this local data root (default $CAIRN_HOME or ./cairn-data)\n"
		"  -h, --help            show this help\n\n"
		"Options must come before CMD; '--' ends them explicitly.\n\n"
		"examples:\n"
		"  cairn run -e churn -- python3 train.py --lr 0.1\n"
		"  cairn run -e nightly --name eval --tracking-uri http://ml:5000 -- ./eval.sh\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cairn run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'cairn run --help' for usage.\n", stderr);
	return 2;
}

/* ---- tags ---- */

static int tag_add(json_t *tags, const char *key, const char *value)
{
	json_t *t = json_pack("{s:s, s:s}", "key", key, "value", value);

	if (!t || json_array_append_new(tags, t))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* Drop a trailing newline of captured output. */
static void chomp(struct buf *b)
{
	while (b->len && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r'))
		buf_truncate(b, b->len - 1);
}

/* stdout of `git ARGS...`, trimmed, when it succeeds with some output. */
static bool git_out(struct buf *out, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { "git", (char *)a1, (char *)a2, (char *)a3, NULL };
	int code = -1;

	buf_clear(out);
	if (proc_capture(argv, NULL, out, &code) || code != 0 || out->err)
		return false;
	chomp(out);
	return out->len > 0;
}

/* MLflow's git tags plus cairn.git.dirty, when the current directory is in a work tree. */
static int git_tags(json_t *tags)
{
	struct buf b = BUF_INIT;
	char *status_argv[] = { "git", "status", "--porcelain", "--untracked-files=no", NULL };
	int code = -1, rc = 0;

	buf_init(&b, 1 << 20);
	if (!git_out(&b, "rev-parse", "--verify", "HEAD"))
		goto cleanup; /* not a repository, no commit yet, or no git */
	if ((rc = tag_add(tags, "mlflow.source.git.commit", b.ptr)))
		goto cleanup;
	if (git_out(&b, "rev-parse", "--abbrev-ref", "HEAD") && strcmp(b.ptr, "HEAD") &&
	    (rc = tag_add(tags, "mlflow.source.git.branch", b.ptr)))
		goto cleanup;
	if (git_out(&b, "config", "--get", "remote.origin.url") && (rc = tag_add(tags, "mlflow.source.git.repoURL", b.ptr)))
		goto cleanup;
	buf_clear(&b);
	if (!proc_capture(status_argv, NULL, &b, &code) && code == 0)
		rc = tag_add(tags, "cairn.git.dirty", b.len ? "true" : "false");
cleanup:
	buf_release(&b);
	return rc;
}

/* argv as a shell would need it typed, cut at RUN_TAG_MAX bytes. */
static void shell_join(char *const *argv, struct buf *out)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%^";

	for (size_t i = 0; argv[i] && out->len < RUN_TAG_MAX; i++) {
		const char *a = argv[i];

		if (i)
			buf_putc(out, ' ');
		if (*a && strspn(a, safe) == strlen(a)) {
			buf_puts(out, a);
			continue;
		}
		buf_putc(out, '\'');
		for (; *a; a++) {
			if (*a == '\'')
				buf_puts(out, "'\\''");
			else
				buf_putc(out, *a);
		}
		buf_putc(out, '\'');
	}
	if (out->len > RUN_TAG_MAX) {
		buf_truncate(out, RUN_TAG_MAX - 3);
		/* do not leave half a UTF-8 sequence */
		while (out->len && ((unsigned char)out->ptr[out->len - 1] & 0xC0) == 0x80)
			buf_truncate(out, out->len - 1);
		if (out->len && ((unsigned char)out->ptr[out->len - 1] & 0xC0) == 0xC0)
			buf_truncate(out, out->len - 1);
		buf_puts(out, "...");
	}
}

/* mlflow.source.name: the script for an interpreter ("python3 train.py" -> train.py), else the program. */
static const char *source_name(char *const *argv)
{
	static const char *const interp[] = { "python", "python3", "python2", "Rscript", "bash", "sh", "node",
					      "julia", "ruby", "perl" };
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	for (size_t i = 0; i < sizeof(interp) / sizeof(interp[0]); i++) {
		size_t n = strlen(interp[i]);

		/* python3.11 counts as python3 */
		if (!strncmp(base, interp[i], n) && (!base[n] || base[n] == '.' || (base[n] >= '0' && base[n] <= '9'))) {
			if (argv[1] && argv[1][0] != '-')
				return argv[1];
			break;
		}
	}
	return argv[0];
}

static const char *user_name(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u)
		return u;
	u = getenv("LOGNAME");
	if (u && *u)
		return u;
	pw = getpwuid(getuid());
	return pw && pw->pw_name ? pw->pw_name : "unknown";
}

/* ---- the child's output ---- */

struct pump {
	int in;          /* read end of the child's pipe (-1: closed) */
	int tee;         /* our own stream (1 or 2) */
	bool tee_ok;     /* still echoing (off after EPIPE) */
	int capture;     /* temporary file collecting the output */
	int capture_err; /* errno of a failed capture write */
};

static bool write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Move what is available from the pipe to the terminal and the capture file. */
static void pump_read(struct pump *p)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(p->in, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close(p->in);
			p->in = -1;
			return;
		}
		if (p->tee_ok && !write_all(p->tee, chunk, (size_t)n))
			p->tee_ok = false;
		if (!p->capture_err && !write_all(p->capture, chunk, (size_t)n))
			p->capture_err = errno ? errno : EIO;
	}
}

static int temp_file(int *fd)
{
	const char *dir = getenv("TMPDIR");
	struct buf path = BUF_INIT;
	int rc = 0;

	buf_printf(&path, "%s/cairn-run-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((rc = buf_error(&path)))
		return rc;
	*fd = mkostemp(path.ptr, O_CLOEXEC);
	if (*fd < 0)
		rc = cairn_error_set(CAIRN_EIO, "cannot create a temporary file in '%s': %s",
				     dir && *dir ? dir : "/tmp", strerror(errno));
	else
		unlink(path.ptr);
	buf_release(&path);
	return rc;
}

/* ---- supervising the child ---- */

struct child {
	pid_t pid;        /* the command (and its process group) */
	int wstatus;      /* its wait status once done */
	bool done;        /* reaped */
	bool stopped;     /* stopped (and not continued since) */
	bool tty;         /* its group is the terminal's foreground, by our doing */
	int forwarded;    /* last signal forwarded, 0 if none */
};

/* Is cairn's process group the foreground of the terminal on stdin? */
static bool tty_ours(void)
{
	return isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/* Stop cairn itself with sig, as a shell sees a job stop. True when it was
 * stopped and has been continued (SIGCONT, blocked since signal_setup, is left
 * pending); false when the stop did not happen: the kernel discards SIGTSTP,
 * SIGTTIN and SIGTTOU for an orphaned process group (no shell could ever
 * continue it, so stopping would hang for good), or sig is ignored. */
static bool stop_self(int sig)
{
	static const struct timespec now = { 0, 0 };
	sigset_t cont, one, old;

	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	while (sigtimedwait(&cont, NULL, &now) == SIGCONT)
		; /* a stale one, from before */
	sigemptyset(&one);
	sigaddset(&one, sig);
	/* SIGTTOU is blocked (for tcsetpgrp); unblocked, the raised signal stops us before raise() returns */
	pthread_sigmask(SIG_UNBLOCK, &one, &old);
	raise(sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return sigtimedwait(&cont, NULL, &now) == SIGCONT;
}

static void child_continue(struct child *ch)
{
	kill(-ch->pid, SIGCONT);
	ch->stopped = false;
}

/*
 * The child stopped. With the terminal (Ctrl-Z), or for want of it (SIGTTIN,
 * SIGTTOU: cairn runs in the background), cairn stops too, with the terminal
 * back, so the shell sees the job stop; once continued it gives the child the
 * terminal again when it is in the foreground ("fg") and continues it. Where
 * the stop is discarded because no shell could continue cairn, a Ctrl-Z just
 * resumes the child, and a child that can never have the terminal is hung up
 * (SIGHUP, SIGCONT), as the kernel does with an orphaned stopped group: cairn
 * never waits forever on a child nobody can continue. A child stopped from
 * outside (SIGSTOP, SIGTSTP, without the terminal) stays paused until
 * something continues it; a forwarded signal does (see supervise).
 */
static void child_stopped(struct child *ch, int sig)
{
	bool tty_wait = sig == SIGTTIN || sig == SIGTTOU, continued;

	ch->stopped = true;
	if (!ch->tty && !tty_wait)
		return;
	if (ch->tty)
		tcsetpgrp(STDIN_FILENO, getpgrp());
	ch->tty = false;
	continued = stop_self(tty_wait ? sig : SIGTSTP);
	if (tty_ours() && !tcsetpgrp(STDIN_FILENO, ch->pid))
		ch->tty = true;
	if (ch->tty || continued) {
		child_continue(ch); /* "fg", or "bg" where the terminal went elsewhere */
		return;
	}
	fprintf(stderr, "cairn run: the command stopped for the terminal, which it cannot get: hanging it up\n");
	kill(-ch->pid, SIGHUP);
	child_continue(ch);
}

static void reap(struct child *ch)
{
	int ws;
	pid_t r;

	for (;;) {
		r = waitpid(ch->pid, &ws, WNOHANG | WUNTRACED | WCONTINUED);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		if (WIFSTOPPED(ws)) {
			child_stopped(ch, WSTOPSIG(ws));
			continue;
		}
		if (WIFCONTINUED(ws)) {
			ch->stopped = false;
			continue;
		}
		ch->wstatus = ws;
		ch->done = true;
		return;
	}
}

/* Pump output and signals until the child has exited and its output is drained. */
static int supervise(struct child *ch, int sfd, struct pump *out, struct pump *err)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[3];
	struct pump *pumps[3];
	int64_t done_ns = 0;
	nfds_t n;
	ssize_t r;
	int k;

	for (;;) {
		if (ch->done && out->in < 0 && err->in < 0)
			return 0;
		n = 0;
		if (!ch->done) {
			pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
			pumps[n++] = NULL;
		}
		if (out->in >= 0) {
			pfd[n] = (struct pollfd){ .fd = out->in, .events = POLLIN };
			pumps[n++] = out;
		}
		if (err->in >= 0) {
			pfd[n] = (struct pollfd){ .fd = err->in, .events = POLLIN };
			pumps[n++] = err;
		}
		if (ch->done && !done_ns)
			done_ns = cairn_mono_ns();
		k = poll(pfd, n, ch->done ? RUN_DRAIN_MS : -1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return cairn_error_set(CAIRN_EIO, "poll: %s", strerror(errno));
		if (k == 0 || (done_ns && cairn_mono_ns() - done_ns > RUN_DRAIN_MAX_NS)) {
			/* the command is gone; what still holds the pipes is a leftover background process */
			if (out->in >= 0)
				close(out->in);
			if (err->in >= 0)
				close(err->in);
			out->in = err->in = -1;
			return 0;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (pumps[i]) {
				pump_read(pumps[i]);
				continue;
			}
			while ((r = read(sfd, &si, sizeof(si))) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					reap(ch);
				} else if (!ch->done) {
					ch->forwarded = (int)si.ssi_signo;
					kill(-ch->pid, (int)si.ssi_signo);
					/* a stopped child acts on it only once continued (as a shell's kill does) */
					if (ch->stopped)
						child_continue(ch);
				}
			}
		}
	}
}

static int signal_setup(sigset_t *set, int *sfd)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* a background shell may have left SIGINT ignored: it would be discarded, not forwarded */
		signal(sigs[i], SIG_DFL);
		sigaddset(set, sigs[i]);
	}
	sigaddset(set, SIGTTOU); /* lets tcsetpgrp() work from the background */
	sigaddset(set, SIGCONT); /* left pending: stop_self() sees it was continued */
	/* block before the local server's threads exist, so every thread inherits it */
	if (pthread_sigmask(SIG_BLOCK, set, NULL))
		return cairn_error_set(CAIRN_ERR, "cannot block signals");
	sigdelset(set, SIGTTOU);
	sigdelset(set, SIGCONT);
	*sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sfd < 0)
		return cairn_error_set(CAIRN_ERR, "signalfd: %s", strerror(errno));
	return 0;
}

struct run_opts {
	const char *uri;   /* --tracking-uri */
	const char *root;  /* --root */
	const char *exp;   /* -e */
	const char *name;  /* --name */
	json_t *tags;      /* --tag */
	bool quiet;        /* -q */
};

/* Create the run: *run gets the Run object. */
static int run_create(struct client *cl, const struct run_opts *o, char *const *cmd, const char *exp_id,
		      json_t **run)
{
	json_t *tags = json_array(), *body, *reply = NULL, *t;
	struct buf line = BUF_INIT;
	const char *user = user_name();
	size_t i;
	int rc;

	*run = NULL;
	if (!tags)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	shell_join(cmd, &line);
	if ((rc = buf_error(&line)) || (rc = tag_add(tags, "mlflow.source.name", source_name(cmd))) ||
	    (rc = tag_add(tags, "mlflow.source.type", "LOCAL")) || (rc = tag_add(tags, "mlflow.user", user)) ||
	    (rc = tag_add(tags, "cairn.command", line.ptr)) || (rc = git_tags(tags)))
		goto cleanup;
	json_array_foreach(o->tags, i, t)
		json_array_append(tags, t);
	body = json_pack("{s:s, s:s, s:I, s:O}", "experiment_id", exp_id, "user_id", user, "start_time",
			 (json_int_t)cairn_now_ms(), "tags", tags);
	if (body && o->name)
		json_object_set_new(body, "run_name", json_string(o->name));
	if ((rc = client_call(cl, "POST", "/mlflow/runs/create", body, &reply)))
		goto cleanup;
	*run = json_incref(json_object_get(reply, "run"));
	if (!json_string_value(json_object_get(json_object_get(*run, "info"), "run_id"))) {
		json_decref(*run);
		*run = NULL;
		rc = cairn_error_set(CAIRN_EIO, "malformed reply to runs/create: no run id");
	}
cleanup:
	json_decref(tags);
	json_decref(reply);
	buf_release(&line);
	return rc;
}

static int run_finish(struct client *cl, const char *run_id, const char *status)
{
	return client_call(cl, "POST", "/mlflow/runs/update",
			   json_pack("{s:s, s:s, s:I}", "run_id", run_id, "status", status, "end_time",
				     (json_int_t)cairn_now_ms()),
			   NULL);
}

int cmd_run(int argc, char **argv)
{
	enum { O_URI = 256, O_ROOT, O_TAG };
	static const struct option opts[] = {
		{ "tracking-uri", required_argument, NULL, O_URI },
		{ "root", required_argument, NULL, O_ROOT },
		{ "experiment", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'n' },
		{ "tag", required_argument, NULL, O_TAG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	struct client *cl = NULL;
	struct proc_env env = PROC_ENV_INIT;
	struct pump out = { .in = -1, .tee = STDOUT_FILENO, .tee_ok = true, .capture = -1 };
	struct pump err = { .in = -1, .tee = STDERR_FILENO, .tee_ok = true, .capture = -1 };
	struct child ch = { .pid = -1 };
	struct proc_opts po = { .fd_in = -1 };
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 }, sfd = -1, c, rc = 2, code;
	const char *exp_arg, *serve_uri, *run_id = NULL, *artifact_uri, *status;
	char *exp_id = NULL, *const *cmd;
	json_t *run = NULL;
	bool created = false, started = false;
	sigset_t set;

	if (!(o.tags = json_array()))
		return cli_fail("run", "out of memory");
	optind = 1;
	opterr = 0;
	/* '+': stop at the first non-option, which starts the command */
	while ((c = getopt_long(argc, argv, "+:he:n:q", opts, NULL)) != -1) {
		switch (c) {
		case O_URI:
			o.uri = optarg;
			break;
		case O_ROOT:
			o.root = optarg;
			break;
		case 'e':
			o.exp = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case O_TAG:
			if (client_tag_append(o.tags, optarg)) {
				rc = usage_error("invalid --tag '%s': expected KEY=VALUE", optarg);
				goto cleanup;
			}
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			run_usage(stdout);
			rc = 0;
			goto cleanup;
		case ':':
			rc = usage_error("option '%s' needs a value", argv[optind - 1]);
			goto cleanup;
		default:
			rc = usage_error("unknown option '%s'", argv[optind - 1]);
			goto cleanup;
		}
	}
	if (optind >= argc) {
		rc = usage_error("%s", "no command given: cairn run [options] -- CMD [ARG...]");
		goto cleanup;
	}
	cmd = argv + optind;
	exp_arg = o.exp;
	if (!exp_arg || !*exp_arg)
		exp_arg = getenv("MLFLOW_EXPERIMENT_ID");
	if (!exp_arg || !*exp_arg)
		exp_arg = getenv("MLFLOW_EXPERIMENT_NAME");
	if (!exp_arg || !*exp_arg)
		exp_arg = "0";

	rc = 1;
	/* an inherited SIG_IGN would make children unwaitable */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (client_open_default(o.uri, o.root, cli_default_root(), &cl) ||
	    client_experiment_ensure(cl, exp_arg, &exp_id, &created) || run_create(cl, &o, cmd, exp_id, &run)) {
		cli_fail("run", "%s", cairn_error_msg());
		goto cleanup;
	}
	run_id = json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
	artifact_uri = json_string_value(json_object_get(json_object_get(run, "info"), "artifact_uri"));
	if (!o.quiet && created)
		fprintf(stderr, "cairn run: created experiment '%s' (id %s)\n", exp_arg, exp_id);
	if (!o.quiet)
		fprintf(stderr, "cairn run: run %s in experiment %s\n", run_id, exp_id);

	/* from here on SIGINT/SIGTERM/SIGHUP are for the child (before this, they stop cairn) */
	if (signal_setup(&set, &sfd))
		goto fail_run;
	/* the child's environment and streams */
	if (client_serve_uri(cl, &serve_uri) || proc_env_init(&env, environ) ||
	    proc_env_set(&env, "MLFLOW_TRACKING_URI", serve_uri) || proc_env_set(&env, "MLFLOW_RUN_ID", run_id) ||
	    proc_env_set(&env, "MLFLOW_EXPERIMENT_ID", exp_id) || proc_env_set(&env, "CAIRN_RUN_ID", run_id) ||
	    (!proc_env_get(&env, "PYTHONUNBUFFERED") && proc_env_set(&env, "PYTHONUNBUFFERED", "1")) ||
	    temp_file(&out.capture) || temp_file(&err.capture))
		goto fail_run;
	proc_env_unset(&env, "MLFLOW_EXPERIMENT_NAME");
	if (pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
		cairn_error_set(CAIRN_EIO, "pipe: %s", strerror(errno));
		goto fail_run;
	}
	po.argv = cmd;
	po.envp = proc_env_array(&env);
	po.fd_out = pout[1];
	po.fd_err = perr[1];
	po.new_pgroup = true;
	/* an interactive command gets the terminal, before it starts: Ctrl-C, Ctrl-Z and reads go to it */
	po.tty_foreground = tty_ours();
	if (proc_spawn(&po, &ch.pid))
		goto fail_run;
	started = true;
	ch.tty = po.tty_foreground;
	close(pout[1]);
	close(perr[1]);
	pout[1] = perr[1] = -1;
	out.in = pout[0];
	err.in = perr[0];
	pout[0] = perr[0] = -1;
	fcntl(out.in, F_SETFL, O_NONBLOCK);
	fcntl(err.in, F_SETFL, O_NONBLOCK);

	if (supervise(&ch, sfd, &out, &err)) {
		cli_fail("run", "%s", cairn_error_msg());
		kill(-ch.pid, SIGKILL);
	}
	if (!ch.done && !proc_wait(ch.pid, &ch.wstatus))
		ch.done = true;
	/* the terminal back (SIGTTOU is blocked, so this works from the background) */
	if (ch.tty)
		tcsetpgrp(STDIN_FILENO, getpgrp());

	code = ch.done ? proc_exit_code(ch.wstatus) : 1;
	status = !ch.done ? "FAILED" : WIFSIGNALED(ch.wstatus) ? "KILLED" : code ? "FAILED" : "FINISHED";
	/* the artifacts first, so a finished run has them */
	if (out.capture_err)
		fprintf(stderr, "cairn run: capturing stdout failed: %s\n", strerror(out.capture_err));
	else if (client_upload_fd(cl, artifact_uri, "stdout.txt", out.capture))
		fprintf(stderr, "cairn run: cannot store stdout.txt: %s\n", cairn_error_msg());
	if (err.capture_err)
		fprintf(stderr, "cairn run: capturing stderr failed: %s\n", strerror(err.capture_err));
	else if (client_upload_fd(cl, artifact_uri, "stderr.txt", err.capture))
		fprintf(stderr, "cairn run: cannot store stderr.txt: %s\n", cairn_error_msg());
	if (run_finish(cl, run_id, status)) {
		cli_fail("run", "cannot record the run's end: %s", cairn_error_msg());
		rc = code ? code : 1;
		goto cleanup;
	}
	if (!o.quiet) {
		if (ch.done && WIFSIGNALED(ch.wstatus))
			fprintf(stderr, "cairn run: run %s %s (signal %d)\n", run_id, status, WTERMSIG(ch.wstatus));
		else
			fprintf(stderr, "cairn run: run %s %s (exit code %d)\n", run_id, status, code);
	}
	rc = code;
	goto cleanup;

fail_run:
	/* the run exists but the command never ran */
	cli_fail("run", "%s", cairn_error_msg());
	rc = cairn_error_code() == CAIRN_ENOTFOUND ? 127 : cairn_error_code() == CAIRN_EPERM ? 126 : 1;
	if (!started && run_id && run_finish(cl, run_id, "FAILED"))
		cli_fail("run", "cannot record the run's end: %s", cairn_error_msg());
cleanup:
	for (int i = 0; i < 2; i++) {
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	if (out.in >= 0)
		close(out.in);
	if (err.in >= 0)
		close(err.in);
	if (out.capture >= 0)
		close(out.capture);
	if (err.capture >= 0)
		close(err.capture);
	if (sfd >= 0)
		close(sfd);
	proc_env_release(&env);
	client_free(cl);
	json_decref(run);
	json_decref(o.tags);
	free(exp_id);
	return rc;
}
