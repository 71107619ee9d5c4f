/* Unit tests for the local blob store: content addressing, dedupe, verify, atomicity. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/error.h"
#include "core/fs.h"

static char dir[64], outside[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-blob-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(outside, sizeof(outside), "/tmp/cairn-outside-XXXXXX");
	cr_assert_not_null(mkdtemp(outside));
}

static void teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, outside);
	cr_assert_eq(system(cmd), 0);
	fs__no_openat2(false);
}

/* The same tests where the kernel has no openat2 (the O_NOFOLLOW walk). */
static void setup_walk(void)
{
	setup();
	fs__no_openat2(true);
}

TestSuite(blob_local, .init = setup, .fini = teardown);
TestSuite(blob_walk, .init = setup_walk, .fini = teardown);

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

/* "abc" is object ba7816bf...; its shard folder is "ba". */
#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void read_all(struct blob_store *bs, const char *hex, char *got, size_t n)
{
	int fd;
	ssize_t k;

	memset(got, 0, n);
	cr_assert_eq(blob_open_read(bs, hex, &fd, NULL), 0, "%s", cairn_error_msg());
	k = read(fd, got, n - 1);
	cr_assert(k >= 0);
	close(fd);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* Files planted inside the root: an object that is a link to a file outside
 * is neither served nor trusted; storing the content replaces the link (and
 * leaves the file it pointed at alone). */
static void planted_object_link(void)
{
	struct blob_store *bs;
	char obj[256], secret[128], hex[65], got[64];
	struct stat sb;
	int fd = -1;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	snprintf(obj, sizeof(obj), "%s/objects/ba/%s", dir, ABC + 2);
	snprintf(secret, sizeof(secret), "%s/secret", outside);
	write_file(secret, "top"); /* same size as "abc" */
	cr_assert_eq(unlink(obj), 0);
	cr_assert_eq(symlink(secret, obj), 0);
	cr_assert_eq(blob_open_read(bs, ABC, &fd, NULL), CAIRN_EIO, "a link was followed");
	cr_assert_eq(fd, -1);
	cr_assert_not(blob_exists(bs, ABC));
	cr_assert_eq(blob_stat(bs, ABC, &sb), CAIRN_EIO);
	cr_assert_neq(blob_verify(bs, ABC), 0);
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	cr_assert_eq(lstat(obj, &sb), 0);
	cr_assert(S_ISREG(sb.st_mode), "the planted link was not replaced");
	read_all(bs, ABC, got, sizeof(got));
	cr_assert_str_eq(got, "abc");
	cr_assert_eq(blob_verify(bs, ABC), 0);
	fd = open(secret, O_RDONLY);
	cr_assert_eq(read(fd, got, sizeof(got)), 3);
	close(fd);
	cr_assert_eq(memcmp(got, "top", 3), 0, "the link's target was written");
	blob_close(bs);
}

Test(blob_local, planted_object_link_is_not_followed_and_is_replaced) { planted_object_link(); }
Test(blob_walk, planted_object_link_is_not_followed_and_is_replaced) { planted_object_link(); }

/* An object of the right size but the wrong bytes is not "already stored". */
static void same_size_corrupt_object(void)
{
	struct blob_store *bs;
	char obj[256], hex[65], got[64];

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	snprintf(obj, sizeof(obj), "%s/objects/ba/%s", dir, ABC + 2);
	cr_assert_eq(chmod(obj, 0644), 0);
	write_file(obj, "xyz");
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	read_all(bs, ABC, got, sizeof(got));
	cr_assert_str_eq(got, "abc", "a same-size object was trusted without looking at its bytes");
	cr_assert_eq(blob_verify(bs, ABC), 0);
	blob_close(bs);
}

Test(blob_local, same_size_corrupt_object_is_replaced) { same_size_corrupt_object(); }
Test(blob_walk, same_size_corrupt_object_is_replaced) { same_size_corrupt_object(); }

static int count_cb(const char *hex, void *arg)
{
	(void)hex;
	(*(int *)arg)++;
	return 0;
}

/* A shard folder replaced by a link to a folder outside: nothing is written,
 * read, listed or removed through it. */
static void planted_shard_link(void)
{
	struct blob_store *bs;
	char shard[128], victim[200], hex[65], got[64], cmd[600];
	int n = 0, fd = -1;

	snprintf(shard, sizeof(shard), "%s/objects/ba", dir);
	snprintf(victim, sizeof(victim), "%s/%s", outside, ABC + 2);
	write_file(victim, "top");
	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(symlink(outside, shard), 0);
	cr_assert_eq(blob_open_read(bs, ABC, &fd, NULL), CAIRN_EIO, "read through a linked shard folder");
	cr_assert_not(blob_exists(bs, ABC));
	cr_assert_eq(blob_remove(bs, ABC), 0);
	cr_assert_eq(access(victim, F_OK), 0, "removed a file outside the root");
	cr_assert_eq(blob_list(bs, count_cb, &n), 0);
	cr_assert_eq(n, 0, "listed an object through a linked shard folder");
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = \"%s\"", outside, ABC + 2);
	cr_assert_eq(system(cmd), 0, "wrote into the folder a planted link points at");
	snprintf(cmd, sizeof(cmd), "test -d %s -a ! -L %s", shard, shard);
	cr_assert_eq(system(cmd), 0, "the shard folder is not a real folder");
	read_all(bs, ABC, got, sizeof(got));
	cr_assert_str_eq(got, "abc");
	blob_close(bs);
}

Test(blob_local, planted_shard_link_is_not_followed) { planted_shard_link(); }
Test(blob_walk, planted_shard_link_is_not_followed) { planted_shard_link(); }

/* A fifo where an object belongs: refused at once, not a hang in open(). */
Test(blob_local, planted_fifo_is_refused_without_blocking, .timeout = 20)
{
	struct blob_store *bs;
	char obj[256], hex[65];
	int fd = -1;

	cr_assert_eq(blob_open(dir, &bs), 0);
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	snprintf(obj, sizeof(obj), "%s/objects/ba/%s", dir, ABC + 2);
	cr_assert_eq(unlink(obj), 0);
	cr_assert_eq(mkfifo(obj, 0644), 0);
	cr_assert_eq(blob_open_read(bs, ABC, &fd, NULL), CAIRN_EIO);
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	cr_assert_eq(blob_verify(bs, ABC), 0);
	blob_close(bs);
}

/* objects/tmp replaced by a link: temporary files are not made through it;
 * objects/ itself a link: the store refuses to open. */
Test(blob_local, linked_tmp_and_objects_folders)
{
	struct blob_store *bs;
	char p[128], cmd[600], hex[65];

	snprintf(p, sizeof(p), "%s/objects", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/objects/tmp", dir);
	cr_assert_eq(symlink(outside, p), 0);
	cr_assert_eq(blob_open(dir, &bs), 0, "%s", cairn_error_msg());
	cr_assert_eq(blob_put(bs, "abc", 3, hex), 0);
	blob_close(bs);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\" -a -d %s -a ! -L %s", outside, p, p);
	cr_assert_eq(system(cmd), 0, "temporary files went through a planted link");
	snprintf(cmd, sizeof(cmd), "rm -rf %s/objects && ln -s %s %s/objects", dir, outside, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(blob_open(dir, &bs), CAIRN_EIO);
	cr_assert(strstr(cairn_error_msg(), "symbolic link"), "%s", cairn_error_msg());
}
