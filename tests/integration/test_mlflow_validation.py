"""Requests MLflow 3.5.2 refuses, refused the same way (issue 15).

- `experiments/search-datasets` (ajax-only) needs 1 to 20 experiment ids;
- a model-version `source` is checked as MLflow's _validate_source_run does: a local path
  or `file:` URI is looked at first, so without `run_id` (or outside the run's artifact
  folder) it is refused as a local source whatever else it holds (`..%2f`), and with a
  `run_id` the message names the path MLflow resolved; a remote URI with encoded `..` or a
  NUL is refused as a relative path. (MLflow answers 500 to a `file:` source with a NUL and a
  run_id: not pinned; cairn refuses it with 400.)
"""

import pytest

from helpers import assert_error

DATASETS = "/ajax-api/2.0/mlflow/experiments/search-datasets"

LOCAL = ("Invalid model version source: '{}'. To use a local path as a model version source, the run_id "
         "request parameter has to be specified and the local path has to be contained within the artifact "
         "directory of the run specified by the run_id.")
RELATIVE = ("Invalid model version source: '{}'. If supplying a source as an http, https, local file path, "
            "ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative "
            "path references present. Please provide an absolute path.")


@pytest.mark.parametrize("body", [{}, {"experiment_ids": []}])
def test_search_datasets_needs_an_experiment(api, body):
    body = assert_error(api.post(DATASETS, body), 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == "SearchDatasets request must specify at least one experiment_id."


def test_search_datasets_takes_at_most_20(api, exp_id):
    r = api.post(DATASETS, {"experiment_ids": [exp_id] * 20})
    assert r.status_code == 200, r.text
    body = assert_error(api.post(DATASETS, {"experiment_ids": [exp_id] * 21}), 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == ("SearchDatasets request cannot specify more than 20 experiment_ids. "
                               "Received 21 experiment_ids.")


@pytest.fixture
def model(api, request):
    name = f"val-{abs(hash(request.node.name)) % 10**9}-{id(request)}"
    r = api.post("registered-models/create", {"name": name})
    assert r.status_code == 200, r.text
    return name


@pytest.mark.parametrize("source,with_run,message", [
    ("..%2f..%2fetc", False, LOCAL.format("..%2f..%2fetc")),
    ("/tmp/x", False, LOCAL.format("/tmp/x")),
    ("file:///etc/passwd", False, LOCAL.format("file:///etc/passwd")),
    ("relative/x", False, LOCAL.format("relative/x")),
    ("/tmp/x", True, LOCAL.format("/tmp/x")),
    ("file:///tmp/x", True, LOCAL.format("/tmp/x")),           # named as the path MLflow resolved
    ("s3://b/a/..%2f..%2fx", False, RELATIVE.format("s3://b/a/..%2f..%2fx")),
    ("s3://b/a%00b", False, None),
    ("s3://b/a/%2e%2e/x", False, RELATIVE.format("s3://b/a/%2e%2e/x")),
])
def test_model_version_sources_are_refused_as_mlflow_does(api, client, exp_id, model, source, with_run, message):
    body = {"name": model, "source": source}
    if with_run:
        body["run_id"] = client.create_run(exp_id).info.run_id
    err = assert_error(api.post("model-versions/create", body), 400, "INVALID_PARAMETER_VALUE")
    if message is not None:
        assert err["message"] == message
    else:
        assert err["message"].startswith("Invalid model version source: ")


def test_run_artifact_sources_are_accepted(api, client, exp_id, model):
    run = client.create_run(exp_id).info
    for body in [{"source": run.artifact_uri + "/model", "run_id": run.run_id},
                 {"source": f"runs:/{run.run_id}/model"}]:
        r = api.post("model-versions/create", dict(body, name=model))
        assert r.status_code == 200, r.text
