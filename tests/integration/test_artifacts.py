"""Artifacts through the server's proxy (mlflow-artifacts:/): log, list, download."""

import hashlib
import os

import mlflow
import pytest
import yaml


def _tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root).replace(os.sep, "/")] = fh.read()
    return out


@pytest.fixture
def src_dir(tmp_path):
    d = tmp_path / "src"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "a.txt").write_text("alpha\n")
    (d / "b.json").write_text('{"k": [1, 2, 3]}')
    (d / "sub" / "c.csv").write_text("x,y\n1,2\n")
    (d / "sub" / "deeper" / "d.bin").write_bytes(bytes(range(256)) * 4)
    (d / "empty.txt").write_bytes(b"")
    return d


def test_log_artifact_file_and_list(exp_id, client, tmp_path):
    f = tmp_path / "model.txt"
    f.write_text("weights=42\n")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(f))
        mlflow.log_artifact(str(f), artifact_path="copies/v1")
    rid = run.info.run_id
    root = client.list_artifacts(rid)
    assert [(a.path, a.is_dir) for a in root] == [("copies", True), ("model.txt", False)]
    assert [a.file_size for a in root if not a.is_dir] == [11]
    v1 = client.list_artifacts(rid, "copies/v1")
    assert [(a.path, a.is_dir, a.file_size) for a in v1] == [("copies/v1/model.txt", False, 11)]
    out = client.download_artifacts(rid, "model.txt", str(tmp_path / "dl"))
    with open(out) as fh:
        assert fh.read() == "weights=42\n"


def test_log_artifacts_folder_with_subdirs(exp_id, client, src_dir, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src_dir), artifact_path="outputs")
    rid = run.info.run_id
    top = client.list_artifacts(rid, "outputs")
    assert [(a.path, a.is_dir) for a in top] == [
        ("outputs/a.txt", False), ("outputs/b.json", False), ("outputs/empty.txt", False),
        ("outputs/sub", True)]
    sizes = {a.path: a.file_size for a in top if not a.is_dir}
    # proto3 JSON drops a zero file_size, so the client sees None for an empty file
    assert sizes["outputs/empty.txt"] in (0, None)
    assert (sizes["outputs/a.txt"], sizes["outputs/b.json"]) == (6, 16)
    sub = client.list_artifacts(rid, "outputs/sub")
    assert [(a.path, a.is_dir) for a in sub] == [("outputs/sub/c.csv", False), ("outputs/sub/deeper", True)]
    deeper = client.list_artifacts(rid, "outputs/sub/deeper")
    assert [(a.path, a.file_size) for a in deeper] == [("outputs/sub/deeper/d.bin", 1024)]
    # whole folder back, byte for byte
    dl = client.download_artifacts(rid, "outputs", str(tmp_path / "dl"))
    assert _tree(dl) == _tree(src_dir)


def test_log_text_and_dict(exp_id, client):
    with mlflow.start_run() as run:
        mlflow.log_text("héllo\nworld ✓", "notes/readme.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2], "c": {"d": "e"}}, "cfg/config.json")
        mlflow.log_dict({"x": 2, "y": ["p", "q"]}, "cfg/config.yaml")
    rid = run.info.run_id
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/readme.txt") == "héllo\nworld ✓"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/cfg/config.json") == {"a": 1, "b": [1, 2], "c": {"d": "e"}}
    assert yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{rid}/cfg/config.yaml")) == {"x": 2, "y": ["p", "q"]}
    cfg = [a.path for a in client.list_artifacts(rid, "cfg")]
    assert cfg == ["cfg/config.json", "cfg/config.yaml"]


def test_download_via_runs_uri(exp_id, src_dir, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src_dir))
    rid = run.info.run_id
    whole = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{rid}/", dst_path=str(tmp_path / "w"))
    assert _tree(whole) == _tree(src_dir)
    one = mlflow.artifacts.download_artifacts(artifact_uri=f"runs:/{rid}/sub/c.csv",
                                              dst_path=str(tmp_path / "one"))
    with open(one) as fh:
        assert fh.read() == "x,y\n1,2\n"
    part = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="sub", dst_path=str(tmp_path / "p"))
    assert sorted(_tree(part)) == ["c.csv", "deeper/d.bin"]


