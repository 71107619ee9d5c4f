/* tests/registry/gate.c - promotion-gate requirements: parsing, errors,
 * canonical text, and three-valued evaluation with its report.
 *
 * The lookup serves a fixed table: the candidate has auc 0.91, f1 0.80,
 * latency_ms 40, zero 0, nan NaN, big +inf, "val loss" 1.5, "val/loss-v2" 2,
 * "a`b" 3; the incumbent (when present) has auc 0.89, f1 0.85, latency_ms 45,
 * "val loss" 1.0.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "registry/gate.h"

struct metric {
	const char *key;
	double value;
};

static const struct metric cand[] = {
	{ "auc", 0.91 }, { "f1", 0.80 }, { "latency_ms", 40 }, { "zero", 0 }, { "nan", NAN },
	{ "big", INFINITY }, { "val loss", 1.5 }, { "val/loss-v2", 2 }, { "a`b", 3 },
};

static const struct metric inc[] = {
	{ "auc", 0.89 }, { "f1", 0.85 }, { "latency_ms", 45 }, { "val loss", 1.0 },
};

struct world {
	bool has_incumbent; /* the alias is set */
	int calls;          /* lookups made */
	int fail_on;        /* when > 0, the lookup fails on this call */
};

static int lookup(void *ctx, bool incumbent, const char *metric, double *value)
{
	struct world *w = ctx;
	const struct metric *t = incumbent ? inc : cand;
	size_t n = incumbent ? sizeof(inc) / sizeof(inc[0]) : sizeof(cand) / sizeof(cand[0]);

	w->calls++;
	if (w->fail_on && w->calls == w->fail_on)
		return cairn_error_set(CAIRN_EIO, "store unavailable");
	if (incumbent && !w->has_incumbent)
		return GATE_NO_INCUMBENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].key, metric)) {
			*value = t[i].value;
			return GATE_FOUND;
		}
	return GATE_MISSING;
}

static struct gate *parse_ok(const char *text)
{
	struct gate *g = NULL;
	int rc = gate_parse(text, "champion", &g);

	cr_assert_eq(rc, 0, "parse '%s': %s", text, cairn_error_msg());
	cr_assert_not_null(g);
	return g;
}

/* The canonical text of text. */
static void canon_is(const char *text, const char *want)
{
	struct gate *g = parse_ok(text);
	struct buf b = BUF_INIT;
	struct gate *again = NULL;
	struct buf b2 = BUF_INIT;

	cr_assert_eq(gate_text(g, &b), 0);
	cr_assert_str_eq(b.ptr, want, "canonical text of '%s'", text);
	/* the canonical text parses to the same gate */
	cr_assert_eq(gate_parse(b.ptr, "champion", &again), 0, "%s", cairn_error_msg());
	cr_assert_eq(gate_text(again, &b2), 0);
	cr_assert_str_eq(b2.ptr, want);
	buf_release(&b);
	buf_release(&b2);
	gate_free(g);
	gate_free(again);
}

static void parse_fails(const char *text, const char *msg)
{
	struct gate *g = (struct gate *)&g; /* not NULL: gate_parse must clear it */
	int rc = gate_parse(text, "champion", &g);

	cr_assert_eq(rc, CAIRN_EINVALID, "'%s' should fail", text);
	cr_assert_null(g);
	cr_assert_str_eq(cairn_error_msg(), msg, "error for '%s'", text);
}

/* Evaluate text against the table; the report is returned when wanted. */
static bool holds_with(const char *text, bool has_incumbent, json_t **report)
{
	struct gate *g = parse_ok(text);
	struct world w = { has_incumbent, 0, 0 };
	bool holds = !false;

	cr_assert_eq(gate_eval(g, lookup, &w, &holds, report), 0, "%s", cairn_error_msg());
	gate_free(g);
	return holds;
}

static bool holds(const char *text)
{
	return holds_with(text, true, NULL);
}

static char *dump(json_t *v)
{
	struct buf b = BUF_INIT;

	cr_assert_eq(cjson_dump(v, &b), 0);
	return buf_detach(&b);
}

