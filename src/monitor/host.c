/* host.c - hosted monitors: the store's monitors, leased, scanned and recorded on the host's own thread (host.h). */
#include "monitor/host.h"
#include "client/client.h"
#include "client/model_fetch.h"
#include "client/webhook.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/util.h"
#include "monitor/monitor.h"
#include "monitor/runner.h"
#include "monitor/training_profile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_EXPERIMENT "cairn-monitors"

struct entry {
	struct monitor_host *h;
	char *name;
	bool seen, held;
	int64_t updated;                /* the spec's last_update_time the runner was built from */
	json_t *spec;
	struct monitor_runner *runner;
	struct monitor_opts mo;
	char *log_dir, *filter, *labels_opt, *hook_url, *retrain, *experiment;
	json_t *reference;
	char *ref_key;                  /* what the reference resolved to (a version, a source, a path) */
	char last_error[256];           /* the last error event noted (noted once) */
	struct entry *next;
};

struct monitor_host {
	struct monitor_host_opts o;     /* strings and models copied */
	struct monitor_host_model *models;
	char owner[300];
	int64_t lease_ms;
	struct client *cl;
	struct monitor_gauges *gauges;
	struct entry *entries;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
	char list_error[256];
};

/* ---- helpers ---- */

static const char *spec_str(const json_t *spec, const char *key)
{
	return json_string_value(json_object_get(spec, key));
}

