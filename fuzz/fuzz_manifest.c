/* fuzz_manifest.c - libFuzzer target: directory manifests, parse and format.
 *
 * Any input: no crash, no sanitizer report, and either a list or an error with
 * a message (and nothing left in the list). An accepted manifest must be
 * canonical: formatting the parsed list gives back the input byte for byte,
 * and that text parses to the same entries, found again by dlist_find.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/data_int.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct dlist l = { 0 }, back = { 0 };
	struct buf b = BUF_INIT;
	int64_t bytes = 0;

	if (manifest_parse((const char *)data, size, &l)) {
		if (l.n || l.v || !cairn_error_msg()[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct dentry *e = &l.v[i];
		if (!sha256_is_hex(e->hex) || e->size < 0 || (e->mode != 0644 && e->mode != 0755) || !e->path[0])
			abort();
		if (i && strcmp(l.v[i - 1].path, e->path) >= 0)
			abort();
		if (dlist_find(&l, e->path) != e)
			abort();
		bytes += e->size;
	}
	if (bytes != l.bytes)
		abort();
	if (manifest_format(&l, &b)) {
		fprintf(stderr, "format failed: %s\n", cairn_error_msg());
		abort();
	}
	if (b.len != size || memcmp(b.ptr, data, size)) {
		fprintf(stderr, "format(parse(x)) != x\n--- in:\n%.*s\n--- out:\n%s\n", (int)size, (const char *)data, b.ptr);
		abort();
	}
	if (manifest_parse(b.ptr, b.len, &back)) {
		fprintf(stderr, "formatted manifest does not parse: %s\n", cairn_error_msg());
		abort();
	}
	if (back.n != l.n || back.bytes != l.bytes)
		abort();
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(back.v[i].path, l.v[i].path) || strcmp(back.v[i].hex, l.v[i].hex) ||
		    back.v[i].size != l.v[i].size || back.v[i].mode != l.v[i].mode)
			abort();
	dlist_release(&back);
	dlist_release(&l);
	buf_release(&b);
	return 0;
}
