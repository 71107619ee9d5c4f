/* hash.c - SHA-256 via OpenSSL's EVP interface (uses the CPU's SHA extensions). */
#include "core/hash.h"
#include "core/fault.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *c = ccalloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	return c;
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
	EVP_DigestUpdate(c->md, data, n);
}

static void to_hex(const unsigned char *d, unsigned n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(c->md, d, &n);
	to_hex(d, n, hex);
	sha256_free(c);
}

void sha256_free(struct sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;

	EVP_Digest(data, n, d, &dn, EVP_sha256(), NULL);
	to_hex(d, dn, hex);
}

int sha256_is_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == SHA256_HEX_LEN;
}

/* MD5 shares the EVP plumbing: an md5_ctx is the same wrapper. */
struct md5_ctx {
	EVP_MD_CTX *md;
};

struct md5_ctx *md5_new(void)
{
	struct md5_ctx *c = ccalloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_md5(), NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return NULL;
	}
	return c;
}

void md5_update(struct md5_ctx *c, const void *data, size_t n)
{
	EVP_DigestUpdate(c->md, data, n);
}

void md5_final_hex(struct md5_ctx *c, char hex[MD5_HEX_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(c->md, d, &n);
	to_hex(d, n, hex);
	md5_free(c);
}

void md5_free(struct md5_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void md5_hex(const void *data, size_t n, char hex[MD5_HEX_LEN + 1])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;

	EVP_Digest(data, n, d, &dn, EVP_md5(), NULL);
	to_hex(d, dn, hex);
}
