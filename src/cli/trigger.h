/* trigger.h - pipeline triggers of `cairn server --pipeline DIR`. */
#ifndef CAIRN_CLI_TRIGGER_H
#define CAIRN_CLI_TRIGGER_H

struct trigger_runner;

/* Watch the pipeline in dir (its cairn.yaml "triggers:") and run
 * `cairn repro --tracking-uri uri` there when one fires. */
int trigger_start(const char *dir, const char *uri, struct trigger_runner **out);
/* Stop: interrupt a repro still running, wait for it, free. */
void trigger_stop(struct trigger_runner *t);

#endif
