/* Unit tests for pipeline/exec: the local executor (exit codes, streaming, logs, timeouts, retries, interrupts). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "pipeline/exec.h"

static char dir[64];

static void setup(void)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "/tmp/cairn-exec-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	/* the real path, so that `pwd` in the child compares equal */
	cr_assert_not_null(realpath(tmp, dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(pipeline_exec, .init = setup, .fini = teardown);

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static bool exists(const char *name)
{
	char p[256];

	path_in(p, sizeof(p), name);
	return access(p, F_OK) == 0;
}

/* The whole file (malloc'd, NUL-terminated; "" when missing). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	cr_assert_not_null(s);
	cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static char *slurp_in(const char *name)
{
	char p[256];

	path_in(p, sizeof(p), name);
	return slurp(p);
}

/* Send fd (1 or 2) to dir/name until capture_end(). */
struct capture {
	int fd;
	int saved;
	char path[256];
};

static void capture_begin(struct capture *c, int fd, const char *name)
{
	int f;

	c->fd = fd;
	path_in(c->path, sizeof(c->path), name);
	fflush(NULL);
	c->saved = dup(fd);
	cr_assert_geq(c->saved, 0);
	f = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(f, 0);
	cr_assert_eq(dup2(f, fd), fd);
	close(f);
}

static char *capture_end(struct capture *c)
{
	fflush(NULL);
	cr_assert_eq(dup2(c->saved, c->fd), c->fd);
	close(c->saved);
	return slurp(c->path);
}

static struct exec_req req(const char *name, char *const *cmds, size_t n)
{
	return (struct exec_req){ .name = name, .cmds = cmds, .ncmds = n, .wdir = dir, .quiet = true };
}

static int64_t ms_since(int64_t t0_ns)
{
	return (cairn_mono_ns() - t0_ns) / 1000000;
}

Test(pipeline_exec, success_and_exit_code)
{
	char *ok[] = { "true" }, *three[] = { "exit 3" };
	struct exec_req rq = req("s", ok, 1);
	struct exec_result res;

	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 0);
	cr_assert_eq(res.attempts, 1);
	cr_assert(!res.timed_out && !res.interrupted);

	rq = req("s", three, 1);
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 3);
	cr_assert_eq(res.attempts, 1);
	cr_assert(!res.timed_out && !res.interrupted);
}

Test(pipeline_exec, killed_by_signal_is_128_plus)
{
	char *cmds[] = { "kill -9 $$" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;

	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 128 + SIGKILL);
}

Test(pipeline_exec, stops_at_first_failure)
{
	char *cmds[] = { "touch first", "exit 2", "touch second" };
	struct exec_req rq = req("s", cmds, 3);
	struct exec_result res;

	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 2);
	cr_assert(exists("first"));
	cr_assert(!exists("second"), "the command after a failure must not run");
}

Test(pipeline_exec, wdir_and_env_honoured)
{
	char *cmds[] = { "pwd > where", "printf '%s|%s' \"$FOO\" \"${HOME-unset}\" > env.txt" };
	char *env[] = { "FOO=bar baz", "PATH=/usr/bin:/bin", NULL };
	struct exec_req rq = req("s", cmds, 2);
	struct exec_result res;
	char *s, want[128];

	rq.env = env;
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 0);
	s = slurp_in("where");
	snprintf(want, sizeof(want), "%s\n", dir);
	cr_assert_str_eq(s, want);
	free(s);
	s = slurp_in("env.txt");
	cr_assert_str_eq(s, "bar baz|unset", "only the given environment");
	free(s);
}

