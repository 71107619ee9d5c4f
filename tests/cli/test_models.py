"""Black-box tests of `cairn models` (list, show, alias, promote, lineage, audit), local and remote."""

import json

import pytest

from conftest import run_cli


@pytest.fixture
def churn(target, uniq):
    """A model with three versions whose runs logged auc 0.80, 0.85, 0.70."""
    api = target.api
    name = uniq("churn")
    eid = api.create_experiment(uniq("exp"))
    api.post("registered-models/create", {"name": name})
    runs = []
    for auc in (0.80, 0.85, 0.70):
        rid = api.create_run(eid, params={"lr": "0.1"}, metrics={"auc": auc},
                             tags={"mlflow.source.git.commit": "abc123"})
        runs.append(rid)
        api.post("model-versions/create", {"name": name, "source": f"runs:/{rid}/model", "run_id": rid})
    return name, runs


def test_models_help():
    r = run_cli(["models", "--help"])
    assert r.rc == 0 and "promote" in r.out and "examples:" in r.out and "--tracking-uri" in r.out, r


@pytest.mark.parametrize("argv", [["models"], ["models", "frobnicate"], ["models", "show"],
                                  ["models", "alias", "set", "x"], ["models", "promote", "x", "--to", "champion"]])
def test_models_usage_errors(argv):
    r = run_cli(argv)
    assert r.rc == 2 and r.err.strip(), r


def test_models_list_and_show(target, churn):
    name, runs = churn
    r = target.cli("models", "alias", "set", name, "champion", "2")
    assert r.rc == 0, r
    r = target.cli("models", "list", "--filter", f"name = '{name}'")
    assert r.rc == 0, r
    row = r.out.splitlines()[1].split()
    assert row[0] == name and row[1] == "3" and row[2] == "champion=v2", r
    r = target.cli("models", "show", name, "--json")
    got = json.loads(r.out)
    assert [v["version"] for v in got["model_versions"]] == ["3", "2", "1"]
    r = target.cli("models", "show", f"{name}@champion")
    assert r.rc == 0 and runs[1] in r.out, r


def test_models_promote_exit_codes(target, churn):
    name, runs = churn
    req = ["--require", "metrics.auc >= champion.metrics.auc"]
    # first promotion: no incumbent, holds vacuously
    r = target.cli("models", "promote", name, "--from", "1", "--to", "champion", *req)
    assert r.rc == 0 and "promoted" in r.out, r
    r = target.cli("models", "alias", "set", name, "challenger", "2")
    r = target.cli("models", "promote", name, "--from", "challenger", "--to", "champion", *req)
    assert r.rc == 0, r
    assert "0.85" in r.out and "0.8" in r.out, r
    assert target.api.get("registered-models/alias", {"name": name, "alias": "champion"})[
        "model_version"]["version"] == "2"
    # worse candidate: exit 3, nothing moves, the table shows the values
    r = target.cli("models", "promote", name, "--from", "3", "--to", "champion", *req)
    assert r.rc == 3 and "FAILED" in r.out and "0.7" in r.out, r
    assert target.api.get("registered-models/alias", {"name": name, "alias": "champion"})[
        "model_version"]["version"] == "2"
    # bad expression, unknown model, unknown alias: exit 2
    r = target.cli("models", "promote", name, "--from", "3", "--to", "champion", "--require", "metrics.auc >>= 1")
    assert r.rc == 2 and "bad requirement" in r.err, r
    r = target.cli("models", "promote", name + "-nope", "--from", "3", "--to", "champion")
    assert r.rc == 2 and "not found" in r.err, r
    r = target.cli("models", "promote", name, "--from", "nope", "--to", "champion")
    assert r.rc == 2, r
    # recorded: tag on the version and the audit log
    mv = target.api.get("model-versions/get", {"name": name, "version": "2"})["model_version"]
    tags = {t["key"]: t["value"] for t in mv.get("tags", [])}
    assert json.loads(tags["cairn.promotion.champion"])["from"] == "challenger"
    r = target.cli("models", "audit", name, "--json")
    actions = [e["action"] for e in json.loads(r.out)["entries"]]
    assert actions[0] == "promote_rejected" and actions.count("promote") == 2, actions
    r = target.cli("models", "audit", name)
    assert r.rc == 0 and "promote_rejected" in r.out, r


def test_models_lineage(target, churn):
    name, runs = churn
    r = target.cli("models", "lineage", f"{name}/2")
    assert r.rc == 0, r
    assert runs[1] in r.out and "abc123" in r.out and "auc" in r.out and "lr" in r.out, r
    r = target.cli("models", "lineage", f"{name}/2", "--json")
    got = json.loads(r.out)
    assert got["git_commit"] == "abc123" and got["run"]["info"]["run_id"] == runs[1]
    r = target.cli("models", "lineage", f"{name}/9")
    assert r.rc == 2 and "not found" in r.err, r


def test_models_alias_errors(target, churn):
    name, _ = churn
    r = target.cli("models", "alias", "set", name, "latest", "1")
    assert r.rc == 2 and "reserved" in r.err, r
    r = target.cli("models", "alias", "set", name, "champion", "9")
    assert r.rc == 2, r
    r = target.cli("models", "alias", "delete", name, "champion")
    assert r.rc == 0, r


def test_models_log_sklearn_and_register(target, uniq, tmp_path):
    import subprocess
    import os
    py = os.environ.get("PY", "/usr/bin/python3")
    subprocess.run([py, "-c", (
        "import pickle, pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X = pd.DataFrame({'a': [0.0, 1.0, 0.9, 0.1], 'b': [1, 0, 0, 1], 'c': ['x', 'y', 'x', 'y']})\n"
        f"pickle.dump(LogisticRegression().fit(X[['a', 'b']], [0, 1, 1, 0]), open('{tmp_path}/model.pkl', 'wb'))\n"
        f"X.to_csv('{tmp_path}/train.csv', index=False)\n")], check=True)
    name = uniq("logged")
    r = target.cli("models", "log", str(tmp_path / "model.pkl"), "--flavor", "sklearn",
                   "--signature-from", str(tmp_path / "train.csv"), "--register", name, "-e", uniq("exp"))
    assert r.rc == 0 and "registered" in r.out, r
    mv = target.api.get("model-versions/get", {"name": name, "version": "1"})["model_version"]
    run = target.api.run(mv["run_id"])
    assert run["info"]["status"] == "FINISHED"
    text = target.api.artifact(f"{run['info']['artifact_uri'].split(':/', 1)[1]}/model/MLmodel").text
    assert "sklearn" in text and "python_function" in text and '"name": "c"' in text and '"type": "string"' in text
    # a bad flavor or a missing file changes nothing
    r = target.cli("models", "log", str(tmp_path / "model.pkl"), "--flavor", "onnx", "--register", name)
    assert r.rc == 2, r
    r = target.cli("models", "log", str(tmp_path / "nope.pkl"), "--flavor", "sklearn", "--register", name)
    assert r.rc == 2, r
    r = target.api.get("model-versions/search", {"filter": f"name = '{name}'"})
    assert len(r["model_versions"]) == 1
