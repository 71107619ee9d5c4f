"""Black-box tests of a model version's training profile: `cairn models log --profile`,
`cairn models profile URI` and `cairn drift --reference MODEL_URI`, local (--root) and remote
(--tracking-uri)."""

import csv
import json
import os

import pytest

from conftest import REPO, run_cli

FIX = os.path.join(REPO, "..", "shared", "anchors", "monitoring", "fixtures", "1k")
TRAIN = os.path.join(FIX, "reference.csv")
MODEL = os.path.join(REPO, "tests", "model", "fixtures", "xgb", "booster_binary", "model.ubj")
ARTIFACT = "model/training_profile.json"

pytestmark = pytest.mark.skipif(not os.path.exists(TRAIN), reason="monitoring fixtures missing")


def tree_path(run):
    return run["info"]["artifact_uri"].split(":/", 1)[1]


def tags(obj):
    return {t["key"]: t["value"] for t in obj.get("tags", [])}


def log(target, uniq, profile, name=None, *extra):
    name = name or uniq("prof")
    r = target.cli("models", "log", MODEL, "--flavor", "xgboost", "--register", name, "-e", uniq("exp"),
                   *(["--profile", profile] if profile else []), *extra)
    return name, r


def drifted_csv(path):
    """The training table with every numeric value moved far away: dataset drift."""
    with open(TRAIN, newline="") as f, open(path, "w", newline="") as g:
        rows = csv.reader(f)
        w = csv.writer(g)
        head = next(rows)
        w.writerow(head)
        for row in rows:
            out = []
            for col, v in zip(head, row):
                if v and col.startswith("f_"):
                    v = repr(float(v) * 3 + 1000.0)
                elif v and col.startswith("i_"):
                    v = str(int(v) * 3 + 1000)
                out.append(v)
            w.writerow(out)


def test_models_log_profile_csv(target, uniq, tmp_path):
    name, r = log(target, uniq, TRAIN)
    assert r.rc == 0 and "training profile of" in r.out and "registered" in r.out, r
    mv = target.api.get("model-versions/get", {"name": name, "version": "1"})["model_version"]
    assert tags(mv)["cairn.training_profile"] == ARTIFACT, mv
    run = target.api.run(mv["run_id"])
    assert tags(run["data"])["cairn.training_profile"] == ARTIFACT
    # an artifact of the model's run, inside the model directory
    stored = target.api.artifact(f"{tree_path(run)}/{ARTIFACT}")
    assert stored.status_code == 200
    prof = json.loads(stored.content)  # bytes: MLflow (so cairn) serves .json as text/plain, no charset
    assert prof["kind"] == "cairn.profile" and prof["dataset"]["rows"] == 1000
    assert prof["source"]["file"] == "reference.csv" and len(prof["columns"]) == 20
    # the same profile `cairn profile` makes
    ref = json.loads(run_cli(["profile", TRAIN]).out)
    assert prof["columns"] == ref["columns"] and prof["dataset"] == ref["dataset"]
    # cairn models profile: by version, by alias, to a file
    r = target.cli("models", "profile", f"models:/{name}/1")
    assert r.rc == 0 and json.loads(r.out) == prof, r
    assert target.cli("models", "alias", "set", name, "champion", "1").rc == 0
    out = tmp_path / "p.json"
    r = target.cli("models", "profile", f"models:/{name}@champion", "-o", str(out))
    assert r.rc == 0 and r.out == "", r
    assert json.loads(out.read_text()) == prof
    r = target.cli("models", "profile", f"runs:/{mv['run_id']}/model")
    assert r.rc == 0 and json.loads(r.out) == prof, r


def test_models_log_profile_json_kept_as_is(target, uniq, tmp_path):
    pj = tmp_path / "train.profile.json"
    assert run_cli(["profile", TRAIN, "--pretty", "-o", str(pj)]).rc == 0
    name, r = log(target, uniq, str(pj))
    assert r.rc == 0, r
    r = target.cli("models", "profile", f"models:/{name}/latest")
    assert r.rc == 0 and r.out == pj.read_text(), r   # the bytes given


