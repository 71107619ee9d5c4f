/* cmd_experiments.c - `cairn experiments`: list, create, rename, delete and restore experiments. */
#include "cli/cmd.h"
#include "core/fault.h"
#include "client/client.h"
#include "client/table.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void experiments_usage(FILE *f)
{
	fprintf(f,
		"usage: cairn experiments list [--view active|deleted|all] [--filter EXPR] [--json]\n"
		"       cairn experiments create NAME [--artifact-location URI] [--tag KEY=VALUE]... [--json]\n"
		"       cairn experiments rename ID|NAME NEW_NAME\n"
		"       cairn experiments delete ID|NAME...\n"
		"       cairn experiments restore ID|NAME...\n\n"
		"Manage experiments in a local data root or on a tracking server.\n\n"
		"  list        a table of experiments: id, name, creation time, artifact location\n"
		"  create      create an experiment and print its id\n"
		"  rename      give an experiment a new name\n"
		"  delete      mark experiments deleted (their runs stay, and can be restored)\n"
		"  restore     undo delete\n\n"
		"options:\n"
		"  --view V                 list: active (default), deleted or all\n"
		"  --filter EXPR            list: MLflow search filter, e.g. \"name LIKE 'churn%%'\"\n"
		"  --artifact-location URI  create: where the experiment's artifacts go\n"
		"  --tag KEY=VALUE          create: an experiment tag (repeatable)\n"
		"  --json                   print the API's JSON instead of text\n"
		"  --tracking-uri URI       talk to this tracking server (default $MLFLOW_TRACKING_URI)\n"
		"  --root DIR               use this local data root (default $CAIRN_HOME or ./cairn-data)\n"
		"  -h, --help               show this help\n\n"
		"An experiment is named by its id or its name (an all-digit argument is tried as an\n"
		"id first). Without --tracking-uri or --root, MLFLOW_TRACKING_URI selects a server;\n"
		"otherwise the local root is used.\n\n"
		"examples:\n"
		"  cairn experiments create churn\n"
		"  cairn experiments list --view all\n"
		"  cairn experiments rename churn churn-v2\n"
		"  cairn experiments delete 3 --tracking-uri http://127.0.0.1:5000\n");
}

struct exp_opts {
	const char *uri;      /* --tracking-uri */
	const char *root;     /* --root */
	const char *view;     /* --view, mapped to the API's view_type */
	const char *filter;   /* --filter */
	const char *location; /* --artifact-location */
	json_t *tags;         /* --tag, array of {key, value} */
	bool json;            /* --json */
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cairn experiments: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nRun 'cairn experiments --help' for usage.\n", stderr);
	return 2;
}

static const char *view_type(const char *v)
{
	if (!strcmp(v, "active") || !strcmp(v, "ACTIVE_ONLY"))
		return "ACTIVE_ONLY";
	if (!strcmp(v, "deleted") || !strcmp(v, "DELETED_ONLY"))
		return "DELETED_ONLY";
	if (!strcmp(v, "all") || !strcmp(v, "ALL"))
		return "ALL";
	return NULL;
}


