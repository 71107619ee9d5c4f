/* cmd_drift.c - `cairn drift`: drift between a reference and a current table or profile; a CI gate by exit status.
 * A model URI as the reference stands for the model's training profile (cli/training_profile.c). */
#include "cli/cmd.h"
#include "monitor/training_profile.h"
#include "client/client.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/fs.h"
#include "stats/drift.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OVERRIDES 256

static void drift_usage(FILE *f)
{
	fprintf(f, "usage: cairn drift --reference REF --current CUR [-o OUT.json] [--report OUT.html] [options]\n\n"
		   "Test every column of CUR against REF for drift. Each side is a table (CSV, JSON lines)\n"
		   "or a profile (a .json file from cairn profile); REF may also be a model (models:/NAME@ALIAS,\n"
		   "models:/NAME/VERSION, runs:/ID/model, a model directory): its training profile, stored\n"
		   "by cairn models log --profile. Per column the test is the one\n"
		   "Evidently picks by default, with its threshold: with more than 1000 reference values,\n"
		   "normed Wasserstein (numerical) or Jensen-Shannon (categorical, or <= 5 values);\n"
		   "otherwise KS, chi-squared or a z-test. All applicable tests are reported, plus a\n"
		   "two-sample chi-squared and a null-share test Evidently lacks. Tables give exact\n"
		   "statistics; profiles give them from sketches (docs/drift.md).\n\n"
		   "  -o, --output FILE        the result as JSON (\"kind\": \"cairn.drift\")\n"
		   "  --json                   print the JSON on standard output instead of a table\n"
		   "  --report FILE            a self-contained HTML report\n"
		   "  --drift-share X          dataset drift when at least this share of columns drift (0.5)\n"
		   "  --null-share-threshold X least change in a column's null share that is drift (0.02;\n"
		   "                           0 turns the null-share test off)\n"
		   "  --num-test T             the test for numerical columns instead of the default\n"
		   "  --cat-test T             the test for categorical columns\n"
		   "  --test COL=T[:X]         the test (and threshold) for one column\n"
		   "  --threshold COL=X        the threshold of one column's test\n"
		   "  -d, --delimiter C        CSV delimiter (default ',', a tab for .tsv)\n"
		   "  --threads N              threads to read a large table (default: the usable CPUs)\n"
		   "  --tracking-uri URI       the tracking server of a model reference (default\n"
		   "                           $MLFLOW_TRACKING_URI)\n"
		   "  --root DIR               the local data root of a model reference (default\n"
		   "                           $CAIRN_HOME or ./cairn-data)\n\n"
		   "Tests: %s.\n"
		   "Exit status: 0 no dataset drift, 1 dataset drift, 2 error or usage.\n", drift_test_names());
}

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "cairn drift: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see cairn drift --help)\n");
	return 2;
}

static bool parse_real(const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && *s && !*end && *out >= lo && *out <= hi;
}

