/* statcache.c - (device, inode, size, mtime_ns) -> SHA-256, so unchanged files are never re-read.
 *
 * On disk (.cairn/tmp/statcache): the magic "CSTATC01", a record count, then
 * 64-byte records {dev, ino, size, mtime_ns, digest[32]} (host byte order: the
 * file is a cache, local to this machine, and rebuilt when unreadable). In
 * memory: an open-addressing table keyed by (dev, ino), at most half full,
 * under one mutex.
 *
 * The racy-timestamp rule: a file whose mtime is within RACY_NS of the moment
 * it was hashed could be modified again within the same timestamp tick
 * without its stat changing, so such an entry is not recorded and the file is
 * hashed again next time (git's "racily clean" problem).
 */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAGIC "CSTATC01"
#define RACY_NS 20000000LL
#define MAX_ENTRIES (64u << 20)

struct rec {
	uint64_t dev, ino;
	int64_t size, mtime_ns;
	unsigned char digest[32];
};

struct statcache {
	char *path;
	struct rec *tab;   /* ino == 0 && dev == 0: empty slot */
	size_t cap, n;
	bool dirty;
	pthread_mutex_t mu;
};

static uint64_t mix(uint64_t dev, uint64_t ino)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ULL ^ (dev + 0x632be59bd9b4e019ULL);

	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

static struct rec *slot(struct rec *tab, size_t cap, uint64_t dev, uint64_t ino)
{
	size_t i = mix(dev, ino) & (cap - 1);

	while (tab[i].ino || tab[i].dev) {
		if (tab[i].dev == dev && tab[i].ino == ino)
			return &tab[i];
		i = (i + 1) & (cap - 1);
	}
	return &tab[i];
}

static int grow_to(struct statcache *sc, size_t cap);

static int grow(struct statcache *sc)
{
	return grow_to(sc, sc->cap ? sc->cap * 2 : 1024);
}

static int grow_to(struct statcache *sc, size_t cap)
{
	struct rec *tab = ccalloc(cap, sizeof(*tab));

	if (!tab)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < sc->cap; i++)
		if (sc->tab[i].ino || sc->tab[i].dev)
			*slot(tab, cap, sc->tab[i].dev, sc->tab[i].ino) = sc->tab[i];
	free(sc->tab);
	sc->tab = tab;
	sc->cap = cap;
	return 0;
}

static int insert(struct statcache *sc, const struct rec *r)
{
	struct rec *s;

	if ((sc->n + 1) * 2 > sc->cap && grow(sc))
		return CAIRN_ENOMEM;
	s = slot(sc->tab, sc->cap, r->dev, r->ino);
	if (!s->ino && !s->dev)
		sc->n++;
	*s = *r;
	return 0;
}

int statcache_open(const char *path, struct statcache **out)
{
	struct statcache *sc = ccalloc(1, sizeof(*sc));
	struct buf b = BUF_INIT;
	uint64_t count;

	if (!sc || !(sc->path = cstrdup(path))) {
		free(sc);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&sc->mu, NULL);
	if (grow(sc)) {
		statcache_close(sc);
		return CAIRN_ENOMEM;
	}
	/* an unreadable or malformed cache is simply rebuilt */
	if (fs_read_file(path, (size_t)MAX_ENTRIES * sizeof(struct rec) + 16, &b) == 0 && b.len >= 16 &&
	    !memcmp(b.ptr, MAGIC, 8)) {
		memcpy(&count, b.ptr + 8, 8);
		if (count <= MAX_ENTRIES && b.len == 16 + count * sizeof(struct rec)) {
			size_t cap = sc->cap;
			while ((count + 1) * 2 > cap)
				cap *= 2;
			if (cap != sc->cap)
				grow_to(sc, cap);
			for (uint64_t i = 0; i < count; i++) {
				struct rec r;
				memcpy(&r, b.ptr + 16 + i * sizeof(r), sizeof(r));
				if ((r.ino || r.dev) && insert(sc, &r))
					break;
			}
		}
	}
	cairn_error_clear();
	buf_release(&b);
	*out = sc;
	return 0;
}

static int unhex(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool statcache_get(struct statcache *sc, const struct fkey *k, char hex[SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int64_t mt = k->mtime_ns;
	bool hit = false;
	struct rec *s;

	pthread_mutex_lock(&sc->mu);
	s = slot(sc->tab, sc->cap, k->dev, k->ino);
	if ((s->ino || s->dev) && s->size == k->size && s->mtime_ns == mt) {
		for (int i = 0; i < 32; i++) {
			hex[2 * i] = digits[s->digest[i] >> 4];
			hex[2 * i + 1] = digits[s->digest[i] & 15];
		}
		hex[SHA256_HEX_LEN] = '\0';
		hit = true;
	}
	pthread_mutex_unlock(&sc->mu);
	return hit;
}

void statcache_put(struct statcache *sc, const struct fkey *k, const char *hex, bool trusted)
{
	struct rec r = { k->dev, k->ino, k->size, k->mtime_ns, { 0 } };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (!trusted && r.mtime_ns > (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - RACY_NS)
		return;
	if (!r.ino && !r.dev)
		return;
	for (int i = 0; i < 32; i++)
		r.digest[i] = (unsigned char)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
	pthread_mutex_lock(&sc->mu);
	if (sc->n < MAX_ENTRIES && insert(sc, &r) == 0)
		sc->dirty = true;
	pthread_mutex_unlock(&sc->mu);
}

int statcache_save(struct statcache *sc)
{
	struct buf b = BUF_INIT;
	uint64_t count = sc->n;
	int rc;

	if (!sc->dirty)
		return 0;
	buf_init(&b, (size_t)MAX_ENTRIES * sizeof(struct rec) + 16);
	buf_put(&b, MAGIC, 8);
	buf_put(&b, &count, 8);
	for (size_t i = 0; i < sc->cap; i++)
		if (sc->tab[i].ino || sc->tab[i].dev)
			buf_put(&b, &sc->tab[i], sizeof(struct rec));
	rc = buf_error(&b);
	if (!rc)
		rc = fs_write_atomic(sc->path, b.ptr, b.len, 0644);
	if (!rc)
		sc->dirty = false;
	buf_release(&b);
	return rc;
}

void statcache_close(struct statcache *sc)
{
	if (!sc)
		return;
	pthread_mutex_destroy(&sc->mu);
	free(sc->tab);
	free(sc->path);
	free(sc);
}
