/* package.c - `cairn models package URI -o DIR`: write a container build
 * context for one model (a Dockerfile on debian:bookworm-slim installing the
 * binary's runtime packages, this cairn binary, the model, an entrypoint
 * running cairn serve, .dockerignore, README.md). See package.h. */
#include "cli/package.h"
#include "cli/cmd.h"
#include "client/model_fetch.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "core/proc.h"
#include "model/mlmodel.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PKG_BASE_IMAGE "debian:bookworm-slim"
#define PKG_BASE_CODENAME "bookworm"
#define PKG_ROOT "/opt/cairn"                  /* where the image lays the context out */
#define PKG_ROOT_ENV "CAIRN_PACKAGE_ROOT"      /* entrypoint.sh's override of PKG_ROOT */
#define PKG_UID "10001"                        /* the image's user and group */
#define PKG_PORT "8080"
#define PKG_TMP_PREFIX ".cairn-package-"
#define PKG_MAX_DEPTH 32                       /* folders below a model directory */
#define PKG_MAX_LIBS 512
#define PKG_TOOL_OUTPUT ((size_t)4 << 20)      /* what ldd and dpkg-query may print */
#define PKG_ELF_MAX_TABLE ((uint64_t)16 << 20) /* the most of a dynamic section or string table read */

/* The packages installed when dpkg cannot say (docs/serving.md): the
 * libraries cairn links itself, with their Debian 12 packages; apt adds what
 * these depend on. */
static const struct {
	const char *soname, *deb;
} static_debs[] = {
	{ "libmicrohttpd.so.12", "libmicrohttpd12" }, { "libjansson.so.4", "libjansson4" },
	{ "libyaml-0.so.2", "libyaml-0-2" },          { "libsqlite3.so.0", "libsqlite3-0" },
	{ "libcrypto.so.3", "libssl3" },              { "libuuid.so.1", "libuuid1" },
	{ "libcurl.so.4", "libcurl4" },               { "libcsv.so.3", "libcsv3" },
	{ "libxgboost.so.0", "libxgboost0" },
};

/* What cairn uses a library it links for (README.md's reasons), by soname prefix. */
static const struct {
	const char *prefix, *what;
} lib_uses[] = {
	{ "libmicrohttpd.", "the HTTP server of cairn serve" },
	{ "libjansson.", "JSON" },
	{ "libyaml-0.", "YAML: MLmodel files" },
	{ "libsqlite3.", "the metadata store of a local data root" },
	{ "libcrypto.", "SHA-256, from OpenSSL" },
	{ "libssl.", "TLS, from OpenSSL" },
	{ "libuuid.", "ids" },
	{ "libcurl.", "the client of a remote tracking server" },
	{ "libcsv.", "CSV request bodies" },
	{ "libxgboost.", "the native XGBoost predictor" },
	{ "libasan.", "AddressSanitizer's runtime: this binary is a sanitizer build" },
	{ "libubsan.", "UndefinedBehaviorSanitizer's runtime: this binary is a sanitizer build" },
};

/* The C library and loader (Debian's libc6, in every Debian image). */
static const char *const libc_prefixes[] = {
	"libc.so.", "libm.so.", "libmvec.so.", "libpthread.so.", "libdl.so.", "librt.so.", "libresolv.so.",
	"libutil.so.", "ld-linux", "linux-vdso.", "linux-gate.",
};

/* One shared library the binary loads: a line of ldd's output. */
struct pkg_lib {
	char *soname;          /* the name ldd gives it ("libcurl.so.4") */
	char *path;            /* where it was found ("/lib/x86_64-linux-gnu/libcurl.so.4") */
	char *deb;             /* the Debian package owning it ("libcurl4"); NULL when none does */
	bool dev_only;         /* only a -dev package owns it */
	const char *needed_by; /* "cairn" when the binary links it, else the soname of the first
				* library that does (borrowed from libs); NULL when unknown */
	struct buf needed;     /* its own DT_NEEDED names, each followed by '\n' */
};

/* One package the Dockerfile installs. */
struct pkg_deb {
	char *name;       /* "libcurl4" */
	char *version;    /* the version installed where the context was written; NULL: unknown */
	struct buf why;   /* what it is there for: its libraries and who needs them, "; "-separated */
};

/* A growable list of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

/* Everything one package_write() gathers. */
struct pkg {
	const char *uri;          /* as given */
	struct buf dir;           /* DIR without trailing '/' */
	struct model_ref ref;     /* what uri resolved to */
	struct buf tmp;           /* the temporary folder being filled, beside dir */
	bool made_tmp;            /* tmp exists and is ours to remove */
	char exe[PATH_MAX];       /* the running binary, for README.md */
	int64_t exe_bytes;
	char flavor[300];         /* "xgboost", "python_function (loader mlflow.sklearn)" */
	bool python;              /* a Python flavor: python3, requirements.txt, --allow-pickle */
	struct buf serve_rel;     /* what the entrypoint serves, under the root ("model", "model/model.ubj") */
	size_t model_files;
	int64_t model_bytes;
	struct pkg_lib *libs;     /* what ldd listed */
	size_t nlibs;
	struct pkg_deb *debs;     /* what the Dockerfile installs, sorted by name */
	size_t ndebs;
	bool from_dpkg;           /* computed from ldd and dpkg -S; false: the static list */
	struct buf why_static;    /* why the static list was used */
	struct strv warnings;     /* for stderr and README.md */
	char codename[64];        /* this machine's VERSION_CODENAME ("" when unknown) */
	char platform[40];        /* the image's platform ("linux/amd64") */
};

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static int strv_push(struct strv *s, const char *str)
{
	char *c;

	if (s->n + 1 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = crealloc(s->v, cap * sizeof(*v));
		if (!v)
			return oom();
		s->v = v;
		s->cap = cap;
	}
	if (!(c = cstrdup(str)))
		return oom();
	s->v[s->n++] = c;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static bool is_libc(const char *soname)
{
	for (size_t i = 0; i < sizeof(libc_prefixes) / sizeof(libc_prefixes[0]); i++)
		if (has_prefix(soname, libc_prefixes[i]))
			return true;
	return false;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Append s with control bytes as '?' (for comments and Markdown), and, when
 * md, '|' and '`' escaped for a Markdown table cell. */
static void put_clean(struct buf *b, const char *s, bool md)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			buf_putc(b, '?');
		else if (md && (c == '|' || c == '`'))
			buf_printf(b, "\\%c", c);
		else
			buf_putc(b, (char)c);
	}
}

/* Append s quoted for a POSIX shell. */
static void put_sh_quoted(struct buf *b, const char *s)
{
	buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *s);
	}
	buf_putc(b, '\'');
}

static void put_size(struct buf *b, int64_t n)
{
	if (n < 1024)
		buf_printf(b, "%lld B", (long long)n);
	else if (n < 1024 * 1024)
		buf_printf(b, "%.1f KiB", (double)n / 1024);
	else
		buf_printf(b, "%.1f MiB", (double)n / (1024.0 * 1024));
}

