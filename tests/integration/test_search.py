"""search_runs: the whole filter grammar, order_by, paging, view types, several experiments.

One read-only experiment with five runs (one deleted) is built once for the module:

  run   run_name     status    start  end   acc (history)    loss  lr      opt    team
  r0    run-a        FINISHED  1000   2000  0.9              0.1   0.01    adam   Vision
  r1    run-b        FAILED    2000   5000  0.5              0.3   0.1     sgd    nlp
  r2    Run-C        RUNNING   3000   -     0.1@0 -> 0.7@5   -     0.001   Adam   vision
  r3    other        KILLED    4000   9000  -                0.2   -       sgd    -
  r4    run-deleted  deleted   5000   -     1.0              -     -       -      -

plus keys that need quoting: metric `val loss` (r0 1.0, r1 2.0), metric `val.acc` (r0 0.3),
param `a.b` (r0 'x'), tag `with space` (r1 'y').
"""

import uuid

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

from helpers import assert_error

ALL_ACTIVE = ["r0", "r1", "r2", "r3"]


@pytest.fixture(scope="module")
def data(tracking_uri):
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=tracking_uri)
    eid = c.create_experiment(f"it-search-{uuid.uuid4().hex[:8]}")
    spec = {
        "r0": dict(name="run-a", start=1000, status="FINISHED", end=2000,
                   metrics=[("acc", 0.9, 0), ("loss", 0.1, 0), ("val loss", 1.0, 0), ("val.acc", 0.3, 0)],
                   params={"lr": "0.01", "opt": "adam", "a.b": "x"}, tags={"team": "Vision"}),
        "r1": dict(name="run-b", start=2000, status="FAILED", end=5000,
                   metrics=[("acc", 0.5, 0), ("loss", 0.3, 0), ("val loss", 2.0, 0)],
                   params={"lr": "0.1", "opt": "sgd"}, tags={"team": "nlp", "with space": "y"}),
        "r2": dict(name="Run-C", start=3000, status=None, end=None,
                   metrics=[("acc", 0.1, 0), ("acc", 0.7, 5)],
                   params={"lr": "0.001", "opt": "Adam"}, tags={"team": "vision"}),
        "r3": dict(name="other", start=4000, status="KILLED", end=9000,
                   metrics=[("loss", 0.2, 0)], params={"opt": "sgd"}, tags={}),
        "r4": dict(name="run-deleted", start=5000, status=None, end=None,
                   metrics=[("acc", 1.0, 0)], params={}, tags={}),
    }
    ids = {}
    for label, s in spec.items():
        rid = c.create_run(eid, start_time=s["start"], run_name=s["name"]).info.run_id
        ids[label] = rid
        c.log_batch(rid,
                    metrics=[Metric(k, v, 1700000000000 + st, st) for k, v, st in s["metrics"]],
                    params=[Param(k, v) for k, v in s["params"].items()],
                    tags=[RunTag(k, v) for k, v in s["tags"].items()])
        if s["status"]:
            c.set_terminated(rid, status=s["status"], end_time=s["end"])
    c.delete_run(ids["r4"])
    return {"client": c, "eid": eid, "ids": ids, "labels": {v: k for k, v in ids.items()}}


def labels(data, runs):
    return [data["labels"].get(r.info.run_id, r.info.run_id) for r in runs]


def find(data, flt, **kw):
    """Labels of the matching runs, sorted (for filters whose order does not matter)."""
    return sorted(labels(data, data["client"].search_runs([data["eid"]], flt, **kw)))


def ordered(data, order_by, flt="", **kw):
    return labels(data, data["client"].search_runs([data["eid"]], flt, order_by=order_by, **kw))


