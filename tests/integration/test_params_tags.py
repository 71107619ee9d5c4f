"""Params (immutable, truncated) and run tags (set/overwrite/delete, truncated)."""

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from helpers import assert_error


def test_params_round_trip(client, exp_id):
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.01)            # the client stringifies
        mlflow.log_params({"layers": 3, "act": "relu", "nested/key": "v", "empty": ""})
    params = client.get_run(run.info.run_id).data.params
    assert params == {"lr": "0.01", "layers": "3", "act": "relu", "nested/key": "v", "empty": ""}


def test_param_is_immutable(client, api, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_param(rid, "p", "1")
    client.log_param(rid, "p", "1")  # same value again: no-op
    with pytest.raises(MlflowException) as ei:
        client.log_param(rid, "p", "2")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"
    body = assert_error(api.post("runs/log-parameter", {"run_id": rid, "key": "p", "value": "3"}),
                        400, "INVALID_PARAMETER_VALUE")
    assert "p" in body["message"]
    assert client.get_run(rid).data.params == {"p": "1"}


def test_param_change_inside_log_batch_is_rejected(client, api, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_param(rid, "p", "1")
    r = api.post("runs/log-batch", {"run_id": rid, "params": [{"key": "p", "value": "x"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = api.post("runs/log-batch", {"run_id": rid, "params": [{"key": "p", "value": "1"},
                                                              {"key": "q", "value": "2"}]})
    assert r.status_code == 200, r.text
    assert client.get_run(rid).data.params == {"p": "1", "q": "2"}


def test_long_param_and_tag_values_are_truncated(client, api, exp_id):
    rid = client.create_run(exp_id).info.run_id
    r = api.post("runs/log-parameter", {"run_id": rid, "key": "lp", "value": "x" * 7000})
    assert r.status_code == 200, r.text
    r = api.post("runs/set-tag", {"run_id": rid, "key": "lt", "value": "y" * 9000})
    assert r.status_code == 200, r.text
    r = api.post("runs/log-batch", {"run_id": rid, "params": [{"key": "bp", "value": "z" * 6001}],
                                    "tags": [{"key": "bt", "value": "w" * 8001}]})
    assert r.status_code == 200, r.text
    data = client.get_run(rid).data
    assert data.params["lp"] == "x" * 6000
    assert data.params["bp"] == "z" * 6000
    assert data.tags["lt"] == "y" * 8000
    assert data.tags["bt"] == "w" * 8000
    # logging the same over-long value again is still "the same value"
    r = api.post("runs/log-parameter", {"run_id": rid, "key": "lp", "value": "x" * 7000})
    assert r.status_code == 200, r.text


def test_param_value_at_limit_is_kept(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_param(rid, "exact", "e" * 6000)
    client.set_tag(rid, "exact", "t" * 8000)
    d = client.get_run(rid).data
    assert len(d.params["exact"]) == 6000 and len(d.tags["exact"]) == 8000


@pytest.mark.parametrize("key", ["bad key!", "a" * 251, "../x", "/abs", "a/../b", ".", "x\ny"])
def test_param_key_validation(api, client, exp_id, key):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.post("runs/log-parameter", {"run_id": rid, "key": key, "value": "v"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(rid).data.params == {}


def test_param_value_must_be_string(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.post("runs/log-parameter", {"run_id": rid, "key": "k", "value": 5}),
                 400, "INVALID_PARAMETER_VALUE")


def test_unicode_values(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_param(rid, "greeting", "héllo wörld ✓ 日本")
    client.set_tag(rid, "emoji", "🚀 \"quoted\" \\ back")
    d = client.get_run(rid).data
    assert d.params["greeting"] == "héllo wörld ✓ 日本"
    assert d.tags["emoji"] == "🚀 \"quoted\" \\ back"


def test_tags_set_overwrite_delete(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.set_tag(rid, "a", "1")
    client.set_tag(rid, "a", "2")
    client.set_tag(rid, "b", "")
    tags = client.get_run(rid).data.tags
    assert tags["a"] == "2" and tags["b"] == ""
    client.delete_tag(rid, "a")
    tags = client.get_run(rid).data.tags
    assert "a" not in tags and tags["b"] == ""


def test_fluent_set_tags(exp_id, client):
    with mlflow.start_run() as run:
        mlflow.set_tags({"x": 1, "y": "two"})
        mlflow.set_tag("z", 3.5)
    t = client.get_run(run.info.run_id).data.tags
    assert (t["x"], t["y"], t["z"]) == ("1", "two", "3.5")


def test_delete_missing_tag_is_404(client, api, exp_id):
    rid = client.create_run(exp_id).info.run_id
    with pytest.raises(MlflowException) as ei:
        client.delete_tag(rid, "nosuch")
    assert ei.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert_error(api.post("runs/delete-tag", {"run_id": rid, "key": "nosuch"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_tag_on_deleted_run_is_rejected(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.delete_run(rid)
    with pytest.raises(MlflowException) as ei:
        client.set_tag(rid, "t", "v")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


def test_experiment_tag_limits(api, exp_id):
    assert_error(api.post("experiments/set-experiment-tag",
                          {"experiment_id": exp_id, "key": "big", "value": "z" * 5001}),
                 400, "INVALID_PARAMETER_VALUE")
    r = api.post("experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "big", "value": "z" * 5000})
    assert r.status_code == 200, r.text
    exp = api.get("experiments/get", {"experiment_id": exp_id}).json()["experiment"]
    assert {t["key"]: t["value"] for t in exp["tags"]}["big"] == "z" * 5000
    assert_error(api.post("experiments/delete-experiment-tag", {"experiment_id": exp_id, "key": "nosuch"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