static void report_is(const char *text, bool has_incumbent, bool want_holds, const char *want)
{
	json_t *r = NULL;
	bool h = holds_with(text, has_incumbent, &r);
	char *s = dump(r);

	cr_assert_eq(h, want_holds, "'%s' holds", text);
	cr_assert_str_eq(s, want, "report of '%s': %s", text, s);
	free(s);
	json_decref(r);
}

Test(gate, comparisons_and_numbers)
{
	cr_assert(holds("metrics.auc > 0.9"));
	cr_assert(!holds("metrics.auc < 0.9"));
	cr_assert(holds("metrics.auc >= 0.91"));
	cr_assert(holds("metrics.auc <= 0.91"));
	cr_assert(holds("metrics.latency_ms == 40"));
	cr_assert(holds("metrics.latency_ms = 40"), "= is ==");
	cr_assert(holds("metrics.latency_ms != 41"));
	cr_assert(holds("metrics.latency_ms < 4e1 + .5"), "exponent and leading dot");
	cr_assert(holds("metrics.latency_ms == 4.0E+1"));
	cr_assert(holds("metrics.latency_ms > 1e-3"));
	cr_assert(holds("metrics.latency_ms >= 40."));
	cr_assert(holds("1 < 2"), "no metric at all is allowed");
	cr_assert(holds("candidate.metrics.auc == metrics.auc"));
	cr_assert(holds("metrics.auc > champion.metrics.auc"));
}

Test(gate, arithmetic_precedence)
{
	cr_assert(holds("1 + 2 * 3 == 7"));
	cr_assert(holds("(1 + 2) * 3 == 9"));
	cr_assert(holds("10 - 4 - 3 == 3"), "left-associative minus");
	cr_assert(holds("64 / 4 / 2 == 8"), "left-associative division");
	cr_assert(holds("-2 * -3 == 6"));
	cr_assert(holds("--2 == 2"));
	cr_assert(holds("-(1 + 2) == -3"));
	cr_assert(holds("2 - -1 == 3"));
	cr_assert(holds("metrics.auc >= champion.metrics.auc + 0.01"));
	cr_assert(!holds("metrics.auc >= champion.metrics.auc + 0.03"));
	cr_assert(holds("metrics.latency_ms / champion.metrics.latency_ms < 0.9"));
	cr_assert(holds("(metrics.latency_ms - 30) * 2 == 20"), "'(' opening a sum");
	cr_assert(holds("((metrics.latency_ms)) == 40"));
}

Test(gate, logic_precedence)
{
	cr_assert(holds("metrics.auc > 0.9 and metrics.latency_ms < 50"));
	cr_assert(!holds("metrics.auc > 0.9 and metrics.latency_ms < 30"));
	cr_assert(holds("metrics.auc > 0.95 or metrics.latency_ms < 50"));
	cr_assert(!holds("metrics.auc > 0.95 or metrics.latency_ms > 50"));
	/* and binds tighter than or: true or (false and false) */
	cr_assert(holds("1 < 2 or 1 > 2 and 1 > 2"));
	cr_assert(!holds("(1 < 2 or 1 > 2) and 1 > 2"));
	/* not binds tighter than and, looser than a comparison */
	cr_assert(holds("not metrics.auc < 0.5"));
	cr_assert(!holds("not 1 < 2 and 1 < 2"));
	cr_assert(holds("not (1 > 2 and 1 < 2)"));
	cr_assert(holds("not not 1 < 2"));
	cr_assert(holds("NOT 1 > 2 AnD 1 < 2 Or 1 > 2"), "keywords in any case");
	cr_assert(holds("!(1 > 2) && (1 < 2 || 1 > 2)"), "&& || !");
	cr_assert(holds("! 1 > 2"));
	cr_assert(holds("1 != 2 and !(1 == 2)"), "!= is not ! =");
}

