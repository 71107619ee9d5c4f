"""Model registry through the unmodified MLflow client and raw HTTP: registered models,
versions, tags, aliases, stages, search, URIs, errors, concurrent version allocation,
and cairn's promotion gates and audit log."""

import concurrent.futures
import json
import os

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from helpers import assert_error, unique_name


@pytest.fixture
def model(client, request):
    name = unique_name(request, "-m")
    client.create_registered_model(name)
    return name


def _run_with(client, exp_id, **metrics):
    run = client.create_run(exp_id)
    for k, v in metrics.items():
        client.log_metric(run.info.run_id, k, v)
    return run.info.run_id


def test_create_get_registered_model(client, request):
    name = unique_name(request)
    rm = client.create_registered_model(name, tags={"team": "fraud"}, description="churn model")
    assert rm.name == name and rm.tags == {"team": "fraud"} and rm.description == "churn model"
    got = client.get_registered_model(name)
    assert got.creation_timestamp > 1e12 and got.last_updated_timestamp >= got.creation_timestamp
    assert got.description == "churn model"


def test_create_existing_is_resource_already_exists(api, model):
    r = api.post("registered-models/create", {"name": model})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")


def test_get_unknown_model(api, request):
    r = api.get("registered-models/get", {"name": unique_name(request)})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_update_and_tags(client, model):
    client.update_registered_model(model, description="new")
    client.set_registered_model_tag(model, "k", "v")
    client.set_registered_model_tag(model, "k2", "v2")
    client.delete_registered_model_tag(model, "k2")
    rm = client.get_registered_model(model)
    assert rm.description == "new" and rm.tags == {"k": "v"}


def test_versions_are_consecutive_and_not_reused(client, model, exp_id):
    run_id = _run_with(client, exp_id)
    vs = [client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id).version for _ in range(3)]
    assert vs == ["1", "2", "3"]
    client.delete_model_version(model, "3")
    assert client.create_model_version(model, f"runs:/{run_id}/model").version == "4"
    mv = client.get_model_version(model, "1")
    assert mv.run_id == run_id and mv.source == f"runs:/{run_id}/model" and mv.current_stage == "None"
    assert mv.status == "READY"


