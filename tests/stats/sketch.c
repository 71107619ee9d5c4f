/* Unit tests for stats/sketch and stats/profile: KLL rank error and merging, HyperLogLog, value tables, profiles of small tables, bad input, faults. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fault.h"
#include "stats/drift.h"
#include "stats/profile.h"
#include "stats/sketch.h"
#include "stats/stats_int.h"

static void fini(void) { fault_disarm(); }

TestSuite(stats_sketch, .fini = fini);

/* the largest |rank error| / n of the sketch's quantiles for values 0..n-1 */
static double max_rank_error(const struct sk_quant *q, uint64_t n)
{
	double *v, worst = 0;
	uint64_t *w, cum = 0;
	size_t k;

	cr_assert_eq(sk_quant_sorted(q, &v, &w, &k), 0);
	for (size_t i = 0; i < k; i++) {
		/* v[i] is the value of true rank v[i]; the sketch puts it at rank cum..cum+w */
		double err = fabs((double)cum + (double)w[i] / 2 - v[i]) / (double)n;

		worst = fmax(worst, err);
		cum += w[i];
	}
	cr_assert_eq(cum, n, "weights add up to n");
	free(v);
	free(w);
	return worst;
}

static void shuffle(double *x, size_t n, unsigned seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(&seed) % (i + 1);
		double t = x[i];

		x[i] = x[j];
		x[j] = t;
	}
}

Test(stats_sketch, kll_rank_error_and_merge)
{
	const size_t n = 400000;
	double *x = malloc(n * sizeof(*x));
	struct sk_quant all = { 0 }, a = { 0 }, b = { 0 };

	for (size_t i = 0; i < n; i++)
		x[i] = (double)i;
	shuffle(x, n, 42);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(sk_quant_add(&all, x[i]), 0);
		cr_assert_eq(sk_quant_add(i < n / 3 ? &a : &b, x[i]), 0);
	}
	cr_assert(!sk_quant_is_exact(&all));
	cr_assert_lt(max_rank_error(&all, n), 2 * SK_KLL_EPS, "rank error %g", max_rank_error(&all, n));
	cr_assert_eq(sk_quant_merge(&a, &b), 0);
	cr_assert_eq(a.n, n);
	cr_assert_lt(max_rank_error(&a, n), 2 * SK_KLL_EPS, "merged rank error %g", max_rank_error(&a, n));
	/* round trip through JSON */
	{
		json_t *j = sk_quant_to_json(&a);
		struct sk_quant back;

		cr_assert(j);
		cr_assert_eq(sk_quant_from_json(j, &back), 0, "%s", cairn_error_msg());
		cr_assert_eq(back.n, n);
		cr_assert_lt(max_rank_error(&back, n), 2 * SK_KLL_EPS);
		sk_quant_free(&back);
		json_decref(j);
	}
	sk_quant_free(&all);
	sk_quant_free(&a);
	sk_quant_free(&b);
	free(x);
}

Test(stats_sketch, quantiles_exact_while_small)
{
	struct sk_quant q = { 0 }, o = { 0 };
	double *v;
	uint64_t *w;
	size_t k;

	for (int i = 0; i < SK_EXACT_MAX / 2; i++) {
		sk_quant_add(&q, i);
		sk_quant_add(&o, -i);
	}
	cr_assert_eq(sk_quant_merge(&q, &o), 0);
	cr_assert(sk_quant_is_exact(&q), "16384 values merged are still exact");
	cr_assert_eq(sk_quant_sorted(&q, &v, &w, &k), 0);
	cr_assert_eq(k, SK_EXACT_MAX);
	cr_assert_eq(v[0], -(SK_EXACT_MAX / 2 - 1));
	cr_assert_eq(w[0], 1);
	free(v);
	free(w);
	sk_quant_add(&q, 1e9);
	cr_assert(!sk_quant_is_exact(&q), "one more leaves exact mode");
	sk_quant_free(&q);
	sk_quant_free(&o);
}

Test(stats_sketch, quantile_json_rejects_bad_sketches)
{
	static const char *const bad[] = {
		"{}", "{\"n\": -1, \"exact\": []}", "{\"n\": 2, \"exact\": [1]}", "{\"n\": 1, \"exact\": [\"x\"]}",
		"{\"n\": 4, \"levels\": [[1], [2]]}", "{\"n\": 1, \"levels\": []}", "{\"n\": 1, \"levels\": [1]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		struct sk_quant q;

		cr_assert(j, "%s", bad[i]);
		cr_assert_eq(sk_quant_from_json(j, &q), CAIRN_EINVALID, "%s", bad[i]);
		json_decref(j);
	}
}

