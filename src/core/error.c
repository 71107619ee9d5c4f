/* error.c - thread-local error messages and the codes' names. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local int err_code;

int cairn_error_set(int code, const char *fmt, ...)
{
	char tmp[sizeof(err_msg)];
	va_list ap;

	/* format aside first: the arguments may be the current message
	 * ("context: %s", cairn_error_msg()) */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err_msg, tmp, sizeof(err_msg));
	err_code = code;
	return code;
}

const char *cairn_error_msg(void)
{
	return err_msg;
}

int cairn_error_code(void)
{
	return err_code;
}

void cairn_error_clear(void)
{
	err_msg[0] = '\0';
	err_code = 0;
}

static const struct {
	int code;
	const char *name;
} err_table[] = {
	{ CAIRN_ERR, "internal error" },
	{ CAIRN_ENOTFOUND, "not found" },
	{ CAIRN_EEXISTS, "already exists" },
	{ CAIRN_EINVALID, "invalid" },
	{ CAIRN_ECONFLICT, "conflict" },
	{ CAIRN_ETOOBIG, "too big" },
	{ CAIRN_EIO, "i/o error" },
	{ CAIRN_ENOMEM, "out of memory" },
	{ CAIRN_EBUSY, "busy" },
	{ CAIRN_EUNSUPPORTED, "not implemented" },
	{ CAIRN_EPERM, "permission denied" },
	{ CAIRN_ENOROUTE, "no such endpoint" },
	{ CAIRN_EMETHOD, "method not allowed" },
	{ CAIRN_ETIMEDOUT, "timed out" },
};

const char *cairn_err_name(int code)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return err_table[i].name;
	return err_table[0].name;
}

_Noreturn void cairn_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "BUG: %s:%d: %s\n", file, line, msg);
	abort();
}
