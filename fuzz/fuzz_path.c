/* fuzz_path.c - libFuzzer target: the client path sanitiser, artifact URI parsing,
 * URI joins and repeated percent-decoding.
 *
 * Invariants on every accepted path: relative, no "." or ".." component, no
 * empty component, no backslash, no control byte, no percent-encoded separator.
 * A run's artifact URI (path_join_uri of the input and "<id>/artifacts"), when
 * served here, maps to a tree path ending in "<id>/artifacts": never shared by
 * two runs. path_unquote_all's result decodes to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/path.h"
#include "tracking/artifact.h"

static void check_clean(const char *p, size_t n)
{
	if (n && (p[0] == '/' || p[n - 1] == '/'))
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == '\\' || c == 0x7f)
			abort();
		if (c == '%' && i + 2 < n) {
			char h[3] = { (char)(p[i + 1] | 0x20), (char)(p[i + 2] | 0x20), 0 };
			if (!strcmp(h, "2e") || !strcmp(h, "2f") || !strcmp(h, "25") || !strcmp(h, "5c"))
				abort();
		}
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			abort();
		i = j + 1;
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct buf out = BUF_INIT;
	char *s;

	if (path_clean_rel((const char *)data, size, true, &out) == 0)
		check_clean(out.ptr, out.len);
	buf_release(&out);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (art_uri_to_path(s, &out) == 0)
		check_clean(out.ptr, out.len);
	buf_release(&out);
	{
		static const char tail[] = "0123456789abcdef0123456789abcdef/artifacts";
		struct buf uri = BUF_INIT;
		if (!path_join_uri(&uri, s, tail) && !strchr(s, '?') && !strchr(s, '#') &&
		    art_uri_to_path(uri.ptr, &out) == 0) {
			check_clean(out.ptr, out.len);
			if (out.len < sizeof(tail) - 1 || strcmp(out.ptr + out.len - (sizeof(tail) - 1), tail) ||
			    (out.len > sizeof(tail) - 1 && out.ptr[out.len - sizeof(tail)] != '/'))
				abort();
		}
		buf_release(&uri);
		buf_release(&out);
	}
	{
		struct buf once = BUF_INIT, twice = BUF_INIT;
		if (!path_unquote_all((const char *)data, size, &once) &&
		    !path_unquote_all(once.ptr, once.len, &twice) &&
		    (once.len != twice.len || memcmp(once.ptr, twice.ptr, once.len)))
			abort();
		buf_release(&once);
		buf_release(&twice);
	}
	free(s);
	return 0;
}
