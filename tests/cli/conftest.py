"""Black-box tests of the cairn CLI (experiments, runs, run): fixtures.

Every test that takes `target` runs twice:
  * local  - the CLI works on a data root directly (--root DIR);
  * remote - the CLI talks to a `cairn server` (--tracking-uri URI).
Either way the test sets up data and checks results through the REST API of a
`cairn server` (for local mode one is started on the same root), so both modes
are checked against the same observable state.

Binary: $CAIRN_BIN (default build/asan/cairn). Servers are started on free ports
and stopped at the end of the session; any sanitizer report in a server's or a
CLI invocation's stderr fails the test.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"UndefinedBehaviorSanitizer")


def cairn_bin():
    b = os.environ.get("CAIRN_BIN", "build/asan/cairn")
    if not os.path.isabs(b):
        b = os.path.join(REPO, b)
    return b


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env():
    """The environment for CLI runs: no tracking settings leaking in from outside."""
    env = dict(os.environ)
    for k in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID",
              "MLFLOW_EXPERIMENT_NAME", "CAIRN_HOME", "CAIRN_RUN_ID"):
        env.pop(k, None)
    env["COLUMNS"] = "200"
    env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    env.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    return env


class Server:
    """A `cairn server` child on a free port."""

    def __init__(self, root, tmp):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = os.path.join(tmp, f"server-{self.port}.stderr")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            [cairn_bin(), "server", "--port", str(self.port), "--root", root],
            stdout=subprocess.DEVNULL, stderr=self._err, stdin=subprocess.DEVNULL,
            env=base_env())
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cairn server exited ({self.proc.returncode}): {self.stderr()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("cairn server did not become healthy")
            time.sleep(0.1)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("server did not stop on SIGTERM")
        else:
            problems.append(f"server died during the session ({self.proc.returncode})")
        self._err.close()
        if SANITIZER.search(self.stderr()):
            problems.append("sanitizer report in server stderr:\n" + self.stderr()[-4000:])
        return problems


class Api:
    """Minimal REST client for setting up and checking state."""

    def __init__(self, url):
        self.url = url
        self.s = requests.Session()

    def post(self, path, body, ok=True):
        r = self.s.post(f"{self.url}/api/2.0/mlflow/{path}", json=body, timeout=20)
        if ok:
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    def get(self, path, params, ok=True):
        r = self.s.get(f"{self.url}/api/2.0/mlflow/{path}", params=params, timeout=20)
        if ok:
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    def create_experiment(self, name):
        return self.post("experiments/create", {"name": name})["experiment_id"]

    def create_run(self, exp_id, name=None, params=None, metrics=None, tags=None, status="FINISHED",
                   start=None):
        start = start or int(time.time() * 1000)
        body = {"experiment_id": exp_id, "start_time": start}
        if name:
            body["run_name"] = name
        run = self.post("runs/create", body)["run"]
        rid = run["info"]["run_id"]
        batch = {"run_id": rid,
                 "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
                 "metrics": [{"key": k, "value": v, "timestamp": start, "step": 0}
                             for k, v in (metrics or {}).items()],
                 "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        self.post("runs/log-batch", batch)
        if status:
            self.post("runs/update", {"run_id": rid, "status": status, "end_time": start + 1500})
        return rid

    def run(self, rid):
        return self.get("runs/get", {"run_id": rid})["run"]

    def artifact(self, path):
        r = self.s.get(f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{path}", timeout=20)
        return r


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"<{' '.join(self.argv)} rc={self.rc}\n--stdout--\n{self.out}\n--stderr--\n{self.err}>"


class Target:
    """How the CLI reaches the store under test, plus a REST view of the same store."""

    def __init__(self, mode, args, api, uri_for_env):
        self.mode = mode
        self.args = args          # global options for the CLI
        self.api = api            # REST view of the same data
        self.uri = uri_for_env    # server URI for this store

    def cli(self, *argv, env=None, cwd=None, timeout=60, input=None):
        # global options right after the command name (they must precede `run`'s CMD)
        return run_cli([argv[0]] + self.args + list(argv[1:]), env=env, cwd=cwd, timeout=timeout,
                       input=input)


def run_cli(argv, env=None, cwd=None, timeout=60, input=None):
    e = base_env()
    if env:
        e.update(env)
    full = [cairn_bin()] + argv
    p = subprocess.run(full, capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL)
    res = Result(full, p)
    assert not SANITIZER.search(p.stderr), f"sanitizer report:\n{p.stderr}"
    return res


_state = {}


@pytest.fixture(scope="session")
def servers():
    if not os.access(cairn_bin(), os.X_OK):
        pytest.exit(f"cairn binary {cairn_bin()} not found (build it or set CAIRN_BIN)", returncode=3)
    tmp = tempfile.mkdtemp(prefix="cairn-cli-")
    local_root = os.path.join(tmp, "local-root")
    remote_root = os.path.join(tmp, "remote-root")
    started = []
    try:
        # the local root gets a server too: only the tests use it (to set up and check);
        # the CLI opens the root directly
        local_srv = Server(local_root, tmp)
        started.append(local_srv)
        remote_srv = Server(remote_root, tmp)
        started.append(remote_srv)
    except RuntimeError as e:
        for s in started:
            s.stop()
        pytest.exit(str(e), returncode=3)
    _state["servers"] = started
    yield {"tmp": tmp, "local": (local_root, local_srv), "remote": (remote_root, remote_srv)}
    problems = []
    for s in started:
        problems += s.stop()
    _state.pop("servers", None)
    shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(params=["local", "remote"])
def target(request, servers):
    root, srv = servers[request.param]
    if request.param == "local":
        return Target("local", ["--root", root], Api(srv.url), srv.url)
    return Target("remote", ["--tracking-uri", srv.url], Api(srv.url), srv.url)


@pytest.fixture
def uniq():
    return lambda prefix="t": f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def workdir(servers):
    d = tempfile.mkdtemp(prefix="work-", dir=servers["tmp"])
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    # never leave a server behind, whatever happened
    for s in _state.pop("servers", []):
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()

