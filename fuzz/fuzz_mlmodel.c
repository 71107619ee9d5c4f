/* fuzz_mlmodel.c - libFuzzer target: the MLmodel parser, its writer, and CSV signature inference.
 *
 * Any input: no crash, no sanitizer report. An accepted MLmodel must give a
 * summary, answer every accessor, and write YAML that parses back to the same
 * summary. The same bytes are also fed to mlmodel_signature_from_csv, whose
 * every result must be accepted by mlmodel_set_signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/mlmodel.h"

static void check_model(const struct mlmodel *m)
{
	struct buf b = BUF_INIT;
	struct mlmodel *back = NULL;
	json_t *a, *z;
	const char *d;
	int rc;

	(void)mlmodel_loader_module(m);
	for (size_t i = 0; i < m->nflavors; i++) {
		if (!mlmodel_flavor(m, m->flavors[i].name))
			abort();
		(void)mlmodel_flavor_data(m, m->flavors[i].name, &d);
	}
	a = mlmodel_to_json(m);
	if (!a)
		abort();
	if (mlmodel_write(m, &b)) {
		fprintf(stderr, "write failed: %s\n", cairn_error_msg());
		abort();
	}
	rc = mlmodel_parse(b.ptr, b.len, &back);
	if (rc == CAIRN_ETOOBIG) {   /* a document at the expansion limit plus the writer's keys */
		json_decref(a);
		buf_release(&b);
		return;
	}
	if (rc) {
		fprintf(stderr, "written MLmodel does not parse: %s\n---\n%s\n", cairn_error_msg(), b.ptr);
		abort();
	}
	z = mlmodel_to_json(back);
	if (!json_equal(a, z)) {
		fprintf(stderr, "written MLmodel differs\n---\n%s\n", b.ptr);
		abort();
	}
	json_decref(a);
	json_decref(z);
	mlmodel_free(back);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mlmodel *m = NULL;
	json_t *in = NULL;

	if (mlmodel_parse((const char *)data, size, &m) == 0) {
		check_model(m);
		mlmodel_free(m);
	} else if (m) {
		abort();
	}
	if (mlmodel_signature_from_csv((const char *)data, size, &in) == 0) {
		if (mlmodel_new_for_file("xgboost", "model.json", &m))
			abort();
		if (mlmodel_set_signature(m, in, NULL, NULL)) {
			fprintf(stderr, "inferred signature refused: %s\n", cairn_error_msg());
			abort();
		}
		check_model(m);
		mlmodel_free(m);
		json_decref(in);
	} else if (in) {
		abort();
	}
	return 0;
}
