"""logged-models/search with `datasets` (issue 15): dataset-scoped search as MLflow 3.5.2 does it.

- a model matches only when it has a metric logged on one of the datasets (dataset_name, and
  dataset_digest; a name without a digest matches only metrics logged without one: MLflow's
  handler passes the absent digest as None and its store compares `IS NULL` - and since a
  metric cannot be logged with a name but no digest, such an entry matches nothing. Odd,
  matched);
- a `metrics.<key>` clause then reads only the metrics of those datasets;
- `max_results` 0 (or absent) with `datasets` is MLflow's default page, not 400 "Invalid value 0"
  (the old check read the datasets lookup's return code); experiment_ids is required;
- a `datasets` entry without dataset_name is 400 with MLflow's message.
"""

from helpers import assert_error

PATH = "logged-models/search"


def _model(api, exp_id, run_id, name, metrics):
    r = api.post("logged-models", {"experiment_id": exp_id, "name": name, "source_run_id": run_id})
    assert r.status_code == 200, r.text
    mid = r.json()["model"]["info"]["model_id"]
    for i, (key, value, ds, digest) in enumerate(metrics):
        body = {"run_id": run_id, "key": key, "value": value, "timestamp": 1000 + i, "step": 0, "model_id": mid}
        if ds:
            body["dataset_name"] = ds
        if digest:
            body["dataset_digest"] = digest
        r = api.post("runs/log-metric", body)
        assert r.status_code == 200, r.text
    return mid


def _search(api, exp_id, **kw):
    r = api.post(PATH, dict({"experiment_ids": [exp_id]}, **kw))
    assert r.status_code == 200, r.text
    return sorted(m["info"]["name"] for m in r.json().get("models", []))


def test_datasets_scope_the_search(api, client, exp_id):
    run = client.create_run(exp_id).info.run_id
    _model(api, exp_id, run, "on-train", [("acc", 0.9, "train", "d1")])
    _model(api, exp_id, run, "on-eval", [("acc", 0.5, "eval", "d2"), ("acc", 0.95, "train", "d1")])
    _model(api, exp_id, run, "eval-too", [("acc", 0.7, "eval", "d2")])
    _model(api, exp_id, run, "no-dataset", [("acc", 0.99, None, None)])
    _model(api, exp_id, run, "no-metrics", [])

    assert _search(api, exp_id) == ["eval-too", "no-dataset", "no-metrics", "on-eval", "on-train"]
    assert _search(api, exp_id, datasets=[{"dataset_name": "train", "dataset_digest": "d1"}]) == ["on-eval", "on-train"]
    assert _search(api, exp_id, datasets=[{"dataset_name": "eval", "dataset_digest": "d2"}]) == ["eval-too", "on-eval"]
    # a name alone matches metrics logged without a digest only, and a metric cannot be
    # logged so (MLflow: "Both dataset_name and dataset_digest must be provided"): nothing
    assert _search(api, exp_id, datasets=[{"dataset_name": "eval"}]) == []
    assert _search(api, exp_id, datasets=[{"dataset_name": "eval", "dataset_digest": "d2"},
                                          {"dataset_name": "train"}]) == ["eval-too", "on-eval"]
    assert _search(api, exp_id, datasets=[{"dataset_name": "eval", "dataset_digest": "zz"},
                                          {"dataset_name": "train", "dataset_digest": "d1"}]) == ["on-eval", "on-train"]
    # a metric clause reads only the datasets' metrics: on-eval's 0.95 is on train, not eval
    assert _search(api, exp_id, filter="metrics.acc > 0.6",
                   datasets=[{"dataset_name": "eval", "dataset_digest": "d2"}]) == ["eval-too"]
    assert _search(api, exp_id, filter="metrics.acc > 0.6",
                   datasets=[{"dataset_name": "train", "dataset_digest": "d1"}]) == ["on-eval", "on-train"]
    assert _search(api, exp_id, filter="name != 'on-train'",
                   datasets=[{"dataset_name": "train", "dataset_digest": "d1"}]) == ["on-eval"]


def test_max_results_zero_with_datasets_is_the_default_page(api, client, exp_id):
    run = client.create_run(exp_id).info.run_id
    _model(api, exp_id, run, "m", [("acc", 0.9, "train", "d1")])
    ds = [{"dataset_name": "train", "dataset_digest": "d1"}]
    assert _search(api, exp_id, datasets=ds, max_results=0) == ["m"]
    assert _search(api, exp_id, datasets=ds) == ["m"]
    assert _search(api, exp_id, datasets=ds, max_results=5) == ["m"]


def test_bad_requests(api, exp_id):
    body = assert_error(api.post(PATH, {"datasets": [{"dataset_name": "x"}]}), 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == ("Missing value for required parameter 'experiment_ids'. "
                               "See the API docs for more information about request parameters.")
    body = assert_error(api.post(PATH, {"experiment_ids": [exp_id], "datasets": [{"dataset_digest": "d"}]}), 400,
                        "INVALID_PARAMETER_VALUE")
    assert body["message"] == "`dataset_name` in the `datasets` clause must be specified."
