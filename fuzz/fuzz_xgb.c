/* fuzz_xgb.c - libFuzzer target: XGBoost model files through model/xgb (its document checks, then libxgboost).
 *
 * The first byte picks the model_class, the rest is the model file. Any
 * input: no crash, no sanitizer report, no runaway allocation - libxgboost
 * 1.7.4 has all three on damaged files, so what xgb's checks let through
 * must load and predict cleanly. A loaded model must predict every method
 * it has with the shape it announces.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/xgb.h"

static const char *const classes[] = {
	"xgboost.core.Booster", "xgboost.sklearn.XGBClassifier", "xgboost.sklearn.XGBRegressor",
	"xgboost.sklearn.XGBRanker", "xgboost.sklearn.XGBRFClassifier", "xgboost.sklearn.XGBRFRegressor",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xgb_model *x = NULL;
	struct xgb_ctx *ctx = NULL;
	float *rows;
	size_t nf;

	if (size < 1)
		return 0;
	if (xgb__load_buffer(data + 1, size - 1, classes[data[0] % 6], NULL, &x))
		return 0;
	nf = xgb_model_num_features(x);
	if (nf == 0 || nf > 100000 || xgb_ctx_new(&ctx))
		abort();
	rows = calloc(3 * nf, sizeof(float));
	for (size_t i = 0; i < 3 * nf; i++)
		rows[i] = i % 7 == 3 ? NAN : (float)((int)(i % 11) - 5) * 0.37f;
	for (int m = XGB_PREDICT; m <= XGB_PREDICT_PROBA; m++) {
		struct xgb_shape sh;
		struct xgb_output out;
		int rc = xgb_model_shape(x, (enum xgb_method)m, &sh);

		if (rc == CAIRN_EUNSUPPORTED)
			continue;
		if (rc || sh.width == 0 || (!sh.matrix && sh.width != 1))
			abort();
		rc = xgb_predict(x, ctx, rows, 3, nf, (enum xgb_method)m, &out);
		if (rc && rc != CAIRN_ENOMEM) {
			fprintf(stderr, "predict %d failed: %s\n", m, cairn_error_msg());
			abort();
		}
		if (!rc && (out.nrows != 3 || out.shape.width != sh.width || out.shape.matrix != sh.matrix))
			abort();
	}
	free(rows);
	xgb_ctx_free(ctx);
	xgb_model_free(x);
	return 0;
}
