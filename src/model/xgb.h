/* xgb.h - the native XGBoost predictor: MLflow `xgboost` models through libxgboost's C API.
 *
 * xgb_model_load() reads a model directory's `xgboost` flavor (its `data`
 * file: model.ubj, model.json or the legacy binary model.xgb, and its
 * `model_class`), or one bare model file (treated as xgboost.core.Booster),
 * and loads the booster. The loaded model says what it takes - the number of
 * features and their names, in the booster's order - and what it gives.
 * xgb_predict() turns row-major float32 rows (NaN: missing) into exactly what
 * MLflow's pyfunc of that model returns (mlflow/xgboost/__init__.py,
 * _XGBModelWrapper.predict over xgboost 1.7's Python package):
 *
 *   xgboost.core.Booster       Booster.predict(DMatrix(df)): the objective's
 *                              output, every tree - probabilities for
 *                              binary:logistic, n x num_class probabilities
 *                              for multi:softprob, class indexes as floats for
 *                              multi:softmax, margins for binary:logitraw,
 *                              values for regression and ranking.
 *   XGBClassifier,             XGBClassifier.predict(df): integer class labels
 *   XGBRFClassifier            (argmax over classes; "p > 0.5" for binary; the
 *                              index for multi:softmax), from the trees up to
 *                              the model's best_iteration.
 *   XGBRegressor, XGBRanker,   XGBModel.predict(df): values, trees up to
 *   XGBRFRegressor             best_iteration.
 *
 * XGB_PREDICT_MARGIN is pyfunc's predict(df, params={"output_margin": True})
 * (MLflow passes the param through when the signature declares it), and
 * XGB_PREDICT_PROBA the native model's predict_proba(df) for the classifier
 * classes: MLflow 3's pyfunc has no predict_proba for xgboost (its python
 * function flavor takes no predict_fn and no model_config for it), so that
 * one is cairn's, computed as xgboost's sklearn.py does.
 *
 * Threading. A loaded model is shared by every server thread; each thread
 * predicts through a struct xgb_ctx of its own, which holds a reused proxy
 * DMatrix (the fastest single-row path, ../shared/anchors/serving/README.md)
 * and the output buffer. This relies on xgboost >= 1.4's guarantee that
 * prediction on one booster is thread safe for the gbtree and dart boosters
 * (doc/prediction.rst, "Thread Safety"; results live in thread-local
 * memory, copied out at once): those models predict without a lock, and a
 * gblinear model, which has no in-place prediction and no such guarantee,
 * predicts through a DMatrix under a mutex of the model. Nothing changes a
 * booster after load: the thread counts are fixed then (XGBoosterSetParam
 * while others predict is not safe), and one warm-up prediction per booster
 * finishes xgboost's lazy configuration before the model is shared.
 *
 * Thread counts. Batches below opts.batch_rows predict with nthread=1 on the
 * calling thread (more threads make single rows no faster); bigger ones with
 * opts.nthread threads (OpenMP), through a second booster loaded with that
 * setting - a model with nthread > 1 holds its trees twice.
 *
 * Ownership. xgb_model_load() returns a model holding one reference, owned by
 * the caller. xgb_model_ref() takes another and xgb_model_free() drops one;
 * the last drop frees the model. A hot swap publishes the new model, and each
 * request holds a reference from before its predict until after it has
 * copied the output, so the old model is freed when the last in-flight
 * request drops its reference. (Taking the reference must be ordered with
 * replacing the published pointer - a lock or RCU in the caller; the count
 * itself is atomic.) A ctx is not tied to a model: one thread may predict
 * with several models, old and new, through one ctx. Pointers returned by
 * accessors are borrowed from the model, valid while a reference is held.
 *
 * Damaged files. libxgboost 1.7.4 trusts its model files: truncated UBJSON
 * makes it read out of bounds or allocate gigabytes, an out-of-range index
 * in a tree makes it crash at load or predict. So the loader reads and
 * checks the document first (JSON, UBJSON; a legacy binary file has its
 * lengths bounded before the load and its trees checked after), and a
 * damaged file is a CAIRN_EINVALID naming what is wrong, not a crash
 * (fuzz/fuzz_xgb.c feeds damaged files through the loader and predict).
 *
 * Errors: CAIRN_ENOTFOUND (no model file, no xgboost flavor), CAIRN_EINVALID
 * (a corrupt or truncated model file - with libxgboost's own message when
 * it is the one refusing -, a bad flavor, a wrong column count),
 * CAIRN_EUNSUPPORTED (a model_class or a model cairn cannot mirror:
 * categorical features, a non-integer legacy label encoder, predict_proba
 * of a non-classifier), CAIRN_ETOOBIG, CAIRN_EIO, CAIRN_ENOMEM; CAIRN_ERR
 * when libxgboost fails a prediction.
 */
#ifndef CAIRN_MODEL_XGB_H
#define CAIRN_MODEL_XGB_H

#include <stdbool.h>
#include <stddef.h>

#include "model/mlmodel.h"

#define XGB_MAX_MODEL_FILE ((size_t)1 << 30)  /* biggest model file loaded */
#define XGB_BATCH_ROWS 1024                   /* default opts.batch_rows */

struct xgb_model;
struct xgb_ctx;

