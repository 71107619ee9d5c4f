/* proc.h - spawning child processes, and their environments.
 *
 * A thin layer over posix_spawnp(): the child gets its standard streams from
 * the fds the caller names, a clean signal state (default dispositions, an
 * empty mask, whatever the parent blocked or ignored), no other inherited
 * file descriptors, and optionally its own process group (so a signal can
 * reach it and everything it starts), which can own the terminal before the
 * program starts (job control without a race). proc_capture() runs a short
 * helper command (git, ...) to completion and collects its output.
 *
 * struct proc_env builds a NULL-terminated "KEY=VALUE" array for a child,
 * starting from the parent's environment; it owns its strings.
 */
#ifndef CAIRN_CORE_PROC_H
#define CAIRN_CORE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

struct proc_opts {
	char *const *argv;  /* program (searched in PATH) and arguments, NULL-terminated */
	char *const *envp;  /* environment, NULL: the parent's */
	const char *cwd;    /* working directory, NULL: the parent's */
	int fd_in;          /* becomes the child's stdin; -1: inherit */
	int fd_out;         /* becomes the child's stdout; -1: inherit */
	int fd_err;         /* becomes the child's stderr; -1: inherit */
	bool new_pgroup;    /* put the child in a new process group (pgid = pid) */
	bool tty_foreground; /* with new_pgroup: that group becomes the foreground of the terminal on
			      * the parent's stdin before the program starts; the caller checks that
			      * stdin is its controlling terminal, else the spawn fails */
};

/* Start a child; *pid gets its id. The child's process group and terminal are
 * set up in the child before it execs, and the parent resumes only after the
 * exec (glibc's posix_spawn is a vfork), so on return they are in place. Fails
 * with CAIRN_ENOTFOUND when the program cannot be found and CAIRN_EIO for
 * other spawn failures, the message naming the program. */
int proc_spawn(const struct proc_opts *o, pid_t *pid);
/* Has the child exited? It is left unreaped (a zombie), so its pid, and the
 * id of a process group it leads, cannot be reused while the caller still
 * signals the group; proc_wait() reaps it. CAIRN_ENOTFOUND when pid is not
 * a child (already reaped). */
int proc_exited(pid_t pid, bool *exited);
/* waitpid() that retries on EINTR; *wstatus as waitpid reports it. */
int proc_wait(pid_t pid, int *wstatus);
/* The shell's view of a wait status: the exit code, or 128 + signal number. */
int proc_exit_code(int wstatus);

/* Run argv (stdin and stderr on /dev/null, in cwd when not NULL) and append
 * its stdout to out, up to out's limit. *exit_code gets proc_exit_code() of
 * the child. Returns an error only when it could not be run at all. */
int proc_capture(char *const *argv, const char *cwd, struct buf *out, int *exit_code);

struct proc_env {
	char **v;   /* "KEY=VALUE" strings (owned), NULL-terminated when n > 0 */
	size_t n;   /* entries, not counting the NULL */
	size_t cap; /* slots allocated */
};

#define PROC_ENV_INIT { NULL, 0, 0 }

/* Copy base (NULL-terminated, e.g. environ) into e, which must be empty. */
int proc_env_init(struct proc_env *e, char *const *base);
/* Set key to value, replacing an existing entry. */
int proc_env_set(struct proc_env *e, const char *key, const char *value);
/* Remove key if present. */
void proc_env_unset(struct proc_env *e, const char *key);
/* The value of key in e, or NULL (borrowed). */
const char *proc_env_get(const struct proc_env *e, const char *key);
/* The NULL-terminated array for proc_opts.envp (borrowed; valid until the next change). */
char *const *proc_env_array(struct proc_env *e);
void proc_env_release(struct proc_env *e);

#endif
