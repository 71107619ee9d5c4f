"""`cairn serve` black-box tests: fixtures.

`serve(*args)` starts `$CAIRN_BIN serve ARGS --port P` on a free loopback port, waits for
GET /ping, and stops it at the end of the test (SIGTERM; a sanitizer report, a crash or a
slow stop fails the test). `tracking()` starts a `cairn server` for registry tests.
FIXTURES is tests/model/fixtures/xgb: models saved by the unmodified MLflow client
(make_xgb_models.py), each with expected.json (what mlflow.pyfunc's predict returned).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
from cairn_harness import SANITIZER, Prometheus, free_port  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "model", "fixtures", "xgb")
SHARED = os.environ.get("CAIRN_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
ANCHOR = os.path.join(SHARED, "anchors", "serving")


def cairn_bin():
    b = os.environ.get("CAIRN_BIN", "build/asan/cairn")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def fixture(name):
    d = os.path.join(FIXTURES, name)
    with open(os.path.join(d, "expected.json")) as f:
        return d, json.load(f)


class Proc:
    """A cairn process whose stderr goes to a file, stopped with SIGTERM."""

    def __init__(self, args, ready_path, env=None, port=None):
        self.tmp = tempfile.mkdtemp(prefix="cairn-serve-")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = os.path.join(self.tmp, "stderr")
        self.out_path = os.path.join(self.tmp, "stdout")
        self._err = open(self.err_path, "wb")
        self._out = open(self.out_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.cmd = [cairn_bin(), *args, "--port", str(self.port)]
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=full_env)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{' '.join(self.cmd)} exited with {self.proc.returncode}: "
                                   f"{self.stderr()}")
            try:
                if requests.get(self.url + ready_path, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("not ready after 60 s: " + self.stderr())
            time.sleep(0.05)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if getattr(self, "_stopped", False):   # a test stopped it already (and saw its problems)
            return []
        self._stopped = True
        problems = []
        if self.proc.poll() is not None:
            if not (getattr(self, "stopped_by_test", False) and self.proc.returncode == 0):
                problems.append(f"{self.cmd[1]} died (exit {self.proc.returncode})")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
                if rc != 0:
                    problems.append(f"{self.cmd[1]} exited {rc} after SIGTERM")
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append(f"{self.cmd[1]} did not stop within 30 s of SIGTERM")
        self._err.close()
        self._out.close()
        text = self.stderr()
        if SANITIZER.search(text):
            problems.append("sanitizer report:\n" + text[-6000:])
        if not problems:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


@pytest.fixture
def serve():
    started = []

    def start(*args, env=None):
        p = Proc(["serve", *args], "/ping", env)
        started.append(p)
        return p

    yield start
    problems = []
    for p in started:
        problems += p.stop()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def tracking():
    started = []

    def start():
        root = tempfile.mkdtemp(prefix="cairn-serve-root-")
        p = Proc(["server", "--root", root], "/health")
        p.root = root
        started.append(p)
        return p

    yield start
    problems = []
    for p in started:
        problems += p.stop()
        shutil.rmtree(p.root, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def prometheus():
    if not (shutil.which("prometheus") or os.path.exists("/usr/bin/prometheus")):
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is not installed (scripts/deps.sh test installs it)" + " (CI=true: it must run)")
        pytest.skip("prometheus is not installed (scripts/deps.sh test installs it)")
    started = []

    def start(targets):
        p = Prometheus(targets)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def post(url, body, ct="application/json", **kw):
    kw.setdefault("timeout", 10)
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(url, data=data, headers={"Content-Type": ct}, **kw)
