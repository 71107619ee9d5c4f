"""Request heads, framing, UTF-8 and the Host/Origin policy (issue 11, defects 3, 5, 6
and 11): every malformed or hostile request gets a prompt, clear answer and changes
nothing."""

import socket
import subprocess
import time

import requests

from conftest import cairn_bin, raw

JSON = "application/json"


def _req(method, path, headers=(), body=b"", host="127.0.0.1"):
    h = [f"{method} {path} HTTP/1.1", f"Host: {host}"] + list(headers)
    if body:
        h.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body


def _run(srv):
    return srv.api("POST", "runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]


# ---- defect 3: large heads ----

def test_a_thousand_run_ids_in_the_query_are_served(server):
    """MLflow clients put many run_ids in one GET (~41 KB of query): answered, not
    dropped (on 2a14d95 ~480 arguments got no answer at all)."""
    srv = server()
    run = _run(srv)
    srv.api("POST", "runs/log-metric", json={"run_id": run, "key": "m", "value": 2.0, "timestamp": 1})
    ids = [run] + ["%032x" % i for i in range(1, 1000)]
    r = srv.api("GET", "metrics/get-history-bulk-interval",
                params={"run_ids": ids[:100], "metric_key": "m", "max_results": 10})
    assert r.status_code in (200, 400), r.text  # MLflow caps run_ids at 100: either way an answer
    query = "&".join(f"run_ids={i}" for i in ids)
    status, _, body, _ = raw(srv.port, _req("GET", f"/api/2.0/mlflow/runs/search?{query}"), timeout=10)
    assert status is not None and status < 500, body[:300]
    status, _, body, _ = raw(srv.port, _req("GET", "/health", [f"X-Pad-{i}: {'v' * 30}" for i in range(1000)]))
    assert status == 200 and body == b"OK"


def test_every_query_size_gets_an_answer(server):
    """Past what the per-connection memory holds, many query arguments get a prompt 414
    with an MLflow error body (libmicrohttpd alone answered nothing from ~1,100 to
    ~6,000 run_ids and closed the connection)."""
    srv = server()
    for n in (1000, 1100, 1300, 2000, 2600, 4000, 6000, 20000):
        query = "&".join("run_ids=%032x" % i for i in range(n))
        status, _, body, closed = raw(srv.port, _req("GET", f"/api/2.0/mlflow/runs/search?{query}"))
        assert status in (405, 414), (n, status, body[:200])
        if status == 414 and n <= 2600:  # longer targets overflow the read buffer: libmicrohttpd says 414
            assert b"query arguments" in body and closed, body
    status, _, _, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/create?" +
                                         "&".join(f"name=x{i}" for i in range(3000)),
                                         ["Content-Type: application/json"], b'{"name":"refused"}'))
    assert status == 414
    assert srv.api("GET", "experiments/get-by-name", params={"experiment_name": "refused"}).status_code == 404


def test_oversized_heads_get_414_or_431_at_once(server):
    srv = server()
    t = time.monotonic()
    status, _, _, closed = raw(srv.port, _req("GET", "/api/2.0/mlflow/runs/get?x=" + "a" * 300_000))
    assert status == 414 and closed
    status, _, _, closed = raw(srv.port, _req("GET", "/health", ["X-Big: " + "a" * 300_000]))
    assert status == 431 and closed
    status, _, _, closed = raw(srv.port, _req("GET", "/health", [f"X-H{i}: v" for i in range(40_000)]))
    assert status == 431 and closed
    assert time.monotonic() - t < 30  # answered, not left to the client's timeout
    assert requests.get(srv.url + "/health", timeout=3).text == "OK"


# ---- defect 11: framing and percent-decoding ----

def test_two_content_lengths_are_refused(server):
    srv = server()
    status, _, body, closed = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/create",
                                                 ["Content-Type: application/json", "Content-Length: 15"],
                                                 b'{"name":"dupcl"}'))
    assert status == 400 and b"Content-Length" in body and closed
    assert srv.api("GET", "experiments/get-by-name", params={"experiment_name": "dupcl"}).status_code == 404


def test_transfer_encoding_with_content_length_or_unknown_is_refused(server):
    srv = server()
    body = b'{"name":"te"}'
    for headers in (["Transfer-Encoding: chunked", f"Content-Length: {len(body)}"],
                    ["Transfer-Encoding: gzip, chunked"], ["Transfer-Encoding: identity"]):
        data = _req("POST", "/api/2.0/mlflow/experiments/create", ["Content-Type: application/json"] + headers)
        status, _, msg, _ = raw(srv.port, data + b"d\r\n" + body + b"\r\n0\r\n\r\n")
        assert status == 400, (headers, msg)
    assert srv.api("GET", "experiments/get-by-name", params={"experiment_name": "te"}).status_code == 404
    # plain chunked still works
    data = _req("POST", "/api/2.0/mlflow/experiments/create",
                ["Content-Type: application/json", "Transfer-Encoding: chunked"])
    status, _, msg, _ = raw(srv.port, data + b"d\r\n" + body + b"\r\n0\r\n\r\n")
    assert status == 200, msg


