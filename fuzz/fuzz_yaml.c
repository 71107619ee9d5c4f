/* fuzz_yaml.c - libFuzzer target: core/yaml parsing and the dump round trip.
 *
 * Any input: no crash, no sanitizer report, and either a tree or an error with
 * a message. Every tree that parses must dump (in document order and sorted)
 * to YAML that parses back to an equal tree. Limits are lowered so alias
 * bombs stay cheap; they are the same code paths as the defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/yaml.h"

static const struct cyaml_limits lim = { 50000, 1 << 20, 64 };

static void check_round_trip(const json_t *v, int sorted)
{
	struct buf b = BUF_INIT;
	json_t *back = NULL;
	int rc = sorted ? cyaml_dump_sorted(v, &b) : cyaml_dump(v, &b);

	if (rc) {
		fprintf(stderr, "dump failed: %s\n", cairn_error_msg());
		abort();
	}
	if (cyaml_parse_limits(b.ptr, b.len, &lim, &back)) {
		fprintf(stderr, "dump does not parse: %s\n---\n%s\n", cairn_error_msg(), b.ptr);
		abort();
	}
	if (!json_equal(v, back)) {
		fprintf(stderr, "dump does not round trip\n---\n%s\n", b.ptr);
		abort();
	}
	json_decref(back);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *v = NULL;
	int rc;

	/* the in-place scalar editor takes any text without crashing */
	{
		struct buf out = BUF_INIT;
		cyaml_set_scalar((const char *)data, size, "a.b", "1", &out);
		cairn_error_clear();
		buf_release(&out);
	}
	rc = cyaml_parse_limits((const char *)data, size, &lim, &v);


	if (rc) {
		if (v || !cairn_error_msg()[0])
			abort();
		return 0;
	}
	check_round_trip(v, 0);
	check_round_trip(v, 1);
	/* the line-recording parse gives the same tree (small inputs, so the
	 * default limits cannot make a difference) */
	if (size < 4096) {
		json_t *w = NULL, *lines = NULL;
		if (cyaml_parse_lines((const char *)data, size, &w, &lines) == 0 && (!json_equal(v, w) || !lines))
			abort();
		json_decref(w);
		json_decref(lines);
	}
	json_decref(v);
	return 0;
}