/* The flavor's model_class: what the pyfunc's predict returns depends on it. */
enum xgb_class {
	XGB_CLASS_BOOSTER,        /* xgboost.core.Booster (also a bare model file) */
	XGB_CLASS_CLASSIFIER,     /* xgboost.sklearn.XGBClassifier */
	XGB_CLASS_REGRESSOR,      /* xgboost.sklearn.XGBRegressor */
	XGB_CLASS_RANKER,         /* xgboost.sklearn.XGBRanker */
	XGB_CLASS_RF_CLASSIFIER,  /* xgboost.sklearn.XGBRFClassifier */
	XGB_CLASS_RF_REGRESSOR,   /* xgboost.sklearn.XGBRFRegressor */
};

/* Which prediction. */
enum xgb_method {
	XGB_PREDICT,         /* pyfunc predict(df): MLflow's answer */
	XGB_PREDICT_MARGIN,  /* pyfunc predict(df, params={"output_margin": True}) */
	XGB_PREDICT_PROBA,   /* classifiers: predict_proba(df), n x classes (not in MLflow's pyfunc) */
};

/* What the values mean; only labels are integers in JSON. */
enum xgb_kind {
	XGB_KIND_VALUES,         /* regression values, ranking scores, margins, a Booster's
				    multi:softmax class indexes, a multi-label classifier's 0/1
				    (floats, as MLflow gives them) */
	XGB_KIND_PROBABILITIES,  /* probabilities (binary:logistic, multi:softprob, reg:logistic, predict_proba) */
	XGB_KIND_LABELS,         /* integer class labels: write them as JSON integers */
};

/* The shape of one method's output, the same for every batch size. */
struct xgb_shape {
	enum xgb_kind kind;
	bool matrix;    /* a list per row, as numpy's 2-D result; false: one value per row */
	size_t width;   /* values per row: 1 unless matrix */
};

/* One prediction's result. */
struct xgb_output {
	struct xgb_shape shape;
	size_t nrows;        /* rows predicted */
	const double *data;  /* nrows * shape.width values, row-major: xgboost's float32 results
				widened exactly (write each with a round-trip double format to
				match MLflow's JSON), or integer labels; borrowed from the ctx
				until its next xgb_predict() */
};

/* Options fixed at load. */
struct xgb_opts {
	int nthread;        /* OpenMP threads for big batches; <= 1: every batch on the calling thread */
	size_t batch_rows;  /* batches of at least this many rows use nthread; 0: XGB_BATCH_ROWS */
};

/* Load the model of the MLflow model directory model_dir, whose parsed MLmodel
 * is m (flavor `xgboost`: data, model_class). With m NULL, model_dir is a bare
 * model file (.ubj, .json or legacy binary), loaded as xgboost.core.Booster -
 * or a model directory, whose MLmodel is then read. nthread 1 throughout. */
int xgb_model_load(const char *model_dir, const struct mlmodel *m, struct xgb_model **out);
/* The same with options (NULL: the defaults). */
int xgb_model_load_opts(const char *model_dir, const struct mlmodel *m, const struct xgb_opts *opts,
			struct xgb_model **out);
/* Take one more reference; returns x. */
struct xgb_model *xgb_model_ref(struct xgb_model *x);
/* Drop one reference (NULL is fine); the last one frees the model. */
void xgb_model_free(struct xgb_model *x);

/* Columns each row must have, in the booster's order. */
size_t xgb_model_num_features(const struct xgb_model *x);
/* The booster's feature names (num_features of them), or NULL when it was
 * trained without names. */
const char *const *xgb_model_feature_names(const struct xgb_model *x);
enum xgb_class xgb_model_class(const struct xgb_model *x);
/* The model_class as MLflow writes it ("xgboost.sklearn.XGBClassifier"). */
const char *xgb_model_class_name(const struct xgb_model *x);
/* The booster's objective ("binary:logistic"). */
const char *xgb_model_objective(const struct xgb_model *x);
/* The booster's num_class: 0 unless multi-class. */
int xgb_model_num_class(const struct xgb_model *x);
/* What method returns; CAIRN_EUNSUPPORTED for XGB_PREDICT_PROBA of a model
 * that is no classifier. */
int xgb_model_shape(const struct xgb_model *x, enum xgb_method method, struct xgb_shape *out);

/* A prediction context for one thread at a time. */
int xgb_ctx_new(struct xgb_ctx **out);
void xgb_ctx_free(struct xgb_ctx *ctx);

/* Predict nrows rows of ncols float32 values each (row-major, NaN: missing);
 * ncols must be xgb_model_num_features(). out->data lives in ctx until its
 * next predict. Safe to call concurrently on one model with different ctxs. */
int xgb_predict(struct xgb_model *x, struct xgb_ctx *ctx, const float *rows, size_t nrows, size_t ncols,
		enum xgb_method method, struct xgb_output *out);

/* For the fuzz target: a model from n bytes of a model file, of class
 * model_class (NULL: xgboost.core.Booster). */
int xgb__load_buffer(const void *data, size_t n, const char *model_class, const struct xgb_opts *opts,
		     struct xgb_model **out);

/* The name of a method ("predict", "predict_margin", "predict_proba"). */
const char *xgb_method_name(enum xgb_method method);

#endif
