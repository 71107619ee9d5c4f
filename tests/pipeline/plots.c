/* plots.c - unit tests of pipeline/plots: DVC's plot definitions resolved into data
 * points (plots_collect) and drawn as one self-contained HTML page (plots_render_html). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/json.h"
#include "pipeline/pipeline.h"
#include "pipeline/plots.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-plots-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(pipeline_plots, .init = setup, .fini = teardown);

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert_eq(system(cmd), 0);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* Load dvc.yaml and collect its plots; returns plots_collect's code. */
static int collect(const char *yaml, json_t **out, const char *const *targets, size_t nt, json_t *props)
{
	struct pipeline *p = NULL;
	struct plots_opts o = { .targets = (char *const *)targets, .ntargets = nt, .props = props };
	int rc;

	struct buf text = BUF_INIT;

	/* spec.c wants a stage (a dvc.yaml of plots alone, as dvclive writes, is not loaded yet) */
	if (!strstr(yaml, "stages:"))
		buf_puts(&text, "stages:\n  s:\n    cmd: echo\n");
	buf_puts(&text, yaml);
	put("dvc.yaml", text.ptr);
	buf_release(&text);
	cr_assert_eq(pipeline_load(dir, "dvc.yaml", &p), 0, "%s", cairn_error_msg());
	rc = plots_collect(p, &o, out);
	pipeline_free(p);
	return rc;
}

static json_t *content(json_t *plots, const char *id)
{
	json_t *c = json_object_get(json_array_get(json_object_get(json_object_get(plots, "data"), id), 0), "content");

	cr_assert_not_null(c, "no plot '%s'", id);
	return c;
}

static json_t *values(json_t *plots, const char *id)
{
	return json_object_get(json_object_get(content(plots, id), "data"), "values");
}

static const char *s(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#define TSV_LOSS "timestamp\tstep\tloss\n1\t10\t0.9\n2\t20\t0.5\n3\t30\t0.25\n"

Test(pipeline_plots, folder_entry_defaults_like_dvclive)
{
	json_t *pl = NULL, *v;

	put("dvclive/plots/metrics/train/loss.tsv", TSV_LOSS);
	put("dvclive/plots/metrics/acc.tsv", "step\tacc\n0\t0.5\n1\t0.6\n");
	cr_assert_eq(collect("plots:\n  - dvclive/plots/metrics\n", &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	/* every file of the folder, sorted; ids are workspace paths */
	cr_assert_eq(json_object_size(json_object_get(pl, "data")), 2);
	cr_assert_str_eq(json_object_iter_key(json_object_iter(json_object_get(pl, "data"))), "dvclive/plots/metrics/acc.tsv");
	v = values(pl, "dvclive/plots/metrics/train/loss.tsv");
	/* y: the last field; x: DVC's "step", the row index (the file's own step column is replaced) */
	cr_assert_str_eq(s(content(pl, "dvclive/plots/metrics/train/loss.tsv"), "y"), "loss");
	cr_assert_str_eq(s(content(pl, "dvclive/plots/metrics/train/loss.tsv"), "x"), "step");
	cr_assert_str_eq(s(content(pl, "dvclive/plots/metrics/train/loss.tsv"), "x_label"), "step");
	cr_assert_str_eq(s(content(pl, "dvclive/plots/metrics/train/loss.tsv"), "title"), "dvclive/plots/metrics/train/loss.tsv");
	cr_assert_str_eq(s(content(pl, "dvclive/plots/metrics/train/loss.tsv"), "template"), "linear");
	cr_assert_eq(json_array_size(v), 3);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(v, 2), "step")), 2);
	cr_assert_float_eq(json_real_value(json_object_get(json_array_get(v, 2), "loss")), 0.25, 1e-12);
	cr_assert_str_eq(s(json_array_get(v, 0), "rev"), "workspace");
	cr_assert_str_eq(s(json_array_get(v, 0), "field"), "loss");
	cr_assert_str_eq(s(json_array_get(v, 0), "filename"), "dvclive/plots/metrics/train/loss.tsv");
	json_decref(pl);

	/* x: step as a field: the file's column */
	cr_assert_eq(collect("plots:\n  - dvclive/plots/metrics:\n      x: step\n", &pl, NULL, 0, NULL), 0, "%s",
		     cairn_error_msg());
	v = values(pl, "dvclive/plots/metrics/train/loss.tsv");
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(v, 2), "step")), 30);
	json_decref(pl);
}

