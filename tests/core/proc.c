/* proc.c - unit tests of core/proc: spawning, the exited-but-unreaped check, spawn errors, the
 * terminal handed to a child's group. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/*
 * In a new session on a new pseudo-terminal, spawn `sh -c 'read x; exit 3'` in its own group,
 * with the terminal or without, and type its line. Returns how it ended: 3 (it read the line),
 * -SIG (it stopped with SIG), else 100+. Runs in a forked process: setsid and the terminal stay
 * out of the test runner.
 */
static int read_on_a_new_terminal(bool tty_foreground)
{
	char *argv[] = { "sh", "-c", "read x; exit 3", NULL };
	struct proc_opts o = { .argv = argv, .fd_in = -1, .fd_out = -1, .fd_err = -1, .new_pgroup = true,
			       .tty_foreground = tty_foreground };
	pid_t tester = fork(), pid;
	int ws = 0, master, slave;

	cr_assert(tester >= 0);
	if (tester == 0) {
		/* SIGTTOU ignored, as a job-control shell's would be: our group goes to the background */
		signal(SIGTTOU, SIG_IGN);
		if (setsid() < 0 || (master = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || grantpt(master) ||
		    unlockpt(master) || (slave = open(ptsname(master), O_RDWR)) < 0 ||
		    ioctl(slave, TIOCSCTTY, 0) || dup2(slave, 0) < 0)
			_exit(101);
		if (proc_spawn(&o, &pid))
			_exit(102);
		/* no hand-over of the terminal here: with tty_foreground the child already has it */
		if (write(master, "x\n", 2) != 2)
			_exit(103);
		if (waitpid(pid, &ws, WUNTRACED) != pid)
			_exit(104);
		if (WIFSTOPPED(ws)) {
			kill(-pid, SIGKILL);
			_exit(WSTOPSIG(ws)); /* < 100 */
		}
		_exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 105);
	}
	cr_assert_eq(waitpid(tester, &ws, 0), tester);
	cr_assert(WIFEXITED(ws));
	return WEXITSTATUS(ws) == 3 || WEXITSTATUS(ws) >= 100 ? WEXITSTATUS(ws) : -WEXITSTATUS(ws);
}

Test(core_proc, tty_foreground_is_the_childs_before_it_starts)
{
	/* it reads at once and gets the line: its group owned the terminal before it ran */
	cr_assert_eq(read_on_a_new_terminal(true), 3);
	/* without it, the same read from the background stops it */
	cr_assert_eq(read_on_a_new_terminal(false), -SIGTTIN);
}