static bool known_test(const char *t)
{
	const char *names = drift_test_names(), *p = names;
	size_t n = strlen(t);

	while ((p = strstr(p, t))) {
		if ((p == names || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/* Drift of cur against the training profile of the model uri names. */
static int drift_model(const char *uri, const char *tracking_uri, const char *root, const char *cur,
		       const struct drift_options *o, json_t **r)
{
	struct client *cl = NULL;
	struct buf text = BUF_INIT;
	json_t *prof = NULL;
	bool none = false;
	int rc;

	*r = NULL;
	if ((!strncmp(uri, "models:", 7) || !strncmp(uri, "runs:", 5) || !strncmp(uri, "mlflow-artifacts:", 17)) &&
	    (rc = client_open_default(tracking_uri, root, cli_default_root(), &cl)))
		goto out;
	if (!(rc = training_profile_load(cl, uri, &text, &prof, &none)))
		rc = drift_with_reference_json(prof, uri, cur, o, r);
out:
	json_decref(prof);
	buf_release(&text);
	client_free(cl);
	return rc;
}

static void print_table(json_t *r)
{
	json_t *cols = json_object_get(r, "columns"), *c, *ds = json_object_get(r, "dataset");
	const char *name;

	printf("%-24s %-12s %-16s %12s %10s %-14s %s\n", "column", "type", "test", "score", "threshold", "nulls",
	       "verdict");
	json_object_foreach(cols, name, c) {
		json_t *ns = json_object_get(c, "null_share"), *score = json_object_get(c, "drift_score");
		char nulls[40] = "";

		if (ns)
			snprintf(nulls, sizeof(nulls), "%.1f%%->%.1f%%", 100 * json_number_value(json_object_get(ns, "reference")),
				 100 * json_number_value(json_object_get(ns, "current")));
		printf("%-24.24s %-12s %-16s ", name, cli_str(c, "column_type"),
		       json_is_string(json_object_get(c, "selected_test")) ? cli_str(c, "selected_test") : "-");
		if (json_is_number(score))
			printf("%12.4g ", json_number_value(score));
		else
			printf("%12s ", "-");
		if (json_is_number(json_object_get(c, "stattest_threshold")))
			printf("%10.3g ", json_number_value(json_object_get(c, "stattest_threshold")));
		else
			printf("%10s ", "-");
		printf("%-14s %s%s\n", nulls, json_is_true(json_object_get(c, "drifted")) ? "DRIFT" : "ok",
		       json_is_true(json_object_get(json_object_get(c, "null_share"), "drifted")) ? " (null share)" :
		       json_is_string(json_object_get(c, "note")) ? "" : "");
	}
	printf("\n%s: %lld of %lld columns drifted (share %.3f, threshold %.3g); Evidently's rule: %lld\n",
	       drift_detected(r) ? "DATASET DRIFT" : "no dataset drift",
	       (long long)json_integer_value(json_object_get(ds, "number_of_drifted_columns_with_nulls")),
	       (long long)json_integer_value(json_object_get(ds, "number_of_columns")),
	       json_number_value(json_object_get(ds, "share_of_drifted_columns_with_nulls")),
	       json_number_value(json_object_get(ds, "drift_share")),
	       (long long)json_integer_value(json_object_get(ds, "number_of_drifted_columns")));
}

int cmd_drift(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reference", required_argument, NULL, 'R' },
		{ "current", required_argument, NULL, 'C' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "report", required_argument, NULL, 'H' },
		{ "drift-share", required_argument, NULL, 's' },
		{ "null-share-threshold", required_argument, NULL, 'n' },
		{ "num-test", required_argument, NULL, 'N' },
		{ "cat-test", required_argument, NULL, 'K' },
		{ "test", required_argument, NULL, 'T' },
		{ "threshold", required_argument, NULL, 'X' },
		{ "delimiter", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "tracking-uri", required_argument, NULL, 'U' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct drift_override ov[MAX_OVERRIDES];
	struct drift_options o = { .overrides = ov };
	const char *ref = NULL, *cur = NULL, *out = NULL, *report = NULL, *tracking_uri = NULL, *root = NULL;
	bool json_out = false;
	json_t *r = NULL;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'R': ref = optarg; break;
		case 'C': cur = optarg; break;
		case 'o': out = optarg; break;
		case 'j': json_out = true; break;
		case 'H': report = optarg; break;
		case 's':
			if (!parse_real(optarg, 1e-9, 1, &o.drift_share))
				return usage("--drift-share is a share in (0, 1], not '%s'", optarg);
			break;
		case 'n':
			if (!parse_real(optarg, 0, 1, &o.null_share_threshold))
				return usage("--null-share-threshold is a share in [0, 1], not '%s'", optarg);
			if (o.null_share_threshold == 0)
				o.null_share_threshold = -1;   /* off */
			break;
		case 'N':
		case 'K':
			if (!known_test(optarg))
				return usage("unknown test '%s'", optarg);
			if (c == 'N')
				o.num_test = optarg;
			else
				o.cat_test = optarg;
			break;
		case 'T':
		case 'X': {
			char *eq = strrchr(optarg, '='), *colon;
			size_t i;

			if (!eq || eq == optarg || !eq[1])
				return usage(c == 'T' ? "--test is COLUMN=TEST[:THRESHOLD], not '%s'" : "--threshold is COLUMN=X, not '%s'",
					     optarg);
			*eq = '\0';
			for (i = 0; i < o.noverrides && strcmp(ov[i].column, optarg); i++)
				;
			if (i == o.noverrides) {
				if (i == MAX_OVERRIDES)
					return usage("more than 256 columns overridden at '%s'", optarg);
				ov[i] = (struct drift_override){ optarg, NULL, -1 };
				o.noverrides++;
			}
			if (c == 'T') {
				if ((colon = strchr(eq + 1, ':'))) {
					*colon = '\0';
					if (!parse_real(colon + 1, 0, 1e300, &ov[i].threshold))
						return usage("bad threshold '%s'", colon + 1);
				}
				if (!known_test(eq + 1))
					return usage("unknown test '%s'", eq + 1);
				ov[i].test = eq + 1;
			} else if (!parse_real(eq + 1, 0, 1e300, &ov[i].threshold)) {
				return usage("bad threshold '%s'", eq + 1);
			}
			break;
		}
		case 'd':
			if (!strcmp(optarg, "tab") || !strcmp(optarg, "\\t"))
				o.read.delim = '\t';
			else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n')
				o.read.delim = optarg[0];
			else
				return usage("the delimiter is one character (or 'tab'), not '%s'", optarg);
			break;
		case 't': {
			double v;

			if (!parse_real(optarg, 1, 64, &v) || v != (unsigned)v)
				return usage("--threads is a whole number from 1 to 64, not '%s'", optarg);
			o.read.threads = (unsigned)v;
			break;
		}
		case 'U': tracking_uri = optarg; break;
		case 'r': root = optarg; break;
		case 'h': drift_usage(stdout); return 0;
		default: drift_usage(stderr); return 2;
		}
	}
	if (!ref || !cur)
		return usage("%s", "--reference and --current are required");
	if (optind != argc)
		return usage("unexpected argument '%s'", argv[optind]);
	if (training_profile_is_model_uri(ref) ? drift_model(ref, tracking_uri, root, cur, &o, &r)
					       : drift_files(ref, cur, &o, &r)) {
		fprintf(stderr, "cairn drift: %s\n", cairn_error_msg());
		return 2;
	}
	status = drift_detected(r) ? 1 : 0;
	if (out) {
		char *s = json_dumps(r, JSON_INDENT(1));
		int rc = s ? fs_write_atomic(out, s, strlen(s), 0644) : CAIRN_ENOMEM;

		free(s);
		if (rc) {
			fprintf(stderr, "cairn drift: cannot write '%s': %s\n", out, rc == CAIRN_ENOMEM ? "out of memory" : cairn_error_msg());
			status = 2;
		}
	}
	if (report && status != 2) {
		struct buf b = BUF_INIT;
		int rc = drift_report_html(r, &b);

		if (!rc)
			rc = fs_write_atomic(report, b.ptr, b.len, 0644);
		if (rc) {
			fprintf(stderr, "cairn drift: cannot write the report '%s': %s\n", report, cairn_error_msg());
			status = 2;
		}
		buf_release(&b);
	}
	if (status != 2) {
		if (json_out)
			cli_print_json(r);
		else
			print_table(r);
	}
	json_decref(r);
	return status;
}
