/* utf8.h - UTF-8 validation, the one check every string from a client passes.
 *
 * utf8_valid() accepts well-formed UTF-8 as RFC 3629 defines it: no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no stray
 * continuation bytes and no truncated sequences. NUL bytes inside the span
 * are valid UTF-8; callers that forbid them check separately.
 */
#ifndef CAIRN_CORE_UTF8_H
#define CAIRN_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const char *s, size_t n);
/* Offset of the first invalid byte, or n when the whole span is valid. */
size_t utf8_invalid_at(const char *s, size_t n);

#endif
