"""log-batch: limits, error codes and bodies, duplicates, client-side chunking."""

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from helpers import assert_error


def _m(n, prefix="m"):
    return [{"key": f"{prefix}{i}", "value": float(i), "timestamp": 1000 + i, "step": i} for i in range(n)]


def _kv(n, prefix):
    return [{"key": f"{prefix}{i}", "value": str(i)} for i in range(n)]


def test_log_batch_round_trip(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid,
                     metrics=[Metric("acc", 0.5, 1000, 0), Metric("acc", 0.7, 2000, 1),
                              Metric("loss", 1.5, 1000, 0)],
                     params=[Param("lr", "0.1"), Param("bs", "32")],
                     tags=[RunTag("team", "a"), RunTag("phase", "train")])
    d = client.get_run(rid).data
    assert d.metrics == {"acc": 0.7, "loss": 1.5}
    assert d.params == {"lr": "0.1", "bs": "32"}
    assert d.tags["team"] == "a" and d.tags["phase"] == "train"
    assert [m.value for m in client.get_metric_history(rid, "acc")] == [0.5, 0.7]


def test_log_batch_at_the_limits_is_accepted(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    for body in [{"metrics": _m(1000)}, {"params": _kv(100, "p")}, {"tags": _kv(100, "t")},
                 {"metrics": _m(800, "x"), "params": _kv(100, "q"), "tags": _kv(100, "u")}]:
        r = api.post("runs/log-batch", dict(body, run_id=rid))
        assert r.status_code == 200, r.text[:300]
        assert r.json() == {}
    d = client.get_run(rid).data
    assert len(d.metrics) == 1800 and len(d.params) == 200
    assert sum(1 for k in d.tags if k[0] in "tu" and k[1:].isdigit()) == 200


@pytest.mark.parametrize("body,what", [
    ({"metrics": _m(1001)}, "1000 metrics"),
    ({"params": _kv(101, "p")}, "100 params"),
    ({"tags": _kv(101, "t")}, "100 tags"),
    ({"metrics": _m(901), "params": _kv(100, "p")}, "1000 metrics, params, and tags"),
])
def test_log_batch_over_the_limits(api, client, exp_id, body, what):
    rid = client.create_run(exp_id).info.run_id
    err = assert_error(api.post("runs/log-batch", dict(body, run_id=rid)), 400, "INVALID_PARAMETER_VALUE")
    assert f"at most {what}" in err["message"]
    d = client.get_run(rid).data  # nothing of a rejected batch is stored
    assert d.metrics == {} and d.params == {}
    assert set(d.tags) <= {"mlflow.runName", "mlflow.user", "mlflow.source.name",
                           "mlflow.source.type", "mlflow.source.git.commit"}


def test_duplicate_param_key_in_batch_is_rejected_even_with_same_value(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    for params in ([{"key": "d", "value": "1"}, {"key": "d", "value": "1"}],
                   [{"key": "d", "value": "1"}, {"key": "d", "value": "2"}]):
        err = assert_error(api.post("runs/log-batch", {"run_id": rid, "params": params}),
                           400, "INVALID_PARAMETER_VALUE")
        assert "Duplicate" in err["message"] or "duplicate" in err["message"]
    assert client.get_run(rid).data.params == {}


def test_duplicate_tag_key_in_batch_last_wins(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    r = api.post("runs/log-batch", {"run_id": rid, "tags": [{"key": "dt", "value": "1"},
                                                            {"key": "dt", "value": "2"}]})
    assert r.status_code == 200, r.text
    assert client.get_run(rid).data.tags["dt"] == "2"


def test_batch_metric_key_too_long(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    body = {"run_id": rid, "metrics": [{"key": "k" * 251, "value": 1, "timestamp": 1}]}
    assert_error(api.post("runs/log-batch", body), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("body", [
    {"metrics": {"key": "a"}},                                   # not a list
    {"metrics": [{"key": "a", "value": 1}]},                     # no timestamp
    {"metrics": [{"key": "a", "value": 1, "timestamp": "x"}]},
    {"params": [{"key": "a", "value": 7}]},                      # param value not a string
    {"tags": "t=1"},
])
def test_batch_wrong_types(api, client, exp_id, body):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.post("runs/log-batch", dict(body, run_id=rid)), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.cairn_only
def test_batch_metric_value_not_a_number(api, client, exp_id):
    # real MLflow's log-batch accepts {"value": "abc"} (log-metric rejects it)
    rid = client.create_run(exp_id).info.run_id
    body = {"run_id": rid, "metrics": [{"key": "a", "value": "abc", "timestamp": 1}]}
    assert_error(api.post("runs/log-batch", body), 400, "INVALID_PARAMETER_VALUE")


def test_batch_missing_or_unknown_run(api):
    assert_error(api.post("runs/log-batch", {"metrics": _m(1)}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post("runs/log-batch", {"run_id": "0123456789abcdef0123456789abcdef",
                                             "metrics": _m(1)}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_empty_batch_is_ok(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    r = api.post("runs/log-batch", {"run_id": rid})
    assert r.status_code == 200 and r.json() == {}


def test_batch_to_deleted_run_is_rejected(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.delete_run(rid)
    assert_error(api.post("runs/log-batch", {"run_id": rid, "metrics": _m(1)}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_client_chunks_large_batches(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid, metrics=[Metric("c", float(i), 5000 + i, i) for i in range(2500)],
                     params=[Param(f"p{i}", str(i)) for i in range(250)],
                     tags=[RunTag(f"t{i}", str(i)) for i in range(150)])
    d = client.get_run(rid).data
    assert d.metrics["c"] == 2499.0 and len(d.params) == 250
    assert d.tags["t149"] == "149"
    assert len(client.get_metric_history(rid, "c")) == 2500


def test_client_log_batch_error_code(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_param(rid, "p", "1")
    with pytest.raises(MlflowException) as ei:
        client.log_batch(rid, params=[Param("p", "2")])
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"
