"""MLflow 3 logged models: sklearn log_model/load_model, CRUD, search, tags, params, outputs."""

import re
import time

import mlflow
import numpy as np
import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from helpers import assert_error

MODEL_ID_RE = re.compile(r"^m-[0-9a-f]{32}$")


def _lm(api, method, path, **kw):
    return api.request(method, f"/api/2.0/mlflow/logged-models{path}", **kw)


def test_sklearn_log_and_load(exp_id, client):
    from sklearn.linear_model import LinearRegression

    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = 2 * X[:, 0] + 1
    model = LinearRegression().fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model")
        mlflow.log_metric("rmse", 0.5, model_id=info.model_id)
    assert MODEL_ID_RE.match(info.model_id)

    lm = client.get_logged_model(info.model_id)
    assert lm.name == "model"
    assert lm.experiment_id == exp_id
    assert lm.source_run_id == run.info.run_id
    assert lm.status == LoggedModelStatus.READY
    assert lm.artifact_location == f"mlflow-artifacts:/{exp_id}/models/{info.model_id}/artifacts"
    assert [(m.key, m.value, m.run_id) for m in lm.metrics] == [("rmse", 0.5, run.info.run_id)]

    for uri in (f"models:/{info.model_id}", f"runs:/{run.info.run_id}/model"):
        loaded = mlflow.pyfunc.load_model(uri)
        np.testing.assert_allclose(loaded.predict(np.array([[4.0]])), [9.0])

    r = client.get_run(run.info.run_id)
    assert [o.model_id for o in r.outputs.model_outputs] == [info.model_id]

    # the model's files are listed by the artifacts/directories route
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in files


