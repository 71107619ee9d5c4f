/* serve_decode_bench.c - microbenchmark of scoring-request decoding: the streaming fast path against the jansson tree decoder.
 *
 *   make bench-decode                # builds build/serve_decode_bench and runs it
 *   build/serve_decode_bench [DATADIR] [N] [RUNS]
 *
 * The anchor's bodies (DATADIR, default ../shared/anchors/serving/data:
 * request_1.json and request_100.json, dataframe_split, 30 columns), the same
 * rows as instances and as OIP FP32 tensors (nested, as bench/serving_load.py
 * writes them), and the split body with every number printed to 17 digits
 * (what Python's repr of float64 data gives: the fast path's exact 128-bit
 * conversion instead of Clinger's), decoded N times per run (default 20000 / rows) for a model
 * with feature names f0..f29 and no signature, as bench/serving.sh serves it.
 * CPU time per decode (CLOCK_PROCESS_CPUTIME_ID), the minimum over RUNS runs
 * (default 7): the machine is shared. "tree" is serve__tree_* (the decoder
 * before the fast path), "fast" serve_decode_* (fast path first); both
 * frames are checked bit-equal before timing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "serve/decode.h"
#include "serve/decode_int.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *n)
{
	struct buf b = BUF_INIT;
	FILE *f = fopen(path, "rb");
	char tmp[65536];
	size_t r;

	if (!f)
		return NULL;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_put(&b, tmp, r);
	fclose(f);
	*n = b.len;
	return buf_detach(&b);
}

enum { MLFLOW, OIP };

static int decode(const struct serve_input *in, int proto, bool fast, const char *b, size_t n, struct serve_frame *f)
{
	if (proto == OIP)
		return fast ? serve_decode_oip(in, b, n, f, NULL) : serve__tree_oip(in, b, n, f, NULL);
	return fast ? serve_decode_mlflow(in, "application/json", b, n, f) : serve__tree_mlflow(in, "application/json", b, n, f);
}

/* Minimum CPU microseconds per decode over runs runs of iters decodes. */
static double time_it(const struct serve_input *in, int proto, bool fast, const char *b, size_t n, long iters, int runs)
{
	double best = 1e30;

	for (int r = 0; r < runs; r++) {
		double t0 = cpu_now(), dt;

		for (long i = 0; i < iters; i++) {
			struct serve_frame f = SERVE_FRAME_INIT;

			if (decode(in, proto, fast, b, n, &f)) {
				fprintf(stderr, "decode failed: %s\n", cairn_error_msg());
				exit(1);
			}
			serve_frame_release(&f);
		}
		dt = (cpu_now() - t0) / (double)iters * 1e6;
		if (dt < best)
			best = dt;
	}
	return best;
}

static void one(const char *label, const struct serve_input *in, int proto, const char *b, size_t n, long base, int runs)
{
	struct serve_frame f = SERVE_FRAME_INIT, g = SERVE_FRAME_INIT;
	double tree, fast;
	long iters;

	if (decode(in, proto, false, b, n, &f) || decode(in, proto, true, b, n, &g) || f.nrows != g.nrows ||
	    memcmp(f.x, g.x, f.nrows * f.ncols * sizeof(float))) {
		fprintf(stderr, "%s: the two paths differ or fail: %s\n", label, cairn_error_msg());
		exit(1);
	}
	iters = base / (long)f.nrows;
	if (iters < 50)
		iters = 50;
	serve_frame_release(&f);
	serve_frame_release(&g);
	tree = time_it(in, proto, false, b, n, iters, runs);
	fast = time_it(in, proto, true, b, n, iters, runs);
	printf("%-28s %6zu bytes  tree %9.2f us  fast %8.2f us  %6.1fx\n", label, n, tree, fast, tree / fast);
}

/* The same rows, as their text in the split body, as another body: instances
 * (kind 0) or an OIP tensor (kind 1); kind 2: the split body re-encoded by
 * jansson, whose %.17g gives every number 17 significant digits. */
static char *rebody(const char *split_body, size_t n, int kind, size_t *out_n)
{
	json_t *doc = json_loadb(split_body, n, 0, NULL), *ds = json_object_get(doc, "dataframe_split");
	size_t nrows = json_array_size(json_object_get(ds, "data")), ncols = json_array_size(json_object_get(ds, "columns"));
	const char *data = strstr(split_body, "\"data\":");
	struct buf b = BUF_INIT;
	size_t dn;

	if (!nrows || !data || n < 2 || memcmp(split_body + n - 2, "}}", 2)) {
		json_decref(doc);
		return NULL;
	}
	data += 7;
	dn = (size_t)(split_body + n - 2 - data);
	if (kind == 0) {
		buf_puts(&b, "{\"instances\":");
		buf_put(&b, data, dn);
		buf_putc(&b, '}');
	} else if (kind == 1) {
		buf_printf(&b, "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"data\":",
			   nrows, ncols);
		buf_put(&b, data, dn);
		buf_puts(&b, "}]}");
	} else {
		char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));

		buf_puts(&b, s);
		free(s);
	}
	json_decref(doc);
	*out_n = b.len;
	return buf_detach(&b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "../shared/anchors/serving/data";
	long base = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
	int runs = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 7;
	char *names[30], nbuf[30][8];
	struct serve_input in;

	for (int i = 0; i < 30; i++) {
		snprintf(nbuf[i], sizeof(nbuf[i]), "f%d", i);
		names[i] = nbuf[i];
	}
	if (serve_input_from_signature(NULL, names, 30, &in)) {
		fprintf(stderr, "serve_input: %s\n", cairn_error_msg());
		return 1;
	}
	printf("CPU time per decode, min of %d runs (model: 30 named features, no signature)\n", runs);
	for (int rows = 1; rows <= 100; rows *= 100) {
		char path[4096], label[64], *body, *inst, *oip, *long17;
		size_t n, ni, no, nl;

		snprintf(path, sizeof(path), "%s/request_%d.json", dir, rows);
		if (!(body = slurp(path, &n))) {
			fprintf(stderr, "%s: cannot read\n", path);
			return 1;
		}
		inst = rebody(body, n, 0, &ni);
		oip = rebody(body, n, 1, &no);
		long17 = rebody(body, n, 2, &nl);
		if (!inst || !oip || !long17) {
			fprintf(stderr, "%s: not a dataframe_split body\n", path);
			return 1;
		}
		snprintf(label, sizeof(label), "dataframe_split %d row%s", rows, rows > 1 ? "s" : "");
		one(label, &in, MLFLOW, body, n, base, runs);
		snprintf(label, sizeof(label), "instances %d row%s", rows, rows > 1 ? "s" : "");
		one(label, &in, MLFLOW, inst, ni, base, runs);
		snprintf(label, sizeof(label), "OIP FP32 %d row%s", rows, rows > 1 ? "s" : "");
		one(label, &in, OIP, oip, no, base, runs);
		snprintf(label, sizeof(label), "split %d row%s, 17 digits", rows, rows > 1 ? "s" : "");
		one(label, &in, MLFLOW, long17, nl, base, runs);
		free(long17);
		free(body);
		free(inst);
		free(oip);
	}
	serve_input_release(&in);
	return 0;
}
