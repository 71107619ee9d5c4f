/* cmd_predict.c - `cairn predict`: batch scoring of a CSV or JSON-lines file with a model, streamed and in parallel. */
#include "cli/cmd.h"
#include "client/client.h"
#include "client/model_fetch.h"
#include "core/buf.h"
#include "core/error.h"
#include "serve/predict.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void predict_usage(FILE *f)
{
	fprintf(f, "usage: cairn predict URI -i FILE -o FILE [options]\n\n"
		   "Score a file with a model: CSV (with a header row) or JSON lines (one object a line)\n"
		   "in; CSV, JSON lines or MLflow's {\"predictions\": [...]} out, in input order. The file\n"
		   "is streamed in chunks through one predictor thread per core, in constant memory.\n"
		   "Rows are checked as cairn serve checks a request (columns by name from the model's\n"
		   "signature, extra ones ignored, MLflow's casts); a missing required column stops the\n"
		   "run before any row is scored, a bad value stops it naming its line, and neither leaves\n"
		   "an output file. URI: models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest,\n"
		   "models:/m-ID, runs:/RUN_ID/PATH, mlflow-artifacts:/PATH, or a local model directory\n"
		   "or model file. Natively scored: the xgboost flavor.\n\n"
		   "  -i, --input FILE   the rows (-: stdin)\n"
		   "  -o, --output FILE  the predictions (-: stdout, written as they come); a file is\n"
		   "                     written beside itself and renamed into place once complete\n"
		   "  --format csv|jsonl  the input's format (default: jsonl for .jsonl and .ndjson, else csv)\n"
		   "  --output-format csv|jsonl|json  (default: by -o's extension, .csv .tsv .jsonl .ndjson\n"
		   "                     .json; else the input's). csv: a `prediction` column, or\n"
		   "                     prediction_0..k-1 for k values a row (class probabilities);\n"
		   "                     jsonl: {\"prediction\": ...} a line; json: {\"predictions\": [...]}\n"
		   "                     as `mlflow models predict` writes it\n"
		   "  -d, --delimiter C  CSV field delimiter (default ',', a tab for .tsv; 'tab' or '\\t')\n"
		   "  --keep-input       write each input record before its predictions (csv to csv,\n"
		   "                     jsonl to jsonl: the object gets a \"prediction\" member)\n"
		   "  --method M         predict (default: what MLflow's pyfunc predict gives),\n"
		   "                     predict_proba (classifiers), predict_margin\n"
		   "  --threads N        predictor threads (default: the CPUs this process may use)\n"
		   "  --chunk-rows N     rows a predictor takes at a time (default %d)\n"
		   "  -q, --quiet        no progress line (there is one only when stderr is a terminal)\n"
		   "  --tracking-uri URI  the tracking server holding the registry (default\n"
		   "                     $MLFLOW_TRACKING_URI, else the local --root)\n"
		   "  --root DIR         a local data root instead (default $CAIRN_HOME or ./cairn-data)\n"
		   "  --cache DIR        where downloaded models are kept (default $CAIRN_MODEL_CACHE,\n"
		   "                     else ~/.cache/cairn/models)\n\n"
		   "Exit status: 0 scored, 1 failure (bad input, a model that does not load or predict),\n"
		   "2 usage.\n", PREDICT_CHUNK_ROWS);
}

static int usage_fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn predict: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see cairn predict --help)\n");
	return 2;
}

static int parse_count(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 10);
	if (errno || *end || !*arg || *arg == '-' || !*out || *out > max) {
		fprintf(stderr, "cairn predict: invalid value '%s' for --%s (a whole number from 1 to %lu)\n", arg, opt, max);
		return 2;
	}
	return 0;
}

static atomic_bool interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, true);
}

/* Resolve uri, download it into cache when it is not local, and load it. */
static int load_model(const char *uri, const char *tracking_uri, const char *root, const char *cache,
		      struct predict_model **out)
{
	struct model_ref ref = { 0 };
	struct client *cl = NULL;
	bool local;
	int rc;

	local = !model_ref_parse(uri, &ref) && (ref.kind == MODEL_REF_DIR || ref.kind == MODEL_REF_FILE);
	model_ref_dispose(&ref);
	if ((!local && (rc = client_open_default(tracking_uri, root, cli_default_root(), &cl))) ||
	    (rc = client_model_resolve(cl, uri, &ref)) || (rc = client_model_fetch(cl, &ref, cache)))
		goto out;
	rc = predict_model_load(ref.file && ref.kind == MODEL_REF_FILE ? ref.file : ref.dir, out);
out:
	model_ref_dispose(&ref);
	client_free(cl);
	return rc;
}

