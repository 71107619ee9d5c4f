/* Unit tests for core/path: the one sanitiser of client paths. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "core/path.h"

static int clean(const char *in, bool allow_empty, struct buf *out)
{
	buf_clear(out);
	return path_clean_rel(in, strlen(in), allow_empty, out);
}

Test(core_path, normalises_good_paths)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(clean("a/b/c.txt", false, &b), 0);
	cr_assert_str_eq(b.ptr, "a/b/c.txt");
	cr_assert_eq(clean("a//b/./c/", false, &b), 0);
	cr_assert_str_eq(b.ptr, "a/b/c");
	cr_assert_eq(clean("", true, &b), 0);
	cr_assert_str_eq(b.ptr, "");
	cr_assert_eq(clean("dir with space/é.txt", false, &b), 0);
	cr_assert_eq(clean("..hidden/x..y", false, &b), 0, "dots inside names are fine");
	buf_release(&b);
}

Test(core_path, rejects_escapes)
{
	static const char *bad[] = {
		"../etc/passwd", "a/../../b", "a/..", "..", "/etc/passwd", "a\\b", "..\\x",
		"a/%2e%2e/b", "a/%2E%2E/b", "%2fetc", "a%5cb", "a/%252e%252e/b", "C:/x", "a/\x01/b", "a\tb", "",
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(clean(bad[i], false, &b), CAIRN_EINVALID, "accepted bad path '%s'", bad[i]);
		cr_assert(strlen(cairn_error_msg()) > 0);
	}
	buf_release(&b);
}

Test(core_path, nul_inside_is_rejected)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(path_clean_rel("a\0b", 3, false, &b), CAIRN_EINVALID);
	buf_release(&b);
}

Test(core_path, join)
{
	struct buf b = BUF_INIT;

	path_join(&b, "root/", "x");
	cr_assert_str_eq(b.ptr, "root/x");
	buf_clear(&b);
	path_join(&b, "root", "x");
	cr_assert_str_eq(b.ptr, "root/x");
	buf_release(&b);
}
