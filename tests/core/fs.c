/* Unit tests for core/fs: opening beneath a folder without following links. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"

static char dir[64];
static int dfd = -1;

static void setup(void)
{
	char cmd[256];

	snprintf(dir, sizeof(dir), "/tmp/cairn-fs-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p a/b && echo hi > a/b/f && ln -s a al && ln -s b a/bl && "
				   "ln -s /etc/passwd a/pw && ln -s f a/b/fl", dir);
	cr_assert_eq(system(cmd), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert(dfd >= 0);
}

static void teardown(void)
{
	char cmd[128];

	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	fs__no_openat2(false);
}

static void setup_walk(void)
{
	setup();
	fs__no_openat2(true);
}

TestSuite(core_fs, .init = setup, .fini = teardown);
TestSuite(core_fs_walk, .init = setup_walk, .fini = teardown);

static void expect_open(const char *rel, int flags)
{
	int fd = fs_open_beneath(dfd, rel, flags, 0);

	cr_assert(fd >= 0, "'%s': %s", rel, strerror(errno));
	close(fd);
}

static void expect_errno(const char *rel, int flags, int e)
{
	int fd = fs_open_beneath(dfd, rel, flags, 0);

	cr_assert_eq(fd, -1, "'%s' opened", rel);
	cr_assert_eq(errno, e, "'%s': %s, not %s", rel, strerror(errno), strerror(e));
}

static void beneath(void)
{
	expect_open("a/b/f", O_RDONLY);
	expect_open("a//b/./f", O_RDONLY);
	expect_open("a/b", O_RDONLY | O_DIRECTORY);
	expect_errno("al/b/f", O_RDONLY, ELOOP);      /* a linked folder on the way */
	expect_errno("a/bl/f", O_RDONLY, ELOOP);
	expect_errno("a/pw", O_RDONLY, ELOOP);        /* the file itself a link */
	expect_errno("a/b/fl", O_RDONLY, ELOOP);
	expect_errno("al", O_RDONLY | O_DIRECTORY, ELOOP);
	expect_errno("a/../a/b/f", O_RDONLY, EXDEV);
	expect_errno("/etc/passwd", O_RDONLY, EXDEV);
	expect_errno("a/b/missing", O_RDONLY, ENOENT);
	{
		int fd = fs_open_beneath(dfd, "a/b/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
		cr_assert(fd >= 0, "%s", strerror(errno));
		close(fd);
	}
}

Test(core_fs, open_beneath_follows_no_link) { beneath(); }
Test(core_fs_walk, open_beneath_follows_no_link) { beneath(); }

Test(core_fs, tmp_at_makes_fresh_files)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int fa, fb;

	cr_assert_eq(fs_tmp_at(dfd, "t-", &a, &fa), 0);
	cr_assert_eq(fs_tmp_at(dfd, "t-", &b, &fb), 0);
	cr_assert_str_neq(a.ptr, b.ptr);
	cr_assert_eq(strncmp(a.ptr, "t-", 2), 0);
	cr_assert_eq(write(fa, "x", 1), 1);
	close(fa);
	close(fb);
	buf_release(&a);
	buf_release(&b);
}
