"""The web UI's files as `cairn server` serves them (src/http/static.c): the index
revalidated by its ETag, hashed assets cached as immutable, gzip twins sent only
to clients that take gzip, nothing outside the directory reachable (.., encoded
.., symbolic links, other file types), the API's own 404s untouched, and the
page that says how to build the UI when there is none. Each test builds its own
UI directory, so none needs Node."""

import gzip
import os

import requests

from conftest import raw


def make_ui(tmp):
    ui = os.path.join(tmp, "ui")
    os.makedirs(os.path.join(ui, "assets", "sub"))
    with open(os.path.join(ui, "index.html"), "w") as f:
        f.write("<!doctype html><title>cairn</title><script src=/assets/app-1.js></script>")
    js = b"console.log('cairn');\n" * 200
    with open(os.path.join(ui, "assets", "app-1.js"), "wb") as f:
        f.write(js)
    with open(os.path.join(ui, "assets", "app-1.js.gz"), "wb") as f:
        f.write(gzip.compress(js))
    with open(os.path.join(ui, "assets", "sub", "x.css"), "w") as f:
        f.write("body{}")
    with open(os.path.join(ui, "assets", "secret.db"), "w") as f:
        f.write("not a web file")
    with open(os.path.join(tmp, "outside.js"), "w") as f:
        f.write("outside")
    os.symlink(os.path.join(tmp, "outside.js"), os.path.join(ui, "assets", "link.js"))
    return ui, js


def test_index_and_assets(server, tmp_path):
    ui, js = make_ui(str(tmp_path))
    s = server("--ui", ui)
    r = requests.get(s.url + "/", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "<title>cairn</title>" in r.text
    etag = r.headers["ETag"]
    r2 = requests.get(s.url + "/", headers={"If-None-Match": etag, "Accept-Encoding": "identity"}, timeout=10)
    assert r2.status_code == 304 and r2.content == b""
    assert requests.get(s.url + "/index.html", timeout=10).text == r.text

    # an asset: immutable, the gzip twin only for a client that accepts gzip
    plain = requests.get(s.url + "/assets/app-1.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert plain.status_code == 200 and plain.content == js
    assert plain.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in plain.headers["Cache-Control"]
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == "Accept-Encoding"
    st, hd, body, _ = raw(s.port, b"GET /assets/app-1.js HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: br, gzip;q=0.8\r\n\r\n")
    assert st == 200 and hd["content-encoding"] == "gzip"
    assert gzip.decompress(body) == js and len(body) < len(js)
    assert hd["etag"] != plain.headers["ETag"]  # the two variants never share a validator
    st, hd, body, _ = raw(s.port, b"GET /assets/app-1.js HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n")
    assert st == 200 and "content-encoding" not in hd and body == js
    assert requests.get(s.url + "/assets/sub/x.css", timeout=10).text == "body{}"


def test_nothing_outside_the_directory(server, tmp_path):
    ui, _ = make_ui(str(tmp_path))
    s = server("--ui", ui)
    for path in [b"/assets/../../outside.js", b"/assets/%2e%2e/%2e%2e/outside.js", b"/assets/link.js",
                 b"/assets/secret.db", b"/assets/", b"/assets/sub", b"/assets/nope.js", b"/assets/\xff.js",
                 b"/assets/sub/../../index.html"]:
        st, _, body, _ = raw(s.port, b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert st in (400, 404), (path, st)
        assert b"outside" not in body and b"not a web file" not in body
    # the API keeps its own answers, MLflow's JSON error included
    r = requests.get(s.url + "/api/2.0/mlflow/no/such/route", timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert requests.get(s.url + "/health", timeout=10).status_code == 200
    r = requests.post(s.url + "/", timeout=10)
    assert r.status_code in (404, 405)


def test_no_ui_built(server, tmp_path):
    s = server("--ui", str(tmp_path / "missing"))
    r = requests.get(s.url + "/", timeout=10)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert "make ui" in r.text and "not built" in r.text
    assert requests.get(s.url + "/assets/app.js", timeout=10).status_code == 404
    # the API is all there
    r = s.api("POST", "experiments/create", json={"name": "e"})
    assert r.status_code == 200


def test_stale_gzip_twin_is_not_sent(server, tmp_path):
    ui, js = make_ui(str(tmp_path))
    twin = os.path.join(ui, "assets", "app-1.js.gz")
    st = os.stat(twin)
    os.utime(twin, (st.st_atime, st.st_mtime - 100))  # older than the file it compresses
    s = server("--ui", ui)
    st_, hd, body, _ = raw(s.port, b"GET /assets/app-1.js HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n")
    assert st_ == 200 and "content-encoding" not in hd and body == js