@pytest.mark.parametrize("flt,expected", [
    ("metrics.acc > 0.7", ["r0"]),
    ("metrics.acc >= 0.7", ["r0", "r2"]),
    ("metrics.acc = 0.7", ["r2"]),
    ("metrics.acc != 0.7", ["r0", "r1"]),  # runs without the metric never match
    ("metrics.acc < 0.7", ["r1"]),
    ("metrics.acc <= 0.7", ["r1", "r2"]),
    ("metric.acc > 0.6", ["r0", "r2"]),
    ("metrics.acc > 7e-1", ["r0"]),
    ("metrics.acc > -1", ["r0", "r1", "r2"]),
    ("metrics.acc < 0.2", []),  # r2's older value 0.1 is not its latest value
    ("metrics.loss >= 0.2 AND metrics.loss <= 0.3", ["r1", "r3"]),
])
def test_metric_comparators(data, flt, expected):
    assert find(data, flt) == expected


@pytest.mark.parametrize("flt,expected", [
    ("params.lr = '0.01'", ["r0"]),
    ("params.lr != '0.01'", ["r1", "r2"]),  # r3 has no lr
    ("params.lr LIKE '0.0%'", ["r0", "r2"]),
    ("params.lr LIKE '%1'", ["r0", "r1", "r2"]),
    ("params.lr LIKE '0._'", ["r1"]),
    ("params.opt LIKE 'adam'", ["r0"]),  # LIKE is case-sensitive
    ("params.opt ILIKE 'ADAM'", ["r0", "r2"]),
    ("params.opt ILIKE '%a%'", ["r0", "r2"]),
    ("param.opt = 'sgd'", ["r1", "r3"]),
    ("parameter.opt = 'sgd'", ["r1", "r3"]),
    ("parameters.opt = 'sgd'", ["r1", "r3"]),
    ('params.lr = "0.1"', ["r1"]),  # double-quoted value
])
def test_param_comparators(data, flt, expected):
    assert find(data, flt) == expected


@pytest.mark.parametrize("flt,expected", [
    ("tags.team = 'vision'", ["r2"]),
    ("tags.team != 'nlp'", ["r0", "r2"]),
    ("tags.team LIKE 'V%'", ["r0"]),
    ("tags.team ILIKE 'vision'", ["r0", "r2"]),
    ("tag.team = 'nlp'", ["r1"]),
    ("tags.`mlflow.runName` = 'other'", ["r3"]),
    ('tags."mlflow.runName" LIKE \'run-%\'', ["r0", "r1"]),
])
def test_tag_comparators(data, flt, expected):
    assert find(data, flt) == expected


def test_attribute_filters(data):
    ids = data["ids"]
    assert find(data, "attributes.status = 'FINISHED'") == ["r0"]
    assert find(data, "status != 'RUNNING'") == ["r0", "r1", "r3"]  # bare key = attribute
    assert find(data, "attr.status LIKE 'F%'") == ["r0", "r1"]
    assert find(data, "run.status ILIKE 'killed'") == ["r3"]
    assert find(data, "attributes.run_name = 'run-b'") == ["r1"]
    assert find(data, "attributes.run_name LIKE 'run-%'") == ["r0", "r1"]
    assert find(data, "attributes.run_name ILIKE 'run-%'") == ["r0", "r1", "r2"]
    assert find(data, "attributes.`Run name` = 'other'") == ["r3"]
    assert find(data, 'attributes."run name" != \'other\'') == ["r0", "r1", "r2"]
    assert find(data, f"attributes.run_id = '{ids['r1']}'") == ["r1"]
    assert find(data, f"attributes.artifact_uri LIKE '%{ids['r2']}%'") == ["r2"]


def test_time_attribute_filters(data):
    assert find(data, "attributes.start_time >= 3000") == ["r2", "r3"]
    assert find(data, "attributes.start_time < 2000") == ["r0"]
    assert find(data, "attributes.start_time != 2000") == ["r0", "r2", "r3"]
    assert find(data, "attributes.created = 2000") == ["r1"]
    assert find(data, "attributes.Created <= 2000") == ["r0", "r1"]
    assert find(data, "attributes.end_time > 4000") == ["r1", "r3"]  # r2 has no end_time
    assert find(data, "attributes.end_time <= 5000") == ["r0", "r1"]