Test(gate, canonical_text)
{
	canon_is("metrics.auc>=champion.metrics.auc+0.01", "metrics.auc >= champion.metrics.auc + 0.01");
	canon_is("  candidate.metrics.auc = 1  ", "metrics.auc == 1");
	canon_is("metrics.a > 1 AND NOT metrics.b < 2 || metrics.c != 3",
		 "metrics.a > 1 and not metrics.b < 2 or metrics.c != 3");
	canon_is("(((metrics.a > 1)))", "metrics.a > 1");
	canon_is("metrics.a > 1 and (metrics.b > 2 or metrics.c > 3)",
		 "metrics.a > 1 and (metrics.b > 2 or metrics.c > 3)");
	canon_is("(metrics.a > 1 and metrics.b > 2) or metrics.c > 3", "metrics.a > 1 and metrics.b > 2 or metrics.c > 3");
	canon_is("metrics.a > 1 and (metrics.b > 2 and metrics.c > 3)",
		 "metrics.a > 1 and (metrics.b > 2 and metrics.c > 3)");
	canon_is("not (metrics.a > 1 or metrics.b > 1)", "not (metrics.a > 1 or metrics.b > 1)");
	canon_is("1 - (2 - 3) == 1 - 2 - 3", "1 - (2 - 3) == 1 - 2 - 3");
	canon_is("(1 + 2) * 3 == 1 + (2 * 3)", "(1 + 2) * 3 == 1 + 2 * 3");
	canon_is("8 / (4 / 2) == -(1) * -metrics.x", "8 / (4 / 2) == -1 * -metrics.x");
	canon_is("-(metrics.a + 1) < .5e1", "-(metrics.a + 1) < 5");
	canon_is("metrics.a < 0.1 + 1e-5 + 1e20 + 12345678.9 + 0.30000000000000004",
		 "metrics.a < 0.1 + 1e-05 + 1e+20 + 12345678.9 + 0.30000000000000004");
	canon_is("metrics.`auc` > 0", "metrics.auc > 0");
	canon_is("metrics.`val loss` < champion.metrics.`val loss`",
		 "metrics.`val loss` < champion.metrics.`val loss`");
	canon_is("metrics.`a``b` > metrics.`x.` + metrics.`-y`", "metrics.`a``b` > metrics.`x.` + metrics.`-y`");
	canon_is("metrics.val/loss-v2 >= metrics.train.acc_1", "metrics.val/loss-v2 >= metrics.train.acc_1");
	canon_is("metrics.a- 1 > metrics.b/ 2", "metrics.a - 1 > metrics.b / 2");
	canon_is("!!(1 < 2)", "not not 1 < 2");
}

Test(gate, keys)
{
	cr_assert(holds("metrics.`val loss` > champion.metrics.`val loss`"));
	cr_assert(holds("metrics.val/loss-v2 == 2"), "'/' and '-' inside an unquoted key");
	cr_assert(holds("metrics.`val/loss-v2` == 2"));
	cr_assert(holds("metrics.`a``b` == 3"), "doubled backtick");
	/* a key swallows '-' and '/' that touch it: metrics.auc-1 is a key */
	cr_assert(!holds("metrics.auc-1 < 1"), "missing key auc-1");
	cr_assert(holds("metrics.auc - 1 < 0"));
	cr_assert(holds("metrics.latency_ms/ 2 == 20"), "a trailing '/' is not part of a key");
}

Test(gate, scopes_and_incumbent_names)
{
	struct gate *g = NULL;
	struct buf b = BUF_INIT;

	parse_fails("challenger.metrics.auc > 1",
		    "bad requirement at offset 0: unknown scope 'challenger': use metrics.KEY or champion.metrics.KEY");
	parse_fails("metrics.auc > prod-v2.metrics.auc",
		    "bad requirement at offset 14: unknown scope 'prod-v2': use metrics.KEY or champion.metrics.KEY");
	parse_fails("params.lr > 1",
		    "bad requirement at offset 0: unknown scope 'params': use metrics.KEY or champion.metrics.KEY");
	parse_fails("champion.params.lr > 1", "bad requirement at offset 9: expected 'metrics.' after 'champion.'");
	parse_fails("candidate.auc > 1", "bad requirement at offset 10: expected 'metrics.' after 'candidate.'");
	parse_fails("Metrics.auc > 1",
		    "bad requirement at offset 0: unknown scope 'Metrics': use metrics.KEY or champion.metrics.KEY");

	/* an alias with '-' */
	cr_assert_eq(gate_parse("metrics.a > prod-v2.metrics.a - 1", "prod-v2", &g), 0, "%s", cairn_error_msg());
	cr_assert(gate_reads_incumbent(g));
	cr_assert_eq(gate_text(g, &b), 0);
	cr_assert_str_eq(b.ptr, "metrics.a > prod-v2.metrics.a - 1");
	gate_free(g);
	buf_release(&b);

	/* no incumbent: only the candidate */
	cr_assert_eq(gate_parse("metrics.a > 1", NULL, &g), 0);
	cr_assert(!gate_reads_incumbent(g));
	gate_free(g);
	cr_assert_eq(gate_parse("champion.metrics.a > 1", NULL, &g), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "bad requirement at offset 0: unknown scope 'champion': use metrics.KEY");

	cr_assert_eq(gate_parse("metrics.a > 1", "candidate", &g), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "invalid incumbent scope 'candidate': the name is reserved");
	cr_assert_eq(gate_parse("metrics.a > 1", "metrics", &g), CAIRN_EINVALID);
	cr_assert_eq(gate_parse("metrics.a > 1", "", &g), CAIRN_EINVALID);
	cr_assert_eq(gate_parse("metrics.a > 1", "a.b", &g), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "invalid incumbent scope 'a.b': use letters, digits, '_' and '-'");
	cr_assert_null(g);
}