static int set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = NULL;
	if (s && !(*dst = cstrdup(s)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* the registered name of a models:/NAME@alias or models:/NAME/3 URI, into out; "" when not one */
static void registered_name(const char *uri, char *out, size_t cap)
{
	size_t n;

	*out = '\0';
	if (!uri || strncmp(uri, "models:/", 8))
		return;
	uri += 8;
	n = strcspn(uri, "@/");
	if (n && n < cap) {
		memcpy(out, uri, n);
		out[n] = '\0';
	}
}

/* whether the host runs this monitor: its log and the name of its model in it */
static bool takes(const struct monitor_host *h, const json_t *spec, const char **dir, char *filter, size_t cap)
{
	const char *model = spec_str(spec, "model"), *served = spec_str(spec, "served_name"), *log = spec_str(spec, "log_dir");
	char reg[256];

	registered_name(model, reg, sizeof(reg));
	if (spec_str(spec, "retrain") && !h->o.retrain)
		return false;   /* left to a host that can run the pipeline (cairn server --pipeline) */
	if (h->o.log_dir) {   /* cairn serve: its own models */
		for (size_t i = 0; i < h->o.nmodels; i++) {
			const struct monitor_host_model *m = &h->models[i];

			if ((model && !strcmp(model, m->uri)) || (*reg && !strcmp(reg, m->name)) || (served && !strcmp(served, m->name))) {
				*dir = log ? log : h->o.log_dir;
				snprintf(filter, cap, "%s", served ? served : m->name);
				return true;
			}
		}
		return false;
	}
	if (!log)
		return false;
	*dir = log;
	snprintf(filter, cap, "%s", served ? served : reg);
	return true;
}

/* an error event, once per distinct message */
static void note(struct entry *e, const char *what, const char *msg)
{
	struct monitor_host *h = e->h;
	char text[256];

	snprintf(text, sizeof(text), "%s: %s", what, msg);
	if (!strcmp(text, e->last_error))
		return;
	snprintf(e->last_error, sizeof(e->last_error), "%s", text);
	cairn_log(LOG_WARN, "monitor %s: %s", e->name, text);
	if (e->held &&
	    client_call(h->cl, "POST", "/api/cairn/v1/monitors/note",
			json_pack("{s:s,s:s,s:{s:s,s:s}}", "name", e->name, "owner", h->owner, "event", "event", "error",
				  "message", text),
			NULL))
		cairn_log(LOG_WARN, "monitor %s: the error was not recorded: %s", e->name, cairn_error_msg());
}

/* ---- one monitor ---- */

static void entry_reset(struct entry *e)
{
	monitor_runner_free(e->runner);
	e->runner = NULL;
	json_decref(e->spec);
	e->spec = NULL;
	json_decref(e->reference);
	e->reference = NULL;
	free(e->ref_key);
	e->ref_key = NULL;
	free(e->log_dir);
	free(e->filter);
	free(e->labels_opt);
	free(e->hook_url);
	free(e->retrain);
	free(e->experiment);
	e->log_dir = e->filter = e->labels_opt = e->hook_url = e->retrain = e->experiment = NULL;
}

static void entry_free(struct entry *e)
{
	entry_reset(e);
	free(e->name);
	free(e);
}

/* (re)load the reference when it is new or the model version it names changed */
static int refresh_reference(struct entry *e)
{
	struct monitor_host *h = e->h;
	const char *ref = spec_str(e->spec, "reference") ? spec_str(e->spec, "reference") : spec_str(e->spec, "model");
	struct model_ref mr = { 0 };
	struct buf key = BUF_INIT;
	json_t *prof = NULL;
	int rc = 0;

	if (training_profile_needs_store(ref)) {
		if ((rc = client_model_resolve(h->cl, ref, &mr)))
			goto out;
		buf_printf(&key, "%s", mr.name && mr.version ? mr.name : mr.source ? mr.source : ref);
		if (mr.name && mr.version)
			buf_printf(&key, "/%s", mr.version);
	} else {
		buf_puts(&key, ref);
	}
	if ((rc = buf_error(&key)))
		goto out;
	if (e->reference && e->ref_key && !strcmp(e->ref_key, key.ptr))
		goto out;   /* the same version */
	if ((rc = monitor_reference_load(h->cl, ref, &prof)))
		goto out;
	json_decref(e->reference);
	e->reference = prof;
	e->mo.reference = prof;
	free(e->ref_key);
	e->ref_key = key.ptr;
	key.ptr = NULL;
	if (e->runner)
		cairn_log(LOG_INFO, "monitor %s: the reference is now %s", e->name, e->ref_key);
out:
	model_ref_dispose(&mr);
	buf_release(&key);
	return rc;
}

/* the revise callback: a window scored again with late labels, and the state after it */
static int revise(void *ctx, const struct monitor_revision *rv, const struct monitor_state *after)
{
	struct entry *e = ctx;
	struct monitor_host *h = e->h;
	json_t *state = monitor_state_json(after);

	if (!state)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	cairn_log(LOG_INFO, "monitor %s: window %llu revised with late labels", e->name, (unsigned long long)rv->index);
	return client_call(h->cl, "POST", "/api/cairn/v1/monitors/revise",
			   json_pack("{s:s,s:s,s:I,s:I,s:I,s:O?,s:o}", "name", e->name, "owner", h->owner, "lease_ms",
				     (json_int_t)h->lease_ms, "index", (json_int_t)rv->index, "revision",
				     (json_int_t)rv->revision, "performance", rv->performance, "state", state),
			   NULL);
}

/* build the runner from the stored monitor (spec and state) */
static int build(struct entry *e, const json_t *m, const char *dir, const char *filter)
{
	struct monitor_host *h = e->h;
	const json_t *spec = json_object_get(m, "spec"), *state = json_object_get(m, "state");
	struct monitor_runner_opts ro = { 0 };
	struct monitor_state st = { 0 };
	char what[100];
	int rc;

	entry_reset(e);
	e->spec = json_incref((json_t *)spec);
	e->updated = json_integer_value(json_object_get(m, "last_update_time"));
	snprintf(what, sizeof(what), "the stored state of monitor '%s'", e->name);
	if ((!json_is_null(state) && state && (rc = monitor_state_parse(state, what, &st))) ||
	    (rc = set_str(&e->log_dir, dir)) || (rc = set_str(&e->filter, *filter ? filter : NULL)) ||
	    (rc = set_str(&e->labels_opt, spec_str(spec, "labels"))) || (rc = set_str(&e->retrain, spec_str(spec, "retrain"))) ||
	    (rc = set_str(&e->experiment, spec_str(spec, "experiment") ? spec_str(spec, "experiment") : DEFAULT_EXPERIMENT)))
		return rc;
	memset(&e->mo, 0, sizeof(e->mo));
	e->mo.model = e->filter;
	if (json_is_number(json_object_get(spec, "window_seconds")))
		e->mo.window_us = (int64_t)(json_number_value(json_object_get(spec, "window_seconds")) * 1e6);
	if (e->mo.window_us < 1)
		e->mo.window_us = 0;
	e->mo.window_rows = (uint64_t)json_integer_value(json_object_get(spec, "window_rows"));
	if (!e->mo.window_us && !e->mo.window_rows)
		return cairn_error_set(CAIRN_EINVALID, "the spec has no window");
	if (json_is_number(json_object_get(spec, "drift_share")))
		e->mo.drift.drift_share = json_number_value(json_object_get(spec, "drift_share"));
	if (json_is_number(json_object_get(spec, "null_share_threshold"))) {
		double v = json_number_value(json_object_get(spec, "null_share_threshold"));

		e->mo.drift.null_share_threshold = v ? v : -1;
	}
	ro.name = e->name;
	ro.gauges = h->gauges;
	ro.cl = h->cl;
	ro.experiment = e->experiment;
	ro.resolve_after = (unsigned)json_integer_value(json_object_get(spec, "resolve_after"));
	if (json_is_number(json_object_get(spec, "label_horizon"))) {
		double v = json_number_value(json_object_get(spec, "label_horizon"));

		ro.label_horizon_us = v > 0 ? (int64_t)(v * 1e6) : -1;
	}
	ro.on_revise = revise;
	ro.revise_ctx = e;
	if (spec_str(spec, "webhook")) {
		struct webhook_opts w = { .url = spec_str(spec, "webhook"), .allow_hosts = h->o.allow_hosts ? h->o.allow_hosts : "" };

		if (webhook_check(&w))
			note(e, "the webhook is not used", cairn_error_msg());
		else if ((rc = set_str(&e->hook_url, w.url)))
			return rc;
		ro.hook.url = e->hook_url;
		ro.hook.allow_hosts = w.allow_hosts;
	}
	return monitor_runner_new(&ro, &st, &e->runner);
}

static json_t *names_of(const json_t *flag)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(json_object_get(flag, "selected"), i, v)
		json_array_append(out, v);
	json_array_foreach(json_object_get(flag, "null_share"), i, v) {
		size_t j;
		json_t *seen;
		bool dup = false;

		json_array_foreach(out, j, seen)
			dup = dup || json_equal(seen, v);
		if (!dup)
			json_array_append(out, v);
	}
	return out;
}

/* the report callback: the window, the state after it and the incident's event, in one record */
static int record(void *ctx, const struct monitor_report *rep, const struct monitor_state *after)
{
	struct entry *e = ctx;
	struct monitor_host *h = e->h;
	const struct monitor_window *w = rep->w;
	json_t *ds = json_object_get(w->drift, "dataset"), *event = NULL, *window, *state;

	window = json_pack("{s:I,s:I,s:I,s:I,s:I,s:b,s:O?,s:o,s:O?,s:s?,s:O}", "start_us", (json_int_t)w->start_us, "end_us",
			   (json_int_t)w->end_us, "rows", (json_int_t)w->rows, "requests", (json_int_t)w->requests,
			   "bad_requests", (json_int_t)w->bad_requests, "dataset_drift", rep->drift, "share",
			   json_object_get(ds, "share_of_drifted_columns_with_nulls"), "drifted_columns",
			   names_of(json_object_get(w->drift, "flagged_by_test")), "performance", w->performance, "reference",
			   e->ref_key, "drift", w->drift);
	if (rep->event) {
		event = json_pack("{s:s,s:s,s:O}", "event", rep->event, "incident", after->incident, "alert", rep->alert);
		if (event && e->hook_url)
			json_object_set_new(event, "webhook",
					    json_pack("{s:s,s:b,s:I,s:s?}", "url", e->hook_url, "delivered", rep->delivered,
						      "status", (json_int_t)rep->hook_status, "error", rep->hook_error));
		if (event && e->retrain && !strcmp(rep->event, "firing")) {
			int rc = h->o.retrain ? h->o.retrain(h->o.retrain_ctx, e->name, after->incident, e->retrain)
					      : cairn_error_set(CAIRN_EUNSUPPORTED, "this host runs no pipelines (cairn server --pipeline DIR)");

			json_object_set_new(event, "retrain", json_pack("{s:s,s:b,s:s?}", "target", e->retrain, "started", !rc,
									"error", rc ? cairn_error_msg() : NULL));
		}
		cairn_log(LOG_WARN, "monitor %s: drift incident %s %s", e->name, after->incident, rep->event);
	}
	state = monitor_state_json(after);
	if (!window || !state || (rep->event && !event)) {
		json_decref(window);
		json_decref(state);
		json_decref(event);
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	return client_call(h->cl, "POST", "/api/cairn/v1/monitors/record",
			   json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o?}", "name", e->name, "owner", h->owner, "lease_ms",
				     (json_int_t)h->lease_ms, "index", (json_int_t)(after->step - 1), "window", window,
				     "state", state, "event", event),
			   NULL);
}

