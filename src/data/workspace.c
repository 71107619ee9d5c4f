/* workspace.c - finding and opening a data workspace, its lock, config, .gitignore entries and remotes. */
#include "data/data_int.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "core/util.h"
#include "core/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hard links are opt-in: a workspace file that is a hard link of a cache
 * object is protected only by its read-only mode, which root ignores, so an
 * in-place edit would change the cached version too (detected, but lost). */
#define DEFAULT_LINKS "reflink,copy"
#define CONFIG_MAX (1 << 20)

/* The nearest folder upwards from start that holds `name`; NULL when none. */
static char *find_up(const char *start, const char *name, bool want_dir)
{
	struct buf b = BUF_INIT;
	char *dir = cstrdup(start);

	while (dir) {
		struct stat sb;
		char *slash;

		buf_clear(&b);
		buf_printf(&b, "%s/%s", strcmp(dir, "/") ? dir : "", name);
		if (!buf_error(&b) && stat(b.ptr, &sb) == 0 && (!want_dir || S_ISDIR(sb.st_mode)))
			break;
		slash = strrchr(dir, '/');
		if (!slash || !strcmp(dir, "/")) {
			free(dir);
			dir = NULL;
			break;
		}
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	buf_release(&b);
	return dir;
}

const char *data_repo_root(const struct data_repo *r)
{
	return r->root;
}

int repo_abs(const struct data_repo *r, const char *rel, struct buf *out)
{
	buf_clear(out);
	buf_puts(out, r->root);
	if (*rel) {
		buf_putc(out, '/');
		buf_puts(out, rel);
	}
	return buf_error(out);
}

int repo_rel(const struct data_repo *r, const char *user_path, struct buf *out)
{
	struct buf full = BUF_INIT, norm = BUF_INIT;
	size_t rl = strlen(r->root);
	const char *p;
	int rc = 0;

	if (!*user_path)
		return cairn_error_set(CAIRN_EINVALID, "empty path");
	if (user_path[0] != '/')
		buf_printf(&full, "%s/", r->cwd);
	buf_puts(&full, user_path);
	if ((rc = buf_error(&full)))
		goto out;
	/* lexical normal form: drop "." and empty components, fold ".." */
	for (p = full.ptr; *p;) {
		size_t k = strcspn(p, "/");
		if (k == 0 || (k == 1 && p[0] == '.')) {
		} else if (k == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(norm.ptr, '/');
			buf_truncate(&norm, slash ? (size_t)(slash - norm.ptr) : 0);
		} else {
			buf_putc(&norm, '/');
			buf_put(&norm, p, k);
		}
		p += k;
		if (*p == '/')
			p++;
	}
	if ((rc = buf_error(&norm)))
		goto out;
	if (rl == 1) /* root is "/" */
		rl = 0;
	if (strncmp(norm.ptr, r->root, rl) || (norm.ptr[rl] != '/' && norm.ptr[rl] != '\0')) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is outside the workspace (%s)", user_path, r->root);
		goto out;
	}
	buf_clear(out);
	p = norm.ptr + rl + (norm.ptr[rl] == '/');
	if (!strcmp(p, ".cairn") || !strncmp(p, ".cairn/", 7) || !strcmp(p, ".git") || !strncmp(p, ".git/", 5)) {
		rc = cairn_error_set(CAIRN_EINVALID, "'%s' is inside cairn's or git's own folder", user_path);
		goto out;
	}
	rc = path_clean_rel(p, strlen(p), true, out);
out:
	buf_release(&full);
	buf_release(&norm);
	return rc;
}

static int config_load(struct data_repo *r)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	const char *links;
	int rc;

	buf_printf(&path, "%s/config", r->dotdir);
	rc = buf_error(&path) ? buf_error(&path) : fs_read_file(path.ptr, CONFIG_MAX, &text);
	if (rc == CAIRN_ENOTFOUND) {
		rc = 0;
		r->config = json_object();
	} else if (!rc) {
		if ((rc = cyaml_parse(text.ptr, text.len, &r->config)))
			rc = cairn_error_set(rc, "%s: %s", path.ptr, cairn_error_msg());
		else if (json_is_null(r->config)) {
			json_decref(r->config);
			r->config = json_object();
		} else if (!json_is_object(r->config)) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s: not a YAML mapping", path.ptr);
		}
	}
	if (!rc) {
		links = json_string_value(json_object_get(json_object_get(r->config, "cache"), "type"));
		rc = parse_links(links ? links : DEFAULT_LINKS, r->links, &r->nlinks);
		if (rc)
			rc = cairn_error_set(rc, "%s: %s", path.ptr, cairn_error_msg());
	}
	buf_release(&path);
	buf_release(&text);
	return rc;
}

