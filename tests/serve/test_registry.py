"""`cairn serve` on registry URIs: models logged and registered by the unmodified MLflow
client in a cairn tracking server, served by alias and by version; moving the alias under
load switches the server with zero failed requests; a version that cannot load leaves the
old one serving and is counted on /metrics."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests

from conftest import HERE, post


@pytest.fixture
def registry(tracking, tmp_path):
    t = tracking()
    out = tmp_path / "models.json"
    env = dict(os.environ, MLFLOW_TRACKING_URI=t.url)
    p = subprocess.run([sys.executable, os.path.join(HERE, "log_models.py"), t.url, "churn", "2", str(out)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    t.models = json.loads(out.read_text())
    return t


def set_alias(t, version):
    r = requests.post(t.url + "/api/2.0/mlflow/registered-models/alias",
                      json={"name": "churn", "alias": "champion", "version": str(version)}, timeout=10)
    assert r.status_code == 200, r.text


def body(m):
    return {"dataframe_split": {"columns": m["columns"], "data": m["rows"]}}


def close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1e-6 for x, y in zip(a, b))


def test_serve_by_version_and_alias(serve, registry, tmp_path):
    t, m = registry, registry.models
    set_alias(t, 1)
    s = serve("models:/churn/2", "--tracking-uri", t.url, "--cache", str(tmp_path / "cache"))
    r = post(s.url + "/invocations", body(m))
    assert r.status_code == 200 and close(r.json()["predictions"], m["versions"]["2"]), r.text
    assert r.headers["X-Model-Version"] == "2"
    meta = requests.get(s.url + "/v2/models/churn").json()  # named after the registered model
    assert meta["versions"] == ["2"]
    s2 = serve("models:/churn@champion", "--tracking-uri", t.url, "--cache", str(tmp_path / "cache"))
    r = post(s2.url + "/invocations", body(m))
    assert close(r.json()["predictions"], m["versions"]["1"])
    # --check posts the model's own serving example
    from conftest import cairn_bin
    p = subprocess.run([cairn_bin(), "serve", "models:/churn@champion", "--tracking-uri", t.url, "--cache",
                        str(tmp_path / "cache"), "--check"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "-> 200" in p.stdout and '"predictions"' in p.stdout, p.stdout + p.stderr


def test_alias_move_under_load_drops_nothing(serve, registry, tmp_path):
    t, m = registry, registry.models
    set_alias(t, 1)
    s = serve("models:/churn@champion", "--tracking-uri", t.url, "--poll", "1", "--cache", str(tmp_path / "c"))
    stop = threading.Event()
    seen = []
    errors = []

    def load():
        sess = requests.Session()
        while not stop.is_set():
            try:
                r = sess.post(s.url + "/invocations", data=json.dumps(body(m)),
                              headers={"Content-Type": "application/json"}, timeout=10)
                v = r.headers.get("X-Model-Version")
                if r.status_code != 200 or not close(r.json()["predictions"], m["versions"][v]):
                    errors.append((r.status_code, r.text[:200]))
                seen.append(v)
            except Exception as e:  # noqa: BLE001 - any failure counts
                errors.append(repr(e))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(1.0)
    set_alias(t, 2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not seen or seen[-1] != "2"):
        time.sleep(0.1)
    time.sleep(1.0)
    stop.set()
    for th in threads:
        th.join()
    assert not errors, errors[:5]
    assert "1" in seen and seen[-1] == "2", (len(seen), seen[-5:])
    assert seen.index("2") > 0
    text = requests.get(s.url + "/metrics").text
    assert 'cairn_serve_model_info{name="churn",version="2",flavor="xgboost",role="primary"} 1' in text
    assert 'cairn_serve_model_info{name="churn",version="1",flavor="xgboost",role="primary"} 0' in text


def test_a_version_that_fails_to_load_leaves_the_old_one(serve, registry, tmp_path):
    t, m = registry, registry.models
    set_alias(t, 1)
    # version 3: a registered model version whose files are not a model
    run = requests.post(t.url + "/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, timeout=10).json()
    art = run["run"]["info"]["artifact_uri"]
    path = art.split("mlflow-artifacts:/", 1)[1] + "/broken"
    for f, data in (("MLmodel", "flavors:\n  xgboost:\n    data: model.ubj\n    model_class: xgboost.core.Booster\n"),
                    ("model.ubj", "not a model")):
        r = requests.put(f"{t.url}/api/2.0/mlflow-artifacts/artifacts/{path}/{f}", data=data, timeout=10)
        assert r.status_code == 200, r.text
    r = requests.post(t.url + "/api/2.0/mlflow/model-versions/create",
                      json={"name": "churn", "source": art + "/broken", "run_id": run["run"]["info"]["run_id"]},
                      timeout=10)
    assert r.status_code == 200, r.text
    s = serve("models:/churn@champion", "--tracking-uri", t.url, "--poll", "1", "--cache", str(tmp_path / "c"))
    set_alias(t, 3)
    deadline = time.monotonic() + 20
    text = ""
    while time.monotonic() < deadline:
        text = requests.get(s.url + "/metrics").text
        if 'cairn_serve_model_load_failures_total{model="churn"} ' in text and \
                'cairn_serve_model_load_failures_total{model="churn"} 0' not in text:
            break
        time.sleep(0.2)
    assert 'cairn_serve_model_load_failures_total{model="churn"} 0' not in text, text
    r = post(s.url + "/invocations", body(m))
    assert r.status_code == 200 and r.headers["X-Model-Version"] == "1"
    assert "did not load" in s.stderr()


def _deployments(t, metrics=False):
    r = requests.get(t.url + "/api/cairn/v1/deployments/list", params={"metrics": "true"} if metrics else {}, timeout=10)
    assert r.status_code == 200, r.text
    return {d["name"]: d for d in r.json()["deployments"]}


def test_serve_reports_its_deployment(serve, registry, tmp_path):
    """A `cairn serve` of a registry model reports to the store every poll: its URL, its models
    with the versions served (following the alias), and its /metrics, the report before kept for
    rates; on SIGTERM it reports `stopped`. --no-report reports nothing."""
    t, m = registry, registry.models
    set_alias(t, 1)
    s = serve("models:/churn@champion", "--tracking-uri", t.url, "--cache", str(tmp_path / "cache"),
              "--poll", "1", "--report-as", "churn-eu")
    quiet = serve("models:/churn/2", "--tracking-uri", t.url, "--cache", str(tmp_path / "cache"), "--no-report")
    d = _deployments(t)["churn-eu"]
    assert d["info"]["url"] == s.url and d["info"]["state"] == "serving"
    assert [(x["name"], x["version"], x["followed"]) for x in d["info"]["models"]] == [("churn", "1", True)]
    for _ in range(5):
        assert post(s.url + "/invocations", body(m)).status_code == 200
    set_alias(t, 2)
    deadline = time.time() + 20
    while time.time() < deadline:
        d = _deployments(t, metrics=True)["churn-eu"]
        if d["info"]["models"][0]["version"] == "2" and "prev_metrics" in d:
            break
        time.sleep(0.2)
    assert d["info"]["models"][0]["version"] == "2", d["info"]
    assert d["prev_reported"] < d["reported"]
    lines = [ln for ln in d["metrics"].splitlines() if ln.startswith("cairn_http_requests_total{")]
    assert sum(float(ln.rsplit(" ", 1)[1]) for ln in lines if 'route="/invocations"' in ln) >= 5, lines
    assert "cairn_http_request_duration_seconds_bucket" in d["metrics"]
    assert set(_deployments(t)) == {"churn-eu"}, "the --no-report server stays out"
    for x in (s, quiet):
        assert x.stop() == []
    assert _deployments(t)["churn-eu"]["info"]["state"] == "stopped"
    r = requests.delete(t.url + "/api/cairn/v1/deployments/delete", json={"name": "churn-eu"}, timeout=10)
    assert r.status_code == 200 and _deployments(t) == {}
    r = requests.delete(t.url + "/api/cairn/v1/deployments/delete", json={"name": "churn-eu"}, timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_deployment_reports_are_checked(tracking):
    t = tracking()
    url = t.url + "/api/cairn/v1/deployments/report"
    ok = {"name": "d", "info": {"url": "http://x"}, "metrics": "a_total 1\n"}
    assert requests.post(url, json=ok, timeout=10).status_code == 200
    for bad, word in [({**ok, "name": ""}, "name"), ({**ok, "name": "a\nb"}, "control"),
                      ({**ok, "info": [1]}, "info"), ({k: v for k, v in ok.items() if k != "metrics"}, "metrics"),
                      ({**ok, "metrics": "x" * (1 << 20 + 1)}, "at most"), ({k: v for k, v in ok.items() if k != "info"}, "info")]:
        r = requests.post(url, json=bad, timeout=10)
        assert r.status_code == 400, (bad.get("name"), r.text)
        assert word in r.json()["message"], r.text
    # a bad report changes nothing: the good one is still there, whole
    d = _deployments(t, metrics=True)["d"]
    assert d["metrics"] == "a_total 1\n" and "prev_metrics" not in d
