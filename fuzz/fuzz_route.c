/* fuzz_route.c - libFuzzer target: the route pattern matcher.
 *
 * Input: a pattern, a NUL, a path, a NUL, a flag byte (prefix matching).
 * Invariants: a pattern the validator refuses is never mounted, so only
 * valid ones are matched; a match's parameters lie inside the path, are
 * non-empty, hold no '/', and the matched length never passes the path; a
 * literal pattern matches exactly the strings equal to it.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = malloc(size + 2);
	const char *pattern, *path;
	struct http_match m;
	bool prefix;
	size_t plen;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	pattern = buf;
	path = buf + strlen(buf) + 1;
	if (path > buf + size) {
		free(buf);
		return 0;
	}
	plen = strlen(path);
	prefix = path + plen + 1 <= buf + size ? (path[plen + 1] & 1) : false;
	if (http_pattern_valid(pattern, &m) && http_pattern_match(pattern, path, prefix, &m)) {
		if (m.end > plen || m.n > HTTP_MAX_PARAMS)
			abort();
		if (!prefix && m.end != plen)
			abort();
		for (size_t i = 0; i < m.n; i++) {
			if (!m.p[i].len || m.p[i].off + m.p[i].len > plen || memchr(path + m.p[i].off, '/', m.p[i].len))
				abort();
			if (m.p[i].name < pattern || m.p[i].name + m.p[i].name_len > pattern + strlen(pattern))
				abort();
		}
		if (!strchr(pattern, '{') && (prefix ? strncmp(path, pattern, strlen(pattern)) : strcmp(path, pattern)))
			abort();
	}
	free(buf);
	return 0;
}
