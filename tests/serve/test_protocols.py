"""MLflow's scoring protocol and the Open Inference Protocol on models saved by the unmodified
MLflow client: every request format gives what mlflow.pyfunc's predict gave (expected.json),
and every bad request gets MLflow's status and error body."""

import csv
import io
import json
import math
import os
import subprocess
import socket
import sys

import pytest
import requests

from conftest import ANCHOR, FIXTURES, fixture, post

MODELS = ["booster_binary", "booster_softprob", "classifier_binary", "classifier_multi", "regressor"]


def close(got, want, tol=1e-6):
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(close(g, w, tol) for g, w in zip(got, want))
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return isinstance(got, (int, float)) and abs(got - want) <= tol and type(got) is type(want)


def bodies(e):
    """{format: (body, the indexes of the rows it carries)}. instances turns a list of
    objects into columns, which MLflow refuses when some objects lack a key: those
    carry the complete rows only."""
    cols, rows = e["columns"], e["data"]
    every = list(range(len(rows)))
    records = [{c: v for c, v in zip(cols, r) if v is not None} for r in rows]
    full = [i for i, r in enumerate(rows) if None not in r]
    return {
        "dataframe_split": ({"dataframe_split": {"columns": cols, "data": rows}}, every),
        "dataframe_records": ({"dataframe_records": records}, every),
        "instances": ({"instances": [records[i] for i in full]}, full),
        "inputs": ({"inputs": {c: [r[i] for r in rows] for i, c in enumerate(cols)}}, every),
    }


def csv_body(e):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(e["columns"])
    for r in e["data"]:
        w.writerow(["" if v is None else v for v in r])
    return out.getvalue()


@pytest.mark.parametrize("name", MODELS)
def test_every_format_matches_mlflow(serve, name):
    d, e = fixture(name)
    s = serve(d)
    for fmt, (body, which) in bodies(e).items():
        r = post(s.url + "/invocations", body)
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        got = r.json()["predictions"]
        want = [e["predict"][i] for i in which]
        assert close(got, want), (fmt, got, want)
    r = post(s.url + "/invocations", csv_body(e), ct="text/csv")
    assert r.status_code == 200, r.text
    assert close(r.json()["predictions"], e["predict"])
    # the model's own serving example, as `mlflow models serve` users send it
    with open(os.path.join(d, "serving_input_example.json"), "rb") as f:
        r = post(s.url + "/invocations", f.read())
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("name", ["booster_binary", "classifier_multi"])
def test_open_inference_protocol(serve, name):
    d, e = fixture(name)
    s = serve(d, "--name", "m1")
    cols = e["columns"]
    keep = [i for i, r in enumerate(e["data"]) if None not in r]  # JSON has no NaN: complete rows only
    rows = [e["data"][i] for i in keep]
    want_all = [e["predict"][i] for i in keep]
    flat = [v for r in rows for v in r]
    # one [n, k] tensor, flat and nested
    for data in (flat, rows):
        body = json.dumps({"id": "r-1", "inputs": [{"name": "input-0", "shape": [len(rows), len(cols)],
                                                   "datatype": "FP64", "data": data}]})
        r = post(s.url + "/v2/models/m1/infer", body)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["model_name"] == "m1" and out["id"] == "r-1"
        o = out["outputs"][0]
        want = want_all
        if isinstance(want[0], list):
            assert o["shape"] == [len(rows), len(want[0])]
            want = [v for row in want for v in row]
        else:
            assert o["shape"] == [len(rows)]
        assert o["datatype"] == ("INT64" if isinstance(want[0], int) else "FP32")
        assert close(o["data"], want), (o["data"], want)
    # one input per column, by name
    body = json.dumps({"inputs": [{"name": c, "shape": [len(rows)], "datatype": "FP64",
                                   "data": [r[i] for r in rows]} for i, c in enumerate(cols)]})
    r = post(s.url + "/v2/models/m1/versions/1/infer", body)
    assert r.status_code == 200, r.text
    # metadata, health
    assert requests.get(s.url + "/v2/health/live").status_code == 200
    assert requests.get(s.url + "/v2/health/ready").json() == {"ready": True}
    assert requests.get(s.url + "/v2/models/m1/ready").status_code == 200
    meta = requests.get(s.url + "/v2/models/m1").json()
    assert meta["name"] == "m1" and meta["versions"] == ["1"] and meta["platform"] == "xgboost"
    assert [i["name"] for i in meta["inputs"]] == cols
    assert requests.get(s.url + "/v2").json()["name"] == "cairn"


def test_oip_errors(serve):
    d, e = fixture("booster_binary")
    s = serve(d, "--name", "m1")
    r = post(s.url + "/v2/models/nope/infer", "{}")
    assert r.status_code == 404 and "nope" in r.json()["error"]
    r = post(s.url + "/v2/models/m1/versions/9/infer", "{}")
    assert r.status_code == 404 and "error" in r.json()
    for bad in ("{", "[]", '{"inputs": []}',
                '{"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2]}]}',
                '{"inputs": [{"name": "x", "shape": [1, 5], "datatype": "BYTES", "data": ["a","b","c","d","e"]}]}',
                '{"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP99", "data": [1,2,3,4,5]}]}'):
        r = post(s.url + "/v2/models/m1/infer", bad)
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert set(r.json()) == {"error"}, r.text