def test_http_2_request_line_gets_505_and_close(server):
    """HTTP/2 is not spoken as text: a request line saying HTTP/2.0 gets 505 (RFC 9110
    15.6.6), promptly, and the connection is closed."""
    srv = server()
    status, _, _, closed = raw(srv.port, b"GET /health HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert status == 505 and closed


def test_invalid_percent_escapes_are_kept_literally(server):
    """%-2, %+2, % 2 and %zz are not escapes (on 2a14d95 strtoul read '-2' as hex);
    in a query '+' is a space, as in every form decoder."""
    srv = server()
    for sent, name in (("a%-2b", "a%-2b"), ("a%zzb", "a%zzb"), ("a%2", "a%2"), ("a%+2b", "a% 2b"),
                       ("a%-1%2B2", "a%-1+2")):
        r = srv.api("POST", "experiments/create", json={"name": name})
        assert r.status_code == 200, r.text
        status, _, body, _ = raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name="
                                                + sent, ["Connection: close"]))
        assert status == 200 and name.encode() in body, (sent, status, body[:200])


# ---- defect 5: UTF-8 at the edge ----

def test_non_utf8_query_values_are_refused_and_nothing_is_stored(server):
    srv = server()
    run = _run(srv)
    for path in (f"runs/log-parameter?run_id={run}&key=%ff%fe&value=1",
                 f"runs/log-parameter?run_id={run}&key=k&value=%ff",
                 f"runs/set-tag?run_id={run}&key=t&value=%ff",
                 "registered-models/create?name=%ff%fd",
                 "experiments/create?name=%c0%af",
                 f"runs/set-tag?run_id={run}&key=t&value=a%00b"):
        status, _, body, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/" + path, ["Connection: close"]))
        assert status == 400, (path, status, body)
        assert b"INVALID_PARAMETER_VALUE" in body
    got = srv.api("GET", "runs/get", params={"run_id": run}).json()["run"]["data"]
    assert not got.get("params") and not [t for t in got.get("tags", []) if t["key"] == "t"]
    models = srv.api("GET", "registered-models/search").json()
    assert not models.get("registered_models")
    # valid UTF-8 in the query is fine
    status, _, body, _ = raw(srv.port, _req("POST", f"/api/2.0/mlflow/runs/set-tag?run_id={run}&key=t&value=%c3%a9",
                                            ["Connection: close"]))
    assert status == 200, body
    tags = srv.api("GET", "runs/get", params={"run_id": run}).json()["run"]["data"]["tags"]
    assert {"key": "t", "value": "\u00e9"} in tags


def test_non_utf8_json_body_is_400_not_500(server):
    srv = server()
    for body in (b'{"name": "\xff\xfe"}', b'{"name": "a\xc0\xafb"}', b'{"name": "\xed\xa0\x80"}'):
        r = requests.post(srv.url + "/api/2.0/mlflow/experiments/create", data=body,
                          headers={"Content-Type": JSON}, timeout=10)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert srv.api("POST", "experiments/search", json={}).json()["experiments"][0]["name"] == "Default"


def test_non_utf8_path_is_refused(server):
    srv = server()
    status, _, body, _ = raw(srv.port, _req("GET", "/api/2.0/mlflow-artifacts/artifacts/a%ffb"))
    assert status == 400, body


# ---- defect 6: Host and Origin ----

def test_unknown_host_is_refused_but_health_answers(server):
    srv = server()
    status, _, body, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/create",
                                            ["Content-Type: application/json"], b'{"name":"rebind"}',
                                            host="evil.example"))
    assert status == 403 and b"DNS rebinding" in body
    assert srv.api("GET", "experiments/get-by-name", params={"experiment_name": "rebind"}).status_code == 404
    for host in ("evil.example:5000", "127.0.0.1.evil.example", "localhost.evil.example"):
        assert raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/search", host=host))[0] == 403, host
    assert raw(srv.port, _req("GET", "/health", host="evil.example"))[0] == 200
    for host in ("localhost", "localhost:5000", "127.0.0.1", f"127.0.0.1:{srv.port}", "[::1]:5000",
                 "10.1.2.3:5000", "192.168.0.7", socket.gethostname()):
        assert raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/search", host=host))[0] == 200, host
    status, _, _, _ = raw(srv.port, b"GET /api/2.0/mlflow/experiments/search HTTP/1.0\r\n\r\n")
    assert status == 403  # no Host at all, as MLflow