def test_download_via_mlflow_artifacts_uri(exp_id, client, src_dir, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src_dir), artifact_path="o")
    info = client.get_run(run.info.run_id).info
    assert info.artifact_uri.startswith("mlflow-artifacts:/")
    dl = mlflow.artifacts.download_artifacts(artifact_uri=f"{info.artifact_uri}/o/sub",
                                             dst_path=str(tmp_path / "m"))
    assert _tree(dl) == {"c.csv": b"x,y\n1,2\n", "deeper/d.bin": bytes(range(256)) * 4}
    f = mlflow.artifacts.download_artifacts(artifact_uri=f"{info.artifact_uri}/o/a.txt",
                                            dst_path=str(tmp_path / "f"))
    with open(f) as fh:
        assert fh.read() == "alpha\n"


def test_larger_binary_round_trip(exp_id, client, tmp_path):
    data = hashlib.sha256(b"seed").digest() * (6 * 1024 * 1024 // 32)  # 6 MiB
    data += os.urandom(12345)
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(f), artifact_path="big")
    (info,) = client.list_artifacts(run.info.run_id, "big")
    assert info.file_size == len(data)
    out = client.download_artifacts(run.info.run_id, "big/blob.bin", str(tmp_path / "dl"))
    with open(out, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_overwrite_artifact(exp_id, client, tmp_path):
    with mlflow.start_run() as run:
        mlflow.log_text("first", "x.txt")
        mlflow.log_text("second, longer", "x.txt")
    rid = run.info.run_id
    assert mlflow.artifacts.load_text(f"runs:/{rid}/x.txt") == "second, longer"
    assert [(a.path, a.file_size) for a in client.list_artifacts(rid)] == [("x.txt", 14)]


def test_list_artifacts_raw(api, exp_id, client):
    with mlflow.start_run() as run:
        mlflow.log_text("hi", "d/one.txt")
        mlflow.log_text("there", "top.txt")
    rid = run.info.run_id
    r = api.get("artifacts/list", {"run_id": rid})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root_uri"] == client.get_run(rid).info.artifact_uri
    assert body["files"] == [{"path": "d", "is_dir": True},
                             {"path": "top.txt", "is_dir": False, "file_size": 5}]
    r = api.get("artifacts/list", {"run_id": rid, "path": "d"})
    assert r.json()["files"] == [{"path": "d/one.txt", "is_dir": False, "file_size": 2}]
    # nonexistent folder or a file: empty listing, not an error
    for p in ["nope", "top.txt"]:
        r = api.get("artifacts/list", {"run_id": rid, "path": p})
        assert r.status_code == 200, r.text
        assert r.json().get("files", []) == []


def test_empty_run_lists_nothing(client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    assert client.list_artifacts(rid) == []


def test_proxy_put_get_list_delete_raw(api, client, exp_id):
    rid = client.create_run(exp_id).info.run_id
    base = f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{rid}/artifacts"
    payload = b"\x00\x01\x02binary\xff" * 100
    r = api.request("PUT", f"{base}/up/x.bin", data=payload)
    assert r.status_code == 200, r.text
    r = api.get(f"{base}/up/x.bin")
    assert r.status_code == 200 and r.content == payload
    r = api.get("/api/2.0/mlflow-artifacts/artifacts", {"path": f"{exp_id}/{rid}/artifacts/up"})
    assert r.status_code == 200, r.text
    assert r.json()["files"] == [{"path": "x.bin", "is_dir": False, "file_size": len(payload)}]
    assert [a.path for a in client.list_artifacts(rid, "up")] == ["up/x.bin"]
    r = api.request("DELETE", f"{base}/up/x.bin")
    assert r.status_code == 200, r.text
    assert client.list_artifacts(rid, "up") == []


def test_get_artifact_ui_endpoint(api, exp_id):
    with mlflow.start_run() as run:
        mlflow.log_text("ui bytes", "v/ui.txt")
    r = api.get("/get-artifact", {"path": "v/ui.txt", "run_uuid": run.info.run_id})
    assert r.status_code == 200, r.text
    assert r.content == b"ui bytes"


@pytest.mark.cairn_only
def test_missing_artifact_download_is_404(api, client, exp_id):
    # real MLflow answers 500 INTERNAL_ERROR (proxy) / a 500 HTML page (/get-artifact)
    rid = client.create_run(exp_id).info.run_id
    r = api.get(f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{rid}/artifacts/nope.txt")
    assert r.status_code == 404, r.text
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    r = api.get("/get-artifact", {"path": "nope.txt", "run_uuid": rid})
    assert r.status_code == 404, r.text
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

