/* hash.h - SHA-256 (and MD5 for DVC) via OpenSSL, streaming and one-shot, as lowercase hex. */
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

/* MD5, only to read and verify DVC's caches; never an identity of cairn's own. */
#define MD5_HEX_LEN 32
struct md5_ctx;
struct md5_ctx *md5_new(void);
void md5_update(struct md5_ctx *c, const void *data, size_t n);
/* Write the hex digest (33 bytes with NUL) and free the context. */
void md5_final_hex(struct md5_ctx *c, char hex[MD5_HEX_LEN + 1]);
void md5_free(struct md5_ctx *c);
void md5_hex(const void *data, size_t n, char hex[MD5_HEX_LEN + 1]);

#endif