static int exp_list(struct client *cl, const struct exp_opts *o)
{
	json_t *reply = NULL, *all = NULL, *e, *body, *out = NULL;
	struct table t;
	struct buf b = BUF_INIT, text = BUF_INIT;
	const char *token;
	char *tok = NULL;
	bool stage = strcmp(o->view, "ACTIVE_ONLY") != 0;
	int64_t ms = 0;
	size_t i, dropped = 0;
	int rc;

	table_init(&t, stage ? 5 : 4, 2);
	if (!(all = json_array())) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto cleanup;
	}
	do {
		body = json_pack("{s:s, s:I}", "view_type", o->view, "max_results", (json_int_t)1000);
		if (body && o->filter)
			json_object_set_new(body, "filter", json_string(o->filter));
		if (body && tok)
			json_object_set_new(body, "page_token", json_string(tok));
		json_decref(reply);
		if ((rc = client_call(cl, "POST", "/mlflow/experiments/search", body, &reply)))
			goto cleanup;
		json_array_extend(all, json_object_get(reply, "experiments"));
		token = json_string_value(json_object_get(reply, "next_page_token"));
		free(tok);
		tok = token && *token ? cstrdup(token) : NULL;
	} while (tok);
	if (o->json) {
		out = json_pack("{s:O}", "experiments", all);
		cli_print_json(out);
		goto cleanup;
	}
	if (!json_array_size(all)) {
		fprintf(stderr, "no experiments\n");
		goto cleanup;
	}
	table_add(&t, "ID");
	table_add(&t, "NAME");
	if (stage)
		table_add(&t, "STAGE");
	table_add(&t, "CREATED");
	table_add(&t, "ARTIFACT LOCATION");
	json_array_foreach(all, i, e) {
		table_add(&t, json_string_value(json_object_get(e, "experiment_id")));
		table_add(&t, json_string_value(json_object_get(e, "name")));
		if (stage)
			table_add(&t, json_string_value(json_object_get(e, "lifecycle_stage")));
		buf_clear(&b);
		ms = 0;
		cjson_get_int64(e, "creation_time", false, &ms);
		table_fmt_time(ms, &b);
		table_add(&t, b.ptr);
		table_add(&t, json_string_value(json_object_get(e, "artifact_location")));
	}
	if ((rc = table_render(&t, table_term_width(), 60, &text, &dropped)))
		goto cleanup;
	fputs(text.ptr, stdout);
cleanup:
	free(tok);
	json_decref(reply);
	json_decref(all);
	json_decref(out);
	table_release(&t);
	buf_release(&b);
	buf_release(&text);
	return rc;
}

static int exp_create(struct client *cl, const struct exp_opts *o, const char *name)
{
	json_t *reply = NULL, *body;
	int rc;

	body = json_pack("{s:s}", "name", name);
	if (body && o->location)
		json_object_set_new(body, "artifact_location", json_string(o->location));
	if (body && json_array_size(o->tags))
		json_object_set(body, "tags", o->tags);
	if ((rc = client_call(cl, "POST", "/mlflow/experiments/create", body, &reply)))
		return rc;
	if (o->json)
		cli_print_json(reply);
	else
		printf("created experiment '%s' (id %s)\n", name,
		       json_string_value(json_object_get(reply, "experiment_id")));
	json_decref(reply);
	return 0;
}

/* The id and name of the experiment named by arg (borrowed from *exp, which the caller frees). */
static int exp_resolve(struct client *cl, const char *arg, json_t **exp, const char **id, const char **name)
{
	int rc;

	if ((rc = client_experiment_find(cl, arg, exp)))
		return rc;
	*id = json_string_value(json_object_get(*exp, "experiment_id"));
	*name = json_string_value(json_object_get(*exp, "name"));
	if (!*id || !*name)
		return cairn_error_set(CAIRN_EIO, "malformed experiment in the reply for '%s'", arg);
	return 0;
}

static int exp_rename(struct client *cl, const char *arg, const char *new_name)
{
	const char *id = NULL, *name = NULL;
	json_t *exp = NULL;
	int rc;

	if ((rc = exp_resolve(cl, arg, &exp, &id, &name)))
		goto cleanup;
	if ((rc = client_call(cl, "POST", "/mlflow/experiments/update",
			      json_pack("{s:s, s:s}", "experiment_id", id, "new_name", new_name), NULL)))
		goto cleanup;
	printf("renamed experiment %s '%s' to '%s'\n", id, name, new_name);
cleanup:
	json_decref(exp);
	return rc;
}

/* delete or restore one experiment */
static int exp_lifecycle(struct client *cl, const char *arg, bool restore)
{
	const char *id = NULL, *name = NULL;
	json_t *exp = NULL;
	int rc;

	if ((rc = exp_resolve(cl, arg, &exp, &id, &name)))
		goto cleanup;
	if ((rc = client_call(cl, "POST", restore ? "/mlflow/experiments/restore" : "/mlflow/experiments/delete",
			      json_pack("{s:s}", "experiment_id", id), NULL)))
		goto cleanup;
	printf("%s experiment %s '%s'\n", restore ? "restored" : "deleted", id, name);
cleanup:
	json_decref(exp);
	return rc;
}

