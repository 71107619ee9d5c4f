/* pyworker.c - tests of serve/pyworker: the pool of Python workers, with the real
 * interpreter, the real MLflow client and models it saved (tests/serve/pyworker_models.py,
 * run once per test run into a temporary folder, removed at the end). Each MLflow body is
 * checked byte for byte against what MLflow's own scoring server answered for it. Without an
 * importable MLflow client the tests skip, except with CI=true, where they fail. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/proc.h"
#include "core/util.h"
#include "serve/pyworker.h"

/* ---- the environment and the models ---- */

static char py[1024];                /* the interpreter mlflow_env.sh names */
static char pythonpath_env[8192];    /* "PYTHONPATH=..." */
static char models[512];             /* the fixture folder of this test run */
static json_t *expected;             /* models/expected.json */

static const char *fixture_root(char *out, size_t cap, pid_t runner)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, cap, "%s/cairn-pyworker.%d", tmp && *tmp ? tmp : "/tmp", (int)runner);
	return out;
}

static void unavailable(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && !strcmp(ci, "true"))
		cr_assert_fail("the MLflow client must be importable with CI=true: %s", why);
	cr_skip_test("the MLflow client is not importable (%s)", why);
}

/* Run a bash script from the repository root; *out gets its stdout. */
static int bash(const char *script, struct buf *out)
{
	char *argv[] = { "bash", "-c", (char *)script, NULL };
	int code = -1;

	cr_assert_eq(proc_capture(argv, NULL, out, &code), 0, "%s", cairn_error_msg());
	return code;
}

/* Find the MLflow client (tests/integration/mlflow_env.sh may install it), make the models
 * and load expected.json, once per run: a lock file orders the tests that run in parallel,
 * and a first failure to find MLflow is remembered (the rest skip at once). */
static void need_models(void)
{
	struct buf out = BUF_INIT, script = BUF_INIT;
	char lock[600], path[700], why[300] = "";
	char *nl;
	int fd, code;
	FILE *f;

	if (expected)
		return;
	fixture_root(models, sizeof(models), getppid());
	snprintf(lock, sizeof(lock), "%s.lock", models);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	snprintf(path, sizeof(path), "%s.unavailable", models);
	if ((f = fopen(path, "r"))) {
		if (!fgets(why, sizeof(why), f))
			snprintf(why, sizeof(why), "see an earlier test");
		fclose(f);
		close(fd);
		unavailable(why);
	}
	code = bash(". tests/integration/mlflow_env.sh >/dev/null 2>&1 || exit 2; printf '%s\\n%s' \"$PY\" \"$PYTHONPATH\"",
		    &out);
	nl = strchr(out.ptr, '\n');
	if (code || !nl) {
		snprintf(why, sizeof(why), "tests/integration/mlflow_env.sh failed");
	} else {
		*nl = 0;
		snprintf(py, sizeof(py), "%s", out.ptr);
		snprintf(pythonpath_env, sizeof(pythonpath_env), "PYTHONPATH=%s", nl + 1);
		snprintf(path, sizeof(path), "%s/expected.json", models);
		if (access(path, F_OK) != 0) {
			buf_printf(&script, "rm -rf '%s' && mkdir -p '%s' && %s PYTHONHASHSEED=0 '%s' "
				   "tests/serve/pyworker_models.py '%s' >'%s.log' 2>&1", models, models, pythonpath_env, py,
				   models, models);
			buf_clear(&out);
			code = bash(script.ptr, &out);
			if (code == 3)
				snprintf(why, sizeof(why), "pyworker_models.py cannot import mlflow, pandas or scikit-learn");
			else
				cr_assert_eq(code, 0, "pyworker_models.py failed (exit %d); see %s.log", code, models);
		}
	}
	buf_release(&out);
	buf_release(&script);
	if (why[0]) {
		snprintf(path, sizeof(path), "%s.unavailable", models);
		if ((f = fopen(path, "w"))) {
			fputs(why, f);
			fclose(f);
		}
		close(fd);
		unavailable(why);
	}
	close(fd);
	expected = json_load_file(path, 0, NULL);
	cr_assert(expected, "cannot read %s", path);
}

