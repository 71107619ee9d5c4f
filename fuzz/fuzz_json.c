/* fuzz_json.c - libFuzzer target: JSON request decoding through the real API handlers.
 *
 * The first input byte picks a JSON route; the rest is the request body. Bodies
 * that parse as objects get the id of a real run injected (unless the route byte's
 * high bit is set) so the handlers reach deep validation and the store. Every
 * request goes through api_invoke, the same dispatcher as HTTP requests.
 * Invariant: no crash, no sanitizer report, and never a 5xx status for any input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/error.h"
#include "core/json.h"

static struct api_ctx ctx;
static char run_id[64];

static const char *const routes[][2] = {
	{ "POST", "/mlflow/runs/log-batch" },       { "POST", "/mlflow/runs/create" },
	{ "POST", "/mlflow/experiments/create" },   { "POST", "/mlflow/runs/search" },
	{ "POST", "/mlflow/experiments/search" },   { "POST", "/mlflow/runs/log-inputs" },
	{ "POST", "/mlflow/runs/set-tag" },         { "POST", "/mlflow/runs/log-metric" },
	{ "POST", "/mlflow/runs/log-parameter" },   { "POST", "/mlflow/runs/update" },
	{ "GET", "/mlflow/metrics/get-history" },   { "GET", "/mlflow/metrics/get-history-bulk-interval" },
	{ "POST", "/mlflow/experiments/update" },   { "POST", "/mlflow/runs/delete-tag" },
	{ "GET", "/mlflow/runs/get" },              { "POST", "/mlflow/experiments/search-datasets" },
	/* registry: bodies lacking a name get "fz", a model with versions 1 and 2 */
	{ "POST", "/mlflow/registered-models/create" }, { "GET", "/mlflow/registered-models/search" },
	{ "POST", "/mlflow/registered-models/rename" }, { "PATCH", "/mlflow/registered-models/update" },
	{ "POST", "/mlflow/registered-models/get-latest-versions" }, { "POST", "/mlflow/registered-models/alias" },
	{ "GET", "/mlflow/registered-models/alias" },   { "DELETE", "/mlflow/registered-models/alias" },
	{ "POST", "/mlflow/registered-models/set-tag" }, { "POST", "/mlflow/model-versions/create" },
	{ "GET", "/mlflow/model-versions/search" },     { "GET", "/mlflow/model-versions/get-download-uri" },
	{ "POST", "/mlflow/model-versions/transition-stage" }, { "POST", "/mlflow/model-versions/set-tag" },
	{ "DELETE", "/mlflow/model-versions/delete" },  { "POST", "/registry/promote" },
	{ "GET", "/registry/resolve" },                 { "GET", "/registry/audit" },
	{ "POST", "/mlflow/logged-models" },            { "POST", "/mlflow/logged-models/search" },
	{ "POST", "/mlflow/runs/outputs" },
};
#define FIRST_REGISTRY_ROUTE 16

static void setup(void)
{
	char dir[] = "/tmp/cairn-fuzz-json-XXXXXX";
	struct buf out = BUF_INIT;
	json_t *r;
	int status;

	if (!mkdtemp(dir) || api_ctx_open(dir, &ctx)) {
		fprintf(stderr, "fuzz setup: %s\n", cairn_error_msg());
		abort();
	}
	if (api_invoke(&ctx, "POST", "/mlflow/registered-models/create", "{\"name\":\"fz\"}", &status, &out) ||
	    status != 200)
		abort();
	for (int i = 0; i < 2; i++) {
		buf_clear(&out);
		if (api_invoke(&ctx, "POST", "/mlflow/model-versions/create", "{\"name\":\"fz\",\"source\":\"s3://b/m\"}",
			       &status, &out) || status != 200)
			abort();
	}
	buf_clear(&out);
	if (api_invoke(&ctx, "POST", "/mlflow/runs/create", "{\"experiment_id\":\"0\"}", &status, &out) || status != 200)
		abort();
	r = json_loads(out.ptr, 0, NULL);
	snprintf(run_id, sizeof(run_id), "%s",
		 json_string_value(json_object_get(json_object_get(json_object_get(r, "run"), "info"), "run_id")));
	json_decref(r);
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	struct buf body = BUF_INIT, out = BUF_INIT;
	json_t *o = NULL;
	unsigned pick;
	int status = 0;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1)
		return 0;
	pick = data[0];
	if (cjson_parse_object((const char *)data + 1, size - 1, &o) == 0) {
		if (!(pick & 0x80))
			json_object_set_new(o, "run_id", json_string(run_id));
		if ((pick & 0x7f) % (sizeof(routes) / sizeof(routes[0])) >= FIRST_REGISTRY_ROUTE &&
		    !json_object_get(o, "name"))
			json_object_set_new(o, "name", json_string("fz"));
		cjson_dump(o, &body);
		json_decref(o);
	} else {
		buf_put(&body, data + 1, size - 1);
	}
	pick &= 0x7f;
	pick %= sizeof(routes) / sizeof(routes[0]);
	if (api_invoke(&ctx, routes[pick][0], routes[pick][1], body.ptr, &status, &out) == 0 && status >= 500) {
		fprintf(stderr, "5xx (%d) for %s %s: %s\n", status, routes[pick][0], routes[pick][1], out.ptr);
		abort();
	}
	buf_release(&body);
	buf_release(&out);
	return 0;
}