static void run_entry(struct entry *e, const json_t *m, const char *dir, const char *filter)
{
	struct buf labels = BUF_INIT;
	int rc;

	if (!e->runner || e->updated != json_integer_value(json_object_get(m, "last_update_time"))) {
		if ((rc = build(e, m, dir, filter))) {
			note(e, "the monitor cannot run", cairn_error_msg());
			entry_reset(e);
			return;
		}
	}
	if ((rc = refresh_reference(e))) {
		note(e, "the reference", cairn_error_msg());
		if (!e->reference)
			return;
	}
	e->mo.labels = e->labels_opt;
	if (!e->mo.labels) {   /* cairn serve keeps them beside the log */
		buf_printf(&labels, "%s/labels.jsonl", e->log_dir);
		if (!buf_error(&labels) && access(labels.ptr, R_OK) == 0)
			e->mo.labels = labels.ptr;
	}
	rc = monitor_runner_scan(e->runner, e->log_dir, &e->mo, false, record, e);
	e->mo.labels = NULL;
	buf_release(&labels);
	if (rc == CAIRN_ENOTFOUND && access(e->log_dir, F_OK) != 0) {
		note(e, "waiting for the inference log", cairn_error_msg());
	} else if (rc) {   /* start again from what the store holds */
		note(e, "a window was not recorded", cairn_error_msg());
		monitor_runner_free(e->runner);
		e->runner = NULL;
	} else {
		e->last_error[0] = '\0';
	}
}

