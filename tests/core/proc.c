/* proc.c - unit tests of core/proc: spawning, the exited-but-unreaped check, spawn errors. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/proc.h"

Test(core_proc, exited_leaves_the_child_unreaped)
{
	char *argv[] = { "sh", "-c", "exit 7", NULL };
	struct proc_opts o = { .argv = argv, .fd_in = -1, .fd_out = -1, .fd_err = -1, .new_pgroup = true };
	bool exited = false;
	pid_t pid;
	int ws = 0;

	cr_assert_eq(proc_spawn(&o, &pid), 0, "%s", cairn_error_msg());
	for (int i = 0; i < 500 && !exited; i++) {
		cr_assert_eq(proc_exited(pid, &exited), 0);
		if (!exited) {
			struct timespec ts = { 0, 10000000 };
			nanosleep(&ts, NULL);
		}
	}
	cr_assert(exited);
	/* still a zombie: asking again says so, and proc_wait reaps it with its status */
	cr_assert_eq(proc_exited(pid, &exited), 0);
	cr_assert(exited);
	cr_assert_eq(proc_wait(pid, &ws), 0);
	cr_assert_eq(proc_exit_code(ws), 7);
	cr_assert_eq(proc_exited(pid, &exited), CAIRN_ENOTFOUND);
}

Test(core_proc, spawn_errors_name_the_cause)
{
	char *missing[] = { "no-such-program-cairn", NULL };
	char *sh[] = { "sh", "-c", "true", NULL };
	struct proc_opts o = { .argv = missing, .fd_in = -1, .fd_out = -1, .fd_err = -1 };
	pid_t pid;

	cr_assert_eq(proc_spawn(&o, &pid), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "command 'no-such-program-cairn' not found"), "%s", cairn_error_msg());
	o.argv = sh;
	o.cwd = "/nonexistent/cairn-dir";
	cr_assert_eq(proc_spawn(&o, &pid), CAIRN_ENOTFOUND);
	cr_assert(strstr(cairn_error_msg(), "in '/nonexistent/cairn-dir'"), "%s", cairn_error_msg());
}
