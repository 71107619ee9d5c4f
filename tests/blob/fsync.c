/* Unit tests for the local blob store's durability steps: a failure to make
 * an object's folder entry durable is reported, not swallowed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/error.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-blobsync-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(blob_local_sync, .init = setup, .fini = teardown);

Test(blob_local_sync, folder_sync_failure_is_an_io_error)
{
	static const char data[] = "an object whose folder cannot be synced";
	char hex[SHA256_HEX_LEN + 1];
	struct blob_store *bs;
	struct blob_writer *w;
	struct rlimit old, lim;
	int fds[512], n = 0, rc;

	cr_assert_eq(blob_open(dir, &bs), 0, "%s", cairn_error_msg());
	cr_assert_eq(blob_writer_new(bs, &w), 0);
	cr_assert_eq(blob_writer_write(w, data, sizeof(data) - 1), 0);
	/* Use up every descriptor: writing, syncing and renaming the object need
	 * none, so the only step that fails is opening its folder to sync it. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = 256;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
	while (n < 512 && (fds[n] = dup(2)) >= 0)
		n++;
	cr_assert_eq(errno, EMFILE);
	rc = blob_writer_commit(w, hex, NULL);
	while (n)
		close(fds[--n]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert_eq(rc, CAIRN_EIO, "commit returned %d (%s)", rc, cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), "sync"), "%s", cairn_error_msg());
	blob_close(bs);
}

Test(blob_local_sync, committed_objects_are_synced_without_error)
{
	char hex[SHA256_HEX_LEN + 1];
	struct blob_store *bs;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "x", 1, hex), 0, "%s", cairn_error_msg());
	cr_assert_eq(blob_put(bs, "y", 1, hex), 0, "%s", cairn_error_msg());
	cr_assert(blob_exists(bs, hex));
	blob_close(bs);
}