static int warn(struct pkg *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int warn(struct pkg *p, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (!(rc = buf_error(&b)))
		rc = strv_push(&p->warnings, b.ptr);
	buf_release(&b);
	return rc;
}

/* ---- folders ---- */

/* Remove name under dirfd and everything below it, following no link (best effort). */
static void remove_tree_at(int dirfd, const char *name, int depth)
{
	fs_remove_tree_at(dirfd, name, (unsigned)(PKG_MAX_DEPTH + 2 - depth));
}

/* True when dir is a directory with nothing in it. */
static bool dir_is_empty(const char *dir)
{
	struct dirent *e;
	bool empty = true;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

/* Copy the rest of src into a new file name under dirfd with mode, durably. */
static int copy_fd_at(int src, int dirfd, const char *name, mode_t mode, int64_t *bytes)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return cairn_error_set(CAIRN_EIO, "cannot create '%s': %s", name, strerror(errno));
	if ((rc = fs_copy_fd(src, fd, NULL, bytes)))
		goto out;
	if (fchmod(fd, mode) || cfsync(fd))
		rc = cairn_error_set(CAIRN_EIO, "cannot write '%s': %s", name, strerror(errno));
out:
	close(fd);
	return rc;
}

/* Copy the folder src (a local model directory) into the new folder dst,
 * following links to files and folders; anything else is an error. */
static int copy_tree_at(int srcfd, int dstfd, const char *what, int depth)
{
	struct dirent *e;
	DIR *d;
	int dup_fd, rc = 0;

	if (depth > PKG_MAX_DEPTH)
		return cairn_error_set(CAIRN_ETOOBIG, "model directory '%.300s' is nested more than %d folders deep",
				       what, PKG_MAX_DEPTH);
	if ((dup_fd = dup(srcfd)) < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return cairn_error_set(CAIRN_EIO, "cannot read '%.300s': %s", what, strerror(errno));
	}
	rewinddir(d);
	while (!rc && (e = readdir(d))) {
		struct stat sb;
		int s = -1, t = -1;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(srcfd, e->d_name, &sb, 0)) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%.300s/%.300s': %s", what, e->d_name, strerror(errno));
		} else if (S_ISDIR(sb.st_mode)) {
			if (mkdirat(dstfd, e->d_name, 0755) ||
			    (s = openat(srcfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
			    (t = openat(dstfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				rc = cairn_error_set(CAIRN_EIO, "cannot copy '%.300s/%.300s': %s", what, e->d_name,
						     strerror(errno));
			else
				rc = copy_tree_at(s, t, what, depth + 1);
		} else if (S_ISREG(sb.st_mode)) {
			if ((s = openat(srcfd, e->d_name, O_RDONLY | O_CLOEXEC)) < 0)
				rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s/%.300s': %s", what, e->d_name,
						     strerror(errno));
			else
				rc = copy_fd_at(s, dstfd, e->d_name, 0644, NULL);
		} else {
			rc = cairn_error_set(CAIRN_EINVALID, "'%.300s/%.300s' in the model directory is neither a file nor "
							     "a folder", what, e->d_name);
		}
		if (s >= 0)
			close(s);
		if (t >= 0)
			close(t);
	}
	closedir(d);
	return rc;
}

/* Make the model's files readable by the image's user whatever the umask
 * (files 0644, folders 0755), count them, and fsync each folder. */
static int settle_tree_at(struct pkg *p, int dirfd, int depth)
{
	struct dirent *e;
	DIR *d;
	int dup_fd, rc = 0;

	if (depth > PKG_MAX_DEPTH)
		return cairn_error_set(CAIRN_ETOOBIG, "model is nested more than %d folders deep", PKG_MAX_DEPTH);
	if (fchmod(dirfd, 0755))
		return cairn_error_set(CAIRN_EIO, "cannot set the mode of a model folder: %s", strerror(errno));
	if ((dup_fd = dup(dirfd)) < 0 || !(d = fdopendir(dup_fd))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return cairn_error_set(CAIRN_EIO, "cannot read the model folder: %s", strerror(errno));
	}
	rewinddir(d);
	while (!rc && (e = readdir(d))) {
		struct stat sb;
		int fd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW)) {
			rc = cairn_error_set(CAIRN_EIO, "cannot read '%.300s': %s", e->d_name, strerror(errno));
		} else if (S_ISDIR(sb.st_mode)) {
			if ((fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", e->d_name, strerror(errno));
			} else {
				rc = settle_tree_at(p, fd, depth + 1);
				close(fd);
			}
		} else if (S_ISREG(sb.st_mode)) {
			if (fchmodat(dirfd, e->d_name, 0644, 0))
				rc = cairn_error_set(CAIRN_EIO, "cannot set the mode of '%.300s': %s", e->d_name,
						     strerror(errno));
			p->model_files++;
			p->model_bytes += (int64_t)sb.st_size;
		} else {
			rc = cairn_error_set(CAIRN_EINVALID, "'%.300s' in the model is neither a file nor a folder",
					     e->d_name);
		}
	}
	closedir(d);
	if (!rc && cfsync(dirfd))
		rc = cairn_error_set(CAIRN_EIO, "cannot sync a model folder: %s", strerror(errno));
	return rc;
}

/* ---- ELF: which libraries a file names (DT_NEEDED) ---- */

/* The file offset of virtual address va, through the PT_LOAD segments. */
static bool elf_va_offset(const Elf64_Phdr *ph, size_t n, uint64_t va, uint64_t *off)
{
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = va - ph[i].p_vaddr + ph[i].p_offset;
			return true;
		}
	return false;
}

static bool pread_all(int fd, void *dst, uint64_t n, uint64_t off)
{
	return n <= SIZE_MAX && pread(fd, dst, (size_t)n, (off_t)off) == (ssize_t)n;
}

/* Append the DT_NEEDED names of the ELF file at path to out, each followed
 * by '\n'. Files that are not 64-bit ELF of this machine's byte order add
 * nothing (the names only explain README.md's reasons). */
static int elf_needed(const char *path, struct buf *out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph = NULL;
	Elf64_Dyn *dyn = NULL;
	char *str = NULL;
	uint64_t dyn_off = 0, dyn_size = 0, str_va = 0, str_size = 0, str_off;
	bool have_dyn = false, have_str = false;
	size_t ndyn;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (!pread_all(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum || eh.e_phnum == PN_XNUM)
		goto out;
	if (!(ph = ccalloc(eh.e_phnum, sizeof(*ph)))) {
		rc = oom();
		goto out;
	}
	if (!pread_all(fd, ph, (uint64_t)eh.e_phnum * sizeof(*ph), eh.e_phoff))
		goto out;
	for (size_t i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn_off = ph[i].p_offset;
			dyn_size = ph[i].p_filesz;
			have_dyn = true;
		}
	if (!have_dyn || dyn_size < sizeof(Elf64_Dyn) || dyn_size > PKG_ELF_MAX_TABLE)
		goto out;
	ndyn = (size_t)(dyn_size / sizeof(Elf64_Dyn));
	if (!(dyn = ccalloc(ndyn, sizeof(*dyn)))) {
		rc = oom();
		goto out;
	}
	if (!pread_all(fd, dyn, (uint64_t)ndyn * sizeof(*dyn), dyn_off))
		goto out;
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB) {
			str_va = dyn[i].d_un.d_ptr;
			have_str = true;
		} else if (dyn[i].d_tag == DT_STRSZ) {
			str_size = dyn[i].d_un.d_val;
		}
	}
	if (!have_str || !str_size || str_size > PKG_ELF_MAX_TABLE ||
	    !elf_va_offset(ph, eh.e_phnum, str_va, &str_off))
		goto out;
	if (!(str = cmalloc((size_t)str_size + 1))) {
		rc = oom();
		goto out;
	}
	if (!pread_all(fd, str, str_size, str_off))
		goto out;
	str[str_size] = '\0';
	for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++)
		if (dyn[i].d_tag == DT_NEEDED && dyn[i].d_un.d_val < str_size && str[dyn[i].d_un.d_val])
			buf_printf(out, "%s\n", str + dyn[i].d_un.d_val);
	rc = buf_error(out);
out:
	free(ph);
	free(dyn);
	free(str);
	close(fd);
	return rc;
}

/* True when the '\n'-terminated list names soname. */
static bool names(const struct buf *list, const char *soname)
{
	size_t n = strlen(soname);

	for (const char *s = list->ptr; *s;) {
		const char *nl = strchr(s, '\n');
		size_t k = nl ? (size_t)(nl - s) : strlen(s);
		if (k == n && !memcmp(s, soname, n))
			return true;
		s += k + (nl ? 1 : 0);
	}
	return false;
}

/* ---- libraries and packages ---- */

static int lib_add(struct pkg *p, const char *soname, size_t sn, const char *path, size_t pn)
{
	struct pkg_lib *l;

	for (size_t i = 0; i < p->nlibs; i++)
		if (strlen(p->libs[i].path) == pn && !memcmp(p->libs[i].path, path, pn))
			return 0;
	if (p->nlibs == PKG_MAX_LIBS)
		return cairn_error_set(CAIRN_ETOOBIG, "ldd lists more than %d libraries", PKG_MAX_LIBS);
	if (!(p->nlibs % 16)) {
		struct pkg_lib *v = crealloc(p->libs, (p->nlibs + 16) * sizeof(*v));
		if (!v)
			return oom();
		p->libs = v;
	}
	l = &p->libs[p->nlibs];
	memset(l, 0, sizeof(*l));
	l->needed = (struct buf)BUF_INIT;
	if (!(l->soname = cstrndup(soname, sn)) || !(l->path = cstrndup(path, pn))) {
		free(l->soname);
		free(l->path);
		return oom();
	}
	p->nlibs++;
	return 0;
}

