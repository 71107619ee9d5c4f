/* labels.c - POST /labels: ground truth for logged requests, appended durably to LOG_DIR/labels.jsonl.
 *
 * A label arrives after its request was answered (a churned customer, a
 * fraud chargeback), named by the request id the answer carried in
 * X-Request-ID. Each accepted label is one JSON line {"request_id",
 * "label", "ts"} (ts: microseconds since the epoch), written and fsync'd
 * before the answer, so nothing is acknowledged that was not stored. The
 * monitor (monitor/monitor.h) joins them to the logged requests.
 *
 *	POST /labels {"request_id": "r-42", "label": 1}
 *	POST /labels {"labels": [{"request_id": "r-42", "label": 1}, ...]}
 *	-> 200 {"stored": N}
 *
 * A label is a number, a boolean, a string, or a list of them (one per row
 * of a request of several rows).
 */
#include "serve/serve_int.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_LABELS 100000      /* labels in one request */
#define MAX_ID 256

int serve_labels_open(struct serve *sv)
{
	struct buf path = BUF_INIT;

	buf_printf(&path, "%s/labels.jsonl", sv->cfg.log_dir);
	if (path.err)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	sv->labels_fd = open(path.ptr, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (sv->labels_fd < 0) {
		int rc = cairn_error_set(CAIRN_EIO, "cannot open '%s': %s", path.ptr, strerror(errno));

		buf_release(&path);
		return rc;
	}
	buf_release(&path);
	return 0;
}

void serve_labels_close(struct serve *sv)
{
	if (sv->labels_fd >= 0)
		close(sv->labels_fd);
	sv->labels_fd = -1;
}

static bool scalar(const json_t *v)
{
	return json_is_number(v) || json_is_boolean(v) || json_is_string(v);
}

/* one {"request_id", "label"} into a line of out */
static int add_label(struct buf *out, const json_t *l, size_t i, int64_t ts)
{
	const json_t *id = json_object_get(l, "request_id"), *label = json_object_get(l, "label"), *v;
	json_t *line;
	size_t k;
	char *text;

	if (!json_is_object(l))
		return cairn_error_set(CAIRN_EINVALID, "labels[%zu] is not an object", i);
	if (!json_is_string(id) || !json_string_length(id) || json_string_length(id) > MAX_ID)
		return cairn_error_set(CAIRN_EINVALID, "labels[%zu]: request_id must be a string of 1 to %d bytes", i, MAX_ID);
	if (!label || !(scalar(label) || json_is_array(label)))
		return cairn_error_set(CAIRN_EINVALID, "labels[%zu]: label must be a number, boolean, string, or a list of them", i);
	json_array_foreach(label, k, v)
		if (!scalar(v))
			return cairn_error_set(CAIRN_EINVALID, "labels[%zu]: label[%zu] is not a number, boolean or string", i, k);
	if (!(line = json_pack("{s:O,s:O,s:I}", "request_id", id, "label", label, "ts", (json_int_t)ts)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	text = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (!text)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_puts(out, text);
	buf_putc(out, '\n');
	free(text);
	return out->err ? cairn_error_set(CAIRN_ENOMEM, "out of memory") : 0;
}

int serve_labels_route(struct http_req *req, struct http_resp *resp)
{
	struct serve *sv = req->ctx;
	struct buf lines = BUF_INIT;
	json_t *body = NULL, *list, *l;
	int64_t ts = cairn_now_ms() * 1000;
	size_t i, n = 0, done = 0;
	int rc;
	char reply[64];

	if (sv->labels_fd < 0)
		return cairn_error_set(CAIRN_ECONFLICT, "labels are kept beside the inference log: start cairn serve with --log-dir");
	if ((rc = cjson_parse_object(req->body.ptr, req->body.len, &body)))
		return rc;
	if ((list = json_object_get(body, "labels"))) {
		if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > MAX_LABELS) {
			json_decref(body);
			return cairn_error_set(CAIRN_EINVALID, "labels must be a list of 1 to %d {request_id, label} objects",
					       MAX_LABELS);
		}
		json_array_foreach(list, i, l)
			if ((rc = add_label(&lines, l, i, ts)))
				goto out;
		n = json_array_size(list);
	} else {
		if ((rc = add_label(&lines, body, 0, ts)))
			goto out;
		n = 1;
	}
	/* all or nothing: validated first, then one append, then fsync */
	pthread_mutex_lock(&sv->labels_mu);
	while (done < lines.len) {
		ssize_t w = cwrite(sv->labels_fd, lines.ptr + done, lines.len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (done < lines.len) {
		rc = cairn_error_set(CAIRN_EIO, "cannot store the labels: %s", strerror(errno));
		if (done && ftruncate(sv->labels_fd, lseek(sv->labels_fd, 0, SEEK_END) - (off_t)done) < 0)
			cairn_log(LOG_WARN, "serve: labels.jsonl keeps a partial line: %s", strerror(errno));
	} else if (cfsync(sv->labels_fd)) {
		rc = cairn_error_set(CAIRN_EIO, "cannot store the labels (fsync): %s", strerror(errno));
	}
	pthread_mutex_unlock(&sv->labels_mu);
	if (!rc) {
		snprintf(reply, sizeof(reply), "{\"stored\": %zu}", n);
		rc = http_resp_json_text(resp, 200, reply);
	}
out:
	json_decref(body);
	buf_release(&lines);
	return rc;
}
