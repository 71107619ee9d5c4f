#!/usr/bin/env python3
"""Durability: SIGKILL `cairn server` again and again while concurrent clients write, restart
it each time, and check that no acknowledged write was lost and nothing is corrupt.

One data root lives through every trial. Each trial starts the server, runs five writers for
a random fraction of a second, kills the server with SIGKILL mid-flight, and then checks:

  * on the killed server's files (what a crash leaves): `PRAGMA integrity_check` is ok, every
    write acknowledged in this or any earlier trial is in the database, and every file in the
    blob store re-hashes (SHA-256) to its name;
  * on the restarted server: `PRAGMA integrity_check` is ok, this trial's acknowledged writes
    read back through the REST API (runs, params, metric history, artifact bytes, model
    versions), no temporary object remains, and it accepts writes.

Writers (raw HTTP, python3-requests, so "acknowledged" means exactly "the server answered
200"): runs (runs/create), two metric+param loggers (runs/log-batch), artifacts (PUT through
the mlflow-artifacts proxy), and model versions (registered-models/create +
model-versions/create). Prints per-check results, then the counts (trials, acknowledged
writes, lost), then "N passed, N failed"; exits non-zero on failure.

DURABILITY_TRIALS (default 50) and DURABILITY_SEED change the trial count and the random
schedule (the seed is printed, so a failing schedule can be replayed).
"""
import hashlib
import os
import random
import re
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
TRIALS = int(os.environ.get("DURABILITY_TRIALS", "50"))
SEED = int(os.environ.get("DURABILITY_SEED", str(time.time_ns() % 1_000_000)))
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|BUG: ")
LOAD_S = (0.05, 0.45)   # how long writers run before the kill, per trial (uniform)

rng = random.Random(SEED)
checks = {}              # check name -> trials in which it failed
runs_of_checks = 0


def check(trial, name, ok, detail=""):
    """One check of one trial; the summary counts a check as passed when it held in every trial."""
    global runs_of_checks
    runs_of_checks += 1
    checks.setdefault(name, [])
    if not ok:
        checks[name].append(trial)
        print(f"FAIL trial {trial}: {name}: {detail}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, root, port):
        self.root, self.port = root, port
        self.base = f"http://127.0.0.1:{port}"
        self.logs = []

    def start(self):
        path = os.path.join(self.root, f"server-{len(self.logs):03d}.log")
        self.logs.append(path)
        with open(path, "w") as log:
            self.proc = subprocess.Popen([CAIRN, "server", "--port", str(self.port), "--root", self.root],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode} at start; see {path}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.01)
        self.proc.kill()
        raise SystemExit("server did not start")

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def api(self, path):
        return self.base + "/api/2.0/mlflow/" + path

    def artifact(self, path):
        return self.base + "/api/2.0/mlflow-artifacts/artifacts/" + path


