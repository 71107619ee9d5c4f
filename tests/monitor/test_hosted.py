"""Monitors kept in the store: defined with `cairn monitor add` (or /api/cairn/v1/monitors), run inside a
real `cairn server` (or `cairn serve`) on its own thread, recorded window by window with the incident's
events, exported on the host's /metrics, and carried on after kill -9 without losing or repeating a
window."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_monitor import CAIRN, MODEL, free_port, rows, send   # noqa: E402


def cairn(*args, rc=0):
    p = subprocess.run([CAIRN, *args], capture_output=True, text=True)
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    if rc is not None:
        assert p.returncode == rc, (args, p.stdout, p.stderr)
    return p


class Proc:
    """A cairn server or cairn serve started by the test, waited for on a health route."""

    def __init__(self, tmp, args, health, name):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.errpath = tmp / ("%s.err" % name)
        self.err = open(self.errpath, "ab")
        # the port first: a later option must not override it (--monitor-poll once did)
        self.p = subprocess.Popen([CAIRN, args[0], "--port", str(self.port), *args[1:]], stdout=subprocess.DEVNULL,
                                  stderr=self.err)
        for _ in range(600):
            try:
                if requests.get(self.url + health, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        self.p.kill()
        pytest.fail("%s did not start: %s" % (name, self.errpath.read_text(errors="replace")))

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            rc = self.p.wait(timeout=30)
            if sig == signal.SIGTERM:
                assert rc == 0, self.log()
        self.err.close()
        if sig == signal.SIGTERM:
            assert "Sanitizer" not in self.log() and "runtime error" not in self.log(), self.log()

    def log(self):
        return self.errpath.read_text(errors="replace")


@pytest.fixture
def registered(tmp_path):
    """a root with model `reg` v1 (its training profile attached) behind alias champion"""
    train = tmp_path / "train.csv"
    train.write_text("f0,f1,f2,f3,f4\n" + "".join(",".join(map(str, r)) + "\n" for r in rows(3000, 1)))
    root = tmp_path / "root"
    cairn("models", "log", os.path.join(MODEL, "model.ubj"), "--flavor", "xgboost", "--profile", str(train),
          "--register", "reg", "--root", str(root))
    cairn("models", "alias", "set", "reg", "champion", "1", "--root", str(root))
    return root


def wait_windows(uri, name, n, timeout=90, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = json.loads(cairn("monitor", "show", name, "--json", "--tracking-uri", uri).stdout)["monitor"]
        if m["windows"] >= n:
            return m
        time.sleep(0.3)
    pytest.fail("monitor %s: %d windows, not %d\n%s" % (name, m["windows"], n, proc.log() if proc else ""))


def history(uri, name):
    return json.loads(cairn("monitor", "history", name, "--json", "--max", "100", "--tracking-uri", uri).stdout)


def test_a_stored_monitor_runs_inside_cairn_server_and_survives_kill_9(registered, tmp_path):
    root, log = registered, tmp_path / "ilog"
    cairn("monitor", "add", "reg", "--model", "models:/reg@champion", "--window-rows", "1000", "--log-dir",
          str(log), "--drift-share", "0.2", "--root", str(root))
    serve = Proc(tmp_path, ["serve", MODEL, "--name", "reg", "--log-dir", str(log)], "/ping", "serve")
    server = Proc(tmp_path, ["server", "--root", str(root), "--monitor-poll", "1"], "/health", "server")
    try:
        for i in range(20):              # a window like the training data
            send(serve.url, rows(50, 100 + i), "split")
        for i in range(20):              # a window with f0 shifted by one standard deviation
            send(serve.url, rows(50, 200 + i, shift=1.0), "split")
        for i in range(2):               # opens a third window, closing the second
            send(serve.url, rows(50, 300 + i, shift=1.0), "split")
        m = wait_windows(server.url, "reg", 2, proc=server)
        assert m["firing"] and m["owner"].startswith("server@")
        listing = cairn("monitor", "list", "--tracking-uri", server.url).stdout
        assert "reg" in listing and "FIRING" in listing, listing
        h = history(server.url, "reg")
        wins = sorted(h["windows"], key=lambda w: w["index"])
        assert [w["index"] for w in wins] == [0, 1]
        assert [w["rows"] for w in wins] == [1000, 1000]
        assert [w["dataset_drift"] for w in wins] == [False, True]
        assert "f0" in wins[1]["drifted_columns"]
        firing = [e for e in h["events"] if e["event"] == "firing"]
        assert len(firing) == 1 and firing[0]["window"] == 1 and len(firing[0]["incident"]) == 32
        assert firing[0]["detail"]["alert"]["event"] == "cairn.drift.firing"
        # the whole drift result is kept, and names the version compared with
        full = requests.get(server.url + "/api/cairn/v1/monitors/windows",
                            params={"name": "reg", "full": "true", "max_results": 1}).json()["windows"][0]
        assert full["result"]["reference"] == "reg/1"
        assert full["result"]["drift"]["columns"]["f0"]["drifted"]
        # the gauges are on the server's own /metrics
        text = requests.get(server.url + "/metrics", timeout=5).text
        assert 'cairn_monitor_dataset_drift{monitor="reg"} 1' in text
        assert 'cairn_monitor_column_drifted{monitor="reg",column="f0"} 1' in text
        # each window is a step of the monitoring run
        run_id = m["state"]["run_id"]
        hist = requests.get(server.url + "/api/2.0/mlflow/metrics/get-history",
                            params={"run_id": run_id, "metric_key": "drift.dataset_drift"}).json()["metrics"]
        assert sorted((p["step"], p["value"]) for p in hist) == [(0, 0.0), (1, 1.0)]

        # kill -9: the lease runs out, the restarted server carries on from the stored state
        server.stop(signal.SIGKILL)
        for i in range(18):              # the rest of the third window, then the start of a fourth
            send(serve.url, rows(50, 400 + i, shift=1.0), "split")
        for i in range(2):
            send(serve.url, rows(50, 500 + i), "split")
        server = Proc(tmp_path, ["server", "--root", str(root), "--monitor-poll", "1"], "/health", "server2")
        m = wait_windows(server.url, "reg", 3, proc=server)
        h = history(server.url, "reg")
        assert sorted(w["index"] for w in h["windows"]) == [0, 1, 2]
        assert [w["rows"] for w in sorted(h["windows"], key=lambda w: w["index"])] == [1000, 1000, 1000]
        # the incident goes on: no second firing event, the same run
        assert len([e for e in h["events"] if e["event"] == "firing"]) == 1
        assert m["state"]["run_id"] == run_id and m["firing"]
    finally:
        server.stop()
        serve.stop()
    # a clean stop gives the lease back
    m = json.loads(cairn("monitor", "show", "reg", "--json", "--root", str(root)).stdout)["monitor"]
    assert m["owner"] == "" and m["lease_until"] == 0


def test_cairn_serve_runs_the_monitors_of_the_models_it_serves(registered, tmp_path):
    """no log_dir in the spec: the cairn serve serving models:/reg@champion runs it on its own log,
    and its gauges join cairn serve's /metrics"""
    root, log = registered, tmp_path / "ilog"
    cairn("monitor", "add", "champ", "--model", "models:/reg@champion", "--window-rows", "500", "--root", str(root))
    cairn("monitor", "add", "other", "--model", "models:/nope@champion", "--window-rows", "500", "--root", str(root))
    cairn("monitor", "add", "retrains", "--model", "models:/reg@champion", "--window-rows", "500", "--retrain",
          str(tmp_path), "--root", str(root))
    serve = Proc(tmp_path, ["serve", "models:/reg@champion", "--root", str(root), "--log-dir", str(log), "--poll", "1",
                            "--cache", str(tmp_path / "cache")], "/ping", "serve")
    try:
        for i in range(12):
            send(serve.url, rows(50, 600 + i, shift=2.0 if i >= 6 else 0.0), "split")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = json.loads(cairn("monitor", "show", "champ", "--json", "--root", str(root)).stdout)["monitor"]
            if m["windows"] >= 1:
                break
            time.sleep(0.3)
        assert m["windows"] == 1, serve.log()
        assert m["owner"].startswith("serve@")
        text = requests.get(serve.url + "/metrics", timeout=5).text
        assert 'cairn_monitor_window_rows{monitor="champ"} 500' in text
        other = json.loads(cairn("monitor", "show", "other", "--json", "--root", str(root)).stdout)["monitor"]
        assert other["owner"] == "" and other["windows"] == 0    # not a model this server serves
        # retraining needs cairn server --pipeline: cairn serve leaves that monitor alone
        retrains = json.loads(cairn("monitor", "show", "retrains", "--json", "--root", str(root)).stdout)["monitor"]
        assert retrains["owner"] == "" and retrains["windows"] == 0
    finally:
        serve.stop()


