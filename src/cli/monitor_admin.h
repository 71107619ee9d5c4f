/* monitor_admin.h - the subcommands of `cairn monitor` over monitors kept in the store (add, list, history, ...). */
#ifndef CAIRN_CLI_MONITOR_ADMIN_H
#define CAIRN_CLI_MONITOR_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

/* Whether sub is one of them. */
bool monitor_admin_is(const char *sub);
/* Run one: argv[0] is the subcommand. Returns the exit status. */
int monitor_admin(int argc, char **argv);
void monitor_admin_usage(FILE *f);

#endif
