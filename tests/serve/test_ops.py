"""Operating `cairn serve`: a real Prometheus scrapes it, several models share a port, SIGTERM
answers what is in flight before exiting 0, and a second SIGTERM-time request is refused."""

import json
import os
import signal
import socket
import time

import requests

from conftest import fixture, post


def test_prometheus_scrapes_the_model_server(serve, prometheus):
    d, e = fixture("booster_binary")
    s = serve(d, "--name", "churn")
    body = {"dataframe_split": {"columns": e["columns"], "data": e["data"]}}
    for _ in range(9):
        assert post(s.url + "/invocations", body).status_code == 200
    r = post(s.url + "/v2/models/churn/infer", json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}))
    assert r.status_code == 200, r.text
    p = prometheus([f"127.0.0.1:{s.port}"])
    assert p.wait_value('sum(cairn_http_requests_total{route="/invocations",status="200"})', 9) == 9, p.log()
    assert p.wait_value('sum(cairn_http_requests_total{route="/v2/models/{name}/infer"})', 1) == 1
    assert p.wait_value('sum(cairn_serve_rows_predicted_total{model="churn"})', 9 * len(e["data"]) + 1) \
        == 9 * len(e["data"]) + 1
    assert p.wait_value('cairn_serve_model_info{name="churn",version="1",flavor="xgboost"}', 1) == 1


def test_several_models_on_one_port(serve):
    d1, e1 = fixture("booster_binary")
    d2, e2 = fixture("regressor")
    s = serve("--model", f"a={d1}", "--model", f"b={d2}")
    r = post(s.url + "/invocations", {"dataframe_split": {"columns": e1["columns"], "data": e1["data"]}})
    assert r.status_code == 200 and len(r.json()["predictions"]) == len(e1["data"])  # the first is the default
    for name, e in (("a", e1), ("b", e2)):
        rows = [r_ for r_ in e["data"] if None not in r_]
        body = {"inputs": [{"name": "x", "shape": [len(rows), 5], "datatype": "FP64", "data": rows}]}
        r = post(s.url + f"/v2/models/{name}/infer", json.dumps(body))
        assert r.status_code == 200, r.text
        assert r.json()["model_name"] == name
    assert requests.get(s.url + "/v2/health/ready").json() == {"ready": True}


def test_sigterm_answers_what_is_in_flight(serve):
    d, e = fixture("booster_binary")
    s = serve(d)
    body = json.dumps({"dataframe_split": {"columns": e["columns"], "data": e["data"]}}).encode()
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert s.proc.poll() is None, "the server exited with a request in flight"
    # a new connection is refused while it drains
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    c.sendall(body[10:])
    c.settimeout(10)
    data = b""
    while b"predictions" not in data:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert s.proc.wait(timeout=20) == 0
    s.stopped_by_test = True


def test_dynamic_batching_splits_answers_back_in_order(serve):
    import concurrent.futures as cf
    d, e = fixture("booster_binary")
    s = serve(d, "--max-batch-size", "64", "--max-queue-delay-us", "20000")
    rows = [(i, r) for i, r in enumerate(e["data"])]

    def one(item):
        i, r = item
        body = {"dataframe_split": {"columns": e["columns"], "data": [r]}}
        resp = post(s.url + "/invocations", body)
        return i, resp.status_code, resp.json()
    with cf.ThreadPoolExecutor(len(rows)) as ex:
        results = list(ex.map(one, rows * 3))
    for i, status, body in results:
        assert status == 200, body
        assert abs(body["predictions"][0] - e["predict"][i]) <= 1e-6, (i, body, e["predict"][i])
    text = requests.get(s.url + "/metrics").text
    calls = [float(ln.split()[-1]) for ln in text.splitlines()
             if ln.startswith('cairn_serve_batch_rows_count{model="model"}')][0]
    assert calls < len(results), "no two requests were predicted together"
    # the OIP route goes through the same batcher
    r = post(s.url + "/v2/models/model/infer", json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}))
    assert r.status_code == 200, r.text


def test_full_queue_is_503_at_once_and_a_stale_request_504(serve):
    import concurrent.futures as cf
    d, e = fixture("booster_binary")
    body = {"dataframe_split": {"columns": e["columns"], "data": [e["data"][0]]}}
    s = serve(d, "--max-batch-size", "4", "--max-queue-delay-us", "300000", "--max-queue", "1")
    with cf.ThreadPoolExecutor(6) as ex:
        codes = list(ex.map(lambda _: post(s.url + "/invocations", body), range(6)))
    statuses = sorted(r.status_code for r in codes)
    assert 200 in statuses and 503 in statuses, statuses
    busy = [r for r in codes if r.status_code == 503][0]
    assert busy.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "queue" in busy.json()["message"]
    # a request that waits in the queue past the request timeout: MLflow's 504
    s2 = serve(d, "--max-batch-size", "4", "--max-queue-delay-us", "2000000", "--request-timeout", "1")
    r = post(s2.url + "/invocations", body)
    assert r.status_code == 504 and r.text == "Request processing time exceeded limit"
    text = requests.get(s2.url + "/metrics").text
    assert 'cairn_serve_request_timeouts_total{model="model"} 1' in text