/* The models' folder goes when the run ends (this hook runs in the runner). */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char root[512], cmd[1200];
	struct buf out = BUF_INIT;
	int code;
	char *argv[] = { "rm", "-rf", root, cmd, NULL };

	(void)stats;
	fixture_root(root, sizeof(root), getpid());
	snprintf(cmd, sizeof(cmd), "%s.lock", root);
	if (access(cmd, F_OK) == 0) {
		(void)proc_capture(argv, NULL, &out, &code);
		snprintf(cmd, sizeof(cmd), "%s.log", root);
		unlink(cmd);
		snprintf(cmd, sizeof(cmd), "%s.unavailable", root);
		unlink(cmd);
	}
	buf_release(&out);
}

static char *model_dir(const char *name)
{
	static char dirs[4][700];
	static int next;
	char *d = dirs[next++ % 4];

	snprintf(d, sizeof(dirs[0]), "%s/%s", models, name);
	return d;
}

/* ---- captured stderr lines ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct buf log_text = BUF_INIT;

static void capture_log(void *ud, int pid, const char *line)
{
	(void)ud;
	fault_hold(true); /* the test's bookkeeping, not the pool's allocations */
	pthread_mutex_lock(&log_mu);
	buf_printf(&log_text, "%d: %s\n", pid, line);
	pthread_mutex_unlock(&log_mu);
	fault_hold(false);
}

static bool logged(const char *needle)
{
	bool found;

	pthread_mutex_lock(&log_mu);
	found = strstr(log_text.ptr, needle) != NULL;
	pthread_mutex_unlock(&log_mu);
	return found;
}

static const char *env_extra[4];

static struct pyworker_opts opts(const char *model, unsigned workers)
{
	env_extra[0] = pythonpath_env;
	env_extra[1] = "PYTHONHASHSEED=0"; /* MLflow's messages print sets */
	env_extra[2] = NULL;
	return (struct pyworker_opts){ .model_dir = model_dir(model), .allow_pickle = true, .python = py,
				       .workers = workers, .env = env_extra, .log = capture_log,
				       .start_timeout_ms = 240000 };
}

/* ---- answers ---- */

struct answer {
	int calls;
	int err;
	enum pyworker_outcome outcome;
	int status;
	char ctype[128];
	struct buf body;
	char message[512];
	int pid;
};

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct answer a[64];
};

#define WAITER_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { { 0 } } }

struct slot {
	struct waiter *w;
	int i;
};

static void on_done(void *ud, const struct pyworker_reply *r)
{
	struct slot *s = ud;
	struct answer *a = &s->w->a[s->i];

	fault_hold(true);
	pthread_mutex_lock(&s->w->mu);
	a->calls++;
	a->err = r->err;
	a->outcome = r->outcome;
	a->status = r->status;
	a->pid = r->pid;
	if (!r->err) {
		snprintf(a->ctype, sizeof(a->ctype), "%s", r->content_type);
		buf_clear(&a->body);
		buf_put(&a->body, r->body, r->len);
	} else {
		snprintf(a->message, sizeof(a->message), "%s", r->message);
	}
	pthread_cond_broadcast(&s->w->cv);
	pthread_mutex_unlock(&s->w->mu);
	fault_hold(false);
	free(s);
}

static int submit(struct pyworker_pool *p, struct waiter *w, int i, enum pyworker_proto proto, const char *ctype,
		  const char *body)
{
	struct slot *s = malloc(sizeof(*s));
	struct pyworker_req req = { .proto = proto, .content_type = ctype, .model_name = "m", .model_version = "1",
				    .body = body, .len = strlen(body) };
	int rc;

	s->w = w;
	s->i = i;
	if ((rc = pyworker_submit(p, &req, on_done, s)))
		free(s);
	return rc;
}

/* Wait until answer i came (at most `seconds`). */
static struct answer *await(struct waiter *w, int i, int seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&w->mu);
	while (!w->a[i].calls)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
	cr_assert_eq(w->a[i].calls, 1, "answer %d: %d calls of done", i, w->a[i].calls);
	return &w->a[i];
}

/* Submit one request and wait for its answer. */
static struct answer *call(struct pyworker_pool *p, struct waiter *w, int i, enum pyworker_proto proto,
			   const char *ctype, const char *body)
{
	int rc = submit(p, w, i, proto, ctype, body);

	cr_assert_eq(rc, 0, "submit: %s", cairn_error_msg());
	return await(w, i, 120);
}

static void waiter_release(struct waiter *w)
{
	for (size_t i = 0; i < sizeof(w->a) / sizeof(w->a[0]); i++)
		buf_release(&w->a[i].body);
}

static const char *tricks_body(const char *action, double arg)
{
	static char b[4][256];
	static int next;
	char *s = b[next++ % 4];

	snprintf(s, sizeof(b[0]), "{\"dataframe_split\": {\"columns\": [\"action\", \"arg\"], \"data\": [[\"%s\", %g]]}}",
		 action, arg);
	return s;
}

