/* Unit tests for the local blob store: content addressing, dedupe, verify, atomicity. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/error.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-blob-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(blob_local, .init = setup, .fini = teardown);

Test(blob_local, put_read_and_dedupe)
{
	struct blob_store *bs;
	char h1[65], h2[65], got[16] = { 0 };
	int64_t size = 0;
	int fd;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "abc", 3, h1), 0);
	cr_assert_str_eq(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert_eq(blob_put(bs, "abc", 3, h2), 0);
	cr_assert_str_eq(h1, h2);
	cr_assert(blob_exists(bs, h1));
	cr_assert_eq(blob_open_read(bs, h1, &fd, &size), 0);
	cr_assert_eq(size, 3);
	cr_assert_eq(read(fd, got, sizeof(got)), 3);
	cr_assert_str_eq(got, "abc");
	close(fd);
	cr_assert_eq(blob_verify(bs, h1), 0);
	blob_close(bs);
}

Test(blob_local, streaming_writer_and_abort_leave_no_temp)
{
	struct blob_store *bs;
	struct blob_writer *w;
	char hex[65], cmd[160];
	int64_t size;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_writer_new(bs, &w), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(blob_writer_write(w, "0123456789", 10), 0);
	cr_assert_eq(blob_writer_commit(w, hex, &size), 0);
	cr_assert_eq(size, 1000);
	cr_assert_eq(blob_writer_new(bs, &w), 0);
	blob_writer_write(w, "partial", 7);
	blob_writer_abort(w);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/objects/tmp)\"", dir);
	cr_assert_eq(system(cmd), 0, "aborted upload left a temp file");
	blob_close(bs);
}

Test(blob_local, corruption_is_detected_and_bad_ids_rejected)
{
	struct blob_store *bs;
	char hex[65], path[256];
	int fd;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "hello", 5, hex), 0);
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", dir, hex, hex + 2);
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "HELLO", 5), 5);
	close(fd);
	cr_assert_eq(blob_verify(bs, hex), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "corrupt"));
	cr_assert_eq(blob_open_read(bs, "../../etc/passwd", &fd, NULL), CAIRN_EINVALID);
	cr_assert_eq(blob_open_read(bs, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &fd, NULL),
		     CAIRN_ENOTFOUND);
	blob_close(bs);
}

Test(blob_local, stale_temp_files_removed_at_open)
{
	struct blob_store *bs;
	char path[256], cmd[300];
	FILE *f;

	cr_assert_eq(blob_open(dir, &bs), 0);
	blob_close(bs);
	snprintf(path, sizeof(path), "%s/objects/tmp/upload-stale", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("junk", f);
	fclose(f);
	cr_assert_eq(blob_open(dir, &bs), 0);
	snprintf(cmd, sizeof(cmd), "test ! -e %s", path);
	cr_assert_eq(system(cmd), 0);
	blob_close(bs);
}
