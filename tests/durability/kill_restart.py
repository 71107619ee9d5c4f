#!/usr/bin/env python3
"""Durability: SIGKILL `cairn server` while several clients log, restart it, and
check that every acknowledged write is there and that the database and the blob
store are consistent. Prints "N passed, N failed" and exits non-zero on failure.

Uses raw HTTP (python3-requests) so "acknowledged" means exactly "the server
answered 200"."""
import hashlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import requests

CAIRN = os.environ.get("CAIRN_BIN", "build/asan/cairn")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(root, port):
    log = open(os.path.join(root, f"server-{time.time_ns()}.log"), "w")
    p = subprocess.Popen([CAIRN, "server", "--port", str(port), "--root", root],
                         stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return p, base
        except requests.RequestException:
            pass
        time.sleep(0.05)
    p.kill()
    raise SystemExit("server did not start")


def api(base, path):
    return base + "/api/2.0/mlflow/" + path


def main():
    root = tempfile.mkdtemp(prefix="cairn-durability-")
    port = free_port()
    proc, base = start(root, port)
    s = requests.Session()
    exp = s.post(api(base, "experiments/create"), json={"name": "durability"}).json()["experiment_id"]
    runs = [s.post(api(base, "runs/create"), json={"experiment_id": exp}).json()["run"]["info"]
            for _ in range(4)]

    acked_metrics = []   # (run_id, key, step, value)
    acked_params = []    # (run_id, key, value)
    acked_files = []     # (path, sha256)
    lock = threading.Lock()
    stop = threading.Event()

    def logger(idx):
        sess = requests.Session()
        run = runs[idx]
        step = 0
        while not stop.is_set():
            metrics = [{"key": f"m{k}", "value": random.random(), "timestamp": 1000 + step, "step": step}
                       for k in range(20)]
            params = [{"key": f"p{step}", "value": str(step)}]
            try:
                r = sess.post(api(base, "runs/log-batch"), timeout=5,
                              json={"run_id": run["run_id"], "metrics": metrics, "params": params})
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked_metrics.extend((run["run_id"], m["key"], step, m["value"]) for m in metrics)
                    acked_params.extend((run["run_id"], p["key"], p["value"]) for p in params)
            step += 1

    def uploader(idx):
        sess = requests.Session()
        run = runs[idx]
        n = 0
        while not stop.is_set():
            data = os.urandom(random.randint(1, 200_000))
            path = run["artifact_uri"].replace("mlflow-artifacts:/", "") + f"/f{n}.bin"
            try:
                r = sess.put(base + "/api/2.0/mlflow-artifacts/artifacts/" + path, data=data, timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 200:
                with lock:
                    acked_files.append((path, hashlib.sha256(data).hexdigest()))
            n += 1

    threads = [threading.Thread(target=logger, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=uploader, args=(3,)))
    for t in threads:
        t.start()
    time.sleep(2.5)
    os.kill(proc.pid, signal.SIGKILL)   # mid-flight: requests are in progress
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    check("clients logged before the kill", len(acked_metrics) > 0 and len(acked_files) > 0,
          f"{len(acked_metrics)} metrics, {len(acked_files)} files")

    # the database must be intact before the server touches it again
    db = sqlite3.connect(os.path.join(root, "cairn.db"))
    check("sqlite integrity_check ok", db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    db.close()

    proc, base = start(root, port)
    try:
        s = requests.Session()
        missing = 0
        by_run_key = {}
        for run_id, key, step, value in acked_metrics:
            by_run_key.setdefault((run_id, key), {})[step] = value
        for (run_id, key), steps in by_run_key.items():
            hist = s.get(api(base, "metrics/get-history"),
                         params={"run_id": run_id, "metric_key": key}).json().get("metrics", [])
            got = {m["step"]: m["value"] for m in hist}
            for step, value in steps.items():
                if step not in got or abs(got[step] - value) > 1e-12:
                    missing += 1
        check("every acknowledged metric survived", missing == 0, f"{missing} missing")
        missing = 0
        for run in runs:
            params = {p["key"]: p["value"] for p in
                      s.get(api(base, "runs/get"), params={"run_id": run["run_id"]}).json()["run"]["data"].get("params", [])}
            for run_id, key, value in acked_params:
                if run_id == run["run_id"] and params.get(key) != value:
                    missing += 1
        check("every acknowledged param survived", missing == 0, f"{missing} missing")
        bad = 0
        for path, digest in acked_files:
            r = s.get(base + "/api/2.0/mlflow-artifacts/artifacts/" + path)
            if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != digest:
                bad += 1
        check("every acknowledged artifact survived byte for byte", bad == 0, f"{bad} bad")
        # blob store: every object referenced by the database exists and hashes to its name
        db = sqlite3.connect(os.path.join(root, "cairn.db"))
        bad = 0
        for (obj,) in db.execute("SELECT DISTINCT object FROM artifacts"):
            p = os.path.join(root, "objects", obj[:2], obj[2:])
            if not os.path.exists(p) or hashlib.sha256(open(p, "rb").read()).hexdigest() != obj:
                bad += 1
        check("every referenced object exists and is intact", bad == 0, f"{bad} bad")
        db.close()
        tmp = os.listdir(os.path.join(root, "objects", "tmp"))
        check("no half-written temp objects remain after restart", tmp == [], str(tmp))
        r = s.post(api(base, "runs/log-batch"),
                   json={"run_id": runs[0]["run_id"], "metrics": [{"key": "after", "value": 1, "timestamp": 1}]})
        check("server accepts writes after restart", r.status_code == 200, r.text)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
