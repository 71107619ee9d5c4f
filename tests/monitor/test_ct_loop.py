"""The continuous-training loop end to end, with no human step: a champion served by a real
`cairn serve` gets drifted traffic -> its monitor (kept in the store, run by a real `cairn server`)
fires and posts its webhook -> the server's retrain trigger runs the pipeline of examples/ct on
the new data -> the data validation stage and the promotion gate pass -> the alias moves ->
`cairn serve` hot-swaps to the new version -> the next windows compare with the new version's
training profile and the incident resolves. Every step is read back from where it is recorded:
the monitor's events, the webhook receiver, the pipeline's run (tagged with the incident), the
registry's audit log, the answer's X-Model-Version. A gate that fails, and a validation that
fails, leave the champion serving and say why."""
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_hosted import Proc, cairn, history   # noqa: E402
from test_monitor import CAIRN, REPO   # noqa: E402

EXAMPLE = os.path.join(REPO, "examples", "ct")
sys.path.insert(0, os.path.join(EXAMPLE, "src"))
import world   # noqa: E402

PY = "/usr/bin/python3"
NAME = "ct-regressor"


class Hooks:
    """a webhook receiver on 127.0.0.1: every body posted to it, in order"""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def simulate(*args):
    p = subprocess.run([PY, os.path.join(EXAMPLE, "src", "simulate.py"), *args], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def until(what, fn, timeout=120, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    pytest.fail("timed out waiting for %s\n%s" % (what, proc.log() if proc else ""))


class Loop:
    """examples/ct copied to a git workspace, its first model trained, registered and promoted by
    `cairn repro` against a real `cairn server --pipeline`, served by `cairn serve` following
    models:/ct-regressor@champion, and a monitor that retrains through the server"""

    def __init__(self, tmp):
        self.tmp = tmp
        self.ws = tmp / "ws"
        shutil.copytree(EXAMPLE, self.ws, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["git", "init", "-q", str(self.ws)], check=True)
        simulate("data", "-o", str(self.ws / "data" / "train.csv"), "--rows", "3000", "--seed", "1")
        self.hooks = Hooks()
        self.server = Proc(tmp, ["server", "--root", str(tmp / "root"), "--pipeline", str(self.ws), "--monitor-poll",
                                 "1", "--webhook-allow", "127.0.0.1"], "/health", "server")
        self.uri = self.server.url
        p = subprocess.run([CAIRN, "repro", "--tracking-uri", self.uri],
                           cwd=self.ws, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "promoted: %s@champion -> version 1" % NAME in p.stdout, p.stdout
        self.log = tmp / "ilog"
        self.serve = Proc(tmp, ["serve", "models:/%s@champion" % NAME, "--tracking-uri", self.uri, "--log-dir",
                                str(self.log), "--poll", "1"], "/ping", "serve")
        cairn("monitor", "add", "ct", "--model", "models:/%s@champion" % NAME, "--window-rows", "500", "--log-dir",
              str(self.log), "--drift-share", "0.2", "--retrain", str(self.ws), "--webhook", self.hooks.url,
              "--tracking-uri", self.uri)

    def traffic(self, rows, seed, shift=0.0):
        """the versions that answered, in order"""
        out = simulate("traffic", self.serve.url, "--rows", str(rows), "--seed", str(seed), "--shift", str(shift),
                       "--labels")
        return [line.split()[2] for line in out.splitlines()]

    def events(self):
        return sorted(history(self.uri, "ct")["events"], key=lambda e: e["time"])

    def event(self, kind):
        return next((e for e in self.events() if e["event"] == kind), None)

    def triggered_runs(self):
        r = requests.post(self.uri + "/api/2.0/mlflow/runs/search",
                          json={"experiment_ids": ["0"], "filter": "tags.cairn.trigger LIKE 'monitor ct:%'"})
        assert r.status_code == 200, r.text
        return r.json().get("runs", [])

    def finished_retrain(self):
        runs = self.triggered_runs()
        return runs[0] if runs and runs[0]["info"]["status"] != "RUNNING" else None

    def audit(self):
        r = requests.get(self.uri + "/api/cairn/v1/registry/audit", params={"name": NAME, "max_results": 100})
        assert r.status_code == 200, r.text
        return r.json()["entries"]

    def champion(self):
        r = requests.get(self.uri + "/api/2.0/mlflow/registered-models/alias", params={"name": NAME,
                                                                                      "alias": "champion"})
        assert r.status_code == 200, r.text
        return r.json()["model_version"]["version"]

    def stop(self):
        self.serve.stop()
        self.server.stop()
        self.hooks.close()


@pytest.fixture
def loop(tmp_path):
    lp = Loop(tmp_path)
    yield lp
    lp.stop()


def drift_until_firing(lp, new_data):
    """traffic as the training data, then new data lands and the traffic shifts with it"""
    assert set(lp.traffic(1000, 5)) == {"1"}
    new_data()
    versions = lp.traffic(1100, 6, shift=2.0)
    assert versions[0] == "1"
    firing = until("the firing event", lambda: lp.event("firing"), proc=lp.server)
    retrain = firing["detail"]["retrain"]
    assert firing["window"] == 2 and retrain["target"] == str(lp.ws) and retrain["started"] is True, retrain
    assert firing["detail"]["webhook"]["delivered"]
    body = until("the webhook", lambda: lp.hooks.bodies)[0]
    assert body["event"] == "cairn.drift.firing" and body["incident"] == firing["incident"]
    assert body["drifted_columns"] == ["f0"]
    run = until("the retraining pipeline run", lp.finished_retrain, proc=lp.server)
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["cairn.trigger"] == "monitor ct: drift incident %s" % firing["incident"]
    return firing, run


def test_drift_retrains_promotes_and_the_new_champion_is_served(loop):
    lp = loop
    firing, run = drift_until_firing(lp, lambda: simulate("data", "-o", str(lp.ws / "data" / "train.csv"), "--rows",
                                                          "3000", "--seed", "2", "--shift", "2"))
    assert run["info"]["status"] == "FINISHED", lp.server.log()
    # the gate's audit record: version 2 promoted over version 1 with the values compared
    promote = [e for e in lp.audit() if e["action"] == "promote"]
    assert [e["version"] for e in promote] == [2, 1]
    assert promote[0]["details"]["previous"]["version"] == "1"
    assert all(c["holds"] for c in promote[0]["details"]["checks"])
    assert {c["expr"] for c in promote[0]["details"]["checks"]} == {"metrics.rmse <= 0.5",
                                                                  "metrics.holdout_rows >= 200"}
    assert lp.champion() == "2"
    # cairn serve follows the alias: the next answers come from version 2
    until("cairn serve on version 2", lambda: "switched from version 1 to 2" in lp.serve.log(), proc=lp.serve)
    versions = lp.traffic(1100, 7, shift=2.0)
    assert set(versions) == {"2"}
    # compared with version 2's training profile, the shifted traffic is no drift: resolved
    resolved = until("the resolved event", lambda: lp.event("resolved"), proc=lp.server)
    assert resolved["incident"] == firing["incident"] and resolved["window"] > firing["window"]
    assert until("the resolved webhook", lambda: len(lp.hooks.bodies) >= 2 and lp.hooks.bodies)[1]["event"] == \
        "cairn.drift.resolved"
    wins = sorted(history(lp.uri, "ct")["windows"], key=lambda w: w["index"])
    assert wins[resolved["window"]]["dataset_drift"] is False
    full = requests.get(lp.uri + "/api/cairn/v1/monitors/windows",
                        params={"name": "ct", "full": "true", "max_results": 1}).json()["windows"][0]
    assert full["result"]["reference"] == "%s/2" % NAME
    # live performance from the labels posted with the traffic
    assert all(w["performance"]["labelled"] == 500 and "rmse" in w["performance"] for w in wins)
    m = json.loads(cairn("monitor", "show", "ct", "--json", "--tracking-uri", lp.uri).stdout)["monitor"]
    assert not m["firing"]


def test_a_gate_that_fails_leaves_the_champion_serving_and_says_why(loop):
    lp = loop

    def new_data():
        simulate("data", "-o", str(lp.ws / "data" / "train.csv"), "--rows", "3000", "--seed", "2", "--shift", "2")
        params = (lp.ws / "params.yaml").read_text()
        (lp.ws / "params.yaml").write_text(params.replace("max_rmse: 0.5", "max_rmse: 0.01"))

    firing, run = drift_until_firing(lp, new_data)
    assert run["info"]["status"] == "FAILED"
    # version 2 was trained and registered, the gate refused it: the audit says which check failed
    rejected = [e for e in lp.audit() if e["action"] == "promote_rejected"]
    assert len(rejected) == 1 and rejected[0]["version"] == 2
    failed = [c for c in rejected[0]["details"]["checks"] if not c["holds"]]
    assert [c["expr"] for c in failed] == ["metrics.rmse <= 0.01"]
    assert lp.champion() == "1"
    # the stage that refused is recorded as failed in the pipeline's run, with its output
    stage = stage_run(lp, run, "promote")
    assert stage["tags"]["cairn.result"] == "failed"
    # the champion keeps serving; the incident stays open
    assert set(lp.traffic(600, 8, shift=2.0)) == {"1"}
    assert "switched" not in lp.serve.log()
    time.sleep(2.5)
    assert lp.event("resolved") is None
    assert [e["event"] for e in lp.events()].count("firing") == 1


def test_a_validation_that_fails_stops_the_retrain_before_training(loop):
    lp = loop
    firing, run = drift_until_firing(lp, lambda: simulate("data", "-o", str(lp.ws / "data" / "train.csv"), "--rows",
                                                          "3000", "--seed", "2", "--shift", "2", "--null-share",
                                                          "0.2"))
    assert run["info"]["status"] == "FAILED"
    assert stage_run(lp, run, "validate")["tags"]["cairn.result"] == "failed"
    names = {r["name"] for r in child_runs(lp, run)}
    assert "train" not in names and "promote" not in names, names   # skipped: never ran
    assert [e["action"] for e in lp.audit()].count("create_version") == 1
    assert lp.champion() == "1"
    assert set(lp.traffic(500, 8, shift=2.0)) == {"1"}


def child_runs(lp, parent):
    r = requests.post(lp.uri + "/api/2.0/mlflow/runs/search",
                      json={"experiment_ids": [parent["info"]["experiment_id"]],
                            "filter": "tags.mlflow.parentRunId = '%s'" % parent["info"]["run_id"]})
    assert r.status_code == 200, r.text
    return [{"name": x["info"]["run_name"], "status": x["info"]["status"],
             "tags": {t["key"]: t["value"] for t in x["data"].get("tags", [])}} for x in r.json().get("runs", [])]


def stage_run(lp, parent, name):
    runs = [r for r in child_runs(lp, parent) if r["name"] == name]
    assert len(runs) == 1, child_runs(lp, parent)
    return runs[0]