static struct entry *entry_get(struct monitor_host *h, const char *name)
{
	struct entry *e;

	for (e = h->entries; e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	if (!(e = ccalloc(1, sizeof(*e))) || !(e->name = cstrdup(name))) {
		free(e);
		return NULL;
	}
	e->h = h;
	e->next = h->entries;
	h->entries = e;
	return e;
}

static void release(struct entry *e)
{
	if (e->held && client_call(e->h->cl, "POST", "/api/cairn/v1/monitors/release",
				   json_pack("{s:s,s:s}", "name", e->name, "owner", e->h->owner), NULL))
		cairn_log(LOG_WARN, "monitor %s: the lease was not given back: %s", e->name, cairn_error_msg());
	e->held = false;
}

static void poll_once(struct monitor_host *h)
{
	json_t *reply = NULL, *m;
	struct entry **pp;
	size_t i;

	if (client_call(h->cl, "GET", "/api/cairn/v1/monitors/list", json_object(), &reply)) {
		if (strcmp(h->list_error, cairn_error_msg())) {
			snprintf(h->list_error, sizeof(h->list_error), "%s", cairn_error_msg());
			cairn_log(LOG_WARN, "monitors: cannot list them: %s", h->list_error);
		}
		return;
	}
	h->list_error[0] = '\0';
	for (struct entry *e = h->entries; e; e = e->next)
		e->seen = false;
	json_array_foreach(json_object_get(reply, "monitors"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name")), *dir = NULL;
		json_t *claim = NULL, *cm;
		char filter[256];
		struct entry *e;

		if (!name || !json_is_true(json_object_get(m, "enabled")) ||
		    !takes(h, json_object_get(m, "spec"), &dir, filter, sizeof(filter)) || !(e = entry_get(h, name)))
			continue;
		e->seen = true;
		if (client_call(h->cl, "POST", "/api/cairn/v1/monitors/claim",
				json_pack("{s:s,s:s,s:I}", "name", name, "owner", h->owner, "lease_ms", (json_int_t)h->lease_ms),
				&claim)) {
			cairn_log(LOG_WARN, "monitor %s: cannot claim it: %s", name, cairn_error_msg());
			continue;
		}
		cm = json_object_get(claim, "monitor");
		if (!json_is_true(json_object_get(claim, "claimed"))) {   /* someone else runs it */
			if (e->held)
				cairn_log(LOG_WARN, "monitor %s: the lease was lost to %s", name, json_string_value(json_object_get(cm, "owner")) ? json_string_value(json_object_get(cm, "owner")) : "another runner");
			e->held = false;
			entry_reset(e);
		} else {
			if (!e->held)
				cairn_log(LOG_INFO, "monitor %s: running it (log %s, model %s)", name, dir, *filter ? filter : "any");
			e->held = true;
			run_entry(e, cm, dir, filter);
		}
		json_decref(claim);
	}
	json_decref(reply);
	for (pp = &h->entries; *pp;) {   /* gone, disabled or no longer ours */
		struct entry *e = *pp;

		if (e->seen) {
			pp = &e->next;
			continue;
		}
		release(e);
		*pp = e->next;
		entry_free(e);
	}
}

/* ---- the thread ---- */

static void *host_main(void *arg)
{
	struct monitor_host *h = arg;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		struct timespec until;

		pthread_mutex_unlock(&h->mu);
		poll_once(h);
		cairn_error_clear();
		pthread_mutex_lock(&h->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += h->o.poll_ms / 1000;
		until.tv_nsec += (h->o.poll_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void host_free(struct monitor_host *h)
{
	while (h->entries) {
		struct entry *e = h->entries;

		h->entries = e->next;
		release(e);
		entry_free(e);
	}
	client_free(h->cl);
	monitor_gauges_free(h->gauges);
	for (size_t i = 0; h->models && i < h->o.nmodels; i++) {
		free((char *)h->models[i].uri);
		free((char *)h->models[i].name);
	}
	free(h->models);
	free((char *)h->o.tracking_uri);
	free((char *)h->o.root);
	free((char *)h->o.log_dir);
	free((char *)h->o.allow_hosts);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h);
}

static int dup_opt(const char **dst, const char *s)
{
	*dst = NULL;
	if (s && !(*dst = cstrdup(s)))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

int monitor_host_start(const struct monitor_host_opts *o, struct monitor_host **out)
{
	struct monitor_host *h = ccalloc(1, sizeof(*h));
	char hostname[128] = "host", id[CAIRN_ID_LEN + 1];
	int rc;

	*out = NULL;
	if (!h)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->o = *o;
	h->o.nmodels = 0;
	if (!h->o.poll_ms)
		h->o.poll_ms = 5000;
	h->lease_ms = h->o.poll_ms * 3 > 3000 ? h->o.poll_ms * 3 : 3000;
	if ((rc = dup_opt(&h->o.tracking_uri, o->tracking_uri)) || (rc = dup_opt(&h->o.root, o->root)) ||
	    (rc = dup_opt(&h->o.log_dir, o->log_dir)) || (rc = dup_opt(&h->o.allow_hosts, o->allow_hosts)))
		goto fail;
	if (o->nmodels && !(h->models = ccalloc(o->nmodels, sizeof(*h->models)))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < o->nmodels; i++, h->o.nmodels++)
		if ((rc = dup_opt(&h->models[i].uri, o->models[i].uri)) || (rc = dup_opt(&h->models[i].name, o->models[i].name)))
			goto fail;
	h->o.models = h->models;
	gethostname(hostname, sizeof(hostname) - 1);
	cairn_id_new(id);
	snprintf(h->owner, sizeof(h->owner), "%s@%s:%d:%.8s", o->who ? o->who : "host", hostname, (int)getpid(), id);
	if ((rc = client_open(h->o.tracking_uri, h->o.root, &h->cl)) ||
	    (o->metrics && (rc = monitor_gauges_new(o->metrics, &h->gauges))))
		goto fail;
	if ((rc = pthread_create(&h->th, NULL, host_main, h))) {
		rc = cairn_error_set(CAIRN_ENOMEM, "cannot start the monitors' thread: %s", strerror(rc));
		goto fail;
	}
	h->started = true;
	*out = h;
	return 0;
fail:
	host_free(h);
	return rc;
}

void monitor_host_stop(struct monitor_host *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->started)
		pthread_join(h->th, NULL);
	host_free(h);
}
