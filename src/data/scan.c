/* scan.c - listing workspace trees and hashing them in parallel through the stat cache. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct par {
	int (*fn)(size_t i, void *arg);
	void *arg;
	size_t n;
	atomic_size_t next;
	atomic_int stop;
	pthread_mutex_t mu;
	int rc;
	char msg[1024];
};

static void *par_worker(void *p_)
{
	struct par *p = p_;
	size_t i;

	while (!atomic_load(&p->stop) && (i = atomic_fetch_add(&p->next, 1)) < p->n) {
		int rc = p->fn(i, p->arg);
		if (rc) {
			pthread_mutex_lock(&p->mu);
			if (!p->rc) {
				p->rc = rc;
				snprintf(p->msg, sizeof(p->msg), "%s", cairn_error_msg());
			}
			pthread_mutex_unlock(&p->mu);
			atomic_store(&p->stop, 1);
		}
	}
	return NULL;
}

int data_parallel(int jobs, size_t n, int (*fn)(size_t i, void *arg), void *arg)
{
	struct par p = { .fn = fn, .arg = arg, .n = n };
	pthread_t th[64];
	int started = 0;

	pthread_mutex_init(&p.mu, NULL);
	if (jobs > 64)
		jobs = 64;
	if ((size_t)jobs > n)
		jobs = (int)n;
	for (int t = 1; t < jobs; t++)
		if (pthread_create(&th[started], NULL, par_worker, &p) == 0)
			started++;
	par_worker(&p); /* the calling thread works too */
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.rc)
		return cairn_error_set(p.rc, "%s", p.msg);
	return 0;
}

int data_jobs(const struct data_repo *r, bool io_bound)
{
	static atomic_long online; /* sysconf reads /sys each time: ask once */
	long cores = atomic_load(&online);

	if (!cores) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		atomic_store(&online, cores);
	}

	if (r->o.jobs > 0)
		return r->o.jobs;
	if (cores < 1)
		cores = 1;
	return io_bound ? 8 : (int)(cores > 32 ? 32 : cores);
}

struct name {
	char *name;
	size_t len;
	bool dir;
};

/* Byte i of the name as it sorts: a folder's name is compared as "name/". */
static int vchar(const struct name *n, size_t i)
{
	return i < n->len ? (unsigned char)n->name[i] : i == n->len && n->dir ? '/' : 0;
}

/* Sort as the full paths will sort, so walking the sorted names depth-first
 * yields every path in bytewise order and the list never needs sorting
 * afterwards (git's index order). */
static int cmp_name(const void *a_, const void *b_)
{
	const struct name *a = a_, *b = b_;

	for (size_t i = 0;; i++) {
		int x = vchar(a, i), y = vchar(b, i);
		if (x != y || !x)
			return x - y;
	}
}

