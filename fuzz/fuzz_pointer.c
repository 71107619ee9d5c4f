/* fuzz_pointer.c - libFuzzer target: pointer files (<path>.cairn), parse and format.
 *
 * Any input: no crash, no sanitizer report, and either a pointer or an error
 * naming the file. An accepted pointer must have a clean relative path, a
 * valid hash and non-negative numbers, and pointer_format must write a file
 * that parses back to the same path, hash, size, nfiles, type and kept keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/data_int.h"

#define FILE_NAME "fuzz/x.cairn"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pointer p, back;
	struct buf b = BUF_INIT;
	int rc;

	if (pointer_parse((const char *)data, size, FILE_NAME, &p)) {
		if (p.name || p.keep || strncmp(cairn_error_msg(), FILE_NAME ": ", strlen(FILE_NAME) + 2))
			abort();
		return 0;
	}
	if (!p.name || !p.name[0] || p.name[0] == '/' || strlen(p.hex) != SHA256_HEX_LEN || !sha256_is_hex(p.hex) ||
	    p.size < 0 || p.nfiles < 0 || p.file || p.data)
		abort();
	if (pointer_format(&p, &b)) {
		fprintf(stderr, "format failed: %s\n", cairn_error_msg());
		abort();
	}
	rc = pointer_parse(b.ptr, b.len, FILE_NAME, &back);
	if (rc == CAIRN_ETOOBIG) {   /* kept desc/meta at the YAML expansion limit */
		pointer_release(&p);
		buf_release(&b);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "formatted pointer does not parse: %s\n---\n%s\n", cairn_error_msg(), b.ptr);
		abort();
	}
	if (strcmp(back.name, p.name) || strcmp(back.hex, p.hex) || back.size != p.size || back.nfiles != p.nfiles ||
	    back.is_dir != p.is_dir) {
		fprintf(stderr, "pointer does not round trip (nfiles %lld -> %lld)\n---\n%s\n", (long long)p.nfiles,
			(long long)back.nfiles, b.ptr);
		abort();
	}
	if (!(p.keep ? json_equal(p.keep, back.keep) : !back.keep)) {
		fprintf(stderr, "desc/meta do not round trip\n---\n%s\n", b.ptr);
		abort();
	}
	pointer_release(&back);
	pointer_release(&p);
	buf_release(&b);
	return 0;
}
