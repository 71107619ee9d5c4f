/* Unit tests for data/pointer: parsing and writing pointer files (<path>.cairn). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/yaml.h"
#include "data/data_int.h"

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FILE_NAME "data/raw.csv.cairn"

static void parse_ok(const char *text, struct pointer *p)
{
	cr_assert_eq(pointer_parse(text, strlen(text), FILE_NAME, p), 0, "%s\n--- input:\n%s", cairn_error_msg(), text);
}

/* Expect pointer_parse to refuse text, naming the file and saying want. */
static void parse_bad(const char *text, const char *want)
{
	struct pointer p;
	int rc;

	memset(&p, 0xa5, sizeof(p));
	rc = pointer_parse(text, strlen(text), FILE_NAME, &p);
	cr_assert_eq(rc, CAIRN_EINVALID, "rc %d (%s) for:\n%s", rc, cairn_error_msg(), text);
	cr_assert_null(p.name);
	cr_assert_null(p.keep);
	cr_assert(!strncmp(cairn_error_msg(), FILE_NAME ": ", strlen(FILE_NAME) + 2), "message '%s' lacks the file name",
		  cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), want), "message '%s' lacks '%s' for:\n%s", cairn_error_msg(), want, text);
}

/* Format p, parse it back, and check every field survives. */
static void round_trip(const struct pointer *p)
{
	struct buf b = BUF_INIT;
	struct pointer back;

	cr_assert_eq(pointer_format(p, &b), 0, "%s", cairn_error_msg());
	cr_assert_eq(b.ptr[0], '#', "pointer files start with a comment:\n%s", b.ptr);
	parse_ok(b.ptr, &back);
	cr_assert_str_eq(back.name, p->name, "\n%s", b.ptr);
	cr_assert_str_eq(back.hex, p->hex);
	cr_assert_eq(back.size, p->size);
	cr_assert_eq(back.is_dir, p->is_dir);
	cr_assert_eq(back.nfiles, p->is_dir ? p->nfiles : 1);
	if (p->keep)
		cr_assert(json_equal(back.keep, p->keep), "keep differs:\n%s", b.ptr);
	else
		cr_assert_null(back.keep);
	pointer_release(&back);
	buf_release(&b);
}

static struct pointer make(const char *name, bool is_dir, int64_t size, int64_t nfiles)
{
	struct pointer p = { 0 };

	p.name = strdup(name);
	snprintf(p.hex, sizeof(p.hex), "%s", H1);
	p.size = size;
	p.nfiles = nfiles;
	p.is_dir = is_dir;
	return p;
}

Test(data_pointer, parse_file_pointer)
{
	struct pointer p;

	parse_ok("# comment\npath: raw.csv\ntype: file\nsha256: " H1 "\nsize: 1234\n", &p);
	cr_assert_str_eq(p.name, "raw.csv");
	cr_assert_str_eq(p.hex, H1);
	cr_assert_eq(p.size, 1234);
	cr_assert_eq(p.nfiles, 1);
	cr_assert(!p.is_dir);
	cr_assert_null(p.keep);
	cr_assert_null(p.file, "pointer_parse leaves file/data to pointer_load");
	pointer_release(&p);
	/* type defaults to file */
	parse_ok("path: raw.csv\nsha256: " H1 "\nsize: 0\n", &p);
	cr_assert(!p.is_dir);
	cr_assert_eq(p.size, 0);
	pointer_release(&p);
}

Test(data_pointer, parse_dir_pointer)
{
	struct pointer p;

	parse_ok("{path: images, type: dir, sha256: " H1 ", size: 99, nfiles: 7}", &p);
	cr_assert_str_eq(p.name, "images");
	cr_assert(p.is_dir);
	cr_assert_eq(p.nfiles, 7);
	cr_assert_eq(p.size, 99);
	pointer_release(&p);
	parse_ok("path: sub//dir/./x\ntype: dir\nsha256: " H1 "\nsize: 0\nnfiles: 0\n", &p);
	cr_assert_str_eq(p.name, "sub/dir/x", "the path is cleaned");
	pointer_release(&p);
}