def test_concurrent_version_creation(tracking_uri, model):
    """8 concurrent clients creating versions of one model get distinct consecutive numbers."""

    def make(i):
        c = MlflowClient(tracking_uri)
        return [int(c.create_model_version(model, f"s3://bucket/m{i}-{j}").version) for j in range(5)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = sum(pool.map(make, range(8)), [])
    assert sorted(got) == list(range(1, 41))


def test_version_tags_update_description(client, model):
    client.create_model_version(model, "s3://b/m", tags={"a": "1"}, description="first")
    client.set_model_version_tag(model, "1", "b", "2")
    client.delete_model_version_tag(model, "1", "a")
    client.update_model_version(model, "1", description="changed")
    mv = client.get_model_version(model, "1")
    assert mv.tags == {"b": "2"} and mv.description == "changed"


def test_aliases_unique_and_movable(client, model):
    for _ in range(2):
        client.create_model_version(model, "s3://b/m")
    client.set_registered_model_alias(model, "champion", "1")
    assert client.get_model_version_by_alias(model, "champion").version == "1"
    client.set_registered_model_alias(model, "champion", "2")
    assert client.get_model_version_by_alias(model, "champion").version == "2"
    assert client.get_model_version(model, "1").aliases == []
    assert client.get_model_version(model, "2").aliases == ["champion"]
    assert client.get_registered_model(model).aliases == {"champion": "2"}
    client.delete_registered_model_alias(model, "champion")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(model, "champion")


@pytest.mark.parametrize("alias", ["latest", "LATEST", "v1", "V12", "bad alias", "a/b"])
def test_bad_alias_rejected(api, client, model, alias):
    client.create_model_version(model, "s3://b/m")
    r = api.post("registered-models/alias", {"name": model, "alias": alias, "version": "1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_registered_model(model).aliases == {}


def test_alias_on_unknown_version(api, model):
    r = api.post("registered-models/alias", {"name": model, "alias": "champion", "version": "7"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.cairn_only  # MLflow 3.5 keeps a dangling alias pointing at the deleted version
def test_deleting_version_drops_its_aliases(client, model):
    client.create_model_version(model, "s3://b/m")
    client.set_registered_model_alias(model, "champion", "1")
    client.delete_model_version(model, "1")
    assert client.get_registered_model(model).aliases == {}


def test_rename_keeps_versions_and_aliases(client, model, request):
    client.create_model_version(model, "s3://b/m")
    client.set_registered_model_alias(model, "champion", "1")
    new = unique_name(request, "-renamed")
    client.rename_registered_model(model, new)
    assert client.get_model_version(new, "1").aliases == ["champion"]
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|not found"):
        client.get_registered_model(model)


def test_rename_onto_existing_name(api, client, model, request):
    other = unique_name(request, "-other")
    client.create_registered_model(other)
    r = api.post("registered-models/rename", {"name": model, "new_name": other})
    assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")
    assert client.get_registered_model(model).name == model


def test_delete_model_deletes_versions(api, client, model):
    client.create_model_version(model, "s3://b/m")
    client.delete_registered_model(model)
    assert_error(api.get("model-versions/get", {"name": model, "version": "1"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert client.search_model_versions(f"name = '{model}'") == []


def test_stages_and_latest_versions(client, model):
    for _ in range(3):
        client.create_model_version(model, "s3://b/m")
    client.transition_model_version_stage(model, "1", "Production")
    client.transition_model_version_stage(model, "2", "production", archive_existing_versions=True)
    assert client.get_model_version(model, "1").current_stage == "Archived"
    latest = {m.current_stage: m.version for m in client.get_latest_versions(model)}
    assert latest == {"None": "3", "Production": "2", "Archived": "1"}
    assert [m.version for m in client.get_latest_versions(model, stages=["Production"])] == ["2"]


def test_unknown_stage(api, client, model):
    client.create_model_version(model, "s3://b/m")
    r = api.post("model-versions/transition-stage", {"name": model, "version": "1", "stage": "Prod"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert client.get_model_version(model, "1").current_stage == "None"


def test_search_registered_models(client, request):
    base = unique_name(request)
    for s in ("a", "b", "c"):
        client.create_registered_model(f"{base}-{s}", tags={"tier": "gold" if s != "b" else "silver"})
    names = [m.name for m in client.search_registered_models(f"name LIKE '{base}-%'", order_by=["name DESC"])]
    assert names == [f"{base}-c", f"{base}-b", f"{base}-a"]
    gold = [m.name for m in client.search_registered_models(f"name ILIKE '{base.upper()}-%' AND tags.tier = 'gold'")]
    assert sorted(gold) == [f"{base}-a", f"{base}-c"]
    page = client.search_registered_models(f"name LIKE '{base}-%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(f"name LIKE '{base}-%'", max_results=2, page_token=page.token)
    assert len(rest) == 1 and not rest.token


def test_search_model_versions(client, model, exp_id):
    run_a = _run_with(client, exp_id)
    run_b = _run_with(client, exp_id)
    client.create_model_version(model, "s3://b/one", run_id=run_a, tags={"q": "x"})
    client.create_model_version(model, "s3://b/two", run_id=run_b)
    assert [m.version for m in client.search_model_versions(f"name = '{model}'")] == ["2", "1"]
    assert [m.version for m in client.search_model_versions(f"name = '{model}' AND run_id = '{run_a}'")] == ["1"]
    assert [m.version for m in client.search_model_versions(f"name='{model}' AND version_number >= 2")] == ["2"]
    assert [m.version for m in client.search_model_versions(f"name='{model}' AND tags.q = 'x'")] == ["1"]
    assert [m.version for m in client.search_model_versions(f"source_path = 's3://b/two' AND name='{model}'")] == ["2"]
    got = client.search_model_versions(f"run_id IN ('{run_a}', '{run_b}') AND name = '{model}'",
                                       order_by=["version_number ASC"])
    assert [m.version for m in got] == ["1", "2"]


@pytest.mark.parametrize("flt", ["name = ", "foo = 'x'", "tags.x > 'a'", "name IN ('a')", "metrics.x > 1"])
def test_malformed_filters(api, flt):
    r = api.get("model-versions/search", {"filter": flt})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_malformed_registered_model_filter(api):
    assert_error(api.get("registered-models/search", {"filter": "name >= 'x'"}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get("registered-models/search", {"order_by": "nope"}), 400, "INVALID_PARAMETER_VALUE")


def test_unknown_version_errors(api, model):
    assert_error(api.get("model-versions/get", {"name": model, "version": "9"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post("model-versions/create", {"name": model + "-nope", "source": "s3://b/m"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.request("DELETE", "model-versions/delete", json={"name": model, "version": "9"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_download_uri_and_models_uris(client, model, exp_id, tmp_path):
    run = mlflow.MlflowClient().create_run(exp_id)
    d = tmp_path / "model"
    d.mkdir()
    (d / "MLmodel").write_text("flavors: {}\n")
    client.log_artifacts(run.info.run_id, str(d), "model")
    client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(model, "champion", "1")
    client.transition_model_version_stage(model, "1", "Staging")
    assert client.get_model_version_download_uri(model, "1") == f"runs:/{run.info.run_id}/model"
    for uri in (f"models:/{model}/1", f"models:/{model}@champion", f"models:/{model}/Staging",
                f"models:/{model}/latest"):
        out = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / uri.replace('/', '_')))
        assert open(os.path.join(out, "MLmodel")).read() == "flavors: {}\n"


def test_version_from_models_uri(client, model):
    client.create_model_version(model, "s3://bucket/path/model")
    mv = client.create_model_version(model, f"models:/{model}/1")
    assert client.get_model_version_download_uri(model, mv.version) == "s3://bucket/path/model"


def test_ajax_prefix(api, model):
    r = api.get("/ajax-api/2.0/mlflow/registered-models/get", {"name": model})
    assert r.status_code == 200 and r.json()["registered_model"]["name"] == model


# ---- cairn: promotion gates and the audit log ----

def _promote(api, **body):
    return api.post("/api/cairn/v1/registry/promote", body)


@pytest.mark.cairn_only
def test_promote_gate_passes_and_fails(api, client, model, exp_id):
    r1 = _run_with(client, exp_id, auc=0.80)
    r2 = _run_with(client, exp_id, auc=0.85)
    r3 = _run_with(client, exp_id, auc=0.70)
    for r in (r1, r2, r3):
        client.create_model_version(model, "s3://b/m", run_id=r)
    # no champion yet: champion.* holds vacuously
    res = _promote(api, name=model, **{"from": "1", "to": "champion",
                                        "require": ["metrics.auc >= champion.metrics.auc"]})
    assert res.status_code == 200, res.text
    assert res.json()["promoted"] is True
    client.set_registered_model_alias(model, "challenger", "2")
    res = _promote(api, name=model, **{"from": "challenger", "to": "champion",
                                        "require": ["metrics.auc >= champion.metrics.auc + 0.01"]}).json()
    assert res["promoted"] is True and res["incumbent"]["version"] == "1"
    check = res["checks"][0]
    assert check["left"] == 0.85 and check["holds"] is True
    assert client.get_model_version_by_alias(model, "champion").version == "2"
    tag = json.loads(client.get_model_version(model, "2").tags["cairn.promotion.champion"])
    assert tag["from"] == "challenger"
    # a worse version is refused and nothing moves
    res = _promote(api, name=model, **{"from": "3", "to": "champion",
                                        "require": ["metrics.auc >= champion.metrics.auc"]}).json()
    assert res["promoted"] is False and res["checks"][0]["holds"] is False
    assert client.get_model_version_by_alias(model, "champion").version == "2"
    assert "cairn.promotion.champion" not in client.get_model_version(model, "3").tags
    audit = api.get("/api/cairn/v1/registry/audit", {"name": model}).json()["entries"]
    actions = [e["action"] for e in audit]
    assert actions[0] == "promote_rejected" and "promote" in actions


@pytest.mark.cairn_only
def test_promote_bad_input(api, client, model, exp_id):
    client.create_model_version(model, "s3://b/m", run_id=_run_with(client, exp_id, auc=0.8))
    bad = _promote(api, name=model, **{"from": "1", "to": "champion", "require": ["metrics.auc >>= 1"]})
    assert_error(bad, 400, "INVALID_PARAMETER_VALUE")
    assert_error(_promote(api, name=model + "x", **{"from": "1", "to": "champion", "require": []}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert_error(_promote(api, name=model, **{"from": "nope", "to": "champion", "require": []}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
    assert client.get_registered_model(model).aliases == {}


def test_sklearn_log_model_registered_and_loaded_by_alias(client, request, tmp_path):
    """MLflow 3: log_model(registered_model_name=...) then pyfunc.load_model('models:/name@alias')."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    name = unique_name(request, "-sk")
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]])
    y = np.array([0, 1, 1, 0])
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run():
        mlflow.log_metric("auc", 0.9)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
    mv = client.get_model_version(name, "1")
    assert mv.source == f"models:/{info.model_id}" and mv.run_id == info.run_id
    client.set_registered_model_alias(name, "champion", "1")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(loaded.predict(X)) == list(model.predict(X))
    assert list(mlflow.pyfunc.load_model(f"models:/{name}/1").predict(X)) == list(model.predict(X))
