/* exec.h - running one pipeline stage's commands: the local executor.
 *
 * A stage's commands run one after the other through /bin/sh -c, in the
 * stage's working folder, with the caller's extra environment, in a new
 * process group of their own (so a timeout or an interrupt reaches
 * everything they started). stdout and stderr are streamed line by line to
 * cairn's stdout/stderr with a "[stage] " prefix (one line at a time, so the
 * output of parallel stages does not interleave within a line) and copied,
 * unprefixed, to a log file. A failed attempt is retried up to `retries`
 * times with exponential backoff; a timeout kills the process group
 * (SIGTERM, then SIGKILL after a grace period) and counts as a failure.
 *
 * Executors sit behind this one interface: a Slurm executor is a new file
 * implementing exec_stage() semantics for a batch system.
 */
#ifndef CAIRN_PIPELINE_EXEC_H
#define CAIRN_PIPELINE_EXEC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exec_req {
	const char *name;         /* stage name, for the output prefix */
	char *const *cmds;        /* commands, run in order; stop at the first failure */
	size_t ncmds;
	const char *wdir;         /* working folder (absolute) */
	char *const *env;         /* full environment for the child (NULL-terminated "K=V"), NULL: inherit */
	int64_t timeout_ms;       /* per attempt, 0: none */
	int retries;              /* extra attempts after a failure (not after an interrupt) */
	int64_t backoff_ms;       /* first backoff, doubled each retry (0: 1000 ms) */
	const char *log_path;     /* stdout+stderr copy (appended; NULL: none) */
	bool quiet;               /* do not stream to cairn's stdout/stderr */
	volatile sig_atomic_t *interrupted; /* set by the caller's SIGINT handler: stop now */
};

struct exec_result {
	int exit_code;            /* of the last attempt: 0, the command's code, 128+signal */
	bool timed_out;           /* the last attempt hit timeout_ms */
	bool interrupted;         /* stopped because *interrupted was set */
	int attempts;
	int64_t duration_ms;      /* all attempts, backoff included */
};

/* Run the stage. Returns 0 when the commands ran (whatever their exit
 * status, see res), or an error when they could not be started at all. */
int exec_stage(const struct exec_req *rq, struct exec_result *res);

#endif
