"""Black-box MLflow-compatibility suite: fixtures.

The suite drives a tracking server with the real, unmodified MLflow Python client (and raw
HTTP via `requests` where the status code or error body matters).

Server under test:
  * env TRACKING_URI set  -> used as is (this is how the suite is validated against the
    real MLflow server; tests marked `cairn_only` are then skipped);
  * otherwise             -> `${CAIRN_BIN:-build/cairn} server --host 127.0.0.1 --port P
    --root <fresh tmp dir>` is started for the session, polled on GET /health, and stopped
    at the end.  The session fails loudly if the server dies, exits non-zero, or prints a
    sanitizer report (each test also checks the server's stderr for new reports, so the
    report is pinned on the test that triggered it).
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

# Fail fast instead of retrying for minutes (the client retries 429/5xx with backoff).
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
# Async logging or system metrics would make results timing dependent.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "false")

import pytest  # noqa: E402
import requests  # noqa: E402

from helpers import RawApi, unique_name  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SANITIZER_PATTERNS = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer|"
    r"ERROR: MemorySanitizer|UndefinedBehaviorSanitizer"
)

AGAINST_EXTERNAL = bool(os.environ.get("TRACKING_URI"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cairn_only: behaviour cairn must have where real MLflow differs (a quirk or a "
        "cairn improvement); skipped when TRACKING_URI points at another server",
    )


def pytest_collection_modifyitems(config, items):
    # RUN_CAIRN_ONLY=1 runs them anyway (to see that they do fail on real MLflow)
    if not AGAINST_EXTERNAL or os.environ.get("RUN_CAIRN_ONLY") == "1":
        return
    skip = pytest.mark.skip(reason="cairn_only: not MLflow's behaviour (TRACKING_URI is set)")
    for item in items:
        if "cairn_only" in item.keywords:
            item.add_marker(skip)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A cairn server child process with its stderr captured to a file."""

    def __init__(self):
        binary = os.environ.get("CAIRN_BIN", "build/cairn")
        if not os.path.isabs(binary):
            binary = os.path.join(REPO, binary)
        if not os.access(binary, os.X_OK):
            pytest.exit(f"cairn binary {binary} not found or not executable "
                        f"(build it, or set CAIRN_BIN or TRACKING_URI)", returncode=3)
        self.tmp = tempfile.mkdtemp(prefix="cairn-it-")
        self.root = os.path.join(self.tmp, "root")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = os.path.join(self.tmp, "server.stderr")
        self.stdout_path = os.path.join(self.tmp, "server.stdout")
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.offset = 0
        self.cmd = [binary, "server", "--host", "127.0.0.1", "--port", str(self.port),
                    "--root", self.root]
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)

    def stderr_text(self, start=0):
        with open(self.stderr_path, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", "replace")

    def tail(self, n=60):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def wait_healthy(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cairn server exited with {self.proc.returncode} during "
                                   f"start-up: {' '.join(self.cmd)}\n--- stderr ---\n{self.tail()}")
            try:
                r = requests.get(self.url + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"cairn server not healthy after {timeout} s ({last}): "
                           f"{' '.join(self.cmd)}\n--- stderr ---\n{self.tail()}")

    def new_sanitizer_reports(self):
        text = self.stderr_text(self.offset)
        self.offset += len(text.encode("utf-8", "replace"))
        return text if SANITIZER_PATTERNS.search(text) else None

    def stop(self):
        """Stops the server; returns a list of problems (empty when all is well)."""
        problems = []
        rc = self.proc.poll()
        if rc is not None:
            problems.append(f"cairn server died during the session (exit status {rc})")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                problems.append("cairn server did not exit within 15 s of SIGTERM (killed)")
            # 0 = clean shutdown; -SIGTERM = no handler installed, default disposition.
            if rc not in (0, -signal.SIGTERM):
                problems.append(f"cairn server exited with status {rc} after SIGTERM")
        self._err.close()
        self._out.close()
        text = self.stderr_text()
        if SANITIZER_PATTERNS.search(text):
            problems.append("sanitizer report in the server's stderr")
        if problems:
            problems.append(f"--- server stderr ({self.stderr_path}), last lines ---\n"
                            + self.tail(120))
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)  # kept for post-mortems otherwise
        return problems


_server = None


@pytest.fixture(scope="session")
def tracking_uri():
    """Base URL of the server under test (no trailing slash)."""
    global _server
    external = os.environ.get("TRACKING_URI")
    if external:
        uri = external.rstrip("/")
    else:
        _server = _Server()
        try:
            _server.wait_healthy(20.0)
        except RuntimeError as e:
            _server.stop()
            _server = None
            pytest.exit(str(e), returncode=3)
        uri = _server.url
    os.environ["MLFLOW_TRACKING_URI"] = uri
    import mlflow

    mlflow.set_tracking_uri(uri)
    yield uri
    if _server is not None:
        problems = _server.stop()
        _server = None
        if problems:
            sys.stderr.write("\n".join(problems) + "\n")
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(autouse=True)
def _server_watch(tracking_uri):
    """Per test: the server must still be alive and must not print a sanitizer report."""
    if _server is not None and _server.proc.poll() is not None:
        pytest.fail(f"cairn server is dead (exit status {_server.proc.returncode})\n"
                    + _server.tail(), pytrace=False)
    yield
    import mlflow

    while mlflow.active_run() is not None:  # never leak a fluent run into the next test
        mlflow.end_run()
    if _server is not None:
        report = _server.new_sanitizer_reports()
        if report:
            pytest.fail("sanitizer report in cairn's stderr during this test:\n" + report[-6000:],
                        pytrace=False)
        if _server.proc.poll() is not None:
            pytest.fail(f"cairn server died during this test (exit status "
                        f"{_server.proc.returncode})\n" + _server.tail(), pytrace=False)


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def exp_name(request):
    return unique_name(request)


@pytest.fixture
def exp_id(tracking_uri, exp_name):
    """A fresh experiment for this test, also made the fluent API's current experiment."""
    import mlflow

    exp = mlflow.set_experiment(exp_name)
    return exp.experiment_id


@pytest.fixture
def api(tracking_uri):
    """Raw HTTP helper bound to the server under test."""
    return RawApi(tracking_uri)


@pytest.fixture
def cairn_tmp(tracking_uri):
    """The started cairn server's scratch folder (its --root is <cairn_tmp>/root), or None
    when TRACKING_URI points at an external server."""
    return _server.tmp if _server is not None else None