/* ---- processes and descriptors ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

/* Processes whose parent is this one (zombies included). */
static int count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		char path[300], stat[1024], *close_paren;
		int ppid;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(stat, sizeof(stat), f) && (close_paren = strrchr(stat, ')')) &&
		    sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static json_t *case_named(const char *model, const char *name)
{
	json_t *cases = json_object_get(json_object_get(expected, "cases"), model), *c;
	size_t i;

	json_array_foreach(cases, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	cr_assert_fail("no case %s/%s", model, name);
	return NULL;
}

/* The pool answers each case of model as MLflow's scoring server did: status, content type, body. */
static void check_cases(struct pyworker_pool *p, const char *model)
{
	json_t *cases = json_object_get(json_object_get(expected, "cases"), model), *c;
	struct waiter w = WAITER_INIT;
	size_t i;

	cr_assert(json_array_size(cases) > 0 && json_array_size(cases) <= 64);
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		struct answer *a = call(p, &w, (int)i, PYWORKER_MLFLOW, json_string_value(json_object_get(c, "content_type")),
					json_string_value(json_object_get(c, "body")));

		cr_assert_eq(a->err, 0, "%s: %s", name, a->message);
		cr_expect_eq(a->status, json_integer_value(json_object_get(c, "status")), "%s: status %d", name, a->status);
		cr_expect_str_eq(a->ctype, json_string_value(json_object_get(c, "response_type")), "%s", name);
		cr_expect_str_eq(a->body.ptr, json_string_value(json_object_get(c, "response")), "%s", name);
	}
	waiter_release(&w);
}

/* ---- tests ---- */

Test(serve_pyworker, refuses_without_allow_pickle)
{
	struct pyworker_opts o = { .model_dir = "/nonexistent/model" };
	struct pyworker_pool *p = (void *)1;

	cr_assert_eq(pyworker_pool_new(&o, &p), CAIRN_EPERM);
	cr_assert_null(p);
	cr_assert(strstr(cairn_error_msg(), "--allow-pickle"), "%s", cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), "CVE-2024-37052"), "%s", cairn_error_msg());
}

Test(serve_pyworker, missing_interpreter_fails_pool_new)
{
	struct pyworker_opts o = { .model_dir = "/nonexistent/model", .allow_pickle = true,
				   .python = "/nonexistent/bin/python3", .workers = 2 };
	struct pyworker_pool *p = NULL;
	int fds = count_fds();

	cr_assert_eq(pyworker_pool_new(&o, &p), CAIRN_ENOTFOUND, "%s", cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), "/nonexistent/bin/python3"), "%s", cairn_error_msg());
	cr_assert_eq(count_fds(), fds);
	cr_assert_eq(count_children(), 0);
}

Test(serve_pyworker, predicts_what_mlflow_pyfunc_predicts)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;
	struct answer *a;
	json_t *got;

	need_models();
	o = opts("sklearn", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	a = call(p, &w, 0, PYWORKER_MLFLOW, "application/json",
		 json_string_value(json_object_get(case_named("sklearn", "dataframe_split"), "body")));
	cr_assert_eq(a->err, 0, "%s", a->message);
	cr_assert_eq(a->status, 200);
	cr_assert_str_eq(a->ctype, "application/json");
	cr_assert_eq(a->outcome, PYWORKER_OK);
	got = json_loads(a->body.ptr, 0, NULL);
	cr_assert(json_equal(json_object_get(got, "predictions"), json_object_get(expected, "predictions")), "%s",
		  a->body.ptr);
	json_decref(got);
	pyworker_pool_stats(p, &st);
	cr_assert_eq(st.workers, 1);
	cr_assert_eq(st.alive, 1);
	cr_assert_eq(st.outcomes[PYWORKER_OK], 1);
	cr_assert_eq(st.queued + st.running, 0);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, every_mlflow_format_and_error_is_mlflows_answer)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;

	need_models();
	/* the cases themselves say what MLflow does: 200s for each format, its 400s and 415s */
	cr_assert_eq(json_integer_value(json_object_get(case_named("sklearn", "missing_column"), "status")), 400);
	cr_assert(strstr(json_string_value(json_object_get(case_named("sklearn", "missing_column"), "response")),
			 "INVALID_PARAMETER_VALUE"));
	cr_assert_eq(json_integer_value(json_object_get(case_named("sklearn", "bad_json"), "status")), 400);
	cr_assert_eq(json_integer_value(json_object_get(case_named("sklearn", "text_plain"), "status")), 415);
	cr_assert_eq(json_integer_value(json_object_get(case_named("sklearn", "csv"), "status")), 200);
	o = opts("sklearn", 2);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	check_cases(p, "sklearn");
	pyworker_pool_free(p);
}