def test_mlflow_errors(serve):
    d, e = fixture("booster_binary")
    s = serve(d, "--max-body", "65536")
    url = s.url + "/invocations"
    r = post(url, "{bad json")
    assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST", r.text
    r = post(url, json.dumps([[1, 2, 3, 4, 5]]))  # a bare list
    assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST"
    r = post(url, json.dumps({"dataframe_split": {"columns": ["f0"], "data": [[1]]},
                              "instances": [[1]]}))  # two keys
    assert r.status_code == 400
    r = post(url, json.dumps({"dataframe_split": {"columns": e["columns"], "data": [["a", 1, 2, 3, 4]]}}))
    assert r.status_code == 400, r.text  # a string in a double column
    r = post(url, "f0\n1\n", ct="text/plain")
    assert r.status_code == 415 and r.headers["Content-Type"].startswith("text/plain")
    assert "This predictor only supports the following content types" in r.text
    r = post(url, "{}", ct="application/json; charset=latin-1")
    assert r.status_code == 415 and r.text == "The scoring server only supports UTF-8"
    r = post(url, "{}", ct="application/json; format=pandas-split")
    assert r.status_code == 415 and r.text.startswith("Unrecognized content type parameters: format.")
    r = post(url, "x" * 70000)
    assert r.status_code == 413
    assert requests.get(s.url + "/invocations").status_code == 405
    # the server is still fine
    r = post(url, bodies(e)["dataframe_split"][0])
    assert r.status_code == 200


def test_ping_health_version(serve):
    d, _ = fixture("regressor")
    s = serve(d)
    for p in ("/ping", "/health"):
        r = requests.get(s.url + p)
        assert r.status_code == 200 and r.text == "\n"
    r = requests.get(s.url + "/version")
    assert r.status_code == 200 and r.text


def test_python_flavor_refused_naming_allow_pickle(tmp_path):
    d = tmp_path / "skl"
    d.mkdir()
    (d / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
                               "    data: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n")
    (d / "model.pkl").write_bytes(b"\x80\x04N.")
    from conftest import cairn_bin
    p = subprocess.run([cairn_bin(), "serve", str(d), "--port", "0"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode != 0
    assert "--allow-pickle" in p.stderr, p.stderr


def test_anchor_check_server(serve):
    """../shared/anchors/serving/check_server.py against cairn serve of the anchor model."""
    model = os.path.join(ANCHOR, "data", "model.json")
    if not os.path.exists(model):
        if os.environ.get("CI") == "true":
            pytest.fail("../shared/anchors/serving is not here" + " (CI=true: it must run)")
        pytest.skip("../shared/anchors/serving is not here")
    s = serve(model)
    p = subprocess.run([sys.executable, os.path.join(ANCHOR, "check_server.py"), s.url + "/invocations",
                        os.path.join(ANCHOR, "data")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def _raw_post(port, path, body, extra_header=b""):
    """POST over a raw socket (requests refuses huge header values); the status line."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
                  extra_header + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        data = b""
        while b"\r\n" not in data:
            c = s.recv(65536)
            if not c:
                break
            data += c
        return data.split(b"\r\n")[0].decode()
    finally:
        s.close()


def test_small_connection_pool_still_takes_big_bodies_and_heads(serve):
    """The scoring server's libmicrohttpd pool (its head limit) is 32 KiB, not 128: bodies are
    buffered outside it, so they are taken up to --max-body; heads of 20 KB still pass, and a
    head past the pool is 431."""
    d, e = fixture("booster_binary")
    row = [0.5, -1.25, 0.75, 2.0, -0.125]
    limit = 4 << 20
    s = serve(d, "--max-body", str(limit))
    url = s.url + "/invocations"
    n = limit // (len(json.dumps(row)) + 2) - 100
    body = json.dumps({"dataframe_split": {"columns": e["columns"], "data": [row] * n}})
    assert 3 << 20 < len(body) <= limit
    r = post(url, body, timeout=120)
    assert r.status_code == 200, r.text[:300]
    preds = r.json()["predictions"]
    assert len(preds) == n and len(set(map(str, preds))) == 1
    big = json.dumps({"dataframe_split": {"columns": e["columns"], "data": [row] * (n + 5000)}})
    assert len(big) > limit
    assert post(url, big, timeout=120).status_code == 413
    small = json.dumps({"dataframe_split": {"columns": e["columns"], "data": [row]}}).encode()
    assert _raw_post(s.port, "/invocations", small, b"X-Pad: " + b"a" * 20000 + b"\r\n").endswith("200 OK")
    assert " 431 " in _raw_post(s.port, "/invocations", small, b"X-Pad: " + b"a" * 40000 + b"\r\n")
    # the default --max-body (16 MiB) takes 12 MB
    s2 = serve(d)
    n2 = (12 << 20) // (len(json.dumps(row)) + 2)
    r = post(s2.url + "/invocations", json.dumps({"dataframe_split": {"columns": e["columns"], "data": [row] * n2}}),
             timeout=300)
    assert r.status_code == 200 and len(r.json()["predictions"]) == n2
