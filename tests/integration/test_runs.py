"""Runs: fluent API, nesting, fields, update/delete/restore, run names."""

import re
import time

import mlflow
import pytest
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException, RestException

from helpers import assert_error

RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def test_fluent_run_fields(exp_id):
    t0 = int(time.time() * 1000) - 5000
    with mlflow.start_run(run_name="fluent-one") as run:
        rid = run.info.run_id
        assert mlflow.active_run().info.run_id == rid
        live = mlflow.get_run(rid)
        assert live.info.status == "RUNNING"
        assert live.info.end_time is None
    t1 = int(time.time() * 1000) + 5000
    assert mlflow.active_run() is None
    r = mlflow.get_run(rid)
    assert RUN_ID_RE.match(rid)
    assert r.info.run_id == rid
    assert r.info.experiment_id == exp_id
    assert r.info.run_name == "fluent-one"
    assert r.data.tags["mlflow.runName"] == "fluent-one"
    assert r.info.status == "FINISHED"
    assert r.info.lifecycle_stage == "active"
    assert t0 <= r.info.start_time <= r.info.end_time <= t1
    assert r.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{rid}/artifacts"
    # context tags the client sends on create_run are stored verbatim
    assert r.data.tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in r.data.tags
    assert r.info.user_id == r.data.tags["mlflow.user"]


def test_failed_run_on_exception(exp_id):
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as run:
            1 / 0
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_nested_runs(exp_id, client):
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-1", nested=True) as c1:
            with mlflow.start_run(run_name="grandchild", nested=True) as gc:
                pass
        with mlflow.start_run(run_name="child-2", nested=True) as c2:
            pass
        assert mlflow.active_run().info.run_id == parent.info.run_id
    pid = parent.info.run_id
    assert "mlflow.parentRunId" not in client.get_run(pid).data.tags
    assert client.get_run(c1.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(c2.info.run_id).data.tags["mlflow.parentRunId"] == pid
    assert client.get_run(gc.info.run_id).data.tags["mlflow.parentRunId"] == c1.info.run_id
    children = client.search_runs([exp_id], f"tags.mlflow.parentRunId = '{pid}'",
                                  order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in children] == ["child-1", "child-2"]
    for r in [parent, c1, c2, gc]:
        assert client.get_run(r.info.run_id).info.status == "FINISHED"


def test_second_start_run_without_nested_is_refused(exp_id):
    with mlflow.start_run():
        with pytest.raises(Exception, match="already active"):
            mlflow.start_run()


def test_server_generates_run_name(api, exp_id):
    r = api.post("runs/create", {"experiment_id": exp_id, "start_time": 1700000000000})
    assert r.status_code == 200, r.text
    run = r.json()["run"]
    name = run["info"]["run_name"]
    assert isinstance(name, str) and name
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.runName"] == name
    assert run["info"]["status"] == "RUNNING"
    assert run["info"]["start_time"] == 1700000000000
    assert run["info"]["lifecycle_stage"] == "active"
    assert RUN_ID_RE.match(run["info"]["run_id"])
    assert run["info"]["run_uuid"] == run["info"]["run_id"]  # deprecated alias still sent
    assert re.match(r"^[a-z]+-[a-z]+-\d+$", name), name  # MLflow's adjective-noun-NNN style


def test_run_name_and_tag_conflict_is_rejected(api, exp_id):
    r = api.post("runs/create", {"experiment_id": exp_id, "run_name": "a",
                                 "tags": [{"key": "mlflow.runName", "value": "b"}]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_run_name_tag_and_rename(client, exp_id):
    run = client.create_run(exp_id, tags={"mlflow.runName": "from-tag"})
    rid = run.info.run_id
    assert run.info.run_name == "from-tag"
    client.set_tag(rid, "mlflow.runName", "renamed-by-tag")
    assert client.get_run(rid).info.run_name == "renamed-by-tag"
    client.update_run(rid, name="renamed-by-update")
    r = client.get_run(rid)
    assert r.info.run_name == "renamed-by-update"
    assert r.data.tags["mlflow.runName"] == "renamed-by-update"
    assert r.info.status == "RUNNING"  # update with only a name keeps the status


def test_create_run_explicit_fields(client, exp_id):
    run = client.create_run(exp_id, start_time=1600000000123, tags={"a": "1", "b": "two"},
                            run_name="explicit")
    r = client.get_run(run.info.run_id)
    assert r.info.start_time == 1600000000123
    assert r.data.tags["a"] == "1" and r.data.tags["b"] == "two"
    assert r.data.params == {} and r.data.metrics == {}
    assert r.info.end_time is None


def test_update_status_and_end_time(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.set_terminated(rid, status="KILLED", end_time=1700000009999)
    r = client.get_run(rid)
    assert r.info.status == "KILLED"
    assert r.info.end_time == 1700000009999
    client.set_terminated(rid, status="FINISHED", end_time=1700000010000)
    r = client.get_run(rid)
    assert r.info.status == "FINISHED" and r.info.end_time == 1700000010000
    for st in ["SCHEDULED", "FAILED", "RUNNING"]:
        client.update_run(rid, status=st)
        r = client.get_run(rid)
        assert r.info.status == st
        assert r.info.end_time == 1700000010000  # the client re-sends the old end_time


def test_update_response_carries_run_info(api, exp_id):
    rid = api.create_run(exp_id)
    r = api.post("runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 1700000000500})
    assert r.status_code == 200, r.text
    info = r.json()["run_info"]
    assert info["run_id"] == rid and info["status"] == "FINISHED"
    assert info["end_time"] == 1700000000500


def test_delete_and_restore_run(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.delete_run(rid)
    r = client.get_run(rid)  # still readable
    assert r.info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException) as ei:
        client.log_param(rid, "p", "v")
    assert ei.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    client.log_param(rid, "p", "v")
    assert client.get_run(rid).data.params == {"p": "v"}


def test_logging_to_finished_run_is_allowed(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.set_terminated(rid)
    client.log_metric(rid, "m", 1.5)
    client.set_tag(rid, "t", "x")
    r = client.get_run(rid)
    assert r.data.metrics == {"m": 1.5} and r.data.tags["t"] == "x"
    assert r.info.status == "FINISHED"


def test_unknown_run_is_404(client, api):
    missing = "0123456789abcdef0123456789abcdef"
    with pytest.raises(RestException) as ei:
        client.get_run(missing)
    assert ei.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert_error(api.get("runs/get", {"run_id": missing}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post("runs/log-metric", {"run_id": missing, "key": "m", "value": 1,
                                              "timestamp": 1}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(api.post("runs/delete", {"run_id": missing}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_create_run_in_unknown_experiment_is_404(api):
    assert_error(api.post("runs/create", {"experiment_id": "987654321"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_get_run_accepts_run_uuid(api, exp_id):
    rid = api.create_run(exp_id)
    r = api.get("runs/get", {"run_uuid": rid})
    assert r.status_code == 200, r.text
    assert r.json()["run"]["info"]["run_id"] == rid


def test_run_status_enum_in_client(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    client.set_terminated(rid, status=RunStatus.to_string(RunStatus.FAILED))
    assert client.get_run(rid).info.status == "FAILED"
