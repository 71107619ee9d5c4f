/* gate.h - promotion gates: requirement expressions over two versions' metrics.
 *
 * A requirement such as
 *     metrics.auc >= champion.metrics.auc + 0.01 and metrics.latency_ms < 50
 * compares the candidate version's run metrics (`metrics.X`, also written
 * `candidate.metrics.X`) with the incumbent's (`<alias>.metrics.X`, where
 * <alias> is the alias being promoted to, e.g. `champion`) and numbers.
 *
 * Grammar (keywords case-insensitive):
 *     expr    := and { ('or' | '||') and }
 *     and     := unary { ('and' | '&&') unary }
 *     unary   := ('not' | '!') unary | '(' expr ')' | cmp
 *     cmp     := sum op sum            op: < <= > >= == = !=
 *     sum     := term { ('+' | '-') term }
 *     term    := factor { ('*' | '/') factor }
 *     factor  := number | ref | '-' factor | '(' sum ')'
 *     ref     := [scope '.'] 'metrics' '.' key     key: word { '.' word } or `quoted`
 * Details:
 *  - The whole requirement must be a comparison or a combination of them:
 *    `metrics.auc` or `1 + 2` alone is an error, and so is a chained
 *    `metrics.a < metrics.b < 3` (write `... and metrics.b < 3`).
 *  - number: decimal digits with an optional fraction and exponent (`50`,
 *    `0.5`, `.5`, `1e-3`); there are no inf or nan literals and no signs (a
 *    leading '-' is negation). `=` is the same as `==`.
 *  - scope and `metrics` are case-sensitive. No scope or `candidate` means the
 *    candidate; the incumbent name given to gate_parse() means the incumbent.
 *  - An unquoted key starts with a letter, digit or '_' and runs over letters,
 *    digits, '_', '.', '-' and '/', but does not end in '.', '-' or '/':
 *    `metrics.val/loss-v2` is one key, so `metrics.a-1` is the key "a-1" (write
 *    `metrics.a - 1` to subtract). Any other key goes in backticks, with a
 *    doubled backtick standing for one: metrics.`val loss`.
 *  - Limits: GATE_MAX_TEXT bytes, GATE_MAX_DEPTH nested '(' / not / unary '-',
 *    GATE_MAX_NODES numbers, metrics and operators.
 * Every parse error is CAIRN_EINVALID with a one-line message giving the byte
 * offset, e.g. "bad requirement at offset 12: expected a comparison operator,
 * found 'and'".
 *
 * Evaluation asks a lookup callback for each referenced metric, and evaluates
 * every comparison (no short-circuit), so the report shows all of them. Each
 * comparison is true, false or unknown:
 *  - unknown (it fails) when a metric it reads is not logged (GATE_MISSING,
 *    by the candidate or by an existing incumbent), is NaN, or its arithmetic
 *    divides by zero or gives NaN;
 *  - otherwise true, vacuously, when it reads the incumbent and there is none
 *    (GATE_NO_INCUMBENT: the alias is not set yet);
 *  - otherwise the comparison of the two numbers.
 * `and` / `or` combine these as Kleene's three-valued logic (false and
 * unknown = false, true or unknown = true), `not` swaps true and false and
 * leaves unknown unknown, and the requirement holds only when the whole is
 * true. So a missing metric or a division by zero can never let a version
 * through, even under `not`; but a vacuous comparison counts as true *before*
 * `not` applies: with no incumbent, `not metrics.auc < champion.metrics.auc`
 * is false. Write gates that should pass on a first promotion without `not`
 * around incumbent comparisons.
 */
#ifndef CAIRN_REGISTRY_GATE_H
#define CAIRN_REGISTRY_GATE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/buf.h"

#define GATE_MAX_TEXT 4096 /* bytes of requirement text */
#define GATE_MAX_DEPTH 64  /* nested parentheses, not and unary minus */
#define GATE_MAX_NODES 256 /* numbers, metric references and operators */

struct gate; /* a parsed expression, opaque */

/* Parse text; `incumbent` is the scope name that means the incumbent version
 * (e.g. "champion"); "candidate" and no scope always mean the candidate.
 * Any other scope is an error. `incumbent` may be NULL (only candidate
 * metrics may then be read); otherwise it must be letters, digits, '_' and
 * '-' (an MLflow alias), and not "candidate" or "metrics", which would be
 * ambiguous (CAIRN_EINVALID). *out is owned: gate_free() it. */
int gate_parse(const char *text, const char *incumbent, struct gate **out);
void gate_free(struct gate *g);

/* Append the canonical text of the requirement to out: single spaces around
 * binary operators, lower-case `and` / `or` / `not`, `==` for `=`, the
 * candidate written `metrics.X`, numbers in shortest round-trip form,
 * backticks only where a key needs them, and parentheses only where the
 * structure needs them, e.g.
 *     "metrics.auc >= champion.metrics.auc + 0.01 and not metrics.`val loss` > 1"
 * Parsing the canonical text gives the same gate. Returns 0 or out's error. */
int gate_text(const struct gate *g, struct buf *out);

/* Whether the requirement reads any incumbent metric. */
bool gate_reads_incumbent(const struct gate *g);

enum gate_lookup_result { GATE_FOUND = 0, GATE_MISSING = 1, GATE_NO_INCUMBENT = 2 };

/* incumbent: false for the candidate. Returns a gate_lookup_result, or a
 * negative cairn error code to abort evaluation. `metric` is the key as
 * logged (backticks removed). GATE_NO_INCUMBENT is only meaningful for
 * incumbent lookups; returned for the candidate it aborts with CAIRN_ERR. */
typedef int (*gate_lookup_fn)(void *ctx, bool incumbent, const char *metric, double *value);

/* Evaluate. *holds tells whether the requirement is met. *report (owned,
 * may be NULL) receives a JSON array with one object per comparison, in text
 * order, each showing that comparison alone (before any enclosing `not`):
 *   {"expr": "metrics.auc >= champion.metrics.auc", "left": 0.91, "op": ">=",
 *    "right": 0.89, "holds": true, "note": "..."}
 * "expr" is the comparison's canonical text; "left" / "right" are the values
 * of its two sides: a number, null when the side could not be evaluated
 * (missing metric, no incumbent, NaN, division by zero), or "Infinity" /
 * "-Infinity". "holds" is false for unknown comparisons. "note" is present
 * only when there is something to say, several notes joined by "; ":
 *   "metrics.auc is not logged by the candidate run"
 *   "champion.metrics.auc is not logged by the incumbent run"
 *   "no incumbent: champion is not set"
 *   "metrics.auc is NaN", "division by zero", "the arithmetic gives NaN"
 * Returns 0, or the lookup's negative error code (then *holds is false and
 * *report NULL). */
int gate_eval(const struct gate *g, gate_lookup_fn lookup, void *ctx, bool *holds, json_t **report);

#endif
