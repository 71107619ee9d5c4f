/* Unit tests for data/manifest: the directory manifest format, its parser and the file lists behind it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "data/data_int.h"

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void add(struct dlist *l, const char *path, const char *hex, int64_t size, unsigned mode)
{
	cr_assert_eq(dlist_push(l, path, strlen(path)), 0);
	struct dentry *e = &l->v[l->n - 1];
	snprintf(e->hex, sizeof(e->hex), "%s", hex);
	e->size = size;
	e->mode = mode;
	l->bytes += size;
}

static void parse_ok(const char *text, struct dlist *out)
{
	memset(out, 0, sizeof(*out));
	cr_assert_eq(manifest_parse(text, strlen(text), out), 0, "%s\n--- input:\n%s", cairn_error_msg(), text);
}

/* Expect manifest_parse to refuse text with a message containing want. */
static void parse_bad(const char *text, const char *want)
{
	struct dlist l = { 0 };
	int rc = manifest_parse(text, strlen(text), &l);

	cr_assert_eq(rc, CAIRN_EINVALID, "rc %d (%s) for:\n%s", rc, cairn_error_msg(), text);
	cr_assert_eq(l.n, 0, "entries left behind after a failed parse");
	cr_assert_null(l.v);
	cr_assert(strstr(cairn_error_msg(), want), "message '%s' lacks '%s' for:\n%s", cairn_error_msg(), want, text);
}

static void assert_same(const struct dlist *a, const struct dlist *b)
{
	cr_assert_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_str_eq(a->v[i].path, b->v[i].path);
		cr_assert_str_eq(a->v[i].hex, b->v[i].hex);
		cr_assert_eq(a->v[i].size, b->v[i].size, "%s", a->v[i].path);
		cr_assert_eq(a->v[i].mode, b->v[i].mode, "%s", a->v[i].path);
	}
}

Test(data_manifest, round_trip)
{
	struct dlist l = { 0 }, back = { 0 };
	struct buf b = BUF_INIT;

	add(&l, "dir with spaces/file name.txt", H1, 12, 0644);
	add(&l, "nested/a/b/c/d.bin", H2, 0, 0644);
	add(&l, "run.sh", H1, 4096, 0755);
	add(&l, "ünïcødé/日本語.csv", H2, 123456789012LL, 0644);
	add(&l, "x", H1, 1, 0755);
	dlist_sort(&l);
	cr_assert_eq(manifest_format(&l, &b), 0, "%s", cairn_error_msg());
	cr_assert(!strncmp(b.ptr, MANIFEST_MAGIC, strlen(MANIFEST_MAGIC)));
	cr_assert(strstr(b.ptr, "\n" H1 " 4096 755 run.sh\n"), "%s", b.ptr);
	cr_assert(strstr(b.ptr, "\n" H1 " 12 644 dir with spaces/file name.txt\n"), "%s", b.ptr);
	parse_ok(b.ptr, &back);
	assert_same(&l, &back);
	cr_assert_eq(back.bytes, 12 + 0 + 4096 + 123456789012LL + 1);
	cr_assert_not_null(dlist_find(&back, "run.sh"));
	cr_assert_eq(dlist_find(&back, "run.sh")->mode, 0755);
	cr_assert_not_null(dlist_find(&back, "ünïcødé/日本語.csv"));
	cr_assert_null(dlist_find(&back, "nested"));
	cr_assert_null(dlist_find(&back, "missing"));
	dlist_release(&l);
	dlist_release(&back);
	buf_release(&b);
}

