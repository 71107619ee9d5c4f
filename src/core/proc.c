/* proc.c - child processes through posix_spawnp, and child environments. */
#include "core/proc.h"
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int proc_spawn(const struct proc_opts *o, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	int rc, err = CAIRN_ERR;

	CAIRN_ASSERT(o->argv && o->argv[0]);
	if ((rc = posix_spawn_file_actions_init(&fa)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if ((rc = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&fa);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	/* every signal back to its default; nothing blocked */
	sigemptyset(&none);
	sigfillset(&dfl);
	sigdelset(&dfl, SIGKILL);
	sigdelset(&dfl, SIGSTOP);
	if (o->new_pgroup) {
		flags |= POSIX_SPAWN_SETPGROUP;
		rc = posix_spawnattr_setpgroup(&attr, 0);
	}
	/*
	 * The terminal is handed over by the child itself, after its setpgid and
	 * before exec, with every signal blocked (so SIGTTOU cannot stop it from
	 * the background). Done by the parent after the spawn, the program could
	 * read the terminal first, get SIGTTIN and stop. As the parent resumes
	 * only after the exec, it need not repeat setpgid and tcsetpgrp as a
	 * fork()-based shell does. First action: fd 0 is still the parent's stdin.
	 */
	CAIRN_ASSERT(!o->tty_foreground || o->new_pgroup);
	if (!rc && o->tty_foreground)
		rc = posix_spawn_file_actions_addtcsetpgrp_np(&fa, STDIN_FILENO);
	if (rc || (rc = posix_spawnattr_setflags(&attr, flags)) || (rc = posix_spawnattr_setsigmask(&attr, &none)) ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &dfl)))
		goto fail;
	if (o->cwd && (rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd)))
		goto fail;
	if (o->fd_in >= 0 && (rc = posix_spawn_file_actions_adddup2(&fa, o->fd_in, 0)))
		goto fail;
	if (o->fd_out >= 0 && (rc = posix_spawn_file_actions_adddup2(&fa, o->fd_out, 1)))
		goto fail;
	if (o->fd_err >= 0 && (rc = posix_spawn_file_actions_adddup2(&fa, o->fd_err, 2)))
		goto fail;
	/* the child inherits nothing but its three standard streams */
	if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)))
		goto fail;
	rc = posix_spawnp(pid, o->argv[0], &fa, &attr, o->argv, o->envp ? o->envp : environ);
	if (rc == ENOENT && o->cwd && access(o->cwd, X_OK) != 0)
		/* the chdir failed, not the program lookup */
		err = cairn_error_set(CAIRN_ENOTFOUND, "cannot run '%s' in '%s': %s", o->argv[0], o->cwd,
				      strerror(errno));
	else if (rc == ENOENT)
		err = cairn_error_set(CAIRN_ENOTFOUND, "command '%s' not found", o->argv[0]);
	else if (rc == EACCES)
		err = cairn_error_set(CAIRN_EPERM, "cannot run '%s': %s", o->argv[0], strerror(rc));
	else if (rc)
		err = cairn_error_set(CAIRN_EIO, "cannot run '%s': %s", o->argv[0], strerror(rc));
	else
		err = 0;
	goto out;
fail:
	err = cairn_error_set(CAIRN_ERR, "cannot prepare to run '%s': %s", o->argv[0], strerror(rc));
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

int proc_wait(pid_t pid, int *wstatus)
{
	pid_t r;

	do
		r = waitpid(pid, wstatus, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return cairn_error_set(CAIRN_ERR, "waiting for process %ld: %s", (long)pid, strerror(errno));
	return 0;
}

int proc_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 1;
}

int proc_capture(char *const *argv, const char *cwd, struct buf *out, int *exit_code)
{
	struct proc_opts o = { .argv = argv, .cwd = cwd, .fd_in = -1, .fd_out = -1, .fd_err = -1 };
	int pfd[2] = { -1, -1 }, null_fd = -1, wstatus = 0, err = CAIRN_ERR;
	char chunk[4096];
	pid_t pid;
	ssize_t n;

	*exit_code = -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		err = cairn_error_set(CAIRN_EIO, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		err = cairn_error_set(CAIRN_EIO, "/dev/null: %s", strerror(errno));
		goto cleanup;
	}
	o.fd_in = null_fd;
	o.fd_out = pfd[1];
	o.fd_err = null_fd;
	if ((err = proc_spawn(&o, &pid)))
		goto cleanup;
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		n = read(pfd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!out->err)
			buf_put(out, chunk, (size_t)n); /* past the limit: drain and drop */
	}
	if ((err = proc_wait(pid, &wstatus)))
		goto cleanup;
	*exit_code = proc_exit_code(wstatus);
	err = 0;
cleanup:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (null_fd >= 0)
		close(null_fd);
	return err;
}

/* ---- environments ---- */

static size_t env_key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static ssize_t env_find(const struct proc_env *e, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < e->n; i++)
		if (env_key_len(e->v[i]) == klen && !memcmp(e->v[i], key, klen))
			return (ssize_t)i;
	return -1;
}

static int env_append(struct proc_env *e, char *entry)
{
	char **nv;
	size_t ncap;

	if (e->n + 2 > e->cap) {
		ncap = e->cap ? e->cap * 2 : 64;
		nv = crealloc(e->v, ncap * sizeof(*nv));
		if (!nv)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		e->v = nv;
		e->cap = ncap;
	}
	e->v[e->n++] = entry;
	e->v[e->n] = NULL;
	return 0;
}

int proc_env_init(struct proc_env *e, char *const *base)
{
	char *dup;
	int rc;

	CAIRN_ASSERT(e->n == 0);
	for (size_t i = 0; base && base[i]; i++) {
		if (!(dup = cstrdup(base[i])))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		if ((rc = env_append(e, dup))) {
			free(dup);
			return rc;
		}
	}
	return 0;
}

int proc_env_set(struct proc_env *e, const char *key, const char *value)
{
	struct buf entry = BUF_INIT;
	ssize_t i;
	int rc;

	buf_printf(&entry, "%s=%s", key, value);
	if ((rc = buf_error(&entry)))
		return rc;
	if ((i = env_find(e, key)) >= 0) {
		free(e->v[i]);
		e->v[i] = buf_detach(&entry);
		return 0;
	}
	if ((rc = env_append(e, entry.ptr)))
		buf_release(&entry);
	else
		buf_detach(&entry);
	return rc;
}

void proc_env_unset(struct proc_env *e, const char *key)
{
	ssize_t i = env_find(e, key);

	if (i < 0)
		return;
	free(e->v[i]);
	memmove(&e->v[i], &e->v[i + 1], (e->n - (size_t)i) * sizeof(*e->v)); /* moves the NULL too */
	e->n--;
}

const char *proc_env_get(const struct proc_env *e, const char *key)
{
	ssize_t i = env_find(e, key);
	size_t klen = strlen(key);

	if (i < 0)
		return NULL;
	return e->v[i][klen] ? e->v[i] + klen + 1 : "";
}

char *const *proc_env_array(struct proc_env *e)
{
	static char *empty[] = { NULL };

	return e->n ? e->v : empty;
}

void proc_env_release(struct proc_env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

int proc_exited(pid_t pid, bool *exited)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR) {
			*exited = false;
			return 0;
		}
		return cairn_error_set(CAIRN_ENOTFOUND, "no child process %d", (int)pid);
	}
	*exited = si.si_pid == pid;
	return 0;
}
