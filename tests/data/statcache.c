/* Unit tests for data/statcache: the (dev, ino, size, mtime) -> sha256 cache. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "data/data_int.h"

/* the stat cache keys on struct fkey; tests build struct stat values */
#define KEY(sb) (&(struct fkey[]){ fkey_of(&(sb)) }[0])

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static char dir[64];
static char cache_path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-statcache-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cache_path, sizeof(cache_path), "%s/statcache", dir);
}

static void teardown(void)
{
	char tmp[256];

	unlink(cache_path);
	snprintf(tmp, sizeof(tmp), "%s/statcache.tmp", dir);
	unlink(tmp);
	rmdir(dir);
}

/* A stat value from a year ago (never racy). */
static struct stat fake(uint64_t dev, uint64_t ino, int64_t size, int64_t sec, long nsec)
{
	struct stat sb;

	memset(&sb, 0, sizeof(sb));
	sb.st_dev = (dev_t)dev;
	sb.st_ino = (ino_t)ino;
	sb.st_size = (off_t)size;
	sb.st_mtim.tv_sec = (time_t)sec;
	sb.st_mtim.tv_nsec = nsec;
	sb.st_mode = S_IFREG | 0644;
	return sb;
}

#define OLD (time(NULL) - 365 * 86400)

static void hex_of(uint64_t i, char hex[SHA256_HEX_LEN + 1])
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)i);
	sha256_hex(s, strlen(s), hex);
}

static struct statcache *open_cache(void)
{
	struct statcache *sc = NULL;

	cr_assert_eq(statcache_open(cache_path, &sc), 0, "%s", cairn_error_msg());
	cr_assert_not_null(sc);
	return sc;
}

TestSuite(data_statcache, .init = setup, .fini = teardown);

Test(data_statcache, put_get_hit_and_misses)
{
	struct statcache *sc = open_cache();
	struct stat sb = fake(2049, 1234, 100, OLD, 123456789), o;
	char hex[SHA256_HEX_LEN + 1];

	cr_assert(!statcache_get(sc, KEY(sb), hex), "empty cache hit");
	statcache_put(sc, KEY(sb), H1, false);
	memset(hex, 'x', sizeof(hex));
	cr_assert(statcache_get(sc, KEY(sb), hex));
	cr_assert_str_eq(hex, H1);
	o = sb;
	o.st_size = 101;
	cr_assert(!statcache_get(sc, KEY(o), hex), "hit with a different size");
	o = sb;
	o.st_mtim.tv_nsec += 1;
	cr_assert(!statcache_get(sc, KEY(o), hex), "hit with a different mtime (ns)");
	o = sb;
	o.st_mtim.tv_sec += 1;
	cr_assert(!statcache_get(sc, KEY(o), hex), "hit with a different mtime (s)");
	o = sb;
	o.st_ino = 1235;
	cr_assert(!statcache_get(sc, KEY(o), hex), "hit with a different inode");
	o = sb;
	o.st_dev = 2050;
	cr_assert(!statcache_get(sc, KEY(o), hex), "hit with a different device");
	/* a second put for the same (dev, ino) replaces the entry */
	o = sb;
	o.st_size = 200;
	statcache_put(sc, KEY(o), H2, false);
	cr_assert(!statcache_get(sc, KEY(sb), hex), "stale entry still answers");
	cr_assert(statcache_get(sc, KEY(o), hex));
	cr_assert_str_eq(hex, H2);
	statcache_close(sc);
}

Test(data_statcache, zero_dev_and_ino_not_recorded)
{
	struct statcache *sc = open_cache();
	struct stat sb = fake(0, 0, 1, OLD, 0);
	char hex[SHA256_HEX_LEN + 1];

	statcache_put(sc, KEY(sb), H1, true);
	cr_assert(!statcache_get(sc, KEY(sb), hex));
	statcache_close(sc);
}

