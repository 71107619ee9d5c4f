/* error.h - the one error type of cairn.
 *
 * Fallible functions return int: 0 on success, a negative CAIRN_E* code on
 * failure. The failure site records a one-line message with cairn_error_set();
 * callers propagate the code unchanged. Only the edge (a CLI command, an HTTP
 * handler) reads the message and reports it. The message lives in
 * thread-local storage, so each server thread has its own.
 *
 * Codes are appended, never renumbered. Their HTTP status is one table in
 * the HTTP layer (http_error_status); their MLflow error_code one table in
 * the API (api_error_code).
 */
#ifndef CAIRN_CORE_ERROR_H
#define CAIRN_CORE_ERROR_H

#include <stdbool.h>

enum cairn_err {
	CAIRN_OK = 0,
	CAIRN_ERR = -1,        /* generic / internal failure */
	CAIRN_ENOTFOUND = -2,  /* a named resource does not exist */
	CAIRN_EEXISTS = -3,    /* a resource with that name already exists */
	CAIRN_EINVALID = -4,   /* bad input from the caller */
	CAIRN_ECONFLICT = -5,  /* state does not allow the operation */
	CAIRN_ETOOBIG = -6,    /* input exceeds a size or count limit */
	CAIRN_EIO = -7,        /* filesystem or network failure */
	CAIRN_ENOMEM = -8,     /* allocation failed */
	CAIRN_EBUSY = -9,      /* try again later (locked database) */
	CAIRN_EUNSUPPORTED = -10, /* not implemented */
	CAIRN_EPERM = -11,     /* not allowed */
	CAIRN_ENOROUTE = -12,  /* no HTTP endpoint at that path */
	CAIRN_EMETHOD = -13,   /* endpoint exists, method not allowed */
	CAIRN_ETIMEDOUT = -14, /* the work took longer than its limit */
};

/* Record a printf-style message for `code` and return `code`. */
int cairn_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The message of the last error on this thread ("" when none). Borrowed. */
const char *cairn_error_msg(void);
/* The code of the last error recorded on this thread. */
int cairn_error_code(void);
void cairn_error_clear(void);

/* A short name for a code ("not found"...). */
const char *cairn_err_name(int code);

/* Programmer mistakes: abort with file:line. */
#define CAIRN_BUG(msg) cairn_bug(__FILE__, __LINE__, (msg))
#define CAIRN_ASSERT(cond) do { if (!(cond)) cairn_bug(__FILE__, __LINE__, #cond); } while (0)
_Noreturn void cairn_bug(const char *file, int line, const char *msg);

#endif