/* Parse ldd's lines: "NAME => /PATH (0x...)", "/PATH (0x...)" (the loader),
 * "NAME (0x...)" (the vDSO: no file), "NAME => not found". */
static int parse_ldd(struct pkg *p, const char *text)
{
	int rc = 0;

	for (const char *line = text; *line && !rc;) {
		const char *end = strchr(line, '\n'), *arrow, *path;
		size_t n = end ? (size_t)(end - line) : strlen(line), pn;
		char *l = cstrndup(line, n), *s;

		line += n + (end ? 1 : 0);
		if (!l)
			return oom();
		s = l + strspn(l, " \t");
		if ((arrow = strstr(s, " => "))) {
			path = arrow + 4;
			pn = strcspn(path, " (");
			if (*path == '/')
				rc = lib_add(p, s, (size_t)(arrow - s), path, pn);
			else if (has_prefix(path, "not found"))
				rc = warn(p, "ldd cannot find %.*s, which the binary needs", (int)(arrow - s), s);
		} else if (*s == '/') {
			pn = strcspn(s, " (");
			rc = lib_add(p, base_name(s), strcspn(base_name(s), " ("), s, pn);
		}
		free(l);
	}
	return rc;
}

/* Who needs each library: the binary itself, else the first library that names it. */
static int find_needed_by(struct pkg *p, const char *exe)
{
	struct buf top = BUF_INIT;
	int rc;

	if ((rc = elf_needed(exe, &top)))
		goto out;
	for (size_t i = 0; i < p->nlibs && !rc; i++)
		rc = elf_needed(p->libs[i].path, &p->libs[i].needed);
	for (size_t i = 0; i < p->nlibs && !rc; i++) {
		struct pkg_lib *l = &p->libs[i];
		if (names(&top, l->soname)) {
			l->needed_by = "cairn";
			continue;
		}
		for (size_t j = 0; j < p->nlibs && !l->needed_by; j++)
			if (j != i && names(&p->libs[j].needed, l->soname))
				l->needed_by = p->libs[j].soname;
	}
out:
	buf_release(&top);
	return rc;
}

/* The names dpkg may know path by: as given and resolved, each with /usr
 * added or removed (on a merged-/usr system ldd says /lib/..., while most
 * packages ship /usr/lib/...). */
static int lib_candidates(const char *path, struct strv *out)
{
	char real[PATH_MAX];
	const char *forms[2] = { path, realpath(path, real) && strcmp(real, path) ? real : NULL };
	struct buf alt = BUF_INIT;
	int rc = 0;

	for (int i = 0; i < 2 && !rc; i++) {
		if (!forms[i])
			continue;
		buf_clear(&alt);
		if (has_prefix(forms[i], "/usr/"))
			buf_puts(&alt, forms[i] + 4);
		else
			buf_printf(&alt, "/usr%s", forms[i]);
		if (!(rc = strv_push(out, forms[i])) && !(rc = buf_error(&alt)))
			rc = strv_push(out, alt.ptr);
	}
	buf_release(&alt);
	return rc;
}

/* The package for a library from dpkg's "pkg:arch, pkg2: " list (n bytes):
 * the first that is not a -dev package, else the first. */
static char *pick_deb(const char *list, size_t n, bool *dev_only)
{
	char *first = NULL, *pick = NULL;

	for (size_t i = 0; i < n && !pick;) {
		size_t k = 0;
		char *name;

		while (i < n && (list[i] == ' ' || list[i] == ','))
			i++;
		while (i + k < n && list[i + k] != ',' && list[i + k] != ':')
			k++;
		if (!k)
			break;
		if (!(name = cstrndup(list + i, k)))
			break;
		i += k;
		while (i < n && list[i] != ',') /* ":amd64" */
			i++;
		if (!has_suffix(name, "-dev")) {
			pick = name;
		} else if (!first) {
			first = name;
		} else {
			free(name);
		}
	}
	*dev_only = !pick && first;
	if (pick) {
		free(first);
		return pick;
	}
	return first;
}

/* Run a helper tool (ldd, dpkg-query) and collect its stdout into out.
 * Running out of memory is an error (CAIRN_ENOMEM); anything else is not:
 * *ran says whether the tool ran and all its output was kept (*code: its
 * exit code), and when it did not, the message says why. */
static int run_tool(char *const *argv, struct buf *out, bool *ran, int *code)
{
	int rc = proc_capture(argv, NULL, out, code);

	if (rc == CAIRN_ENOMEM || out->err == CAIRN_ENOMEM)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!rc && out->err)
		cairn_error_set(out->err, "%s printed more than %zu bytes", argv[0], PKG_TOOL_OUTPUT);
	*ran = !rc && !out->err;
	return 0;
}

/* Find the line "pkg:arch, pkg2: PATH" of dpkg-query --search's output for
 * exactly path; *owners and *n get its package list. */
static bool dpkg_line_for(const char *out, const char *path, const char **owners, size_t *n)
{
	size_t plen = strlen(path);

	for (const char *line = out; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *sep = memmem(line, len, ": /", 3);

		if (sep && !has_prefix(line, "diversion ") && (size_t)(line + len - (sep + 2)) == plen &&
		    !memcmp(sep + 2, path, plen)) {
			*owners = line;
			*n = (size_t)(sep - line);
			return true;
		}
		line += len + (end ? 1 : 0);
	}
	return false;
}

/* Look every library up with dpkg -S. CAIRN_ENOTFOUND when dpkg cannot be
 * run or knows none of them (then the static list is used). */
static int dpkg_owners(struct pkg *p)
{
	struct strv argv = { 0 }, cand = { 0 };
	struct buf out = BUF_INIT;
	size_t found = 0;
	bool ran;
	int code, rc;

	buf_init(&out, PKG_TOOL_OUTPUT);
	if ((rc = strv_push(&argv, "dpkg-query")) || (rc = strv_push(&argv, "--search")))
		goto out;
	for (size_t i = 0; i < p->nlibs && !rc; i++)
		rc = lib_candidates(p->libs[i].path, &argv);
	if (rc || (rc = run_tool(argv.v, &out, &ran, &code)))
		goto out;
	if (!ran) {
		char why[300];
		snprintf(why, sizeof(why), "%s", cairn_error_msg());
		rc = cairn_error_set(CAIRN_ENOTFOUND, "dpkg-query could not be run (%s)", why);
		goto out;
	}
	for (size_t i = 0; i < p->nlibs && !rc; i++) {
		struct pkg_lib *l = &p->libs[i];

		strv_release(&cand);
		if ((rc = lib_candidates(l->path, &cand)))
			break;
		for (size_t c = 0; c < cand.n && !l->deb; c++) {
			const char *owners;
			size_t n;
			if (dpkg_line_for(out.ptr, cand.v[c], &owners, &n) &&
			    !(l->deb = pick_deb(owners, n, &l->dev_only)))
				rc = oom();
		}
		found += l->deb != NULL;
	}
	if (!rc && !found && p->nlibs)
		rc = cairn_error_set(CAIRN_ENOTFOUND, "dpkg-query --search knows none of the binary's libraries "
						      "(exit code %d)", code);
out:
	strv_release(&argv);
	strv_release(&cand);
	buf_release(&out);
	return rc;
}

static struct pkg_deb *deb_get(struct pkg *p, const char *name)
{
	struct pkg_deb *d;

	for (size_t i = 0; i < p->ndebs; i++)
		if (!strcmp(p->debs[i].name, name))
			return &p->debs[i];
	if (!(p->ndebs % 16)) {
		struct pkg_deb *v = crealloc(p->debs, (p->ndebs + 16) * sizeof(*v));
		if (!v)
			return NULL;
		p->debs = v;
	}
	d = &p->debs[p->ndebs];
	memset(d, 0, sizeof(*d));
	d->why = (struct buf)BUF_INIT;
	if (!(d->name = cstrdup(name)))
		return NULL;
	p->ndebs++;
	return d;
}

static void debs_release(struct pkg *p)
{
	for (size_t i = 0; i < p->ndebs; i++) {
		free(p->debs[i].name);
		free(p->debs[i].version);
		buf_release(&p->debs[i].why);
	}
	free(p->debs);
	p->debs = NULL;
	p->ndebs = 0;
}

static const char *lib_use(const char *soname)
{
	for (size_t i = 0; i < sizeof(lib_uses) / sizeof(lib_uses[0]); i++)
		if (has_prefix(soname, lib_uses[i].prefix))
			return lib_uses[i].what;
	return NULL;
}