Test(stats_sketch, hll_estimates)
{
	struct sk_hll h = { 0 }, g = { 0 };
	const uint64_t n = 1000000;

	cr_assert_eq(sk_hll_estimate(&h), 0);
	for (uint64_t i = 0; i < n; i++) {
		sk_hll_add(&h, sk_hash_double((double)i));
		if (i < 1000)
			sk_hll_add(&g, sk_hash_double((double)i));
	}
	cr_assert_lt(fabs(sk_hll_estimate(&h) - n) / n, 0.05, "1M: %g", sk_hll_estimate(&h));
	cr_assert_lt(fabs(sk_hll_estimate(&g) - 1000) / 1000, 0.03, "1000: %g", sk_hll_estimate(&g));
	cr_assert_eq(sk_hll_merge(&g, &h), 0);
	cr_assert_lt(fabs(sk_hll_estimate(&g) - n) / n, 0.05, "merged (a subset): %g", sk_hll_estimate(&g));
	{
		json_t *j = sk_hll_to_json(&g), *bad = json_string("zz");
		struct sk_hll back;

		cr_assert_eq(sk_hll_from_json(j, &back), 0);
		cr_assert(!memcmp(back.reg, g.reg, 1u << SK_HLL_BITS));
		cr_assert_eq(sk_hll_from_json(bad, &back.reg ? &(struct sk_hll){ 0 } : &back), CAIRN_EINVALID);
		sk_hll_free(&back);
		json_decref(j);
		json_decref(bad);
	}
	sk_hll_free(&h);
	sk_hll_free(&g);
}

Test(stats_sketch, value_tables)
{
	struct sk_freq f;
	const struct sk_entry **v;
	size_t n;

	sk_freq_init(&f, true, 3);
	sk_freq_add_text(&f, "b", 1, sk_hash_bytes("b", 1), 1);
	sk_freq_add_text(&f, "a", 1, sk_hash_bytes("a", 1), 1);
	sk_freq_add_text(&f, "c", 1, sk_hash_bytes("c", 1), 5);
	cr_assert(f.complete);
	sk_freq_add_text(&f, "d", 1, sk_hash_bytes("d", 1), 1);
	cr_assert(!f.complete, "a fourth value past the cap");
	sk_freq_add_text(&f, "a", 1, sk_hash_bytes("a", 1), 1);
	cr_assert_eq(sk_freq_sorted(&f, &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0]->text, "c");
	cr_assert_str_eq(v[1]->text, "a", "a (2) before b (1)");
	cr_assert_str_eq(v[2]->text, "b");
	free(v);
	sk_freq_free(&f);

	/* numbers: -0 is 0, ties by numeric value */
	sk_freq_init(&f, false, 100);
	sk_freq_add_num(&f, 10, sk_hash_double(10), 1);
	sk_freq_add_num(&f, 9, sk_hash_double(9), 1);
	sk_freq_add_num(&f, -0.0, sk_hash_double(-0.0), 1);
	sk_freq_add_num(&f, 0.0, sk_hash_double(0.0), 1);
	cr_assert_eq(f.used, 3);
	{
		json_t *j = sk_freq_entries_json(&f, 0);
		char *s = json_dumps(j, JSON_COMPACT);

		cr_assert_str_eq(s, "[[0,2],[9,1],[10,1]]");
		free(s);
		json_decref(j);
	}
	sk_freq_free(&f);
}

/* ---- profiles of small tables ---- */

static json_t *prof_of(const char *csv)
{
	json_t *p = NULL;
	int rc = profile_buffer(csv, strlen(csv), NULL, &p);

	cr_assert_eq(rc, 0, "%s: %s", csv, cairn_error_msg());
	return p;
}

static json_t *col(json_t *p, const char *name)
{
	json_t *c = json_object_get(json_object_get(p, "columns"), name);

	cr_assert(c, "column %s", name);
	return c;
}

Test(stats_sketch, profile_types_and_nulls)
{
	json_t *p = prof_of("i,f,s,b,d,mixed,empty\n"
			    "1,1.5,NA,true,2024-01-01,1,\n"
			    "2,,x,False,2024-01-02T10:00:00Z,a,\n"
			    "3,-2.5e1,\"NA\",TRUE,2024-01-03,2,\n"
			    "3,inf,,false,,,\n");
	json_t *c;

	cr_assert_str_eq(json_string_value(json_object_get(col(p, "i"), "type")), "integer");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "f"), "type")), "float");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "s"), "type")), "string");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "b"), "type")), "boolean");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "d"), "type")), "datetime");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "mixed"), "type")), "string");
	cr_assert_str_eq(json_string_value(json_object_get(col(p, "empty"), "type")), "float");
	c = col(p, "s");
	cr_assert_eq(json_integer_value(json_object_get(c, "nulls")), 1, "only the empty field is null");
	cr_assert_eq(json_integer_value(json_object_get(c, "distinct")), 2, "NA and x");
	c = col(p, "i");
	cr_assert_eq(json_integer_value(json_object_get(c, "min")), 1);
	cr_assert_eq(json_real_value(json_object_get(c, "mean")), 2.25);
	cr_assert_eq(json_integer_value(json_array_get(json_array_get(json_object_get(c, "top"), 0), 1)), 2, "3 twice");
	c = col(p, "f");
	cr_assert_eq(json_integer_value(json_object_get(c, "infs")), 1);
	cr_assert_eq(json_real_value(json_object_get(c, "max")), 1.5, "inf is counted, not a maximum");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(p, "dataset"), "empty_rows")), 0);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(p, "dataset"), "missing_cells")), 8);
	json_decref(p);
}

