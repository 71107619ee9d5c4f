"""Adversarial tests of cairn server's HTTP layer: fixtures.

`server(*flags)` starts `$CAIRN_BIN server` on a free loopback port with a fresh root
and the given flags, waits for /health, and stops it at the end of the test; a
sanitizer report in its stderr, a crash, or a slow SIGTERM fails the test. `raw()`
speaks HTTP over a plain socket, so malformed requests reach the server as written.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import sys

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pylib"))
from cairn_harness import SANITIZER, Prometheus, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# load tests open more than a thousand sockets on each side; children inherit this
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
_want = 8192 if _hard == resource.RLIM_INFINITY else min(8192, _hard)
if _soft < _want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_want, _hard))


def cairn_bin():
    b = os.environ.get("CAIRN_BIN", "build/asan/cairn")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


class Server:
    def __init__(self, flags, env=None):
        self.tmp = tempfile.mkdtemp(prefix="cairn-srv-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.err_path = os.path.join(self.tmp, "stderr")
        self._err = open(self.err_path, "wb")
        full_env = dict(os.environ)
        for k in ("MLFLOW_SERVER_ALLOWED_HOSTS", "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"):
            full_env.pop(k, None)
        full_env.update(env or {})
        self.cmd = [cairn_bin(), "server", "--port", str(self.port),
                    "--root", os.path.join(self.tmp, "root"), *flags]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=full_env)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not healthy after 20 s: " + self.stderr())
            time.sleep(0.05)

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def fds(self):
        """(all descriptors, sockets) the server process holds now."""
        d = f"/proc/{self.proc.pid}/fd"
        n = socks = 0
        for e in os.listdir(d):
            n += 1
            try:
                socks += os.readlink(os.path.join(d, e)).startswith("socket:")
            except OSError:
                pass
        return n, socks

    def api(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url + "/api/2.0/mlflow/" + path, **kw)

    def stop(self):
        problems = []
        if self.proc.poll() is not None:
            problems.append(f"server died (exit {self.proc.returncode})")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
                if rc not in (0, -signal.SIGTERM):
                    problems.append(f"server exited {rc} after SIGTERM")
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("server did not stop within 20 s of SIGTERM")
        self._err.close()
        text = self.stderr()
        if SANITIZER.search(text):
            problems.append("sanitizer report:\n" + text[-6000:])
        if not problems:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


@pytest.fixture
def server():
    started = []

    def start(*flags, env=None):
        s = Server(list(flags), env)
        started.append(s)
        return s

    yield start
    problems = []
    for s in started:
        problems += s.stop()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def raw(port, data, timeout=10.0, source="127.0.0.1"):
    """Send bytes, read the answer until the server closes or `timeout`; returns
    (status or None, headers dict (lower-case names), body bytes, closed)."""
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    s.sendall(data)
    buf = b""
    closed = False
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    # complete: does the server close the connection after it?
                    s.settimeout(0.5)
                    try:
                        closed = s.recv(1) == b""
                    except ConnectionResetError:
                        closed = True
                    except socket.timeout:
                        pass
                    break
    except ConnectionResetError:
        closed = True  # closed with a reset (libmicrohttpd refusing a connection over a limit)
    except socket.timeout:
        pass
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = None
    if lines and lines[0].startswith(b"HTTP/"):
        status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return status, headers, body, closed


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
