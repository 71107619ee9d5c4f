/* cmd_profile.c - `cairn profile`: a one-pass profile of a CSV or JSON-lines table, or the merge of profiles. */
#include "cli/cmd.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/json.h"
#include "stats/profile.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_MAX_JSON ((size_t)1 << 30)

static void profile_usage(FILE *f)
{
	fprintf(f, "usage: cairn profile FILE [-o OUT.json] [options]\n"
		   "       cairn profile --merge A.json B.json [...] -o OUT.json\n\n"
		   "Profile a table in one pass: per column the type, count, nulls, min/max, mean, std,\n"
		   "quantiles, a 20-bin histogram, distinct values and the most frequent ones; for the\n"
		   "table rows, missing cells, empty and duplicated rows, constant columns. Exact for\n"
		   "up to 16384 values a column, then from sketches (KLL quantiles, HyperLogLog\n"
		   "distinct counts) in constant memory. Profiles merge: --merge combines profiles of\n"
		   "parts of a table (same columns) into the profile of the whole. The format is\n"
		   "docs/profiles.md. CSV: a header row, RFC 4180 quoting, UTF-8; only an empty field\n"
		   "is null (NA is text).\n\n"
		   "  -o, --output FILE   write the profile there (written beside it, then renamed);\n"
		   "                      default: standard output\n"
		   "  --format csv|jsonl  the input's format (default: jsonl for .jsonl and .ndjson)\n"
		   "  -d, --delimiter C   CSV field delimiter (default ',', a tab for .tsv; 'tab')\n"
		   "  --threads N         threads for a large file (default: the CPUs this process may use)\n"
		   "  --merge             the arguments are profiles to merge, in order\n"
		   "  --pretty            indent the JSON\n\n"
		   "Exit status: 0 written, 1 failure (bad input: the message names the line), 2 usage.\n");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int load_profile(const char *path, json_t **out)
{
	struct buf b = BUF_INIT;
	json_error_t err;
	int rc = fs_read_file(path, PROFILE_MAX_JSON, &b);

	*out = NULL;
	if (rc)
		return rc;
	*out = json_loadb(b.ptr ? b.ptr : "", b.len, 0, &err);
	buf_release(&b);
	if (!*out)
		return cairn_error_set(CAIRN_EINVALID, "'%s' is not JSON: %s (line %d)", path, err.text, err.line);
	if ((rc = profile_check(*out))) {
		json_decref(*out);
		*out = NULL;
		return cairn_error_set(rc, "'%s': %s", path, cairn_error_msg());
	}
	return 0;
}

static int write_json(const char *out, json_t *j, bool pretty)
{
	struct buf b = BUF_INIT;
	char *s = json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT);
	int rc = 0;

	if (!s)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!out || !strcmp(out, "-")) {
		if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout))
			rc = cairn_error_set(CAIRN_EIO, "cannot write the profile: %s", strerror(errno));
	} else {
		buf_puts(&b, s);
		buf_putc(&b, '\n');
		rc = b.err ? buf_error(&b) : fs_write_atomic(out, b.ptr, b.len, 0644);
	}
	free(s);
	buf_release(&b);
	return rc;
}

int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "delimiter", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' },
		{ "merge", no_argument, NULL, 'm' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct profile_options po = { 0 };
	const char *out = NULL, *format = NULL;
	bool merge = false, pretty = false;
	json_t *prof = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'F':
			if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl")) {
				fprintf(stderr, "cairn profile: --format is csv or jsonl, not '%s'\n", optarg);
				return 2;
			}
			format = optarg;
			break;
		case 'd':
			if (!strcmp(optarg, "tab") || !strcmp(optarg, "\\t"))
				po.delim = '\t';
			else if (strlen(optarg) == 1 && optarg[0] != '"' && optarg[0] != '\n' && optarg[0] != '\r')
				po.delim = optarg[0];
			else {
				fprintf(stderr, "cairn profile: the delimiter is one character (or 'tab'), not '%s'\n", optarg);
				return 2;
			}
			break;
		case 't': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || !v || v > 64) {
				fprintf(stderr, "cairn profile: --threads is a whole number from 1 to 64, not '%s'\n", optarg);
				return 2;
			}
			po.threads = (unsigned)v;
			break;
		}
		case 'm': merge = true; break;
		case 'p': pretty = true; break;
		case 'h': profile_usage(stdout); return 0;
		default: profile_usage(stderr); return 2;
		}
	}
	if (merge) {
		if (argc - optind < 2) {
			fprintf(stderr, "cairn profile: --merge needs at least two profiles (see cairn profile --help)\n");
			return 2;
		}
		if ((rc = load_profile(argv[optind], &prof)))
			return cli_fail("profile", "%s", cairn_error_msg());
		for (int i = optind + 1; i < argc; i++) {
			json_t *next = NULL, *merged = NULL;

			if ((rc = load_profile(argv[i], &next)) ||
			    (rc = profile_merge(prof, next, &merged))) {
				json_decref(next);
				json_decref(prof);
				return cli_fail("profile", "%s", cairn_error_msg());
			}
			json_decref(next);
			json_decref(prof);
			prof = merged;
		}
	} else {
		const char *in;

		if (argc - optind != 1) {
			fprintf(stderr, "cairn profile: one input file is expected (see cairn profile --help)\n");
			return 2;
		}
		in = argv[optind];
		po.jsonl = format ? !strcmp(format, "jsonl") : ends_with(in, ".jsonl") || ends_with(in, ".ndjson");
		if (!po.delim && ends_with(in, ".tsv"))
			po.delim = '\t';
		if ((rc = profile_file(in, &po, &prof)))
			return cli_fail("profile", "%s", cairn_error_msg());
	}
	rc = write_json(out, prof, pretty);
	json_decref(prof);
	if (rc)
		return cli_fail("profile", "%s", cairn_error_msg());
	return 0;
}