Test(gate, syntax_errors)
{
	parse_fails("", "bad requirement: it is empty");
	parse_fails(" \t\n", "bad requirement: it is empty");
	parse_fails("metrics.auc", "bad requirement at offset 11: expected a comparison operator, found end of requirement");
	parse_fails("1 + 2", "bad requirement at offset 5: expected a comparison operator, found end of requirement");
	parse_fails("metrics.accuracy auc > 1",
		    "bad requirement at offset 17: expected a comparison operator, found 'auc'");
	parse_fails("metrics.a and metrics.b > 1",
		    "bad requirement at offset 10: expected a comparison operator, found 'and'");
	parse_fails("metrics.a > 1 and metrics.b",
		    "bad requirement at offset 27: expected a comparison operator, found end of requirement");
	parse_fails("not metrics.a", "bad requirement at offset 13: expected a comparison operator, found end of requirement");
	parse_fails("metrics.a < metrics.b < 3",
		    "bad requirement at offset 22: chained comparison: join comparisons with 'and' or 'or'");
	parse_fails("(metrics.a < metrics.b) < 3",
		    "bad requirement at offset 24: chained comparison: join comparisons with 'and' or 'or'");
	parse_fails("3 > (metrics.a < metrics.b)",
		    "bad requirement at offset 2: chained comparison: join comparisons with 'and' or 'or'");
	parse_fails("(1 < 2) + 1 > 0", "bad requirement at offset 8: '+' needs a number, not a comparison");
	parse_fails("1 * (1 < 2) > 0", "bad requirement at offset 2: '*' needs a number, not a comparison");
	parse_fails("-(1 < 2)", "bad requirement at offset 0: '-' needs a number, not a comparison");
	parse_fails("metrics.a > 1 metrics.b > 2",
		    "bad requirement at offset 14: expected 'and', 'or' or end of requirement, found 'metrics.b'");
	parse_fails("metrics.a > 1)", "bad requirement at offset 13: expected 'and', 'or' or end of requirement, found ')'");
	parse_fails("(metrics.a > 1", "bad requirement at offset 14: expected ')' to close the '(' at offset 0, found end of requirement");
	parse_fails("metrics.a > ", "bad requirement at offset 12: expected a number or metrics.KEY, found end of requirement");
	parse_fails("metrics.a > auc", "bad requirement at offset 12: expected a number or metrics.KEY, found 'auc'");
	parse_fails("metrics.a > not 1", "bad requirement at offset 12: expected a number or metrics.KEY, found 'not'");
	parse_fails("metrics.a > +1", "bad requirement at offset 12: expected a number or metrics.KEY, found '+'");
	parse_fails("metrics.a >> 1", "bad requirement at offset 11: expected a number or metrics.KEY, found '>'");
	parse_fails("metrics.a & 1", "bad requirement at offset 10: unexpected character '&': use '&&' or 'and'");
	parse_fails("metrics.a | 1", "bad requirement at offset 10: unexpected character '|': use '||' or 'or'");
	parse_fails("metrics.a > 1 ; drop", "bad requirement at offset 14: unexpected character ';'");
	parse_fails("metrics.a > \x01", "bad requirement at offset 12: unexpected character '\\x01'");
	parse_fails("metrics.a > 'x'", "bad requirement at offset 12: unexpected character '''");
	parse_fails("metrics.a > \xc3\xa9", "bad requirement at offset 12: unexpected character '\\xc3'");
}

