/* utf8.c - UTF-8 validation (RFC 3629), table-free. */
#include "core/utf8.h"

size_t utf8_invalid_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t len;
		unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return i; /* continuation byte, 0xc0/0xc1 or 0xf5.. */
		}
		if (n - i < len || p[i + 1] < lo || p[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		i += len;
	}
	return n;
}

bool utf8_valid(const char *s, size_t n)
{
	return utf8_invalid_at(s, n) == n;
}
