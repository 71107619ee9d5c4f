/* fuzz_monitor.c - libFuzzer target: what a monitor decodes (monitor/runner.h, monitor/monitor.h).
 *
 * The first byte picks the decoder for the rest, read as JSON: even, a runner's
 * state (from a --state file or the store); odd, a logged request body and its
 * answer ({"input": ..., "output": ...}) turned back into rows. Invariants: no
 * crash, no sanitizer report; a state that parses writes out as JSON that
 * parses to the same state and writes out the same again; rows are always an
 * array of objects.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "monitor/monitor.h"
#include "monitor/runner.h"

static void state(const json_t *j)
{
	struct monitor_state a, b;
	json_t *ja, *jb;

	if (monitor_state_parse(j, "input", &a))
		return;
	if (!(ja = monitor_state_json(&a)))
		return;
	if (monitor_state_parse(ja, "written", &b))
		abort();   /* what we write must read back */
	if (!(jb = monitor_state_json(&b)) || !json_equal(ja, jb))
		abort();
	json_decref(ja);
	json_decref(jb);
}

static void rows(const json_t *j)
{
	static const char *const names[] = { "f0", "f1", "f2" };
	json_t *out = NULL, *r;
	size_t i;

	if (monitor_rows(json_object_get(j, "input"), json_object_get(j, "output"), names, 3, &out))
		return;
	if (!json_is_array(out))
		abort();
	json_array_foreach(out, i, r)
		if (!json_is_object(r))
			abort();
	json_decref(out);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *j;

	if (size < 1)
		return 0;
	j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	if (data[0] & 1)
		rows(j);
	else
		state(j);
	json_decref(j);
	cairn_error_clear();
	return 0;
}