def test_run_id_in_and_not_in(data):
    ids = data["ids"]
    assert find(data, f"attributes.run_id IN ('{ids['r0']}', '{ids['r3']}')") == ["r0", "r3"]
    assert find(data, f"attributes.run_id NOT IN ('{ids['r0']}', '{ids['r3']}')") == ["r1", "r2"]
    assert find(data, f"run_id IN ('{ids['r2']}')") == ["r2"]
    assert find(data, f"attributes.run_id IN ('{ids['r4']}')") == []  # deleted: not ACTIVE_ONLY
    assert find(data, f"attributes.run_id IN ('{ids['r4']}')", run_view_type=ViewType.ALL) == ["r4"]


def test_quoted_keys(data):
    assert find(data, "metrics.`val loss` < 1.5") == ["r0"]
    assert find(data, 'metrics."val loss" > 1.5') == ["r1"]
    assert find(data, "metrics.`val.acc` = 0.3") == ["r0"]
    assert find(data, "params.`a.b` = 'x'") == ["r0"]
    assert find(data, 'tags."with space" = \'y\'') == ["r1"]


def test_conjunctions(data):
    assert find(data, "metrics.acc > 0.4 AND params.opt = 'sgd' AND tags.team = 'nlp'") == ["r1"]
    assert find(data, "metrics.acc > 0.4 and params.opt ILIKE 'adam'") == ["r0", "r2"]
    assert find(data, "params.opt = 'sgd' AND attributes.status = 'KILLED'") == ["r3"]
    assert find(data, "metrics.acc > 0.4 AND metrics.acc < 0.4") == []
    assert find(data, "") == ALL_ACTIVE


@pytest.mark.parametrize("order_by,expected", [
    (["metrics.acc DESC"], ["r0", "r2", "r1", "r3"]),  # missing metric last...
    (["metrics.acc ASC"], ["r1", "r2", "r0", "r3"]),   # ...in both directions
    (["metrics.acc"], ["r1", "r2", "r0", "r3"]),       # ASC is the default
    (["params.lr ASC"], ["r2", "r0", "r1", "r3"]),     # params compare as strings
    (["params.lr DESC"], ["r1", "r0", "r2", "r3"]),
    (["tags.team DESC"], ["r2", "r1", "r0", "r3"]),    # binary collation: 'Vision' < 'nlp'
    (["params.opt ASC", "metrics.loss DESC"], ["r2", "r0", "r1", "r3"]),
    (["params.opt ASC", "metrics.loss ASC"], ["r2", "r0", "r3", "r1"]),
    (["params.opt DESC", "attributes.start_time DESC"], ["r3", "r1", "r0", "r2"]),
    (["attributes.start_time ASC"], ["r0", "r1", "r2", "r3"]),
    (["attributes.end_time DESC"], ["r3", "r1", "r0", "r2"]),  # missing end_time last
    (["attributes.end_time ASC"], ["r0", "r1", "r3", "r2"]),
    (["attributes.run_name ASC"], ["r2", "r3", "r0", "r1"]),
    (["attributes.status DESC"], ["r2", "r3", "r0", "r1"]),
    (["metrics.`val loss` DESC"], ["r1", "r0", "r3", "r2"]),  # ties: start_time DESC
    ([], ["r3", "r2", "r1", "r0"]),                    # default: start_time DESC
])
def test_order_by(data, order_by, expected):
    assert ordered(data, order_by) == expected


def test_order_by_with_filter(data):
    assert ordered(data, ["metrics.loss DESC"], "params.opt = 'sgd'") == ["r1", "r3"]


