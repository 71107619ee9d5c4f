/* cron.c - unit tests of the five-field cron expressions of pipeline triggers. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "pipeline/pipeline.h"

static struct tm at(int wday, int mon, int mday, int hour, int min)
{
	struct tm t;

	memset(&t, 0, sizeof(t));
	t.tm_wday = wday;
	t.tm_mon = mon - 1;
	t.tm_mday = mday;
	t.tm_hour = hour;
	t.tm_min = min;
	return t;
}

static bool m(const char *expr, struct tm t)
{
	struct cron c;

	cr_assert_eq(cron_parse(expr, &c), 0, "%s: %s", expr, cairn_error_msg());
	return cron_match(&c, &t);
}

Test(pipeline_cron, fields_and_forms)
{
	cr_assert(m("* * * * *", at(3, 5, 7, 13, 42)));
	cr_assert(m("42 13 * * *", at(3, 5, 7, 13, 42)));
	cr_assert(!m("41 13 * * *", at(3, 5, 7, 13, 42)));
	cr_assert(m("*/15 * * * *", at(0, 1, 1, 0, 45)));
	cr_assert(!m("*/15 * * * *", at(0, 1, 1, 0, 44)));
	cr_assert(m("0-10/5,30 * * * *", at(0, 1, 1, 0, 30)));
	cr_assert(m("0-10/5,30 * * * *", at(0, 1, 1, 0, 10)));
	cr_assert(!m("0-10/5,30 * * * *", at(0, 1, 1, 0, 7)));
	cr_assert(m("0 3 * * 1-5", at(5, 6, 14, 3, 0)));
	cr_assert(!m("0 3 * * 1-5", at(6, 6, 15, 3, 0)));
	/* Sunday is 0 and 7 */
	cr_assert(m("0 0 * * 7", at(0, 6, 16, 0, 0)));
	cr_assert(m("0 0 * * 0", at(0, 6, 16, 0, 0)));
	cr_assert(m("0 0 1 1 *", at(2, 1, 1, 0, 0)));
	cr_assert(!m("0 0 1 2 *", at(2, 1, 1, 0, 0)));
	/* both day fields restricted: either matches (classic cron) */
	cr_assert(m("0 0 13 * 5", at(5, 3, 6, 0, 0)));
	cr_assert(m("0 0 13 * 5", at(2, 3, 13, 0, 0)));
	cr_assert(!m("0 0 13 * 5", at(2, 3, 14, 0, 0)));
}

Test(pipeline_cron, bad_expressions)
{
	static const char *const bad[] = { "", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
					   "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "a * * * *",
					   "1, * * * *", ",1 * * * *", "1-2-3 * * * *", "*/ * * * *", NULL };
	struct cron c;

	for (const char *const *b = bad; *b; b++) {
		cr_assert_eq(cron_parse(*b, &c), CAIRN_EINVALID, "'%s' was accepted", *b);
		cr_assert(strstr(cairn_error_msg(), "cron"), "%s", cairn_error_msg());
	}
}
