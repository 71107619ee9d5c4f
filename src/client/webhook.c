/* webhook.c - JSON events posted to allow-listed endpoints with libcurl, retried with exponential backoff. */
#include "client/webhook.h"
#include "client/client_int.h"
#include "core/buf.h"
#include "core/error.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static bool host_allowed(const char *host, const char *list)
{
	size_t n = strlen(host);

	/* an IPv6 literal comes back without brackets; the list may have them */
	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if ((len == 1 && *p == '*') || (len == n && !strncasecmp(p, host, n)) ||
		    (len == n + 2 && p[0] == '[' && p[len - 1] == ']' && !strncasecmp(p + 1, host, n)))
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

int webhook_check(const struct webhook_opts *o)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	if (!o->url || !*o->url)
		return cairn_error_set(CAIRN_EINVALID, "a webhook needs a URL");
	if (!(u = curl_url()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, o->url, 0) || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0))
		rc = cairn_error_set(CAIRN_EINVALID, "webhook URL '%.200s' is not a URL", o->url);
	else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
		rc = cairn_error_set(CAIRN_EINVALID, "webhook URL '%.200s': only http and https are posted to", o->url);
	else if (!host_allowed(host, o->allow_hosts))
		rc = cairn_error_set(CAIRN_EPERM, "webhook host '%.200s' is not allowed (allow it with --allow-host)", host);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

int webhook_post(const struct webhook_opts *o, const json_t *body, long *status, unsigned *tries)
{
	unsigned attempts = o->attempts ? o->attempts : 4, wait_ms = o->backoff_ms ? o->backoff_ms : 500;
	char *text = NULL, err[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	CURL *c = NULL;
	long code = 0;
	unsigned i;
	int rc;

	if (status)
		*status = 0;
	if (tries)
		*tries = 0;
	if ((rc = webhook_check(o)) || (rc = client__curl_global()))
		return rc;
	if (!(text = json_dumps(body, JSON_COMPACT)) || !(hdr = curl_slist_append(NULL, "Content-Type: application/json")) ||
	    !(c = curl_easy_init())) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, o->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, CLIENT_USER_AGENT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms ? o->timeout_ms : 5000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);   /* a redirect could leave the allow-list */
	for (i = 0; i < attempts; i++) {
		CURLcode cc;

		if (i) {
			struct timespec ts = { wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			wait_ms *= 2;
		}
		err[0] = '\0';
		cc = curl_easy_perform(c);
		code = 0;
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (cc == CURLE_OK && code >= 200 && code < 300) {
			rc = 0;
			i++;
			break;
		}
		if (cc == CURLE_OK && code != 408 && code != 429 && code < 500) {
			rc = cairn_error_set(CAIRN_EIO, "webhook %.200s answered %ld", o->url, code);
			i++;
			break;
		}
		rc = cc == CURLE_OK ? cairn_error_set(CAIRN_EIO, "webhook %.200s answered %ld (after %u attempts)", o->url, code, i + 1)
				    : cairn_error_set(CAIRN_EIO, "webhook %.200s: %s (after %u attempts)", o->url,
						      err[0] ? err : curl_easy_strerror(cc), i + 1);
	}
	if (status)
		*status = code;
	if (tries)
		*tries = i;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	free(text);
	return rc;
}
