/* Unit tests for core/hash (SHA-256 test vectors). */
#include <criterion/criterion.h>
#include <string.h>

#include "core/hash.h"

Test(core_hash, known_vectors)
{
	char hex[SHA256_HEX_LEN + 1];
	struct sha256_ctx *c;

	sha256_hex("", 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	c = sha256_new();
	sha256_update(c, "a", 1);
	sha256_update(c, "bc", 2);
	sha256_final_hex(c, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert(sha256_is_hex(hex));
	cr_assert(!sha256_is_hex("abc"));
	cr_assert(!sha256_is_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}
