/* training_profile.c - a model version's training profile: made from a table or a profile file for
 * `cairn models log --profile`, and read back from a model's files through client/model_fetch. */
#include "monitor/training_profile.h"
#include "client/model_fetch.h"
#include "core/error.h"
#include "core/fs.h"
#include "stats/profile.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Parse text as a profile; *out (when not NULL) gets it. what names it in messages. */
static int parse_profile(const struct buf *text, const char *what, json_t **out)
{
	json_error_t err;
	json_t *j = json_loadb(text->ptr ? text->ptr : "", text->len, 0, &err);
	int rc;

	if (!j)
		return cairn_error_set(CAIRN_EINVALID, "%s is not JSON: %s (line %d)", what, err.text, err.line);
	if ((rc = profile_check(j))) {
		json_decref(j);
		return cairn_error_set(rc, "%s: %s", what, cairn_error_msg());
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	return 0;
}

int training_profile_make(const char *path, struct buf *text)
{
	struct profile_options po = { 0 };
	json_t *prof = NULL;
	char what[400];
	char *s;
	int rc;

	snprintf(what, sizeof(what), "profile '%.300s'", path);
	if (ends_with(path, ".json")) {
		if ((rc = fs_read_file(path, TRAINING_PROFILE_MAX, text)))
			return cairn_error_set(rc, "--profile: %s", cairn_error_msg());
		return parse_profile(text, what, NULL);
	}
	po.jsonl = ends_with(path, ".jsonl") || ends_with(path, ".ndjson");
	po.delim = ends_with(path, ".tsv") ? '\t' : 0;
	if ((rc = profile_file(path, &po, &prof)))
		return cairn_error_set(rc, "--profile '%.300s': %s", path, cairn_error_msg());
	s = json_dumps(prof, JSON_COMPACT);
	json_decref(prof);
	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_puts(text, s);
	buf_putc(text, '\n');
	free(s);
	return buf_error(text);
}

bool training_profile_is_model_uri(const char *ref)
{
	static const char *const schemes[] = { "models:", "runs:", "mlflow-artifacts:", "file:" };
	struct stat sb;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncasecmp(ref, schemes[i], strlen(schemes[i])))
			return true;
	return !stat(ref, &sb) && S_ISDIR(sb.st_mode);
}

int training_profile_load(struct client *cl, const char *uri, struct buf *text, json_t **profile, bool *none)
{
	struct model_ref ref = { 0 };
	char what[400];
	int rc;

	*none = false;
	if (profile)
		*profile = NULL;
	if ((rc = client_model_resolve(cl, uri, &ref)))
		goto out;
	if ((rc = client_model_read_file(cl, &ref, TRAINING_PROFILE_FILE, TRAINING_PROFILE_MAX, text))) {
		if (rc == CAIRN_ENOTFOUND) {
			*none = true;
			rc = cairn_error_set(CAIRN_ENOTFOUND, "model '%.300s' has no training profile (no %s among its "
							      "files; attach one with cairn models log --profile)",
					     uri, TRAINING_PROFILE_FILE);
		}
		goto out;
	}
	snprintf(what, sizeof(what), "the training profile of '%.300s'", uri);
	rc = parse_profile(text, what, profile);
out:
	model_ref_dispose(&ref);
	return rc;
}

bool training_profile_needs_store(const char *ref)
{
	return !strncmp(ref, "models:", 7) || !strncmp(ref, "runs:", 5) || !strncmp(ref, "mlflow-artifacts:", 17);
}

int monitor_reference_load(struct client *cl, const char *path, json_t **out)
{
	size_t n = strlen(path);

	*out = NULL;
	if (training_profile_is_model_uri(path)) {   /* a model: its training profile */
		struct buf text = BUF_INIT;
		bool none = false;
		int rc = training_profile_load(cl, path, &text, out, &none);

		buf_release(&text);
		return rc;
	}
	if (n > 5 && !strcmp(path + n - 5, ".json")) {
		struct buf b = BUF_INIT;
		json_error_t err;
		int rc = fs_read_file(path, (size_t)1 << 30, &b);

		if (rc)
			return rc;
		*out = json_loadb(b.ptr ? b.ptr : "", b.len, 0, &err);
		buf_release(&b);
		if (!*out)
			return cairn_error_set(CAIRN_EINVALID, "'%s' is not JSON: %s", path, err.text);
		if ((rc = profile_check(*out))) {
			json_decref(*out);
			*out = NULL;
			return cairn_error_set(rc, "'%s': %s", path, cairn_error_msg());
		}
		return 0;
	}
	return profile_file(path, &(struct profile_options){ .jsonl = n > 6 && !strcmp(path + n - 6, ".jsonl") }, out);
}