Test(pipeline_plots, closest_parent_wins_and_later_entries_replace)
{
	json_t *pl = NULL;

	put("plots/a.csv", "x,y\n1,2\n");
	put("plots/b.csv", "x,y\n1,3\n");
	cr_assert_eq(collect("plots:\n"
			     "  - plots: {template: scatter}\n"
			     "  - plots/b.csv: {template: simple, x: x}\n"
			     "  - plots/b.csv: {template: smooth}\n",
			     &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	cr_assert_str_eq(s(content(pl, "plots/a.csv"), "template"), "scatter");
	/* the second b.csv entry replaced the first (x gone), and beats the folder's */
	cr_assert_str_eq(s(content(pl, "plots/b.csv"), "template"), "smooth");
	cr_assert_str_eq(s(content(pl, "plots/b.csv"), "x"), "step");
	json_decref(pl);
}

Test(pipeline_plots, named_plot_with_files_overlays_series)
{
	json_t *pl = NULL, *c, *v, *a;

	put("eval/train.json", "{\"roc\": [{\"fpr\": 0, \"tpr\": 0}, {\"fpr\": 0.5, \"tpr\": 0.8}, {\"fpr\": 1, \"tpr\": 1}]}");
	put("eval/test.json", "{\"roc\": [{\"fpr\": 0, \"tpr\": 0}, {\"fpr\": 1, \"tpr\": 1}]}");
	cr_assert_eq(collect("plots:\n"
			     "  - ROC:\n"
			     "      x: fpr\n"
			     "      y: {eval/train.json: tpr, eval/test.json: tpr}\n"
			     "      template: simple\n",
			     &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	c = content(pl, "ROC");
	cr_assert_str_eq(s(c, "x"), "fpr");
	cr_assert_str_eq(s(c, "y"), "tpr");
	cr_assert_str_eq(s(c, "x_label"), "fpr");
	cr_assert_str_eq(s(c, "y_label"), "tpr");
	a = json_object_get(c, "anchors_y_definitions");
	cr_assert_eq(json_array_size(a), 2);
	/* file names without their common folder */
	cr_assert_str_eq(s(json_array_get(a, 0), "filename"), "train.json");
	cr_assert_str_eq(s(json_array_get(a, 1), "filename"), "test.json");
	v = values(pl, "ROC");
	cr_assert_eq(json_array_size(v), 5);
	cr_assert_str_eq(s(json_array_get(v, 4), "filename"), "test.json");
	json_decref(pl);

	/* different fields: DVC's inferred y key; several x fields joined by position */
	put("m.csv", "epoch,loss,acc\n1,0.5,0.6\n2,0.4,0.7\n");
	cr_assert_eq(collect("plots:\n  - both:\n      y: {m.csv: [loss, acc]}\n", &pl, NULL, 0, NULL), 0, "%s",
		     cairn_error_msg());
	c = content(pl, "both");
	cr_assert_str_eq(s(c, "y"), "dvc_inferred_y_value");
	cr_assert_str_eq(s(c, "y_label"), "y");
	v = values(pl, "both");
	cr_assert_eq(json_array_size(v), 4);
	cr_assert_float_eq(json_real_value(json_object_get(json_array_get(v, 3), "dvc_inferred_y_value")), 0.7, 1e-12);
	json_decref(pl);
}

Test(pipeline_plots, paths_relative_to_the_file_and_stage_outs)
{
	json_t *pl = NULL, *data;

	put("p.csv", "actual,predicted\n1,1\n0,1\n");
	cr_assert_eq(collect("stages:\n"
			     "  eval:\n"
			     "    cmd: echo\n"
			     "    plots:\n"
			     "      - p.csv: {template: confusion, x: actual, y: predicted}\n"
			     "plots:\n"
			     "  - p.csv: {template: confusion_normalized, x: actual, y: predicted}\n",
			     &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	/* one id in the top-level section and a stage: two plots, as DVC */
	data = json_object_get(pl, "data");
	cr_assert_eq(json_object_size(data), 2);
	cr_assert_str_eq(s(content(pl, "dvc.yaml::p.csv"), "template"), "confusion_normalized");
	cr_assert_str_eq(s(content(pl, "p.csv"), "template"), "confusion");
	json_decref(pl);
}

Test(pipeline_plots, targets_and_command_line_props)
{
	const char *t1[] = { "lo" }, *t2[] = { "extra.csv" }, *t3[] = { "nothing" };
	json_t *pl = NULL, *props = json_pack("{ss}", "template", "scatter");

	put("loss.csv", "a,b\n1,2\n");
	put("acc.csv", "a,b\n1,2\n");
	put("extra.csv", "a,b\n1,2\n");
	cr_assert_eq(collect("plots:\n  - loss.csv\n  - acc.csv\n", &pl, t1, 1, props), 0, "%s", cairn_error_msg());
	cr_assert_eq(json_object_size(json_object_get(pl, "data")), 1);
	cr_assert_str_eq(s(content(pl, "loss.csv"), "template"), "scatter");
	json_decref(pl);
	/* a file no definition names is drawn when asked for */
	cr_assert_eq(collect("plots:\n  - loss.csv\n", &pl, t2, 1, NULL), 0, "%s", cairn_error_msg());
	cr_assert_eq(json_object_size(json_object_get(pl, "data")), 1);
	cr_assert_str_eq(s(content(pl, "extra.csv"), "y"), "b");
	json_decref(pl);
	cr_assert_eq(collect("plots:\n  - loss.csv\n", &pl, t3, 1, NULL), CAIRN_ENOTFOUND);
	cr_assert_str_eq(cairn_error_msg(), "nothing: no plot of that id and no such file");
	json_decref(props);
}

static void fails(const char *yaml, int code, const char *msg)
{
	json_t *pl = NULL;

	cr_assert_eq(collect(yaml, &pl, NULL, 0, NULL), code, "%s: %s", yaml, cairn_error_msg());
	cr_assert_null(pl);
	cr_assert_str_eq(cairn_error_msg(), msg);
}

Test(pipeline_plots, bad_input_names_the_file)
{
	put("m.csv", "step,loss\n0,0.5\n1,0.4\n");
	put("short.csv", "a,b\n1,2\n3\n");
	put("empty.json", "\n");
	put("scalar.json", "3");
	put("bad.yaml", "a: [1,\n");
	put("text.csv", "a,b\n1,x\n");
	put("m.txt", "hello\n");
	put("x.json", "[{\"a\": 1}]");
	fails("plots:\n  - missing.csv\n", CAIRN_ENOTFOUND, "missing.csv: no such file");
	fails("plots:\n  - m.csv: {y: acc}\n", CAIRN_EINVALID, "m.csv: no field 'acc' (its fields: step, loss)");
	fails("plots:\n  - short.csv\n", CAIRN_EINVALID, "short.csv: line 3: 1 fields, the header has 2");
	fails("plots:\n  - empty.json\n", CAIRN_EINVALID, "empty.json: the file is empty");
	fails("plots:\n  - scalar.json\n", CAIRN_EINVALID,
	      "scalar.json: no data points (a list of objects, or an object holding lists of objects)");
	fails("plots:\n  - m.txt\n", CAIRN_EINVALID,
	      "m.txt: not a plot file: data is CSV, TSV, JSON or YAML, images .png, .jpg, .jpeg, .gif or .svg");
	fails("plots:\n  - text.csv\n", CAIRN_EINVALID, "text.csv: row 1: field 'b' is 'x', not a number (template linear)");
	fails("plots:\n  - m.csv: {template: pie}\n", CAIRN_EINVALID,
	      "plot 'm.csv': unknown template 'pie' (known: simple, linear, confusion, confusion_normalized, scatter, "
	      "scatter_jitter, smooth, bar_horizontal_sorted, bar_horizontal)");
	fails("plots:\n  - m.csv: {colour: red}\n", CAIRN_EINVALID,
	      "dvc.yaml: plot 'm.csv': unknown plot option 'colour' (template, x, y, title, x_label, y_label, header)");
	fails("plots:\n  - j:\n      x: {x.json: a}\n      y: {m.csv: loss}\n", CAIRN_EINVALID,
	      "plot 'j': cannot join 'a' of x.json (1 rows) and 'loss' of m.csv (2 rows): they must have the same length");
	fails("plots:\n  - ../up.csv\n", CAIRN_EINVALID, "dvc.yaml: '../up.csv': the path leaves the workspace");
	{
		json_t *pl = NULL;

		cr_assert_neq(collect("plots:\n  - bad.yaml\n", &pl, NULL, 0, NULL), 0);
		cr_assert(!strncmp(cairn_error_msg(), "bad.yaml: not YAML: line", 24), "%s", cairn_error_msg());
	}
}

Test(pipeline_plots, yaml_and_nested_lists)
{
	json_t *pl = NULL, *v;

	put("m.yaml", "train:\n  - {loss: 1, acc: 0.1}\n  - {loss: 0.5, acc: 0.2}\nmeta: {note: x}\n");
	put("h.json", "[{\"a\": \"1\", \"b\": \"2.5\"}]");
	cr_assert_eq(collect("plots:\n  - m.yaml\n  - h.json\n", &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	v = values(pl, "m.yaml");
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_str_eq(s(content(pl, "m.yaml"), "y"), "acc");
	/* numbers written as strings are numbers to the templates */
	cr_assert_str_eq(s(json_array_get(values(pl, "h.json"), 0), "b"), "2.5");
	json_decref(pl);
}

Test(pipeline_plots, html_is_self_contained_and_escaped)
{
	json_t *pl = NULL;
	struct buf html = BUF_INIT;
	const char *svg;

	put("loss.tsv", TSV_LOSS);
	put("pred.csv", "actual,predicted\ncat,cat\ncat,dog\ndog,dog\n<script>x</script>,cat\n");
	put("fi.json", "[{\"name\": \"a<b>\", \"imp\": 3}, {\"name\": \"c\", \"imp\": 5}, {\"name\": \"d\", \"imp\": 1}]");
	put("img.png", "\x89PNG fake");
	put("m.csv", "step,loss,acc\n0,1,0\n1,0.5,0.5\n");
	cr_assert_eq(collect("plots:\n"
			     "  - loss.tsv: {title: \"Loss <script>alert(1)</script>\"}\n"
			     "  - pred.csv: {template: confusion, x: actual, y: predicted}\n"
			     "  - fi.json: {template: bar_horizontal_sorted, x: imp, y: name}\n"
			     "  - img.png\n"
			     "  - both: {y: {m.csv: [loss, acc]}, template: scatter}\n",
			     &pl, NULL, 0, NULL), 0, "%s", cairn_error_msg());
	cr_assert_eq(plots_render_html(pl, &html), 0, "%s", cairn_error_msg());
	cr_assert_eq(count(html.ptr, "<svg"), 4);
	cr_assert_eq(count(html.ptr, "<img src=\"data:image/png;base64,iVBORyBmYWtl\""), 1);
	cr_assert_null(strstr(html.ptr, "http://"));
	cr_assert_null(strstr(html.ptr, "https://"));
	cr_assert_null(strstr(html.ptr, "<script"));
	cr_assert_not_null(strstr(html.ptr, "Loss &lt;script&gt;alert(1)&lt;/script&gt;"));
	cr_assert_not_null(strstr(html.ptr, "a&lt;b&gt;"));
	/* the line: 3 points, 3 marks */
	svg = strstr(html.ptr, "data-template=\"linear\"");
	cr_assert_not_null(svg);
	cr_assert_not_null(strstr(svg, "data-points=\"3\""));
	/* the confusion matrix: 3 actual x 2 predicted classes, counts per cell */
	svg = strstr(html.ptr, "data-template=\"confusion\"");
	cr_assert_not_null(strstr(svg, "data-rows=\"2\" data-cols=\"3\""));
	cr_assert_eq(count(svg, "class=\"cell\"") - count(strstr(svg, "</svg>"), "class=\"cell\""), 6);
	/* bars: one per name, longest first */
	svg = strstr(html.ptr, "data-template=\"bar_horizontal_sorted\"");
	cr_assert_eq(count(svg, "class=\"bar\"") - count(strstr(svg, "</svg>"), "class=\"bar\""), 3);
	cr_assert(strstr(svg, "data-value=\"5\"") < strstr(svg, "data-value=\"3\""));
	/* the scatter of two fields has a legend */
	svg = strstr(html.ptr, "data-template=\"scatter\"");
	cr_assert_not_null(strstr(svg, "class=\"legend\""));
	cr_assert_eq(count(svg, "class=\"pt\""), 4);
	buf_release(&html);
	json_decref(pl);
}

Test(pipeline_plots, normalized_confusion_divides_by_the_row)
{
	json_t *pl = NULL;
	struct buf html = BUF_INIT;

	put("p.csv", "a,p\n0,0\n0,0\n1,0\n1,1\n");
	cr_assert_eq(collect("plots:\n  - p.csv: {template: confusion_normalized, x: a, y: p}\n", &pl, NULL, 0, NULL), 0);
	cr_assert_eq(plots_render_html(pl, &html), 0);
	/* row p=0 holds 3 points: 2 with a=0, 1 with a=1 */
	cr_assert_not_null(strstr(html.ptr, "data-value=\"0.666667\""));
	cr_assert_not_null(strstr(html.ptr, "data-value=\"0.333333\""));
	cr_assert_not_null(strstr(html.ptr, "data-value=\"1\""));
	buf_release(&html);
	json_decref(pl);
}

/* Every allocation of collecting and drawing failed in turn (once, then from
 * then on): an error or a whole page, never a crash or a leak (ASan). */
Test(pipeline_plots, each_allocation_failure_is_clean)
{
	struct pipeline *p = NULL;
	struct plots_opts o = { 0 };
	uint64_t calls;

	put("dvc.yaml", "stages:\n  s:\n    cmd: echo\n    plots:\n      - m.csv: {template: smooth}\n"
			"plots:\n  - d\n  - p.csv: {template: confusion_normalized, x: a, y: p}\n"
			"  - b: {y: {m.csv: [loss, acc]}, template: bar_horizontal}\n  - i.png\n");
	put("m.csv", "step,loss,acc\n0,1,0\n1,0.5,0.5\n");
	put("d/x.json", "{\"t\": [{\"a\": 1}, {\"a\": 2}]}");
	put("p.csv", "a,p\n0,0\n1,0\n");
	put("i.png", "png");
	cr_assert_eq(pipeline_load(dir, "dvc.yaml", &p), 0, "%s", cairn_error_msg());
	fault_arm(FAULT_ALLOC, 0, FAULT_THIS_THREAD);
	{
		json_t *pl = NULL;
		struct buf html = BUF_INIT;

		cr_assert_eq(plots_collect(p, &o, &pl), 0, "%s", cairn_error_msg());
		cr_assert_eq(plots_render_html(pl, &html), 0);
		buf_release(&html);
		json_decref(pl);
	}
	calls = fault_calls();
	cr_assert_gt(calls, 10);
	for (int persist = 0; persist < 2; persist++)
		for (uint64_t n = 1; n <= calls; n++) {
			json_t *pl = NULL;
			struct buf html = BUF_INIT;

			fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD | (persist ? FAULT_PERSIST : 0));
			if (!plots_collect(p, &o, &pl))
				plots_render_html(pl, &html);
			fault_disarm();
			buf_release(&html);
			json_decref(pl);
		}
	pipeline_free(p);
}