Test(gate, number_errors)
{
	parse_fails("metrics.a > inf", "bad requirement at offset 12: 'inf' is not a number: use finite numbers");
	parse_fails("metrics.a > -Infinity", "bad requirement at offset 13: 'Infinity' is not a number: use finite numbers");
	parse_fails("NaN < metrics.a", "bad requirement at offset 0: 'NaN' is not a number: use finite numbers");
	parse_fails("metrics.a > 1e999", "bad requirement at offset 12: number '1e999' is out of range");
	parse_fails("metrics.a > 0x10", "bad requirement at offset 12: malformed number '0x10'");
	parse_fails("metrics.a > 1.2.3", "bad requirement at offset 12: malformed number '1.2.3'");
	parse_fails("metrics.a > 1e", "bad requirement at offset 12: malformed number '1e'");
	parse_fails("metrics.a > 1e+", "bad requirement at offset 12: malformed number '1e'");
	parse_fails("metrics.a > 2abc", "bad requirement at offset 12: malformed number '2abc'");
	parse_fails("metrics.a > 1`x`", "bad requirement at offset 12: malformed number '1`'");
	parse_fails("metrics.a > .", "bad requirement at offset 12: unexpected character '.'");
	cr_assert(holds("metrics.zero == 1e-400"), "underflow to 0 is fine");
}

Test(gate, key_errors)
{
	parse_fails("metrics. > 1", "bad requirement at offset 8: expected a metric key after 'metrics.', found ' '");
	parse_fails("metrics.", "bad requirement at offset 8: expected a metric key after 'metrics.', found end of requirement");
	parse_fails("metrics.-a > 1", "bad requirement at offset 8: expected a metric key after 'metrics.', found '-'");
	parse_fails("champion.metrics.(a) > 1",
		    "bad requirement at offset 17: expected a metric key after 'metrics.', found '('");
	parse_fails("metrics.`open > 1", "bad requirement at offset 8: unterminated quoted key: close it with '`'");
	parse_fails("metrics.`` > 1", "bad requirement at offset 8: empty metric key");
	parse_fails("`auc` > 1",
		    "bad requirement at offset 0: a quoted key must follow 'metrics.', as in metrics.`my metric`");
	parse_fails("metrics.a. > 1", "bad requirement at offset 9: unexpected character '.'");
	parse_fails("metrics.`a`b > 1", "bad requirement at offset 11: expected a comparison operator, found 'b'");
}

Test(gate, limits)
{
	struct buf b = BUF_INIT;
	struct gate *g = NULL;

	/* text length */
	buf_puts(&b, "metrics.a > 1");
	while (b.len < GATE_MAX_TEXT)
		buf_putc(&b, ' ');
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), 0, "exactly the limit");
	gate_free(g);
	buf_putc(&b, ' ');
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "bad requirement: longer than 4096 bytes");

	/* nesting: 64 levels of '(' are fine, 65 are not */
	buf_clear(&b);
	for (int i = 0; i < GATE_MAX_DEPTH; i++)
		buf_putc(&b, '(');
	buf_puts(&b, "1 < 2");
	for (int i = 0; i < GATE_MAX_DEPTH; i++)
		buf_putc(&b, ')');
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), 0, "%s", cairn_error_msg());
	gate_free(g);
	buf_clear(&b);
	for (int i = 0; i <= GATE_MAX_DEPTH; i++)
		buf_putc(&b, '(');
	buf_puts(&b, "1 < 2");
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), CAIRN_EINVALID);
	cr_assert_str_eq(cairn_error_msg(), "bad requirement at offset 64: nested deeper than 64 levels");

	/* not and unary minus count as nesting too */
	buf_clear(&b);
	for (int i = 0; i <= GATE_MAX_DEPTH; i++)
		buf_puts(&b, "not ");
	buf_puts(&b, "1 < 2");
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "nested deeper than 64 levels"));
	buf_clear(&b);
	buf_puts(&b, "1 < ");
	for (int i = 0; i <= GATE_MAX_DEPTH; i++)
		buf_putc(&b, '-');
	buf_putc(&b, '1');
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "nested deeper than 64 levels"));

	/* nodes: "0 < 1 + 1 + ... + 1" with n ones has 2n + 1 nodes */
	buf_clear(&b);
	buf_puts(&b, "0 < 1");
	for (int i = 1; i < (GATE_MAX_NODES - 1) / 2; i++)
		buf_puts(&b, " + 1");
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), 0, "%s", cairn_error_msg());
	gate_free(g);
	buf_puts(&b, " + 1");
	cr_assert_eq(gate_parse(b.ptr, "champion", &g), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "too complex: more than 256 numbers, metrics and operators"),
		  "%s", cairn_error_msg());
	buf_release(&b);
}