Test(serve_pyworker, a_model_that_raises_gets_mlflows_400_and_prints_go_to_the_log)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct answer *a;
	char line[128];

	need_models();
	cr_assert(strstr(json_string_value(json_object_get(case_named("tricks", "raise"), "response")),
			 "\"error_code\": \"BAD_REQUEST\""));
	o = opts("tricks", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	check_cases(p, "tricks");
	/* the print went to stderr, into the log with the worker's pid, and the answer is whole */
	a = call(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("print", 2));
	cr_assert_eq(a->status, 200);
	cr_assert_str_eq(a->body.ptr, "{\"predictions\": [4.0]}");
	snprintf(line, sizeof(line), "%d: hello from the model on stdout", a->pid);
	cr_assert(logged(line), "%s", log_text.ptr);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, open_inference_protocol)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	json_t *rows, *req, *in, *data, *got, *out0;
	struct answer *a;
	char *body;
	size_t i;

	need_models();
	rows = json_object_get(expected, "rows");
	o = opts("sklearn", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());

	/* one tensor [n, 4], nested data, in the signature's column order */
	req = json_pack("{s:s,s:[{s:s,s:[i,i],s:s,s:O}]}", "id", "r1", "inputs", "name", "input-0", "shape",
			(int)json_array_size(rows), 4, "datatype", "FP64", "data", rows);
	body = json_dumps(req, 0);
	a = call(p, &w, 0, PYWORKER_OIP, NULL, body);
	free(body);
	json_decref(req);
	cr_assert_eq(a->err, 0, "%s", a->message);
	cr_assert_eq(a->status, 200, "%s", a->body.ptr);
	got = json_loads(a->body.ptr, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(got, "model_name")), "m");
	cr_assert_str_eq(json_string_value(json_object_get(got, "model_version")), "1");
	cr_assert_str_eq(json_string_value(json_object_get(got, "id")), "r1");
	out0 = json_array_get(json_object_get(got, "outputs"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(out0, "name")), "predict");
	cr_assert_str_eq(json_string_value(json_object_get(out0, "datatype")), "INT64");
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(out0, "shape"), 0)), (json_int_t)json_array_size(rows));
	cr_assert(json_equal(json_object_get(out0, "data"), json_object_get(expected, "predictions")), "%s", a->body.ptr);
	json_decref(got);

	/* one tensor per column, by name, flat data */
	req = json_pack("{s:[]}", "inputs");
	for (int c = 0; c < 4; c++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", c);
		data = json_array();
		json_array_foreach(rows, i, in)
			json_array_append(data, json_array_get(in, (size_t)c));
		json_array_append_new(json_object_get(req, "inputs"),
				      json_pack("{s:s,s:[i],s:s,s:o}", "name", name, "shape", (int)json_array_size(rows),
						"datatype", "FP64", "data", data));
	}
	body = json_dumps(req, 0);
	a = call(p, &w, 1, PYWORKER_OIP, NULL, body);
	free(body);
	json_decref(req);
	cr_assert_eq(a->status, 200, "%s", a->body.ptr);
	got = json_loads(a->body.ptr, 0, NULL);
	cr_assert_null(json_object_get(got, "id"));
	cr_assert(json_equal(json_object_get(json_array_get(json_object_get(got, "outputs"), 0), "data"),
			     json_object_get(expected, "predictions")), "%s", a->body.ptr);
	json_decref(got);

	/* a missing column is MLflow's schema error; bad bodies are 400 {"error"} */
	a = call(p, &w, 2, PYWORKER_OIP, NULL,
		 "{\"inputs\": [{\"name\": \"f0\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1.0]}]}");
	cr_assert_eq(a->status, 400, "%s", a->body.ptr);
	cr_assert(strstr(a->body.ptr, "{\"error\": \"") == a->body.ptr && strstr(a->body.ptr, "f1"), "%s", a->body.ptr);
	a = call(p, &w, 3, PYWORKER_OIP, NULL, "{\"inputs\": ");
	cr_assert_eq(a->status, 400);
	cr_assert(strstr(a->body.ptr, "not JSON"), "%s", a->body.ptr);
	a = call(p, &w, 4, PYWORKER_OIP, NULL,
		 "{\"inputs\": [{\"name\": \"input-0\", \"shape\": [2, 4], \"datatype\": \"FP64\", \"data\": [1, 2, 3]}]}");
	cr_assert_eq(a->status, 400);
	cr_assert(strstr(a->body.ptr, "input-0"), "%s", a->body.ptr);
	a = call(p, &w, 5, PYWORKER_OIP, NULL, "{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP128\", \"data\": [1]}]}");
	cr_assert_eq(a->status, 400);
	cr_assert(strstr(a->body.ptr, "FP128"), "%s", a->body.ptr);
	pyworker_pool_free(p);

	/* BYTES and FP64 columns of the custom model; its exception is a 500 */
	o = opts("tricks", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	a = call(p, &w, 6, PYWORKER_OIP, NULL,
		 "{\"inputs\": [{\"name\": \"action\", \"shape\": [2], \"datatype\": \"BYTES\", \"data\": [\"double\", \"double\"]},"
		 " {\"name\": \"arg\", \"shape\": [2, 1], \"datatype\": \"FP64\", \"data\": [[1.5], [4]]}]}");
	cr_assert_eq(a->status, 200, "%s", a->body.ptr);
	got = json_loads(a->body.ptr, 0, NULL);
	out0 = json_array_get(json_object_get(got, "outputs"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(out0, "datatype")), "FP64", "%s", a->body.ptr);
	cr_assert_eq(json_real_value(json_array_get(json_object_get(out0, "data"), 1)), 8.0, "%s", a->body.ptr);
	json_decref(got);
	a = call(p, &w, 7, PYWORKER_OIP, NULL,
		 "{\"inputs\": [{\"name\": \"action\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"raise\"]},"
		 " {\"name\": \"arg\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [1]}]}");
	cr_assert_eq(a->status, 500, "%s", a->body.ptr);
	cr_assert(strstr(a->body.ptr, "ValueError: the model was asked to raise"), "%s", a->body.ptr);
	cr_assert_eq(a->outcome, PYWORKER_SERVER_ERROR);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, a_crash_fails_its_request_and_the_worker_restarts)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;
	struct answer *a;
	int first;

	need_models();
	o = opts("tricks", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	a = call(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("exit", 7));
	first = a->pid;
	cr_assert_eq(a->err, CAIRN_ERR);
	cr_assert_eq(a->outcome, PYWORKER_CRASH);
	cr_assert(strstr(a->message, "exited with status 7 while answering the request"), "%s", a->message);
	a = call(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 2));
	cr_assert_eq(a->err, 0, "%s", a->message);
	cr_assert_str_eq(a->body.ptr, "{\"predictions\": [4.0]}");
	cr_assert_neq(a->pid, first);
	a = call(p, &w, 2, PYWORKER_MLFLOW, "application/json", tricks_body("segv", 0));
	cr_assert_eq(a->err, CAIRN_ERR);
	cr_assert(strstr(a->message, "was killed by signal 11 (Segmentation fault)"), "%s", a->message);
	a = call(p, &w, 3, PYWORKER_MLFLOW, "application/json", tricks_body("double", 3));
	cr_assert_eq(a->status, 200, "%s", a->message);
	pyworker_pool_stats(p, &st);
	cr_assert_eq(st.restarts, 2);
	cr_assert_eq(st.alive, 1);
	cr_assert_eq(st.outcomes[PYWORKER_CRASH], 2);
	cr_assert_eq(st.outcomes[PYWORKER_OK], 2);
	cr_assert_not(st.failed);
	cr_assert_eq(count_children(), 1);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, an_idle_worker_killed_from_outside_is_restarted)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;
	struct answer *a;
	int first;

	need_models();
	o = opts("tricks", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	first = call(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("double", 1))->pid;
	cr_assert_eq(kill(first, SIGKILL), 0); /* as the OOM killer would */
	for (int i = 0; i < 1200; i++) {
		pyworker_pool_stats(p, &st);
		if (st.restarts == 1 && st.alive == 1)
			break;
		sleep_ms(100);
	}
	cr_assert_eq(st.restarts, 1);
	cr_assert_eq(st.alive, 1);
	a = call(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 2));
	cr_assert_eq(a->status, 200, "%s", a->message);
	cr_assert_neq(a->pid, first);
	cr_assert_eq(count_children(), 1);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, past_the_timeout_is_504_and_the_worker_restarts)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;
	struct answer *a;
	int64_t t0;

	need_models();
	o = opts("tricks", 1);
	o.request_timeout_ms = 1500;
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	t0 = cairn_mono_ns();
	a = call(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("sleep", 60));
	cr_assert_eq(a->err, CAIRN_ETIMEDOUT, "%s", a->message);
	cr_assert_eq(a->outcome, PYWORKER_TIMEOUT);
	cr_assert_str_eq(a->message, "Request processing time exceeded limit");
	cr_assert_lt(cairn_mono_ns() - t0, (int64_t)10000000000, "the 504 took too long");
	cr_assert_eq(kill(a->pid, 0), -1, "the worker that timed out still runs");
	/* the restart takes longer than this test's timeout: wait for it */
	for (int i = 0; i < 1200; i++) {
		pyworker_pool_stats(p, &st);
		if (st.alive == 1)
			break;
		sleep_ms(100);
	}
	cr_assert_eq(st.alive, 1);
	a = call(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 1));
	cr_assert_eq(a->status, 200, "%s", a->message);
	pyworker_pool_stats(p, &st);
	cr_assert_eq(st.restarts, 1);
	cr_assert_eq(st.outcomes[PYWORKER_TIMEOUT], 1);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, a_full_queue_is_ebusy)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;

	need_models();
	o = opts("tricks", 1);
	o.max_queue = 2;
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	cr_assert_eq(submit(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("sleep", 1.5)), 0);
	for (int i = 0; i < 500; i++) {
		pyworker_pool_stats(p, &st);
		if (st.running == 1)
			break;
		sleep_ms(10);
	}
	cr_assert_eq(st.running, 1);
	cr_assert_eq(submit(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 1)), 0);
	cr_assert_eq(submit(p, &w, 2, PYWORKER_MLFLOW, "application/json", tricks_body("double", 2)), 0);
	pyworker_pool_stats(p, &st);
	cr_assert_eq(st.queued, 2);
	cr_assert_eq(submit(p, &w, 3, PYWORKER_MLFLOW, "application/json", tricks_body("double", 3)), CAIRN_EBUSY);
	cr_assert(strstr(cairn_error_msg(), "2 requests are waiting"), "%s", cairn_error_msg());
	for (int i = 0; i < 3; i++)
		cr_assert_eq(await(&w, i, 60)->status, 200);
	cr_assert_str_eq(w.a[2].body.ptr, "{\"predictions\": [4.0]}");
	cr_assert_eq(w.a[3].calls, 0);
	pyworker_pool_stats(p, &st);
	cr_assert_eq(st.outcomes[PYWORKER_REJECTED], 1);
	cr_assert_eq(st.outcomes[PYWORKER_OK], 3);
	pyworker_pool_free(p);
	waiter_release(&w);
}

