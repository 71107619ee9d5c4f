/* package.h - `cairn models package URI -o DIR`: a container build context for a model.
 *
 * package_write() resolves URI, puts the model into DIR/model (downloaded
 * with client_model_fetch_to(), or copied for a local directory or file),
 * copies the running cairn binary to DIR/cairn and writes DIR/Dockerfile,
 * DIR/entrypoint.sh, DIR/.dockerignore and DIR/README.md:
 *
 *	FROM debian:bookworm-slim
 *	RUN apt-get install --no-install-recommends <the runtime packages>  (one layer)
 *	COPY cairn entrypoint.sh /opt/cairn/ ; COPY model /opt/cairn/model
 *	USER 10001, EXPOSE 8080, STOPSIGNAL SIGTERM, HEALTHCHECK GET /ping
 *	ENTRYPOINT /opt/cairn/entrypoint.sh  ->  cairn serve /opt/cairn/model
 *	                                          --host 0.0.0.0 --port ${PORT:-8080} "$@"
 *
 * The packages are computed, not guessed: every library ldd lists for the
 * running binary (/proc/<pid>/exe) is looked up with dpkg -S (under both
 * /lib and /usr/lib, for merged-/usr systems), the runtime package owning it
 * is kept (a -dev package only when nothing else owns the file), and libc6,
 * the C library and loader of the base image, is left out. Each package's
 * reason (the libraries it provides; linked by cairn itself or needed by
 * which library, from the ELF files' DT_NEEDED) goes into README.md.
 * Without ldd or dpkg the Dockerfile installs a documented static list
 * (cairn's own link dependencies on Debian 12) and says so in a comment.
 *
 * Python-flavor models (python_function and no flavor cairn serves
 * natively) add python3, python3-venv and the model's requirements.txt in
 * a virtual environment, and the entrypoint passes --allow-pickle; a
 * warning says the image needs a cairn serve that has that flag. A model
 * with neither is refused (CAIRN_EUNSUPPORTED).
 *
 * DIR must not exist or be empty (else CAIRN_EEXISTS, before anything is
 * fetched). Everything is written into a temporary folder beside DIR
 * (".cairn-package-<pid>-<n>") and renamed into place when whole: a failure
 * leaves DIR as it was. entrypoint.sh reads CAIRN_PACKAGE_ROOT (default
 * /opt/cairn), so the context runs outside a container as it runs inside.
 */
#ifndef CAIRN_CLI_PACKAGE_H
#define CAIRN_CLI_PACKAGE_H

#include <stdbool.h>
#include <stdio.h>

#include "client/client.h"

/* Write the build context for uri into dir (cl may be NULL for a local
 * path), print what was written (JSON with json) on stdout and warnings on
 * stderr. Returns 0 or the error code with the message recorded. */
int package_write(struct client *cl, const char *uri, const char *dir, bool json);

/* The help of `cairn models package`. */
void package_usage(FILE *f);

#endif