class Acked:
    """Every write the server acknowledged, by trial."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs = []       # (trial, run_id, name)
        self.metrics = []    # (trial, run_id, key, step, value)
        self.params = []     # (trial, run_id, key, value)
        self.files = []      # (trial, path, sha256)
        self.models = []     # (trial, name)
        self.versions = []   # (trial, name, version, source)

    def add(self, kind, *row):
        with self.lock:
            getattr(self, kind).append(row)

    def total(self):
        return sum(len(v) for v in (self.runs, self.metrics, self.params, self.files, self.models,
                                    self.versions))

    def of(self, kind, trial):
        return [r for r in getattr(self, kind) if r[0] == trial]


def writers(srv, trial, exp, acked, stop):
    """The five writer loops of one trial; each ends at the first failed request (the kill)."""

    def post(sess, path, body):
        r = sess.post(srv.api(path), json=body, timeout=10)
        return r.json() if r.status_code == 200 else None

    def new_run(sess, name):
        out = post(sess, "runs/create", {"experiment_id": exp, "run_name": name})
        if out:
            acked.add("runs", trial, out["run"]["info"]["run_id"], name)
            return out["run"]["info"]
        return None

    def run_writer():
        sess, n = requests.Session(), 0
        while not stop.is_set():
            if new_run(sess, f"t{trial}-r{n}") is None:
                time.sleep(0.01)
            n += 1

    def batch_writer(w):
        sess = requests.Session()
        run = None
        while run is None and not stop.is_set():
            run = new_run(sess, f"t{trial}-batch{w}")
        step = 0
        while not stop.is_set():
            metrics = [{"key": f"m{k}", "value": rng.random(), "timestamp": 1000 + step, "step": step}
                       for k in range(2)]
            params = [{"key": f"p{step}", "value": f"v{step}-{w}"}]
            if post(sess, "runs/log-batch", {"run_id": run["run_id"], "metrics": metrics, "params": params}) is not None:
                for m in metrics:
                    acked.add("metrics", trial, run["run_id"], m["key"], step, m["value"])
                for p in params:
                    acked.add("params", trial, run["run_id"], p["key"], p["value"])
            step += 1

    def artifact_writer():
        sess = requests.Session()
        run = None
        while run is None and not stop.is_set():
            run = new_run(sess, f"t{trial}-files")
        n = 0
        while not stop.is_set():
            data = os.urandom(rng.randint(1, 16384))
            path = run["artifact_uri"].replace("mlflow-artifacts:/", "") + f"/f{n}.bin"
            if sess.put(srv.artifact(path), data=data, timeout=10).status_code == 200:
                acked.add("files", trial, path, hashlib.sha256(data).hexdigest())
            n += 1

    def model_writer():
        sess = requests.Session()
        n = 0
        while not stop.is_set():
            name = f"model-t{trial}-{n}"
            if post(sess, "registered-models/create", {"name": name}) is not None:
                acked.add("models", trial, name)
                for v in range(2):
                    src = f"mlflow-artifacts:/{exp}/t{trial}/artifacts/model{v}"
                    out = post(sess, "model-versions/create", {"name": name, "source": src})
                    if out is not None:
                        acked.add("versions", trial, name, out["model_version"]["version"], src)
            n += 1

    def guard(fn, *args):
        def body():
            try:
                fn(*args)
            except (requests.RequestException, ValueError):
                pass   # the kill: connection reset or refused, or a truncated answer
        return threading.Thread(target=body)

    return [guard(run_writer), guard(batch_writer, 0), guard(batch_writer, 1), guard(artifact_writer),
            guard(model_writer)]


def verify_files(root, trial, acked, lost):
    """After the kill, on the server's files: integrity, every acknowledged write, every object."""
    db = sqlite3.connect(os.path.join(root, "cairn.db"))
    try:
        check(trial, "integrity_check after the kill", db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
        runs = dict(db.execute("SELECT run_uuid, name FROM runs"))
        metrics = set(db.execute("SELECT run_uuid, key, step, value FROM metrics"))
        params = set(db.execute("SELECT run_uuid, key, value FROM params"))
        files = dict(db.execute("SELECT path, object FROM artifacts"))
        models = {n for (n,) in db.execute("SELECT name FROM registered_models")}
        versions = {(n, str(v), s) for n, v, s in db.execute(
            "SELECT m.name, v.version, v.source FROM model_versions v JOIN registered_models m ON m.id = v.model")}
    finally:
        db.close()
    missing = {
        "runs": [r for r in acked.runs if runs.get(r[1]) != r[2]],
        "metrics": [r for r in acked.metrics if r[1:] not in metrics],
        "params": [r for r in acked.params if r[1:] not in params],
        "artifacts": [r for r in acked.files if files.get(r[1]) != r[2]],
        "registered models": [r for r in acked.models if r[1] not in models],
        "model versions": [r for r in acked.versions if r[1:] not in versions],
    }
    for kind, rows in missing.items():
        lost[kind] = max(lost.get(kind, 0), len(rows))
        check(trial, f"every acknowledged {kind} in the database after the kill", not rows,
              f"{len(rows)} lost, e.g. {rows[:3]}")
    objdir = os.path.join(root, "objects")
    bad, n = [], 0
    for shard in os.listdir(objdir):
        if len(shard) != 2:
            continue
        for name in os.listdir(os.path.join(objdir, shard)):
            n += 1
            with open(os.path.join(objdir, shard, name), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != shard + name:
                    bad.append(shard + name)
    check(trial, "every blob object re-hashes to its name", not bad, f"{len(bad)} of {n} bad: {bad[:3]}")
    return n


def verify_server(srv, trial, exp, acked):
    """After the restart, through the REST API: this trial's acknowledged writes read back."""
    s = requests.Session()
    db = sqlite3.connect(os.path.join(srv.root, "cairn.db"))
    check(trial, "integrity_check after the restart", db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    db.close()
    got, token = {}, None
    while True:
        body = {"experiment_ids": [exp], "max_results": 1000, "filter": f"attributes.run_name LIKE 't{trial}-%'"}
        if token:
            body["page_token"] = token
        out = s.post(srv.api("runs/search"), json=body, timeout=20).json()
        for r in out.get("runs", []):
            got[r["info"]["run_id"]] = r
        token = out.get("next_page_token")
        if not token:
            break
    bad = [r for r in acked.of("runs", trial)
           if r[1] not in got or got[r[1]]["info"].get("run_name") != r[2]]
    check(trial, "acknowledged runs read back", not bad, f"{len(bad)} missing: {bad[:3]}")
    bad = []
    for _, run_id, key, value in acked.of("params", trial):
        ps = {p["key"]: p["value"] for p in got.get(run_id, {}).get("data", {}).get("params", [])}
        if ps.get(key) != value:
            bad.append((run_id, key))
    check(trial, "acknowledged params read back", not bad, f"{len(bad)} missing: {bad[:3]}")
    want = {}
    for _, run_id, key, step, value in acked.of("metrics", trial):
        want.setdefault((run_id, key), {})[step] = value
    bad = 0
    for (run_id, key), steps in want.items():
        hist = s.get(srv.api("metrics/get-history"), params={"run_id": run_id, "metric_key": key},
                     timeout=20).json().get("metrics", [])
        have = {m["step"]: m["value"] for m in hist}
        bad += sum(1 for st, v in steps.items() if st not in have or abs(have[st] - v) > 1e-12)
    check(trial, "acknowledged metric points read back", bad == 0, f"{bad} missing")
    bad = []
    for _, path, digest in acked.of("files", trial):
        r = s.get(srv.artifact(path), timeout=20)
        if r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != digest:
            bad.append(path)
    check(trial, "acknowledged artifacts read back byte for byte", not bad, f"{len(bad)} bad: {bad[:3]}")
    bad = []
    for _, name, version, src in acked.of("versions", trial):
        r = s.get(srv.api("model-versions/get"), params={"name": name, "version": version}, timeout=20)
        if r.status_code != 200 or r.json()["model_version"].get("source") != src:
            bad.append((name, version))
    for _, name in acked.of("models", trial):
        r = s.get(srv.api("registered-models/get"), params={"name": name}, timeout=20)
        if r.status_code != 200:
            bad.append((name, None))
    check(trial, "acknowledged registered models and versions read back", not bad, f"{len(bad)} missing: {bad[:3]}")
    tmp = os.listdir(os.path.join(srv.root, "objects", "tmp"))
    check(trial, "no half-written temp objects after the restart", tmp == [], str(tmp[:3]))
    r = s.post(srv.api("runs/create"), json={"experiment_id": exp, "run_name": f"t{trial}-after"}, timeout=20)
    check(trial, "accepts writes after the restart", r.status_code == 200, r.text[:200])
    if r.status_code == 200:
        acked.add("runs", trial, r.json()["run"]["info"]["run_id"], f"t{trial}-after")


def main():
    t0 = time.monotonic()
    root = tempfile.mkdtemp(prefix="cairn-durability-")
    srv = Server(root, free_port())
    acked = Acked()
    lost = {}
    print(f"durability: {TRIALS} kill -9 trials, seed {SEED}, root {root}", flush=True)
    srv.start()
    exp = requests.post(srv.api("experiments/create"), json={"name": "durability"}, timeout=20).json()["experiment_id"]
    objects = 0
    for trial in range(TRIALS):
        stop = threading.Event()
        threads = writers(srv, trial, exp, acked, stop)
        for t in threads:
            t.start()
        time.sleep(rng.uniform(*LOAD_S))
        srv.kill()             # mid-flight: requests are in progress
        stop.set()
        for t in threads:
            t.join()
        objects = verify_files(root, trial, acked, lost)
        srv.start()
        verify_server(srv, trial, exp, acked)
    rc = srv.stop()
    check(TRIALS, "clean shutdown after the last trial", rc == 0, f"exit status {rc}")
    reports = [p for p in srv.logs if SANITIZER.search(open(p, errors="replace").read())]
    check(TRIALS, "no sanitizer report or BUG in any server log", not reports, ", ".join(reports[:3]))
    per_trial = [sum(1 for rows in (acked.runs, acked.metrics, acked.params, acked.files, acked.versions)
                     for r in rows if r[0] == t) for t in range(TRIALS)]
    idle = [t for t, n in enumerate(per_trial) if n == 0]
    check(TRIALS, "writes of every kind acknowledged, in most trials", len(idle) <= TRIALS // 2 and all(
        (acked.runs, acked.metrics, acked.params, acked.files, acked.models, acked.versions)),
        f"trials without writes: {idle[:10]}")
    print(f"trials: {TRIALS}, acknowledged writes: {acked.total()} (runs {len(acked.runs)}, "
          f"metric points {len(acked.metrics)}, params {len(acked.params)}, artifacts {len(acked.files)}, "
          f"registered models {len(acked.models)}, model versions {len(acked.versions)}), "
          f"blob objects: {objects}, lost: {sum(lost.values())}, "
          f"checks run: {runs_of_checks}, time: {time.monotonic() - t0:.1f} s")
    for name, bad in checks.items():
        print(("FAIL " if bad else "PASS ") + name + (f" (trials {bad[:10]})" if bad else ""))
    failed = sum(1 for bad in checks.values() if bad)
    if not failed:
        import shutil
        shutil.rmtree(root, ignore_errors=True)   # kept for post-mortems otherwise
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
