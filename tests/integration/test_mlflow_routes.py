"""MLflow's UI routes cairn lacked (issue 15), checked against MLflow 3.5.2's handlers.

- `POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=` (ajax prefix only): the raw
  body becomes the run's artifact at path; an empty 200 `application/json` answer; MLflow's
  messages for a missing run_uuid, path or body, an unsafe path ("Invalid path") and a
  Content-Length over 10 MB;
- `GET /ajax-api/2.0/mlflow/logged-models/<id>/artifacts/files?artifact_file_path=` (ajax
  prefix only; `/api/2.0` is 404 as in MLflow): a file of the logged model's artifacts, sent as
  /get-artifact sends it; without artifact_file_path 400 BAD_REQUEST with MLflow's text;
- `GET /model-versions/get-artifact?name=&version=&path=` (at the root): a file of the model
  version's artifacts, the same way.
"""

import uuid

from helpers import assert_error

UPLOAD = "/ajax-api/2.0/mlflow/upload-artifact"


def _upload(api, params, data, **kw):
    return api.post(UPLOAD, params=params, data=data, **kw)


def test_upload_artifact(api, client, exp_id):
    run = client.create_run(exp_id).info.run_id
    r = _upload(api, {"run_uuid": run, "path": "ui/notes.txt"}, b"uploaded from the UI")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json") and r.content == b""
    assert _upload(api, {"run_uuid": run, "path": "top.bin"}, bytes(range(256)) * 40).status_code == 200
    files = {f.path: f for f in client.list_artifacts(run, "ui")}
    assert files["ui/notes.txt"].file_size == len(b"uploaded from the UI")
    got = api.get("/get-artifact", {"run_id": run, "path": "ui/notes.txt"})
    assert got.status_code == 200 and got.content == b"uploaded from the UI"
    assert api.get("/get-artifact", {"run_id": run, "path": "top.bin"}).content == bytes(range(256)) * 40
    # replacing an artifact
    assert _upload(api, {"run_uuid": run, "path": "ui/notes.txt"}, b"v2").status_code == 200
    assert api.get("/get-artifact", {"run_id": run, "path": "ui/notes.txt"}).content == b"v2"


def test_upload_artifact_refusals(api, client, exp_id):
    run = client.create_run(exp_id).info.run_id
    for params, data, msg in [({"path": "a.txt"}, b"x", "Request must specify run_uuid."),
                              ({"run_uuid": run}, b"x", "Request must specify path."),
                              ({"run_uuid": run, "path": "a.txt"}, b"", "Request must specify data."),
                              ({"run_uuid": run, "path": "../a.txt"}, b"x", "Invalid path"),
                              ({"run_uuid": run, "path": "a/../../b"}, b"x", "Invalid path"),
                              ({"run_uuid": run, "path": "big.bin"}, b"\0" * (10 * 1024 * 1024 + 1),
                               "Artifact size is too large. Max size is 10MB.")]:
        body = assert_error(_upload(api, params, data), 400, "INVALID_PARAMETER_VALUE")
        assert body["message"] == msg, params
    r = _upload(api, {"run_uuid": run, "path": "exactly10.bin"}, b"\1" * (10 * 1024 * 1024))
    assert r.status_code == 200, r.text
    assert_error(_upload(api, {"run_uuid": uuid.uuid4().hex, "path": "a.txt"}, b"x"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert api.post("/api/2.0/mlflow/upload-artifact", params={"run_uuid": run, "path": "a.txt"},
                    data=b"x").status_code == 404


def _logged_model(api, exp_id):
    r = api.post("logged-models", {"experiment_id": exp_id, "name": "files"})
    assert r.status_code == 200, r.text
    info = r.json()["model"]["info"]
    prefix = info["artifact_uri"].split("mlflow-artifacts:/", 1)[1]
    for name, data in [("MLmodel", b"flavors: {}\n"), ("data/model.pkl", b"\x80\x04pickle")]:
        r = api.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{prefix}/{name}", data=data)
        assert r.status_code == 200, r.text
    return info["model_id"]


def test_logged_model_artifact_files(api, exp_id):
    mid = _logged_model(api, exp_id)
    path = f"/ajax-api/2.0/mlflow/logged-models/{mid}/artifacts/files"
    r = api.get(path, {"artifact_file_path": "MLmodel"})
    assert r.status_code == 200, r.text
    assert r.content == b"flavors: {}\n"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Disposition"] == "attachment; filename=MLmodel"
    r = api.get(path, {"artifact_file_path": "data/model.pkl"})
    assert r.content == b"\x80\x04pickle" and r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == "attachment; filename=model.pkl"
    body = assert_error(api.get(path), 400, "BAD_REQUEST")
    assert body["message"] == 'Request must include the "artifact_file_path" query parameter.'
    body = assert_error(api.get(path, {"artifact_file_path": "../../x"}), 400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == "Invalid path"
    assert_error(api.get("/ajax-api/2.0/mlflow/logged-models/m-00000000000000000000000000000000/artifacts/files",
                         {"artifact_file_path": "MLmodel"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert api.get(f"/api/2.0/mlflow/logged-models/{mid}/artifacts/files",
                   {"artifact_file_path": "MLmodel"}).status_code == 404


def test_model_version_get_artifact(api, client, exp_id):
    run = client.create_run(exp_id).info
    prefix = run.artifact_uri.split("mlflow-artifacts:/", 1)[1]
    for name, data in [("model/MLmodel", b"flavors: {}\n"), ("model/sub/weights.bin", b"\0\1\2")]:
        r = api.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{prefix}/{name}", data=data)
        assert r.status_code == 200, r.text
    name = f"routes-{uuid.uuid4().hex[:10]}"
    assert api.post("registered-models/create", {"name": name}).status_code == 200
    r = api.post("model-versions/create", {"name": name, "source": run.artifact_uri + "/model",
                                            "run_id": run.run_id})
    assert r.status_code == 200, r.text
    r = api.get("/model-versions/get-artifact", {"name": name, "version": "1", "path": "MLmodel"})
    assert r.status_code == 200, r.text
    assert r.content == b"flavors: {}\n" and r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Disposition"] == "attachment; filename=MLmodel"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = api.get("/model-versions/get-artifact", {"name": name, "version": "1", "path": "sub/weights.bin"})
    assert r.content == b"\0\1\2" and r.headers["Content-Type"] == "application/octet-stream"
    body = assert_error(api.get("/model-versions/get-artifact", {"name": name, "version": "1", "path": "../x"}),
                        400, "INVALID_PARAMETER_VALUE")
    assert body["message"] == "Invalid path"
    assert_error(api.get("/model-versions/get-artifact", {"name": name, "version": "9", "path": "MLmodel"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