Test(pipeline_exec, inherits_environment_when_null)
{
	char *cmds[] = { "printf '%s' \"$CAIRN_EXEC_TEST\" > env.txt" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	char *s;

	setenv("CAIRN_EXEC_TEST", "inherited", 1);
	cr_assert_eq(exec_stage(&rq, &res), 0);
	s = slurp_in("env.txt");
	cr_assert_str_eq(s, "inherited");
	free(s);
}

Test(pipeline_exec, stdin_is_dev_null)
{
	char *cmds[] = { "cat > in.txt; echo done >> in.txt" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	char *s;

	cr_assert_eq(exec_stage(&rq, &res), 0);
	s = slurp_in("in.txt");
	cr_assert_str_eq(s, "done\n");
	free(s);
}

Test(pipeline_exec, log_has_both_streams_unprefixed)
{
	char *cmds[] = { "echo out1; echo err1 >&2", "printf partial" };
	struct exec_req rq = req("s", cmds, 2);
	struct exec_result res;
	char logp[256], *s;

	path_in(logp, sizeof(logp), "stage.log");
	rq.log_path = logp;
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(exec_stage(&rq, &res), 0); /* appends */
	s = slurp(logp);
	cr_assert(strstr(s, "out1\n"), "log: %s", s);
	cr_assert(strstr(s, "err1\n"), "log: %s", s);
	cr_assert(strstr(s, "partial"), "log: %s", s);
	cr_assert_null(strstr(s, "[s]"), "log is unprefixed: %s", s);
	cr_assert_eq(strlen(s), 2 * strlen("out1\nerr1\npartial"), "log: %s", s);
	free(s);
}

Test(pipeline_exec, log_cannot_be_opened)
{
	char *cmds[] = { "touch ran" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;

	rq.log_path = "/nonexistent-cairn-dir/stage.log";
	cr_assert_eq(exec_stage(&rq, &res), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "/nonexistent-cairn-dir/stage.log"));
	cr_assert(!exists("ran"));
}

Test(pipeline_exec, missing_wdir_is_an_error)
{
	char *cmds[] = { "true" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;

	rq.wdir = "/nonexistent-cairn-dir/work";
	cr_assert_eq(exec_stage(&rq, &res), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "/nonexistent-cairn-dir/work"), "%s", cairn_error_msg());
	cr_assert_eq(res.attempts, 0);
}

Test(pipeline_exec, streams_prefixed_lines)
{
	char *cmds[] = { "echo hello; echo oops >&2; echo world; printf 'no newline'" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	struct capture out, err;
	char *o, *e;

	rq.quiet = false;
	capture_begin(&out, 1, "stdout.txt");
	capture_begin(&err, 2, "stderr.txt");
	int rc = exec_stage(&rq, &res);
	e = capture_end(&err);
	o = capture_end(&out);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(o, "[s] hello\n[s] world\n[s] no newline\n");
	cr_assert_str_eq(e, "[s] oops\n");
	free(o);
	free(e);
}

Test(pipeline_exec, quiet_streams_nothing)
{
	char *cmds[] = { "echo hello; echo oops >&2; exit 1" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	struct capture out, err;
	char *o, *e;

	rq.retries = 1;
	rq.backoff_ms = 10;
	capture_begin(&out, 1, "stdout.txt");
	capture_begin(&err, 2, "stderr.txt");
	int rc = exec_stage(&rq, &res);
	e = capture_end(&err);
	o = capture_end(&out);
	cr_assert_eq(rc, 0);
	cr_assert_eq(res.attempts, 2);
	cr_assert_str_eq(o, "");
	cr_assert_str_eq(e, "");
	free(o);
	free(e);
}

Test(pipeline_exec, long_lines_are_split)
{
	/* 70000 bytes then a newline: one 65536-byte line and one of 4464 */
	char *cmds[] = { "head -c 70000 /dev/zero | tr '\\0' a; echo; echo next" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	struct capture out;
	char *o, *p, *nl;
	size_t lens[4], n = 0;

	rq.quiet = false;
	capture_begin(&out, 1, "stdout.txt");
	int rc = exec_stage(&rq, &res);
	o = capture_end(&out);
	cr_assert_eq(rc, 0);
	for (p = o; *p && n < 4; p = nl + 1) {
		cr_assert(!strncmp(p, "[s] ", 4));
		nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		lens[n++] = (size_t)(nl - p) - 4;
	}
	cr_assert_eq(n, 3, "lines: %zu", n);
	cr_assert_eq(lens[0], 65536);
	cr_assert_eq(lens[1], 70000 - 65536);
	cr_assert_eq(lens[2], 4);
	cr_assert(strstr(o, "[s] next\n"));
	free(o);
}

Test(pipeline_exec, timeout_kills_the_process_group)
{
	/* the shell and its background subshell: both must go */
	char *cmds[] = { "echo $$ > pgid; (sleep 1; touch marker) & sleep 30" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	int64_t t0;
	char *s;
	long pgid;

	/* orphans of the killed group come to us, so we can reap them */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	rq.timeout_ms = 300;
	t0 = cairn_mono_ns();
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_lt(ms_since(t0), 3000);
	cr_assert(res.timed_out);
	cr_assert_eq(res.exit_code, 124);
	cr_assert_eq(res.attempts, 1);
	cr_assert(!res.interrupted);

	s = slurp_in("pgid");
	pgid = strtol(s, NULL, 10);
	free(s);
	cr_assert_gt(pgid, 1);
	/* reap what was reparented to us; then nothing of the group is left */
	for (int i = 0; i < 100 && kill(-(pid_t)pgid, 0) == 0; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(10000);
	}
	errno = 0;
	cr_assert_eq(kill(-(pid_t)pgid, 0), -1);
	cr_assert_eq(errno, ESRCH);
	usleep(1300 * 1000);
	cr_assert(!exists("marker"), "the grandchild outlived the timeout");
}

Test(pipeline_exec, timeout_escalates_to_sigkill)
{
	char *cmds[] = { "trap '' TERM; sleep 30" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	int64_t t0, ms;

	rq.timeout_ms = 100;
	t0 = cairn_mono_ns();
	cr_assert_eq(exec_stage(&rq, &res), 0);
	ms = ms_since(t0);
	cr_assert_geq(ms, 2000, "grace period respected: %lld", (long long)ms);
	cr_assert_lt(ms, 5000, "took %lld ms", (long long)ms);
	cr_assert(res.timed_out);
	cr_assert_eq(res.exit_code, 124);
}

Test(pipeline_exec, timeout_is_retried)
{
	char *cmds[] = { "sleep 30" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;

	rq.timeout_ms = 100;
	rq.retries = 1;
	rq.backoff_ms = 10;
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.attempts, 2);
	cr_assert(res.timed_out);
	cr_assert_eq(res.exit_code, 124);
	cr_assert_lt(res.duration_ms, 3000);
}

#define FLAKY "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ]"

Test(pipeline_exec, retries_until_success)
{
	char *cmds[] = { FLAKY };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	char logp[256], *s;

	path_in(logp, sizeof(logp), "stage.log");
	rq.log_path = logp;
	rq.retries = 2;
	rq.backoff_ms = 10;
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.attempts, 3);
	cr_assert_eq(res.exit_code, 0);
	s = slurp(logp);
	cr_assert(strstr(s, "attempt 2 of 3 after exit code 1"), "log: %s", s);
	cr_assert(strstr(s, "attempt 3 of 3 after exit code 1"), "log: %s", s);
	free(s);
}

Test(pipeline_exec, retries_exhausted)
{
	char *cmds[] = { FLAKY };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	struct capture err;
	char *e;

	rq.retries = 1;
	rq.backoff_ms = 10;
	rq.quiet = false;
	capture_begin(&err, 2, "stderr.txt");
	int rc = exec_stage(&rq, &res);
	e = capture_end(&err);
	cr_assert_eq(rc, 0);
	cr_assert_eq(res.attempts, 2);
	cr_assert_neq(res.exit_code, 0);
	cr_assert_str_eq(e, "[s] attempt 2 of 2 after exit code 1\n");
	free(e);
}

Test(pipeline_exec, backoff_doubles)
{
	char *cmds[] = { "exit 1" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	int64_t t0, ms;

	rq.retries = 3;
	rq.backoff_ms = 50; /* 50 + 100 + 200 */
	t0 = cairn_mono_ns();
	cr_assert_eq(exec_stage(&rq, &res), 0);
	ms = ms_since(t0);
	cr_assert_eq(res.attempts, 4);
	cr_assert_eq(res.exit_code, 1);
	cr_assert_geq(ms, 350, "took %lld ms", (long long)ms);
	cr_assert_lt(ms, 2000, "took %lld ms", (long long)ms);
	cr_assert_geq(res.duration_ms, 350);
}

struct interrupter {
	volatile sig_atomic_t *flag;
	int after_ms;
};

static void *interrupt_later(void *arg)
{
	struct interrupter *it = arg;

	usleep((useconds_t)it->after_ms * 1000);
	*it->flag = 1;
	return NULL;
}

Test(pipeline_exec, interrupt_stops_without_retry)
{
	char *cmds[] = { "sleep 30", "touch second" };
	volatile sig_atomic_t flag = 0;
	struct interrupter it = { &flag, 200 };
	struct exec_req rq = req("s", cmds, 2);
	struct exec_result res;
	pthread_t th;
	int64_t t0, ms;

	rq.interrupted = &flag;
	rq.retries = 3;
	rq.backoff_ms = 10;
	t0 = cairn_mono_ns();
	cr_assert_eq(pthread_create(&th, NULL, interrupt_later, &it), 0);
	cr_assert_eq(exec_stage(&rq, &res), 0);
	ms = ms_since(t0);
	pthread_join(th, NULL);
	cr_assert_lt(ms, 1500, "took %lld ms", (long long)ms);
	cr_assert(res.interrupted);
	cr_assert(!res.timed_out);
	cr_assert_eq(res.exit_code, 130);
	cr_assert_eq(res.attempts, 1);
	cr_assert(!exists("second"));
}

Test(pipeline_exec, interrupt_wakes_backoff)
{
	char *cmds[] = { "exit 1" };
	volatile sig_atomic_t flag = 0;
	struct interrupter it = { &flag, 200 };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	pthread_t th;
	int64_t t0, ms;

	rq.interrupted = &flag;
	rq.retries = 3;
	rq.backoff_ms = 10000;
	t0 = cairn_mono_ns();
	cr_assert_eq(pthread_create(&th, NULL, interrupt_later, &it), 0);
	cr_assert_eq(exec_stage(&rq, &res), 0);
	ms = ms_since(t0);
	pthread_join(th, NULL);
	cr_assert_lt(ms, 1000, "took %lld ms", (long long)ms);
	cr_assert(res.interrupted);
	cr_assert_eq(res.exit_code, 130);
	cr_assert_eq(res.attempts, 1);
}

#define NSTAGES 8
#define NLINES 200
#define PAD "the quick brown fox jumps over the lazy dog, 0123456789 abcdefghijklmnopqrstuvwxyz"

struct par {
	char name[16];
	char cmd[256];
	char *cmds[1];
	int rc;
	struct exec_result res;
};

static void *run_par(void *arg)
{
	struct par *p = arg;
	struct exec_req rq = req(p->name, p->cmds, 1);

	rq.quiet = false;
	p->rc = exec_stage(&rq, &p->res);
	return NULL;
}

Test(pipeline_exec, parallel_stages_do_not_interleave)
{
	struct par ps[NSTAGES];
	pthread_t th[NSTAGES];
	int next[NSTAGES] = { 0 };
	struct capture out;
	char *o, *line, *nl, want[256];

	for (int i = 0; i < NSTAGES; i++) {
		snprintf(ps[i].name, sizeof(ps[i].name), "s%d", i);
		snprintf(ps[i].cmd, sizeof(ps[i].cmd),
			 "i=1; while [ $i -le %d ]; do echo \"line $i %s %s\"; i=$((i+1)); done", NLINES, PAD, PAD);
		ps[i].cmds[0] = ps[i].cmd;
	}
	capture_begin(&out, 1, "stdout.txt");
	for (int i = 0; i < NSTAGES; i++)
		pthread_create(&th[i], NULL, run_par, &ps[i]);
	for (int i = 0; i < NSTAGES; i++)
		pthread_join(th[i], NULL);
	o = capture_end(&out);
	for (int i = 0; i < NSTAGES; i++) {
		cr_assert_eq(ps[i].rc, 0);
		cr_assert_eq(ps[i].res.exit_code, 0);
	}
	for (line = o; *line; line = nl + 1) {
		int s = -1;

		nl = strchr(line, '\n');
		cr_assert_not_null(nl, "unterminated last line");
		*nl = '\0';
		cr_assert_eq(sscanf(line, "[s%d]", &s), 1, "bad line: %s", line);
		cr_assert(s >= 0 && s < NSTAGES, "bad line: %s", line);
		snprintf(want, sizeof(want), "[s%d] line %d %s %s", s, next[s] + 1, PAD, PAD);
		cr_assert_str_eq(line, want);
		next[s]++;
	}
	for (int i = 0; i < NSTAGES; i++)
		cr_assert_eq(next[i], NLINES, "stage %d: %d lines", i, next[i]);
	free(o);
}

Test(pipeline_exec, no_fd_leaks)
{
	char *cmds[] = { "echo hi; echo ho >&2", "exit 4" };
	struct exec_req rq = req("s", cmds, 2);
	struct exec_result res;
	char logp[256];
	int before, after;

	path_in(logp, sizeof(logp), "stage.log");
	rq.log_path = logp;
	rq.retries = 1;
	rq.backoff_ms = 1;
	before = dup(0);
	close(before);
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 4);
	after = dup(0);
	close(after);
	cr_assert_eq(before, after, "lowest free fd moved: %d -> %d", before, after);
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "no child left to reap");
	cr_assert_eq(errno, ECHILD);
}

Test(pipeline_exec, background_stragglers_do_not_hang)
{
	/* the shell exits, its background child still holds the pipes */
	char *cmds[] = { "sleep 30 & echo started" };
	struct exec_req rq = req("s", cmds, 1);
	struct exec_result res;
	char logp[256], *s;

	path_in(logp, sizeof(logp), "stage.log");
	rq.log_path = logp;
	cr_assert_eq(exec_stage(&rq, &res), 0);
	cr_assert_eq(res.exit_code, 0);
	cr_assert(!res.timed_out);
	cr_assert_lt(res.duration_ms, 2000, "took %lld ms", (long long)res.duration_ms);
	s = slurp(logp);
	cr_assert_str_eq(s, "started\n");
	free(s);
}