/* ---- many submitters ---- */

#define SUBMITTERS 4
#define PER_SUBMITTER 50

struct many {
	struct pyworker_pool *p;
	const char *body;
	const char *want;
	_Atomic int calls[SUBMITTERS * PER_SUBMITTER];
	_Atomic int good;
	_Atomic int base;
};

struct many_ud {
	struct many *m;
	int i;
};

static void many_done(void *ud, const struct pyworker_reply *r)
{
	struct many_ud *u = ud;

	atomic_fetch_add(&u->m->calls[u->i], 1);
	if (!r->err && r->status == 200 && r->len == strlen(u->m->want) && !memcmp(r->body, u->m->want, r->len))
		atomic_fetch_add(&u->m->good, 1);
	free(u);
}

static void *submitter(void *arg)
{
	struct many *m = arg;
	int base = atomic_fetch_add(&m->base, PER_SUBMITTER);

	for (int i = 0; i < PER_SUBMITTER; i++) {
		struct many_ud *u = malloc(sizeof(*u));
		struct pyworker_req req = { .proto = PYWORKER_MLFLOW, .content_type = "application/json", .body = m->body,
					    .len = strlen(m->body) };
		u->m = m;
		u->i = base + i;
		if (pyworker_submit(m->p, &req, many_done, u))
			return (void *)1;
	}
	return NULL;
}