Test(data_pointer, round_trip_file_and_dir)
{
	struct pointer p = make("raw.csv", false, 1234, 1);

	round_trip(&p);
	pointer_release(&p);
	p = make("images", true, 5LL << 40, 123456);
	round_trip(&p);
	pointer_release(&p);
	p = make("empty", true, 0, 0);
	round_trip(&p);
	pointer_release(&p);
	p = make("big.bin", false, INT64_MAX, 1);
	round_trip(&p);
	pointer_release(&p);
}

Test(data_pointer, round_trip_names_needing_quotes)
{
	static const char *names[] = {
		"yes", "no", "on", "off", "true", "null", "~", "123", "0x1F", "1.5", "1e3", ".inf", "ab: c", "key: value", "#x", "x #y",
		"-", "- a", "@at", "`tick", "'quoted'", "\"dq\"", "{a}", "[a]", "a, b", "*star", "&amp", "!bang",
		"%pct", "|pipe", ">gt", "?q", " lead", "trail ", "ünïcødé/日本語.csv", "dir with space/f.txt", "..x",
		"x..", "=", "<<",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct pointer p = make(names[i], i & 1, (int64_t)i, (int64_t)i + 1);
		round_trip(&p);
		pointer_release(&p);
	}
}

Test(data_pointer, desc_and_meta_kept)
{
	struct pointer p, back;
	struct buf b = BUF_INIT;
	json_t *meta;

	parse_ok("path: raw.csv\nsha256: " H1 "\nsize: 5\ndesc: training data\nmeta:\n  source: s3://x\n  rows: 10\n"
		 "  tags: [a, b]\n",
		 &p);
	cr_assert_not_null(p.keep);
	cr_assert_str_eq(json_string_value(json_object_get(p.keep, "desc")), "training data");
	meta = json_object_get(p.keep, "meta");
	cr_assert(json_is_object(meta));
	cr_assert_eq(json_integer_value(json_object_get(meta, "rows")), 10);
	cr_assert_eq(json_array_size(json_object_get(meta, "tags")), 2);
	round_trip(&p);
	cr_assert_eq(pointer_format(&p, &b), 0);
	parse_ok(b.ptr, &back);
	cr_assert(json_equal(back.keep, p.keep));
	pointer_release(&back);
	pointer_release(&p);
	buf_release(&b);
	/* desc alone, and desc values that need quoting */
	parse_ok("path: x\nsha256: " H1 "\nsize: 5\ndesc: 'yes'\n", &p);
	cr_assert_str_eq(json_string_value(json_object_get(p.keep, "desc")), "yes");
	cr_assert_null(json_object_get(p.keep, "meta"));
	round_trip(&p);
	pointer_release(&p);
	parse_ok("path: x\nsha256: " H1 "\nsize: 5\nmeta: null\n", &p);
	cr_assert_not_null(p.keep);
	round_trip(&p);
	pointer_release(&p);
}

Test(data_pointer, format_is_yaml_with_expected_keys)
{
	struct pointer p = make("images", true, 10, 3);
	struct buf b = BUF_INIT;
	json_t *doc = NULL;

	cr_assert_eq(pointer_format(&p, &b), 0);
	cr_assert_eq(cyaml_parse(b.ptr, b.len, &doc), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(json_string_value(json_object_get(doc, "path")), "images");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "type")), "dir");
	cr_assert_str_eq(json_string_value(json_object_get(doc, "sha256")), H1);
	cr_assert_eq(json_integer_value(json_object_get(doc, "size")), 10);
	cr_assert_eq(json_integer_value(json_object_get(doc, "nfiles")), 3);
	cr_assert_eq(json_object_size(doc), 5);
	json_decref(doc);
	pointer_release(&p);
	buf_release(&b);
	p = make("f", false, 10, 1);
	cr_assert_eq(pointer_format(&p, &b), 0);
	cr_assert_null(strstr(b.ptr, "nfiles"), "file pointers have no nfiles:\n%s", b.ptr);
	pointer_release(&p);
	buf_release(&b);
}