int config_save(struct data_repo *r)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	int rc;

	buf_printf(&path, "%s/config", r->dotdir);
	buf_puts(&text, "# cairn data settings (cairn data remote / cairn data config); commit it to git\n");
	if (!(rc = cyaml_dump_sorted(r->config, &text)) && !(rc = buf_error(&path)))
		rc = fs_write_atomic(path.ptr, text.ptr, text.len, 0644);
	buf_release(&path);
	buf_release(&text);
	return rc;
}

static int write_if_missing(const char *path, const char *text)
{
	if (access(path, F_OK) == 0)
		return 0;
	return fs_write_atomic(path, text, strlen(text), 0644);
}

int data_repo_open(const struct data_opts *o, struct data_repo **out)
{
	struct data_repo *r = ccalloc(1, sizeof(*r));
	char cwd[PATH_MAX];
	struct buf p = BUF_INIT;
	int rc = 0;

	if (!r)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	r->lock_fd = -1;
	r->o = *o;
	if (o->cwd ? !realpath(o->cwd, cwd) : !getcwd(cwd, sizeof(cwd))) {
		free(r);
		return cairn_error_set(CAIRN_EIO, "cannot resolve the current folder: %s", strerror(errno));
	}
	r->cwd = cstrdup(cwd);
	/* the nearest .cairn, but never above the git repository we are in: a
	 * stray ~/.cairn must not capture every repository below it */
	{
		char *git = find_up(cwd, ".git", false), *dc = find_up(cwd, ".cairn", true);
		if (dc && git && strlen(dc) < strlen(git)) {
			free(dc);
			dc = NULL;
		}
		r->root = dc ? dc : git ? git : cstrdup(cwd);
		if (dc)
			free(git);
	}
	buf_printf(&p, "%s/.cairn", strcmp(r->root, "/") ? r->root : "");
	r->dotdir = buf_detach(&p);
	if (!r->cwd || !r->root || !r->dotdir) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}
	buf_printf(&p, "%s/tmp", r->dotdir);
	if ((rc = buf_error(&p)) || (rc = path_mkdirs(p.ptr)))
		goto fail;
	buf_clear(&p);
	buf_printf(&p, "%s/.gitignore", r->dotdir);
	if ((rc = buf_error(&p)) || (rc = write_if_missing(p.ptr, "/cache/\n/tmp/\n")))
		goto fail;
	buf_clear(&p);
	buf_printf(&p, "%s/tmp/lock", r->dotdir);
	r->lock_fd = buf_error(&p) ? -1 : open(p.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->lock_fd < 0) {
		rc = cairn_error_set(CAIRN_EIO, "cannot open the workspace lock '%s': %s", p.ptr, strerror(errno));
		goto fail;
	}
	if (flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		cairn_log(LOG_INFO, "waiting for another cairn data command in %s", r->root);
		if (flock(r->lock_fd, LOCK_EX) != 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot lock the workspace: %s", strerror(errno));
			goto fail;
		}
	}
	if ((rc = config_load(r)))
		goto fail;
	buf_clear(&p);
	buf_printf(&p, "%s/cache", r->dotdir);
	if ((rc = buf_error(&p)) || (rc = blob_open_flags(p.ptr, BLOB_SHARED | BLOB_NOSYNC, &r->cache)))
		goto fail;
	buf_clear(&p);
	buf_printf(&p, "%s/tmp/statcache", r->dotdir);
	if ((rc = buf_error(&p)) || (rc = statcache_open(p.ptr, &r->sc)))
		goto fail;
	buf_release(&p);
	*out = r;
	return 0;
fail:
	buf_release(&p);
	data_repo_close(r);
	return rc;
}