Test(gate, missing_candidate_metric_fails)
{
	report_is("metrics.recall > 0.5", true, false,
		  "[{\"expr\":\"metrics.recall > 0.5\",\"left\":null,\"op\":\">\",\"right\":0.5,\"holds\":false,"
		  "\"note\":\"metrics.recall is not logged by the candidate run\"}]");
	/* unknown stays unknown under not: a missing metric never lets a version through */
	cr_assert(!holds("not metrics.recall > 0.5"));
	cr_assert(!holds("not not metrics.recall > 0.5"));
	/* Kleene: false and unknown = false, true or unknown = true */
	cr_assert(!holds("metrics.recall > 0.5 and 1 < 2"));
	cr_assert(holds("metrics.recall > 0.5 or 1 < 2"));
	cr_assert(!holds("metrics.recall > 0.5 or 1 > 2"));
	cr_assert(!holds("metrics.recall + 1 > 0"), "arithmetic on a missing metric");
	/* the incumbent exists but lacks the metric: also unknown */
	report_is("metrics.auc > champion.metrics.recall", true, false,
		  "[{\"expr\":\"metrics.auc > champion.metrics.recall\",\"left\":0.91,\"op\":\">\",\"right\":null,"
		  "\"holds\":false,\"note\":\"champion.metrics.recall is not logged by the incumbent run\"}]");
}

Test(gate, kleene_not_and)
{
	/* not (unknown and false) = not false = true: a decided conjunction stays decided */
	cr_assert(holds("not (metrics.recall > 0.5 and 1 > 2)"));
	cr_assert(!holds("not (metrics.recall > 0.5 or 1 < 2)"));
}

Test(gate, vacuous_incumbent)
{
	report_is("metrics.auc >= champion.metrics.auc + 0.01", false, true,
		  "[{\"expr\":\"metrics.auc >= champion.metrics.auc + 0.01\",\"left\":0.91,\"op\":\">=\","
		  "\"right\":null,\"holds\":true,\"note\":\"no incumbent: champion is not set\"}]");
	cr_assert(holds_with("metrics.auc >= champion.metrics.auc and metrics.latency_ms < 50", false, NULL));
	cr_assert(!holds_with("metrics.auc >= champion.metrics.auc and metrics.latency_ms < 30", false, NULL));
	/* vacuous truth is applied before not */
	cr_assert(!holds_with("not metrics.auc < champion.metrics.auc", false, NULL));
	cr_assert(holds_with("not metrics.auc < champion.metrics.auc", true, NULL));
	/* a missing candidate metric wins over the vacuous incumbent */
	report_is("metrics.recall >= champion.metrics.recall", false, false,
		  "[{\"expr\":\"metrics.recall >= champion.metrics.recall\",\"left\":null,\"op\":\">=\","
		  "\"right\":null,\"holds\":false,\"note\":\"metrics.recall is not logged by the candidate run; "
		  "no incumbent: champion is not set\"}]");
	/* the note appears once even when the incumbent is read twice */
	report_is("champion.metrics.a - champion.metrics.b < 1", false, true,
		  "[{\"expr\":\"champion.metrics.a - champion.metrics.b < 1\",\"left\":null,\"op\":\"<\","
		  "\"right\":1.0,\"holds\":true,\"note\":\"no incumbent: champion is not set\"}]");
}