Test(data_statcache, racy_rule)
{
	struct statcache *sc = open_cache();
	char path[256], hex[SHA256_HEX_LEN + 1];
	struct stat sb, future;
	struct timespec now;
	int fd;

	snprintf(path, sizeof(path), "%s/just-written", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello", 5), 5);
	close(fd);
	cr_assert_eq(stat(path, &sb), 0);
	statcache_put(sc, KEY(sb), H1, false);
	cr_assert(!statcache_get(sc, KEY(sb), hex), "racily clean file recorded");
	statcache_put(sc, KEY(sb), H1, true);
	cr_assert(statcache_get(sc, KEY(sb), hex), "trusted put of a fresh file not recorded");
	cr_assert_str_eq(hex, H1);
	unlink(path);
	/* synthetic: mtime exactly now, and in the future */
	clock_gettime(CLOCK_REALTIME, &now);
	sb = fake(7, 70, 1, now.tv_sec, now.tv_nsec);
	statcache_put(sc, KEY(sb), H1, false);
	cr_assert(!statcache_get(sc, KEY(sb), hex));
	future = fake(7, 71, 1, now.tv_sec + 3600, 0);
	statcache_put(sc, KEY(future), H1, false);
	cr_assert(!statcache_get(sc, KEY(future), hex), "mtime in the future recorded");
	/* a second old is fine */
	sb = fake(7, 72, 1, now.tv_sec - 2, now.tv_nsec);
	statcache_put(sc, KEY(sb), H2, false);
	cr_assert(statcache_get(sc, KEY(sb), hex));
	cr_assert_str_eq(hex, H2);
	statcache_close(sc);
}

Test(data_statcache, save_and_reopen)
{
	struct statcache *sc = open_cache();
	struct stat a = fake(1, 10, 5, OLD, 1), b = fake(1, 11, 6, OLD, 2), c = fake(2, 10, 7, OLD, 999999999);
	char hex[SHA256_HEX_LEN + 1];

	cr_assert_eq(statcache_save(sc), 0, "saving an empty, clean cache");
	statcache_put(sc, KEY(a), H1, false);
	statcache_put(sc, KEY(b), H2, false);
	statcache_put(sc, KEY(c), H1, true);
	cr_assert_eq(statcache_save(sc), 0, "%s", cairn_error_msg());
	cr_assert_eq(statcache_save(sc), 0, "second save (clean)");
	statcache_close(sc);
	cr_assert_eq(access(cache_path, F_OK), 0);

	sc = open_cache();
	cr_assert(statcache_get(sc, KEY(a), hex));
	cr_assert_str_eq(hex, H1);
	cr_assert(statcache_get(sc, KEY(b), hex));
	cr_assert_str_eq(hex, H2);
	cr_assert(statcache_get(sc, KEY(c), hex));
	cr_assert_str_eq(hex, H1);
	a.st_size = 99;
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
}

Test(data_statcache, missing_file_opens_empty)
{
	struct statcache *sc = NULL;
	char hex[SHA256_HEX_LEN + 1];
	struct stat a = fake(1, 10, 5, OLD, 1);

	cr_assert_eq(statcache_open("/nonexistent-dir-cairn/statcache", &sc), 0);
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	statcache_close(NULL);
}

static void write_file(const void *p, size_t n)
{
	FILE *f = fopen(cache_path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void *read_file(size_t *n)
{
	FILE *f = fopen(cache_path, "rb");
	void *p;
	long len;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)len + 1);
	cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return p;
}

Test(data_statcache, corrupt_cache_ignored)
{
	struct statcache *sc = open_cache();
	struct stat a = fake(1, 10, 5, OLD, 1), b = fake(1, 11, 6, OLD, 2);
	char hex[SHA256_HEX_LEN + 1];
	unsigned char *good, *bad;
	size_t n;
	uint64_t huge = UINT64_MAX;

	statcache_put(sc, KEY(a), H1, false);
	statcache_put(sc, KEY(b), H2, false);
	cr_assert_eq(statcache_save(sc), 0);
	statcache_close(sc);
	good = read_file(&n);
	cr_assert_eq(n, 16 + 2 * 64, "file size %zu", n);
	bad = malloc(n + 64);

	/* truncated at every length: opens, answers nothing, no crash */
	for (size_t k = 0; k < n; k += (k < 20 ? 1 : 13)) {
		write_file(good, k);
		sc = open_cache();
		cr_assert(!statcache_get(sc, KEY(a), hex), "truncated to %zu bytes still answers", k);
		statcache_close(sc);
	}
	/* bad magic */
	memcpy(bad, good, n);
	bad[0] ^= 0xff;
	write_file(bad, n);
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	/* a count that does not match the length, and a huge count */
	memcpy(bad, good, n);
	bad[8] = 3;
	write_file(bad, n);
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	memcpy(bad + 8, &huge, 8);
	write_file(bad, n);
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	/* trailing garbage */
	memcpy(bad, good, n);
	memset(bad + n, 0x5a, 64);
	write_file(bad, n + 7);
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	/* random bytes */
	srand(42);
	for (size_t k = 0; k < n + 64; k++)
		bad[k] = (unsigned char)rand();
	write_file(bad, n + 64);
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
	/* the intact file still works, and an opened-empty cache can be rebuilt */
	write_file(good, n);
	sc = open_cache();
	cr_assert(statcache_get(sc, KEY(a), hex));
	cr_assert_str_eq(hex, H1);
	statcache_close(sc);
	free(good);
	free(bad);
}

Test(data_statcache, same_length_garbage_records)
{
	/* a well-formed header over records of arbitrary bytes: loads without crashing */
	unsigned char data[16 + 50 * 64];
	uint64_t count = 50;
	struct statcache *sc;
	char hex[SHA256_HEX_LEN + 1];
	struct stat a = fake(1, 10, 5, OLD, 1);

	srand(7);
	for (size_t k = 0; k < sizeof(data); k++)
		data[k] = (unsigned char)rand();
	memcpy(data, "CSTATC01", 8);
	memcpy(data + 8, &count, 8);
	memset(data + 16 + 64, 0, 64); /* an empty record among them */
	write_file(data, sizeof(data));
	sc = open_cache();
	cr_assert(!statcache_get(sc, KEY(a), hex));
	statcache_put(sc, KEY(a), H1, false);
	cr_assert_eq(statcache_save(sc), 0);
	statcache_close(sc);
	sc = open_cache();
	cr_assert(statcache_get(sc, KEY(a), hex));
	statcache_close(sc);
}

Test(data_statcache, many_entries_survive_save, .timeout = 120)
{
	enum { N = 100000 };
	struct statcache *sc = open_cache();
	char hex[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];
	int64_t old = OLD;
	struct stat sb;
	unsigned char *raw;
	size_t n;

	for (uint64_t i = 1; i <= N; i++) {
		sb = fake(i % 3 + 1, i * 7919, (int64_t)i, old + (int64_t)(i % 1000), (long)(i * 13 % 1000000000));
		hex_of(i, want);
		statcache_put(sc, KEY(sb), want, false);
	}
	cr_assert_eq(statcache_save(sc), 0, "%s", cairn_error_msg());
	statcache_close(sc);
	raw = read_file(&n);
	cr_assert_eq(n, 16 + (size_t)N * 64, "file size %zu", n);
	free(raw);

	sc = open_cache();
	for (uint64_t i = 1; i <= N; i++) {
		sb = fake(i % 3 + 1, i * 7919, (int64_t)i, old + (int64_t)(i % 1000), (long)(i * 13 % 1000000000));
		hex_of(i, want);
		cr_assert(statcache_get(sc, KEY(sb), hex), "entry %llu lost", (unsigned long long)i);
		cr_assert_str_eq(hex, want);
		if (i % 1000 == 0) {
			sb.st_size++;
			cr_assert(!statcache_get(sc, KEY(sb), hex));
		}
	}
	sb = fake(1, (uint64_t)N * 7919 + 1, 1, old, 0);
	cr_assert(!statcache_get(sc, KEY(sb), hex));
	statcache_close(sc);
}

struct worker {
	struct statcache *sc;
	uint64_t base;
	int64_t old;
	int misses;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char hex[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1];

	for (uint64_t i = 1; i <= 3000; i++) {
		struct stat sb = fake(9, w->base + i, 1, w->old, 0);
		hex_of(w->base + i, want);
		statcache_put(w->sc, KEY(sb), want, false);
		if (!statcache_get(w->sc, KEY(sb), hex) || strcmp(hex, want))
			w->misses++;
	}
	return NULL;
}

Test(data_statcache, threads_put_and_get)
{
	/* the cache is shared by the hashing threads (and grows under them) */
	struct statcache *sc = open_cache();
	struct worker w[4];
	pthread_t t[4];

	for (int k = 0; k < 4; k++) {
		w[k] = (struct worker){ sc, (uint64_t)k * 100000, OLD, 0 };
		cr_assert_eq(pthread_create(&t[k], NULL, work, &w[k]), 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		cr_assert_eq(w[k].misses, 0);
	}
	cr_assert_eq(statcache_save(sc), 0);
	statcache_close(sc);
}
