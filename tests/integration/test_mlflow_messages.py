"""MLflow's exact texts for bad request fields (issue 15): clients and tests match on them.

MLflow's handlers validate each request against a schema and answer, word for word,
"Missing value for required parameter 'X'. See the API docs for more information about
request parameters." (absent, null or "" are all missing), "Invalid value 31 for parameter
'run_id' supplied:  Hint: Value was of type 'int'. See ..." (the value as json.dumps gives it,
the type by Python's name, two spaces after the colon), log-batch names the entry
("metrics[0].timestamp"), and an unsafe artifact path is only "Invalid path".
"""

import pytest

from helpers import assert_error

DOCS = " See the API docs for more information about request parameters."


def missing(name):
    return f"Missing value for required parameter '{name}'." + DOCS


def invalid(value, name, pytype):
    return f"Invalid value {value} for parameter '{name}' supplied:  Hint: Value was of type '{pytype}'." + DOCS


# (method, path, body or query, message); RUN and EXP are replaced by a fresh run's / experiment's id
CASES = [
    ("POST", "experiments/create", {}, missing("name")),
    ("POST", "experiments/create", {"name": ""}, missing("name")),
    ("POST", "experiments/create", {"name": 31}, invalid("31", "name", "int")),
    ("GET", "experiments/get", {}, missing("experiment_id")),
    ("GET", "experiments/get-by-name", {}, missing("experiment_name")),
    ("POST", "experiments/update", {}, missing("experiment_id")),
    ("POST", "experiments/delete", {}, missing("experiment_id")),
    ("POST", "experiments/restore", {}, missing("experiment_id")),
    ("POST", "experiments/set-experiment-tag", {"experiment_id": "EXP"}, missing("key")),
    ("POST", "experiments/delete-experiment-tag", {"experiment_id": "EXP"}, missing("key")),
    ("GET", "runs/get", {}, missing("run_id")),
    ("GET", "runs/get", {"run_id": ""}, missing("run_id")),
    ("POST", "runs/update", {}, missing("run_id")),
    ("POST", "runs/update", {"run_id": 31}, invalid("31", "run_id", "int")),
    ("POST", "runs/delete", {}, missing("run_id")),
    ("POST", "runs/restore", {}, missing("run_id")),
    ("POST", "runs/log-metric", {"run_id": "RUN"}, missing("key")),
    ("POST", "runs/log-metric", {"run_id": "RUN", "key": "k"}, missing("value")),
    ("POST", "runs/log-metric", {"run_id": "RUN", "key": "k", "value": 1}, missing("timestamp")),
    ("POST", "runs/log-metric", {"run_id": "RUN", "key": "k", "value": "x", "timestamp": 1},
     invalid('"x"', "value", "str")),
    ("POST", "runs/log-parameter", {"run_id": "RUN"}, missing("key")),
    ("POST", "runs/set-tag", {"run_id": "RUN"}, missing("key")),
    ("POST", "runs/delete-tag", {"run_id": "RUN"}, missing("key")),
    ("POST", "runs/log-batch", {}, missing("run_id")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "a", "value": 1}]}, missing("metrics[0].timestamp")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "a", "value": 1, "timestamp": 1},
                                                             {"key": "b", "timestamp": 1}]}, missing("metrics[1].value")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "metrics": [{"value": 1, "timestamp": 1}]}, missing("metrics[0].key")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "params": [{"value": "v"}]}, missing("params[0].key")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "tags": [{"value": "a"}]}, missing("tags[0].key")),
    ("POST", "runs/log-batch", {"run_id": "RUN", "metrics": "x"}, invalid('"x"', "metrics", "str")),
    ("POST", "runs/log-inputs", {}, missing("run_id")),
    ("POST", "runs/search", {"max_results": 0},
     "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
    ("GET", "metrics/get-history", {}, missing("run_id")),
    ("GET", "metrics/get-history", {"run_id": "RUN"}, missing("metric_key")),
    ("GET", "artifacts/list", {}, missing("run_id")),
    ("POST", "registered-models/create", {}, missing("name")),
    ("GET", "registered-models/get", {}, missing("name")),
    ("POST", "registered-models/rename", {"name": "x"}, missing("new_name")),
    ("POST", "model-versions/create", {"name": "x"}, missing("source")),
    ("GET", "model-versions/get", {"name": "x"}, missing("version")),
    ("GET", "registered-models/alias", {"name": "x"}, missing("alias")),
    ("POST", "registered-models/set-tag", {}, missing("name")),
    ("POST", "model-versions/transition-stage", {}, missing("name")),
    ("POST", "registered-models/get-latest-versions", {}, missing("name")),
    ("POST", "logged-models", {}, missing("experiment_id")),
]


def _fill(v, exp, run):
    if isinstance(v, str):
        return v.replace("EXP", exp).replace("RUN", run)
    if isinstance(v, dict):
        return {k: _fill(x, exp, run) for k, x in v.items()}
    if isinstance(v, list):
        return [_fill(x, exp, run) for x in v]
    return v


@pytest.mark.parametrize("method,path,args,message", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_bad_field_messages_are_mlflows(api, client, exp_id, method, path, args, message):
    run = client.create_run(exp_id).info.run_id
    args = _fill(args, exp_id, run)
    r = api.get(path, args) if method == "GET" else api.post(path, args)
    body = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == message


def test_tag_and_param_value_may_be_left_out(api, client, exp_id):
    """MLflow's schema has `value` as optional for set-tag, log-parameter and set-experiment-tag:
    left out, it is stored as ""."""
    run = client.create_run(exp_id).info.run_id
    for path, body in [("runs/set-tag", {"run_id": run, "key": "t"}),
                       ("runs/log-parameter", {"run_id": run, "key": "p"}),
                       ("experiments/set-experiment-tag", {"experiment_id": exp_id, "key": "e"})]:
        r = api.post(path, body)
        assert r.status_code == 200, (path, r.text)
    got = client.get_run(run).data
    assert got.tags["t"] == "" and got.params["p"] == ""
    assert client.get_experiment(exp_id).tags["e"] == ""


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a#b", "%2e%2e/x"])
def test_unsafe_artifact_paths_are_invalid_path(api, client, exp_id, path):
    run = client.create_run(exp_id).info.run_id
    for r in (api.get("/get-artifact", {"run_id": run, "path": path}),
              api.get("artifacts/list", {"run_id": run, "path": path}),
              api.get("/api/2.0/mlflow-artifacts/artifacts", {"path": path})):
        body = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        assert body["message"] == "Invalid path", r.url
