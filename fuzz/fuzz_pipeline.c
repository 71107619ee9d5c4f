/* fuzz_pipeline.c - libFuzzer target: pipeline specs (cairn.yaml through pipeline_load) and cron expressions.
 *
 * Any input: no crash, no sanitizer report, no leak; either a pipeline whose
 * every stage has a command and a topological order covering all stages, or
 * an error with a message. The first byte picks the cron parser instead
 * ('C'), or a nested sub/dvc.yaml with a pointer file beside it ('D').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "pipeline/pipeline.h"

static char dir[64];

static void setup(void)
{
	char path[128];

	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-pipeline-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/params.yaml", dir);
	fs_write_atomic(path, "train:\n  eta: 0.1\n  layers: [1, 2]\nmodels: [a, b]\n", 48, 0644);
	snprintf(path, sizeof(path), "%s/in.txt", dir);
	fs_write_atomic(path, "x\n", 2, 0644);
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/sub/raw.csv.dvc", dir);
	fs_write_atomic(path, "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: raw.csv\n", 62, 0644);
	snprintf(path, sizeof(path), "%s/sub/params.yaml", dir);
	fs_write_atomic(path, "lr: 0.5\nopts: {a: 1, b: true, c: [x, 'y z']}\n", 45, 0644);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char path[128];
	struct pipeline *p = NULL;

	setup();
	if (size && data[0] == 'C') {
		char expr[256];
		struct cron c;
		size_t n = size - 1 < sizeof(expr) - 1 ? size - 1 : sizeof(expr) - 1;
		memcpy(expr, data + 1, n);
		expr[n] = '\0';
		if (cron_parse(expr, &c) && !cairn_error_msg()[0])
			abort();
		return 0;
	}
	if (size && data[0] == 'D') {
		/* a dvc.yaml in a subfolder (read with every other dvc.yaml of the
		 * workspace, paths relative to it) and a .dvc pointer beside it */
		snprintf(path, sizeof(path), "%s/cairn.yaml", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/sub/dvc.yaml", dir);
		if (fs_write_atomic_opt(path, data + 1, size - 1, 0644, false))
			return 0;
	} else {
		snprintf(path, sizeof(path), "%s/sub/dvc.yaml", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/cairn.yaml", dir);
		if (fs_write_atomic_opt(path, data, size, 0644, false))
			return 0;
	}
	if (pipeline_load(dir, NULL, &p)) {
		if (p || !cairn_error_msg()[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (!p->v[i].ncmds || !p->v[i].name)
			abort();
		if (p->order[i] >= p->n)
			abort();
	}
	pipeline_free(p);
	return 0;
}