def test_allowed_hosts_flag_and_env(server):
    srv = server("--allowed-hosts", "mlflow.example.com,*.corp.example")
    for host, want in (("mlflow.example.com", 200), ("mlflow.example.com:443", 200),
                       ("a.corp.example", 200), ("evil.example", 403), ("localhost", 403)):
        assert raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/search", host=host))[0] == want, host
    srv = server(env={"MLFLOW_SERVER_ALLOWED_HOSTS": "*"})
    assert raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/search", host="anything.example"))[0] == 200


def test_cross_origin_state_change_is_blocked(server):
    """A web page elsewhere cannot drive the server (on 2a14d95 this form post deleted
    an experiment); curl -d (no Origin) keeps working."""
    srv = server()
    exp = srv.api("POST", "experiments/create", json={"name": "victim"}).json()["experiment_id"]
    body = ('{"experiment_id":"%s"}' % exp).encode()
    form = ["Content-Type: application/x-www-form-urlencoded"]
    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example"):
        status, _, msg, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/delete",
                                               form + [f"Origin: {origin}"], body))
        assert status == 403 and b"Cross-origin" in msg, origin
    assert srv.api("GET", "experiments/get", params={"experiment_id": exp}).json()[
        "experiment"]["lifecycle_stage"] == "active"
    # GET from elsewhere is not a state change
    assert raw(srv.port, _req("GET", "/api/2.0/mlflow/experiments/search", ["Origin: http://evil.example"]))[0] == 200
    # localhost pages and the server's own origin may
    for origin in (f"http://localhost:3000", f"http://127.0.0.1:{srv.port}"):
        status, headers, msg, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/search",
                                                     ["Content-Type: application/json", f"Origin: {origin}"], b"{}"))
        assert status == 200, (origin, msg)
        assert headers.get("access-control-allow-origin") == origin
    # curl -d: no Origin, form content type, JSON body
    status, _, msg, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/delete", form, body))
    assert status == 200, msg


def test_cors_preflight_and_allowed_origins(server):
    srv = server("--cors-allowed-origins", "https://ui.example.com")
    pre = ["Origin: https://ui.example.com", "Access-Control-Request-Method: POST",
           "Access-Control-Request-Headers: content-type"]
    status, headers, _, _ = raw(srv.port, _req("OPTIONS", "/api/2.0/mlflow/experiments/create", pre))
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://ui.example.com"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type"
    status, _, _, _ = raw(srv.port, _req("OPTIONS", "/api/2.0/mlflow/experiments/create",
                                         ["Origin: https://evil.example", "Access-Control-Request-Method: POST"]))
    assert status == 403
    status, headers, msg, _ = raw(srv.port, _req("POST", "/api/2.0/mlflow/experiments/create",
                                                 ["Content-Type: application/json", "Origin: https://ui.example.com"],
                                                 b'{"name":"from-ui"}'))
    assert status == 200, msg
    assert headers["x-content-type-options"] == "nosniff"


# ---- the HTTP layer keeps a failed upload's own message ----

def test_failed_upload_reports_its_own_error(server):
    """A chunk error is answered with that request's message, even when the same
    thread served another failing request in between (one thread)."""
    srv = server("--threads", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"PUT /api/2.0/mlflow-artifacts/artifacts/a/../b HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Length: 10\r\n\r\n12345")
    time.sleep(0.3)
    other = srv.api("GET", "experiments/get", params={"experiment_id": "424242"})
    assert other.status_code == 404
    s.sendall(b"67890")
    data = b""
    while b"}" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert b" 400 " in data.split(b"\r\n")[0], data
    # MLflow's terse "Invalid path", not the other request's message
    assert b"424242" not in data and b'"message":"Invalid path"' in data, data


# ---- small ones ----

def test_version_rejects_unknown_flags():
    out = subprocess.run([cairn_bin(), "version", "--bogus"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--bogus" in out.stderr
    out = subprocess.run([cairn_bin(), "version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.strip()


def test_bad_server_flags_are_refused():
    for flags in (["--max-connections", "0"], ["--head-timeout", "-1"], ["--idle-timeout", "x"],
                  ["--max-connections-per-client", "99999999999"]):
        out = subprocess.run([cairn_bin(), "server", "--port", "0", *flags], capture_output=True, text=True,
                             timeout=10)
        assert out.returncode == 2 and flags[0] in out.stderr, (flags, out.stderr)