Test(stats_sketch, profile_merge_equals_whole)
{
	char *whole = malloc(1 << 20), *a = malloc(1 << 20), *b = malloc(1 << 20);
	size_t nw = 0, na = 0, nb = 0;
	unsigned seed = 7;
	json_t *pw, *pa, *pb, *pm;
	const char *hdr = "x,k,s\n";

	nw = (size_t)sprintf(whole, "%s", hdr);
	na = (size_t)sprintf(a, "%s", hdr);
	nb = (size_t)sprintf(b, "%s", hdr);
	for (int i = 0; i < 20000; i++) {
		char line[80];
		int n = snprintf(line, sizeof(line), "%.6f,%d,c%d\n", (double)rand_r(&seed) / RAND_MAX,
				 rand_r(&seed) % 7, rand_r(&seed) % 30);

		memcpy(whole + nw, line, (size_t)n);
		nw += (size_t)n;
		if (i < 12000) {
			memcpy(a + na, line, (size_t)n);
			na += (size_t)n;
		} else {
			memcpy(b + nb, line, (size_t)n);
			nb += (size_t)n;
		}
	}
	cr_assert_eq(profile_buffer(whole, nw, NULL, &pw), 0);
	cr_assert_eq(profile_buffer(a, na, NULL, &pa), 0);
	cr_assert_eq(profile_buffer(b, nb, NULL, &pb), 0);
	cr_assert_eq(profile_merge(pa, pb, &pm), 0, "%s", cairn_error_msg());
	for (int i = 0; i < 3; i++) {
		const char *name = (const char *[]){ "x", "k", "s" }[i];
		json_t *cw = col(pw, name), *cm = col(pm, name);
		static const char *const exact[] = { "count", "nulls", "distinct", "min", "max", "top", "type" };

		for (size_t k = 0; k < sizeof(exact) / sizeof(exact[0]); k++)
			cr_assert(json_equal(json_object_get(cw, exact[k]), json_object_get(cm, exact[k])) ||
				  (!json_object_get(cw, exact[k]) && !json_object_get(cm, exact[k])),
				  "%s.%s", name, exact[k]);
		if (json_object_get(cw, "mean")) {
			double m1 = json_real_value(json_object_get(cw, "mean")), m2 = json_real_value(json_object_get(cm, "mean"));
			double s1 = json_real_value(json_object_get(cw, "std")), s2 = json_real_value(json_object_get(cm, "std"));

			cr_assert_lt(fabs(m1 - m2), 1e-12 * fabs(m1) + 1e-15, "%s mean %.17g %.17g", name, m1, m2);
			cr_assert_lt(fabs(s1 - s2), 1e-12 * fabs(s1), "%s std %.17g %.17g", name, s1, s2);
		}
	}
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(pm, "dataset"), "rows")), 20000);
	json_decref(pw);
	json_decref(pa);
	json_decref(pb);
	json_decref(pm);
	free(whole);
	free(a);
	free(b);
}

static void expect_bad(const char *csv, size_t n, const char *needle)
{
	json_t *p = NULL;
	int rc = profile_buffer(csv, n, NULL, &p);

	cr_assert_neq(rc, 0, "%s was accepted", csv);
	cr_assert(strstr(cairn_error_msg(), needle), "message '%s' lacks '%s'", cairn_error_msg(), needle);
	cr_assert_null(p);
}

Test(stats_sketch, profile_bad_input)
{
	expect_bad("", 0, "empty");
	expect_bad("a,b\n1,2\n3\n", 10, "line 3 has 1 fields, the header has 2");
	expect_bad("a,a\n1,2\n", 8, "duplicate column name 'a'");
	expect_bad("a,b\n1,\xff\xfe\n", 10, "not valid UTF-8");
	expect_bad("a,\xc3\n1,2\n", 9, "not valid UTF-8");
	expect_bad("a,b\n1,\"open\n", 12, "unterminated");
	{
		json_t *p = prof_of("a,b\n");   /* a header only: a profile of no rows */

		cr_assert_eq(json_integer_value(json_object_get(json_object_get(p, "dataset"), "rows")), 0);
		json_decref(p);
	}
}

