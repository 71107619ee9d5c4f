/* cron.c - five-field cron expressions (minute hour day-of-month month day-of-week) for pipeline triggers. */
#include "pipeline/pipeline.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	int lo, hi;
	const char *name;
} fields[5] = { { 0, 59, "minute" }, { 0, 23, "hour" }, { 1, 31, "day of month" }, { 1, 12, "month" },
		{ 0, 7, "day of week" } };

/* One field: "*", "N", "A-B", with "/S" steps, comma lists. */
static int parse_field(const char *s, size_t n, int f, uint64_t *bits, bool *star)
{
	const char *p = s, *end = s + n;

	*bits = 0;
	*star = n == 1 && s[0] == '*';
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *q = p, *item_end = comma ? comma : end;
		long lo, hi, step = 1;
		char *e;

		if (*q == '*') {
			lo = fields[f].lo;
			hi = fields[f].hi;
			q++;
		} else {
			lo = strtol(q, &e, 10);
			if (e == q)
				return -1;
			q = e;
			hi = lo;
			if (q < item_end && *q == '-') {
				hi = strtol(q + 1, &e, 10);
				if (e == q + 1)
					return -1;
				q = e;
			}
		}
		if (q < item_end && *q == '/') {
			step = strtol(q + 1, &e, 10);
			if (e == q + 1 || step < 1)
				return -1;
			q = e;
		}
		if (q != item_end || lo < fields[f].lo || hi > fields[f].hi || lo > hi)
			return -1;
		for (long v = lo; v <= hi; v += step)
			*bits |= 1ULL << (v == 7 && f == 4 ? 0 : v); /* Sunday is 0 or 7 */
		p = comma ? comma + 1 : end;
		if (comma && p == end)
			return -1;
	}
	return *bits ? 0 : -1;
}

int cron_parse(const char *expr, struct cron *c)
{
	const char *p = expr;
	int f = 0;

	memset(c, 0, sizeof(*c));
	while (*p && f < 5) {
		size_t n;
		bool star;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (!n)
			break;
		if (parse_field(p, n, f, &c->bits[f], &star))
			return cairn_error_set(CAIRN_EINVALID, "cron '%s': bad %s field '%.*s' (allowed %d-%d, *, lists, "
					       "ranges, /steps)", expr, fields[f].name, (int)n, p, fields[f].lo, fields[f].hi);
		if (f == 2)
			c->dom_star = star;
		if (f == 4)
			c->dow_star = star;
		p += n;
		f++;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (f != 5 || *p)
		return cairn_error_set(CAIRN_EINVALID, "cron '%s' needs exactly 5 fields: minute hour day month weekday",
				       expr);
	return 0;
}

bool cron_match(const struct cron *c, const struct tm *t)
{
	bool dom = c->bits[2] >> t->tm_mday & 1, dow = c->bits[4] >> t->tm_wday & 1;

	if (!(c->bits[0] >> t->tm_min & 1) || !(c->bits[1] >> t->tm_hour & 1) || !(c->bits[3] >> (t->tm_mon + 1) & 1))
		return false;
	/* classic cron: when both day fields are restricted, either may match */
	if (!c->dom_star && !c->dow_star)
		return dom || dow;
	return dom && dow;
}