def test_late_labels_revise_the_stored_windows(registered, tmp_path):
    """labels posted after a window was recorded: the host scores the window again, stores the new
    performance as revision 1 of that window, and logs it at the window's step of the monitoring run"""
    root, log = registered, tmp_path / "ilog"
    cairn("monitor", "add", "late", "--model", "models:/reg@champion", "--window-rows", "100", "--root", str(root))
    serve = Proc(tmp_path, ["serve", "models:/reg@champion", "--root", str(root), "--log-dir", str(log), "--poll", "1",
                            "--cache", str(tmp_path / "cache")], "/ping", "serve")
    try:
        preds = {}
        for i in range(5):   # windows 0 and 1 close, a third opens
            body = {"dataframe_split": {"columns": ["f0", "f1", "f2", "f3", "f4"], "data": rows(50, 700 + i)}}
            r = requests.post(serve.url + "/invocations", json=body, headers={"X-Request-ID": "late-%d" % i}, timeout=10)
            assert r.status_code == 200
            preds["late-%d" % i] = r.json()["predictions"]

        def windows():
            h = json.loads(cairn("monitor", "history", "late", "--json", "--root", str(root)).stdout)
            return sorted(h["windows"], key=lambda w: w["index"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(windows()) < 2:
            time.sleep(0.3)
        wins = windows()
        assert len(wins) == 2 and all(w.get("performance") is None for w in wins), serve.log()
        # the truth for window 0 (requests 0 and 1), each prediction off by 0.25
        r = requests.post(serve.url + "/labels", json={"labels": [
            {"request_id": k, "label": [p + 0.25 for p in preds[k]]} for k in ("late-0", "late-1")]}, timeout=10)
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and windows()[0]["revision"] < 1:
            time.sleep(0.3)
        wins = windows()
        assert wins[0]["revision"] == 1, serve.log()
        assert wins[0]["performance"]["labelled"] == 100
        assert wins[0]["performance"]["rmse"] == pytest.approx(0.25, abs=1e-6)
        assert wins[1]["revision"] == 0 and wins[1].get("performance") is None
        # the monitoring run has it at step 0
        m = json.loads(cairn("monitor", "show", "late", "--json", "--root", str(root)).stdout)["monitor"]
        assert m["state"]["recent"][0]["revision"] == 1
        run_id = m["state"]["run_id"]
        p = cairn("runs", "show", run_id, "--json", "--root", str(root))
        assert "performance.rmse" in p.stdout, p.stdout
    finally:
        serve.stop()


def test_the_monitor_api_checks_what_it_is_given(tmp_path):
    root = tmp_path / "root"
    server = Proc(tmp_path, ["server", "--root", str(root), "--no-monitors"], "/health", "server")
    api = server.url + "/api/cairn/v1/monitors"
    try:
        def post(path, body, status=200, method="post"):
            r = getattr(requests, method)(api + path, json=body, timeout=5)
            assert r.status_code == status, (path, body, r.status_code, r.text)
            return r.json()
        spec = {"model": "models:/m@champion", "window_seconds": 60, "log_dir": "/tmp/x"}
        made = post("/create", {"name": "m1", "spec": spec})["monitor"]
        assert made["spec"] == spec and made["enabled"] and made["windows"] == 0 and made["state"] is None
        for body, needle in [({"name": "m1", "spec": spec}, "already exists"),
                             ({"name": "bad name", "spec": spec}, "invalid monitor name"),
                             ({"name": "m2"}, "spec"),
                             ({"name": "m2", "spec": {"window_seconds": 60}}, "'model' is required"),
                             ({"name": "m2", "spec": {"model": "x"}}, "window"),
                             ({"name": "m2", "spec": {"model": "x", "window_seconds": 60, "window_rows": 5}}, "one of"),
                             ({"name": "m2", "spec": {"model": "x", "window_rows": 0}}, "window_rows"),
                             ({"name": "m2", "spec": {"model": "x", "window_rows": 5, "drift_share": 2}}, "share"),
                             ({"name": "m2", "spec": {"model": "x", "window_rows": 5, "log_dir": "rel"}}, "absolute"),
                             ({"name": "m2", "spec": {"model": "x", "window_rows": 5, "label_horizon": -1}},
                              "label_horizon"),
                             ({"name": "m2", "spec": {"model": "x", "window_rows": 5, "colour": 1}}, "unknown field")]:
            err = post("/create", body, 400)
            assert needle in err["message"] and err["error_code"] in ("INVALID_PARAMETER_VALUE",
                                                                      "RESOURCE_ALREADY_EXISTS"), err
        r = requests.get(api + "/get", params={"name": "nope"}, timeout=5)
        assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        # the lease: one runner at a time
        a = post("/claim", {"name": "m1", "owner": "a", "lease_ms": 60000})
        assert a["claimed"] and a["monitor"]["owner"] == "a"
        b = post("/claim", {"name": "m1", "owner": "b", "lease_ms": 60000})
        assert not b["claimed"] and b["monitor"]["owner"] == "a"
        window = {"start_us": 0, "end_us": 60000000, "rows": 10, "dataset_drift": False, "share": 0.0}
        state = {"seq": 1, "offset": 10, "line": 2, "step": 1}
        assert "lease" in post("/record", {"name": "m1", "owner": "b", "lease_ms": 60000, "index": 0, "window": window,
                                           "state": state}, 400)["message"]
        assert "not the next" in post("/record", {"name": "m1", "owner": "a", "lease_ms": 60000, "index": 3,
                                                  "window": window, "state": state}, 400)["message"]
        post("/record", {"name": "m1", "owner": "a", "lease_ms": 60000, "index": 0, "window": window, "state": state,
                         "event": {"event": "firing", "incident": "i1"}})
        # a record that was stored but whose answer was lost is refused the second time
        assert "not the next" in post("/record", {"name": "m1", "owner": "a", "lease_ms": 60000, "index": 0,
                                                  "window": window, "state": state}, 400)["message"]
        got = requests.get(api + "/get", params={"name": "m1"}, timeout=5).json()["monitor"]
        assert got["windows"] == 1 and got["state"]["offset"] == 10 and got["last_window"]["rows"] == 10
        # revising a window (late labels): only the owner, only a recorded window, only a newer revision
        perf = {"labelled": 4, "task": "regression", "rmse": 0.5, "mae": 0.4}
        rv = {"name": "m1", "owner": "a", "lease_ms": 60000, "index": 0, "revision": 1, "performance": perf,
              "state": dict(state, labels_size=99)}
        assert "lease" in post("/revise", dict(rv, owner="b"), 400)["message"]
        assert post("/revise", dict(rv, index=7), 404)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "numbered from 1" in post("/revise", dict(rv, revision=0), 400)["message"]
        assert "object" in post("/revise", dict(rv, performance=[1]), 400)["message"]
        post("/revise", rv)
        assert "revision 1 already" in post("/revise", rv, 400)["message"]
        w0 = requests.get(api + "/windows", params={"name": "m1", "full": "true"}, timeout=5).json()["windows"][0]
        assert w0["revision"] == 1 and w0["performance"] == perf and w0["result"]["rows"] == 10
        got = requests.get(api + "/get", params={"name": "m1"}, timeout=5).json()["monitor"]
        assert got["state"]["labels_size"] == 99 and got["windows"] == 1
        post("/release", {"name": "m1", "owner": "a"})
        assert post("/claim", {"name": "m1", "owner": "b", "lease_ms": 60000})["claimed"]
        # disabled: nobody may claim it; update merges the spec
        upd = post("/update", {"name": "m1", "enabled": False, "spec": {"drift_share": 0.3, "log_dir": None}},
                   method="patch")["monitor"]
        assert not upd["enabled"] and upd["spec"]["drift_share"] == 0.3 and "log_dir" not in upd["spec"]
        assert not post("/claim", {"name": "m1", "owner": "b", "lease_ms": 60000})["claimed"]
        ev = requests.get(api + "/events", params={"name": "m1"}, timeout=5).json()["events"]
        assert [e["event"] for e in ev] == ["firing"] and ev[0]["window"] == 0 and ev[0]["incident"] == "i1"
        post("/delete", {"name": "m1"}, method="delete")
        assert requests.get(api + "/get", params={"name": "m1"}, timeout=5).status_code == 404
        assert requests.get(api + "/windows", params={"name": "m1"}, timeout=5).status_code == 404
    finally:
        server.stop()


def test_the_cli_checks_before_it_sends(tmp_path):
    root = str(tmp_path / "root")
    for args, needle in [(["add", "m", "--window", "1h"], "'model' is required"),
                         (["add", "m", "--model", "x"], "window"),
                         (["add", "m", "--model", "x", "--window", "5y"], "duration"),
                         (["add", "m", "--model", "x", "--window-rows", "-3"], "whole number"),
                         (["add", "m", "--model", "x", "--window", "1h", "--retrain", str(tmp_path / "no")], "pipeline"),
                         (["add", "bad/name", "--model", "x", "--window", "1h"], "invalid monitor name"),
                         (["show"], "which monitor"),
                         (["list", "--model", "x"], "takes no monitor fields")]:
        p = cairn("monitor", *args, "--root", root, rc=2)
        assert needle in p.stderr, (args, p.stderr)
    p = cairn("monitor", "show", "nope", "--root", root, rc=1)
    assert "No monitor named 'nope'" in p.stderr
    cairn("monitor", "add", "m", "--model", "models:/x@a", "--window", "15m", "--log-dir", "rel/logs", "--disabled",
          "--root", root)
    m = json.loads(cairn("monitor", "show", "m", "--json", "--root", root).stdout)["monitor"]
    assert m["spec"]["window_seconds"] == 900 and m["spec"]["log_dir"] == os.path.join(os.getcwd(), "rel/logs")
    assert not m["enabled"]
    cairn("monitor", "update", "m", "--window-rows", "50", "--unset", "log_dir", "--root", root)
    cairn("monitor", "enable", "m", "--root", root)
    m = json.loads(cairn("monitor", "show", "m", "--json", "--root", root).stdout)["monitor"]
    assert m["spec"] == {"model": "models:/x@a", "window_rows": 50} and m["enabled"]
    assert "no windows yet" in cairn("monitor", "history", "m", "--root", root).stdout
    cairn("monitor", "delete", "m", "--root", root)
    assert "no monitors" in cairn("monitor", "list", "--root", root).stdout
