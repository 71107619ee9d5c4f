/* cmd.h - the CLI's subcommand table.
 *
 * Adding a command: write src/cli/cmd_<name>.c with one `int cmd_<name>(int
 * argc, char **argv)` (argv[0] is the command name), add a row to the table
 * in main.c, document it in README.md (Commands) and `cairn <name> --help`,
 * and add tests under tests/. Commands print errors as "cairn <cmd>: <msg>"
 * on stderr and return the exit status (0 ok, 1 failure, 2 usage error).
 */
#ifndef CAIRN_CLI_CMD_H
#define CAIRN_CLI_CMD_H

#include <jansson.h>
#include <stdbool.h>

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

int cmd_server(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_experiments(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_repro(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_dag(int argc, char **argv);
int cmd_exp(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_plots(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_monitor(int argc, char **argv);

/* Print "cairn <cmd>: <message>" to stderr; returns 1. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
bool cli_is_help(const char *arg);
/* Print v as JSON on stdout through core/json (the --json output of every command). */
void cli_print_json(json_t *v);
/* The string member k of o, or "" (for printing). */
const char *cli_str(json_t *o, const char *k);
/* The data root: --root value, else $CAIRN_HOME, else ./cairn-data. */
const char *cli_default_root(void);

#include "api/api.h"
#define CAIRN_VERSION CAIRN_VERSION_STRING

#endif
