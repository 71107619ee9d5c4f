/* error.c - thread-local error messages and the code -> HTTP/MLflow table. */
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
	int http;
	const char *mlflow;
	const char *name;
} err_table[] = {
	{ CAIRN_ERR, 500, "INTERNAL_ERROR", "internal error" },
	{ CAIRN_ENOTFOUND, 404, "RESOURCE_DOES_NOT_EXIST", "not found" },
	{ CAIRN_EEXISTS, 400, "RESOURCE_ALREADY_EXISTS", "already exists" },
	{ CAIRN_EINVALID, 400, "INVALID_PARAMETER_VALUE", "invalid" },
	{ CAIRN_ECONFLICT, 400, "INVALID_PARAMETER_VALUE", "conflict" },
	{ CAIRN_ETOOBIG, 400, "INVALID_PARAMETER_VALUE", "too big" },
	{ CAIRN_EIO, 500, "INTERNAL_ERROR", "i/o error" },
	{ CAIRN_ENOMEM, 500, "INTERNAL_ERROR", "out of memory" },
	{ CAIRN_EBUSY, 503, "TEMPORARILY_UNAVAILABLE", "busy" },
	{ CAIRN_EUNSUPPORTED, 501, "NOT_IMPLEMENTED", "not implemented" },
	{ CAIRN_EPERM, 403, "PERMISSION_DENIED", "permission denied" },
	{ CAIRN_ENOROUTE, 404, "ENDPOINT_NOT_FOUND", "no such endpoint" },
	{ CAIRN_EMETHOD, 405, "BAD_REQUEST", "method not allowed" },
};

static int err_index(int code)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return (int)i;
	return 0;
}

int cairn_err_http_status(int code)
{
	return err_table[err_index(code)].http;
}

const char *cairn_err_mlflow_code(int code)
{
	return err_table[err_index(code)].mlflow;
}

const char *cairn_err_name(int code)
{
	return err_table[err_index(code)].name;
}

_Noreturn void cairn_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "BUG: %s:%d: %s\n", file, line, msg);
	abort();
}