Test(serve_pyworker, concurrent_submits_are_each_answered_once)
{
	struct pyworker_opts o;
	struct many m = { 0 };
	pthread_t t[SUBMITTERS];
	struct pyworker_stats st;
	int n = SUBMITTERS * PER_SUBMITTER;

	need_models();
	o = opts("sklearn", 2);
	cr_assert_eq(pyworker_pool_new(&o, &m.p), 0, "%s", cairn_error_msg());
	m.body = json_string_value(json_object_get(case_named("sklearn", "dataframe_records"), "body"));
	m.want = json_string_value(json_object_get(case_named("sklearn", "dataframe_records"), "response"));
	for (int i = 0; i < SUBMITTERS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, submitter, &m), 0);
	for (int i = 0; i < SUBMITTERS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		cr_assert_null(ret, "a submit failed");
	}
	for (int i = 0; i < 12000; i++) {
		pyworker_pool_stats(m.p, &st);
		if (st.outcomes[PYWORKER_OK] + st.outcomes[PYWORKER_CLIENT_ERROR] + st.outcomes[PYWORKER_INTERNAL] >= (uint64_t)n)
			break;
		sleep_ms(10);
	}
	pyworker_pool_free(m.p);
	for (int i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&m.calls[i]), 1, "request %d: %d answers", i, atomic_load(&m.calls[i]));
	cr_assert_eq(atomic_load(&m.good), n);
}

