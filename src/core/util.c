/* util.c - ids (libuuid), clocks, the usable CPU count, and a small leveled logger to stderr. */
#include "core/util.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

void cairn_id_new(char id[CAIRN_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	uuid_t u;

	uuid_generate_random(u);
	for (int i = 0; i < 16; i++) {
		id[2 * i] = digits[u[i] >> 4];
		id[2 * i + 1] = digits[u[i] & 15];
	}
	id[CAIRN_ID_LEN] = '\0';
}

int64_t cairn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cairn_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

unsigned cairn_cpus(void)
{
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static enum log_level log_min = LOG_INFO;

void cairn_log_init_from_env(void)
{
	const char *e = getenv("CAIRN_LOG");

	if (!e)
		return;
	if (!strcmp(e, "debug"))
		log_min = LOG_DEBUG;
	else if (!strcmp(e, "warn"))
		log_min = LOG_WARN;
	else if (!strcmp(e, "error"))
		log_min = LOG_ERROR;
}

void cairn_log(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char line[2048];
	struct tm tm;
	time_t t = time(NULL);
	va_list ap;
	int n;

	if (lvl < log_min)
		return;
	gmtime_r(&t, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

double cairn_duration_s(const char *s)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (errno || end == s || isspace((unsigned char)*s))
		return -1;
	if (!strcmp(end, "ms"))
		x /= 1000;
	else if (!strcmp(end, "m"))
		x *= 60;
	else if (!strcmp(end, "h"))
		x *= 3600;
	else if (!strcmp(end, "d"))
		x *= 86400;
	else if (*end && strcmp(end, "s"))
		return -1;
	return x > 0 && x <= 1e10 ? x : -1;
}