Test(stats_sketch, profile_merge_rejects_other_columns)
{
	json_t *a = prof_of("a,b\n1,2\n"), *b = prof_of("a,c\n1,2\n"), *m = NULL, *junk = json_pack("{s:s}", "kind", "x");

	cr_assert_eq(profile_merge(a, b, &m), CAIRN_EINVALID);
	cr_assert(strstr(cairn_error_msg(), "column 2"), "%s", cairn_error_msg());
	cr_assert_eq(profile_merge(a, junk, &m), CAIRN_EINVALID);
	cr_assert_null(m);
	json_decref(a);
	json_decref(b);
	json_decref(junk);
}

Test(stats_sketch, profile_allocation_failures)
{
	const char *csv = "x,s\n1.5,a\n2,b\n,c\n3,a\n";
	uint64_t calls = 0;

	for (uint64_t nth = 1;; nth++) {
		json_t *p = NULL;
		int rc;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = profile_buffer(csv, strlen(csv), NULL, &p);
		calls = fault_calls();
		fault_disarm();
		if (!rc && nth > calls) {
			json_decref(p);
			break;
		}
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "nth %llu: rc %d %s", (unsigned long long)nth, rc, cairn_error_msg());
		json_decref(p);
	}
	cr_assert_gt(calls, 10);
}

/* drift on two small profiles: every allocation failure is ENOMEM, never a crash or a leak */
Test(stats_sketch, drift_allocation_failures)
{
	json_t *a = prof_of("x,k,s\n1.5,1,a\n2,2,b\n,3,c\n3,1,a\n4,2,b\n5,3,a\n6,1,b\n7,2,a\n"),
	       *b = prof_of("x,k,s\n2.5,1,a\n3,2,b\n4,3,c\n,1,d\n5,2,b\n6,3,a\n7,1,b\n8,2,a\n");
	uint64_t calls = 0;

	for (uint64_t nth = 1;; nth++) {
		json_t *d = NULL;
		int rc;

		fault_arm(FAULT_ALLOC, nth, FAULT_PERSIST);
		rc = drift_profiles(a, b, NULL, &d);
		calls = fault_calls();
		fault_disarm();
		if (!rc && nth > calls) {
			cr_assert_not(drift_detected(d) && 0);
			cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "dataset"), "number_of_columns")), 3);
			json_decref(d);
			break;
		}
		cr_assert(rc == 0 || rc == CAIRN_ENOMEM, "nth %llu: rc %d %s", (unsigned long long)nth, rc, cairn_error_msg());
		json_decref(d);
	}
	cr_assert_gt(calls, 10);
	json_decref(a);
	json_decref(b);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* kept values (profile_keep.c): packed as m / 10^k, rescaled, turned into
 * doubles, started from a number table - sorted, they are the values given, bit for bit */
Test(stats_sketch, kept_values_round_trip)
{
	static const double special[] = { 0.5, 31.42, 31.4201, -7, 1e-9, 123456.789, -0.0, 0.1, 2.5e300, 1.0 / 3 };
	struct prof p;
	const char *names[] = { "x" };
	size_t lens[] = { 1 };
	unsigned seed = 5;

	for (int round = 0; round < 4; round++) {
		size_t n = 20000, got = 0;
		double *want = malloc(n * sizeof(*want)), *out = NULL;

		cr_assert_eq(prof_init(&p, names, lens, 1), 0);
		cr_assert_eq(prof_keep_values(&p), 0);
		for (size_t i = 0; i < n; i++) {
			char buf[40];
			int k = round == 0 ? 2 : (int)(rand_r(&seed) % (round == 1 ? 7 : 10));
			uint64_t h;

			if (round == 3 && i % 1000 == 7)
				snprintf(buf, sizeof(buf), "%.17g", special[(i / 1000) % 10]);
			else
				snprintf(buf, sizeof(buf), "%.*f", k, (rand_r(&seed) % 2000000) / 1000.0 - 1000);
			cr_assert_eq(prof_add_value(&p, 0, buf, strlen(buf), i + 2, &h), 0);
			want[i] = strtod(buf, NULL);
		}
		cr_assert_eq(prof_keep_sorted(&p, 0, &out, &got), 0);
		cr_assert_eq(got, n);
		qsort(want, n, sizeof(*want), cmp_dbl);
		for (size_t i = 0; i < n; i++)
			cr_assert(want[i] == out[i], "round %d, value %zu: %.17g, kept %.17g", round, i, want[i], out[i]);
		free(want);
		free(out);
		prof_free(&p);
	}
}
