/* route.c - route patterns: literal paths with {parameters}, each matching
 * (part of) one path segment. */
#include "http/http_int.h"

#include <ctype.h>
#include <string.h>

/* The literal that follows a parameter within its segment: from after the
 * '}' up to the next '/' or the end. */
static size_t seg_suffix(const char *p)
{
	return strcspn(p, "/");
}

bool http_pattern_valid(const char *pattern, struct http_match *m)
{
	const char *p = pattern;

	m->n = 0;
	while ((p = strchr(p, '{'))) {
		const char *close = strchr(p, '}');
		size_t suf;

		if (p == pattern || p[-1] != '/' || !close || close == p + 1 || m->n == HTTP_MAX_PARAMS)
			return false;
		for (const char *c = p + 1; c < close; c++)
			if (!isalnum((unsigned char)*c) && *c != '_')
				return false;
		suf = seg_suffix(close + 1);
		if (memchr(close + 1, '{', suf) || memchr(close + 1, '}', suf))
			return false; /* one parameter per segment */
		m->n++;
		p = close + 1;
	}
	return !strchr(pattern, '}') || m->n > 0;
}

bool http_pattern_match(const char *pattern, const char *path, bool prefix, struct http_match *m)
{
	size_t pi = 0, si = 0;

	m->n = 0;
	m->end = 0;
	while (pattern[pi]) {
		if (pattern[pi] == '{') {
			const char *close = strchr(pattern + pi, '}');
			size_t seg = strcspn(path + si, "/"), suf;

			if (!close || m->n == HTTP_MAX_PARAMS)
				return false;
			suf = seg_suffix(close + 1);
			/* the value is the segment less the literal that follows the
			 * parameter in the pattern ("{name}:predict"); never empty */
			if (seg <= suf || memcmp(path + si + seg - suf, close + 1, suf))
				return false;
			m->p[m->n].name = pattern + pi + 1;
			m->p[m->n].name_len = (size_t)(close - (pattern + pi + 1));
			m->p[m->n].off = si;
			m->p[m->n].len = seg - suf;
			m->n++;
			si += seg;
			pi = (size_t)(close + 1 - pattern) + suf;
			continue;
		}
		if (path[si] != pattern[pi])
			return false;
		pi++;
		si++;
	}
	if (!prefix && path[si])
		return false;
	m->end = si;
	return true;
}
