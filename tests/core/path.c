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

/* MLflow's append_to_uri_path: one '/' between the location's path and rel,
 * the scheme and authority untouched. */
Test(core_path, join_uri)
{
	static const char *cases[][3] = {
		{ "mlflow-artifacts:/", "abc/artifacts", "mlflow-artifacts:/abc/artifacts" },
		{ "mlflow-artifacts:/0", "abc/artifacts", "mlflow-artifacts:/0/abc/artifacts" },
		{ "mlflow-artifacts:/0/", "/abc", "mlflow-artifacts:/0/abc" },
		{ "mlflow-artifacts:", "abc", "mlflow-artifacts:abc" },
		{ "mlflow-artifacts://", "abc", "mlflow-artifacts:///abc" },
		{ "mlflow-artifacts:///", "abc", "mlflow-artifacts:///abc" },
		{ "mlflow-artifacts://host:5000", "abc", "mlflow-artifacts://host:5000/abc" },
		{ "mlflow-artifacts://host:5000/x", "abc", "mlflow-artifacts://host:5000/x/abc" },
		{ "s3://bucket", "m", "s3://bucket/m" },
		{ "s3://bucket/p?versionId=3", "m", "s3://bucket/p/m?versionId=3" },
		{ "file:///srv/art", "1/r", "file:///srv/art/1/r" },
		{ "/srv/art/", "r", "/srv/art/r" },
		{ "rel", "r", "rel/r" },
		{ "", "r", "r" },
		{ "s3://bucket/p", "", "s3://bucket/p" },
	};
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_clear(&b);
		cr_assert_eq(path_join_uri(&b, cases[i][0], cases[i][1]), 0);
		cr_assert_str_eq(b.ptr, cases[i][2], "'%s' + '%s'", cases[i][0], cases[i][1]);
	}
	cr_assert_eq(path_uri_scheme_len("mlflow-artifacts:/x"), 17);
	cr_assert_eq(path_uri_scheme_len("a/b:c"), 0);
	cr_assert_eq(path_uri_scheme_len("1ab:c"), 0);
	cr_assert_eq(path_uri_scheme_len("/etc"), 0);
	buf_release(&b);
}

Test(core_path, unquote_all)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(path_unquote_all("a%2Fb+c", 7, &b), 0);
	cr_assert_str_eq(b.ptr, "a/b c");
	buf_clear(&b);
	cr_assert_eq(path_unquote_all("%25252e%25252E", 14, &b), 0);
	cr_assert_str_eq(b.ptr, "..", "decoded until nothing changes");
	buf_clear(&b);
	cr_assert_eq(path_unquote_all("x%00y%zz%4", 10, &b), 0);
	cr_assert_eq(b.len, 8);
	cr_assert_eq(memcmp(b.ptr, "x\0y%zz%4", 8), 0, "NUL decoded, broken escapes kept");
	buf_release(&b);
}