def test_paging(data):
    c, eid = data["client"], data["eid"]
    page = c.search_runs([eid], "", order_by=["attributes.start_time ASC"], max_results=3)
    assert labels(data, page) == ["r0", "r1", "r2"]
    assert page.token
    page2 = c.search_runs([eid], "", order_by=["attributes.start_time ASC"], max_results=3,
                          page_token=page.token)
    assert labels(data, page2) == ["r3"]
    assert not page2.token

    seen, token, calls = [], None, 0
    while True:
        p = c.search_runs([eid], "", order_by=["metrics.acc DESC"], max_results=1, page_token=token)
        calls += 1
        seen += labels(data, p)
        token = p.token
        if not token:
            break
        assert calls < 10
    assert seen == ["r0", "r2", "r1", "r3"]


def test_paging_raw_token_round_trip(api, data):
    body = {"experiment_ids": [data["eid"]], "max_results": 2, "order_by": ["attributes.start_time DESC"]}
    r1 = api.post("runs/search", body)
    assert r1.status_code == 200, r1.text
    j1 = r1.json()
    assert len(j1["runs"]) == 2 and isinstance(j1["next_page_token"], str)
    r2 = api.post("runs/search", dict(body, page_token=j1["next_page_token"]))
    assert r2.status_code == 200, r2.text
    got = [r["info"]["run_id"] for r in j1["runs"] + r2.json()["runs"]]
    ids = data["ids"]
    assert got == [ids["r3"], ids["r2"], ids["r1"], ids["r0"]]


def test_run_view_type(data):
    assert find(data, "") == ALL_ACTIVE
    assert find(data, "", run_view_type=ViewType.ACTIVE_ONLY) == ALL_ACTIVE
    assert find(data, "", run_view_type=ViewType.DELETED_ONLY) == ["r4"]
    assert find(data, "", run_view_type=ViewType.ALL) == ALL_ACTIVE + ["r4"]
    assert find(data, "metrics.acc > 0.95", run_view_type=ViewType.ALL) == ["r4"]


def test_several_experiments(client, request, data):
    other = client.create_experiment(f"it-search-other-{uuid.uuid4().hex[:8]}")
    o1 = client.create_run(other, start_time=500).info.run_id
    o2 = client.create_run(other, start_time=600).info.run_id
    client.log_metric(o1, "acc", 0.8)
    client.log_metric(o2, "acc", 0.05)
    runs = client.search_runs([data["eid"], other], "metrics.acc > 0.6", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in runs] == [data["ids"]["r0"], o1, data["ids"]["r2"]]
    assert {r.info.experiment_id for r in runs} == {data["eid"], other}
    everything = client.search_runs([other, data["eid"]], "")
    assert len(everything) == 6
    # default order start_time DESC across experiments
    assert [r.info.run_id for r in everything][-2:] == [o2, o1]


def test_unknown_experiment_gives_empty_result(api):
    r = api.post("runs/search", {"experiment_ids": ["987654321"]})
    assert r.status_code == 200, r.text
    assert r.json().get("runs", []) == []


def test_search_runs_dataframe(data):
    df = mlflow.search_runs([data["eid"]], "params.opt = 'sgd'", order_by=["attributes.start_time ASC"])
    assert list(df["run_id"]) == [data["ids"]["r1"], data["ids"]["r3"]]
    assert list(df["status"]) == ["FAILED", "KILLED"]
    assert list(df["metrics.loss"]) == [0.3, 0.2]
    assert df["params.lr"].iloc[0] == "0.1"
    assert df["tags.team"].iloc[0] == "nlp"


def test_run_data_in_search_results(data):
    runs = data["client"].search_runs([data["eid"]], "attributes.run_name = 'Run-C'")
    assert len(runs) == 1
    r = runs[0]
    assert r.data.metrics == {"acc": 0.7}
    assert r.data.params == {"lr": "0.001", "opt": "Adam"}
    assert r.data.tags["team"] == "vision"
    assert r.info.status == "RUNNING" and r.info.start_time == 3000


