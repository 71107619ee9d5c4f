"""Defects found by adversarial probing of `cairn server` (issue 11), each pinned over HTTP.

* runs of an experiment whose artifact_location is "mlflow-artifacts:/" each get their own
  folder (MLflow: append_to_uri_path gives "mlflow-artifacts:/<run_id>/artifacts");
* metric sampling with steps across the whole int64 range (signed overflow before);
* artifact routes for a run whose artifacts this server does not hold answer 4xx, not 501;
* model-version sources are checked as MLflow checks them (no local paths, no '..' after
  decoding, no NUL);
* symbolic links and same-size impostors planted inside the data root are neither followed
  nor trusted.

Where real MLflow answers differently (a 500, or behaviour it does not have) the test is
marked cairn_only.
"""

import hashlib
import os
import time
import uuid

import pytest

from conftest import _Server
from helpers import RawApi, assert_error

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1


def _exp(api, location=None):
    body = {"name": f"it-robust-{uuid.uuid4().hex[:12]}"}
    if location is not None:
        body["artifact_location"] = location
    r = api.post("experiments/create", body)
    assert r.status_code == 200, r.text
    return r.json()["experiment_id"]


def _run(api, exp_id):
    r = api.post("runs/create", {"experiment_id": exp_id, "start_time": int(time.time() * 1000)})
    assert r.status_code == 200, r.text
    return r.json()["run"]["info"]


# ---------------------------------------------------------------- 4: one folder per run

def test_bare_mlflow_artifacts_root_gives_each_run_its_own_folder(api, client, tmp_path):
    eid = _exp(api, "mlflow-artifacts:/")
    a, b = _run(api, eid), _run(api, eid)
    # not "mlflow-artifacts://<id>/artifacts", which names a host <id> and a path "artifacts"
    assert a["artifact_uri"] == f"mlflow-artifacts:/{a['run_id']}/artifacts"
    assert b["artifact_uri"] == f"mlflow-artifacts:/{b['run_id']}/artifacts"
    client.log_text(a["run_id"], "run a only", "secret.txt")
    assert [f.path for f in client.list_artifacts(a["run_id"])] == ["secret.txt"]
    assert client.list_artifacts(b["run_id"]) == []
    r = api.get("artifacts/list", {"run_id": b["run_id"]})
    assert r.status_code == 200 and "files" not in r.json(), r.text
    assert api.get("/get-artifact", {"run_uuid": a["run_id"], "path": "secret.txt"}).text == "run a only"
    r = api.get("/get-artifact", {"run_uuid": b["run_id"], "path": "secret.txt"})
    assert r.status_code != 200 and "run a only" not in r.text, r.text[:300]


