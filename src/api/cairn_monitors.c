/* cairn_monitors.c - /api/cairn/v1/monitors/...: define monitors, read their history, and the routes their runners use. */
#include "api/api_int.h"
#include "registry/monitors.h"

#include <string.h>

static int name_arg(struct api_call *c, const char **name)
{
	int rc = api_str(c, "name", true, name);

	return rc < 0 ? rc : 0;
}

static int reply_monitor(struct api_call *c, json_t *m)
{
	c->reply = json_pack("{s:o}", "monitor", m);
	return 0;
}

static int mc_create(struct api_call *c)
{
	const char *name;
	json_t *spec = json_object_get(c->body, "spec"), *m;
	int rc;

	if ((rc = name_arg(c, &name)))
		return rc;
	if (!spec)
		return cjson_missing("spec");
	if ((rc = mon_create(c->st, name, spec, api_user(c), &m)))
		return rc;
	return reply_monitor(c, m);
}

static int mc_get(struct api_call *c)
{
	const char *name;
	json_t *m;
	int rc;

	if ((rc = name_arg(c, &name)) || (rc = mon_get(c->st, name, &m)))
		return rc;
	return reply_monitor(c, m);
}

static int mc_list(struct api_call *c)
{
	json_t *list;
	int rc;

	if ((rc = mon_list(c->st, &list)))
		return rc;
	c->reply = json_pack("{s:o}", "monitors", list);
	return 0;
}

static int mc_update(struct api_call *c)
{
	const char *name;
	json_t *spec = json_object_get(c->body, "spec"), *en = json_object_get(c->body, "enabled"), *m;
	int rc;

	if ((rc = name_arg(c, &name)))
		return rc;
	if (en && !json_is_boolean(en))
		return cairn_error_set(CAIRN_EINVALID, "Invalid value for parameter 'enabled': expected true or false");
	if ((rc = mon_update(c->st, name, spec, en ? json_is_true(en) : -1, &m)))
		return rc;
	return reply_monitor(c, m);
}

static int mc_delete(struct api_call *c)
{
	const char *name;
	int rc;

	if ((rc = name_arg(c, &name)))
		return rc;
	return mon_delete(c->st, name);
}

static int mc_windows(struct api_call *c)
{
	const char *name, *full = NULL;
	int64_t limit = 0, before = -1;
	json_t *list;
	int rc;

	if ((rc = name_arg(c, &name)) || (rc = api_int64(c, "max_results", false, &limit)) < 0 ||
	    (rc = api_int64(c, "before", false, &before)) < 0)
		return rc;
	if (json_is_true(json_object_get(c->body, "full")))
		full = "true";
	else if ((rc = api_str(c, "full", false, &full)) < 0)
		return rc;
	if ((rc = mon_windows(c->st, name, before, limit, full && !strcmp(full, "true"), &list)))
		return rc;
	c->reply = json_pack("{s:o}", "windows", list);
	return 0;
}

static int mc_events(struct api_call *c)
{
	const char *name;
	int64_t limit = 0;
	json_t *list;
	int rc;

	if ((rc = name_arg(c, &name)) || (rc = api_int64(c, "max_results", false, &limit)) < 0 ||
	    (rc = mon_events(c->st, name, limit, &list)))
		return rc;
	c->reply = json_pack("{s:o}", "events", list);
	return 0;
}

/* ---- the runner's routes ---- */

static int runner_args(struct api_call *c, const char **name, const char **owner, int64_t *lease_ms)
{
	int rc;

	if ((rc = name_arg(c, name)) || (rc = api_str(c, "owner", true, owner)) < 0)
		return rc;
	if (lease_ms && (rc = api_int64(c, "lease_ms", true, lease_ms)) < 0)
		return rc;
	return 0;
}

static int mc_claim(struct api_call *c)
{
	const char *name, *owner;
	int64_t lease_ms;
	bool claimed;
	json_t *m;
	int rc;

	if ((rc = runner_args(c, &name, &owner, &lease_ms)) || (rc = mon_claim(c->st, name, owner, lease_ms, &claimed, &m)))
		return rc;
	c->reply = json_pack("{s:o,s:b}", "monitor", m, "claimed", claimed);
	return 0;
}

static int mc_release(struct api_call *c)
{
	const char *name, *owner;
	int rc;

	if ((rc = runner_args(c, &name, &owner, NULL)))
		return rc;
	return mon_release(c->st, name, owner);
}

static int mc_record(struct api_call *c)
{
	const char *name, *owner;
	int64_t lease_ms, idx;
	json_t *ev = json_object_get(c->body, "event");
	int rc;

	if ((rc = runner_args(c, &name, &owner, &lease_ms)) || (rc = api_int64(c, "index", true, &idx)) < 0)
		return rc;
	return mon_record(c->st, name, owner, lease_ms, idx, json_object_get(c->body, "window"),
			  json_object_get(c->body, "state"), json_is_null(ev) ? NULL : ev);
}

static int mc_revise(struct api_call *c)
{
	const char *name, *owner;
	int64_t lease_ms, idx, revision;
	int rc;

	if ((rc = runner_args(c, &name, &owner, &lease_ms)) || (rc = api_int64(c, "index", true, &idx)) < 0 ||
	    (rc = api_int64(c, "revision", true, &revision)) < 0)
		return rc;
	return mon_revise(c->st, name, owner, lease_ms, idx, revision, json_object_get(c->body, "performance"),
			  json_object_get(c->body, "state"));
}

static int mc_note(struct api_call *c)
{
	const char *name, *owner;
	int rc;

	if ((rc = runner_args(c, &name, &owner, NULL)))
		return rc;
	return mon_note(c->st, name, owner, json_object_get(c->body, "event"));
}

/* Mounted at /api/cairn/v1. */
const struct http_route api_cairn_monitor_routes[] = {
	API_ROUTE("POST", "/monitors/create", mc_create),
	API_ROUTE("GET", "/monitors/get", mc_get),
	API_ROUTE("GET", "/monitors/list", mc_list),
	API_ROUTE("PATCH", "/monitors/update", mc_update),
	API_ROUTE("DELETE", "/monitors/delete", mc_delete),
	API_ROUTE("GET", "/monitors/windows", mc_windows),
	API_ROUTE("GET", "/monitors/events", mc_events),
	API_ROUTE("POST", "/monitors/claim", mc_claim),
	API_ROUTE("POST", "/monitors/release", mc_release),
	API_ROUTE("POST", "/monitors/record", mc_record),
	API_ROUTE("POST", "/monitors/revise", mc_revise),
	API_ROUTE("POST", "/monitors/note", mc_note),
};
const size_t api_cairn_monitor_nroutes = sizeof(api_cairn_monitor_routes) / sizeof(api_cairn_monitor_routes[0]);
