/* Unit tests for core/buf: growth, limits, sticky errors, ownership. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

Test(core_buf, starts_empty_and_never_null)
{
	struct buf b = BUF_INIT;

	cr_assert_str_eq(b.ptr, "");
	cr_assert_eq(b.len, 0);
	buf_release(&b);
	cr_assert_str_eq(b.ptr, "");
}

Test(core_buf, appends_and_grows)
{
	struct buf b = BUF_INIT;

	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	cr_assert_eq(buf_error(&b), 0);
	cr_assert(strncmp(b.ptr, "0,1,2,", 6) == 0);
	cr_assert_eq(b.len, strlen(b.ptr));
	buf_release(&b);
}

Test(core_buf, limit_sets_sticky_error)
{
	struct buf b;

	buf_init(&b, 8);
	cr_assert_eq(buf_puts(&b, "12345678"), 0);
	cr_assert_eq(buf_puts(&b, "9"), CAIRN_ETOOBIG);
	cr_assert_eq(buf_puts(&b, ""), CAIRN_ETOOBIG, "error must be sticky");
	cr_assert_str_eq(b.ptr, "12345678", "contents kept intact on overflow");
	cr_assert_eq(buf_error(&b), CAIRN_ETOOBIG);
	cr_assert(strstr(cairn_error_msg(), "exceeds 8 bytes"));
	buf_clear(&b);
	cr_assert_eq(b.err, 0);
	buf_release(&b);
}

Test(core_buf, detach_transfers_ownership)
{
	struct buf b = BUF_INIT;
	char *s;

	buf_puts(&b, "hello");
	s = buf_detach(&b);
	cr_assert_str_eq(s, "hello");
	cr_assert_str_eq(b.ptr, "");
	free(s);
	s = buf_detach(&b); /* empty buffer still gives a heap string */
	cr_assert_str_eq(s, "");
	free(s);
}

Test(core_buf, truncate_and_urlencode)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "abcdef");
	buf_truncate(&b, 3);
	cr_assert_str_eq(b.ptr, "abc");
	buf_clear(&b);
	buf_put_urlencoded(&b, "a b/c?d=é");
	cr_assert_str_eq(b.ptr, "a%20b%2Fc%3Fd%3D%C3%A9");
	buf_release(&b);
}

Test(core_buf, binary_data_with_nul)
{
	struct buf b = BUF_INIT;

	buf_put(&b, "a\0b", 3);
	cr_assert_eq(b.len, 3);
	cr_assert_eq(memcmp(b.ptr, "a\0b", 3), 0);
	buf_release(&b);
}

Test(error, message_can_wrap_itself)
{
	cairn_error_set(CAIRN_EINVALID, "line %d, column %d: bad", 3, 4);
	cairn_error_set(CAIRN_EINVALID, "cairn.yaml: %s", cairn_error_msg());
	cr_assert_str_eq(cairn_error_msg(), "cairn.yaml: line 3, column 4: bad");
}