static int scan_rec(int dfd, struct buf *rel, struct dlist *l, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	struct name *names = NULL;
	size_t n = 0, cap = 0, base = rel->len;
	int rc = 0;

	if (!d) {
		close(dfd);
		return cairn_error_set(CAIRN_EIO, "cannot read directory '%s': %s", rel->ptr, strerror(errno));
	}
	while (!rc && (e = readdir(d))) {
		struct stat sb;
		bool dir = e->d_type == DT_DIR;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK)
			dir = fstatat(dirfd(d), e->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
		if (n == cap) {
			struct name *v = crealloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!v) {
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
				break;
			}
			names = v;
		}
		if (!(names[n].name = cstrdup(e->d_name))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			break;
		}
		names[n].len = strlen(e->d_name);
		names[n++].dir = dir;
	}
	if (!rc && n > 1)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; !rc && i < n; i++) {
		const char *nm = names[i].name;
		size_t nl = strlen(nm);
		struct stat sb;

		buf_truncate(rel, base);
		if (base)
			buf_putc(rel, '/');
		buf_puts(rel, nm);
		if ((rc = buf_error(rel)))
			break;
		if (strchr(nm, '\n') || strchr(nm, '\\')) {
			rc = cairn_error_set(CAIRN_EINVALID, "cannot track a file whose name has a newline or backslash: '%s'",
					     rel->ptr);
			break;
		}
		if (fstatat(dirfd(d), nm, &sb, 0) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot stat '%s': %s", rel->ptr, strerror(errno));
			break;
		}
		if (S_ISREG(sb.st_mode) && !names[i].dir) {
			if (nl > strlen(POINTER_SUFFIX) && !strcmp(nm + nl - strlen(POINTER_SUFFIX), POINTER_SUFFIX)) {
				rc = cairn_error_set(CAIRN_EINVALID,
						     "'%s' is a pointer file inside a tracked directory; untrack it "
						     "first (remove the pointer) or track the parts separately",
						     rel->ptr);
				break;
			}
			if ((rc = dlist_push(l, rel->ptr, rel->len)))
				break;
			l->v[l->n - 1].key = fkey_of(&sb);
			l->v[l->n - 1].has_stat = true;
			l->v[l->n - 1].size = sb.st_size;
			l->v[l->n - 1].mode = (sb.st_mode & 0111) ? 0755 : 0644;
			l->bytes += sb.st_size;
		} else if (S_ISDIR(sb.st_mode) && names[i].dir) {
			struct stat lsb;
			int sub;
			if (fstatat(dirfd(d), nm, &lsb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lsb.st_mode)) {
				rc = cairn_error_set(CAIRN_EINVALID,
						     "'%s' is a symbolic link to a directory; cairn tracks regular files and "
						     "folders only", rel->ptr);
				break;
			}
			if (depth >= 256) {
				rc = cairn_error_set(CAIRN_ETOOBIG, "'%s' is nested too deeply", rel->ptr);
				break;
			}
			sub = openat(dirfd(d), nm, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0) {
				rc = cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", rel->ptr, strerror(errno));
				break;
			}
			rc = scan_rec(sub, rel, l, depth + 1);
		} else if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
			rc = cairn_error_set(CAIRN_EIO, "'%s' changed type while it was read; try again", rel->ptr);
		} else {
			rc = cairn_error_set(CAIRN_EINVALID, "'%s' is not a regular file or folder; cairn cannot track it",
					     rel->ptr);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i].name);
	free(names);
	buf_truncate(rel, base);
	closedir(d);
	return rc;
}

int scan_dir(const char *abs_dir, struct dlist *l)
{
	struct buf rel = BUF_INIT;
	int fd = open(abs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot read directory '%s': %s",
				       abs_dir, strerror(errno));
	rc = scan_rec(fd, &rel, l, 0);
	buf_release(&rel);
	return rc;
}

int data_hash_file(struct data_repo *r, const char *abs, struct fkey *k, char hex[SHA256_HEX_LEN + 1])
{
	struct stat after;
	int fd, rc;

	if (statcache_get(r->sc, k, hex))
		return 0;
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "cannot open '%s': %s", abs,
				       strerror(errno));
	rc = fs_hash_fd(fd, hex, NULL);
	if (!rc && fstat(fd, &after) == 0) {
		struct fkey now = fkey_of(&after);
		/* remember it only when nothing changed while it was read */
		if (!memcmp(&now, k, sizeof(now)))
			statcache_put(r->sc, k, hex, false);
		*k = now;
	}
	close(fd);
	if (rc)
		return cairn_error_set(rc, "'%s': %s", abs, cairn_error_msg());
	return 0;
}

struct hash_job {
	struct data_repo *r;
	const char *base;
	struct dlist *l;
	struct progress pg;
};

static int hash_one(size_t i, void *arg)
{
	struct hash_job *j = arg;
	struct dentry *e = &j->l->v[i];
	struct buf abs = BUF_INIT;
	int rc;

	dentry_abs(j->base, e, &abs);
	if (!(rc = buf_error(&abs))) {
		if (!e->has_stat) {
			struct stat sb;
			if (stat(abs.ptr, &sb) != 0)
				rc = cairn_error_set(CAIRN_EIO, "cannot stat '%s': %s", abs.ptr, strerror(errno));
			else
				e->key = fkey_of(&sb);
			e->has_stat = !rc;
		}
		if (!rc)
			rc = data_hash_file(j->r, abs.ptr, &e->key, e->hex);
	}
	buf_release(&abs);
	progress_add(&j->pg, 1, e->size);
	return rc;
}

int scan_hash(struct data_repo *r, const char *base, struct dlist *l, const char *label)
{
	struct hash_job j = { r, base, l, { 0 } };
	int rc;

	progress_begin(&j.pg, label, (int64_t)l->n, l->bytes, r->o.quiet);
	rc = data_parallel(data_jobs(r, false), l->n, hash_one, &j);
	progress_end(&j.pg);
	return rc;
}
