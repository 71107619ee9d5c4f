/* trigger.h - pipeline triggers of `cairn server --pipeline DIR`: schedules, watched files, and monitors' incidents. */
#ifndef CAIRN_CLI_TRIGGER_H
#define CAIRN_CLI_TRIGGER_H

struct trigger_runner;

/* Watch the pipeline in dir (its cairn.yaml "triggers:") and run
 * `cairn repro --tracking-uri uri` there when one fires. */
int trigger_start(const char *dir, const char *uri, struct trigger_runner **out);
/* Ask for `cairn repro [STAGE]` now, from any thread (a monitor's
 * incident): the trigger thread starts it at its next tick, or logs that
 * the last one still runs. CAIRN_EBUSY when one is already asked for. */
int trigger_request(struct trigger_runner *t, const char *reason, const char *stage);
/* The pipeline's folder (absolute). */
const char *trigger_dir(const struct trigger_runner *t);
/* Stop: interrupt a repro still running, wait for it, free. */
void trigger_stop(struct trigger_runner *t);

#endif
