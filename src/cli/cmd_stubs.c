/* placeholder until the commands land */
#include "cli/cmd.h"
int cmd_experiments(int argc, char **argv) { return cli_fail("experiments", "not yet available"); }
int cmd_runs(int argc, char **argv) { return cli_fail("runs", "not yet available"); }
int cmd_run(int argc, char **argv) { return cli_fail("run", "not yet available"); }
