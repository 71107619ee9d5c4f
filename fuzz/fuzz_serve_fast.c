/* fuzz_serve_fast.c - libFuzzer target: the streaming fast path of request decoding (serve/decode_fast.c) against the jansson tree decoder.
 *
 * The first byte picks the protocol and wrapping (low 3 bits: 0-3 wrap the rest
 * as the value of dataframe_split, dataframe_records, instances or inputs; 4 a
 * bare MLflow body; 5-7 a bare Open Inference Protocol body) and the model
 * (bits 3-5, of 8: named signatures with double/long, optional and float/integer
 * columns, feature names without signature, no names at all, an unnamed float
 * signature, a tensor and a boolean signature). Invariant: the fast path
 * returns 0, SERVE_FAST_DECLINED or CAIRN_ENOMEM; when it decodes a body the
 * tree decoder (serve__tree_*) decodes it too, to the same rows, format and
 * params, bit-identical cells and the same OIP meta; when it declines it has
 * left the frame empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "serve/decode.h"
#include "serve/decode_int.h"

#define NMODELS 8

static struct serve_input inputs[NMODELS];
static struct mlmodel *models[NMODELS];

static void setup(void)
{
	static const char *const sigs[NMODELS] = {
		"[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\"}]",
		"[{\"type\":\"double\",\"name\":\"a\"},{\"type\":\"long\",\"name\":\"b\",\"required\":false}]",
		"[{\"type\":\"float\",\"name\":\"f\"},{\"type\":\"integer\",\"name\":\"i\"}]",
		NULL,
		NULL,
		"[{\"type\":\"float\"},{\"type\":\"double\"}]",
		"[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,2]}}]",
		"[{\"type\":\"boolean\",\"name\":\"t\"},{\"type\":\"double\",\"name\":\"a\"}]",
	};
	static char *names[] = { "f0", "f1", "f2" };

	for (int i = 0; i < NMODELS; i++) {
		json_t *in = sigs[i] ? json_loads(sigs[i], 0, NULL) : NULL;

		if (mlmodel_new_for_file("xgboost", "model.json", &models[i]) ||
		    (in && mlmodel_set_signature(models[i], in, NULL, NULL)) ||
		    serve_input_from_signature(models[i], i == 3 ? names : NULL, i == 3 ? 3 : i == 4 ? 2 : 0, &inputs[i]))
			abort();
		json_decref(in);
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const keys[] = { "dataframe_split", "dataframe_records", "instances", "inputs" };
	static int ready;
	struct serve_frame f = SERVE_FRAME_INIT, g = SERVE_FRAME_INIT;
	struct buf body = BUF_INIT;
	const struct serve_input *in;
	json_t *fm = NULL, *gm = NULL;
	int mode, rc, rc2;
	bool oip;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (!size)
		return 0;
	mode = data[0] & 7;
	in = &inputs[(data[0] >> 3) & 7];
	oip = mode >= 5;
	if (mode < 4) {
		buf_printf(&body, "{\"%s\":", keys[mode]);
		buf_put(&body, data + 1, size - 1);
		buf_putc(&body, '}');
	} else {
		buf_put(&body, data + 1, size - 1);
	}
	if (body.err)
		return 0;
	rc = oip ? serve__fast_oip(in, body.ptr, body.len, &f, &fm) : serve__fast_mlflow(in, body.ptr, body.len, &f);
	if (rc != 0 && rc != SERVE_FAST_DECLINED && rc != CAIRN_ENOMEM) {
		fprintf(stderr, "unexpected rc %d: %s\n", rc, cairn_error_msg());
		abort();
	}
	if (rc) {
		if (f.x || f.nrows || fm)
			abort();
	} else {
		rc2 = oip ? serve__tree_oip(in, body.ptr, body.len, &g, &gm)
			  : serve__tree_mlflow(in, "application/json", body.ptr, body.len, &g);
		if (rc2) {
			fprintf(stderr, "the fast path decodes it, the tree refuses it (%d): %s\n", rc2, cairn_error_msg());
			abort();
		}
		if (f.nrows != g.nrows || f.ncols != g.ncols || f.format != g.format || f.error_code ||
		    (f.params == NULL) != (g.params == NULL) || (f.params && !json_equal(f.params, g.params))) {
			fprintf(stderr, "frames differ: %zu x %zu (format %d), tree %zu x %zu (format %d)\n", f.nrows, f.ncols,
				f.format, g.nrows, g.ncols, g.format);
			abort();
		}
		if (f.nrows && memcmp(f.x, g.x, f.nrows * f.ncols * sizeof(float))) {
			for (size_t i = 0; i < f.nrows * f.ncols; i++)
				if (memcmp(&f.x[i], &g.x[i], sizeof(float)))
					fprintf(stderr, "cell %zu: %.9g, tree %.9g\n", i, f.x[i], g.x[i]);
			abort();
		}
		if (oip && !json_equal(fm, gm))
			abort();
	}
	json_decref(fm);
	json_decref(gm);
	serve_frame_release(&f);
	serve_frame_release(&g);
	buf_release(&body);
	return 0;
}