@pytest.mark.parametrize("flt", [
    "metrics.acc > 'x'",                       # metric needs a number
    "metrics.acc LIKE '1'",
    "params.lr > '1'",                         # bad comparator for params
    "params.lr = 1",                           # param value must be quoted
    "tags.team ~ 'x'",
    "tags.team IN ('a')",
    "attributes.status IN ('FINISHED')",       # IN only for run_id
    "attributes.lifecycle_stage = 'active'",   # not a searchable attribute
    "attributes.start_time = 'x'",
    "attributes.run_id IN ()",
    "foo.bar = 'x'",                           # unknown entity type
    "datasets.foo = 'x'",
    "metrics.acc > 0.5 OR metrics.acc < 0.1",  # no OR
    "(metrics.acc > 0.5)",                     # no parentheses
    "metrics.acc >",
    "params.lr = 'unterminated",
    "metrics.`a b > 1",
    "   ",
])
def test_bad_filter_is_400(api, data, flt):
    r = api.post("runs/search", {"experiment_ids": [data["eid"]], "filter": flt})
    assert_error(r, 400)  # MLflow uses INVALID_PARAMETER_VALUE (BAD_REQUEST for one odd case)


def test_bad_filter_through_client(data):
    with pytest.raises(MlflowException) as ei:
        data["client"].search_runs([data["eid"]], "metrics.acc > 'x'")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("order_by", [
    ["metrics.acc SIDEWAYS"], ["foo.bar"], ["attributes.nope"], ["metrics.acc DESC ASC"], [""],
])
def test_bad_order_by_is_400(api, data, order_by):
    r = api.post("runs/search", {"experiment_ids": [data["eid"]], "order_by": order_by})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.cairn_only
