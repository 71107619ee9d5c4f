/* fuzz_gate.c - libFuzzer target: promotion-gate requirements (registry/gate).
 *
 * Parses arbitrary bytes with the incumbent scope "champion" and evaluates
 * what parses against a deterministic lookup (a hash of the key picks found,
 * NaN, infinite, zero, missing or no incumbent). Invariants: a rejected
 * requirement is CAIRN_EINVALID with a "bad requirement" message; an
 * accepted one renders to canonical text that parses to the same text again
 * and evaluates to the same result and report.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "registry/gate.h"

static int lookup(void *ctx, bool incumbent, const char *metric, double *value)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *c = (const unsigned char *)metric; *c; c++)
		h = (h ^ *c) * 16777619u;
	h = (h ^ (incumbent ? 0x5a : 0)) * 16777619u;
	switch (h % 8) {
	case 0: return GATE_MISSING;
	case 1: return incumbent ? GATE_NO_INCUMBENT : GATE_MISSING;
	case 2: *value = NAN; return GATE_FOUND;
	case 3: *value = (h & 256) ? INFINITY : -INFINITY; return GATE_FOUND;
	case 4: *value = 0; return GATE_FOUND;
	default: *value = (double)(h >> 8) / 1000.0 - 5000; return GATE_FOUND;
	}
}

/* Evaluate g; the report serialised into out. */
static bool eval(const struct gate *g, struct buf *out)
{
	json_t *report = NULL;
	bool holds = false;

	if (gate_eval(g, lookup, NULL, &holds, &report) || !report)
		abort();
	if (cjson_dump(report, out))
		abort();
	json_decref(report);
	return holds;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct buf text = BUF_INIT, again = BUF_INIT, r1 = BUF_INIT, r2 = BUF_INIT;
	struct gate *g = NULL, *g2 = NULL;
	char *s;
	int rc;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = gate_parse(s, "champion", &g);
	if (rc) {
		if (rc != CAIRN_EINVALID || g || strncmp(cairn_error_msg(), "bad requirement", 15))
			abort();
		goto out;
	}
	if (gate_text(g, &text))
		abort();
	if (text.len <= GATE_MAX_TEXT) {
		/* spacing may push a long canonical text past the limit; others must reparse */
		if (gate_parse(text.ptr, "champion", &g2) || gate_text(g2, &again) || strcmp(text.ptr, again.ptr))
			abort();
		if (eval(g, &r1) != eval(g2, &r2) || strcmp(r1.ptr, r2.ptr))
			abort();
	} else {
		eval(g, &r1);
	}
out:
	gate_free(g);
	gate_free(g2);
	buf_release(&text);
	buf_release(&again);
	buf_release(&r1);
	buf_release(&r2);
	free(s);
	return 0;
}