def test_create_get_finalize(exp_id, client, api):
    run = client.create_run(exp_id)
    lm = client.create_logged_model(
        exp_id,
        name="clf",
        source_run_id=run.info.run_id,
        params={"alpha": "0.1"},
        tags={"team": "a"},
        model_type="Classifier",
    )
    assert MODEL_ID_RE.match(lm.model_id)
    assert lm.status == LoggedModelStatus.PENDING
    assert lm.params == {"alpha": "0.1"}
    assert lm.tags == {"team": "a"}
    assert lm.model_type == "Classifier"
    got = client.get_logged_model(lm.model_id)
    assert got.name == "clf" and got.creation_timestamp == lm.creation_timestamp

    fin = client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
    assert fin.status == LoggedModelStatus.READY
    assert fin.last_updated_timestamp >= lm.last_updated_timestamp

    # generated name
    anon = client.create_logged_model(exp_id)
    assert anon.name

    # bad name, bad status
    r = _lm(api, "POST", "", json={"experiment_id": exp_id, "name": "a/b"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = _lm(api, "PATCH", f"/{lm.model_id}", json={"model_id": lm.model_id, "status": "BOGUS"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = _lm(api, "PATCH", f"/{lm.model_id}", json={"model_id": lm.model_id})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = _lm(api, "POST", "", json={"experiment_id": "987654321"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_not_found_and_delete(exp_id, client, api):
    missing = "m-" + "0" * 32
    for method, path, body in (
        ("GET", f"/{missing}", None),
        ("PATCH", f"/{missing}", {"model_id": missing, "status": "LOGGED_MODEL_READY"}),
        ("DELETE", f"/{missing}", None),
        ("PATCH", f"/{missing}/tags", {"tags": [{"key": "k", "value": "v"}]}),
        ("DELETE", f"/{missing}/tags/k", None),
        ("POST", f"/{missing}/params", {"params": [{"key": "k", "value": "v"}]}),
    ):
        r = _lm(api, method, path, json=body)
        assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException, match="not found"):
        client.get_logged_model(missing)

    lm = client.create_logged_model(exp_id, name="gone")
    client.delete_logged_model(lm.model_id)
    with pytest.raises(MlflowException) as e:
        client.get_logged_model(lm.model_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.search_logged_models(experiment_ids=[exp_id]) == []


def test_tags_and_params(exp_id, client, api):
    lm = client.create_logged_model(exp_id, name="tagged")
    client.set_logged_model_tags(lm.model_id, {"a": "1", "b": "2"})
    client.set_logged_model_tags(lm.model_id, {"a": "3"})
    assert client.get_logged_model(lm.model_id).tags == {"a": "3", "b": "2"}
    client.delete_logged_model_tag(lm.model_id, "b")
    assert client.get_logged_model(lm.model_id).tags == {"a": "3"}
    r = _lm(api, "DELETE", f"/{lm.model_id}/tags/b")
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")

    client.log_model_params(lm.model_id, {"lr": "0.01", "depth": "3"})
    assert client.get_logged_model(lm.model_id).params == {"lr": "0.01", "depth": "3"}


def test_search(exp_id, client, api):
    ids = []
    for name in ("alpha", "beta", "gamma"):
        ids.append(client.create_logged_model(exp_id, name=name).model_id)
        time.sleep(0.005)
    client.finalize_logged_model(ids[1], LoggedModelStatus.READY)

    got = client.search_logged_models(experiment_ids=[exp_id])
    assert [m.model_id for m in got] == ids[::-1]  # newest first by default
    got = client.search_logged_models(
        experiment_ids=[exp_id], order_by=[{"field_name": "creation_time", "ascending": True}]
    )
    assert [m.model_id for m in got] == ids
    got = client.search_logged_models(experiment_ids=[exp_id], filter_string="name = 'beta'")
    assert [m.model_id for m in got] == [ids[1]]
    got = client.search_logged_models(experiment_ids=[exp_id], filter_string="status = 'READY'")
    assert [m.model_id for m in got] == [ids[1]]
    got = client.search_logged_models(experiment_ids=[exp_id], filter_string="name LIKE '%a'")
    assert sorted(m.name for m in got) == ["alpha", "beta", "gamma"]

    # paging
    page = client.search_logged_models(experiment_ids=[exp_id], max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_logged_models(experiment_ids=[exp_id], max_results=2, page_token=page.token)
    assert [m.model_id for m in list(page) + list(rest)] == ids[::-1]
    assert not rest.token

    r = _lm(api, "POST", "/search", json={"experiment_ids": [exp_id], "filter": "bogus ~~ 1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = _lm(api, "POST", "/search", json={"experiment_ids": [exp_id], "filter": "name = 'nope'"})
    assert r.status_code == 200 and r.json().get("models", []) == []


def test_outputs_and_model_inputs(exp_id, client, api):
    run = client.create_run(exp_id)
    lm = client.create_logged_model(exp_id, name="out", source_run_id=run.info.run_id)
    r = api.post("runs/outputs", {"run_id": run.info.run_id, "models": [{"model_id": lm.model_id, "step": 3}]})
    assert r.status_code == 200, r.text
    r = api.post("runs/log-inputs", {"run_id": run.info.run_id, "models": [{"model_id": lm.model_id}]})
    assert r.status_code == 200, r.text
    got = api.get("runs/get", {"run_id": run.info.run_id}).json()["run"]
    assert got["outputs"] == {"model_outputs": [{"model_id": lm.model_id, "step": 3}]}
    assert got["inputs"]["model_inputs"] == [{"model_id": lm.model_id}]
    r = api.post("runs/outputs", {"run_id": run.info.run_id, "models": [{"model_id": "m-" + "1" * 32, "step": 0}]})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")

    # metrics with a model_id land on the model
    client.log_metric(run.info.run_id, "acc", 0.9, step=1, model_id=lm.model_id)
    m = client.get_logged_model(lm.model_id).metrics
    assert [(x.key, x.value, x.step) for x in m] == [("acc", 0.9, 1)]


def test_ajax_mount(exp_id, api):
    r = api.post("/ajax-api/2.0/mlflow/logged-models", {"experiment_id": exp_id, "name": "ajax"})
    assert r.status_code == 200, r.text
    mid = r.json()["model"]["info"]["model_id"]
    r = api.get(f"/ajax-api/2.0/mlflow/logged-models/{mid}")
    assert r.status_code == 200 and r.json()["model"]["info"]["name"] == "ajax"
