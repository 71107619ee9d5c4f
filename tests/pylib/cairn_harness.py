"""Shared by the pytest suites that start cairn servers (tests/server, tests/serve):
free ports, sanitizer patterns, and a real Prometheus server."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import requests

SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"UndefinedBehaviorSanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A real Prometheus server (Debian's /usr/bin/prometheus) scraping `targets`
    (host:port strings) every second, with its storage in a temp dir; `rules`, the text
    of a rule file, is evaluated every second too."""

    def __init__(self, targets, job="cairn", rules=None):
        self.tmp = tempfile.mkdtemp(prefix="cairn-prom-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    f"scrape_configs:\n  - job_name: {job}\n    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
            if rules:
                rf = os.path.join(self.tmp, "rules.yml")
                with open(rf, "w") as r:
                    r.write(rules)
                f.write(f"rule_files: [{rf!r}]\n")
        self._log = open(os.path.join(self.tmp, "log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(self.tmp, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + self.log())
            try:
                if requests.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus not ready after 30 s: " + self.log())
            time.sleep(0.1)

    def log(self):
        with open(os.path.join(self.tmp, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def query(self, q):
        r = requests.get(self.url + "/api/v1/query", params={"query": q}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def wait_value(self, q, want, timeout=30):
        """Poll the instant query q until its single value equals want; returns the
        last value seen (None when the series never appeared)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            res = self.query(q)
            if res:
                last = float(res[0]["value"][1])
                if last == want:
                    return last
            time.sleep(0.5)
        return last

    def alerts(self):
        """The alerting rules' states: {alert name: "inactive" | "pending" | "firing"}."""
        r = requests.get(self.url + "/api/v1/rules", timeout=5)
        r.raise_for_status()
        return {rule["name"]: rule["state"] for g in r.json()["data"]["groups"] for rule in g["rules"]
                if rule.get("type") == "alerting"}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
