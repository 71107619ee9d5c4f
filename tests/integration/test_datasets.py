"""Dataset inputs: mlflow.log_input with pandas datasets, run.inputs, datasets.* search."""

import json
import uuid

import mlflow
import pandas as pd
import pytest


def _frame(n=3):
    return pd.DataFrame({"a": list(range(1, n + 1)), "b": [0.5 * i for i in range(n)],
                         "y": [i % 2 for i in range(n)]})


def test_log_input_round_trip(exp_id, client):
    ds = mlflow.data.from_pandas(_frame(), source="s3://bucket/train.csv", name="train-set", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(ds, context="training", tags={"extra": "x"})
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    di = inputs[0]
    d = di.dataset
    assert d.name == "train-set"
    assert d.digest == ds.digest and len(d.digest) <= 36
    assert d.source_type == "s3"
    assert json.loads(d.source) == {"uri": "s3://bucket/train.csv"}
    cols = json.loads(d.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in cols] == [("a", "long"), ("b", "double"), ("y", "long")]
    assert json.loads(d.profile) == {"num_rows": 3, "num_elements": 9}
    assert {t.key: t.value for t in di.tags} == {"extra": "x", "mlflow.data.context": "training"}


def test_several_inputs_and_reuse_across_runs(exp_id, client):
    train = mlflow.data.from_pandas(_frame(4), source="s3://b/train.csv", name="train")
    evals = mlflow.data.from_pandas(_frame(2), source="s3://b/eval.csv", name="eval")
    with mlflow.start_run() as r1:
        mlflow.log_input(train, context="training")
        mlflow.log_input(evals, context="eval")
    with mlflow.start_run() as r2:
        mlflow.log_input(train, context="training")
    in1 = client.get_run(r1.info.run_id).inputs.dataset_inputs
    in2 = client.get_run(r2.info.run_id).inputs.dataset_inputs
    assert sorted(i.dataset.name for i in in1) == ["eval", "train"]
    assert [i.dataset.name for i in in2] == ["train"]
    assert in2[0].dataset.digest == train.digest
    ctx = {i.dataset.name: {t.key: t.value for t in i.tags}["mlflow.data.context"] for i in in1}
    assert ctx == {"train": "training", "eval": "eval"}


def test_run_without_inputs_has_empty_inputs(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert client.get_run(rid).inputs.dataset_inputs == []


@pytest.fixture
def ds_runs(exp_id):
    # names are unique per test: real MLflow shares a (name, digest) dataset row across
    # experiments (see test_search_datasets_is_per_experiment)
    tag = uuid.uuid4().hex[:6]
    a = mlflow.data.from_pandas(_frame(3), source="s3://x/alpha.csv", name=f"alpha-set-{tag}")
    b = mlflow.data.from_pandas(_frame(5), source="s3://x/beta.csv", name=f"beta-set-{tag}")
    with mlflow.start_run(run_name="r-alpha") as r1:
        mlflow.log_input(a, context="training")
    with mlflow.start_run(run_name="r-both") as r2:
        mlflow.log_input(a, context="training")
        mlflow.log_input(b, context="eval")
    with mlflow.start_run(run_name="r-none"):
        pass
    return {"eid": exp_id, "alpha": a, "beta": b, "r1": r1.info.run_id, "r2": r2.info.run_id,
            "a": a.name, "b": b.name}


def _names(client, eid, flt):
    return sorted(r.info.run_name for r in client.search_runs([eid], flt))


def test_search_by_dataset_fields(client, ds_runs):
    eid, a, b = ds_runs["eid"], ds_runs["a"], ds_runs["b"]
    assert _names(client, eid, f"datasets.name = '{a}'") == ["r-alpha", "r-both"]
    assert _names(client, eid, f"datasets.name = '{b}'") == ["r-both"]
    assert _names(client, eid, "dataset.name LIKE 'beta%'") == ["r-both"]
    assert _names(client, eid, "datasets.name ILIKE 'ALPHA-%'") == ["r-alpha", "r-both"]
    assert _names(client, eid, "datasets.context = 'eval'") == ["r-both"]
    assert _names(client, eid, "datasets.context = 'training'") == ["r-alpha", "r-both"]
    assert _names(client, eid, f"datasets.digest = '{ds_runs['beta'].digest}'") == ["r-both"]
    assert _names(client, eid, f"datasets.name IN ('{b}', 'nope')") == ["r-both"]
    assert _names(client, eid, "datasets.name = 'nope'") == []
    # each datasets.* clause is matched on its own (not necessarily by the same input)
    assert _names(client, eid, f"datasets.name = '{a}' AND datasets.context = 'eval'") == ["r-both"]
    assert _names(client, eid, f"datasets.name = '{a}' AND datasets.context = 'nope'") == []


@pytest.mark.cairn_only
def test_search_datasets_combined_with_run_name(client, ds_runs):
    # real MLflow builds broken SQL when a datasets.* clause meets a tag/metric/run_name
    # clause (sqlite 'no such column: anon_1.destination_id', HTTP 500)
    eid, a = ds_runs["eid"], ds_runs["a"]
    assert _names(client, eid, f"datasets.name = '{a}' AND attributes.run_name = 'r-alpha'") == ["r-alpha"]
    assert _names(client, eid, f"datasets.name = '{a}' AND tags.`mlflow.runName` = 'r-both'") == ["r-both"]
    assert _names(client, eid, f"datasets.name = '{a}' AND metrics.x > 0") == []


def test_search_datasets_summary_ajax(api, ds_runs):
    r = api.post("/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [ds_runs["eid"]]})
    assert r.status_code == 200, r.text
    got = sorted((s["name"], s["digest"], s["context"], s["experiment_id"])
                 for s in r.json()["dataset_summaries"])
    assert got == sorted([(ds_runs["a"], ds_runs["alpha"].digest, "training", ds_runs["eid"]),
                          (ds_runs["b"], ds_runs["beta"].digest, "eval", ds_runs["eid"])])


@pytest.mark.cairn_only
def test_search_datasets_is_per_experiment(api, client, request):
    # real MLflow reuses the first experiment's dataset row, so the second experiment's
    # summary misses it
    name = f"shared-{uuid.uuid4().hex[:6]}"
    ds = mlflow.data.from_pandas(_frame(3), source="s3://x/shared.csv", name=name)
    eids = []
    for i in range(2):
        eid = client.create_experiment(f"it-ds-shared-{i}-{uuid.uuid4().hex[:6]}")
        eids.append(eid)
        with mlflow.start_run(experiment_id=eid):
            mlflow.log_input(ds, context="training")
    for eid in eids:
        r = api.post("/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [eid]})
        assert r.status_code == 200, r.text
        assert [(s["name"], s["experiment_id"]) for s in r.json().get("dataset_summaries", [])] == [(name, eid)]


def test_log_inputs_raw_validation(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    good = {"name": "n", "digest": "d" * 36, "source_type": "local", "source": "{}"}
    r = api.post("runs/log-inputs", {"run_id": rid, "datasets": [{"dataset": good, "tags": []}]})
    assert r.status_code == 200, r.text
    r = api.post("runs/log-inputs", {"run_id": rid, "datasets": [{"dataset": dict(good, digest="d" * 37)}]})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    names = [i.dataset.name for i in client.get_run(rid).inputs.dataset_inputs]
    assert names == ["n"]
