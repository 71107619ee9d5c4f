/* fault.c - the fault-injectable allocation and file layer (see fault.h). */
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic unsigned armed_kinds;   /* 0: disarmed, the fast path */
static _Atomic uint64_t calls, injected, fail_at;
static _Atomic unsigned armed_flags;
static pthread_t armed_thread;
static _Atomic int armed_code;
static _Thread_local bool held;

void fault_hold(bool hold)
{
	held = hold;
}

void fault_arm(unsigned kinds, uint64_t nth, unsigned flags)
{
	fault_arm_code(kinds, nth, flags, CAIRN_EIO);
}

int fault_code(void)
{
	return atomic_load(&armed_code);
}

void fault_arm_code(unsigned kinds, uint64_t nth, unsigned flags, int code)
{
	atomic_store(&armed_code, code);
	atomic_store(&armed_kinds, 0);
	atomic_store(&calls, 0);
	atomic_store(&injected, 0);
	atomic_store(&fail_at, nth);
	atomic_store(&armed_flags, flags);
	armed_thread = pthread_self();
	atomic_store(&armed_kinds, kinds);
}

void fault_disarm(void)
{
	atomic_store(&armed_kinds, 0);
}

uint64_t fault_calls(void)
{
	return atomic_load(&calls);
}

uint64_t fault_injected(void)
{
	return atomic_load(&injected);
}

bool fault_fail(enum fault_kind kind)
{
	unsigned k = atomic_load_explicit(&armed_kinds, memory_order_relaxed);
	uint64_t n, at;

	if (!(k & kind) || held)
		return false;
	if ((atomic_load(&armed_flags) & FAULT_THIS_THREAD) && !pthread_equal(armed_thread, pthread_self()))
		return false;
	n = atomic_fetch_add(&calls, 1) + 1;
	at = atomic_load(&fail_at);
	if (!at || n < at || (n > at && !(atomic_load(&armed_flags) & FAULT_PERSIST)))
		return false;
	atomic_fetch_add(&injected, 1);
	return true;
}

void *cmalloc(size_t n)
{
	if (fault_fail(FAULT_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(n);
}

void *ccalloc(size_t nmemb, size_t size)
{
	if (fault_fail(FAULT_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return calloc(nmemb, size);
}

void *crealloc(void *p, size_t n)
{
	if (fault_fail(FAULT_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

char *cstrdup(const char *s)
{
	if (fault_fail(FAULT_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return strdup(s);
}

char *cstrndup(const char *s, size_t n)
{
	if (fault_fail(FAULT_ALLOC)) {
		errno = ENOMEM;
		return NULL;
	}
	return strndup(s, n);
}

ssize_t cwrite(int fd, const void *buf, size_t n)
{
	if (fault_fail(FAULT_WRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return write(fd, buf, n);
}

int cfsync(int fd)
{
	if (fault_fail(FAULT_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

int crename(const char *from, const char *to)
{
	if (fault_fail(FAULT_RENAME)) {
		errno = EIO;
		return -1;
	}
	return rename(from, to);
}

int crenameat(int fromdir, const char *from, int todir, const char *to)
{
	if (fault_fail(FAULT_RENAME)) {
		errno = EIO;
		return -1;
	}
	return renameat(fromdir, from, todir, to);
}