Test(gate, division_by_zero_and_nan)
{
	report_is("metrics.auc / metrics.zero > 1", true, false,
		  "[{\"expr\":\"metrics.auc / metrics.zero > 1\",\"left\":null,\"op\":\">\",\"right\":1.0,"
		  "\"holds\":false,\"note\":\"division by zero\"}]");
	cr_assert(!holds("not metrics.auc / (1 - 1) > 1"));
	cr_assert(!holds("1 / -0 < 0"), "negative zero divides by zero too");
	report_is("metrics.nan < 1", true, false,
		  "[{\"expr\":\"metrics.nan < 1\",\"left\":null,\"op\":\"<\",\"right\":1.0,\"holds\":false,"
		  "\"note\":\"metrics.nan is NaN\"}]");
	cr_assert(!holds("metrics.nan != 1"), "NaN fails even !=");
	cr_assert(!holds("not metrics.nan == 1"));
	report_is("metrics.big - metrics.big == 0", true, false,
		  "[{\"expr\":\"metrics.big - metrics.big == 0\",\"left\":null,\"op\":\"==\",\"right\":0.0,"
		  "\"holds\":false,\"note\":\"the arithmetic gives NaN\"}]");
	/* infinity itself compares */
	report_is("metrics.big > 1e300", true, true,
		  "[{\"expr\":\"metrics.big > 1e+300\",\"left\":\"Infinity\",\"op\":\">\",\"right\":1e+300,\"holds\":true}]");
	report_is("-metrics.big < 0", true, true,
		  "[{\"expr\":\"-metrics.big < 0\",\"left\":\"-Infinity\",\"op\":\"<\",\"right\":0.0,\"holds\":true}]");
}

Test(gate, report_lists_every_comparison)
{
	/* no short-circuit: the second and third comparisons are evaluated and reported */
	report_is("metrics.auc > 0.95 and metrics.latency_ms < 50 or not metrics.f1 >= champion.metrics.f1", true, true,
		  "[{\"expr\":\"metrics.auc > 0.95\",\"left\":0.91,\"op\":\">\",\"right\":0.95,\"holds\":false},"
		  "{\"expr\":\"metrics.latency_ms < 50\",\"left\":40.0,\"op\":\"<\",\"right\":50.0,\"holds\":true},"
		  "{\"expr\":\"metrics.f1 >= champion.metrics.f1\",\"left\":0.8,\"op\":\">=\",\"right\":0.85,"
		  "\"holds\":false}]");
	/* floating point: 0.91 - 0.89 is not 0.02 */
	report_is("metrics.auc - champion.metrics.auc = (1 + 1) / 100", true, false,
		  "[{\"expr\":\"metrics.auc - champion.metrics.auc == (1 + 1) / 100\",\"left\":0.020000000000000018,"
		  "\"op\":\"==\",\"right\":0.02,\"holds\":false}]");
}

Test(gate, report_optional_and_lookup_errors)
{
	struct gate *g = parse_ok("metrics.auc > 0.5 and metrics.f1 > champion.metrics.f1");
	struct world w = { true, 0, 0 };
	json_t *r = (json_t *)&w;
	bool h = false;

	cr_assert_eq(gate_eval(g, lookup, &w, &h, NULL), 0, "no report wanted");
	cr_assert(!h);
	cr_assert_eq(w.calls, 3, "every metric is looked up");

	w.calls = 0;
	w.fail_on = 2;
	h = true;
	cr_assert_eq(gate_eval(g, lookup, &w, &h, &r), CAIRN_EIO, "the lookup's error comes back");
	cr_assert_str_eq(cairn_error_msg(), "store unavailable");
	cr_assert_null(r);
	cr_assert(!h);
	gate_free(g);
}

static int bad_lookup(void *ctx, bool incumbent, const char *metric, double *value)
{
	return *(int *)ctx;
}

Test(gate, lookup_contract)
{
	struct gate *g = parse_ok("metrics.auc > 0.5");
	int answer = GATE_NO_INCUMBENT;
	bool h;

	cr_assert_eq(gate_eval(g, bad_lookup, &answer, &h, NULL), CAIRN_ERR, "no incumbent for a candidate metric");
	answer = 7;
	cr_assert_eq(gate_eval(g, bad_lookup, &answer, &h, NULL), CAIRN_ERR);
	cr_assert_str_eq(cairn_error_msg(), "gate lookup of 'auc' returned 7");
	gate_free(g);
	gate_free(NULL);
}
