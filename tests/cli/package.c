/* tests/cli/package.c - `cairn models package` in-process: the context's files, and faults.
 *
 * package_write() packages tests/model/fixtures/xgb/booster_binary (a local
 * model directory: no store) into a fresh folder. Fault runs fail the
 * writes, fsyncs and renames of a packaging in turn (each one, once and from
 * then on), and a spread of its allocations: packaging either succeeds with
 * the whole context, or fails with a message, leaving neither DIR nor a
 * temporary folder beside it; ASan's leak check at exit covers every error
 * path. The context's behaviour (it serves; its packages are ldd's) is
 * proved by tests/cli/test_package.py.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/package.h"
#include "core/error.h"
#include "core/fault.h"

#define FIXTURE "tests/model/fixtures/xgb/booster_binary"

static char parent[64];
static unsigned seq;
static int saved_stdout = -1;

static void setup(void)
{
	snprintf(parent, sizeof(parent), "/tmp/cairn-package-XXXXXX");
	cr_assert_not_null(mkdtemp(parent));
	/* package_write prints what it wrote: keep the test log readable */
	fflush(stdout);
	saved_stdout = dup(STDOUT_FILENO);
	int null = open("/dev/null", O_WRONLY);
	dup2(null, STDOUT_FILENO);
	close(null);
}

static void teardown(void)
{
	char cmd[128];

	fflush(stdout);
	if (saved_stdout >= 0) {
		dup2(saved_stdout, STDOUT_FILENO);
		close(saved_stdout);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", parent);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_package, .init = setup, .fini = teardown, .timeout = 600);

/* A fresh DIR name under parent. */
static void fresh(char *out, size_t cap)
{
	snprintf(out, cap, "%s/ctx-%u", parent, seq++);
}

static size_t entries(const char *d)
{
	size_t n = 0;
	struct dirent *e;
	DIR *dd = opendir(d);

	if (!dd)
		return 0;
	while ((e = readdir(dd)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dd);
	return n;
}

static void no_temporaries(uint64_t n, unsigned persist)
{
	struct dirent *e;
	DIR *d = opendir(parent);

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		cr_assert(strncmp(e->d_name, ".cairn-package-", 15), "call %llu%s left %s behind",
			  (unsigned long long)n, persist ? "+" : "", e->d_name);
	closedir(d);
}

static void whole(const char *ctx)
{
	static const char *const files[] = { "Dockerfile", "cairn", "entrypoint.sh", ".dockerignore", "README.md",
					     "model/MLmodel", "model/model.ubj", "model/expected.json" };
	char path[256];
	struct stat sb;

	cr_assert_eq(entries(ctx), 6, "%s: %zu entries", ctx, entries(ctx));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", ctx, files[i]);
		cr_assert_eq(stat(path, &sb), 0, "%s missing", path);
		cr_assert_gt(sb.st_size, 0, "%s empty", path);
	}
	snprintf(path, sizeof(path), "%s/model", ctx);
	cr_assert_eq(entries(path), entries(FIXTURE));
	/* computed from ldd and dpkg, as on this machine: a failure never falls back silently */
	snprintf(path, sizeof(path), "%s/Dockerfile", ctx);
	{
		char text[16384];
		FILE *f = fopen(path, "r");
		size_t n;
		cr_assert_not_null(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		cr_assert(strstr(text, "dpkg -S") && !strstr(text, "STATIC PACKAGE LIST"), "%s", text);
		cr_assert(strstr(text, "libxgboost0 \\\n") && strstr(text, "libmicrohttpd12 \\\n"), "%s", text);
	}
}

Test(cli_package, writes_a_whole_context)
{
	char ctx[128];

	fresh(ctx, sizeof(ctx));
	cr_assert_eq(package_write(NULL, FIXTURE, ctx, false), 0, "%s", cairn_error_msg());
	whole(ctx);
	/* again into the same DIR: refused, unchanged */
	cr_assert_eq(package_write(NULL, FIXTURE, ctx, true), CAIRN_EEXISTS);
	cr_assert(strstr(cairn_error_msg(), "exists and is not an empty directory"), "%s", cairn_error_msg());
	whole(ctx);
	no_temporaries(0, 0);
}

Test(cli_package, refuses_before_writing)
{
	char ctx[128];

	fresh(ctx, sizeof(ctx));
	cr_assert_eq(package_write(NULL, "/nonexistent/model", ctx, false), CAIRN_ENOTFOUND);
	cr_assert_eq(package_write(NULL, "models:/", ctx, false), CAIRN_EINVALID);
	cr_assert_eq(package_write(NULL, FIXTURE, "", false), CAIRN_EINVALID);
	cr_assert_eq(access(ctx, F_OK), -1);
	no_temporaries(0, 0);
}

/* Fail calls of kinds in turn: each n <= all_up_to, then every stride-th of
 * the rest so that about `samples` more fail (CAIRN_FAULT_ALL=1: every one). */
static void package_faults(unsigned kinds, uint64_t all_up_to, uint64_t samples)
{
	char ctx[128];
	uint64_t calls, ok = 0, failed = 0, stride;
	int rc;

	fresh(ctx, sizeof(ctx));
	fault_arm(kinds, 0, FAULT_THIS_THREAD);
	rc = package_write(NULL, FIXTURE, ctx, false);
	calls = fault_calls();
	fault_disarm();
	cr_assert_eq(rc, 0, "%s", cairn_error_msg());
	cr_assert_gt(calls, 5);
	stride = calls > all_up_to && samples ? (calls - all_up_to) / samples + 1 : 1;
	if (getenv("CAIRN_FAULT_ALL"))
		stride = 1;
	for (unsigned persist = 0; persist < 2; persist++)
		for (uint64_t n = 1; n <= calls; n += n < all_up_to ? 1 : stride) {
			fresh(ctx, sizeof(ctx));
			fault_arm(kinds, n, FAULT_THIS_THREAD | (persist ? FAULT_PERSIST : 0));
			rc = package_write(NULL, FIXTURE, ctx, false);
			fault_disarm();
			if (rc) {
				failed++;
				cr_assert_neq(cairn_error_msg()[0], '\0', "call %llu%s failed (%d) without a message",
					      (unsigned long long)n, persist ? "+" : "", rc);
				cr_assert_eq(access(ctx, F_OK), -1, "call %llu%s failed but left %s",
					     (unsigned long long)n, persist ? "+" : "", ctx);
			} else {
				ok++;
				whole(ctx);
			}
			no_temporaries(n, persist);
		}
	cr_assert_gt(failed, 0);
	cr_log_info("package, kinds %#x: %llu calls, stride %llu past %llu, once and from then on: %llu failed, "
		    "%llu succeeded", kinds, (unsigned long long)calls, (unsigned long long)stride,
		    (unsigned long long)all_up_to, (unsigned long long)failed, (unsigned long long)ok);
}

Test(cli_package, faults_files)
{
	package_faults(FAULT_FILES, UINT64_MAX, 0);
}

Test(cli_package, faults_allocations)
{
	package_faults(FAULT_ALLOC, 40, 60);
}
