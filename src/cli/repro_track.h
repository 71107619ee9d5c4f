/* repro_track.h - recording a `cairn repro` in the tracking store: the
 * pipeline run, a nested run per stage, the DAG with the pipeline run. */
#ifndef CAIRN_CLI_REPRO_TRACK_H
#define CAIRN_CLI_REPRO_TRACK_H

#include <jansson.h>
#include <stdbool.h>

#include "data/data.h"
#include "pipeline/pipeline.h"

struct repro_track;

/* Open the store (uri, else root_opt, else the default root), the experiment
 * (NULL: Default) and the pipeline run named run_name with tags (borrowed)
 * plus cairn's own; store the DAG with it. *out: free with repro_track_close. */
int repro_track_open(const char *uri, const char *root_opt, const char *experiment, struct data_repo *r,
		     const struct pipeline *p, json_t *tags, const char *run_name, struct repro_track **out);
/* The hooks pipeline_repro calls for each stage (valid until close). */
const struct pl_hooks *repro_track_hooks(const struct repro_track *t);
/* The pipeline run's id, and where it is recorded. */
const char *repro_track_run(const struct repro_track *t);
const char *repro_track_target(const struct repro_track *t);
/* Finish the pipeline run from rep (NULL: it failed before running) and free t. */
void repro_track_close(struct repro_track *t, json_t *rep, bool interrupted);

#endif
