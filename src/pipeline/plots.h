/* plots.h - the pipeline's plots, as `dvc plots show` reads and draws them.
 *
 * plots_collect() gathers the plot definitions of a loaded pipeline - the
 * top-level "plots:" entries and every stage's "plots:" outs - the way DVC
 * does: an entry whose y is not a {file: field} mapping names a data file (or
 * a folder: every file in it, each taking the definition of its closest listed
 * parent); other entries are named plots whose x/y mappings name the files
 * (relative to the folder of the file that lists them). The same id listed by
 * the top-level section and by a stage is two plots, "dvc.yaml::ID" and "ID",
 * as in DVC. It loads every data file (CSV, TSV, JSON, YAML; images as data:
 * URIs), checks the fields, and turns each plot into DVC's flat data points:
 * every row of each (file, field) y source, with the x value under the plot's
 * x field ("step", the row index, unless x is given), "filename" and "field"
 * naming the series and "rev": "workspace". The result, also what
 * `cairn plots show --json` prints:
 *
 *   {"data": {ID: [{"type": "vega", "revisions": ["workspace"],
 *                   "content": {"template", "title", "x", "y", "x_label",
 *                               "y_label", "anchors_y_definitions":
 *                               [{"filename", "field"}], "data": {"values": [...]}}}
 *                  | {"type": "image", "revisions": ["workspace"],
 *                     "url": "repo-relative path", "src": "data:..."}]}}
 *
 * Every mistake is an error naming the file ("FILE: no field 'acc' (its
 * fields: step, loss)"), CAIRN_EINVALID or CAIRN_ENOTFOUND.
 *
 * plots_render_html() draws such a result as one self-contained HTML page:
 * each plot an inline SVG (axes with ticks, labels, a title, a legend when
 * several series overlay), each image an <img> with its data: URI; no script,
 * nothing fetched. All text is escaped.
 */
#ifndef CAIRN_PIPELINE_PLOTS_H
#define CAIRN_PIPELINE_PLOTS_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "pipeline/pipeline.h"

struct plots_opts {
	char *const *targets;  /* plot ids or files (regular expressions matched at the start, as DVC); NULL/0: all */
	size_t ntargets;
	const char *cwd;       /* workspace-relative folder the targets are relative to ("" or NULL: the root) */
	json_t *props;         /* options overriding every definition ({template, x, y, title, x_label, y_label, header}); NULL: none (borrowed) */
};

/* The templates, in DVC's order, NULL-terminated. */
extern const char *const plots_templates[];

/* Collect, load and resolve the plots of p (see above). *out is owned by
 * the caller; {"data": {}} when there are none. */
int plots_collect(const struct pipeline *p, const struct plots_opts *o, json_t **out);
/* Append the HTML page of a plots_collect() result to html. */
int plots_render_html(const json_t *plots, struct buf *html);

#endif
