/* data_int.h - what the files of src/data share; not for other layers. */
#ifndef CAIRN_DATA_DATA_INT_H
#define CAIRN_DATA_DATA_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "blob/blob.h"
#include "core/buf.h"
#include "core/hash.h"
#include "data/data.h"

#define POINTER_SUFFIX ".cairn"
#define MANIFEST_MAGIC "cairn-manifest 1\n"

enum link_kind { LINK_REFLINK, LINK_HARDLINK, LINK_COPY };

struct statcache;

struct data_repo {
	char *root;        /* absolute, no trailing '/' */
	char *dotdir;      /* <root>/.cairn */
	struct blob_store *cache;
	struct statcache *sc;
	json_t *config;    /* .cairn/config as an object */
	int lock_fd;
	struct data_opts o;
	char *cwd;         /* absolute */
	enum link_kind links[3];
	int nlinks;
	atomic_bool no_reflink;     /* the filesystem refused a clone once: stop trying */
	atomic_bool cache_written;  /* flush the cache's filesystem at close */
};

/* What the stat cache keys on: a file's identity and the stat fields that
 * change when its content does. */
struct fkey {
	uint64_t dev, ino;
	int64_t size, mtime_ns;
};

static inline struct fkey fkey_of(const struct stat *sb)
{
	return (struct fkey){ (uint64_t)sb->st_dev, (uint64_t)sb->st_ino, (int64_t)sb->st_size,
			      (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec };
}

/* One file: in a scan of the workspace or a manifest. path is relative to
 * the tracked directory (or the file's own name for a single file). */
struct dentry {
	char *path;
	char hex[SHA256_HEX_LEN + 1];
	int64_t size;
	unsigned mode;     /* 0644 or 0755 */
	struct fkey key;   /* valid when has_stat */
	bool has_stat;
};

struct dlist {
	struct dentry *v;
	size_t n, cap;
	int64_t bytes;
};

void dlist_release(struct dlist *l);
int dlist_push(struct dlist *l, const char *path, size_t n);
void dlist_sort(struct dlist *l);
/* "<base>/<e->path>" (or base itself for a single file's empty path) into out. */
int dentry_abs(const char *base, const struct dentry *e, struct buf *out);
/* Binary search by path in a sorted list; NULL when absent. */
struct dentry *dlist_find(const struct dlist *l, const char *path);

/* manifest.c: "cairn-manifest 1\n" then "<sha256> <size> <mode octal> <path>\n"
 * per file, sorted bytewise by path. */
int manifest_format(const struct dlist *l, struct buf *out);
int manifest_parse(const char *text, size_t n, struct dlist *out);

/* pointer.c */
struct pointer {
	char *file;        /* repo-relative pointer file ("data/raw.csv.cairn") */
	char *data;        /* repo-relative data path ("data/raw.csv") */
	char *name;        /* the path field, relative to the pointer's folder */
	char hex[SHA256_HEX_LEN + 1];
	int64_t size, nfiles;
	bool is_dir;
	bool isexec;       /* a file with the executable bit (DVC's isexec) */
	json_t *keep;      /* desc/meta keys kept as they were (may be NULL) */
};
int pointer_parse(const char *text, size_t n, const char *file, struct pointer *p);
int pointer_format(const struct pointer *p, struct buf *out);
/* Read and parse <root>/<file>. */
int pointer_load(struct data_repo *r, const char *file, struct pointer *p);
void pointer_release(struct pointer *p);
/* Every pointer file under the workspace (sorted, repo-relative), skipping
 * .git, .cairn and tracked directories. */
int pointer_find_all(struct data_repo *r, json_t **files);
/* Resolve user targets (data paths or pointer files, relative to cwd) into
 * repo-relative pointer files; all pointers when n == 0. */
int pointer_targets(struct data_repo *r, char *const *targets, size_t n, json_t **files);

/* statcache.c: (dev, inode, size, mtime_ns) -> sha256, in .cairn/tmp/statcache */
int statcache_open(const char *path, struct statcache **out);
bool statcache_get(struct statcache *sc, const struct fkey *k, char hex[SHA256_HEX_LEN + 1]);
/* Remember sb -> hex; trusted: cairn wrote the file itself (skips the
 * racy-timestamp rule for files modified this very moment). */
void statcache_put(struct statcache *sc, const struct fkey *k, const char *hex, bool trusted);
int statcache_save(struct statcache *sc);
void statcache_close(struct statcache *sc);

/* scan.c */
/* Run fn(i, arg) for i in [0, n) on `jobs` threads; stops at the first
 * non-zero return and reports it (with its message) to the caller. */
int data_parallel(int jobs, size_t n, int (*fn)(size_t i, void *arg), void *arg);
int data_jobs(const struct data_repo *r, bool io_bound);
/* Recursively list regular files under abs_dir into l (sorted); symlinks to
 * files are followed; other file types are an error naming the path. */
int scan_dir(const char *abs_dir, struct dlist *l);
/* Fill hex of every entry (stat cache first, else read), in parallel, with
 * a progress line. base is the absolute directory the paths are under. */
int scan_hash(struct data_repo *r, const char *base, struct dlist *l, const char *label);
/* Hash one file by absolute path through the stat cache. */
int data_hash_file(struct data_repo *r, const char *abs, struct fkey *k, char hex[SHA256_HEX_LEN + 1]);

/* link.c */
/* Put the file at abs (hashed to hex) into the cache by the configured strategy. */
int cache_insert(struct data_repo *r, const char *abs, const char *hex, unsigned mode);
/* True when a file of this mode would be copied into the cache (no usable
 * reflink or hard link before copy in cache.type). */
bool cache_copies(struct data_repo *r, unsigned mode);
/* Copy a file not hashed yet into the cache, hashing it on the way: *hex
 * gets its digest, *k its stat (remembered when it did not change meanwhile). */
int cache_insert_new(struct data_repo *r, const char *abs, struct fkey *k, char hex[SHA256_HEX_LEN + 1]);
/* Check a cache object is intact (stat cache, else re-hash): CAIRN_ENOTFOUND
 * when absent, CAIRN_EIO naming it when corrupt. */
int cache_check(struct data_repo *r, const char *hex);
/* Replace abs with object hex (mode 0644/0755) by the configured strategy. */
int cache_materialize(struct data_repo *r, const char *hex, const char *abs, unsigned mode);
/* Read a (small) object whole, verifying its hash. */
int cache_read(struct data_repo *r, const char *hex, size_t max, struct buf *out);
int parse_links(const char *spec, enum link_kind *links, int *n);

/* workspace.c */
/* "<root>/<rel>" into out (cleared first). */
int repo_abs(const struct data_repo *r, const char *rel, struct buf *out);
/* A user path (relative to cwd or absolute) as a clean repo-relative path;
 * CAIRN_EINVALID when outside the workspace. */
int repo_rel(const struct data_repo *r, const char *user_path, struct buf *out);
/* Add "/name" to the .gitignore of the folder holding rel. */
int gitignore_add(struct data_repo *r, const char *rel);
int config_save(struct data_repo *r);
/* The remote's directory: name NULL means the default; errors name the remote. */
int remote_open(struct data_repo *r, const char *name, bool create, struct blob_store **out, const char **used_name,
		const char **url);

/* Objects a set of pointers references: the pointer hashes, and for
 * directories the manifest and its members (when the manifest is at hand). */
int collect_objects(struct data_repo *r, json_t *pointer_files, json_t *objects, json_t *missing_manifests);

#endif
