"""A server whose database is busy answers fast with 503, a Retry-After header and MLflow's
TEMPORARILY_UNAVAILABLE error body (which the MLflow client retries), instead of holding the
request for SQLite's 30 s busy timeout.

Each test starts its own cairn server with a short wait limit (CAIRN_STORE_WAIT_MS) and
holds the SQLite write lock from this process, as another process writing to the same root
would. cairn_only: this is cairn's store, not MLflow's.
"""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import REPO, SANITIZER_PATTERNS

WAIT_MS = 300


def _binary():
    b = os.environ.get("CAIRN_BIN", "build/cairn")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def busy_server():
    tmp = tempfile.mkdtemp(prefix="cairn-busy-")
    root = os.path.join(tmp, "root")
    port = _free_port()
    err = open(os.path.join(tmp, "stderr"), "w+")
    env = dict(os.environ, CAIRN_STORE_WAIT_MS=str(WAIT_MS))
    proc = subprocess.Popen([_binary(), "server", "--port", str(port), "--root", root],
                            stdout=subprocess.DEVNULL, stderr=err, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("busy-test server did not start")
    yield base, root
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    err.seek(0)
    text = err.read()
    err.close()
    assert not SANITIZER_PATTERNS.search(text), text[-3000:]
    shutil.rmtree(tmp, ignore_errors=True)   # kept for post-mortems otherwise


def _assert_busy(r, started):
    elapsed = time.monotonic() - started
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers.get("Retry-After") == "1", dict(r.headers)
    body = r.json()
    assert body["error_code"] == "TEMPORARILY_UNAVAILABLE", body
    assert "busy" in body["message"], body
    # bounded by the wait limit (plus the writer queue), far below SQLite's 30 s
    assert elapsed < 5, f"answered after {elapsed:.1f} s"


@pytest.mark.cairn_only
def test_write_while_another_process_holds_the_lock_is_503_with_retry_after(busy_server):
    base, root = busy_server
    api = base + "/api/2.0/mlflow/"
    exp = requests.post(api + "experiments/create", json={"name": "busy"}, timeout=10).json()["experiment_id"]
    run = requests.post(api + "runs/create", json={"experiment_id": exp}, timeout=10).json()["run"]["info"]

    db = sqlite3.connect(os.path.join(root, "cairn.db"), isolation_level=None, timeout=0)
    db.execute("BEGIN IMMEDIATE")
    try:
        t = time.monotonic()
        _assert_busy(requests.post(api + "runs/create", json={"experiment_id": exp}, timeout=15), t)
        t = time.monotonic()
        _assert_busy(requests.post(api + "runs/log-batch", timeout=15, json={
            "run_id": run["run_id"], "params": [{"key": "p", "value": "1"}]}), t)
        # an artifact upload through the proxy: the object is stored, the record is refused
        t = time.monotonic()
        path = run["artifact_uri"].replace("mlflow-artifacts:/", "") + "/busy.txt"
        _assert_busy(requests.put(base + "/api/2.0/mlflow-artifacts/artifacts/" + path,
                                  data=b"x", timeout=15), t)
        # readers are not blocked by a writer (WAL)
        r = requests.get(api + "experiments/get", params={"experiment_id": exp}, timeout=10)
        assert r.status_code == 200, r.text
    finally:
        db.execute("ROLLBACK")
        db.close()
    # once the lock is gone, the same requests succeed (what the client's retry does)
    r = requests.post(api + "runs/log-batch", timeout=15,
                      json={"run_id": run["run_id"], "params": [{"key": "p", "value": "1"}]})
    assert r.status_code == 200, r.text
    assert "Retry-After" not in r.headers


@pytest.mark.cairn_only
def test_bad_store_settings_are_refused_at_start():
    with tempfile.TemporaryDirectory() as tmp:
        for var, val in (("CAIRN_STORE_POOL", "0"), ("CAIRN_STORE_WAIT_MS", "soon")):
            env = dict(os.environ, **{var: val})
            p = subprocess.run([_binary(), "server", "--port", str(_free_port()), "--root", tmp],
                               env=env, capture_output=True, text=True, timeout=20)
            assert p.returncode != 0
            assert var in p.stderr, p.stderr


def _long_series(api, exp, n=20_000):
    run = requests.post(api + "runs/create", json={"experiment_id": exp}, timeout=10).json()["run"]["info"]["run_id"]
    s = requests.Session()
    for b in range(0, n, 1000):
        r = s.post(api + "runs/log-batch", timeout=30, json={"run_id": run, "metrics": [
            {"key": "m", "value": float(i % 13), "timestamp": 1, "step": i} for i in range(b, b + 1000)]})
        assert r.status_code == 200, r.text
    return run


@pytest.mark.cairn_only
def test_long_series_sample_while_another_process_holds_the_lock(busy_server):
    """A whole-series sample keeps its step buckets after reading the points; with the write lock
    held elsewhere it answers at once anyway (keeping nothing), then keeps them once it is free."""
    base, root = busy_server
    api = base + "/api/2.0/mlflow/"
    exp = requests.post(api + "experiments/create", json={"name": "busy-bulk"}, timeout=10).json()["experiment_id"]
    run = _long_series(api, exp)
    params = {"run_ids": run, "metric_key": "m", "max_results": 500, "cairn_envelope": "true"}  # the step buckets
    db = sqlite3.connect(os.path.join(root, "cairn.db"), isolation_level=None, timeout=0)
    db.execute("BEGIN IMMEDIATE")
    try:
        t = time.monotonic()
        r = requests.get(api + "metrics/get-history-bulk-interval", params=params, timeout=30)
        assert r.status_code == 200, r.text
        assert time.monotonic() - t < WAIT_MS / 1000 + 5
        locked = r.json()["metrics"]
        assert db.execute("SELECT count(*) FROM metric_pyramids").fetchone()[0] == 0
    finally:
        db.execute("ROLLBACK")
        db.close()
    r = requests.get(api + "metrics/get-history-bulk-interval", params=params, timeout=30)
    assert r.status_code == 200 and r.json()["metrics"] == locked
    db = sqlite3.connect(os.path.join(root, "cairn.db"))
    assert db.execute("SELECT count(*) FROM metric_pyramids").fetchone()[0] == 1
    db.close()


@pytest.mark.cairn_only
def test_whole_series_samples_racing_writes_never_miss_an_acknowledged_point(busy_server):
    """Readers sampling a long series (building and keeping its buckets) while a writer appends
    to it: every answer holds the last point acknowledged before the request was sent."""
    import threading

    base, _ = busy_server
    api = base + "/api/2.0/mlflow/"
    exp = requests.post(api + "experiments/create", json={"name": "race-bulk"}, timeout=10).json()["experiment_id"]
    run = _long_series(api, exp, 50_000)
    acked = [49_999]
    stop = time.monotonic() + 4
    errors = []

    def writer():
        s = requests.Session()
        step = 50_000
        while time.monotonic() < stop:
            r = s.post(api + "runs/log-metric", timeout=30,
                       json={"run_id": run, "key": "m", "value": -1.0, "timestamp": 2, "step": step})
            if r.status_code != 200:
                errors.append(r.text)
                return
            acked[0] = step
            step += 1
            time.sleep(0.02)

    def reader():
        s = requests.Session()
        while time.monotonic() < stop:
            last = acked[0]
            r = s.get(api + "metrics/get-history-bulk-interval", timeout=30,
                      params={"run_ids": run, "metric_key": "m", "max_results": 2500})
            if r.status_code != 200:
                errors.append(r.text)
                return
            got = r.json()["metrics"][-1]["step"]
            if got < last:
                errors.append(f"answer ends at step {got}, but step {last} was acknowledged before it was asked")
                return

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert acked[0] > 50_000