Test(data_pointer, errors_name_the_problem)
{
	parse_bad("path: x\nsha256: " H1 "\nsize: 1\nbogus: 1\n", "unknown key 'bogus'");
	parse_bad("path: x\nsize: 1\n", "'sha256'");
	parse_bad("path: x\nsha256: " H1 "\n", "'size'");
	parse_bad("path: x\nsha256: 0123\nsize: 1\n", "'sha256' must be 64 lowercase hex digits");
	parse_bad("path: x\nsha256: " H1 "0\nsize: 1\n", "'sha256'");
	parse_bad("path: x\nsha256: 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\nsize: 1\n",
		  "'sha256'");
	parse_bad("path: x\nsha256: 12\nsize: 1\n", "'sha256'");
	parse_bad("path: x\nsha256: " H1 "\nsize: -1\n", "'size' must be a non-negative integer");
	parse_bad("path: x\nsha256: " H1 "\nsize: 1.5\n", "'size'");
	parse_bad("path: x\nsha256: " H1 "\nsize: '12'\n", "'size'");
	parse_bad("path: x\nsha256: " H1 "\nsize: 99999999999999999999999\n", "'size'");
	parse_bad("path: x\ntype: dir\nsha256: " H1 "\nsize: 1\n", "needs 'nfiles'");
	parse_bad("path: x\ntype: dir\nsha256: " H1 "\nsize: 1\nnfiles: -3\n", "'nfiles'");
	parse_bad("path: x\ntype: dir\nsha256: " H1 "\nsize: 1\nnfiles: many\n", "'nfiles'");
	parse_bad("path: x\ntype: link\nsha256: " H1 "\nsize: 1\n", "'type' must be file or dir");
	parse_bad("path: x\ntype: 1\nsha256: " H1 "\nsize: 1\n", "'type'");
	parse_bad("path: x\ntype: ~\nsha256: " H1 "\nsize: 1\n", "'type'");
	parse_bad("path: ../x\nsha256: " H1 "\nsize: 1\n", "'path' must be a relative path");
	parse_bad("path: a/../../x\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: /etc/passwd\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: ''\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: .\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: 12\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: [a]\nsha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("sha256: " H1 "\nsize: 1\n", "'path'");
	parse_bad("path: \"a\\0b\"\nsha256: " H1 "\nsize: 1\n", "'path'");
}

Test(data_pointer, invalid_yaml_reports_line)
{
	parse_bad("path: x\nsha256: [\n", "line");
	parse_bad("path: x\n  bad indent: y\n: z\n", "line");
	parse_bad("path: x\npath: y\nsha256: " H1 "\nsize: 1\n", "line");
	parse_bad("path: 'unterminated\n", "line");
	parse_bad("---\na: 1\n---\nb: 2\n", "line");
}

Test(data_pointer, non_mapping_documents)
{
	parse_bad("", "not a YAML mapping");
	parse_bad("# only a comment\n", "not a YAML mapping");
	parse_bad("- path: x\n", "not a YAML mapping");
	parse_bad("just a string\n", "not a YAML mapping");
	parse_bad("42\n", "not a YAML mapping");
	parse_bad("~\n", "not a YAML mapping");
}

Test(data_pointer, drive_like_names_refused)
{
	/* path_clean_rel treats a ':' as second character as a drive prefix */
	parse_bad("path: 'a: b'\nsha256: " H1 "\nsize: 1\n", "'path'");
}

Test(data_pointer, error_message_tells_how_to_recover)
{
	parse_bad("bogus: 1\n", "git checkout -- " FILE_NAME);
}

/* Known problems in src/data/pointer.c, disabled until fixed (see the report). */

/* A file pointer accepts nfiles but pointer_format drops it, so nfiles does
 * not survive a round trip (parse gives 5, format+parse gives 1). */
Test(data_pointer, file_pointer_nfiles_round_trip)
{
	static const char text[] = "path: x\ntype: file\nsha256: " H1 "\nsize: 1\nnfiles: 5\n";
	struct pointer p, back;
	struct buf b = BUF_INIT;

	/* either refuse nfiles on a file pointer, or keep it */
	if (pointer_parse(text, strlen(text), FILE_NAME, &p) != 0)
		return;
	cr_assert_eq(pointer_format(&p, &b), 0);
	parse_ok(b.ptr, &back);
	cr_assert_eq(back.nfiles, p.nfiles, "nfiles %lld -> %lld", (long long)p.nfiles, (long long)back.nfiles);
	pointer_release(&back);
	pointer_release(&p);
	buf_release(&b);
}

/* sha256 is checked as a C string: a YAML string with a NUL after 64 hex
 * digits is accepted. */
Test(data_pointer, sha256_with_nul_refused)
{
	parse_bad("path: x\nsha256: \"" H1 "\\0junk\"\nsize: 1\n", "'sha256'");
}
