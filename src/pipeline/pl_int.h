/* pl_int.h - what the files of src/pipeline share; not for other layers. */
#ifndef CAIRN_PIPELINE_PL_INT_H
#define CAIRN_PIPELINE_PL_INT_H

#include "pipeline/pipeline.h"

/* Edges from deps to the stages producing them, a topological order, and
 * the checks (duplicate or nested outs, missing deps, cycles). */
int pl_build_dag(struct pipeline *p);

/* Does the dvc.lock beside the stage's dvc.yaml record it exactly as the
 * workspace is now (command, deps' and outs' MD5s, params)? (dvclock.c) */
bool pl_dvc_lock_matches(const struct pipeline *p, const struct pl_stage *s);

#endif