@pytest.mark.cairn_only
def test_other_runs_file_is_404_under_a_bare_root(api, client):
    # MLflow answers a missing file on /get-artifact with a 500 HTML page
    eid = _exp(api, "mlflow-artifacts:/")
    a, b = _run(api, eid), _run(api, eid)
    client.log_text(a["run_id"], "run a only", "secret.txt")
    assert_error(api.get("/get-artifact", {"run_uuid": b["run_id"], "path": "secret.txt"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_logged_model_location_under_a_bare_root(api):
    eid = _exp(api, "mlflow-artifacts:/")
    r = api.post("/api/2.0/mlflow/logged-models", {"experiment_id": eid, "name": "m"})
    assert r.status_code == 200, r.text
    info = r.json()["model"]["info"]
    assert info["artifact_uri"] == f"mlflow-artifacts:/models/{info['model_id']}/artifacts"


@pytest.mark.parametrize("loc", ["mlflow-artifacts:/base/", "mlflow-artifacts:/base"])
def test_trailing_slash_or_not_gives_one_separator(api, loc):
    info = _run(api, _exp(api, loc))
    assert info["artifact_uri"] == f"mlflow-artifacts:/base/{info['run_id']}/artifacts"


# ---------------------------------------------------------------- 7: steps across int64

@pytest.mark.cairn_only
@pytest.mark.parametrize("max_results", [4, 6, 7, 10])
def test_bulk_interval_with_steps_spanning_int64(api, exp_id, max_results):
    # the bucket width (last - first + 1) overflowed int64: UBSan aborted the server
    rid = _run(api, exp_id)["run_id"]
    steps = [INT64_MIN, INT64_MIN + 1, -7, 0, 1, 3, 2 ** 40, INT64_MAX - 1, INT64_MAX, INT64_MAX // 3]
    metrics = [{"key": "m", "value": 100.0 if s == 1 else float(i), "timestamp": 1000 + i, "step": s}
               for i, s in enumerate(steps)]
    r = api.post("runs/log-batch", {"run_id": rid, "metrics": metrics})
    assert r.status_code == 200, r.text
    r = api.get("metrics/get-history-bulk-interval",
                {"run_ids": rid, "metric_key": "m", "max_results": max_results,
                 "cairn_envelope": "true"})  # cairn's min/max sampling (MLflow's is the default)
    assert r.status_code == 200, r.text
    got = [p["step"] for p in r.json()["metrics"]]
    assert len(got) <= max_results
    assert got[0] == INT64_MIN and got[-1] == INT64_MAX and got == sorted(got)
    if max_results >= 6:  # budget left for min/max buckets: the spike survives
        assert 1 in got
    h = api.get("metrics/get-history", {"run_id": rid, "metric_key": "m", "max_results": 3})
    assert h.status_code == 200 and len(h.json()["metrics"]) == 3


# ---------------------------------------------------------------- 8: artifacts not held here

@pytest.mark.cairn_only
@pytest.mark.parametrize("loc", ["s3://bucket/prefix", "file:///etc", "/etc", "gs://b"])
def test_artifact_routes_for_a_location_not_served_here_are_4xx(api, loc):
    # MLflow tries the location itself (S3, or the server's own disk) and answers 500 on
    # failure; cairn proxies only mlflow-artifacts: and says so with a 400
    info = _run(api, _exp(api, loc))
    rid = info["run_id"]
    body = assert_error(api.get("/get-artifact", {"run_uuid": rid, "path": "passwd"}), 400,
                        "INVALID_PARAMETER_VALUE")
    assert "not served by this server" in body["message"]
    assert_error(api.get("/get-artifact", {"run_id": rid, "path": "x/y.txt"}), 400, "INVALID_PARAMETER_VALUE")
    r = api.get("artifacts/list", {"run_id": rid})
    assert r.status_code == 200 and r.json()["root_uri"] == info["artifact_uri"], r.text
    eid = info["experiment_id"]
    m = api.post("/api/2.0/mlflow/logged-models", {"experiment_id": eid}).json()["model"]["info"]
    r = api.get(f"/api/2.0/mlflow/logged-models/{m['model_id']}/artifacts/directories")
    assert r.status_code == 200 and "files" not in r.json(), r.text


# ---------------------------------------------------------------- 9: model-version sources

BAD_SOURCES = [
    "file:///etc/passwd",
    "/etc",
    "/etc/passwd",
    "etc/passwd",
    "file:///srv/x/%2e%2e/%2e%2e/etc",
    "file:/srv/x",
    "..%2f..%2f",
    "..%2F..%2Fetc",
    "a/..%00/b",
    "a/%2e%2e/b",
    "mlflow-artifacts://host:5000/..%2f..%2f",
    "mlflow-artifacts:/1/../../etc",
    "mlflow-artifacts:/1/%252e%252e/%252e%252e/x",
    "http://host/api/2.0/mlflow-artifacts/artifacts%00",
    "s3://bucket/models/path/../../other/path",
    "s3://bucket/a/./b",
    "s3://bucket",
    "runs:/",
    "models:name/1",
]


@pytest.fixture
def model(api):
    name = f"it-robust-src-{uuid.uuid4().hex[:10]}"
    assert api.post("registered-models/create", {"name": name}).status_code == 200
    return name


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_bad_sources_are_refused(api, model, source):
    body = assert_error(api.post("model-versions/create", {"name": model, "source": source}), 400,
                        "INVALID_PARAMETER_VALUE")
    assert "Invalid model version source" in body["message"]
    r = api.get("registered-models/get", {"name": model})
    assert r.status_code == 200 and "latest_versions" not in r.json()["registered_model"], r.text


@pytest.mark.parametrize("source", ["file:///etc/passwd", "/etc", "..%2f..%2f"])
def test_local_sources_are_refused_even_with_a_run(api, exp_id, model, source):
    rid = _run(api, exp_id)["run_id"]
    assert_error(api.post("model-versions/create", {"name": model, "source": source, "run_id": rid}), 400,
                 "INVALID_PARAMETER_VALUE")


@pytest.mark.cairn_only
@pytest.mark.parametrize("source", ["file://evil.example/etc/passwd", "s3://b/m\tx", "runs:/abc/m\n"])
def test_odd_sources_are_400_not_500(api, model, source):
    # MLflow: a file: URI with a remote host raises without an error code (500)
    assert_error(api.post("model-versions/create", {"name": model, "source": source}), 400,
                 "INVALID_PARAMETER_VALUE")


def test_good_sources_are_accepted(api, client, exp_id, model):
    info = _run(api, exp_id)
    rid = info["run_id"]
    good = [
        (f"runs:/{rid}/model", rid),
        ("s3://bucket/path/model", None),
        ("s3://bucket/a..b/.hidden/m", None),
        (f"{info['artifact_uri']}/model", rid),   # the run's own artifact location
        ("mlflow-artifacts:/some/where", None),
        (f"models:/{model}/1", None),
    ]
    for i, (source, run_id) in enumerate(good, 1):
        body = {"name": model, "source": source}
        if run_id:
            body["run_id"] = run_id
        r = api.post("model-versions/create", body)
        assert r.status_code == 200, (source, r.text)
        assert r.json()["model_version"]["version"] == str(i)


def test_local_source_inside_the_runs_local_artifact_folder(api, model, tmp_path):
    # MLflow: a local path is a valid source only inside the (local) artifact folder of
    # the run named by run_id
    eid = _exp(api, f"file://{tmp_path}/art")
    info, other = _run(api, eid), _run(api, eid)
    src = f"{info['artifact_uri']}/model"
    assert src.startswith("file:///")
    r = api.post("model-versions/create", {"name": model, "source": src, "run_id": info["run_id"]})
    assert r.status_code == 200, r.text
    assert_error(api.post("model-versions/create", {"name": model, "source": src}), 400,
                 "INVALID_PARAMETER_VALUE")
    assert_error(api.post("model-versions/create", {"name": model, "source": src, "run_id": other["run_id"]}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(api.post("model-versions/create", {"name": model, "source": f"{tmp_path}/art",
                                                    "run_id": info["run_id"]}), 400, "INVALID_PARAMETER_VALUE")


def test_prompt_sources_are_not_paths(api, model):
    r = api.post("model-versions/create", {"name": model, "source": "prompt-template",
                                           "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- 10: planted links, impostors

def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _objects(cairn_tmp):
    return os.path.join(cairn_tmp, "root", "objects")


def _put(api, path, data):
    r = api.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}", data=data)
    assert r.status_code == 200, r.text
    return r


def _get(api, path):
    return api.get(f"/api/2.0/mlflow-artifacts/artifacts/{path}")


@pytest.mark.cairn_only
def test_planted_object_link_is_not_served_and_is_replaced(api, cairn_tmp, tmp_path):
    assert cairn_tmp is not None
    data = b"payload " + uuid.uuid4().hex.encode()
    h = _sha(data)
    base = f"robust/{uuid.uuid4().hex}"
    _put(api, f"{base}/a.bin", data)
    obj = os.path.join(_objects(cairn_tmp), h[:2], h[2:])
    assert os.path.isfile(obj)
    canary = tmp_path / "outside.txt"
    canary.write_bytes(b"X" * len(data))  # same size: a size check cannot tell
    os.remove(obj)
    os.symlink(canary, obj)
    r = _get(api, f"{base}/a.bin")
    assert r.content != canary.read_bytes(), "served the file a planted link points at"
    assert_error(r, 500, "INTERNAL_ERROR")  # a damaged store, not bad input
    # storing the content again replaces the link, and leaves its target alone
    _put(api, f"{base}/b.bin", data)
    assert not os.path.islink(obj) and open(obj, "rb").read() == data
    assert canary.read_bytes() == b"X" * len(data)
    assert _get(api, f"{base}/a.bin").content == data


@pytest.mark.cairn_only
def test_same_size_impostor_is_not_trusted_as_already_stored(api, cairn_tmp):
    assert cairn_tmp is not None
    data = b"genuine " + uuid.uuid4().hex.encode()
    h = _sha(data)
    base = f"robust/{uuid.uuid4().hex}"
    _put(api, f"{base}/a.bin", data)
    obj = os.path.join(_objects(cairn_tmp), h[:2], h[2:])
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as f:
        f.write(b"E" * len(data))
    _put(api, f"{base}/b.bin", data)
    assert _get(api, f"{base}/b.bin").content == data
    assert _get(api, f"{base}/a.bin").content == data


@pytest.mark.cairn_only
def test_planted_shard_folder_link_is_not_written_through(cairn_tmp, tmp_path):
    """On a server of its own: the session's server may hold an object in every one of
    the 256 shard folders, and the probe needs content whose folder does not exist."""
    assert cairn_tmp is not None
    srv = _Server()
    try:
        srv.wait_healthy(20.0)
        api = RawApi(srv.url)
        objects = _objects(srv.tmp)
        os.makedirs(objects, exist_ok=True)
        for i in range(10000):  # content whose shard folder does not exist yet
            data = f"shard probe {uuid.uuid4().hex} {i}".encode()
            h = _sha(data)
            if not os.path.lexists(os.path.join(objects, h[:2])):
                break
        else:
            raise AssertionError("a fresh data root has every shard folder")
        outside = tmp_path / "outside"
        outside.mkdir()
        os.symlink(outside, os.path.join(objects, h[:2]))
        path = f"robust/{uuid.uuid4().hex}/c.bin"
        _put(api, path, data)
        assert os.listdir(outside) == [], "an object was written outside the data root"
        shard = os.path.join(objects, h[:2])
        assert os.path.isdir(shard) and not os.path.islink(shard)
        assert _get(api, path).content == data
    finally:
        problems = srv.stop()
    assert not problems, "\n".join(problems)