def test_canary_share_sticky_header_and_shadow(serve):
    d1, e1 = fixture("booster_binary")
    d2, e2 = fixture("booster_logitraw")
    d3, _ = fixture("booster_softprob")
    assert e1["columns"] == e2["columns"]
    s = serve(d1, "--canary", f"{d2}=25", "--shadow", d3, "--sticky-header", "X-User")
    row = e1["data"][0]
    body = json.dumps({"dataframe_split": {"columns": e1["columns"], "data": [row]}})
    sess = requests.Session()
    seen = {"primary": 0, "canary": 0}
    n = 400
    for _ in range(n):
        r = sess.post(s.url + "/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 200, r.text
        v = r.headers["X-Model-Variant"]
        seen[v] += 1
        want = (e1 if v == "primary" else e2)["predict"][0]
        assert abs(r.json()["predictions"][0] - want) <= 1e-6, (v, r.text, want)
    share = seen["canary"] / n
    assert 0.18 <= share <= 0.32, seen  # 25 % +- 3 standard deviations
    # sticky: one user, one variant
    for user in range(20):
        got = {sess.post(s.url + "/invocations", data=body,
                         headers={"Content-Type": "application/json", "X-User": f"user-{user}"},
                         timeout=10).headers["X-Model-Variant"] for _ in range(5)}
        assert len(got) == 1, (user, got)
    # the shadow scored a copy of every request, none answered by it
    deadline = time.monotonic() + 20
    total = n + 100
    ok = 0
    while time.monotonic() < deadline:
        text = requests.get(s.url + "/metrics").text
        ok = sum(float(ln.split()[-1]) for ln in text.splitlines()
                 if ln.startswith('cairn_serve_shadow_requests_total{model="model",outcome="ok"}'))
        if ok >= total:
            break
        time.sleep(0.2)
    dropped = sum(float(ln.split()[-1]) for ln in text.splitlines()
                  if ln.startswith('cairn_serve_shadow_requests_total{model="model",outcome="dropped"}'))
    assert ok + dropped == total and ok > 0, (ok, dropped)
    assert 'role="shadow"} 1' in text


def read_log(d):
    """Every record of an inference log folder, read with the real zstd tool."""
    import glob
    import subprocess
    out = []
    for f in sorted(glob.glob(os.path.join(d, "ilog-*.jsonl.zst*"))):
        p = subprocess.run(["zstdcat", f], capture_output=True)
        assert p.returncode == 0 or f.endswith(".open"), p.stderr
        out += [json.loads(ln) for ln in p.stdout.decode().splitlines() if ln]
    return out


def test_inference_log_records_answers_and_the_shadow(serve, tmp_path):
    d1, e1 = fixture("booster_binary")
    d3, _ = fixture("regressor")
    log = tmp_path / "ilog"
    s = serve(d1, "--name", "churn", "--shadow", d3, "--log-dir", str(log))
    bodies = []
    for i in range(5):
        body = json.dumps({"dataframe_split": {"columns": e1["columns"], "data": [e1["data"][i]]}})
        r = requests.post(s.url + "/invocations", data=body,
                          headers={"Content-Type": "application/json", "X-Request-ID": f"req-{i}"}, timeout=10)
        assert r.status_code == 200 and r.headers["X-Request-ID"] == f"req-{i}"
        bodies.append((body, r.text))
    r = post(s.url + "/invocations", bodies[0][0])  # no id given: one is made and returned
    gen = r.headers["X-Request-ID"]
    assert gen and not gen.startswith("req-")
    time.sleep(1.0)  # the shadow is behind the answers
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    s.stopped_by_test = True
    recs = read_log(str(log))
    prim = {r["id"]: r for r in recs if "role" not in r}
    shad = {r["id"]: r for r in recs if r.get("role") == "shadow"}
    for i, (body, answer) in enumerate(bodies):
        p = prim[f"req-{i}"]
        assert p["model"] == "churn" and p["version"] == "1" and p["status"] == 200
        assert p["input"] == json.loads(body) and p["output"] == json.loads(answer)
        assert p["latency_us"] >= 0 and p["ts"] > 1.7e15
        assert f"req-{i}" in shad and "predictions" in shad[f"req-{i}"]["output"]
    assert gen in prim


def test_inference_log_sampling(serve, tmp_path):
    d1, e1 = fixture("booster_binary")
    log = tmp_path / "ilog"
    s = serve(d1, "--log-dir", str(log), "--log-sample", "0.5")
    body = json.dumps({"dataframe_split": {"columns": e1["columns"], "data": [e1["data"][0]]}})
    sess = requests.Session()
    for i in range(400):
        sess.post(s.url + "/invocations", data=body,
                  headers={"Content-Type": "application/json", "X-Request-ID": f"id-{i}"}, timeout=10)
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0
    s.stopped_by_test = True
    n = len(read_log(str(log)))
    assert 140 <= n <= 260, n  # half, +- 6 sigma: the choice is a hash of the id


def _threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_default_threads_are_the_cpus_it_may_run_on(serve):
    """Without --threads, one HTTP thread per CPU of the process's affinity mask (taskset
    counts), not one per online CPU: a server pinned to one core runs like --threads 1."""
    d, _ = fixture("booster_binary")
    cpus = sorted(os.sched_getaffinity(0))
    old = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {cpus[0]})      # the child inherits the mask
        one_default = serve(d)
        one_explicit = serve(d, "--threads", "1")
        three = serve(d, "--threads", "3")
    finally:
        os.sched_setaffinity(0, old)
    base = _threads(one_explicit.proc.pid)
    assert _threads(one_default.proc.pid) == base
    # MHD: --threads 1 is its one internal thread, --threads 3 a pool of three
    assert _threads(three.proc.pid) == base + 2
    if len(cpus) > 1:
        # two CPUs: the same threads as --threads 2 (libgomp may add its own per CPU, alike in both)
        os.sched_setaffinity(0, set(cpus[:2]))
        try:
            two_default = serve(d)
            two_explicit = serve(d, "--threads", "2")
        finally:
            os.sched_setaffinity(0, old)
        assert _threads(two_default.proc.pid) == _threads(two_explicit.proc.pid)
        assert _threads(two_default.proc.pid) != _threads(one_default.proc.pid)
