"""Python flavors through `cairn serve --allow-pickle`: models saved by the unmodified MLflow client
(tests/serve/pyworker_models.py) answer exactly as MLflow's own scoring server answers, over the
MLflow protocol and KServe v2; a worker that crashes is restarted and the server stays up."""

import json
import os
import subprocess
import sys

import pytest
import requests

from conftest import HERE, post


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("pymodels")
    p = subprocess.run([sys.executable, os.path.join(HERE, "pyworker_models.py"), str(out)],
                       capture_output=True, text=True, timeout=600)
    if p.returncode == 3 and os.environ.get("CI") != "true":
        pytest.skip("the MLflow client cannot be imported: " + p.stderr[-300:])
    assert p.returncode == 0, p.stdout + p.stderr
    with open(out / "expected.json") as f:
        return out, json.load(f)


def test_sklearn_matches_mlflows_own_server(serve, models):
    out, exp = models
    s = serve(str(out / "sklearn"), "--allow-pickle", "--python-workers", "1", "--name", "lr")
    for case in exp["cases"]["sklearn"]:
        headers = {} if case["content_type"] is None else {"Content-Type": case["content_type"]}
        r = requests.post(s.url + "/invocations", data=case["body"].encode(), headers=headers, timeout=60)
        assert r.status_code == case["status"], (case["name"], r.text)
        if case["status"] == 200:
            assert r.json() == json.loads(case["response"]), case["name"]
    body = {"dataframe_split": {"columns": exp["columns"], "data": exp["rows"]}}
    r = post(s.url + "/invocations", body, timeout=60)
    assert r.json()["predictions"] == exp["predictions"]
    # the same model over KServe v2
    r = post(s.url + "/v2/models/lr/infer", json.dumps(
        {"inputs": [{"name": "x", "shape": [len(exp["rows"]), len(exp["columns"])], "datatype": "FP64",
                     "data": exp["rows"]}]}), timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == exp["predictions"]


def test_a_crashing_worker_is_restarted(serve, models):
    out, _ = models
    s = serve(str(out / "tricks"), "--allow-pickle", "--python-workers", "1")

    def call(action, arg):
        return post(s.url + "/invocations", {"dataframe_split": {"columns": ["action", "arg"],
                                                                  "data": [[action, arg]]}}, timeout=60)
    r = call("double", 2.5)
    assert r.status_code == 200 and r.json()["predictions"] == [5.0], r.text
    r = call("exit", 7)
    assert r.status_code == 500 and "exit" in r.text, r.text
    r = call("double", 4)  # a fresh worker answers
    assert r.status_code == 200 and r.json()["predictions"] == [8.0], r.text
    r = call("raise", 0)  # an exception of the model: MLflow's answer, the worker lives
    assert r.status_code in (400, 500)
    assert call("double", 1).status_code == 200


def test_python_model_refused_without_the_flag(models):
    out, _ = models
    from conftest import cairn_bin
    p = subprocess.run([cairn_bin(), "serve", str(out / "sklearn"), "--port", "0"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0 and "--allow-pickle" in p.stderr and "CVE-2024-37052" in p.stderr
