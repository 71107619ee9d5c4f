/* pl_int.h - what the files of src/pipeline share; not for other layers. */
#ifndef CAIRN_PIPELINE_PL_INT_H
#define CAIRN_PIPELINE_PL_INT_H

#include "pipeline/pipeline.h"

/* Edges from deps to the stages producing them, a topological order, and
 * the checks (duplicate or nested outs, missing deps, cycles). */
int pl_build_dag(struct pipeline *p);

#endif
