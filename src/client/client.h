/* client.h - the CLI's one way to talk to a tracking store, local or remote.
 *
 * A client is opened either on a tracking server URI (http:// or https://;
 * requests go to <uri>/api/2.0<path> with libcurl, one handle reused so the
 * connection is kept alive) or on a local data root (opened with
 * api_ctx_open; requests go through api_invoke in-process). Both take and
 * give the same MLflow JSON, and a non-2xx reply becomes a cairn error whose
 * code follows the reply's MLflow error_code and whose message is the reply's
 * message, so callers have one code path.
 *
 *	struct client *cl = NULL;
 *	json_t *reply = NULL;
 *	if (client_open_default(opt_uri, opt_root, cli_default_root(), &cl) ||
 *	    client_call(cl, "GET", "/mlflow/runs/get", json_pack("{s:s}", "run_id", id), &reply))
 *		... report cairn_error_msg() ...
 *	json_decref(reply);
 *	client_free(cl);
 *
 * Remote requests honour MLflow's client environment: MLFLOW_TRACKING_TOKEN
 * (bearer), MLFLOW_TRACKING_USERNAME/_PASSWORD (basic auth),
 * MLFLOW_TRACKING_INSECURE_TLS=true, MLFLOW_HTTP_REQUEST_TIMEOUT (seconds,
 * default 120). A client is used by one thread at a time.
 */
#ifndef CAIRN_CLIENT_CLIENT_H
#define CAIRN_CLIENT_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

struct client;

/* Open a client on tracking_uri (when not NULL) or else on the local data
 * root `root`. An unsupported URI scheme is CAIRN_EINVALID. */
int client_open(const char *tracking_uri, const char *root, struct client **out);
/* Pick the target the way the CLI documents it: opt_uri (--tracking-uri),
 * else opt_root (--root), else $MLFLOW_TRACKING_URI, else default_root. */
int client_open_default(const char *opt_uri, const char *opt_root, const char *default_root,
			struct client **out);
void client_free(struct client *cl);

bool client_is_remote(const struct client *cl);
/* The server URI, or the local root, for messages (borrowed). */
const char *client_target(const struct client *cl);

/* Call a JSON route: method "GET", "POST", "PATCH" or "DELETE", path relative
 * to /api/2.0 (e.g. "/mlflow/runs/search"), or cairn's own routes written in
 * full ("/api/cairn/v1/registry/promote"). body is stolen (may be NULL: an empty object); for
 * GET its fields travel as the query string (arrays as repeated keys). On
 * success *reply (when reply is not NULL) gets the reply object, owned by the
 * caller. A NULL body from a failed json_pack is reported as CAIRN_ENOMEM. */
int client_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **reply);

/* Upload the contents of fd (from offset 0) as the artifact `name` (a
 * relative path, e.g. "stdout.txt") of the run whose artifact URI is
 * artifact_uri ("mlflow-artifacts:/1/<run>/artifacts"). Remote: a streamed
 * PUT to the mlflow-artifacts proxy; local: the blob store plus art_record.
 * Other artifact URI schemes are CAIRN_EINVALID. */
int client_upload_fd(struct client *cl, const char *artifact_uri, const char *name, int fd);

/* A tracking URI a child process can use to reach the same store: the remote
 * URI, or (local mode) that of an HTTP server started in this process on
 * 127.0.0.1 with a free port, running until client_free. Borrowed. */
int client_serve_uri(struct client *cl, const char **uri);

/* Find an experiment by id or name (an all-digit argument is tried as an id
 * first). *exp gets the Experiment object. CAIRN_ENOTFOUND with a message
 * naming the argument when neither matches. */
int client_experiment_find(struct client *cl, const char *id_or_name, json_t **exp);
/* Like client_experiment_find, creating an experiment of that name when none
 * matches; *id gets its id (free()). *created tells whether it was made. */
int client_experiment_ensure(struct client *cl, const char *id_or_name, char **id, bool *created);

/* Find a run by its id, or by a unique prefix of it (at least 4 hex digits),
 * searching every experiment. *run gets the Run object. */
/* Append {"key": K, "value": V} parsed from "K=V" to tags. CAIRN_EINVALID
 * when there is no '=' or the key is empty (the CLI's --tag option). */
int client_tag_append(json_t *tags, const char *kv);

int client_run_find(struct client *cl, const char *id_or_prefix, json_t **run);

#endif
