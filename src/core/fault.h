/* fault.h - the fault-injectable allocation and file layer (STYLE.md rule 11).
 *
 * cairn's own allocations go through cmalloc() and friends, jansson's through
 * the same hook (set in core/json.c), and the writes, fsyncs and renames that
 * make data durable through cwrite(), cfsync() and crename(); the store adds
 * its begin/commit/step (store.c). Unarmed, each costs one relaxed atomic load
 * on top of the libc call.
 *
 * A test arms a countdown over a set of kinds: the nth call of those kinds
 * (counting from 1 after fault_arm) fails the way the real call would -
 * NULL with errno ENOMEM, -1 with ENOSPC for writes and EIO for fsync and
 * rename - once, or that call and every later one (FAULT_PERSIST). With
 * FAULT_THIS_THREAD only calls made on the arming thread count, so a server's
 * other threads do not disturb the count. fault_arm(kinds, 0, ...) only
 * counts: fault_calls() then says how many calls a request made, and a test
 * fails each of them in turn (SQLite's test_malloc.c discipline).
 */
#ifndef CAIRN_CORE_FAULT_H
#define CAIRN_CORE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum fault_kind {
	FAULT_ALLOC = 1u << 0,        /* cmalloc, ccalloc, crealloc, cstrdup, cstrndup, jansson */
	FAULT_WRITE = 1u << 1,        /* cwrite */
	FAULT_FSYNC = 1u << 2,        /* cfsync */
	FAULT_RENAME = 1u << 3,       /* crename, crenameat */
	FAULT_STORE_BEGIN = 1u << 4,  /* store_begin_write */
	FAULT_STORE_COMMIT = 1u << 5, /* store_commit */
	FAULT_STORE_STEP = 1u << 6,   /* store_step */
	FAULT_FILES = FAULT_WRITE | FAULT_FSYNC | FAULT_RENAME,
	FAULT_STORE = FAULT_STORE_BEGIN | FAULT_STORE_COMMIT | FAULT_STORE_STEP,
	FAULT_ALL = FAULT_ALLOC | FAULT_FILES | FAULT_STORE,
};

enum fault_flags {
	FAULT_PERSIST = 1u << 0,     /* fail the nth call and every later one */
	FAULT_THIS_THREAD = 1u << 1, /* count only calls on the thread that armed */
};

/* Fail the nth call of kinds (0: count only). Resets the counters. */
void fault_arm(unsigned kinds, uint64_t nth, unsigned flags);
/* The same, and the store's points fail with cairn error code (a CAIRN_E*
 * value) instead of CAIRN_EIO. */
void fault_arm_code(unsigned kinds, uint64_t nth, unsigned flags, int code);
/* The cairn error code an injected store failure reports. */
int fault_code(void);
void fault_disarm(void);
/* Calls of the armed kinds since fault_arm, and failures injected. */
uint64_t fault_calls(void);
uint64_t fault_injected(void);
/* Hold (true) or resume counting on this thread: a test's own bookkeeping
 * between arming and checking is neither counted nor failed. */
void fault_hold(bool hold);
/* For the layer's own wrappers: counts this call; true when it must fail. */
bool fault_fail(enum fault_kind kind);

void *cmalloc(size_t n);
void *ccalloc(size_t nmemb, size_t size);
void *crealloc(void *p, size_t n);
char *cstrdup(const char *s);
char *cstrndup(const char *s, size_t n);

ssize_t cwrite(int fd, const void *buf, size_t n);
int cfsync(int fd);
int crename(const char *from, const char *to);
int crenameat(int fromdir, const char *from, int todir, const char *to);

#endif
