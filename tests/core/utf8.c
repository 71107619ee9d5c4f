/* tests/core/utf8.c - UTF-8 validation: RFC 3629 boundaries. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/utf8.h"

static bool ok(const char *s) { return utf8_valid(s, strlen(s)); }

Test(core_utf8, accepts_well_formed)
{
	cr_assert(ok(""));
	cr_assert(ok("plain ascii"));
	cr_assert(ok("caf\xc3\xa9"));                 /* U+00E9 */
	cr_assert(ok("\xe2\x82\xac"));                /* U+20AC */
	cr_assert(ok("\xf0\x9f\x98\x80"));            /* U+1F600 */
	cr_assert(ok("\xed\x9f\xbf"));                /* U+D7FF, last before surrogates */
	cr_assert(ok("\xf4\x8f\xbf\xbf"));            /* U+10FFFF */
	cr_assert(utf8_valid("a\0b", 3));             /* NUL is UTF-8; callers decide */
}

Test(core_utf8, rejects_malformed)
{
	cr_assert_not(ok("\xff"));
	cr_assert_not(ok("\xfe\xff"));
	cr_assert_not(ok("\x80"));                    /* stray continuation */
	cr_assert_not(ok("\xc0\xaf"));                /* overlong '/' */
	cr_assert_not(ok("\xc1\xbf"));
	cr_assert_not(ok("\xe0\x80\xaf"));            /* overlong 3-byte */
	cr_assert_not(ok("\xf0\x80\x80\xaf"));        /* overlong 4-byte */
	cr_assert_not(ok("\xed\xa0\x80"));            /* U+D800 surrogate */
	cr_assert_not(ok("\xf4\x90\x80\x80"));        /* above U+10FFFF */
	cr_assert_not(ok("\xf5\x80\x80\x80"));
	cr_assert_not(ok("\xc3"));                    /* truncated */
	cr_assert_not(ok("\xe2\x82"));
	cr_assert_not(ok("\xe2\x28\xa1"));            /* bad continuation */
	cr_assert_eq(utf8_invalid_at("ab\xffz", 4), 2);
	cr_assert_eq(utf8_invalid_at("caf\xc3\xa9", 5), 5);
}