Test(data_manifest, sorted_and_deterministic)
{
	static const char *paths[] = { "b", "a/z", "a", "a b", "a-b", "a/b", "c/d/e", "B", "é", "_" };
	size_t n = sizeof(paths) / sizeof(paths[0]);
	struct dlist l1 = { 0 }, l2 = { 0 }, back = { 0 };
	struct buf b1 = BUF_INIT, b2 = BUF_INIT;
	char h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];

	for (size_t i = 0; i < n; i++)
		add(&l1, paths[i], (i & 1) ? H1 : H2, (int64_t)i * 10, (i % 3) ? 0644 : 0755);
	for (size_t i = n; i-- > 0;)
		add(&l2, paths[i], (i & 1) ? H1 : H2, (int64_t)i * 10, (i % 3) ? 0644 : 0755);
	dlist_sort(&l1);
	dlist_sort(&l2);
	cr_assert_eq(manifest_format(&l1, &b1), 0);
	cr_assert_eq(manifest_format(&l2, &b2), 0);
	cr_assert_eq(b1.len, b2.len);
	cr_assert_eq(memcmp(b1.ptr, b2.ptr, b1.len), 0);
	sha256_hex(b1.ptr, b1.len, h1);
	sha256_hex(b2.ptr, b2.len, h2);
	cr_assert_str_eq(h1, h2);
	/* bytewise order: "B" < "_" < "a" < "a b" < "a-b" < "a/b" < "a/z" < "b" < "c/d/e" < "é" */
	for (size_t i = 1; i < l1.n; i++)
		cr_assert_lt(strcmp(l1.v[i - 1].path, l1.v[i].path), 0);
	cr_assert_str_eq(l1.v[0].path, "B");
	cr_assert_str_eq(l1.v[l1.n - 1].path, "é");
	parse_ok(b1.ptr, &back);
	assert_same(&l1, &back);
	dlist_release(&l1);
	dlist_release(&l2);
	dlist_release(&back);
	buf_release(&b1);
	buf_release(&b2);
}

Test(data_manifest, empty_is_valid)
{
	struct dlist l = { 0 }, back = { 0 };
	struct buf b = BUF_INIT;

	cr_assert_eq(manifest_format(&l, &b), 0);
	cr_assert_str_eq(b.ptr, MANIFEST_MAGIC);
	parse_ok(b.ptr, &back);
	cr_assert_eq(back.n, 0);
	cr_assert_eq(back.bytes, 0);
	cr_assert_null(dlist_find(&back, "a"));
	dlist_release(&back);
	buf_release(&b);
}

Test(data_manifest, newline_in_path_refused)
{
	struct dlist l = { 0 };
	struct buf b = BUF_INIT;

	add(&l, "a\nb", H1, 1, 0644);
	cr_assert_eq(manifest_format(&l, &b), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "newline"), "%s", cairn_error_msg());
	dlist_release(&l);
	buf_release(&b);
}

Test(data_manifest, rejects_bad_magic)
{
	parse_bad("", "bad first line");
	parse_bad("cairn-manifest 1", "bad first line");
	parse_bad("cairn-manifest 2\n", "bad first line");
	parse_bad("Cairn-manifest 1\n", "bad first line");
	parse_bad("garbage\n" H1 " 1 644 a\n", "bad first line");
}

Test(data_manifest, rejects_truncated_and_missing_newline)
{
	parse_bad(MANIFEST_MAGIC "0123\n", "line 2 is truncated");
	parse_bad(MANIFEST_MAGIC H1 "\n", "truncated");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\n" H1 " 1 644", "line 3 is truncated");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a", "line 2 is truncated");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\n" H1 " 1 644 b", "line 3 is truncated");
	parse_bad(MANIFEST_MAGIC H1 " 1 644\n", "line 2");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 \n", "empty");
	parse_bad(MANIFEST_MAGIC "\n", "truncated");
}

Test(data_manifest, rejects_bad_hash)
{
	parse_bad(MANIFEST_MAGIC "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef 1 644 a\n", "bad hash");
	parse_bad(MANIFEST_MAGIC "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde 1 644 abc\n", "bad hash");
	parse_bad(MANIFEST_MAGIC "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg 1 644 a\n", "bad hash");
	parse_bad(MANIFEST_MAGIC H1 "0 1 644 a\n", "bad hash");
	parse_bad(MANIFEST_MAGIC "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\xc3\xa9 1 644 a\n",
		  "bad hash");
}

