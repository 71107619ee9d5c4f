/* tests/core/fault.c - the fault-injectable layer: counting, nth, persist, threads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fault.h"

static void fini(void) { fault_disarm(); }

TestSuite(core_fault, .fini = fini);

Test(core_fault, unarmed_calls_pass_through)
{
	void *p = cmalloc(8);
	cr_assert_not_null(p);
	free(p);
	cr_assert_eq(fault_calls(), 0);
}

Test(core_fault, counts_then_fails_the_nth_call_once)
{
	void *a, *b, *c;

	fault_arm(FAULT_ALLOC, 0, 0);
	free(cmalloc(1));
	free(cstrdup("x"));
	cr_assert_eq(fault_calls(), 2);
	fault_arm(FAULT_ALLOC, 2, 0);
	a = cmalloc(1);
	errno = 0;
	b = ccalloc(1, 1);
	cr_assert_eq(errno, ENOMEM);
	c = crealloc(NULL, 4);
	cr_assert_not_null(a);
	cr_assert_null(b);
	cr_assert_not_null(c);
	cr_assert_eq(fault_injected(), 1);
	free(a);
	free(c);
}

Test(core_fault, persist_fails_every_later_call_and_kinds_are_separate)
{
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	fault_arm(FAULT_WRITE | FAULT_FSYNC, 1, FAULT_PERSIST);
	void *p = cmalloc(4); /* not an armed kind */
	cr_assert_not_null(p);
	free(p);
	errno = 0;
	cr_assert_eq(cwrite(fds[1], "a", 1), -1);
	cr_assert_eq(errno, ENOSPC);
	cr_assert_eq(cwrite(fds[1], "a", 1), -1);
	cr_assert_eq(cfsync(fds[1]), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(fault_injected(), 3);
	fault_disarm();
	cr_assert_eq(cwrite(fds[1], "a", 1), 1);
	close(fds[0]);
	close(fds[1]);
}

static void *other_thread(void *arg)
{
	void *p = cmalloc(16);
	*(int *)arg = p != NULL;
	free(p);
	return NULL;
}

Test(core_fault, this_thread_ignores_other_threads)
{
	pthread_t t;
	int ok = 0;

	fault_arm(FAULT_ALLOC, 1, FAULT_PERSIST | FAULT_THIS_THREAD);
	pthread_create(&t, NULL, other_thread, &ok);
	pthread_join(t, NULL);
	cr_assert(ok);
	cr_assert_null(cmalloc(1));
	cr_assert_eq(fault_calls(), 1);
}