void data_repo_close(struct data_repo *r)
{
	if (!r)
		return;
	if (r->sc) {
		statcache_save(r->sc);
		statcache_close(r->sc);
	}
	if (r->cache && atomic_load(&r->cache_written))
		blob_sync(r->cache); /* one flush instead of an fsync per object */
	blob_close(r->cache);
	json_decref(r->config);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->root);
	free(r->dotdir);
	free(r->cwd);
	free(r);
}

int data_gitignore(struct data_repo *r, const char *rel)
{
	return gitignore_add(r, rel);
}

int gitignore_add(struct data_repo *r, const char *rel)
{
	json_t *one = json_pack("[s]", rel);
	int rc = one ? data_gitignore_many(r, one) : cairn_error_set(CAIRN_ENOMEM, "out of memory");

	json_decref(one);
	return rc;
}

int data_gitignore_many(struct data_repo *r, const json_t *rels)
{
	json_t *bydir = json_object(), *names, *v;
	const char *dir;
	size_t i;
	int rc = 0;

	/* folder -> lines to have in its .gitignore */
	json_array_foreach(rels, i, v) {
		const char *rel = json_string_value(v), *slash = rel ? strrchr(rel, '/') : NULL;
		struct buf d = BUF_INIT;
		if (!rel)
			continue;
		buf_put(&d, rel, slash ? (size_t)(slash - rel) : 0);
		names = json_object_get(bydir, d.ptr);
		if (!names) {
			names = json_array();
			json_object_set_new(bydir, d.ptr, names);
		}
		json_array_append_new(names, json_sprintf("/%s", slash ? slash + 1 : rel));
		buf_release(&d);
	}
	json_object_foreach(bydir, dir, names) {
		struct buf path = BUF_INIT, abs = BUF_INIT, text = BUF_INIT;
		json_t *have = json_object(), *line;
		size_t k;
		bool changed = false;

		buf_printf(&path, "%s%s.gitignore", dir, *dir ? "/" : "");
		if ((rc = buf_error(&path)) || (rc = repo_abs(r, path.ptr, &abs)))
			goto next;
		rc = fs_read_file(abs.ptr, CONFIG_MAX, &text);
		if (rc == CAIRN_ENOTFOUND) {
			cairn_error_clear();
			rc = 0;
		}
		if (rc)
			goto next;
		for (const char *p = text.ptr; *p;) {
			size_t n = strcspn(p, "\n");
			json_object_setn_new(have, p, n, json_true());
			p += n + (p[n] == '\n');
		}
		json_array_foreach(names, k, line) {
			if (json_object_get(have, json_string_value(line)))
				continue;
			if (text.len && text.ptr[text.len - 1] != '\n')
				buf_putc(&text, '\n');
			buf_printf(&text, "%s\n", json_string_value(line));
			json_object_set_new(have, json_string_value(line), json_true());
			changed = true;
		}
		if (changed)
			rc = buf_error(&text) ? buf_error(&text) : fs_write_atomic(abs.ptr, text.ptr, text.len, 0644);
next:
		json_decref(have);
		buf_release(&path);
		buf_release(&abs);
		buf_release(&text);
		if (rc)
			break;
	}
	json_decref(bydir);
	return rc;
}

/* Remotes and settings */

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static json_t *section(struct data_repo *r, const char *name)
{
	json_t *s = json_object_get(r->config, name);

	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(r->config, name, s);
	}
	return s;
}

int data_remote_add(struct data_repo *r, const char *name, const char *url, bool make_default)
{
	json_t *remotes = section(r, "remote");

	if (!valid_name(name))
		return cairn_error_set(CAIRN_EINVALID, "remote name '%s' must be letters, digits, '-', '_' or '.'", name);
	if (!*url)
		return cairn_error_set(CAIRN_EINVALID, "remote '%s' needs a URL or path", name);
	if (json_object_get(remotes, name))
		return cairn_error_set(CAIRN_EEXISTS, "remote '%s' already exists (remove it first)", name);
	json_object_set_new(remotes, name, json_pack("{s:s}", "url", url));
	if (make_default)
		json_object_set_new(section(r, "core"), "remote", json_string(name));
	return config_save(r);
}

