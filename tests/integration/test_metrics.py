"""Metrics: history (order, paging), the latest-value rule, NaN/+-inf, value validation."""

import math
import sys
import time

import mlflow
import pytest
from mlflow.entities import Metric

from helpers import assert_error

DBL_MAX = sys.float_info.max  # MLflow's SQL store keeps +-inf as +-1.7976931348623157e308


def test_log_metric_defaults(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    t0 = int(time.time() * 1000) - 5000
    client.log_metric(rid, "m", 3.25)
    t1 = int(time.time() * 1000) + 5000
    hist = client.get_metric_history(rid, "m")
    assert len(hist) == 1
    assert hist[0].key == "m" and hist[0].value == 3.25 and hist[0].step == 0
    assert t0 <= hist[0].timestamp <= t1
    assert client.get_run(rid).data.metrics == {"m": 3.25}


def test_history_is_ordered_by_timestamp_then_step(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    pts = [(5.0, 3000, 1), (1.0, 1000, 9), (3.0, 2000, 4), (2.0, 2000, 2), (4.0, 1000, 3)]
    client.log_batch(rid, metrics=[Metric("h", v, ts, st) for v, ts, st in pts])
    hist = client.get_metric_history(rid, "h")
    assert [(m.timestamp, m.step, m.value) for m in hist] == [
        (1000, 3, 4.0), (1000, 9, 1.0), (2000, 2, 2.0), (2000, 4, 3.0), (3000, 1, 5.0)]


def test_latest_value_is_max_step_then_max_timestamp(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_metric(rid, "a", 1.0, timestamp=5000, step=10)
    client.log_metric(rid, "a", 2.0, timestamp=9000, step=3)   # newer but lower step
    assert client.get_run(rid).data.metrics["a"] == 1.0
    client.log_metric(rid, "a", 3.0, timestamp=6000, step=10)  # same step, newer
    assert client.get_run(rid).data.metrics["a"] == 3.0
    client.log_metric(rid, "a", 4.0, timestamp=1000, step=10)  # same step, older
    assert client.get_run(rid).data.metrics["a"] == 3.0
    client.log_metric(rid, "a", -7.5, timestamp=1, step=11)    # higher step wins
    assert client.get_run(rid).data.metrics["a"] == -7.5
    assert len(client.get_metric_history(rid, "a")) == 5


def test_latest_value_in_search_results(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid, metrics=[Metric("s", 0.9, 100, 0), Metric("s", 0.2, 50, 7)])
    runs = client.search_runs([exp_id], "metrics.s < 0.5")
    assert [r.info.run_id for r in runs] == [rid]
    assert runs[0].data.metrics["s"] == 0.2


def test_fluent_log_metrics_with_steps(exp_id, client):
    with mlflow.start_run() as run:
        for step in range(5):
            mlflow.log_metrics({"loss": 1.0 / (step + 1), "acc": step * 0.1}, step=step)
    rid = run.info.run_id
    loss = client.get_metric_history(rid, "loss")
    assert sorted(m.step for m in loss) == [0, 1, 2, 3, 4]
    assert {m.step: m.value for m in loss}[3] == 0.25
    assert client.get_run(rid).data.metrics == {"loss": 0.2, "acc": pytest.approx(0.4)}


def test_history_of_missing_key_is_empty(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert client.get_metric_history(rid, "never-logged") == []


def test_history_paging_raw(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid, metrics=[Metric("p", float(i), 1000 + i, i) for i in range(10)])
    got, token, pages = [], None, 0
    while True:
        params = {"run_id": rid, "metric_key": "p", "max_results": 4}
        if token:
            params["page_token"] = token
        r = api.get("metrics/get-history", params)
        assert r.status_code == 200, r.text
        body = r.json()
        batch = body.get("metrics", [])
        assert len(batch) <= 4
        got += [m["value"] for m in batch]
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
        assert pages < 10
    assert got == [float(i) for i in range(10)]
    assert pages == 3


def test_history_large_through_client(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    n = 3000
    client.log_batch(rid, metrics=[Metric("big", i * 0.5, 10_000 + i, i) for i in range(n)])
    hist = client.get_metric_history(rid, "big")
    assert len(hist) == n
    assert [m.step for m in hist] == list(range(n))
    assert hist[-1].value == (n - 1) * 0.5
    assert client.get_run(rid).data.metrics["big"] == (n - 1) * 0.5


@pytest.mark.cairn_only
def test_history_without_max_results_returns_everything(api, client, exp_id):
    # MLflow 3.5.2.dev0 treats a missing max_results as 0 and answers an empty page
    # with next_page_token (an upstream regression); older clients (npm `mlflow`) send none.
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid, metrics=[Metric("all", float(i), 1000 + i, i) for i in range(7)])
    r = api.get("metrics/get-history", {"run_id": rid, "metric_key": "all"})
    assert r.status_code == 200, r.text
    assert [m["value"] for m in r.json()["metrics"]] == [float(i) for i in range(7)]
    assert not r.json().get("next_page_token")


def test_history_validation(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.get("metrics/get-history", {"run_id": rid}), 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.get("metrics/get-history", {"run_id": rid, "metric_key": "m", "page_token": "zzz"}),
                 400, "INVALID_PARAMETER_VALUE")


def test_nan_and_infinities(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_metric(rid, "nan", float("nan"), step=0)
    client.log_metric(rid, "pinf", float("inf"), step=0)
    client.log_metric(rid, "ninf", float("-inf"), step=0)
    m = client.get_run(rid).data.metrics
    assert math.isnan(m["nan"])
    assert m["pinf"] == math.inf or m["pinf"] == DBL_MAX
    assert m["ninf"] == -math.inf or m["ninf"] == -DBL_MAX
    hist = client.get_metric_history(rid, "nan")
    assert len(hist) == 1 and math.isnan(hist[0].value)
    hist = client.get_metric_history(rid, "pinf")
    assert hist[0].value == math.inf or hist[0].value == DBL_MAX


def test_nan_then_number_latest_rule(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.log_metric(rid, "x", 1.0, timestamp=1000, step=1)
    client.log_metric(rid, "x", float("nan"), timestamp=2000, step=2)
    assert math.isnan(client.get_run(rid).data.metrics["x"])
    client.log_metric(rid, "x", 5.0, timestamp=3000, step=3)
    assert client.get_run(rid).data.metrics["x"] == 5.0


def test_nan_json_encoding_raw(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    r = api.post("runs/log-metric", {"run_id": rid, "key": "n", "value": "NaN", "timestamp": 5})
    assert r.status_code == 200, r.text
    run = api.get("runs/get", {"run_id": rid}).json()["run"]
    (m,) = run["data"]["metrics"]
    assert m["key"] == "n" and m["value"] == "NaN"  # protobuf JSON: NaN is the string "NaN"


def test_nan_sorts_after_numbers_before_missing(client, exp_id):
    a = client.create_run(exp_id, start_time=1).info.run_id
    b = client.create_run(exp_id, start_time=2).info.run_id
    c = client.create_run(exp_id, start_time=3).info.run_id
    d = client.create_run(exp_id, start_time=4).info.run_id
    client.log_metric(a, "v", 1.0)
    client.log_metric(b, "v", float("nan"))
    client.log_metric(c, "v", 2.0)
    # d: no metric
    desc = [r.info.run_id for r in client.search_runs([exp_id], order_by=["metrics.v DESC"])]
    asc = [r.info.run_id for r in client.search_runs([exp_id], order_by=["metrics.v ASC"])]
    assert desc == [c, a, b, d]
    assert asc == [a, c, b, d]


@pytest.mark.parametrize("body,field", [
    ({"key": "m", "value": "abc", "timestamp": 1}, "value"),
    ({"key": "m", "timestamp": 1}, "value"),
    ({"key": "m", "value": 1.0}, "timestamp"),
    ({"key": "m", "value": 1.0, "timestamp": -1}, "timestamp"),
    ({"key": "m", "value": 1.0, "timestamp": "soon"}, "timestamp"),
    ({"key": "bad key!", "value": 1.0, "timestamp": 1}, "name"),
    ({"key": "k" * 251, "value": 1.0, "timestamp": 1}, "key"),
    ({"key": "../up", "value": 1.0, "timestamp": 1}, "key"),
])
def test_log_metric_validation(api, client, exp_id, body, field):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.post("runs/log-metric", dict(body, run_id=rid)), 400, "INVALID_PARAMETER_VALUE")
    assert client.get_run(rid).data.metrics == {}


def test_metric_key_charset(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    keys = ["a/b/c", "with space", "dots.and-dash_", "colon:ok", "k" * 250]
    for k in keys:
        client.log_metric(rid, k, 1.0)
    assert sorted(client.get_run(rid).data.metrics) == sorted(keys)


def test_latest_value_within_one_batch(client, exp_id):
    # several points of one key in a single log_batch: the latest is still the max
    # step, then max timestamp, whatever their order in the batch
    rid = client.create_run(exp_id).info.run_id
    client.log_batch(rid, metrics=[Metric("a", 1.0, 10, 5), Metric("a", 9.0, 99, 2),
                                   Metric("a", 3.0, 11, 5), Metric("b", 7.0, 1, 0)])
    assert client.get_run(rid).data.metrics == {"a": 3.0, "b": 7.0}
    client.log_batch(rid, metrics=[Metric("a", 0.0, 5, 4)])      # older step: not latest
    assert client.get_run(rid).data.metrics["a"] == 3.0
    assert len(client.get_metric_history(rid, "a")) == 4