def test_duplicate_order_by_is_400(api, data):
    # real MLflow answers 500 INTERNAL_ERROR ("`order_by` contains duplicate fields")
    r = api.post("runs/search", {"experiment_ids": [data["eid"]],
                                 "order_by": ["metrics.acc", "metrics.acc DESC"]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("extra", [
    {"max_results": 50001}, {"max_results": 0}, {"max_results": -1},
    {"page_token": "not-a-token"},
])
def test_bad_paging_arguments_are_400(api, data, extra):
    r = api.post("runs/search", dict({"experiment_ids": [data["eid"]]}, **extra))
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_max_results_50000_is_accepted(api, data):
    r = api.post("runs/search", {"experiment_ids": [data["eid"]], "max_results": 50000})
    assert r.status_code == 200, r.text
    assert len(r.json()["runs"]) == 4


def test_order_by_one_key_pages_through_values_nan_and_missing(api):
    """An order that starts with a metric, param or tag is read in that key's index order, part
    by part (values, a metric's NaN, runs without the key), ties sorted by the order's other
    keys; paged in small pages it gives exactly MLflow's order, modelled here (numbers by value,
    then NaN, then runs without the metric, in both directions; params and tags as strings, runs
    without them last; then start_time DESC, run_uuid ASC), with one key and with several, with
    a filter, and never shows deleted runs."""
    import random
    import uuid
    rnd = random.Random(7)
    eid = api.create_experiment("order-one-metric-" + uuid.uuid4().hex)
    base = 1_700_000_000_000
    model = {}
    for i in range(40):
        start = base + (i // 3) * 1000      # groups of 3 with the same start_time: run_uuid breaks the tie
        rid = api.create_run(eid, start_time=start, run_name="q%d" % i)
        model["q%d" % i] = {"start": start, "id": rid, "metrics": {}, "params": {}, "tags": {}}
        metrics = []
        kind = i % 5
        if kind in (0, 1, 2):
            metrics.append({"key": "m", "value": float(rnd.choice([1, 2, 2, 3, 4.5, -1])), "timestamp": 1, "step": 0})
        elif kind == 3:
            metrics.append({"key": "m", "value": "NaN", "timestamp": 1, "step": 0})
        metrics.append({"key": "other", "value": float(i % 2), "timestamp": 1, "step": 0})
        params = [{"key": "g", "value": "even" if i % 2 == 0 else "odd"}]
        if i % 4:
            params.append({"key": "h", "value": rnd.choice(["b", "a", "c", "b"])})
        tags = [{"key": "t", "value": rnd.choice(["x", "y", "x"])}] if i % 3 else []
        r = api.post("runs/log-batch", {"run_id": rid, "metrics": metrics, "params": params, "tags": tags})
        assert r.status_code == 200, r.text
        m = model["q%d" % i]
        m["metrics"] = {x["key"]: float(x["value"]) for x in metrics}
        m["params"] = {x["key"]: x["value"] for x in params}
        m["tags"] = {x["key"]: x["value"] for x in tags}
        if i in (4, 17):
            assert api.post("runs/delete", {"run_id": rid}).status_code == 200
            m["deleted"] = True

    import functools
    import math

    def expect(order_by, flt):
        """the order MLflow gives, from the model"""
        def keep(m):
            if m.get("deleted"):
                return False
            if flt == "params.g = 'even'":
                return m["params"].get("g") == "even"
            if flt == "metrics.other = 1":
                return m["metrics"].get("other") == 1.0
            return True

        def cmp_key(a, b, term):
            kind, key = term.split(" ")[0].split(".", 1)
            desc = term.endswith("DESC")
            va, vb = a[kind].get(key), b[kind].get(key)
            if kind == "metrics":
                pa = 2 if va is None else 1 if math.isnan(va) else 0
                pb = 2 if vb is None else 1 if math.isnan(vb) else 0
            else:
                pa, pb = (va is None), (vb is None)
            if pa != pb:
                return -1 if pa < pb else 1      # the parts' order holds both ways
            if pa:                                # both NaN or both missing
                return 0
            if va == vb:
                return 0
            lt = va < vb if kind == "metrics" else va.encode() < vb.encode()
            return (1 if lt else -1) if desc else (-1 if lt else 1)

        def cmp(a, b):
            for term in order_by:
                c = cmp_key(a, b, term)
                if c:
                    return c
            if a["start"] != b["start"]:
                return -1 if a["start"] > b["start"] else 1
            return -1 if a["id"] < b["id"] else 1
        names = [n for n, m in model.items() if keep(m)]
        return sorted(names, key=functools.cmp_to_key(lambda x, y: cmp(model[x], model[y])))

    def pages(order_by, flt="", size=7):
        out, token = [], None
        while True:
            body = {"experiment_ids": [eid], "max_results": size, "order_by": order_by, "filter": flt}
            if token:
                body["page_token"] = token
            r = api.post("runs/search", body)
            assert r.status_code == 200, r.text
            j = r.json()
            out += [x["info"]["run_name"] for x in j.get("runs", [])]
            token = j.get("next_page_token")
            if not token:
                return out

    orders = [["%s %s" % (key, d)] for key in ("metrics.m", "params.h", "tags.t") for d in ("ASC", "DESC")]
    orders += [["metrics.m DESC", "params.h ASC"], ["params.h ASC", "metrics.m DESC"],
               ["tags.t DESC", "metrics.other ASC", "params.h DESC"], ["params.g ASC", "tags.t ASC"],
               ["metrics.other DESC", "metrics.m ASC"]]
    for order in orders:
        for flt in ("", "params.g = 'even'", "metrics.other = 1"):
            fast = pages(order, flt)
            assert fast == expect(order, flt), (order, flt)
            assert len(set(fast)) == len(fast)
            assert "q4" not in fast and "q17" not in fast
            for size in (1, 3, 38, 39, 100):
                assert pages(order, flt, size=size) == fast, (order, flt, size)
    everything = pages(["metrics.m DESC"])
    assert len(everything) == 38
    # numbers first (by value), then NaN (q3, q8, ...), then the runs without it (q4's kind, deleted aside)
    kinds = [int(n[1:]) % 5 for n in everything]
    assert kinds == sorted(kinds, key=lambda k: 0 if k < 3 else 1 if k == 3 else 2)
