/* artifact_send.c - answering an artifact download as MLflow's server does
 * (server/handlers.py _send_artifact, _response_with_file_attachment_headers;
 * utils/mime_type_utils.py _guess_mime_type): always an attachment named by
 * the file's base name, the Content-Type guessed from the name alone, never
 * what the upload declared. */
#include "api/api_int.h"
#include "core/buf.h"
#include "core/path.h"
#include "tracking/artifact.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Python's built-in mimetypes table (types_map, strict), generated from CPython 3.11's
 * mimetypes._types_map_default: what MLflow's guess_type finds before a machine's
 * /etc/mime.types adds more (.webp from Debian's, which CPython 3.13 has too).
 * Sorted by extension (lowercase, with its dot). */
static const struct { const char *ext, *type; } py_types[] = {
	{ ".3g2", "audio/3gpp2" },
	{ ".3gp", "audio/3gpp" },
	{ ".3gpp", "audio/3gpp" },
	{ ".3gpp2", "audio/3gpp2" },
	{ ".a", "application/octet-stream" },
	{ ".aac", "audio/aac" },
	{ ".adts", "audio/aac" },
	{ ".ai", "application/postscript" },
	{ ".aif", "audio/x-aiff" },
	{ ".aifc", "audio/x-aiff" },
	{ ".aiff", "audio/x-aiff" },
	{ ".ass", "audio/aac" },
	{ ".au", "audio/basic" },
	{ ".avi", "video/x-msvideo" },
	{ ".avif", "image/avif" },
	{ ".bat", "text/plain" },
	{ ".bcpio", "application/x-bcpio" },
	{ ".bin", "application/octet-stream" },
	{ ".bmp", "image/bmp" },
	{ ".c", "text/plain" },
	{ ".cdf", "application/x-netcdf" },
	{ ".cpio", "application/x-cpio" },
	{ ".csh", "application/x-csh" },
	{ ".css", "text/css" },
	{ ".csv", "text/csv" },
	{ ".dll", "application/octet-stream" },
	{ ".doc", "application/msword" },
	{ ".dot", "application/msword" },
	{ ".dvi", "application/x-dvi" },
	{ ".eml", "message/rfc822" },
	{ ".eps", "application/postscript" },
	{ ".etx", "text/x-setext" },
	{ ".exe", "application/octet-stream" },
	{ ".gif", "image/gif" },
	{ ".gtar", "application/x-gtar" },
	{ ".h", "text/plain" },
	{ ".h5", "application/x-hdf5" },
	{ ".hdf", "application/x-hdf" },
	{ ".heic", "image/heic" },
	{ ".heif", "image/heif" },
	{ ".htm", "text/html" },
	{ ".html", "text/html" },
	{ ".ico", "image/vnd.microsoft.icon" },
	{ ".ief", "image/ief" },
	{ ".jpe", "image/jpeg" },
	{ ".jpeg", "image/jpeg" },
	{ ".jpg", "image/jpeg" },
	{ ".js", "application/javascript" },
	{ ".json", "application/json" },
	{ ".ksh", "text/plain" },
	{ ".latex", "application/x-latex" },
	{ ".loas", "audio/aac" },
	{ ".m1v", "video/mpeg" },
	{ ".m3u", "application/vnd.apple.mpegurl" },
	{ ".m3u8", "application/vnd.apple.mpegurl" },
	{ ".man", "application/x-troff-man" },
	{ ".me", "application/x-troff-me" },
	{ ".mht", "message/rfc822" },
	{ ".mhtml", "message/rfc822" },
	{ ".mif", "application/x-mif" },
	{ ".mjs", "application/javascript" },
	{ ".mov", "video/quicktime" },
	{ ".movie", "video/x-sgi-movie" },
	{ ".mp2", "audio/mpeg" },
	{ ".mp3", "audio/mpeg" },
	{ ".mp4", "video/mp4" },
	{ ".mpa", "video/mpeg" },
	{ ".mpe", "video/mpeg" },
	{ ".mpeg", "video/mpeg" },
	{ ".mpg", "video/mpeg" },
	{ ".ms", "application/x-troff-ms" },
	{ ".n3", "text/n3" },
	{ ".nc", "application/x-netcdf" },
	{ ".nq", "application/n-quads" },
	{ ".nt", "application/n-triples" },
	{ ".nws", "message/rfc822" },
	{ ".o", "application/octet-stream" },
	{ ".obj", "application/octet-stream" },
	{ ".oda", "application/oda" },
	{ ".opus", "audio/opus" },
	{ ".p12", "application/x-pkcs12" },
	{ ".p7c", "application/pkcs7-mime" },
	{ ".pbm", "image/x-portable-bitmap" },
	{ ".pdf", "application/pdf" },
	{ ".pfx", "application/x-pkcs12" },
	{ ".pgm", "image/x-portable-graymap" },
	{ ".pl", "text/plain" },
	{ ".png", "image/png" },
	{ ".pnm", "image/x-portable-anymap" },
	{ ".pot", "application/vnd.ms-powerpoint" },
	{ ".ppa", "application/vnd.ms-powerpoint" },
	{ ".ppm", "image/x-portable-pixmap" },
	{ ".pps", "application/vnd.ms-powerpoint" },
	{ ".ppt", "application/vnd.ms-powerpoint" },
	{ ".ps", "application/postscript" },
	{ ".pwz", "application/vnd.ms-powerpoint" },
	{ ".py", "text/x-python" },
	{ ".pyc", "application/x-python-code" },
	{ ".pyo", "application/x-python-code" },
	{ ".qt", "video/quicktime" },
	{ ".ra", "audio/x-pn-realaudio" },
	{ ".ram", "application/x-pn-realaudio" },
	{ ".ras", "image/x-cmu-raster" },
	{ ".rdf", "application/xml" },
	{ ".rgb", "image/x-rgb" },
	{ ".roff", "application/x-troff" },
	{ ".rtx", "text/richtext" },
	{ ".sgm", "text/x-sgml" },
	{ ".sgml", "text/x-sgml" },
	{ ".sh", "application/x-sh" },
	{ ".shar", "application/x-shar" },
	{ ".snd", "audio/basic" },
	{ ".so", "application/octet-stream" },
	{ ".src", "application/x-wais-source" },
	{ ".srt", "text/plain" },
	{ ".sv4cpio", "application/x-sv4cpio" },
	{ ".sv4crc", "application/x-sv4crc" },
	{ ".svg", "image/svg+xml" },
	{ ".swf", "application/x-shockwave-flash" },
	{ ".t", "application/x-troff" },
	{ ".tar", "application/x-tar" },
	{ ".tcl", "application/x-tcl" },
	{ ".tex", "application/x-tex" },
	{ ".texi", "application/x-texinfo" },
	{ ".texinfo", "application/x-texinfo" },
	{ ".tif", "image/tiff" },
	{ ".tiff", "image/tiff" },
	{ ".tr", "application/x-troff" },
	{ ".trig", "application/trig" },
	{ ".tsv", "text/tab-separated-values" },
	{ ".txt", "text/plain" },
	{ ".ustar", "application/x-ustar" },
	{ ".vcf", "text/x-vcard" },
	{ ".vtt", "text/vtt" },
	{ ".wasm", "application/wasm" },
	{ ".wav", "audio/x-wav" },
	{ ".webp", "image/webp" },
	{ ".webm", "video/webm" },
	{ ".webmanifest", "application/manifest+json" },
	{ ".wiz", "application/msword" },
	{ ".wsdl", "application/xml" },
	{ ".xbm", "image/x-xbitmap" },
	{ ".xlb", "application/vnd.ms-excel" },
	{ ".xls", "application/vnd.ms-excel" },
	{ ".xml", "text/xml" },
	{ ".xpdl", "application/xml" },
	{ ".xpm", "image/x-xpixmap" },
	{ ".xsl", "application/xml" },
	{ ".xwd", "image/x-xwindowdump" },
	{ ".zip", "application/zip" },
};

/* names MLflow serves as text/plain: these extensions (compared as given)
 * or these whole names when there is no extension */
static const char *const text_exts[] = {
	"txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon", "toml", "yaml",
	"yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "MLmodel",
	/* MLflow lists MLproject too, but as "MLproject" never reaches it (its
	 * constant differs in case), MLflow serves MLproject as octet-stream */
};

/* Python's os.path.splitext on a base name: the last '.' not leading the name */
static const char *py_ext(const char *name, size_t n)
{
	size_t lead = 0;

	while (lead < n && name[lead] == '.')
		lead++;
	for (size_t i = n; i > lead; i--)
		if (name[i - 1] == '.')
			return name + i - 1;
	return name + n;
}

/* mimetypes.guess_type(name)'s type, or NULL: suffixes like .tgz expanded,
 * one encoding suffix (.gz, .bz2, ...) set aside, the extension then looked
 * up in lowercase */
static const char *py_guess_type(const char *name)
{
	static const struct { const char *from, *to; } suffixes[] = {
		{ ".svgz", ".svg.gz" }, { ".tgz", ".tar.gz" }, { ".taz", ".tar.gz" }, { ".tz", ".tar.gz" },
		{ ".tbz2", ".tar.bz2" }, { ".txz", ".tar.xz" },
	};
	static const char *const encodings[] = { ".gz", ".Z", ".bz2", ".xz", ".br" };
	char buf[512];
	size_t n = strlen(name);
	const char *ext;
	bool again = true;

	if (n >= sizeof(buf) - 16)
		return NULL;
	memcpy(buf, name, n + 1);
	while (again) {
		again = false;
		ext = py_ext(buf, n);
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
			if (!strcasecmp(ext, suffixes[i].from)) {
				n = (size_t)(ext - buf);
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", suffixes[i].to);
				again = true;
				break;
			}
	}
	ext = py_ext(buf, n);
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
		if (!strcmp(ext, encodings[i])) {
			n = (size_t)(ext - buf);
			buf[n] = '\0';
			ext = py_ext(buf, n);
			break;
		}
	if (!*ext)
		return NULL;
	for (size_t i = 0; i < sizeof(py_types) / sizeof(py_types[0]); i++)
		if (!strcasecmp(ext, py_types[i].ext))
			return py_types[i].type;
	return NULL;
}

const char *api_artifact_type(const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *ext = py_ext(name, strlen(name));
	const char *type;

	ext = *ext ? ext + 1 : name;
	for (size_t i = 0; i < sizeof(text_exts) / sizeof(text_exts[0]); i++)
		if (!strcmp(ext, text_exts[i]))
			return "text/plain";
	type = py_guess_type(name);
	return type ? type : "application/octet-stream";
}

int api_send_artifact(struct http_resp *resp, int fd, uint64_t size, const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct buf cd = BUF_INIT;
	bool plain = *name;
	int rc = http_resp_fd(resp, fd, size, api_artifact_type(path)); /* resp owns fd from here */

	/* MLflow writes the name as it is; one that would need quoting is
	 * quoted (and a non-ASCII one given as filename*) so the header stays
	 * one well-formed value */
	for (const char *p = name; *p && plain; p++)
		plain = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && !strchr("\"\\;,", *p);
	if (plain) {
		buf_printf(&cd, "attachment; filename=%s", name);
	} else {
		buf_puts(&cd, "attachment; filename=\"");
		for (const char *p = name; *p; p++)
			if ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) {
				if (*p == '"' || *p == '\\')
					buf_putc(&cd, '\\');
				buf_putc(&cd, *p);
			} else {
				buf_putc(&cd, '_');
			}
		buf_puts(&cd, "\"; filename*=UTF-8''");
		for (const unsigned char *p = (const unsigned char *)name; *p; p++)
			if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    strchr("!#$&+-.^_`|~", *p))
				buf_putc(&cd, (char)*p);
			else
				buf_printf(&cd, "%%%02X", *p);
	}
	if (!rc && !(rc = buf_error(&cd)))
		rc = http_resp_header(resp, "Content-Disposition", cd.ptr);
	buf_release(&cd);
	return rc;
}

int api_send_under(struct api_call *c, const char *root_uri, const char *rel)
{
	struct buf path = BUF_INIT, full = BUF_INIT;
	int64_t size = 0;
	int fd = -1, rc;

	if ((rc = api_path(rel, false, &path)) || (rc = art_uri_to_path(root_uri, &full)) ||
	    (rc = path_join(&full, "", path.ptr)) || (rc = art_open(c->st, c->ctx->blobs, full.ptr, &fd, &size)))
		goto out;
	buf_clear(&c->resp->body);
	c->resp->status = 200;
	c->raw = true;
	rc = api_send_artifact(c->resp, fd, (uint64_t)size, path.ptr);
out:
	buf_release(&path);
	buf_release(&full);
	return rc;
}