def test_models_profile_travels_with_download(target, uniq, tmp_path):
    name, r = log(target, uniq, TRAIN)
    assert r.rc == 0, r
    d = tmp_path / "dl"
    r = target.cli("models", "download", f"models:/{name}/1", "-o", str(d))
    assert r.rc == 0, r
    assert (d / "training_profile.json").is_file() and (d / "MLmodel").is_file()
    # a local model directory needs no store
    r = run_cli(["models", "profile", str(d)])
    assert r.rc == 0 and json.loads(r.out)["dataset"]["rows"] == 1000, r
    r = run_cli(["drift", "--reference", str(d), "--current", TRAIN])
    assert r.rc == 0, r


def test_drift_reference_model_profile(target, uniq, tmp_path):
    name, r = log(target, uniq, TRAIN)
    assert r.rc == 0, r
    uri = f"models:/{name}/1"
    r = target.cli("drift", "--reference", uri, "--current", TRAIN, "--json")
    assert r.rc == 0, r
    same = json.loads(r.out)
    assert same["reference"]["file"] == uri and same["reference"]["format"] == "profile"
    assert same["dataset"]["dataset_drift"] is False and same["dataset"]["number_of_drifted_columns"] == 0
    bad = tmp_path / "today.csv"
    drifted_csv(bad)
    r = target.cli("drift", "--reference", uri, "--current", str(bad), "-o", str(tmp_path / "d.json"))
    assert r.rc == 1 and "DATASET DRIFT" in r.out, r
    got = json.loads((tmp_path / "d.json").read_text())
    # the model's profile gives what the profile file gives
    pj = tmp_path / "ref.json"
    assert run_cli(["profile", TRAIN, "-o", str(pj)]).rc == 0
    r = run_cli(["drift", "--reference", str(pj), "--current", str(bad), "--json"])
    assert r.rc == 1, r
    direct = json.loads(r.out)
    assert got["columns"] == direct["columns"] and got["dataset"] == direct["dataset"]
    # the anchor's mean shift: 6 of 20 columns drift, as with the table itself
    r = target.cli("drift", "--reference", f"models:/{name}/1", "--current",
                   os.path.join(FIX, "current_b_meanshift.csv"), "--json")
    assert r.rc == 0 and json.loads(r.out)["dataset"]["number_of_drifted_columns"] == 6, r
    r = target.cli("drift", "--reference", f"models:/{name}/1", "--current",
                   os.path.join(FIX, "current_b_meanshift.csv"), "--drift-share", "0.25")
    assert r.rc == 1, r


def test_models_profile_errors(target, uniq, tmp_path):
    # a bad profile JSON, a missing table: nothing logged or registered
    for bad, content in (("bad.json", '{"kind": "x"}'), ("broken.json", "{nope"), ("empty.csv", "")):
        p = tmp_path / bad
        p.write_text(content)
        name, r = log(target, uniq, str(p))
        assert r.rc == 2 and r.err.strip() and "registered" not in r.out, r
        r = target.api.get("registered-models/get", {"name": name}, ok=False)
        assert r.get("error_code") == "RESOURCE_DOES_NOT_EXIST", r
    name, r = log(target, uniq, str(tmp_path / "missing.csv"))
    assert r.rc == 2 and "missing.csv" in r.err, r
    # a version without a profile
    name, r = log(target, uniq, None)
    assert r.rc == 0, r
    mv = target.api.get("model-versions/get", {"name": name, "version": "1"})["model_version"]
    assert "cairn.training_profile" not in tags(mv)
    r = target.cli("models", "profile", f"models:/{name}/1")
    assert r.rc == 1 and "no training profile" in r.err and f"models:/{name}/1" in r.err and r.out == "", r
    r = target.cli("drift", "--reference", f"models:/{name}/1", "--current", TRAIN)
    assert r.rc == 2 and "no training profile" in r.err, r
    # unknown model or version: the registry's error, usage exit
    r = target.cli("models", "profile", f"models:/{name}/7")
    assert r.rc == 2 and "not found" in r.err, r
    r = target.cli("drift", "--reference", f"models:/{uniq('nope')}@champion", "--current", TRAIN)
    assert r.rc == 2 and r.err.strip(), r
    # a bare model file has no profile beside it
    r = run_cli(["models", "profile", MODEL])
    assert r.rc == 1 and "no training profile" in r.err, r
