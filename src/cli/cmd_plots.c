/* cmd_plots.c - `cairn plots show`: the pipeline's plots as one self-contained HTML page
 * (or JSON), as `dvc plots show`; `cairn plots templates` lists the templates. */
#include "cli/cmd.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/path.h"
#include "data/data.h"
#include "pipeline/pipeline.h"
#include "pipeline/plots.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plots_usage(FILE *f)
{
	fprintf(f, "usage: cairn plots show [TARGET...] [-o DIR | -o FILE.html] [--json] [options]\n"
		   "       cairn plots templates\n\n"
		   "Draw the plots of the pipeline (cairn.yaml / dvc.yaml), as `dvc plots show`: the\n"
		   "top-level plots: section and every stage's plots: outs, their CSV, TSV, JSON and YAML\n"
		   "data and images, into one self-contained HTML page of SVG charts (nothing fetched,\n"
		   "no script). TARGETs are plot ids or files (regular expressions matched at the start\n"
		   "of an id); a file no definition names is drawn too. See docs/pipelines.md.\n\n"
		   "  -o, --out DIR       write DIR/index.html (default: dvc_plots); a name ending in\n"
		   "                      .html is the file itself. Written beside it, then renamed\n"
		   "  --json              print the resolved plots and their data points instead\n"
		   "  -t, --template T    the template of every plot: simple, linear (default),\n"
		   "                      confusion, confusion_normalized, scatter, scatter_jitter,\n"
		   "                      smooth, bar_horizontal_sorted, bar_horizontal\n"
		   "  -x FIELD, -y FIELD  the fields of the axes (default: x the row index \"step\",\n"
		   "                      y the last field)\n"
		   "  --title T, --x-label T, --y-label T\n"
		   "  --no-header         CSV/TSV files have no header row (fields are 0, 1, ...)\n\n"
		   "Exit status: 0 written (or no plots: nothing written), 1 bad input (the message\n"
		   "names the file), 2 usage.\n");
}

/* Is out the page itself (FILE.html) rather than its folder? */
static bool names_a_page(const char *out)
{
	const char *dot = strrchr(out, '.');

	return dot && !strchr(dot, '/') && (!strcmp(dot, ".html") || !strcmp(dot, ".htm"));
}

/* The current folder relative to the workspace root ("" at the root or outside it). */
static void cwd_in(const char *root, struct buf *out)
{
	char cwd[PATH_MAX], rr[PATH_MAX];
	size_t n;

	buf_clear(out);
	if (!getcwd(cwd, sizeof(cwd)) || !realpath(root, rr))
		return;
	n = strlen(rr);
	if (!strncmp(cwd, rr, n) && cwd[n] == '/')
		buf_puts(out, cwd + n + 1);
}

/* Drop the images' data: URIs from the --json output (their url names the file). */
static void strip_sources(json_t *plots)
{
	const char *id;
	json_t *list;

	json_object_foreach(json_object_get(plots, "data"), id, list) {
		size_t i;
		json_t *e;

		json_array_foreach(list, i, e)
			json_object_del(e, "src");
	}
}

static int write_page(const json_t *plots, const char *out)
{
	struct buf html = BUF_INIT, file = BUF_INIT, dir = BUF_INIT;
	char real[PATH_MAX];
	int rc;

	if (names_a_page(out))
		buf_puts(&file, out);
	else
		buf_printf(&file, "%s/index.html", out);
	if ((rc = buf_error(&file)) || (rc = plots_render_html(plots, &html)))
		goto done;
	buf_puts(&dir, file.ptr);
	if (strrchr(dir.ptr, '/')) {
		buf_truncate(&dir, (size_t)(strrchr(dir.ptr, '/') - dir.ptr));
		if (dir.len && (rc = path_mkdirs(dir.ptr)))
			goto done;
	}
	if ((rc = fs_write_atomic_opt(file.ptr, html.ptr, html.len, 0644, false)))
		goto done;
	printf("file://%s\n", realpath(file.ptr, real) ? real : file.ptr);
done:
	buf_release(&html);
	buf_release(&file);
	buf_release(&dir);
	return rc;
}

static int plots_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "template", required_argument, NULL, 't' },
		{ "title", required_argument, NULL, 'T' },
		{ "x-label", required_argument, NULL, 'X' },
		{ "y-label", required_argument, NULL, 'Y' },
		{ "no-header", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct data_opts dopts = { .quiet = true };
	struct plots_opts po = { 0 };
	struct data_repo *r = NULL;
	struct pipeline *p = NULL;
	struct buf cwd = BUF_INIT;
	const char *out = "dvc_plots";
	json_t *props = json_object(), *plots = NULL;
	bool as_json = false;
	int c, rc = 1;

	if (!props)
		return cli_fail("plots", "out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:t:x:y:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'j': as_json = true; break;
		case 't': json_object_set_new(props, "template", json_string(optarg)); break;
		case 'x': json_object_set_new(props, "x", json_string(optarg)); break;
		case 'y': json_object_set_new(props, "y", json_string(optarg)); break;
		case 'T': json_object_set_new(props, "title", json_string(optarg)); break;
		case 'X': json_object_set_new(props, "x_label", json_string(optarg)); break;
		case 'Y': json_object_set_new(props, "y_label", json_string(optarg)); break;
		case 'N': json_object_set_new(props, "header", json_false()); break;
		case 'h': plots_usage(stdout); json_decref(props); return 0;
		default: plots_usage(stderr); json_decref(props); return 2;
		}
	}
	if (!*out) {
		json_decref(props);
		fprintf(stderr, "cairn plots: -o takes a folder (or a .html file)\n");
		return 2;
	}
	if (data_repo_open(&dopts, &r)) {
		rc = cli_fail("plots", "%s", cairn_error_msg());
		goto done;
	}
	if (pipeline_load(data_repo_root(r), NULL, &p)) {
		rc = cli_fail("plots", "%s", cairn_error_msg());
		goto done;
	}
	cwd_in(data_repo_root(r), &cwd);
	po.targets = argv + optind;
	po.ntargets = (size_t)(argc - optind);
	po.cwd = cwd.ptr;
	po.props = props;
	if (plots_collect(p, &po, &plots)) {
		rc = cli_fail("plots", "%s", cairn_error_msg());
		goto done;
	}
	if (as_json) {
		strip_sources(plots);
		cli_print_json(plots);
		rc = 0;
	} else if (!json_object_size(json_object_get(plots, "data"))) {
		fprintf(stderr, "cairn plots: no plots were loaded, the visualization file will not be created\n");
		rc = 0;
	} else if (write_page(plots, out))
		rc = cli_fail("plots", "%s", cairn_error_msg());
	else
		rc = 0;
done:
	json_decref(plots);
	json_decref(props);
	pipeline_free(p);
	if (r)
		data_repo_close(r);
	buf_release(&cwd);
	return rc;
}

int cmd_plots(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		plots_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "show"))
		return plots_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "templates")) {
		if (argc > 2 && !cli_is_help(argv[2])) {
			fprintf(stderr, "cairn plots templates: takes no arguments\n");
			return 2;
		}
		for (size_t i = 0; plots_templates[i]; i++)
			printf("%s\n", plots_templates[i]);
		return 0;
	}
	fprintf(stderr, "cairn plots: unknown subcommand '%s' (show, templates)\n", argv[1]);
	return 2;
}
