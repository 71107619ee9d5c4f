/* decode_int.h - private to serve/decode.c and serve/decode_fast.c: the streaming fast path and what it shares with the tree decoder.
 *
 * serve_decode_mlflow() and serve_decode_oip() first offer the body to the
 * fast path (decode_fast.c), which parses the hot numeric shapes straight
 * into the float32 matrix without a jansson tree. It either decodes the body
 * exactly as the tree decoder would (the same cells, bit for bit, the same
 * frame) or declines, and then the tree decoder (decode.c) decides: every
 * error, every message and every unusual shape is the tree decoder's.
 * tests/serve/decode_fast.c and fuzz/fuzz_serve_fast.c hold the fast path to
 * that, against the tree decoder alone (serve__tree_*).
 */
#ifndef CAIRN_SERVE_DECODE_INT_H
#define CAIRN_SERVE_DECODE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/decode.h"

#define SERVE_FAST_DECLINED 1   /* the fast path does not decide this body: decode it with the tree */

/* The fast path for an application/json /invocations body (the Content-Type
 * already checked): 0 with *out filled, SERVE_FAST_DECLINED with *out
 * untouched, or CAIRN_ENOMEM (*out untouched). */
int serve__fast_mlflow(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out);
/* The same for an Open Inference Protocol body; *meta (when meta is not
 * NULL) as serve_decode_oip gives it, on 0 only. */
int serve__fast_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		    json_t **meta);

/* serve_decode_mlflow and serve_decode_oip without the fast path (tests, fuzzing). */
int serve__tree_mlflow(const struct serve_input *in, const char *ct, const char *body, size_t len,
		       struct serve_frame *out);
int serve__tree_oip(const struct serve_input *in, const char *body, size_t len, struct serve_frame *out,
		    json_t **meta);

/* A JSON number token s[0..n) (strict JSON grammar, nothing around it) as
 * the double strtod() reads; false when it is no JSON number. Exposed for
 * the tests of the conversion. */
bool serve__json_double(const char *s, size_t n, double *d);

/* The tree decoder's casts, shared so that both paths compute a cell alike. */
float serve__int_to(enum serve_dtype t, int64_t i);
bool serve__safe_cast(enum serve_dtype from, enum serve_dtype to, bool zero_one);

#endif