/* Append why library l is in the image to b. */
static void put_reason(struct buf *b, const struct pkg_lib *l)
{
	const char *use = lib_use(l->soname);

	if (b->len)
		buf_puts(b, "; ");
	buf_puts(b, l->soname);
	if (l->needed_by && !strcmp(l->needed_by, "cairn"))
		buf_printf(b, " (linked by cairn%s%s)", use ? ": " : "", use ? use : "");
	else if (l->needed_by)
		buf_printf(b, " (needed by %s)", l->needed_by);
	else
		buf_puts(b, " (loaded with cairn)");
}

static int cmp_deb(const void *a, const void *b)
{
	return strcmp(((const struct pkg_deb *)a)->name, ((const struct pkg_deb *)b)->name);
}

/* The versions installed here, for README.md (dpkg-query --show; best effort). */
static int deb_versions(struct pkg *p)
{
	struct strv argv = { 0 };
	struct buf out = BUF_INIT;
	bool ran = false;
	int code, rc;

	buf_init(&out, PKG_TOOL_OUTPUT);
	if ((rc = strv_push(&argv, "dpkg-query")) || (rc = strv_push(&argv, "--show")) ||
	    (rc = strv_push(&argv, "--showformat=${Package}\\t${Version}\\n")))
		goto out;
	for (size_t i = 0; i < p->ndebs && !rc; i++)
		rc = strv_push(&argv, p->debs[i].name);
	if (rc || (rc = run_tool(argv.v, &out, &ran, &code)) || !ran)
		goto out;
	for (const char *line = out.ptr; *line && !rc;) {
		const char *end = strchr(line, '\n'), *tab;
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if ((tab = memchr(line, '\t', n)) && tab + 1 < line + n)
			for (size_t i = 0; i < p->ndebs; i++)
				if (!p->debs[i].version && strlen(p->debs[i].name) == (size_t)(tab - line) &&
				    !memcmp(p->debs[i].name, line, (size_t)(tab - line)) &&
				    !(p->debs[i].version = cstrndup(tab + 1, (size_t)(line + n - tab - 1))))
					rc = oom();
		line += n + (end ? 1 : 0);
	}
out:
	strv_release(&argv);
	buf_release(&out);
	return rc;
}

/* Fall back to static_debs, and say which linked libraries it may miss. */
static int use_static_list(struct pkg *p, const char *why)
{
	int rc = 0;

	debs_release(p);
	p->from_dpkg = false;
	buf_clear(&p->why_static);
	buf_puts(&p->why_static, why);
	for (size_t i = 0; i < sizeof(static_debs) / sizeof(static_debs[0]) && !rc; i++) {
		struct pkg_deb *d = deb_get(p, static_debs[i].deb);
		const char *use = lib_use(static_debs[i].soname);
		if (!d)
			return oom();
		buf_printf(&d->why, "%s%s (linked by cairn%s%s)", d->why.len ? "; " : "", static_debs[i].soname,
			   use ? ": " : "", use ? use : "");
		rc = buf_error(&d->why);
	}
	for (size_t i = 0; i < p->nlibs && !rc; i++) {
		const struct pkg_lib *l = &p->libs[i];
		bool listed = is_libc(l->soname);
		for (size_t k = 0; k < sizeof(static_debs) / sizeof(static_debs[0]) && !listed; k++)
			listed = !strcmp(static_debs[k].soname, l->soname);
		if (!listed && l->needed_by && !strcmp(l->needed_by, "cairn"))
			rc = warn(p, "the binary links %s, which the static package list does not cover: add its "
				     "package to the Dockerfile", l->soname);
	}
	return rc ? rc : warn(p, "the Dockerfile installs a static package list: %s", why);
}

/* ldd the running binary, map each library to its package with dpkg -S,
 * keep the runtime packages (libc6 is in the base image). */
static int find_packages(struct pkg *p)
{
	struct buf out = BUF_INIT, why = BUF_INIT;
	char exe[64];
	char *argv[3] = { "ldd", exe, NULL };
	bool ran;
	int code = -1, rc;

	snprintf(exe, sizeof(exe), "/proc/%ld/exe", (long)getpid()); /* ldd's own /proc/self is not ours */
	buf_init(&out, PKG_TOOL_OUTPUT);
	if ((rc = run_tool(argv, &out, &ran, &code)))
		goto out;
	if (!ran || code) {
		buf_printf(&why, "ldd could not list the binary's libraries (%s)",
			   ran ? "it failed" : cairn_error_msg());
		rc = buf_error(&why) ? buf_error(&why) : use_static_list(p, why.ptr);
		goto out;
	}
	if ((rc = parse_ldd(p, out.ptr)) || (rc = find_needed_by(p, exe)))
		goto out;
	if ((rc = dpkg_owners(p))) {
		if (rc != CAIRN_ENOTFOUND)
			goto out;
		buf_puts(&why, cairn_error_msg());
		rc = buf_error(&why) ? buf_error(&why) : use_static_list(p, why.ptr);
		goto out;
	}
	p->from_dpkg = true;
	for (size_t i = 0; i < p->nlibs && !rc; i++) {
		struct pkg_lib *l = &p->libs[i];
		struct pkg_deb *d;

		if (!l->deb) {
			rc = warn(p, "no Debian package owns %s (%s): the image will not have it", l->soname, l->path);
			continue;
		}
		if (!strcmp(l->deb, "libc6"))
			continue; /* the C library and loader: in every Debian image */
		if (l->dev_only && (rc = warn(p, "only the development package %s owns %s: the image installs it",
					      l->deb, l->path)))
			break;
		if (!(d = deb_get(p, l->deb)))
			rc = oom();
		else
			put_reason(&d->why, l);
		if (!rc && d)
			rc = buf_error(&d->why);
	}
out:
	if (!rc) {
		qsort(p->debs, p->ndebs, sizeof(*p->debs), cmp_deb);
		rc = deb_versions(p);
	}
	buf_release(&out);
	buf_release(&why);
	return rc;
}

/* This machine's Debian codename and the image platform. */
static int host_info(struct pkg *p)
{
	struct buf os = BUF_INIT;
	struct utsname u;
	const char *s;
	int rc = fs_read_file("/etc/os-release", 64 * 1024, &os);

	if (rc == CAIRN_ENOMEM) {
		buf_release(&os);
		return rc;
	}
	if (!rc && (s = strstr(os.ptr, "VERSION_CODENAME="))) {
		s += strlen("VERSION_CODENAME=");
		s += *s == '"';
		snprintf(p->codename, sizeof(p->codename), "%.*s", (int)strcspn(s, "\"\n"), s);
	}
	buf_release(&os);
	if (uname(&u))
		snprintf(p->platform, sizeof(p->platform), "linux");
	else if (!strcmp(u.machine, "x86_64"))
		snprintf(p->platform, sizeof(p->platform), "linux/amd64");
	else if (!strcmp(u.machine, "aarch64"))
		snprintf(p->platform, sizeof(p->platform), "linux/arm64");
	else
		snprintf(p->platform, sizeof(p->platform), "linux/%.30s", u.machine);
	return 0;
}

/* ---- the model ---- */

