"""GET metrics/get-history-bulk-interval (the UI's sampled chart endpoint), via raw HTTP.

MLflow samples *steps*: up to max_results evenly spaced steps from the union of the runs'
steps in [start_step, end_step], plus every run's first and last step.  It does not keep
value extremes; cairn answers the same by default, and with `cairn_envelope=true` (what its
web UI asks for) keeps each step bucket's min and max value: the cairn_only tests.
"""

import pytest
from mlflow.entities import Metric

from helpers import assert_error

PATH = "metrics/get-history-bulk-interval"


def _log(client, rid, key, values, first_step=0, stride=1):
    metrics = [Metric(key, float(v), 1_000_000 + i, first_step + i * stride) for i, v in enumerate(values)]
    client.log_batch(rid, metrics=metrics)
    return {first_step + i * stride: float(v) for i, v in enumerate(values)}


def _get(api, run_ids, key, **extra):
    """The sampled points; envelope=True asks for cairn's min/max-preserving sampling."""
    if extra.pop("envelope", False):
        extra["cairn_envelope"] = "true"
    r = api.get(PATH, dict({"run_ids": run_ids, "metric_key": key}, **extra))
    assert r.status_code == 200, r.text[:500]
    return r.json().get("metrics", [])


def _by_run(points):
    out = {}
    for p in points:
        out.setdefault(p["run_id"], []).append(p)
    return out