Test(serve_pyworker, a_big_csv_body_goes_through)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct buf csv = BUF_INIT;
	struct answer *a;
	json_t *got;
	int rows = 40000;

	need_models();
	buf_puts(&csv, "f0,f1,f2,f3\n");
	for (int i = 0; i < rows; i++)
		buf_printf(&csv, "%d.125,-0.5,%d.25,0.75\n", i % 7 - 3, i % 5 - 2);
	cr_assert_gt(csv.len, 700000);
	o = opts("sklearn", 1);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	a = call(p, &w, 0, PYWORKER_MLFLOW, "text/csv", csv.ptr);
	cr_assert_eq(a->status, 200, "%.300s", a->body.ptr);
	got = json_loads(a->body.ptr, 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(got, "predictions")), (size_t)rows);
	json_decref(got);
	pyworker_pool_free(p);
	buf_release(&csv);
	waiter_release(&w);
}

Test(serve_pyworker, shutdown_finishes_in_flight_and_leaves_nothing_behind)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	int fds, children;

	need_models();
	fds = count_fds();
	children = count_children();
	o = opts("tricks", 2);
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	cr_assert_eq(count_children(), children + 2);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(submit(p, &w, i, PYWORKER_MLFLOW, "application/json", tricks_body("sleep", 0.4)), 0);
	pyworker_pool_free(p);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(w.a[i].calls, 1);
		cr_assert_eq(w.a[i].status, 200, "%d: %s", i, w.a[i].message);
		cr_assert_eq(kill(w.a[i].pid, 0), -1);
	}
	cr_assert_eq(count_children(), children);
	cr_assert_eq(count_fds(), fds);
	waiter_release(&w);
}

Test(serve_pyworker, shutdown_bounds_the_drain)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	int64_t t0;

	need_models();
	o = opts("tricks", 1);
	o.drain_ms = 500;
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	cr_assert_eq(submit(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("sleep", 60)), 0);
	cr_assert_eq(submit(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 1)), 0);
	sleep_ms(200);
	t0 = cairn_mono_ns();
	pyworker_pool_free(p);
	cr_assert_lt(cairn_mono_ns() - t0, (int64_t)8000000000, "shutdown took too long");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(w.a[i].calls, 1);
		cr_assert_eq(w.a[i].err, CAIRN_EBUSY, "%d: %d %s", i, w.a[i].err, w.a[i].message);
		cr_assert_eq(w.a[i].outcome, PYWORKER_SHUTDOWN);
	}
	cr_assert_eq(count_children(), 0);
	waiter_release(&w);
}

Test(serve_pyworker, a_model_that_cannot_be_imported_fails_pool_new)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	int fds;

	need_models();
	fds = count_fds();
	o = opts("broken", 2);
	cr_assert_eq(pyworker_pool_new(&o, &p), CAIRN_ERR);
	cr_assert_null(p);
	cr_assert(strstr(cairn_error_msg(), "could not load the model in"), "%s", cairn_error_msg());
	cr_assert(strstr(cairn_error_msg(), "ModuleNotFoundError: No module named 'cairn_pyworker_gone'"), "%s",
		  cairn_error_msg());
	cr_assert(logged("Traceback"), "the traceback is logged");
	cr_assert_eq(count_children(), 0);
	cr_assert_eq(count_fds(), fds);
}