int cmd_predict(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "output-format", required_argument, NULL, 'O' },
		{ "delimiter", required_argument, NULL, 'd' },
		{ "keep-input", no_argument, NULL, 'k' },
		{ "method", required_argument, NULL, 'M' },
		{ "threads", required_argument, NULL, 't' },
		{ "chunk-rows", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tracking-uri", required_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'r' },
		{ "cache", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct predict_opts po = { .method = XGB_PREDICT };
	struct predict_stats st;
	struct predict_model *m = NULL;
	const char *in = NULL, *outp = NULL, *tracking_uri = NULL, *root = NULL, *cache_opt = NULL;
	struct buf cache = BUF_INIT;
	enum predict_format in_fmt, out_fmt;
	unsigned long v;
	bool tab = false;
	int c, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:o:d:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			in = optarg;
			break;
		case 'o':
			outp = optarg;
			break;
		case 'F':
		case 'O':
			if (predict_format_parse(optarg, c == 'F' ? &po.in_format : &po.out_format) ||
			    (c == 'F' && po.in_format == PREDICT_FMT_JSON))
				return usage_fail(c == 'F' ? "invalid --format '%s' (csv or jsonl)"
							   : "invalid --output-format '%s' (csv, jsonl or json)", optarg);
			break;
		case 'd':
			if (!strcmp(optarg, "\\t") || !strcmp(optarg, "tab"))
				po.delim = '\t';
			else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n' && optarg[0] != '\r')
				po.delim = optarg[0];
			else
				return usage_fail("invalid --delimiter '%s' (one character, or 'tab')", optarg);
			break;
		case 'k':
			po.keep_input = true;
			break;
		case 'M':
			if (!strcmp(optarg, "predict"))
				po.method = XGB_PREDICT;
			else if (!strcmp(optarg, "predict_proba"))
				po.method = XGB_PREDICT_PROBA;
			else if (!strcmp(optarg, "predict_margin"))
				po.method = XGB_PREDICT_MARGIN;
			else
				return usage_fail("invalid --method '%s' (predict, predict_proba or predict_margin)", optarg);
			break;
		case 't':
			if ((status = parse_count("threads", optarg, 256, &v)))
				return status;
			po.threads = (unsigned)v;
			break;
		case 'c':
			if ((status = parse_count("chunk-rows", optarg, 1u << 20, &v)))
				return status;
			po.chunk_rows = v;
			break;
		case 'q':
			po.quiet = true;
			break;
		case 'u':
			tracking_uri = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'K':
			cache_opt = optarg;
			break;
		case 'h':
			predict_usage(stdout);
			return 0;
		default:
			predict_usage(stderr);
			return 2;
		}
	}
	status = 1;
	if (optind + 1 != argc || !in || !outp) {
		fprintf(stderr, "cairn predict: %s\n", optind + 1 < argc ? "one model URI only"
						       : optind == argc ? "a model URI is needed"
									: "both -i FILE and -o FILE are needed");
		predict_usage(stderr);
		return 2;
	}
	/* the formats the run will use, to refuse what cannot work before loading anything */
	in_fmt = po.in_format;
	if (!in_fmt && strcmp(in, "-"))
		in_fmt = predict_format_of(in, &tab);
	if (in_fmt == PREDICT_FMT_JSON)
		return usage_fail("'%s': a .json input is read only as JSON lines, one object a line (--format jsonl)", in);
	if (!in_fmt)
		in_fmt = PREDICT_FMT_CSV;
	out_fmt = po.out_format;
	if (!out_fmt && strcmp(outp, "-"))
		out_fmt = predict_format_of(outp, NULL);
	if (!out_fmt)
		out_fmt = in_fmt;
	if (po.keep_input && out_fmt != in_fmt)
		return usage_fail("--keep-input copies records into an output of the input's format (csv to csv, jsonl "
				  "to jsonl), not %s", predict_format_name(out_fmt));

	if (cache_opt)
		buf_puts(&cache, cache_opt);
	else if (client_model_cache_default(&cache)) {
		cli_fail("predict", "%s", cairn_error_msg());
		goto out;
	}
	if (buf_error(&cache) || load_model(argv[optind], tracking_uri, root, cache.ptr, &m)) {
		cli_fail("predict", "%s: %s", argv[optind], cairn_error_msg());
		goto out;
	}
	/* an interrupt ends the run like bad input: no output file is left */
	{
		struct sigaction sa = { .sa_handler = on_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		po.cancel = &interrupted;
	}
	if (predict_file(m, in, outp, &po, &st)) {
		cli_fail("predict", "%s", cairn_error_msg());
		goto out;
	}
	if (!po.quiet && isatty(STDERR_FILENO))
		fprintf(stderr, "cairn predict: %llu rows in %.2f s (%.0f rows/s, %u threads) -> %s\n",
			(unsigned long long)st.rows, st.seconds, st.seconds > 0 ? (double)st.rows / st.seconds : 0.0,
			st.threads, strcmp(outp, "-") ? outp : "stdout");
	status = 0;
out:
	predict_model_free(m);
	buf_release(&cache);
	return status;
}
