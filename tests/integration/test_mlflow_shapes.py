"""Answers shaped as MLflow 3.5.2 shapes them (issue 15).

- every answer holding a model version carries `description`, `run_id` and `run_link`,
  as "" when unset (create, get, update, transition-stage, search, get-latest-versions,
  a registered model's latest_versions, get-by-alias); a registered model without a
  description still omits it;
- a relative local `artifact_location` (plain or `file:`) is stored absolute, against the
  server's working folder, with "." components dropped as pathlib drops them;
- a model version created with `model_id` lists itself in the logged model's
  `mlflow.modelVersions` tag: a JSON list as Python's json.dumps writes it, versions as
  numbers, each version once;
"""

import json
import uuid

UNSET = {"description": "", "run_id": "", "run_link": ""}


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _has_unset_fields(mv, **known):
    want = dict(UNSET, **known)
    for k, v in want.items():
        assert mv.get(k) == v, (k, mv)


def test_model_versions_carry_empty_description_run_id_and_run_link(api, client, exp_id):
    name = _name("shape")
    r = api.post("registered-models/create", {"name": name})
    assert r.status_code == 200 and "description" not in r.json()["registered_model"], r.text
    run = client.create_run(exp_id).info
    r = api.post("model-versions/create", {"name": name, "source": f"runs:/{run.run_id}/model"})
    assert r.status_code == 200, r.text
    _has_unset_fields(r.json()["model_version"])
    r = api.post("model-versions/create", {"name": name, "source": run.artifact_uri + "/m", "run_id": run.run_id})
    _has_unset_fields(r.json()["model_version"], run_id=run.run_id)
    _has_unset_fields(api.get("model-versions/get", {"name": name, "version": "1"}).json()["model_version"])
    for mv in api.get("model-versions/search", {"filter": f"name='{name}'"}).json()["model_versions"]:
        _has_unset_fields(mv, run_id=run.run_id if mv["version"] == "2" else "")
    latest = api.post("registered-models/get-latest-versions", {"name": name}).json()["model_versions"]
    _has_unset_fields(latest[0], run_id=run.run_id)
    rm = api.get("registered-models/get", {"name": name}).json()["registered_model"]
    assert "description" not in rm
    _has_unset_fields(rm["latest_versions"][0], run_id=run.run_id)
    r = api.post("model-versions/transition-stage", {"name": name, "version": "1", "stage": "Staging",
                                                     "archive_existing_versions": False})
    _has_unset_fields(r.json()["model_version"])
    r = api.post("registered-models/alias", {"name": name, "alias": "a", "version": "1"})
    assert r.status_code == 200, r.text
    _has_unset_fields(api.get("registered-models/alias", {"name": name, "alias": "a"}).json()["model_version"])
    r = api.request("PATCH", "model-versions/update", json={"name": name, "version": "1", "description": "d"})
    _has_unset_fields(r.json()["model_version"], description="d")


def test_relative_artifact_location_is_made_absolute(api):
    for loc, tail, scheme in [("relative/dir", "/relative/dir", ""), ("./rel2/", "/rel2", ""),
                              ("a//b/./c", "/a/b/c", ""), ("file:relative3", "/relative3", "file://")]:
        r = api.post("experiments/create", {"name": _name("loc"), "artifact_location": loc})
        assert r.status_code == 200, r.text
        got = api.get("experiments/get", {"experiment_id": r.json()["experiment_id"]}).json()["experiment"]
        got = got["artifact_location"]
        assert got.startswith(scheme + "/") and got.endswith(tail) and "/./" not in got, (loc, got)
    for loc in ["/abs/dir", "s3://bucket/x", "file:///abs/y"]:
        r = api.post("experiments/create", {"name": _name("loc"), "artifact_location": loc})
        got = api.get("experiments/get", {"experiment_id": r.json()["experiment_id"]}).json()["experiment"]
        assert got["artifact_location"] == loc


def test_model_version_from_a_logged_model_tags_it(api, exp_id):
    r = api.post("logged-models", {"experiment_id": exp_id, "name": "lm"})
    assert r.status_code == 200, r.text
    mid = r.json()["model"]["info"]["model_id"]
    a, b = _name("mva"), _name("mvb")
    for n in (a, b):
        assert api.post("registered-models/create", {"name": n}).status_code == 200
    for n in (a, a, b):
        r = api.post("model-versions/create", {"name": n, "source": f"models:/{mid}", "model_id": mid})
        assert r.status_code == 200, r.text

    def tag():
        info = api.get(f"logged-models/{mid}").json()["model"]["info"]
        return {t["key"]: t["value"] for t in info.get("tags", [])}.get("mlflow.modelVersions")

    assert tag() == json.dumps([{"name": a, "version": 1}, {"name": a, "version": 2}, {"name": b, "version": 1}])
    # without model_id MLflow leaves the logged model alone, even for a models:/m-... source
    r = api.post("model-versions/create", {"name": b, "source": f"models:/{mid}"})
    assert r.status_code == 200, r.text
    assert json.loads(tag())[-1] == {"name": b, "version": 1}