Test(data_manifest, rejects_bad_size_and_mode)
{
	parse_bad(MANIFEST_MAGIC H1 " -1 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " x 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 "  1 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1x 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 4611686018427387904 644 a\n", "bad size or mode"); /* INT64_MAX / 2 + 1 */
	parse_bad(MANIFEST_MAGIC H1 " 1 600 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 777 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 100644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 648 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 rw a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 644a\n", "bad size or mode");
}

Test(data_manifest, rejects_unsorted_and_duplicates)
{
	parse_bad(MANIFEST_MAGIC H1 " 1 644 b\n" H1 " 1 644 a\n", "line 3: paths are not sorted or repeat");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\n" H2 " 2 644 a\n", "not sorted or repeat");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a/b\n" H1 " 1 644 a b\n", "not sorted");
}

Test(data_manifest, rejects_bad_paths)
{
	parse_bad(MANIFEST_MAGIC H1 " 1 644 /etc/passwd\n", "absolute");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 ../x\n", "'..'");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a/../b\n", "'..'");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a/..\n", "'..'");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a//b\n", "normal form");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 ./a\n", "normal form");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a/./b\n", "normal form");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a/\n", "normal form");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\\b\n", "backslash");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\tb\n", "control");
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\rb\n", "control");
}

Test(data_manifest, nul_byte_refused)
{
	static const char text[] = MANIFEST_MAGIC H1 " 1 644 a\0b\n";
	struct dlist l = { 0 };

	cr_assert_eq(manifest_parse(text, sizeof(text) - 1, &l), CAIRN_EINVALID);
	cr_assert_eq(l.n, 0);
}

Test(data_manifest, error_after_good_lines_frees_them)
{
	/* two good lines then a bad one: nothing is returned and nothing leaks */
	parse_bad(MANIFEST_MAGIC H1 " 1 644 a\n" H1 " 2 755 b\n" H1 " 3 600 c\n", "line 4");
}

Test(data_manifest, many_entries)
{
	struct dlist l = { 0 }, back = { 0 };
	struct buf b = BUF_INIT;
	char path[64];

	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "d%02d/f%05d.bin", i % 37, i);
		add(&l, path, (i & 1) ? H1 : H2, i, (i % 7) ? 0644 : 0755);
	}
	dlist_sort(&l);
	cr_assert_eq(manifest_format(&l, &b), 0);
	parse_ok(b.ptr, &back);
	assert_same(&l, &back);
	cr_assert_eq(back.bytes, l.bytes);
	for (int i = 0; i < 5000; i += 97) {
		snprintf(path, sizeof(path), "d%02d/f%05d.bin", i % 37, i);
		struct dentry *e = dlist_find(&back, path);
		cr_assert_not_null(e, "%s", path);
		cr_assert_eq(e->size, i);
	}
	dlist_release(&l);
	dlist_release(&back);
	buf_release(&b);
}

/* Known problems in src/data/manifest.c, disabled until fixed (see the report). */

/* Numbers with leading zeros are accepted, so one list has several manifests
 * (and several hashes): format(parse(x)) != x. */
Test(data_manifest, rejects_leading_zeros)
{
	parse_bad(MANIFEST_MAGIC H1 " 01 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 00 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 1 0644 a\n", "bad size or mode");
}

/* parse_num computes x * base + digit before comparing with max: a size of
 * 19+ digits overflows long long (UBSan: signed integer overflow); without
 * sanitizers the wrapped value can be accepted as a negative size. */
Test(data_manifest, huge_size_no_overflow)
{
	parse_bad(MANIFEST_MAGIC H1 " 99999999999999999999 644 a\n", "bad size or mode");
	parse_bad(MANIFEST_MAGIC H1 " 40777777777777777777777796 644 a\n", "bad size or mode");
}

/* Sizes are each below INT64_MAX / 2 but their total overflows dlist.bytes
 * (signed overflow, reported by UBSan). */
Test(data_manifest, total_size_overflow)
{
	parse_bad(MANIFEST_MAGIC H1 " 4611686018427387903 644 a\n" H1 " 4611686018427387903 644 b\n" H1
		  " 4611686018427387903 644 c\n",
		  "size");
}
