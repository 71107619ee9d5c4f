/* util.h - ids, clocks, CPUs and logging. */
#ifndef CAIRN_CORE_UTIL_H
#define CAIRN_CORE_UTIL_H

#include <stdint.h>

#define CAIRN_ID_LEN 32

/* A random 32-hex-digit id (MLflow's run id form), NUL-terminated. */
void cairn_id_new(char id[CAIRN_ID_LEN + 1]);
/* Milliseconds since the epoch (wall clock). */
int64_t cairn_now_ms(void);
/* Monotonic nanoseconds, for measuring durations. */
int64_t cairn_mono_ns(void);
/* A duration: "250ms", "90s", "20m", "1.5h", "2d" or a plain number of
 * seconds, as seconds (> 0, at most 1e10); -1 when s is not one. */
double cairn_duration_s(const char *s);
/* The CPUs this process may run on (sched_getaffinity: a process pinned with
 * taskset counts its own), else the online ones; at least 1. */
unsigned cairn_cpus(void);

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
/* Messages below this level are dropped (default LOG_INFO; CAIRN_LOG=debug|warn|error). */
void cairn_log_init_from_env(void);
void cairn_log(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
