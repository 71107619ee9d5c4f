/* cairn_deployments.c - /api/cairn/v1/deployments/...: model servers report what they serve and how it goes. */
#include "api/api_int.h"
#include "registry/deployments.h"

#include <string.h>

/* POST {name, info: {...}, metrics: "<exposition text>"} (what `cairn serve` sends every poll) */
static int dc_report(struct api_call *c)
{
	const char *name, *metrics;
	json_t *info = json_object_get(c->body, "info");
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = api_str(c, "metrics", true, &metrics)) < 0)
		return rc;
	if (!info)
		return cjson_missing("info");
	if ((rc = dep_report(c->st, name, info, metrics)))
		return rc;
	c->reply = json_object();
	return 0;
}

/* GET ?metrics=true: each deployment's last two metrics texts too */
static int dc_list(struct api_call *c)
{
	const char *with = NULL;
	json_t *list;
	int rc;

	if ((rc = api_str(c, "metrics", false, &with)) < 0)
		return rc;
	if ((rc = dep_list(c->st, with && !strcmp(with, "true"), &list)))
		return rc;
	c->reply = json_pack("{s:o}", "deployments", list);
	return 0;
}

static int dc_delete(struct api_call *c)
{
	const char *name;
	int rc;

	if ((rc = api_str(c, "name", true, &name)) < 0 || (rc = dep_delete(c->st, name)))
		return rc;
	c->reply = json_object();
	return 0;
}

const struct http_route api_cairn_deployment_routes[] = {
	API_ROUTE("POST", "/deployments/report", dc_report),
	API_ROUTE("GET", "/deployments/list", dc_list),
	API_ROUTE("DELETE", "/deployments/delete", dc_delete),
};
const size_t api_cairn_deployment_nroutes = sizeof(api_cairn_deployment_routes) / sizeof(api_cairn_deployment_routes[0]);