/* Put the model into tmp/model: downloaded, or copied from a local path. */
static int place_model(struct pkg *p, struct client *cl)
{
	struct buf dst = BUF_INIT;
	int srcfd = -1, dstfd = -1, rc;

	if ((rc = path_join(&dst, p->tmp.ptr, "model")))
		goto out;
	buf_puts(&p->serve_rel, "model");
	if (p->ref.kind == MODEL_REF_DIR || p->ref.kind == MODEL_REF_FILE) {
		if (mkdir(dst.ptr, 0755) || (dstfd = open(dst.ptr, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot create '%.300s': %s", dst.ptr, strerror(errno));
			goto out;
		}
		if (p->ref.kind == MODEL_REF_DIR) {
			if ((srcfd = open(p->ref.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", p->ref.dir, strerror(errno));
				goto out;
			}
			rc = copy_tree_at(srcfd, dstfd, p->ref.dir, 0);
		} else {
			if ((srcfd = open(p->ref.file, O_RDONLY | O_CLOEXEC)) < 0) {
				rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", p->ref.file, strerror(errno));
				goto out;
			}
			buf_printf(&p->serve_rel, "/%s", base_name(p->ref.file));
			rc = copy_fd_at(srcfd, dstfd, base_name(p->ref.file), 0644, NULL);
		}
		if (rc)
			goto out;
	} else {
		if (!cl) {
			rc = cairn_error_set(CAIRN_EINVALID, "'%.300s' needs a tracking server or data root", p->uri);
			goto out;
		}
		if ((rc = client_model_fetch_to(cl, &p->ref, dst.ptr)))
			goto out;
		if (p->ref.file) /* a single-file source: the folder holds that file */
			buf_printf(&p->serve_rel, "/%s", base_name(p->ref.file));
		if ((dstfd = open(dst.ptr, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			rc = cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", dst.ptr, strerror(errno));
			goto out;
		}
	}
	if (!(rc = buf_error(&p->serve_rel)))
		rc = settle_tree_at(p, dstfd, 0);
out:
	if (srcfd >= 0)
		close(srcfd);
	if (dstfd >= 0)
		close(dstfd);
	buf_release(&dst);
	return rc;
}

/* What the model is: natively served (xgboost), a Python flavor, or refused. */
static int check_flavor(struct pkg *p)
{
	struct buf dir = BUF_INIT, req = BUF_INIT, list = BUF_INIT;
	struct mlmodel *m = NULL;
	struct stat sb;
	int rc;

	if (strcmp(p->serve_rel.ptr, "model")) { /* a bare model file */
		const char *ext = strrchr(base_name(p->serve_rel.ptr), '.');
		if (ext && (!strcmp(ext, ".ubj") || !strcmp(ext, ".json") || !strcmp(ext, ".xgb"))) {
			snprintf(p->flavor, sizeof(p->flavor), "xgboost (a bare model file)");
			return 0;
		}
		return cairn_error_set(CAIRN_EUNSUPPORTED, "model '%.300s' is the bare file '%.300s', which cairn "
							   "cannot serve (natively served: XGBoost .ubj, .json, .xgb files "
							   "and MLflow models with the xgboost flavor)",
				       p->uri, base_name(p->serve_rel.ptr));
	}
	if ((rc = path_join(&dir, p->tmp.ptr, "model")))
		goto out;
	if ((rc = mlmodel_load(dir.ptr, &m))) {
		if (rc == CAIRN_ENOTFOUND)
			rc = cairn_error_set(CAIRN_EINVALID, "model '%.300s' has no MLmodel file: it is not an MLflow "
							     "model", p->uri);
		goto out;
	}
	for (size_t i = 0; i < m->nflavors; i++)
		buf_printf(&list, "%s%s", i ? ", " : "", m->flavors[i].name);
	if ((rc = buf_error(&list)))
		goto out;
	if (mlmodel_flavor(m, "xgboost")) {
		snprintf(p->flavor, sizeof(p->flavor), "xgboost");
	} else if (mlmodel_flavor(m, "python_function")) {
		const char *loader = mlmodel_loader_module(m);
		p->python = true;
		snprintf(p->flavor, sizeof(p->flavor), "python_function (loader %.200s)", loader ? loader : "unknown");
		if ((rc = path_join(&req, dir.ptr, "requirements.txt")))
			goto out;
		if (stat(req.ptr, &sb) || !S_ISREG(sb.st_mode))
			rc = cairn_error_set(CAIRN_EUNSUPPORTED, "model '%.300s' has a Python flavor (%.300s) but no "
								 "requirements.txt: the image could not install what it "
								 "imports", p->uri, list.ptr);
	} else {
		rc = cairn_error_set(CAIRN_EUNSUPPORTED, "model '%.300s' has no flavor cairn can serve (flavors: %.300s; "
							 "natively served: xgboost; with Python: python_function)",
				     p->uri, m->nflavors ? list.ptr : "none");
	}
out:
	mlmodel_free(m);
	buf_release(&dir);
	buf_release(&req);
	buf_release(&list);
	return rc;
}

/* ---- the files ---- */

/* The image name docker build -t gets: the model's name, lowercased, then its version. */
static void put_image_tag(struct buf *b, const struct pkg *p)
{
	const char *name = p->ref.name ? p->ref.name : p->ref.model_id;
	size_t start = b->len, n = 0;
	char last = '-';

	if (!name && p->ref.dir)
		name = base_name(p->ref.dir);
	for (const char *s = name ? name : ""; *s && n < 64; s++) {
		char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && last == '-')
			continue;
		buf_putc(b, c);
		last = c;
		n++;
	}
	while (b->len > start && b->ptr[b->len - 1] == '-')
		buf_truncate(b, b->len - 1);
	if (b->len == start)
		buf_puts(b, "model");
	buf_printf(b, ":%s", p->ref.version ? p->ref.version : "latest");
}

/* One line naming the model, for comments and messages. */
static void put_model_line(struct buf *b, const struct pkg *p)
{
	if (p->ref.name && p->ref.version)
		buf_printf(b, "%s version %s", p->ref.name, p->ref.version);
	else if (p->ref.model_id)
		buf_printf(b, "logged model %s", p->ref.model_id);
	else if (p->ref.run_id)
		buf_printf(b, "the model of run %s", p->ref.run_id);
	else if (p->ref.kind == MODEL_REF_FILE && p->ref.file)
		buf_printf(b, "model file '%s'", base_name(p->ref.file));
	else if (p->ref.dir)
		buf_printf(b, "model '%s'", base_name(p->ref.dir));
	else
		buf_puts(b, "the model");
}

static int put_entrypoint(struct buf *b, const struct pkg *p)
{
	buf_printf(b,
		   "#!/bin/sh\n"
		   "# entrypoint.sh - written by `cairn models package` (cairn %s): serve the packaged model.\n"
		   "# The image lays this context out under " PKG_ROOT "; " PKG_ROOT_ENV " points elsewhere (to\n"
		   "# run the context outside a container). Arguments given to the image (docker run IMAGE\n"
		   "# ARGS...) go to cairn serve after these, so they can add options or override --host\n"
		   "# and --port. exec: cairn is PID 1 and gets the SIGTERM of docker stop (it answers the\n"
		   "# requests in flight, then exits 0).\n",
		   CAIRN_VERSION);
	if (p->python)
		buf_puts(b, "#\n"
			    "# PYTHON FLAVOR: --allow-pickle lets cairn serve load a model whose loading unpickles\n"
			    "# it (that runs code from the model: MLflow's CVE-2024-37052..37060). Only package\n"
			    "# models you trust. The workers run the virtual environment's python3, where the\n"
			    "# model's requirements.txt (mlflow among them) is installed.\n");
	buf_printf(b, "set -eu\n"
		      "root=\"${" PKG_ROOT_ENV ":-" PKG_ROOT "}\"\n"
		      "exec \"$root/cairn\" serve \"$root/%s\"", p->serve_rel.ptr);
	if (p->ref.name) {
		buf_puts(b, " --name ");
		put_sh_quoted(b, p->ref.name);
	}
	buf_puts(b, " --host 0.0.0.0 --port \"${PORT:-" PKG_PORT "}\"");
	if (p->python)
		buf_puts(b, " --python \"$root/venv/bin/python3\" --allow-pickle");
	buf_puts(b, " \"$@\"\n");
	return buf_error(b);
}

static int put_dockerfile(struct buf *b, const struct pkg *p)
{
	buf_printf(b, "# Dockerfile - written by `cairn models package` (cairn %s): ", CAIRN_VERSION);
	put_model_line(b, p);
	buf_puts(b, "\n# from ");
	put_clean(b, p->uri, false);
	buf_puts(b, ", served by cairn serve.\n"
		    "# README.md: what the image holds, how to build and run it.\n"
		    "FROM " PKG_BASE_IMAGE "\n\n");
	if (p->from_dpkg)
		buf_puts(b, "# The runtime libraries of the cairn binary, from Debian: the package owning each\n"
			    "# library that ldd lists for the binary (dpkg -S where this context was written),\n"
			    "# runtime packages only; libc6 (the C library and loader) is in the base image.\n"
			    "# README.md says which libraries each package provides and who needs them.\n");
	else {
		buf_puts(b, "# STATIC PACKAGE LIST. Where this context was written,\n#   ");
		put_clean(b, p->why_static.ptr, false);
		buf_puts(b, ";\n"
			    "# so these are cairn's documented link dependencies on Debian 12 (docs/serving.md,\n"
			    "# Packaging), and apt installs what they depend on. libc6 (the C library and loader)\n"
			    "# is in the base image.\n");
	}
	if (p->python)
		buf_puts(b, "# python3 and python3-venv: for the model's Python flavor (below).\n");
	buf_puts(b, "# The image's user: " PKG_UID ", no home, no shell.\n"
		    "RUN apt-get update \\\n"
		    " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n");
	for (size_t i = 0; i < p->ndebs; i++)
		buf_printf(b, "        %s \\\n", p->debs[i].name);
	if (p->python)
		buf_puts(b, "        python3 \\\n"
			    "        python3-venv \\\n");
	buf_puts(b, " && rm -rf /var/lib/apt/lists/* \\\n"
		    " && groupadd --gid " PKG_UID " cairn \\\n"
		    " && useradd --uid " PKG_UID " --gid " PKG_UID " --no-create-home --home-dir /nonexistent \\\n"
		    "        --shell /usr/sbin/nologin cairn\n\n");
	if (p->python)
		buf_puts(b, "# ---- PYTHON FLAVOR --------------------------------------------------------------\n"
			    "# cairn serves Python-flavor models through a pool of Python workers, and only with\n"
			    "# --allow-pickle (loading them unpickles code: MLflow's CVE-2024-37052..37060), which\n"
			    "# entrypoint.sh passes, with --python pointing at the virtual environment below.\n"
			    "# The model's requirements.txt goes into a virtual environment first on PATH (Debian's\n"
			    "# python3 is externally managed, PEP 668).\n"
			    "COPY model/requirements.txt " PKG_ROOT "/requirements.txt\n"
			    "RUN python3 -m venv " PKG_ROOT "/venv \\\n"
			    " && " PKG_ROOT "/venv/bin/pip install --no-cache-dir -r " PKG_ROOT "/requirements.txt\n"
			    "ENV PATH=" PKG_ROOT "/venv/bin:$PATH\n"
			    "# ---- end of the Python flavor ---------------------------------------------------\n\n");
	buf_puts(b, "COPY cairn entrypoint.sh " PKG_ROOT "/\n"
		    "COPY model " PKG_ROOT "/model\n\n"
		    "# Any Host header: a container is reached under names it cannot know (its host's, a\n"
		    "# Kubernetes service's). Narrow it with -e MLFLOW_SERVER_ALLOWED_HOSTS=name,localhost\n"
		    "# (localhost for the HEALTHCHECK). CAIRN_MODEL_CACHE: the user has no home.\n"
		    "ENV PORT=" PKG_PORT " \\\n"
		    "    MLFLOW_SERVER_ALLOWED_HOSTS=\"*\" \\\n"
		    "    CAIRN_MODEL_CACHE=/tmp/cairn-models\n"
		    "USER " PKG_UID ":" PKG_UID "\n"
		    "EXPOSE " PKG_PORT "\n"
		    "# cairn serve answers the requests in flight (up to 30 s) on SIGTERM, then exits 0:\n"
		    "# give docker stop more than that (docker stop -t 35).\n"
		    "STOPSIGNAL SIGTERM\n"
		    "# The slim image has no curl: bash's /dev/tcp sends GET /ping; a 200 is healthy.\n"
		    "HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\\n"
		    "  CMD bash -c 'exec 3<>\"/dev/tcp/127.0.0.1/${PORT:-" PKG_PORT "}\" && printf \"GET /ping HTTP/1.0\\r\\n"
		    "Host: localhost\\r\\n\\r\\n\" >&3 && read -r status <&3 && [[ $status == *\" 200 \"* ]]'\n"
		    "ENTRYPOINT [\"" PKG_ROOT "/entrypoint.sh\"]\n");
	return buf_error(b);
}

static int put_readme(struct buf *b, const struct pkg *p)
{
	struct buf tag = BUF_INIT;
	int rc;

	put_image_tag(&tag, p);
	if ((rc = buf_error(&tag)))
		return rc;
	buf_puts(b, "# Container image: ");
	put_model_line(b, p);
	buf_printf(b, "\n\nWritten by `cairn models package` (cairn %s). This folder is a container build\n"
		      "context: `cairn serve` of one model on `" PKG_BASE_IMAGE "`.\n\n"
		      "    docker build --platform %s -t %s .\n"
		      "    docker run --rm -p " PKG_PORT ":" PKG_PORT " %s\n"
		      "    podman build --platform %s -t %s .\n"
		      "    podman run --rm -p " PKG_PORT ":" PKG_PORT " %s\n",
		   CAIRN_VERSION, p->platform, tag.ptr, tag.ptr, p->platform, tag.ptr, tag.ptr);
	if (!p->python)
		buf_puts(b, "\n    curl -s localhost:" PKG_PORT "/invocations -H 'Content-Type: application/json' \\\n"
			    "         -d @model/serving_input_example.json     # when the model has one\n");
	buf_puts(b, "\n## What the image holds\n\n"
		    "| | |\n|---|---|\n| model | ");
	put_model_line(b, p);
	buf_puts(b, " |\n| source URI | `");
	put_clean(b, p->uri, true);
	buf_puts(b, "` |\n");
	if (p->ref.source) {
		buf_puts(b, "| files from | `");
		put_clean(b, p->ref.source, true);
		buf_puts(b, "` |\n");
	}
	if (p->ref.run_id)
		buf_printf(b, "| run | `%s` |\n", p->ref.run_id);
	if (p->ref.model_id)
		buf_printf(b, "| logged model | `%s` |\n", p->ref.model_id);
	buf_puts(b, "| flavor | ");
	put_clean(b, p->flavor, true);
	buf_puts(b, p->python ? " (Python: needs `cairn serve --allow-pickle`, see below) |\n" : " (served natively) |\n");
	buf_printf(b, "| `" PKG_ROOT "/model/` | the model's files (%zu, ", p->model_files);
	put_size(b, p->model_bytes);
	buf_printf(b, "); the entrypoint serves `" PKG_ROOT "/%s` |\n", p->serve_rel.ptr);
	buf_printf(b, "| `" PKG_ROOT "/cairn` | cairn %s, copied from `", CAIRN_VERSION);
	put_clean(b, p->exe, true);
	buf_printf(b, "` (");
	put_size(b, p->exe_bytes);
	buf_printf(b, ", %s) |\n"
		      "| `" PKG_ROOT "/entrypoint.sh` | `cairn serve " PKG_ROOT "/%s --host 0.0.0.0 --port ${PORT:-" PKG_PORT "}%s`, "
		      "then the image's arguments |\n"
		      "| base | `" PKG_BASE_IMAGE "` |\n"
		      "| user | " PKG_UID ":" PKG_UID " (`cairn`, no home, no shell) |\n"
		      "| port | " PKG_PORT " (`EXPOSE`; `-e PORT=N` moves it) |\n"
		      "| health | `HEALTHCHECK`: `GET /ping` through bash's `/dev/tcp` (the slim image has no curl) |\n"
		      "| stop | `STOPSIGNAL SIGTERM`: cairn serve answers the requests in flight (up to 30 s), then exits 0 |\n",
		   p->platform, p->serve_rel.ptr, p->python ? " --allow-pickle" : "");
	buf_puts(b, "\nThe image serves this one version: it does not follow a registry alias (package\n"
		    "again after the alias moves).\n\n"
		    "## Running it\n\n"
		    "- `docker run IMAGE --max-batch-size 64 --threads 8`: arguments go to `cairn serve` after the\n"
		    "  entrypoint's own (they can override `--host` and `--port`; see `cairn serve --help`).\n"
		    "- `-e PORT=9000 -p 9000:9000`: another port.\n"
		    "- `MLFLOW_SERVER_ALLOWED_HOSTS` is `*` in the image, since a container is reached under names it\n"
		    "  cannot know; `-e MLFLOW_SERVER_ALLOWED_HOSTS=churn.example.com,localhost` narrows it (keep\n"
		    "  `localhost`: the health check uses it).\n"
		    "- `docker stop -t 35`: more than the 30 s cairn serve takes to drain.\n"
		    "- Outside a container: `" PKG_ROOT_ENV "=$PWD PORT=8080 ./entrypoint.sh` runs this folder as the\n"
		    "  image does (the binary needs the same libraries on the machine).\n");
	if (p->python)
		buf_puts(b, "\n## Python flavor\n\n"
			    "The model has no flavor cairn serves natively, so the image also installs `python3` and\n"
			    "`python3-venv`, and `model/requirements.txt` into the virtual environment `" PKG_ROOT "/venv`\n"
			    "(first on `PATH`). `entrypoint.sh` passes `--allow-pickle`: loading such a model\n"
			    "unpickles it, which runs code from the model (MLflow's CVE-2024-37052..37060), so only\n"
			    "package models you trust. cairn serve answers through a pool of Python workers running\n"
			    "the virtual environment's `python3` (`--python`), with MLflow's own scoring code.\n");
	buf_puts(b, "\n## Debian packages\n\n");
	if (p->from_dpkg)
		buf_printf(b, "Computed where the context was written: every library `ldd` lists for the cairn binary,\n"
			      "looked up with `dpkg -S`, runtime packages only. `libc6` (the C library and the loader)\n"
			      "is in the base image and not named. The versions are those installed there (Debian %s);\n"
			      "the Dockerfile does not pin them, so the image gets bookworm's current ones.\n\n",
			   *p->codename ? p->codename : "(unknown release)");
	else
		buf_printf(b, "**A static list.** Where the context was written, %s; so the Dockerfile installs\n"
			      "the libraries cairn links itself, as packaged in Debian 12 (apt adds what they depend on).\n\n",
			   p->why_static.ptr);
	buf_puts(b, "| package | version here | why |\n|---|---|---|\n");
	for (size_t i = 0; i < p->ndebs; i++) {
		buf_printf(b, "| `%s` | %s | ", p->debs[i].name, p->debs[i].version ? p->debs[i].version : "-");
		put_clean(b, p->debs[i].why.ptr, true);
		buf_puts(b, " |\n");
	}
	if (p->python)
		buf_puts(b, "| `python3`, `python3-venv` | - | the model's Python flavor |\n");
	if (p->warnings.n) {
		buf_puts(b, "\n## Warnings\n\n");
		for (size_t i = 0; i < p->warnings.n; i++) {
			buf_puts(b, "- ");
			put_clean(b, p->warnings.v[i], false);
			buf_putc(b, '\n');
		}
	}
	buf_puts(b, "\n## Files\n\n"
		    "| file | |\n|---|---|\n"
		    "| `Dockerfile` | the image |\n"
		    "| `cairn` | the binary |\n"
		    "| `model/` | the model |\n"
		    "| `entrypoint.sh` | runs `cairn serve` on the model |\n"
		    "| `.dockerignore` | sends only `cairn`, `entrypoint.sh` and `model/` to the builder |\n"
		    "| `README.md` | this file |\n");
	buf_release(&tag);
	return buf_error(b);
}

static const char dockerignore[] =
	"# .dockerignore - written by `cairn models package`: send only what the Dockerfile copies\n"
	"*\n"
	"!cairn\n"
	"!entrypoint.sh\n"
	"!model\n";

/* Write text as tmp/name with mode, atomically and durably. */
static int write_text(struct pkg *p, const char *name, const char *text, size_t n, mode_t mode)
{
	struct buf path = BUF_INIT;
	int rc;

	if (!(rc = path_join(&path, p->tmp.ptr, name)))
		rc = fs_write_atomic(path.ptr, text, n, mode);
	buf_release(&path);
	return rc;
}

/* Copy the running binary to tmp/cairn. */
static int copy_exe(struct pkg *p)
{
	struct stat sb;
	int src, dirfd, rc;
	ssize_t n = readlink("/proc/self/exe", p->exe, sizeof(p->exe) - 1);

	p->exe[n > 0 ? n : 0] = '\0';
	if ((src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
		return cairn_error_set(CAIRN_EIO, "cannot open the cairn binary (/proc/self/exe): %s", strerror(errno));
	if (fstat(src, &sb)) {
		close(src);
		return cairn_error_set(CAIRN_EIO, "cannot read the cairn binary: %s", strerror(errno));
	}
	p->exe_bytes = (int64_t)sb.st_size;
	if ((dirfd = open(p->tmp.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		close(src);
		return cairn_error_set(CAIRN_EIO, "cannot open '%.300s': %s", p->tmp.ptr, strerror(errno));
	}
	rc = copy_fd_at(src, dirfd, "cairn", 0755, NULL);
	close(dirfd);
	close(src);
	return rc;
}

/* A new empty folder beside dir, for the context until it is whole. */
static int make_tmp(struct pkg *p)
{
	struct buf parent = BUF_INIT, prefix = BUF_INIT;
	const char *slash = strrchr(p->dir.ptr, '/');
	int rc = 0;

	if (slash)
		buf_put(&parent, p->dir.ptr, slash == p->dir.ptr ? 1 : (size_t)(slash - p->dir.ptr));
	else
		buf_putc(&parent, '.');
	if ((rc = buf_error(&parent)) || (rc = path_mkdirs(parent.ptr)) ||
	    (rc = path_join(&prefix, parent.ptr, PKG_TMP_PREFIX)))
		goto out;
	for (int tries = 0; !p->made_tmp; tries++) {
		if ((rc = fs_tmp_name(prefix.ptr, &p->tmp)))
			goto out;
		if (!mkdir(p->tmp.ptr, 0755)) {
			p->made_tmp = true;
		} else if (errno != EEXIST || tries > 100) {
			rc = cairn_error_set(CAIRN_EIO, "cannot create a folder in '%.300s': %s", parent.ptr, strerror(errno));
			goto out;
		}
	}
	if (chmod(p->tmp.ptr, 0755))
		rc = cairn_error_set(CAIRN_EIO, "cannot set the mode of '%.300s': %s", p->tmp.ptr, strerror(errno));
out:
	buf_release(&parent);
	buf_release(&prefix);
	return rc;
}

/* Refuse a DIR inside the local model directory it would copy. */
static int check_not_inside(struct pkg *p)
{
	char real[PATH_MAX];
	size_t n;

	if (p->ref.kind != MODEL_REF_DIR || !realpath(p->tmp.ptr, real))
		return 0;
	n = strlen(p->ref.dir);
	if (!strncmp(real, p->ref.dir, n) && (real[n] == '/' || !real[n] || !strcmp(p->ref.dir, "/")))
		return cairn_error_set(CAIRN_EINVALID, "'%.300s' is inside the model directory '%.300s'", p->dir.ptr,
				       p->ref.dir);
	return 0;
}

static json_t *result_json(const struct pkg *p)
{
	json_t *o = json_object(), *model = json_object(), *debs = json_array(), *warnings = json_array();
	char abs[PATH_MAX];

	cjson_set(o, "dir", json_string(realpath(p->dir.ptr, abs) ? abs : p->dir.ptr));
	cjson_set(model, "uri", json_string(p->uri));
	const struct { const char *k, *v; } f[] = {
		{ "name", p->ref.name },     { "version", p->ref.version }, { "model_id", p->ref.model_id },
		{ "run_id", p->ref.run_id }, { "source", p->ref.source },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v)
			cjson_set(model, f[i].k, json_string(f[i].v));
	cjson_set(model, "flavor", json_string(p->flavor));
	cjson_set(model, "python", json_boolean(p->python));
	cjson_set(model, "files", json_integer((json_int_t)p->model_files));
	cjson_set(model, "bytes", json_integer((json_int_t)p->model_bytes));
	cjson_set(o, "model", model);
	cjson_set(o, "cairn_version", json_string(CAIRN_VERSION));
	cjson_set(o, "base_image", json_string(PKG_BASE_IMAGE));
	cjson_set(o, "platform", json_string(p->platform));
	cjson_set(o, "serves", json_string(p->serve_rel.ptr));
	cjson_set(o, "packages_from", json_string(p->from_dpkg ? "dpkg" : "static"));
	for (size_t i = 0; i < p->ndebs; i++)
		json_array_append_new(debs, json_pack("{s:s,s:s?,s:s}", "name", p->debs[i].name, "version",
						      p->debs[i].version, "why", p->debs[i].why.ptr));
	cjson_set(o, "packages", debs);
	cjson_set(o, "files", json_pack("[s,s,s,s,s,s]", "Dockerfile", "cairn", "model/", "entrypoint.sh", ".dockerignore",
					"README.md"));
	for (size_t i = 0; i < p->warnings.n; i++)
		json_array_append_new(warnings, json_string(p->warnings.v[i]));
	cjson_set(o, "warnings", warnings);
	return o;
}

static void print_result(const struct pkg *p)
{
	struct buf line = BUF_INIT, tag = BUF_INIT;

	put_model_line(&line, p);
	put_image_tag(&tag, p);
	printf("wrote %s: a container build context for %s (%s)\n", p->dir.ptr, line.ptr, p->uri);
	printf("  Dockerfile     FROM " PKG_BASE_IMAGE "; %zu Debian packages (%s)%s; user " PKG_UID "; port "
	       PKG_PORT "; HEALTHCHECK GET /ping\n",
	       p->ndebs, p->from_dpkg ? "from ldd and dpkg -S" : "a static list", p->python ? " + python3" : "");
	buf_clear(&line);
	put_size(&line, p->exe_bytes);
	printf("  cairn          this cairn binary (%s, %s, %s)\n", CAIRN_VERSION, line.ptr, p->platform);
	buf_clear(&line);
	put_size(&line, p->model_bytes);
	printf("  model/         %zu file%s, %s; flavor %s%s\n", p->model_files, p->model_files == 1 ? "" : "s",
	       line.ptr, p->flavor,
	       p->python ? " (needs --allow-pickle)" : " (served natively)");
	printf("  entrypoint.sh  cairn serve " PKG_ROOT "/%s --host 0.0.0.0 --port ${PORT:-" PKG_PORT "}%s\n",
	       p->serve_rel.ptr, p->python ? " --allow-pickle" : "");
	printf("  .dockerignore  sends only cairn, entrypoint.sh and model/\n");
	printf("  README.md      what the image holds, each package and why, how to run it\n");
	printf("build and run:\n  docker build --platform %s -t %s %s\n  docker run --rm -p " PKG_PORT ":" PKG_PORT " %s\n",
	       p->platform, tag.ptr, p->dir.ptr, tag.ptr);
	buf_release(&line);
	buf_release(&tag);
}

int package_write(struct client *cl, const char *uri, const char *dir, bool json)
{
	struct pkg p = { .uri = uri, .dir = BUF_INIT, .tmp = BUF_INIT, .serve_rel = BUF_INIT,
			 .why_static = BUF_INIT };
	struct buf text = BUF_INIT;
	struct stat sb;
	size_t n = strlen(dir);
	int rc;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	buf_put(&p.dir, dir, n);
	if ((rc = buf_error(&p.dir)))
		goto out;
	if (!n) {
		rc = cairn_error_set(CAIRN_EINVALID, "the output folder (-o DIR) is empty");
		goto out;
	}
	if (!stat(p.dir.ptr, &sb) && (!S_ISDIR(sb.st_mode) || !dir_is_empty(p.dir.ptr))) {
		rc = cairn_error_set(CAIRN_EEXISTS, "'%.300s' exists and is not an empty directory", p.dir.ptr);
		goto out;
	}
	if ((rc = host_info(&p)) || (rc = client_model_resolve(cl, uri, &p.ref)) || (rc = make_tmp(&p)) || (rc = check_not_inside(&p)) ||
	    (rc = place_model(&p, cl)) || (rc = check_flavor(&p)) || (rc = copy_exe(&p)) || (rc = find_packages(&p)))
		goto out;
	if (*p.codename && strcmp(p.codename, PKG_BASE_CODENAME) &&
	    (rc = warn(&p, "this machine runs Debian '%s', the image " PKG_BASE_CODENAME ": the binary's libraries and "
			   "packages may differ there (package on Debian 12 for an image that runs)", p.codename)))
		goto out;
	if (p.python && (rc = warn(&p, "'%s' is a Python-flavor model (%s): the image installs python3 and its "
				       "requirements.txt, and its entrypoint passes --allow-pickle (unpickling runs "
				       "code from the model: package only models you trust)", uri, p.flavor)))
		goto out;
	if ((rc = put_dockerfile(&text, &p)) || (rc = write_text(&p, "Dockerfile", text.ptr, text.len, 0644)))
		goto out;
	buf_clear(&text);
	if ((rc = put_entrypoint(&text, &p)) || (rc = write_text(&p, "entrypoint.sh", text.ptr, text.len, 0755)))
		goto out;
	buf_clear(&text);
	if ((rc = write_text(&p, ".dockerignore", dockerignore, sizeof(dockerignore) - 1, 0644)) ||
	    (rc = put_readme(&text, &p)) || (rc = write_text(&p, "README.md", text.ptr, text.len, 0644)))
		goto out;
	{
		int fd = open(p.tmp.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || cfsync(fd))
			rc = cairn_error_set(CAIRN_EIO, "cannot sync '%.300s': %s", p.tmp.ptr, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (rc)
			goto out;
	}
	if (crename(p.tmp.ptr, p.dir.ptr)) {
		rc = cairn_error_set(errno == ENOTEMPTY || errno == EEXIST ? CAIRN_EEXISTS : CAIRN_EIO,
				     "cannot move the context into '%.300s': %s", p.dir.ptr, strerror(errno));
		goto out;
	}
	p.made_tmp = false;
	fs_sync_parent(p.dir.ptr);
	for (size_t i = 0; i < p.warnings.n; i++)
		fprintf(stderr, "cairn models: warning: %s\n", p.warnings.v[i]);
	if (json) { /* as cli_print_json(), which lives in main.c */
		json_t *j = result_json(&p);
		buf_clear(&text);
		if (!j || cjson_dump(j, &text))
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		else
			printf("%s\n", text.ptr);
		json_decref(j);
	} else {
		print_result(&p);
	}
out:
	if (p.made_tmp)
		remove_tree_at(AT_FDCWD, p.tmp.ptr, 0);
	for (size_t i = 0; i < p.nlibs; i++) {
		free(p.libs[i].soname);
		free(p.libs[i].path);
		free(p.libs[i].deb);
		buf_release(&p.libs[i].needed);
	}
	free(p.libs);
	debs_release(&p);
	strv_release(&p.warnings);
	model_ref_dispose(&p.ref);
	buf_release(&p.dir);
	buf_release(&p.tmp);
	buf_release(&p.serve_rel);
	buf_release(&p.why_static);
	buf_release(&text);
	return rc;
}

void package_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn models package URI -o DIR [--json] [--tracking-uri URI | --root DIR]\n\n"
		"Write a container build context for a model into DIR (absent or empty):\n\n"
		"  Dockerfile     FROM " PKG_BASE_IMAGE "; apt-get installs the Debian packages of every\n"
		"                 library the cairn binary loads (ldd, then dpkg -S; libc6 is in the base\n"
		"                 image; without dpkg a static list, said in a comment); user " PKG_UID ",\n"
		"                 EXPOSE " PKG_PORT ", STOPSIGNAL SIGTERM, a HEALTHCHECK on GET /ping (bash's\n"
		"                 /dev/tcp: the slim image has no curl)\n"
		"  cairn          a copy of this cairn binary\n"
		"  model/         the model's files (downloaded as cairn models download does)\n"
		"  entrypoint.sh  cairn serve " PKG_ROOT "/model --host 0.0.0.0 --port ${PORT:-" PKG_PORT "}, then\n"
		"                 the image's arguments; " PKG_ROOT_ENV " moves the root (run it outside a\n"
		"                 container)\n"
		"  .dockerignore, README.md (what the image holds, each package and why, commands)\n\n"
		"URI: models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest or /STAGE,\n"
		"models:/m-ID, runs:/RUN_ID/PATH, mlflow-artifacts:/PATH, or a local model directory\n"
		"or XGBoost model file. The image serves that one version. Models with the xgboost\n"
		"flavor are served natively; Python-flavor ones (python_function) also get python3\n"
		"and their requirements.txt, and the entrypoint passes --allow-pickle (a warning\n"
		"says what that means). Other models are refused.\n\n"
		"options:\n"
		"  -o, --output DIR      where to write the context (required)\n"
		"  --json                print what was written as JSON\n"
		"  --tracking-uri URI    the tracking server (default $MLFLOW_TRACKING_URI)\n"
		"  --root DIR            a local data root (default $CAIRN_HOME or ./cairn-data)\n"
		"  -h, --help            show this help\n\n"
		"Exit 0 when written; 2 for a malformed URI or an unknown model; 1 when DIR has\n"
		"files, the model has no flavor cairn can serve, or a download fails.\n\n"
		"examples:\n"
		"  cairn models package models:/churn@champion -o build/churn-image\n"
		"  docker build -t churn:3 build/churn-image && docker run -p " PKG_PORT ":" PKG_PORT " churn:3\n");
}
