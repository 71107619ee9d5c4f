/* trigger.c - `cairn server --pipeline DIR`: run `cairn repro` on a cron schedule, every N, or when a watched file changes. */
#include "cli/trigger.h"
#include "core/fault.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/util.h"
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TICK_MS 250
#define RELOAD_MS 5000

struct trigger_runner {
	char *dir;             /* the pipeline's workspace (absolute) */
	char *uri;             /* the server, for the repro's runs */
	pthread_t th;
	volatile int stop;
	pid_t child;           /* the repro running now, or 0 */
	char reason[256];      /* what started it */
	json_t *triggers;      /* the last list that loaded */
	json_t *state;         /* trigger (as JSON text) -> {minute | due | hash} */
	pthread_mutex_t mu;    /* guards the request below (made on other threads) */
	bool requested;
	char req_reason[256];
	char req_stage[256];   /* "" for the whole pipeline */
};

static void fire(struct trigger_runner *t, const char *reason, const char *stage)
{
	struct buf logp = BUF_INIT;
	struct proc_env env = PROC_ENV_INIT;
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd = -1;
	pid_t pid;

	if (t->child) {
		cairn_log(LOG_WARN, "trigger '%s' for %s: the repro started by '%s' is still running; skipped", reason,
			  t->dir, t->reason);
		return;
	}
	if (n <= 0)
		return;
	self[n] = '\0';
	buf_printf(&logp, "%s/.cairn/tmp/logs", t->dir);
	if (!buf_error(&logp) && !path_mkdirs(logp.ptr)) {
		buf_puts(&logp, "/triggers.log");
		fd = buf_error(&logp) ? -1 : open(logp.ptr, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	}
	if (fd >= 0)
		dprintf(fd, "== trigger %s\n", reason);
	{
		char *argv[] = { self, "repro", "-q", "--tracking-uri", t->uri, stage && *stage ? (char *)stage : NULL, NULL };
		struct proc_opts o = { .argv = argv, .cwd = t->dir, .fd_in = -1, .fd_out = fd, .fd_err = fd,
				       .new_pgroup = true };
		if (!proc_env_init(&env, environ) && !proc_env_set(&env, "CAIRN_TRIGGER", reason)) {
			o.envp = proc_env_array(&env);
			if (proc_spawn(&o, &pid) == 0) {
				t->child = pid;
				snprintf(t->reason, sizeof(t->reason), "%s", reason);
				cairn_log(LOG_INFO, "trigger %s: cairn repro started in %s (pid %d)", reason, t->dir, (int)pid);
			} else {
				cairn_log(LOG_ERROR, "trigger %s: cannot start cairn repro: %s", reason, cairn_error_msg());
			}
		}
	}
	if (fd >= 0)
		close(fd);
	proc_env_release(&env);
	buf_release(&logp);
}

/* A watched file's content hash ("" when absent); the stat decides whether to read it. */
static void watch_hash(const char *abs, json_t *st, char hex[SHA256_HEX_LEN + 1])
{
	struct stat sb;
	char key[96];
	int fd;

	hex[0] = '\0';
	if (stat(abs, &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	snprintf(key, sizeof(key), "%lld:%lld:%lld", (long long)sb.st_ino, (long long)sb.st_size,
		 (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec);
	if (json_is_string(json_object_get(st, "stat")) && !strcmp(json_string_value(json_object_get(st, "stat")), key)) {
		snprintf(hex, SHA256_HEX_LEN + 1, "%s", json_string_value(json_object_get(st, "hash")) ?: "");
		return;
	}
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fs_hash_fd(fd, hex, NULL))
		hex[0] = '\0';
	if (fd >= 0)
		close(fd);
	json_object_set_new(st, "stat", json_string(key));
}

static void tick(struct trigger_runner *t, int64_t now_ms)
{
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;
	size_t i;
	json_t *tr;

	localtime_r(&now, &tm);
	json_array_foreach(t->triggers, i, tr) {
		char *id = json_dumps(tr, JSON_COMPACT | JSON_SORT_KEYS);
		json_t *st = id ? json_object_get(t->state, id) : NULL, *v;
		char reason[300];

		if (!id)
			continue;
		if (!st) {
			st = json_object();
			json_object_set_new(t->state, id, st);
		}
		if ((v = json_object_get(tr, "cron"))) {
			struct cron c;
			json_int_t minute = (json_int_t)(now / 60);
			if (!cron_parse(json_string_value(v), &c) && cron_match(&c, &tm) &&
			    json_integer_value(json_object_get(st, "minute")) != minute) {
				json_object_set_new(st, "minute", json_integer(minute));
				snprintf(reason, sizeof(reason), "cron: %s", json_string_value(v));
				fire(t, reason, NULL);
			}
		} else if ((v = json_object_get(tr, "every"))) {
			json_t *due = json_object_get(st, "due");
			if (!due) {
				json_object_set_new(st, "due", json_integer(now_ms + json_integer_value(v)));
			} else if (now_ms >= json_integer_value(due)) {
				json_object_set_new(st, "due", json_integer(now_ms + json_integer_value(v)));
				snprintf(reason, sizeof(reason), "every: %lld ms", (long long)json_integer_value(v));
				fire(t, reason, NULL);
			}
		} else if ((v = json_object_get(tr, "watch"))) {
			char hex[SHA256_HEX_LEN + 1];
			struct buf abs = BUF_INIT;
			json_t *seen = json_object_get(st, "hash");
			buf_printf(&abs, "%s/%s", t->dir, json_string_value(v));
			watch_hash(abs.ptr, st, hex);
			if (seen && strcmp(json_string_value(seen), hex)) {
				snprintf(reason, sizeof(reason), "watch: %s", json_string_value(v));
				fire(t, reason, NULL);
			}
			json_object_set_new(st, "hash", json_string(hex));
			buf_release(&abs);
		}
		cairn_error_clear();
		free(id);
	}
}

static void reap(struct trigger_runner *t, bool block)
{
	int ws;

	if (t->child && waitpid(t->child, &ws, block ? 0 : WNOHANG) == t->child) {
		cairn_log(LOG_INFO, "trigger %s: cairn repro in %s ended with exit status %d", t->reason, t->dir,
			  proc_exit_code(ws));
		t->child = 0;
	}
}

static void *runner(void *arg)
{
	struct trigger_runner *t = arg;
	int64_t last_load = 0;

	while (!t->stop) {
		int64_t now = cairn_now_ms();
		struct timespec ts = { 0, TICK_MS * 1000000L };

		reap(t, false);
		if (now - last_load >= RELOAD_MS) {
			struct pipeline *p = NULL;
			/* the spec may change while the server runs: reload it */
			if (pipeline_load(t->dir, NULL, &p) == 0) {
				if (!json_equal(p->triggers, t->triggers)) {
					json_decref(t->triggers);
					t->triggers = json_incref(p->triggers);
					cairn_log(LOG_INFO, "pipeline %s: %zu trigger(s)", t->dir, json_array_size(t->triggers));
				}
			} else {
				cairn_log(LOG_WARN, "pipeline %s: %s (keeping the previous triggers)", t->dir, cairn_error_msg());
			}
			pipeline_free(p);
			last_load = now;
		}
		tick(t, now);
		pthread_mutex_lock(&t->mu);
		if (t->requested) {   /* asked for by another thread (a monitor's incident) */
			char reason[256], stage[256];

			memcpy(reason, t->req_reason, sizeof(reason));
			memcpy(stage, t->req_stage, sizeof(stage));
			t->requested = false;
			pthread_mutex_unlock(&t->mu);
			fire(t, reason, stage);
		} else {
			pthread_mutex_unlock(&t->mu);
		}
		nanosleep(&ts, NULL);
	}
	if (t->child) {
		kill(-t->child, SIGINT);
		reap(t, true);
	}
	return NULL;
}

int trigger_start(const char *dir, const char *uri, struct trigger_runner **out)
{
	struct trigger_runner *t = ccalloc(1, sizeof(*t));
	char real[4096];
	struct pipeline *p = NULL;
	int rc;

	if (!t)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	if (!realpath(dir, real)) {
		free(t);
		return cairn_error_set(CAIRN_ENOTFOUND, "--pipeline %s: %s", dir, strerror(errno));
	}
	/* a pipeline that does not load is an error at start-up */
	if ((rc = pipeline_load(real, NULL, &p))) {
		free(t);
		return cairn_error_set(rc, "--pipeline %s: %s", dir, cairn_error_msg());
	}
	pthread_mutex_init(&t->mu, NULL);
	t->dir = cstrdup(real);
	t->uri = cstrdup(uri);
	t->triggers = json_incref(p->triggers);
	t->state = json_object();
	pipeline_free(p);
	if (!json_array_size(t->triggers))
		cairn_log(LOG_WARN, "--pipeline %s: its cairn.yaml has no triggers yet", dir);
	if (!t->dir || !t->uri || pthread_create(&t->th, NULL, runner, t) != 0) {
		free(t->dir);
		free(t->uri);
		json_decref(t->triggers);
		json_decref(t->state);
		free(t);
		return cairn_error_set(CAIRN_ERR, "cannot start the trigger thread");
	}
	*out = t;
	return 0;
}

void trigger_stop(struct trigger_runner *t)
{
	if (!t)
		return;
	t->stop = 1;
	pthread_join(t->th, NULL);
	free(t->dir);
	free(t->uri);
	json_decref(t->triggers);
	json_decref(t->state);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

const char *trigger_dir(const struct trigger_runner *t)
{
	return t->dir;
}

int trigger_request(struct trigger_runner *t, const char *reason, const char *stage)
{
	int rc = 0;

	if (stage && strlen(stage) >= sizeof(t->req_stage))
		return cairn_error_set(CAIRN_EINVALID, "stage name too long");
	pthread_mutex_lock(&t->mu);
	if (t->requested)
		rc = cairn_error_set(CAIRN_EBUSY, "a run of %s is already asked for", t->dir);
	else {
		t->requested = true;
		snprintf(t->req_reason, sizeof(t->req_reason), "%s", reason);
		snprintf(t->req_stage, sizeof(t->req_stage), "%s", stage ? stage : "");
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}