int cmd_experiments(int argc, char **argv)
{
	enum { O_URI = 256, O_ROOT, O_VIEW, O_FILTER, O_LOC, O_TAG, O_JSON };
	static const struct option opts[] = {
		{ "tracking-uri", required_argument, NULL, O_URI },
		{ "root", required_argument, NULL, O_ROOT },
		{ "view", required_argument, NULL, O_VIEW },
		{ "filter", required_argument, NULL, O_FILTER },
		{ "artifact-location", required_argument, NULL, O_LOC },
		{ "tag", required_argument, NULL, O_TAG },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exp_opts o = { .view = "ACTIVE_ONLY" };
	struct client *cl = NULL;
	const char *sub, **pos;
	bool list_only = false, create_only = false;
	int c, npos, rc = 2, i;

	if (!(o.tags = json_array()))
		return cli_fail("experiments", "out of memory");
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case O_URI:
			o.uri = optarg;
			break;
		case O_ROOT:
			o.root = optarg;
			break;
		case O_VIEW:
			if (!(o.view = view_type(optarg))) {
				rc = usage_error("invalid --view '%s': expected active, deleted or all", optarg);
				goto out;
			}
			list_only = true;
			break;
		case O_FILTER:
			o.filter = optarg;
			list_only = true;
			break;
		case O_LOC:
			o.location = optarg;
			create_only = true;
			break;
		case O_TAG:
			if (client_tag_append(o.tags, optarg)) {
				rc = usage_error("invalid --tag '%s': expected KEY=VALUE", optarg);
				goto out;
			}
			create_only = true;
			break;
		case O_JSON:
			o.json = true;
			break;
		case 'h':
			experiments_usage(stdout);
			rc = 0;
			goto out;
		case ':':
			rc = usage_error("option '%s' needs a value", argv[optind - 1]);
			goto out;
		default:
			rc = usage_error("unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc) {
		experiments_usage(stderr);
		goto out;
	}
	sub = argv[optind];
	pos = (const char **)argv + optind + 1;
	npos = argc - optind - 1;
	if ((list_only && strcmp(sub, "list")) || (create_only && strcmp(sub, "create")) ||
	    (o.json && strcmp(sub, "list") && strcmp(sub, "create"))) {
		rc = usage_error("an option given does not apply to '%s'", sub);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		if (npos) {
			rc = usage_error("list takes no arguments (got '%s')", pos[0]);
			goto out;
		}
	} else if (!strcmp(sub, "create")) {
		if (npos != 1) {
			rc = usage_error("%s", "usage: cairn experiments create NAME");
			goto out;
		}
	} else if (!strcmp(sub, "rename")) {
		if (npos != 2) {
			rc = usage_error("%s", "usage: cairn experiments rename ID|NAME NEW_NAME");
			goto out;
		}
	} else if (!strcmp(sub, "delete") || !strcmp(sub, "restore")) {
		if (npos < 1) {
			rc = usage_error("usage: cairn experiments %s ID|NAME...", sub);
			goto out;
		}
	} else {
		rc = usage_error("unknown subcommand '%s'", sub);
		goto out;
	}

	if (client_open_default(o.uri, o.root, cli_default_root(), &cl)) {
		rc = cli_fail("experiments", "%s", cairn_error_msg());
		goto out;
	}
	rc = 0;
	if (!strcmp(sub, "list")) {
		rc = exp_list(cl, &o);
	} else if (!strcmp(sub, "create")) {
		rc = exp_create(cl, &o, pos[0]);
	} else if (!strcmp(sub, "rename")) {
		rc = exp_rename(cl, pos[0], pos[1]);
	} else {
		/* go on after a failure, report each, fail overall */
		for (i = 0; i < npos; i++)
			if (exp_lifecycle(cl, pos[i], !strcmp(sub, "restore"))) {
				cli_fail("experiments", "%s", cairn_error_msg());
				rc = -1;
			}
		rc = rc ? 1 : 0;
		goto out;
	}
	if (rc)
		rc = cli_fail("experiments", "%s", cairn_error_msg());
out:
	client_free(cl);
	json_decref(o.tags);
	return rc;
}
