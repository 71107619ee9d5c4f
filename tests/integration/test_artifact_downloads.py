"""Artifact downloads answered as MLflow 3.5.2 answers them (issue 15).

`GET /api/2.0/mlflow-artifacts/artifacts/<path>` and `/get-artifact` (and
`/model-versions/get-artifact`, test_mlflow_routes.py) always send the file as an attachment,
`Content-Disposition: attachment; filename=<base name>`, with MLflow's Content-Type for the
name (utils/mime_type_utils.py): `text/plain` (no charset) for its text extensions - json,
csv, xml, js and py among them - and MLmodel, else Python's mimetypes table (matched in any
case), else application/octet-stream. What the upload declared is never used. MLproject,
listed by MLflow as text, is served as octet-stream by MLflow (its constant never matches):
matched. Every answer of the server carries `X-Content-Type-Options: nosniff` and
`X-Frame-Options: SAMEORIGIN`.
"""

import pytest

TYPES = {
    "a.txt": "text/plain", "MLmodel": "text/plain", "MLproject": "application/octet-stream",
    "b.pdf": "application/pdf", "c.png": "image/png", "d.jpg": "image/jpeg", "e.jpeg": "image/jpeg",
    "f.gif": "image/gif", "g.svg": "image/svg+xml", "h.json": "text/plain", "m.JSON": "application/json",
    "n.PNG": "image/png", "i.html": "text/html", "j.csv": "text/plain", "o.yaml": "text/plain",
    "p.xml": "text/plain", "q.js": "text/plain", "y.py": "text/plain", "z.md": "text/plain",
    "ag.tsv": "text/plain", "aq.log": "text/plain", "ar.err": "text/plain", "k.bin": "application/octet-stream",
    "noext": "application/octet-stream", "r.webp": "image/webp", "t.bmp": "image/bmp", "s.tiff": "image/tiff",
    "x.zip": "application/zip", "w.tar": "application/x-tar", "v.gz": "application/octet-stream",
    "an.tar.gz": "application/x-tar", "ac.npy": "application/octet-stream", "ae.pkl": "application/octet-stream",
    "aa.css": "text/css", "ab.mp4": "video/mp4", "aj.mp3": "audio/mpeg", "af.htm": "text/html",
}


@pytest.fixture
def run_files(api, client, exp_id):
    info = client.create_run(exp_id).info
    prefix = info.artifact_uri.split("mlflow-artifacts:/", 1)[1]
    for name in list(TYPES) + ["sub/deep.txt"]:
        # the declared type is the opposite of the right one: never used
        r = api.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{prefix}/{name}", data=b"hello",
                        headers={"Content-Type": "text/html"})
        assert r.status_code == 200, r.text
    return info.run_id, prefix


def _check(r, name, ctype):
    assert r.status_code == 200, r.text
    assert r.content == b"hello"
    assert r.headers["Content-Type"] == ctype, name
    assert r.headers["Content-Disposition"] == f"attachment; filename={name.rsplit('/', 1)[-1]}"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_proxy_download_headers(api, run_files):
    _, prefix = run_files
    for name, ctype in list(TYPES.items()) + [("sub/deep.txt", "text/plain")]:
        _check(api.get(f"/api/2.0/mlflow-artifacts/artifacts/{prefix}/{name}"), name, ctype)


def test_get_artifact_headers(api, run_files):
    run_id, _ = run_files
    for name, ctype in list(TYPES.items()) + [("sub/deep.txt", "text/plain")]:
        _check(api.get("/get-artifact", {"run_id": run_id, "path": name}), name, ctype)
        _check(api.get("/get-artifact", {"run_uuid": run_id, "path": name}), name, ctype)


def test_every_answer_has_the_security_headers(api, run_files):
    run_id, _ = run_files
    for r in (api.get("/health"), api.get("experiments/search", {"max_results": 1}),
              api.get("runs/get", {"run_id": "0" * 32}), api.post("experiments/create", {}),
              api.get("/get-artifact", {"run_id": run_id, "path": "../x"}),
              api.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", {"metric_key": "m"})):
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (r.url, r.headers)
        assert r.headers.get("X-Frame-Options") == "SAMEORIGIN", (r.url, r.headers)
