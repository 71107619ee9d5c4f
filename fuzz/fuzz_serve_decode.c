/* fuzz_serve_decode.c - libFuzzer target: scoring request decoding (serve/decode.h).
 *
 * The first byte picks the format (low 3 bits: dataframe_split, dataframe_records,
 * instances, inputs, csv, oip; 6 and 7: a bare MLflow JSON body), whether the rest
 * is wrapped as that format's value ({"inputs": REST}) or sent as the whole body
 * (bit 3), and the model (bits 4-5: a named signature with a long and an optional
 * double column and params, a tensor signature, feature names without signature, an
 * unnamed column signature). Invariants: no crash, no sanitizer report; only the
 * documented return codes; a failure leaves the frame empty with an error code for
 * MLflow's 400s; a success has nrows x ncols cells, none of them the internal
 * "unwritten" NaN, and decoding again gives the same bits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "serve/decode.h"

static struct serve_input inputs[4];
static struct mlmodel *models[4];

static void setup(void)
{
	static const char *const sigs[4][2] = {
		{ "[{\"type\":\"long\",\"name\":\"a\"},{\"type\":\"double\",\"name\":\"b\",\"required\":false},"
		  "{\"type\":\"boolean\",\"name\":\"c\"}]",
		  "[{\"name\":\"k\",\"type\":\"long\",\"default\":1,\"shape\":null},"
		  "{\"name\":\"l\",\"type\":\"double\",\"default\":[1.5],\"shape\":[-1]}]" },
		{ "[{\"type\":\"tensor\",\"tensor-spec\":{\"dtype\":\"float32\",\"shape\":[-1,2,2]}}]", NULL },
		{ NULL, NULL },
		{ "[{\"type\":\"float\"},{\"type\":\"integer\"}]", NULL },
	};
	static char *names[] = { "f0", "f1", "f2" };

	for (int i = 0; i < 4; i++) {
		json_t *in = sigs[i][0] ? json_loads(sigs[i][0], 0, NULL) : NULL;
		json_t *p = sigs[i][1] ? json_loads(sigs[i][1], 0, NULL) : NULL;

		if (mlmodel_new_for_file("xgboost", "model.json", &models[i]) ||
		    ((in || p) && mlmodel_set_signature(models[i], in, NULL, p)) ||
		    serve_input_from_signature(models[i], i == 2 ? names : NULL, i == 2 ? 3 : 0, &inputs[i]))
			abort();
		json_decref(in);
		json_decref(p);
	}
}

static int decode(const struct serve_input *in, int fmt, const char *b, size_t n, struct serve_frame *f)
{
	if (fmt == 5)
		return serve_decode_oip(in, b, n, f, NULL);
	return serve_decode_mlflow(in, fmt == 4 ? "text/csv" : "application/json; charset=utf-8", b, n, f);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const keys[] = { "dataframe_split", "dataframe_records", "instances", "inputs" };
	static int ready;
	struct serve_frame f = SERVE_FRAME_INIT, g = SERVE_FRAME_INIT;
	struct buf body = BUF_INIT;
	const struct serve_input *in;
	json_t *meta = NULL;
	int fmt, rc, rc2;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (!size)
		return 0;
	fmt = data[0] & 7;
	in = &inputs[(data[0] >> 4) & 3];
	if (fmt < 4 && !(data[0] & 8)) {
		buf_printf(&body, "{\"%s\":", keys[fmt]);
		buf_put(&body, data + 1, size - 1);
		buf_putc(&body, '}');
	} else {
		buf_put(&body, data + 1, size - 1);
	}
	if (fmt > 5)
		fmt = 0;
	if (body.err)
		return 0;
	if (fmt == 5)
		rc = serve_decode_oip(in, body.ptr, body.len, &f, &meta);
	else
		rc = decode(in, fmt, body.ptr, body.len, &f);
	if (rc != 0 && rc != CAIRN_EINVALID && rc != CAIRN_ETOOBIG && rc != CAIRN_ENOMEM) {
		fprintf(stderr, "unexpected rc %d: %s\n", rc, cairn_error_msg());
		abort();
	}
	if (rc) {
		if (f.x || f.params || f.nrows || meta)
			abort();
		if (rc == CAIRN_EINVALID && fmt != 5 && !f.error_code)
			abort();
	} else {
		if (f.ncols != in->ncols || (f.nrows && !f.x) || (!f.nrows && f.x) || f.error_code)
			abort();
		for (size_t i = 0; i < f.nrows * f.ncols; i++) {
			uint32_t u;

			memcpy(&u, &f.x[i], sizeof(u));
			if (u == 0x7fc2a5a5u || u == 0x7fc2a5a6u) {
				fprintf(stderr, "cell %zu left unwritten\n", i);
				abort();
			}
		}
		if (fmt == 5 && !meta)
			abort();
		rc2 = decode(in, fmt, body.ptr, body.len, &g);
		if (rc2 || g.nrows != f.nrows || (f.nrows && memcmp(f.x, g.x, f.nrows * f.ncols * sizeof(float))))
			abort();
	}
	json_decref(meta);
	serve_frame_release(&f);
	serve_frame_release(&g);
	buf_release(&body);
	return 0;
}