Test(serve_pyworker, workers_that_keep_dying_on_start_fail_the_model)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	struct pyworker_stats st;
	char marker[600], die[700];
	const char *env[4];
	struct answer *a;
	int fd;

	need_models();
	snprintf(marker, sizeof(marker), "%s/die-on-load.%d", models, (int)getpid());
	snprintf(die, sizeof(die), "CAIRN_PYWORKER_DIE_ON_LOAD=%s", marker);
	o = opts("tricks", 1);
	env[0] = pythonpath_env;
	env[1] = die;
	env[2] = NULL;
	o.env = env;
	o.max_quick_deaths = 3;
	cr_assert_eq(pyworker_pool_new(&o, &p), 0, "%s", cairn_error_msg());
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(fd >= 0);
	close(fd);
	a = call(p, &w, 0, PYWORKER_MLFLOW, "application/json", tricks_body("exit", 1));
	cr_assert_eq(a->outcome, PYWORKER_CRASH);
	for (int i = 0; i < 1200; i++) {
		pyworker_pool_stats(p, &st);
		if (st.failed)
			break;
		sleep_ms(100);
	}
	unlink(marker);
	cr_assert(st.failed);
	cr_assert_eq(st.alive, 0);
	cr_assert_eq(st.restarts, 2);
	cr_assert(strstr(st.failure, "3 quick deaths in a row"), "%s", st.failure);
	cr_assert(strstr(st.failure, "exited with status 3 before loading the model"), "%s", st.failure);
	cr_assert_eq(submit(p, &w, 1, PYWORKER_MLFLOW, "application/json", tricks_body("double", 1)), CAIRN_ERR);
	cr_assert(strstr(cairn_error_msg(), "failed to load"), "%s", cairn_error_msg());
	cr_assert_eq(count_children(), 0);
	pyworker_pool_free(p);
	waiter_release(&w);
}

Test(serve_pyworker, failed_allocations_are_errors_without_leaks)
{
	struct pyworker_opts o;
	struct pyworker_pool *p = NULL;
	struct waiter w = WAITER_INIT;
	const char *body;
	uint64_t n, injected;
	int fds, rc, i = 0;

	need_models();
	fds = count_fds();
	o = opts("sklearn", 1);
	/* each allocation of pyworker_pool_new in turn (all on this thread, before any process) */
	for (n = 1;; n++) {
		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		rc = pyworker_pool_new(&o, &p);
		injected = fault_injected();
		fault_disarm();
		if (!injected)
			break;
		cr_assert_eq(rc, CAIRN_ENOMEM, "allocation %lu: %d %s", (unsigned long)n, rc, cairn_error_msg());
		cr_assert_null(p);
		cr_assert_eq(count_fds(), fds);
		cr_assert_eq(count_children(), 0);
	}
	cr_assert_eq(rc, 0, "%s", cairn_error_msg());
	cr_assert_gt(n, 3);
	body = json_string_value(json_object_get(case_named("sklearn", "dataframe_split"), "body"));
	/* each allocation of pyworker_submit: an error, done never called */
	for (n = 1;; n++) {
		fault_arm(FAULT_ALLOC, n, FAULT_THIS_THREAD);
		rc = submit(p, &w, i, PYWORKER_MLFLOW, "application/json", body);
		injected = fault_injected();
		fault_disarm();
		if (!injected)
			break;
		cr_assert_eq(rc, CAIRN_ENOMEM, "allocation %lu: %d", (unsigned long)n, rc);
		i++;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(await(&w, i, 60)->status, 200);
	for (int k = 0; k < i; k++)
		cr_assert_eq(w.a[k].calls, 0);
	/* each allocation the pool's thread makes answering: the request gets an error, the next works */
	for (n = 1; i < 60; n++) {
		struct answer *a;

		i++;
		fault_hold(true);
		fault_arm(FAULT_ALLOC, n, 0);
		rc = submit(p, &w, i, PYWORKER_MLFLOW, "application/json", body);
		cr_assert_eq(rc, 0);
		a = await(&w, i, 120);
		injected = fault_injected();
		fault_disarm();
		fault_hold(false);
		if (!injected) {
			cr_assert_eq(a->status, 200, "%s", a->message);
			break;
		}
		cr_assert_eq(a->err, CAIRN_ENOMEM, "allocation %lu: %d %s", (unsigned long)n, a->err, a->message);
		cr_assert_eq(a->outcome, PYWORKER_INTERNAL);
	}
	cr_assert_gt(n, 1);
	cr_assert_eq(call(p, &w, ++i, PYWORKER_MLFLOW, "application/json", body)->status, 200);
	pyworker_pool_free(p);
	cr_assert_eq(count_fds(), fds);
	cr_assert_eq(count_children(), 0);
	waiter_release(&w);
}