int data_remote_remove(struct data_repo *r, const char *name)
{
	json_t *core = section(r, "core");

	if (json_object_del(section(r, "remote"), name))
		return cairn_error_set(CAIRN_ENOTFOUND, "no remote named '%s'", name);
	if (json_is_string(json_object_get(core, "remote")) &&
	    !strcmp(json_string_value(json_object_get(core, "remote")), name))
		json_object_del(core, "remote");
	return config_save(r);
}

int data_remote_default(struct data_repo *r, const char *name)
{
	if (!json_object_get(section(r, "remote"), name))
		return cairn_error_set(CAIRN_ENOTFOUND, "no remote named '%s'", name);
	json_object_set_new(section(r, "core"), "remote", json_string(name));
	return config_save(r);
}

int data_remote_list(struct data_repo *r, json_t **out)
{
	json_t *remotes = json_object(), *v;
	const char *key, *def = json_string_value(json_object_get(json_object_get(r->config, "core"), "remote"));

	json_object_foreach(json_object_get(r->config, "remote"), key, v)
		json_object_set(remotes, key, json_object_get(v, "url"));
	*out = json_pack("{s:o,s:o}", "default", def ? json_string(def) : json_null(), "remotes", remotes);
	return 0;
}

int data_config(struct data_repo *r, const char *key, const char *value, json_t **out)
{
	const char *dot = strchr(key, '.');
	char sec[64];
	json_t *s;
	int rc;

	if (strcmp(key, "cache.type") && strcmp(key, "core.remote"))
		return cairn_error_set(CAIRN_EINVALID, "unknown setting '%s' (known: cache.type, core.remote)", key);
	snprintf(sec, sizeof(sec), "%.*s", (int)(dot - key), key);
	s = section(r, sec);
	if (!value) {
		json_t *v = json_object_get(s, dot + 1);
		*out = v ? json_incref(v) : json_null();
		return 0;
	}
	if (!strcmp(key, "cache.type")) {
		enum link_kind l[3];
		int n;
		if ((rc = parse_links(value, l, &n)))
			return rc;
	} else if (!json_object_get(json_object_get(r->config, "remote"), value)) {
		return cairn_error_set(CAIRN_ENOTFOUND, "no remote named '%s'", value);
	}
	json_object_set_new(s, dot + 1, json_string(value));
	*out = json_string(value);
	return config_save(r);
}

int remote_open(struct data_repo *r, const char *name, bool create, struct blob_store **out, const char **used_name,
		const char **url_out)
{
	json_t *remotes = json_object_get(r->config, "remote");
	const char *url;
	struct buf dir = BUF_INIT;
	struct stat sb;
	int rc = 0;

	if (!name)
		name = json_string_value(json_object_get(json_object_get(r->config, "core"), "remote"));
	if (!name)
		return cairn_error_set(CAIRN_EINVALID,
				       "no remote named and no default remote (cairn data remote add NAME PATH --default)");
	url = json_string_value(json_object_get(json_object_get(remotes, name), "url"));
	if (!url)
		return cairn_error_set(CAIRN_ENOTFOUND, "no remote named '%s' (cairn data remote list)", name);
	if (!strncmp(url, "file://", 7))
		url += 7;
	else if (strstr(url, "://"))
		return cairn_error_set(CAIRN_EUNSUPPORTED,
				       "remote '%s' (%s): only local or NFS directories are supported so far", name, url);
	if (url[0] != '/')
		buf_printf(&dir, "%s/", r->root);
	buf_puts(&dir, url);
	if ((rc = buf_error(&dir)))
		goto out;
	if (stat(dir.ptr, &sb) != 0) {
		int e = errno;
		/* push may create the remote folder, but only inside an existing parent:
		 * an unmounted share must not silently become a local folder */
		if (create && e == ENOENT && mkdir(dir.ptr, 0755) == 0)
			goto open;
		rc = cairn_error_set(CAIRN_EIO, "remote '%s' is not reachable: '%s': %s", name, dir.ptr, strerror(e));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		rc = cairn_error_set(CAIRN_EIO, "remote '%s' is not reachable: '%s' is not a directory", name, dir.ptr);
		goto out;
	}
open:
	if ((rc = blob_open_flags(dir.ptr, BLOB_SHARED, out)))
		rc = cairn_error_set(rc, "remote '%s': %s", name, cairn_error_msg());
	*used_name = name;
	*url_out = url;
out:
	buf_release(&dir);
	return rc;
}
