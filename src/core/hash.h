/* hash.h - SHA-256 (OpenSSL), streaming and one-shot, as 64 lowercase hex chars. */
#ifndef CAIRN_CORE_HASH_H
#define CAIRN_CORE_HASH_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

struct sha256_ctx;

/* Allocate a streaming context; NULL on allocation failure. */
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
/* Write the hex digest (65 bytes with NUL) and free the context. */
void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1]);
void sha256_free(struct sha256_ctx *c);
void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1]);
/* True when s is exactly 64 lowercase hex digits. */
int sha256_is_hex(const char *s);

#endif