def test_short_history_is_returned_whole(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    logged = _log(client, rid, "s", [3, 1, 4, 1, 5, 9, 2, 6])
    pts = _get(api, [rid], "s", max_results=100)
    assert [p["step"] for p in pts] == list(range(8))
    for p in pts:
        assert p["run_id"] == rid and p["key"] == "s"
        assert p["value"] == logged[p["step"]]
        assert p["timestamp"] == 1_000_000 + p["step"]
    # default max_results (2500) also returns everything
    assert len(_get(api, [rid], "s")) == 8


def test_sampling_keeps_ends_and_spread(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    n, k = 1000, 50
    logged = _log(client, rid, "long", [(i * 37) % 101 for i in range(n)])
    pts = _get(api, [rid], "long", max_results=k)
    steps = [p["step"] for p in pts]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[0] == 0 and steps[-1] == n - 1          # first and last step always kept
    assert k // 2 <= len(steps) <= 2 * k + 2              # sampled, not everything
    assert max(b - a for a, b in zip(steps, steps[1:])) <= 2 * n // k  # evenly spread
    for p in pts:
        assert p["value"] == logged[p["step"]]


def test_step_range(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    _log(client, rid, "r", list(range(300)))
    pts = _get(api, [rid], "r", start_step=100, end_step=109, max_results=50)
    assert [p["step"] for p in pts] == list(range(100, 110))
    pts = _get(api, [rid], "r", start_step=50, end_step=250, max_results=20)
    steps = [p["step"] for p in pts]
    assert all(50 <= s <= 250 for s in steps)
    assert steps[0] == 50 and steps[-1] == 250
    assert 10 <= len(steps) <= 42


def test_several_runs(api, client, exp_id):
    a = client.create_run(exp_id).info.run_id
    b = client.create_run(exp_id).info.run_id
    la = _log(client, a, "m", [i % 7 for i in range(1000)])
    lb = _log(client, b, "m", list(range(100)), first_step=1, stride=3)  # steps 1..298
    runs = _by_run(_get(api, [a, b], "m", max_results=50))
    assert set(runs) == {a, b}
    sa = [p["step"] for p in runs[a]]
    sb = [p["step"] for p in runs[b]]
    assert sa[0] == 0 and sa[-1] == 999
    assert sb[0] == 1 and sb[-1] == 298
    assert all(s in lb for s in sb) and all(s in la for s in sa)
    assert all(p["value"] == lb[p["step"]] for p in runs[b])
    assert len(sa) <= 2 * 50 + 2


def test_missing_key_or_unknown_run_is_empty(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert _get(api, [rid], "never") == []
    assert _get(api, ["0123456789abcdef0123456789abcdef"], "never") == []


@pytest.mark.parametrize("params", [
    {"metric_key": "m", "start_step": 3},                    # only one end of the range
    {"metric_key": "m", "end_step": 3},
    {"metric_key": "m", "start_step": 5, "end_step": 3},      # inverted range
    {"metric_key": "m", "max_results": 0},
    {"metric_key": "m", "max_results": 2501},
    {"metric_key": "m", "max_results": "abc"},
    {},                                                       # no metric_key
])
def test_bad_arguments(api, client, exp_id, params):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.get(PATH, dict({"run_ids": [rid]}, **params)), 400, "INVALID_PARAMETER_VALUE")


def test_run_ids_required_and_bounded(api):
    assert_error(api.get(PATH, {"metric_key": "m"}), 400, "INVALID_PARAMETER_VALUE")
    ids = [f"r{i:03d}" for i in range(101)]
    assert_error(api.get(PATH, {"run_ids": ids, "metric_key": "m"}), 400, "INVALID_PARAMETER_VALUE")


def test_max_results_2500_is_accepted(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    _log(client, rid, "x", [1, 2, 3])
    assert len(_get(api, [rid], "x", max_results=2500)) == 3


def test_ajax_prefix_serves_the_same(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    _log(client, rid, "aj", list(range(20)))
    r = api.get("/ajax-api/2.0/mlflow/" + PATH, {"run_ids": [rid], "metric_key": "aj", "max_results": 100})
    assert r.status_code == 200, r.text
    assert [p["step"] for p in r.json()["metrics"]] == list(range(20))


@pytest.mark.cairn_only
def test_sampling_keeps_bucket_extremes(api, client, exp_id):
    """cairn keeps each bucket's min and max value: isolated spikes and dips survive."""
    rid = client.create_run(exp_id).info.run_id
    n, k = 1000, 50
    values = [0.0] * n
    # off MLflow's even step grid (every 20th step here), so plain step sampling misses them
    spikes = {113: 100.0, 317: 150.0, 529: 120.0, 731: 110.0, 947: 130.0}
    dips = {211: -100.0, 433: -50.0, 617: -70.0, 853: -90.0}
    for s, v in list(spikes.items()) + list(dips.items()):
        values[s] = v
    _log(client, rid, "spiky", values)
    pts = _get(api, [rid], "spiky", max_results=k, envelope=True)
    got = {p["step"]: p["value"] for p in pts}
    for s, v in list(spikes.items()) + list(dips.items()):
        assert got.get(s) == v, f"extreme at step {s} ({v}) lost in sampling"
    assert len(pts) <= 2 * k + 2
    assert min(got) == 0 and max(got) == n - 1


@pytest.mark.cairn_only
def test_sampling_keeps_extremes_within_range(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    values = [float(i % 10) for i in range(2000)]
    values[1234] = 999.0
    values[1567] = -999.0
    _log(client, rid, "w", values)
    pts = _get(api, [rid], "w", start_step=1000, end_step=1999, max_results=20, envelope=True)
    got = {p["step"]: p["value"] for p in pts}
    assert got.get(1234) == 999.0 and got.get(1567) == -999.0
    assert all(1000 <= s <= 1999 for s in got)
    assert len(pts) <= 2 * 20 + 2


@pytest.mark.cairn_only
def test_metric_summary_counts_points(api, client, exp_id):
    """/api/cairn/v1/metrics/summary: how many points each run has, whole or in a step range,
    so the UI knows whether a sample holds every point; its bad requests named like the
    bulk interval's."""
    a = client.create_run(exp_id).info.run_id
    b = client.create_run(exp_id).info.run_id
    _log(client, a, "m", range(300), first_step=10, stride=2)   # steps 10, 12, ..., 608
    _log(client, b, "other", [1, 2])
    path = "/api/cairn/v1/metrics/summary"
    r = api.get(path, {"run_ids": [a, b, "f" * 32], "metric_key": "m"})
    assert r.status_code == 200, r.text
    assert r.json()["summaries"] == [
        {"run_id": a, "count": 300, "min_step": 10, "max_step": 608},
        {"run_id": b, "count": 0},
        {"run_id": "f" * 32, "count": 0},
    ]
    r = api.get(path, {"run_ids": [a], "metric_key": "m", "start_step": 100, "end_step": 199})
    assert r.json()["summaries"] == [{"run_id": a, "count": 50, "min_step": 100, "max_step": 198}]
    # a sample and its count agree on "every point" exactly at the boundary
    assert len(_get(api, [a], "m", max_results=300)) == 300
    for params, word in [({"metric_key": "m"}, "run_ids"), ({"run_ids": [a]}, "metric_key"),
                         ({"run_ids": [a], "metric_key": "m", "start_step": 5}, "both"),
                         ({"run_ids": [a], "metric_key": "m", "start_step": 9, "end_step": 3}, "end_step"),
                         ({"run_ids": [a] * 101, "metric_key": "m"}, "at most 100")]:
        r = api.get(path, params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and word in r.json()["message"], r.text


@pytest.mark.cairn_only
def test_long_series_sample_follows_every_write(api, client, exp_id):
    """A whole series long enough to keep its step buckets after the first request (>= 16,384
    points; tests/tracking/metric.c shows they are kept and used): a log-metric or log-batch
    retires them at once, the next sample holds the new point and metrics/summary counts it."""
    rid = client.create_run(exp_id).info.run_id
    n = 20_000
    for b in range(0, n, 1000):
        r = api.post("runs/log-batch", {"run_id": rid, "metrics": [
            {"key": "big", "value": 500.0 if i == 11_234 else float(i % 10), "timestamp": 1 + i, "step": i}
            for i in range(b, b + 1000)]})
        assert r.status_code == 200, r.text

    def whole(max_results=2500):
        pts = _get(api, [rid], "big", max_results=max_results, envelope=True)
        steps = [p["step"] for p in pts]
        assert steps == sorted(steps) and len(pts) <= max_results
        return {p["step"]: p["value"] for p in pts}

    def count():
        r = api.get("/api/cairn/v1/metrics/summary", {"run_ids": [rid], "metric_key": "big"})
        assert r.status_code == 200, r.text
        return r.json()["summaries"][0]["count"]

    first = whole()
    assert first.get(11_234) == 500.0 and 0 in first and n - 1 in first
    assert whole() == first and count() == n                # answered again from the kept buckets
    assert whole(320).get(11_234) == 500.0
    # a dip at an older step, through log-metric
    r = api.post("runs/log-metric", {"run_id": rid, "key": "big", "value": -77.0, "timestamp": 5, "step": 2_345})
    assert r.status_code == 200, r.text
    got = whole()
    assert got.get(2_345) == -77.0 and got.get(11_234) == 500.0
    assert count() == n + 1
    # a new last step, through log-batch
    r = api.post("runs/log-batch", {"run_id": rid, "metrics": [{"key": "big", "value": 3.0, "timestamp": 9, "step": n + 10}]})
    assert r.status_code == 200, r.text
    got = whole()
    assert max(got) == n + 10 and got.get(2_345) == -77.0
    assert whole() == got and count() == n + 2
    # a zoomed range reads its points: every one when they fit
    pts = _get(api, [rid], "big", start_step=11_000, end_step=11_999, max_results=2500, envelope=True)
    assert [p["step"] for p in pts] == list(range(11_000, 12_000))
    assert {p["step"]: p["value"] for p in pts}[11_234] == 500.0


def test_get_history_bulk_the_ui_route(api, client, exp_id):
    """GET /ajax-api/2.0/mlflow/metrics/get-history-bulk (MLflow's UI route): every point of the
    key for the runs, ordered by run id, then timestamp, step and value, capped by max_results in
    all; MLflow's own messages for a request without run_id or metric_key or with over 100 runs."""
    path = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
    a = client.create_run(exp_id).info.run_id
    b = client.create_run(exp_id).info.run_id
    client.log_batch(a, metrics=[Metric("m", 3.0, 2000, 1), Metric("m", 1.0, 1000, 5), Metric("m", 2.0, 1000, 5),
                                 Metric("other", 9.0, 1000, 0)])
    client.log_batch(b, metrics=[Metric("m", 7.0, 500, 0)])
    r = api.get(path, {"run_id": [b, a], "metric_key": "m"})
    assert r.status_code == 200, r.text
    got = [(p["run_id"], p["timestamp"], p["step"], p["value"]) for p in r.json()["metrics"]]
    want = sorted([(a, 1000, 5, 1.0), (a, 1000, 5, 2.0), (a, 2000, 1, 3.0), (b, 500, 0, 7.0)])
    assert got == want
    assert all(p["key"] == "m" for p in r.json()["metrics"])
    r = api.get(path, {"run_id": [b, a], "metric_key": "m", "max_results": 2})
    assert [(p["run_id"], p["value"]) for p in r.json()["metrics"]] == [(x[0], x[3]) for x in want[:2]]
    assert api.get(path, {"run_id": [a], "metric_key": "none"}).json().get("metrics", []) == []
    for params, msg in [({"metric_key": "m"}, "GetMetricHistoryBulk request must specify at least one run_id."),
                        ({"run_id": [a]}, "GetMetricHistoryBulk request must specify a metric_key."),
                        ({"run_id": [a] * 101, "metric_key": "m"},
                         "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids.")]:
        r = api.get(path, params)
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        assert r.json()["message"] == msg


def _mlflow_steps(histories, max_results, start=None, end=None):
    """MLflow's rule (store/tracking/abstract_store.py get_metric_history_bulk_interval),
    over {run: [steps...]}: the sorted union of steps in [start, end] (no range: 0 to the
    highest step), max_results of them at int(i * n / max_results) plus the last when there
    are more, and each run's lowest and highest step that lie in the range."""
    runs = [sorted(h) for h in histories.values()]
    ends = {s for r in runs if r for s in (min(r), max(r))}
    every = sorted({s for r in runs for s in r})
    if start is None:
        start, end = 0, (every[-1] if every else 0)
    ends = {s for s in ends if start <= s <= end}
    inside = [s for s in every if start <= s <= end]
    if len(inside) <= max_results:
        picked = set(inside)
    else:
        interval = len(inside) / max_results
        picked = {inside[int(i * interval)] for i in range(max_results) if int(i * interval) < len(inside)}
        picked.add(inside[-1])
    return sorted(picked | ends)


def test_steps_are_mlflows_exactly(api, client, exp_id):
    """The default answer is MLflow's step sampling, point for point: per run in run_ids order,
    every point (several at one step too) at the chosen steps by (step, timestamp, value);
    negative steps are left out when no range is given, as MLflow leaves them out."""
    a = client.create_run(exp_id).info.run_id
    b = client.create_run(exp_id).info.run_id
    sa = [-7, -3] + list(range(0, 997, 1)) + [1500]          # a spread with a gap and negatives
    sb = list(range(5, 2000, 7))
    client.log_batch(a, metrics=[Metric("x", float(s % 13), 10 + i, s) for i, s in enumerate(sa)]
                     + [Metric("x", -1.0, 5, 500), Metric("x", 99.0, 5, 500)])   # three points at step 500
    client.log_batch(b, metrics=[Metric("x", float(s), 20, s) for s in sb])
    hist = {a: sa, b: sb}
    for kw in [dict(max_results=37), dict(max_results=1), dict(max_results=2500),
               dict(max_results=50, start_step=-5, end_step=300), dict(max_results=10, start_step=990, end_step=1600),
               dict(max_results=3, start_step=2001, end_step=3000)]:
        pts = _get(api, [b, a], "x", **kw)
        want = _mlflow_steps(hist, kw["max_results"], kw.get("start_step"), kw.get("end_step"))
        runs = [p["run_id"] for p in pts]
        assert runs == sorted(runs, key=lambda r: 0 if r == b else 1), kw       # b's points first
        for rid in (a, b):
            got = [p["step"] for p in pts if p["run_id"] == rid]
            assert sorted(set(got)) == [s for s in want if s in set(hist[rid])], (kw, rid)
        at500 = [(p["timestamp"], p["value"]) for p in pts if p["run_id"] == a and p["step"] == 500]
        if 500 in want:
            assert at500 == sorted(at500) and len(at500) == 3, at500


def test_envelope_flag_is_checked(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    _log(client, rid, "f", range(10))
    r = api.get(PATH, {"run_ids": [rid], "metric_key": "f", "cairn_envelope": "false"})
    assert r.status_code == 200 and len(r.json()["metrics"]) == 10, r.text


@pytest.mark.cairn_only
def test_envelope_must_be_true_or_false(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert_error(api.get(PATH, {"run_ids": [rid], "metric_key": "f", "cairn_envelope": "yes"}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_messages_are_mlflows(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    docs = " See the API docs for more information about request parameters."
    for params, msg in [({"metric_key": "m", "max_results": 0}, "max_results must be between 1 and 2500." + docs),
                        ({"metric_key": "m", "start_step": 1}, "If either start step or end step are specified, "
                                                               "both must be specified."),
                        ({"metric_key": "m", "start_step": 5, "end_step": 1},
                         "end_step must be greater than start_step. Found start_step=5 and end_step=1."),
                        ({}, "Missing value for required parameter 'metric_key'." + docs)]:
        body = assert_error(api.get(PATH, dict({"run_ids": [rid]}, **params)), 400, "INVALID_PARAMETER_VALUE")
        assert body["message"] == msg, params
    body = assert_error(api.get(PATH, {"run_ids": [rid] * 101, "metric_key": "m"}), 400)
    assert body["message"] == ("GetMetricHistoryBulkInterval request must specify at most 100 run_ids. "
                               "Received 101 run_ids." + docs)
